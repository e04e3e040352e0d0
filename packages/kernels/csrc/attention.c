/*
 * KV cache storage and causal attention with grouped-query heads and an optional sliding window.
 * Each (token, head) pair is one chunk of work for the thread pool.
 */
#include "ctx.h"
#include "plan.h"
#include <stdlib.h>

size_t qk_kv_row_bytes(const qk_kv *kv, int which) { return qk_row_bytes(which ? kv->v_type : kv->k_type, kv->kv_dim); }

/* Byte offset of K (which=0) or V (which=1) row `pos` of `layer`. */
static inline size_t kv_off(const qk_kv *kv, int64_t layer, int which, int64_t pos) {
  const size_t kr = qk_kv_row_bytes(kv, 0), vr = qk_kv_row_bytes(kv, 1);
  return (size_t)layer * (size_t)kv->ctx * (kr + vr) + (which ? (size_t)kv->ctx * kr : 0) + (size_t)pos * (which ? vr : kr);
}

void qk_hadamard(float *x, int64_t n, int rot) {
  if (rot <= 1) return;
  const float s = (float)(1.0 / sqrt((double)rot));
  for (int64_t c = 0; c < n; c += rot) {
    float *y = x + c;
    for (int h = 1; h < rot; h *= 2)
      for (int i = 0; i < rot; i += 2 * h)
        for (int j = i; j < i + h; j++) {
          const float a = y[j], b = y[j + h];
          y[j] = a + b;
          y[j + h] = a - b;
        }
    for (int i = 0; i < rot; i++) y[i] *= s;
  }
}

/* Paley's Hadamard matrix of order 12 (q = 11): H·Hᵀ = 12·I. Not symmetric: the inverse uses Hᵀ. */
static const int8_t kv_h12[12][12] = {
  { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },      { -1, 1, 1, -1, 1, 1, 1, -1, -1, -1, 1, -1 },
  { -1, -1, 1, 1, -1, 1, 1, 1, -1, -1, -1, 1 }, { -1, 1, -1, 1, 1, -1, 1, 1, 1, -1, -1, -1 },
  { -1, -1, 1, -1, 1, 1, -1, 1, 1, 1, -1, -1 }, { -1, -1, -1, 1, -1, 1, 1, -1, 1, 1, 1, -1 },
  { -1, -1, -1, -1, 1, -1, 1, 1, -1, 1, 1, 1 }, { -1, 1, -1, -1, -1, 1, -1, 1, 1, -1, 1, 1 },
  { -1, 1, 1, -1, -1, -1, 1, -1, 1, 1, -1, 1 }, { -1, 1, 1, 1, -1, -1, -1, 1, -1, 1, 1, -1 },
  { -1, -1, 1, 1, 1, -1, -1, -1, 1, -1, 1, 1 }, { -1, 1, -1, 1, 1, 1, -1, -1, -1, 1, -1, 1 },
};

/* Fixed pseudo-random sign of channel i of a rotation chunk (a splitmix64 bit). */
static inline float kv_sign(int64_t i) {
  uint64_t z = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return ((z ^ (z >> 31)) & 1) ? -1.0f : 1.0f;
}

/* Unnormalized Walsh-Hadamard transform of n (a power of two) values. */
static void kv_fwht(float *y, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; j++) {
        const float a = y[j], b = y[j + h];
        y[j] = a + b;
        y[j + h] = a - b;
      }
}

/* The orthonormal rotation of quant's rotated types on one chunk of `rot` values: x ← H·D·x
 * (inverse: x ← D·Hᵀ·x), D the fixed signs, H = H_rot (power of two) or H12 ⊗ H_{rot/12}. */
static void kv_randh(float *x, int rot, int inverse) {
  const int pow2 = (rot & (rot - 1)) == 0;
  const int m = pow2 ? rot : rot / 12;
  const float s = (float)(1.0 / sqrt((double)rot));
  if (!inverse)
    for (int i = 0; i < rot; i++) x[i] *= kv_sign(i);
  if (pow2) {
    kv_fwht(x, rot);
  } else {
    float col[12];
    for (int r = 0; r < 12; r++) kv_fwht(x + r * m, m);
    for (int j = 0; j < m; j++) {
      for (int r = 0; r < 12; r++) {
        float a = 0;
        for (int l = 0; l < 12; l++) a += (float)(inverse ? kv_h12[l][r] : kv_h12[r][l]) * x[l * m + j];
        col[r] = a;
      }
      for (int r = 0; r < 12; r++) x[r * m + j] = col[r];
    }
  }
  for (int i = 0; i < rot; i++) x[i] *= inverse ? s * kv_sign(i) : s;
}

/* Smoothing scales of a layer (after the last layer's V rows), or NULL. */
static inline float *kv_smooth(const qk_kv *kv, int which, int64_t layer) {
  if (which || !(kv->k_mode & QK_KVM_SMOOTH)) return NULL;
  const size_t kr = qk_kv_row_bytes(kv, 0), vr = qk_kv_row_bytes(kv, 1);
  return (float *)((uint8_t *)kv->data + (size_t)kv->layers * (size_t)kv->ctx * (kr + vr)) + layer * kv->kv_dim;
}

void qk_kv_to_cache(const qk_kv *kv, int which, int64_t layer, float *x, int64_t c0, int64_t m) {
  const int rot = which ? kv->v_rot : kv->k_rot, mode = which ? kv->v_mode : kv->k_mode;
  const float *s = kv_smooth(kv, which, layer);
  if (s)
    for (int64_t i = 0; i < m; i++) x[i] /= s[c0 + i];
  if (!rot) return;
  if (!(mode & QK_KVM_RANDH)) { qk_hadamard(x, m, rot); return; }
  for (int64_t c = 0; c < m; c += rot) kv_randh(x + c, rot, 0);
}

void qk_kv_from_cache(const qk_kv *kv, int which, int64_t layer, float *x, int64_t c0, int64_t m) {
  const int rot = which ? kv->v_rot : kv->k_rot, mode = which ? kv->v_mode : kv->k_mode;
  if (rot && !(mode & QK_KVM_RANDH)) qk_hadamard(x, m, rot);
  else if (rot)
    for (int64_t c = 0; c < m; c += rot) kv_randh(x + c, rot, 1);
  const float *s = kv_smooth(kv, which, layer);
  if (s)
    for (int64_t i = 0; i < m; i++) x[i] *= s[c0 + i];
}

/* The query of K head g in the cache's domain: x ← R·(s ∘ x), so (R(s∘q))·(R(k/s)) = q·k. */
static void kv_query(const qk_kv *kv, int64_t layer, float *x, int64_t c0, int64_t m) {
  const float *s = kv_smooth(kv, 0, layer);
  if (s)
    for (int64_t i = 0; i < m; i++) x[i] *= s[c0 + i];
  if (!kv->k_rot) return;
  if (!(kv->k_mode & QK_KVM_RANDH)) { qk_hadamard(x, m, kv->k_rot); return; }
  for (int64_t c = 0; c < m; c += kv->k_rot) kv_randh(x + c, kv->k_rot, 0);
}

static int kv_cmp_float(const void *a, const void *b) {
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/*
 * The smoothing scales of a layer from the n rows of its first store (SmoothAttention's
 * λ = max|K|^α with α = 0.5, on RMS, relative to the head's median channel, never below 1): outlier
 * channels shrink to about the square root of their excess and the query carries the rest.
 */
static void kv_smooth_init(const qk_kv *kv, int64_t layer, const float *k, int64_t n, int64_t hd) {
  float *s = kv_smooth(kv, 0, layer);
  float sorted[1024];
  for (int64_t c = 0; c < kv->kv_dim; c++) {
    double a = 0;
    for (int64_t t = 0; t < n; t++) a += (double)k[t * kv->kv_dim + c] * k[t * kv->kv_dim + c];
    s[c] = (float)sqrt(a / (double)(n > 0 ? n : 1));
  }
  for (int64_t h0 = 0; h0 < kv->kv_dim; h0 += hd) {
    const int64_t m = hd < 1024 ? hd : 1024;
    memcpy(sorted, s + h0, (size_t)m * 4);
    qsort(sorted, (size_t)m, 4, kv_cmp_float);
    const float med = sorted[m / 2];
    for (int64_t c = h0; c < h0 + hd; c++) {
      float v = med > 0 && isfinite(s[c]) ? sqrtf(s[c] / med) : 1.0f;
      s[c] = v < 1.0f ? 1.0f : v > 1024.0f ? 1024.0f : v;
    }
  }
}

/*
 * Converts n floats to a cache type as llama.cpp's set_rows does (ggml-cpu's from_float): Q8_0 with
 * the CPU quantizer (multiplier 127/amax, round half to even), the other block types with ggml's
 * reference quantizers, F16/BF16 rounded to nearest even.
 */
static void kv_convert(int type, const float *src, uint8_t *dst, int64_t n) {
  if (type == QK_Q8_0) qk_quantize_act_q8_0(src, (blk_q8_0 *)dst, n);
  else qk_quantize(type, src, dst, 1, n, 0);
}

void qk_kv_convert_part(const qk_kv *kv, int which, const float *src, uint8_t *dst, int64_t n) {
  const int type = which ? kv->v_type : kv->k_type, mode = which ? kv->v_mode : kv->k_mode;
  if (mode & QK_KVM_SEARCH) qk_quantize(type, src, dst, 1, n, 1);
  else kv_convert(type, src, dst, n);
}

#define KV_PIECE 1024 /* floats converted at a time (a multiple of every rotation size and block) */

/* A cache's pages are mapped as it fills, KV_POPULATE positions of a layer at a time (one call, not a
 * page fault per page: see mem-advise.c), when a store reaches a block boundary or spans several. */
#define KV_POPULATE 64

static void kv_populate(const qk_kv *kv, int64_t layer, int64_t pos, int64_t n) {
  const int64_t b0 = pos / KV_POPULATE, b1 = (pos + n - 1) / KV_POPULATE;
  if (n <= 0 || (pos % KV_POPULATE != 0 && b0 == b1)) return;
  const int64_t r0 = b0 * KV_POPULATE, r1 = (b1 + 1) * KV_POPULATE < kv->ctx ? (b1 + 1) * KV_POPULATE : kv->ctx;
  for (int which = 0; which < 2; which++) {
    const size_t rb = qk_kv_row_bytes(kv, which);
    qk_mem_populate((uint8_t *)kv->data + kv_off(kv, layer, which, r0), (size_t)(r1 - r0) * rb);
  }
}

void qk_kv_store(const qk_kv *kv, int64_t layer, int64_t pos, int64_t n, const float *k, const float *v) {
  uint8_t *base = kv->data;
  float tmp[KV_PIECE];
  kv_populate(kv, layer, pos, n);
  for (int which = 0; which < 2; which++) {
    const float *src = which ? v : k;
    const int type = which ? kv->v_type : kv->k_type, rot = which ? kv->v_rot : kv->k_rot;
    const int mode = which ? kv->v_mode : kv->k_mode;
    const size_t rb = qk_kv_row_bytes(kv, which);
    uint8_t *dst = base + kv_off(kv, layer, which, pos);
    if (type == QK_F32 && !rot && !mode) {
      memcpy(dst, src, (size_t)n * rb);
      continue;
    }
    /* a store from position 0 starts the layer afresh: its rows set the smoothing scales */
    if (!which && (mode & QK_KVM_SMOOTH) && pos == 0 && n > 0) kv_smooth_init(kv, layer, src, n, rot ? rot : kv->kv_dim);
    /* a piece: the rotation size, else as much of the row as fits (whole 32-blocks) */
    int64_t piece = rot ? rot : (kv->kv_dim < KV_PIECE ? kv->kv_dim : KV_PIECE);
    for (int64_t t = 0; t < n; t++) {
      const float *row = src + t * kv->kv_dim;
      uint8_t *out = dst + (size_t)t * rb;
      for (int64_t c = 0; c < kv->kv_dim; c += piece) {
        const int64_t m = kv->kv_dim - c < piece ? kv->kv_dim - c : piece;
        memcpy(tmp, row + c, (size_t)m * 4);
        qk_kv_to_cache(kv, which, layer, tmp, c, m);
        qk_kv_convert_part(kv, which, tmp, out + qk_row_bytes(type, c), m);
      }
    }
  }
}

/* The part that pool item w belongs to, for parts whose first items are first[0..n) (first[0] = 0,
 * ascending; first[n] = the total): the last part whose first item is ≤ w. */
static int64_t part_of(const int64_t *first, int64_t n, int64_t w) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (first[mid] <= w) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* Rows a pool item of qk_kv_store_segments stores (a prompt chunk's rows spread over the threads). */
#define KV_STORE_ROWS 32

typedef struct {
  const qk_attn_segment *segs;
  const int64_t *first; /* first item of each segment, and the total after the last */
  int64_t nseg, layer;
  const float *k, *v;
} kv_store_job;

/* A cache whose first store sets its smoothing scales stores a segment in one item (the scales come
 * from all the rows of that store); any other converts each row on its own. */
static int64_t kv_store_items(const qk_attn_segment *g) {
  if (g->kv.k_mode & QK_KVM_SMOOTH) return 1;
  return (g->n_tokens + KV_STORE_ROWS - 1) / KV_STORE_ROWS;
}

static void kv_store_chunk(void *arg, int64_t w, int ith) {
  QK_JOB(kv_store_job, j, arg);
  (void)ith;
  const int64_t s = part_of(j->first, j->nseg, w);
  const qk_attn_segment *g = &j->segs[s];
  const int64_t items = j->first[s + 1] - j->first[s], i = w - j->first[s];
  const int64_t t0 = items == 1 ? 0 : i * KV_STORE_ROWS;
  const int64_t n = items == 1 ? g->n_tokens : (g->n_tokens - t0 < KV_STORE_ROWS ? g->n_tokens - t0 : KV_STORE_ROWS);
  const size_t off = (size_t)(g->row + t0) * (size_t)g->kv.kv_dim;
  qk_kv_store(&g->kv, j->layer, g->pos + t0, n, j->k + off, j->v + off);
}

/* Pool items of up to KV_STORE_ROWS rows of a segment: a decoding row's store is a few µs, but its
 * first write to fresh cache pages can cost ~25 µs on a virtual machine (the host maps them), so the
 * sequences' stores overlap; a prompt chunk's conversion is spread over the threads. */
int qk_kv_store_segments(qk_ctx *c, const qk_attn_segment *segs, int64_t nseg, int64_t layer, const float *k,
                         const float *v) {
  if (nseg <= 0) return 0;
  int64_t *first = malloc((size_t)(nseg + 1) * sizeof(*first));
  if (!first) return -2;
  first[0] = 0;
  for (int64_t s = 0; s < nseg; s++) first[s + 1] = first[s] + (segs[s].n_tokens > 0 ? kv_store_items(&segs[s]) : 0);
  kv_store_job j = { segs, first, nseg, layer, k, v };
  qk_pool_run(c->pool, kv_store_chunk, &j, first[nseg], first[nseg] > 1 ? c->nthreads : 1);
  free(first);
  return 0;
}

void qk_kv_shift(const qk_kv *kv, int64_t from, int64_t to, int64_t count) {
  uint8_t *base = kv->data;
  for (int64_t l = 0; l < kv->layers; l++)
    for (int which = 0; which < 2; which++)
      memmove(base + kv_off(kv, l, which, to), base + kv_off(kv, l, which, from), (size_t)count * qk_kv_row_bytes(kv, which));
}

typedef struct {
  qk_ctx *c;
  float *out;
  const float *q;
  const qk_kv *kv;
  int64_t layer;
  const qk_attn_params *p;
  float *scores; /* nth × stride: f32 scores (f32 cache) or f16 query + accumulator (f16 cache) */
  int64_t stride;
  int64_t hb; /* heads per work item (attn_heads_f16's blocks; 1 on the other paths) */
} attn_job;

/*
 * ggml's f16 K·Q dot (ggml_vec_dot_f16 as built for AVX2): 32-element steps summed into 4×8 f32
 * lanes, reduced (lanes j and j+2, then j and j+1, then the two 128-bit halves, then two
 * horizontal adds), the leftover elements added in double. Both operands are f16 values, so every
 * product is exact in f32 and an add equals ggml's fused multiply-add. Written portably so every
 * backend gives llama.cpp's bits.
 */
float qk_fa_dot_f16(int64_t n, const uint16_t *x, const uint16_t *y) {
  const int64_t np = n & ~(int64_t)31;
  double sumf = 0;
  if (np > 0) {
    float s[4][8] = { { 0 } };
    for (int64_t i = 0; i < np; i += 32)
      for (int j = 0; j < 4; j++)
        for (int l = 0; l < 8; l++) s[j][l] += qk_h2f(x[i + j * 8 + l]) * qk_h2f(y[i + j * 8 + l]);
    for (int l = 0; l < 8; l++) { s[0][l] += s[2][l]; s[1][l] += s[3][l]; }
    for (int l = 0; l < 8; l++) s[0][l] += s[1][l];
    float t0[4];
    for (int l = 0; l < 4; l++) t0[l] = s[0][l] + s[0][l + 4];
    sumf = (double)((t0[0] + t0[1]) + (t0[2] + t0[3]));
  }
  for (int64_t i = np; i < n; i++) sumf += (double)(qk_h2f(x[i]) * qk_h2f(y[i]));
  return (float)sumf;
}

/*
 * llama.cpp's CPU flash attention for an f16 KV cache (ggml_compute_forward_flash_attn_ext_f16,
 * the path llama.cpp takes by default on CPU): the query is converted to f16, scores are f16·f16
 * dots, and the softmax is online with the V accumulator held in f16: on a new maximum the
 * accumulator is rescaled (acc = f16(acc·e^(Mold−M))), then acc = f16(acc + v·e^(s−M)) (a fused
 * multiply-add in ggml, emulated exactly here in double), S = S·ms + vs; finally out = f32(acc)/S.
 */
void qk_fa_scale_f16(int64_t n, uint16_t *y, float v) {
  for (int64_t i = 0; i < n; i++) y[i] = qk_f2h(qk_h2f(y[i]) * v);
}

/* y = f16(y + x·v) with one rounding before the f16 conversion (ggml's fused multiply-add),
 * emulated in double: x·v is exact there. */
void qk_fa_mad_f16(int64_t n, uint16_t *y, const uint16_t *x, float v) {
  for (int64_t i = 0; i < n; i++) y[i] = qk_f2h((float)((double)qk_h2f(x[i]) * (double)v + (double)qk_h2f(y[i])));
}

/*
 * A K·Q dot to the score the softmax sees, with llama.cpp's attention logit soft-capping when
 * p->softcap != 0. Flash attention (ggml_compute_forward_flash_attn_ext_f16) divides the scale by
 * the cap once, then s = cap·tanhf(dot·scale'); the standard path (build_attn_mha: ggml_scale by
 * 1/cap, ggml_tanh, ggml_scale by cap, then soft_max_ext's scale) caps the raw dot and scales after.
 */
static inline float score_flash(float dot, const qk_attn_params *p) {
  if (p->softcap == 0.0f) return dot * p->scale;
  const float scale = p->scale / p->softcap;
  return p->softcap * tanhf(dot * scale);
}

static inline float score_std(float dot, const qk_attn_params *p) {
  if (p->softcap == 0.0f) return dot * p->scale;
  const float inv = 1.0f / p->softcap;
  return tanhf(dot * inv) * p->softcap * p->scale;
}

/* Prefetches n bytes from p (the f16 decode path asks for the V slices it will sum after a block of
 * keys: see attn_heads_f16). */
static inline void kv_prefetch(const uint8_t *p, size_t n) {
#if defined(__GNUC__) || defined(__clang__)
  for (size_t o = 0; o < n; o += 64) __builtin_prefetch(p + o);
  __builtin_prefetch(p + n - 1);
#else
  (void)p; (void)n;
#endif
}

/*
 * The f16 flash path (llama.cpp's one_chunk above, per head) for nh consecutive heads of one query
 * row at once, walking the keys in blocks of ATTN_KB: each key's K row is read once for all the
 * heads (one run of nh·head_dim values; head by head, a head's slices of consecutive keys are a
 * cache row apart — 6 KiB for Phi-3.5 — each a new page to the hardware prefetchers, so every key
 * waited on memory), its V row is prefetched, and after the block each head sums the block's V rows
 * (fa_vsum_f16 resumes from the stored f16 accumulator: the values it keeps in registers are f16
 * already). Per head the operations and their order are the same whatever nh is, so are the bits.
 * Scratch: attn_heads_stride floats.
 */
#define ATTN_KB 64
static int64_t attn_heads_stride(int64_t nh, int64_t hd) { return nh * hd + 2 * nh + 2 * nh * ATTN_KB + 16; }

static void attn_heads_f16(const qk_vec_ops *vt, const qk_attn_params *p, const uint8_t *kb, const uint8_t *vb,
                           size_t rowb, int64_t h0, int64_t nh, int64_t j0, int64_t pos, const float *q, float *o,
                           float *sc) {
  const int64_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads;
  uint16_t *q16 = (uint16_t *)sc, *acc = q16 + nh * hd;
  float *M = sc + nh * hd, *S = M + nh, *fac = S + nh; /* fac: per head ATTN_KB ms then ATTN_KB vs */
  const int64_t g0 = h0 / group, g1 = (h0 + nh - 1) / group; /* the K/V heads the block reads */
  const size_t off = (size_t)g0 * hd * 2, span = (size_t)(g1 - g0 + 1) * hd * 2;
  for (int64_t i = 0; i < nh; i++) {
    qk_f32_to_f16_row(q + i * hd, q16 + i * hd, hd);
    memset(acc + i * hd, 0, (size_t)hd * sizeof(*acc));
    M[i] = -INFINITY;
    S[i] = 0.0f;
  }
  for (int64_t b0 = j0; b0 <= pos; b0 += ATTN_KB) {
    const int64_t nk = pos - b0 + 1 < ATTN_KB ? pos - b0 + 1 : ATTN_KB;
    for (int64_t k = b0; k < b0 + nk; k++) {
      const uint8_t *kr = kb + (size_t)k * rowb;
      kv_prefetch(vb + (size_t)k * rowb + off, span); /* summed after the block (K rows stream in order) */
      for (int64_t i = 0; i < nh; i++) {
        const int64_t g = (h0 + i) / group;
        const float s = score_flash(vt->fa_dot_f16(hd, (const uint16_t *)kr + g * hd, q16 + i * hd), p);
        float ms = 1.0f, vs = 1.0f;
        if (s > M[i]) {
          const float Mold = M[i];
          M[i] = s;
          ms = expf(Mold - s);
        } else {
          vs = expf(s - M[i]);
        }
        fac[i * 2 * ATTN_KB + (k - b0)] = ms;
        fac[i * 2 * ATTN_KB + ATTN_KB + (k - b0)] = vs;
        S[i] = S[i] * ms + vs;
      }
    }
    for (int64_t i = 0; i < nh; i++) {
      const int64_t g = (h0 + i) / group;
      const uint8_t *v0 = vb + (size_t)b0 * rowb + (size_t)g * hd * 2;
      const float *msv = fac + i * 2 * ATTN_KB, *vsv = msv + ATTN_KB;
      uint16_t *a = acc + i * hd;
      if (vt->fa_vsum_f16) {
        vt->fa_vsum_f16(hd, a, v0, rowb, nk, msv, vsv);
      } else {
        for (int64_t k = 0; k < nk; k++) {
          if (msv[k] != 1.0f) vt->fa_scale_f16(hd, a, msv[k]);
          vt->fa_mad_f16(hd, a, (const uint16_t *)(v0 + (size_t)k * rowb), vsv[k]);
        }
      }
    }
  }
  for (int64_t i = 0; i < nh; i++) {
    const float inv = S[i] == 0.0f ? 0.0f : 1.0f / S[i];
    qk_f16_to_f32_row(acc + i * hd, o + i * hd, hd);
    for (int64_t c = 0; c < hd; c++) o[i * hd + c] *= inv;
  }
}

/*
 * llama.cpp's standard (non-flash) attention for an f16 KV cache (build_attn_mha without flash
 * attention: kq = mul_mat(K, Q); soft_max_ext; kqv = mul_mat(V^T, P)). A mul_mat with an f16 src0
 * converts its f32 src1 to f16, so the query is rounded to f16 and scores are f16·f16 dots
 * accumulated in f32; the softmax runs in f32 over the whole (masked) row: w = s·scale, e = exp(w−max),
 * summed in f32 groups of 8 positions (aligned at position 0, reduced as ggml's AVX2
 * ggml_vec_soft_max_f32 does) added into a double; P = e·(float)(1/sum) is then rounded to f16 for
 * the second mul_mat, and each output element is an f16·f16 dot of a V column with P over positions
 * 0..pos (masked ones are exact zeros; the row is zero-padded to a multiple of 32 like llama.cpp's
 * padded KV length), accumulated in f32.
 * Scratch `sc`: n32 floats of scores, then n32 f16 probabilities, n32 f16 V column, head_dim f16 query.
 */
static void attn_head_f16_std(const qk_vec_ops *vt, const qk_attn_params *p, const uint8_t *kb, const uint8_t *vb,
                              size_t rowb, int64_t g, int64_t j0, int64_t pos, const float *qh, float *oh, float *sc) {
  const int64_t hd = p->head_dim, n32 = (pos + 1 + 31) & ~(int64_t)31;
  uint16_t *pr = (uint16_t *)(sc + n32), *vc = pr + n32, *q16 = vc + n32;
  for (int64_t i = 0; i < hd; i++) q16[i] = qk_f2h(qh[i]);
  float max = -INFINITY;
  for (int64_t k = j0; k <= pos; k++) {
    const uint16_t *kr = (const uint16_t *)(kb + (size_t)k * rowb) + g * hd;
    const float s = score_std(vt->fa_dot_f16(hd, kr, q16), p);
    sc[k] = s;
    if (s > max) max = s;
  }
  for (int64_t k = 0; k < j0; k++) sc[k] = 0.0f;
  for (int64_t k = j0; k <= pos; k++) sc[k] = expf(sc[k] - max);
  for (int64_t k = pos + 1; k < n32; k++) sc[k] = 0.0f;
  double sum = 0;
  for (int64_t k = 0; k < n32; k += 8) {
    const float *e = sc + k;
    const float a0 = e[0] + e[4], a1 = e[1] + e[5], a2 = e[2] + e[6], a3 = e[3] + e[7];
    sum += (double)((a0 + a2) + (a1 + a3));
  }
  const float inv = (float)(1.0 / sum);
  for (int64_t k = 0; k < n32; k++) pr[k] = qk_f2h(sc[k] * inv);
  for (int64_t i = 0; i < hd; i++) {
    for (int64_t k = 0; k < j0; k++) vc[k] = 0;
    for (int64_t k = j0; k <= pos; k++) vc[k] = ((const uint16_t *)(vb + (size_t)k * rowb))[g * hd + i];
    for (int64_t k = pos + 1; k < n32; k++) vc[k] = 0;
    oh[i] = vt->fa_dot_f16(n32, vc, pr);
  }
}

/*
 * llama.cpp's CPU flash attention (ggml_compute_forward_flash_attn_ext_f16_one_chunk) for every
 * other K/V type pair, reading the cache row by row in its stored type (no dequantized copy):
 * the query is converted to K's vec_dot type (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1,
 * F16/BF16 for half K, F32 for F32 K) and scored with the type's vec_dot; the softmax is online;
 * an F16 V is accumulated in f16 (as attn_head_f16), any other V is converted to f32 one row at a
 * time and accumulated in f32. With a rotated cache the query is rotated first (K) and the output
 * rotated back (V). Scratch `sc`: 4·head_dim floats.
 */
static void attn_head_typed(const qk_vec_ops *vt, const qk_attn_params *p, const qk_kv *kv, int64_t layer,
                            const uint8_t *kb, const uint8_t *vb, int64_t g, int64_t j0, int64_t pos,
                            const float *qh, float *oh, float *sc) {
  const int64_t hd = p->head_dim;
  const size_t krow = qk_kv_row_bytes(kv, 0), vrow = qk_kv_row_bytes(kv, 1);
  const size_t koff = qk_row_bytes(kv->k_type, g * hd), voff = qk_row_bytes(kv->v_type, g * hd);
  float *qr = sc, *acc = sc + hd, *v32 = sc + 2 * hd;
  void *qq = sc + 3 * hd;
  memcpy(qr, qh, (size_t)hd * 4);
  kv_query(kv, layer, qr, g * hd, hd);
  const int kt = kv->k_type, vdt = qk_vec_dot_type(kt);
  qk_vec_dot_fn kdot = qk_types[kt].vec[vt->isa].dot;
  if (kt == QK_F32) { qq = qr; kdot = qk_types[QK_F32].vec[vt->isa].dot; }
  else if (kt == QK_F16) qk_act_f16(qr, qq, hd);
  else if (kt == QK_BF16) qk_act_bf16(qr, qq, hd);
  else if (vdt == QK_Q8_1) qk_quantize_act_q8_1(qr, qq, hd);
  else qk_quantize_act_q8_0(qr, qq, hd);
  const int v16 = kv->v_type == QK_F16;
  uint16_t *acc16 = (uint16_t *)acc;
  if (v16) memset(acc16, 0, (size_t)hd * 2);
  else memset(acc, 0, (size_t)hd * 4);
  float M = -INFINITY, S = 0.0f;
  for (int64_t k = j0; k <= pos; k++) {
    const uint8_t *kr = kb + (size_t)k * krow + koff;
    const uint8_t *vr = vb + (size_t)k * vrow + voff;
    const float s = score_flash(kt == QK_F16 ? vt->fa_dot_f16(hd, (const uint16_t *)kr, qq) : kdot(hd, kr, qq), p);
    float ms = 1.0f, vs = 1.0f;
    if (s > M) {
      const float Mold = M;
      M = s;
      ms = expf(Mold - M);
      if (v16) vt->fa_scale_f16(hd, acc16, ms);
      else for (int64_t i = 0; i < hd; i++) acc[i] *= ms;
    } else {
      vs = expf(s - M);
    }
    if (v16) {
      vt->fa_mad_f16(hd, acc16, (const uint16_t *)vr, vs);
    } else if (kv->v_type == QK_F32) {
      vt->axpy_f32(hd, vs, (const float *)vr, acc);
    } else {
      qk_dequantize(kv->v_type, vr, v32, hd);
      vt->axpy_f32(hd, vs, v32, acc);
    }
    S = S * ms + vs;
  }
  const float inv = S == 0.0f ? 0.0f : 1.0f / S;
  if (v16) for (int64_t i = 0; i < hd; i++) oh[i] = qk_h2f(acc16[i]) * inv;
  else for (int64_t i = 0; i < hd; i++) oh[i] = acc[i] * inv;
  qk_kv_from_cache(kv, 1, layer, oh, g * hd, hd);
}


/*
 * llama.cpp's tiled CPU flash attention (ggml_compute_forward_flash_attn_ext_tiled), which it runs
 * instead of the row-by-row kernel (attn_head_f16) when the batch has at least 64 query rows
 * (GGML_FA_TILE_Q) over an F16 K/V pair: the query stays f32, K and V are widened to f32, scores are
 * f32 dots, the softmax is online over tiles of 64 cache positions aligned at position 0 (a tile's
 * exponentials summed in groups of 8 into a double, as ggml_vec_soft_max_f32 does), and the V
 * accumulator is f32. A work item is TILED_ROWS consecutive query rows of one head: each K and V row
 * of a tile is widened once for all of them (once per row, it was as much work as the dot products).
 * Where the ISA has them, a row's scores are 8 keys' dots at a time (dot_rows_f32) and its V sum
 * keeps the output in registers across the tile's keys (axpy_rows_f32: the same FMAs in the same
 * order as axpy_f32); otherwise dot_f32/axpy_f32 per key. Every row runs its own fixed sequence of
 * operations — its tiles, its scores, rescaling, exp sums and V accumulation in key order — so its
 * result does not depend on which rows share its block, its pass or its batch.
 * Scratch: TILED_STRIDE floats.
 */
#define TILED_ROWS 32
#define TILED_STRIDE(hd) ((hd) + TILED_ROWS * 64 + 64 * (hd))
static void attn_block_tiled(const qk_vec_ops *vt, const qk_attn_params *p, const uint8_t *kb, const uint8_t *vb,
                             size_t rowb, int64_t g, int64_t h, int64_t t_first, int64_t nr, const float *q, float *out,
                             float *sc) {
  const int64_t hd = p->head_dim, width = p->n_heads * hd;
  float *k32 = sc, *e = sc + hd, *v32 = sc + hd + TILED_ROWS * 64; /* v32: up to 64 rows */
  if (nr <= 0 || nr > TILED_ROWS) return;
  float M[TILED_ROWS], S[TILED_ROWS];
  int64_t j0[TILED_ROWS] = { 0 }, pos[TILED_ROWS] = { 0 };
  const float *qh[TILED_ROWS];
  float *oh[TILED_ROWS];
  for (int64_t r = 0; r < nr; r++) {
    pos[r] = p->pos + t_first + r;
    j0[r] = p->window > 0 && pos[r] - p->window + 1 > 0 ? pos[r] - p->window + 1 : 0;
    qh[r] = q + (t_first + r) * width + h * hd;
    oh[r] = out + (t_first + r) * width + h * hd;
    for (int64_t i = 0; i < hd; i++) oh[r][i] = 0.0f;
    M[r] = -INFINITY;
    S[r] = 0.0f;
  }
  /* j0 and pos grow with the row: the block's tiles run from row 0's first to the last row's last */
  for (int64_t t0 = j0[0] & ~(int64_t)63; t0 <= pos[nr - 1]; t0 += 64) {
    int64_t a[TILED_ROWS], b[TILED_ROWS], kmin = INT64_MAX, kmax = -1;
    float tmax[TILED_ROWS];
    for (int64_t r = 0; r < nr; r++) {
      const int on = t0 >= (j0[r] & ~(int64_t)63) && t0 <= pos[r]; /* the row has keys in this tile */
      a[r] = on ? (t0 < j0[r] ? j0[r] : t0) : 1;
      b[r] = on ? (t0 + 63 < pos[r] ? t0 + 63 : pos[r]) : 0;
      if (on && a[r] < kmin) kmin = a[r];
      if (on && b[r] > kmax) kmax = b[r];
      tmax[r] = -INFINITY;
      for (int64_t k = 0; k < 64; k++) e[r * 64 + k] = -INFINITY;
    }
    if (vt->dot_rows_f32) { /* the tile's K rows widened once, then 8 keys' dots at a time per query row */
      for (int64_t k = kmin; k <= kmax; k++)
        qk_f16_to_f32_row((const uint16_t *)(kb + (size_t)k * rowb) + g * hd, v32 + (k - kmin) * hd, hd);
      for (int64_t r = 0; r < nr; r++) {
        if (a[r] > b[r]) continue;
        float *er = e + r * 64 + a[r] - t0;
        vt->dot_rows_f32(hd, b[r] - a[r] + 1, v32 + (a[r] - kmin) * hd, qh[r], er);
        for (int64_t k = 0; k <= b[r] - a[r]; k++) {
          er[k] = score_flash(er[k], p);
          if (er[k] > tmax[r]) tmax[r] = er[k];
        }
      }
    } else {
      for (int64_t k = kmin; k <= kmax; k++) {
        qk_f16_to_f32_row((const uint16_t *)(kb + (size_t)k * rowb) + g * hd, k32, hd);
        for (int64_t r = 0; r < nr; r++) {
          if (k < a[r] || k > b[r]) continue;
          const float s = score_flash(vt->dot_f32(hd, k32, qh[r]), p);
          e[r * 64 + k - t0] = s;
          if (s > tmax[r]) tmax[r] = s;
        }
      }
    }
    for (int64_t r = 0; r < nr; r++) {
      if (a[r] > b[r]) continue;
      float *er = e + r * 64;
      const float Mnew = M[r] > tmax[r] ? M[r] : tmax[r];
      if (Mnew > M[r]) {
        const float ms = expf(M[r] - Mnew);
        for (int64_t i = 0; i < hd; i++) oh[r][i] *= ms;
        S[r] *= ms;
      }
      M[r] = Mnew;
      double sum = 0;
      for (int64_t k = 0; k < 64; k += 8) {
        float x[8];
        for (int l = 0; l < 8; l++) x[l] = er[k + l] = expf(er[k + l] - M[r]);
        const float a0 = x[0] + x[4], a1 = x[1] + x[5], a2 = x[2] + x[6], a3 = x[3] + x[7];
        sum += (double)((a0 + a2) + (a1 + a3));
      }
      S[r] = (float)((double)S[r] + sum);
    }
    if (vt->axpy_rows_f32) { /* the tile's V rows widened once, then each row's sum with its output in registers */
      for (int64_t k = kmin; k <= kmax; k++)
        qk_f16_to_f32_row((const uint16_t *)(vb + (size_t)k * rowb) + g * hd, v32 + (k - kmin) * hd, hd);
      for (int64_t r = 0; r < nr; r++)
        if (a[r] <= b[r]) vt->axpy_rows_f32(hd, b[r] - a[r] + 1, e + r * 64 + a[r] - t0, v32 + (a[r] - kmin) * hd, oh[r]);
    } else {
      for (int64_t k = kmin; k <= kmax; k++) {
        qk_f16_to_f32_row((const uint16_t *)(vb + (size_t)k * rowb) + g * hd, v32, hd);
        for (int64_t r = 0; r < nr; r++)
          if (k >= a[r] && k <= b[r]) vt->axpy_f32(hd, e[r * 64 + k - t0], v32, oh[r]);
      }
    }
  }
  for (int64_t r = 0; r < nr; r++) {
    const float inv = S[r] == 0.0f ? 0.0f : 1.0f / S[r];
    for (int64_t i = 0; i < hd; i++) oh[r][i] *= inv;
  }
}

/* The pair takes the f16 or f32 paths above (exactly llama.cpp's / exact softmax), not the typed one. */
static int kv_plain(const qk_kv *kv) {
  return kv->k_type == kv->v_type && (kv->k_type == QK_F16 || kv->k_type == QK_F32) && !kv->k_rot && !kv->v_rot &&
         !kv->k_mode && !kv->v_mode;
}

/* The pair and mode attn_heads_f16 serves. */
static int f16_flash(const qk_kv *kv, const qk_attn_params *p) { return kv_plain(kv) && kv->k_type == QK_F16 && p->flash; }

static void attn_chunk(void *arg, int64_t w, int ith) {
  QK_JOB(attn_job, j, arg);
  QK_JOB(qk_attn_params, p, j->p);
  const qk_kv *kv = j->kv;
  const qk_vec_ops *vt = &j->c->vt;
  const int64_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads;
  float *sc = j->scores + (size_t)ith * (size_t)j->stride;
  const uint8_t *kb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 0, 0);
  const uint8_t *vb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 1, 0);
  const int is_f16 = kv->k_type == QK_F16;
  const size_t rowb = qk_kv_row_bytes(kv, 0);
  if (f16_flash(kv, p)) { /* j->hb heads of a row (attn_heads_f16) */
    const int64_t nb = (p->n_heads + j->hb - 1) / j->hb, t = w / nb, h0 = (w % nb) * j->hb;
    const int64_t nh = p->n_heads - h0 < j->hb ? p->n_heads - h0 : j->hb, pos = p->pos + t;
    const int64_t j0 = p->window > 0 && pos - p->window + 1 > 0 ? pos - p->window + 1 : 0;
    attn_heads_f16(vt, p, kb, vb, rowb, h0, nh, j0, pos, j->q + (t * p->n_heads + h0) * hd,
                   j->out + (t * p->n_heads + h0) * hd, sc);
    return;
  }
  {
    const int64_t t = w / p->n_heads, h = w % p->n_heads, g = h / group;
    const int64_t pos = p->pos + t;
    int64_t j0 = 0;
    if (p->window > 0 && pos - p->window + 1 > 0) j0 = pos - p->window + 1;
    const float *qh = j->q + (t * p->n_heads + h) * hd;
    float *oh = j->out + (t * p->n_heads + h) * hd;
    if (!kv_plain(kv)) {
      attn_head_typed(vt, p, kv, j->layer, kb, vb, g, j0, pos, qh, oh, sc);
      return;
    }
    if (is_f16 && !p->flash) {
      attn_head_f16_std(vt, p, kb, vb, rowb, g, j0, pos, qh, oh, sc);
      return;
    }
    /* (f16 flash: above; 64+ query rows with head sizes a multiple of 8 take the tiled kernel: tiled_chunk) */
    float max = -INFINITY;
    for (int64_t k = j0; k <= pos; k++) {
      const uint8_t *kr = kb + (size_t)k * rowb + (size_t)g * hd * 4;
      const float d = vt->dot_f32(hd, (const float *)kr, qh);
      const float s = p->flash ? score_flash(d, p) : score_std(d, p);
      sc[k] = s;
      if (s > max) max = s;
    }
    float sum = 0;
    for (int64_t k = j0; k <= pos; k++) { sc[k] = expf(sc[k] - max); sum += sc[k]; }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < hd; i++) oh[i] = 0;
    for (int64_t k = j0; k <= pos; k++) {
      const uint8_t *vr = vb + (size_t)k * rowb + (size_t)g * hd * 4;
      vt->axpy_f32(hd, sc[k] * inv, (const float *)vr, oh);
    }
  }
}

/*
 * Prompt evaluation over a quantized, mixed or rotated cache (the pairs attn_head_typed reads),
 * for passes of QTILE_MIN_TOKENS+ query tokens. attn_head_typed reads the cache once per query
 * row: a K vec_dot and a full V dequantization per (query, key) — for a 4K prompt with a q4_0
 * cache that made attention ~85% of the time. Here one chunk is one KV head and a tile of query
 * tokens (every head of its group: up to QTILE_ROWS query rows); it converts QTILE_KV K rows and V
 * rows of that head to f32 once (the cache's dequantizer, still in the rotated space), then runs
 * every query row over them: f32 dots with the query (rotated like the keys and converted to K's
 * vec_dot type as llama.cpp does, then widened back), an online softmax rescaled once per KV tile,
 * V accumulated in f32, out = acc/S rotated back. So each K/V row is converted once per query tile
 * instead of once per query.
 * The same scores as attn_head_typed (llama.cpp's one_chunk) up to f32 rounding; the softmax and V
 * sums are ordered per tile. An f16 V keeps the per-row path (llama.cpp accumulates it in f16).
 * Decoding (fewer tokens) keeps attn_head_typed.
 */
#define QTILE_KV 64
#define QTILE_ROWS 64
#define QTILE_MIN_TOKENS 16

/* Types qk_dequantize converts (a new cache type takes the per-row path until it is listed). */
static int qtile_type(int t) {
  return t == QK_F32 || t == QK_F16 || t == QK_BF16 || t == QK_Q8_0 || t == QK_Q4_0 || t == QK_Q4_1 ||
         t == QK_Q5_0 || t == QK_Q5_1 || t == QK_IQ4_NL;
}

/* An f16 V keeps the per-row path: llama.cpp accumulates it in f16, which a tile cannot reproduce. */
static int qtile_applies(const qk_kv *kv, const qk_attn_params *p) {
  return !kv_plain(kv) && p->n_tokens >= QTILE_MIN_TOKENS && qtile_type(kv->k_type) && qtile_type(kv->v_type) &&
         kv->v_type != QK_F16;
}

/* Query tokens per chunk: QTILE_ROWS query rows over the group's heads. */
static int64_t qtile_tokens(const qk_attn_params *p) {
  const int64_t t = QTILE_ROWS / (p->n_heads / p->n_kv_heads);
  return t < 1 ? 1 : t;
}

/* Scratch floats per thread: K and V tiles, the tile's queries and accumulators, M and S, scores,
 * and for a Q8_1 query the per-block terms (below). */
static int64_t qtile_stride(const qk_attn_params *p) {
  const int64_t hd = p->head_dim, rows = qtile_tokens(p) * (p->n_heads / p->n_kv_heads);
  return 2 * QTILE_KV * hd + 2 * rows * hd + 2 * rows + QTILE_KV + (rows + QTILE_KV) * (hd / 32 + 1) + 16;
}

/*
 * The query as K's vec_dot type holds it (what attn_head_typed and llama.cpp score with), back in
 * f32: Q8_0 or Q8_1 blocks (d·q), F16 or BF16 values. An f32 dot of it with a dequantized K row is
 * then the vec_dot's value up to f32 rounding — for Q8_1 once `corr` is added: ggml's q4_1/q5_1
 * vec_dot adds each K block's offset m times the block's stored s = f16(d·Σq), the dot with the
 * dequantized row m times d·Σq, so corr[b] = s − d·Σq (the score gains Σ_b m_b·corr[b]).
 * `tmp`: room for the converted row.
 */
static void qtile_query_as_k(int kt, float *x, int64_t hd, void *tmp, float *corr) {
  if (kt == QK_F32) return;
  if (kt == QK_F16 || kt == QK_BF16) {
    uint16_t *h = tmp;
    if (kt == QK_F16) qk_act_f16(x, h, hd);
    else qk_act_bf16(x, h, hd);
    for (int64_t i = 0; i < hd; i++) x[i] = kt == QK_F16 ? qk_h2f(h[i]) : qk_bf2f(h[i]);
    return;
  }
  if (qk_vec_dot_type(kt) == QK_Q8_1) {
    blk_q8_1 *b = tmp;
    qk_quantize_act_q8_1(x, b, hd);
    for (int64_t i = 0; i < hd; i++) x[i] = qk_h2f(b[i / 32].d) * (float)b[i / 32].qs[i % 32];
    for (int64_t c = 0; c < hd / 32; c++) {
      int sum = 0;
      for (int i = 0; i < 32; i++) sum += b[c].qs[i];
      corr[c] = qk_h2f(b[c].s) - qk_h2f(b[c].d) * (float)sum;
    }
    return;
  }
  qk_quantize_act_q8_0(x, tmp, hd);
  qk_dequantize(QK_Q8_0, tmp, x, hd);
}

static void qtile_chunk(void *arg, int64_t w, int ith) {
  QK_JOB(attn_job, j, arg);
  QK_JOB(qk_attn_params, p, j->p);
  const qk_kv *kv = j->kv;
  const qk_vec_ops *vt = &j->c->vt;
  const int64_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads, qt = qtile_tokens(p);
  const int64_t g = w % p->n_kv_heads, t0 = (w / p->n_kv_heads) * qt;
  const int64_t t1 = t0 + qt < p->n_tokens ? t0 + qt : p->n_tokens;
  const int64_t rows = (t1 - t0) * group, rmax = qt * group;
  float *kt = j->scores + (size_t)ith * (size_t)j->stride;
  float *vtl = kt + QTILE_KV * hd, *qs = vtl + QTILE_KV * hd, *acc = qs + rmax * hd;
  float *M = acc + rmax * hd, *S = M + rmax, *sc = S + rmax;
  const int64_t nb = hd / 32, q81 = qk_vec_dot_type(kv->k_type) == QK_Q8_1;
  float *qcorr = sc + QTILE_KV, *kmin = qcorr + rmax * nb; /* Q8_1: per query block, per K row block */
  const uint8_t *kb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 0, 0);
  const uint8_t *vb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 1, 0);
  const size_t krow = qk_kv_row_bytes(kv, 0), vrow = qk_kv_row_bytes(kv, 1);
  const size_t koff = qk_row_bytes(kv->k_type, g * hd), voff = qk_row_bytes(kv->v_type, g * hd);
  /* row r: token t0 + r / group, head g·group + r % group */
  for (int64_t r = 0; r < rows; r++) {
    const int64_t t = t0 + r / group, h = g * group + r % group;
    memcpy(qs + r * hd, j->q + (t * p->n_heads + h) * hd, (size_t)hd * 4);
    kv_query(kv, j->layer, qs + r * hd, g * hd, hd);
    qtile_query_as_k(kv->k_type, qs + r * hd, hd, vtl, qcorr + r * nb);
    memset(acc + r * hd, 0, (size_t)hd * 4);
    M[r] = -INFINITY;
    S[r] = 0.0f;
  }
  const int64_t first = p->pos + t0, last = p->pos + t1 - 1;
  int64_t lo = 0;
  if (p->window > 0 && first - p->window + 1 > 0) lo = first - p->window + 1;
  for (int64_t k0 = lo; k0 <= last; k0 += QTILE_KV) {
    const int64_t k1 = k0 + QTILE_KV <= last + 1 ? k0 + QTILE_KV : last + 1;
    for (int64_t k = k0; k < k1; k++) {
      qk_dequantize(kv->k_type, kb + (size_t)k * krow + koff, kt + (k - k0) * hd, hd);
      qk_dequantize(kv->v_type, vb + (size_t)k * vrow + voff, vtl + (k - k0) * hd, hd);
      if (q81) /* q4_1 and q5_1 blocks start with f16 d, f16 m */
        for (int64_t c = 0; c < nb; c++) {
          uint16_t m16;
          memcpy(&m16, kb + (size_t)k * krow + koff + (size_t)c * qk_row_bytes(kv->k_type, 32) + 2, 2);
          kmin[(k - k0) * nb + c] = qk_h2f(m16);
        }
    }
    for (int64_t r = 0; r < rows; r++) {
      const int64_t pos = p->pos + t0 + r / group;
      int64_t a = k0, b = k1 - 1 < pos ? k1 - 1 : pos;
      if (p->window > 0 && pos - p->window + 1 > a) a = pos - p->window + 1;
      if (a > b) continue;
      const float *qr = qs + r * hd;
      float *ar = acc + r * hd;
      float m = -INFINITY;
      for (int64_t k = a; k <= b; k++) {
        float d = vt->dot_f32(hd, kt + (k - k0) * hd, qr);
        if (q81)
          for (int64_t c = 0; c < nb; c++) d += kmin[(k - k0) * nb + c] * qcorr[r * nb + c];
        const float s = score_flash(d, p);
        sc[k - k0] = s;
        if (s > m) m = s;
      }
      if (m > M[r]) {
        const float ms = expf(M[r] - m);
        for (int64_t i = 0; i < hd; i++) ar[i] *= ms;
        S[r] *= ms;
        M[r] = m;
      }
      float sum = 0.0f;
      for (int64_t k = a; k <= b; k++) {
        const float e = expf(sc[k - k0] - M[r]);
        sum += e;
        vt->axpy_f32(hd, e, vtl + (k - k0) * hd, ar);
      }
      S[r] += sum;
    }
  }
  for (int64_t r = 0; r < rows; r++) {
    const int64_t t = t0 + r / group, h = g * group + r % group;
    float *oh = j->out + (t * p->n_heads + h) * hd;
    const float inv = S[r] == 0.0f ? 0.0f : 1.0f / S[r];
    for (int64_t i = 0; i < hd; i++) oh[i] = acc[r * hd + i] * inv;
    qk_kv_from_cache(kv, 1, j->layer, oh, g * hd, hd);
  }
}

static int qtile_attention(qk_ctx *c, float *out, const float *q, const qk_kv *kv, int64_t layer,
                           const qk_attn_params *p) {
  const int64_t qt = qtile_tokens(p), total = p->n_kv_heads * ((p->n_tokens + qt - 1) / qt);
  const int64_t stride = qtile_stride(p);
  int nth = c->nthreads < 1 ? 1 : c->nthreads;
  float *scratch = malloc((size_t)nth * (size_t)stride * sizeof(float));
  if (!scratch) return -2;
  attn_job j = { c, out, q, kv, layer, p, scratch, stride, 1 };
  qk_pool_run(c->pool, qtile_chunk, &j, total, nth);
  free(scratch);
  return 0;
}

/* The tiled f16 prompt path (64+ query rows, flash, head size a multiple of 8): blocks of TILED_ROWS rows of a head. */
static int tiled_applies(const qk_kv *kv, const qk_attn_params *p) {
  return kv_plain(kv) && kv->k_type == QK_F16 && p->flash && p->n_tokens >= 64 && p->head_dim % 8 == 0;
}

static void tiled_chunk(void *arg, int64_t w, int ith) {
  QK_JOB(attn_job, j, arg);
  QK_JOB(qk_attn_params, p, j->p);
  const qk_kv *kv = j->kv;
  const int64_t h = w % p->n_heads, t = (w / p->n_heads) * TILED_ROWS;
  const int64_t nr = p->n_tokens - t < TILED_ROWS ? p->n_tokens - t : TILED_ROWS;
  attn_block_tiled(&j->c->vt, p, (const uint8_t *)kv->data + kv_off(kv, j->layer, 0, 0),
                   (const uint8_t *)kv->data + kv_off(kv, j->layer, 1, 0), qk_kv_row_bytes(kv, 0),
                   h / (p->n_heads / p->n_kv_heads), h, t, nr, j->q, j->out, j->scores + (size_t)ith * (size_t)j->stride);
}

/* attn_chunk's f16 flash path (attn_heads_f16): a row's heads per work item — all of them when the
 * rows alone give every thread ≥ 4 items (the longest runs of each K row), else halved until they do. */
static int64_t attn_heads_per_item(const qk_kv *kv, const qk_attn_params *p, int64_t rows, int nth) {
  if (!f16_flash(kv, p)) return 1;
  int64_t hb = p->n_heads;
  while (hb > 1 && rows * ((p->n_heads + hb - 1) / hb) < 4 * (int64_t)nth) hb = (hb + 1) / 2;
  return hb;
}

/* Work items of attn_chunk for a job of n_tokens rows. */
static int64_t attn_items(const qk_attn_params *p, int64_t hb) { return p->n_tokens * ((p->n_heads + hb - 1) / hb); }

/* Scratch floats per thread of attn_chunk: typed: 4·head_dim; f16 flash: attn_heads_stride; f16
 * standard: see attn_head_f16_std; f32: ctx scores (the tiled prompt path needs TILED_STRIDE). */
static int64_t attn_stride(const qk_kv *kv, const qk_attn_params *p, int64_t hb) {
  const int64_t ctx32 = (kv->ctx + 31) & ~(int64_t)31;
  return !kv_plain(kv) ? 4 * p->head_dim + 16
         : kv->k_type == QK_F32 ? kv->ctx
         : p->flash ? attn_heads_stride(hb, p->head_dim)
                    : 2 * ctx32 + (p->head_dim + 1) / 2;
}

/* Below this many multiply-adds (query rows × keys × head size) a pool dispatch costs more than it saves. */
#define ATTN_MIN_WORK 32768.0

int qk_attention(qk_ctx *c, float *out, const float *q, const qk_kv *kv, int64_t layer, const qk_attn_params *p) {
  if (qtile_applies(kv, p)) return qtile_attention(c, out, q, kv, layer, p);
  int nth = c->nthreads;
  const double work = (double)(p->n_tokens * p->n_heads) * (double)(p->pos + p->n_tokens) * (double)p->head_dim;
  if (work < ATTN_MIN_WORK) nth = 1;
  if (nth < 1) nth = 1;
  const int tiled = tiled_applies(kv, p);
  const int64_t hb = attn_heads_per_item(kv, p, p->n_tokens, nth), total = attn_items(p, hb);
  int64_t stride = attn_stride(kv, p, hb);
  if (tiled && stride < TILED_STRIDE(p->head_dim)) stride = TILED_STRIDE(p->head_dim);
  float *scores = malloc((size_t)c->nthreads * (size_t)stride * sizeof(float));
  if (!scores) return -2;
  attn_job j = { c, out, q, kv, layer, p, scores, stride, hb };
  if (tiled)
    qk_pool_run(c->pool, tiled_chunk, &j, (p->n_tokens + TILED_ROWS - 1) / TILED_ROWS * p->n_heads, nth);
  else
    qk_pool_run(c->pool, attn_chunk, &j, total, nth);
  free(scores);
  return 0;
}

/*
 * Several sequences' rows in one call (continuous batching): segment s is n_tokens rows at positions
 * pos.. of its own cache, at row `row` of q and out. Segments of QTILE_MIN_TOKENS+ rows (prompt
 * chunks) run as their own qk_attention; the rest (decoding rows) share one pool dispatch over every
 * (segment, row, head), each item computed by attn_chunk exactly as qk_attention computes it — so a
 * row's values do not depend on the batch it is in. One dispatch instead of one per sequence: a
 * decoding row is ~30 heads × a few hundred keys, too little to split across threads on its own.
 */
typedef struct {
  attn_job *jobs;
  const int64_t *first; /* first item of each job, and the total after the last */
  int64_t n;
} attn_multi;

static void attn_multi_chunk(void *arg, int64_t w, int ith) {
  const attn_multi *m = arg;
  const int64_t i = part_of(m->first, m->n, w);
  attn_chunk(&m->jobs[i], w - m->first[i], ith);
}

int qk_attention_segments(qk_ctx *c, float *out, const float *q, const qk_attn_segment *segs, int64_t nseg, int64_t layer,
                          const qk_attn_params *common) {
  if (nseg <= 0) return 0;
  const int64_t width = common->n_heads * common->head_dim;
  qk_attn_params *ps = malloc((size_t)nseg * sizeof(*ps));
  attn_job *jobs = malloc((size_t)nseg * sizeof(*jobs));
  int64_t *first = malloc((size_t)(nseg + 1) * sizeof(*first));
  int rc = 0;
  if (!ps || !jobs || !first) rc = -2;
  int64_t n = 0, total = 0, stride = 0, rows = 0;
  double work = 0;
  for (int64_t s = 0; s < nseg && rc == 0; s++) {
    const qk_attn_segment *g = &segs[s];
    if (g->n_tokens <= 0) continue;
    qk_attn_params p = *common;
    p.n_tokens = g->n_tokens;
    p.pos = g->pos;
    float *o = out + g->row * width;
    const float *qs = q + g->row * width;
    if (g->n_tokens >= QTILE_MIN_TOKENS || qtile_applies(&g->kv, &p)) {
      rc = qk_attention(c, o, qs, &g->kv, layer, &p);
      continue;
    }
    ps[n] = p;
    jobs[n] = (attn_job){ c, o, qs, &g->kv, layer, &ps[n], NULL, 0, 1 };
    rows += p.n_tokens;
    work += (double)(p.n_tokens * p.n_heads) * (double)(p.pos + p.n_tokens) * (double)p.head_dim;
    n++;
  }
  if (rc == 0 && n > 0) {
    int nth = c->nthreads < 1 ? 1 : c->nthreads;
    /* heads per item from all the decoding rows together (each job's value if it has f16 flash) */
    for (int64_t i = 0; i < n; i++) {
      jobs[i].hb = attn_heads_per_item(jobs[i].kv, jobs[i].p, rows, work < ATTN_MIN_WORK ? 1 : nth);
      first[i] = total;
      total += attn_items(jobs[i].p, jobs[i].hb);
      const int64_t st = attn_stride(jobs[i].kv, jobs[i].p, jobs[i].hb);
      if (st > stride) stride = st;
    }
    first[n] = total;
    float *scores = malloc((size_t)nth * (size_t)stride * sizeof(float));
    if (!scores) rc = -2;
    else {
      for (int64_t i = 0; i < n; i++) {
        jobs[i].scores = scores;
        jobs[i].stride = stride;
      }
      attn_multi m = { jobs, first, n };
      qk_pool_run(c->pool, attn_multi_chunk, &m, total, work < ATTN_MIN_WORK ? 1 : nth);
      free(scores);
    }
  }
  free(ps);
  free(jobs);
  free(first);
  return rc;
}
