import {
  type BaseHyperparameters,
  MetadataError,
  type ModelDescription,
  PluginError,
} from '@quant/plugin-api';

/** How one block's attention projection is stored. */
export type QkvLayout = 'fused' | 'separate';

/** Phi-3 / Phi-3.5 hyperparameters, read as llama.cpp's loader reads `phi3.*` keys. */
export interface Phi3Hyperparameters extends BaseHyperparameters {
  nHeads: number;
  /** `feed_forward_length`; the fused `ffn_up` holds 2·nFF rows ([gate | up]). */
  nFF: number;
  /** `attention.layer_norm_rms_epsilon` */
  rmsEps: number;
  /** `rope.dimension_count`: leading dimensions of each head that are rotated (NeoX pairs (i, i + nRot/2)). */
  nRot: number;
  /** `rope.freq_base` (default 10000). */
  ropeFreqBase: number;
  /** 1 / `rope.scaling.factor` (1 when absent or 0, or when the scaling type is "none"). */
  ropeFreqScale: number;
  /** `rope.scaling.attn_factor` (default 1): multiplies cos and sin of the rotation of Q and K. */
  ropeAttnFactor: number;
  /** `rope.scaling.original_context_length` (default `context_length`): picks the LongRoPE table. */
  originalContextLength: number;
  /** `attention.sliding_window` (0 = none). */
  slidingWindow: number;
  /** Per block: fused `attn_qkv` or separate `attn_q`/`attn_k`/`attn_v`. */
  qkvLayout: readonly QkvLayout[];
}

const SUPPORTED_SCALING = ['none', 'linear', 'longrope'] as const;

function vocabSize(model: ModelDescription): number {
  const { meta, tensors } = model;
  if (meta.has(meta.archKey('vocab_size'))) return meta.archU32('vocab_size');
  const list = meta.array('tokenizer.ggml.tokens');
  if (list) return list.length;
  const emb = tensors.shape('token_embd.weight');
  if (emb && emb[1] !== undefined) return emb[1];
  throw new MetadataError(
    'MISSING_METADATA',
    'tokenizer.ggml.tokens',
    `Cannot tell the vocabulary size of ${meta.source}: no ${meta.archKey('vocab_size')}, no tokenizer.ggml.tokens and no token_embd.weight.`,
  );
}

function invalid(model: ModelDescription, suffix: string, message: string): never {
  const key = model.meta.archKey(suffix);
  throw new MetadataError('INVALID_METADATA', key, `${key} ${message} (${model.meta.source}).`);
}

/** Fused `blk.N.attn_qkv.weight` when present (llama.cpp prefers it), else separate Q/K/V. */
function qkvLayouts(model: ModelDescription, nLayers: number): QkvLayout[] {
  const out: QkvLayout[] = [];
  for (let il = 0; il < nLayers; il++)
    out.push(model.tensors.has(`blk.${il}.attn_qkv.weight`) ? 'fused' : 'separate');
  return out;
}

/** Reads and checks the `phi3.*` hyperparameters of a file. Throws `MetadataError` / `PluginError` naming the key. */
export function readPhi3Hyperparameters(model: ModelDescription): Phi3Hyperparameters {
  const m = model.meta;
  const experts = m.archU32('expert_count', 0);
  if (experts > 0) {
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.source} has ${m.archKey('expert_count')} = ${experts}; the phi3 plugin runs dense Phi-3 / Phi-3.5 models (Phi-3.5-MoE is the "phimoe" architecture).`,
    );
  }
  const nLayers = m.archU32('block_count');
  if (nLayers === 0) invalid(model, 'block_count', 'is 0');
  // Every block has at least 6 tensors: refuse absurd counts before building per-layer lists.
  const tensorCount = model.tensors.names().length;
  if (nLayers * 6 > tensorCount)
    invalid(
      model,
      'block_count',
      `= ${nLayers} does not fit the file, which has ${tensorCount} tensors (a Phi-3 block has 6 or more)`,
    );
  const nEmbd = m.archU32('embedding_length');
  const nHeads = m.archUniformU32('attention.head_count');
  if (nHeads === 0) invalid(model, 'attention.head_count', 'is 0');
  const nKvHeads = m.archUniformU32('attention.head_count_kv', nHeads);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0)
    invalid(
      model,
      'attention.head_count_kv',
      `= ${nKvHeads} must be positive and divide the head count ${nHeads}`,
    );
  const headDim = m.archU32('attention.key_length', Math.floor(nEmbd / nHeads));
  const valueDim = m.archU32('attention.value_length', Math.floor(nEmbd / nHeads));
  if (valueDim !== headDim)
    invalid(
      model,
      'attention.value_length',
      `= ${valueDim} differs from the key head size ${headDim}; phi3 needs them equal`,
    );
  if (headDim * nHeads !== nEmbd) {
    invalid(
      model,
      'attention.key_length',
      `gives ${nHeads} heads × ${headDim} = ${nHeads * headDim} query dimensions, but phi3 (as llama.cpp) needs exactly embedding_length = ${nEmbd}`,
    );
  }
  const nRot = m.archU32('rope.dimension_count', headDim);
  if (nRot === 0 || nRot % 2 !== 0 || nRot > headDim)
    invalid(
      model,
      'rope.dimension_count',
      `= ${nRot} must be even, positive and at most the head size ${headDim}`,
    );
  const nFF = m.archUniformU32('feed_forward_length');
  if (nFF === 0) invalid(model, 'feed_forward_length', 'is 0');
  const rmsEps = m.archF32('attention.layer_norm_rms_epsilon');
  if (!(rmsEps > 0)) invalid(model, 'attention.layer_norm_rms_epsilon', `= ${rmsEps} must be positive`);
  const contextLength = m.archU32('context_length');

  const scaling = m.archString('rope.scaling.type', 'linear');
  if (!(SUPPORTED_SCALING as readonly string[]).includes(scaling)) {
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.archKey('rope.scaling.type')} = "${scaling}" in ${m.source} is not supported by the phi3 plugin (supported: ${SUPPORTED_SCALING.join(', ')}; Phi-3 LongRoPE files need no scaling type, only the rope_factors tensors).`,
    );
  }
  const factorSuffix = m.has(m.archKey('rope.scaling.factor')) ? 'rope.scaling.factor' : 'rope.scale_linear';
  const factor = m.archF32(factorSuffix, 0);
  if (factor < 0) invalid(model, factorSuffix, `= ${factor} must not be negative`);
  const attnFactor = m.archF32('rope.scaling.attn_factor', 1);
  if (!(attnFactor > 0)) invalid(model, 'rope.scaling.attn_factor', `= ${attnFactor} must be positive`);
  const freqBase = m.archF32('rope.freq_base', 10000);
  if (!(freqBase > 0)) invalid(model, 'rope.freq_base', `= ${freqBase} must be positive`);

  return {
    nLayers,
    nEmbd,
    nVocab: vocabSize(model),
    nKvHeads,
    headDim,
    contextLength,
    nHeads,
    nFF,
    rmsEps,
    nRot,
    ropeFreqBase: freqBase,
    ropeFreqScale: scaling === 'none' || factor === 0 ? 1 : 1 / factor,
    ropeAttnFactor: attnFactor,
    originalContextLength: m.archU32('rope.scaling.original_context_length', contextLength),
    slidingWindow: m.archU32('attention.sliding_window', 0),
    qkvLayout: qkvLayouts(model, nLayers),
  };
}
