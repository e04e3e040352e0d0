/**
 * The fast matmul mode (csrc/plan.h): on CPUs with AVX-512 VNNI, Q8_0, Q4_K, Q5_K and Q6_K weights with
 * rows % 16 == 0 are repacked once into 16-row interleaved groups (csrc/repack.c) and multiplied by
 * csrc/arch/x86/avx512.c. Checked against the double-precision product of the dequantized weights
 * (tolerance: the activation-quantization bound of ref-matmul.ts), against parity mode, and for
 * exact getRows, batch = decode, and file-mapped = in-memory weights. AVX2-only and AVX-512-without-VNNI
 * CPUs repack the K-quants for csrc/arch/x86/avx2.c (fast-matmul-isa.test.ts runs those kernels on a
 * VNNI host too). Where the plan keeps the plain layout these tests check that fast mode then equals
 * parity mode bit for bit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExact, nativeBuilt, randn, rng } from './helpers';
import { refMatmul } from './ref-matmul';
import { randomBlocks, refDequantize, rowBytes, T, TYPE_NAMES } from './ref-quants';

const layoutOf = (w: unknown) => ((w as { code: number }).code >> 8) & 255;

if (!nativeBuilt) console.warn('[kernels tests] fast-matmul: native addon not built, skipped');

describe.skipIf(!nativeBuilt)('fast matmul mode (repacked weights)', () => {
  let fast: Kernels;
  let parity: Kernels;
  let dir: string;
  beforeAll(async () => {
    fast = await loadKernels({ backend: 'native', threads: 2, mode: 'fast' });
    parity = await loadKernels({ backend: 'native', threads: 2, mode: 'parity' });
    dir = mkdtempSync(join(tmpdir(), 'quant-fast-mm-'));
  });
  afterAll(() => {
    fast?.dispose();
    parity?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports its mode and ISA', () => {
    expect(fast.mode).toBe('fast');
    expect(parity.mode).toBe('parity');
    expect(['avx512vnni', 'avx512', 'avx2', 'neon', 'scalar']).toContain(fast.isa);
  });

  const mm = (k: Kernels, w: ReturnType<Kernels['weight']>, x: Float32Array, rows: number, nTok: number) => {
    const xb = k.f32(x.length);
    xb.write(x);
    const out = k.f32(rows * nTok);
    k.matmul(out, w, xb, nTok);
    const r = out.read();
    xb.dispose();
    out.dispose();
    return r;
  };

  for (const type of [T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]) {
    const name = TYPE_NAMES[type];
    // 16 and 48 rows: groups within one 64-row chunk; 80: a chunk with one group; 40: not a multiple
    // of 16 (plain layout, parity kernels)
    for (const [rows, cols] of [
      [16, type === T.Q8_0 ? 96 : 256],
      [48, 512],
      [80, 768],
      [40, 512],
    ] as [number, number][]) {
      it(`${name} ${rows}×${cols}: within the activation-quantization bound, batch = decode, getRows exact`, () => {
        // every x86 plan level from AVX2 up repacks every type here (AVX2 / AVX-512-without-VNNI hosts:
        // csrc/arch/x86/avx2.c)
        const repacked =
          rows % 16 === 0 && (fast.isa === 'avx512vnni' || fast.isa === 'avx2' || fast.isa === 'avx512');
        const data = randomBlocks(type, rows * cols, rng(type * 31 + rows));
        const W = refDequantize(type, data, rows * cols);
        const w = fast.weight(type, rows, cols, data);
        const wp = parity.weight(type, rows, cols, data);
        // the layout the plan chose (internal: type code = ggml type | layout << 8)
        expect(layoutOf(w), 'fast-mode layout').toBe(repacked ? 1 : 0);
        expect(layoutOf(wp), 'parity mode never repacks').toBe(0);
        const single: Float32Array[] = [];
        const nMax = 37;
        const x = randn(nMax * cols, type + rows + cols);
        for (let t = 0; t < nMax; t++)
          single.push(mm(fast, w, x.subarray(t * cols, (t + 1) * cols), rows, 1));
        for (const nTok of [1, 2, 3, 4, 5, 9, 33, 37]) {
          const xs = x.subarray(0, nTok * cols);
          const got = mm(fast, w, xs, rows, nTok);
          const { out: ref, tol } = refMatmul(W, rows, cols, xs, nTok, type);
          for (let i = 0; i < got.length; i++) {
            const err = Math.abs((got[i] as number) - (ref[i] as number));
            if (!(err <= (tol[i] as number)))
              throw new Error(
                `${name} nTok=${nTok} out[${i}]: got ${got[i]}, ref ${ref[i]}, err ${err} > ${tol[i]}`,
              );
          }
          // repacked kernels: every token gets its decode result (the parity Q4_K path with rows % 8 == 0
          // follows llama.cpp, whose gemm and gemv orders differ)
          if (repacked)
            for (let t = 0; t < nTok; t++)
              expectExact(
                got.subarray(t * rows, (t + 1) * rows),
                single[t] as Float32Array,
                `token ${t} of ${nTok}`,
              );
          const gp = mm(parity, wp, xs, rows, nTok);
          if (!repacked) expectExact(got, gp, `fast = parity (nTok=${nTok})`);
        }
        const ids = [0, rows - 1, 5, rows >> 1, 15];
        const g = fast.f32(ids.length * cols);
        fast.getRows(g, w, ids);
        const got = g.read();
        for (let i = 0; i < ids.length; i++)
          expectExact(
            got.subarray(i * cols, (i + 1) * cols),
            W.subarray((ids[i] as number) * cols, ((ids[i] as number) + 1) * cols),
            `getRows row ${ids[i]}`,
          );
        g.dispose();
        w.dispose();
        wp.dispose();
      });
    }

    it(`${name}: matmuls sharing an input inside run() (activations quantized once) equal the calls one by one`, async () => {
      const cols = 512;
      const x = randn(5 * cols, 1234);
      const ws = [48, 32, 16].map((rows, i) => ({
        rows,
        w: fast.weight(type, rows, cols, randomBlocks(type, rows * cols, rng(type * 5 + i))),
      }));
      // a Q8_0 weight between them has another activation format: the next one must not reuse it
      const other = type === T.Q8_0 ? T.Q4_K : T.Q8_0;
      const wo = fast.weight(other, 16, cols, randomBlocks(other, 16 * cols, rng(3)));
      const order = [ws[0], ws[1], { rows: 16, w: wo }, ws[2]] as {
        rows: number;
        w: ReturnType<Kernels['weight']>;
      }[];
      for (const nTok of [1, 5]) {
        const xb = fast.f32(nTok * cols);
        xb.write(x.subarray(0, nTok * cols));
        const outs = order.map((o) => fast.f32(o.rows * nTok));
        await fast.run(() => {
          for (let i = 0; i < order.length; i++)
            fast.matmul(outs[i] as ReturnType<Kernels['f32']>, (order[i] as (typeof order)[0]).w, xb, nTok);
        });
        for (let i = 0; i < order.length; i++) {
          const o = order[i] as (typeof order)[0];
          expectExact(
            (outs[i] as ReturnType<Kernels['f32']>).read(),
            mm(fast, o.w, x.subarray(0, nTok * cols), o.rows, nTok),
            `matmul ${i}`,
          );
        }
        for (const b of [xb, ...outs]) b.dispose();
      }
      for (const o of order) o.w.dispose();
    });

    it(`${name}: a file-mapped weight multiplies exactly like the same bytes handed over in memory`, () => {
      const rows = 32;
      const cols = 512;
      const data = randomBlocks(type, rows * cols, rng(type + 7));
      const pad = 123;
      const file = join(dir, `${name}.bin`);
      const bytes = new Uint8Array(pad + data.length);
      bytes.set(data, pad);
      writeFileSync(file, bytes);
      expect(rowBytes(type, cols) * rows).toBe(data.length);
      const wm = fast.weightFromFile?.(file, pad, type, rows, cols);
      if (!wm) throw new Error('native kernels must map files');
      const w = fast.weight(type, rows, cols, data);
      const x = randn(6 * cols, 99);
      expectExact(mm(fast, wm, x, rows, 6), mm(fast, w, x, rows, 6), 'mapped vs in-memory');
      wm.dispose();
      w.dispose();
    });
  }
});
