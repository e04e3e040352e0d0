/**
 * quantize(): Q8_0 / Q4_0 bit-exact with ggml's reference quantizer (re-implemented in the test),
 * F16 / BF16 / F32 exact conversions, and K-quants (Q4_K, Q5_K, Q6_K) whose round-trip error beats
 * plain min/max quantization on synthetic data; on the shared pad256 models the default output is
 * byte-identical with llama-quantize's and `{ refine: true }` has no larger error.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectExact, load, randn } from './helpers';
import { floatToBf16, floatToHalf } from './ref-half';
import {
  naiveRmse,
  naiveSymRmse,
  refDequantize,
  refQuantizeQ4_0,
  refQuantizeQ4_1,
  refQuantizeQ5_0,
  refQuantizeQ5_1,
  refQuantizeQ8_0,
  rmse,
  T,
} from './ref-quants';

const sharedModels = join(__dirname, '..', '..', '..', '..', 'shared', 'models');
const f32Model = join(sharedModels, 'stories260K-llama-pad256-f32.gguf');
const haveShared = existsSync(f32Model);
if (!haveShared)
  console.warn(`[kernels tests] ${f32Model} absent: skipping the comparison with llama-quantize's K-quants`);

function bytesEq(a: Uint8Array, b: Uint8Array, what: string) {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) throw new Error(`${what}: byte ${i}: got ${a[i]}, expected ${b[i]}`);
}

function testData(n: number, seed: number): Float32Array {
  const x = randn(n, seed);
  x.fill(0, 0, 32); // an all-zero block
  for (let i = 64; i < 96; i++) x[i] = (i % 5) - 2; // exact ties
  x[100] = -20; // negative max
  return x;
}

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`quantize [${b.name}]`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());

    it('Q8_0 matches ggml reference quantization bit for bit', () => {
      const x = testData(4 * 256, 1);
      bytesEq(k.quantize(T.Q8_0, x, 4, 256), refQuantizeQ8_0(x), 'Q8_0');
    });

    it('Q4_0 matches ggml reference quantization bit for bit', () => {
      const x = testData(4 * 256, 2);
      bytesEq(k.quantize(T.Q4_0, x, 4, 256), refQuantizeQ4_0(x), 'Q4_0');
    });

    for (const [type, name, ref] of [
      [T.Q4_1, 'Q4_1', refQuantizeQ4_1],
      [T.Q5_0, 'Q5_0', refQuantizeQ5_0],
      [T.Q5_1, 'Q5_1', refQuantizeQ5_1],
    ] as const) {
      it(`${name} matches ggml reference quantization bit for bit (incl. constant and zero blocks)`, () => {
        const x = testData(4 * 256, 10 + type);
        x.fill(0.25, 0, 32); // constant block: d = 0 (Q4_1/Q5_1), all equal magnitudes (Q5_0)
        x.fill(0, 32, 64); // zero block
        bytesEq(k.quantize(type, x, 4, 256), ref(x), name);
        const back = k.dequantize(type, k.quantize(type, x, 4, 256), x.length);
        expectExact(back, refDequantize(type, ref(x), x.length), `${name} decode`);
      });
    }

    it('F16, BF16 and F32 conversions are exact (round to nearest even)', () => {
      const x = randn(1000, 3, 100);
      x[0] = 65519;
      x[1] = 65520;
      x[2] = 1e-8;
      x[3] = -3e-5;
      x[4] = Number.POSITIVE_INFINITY;
      x[5] = 2 ** -24 * 1.5; // a tie between two subnormal halves
      const h = new Uint16Array(k.quantize(T.F16, x, 1, 1000).buffer.slice(0));
      expectExact(h, Array.from(x, floatToHalf), 'F16');
      const bf = new Uint16Array(k.quantize(T.BF16, x, 10, 100).buffer.slice(0));
      expectExact(bf, Array.from(x, floatToBf16), 'BF16');
      const f = new Float32Array(k.quantize(T.F32, x, 2, 500).buffer.slice(0));
      expectExact(f, x, 'F32');
    });

    for (const [type, name, bits, group] of [
      [T.Q2_K, 'Q2_K', 2, 16],
      [T.Q3_K, 'Q3_K', 3, 16],
      [T.Q4_K, 'Q4_K', 4, 32],
      [T.Q5_K, 'Q5_K', 5, 32],
      [T.Q6_K, 'Q6_K', 6, 16],
    ] as const) {
      it(`${name} round trip beats plain min/max quantization and decodes with the reference decoder`, () => {
        const rows = 8,
          cols = 512;
        const x = randn(rows * cols, 10 + type);
        x.fill(0, 0, 32);
        const q = k.quantize(type, x, rows, cols);
        const y = refDequantize(type, q, rows * cols);
        expectExact(k.dequantize(type, q, rows * cols), y, `${name} decode`);
        const ours = rmse(x, y);
        const refined = rmse(
          x,
          refDequantize(type, k.quantize(type, x, rows, cols, { refine: true }), rows * cols),
        );
        expect(refined).toBeLessThanOrEqual(ours * 1.000001);
        const naive =
          type === T.Q6_K || type === T.Q3_K ? naiveSymRmse(x, group, bits) : naiveRmse(x, group, bits);
        expect(ours, `${name} rmse ${ours} vs naive ${naive}`).toBeLessThan(naive);
        // the zero block stays zero
        for (let i = 0; i < 32; i++) expect(Math.abs(y[i] as number)).toBe(0);
      });
    }

    describe.skipIf(!haveShared)('against llama-quantize on stories260K-llama-pad256', () => {
      for (const [file, type, name] of [
        ['stories260K-llama-pad256-q2_k.gguf', T.Q2_K, 'Q2_K'],
        ['stories260K-llama-pad256-q3_k_m.gguf', T.Q3_K, 'Q3_K'],
        ['stories260K-llama-pad256-q4_k_m.gguf', T.Q4_K, 'Q4_K'],
        ['stories260K-llama-pad256-q5_k_m.gguf', T.Q5_K, 'Q5_K'],
        ['stories260K-llama-pad256-q6_k.gguf', T.Q6_K, 'Q6_K'],
        ['stories260K-llama-pad256-q8_0.gguf', T.Q8_0, 'Q8_0'],
      ] as const) {
        it(`${name}: same bytes as llama-quantize; { refine: true } RMSE <= llama-quantize's (${file})`, async () => {
          const { parseGGUF } = await import('@quant/gguf');
          const src = await parseGGUF(f32Model);
          const ref = await parseGGUF(join(sharedModels, file));
          let compared = 0;
          try {
            for (const t of ref.tensors) {
              if (t.type !== type) continue;
              const cols = t.shape[0] as number;
              const rows = t.nElements / cols;
              const x = new Float32Array((await src.readTensorData(t.name)).slice().buffer);
              const theirs = refDequantize(type, await ref.readTensorData(t.name), t.nElements);
              // default: ggml's reference algorithm, byte for byte
              bytesEq(k.quantize(type, x, rows, cols), await ref.readTensorData(t.name), `${t.name} bytes`);
              // refine: lower (or equal) error than llama-quantize
              const mine = k.dequantize(type, k.quantize(type, x, rows, cols, { refine: true }), t.nElements);
              const eMine = rmse(x, mine);
              const eTheirs = rmse(x, theirs);
              expect(eMine, `${t.name}: ours ${eMine} vs llama-quantize ${eTheirs}`).toBeLessThanOrEqual(
                eTheirs * 1.0001 + 1e-12,
              );
              compared++;
            }
          } finally {
            await src.close();
            await ref.close();
          }
          expect(compared).toBeGreaterThan(0);
        });
      }
    });
  });
}
