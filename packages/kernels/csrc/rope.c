/*
 * Rotary position embedding, in place. Pair i of a head rotates by theta_i = p * freqScale *
 * base^(-2i/nRot) / factor_i; 'normal' rotates (2i, 2i+1), 'neox' rotates (i, i + nRot/2).
 * Like ggml, theta is built by repeated multiplication with base^(-2/nRot) in float.
 */
#include "ctx.h"
#include <stdlib.h>

void qk_rope_table(float *cs, const qk_rope_params *p, int64_t pos) {
  const int64_t half = p->n_rot / 2;
  const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
  float theta = (float)pos;
  for (int64_t i = 0; i < half; i++) {
    const float ff = p->freq_factors ? p->freq_factors[i] : 1.0f;
    const float th = p->freq_scale * (theta / ff);
    cs[2 * i] = cosf(th) * p->attn_factor;
    cs[2 * i + 1] = sinf(th) * p->attn_factor;
    theta *= theta_scale;
  }
}

void qk_rope_apply(float *xt, const float *cs, const qk_rope_params *p) {
  const int64_t half = p->n_rot / 2;
  for (int64_t h = 0; h < p->n_heads; h++) {
    float *xh = xt + h * p->head_dim;
    for (int64_t i = 0; i < half; i++) {
      const int64_t i0 = p->neox ? i : 2 * i;
      const int64_t i1 = p->neox ? i + half : 2 * i + 1;
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float x0 = xh[i0], x1 = xh[i1];
      xh[i0] = x0 * c - x1 * s;
      xh[i1] = x0 * s + x1 * c;
    }
  }
}

/* Rows t of x at positions pos[t], or p->pos + t when pos is NULL. */
void qk_rope_rows(float *x, const int32_t *pos, const qk_rope_params *p) {
  const int64_t half = p->n_rot / 2;
  float cs_stack[512];
  float *cs = half * 2 <= 512 ? cs_stack : malloc((size_t)half * 2 * sizeof(float));
  if (!cs) return;
  const int64_t row = p->n_heads * p->head_dim;
  for (int64_t t = 0; t < p->n_tokens; t++) {
    qk_rope_table(cs, p, pos ? pos[t] : p->pos + t);
    qk_rope_apply(x + t * row, cs, p);
  }
  if (cs != cs_stack) free(cs);
}

void qk_rope(float *x, const qk_rope_params *p) { qk_rope_rows(x, NULL, p); }
