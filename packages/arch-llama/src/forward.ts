import type { ForwardContext, RopeParams } from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';
import type { LlamaSessionState } from './session.js';
import { blk } from './tensors.js';

export type LlamaContext = ForwardContext<LlamaHyperparameters, LlamaSessionState>;

function addOptionalBias(
  ctx: LlamaContext,
  x: Parameters<LlamaContext['kernels']['addBias']>[0],
  name: string,
  cols: number,
): void {
  const b = ctx.weights.optVector(name);
  if (b) ctx.kernels.addBias(x, b, ctx.nTokens, cols);
}

/**
 * One Llama block (llama.cpp src/models/llama.cpp): RMS norm → Q/K/V projections (+ optional
 * biases) → RoPE (interleaved pairs, on the pre-permuted GGUF weights) → KV cache → causal
 * grouped-query attention → output projection → residual; RMS norm → SwiGLU FFN → residual.
 */
export function llamaLayer(ctx: LlamaContext, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const qDim = h.nHeads * h.headDim;
  const kvDim = h.nKvHeads * h.headDim;

  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.rmsEps);

  const q = ctx.scratch('q', n * qDim);
  const kk = ctx.scratch('k', n * kvDim);
  const v = ctx.scratch('v', n * kvDim);
  k.matmul(q, w.matrix(blk(il, 'attn_q.weight')), cur, n);
  k.matmul(kk, w.matrix(blk(il, 'attn_k.weight')), cur, n);
  k.matmul(v, w.matrix(blk(il, 'attn_v.weight')), cur, n);
  addOptionalBias(ctx, q, blk(il, 'attn_q.bias'), qDim);
  addOptionalBias(ctx, kk, blk(il, 'attn_k.bias'), kvDim);
  addOptionalBias(ctx, v, blk(il, 'attn_v.bias'), kvDim);

  const rope: Omit<RopeParams, 'nHeads'> = {
    nTokens: n,
    pos: ctx.positions,
    headDim: h.headDim,
    nRot: h.nRot,
    mode: 'normal',
    freqBase: h.ropeFreqBase,
    freqScale: h.ropeFreqScale,
    attnFactor: h.ropeAttnFactor,
  };
  if (ctx.state.ropeFactors) rope.freqFactors = ctx.state.ropeFactors;
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

  k.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.rmsEps);
  const gate = ctx.scratch('gate', n * h.nFF);
  const up = ctx.scratch('up', n * h.nFF);
  k.matmul(gate, w.matrix(blk(il, 'ffn_gate.weight')), cur, n);
  k.matmul(up, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
  addOptionalBias(ctx, gate, blk(il, 'ffn_gate.bias'), h.nFF);
  addOptionalBias(ctx, up, blk(il, 'ffn_up.bias'), h.nFF);
  k.swiglu(gate, gate, up, n * h.nFF);
  k.matmul(o, w.matrix(blk(il, 'ffn_down.weight')), gate, n);
  addOptionalBias(ctx, o, blk(il, 'ffn_down.bias'), h.nEmbd);
  k.add(x, x, o, n * h.nEmbd);
}
