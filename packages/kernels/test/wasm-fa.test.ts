/**
 * The wasm modules' SIMD128 flash-attention helpers (f16 K·Q dot, accumulator scale, V multiply-add in
 * csrc/arch/wasm/vec-dot-simd128.c) against the scalar definitions they replace (csrc/attention.c's
 * qk_fa_dot_f16 / qk_fa_scale_f16 / qk_fa_mad_f16, which the forced-scalar wasm backend runs): f16
 * flash attention must give the same bits with both, including f16 subnormals, accumulators that
 * overflow to inf, nan, and head sizes whose tail the 4-lane loops leave to scalar code. The same
 * cases cover the SIMD128 f32↔f16 row conversions (KV stores, the query, the output), and F16
 * quantization checks f32 → f16 against the format's rounding (ref-half.ts) at its edges.
 */

import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';
import { floatToHalf } from './ref-half';

const simd = BACKENDS.filter((b) => b.name === 'wasm' || b.name === 'wasm-mt-relaxed');
const scalar = BACKENDS.find((b) => b.name === 'wasm-scalar');

describe.skipIf(!scalar?.available || simd.every((b) => !b.available))(
  'wasm SIMD128 f16 flash attention',
  () => {
    let ks: Kernels;
    const kv: { name: string; k: Kernels }[] = [];
    beforeAll(async () => {
      ks = await load(scalar as (typeof BACKENDS)[number]);
      for (const b of simd) if (b.available) kv.push({ name: b.name, k: await load(b) });
    });
    afterAll(() => {
      ks?.dispose();
      for (const { k } of kv) k.dispose();
    });

    /** attention of nTokens query rows at `pos` over `total` stored keys, on one backend */
    function run(
      k: Kernels,
      hd: number,
      K: Float32Array,
      V: Float32Array,
      q: Float32Array,
      o: { total: number; nTokens: number; nHeads: number; nKv: number },
    ): Uint32Array {
      const cache = k.kvCache({ layers: 1, contextSize: o.total, kvHeads: o.nKv, headDim: hd, type: 'f16' });
      const kb = k.f32(K.length);
      const vb = k.f32(V.length);
      const qb = k.f32(q.length);
      const out = k.f32(q.length);
      kb.write(K);
      vb.write(V);
      qb.write(q);
      cache.store(0, 0, o.total, kb, vb);
      k.attention(out, qb, cache, 0, {
        nTokens: o.nTokens,
        pos: o.total - o.nTokens,
        nHeads: o.nHeads,
        nKvHeads: o.nKv,
        headDim: hd,
      });
      const r = new Uint32Array(out.read().buffer.slice(0));
      for (const b of [kb, vb, qb, out]) b.dispose();
      cache.dispose();
      return r;
    }

    const cases: { name: string; hd: number; kScale: number; vScale: number; poison?: 'v-nan' | 'k-inf' }[] =
      [
        { name: 'random, head_dim 96 (3 dot steps)', hd: 96, kScale: 1, vScale: 1 },
        { name: 'random, head_dim 40 (dot tail of 8)', hd: 40, kScale: 1, vScale: 1 },
        { name: 'random, head_dim 38 (4-lane tail of 2)', hd: 38, kScale: 1, vScale: 1 },
        { name: 'f16 subnormal K and V', hd: 40, kScale: 2e-6, vScale: 3e-6 },
        { name: 'V accumulators past 65504 (inf)', hd: 40, kScale: 0.05, vScale: 3e4 },
        { name: 'large scores (K·Q near f16 range)', hd: 96, kScale: 40, vScale: 1 },
        { name: 'a nan in V', hd: 40, kScale: 1, vScale: 1, poison: 'v-nan' },
        { name: 'an inf in K', hd: 40, kScale: 1, vScale: 1, poison: 'k-inf' },
      ];
    for (const c of cases)
      it(`${c.name}: same bits as the scalar helpers`, () => {
        const o = { total: 37, nTokens: 3, nHeads: 4, nKv: 2 };
        const K = randn(o.total * o.nKv * c.hd, 31, c.kScale);
        const V = randn(o.total * o.nKv * c.hd, 32, c.vScale);
        const q = randn(o.nTokens * o.nHeads * c.hd, 33);
        if (c.poison === 'v-nan') V[5 * o.nKv * c.hd + 3] = Number.NaN;
        if (c.poison === 'k-inf') K[7 * o.nKv * c.hd + 1] = Number.POSITIVE_INFINITY;
        const want = run(ks, c.hd, K, V, q, o);
        for (const { name, k } of kv) {
          const got = run(k, c.hd, K, V, q, o);
          let diff = 0;
          let first = -1;
          for (let i = 0; i < got.length; i++)
            if (got[i] !== want[i]) {
              diff++;
              if (first < 0) first = i;
            }
          expect(diff, `${name}: ${diff} of ${got.length} outputs differ (first at ${first})`).toBe(0);
        }
        // the case means something: varied outputs, and the special values it is about
        const f = new Float32Array(want.buffer);
        expect(new Set(want).size).toBeGreaterThan(c.poison ? 1 : 8);
        if (c.vScale > 1e3) expect(f.some((x) => !Number.isFinite(x)) && f.some(Number.isFinite)).toBe(true);
        if (c.poison === 'v-nan') expect(f.some(Number.isNaN)).toBe(true);
      });

    it('f32 → f16 rows (KV stores, F16 quantization) round like the format: edge values and halfway cases', () => {
      const edge = [
        0,
        -0,
        1,
        -1,
        65504,
        65519.99,
        65520,
        -65520,
        1e9,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        Number.NaN,
        2 ** -14,
        2 ** -15,
        2 ** -24,
        2 ** -25,
        3 * 2 ** -26,
        2 ** -26,
        6e-8,
        1e-30,
        2047.5,
        2048.5,
        2049,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        0.1,
        -Math.PI,
      ];
      const x = new Float32Array(4 * 64 + 3); // + 3: the scalar tail after the 4-lane loop
      x.set(edge);
      x.set(randn(x.length - edge.length, 41, 300), edge.length);
      const want = Uint16Array.from(x, (v) => floatToHalf(v));
      for (const { name, k } of kv) {
        const got = new Uint16Array(k.quantize(1, x, 1, x.length).slice().buffer);
        const bad = [...got].findIndex((h, i) => h !== want[i]);
        expect(bad, `${name}: first wrong half at ${bad} (x = ${x[bad]})`).toBe(-1);
      }
    });
  },
);
