import { type ModelDescription, readTransformerHparams, type TransformerHparams } from '@quant/plugin-api';

/**
 * Llama-family hyperparameters: the shared transformer keys (`readTransformerHparams`), read as
 * llama.cpp's `llm_load_hparams` reads them for LLM_ARCH_LLAMA. `normEps` is
 * `attention.layer_norm_rms_epsilon`; `nRot` is the head size (llama.cpp requires full rotary).
 */
export interface LlamaHyperparameters extends TransformerHparams {
  /** @deprecated The same value as `normEps` (`attention.layer_norm_rms_epsilon`); kept for plugins built on this reader. */
  rmsEps: number;
}

/**
 * Reads and checks the `llama.*` (or alias) keys with the shared policy: dense models only, full
 * rotary dimensions, every block at least 9 tensors. Throws `MetadataError` naming the key, or
 * `PluginError('UNSUPPORTED_MODEL')`.
 */
export function readLlamaHyperparameters(model: ModelDescription): LlamaHyperparameters {
  const h = readTransformerHparams(model, { plugin: 'llama', minTensorsPerBlock: 9, fullRotary: true });
  return { ...h, rmsEps: h.normEps };
}
