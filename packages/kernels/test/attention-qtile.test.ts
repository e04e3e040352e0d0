/**
 * Prompt attention over quantized, mixed and rotated caches: a pass of 16+ query tokens takes the
 * tiled path (K/V tiles converted to f32 once per query tile, online softmax per tile), decoding
 * keeps the per-row path (llama.cpp's one_chunk). Both score with the query converted to K's vec_dot
 * type (Q8_0, Q8_1, F16, BF16 or F32), as llama.cpp does. Checked on every backend against a
 * float64 attention over the cache rows decoded by the reference dequantizers (./ref-quants.ts),
 * and against the per-row path run on the same tokens one at a time: within f32 rounding (a Q8_1
 * query's f16-rounded block sums included). An f16 V keeps the per-row path (llama.cpp accumulates
 * it in f16). GQA, sliding windows, Walsh-Hadamard rotation and a pass that does not fill its last
 * query tile or KV tile are covered.
 */
import type { Kernels, KVCacheType, KVRotation } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './ref-half';
import { refDequantize, T } from './ref-quants';

const fr = Math.fround;
/** ggml's kvalues_iq4nl (ggml-common.h). */
const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];
const ID: Record<KVCacheType, number> = {
  f32: T.F32,
  f16: T.F16,
  bf16: T.BF16,
  q8_0: T.Q8_0,
  q4_0: T.Q4_0,
  q4_1: T.Q4_1,
  q5_0: T.Q5_0,
  q5_1: T.Q5_1,
  iq4_nl: 20,
  iq4_nlr: 20, // iq4_nl blocks (quant's rotated type; not among the cases: its rotation has its own tests)
};

function decode(type: KVCacheType, b: Uint8Array, n: number): Float32Array {
  if (type !== 'iq4_nl' && type !== 'iq4_nlr') return refDequantize(ID[type], b, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n / 32; i++) {
    const d = halfToFloat((b[i * 18] as number) | ((b[i * 18 + 1] as number) << 8));
    for (let j = 0; j < 16; j++) {
      const q = b[i * 18 + 2 + j] as number;
      out[i * 32 + j] = fr(d * (IQ4NL[q & 15] as number));
      out[i * 32 + 16 + j] = fr(d * (IQ4NL[q >> 4] as number));
    }
  }
  return out;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The query as K's vec_dot type holds it: ggml-cpu's quantize_row_q8_0 (id = 127/amax, round half
 * to even) for block K types, f16 or bf16 rounding for half K. Q8_1 (q4_1/q5_1 K) has the same d and
 * q plus s = f16(d·Σq) per block, which the vec_dot multiplies with K's offset m: `corr` is s − d·Σq
 * in f16 d, the amount by which that term differs from m times the block's dequantized values.
 */
function queryAsK(kType: KVCacheType, x: ArrayLike<number>): { q: Float64Array; corr: Float64Array } {
  const corr = new Float64Array(x.length / 32);
  if (kType === 'f32') return { q: Float64Array.from(x), corr };
  if (kType === 'f16') return { q: Float64Array.from(x, (v) => halfToFloat(floatToHalf(v))), corr };
  if (kType === 'bf16') return { q: Float64Array.from(x, (v) => bf16ToFloat(floatToBf16(v))), corr };
  const q = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i + j] as number));
    const d32 = fr(amax / 127);
    const d = halfToFloat(floatToHalf(d32));
    const id = amax ? fr(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const v = roundHalfEven(fr((x[i + j] as number) * id));
      sum += v;
      q[i + j] = fr(d * v);
    }
    if (kType === 'q4_1' || kType === 'q5_1')
      corr[i / 32] = halfToFloat(floatToHalf(fr(sum * d32))) - d * sum;
  }
  return { q, corr };
}

/** The f16 offset m of every 32-block of K rows (q4_1, q5_1: the second f16 of a block), else zeros. */
function blockMins(kType: KVCacheType, bytes: Uint8Array, n: number): Float64Array {
  const out = new Float64Array(n / 32);
  const size = kType === 'q4_1' ? 20 : kType === 'q5_1' ? 24 : 0;
  if (size)
    for (let b = 0; b < out.length; b++)
      out[b] = halfToFloat((bytes[b * size + 2] as number) | ((bytes[b * size + 3] as number) << 8));
  return out;
}

/** The orthonormal Sylvester Walsh-Hadamard transform of every `rot`-chunk, in float64. */
function hadamard(x: ArrayLike<number>, rot: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let c = 0; c < x.length; c += rot)
    for (let i = 0; i < rot; i++) {
      let s = 0;
      for (let j = 0; j < rot; j++) {
        let p = i & j,
          bits = 0;
        while (p) {
          bits += p & 1;
          p >>= 1;
        }
        s += (bits & 1 ? -1 : 1) * (x[c + j] as number);
      }
      out[c + i] = s / Math.sqrt(rot);
    }
  return out;
}

interface Shape {
  nTokens: number;
  pos: number;
  nHeads: number;
  nKv: number;
  hd: number;
  window: number;
  kRot: number;
  vRot: number;
}

/** Float64 causal attention (exact softmax) of the query as K's type holds it over decoded K/V rows (rotated space). */
function reference(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  o: Shape,
  kType: KVCacheType,
  kMin: Float64Array,
): Float32Array {
  const { nTokens, pos, nHeads, nKv, hd } = o;
  const out = new Float32Array(nTokens * nHeads * hd);
  const group = nHeads / nKv;
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      const q0 = q.subarray((t * nHeads + h) * hd, (t * nHeads + h + 1) * hd);
      const { q: qh, corr } = queryAsK(kType, o.kRot ? Float32Array.from(hadamard(q0, o.kRot)) : q0);
      const p = pos + t;
      const j0 = o.window > 0 ? Math.max(0, p - o.window + 1) : 0;
      const s: number[] = [];
      for (let k = j0; k <= p; k++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += (qh[i] as number) * (K[k * nKv * hd + g * hd + i] as number);
        for (let c = 0; c < hd / 32; c++)
          d += (kMin[(k * nKv * hd + g * hd) / 32 + c] as number) * (corr[c] as number);
        s.push(d / Math.sqrt(hd));
      }
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      const acc = new Float64Array(hd);
      for (let k = j0; k <= p; k++)
        for (let i = 0; i < hd; i++)
          acc[i] =
            (acc[i] as number) + ((e[k - j0] as number) / sum) * (V[k * nKv * hd + g * hd + i] as number);
      out.set(o.vRot ? hadamard(acc, o.vRot) : acc, (t * nHeads + h) * hd);
    }
  return out;
}

/** max |a − b| over max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    s = Math.max(s, Math.abs(b[i] as number));
  }
  return d / s;
}

type Case = {
  k: KVCacheType;
  v: KVCacheType;
  hd: number;
  nHeads: number;
  nKv: number;
  window: number;
  rotation: KVRotation;
  /** Bound of the per-row path against the tiled one. */
  rowBound: number;
};
const CASES: Case[] = [
  { k: 'q4_0', v: 'q4_0', hd: 96, nHeads: 4, nKv: 4, window: 0, rotation: 'none', rowBound: 1e-5 },
  { k: 'q8_0', v: 'q8_0', hd: 64, nHeads: 4, nKv: 2, window: 50, rotation: 'none', rowBound: 1e-5 },
  { k: 'q4_0', v: 'q4_0', hd: 128, nHeads: 8, nKv: 2, window: 0, rotation: 'always', rowBound: 1e-5 },
  { k: 'iq4_nl', v: 'iq4_nl', hd: 64, nHeads: 2, nKv: 2, window: 0, rotation: 'llama', rowBound: 1e-5 },
  { k: 'f32', v: 'q4_0', hd: 64, nHeads: 4, nKv: 2, window: 70, rotation: 'none', rowBound: 1e-5 },
  { k: 'f16', v: 'q5_0', hd: 64, nHeads: 4, nKv: 2, window: 0, rotation: 'none', rowBound: 1e-5 },
  // a Q8_1 query: the tiled path adds ggml's f16-rounded block sums as the q4_1/q5_1 vec_dot does
  { k: 'q5_1', v: 'q4_1', hd: 64, nHeads: 4, nKv: 1, window: 0, rotation: 'none', rowBound: 1e-5 },
  { k: 'q4_1', v: 'q8_0', hd: 96, nHeads: 2, nKv: 2, window: 0, rotation: 'none', rowBound: 1e-5 },
  // an f16 V keeps the per-row path (llama.cpp accumulates it in f16): the pass equals the rows bit for bit
  { k: 'q5_0', v: 'f16', hd: 32, nHeads: 2, nKv: 2, window: 0, rotation: 'none', rowBound: 0 },
];
/** Bound of the tiled path against the float64 reference: f32 rounding. */
const TIGHT = 1e-5;

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`tiled prompt attention over quantized caches on ${b.name}`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());
    const buf = (x: Float32Array) => {
      const f = k.f32(x.length);
      f.write(x);
      return f;
    };

    for (const c of CASES) {
      it(`K ${c.k} / V ${c.v}, head ${c.hd}, ${c.nHeads}/${c.nKv} heads${c.window ? `, window ${c.window}` : ''}, rotation ${c.rotation}: 70 query tokens after 150 cached`, () => {
        const { hd, nHeads, nKv } = c;
        const kvDim = nKv * hd,
          pos = 150,
          nTokens = 70,
          total = pos + nTokens;
        const cache = k.kvCache({
          layers: 2,
          contextSize: 256,
          kvHeads: nKv,
          headDim: hd,
          type: { k: c.k, v: c.v },
          rotation: c.rotation,
        });
        try {
          const K = randn(total * kvDim, 61),
            V = randn(total * kvDim, 62);
          cache.store(1, 0, total, buf(K), buf(V));
          const Kd = decode(c.k, cache.readRows(1, 'k', total), total * kvDim);
          const Vd = decode(c.v, cache.readRows(1, 'v', total), total * kvDim);
          const q = randn(nTokens * nHeads * hd, 63, 2);
          const shape: Shape = {
            nTokens,
            pos,
            nHeads,
            nKv,
            hd,
            window: c.window,
            kRot: cache.rotation.k,
            vRot: cache.rotation.v,
          };
          if (c.rotation === 'always') expect(cache.rotation.k).toBeGreaterThan(0);
          const params = { pos, nHeads, nKvHeads: nKv, headDim: hd, window: c.window };
          const out = k.f32(q.length);
          k.attention(out, buf(q), cache, 1, { ...params, nTokens });
          const tiled = out.read();
          const kMin = blockMins(c.k, cache.readRows(1, 'k', total), total * kvDim);
          const ref = reference(q, Kd, Vd, shape, c.k, kMin);
          const eTiled = relErr(tiled, ref);

          // the per-row path: the same tokens one at a time
          const rows = new Float32Array(q.length);
          const row = nHeads * hd;
          const o1 = k.f32(row);
          for (let t = 0; t < nTokens; t++) {
            k.attention(o1, buf(q.subarray(t * row, (t + 1) * row)), cache, 1, {
              ...params,
              pos: pos + t,
              nTokens: 1,
            });
            rows.set(o1.read(), t * row);
          }
          const eRows = relErr(rows, tiled);
          console.log(
            `[attention-qtile ${b.name}] ${c.k}/${c.v} hd ${hd}: tiled vs f64 ${eTiled.toExponential(2)}, per-row vs tiled ${eRows.toExponential(2)}`,
          );
          expect(eRows).toBeLessThanOrEqual(c.rowBound);
          if (c.v === 'f16') {
            // the per-row path (f16 accumulator, ~1e-3 from the exact result) for every pass
            expect(eTiled).toBeGreaterThan(TIGHT);
            expect(eTiled).toBeLessThanOrEqual(4e-3);
          } else expect(eTiled).toBeLessThanOrEqual(TIGHT);
        } finally {
          cache.dispose();
        }
      });
    }
  });
}
