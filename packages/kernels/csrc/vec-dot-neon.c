/* NEON dot products for arm64 (compile-time: every arm64 CPU has NEON). */
#include "qk.h"

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

/* sum of 16 int8×int8 products into int32x4 (no dotprod extension needed) */
static inline int32x4_t dot16(int8x16_t a, int8x16_t b) {
  const int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t p1 = vmull_s8(vget_high_s8(a), vget_high_s8(b));
  return vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
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

static float dot_f32(int64_t n, const float *a, const float *b) { return vd_f32(n, a, b); }

int qk_vtable_neon(qk_vtable *t) {
  t->dot[QK_F32] = vd_f32;
  t->dot[QK_Q8_0] = vd_q8_0;
  t->dot[QK_Q4_0] = vd_q4_0;
  t->dot[QK_Q4_K] = vd_q4_K;
  t->dot_f32 = dot_f32;
  t->name = "neon";
  return 1;
}
#else
int qk_vtable_neon(qk_vtable *t) { (void)t; return 0; }
#endif
