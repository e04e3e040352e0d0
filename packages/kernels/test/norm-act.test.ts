/**
 * LayerNorm and the two GELUs on every backend against TypeScript references written from their
 * definitions and from ggml-cpu's f32 code paths (ggml/src/ggml-cpu/vec.h: ggml_vec_gelu_f32 with
 * GGML_GELU_FP16 — input rounded to f16, looked up in a table of f16(gelu_tanh(h)) — and
 * ggml_vec_gelu_erf_f32; ops.cpp ggml_compute_forward_norm_f32).
 */
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, load, randn } from './helpers';
import { floatToHalf, halfToFloat } from './ref-half';

const fr = Math.fround;
const f16 = (x: number) => halfToFloat(floatToHalf(x));

/** ggml's tanh GELU in f32 steps (tanh itself in double, then rounded: within 1 ulp of tanhf). */
function geluTanhF32(x: number): number {
  const inner = fr(fr(0.7978845608028654 * x) * fr(1 + fr(fr(0.044715 * x) * x)));
  return fr(fr(0.5 * x) * fr(1 + fr(Math.tanh(inner))));
}

/** ggml_vec_gelu_f32 (GGML_GELU_FP16). */
function refGelu(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  return f16(geluTanhF32(f16(x)));
}

/** erf(x) by its Maclaurin series in double (|x| ≤ 4; ≥ 1 − 1.6e-8 beyond), plenty for f32 checks. */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 4) return Math.sign(x) * (1 - 1.541725790028002e-8);
  let term = a;
  let sum = a;
  for (let n = 1; n < 200; n++) {
    term *= (-a * a) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`layerNorm / gelu [${b.name}]`, () => {
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

    const layerNormRef = (
      x: Float32Array,
      w: Float32Array | undefined,
      bias: Float32Array | undefined,
      rows: number,
      cols: number,
      eps: number,
    ) => {
      const ref = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * cols, (r + 1) * cols);
        const mean = row.reduce((s, v) => s + v, 0) / cols;
        const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols;
        for (let i = 0; i < cols; i++) {
          let v = ((row[i] as number) - mean) / Math.sqrt(variance + eps);
          if (w) v *= w[i] as number;
          if (bias) v += bias[i] as number;
          ref[r * cols + i] = v;
        }
      }
      return ref;
    };

    it('layerNorm matches (x − mean)/sqrt(var + eps)·w + b (rtol 1e-5), with and without w/b, in place', () => {
      const rows = 5;
      const cols = 83;
      // an offset mean, so a norm that forgot to subtract it fails
      const x = randn(rows * cols, 11, 2).map((v) => v + 3);
      const w = randn(cols, 12);
      const bias = randn(cols, 13);
      const eps = 1e-5;
      for (const [label, wb, bb] of [
        ['w + b', w, bias],
        ['w only', w, undefined],
        ['b only', undefined, bias],
        ['neither', undefined, undefined],
      ] as const) {
        const out = k.f32(rows * cols);
        k.layerNorm(out, buf(x), wb && buf(wb), bb && buf(bb), rows, cols, eps);
        expectClose(out.read(), layerNormRef(x, wb, bb, rows, cols, eps), 2e-5, 1e-5, `layerNorm ${label}`);
      }
      const xb = buf(x);
      k.layerNorm(xb, xb, buf(w), buf(bias), rows, cols, eps);
      expectClose(xb.read(), layerNormRef(x, w, bias, rows, cols, eps), 2e-5, 1e-5, 'layerNorm in place');
      // eps matters for a constant row (variance 0): 1/sqrt(eps) scaling of 0 stays 0, + bias
      const c = new Float32Array(cols).fill(7);
      const out = k.f32(cols);
      k.layerNorm(out, buf(c), buf(w), buf(bias), 1, cols, 1e-5);
      expectClose(out.read(), bias, 0, 0, 'layerNorm of a constant row is the bias');
    });

    it('layerNorm rejects a negative eps and short buffers', () => {
      const x = buf(new Float32Array(8));
      expect(() => k.layerNorm(x, x, undefined, undefined, 1, 8, -1)).toThrow(/eps/);
      expect(() => k.layerNorm(x, x, buf(new Float32Array(4)), undefined, 1, 8, 1e-5)).toThrow(
        /layerNorm\(weight\)/,
      );
    });

    it('gelu is ggml’s f16-table tanh GELU: f16 in, f16 out, ±10 cut-offs', () => {
      const n = 4096;
      const x = randn(n, 21, 3);
      // the cut-offs and their neighbourhoods, zero, tiny and f16-overflowing inputs
      x.set([-10, -10.5, 10, 12.25, -9.99, 9.99, 0, -0, 1e-8, -1e-8, 70000, -70000], 0);
      const out = k.f32(n);
      k.gelu(out, buf(x), n);
      const got = out.read();
      let exact = 0;
      for (let i = 0; i < n; i++) {
        const want = refGelu(x[i] as number);
        const g = got[i] as number;
        if (Object.is(g, want) || g === want) exact++;
        else {
          // tanhf vs rounded Math.tanh may differ by an f32 ulp, which can move an f16 rounding by one step
          const ulp = Math.abs(f16(want * (1 + 2 ** -10)) - want) || 2 ** -24;
          expect(Math.abs(g - want), `gelu(${x[i]}) = ${g}, expected ${want}`).toBeLessThanOrEqual(ulp);
        }
        if (Math.abs(x[i] as number) < 10) expect(f16(g), `gelu(${x[i]}) is an f16 value`).toBe(g);
      }
      expect(exact / n).toBeGreaterThan(0.99);
      expect(got[0]).toBe(0);
      expect(got[2]).toBe(10);
      expect(got[3]).toBe(12.25);
      // unrounded GELU differs: the op really goes through f16
      expect(got.some((g, i) => Math.abs(x[i] as number) < 10 && g !== geluTanhF32(x[i] as number))).toBe(
        true,
      );
      // in place
      const xb = buf(x);
      k.gelu(xb, xb, n);
      expect(Array.from(xb.read())).toEqual(Array.from(got));
    });

    it('geluErf is 0.5·x·(1 + erf(x/√2)) in f32 (rtol 2e-6)', () => {
      const n = 2048;
      const x = randn(n, 31, 3);
      x.set([0, -12, 12, 1e-7], 0);
      const out = k.f32(n);
      k.geluErf(out, buf(x), n);
      const ref = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        // f32 steps as C: 1 + erff(·) is exactly 0 for x below about −5.4
        ref[i] = fr(fr(0.5 * v) * fr(1 + fr(erf(fr(v * fr(Math.SQRT1_2))))));
      }
      expectClose(out.read(), ref, 1e-7, 2e-6, 'geluErf');
      // and not the tanh approximation
      const tanhOut = k.f32(n);
      k.gelu(tanhOut, buf(x), n);
      expect(Array.from(out.read())).not.toEqual(Array.from(tanhOut.read()));
    });

    it('the new ops run recorded in kernels.run() like every table op', async () => {
      const rows = 3;
      const cols = 40;
      const x = randn(rows * cols, 41);
      const w = randn(cols, 42);
      const bias = randn(cols, 43);
      const direct = k.f32(rows * cols);
      k.layerNorm(direct, buf(x), buf(w), buf(bias), rows, cols, 1e-5);
      k.gelu(direct, direct, rows * cols);
      const xb = buf(x);
      const wb = buf(w);
      const bb = buf(bias);
      const recorded = k.f32(rows * cols);
      await k.run(() => {
        k.layerNorm(recorded, xb, wb, bb, rows, cols, 1e-5);
        k.gelu(recorded, recorded, rows * cols);
        k.geluErf(xb, xb, rows * cols);
      });
      expect(Array.from(recorded.read())).toEqual(Array.from(direct.read()));
    });
  });
}
