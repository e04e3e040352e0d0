/*
 * The matmul plan: one descriptor per weight type (what its activations are quantized to, which
 * kernels exist for it on which ISA, how it is repacked) and one named planning function,
 * qk_plan_matmul(), that picks the path for (type, layout, rows, tokens, ISA, mode). Set
 * QUANT_DEBUG=kernels to log every distinct plan (and every repack) to stderr (native builds).
 *
 * Two modes:
 *   - QK_MODE_FAST (default): weights with a fast layout are repacked once at load
 *     (qk_plan_repack / qk_repack) and multiplied by the ISA's kernels for that layout.
 *   - QK_MODE_PARITY: llama.cpp's summation orders (the vec[isa] kernels, bit-exact with the tests'
 *     references); nothing is repacked.
 *
 * A repacked weight is passed to matmul/getRows with its layout in the type code:
 * code = ggml type | layout << 8 (QK_LAYOUT_*). Same bytes as the original, reordered.
 */
#ifndef QK_PLAN_H
#define QK_PLAN_H
#include "qk.h"

enum { QK_MODE_FAST = 0, QK_MODE_PARITY = 1 };

/* Instruction sets the plan distinguishes (x86: the best one the CPU has). */
enum { QK_ISA_SCALAR = 0, QK_ISA_AVX2, QK_ISA_AVX512, QK_ISA_AVX512_VNNI, QK_ISA_NEON, QK_ISA_SIMD128 };

/* Weight layouts. ROWS16: 16 rows interleaved per block (see csrc/repack.c for each type). */
enum { QK_LAYOUT_PLAIN = 0, QK_LAYOUT_R16 = 1 };
#define QK_CODE(type, layout) ((type) | ((layout) << 8))
#define QK_CODE_TYPE(code) ((code) & 255)
#define QK_CODE_LAYOUT(code) ((code) >> 8)

/*
 * A gemm over one group of 16 interleaved rows: out[t * ostride + r] (r < 16) for tokens t < ntok,
 * activations in the descriptor's act format, one row of act_row bytes per token.
 */
typedef void (*qk_gemm_r16_fn)(int64_t cols, const void *wgroup, const void *act, size_t act_row, int64_t ntok,
                               float *out, int64_t ostride);
/* Activation quantizer of a fast path: n floats (a multiple of the block) into `dst`. */
typedef void (*qk_act_fn)(const float *x, void *dst, int64_t n);
/*
 * A gemm on the plain layout (wasm SIMD128 prefill): nrows (≤ 8) weight rows w_row bytes apart × ntok (≤ 32)
 * tokens of activations in the descriptor's gemm_act format: out[t * ostride + r].
 */
typedef void (*qk_gemm_plain_fn)(int64_t cols, const void *w, size_t w_row, int64_t nrows, const void *act,
                                 size_t act_row, int64_t ntok, float *out, int64_t ostride);

/* Per-type descriptor: everything the plan can choose from for one weight type. */
typedef struct {
  const char *name;
  int parity_act;  /* activation type of the parity path (qk_vec_dot_type) */
  /* Vector kernels per ISA (llama.cpp's orders: the parity path, and the fast path where nothing is
   * repacked): the scalar ones, overridden by the ISA file's (arch/x86/vec-dot-avx2.c serves every x86 level). */
  qk_type_kernels vec[QK_ISA_SIMD128 + 1];
  /* R16 fast path (NULL = none): activation format, its row bytes for `cols`, kernel per ISA */
  qk_act_fn r16_act;
  size_t (*r16_act_row)(int64_t cols);
  qk_gemm_r16_fn r16_gemm[QK_ISA_SIMD128 + 1];
  const char *r16_act_name;
  /* Plain-layout gemm (NULL = none) for gemm_min_tokens+ tokens, per ISA, with its activation format; its results
   * are bit-identical with vec[isa].dot, so it serves both modes. */
  qk_gemm_plain_fn gemm[QK_ISA_SIMD128 + 1];
  qk_act_fn gemm_act;
  size_t (*gemm_act_row)(int64_t cols);
  const char *gemm_act_name;
  int gemm_min_tokens; /* tokens from which gemm[] replaces the vec-dot (0: QK_GEMM_PLAIN_MIN_TOKENS) */
} qk_type_desc;

/* The descriptor table (indexed by ggml type id). */
extern qk_type_desc qk_types[QK_TYPE_COUNT];

/* The chosen path of one matmul. */
typedef enum {
  QK_PATH_VEC = 0,     /* vec[isa].dot / dotm (one row · one token) */
  QK_PATH_VEC4,        /* vec[isa].dot4 (one row · 4 tokens) and dot for the rest */
  QK_PATH_REPACK8_EMU, /* llama.cpp's repacked 8-row orders, emulated on the plain layout (dotg/dot4g/mm8g/dotv) */
  QK_PATH_R16_GEMV,    /* repacked 16-row groups, one token */
  QK_PATH_R16_GEMM,    /* repacked 16-row groups, 4-token tiles */
  QK_PATH_GEMM_PLAIN   /* plain layout, the descriptor's gemm (wasm SIMD128 prefill) */
} qk_path;

typedef struct {
  qk_path path;
  int act_type;            /* parity paths: activation ggml type (QK_F32 = none) */
  qk_act_fn act;           /* fast paths: activation quantizer */
  size_t act_row;          /* bytes of one token's activations */
  qk_gemm_r16_fn gemm;     /* R16 paths */
  qk_gemm_plain_fn pgemm;  /* QK_PATH_GEMM_PLAIN */
  int isa;
  const char *name;        /* "r16-gemm/avx512vnni", ... */
} qk_mm_plan;

struct qk_ctx_s;

/* Fills the descriptor table once (called by qk_ctx_create). */
void qk_plan_init(void);
/* The best ISA of this CPU for the matmul kernels (ignores force_scalar). */
int qk_plan_isa(void);
const char *qk_isa_name(int isa);

/*
 * Picks the path for a weight of type code `code` with `rows` × `cols`, multiplied by `ntok` tokens,
 * on context `c` (its ISA, mode and force_scalar). Returns 0, or -1 if no kernel can run it (e.g. a
 * repacked layout on a context without the layout's kernel).
 */
int qk_plan_matmul(const void *c, int code, int64_t rows, int64_t cols, int64_t ntok, qk_mm_plan *plan);

/* Layout to repack a weight into on context `c` (QK_LAYOUT_PLAIN = keep it as it is). */
int qk_plan_repack(const void *c, int type, int64_t rows, int64_t cols);

/* Reorders a plain weight into `layout` (dst and src do not overlap; same byte count). 0 or -1. */
int qk_repack(void *ctx, int type, int layout, const void *src, void *dst, int64_t rows, int64_t cols);
/* Row `row` of a repacked weight back in the plain layout (row bytes at dst). 0 or -1. */
int qk_unpack_row(int code, const void *w, int64_t rows, int64_t cols, int64_t row, void *dst);

/* 1 if QUANT_DEBUG names "kernels" (logs plans to stderr, native only). */
int qk_debug_kernels(void);
void qk_plan_log(const qk_mm_plan *p, int code, int64_t rows, int64_t cols, int64_t ntok);

/* Activation quantizers of the fast paths (quantize.c's values, plus what the kernels need). */
/* Q8_0 with the block sum ×128 (for unsigned-weight VNNI products): {float d; int32 s128; int8 qs[32]}. */
typedef struct { float d; int32_t s128; int8_t qs[32]; } blk_q8_0s;
void qk_quantize_act_q8_0s(const float *x, void *y, int64_t n);

/* x86 AVX-512 kernels (csrc/arch/x86/avx512.c): fill the descriptors' AVX-512 entries. */
/* x86 AVX2 kernels for the same layouts (csrc/arch/x86/avx2.c), for the AVX2 and AVX-512-without-VNNI levels. */
void qk_plan_register_avx2(qk_type_desc *types);
void qk_plan_register_avx512(qk_type_desc *types);
/* wasm SIMD128 batched gemms (csrc/arch/wasm/vec-dot-simd128.c): fill the descriptors' SIMD128 gemm entries. */
void qk_plan_register_simd128(qk_type_desc *types);
int qk_cpu_has_avx512_vnni(void);

#endif
