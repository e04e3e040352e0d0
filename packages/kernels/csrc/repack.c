/*
 * Row-interleaved weight layouts (portable C: repacking runs once at load, unpacking serves getRows).
 * A weight with rows % 16 == 0 is cut into groups of 16 consecutive rows; each group is stored as:
 *
 * Q8_0 R16 (group of nb = cols/32 blocks, 16·34·nb bytes, as the plain rows):
 *   nb × 512 bytes of quants: block b, dword k (k < 8), row r at offset 512·b + 64·k + 4·r holds
 *     qs[4k..4k+3] of row r XOR 0x80 (stored as unsigned bytes q + 128, the form VNNI's u8×s8
 *     product wants: Σ(q+128)·y − 128·Σy = Σ q·y);
 *   then nb × 32 bytes: block b's 16 f16 scales, row r at 32·b + 2·r.
 * Q4_K R16 (per super-block, 16·144 = 2304 bytes):
 *   16 f16 d, then 16 f16 dmin (row r at 2·r), then the 12 scale bytes as three 64-byte vectors
 *   (vector v, row r = bytes 4v..4v+3 of row r's scales), then 32 vectors of 64 bytes: vector g,
 *   row r = bytes 4g..4g+3 of row r's 128 nibble bytes.
 * Q5_K R16 (per super-block, 16·176 = 2816 bytes): d, dmin and scales as Q4_K (256 bytes), then
 *   8 vectors of the high bits (vector k, row r = qh[4k..4k+3]), then the 32 nibble vectors as Q4_K.
 * Q6_K R16 (per super-block, 16·210 = 3360 bytes): 16 f16 d; the 16 int8 scales as four 64-byte
 *   vectors (vector v, row r = scales 4v, 4v+2, 4v+1, 4v+3: sign-extending even and odd bytes then
 *   gives the int16 pairs (s4v, s4v+1) and (s4v+2, s4v+3)); 32 vectors of low bits (half h, u, k:
 *   row r = ql[64h + 32u + 4k ..+3]); 16 vectors of high bits (half h, k: row r = qh[32h + 4k ..+3]).
 * In all, one 64-byte load gives the same 4 bytes of 16 rows: a VNNI dot-product instruction
 * multiplies them by one broadcast 4-byte group of a token's activations into 16 row sums.
 */
#include "ctx.h"
#include "plan.h"
#if !defined(__wasm__)
#include <stdio.h>
#endif

static void repack_q8_0_group(const uint8_t *src, uint8_t *dst, int64_t nb, size_t row_bytes) {
  uint8_t *scales = dst + (size_t)nb * 512;
  for (int r = 0; r < 16; r++) {
    const blk_q8_0 *x = (const blk_q8_0 *)(src + (size_t)r * row_bytes);
    for (int64_t b = 0; b < nb; b++) {
      memcpy(scales + 32 * b + 2 * r, &x[b].d, 2);
      uint8_t *q = dst + 512 * b + 4 * r;
      for (int k = 0; k < 8; k++)
        for (int t = 0; t < 4; t++) q[64 * k + t] = (uint8_t)x[b].qs[4 * k + t] ^ 0x80;
    }
  }
}

static void unpack_q8_0_row(const uint8_t *group, int r, int64_t nb, blk_q8_0 *x) {
  const uint8_t *scales = group + (size_t)nb * 512;
  for (int64_t b = 0; b < nb; b++) {
    memcpy(&x[b].d, scales + 32 * b + 2 * r, 2);
    const uint8_t *q = group + 512 * b + 4 * r;
    for (int k = 0; k < 8; k++)
      for (int t = 0; t < 4; t++) x[b].qs[4 * k + t] = (int8_t)(q[64 * k + t] ^ 0x80);
  }
}

static void repack_q4_K_group(const uint8_t *src, uint8_t *dst, int64_t nb, size_t row_bytes) {
  for (int r = 0; r < 16; r++) {
    const blk_q4_K *x = (const blk_q4_K *)(src + (size_t)r * row_bytes);
    for (int64_t i = 0; i < nb; i++) {
      uint8_t *o = dst + (size_t)2304 * i;
      memcpy(o + 2 * r, &x[i].d, 2);
      memcpy(o + 32 + 2 * r, &x[i].dmin, 2);
      for (int v = 0; v < 3; v++) memcpy(o + 64 + 64 * v + 4 * r, x[i].scales + 4 * v, 4);
      for (int g = 0; g < 32; g++) memcpy(o + 256 + 64 * g + 4 * r, x[i].qs + 4 * g, 4);
    }
  }
}

static void unpack_q4_K_row(const uint8_t *group, int r, int64_t nb, blk_q4_K *x) {
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *o = group + (size_t)2304 * i;
    memcpy(&x[i].d, o + 2 * r, 2);
    memcpy(&x[i].dmin, o + 32 + 2 * r, 2);
    for (int v = 0; v < 3; v++) memcpy(x[i].scales + 4 * v, o + 64 + 64 * v + 4 * r, 4);
    for (int g = 0; g < 32; g++) memcpy(x[i].qs + 4 * g, o + 256 + 64 * g + 4 * r, 4);
  }
}

static void repack_q5_K_group(const uint8_t *src, uint8_t *dst, int64_t nb, size_t row_bytes) {
  for (int r = 0; r < 16; r++) {
    const blk_q5_K *x = (const blk_q5_K *)(src + (size_t)r * row_bytes);
    for (int64_t i = 0; i < nb; i++) {
      uint8_t *o = dst + (size_t)2816 * i;
      memcpy(o + 2 * r, &x[i].d, 2);
      memcpy(o + 32 + 2 * r, &x[i].dmin, 2);
      for (int v = 0; v < 3; v++) memcpy(o + 64 + 64 * v + 4 * r, x[i].scales + 4 * v, 4);
      for (int k = 0; k < 8; k++) memcpy(o + 256 + 64 * k + 4 * r, x[i].qh + 4 * k, 4);
      for (int g = 0; g < 32; g++) memcpy(o + 768 + 64 * g + 4 * r, x[i].qs + 4 * g, 4);
    }
  }
}

static void unpack_q5_K_row(const uint8_t *group, int r, int64_t nb, blk_q5_K *x) {
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *o = group + (size_t)2816 * i;
    memcpy(&x[i].d, o + 2 * r, 2);
    memcpy(&x[i].dmin, o + 32 + 2 * r, 2);
    for (int v = 0; v < 3; v++) memcpy(x[i].scales + 4 * v, o + 64 + 64 * v + 4 * r, 4);
    for (int k = 0; k < 8; k++) memcpy(x[i].qh + 4 * k, o + 256 + 64 * k + 4 * r, 4);
    for (int g = 0; g < 32; g++) memcpy(x[i].qs + 4 * g, o + 768 + 64 * g + 4 * r, 4);
  }
}

/* Q6_K scale bytes are stored as (s0, s2, s1, s3) per 4 so that sign-extending the even and the odd
 * bytes of a lane gives the int16 pairs (s0, s1) and (s2, s3). */
static const int q6_perm[4] = { 0, 2, 1, 3 };

static void repack_q6_K_group(const uint8_t *src, uint8_t *dst, int64_t nb, size_t row_bytes) {
  for (int r = 0; r < 16; r++) {
    const blk_q6_K *x = (const blk_q6_K *)(src + (size_t)r * row_bytes);
    for (int64_t i = 0; i < nb; i++) {
      uint8_t *o = dst + (size_t)3360 * i;
      memcpy(o + 2 * r, &x[i].d, 2);
      for (int v = 0; v < 4; v++)
        for (int b = 0; b < 4; b++) o[32 + 64 * v + 4 * r + b] = (uint8_t)x[i].scales[4 * v + q6_perm[b]];
      for (int h = 0; h < 2; h++)
        for (int u = 0; u < 2; u++)
          for (int k = 0; k < 8; k++) memcpy(o + 288 + 64 * (16 * h + 8 * u + k) + 4 * r, x[i].ql + 64 * h + 32 * u + 4 * k, 4);
      for (int h = 0; h < 2; h++)
        for (int k = 0; k < 8; k++) memcpy(o + 2336 + 64 * (8 * h + k) + 4 * r, x[i].qh + 32 * h + 4 * k, 4);
    }
  }
}

static void unpack_q6_K_row(const uint8_t *group, int r, int64_t nb, blk_q6_K *x) {
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *o = group + (size_t)3360 * i;
    memcpy(&x[i].d, o + 2 * r, 2);
    for (int v = 0; v < 4; v++)
      for (int b = 0; b < 4; b++) x[i].scales[4 * v + q6_perm[b]] = (int8_t)o[32 + 64 * v + 4 * r + b];
    for (int h = 0; h < 2; h++)
      for (int u = 0; u < 2; u++)
        for (int k = 0; k < 8; k++) memcpy(x[i].ql + 64 * h + 32 * u + 4 * k, o + 288 + 64 * (16 * h + 8 * u + k) + 4 * r, 4);
    for (int h = 0; h < 2; h++)
      for (int k = 0; k < 8; k++) memcpy(x[i].qh + 32 * h + 4 * k, o + 2336 + 64 * (8 * h + k) + 4 * r, 4);
  }
}

typedef struct {
  int type;
  const uint8_t *src;
  uint8_t *dst;
  int64_t nb;
  size_t row_bytes;
} repack_job;

static void repack_chunk(void *arg, int64_t g, int tid) {
  (void)tid;
  const repack_job *j = arg;
  const size_t gb = 16 * j->row_bytes;
  const uint8_t *src = j->src + g * gb;
  uint8_t *dst = j->dst + g * gb;
  switch (j->type) {
    case QK_Q8_0: repack_q8_0_group(src, dst, j->nb, j->row_bytes); break;
    case QK_Q4_K: repack_q4_K_group(src, dst, j->nb, j->row_bytes); break;
    case QK_Q5_K: repack_q5_K_group(src, dst, j->nb, j->row_bytes); break;
    default: repack_q6_K_group(src, dst, j->nb, j->row_bytes); break;
  }
}

int qk_repack(void *ctx, int type, int layout, const void *src, void *dst, int64_t rows, int64_t cols) {
  qk_ctx *c = ctx;
  if (layout != QK_LAYOUT_R16 || rows % 16 || (type != QK_Q8_0 && type != QK_Q4_K && type != QK_Q5_K && type != QK_Q6_K))
    return -1;
  const int blk = qk_type_block(type);
  if (cols % blk) return -1;
  repack_job j = { type, src, dst, cols / blk, qk_row_bytes(type, cols) };
  qk_pool_run(c->pool, repack_chunk, &j, rows / 16, c->nthreads);
  if (qk_debug_kernels()) {
#if !defined(__wasm__)
    fprintf(stderr, "[quant kernels] repack %s %lldx%lld -> r16 (%.1f MB)\n", qk_types[type].name, (long long)rows,
            (long long)cols, (double)j.row_bytes * (double)rows / 1e6);
#endif
  }
  return 0;
}

int qk_unpack_row(int code, const void *w, int64_t rows, int64_t cols, int64_t row, void *dst) {
  const int type = QK_CODE_TYPE(code);
  if (QK_CODE_LAYOUT(code) != QK_LAYOUT_R16 || rows % 16 || row < 0 || row >= rows) return -1;
  const int blk = qk_type_block(type);
  if (!blk || cols % blk) return -1;
  const size_t rb = qk_row_bytes(type, cols);
  const uint8_t *group = (const uint8_t *)w + (size_t)(row / 16) * 16 * rb;
  if (type == QK_Q8_0) unpack_q8_0_row(group, (int)(row % 16), cols / blk, dst);
  else if (type == QK_Q4_K) unpack_q4_K_row(group, (int)(row % 16), cols / blk, dst);
  else if (type == QK_Q5_K) unpack_q5_K_row(group, (int)(row % 16), cols / blk, dst);
  else if (type == QK_Q6_K) unpack_q6_K_row(group, (int)(row % 16), cols / blk, dst);
  else return -1;
  return 0;
}
