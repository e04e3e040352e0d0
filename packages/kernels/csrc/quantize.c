/*
 * Quantizers: Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 (ggml's reference rounding, bit for bit), the K-quants Q4_K, Q5_K and
 * Q6_K (the weighted scale/min searches llama-quantize uses without an importance matrix, bit for bit
 * by default; `refine` adds a search over the 6-bit scale codes that lowers the error further), float
 * conversions, and the activation quantizers of the matmul fast path (Q8_0, Q8_1, Q8_K).
 */
#include "qk.h"
#include <float.h>

#define QK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define QK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GROUP_EPS 1e-15f

/* ---------------- 32-element formats ---------------- */

/* The value of largest magnitude among x[0..n), sign kept (the first one on ties), as ggml picks it;
 * *amax gets its magnitude. */
static inline float signed_absmax(int n, const float *x, float *amax) {
  float a = 0.f, max = 0.f;
  for (int j = 0; j < n; j++) {
    if (a < fabsf(x[j])) { a = fabsf(x[j]); max = x[j]; }
  }
  *amax = a;
  return max;
}

/* The block's smallest and largest value, as ggml's Q4_1/Q5_1 use. */
static inline void block_min_max(const float *x, float *min, float *max) {
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int j = 0; j < QB; j++) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *min = lo;
  *max = hi;
}

static void quant_q8_0(const float *x, blk_q8_0 *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax = 0.f;
    for (int j = 0; j < QB; j++) amax = QK_MAX(amax, fabsf(x[j]));
    const float d = amax / 127.f;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = qk_f2h(d);
    for (int j = 0; j < QB; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
  }
}

static void quant_q4_0(const float *x, blk_q4_0 *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax;
    const float max = signed_absmax(QB, x, &amax);
    const float d = max / -8.f;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = qk_f2h(d);
    for (int j = 0; j < 16; j++) {
      const float x0 = x[j] * id, x1 = x[j + 16] * id;
      const uint8_t q0 = (uint8_t)QK_MIN(15, (int8_t)(x0 + 8.5f));
      const uint8_t q1 = (uint8_t)QK_MIN(15, (int8_t)(x1 + 8.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

/* Q4_1 / Q5_1: asymmetric, d = (max − min)/(2^bits − 1), m = min, q = trunc((x − min)/d + 0.5). */
static void quant_q4_1(const float *x, blk_q4_1 *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = qk_f2h(d);
    y[i].m = qk_f2h(min);
    for (int j = 0; j < 16; j++) {
      const float x0 = (x[j] - min) * id, x1 = (x[j + 16] - min) * id;
      const uint8_t q0 = (uint8_t)QK_MIN(15, (int8_t)(x0 + 0.5f));
      const uint8_t q1 = (uint8_t)QK_MIN(15, (int8_t)(x1 + 0.5f));
      y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}

/* Q5_0: symmetric like Q4_0 with d = max/−16 (max = the value of largest magnitude), 5th bits in qh. */
static void quant_q5_0(const float *x, blk_q5_0 *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax;
    const float max = signed_absmax(QB, x, &amax);
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = qk_f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      const float x0 = x[j] * id, x1 = x[j + 16] * id;
      const uint8_t q0 = (uint8_t)QK_MIN(31, (int8_t)(x0 + 16.5f));
      const uint8_t q1 = (uint8_t)QK_MIN(31, (int8_t)(x1 + 16.5f));
      y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(y[i].qh, &qh, 4);
  }
}

static void quant_q5_1(const float *x, blk_q5_1 *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float min, max;
    block_min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = qk_f2h(d);
    y[i].m = qk_f2h(min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
      const float x0 = (x[j] - min) * id, x1 = (x[j + 16] - min) * id;
      const uint8_t q0 = (uint8_t)(x0 + 0.5f), q1 = (uint8_t)(x1 + 0.5f);
      y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + 16);
    }
    memcpy(y[i].qh, &qh, 4);
  }
}

/* Index of the level of `val` (n ascending levels) nearest to x (ggml's best_index_int8). */
static inline int best_index_int8(int n, const int8_t *val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[n - 1]) return n - 1;
  int ml = 0, mu = n - 1;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < val[mav]) mu = mav; else ml = mav;
  }
  return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/*
 * IQ4_NL as ggml's quantize_row_iq4_nl_ref (what llama.cpp stores into an iq4_nl KV cache):
 * d = max/−127 (max = the value of largest magnitude), each value to its nearest level, then the
 * scale refit by weighted least squares (weights x²): d = Σw·q·x / Σw·q². No further search.
 */
/* best_index_int8(16, qk_iq4nl_values, x) without the binary search: the levels are integers, so
 * the largest level <= x is the largest <= floor(x), looked up (same result, same tie rule). */
static const uint8_t iq4_floor_lut[241] = { /* floor(x) + 127, for x in (-127, 113) */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6,
  6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9,
  9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11,
  11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13,
  13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
  14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 15
};
static inline int iq4_nearest(const int8_t *val, float x) {
  if (!(x > val[0])) return 0; /* NaN too */
  if (x >= val[15]) return 15;
  const int lo = iq4_floor_lut[(int)floorf(x) + 127];
  return x - val[lo] < val[lo + 1] - x ? lo : lo + 1;
}

/*
 * IQ4_NL with an unweighted least-squares scale search (quant's rotated iq4_nlr cache; refine = 1):
 * as quantize_row_iq4_nl_impl with ntry = 7 and no importance weights — the refit of d = max/−127,
 * then the 15 trial scales (itry + values[0])/max, itry ∈ [−7, 7], each refit; the best keeps.
 * After a rotation the values are near-Gaussian, so every value weighs the same.
 */
static void quant_iq4_nl_search(const float *x, blk_iq4_nl *y, int64_t nb) {
  const int8_t *values = qk_iq4nl_values;
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax = 0, max = 0;
    for (int j = 0; j < QB; j++) {
      const float ax = fabsf(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    uint8_t L[QB];
    float d = 0;
    if (amax < GROUP_EPS) {
      memset(L, 0, sizeof(L));
    } else {
      float id = values[0] / max, sumqx = 0, sumq2 = 0;
      for (int j = 0; j < QB; j++) {
        const float q = values[iq4_nearest(values, id * x[j])];
        sumqx += q * x[j];
        sumq2 += q * q;
      }
      d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
      float best = d * sumqx;
      for (int itry = -7; itry <= 7; itry++) {
        id = (itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < QB; j++) {
          const float q = values[iq4_nearest(values, id * x[j])];
          sumqx += q * x[j];
          sumq2 += q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) { d = sumqx / sumq2; best = d * sumqx; }
      }
      /* the levels of the stored (f16) scale */
      const float dh = qk_h2f(qk_f2h(d)), idh = dh != 0.f ? 1 / dh : 0.f;
      for (int j = 0; j < QB; j++) L[j] = (uint8_t)iq4_nearest(values, idh * x[j]);
    }
    y[i].d = qk_f2h(d);
    for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
  }
}

static void quant_iq4_nl(const float *x, blk_iq4_nl *y, int64_t nb) {
  const int8_t *values = qk_iq4nl_values;
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax = 0, max = 0;
    for (int j = 0; j < QB; j++) {
      const float ax = fabsf(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    uint8_t L[QB];
    float d = 0;
    if (amax < GROUP_EPS) {
      memset(L, 0, sizeof(L));
    } else {
      d = max / values[0];
      const float id = 1 / d;
      float sumqx = 0, sumq2 = 0;
      for (int j = 0; j < QB; j++) {
        const int l = best_index_int8(16, values, id * x[j]);
        L[j] = (uint8_t)l;
        const float q = values[l], w = x[j] * x[j];
        sumqx += w * q * x[j];
        sumq2 += w * q * q;
      }
      d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    }
    y[i].d = qk_f2h(d);
    for (int j = 0; j < 16; j++) y[i].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
  }
}

/* ---------------- K-quant helpers ---------------- */

/*
 * Asymmetric fit x ≈ scale*L + min (L in [0, nmax], min <= 0) minimising the weighted squared
 * error (or, with use_mad, absolute error): start from the min/max grid, then try nstep+1 alternative grid widths and solve the
 * 2x2 least-squares system for (scale, min) on each. Returns scale; *neg_min = -min.
 */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                           float rmin, float rdelta, int nstep, int use_mad) {
  uint8_t Laux[32];
  float lo = x[0], hi = x[0], sw = w[0], sx = w[0] * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sw += w[i];
    sx += w[i] * x[i];
  }
  if (lo > 0) lo = 0;
  if (hi == lo) {
    for (int i = 0; i < n; i++) L[i] = 0;
    *neg_min = -lo;
    return 0.f;
  }
  /* As in ggml, `min` follows the best fit so far: later grids are laid out from it. */
  float min = lo;
  float iscale = nmax / (hi - min);
  float scale = 1 / iscale;
  float best = 0;
  for (int i = 0; i < n; i++) {
    int l = qk_nearest_int(iscale * (x[i] - min));
    L[i] = (uint8_t)QK_MAX(0, QK_MIN(nmax, l));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? fabsf(diff) : diff * diff;
    best += w[i] * diff;
  }
  for (int is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (hi - min);
    float sl = 0, sl2 = 0, sxl = 0;
    for (int i = 0; i < n; i++) {
      int l = qk_nearest_int(iscale * (x[i] - min));
      l = QK_MAX(0, QK_MIN(nmax, l));
      Laux[i] = (uint8_t)l;
      sl += w[i] * l;
      sl2 += w[i] * l * l;
      sxl += w[i] * l * x[i];
    }
    float D = sw * sl2 - sl * sl;
    if (D > 0) {
      float s = (sw * sxl - sx * sl) / D;
      float m = (sl2 * sx - sl * sxl) / D;
      if (m > 0) { m = 0; s = sxl / sl2; }
      float err = 0;
      for (int i = 0; i < n; i++) {
        float diff = s * Laux[i] + m - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        err += w[i] * diff;
      }
      if (err < best) {
        memcpy(L, Laux, (size_t)n);
        best = err;
        scale = s;
        min = m;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

/*
 * The start of a symmetric fit with weights x^2: the max-magnitude grid L = clamp(round(iscale·x))
 * with iscale = −nmax/max (stored plus `offset`), and Σw·x·l, Σw·l². Returns 0 (L zeroed) for an
 * all-zero group.
 */
static int sym_grid(int n, int nmax, const float *x, int8_t *L, int offset, float *max_out, float *sumlx_out,
                    float *suml2_out) {
  float amax;
  const float max = signed_absmax(n, x, &amax);
  if (amax < GROUP_EPS) {
    memset(L, 0, (size_t)n);
    return 0;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = qk_nearest_int(iscale * x[i]);
    l = QK_MAX(-nmax, QK_MIN(nmax - 1, l));
    L[i] = (int8_t)(l + offset);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  *max_out = max;
  *sumlx_out = sumlx;
  *suml2_out = suml2;
  return 1;
}

/*
 * Symmetric fit x ≈ scale*(L - nmax) with weights x^2: start at the max-magnitude grid, refine by
 * least squares and try 18 nearby grid widths, keeping the best. L gets values in [0, 2*nmax).
 */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
  float max, sumlx, suml2, iscale;
  if (!sym_grid(n, nmax, x, L, nmax, &max, &sumlx, &suml2)) return 0.f;
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = qk_nearest_int(iscale * x[i]);
      l = QK_MAX(-nmax, QK_MIN(nmax - 1, l));
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; i++) {
        int l = qk_nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + QK_MAX(-nmax, QK_MIN(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/*
 * Symmetric 3-bit fit x ≈ scale*L (L in [-nmax, nmax)) with weights x^2: start at the
 * max-magnitude grid, then up to 5 passes that move single levels when that raises the
 * least-squares gain sumlx²/suml2. L gets values in [0, 2*nmax).
 */
static float fit_symmetric_greedy(int n, int nmax, const float *x, int8_t *L) {
  float max, sumlx, suml2;
  if (!sym_grid(n, nmax, x, L, 0, &max, &sumlx, &suml2)) return 0.f;
  for (int pass = 0; pass < 5; pass++) {
    int changed = 0;
    for (int i = 0; i < n; i++) {
      float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        int nl = qk_nearest_int(x[i] * sl2 / slx);
        nl = QK_MAX(-nmax, QK_MIN(nmax - 1, nl));
        if (nl != L[i]) {
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = (int8_t)nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Packs 8 (scale, min) 6-bit pairs into the 12-byte Q4_K/Q5_K layout. */
static void pack_scales_k4(uint8_t *s, const uint8_t *ls, const uint8_t *lm) {
  memset(s, 0, 12);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
      s[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
  }
}

/* Squared error of quantizing 32 values with level step dd and offset dm (value = dd*l - dm). */
static float refine_err(const float *x, int nmax, float dd, float dm) {
  float e = 0;
  for (int i = 0; i < 32; i++) {
    int l = 0;
    if (dd) { l = qk_nearest_int((x[i] + dm) / dd); l = QK_MAX(0, QK_MIN(nmax, l)); }
    const float diff = dd * l - dm - x[i];
    e += diff * diff;
  }
  return e;
}

/* Shared front half of Q4_K / Q5_K: sub-block fits, 6-bit scale codes, final level choice. */
static void quant_k_asym(const float *x, int nmax, float rmin, float rdelta, int nstep, int refine,
                         uint8_t scales12[12], uint16_t *d_out, uint16_t *dmin_out, uint8_t L[QK_K]) {
  float mins[8], scales[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    const float *xs = x + 32 * j;
    float s2 = 0;
    for (int l = 0; l < 32; l++) s2 += xs[l] * xs[l];
    const float av = sqrtf(s2 / 32);
    for (int l = 0; l < 32; l++) w[l] = av + fabsf(xs[l]);
    scales[j] = fit_scale_min(32, nmax, xs, w, L + 32 * j, &mins[j], rmin, rdelta, nstep, 0);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; j++) {
    ls[j] = (uint8_t)QK_MIN(63, (uint8_t)qk_nearest_int(inv_scale * scales[j]));
    lm[j] = (uint8_t)QK_MIN(63, (uint8_t)qk_nearest_int(inv_min * mins[j]));
  }
  *d_out = qk_f2h(max_scale / 63.f);
  *dmin_out = qk_f2h(max_min / 63.f);
  const float d = qk_h2f(*d_out), dmin = qk_h2f(*dmin_out);
  /*
   * Optional refinement beyond ggml's reference (off by default, so output matches llama-quantize
   * byte for byte): the 6-bit codes were rounded independently; try the codes within ±2 of each and
   * keep the pair with the smallest squared error of the sub-block. This only lowers the error.
   */
  for (int j = 0; refine && j < 8; j++) {
    const float *xs = x + 32 * j;
    float best = refine_err(xs, nmax, d * ls[j], dmin * lm[j]);
    uint8_t bs = ls[j], bm = lm[j];
    for (int a = ls[j] - 2; a <= ls[j] + 2; a++) {
      if (a < 0 || a > 63) continue;
      for (int m = lm[j] - 2; m <= lm[j] + 2; m++) {
        if (m < 0 || m > 63 || (a == ls[j] && m == lm[j])) continue;
        const float e = refine_err(xs, nmax, d * a, dmin * m);
        if (e < best) { best = e; bs = (uint8_t)a; bm = (uint8_t)m; }
      }
    }
    ls[j] = bs;
    lm[j] = bm;
  }
  pack_scales_k4(scales12, ls, lm);
  for (int j = 0; j < 8; j++) {
    uint8_t sc, m;
    qk_scale_min_k4(j, scales12, &sc, &m);
    const float dd = d * sc;
    if (!dd) continue;
    const float dm = dmin * m;
    for (int ii = 0; ii < 32; ii++) {
      int l = qk_nearest_int((x[32 * j + ii] + dm) / dd);
      L[32 * j + ii] = (uint8_t)QK_MAX(0, QK_MIN(nmax, l));
    }
  }
}

static void quant_q4_K(const float *x, blk_q4_K *y, int64_t nb, int refine) {
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    uint16_t d, dmin;
    quant_k_asym(x, 15, -1.f, 0.1f, 20, refine, y[i].scales, &d, &dmin, L);
    y[i].d = d;
    y[i].dmin = dmin;
    uint8_t *q = y[i].qs;
    for (int j = 0; j < QK_K; j += 64, q += 32)
      for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
  }
}

static void quant_q5_K(const float *x, blk_q5_K *y, int64_t nb, int refine) {
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    uint16_t d, dmin;
    quant_k_asym(x, 31, -0.5f, 0.1f, 15, refine, y[i].scales, &d, &dmin, L);
    y[i].d = d;
    y[i].dmin = dmin;
    uint8_t *qh = y[i].qh, *ql = y[i].qs;
    memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < QK_K; n += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
      for (int j = 0; j < 32; j++) {
        int l1 = L[n + j], l2 = L[n + j + 32];
        if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
        if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
        ql[j] = (uint8_t)(l1 | (l2 << 4));
      }
    }
  }
}

/* Packs 256 2-bit levels as Q2_K/Q3_K store them: byte l of each 32-byte group holds 4 rows 32 apart. */
static void pack_2bit(uint8_t *qs, const uint8_t *L) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; l++)
      qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/* Q2_K (llama.cpp's reference quantizer): 16 sub-blocks of 16, asymmetric 2-bit fits (absolute-error
 * weighted by |x|), scales and mins as 4-bit codes of the super-block's largest. */
static void quant_q2_K(const float *x, blk_q2_K *y, int64_t nb) {
  uint8_t L[QK_K];
  float w[16], mins[16], scales[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
      for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)qk_nearest_int(iscale * scales[j]);
      y[i].d = qk_f2h(max_scale / 15.f);
    } else {
      memset(y[i].scales, 0, 16);
      y[i].d = qk_f2h(0.f);
    }
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; j++) y[i].scales[j] |= (uint8_t)(qk_nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = qk_f2h(max_min / 15.f);
    } else {
      y[i].dmin = qk_f2h(0.f);
    }
    for (int j = 0; j < 16; j++) {
      const float d = qk_h2f(y[i].d) * (y[i].scales[j] & 0xF);
      if (!d) continue;
      const float dm = qk_h2f(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ii++) {
        int l = qk_nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = (uint8_t)QK_MAX(0, QK_MIN(3, l));
      }
    }
    pack_2bit(y[i].qs, L);
  }
}

/* The 6-bit signed scale code of Q3_K sub-block j (low 4 bits in scales[0..7], high 2 in scales[8..11]). */
static int q3_scale_code(const uint8_t *s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return (int8_t)(lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* Q3_K (llama.cpp's reference quantizer): 16 sub-blocks of 16, symmetric 3-bit fits, 6-bit scales
 * of the super-block's largest; the third bit of each level goes to hmask. */
static void quant_q3_K(const float *x, blk_q3_K *y, int64_t nb) {
  int8_t L[QK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; j++) {
      scales[j] = fit_symmetric_greedy(16, 4, x + 16 * j, L + 16 * j);
      const float a = fabsf(scales[j]);
      if (a > amax) { amax = a; max_scale = scales[j]; }
    }
    memset(y[i].scales, 0, 12);
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; j++) {
        int8_t l = (int8_t)qk_nearest_int(iscale * scales[j]);
        l = (int8_t)(QK_MAX(-32, QK_MIN(31, l)) + 32);
        if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xF);
        else y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
        l = (int8_t)(l >> 4);
        y[i].scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
      }
      y[i].d = qk_f2h(1 / iscale);
    } else {
      y[i].d = qk_f2h(0.f);
    }
    for (int j = 0; j < 16; j++) {
      const float d = qk_h2f(y[i].d) * q3_scale_code(y[i].scales, j);
      if (!d) continue;
      for (int ii = 0; ii < 16; ii++) {
        int l = qk_nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(QK_MAX(-4, QK_MIN(3, l)) + 4);
      }
    }
    memset(y[i].hmask, 0, 32);
    uint8_t u[QK_K];
    for (int j = 0; j < QK_K; j++) {
      int l = L[j];
      if (l > 3) {
        y[i].hmask[j % 32] |= (uint8_t)(1u << (j / 32));
        l -= 4;
      }
      u[j] = (uint8_t)l;
    }
    pack_2bit(y[i].qs, u);
  }
}

static void quant_q6_K(const float *x, blk_q6_K *y, int64_t nb) {
  int8_t L[QK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    float max_scale = 0, max_abs = 0;
    for (int ib = 0; ib < 16; ib++) {
      const float s = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = s;
      if (fabsf(s) > max_abs) { max_abs = fabsf(s); max_scale = s; }
    }
    if (max_abs < GROUP_EPS) {
      memset(&y[i], 0, sizeof(blk_q6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = qk_f2h(1 / iscale);
    for (int ib = 0; ib < 16; ib++) y[i].scales[ib] = (int8_t)QK_MIN(127, qk_nearest_int(iscale * scales[ib]));
    const float d0 = qk_h2f(y[i].d);
    for (int j = 0; j < 16; j++) {
      const float d = d0 * y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ii++) {
        int l = qk_nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(QK_MAX(-32, QK_MIN(31, l)) + 32);
      }
    }
    uint8_t *ql = y[i].ql, *qh = y[i].qh;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; l++) {
        const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

int qk_quantize(int type, const float *src, void *dst, int64_t rows, int64_t cols, int refine) {
  const int b = qk_type_block(type);
  if (!b || cols % b) return -1;
  const int64_t n = rows * cols, nb = n / b;
  switch (type) {
    case QK_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case QK_F16: qk_f32_to_f16_row(src, dst, n); return 0;
    case QK_BF16: { uint8_t *d = dst; for (int64_t i = 0; i < n; i++) { uint16_t h = qk_f2bf(src[i]); memcpy(d + 2 * i, &h, 2); } return 0; }
    case QK_Q8_0: quant_q8_0(src, dst, nb); return 0;
    case QK_Q4_0: quant_q4_0(src, dst, nb); return 0;
    case QK_Q4_1: quant_q4_1(src, dst, nb); return 0;
    case QK_Q5_0: quant_q5_0(src, dst, nb); return 0;
    case QK_Q5_1: quant_q5_1(src, dst, nb); return 0;
    case QK_IQ4_NL: if (refine) quant_iq4_nl_search(src, dst, nb); else quant_iq4_nl(src, dst, nb); return 0;
    case QK_Q2_K: quant_q2_K(src, dst, nb); return 0;
    case QK_Q3_K: quant_q3_K(src, dst, nb); return 0;
    case QK_Q4_K: quant_q4_K(src, dst, nb, refine); return 0;
    case QK_Q5_K: quant_q5_K(src, dst, nb, refine); return 0;
    case QK_Q6_K: quant_q6_K(src, dst, nb); return 0;
    default: return -1;
  }
}

/* ---------------- activation quantizers (matmul fast path) ---------------- */

/*
 * Activations are quantized as ggml-cpu's x86 quantize_row_q8_0 / _q8_1 do (not the reference
 * quantizer used for weights): multiplier 127/amax (not 1/d) and round-half-to-even.
 */
void qk_quantize_act_q8_0(const float *x, blk_q8_0 *y, int64_t n) {
  const int64_t nb = n / QB;
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax = 0.f;
    for (int j = 0; j < QB; j++) amax = QK_MAX(amax, fabsf(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    y[i].d = qk_f2h(d);
    for (int j = 0; j < QB; j++) y[i].qs[j] = (int8_t)qk_nearest_int(x[j] * id);
  }
}

void qk_quantize_act_q8_1(const float *x, blk_q8_1 *y, int64_t n) {
  const int64_t nb = n / QB;
  for (int64_t i = 0; i < nb; i++, x += QB) {
    float amax = 0.f;
    for (int j = 0; j < QB; j++) amax = QK_MAX(amax, fabsf(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QB; j++) {
      y[i].qs[j] = (int8_t)qk_nearest_int(x[j] * id);
      sum += y[i].qs[j];
    }
    y[i].d = qk_f2h(d);
    y[i].s = qk_f2h((float)sum * d);
  }
}

void (*qk_quantize_act_q8_K_fast)(const float *x, blk_q8_K *y, int64_t n) = NULL;

void qk_quantize_act_q8_K(const float *x, blk_q8_K *y, int64_t n) {
  if (qk_quantize_act_q8_K_fast) qk_quantize_act_q8_K_fast(x, y, n);
  else qk_quantize_act_q8_K_scalar(x, y, n);
}

void qk_quantize_act_q8_K_scalar(const float *x, blk_q8_K *y, int64_t n) {
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; j++) {
      float ax = fabsf(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (!amax) {
      memset(&y[i], 0, sizeof(blk_q8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
      int v = qk_nearest_int(iscale * x[j]);
      y[i].qs[j] = (int8_t)QK_MIN(127, v);
    }
    for (int j = 0; j < 16; j++) {
      int s = 0;
      for (int ii = 0; ii < 16; ii++) s += y[i].qs[16 * j + ii];
      y[i].bsums[j] = (int16_t)s;
    }
    y[i].d = 1 / iscale;
  }
}
