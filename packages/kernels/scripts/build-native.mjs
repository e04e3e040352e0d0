#!/usr/bin/env node
// Builds the native addon (build/Release/quant_kernels.node) with node-gyp. A failure (no compiler,
// no Node headers) is reported but does not fail the package build: loadKernels({ backend: 'auto' })
// then falls back to the wasm module and says why in `fallbackReason`.
// QUANT_KERNELS_REQUIRE_NATIVE=1 makes a failure fatal (CI on machines that must have the addon).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const gyp = join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
const extra = process.argv.slice(2);
// Use the running Node's own headers when they are installed (e.g. /usr/include/node), so no
// download is needed; otherwise node-gyp fetches them (or honours npm_config_nodedir).
const prefix = join(dirname(process.execPath), '..');
if (
  !process.env.npm_config_nodedir &&
  !extra.some((a) => a.startsWith('--nodedir')) &&
  existsSync(join(prefix, 'include', 'node', 'node_api.h'))
) {
  extra.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', ...extra], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
if (r.status !== 0) {
  const msg = `build-native: node-gyp failed (exit ${r.status ?? r.signal}); the native addon is unavailable and loadKernels() will use the wasm backend`;
  if (process.env.QUANT_KERNELS_REQUIRE_NATIVE === '1') {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
}
