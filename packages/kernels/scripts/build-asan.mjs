#!/usr/bin/env node
// Builds an AddressSanitizer copy of the native addon into build-asan/Release/quant_kernels.node
// (a separate node-gyp project dir, so the normal build/ is untouched). Linux + gcc/clang only.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'build-asan');
const require = createRequire(import.meta.url);
const gyp = join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
cpSync(join(root, 'csrc'), join(work, 'csrc'), { recursive: true });
cpSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
const args = [gyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')))
  args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, {
  cwd: work,
  stdio: 'inherit',
  env: { ...process.env, QUANT_KERNELS_ASAN: '1' },
});
if (r.status !== 0) {
  console.error('build-asan: node-gyp failed');
  process.exit(1);
}
// node-gyp puts the output in <work>/build/Release
console.log(`build-asan: ${join(work, 'build', 'Release', 'quant_kernels.node')}`);
