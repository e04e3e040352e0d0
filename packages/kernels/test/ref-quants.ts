/**
 * Reference (de)quantizers written in TypeScript from the GGUF/ggml block specifications, for
 * checking the C kernels. Float arithmetic is rounded to float32 at the same points as ggml's
 * reference decoders so dequantization can be compared bit for bit.
 */
import { bf16ToFloat, floatToHalf, halfToFloat } from './ref-half';

const fr = Math.fround;

export const T = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;
export const BLOCK: Record<number, [number, number]> = {
  0: [1, 4],
  1: [1, 2],
  30: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
};
export const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(T).map(([k, v]) => [v, k]),
);

export function rowBytes(type: number, n: number): number {
  const [b, s] = BLOCK[type] as [number, number];
  return (n / b) * s;
}

export function h(b: Uint8Array, o: number): number {
  return halfToFloat((b[o] as number) | ((b[o + 1] as number) << 8));
}

export function scaleMinK4(j: number, s: Uint8Array, o: number): [number, number] {
  const q = (k: number) => s[o + k] as number;
  if (j < 4) return [q(j) & 63, q(j + 4) & 63];
  return [(q(j + 4) & 0xf) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4)];
}

/** Dequantizes n elements of `type` from `b`. */
export function refDequantize(type: number, b: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  const [bs, ts] = BLOCK[type] as [number, number];
  const nb = n / bs;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < nb; i++) {
    const o = i * ts;
    const Y = i * bs;
    switch (type) {
      case T.F32:
        y[i] = dv.getFloat32(4 * i, true);
        break;
      case T.F16:
        y[i] = h(b, 2 * i);
        break;
      case T.BF16:
        y[i] = bf16ToFloat(dv.getUint16(2 * i, true));
        break;
      case T.Q4_0: {
        const d = h(b, o);
        for (let j = 0; j < 16; j++) {
          const q = b[o + 2 + j] as number;
          y[Y + j] = fr(((q & 15) - 8) * d);
          y[Y + j + 16] = fr(((q >> 4) - 8) * d);
        }
        break;
      }
      case T.Q4_1: {
        const d = h(b, o),
          m = h(b, o + 2);
        for (let j = 0; j < 16; j++) {
          const q = b[o + 4 + j] as number;
          y[Y + j] = fr(fr((q & 15) * d) + m);
          y[Y + j + 16] = fr(fr((q >> 4) * d) + m);
        }
        break;
      }
      case T.Q5_0:
      case T.Q5_1: {
        const one = type === T.Q5_1;
        const d = h(b, o),
          m = one ? h(b, o + 2) : 0;
        const qo = one ? 4 : 2;
        const qh = dv.getUint32(o + qo, true);
        for (let j = 0; j < 16; j++) {
          const q = b[o + qo + 4 + j] as number;
          const q0 = (q & 15) | (((qh >>> j) & 1) << 4);
          const q1 = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
          if (one) {
            y[Y + j] = fr(fr(q0 * d) + m);
            y[Y + j + 16] = fr(fr(q1 * d) + m);
          } else {
            y[Y + j] = fr((q0 - 16) * d);
            y[Y + j + 16] = fr((q1 - 16) * d);
          }
        }
        break;
      }
      case T.Q8_0: {
        const d = h(b, o);
        for (let j = 0; j < 32; j++) y[Y + j] = fr(dv.getInt8(o + 2 + j) * d);
        break;
      }
      case T.Q2_K: {
        // scales[16] qs[64] d dmin
        const d = h(b, o + 80),
          dmin = h(b, o + 82);
        let k = Y;
        let is = 0;
        for (let n0 = 0; n0 < 2; n0++) {
          const q = o + 16 + 32 * n0;
          for (let shift = 0; shift < 8; shift += 2) {
            for (let half = 0; half < 2; half++) {
              const sc = b[o + is++] as number;
              const dl = fr(d * (sc & 15)),
                ml = fr(dmin * (sc >> 4));
              for (let l = 0; l < 16; l++)
                y[k++] = fr(fr(dl * (((b[q + l + 16 * half] as number) >> shift) & 3)) - ml);
            }
          }
        }
        break;
      }
      case T.Q3_K: {
        // hmask[32] qs[64] scales[12] d
        const d = h(b, o + 108);
        const s = (j: number) => b[o + 96 + j] as number;
        const sc: number[] = [];
        for (let j = 0; j < 16; j++) {
          const lo = j < 8 ? s(j) & 15 : s(j - 8) >> 4;
          const hi = (s(8 + (j % 4)) >> (2 * Math.floor(j / 4))) & 3;
          sc.push((lo | (hi << 4)) - 32);
        }
        let k = Y,
          is = 0,
          m = 1;
        for (let n0 = 0; n0 < 2; n0++) {
          const q = o + 32 + 32 * n0;
          for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
            for (let half = 0; half < 2; half++) {
              const dl = fr(d * (sc[is++] as number));
              for (let l = 0; l < 16; l++) {
                const idx = l + 16 * half;
                const v = (((b[q + idx] as number) >> shift) & 3) - ((b[o + idx] as number) & m ? 0 : 4);
                y[k++] = fr(dl * v);
              }
            }
          }
        }
        break;
      }
      case T.Q4_K:
      case T.Q5_K: {
        // d dmin scales[12] (qh[32]) qs[128]
        const five = type === T.Q5_K;
        const d = h(b, o),
          dmin = h(b, o + 2);
        const qh = o + 16;
        const ql = o + (five ? 48 : 16);
        let k = Y;
        for (let j = 0; j < 4; j++) {
          const [s1, m1] = scaleMinK4(2 * j, b, o + 4);
          const [s2, m2] = scaleMinK4(2 * j + 1, b, o + 4);
          const d1 = fr(d * s1),
            mm1 = fr(dmin * m1),
            d2 = fr(d * s2),
            mm2 = fr(dmin * m2);
          for (let l = 0; l < 32; l++) {
            const hb = five ? (((b[qh + l] as number) >> (2 * j)) & 1) << 4 : 0;
            y[k++] = fr(fr(d1 * (((b[ql + 32 * j + l] as number) & 15) + hb)) - mm1);
          }
          for (let l = 0; l < 32; l++) {
            const hb = five ? (((b[qh + l] as number) >> (2 * j + 1)) & 1) << 4 : 0;
            y[k++] = fr(fr(d2 * (((b[ql + 32 * j + l] as number) >> 4) + hb)) - mm2);
          }
        }
        break;
      }
      case T.Q6_K: {
        // ql[128] qh[64] scales[16] d
        const d = h(b, o + 208);
        for (let n0 = 0; n0 < 2; n0++) {
          const ql = o + 64 * n0,
            qh = o + 128 + 32 * n0,
            sc = o + 192 + 8 * n0;
          for (let l = 0; l < 32; l++) {
            const is = Math.floor(l / 16);
            const L = (k: number) => b[ql + k] as number;
            const H = b[qh + l] as number;
            const q1 = ((L(l) & 15) | (((H >> 0) & 3) << 4)) - 32;
            const q2 = ((L(l + 32) & 15) | (((H >> 2) & 3) << 4)) - 32;
            const q3 = ((L(l) >> 4) | (((H >> 4) & 3) << 4)) - 32;
            const q4 = ((L(l + 32) >> 4) | (((H >> 6) & 3) << 4)) - 32;
            const S = (k: number) => dv.getInt8(sc + k);
            const base = Y + 128 * n0;
            y[base + l] = fr(fr(d * S(is)) * q1);
            y[base + l + 32] = fr(fr(d * S(is + 2)) * q2);
            y[base + l + 64] = fr(fr(d * S(is + 4)) * q3);
            y[base + l + 96] = fr(fr(d * S(is + 6)) * q4);
          }
        }
        break;
      }
      default:
        throw new Error(`refDequantize: type ${type}`);
    }
  }
  return y;
}

function setHalf(b: Uint8Array, o: number, v: number): void {
  const hv = floatToHalf(v);
  b[o] = hv & 0xff;
  b[o + 1] = hv >> 8;
}

/** ggml's reference Q8_0 quantizer: d = amax/127 (stored as f16), q = round-half-away(x/d). */
export function refQuantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j] as number));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    setHalf(out, i * 34, d);
    for (let j = 0; j < 32; j++) {
      const v = fr((x[i * 32 + j] as number) * id);
      out[i * 34 + 2 + j] = roundHalfAway(v) & 0xff;
    }
  }
  return out;
}

/** ggml's choice of scale source: the value of largest magnitude in x[start, start + n), sign kept, first on ties. */
function signedAbsmax(x: Float32Array, start: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = start; j < start + n; j++) {
    const v = x[j] as number;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** ggml's reference Q4_0 quantizer: d = max/-8 (signed value of largest magnitude), q = min(15, trunc(x/d + 8.5)). */
export function refQuantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let i = 0; i < nb; i++) {
    const max = signedAbsmax(x, i * 32, 32);
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    setHalf(out, i * 18, d);
    for (let j = 0; j < 16; j++) {
      const x0 = fr((x[i * 32 + j] as number) * id),
        x1 = fr((x[i * 32 + 16 + j] as number) * id);
      const q0 = Math.min(15, Math.trunc(fr(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(x1 + 8.5)));
      out[i * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** Simple min/max (no search) asymmetric quantization to `bits`, per group of `group`: the bar a K-quant search must beat. */
export function naiveRmse(x: Float32Array, group: number, bits: number): number {
  const nmax = (1 << bits) - 1;
  let se = 0;
  for (let g = 0; g < x.length; g += group) {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = g; i < g + group; i++) {
      lo = Math.min(lo, x[i] as number);
      hi = Math.max(hi, x[i] as number);
    }
    lo = Math.min(lo, 0);
    const s = hi > lo ? (hi - lo) / nmax : 0;
    for (let i = g; i < g + group; i++) {
      const q = s ? Math.max(0, Math.min(nmax, Math.round(((x[i] as number) - lo) / s))) : 0;
      const e = q * s + lo - (x[i] as number);
      se += e * e;
    }
  }
  return Math.sqrt(se / x.length);
}

/** Symmetric round-to-nearest with a float scale amax/(2^(bits-1)-1) per group: the bar for symmetric formats. */
export function naiveSymRmse(x: Float32Array, group: number, bits: number): number {
  const nmax = (1 << (bits - 1)) - 1;
  let se = 0;
  for (let g = 0; g < x.length; g += group) {
    let amax = 0;
    for (let i = g; i < g + group; i++) amax = Math.max(amax, Math.abs(x[i] as number));
    const s = amax / nmax;
    for (let i = g; i < g + group; i++) {
      const q = s ? Math.round((x[i] as number) / s) : 0;
      const e = q * s - (x[i] as number);
      se += e * e;
    }
  }
  return Math.sqrt(se / x.length);
}

export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s / a.length);
}

/** Random but valid block bytes for `type` (scales kept finite). */
export function randomBlocks(type: number, n: number, rnd: () => number): Uint8Array {
  const [bs, ts] = BLOCK[type] as [number, number];
  const nb = n / bs;
  const b = new Uint8Array(nb * ts);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rnd() * 256);
  const half = (o: number, scale: number) => setHalf(b, o, (rnd() * 2 - 1) * scale);
  for (let i = 0; i < nb; i++) {
    const o = i * ts;
    switch (type) {
      case T.F32:
        new DataView(b.buffer).setFloat32(4 * i, (rnd() * 2 - 1) * 2, true);
        break;
      case T.F16:
        half(2 * i, 2);
        break;
      case T.BF16: {
        const v = floatToBf16Local((rnd() * 2 - 1) * 2);
        b[2 * i] = v & 255;
        b[2 * i + 1] = v >> 8;
        break;
      }
      case T.Q4_0:
      case T.Q5_0:
      case T.Q8_0:
        half(o, 0.05);
        break;
      case T.Q4_1:
      case T.Q5_1:
        half(o, 0.05);
        half(o + 2, 0.2);
        break;
      case T.Q2_K:
        half(o + 80, 0.02);
        half(o + 82, 0.02);
        break;
      case T.Q3_K:
        half(o + 108, 0.01);
        break;
      case T.Q4_K:
      case T.Q5_K:
        half(o, 0.01);
        half(o + 2, 0.01);
        break;
      case T.Q6_K:
        half(o + 208, 0.002);
        break;
    }
  }
  return b;
}

function floatToBf16Local(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0] as number;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** ggml's quantize_row_q4_1_ref / q5_1_ref, from the format's definition: d = (max − min)/(2^bits − 1), m = min. */
function refQuantizeAsym(x: Float32Array, bits: 4 | 5): Uint8Array {
  const nb = x.length / 32;
  const bs = bits === 4 ? 20 : 24;
  const out = new Uint8Array(nb * bs);
  for (let i = 0; i < nb; i++) {
    let min = Number.POSITIVE_INFINITY,
      max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < 32; j++) {
      const v = x[i * 32 + j] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr((max - min) / ((1 << bits) - 1));
    const id = d ? fr(1 / d) : 0;
    setHalf(out, i * bs, d);
    setHalf(out, i * bs + 2, min);
    let qh = 0;
    const qs = i * bs + (bits === 4 ? 4 : 8);
    for (let j = 0; j < 16; j++) {
      const x0 = fr(fr((x[i * 32 + j] as number) - min) * id);
      const x1 = fr(fr((x[i * 32 + 16 + j] as number) - min) * id);
      let q0 = Math.trunc(fr(x0 + 0.5));
      let q1 = Math.trunc(fr(x1 + 0.5));
      if (bits === 4) {
        q0 = Math.min(15, q0);
        q1 = Math.min(15, q1);
      }
      out[qs + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) & 1) << j;
      qh |= ((q1 >> 4) & 1) << (j + 16);
    }
    if (bits === 5) new DataView(out.buffer).setUint32(i * bs + 4, qh >>> 0, true);
  }
  return out;
}

export const refQuantizeQ4_1 = (x: Float32Array): Uint8Array => refQuantizeAsym(x, 4);
export const refQuantizeQ5_1 = (x: Float32Array): Uint8Array => refQuantizeAsym(x, 5);

/** ggml's quantize_row_q5_0_ref: d = max/−16 (max = the value of largest magnitude), q = min(31, trunc(x/d + 16.5)). */
export function refQuantizeQ5_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 22);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const max = signedAbsmax(x, i * 32, 32);
    const d = fr(max / -16);
    const id = d ? fr(1 / d) : 0;
    setHalf(out, i * 22, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, Math.trunc(fr(fr((x[i * 32 + j] as number) * id) + 16.5)));
      const q1 = Math.min(31, Math.trunc(fr(fr((x[i * 32 + 16 + j] as number) * id) + 16.5)));
      out[i * 22 + 6 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) & 1) << j;
      qh |= ((q1 >> 4) & 1) << (j + 16);
    }
    dv.setUint32(i * 22 + 2, qh >>> 0, true);
  }
  return out;
}
