/**
 * matmul / getRows / dequantize for every weight type and backend, against TypeScript reference
 * decoders. matmul's tolerance is derived from the activation quantization the fast path does
 * (Q8_0/Q8_1 for 32-element types, Q8_K for K-quants): |error| <= Σ|w|·(step/2 of x's block) plus
 * float accumulation slack. SIMD results must also agree with the forced-scalar path to 1e-5.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectClose, expectExact, load, randn, rng } from './helpers';
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './ref-half';
import { refMatmul } from './ref-matmul';
import { BLOCK, h, randomBlocks, refDequantize, scaleMinK4, T, TYPE_NAMES } from './ref-quants';

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

/**
 * F16 / BF16 weights the way llama.cpp's AVX2 CPU backend multiplies them: activations rounded to
 * the weight's half type (ggml's vec_dot_type), every product exact in f32, summed in f32 in
 * ggml's order — one token: ggml_vec_dot_f16/_bf16 (4 accumulators × 8 lanes per 32 elements,
 * tail in double); two or more tokens with cols % 8 == 0: llamafile's tinyBLAS (1 accumulator × 8
 * lanes, hsum). Reductions: f16 vec = ((l0+l4)+(l1+l5))+((l2+l6)+(l3+l7)); the others
 * ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); bf16 vec first merges accumulators as (a0+a2)+(a1+a3),
 * f16 vec as a0+=a2, a1+=a3, a0+=a1 (the same pairing).
 */
function refHalfMatmul(
  W: Float32Array,
  rows: number,
  cols: number,
  x: Float32Array,
  nTok: number,
  bf: boolean,
) {
  const f = Math.fround;
  const rd = bf ? (v: number) => bf16ToFloat(floatToBf16(v)) : (v: number) => halfToFloat(floatToHalf(v));
  const xr = x.map(rd);
  const redHadd = (l: number[]) =>
    f(
      f(f((l[0] as number) + (l[4] as number)) + f((l[1] as number) + (l[5] as number))) +
        f(f((l[2] as number) + (l[6] as number)) + f((l[3] as number) + (l[7] as number))),
    );
  const redMovehl = (l: number[]) =>
    f(
      f(f((l[0] as number) + (l[4] as number)) + f((l[2] as number) + (l[6] as number))) +
        f(f((l[1] as number) + (l[5] as number)) + f((l[3] as number) + (l[7] as number))),
    );
  const out = new Float32Array(rows * nTok);
  for (let t = 0; t < nTok; t++)
    for (let r = 0; r < rows; r++) {
      const w = (c: number) => W[r * cols + c] as number;
      const a = (c: number) => xr[t * cols + c] as number;
      let res: number;
      if (nTok >= 2 && cols % 8 === 0) {
        const l = new Array<number>(8).fill(0);
        for (let c = 0; c < cols; c += 8)
          for (let i = 0; i < 8; i++) l[i] = f((l[i] as number) + w(c + i) * a(c + i));
        res = redMovehl(l);
      } else {
        const np = cols & ~31;
        let sum = 0;
        if (np > 0) {
          const acc = Array.from({ length: 4 }, () => new Array<number>(8).fill(0));
          for (let c = 0; c < np; c += 32)
            for (let j = 0; j < 4; j++)
              for (let i = 0; i < 8; i++) {
                const row = acc[j] as number[];
                row[i] = f((row[i] as number) + w(c + 8 * j + i) * a(c + 8 * j + i));
              }
          const [a0, a1, a2, a3] = acc as [number[], number[], number[], number[]];
          const m = a0.map((v, i) => f(f(v + (a2[i] as number)) + f((a1[i] as number) + (a3[i] as number))));
          sum = bf ? redMovehl(m) : redHadd(m);
        }
        for (let c = np; c < cols; c++) sum += w(c) * a(c);
        res = f(sum);
      }
      out[t * rows + r] = res;
    }
  return out;
}

/** ggml's quantize_row_q8_K (the activations of K-quant matmuls): qs, d and the 16 block sums. */
function refQ8K(x: Float32Array) {
  const f = Math.fround;
  const nb = x.length / 256;
  const qs = new Int8Array(x.length);
  const d = new Float32Array(nb);
  const bsums = new Int32Array(nb * 16);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[i * 256 + j] as number;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    if (!amax) continue;
    const iscale = f(-127 / max);
    for (let j = 0; j < 256; j++) {
      const v = f(iscale * (x[i * 256 + j] as number));
      const r = Math.round(v) - (Math.abs(v % 1) === 0.5 && Math.round(v) % 2 !== 0 ? 1 : 0); // half to even
      qs[i * 256 + j] = Math.min(127, r);
    }
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 16; k++) s += qs[i * 256 + 16 * j + k] as number;
      bsums[i * 16 + j] = s;
    }
    d[i] = f(1 / iscale);
  }
  return { qs, d, bsums };
}

/**
 * Q4_K × activations in the float order of llama.cpp's repacked AVX2 path (repack.cpp,
 * q4_K_8x8_q8_K, used for weights with rows % 8 == 0): exact integer sums per 64 elements
 * (Σ scale·q4·q8 over two sub-blocks) and per super-block; the first ntok − ntok % 4 tokens (gemm)
 * fuse-add one 64-element sum at a time, the rest (gemv) one super-block sum; the mins
 * (Σ min·bsum) go to their own accumulator with dmin; result = acc − acc_min. fma(a, b, c) is
 * emulated in double (exact product), so a rare double rounding may differ by one ulp.
 */
function refQ4KRepacked(
  data: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  nTok: number,
): Float32Array {
  const f = Math.fround;
  const fma = (a: number, b: number, c: number) => f(a * b + c);
  const nb = cols / 256;
  const out = new Float32Array(rows * nTok);
  const split = nTok - (nTok % 4);
  for (let t = 0; t < nTok; t++) {
    const a = refQ8K(x.subarray(t * cols, (t + 1) * cols));
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      let accm = 0;
      for (let i = 0; i < nb; i++) {
        const o = (r * nb + i) * 144;
        const dw = h(data, o);
        const dmw = h(data, o + 2);
        const ds = f(dw * (a.d[i] as number));
        const dm = f(dmw * (a.d[i] as number));
        let isumB = 0;
        let iminB = 0;
        for (let j = 0; j < 4; j++) {
          let isb = 0;
          let imin = 0;
          for (const half of [0, 1]) {
            const [sc, mn] = scaleMinK4(2 * j + half, data, o + 4);
            let dot = 0;
            for (let l = 0; l < 32; l++) {
              const byte = data[o + 16 + 32 * j + l] as number;
              const q = half ? byte >> 4 : byte & 15;
              dot += q * (a.qs[i * 256 + 64 * j + 32 * half + l] as number);
            }
            isb += sc * dot;
            imin +=
              mn *
              ((a.bsums[i * 16 + 4 * j + 2 * half] as number) +
                (a.bsums[i * 16 + 4 * j + 2 * half + 1] as number));
          }
          if (t < split) {
            acc = fma(isb, ds, acc);
            accm = fma(imin, dm, accm);
          }
          isumB += isb;
          iminB += imin;
        }
        if (t >= split) {
          acc = fma(isumB, ds, acc);
          accm = fma(iminB, dm, accm);
        }
      }
      out[t * rows + r] = f(acc - accm);
    }
  }
  return out;
}

/**
 * Q2_K × activations in llama.cpp's float order on x86. With AVX-512 (its Skylake-X and later
 * builds: ggml_cpu_has_avx512()), weights with rows % 8 == 0 are repacked (repack.cpp,
 * q2_K_8x8_q8_K): exact integer sums per 128-element half super-block (Σ scale·q2·q8 and
 * Σ min·bsum), fused-added with x.d·y.d / x.dmin·y.d once per half for tokens in groups of 4 (gemm)
 * and once per super-block for the rest (gemv); result = acc − acc_min. Otherwise
 * ggml_vec_dot_q2_K_q8_K (AVX2): 8 float lanes; per super-block each lane k first fuse-adds
 * (−y.d·x.dmin)·(min[2k]·bsum[2k] + min[2k+1]·bsum[2k+1]), then (y.d·x.d)·(its integer lane: bytes
 * 4k'..4k'+3 of every 32-byte load, k' = k), and the lanes are summed like hsum_float_8.
 */
function refQ2K(
  data: Uint8Array,
  rows: number,
  cols: number,
  x: Float32Array,
  nTok: number,
  repacked: boolean,
) {
  const f = Math.fround;
  const fma = (a: number, b: number, c: number) => f(a * b + c);
  const nb = cols / 256;
  const out = new Float32Array(rows * nTok);
  const split = nTok - (nTok % 4);
  for (let t = 0; t < nTok; t++) {
    const a = refQ8K(x.subarray(t * cols, (t + 1) * cols));
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      let accm = 0;
      const lanes = new Float32Array(8);
      for (let i = 0; i < nb; i++) {
        const o = (r * nb + i) * 84;
        const dw = h(data, o + 80);
        const dmw = h(data, o + 82);
        const yd = a.d[i] as number;
        const isb = [0, 0];
        const imin = [0, 0];
        const ilane = new Array<number>(8).fill(0);
        for (let hf = 0; hf < 2; hf++) {
          for (let s = 0; s < 4; s++)
            for (let l = 0; l < 32; l++) {
              const sc = (data[o + 8 * hf + 2 * s + (l >= 16 ? 1 : 0)] as number) & 15;
              const q = ((data[o + 16 + 32 * hf + l] as number) >> (2 * s)) & 3;
              const p = sc * q * (a.qs[i * 256 + 128 * hf + 32 * s + l] as number);
              isb[hf] = (isb[hf] as number) + p;
              ilane[l >> 2] = (ilane[l >> 2] as number) + p;
            }
          for (let j = 8 * hf; j < 8 * hf + 8; j++)
            imin[hf] =
              (imin[hf] as number) + ((data[o + j] as number) >> 4) * (a.bsums[i * 16 + j] as number);
        }
        if (repacked) {
          const ds = f(dw * yd);
          const dm = f(dmw * yd);
          if (t < split) {
            for (const hf of [0, 1]) {
              acc = fma(isb[hf] as number, ds, acc);
              accm = fma(imin[hf] as number, dm, accm);
            }
          } else {
            acc = fma((isb[0] as number) + (isb[1] as number), ds, acc);
            accm = fma((imin[0] as number) + (imin[1] as number), dm, accm);
          }
        } else {
          const d = f(yd * dw);
          const dmin = f(-yd * dmw);
          for (let k = 0; k < 8; k++) {
            const prod =
              ((data[o + 2 * k] as number) >> 4) * (a.bsums[i * 16 + 2 * k] as number) +
              ((data[o + 2 * k + 1] as number) >> 4) * (a.bsums[i * 16 + 2 * k + 1] as number);
            lanes[k] = fma(dmin, prod, lanes[k] as number);
            lanes[k] = fma(d, ilane[k] as number, lanes[k] as number);
          }
        }
      }
      if (repacked) out[t * rows + r] = f(acc - accm);
      else {
        const q = [0, 1, 2, 3].map((k) => f((lanes[k] as number) + (lanes[k + 4] as number)));
        out[t * rows + r] = f(
          f((q[0] as number) + (q[2] as number)) + f((q[1] as number) + (q[3] as number)),
        );
      }
    }
  }
  return out;
}

/** True when /proc/cpuinfo lists the AVX-512 subset of llama.cpp's Skylake-X-and-later x86 builds. */
function cpuHasAvx512(): boolean {
  try {
    const flags = new Set(
      (/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/),
    );
    return ['avx512f', 'avx512cd', 'avx512vl', 'avx512dq', 'avx512bw'].every((x) => flags.has(x));
  } catch {
    return false;
  }
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

      it(`${name}: matvec and batched matmul ${type === T.F16 || type === T.BF16 ? "bit-exact with llama.cpp's AVX2 order" : 'within the activation-quantization bound'}`, () => {
        // 37 rows: plain path; 40 rows (a multiple of 8): llama.cpp's repacked Q4_K order on AVX2
        for (const rows of [37, 40]) {
          const data = randomBlocks(type, rows * cols, rng(type + 200));
          const W = refDequantize(type, data, rows * cols);
          const w = k.weight(type, rows, cols, data);
          for (const nTok of [1, 3, 6, 40]) {
            const x = randn(nTok * cols, type * 7 + nTok);
            const xb = k.f32(x.length);
            xb.write(x);
            const out = k.f32(rows * nTok);
            k.matmul(out, w, xb, nTok);
            const got = out.read();
            if (type === T.F16 || type === T.BF16) {
              expectExact(
                got,
                refHalfMatmul(W, rows, cols, x, nTok, type === T.BF16),
                `${name} nTok=${nTok}`,
              );
              continue;
            }
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
        }
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

    it("Q4_K with rows % 8 == 0 sums like llama.cpp's repacked AVX2 path (native AVX2 only, parity mode)", async (ctx) => {
      if (k.simd !== 'avx2') ctx.skip();
      // the fast mode repacks 16-row Q4_K weights for its own kernels (fast-matmul.test.ts)
      const kp = await loadKernels({ ...b.opts, mode: 'parity' });
      ctx.onTestFinished(() => kp.dispose());
      const rows = 16;
      const cols = 512;
      const data = randomBlocks(T.Q4_K, rows * cols, rng(4242));
      const w = kp.weight(T.Q4_K, rows, cols, data);
      // 1: gemv; 6: a gemm group of 4 + 2 gemv; 8, 13, 40: the 8-token kernel, then groups of 4, then gemv
      for (const nTok of [1, 6, 8, 13, 40]) {
        const x = randn(nTok * cols, 77 + nTok);
        const xb = kp.f32(x.length);
        xb.write(x);
        const out = kp.f32(rows * nTok);
        kp.matmul(out, w, xb, nTok);
        const got = out.read();
        const ref = refQ4KRepacked(data, rows, cols, x, nTok);
        let exact = 0;
        for (let i = 0; i < got.length; i++) {
          if (got[i] === ref[i]) exact++;
          else
            expect(Math.abs((got[i] as number) - (ref[i] as number)), `out[${i}]`).toBeLessThanOrEqual(
              2 ** -22 * Math.abs(ref[i] as number),
            );
        }
        expect(exact, `bit-identical outputs (nTok=${nTok})`).toBeGreaterThanOrEqual(
          Math.ceil(0.95 * got.length),
        );
      }
      w.dispose();
    });

    it("Q4_0/Q8_0/Q4_K/Q5_K/Q6_K: a batch gives each token exactly its matvec result (llama.cpp's vec_dot order per token)", () => {
      // llama.cpp's x86 backend multiplies these types token by token (ggml_vec_dot_*), whatever the
      // batch size (Q4_K only when rows % 8 != 0, else it is repacked), so the batched kernels (4
      // tokens per weight unpack) must not change a bit.
      const rows = 20;
      const cols = 512;
      for (const type of [T.Q4_0, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]) {
        const w = k.weight(type, rows, cols, randomBlocks(type, rows * cols, rng(type + 900)));
        const nTok = 11;
        const x = randn(nTok * cols, type + 901);
        const xb = k.f32(x.length);
        xb.write(x);
        const out = k.f32(rows * nTok);
        k.matmul(out, w, xb, nTok);
        const batched = out.read();
        const one = k.f32(cols);
        const o1 = k.f32(rows);
        for (let t = 0; t < nTok; t++) {
          one.write(x.subarray(t * cols, (t + 1) * cols));
          k.matmul(o1, w, one, 1);
          expectExact(batched.subarray(t * rows, (t + 1) * rows), o1.read(), `type ${type} token ${t}`);
        }
        for (const b of [w, xb, out, one, o1]) b.dispose();
      }
    });

    it("Q2_K sums like llama.cpp's x86 backend: repacked with AVX-512, ggml_vec_dot_q2_K_q8_K otherwise (native AVX2 only)", (ctx) => {
      if (k.simd !== 'avx2' || process.platform !== 'linux') ctx.skip();
      const avx512 = cpuHasAvx512();
      const cols = 512;
      // 16 rows: repacked on AVX-512 CPUs; 12 rows (not a multiple of 8): always the vec_dot order
      for (const rows of [16, 12]) {
        const data = randomBlocks(T.Q2_K, rows * cols, rng(2424 + rows));
        const w = k.weight(T.Q2_K, rows, cols, data);
        for (const nTok of [1, 6]) {
          const x = randn(nTok * cols, 55 + nTok);
          const xb = k.f32(x.length);
          xb.write(x);
          const out = k.f32(rows * nTok);
          k.matmul(out, w, xb, nTok);
          const got = out.read();
          const ref = refQ2K(data, rows, cols, x, nTok, avx512 && rows % 8 === 0);
          let exact = 0;
          for (let i = 0; i < got.length; i++) {
            if (got[i] === ref[i]) exact++;
            else
              expect(
                Math.abs((got[i] as number) - (ref[i] as number)),
                `rows=${rows} out[${i}]`,
              ).toBeLessThanOrEqual(2 ** -22 * Math.abs(ref[i] as number));
          }
          expect(exact, `bit-identical outputs (rows=${rows}, nTok=${nTok})`).toBeGreaterThanOrEqual(
            Math.ceil(0.95 * got.length),
          );
        }
        w.dispose();
      }
    });

    // native maps the bytes; wasm (Node) reads them straight into linear memory, a tensor of 8 MiB or
    // more on several threads with the threaded module (the 2048×8192 case: 9.4 MB)
    it('weightFromFile maps / reads tensor bytes at an unaligned file offset', () => {
      for (const [rows, cols] of [
        [16, 256],
        [2048, 8192],
      ] as const) {
        const data = randomBlocks(T.Q4_K, rows * cols, rng(900 + rows));
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
          const ids = [15, rows - 1, 2];
          const g = k.f32(3 * cols);
          k.getRows(g, mapped, ids);
          // rows 15, last and 2 decoded independently from the file's bytes
          const bpr = (cols / 256) * 144;
          for (const [j, id] of ids.entries()) {
            const W = refDequantize(T.Q4_K, data.subarray(id * bpr, (id + 1) * bpr), cols);
            expectExact(g.read(j * cols, cols), W, `mapped getRows ${id}`);
          }
          mapped.dispose();
          held.dispose();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });

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
