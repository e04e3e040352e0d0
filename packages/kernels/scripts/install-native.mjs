#!/usr/bin/env node
// `install` lifecycle script of the published package: builds the native addon
// (build/Release/quant_kernels.node) with node-gyp when a consumer installs @quant/kernels and a C
// compiler is present. It NEVER fails the install: without a compiler (or node-gyp) it prints one
// line and loadKernels() uses the bundled wasm module instead.
//
// Skipped (exit 0 at once) when:
//  - the addon already exists;
//  - we are not installed as a dependency (no `node_modules` in our path), or the directory two
//    levels up has a pnpm-workspace.yaml: i.e. inside the quant monorepo, where `turbo build` builds
//    the addon (so `pnpm install` there stays fast);
//  - QUANT_KERNELS_SKIP_NATIVE=1 (wasm only) is set.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'quant_kernels.node');

function skipReason() {
  if (process.env.QUANT_KERNELS_SKIP_NATIVE === '1') return 'QUANT_KERNELS_SKIP_NATIVE=1';
  if (existsSync(addon)) return 'addon already built';
  if (!root.split(sep).includes('node_modules')) return 'not installed as a dependency (workspace checkout)';
  if (existsSync(join(root, '..', '..', 'pnpm-workspace.yaml'))) return 'inside the quant workspace';
  return undefined;
}

/** node-gyp: our own copy if installed, else the one npm/pnpm/yarn provide to lifecycle scripts. */
function nodeGyp() {
  try {
    const require = createRequire(import.meta.url);
    return [process.execPath, join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js')];
  } catch {
    /* not installed next to us */
  }
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  return ['node-gyp'];
}

function main() {
  const why = skipReason();
  if (why !== undefined) return;
  const [cmd, ...pre] = nodeGyp();
  const args = [...pre, 'rebuild'];
  // Use the running Node's headers when installed (no download), as scripts/build-native.mjs does.
  const prefix = join(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')))
    args.push(`--nodedir=${prefix}`);
  let r;
  try {
    r = spawnSync(cmd, args, {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: process.env,
      timeout: 600_000,
    });
  } catch (e) {
    r = { status: null, error: e };
  }
  if (r.status === 0 && existsSync(addon)) {
    console.log('@quant/kernels: built the native addon');
    return;
  }
  const detail = r.error ? r.error.message : `node-gyp exit ${r.status ?? r.signal}`;
  console.warn(
    `@quant/kernels: native addon not built (${detail}); loadKernels() will use the WebAssembly backend. ` +
      'Install a C compiler and Python 3, then rebuild the package, for the faster native backend.',
  );
}

try {
  main();
} catch (e) {
  console.warn(`@quant/kernels: skipped the native build (${e instanceof Error ? e.message : String(e)})`);
}
process.exit(0);
