/*
 * AVX2 kernels for the 16-row interleaved layouts (csrc/repack.c), for x86 CPUs without AVX-512 VNNI
 * (registered for the plan's AVX2 and AVX-512-without-VNNI levels). Same layout and same arithmetic as
 * arch/x86/avx512.c, on 256-bit registers: a 64-byte group (4 bytes of each of 16 rows) is two halves
 * of 8 rows. Without VPDPBUSD, the unsigned weight bytes times the broadcast signed activations go
 * through VPMADDUBSW (pairs summed into int16, exact for these ranges: see below) and VPMADDWD (int16
 * pairs into int32 row sums).
 *
 * Every integer sum is exact, and each (row, token) result is one fused multiply-add per super-block
 * in block order — the same operations as the AVX-512 kernel — so results equal that kernel's bit for
 * bit and a token in a batch gets exactly its single-token result.
 */
#if defined(__has_include) && __has_include("../../plan.h")
#include "../../plan.h"
#else
#include "plan.h"
#endif

#if defined(__x86_64__) && !defined(QK_NO_AVX2) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

AVX2 static INLINE __m256i bcast4(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

AVX2 static INLINE __m256i byte_lane(__m256i v, int b) {
  return _mm256_and_si256(_mm256_srli_epi32(v, 8 * b), _mm256_set1_epi32(0xff));
}

/* The row's 8-bit value in byte b of each 32-bit lane, in both int16 halves (a VPMADDWD multiplier). */
AVX2 static INLINE __m256i scale16(__m256i v, int b) {
  const __m256i x = byte_lane(v, b);
  return _mm256_or_si256(x, _mm256_slli_epi32(x, 16));
}

/*
 * Q4_K (QH = 0) and Q5_K (QH = 1) super-blocks for 8 rows (half h of the 16-row group) × T tokens.
 * int16 ranges: a VPMADDUBSW pair is at most 2·31·128 = 7936 in magnitude (Q5_K; 3840 for Q4_K), so
 * a sub-block's 8 steps fit in int16 for Q4_K (30720) and Q5_K sums them in two halves of 4 (31744);
 * VPMADDWD with the sub-block scale in both int16 halves then gives scale·Σ exactly in int32.
 * Registers: AVX2 has 16, so only the int16 partials stay in registers; per-token sums live in
 * small arrays (L1).
 */
AVX2 static INLINE void q45_K_half(int64_t nsb, const uint8_t *w, int h, const uint8_t *act, size_t act_row,
                                   const int T, float *out, int64_t ostride, const int QH) {
  const size_t SB = QH ? 2816 : 2304, QS = QH ? 768 : 256;
  const __m256i m4 = _mm256_set1_epi8(0x0f), m10 = _mm256_set1_epi8(0x10);
  const __m256i m6 = _mm256_set1_epi8(0x3f), m30 = _mm256_set1_epi8(0x30), mw = _mm256_set1_epi32(0x00ff00ff);
  __m256 acc[4], accm[4];
  for (int t = 0; t < T; t++) acc[t] = accm[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + SB * i;
    const __m256i A = _mm256_loadu_si256((const __m256i *)(o + 64 + 32 * h));
    const __m256i C = _mm256_loadu_si256((const __m256i *)(o + 192 + 32 * h));
    const __m256i s0 = _mm256_and_si256(A, m6);
    const __m256i s1 = _mm256_or_si256(_mm256_and_si256(C, m4), _mm256_and_si256(_mm256_srli_epi32(A, 2), m30));
    __m256i sumi[4];
    for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
      const uint8_t *qp = o + QS + 512 * p + 32 * h;
      for (int l = 0; l < 8; l++) _mm_prefetch((const char *)qp + SB + 64 * l, _MM_HINT_T0);
      const __m256i sv = p < 2 ? s0 : s1;
      const __m256i sc_lo = scale16(sv, 2 * (p & 1)), sc_hi = scale16(sv, 2 * (p & 1) + 1);
      for (int kk = 0; kk < 8; kk += QH ? 4 : 8) {
        __m256i lo16[4], hi16[4];
        for (int t = 0; t < T; t++) lo16[t] = hi16[t] = _mm256_setzero_si256();
        for (int k = kk; k < kk + (QH ? 4 : 8); k++) {
          const __m256i wv = _mm256_loadu_si256((const __m256i *)(qp + 64 * k));
          __m256i lo = _mm256_and_si256(wv, m4);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), m4);
          if (QH) { /* bit 2p (low nibbles) and 2p+1 (high nibbles) of qh, moved to bit 4 */
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(o + 256 + 64 * k + 32 * h));
            const __m256i b0 = p < 2 ? _mm256_slli_epi16(hb, 4 - 2 * p) : _mm256_srli_epi16(hb, 2 * p - 4);
            const __m256i b1 = p < 2 ? _mm256_slli_epi16(hb, 3 - 2 * p) : _mm256_srli_epi16(hb, 2 * p - 3);
            lo = _mm256_or_si256(lo, _mm256_and_si256(b0, m10));
            hi = _mm256_or_si256(hi, _mm256_and_si256(b1, m10));
          }
          for (int t = 0; t < T; t++) {
            const int8_t *yq = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs + 64 * p + 4 * k;
            lo16[t] = _mm256_add_epi16(lo16[t], _mm256_maddubs_epi16(lo, bcast4(yq)));
            hi16[t] = _mm256_add_epi16(hi16[t], _mm256_maddubs_epi16(hi, bcast4(yq + 32)));
          }
        }
        for (int t = 0; t < T; t++)
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], sc_lo),
                                                               _mm256_madd_epi16(hi16[t], sc_hi)));
      }
    }
    /* mins: Σ_j m_j · (Σ of the token's 32 activations of sub-block j), int16 pairs × bsum pairs */
    const __m256i B = _mm256_loadu_si256((const __m256i *)(o + 128 + 32 * h));
    const __m256i m0 = _mm256_and_si256(B, m6);
    const __m256i m1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(C, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi32(B, 2), m30));
    const __m256i mA = _mm256_and_si256(m0, mw), mB = _mm256_and_si256(_mm256_srli_epi32(m0, 8), mw);
    const __m256i mC = _mm256_and_si256(m1, mw), mD = _mm256_and_si256(_mm256_srli_epi32(m1, 8), mw);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 16 * h)));
    const __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 32 + 16 * h)));
    for (int t = 0; t < T; t++) {
      const blk_q8_K *y = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      int32_t bs[8];
      for (int j = 0; j < 8; j++) bs[j] = y->bsums[2 * j] + y->bsums[2 * j + 1];
#define PAIR(a, b) _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)(a) | ((uint32_t)(uint16_t)(b) << 16)))
      __m256i summ = _mm256_madd_epi16(mA, PAIR(bs[0], bs[2]));
      summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mB, PAIR(bs[1], bs[3])));
      summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mC, PAIR(bs[4], bs[6])));
      summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mD, PAIR(bs[5], bs[7])));
#undef PAIR
      const __m256 dy = _mm256_set1_ps(y->d);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_mul_ps(d, dy), acc[t]);
      accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dm, dy), accm[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * ostride + 8 * h, _mm256_sub_ps(acc[t], accm[t]));
}

/* ---- Q6_K: 8 rows (half h) × T tokens; same sums as arch/x86/avx512.c's q6_K_tile ---- */
AVX2 static INLINE void q6_K_half(int64_t nsb, const uint8_t *w, int h, const uint8_t *act, size_t act_row,
                                  const int T, float *out, int64_t ostride) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[4];
  for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + (size_t)3360 * i;
    /* starts at −32·Σ_j s_j · bsums_j (the −32 offset of every 6-bit value) */
    __m256i sumi[4];
    for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
    for (int v = 0; v < 4; v++) {
      const __m256i S = _mm256_loadu_si256((const __m256i *)(o + 32 + 64 * v + 32 * h));
      const __m256i p01 = _mm256_srai_epi16(_mm256_slli_epi16(S, 8), 8), p23 = _mm256_srai_epi16(S, 8);
      for (int t = 0; t < T; t++) {
        const int16_t *bs = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->bsums + 4 * v;
        int32_t b01, b23;
        memcpy(&b01, bs, 4);
        memcpy(&b23, bs + 2, 4);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p01, _mm256_set1_epi32(b01)));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p23, _mm256_set1_epi32(b23)));
      }
    }
    for (int t = 0; t < T; t++) sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sumi[t], 5));
    for (int l = 0; l < 53; l++) _mm_prefetch((const char *)o + 3360 + 64 * l, _MM_HINT_T0);
    for (int hh = 0; hh < 2; hh++) {
      for (int m = 0; m < 4; m++) {
        for (int kh = 0; kh < 2; kh++) {
          const int j = 8 * hh + 2 * m + kh; /* 16-element sub-block */
          const __m256i S = _mm256_loadu_si256((const __m256i *)(o + 32 + 64 * (j >> 2) + 32 * h));
          const __m256i pr = (j & 2) ? _mm256_srai_epi16(S, 8) : _mm256_srai_epi16(_mm256_slli_epi16(S, 8), 8);
          /* the sub-block's int8 scale in both int16 halves of each row's lane */
          const __m256i s16 = (j & 1) ? _mm256_srai_epi32(pr, 16) : _mm256_srai_epi32(_mm256_slli_epi32(pr, 16), 16);
          const __m256i sc = _mm256_or_si256(_mm256_and_si256(s16, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(s16, 16));
          /* 4 steps of pairs ≤ 2·63·128 = 16128: two steps per int16 partial */
          for (int k = 4 * kh; k < 4 * kh + 4; k += 2) {
            __m256i a16[4];
            for (int t = 0; t < T; t++) a16[t] = _mm256_setzero_si256();
            for (int kk = k; kk < k + 2; kk++) {
              const __m256i L =
                  _mm256_loadu_si256((const __m256i *)(o + 288 + 64 * (16 * hh + 8 * (m & 1) + kk) + 32 * h));
              const __m256i H = _mm256_loadu_si256((const __m256i *)(o + 2336 + 64 * (8 * hh + kk) + 32 * h));
              const __m256i lq = (m & 2) ? _mm256_and_si256(_mm256_srli_epi16(L, 4), m4) : _mm256_and_si256(L, m4);
              const __m256i hq = m < 2 ? _mm256_slli_epi16(H, 4 - 2 * m) : _mm256_srli_epi16(H, 2 * m - 4);
              const __m256i q = _mm256_or_si256(lq, _mm256_and_si256(hq, m30));
              for (int t = 0; t < T; t++) {
                const int8_t *yq = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs + 128 * hh + 32 * m + 4 * kk;
                a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(q, bcast4(yq)));
              }
            }
            for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a16[t], sc));
          }
        }
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 16 * h)));
    for (int t = 0; t < T; t++) {
      const blk_q8_K *y = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[t]), _mm256_mul_ps(d, _mm256_set1_ps(y->d)), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * ostride + 8 * h, acc[t]);
}

#define TILES(HALF, ...)                                                                                    \
  {                                                                                                        \
    const uint8_t *a = act;                                                                                \
    for (int h = 0; h < 2; h++) {                                                                          \
      int64_t t = 0;                                                                                       \
      for (; t + 4 <= ntok; t += 4) HALF(nsb, wg, h, a + t * act_row, act_row, 4, out + t * ostride, ostride __VA_ARGS__); \
      switch (ntok - t) {                                                                                  \
        case 3: HALF(nsb, wg, h, a + t * act_row, act_row, 3, out + t * ostride, ostride __VA_ARGS__); break; \
        case 2: HALF(nsb, wg, h, a + t * act_row, act_row, 2, out + t * ostride, ostride __VA_ARGS__); break; \
        case 1: HALF(nsb, wg, h, a + t * act_row, act_row, 1, out + t * ostride, ostride __VA_ARGS__); break; \
        default: break;                                                                                    \
      }                                                                                                    \
    }                                                                                                      \
  }

AVX2 static void gemm_q4_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  TILES(q45_K_half, , 0)
}

AVX2 static void gemm_q5_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  TILES(q45_K_half, , 1)
}

AVX2 static void gemm_q6_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  TILES(q6_K_half, )
}

void qk_plan_register_avx2(qk_type_desc *types) {
  if (!qk_cpu_has_avx2()) return;
  const int levels[] = { QK_ISA_AVX2, QK_ISA_AVX512 };
  for (int i = 0; i < 2; i++) {
    types[QK_Q4_K].r16_gemm[levels[i]] = gemm_q4_K_r16;
    types[QK_Q5_K].r16_gemm[levels[i]] = gemm_q5_K_r16;
    types[QK_Q6_K].r16_gemm[levels[i]] = gemm_q6_K_r16;
  }
}

#else
void qk_plan_register_avx2(qk_type_desc *types) { (void)types; }
#endif
