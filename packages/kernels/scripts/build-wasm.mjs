#!/usr/bin/env node
// Builds wasm/quant-kernels.wasm from csrc/ with @yowasp/clang (a clang/lld compiled to wasm, so no
// system toolchain is needed) and emnapi's wasm32-wasip1 Node-API library.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const emnapiDir = dirname(require.resolve('emnapi/package.json'));
const { runClang } = await import('@yowasp/clang');

// Native-only sources are still compiled: their platform code is behind #if guards.
// csrc/ and its per-ISA folders (arch/x86, ...): paths relative to csrc/.
const csrcFiles = readdirSync(join(root, 'csrc'), { recursive: true }).map(String);
const sources = csrcFiles.filter((f) => f.endsWith('.c')).sort();
const headers = csrcFiles.filter((f) => f.endsWith('.h'));
const incDir = join(emnapiDir, 'include', 'node');

const tree = { src: {}, inc: {}, lib: {} };
for (const f of [...sources, ...headers]) {
  const parts = f.split(/[\\/]/);
  let dir = tree.src;
  for (const p of parts.slice(0, -1)) dir = dir[p] ??= {};
  dir[parts[parts.length - 1]] = readFileSync(join(root, 'csrc', f));
}
for (const f of readdirSync(incDir)) {
  if (f.endsWith('.h')) tree.inc[f] = readFileSync(join(incDir, f));
}
tree.lib['libemnapi-basic.a'] = readFileSync(join(emnapiDir, 'lib', 'wasm32-wasip1', 'libemnapi-basic.a'));

const MAX_MEMORY = 4 * 1024 * 1024 * 1024; // wasm32 linear memory limit: 4 GiB
const args = [
  'clang',
  '--target=wasm32-wasip1',
  '-msimd128',
  '-mexec-model=reactor',
  '-O3',
  '-std=c11',
  '-ffp-contract=off',
  '-fno-strict-aliasing',
  '-DQK_NO_THREADS',
  '-D_GNU_SOURCE',
  '-DBUILDING_NODE_EXTENSION',
  '-Iinc',
  '-Isrc', // csrc/ itself, for the per-ISA folders' includes
  ...sources.map((f) => `src/${f.split(/[\\/]/).join('/')}`),
  'lib/libemnapi-basic.a',
  '-Wl,--initial-memory=16777216',
  `-Wl,--max-memory=${MAX_MEMORY}`,
  '-Wl,--export-dynamic',
  '-Wl,--export=malloc',
  '-Wl,--export=free',
  '-Wl,--export=napi_register_wasm_v1',
  '-Wl,--export-if-defined=node_api_module_get_api_version_v1',
  '-Wl,--import-undefined',
  '-Wl,--export-table',
  '-o',
  'quant-kernels.wasm',
];

const t0 = Date.now();
let out;
try {
  out = await runClang(args, tree, {
    stderr: (bytes) => {
      if (bytes) process.stderr.write(bytes);
    },
  });
} catch (e) {
  console.error(
    `build-wasm: clang failed${e && typeof e.code === 'number' ? ` with exit code ${e.code}` : ''}`,
  );
  process.exit(1);
}
const wasm = out['quant-kernels.wasm'];
if (!(wasm instanceof Uint8Array)) {
  console.error('build-wasm: clang produced no quant-kernels.wasm');
  process.exit(1);
}
mkdirSync(join(root, 'wasm'), { recursive: true });
writeFileSync(join(root, 'wasm', 'quant-kernels.wasm'), wasm);
console.log(
  `build-wasm: wasm/quant-kernels.wasm (${(wasm.length / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
);
