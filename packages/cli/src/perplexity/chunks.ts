/**
 * Perplexity chunking as llama.cpp's `llama-perplexity` does it (tools/perplexity/perplexity.cpp,
 * without --ppl-stride), so the numbers are comparable:
 *
 * - the whole text is tokenized once, with BOS when the model adds one;
 * - it needs at least 2·n_ctx tokens; there are ⌊n_tokens / n_ctx⌋ chunks of n_ctx tokens
 *   (`--chunks` caps the count);
 * - each chunk is evaluated from an empty KV cache, its first token replaced by BOS when the model
 *   adds one;
 * - only the second half is scored: the logits at positions first = ⌊n_ctx/2⌋ … n_ctx−2 predict the
 *   next token, n_ctx − first − 1 tokens per chunk;
 * - PPL = exp(mean NLL); the running estimate after each chunk is printed as `[i]ppl,`; the final
 *   uncertainty is ppl · sqrt((E[nll²] − E[nll]²) / (count − 1)).
 */
import { CliError } from '../errors.js';

export interface PerplexityPlan {
  nTokens: number;
  nCtx: number;
  nChunks: number;
  /** First scored position in a chunk (⌊n_ctx/2⌋). */
  first: number;
  /** Tokens scored per chunk: n_ctx − first − 1. */
  scoredPerChunk: number;
}

/** llama-perplexity's default context for perplexity. */
export const DEFAULT_PERPLEXITY_CTX = 512;

export function planPerplexity(nTokens: number, nCtx: number, maxChunks = -1): PerplexityPlan {
  if (!Number.isInteger(nCtx) || nCtx < 4)
    throw new CliError('USAGE', `--ctx must be an integer ≥ 4 for perplexity, got ${nCtx}`);
  if (nTokens < 2 * nCtx) {
    throw new CliError(
      'TEXT_TOO_SHORT',
      `the text tokenizes to only ${nTokens} tokens; perplexity with a context of ${nCtx} needs at least ${2 * nCtx} (as llama-perplexity); use a longer text or a smaller --ctx`,
    );
  }
  const max = Math.floor(nTokens / nCtx);
  const nChunks = maxChunks < 0 ? max : Math.min(maxChunks, max);
  const first = Math.floor(nCtx / 2);
  return { nTokens, nCtx, nChunks, first, scoredPerChunk: nCtx - first - 1 };
}

/** The tokens chunk `i` evaluates: tokens[i·n_ctx, (i+1)·n_ctx) with the first replaced by `bos` (if not null). */
export function chunkInput(
  tokens: ArrayLike<number>,
  plan: PerplexityPlan,
  i: number,
  bos: number | null,
): Int32Array {
  const start = i * plan.nCtx;
  const chunk = new Int32Array(plan.nCtx);
  for (let k = 0; k < plan.nCtx; k++) chunk[k] = tokens[start + k] as number;
  if (bos !== null) chunk[0] = bos;
  return chunk;
}

/** −log softmax(logits)[tok] for one row, as llama.cpp computes it (float max and exp, double sum). */
export function negLogProb(logits: Float32Array, offset: number, nVocab: number, tok: number): number {
  let max = logits[offset] as number;
  for (let i = 1; i < nVocab; i++) {
    const v = logits[offset + i] as number;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < nVocab; i++)
    sum += Math.fround(Math.exp(Math.fround((logits[offset + i] as number) - max)));
  return max + Math.log(sum) - (logits[offset + tok] as number);
}

export interface ChunkScore {
  nll: number;
  nll2: number;
  count: number;
}

/**
 * Scores one chunk. `logits` holds rows for positions `first … first + rows − 1` of the chunk
 * (at least up to n_ctx − 2); `tokens` are the chunk's original tokens (not BOS-replaced).
 */
export function scoreChunk(
  logits: Float32Array,
  nVocab: number,
  tokens: ArrayLike<number>,
  plan: PerplexityPlan,
  chunkIndex: number,
): ChunkScore {
  const start = chunkIndex * plan.nCtx;
  let nll = 0;
  let nll2 = 0;
  for (let j = plan.first; j < plan.nCtx - 1; j++) {
    const row = j - plan.first;
    const v = negLogProb(logits, row * nVocab, nVocab, tokens[start + j + 1] as number);
    nll += v;
    nll2 += v * v;
  }
  return { nll, nll2, count: plan.scoredPerChunk };
}

/** Running totals over chunks. */
export class PerplexityAccumulator {
  nll = 0;
  nll2 = 0;
  count = 0;
  chunks = 0;

  add(s: ChunkScore): void {
    this.nll += s.nll;
    this.nll2 += s.nll2;
    this.count += s.count;
    this.chunks++;
  }

  /** exp(mean NLL) so far. */
  get perplexity(): number {
    return Math.exp(this.nll / this.count);
  }

  /** ± of the final estimate (llama.cpp's `Final estimate: PPL = x +/- y`); NaN when undefined. */
  get uncertainty(): number {
    const mean = this.nll / this.count;
    const variance = this.nll2 / this.count - mean * mean;
    if (!(variance > 0) || this.count < 2) return Number.NaN;
    return Math.sqrt(variance / (this.count - 1)) * this.perplexity;
  }
}
