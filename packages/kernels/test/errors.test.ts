/** Invalid calls throw KernelError with a code, before any C code runs. */

import { KernelError, type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load } from './helpers';
import { T } from './ref-quants';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KernelError)) throw new Error(`expected a KernelError, got ${String(e)}`);
    expect(e.message.length).toBeGreaterThan(10);
    return e.code;
  }
  throw new Error('expected a KernelError, nothing was thrown');
}

it('loadKernels rejects unknown backends and bad thread counts', async () => {
  await expect(loadKernels({ backend: 'gpu' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  await expect(loadKernels({ threads: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
});

it("'native' reports a missing addon as BACKEND_UNAVAILABLE; 'auto' falls back to wasm and says why", async () => {
  const saved = process.env.QUANT_KERNELS_ADDON;
  process.env.QUANT_KERNELS_ADDON = '/nonexistent/quant_kernels.node';
  try {
    await expect(loadKernels({ backend: 'native' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    const wasmOk = BACKENDS.find((b) => b.name === 'wasm')?.available;
    if (wasmOk) {
      const k = await loadKernels({ backend: 'auto' });
      expect(k.backend).toBe('wasm');
      expect(k.fallbackReason).toMatch(/native addon not found/);
      k.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env.QUANT_KERNELS_ADDON;
    else process.env.QUANT_KERNELS_ADDON = saved;
  }
});

it('QUANT_KERNELS_SIMD=scalar forces the scalar paths', async () => {
  const b = BACKENDS.find((x) => x.available);
  if (!b) return;
  process.env.QUANT_KERNELS_SIMD = 'scalar';
  try {
    const k = await loadKernels({ backend: b.opts.backend });
    expect(k.simd).toBe('scalar');
    k.dispose();
  } finally {
    delete process.env.QUANT_KERNELS_SIMD;
  }
});

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`typed errors [${b.name}]`, () => {
    let k: Kernels;
    let other: Kernels;
    beforeAll(async () => {
      k = await load(b);
      other = await load(b);
    });
    afterAll(() => {
      k?.dispose();
      other?.dispose();
    });

    it('weights: unknown type, block misalignment, short data', () => {
      expect(code(() => k.weight(99, 2, 32, new Uint8Array(100)))).toBe('UNSUPPORTED_TYPE');
      expect(code(() => k.weight(T.Q4_0, 2, 33, new Uint8Array(100)))).toBe('BLOCK_MISALIGNED');
      expect(code(() => k.weight(T.Q4_K, 1, 128, new Uint8Array(1000)))).toBe('BLOCK_MISALIGNED');
      expect(code(() => k.weight(T.Q8_0, 2, 32, new Uint8Array(67)))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.weight(T.F32, 0, 4, new Uint8Array(16)))).toBe('INVALID_ARGUMENT');
    });

    it('matmul: sizes, aliasing, disposed and foreign objects', () => {
      const w = k.weight(T.Q8_0, 4, 64, new Uint8Array(4 * 2 * 34));
      const x = k.f32(64 * 2);
      const out = k.f32(4 * 2);
      expect(code(() => k.matmul(out, w, x, 3))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.matmul(out, w, x, 0))).toBe('INVALID_ARGUMENT');
      expect(code(() => k.matmul(out, w, x, 1.5))).toBe('INVALID_ARGUMENT');
      expect(code(() => k.matmul(x, w, x, 1))).toBe('ALIASING');
      const foreign = other.f32(64);
      expect(code(() => k.matmul(out, w, foreign, 1))).toBe('FOREIGN_OBJECT');
      k.matmul(out, w, x, 2);
      w.dispose();
      expect(w.disposed).toBe(true);
      expect(code(() => k.matmul(out, w, x, 1))).toBe('DISPOSED');
      x.dispose();
      expect(code(() => x.view())).toBe('DISPOSED');
      expect(code(() => k.add(out, x, out, 1))).toBe('DISPOSED');
    });

    it('dequantize / quantize: type, block and length checks', () => {
      expect(code(() => k.dequantize(T.Q4_K, new Uint8Array(144), 128))).toBe('BLOCK_MISALIGNED');
      expect(code(() => k.dequantize(T.Q4_K, new Uint8Array(143), 256))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.dequantize(42, new Uint8Array(16), 4))).toBe('UNSUPPORTED_TYPE');
      expect(code(() => k.quantize(42 as never, new Float32Array(256), 1, 256))).toBe('UNSUPPORTED_TYPE');
      expect(code(() => k.quantize(T.Q8_0, new Float32Array(40), 1, 40))).toBe('BLOCK_MISALIGNED');
      expect(code(() => k.quantize(T.Q8_0, new Float32Array(32), 2, 32))).toBe('OUT_OF_BOUNDS');
    });

    it('ops: bounds, ids, rope and attention parameters', () => {
      const a = k.f32(10);
      expect(code(() => k.add(a, a, a, 11))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.scale(a, Number.NaN, 4))).toBe('INVALID_ARGUMENT');
      expect(code(() => k.rmsNorm(a, a, a, 2, 6, 1e-5))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.argmax(a, 5, 6))).toBe('OUT_OF_BOUNDS');
      expect(code(() => k.copyRows(a, 0, 5, a, 0, 5, 3, 5))).toBe('OUT_OF_BOUNDS');
      expect(code(() => a.write([1, 2, 3], 8))).toBe('OUT_OF_BOUNDS');
      const w = k.weight(T.F32, 3, 4, new Uint8Array(48));
      expect(code(() => k.getRows(a, w, [0, 3]))).toBe('INVALID_ARGUMENT');
      expect(code(() => k.getRows(a, w, [0, 1, 2]))).toBe('OUT_OF_BOUNDS');
      expect(
        code(() =>
          k.rope(a, { nTokens: 1, pos: 0, nHeads: 1, headDim: 10, nRot: 3, mode: 'neox', freqBase: 1e4 }),
        ),
      ).toBe('INVALID_ARGUMENT');
      expect(
        code(() =>
          k.rope(a, { nTokens: 1, pos: 0, nHeads: 1, headDim: 10, mode: 'weird' as never, freqBase: 1e4 }),
        ),
      ).toBe('INVALID_ARGUMENT');
      expect(
        code(() => k.rope(a, { nTokens: 2, pos: 0, nHeads: 1, headDim: 10, mode: 'normal', freqBase: 1e4 })),
      ).toBe('OUT_OF_BOUNDS');
      expect(
        code(() =>
          k.rope(a, {
            nTokens: 1,
            pos: 0,
            nHeads: 1,
            headDim: 10,
            mode: 'normal',
            freqBase: 1e4,
            freqFactors: new Float32Array(2),
          }),
        ),
      ).toBe('OUT_OF_BOUNDS');
      const cache = k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 2, type: 'f16' });
      const q = k.f32(8);
      expect(code(() => cache.store(0, 3, 2, q, q))).toBe('OUT_OF_BOUNDS');
      expect(code(() => cache.store(1, 0, 1, q, q))).toBe('INVALID_ARGUMENT');
      expect(code(() => cache.shift(2, 0, 3))).toBe('OUT_OF_BOUNDS');
      expect(
        code(() => k.attention(q, q, cache, 0, { nTokens: 1, pos: 4, nHeads: 2, nKvHeads: 1, headDim: 2 })),
      ).toBe('OUT_OF_BOUNDS');
      expect(
        code(() => k.attention(q, q, cache, 0, { nTokens: 1, pos: 0, nHeads: 3, nKvHeads: 2, headDim: 2 })),
      ).toBe('INVALID_ARGUMENT');
      expect(
        code(() =>
          k.attention(q, q, cache, 0, {
            nTokens: 1,
            pos: 0,
            nHeads: 2,
            nKvHeads: 1,
            headDim: 2,
            flash: 'no' as never,
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
      expect(code(() => k.kvCache({ layers: 1, contextSize: 0, kvHeads: 1, headDim: 2, type: 'f32' }))).toBe(
        'INVALID_ARGUMENT',
      );
      cache.dispose();
      expect(code(() => cache.store(0, 0, 1, q, q))).toBe('DISPOSED');
    });

    it('weightFromFile is native-only and reports bad files', () => {
      if (!k.canMapFiles) {
        expect(code(() => k.weightFromFile?.('/x', 0, T.F32, 1, 4))).toBe('NOT_SUPPORTED');
        return;
      }
      expect(code(() => k.weightFromFile?.('/nonexistent/file.gguf', 0, T.F32, 1, 4))).toBe('MAP_FAILED');
      expect(code(() => k.weightFromFile?.('/etc/hostname', 1 << 30, T.F32, 1, 4))).toBe('MAP_FAILED');
    });

    it('a disposed Kernels instance refuses further calls', async () => {
      const k2 = await load(b);
      const buf = k2.f32(4);
      k2.dispose();
      expect(buf.disposed).toBe(true);
      expect(code(() => k2.f32(4))).toBe('DISPOSED');
    });
  });
}
