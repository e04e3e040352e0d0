/*
 * Matrix × matrix (and × vector): out[t, r] = W[r, :] · x[t, :].
 * Activations are quantized once per call to the weight type's dot format (Q8_0 / Q8_1 / Q8_K),
 * then threads take chunks of ROW_CHUNK output rows from the pool. Within a chunk, tokens are
 * processed in tiles of TOK_TILE and rows in blocks of ROW_BLOCK, so a block of weights stays in
 * L1 while every token of the tile uses it and the whole chunk (ROW_CHUNK rows) stays in L2 across
 * tiles: weights are streamed from memory once per matmul, not once per token.
 */
#include "ctx.h"
#include "plan.h"
#include <stdlib.h>

#if defined(__wasm__)
extern const uint8_t *qk_wasm_pf_end; /* arch/wasm/vec-dot-simd128.c: bound for its software prefetch */
#endif

#define TOK_TILE 32
#define ROW_BLOCK 8
#define ROW_CHUNK 64

typedef struct {
  float *out;
  const uint8_t *w;
  const uint8_t *act;
  size_t w_row, act_row;
  int64_t rows, cols, ntok;
  qk_vec_dot_fn dot;
  qk_mm8_fn mm8;       /* NULL if the type has no 8-token × row-block kernel */
  qk_vec_dot4_fn dot4; /* NULL if the type has no 4-token kernel */
  qk_vec_dot_fn dot_tail; /* used for tokens >= t_split */
  int64_t t_split;
  const int64_t *bounds; /* guided chunks' row bounds, or NULL (see chunk_range) */
} mm_job;

/* Rows [*r0, *r1) of chunk c: bounds[c] .. bounds[c + 1] (guided chunks: see row_chunks), or ROW_CHUNK
 * rows from c·ROW_CHUNK. */
static inline void chunk_range(const int64_t *bounds, int64_t rows, int64_t c, int64_t *r0, int64_t *r1) {
  if (bounds) { *r0 = bounds[c]; *r1 = bounds[c + 1]; return; }
  *r0 = c * ROW_CHUNK;
  *r1 = *r0 + ROW_CHUNK < rows ? *r0 + ROW_CHUNK : rows;
}

/* One chunk = a range of output rows for every token, processed tile by tile of tokens. */
static void mm_chunk(void *arg, int64_t chunk, int tid) {
  (void)tid;
  QK_JOB(mm_job, j, arg);
  int64_t r0, r1;
  chunk_range(j->bounds, j->rows, chunk, &r0, &r1);
  for (int64_t t0 = 0; t0 < j->ntok; t0 += TOK_TILE) {
    const int64_t t1 = t0 + TOK_TILE < j->ntok ? t0 + TOK_TILE : j->ntok;
    for (int64_t rb = r0; rb < r1; rb += ROW_BLOCK) {
      const int64_t re = rb + ROW_BLOCK < r1 ? rb + ROW_BLOCK : r1;
      int64_t t = t0;
      const int64_t te = t1 < j->t_split ? t1 : j->t_split;
      if (j->mm8) {
        for (; t + 8 <= te; t += 8)
          j->mm8(j->cols, j->w + (size_t)rb * j->w_row, j->w_row, re - rb, j->act + (size_t)t * j->act_row, j->act_row,
                 j->out + t * j->rows + rb, j->rows);
      }
      if (j->dot4) {
        for (; t + 4 <= te; t += 4) {
          const uint8_t *a = j->act + (size_t)t * j->act_row;
          float *o = j->out + t * j->rows;
          for (int64_t r = rb; r < re; r++) {
            float v[4];
            j->dot4(j->cols, j->w + (size_t)r * j->w_row, a, j->act_row, v);
            o[r] = v[0];
            o[r + j->rows] = v[1];
            o[r + 2 * j->rows] = v[2];
            o[r + 3 * j->rows] = v[3];
          }
        }
      }
      for (; t < t1; t++) {
        const uint8_t *a = j->act + (size_t)t * j->act_row;
        float *o = j->out + t * j->rows;
        const qk_vec_dot_fn dot = t < j->t_split ? j->dot : j->dot_tail;
        for (int64_t r = rb; r < re; r++) {
          o[r] = dot(j->cols, j->w + (size_t)r * j->w_row, a);
        }
      }
    }
  }
}

/* Activation quantization, spread over the pool: chunk = one token. */
typedef struct {
  const float *x;
  uint8_t *dst;
  int64_t cols;
  size_t act_row;
  int vdt;
  qk_act_fn fast;
} act_job;

static void act_chunk(void *arg, int64_t t, int tid) {
  (void)tid;
  const act_job *j = arg;
  const float *xr = j->x + t * j->cols;
  void *dst = j->dst + (size_t)t * j->act_row;
  if (j->fast) j->fast(xr, dst, j->cols);
  else if (j->vdt == QK_F16) qk_act_f16(xr, dst, j->cols);
  else if (j->vdt == QK_BF16) qk_act_bf16(xr, dst, j->cols);
  else if (j->vdt == QK_Q8_0) qk_quantize_act_q8_0(xr, dst, j->cols);
  else if (j->vdt == QK_Q8_1) qk_quantize_act_q8_1(xr, dst, j->cols);
  else qk_quantize_act_q8_K(xr, dst, j->cols);
}

/*
 * The batched gemm paths: one chunk = a range of rows (chunk_range) for every token, tile by tile. Repacked weights
 * (r16: groups of 16 rows, `w_stride` bytes a group) or the plain layout (plain: blocks of up to
 * ROW_BLOCK rows, `w_stride` bytes a row; wasm SIMD128 prefill).
 */
typedef struct {
  float *out;
  const uint8_t *w;
  const uint8_t *act;
  size_t w_stride, act_row;
  int64_t rows, cols, ntok;
  qk_gemm_r16_fn r16;
  qk_gemm_plain_fn plain;
  const int64_t *bounds; /* guided chunks' row bounds, or NULL (see chunk_range) */
} gemm_job;

/*
 * Chunks of every matmul path. Batches of more than one token tile: ROW_CHUNK rows (the chunk's
 * weights stay in L2 across token tiles). One tile (decode, and up to TOK_TILE sessions decoding
 * together) streams the weights once, and a chunk of 64 rows of a 3072-column Q8_0 matrix is ~200 KB,
 * a few microseconds of memory traffic: each chunk start (a shared counter, a cold stream for the
 * prefetchers) was a noticeable share of it. One tile takes guided chunks instead: each 1/(2·nth) of
 * the rows still left (at least GUIDED_MIN), long at first, shrinking towards the end, so the threads
 * finish together instead of one waiting for the other's last long chunk (8 batched sessions of the
 * Phi-3.5-mini-shaped model: ~5% more tokens/s than fixed quarter-of-a-share chunks; wasm's decode
 * vec-dots: ~15% over fixed 64-row chunks, their longer runs also help the hardware prefetchers, which
 * wasm cannot instruct). Every row's result is the same whatever the chunk. guided_bounds writes at
 * most GUIDED_MAX + 1 bounds and returns the number of chunks.
 */
#define GUIDED_MIN 32
#define GUIDED_MAX 64
static int64_t guided_bounds(int64_t rows, int nth, int64_t *b) {
  int64_t n = 0, r = 0;
  b[0] = 0;
  while (r < rows && n < GUIDED_MAX) {
    int64_t size = ((rows - r) / (2 * (int64_t)nth)) & ~(int64_t)15;
    if (size < GUIDED_MIN) size = GUIDED_MIN;
    if (n == GUIDED_MAX - 1 || r + size > rows) size = rows - r;
    r += size;
    b[++n] = r;
  }
  return n;
}

/* How a matmul's rows are cut: guided chunks (bounds filled, *use set) for one token tile on several
 * threads, else fixed ROW_CHUNK-row chunks. Returns the number of chunks. */
static int64_t row_chunks(int64_t rows, int64_t ntok, int nth, int64_t bounds[GUIDED_MAX + 1], const int64_t **use) {
  *use = NULL;
  if (ntok <= TOK_TILE && nth > 1) {
    *use = bounds;
    return guided_bounds(rows, nth, bounds);
  }
  return (rows + ROW_CHUNK - 1) / ROW_CHUNK;
}

static void gemm_chunk(void *arg, int64_t chunk, int tid) {
  (void)tid;
  QK_JOB(gemm_job, j, arg);
  int64_t r0, r1;
  chunk_range(j->bounds, j->rows, chunk, &r0, &r1);
  for (int64_t t0 = 0; t0 < j->ntok; t0 += TOK_TILE) {
    const int64_t nt = t0 + TOK_TILE < j->ntok ? TOK_TILE : j->ntok - t0;
    const uint8_t *a = j->act + (size_t)t0 * j->act_row;
    float *o = j->out + t0 * j->rows;
    if (j->r16) {
      for (int64_t r = r0; r < r1; r += 16)
        j->r16(j->cols, j->w + (size_t)(r / 16) * j->w_stride, a, j->act_row, nt, o + r, j->rows);
    } else {
      for (int64_t rb = r0; rb < r1; rb += ROW_BLOCK) {
        const int64_t nr = rb + ROW_BLOCK < r1 ? ROW_BLOCK : r1 - rb;
        j->plain(j->cols, j->w + (size_t)rb * j->w_stride, j->w_stride, nr, a, j->act_row, nt, o + rb, j->rows);
      }
    }
  }
}

int qk_matmul(qk_ctx *c, float *out, const void *w, int code, int64_t rows, int64_t cols, const float *x, int64_t ntok) {
  qk_mm_plan plan;
  if (qk_plan_matmul(c, code, rows, cols, ntok, &plan)) return -1;
  if (qk_debug_kernels()) qk_plan_log(&plan, code, rows, cols, ntok);
  const int type = QK_CODE_TYPE(code);
  const double work = (double)rows * (double)cols * (double)ntok;
  const int nth = work < 65536.0 ? 1 : c->nthreads;
  int64_t bounds[GUIDED_MAX + 1]; /* row_chunks' guided bounds, read by the chunks until the pool returns */
  /* activations: converted once per call, tokens spread over the pool */
  act_job aj = { x, NULL, cols, 0, plan.act_type, plan.act };
  const uint8_t *act = (const uint8_t *)x;
  size_t act_row = (size_t)cols * 4;
  const intptr_t kind = plan.act ? (intptr_t)plan.act : plan.act_type;
  if (plan.act || plan.act_type != QK_F32) {
    act_row = plan.act ? plan.act_row : qk_row_bytes(plan.act_type, cols);
    if (c->act_reuse && c->act_kind == kind && c->act_row_bytes == act_row && c->scratch) {
      act = c->scratch; /* the previous matmul quantized this same input (op-table.c) */
    } else {
      c->act_kind = 0;
      uint8_t *s = qk_ctx_scratch(c, act_row * (size_t)ntok);
      if (!s) return -2;
      aj.dst = s;
      aj.act_row = act_row;
      qk_pool_run(c->pool, act_chunk, &aj, ntok, ntok >= 4 ? nth : 1);
      act = s;
      c->act_kind = kind;
      c->act_row_bytes = act_row;
    }
  } else {
    c->act_kind = 0;
  }
  if (plan.path == QK_PATH_R16_GEMV || plan.path == QK_PATH_R16_GEMM) {
    gemm_job gj = { out, w, act, 16 * qk_row_bytes(type, cols), act_row, rows, cols, ntok, plan.gemm, NULL, NULL };
    const int64_t nchunks = row_chunks(rows, ntok, nth, bounds, &gj.bounds);
    qk_pool_run(c->pool, gemm_chunk, &gj, nchunks, nth);
    return 0;
  }
  if (plan.path == QK_PATH_GEMM_PLAIN) {
#if defined(__wasm__)
    qk_wasm_pf_end = (const uint8_t *)w + qk_row_bytes(type, cols) * (size_t)rows;
#endif
    gemm_job gj = { out, w, act, qk_row_bytes(type, cols), act_row, rows, cols, ntok, NULL, plan.pgemm, NULL };
    const int64_t nchunks = row_chunks(rows, ntok, nth, bounds, &gj.bounds);
    qk_pool_run(c->pool, gemm_chunk, &gj, nchunks, nth);
    return 0;
  }
  mm_job j;
  j.out = out;
  j.w = w;
  j.w_row = qk_row_bytes(type, cols);
  j.rows = rows;
  j.cols = cols;
  j.ntok = ntok;
  j.act = act;
  j.act_row = act_row;
  const qk_type_kernels *k = &qk_types[type].vec[plan.isa];
  j.dot = ntok >= 2 && k->dotm ? k->dotm : k->dot;
  j.dot4 = k->dot4;
  j.mm8 = NULL;
  j.dot_tail = j.dot;
  j.t_split = ntok;
  if (plan.path == QK_PATH_REPACK8_EMU) {
    j.dot = k->dotg;
    j.dot4 = k->dot4g;
    j.mm8 = k->mm8g;
    j.dot_tail = k->dotv;
    j.t_split = ntok - ntok % 4;
  }
#if defined(__wasm__)
  qk_wasm_pf_end = j.w + j.w_row * (size_t)rows;
#endif
  const int64_t nchunks = row_chunks(rows, ntok, nth, bounds, &j.bounds);
  qk_pool_run(c->pool, mm_chunk, &j, nchunks, nth);
  return 0;
}

int qk_get_rows(const void *w, int code, int64_t rows, int64_t cols, const int32_t *ids, int64_t n, float *out) {
  const int type = QK_CODE_TYPE(code);
  const size_t rb = qk_row_bytes(type, cols);
  if (!rb) return -1;
  uint8_t *tmp = NULL;
  if (QK_CODE_LAYOUT(code) != QK_LAYOUT_PLAIN) {
    tmp = malloc(rb);
    if (!tmp) return -2;
  }
  int rc = 0;
  for (int64_t t = 0; t < n && !rc; t++) {
    if (ids[t] < 0 || ids[t] >= rows) { rc = -3; break; }
    const void *row = (const uint8_t *)w + (size_t)ids[t] * rb;
    if (tmp) {
      if (qk_unpack_row(code, w, rows, cols, ids[t], tmp)) { rc = -1; break; }
      row = tmp;
    }
    if (qk_dequantize(type, row, out + t * cols, cols)) rc = -1;
  }
  free(tmp);
  return rc;
}
