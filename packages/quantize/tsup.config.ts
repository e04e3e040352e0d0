import { cpSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url in the CJS build (locates the worker script).
  shims: true,
  // The worker thread is plain JS, shipped next to the bundle.
  async onSuccess() {
    cpSync('src/quantize-worker.mjs', 'dist/quantize-worker.mjs');
  },
});
