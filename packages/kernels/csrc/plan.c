/* The matmul plan (see plan.h): per-type descriptors, the planning function and its debug log. */
#include "plan.h"
#include "ctx.h"
#include <stdlib.h>
#if !defined(__wasm__)
#include <stdio.h>
#endif

qk_type_desc qk_types[QK_TYPE_COUNT];

static const char *type_name(int t) {
  switch (t) {
    case QK_F32: return "F32"; case QK_F16: return "F16"; case QK_BF16: return "BF16";
    case QK_Q4_0: return "Q4_0"; case QK_Q4_1: return "Q4_1"; case QK_Q5_0: return "Q5_0"; case QK_Q5_1: return "Q5_1";
    case QK_Q8_0: return "Q8_0"; case QK_Q8_1: return "Q8_1"; case QK_Q2_K: return "Q2_K"; case QK_Q3_K: return "Q3_K";
    case QK_Q4_K: return "Q4_K"; case QK_Q5_K: return "Q5_K"; case QK_Q6_K: return "Q6_K"; case QK_Q8_K: return "Q8_K";
    default: return "?";
  }
}

static size_t act_row_q8_0s(int64_t cols) { return (size_t)(cols / QB) * sizeof(blk_q8_0s); }
static size_t act_row_q8_K(int64_t cols) { return (size_t)(cols / QK_K) * sizeof(blk_q8_K); }
static void act_q8_K(const float *x, void *y, int64_t n) { qk_quantize_act_q8_K(x, y, n); }

/* Tokens from which the plain-layout gemm (wasm) replaces the vtable's dot, unless the type's descriptor says
 * otherwise (gemm_min_tokens: the SIMD128 K-quant gemms have their own decode loop); both give the same results. */
#ifndef QK_GEMM_PLAIN_MIN_TOKENS
#define QK_GEMM_PLAIN_MIN_TOKENS 4
#endif

static int g_isa = -1;

void qk_plan_init(void) {
  if (g_isa >= 0) return;
  for (int t = 0; t < QK_TYPE_COUNT; t++) {
    qk_types[t].name = type_name(t);
    qk_types[t].parity_act = qk_vec_dot_type(t);
  }
  qk_types[QK_Q8_0].r16_act = qk_quantize_act_q8_0s;
  qk_types[QK_Q8_0].r16_act_row = act_row_q8_0s;
  qk_types[QK_Q8_0].r16_act_name = "q8_0s";
  const int k_types[] = { QK_Q4_K, QK_Q5_K, QK_Q6_K };
  for (int i = 0; i < 3; i++) {
    qk_types[k_types[i]].r16_act = act_q8_K;
    qk_types[k_types[i]].r16_act_row = act_row_q8_K;
    qk_types[k_types[i]].r16_act_name = "q8_K";
  }
  /* vector kernels: every ISA row starts as the scalar kernels; the ISA file that runs here overrides its rows */
  static qk_vtable v, w;
  qk_vtable_scalar(&v);
  for (int isa = 0; isa <= QK_ISA_SIMD128; isa++)
    for (int t = 0; t < QK_TYPE_COUNT; t++) qk_types[t].vec[isa] = v.t[t];
  w = v;
  if (qk_vtable_avx2(&w))
    for (int isa = QK_ISA_AVX2; isa <= QK_ISA_AVX512_VNNI; isa++)
      for (int t = 0; t < QK_TYPE_COUNT; t++) qk_types[t].vec[isa] = w.t[t];
  w = v;
  if (qk_vtable_neon(&w))
    for (int t = 0; t < QK_TYPE_COUNT; t++) qk_types[t].vec[QK_ISA_NEON] = w.t[t];
  w = v;
  if (qk_vtable_simd128(&w))
    for (int t = 0; t < QK_TYPE_COUNT; t++) qk_types[t].vec[QK_ISA_SIMD128] = w.t[t];
  qk_plan_register_avx2(qk_types);
  qk_plan_register_avx512(qk_types);
  qk_plan_register_simd128(qk_types);
  int isa = QK_ISA_SCALAR;
#if defined(__x86_64__)
  if (qk_cpu_has_avx2()) isa = QK_ISA_AVX2;
  if (qk_cpu_has_avx512()) isa = QK_ISA_AVX512;
  if (qk_cpu_has_avx512_vnni()) isa = QK_ISA_AVX512_VNNI;
#elif defined(__aarch64__)
  isa = QK_ISA_NEON;
#elif defined(__wasm_simd128__)
  isa = QK_ISA_SIMD128;
#endif
  /* QUANT_KERNELS_ISA=avx2 caps the plan's ISA (to measure the AVX2 paths on an AVX-512 host). */
#if !defined(__wasm__)
  const char *cap = getenv("QUANT_KERNELS_ISA");
  if (cap && isa > QK_ISA_AVX2 && isa <= QK_ISA_AVX512_VNNI) {
    if (!strcmp(cap, "avx2")) isa = QK_ISA_AVX2;
    else if (!strcmp(cap, "avx512")) isa = QK_ISA_AVX512;
  }
#endif
  g_isa = isa;
}

int qk_plan_isa(void) { return g_isa < 0 ? QK_ISA_SCALAR : g_isa; }

const char *qk_isa_name(int isa) {
  static const char *n[] = { "scalar", "avx2", "avx512", "avx512vnni", "neon", "simd128" };
  return isa >= 0 && isa <= QK_ISA_SIMD128 ? n[isa] : "?";
}

static int ctx_isa(const qk_ctx *c) { return c->force_scalar ? QK_ISA_SCALAR : qk_plan_isa(); }

int qk_plan_repack(const void *cv, int type, int64_t rows, int64_t cols) {
  const qk_ctx *c = cv;
  if (type < 0 || type >= QK_TYPE_COUNT || c->mode != QK_MODE_FAST || rows % 16) return QK_LAYOUT_PLAIN;
  const int blk = qk_type_block(type);
  if (!blk || cols % blk) return QK_LAYOUT_PLAIN;
  return qk_types[type].r16_gemm[ctx_isa(c)] ? QK_LAYOUT_R16 : QK_LAYOUT_PLAIN;
}

int qk_plan_matmul(const void *cv, int code, int64_t rows, int64_t cols, int64_t ntok, qk_mm_plan *p) {
  const qk_ctx *c = cv;
  const int type = QK_CODE_TYPE(code), layout = QK_CODE_LAYOUT(code);
  memset(p, 0, sizeof(*p));
  p->isa = ctx_isa(c);
  if (type >= QK_TYPE_COUNT || !qk_type_block(type) || cols % qk_type_block(type)) return -1;
  const qk_type_desc *d = &qk_types[type];
  if (layout == QK_LAYOUT_R16) {
    if (rows % 16 || !d->r16_gemm[p->isa] || !d->r16_act) return -1;
    p->path = ntok == 1 ? QK_PATH_R16_GEMV : QK_PATH_R16_GEMM;
    p->gemm = d->r16_gemm[p->isa];
    p->act = d->r16_act;
    p->act_row = d->r16_act_row(cols);
    p->name = ntok == 1 ? "r16-gemv" : "r16-gemm";
    return 0;
  }
  const qk_type_kernels *k = &d->vec[p->isa];
  if (layout != QK_LAYOUT_PLAIN || !k->dot) return -1;
  if (ntok >= (d->gemm_min_tokens ? d->gemm_min_tokens : QK_GEMM_PLAIN_MIN_TOKENS) && d->gemm[p->isa] && d->gemm_act) {
    p->path = QK_PATH_GEMM_PLAIN;
    p->pgemm = d->gemm[p->isa];
    p->act = d->gemm_act;
    p->act_row = d->gemm_act_row(cols);
    p->name = "gemm-plain";
    return 0;
  }
  p->act_type = d->parity_act;
  if (rows % 8 == 0 && k->dotg && k->dotv) {
    p->path = QK_PATH_REPACK8_EMU;
    p->name = "repack8-emulated";
  } else if (k->dot4 && ntok >= 4) {
    p->path = QK_PATH_VEC4;
    p->name = "vec-dot4";
  } else {
    p->path = QK_PATH_VEC;
    p->name = ntok >= 2 && k->dotm ? "vec-dot-gemm-order" : "vec-dot";
  }
  return 0;
}

int qk_debug_kernels(void) {
#if defined(__wasm__)
  return 0;
#else
  static int v = -1;
  if (v < 0) {
    const char *e = getenv("QUANT_DEBUG");
    v = e && strstr(e, "kernels") ? 1 : 0;
  }
  return v;
#endif
}

/* Logs each distinct (code, rows, cols, one token or several, path) once. */
void qk_plan_log(const qk_mm_plan *p, int code, int64_t rows, int64_t cols, int64_t ntok) {
#if defined(__wasm__)
  (void)p; (void)code; (void)rows; (void)cols; (void)ntok;
#else
  static uint64_t seen[512];
  static int nseen;
  const uint64_t key = ((uint64_t)code << 48) ^ ((uint64_t)rows << 24) ^ (uint64_t)cols ^ ((uint64_t)(ntok > 1) << 63) ^
                       ((uint64_t)p->path << 56);
  for (int i = 0; i < nseen; i++)
    if (seen[i] == key) return;
  if (nseen < 512) seen[nseen++] = key;
  const qk_type_desc *d = &qk_types[QK_CODE_TYPE(code)];
  const char *act = p->path == QK_PATH_GEMM_PLAIN ? d->gemm_act_name : p->act ? d->r16_act_name : (p->act_type == QK_F32 ? "f32" : qk_types[p->act_type].name);
  fprintf(stderr, "[quant kernels] matmul %s%s %lldx%lld tokens=%lld%s isa=%s path=%s act=%s\n", d->name,
          QK_CODE_LAYOUT(code) == QK_LAYOUT_R16 ? "/r16" : "", (long long)rows, (long long)cols, (long long)ntok,
          ntok > 1 ? "" : " (decode)", qk_isa_name(p->isa), p->name, act);
#endif
}

/* ggml's x86 Q8_0 activation values (qk_quantize_act_q8_0), the scale as a float, and 128·Σq. */
void qk_quantize_act_q8_0s(const float *x, void *dst, int64_t n) {
  blk_q8_0s *y = dst;
  for (int64_t i = 0; i < n / QB; i++) {
    blk_q8_0 b;
    qk_quantize_act_q8_0(x + i * QB, &b, QB);
    int32_t s = 0;
    for (int j = 0; j < QB; j++) s += b.qs[j];
    y[i].d = qk_h2f(b.d);
    y[i].s128 = 128 * s;
    memcpy(y[i].qs, b.qs, QB);
  }
}
