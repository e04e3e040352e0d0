/*
 * Matrix × matrix (and × vector): out[t, r] = W[r, :] · x[t, :].
 * Activations are quantized once per call to the weight type's dot format (Q8_0 / Q8_1 / Q8_K),
 * then threads take chunks of ROW_CHUNK output rows from the pool. Within a chunk, tokens are
 * processed in tiles of TOK_TILE and rows in blocks of ROW_BLOCK, so a block of weights stays in
 * L1 while every token of the tile uses it and the whole chunk (ROW_CHUNK rows) stays in L2 across
 * tiles: weights are streamed from memory once per matmul, not once per token.
 */
#include "ctx.h"

#if defined(__wasm__)
extern const uint8_t *qk_wasm_pf_end; /* vec-dot-simd128.c: bound for its software prefetch */
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
} mm_job;

/* One chunk = ROW_CHUNK output rows for every token, processed tile by tile of tokens. */
static void mm_chunk(void *arg, int64_t chunk, int tid) {
  (void)tid;
  const mm_job *j = arg;
  const int64_t r0 = chunk * ROW_CHUNK;
  const int64_t r1 = r0 + ROW_CHUNK < j->rows ? r0 + ROW_CHUNK : j->rows;
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

int qk_matmul(qk_ctx *c, float *out, const void *w, int type, int64_t rows, int64_t cols, const float *x, int64_t ntok) {
  const int vdt = qk_vec_dot_type(type);
  const int blk = qk_type_block(type);
  if (!blk || cols % blk || !c->vt.dot[type]) return -1;
  mm_job j;
  j.out = out;
  j.w = w;
  j.w_row = qk_row_bytes(type, cols);
  j.rows = rows;
  j.cols = cols;
  j.ntok = ntok;
  j.dot = ntok >= 2 && c->vt.dotm[type] ? c->vt.dotm[type] : c->vt.dot[type];
  j.dot4 = c->vt.dot4[type];
  j.mm8 = NULL;
  j.dot_tail = j.dot;
  j.t_split = ntok;
  if (rows % 8 == 0 && c->vt.dotg[type] && c->vt.dotv[type]) {
    j.dot = c->vt.dotg[type];
    j.dot4 = c->vt.dot4g[type];
    j.mm8 = c->vt.mm8g[type];
    j.dot_tail = c->vt.dotv[type];
    j.t_split = ntok - ntok % 4;
  }
  if (vdt == QK_F32) {
    j.act = (const uint8_t *)x;
    j.act_row = (size_t)cols * 4;
  } else {
    j.act_row = qk_row_bytes(vdt, cols);
    uint8_t *s = qk_ctx_scratch(c, j.act_row * (size_t)ntok);
    if (!s) return -2;
    for (int64_t t = 0; t < ntok; t++) {
      const float *xr = x + t * cols;
      void *dst = s + (size_t)t * j.act_row;
      if (vdt == QK_F16) qk_act_f16(xr, dst, cols);
      else if (vdt == QK_BF16) qk_act_bf16(xr, dst, cols);
      else if (vdt == QK_Q8_0) qk_quantize_act_q8_0(xr, dst, cols);
      else if (vdt == QK_Q8_1) qk_quantize_act_q8_1(xr, dst, cols);
      else qk_quantize_act_q8_K(xr, dst, cols);
    }
    j.act = s;
  }
#if defined(__wasm__)
  qk_wasm_pf_end = j.w + j.w_row * (size_t)rows;
#endif
  const double work = (double)rows * (double)cols * (double)ntok;
  const int nth = work < 65536.0 ? 1 : c->nthreads;
  qk_pool_run(c->pool, mm_chunk, &j, (rows + ROW_CHUNK - 1) / ROW_CHUNK, nth);
  return 0;
}

int qk_get_rows(const void *w, int type, int64_t rows, int64_t cols, const int32_t *ids, int64_t n, float *out) {
  const size_t rb = qk_row_bytes(type, cols);
  if (!rb) return -1;
  for (int64_t t = 0; t < n; t++) {
    if (ids[t] < 0 || ids[t] >= rows) return -3;
    if (qk_dequantize(type, (const uint8_t *)w + (size_t)ids[t] * rb, out + t * cols, cols)) return -1;
  }
  return 0;
}
