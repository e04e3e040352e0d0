import {
  addOptionalBias,
  blk,
  type ForwardContext,
  projectQkv,
  qkvDims,
  ropeParams,
  swigluFfn,
} from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';
import type { LlamaSessionState } from './session.js';

export type LlamaContext = ForwardContext<LlamaHyperparameters, LlamaSessionState>;

/**
 * One Llama block (llama.cpp src/models/llama.cpp): RMS norm → Q/K/V projections (+ optional
 * biases) → RoPE (interleaved pairs, on the pre-permuted GGUF weights) → KV cache → causal
 * grouped-query attention → output projection → residual; RMS norm → SwiGLU FFN → residual.
 */
export function llamaLayer(ctx: LlamaContext, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const { qDim } = qkvDims(h);

  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.normEps);
  const { q, k: kk, v } = projectQkv(ctx, il, cur, 'separate');

  const rope = ropeParams(ctx, 'normal', ctx.state.ropeFactors);
  k.rope(q, { ...rope, nHeads: h.nHeads });
  k.rope(kk, { ...rope, nHeads: h.nKvHeads });

  ctx.kv.store(il, kk, v);
  const attn = ctx.scratch('attn', n * qDim);
  k.attention(attn, q, ctx.kv, il, {
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    scale: h.attentionScale,
    flash: ctx.flashAttention,
  });

  const o = ctx.scratch('proj', n * h.nEmbd);
  k.matmul(o, w.matrix(blk(il, 'attn_output.weight')), attn, n);
  addOptionalBias(ctx, o, blk(il, 'attn_output.bias'), h.nEmbd);
  k.add(x, x, o, n * h.nEmbd);

  k.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.normEps);
  swigluFfn(ctx, il, cur, o, 'separate');
  k.add(x, x, o, n * h.nEmbd);
}
