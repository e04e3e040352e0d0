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
  // The worker thread and the exact K-quant port it loads are plain JS, shipped next to the bundle.
  async onSuccess() {
    for (const f of ['quantize-worker.mjs', 'kquants-ref.mjs']) cpSync(`src/${f}`, `dist/${f}`);
  },
});
