/* A kernels context: thread pool, dispatch table and scratch memory of one loadKernels() instance. */
#ifndef QK_CTX_H
#define QK_CTX_H
#include "qk.h"
#include "threadpool.h"

typedef struct {
  qk_pool *pool;
  int nthreads;
  int force_scalar;
  int mode; /* QK_MODE_FAST (repacked weights, fastest kernels) or QK_MODE_PARITY (llama.cpp's orders): plan.h */
  /* Activations of the last matmul, still in scratch: their format (0 = none) and row bytes. The
   * command executor sets act_reuse for a matmul whose input is the previous command's (a matmul's)
   * unchanged input, so q/k/v or gate/up quantize their shared input once (matmul.c). */
  intptr_t act_kind;
  size_t act_row_bytes;
  int act_reuse;
  qk_vec_ops vt; /* type-independent helpers; per-type kernels: qk_types[type].vec[vt.isa] (plan.h) */
  const char *simd;
  void *scratch;
  size_t scratch_size;
  /* Set while a command list runs on a libuv worker thread (native kernels.run()); only read and
   * written on the JS thread. Ops that take this context refuse to run meanwhile, so the pool and
   * scratch are never used from two threads at once. */
  int busy;
} qk_ctx;

qk_ctx *qk_ctx_create(int nthreads, int force_scalar);
void qk_ctx_destroy(qk_ctx *c);
int qk_ctx_set_threads(qk_ctx *c, int n);
/* Returns scratch of at least `bytes` (64-byte aligned), or NULL. */
void *qk_ctx_scratch(qk_ctx *c, size_t bytes);
/* mem-advise.c: ask for 2 MiB pages for a buffer of 4 MiB or more; map a range's pages now (one
 * call instead of a page fault per page). Advice only: no-ops where unsupported. */
void qk_mem_advise_huge(void *p, size_t n);
void qk_mem_populate(void *p, size_t n);

int qk_matmul(qk_ctx *c, float *out, const void *w, int type, int64_t rows, int64_t cols, const float *x, int64_t ntok);
int qk_get_rows(const void *w, int type, int64_t rows, int64_t cols, const int32_t *ids, int64_t n, float *out);

void qk_rms_norm(float *out, const float *x, const float *w, int64_t rows, int64_t cols, float eps);
void qk_softmax(float *x, int64_t rows, int64_t cols);
void qk_silu(float *x, int64_t n);
void qk_swiglu(float *out, const float *gate, const float *up, int64_t n);
void qk_swiglu_fused(float *out, const float *gu, int64_t rows, int64_t ff);
void qk_add(float *out, const float *a, const float *b, int64_t n);
void qk_add_bias(float *x, const float *bias, int64_t rows, int64_t cols);
void qk_mul(float *out, const float *a, const float *b, int64_t n);
void qk_scale(float *x, float s, int64_t n);
void qk_copy_rows(float *dst, int64_t dst_stride, const float *src, int64_t src_stride, int64_t rows, int64_t cols);
int64_t qk_argmax(const float *x, int64_t n);
double qk_mem_read(qk_ctx *c, const void *p, size_t bytes);

typedef struct {
  int64_t n_tokens, pos, n_heads, head_dim, n_rot;
  int neox;
  float freq_base, freq_scale, attn_factor;
  const float *freq_factors; /* n_rot/2 values or NULL */
} qk_rope_params;
void qk_rope(float *x, const qk_rope_params *p);
/* qk_rope with row t at position pos[t] (p->pos unused; pos NULL = qk_rope): several sequences' rows in one call. */
void qk_rope_rows(float *x, const int32_t *pos, const qk_rope_params *p);
/* cos·attn_factor and sin·attn_factor of every rotated pair at position `pos` (n_rot floats), and
 * one row of n_heads heads rotated by such a table (rope.c; kv-shift.c re-rotates cached keys). */
void qk_rope_table(float *cs, const qk_rope_params *p, int64_t pos);
void qk_rope_apply(float *x, const float *cs, const qk_rope_params *p);

/*
 * KV cache: per layer all K rows then all V rows, ctx rows each; a row is kv_dim values in the
 * cache type (ggml ids: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL), K and V typed
 * separately. k_rot/v_rot (0 = none): each row is rotated in chunks of that many values (a power of
 * two dividing the head size) by the orthonormal Walsh-Hadamard matrix before it is stored, as
 * llama.cpp rotates a quantized cache; attention rotates the query the same way (K) and rotates its
 * output back (V). The matrix is symmetric and its own inverse.
 */
typedef struct {
  void *data;
  int64_t layers, ctx, kv_dim;
  int k_type, v_type, k_rot, v_rot;
  /* quant's own rotated types (k_mode/v_mode, QK_KVM_* bits; 0 = as above): rot is the whole head
   * (2^k, or 12·2^k as the Kronecker product of a Paley order-12 Hadamard matrix and H_{2^k}),
   * preceded by fixed pseudo-random sign flips; QK_KVM_SEARCH quantizes with an MSE scale search;
   * QK_KVM_SMOOTH (K) divides each channel by a per-layer scale (s = max(1, sqrt(rms/median rms of
   * its head)) over the rows of the first store at position 0) kept after the last layer's rows
   * (layers × kv_dim floats) and multiplies the query by it. */
  int k_mode, v_mode;
} qk_kv;
#define QK_KVM_RANDH 1
#define QK_KVM_SEARCH 2
#define QK_KVM_SMOOTH 4
/* The cache domain of row channels [c0, c0+m) (m a multiple of the rotation size) of a K (which 0)
 * or V row, and back (kv-shift.c re-ropes keys between the two). qk_kv_to_cache also applies
 * llama.cpp's plain Hadamard rotation (mode 0). */
void qk_kv_to_cache(const qk_kv *kv, int which, int64_t layer, float *x, int64_t c0, int64_t m);
void qk_kv_from_cache(const qk_kv *kv, int which, int64_t layer, float *x, int64_t c0, int64_t m);
/* n floats (c0 = their first channel) to the cache's K or V type, with its quantizer variant. */
void qk_kv_convert_part(const qk_kv *kv, int which, const float *src, uint8_t *dst, int64_t n);
/* Bytes of one K (which = 0) or V (1) row. */
size_t qk_kv_row_bytes(const qk_kv *kv, int which);
/* In place orthonormal Walsh-Hadamard transform of every `rot`-chunk of x[0..n). */
void qk_hadamard(float *x, int64_t n, int rot);
void qk_kv_store(const qk_kv *kv, int64_t layer, int64_t pos, int64_t n, const float *k, const float *v);
void qk_kv_shift(const qk_kv *kv, int64_t from, int64_t to, int64_t count);
/* Context shift of one layer (kv-shift.c): moves K and V rows [from, from+count) to [to, ...) and
 * rotates the moved keys by to − from with `rope` (its head_dim, n_rot, neox, freq_base, freq_scale,
 * freq_factors; n_heads and attn_factor are ignored; NULL or n_rot 0 = move only). 0 or -2 (memory). */
int qk_kv_shift_layer(qk_ctx *c, const qk_kv *kv, int64_t layer, int64_t from, int64_t to, int64_t count,
                      const qk_rope_params *rope);

typedef struct {
  int64_t n_tokens, pos, n_heads, n_kv_heads, head_dim, window;
  float scale;
  int flash; /* f16 cache: 1 = llama.cpp's flash-attention path, 0 = its standard (mul_mat + soft_max) path */
  /* Attention logit soft-capping (gemma2), 0 = none. As llama.cpp orders it: flash paths score
   * cap·tanh(dot·(scale/cap)); the standard path (and the f32 cache with flash = 0) scores
   * scale·(cap·tanh(dot·(1/cap))). The two agree when scale = 1. */
  float softcap;
} qk_attn_params;
int qk_attention(qk_ctx *c, float *out, const float *q, const qk_kv *kv, int64_t layer, const qk_attn_params *p);
/* One sequence's rows in a qk_attention_segments call: n_tokens rows at positions pos.. of kv, at row `row`
 * of q and out. */
typedef struct {
  qk_kv kv;
  int64_t n_tokens, pos, row;
} qk_attn_segment;
/* qk_kv_store for several sequences' rows (segment s: its n_tokens rows of k and v at row `row`, to
 * positions pos.. of its cache), spread over the context's threads. 0, or -2 (memory). */
int qk_kv_store_segments(qk_ctx *c, const qk_attn_segment *segs, int64_t nseg, int64_t layer, const float *k,
                          const float *v);
/* qk_attention for several sequences (each row of a segment gets the values qk_attention gives it). */
int qk_attention_segments(qk_ctx *c, float *out, const float *q, const qk_attn_segment *segs, int64_t nseg, int64_t layer,
                          const qk_attn_params *common);

#endif
