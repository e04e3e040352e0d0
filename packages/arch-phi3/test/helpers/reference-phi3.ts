/**
 * An independent float64 forward pass of Phi-3 written from the model's definition (Hugging Face
 * modeling_phi3): RMS norm, fused [Q | K | V], rotate-half (NeoX) RoPE with optional LongRoPE
 * divisors and attention factor on cos/sin, causal attention where a query at position i sees keys
 * j with i - window < j ≤ i, fused [gate | up] SwiGLU. F32 weights only; slow, for tests.
 */
import type { FloatWeights, SyntheticPhi3Config } from '@quant/test-utils';

export interface ReferenceOptions {
  /** Sliding window in tokens (0 = none). */
  window: number;
  /** LongRoPE divisors (nRot/2), or undefined. */
  factors?: Float32Array | undefined;
  attnFactor?: number;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const s = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * s * (w[i] as number));
}

/** y = W x for W of `rows` rows of x.length. */
function matvec(w: Float32Array, x: Float64Array, rows: number): Float64Array {
  const cols = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += (w[r * cols + c] as number) * (x[c] as number);
    y[r] = s;
  }
  return y;
}

/** Logits (one row per token) of the whole prompt. */
export function referencePhi3(
  weights: FloatWeights,
  cfg: SyntheticPhi3Config,
  tokens: readonly number[],
  o: ReferenceOptions,
): Float64Array[] {
  const W = (n: string) => {
    const t = weights.get(n);
    if (!t) throw new Error(`reference: no weight ${n}`);
    return t;
  };
  const { nEmbd, nHeads, nKvHeads, nFF } = cfg;
  const hd = nEmbd / nHeads;
  const nRot = cfg.nRot ?? hd;
  const half = nRot / 2;
  const qDim = nHeads * hd;
  const kvDim = nKvHeads * hd;
  const base = cfg.freqBase ?? 10000;
  const af = o.attnFactor ?? 1;
  const emb = W('token_embd.weight');
  const nVocab = emb.length / nEmbd;
  const eps = 1e-5;

  const rope = (vec: Float64Array, nh: number, pos: number) => {
    for (let h = 0; h < nh; h++) {
      for (let i = 0; i < half; i++) {
        const theta = (pos * base ** (-(2 * i) / nRot)) / (o.factors ? (o.factors[i] as number) : 1);
        const c = Math.cos(theta) * af;
        const s = Math.sin(theta) * af;
        const a = h * hd + i;
        const b = a + half;
        const x0 = vec[a] as number;
        const x1 = vec[b] as number;
        vec[a] = x0 * c - x1 * s;
        vec[b] = x1 * c + x0 * s;
      }
    }
  };

  let xs: Float64Array[] = tokens.map((t) => Float64Array.from(emb.subarray(t * nEmbd, (t + 1) * nEmbd)));
  for (let il = 0; il < cfg.nLayers; il++) {
    const b = (n: string) => `blk.${il}.${n}`;
    const Q: Float64Array[] = [];
    const K: Float64Array[] = [];
    const V: Float64Array[] = [];
    for (let p = 0; p < xs.length; p++) {
      const cur = rmsNorm(xs[p] as Float64Array, W(b('attn_norm.weight')), eps);
      let q: Float64Array;
      let k: Float64Array;
      let v: Float64Array;
      if (weights.has(b('attn_qkv.weight'))) {
        const qkv = matvec(W(b('attn_qkv.weight')), cur, qDim + 2 * kvDim);
        const bias = weights.get(b('attn_qkv.bias'));
        if (bias) for (let i = 0; i < qkv.length; i++) qkv[i] = (qkv[i] as number) + (bias[i] as number);
        q = qkv.slice(0, qDim);
        k = qkv.slice(qDim, qDim + kvDim);
        v = qkv.slice(qDim + kvDim);
      } else {
        q = matvec(W(b('attn_q.weight')), cur, qDim);
        k = matvec(W(b('attn_k.weight')), cur, kvDim);
        v = matvec(W(b('attn_v.weight')), cur, kvDim);
        for (const [t, n] of [
          [q, 'attn_q.bias'],
          [k, 'attn_k.bias'],
          [v, 'attn_v.bias'],
        ] as const) {
          const bias = weights.get(b(n));
          if (bias) for (let i = 0; i < t.length; i++) t[i] = (t[i] as number) + (bias[i] as number);
        }
      }
      rope(q, nHeads, p);
      rope(k, nKvHeads, p);
      Q.push(q);
      K.push(k);
      V.push(v);
    }
    const next: Float64Array[] = [];
    for (let p = 0; p < xs.length; p++) {
      const attn = new Float64Array(qDim);
      const lo = o.window > 0 ? Math.max(0, p - o.window + 1) : 0;
      for (let h = 0; h < nHeads; h++) {
        const g = Math.floor(h / (nHeads / nKvHeads));
        const scores: number[] = [];
        for (let j = lo; j <= p; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++)
            s +=
              ((Q[p] as Float64Array)[h * hd + i] as number) * ((K[j] as Float64Array)[g * hd + i] as number);
          scores.push(s / Math.sqrt(hd));
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = lo; j <= p; j++) {
          const wgt = (e[j - lo] as number) / z;
          for (let i = 0; i < hd; i++)
            attn[h * hd + i] =
              (attn[h * hd + i] as number) + wgt * ((V[j] as Float64Array)[g * hd + i] as number);
        }
      }
      const x = (xs[p] as Float64Array).slice();
      const proj = matvec(W(b('attn_output.weight')), attn, nEmbd);
      for (let i = 0; i < nEmbd; i++) x[i] = (x[i] as number) + (proj[i] as number);
      const cur = rmsNorm(x, W(b('ffn_norm.weight')), eps);
      const gu = matvec(W(b('ffn_up.weight')), cur, 2 * nFF);
      const act = new Float64Array(nFF);
      for (let i = 0; i < nFF; i++) {
        const g = gu[i] as number;
        act[i] = (g / (1 + Math.exp(-g))) * (gu[nFF + i] as number);
      }
      const down = matvec(W(b('ffn_down.weight')), act, nEmbd);
      for (let i = 0; i < nEmbd; i++) x[i] = (x[i] as number) + (down[i] as number);
      next.push(x);
    }
    xs = next;
  }
  const head = weights.get('output.weight') ?? emb;
  return xs.map((x) => matvec(head, rmsNorm(x, W('output_norm.weight'), eps), nVocab));
}
