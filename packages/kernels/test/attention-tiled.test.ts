/**
 * Flash attention over an f16 cache for a batch of 64+ query rows follows llama.cpp's tiled CPU
 * kernel (ggml_compute_forward_flash_attn_ext_tiled): the query is not rounded to f16 and scores,
 * softmax and the V accumulator are f32, so the result is the exact attention over the f16 cache to
 * f32 rounding — checked against a float64 reference written here. Below 64 rows the row-by-row
 * kernel (f16 query, f16 accumulator) stays: the same row evaluated alone is ~1e-3 away.
 */
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';
import { floatToHalf, halfToFloat } from './ref-half';

const h16 = (x: number) => halfToFloat(floatToHalf(x));

/** Exact softmax attention (float64) of f32 queries over f16-rounded K/V, causal, optional window. */
function refAttention(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  o: { nTokens: number; pos: number; nHeads: number; nKv: number; hd: number; window: number; scale: number },
): Float64Array {
  const { nTokens, pos, nHeads, nKv, hd, window, scale } = o;
  const kvDim = nKv * hd;
  const out = new Float64Array(nTokens * nHeads * hd);
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / (nHeads / nKv));
      const p = pos + t;
      const j0 = window > 0 ? Math.max(0, p - window + 1) : 0;
      const s: number[] = [];
      for (let j = j0; j <= p; j++) {
        let d = 0;
        for (let i = 0; i < hd; i++)
          d += (q[(t * nHeads + h) * hd + i] as number) * h16(K[j * kvDim + g * hd + i] as number);
        s.push(d * scale);
      }
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = j0; j <= p; j++) acc += (e[j - j0] as number) * h16(V[j * kvDim + g * hd + i] as number);
        out[(t * nHeads + h) * hd + i] = acc / sum;
      }
    }
  return out;
}

describe.each(
  BACKENDS.filter((b) => b.available).map((b) => [b.name, b] as const),
)('flash attention, f16 cache, 64+ query rows — %s', (_, b) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await load(b);
  });
  afterAll(() => k?.dispose());

  for (const [hd, window] of [
    [32, 0],
    [96, 0],
    [64, 50],
  ] as const) {
    it(`head size ${hd}${window ? `, window ${window}` : ''}: f32 softmax and accumulator (llama.cpp's tiled kernel)`, () => {
      const nHeads = 4;
      const nKv = 2;
      const kvDim = nKv * hd;
      const total = 150;
      const nTokens = 70;
      const pos = total - nTokens;
      const scale = 1 / Math.sqrt(hd);
      const K = randn(total * kvDim, 71 + hd, 1.5);
      const V = randn(total * kvDim, 72 + hd);
      const q = randn(nTokens * nHeads * hd, 73 + hd, 1.5);
      const cache = k.kvCache({ layers: 1, contextSize: 160, kvHeads: nKv, headDim: hd, type: 'f16' });
      const kb = k.f32(K.length);
      const vb = k.f32(V.length);
      kb.write(K);
      vb.write(V);
      cache.store(0, 0, total, kb, vb);
      const qb = k.f32(q.length);
      qb.write(q);
      const out = k.f32(q.length);
      const p = { nHeads, nKvHeads: nKv, headDim: hd, window, scale, flash: true };
      k.attention(out, qb, cache, 0, { ...p, nTokens, pos });
      const got = out.read();
      const want = refAttention(q, K, V, { nTokens, pos, nHeads, nKv, hd, window, scale });
      let worst = 0;
      for (let i = 0; i < got.length; i++)
        worst = Math.max(
          worst,
          Math.abs((got[i] as number) - (want[i] as number)) / Math.max(1, Math.abs(want[i] as number)),
        );
      expect(worst).toBeLessThan(2e-5);
      // The last row alone (a batch of one) takes the row-by-row kernel: f16 query and accumulator.
      const last = (nTokens - 1) * nHeads * hd;
      const q1 = k.f32(nHeads * hd);
      q1.write(q.subarray(last));
      const o1 = k.f32(nHeads * hd);
      k.attention(o1, q1, cache, 0, { ...p, nTokens: 1, pos: total - 1 });
      const one = o1.read();
      let rowErr = 0;
      for (let i = 0; i < one.length; i++)
        rowErr = Math.max(rowErr, Math.abs((one[i] as number) - (want[last + i] as number)));
      expect(rowErr).toBeGreaterThan(1e-4);
      for (const x of [cache, kb, vb, qb, out, q1, o1]) x.dispose();
    });
  }
});
