import type { F32Buffer } from '@quant/kernels';
import type { BaseHyperparameters, ForwardContext } from './types.js';

/**
 * The usual token embedding: `ctx.hidden[t] = row tokens[t]` of the `matrix` tensor `name`
 * (default `token_embd.weight`), dequantized by the kernels' `getRows`.
 */
export function embedTokens(
  ctx: ForwardContext<BaseHyperparameters, unknown>,
  name = 'token_embd.weight',
): void {
  ctx.kernels.getRows(ctx.hidden, ctx.weights.matrix(name), ctx.tokens);
}

export interface RmsNormHeadOptions {
  /** RMS norm epsilon. */
  eps: number;
  /** `vector` tensor of the final norm (default `output_norm.weight`). */
  norm?: string;
  /** `matrix` tensor of the LM head (default `output.weight`, falling back to `tiedTo`). */
  head?: string;
  /** Used when `head` is absent (tied embeddings; default `token_embd.weight`). */
  tiedTo?: string;
}

/** The usual LM head: RMS-normalize `x` in place, then `logits = x · headᵀ`. */
export function rmsNormHead(
  ctx: ForwardContext<BaseHyperparameters, unknown>,
  x: F32Buffer,
  rows: number,
  logits: F32Buffer,
  o: RmsNormHeadOptions,
): void {
  const { kernels, weights, hparams } = ctx;
  kernels.rmsNorm(x, x, weights.vector(o.norm ?? 'output_norm.weight'), rows, hparams.nEmbd, o.eps);
  const head =
    weights.optMatrix(o.head ?? 'output.weight') ?? weights.matrix(o.tiedTo ?? 'token_embd.weight');
  kernels.matmul(logits, head, x, rows);
}
