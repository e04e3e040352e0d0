/** Elementwise ops, norms, RoPE, attention and argmax on every backend against TypeScript references. */

import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, expectExact, load, randn } from './helpers';
import { floatToHalf, halfToFloat } from './ref-half';

const fr = Math.fround;

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`ops [${b.name}]`, () => {
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

    it('reports what runs', () => {
      expect(k.backend).toBe(b.opts.backend);
      if (b.opts.forceScalar) expect(k.simd).toBe('scalar');
      else expect(['avx2', 'neon', 'simd128', 'scalar']).toContain(k.simd);
    });

    it('rmsNorm matches x / sqrt(mean(x²)+eps) * w (rtol 1e-5)', () => {
      const rows = 3,
        cols = 67;
      const x = randn(rows * cols, 1),
        w = randn(cols, 2);
      const out = k.f32(rows * cols);
      k.rmsNorm(out, buf(x), buf(w), rows, cols, 1e-5);
      const ref = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let i = 0; i < cols; i++) s += (x[r * cols + i] as number) ** 2;
        const sc = 1 / Math.sqrt(s / cols + 1e-5);
        for (let i = 0; i < cols; i++)
          ref[r * cols + i] = (x[r * cols + i] as number) * sc * (w[i] as number);
      }
      expectClose(out.read(), ref, 1e-6, 1e-5, 'rmsNorm');
      // in place
      const xb = buf(x);
      k.rmsNorm(xb, xb, buf(w), rows, cols, 1e-5);
      expectClose(xb.read(), ref, 1e-6, 1e-5, 'rmsNorm in place');
    });

    it('softmax rows (atol 1e-6)', () => {
      const rows = 4,
        cols = 33;
      const x = randn(rows * cols, 3, 4);
      const xb = buf(x);
      k.softmax(xb, rows, cols);
      const ref = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const s = e.reduce((a, c) => a + c, 0);
        e.forEach((v, i) => {
          ref[r * cols + i] = v / s;
        });
      }
      expectClose(xb.read(), ref, 1e-6, 1e-5, 'softmax');
    });

    it('silu, swiglu, swigluFused (rtol 1e-6)', () => {
      const n = 100;
      const g = randn(n, 4, 3),
        u = randn(n, 5);
      const silu = (v: number) => v / (1 + Math.exp(-v));
      const gb = buf(g);
      k.silu(gb, n);
      expectClose(gb.read(), Array.from(g, silu), 1e-7, 1e-6, 'silu');
      const out = k.f32(n);
      k.swiglu(out, buf(g), buf(u), n);
      expectClose(
        out.read(),
        Array.from(g, (v, i) => silu(v) * (u[i] as number)),
        1e-7,
        1e-6,
        'swiglu',
      );
      // fused [gate | up] rows, in place
      const rows = 3,
        ff = 20;
      const gu = randn(rows * 2 * ff, 6, 2);
      const ref: number[] = [];
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < ff; i++)
          ref.push(silu(gu[r * 2 * ff + i] as number) * (gu[r * 2 * ff + ff + i] as number));
      const gub = buf(gu);
      k.swigluFused(gub, gub, rows, ff);
      expectClose(gub.read(0, rows * ff), ref, 1e-7, 1e-6, 'swigluFused in place');
    });

    it('add, mul, scale, addBias are exact float32 arithmetic', () => {
      const n = 77;
      const a = randn(n, 7),
        c = randn(n, 8);
      const out = k.f32(n);
      k.add(out, buf(a), buf(c), n);
      expectExact(
        out.read(),
        Array.from(a, (v, i) => fr(v + (c[i] as number))),
        'add',
      );
      k.mul(out, buf(a), buf(c), n);
      expectExact(
        out.read(),
        Array.from(a, (v, i) => fr(v * (c[i] as number))),
        'mul',
      );
      const ab = buf(a);
      k.scale(ab, 0.37, n);
      expectExact(
        ab.read(),
        Array.from(a, (v) => fr(v * fr(0.37))),
        'scale',
      );
      const rows = 7,
        cols = 11;
      const x = randn(rows * cols, 9),
        bias = randn(cols, 10);
      const xb = buf(x);
      k.addBias(xb, buf(bias), rows, cols);
      expectExact(
        xb.read(),
        Array.from(x, (v, i) => fr(v + (bias[i % cols] as number))),
        'addBias',
      );
    });

    it('copyRows strided copy', () => {
      const src = randn(60, 11);
      const dst = k.f32(50);
      const s = buf(src);
      k.copyRows(dst, 2, 12, s, 5, 15, 4, 7);
      const got = dst.read();
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 7; c++) expect(got[2 + r * 12 + c]).toBe(src[5 + r * 15 + c]);
      expect(got[0]).toBe(0);
      expect(got[9]).toBe(0);
    });

    it('argmax returns the first maximum', () => {
      const x = buf(new Float32Array([1, 5, 3, 5, -2, 7, 7]));
      expect(k.argmax(x, 7)).toBe(5);
      expect(k.argmax(x, 4)).toBe(1);
      expect(k.argmax(x, 3, 2)).toBe(1); // [3,5,-2] → index 1 relative to offset
    });

    for (const mode of ['normal', 'neox'] as const) {
      it(`rope ${mode} with partial rotation, freq factors, scale and attn factor (atol 5e-4)`, () => {
        const nTokens = 5,
          pos = 17,
          nHeads = 3,
          headDim = 16,
          nRot = 12;
        const x = randn(nTokens * nHeads * headDim, 12);
        const ff = new Float32Array(nRot / 2).map((_, i) => 1 + i * 0.5);
        const base = 10000,
          fs = 0.5,
          af = 1.2;
        const xb = buf(x);
        k.rope(xb, {
          nTokens,
          pos,
          nHeads,
          headDim,
          nRot,
          mode,
          freqBase: base,
          freqScale: fs,
          freqFactors: ff,
          attnFactor: af,
        });
        const ref = Float64Array.from(x);
        for (let t = 0; t < nTokens; t++)
          for (let h = 0; h < nHeads; h++)
            for (let i = 0; i < nRot / 2; i++) {
              const theta = ((pos + t) * fs * base ** ((-2 * i) / nRot)) / (ff[i] as number);
              const c = Math.cos(theta) * af,
                s = Math.sin(theta) * af;
              const o = (t * nHeads + h) * headDim;
              const i0 = mode === 'neox' ? i : 2 * i,
                i1 = mode === 'neox' ? i + nRot / 2 : 2 * i + 1;
              const x0 = x[o + i0] as number,
                x1 = x[o + i1] as number;
              ref[o + i0] = x0 * c - x1 * s;
              ref[o + i1] = x0 * s + x1 * c;
            }
        expectClose(xb.read(), ref, 5e-4, 1e-4, `rope ${mode}`);
      });
    }

    for (const [type, hd] of [
      ['f32', 8],
      ['f16', 8],
      ['f16', 40],
    ] as const) {
      it(`attention over a ${type} KV cache, head_dim ${hd}: GQA, causal, sliding window${type === 'f16' ? " (llama.cpp's f16 flash attention)" : ' (rtol 1e-4)'}`, () => {
        const layers = 2,
          ctx = 24,
          nHeads = 6,
          nKv = 2,
          kvDim = nKv * hd;
        const cache = k.kvCache({ layers, contextSize: ctx, kvHeads: nKv, headDim: hd, type });
        const total = 13;
        const K = randn(total * kvDim, 20),
          V = randn(total * kvDim, 21);
        // store in two batches into layer 1
        cache.store(1, 0, 9, buf(K.subarray(0, 9 * kvDim)), buf(V.subarray(0, 9 * kvDim)));
        cache.store(1, 9, 4, buf(K.subarray(9 * kvDim)), buf(V.subarray(9 * kvDim)));
        const rd = (a: Float32Array) => (type === 'f16' ? a.map((v) => halfToFloat(floatToHalf(v))) : a);
        const Kr = rd(K),
          Vr = rd(V);
        const pos = 9,
          nTokens = 4;
        const q = randn(nTokens * nHeads * hd, 22);
        for (const window of [0, 5]) {
          const out = k.f32(q.length);
          k.attention(out, buf(q), cache, 1, { nTokens, pos, nHeads, nKvHeads: nKv, headDim: hd, window });
          if (type === 'f16') {
            const ref16 = refFlashAttnF16(q, Kr, Vr, { nTokens, pos, nHeads, nKv, hd, window });
            // The only freedom left is expf's last bit (glibc's vs V8's Math.exp), which can flip one
            // f16 rounding of the accumulator: allow that on ≤ 2% of the elements (≤ 2 f16 ulps).
            const got = out.read();
            let off = 0;
            for (let i = 0; i < got.length; i++) {
              const d = Math.abs((got[i] as number) - (ref16[i] as number));
              if (d > 1e-6 + 1e-5 * Math.abs(ref16[i] as number)) off++;
              expect(d, `f16 flash attention window=${window} element ${i}`).toBeLessThanOrEqual(
                2e-3 * Math.max(1, Math.abs(ref16[i] as number)),
              );
            }
            expect(off, `elements off by more than rounding (window=${window})`).toBeLessThanOrEqual(
              Math.ceil(0.02 * got.length),
            );
            continue;
          }
          const ref = new Float64Array(q.length);
          for (let t = 0; t < nTokens; t++)
            for (let h = 0; h < nHeads; h++) {
              const g = Math.floor(h / (nHeads / nKv));
              const p = pos + t;
              const j0 = window > 0 ? Math.max(0, p - window + 1) : 0;
              const sc: number[] = [];
              for (let j = j0; j <= p; j++) {
                let s = 0;
                for (let i = 0; i < hd; i++)
                  s += (q[(t * nHeads + h) * hd + i] as number) * (Kr[j * kvDim + g * hd + i] as number);
                sc.push(s / Math.sqrt(hd));
              }
              const m = Math.max(...sc);
              const e = sc.map((v) => Math.exp(v - m));
              const z = e.reduce((a, c) => a + c, 0);
              for (let j = j0; j <= p; j++)
                for (let i = 0; i < hd; i++) {
                  const o = (t * nHeads + h) * hd + i;
                  ref[o] =
                    (ref[o] as number) + ((e[j - j0] as number) / z) * (Vr[j * kvDim + g * hd + i] as number);
                }
            }
          expectClose(out.read(), ref, 1e-5, 1e-4, `attention window=${window}`);
        }
        // shift positions 4..12 down to 0..8 and check layer 1 moved (via attention over pos 0 only = V row)
        cache.shift(4, 0, 9);
        const q1 = randn(nHeads * hd, 23);
        const out1 = k.f32(q1.length);
        k.attention(out1, buf(q1), cache, 1, { nTokens: 1, pos: 0, nHeads, nKvHeads: nKv, headDim: hd });
        const exp1: number[] = [];
        for (let h = 0; h < nHeads; h++)
          for (let i = 0; i < hd; i++) exp1.push(Vr[4 * kvDim + Math.floor(h / 3) * hd + i] as number);
        expectClose(out1.read(), exp1, 1e-6, 1e-5, 'attention after shift');
        cache.dispose();
      });
    }

    for (const hd of [8, 40, 64]) {
      it(`attention over an f16 KV cache with flash: false, head_dim ${hd}: llama.cpp's standard path (GQA, causal, sliding window)`, () => {
        const layers = 1,
          ctx = 48,
          nHeads = 4,
          nKv = 2,
          kvDim = nKv * hd;
        const total = 40;
        const K = randn(total * kvDim, 30 + hd),
          V = randn(total * kvDim, 31 + hd);
        const rd = (a: Float32Array) => a.map((v) => halfToFloat(floatToHalf(v)));
        const Kr = rd(K),
          Vr = rd(V);
        // scores of a few units so the softmax is neither flat nor one-hot
        const q = randn(4 * nHeads * hd, 32 + hd).map((v) => v * 2);
        const cache = k.kvCache({ layers, contextSize: ctx, kvHeads: nKv, headDim: hd, type: 'f16' });
        cache.store(0, 0, 30, buf(K.subarray(0, 30 * kvDim)), buf(V.subarray(0, 30 * kvDim)));
        cache.store(0, 30, 10, buf(K.subarray(30 * kvDim)), buf(V.subarray(30 * kvDim)));
        for (const [pos, nTokens] of [
          [0, 1],
          [36, 4],
        ] as const) {
          for (const window of [0, 7]) {
            const qs = q.subarray(0, nTokens * nHeads * hd);
            const opts = { nTokens, pos, nHeads, nKvHeads: nKv, headDim: hd, window };
            const out = k.f32(qs.length);
            k.attention(out, buf(qs), cache, 0, { ...opts, flash: false });
            const ref = refStdAttnF16(qs, Kr, Vr, { nTokens, pos, nHeads, nKv, hd, window });
            const flashRef = refFlashAttnF16(qs, Kr, Vr, { nTokens, pos, nHeads, nKv, hd, window });
            const got = out.read();
            // expf's last bit (glibc / wasi-libc vs V8's Math.exp) can flip one f16 rounding of a
            // probability: allow that on ≤ 2% of the elements; everything else is bit-for-bit.
            let off = 0;
            let flashOff = 0;
            for (let i = 0; i < got.length; i++) {
              const r = ref[i] as number;
              const d = Math.abs((got[i] as number) - r);
              if (d > 1e-6 + 1e-5 * Math.abs(r)) off++;
              if (Math.abs((flashRef[i] as number) - r) > 1e-6 + 1e-5 * Math.abs(r)) flashOff++;
              expect(d, `standard attention pos=${pos} window=${window} element ${i}`).toBeLessThanOrEqual(
                2e-3 * Math.max(1, Math.abs(r)),
              );
            }
            expect(
              off,
              `elements off by more than rounding (pos=${pos} window=${window})`,
            ).toBeLessThanOrEqual(Math.ceil(0.02 * got.length));
            // the two paths round at different points: the reference must tell them apart
            if (pos > 0)
              expect(flashOff, 'flash and standard references differ').toBeGreaterThan(got.length / 10);
            // flash: true (the default) still follows the flash path
            const outF = k.f32(qs.length);
            k.attention(outF, buf(qs), cache, 0, opts);
            let fOff = 0;
            const gotF = outF.read();
            for (let i = 0; i < gotF.length; i++) {
              const r = flashRef[i] as number;
              if (Math.abs((gotF[i] as number) - r) > 1e-6 + 1e-5 * Math.abs(r)) fOff++;
            }
            expect(fOff, 'default path is flash').toBeLessThanOrEqual(Math.ceil(0.02 * gotF.length));
          }
        }
        cache.dispose();
      });
    }

    it('attention over an f32 KV cache ignores flash: false (nothing is rounded)', () => {
      const hd = 16,
        nKv = 1,
        nHeads = 2;
      const cache = k.kvCache({ layers: 1, contextSize: 8, kvHeads: nKv, headDim: hd, type: 'f32' });
      cache.store(0, 0, 5, buf(randn(5 * hd, 40)), buf(randn(5 * hd, 41)));
      const q = buf(randn(nHeads * hd, 42));
      const a = k.f32(nHeads * hd),
        c = k.f32(nHeads * hd);
      const p = { nTokens: 1, pos: 4, nHeads, nKvHeads: nKv, headDim: hd };
      k.attention(a, q, cache, 0, p);
      k.attention(c, q, cache, 0, { ...p, flash: false });
      expectExact(c.read(), a.read(), 'f32 cache, flash on vs off');
      cache.dispose();
    });
  });
}

/**
 * llama.cpp's CPU flash attention over an f16 cache, written from ggml's description
 * (ggml_compute_forward_flash_attn_ext_f16_one_chunk with ggml_vec_dot_f16 / ggml_vec_mad_f16 /
 * ggml_vec_scale_f16 as built for AVX2): query rounded to f16; each score is an f16·f16 dot summed
 * in 4×8 f32 lanes over 32-element steps (reduced lanes j+2→j, j+1→j, high half→low half, two
 * horizontal adds) plus the tail in double; online softmax whose V accumulator is stored as f16
 * after every rescale and every fused multiply-add; output = acc / S.
 */
function refFlashAttnF16(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  o: { nTokens: number; pos: number; nHeads: number; nKv: number; hd: number; window: number },
): Float64Array {
  const { nTokens, pos, nHeads, nKv, hd, window } = o;
  const f = Math.fround;
  const h16 = (x: number) => halfToFloat(floatToHalf(x));
  const kvDim = nKv * hd;
  const out = new Float64Array(nTokens * nHeads * hd);
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => refDotF16(a, b, hd);
  const scale = f(1 / Math.sqrt(hd));
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / (nHeads / nKv));
      const p = pos + t;
      const j0 = window > 0 ? Math.max(0, p - window + 1) : 0;
      const qh = Array.from(q.subarray((t * nHeads + h) * hd, (t * nHeads + h + 1) * hd), h16);
      const acc = new Array<number>(hd).fill(0);
      let M = Number.NEGATIVE_INFINITY;
      let S = 0;
      for (let j = j0; j <= p; j++) {
        const s = f(dot(K.subarray(j * kvDim + g * hd, j * kvDim + g * hd + hd), qh) * scale);
        let ms = 1;
        let vs = 1;
        if (s > M) {
          ms = f(Math.exp(M - s));
          M = s;
          for (let i = 0; i < hd; i++) acc[i] = h16(f((acc[i] as number) * ms));
        } else vs = f(Math.exp(s - M));
        for (let i = 0; i < hd; i++)
          acc[i] = h16((V[j * kvDim + g * hd + i] as number) * vs + (acc[i] as number));
        S = f(f(S * ms) + vs);
      }
      for (let i = 0; i < hd; i++) out[(t * nHeads + h) * hd + i] = f((acc[i] as number) * f(1 / S));
    }
  return out;
}

/**
 * ggml_vec_dot_f16 as built for AVX2 over two f16-valued vectors of length n: 32-element steps summed
 * in 4×8 f32 lanes (reduced lanes j+2→j, j+1→j, high half→low half, two horizontal adds), the tail
 * added in double.
 */
function refDotF16(a: ArrayLike<number>, b: ArrayLike<number>, hd: number): number {
  const f = Math.fround;
  const np = hd & ~31;
  let sum = 0;
  if (np > 0) {
    const lanes = Array.from({ length: 4 }, () => new Array<number>(8).fill(0));
    for (let i = 0; i < np; i += 32)
      for (let j = 0; j < 4; j++)
        for (let l = 0; l < 8; l++)
          (lanes[j] as number[])[l] = f(
            ((lanes[j] as number[])[l] as number) +
              f((a[i + j * 8 + l] as number) * (b[i + j * 8 + l] as number)),
          );
    const [l0, l1, l2, l3] = lanes as [number[], number[], number[], number[]];
    for (let l = 0; l < 8; l++) {
      l0[l] = f((l0[l] as number) + (l2[l] as number));
      l1[l] = f((l1[l] as number) + (l3[l] as number));
    }
    for (let l = 0; l < 8; l++) l0[l] = f((l0[l] as number) + (l1[l] as number));
    const t = [0, 1, 2, 3].map((l) => f((l0[l] as number) + (l0[l + 4] as number))) as [
      number,
      number,
      number,
      number,
    ];
    sum = f(f(t[0] + t[1]) + f(t[2] + t[3]));
  }
  for (let i = np; i < hd; i++) sum += (a[i] as number) * (b[i] as number);
  return f(sum);
}

/**
 * llama.cpp's standard (non-flash) attention over an f16 cache, written from ggml's description
 * (llama-graph.cpp build_attn_mha without flash attention; ggml-cpu mul_mat with an f16 src0, whose
 * vec_dot_type F16 converts the f32 src1 to f16; ops.cpp soft_max_f32 with vec.cpp
 * ggml_vec_soft_max_f32 for AVX2): q rounded to f16; score = f16·f16 dot (f32 lanes) × scale; masked
 * positions of the row 0..n32 (n32 = pos+1 rounded up to 32, llama.cpp's padded KV length) are −∞;
 * e = exp(w − max), summed in f32 groups of 8 ((e0+e4)+(e2+e6)) + ((e1+e5)+(e3+e7)) added into a
 * double; P = f16(e · f32(1/sum)); out[i] = f16·f16 dot over positions of V[·][i] with P.
 */
function refStdAttnF16(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  o: { nTokens: number; pos: number; nHeads: number; nKv: number; hd: number; window: number },
): Float64Array {
  const { nTokens, pos, nHeads, nKv, hd, window } = o;
  const f = Math.fround;
  const h16 = (x: number) => halfToFloat(floatToHalf(x));
  const kvDim = nKv * hd;
  const out = new Float64Array(nTokens * nHeads * hd);
  const scale = f(1 / Math.sqrt(hd));
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / (nHeads / nKv));
      const p = pos + t;
      const n32 = Math.ceil((p + 1) / 32) * 32;
      const j0 = window > 0 ? Math.max(0, p - window + 1) : 0;
      const qh = Array.from(q.subarray((t * nHeads + h) * hd, (t * nHeads + h + 1) * hd), h16);
      const w = new Array<number>(n32).fill(Number.NEGATIVE_INFINITY);
      for (let j = j0; j <= p; j++)
        w[j] = f(refDotF16(K.subarray(j * kvDim + g * hd, j * kvDim + g * hd + hd), qh, hd) * scale);
      const max = Math.max(...w);
      const e = w.map((x) => (x === Number.NEGATIVE_INFINITY ? 0 : f(Math.exp(f(x - max)))));
      let sum = 0;
      for (let j = 0; j < n32; j += 8) {
        const a = [0, 1, 2, 3].map((l) => f((e[j + l] as number) + (e[j + l + 4] as number))) as [
          number,
          number,
          number,
          number,
        ];
        sum += f(f(a[0] + a[2]) + f(a[1] + a[3]));
      }
      const inv = f(1 / sum);
      const P = e.map((x) => h16(f(x * inv)));
      for (let i = 0; i < hd; i++) {
        const col = new Array<number>(n32).fill(0);
        for (let j = j0; j <= p; j++) col[j] = V[j * kvDim + g * hd + i] as number;
        out[(t * nHeads + h) * hd + i] = refDotF16(col, P, n32);
      }
    }
  return out;
}
