/* Reference dequantization of every supported block format (bit-exact with ggml's decoders). */
#include "qk.h"

static void dq_q4_0(const blk_q4_0 *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d);
    for (int j = 0; j < 16; j++) {
      y[j] = ((x[i].qs[j] & 0xF) - 8) * d;
      y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

static void dq_iq4_nl(const blk_iq4_nl *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d);
    for (int j = 0; j < 16; j++) {
      y[j] = d * qk_iq4nl_values[x[i].qs[j] & 0xF];
      y[j + 16] = d * qk_iq4nl_values[x[i].qs[j] >> 4];
    }
  }
}

static void dq_q4_1(const blk_q4_1 *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d), m = qk_h2f(x[i].m);
    for (int j = 0; j < 16; j++) {
      y[j] = (x[i].qs[j] & 0xF) * d + m;
      y[j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

static void dq_q5_0(const blk_q5_0 *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d);
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; j++) {
      int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
      y[j] = (((x[i].qs[j] & 0xF) | (h0 << 4)) - 16) * d;
      y[j + 16] = (((x[i].qs[j] >> 4) | (h1 << 4)) - 16) * d;
    }
  }
}

static void dq_q5_1(const blk_q5_1 *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d), m = qk_h2f(x[i].m);
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; j++) {
      int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
      y[j] = ((x[i].qs[j] & 0xF) | (h0 << 4)) * d + m;
      y[j + 16] = ((x[i].qs[j] >> 4) | (h1 << 4)) * d + m;
    }
  }
}

static void dq_q8_0(const blk_q8_0 *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, y += QB) {
    const float d = qk_h2f(x[i].d);
    for (int j = 0; j < QB; j++) y[j] = x[i].qs[j] * d;
  }
}

static void dq_q2_K(const blk_q2_K *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    const float d = qk_h2f(x[i].d), dmin = qk_h2f(x[i].dmin);
    const uint8_t *q = x[i].qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; half++) {
          uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
          for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

static void dq_q3_K(const blk_q3_K *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    const float d = qk_h2f(x[i].d);
    int8_t sc[16];
    qk_q3k_scales(x[i].scales, sc);
    const uint8_t *q = x[i].qs, *hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (int half = 0; half < 2; half++) {
          const float dl = d * sc[is++];
          for (int l = 0; l < 16; l++) {
            int k = l + 16 * half;
            *y++ = dl * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

static void dq_q4_K(const blk_q4_K *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    const float d = qk_h2f(x[i].d), dmin = qk_h2f(x[i].dmin);
    const uint8_t *q = x[i].qs;
    for (int j = 0; j < 4; j++, q += 32) {
      uint8_t sc, m;
      qk_scale_min_k4(2 * j, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      qk_scale_min_k4(2 * j + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

static void dq_q5_K(const blk_q5_K *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    const float d = qk_h2f(x[i].d), dmin = qk_h2f(x[i].dmin);
    const uint8_t *ql = x[i].qs, *qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, m;
      qk_scale_min_k4(2 * j, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      qk_scale_min_k4(2 * j + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

static void dq_q6_K(const blk_q6_K *x, float *y, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    const float d = qk_h2f(x[i].d);
    const uint8_t *ql = x[i].ql, *qh = x[i].qh;
    const int8_t *sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; l++) {
        int is = l / 16;
        int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

int qk_dequantize(int type, const void *src, float *dst, int64_t n) {
  const int b = qk_type_block(type);
  if (!b || n % b) return -1;
  const int64_t nb = n / b;
  switch (type) {
    case QK_F32: memcpy(dst, src, (size_t)n * 4); return 0;
    case QK_F16: { const uint8_t *s = src; for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = qk_h2f(h); } return 0; }
    case QK_BF16: { const uint8_t *s = src; for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = qk_bf2f(h); } return 0; }
    case QK_Q4_0: dq_q4_0(src, dst, nb); return 0;
    case QK_Q4_1: dq_q4_1(src, dst, nb); return 0;
    case QK_Q5_0: dq_q5_0(src, dst, nb); return 0;
    case QK_Q5_1: dq_q5_1(src, dst, nb); return 0;
    case QK_Q8_0: dq_q8_0(src, dst, nb); return 0;
    case QK_IQ4_NL: dq_iq4_nl(src, dst, nb); return 0;
    case QK_Q2_K: dq_q2_K(src, dst, nb); return 0;
    case QK_Q3_K: dq_q3_K(src, dst, nb); return 0;
    case QK_Q4_K: dq_q4_K(src, dst, nb); return 0;
    case QK_Q5_K: dq_q5_K(src, dst, nb); return 0;
    case QK_Q6_K: dq_q6_K(src, dst, nb); return 0;
    default: return -1;
  }
}
