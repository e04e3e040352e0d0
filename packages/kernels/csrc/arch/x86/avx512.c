/*
 * AVX-512 VNNI kernels for the 16-row interleaved layouts (csrc/repack.c), compiled with a target
 * attribute and registered in the plan's descriptors only when CPUID reports AVX-512 F/BW/VL/DQ and
 * VNNI. One 64-byte load holds 4 bytes of each of 16 rows; VPDPBUSD multiplies them by a broadcast
 * 4-byte group of one token's activations and accumulates 16 row sums, so a row group's weights are
 * unpacked once per tile of up to 8 tokens and no horizontal sums are needed.
 *
 * The K-quant tiles are written so GCC emits them as intended: each sub-block is a call with constant
 * indices (immediate shifts, unrolled loops), small tiles split a sub-block's dot products over several
 * accumulators (VPDPBUSD has a 4-cycle latency and two issue a cycle on Zen 5), and an empty asm keeps
 * each running integer sum a sequential chain (reassociated into a tree, every sub-block's product is
 * live at once and the tile spills). 8-token tiles reach ~300 GMAC/s per core from cache on Zen 5.
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

/* super-blocks ahead that the K-quant tiles prefetch (4 or 8 measured no better on Zen 5) */
#define KQ_PREFETCH_AHEAD 2

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
/* acc += u8 weights · the 4 signed bytes at p broadcast to every lane (VPDPBUSD with an embedded
 * broadcast: GCC does not fold _mm512_set1_epi32 of a load into it, and the separate broadcasts cost
 * as many instructions as the dot products) */
AVX512 static INLINE __m512i dpbusd_bcast(__m512i acc, __m512i w, const int8_t *p) {
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)p));
  return acc;
}

/* the sum of a token's NA (1, 2 or 4) partial dot products */
AVX512 static INLINE __m512i sum_chains(__m512i (*a)[8], const int NA, int t) {
  if (NA == 1) return a[0][t];
  if (NA == 2) return _mm512_add_epi32(a[0][t], a[1][t]);
  return _mm512_add_epi32(_mm512_add_epi32(a[0][t], a[1][t]), _mm512_add_epi32(a[2][t], a[3][t]));
}

/* acc += the int16 pairs of w · the int16 pair at p broadcast to every lane (VPDPWSSD, embedded broadcast) */
AVX512 static INLINE __m512i dpwssd_bcast(__m512i acc, __m512i w, const int32_t *p) {
  __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*p));
  return acc;
}

/* NJ (1 or 2) 32-value sub-blocks j0.. of a Q4_K/Q5_K super-block against T tokens: the exact integer
 * dot products of their 4-bit values (low nibbles of vectors 8(j/2) + k when j is even, high nibbles
 * when odd; for Q5_K, bit j of the qh vector k moved to bit 4), times each sub-block's 6-bit scale
 * into sumi. NJ = 2 (an even and odd pair) unpacks both from the same loads, for small tiles. j0, NJ,
 * T and QH are constants at every call: the shifts are immediates and the loops unroll. With 4 tokens
 * or fewer, k alternates between NA partial sums (at least 4 independent chains of VPDPBUSD). */
AVX512 static INLINE void q45_K_sub(const uint8_t *o, size_t qs, const int8_t *const *y, const int T, const int QH,
                                    const int j0, const int NJ, __m512i sv, __m512i *sumi) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m10 = _mm512_set1_epi8(0x10);
  const int NA = T * NJ == 1 ? 4 : T * NJ <= 4 ? 2 : 1;
  __m512i a[2][4][8];
  _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
    __m512i wv = _mm512_loadu_si512((const void *)(o + qs + 64 * (8 * (j0 >> 1) + k)));
    __m512i hb = QH ? _mm512_loadu_si512((const void *)(o + 256 + 64 * k)) : _mm512_setzero_si512();
    if (NJ == 2) __asm__("" : "+v"(wv), "+v"(hb)); /* one load each for both sub-blocks (GCC would fold two) */
    const int s = k % NA, first = k < NA;
    _Pragma("GCC unroll 2") for (int n = 0; n < NJ; n++) {
      const int j = j0 + n;
      __m512i q = (j & 1) ? _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4) : _mm512_and_si512(wv, m4);
      if (QH) {
        const __m512i hs = j <= 4 ? _mm512_slli_epi16(hb, 4 - j) : _mm512_srli_epi16(hb, j - 4);
        q = _mm512_ternarylogic_epi32(q, hs, m10, 0xf8); /* q | (hs & m10) */
      }
      _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)
        a[n][s][t] = dpbusd_bcast(first ? _mm512_setzero_si512() : a[n][s][t], q, y[t] + 32 * j + 4 * k);
    }
  }
  _Pragma("GCC unroll 2") for (int n = 0; n < NJ; n++) {
    const int b = (j0 + n) & 3; /* the scale's byte in its lane of sv */
    const __m512i sc = b == 3 ? _mm512_srli_epi32(sv, 24)
                              : _mm512_and_si512(b ? _mm512_srli_epi32(sv, 8 * b) : sv, _mm512_set1_epi32(0xff));
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
      sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(sum_chains(a[n], NA, t), sc));
      __asm__("" : "+v"(sumi[t])); /* keeps GCC from reassociating the 8 sums into a tree (all live at once) */
    }
  }
}

/* Q4_K (QH = 0: 2304-byte super-blocks, nibbles at 256) and Q5_K (QH = 1: 2816 bytes, high bits at
 * 256, nibbles at 768), T ≤ 8 tokens: a super-block's weights are unpacked once per tile; the float
 * sums stay in registers. */
AVX512 static INLINE void q45_K_tile(int64_t nsb, const uint8_t *w, const uint8_t *act, size_t act_row, const int T,
                                     float *out, int64_t ostride, const int QH) {
  const size_t SB = QH ? 2816 : 2304, QS = QH ? 768 : 256;
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i m6 = _mm512_set1_epi8(0x3f), m30 = _mm512_set1_epi8(0x30), mw = _mm512_set1_epi32(0x00ff00ff);
  /* bsum pairs (b0,b2) (b1,b3) (b4,b6) (b5,b7) of the 8 sums of 32 activations, as int16 pairs */
  const __m256i pairs = _mm256_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15,
                                         0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15);
  __m512 acc[8];
  _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + SB * i;
    const int8_t *y[8];
    int32_t bsp[8][4] __attribute__((aligned(16)));
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      y[t] = yb->qs;
      /* 16 sums of 16 → 8 sums of 32 (int32, |s| ≤ 4064) → int16 → the pairs above */
      const __m256i s32 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)yb->bsums), _mm256_set1_epi16(1));
      const __m256i s16 = _mm256_shuffle_epi8(_mm256_packs_epi32(s32, s32), pairs);
      _mm_store_si128((__m128i *)bsp[t],
                      _mm_unpacklo_epi64(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1)));
    }
    for (int l = 0; l < (int)(SB / 64); l++)
      _mm_prefetch((const char *)o + KQ_PREFETCH_AHEAD * SB + 64 * l, _MM_HINT_T0);
    const __m512i A = _mm512_loadu_si512((const void *)(o + 64)), C = _mm512_loadu_si512((const void *)(o + 192));
    const __m512i s0 = _mm512_and_si512(A, m6);
    const __m512i s1 = _mm512_or_si512(_mm512_and_si512(C, m4), _mm512_and_si512(_mm512_srli_epi32(A, 2), m30));
    __m512i sumi[8];
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sumi[t] = _mm512_setzero_si512();
    if (T <= 2) { /* pairs of sub-blocks from the same loads */
      _Pragma("GCC unroll 4") for (int j = 0; j < 8; j += 2) q45_K_sub(o, QS, y, T, QH, j, 2, j < 4 ? s0 : s1, sumi);
    } else {
      _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) q45_K_sub(o, QS, y, T, QH, j, 1, j < 4 ? s0 : s1, sumi);
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
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      __m512i summ = dpwssd_bcast(_mm512_setzero_si512(), mA, &bsp[t][0]);
      summ = dpwssd_bcast(summ, mB, &bsp[t][1]);
      summ = dpwssd_bcast(summ, mC, &bsp[t][2]);
      summ = dpwssd_bcast(summ, mD, &bsp[t][3]);
      const __m512 dy = _mm512_set1_ps(yb->d);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_mul_ps(d, dy), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(dm, dy), acc[t]);
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, acc[t]);
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
/* acc − the int32 at p broadcast to every lane (an embedded broadcast, as in dpbusd_bcast) */
AVX512 static INLINE __m512i sub_bcast(__m512i acc, const int32_t *p) {
  __asm__("vpsubd %1%{1to16%}, %0, %0" : "+v"(acc) : "m"(*p));
  return acc;
}

/* One 16-value sub-block j = 8h + 2m + kh of a super-block against T tokens: the exact integer dot
 * products of the 6-bit values (low nibbles of ql vector 16h + 8(m&1) + k, or its high nibbles when
 * m ≥ 2, with bits 2m, 2m+1 of qh vector 8h + k as bits 4, 5), minus 32·(the token's sum of those 16
 * activations) for the −32 offset, times the sub-block's int8 scale into sumi. Every argument but the
 * pointers is a constant at each call, so the shifts are immediates and the loops unroll. */
AVX512 static INLINE void q6_K_sub(const uint8_t *o, const int8_t *const *y, const int32_t (*bsx)[16], const int T,
                                   const int h, const int m, const int kh, __m512i *sumi) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const int j = 8 * h + 2 * m + kh, b = (int[]){ 0, 2, 1, 3 }[j & 3]; /* byte of the scale in its lane */
  const __m512i S = _mm512_loadu_si512((const void *)(o + 32 + 64 * (j >> 2)));
  const __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(S, 24 - 8 * b), 24);
  /* small tiles spread k over NA partial sums (one token: 4, up to 4 tokens: 2): independent chains */
  const int NA = T == 1 ? 4 : T <= 4 ? 2 : 1;
  __m512i a[4][8];
  _Pragma("GCC unroll 4") for (int k = 4 * kh; k < 4 * kh + 4; k++) {
    const __m512i L = _mm512_loadu_si512((const void *)(o + 288 + 64 * (16 * h + 8 * (m & 1) + k)));
    const __m512i H = _mm512_loadu_si512((const void *)(o + 2336 + 64 * (8 * h + k)));
    const __m512i lq = (m & 2) ? _mm512_and_si512(_mm512_srli_epi16(L, 4), m4) : _mm512_and_si512(L, m4);
    const __m512i hq = m < 2 ? _mm512_slli_epi16(H, 4 - 2 * m) : _mm512_srli_epi16(H, 2 * m - 4);
    const __m512i q = _mm512_ternarylogic_epi32(lq, hq, m30, 0xf8); /* lq | (hq & m30) */
    const int s = k % NA, first = k - 4 * kh < NA;
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)
      a[s][t] = dpbusd_bcast(first ? _mm512_setzero_si512() : a[s][t], q, y[t] + 128 * h + 32 * m + 4 * k);
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
    const __m512i v = sub_bcast(sum_chains(a, NA, t), &bsx[t][j]);
    sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(v, sc));
    __asm__("" : "+v"(sumi[t])); /* keeps GCC from reassociating the 16 sums into a tree (all live at once) */
  }
}

AVX512 static INLINE void q6_K_tile(int64_t nsb, const uint8_t *w, const uint8_t *act, size_t act_row, const int T,
                                    float *out, int64_t ostride) {
  __m512 acc[8];
  _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + (size_t)3360 * i;
    const int8_t *y[8];
    int32_t bsx[8][16] __attribute__((aligned(64)));
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      y[t] = yb->qs;
      const __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)yb->bsums));
      _mm512_store_si512((void *)bsx[t], _mm512_slli_epi32(bs, 5));
    }
    for (int l = 0; l < 53; l++) _mm_prefetch((const char *)o + KQ_PREFETCH_AHEAD * 3360 + 64 * l, _MM_HINT_T0);
    __m512i sumi[8];
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sumi[t] = _mm512_setzero_si512();
#define Q6S(h, m) q6_K_sub(o, y, bsx, T, h, m, 0, sumi); q6_K_sub(o, y, bsx, T, h, m, 1, sumi);
    Q6S(0, 0) Q6S(0, 1) Q6S(0, 2) Q6S(0, 3) Q6S(1, 0) Q6S(1, 1) Q6S(1, 2) Q6S(1, 3)
#undef Q6S
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)o));
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {
      const blk_q8_K *yb = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[t]), _mm512_mul_ps(d, _mm512_set1_ps(yb->d)), acc[t]);
    }
  }
  _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) _mm512_storeu_ps(out + t * ostride, acc[t]);
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
