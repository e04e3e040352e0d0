/**
 * Builds the native addon with AddressSanitizer (scripts/build-asan.mjs) and reruns the native
 * test files against it with libasan preloaded (scripts/test-asan.mjs) — including edge-shapes
 * (single K-quant blocks, odd block counts, head sizes that are not multiples of 8) — then
 * @quant/runtime's full run of every shared model (test/shared-models-native.test.ts there): any
 * out-of-bounds read or write in the C code fails this test. Linux with gcc/libasan only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { nativeBuilt } from './helpers';

const root = join(__dirname, '..');
const libasan =
  process.platform === 'linux'
    ? spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim()
    : '';
const canRun = nativeBuilt && !process.env.QUANT_KERNELS_ASAN_RUN && !!libasan && existsSync(libasan);
if (!canRun && !process.env.QUANT_KERNELS_ASAN_RUN)
  console.warn('[kernels tests] skipping the ASan run: needs Linux, gcc with libasan and a native build');

it.skipIf(!canRun)(
  'C kernels make no out-of-bounds access under AddressSanitizer (native tests rerun with an ASan build)',
  () => {
    const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-asan.mjs')], {
      encoding: 'utf8',
    });
    expect(build.status, `ASan build failed:\n${build.stdout}\n${build.stderr}`).toBe(0);
    const run = spawnSync(
      process.execPath,
      [
        join(root, 'scripts', 'test-asan.mjs'),
        'test/ops.test.ts',
        'test/matmul.test.ts',
        'test/quantize.test.ts',
        'test/errors.test.ts',
        'test/run.test.ts',
        'test/edge-shapes.test.ts',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, FORCE_COLOR: '0' },
      },
    );
    const out = `${run.stdout}\n${run.stderr}`;
    expect(out).not.toMatch(/AddressSanitizer/);
    expect(run.status, out.slice(-4000)).toBe(0);
  },
  600_000,
);
