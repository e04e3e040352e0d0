/**
 * Logit soft-capping (gemma2) on every backend against float64 references written from llama.cpp's
 * graph: the `softcap` op (build: ggml_scale by 1/cap, ggml_tanh, ggml_scale by cap) and the
 * `softcap` of attention, applied where each of llama.cpp's attention paths applies it — flash
 * (ggml_compute_forward_flash_attn_ext_f16: scale /= cap once, s = cap·tanh(dot·scale)) and standard
 * (build_attn_mha: kq = cap·tanh(kq/cap), then soft_max_ext multiplies by the scale). The references
 * use a scale ≠ 1, where the two orders give different functions, and scores large enough that tanh
 * is far from linear, so a kernel that ignores the cap or applies it in the other order fails.
 */
import type { Kernels, KVCacheType } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, load, randn } from './helpers';
import { floatToHalf, halfToFloat } from './ref-half';

const fr = Math.fround;
const f16 = (x: number) => halfToFloat(floatToHalf(x));

interface Shape {
  nTokens: number;
  pos: number;
  nHeads: number;
  nKv: number;
  hd: number;
  window: number;
  scale: number;
  cap: number;
}

/** Exact (float64) causal GQA attention with a soft-capped score `score(dot)`. */
function refAttention(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  s: Shape,
  score: (dot: number) => number,
): Float64Array {
  const { nTokens, pos, nHeads, nKv, hd, window } = s;
  const out = new Float64Array(nTokens * nHeads * hd);
  const kvDim = nKv * hd;
  for (let t = 0; t < nTokens; t++) {
    const p = pos + t;
    const lo = window > 0 ? Math.max(0, p - window + 1) : 0;
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / (nHeads / nKv));
      const qo = (t * nHeads + h) * hd;
      const w: number[] = [];
      for (let j = lo; j <= p; j++) {
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += (q[qo + i] as number) * (K[j * kvDim + g * hd + i] as number);
        w.push(score(dot));
      }
      const m = Math.max(...w);
      const e = w.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = lo; j <= p; j++) acc += (e[j - lo] as number) * (V[j * kvDim + g * hd + i] as number);
        out[qo + i] = acc / z;
      }
    }
  }
  return out;
}

const flashScore = (s: Shape) => (dot: number) => s.cap * Math.tanh((dot * s.scale) / s.cap);
const standardScore = (s: Shape) => (dot: number) => s.cap * Math.tanh(dot / s.cap) * s.scale;
const plainScore = (s: Shape) => (dot: number) => dot * s.scale;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`soft-capping [${b.name}]`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());

    const buf = (data: Float32Array) => {
      const x = k.f32(data.length);
      x.write(data);
      return x;
    };

    it('softcap is cap·tanh(x/cap) in ggml’s f32 steps (within an f32 ulp of tanhf), in place, recorded', async () => {
      const n = 3000;
      const x = randn(n, 51, 20);
      x.set([0, -0, 1e-30, 1000, -1000, 3, -3], 0);
      for (const cap of [3, 30, 50]) {
        const out = k.f32(n);
        k.softcap(out, buf(x), cap, n);
        const got = out.read();
        const inv = fr(1 / cap);
        const want = x.map((v) => fr(fr(Math.tanh(fr(v * inv))) * cap));
        // Math.tanh vs tanhf: at most one f32 ulp of the tanh, times cap
        expectClose(got, want, 0, 2 ** -22, `softcap cap=${cap}`);
        for (const g of got) expect(Math.abs(g)).toBeLessThanOrEqual(cap);
        expect(got[3]).toBe(cap);
        expect(got[4]).toBe(-cap);
        // the cap bends large values: not the identity
        expect(maxDiff(got, x)).toBeGreaterThan(cap / 4);
      }
      const xb = buf(x);
      k.softcap(xb, xb, 30, n);
      const direct = xb.read();
      const yb = buf(x);
      await k.run(() => k.softcap(yb, yb, 30, n));
      expect(Array.from(yb.read())).toEqual(Array.from(direct));
    });

    it('softcap rejects a cap that is not positive', () => {
      const x = buf(new Float32Array(4));
      for (const cap of [0, -1, Number.NaN, 1e-50])
        expect(() => k.softcap(x, x, cap, 4), `cap ${cap}`).toThrow(/cap/);
      const cache = k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 4, type: 'f32' });
      expect(() =>
        k.attention(x, x, cache, 0, { nTokens: 1, pos: 0, nHeads: 1, nKvHeads: 1, headDim: 4, softcap: -2 }),
      ).toThrow(/softcap/);
    });

    // f32: exact softmax (rtol 1e-4 as the plain attention test); f16: the query and the cache are
    // f16, scores and V accumulate in f16 (flash) or the probabilities are f16 (standard): ~1e-3;
    // q8_0 (flash only, as llama.cpp): the query is quantized to Q8_0 for the dot: ~1e-2.
    for (const [type, flash, tol] of [
      ['f32', true, 2e-4],
      ['f32', false, 2e-4],
      ['f16', true, 6e-3],
      ['f16', false, 6e-3],
      ['q8_0', true, 4e-2],
    ] as [KVCacheType, boolean, number][]) {
      it(`attention softcap over a ${type} cache, ${flash ? 'flash' : 'standard'} path, scale ≠ 1, with and without a window`, () => {
        const nHeads = 4;
        const nKv = 2;
        const hd = 32;
        const kvDim = nKv * hd;
        const total = 21;
        const cache = k.kvCache({ layers: 2, contextSize: 32, kvHeads: nKv, headDim: hd, type });
        // scores q·k of about ±20 before the scale: far into tanh's bend for cap 3
        const K = randn(total * kvDim, 61, 1.2);
        const V = randn(total * kvDim, 62);
        cache.store(1, 0, 15, buf(K.subarray(0, 15 * kvDim)), buf(V.subarray(0, 15 * kvDim)));
        cache.store(1, 15, total - 15, buf(K.subarray(15 * kvDim)), buf(V.subarray(15 * kvDim)));
        const nTokens = 6;
        const pos = total - nTokens;
        const q = randn(nTokens * nHeads * hd, 63, 1.2);
        // what the kernels see of the cache and query
        const round = (a: Float32Array) =>
          type === 'f16'
            ? a.map(f16)
            : type === 'q8_0'
              ? k.dequantize(8, k.quantize(8, a, a.length / 32, 32), a.length)
              : a;
        const Kr = round(K);
        const Vr = round(V);
        const qr = type === 'f16' ? q.map(f16) : q;
        for (const window of [0, 7]) {
          const s: Shape = { nTokens, pos, nHeads, nKv, hd, window, scale: 0.35, cap: 3 };
          const out = k.f32(q.length);
          k.attention(out, buf(q), cache, 1, {
            nTokens,
            pos,
            nHeads,
            nKvHeads: nKv,
            headDim: hd,
            window,
            scale: s.scale,
            softcap: s.cap,
            flash,
          });
          const got = out.read();
          const want = refAttention(qr, Kr, Vr, s, (flash ? flashScore : standardScore)(s));
          const other = refAttention(qr, Kr, Vr, s, (flash ? standardScore : flashScore)(s));
          const plain = refAttention(qr, Kr, Vr, s, plainScore(s));
          // the reference discriminates: the other order and no cap are far from it
          expect(maxDiff(want, other)).toBeGreaterThan(10 * tol);
          expect(maxDiff(want, plain)).toBeGreaterThan(10 * tol);
          expectClose(got, want, tol, tol, `${type} ${flash ? 'flash' : 'standard'} window=${window}`);
        }
        // softcap 0 (or absent) is the plain attention, bit for bit
        const a = k.f32(q.length);
        const c = k.f32(q.length);
        const p = { nTokens, pos, nHeads, nKvHeads: nKv, headDim: hd, scale: 0.35, flash };
        k.attention(a, buf(q), cache, 1, p);
        k.attention(c, buf(q), cache, 1, { ...p, softcap: 0 });
        expect(Array.from(c.read())).toEqual(Array.from(a.read()));
      });
    }
  });
}
