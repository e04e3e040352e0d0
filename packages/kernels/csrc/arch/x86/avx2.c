/*
 * AVX2 kernels for the 16-row interleaved layouts (csrc/repack.c), for x86 CPUs without AVX-512 VNNI
 * (registered for the plan's AVX2 and AVX-512-without-VNNI levels). Same layout and same arithmetic as
 * arch/x86/avx512.c, on 256-bit registers: a 64-byte group (4 bytes of each of 16 rows) is two halves
 * of 8 rows. Without VPDPBUSD, the unsigned weight bytes times the broadcast signed activations go
 * through VPMADDUBSW (pairs summed into int16, exact for these ranges: see below) and VPMADDWD (int16
 * pairs into int32 row sums).
 *
 * Q8_0 (stored q + 128 for VNNI) goes through VPMADDUBSW with the sign trick instead (see q8_0_tile).
 *
 * Every integer sum is exact, and each (row, token) result is one fused multiply-add per (super-)block
 * in block order — the same operations as the AVX-512 kernel — so results equal that kernel's bit for
 * bit and a token in a batch gets exactly its single-token result, whichever tile shape computed it:
 * one token runs both 8-row halves in one pass (the group's bytes stream from memory once). Batches
 * run one half at a time: the K-quants in tiles of 4 tokens (16 ymm registers: 8 int16 partials, the
 * rest waits in L1), Q8_0 in tiles of 8 tokens (8 int32 block sums in registers), then one tile of 4
 * and the 1–3 left over.
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
/* Prefetch distance of the weight stream (decode is memory-bound): Q8_0 bytes ahead (16 blocks), K-quants
 * super-blocks ahead; measured on a 32768×3072 decode, better than 4–8 blocks / 1 or 6 super-blocks */
#define Q8PF 8192
#define KPF 3
/* Keeps an accumulator in a register at this point: without it GCC reassociates the int16 sums into a
 * tree, keeping every product live at once and spilling them (16 ymm registers) */
#define KEEP(v) __asm__("" : "+x"(v))


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
 * Q4_K (QH = 0) and Q5_K (QH = 1) super-blocks for NH halves of the 16-row group (8 rows each,
 * starting at half H0) × T tokens (T·NH ≤ 4: a tile of 4 tokens on one half, or one token on both
 * halves, which streams the group once for decode).
 * int16 ranges: a VPMADDUBSW pair is at most 2·31·128 = 7936 in magnitude (Q5_K; 3840 for Q4_K), so
 * 4 steps of a sub-block fit in int16 (31744) before VPMADDWD with the sub-block scale in both int16
 * halves gives scale·Σ exactly in int32. Registers: AVX2 has 16, so the int16 partials are summed
 * over 4 steps (8 registers at T·NH = 4) and the per-token int32/float sums wait in L1 meanwhile.
 */
AVX2 static INLINE void q45_K_tile(int64_t nsb, const uint8_t *w, const int H0, const int NH, const uint8_t *act,
                                   size_t act_row, const int T, float *out, int64_t ostride, const int QH) {
  const size_t SB = QH ? 2816 : 2304, QS = QH ? 768 : 256;
  const __m256i m4 = _mm256_set1_epi8(0x0f), m10 = _mm256_set1_epi8(0x10);
  const __m256i m6 = _mm256_set1_epi8(0x3f), m30 = _mm256_set1_epi8(0x30), mw = _mm256_set1_epi32(0x00ff00ff);
  __m256 acc[2][4];
  for (int hh = 0; hh < NH; hh++)
    for (int t = 0; t < T; t++) acc[hh][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + SB * i;
    __m256i s0[2], s1[2], sumi[2][4];
    for (int hh = 0; hh < NH; hh++) {
      const int h = H0 + hh;
      const __m256i A = _mm256_loadu_si256((const __m256i *)(o + 64 + 32 * h));
      const __m256i C = _mm256_loadu_si256((const __m256i *)(o + 192 + 32 * h));
      s0[hh] = _mm256_and_si256(A, m6);
      s1[hh] = _mm256_or_si256(_mm256_and_si256(C, m4), _mm256_and_si256(_mm256_srli_epi32(A, 2), m30));
      for (int t = 0; t < T; t++) sumi[hh][t] = _mm256_setzero_si256();
    }
    if (QH)
      for (int l = 0; l < 8; l++) _mm_prefetch((const char *)o + 256 + KPF * SB + 64 * l, _MM_HINT_T0);
    for (int p = 0; p < 4; p++) {
      const uint8_t *qp = o + QS + 512 * p;
      for (int l = 0; l < 8; l++) _mm_prefetch((const char *)qp + KPF * SB + 64 * l, _MM_HINT_T0);
      for (int kk = 0; kk < 8; kk += 4) {
        __m256i lo16[2][4], hi16[2][4];
        for (int hh = 0; hh < NH; hh++)
          for (int t = 0; t < T; t++) lo16[hh][t] = hi16[hh][t] = _mm256_setzero_si256();
        for (int k = kk; k < kk + 4; k++) {
          for (int hh = 0; hh < NH; hh++) {
            const int h = H0 + hh;
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(qp + 64 * k + 32 * h));
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
              lo16[hh][t] = _mm256_add_epi16(lo16[hh][t], _mm256_maddubs_epi16(lo, bcast4(yq)));
              hi16[hh][t] = _mm256_add_epi16(hi16[hh][t], _mm256_maddubs_epi16(hi, bcast4(yq + 32)));
              KEEP(lo16[hh][t]);
              KEEP(hi16[hh][t]);
            }
          }
        }
        for (int hh = 0; hh < NH; hh++) {
          const __m256i sv = p < 2 ? s0[hh] : s1[hh];
          const __m256i sc_lo = scale16(sv, 2 * (p & 1)), sc_hi = scale16(sv, 2 * (p & 1) + 1);
          for (int t = 0; t < T; t++)
            sumi[hh][t] = _mm256_add_epi32(sumi[hh][t], _mm256_add_epi32(_mm256_madd_epi16(lo16[hh][t], sc_lo),
                                                                         _mm256_madd_epi16(hi16[hh][t], sc_hi)));
        }
      }
    }
    for (int hh = 0; hh < NH; hh++) {
      const int h = H0 + hh;
      /* mins: Σ_j m_j · (Σ of the token's 32 activations of sub-block j), int16 pairs × bsum pairs */
      const __m256i B = _mm256_loadu_si256((const __m256i *)(o + 128 + 32 * h));
      const __m256i C = _mm256_loadu_si256((const __m256i *)(o + 192 + 32 * h));
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
        acc[hh][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[hh][t]), _mm256_mul_ps(d, dy), acc[hh][t]);
        acc[hh][t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dm, dy), acc[hh][t]);
      }
    }
  }
  for (int hh = 0; hh < NH; hh++)
    for (int t = 0; t < T; t++)
      _mm256_storeu_ps(out + t * ostride + 8 * (H0 + hh), acc[hh][t]);
}

/* ---- Q6_K: NH halves from H0 × T tokens (T·NH ≤ 4); same sums as arch/x86/avx512.c's q6_K_tile ---- */
AVX2 static INLINE void q6_K_tile(int64_t nsb, const uint8_t *w, const int H0, const int NH, const uint8_t *act,
                                  size_t act_row, const int T, float *out, int64_t ostride) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[2][4];
  _Pragma("GCC unroll 16")
  for (int hh = 0; hh < NH; hh++)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < T; t++) acc[hh][t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nsb; i++) {
    const uint8_t *o = w + (size_t)3360 * i;
    /* starts at −32·Σ_j s_j · bsums_j (the −32 offset of every 6-bit value) */
    __m256i sumi[2][4];
    _Pragma("GCC unroll 16")
    for (int hh = 0; hh < NH; hh++) {
      const int h = H0 + hh;
      _Pragma("GCC unroll 16")
      for (int t = 0; t < T; t++) sumi[hh][t] = _mm256_setzero_si256();
      _Pragma("GCC unroll 16")
      for (int v = 0; v < 4; v++) {
        const __m256i S = _mm256_loadu_si256((const __m256i *)(o + 32 + 64 * v + 32 * h));
        const __m256i p01 = _mm256_srai_epi16(_mm256_slli_epi16(S, 8), 8), p23 = _mm256_srai_epi16(S, 8);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < T; t++) {
          const int16_t *bs = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->bsums + 4 * v;
          int32_t b01, b23;
          memcpy(&b01, bs, 4);
          memcpy(&b23, bs + 2, 4);
          sumi[hh][t] = _mm256_add_epi32(sumi[hh][t], _mm256_madd_epi16(p01, _mm256_set1_epi32(b01)));
          sumi[hh][t] = _mm256_add_epi32(sumi[hh][t], _mm256_madd_epi16(p23, _mm256_set1_epi32(b23)));
        }
      }
      _Pragma("GCC unroll 16")
      for (int t = 0; t < T; t++) sumi[hh][t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sumi[hh][t], 5));
    }
    _Pragma("GCC unroll 16")
    for (int l = 0; l < 53; l++) _mm_prefetch((const char *)o + KPF * 3360 + 64 * l, _MM_HINT_T0);
    _Pragma("GCC unroll 16")
    for (int g = 0; g < 2; g++) {
      _Pragma("GCC unroll 16")
      for (int m = 0; m < 4; m++) {
        _Pragma("GCC unroll 16")
        for (int kh = 0; kh < 2; kh++) {
          const int j = 8 * g + 2 * m + kh; /* 16-element sub-block */
          /* 4 steps of pairs ≤ 2·63·128 = 16128: two steps per int16 partial */
          _Pragma("GCC unroll 16")
          for (int k = 4 * kh; k < 4 * kh + 4; k += 2) {
            __m256i a16[2][4];
            _Pragma("GCC unroll 16")
            for (int hh = 0; hh < NH; hh++)
              _Pragma("GCC unroll 16")
              for (int t = 0; t < T; t++) a16[hh][t] = _mm256_setzero_si256();
            _Pragma("GCC unroll 16")
            for (int kk = k; kk < k + 2; kk++) {
              _Pragma("GCC unroll 16")
              for (int hh = 0; hh < NH; hh++) {
                const int h = H0 + hh;
                const __m256i L =
                    _mm256_loadu_si256((const __m256i *)(o + 288 + 64 * (16 * g + 8 * (m & 1) + kk) + 32 * h));
                const __m256i H = _mm256_loadu_si256((const __m256i *)(o + 2336 + 64 * (8 * g + kk) + 32 * h));
                const __m256i lq = (m & 2) ? _mm256_and_si256(_mm256_srli_epi16(L, 4), m4) : _mm256_and_si256(L, m4);
                const __m256i hq = m < 2 ? _mm256_slli_epi16(H, 4 - 2 * m) : _mm256_srli_epi16(H, 2 * m - 4);
                const __m256i q = _mm256_or_si256(lq, _mm256_and_si256(hq, m30));
                _Pragma("GCC unroll 16")
                for (int t = 0; t < T; t++) {
                  const int8_t *yq = ((const blk_q8_K *)(act + (size_t)t * act_row) + i)->qs + 128 * g + 32 * m + 4 * kk;
                  a16[hh][t] = _mm256_add_epi16(a16[hh][t], _mm256_maddubs_epi16(q, bcast4(yq)));
                  KEEP(a16[hh][t]);
                }
              }
            }
            _Pragma("GCC unroll 16")
            for (int hh = 0; hh < NH; hh++) {
              const int h = H0 + hh;
              const __m256i S = _mm256_loadu_si256((const __m256i *)(o + 32 + 64 * (j >> 2) + 32 * h));
              const __m256i pr = (j & 2) ? _mm256_srai_epi16(S, 8) : _mm256_srai_epi16(_mm256_slli_epi16(S, 8), 8);
              /* the sub-block's int8 scale in both int16 halves of each row's lane */
              const __m256i s16 = (j & 1) ? _mm256_srai_epi32(pr, 16) : _mm256_srai_epi32(_mm256_slli_epi32(pr, 16), 16);
              const __m256i sc = _mm256_or_si256(_mm256_and_si256(s16, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(s16, 16));
              _Pragma("GCC unroll 16")
              for (int t = 0; t < T; t++) sumi[hh][t] = _mm256_add_epi32(sumi[hh][t], _mm256_madd_epi16(a16[hh][t], sc));
            }
          }
        }
      }
    }
    _Pragma("GCC unroll 16")
    for (int hh = 0; hh < NH; hh++) {
      const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(o + 16 * (H0 + hh))));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < T; t++) {
        const blk_q8_K *y = (const blk_q8_K *)(act + (size_t)t * act_row) + i;
        acc[hh][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[hh][t]), _mm256_mul_ps(d, _mm256_set1_ps(y->d)), acc[hh][t]);
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int hh = 0; hh < NH; hh++)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * ostride + 8 * (H0 + hh), acc[hh][t]);
}

/*
 * ---- Q8_0 R16 × q8_0s activations: NH halves from H0 × T tokens (T·NH ≤ 8) ----
 * The layout stores q + 128 (VNNI's unsigned operand); VPMADDUBSW's int16 pairs could overflow with
 * it (2·255·127), so the bytes are flipped back to signed q and multiplied as |q| × (y with q's sign)
 * (pairs ≤ 2·128·127 = 32512, exact), then VPMADDWD by 1 sums each row's two pairs into int32. The
 * block's integer sum is the same Σ q·y as the VNNI kernel's Σ(q+128)·y − 128·Σy, followed by the
 * same one fused multiply-add per block, so results equal that kernel's bit for bit.
 * Per 32 multiply-accumulates (8 rows × 4 bytes × one token) that is broadcast, VPSIGNB, VPMADDUBSW,
 * VPMADDWD, VPADDD; the |q| / signed-q preparation (VPXOR, VPABSB) is shared by the tile's T tokens,
 * which is why batches use T = 8 (8 int32 sums in registers; the float sums wait in L1): 3–7% more
 * per thread than T = 4 on Zen 5. The rest is that fixed mix (two of the four ALU operations per 32
 * products need the two multiply ports; an int16 VPMADDWD-only variant and column chunking for L1
 * measured no faster). PF: prefetch the weight stream ahead (decode, and a batch's first token tile,
 * which brings the group's weights in; later tiles find them in L1/L2).
 */
AVX2 static INLINE void q8_0_tile(int64_t nb, const uint8_t *wq, const uint16_t *ws, const int H0, const int NH,
                                  const uint8_t *act, size_t act_row, const int T, float *out, int64_t ostride,
                                  const int PF) {
  const __m256i m80 = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
  __m256 acc[2][8];
  _Pragma("GCC unroll 16")
  for (int hh = 0; hh < NH; hh++)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < T; t++) acc[hh][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *q = wq + 512 * b;
    if (PF)
      _Pragma("GCC unroll 16")
      for (int l = 0; l < 8; l++) _mm_prefetch((const char *)q + Q8PF + 64 * l, _MM_HINT_T0);
    __m256i sumi[2][8];
    _Pragma("GCC unroll 16")
    for (int hh = 0; hh < NH; hh++)
      _Pragma("GCC unroll 16")
      for (int t = 0; t < T; t++) sumi[hh][t] = _mm256_setzero_si256();
    _Pragma("GCC unroll 16")
    for (int k = 0; k < 8; k++) {
      _Pragma("GCC unroll 16")
      for (int hh = 0; hh < NH; hh++) {
        const __m256i sw = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 64 * k + 32 * (H0 + hh))), m80);
        const __m256i aw = _mm256_abs_epi8(sw);
        _Pragma("GCC unroll 16")
        for (int t = 0; t < T; t++) {
          const int8_t *yq = ((const blk_q8_0s *)(act + (size_t)t * act_row) + b)->qs + 4 * k;
          const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(yq), sw));
          sumi[hh][t] = _mm256_add_epi32(sumi[hh][t], _mm256_madd_epi16(p, ones));
          KEEP(sumi[hh][t]);
        }
      }
    }
    _Pragma("GCC unroll 16")
    for (int hh = 0; hh < NH; hh++) {
      const __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ws + 16 * b + 8 * (H0 + hh))));
      _Pragma("GCC unroll 16")
      for (int t = 0; t < T; t++) {
        const blk_q8_0s *y = (const blk_q8_0s *)(act + (size_t)t * act_row) + b;
        acc[hh][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[hh][t]), _mm256_mul_ps(wd, _mm256_set1_ps(y->d)), acc[hh][t]);
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int hh = 0; hh < NH; hh++)
    _Pragma("GCC unroll 16")
    for (int t = 0; t < T; t++) _mm256_storeu_ps(out + t * ostride + 8 * (H0 + hh), acc[hh][t]);
}

/* K-quants: one token: both halves in one pass (the group streams once); more: tiles of 4 tokens per half. */
#define TILES(TILE)                                                                                   \
  {                                                                                                          \
    const uint8_t *a = act;                                                                                  \
    if (ntok == 1) {                                                                                         \
      TILE(0, 2, a, act_row, 1, out, ostride);                                                \
      return;                                                                                                \
    }                                                                                                        \
    for (int h = 0; h < 2; h++) {                                                                            \
      int64_t t = 0;                                                                                         \
      for (; t + 4 <= ntok; t += 4) TILE(h, 1, a + t * act_row, act_row, 4, out + t * ostride, ostride); \
      switch (ntok - t) {                                                                                    \
        case 3: TILE(h, 1, a + t * act_row, act_row, 3, out + t * ostride, ostride); break;   \
        case 2: TILE(h, 1, a + t * act_row, act_row, 2, out + t * ostride, ostride); break;   \
        case 1: TILE(h, 1, a + t * act_row, act_row, 1, out + t * ostride, ostride); break;   \
        default: break;                                                                                      \
      }                                                                                                      \
    }                                                                                                        \
  }

AVX2 static void gemm_q4_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  #define TILE(h0, nh, a, ar, T, o, os) q45_K_tile(nsb, wg, h0, nh, a, ar, T, o, os, 0)
  TILES(TILE)
#undef TILE
}

AVX2 static void gemm_q5_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  #define TILE(h0, nh, a, ar, T, o, os) q45_K_tile(nsb, wg, h0, nh, a, ar, T, o, os, 1)
  TILES(TILE)
#undef TILE
}

AVX2 static void gemm_q6_K_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nsb = cols / QK_K;
  #define TILE(h0, nh, a, ar, T, o, os) q6_K_tile(nsb, wg, h0, nh, a, ar, T, o, os)
  TILES(TILE)
#undef TILE
}

AVX2 static void gemm_q8_0_r16(int64_t cols, const void *wg, const void *act, size_t act_row, int64_t ntok, float *out,
                               int64_t ostride) {
  const int64_t nb = cols / QB;
  const uint8_t *wq = wg;
  const uint16_t *ws = (const uint16_t *)(wq + (size_t)nb * 512);
  /* one token: both halves in one pass (the group streams once); more: per half, tiles of 8 tokens,
   * then one of 4, then the rest (the first tile of each half prefetches the weight stream) */
  if (ntok == 1) {
    q8_0_tile(nb, wq, ws, 0, 2, act, act_row, 1, out, ostride, 1);
    return;
  }
  const uint8_t *a = act;
  for (int h = 0; h < 2; h++) {
    int64_t t = 0;
    for (; t + 8 <= ntok; t += 8) q8_0_tile(nb, wq, ws, h, 1, a + t * act_row, act_row, 8, out + t * ostride, ostride, t == 0);
    if (t + 4 <= ntok) {
      q8_0_tile(nb, wq, ws, h, 1, a + t * act_row, act_row, 4, out + t * ostride, ostride, t == 0);
      t += 4;
    }
    switch (ntok - t) {
      case 3: q8_0_tile(nb, wq, ws, h, 1, a + t * act_row, act_row, 3, out + t * ostride, ostride, t == 0); break;
      case 2: q8_0_tile(nb, wq, ws, h, 1, a + t * act_row, act_row, 2, out + t * ostride, ostride, t == 0); break;
      case 1: q8_0_tile(nb, wq, ws, h, 1, a + t * act_row, act_row, 1, out + t * ostride, ostride, t == 0); break;
      default: break;
    }
  }
}

void qk_plan_register_avx2(qk_type_desc *types) {
  if (!qk_cpu_has_avx2()) return;
  const int levels[] = { QK_ISA_AVX2, QK_ISA_AVX512 };
  _Pragma("GCC unroll 16")
  for (int i = 0; i < 2; i++) {
    types[QK_Q4_K].r16_gemm[levels[i]] = gemm_q4_K_r16;
    types[QK_Q5_K].r16_gemm[levels[i]] = gemm_q5_K_r16;
    types[QK_Q6_K].r16_gemm[levels[i]] = gemm_q6_K_r16;
    types[QK_Q8_0].r16_gemm[levels[i]] = gemm_q8_0_r16;
  }
}

#else
void qk_plan_register_avx2(qk_type_desc *types) { (void)types; }
#endif
