import {
  type ModelDescription,
  type QkvLayout,
  qkvLayout,
  readTransformerHparams,
  type TransformerHparams,
} from '@quant/plugin-api';

export type { QkvLayout } from '@quant/plugin-api';

/**
 * Phi-3 / Phi-3.5 hyperparameters: the shared transformer keys (`readTransformerHparams`; `normEps`
 * is `attention.layer_norm_rms_epsilon`, `nRot` the leading rotated dimensions of each head, NeoX
 * pairs (i, i + nRot/2)) and each block's Q/K/V layout. The fused `ffn_up` holds 2·nFF rows
 * ([gate | up]).
 */
export interface Phi3Hyperparameters extends TransformerHparams {
  /** Per block: fused `attn_qkv` or separate `attn_q`/`attn_k`/`attn_v`. */
  qkvLayout: readonly QkvLayout[];
  /** @deprecated The same value as `normEps` (`attention.layer_norm_rms_epsilon`); kept for plugins built on this reader. */
  rmsEps: number;
}

/**
 * Reads and checks the `phi3.*` hyperparameters with the shared policy (dense models only, every
 * block at least 6 tensors, q_dim = embedding_length as llama.cpp's phi3 needs). Throws
 * `MetadataError` / `PluginError` naming the key.
 */
export function readPhi3Hyperparameters(model: ModelDescription): Phi3Hyperparameters {
  const h = readTransformerHparams(model, { plugin: 'phi3', minTensorsPerBlock: 6, qDimIsEmbedding: true });
  return {
    ...h,
    qkvLayout: Array.from({ length: h.nLayers }, (_, il) => qkvLayout(model, il)),
    rmsEps: h.normEps,
  };
}
