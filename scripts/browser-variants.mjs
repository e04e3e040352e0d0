// The browser builds of @quant/gguf, @quant/kernels and @quant/runtime (tsup → dist/browser.js, used
// through the "browser" export condition) are the Node builds with Node-only modules swapped out:
// a relative import of `./x` (or `./x.js`) whose sibling `x.browser.ts` exists resolves to that file.
// The node-only module and its browser twin export the same names, so the rest of the code is shared
// and no bundler of an application ever sees a Node built-in.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** esbuild plugin (tsup `esbuildPlugins`) resolving `./x` to `./x.browser.ts` where that file exists. */
export function browserVariants() {
  return {
    name: 'quant-browser-variants',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (!args.importer) return undefined;
        const base = resolve(dirname(args.importer), args.path).replace(/\.(js|ts)$/, '');
        const variant = `${base}.browser.ts`;
        return variant !== args.importer && existsSync(variant) ? { path: variant } : undefined;
      });
    },
  };
}

/** The tsup options every browser build shares: one ESM file, no Node shims, no `node:` anything. */
export const browserBuild = {
  format: ['esm'],
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  splitting: false,
  shims: false,
  dts: false,
  esbuildPlugins: [browserVariants()],
};
