import {
  type BaseHyperparameters,
  MetadataError,
  type ModelDescription,
  PluginError,
} from '@quant/plugin-api';

/** Llama-family hyperparameters, read as llama.cpp's `llm_load_hparams` reads them. */
export interface LlamaHyperparameters extends BaseHyperparameters {
  nHeads: number;
  nFF: number;
  /** `attention.layer_norm_rms_epsilon` */
  rmsEps: number;
  /** Rotated dimensions per head (= headDim for Llama). */
  nRot: number;
  ropeFreqBase: number;
  /** 1 / `rope.scaling.factor` (linear scaling); 1 when unscaled or scaling type "none". */
  ropeFreqScale: number;
  ropeScalingType: 'none' | 'linear' | 'longrope';
  /** `rope.scaling.attn_factor`, multiplies cos/sin (default 1). */
  ropeAttnFactor: number;
  /** `rope.scaling.original_context_length` (default: contextLength); picks long/short rope factors. */
  originalContextLength: number;
  /** Softmax scale: `attention.scale` or 1/sqrt(headDim). */
  attentionScale: number;
}

function vocabSize(model: ModelDescription): number {
  const { meta, tensors } = model;
  const fromKey = meta.has(meta.archKey('vocab_size')) ? meta.archU32('vocab_size') : undefined;
  if (fromKey !== undefined) return fromKey;
  const list = meta.array('tokenizer.ggml.tokens');
  if (list) return list.length;
  const emb = tensors.shape('token_embd.weight');
  if (emb && emb.length >= 2 && emb[1] !== undefined) return emb[1];
  throw new MetadataError(
    'MISSING_METADATA',
    'tokenizer.ggml.tokens',
    `Cannot tell the vocabulary size of ${meta.source}: no ${meta.archKey('vocab_size')}, no tokenizer.ggml.tokens and no token_embd.weight.`,
  );
}

export function readLlamaHyperparameters(model: ModelDescription): LlamaHyperparameters {
  const m = model.meta;
  const experts = m.archU32('expert_count', 0);
  if (experts > 0) {
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.source} is a mixture-of-experts model (${m.archKey('expert_count')} = ${experts}); the llama plugin runs dense models only.`,
    );
  }
  const nLayers = m.archU32('block_count');
  // Every block has at least 9 tensors: refuse absurd counts before building per-layer lists.
  const tensorCount = model.tensors.names().length;
  if (nLayers === 0 || nLayers * 9 > tensorCount) {
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('block_count'),
      `${m.archKey('block_count')} = ${nLayers} does not fit ${m.source}, which has ${tensorCount} tensors (a Llama block has 9 or more).`,
    );
  }
  const nEmbd = m.archU32('embedding_length');
  const nHeads = m.archUniformU32('attention.head_count');
  if (nHeads === 0)
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('attention.head_count'),
      `${m.archKey('attention.head_count')} is 0 in ${m.source}.`,
    );
  const nKvHeads = m.archUniformU32('attention.head_count_kv', nHeads);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) {
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('attention.head_count_kv'),
      `${m.archKey('attention.head_count_kv')} = ${nKvHeads} must divide the head count ${nHeads} (${m.source}).`,
    );
  }
  const headDim = m.archU32('attention.key_length', Math.floor(nEmbd / nHeads));
  if (headDim === 0) {
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('attention.key_length'),
      `The head size is 0 in ${m.source} (embedding_length ${nEmbd}, head_count ${nHeads}).`,
    );
  }
  const valueDim = m.archU32('attention.value_length', Math.floor(nEmbd / nHeads));
  if (valueDim !== headDim) {
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('attention.value_length'),
      `Key and value head sizes differ (${headDim} vs ${valueDim}) in ${m.source}; the llama plugin needs them equal.`,
    );
  }
  const nRot = m.archU32('rope.dimension_count', headDim);
  if (nRot !== headDim) {
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('rope.dimension_count'),
      `invalid ${m.archKey('rope.dimension_count')} = ${nRot}, expected the head size ${headDim} (as llama.cpp requires for llama).`,
    );
  }
  const scalingName = m.archString('rope.scaling.type', 'linear');
  if (scalingName !== 'none' && scalingName !== 'linear' && scalingName !== 'longrope') {
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.archKey('rope.scaling.type')} = "${scalingName}" in ${m.source} is not supported by the llama plugin (supported: none, linear, longrope).`,
    );
  }
  const factorKey = m.has(m.archKey('rope.scaling.factor')) ? 'rope.scaling.factor' : 'rope.scale_linear';
  const factor = m.archF32(factorKey, 0);
  const contextLength = m.archU32('context_length');
  const scaleKey = m.archKey('attention.scale');
  const attnScale = m.archF32('attention.scale', 0);
  if (attnScale < 0)
    throw new MetadataError('INVALID_METADATA', scaleKey, `${scaleKey} must be positive in ${m.source}.`);
  // Values that make every logit NaN (llama.cpp loads them and generates garbage): refuse them here.
  const positive = (suffix: string, v: number, why: string) => {
    if (!(v > 0)) {
      const key = m.archKey(suffix);
      throw new MetadataError(
        'INVALID_METADATA',
        key,
        `${key} = ${v} in ${m.source} must be positive (${why}); the file is damaged or was written by a broken converter.`,
      );
    }
    return v;
  };
  const rmsEps = positive(
    'attention.layer_norm_rms_epsilon',
    m.archF32('attention.layer_norm_rms_epsilon'),
    'RMS norm divides by √(mean² + ε)',
  );
  const ropeFreqBase = positive(
    'rope.freq_base',
    m.archF32('rope.freq_base', 10000),
    'RoPE angles are pos · base^(-2i/d)',
  );
  const ropeAttnFactor = positive(
    'rope.scaling.attn_factor',
    m.archF32('rope.scaling.attn_factor', 1),
    'it scales the RoPE rotation',
  );
  if (factor < 0) positive(factorKey, factor, 'a RoPE scaling factor, or 0 for none');
  return {
    nLayers,
    nEmbd,
    nVocab: vocabSize(model),
    nKvHeads,
    headDim,
    contextLength,
    nHeads,
    nFF: m.archUniformU32('feed_forward_length'),
    rmsEps,
    nRot,
    ropeFreqBase,
    ropeFreqScale: scalingName === 'none' || factor === 0 ? 1 : 1 / factor,
    ropeScalingType: scalingName,
    ropeAttnFactor,
    originalContextLength: m.archU32('rope.scaling.original_context_length', contextLength),
    attentionScale: attnScale === 0 ? 1 / Math.sqrt(headDim) : attnScale,
  };
}
