import type { Options } from 'tsup';

/** esbuild plugin resolving `./x` to `./x.browser.ts` where that file exists. */
export function browserVariants(): NonNullable<Options['esbuildPlugins']>[number];
/** The tsup options every browser build shares. */
export const browserBuild: Options;
