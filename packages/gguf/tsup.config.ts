import { defineConfig } from 'tsup';
import { browserBuild } from '../../scripts/browser-variants.mjs';

export default defineConfig([
  {
    // The library: browser-safe core (Node modules are imported lazily, only for file paths).
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
  },
  {
    // The browser build ("browser" export condition): src/**/x.browser.ts replaces x.ts, so the file
    // source has no Node import at all (paths are refused with GGUF_SOURCE_ERROR).
    ...browserBuild,
    entry: { browser: 'src/index.ts' },
  },
  {
    // The `gguf` bin (Node only), run as `node dist/cli.js` or through package.json "bin".
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
]);
