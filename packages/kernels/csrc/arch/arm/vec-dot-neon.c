/* NEON dot products for arm64 (compile-time: every arm64 CPU has NEON). */
/* the wasm build's virtual file system does not resolve "..": it passes -I for csrc/ instead */
#if defined(__has_include) && __has_include("../../qk.h")
#include "../../qk.h"
#else
#include "qk.h"
#endif

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#define PF(p) __builtin_prefetch((const char *)(p) + 1536, 0, 3)

static float vd_f32(int64_t n, const void *w, const void *a) {
  const float *x = w, *y = a;
  float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = vfmaq_f32(s0, vld1q_f32(x + i), vld1q_f32(y + i));
    s1 = vfmaq_f32(s1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
    s2 = vfmaq_f32(s2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
    s3 = vfmaq_f32(s3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
  }
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

/* Sum of 16 int8×int8 products into int32x4 lanes (only the total of the lanes is used, so the two
 * variants give the same integer). SDOT when the compiler targets the dotprod extension
 * (-march=armv8.2-a+dotprod and later), else widening multiplies (any ARMv8-A). */
static inline int32x4_t dot16(int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdupq_n_s32(0), a, b);
#else
  const int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t p1 = vmull_s8(vget_high_s8(a), vget_high_s8(b));
  return vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
#endif
}

static float vd_q8_0(int64_t n, const void *w, const void *a) {
  const blk_q8_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    PF(x + i);
    int32x4_t acc = vaddq_s32(dot16(vld1q_s8(x[i].qs), vld1q_s8(y[i].qs)), dot16(vld1q_s8(x[i].qs + 16), vld1q_s8(y[i].qs + 16)));
    s += (float)vaddvq_s32(acc) * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

static float vd_q4_0(int64_t n, const void *w, const void *a) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  const uint8x16_t m4 = vdupq_n_u8(0xF);
  const int8x16_t off = vdupq_n_s8(8);
  for (int64_t i = 0; i < n / QB; i++) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), off);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), off);
    int32x4_t acc = vaddq_s32(dot16(lo, vld1q_s8(y[i].qs)), dot16(hi, vld1q_s8(y[i].qs + 16)));
    s += (float)vaddvq_s32(acc) * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

static float vd_q4_K(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const uint8x16_t m4 = vdupq_n_u8(0xF);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PF(x + i);
    PF((const char *)(x + i) + 64);
    PF((const char *)(x + i) + 128);
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int summs = 0;
    for (int j = 0; j < 8; j++) summs += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    int isum = 0;
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
      int32x4_t lo = vaddq_s32(dot16(vreinterpretq_s8_u8(vandq_u8(q0, m4)), vld1q_s8(a8)),
                               dot16(vreinterpretq_s8_u8(vandq_u8(q1, m4)), vld1q_s8(a8 + 16)));
      int32x4_t hi = vaddq_s32(dot16(vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)), vld1q_s8(a8 + 32)),
                               dot16(vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)), vld1q_s8(a8 + 48)));
      isum += sc[2 * j] * vaddvq_s32(lo) + sc[2 * j + 1] * vaddvq_s32(hi);
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

/* Q5_K: Q4_K's nibbles plus one high bit per element from qh (bit 2j for the low nibbles of
 * 32-element group j, bit 2j+1 for the high ones). Same integers and epilogue as the scalar path. */
static float vd_q5_K(int64_t n, const void *w, const void *a) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  const uint8x16_t m4 = vdupq_n_u8(0xF), b4 = vdupq_n_u8(0x10);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PF(x + i);
    PF((const char *)(x + i) + 64);
    PF((const char *)(x + i) + 128);
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int summs = 0;
    for (int j = 0; j < 8; j++) summs += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    const uint8x16_t h0 = vld1q_u8(x[i].qh), h1 = vld1q_u8(x[i].qh + 16);
    int isum = 0;
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
      const uint8x16_t ml = vdupq_n_u8((uint8_t)(1u << (2 * j))), mh = vdupq_n_u8((uint8_t)(2u << (2 * j)));
      const uint8x16_t l0 = vorrq_u8(vandq_u8(q0, m4), vandq_u8(vtstq_u8(h0, ml), b4));
      const uint8x16_t l1 = vorrq_u8(vandq_u8(q1, m4), vandq_u8(vtstq_u8(h1, ml), b4));
      const uint8x16_t u0 = vorrq_u8(vshrq_n_u8(q0, 4), vandq_u8(vtstq_u8(h0, mh), b4));
      const uint8x16_t u1 = vorrq_u8(vshrq_n_u8(q1, 4), vandq_u8(vtstq_u8(h1, mh), b4));
      int32x4_t lo = vaddq_s32(dot16(vreinterpretq_s8_u8(l0), vld1q_s8(a8)), dot16(vreinterpretq_s8_u8(l1), vld1q_s8(a8 + 16)));
      int32x4_t hi = vaddq_s32(dot16(vreinterpretq_s8_u8(u0), vld1q_s8(a8 + 32)), dot16(vreinterpretq_s8_u8(u1), vld1q_s8(a8 + 48)));
      isum += sc[2 * j] * vaddvq_s32(lo) + sc[2 * j + 1] * vaddvq_s32(hi);
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

/* Q6_K: per 128 elements, 64 bytes of low nibbles (ql), 32 bytes of 2-bit high parts (qh), eight
 * 16-element sub-blocks with signed 8-bit scales; values are 6-bit minus 32. */
static float vd_q6_K(int64_t n, const void *w, const void *a) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const uint8x16_t m4 = vdupq_n_u8(0xF), m30 = vdupq_n_u8(0x30);
  const int8x16_t off = vdupq_n_s8(32);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PF(x + i);
    PF((const char *)(x + i) + 64);
    PF((const char *)(x + i) + 128);
    const uint8_t *ql = x[i].ql, *qh = x[i].qh;
    const int8_t *sc = x[i].scales, *a8 = y[i].qs;
    int isum = 0;
    for (int n0 = 0; n0 < QK_K; n0 += 128, ql += 64, qh += 32, sc += 8, a8 += 128) {
      const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
      const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
      uint8x16_t v[8];
      v[0] = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(h0, 4), m30));
      v[1] = vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(h1, 4), m30));
      v[2] = vorrq_u8(vandq_u8(l2, m4), vandq_u8(vshlq_n_u8(h0, 2), m30));
      v[3] = vorrq_u8(vandq_u8(l3, m4), vandq_u8(vshlq_n_u8(h1, 2), m30));
      v[4] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(h0, m30));
      v[5] = vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(h1, m30));
      v[6] = vorrq_u8(vshrq_n_u8(l2, 4), vandq_u8(vshrq_n_u8(h0, 2), m30));
      v[7] = vorrq_u8(vshrq_n_u8(l3, 4), vandq_u8(vshrq_n_u8(h1, 2), m30));
      for (int k = 0; k < 8; k++) {
        const int8x16_t qv = vsubq_s8(vreinterpretq_s8_u8(v[k]), off);
        isum += sc[k] * vaddvq_s32(dot16(qv, vld1q_s8(a8 + 16 * k)));
      }
    }
    s += y[i].d * qk_h2f(x[i].d) * isum;
  }
  return s;
}

/* 16 bytes holding 0x10 where bit k of the 16-bit value (b0 | b1 << 8) is set (element k). */
static inline uint8x16_t hbits16(uint8_t b0, uint8_t b1) {
  static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t v = vcombine_u8(vdup_n_u8(b0), vdup_n_u8(b1));
  return vandq_u8(vtstq_u8(v, vld1q_u8(bit)), vdupq_n_u8(0x10));
}

static float vd_q4_1(int64_t n, const void *w, const void *a) {
  const blk_q4_1 *x = w;
  const blk_q8_1 *y = a;
  float s = 0;
  const uint8x16_t m4 = vdupq_n_u8(0xF);
  for (int64_t i = 0; i < n / QB; i++) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    int32x4_t acc = vaddq_s32(dot16(lo, vld1q_s8(y[i].qs)), dot16(hi, vld1q_s8(y[i].qs + 16)));
    s += (float)vaddvq_s32(acc) * (qk_h2f(x[i].d) * qk_h2f(y[i].d)) + qk_h2f(x[i].m) * qk_h2f(y[i].s);
  }
  return s;
}

static float vd_q5_0(int64_t n, const void *w, const void *a) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  const uint8x16_t m4 = vdupq_n_u8(0xF);
  const int8x16_t off = vdupq_n_s8(16);
  for (int64_t i = 0; i < n / QB; i++) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const uint8x16_t hl = hbits16(x[i].qh[0], x[i].qh[1]), hh = hbits16(x[i].qh[2], x[i].qh[3]);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, m4), hl)), off);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), hh)), off);
    int32x4_t acc = vaddq_s32(dot16(lo, vld1q_s8(y[i].qs)), dot16(hi, vld1q_s8(y[i].qs + 16)));
    s += (float)vaddvq_s32(acc) * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

static float vd_q5_1(int64_t n, const void *w, const void *a) {
  const blk_q5_1 *x = w;
  const blk_q8_1 *y = a;
  float s = 0;
  const uint8x16_t m4 = vdupq_n_u8(0xF);
  for (int64_t i = 0; i < n / QB; i++) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const uint8x16_t hl = hbits16(x[i].qh[0], x[i].qh[1]), hh = hbits16(x[i].qh[2], x[i].qh[3]);
    const int8x16_t lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, m4), hl));
    const int8x16_t hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), hh));
    int32x4_t acc = vaddq_s32(dot16(lo, vld1q_s8(y[i].qs)), dot16(hi, vld1q_s8(y[i].qs + 16)));
    s += (float)vaddvq_s32(acc) * (qk_h2f(x[i].d) * qk_h2f(y[i].d)) + qk_h2f(x[i].m) * qk_h2f(y[i].s);
  }
  return s;
}

/* Q2_K: per 128 elements 32 bytes of 2-bit quants (shifts 0,2,4,6 of bytes 0..15 and 16..31, one
 * 4-bit scale each), 4-bit mins applied through the activation's 16-element sums. */
static float vd_q2_K(int64_t n, const void *w, const void *a) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  const uint8x16_t m3 = vdupq_n_u8(3);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PF(x + i);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    int summs = 0, isum = 0, is = 0;
    for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
      for (int shift = 0; shift < 8; shift += 2, a8 += 32) {
        const int8x16_t sh = vdupq_n_s8((int8_t)-shift);
        const int8x16_t v0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, sh), m3));
        const int8x16_t v1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, sh), m3));
        isum += (x[i].scales[is] & 0xF) * vaddvq_s32(dot16(v0, vld1q_s8(a8)));
        isum += (x[i].scales[is + 1] & 0xF) * vaddvq_s32(dot16(v1, vld1q_s8(a8 + 16)));
        is += 2;
      }
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

/* Q3_K: Q2_K's layout of 2-bit quants, minus 4 where the element's hmask bit is clear, 16 signed
 * 6-bit scales. */
static float vd_q3_K(int64_t n, const void *w, const void *a) {
  const blk_q3_K *x = w;
  const blk_q8_K *y = a;
  const uint8x16_t m3 = vdupq_n_u8(3), four = vdupq_n_u8(4);
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PF(x + i);
    int8_t sc[16];
    qk_q3k_scales(x[i].scales, sc);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    const uint8x16_t hm0 = vld1q_u8(x[i].hmask), hm1 = vld1q_u8(x[i].hmask + 16);
    int isum = 0, is = 0;
    unsigned m = 1;
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      const uint8x16_t q0 = vld1q_u8(q), q1 = vld1q_u8(q + 16);
      for (int shift = 0; shift < 8; shift += 2, m <<= 1, a8 += 32) {
        const int8x16_t sh = vdupq_n_s8((int8_t)-shift);
        const uint8x16_t mv = vdupq_n_u8((uint8_t)m);
        /* 4 where the high bit is clear, else 0 */
        const uint8x16_t s0 = vbicq_u8(four, vtstq_u8(hm0, mv)), s1 = vbicq_u8(four, vtstq_u8(hm1, mv));
        const int8x16_t v0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, sh), m3)), vreinterpretq_s8_u8(s0));
        const int8x16_t v1 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, sh), m3)), vreinterpretq_s8_u8(s1));
        isum += sc[is] * vaddvq_s32(dot16(v0, vld1q_s8(a8)));
        isum += sc[is + 1] * vaddvq_s32(dot16(v1, vld1q_s8(a8 + 16)));
        is += 2;
      }
    }
    s += y[i].d * qk_h2f(x[i].d) * isum;
  }
  return s;
}

/* F16 / BF16 weights · F16 / BF16 activations in dot-half.c's summation order (llama.cpp's AVX2
 * order): each of its 8-lane f32 accumulators is two float32x4 here. Products of two halves are
 * exact in f32, so vfmaq equals the portable add of the product; the lane reductions and the
 * double-precision tails are written exactly as in dot-half.c, so results are bit-identical. */
static inline float32x4_t h_lo(uint16x8_t v) { return vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(v))); }
static inline float32x4_t h_hi(uint16x8_t v) { return vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(v))); }
static inline float32x4_t b_lo(uint16x8_t v) { return vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16)); }
static inline float32x4_t b_hi(uint16x8_t v) { return vreinterpretq_f32_u32(vshll_n_u16(vget_high_u16(v), 16)); }

/* ((x0+x4)+(x1+x5)) + ((x2+x6)+(x3+x7)) of the 8 lanes lo|hi */
static inline float red_hadd_v(float32x4_t lo, float32x4_t hi) {
  const float32x4_t t = vaddq_f32(lo, hi);
  return (vgetq_lane_f32(t, 0) + vgetq_lane_f32(t, 1)) + (vgetq_lane_f32(t, 2) + vgetq_lane_f32(t, 3));
}
/* ((x0+x4)+(x2+x6)) + ((x1+x5)+(x3+x7)) */
static inline float red_movehl_v(float32x4_t lo, float32x4_t hi) {
  const float32x4_t t = vaddq_f32(hi, lo);
  return (vgetq_lane_f32(t, 0) + vgetq_lane_f32(t, 2)) + (vgetq_lane_f32(t, 1) + vgetq_lane_f32(t, 3));
}

#define HALF_VEC(NAME, LO, HI, CVT, FINAL)                                                          \
  static float NAME(int64_t n, const void *w, const void *a) {                                    \
    const uint16_t *x = w, *y = a;                                                                \
    const int64_t np = n & ~(int64_t)31;                                                          \
    double sumf = 0;                                                                              \
    if (np > 0) {                                                                                 \
      float32x4_t c[4][2];                                                                        \
      for (int j = 0; j < 4; j++) c[j][0] = c[j][1] = vdupq_n_f32(0);                             \
      for (int64_t i = 0; i < np; i += 32) {                                                      \
        PF(x + i);                                                                                \
        for (int j = 0; j < 4; j++) {                                                             \
          const uint16x8_t xv = vld1q_u16(x + i + 8 * j), yv = vld1q_u16(y + i + 8 * j);          \
          c[j][0] = vfmaq_f32(c[j][0], LO(xv), LO(yv));                                           \
          c[j][1] = vfmaq_f32(c[j][1], HI(xv), HI(yv));                                           \
        }                                                                                         \
      }                                                                                           \
      FINAL                                                                                       \
    }                                                                                             \
    for (int64_t i = np; i < n; i++) sumf += (double)(CVT(x[i]) * CVT(y[i]));                     \
    return (float)sumf;                                                                           \
  }

/* f16: (c0 += c2, c1 += c3), c0 += c1, hadd reduction */
HALF_VEC(vd_f16, h_lo, h_hi, qk_h2f,
         for (int h = 0; h < 2; h++) { c[0][h] = vaddq_f32(c[0][h], c[2][h]); c[1][h] = vaddq_f32(c[1][h], c[3][h]); }
         for (int h = 0; h < 2; h++) c[0][h] = vaddq_f32(c[0][h], c[1][h]);
         sumf = (double)red_hadd_v(c[0][0], c[0][1]);)
/* bf16: (c0 + c2) + (c1 + c3), movehl reduction */
HALF_VEC(vd_bf16, b_lo, b_hi, qk_bf2f,
         float32x4_t r[2];
         for (int h = 0; h < 2; h++) r[h] = vaddq_f32(vaddq_f32(c[0][h], c[2][h]), vaddq_f32(c[1][h], c[3][h]));
         sumf = (double)red_movehl_v(r[0], r[1]);)

/* 2+ tokens (tinyBLAS order): one 8-lane accumulator over 8-element steps, movehl reduction. */
#define HALF_GEMM(NAME, LO, HI, FALLBACK)                                                           \
  static float NAME(int64_t n, const void *w, const void *a) {                                    \
    if (n % 8) return FALLBACK(n, w, a);                                                          \
    const uint16_t *x = w, *y = a;                                                                \
    float32x4_t c0 = vdupq_n_f32(0), c1 = c0;                                                     \
    for (int64_t i = 0; i < n; i += 8) {                                                          \
      const uint16x8_t xv = vld1q_u16(x + i), yv = vld1q_u16(y + i);                              \
      c0 = vfmaq_f32(c0, LO(xv), LO(yv));                                                         \
      c1 = vfmaq_f32(c1, HI(xv), HI(yv));                                                         \
    }                                                                                             \
    return red_movehl_v(c0, c1);                                                                  \
  }
HALF_GEMM(vd_f16_gemm, h_lo, h_hi, vd_f16)
HALF_GEMM(vd_bf16_gemm, b_lo, b_hi, vd_bf16)

static float dot_f32(int64_t n, const float *a, const float *b) { return vd_f32(n, a, b); }

int qk_vtable_neon(qk_vtable *t) {
  t->t[QK_F32].dot = vd_f32;
  t->t[QK_F16].dot = vd_f16;
  t->t[QK_BF16].dot = vd_bf16;
  t->t[QK_F16].dotm = vd_f16_gemm;
  t->t[QK_BF16].dotm = vd_bf16_gemm;
  t->t[QK_Q8_0].dot = vd_q8_0;
  t->t[QK_Q4_0].dot = vd_q4_0;
  t->t[QK_Q4_1].dot = vd_q4_1;
  t->t[QK_Q5_0].dot = vd_q5_0;
  t->t[QK_Q5_1].dot = vd_q5_1;
  t->t[QK_Q2_K].dot = vd_q2_K;
  t->t[QK_Q3_K].dot = vd_q3_K;
  t->t[QK_Q4_K].dot = vd_q4_K;
  t->t[QK_Q5_K].dot = vd_q5_K;
  t->t[QK_Q6_K].dot = vd_q6_K;
  t->ops.dot_f32 = dot_f32;
  t->ops.name = "neon";
  return 1;
}
#else
int qk_vtable_neon(qk_vtable *t) { (void)t; return 0; }
#endif
