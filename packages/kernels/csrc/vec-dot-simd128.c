/*
 * WebAssembly SIMD128 dot products (compile-time: the wasm module is built with -msimd128).
 * Baseline SIMD128 has no u8×i8 multiply-add, so int8 blocks are widened to i16 and summed with
 * i32x4.dot_i16x8_s.
 */
#include "qk.h"

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

int qk_vtable_simd128(qk_vtable *t) {
  t->dot[QK_F32] = vd_f32;
  t->dot[QK_Q8_0] = vd_q8_0;
  t->dot[QK_Q4_0] = vd_q4_0;
  t->dot[QK_Q4_K] = vd_q4_K;
  t->dot[QK_Q5_K] = vd_q5_K;
  t->dot[QK_Q6_K] = vd_q6_K;
  t->dot_f16_f32 = dot_f16_f32;
  t->dot_f32 = dot_f32;
  t->axpy_f16 = axpy_f16;
  t->axpy_f32 = axpy_f32;
  t->name = "simd128";
  return 1;
}
#else
int qk_vtable_simd128(qk_vtable *t) { (void)t; return 0; }
#endif
