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

/* acc += u8 weights · the 4 signed bytes at p broadcast to every lane (VPDPBUSD with an embedded
 * broadcast: GCC does not fold _mm512_set1_epi32 of a load into it, and the separate broadcasts cost
 * as many instructions as the dot products) */
AVX512 static INLINE __m512i dpbusd_bcast(__m512i acc, __m512i w, const int8_t *p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)p));
  return acc;
}

/* One 32-value sub-block (32 nibbles of 16 rows: 8 vectors) against T tokens: the exact integer dot
 * products, then × the sub-block's 6-bit scales into sumi. Low nibbles (HI = 0) or high nibbles; for
 * Q5_K (QH) the sub-block's bit of qh is moved to bit 4. */
AVX512 static INLINE void q45_K_sub(const uint8_t *qp, const uint8_t *qh, const int8_t *const *y, int off, const int T,
                                    const int HI, const int QH, const int hbit, __m512i sc, __m512i *sumi) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m10 = _mm512_set1_epi8(0x10);
  __m512i a[8];
  for (int t = 0; t < T; t++) a[t] = _mm512_setzero_si512();
  for (int k = 0; k < 8; k++) {
    const __m512i wv = _mm512_loadu_si512((const void *)(qp + 64 * k));
    __m512i q = HI ? _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4) : _mm512_and_si512(wv, m4);
    if (QH) {
      const __m512i hb = _mm512_loadu_si512((const void *)(qh + 64 * k));
      const __m512i b = hbit <= 4 ? _mm512_slli_epi16(hb, 4 - hbit) : _mm512_srli_epi16(hb, hbit - 4);
      q = _mm512_or_si512(q, _mm512_and_si512(b, m10));
    }
    for (int t = 0; t < T; t++) a[t] = dpbusd_bcast(a[t], q, y[t] + off + 4 * k);
  }
  for (int t = 0; t < T; t++) sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(a[t], sc));
}

/* Both sub-blocks of a 64-value group in one pass (low and high nibbles of the same loads), for tiles
 * of up to 4 tokens, where the 2·T accumulators fit in registers; the same integer sums as two
 * q45_K_sub calls. */
AVX512 static INLINE void q45_K_pair(const uint8_t *qp, const uint8_t *qh, const int8_t *const *y, int off,
                                     const int T, const int QH, const int p, __m512i sc_lo, __m512i sc_hi,
                                     __m512i *sumi) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m10 = _mm512_set1_epi8(0x10);
  __m512i lo_acc[4], hi_acc[4];
  for (int t = 0; t < T; t++) lo_acc[t] = hi_acc[t] = _mm512_setzero_si512();
  for (int k = 0; k < 8; k++) {
    const __m512i wv = _mm512_loadu_si512((const void *)(qp + 64 * k));
    __m512i lo = _mm512_and_si512(wv, m4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
    if (QH) { /* bit 2p (low nibbles) and 2p+1 (high nibbles) of qh, moved to bit 4 */
      const __m512i hb = _mm512_loadu_si512((const void *)(qh + 64 * k));
      const __m512i b0 = p < 2 ? _mm512_slli_epi16(hb, 4 - 2 * p) : _mm512_srli_epi16(hb, 2 * p - 4);
      const __m512i b1 = p < 2 ? _mm512_slli_epi16(hb, 3 - 2 * p) : _mm512_srli_epi16(hb, 2 * p - 3);
      lo = _mm512_or_si512(lo, _mm512_and_si512(b0, m10));
      hi = _mm512_or_si512(hi, _mm512_and_si512(b1, m10));
    }
    for (int t = 0; t < T; t++) {
      lo_acc[t] = dpbusd_bcast(lo_acc[t], lo, y[t] + off + 4 * k);
      hi_acc[t] = dpbusd_bcast(hi_acc[t], hi, y[t] + off + 32 + 4 * k);
    }
  }
  for (int t = 0; t < T; t++)
    sumi[t] = _mm512_add_epi32(sumi[t], _mm512_add_epi32(_mm512_mullo_epi32(lo_acc[t], sc_lo),
                                                         _mm512_mullo_epi32(hi_acc[t], sc_hi)));
}

/* Q4_K (QH = 0: 2304-byte super-blocks, nibbles at 256) and Q5_K (QH = 1: 2816 bytes, high bits at
 * 256, nibbles at 768), T ≤ 8 tokens: a super-block's weights are unpacked once per tile. */
AVX512 static INLINE void q45_K_tile(int64_t nsb, const uint8_t *w, const uint8_t *act, size_t act_row, const int T,
                                     float *out, int64_t ostride, const int QH) {
  const size_t SB = QH ? 2816 : 2304, QS = QH ? 768 : 256;
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i m6 = _mm512_set1_epi8(0x3f), m30 = _mm512_set1_epi8(0x30), mw = _mm512_set1_epi32(0x00ff00ff);
  __m512 acc[8];
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + SB * i;
    const int8_t *y[8];
    for (int t = 0; t < T; t++) y[t] = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs;
    for (int l = 0; l < (int)(SB / 64); l++) _mm_prefetch((const char *)o + 2 * SB + 64 * l, _MM_HINT_T0);
    const __m512i A = _mm512_loadu_si512((const void *)(o + 64)), C = _mm512_loadu_si512((const void *)(o + 192));
    const __m512i s0 = _mm512_and_si512(A, m6);
    const __m512i s1 = _mm512_or_si512(_mm512_and_si512(C, m4), _mm512_and_si512(_mm512_srli_epi32(A, 2), m30));
    __m512i sumi[8];
    for (int t = 0; t < T; t++) sumi[t] = _mm512_setzero_si512();
    for (int p = 0; p < 4; p++) {
      const __m512i sv = p < 2 ? s0 : s1;
      const uint8_t *qp = o + QS + 512 * p;
      const __m512i sc_lo = byte_lane(sv, 2 * (p & 1)), sc_hi = byte_lane(sv, 2 * (p & 1) + 1);
      if (T <= 4) {
        q45_K_pair(qp, o + 256, y, 64 * p, T, QH, p, sc_lo, sc_hi, sumi);
      } else { /* 8 accumulators a pass: low nibbles, then high */
        q45_K_sub(qp, o + 256, y, 64 * p, T, 0, QH, 2 * p, sc_lo, sumi);
        q45_K_sub(qp, o + 256, y, 64 * p + 32, T, 1, QH, 2 * p + 1, sc_hi, sumi);
      }
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
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      int32_t bs[8];
      for (int j = 0; j < 8; j++) bs[j] = yb->bsums[2 * j] + yb->bsums[2 * j + 1];
#define PAIR(a, b) _mm512_set1_epi32((int32_t)((uint32_t)(uint16_t)(a) | ((uint32_t)(uint16_t)(b) << 16)))
      __m512i summ = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mA, PAIR(bs[0], bs[2]));
      summ = _mm512_dpwssd_epi32(summ, mB, PAIR(bs[1], bs[3]));
      summ = _mm512_dpwssd_epi32(summ, mC, PAIR(bs[4], bs[6]));
      summ = _mm512_dpwssd_epi32(summ, mD, PAIR(bs[5], bs[7]));
#undef PAIR
      const __m512 dy = _mm512_set1_ps(yb->d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_mul_ps(d, dy), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(dm, dy), acc[t]);
    }
  }
  for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, acc[t]);
}

/* tiles of 8 tokens, then one tile of the remaining 1–7 (T is a constant in every instantiation) */
#define GEMM_R16(NAME, TILE, ...)                                                                          \
  AVX512 static void NAME(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out, \
                          int64_t ostride) {                                                                      \
    const int64_t nsb = cols / QK_K;                                                                              \
    const uint8_t *a = act;                                                                                       \
    int64_t t = 0;                                                                                                \
    for (; t + 8 <= ntok; t += 8) TILE(nsb, wg, a + t * act_row, act_row, 8, out + t * ostride, ostride __VA_ARGS__); \
    switch (ntok - t) {                                                                                           \
      case 7: TILE(nsb, wg, a + t * act_row, act_row, 7, out + t * ostride, ostride __VA_ARGS__); break;          \
      case 6: TILE(nsb, wg, a + t * act_row, act_row, 6, out + t * ostride, ostride __VA_ARGS__); break;          \
      case 5: TILE(nsb, wg, a + t * act_row, act_row, 5, out + t * ostride, ostride __VA_ARGS__); break;          \
      case 4: TILE(nsb, wg, a + t * act_row, act_row, 4, out + t * ostride, ostride __VA_ARGS__); break;          \
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
  __m512 acc[8];
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + (size_t)3360 * i;
    const int8_t *y[8];
    for (int t = 0; t < T; t++) y[t] = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs;
    __m512i sumi[8];
    for (int t = 0; t < T; t++) sumi[t] = _mm512_setzero_si512();
    for (int l = 0; l < 53; l++) _mm_prefetch((const char *)o + 2 * 3360 + 64 * l, _MM_HINT_T0);
    for (int h = 0; h < 2; h++) {
      for (int m = 0; m < 4; m++) {
        for (int kh = 0; kh < 2; kh++) {
          const int j = 8 * h + 2 * m + kh; /* 16-element sub-block */
          const __m512i S = _mm512_loadu_si512((const void *)(o + 32 + 64 * (j >> 2)));
          const __m512i pr = (j & 2) ? _mm512_srai_epi16(S, 8) : _mm512_srai_epi16(_mm512_slli_epi16(S, 8), 8);
          const __m512i sc = (j & 1) ? _mm512_srai_epi32(pr, 16) : _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16);
          __m512i a[8];
          for (int t = 0; t < T; t++) a[t] = _mm512_setzero_si512();
          for (int k = 4 * kh; k < 4 * kh + 4; k++) {
            const __m512i L = _mm512_loadu_si512((const void *)(o + 288 + 64 * (16 * h + 8 * (m & 1) + k)));
            const __m512i H = _mm512_loadu_si512((const void *)(o + 2336 + 64 * (8 * h + k)));
            const __m512i lq = (m & 2) ? _mm512_and_si512(_mm512_srli_epi16(L, 4), m4) : _mm512_and_si512(L, m4);
            /* high bits 2m, 2m+1 of H to bits 4, 5 */
            const __m512i hq = m < 2 ? _mm512_slli_epi16(H, 4 - 2 * m) : _mm512_srli_epi16(H, 2 * m - 4);
            const __m512i q = _mm512_or_si512(lq, _mm512_and_si512(hq, m30));
            for (int t = 0; t < T; t++) a[t] = dpbusd_bcast(a[t], q, y[t] + 128 * h + 32 * m + 4 * k);
          }
          for (int t = 0; t < T; t++) sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(a[t], sc));
        }
      }
    }
    /* Σ_j s_j · bsums_j (the −32 offset of every 6-bit value), int16 pairs × broadcast bsum pairs */
    __m512i summ[8];
    for (int t = 0; t < T; t++) summ[t] = _mm512_setzero_si512();
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
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
    for (int t = 0; t < T; t++) {
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      const __m512i s = _mm512_sub_epi32(sumi[t], _mm512_slli_epi32(summ[t], 5));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_set1_ps(yb->d)), acc[t]);
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
