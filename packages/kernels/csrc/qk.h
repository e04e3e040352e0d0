/* quant kernels: shared declarations (block layouts, type ids, half-float helpers). */
#ifndef QK_H
#define QK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* ggml type ids (the numbers used in GGUF files). */
enum {
  QK_F32 = 0, QK_F16 = 1, QK_Q4_0 = 2, QK_Q4_1 = 3, QK_Q5_0 = 6, QK_Q5_1 = 7, QK_Q8_0 = 8,
  QK_Q8_1 = 9, QK_Q2_K = 10, QK_Q3_K = 11, QK_Q4_K = 12, QK_Q5_K = 13, QK_Q6_K = 14,
  QK_Q8_K = 15, QK_IQ4_NL = 20, QK_BF16 = 30, QK_TYPE_COUNT = 31
};

#define QB 32     /* elements per block of the 32-element formats */
#define QK_K 256  /* elements per super-block of the K formats */

#define QK_PACKED __attribute__((packed))

/* Block layouts (byte-identical to GGUF data). Packed so any byte offset is safe to read. */
typedef struct QK_PACKED { uint16_t d; uint8_t qs[16]; } blk_q4_0;                 /* 18 */
typedef struct QK_PACKED { uint16_t d, m; uint8_t qs[16]; } blk_q4_1;              /* 20 */
typedef struct QK_PACKED { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_0;  /* 22 */
typedef struct QK_PACKED { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_1; /* 24 */
typedef struct QK_PACKED { uint16_t d; int8_t qs[32]; } blk_q8_0;                  /* 34 */
typedef struct QK_PACKED { uint16_t d, s; int8_t qs[32]; } blk_q8_1;               /* 36 */
typedef struct QK_PACKED { uint16_t d; uint8_t qs[16]; } blk_iq4_nl;              /* 18: d × qk_iq4nl_values[q] */
typedef struct QK_PACKED { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } blk_q2_K;      /* 84 */
typedef struct QK_PACKED { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } blk_q3_K; /* 110 */
typedef struct QK_PACKED { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_K;     /* 144 */
typedef struct QK_PACKED { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } blk_q5_K; /* 176 */
typedef struct QK_PACKED { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } blk_q6_K; /* 210 */
typedef struct QK_PACKED { float d; int8_t qs[256]; int16_t bsums[16]; } blk_q8_K;              /* 292 */

_Static_assert(sizeof(blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(blk_q8_1) == 36, "q8_1");
_Static_assert(sizeof(blk_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(blk_q2_K) == 84, "q2_K");
_Static_assert(sizeof(blk_q3_K) == 110, "q3_K");
_Static_assert(sizeof(blk_q4_K) == 144, "q4_K");
_Static_assert(sizeof(blk_q5_K) == 176, "q5_K");
_Static_assert(sizeof(blk_q6_K) == 210, "q6_K");
_Static_assert(sizeof(blk_q8_K) == 292, "q8_K");

/* ---- type table ---- */
typedef struct { int block; int bytes; } qk_type_info;
/* Returns 0 for unsupported types. */
int qk_type_block(int type);
int qk_type_bytes(int type);
/* Bytes of `n` elements of `type` (n a multiple of the block size). */
size_t qk_row_bytes(int type, int64_t n);

/* IQ4_NL's 16 non-linear levels (ggml's kvalues_iq4nl). */
extern const int8_t qk_iq4nl_values[16];

/* ---- half floats ---- */
extern float qk_f16_table[65536];
void qk_init_tables(void);

static inline float qk_h2f(uint16_t h) { return qk_f16_table[h]; }

/* IEEE binary16, round to nearest even (bit-exact with ggml's conversion). */
static inline uint16_t qk_f2h(float f) {
  uint32_t x; memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
  if (ax < 0x38800000u) {
    float af; memcpy(&af, &ax, 4);
    af += 0.5f;
    uint32_t r; memcpy(&r, &af, 4);
    return (uint16_t)(sign | (r - 0x3f000000u));
  }
  uint32_t odd = (ax >> 13) & 1u;
  ax += 0xc8000fffu + odd;
  return (uint16_t)(sign | (ax >> 13));
}

static inline float qk_bf2f(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t qk_f2bf(float f) {
  uint32_t u; memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64);
  return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

/* Round to nearest, ties to even, for |f| < 2^22 (the magic-number trick ggml's quantizers use). */
static inline int qk_nearest_int(float f) {
  float v = f + 12582912.f;
  int i; memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

/* 6-bit scale/min pair j of a Q4_K / Q5_K block. */
static inline void qk_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
  if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
  else {
    *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

/* All 8 scale/min pairs of a Q4_K / Q5_K block at once (same values as qk_scale_min_k4). */
static inline void qk_unpack_k4(const uint8_t *s, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t a, b, c;
  memcpy(&a, s, 4); memcpy(&b, s + 4, 4); memcpy(&c, s + 8, 4);
  const uint32_t s0 = a & 0x3f3f3f3fu, m0 = b & 0x3f3f3f3fu;
  const uint32_t s1 = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
  const uint32_t m1 = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
  memcpy(sc, &s0, 4); memcpy(sc + 4, &s1, 4); memcpy(mn, &m0, 4); memcpy(mn + 4, &m1, 4);
}

/* The 16 signed 6-bit scales of a Q3_K block, unpacked (value - 32). */
static inline void qk_q3k_scales(const uint8_t *s, int8_t out[16]) {
  for (int j = 0; j < 16; j++) {
    int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    out[j] = (int8_t)((lo | (hi << 4)) - 32);
  }
}

/* ---- dequantize / quantize ---- */
/* Dequantizes n elements (multiple of the block) of `type` at src into dst. Returns 0 or -1 (unknown type). */
int qk_dequantize(int type, const void *src, float *dst, int64_t n);
/* Quantizes rows*cols floats into dst (row by row). refine: Q4_K/Q5_K extra scale search (not
 * byte-identical with ggml). Returns 0 or -1 (type not supported for quantization). */
int qk_quantize(int type, const float *src, void *dst, int64_t rows, int64_t cols, int refine);

/* Activation quantizers used by the matmul fast path. */
void qk_quantize_act_q8_0(const float *x, blk_q8_0 *y, int64_t n);
void qk_quantize_act_q8_1(const float *x, blk_q8_1 *y, int64_t n);
void qk_quantize_act_q8_K(const float *x, blk_q8_K *y, int64_t n);
/* The portable code behind it (the vectorized versions hand it blocks holding inf or NaN). */
void qk_quantize_act_q8_K_scalar(const float *x, blk_q8_K *y, int64_t n);

/* F16·F16 and BF16·BF16 in llama.cpp's AVX2 summation order (dot-half.c); activation converters. */
float qk_dot_f16_vec(int64_t n, const void *w, const void *a);
float qk_dot_bf16_vec(int64_t n, const void *w, const void *a);
float qk_dot_f16_gemm(int64_t n, const void *w, const void *a);
float qk_dot_bf16_gemm(int64_t n, const void *w, const void *a);
void qk_act_f16(const float *x, uint16_t *y, int64_t n);
/* f32 → f16 (round to nearest even) of n floats to a destination of any alignment: F16C when the
 * CPU has it (installed by qk_vtable_avx2; identical results to qk_f2h), else qk_f2h. */
void qk_f32_to_f16_row(const float *x, void *y, int64_t n);
extern void (*qk_f32_to_f16_fast)(const float *x, void *y, int64_t n);
/* qk_quantize_act_q8_K with the same bits, vectorized (set by an ISA's registration; NULL = scalar). */
extern void (*qk_quantize_act_q8_K_fast)(const float *x, blk_q8_K *y, int64_t n);
/* f16 → f32 of n values (exact): F16C when the CPU has it, else the table. */
void qk_f16_to_f32_row(const uint16_t *x, float *y, int64_t n);
extern void (*qk_f16_to_f32_fast)(const uint16_t *x, float *y, int64_t n);
/* out[i] = silu(g[i]) · u[i] with a vectorized exp (within 2e-7 relative of expf's result), installed
 * by qk_vtable_avx2; NULL = the scalar loop (ops.c). */
extern void (*qk_swiglu_fast)(float *out, const float *g, const float *u, int64_t n);
void qk_act_bf16(const float *x, uint16_t *y, int64_t n);

/* The activation format a weight type is multiplied with (QK_F32 = plain floats). */
int qk_vec_dot_type(int type);

/* ---- vector dot products (weight row · activation row), n elements ---- */
typedef float (*qk_vec_dot_fn)(int64_t n, const void *w, const void *a);

/* One weight row · 4 activation rows (at a, a + astride, ...): out[0..3]. Optional, for prefill. */
typedef void (*qk_vec_dot4_fn)(int64_t n, const void *w, const void *a, size_t astride, float out[4]);

/*
 * nrows (≤ 8) weight rows (at w, w + w_row, ...) · 8 activation rows (at a, a + astride, ...):
 * out[k * ostride + r] for token k, row r. Optional, for prefill.
 */
typedef void (*qk_mm8_fn)(int64_t n, const void *w, size_t w_row, int64_t nrows, const void *a, size_t astride,
                          float *out, int64_t ostride);

/*
 * One weight type's vector kernels on one ISA (the plan's per-type descriptor, plan.h, holds one of
 * these per ISA). Only `dot` is required.
 */
typedef struct {
  qk_vec_dot_fn dot;
  qk_vec_dot4_fn dot4;
  /* Used instead of dot when a matmul has 2+ tokens (llama.cpp's tinyBLAS order); NULL = dot. */
  qk_vec_dot_fn dotm;
  /* llama.cpp's repacked 8-row path (weights with rows % 8 == 0; AVX2 Q4_K, AVX-512 Q2_K): dotg/dot4g for
   * tokens in groups of 4 (its gemm), dotv for the remaining ntok % 4 tokens (its gemv). */
  qk_vec_dot_fn dotg;
  qk_vec_dot4_fn dot4g;
  qk_vec_dot_fn dotv;
  /* The gemm path (dot4g's order) for 8 tokens × up to 8 rows at a time; NULL = dot4g. */
  qk_mm8_fn mm8g;
} qk_type_kernels;

/* The type-independent vector helpers of one ISA (attention, norms); a context keeps its own copy. */
typedef struct {
  /* f16 · f32 and f32 · f32 for attention */
  float (*dot_f16_f32)(int64_t n, const uint16_t *a, const float *b);
  float (*dot_f32)(int64_t n, const float *a, const float *b);
  /* y += s * x  (x f16 / f32) */
  void (*axpy_f16)(int64_t n, float s, const uint16_t *x, float *y);
  void (*axpy_f32)(int64_t n, float s, const float *x, float *y);
  /* Optional: y += e[k]·x[k·n …] for k < nk, each element's fused multiply-adds in k order — what nk
   * axpy_f32 calls give, bit for bit (n a multiple of 8), with y kept in registers across the keys. */
  void (*axpy_rows_f32)(int64_t n, int64_t nk, const float *e, const float *x, float *y);
  /* Optional: out[j] = x[j·n …] · q for j < nx, 8 rows at a time (each dot's own fixed order, so a
   * row's value does not depend on its neighbours; not dot_f32's order). */
  void (*dot_rows_f32)(int64_t n, int64_t nx, const float *x, const float *q, float *out);
  /* llama.cpp's f16 flash attention steps (attention.c has the portable versions) */
  float (*fa_dot_f16)(int64_t n, const uint16_t *x, const uint16_t *y);
  void (*fa_scale_f16)(int64_t n, uint16_t *y, float v);
  void (*fa_mad_f16)(int64_t n, uint16_t *y, const uint16_t *x, float v);
  /* Optional: the whole V pass of one head, with the softmax factors precomputed per key: for
   * i < nkv (V row i at v + i·rowb): if ms[i] ≠ 1, fa_scale_f16(acc, ms[i]); fa_mad_f16(acc, row i,
   * vs[i]) — the same roundings, with the accumulator kept in registers between keys. */
  void (*fa_vsum_f16)(int64_t n, uint16_t *acc, const uint8_t *v, size_t rowb, int64_t nkv, const float *ms,
                      const float *vs);
  const char *name;
  /* the plan ISA whose per-type kernels go with these helpers (plan.h QK_ISA_*) */
  int isa;
} qk_vec_ops;

/* What one ISA file registers (vec-dot-<isa>.c): its kernels per weight type and its helpers. */
typedef struct {
  qk_type_kernels t[QK_TYPE_COUNT];
  qk_vec_ops ops;
} qk_vtable;

float qk_fa_dot_f16(int64_t n, const uint16_t *x, const uint16_t *y);
void qk_fa_scale_f16(int64_t n, uint16_t *y, float v);
void qk_fa_mad_f16(int64_t n, uint16_t *y, const uint16_t *x, float v);

void qk_vtable_scalar(qk_vtable *t);
/* Overrides entries with SIMD versions when available; returns 1 if anything was set. */
int qk_vtable_avx2(qk_vtable *t);
int qk_vtable_neon(qk_vtable *t);
int qk_vtable_simd128(qk_vtable *t);

/* CPU feature detection: 1 if AVX2+FMA+F16C are usable. */
int qk_cpu_has_avx2(void);
/* 1 if the CPU has AVX-512 F/CD/VL/DQ/BW (llama.cpp then repacks Q2_K weights). */
int qk_cpu_has_avx512(void);

#endif
