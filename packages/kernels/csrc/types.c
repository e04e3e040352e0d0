/* Type table and half-float lookup table. */
#include "qk.h"

float qk_f16_table[65536];

const int8_t qk_iq4nl_values[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

static float h2f_compute(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    float v = (float)mant * 5.9604644775390625e-8f; /* 2^-24 */
    return sign ? -v : v;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f; memcpy(&f, &bits, 4);
  return f;
}

void qk_init_tables(void) {
  static int done = 0;
  if (done) return;
  for (uint32_t i = 0; i < 65536; i++) qk_f16_table[i] = h2f_compute((uint16_t)i);
  done = 1;
}

int qk_type_block(int type) {
  switch (type) {
    case QK_F32: case QK_F16: case QK_BF16: return 1;
    case QK_Q4_0: case QK_Q4_1: case QK_Q5_0: case QK_Q5_1: case QK_Q8_0: case QK_Q8_1: case QK_IQ4_NL: return QB;
    case QK_Q2_K: case QK_Q3_K: case QK_Q4_K: case QK_Q5_K: case QK_Q6_K: case QK_Q8_K: return QK_K;
    default: return 0;
  }
}

int qk_type_bytes(int type) {
  switch (type) {
    case QK_F32: return 4;
    case QK_F16: case QK_BF16: return 2;
    case QK_Q4_0: return 18; case QK_Q4_1: return 20; case QK_Q5_0: return 22; case QK_Q5_1: return 24;
    case QK_Q8_0: return 34; case QK_Q8_1: return 36; case QK_IQ4_NL: return 18;
    case QK_Q2_K: return 84; case QK_Q3_K: return 110; case QK_Q4_K: return 144; case QK_Q5_K: return 176;
    case QK_Q6_K: return 210; case QK_Q8_K: return 292;
    default: return 0;
  }
}

size_t qk_row_bytes(int type, int64_t n) {
  int b = qk_type_block(type);
  if (!b) return 0;
  return (size_t)(n / b) * (size_t)qk_type_bytes(type);
}

int qk_vec_dot_type(int type) {
  switch (type) {
    case QK_Q4_0: case QK_Q5_0: case QK_Q8_0: case QK_IQ4_NL: return QK_Q8_0;
    case QK_Q4_1: case QK_Q5_1: return QK_Q8_1;
    case QK_Q2_K: case QK_Q3_K: case QK_Q4_K: case QK_Q5_K: case QK_Q6_K: return QK_Q8_K;
    case QK_F16: return QK_F16;   /* as ggml: activations are converted to the weight's half type */
    case QK_BF16: return QK_BF16;
    default: return QK_F32;
  }
}
