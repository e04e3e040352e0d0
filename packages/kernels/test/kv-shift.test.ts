/**
 * kernels.kvShift (llama.cpp's K-shift): keys stored at positions p with RoPE, moved to p + δ and
 * rotated by δ, must equal (within the cache type's rounding) the keys roped at p + δ directly, by a
 * float64 RoPE written here from its definition — for every cache type, both rope styles, partial
 * rotation, freq scale, LongRoPE factors, an attention factor applied once at store time, and
 * Hadamard-rotated caches; V rows move byte for byte and other layers are untouched.
 */
import { KernelError, type Kernels, type KVCacheType, type KVRotation } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';
import { bf16ToFloat, halfToFloat } from './ref-half';
import { refDequantize } from './ref-quants';

/** llama.cpp's cache types (quant's iq4_nlr is covered by the runtime's context-shift test). */
const GGML_ID: Partial<Record<KVCacheType, number>> = {
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
/** ggml's kvalues_iq4nl. */
const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Decodes n stored values (ggml block layouts; independent of the kernels' decoders). */
function decode(type: KVCacheType, b: Uint8Array, n: number): Float32Array {
  if (type === 'f16' || type === 'bf16') {
    const u = new Uint16Array(b.buffer, b.byteOffset, n);
    return Float32Array.from(u, (h) => (type === 'f16' ? halfToFloat(h) : bf16ToFloat(h)));
  }
  if (type === 'iq4_nl') {
    const out = new Float32Array(n);
    for (let i = 0; i < n / 32; i++) {
      const o = i * 18;
      const d = halfToFloat((b[o] as number) | ((b[o + 1] as number) << 8));
      for (let j = 0; j < 16; j++) {
        const q = b[o + 2 + j] as number;
        out[i * 32 + j] = d * (IQ4NL[q & 15] as number);
        out[i * 32 + j + 16] = d * (IQ4NL[q >> 4] as number);
      }
    }
    return out;
  }
  return refDequantize(GGML_ID[type] as number, b, n);
}

/** Orthonormal Walsh-Hadamard of every rot-chunk (its own inverse). */
function hadamard(x: Float32Array, rot: number): Float32Array {
  if (!rot) return x;
  const out = new Float32Array(x.length);
  for (let c = 0; c < x.length; c += rot)
    for (let i = 0; i < rot; i++) {
      let s = 0;
      for (let j = 0; j < rot; j++) {
        let p = i & j;
        let bits = 0;
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

interface Rope {
  mode: 'normal' | 'neox';
  nRot: number;
  freqBase: number;
  freqScale: number;
  freqFactors?: Float32Array;
  attnFactor: number;
}

/** RoPE of one row (heads of hd values) at position p, in float64 from the definition. */
function ropeRef(x: Float32Array, p: number, hd: number, r: Rope): Float32Array {
  const out = Float32Array.from(x);
  const half = r.nRot / 2;
  for (let h = 0; h < x.length / hd; h++)
    for (let i = 0; i < half; i++) {
      const ff = r.freqFactors ? (r.freqFactors[i] as number) : 1;
      const th = (r.freqScale * p * r.freqBase ** ((-2 * i) / r.nRot)) / ff;
      const i0 = h * hd + (r.mode === 'neox' ? i : 2 * i);
      const i1 = h * hd + (r.mode === 'neox' ? i + half : 2 * i + 1);
      const a = x[i0] as number;
      const b = x[i1] as number;
      out[i0] = (a * Math.cos(th) - b * Math.sin(th)) * r.attnFactor;
      out[i1] = (a * Math.sin(th) + b * Math.cos(th)) * r.attnFactor;
    }
  return out;
}

function rms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s / a.length);
}

const TYPES: KVCacheType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'];
const QUANTIZED = new Set<KVCacheType>(['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl']);
const factors = Float32Array.from({ length: 32 }, (_, i) => 1 + ((i * 7) % 11) * 0.7);
const ROPES: { label: string; rope: Rope }[] = [
  { label: 'normal, full', rope: { mode: 'normal', nRot: 64, freqBase: 10000, freqScale: 1, attnFactor: 1 } },
  {
    label: 'neox, LongRoPE factors, attention factor, freq scale',
    rope: { mode: 'neox', nRot: 64, freqBase: 10000, freqScale: 0.5, freqFactors: factors, attnFactor: 1.19 },
  },
  {
    label: 'neox, partial (24 of 64)',
    rope: { mode: 'neox', nRot: 24, freqBase: 500000, freqScale: 1, attnFactor: 1 },
  },
];

const hd = 64;
const nKv = 2;
const kvDim = hd * nKv;
const ctx = 40;
const n = 36; // stored positions
const from = 20;
const to = 3;
const count = n - from;

describe.each(
  BACKENDS.filter((b) => b.available).map((b) => [b.name, b] as const),
)('kvShift — %s', (_, b) => {
  let k: Kernels;
  beforeAll(async () => {
    k = await load(b);
  });
  afterAll(() => k?.dispose());

  /** Stores roped keys (and raw values) at 0..n-1 of both layers, shifts layer 1, returns what to compare. */
  function shifted(type: KVCacheType, rotation: KVRotation, r: Rope, recorded = false) {
    const raw = randn(n * kvDim, 7, 2);
    const vals = randn(n * kvDim, 8, 1);
    const cache = k.kvCache({ layers: 2, contextSize: ctx, kvHeads: nKv, headDim: hd, type, rotation });
    const kb = k.f32(n * kvDim);
    const vb = k.f32(n * kvDim);
    const roped = new Float32Array(n * kvDim);
    for (let p = 0; p < n; p++)
      roped.set(ropeRef(raw.subarray(p * kvDim, (p + 1) * kvDim), p, hd, r), p * kvDim);
    kb.write(roped);
    vb.write(vals);
    cache.store(0, 0, n, kb, vb);
    cache.store(1, 0, n, kb, vb);
    const layer0 = cache.readRows(0, 'k', n);
    const vBefore = cache.readRows(1, 'v', n);
    const kBefore = cache.readRows(1, 'k', n);
    // The keys a fresh evaluation at the new positions stores.
    const want = new Float32Array(count * kvDim);
    for (let i = 0; i < count; i++)
      want.set(ropeRef(raw.subarray((from + i) * kvDim, (from + i + 1) * kvDim), to + i, hd, r), i * kvDim);
    const fresh = k.kvCache({ layers: 1, contextSize: ctx, kvHeads: nKv, headDim: hd, type, rotation });
    kb.write(want);
    fresh.store(0, 0, count, kb, vb);
    const shift = () =>
      k.kvShift?.(cache, 1, {
        from,
        to,
        count,
        rope: {
          mode: r.mode,
          nRot: r.nRot,
          freqBase: r.freqBase,
          freqScale: r.freqScale,
          ...(r.freqFactors ? { freqFactors: r.freqFactors } : {}),
        },
      });
    return {
      cache,
      run: async () => {
        if (recorded) await k.run(shift);
        else shift();
        const rot = cache.rotation.k;
        const rowBytes = kBefore.length / n;
        const got = hadamard(
          decode(type, cache.readRows(1, 'k', to + count).slice(to * rowBytes), count * kvDim),
          rot,
        );
        const freshVals = hadamard(decode(type, fresh.readRows(0, 'k', count), count * kvDim), rot);
        const unshifted = hadamard(decode(type, kBefore.slice(from * rowBytes), count * kvDim), rot);
        const vRow = vBefore.length / n;
        const out = {
          want,
          got,
          freshVals,
          unshifted,
          kBefore,
          kAfter: cache.readRows(1, 'k', to + count),
          vMoved: cache.readRows(1, 'v', to + count).slice(to * vRow),
          vWant: vBefore.slice(from * vRow),
          layer0Same: Buffer.from(cache.readRows(0, 'k', n)).equals(Buffer.from(layer0)),
        };
        cache.dispose();
        fresh.dispose();
        kb.dispose();
        vb.dispose();
        return out;
      },
    };
  }

  it('is present on this backend', () => {
    expect(typeof k.kvShift).toBe('function');
  });

  for (const { label, rope } of ROPES) {
    for (const type of TYPES) {
      const rotations: KVRotation[] = QUANTIZED.has(type) ? ['none', 'always'] : ['none'];
      for (const rotation of rotations) {
        it(`${type}${rotation === 'always' ? ' (Hadamard-rotated)' : ''}, ${label}: shifted keys = keys roped at the new positions`, async () => {
          const s = shifted(type, rotation, rope);
          if (rotation === 'always') expect(s.cache.rotation.k).toBe(64);
          const o = await s.run();
          const exact = o.want;
          const errShift = rms(o.got, exact);
          const errFresh = rms(o.freshVals, exact);
          const errNone = rms(o.unshifted, exact);
          if (type === 'f32') expect(errShift).toBeLessThan(2e-5);
          // stored twice (at p, then after the rotation): within about √2 of a single store's error
          else expect(errShift).toBeLessThanOrEqual(2 * errFresh);
          // not vacuous: keys that were only moved are far outside the bound
          expect(errNone).toBeGreaterThan(4 * Math.max(errFresh, errShift, 1e-5));
          // dimensions beyond nRot are untouched (bit for bit with an unrotated f32 cache)
          if (type === 'f32' && rope.nRot < hd) {
            const before = new Float32Array(o.kBefore.buffer.slice(0));
            const after = new Float32Array(o.kAfter.buffer.slice(0));
            for (let i = 0; i < count; i++)
              for (let h = 0; h < nKv; h++)
                for (let d = rope.nRot; d < hd; d++)
                  expect(after[(to + i) * kvDim + h * hd + d]).toBe(before[(from + i) * kvDim + h * hd + d]);
          }
          expect(Buffer.from(o.vMoved).equals(Buffer.from(o.vWant))).toBe(true);
          expect(o.layer0Same).toBe(true);
        });
      }
    }
  }

  it('recorded by kernels.run: the same bytes as the direct call', async () => {
    const rope = ROPES[1]?.rope as Rope;
    const a = await shifted('q4_0', 'always', rope).run();
    const b2 = await shifted('q4_0', 'always', rope, true).run();
    expect(Buffer.from(b2.kAfter).equals(Buffer.from(a.kAfter))).toBe(true);
  });

  it('without rope the rows only move; bad arguments are refused', () => {
    const cache = k.kvCache({ layers: 1, contextSize: 8, kvHeads: nKv, headDim: hd, type: 'f16' });
    const kb = k.f32(8 * kvDim);
    kb.write(randn(8 * kvDim, 3));
    cache.store(0, 0, 8, kb, kb);
    const before = cache.readRows(0, 'k', 8);
    k.kvShift?.(cache, 0, { from: 4, to: 1, count: 4 });
    const row = before.length / 8;
    expect(Buffer.from(cache.readRows(0, 'k', 5).slice(row)).equals(Buffer.from(before.slice(4 * row)))).toBe(
      true,
    );
    const rope = { mode: 'neox' as const, freqBase: 10000 };
    expect(() => k.kvShift?.(cache, 0, { from: 5, to: 0, count: 4, rope })).toThrow(/leaves the context/);
    expect(() => k.kvShift?.(cache, 1, { from: 1, to: 0, count: 1, rope })).toThrow(KernelError);
    expect(() => k.kvShift?.(cache, 0, { from: 1, to: 0, count: 1, rope: { ...rope, nRot: 3 } })).toThrow(
      /even/,
    );
    expect(() =>
      k.kvShift?.(cache, 0, {
        from: 1,
        to: 0,
        count: 1,
        rope: { ...rope, freqFactors: new Float32Array(4) },
      }),
    ).toThrow(KernelError);
    expect(() =>
      k.kvShift?.(cache, 0, { from: 1, to: 0, count: 1, rope: { ...rope, mode: 'x' as 'neox' } }),
    ).toThrow(/mode/);
    cache.dispose();
    kb.dispose();
  });
});
