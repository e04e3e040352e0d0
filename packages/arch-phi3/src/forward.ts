import { blk, type ForwardContext, projectQkv, qkvDims, ropeParams, swigluFfn } from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';
import type { Phi3SessionState } from './session.js';

export type Phi3Context = ForwardContext<Phi3Hyperparameters, Phi3SessionState>;

/**
 * One Phi-3 block (llama.cpp src/models/phi3.cpp): RMS norm → fused QKV → NeoX RoPE (LongRoPE
 * factors and attention factor on Q and K) → KV cache → causal attention (sliding window unless
 * disabled) → output projection → residual; RMS norm → fused [gate | up] → SwiGLU → down → residual.
 */
export function phi3Layer(ctx: Phi3Context, il: number): void {
  const { kernels: kr, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const { qDim } = qkvDims(h);

  const cur = ctx.scratch('norm', n * h.nEmbd);
  kr.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.normEps);
  const { q, k, v } = projectQkv(ctx, il, cur, h.qkvLayout[il] ?? 'separate');

  const rope = ropeParams(ctx, 'neox', ctx.state.ropeFactors);
  kr.rope(q, { ...rope, nHeads: h.nHeads });
  kr.rope(k, { ...rope, nHeads: h.nKvHeads });

  // Like llama.cpp's phi3 graph, Q is scaled by 1/√head_dim before attention (scale 1 inside), so
  // any rounding of Q inside attention (llama.cpp rounds it to f16 with an f16 cache) sees the same values.
  kr.scale(q, 1 / Math.sqrt(h.headDim), n * qDim);
  ctx.kv.store(il, k, v);
  const attn = ctx.scratch('attn', n * qDim);
  kr.attention(attn, q, ctx.kv, il, {
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    scale: 1,
    flash: ctx.flashAttention,
    ...(ctx.state.window > 0 ? { window: ctx.state.window } : {}),
  });

  const o = ctx.scratch('proj', n * h.nEmbd);
  kr.matmul(o, w.matrix(blk(il, 'attn_output.weight')), attn, n);
  kr.add(x, x, o, n * h.nEmbd);

  kr.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.normEps);
  swigluFfn(ctx, il, cur, o, 'fused');
  kr.add(x, x, o, n * h.nEmbd);
}
