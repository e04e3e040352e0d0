/**
 * Shapes at the edges of the kernels' loops, on every backend (and, through scripts/test-asan.mjs,
 * under AddressSanitizer): a single block per row (one K-quant super-block: 256 columns), odd
 * block counts with odd row counts and token counts around the 4-token, 8-row and 32-token tiles,
 * and attention head sizes that are not multiples of 8 (SIMD lanes) on f32 and f16 caches, flash
 * and standard paths. Expected values are plain TypeScript references: the reference decoders of
 * ref-quants.ts (dequantize, getRows exact), the bound of ref-matmul.ts (matmul), double-precision
 * softmax attention (attention; K/V rounded to f16 for an f16 cache).
 */
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, expectExact, load, randn, rng } from './helpers';
import { floatToHalf, halfToFloat } from './ref-half';
import { refMatmul } from './ref-matmul';
import { BLOCK, randomBlocks, refDequantize, T, TYPE_NAMES } from './ref-quants';

const TYPES = [
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

/** [rows, blocks per row, token counts]: one block; odd block counts with odd rows, across tiles. */
const SHAPES: [number, number, number[]][] = [
  [1, 1, [1, 2, 5]],
  [3, 1, [1, 4, 9]],
  [7, 3, [1, 3, 8, 33]],
  [13, 5, [1, 5]],
  [9, 1, [32, 35]],
];

/** Double-precision causal softmax attention with GQA and an optional sliding window. */
function refAttention(
  q: Float32Array,
  K: Float32Array,
  V: Float32Array,
  p: { nTokens: number; pos: number; nHeads: number; nKv: number; hd: number; window: number },
): Float64Array {
  const { nTokens, pos, nHeads, nKv, hd, window } = p;
  const kvDim = nKv * hd;
  const out = new Float64Array(nTokens * nHeads * hd);
  for (let t = 0; t < nTokens; t++)
    for (let h = 0; h < nHeads; h++) {
      const g = Math.floor(h / (nHeads / nKv));
      const at = pos + t;
      const j0 = window > 0 ? Math.max(0, at - window + 1) : 0;
      const sc: number[] = [];
      for (let j = j0; j <= at; j++) {
        let s = 0;
        for (let i = 0; i < hd; i++)
          s += (q[(t * nHeads + h) * hd + i] as number) * (K[j * kvDim + g * hd + i] as number);
        sc.push(s / Math.sqrt(hd));
      }
      const m = Math.max(...sc);
      const e = sc.map((v) => Math.exp(v - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let j = j0; j <= at; j++)
        for (let i = 0; i < hd; i++) {
          const o = (t * nHeads + h) * hd + i;
          out[o] = (out[o] as number) + ((e[j - j0] as number) / z) * (V[j * kvDim + g * hd + i] as number);
        }
    }
  return out;
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`edge shapes [${b.name}]`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());

    for (const type of TYPES) {
      const name = TYPE_NAMES[type];
      const [bs] = BLOCK[type] as [number, number];
      it(`${name}: one block per row and odd block counts — dequantize and getRows exact, matmul within the bound`, () => {
        for (const [rows, blocks, tokenCounts] of SHAPES) {
          const cols = bs * blocks;
          const what = `${name} ${rows}×${cols}`;
          const data = randomBlocks(type, rows * cols, rng(type * 31 + rows * 7 + blocks));
          const W = refDequantize(type, data, rows * cols);
          expectExact(k.dequantize(type, data, rows * cols), W, `${what} dequantize`);
          const w = k.weight(type, rows, cols, data);
          const ids = [rows - 1, 0, Math.floor(rows / 2)];
          const got = k.f32(ids.length * cols);
          k.getRows(got, w, ids);
          const exp = new Float32Array(ids.length * cols);
          ids.forEach((id, t) => {
            exp.set(W.subarray(id * cols, (id + 1) * cols), t * cols);
          });
          expectExact(got.read(), exp, `${what} getRows`);
          for (const nTok of tokenCounts) {
            const x = randn(nTok * cols, type * 13 + nTok + rows);
            const xb = k.f32(x.length);
            xb.write(x);
            const out = k.f32(rows * nTok);
            k.matmul(out, w, xb, nTok);
            const res = out.read();
            const { out: ref, tol } = refMatmul(W, rows, cols, x, nTok, type);
            for (let i = 0; i < res.length; i++) {
              const err = Math.abs((res[i] as number) - (ref[i] as number));
              if (!(err <= (tol[i] as number)))
                throw new Error(
                  `${what} nTok=${nTok} out[${i}]: got ${res[i]}, ref ${ref[i]}, err ${err} > ${tol[i]}`,
                );
            }
            xb.dispose();
            out.dispose();
          }
          got.dispose();
          w.dispose();
        }
      });
    }

    for (const hd of [1, 3, 5, 12, 20, 36, 100]) {
      for (const [type, flash] of [
        ['f32', true],
        ['f16', true],
        ['f16', false],
      ] as const) {
        it(`attention, head size ${hd}, ${type} cache${type === 'f16' ? (flash ? ', flash path' : ', standard path') : ''}: GQA, causal, sliding window`, () => {
          const nHeads = 4;
          const nKv = 2;
          const kvDim = nKv * hd;
          const total = 11;
          const cache = k.kvCache({ layers: 2, contextSize: 16, kvHeads: nKv, headDim: hd, type });
          const K = randn(total * kvDim, hd * 3 + 1);
          const V = randn(total * kvDim, hd * 3 + 2);
          const kb = k.f32(K.length);
          kb.write(K);
          const vb = k.f32(V.length);
          vb.write(V);
          cache.store(1, 0, total, kb, vb);
          const round = (a: Float32Array) => (type === 'f16' ? a.map((v) => halfToFloat(floatToHalf(v))) : a);
          const Kr = round(K);
          const Vr = round(V);
          // Rows: one decode token at the end, then three tokens ending there (a prompt batch).
          for (const [nTokens, pos] of [
            [1, total - 1],
            [3, total - 3],
          ] as const) {
            for (const window of [0, 4]) {
              const q = randn(nTokens * nHeads * hd, hd * 3 + nTokens + window);
              const qb = k.f32(q.length);
              qb.write(q);
              const out = k.f32(q.length);
              k.attention(out, qb, cache, 1, {
                nTokens,
                pos,
                nHeads,
                nKvHeads: nKv,
                headDim: hd,
                window,
                flash,
              });
              const ref = refAttention(q, Kr, Vr, { nTokens, pos, nHeads, nKv, hd, window });
              const what = `hd=${hd} ${type} flash=${flash} nTokens=${nTokens} window=${window}`;
              // f32: float accumulation only. f16: the query (and on the standard path the
              // probabilities) rounded to f16 and, on the flash path, an f16 V accumulator.
              if (type === 'f32') expectClose(out.read(), ref, 1e-5, 1e-4, what);
              else {
                const got = out.read();
                for (let i = 0; i < got.length; i++)
                  expect(
                    Math.abs((got[i] as number) - (ref[i] as number)),
                    `${what} element ${i}`,
                  ).toBeLessThanOrEqual(4e-3 * Math.max(1, Math.abs(ref[i] as number)));
              }
              qb.dispose();
              out.dispose();
            }
          }
          kb.dispose();
          vb.dispose();
          cache.dispose();
        });
      }
    }
  });
}
