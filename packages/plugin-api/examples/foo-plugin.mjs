// @ts-check
// A complete architecture plugin: the "foo" architecture, a Llama-style decoder (RMS norm, separate
// Q/K/V, grouped-query attention, RoPE on interleaved pairs, SwiGLU FFN). It is the README's
// example, byte for byte (a test checks it), and @quant/plugin-kit's test runs it against llama.cpp.
import { defineArchitecture, embedTokens, registerArchitecture, rmsNormHead } from '@quant/plugin-api';

/**
 * @typedef {import('@quant/plugin-api').BaseHyperparameters & {
 *   nHeads: number; nFF: number; eps: number; ropeBase: number;
 * }} FooParams
 */

export const fooPlugin = defineArchitecture({
  apiVersion: 2, // the forward context below (positions, kv); see "Plugin API versions"
  name: 'foo', // general.architecture
  description: 'Foo: a Llama-style decoder',

  // 1. Hyperparameters. `meta.arch*` reads `<general.architecture>.<suffix>`.
  /** @returns {FooParams} */
  readHyperparameters({ meta, tensors }) {
    const nEmbd = meta.archU32('embedding_length');
    const nHeads = meta.archUniformU32('attention.head_count');
    return {
      nLayers: meta.archU32('block_count'),
      nEmbd,
      contextLength: meta.archU32('context_length'),
      nVocab: tensors.shape('token_embd.weight')?.[1] ?? 0,
      nKvHeads: meta.archUniformU32('attention.head_count_kv', nHeads),
      headDim: nEmbd / nHeads,
      nHeads,
      nFF: meta.archU32('feed_forward_length'),
      eps: meta.archF32('attention.layer_norm_rms_epsilon'),
      ropeBase: meta.archF32('rope.freq_base', 10000),
    };
  },

  // 2. Every tensor, with its shape (GGUF order: ne0 first, i.e. [cols, rows]). The runtime checks
  //    them all before loading, then loads each in its role.
  tensors(h) {
    const qDim = h.nHeads * h.headDim;
    const kvDim = h.nKvHeads * h.headDim;
    /** @type {import('@quant/plugin-api').TensorSpec[]} */
    const specs = [
      { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
      { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
      // absent → the LM head is token_embd.weight (tied embeddings)
      { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix', optional: true },
    ];
    for (let il = 0; il < h.nLayers; il++) {
      const b = (/** @type {string} */ s) => `blk.${il}.${s}`;
      specs.push(
        { name: b('attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
        { name: b('attn_q.weight'), shape: [h.nEmbd, qDim], role: 'matrix' },
        { name: b('attn_k.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
        { name: b('attn_v.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
        { name: b('attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
        { name: b('ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
        { name: b('ffn_gate.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
        { name: b('ffn_up.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
        { name: b('ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
      );
    }
    return specs;
  },

  // 3. The graph, on the kernels. Written once for any batch: the rows may belong to several
  //    sequences (continuous batching), each at its own positions with its own KV cache. Ops are
  //    recorded and run afterwards off the JavaScript thread: never read a buffer here.
  embed: (ctx) => embedTokens(ctx),
  layer(ctx, il) {
    const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
    const b = (/** @type {string} */ s) => `blk.${il}.${s}`;
    const hd = h.headDim;
    const qDim = h.nHeads * hd;
    const kvDim = h.nKvHeads * hd;
    const cur = ctx.scratch('norm', n * h.nEmbd);
    k.rmsNorm(cur, x, w.vector(b('attn_norm.weight')), n, h.nEmbd, h.eps);
    const q = ctx.scratch('q', n * qDim);
    const kk = ctx.scratch('k', n * kvDim);
    const v = ctx.scratch('v', n * kvDim);
    k.matmul(q, w.matrix(b('attn_q.weight')), cur, n);
    k.matmul(kk, w.matrix(b('attn_k.weight')), cur, n);
    k.matmul(v, w.matrix(b('attn_v.weight')), cur, n);
    const rope = { nTokens: n, pos: ctx.positions, headDim: hd, freqBase: h.ropeBase };
    k.rope(q, { ...rope, mode: 'normal', nHeads: h.nHeads });
    k.rope(kk, { ...rope, mode: 'normal', nHeads: h.nKvHeads });
    ctx.kv.store(il, kk, v); // every row's K/V into its own sequence's cache
    const attn = ctx.scratch('attn', n * qDim);
    k.attention(attn, q, ctx.kv, il, {
      nHeads: h.nHeads,
      nKvHeads: h.nKvHeads,
      headDim: hd,
      flash: ctx.flashAttention,
    });
    const o = ctx.scratch('proj', n * h.nEmbd);
    k.matmul(o, w.matrix(b('attn_output.weight')), attn, n);
    k.add(x, x, o, n * h.nEmbd);
    k.rmsNorm(cur, x, w.vector(b('ffn_norm.weight')), n, h.nEmbd, h.eps);
    const gate = ctx.scratch('gate', n * h.nFF);
    const up = ctx.scratch('up', n * h.nFF);
    k.matmul(gate, w.matrix(b('ffn_gate.weight')), cur, n);
    k.matmul(up, w.matrix(b('ffn_up.weight')), cur, n);
    k.swiglu(gate, gate, up, n * h.nFF);
    k.matmul(o, w.matrix(b('ffn_down.weight')), gate, n);
    k.add(x, x, o, n * h.nEmbd);
  },
  output: (ctx, x, rows, logits) => rmsNormHead(ctx, x, rows, logits, { eps: ctx.hparams.eps }),
});

registerArchitecture(fooPlugin);
