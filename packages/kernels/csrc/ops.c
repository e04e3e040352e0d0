/* Row norms, activations and elementwise arithmetic over f32 buffers. */
#include "ctx.h"

/* Each row's sum of squares is one sequential chain of double adds (the order fixes the bits), ~4 cycles
 * an element: rows are taken 8 at a time with their chains interleaved, the same adds in the same order
 * per row, so a batch of rows costs about what one row did. */
#define RMS_ROWS 8
void qk_rms_norm(float *out, const float *x, const float *w, int64_t rows, int64_t cols, float eps) {
  for (int64_t r0 = 0; r0 < rows; r0 += RMS_ROWS) {
    const int nr = rows - r0 < RMS_ROWS ? (int)(rows - r0) : RMS_ROWS;
    double sum[RMS_ROWS] = { 0 };
    const float *xr = x + r0 * cols;
    for (int64_t i = 0; i < cols; i++)
      for (int r = 0; r < nr; r++) sum[r] += (double)xr[r * cols + i] * (double)xr[r * cols + i];
    for (int r = 0; r < nr; r++) {
      const float mean = (float)(sum[r] / (double)cols);
      const float scale = 1.0f / sqrtf(mean + eps);
      const float *xi = xr + r * cols;
      float *o = out + (r0 + r) * cols;
      for (int64_t i = 0; i < cols; i++) o[i] = (xi[i] * scale) * w[i];
    }
  }
}

void qk_softmax(float *x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    float *xr = x + r * cols;
    float max = -INFINITY;
    for (int64_t i = 0; i < cols; i++) if (xr[i] > max) max = xr[i];
    double sum = 0.0;
    for (int64_t i = 0; i < cols; i++) { xr[i] = expf(xr[i] - max); sum += xr[i]; }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < cols; i++) xr[i] *= inv;
  }
}

static inline float silu1(float v) { return v / (1.0f + expf(-v)); }

void (*qk_swiglu_fast)(float *out, const float *g, const float *u, int64_t n) = NULL;

void qk_silu(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = silu1(x[i]);
}

void qk_swiglu(float *out, const float *gate, const float *up, int64_t n) {
  if (qk_swiglu_fast) {
    qk_swiglu_fast(out, gate, up, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) out[i] = silu1(gate[i]) * up[i];
}

void qk_swiglu_fused(float *out, const float *gu, int64_t rows, int64_t ff) {
  /* out rows are ff wide; out may alias gu (row r of out ends before row r of gu's up half). */
  for (int64_t r = 0; r < rows; r++) {
    const float *g = gu + r * 2 * ff, *u = g + ff;
    float *o = out + r * ff;
    if (qk_swiglu_fast) qk_swiglu_fast(o, g, u, ff); /* front to back: safe for the in-place alias */
    else
      for (int64_t i = 0; i < ff; i++) o[i] = silu1(g[i]) * u[i];
  }
}

void qk_add(float *out, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void qk_add_bias(float *x, const float *bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) {
    float *xr = x + r * cols;
    for (int64_t i = 0; i < cols; i++) xr[i] += bias[i];
  }
}

void qk_mul(float *out, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

void qk_scale(float *x, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

void qk_copy_rows(float *dst, int64_t dst_stride, const float *src, int64_t src_stride, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) memmove(dst + r * dst_stride, src + r * src_stride, (size_t)cols * 4);
}

int64_t qk_argmax(const float *x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
  return best;
}

/* ---- memory read bandwidth probe (bench only): sums 64-bit words of a buffer across threads ---- */
typedef struct { const uint64_t *p; size_t n; uint64_t part[256]; } rd_job;
#define RD_CHUNK ((size_t)1 << 17) /* 1 MiB of uint64 */

static void rd_task(void *arg, int64_t chunk, int tid) {
  rd_job *j = arg;
  const size_t a = (size_t)chunk * RD_CHUNK, b = a + RD_CHUNK < j->n ? a + RD_CHUNK : j->n;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = a;
  for (; i + 4 <= b; i += 4) { s0 += j->p[i]; s1 += j->p[i + 1]; s2 += j->p[i + 2]; s3 += j->p[i + 3]; }
  for (; i < b; i++) s0 += j->p[i];
  j->part[tid] += s0 + s1 + s2 + s3;
}

double qk_mem_read(qk_ctx *c, const void *p, size_t bytes) {
  rd_job j;
  j.p = p;
  j.n = bytes / 8;
  memset(j.part, 0, sizeof(j.part));
  qk_pool_run(c->pool, rd_task, &j, (int64_t)((j.n + RD_CHUNK - 1) / RD_CHUNK), c->nthreads);
  uint64_t s = 0;
  for (int i = 0; i < 256; i++) s += j.part[i];
  return (double)(s & 0xffff);
}
