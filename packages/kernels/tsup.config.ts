import { defineConfig } from 'tsup';
import { browserBuild } from '../../scripts/browser-variants.mjs';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    shims: true,
    external: ['@emnapi/core', '@emnapi/runtime'],
  },
  {
    // The browser build ("browser" export condition): src/x.browser.ts replaces x.ts (native addon,
    // CPU info, wasm file location), so no Node module is imported; the wasm module is found with
    // `new URL('../wasm/quant-kernels.wasm', import.meta.url)`.
    ...browserBuild,
    entry: { browser: 'src/index.ts' },
    external: ['@emnapi/core', '@emnapi/runtime'],
  },
]);
