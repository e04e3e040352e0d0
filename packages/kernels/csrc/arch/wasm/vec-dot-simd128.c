/*
 * WebAssembly SIMD128 dot products (compile-time: the wasm module is built with -msimd128).
 * Baseline SIMD128 has no u8×i8 multiply-add, so int8 blocks are widened to i16 and summed with
 * i32x4.dot_i16x8_s.
 */
/* the wasm build's virtual file system does not resolve "..": it passes -I for csrc/ instead */
#if defined(__has_include) && __has_include("../../qk.h")
#include "../../qk.h"
#else
#include "qk.h"
#endif
#if defined(__has_include) && __has_include("../../plan.h")
#include "../../plan.h"
#else
#include "plan.h"
#endif

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

static inline v128_t ld(const void *p) { return wasm_v128_load(p); }

/*
 * Wasm has no prefetch instruction: touching one byte per cache line ~1.5 KB ahead of the weight
 * stream with a (volatile, so kept) load starts the cache misses early, overlapping memory and
 * compute. qk_wasm_pf_end bounds it to the weight matrix so no load leaves valid memory.
 */
const uint8_t *qk_wasm_pf_end = 0;
#define PF_DIST 1536
static inline void touch_ahead(const void *p, int bytes) {
  const uint8_t *q = (const uint8_t *)p + PF_DIST;
  if (q + bytes <= qk_wasm_pf_end) {
    for (int o = 0; o < bytes; o += 64) (void)*(volatile const uint8_t *)(q + o);
  }
}

/* 16 × int8 · 16 × int8 → 4 × int32 partial sums */
static inline v128_t dot16(v128_t a, v128_t b) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b)),
                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b)));
}

/* Same as dot16 when |a·b| pairs fit in int16 (|a| <= 63 or so): one widening multiply per half. */
static inline v128_t dot16s(v128_t a, v128_t b) {
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(wasm_i16x8_extmul_low_i8x16(a, b), wasm_i16x8_extmul_high_i8x16(a, b)));
}

static inline int hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

static inline float hsum_f32(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* 4 halves → 4 floats, without touching float denormals (slow on x86): normal halves by moving
 * exponent and mantissa, subnormal halves as mantissa·2^-24. Weights hold no inf/nan. */
static inline v128_t h4(const void *p) {
  const v128_t h = wasm_u32x4_load16x4(p);
  const v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  const v128_t norm = wasm_i32x4_add(wasm_i32x4_shl(em, 13), wasm_i32x4_splat(112 << 23));
  const v128_t sub = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(em), wasm_f32x4_splat(5.9604644775390625e-8f));
  const v128_t mag = wasm_v128_bitselect(sub, norm, wasm_i32x4_lt(em, wasm_i32x4_splat(0x0400)));
  return wasm_v128_or(mag, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

static inline v128_t bf4(const void *p) { return wasm_i32x4_shl(wasm_u32x4_load16x4(p), 16); }

static float vd_f32(int64_t n, const void *w, const void *a) {
  const float *x = w, *y = a;
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(ld(x + i), ld(y + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(ld(x + i + 4), ld(y + i + 4)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(ld(x + i + 8), ld(y + i + 8)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(ld(x + i + 12), ld(y + i + 12)));
  }
  for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(ld(x + i), ld(y + i)));
  float s = hsum_f32(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

static float vd_f16(int64_t n, const void *w, const void *a) {
  const uint8_t *x = w;
  const float *y = a;
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if ((i & 31) == 0) touch_ahead(x + 2 * i, 64);
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(h4(x + 2 * i), ld(y + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(h4(x + 2 * i + 8), ld(y + i + 4)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(h4(x + 2 * i + 16), ld(y + i + 8)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(h4(x + 2 * i + 24), ld(y + i + 12)));
  }
  for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(h4(x + 2 * i), ld(y + i)));
  float s = hsum_f32(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
  for (; i < n; i++) { uint16_t hh; memcpy(&hh, x + 2 * i, 2); s += qk_h2f(hh) * y[i]; }
  return s;
}


static float vd_q8_0(int64_t n, const void *w, const void *a) {
  const blk_q8_0 *x = w;
  const blk_q8_0 *y = a;
  v128_t acc = wasm_f32x4_splat(0);
  for (int64_t i = 0; i < n / QB; i++) {
    touch_ahead(x + i, sizeof(blk_q8_0));
    const v128_t s = wasm_i32x4_add(dot16(ld(x[i].qs), ld(y[i].qs)), dot16(ld(x[i].qs + 16), ld(y[i].qs + 16)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(qk_h2f(x[i].d) * qk_h2f(y[i].d))));
  }
  return hsum_f32(acc);
}

static float vd_q4_0(int64_t n, const void *w, const void *a) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  const v128_t m4 = wasm_i8x16_splat(0xF), off = wasm_i8x16_splat(8);
  v128_t acc = wasm_f32x4_splat(0);
  for (int64_t i = 0; i < n / QB; i++) {
    touch_ahead(x + i, sizeof(blk_q4_0));
    const v128_t q = ld(x[i].qs);
    const v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, m4), off);
    const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), off);
    const v128_t s = wasm_i32x4_add(dot16s(lo, ld(y[i].qs)), dot16s(hi, ld(y[i].qs + 16)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(qk_h2f(x[i].d) * qk_h2f(y[i].d))));
  }
  return hsum_f32(acc);
}

static float vd_q4_K(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const v128_t m4 = wasm_i8x16_splat(0xF);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    touch_ahead(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int summs = 0;
    for (int j = 0; j < 8; j++) summs += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    v128_t acc = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const v128_t q0 = ld(q), q1 = ld(q + 16);
      const v128_t lo = wasm_i32x4_add(dot16s(wasm_v128_and(q0, m4), ld(a8)), dot16s(wasm_v128_and(q1, m4), ld(a8 + 16)));
      const v128_t hi = wasm_i32x4_add(dot16s(wasm_u8x16_shr(q0, 4), ld(a8 + 32)), dot16s(wasm_u8x16_shr(q1, 4), ld(a8 + 48)));
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * j])), wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * j + 1]))));
    }
    s += y[i].d * (qk_h2f(x[i].d) * hsum_i32(acc) - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

static float vd_q5_K(int64_t n, const void *w, const void *a) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  const v128_t m4 = wasm_i8x16_splat(0xF), one = wasm_i8x16_splat(1);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    touch_ahead(x + i, sizeof(blk_q5_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int summs = 0;
    for (int j = 0; j < 8; j++) summs += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    const v128_t h0 = ld(x[i].qh), h1 = ld(x[i].qh + 16);
    v128_t acc = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const v128_t q0 = ld(q), q1 = ld(q + 16);
      const v128_t b00 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h0, 2 * j), one), 4);
      const v128_t b01 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h1, 2 * j), one), 4);
      const v128_t b10 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h0, 2 * j + 1), one), 4);
      const v128_t b11 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h1, 2 * j + 1), one), 4);
      const v128_t lo = wasm_i32x4_add(dot16s(wasm_v128_or(wasm_v128_and(q0, m4), b00), ld(a8)), dot16s(wasm_v128_or(wasm_v128_and(q1, m4), b01), ld(a8 + 16)));
      const v128_t hi = wasm_i32x4_add(dot16s(wasm_v128_or(wasm_u8x16_shr(q0, 4), b10), ld(a8 + 32)), dot16s(wasm_v128_or(wasm_u8x16_shr(q1, 4), b11), ld(a8 + 48)));
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * j])), wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * j + 1]))));
    }
    s += y[i].d * (qk_h2f(x[i].d) * hsum_i32(acc) - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

static float vd_q6_K(int64_t n, const void *w, const void *a) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const v128_t m4 = wasm_i8x16_splat(0xF), m3 = wasm_i8x16_splat(3), m32 = wasm_i8x16_splat(32);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    touch_ahead(x + i, sizeof(blk_q6_K));
    const uint8_t *ql = x[i].ql, *qh = x[i].qh;
    const int8_t *sc = x[i].scales, *a8 = y[i].qs;
    v128_t acc = wasm_i32x4_splat(0);
    for (int n0 = 0; n0 < QK_K; n0 += 128, ql += 64, qh += 32, sc += 8, a8 += 128) {
      for (int half = 0; half < 2; half++) {
        const int o = 16 * half;
        const v128_t l0 = ld(ql + o), l1 = ld(ql + 32 + o), h = ld(qh + o);
        const v128_t q1 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(l0, m4), wasm_i8x16_shl(wasm_v128_and(h, m3), 4)), m32);
        const v128_t q2 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(l1, m4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 2), m3), 4)), m32);
        const v128_t q3 = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(l0, 4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 4), m3), 4)), m32);
        const v128_t q4 = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(l1, 4), wasm_i8x16_shl(wasm_u8x16_shr(h, 6), 4)), m32);
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16s(q1, ld(a8 + o)), wasm_i32x4_splat(sc[half])));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16s(q2, ld(a8 + 32 + o)), wasm_i32x4_splat(sc[2 + half])));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16s(q3, ld(a8 + 64 + o)), wasm_i32x4_splat(sc[4 + half])));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot16s(q4, ld(a8 + 96 + o)), wasm_i32x4_splat(sc[6 + half])));
      }
    }
    s += y[i].d * qk_h2f(x[i].d) * hsum_i32(acc);
  }
  return s;
}

/*
 * Flash attention with an f16 KV cache (csrc/attention.c): the scalar definitions qk_fa_dot_f16,
 * qk_fa_scale_f16 and qk_fa_mad_f16, four lanes at a time, with the same results bit for bit
 * (tested against them in test/wasm-fa.test.ts). Unlike h4 these conversions keep inf and nan
 * (K, V and the query are activations, not weights).
 */
static inline v128_t h4x(const void *p) {
  const v128_t h = wasm_u32x4_load16x4(p);
  const v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  const v128_t norm = wasm_i32x4_add(wasm_i32x4_shl(em, 13), wasm_i32x4_splat(112 << 23));
  const v128_t sub = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(em), wasm_f32x4_splat(5.9604644775390625e-8f));
  const v128_t infnan = wasm_v128_or(wasm_i32x4_shl(em, 13), wasm_i32x4_splat(0x7f800000));
  v128_t mag = wasm_v128_bitselect(sub, norm, wasm_i32x4_lt(em, wasm_i32x4_splat(0x0400)));
  mag = wasm_v128_bitselect(infnan, mag, wasm_i32x4_ge(em, wasm_i32x4_splat(0x7c00)));
  return wasm_v128_or(mag, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/* qk_f2h on four lanes (round to nearest even; nan → 0x7e00, overflow → inf), stored as 4 halves */
static inline void f2h4(uint16_t *dst, v128_t f) {
  const v128_t sign = wasm_v128_and(wasm_u32x4_shr(f, 16), wasm_i32x4_splat(0x8000));
  const v128_t ax = wasm_v128_and(f, wasm_i32x4_splat(0x7fffffff));
  const v128_t odd = wasm_v128_and(wasm_u32x4_shr(ax, 13), wasm_i32x4_splat(1));
  const v128_t norm = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(ax, wasm_i32x4_splat((int32_t)0xc8000fffu)), odd), 13);
  const v128_t sub = wasm_i32x4_sub(wasm_f32x4_add(ax, wasm_f32x4_splat(0.5f)), wasm_i32x4_splat(0x3f000000));
  v128_t r = wasm_v128_bitselect(sub, norm, wasm_i32x4_lt(ax, wasm_i32x4_splat(0x38800000)));
  r = wasm_v128_bitselect(wasm_i32x4_splat(0x7c00), r, wasm_i32x4_ge(ax, wasm_i32x4_splat(0x477ff000)));
  r = wasm_v128_bitselect(wasm_i32x4_splat(0x7e00), r, wasm_i32x4_gt(ax, wasm_i32x4_splat(0x7f800000)));
  r = wasm_v128_or(r, sign);
  wasm_v128_store64_lane(dst, wasm_u16x8_narrow_i32x4(r, r), 0);
}

/* qk_fa_dot_f16: four 8-lane f32 sums (here 2 × 4 lanes each) over 32-element steps, reduced in the
 * same order, the leftover elements added in double */
static float fa_dot_f16(int64_t n, const uint16_t *x, const uint16_t *y) {
  const int64_t np = n & ~(int64_t)31;
  double sumf = 0;
  if (np > 0) {
    v128_t s[8];
    for (int j = 0; j < 8; j++) s[j] = wasm_f32x4_splat(0);
    for (int64_t i = 0; i < np; i += 32)
      for (int j = 0; j < 8; j++) s[j] = wasm_f32x4_add(s[j], wasm_f32x4_mul(h4x(x + i + 4 * j), h4x(y + i + 4 * j)));
    /* s[2j], s[2j + 1]: lanes 0..3 and 4..7 of the scalar's s[j] */
    const v128_t a0 = wasm_f32x4_add(wasm_f32x4_add(s[0], s[4]), wasm_f32x4_add(s[2], s[6]));
    const v128_t a1 = wasm_f32x4_add(wasm_f32x4_add(s[1], s[5]), wasm_f32x4_add(s[3], s[7]));
    sumf = (double)hsum_f32(wasm_f32x4_add(a0, a1));
  }
  for (int64_t i = np; i < n; i++) sumf += (double)(qk_h2f(x[i]) * qk_h2f(y[i]));
  return (float)sumf;
}

static void fa_scale_f16(int64_t n, uint16_t *y, float v) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) f2h4(y + i, wasm_f32x4_mul(h4x(y + i), wasm_f32x4_splat(v)));
  for (; i < n; i++) y[i] = qk_f2h(qk_h2f(y[i]) * v);
}

/* y = f16((float)((double)x·v + y)): the products and sums in f64x2, as the scalar's doubles */
static void fa_mad_f16(int64_t n, uint16_t *y, const uint16_t *x, float v) {
  const v128_t vd = wasm_f64x2_splat((double)v);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t xf = h4x(x + i), yf = h4x(y + i);
    const v128_t lo = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(xf), vd), wasm_f64x2_promote_low_f32x4(yf));
    const v128_t xh = wasm_i32x4_shuffle(xf, xf, 2, 3, 2, 3), yh = wasm_i32x4_shuffle(yf, yf, 2, 3, 2, 3);
    const v128_t hi = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(xh), vd), wasm_f64x2_promote_low_f32x4(yh));
    const v128_t l = wasm_f32x4_demote_f64x2_zero(lo), h = wasm_f32x4_demote_f64x2_zero(hi);
    f2h4(y + i, wasm_i32x4_shuffle(l, h, 0, 1, 4, 5));
  }
  for (; i < n; i++) y[i] = qk_f2h((float)((double)qk_h2f(x[i]) * (double)v + (double)qk_h2f(y[i])));
}

/* qk_f32_to_f16_row / qk_f16_to_f32_row four lanes at a time (same bits as qk_f2h and the table) */
static void f32_to_f16_row(const float *x, void *y, int64_t n) {
  uint8_t *d = y;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) f2h4((uint16_t *)(d + 2 * i), ld(x + i));
  for (; i < n; i++) {
    const uint16_t h = qk_f2h(x[i]);
    memcpy(d + 2 * i, &h, 2);
  }
}

static void f16_to_f32_row(const uint16_t *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, h4x(x + i));
  for (; i < n; i++) y[i] = qk_h2f(x[i]);
}

#if defined(QK_WASM_RELAXED)
/* Only these functions are compiled for relaxed SIMD (the build passes -DQK_WASM_RELAXED, not
 * -mrelaxed-simd): with the flag for the whole module, clang's auto-vectorizer picks relaxed float ops
 * (min/max, truncation) in the quantizers, whose results then differ from llama.cpp's. */
#pragma clang attribute push(__attribute__((target("relaxed-simd"))), apply_to = function)
/*
 * Relaxed-SIMD vec-dots (the *-relaxed.wasm modules, picked at load when the engine validates relaxed
 * SIMD). i32x4.relaxed_dot_i8x16_i7x16_add_s multiplies int8 activations by weights in 0..127 and adds
 * groups of four products into int32 lanes (x86: PMADDUBSW + PMADDWD, or VPDPBUSD; arm64: SDOT). With the
 * second operand in 0..127 no pair sum can saturate (|2 · 128 · 127| < 32768), so the result is exact
 * and deterministic: the K-quants' unsigned quants (Q4_K 0..15, Q5_K 0..31, Q6_K 0..63 before its -32,
 * taken back through the activation block sums) are that operand. The integer sums equal the SIMD128
 * kernels' and the float epilogue is the same expression, so results are bit-identical with them.
 */
/* 16 × int8 activations · 16 weights in 0..127 → 8 int16 pair sums (x86: one PMADDUBSW) */
static inline v128_t rdot16(const int8_t *a, v128_t w) { return wasm_i16x8_relaxed_dot_i8x16_i7x16(ld(a), w); }
/* int16 pair sums × a scale → int32 lanes (one PMADDWD: the widening and the sub-block scale at once) */
static inline v128_t scl(v128_t s16, int sc) { return wasm_i32x4_dot_i16x8(s16, wasm_i16x8_splat((int16_t)sc)); }
/* high nibbles with a 16-bit shift (V8 expands 8-bit shifts into several instructions) */
static inline v128_t nib_hi(v128_t q, v128_t m4) { return wasm_v128_and(wasm_u16x8_shr(q, 4), m4); }

/* Σ mn[j] · (bsums[2j] + bsums[2j+1]) for a Q4_K/Q5_K block (exact int32) */
static inline int k4_summs(const uint8_t mn[8], const int16_t *bsums) {
  const v128_t m = wasm_u16x8_load8x8(mn);
  const v128_t mlo = wasm_i16x8_shuffle(m, m, 0, 0, 1, 1, 2, 2, 3, 3), mhi = wasm_i16x8_shuffle(m, m, 4, 4, 5, 5, 6, 6, 7, 7);
  return hsum_i32(wasm_i32x4_add(wasm_i32x4_dot_i16x8(mlo, ld(bsums)), wasm_i32x4_dot_i16x8(mhi, ld(bsums + 8))));
}

/*
 * Q4_K / Q5_K: per 32-element sub-block two relaxed dots (int16 pair sums: at most 2·128·31 each, so
 * their sum fits int16) and one i32x4.dot_i16x8_s with the sub-block's scale. Loops kept rolled: V8
 * does not reschedule, and clang's fully unrolled version spills.
 */
static inline __attribute__((always_inline)) float vd_k45_r(const int q5, int64_t n, const void *w, const void *a) {
  const blk_q8_K *y = a;
  const size_t bb = q5 ? sizeof(blk_q5_K) : sizeof(blk_q4_K);
  const v128_t m4 = wasm_i8x16_splat(0xF), one = wasm_i8x16_splat(1);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const uint8_t *blk = (const uint8_t *)w + i * bb;
    const blk_q4_K *x4 = (const blk_q4_K *)blk;
    const blk_q5_K *x5 = (const blk_q5_K *)blk;
    touch_ahead(blk, (int)bb);
    uint8_t sc[8], mn[8];
    qk_unpack_k4(q5 ? x5->scales : x4->scales, sc, mn);
    const int summs = k4_summs(mn, y[i].bsums);
    const uint8_t *q = q5 ? x5->qs : x4->qs;
    const int8_t *a8 = y[i].qs;
    v128_t h0 = wasm_i8x16_splat(0), h1 = h0;
    if (q5) { h0 = ld(x5->qh); h1 = ld(x5->qh + 16); }
    v128_t acc = wasm_i32x4_splat(0);
    _Pragma("clang loop unroll(disable)") for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const v128_t q0 = ld(q), q1 = ld(q + 16);
      v128_t l0 = wasm_v128_and(q0, m4), l1 = wasm_v128_and(q1, m4), u0 = nib_hi(q0, m4), u1 = nib_hi(q1, m4);
      if (q5) { /* bit 2j (low nibbles) / 2j + 1 (high nibbles) of qh moved to bit 4 of each byte */
        l0 = wasm_v128_or(l0, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h0, 2 * j), one), 4));
        l1 = wasm_v128_or(l1, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h1, 2 * j), one), 4));
        u0 = wasm_v128_or(u0, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h0, 2 * j + 1), one), 4));
        u1 = wasm_v128_or(u1, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h1, 2 * j + 1), one), 4));
      }
      const v128_t lo = wasm_i16x8_add(rdot16(a8, l0), rdot16(a8 + 16, l1));
      const v128_t hi = wasm_i16x8_add(rdot16(a8 + 32, u0), rdot16(a8 + 48, u1));
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(scl(lo, sc[2 * j]), scl(hi, sc[2 * j + 1])));
    }
    s += y[i].d * (qk_h2f(q5 ? x5->d : x4->d) * hsum_i32(acc) - qk_h2f(q5 ? x5->dmin : x4->dmin) * summs);
  }
  return s;
}
static float vd_q4_K_r(int64_t n, const void *w, const void *a) { return vd_k45_r(0, n, w, a); }
static float vd_q5_K_r(int64_t n, const void *w, const void *a) { return vd_k45_r(1, n, w, a); }

/* Q6_K: quants 0..63 (before their -32, taken back through the activation block sums), one relaxed dot
 * and one scaled dot_i16x8 per 16-element group. */
static float vd_q6_K_r(int64_t n, const void *w, const void *a) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const v128_t m4 = wasm_i8x16_splat(0xF), m30 = wasm_i8x16_splat(0x30);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    touch_ahead(x + i, sizeof(blk_q6_K));
    /* Σ (q - 32)·a = Σ q·a - 32 Σ a, per 16-element group (= scale index) from the block sums */
    const v128_t scv = ld(x[i].scales);
    const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(scv), ld(y[i].bsums)),
                                      wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(scv), ld(y[i].bsums + 8)));
    v128_t acc = wasm_i32x4_mul(off, wasm_i32x4_splat(-32));
    _Pragma("clang loop unroll(disable)") for (int nh = 0; nh < 4; nh++) {
      const int n0 = nh >> 1, o = 16 * (nh & 1);
      const uint8_t *ql = x[i].ql + 64 * n0 + o, *qh = x[i].qh + 32 * n0 + o;
      const int8_t *sc = x[i].scales + 8 * n0 + (nh & 1), *a8 = y[i].qs + 128 * n0 + o;
      const v128_t l0 = ld(ql), l1 = ld(ql + 32), h = ld(qh);
      const v128_t q1 = wasm_v128_or(wasm_v128_and(l0, m4), wasm_v128_and(wasm_i16x8_shl(h, 4), m30));
      const v128_t q2 = wasm_v128_or(wasm_v128_and(l1, m4), wasm_v128_and(wasm_i16x8_shl(h, 2), m30));
      const v128_t q3 = wasm_v128_or(nib_hi(l0, m4), wasm_v128_and(h, m30));
      const v128_t q4 = wasm_v128_or(nib_hi(l1, m4), wasm_v128_and(wasm_u16x8_shr(h, 2), m30));
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(scl(rdot16(a8, q1), sc[0]), scl(rdot16(a8 + 32, q2), sc[2])));
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(scl(rdot16(a8 + 64, q3), sc[4]), scl(rdot16(a8 + 96, q4), sc[6])));
    }
    s += y[i].d * qk_h2f(x[i].d) * hsum_i32(acc);
  }
  return s;
}
#pragma clang attribute pop
#endif

static float dot_f16_f32(int64_t n, const uint16_t *a, const float *b) { return vd_f16(n, a, b); }
static float dot_f32(int64_t n, const float *a, const float *b) { return vd_f32(n, a, b); }

static void axpy_f32(int64_t n, float s, const float *x, float *y) {
  const v128_t sv = wasm_f32x4_splat(s);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(ld(y + i), wasm_f32x4_mul(sv, ld(x + i))));
  for (; i < n; i++) y[i] += s * x[i];
}

static void axpy_f16(int64_t n, float s, const uint16_t *x, float *y) {
  const v128_t sv = wasm_f32x4_splat(s);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(ld(y + i), wasm_f32x4_mul(sv, h4(x + i))));
  for (; i < n; i++) y[i] += s * qk_h2f(x[i]);
}


/*
 * Batched gemm (prefill) and decode for Q4_K, Q5_K, Q6_K and Q8_0 on the plain layout. The activations
 * are quantized once per matmul exactly as for the vec-dots above (ggml's Q8_K / x86 Q8_0 values) and
 * stored widened to int16 (blk_q8_K16 / blk_q8_016), so the inner loop is one i32x4.dot_i16x8_s (x86
 * PMADDWD) per 8 multiply-adds. K-quant activations are stored permuted: in each 16-element group the
 * 8 even elements, then the 8 odd ones. Then 16 bytes of packed quants become int16 weights with 16-bit
 * ops only (V8 expands 8-bit shifts into several instructions, and the i8 → i16 widenings cost two or
 * three each): byte 2k and 2k+1 of a 16-bit lane hold elements 2k and 2k+1, so `lane & 0xF` is the even
 * low nibbles and `lane >> 12` the odd high nibbles, each already an int16 lane in the permuted order.
 *   Decode (fewer than 4 tokens) streams each weight row once through that unpacking, applying the
 * sub-block scales to the int32 sums. Prefill unpacks each weight block of up to 8 rows once per call,
 * multiplied by its 6-bit (Q4_K/Q5_K) or 8-bit (Q6_K) sub-block scale (|q·scale| ≤ 4096 fits int16),
 * and every token of the tile, four at a time, reuses it. Integer sums are exact and the float epilogue
 * of each (row, token) is the vec-dot's expression in the same block order, so the results are
 * bit-identical with vd_q4_K / vd_q5_K / vd_q6_K / vd_q8_0: a prompt token gets its decode result.
 */
/* bs: pair sums of the Q8_K block sums (per 32 elements, Q4_K/Q5_K mins); bs16: the block sums (per 16, Q6_K's -32) */
typedef struct { int16_t qs[QK_K]; int16_t bs16[16]; int16_t bs[8]; float d; int32_t pad[3]; } blk_q8_K16; /* 576 */
typedef struct { int16_t qs[QB]; float d; int32_t pad[3]; } blk_q8_016;                                    /* 80 */
_Static_assert(sizeof(blk_q8_K16) == 576, "q8_K16");
_Static_assert(sizeof(blk_q8_016) == 80, "q8_016");

#define GEMM_ROWS 8  /* at most this many rows per call (matmul.c's ROW_BLOCK) */
#define GEMM_TOKS 32 /* at most this many tokens per call (matmul.c's TOK_TILE) */

static void act_q8_K16(const float *x, void *dst, int64_t n) {
  blk_q8_K16 *y = dst;
  for (int64_t i = 0; i < n / QK_K; i++) {
    blk_q8_K b;
    qk_quantize_act_q8_K(x + i * QK_K, &b, QK_K);
    for (int k = 0; k < QK_K; k += 16) {
      const v128_t q = ld(b.qs + k);
      const v128_t p = wasm_i8x16_shuffle(q, q, 0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
      wasm_v128_store(y[i].qs + k, wasm_i16x8_extend_low_i8x16(p));
      wasm_v128_store(y[i].qs + k + 8, wasm_i16x8_extend_high_i8x16(p));
    }
    for (int j = 0; j < 16; j++) y[i].bs16[j] = b.bsums[j];
    for (int j = 0; j < 8; j++) y[i].bs[j] = (int16_t)(b.bsums[2 * j] + b.bsums[2 * j + 1]);
    y[i].d = b.d;
    memset(y[i].pad, 0, sizeof(y[i].pad));
  }
}
static size_t act_row_q8_K16(int64_t cols) { return (size_t)(cols / QK_K) * sizeof(blk_q8_K16); }

static void act_q8_016(const float *x, void *dst, int64_t n) {
  blk_q8_016 *y = dst;
  for (int64_t i = 0; i < n / QB; i++) {
    blk_q8_0 b;
    qk_quantize_act_q8_0(x + i * QB, &b, QB);
    const v128_t q0 = ld(b.qs), q1 = ld(b.qs + 16);
    wasm_v128_store(y[i].qs, wasm_i16x8_extend_low_i8x16(q0));
    wasm_v128_store(y[i].qs + 8, wasm_i16x8_extend_high_i8x16(q0));
    wasm_v128_store(y[i].qs + 16, wasm_i16x8_extend_low_i8x16(q1));
    wasm_v128_store(y[i].qs + 24, wasm_i16x8_extend_high_i8x16(q1));
    y[i].d = qk_h2f(b.d);
    memset(y[i].pad, 0, sizeof(y[i].pad));
  }
}
static size_t act_row_q8_016(int64_t cols) { return (size_t)(cols / QB) * sizeof(blk_q8_016); }

/* Four tokens' 4-lane integer sums → one vector of the four totals (exact: integers). */
static inline v128_t hsum4_i32(v128_t c0, v128_t c1, v128_t c2, v128_t c3) {
  const v128_t s01 = wasm_i32x4_add(wasm_i32x4_shuffle(c0, c1, 0, 4, 1, 5), wasm_i32x4_shuffle(c0, c1, 2, 6, 3, 7));
  const v128_t s23 = wasm_i32x4_add(wasm_i32x4_shuffle(c2, c3, 0, 4, 1, 5), wasm_i32x4_shuffle(c2, c3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

static inline v128_t dotw(v128_t w, const int16_t *a) { return wasm_i32x4_dot_i16x8(w, ld(a)); }

enum { GK_Q4 = 0, GK_Q5 = 1, GK_Q6 = 2 };

/*
 * 16 bytes of Q4_K/Q5_K quants (bytes p of a 32-byte chunk j, with the matching qh bytes for Q5_K) → int16
 * weights in the permuted order: w[0] even / w[1] odd elements of the low nibbles (sub-block 2j), w[2] / w[3]
 * of the high nibbles (sub-block 2j + 1). Q5_K's fifth bits are bit 2j (low) and 2j + 1 (high) of qh.
 */
static inline __attribute__((always_inline)) void unpack_k45(const int q5, v128_t q, v128_t h, int j, v128_t w[4]) {
  if (!q5) {
    const v128_t m4 = wasm_i16x8_splat(0x000F);
    w[0] = wasm_v128_and(q, m4);
    w[1] = wasm_v128_and(wasm_u16x8_shr(q, 8), m4);
    w[2] = wasm_v128_and(wasm_u16x8_shr(q, 4), m4);
    w[3] = wasm_u16x8_shr(q, 12);
    return;
  }
  /* Q5_K: the 5-bit values built in both bytes of a lane first, then split into even / odd */
  const v128_t m4 = wasm_i8x16_splat(0x0F), one = wasm_i8x16_splat(1), lo8 = wasm_i16x8_splat(0x00FF);
  const v128_t t = wasm_v128_or(wasm_v128_and(q, m4), wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h, 2 * j), one), 4));
  const v128_t u = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(q, 4), m4),
                                wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h, 2 * j + 1), one), 4));
  w[0] = wasm_v128_and(t, lo8);
  w[1] = wasm_u16x8_shr(t, 8);
  w[2] = wasm_v128_and(u, lo8);
  w[3] = wasm_u16x8_shr(u, 8);
}

/*
 * 16 bytes of ql (at 64 n0 + 16 h), the 16 bytes 32 further and the matching 16 of qh (at 32 n0 + 16 h) of a
 * Q6_K block → their quants 0..63 (before the -32), int16, permuted: w[2g] even / w[2g + 1] odd elements of the
 * 16-element group 8 n0 + 2g + h (g = 0..3: ql low nibbles + qh bits 0-1, ql+32 low + bits 2-3, ql high +
 * bits 4-5, ql+32 high + bits 6-7): each 6-bit byte is built in place, then split into even / odd lanes.
 */
static inline __attribute__((always_inline)) void unpack_q6(v128_t l0, v128_t l1, v128_t hb, v128_t w[8]) {
  const v128_t m4 = wasm_i8x16_splat(0x0F), m30 = wasm_i8x16_splat(0x30), lo8 = wasm_i16x8_splat(0x00FF);
  v128_t t[4];
  t[0] = wasm_v128_or(wasm_v128_and(l0, m4), wasm_v128_and(wasm_i16x8_shl(hb, 4), m30));
  t[1] = wasm_v128_or(wasm_v128_and(l1, m4), wasm_v128_and(wasm_i16x8_shl(hb, 2), m30));
  t[2] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l0, 4), m4), wasm_v128_and(hb, m30));
  t[3] = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l1, 4), m4), wasm_v128_and(wasm_u16x8_shr(hb, 2), m30));
  for (int g = 0; g < 4; g++) {
    w[2 * g] = wasm_v128_and(t[g], lo8);
    w[2 * g + 1] = wasm_u16x8_shr(t[g], 8);
  }
}

/* One super-block of a K-quant row → 32 × 8 int16 products q·scale (permuted order), mins, scales. */
static inline __attribute__((always_inline)) void prep_k(const int kind, const uint8_t *blk, v128_t *wb, v128_t *mn16,
                                                          float *d, float *dmin) {
  if (kind == GK_Q6) {
    const blk_q6_K *x = (const blk_q6_K *)blk;
    const v128_t m32 = wasm_i16x8_splat(32);
    for (int n0 = 0; n0 < 2; n0++) {
      for (int h = 0; h < 2; h++) {
        v128_t q[8];
        unpack_q6(ld(x->ql + 64 * n0 + 16 * h), ld(x->ql + 64 * n0 + 32 + 16 * h), ld(x->qh + 32 * n0 + 16 * h), q);
        for (int g = 0; g < 4; g++) {
          const int G = 8 * n0 + 2 * g + h; /* 16-element group = scale index */
          const v128_t s = wasm_i16x8_splat(x->scales[G]);
          wb[2 * G] = wasm_i16x8_mul(wasm_i16x8_sub(q[2 * g], m32), s);
          wb[2 * G + 1] = wasm_i16x8_mul(wasm_i16x8_sub(q[2 * g + 1], m32), s);
        }
      }
    }
    *d = qk_h2f(x->d);
    return;
  }
  /* Q4_K / Q5_K: same header; Q5_K adds the fifth bit from qh */
  const blk_q4_K *x4 = (const blk_q4_K *)blk;
  const blk_q5_K *x5 = (const blk_q5_K *)blk;
  const uint8_t *q = kind == GK_Q5 ? x5->qs : x4->qs;
  uint8_t sc[8], mn[8];
  qk_unpack_k4(kind == GK_Q5 ? x5->scales : x4->scales, sc, mn);
  v128_t h0 = wasm_i8x16_splat(0), h1 = h0;
  if (kind == GK_Q5) { h0 = ld(x5->qh); h1 = ld(x5->qh + 16); }
  for (int j = 0; j < 4; j++, q += 32) {
    v128_t a[4], b[4];
    unpack_k45(kind == GK_Q5, ld(q), h0, j, a);
    unpack_k45(kind == GK_Q5, ld(q + 16), h1, j, b);
    const v128_t s0 = wasm_i16x8_splat(sc[2 * j]), s1 = wasm_i16x8_splat(sc[2 * j + 1]);
    v128_t *out = wb + 8 * j; /* groups 4j (bytes 0..15, low), 4j + 1 (bytes 16..31), 4j + 2, 4j + 3 (high) */
    out[0] = wasm_i16x8_mul(a[0], s0);
    out[1] = wasm_i16x8_mul(a[1], s0);
    out[2] = wasm_i16x8_mul(b[0], s0);
    out[3] = wasm_i16x8_mul(b[1], s0);
    out[4] = wasm_i16x8_mul(a[2], s1);
    out[5] = wasm_i16x8_mul(a[3], s1);
    out[6] = wasm_i16x8_mul(b[2], s1);
    out[7] = wasm_i16x8_mul(b[3], s1);
  }
  *mn16 = wasm_u16x8_load8x8(mn);
  *d = qk_h2f(kind == GK_Q5 ? x5->d : x4->d);
  *dmin = qk_h2f(kind == GK_Q5 ? x5->dmin : x4->dmin);
}

/*
 * Decode: one row × one token, the weights streamed once. Q4_K/Q5_K: per 32-byte chunk the int32 sums of its
 * two sub-blocks times their scales; Q6_K: the sums of the four 16-element groups of one unpack_q6 gathered
 * into one vector, one lane each, times their four scales at once (its -32 taken back through the block
 * sums). Same integers and float expression as vd_q4_K / vd_q5_K / vd_q6_K.
 */
static inline __attribute__((always_inline)) void k45_chunk(const int q5, const uint8_t *q, v128_t h0, v128_t h1, int j,
                                                             const int16_t *y, v128_t *lo, v128_t *hi) {
  v128_t u[4], v[4];
  unpack_k45(q5, ld(q), h0, j, u);
  unpack_k45(q5, ld(q + 16), h1, j, v);
  *lo = wasm_i32x4_add(wasm_i32x4_add(dotw(u[0], y), dotw(u[1], y + 8)), wasm_i32x4_add(dotw(v[0], y + 16), dotw(v[1], y + 24)));
  *hi = wasm_i32x4_add(wasm_i32x4_add(dotw(u[2], y + 32), dotw(u[3], y + 40)), wasm_i32x4_add(dotw(v[2], y + 48), dotw(v[3], y + 56)));
}

static inline __attribute__((always_inline)) float dec_k(const int kind, int64_t nb, const uint8_t *row,
                                                         const blk_q8_K16 *a) {
  const size_t bb = kind == GK_Q4 ? sizeof(blk_q4_K) : kind == GK_Q5 ? sizeof(blk_q5_K) : sizeof(blk_q6_K);
  float s = 0;
  for (int64_t i = 0; i < nb; i++, row += bb, a++) {
    touch_ahead(row, (int)bb);
    const int16_t *y = a->qs;
    if (kind == GK_Q6) {
      const blk_q6_K *x = (const blk_q6_K *)row;
      const v128_t scv = ld(x->scales);
      const v128_t off = wasm_i32x4_add(dotw(wasm_i16x8_extend_low_i8x16(scv), a->bs16),
                                        dotw(wasm_i16x8_extend_high_i8x16(scv), a->bs16 + 8));
      /* the scales of unpack_q6's groups: nh = 2 n0 + h covers groups 8 n0 + h + {0, 2, 4, 6} */
      const v128_t ps = wasm_i8x16_shuffle(scv, scv, 0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
      const v128_t p0 = wasm_i16x8_extend_low_i8x16(ps), p1 = wasm_i16x8_extend_high_i8x16(ps);
      const v128_t sv[4] = { wasm_i32x4_extend_low_i16x8(p0), wasm_i32x4_extend_high_i16x8(p0),
                             wasm_i32x4_extend_low_i16x8(p1), wasm_i32x4_extend_high_i16x8(p1) };
      v128_t acc = wasm_i32x4_mul(off, wasm_i32x4_splat(-32));
      _Pragma("clang loop unroll(disable)") for (int nh = 0; nh < 4; nh++) {
        const int n0 = nh >> 1, h = nh & 1;
        v128_t q[8], g[4];
        unpack_q6(ld(x->ql + 64 * n0 + 16 * h), ld(x->ql + 64 * n0 + 32 + 16 * h), ld(x->qh + 32 * n0 + 16 * h), q);
        const int16_t *yg = y + 16 * (8 * n0 + h);
        for (int k = 0; k < 4; k++) g[k] = wasm_i32x4_add(dotw(q[2 * k], yg + 32 * k), dotw(q[2 * k + 1], yg + 32 * k + 8));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(hsum4_i32(g[0], g[1], g[2], g[3]), sv[nh]));
      }
      s += a->d * qk_h2f(x->d) * hsum_i32(acc);
      continue;
    }
    const blk_q4_K *x4 = (const blk_q4_K *)row;
    const blk_q5_K *x5 = (const blk_q5_K *)row;
    const uint8_t *q = kind == GK_Q5 ? x5->qs : x4->qs;
    uint8_t sc[8], mn[8];
    qk_unpack_k4(kind == GK_Q5 ? x5->scales : x4->scales, sc, mn);
    const int summs = hsum_i32(dotw(wasm_u16x8_load8x8(mn), a->bs));
    v128_t h0 = wasm_i8x16_splat(0), h1 = h0;
    if (kind == GK_Q5) { h0 = ld(x5->qh); h1 = ld(x5->qh + 16); }
    v128_t acc = wasm_i32x4_splat(0);
    /* one chunk (two sub-blocks) per iteration: gathering four sub-blocks per scale multiply, as for Q6_K,
     * measured 0.75× here (V8 spills) */
    _Pragma("clang loop unroll(disable)") for (int j = 0; j < 4; j++, q += 32, y += 64) {
      v128_t lo, hi;
      k45_chunk(kind == GK_Q5, q, h0, h1, j, y, &lo, &hi);
      acc = wasm_i32x4_add(acc, wasm_i32x4_add(wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * j])),
                                               wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * j + 1]))));
    }
    s += a->d * (qk_h2f(kind == GK_Q5 ? x5->d : x4->d) * hsum_i32(acc) - qk_h2f(kind == GK_Q5 ? x5->dmin : x4->dmin) * summs);
  }
  return s;
}

static inline __attribute__((always_inline)) void gemm_k(const int kind, int64_t cols, const void *w, size_t w_row,
                                                          int64_t nrows, const void *act, size_t act_row, int64_t ntok,
                                                          float *out, int64_t ostride) {
  const size_t bb = kind == GK_Q4 ? sizeof(blk_q4_K) : kind == GK_Q5 ? sizeof(blk_q5_K) : sizeof(blk_q6_K);
  const int64_t nb = cols / QK_K, n4 = ntok / 4;
  if (ntok < 4) { /* decode (and small batches): stream each row */
    for (int64_t r = 0; r < nrows; r++)
      for (int64_t t = 0; t < ntok; t++)
        out[t * ostride + r] = dec_k(kind, nb, (const uint8_t *)w + r * w_row,
                                     (const blk_q8_K16 *)((const uint8_t *)act + (size_t)t * act_row));
    return;
  }
  v128_t wb[GEMM_ROWS][32], mn16[GEMM_ROWS], sum[GEMM_ROWS][GEMM_TOKS / 4];
  float dw[GEMM_ROWS], dm[GEMM_ROWS], sum1[GEMM_ROWS][4];
  for (int64_t r = 0; r < nrows; r++) {
    for (int64_t g = 0; g < n4; g++) sum[r][g] = wasm_f32x4_splat(0);
    for (int k = 0; k < 4; k++) sum1[r][k] = 0;
  }
  for (int64_t i = 0; i < nb; i++) {
    for (int64_t r = 0; r < nrows; r++) {
      const uint8_t *blk = (const uint8_t *)w + r * w_row + i * bb;
      touch_ahead(blk, (int)bb);
      prep_k(kind, blk, wb[r], &mn16[r], &dw[r], &dm[r]);
    }
    /* tokens four at a time */
    for (int64_t g = 0; g < n4; g++) {
      const blk_q8_K16 *a[4];
      for (int k = 0; k < 4; k++) a[k] = (const blk_q8_K16 *)((const uint8_t *)act + (size_t)(4 * g + k) * act_row) + i;
      const v128_t ad = wasm_f32x4_make(a[0]->d, a[1]->d, a[2]->d, a[3]->d);
      for (int64_t r = 0; r < nrows; r++) {
        const v128_t *wr = wb[r];
        v128_t c0 = wasm_i32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
        for (int k = 0; k < 32; k++) {
          const v128_t wv = wr[k];
          c0 = wasm_i32x4_add(c0, dotw(wv, a[0]->qs + 8 * k));
          c1 = wasm_i32x4_add(c1, dotw(wv, a[1]->qs + 8 * k));
          c2 = wasm_i32x4_add(c2, dotw(wv, a[2]->qs + 8 * k));
          c3 = wasm_i32x4_add(c3, dotw(wv, a[3]->qs + 8 * k));
        }
        const v128_t isum = wasm_f32x4_convert_i32x4(hsum4_i32(c0, c1, c2, c3));
        v128_t v;
        if (kind == GK_Q6) {
          v = wasm_f32x4_mul(wasm_f32x4_mul(ad, wasm_f32x4_splat(dw[r])), isum); /* y.d * x.d * isum */
        } else {
          const v128_t mn = mn16[r];
          const v128_t summs = wasm_f32x4_convert_i32x4(
              hsum4_i32(dotw(mn, a[0]->bs), dotw(mn, a[1]->bs), dotw(mn, a[2]->bs), dotw(mn, a[3]->bs)));
          /* y.d * (x.d * isum - x.dmin * summs) */
          v = wasm_f32x4_mul(ad, wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(dw[r]), isum),
                                                wasm_f32x4_mul(wasm_f32x4_splat(dm[r]), summs)));
        }
        sum[r][g] = wasm_f32x4_add(sum[r][g], v);
      }
    }
    /* the last ntok % 4 tokens one at a time: the same integers and float expression */
    for (int64_t t = 4 * n4; t < ntok; t++) {
      const blk_q8_K16 *a = (const blk_q8_K16 *)((const uint8_t *)act + (size_t)t * act_row) + i;
      for (int64_t r = 0; r < nrows; r++) {
        const v128_t *wr = wb[r];
        v128_t c0 = wasm_i32x4_splat(0), c1 = c0;
        for (int k = 0; k < 32; k += 2) {
          c0 = wasm_i32x4_add(c0, dotw(wr[k], a->qs + 8 * k));
          c1 = wasm_i32x4_add(c1, dotw(wr[k + 1], a->qs + 8 * k + 8));
        }
        const float isum = (float)hsum_i32(wasm_i32x4_add(c0, c1));
        if (kind == GK_Q6) {
          sum1[r][t - 4 * n4] += a->d * dw[r] * isum;
        } else {
          const float summs = (float)hsum_i32(dotw(mn16[r], a->bs));
          sum1[r][t - 4 * n4] += a->d * (dw[r] * isum - dm[r] * summs);
        }
      }
    }
  }
  for (int64_t r = 0; r < nrows; r++) {
    for (int64_t t = 0; t < 4 * n4; t++) {
      float lanes[4];
      wasm_v128_store(lanes, sum[r][t / 4]);
      out[t * ostride + r] = lanes[t % 4];
    }
    for (int64_t t = 4 * n4; t < ntok; t++) out[t * ostride + r] = sum1[r][t - 4 * n4];
  }
}

static void gemm_q4_K(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                      int64_t ntok, float *out, int64_t ostride) {
  gemm_k(GK_Q4, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}
static void gemm_q5_K(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                      int64_t ntok, float *out, int64_t ostride) {
  gemm_k(GK_Q5, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}
static void gemm_q6_K(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                      int64_t ntok, float *out, int64_t ostride) {
  gemm_k(GK_Q6, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}

/* Q8_0: one f32x4 accumulator per (row, token), as vd_q8_0 keeps its four lanes until the end. */
static void gemm_q8_0(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                      int64_t ntok, float *out, int64_t ostride) {
  const int64_t nb = cols / QB;
  v128_t wb[GEMM_ROWS][4], acc[GEMM_ROWS][GEMM_TOKS];
  float dw[GEMM_ROWS];
  for (int64_t r = 0; r < nrows; r++)
    for (int64_t t = 0; t < ntok; t++) acc[r][t] = wasm_f32x4_splat(0);
  for (int64_t i = 0; i < nb; i++) {
    for (int64_t r = 0; r < nrows; r++) {
      const blk_q8_0 *x = (const blk_q8_0 *)((const uint8_t *)w + r * w_row) + i;
      touch_ahead(x, sizeof(blk_q8_0));
      const v128_t q0 = ld(x->qs), q1 = ld(x->qs + 16);
      wb[r][0] = wasm_i16x8_extend_low_i8x16(q0);
      wb[r][1] = wasm_i16x8_extend_high_i8x16(q0);
      wb[r][2] = wasm_i16x8_extend_low_i8x16(q1);
      wb[r][3] = wasm_i16x8_extend_high_i8x16(q1);
      dw[r] = qk_h2f(x->d);
    }
    for (int64_t t = 0; t < ntok; t++) {
      const blk_q8_016 *a = (const blk_q8_016 *)((const uint8_t *)act + (size_t)t * act_row) + i;
      const v128_t a0 = ld(a->qs), a1 = ld(a->qs + 8), a2 = ld(a->qs + 16), a3 = ld(a->qs + 24);
      for (int64_t r = 0; r < nrows; r++) {
        const v128_t s = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wb[r][0], a0), wasm_i32x4_dot_i16x8(wb[r][1], a1)),
                                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(wb[r][2], a2), wasm_i32x4_dot_i16x8(wb[r][3], a3)));
        acc[r][t] = wasm_f32x4_add(acc[r][t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), wasm_f32x4_splat(dw[r] * a->d)));
      }
    }
  }
  for (int64_t r = 0; r < nrows; r++)
    for (int64_t t = 0; t < ntok; t++) out[t * ostride + r] = hsum_f32(acc[r][t]);
}

#if defined(QK_WASM_RELAXED)
#pragma clang attribute push(__attribute__((target("relaxed-simd"))), apply_to = function)

/*
 * Relaxed-SIMD batched gemm (prefill) for Q4_K/Q5_K/Q6_K on the plain layout, on the vec-dots' Q8_K
 * activations: each weight block of up to 8 rows is unpacked once per call into 16 vectors of unsigned
 * quants (Q6_K: 0..63, its -32 taken back through the block sums) plus one int16 scale splat per
 * sub-block (Q4_K/Q5_K: 32 elements; Q6_K: 16), then every token of the tile, four at a time, costs per
 * 32 elements two relaxed dots, an int16 add and one i32x4.dot_i16x8_s by the scale. Integer sums are
 * exact and the float epilogue is the vec-dots' expression in the same block order, so each (row, token)
 * is bit-identical with vd_q4_K_r / vd_q5_K_r / vd_q6_K_r (decode).
 */
static inline __attribute__((always_inline)) void prep_k_r(const int kind, const uint8_t *blk, v128_t *wq, v128_t *ws,
                                                            v128_t *mlo, v128_t *mhi, float *d, float *dmin) {
  const v128_t m4 = wasm_i8x16_splat(0xF);
  if (kind == GK_Q6) {
    const blk_q6_K *x = (const blk_q6_K *)blk;
    const v128_t m30 = wasm_i8x16_splat(0x30);
    for (int nh = 0; nh < 4; nh++) {
      const int n0 = nh >> 1, h = nh & 1;
      const v128_t l0 = ld(x->ql + 64 * n0 + 16 * h), l1 = ld(x->ql + 64 * n0 + 32 + 16 * h), hb = ld(x->qh + 32 * n0 + 16 * h);
      const int g = 8 * n0 + h; /* 16-element group (= scale index) of q1; q2..q4 are g + 2, 4, 6 */
      wq[g] = wasm_v128_or(wasm_v128_and(l0, m4), wasm_v128_and(wasm_i16x8_shl(hb, 4), m30));
      wq[g + 2] = wasm_v128_or(wasm_v128_and(l1, m4), wasm_v128_and(wasm_i16x8_shl(hb, 2), m30));
      wq[g + 4] = wasm_v128_or(nib_hi(l0, m4), wasm_v128_and(hb, m30));
      wq[g + 6] = wasm_v128_or(nib_hi(l1, m4), wasm_v128_and(wasm_u16x8_shr(hb, 2), m30));
    }
    const v128_t scv = ld(x->scales);
    *mlo = wasm_i16x8_extend_low_i8x16(scv); /* Q6_K: the scales, for the -32 term */
    *mhi = wasm_i16x8_extend_high_i8x16(scv);
    for (int g = 0; g < 16; g++) ws[g] = wasm_i16x8_splat(x->scales[g]);
    *d = qk_h2f(x->d);
    return;
  }
  const blk_q4_K *x4 = (const blk_q4_K *)blk;
  const blk_q5_K *x5 = (const blk_q5_K *)blk;
  uint8_t sc[8], mn[8];
  qk_unpack_k4(kind == GK_Q5 ? x5->scales : x4->scales, sc, mn);
  const uint8_t *q = kind == GK_Q5 ? x5->qs : x4->qs;
  const v128_t one = wasm_i8x16_splat(1);
  v128_t h0 = wasm_i8x16_splat(0), h1 = h0;
  if (kind == GK_Q5) { h0 = ld(x5->qh); h1 = ld(x5->qh + 16); }
  for (int j = 0; j < 4; j++, q += 32) {
    const v128_t q0 = ld(q), q1 = ld(q + 16);
    v128_t l0 = wasm_v128_and(q0, m4), l1 = wasm_v128_and(q1, m4), u0 = nib_hi(q0, m4), u1 = nib_hi(q1, m4);
    if (kind == GK_Q5) {
      l0 = wasm_v128_or(l0, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h0, 2 * j), one), 4));
      l1 = wasm_v128_or(l1, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h1, 2 * j), one), 4));
      u0 = wasm_v128_or(u0, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h0, 2 * j + 1), one), 4));
      u1 = wasm_v128_or(u1, wasm_i16x8_shl(wasm_v128_and(wasm_u16x8_shr(h1, 2 * j + 1), one), 4));
    }
    wq[4 * j] = l0;
    wq[4 * j + 1] = l1;
    wq[4 * j + 2] = u0;
    wq[4 * j + 3] = u1;
  }
  for (int k = 0; k < 8; k++) ws[k] = wasm_i16x8_splat(sc[k]);
  const v128_t m = wasm_u16x8_load8x8(mn);
  *mlo = wasm_i16x8_shuffle(m, m, 0, 0, 1, 1, 2, 2, 3, 3);
  *mhi = wasm_i16x8_shuffle(m, m, 4, 4, 5, 5, 6, 6, 7, 7);
  *d = qk_h2f(kind == GK_Q5 ? x5->d : x4->d);
  *dmin = qk_h2f(kind == GK_Q5 ? x5->dmin : x4->dmin);
}

/* One token's int32 lanes for one row's super-block (their sum is the vec-dot's isum); *mdot the mins' term. */
static inline __attribute__((always_inline)) v128_t isum_r(const int kind, const v128_t *wq, const v128_t *ws, v128_t mlo,
                                                            v128_t mhi, const blk_q8_K *a, v128_t *mdot) {
  const int8_t *q8 = a->qs;
  const v128_t t = wasm_i32x4_add(wasm_i32x4_dot_i16x8(mlo, ld(a->bsums)), wasm_i32x4_dot_i16x8(mhi, ld(a->bsums + 8)));
  v128_t c;
  if (kind == GK_Q6) {
    c = wasm_i32x4_mul(t, wasm_i32x4_splat(-32));
    _Pragma("clang loop unroll(disable)") for (int g = 0; g < 16; g += 2) {
      c = wasm_i32x4_add(c, wasm_i32x4_dot_i16x8(rdot16(q8 + 16 * g, wq[g]), ws[g]));
      c = wasm_i32x4_add(c, wasm_i32x4_dot_i16x8(rdot16(q8 + 16 * g + 16, wq[g + 1]), ws[g + 1]));
    }
    *mdot = wasm_i32x4_splat(0);
  } else {
    c = wasm_i32x4_splat(0);
    _Pragma("clang loop unroll(disable)") for (int s = 0; s < 8; s++) {
      const v128_t p = wasm_i16x8_add(rdot16(q8 + 32 * s, wq[2 * s]), rdot16(q8 + 32 * s + 16, wq[2 * s + 1]));
      c = wasm_i32x4_add(c, wasm_i32x4_dot_i16x8(p, ws[s]));
    }
    *mdot = t;
  }
  return c;
}

/* Four tokens at once: each weight vector and scale is loaded once for the four. */
static inline __attribute__((always_inline)) void isum4_r(const int kind, const v128_t *wq, const v128_t *ws, v128_t mlo,
                                                           v128_t mhi, const blk_q8_K *const *a, v128_t *c, v128_t *md) {
  for (int k = 0; k < 4; k++) {
    const v128_t t = wasm_i32x4_add(wasm_i32x4_dot_i16x8(mlo, ld(a[k]->bsums)), wasm_i32x4_dot_i16x8(mhi, ld(a[k]->bsums + 8)));
    if (kind == GK_Q6) {
      c[k] = wasm_i32x4_mul(t, wasm_i32x4_splat(-32));
      md[k] = wasm_i32x4_splat(0);
    } else {
      c[k] = wasm_i32x4_splat(0);
      md[k] = t;
    }
  }
  const int8_t *q0 = a[0]->qs, *q1 = a[1]->qs, *q2 = a[2]->qs, *q3 = a[3]->qs;
  v128_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  if (kind == GK_Q6) {
    _Pragma("clang loop unroll(disable)") for (int g = 0; g < 16; g++) {
      const v128_t w = wq[g], sc = ws[g];
      const int o = 16 * g;
      c0 = wasm_i32x4_add(c0, wasm_i32x4_dot_i16x8(rdot16(q0 + o, w), sc));
      c1 = wasm_i32x4_add(c1, wasm_i32x4_dot_i16x8(rdot16(q1 + o, w), sc));
      c2 = wasm_i32x4_add(c2, wasm_i32x4_dot_i16x8(rdot16(q2 + o, w), sc));
      c3 = wasm_i32x4_add(c3, wasm_i32x4_dot_i16x8(rdot16(q3 + o, w), sc));
    }
  } else {
    _Pragma("clang loop unroll(disable)") for (int s = 0; s < 8; s++) {
      const v128_t w0 = wq[2 * s], w1 = wq[2 * s + 1], sc = ws[s];
      const int o = 32 * s;
      c0 = wasm_i32x4_add(c0, wasm_i32x4_dot_i16x8(wasm_i16x8_add(rdot16(q0 + o, w0), rdot16(q0 + o + 16, w1)), sc));
      c1 = wasm_i32x4_add(c1, wasm_i32x4_dot_i16x8(wasm_i16x8_add(rdot16(q1 + o, w0), rdot16(q1 + o + 16, w1)), sc));
      c2 = wasm_i32x4_add(c2, wasm_i32x4_dot_i16x8(wasm_i16x8_add(rdot16(q2 + o, w0), rdot16(q2 + o + 16, w1)), sc));
      c3 = wasm_i32x4_add(c3, wasm_i32x4_dot_i16x8(wasm_i16x8_add(rdot16(q3 + o, w0), rdot16(q3 + o + 16, w1)), sc));
    }
  }
  c[0] = c0;
  c[1] = c1;
  c[2] = c2;
  c[3] = c3;
}

static inline __attribute__((always_inline)) void gemm_k_r(const int kind, int64_t cols, const void *w, size_t w_row,
                                                            int64_t nrows, const void *act, size_t act_row, int64_t ntok,
                                                            float *out, int64_t ostride) {
  const size_t bb = kind == GK_Q4 ? sizeof(blk_q4_K) : kind == GK_Q5 ? sizeof(blk_q5_K) : sizeof(blk_q6_K);
  const int64_t nb = cols / QK_K, n4 = ntok / 4;
  v128_t wq[GEMM_ROWS][16], ws[GEMM_ROWS][16], mlo[GEMM_ROWS], mhi[GEMM_ROWS], sum[GEMM_ROWS][GEMM_TOKS / 4];
  float dw[GEMM_ROWS], dm[GEMM_ROWS], sum1[GEMM_ROWS][4];
  for (int64_t r = 0; r < nrows; r++) {
    for (int64_t g = 0; g < n4; g++) sum[r][g] = wasm_f32x4_splat(0);
    for (int k = 0; k < 4; k++) sum1[r][k] = 0;
  }
  for (int64_t i = 0; i < nb; i++) {
    for (int64_t r = 0; r < nrows; r++) {
      const uint8_t *blk = (const uint8_t *)w + r * w_row + i * bb;
      touch_ahead(blk, (int)bb);
      prep_k_r(kind, blk, wq[r], ws[r], &mlo[r], &mhi[r], &dw[r], &dm[r]);
    }
    for (int64_t g = 0; g < n4; g++) {
      const blk_q8_K *a[4];
      for (int k = 0; k < 4; k++) a[k] = (const blk_q8_K *)((const uint8_t *)act + (size_t)(4 * g + k) * act_row) + i;
      const v128_t ad = wasm_f32x4_make(a[0]->d, a[1]->d, a[2]->d, a[3]->d);
      for (int64_t r = 0; r < nrows; r++) {
        v128_t md[4], c[4];
        isum4_r(kind, wq[r], ws[r], mlo[r], mhi[r], a, c, md);
        const v128_t isum = wasm_f32x4_convert_i32x4(hsum4_i32(c[0], c[1], c[2], c[3]));
        v128_t v;
        if (kind == GK_Q6) {
          v = wasm_f32x4_mul(wasm_f32x4_mul(ad, wasm_f32x4_splat(dw[r])), isum); /* y.d * x.d * isum */
        } else {
          const v128_t summs = wasm_f32x4_convert_i32x4(hsum4_i32(md[0], md[1], md[2], md[3]));
          /* y.d * (x.d * isum - x.dmin * summs) */
          v = wasm_f32x4_mul(ad, wasm_f32x4_sub(wasm_f32x4_mul(wasm_f32x4_splat(dw[r]), isum),
                                                wasm_f32x4_mul(wasm_f32x4_splat(dm[r]), summs)));
        }
        sum[r][g] = wasm_f32x4_add(sum[r][g], v);
      }
    }
    for (int64_t t = 4 * n4; t < ntok; t++) {
      const blk_q8_K *a = (const blk_q8_K *)((const uint8_t *)act + (size_t)t * act_row) + i;
      for (int64_t r = 0; r < nrows; r++) {
        v128_t md;
        const float isum = (float)hsum_i32(isum_r(kind, wq[r], ws[r], mlo[r], mhi[r], a, &md));
        if (kind == GK_Q6) {
          sum1[r][t - 4 * n4] += a->d * dw[r] * isum;
        } else {
          const float summs = (float)hsum_i32(md);
          sum1[r][t - 4 * n4] += a->d * (dw[r] * isum - dm[r] * summs);
        }
      }
    }
  }
  for (int64_t r = 0; r < nrows; r++) {
    for (int64_t t = 0; t < 4 * n4; t++) {
      float lanes[4];
      wasm_v128_store(lanes, sum[r][t / 4]);
      out[t * ostride + r] = lanes[t % 4];
    }
    for (int64_t t = 4 * n4; t < ntok; t++) out[t * ostride + r] = sum1[r][t - 4 * n4];
  }
}

static void gemm_q4_K_r(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                        int64_t ntok, float *out, int64_t ostride) {
  gemm_k_r(GK_Q4, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}
static void gemm_q5_K_r(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                        int64_t ntok, float *out, int64_t ostride) {
  gemm_k_r(GK_Q5, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}
static void gemm_q6_K_r(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act, size_t act_row,
                        int64_t ntok, float *out, int64_t ostride) {
  gemm_k_r(GK_Q6, cols, w, w_row, nrows, act, act_row, ntok, out, ostride);
}
static void act_q8_K_r(const float *x, void *y, int64_t n) { qk_quantize_act_q8_K(x, y, n); }
static size_t act_row_q8_K_r(int64_t cols) { return (size_t)(cols / QK_K) * sizeof(blk_q8_K); }
#pragma clang attribute pop
#endif

void qk_plan_register_simd128(qk_type_desc *types) {
  const int k_types[] = { QK_Q4_K, QK_Q5_K, QK_Q6_K };
  const qk_gemm_plain_fn k_gemms[] = { gemm_q4_K, gemm_q5_K, gemm_q6_K };
  for (int i = 0; i < 3; i++) {
    types[k_types[i]].gemm[QK_ISA_SIMD128] = k_gemms[i];
    types[k_types[i]].gemm_act = act_q8_K16;
    types[k_types[i]].gemm_act_row = act_row_q8_K16;
    types[k_types[i]].gemm_act_name = "q8_K16";
    types[k_types[i]].gemm_min_tokens = 1; /* dec_k: faster than the vec-dots at 1 token */
  }
#if defined(QK_WASM_RELAXED)
  const qk_gemm_plain_fn r_gemms[] = { gemm_q4_K_r, gemm_q5_K_r, gemm_q6_K_r };
  for (int i = 0; i < 3; i++) {
    types[k_types[i]].gemm[QK_ISA_SIMD128] = r_gemms[i];
    types[k_types[i]].gemm_act = act_q8_K_r;
    types[k_types[i]].gemm_act_row = act_row_q8_K_r;
    types[k_types[i]].gemm_act_name = "q8_K";
    types[k_types[i]].gemm_min_tokens = 0; /* decode: the vec-dots (faster than this gemm at 1 token) */
  }
#endif
  types[QK_Q8_0].gemm[QK_ISA_SIMD128] = gemm_q8_0;
  types[QK_Q8_0].gemm_act = act_q8_016;
  types[QK_Q8_0].gemm_act_row = act_row_q8_016;
  types[QK_Q8_0].gemm_act_name = "q8_016";
}

int qk_vtable_simd128(qk_vtable *t) {
  t->t[QK_F32].dot = vd_f32;
  t->t[QK_Q8_0].dot = vd_q8_0;
  t->t[QK_Q4_0].dot = vd_q4_0;
  t->t[QK_Q4_K].dot = vd_q4_K;
  t->t[QK_Q5_K].dot = vd_q5_K;
  t->t[QK_Q6_K].dot = vd_q6_K;
#if defined(QK_WASM_RELAXED)
  t->t[QK_Q4_K].dot = vd_q4_K_r;
  t->t[QK_Q5_K].dot = vd_q5_K_r;
  t->t[QK_Q6_K].dot = vd_q6_K_r;
#endif
  t->ops.dot_f16_f32 = dot_f16_f32;
  t->ops.dot_f32 = dot_f32;
  t->ops.axpy_f16 = axpy_f16;
  t->ops.axpy_f32 = axpy_f32;
  t->ops.fa_dot_f16 = fa_dot_f16;
  t->ops.fa_scale_f16 = fa_scale_f16;
  t->ops.fa_mad_f16 = fa_mad_f16;
  qk_f32_to_f16_fast = f32_to_f16_row;
  qk_f16_to_f32_fast = f16_to_f32_row;
  t->ops.name = "simd128";
  return 1;
}
#else
int qk_vtable_simd128(qk_vtable *t) { (void)t; return 0; }
void qk_plan_register_simd128(qk_type_desc *types) { (void)types; }
#endif
