import { Phi3OptionError } from './errors.js';

/**
 * What the phi3 plugin reads from `architectureOptions` (given to `loadModel`, overridable per
 * session with `createSession({ architectureOptions })`).
 */
export interface Phi3Options {
  /**
   * Sliding-window attention: `true` (default) uses the file's `phi3.attention.sliding_window`, as
   * the model was trained and as Hugging Face runs it; `false` attends to the whole context, as
   * llama.cpp does (it disables Phi SWA); a positive integer sets the window in tokens.
   */
  slidingWindow?: boolean | number;
}

export const PHI3_OPTION_NAMES: readonly (keyof Phi3Options)[] = ['slidingWindow'];

/** Checks the options and returns the window to apply (0 = none). */
export function resolveSlidingWindow(options: Readonly<Record<string, unknown>>, fileWindow: number): number {
  for (const key of Object.keys(options)) {
    if (!(PHI3_OPTION_NAMES as readonly string[]).includes(key)) {
      throw new Phi3OptionError(
        key,
        `Unknown phi3 architecture option "${key}"; the phi3 plugin accepts: ${PHI3_OPTION_NAMES.join(', ')}.`,
      );
    }
  }
  const v = options.slidingWindow;
  if (v === undefined || v === true) return fileWindow;
  if (v === false) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  throw new Phi3OptionError(
    'slidingWindow',
    `architectureOptions.slidingWindow must be true (the file's window, ${fileWindow || 'none'}), false (no window) or a positive integer, got ${JSON.stringify(v)}.`,
  );
}
