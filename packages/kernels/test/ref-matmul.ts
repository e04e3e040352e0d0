/**
 * Reference matmul for quantized weights: the exact product of the dequantized weights with the
 * activations (in double), and per output the bound the fast path may differ by: activations are
 * quantized per block (Q8_0/Q8_1 for 32-element types, Q8_K for K-quants), so |error| <=
 * Σ|w|·(half a quantization step of x's block) plus float accumulation slack.
 */
import { T } from './ref-quants';

/**
 * Per-element bound on |x - dequant(quant(x))| for the activation format of `type` (F16/BF16
 * weights take activations rounded to F16/BF16: half an ulp, 2^-11 / 2^-8 relative, plus F16's
 * subnormal step).
 */
export function actErrorBound(type: number, x: Float32Array, cols: number): Float64Array {
  const e = new Float64Array(x.length);
  const isK = type >= T.Q2_K && type <= T.Q6_K;
  if (type === T.F32) return e;
  if (type === T.F16 || type === T.BF16) {
    for (let i = 0; i < x.length; i++)
      e[i] =
        Math.abs(x[i] as number) * (type === T.F16 ? 2 ** -11 : 2 ** -8) + (type === T.F16 ? 2 ** -25 : 0);
    return e;
  }
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

export function refMatmul(
  W: Float32Array,
  rows: number,
  cols: number,
  x: Float32Array,
  nTok: number,
  type: number,
) {
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
