/*
 * KV cache storage and causal attention with grouped-query heads and an optional sliding window.
 * Each (token, head) pair is one chunk of work for the thread pool.
 */
#include "ctx.h"
#include <stdlib.h>

static inline size_t elt(const qk_kv *kv) { return kv->is_f16 ? 2 : 4; }

/* Byte offset of K (which=0) or V (which=1) row `pos` of `layer`. */
static inline size_t kv_off(const qk_kv *kv, int64_t layer, int which, int64_t pos) {
  return (((size_t)layer * 2 + (size_t)which) * (size_t)kv->ctx + (size_t)pos) * (size_t)kv->kv_dim * elt(kv);
}

void qk_kv_store(const qk_kv *kv, int64_t layer, int64_t pos, int64_t n, const float *k, const float *v) {
  uint8_t *base = kv->data;
  for (int which = 0; which < 2; which++) {
    const float *src = which ? v : k;
    uint8_t *dst = base + kv_off(kv, layer, which, pos);
    const int64_t m = n * kv->kv_dim;
    if (kv->is_f16) {
      uint16_t *d = (uint16_t *)dst;
      for (int64_t i = 0; i < m; i++) d[i] = qk_f2h(src[i]);
    } else {
      memcpy(dst, src, (size_t)m * 4);
    }
  }
}

void qk_kv_shift(const qk_kv *kv, int64_t from, int64_t to, int64_t count) {
  uint8_t *base = kv->data;
  for (int64_t l = 0; l < kv->layers; l++)
    for (int which = 0; which < 2; which++)
      memmove(base + kv_off(kv, l, which, to), base + kv_off(kv, l, which, from), (size_t)count * (size_t)kv->kv_dim * elt(kv));
}

typedef struct {
  qk_ctx *c;
  float *out;
  const float *q;
  const qk_kv *kv;
  int64_t layer;
  const qk_attn_params *p;
  float *scores; /* nth × ctx */
} attn_job;

static void attn_chunk(void *arg, int64_t w, int ith) {
  const attn_job *j = arg;
  const qk_attn_params *p = j->p;
  const qk_kv *kv = j->kv;
  const qk_vtable *vt = &j->c->vt;
  const int64_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads;
  float *sc = j->scores + (size_t)ith * (size_t)kv->ctx;
  const uint8_t *kb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 0, 0);
  const uint8_t *vb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 1, 0);
  const size_t rowb = (size_t)kv->kv_dim * elt(kv);
  {
    const int64_t t = w / p->n_heads, h = w % p->n_heads, g = h / group;
    const int64_t pos = p->pos + t;
    int64_t j0 = 0;
    if (p->window > 0 && pos - p->window + 1 > 0) j0 = pos - p->window + 1;
    const float *qh = j->q + (t * p->n_heads + h) * hd;
    float *oh = j->out + (t * p->n_heads + h) * hd;
    float max = -INFINITY;
    for (int64_t k = j0; k <= pos; k++) {
      const uint8_t *kr = kb + (size_t)k * rowb + (size_t)g * hd * elt(kv);
      float s = kv->is_f16 ? vt->dot_f16_f32(hd, (const uint16_t *)kr, qh) : vt->dot_f32(hd, (const float *)kr, qh);
      s *= p->scale;
      sc[k] = s;
      if (s > max) max = s;
    }
    float sum = 0;
    for (int64_t k = j0; k <= pos; k++) { sc[k] = expf(sc[k] - max); sum += sc[k]; }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < hd; i++) oh[i] = 0;
    for (int64_t k = j0; k <= pos; k++) {
      const uint8_t *vr = vb + (size_t)k * rowb + (size_t)g * hd * elt(kv);
      if (kv->is_f16) vt->axpy_f16(hd, sc[k] * inv, (const uint16_t *)vr, oh);
      else vt->axpy_f32(hd, sc[k] * inv, (const float *)vr, oh);
    }
  }
}

int qk_attention(qk_ctx *c, float *out, const float *q, const qk_kv *kv, int64_t layer, const qk_attn_params *p) {
  int nth = c->nthreads;
  const int64_t total = p->n_tokens * p->n_heads;
  const double work = (double)total * (double)(p->pos + p->n_tokens) * (double)p->head_dim;
  if (work < 32768.0) nth = 1;
  if (nth < 1) nth = 1;
  float *scores = malloc((size_t)c->nthreads * (size_t)kv->ctx * sizeof(float));
  if (!scores) return -2;
  attn_job j = { c, out, q, kv, layer, p, scores };
  qk_pool_run(c->pool, attn_chunk, &j, total, nth);
  free(scores);
  return 0;
}
