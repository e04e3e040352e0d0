/**
 * Quantized and half KV caches: the stored bytes against reference quantizers written from ggml's
 * block specifications (what llama.cpp's set_rows stores), the Walsh-Hadamard rotation against an
 * explicit matrix, attention against a float64 reference of llama.cpp's flash attention over the
 * independently decoded cache, and the refusals.
 */
import { KernelError, type Kernels, type KVCacheType } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './ref-half';
import {
  refDequantize,
  refQuantizeQ4_0,
  refQuantizeQ4_1,
  refQuantizeQ5_0,
  refQuantizeQ5_1,
} from './ref-quants';

const fr = Math.fround;

/** ggml's kvalues_iq4nl (ggml-common.h). */
const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function setHalf(b: Uint8Array, o: number, v: number): void {
  const hv = floatToHalf(v);
  b[o] = hv & 0xff;
  b[o + 1] = hv >> 8;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** ggml-cpu's quantize_row_q8_0 (the from_float of a q8_0 cache and of the query): id = 127/amax, round half to even. */
function refQ8_0cpu(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j] as number));
    const d = fr(amax / 127);
    const id = amax ? fr(127 / amax) : 0;
    setHalf(out, i * 34, d);
    for (let j = 0; j < 32; j++)
      out[i * 34 + 2 + j] = roundHalfEven(fr((x[i * 32 + j] as number) * id)) & 0xff;
  }
  return out;
}

/** ggml-cpu's quantize_row_q8_1: as q8_0 plus s = d·Σq (the query format of q4_1/q5_1 keys). */
function refQ8_1cpuDequant(x: Float32Array): Float32Array {
  const q = refQ8_0cpu(x);
  return refDequantize(8, q, x.length);
}

/** ggml's best_index_int8. */
function bestIndex(x: number): number {
  if (x <= (IQ4NL[0] as number)) return 0;
  if (x >= (IQ4NL[15] as number)) return 15;
  let ml = 0,
    mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < (IQ4NL[mav] as number)) mu = mav;
    else ml = mav;
  }
  return x - (IQ4NL[mu - 1] as number) < (IQ4NL[mu] as number) - x ? mu - 1 : mu;
}

/** ggml's quantize_row_iq4_nl_ref: d = max/−127, nearest levels, then the x²-weighted least-squares scale. */
function refQuantizeIq4nl(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    let amax = 0,
      max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j] as number;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const L = new Array<number>(32).fill(0);
    let d = 0;
    if (amax >= 1e-15) {
      d = fr(max / -127);
      const id = fr(1 / d);
      let sumqx = 0,
        sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const v = x[i * 32 + j] as number;
        const l = bestIndex(fr(id * v));
        L[j] = l;
        const q = IQ4NL[l] as number;
        const w = fr(v * v);
        sumqx = fr(sumqx + fr(fr(w * q) * v));
        sumq2 = fr(sumq2 + fr(fr(w * q) * q));
      }
      d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
    }
    setHalf(out, i * 18, d);
    for (let j = 0; j < 16; j++) out[i * 18 + 2 + j] = (L[j] as number) | ((L[j + 16] as number) << 4);
  }
  return out;
}

function dequantIq4nl(b: Uint8Array, n: number): Float32Array {
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

/** The cache types llama.cpp has (quant's iq4_nlr is tested in runtime/test/kv-rotated-cache.test.ts). */
type LlamaKVType = Exclude<KVCacheType, 'iq4_nlr'>;

const GGML_ID: Record<LlamaKVType, number> = {
  f32: 0,
  f16: 1,
  bf16: 30,
  q8_0: 8,
  q4_0: 2,
  q4_1: 3,
  q5_0: 6,
  q5_1: 7,
  iq4_nl: 20,
};

/** What llama.cpp stores for a row of `type`. */
function refStore(type: LlamaKVType, x: Float32Array): Uint8Array {
  switch (type) {
    case 'f32':
      return new Uint8Array(Float32Array.from(x).buffer);
    case 'f16':
      return new Uint8Array(Uint16Array.from(x, (v) => floatToHalf(v)).buffer);
    case 'bf16':
      return new Uint8Array(Uint16Array.from(x, (v) => floatToBf16(v)).buffer);
    case 'q8_0':
      return refQ8_0cpu(x);
    case 'q4_0':
      return refQuantizeQ4_0(x);
    case 'q4_1':
      return refQuantizeQ4_1(x);
    case 'q5_0':
      return refQuantizeQ5_0(x);
    case 'q5_1':
      return refQuantizeQ5_1(x);
    case 'iq4_nl':
      return refQuantizeIq4nl(x);
  }
}

function refDecode(type: LlamaKVType, b: Uint8Array, n: number): Float32Array {
  if (type === 'iq4_nl') return dequantIq4nl(b, n);
  if (type === 'bf16') {
    const u = new Uint16Array(b.buffer, b.byteOffset, n);
    return Float32Array.from(u, (h) => bf16ToFloat(h));
  }
  return refDequantize(GGML_ID[type], b, n);
}

/** The orthonormal Sylvester Walsh-Hadamard matrix entry: (−1)^popcount(i & j) / √n. */
function hadamardRef(x: ArrayLike<number>, rot: number): Float32Array {
  const out = new Float32Array(x.length);
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

const TYPES: LlamaKVType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'];

/** The query as K's vec_dot type sees it (llama.cpp converts it before the K·Q dots). */
function queryAsK(kType: KVCacheType, q: Float32Array): Float32Array {
  switch (kType) {
    case 'f32':
      return q;
    case 'f16':
      return Float32Array.from(q, (v) => halfToFloat(floatToHalf(v)));
    case 'bf16':
      return Float32Array.from(q, (v) => bf16ToFloat(floatToBf16(v)));
    case 'q4_1':
    case 'q5_1':
      return refQ8_1cpuDequant(q);
    default:
      return refDequantize(8, refQ8_0cpu(q), q.length);
  }
}

/** Float64 flash attention (exact softmax) over decoded keys/values: what every type pair computes up to rounding. */
function refAttention(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  o: {
    nTokens: number;
    pos: number;
    nHeads: number;
    nKv: number;
    hd: number;
    kType: KVCacheType;
    kRot: number;
    vRot: number;
  },
): Float32Array {
  const { nTokens, pos, nHeads, nKv, hd } = o;
  const out = new Float32Array(nTokens * nHeads * hd);
  const group = nHeads / nKv;
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / group);
      let qh = q.subarray((t * nHeads + h) * hd, (t * nHeads + h + 1) * hd);
      if (o.kRot) qh = hadamardRef(qh, o.kRot);
      const qq = queryAsK(o.kType, Float32Array.from(qh));
      const p = pos + t;
      const s: number[] = [];
      for (let k = 0; k <= p; k++) {
        let d = 0;
        for (let i = 0; i < hd; i++) d += (qq[i] as number) * (K[k * nKv * hd + g * hd + i] as number);
        s.push(d / Math.sqrt(hd));
      }
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      const acc = new Float64Array(hd);
      for (let k = 0; k <= p; k++)
        for (let i = 0; i < hd; i++)
          acc[i] = (acc[i] as number) + ((e[k] as number) / sum) * (V[k * nKv * hd + g * hd + i] as number);
      const oh = o.vRot ? hadamardRef(acc, o.vRot) : Float32Array.from(acc);
      out.set(oh, (t * nHeads + h) * hd);
    }
  return out;
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`KV cache types on ${b.name}`, () => {
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

    for (const type of TYPES) {
      it(`${type}: stores what llama.cpp's set_rows stores (bytes), shift moves rows, writeRows restores`, () => {
        const nKv = 2,
          hd = 64,
          kvDim = nKv * hd,
          n = 5;
        const cache = k.kvCache({
          layers: 2,
          contextSize: 8,
          kvHeads: nKv,
          headDim: hd,
          type,
          rotation: 'none',
        });
        expect(cache.types).toEqual({ k: type, v: type });
        const K = randn(n * kvDim, 31, 2),
          V = randn(n * kvDim, 32, 0.5);
        cache.store(1, 0, n, buf(K), buf(V));
        expect(Array.from(cache.readRows(1, 'k', n))).toEqual(Array.from(refStore(type, K)));
        expect(Array.from(cache.readRows(1, 'v', n))).toEqual(Array.from(refStore(type, V)));
        const rowK = refStore(type, K.subarray(0, kvDim)).length;
        cache.shift(2, 0, 3);
        expect(Array.from(cache.readRows(1, 'k', 3))).toEqual(
          Array.from(refStore(type, K.subarray(2 * kvDim, 5 * kvDim))),
        );
        const saved = cache.readRows(1, 'v', n);
        const other = k.kvCache({
          layers: 2,
          contextSize: 8,
          kvHeads: nKv,
          headDim: hd,
          type,
          rotation: 'none',
        });
        other.writeRows(0, 'v', n, saved);
        expect(Array.from(other.readRows(0, 'v', n))).toEqual(Array.from(saved));
        expect(() => other.writeRows(0, 'v', n, saved.subarray(0, rowK - 1))).toThrow(KernelError);
        expect(cache.byteLength).toBe(2 * 8 * 2 * refStore(type, K.subarray(0, kvDim)).length);
        cache.dispose();
        other.dispose();
      });
    }

    for (const type of ['q4_0', 'q8_0', 'iq4_nl'] as const) {
      it(`${type}: rotation 'llama' stores the Walsh-Hadamard-rotated rows (head 128: K in 128-chunks, V in 64-chunks)`, () => {
        const nKv = 2,
          hd = 128,
          kvDim = nKv * hd,
          n = 6;
        const cache = k.kvCache({ layers: 1, contextSize: 8, kvHeads: nKv, headDim: hd, type });
        expect(cache.rotation).toEqual({ k: 128, v: 64 });
        const K = randn(n * kvDim, 41),
          V = randn(n * kvDim, 42);
        cache.store(0, 0, n, buf(K), buf(V));
        for (const [part, x, rot] of [
          ['k', K, 128],
          ['v', V, 64],
        ] as const) {
          const got = cache.readRows(0, part, n);
          const want = refStore(type, hadamardRef(x, rot));
          // the fast transform and the matrix product round differently: a value on a rounding
          // boundary may land one step apart, so compare decoded values within one quantization step
          const g = refDecode(type, got, x.length),
            w = refDecode(type, want, x.length);
          let same = 0;
          for (let i = 0; i < x.length; i++) if (g[i] === w[i]) same++;
          expect(same / x.length).toBeGreaterThan(0.97);
        }
        cache.dispose();
      });
    }

    const pairs: [LlamaKVType, LlamaKVType, number][] = [
      ['q8_0', 'q8_0', 64],
      ['q4_0', 'q4_0', 96],
      ['q4_1', 'q4_1', 64],
      ['q5_0', 'q5_0', 128],
      ['q5_1', 'q5_1', 96],
      ['iq4_nl', 'iq4_nl', 64],
      ['q8_0', 'f16', 64],
      ['f16', 'q4_0', 96],
      ['bf16', 'bf16', 64],
      ['f32', 'q8_0', 32],
      ['q4_0', 'f32', 64],
    ];
    for (const [kt, vt, hd] of pairs) {
      it(`attention over a K ${kt} / V ${vt} cache, head ${hd}: llama.cpp's flash attention on the stored blocks (GQA, window)`, () => {
        const nKv = 2,
          nHeads = 4,
          kvDim = nKv * hd,
          total = 11;
        const cache = k.kvCache({
          layers: 2,
          contextSize: 16,
          kvHeads: nKv,
          headDim: hd,
          type: { k: kt, v: vt },
        });
        const K = randn(total * kvDim, 51),
          V = randn(total * kvDim, 52);
        cache.store(1, 0, 7, buf(K.subarray(0, 7 * kvDim)), buf(V.subarray(0, 7 * kvDim)));
        cache.store(1, 7, 4, buf(K.subarray(7 * kvDim)), buf(V.subarray(7 * kvDim)));
        const Kd = refDecode(kt, cache.readRows(1, 'k', total), total * kvDim);
        const Vd = refDecode(vt, cache.readRows(1, 'v', total), total * kvDim);
        const q = randn(4 * nHeads * hd, 53);
        const out = k.f32(q.length);
        k.attention(out, buf(q), cache, 1, { nTokens: 4, pos: 7, nHeads, nKvHeads: nKv, headDim: hd });
        const ref = refAttention(q, Kd, Vd, {
          nTokens: 4,
          pos: 7,
          nHeads,
          nKv,
          hd,
          kType: kt,
          kRot: cache.rotation.k,
          vRot: cache.rotation.v,
        });
        // f16 V: llama.cpp accumulates in f16 (≈1e-3 relative); otherwise f32 accumulation
        const tol = vt === 'f16' ? 4e-3 : 2e-4;
        const got = out.read();
        let scale = 0;
        for (const v of ref) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < got.length; i++)
          expect(Math.abs((got[i] as number) - (ref[i] as number)), `element ${i}`).toBeLessThanOrEqual(
            tol * scale,
          );
        cache.dispose();
      });
    }

    it('refuses a block type for a head size that is not a multiple of 32, naming the types that work', () => {
      const e = (() => {
        try {
          k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 40, type: { k: 'f16', v: 'q4_0' } });
        } catch (err) {
          return err as KernelError;
        }
      })();
      expect(e).toBeInstanceOf(KernelError);
      expect(e?.code).toBe('UNSUPPORTED_TYPE');
      expect(e?.message).toMatch(/head size 40 is not a multiple of 32/);
      expect(e?.message).toMatch(/f32, f16, bf16$/);
      expect(() =>
        k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 32, type: 'q3_k' as never }),
      ).toThrow(/not a KV cache type; use one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl/);
    });

    it('refuses a quantized V on the standard (non-flash) path, naming the V types it reads', () => {
      const cache = k.kvCache({
        layers: 1,
        contextSize: 4,
        kvHeads: 1,
        headDim: 32,
        type: { k: 'f16', v: 'q8_0' },
      });
      const x = buf(randn(32, 1));
      cache.store(0, 0, 1, x, x);
      const out = k.f32(32);
      let err: KernelError | undefined;
      try {
        k.attention(out, x, cache, 0, {
          nTokens: 1,
          pos: 0,
          nHeads: 1,
          nKvHeads: 1,
          headDim: 32,
          flash: false,
        });
      } catch (e) {
        err = e as KernelError;
      }
      expect(err?.code).toBe('UNSUPPORTED_TYPE');
      expect(err?.message).toMatch(
        /use flash: true, or a V cache type the standard path reads: f32, f16, bf16/,
      );
      cache.dispose();
    });
  });
}
