// Q4_K and Q5_K quantizers that reproduce ggml's reference algorithm (quantize_row_q4_K_ref /
// quantize_row_q5_K_ref with make_qkx2_quants, no importance matrix) bit for bit, in float32
// arithmetic. Plain JS so worker threads can load it from the source tree or from dist/.
// Used when @quant/kernels' own K-quantizer does not produce llama-quantize's bytes.

const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE binary16 bits, round to nearest even. */
function f16bits(value) {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

function f16value(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round half to even in float32, as ggml's nearest_int (|v| < 2^22). */
function nearestInt(v) {
  return fr(v + 12582912) - 12582912;
}

// Results of fitScaleMin (module-level to avoid allocating per sub-block).
let fitScale = 0;
let fitNegMin = 0;
const diffs = new Float32Array(32);
/** 0.1f as C passes it (float32). */
const RDELTA = fr(0.1);

/**
 * Weighted asymmetric fit of 32 values x[o..o+32) to levels 0..nmax (ggml's make_qkx2_quants,
 * use_mad = false). Writes levels to L[lo..]; sets fitScale and fitNegMin (= -min).
 */
function fitScaleMin(x, o, nmax, w, L, lo, Laux, rmin, rdelta, nstep) {
  let min = x[o];
  let max = x[o];
  let sumW = w[0];
  let sumX = fr(sumW * x[o]);
  for (let i = 1; i < 32; i++) {
    const v = x[o + i];
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = fr(sumW + w[i]);
    sumX = fr(sumX + fr(w[i] * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < 32; i++) L[lo + i] = 0;
    fitScale = 0;
    fitNegMin = -min;
    return;
  }
  // x - min for the current min (it changes only when a step improves the fit).
  for (let i = 0; i < 32; i++) diffs[i] = x[o + i] - min;
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let best = 0;
  for (let i = 0; i < 32; i++) {
    let l = fr(fr(iscale * diffs[i]) + 12582912) - 12582912;
    l = l < 0 ? 0 : l > nmax ? nmax : l;
    L[lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - x[o + i]);
    best = fr(best + fr(w[i] * fr(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < 32; i++) {
      let l = fr(fr(iscale * diffs[i]) + 12582912) - 12582912;
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = l;
      const wl = fr(w[i] * l);
      sumL = fr(sumL + wl);
      sumL2 = fr(sumL2 + fr(wl * l));
      sumXL = fr(sumXL + fr(wl * x[o + i]));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let s = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let m = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (m > 0) {
        m = 0;
        s = fr(sumXL / sumL2);
      }
      let err = 0;
      for (let i = 0; i < 32; i++) {
        const diff = fr(fr(fr(s * Laux[i]) + m) - x[o + i]);
        err = fr(err + fr(w[i] * fr(diff * diff)));
      }
      if (err < best) {
        for (let i = 0; i < 32; i++) L[lo + i] = Laux[i];
        best = err;
        scale = s;
        if (m !== min) {
          min = m;
          for (let i = 0; i < 32; i++) diffs[i] = x[o + i] - min;
        }
      }
    }
  }
  fitScale = scale;
  fitNegMin = -min;
}

function scaleMin(j, q, o) {
  if (j < 4) return [q[o + j] & 63, q[o + j + 4] & 63];
  return [(q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4), (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4)];
}

/** One Q4_K (bits 4) or Q5_K (bits 5) block of 256 values at x[o..] into out[ob..]. */
function kBlock(x, o, out, ob, bits, L, Laux, w, scales, mins) {
  const nmax = bits === 4 ? 15 : 31;
  const rmin = bits === 4 ? -1 : -0.5;
  const nstep = bits === 4 ? 20 : 15;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xo = o + 32 * j;
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[xo + l] * x[xo + l]));
    const av = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = fr(av + Math.abs(x[xo + l]));
    fitScaleMin(x, xo, nmax, w, L, 32 * j, Laux, rmin, RDELTA, nstep);
    const s = fitScale;
    const m = fitNegMin;
    scales[j] = s;
    mins[j] = m;
    if (s > maxScale) maxScale = s;
    if (m > maxMin) maxMin = m;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const sc = ob + 4;
  for (let k = 0; k < 12; k++) out[sc + k] = 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 0xff);
    if (j < 4) {
      out[sc + j] = ls;
      out[sc + j + 4] = lm;
    } else {
      out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      out[sc + j - 4] |= (ls >> 4) << 6;
      out[sc + j] |= (lm >> 4) << 6;
    }
  }
  const dBits = f16bits(fr(maxScale / 63));
  const mBits = f16bits(fr(maxMin / 63));
  out[ob] = dBits & 0xff;
  out[ob + 1] = dBits >> 8;
  out[ob + 2] = mBits & 0xff;
  out[ob + 3] = mBits >> 8;
  const d0 = f16value(dBits);
  const m0 = f16value(mBits);
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMin(j, out, sc);
    const d = fr(d0 * s);
    if (!d) continue;
    const dm = fr(m0 * m);
    for (let i = 0; i < 32; i++) {
      let l = nearestInt(fr(fr(x[o + 32 * j + i] + dm) / d));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      L[32 * j + i] = l;
    }
  }
  if (bits === 4) {
    const q = ob + 16;
    for (let j = 0, k = 0; j < 256; j += 64, k += 32) {
      for (let l = 0; l < 32; l++) out[q + k + l] = L[j + l] | (L[j + l + 32] << 4);
    }
  } else {
    const qh = ob + 16;
    const ql = ob + 48;
    for (let k = 0; k < 32; k++) out[qh + k] = 0;
    let m1 = 1;
    let m2 = 2;
    for (let n = 0, k = 0; n < 256; n += 64, k += 32) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[n + j];
        if (l1 > 15) {
          l1 -= 16;
          out[qh + j] |= m1;
        }
        let l2 = L[n + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          out[qh + j] |= m2;
        }
        out[ql + k + j] = l1 | (l2 << 4);
      }
      m1 <<= 2;
      m2 <<= 2;
    }
  }
}

/** Quantizes `src` (a whole number of 256-blocks) to Q4_K (type 12) or Q5_K (type 13). */
export function quantizeKRef(type, src) {
  if (type !== 12 && type !== 13) throw new RangeError(`quantizeKRef: unsupported type ${type}`);
  const bits = type === 12 ? 4 : 5;
  const bytes = bits === 4 ? 144 : 176;
  const nb = src.length / 256;
  const out = new Uint8Array(nb * bytes);
  const L = new Uint8Array(256);
  const Laux = new Uint8Array(32);
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < nb; i++) kBlock(src, i * 256, out, i * bytes, bits, L, Laux, w, scales, mins);
  return out;
}

/** Types quantizeKRef handles. */
export const K_REF_TYPES = [12, 13];

/** Deterministic probe rows (128 blocks): gaussian-ish values with outliers and an all-zero sub-block. */
function probeRows() {
  const n = 256 * 128;
  const x = new Float32Array(n);
  let a = 12345;
  const rnd = () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    const g = rnd() + rnd() + rnd() - 1.5;
    x[i] = g * (i % 512 < 256 ? 0.02 : 1.3) + (i % 97 === 0 ? 0.4 : 0);
  }
  for (let i = 512; i < 544; i++) x[i] = 0;
  return x;
}

/**
 * True when `kernels.quantize(type, …)` writes exactly ggml's reference bytes for Q4_K/Q5_K
 * (checked on probe rows), so the fast native quantizer can be used.
 */
export function kernelsMatchGgml(kernels, type) {
  try {
    const x = probeRows();
    const a = kernels.quantize(type, x, x.length / 256, 256);
    const b = quantizeKRef(type, x);
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  } catch {
    return false;
  }
}
