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
    // import.meta.url (the worker script's location) in the CommonJS build.
    shims: true,
  },
  {
    // The model worker's script for worker_threads (`@quant/runtime/worker`, loadModelInWorker in Node).
    entry: { worker: 'src/worker/entry.ts' },
    format: ['esm'],
    dts: true,
    sourcemap: true,
    target: 'node20',
  },
  {
    // The browser build ("browser" export condition): src/**/x.browser.ts replaces x.ts (hf:
    // references, the worker spawner), so neither @quant/hub nor any Node module is imported.
    ...browserBuild,
    entry: { browser: 'src/index.ts', 'worker.browser': 'src/worker/entry.ts' },
  },
]);
