/**
 * The shared transformer core: what most decoder architectures read and run the same way, as
 * llama.cpp's llm_graph_context (build_norm, build_qkv, build_ffn, get_rope_factors) serves its
 * src/models/<arch>.cpp files. A plugin keeps only what is its own (its graph's order, its extra
 * keys and tensors) and calls these for the rest.
 */
import type { F32Buffer, RopeParams } from '@quant/kernels';
import { MetadataError, PluginError } from './errors.js';
import type {
  BaseHyperparameters,
  ForwardContext,
  KeyRope,
  ModelDescription,
  ModelWeights,
  TensorSpec,
} from './types.js';

/** GGUF tensor name of block `il`: `blk.<il>.<name>`. */
export function blk(il: number, name: string): string {
  return `blk.${il}.${name}`;
}

/** The hyperparameters most transformer decoders share, read and checked once (`readTransformerHparams`). */
export interface TransformerHparams extends BaseHyperparameters {
  nHeads: number;
  /** `feed_forward_length` */
  nFF: number;
  /** The norm epsilon: `attention.layer_norm_rms_epsilon` (RMS norm) or `attention.layer_norm_epsilon` (LayerNorm). */
  normEps: number;
  /** `rope.dimension_count` (default: the head size): leading dimensions of each head that rotate. */
  nRot: number;
  /** `rope.freq_base` (default 10000). */
  ropeFreqBase: number;
  /** 1 / `rope.scaling.factor` (1 when absent or 0, or when the scaling type is "none"). */
  ropeFreqScale: number;
  /** `rope.scaling.type` (default "linear", which with no factor is no scaling). */
  ropeScalingType: 'none' | 'linear' | 'longrope';
  /** `rope.scaling.attn_factor` (default 1): multiplies cos and sin. */
  ropeAttnFactor: number;
  /** `rope.scaling.original_context_length` (default `context_length`): picks the LongRoPE table. */
  originalContextLength: number;
  /** `attention.sliding_window` (0 = none). */
  slidingWindow: number;
  /** `attention.scale`, or 1/√headDim. */
  attentionScale: number;
}

export interface ReadTransformerOptions {
  /** The plugin's name, for messages ("the qwen2 plugin …"). */
  plugin: string;
  /** Which epsilon key the architecture's norms use (default 'rms'). */
  norm?: 'rms' | 'layer';
  /** The fewest tensors one block has (block_count is refused when the file cannot hold that many). */
  minTensorsPerBlock: number;
  /** Refuse `rope.dimension_count` ≠ head size (llama.cpp asserts it for llama and qwen2). */
  fullRotary?: boolean;
  /** Refuse nHeads · headDim ≠ embedding_length (llama.cpp's phi3 and phi2 need it). */
  qDimIsEmbedding?: boolean;
}

const SCALING = ['none', 'linear', 'longrope'] as const;

/** `<arch>.vocab_size`, else the tokenizer's token count, else the embedding's rows. */
export function vocabSize(model: ModelDescription): number {
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

/**
 * Reads and checks the usual `<arch>.*` keys with one policy: dense models only; block_count, head
 * counts, head size, feed_forward_length positive and consistent; K and V heads the same size;
 * rotary dims even and within the head; epsilon, rope base and attention factor positive (values
 * that make every logit NaN are refused here, although llama.cpp loads them); scaling factor ≥ 0.
 * Throws `MetadataError` (with the key) or `PluginError('UNSUPPORTED_MODEL')`.
 */
export function readTransformerHparams(
  model: ModelDescription,
  o: ReadTransformerOptions,
): TransformerHparams {
  const m = model.meta;
  const invalid = (suffix: string, message: string): never => {
    const key = m.archKey(suffix);
    throw new MetadataError(
      'INVALID_METADATA',
      key,
      `${key} ${message} in ${m.source}; the file is damaged or was written by a broken converter.`,
    );
  };
  const experts = m.archU32('expert_count', 0);
  if (experts > 0)
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.source} is a mixture-of-experts model (${m.archKey('expert_count')} = ${experts}); the ${o.plugin} plugin runs dense models only.`,
    );
  const nLayers = m.archU32('block_count');
  if (nLayers === 0) invalid('block_count', 'is 0');
  const tensorCount = model.tensors.names().length;
  if (nLayers * o.minTensorsPerBlock > tensorCount)
    invalid(
      'block_count',
      `= ${nLayers} does not fit the file, which has ${tensorCount} tensors (a ${o.plugin} block has ${o.minTensorsPerBlock} or more),`,
    );
  const nEmbd = m.archU32('embedding_length');
  if (nEmbd === 0) invalid('embedding_length', 'is 0');
  const nHeads = m.archUniformU32('attention.head_count');
  if (nHeads === 0) invalid('attention.head_count', 'is 0');
  const nKvHeads = m.archUniformU32('attention.head_count_kv', nHeads);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0)
    invalid('attention.head_count_kv', `= ${nKvHeads} must be positive and divide the head count ${nHeads}`);
  const headDim = m.archU32('attention.key_length', Math.floor(nEmbd / nHeads));
  if (headDim === 0)
    invalid(
      'attention.key_length',
      m.has(m.archKey('attention.key_length'))
        ? '= 0: the head size is 0'
        : `is absent and embedding_length ${nEmbd} / head_count ${nHeads} rounds down to 0: the head size is 0`,
    );
  const valueDim = m.archU32('attention.value_length', Math.floor(nEmbd / nHeads));
  if (valueDim !== headDim)
    invalid(
      'attention.value_length',
      `= ${valueDim} differs from the key head size ${headDim} (the ${o.plugin} plugin needs them equal)`,
    );
  if (o.qDimIsEmbedding && headDim * nHeads !== nEmbd)
    invalid(
      'attention.key_length',
      `gives ${nHeads} heads × ${headDim} = ${nHeads * headDim} query dimensions, but ${o.plugin} (as llama.cpp) needs exactly embedding_length = ${nEmbd}`,
    );
  const nRot = m.archU32('rope.dimension_count', headDim);
  if (o.fullRotary && nRot !== headDim) {
    const key = m.archKey('rope.dimension_count');
    throw new MetadataError(
      'INVALID_METADATA',
      key,
      `invalid ${key} = ${nRot} in ${m.source}, expected the head size ${headDim} (as llama.cpp requires for ${o.plugin}); the file is damaged or was written by a broken converter.`,
    );
  }
  if (nRot === 0 || nRot % 2 !== 0 || nRot > headDim)
    invalid('rope.dimension_count', `= ${nRot} must be even, positive and at most the head size ${headDim}`);
  const nFF = m.archUniformU32('feed_forward_length');
  if (nFF === 0) invalid('feed_forward_length', 'is 0');
  const epsSuffix =
    (o.norm ?? 'rms') === 'rms' ? 'attention.layer_norm_rms_epsilon' : 'attention.layer_norm_epsilon';
  const normEps = m.archF32(epsSuffix);
  if (!(normEps > 0)) invalid(epsSuffix, `= ${normEps} must be positive (a norm divides by √(variance + ε))`);
  const scaling = m.archString('rope.scaling.type', 'linear');
  if (!(SCALING as readonly string[]).includes(scaling))
    throw new PluginError(
      'UNSUPPORTED_MODEL',
      `${m.archKey('rope.scaling.type')} = "${scaling}" in ${m.source} is not supported by the ${o.plugin} plugin (supported: ${SCALING.join(', ')}).`,
    );
  const factorSuffix = m.has(m.archKey('rope.scaling.factor')) ? 'rope.scaling.factor' : 'rope.scale_linear';
  const factor = m.archF32(factorSuffix, 0);
  if (!(factor >= 0)) invalid(factorSuffix, `= ${factor} must not be negative (0 = no scaling)`);
  const ropeAttnFactor = m.archF32('rope.scaling.attn_factor', 1);
  if (!(ropeAttnFactor > 0))
    invalid('rope.scaling.attn_factor', `= ${ropeAttnFactor} must be positive (it scales the RoPE rotation)`);
  const ropeFreqBase = m.archF32('rope.freq_base', 10000);
  if (!(ropeFreqBase > 0))
    invalid('rope.freq_base', `= ${ropeFreqBase} must be positive (RoPE angles are pos · base^(-2i/d))`);
  const attnScale = m.archF32('attention.scale', 0);
  if (!(attnScale >= 0)) invalid('attention.scale', `= ${attnScale} must be positive`);
  const contextLength = m.archU32('context_length');
  return {
    nLayers,
    nEmbd,
    nVocab: vocabSize(model),
    nKvHeads,
    headDim,
    contextLength,
    nHeads,
    nFF,
    normEps,
    nRot,
    ropeFreqBase,
    ropeFreqScale: scaling === 'none' || factor === 0 ? 1 : 1 / factor,
    ropeScalingType: scaling as TransformerHparams['ropeScalingType'],
    ropeAttnFactor,
    originalContextLength: m.archU32('rope.scaling.original_context_length', contextLength),
    slidingWindow: m.archU32('attention.sliding_window', 0),
    attentionScale: attnScale === 0 ? 1 / Math.sqrt(headDim) : attnScale,
  };
}

type Shape = Pick<TransformerHparams, 'nEmbd' | 'nHeads' | 'nKvHeads' | 'headDim'>;

/** Q, K/V and fused [Q | K | V] widths. */
export function qkvDims(h: Shape): { qDim: number; kvDim: number; total: number } {
  const qDim = h.nHeads * h.headDim;
  const kvDim = h.nKvHeads * h.headDim;
  return { qDim, kvDim, total: qDim + 2 * kvDim };
}

/** How one block's attention projection is stored. */
export type QkvLayout = 'fused' | 'separate';

/** Fused `blk.N.attn_qkv.weight` when the file has it (llama.cpp prefers it), else separate Q/K/V. */
export function qkvLayout(model: Pick<ModelDescription, 'tensors'>, il: number): QkvLayout {
  return model.tensors.has(blk(il, 'attn_qkv.weight')) ? 'fused' : 'separate';
}

/**
 * The attention input projection's specs of block `il` (llama.cpp create_tensor_qkv): fused
 * `attn_qkv` (+ optional fused bias) or separate `attn_q/k/v`, and the optional separate biases.
 * `biases: 'required'` makes the biases part of the architecture (qwen2, phi2).
 */
export function qkvTensorSpecs(
  h: Shape,
  il: number,
  layout: QkvLayout,
  biases: 'optional' | 'required' = 'optional',
): TensorSpec[] {
  const { qDim, kvDim, total } = qkvDims(h);
  const optional = biases === 'optional';
  if (layout === 'fused')
    return [
      { name: blk(il, 'attn_qkv.weight'), shape: [h.nEmbd, total], role: 'matrix' },
      { name: blk(il, 'attn_qkv.bias'), shape: [total], role: 'vector', optional: true },
      // separate biases beside a fused weight (all three, when there is no fused bias)
      { name: blk(il, 'attn_q.bias'), shape: [qDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_k.bias'), shape: [kvDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_v.bias'), shape: [kvDim], role: 'vector', optional: true },
    ];
  return [
    { name: blk(il, 'attn_q.weight'), shape: [h.nEmbd, qDim], role: 'matrix' },
    { name: blk(il, 'attn_k.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
    { name: blk(il, 'attn_v.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
    { name: blk(il, 'attn_q.bias'), shape: [qDim], role: 'vector', optional },
    { name: blk(il, 'attn_k.bias'), shape: [kvDim], role: 'vector', optional },
    { name: blk(il, 'attn_v.bias'), shape: [kvDim], role: 'vector', optional },
  ];
}

/** `x[r, :] += bias` for every row of the batch when the file has the `vector` tensor `name`. */
export function addOptionalBias(
  ctx: ForwardContext<BaseHyperparameters, unknown>,
  x: F32Buffer,
  name: string,
  cols: number,
): void {
  const b = ctx.weights.optVector(name);
  if (b) ctx.kernels.addBias(x, b, ctx.nTokens, cols);
}

/**
 * Q, K and V of the batch (llama.cpp build_qkv): one matmul over a fused `[Q | K | V]` weight split
 * with strided copies, or three matmuls; biases added as llama.cpp adds them. Scratch names `q`,
 * `k`, `v` (and `qkv`).
 */
export function projectQkv(
  ctx: ForwardContext<Shape & BaseHyperparameters, unknown>,
  il: number,
  cur: F32Buffer,
  layout: QkvLayout,
): { q: F32Buffer; k: F32Buffer; v: F32Buffer } {
  const { kernels: kr, weights: w, hparams: h, nTokens: n } = ctx;
  const { qDim, kvDim, total } = qkvDims(h);
  const q = ctx.scratch('q', n * qDim);
  const k = ctx.scratch('k', n * kvDim);
  const v = ctx.scratch('v', n * kvDim);
  const qb = blk(il, 'attn_q.bias');
  const kb = blk(il, 'attn_k.bias');
  const vb = blk(il, 'attn_v.bias');
  if (layout === 'fused') {
    const qkv = ctx.scratch('qkv', n * total);
    kr.matmul(qkv, w.matrix(blk(il, 'attn_qkv.weight')), cur, n);
    addOptionalBias(ctx, qkv, blk(il, 'attn_qkv.bias'), total);
    kr.copyRows(q, 0, qDim, qkv, 0, total, n, qDim);
    kr.copyRows(k, 0, kvDim, qkv, qDim, total, n, kvDim);
    kr.copyRows(v, 0, kvDim, qkv, qDim + kvDim, total, n, kvDim);
    if (!w.has(blk(il, 'attn_qkv.bias')) && w.has(qb) && w.has(kb) && w.has(vb)) {
      addOptionalBias(ctx, q, qb, qDim);
      addOptionalBias(ctx, k, kb, kvDim);
      addOptionalBias(ctx, v, vb, kvDim);
    }
  } else {
    kr.matmul(q, w.matrix(blk(il, 'attn_q.weight')), cur, n);
    kr.matmul(k, w.matrix(blk(il, 'attn_k.weight')), cur, n);
    kr.matmul(v, w.matrix(blk(il, 'attn_v.weight')), cur, n);
    addOptionalBias(ctx, q, qb, qDim);
    addOptionalBias(ctx, k, kb, kvDim);
    addOptionalBias(ctx, v, vb, kvDim);
  }
  return { q, k, v };
}

/** The batch's RoPE parameters (without `nHeads`) from the shared hyperparameters. */
export function ropeParams(
  ctx: ForwardContext<
    Pick<TransformerHparams, 'headDim' | 'nRot' | 'ropeFreqBase' | 'ropeFreqScale' | 'ropeAttnFactor'> &
      BaseHyperparameters,
    unknown
  >,
  mode: RopeParams['mode'],
  freqFactors?: Float32Array,
): Omit<RopeParams, 'nHeads'> {
  const h = ctx.hparams;
  const p: Omit<RopeParams, 'nHeads'> = {
    nTokens: ctx.nTokens,
    pos: ctx.positions,
    headDim: h.headDim,
    nRot: h.nRot,
    mode,
    freqBase: h.ropeFreqBase,
    freqScale: h.ropeFreqScale,
    attnFactor: h.ropeAttnFactor,
  };
  if (freqFactors) p.freqFactors = freqFactors;
  return p;
}

/**
 * The plugin hook `keyRope` for a model whose every layer ropes its keys with `ropeParams(ctx, mode,
 * freqFactors)`: the same description for each layer (rotary dims, base, scale, the session's factor
 * table), so that a context shift rotates the cached keys instead of re-evaluating them.
 */
export function keyRopeLayers(
  h: Pick<TransformerHparams, 'nLayers' | 'nRot' | 'ropeFreqBase' | 'ropeFreqScale'>,
  mode: RopeParams['mode'],
  freqFactors?: Float32Array,
): KeyRope[] {
  const r: KeyRope = { mode, nRot: h.nRot, freqBase: h.ropeFreqBase, freqScale: h.ropeFreqScale };
  if (freqFactors) r.freqFactors = freqFactors;
  return Array.from({ length: h.nLayers }, () => r);
}

/** llama.cpp pads every context size up to a multiple of 256 (GGML_PAD(n_ctx, 256)) before using it. */
export function paddedContextSize(contextSize: number): number {
  return Math.ceil(contextSize / 256) * 256;
}

/** Which LongRoPE factor table a session uses. */
export type RopeTable = 'long' | 'short' | 'none';

/**
 * llama.cpp's rule (llama_model::get_rope_factors): the long table when the session's padded
 * context exceeds `original_context_length`, else the short one, fixed for the whole session. A
 * table the file lacks means no factors.
 */
export function chooseRopeFactors(
  h: Pick<TransformerHparams, 'originalContextLength'>,
  weights: Pick<ModelWeights, 'optHost'>,
  contextSize: number,
): { table: RopeTable; factors: Float32Array | undefined } {
  const long = paddedContextSize(contextSize) > h.originalContextLength;
  const factors = weights.optHost(long ? 'rope_factors_long.weight' : 'rope_factors_short.weight');
  return { table: factors ? (long ? 'long' : 'short') : 'none', factors };
}

/** The specs of the LongRoPE factor tables (optional, shared by every layer). */
export function longRopeTensorSpecs(h: Pick<TransformerHparams, 'nRot'>): TensorSpec[] {
  return [
    { name: 'rope_factors_long.weight', shape: [h.nRot / 2], role: 'host', optional: true },
    { name: 'rope_factors_short.weight', shape: [h.nRot / 2], role: 'host', optional: true },
  ];
}

/** The SwiGLU FFN's specs: separate `ffn_gate`/`ffn_up` (+ optional biases) or a fused `[gate | up]` `ffn_up`. */
export function swigluTensorSpecs(
  h: Pick<TransformerHparams, 'nEmbd' | 'nFF'>,
  il: number,
  layout: 'fused' | 'separate',
): TensorSpec[] {
  if (layout === 'fused')
    return [
      { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, 2 * h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
    ];
  return [
    { name: blk(il, 'ffn_gate.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
    { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
    { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
    { name: blk(il, 'ffn_gate.bias'), shape: [h.nFF], role: 'vector', optional: true },
    { name: blk(il, 'ffn_up.bias'), shape: [h.nFF], role: 'vector', optional: true },
    { name: blk(il, 'ffn_down.bias'), shape: [h.nEmbd], role: 'vector', optional: true },
  ];
}

/**
 * The SwiGLU FFN of block `il` on `cur` (llama.cpp build_ffn with LLM_FFN_SILU, LLM_FFN_PAR), into
 * `out` (nTokens × nEmbd): down(silu(gate·x) ⊙ up·x) with a fused `[gate | up]` or separate
 * weights and their optional biases. Scratch names `gate`, `up` (or `gate_up`, `ffn_act`).
 */
export function swigluFfn(
  ctx: ForwardContext<Pick<TransformerHparams, 'nEmbd' | 'nFF'> & BaseHyperparameters, unknown>,
  il: number,
  cur: F32Buffer,
  out: F32Buffer,
  layout: 'fused' | 'separate',
): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n } = ctx;
  if (layout === 'fused') {
    const gu = ctx.scratch('gate_up', n * 2 * h.nFF);
    k.matmul(gu, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
    const act = ctx.scratch('ffn_act', n * h.nFF);
    k.swigluFused(act, gu, n, h.nFF);
    k.matmul(out, w.matrix(blk(il, 'ffn_down.weight')), act, n);
    return;
  }
  const gate = ctx.scratch('gate', n * h.nFF);
  const up = ctx.scratch('up', n * h.nFF);
  k.matmul(gate, w.matrix(blk(il, 'ffn_gate.weight')), cur, n);
  k.matmul(up, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
  addOptionalBias(ctx, gate, blk(il, 'ffn_gate.bias'), h.nFF);
  addOptionalBias(ctx, up, blk(il, 'ffn_up.bias'), h.nFF);
  k.swiglu(gate, gate, up, n * h.nFF);
  k.matmul(out, w.matrix(blk(il, 'ffn_down.weight')), gate, n);
  addOptionalBias(ctx, out, blk(il, 'ffn_down.bias'), h.nEmbd);
}
