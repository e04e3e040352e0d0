// Our own quantizers (fallback 32-block types and the exact K-quant port), checked against
// @quant/kernels' independent decoders and against llama-quantize's bytes.

import { parseGGUF } from '@quant/gguf';
import { type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../src/half.js';
import { kernelsMatchGgml, quantizeKRef } from '../src/kquants-ref.mjs';
import { quantizeLegacy } from '../src/legacy-quants.js';
import { haveShared, model } from './helpers/shared.js';
import { rng } from './helpers/synthetic.js';

let k: Kernels;
beforeAll(async () => {
  k = await loadKernels({ threads: 1 });
});
afterAll(() => k.dispose());

function sample(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() - 0.5) * (i % 64 < 32 ? 0.05 : 3) + (i % 101 === 0 ? 2 : 0);
  x.fill(0, 64, 96); // an all-zero block
  return x;
}

describe('fallback block quantizers (Q4_1, Q5_0, Q5_1)', () => {
  const x = sample(32 * 64, 3);
  for (const [type, name, levels] of [
    [3, 'Q4_1', 15],
    [6, 'Q5_0', 31],
    [7, 'Q5_1', 31],
  ] as const) {
    // Q5_0 is symmetric around the largest-magnitude value: levels -16..15, so the far end may be off by a whole step.
    it(`${name}: the kernels' decoder gives back every value within its block's step`, () => {
      const q = quantizeLegacy(type, x);
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

describe('exact Q4_K / Q5_K port', () => {
  const x = sample(256 * 32, 9);
  for (const [type, name, levels] of [
    [12, 'Q4_K', 15],
    [13, 'Q5_K', 31],
  ] as const) {
    it(`${name}: decodes close to the input`, () => {
      const y = k.dequantize(type, quantizeKRef(type, x), x.length);
      let err = 0;
      let pow = 0;
      for (let i = 0; i < x.length; i++) {
        err += (y[i]! - x[i]!) ** 2;
        pow += x[i]! ** 2;
      }
      // Relative RMS error of a 4/5-bit quantizer on these values.
      expect(Math.sqrt(err / pow)).toBeLessThan(levels === 15 ? 0.1 : 0.05);
    });

    it.skipIf(!haveShared)(`${name}: writes llama-quantize's exact bytes`, async () => {
      const f32 = await parseGGUF(model('stories260K-llama-pad256-f32.gguf'));
      const q = await parseGGUF(model(`stories260K-llama-pad256-${type === 12 ? 'q4_k_m' : 'q5_k_m'}.gguf`));
      for (const name of ['blk.0.attn_q.weight', 'blk.1.ffn_up.weight', 'token_embd.weight']) {
        const src = await f32.readTensorData(name);
        const floats = new Float32Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength));
        expect(Buffer.compare(quantizeKRef(type, floats), await q.readTensorData(name)), name).toBe(0);
      }
      await f32.close();
      await q.close();
    });
  }

  it('the probe accepts an exact quantizer and rejects one that differs in a single byte', () => {
    const exact = { quantize: (t: number, src: Float32Array) => quantizeKRef(t, src) };
    const offByOne = {
      quantize: (t: number, src: Float32Array) => {
        const q = quantizeKRef(t, src);
        q[q.length - 100] = (q[q.length - 100] as number) ^ 1;
        return q;
      },
    };
    for (const type of [12, 13]) {
      expect(kernelsMatchGgml(exact, type)).toBe(true);
      expect(kernelsMatchGgml(offByOne, type)).toBe(false);
    }
  });

  it('the probe that decides native vs port agrees with a direct comparison', () => {
    for (const type of [12, 13]) {
      const same = Buffer.compare(k.quantize(type, x, x.length / 256, 256), quantizeKRef(type, x)) === 0;
      if (!same) expect(kernelsMatchGgml(k, type)).toBe(false);
    }
  });
});

describe('half floats', () => {
  it('f32 → f16 rounds as the kernels do (nearest even), incl. subnormals and overflow', () => {
    const r = rng(5);
    const vals = [
      0,
      -0,
      1,
      -1,
      65504,
      65520,
      1e6,
      6e-8,
      3e-8,
      2.98e-8,
      1e-5,
      0.1,
      1 / 3,
      Number.POSITIVE_INFINITY,
    ];
    for (let i = 0; i < 2000; i++) vals.push((r() - 0.5) * 2 ** Math.floor(r() * 40 - 28));
    const x = new Float32Array(vals);
    const bytes = k.quantize(1, x, 1, x.length);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < x.length; i++) expect(f32ToF16Bits(x[i]!), `${x[i]}`).toBe(dv.getUint16(i * 2, true));
    for (let h = 0; h < 0x7c00; h += 7) expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
  });
});
