#!/usr/bin/env node
// Runs the native tests against the AddressSanitizer build (scripts/build-asan.mjs), with the
// sanitizer runtime preloaded into Node, then @quant/runtime's full run of every shared model on
// it. Any out-of-bounds access in C aborts the run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build-asan', 'build', 'Release', 'quant_kernels.node');
if (!existsSync(addon)) {
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build-asan.mjs')], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
}
const cc = process.env.CC ?? 'gcc';
const lib = spawnSync(cc, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
if (!lib || !existsSync(lib)) {
  console.error(`test-asan: cannot find libasan.so via ${cc} -print-file-name`);
  process.exit(1);
}
// `--kernels-only`: skip the runtime's full runs of the shared models (see below).
const args = process.argv.slice(2).filter((a) => a !== '--kernels-only');
const kernelsOnly = args.length !== process.argv.length - 2;
const files = args.length
  ? args
  : [
      'test/ops.test.ts',
      'test/matmul.test.ts',
      'test/quantize.test.ts',
      'test/errors.test.ts',
      'test/run.test.ts',
      'test/edge-shapes.test.ts',
      'test/fast-matmul.test.ts',
    ];
const vitest = join(root, '..', '..', 'node_modules', 'vitest', 'vitest.mjs');
const asanEnv = {
  ...process.env,
  LD_PRELOAD: lib,
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
  QUANT_KERNELS_ADDON: addon,
  QUANT_KERNELS_ASAN_RUN: '1',
};
const r = spawnSync(process.execPath, [vitest, 'run', '--project', 'kernels', ...files], {
  cwd: join(root, '..', '..'),
  stdio: 'inherit',
  env: asanEnv,
});
if (r.status !== 0) process.exit(r.status ?? 1);
// Then a full model run (load, every prompt position, generation) of every model in ../shared/models
// through @quant/runtime on this build (the file skips with a message when ../shared is absent).
const models = join(root, '..', 'runtime', 'test', 'shared-models-native.test.ts');
if (kernelsOnly || !existsSync(models)) process.exit(0);
const m = spawnSync(process.execPath, [vitest, 'run', '--project', 'runtime', models], {
  cwd: join(root, '..', '..'),
  stdio: 'inherit',
  env: asanEnv,
});
process.exit(m.status ?? 1);
