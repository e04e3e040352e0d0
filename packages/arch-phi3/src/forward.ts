import type { F32Buffer, ForwardContext, RopeParams } from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';
import type { Phi3SessionState } from './session.js';
import { blk, qkvRows } from './tensors.js';

export type Phi3Context = ForwardContext<Phi3Hyperparameters, Phi3SessionState>;

function addBias(ctx: Phi3Context, x: F32Buffer, name: string, cols: number): void {
  const b = ctx.weights.optVector(name);
  if (b) ctx.kernels.addBias(x, b, ctx.nTokens, cols);
}

/**
 * Q, K and V of the batch (llama.cpp build_qkv): one matmul over the fused `[Q | K | V]` weight
 * split with strided copies, or three matmuls; biases as llama.cpp adds them.
 */
function projectQkv(
  ctx: Phi3Context,
  il: number,
  cur: F32Buffer,
): { q: F32Buffer; k: F32Buffer; v: F32Buffer } {
  const { kernels: kr, weights: w, hparams: h, nTokens: n } = ctx;
  const { qDim, kvDim, total } = qkvRows(h);
  const q = ctx.scratch('q', n * qDim);
  const k = ctx.scratch('k', n * kvDim);
  const v = ctx.scratch('v', n * kvDim);
  const qb = blk(il, 'attn_q.bias');
  const kb = blk(il, 'attn_k.bias');
  const vb = blk(il, 'attn_v.bias');
  if (h.qkvLayout[il] === 'fused') {
    const qkv = ctx.scratch('qkv', n * total);
    kr.matmul(qkv, w.matrix(blk(il, 'attn_qkv.weight')), cur, n);
    addBias(ctx, qkv, blk(il, 'attn_qkv.bias'), total);
    kr.copyRows(q, 0, qDim, qkv, 0, total, n, qDim);
    kr.copyRows(k, 0, kvDim, qkv, qDim, total, n, kvDim);
    kr.copyRows(v, 0, kvDim, qkv, qDim + kvDim, total, n, kvDim);
    // Separate biases beside a fused weight count only when there is no fused bias and all three exist.
    if (!w.has(blk(il, 'attn_qkv.bias')) && w.has(qb) && w.has(kb) && w.has(vb)) {
      addBias(ctx, q, qb, qDim);
      addBias(ctx, k, kb, kvDim);
      addBias(ctx, v, vb, kvDim);
    }
  } else {
    kr.matmul(q, w.matrix(blk(il, 'attn_q.weight')), cur, n);
    kr.matmul(k, w.matrix(blk(il, 'attn_k.weight')), cur, n);
    kr.matmul(v, w.matrix(blk(il, 'attn_v.weight')), cur, n);
    addBias(ctx, q, qb, qDim);
    addBias(ctx, k, kb, kvDim);
    addBias(ctx, v, vb, kvDim);
  }
  return { q, k, v };
}

/** The rotation of this session (NeoX pairs on `nRot` dims, LongRoPE factors, attention factor). */
function ropeParams(ctx: Phi3Context): Omit<RopeParams, 'nHeads'> {
  const h = ctx.hparams;
  const p: Omit<RopeParams, 'nHeads'> = {
    nTokens: ctx.nTokens,
    pos: ctx.positions,
    headDim: h.headDim,
    nRot: h.nRot,
    mode: 'neox',
    freqBase: h.ropeFreqBase,
    freqScale: h.ropeFreqScale,
    attnFactor: h.ropeAttnFactor,
  };
  if (ctx.state.ropeFactors) p.freqFactors = ctx.state.ropeFactors;
  return p;
}

/**
 * One Phi-3 block (llama.cpp src/models/phi3.cpp): RMS norm → fused QKV → NeoX RoPE (LongRoPE
 * factors and attention factor on Q and K) → KV cache → causal attention (sliding window unless
 * disabled) → output projection → residual; RMS norm → fused [gate | up] → SwiGLU → down → residual.
 */
export function phi3Layer(ctx: Phi3Context, il: number): void {
  const { kernels: kr, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const { qDim } = qkvRows(h);

  const cur = ctx.scratch('norm', n * h.nEmbd);
  kr.rmsNorm(cur, x, w.vector(blk(il, 'attn_norm.weight')), n, h.nEmbd, h.rmsEps);
  const { q, k, v } = projectQkv(ctx, il, cur);

  const rope = ropeParams(ctx);
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

  kr.rmsNorm(cur, x, w.vector(blk(il, 'ffn_norm.weight')), n, h.nEmbd, h.rmsEps);
  const gu = ctx.scratch('gate_up', n * 2 * h.nFF);
  kr.matmul(gu, w.matrix(blk(il, 'ffn_up.weight')), cur, n);
  const act = ctx.scratch('ffn_act', n * h.nFF);
  kr.swigluFused(act, gu, n, h.nFF);
  kr.matmul(o, w.matrix(blk(il, 'ffn_down.weight')), act, n);
  kr.add(x, x, o, n * h.nEmbd);
}
