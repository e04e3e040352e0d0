import {
  type ArchitecturePlugin,
  blk,
  defineArchitecture,
  embedTokens,
  type ForwardContext,
  keyRopeLayers,
  MetadataError,
  type ModelDescription,
  type ModelMemory,
  PluginError,
  projectQkv,
  type QkvLayout,
  qkvDims,
  qkvLayout,
  qkvTensorSpecs,
  readTransformerHparams,
  rmsNormHead,
  ropeParams,
  type TensorSpec,
  type TransformerHparams,
} from '@quant/plugin-api';

/** Gemma 2 hyperparameters: the shared transformer keys plus its window, soft-caps and scales. */
export interface Gemma2Hyperparameters extends TransformerHparams {
  qkvLayout: readonly QkvLayout[];
  /** `attention.sliding_window` (llama.cpp's default 4096 when absent): the window of the SWA layers. */
  slidingWindow: number;
  /** Per layer: true = sliding-window attention, false = full causal attention. */
  swaLayers: readonly boolean[];
  /** `rope.freq_base_swa` (default `rope.freq_base`): the RoPE base of the sliding-window layers. */
  ropeFreqBaseSwa: number;
  /** `attn_logit_softcapping` (default 50): attention scores become cap·tanh(score/cap). */
  attnSoftcap: number;
  /** `final_logit_softcapping` (default 30): logits become cap·tanh(logit/cap). */
  finalSoftcap: number;
  /** The query's scale before attention (llama.cpp's f_attention_scale; attention then uses scale 1). */
  queryScale: number;
  /** The embeddings' scale, √embedding_length as an f32. */
  embedScale: number;
}

export type Gemma2Context = ForwardContext<Gemma2Hyperparameters, undefined>;

/** llama.cpp's default window of gemma2 files without `attention.sliding_window`. */
const DEFAULT_WINDOW = 4096;

/** Layers of one `sliding_window_pattern` period (llama.cpp's gemma2 default: every other layer). */
const DEFAULT_PATTERN = 2;

/**
 * Which layers use the sliding window, as llama.cpp's load_swa_pattern: a per-layer array of
 * `attention.sliding_window_pattern` (bool or integer, non-zero = sliding), else a period n (default
 * 2) where layer il slides when il % n < n − 1 (n = 0: every layer). With the default, layers 0, 2,
 * 4, … slide and 1, 3, 5, … attend to the whole context.
 */
function readSwaLayers(model: ModelDescription, nLayers: number): boolean[] {
  const m = model.meta;
  const key = m.archKey('attention.sliding_window_pattern');
  const raw = m.raw(key);
  if (raw !== undefined && (Array.isArray(raw) || ArrayBuffer.isView(raw))) {
    const arr = m.array(key) ?? [];
    if (arr.length !== nLayers)
      throw new MetadataError(
        'INVALID_METADATA',
        key,
        `${key} in ${m.source} has ${arr.length} entries but the model has ${nLayers} layers (block_count); the file is damaged or was written by a broken converter.`,
      );
    return arr.map((v, il) => {
      const n = typeof v === 'boolean' ? Number(v) : typeof v === 'bigint' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n))
        throw new MetadataError(
          'INVALID_METADATA',
          key,
          `${key}[${il}] in ${m.source} should be a boolean or an integer, found ${String(v)}.`,
        );
      return n !== 0;
    });
  }
  const n = m.u32(key, DEFAULT_PATTERN);
  return Array.from({ length: nLayers }, (_, il) => n === 0 || il % n < n - 1);
}

/**
 * Reads `gemma2.*` as llama.cpp's llama_model_gemma2::load_arch_hparams does: RMS epsilon, the
 * sliding window and its layer pattern, the two soft-caps, the SWA RoPE base; the query scale is
 * llama.cpp's rule (1/√head_dim, or 1/√(embedding_length/head_count) for the 46-layer 27B, which is
 * what the checkpoints' `query_pre_attn_scalar` is; llama.cpp does not read that key).
 */
export function readGemma2Hyperparameters(model: ModelDescription): Gemma2Hyperparameters {
  const h = readTransformerHparams(model, { plugin: 'gemma2', minTensorsPerBlock: 11 });
  const m = model.meta;
  const positive = (suffix: string, fallback: number, what: string): number => {
    const v = m.archF32(suffix, fallback);
    if (!(v > 0) || !Number.isFinite(v)) {
      const key = m.archKey(suffix);
      throw new MetadataError(
        'INVALID_METADATA',
        key,
        `${key} = ${v} in ${m.source} must be positive (${what}); the file is damaged or was written by a broken converter.`,
      );
    }
    return v;
  };
  // llama.cpp has per-layer-type head size and rotary keys for SWA layers; gemma2 files use one shape.
  for (const [swaKey, value] of [
    ['attention.key_length_swa', h.headDim],
    ['attention.value_length_swa', h.headDim],
    ['rope.dimension_count_swa', h.nRot],
  ] as const) {
    if (m.has(m.archKey(swaKey)) && m.archU32(swaKey) !== value)
      throw new PluginError(
        'UNSUPPORTED_MODEL',
        `${m.archKey(swaKey)} = ${m.archU32(swaKey)} in ${m.source} differs from the full-attention layers' ${value}; the gemma2 plugin supports one head shape for all layers.`,
      );
  }
  const swaLayers = readSwaLayers(model, h.nLayers);
  const slidingWindow = m.archU32('attention.sliding_window', DEFAULT_WINDOW);
  if (slidingWindow === 0 && swaLayers.some(Boolean))
    throw new MetadataError(
      'INVALID_METADATA',
      m.archKey('attention.sliding_window'),
      `${m.archKey('attention.sliding_window')} = 0 in ${m.source}: the sliding-window layers would attend to nothing; the file is damaged or was written by a broken converter.`,
    );
  const headForScale = h.nLayers === 46 ? Math.floor(h.nEmbd / h.nHeads) : h.headDim;
  return {
    ...h,
    qkvLayout: Array.from({ length: h.nLayers }, (_, il) => qkvLayout(model, il)),
    slidingWindow,
    swaLayers,
    ropeFreqBaseSwa: positive('rope.freq_base_swa', h.ropeFreqBase, 'RoPE angles are pos · base^(-2i/d)'),
    attnSoftcap: positive('attn_logit_softcapping', 50, 'scores are capped to ±cap by cap·tanh(score/cap)'),
    finalSoftcap: positive('final_logit_softcapping', 30, 'logits are capped to ±cap by cap·tanh(logit/cap)'),
    // as C computes 1.0f / sqrtf(x) and sqrtf(n_embd): f32 results (sqrt and one division in
    // double, then rounded, are exact roundings of the f32 operations)
    queryScale: Math.fround(1 / Math.fround(Math.sqrt(headForScale))),
    embedScale: Math.fround(Math.sqrt(h.nEmbd)),
  };
}

/**
 * llama.cpp's gemma2 tensors: no separate LM head (the output reuses token_embd, always), Q/K/V
 * (fused or separate, optional biases), the output projection from nHeads·headDim back to
 * embedding_length, and four RMS norms per block (pre/post attention, pre/post FFN).
 */
export function gemma2Tensors(h: Gemma2Hyperparameters): TensorSpec[] {
  const { qDim } = qkvDims(h);
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
  ];
  for (let il = 0; il < h.nLayers; il++) {
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      ...qkvTensorSpecs(h, il, h.qkvLayout[il] ?? 'separate'),
      { name: blk(il, 'attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'post_attention_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'ffn_gate.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'post_ffw_norm.weight'), shape: [h.nEmbd], role: 'vector' },
    );
  }
  return specs;
}

/** Every layer keeps K/V; the sliding ones only ever read their last `slidingWindow` positions. */
export function gemma2Memory(h: Gemma2Hyperparameters): ModelMemory {
  return {
    layers: h.swaLayers.map((swa) =>
      swa
        ? { kvHeads: h.nKvHeads, headDim: h.headDim, window: h.slidingWindow }
        : { kvHeads: h.nKvHeads, headDim: h.headDim },
    ),
  };
}

/** The embeddings of the batch's tokens, scaled by √embedding_length (llama.cpp: ggml_scale of inp_embd). */
export function gemma2Embed(ctx: Gemma2Context): void {
  embedTokens(ctx);
  ctx.kernels.scale(ctx.hidden, ctx.hparams.embedScale, ctx.nTokens * ctx.hparams.nEmbd);
}

/**
 * One Gemma 2 block (llama.cpp src/models/gemma2.cpp): RMS norm → Q/K/V → NeoX RoPE (the SWA base on
 * sliding layers) → Q scaled by queryScale → KV cache → causal GQA attention with scale 1, logit
 * soft-capping and, on sliding layers, the window → output projection → RMS norm → residual; RMS
 * norm → GELU(tanh)-gated FFN (gelu(gate·x) ⊙ up·x) → down → RMS norm → residual.
 */
export function gemma2Layer(ctx: Gemma2Context, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const swa = h.swaLayers[il] === true;
  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.normEps);
  const { q, k: kk, v } = projectQkv(ctx, il, cur, h.qkvLayout[il] ?? 'separate');
  const rope = { ...ropeParams(ctx, 'neox'), ...(swa ? { freqBase: h.ropeFreqBaseSwa } : {}) };
  k.rope(q, { ...rope, nHeads: h.nHeads });
  k.rope(kk, { ...rope, nHeads: h.nKvHeads });
  const { qDim } = qkvDims(h);
  k.scale(q, h.queryScale, n * qDim);
  ctx.kv.store(il, kk, v);
  const attn = ctx.scratch('attn', n * qDim);
  k.attention(attn, q, ctx.kv, il, {
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    scale: 1,
    softcap: h.attnSoftcap,
    ...(swa ? { window: h.slidingWindow } : {}),
    flash: ctx.flashAttention,
  });
  const o = ctx.scratch('proj', n * h.nEmbd);
  k.matmul(o, w.matrix(blk(il, 'attn_output.weight')), attn, n);
  k.rmsNorm(o, o, w.vector(blk(il, 'post_attention_norm.weight')), n, h.nEmbd, h.normEps);
  k.add(x, x, o, n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.normEps);
  const gate = ctx.scratch('gate', n * h.nFF);
  const up = ctx.scratch('up', n * h.nFF);
  k.matmul(gate, w.matrix(blk(il, 'ffn_gate.weight')), cur, n);
  k.matmul(up, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
  // ggml_geglu_split: gelu (ggml's f16-table tanh GELU, the kernels' gelu) of the gate, times up
  k.gelu(gate, gate, n * h.nFF);
  k.mul(gate, gate, up, n * h.nFF);
  k.matmul(o, w.matrix(blk(il, 'ffn_down.weight')), gate, n);
  k.rmsNorm(o, o, w.vector(blk(il, 'post_ffw_norm.weight')), n, h.nEmbd, h.normEps);
  k.add(x, x, o, n * h.nEmbd);
}

/** The Gemma 2 plugin (`general.architecture = "gemma2"`). */
export const gemma2Plugin: ArchitecturePlugin<Gemma2Hyperparameters, undefined> = defineArchitecture({
  apiVersion: 2,
  name: 'gemma2',
  description:
    'Gemma 2: interleaved sliding-window / full attention, attention and final logit soft-capping, GELU-gated FFN, pre and post norms',
  readHyperparameters: readGemma2Hyperparameters,
  tensors: (h) => gemma2Tensors(h),
  memory: gemma2Memory,
  // A context shift rotates the cached keys by the position delta (NeoX pairs; the sliding layers' base).
  keyRope: (h) =>
    keyRopeLayers(h, 'neox').map((r, il) => (h.swaLayers[il] ? { ...r, freqBase: h.ropeFreqBaseSwa } : r)),
  embed: gemma2Embed,
  layer: gemma2Layer,
  output(ctx, x, rows, logits) {
    // the LM head is always the token embedding (llama.cpp's gemma2 loader never reads output.weight)
    rmsNormHead(ctx, x, rows, logits, { eps: ctx.hparams.normEps, head: 'token_embd.weight' });
    ctx.kernels.softcap(logits, logits, ctx.hparams.finalSoftcap, rows * ctx.hparams.nVocab);
  },
});
