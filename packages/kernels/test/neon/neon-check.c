/*
 * NEON vs scalar check for the C kernels (links csrc/ without the N-API binding).
 *
 * Built for aarch64 and run under qemu by test/neon.test.ts. For every weight type it compares
 * the NEON dispatch table (qk_vtable_neon over the scalar table, as ctx.c selects it) with the
 * portable scalar table on seeded random data:
 *   - "dot":    single vec-dot calls on random raw blocks (every bit pattern of quants/scales) and
 *               on realistically quantized rows/activations;
 *   - "matmul": qk_matmul through a NEON context vs a force-scalar context (1..9 tokens, odd row
 *               counts, 1 and 2 threads);
 *   - "roundtrip": quantize -> dequantize error bounds (scalar C, but compiled for aarch64, where
 *               plain char is unsigned and fp contraction defaults differ).
 * Integer paths whose float epilogue is written identically must match bit for bit ("exact");
 * float paths (F32) must agree within 1e-5 of sum |w_i * x_i|.
 * Prints one JSON object per line; the last line is {"summary":...}. Exit status 1 on failure.
 * With --hash it also prints an FNV-1a hash of scalar outputs, which the test compares with the
 * same driver built for the host (same scalar C must give the same bits on both architectures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "../../csrc/ctx.h"
#include "../../csrc/plan.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 32);
}
static float rndf(void) { return (float)((rnd() >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f; } /* [-1, 1) */

static int failures = 0;
static uint64_t hash = 0xcbf29ce484222325ull;
static void hash_bytes(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) { hash ^= b[i]; hash *= 0x100000001b3ull; }
}

typedef struct { int id; const char *name; int exact; } type_case;
/* exact = NEON path (if any) must equal the scalar path bit for bit */
static const type_case TYPES[] = {
  {QK_F32, "F32", 0}, {QK_F16, "F16", 1}, {QK_BF16, "BF16", 1}, {QK_Q4_0, "Q4_0", 1}, {QK_Q4_1, "Q4_1", 1},
  {QK_Q5_0, "Q5_0", 1}, {QK_Q5_1, "Q5_1", 1}, {QK_Q8_0, "Q8_0", 1}, {QK_Q2_K, "Q2_K", 1},
  {QK_Q3_K, "Q3_K", 1}, {QK_Q4_K, "Q4_K", 1}, {QK_Q5_K, "Q5_K", 1}, {QK_Q6_K, "Q6_K", 1},
};
#define NTYPES ((int)(sizeof(TYPES) / sizeof(TYPES[0])))

static void put_half(uint8_t *p, float v) { uint16_t h = qk_f2h(v); memcpy(p, &h, 2); }

/* Random raw weight blocks: every quant/scale byte random, fp16 scales set to sane values. */
static void random_weights(int type, uint8_t *dst, int64_t n) {
  const int b = qk_type_block(type), bytes = qk_type_bytes(type);
  const int64_t nb = n / b;
  if (type == QK_F32) { float *f = (float *)dst; for (int64_t i = 0; i < n; i++) f[i] = rndf(); return; }
  if (type == QK_F16 || type == QK_BF16) {
    for (int64_t i = 0; i < n; i++) {
      /* magnitudes 2^-24 .. 2^15 (f16 subnormals included) / 2^-60 .. 2^59 for bf16 */
      const float m = rndf(); /* drawn first: argument evaluation order differs between compilers */
      const float v = type == QK_F16 ? ldexpf(m, (int)(rnd() % 40) - 24) : ldexpf(m, (int)(rnd() % 120) - 60);
      uint16_t h = type == QK_F16 ? qk_f2h(v) : qk_f2bf(v);
      memcpy(dst + 2 * i, &h, 2);
    }
    return;
  }
  for (int64_t i = 0; i < nb * bytes; i++) dst[i] = (uint8_t)rnd();
  for (int64_t i = 0; i < nb; i++) {
    uint8_t *p = dst + i * bytes;
    const float d = 0.001f + 0.05f * (rndf() + 1.0f), m = 0.02f * rndf();
    switch (type) {
      case QK_Q4_0: case QK_Q5_0: case QK_Q8_0: put_half(p, d); break;
      case QK_Q4_1: case QK_Q5_1: put_half(p, d); put_half(p + 2, m); break;
      case QK_Q2_K: put_half(p + 80, d); put_half(p + 82, fabsf(m)); break;
      case QK_Q3_K: put_half(p + 108, d); break;
      case QK_Q4_K: case QK_Q5_K: put_half(p, d); put_half(p + 2, fabsf(m)); break;
      case QK_Q6_K: put_half(p + 208, d); break;
      default: break;
    }
  }
}

/* Random raw activation row in the dot format vdt (Q8_K bsums kept consistent; -128 included). */
static void random_act(int vdt, uint8_t *dst, int64_t n) {
  if (vdt == QK_F32 || vdt == QK_F16 || vdt == QK_BF16) { random_weights(vdt, dst, n); return; }
  if (vdt == QK_Q8_K) {
    blk_q8_K *y = (blk_q8_K *)dst;
    for (int64_t i = 0; i < n / QK_K; i++) {
      y[i].d = 0.01f + 0.01f * rndf();
      for (int j = 0; j < QK_K; j++) y[i].qs[j] = (int8_t)(rnd() & 0xFF);
      for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += y[i].qs[16 * j + l];
        y[i].bsums[j] = (int16_t)s;
      }
    }
    return;
  }
  const int bytes = qk_type_bytes(vdt);
  for (int64_t i = 0; i < (n / QB) * bytes; i++) dst[i] = (uint8_t)rnd();
  for (int64_t i = 0; i < n / QB; i++) {
    uint8_t *p = dst + i * bytes;
    put_half(p, 0.01f + 0.005f * rndf());
    if (vdt == QK_Q8_1) { /* s = d * sum(qs) */
      int s = 0;
      for (int j = 0; j < QB; j++) s += (int8_t)p[4 + j];
      uint16_t dh; memcpy(&dh, p, 2);
      put_half(p + 2, qk_h2f(dh) * (float)s);
    }
  }
}

static void act_from_f32(int vdt, const float *x, uint8_t *dst, int64_t n) {
  if (vdt == QK_F32) memcpy(dst, x, (size_t)n * 4);
  else if (vdt == QK_F16) qk_act_f16(x, (uint16_t *)dst, n);
  else if (vdt == QK_BF16) qk_act_bf16(x, (uint16_t *)dst, n);
  else if (vdt == QK_Q8_0) qk_quantize_act_q8_0(x, (blk_q8_0 *)dst, n);
  else if (vdt == QK_Q8_1) qk_quantize_act_q8_1(x, (blk_q8_1 *)dst, n);
  else qk_quantize_act_q8_K(x, (blk_q8_K *)dst, n);
}

static size_t act_row_bytes(int vdt, int64_t n) { return vdt == QK_F32 ? (size_t)n * 4 : qk_row_bytes(vdt, n); }

static int quantizable(int type) { return type != QK_Q2_K && type != QK_Q3_K; }

/* sum |w_i * a_i| in double, from the dequantized weight and activation rows (tolerance scale). */
static double abs_dot(int type, const uint8_t *w, int vdt, const uint8_t *a, int64_t n, float *tw, float *ta) {
  qk_dequantize(type, w, tw, n);
  if (vdt == QK_Q8_K) {
    const blk_q8_K *y = (const blk_q8_K *)a;
    for (int64_t i = 0; i < n; i++) ta[i] = y[i / QK_K].d * y[i / QK_K].qs[i % QK_K];
  } else if (vdt == QK_Q8_1) {
    const blk_q8_1 *y = (const blk_q8_1 *)a;
    for (int64_t i = 0; i < n; i++) ta[i] = qk_h2f(y[i / QB].d) * y[i / QB].qs[i % QB];
  } else {
    qk_dequantize(vdt, a, ta, n);
  }
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += fabs((double)tw[i] * (double)ta[i]);
  return s;
}

static void report(const char *check, const type_case *tc, int neon, int exact, long cases, double max_abs,
                   double max_rel, int ok, const char *detail) {
  printf("{\"check\":\"%s\",\"type\":\"%s\",\"neonPath\":%s,\"exact\":%s,\"cases\":%ld,\"maxAbsDiff\":%.9g,"
         "\"maxRelDiff\":%.9g,\"ok\":%s%s%s%s}\n",
         check, tc->name, neon ? "true" : "false", exact ? "true" : "false", cases, max_abs, max_rel,
         ok ? "true" : "false", detail ? ",\"detail\":\"" : "", detail ? detail : "", detail ? "\"" : "");
  if (!ok) failures++;
}

/* Compares one value pair; returns 0 on failure. scale = sum |w_i a_i|. */
static int close_enough(float neon, float ref, int exact, double scale, double *max_abs, double *max_rel) {
  const double d = fabs((double)neon - (double)ref);
  if (d > *max_abs) *max_abs = d;
  const double rel = scale > 0 ? d / scale : d;
  if (rel > *max_rel) *max_rel = rel;
  if (isnan(neon) != isnan(ref)) return 0;
  if (exact) return memcmp(&neon, &ref, 4) == 0;
  return rel <= 1e-5;
}

static void check_dot(const qk_vec_ops *neon_ops, const qk_vec_ops *scal_ops, const type_case *tc) {
  const int type = tc->id, vdt = qk_vec_dot_type(type);
  const qk_type_kernels *neon = &qk_types[type].vec[neon_ops->isa], *scal = &qk_types[type].vec[scal_ops->isa];
  const int has_neon = neon->dot != scal->dot || neon->dotm != scal->dotm;
  static const int64_t block_sizes[] = {256, 512, 1024, 2816, 4096};
  static const int64_t float_sizes[] = {256, 520, 1000, 37, 4099}; /* tails: n % 32, n % 8 != 0 */
  const int64_t *sizes = qk_type_block(type) == 1 ? float_sizes : block_sizes;
  double max_abs = 0, max_rel = 0;
  long cases = 0;
  int ok = 1;
  char detail[160] = {0};
  float *tw = malloc(4112 * 4), *ta = malloc(4112 * 4), *xf = malloc(4112 * 4);
  uint8_t *w = malloc(4096 * 4 + 64), *a = malloc(4096 * 4 + 64);
  for (int si = 0; si < 5; si++) {
    const int64_t n = sizes[si];
    for (int rep = 0; rep < 24; rep++) {
      const int realistic = rep & 1;
      if (realistic && quantizable(type)) {
        for (int64_t i = 0; i < n; i++) xf[i] = rndf() * (1.0f + (float)(i % 7));
        qk_quantize(type, xf, w, 1, n, 0);
      } else {
        random_weights(type, w, n);
      }
      if (realistic) {
        for (int64_t i = 0; i < n; i++) xf[i] = rndf() * 3.0f;
        act_from_f32(vdt, xf, a, n);
      } else {
        random_act(vdt, a, n);
      }
      const double scale = abs_dot(type, w, vdt, a, n, tw, ta);
      for (int m = 0; m < 2; m++) { /* dot[] (1 token), then dotm[] (2+ tokens) when either table has one */
        const qk_vec_dot_fn fs = m ? (scal->dotm ? scal->dotm : scal->dot) : scal->dot;
        const qk_vec_dot_fn fn = m ? (neon->dotm ? neon->dotm : neon->dot) : neon->dot;
        if (m && !scal->dotm && !neon->dotm) break;
        const float r = fs(n, w, a), v = fn(n, w, a);
        cases++;
        if (!close_enough(v, r, tc->exact, scale, &max_abs, &max_rel) && ok) {
          ok = 0;
          snprintf(detail, sizeof detail, "%s n=%ld rep=%d neon=%.9g scalar=%.9g", m ? "dotm" : "dot", (long)n, rep, v, r);
        }
      }
    }
  }
  report("dot", tc, has_neon, tc->exact, cases, max_abs, max_rel, ok, ok ? NULL : detail);
  free(tw); free(ta); free(xf); free(w); free(a);
}

static void check_matmul(qk_ctx *cn, qk_ctx *cs, const type_case *tc, int do_hash) {
  const int type = tc->id, vdt = qk_vec_dot_type(type);
  const int has_neon = qk_types[type].vec[cn->vt.isa].dot != qk_types[type].vec[cs->vt.isa].dot || qk_types[type].vec[cn->vt.isa].dot4 != qk_types[type].vec[cs->vt.isa].dot4 ||
                       qk_types[type].vec[cn->vt.isa].dotm != qk_types[type].vec[cs->vt.isa].dotm;
  static const int64_t shapes[][3] = {{13, 256, 1}, {16, 512, 2}, {67, 256, 5}, {8, 1024, 9}, {128, 768, 4}, {72, 512, 33}};
  double max_abs = 0, max_rel = 0;
  long cases = 0;
  int ok = 1;
  char detail[200] = {0};
  for (int si = 0; si < 6; si++) {
    const int64_t rows = shapes[si][0], cols = shapes[si][1], ntok = shapes[si][2];
    uint8_t *w = malloc(qk_row_bytes(type, cols) * rows);
    float *xf = malloc((size_t)(rows * cols > ntok * cols ? rows * cols : ntok * cols) * 4);
    if (quantizable(type) && (si & 1)) {
      for (int64_t i = 0; i < rows * cols; i++) xf[i] = rndf();
      qk_quantize(type, xf, w, rows, cols, 0);
    } else {
      for (int64_t r = 0; r < rows; r++) random_weights(type, w + r * qk_row_bytes(type, cols), cols);
    }
    float *x = malloc((size_t)(ntok * cols) * 4);
    for (int64_t i = 0; i < ntok * cols; i++) x[i] = rndf() * 2.0f;
    float *on = malloc((size_t)(ntok * rows) * 4), *os = malloc((size_t)(ntok * rows) * 4);
    qk_ctx_set_threads(cn, si & 1 ? 2 : 1);
    if (qk_matmul(cn, on, w, type, rows, cols, x, ntok) || qk_matmul(cs, os, w, type, rows, cols, x, ntok)) {
      ok = 0;
      snprintf(detail, sizeof detail, "qk_matmul failed");
    }
    if (do_hash) hash_bytes(os, (size_t)(ntok * rows) * 4);
    /* tolerance scale per output: from the activation row in the dot format */
    uint8_t *a = malloc(act_row_bytes(vdt, cols));
    float *tw = malloc((size_t)cols * 4), *ta = malloc((size_t)cols * 4);
    for (int64_t t = 0; t < ntok && ok; t++) {
      act_from_f32(vdt, x + t * cols, a, cols);
      for (int64_t r = 0; r < rows; r++) {
        const double scale = tc->exact ? 1 : abs_dot(type, w + r * qk_row_bytes(type, cols), vdt, a, cols, tw, ta);
        cases++;
        const float v = on[t * rows + r], ref = os[t * rows + r];
        if (!close_enough(v, ref, tc->exact, scale, &max_abs, &max_rel) && ok) {
          ok = 0;
          snprintf(detail, sizeof detail, "rows=%ld cols=%ld ntok=%ld t=%ld r=%ld neon=%.9g scalar=%.9g", (long)rows,
                   (long)cols, (long)ntok, (long)t, (long)r, v, ref);
        }
      }
    }
    free(a); free(tw); free(ta); free(w); free(xf); free(x); free(on); free(os);
  }
  report("matmul", tc, has_neon, tc->exact, cases, max_abs, max_rel, ok, ok ? NULL : detail);
}

/* quantize -> dequantize: relative RMS error under a per-type bound; hash the bytes. */
static void check_roundtrip(const type_case *tc, int do_hash) {
  const int type = tc->id;
  if (!quantizable(type)) return;
  const int64_t rows = 4, cols = 1024, n = rows * cols;
  float *x = malloc(n * 4), *y = malloc(n * 4);
  uint8_t *q = malloc(qk_row_bytes(type, cols) * rows);
  for (int64_t i = 0; i < n; i++) x[i] = rndf() * (1.0f + (float)(i % 5));
  int rc = qk_quantize(type, x, q, rows, cols, 0);
  rc |= qk_dequantize(type, q, y, n);
  if (do_hash) { hash_bytes(q, qk_row_bytes(type, cols) * rows); hash_bytes(y, n * 4); }
  double e = 0, s = 0;
  for (int64_t i = 0; i < n; i++) { e += (double)(x[i] - y[i]) * (x[i] - y[i]); s += (double)x[i] * x[i]; }
  const double rel = sqrt(e / s);
  double bound;
  switch (type) {
    case QK_F32: bound = 0; break;
    case QK_F16: bound = 1e-3; break;
    case QK_BF16: bound = 5e-3; break;
    case QK_Q8_0: bound = 0.01; break;
    case QK_Q6_K: bound = 0.03; break;
    case QK_Q5_0: case QK_Q5_1: case QK_Q5_K: bound = 0.07; break;
    default: bound = 0.14; break; /* 4-bit */
  }
  report("roundtrip", tc, 0, 0, n, sqrt(e / n), rel, rc == 0 && rel <= bound, rc ? "quantize/dequantize failed" : NULL);
  free(x); free(y); free(q);
}

int main(int argc, char **argv) {
  const int do_hash = argc > 1 && strcmp(argv[1], "--hash") == 0;
  qk_ctx *cn = qk_ctx_create(1, 0), *cs = qk_ctx_create(1, 1);
  if (!cn || !cs) { printf("{\"error\":\"qk_ctx_create failed\"}\n"); return 1; }
  printf("{\"simd\":\"%s\",\"scalarSimd\":\"%s\"}\n", cn->simd, cs->simd);
  for (int i = 0; i < NTYPES; i++) {
    if (!do_hash) check_dot(&cn->vt, &cs->vt, &TYPES[i]);
    check_matmul(cn, cs, &TYPES[i], do_hash);
    check_roundtrip(&TYPES[i], do_hash);
    if (do_hash && getenv("NEON_CHECK_HASH_TRACE")) printf("{\"type\":\"%s\",\"hashSoFar\":\"%016llx\"}\n", TYPES[i].name, (unsigned long long)hash);
  }
  /* f32 · f32 used by attention over an f32 cache */
  if (!do_hash) {
    const type_case tc = {QK_F32, "attn_dot_f32", 0};
    double max_abs = 0, max_rel = 0;
    int ok = 1;
    float *a = malloc(4099 * 4), *b = malloc(4099 * 4);
    long cases = 0;
    for (int64_t n = 1; n <= 4099; n += 37) {
      for (int64_t i = 0; i < n; i++) { a[i] = rndf(); b[i] = rndf(); }
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
      cases++;
      if (!close_enough(cn->vt.dot_f32(n, a, b), cs->vt.dot_f32(n, a, b), 0, s, &max_abs, &max_rel)) ok = 0;
    }
    report("dot", &tc, cn->vt.dot_f32 != cs->vt.dot_f32, 0, cases, max_abs, max_rel, ok, NULL);
    free(a); free(b);
  }
  if (do_hash) printf("{\"scalarHash\":\"%016llx\"}\n", (unsigned long long)hash);
  printf("{\"summary\":{\"simd\":\"%s\",\"failures\":%d}}\n", cn->simd, failures);
  qk_ctx_destroy(cn);
  qk_ctx_destroy(cs);
  return failures ? 1 : 0;
}
