/** What users run to get the native addon back (npm's command; pnpm and yarn have the same `rebuild`). No Node imports: the browser build includes it. */
export const REBUILD_ADVICE =
  'run `npm rebuild @quant/kernels` (needs a C compiler, make and Python 3) or reinstall without --no-optional / --omit=optional';
