// The quantizers quantize uses are @quant/kernels': Q4_1/Q5_0/Q5_1 decode within their step, and
// Q4_K/Q5_K/Q6_K/Q8_0/Q4_0 write llama-quantize's exact bytes on the shared pad256 model's tensors.

import { parseGGUF } from '@quant/gguf';
import { type Kernels, loadKernels } from '@quant/kernels';
import { mulberry32 } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_TARGETS } from '../src/row-quantizer.js';
import { haveShared, model } from './helpers/shared.js';

let k: Kernels;
beforeAll(async () => {
  k = await loadKernels({ threads: 1 });
});
afterAll(() => k.dispose());

function sample(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() - 0.5) * (i % 64 < 32 ? 0.05 : 3) + (i % 101 === 0 ? 2 : 0);
  x.fill(0, 64, 96); // an all-zero block
  return x;
}

it('every target type planQuantization can pick for a quantizeModel run comes from the kernels', () => {
  for (const t of [0, 1, 30, 2, 3, 6, 7, 8, 12, 13, 14])
    expect(KERNEL_TARGETS.has(t), `type ${t}`).toBe(true);
});

describe('32-element block types from the kernels (Q4_1, Q5_0, Q5_1)', () => {
  const x = sample(32 * 64, 3);
  for (const [type, name, levels] of [
    [3, 'Q4_1', 15],
    [6, 'Q5_0', 31],
    [7, 'Q5_1', 31],
  ] as const) {
    // Q5_0 is symmetric around the largest-magnitude value: levels -16..15, so the far end may be off by a whole step.
    it(`${name}: decodes back every value within its block's step`, () => {
      const q = k.quantize(type, x, 64, 32);
      expect(q.length).toBe((x.length / 32) * (type === 3 ? 20 : type === 6 ? 22 : 24));
      const y = k.dequantize(type, q, x.length);
      for (let b = 0; b < x.length / 32; b++) {
        const blk = x.subarray(b * 32, b * 32 + 32);
        const range = Math.max(...blk) - Math.min(...blk, 0);
        const tol =
          type === 6
            ? Math.max(...blk.map(Math.abs)) / 16
            : (Math.max(...blk) - Math.min(...blk)) / levels / 2;
        for (let i = 0; i < 32; i++) {
          expect(Math.abs(y[b * 32 + i]! - blk[i]!), `block ${b}`).toBeLessThanOrEqual(
            tol + range * 2e-3 + 1e-7,
          );
        }
      }
    });
  }
});

describe.skipIf(!haveShared)("the kernels write llama-quantize's exact bytes (shared pad256 models)", () => {
  for (const [type, file] of [
    [12, 'q4_k_m'],
    [13, 'q5_k_m'],
    [14, 'q6_k'],
    [8, 'q8_0'],
  ] as const) {
    it(`type ${type} vs stories260K-llama-pad256-${file}.gguf`, async () => {
      const f32 = await parseGGUF(model('stories260K-llama-pad256-f32.gguf'));
      const q = await parseGGUF(model(`stories260K-llama-pad256-${file}.gguf`));
      let checked = 0;
      for (const t of q.tensors) {
        if (t.type !== type) continue;
        const src = await f32.readTensorData(t.name);
        const floats = new Float32Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength));
        const cols = t.shape[0] as number;
        const got = k.quantize(type, floats, floats.length / cols, cols);
        expect(Buffer.compare(got, await q.readTensorData(t.name)), t.name).toBe(0);
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      await f32.close();
      await q.close();
    });
  }
});
