/*
 * AVX-512 VNNI kernels for the 16-row interleaved layouts (csrc/repack.c), compiled with a target
 * attribute and registered in the plan's descriptors only when CPUID reports AVX-512 F/BW/VL/DQ and
 * VNNI. One 64-byte load holds 4 bytes of each of 16 rows; VPDPBUSD multiplies them by a broadcast
 * 4-byte group of one token's activations and accumulates 16 row sums, so a row group's weights are
 * unpacked once per tile of up to 4 tokens and no horizontal sums are needed.
 *
 * Every (row, token) result follows the same sequence of operations whatever the tile and token count
 * (exact integer sums per block, then one fused multiply-add per block in block order), so a token in a
 * batch gets exactly its single-token (decode) result.
 */
/* the wasm build's virtual file system does not resolve "..": it passes -I for csrc/ instead */
#if defined(__has_include) && __has_include("../../plan.h")
#include "../../plan.h"
#else
#include "plan.h"
#endif

#if defined(__x86_64__) && !defined(QK_NO_AVX2) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define INLINE inline __attribute__((always_inline))

int qk_cpu_has_avx512_vnni(void) {
  __builtin_cpu_init();
  return qk_cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
}

AVX512 static INLINE __m512i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/* ---- Q8_0 R16 × q8_0s activations ---- */
AVX512 static INLINE void q8_0_tile(int64_t nb, const uint8_t *wq, const uint16_t *ws, const uint8_t *act,
                                    size_t act_row, const int T, float *out, int64_t ostride) {
  __m512 acc[4];
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *q = wq + 512 * b;
    for (int l = 0; l < 8; l++) _mm_prefetch((const char *)q + 2048 + 64 * l, _MM_HINT_T0);
    const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ws + 16 * b)));
    __m512i w[8];
    for (int k = 0; k < 8; k++) w[k] = _mm512_loadu_si512((const void *)(q + 64 * k));
    for (int t = 0; t < T; t++) {
      const blk_q8_0s *y = (const blk_q8_0s *)(act + (size_t)t * act_row) + b;
      __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], bcast4(y->qs));
      __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], bcast4(y->qs + 4));
      s0 = _mm512_dpbusd_epi32(s0, w[2], bcast4(y->qs + 8));
      s1 = _mm512_dpbusd_epi32(s1, w[3], bcast4(y->qs + 12));
      s0 = _mm512_dpbusd_epi32(s0, w[4], bcast4(y->qs + 16));
      s1 = _mm512_dpbusd_epi32(s1, w[5], bcast4(y->qs + 20));
      s0 = _mm512_dpbusd_epi32(s0, w[6], bcast4(y->qs + 24));
      s1 = _mm512_dpbusd_epi32(s1, w[7], bcast4(y->qs + 28));
      const __m512i s = _mm512_sub_epi32(_mm512_add_epi32(s0, s1), _mm512_set1_epi32(y->s128));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(wd, _mm512_set1_ps(y->d)), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, acc[t]);
}

AVX512 static void gemm_q8_0_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok,
                                 float *out, int64_t ostride) {
  const int64_t nb = cols / QB;
  const uint8_t *wq = wg;
  const uint16_t *ws = (const uint16_t *)(wq + (size_t)nb * 512);
  const uint8_t *a = act;
  int64_t t = 0;
  for (; t + 4 <= ntok; t += 4) q8_0_tile(nb, wq, ws, a + t * act_row, act_row, 4, out + t * ostride, ostride);
  switch (ntok - t) {
    case 3: q8_0_tile(nb, wq, ws, a + t * act_row, act_row, 3, out + t * ostride, ostride); break;
    case 2: q8_0_tile(nb, wq, ws, a + t * act_row, act_row, 2, out + t * ostride, ostride); break;
    case 1: q8_0_tile(nb, wq, ws, a + t * act_row, act_row, 1, out + t * ostride, ostride); break;
    default: break;
  }
}

/* ---- Q4_K R16 × q8_K activations ---- */
AVX512 static INLINE __m512i byte_lane(__m512i v, int b) {
  return _mm512_and_si512(_mm512_srli_epi32(v, 8 * b), _mm512_set1_epi32(0xff));
}

/* Q4_K (QH = 0: 2304-byte super-blocks, nibbles at 256) and Q5_K (QH = 1: 2816 bytes, high bits at
 * 256, nibbles at 768). */
AVX512 static INLINE void q45_K_tile(int64_t nsb, const uint8_t *w, const uint8_t *act, size_t act_row, const int T,
                                     float *out, int64_t ostride, const int QH) {
  const size_t SB = QH ? 2816 : 2304, QS = QH ? 768 : 256;
  const __m512i m10 = _mm512_set1_epi8(0x10);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i m6 = _mm512_set1_epi8(0x3f), m30 = _mm512_set1_epi8(0x30), mw = _mm512_set1_epi32(0x00ff00ff);
  __m512 acc[4], accm[4];
  for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + SB * i;
    const __m512i A = _mm512_loadu_si512((const void *)(o + 64)), C = _mm512_loadu_si512((const void *)(o + 192));
    const __m512i s0 = _mm512_and_si512(A, m6);
    const __m512i s1 = _mm512_or_si512(_mm512_and_si512(C, m4), _mm512_and_si512(_mm512_srli_epi32(A, 2), m30));
    __m512i sumi[4];
    for (int t = 0; t < T; t++) sumi[t] = _mm512_setzero_si512();
    for (int p = 0; p < 4; p++) {
      const uint8_t *qp = o + QS + 512 * p;
      for (int l = 0; l < 8; l++) _mm_prefetch((const char *)qp + SB + 64 * l, _MM_HINT_T0);
      if (QH && p == 0)
        for (int l = 0; l < 8; l++) _mm_prefetch((const char *)o + 256 + SB + 64 * l, _MM_HINT_T0);
      __m512i lo_acc[4], hi_acc[4];
      for (int t = 0; t < T; t++) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
      for (int k = 0; k < 8; k++) {
        const __m512i wv = _mm512_loadu_si512((const void *)(qp + 64 * k));
        __m512i lo = _mm512_and_si512(wv, m4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
        if (QH) { /* bit 2p (low nibbles) and 2p+1 (high nibbles) of qh, moved to bit 4 */
          const __m512i hb = _mm512_loadu_si512((const void *)(o + 256 + 64 * k));
          const __m512i b0 = p < 2 ? _mm512_slli_epi16(hb, 4 - 2 * p) : _mm512_srli_epi16(hb, 2 * p - 4);
          const __m512i b1 = p < 2 ? _mm512_slli_epi16(hb, 3 - 2 * p) : _mm512_srli_epi16(hb, 2 * p - 3);
          lo = _mm512_or_si512(lo, _mm512_and_si512(b0, m10));
          hi = _mm512_or_si512(hi, _mm512_and_si512(b1, m10));
        }
        for (int t = 0; t < T; t++) {
          const int8_t *yq = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs + 64 * p + 4 * k;
          lo_acc[t] = _mm512_dpbusd_epi32(lo_acc[t], lo, bcast4(yq));
          hi_acc[t] = _mm512_dpbusd_epi32(hi_acc[t], hi, bcast4(yq + 32));
        }
      }
      const __m512i sv = p < 2 ? s0 : s1;
      const __m512i sc_lo = byte_lane(sv, 2 * (p & 1)), sc_hi = byte_lane(sv, 2 * (p & 1) + 1);
      for (int t = 0; t < T; t++)
        sumi[t] = _mm512_add_epi32(sumi[t], _mm512_add_epi32(_mm512_mullo_epi32(lo_acc[t], sc_lo),
                                                             _mm512_mullo_epi32(hi_acc[t], sc_hi)));
    }
    /* mins: Σ_j m_j · (Σ of the token's 32 activations of sub-block j), as int16 pairs */
    const __m512i B = _mm512_loadu_si512((const void *)(o + 128));
    const __m512i m0 = _mm512_and_si512(B, m6);
    const __m512i m1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(C, 4), m4),
                                       _mm512_and_si512(_mm512_srli_epi32(B, 2), m30));
    const __m512i mA = _mm512_and_si512(m0, mw), mB = _mm512_and_si512(_mm512_srli_epi32(m0, 8), mw);
    const __m512i mC = _mm512_and_si512(m1, mw), mD = _mm512_and_si512(_mm512_srli_epi32(m1, 8), mw);
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
    const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(o + 32)));
    for (int t = 0; t < T; t++) {
      const blk_q8_K *y = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      int32_t bs[8];
      for (int j = 0; j < 8; j++) bs[j] = y->bsums[2 * j] + y->bsums[2 * j + 1];
#define PAIR(a, b) _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)(a) | ((uint32_t)(uint16_t)(b) << 16)))
      __m512i summ = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mA, PAIR(bs[0], bs[2]));
      summ = _mm512_dpwssd_epi32(summ, mB, PAIR(bs[1], bs[3]));
      summ = _mm512_dpwssd_epi32(summ, mC, PAIR(bs[4], bs[6]));
      summ = _mm512_dpwssd_epi32(summ, mD, PAIR(bs[5], bs[7]));
#undef PAIR
      const __m512 dy = _mm512_set1_ps(y->d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_mul_ps(d, dy), acc[t]);
      accm[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(dm, dy), accm[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, _mm512_sub_ps(acc[t], accm[t]));
}

#define GEMM_R16(NAME, TILE, ...)                                                                          \
  AVX512 static void NAME(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out, \
                          int64_t ostride) {                                                                      \
    const int64_t nsb = cols / QK_K;                                                                              \
    const uint8_t *a = act;                                                                                       \
    int64_t t = 0;                                                                                                \
    for (; t + 4 <= ntok; t += 4) TILE(nsb, wg, a + t * act_row, act_row, 4, out + t * ostride, ostride __VA_ARGS__); \
    switch (ntok - t) {                                                                                           \
      case 3: TILE(nsb, wg, a + t * act_row, act_row, 3, out + t * ostride, ostride __VA_ARGS__); break;          \
      case 2: TILE(nsb, wg, a + t * act_row, act_row, 2, out + t * ostride, ostride __VA_ARGS__); break;          \
      case 1: TILE(nsb, wg, a + t * act_row, act_row, 1, out + t * ostride, ostride __VA_ARGS__); break;          \
      default: break;                                                                                             \
    }                                                                                                             \
  }

GEMM_R16(gemm_q4_K_r16, q45_K_tile, , 0)
GEMM_R16(gemm_q5_K_r16, q45_K_tile, , 1)

/* ---- Q6_K R16 × q8_K activations ---- */
AVX512 static INLINE void q6_K_tile(int64_t nsb, const uint8_t *w, const uint8_t *act, size_t act_row, const int T,
                                    float *out, int64_t ostride) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  __m512 acc[4];
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + (size_t)3360 * i;
    __m512i sumi[4], summ[4];
    for (int t = 0; t < T; t++) sumi[t] = summ[t] = _mm512_setzero_si512();
    /* Σ_j s_j · bsums_j (the −32 offset of every 6-bit value), int16 pairs × broadcast bsum pairs */
    for (int v = 0; v < 4; v++) {
      const __m512i S = _mm512_loadu_si512((const void *)(o + 32 + 64 * v));
      const __m512i p01 = _mm512_srai_epi16(_mm512_slli_epi16(S, 8), 8), p23 = _mm512_srai_epi16(S, 8);
      for (int t = 0; t < T; t++) {
        const int16_t *bs = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->bsums + 4 * v;
        int32_t b01, b23;
        memcpy(&b01, bs, 4);
        memcpy(&b23, bs + 2, 4);
        summ[t] = _mm512_dpwssd_epi32(summ[t], p01, _mm512_set1_epi32(b01));
        summ[t] = _mm512_dpwssd_epi32(summ[t], p23, _mm512_set1_epi32(b23));
      }
    }
    for (int l = 0; l < 53; l++) _mm_prefetch((const char *)o + 3360 + 64 * l, _MM_HINT_T0);
    for (int h = 0; h < 2; h++) {
      for (int m = 0; m < 4; m++) {
        for (int kh = 0; kh < 2; kh++) {
          const int j = 8 * h + 2 * m + kh; /* 16-element sub-block */
          const __m512i S = _mm512_loadu_si512((const void *)(o + 32 + 64 * (j >> 2)));
          const __m512i pr = (j & 2) ? _mm512_srai_epi16(S, 8) : _mm512_srai_epi16(_mm512_slli_epi16(S, 8), 8);
          const __m512i sc = (j & 1) ? _mm512_srai_epi32(pr, 16) : _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16);
          __m512i a[4];
          for (int t = 0; t < T; t++) a[t] = _mm512_setzero_si512();
          for (int k = 4 * kh; k < 4 * kh + 4; k++) {
            const __m512i L = _mm512_loadu_si512((const void *)(o + 288 + 64 * (16 * h + 8 * (m & 1) + k)));
            const __m512i H = _mm512_loadu_si512((const void *)(o + 2336 + 64 * (8 * h + k)));
            const __m512i lq = (m & 2) ? _mm512_and_si512(_mm512_srli_epi16(L, 4), m4) : _mm512_and_si512(L, m4);
            /* high bits 2m, 2m+1 of H to bits 4, 5 */
            const __m512i hq = m < 2 ? _mm512_slli_epi16(H, 4 - 2 * m) : _mm512_srli_epi16(H, 2 * m - 4);
            const __m512i q = _mm512_or_si512(lq, _mm512_and_si512(hq, m30));
            for (int t = 0; t < T; t++) {
              const int8_t *yq = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs + 128 * h + 32 * m + 4 * k;
              a[t] = _mm512_dpbusd_epi32(a[t], q, bcast4(yq));
            }
          }
          for (int t = 0; t < T; t++) sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(a[t], sc));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
    for (int t = 0; t < T; t++) {
      const blk_q8_K *y = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      const __m512i s = _mm512_sub_epi32(sumi[t], _mm512_slli_epi32(summ[t], 5));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(y->d)), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, acc[t]);
}

GEMM_R16(gemm_q6_K_r16, q6_K_tile, )

void qk_plan_register_avx512(qk_type_desc *types) {
  if (!qk_cpu_has_avx512_vnni()) return;
  types[QK_Q8_0].r16_gemm[QK_ISA_AVX512_VNNI] = gemm_q8_0_r16;
  types[QK_Q4_K].r16_gemm[QK_ISA_AVX512_VNNI] = gemm_q4_K_r16;
  types[QK_Q5_K].r16_gemm[QK_ISA_AVX512_VNNI] = gemm_q5_K_r16;
  types[QK_Q6_K].r16_gemm[QK_ISA_AVX512_VNNI] = gemm_q6_K_r16;
}

#else
int qk_cpu_has_avx512_vnni(void) { return 0; }
void qk_plan_register_avx512(qk_type_desc *types) { (void)types; }
#endif
