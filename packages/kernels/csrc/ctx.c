/* Context lifetime, SIMD selection and scratch memory. */
#include "ctx.h"
#include "plan.h"
#include <stdlib.h>

static void *aligned_alloc64(size_t bytes) {
#if defined(_WIN32)
  return _aligned_malloc(bytes, 64);
#else
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
  return p;
#endif
}

static void aligned_free64(void *p) {
#if defined(_WIN32)
  _aligned_free(p);
#else
  free(p);
#endif
}

/* The context's helpers (scalar, or the SIMD file's) and the ISA row of the type descriptors it uses. */
static void select_simd(qk_ctx *c) {
  qk_vtable v;
  qk_vtable_scalar(&v);
  c->simd = "scalar";
  if (!c->force_scalar) {
    if (qk_vtable_avx2(&v)) c->simd = "avx2";
    else if (qk_vtable_neon(&v)) c->simd = "neon";
    else if (qk_vtable_simd128(&v)) c->simd = "simd128";
  }
  c->vt = v.ops;
  c->vt.isa = c->force_scalar ? QK_ISA_SCALAR : qk_plan_isa();
}

qk_ctx *qk_ctx_create(int nthreads, int force_scalar) {
  qk_init_tables();
  qk_ctx *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->force_scalar = force_scalar;
  qk_plan_init();
  select_simd(c);
#if !defined(__wasm__)
  const char *mode = getenv("QUANT_KERNELS_MODE");
  c->mode = mode && !strcmp(mode, "parity") ? QK_MODE_PARITY : QK_MODE_FAST;
#endif
  c->pool = qk_pool_create(nthreads);
  if (!c->pool) { free(c); return NULL; }
  c->nthreads = qk_pool_size(c->pool);
  return c;
}

void qk_ctx_destroy(qk_ctx *c) {
  if (!c) return;
  qk_pool_destroy(c->pool);
  aligned_free64(c->scratch);
  free(c);
}

int qk_ctx_set_threads(qk_ctx *c, int n) {
  qk_pool *p = qk_pool_create(n);
  if (!p) return -1;
  qk_pool_destroy(c->pool);
  c->pool = p;
  c->nthreads = qk_pool_size(p);
  return c->nthreads;
}

void *qk_ctx_scratch(qk_ctx *c, size_t bytes) {
  if (bytes <= c->scratch_size && c->scratch) return c->scratch;
  aligned_free64(c->scratch);
  size_t sz = bytes + bytes / 4 + 4096;
  c->scratch = aligned_alloc64(sz);
  c->scratch_size = c->scratch ? sz : 0;
  return c->scratch;
}
