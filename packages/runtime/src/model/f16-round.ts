/**
 * Rounds float32 values to the nearest float16 (ties to even), in place — what ggml does when it
 * converts an operand to F16 (e.g. llama.cpp's attention query against an F16 KV cache).
 * Overflow gives ±Infinity, values below the smallest subnormal become ±0, NaN stays NaN.
 */
export function roundToF16InPlace(x: Float32Array, n = x.length): void {
  const u = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = u[i] as number;
    const sign = b & 0x80000000;
    const abs = b & 0x7fffffff;
    if (abs >= 0x7f800000) continue; // Inf / NaN
    if (abs >= 0x477ff000) {
      // ≥ 65520 rounds to Inf in f16
      u[i] = sign | 0x7f800000;
      continue;
    }
    if (abs < 0x38800000) {
      // below the smallest normal f16 (2^-14): quantize to multiples of 2^-24 (subnormals), ties to even
      const v = Math.abs(x[i] as number) * 16777216; // / 2^-24
      let r = Math.round(v);
      if (r - v === 0.5 && r % 2 === 1) r -= 1;
      x[i] = (sign ? -r : r) / 16777216;
      continue;
    }
    // normal: keep 10 mantissa bits, round to nearest even on the 13 dropped bits
    const dropped = abs & 0x1fff;
    let kept = abs & ~0x1fff;
    if (dropped > 0x1000 || (dropped === 0x1000 && (kept & 0x2000) !== 0)) kept += 0x2000;
    u[i] = sign | kept;
  }
}
