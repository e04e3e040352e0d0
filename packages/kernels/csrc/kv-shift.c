/*
 * Context shift of one layer of a KV cache, as llama.cpp shifts its cache (llama_kv_cache::
 * build_graph_shift / build_rope_shift, the "K-shift"): the K and V rows of positions
 * [from, from+count) move to [to, to+count), and the moved keys are rotated by the position delta
 * δ = to − from with the layer's RoPE. A key stored at position p was rotated by θ_i·p; rotating it
 * by θ_i·δ gives θ_i·(p + δ), the key a fresh evaluation at p + δ stores (RoPE angles are linear in
 * the position, with the same freq scale and per-pair factors), up to the cache type's rounding.
 * The attention factor that scales cos and sin was applied once when the key was stored and is not
 * applied again (p->attn_factor is ignored: the rotation here has factor 1).
 *
 * F32 keys rotate in place. F16/BF16 keys, block-quantized keys and rotated keys (llama.cpp's
 * Hadamard k_rot, quant's own modes: randomized Hadamard, smoothing) are decoded to f32, taken out
 * of the cache's domain (qk_kv_from_cache), roped, taken back (qk_kv_to_cache) and encoded with the
 * quantizer qk_kv_store uses (qk_kv_convert_part), as llama.cpp casts a quantized K to f32, undoes
 * k_rot, ropes, redoes k_rot and copies it back. V only moves.
 */
#include "ctx.h"
#include <stdlib.h>

typedef struct {
  const qk_kv *kv;
  uint8_t *kbase; /* K row 0 of the layer */
  size_t krow;
  int64_t to, count, chunk;
  const qk_rope_params *p;
  const float *cs;
  float *scratch; /* kv_dim floats per thread */
  int64_t layer;
} shift_job;

static void shift_chunk(void *arg, int64_t c, int ith) {
  const shift_job *j = arg;
  const qk_kv *kv = j->kv;
  const int64_t t0 = j->to + c * j->chunk;
  int64_t t1 = t0 + j->chunk;
  if (t1 > j->to + j->count) t1 = j->to + j->count;
  const int direct = kv->k_type == QK_F32 && !kv->k_rot && !kv->k_mode;
  float *row = j->scratch + (size_t)ith * (size_t)kv->kv_dim;
  for (int64_t t = t0; t < t1; t++) {
    uint8_t *kr = j->kbase + (size_t)t * j->krow;
    if (direct) {
      qk_rope_apply((float *)kr, j->cs, j->p);
      continue;
    }
    qk_dequantize(kv->k_type, kr, row, kv->kv_dim);
    qk_kv_from_cache(kv, 0, j->layer, row, 0, kv->kv_dim); /* undoes k_rot (and quant's rotated types) */
    qk_rope_apply(row, j->cs, j->p);
    qk_kv_to_cache(kv, 0, j->layer, row, 0, kv->kv_dim);
    qk_kv_convert_part(kv, 0, row, kr, kv->kv_dim);
  }
}

int qk_kv_shift_layer(qk_ctx *c, const qk_kv *kv, int64_t layer, int64_t from, int64_t to, int64_t count,
                      const qk_rope_params *rope) {
  if (count <= 0) return 0;
  const size_t krow = qk_kv_row_bytes(kv, 0), vrow = qk_kv_row_bytes(kv, 1);
  uint8_t *kbase = (uint8_t *)kv->data + (size_t)layer * (size_t)kv->ctx * (krow + vrow);
  uint8_t *vbase = kbase + (size_t)kv->ctx * krow;
  if (from != to) {
    memmove(kbase + (size_t)to * krow, kbase + (size_t)from * krow, (size_t)count * krow);
    memmove(vbase + (size_t)to * vrow, vbase + (size_t)from * vrow, (size_t)count * vrow);
  }
  const int64_t delta = to - from;
  if (!rope || rope->n_rot <= 0 || delta == 0) return 0;
  qk_rope_params p = *rope;
  p.attn_factor = 1.0f;
  p.n_heads = kv->kv_dim / p.head_dim;
  const int64_t half = p.n_rot / 2;
  float cs_stack[512];
  float *cs = half * 2 <= 512 ? cs_stack : malloc((size_t)half * 2 * sizeof(float));
  if (!cs) return -2;
  qk_rope_table(cs, &p, delta);
  int nth = c->nthreads < 1 ? 1 : c->nthreads;
  const int64_t chunk = 16, nchunks = (count + chunk - 1) / chunk;
  if (nchunks < nth) nth = (int)nchunks;
  float *scratch = malloc((size_t)nth * (size_t)kv->kv_dim * sizeof(float));
  if (!scratch) {
    if (cs != cs_stack) free(cs);
    return -2;
  }
  shift_job j = { kv, kbase, krow, to, count, chunk, &p, cs, scratch, layer };
  qk_pool_run(c->pool, shift_chunk, &j, nchunks, nth);
  free(scratch);
  if (cs != cs_stack) free(cs);
  return 0;
}
