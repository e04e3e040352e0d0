/* Portable dot products of a weight row with a quantized (or float) activation row. */
#include "qk.h"

static float vd_f32(int64_t n, const void *w, const void *a) {
  const float *x = w, *y = a;
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) s[k] += x[i + k] * y[i + k];
  for (; i < n; i++) s[0] += x[i] * y[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}



static float vd_q4_0(int64_t n, const void *w, const void *a) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    int sumi = 0;
    for (int j = 0; j < 16; j++)
      sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    s += sumi * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

/* ggml_vec_dot_iq4_nl_q8_0 (generic): per block d_x·d_y·Σ level·q8. */
static float vd_iq4_nl(int64_t n, const void *w, const void *a) {
  const blk_iq4_nl *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < 16; j++) {
      sumi1 += y[i].qs[j] * qk_iq4nl_values[x[i].qs[j] & 0xF];
      sumi2 += y[i].qs[j + 16] * qk_iq4nl_values[x[i].qs[j] >> 4];
    }
    s += (qk_h2f(x[i].d) * qk_h2f(y[i].d)) * (float)(sumi1 + sumi2);
  }
  return s;
}

static float vd_q4_1(int64_t n, const void *w, const void *a) {
  const blk_q4_1 *x = w;
  const blk_q8_1 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    int sumi = 0;
    for (int j = 0; j < 16; j++) sumi += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    s += sumi * (qk_h2f(x[i].d) * qk_h2f(y[i].d)) + qk_h2f(x[i].m) * qk_h2f(y[i].s);
  }
  return s;
}

static float vd_q5_0(int64_t n, const void *w, const void *a) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    int sumi = 0;
    for (int j = 0; j < 16; j++) {
      int q0 = ((x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
      int q1 = ((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
    }
    s += sumi * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

static float vd_q5_1(int64_t n, const void *w, const void *a) {
  const blk_q5_1 *x = w;
  const blk_q8_1 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    int sumi = 0;
    for (int j = 0; j < 16; j++) {
      int q0 = (x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      int q1 = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      sumi += q0 * y[i].qs[j] + q1 * y[i].qs[j + 16];
    }
    s += sumi * (qk_h2f(x[i].d) * qk_h2f(y[i].d)) + qk_h2f(x[i].m) * qk_h2f(y[i].s);
  }
  return s;
}

static float vd_q8_0(int64_t n, const void *w, const void *a) {
  const blk_q8_0 *x = w;
  const blk_q8_0 *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    int sumi = 0;
    for (int j = 0; j < QB; j++) sumi += x[i].qs[j] * y[i].qs[j];
    s += sumi * (qk_h2f(x[i].d) * qk_h2f(y[i].d));
  }
  return s;
}

static float vd_q2_K(int64_t n, const void *w, const void *a) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    int summs = 0, isum = 0, is = 0;
    for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; half++) {
          int sc = x[i].scales[is++] & 0xF, sub = 0;
          for (int l = 0; l < 16; l++) sub += a8[l] * ((q[l + 16 * half] >> shift) & 3);
          isum += sc * sub;
          a8 += 16;
        }
      }
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

static float vd_q3_K(int64_t n, const void *w, const void *a) {
  const blk_q3_K *x = w;
  const blk_q8_K *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    int8_t sc[16];
    qk_q3k_scales(x[i].scales, sc);
    const uint8_t *q = x[i].qs, *hm = x[i].hmask;
    const int8_t *a8 = y[i].qs;
    int isum = 0, is = 0;
    uint8_t m = 1;
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (int half = 0; half < 2; half++) {
          int sub = 0;
          for (int l = 0; l < 16; l++) {
            int k = l + 16 * half;
            sub += a8[l] * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
          isum += sc[is++] * sub;
          a8 += 16;
        }
      }
    }
    s += y[i].d * qk_h2f(x[i].d) * isum;
  }
  return s;
}

static float vd_q4_K(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    int isum = 0, summs = 0;
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      uint8_t sc1, m1, sc2, m2;
      qk_scale_min_k4(2 * j, x[i].scales, &sc1, &m1);
      qk_scale_min_k4(2 * j + 1, x[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) { s1 += (q[l] & 0xF) * a8[l]; s2 += (q[l] >> 4) * a8[l + 32]; }
      isum += sc1 * s1 + sc2 * s2;
      summs += m1 * (y[i].bsums[4 * j] + y[i].bsums[4 * j + 1]) + m2 * (y[i].bsums[4 * j + 2] + y[i].bsums[4 * j + 3]);
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

static float vd_q5_K(int64_t n, const void *w, const void *a) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const uint8_t *q = x[i].qs, *qh = x[i].qh;
    const int8_t *a8 = y[i].qs;
    int isum = 0, summs = 0;
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      uint8_t sc1, m1, sc2, m2;
      qk_scale_min_k4(2 * j, x[i].scales, &sc1, &m1);
      qk_scale_min_k4(2 * j + 1, x[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) {
        s1 += ((q[l] & 0xF) | (((qh[l] >> (2 * j)) & 1) << 4)) * a8[l];
        s2 += ((q[l] >> 4) | (((qh[l] >> (2 * j + 1)) & 1) << 4)) * a8[l + 32];
      }
      isum += sc1 * s1 + sc2 * s2;
      summs += m1 * (y[i].bsums[4 * j] + y[i].bsums[4 * j + 1]) + m2 * (y[i].bsums[4 * j + 2] + y[i].bsums[4 * j + 3]);
    }
    s += y[i].d * (qk_h2f(x[i].d) * isum - qk_h2f(x[i].dmin) * summs);
  }
  return s;
}

static float vd_q6_K(int64_t n, const void *w, const void *a) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  float s = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    const uint8_t *ql = x[i].ql, *qh = x[i].qh;
    const int8_t *sc = x[i].scales, *a8 = y[i].qs;
    int isum = 0;
    for (int n0 = 0; n0 < QK_K; n0 += 128, ql += 64, qh += 32, sc += 8, a8 += 128) {
      int sub[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sub[is] += q1 * a8[l];
        sub[is + 2] += q2 * a8[l + 32];
        sub[is + 4] += q3 * a8[l + 64];
        sub[is + 6] += q4 * a8[l + 96];
      }
      for (int k = 0; k < 8; k++) isum += sc[k] * sub[k];
    }
    s += y[i].d * qk_h2f(x[i].d) * isum;
  }
  return s;
}

static float dot_f16_f32(int64_t n, const uint16_t *a, const float *b) {
  float s = 0;
  for (int64_t i = 0; i < n; i++) s += qk_h2f(a[i]) * b[i];
  return s;
}

static float dot_f32(int64_t n, const float *a, const float *b) { return vd_f32(n, a, b); }

static void axpy_f16(int64_t n, float s, const uint16_t *x, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] += s * qk_h2f(x[i]);
}

static void axpy_f32(int64_t n, float s, const float *x, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] += s * x[i];
}

void qk_vtable_scalar(qk_vtable *t) {
  memset(t, 0, sizeof(*t));
  t->t[QK_F32].dot = vd_f32;
  t->t[QK_F16].dot = qk_dot_f16_vec;
  t->t[QK_BF16].dot = qk_dot_bf16_vec;
  t->t[QK_F16].dotm = qk_dot_f16_gemm;
  t->t[QK_BF16].dotm = qk_dot_bf16_gemm;
  t->ops.fa_dot_f16 = qk_fa_dot_f16;
  t->ops.fa_scale_f16 = qk_fa_scale_f16;
  t->ops.fa_mad_f16 = qk_fa_mad_f16;
  t->t[QK_Q4_0].dot = vd_q4_0;
  t->t[QK_Q4_1].dot = vd_q4_1;
  t->t[QK_Q5_0].dot = vd_q5_0;
  t->t[QK_Q5_1].dot = vd_q5_1;
  t->t[QK_Q8_0].dot = vd_q8_0;
  t->t[QK_IQ4_NL].dot = vd_iq4_nl;
  t->t[QK_Q2_K].dot = vd_q2_K;
  t->t[QK_Q3_K].dot = vd_q3_K;
  t->t[QK_Q4_K].dot = vd_q4_K;
  t->t[QK_Q5_K].dot = vd_q5_K;
  t->t[QK_Q6_K].dot = vd_q6_K;
  t->ops.dot_f16_f32 = dot_f16_f32;
  t->ops.dot_f32 = dot_f32;
  t->ops.axpy_f16 = axpy_f16;
  t->ops.axpy_f32 = axpy_f32;
  t->ops.name = "scalar";
}
