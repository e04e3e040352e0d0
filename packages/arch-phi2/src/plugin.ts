import {
  type ArchitecturePlugin,
  addOptionalBias,
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
  ropeParams,
  type TensorSpec,
  type TransformerHparams,
} from '@quant/plugin-api';

/** Phi-2 hyperparameters: the shared transformer keys (LayerNorm epsilon) and each block's Q/K/V layout. */
export interface Phi2Hyperparameters extends TransformerHparams {
  qkvLayout: readonly QkvLayout[];
}

export type Phi2Context = ForwardContext<Phi2Hyperparameters, undefined>;

/** Reads `phi2.*` as llama.cpp does: `attention.layer_norm_epsilon`, partial rotary (`rope.dimension_count`). */
export function readPhi2Hyperparameters(model: ModelDescription): Phi2Hyperparameters {
  const h = readTransformerHparams(model, {
    plugin: 'phi2',
    norm: 'layer',
    minTensorsPerBlock: 8,
    qDimIsEmbedding: true,
  });
  return { ...h, qkvLayout: Array.from({ length: h.nLayers }, (_, il) => qkvLayout(model, il)) };
}

/** llama.cpp's phi2 tensors: LayerNorms with biases, Q/K/V (fused or separate) with biases, biased projections and head. */
export function phi2Tensors(h: Phi2Hyperparameters): TensorSpec[] {
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
    { name: 'output_norm.bias', shape: [h.nEmbd], role: 'vector' },
    { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output.bias', shape: [h.nVocab], role: 'vector' },
  ];
  for (let il = 0; il < h.nLayers; il++) {
    const fused = h.qkvLayout[il] === 'fused';
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'attn_norm.bias'), shape: [h.nEmbd], role: 'vector' },
      // a fused weight has a fused bias (llama.cpp's phi2 loader); separate weights have their own
      ...qkvTensorSpecs(h, il, h.qkvLayout[il] ?? 'separate', 'required').map((s) =>
        fused && s.name.endsWith('attn_qkv.bias') ? { ...s, optional: false } : s,
      ),
      { name: blk(il, 'attn_output.weight'), shape: [h.nEmbd, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'attn_output.bias'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_up.bias'), shape: [h.nFF], role: 'vector' },
      { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'ffn_down.bias'), shape: [h.nEmbd], role: 'vector' },
    );
  }
  return specs;
}

/**
 * One Phi-2 block (llama.cpp src/models/phi2.cpp): one LayerNorm (with bias) feeds attention and
 * the FFN in parallel. Attention: Q/K/V + biases → NeoX RoPE on the first `rope.dimension_count`
 * dims → Q scaled by 1/√head_dim → KV cache → attention (scale 1) → output projection + bias. FFN:
 * up + bias → GELU (tanh, as ggml) → down + bias. x += attention + FFN.
 */
export function phi2Layer(ctx: Phi2Context, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.layerNorm(
    cur,
    x,
    w.vector(blk(il, 'attn_norm.weight')),
    w.vector(blk(il, 'attn_norm.bias')),
    n,
    h.nEmbd,
    h.normEps,
  );
  const { q, k: kk, v } = projectQkv(ctx, il, cur, h.qkvLayout[il] ?? 'separate');
  const rope = ropeParams(ctx, 'neox');
  k.rope(q, { ...rope, nHeads: h.nHeads });
  k.rope(kk, { ...rope, nHeads: h.nKvHeads });
  // As llama.cpp's phi2 graph: Q scaled before attention (precision), attention scale 1.
  k.scale(q, 1 / Math.sqrt(h.headDim), n * h.nHeads * h.headDim);
  ctx.kv.store(il, kk, v);
  const attn = ctx.scratch('attn', n * h.nHeads * h.headDim);
  k.attention(attn, q, ctx.kv, il, {
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    scale: 1,
    flash: ctx.flashAttention,
  });
  const o = ctx.scratch('proj', n * h.nEmbd);
  k.matmul(o, w.matrix(blk(il, 'attn_output.weight')), attn, n);
  addOptionalBias(ctx, o, blk(il, 'attn_output.bias'), h.nEmbd);
  const up = ctx.scratch('up', n * h.nFF);
  k.matmul(up, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
  addOptionalBias(ctx, up, blk(il, 'ffn_up.bias'), h.nFF);
  k.gelu(up, up, n * h.nFF);
  const ffn = ctx.scratch('ffn_out', n * h.nEmbd);
  k.matmul(ffn, w.matrix(blk(il, 'ffn_down.weight')), up, n);
  addOptionalBias(ctx, ffn, blk(il, 'ffn_down.bias'), h.nEmbd);
  k.add(o, o, ffn, n * h.nEmbd);
  k.add(x, x, o, n * h.nEmbd);
}

/** The Phi-2 plugin (`general.architecture = "phi2"`). */
export const phi2Plugin: ArchitecturePlugin<Phi2Hyperparameters, undefined> = defineArchitecture({
  apiVersion: 2,
  name: 'phi2',
  description: 'Phi-2: LayerNorm, parallel attention and GELU FFN, partial NeoX RoPE, biases everywhere',
  readHyperparameters: readPhi2Hyperparameters,
  tensors: (h) => phi2Tensors(h),
  // A context shift rotates the cached keys by the position delta (NeoX pairs).
  keyRope: (h) => keyRopeLayers(h, 'neox'),
  embed: (ctx) => embedTokens(ctx),
  layer: phi2Layer,
  output(ctx, x, rows, logits) {
    const { kernels: k, weights: w, hparams: h } = ctx;
    k.layerNorm(x, x, w.vector('output_norm.weight'), w.vector('output_norm.bias'), rows, h.nEmbd, h.normEps);
    k.matmul(logits, w.matrix('output.weight'), x, rows);
    k.addBias(logits, w.vector('output.bias'), rows, h.nVocab);
  },
});
