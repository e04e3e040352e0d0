import { describeValue, invalidPrompt, QuantRuntimeError } from '../errors.js';

/** True for arrays and typed arrays of numbers (not strings, which are array-like too). */
function isTokenList(v: unknown): v is ArrayLike<unknown> {
  if (Array.isArray(v)) return true;
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/**
 * Checks token ids before anything converts them: every entry must be an integer in [0, nVocab)
 * (a number — not NaN, ±Infinity, a fraction, a bigint, a string, null or undefined, which an
 * Int32Array conversion would silently turn into other tokens). Returns the ids as an Int32Array
 * copy. Throws INVALID_PROMPT when `tokens` is not an array or typed array, and INVALID_TOKEN naming
 * the first bad index.
 */
export function toTokenIds(tokens: unknown, nVocab: number, what: string): Int32Array {
  if (!isTokenList(tokens)) {
    throw invalidPrompt(
      `${what} needs an array of token ids (numbers), got ${describeValue(tokens)}. Tokenize text first with model.tokenize().`,
    );
  }
  const n = tokens.length;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= nVocab) {
      throw new QuantRuntimeError(
        'INVALID_TOKEN',
        `${what}: token ${i} is ${describeValue(t)}, not a token id: ids are integers in [0, ${nVocab}) (the vocabulary size).`,
      );
    }
    out[i] = t;
  }
  return out;
}

/** Like `toTokenIds`, but returns the error instead of throwing (for APIs that report errors as rejections). */
export function tokenIdsOrError(tokens: unknown, nVocab: number, what: string): Int32Array | Error {
  try {
    return toTokenIds(tokens, nVocab, what);
  } catch (e) {
    return e as Error;
  }
}
