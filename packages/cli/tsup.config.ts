import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library (ESM + CJS with .d.ts / .d.cts); workspace packages stay external.
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
  },
  {
    // dist/bin.js is the `quant` executable (shebang kept from src/bin.ts; bin/quant.js imports it):
    // ESM only — nothing loads a CommonJS copy of the command.
    entry: { bin: 'src/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
  },
]);
