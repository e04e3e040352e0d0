/*
 * KV cache storage and causal attention with grouped-query heads and an optional sliding window.
 * Each (token, head) pair is one chunk of work for the thread pool.
 */
#include "ctx.h"
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

/*
 * Converts n floats to a cache type as llama.cpp's set_rows does (ggml-cpu's from_float): Q8_0 with
 * the CPU quantizer (multiplier 127/amax, round half to even), the other block types with ggml's
 * reference quantizers, F16/BF16 rounded to nearest even.
 */
static void kv_convert(int type, const float *src, uint8_t *dst, int64_t n) {
  if (type == QK_Q8_0) qk_quantize_act_q8_0(src, (blk_q8_0 *)dst, n);
  else qk_quantize(type, src, dst, 1, n, 0);
}

#define KV_PIECE 1024 /* floats converted at a time (a multiple of every rotation size and block) */

void qk_kv_store(const qk_kv *kv, int64_t layer, int64_t pos, int64_t n, const float *k, const float *v) {
  uint8_t *base = kv->data;
  float tmp[KV_PIECE];
  for (int which = 0; which < 2; which++) {
    const float *src = which ? v : k;
    const int type = which ? kv->v_type : kv->k_type, rot = which ? kv->v_rot : kv->k_rot;
    const size_t rb = qk_kv_row_bytes(kv, which);
    uint8_t *dst = base + kv_off(kv, layer, which, pos);
    if (type == QK_F32 && !rot) {
      memcpy(dst, src, (size_t)n * rb);
      continue;
    }
    /* a piece: the rotation size, else as much of the row as fits (whole 32-blocks) */
    int64_t piece = rot ? rot : (kv->kv_dim < KV_PIECE ? kv->kv_dim : KV_PIECE);
    for (int64_t t = 0; t < n; t++) {
      const float *row = src + t * kv->kv_dim;
      uint8_t *out = dst + (size_t)t * rb;
      for (int64_t c = 0; c < kv->kv_dim; c += piece) {
        const int64_t m = kv->kv_dim - c < piece ? kv->kv_dim - c : piece;
        memcpy(tmp, row + c, (size_t)m * 4);
        if (rot) qk_hadamard(tmp, m, rot);
        kv_convert(type, tmp, out + qk_row_bytes(type, c), m);
      }
    }
  }
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

static void attn_head_f16(const qk_vtable *vt, const qk_attn_params *p, const uint8_t *kb, const uint8_t *vb, size_t rowb,
                          int64_t g, int64_t j0, int64_t pos, const float *qh, float *oh, uint16_t *q16,
                          uint16_t *acc) {
  const int64_t hd = p->head_dim;
  for (int64_t i = 0; i < hd; i++) { q16[i] = qk_f2h(qh[i]); acc[i] = 0; }
  float M = -INFINITY, S = 0.0f;
  for (int64_t k = j0; k <= pos; k++) {
    const uint16_t *kr = (const uint16_t *)(kb + (size_t)k * rowb) + g * hd;
    const uint16_t *vr = (const uint16_t *)(vb + (size_t)k * rowb) + g * hd;
    float s = vt->fa_dot_f16(hd, kr, q16) * p->scale;
    float ms = 1.0f, vs = 1.0f;
    if (s > M) {
      const float Mold = M;
      M = s;
      ms = expf(Mold - M);
      vt->fa_scale_f16(hd, acc, ms);
    } else {
      vs = expf(s - M);
    }
    vt->fa_mad_f16(hd, acc, vr, vs);
    S = S * ms + vs;
  }
  const float inv = S == 0.0f ? 0.0f : 1.0f / S;
  for (int64_t i = 0; i < hd; i++) oh[i] = qk_h2f(acc[i]) * inv;
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
static void attn_head_f16_std(const qk_vtable *vt, const qk_attn_params *p, const uint8_t *kb, const uint8_t *vb,
                              size_t rowb, int64_t g, int64_t j0, int64_t pos, const float *qh, float *oh, float *sc) {
  const int64_t hd = p->head_dim, n32 = (pos + 1 + 31) & ~(int64_t)31;
  uint16_t *pr = (uint16_t *)(sc + n32), *vc = pr + n32, *q16 = vc + n32;
  for (int64_t i = 0; i < hd; i++) q16[i] = qk_f2h(qh[i]);
  float max = -INFINITY;
  for (int64_t k = j0; k <= pos; k++) {
    const uint16_t *kr = (const uint16_t *)(kb + (size_t)k * rowb) + g * hd;
    const float s = vt->fa_dot_f16(hd, kr, q16) * p->scale;
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
static void attn_head_typed(const qk_vtable *vt, const qk_attn_params *p, const qk_kv *kv, const uint8_t *kb,
                            const uint8_t *vb, int64_t g, int64_t j0, int64_t pos, const float *qh, float *oh,
                            float *sc) {
  const int64_t hd = p->head_dim;
  const size_t krow = qk_kv_row_bytes(kv, 0), vrow = qk_kv_row_bytes(kv, 1);
  const size_t koff = qk_row_bytes(kv->k_type, g * hd), voff = qk_row_bytes(kv->v_type, g * hd);
  float *qr = sc, *acc = sc + hd, *v32 = sc + 2 * hd;
  void *qq = sc + 3 * hd;
  memcpy(qr, qh, (size_t)hd * 4);
  if (kv->k_rot) qk_hadamard(qr, hd, kv->k_rot);
  const int kt = kv->k_type, vdt = qk_vec_dot_type(kt);
  qk_vec_dot_fn kdot = vt->dot[kt];
  if (kt == QK_F32) { qq = qr; kdot = vt->dot[QK_F32]; }
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
    const float s = (kt == QK_F16 ? vt->fa_dot_f16(hd, (const uint16_t *)kr, qq) : kdot(hd, kr, qq)) * p->scale;
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
  if (kv->v_rot) qk_hadamard(oh, hd, kv->v_rot);
}

/* The pair takes the f16 or f32 paths above (exactly llama.cpp's / exact softmax), not the typed one. */
static int kv_plain(const qk_kv *kv) {
  return kv->k_type == kv->v_type && (kv->k_type == QK_F16 || kv->k_type == QK_F32) && !kv->k_rot && !kv->v_rot;
}

static void attn_chunk(void *arg, int64_t w, int ith) {
  const attn_job *j = arg;
  const qk_attn_params *p = j->p;
  const qk_kv *kv = j->kv;
  const qk_vtable *vt = &j->c->vt;
  const int64_t hd = p->head_dim, group = p->n_heads / p->n_kv_heads;
  float *sc = j->scores + (size_t)ith * (size_t)j->stride;
  const uint8_t *kb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 0, 0);
  const uint8_t *vb = (const uint8_t *)kv->data + kv_off(kv, j->layer, 1, 0);
  const int is_f16 = kv->k_type == QK_F16;
  const size_t rowb = qk_kv_row_bytes(kv, 0);
  {
    const int64_t t = w / p->n_heads, h = w % p->n_heads, g = h / group;
    const int64_t pos = p->pos + t;
    int64_t j0 = 0;
    if (p->window > 0 && pos - p->window + 1 > 0) j0 = pos - p->window + 1;
    const float *qh = j->q + (t * p->n_heads + h) * hd;
    float *oh = j->out + (t * p->n_heads + h) * hd;
    if (!kv_plain(kv)) {
      attn_head_typed(vt, p, kv, kb, vb, g, j0, pos, qh, oh, sc);
      return;
    }
    if (is_f16 && !p->flash) {
      attn_head_f16_std(vt, p, kb, vb, rowb, g, j0, pos, qh, oh, sc);
      return;
    }
    if (is_f16) {
      uint16_t *q16 = (uint16_t *)sc, *acc = q16 + hd;
      attn_head_f16(vt, p, kb, vb, rowb, g, j0, pos, qh, oh, q16, acc);
      return;
    }
    float max = -INFINITY;
    for (int64_t k = j0; k <= pos; k++) {
      const uint8_t *kr = kb + (size_t)k * rowb + (size_t)g * hd * 4;
      float s = vt->dot_f32(hd, (const float *)kr, qh);
      s *= p->scale;
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

int qk_attention(qk_ctx *c, float *out, const float *q, const qk_kv *kv, int64_t layer, const qk_attn_params *p) {
  int nth = c->nthreads;
  const int64_t total = p->n_tokens * p->n_heads;
  const double work = (double)total * (double)(p->pos + p->n_tokens) * (double)p->head_dim;
  if (work < 32768.0) nth = 1;
  if (nth < 1) nth = 1;
  /* typed: 4·head_dim floats; f16 flash: 2·head_dim f16 = head_dim floats; f16 standard: see
   * attn_head_f16_std; f32: ctx scores */
  const int64_t ctx32 = (kv->ctx + 31) & ~(int64_t)31;
  const int64_t stride = !kv_plain(kv) ? 4 * p->head_dim + 16
                         : kv->k_type == QK_F32 ? kv->ctx
                         : p->flash ? p->head_dim
                                    : 2 * ctx32 + (p->head_dim + 1) / 2;
  float *scores = malloc((size_t)c->nthreads * (size_t)stride * sizeof(float));
  if (!scores) return -2;
  attn_job j = { c, out, q, kv, layer, p, scores, stride };
  qk_pool_run(c->pool, attn_chunk, &j, total, nth);
  free(scores);
  return 0;
}
