/* LayerNorm and GELU (norm-act.c): ggml's LLM_NORM and ggml_gelu / ggml_gelu_erf on f32 rows. */
#ifndef QK_NORM_ACT_H
#define QK_NORM_ACT_H
#include <stdint.h>

/*
 * out[r] = (x[r] - mean) / sqrt(var + eps) * w + b per row of `cols` floats (ggml_norm, then
 * ggml_mul by w and ggml_add of b as llama.cpp's build_norm(LLM_NORM)). w and b may be NULL
 * (no scale / no shift). out may alias x.
 */
void qk_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t rows, int64_t cols, float eps);

/*
 * GELU, tanh approximation, as ggml-cpu computes it for f32 (GGML_GELU_FP16): x ≤ -10 → 0, x ≥ 10
 * → x, else the input rounded to f16, gelu_tanh of that value in f32, rounded to f16 (ggml's
 * 65536-entry ggml_table_gelu_f16 holds exactly these values). out may alias x.
 */
void qk_gelu(float *out, const float *x, int64_t n);

/* GELU with erf, ggml_vec_gelu_erf_f32: 0.5·x·(1 + erf(x/√2)) in f32. out may alias x. */
void qk_gelu_erf(float *out, const float *x, int64_t n);

/*
 * Logit soft-capping (gemma2's final logits): out = cap·tanh(x/cap) in ggml's steps, ggml_scale by
 * 1.0f/cap, ggml_tanh (tanhf), ggml_scale by cap. out may alias x.
 */
void qk_softcap(float *out, const float *x, float cap, int64_t n);

#endif
