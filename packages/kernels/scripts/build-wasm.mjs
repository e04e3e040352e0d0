#!/usr/bin/env node
// Builds the two wasm modules from csrc/ with @yowasp/clang (a clang/lld compiled to wasm, so no
// system toolchain is needed) and emnapi's wasm32-wasip1 Node-API library:
//   wasm/quant-kernels.wasm     single-threaded (-DQK_NO_THREADS), its own memory: runs everywhere.
//   wasm/quant-kernels-mt.wasm  threads: atomics + shared memory imported from the host (env.memory),
//                               the kernel thread pool on workers started through the wasi-threads
//                               `thread-spawn` import (csrc/threadpool.c, csrc/wasm/thread-start.s).
//                               Needs SharedArrayBuffer (Node; browsers when crossOriginIsolated).
// @yowasp/clang ships only the wasm32-wasip1 sysroot (no wasm32-wasip1-threads libc), so the threaded
// module links the single-threaded libc with --no-check-features: only the thread that calls into
// the module allocates; workers run kernel chunks, which never call malloc.
//   wasm/quant-kernels{,-mt}-relaxed.wasm  the same with relaxed SIMD (see below).
// `node scripts/build-wasm.mjs [st|mt|st-relaxed|mt-relaxed]` builds one of them (default all four).
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
const common = [
  'clang',
  '--target=wasm32-wasip1',
  '-msimd128',
  '-mexec-model=reactor',
  '-O3',
  '-std=c11',
  '-ffp-contract=off',
  '-fno-strict-aliasing',
  '-D_GNU_SOURCE',
  '-DBUILDING_NODE_EXTENSION',
  '-Iinc',
  '-Isrc', // csrc/ itself, for the per-ISA folders' includes
];
const linkCommon = [
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
];
const cSources = sources.map((f) => `src/${f.split(/[\\/]/).join('/')}`);
const variants = {
  st: { file: 'quant-kernels.wasm', args: [...common, '-DQK_NO_THREADS', ...cSources, ...linkCommon] },
  mt: {
    file: 'quant-kernels-mt.wasm',
    args: [
      ...common,
      '-matomics',
      '-mbulk-memory',
      '-DQK_WASM_THREADS',
      ...cSources,
      'src/wasm/thread-start.s',
      ...linkCommon,
      '-Wl,--shared-memory',
      '-Wl,--import-memory',
      '-Wl,--no-check-features',
      '-Wl,--export=wasi_thread_start',
    ],
  },
};
// Relaxed-SIMD twins (-DQK_WASM_RELAXED: the K-quant kernels use i16x8.relaxed_dot_i8x16_i7x16_s, only in
// csrc/arch/wasm/vec-dot-simd128.c): picked at load when the engine validates relaxed SIMD (Chrome ≥ 114,
// Node ≥ 22, Node 20 with --experimental-wasm-relaxed-simd),
// else the plain SIMD128 modules above.
variants['st-relaxed'] = {
  file: 'quant-kernels-relaxed.wasm',
  args: [...variants.st.args.slice(0, 2), '-DQK_WASM_RELAXED', ...variants.st.args.slice(2)],
};
variants['mt-relaxed'] = {
  file: 'quant-kernels-mt-relaxed.wasm',
  args: [...variants.mt.args.slice(0, 2), '-DQK_WASM_RELAXED', ...variants.mt.args.slice(2)],
};
tree.src.wasm = { 'thread-start.s': readFileSync(join(root, 'csrc', 'wasm', 'thread-start.s')) };

const which = process.argv[2] ? [process.argv[2]] : ['st', 'mt', 'st-relaxed', 'mt-relaxed'];
mkdirSync(join(root, 'wasm'), { recursive: true });
for (const v of which) {
  const { file, args } = variants[v] ?? {};
  if (!file) {
    console.error(`build-wasm: unknown variant ${v} (st, mt, st-relaxed or mt-relaxed)`);
    process.exit(1);
  }
  const t0 = Date.now();
  let out;
  try {
    out = await runClang([...args, '-o', file], tree, {
      stderr: (bytes) => {
        if (bytes) process.stderr.write(bytes);
      },
    });
  } catch (e) {
    console.error(
      `build-wasm: clang failed for ${file}${e && typeof e.code === 'number' ? ` with exit code ${e.code}` : ''}`,
    );
    process.exit(1);
  }
  const wasm = out[file];
  if (!(wasm instanceof Uint8Array)) {
    console.error(`build-wasm: clang produced no ${file}`);
    process.exit(1);
  }
  writeFileSync(join(root, 'wasm', file), wasm);
  console.log(
    `build-wasm: wasm/${file} (${(wasm.length / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}
