/**
 * matmul / getRows / dequantize for every weight type and backend, against TypeScript reference
 * decoders. matmul's tolerance is derived from the activation quantization the fast path does
 * (Q8_0/Q8_1 for 32-element types, Q8_K for K-quants): |error| <= Σ|w|·(step/2 of x's block) plus
 * float accumulation slack. SIMD results must also agree with the forced-scalar path to 1e-5.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, expectExact, load, randn, rng } from './helpers';
import { BLOCK, randomBlocks, refDequantize, T, TYPE_NAMES } from './ref-quants';

const WEIGHT_TYPES = [
  T.F32,
  T.F16,
  T.BF16,
  T.Q4_0,
  T.Q4_1,
  T.Q5_0,
  T.Q5_1,
  T.Q8_0,
  T.Q2_K,
  T.Q3_K,
  T.Q4_K,
  T.Q5_K,
  T.Q6_K,
];

/** Per-element bound on |x - dequant(quant(x))| for the activation format of `type`. */
function actErrorBound(type: number, x: Float32Array, cols: number): Float64Array {
  const e = new Float64Array(x.length);
  const isK = type >= T.Q2_K && type <= T.Q6_K;
  const isFloat = type === T.F32 || type === T.F16 || type === T.BF16;
  if (isFloat) return e;
  const g = isK ? 256 : 32;
  for (let s = 0; s < x.length; s += g) {
    let amax = 0;
    for (let i = s; i < s + g; i++) amax = Math.max(amax, Math.abs(x[i] as number));
    const d = amax / 127;
    // f16 rounding of d (Q8_0/Q8_1) adds up to 127·d·2^-11 per element
    const b = isK ? 0.5 * d * 1.0001 : 0.5 * d + 127 * d * 2 ** -11 + 1e-12;
    for (let i = s; i < s + g; i++) e[i] = b;
  }
  void cols;
  return e;
}

function refMatmul(W: Float32Array, rows: number, cols: number, x: Float32Array, nTok: number, type: number) {
  const out = new Float64Array(rows * nTok);
  const tol = new Float64Array(rows * nTok);
  const e = actErrorBound(type, x, cols);
  for (let t = 0; t < nTok; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0,
        bound = 0,
        mag = 0;
      for (let c = 0; c < cols; c++) {
        const w = W[r * cols + c] as number,
          xv = x[t * cols + c] as number;
        s += w * xv;
        bound += Math.abs(w) * (e[t * cols + c] as number);
        mag += Math.abs(w * xv);
      }
      out[t * rows + r] = s;
      // Q4_1/Q5_1 also carry the f16-rounded block sum s = d·Σq: ≤ |m|·2^-11·|s| per block, covered by mag slack
      tol[t * rows + r] = bound + 2e-5 * mag + 1e-6 + (type === T.Q4_1 || type === T.Q5_1 ? 1e-3 * mag : 0);
    }
  return { out, tol };
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`matmul / dequantize [${b.name}]`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());

    for (const type of WEIGHT_TYPES) {
      const name = TYPE_NAMES[type];
      const [bs] = BLOCK[type] as [number, number];
      const cols = bs === 256 ? 512 : 96;

      it(`${name}: dequantize is bit-exact with the reference decoder`, () => {
        const n = cols * 3;
        const data = randomBlocks(type, n, rng(type + 100));
        expectExact(k.dequantize(type, data, n), refDequantize(type, data, n), `${name} dequantize`);
      });

      it(`${name}: matvec and batched matmul within the activation-quantization bound`, () => {
        const rows = 37;
        const data = randomBlocks(type, rows * cols, rng(type + 200));
        const W = refDequantize(type, data, rows * cols);
        const w = k.weight(type, rows, cols, data);
        for (const nTok of [1, 3, 40]) {
          const x = randn(nTok * cols, type * 7 + nTok);
          const xb = k.f32(x.length);
          xb.write(x);
          const out = k.f32(rows * nTok);
          k.matmul(out, w, xb, nTok);
          const got = out.read();
          const { out: ref, tol } = refMatmul(W, rows, cols, x, nTok, type);
          for (let i = 0; i < got.length; i++) {
            const err = Math.abs((got[i] as number) - (ref[i] as number));
            if (!(err <= (tol[i] as number)))
              throw new Error(
                `${name} nTok=${nTok} out[${i}]: got ${got[i]}, ref ${ref[i]}, err ${err} > tol ${tol[i]}`,
              );
          }
        }
        w.dispose();
      });

      it(`${name}: getRows returns exact dequantized rows`, () => {
        const rows = 9;
        const data = randomBlocks(type, rows * cols, rng(type + 300));
        const W = refDequantize(type, data, rows * cols);
        const w = k.weight(type, rows, cols, data);
        const ids = [3, 0, 8, 3];
        const out = k.f32(ids.length * cols);
        k.getRows(out, w, ids);
        const exp = new Float32Array(ids.length * cols);
        for (const [t, id] of ids.entries()) exp.set(W.subarray(id * cols, (id + 1) * cols), t * cols);
        expectExact(out.read(), exp, `${name} getRows`);
      });
    }

    it.skipIf(b.opts.backend !== 'native')(
      'weightFromFile maps tensor bytes at an unaligned file offset',
      () => {
        const rows = 16,
          cols = 256;
        const data = randomBlocks(T.Q4_K, rows * cols, rng(900));
        const dir = mkdtempSync(join(tmpdir(), 'qk-'));
        const file = join(dir, 'w.bin');
        const offset = 4096 * 3 + 37;
        const bytes = new Uint8Array(offset + data.length + 11);
        bytes.set(data, offset);
        writeFileSync(file, bytes);
        try {
          expect(k.canMapFiles).toBe(true);
          const mapped = k.weightFromFile?.(file, offset, T.Q4_K, rows, cols);
          if (!mapped) throw new Error('weightFromFile missing');
          const held = k.weight(T.Q4_K, rows, cols, data);
          const x = k.f32(cols);
          x.write(randn(cols, 5));
          const o1 = k.f32(rows),
            o2 = k.f32(rows);
          k.matmul(o1, mapped, x, 1);
          k.matmul(o2, held, x, 1);
          expectExact(o1.read(), o2.read(), 'mapped vs held');
          const ids = [15, 2];
          const g = k.f32(2 * cols);
          k.getRows(g, mapped, ids);
          const W = refDequantize(T.Q4_K, data, rows * cols);
          expectExact(g.read(0, cols), W.subarray(15 * cols, 16 * cols), 'mapped getRows');
          mapped.dispose();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it('large matmul uses the thread pool and agrees with the scalar path', async () => {
      const scalar = await load({ ...b, opts: { ...b.opts, forceScalar: true } });
      try {
        for (const type of [T.Q4_K, T.Q6_K, T.Q8_0, T.F16, T.Q4_0, T.Q5_K, T.Q3_K, T.Q2_K]) {
          const rows = 300,
            cols = 1024,
            nTok = 5;
          const data = randomBlocks(type, rows * cols, rng(type + 400));
          const x = randn(nTok * cols, 77);
          const run = (kk: Kernels) => {
            const w = kk.weight(type, rows, cols, data);
            const xb = kk.f32(x.length);
            xb.write(x);
            const out = kk.f32(rows * nTok);
            kk.matmul(out, w, xb, nTok);
            return out.read();
          };
          const a = run(k),
            s = run(scalar);
          let mag = 0;
          for (const v of s) mag = Math.max(mag, Math.abs(v));
          expectClose(a, s, 1e-5 * mag + 1e-6, 1e-5, `${TYPE_NAMES[type]} simd vs scalar`);
        }
      } finally {
        scalar.dispose();
      }
      expect(k.threads).toBeGreaterThanOrEqual(1);
    });
  });
}
