/*
 * x86 SIMD helpers vs their scalar definitions (links csrc/ without the N-API binding).
 *
 * Built for the host and run by test/x86.test.ts, once as the plan picks the ISA and once with
 * QUANT_KERNELS_ISA=avx2 (the AVX2 helpers on an AVX-512 host). Checks, bit for bit:
 *   - "q8_K": the vectorized K-quant activation quantizer (qk_quantize_act_q8_K_fast) against
 *     qk_quantize_act_q8_K_scalar on random rows, tiny and huge magnitudes, exact ties (x.5 after
 *     scaling), all-zero blocks, and blocks holding ±inf or NaN (which the fast path must hand to the
 *     scalar code: CVTPS2DQ turns NaN into INT_MIN where the scalar rounding gives 0);
 *   - "fa_dot": the ISA's flash-attention f16 dot (vtable fa_dot_f16) against qk_fa_dot_f16 (ggml's
 *     AVX2 order, portable) for head sizes 32..256 and odd tails;
 *   - "fa_vsum": the ISA's V sum (vtable fa_vsum_f16) against per-key qk_fa_scale_f16 / qk_fa_mad_f16,
 *     with softmax-like factors (some 1, some rescaling), resumed in two pieces as attention does.
 * Prints one JSON object per line; the last is {"summary":...}. Exit status 1 on a mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../csrc/ctx.h"
#include "../../csrc/plan.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}
static float rndf(void) { return (float)((rnd() >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f; } /* [-1, 1) */

static int failures = 0;
static void report(const char *check, const char *variant, int cases, int bad) {
  printf("{\"check\":\"%s\",\"variant\":\"%s\",\"cases\":%d,\"ok\":%s}\n", check, variant, cases, bad ? "false" : "true");
  if (bad) failures++;
}

#define QN 4096 /* 16 q8_K blocks a row */

static void q8_K_rows(void) {
  void (*fast)(const float *, blk_q8_K *, int64_t) = qk_quantize_act_q8_K_fast;
  if (!fast) {
    printf("{\"check\":\"q8_K\",\"skipped\":\"no vectorized quantizer on this host\"}\n");
    return;
  }
  static const char *names[] = { "random", "tiny", "huge", "ties", "zero blocks", "inf/nan" };
  float *x = malloc(QN * sizeof(float));
  blk_q8_K *a = malloc(QN / 256 * sizeof(blk_q8_K)), *b = malloc(QN / 256 * sizeof(blk_q8_K));
  for (int mode = 0; mode < 6; mode++) {
    int bad = 0;
    for (int trial = 0; trial < 300; trial++) {
      for (int i = 0; i < QN; i++) {
        float r = rndf() * (mode == 1 ? 1e-30f : mode == 2 ? 1e30f : 2.0f);
        if (mode == 3) r = (float)((int)(rnd() % 255) - 127) / 127.0f * 3.0f; /* values landing on .5 */
        if (mode == 4 && (i / 256) % 3 == 0) r = 0.0f;
        x[i] = r;
      }
      if (mode == 3) { x[5] = 2.5f; x[9] = -2.5f; } /* equal magnitudes: the first sets the sign */
      if (mode == 5) {
        x[rnd() % QN] = INFINITY;
        x[rnd() % QN] = -INFINITY;
        x[rnd() % QN] = NAN;
      }
      qk_quantize_act_q8_K_scalar(x, a, QN);
      fast(x, b, QN);
      if (memcmp(a, b, QN / 256 * sizeof(blk_q8_K))) bad++;
    }
    char v[32];
    snprintf(v, sizeof v, "%s", names[mode]);
    report("q8_K", v, 300, bad);
  }
  free(x); free(a); free(b);
}

static uint16_t rnd_h(void) { return qk_f2h(rndf() * 4.0f); }

static void fa_dot(const qk_vec_ops *vt) {
  static const int dims[] = { 32, 40, 64, 72, 80, 96, 112, 128, 160, 256, 33, 95 };
  uint16_t x[256], y[256];
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
      for (int i = 0; i < dims[d]; i++) { x[i] = rnd_h(); y[i] = rnd_h(); }
      const float r = qk_fa_dot_f16(dims[d], x, y), g = vt->fa_dot_f16(dims[d], x, y);
      if (memcmp(&r, &g, 4)) bad++;
    }
    char v[32];
    snprintf(v, sizeof v, "head %d", dims[d]);
    report("fa_dot", v, 200, bad);
  }
}

static void fa_vsum(const qk_vec_ops *vt) {
  if (!vt->fa_vsum_f16) {
    printf("{\"check\":\"fa_vsum\",\"skipped\":\"no V sum on this ISA\"}\n");
    return;
  }
  static const int dims[] = { 32, 40, 64, 72, 80, 96, 128, 256, 24 };
  enum { KEYS = 70, ROW = 300 }; /* a cache row of 300 halves: the heads' slices are strided */
  uint16_t *v = malloc(KEYS * ROW * 2), ref[256], got[256];
  float ms[KEYS], vs[KEYS];
  for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
    const int n = dims[d];
    int bad = 0;
    for (int trial = 0; trial < 100; trial++) {
      for (int i = 0; i < KEYS * ROW; i++) v[i] = rnd_h();
      float M = -INFINITY;
      for (int k = 0; k < KEYS; k++) { /* an online softmax's factors over random scores */
        const float s = rndf() * 8.0f;
        ms[k] = vs[k] = 1.0f;
        if (s > M) { ms[k] = k ? expf(M - s) : 1.0f; M = s; } else vs[k] = expf(s - M);
      }
      for (int i = 0; i < n; i++) ref[i] = got[i] = 0;
      const uint16_t *v0 = v + 7; /* an odd offset into each row */
      for (int k = 0; k < KEYS; k++) {
        if (ms[k] != 1.0f) qk_fa_scale_f16(n, ref, ms[k]);
        qk_fa_mad_f16(n, ref, v0 + (size_t)k * ROW, vs[k]);
      }
      /* two calls, resumed from the stored accumulator, as attention's key blocks do */
      vt->fa_vsum_f16(n, got, (const uint8_t *)v0, ROW * 2, 33, ms, vs);
      vt->fa_vsum_f16(n, got, (const uint8_t *)(v0 + 33 * ROW), ROW * 2, KEYS - 33, ms + 33, vs + 33);
      if (memcmp(ref, got, (size_t)n * 2)) bad++;
    }
    char s[32];
    snprintf(s, sizeof s, "head %d", n);
    report("fa_vsum", s, 100, bad);
  }
  free(v);
}

int main(void) {
  qk_ctx *c = qk_ctx_create(1, 0);
  if (!c) return 2;
  printf("{\"isa\":\"%s\",\"simd\":\"%s\"}\n", qk_isa_name(qk_plan_isa()), c->simd);
  q8_K_rows();
  fa_dot(&c->vt);
  fa_vsum(&c->vt);
  printf("{\"summary\":{\"failures\":%d}}\n", failures);
  qk_ctx_destroy(c);
  return failures ? 1 : 0;
}
