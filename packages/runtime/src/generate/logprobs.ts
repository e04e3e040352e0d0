import { invalidOption } from '../errors.js';

/** A token id and its log-probability (natural log) under the model's distribution. */
export interface TokenLogprobEntry {
  token: number;
  logprob: number;
}

/**
 * One generated token's log-probability and the most likely alternatives at its position, from the
 * logits the token was sampled from, before penalties, filters and temperature (the model's own
 * distribution: `log_softmax(logits)`, as llama-server reports `n_probs` by default).
 */
export interface TokenLogprob extends TokenLogprobEntry {
  /** The `logprobs` most likely tokens at this position, most likely first (ties: lower id first). */
  top: TokenLogprobEntry[];
}

/** Checks the `logprobs` generate option: undefined (off) or an integer ≥ 0 (alternatives to keep). */
export function checkLogprobsOption(n: unknown): void {
  if (n !== undefined && !(typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
    throw invalidOption('logprobs', n, 'an integer ≥ 0 (the number of top alternatives to record)');
  }
}

/** log Σ exp(logits), computed stably in float64. */
function logSumExp(logits: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (v > max) max = v;
  }
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  return max + Math.log(sum);
}

/** Ids of the `k` largest logits, largest first (lower id first on ties). */
function topIds(logits: Float32Array, k: number): number[] {
  const ids: number[] = [];
  if (k <= 0) return ids;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (ids.length === k && v <= (logits[ids[k - 1] as number] as number)) continue;
    // Insertion into the short sorted list (k is small: OpenAI allows at most 20).
    let j = ids.length < k ? ids.length : k - 1;
    while (j > 0 && (logits[ids[j - 1] as number] as number) < v) j--;
    ids.splice(j, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

/** The record of `token` sampled from `logits`, with the `top` most likely alternatives. */
export function tokenLogprobs(logits: Float32Array, token: number, top: number): TokenLogprob {
  const lse = logSumExp(logits);
  const lp = (id: number) => (logits[id] as number) - lse;
  return {
    token,
    logprob: lp(token),
    top: topIds(logits, Math.min(top, logits.length)).map((id) => ({ token: id, logprob: lp(id) })),
  };
}
