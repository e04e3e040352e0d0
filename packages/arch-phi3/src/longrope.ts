import type { ModelWeights } from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';

/** Which LongRoPE factor table a session uses. */
export type RopeTable = 'long' | 'short' | 'none';

/** llama.cpp pads every context size up to a multiple of 256 (GGML_PAD(n_ctx, 256)) before using it. */
export function paddedContextSize(contextSize: number): number {
  return Math.ceil(contextSize / 256) * 256;
}

/**
 * llama.cpp's rule (llama_model::get_rope_factors): the long table when the session's padded
 * context size exceeds `original_context_length`, else the short one — fixed for the whole session,
 * whatever the positions. A table the file lacks means no factors.
 */
export function chooseRopeFactors(
  h: Pick<Phi3Hyperparameters, 'originalContextLength'>,
  weights: Pick<ModelWeights, 'optHost'>,
  contextSize: number,
): { table: RopeTable; factors: Float32Array | undefined } {
  const long = paddedContextSize(contextSize) > h.originalContextLength;
  const name = long ? 'rope_factors_long.weight' : 'rope_factors_short.weight';
  const factors = weights.optHost(name);
  return { table: factors ? (long ? 'long' : 'short') : 'none', factors };
}
