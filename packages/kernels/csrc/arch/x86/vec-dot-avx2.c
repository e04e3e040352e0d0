/*
 * AVX2 + FMA + F16C dot products. Compiled with a target attribute so the same binary runs on any
 * x86-64; qk_vtable_avx2() only installs them after CPUID says the features are present.
 */
/* the wasm build's virtual file system does not resolve "..": it passes -I for csrc/ instead */
#if defined(__has_include) && __has_include("../../qk.h")
#include "../../qk.h"
#else
#include "qk.h"
#endif
#if defined(__has_include) && __has_include("../../plan.h")
#include "../../plan.h"
#else
#include "plan.h"
#endif

#if defined(__x86_64__) && !defined(QK_NO_AVX2)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* Software prefetch ~PF_DIST bytes ahead of the weight stream (covers one block's bytes). */
#define PF_DIST 1536
#define PREFETCH_AHEAD(p, bytes)                                                              \
  do {                                                                                        \
    const char *pf_ = (const char *)(p) + PF_DIST;                                            \
    for (int pfo_ = 0; pfo_ < (int)(bytes); pfo_ += 64) _mm_prefetch(pf_ + pfo_, _MM_HINT_T0); \
  } while (0)

AVX2 static inline float hsum8(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

AVX2 static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* 32 signed × 32 signed bytes → 8 int32 partial sums. */
AVX2 static inline __m256i dot_i8(__m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* 32 unsigned (< 128) × 32 signed bytes → 8 int32 partial sums. */
AVX2 static inline __m256i dot_u8(__m256i x, __m256i y) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1));
}

/* 16 nibbles pairs → 32 bytes: low nibbles in bytes 0..15, high nibbles in bytes 16..31. */
AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs) {
  const __m128i t = _mm_loadu_si128((const __m128i *)qs);
  const __m256i v = _mm256_insertf128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* Bits of a 32-bit mask expanded to bytes: 0xFF where bit i is set, else 0. */
AVX2 static inline __m256i bits_to_bytes(uint32_t m) {
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), shuf);
  const __m256i bit = _mm256_set1_epi64x((long long)0x7fbfdfeff7fbfdfeULL);
  v = _mm256_or_si256(v, bit);
  return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

AVX2 static float vd_f32(int64_t n, const void *w, const void *a) {
  const float *x = w, *y = a;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    PREFETCH_AHEAD(x + i, 128);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
  float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

AVX2 static inline __m256 ld_h8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
AVX2 static inline __m256 ld_bf8(const uint8_t *p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

AVX2 static float vd_f16(int64_t n, const void *w, const void *a) {
  const uint8_t *x = w;
  const float *y = a;
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    PREFETCH_AHEAD(x + 2 * i, 64);
    s0 = _mm256_fmadd_ps(ld_h8(x + 2 * i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 16), _mm256_loadu_ps(y + i + 8), s1);
    s2 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 32), _mm256_loadu_ps(y + i + 16), s2);
    s3 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 48), _mm256_loadu_ps(y + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(ld_h8(x + 2 * i), _mm256_loadu_ps(y + i), s0);
  float s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; i++) { uint16_t h; memcpy(&h, x + 2 * i, 2); s += qk_h2f(h) * y[i]; }
  return s;
}


/* F16·F16 / BF16·BF16 in llama.cpp's AVX2 order (see dot-half.c for the portable twins). */
static inline float red_hadd8(const float *x) {
  const float t0 = x[0] + x[4], t1 = x[1] + x[5], t2 = x[2] + x[6], t3 = x[3] + x[7];
  return (t0 + t1) + (t2 + t3);
}
static inline float red_movehl8(const float *x) {
  const float t0 = x[4] + x[0], t1 = x[5] + x[1], t2 = x[6] + x[2], t3 = x[7] + x[3];
  return (t0 + t2) + (t1 + t3);
}

AVX2 static float vd_hh(int64_t n, const void *w, const void *a) {
  const uint8_t *x = w, *y = a;
  const int64_t np = n & ~(int64_t)31;
  double sumf = 0;
  if (np > 0) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = 0; i < np; i += 32) {
      PREFETCH_AHEAD(x + 2 * i, 64);
      s0 = _mm256_fmadd_ps(ld_h8(x + 2 * i), ld_h8(y + 2 * i), s0);
      s1 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 16), ld_h8(y + 2 * i + 16), s1);
      s2 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 32), ld_h8(y + 2 * i + 32), s2);
      s3 = _mm256_fmadd_ps(ld_h8(x + 2 * i + 48), ld_h8(y + 2 * i + 48), s3);
    }
    s0 = _mm256_add_ps(s0, s2);
    s1 = _mm256_add_ps(s1, s3);
    s0 = _mm256_add_ps(s0, s1);
    float l[8];
    _mm256_storeu_ps(l, s0);
    sumf = (double)red_hadd8(l);
  }
  const uint16_t *xh = w, *yh = a;
  for (int64_t i = np; i < n; i++) sumf += (double)(qk_h2f(xh[i]) * qk_h2f(yh[i]));
  return (float)sumf;
}

AVX2 static float vd_hh_gemm(int64_t n, const void *w, const void *a) {
  if (n % 8) return vd_hh(n, w, a);
  const uint8_t *x = w, *y = a;
  __m256 c = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    if ((i & 31) == 0) PREFETCH_AHEAD(x + 2 * i, 64);
    c = _mm256_fmadd_ps(ld_h8(x + 2 * i), ld_h8(y + 2 * i), c);
  }
  float l[8];
  _mm256_storeu_ps(l, c);
  return red_movehl8(l);
}

AVX2 static float vd_bb(int64_t n, const void *w, const void *a) {
  const uint8_t *x = w, *y = a;
  int64_t i = 0;
  double sumf = 0;
  if (n >= 32) {
    __m256 c1 = _mm256_setzero_ps(), c2 = c1, c3 = c1, c4 = c1;
    for (; i + 32 <= n; i += 32) {
      PREFETCH_AHEAD(x + 2 * i, 64);
      c1 = _mm256_add_ps(_mm256_mul_ps(ld_bf8(x + 2 * i), ld_bf8(y + 2 * i)), c1);
      c2 = _mm256_add_ps(_mm256_mul_ps(ld_bf8(x + 2 * i + 16), ld_bf8(y + 2 * i + 16)), c2);
      c3 = _mm256_add_ps(_mm256_mul_ps(ld_bf8(x + 2 * i + 32), ld_bf8(y + 2 * i + 32)), c3);
      c4 = _mm256_add_ps(_mm256_mul_ps(ld_bf8(x + 2 * i + 48), ld_bf8(y + 2 * i + 48)), c4);
    }
    c1 = _mm256_add_ps(_mm256_add_ps(c1, c3), _mm256_add_ps(c2, c4));
    float l[8];
    _mm256_storeu_ps(l, c1);
    sumf = (double)red_movehl8(l);
  }
  const uint16_t *xh = w, *yh = a;
  for (; i < n; i++) sumf += (double)(qk_bf2f(xh[i]) * qk_bf2f(yh[i]));
  return (float)sumf;
}

AVX2 static float vd_bb_gemm(int64_t n, const void *w, const void *a) {
  if (n % 8) return vd_bb(n, w, a);
  const uint8_t *x = w, *y = a;
  __m256 c = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    if ((i & 31) == 0) PREFETCH_AHEAD(x + 2 * i, 64);
    c = _mm256_fmadd_ps(ld_bf8(x + 2 * i), ld_bf8(y + 2 * i), c);
  }
  float l[8];
  _mm256_storeu_ps(l, c);
  return red_movehl8(l);
}

/* llama.cpp's f16 flash-attention steps with F16C (ggml_vec_dot_f16 / _mad_f16 / _scale_f16, AVX2). */
AVX2 static float fa_dot_hh(int64_t n, const uint16_t *x, const uint16_t *y) { return vd_hh(n, x, y); }

AVX2 static void fa_mad_hh(int64_t n, uint16_t *y, const uint16_t *x, float v) {
  const __m256 vv = _mm256_set1_ps(v);
  const int64_t np = n & ~(int64_t)31;
  for (int64_t i = 0; i < np; i += 8) {
    const __m256 r = _mm256_fmadd_ps(ld_h8((const uint8_t *)(x + i)), vv, ld_h8((const uint8_t *)(y + i)));
    _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(r, 0));
  }
  for (int64_t i = np; i < n; i++) y[i] = qk_f2h(fmaf(qk_h2f(x[i]), v, qk_h2f(y[i])));
}

AVX2 static void fa_scale_hh(int64_t n, uint16_t *y, float v) {
  const __m256 vv = _mm256_set1_ps(v);
  const int64_t np = n & ~(int64_t)31;
  for (int64_t i = 0; i < np; i += 8)
    _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_mul_ps(ld_h8((const uint8_t *)(y + i)), vv), 0));
  for (int64_t i = np; i < n; i++) y[i] = qk_f2h(qk_h2f(y[i]) * v);
}

/* f32 → f16 → f32 in registers: the value fa_mad_hh / fa_scale_hh would store and reload */
AVX2 static inline __m256 round_h8(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, 0)); }

/* fa_vsum_f16: W 8-float vectors of the accumulator (columns c..c+8W) over every key */
#define FA_VSUM_COLS(W)                                                                                        \
  for (; c + 8 * (W) <= n; c += 8 * (W)) {                                                                     \
    __m256 a[W];                                                                                               \
    for (int l = 0; l < (W); l++) a[l] = ld_h8((const uint8_t *)(acc + c + 8 * l));                            \
    for (int64_t i = 0; i < nkv; i++) {                                                                        \
      const uint8_t *vr = v + (size_t)i * rowb + 2 * c;                                                        \
      if (ms[i] != 1.0f) {                                                                                     \
        const __m256 m = _mm256_set1_ps(ms[i]);                                                                \
        for (int l = 0; l < (W); l++) a[l] = round_h8(_mm256_mul_ps(a[l], m));                                 \
      }                                                                                                        \
      const __m256 s = _mm256_set1_ps(vs[i]);                                                                  \
      for (int l = 0; l < (W); l++) a[l] = round_h8(_mm256_fmadd_ps(ld_h8(vr + 16 * l), s, a[l]));             \
    }                                                                                                          \
    for (int l = 0; l < (W); l++) _mm_storeu_si128((__m128i *)(acc + c + 8 * l), _mm256_cvtps_ph(a[l], 0));    \
  }

AVX2 static void fa_vsum_hh(int64_t n, uint16_t *acc, const uint8_t *v, size_t rowb, int64_t nkv, const float *ms,
                            const float *vs) {
  int64_t c = 0;
  /* head sizes 96 (Phi-3) and 80 in one pass over the keys: the f16 round trip makes each key a
   * ~15-cycle dependency chain per vector, so more independent vectors per pass is nearly free */
  if (n == 96) FA_VSUM_COLS(12)
  if (n == 80) FA_VSUM_COLS(10)
  FA_VSUM_COLS(8)
  FA_VSUM_COLS(4)
  FA_VSUM_COLS(1)
  for (; c < n; c++) { /* fa_mad_hh's and fa_scale_hh's scalar tails */
    for (int64_t i = 0; i < nkv; i++) {
      uint16_t x;
      memcpy(&x, v + (size_t)i * rowb + 2 * c, 2);
      if (ms[i] != 1.0f) acc[c] = qk_f2h(qk_h2f(acc[c]) * ms[i]);
      acc[c] = qk_f2h(fmaf(qk_h2f(x), vs[i], qk_h2f(acc[c])));
    }
  }
}
#undef FA_VSUM_COLS

/*
 * The same two flash-attention steps with 16-float AVX-512 vectors where the plan's ISA is AVX-512:
 * every lane does what an AVX2 lane does, so the results are the same bits.
 * fa_dot: ggml's four 8-lane accumulators s0..s3 of a 32-element step become A = [s0 | s1] and
 * B = [s2 | s3]; A + B = [s0+s2 | s1+s3], whose halves added are s0 + s1 as vd_hh forms it.
 */
#define AVX512H __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
AVX512H static inline __m512 ld_h16(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
AVX512H static inline __m512 round_h16(__m512 x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, 0)); }

AVX512H static float fa_dot_hh512(int64_t n, const uint16_t *xh, const uint16_t *yh) {
  const uint8_t *x = (const uint8_t *)xh, *y = (const uint8_t *)yh;
  const int64_t np = n & ~(int64_t)31;
  double sumf = 0;
  if (np > 0) {
    __m512 a = _mm512_setzero_ps(), b = a;
    for (int64_t i = 0; i < np; i += 32) {
      a = _mm512_fmadd_ps(ld_h16(x + 2 * i), ld_h16(y + 2 * i), a);
      b = _mm512_fmadd_ps(ld_h16(x + 2 * i + 32), ld_h16(y + 2 * i + 32), b);
    }
    a = _mm512_add_ps(a, b);
    const __m256 s = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    float l[8];
    _mm256_storeu_ps(l, s);
    sumf = (double)red_hadd8(l);
  }
  for (int64_t i = np; i < n; i++) sumf += (double)(qk_h2f(xh[i]) * qk_h2f(yh[i]));
  return (float)sumf;
}

/* fa_vsum_f16: W 16-float vectors of the accumulator (columns c..c+16W) over every key */
#define FA_VSUM_COLS16(W)                                                                                      \
  for (; c + 16 * (W) <= n; c += 16 * (W)) {                                                                   \
    __m512 a[W];                                                                                               \
    for (int l = 0; l < (W); l++) a[l] = ld_h16((const uint8_t *)(acc + c + 16 * l));                          \
    for (int64_t i = 0; i < nkv; i++) {                                                                        \
      const uint8_t *vr = v + (size_t)i * rowb + 2 * c;                                                        \
      if (ms[i] != 1.0f) {                                                                                     \
        const __m512 m = _mm512_set1_ps(ms[i]);                                                                \
        for (int l = 0; l < (W); l++) a[l] = round_h16(_mm512_mul_ps(a[l], m));                                \
      }                                                                                                        \
      const __m512 s = _mm512_set1_ps(vs[i]);                                                                  \
      for (int l = 0; l < (W); l++) a[l] = round_h16(_mm512_fmadd_ps(ld_h16(vr + 32 * l), s, a[l]));           \
    }                                                                                                          \
    for (int l = 0; l < (W); l++) _mm256_storeu_si256((__m256i *)(acc + c + 16 * l), _mm512_cvtps_ph(a[l], 0)); \
  }

AVX512H static void fa_vsum_hh512(int64_t n, uint16_t *acc, const uint8_t *v, size_t rowb, int64_t nkv,
                                  const float *ms, const float *vs) {
  int64_t c = 0;
  if (n == 96) FA_VSUM_COLS16(6)
  if (n == 80) FA_VSUM_COLS16(5)
  FA_VSUM_COLS16(8)
  FA_VSUM_COLS16(4)
  FA_VSUM_COLS16(1)
  if (c < n) fa_vsum_hh(n - c, acc + c, v + 2 * c, rowb, nkv, ms, vs); /* the last < 16 columns as AVX2 does them */
}
#undef FA_VSUM_COLS16

AVX2 static float vd_q4_0(int64_t n, const void *w, const void *a) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  __m256 acc = _mm256_setzero_ps();
  const __m256i off = _mm256_set1_epi8(8);
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_0));
    const __m256 d = _mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d));
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(x[i].qs), off);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, load32(y[i].qs))), acc);
  }
  return hsum8(acc);
}

AVX2 static float vd_q4_1(int64_t n, const void *w, const void *a) {
  const blk_q4_1 *x = w;
  const blk_q8_1 *y = a;
  __m256 acc = _mm256_setzero_ps();
  float summ = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_1));
    const __m256 d = _mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d));
    summ += qk_h2f(x[i].m) * qk_h2f(y[i].s);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(unpack_nibbles(x[i].qs), load32(y[i].qs))), acc);
  }
  return hsum8(acc) + summ;
}

AVX2 static float vd_q5_0(int64_t n, const void *w, const void *a) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q5_0));
    const __m256 d = _mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d));
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    /* q - 16 = nibble - (h ? 0 : 16) */
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes(qh), _mm256_set1_epi8(16));
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(x[i].qs), hi);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, load32(y[i].qs))), acc);
  }
  return hsum8(acc);
}

AVX2 static float vd_q5_1(int64_t n, const void *w, const void *a) {
  const blk_q5_1 *x = w;
  const blk_q8_1 *y = a;
  __m256 acc = _mm256_setzero_ps();
  float summ = 0;
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q5_1));
    const __m256 d = _mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d));
    summ += qk_h2f(x[i].m) * qk_h2f(y[i].s);
    uint32_t qh; memcpy(&qh, x[i].qh, 4);
    const __m256i hi = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(16));
    const __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), hi);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, load32(y[i].qs))), acc);
  }
  return hsum8(acc) + summ;
}

AVX2 static float vd_q8_0(int64_t n, const void *w, const void *a) {
  const blk_q8_0 *x = w;
  const blk_q8_0 *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q8_0));
    const __m256 d = _mm256_set1_ps(qk_h2f(x[i].d) * qk_h2f(y[i].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(load32(x[i].qs), load32(y[i].qs))), acc);
  }
  return hsum8(acc);
}

/* Broadcast two int16 scales over the low and high 128-bit lanes... as 16 int16: s0 ×8, s1 ×8. */
AVX2 static inline __m256i scale_pair(int s0, int s1) {
  return _mm256_setr_m128i(_mm_set1_epi16((short)s0), _mm_set1_epi16((short)s1));
}

AVX2 static float vd_q4_K(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  float accm4[4] = { 0, 0, 0, 0 };
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const __m256i qb = load32(q);
      const __m256i lo = _mm256_and_si256(qb, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(a8)), _mm256_set1_epi16(sc[2 * j]));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(a8 + 32)), _mm256_set1_epi16(sc[2 * j + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    const float d = y[i].d * qk_h2f(x[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    /* ggml: 4 lanes of mins·(paired bsums), each fused-added with dmin = −y.d·x.dmin */
    const float dmin = -(y[i].d * qk_h2f(x[i].dmin));
    for (int k = 0; k < 4; k++) {
      const int p = mn[2 * k] * (y[i].bsums[4 * k] + y[i].bsums[4 * k + 1]) +
                    mn[2 * k + 1] * (y[i].bsums[4 * k + 2] + y[i].bsums[4 * k + 3]);
      accm4[k] = fmaf(dmin, (float)p, accm4[k]);
    }
  }
  return hsum8(acc) + ((accm4[0] + accm4[2]) + (accm4[1] + accm4[3]));
}

/*
 * Q4_K as llama.cpp's AVX2 backend multiplies it when the weight has a multiple of 8 rows: the
 * weight is repacked 8 rows at a time (ggml-cpu/repack.cpp, q4_K_8x8_q8_K) and every (row, token)
 * sums exact integers per 64-element pair of sub-blocks, then accumulates them in f32 with fused
 * multiply-adds: groups of 4 tokens (gemm) once per pair of sub-blocks, the remaining tokens (gemv)
 * once per super-block; the mins the same way with dmin; result = acc − acc_min.
 */
AVX2 static inline int32_t hsum_i32_8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

AVX2 static inline void q4k_pair_sums(const blk_q4_K *x, const blk_q8_K *y, const uint8_t sc[8], const uint8_t mn[8],
                                      int32_t isb[4], int32_t imin[4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  for (int j = 0; j < 4; j++) {
    const __m256i qb = load32(x->qs + 32 * j);
    const __m256i lo = _mm256_and_si256(qb, m4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
    const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(y->qs + 64 * j)), _mm256_set1_epi16(sc[2 * j]));
    const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(y->qs + 64 * j + 32)), _mm256_set1_epi16(sc[2 * j + 1]));
    isb[j] = hsum_i32_8(_mm256_add_epi32(p0, p1));
    imin[j] = mn[2 * j] * (y->bsums[4 * j] + y->bsums[4 * j + 1]) + mn[2 * j + 1] * (y->bsums[4 * j + 2] + y->bsums[4 * j + 3]);
  }
}

AVX2 static float vd_q4_K_rp_gemv(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int32_t isb[4], imin[4];
    q4k_pair_sums(x + i, y + i, sc, mn, isb, imin);
    const float ds = qk_h2f(x[i].d) * y[i].d, dm = qk_h2f(x[i].dmin) * y[i].d;
    acc = fmaf((float)(isb[0] + isb[1] + isb[2] + isb[3]), ds, acc);
    accm = fmaf((float)(imin[0] + imin[1] + imin[2] + imin[3]), dm, accm);
  }
  return acc - accm;
}

AVX2 static float vd_q4_K_rp_gemm(int64_t n, const void *w, const void *a) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int32_t isb[4], imin[4];
    q4k_pair_sums(x + i, y + i, sc, mn, isb, imin);
    const float ds = qk_h2f(x[i].d) * y[i].d, dm = qk_h2f(x[i].dmin) * y[i].d;
    for (int j = 0; j < 4; j++) {
      acc = fmaf((float)isb[j], ds, acc);
      accm = fmaf((float)imin[j], dm, accm);
    }
  }
  return acc - accm;
}

AVX2 static void vd4_q4_K_rp_gemm(int64_t n, const void *w, const void *a, size_t astride, float out[4]) {
  const blk_q4_K *x = w;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  float acc[4] = { 0, 0, 0, 0 }, accm[4] = { 0, 0, 0, 0 };
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    const float dx = qk_h2f(x[i].d), dmx = qk_h2f(x[i].dmin);
    __m256i q[8], s16[8];
    for (int j = 0; j < 4; j++) {
      const __m256i qb = load32(x[i].qs + 32 * j);
      q[2 * j] = _mm256_and_si256(qb, m4);
      q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
      s16[2 * j] = _mm256_set1_epi16(sc[2 * j]);
      s16[2 * j + 1] = _mm256_set1_epi16(sc[2 * j + 1]);
    }
    for (int k = 0; k < 4; k++) {
      const blk_q8_K *y = (const blk_q8_K *)((const uint8_t *)a + (size_t)k * astride) + i;
      const float ds = dx * y->d, dm = dmx * y->d;
      for (int j = 0; j < 4; j++) {
        const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * j], load32(y->qs + 64 * j)), s16[2 * j]);
        const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * j + 1], load32(y->qs + 64 * j + 32)), s16[2 * j + 1]);
        const int32_t im = mn[2 * j] * (y->bsums[4 * j] + y->bsums[4 * j + 1]) +
                           mn[2 * j + 1] * (y->bsums[4 * j + 2] + y->bsums[4 * j + 3]);
        acc[k] = fmaf((float)hsum_i32_8(_mm256_add_epi32(p0, p1)), ds, acc[k]);
        accm[k] = fmaf((float)im, dm, accm[k]);
      }
    }
  }
  for (int k = 0; k < 4; k++) out[k] = acc[k] - accm[k];
}

/*
 * The same gemm order for 8 tokens × up to 8 rows: the activations' per-super-block values (y.d and
 * the paired bsums, as int16 pairs for one madd) are gathered once and shared by every row, and the
 * 8 tokens' integer sums of a 64-element pair are reduced into one vector (lane k = token k), so the
 * fused multiply-adds run 8 tokens at a time, each lane doing exactly vd4_q4_K_rp_gemm's sequence.
 */
AVX2 static inline __m256i hsum8x8_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3, __m256i p4, __m256i p5,
                                       __m256i p6, __m256i p7) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p4, p5), _mm256_hadd_epi32(p6, p7));
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

AVX2 static void mm8_q4_K_rp_gemm(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *a,
                                  size_t astride, float *out, int64_t ostride) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc[8], accm[8];
  for (int r = 0; r < 8; r++) acc[r] = accm[r] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    const int8_t *yq[8];
    float dyv[8];
    int32_t bb[4][8];
    for (int k = 0; k < 8; k++) {
      const blk_q8_K *y = (const blk_q8_K *)((const uint8_t *)a + (size_t)k * astride) + i;
      yq[k] = y->qs;
      dyv[k] = y->d;
      for (int j = 0; j < 4; j++) {
        const int b0 = y->bsums[4 * j] + y->bsums[4 * j + 1], b1 = y->bsums[4 * j + 2] + y->bsums[4 * j + 3];
        bb[j][k] = (int32_t)((uint32_t)(uint16_t)b0 | ((uint32_t)(uint16_t)b1 << 16));
      }
    }
    const __m256 dy = _mm256_loadu_ps(dyv);
    for (int64_t r = 0; r < nrows; r++) {
      const blk_q4_K *x = (const blk_q4_K *)((const uint8_t *)w + (size_t)r * w_row) + i;
      PREFETCH_AHEAD(x, sizeof(blk_q4_K));
      uint8_t sc[8], mn[8];
      qk_unpack_k4(x->scales, sc, mn);
      const __m256 ds = _mm256_mul_ps(_mm256_set1_ps(qk_h2f(x->d)), dy);
      const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(qk_h2f(x->dmin)), dy);
      for (int j = 0; j < 4; j++) {
        const __m256i qb = load32(x->qs + 32 * j);
        const __m256i lo = _mm256_and_si256(qb, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
        const __m256i slo = _mm256_set1_epi16(sc[2 * j]), shi = _mm256_set1_epi16(sc[2 * j + 1]);
        __m256i p[8];
        for (int k = 0; k < 8; k++)
          p[k] = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(yq[k] + 64 * j)), slo),
                                  _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(yq[k] + 64 * j + 32)), shi));
        const __m256i isb = hsum8x8_i32(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
        const __m256i imin = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bb[j]),
                                               _mm256_set1_epi32((int32_t)(mn[2 * j] | ((uint32_t)mn[2 * j + 1] << 16))));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isb), ds, acc[r]);
        accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dm, accm[r]);
      }
    }
  }
  for (int64_t r = 0; r < nrows; r++) {
    float v[8];
    _mm256_storeu_ps(v, _mm256_sub_ps(acc[r], accm[r]));
    for (int k = 0; k < 8; k++) out[k * ostride + r] = v[k];
  }
}

AVX2 static float vd_q5_K(int64_t n, const void *w, const void *a) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  float accm = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q5_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    int summs = 0;
    for (int j = 0; j < 8; j++) summs += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    const __m256i hb = load32(x[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++, q += 32, a8 += 64) {
      const __m256i qb = load32(q);
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(qb, m4), h0);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4), h1);
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load32(a8)), _mm256_set1_epi16(sc[2 * j]));
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load32(a8 + 32)), _mm256_set1_epi16(sc[2 * j + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    const float d = y[i].d * qk_h2f(x[i].d);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    /* ggml: summs += dmin·Σmins (contracted to an FMA), dmin = −y.d·x.dmin, added at the end */
    accm = fmaf(-(y[i].d * qk_h2f(x[i].dmin)), (float)summs, accm);
  }
  return hsum8(acc) + accm;
}

/* Q5_K row × 4 tokens, each token in vd_q5_K's exact order; the weights are unpacked once per super-block. */
AVX2 static void vd4_q5_K(int64_t n, const void *w, const void *a, size_t astride, float out[4]) {
  const blk_q5_K *x = w;
  const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
  __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
  float accm[4] = { 0, 0, 0, 0 };
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q5_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    const __m256i hb = load32(x[i].qh);
    __m256i q[8], s16[8];
    for (int j = 0; j < 4; j++) {
      const __m256i qb = load32(x[i].qs + 32 * j);
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4);
      q[2 * j] = _mm256_or_si256(_mm256_and_si256(qb, m4), h0);
      q[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), m4), h1);
      s16[2 * j] = _mm256_set1_epi16(sc[2 * j]);
      s16[2 * j + 1] = _mm256_set1_epi16(sc[2 * j + 1]);
    }
    const float dx = qk_h2f(x[i].d), dmx = qk_h2f(x[i].dmin);
    /* Σ mins·bsums as one madd: int16 mins, each repeated for its sub-block's two bsums */
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)mn), _mm_loadl_epi64((const __m128i *)mn)));
    for (int k = 0; k < 4; k++) {
      const blk_q8_K *y = (const blk_q8_K *)((const uint8_t *)a + (size_t)k * astride) + i;
      const int summs = hsum_i32_8(_mm256_madd_epi16(load32(y->bsums), mn16));
      __m256i sumi = _mm256_setzero_si256();
      for (int j = 0; j < 8; j++)
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], load32(y->qs + 32 * j)), s16[j]));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi), acc[k]);
      accm[k] = fmaf(-(y->d * dmx), (float)summs, accm[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum8(acc[k]) + accm[k];
}

AVX2 static float vd_q6_K(int64_t n, const void *w, const void *a) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q6_K));
    const uint8_t *ql = x[i].ql, *qh = x[i].qh;
    const int8_t *sc = x[i].scales, *a8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int n0 = 0; n0 < QK_K; n0 += 128, ql += 64, qh += 32, sc += 8, a8 += 128) {
      const __m256i l0 = load32(ql), l1 = load32(ql + 32), h = load32(qh);
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
      const __m256i y1 = load32(a8), y2 = load32(a8 + 32), y3 = load32(a8 + 64), y4 = load32(a8 + 96);
      __m256i p1 = _mm256_sub_epi16(_mm256_maddubs_epi16(q1, y1), _mm256_maddubs_epi16(m32, y1));
      __m256i p2 = _mm256_sub_epi16(_mm256_maddubs_epi16(q2, y2), _mm256_maddubs_epi16(m32, y2));
      __m256i p3 = _mm256_sub_epi16(_mm256_maddubs_epi16(q3, y3), _mm256_maddubs_epi16(m32, y3));
      __m256i p4 = _mm256_sub_epi16(_mm256_maddubs_epi16(q4, y4), _mm256_maddubs_epi16(m32, y4));
      p1 = _mm256_madd_epi16(p1, scale_pair(sc[0], sc[1]));
      p2 = _mm256_madd_epi16(p2, scale_pair(sc[2], sc[3]));
      p3 = _mm256_madd_epi16(p3, scale_pair(sc[4], sc[5]));
      p4 = _mm256_madd_epi16(p4, scale_pair(sc[6], sc[7]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

AVX2 static float vd_q3_K(int64_t n, const void *w, const void *a) {
  const blk_q3_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q3_K));
    int8_t sc[16];
    qk_q3k_scales(x[i].scales, sc);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    const __m256i hm = load32(x[i].hmask);
    __m256i sumi = _mm256_setzero_si256();
    int is = 0;
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      const __m256i qb = load32(q);
      for (int s = 0; s < 4; s++, a8 += 32, is += 2) {
        const int bit = n0 / 32 + s; /* hmask bit index: 0..3 for first half, 4..7 for second */
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qb, 2 * s), m3);
        /* subtract 4 where the high bit is clear */
        const __m256i hset = _mm256_cmpeq_epi8(_mm256_and_si256(hm, _mm256_set1_epi8((char)(1 << bit))), _mm256_set1_epi8((char)(1 << bit)));
        const __m256i sub = _mm256_andnot_si256(hset, m4);
        const __m256i yv = load32(a8);
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(lo, yv), _mm256_maddubs_epi16(sub, yv));
        p = _mm256_madd_epi16(p, scale_pair(sc[is], sc[is + 1]));
        sumi = _mm256_add_epi32(sumi, p);
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * qk_h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

/*
 * Q2_K as ggml_vec_dot_q2_K_q8_K (AVX2): per super-block, 8 lanes of mins·bsums (pairs of 16-element
 * sub-blocks) fused-added with dmin = −y.d·x.dmin, then the 8 lanes of scale·q2·q8 sums with
 * d = y.d·x.d, into one 8-lane accumulator; hsum at the end.
 */
AVX2 static float vd_q2_K(int64_t n, const void *w, const void *a) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q2_K));
    const float d = y[i].d * qk_h2f(x[i].d);
    const float dmin = -y[i].d * qk_h2f(x[i].dmin);
    const __m128i mins8 = _mm_and_si128(_mm_srli_epi16(_mm_loadu_si128((const __m128i *)x[i].scales), 4), m4);
    const __m256i prod = _mm256_madd_epi16(_mm256_cvtepu8_epi16(mins8), _mm256_loadu_si256((const __m256i *)y[i].bsums));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
    const uint8_t *q = x[i].qs;
    const int8_t *a8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    int is = 0;
    for (int n0 = 0; n0 < QK_K; n0 += 128, q += 32) {
      const __m256i qb = load32(q);
      for (int s = 0; s < 4; s++, a8 += 32, is += 2) {
        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qb, 2 * s), m3);
        __m256i p = _mm256_maddubs_epi16(lo, load32(a8));
        p = _mm256_madd_epi16(p, scale_pair(x[i].scales[is] & 0xF, x[i].scales[is + 1] & 0xF));
        sumi = _mm256_add_epi32(sumi, p);
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum8(acc);
}

/*
 * Q2_K as llama.cpp multiplies it on CPUs with AVX-512 (its x86 builds for Skylake-X and later):
 * the weight is repacked 8 rows at a time (repack.cpp, q2_K_8x8_q8_K, rows % 8 == 0) and every
 * (row, token) sums exact integers per 128-element half super-block (Σ scale·q2·q8 and Σ min·bsum),
 * then accumulates them in f32 with fused multiply-adds by x.d·y.d and x.dmin·y.d: groups of 4
 * tokens (gemm) once per half, the remaining tokens (gemv) once per super-block; result = acc − acc_min.
 */
AVX2 static inline void q2k_half_sums(const blk_q2_K *x, const blk_q8_K *y, int32_t isb[2], int32_t imin[2]) {
  const __m256i m3 = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; h++) {
    const __m256i qb = load32(x->qs + 32 * h);
    __m256i sumi = _mm256_setzero_si256();
    for (int s = 0; s < 4; s++) {
      const int is = 8 * h + 2 * s;
      const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qb, 2 * s), m3);
      const __m256i p = _mm256_maddubs_epi16(lo, load32(y->qs + 128 * h + 32 * s));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair(x->scales[is] & 0xF, x->scales[is + 1] & 0xF)));
    }
    isb[h] = hsum_i32_8(sumi);
    int32_t m = 0;
    for (int j = 8 * h; j < 8 * h + 8; j++) m += (x->scales[j] >> 4) * y->bsums[j];
    imin[h] = m;
  }
}

AVX2 static float vd_q2_K_rp_gemv(int64_t n, const void *w, const void *a) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q2_K));
    int32_t isb[2], imin[2];
    q2k_half_sums(x + i, y + i, isb, imin);
    acc = fmaf((float)(isb[0] + isb[1]), qk_h2f(x[i].d) * y[i].d, acc);
    accm = fmaf((float)(imin[0] + imin[1]), qk_h2f(x[i].dmin) * y[i].d, accm);
  }
  return acc - accm;
}

AVX2 static float vd_q2_K_rp_gemm(int64_t n, const void *w, const void *a) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q2_K));
    int32_t isb[2], imin[2];
    q2k_half_sums(x + i, y + i, isb, imin);
    const float ds = qk_h2f(x[i].d) * y[i].d, dm = qk_h2f(x[i].dmin) * y[i].d;
    for (int h = 0; h < 2; h++) {
      acc = fmaf((float)isb[h], ds, acc);
      accm = fmaf((float)imin[h], dm, accm);
    }
  }
  return acc - accm;
}

/*
 * Q4_K row × 4 tokens, each token in vd_q4_K's exact order (llama.cpp's ggml_vec_dot_q4_K_q8_K, used
 * when the weight is not repacked); the weight nibbles and scales are unpacked once per super-block.
 */
AVX2 static void vd4_q4_K(int64_t n, const void *w, const void *a, size_t astride, float out[4]) {
  const blk_q4_K *x = w;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
  __m128 accm4[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q4_K));
    uint8_t sc[8], mn[8];
    qk_unpack_k4(x[i].scales, sc, mn);
    const float dx = qk_h2f(x[i].d), dmx = qk_h2f(x[i].dmin);
    __m256i q[8], s16[8];
    for (int j = 0; j < 4; j++) {
      const __m256i qb = load32(x[i].qs + 32 * j);
      q[2 * j] = _mm256_and_si256(qb, m4);
      q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
      s16[2 * j] = _mm256_set1_epi16(sc[2 * j]);
      s16[2 * j + 1] = _mm256_set1_epi16(sc[2 * j + 1]);
    }
    /* mins · bsums: lane m = mn[m]·(bsums[2m] + bsums[2m+1]); adjacent lanes paired as vd_q4_K pairs them */
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)mn), _mm_loadl_epi64((const __m128i *)mn)));
    for (int k = 0; k < 4; k++) {
      const blk_q8_K *y = (const blk_q8_K *)((const uint8_t *)a + (size_t)k * astride) + i;
      __m256i sumi = _mm256_setzero_si256();
      for (int j = 0; j < 8; j++)
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], load32(y->qs + 32 * j)), s16[j]));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi), acc[k]);
      const __m256i h = _mm256_hadd_epi32(_mm256_madd_epi16(load32(y->bsums), mn16), _mm256_setzero_si256());
      const __m128i p4 = _mm_unpacklo_epi64(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      accm4[k] = _mm_fmadd_ps(_mm_set1_ps(-(y->d * dmx)), _mm_cvtepi32_ps(p4), accm4[k]);
    }
  }
  for (int k = 0; k < 4; k++) {
    float m[4];
    _mm_storeu_ps(m, accm4[k]);
    out[k] = hsum8(acc[k]) + ((m[0] + m[2]) + (m[1] + m[3]));
  }
}

/* Q6_K row × 4 tokens: the 6-bit values and scales are unpacked once per super-block. */
AVX2 static void vd4_q6_K(int64_t n, const void *w, const void *a, size_t astride, float out[4]) {
  const blk_q6_K *x = w;
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
  __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
  for (int64_t i = 0; i < n / QK_K; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q6_K));
    __m256i q[8], s16[8];
    for (int h = 0; h < 2; h++) {
      const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
      const int8_t *sc = x[i].scales + 8 * h;
      const __m256i l0 = load32(ql), l1 = load32(ql + 32), hb = load32(qh);
      q[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
      q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
      q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
      q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
      for (int k = 0; k < 4; k++) s16[4 * h + k] = scale_pair(sc[2 * k], sc[2 * k + 1]);
    }
    const float dx = qk_h2f(x[i].d);
    for (int k = 0; k < 4; k++) {
      const blk_q8_K *y = (const blk_q8_K *)((const uint8_t *)a + (size_t)k * astride) + i;
      __m256i sumi = _mm256_setzero_si256();
      for (int j = 0; j < 8; j++) {
        const __m256i yv = load32(y->qs + 32 * j);
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[j], yv), _mm256_maddubs_epi16(m32, yv));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s16[j]));
      }
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(y->d * dx), _mm256_cvtepi32_ps(sumi), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum8(acc[k]);
}

/* Q8_0 row × 4 tokens. */
AVX2 static void vd4_q8_0(int64_t n, const void *w, const void *a, size_t astride, float out[4]) {
  const blk_q8_0 *x = w;
  __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
  for (int64_t i = 0; i < n / QB; i++) {
    PREFETCH_AHEAD(x + i, sizeof(blk_q8_0));
    const __m256i qx = load32(x[i].qs);
    const __m256i ax = _mm256_sign_epi8(qx, qx);
    const float dx = qk_h2f(x[i].d);
    for (int k = 0; k < 4; k++) {
      const blk_q8_0 *y = (const blk_q8_0 *)((const uint8_t *)a + (size_t)k * astride) + i;
      const __m256i sy = _mm256_sign_epi8(load32(y->qs), qx);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dx * qk_h2f(y->d)), _mm256_cvtepi32_ps(p), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum8(acc[k]);
}

AVX2 static float dot_f16_f32(int64_t n, const uint16_t *a, const float *b) { return vd_f16(n, a, b); }
AVX2 static float dot_f32(int64_t n, const float *a, const float *b) { return vd_f32(n, a, b); }

AVX2 static void axpy_f16(int64_t n, float s, const uint16_t *x, float *y) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(sv, ld_h8((const uint8_t *)(x + i)), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += s * qk_h2f(x[i]);
}

AVX2 static void axpy_f32(int64_t n, float s, const float *x, float *y) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(sv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += s * x[i];
}

/* 8 dots at once: one accumulator per row over the 8-float chunks of n (n a multiple of 8), then a
 * transposing reduction (lane sums of the 8 accumulators into one vector); a missing row (j ≥ nx in the
 * last group) reads row 0 and is not stored. */
AVX2 static void dot_rows_f32(int64_t n, int64_t nx, const float *x, const float *q, float *out) {
  for (int64_t j = 0; j < nx; j += 8) {
    const float *r[8];
    for (int l = 0; l < 8; l++) r[l] = x + (j + l < nx ? j + l : j) * n;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int64_t i = 0; i + 8 <= n; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[0] + i), qv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r[1] + i), qv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r[2] + i), qv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r[3] + i), qv, a3);
      a4 = _mm256_fmadd_ps(_mm256_loadu_ps(r[4] + i), qv, a4);
      a5 = _mm256_fmadd_ps(_mm256_loadu_ps(r[5] + i), qv, a5);
      a6 = _mm256_fmadd_ps(_mm256_loadu_ps(r[6] + i), qv, a6);
      a7 = _mm256_fmadd_ps(_mm256_loadu_ps(r[7] + i), qv, a7);
    }
    /* hadd pairs: lanes of (a0,a1) → 4 pair sums per 128-bit half, and so on, then the two halves */
    const __m256 b0 = _mm256_hadd_ps(a0, a1), b1 = _mm256_hadd_ps(a2, a3);
    const __m256 b2 = _mm256_hadd_ps(a4, a5), b3 = _mm256_hadd_ps(a6, a7);
    const __m256 c0 = _mm256_hadd_ps(b0, b1), c1 = _mm256_hadd_ps(b2, b3);
    /* c0 = [r0 r1 r2 r3 (low half sums) | r0 r1 r2 r3 (high half sums)], c1 the same for rows 4–7 */
    const __m256 lo = _mm256_permute2f128_ps(c0, c1, 0x20), hi = _mm256_permute2f128_ps(c0, c1, 0x31);
    const __m256 s = _mm256_add_ps(lo, hi);
    if (j + 8 <= nx) _mm256_storeu_ps(out + j, s);
    else {
      float t[8];
      _mm256_storeu_ps(t, s);
      for (int64_t l = 0; j + l < nx; l++) out[j + l] = t[l];
    }
  }
}

AVX2 static void axpy_rows_f32(int64_t n, int64_t nk, const float *e, const float *x, float *y) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 a0 = _mm256_loadu_ps(y + i), a1 = _mm256_loadu_ps(y + i + 8);
    __m256 a2 = _mm256_loadu_ps(y + i + 16), a3 = _mm256_loadu_ps(y + i + 24);
    for (int64_t k = 0; k < nk; k++) {
      const __m256 sv = _mm256_set1_ps(e[k]);
      const float *xr = x + k * n + i;
      a0 = _mm256_fmadd_ps(sv, _mm256_loadu_ps(xr), a0);
      a1 = _mm256_fmadd_ps(sv, _mm256_loadu_ps(xr + 8), a1);
      a2 = _mm256_fmadd_ps(sv, _mm256_loadu_ps(xr + 16), a2);
      a3 = _mm256_fmadd_ps(sv, _mm256_loadu_ps(xr + 24), a3);
    }
    _mm256_storeu_ps(y + i, a0);
    _mm256_storeu_ps(y + i + 8, a1);
    _mm256_storeu_ps(y + i + 16, a2);
    _mm256_storeu_ps(y + i + 24, a3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 a0 = _mm256_loadu_ps(y + i);
    for (int64_t k = 0; k < nk; k++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(e[k]), _mm256_loadu_ps(x + k * n + i), a0);
    _mm256_storeu_ps(y + i, a0);
  }
  for (int64_t k = 0; k < nk; k++) /* a tail (n not a multiple of 8), as axpy_f32 computes it */
    for (int64_t j = i; j < n; j++) y[j] += e[k] * x[k * n + j];
}

/* f32 → f16 with F16C (VCVTPS2PH, round to nearest even: qk_f2h's results; NaNs keep their sign
 * and quiet bit) */
AVX2 static void f32_to_f16_f16c(const float *x, void *y, int64_t n) {
  uint8_t *d = y;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(d + 2 * i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++) {
    const uint16_t h = qk_f2h(x[i]);
    memcpy(d + 2 * i, &h, 2);
  }
}

/* e^y for y ≤ 0 … 88: y = n·ln2 + r (|r| ≤ ln2/2, ln2 split in two for an exact n·ln2_hi), e^r by
 * its degree-6 Taylor polynomial (relative error < 1.5e-7 there), 2^n through the exponent bits.
 * y is clamped to [−87, 88] so 2^n stays a normal float: e^−87 ≈ 1.6e-38 stands in for smaller
 * values, which leaves silu(x) = x / (1 + e^−x) unchanged to float precision. */
AVX2 static inline __m256 exp8(__m256 y) {
  y = _mm256_min_ps(_mm256_max_ps(y, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), y); /* ln2_hi: 9 significant bits */
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);     /* ln2 − ln2_hi */
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX2 static void swiglu_avx2(float *out, const float *g, const float *u, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) out[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

AVX2 static void f16_to_f32_f16c(const uint16_t *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, ld_h8((const uint8_t *)(x + i)));
  for (; i < n; i++) y[i] = qk_h2f(x[i]);
}

/* qk_quantize_act_q8_K, 8 floats at a time, the same bits: the first value of largest magnitude sets
 * the scale; CVTPS2DQ rounds half to even as qk_nearest_int's magic-number add does (|v| ≤ 127 here).
 * A block holding inf or NaN goes to the scalar code (CVTPS2DQ and MAXPS treat NaN differently). */
AVX2 static void quantize_act_q8_K_avx2(const float *x, blk_q8_K *y, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    __m256 vmax = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
    for (int j = 0; j < QK_K; j += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j));
      vmax = _mm256_max_ps(vmax, a);
      odd = _mm256_or_ps(odd, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ)); /* inf or NaN */
    }
    if (_mm256_movemask_ps(odd)) {
      qk_quantize_act_q8_K_scalar(x, &y[i], QK_K);
      continue;
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    if (!(amax > 0)) {
      memset(&y[i], 0, sizeof(blk_q8_K));
      continue;
    }
    float max = 0;
    const __m256 va = _mm256_set1_ps(amax);
    for (int j = 0; j < QK_K; j += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), va, _CMP_EQ_OQ));
      if (hit) {
        max = x[j + __builtin_ctz((unsigned)hit)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int j = 0; j < QK_K; j += 16) {
      const __m256i a = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j))), lim);
      const __m256i b = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8))), lim);
      /* int32 → int16 → int8 (values in −127..127, no saturation), lanes back in order */
      const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
      const __m128i q = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
      _mm_storeu_si128((__m128i *)(y[i].qs + j), q);
      /* the 16 values' sum: widen to int16, pairwise to int32, then add */
      const __m256i s = _mm256_madd_epi16(_mm256_cvtepi8_epi16(q), _mm256_set1_epi16(1));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
      y[i].bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(s4);
    }
    y[i].d = 1 / iscale;
  }
}

int qk_vtable_avx2(qk_vtable *t) {
  if (!qk_cpu_has_avx2()) return 0;
  qk_f32_to_f16_fast = f32_to_f16_f16c;
  qk_quantize_act_q8_K_fast = quantize_act_q8_K_avx2;
  qk_f16_to_f32_fast = f16_to_f32_f16c;
  qk_swiglu_fast = swiglu_avx2;
  t->t[QK_F32].dot = vd_f32;
  t->t[QK_F16].dot = vd_hh;
  t->t[QK_BF16].dot = vd_bb;
  t->t[QK_F16].dotm = vd_hh_gemm;
  t->t[QK_BF16].dotm = vd_bb_gemm;
  t->ops.fa_dot_f16 = fa_dot_hh;
  t->ops.fa_mad_f16 = fa_mad_hh;
  t->ops.fa_scale_f16 = fa_scale_hh;
  t->ops.fa_vsum_f16 = fa_vsum_hh;
  if (qk_plan_isa() == QK_ISA_AVX512 || qk_plan_isa() == QK_ISA_AVX512_VNNI) {
    t->ops.fa_dot_f16 = fa_dot_hh512;
    t->ops.fa_vsum_f16 = fa_vsum_hh512;
  }
  t->t[QK_Q4_0].dot = vd_q4_0;
  t->t[QK_Q4_1].dot = vd_q4_1;
  t->t[QK_Q5_0].dot = vd_q5_0;
  t->t[QK_Q5_1].dot = vd_q5_1;
  t->t[QK_Q8_0].dot = vd_q8_0;
  t->t[QK_Q2_K].dot = vd_q2_K;
  t->t[QK_Q3_K].dot = vd_q3_K;
  t->t[QK_Q4_K].dot = vd_q4_K;
  t->t[QK_Q5_K].dot = vd_q5_K;
  t->t[QK_Q6_K].dot = vd_q6_K;
  t->t[QK_Q4_K].dot4 = vd4_q4_K;
  t->t[QK_Q4_K].dotg = vd_q4_K_rp_gemm;
  t->t[QK_Q4_K].dot4g = vd4_q4_K_rp_gemm;
  t->t[QK_Q4_K].dotv = vd_q4_K_rp_gemv;
  if (qk_cpu_has_avx512()) { /* llama.cpp repacks Q2_K only in its AVX-512 builds */
    t->t[QK_Q2_K].dotg = vd_q2_K_rp_gemm;
    t->t[QK_Q2_K].dotv = vd_q2_K_rp_gemv;
  }
  t->t[QK_Q8_0].dot4 = vd4_q8_0;
  t->t[QK_Q6_K].dot4 = vd4_q6_K;
  t->t[QK_Q5_K].dot4 = vd4_q5_K;
  t->t[QK_Q4_K].mm8g = mm8_q4_K_rp_gemm;
  t->ops.dot_f16_f32 = dot_f16_f32;
  t->ops.dot_f32 = dot_f32;
  t->ops.axpy_f16 = axpy_f16;
  t->ops.axpy_f32 = axpy_f32;
  t->ops.axpy_rows_f32 = axpy_rows_f32;
  t->ops.dot_rows_f32 = dot_rows_f32;
  t->ops.name = "avx2";
  return 1;
}

#else
int qk_vtable_avx2(qk_vtable *t) { (void)t; return 0; }
#endif
