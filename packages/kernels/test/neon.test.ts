/**
 * arm64 NEON coverage on an x86 machine: cross-compiles the C kernels (every source of
 * binding.gyp except the N-API binding) with test/neon/neon-check.c for aarch64 and runs the driver
 * under qemu-user. The driver compares the NEON dispatch table with the portable scalar one on
 * seeded random blocks (vec-dot calls and whole matmuls, bit-exact for the integer types,
 * 1e-5 of sum |w·x| for F32) and checks quantize → dequantize error bounds. Two builds: plain
 * ARMv8-A (widening multiplies) and ARMv8.2-A + dotprod (SDOT). The scalar outputs of the aarch64
 * build must also hash identically to the same driver built for the host without SIMD.
 *
 * Needs the Debian packages gcc-aarch64-linux-gnu and qemu-user; skipped (with a note) otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelSources, kernelsRoot as root, runDriver } from './c-driver';

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
const canRun =
  process.platform === 'linux' &&
  has('aarch64-linux-gnu-gcc', ['--version']) &&
  has('qemu-aarch64', ['--version']);
const sysroot = '/usr/aarch64-linux-gnu';
if (!canRun)
  console.warn(
    '[kernels tests] skipping the arm64 NEON tests: needs aarch64-linux-gnu-gcc and qemu-aarch64 ' +
      '(Debian/Ubuntu packages gcc-aarch64-linux-gnu and qemu-user)',
  );

const CFLAGS = ['-O2', '-std=c11', '-ffp-contract=off', '-fno-strict-aliasing', '-D_GNU_SOURCE', '-Wall'];
/** Types that must take a NEON path (not the scalar fallback) on arm64. */
const NEON_TYPES = [
  'F16',
  'BF16',
  'F32',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q8_0',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
  'attn_dot_f32',
];
const ALL_TYPES = [
  'F32',
  'F16',
  'BF16',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q8_0',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
];

interface CheckLine {
  check?: string;
  type?: string;
  neonPath?: boolean;
  exact?: boolean;
  cases?: number;
  ok?: boolean;
  detail?: string;
  simd?: string;
  scalarHash?: string;
  summary?: { simd: string; failures: number };
}

describe.skipIf(!canRun)('arm64 NEON kernels (cross-compiled, run under qemu-aarch64)', () => {
  const dir = canRun ? mkdtempSync(join(tmpdir(), 'quant-neon-')) : '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function build(cc: string, out: string, extra: string[]): void {
    const r = spawnSync(
      cc,
      [
        ...CFLAGS,
        ...extra,
        '-o',
        out,
        join(root, 'test', 'neon', 'neon-check.c'),
        ...kernelSources(),
        '-lpthread',
        '-lm',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, `${cc} ${extra.join(' ')} failed:\n${r.stderr}`).toBe(0);
    expect(r.stderr, `${cc} warnings:\n${r.stderr}`).not.toMatch(/warning:/);
  }

  const run = (cmd: string, args: string[]): CheckLine[] => runDriver<CheckLine>(cmd, args);

  const qemu = (bin: string, args: string[] = []) => run('qemu-aarch64', ['-L', sysroot, bin, ...args]);

  for (const [name, march] of [
    ['ARMv8-A (no dotprod)', 'armv8-a'],
    ['ARMv8.2-A + dotprod', 'armv8.2-a+dotprod'],
  ] as const) {
    it(`${name}: NEON dot products and matmuls equal the scalar paths for every type`, () => {
      const bin = join(dir, `neon-check-${march.replace(/[^\w]/g, '_')}`);
      build('aarch64-linux-gnu-gcc', bin, [`-march=${march}`]);
      const lines = qemu(bin);
      expect(lines[0]!.simd).toBe('neon');
      expect(lines.at(-1)!.summary).toEqual({ simd: 'neon', failures: 0 });
      const checks = lines.filter((l) => l.check);
      for (const type of ALL_TYPES) {
        for (const check of ['dot', 'matmul']) {
          const l = checks.find((c) => c.type === type && c.check === check);
          expect(l, `${check} ${type} missing`).toBeDefined();
          expect(l!.cases).toBeGreaterThan(100);
          if (type !== 'F32') expect(l!.exact, `${check} ${type} should be bit-exact`).toBe(true);
        }
      }
      for (const type of NEON_TYPES) {
        const l = checks.filter((c) => c.type === type && c.check !== 'roundtrip');
        expect(l.length).toBeGreaterThan(0);
        for (const c of l) expect(c.neonPath, `${type} should take a NEON path`).toBe(true);
      }
      expect(checks.filter((c) => c.check === 'roundtrip').length).toBe(11);
    }, 60_000);
  }

  it.skipIf(!has('gcc', ['--version']))(
    'scalar C gives bit-identical results on aarch64 and on the host (quantize, dequantize, matmul)',
    () => {
      const arm = join(dir, 'neon-check-hash');
      const host = join(dir, 'host-check-hash');
      build('aarch64-linux-gnu-gcc', arm, ['-march=armv8-a']);
      build('gcc', host, ['-DQK_NO_AVX2']);
      const a = qemu(arm, ['--hash']).find((l) => l.scalarHash)?.scalarHash;
      const h = run(host, ['--hash']).find((l) => l.scalarHash)?.scalarHash;
      expect(a).toMatch(/^[0-9a-f]{16}$/);
      expect(a).toBe(h);
    },
    60_000,
  );
});
