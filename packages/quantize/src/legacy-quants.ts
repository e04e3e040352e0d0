/**
 * Quantizers for the 32-element block types the K-quant mixes fall back to when a row length is not
 * a multiple of 256 (Q4_K→Q5_0, Q5_K→Q5_1), plus Q4_1 — the round-to-nearest reference algorithms
 * ggml uses without an importance matrix, in float32 arithmetic so the bytes match llama-quantize's.
 */

import { T } from './ggml-types.js';
import { f32ToF16Bits } from './half.js';

const fr = Math.fround;
const QK = 32;

/** Q5_0: 22-byte blocks {f16 d, u32 qh (5th bits), 16 bytes of low nibbles}; x ≈ d * (q - 16). */
function q5_0(src: Float32Array, out: Uint8Array): void {
  const nb = src.length / QK;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < nb; i++) {
    const x = i * QK;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = src[x + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -16);
    const id = d ? fr(1 / d) : 0;
    const o = i * 22;
    dv.setUint16(o, f32ToF16Bits(d), true);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      const q0 = Math.min(31, Math.trunc(fr(fr(src[x + j]! * id) + 16.5)));
      const q1 = Math.min(31, Math.trunc(fr(fr(src[x + QK / 2 + j]! * id) + 16.5)));
      out[o + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      qh |= ((q0 & 0x10) >>> 4) << j;
      qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
    }
    dv.setUint32(o + 2, qh >>> 0, true);
  }
}

/** Min/max block quantizer shared by Q4_1 (4 bits) and Q5_1 (5 bits); x ≈ d * q + m. */
function minMax(src: Float32Array, out: Uint8Array, bits: 4 | 5): void {
  const nb = src.length / QK;
  const bytes = bits === 4 ? 20 : 24;
  const qsAt = bits === 4 ? 4 : 8;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const top = (1 << bits) - 1;
  for (let i = 0; i < nb; i++) {
    const x = i * QK;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < QK; j++) {
      const v = src[x + j]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / top);
    const id = d ? fr(1 / d) : 0;
    const o = i * bytes;
    dv.setUint16(o, f32ToF16Bits(d), true);
    dv.setUint16(o + 2, f32ToF16Bits(min), true);
    let qh = 0;
    for (let j = 0; j < QK / 2; j++) {
      let q0 = Math.trunc(fr(fr(fr(src[x + j]! - min) * id) + 0.5));
      let q1 = Math.trunc(fr(fr(fr(src[x + QK / 2 + j]! - min) * id) + 0.5));
      if (bits === 4) {
        q0 = Math.min(15, q0);
        q1 = Math.min(15, q1);
      } else {
        q0 &= 0xff;
        q1 &= 0xff;
        qh |= ((q0 & 0x10) >>> 4) << j;
        qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
      }
      out[o + qsAt + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
    }
    if (bits === 5) dv.setUint32(o + 4, qh >>> 0, true);
  }
}

/** The types this file quantizes. */
export const LEGACY_TYPES: ReadonlySet<number> = new Set([T.Q4_1, T.Q5_0, T.Q5_1]);

/** Quantizes `src` (a whole number of 32-blocks) to Q4_1, Q5_0 or Q5_1. */
export function quantizeLegacy(type: number, src: Float32Array): Uint8Array {
  const nb = src.length / QK;
  if (type === T.Q5_0) {
    const out = new Uint8Array(nb * 22);
    q5_0(src, out);
    return out;
  }
  if (type === T.Q5_1 || type === T.Q4_1) {
    const out = new Uint8Array(nb * (type === T.Q5_1 ? 24 : 20));
    minMax(src, out, type === T.Q5_1 ? 5 : 4);
    return out;
  }
  throw new RangeError(`quantizeLegacy: unsupported type ${type}`);
}
