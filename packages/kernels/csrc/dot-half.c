/*
 * F16 × F16 and BF16 × BF16 dot products in the exact summation order of llama.cpp's x86 AVX2 CPU
 * backend, written portably so every backend (scalar, NEON, SIMD128) gives the same bits.
 *
 * ggml multiplies an F16 (BF16) weight by activations converted to F16 (BF16), its vec_dot_type.
 * Every product of two halves (two bfloat16s) is exact in f32, so a plain add equals ggml's fused
 * multiply-add and only the order of the additions matters:
 *  - one token (ggml_vec_dot_f16 / _bf16): 4 accumulators of 8 lanes over 32-element steps;
 *  - two or more tokens (llamafile's tinyBLAS, used when the row length is a multiple of 8):
 *    one accumulator of 8 lanes over 8-element steps.
 * The lane reductions are spelled out below; tails are summed in double as ggml does.
 */
#include "qk.h"

/* ((x0+x4)+(x1+x5)) + ((x2+x6)+(x3+x7)): ggml's GGML_F32x8_REDUCE (extract + two hadds). */
static inline float red_hadd(const float *x) {
  const float t0 = x[0] + x[4], t1 = x[1] + x[5], t2 = x[2] + x[6], t3 = x[3] + x[7];
  return (t0 + t1) + (t2 + t3);
}
/* ((x0+x4)+(x2+x6)) + ((x1+x5)+(x3+x7)): llamafile's hsum and ggml_vec_dot_bf16's reduction. */
static inline float red_movehl(const float *x) {
  const float t0 = x[4] + x[0], t1 = x[5] + x[1], t2 = x[6] + x[2], t3 = x[7] + x[3];
  return (t0 + t2) + (t1 + t3);
}

float qk_dot_f16_vec(int64_t n, const void *w, const void *a) {
  const uint16_t *x = w, *y = a;
  const int64_t np = n & ~(int64_t)31;
  double sumf = 0;
  if (np > 0) {
    float s[4][8] = { { 0 } };
    for (int64_t i = 0; i < np; i += 32)
      for (int j = 0; j < 4; j++)
        for (int l = 0; l < 8; l++) s[j][l] += qk_h2f(x[i + j * 8 + l]) * qk_h2f(y[i + j * 8 + l]);
    for (int l = 0; l < 8; l++) { s[0][l] += s[2][l]; s[1][l] += s[3][l]; }
    for (int l = 0; l < 8; l++) s[0][l] += s[1][l];
    sumf = (double)red_hadd(s[0]);
  }
  for (int64_t i = np; i < n; i++) sumf += (double)(qk_h2f(x[i]) * qk_h2f(y[i]));
  return (float)sumf;
}

float qk_dot_bf16_vec(int64_t n, const void *w, const void *a) {
  const uint16_t *x = w, *y = a;
  int64_t i = 0;
  double sumf = 0;
  if (n >= 32) {
    float c[4][8] = { { 0 } };
    for (; i + 32 <= n; i += 32)
      for (int j = 0; j < 4; j++)
        for (int l = 0; l < 8; l++) c[j][l] += qk_bf2f(x[i + j * 8 + l]) * qk_bf2f(y[i + j * 8 + l]);
    float r[8];
    for (int l = 0; l < 8; l++) r[l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
    sumf = (double)red_movehl(r);
  }
  for (; i < n; i++) sumf += (double)(qk_bf2f(x[i]) * qk_bf2f(y[i]));
  return (float)sumf;
}

float qk_dot_f16_gemm(int64_t n, const void *w, const void *a) {
  if (n % 8) return qk_dot_f16_vec(n, w, a);
  const uint16_t *x = w, *y = a;
  float c[8] = { 0 };
  for (int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; l++) c[l] += qk_h2f(x[i + l]) * qk_h2f(y[i + l]);
  return red_movehl(c);
}

float qk_dot_bf16_gemm(int64_t n, const void *w, const void *a) {
  if (n % 8) return qk_dot_bf16_vec(n, w, a);
  const uint16_t *x = w, *y = a;
  float c[8] = { 0 };
  for (int64_t i = 0; i < n; i += 8)
    for (int l = 0; l < 8; l++) c[l] += qk_bf2f(x[i + l]) * qk_bf2f(y[i + l]);
  return red_movehl(c);
}

void (*qk_f32_to_f16_fast)(const float *x, void *y, int64_t n) = NULL;
void (*qk_f16_to_f32_fast)(const uint16_t *x, float *y, int64_t n) = NULL;

void qk_f16_to_f32_row(const uint16_t *x, float *y, int64_t n) {
  if (qk_f16_to_f32_fast) {
    qk_f16_to_f32_fast(x, y, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) y[i] = qk_h2f(x[i]);
}

void qk_f32_to_f16_row(const float *x, void *y, int64_t n) {
  if (qk_f32_to_f16_fast) {
    qk_f32_to_f16_fast(x, y, n);
    return;
  }
  uint8_t *d = y;
  for (int64_t i = 0; i < n; i++) {
    const uint16_t h = qk_f2h(x[i]);
    memcpy(d + 2 * i, &h, 2);
  }
}

void qk_act_f16(const float *x, uint16_t *y, int64_t n) { qk_f32_to_f16_row(x, y, n); }

void qk_act_bf16(const float *x, uint16_t *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = qk_f2bf(x[i]);
}
