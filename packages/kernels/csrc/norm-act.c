/* LayerNorm with optional scale and bias, the two GELUs and logit soft-capping, as ggml-cpu computes them. */
#include "norm-act.h"
#include <math.h>
#include "qk.h"

void qk_layer_norm(float *out, const float *x, const float *w, const float *b, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *o = out + r * cols;
    double sum = 0.0;
    for (int64_t i = 0; i < cols; i++) sum += (double)xr[i];
    const float mean = (float)(sum / (double)cols);
    double sum2 = 0.0;
    for (int64_t i = 0; i < cols; i++) {
      const float v = xr[i] - mean;
      o[i] = v;
      sum2 += (double)(v * v);
    }
    const float variance = (float)(sum2 / (double)cols);
    const float scale = 1.0f / sqrtf(variance + eps);
    for (int64_t i = 0; i < cols; i++) {
      float v = o[i] * scale;
      if (w) v *= w[i];
      if (b) v += b[i];
      o[i] = v;
    }
  }
}

/* ggml-cpu vec.h constants */
#define GELU_COEF_A 0.044715f
#define SQRT_2_OVER_PI 0.79788456080286535587989211986876f
#define SQRT_2_INV 0.70710678118654752440084436210484f

static inline float gelu_tanh(float x) { return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * x * (1.0f + GELU_COEF_A * x * x))); }

void qk_gelu(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if (v <= -10.0f) out[i] = 0.0f;
    else if (v >= 10.0f) out[i] = v;
    else out[i] = qk_h2f(qk_f2h(gelu_tanh(qk_h2f(qk_f2h(v)))));
  }
}

void qk_gelu_erf(float *out, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    out[i] = 0.5f * v * (1.0f + erff(v * SQRT_2_INV));
  }
}

void qk_softcap(float *out, const float *x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; i++) out[i] = tanhf(x[i] * inv) * cap;
}
