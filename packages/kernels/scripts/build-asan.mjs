#!/usr/bin/env node
// Builds an AddressSanitizer copy of the native addon into build-asan/build/Release/quant_kernels.node
// (a separate node-gyp project dir, so the normal build/ is untouched). Linux + gcc/clang only.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'build-asan');
const require = createRequire(import.meta.url);
const gyp = join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');

// Incremental: only sources whose bytes changed are copied (so only they get a new mtime and make
// recompiles just them); a changed binding.gyp, Node version or a missing Makefile reconfigures
// from scratch.
const gypText = readFileSync(join(root, 'binding.gyp'), 'utf8');
const stamp = `${process.version}\n${gypText}`;
const stampFile = join(work, 'build-stamp');
const fresh =
  !existsSync(join(work, 'build', 'Makefile')) ||
  !existsSync(stampFile) ||
  readFileSync(stampFile, 'utf8') !== stamp;
if (fresh) rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'csrc'), { recursive: true });
// csrc/ and its per-ISA folders (arch/x86, ...), as paths relative to csrc/
const csrcFiles = (dir) =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.[ch]$/.test(f));
const sources = new Set(csrcFiles(join(root, 'csrc')));
for (const f of csrcFiles(join(work, 'csrc'))) if (!sources.has(f)) rmSync(join(work, 'csrc', f));
for (const f of sources) {
  const from = join(root, 'csrc', f);
  const to = join(work, 'csrc', f);
  mkdirSync(dirname(to), { recursive: true });
  const bytes = readFileSync(from);
  if (!existsSync(to) || !readFileSync(to).equals(bytes)) writeFileSync(to, bytes);
}
writeFileSync(join(work, 'binding.gyp'), gypText);
const args = [gyp, fresh ? 'rebuild' : 'build'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')))
  args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, {
  cwd: work,
  stdio: 'inherit',
  env: { ...process.env, QUANT_KERNELS_ASAN: '1' },
});
if (r.status !== 0) {
  rmSync(stampFile, { force: true });
  console.error('build-asan: node-gyp failed');
  process.exit(1);
}
writeFileSync(stampFile, stamp);
// node-gyp puts the output in <work>/build/Release
console.log(`build-asan: ${join(work, 'build', 'Release', 'quant_kernels.node')}`);
