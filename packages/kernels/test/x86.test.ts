/**
 * x86 SIMD helpers against their scalar definitions, bit for bit: builds the C kernels (every source
 * of binding.gyp except the N-API binding) with test/x86/x86-check.c for the host and runs it twice —
 * with the ISA the plan picks (AVX-512 helpers on an AVX-512 host) and capped to AVX2
 * (QUANT_KERNELS_ISA=avx2). Covers the vectorized q8_K activation quantizer (random, tiny, huge, tied,
 * all-zero and inf/NaN blocks) and the flash-attention f16 dot and V sum (head sizes 24–256, a V sum
 * resumed in two key blocks as attention does). The addon's results reach these paths only through
 * whole ops; this pins each helper to its definition.
 *
 * Linux x86-64 with gcc; skipped (with a note) elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSources, kernelsRoot as root, runDriver } from './c-driver';

const canRun =
  process.platform === 'linux' &&
  process.arch === 'x64' &&
  spawnSync('gcc', ['--version'], { encoding: 'utf8' }).status === 0;
if (!canRun) console.warn('[kernels tests] skipping the x86 helper checks: needs Linux x86-64 and gcc');
const hasAvx2 = canRun && /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

interface CheckLine {
  isa?: string;
  simd?: string;
  check?: string;
  variant?: string;
  cases?: number;
  ok?: boolean;
  skipped?: string;
  summary?: { failures: number };
}

describe.skipIf(!canRun)('x86 SIMD helpers equal their scalar definitions', () => {
  const dir = canRun ? mkdtempSync(join(tmpdir(), 'quant-x86-')) : '';
  const bin = join(dir, 'x86-check');
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const build = () => {
    const r = spawnSync(
      'gcc',
      [
        '-O2',
        '-std=c11',
        '-ffp-contract=off',
        '-fno-strict-aliasing',
        '-D_GNU_SOURCE',
        '-Wall',
        '-o',
        bin,
        join(root, 'test', 'x86', 'x86-check.c'),
        ...kernelSources(),
        '-lpthread',
        '-lm',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, `gcc failed:\n${r.stderr}`).toBe(0);
    expect(r.stderr, `gcc warnings:\n${r.stderr}`).not.toMatch(/warning:/);
  };
  beforeAll(build, 120_000);

  const run = (env: Record<string, string>): CheckLine[] => runDriver<CheckLine>(bin, [], env);

  it.each([
    ['the plan’s ISA', {}],
    ['AVX2 (QUANT_KERNELS_ISA=avx2)', { QUANT_KERNELS_ISA: 'avx2' }],
  ])(
    'q8_K quantizer, f16 dot and V sum: %s',
    (_name, env) => {
      const lines = run(env as Record<string, string>);
      expect(lines.at(-1)?.summary).toEqual({ failures: 0 });
      const checks = lines.filter((l) => l.check && !l.skipped);
      expect(checks.filter((l) => l.check === 'fa_dot').length).toBe(12);
      if (hasAvx2) {
        expect(lines[0]?.simd).toBe('avx2');
        expect(checks.filter((l) => l.check === 'q8_K').length).toBe(6);
        expect(checks.filter((l) => l.check === 'fa_vsum').length).toBe(9);
      }
      for (const l of checks) expect(l.cases, `${l.check} ${l.variant}`).toBeGreaterThanOrEqual(100);
    },
    60_000,
  );
});
