import {
  type ArchitecturePlugin,
  blk,
  defineArchitecture,
  embedTokens,
  type ForwardContext,
  keyRopeLayers,
  type ModelDescription,
  projectQkv,
  type QkvLayout,
  qkvLayout,
  qkvTensorSpecs,
  readTransformerHparams,
  rmsNormHead,
  ropeParams,
  swigluFfn,
  swigluTensorSpecs,
  type TensorSpec,
  type TransformerHparams,
} from '@quant/plugin-api';

/** Qwen2 hyperparameters: the shared transformer keys and each block's Q/K/V layout. */
export interface Qwen2Hyperparameters extends TransformerHparams {
  qkvLayout: readonly QkvLayout[];
}

export type Qwen2Context = ForwardContext<Qwen2Hyperparameters, undefined>;

/** Reads `qwen2.*` as llama.cpp does (RMS epsilon, full rotary, q_dim = embedding_length). */
export function readQwen2Hyperparameters(model: ModelDescription): Qwen2Hyperparameters {
  const h = readTransformerHparams(model, {
    plugin: 'qwen2',
    minTensorsPerBlock: 9,
    fullRotary: true,
    qDimIsEmbedding: true,
  });
  return { ...h, qkvLayout: Array.from({ length: h.nLayers }, (_, il) => qkvLayout(model, il)) };
}

/** llama.cpp's qwen2 tensors: Q/K/V with their biases (fused or separate), SwiGLU FFN, optional LM head bias. */
export function qwen2Tensors(h: Qwen2Hyperparameters): TensorSpec[] {
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
    // absent → tied embeddings
    { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix', optional: true },
    { name: 'output.bias', shape: [h.nVocab], role: 'vector', optional: true },
  ];
  for (let il = 0; il < h.nLayers; il++) {
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      ...qkvTensorSpecs(h, il, h.qkvLayout[il] ?? 'separate', 'required'),
      { name: blk(il, 'attn_output.weight'), shape: [h.nEmbd, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      ...swigluTensorSpecs(h, il, 'separate').filter((s) => !s.optional),
    );
  }
  return specs;
}

/**
 * One Qwen2 block (llama.cpp src/models/qwen2.cpp): RMS norm → Q/K/V + biases → NeoX RoPE → KV
 * cache → causal GQA attention (scale 1/√head_dim) → output projection → residual; RMS norm →
 * SwiGLU FFN → residual.
 */
export function qwen2Layer(ctx: Qwen2Context, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.normEps);
  const { q, k: kk, v } = projectQkv(ctx, il, cur, h.qkvLayout[il] ?? 'separate');
  const rope = ropeParams(ctx, 'neox');
  k.rope(q, { ...rope, nHeads: h.nHeads });
  k.rope(kk, { ...rope, nHeads: h.nKvHeads });
  ctx.kv.store(il, kk, v);
  const attn = ctx.scratch('attn', n * h.nHeads * h.headDim);
  k.attention(attn, q, ctx.kv, il, {
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    scale: h.attentionScale,
    flash: ctx.flashAttention,
  });
  const o = ctx.scratch('proj', n * h.nEmbd);
  k.matmul(o, w.matrix(blk(il, 'attn_output.weight')), attn, n);
  k.add(x, x, o, n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.normEps);
  swigluFfn(ctx, il, cur, o, 'separate');
  k.add(x, x, o, n * h.nEmbd);
}

/** The Qwen2 / Qwen2.5 plugin (`general.architecture = "qwen2"`). */
export const qwen2Plugin: ArchitecturePlugin<Qwen2Hyperparameters, undefined> = defineArchitecture({
  apiVersion: 2,
  name: 'qwen2',
  description: 'Qwen2 / Qwen2.5: Q/K/V biases, GQA, NeoX RoPE, SwiGLU FFN, RMS norm',
  readHyperparameters: readQwen2Hyperparameters,
  tensors: (h) => qwen2Tensors(h),
  // A context shift rotates the cached keys by the position delta (NeoX pairs).
  keyRope: (h) => keyRopeLayers(h, 'neox'),
  embed: (ctx) => embedTokens(ctx),
  layer: qwen2Layer,
  output(ctx, x, rows, logits) {
    rmsNormHead(ctx, x, rows, logits, { eps: ctx.hparams.normEps });
    const b = ctx.weights.optVector('output.bias');
    if (b) ctx.kernels.addBias(logits, b, rows, ctx.hparams.nVocab);
  },
});
