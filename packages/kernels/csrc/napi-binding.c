/*
 * Node-API surface shared by the native addon and the WebAssembly module (emnapi).
 * Every function takes numbers; pointers travel as numbers (addresses in native memory, or
 * offsets in wasm linear memory). Argument checking happens in the TypeScript facade; this layer
 * only converts types, so keep the facade's checks in sync with what the C code reads and writes.
 */
#include <node_api.h>
#include <stdlib.h>
#include "ctx.h"
#include "file-map.h"

#define MAXARGS 20

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, "QK_NAPI", "Node-API call failed: " #call); return NULL; } } while (0)

static int get_args(napi_env env, napi_callback_info info, double *out, size_t want, napi_value *raw) {
  size_t argc = MAXARGS;
  napi_value argv[MAXARGS];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "QK_ARGS", "too few arguments");
    return -1;
  }
  for (size_t i = 0; i < want; i++) {
    if (raw) raw[i] = argv[i];
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number) { out[i] = 0; continue; }
    if (napi_get_value_double(env, argv[i], &out[i]) != napi_ok) return -1;
  }
  return 0;
}

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

#define PTR(v) ((void *)(uintptr_t)(v))
#define FPTR(v) ((float *)(uintptr_t)(v))
#define I64(v) ((int64_t)(v))
#define ARGS(n) double a[MAXARGS]; if (get_args(env, info, a, n, NULL)) return NULL;

static napi_value f_create_context(napi_env env, napi_callback_info info) {
  ARGS(2);
  qk_ctx *c = qk_ctx_create((int)a[0], (int)a[1]);
  if (!c) { napi_throw_error(env, "QK_OOM", "could not create kernel context"); return NULL; }
  return num(env, (double)(uintptr_t)c);
}

static napi_value f_destroy_context(napi_env env, napi_callback_info info) {
  ARGS(1);
  qk_ctx_destroy(PTR(a[0]));
  return NULL;
}

static napi_value f_set_threads(napi_env env, napi_callback_info info) {
  ARGS(2);
  return num(env, qk_ctx_set_threads(PTR(a[0]), (int)a[1]));
}

static napi_value f_threads(napi_env env, napi_callback_info info) {
  ARGS(1);
  return num(env, ((qk_ctx *)PTR(a[0]))->nthreads);
}

static napi_value f_simd(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value r;
  napi_create_string_utf8(env, ((qk_ctx *)PTR(a[0]))->simd, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value f_type_info(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, qk_type_block((int)a[0])));
  napi_set_element(env, arr, 1, num(env, qk_type_bytes((int)a[0])));
  return arr;
}

static napi_value f_alloc(napi_env env, napi_callback_info info) {
  ARGS(2);
  size_t bytes = (size_t)a[0];
  void *p = NULL;
#if defined(_WIN32)
  p = _aligned_malloc(bytes ? bytes : 64, 64);
#else
  if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) p = NULL;
#endif
  if (!p) return num(env, 0);
  if (a[1] != 0) memset(p, 0, bytes);
  return num(env, (double)(uintptr_t)p);
}

static napi_value f_free(napi_env env, napi_callback_info info) {
  ARGS(1);
#if defined(_WIN32)
  _aligned_free(PTR(a[0]));
#else
  free(PTR(a[0]));
#endif
  return NULL;
}

/* Address of a TypedArray's / ArrayBuffer's bytes (native only: wasm works on linear memory). */
static napi_value f_address_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value v;
  CHECK(napi_get_cb_info(env, info, &argc, &v, NULL, NULL));
  bool is_ta = false, is_ab = false;
  void *data = NULL;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type tt;
    size_t len, off;
    napi_value ab;
    CHECK(napi_get_typedarray_info(env, v, &tt, &len, &data, &ab, &off));
  } else {
    napi_is_arraybuffer(env, v, &is_ab);
    if (!is_ab) { napi_throw_type_error(env, "QK_ARGS", "addressOf expects a TypedArray or ArrayBuffer"); return NULL; }
    size_t len;
    CHECK(napi_get_arraybuffer_info(env, v, &data, &len));
  }
  return num(env, (double)(uintptr_t)data);
}

static napi_value f_map_file(napi_env env, napi_callback_info info) {
  double a[MAXARGS];
  napi_value raw[3];
  if (get_args(env, info, a, 3, raw)) return NULL;
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, raw[0], path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1) {
    napi_throw_type_error(env, "QK_ARGS", "mapFile: path must be a string shorter than 4095 bytes");
    return NULL;
  }
  qk_map m;
  int rc = qk_map_file(path, a[1], a[2], &m);
  if (rc != 0) return num(env, rc > 0 ? -rc : rc);
  napi_value arr;
  napi_create_array_with_length(env, 3, &arr);
  napi_set_element(env, arr, 0, num(env, (double)(uintptr_t)m.data));
  napi_set_element(env, arr, 1, num(env, (double)(uintptr_t)m.base));
  napi_set_element(env, arr, 2, num(env, (double)m.len));
  return arr;
}

static napi_value f_unmap(napi_env env, napi_callback_info info) {
  ARGS(2);
  qk_unmap(PTR(a[0]), (size_t)a[1]);
  return NULL;
}

static napi_value f_dequantize(napi_env env, napi_callback_info info) {
  ARGS(4);
  return num(env, qk_dequantize((int)a[0], PTR(a[1]), FPTR(a[2]), I64(a[3])));
}

static napi_value f_quantize(napi_env env, napi_callback_info info) {
  ARGS(6);
  return num(env, qk_quantize((int)a[0], FPTR(a[1]), PTR(a[2]), I64(a[3]), I64(a[4]), (int)a[5]));
}

static napi_value f_matmul(napi_env env, napi_callback_info info) {
  ARGS(8);
  return num(env, qk_matmul(PTR(a[0]), FPTR(a[1]), PTR(a[2]), (int)a[3], I64(a[4]), I64(a[5]), FPTR(a[6]), I64(a[7])));
}

static napi_value f_get_rows(napi_env env, napi_callback_info info) {
  ARGS(7);
  return num(env, qk_get_rows(PTR(a[0]), (int)a[1], I64(a[2]), I64(a[3]), PTR(a[4]), I64(a[5]), FPTR(a[6])));
}

static napi_value f_rms_norm(napi_env env, napi_callback_info info) {
  ARGS(6);
  qk_rms_norm(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3]), I64(a[4]), (float)a[5]);
  return NULL;
}

static napi_value f_rope(napi_env env, napi_callback_info info) {
  ARGS(11);
  qk_rope_params p;
  p.n_tokens = I64(a[1]); p.pos = I64(a[2]); p.n_heads = I64(a[3]); p.head_dim = I64(a[4]); p.n_rot = I64(a[5]);
  p.neox = (int)a[6]; p.freq_base = (float)a[7]; p.freq_scale = (float)a[8]; p.attn_factor = (float)a[9];
  p.freq_factors = a[10] != 0 ? FPTR(a[10]) : NULL;
  qk_rope(FPTR(a[0]), &p);
  return NULL;
}

static napi_value f_softmax(napi_env env, napi_callback_info info) { ARGS(3); qk_softmax(FPTR(a[0]), I64(a[1]), I64(a[2])); return NULL; }
static napi_value f_silu(napi_env env, napi_callback_info info) { ARGS(2); qk_silu(FPTR(a[0]), I64(a[1])); return NULL; }
static napi_value f_swiglu(napi_env env, napi_callback_info info) { ARGS(4); qk_swiglu(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return NULL; }
static napi_value f_swiglu_fused(napi_env env, napi_callback_info info) { ARGS(4); qk_swiglu_fused(FPTR(a[0]), FPTR(a[1]), I64(a[2]), I64(a[3])); return NULL; }
static napi_value f_add(napi_env env, napi_callback_info info) { ARGS(4); qk_add(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return NULL; }
static napi_value f_add_bias(napi_env env, napi_callback_info info) { ARGS(4); qk_add_bias(FPTR(a[0]), FPTR(a[1]), I64(a[2]), I64(a[3])); return NULL; }
static napi_value f_mul(napi_env env, napi_callback_info info) { ARGS(4); qk_mul(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return NULL; }
static napi_value f_scale(napi_env env, napi_callback_info info) { ARGS(3); qk_scale(FPTR(a[0]), (float)a[1], I64(a[2])); return NULL; }
static napi_value f_copy_rows(napi_env env, napi_callback_info info) {
  ARGS(6);
  qk_copy_rows(FPTR(a[0]), I64(a[1]), FPTR(a[2]), I64(a[3]), I64(a[4]), I64(a[5]));
  return NULL;
}
static napi_value f_argmax(napi_env env, napi_callback_info info) { ARGS(2); return num(env, (double)qk_argmax(FPTR(a[0]), I64(a[1]))); }

static napi_value f_mem_read(napi_env env, napi_callback_info info) { ARGS(3); return num(env, qk_mem_read(PTR(a[0]), PTR(a[1]), (size_t)a[2])); }

static void kv_from(const double *a, qk_kv *kv) {
  kv->data = PTR(a[0]); kv->layers = I64(a[1]); kv->ctx = I64(a[2]); kv->kv_dim = I64(a[3]); kv->is_f16 = (int)a[4];
}

static napi_value f_kv_store(napi_env env, napi_callback_info info) {
  ARGS(10);
  qk_kv kv; kv_from(a, &kv);
  qk_kv_store(&kv, I64(a[5]), I64(a[6]), I64(a[7]), FPTR(a[8]), FPTR(a[9]));
  return NULL;
}

static napi_value f_kv_shift(napi_env env, napi_callback_info info) {
  ARGS(8);
  qk_kv kv; kv_from(a, &kv);
  qk_kv_shift(&kv, I64(a[5]), I64(a[6]), I64(a[7]));
  return NULL;
}

static napi_value f_attention(napi_env env, napi_callback_info info) {
  /* ctx, out, q, kv(5), layer, nTokens, pos, nHeads, nKvHeads, headDim, window, scale, flash */
  ARGS(17);
  qk_kv kv; kv_from(a + 3, &kv);
  qk_attn_params p;
  p.n_tokens = I64(a[9]); p.pos = I64(a[10]); p.n_heads = I64(a[11]); p.n_kv_heads = I64(a[12]);
  p.head_dim = I64(a[13]); p.window = I64(a[14]); p.scale = (float)a[15]; p.flash = a[16] != 0;
  return num(env, qk_attention(PTR(a[0]), FPTR(a[1]), FPTR(a[2]), &kv, I64(a[8]), &p));
}

#define FN(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_default, NULL }

NAPI_MODULE_INIT() {
  qk_init_tables();
  napi_property_descriptor props[] = {
    FN("createContext", f_create_context), FN("destroyContext", f_destroy_context),
    FN("setThreads", f_set_threads), FN("threads", f_threads), FN("simd", f_simd), FN("typeInfo", f_type_info),
    FN("alloc", f_alloc), FN("free", f_free), FN("addressOf", f_address_of),
    FN("mapFile", f_map_file), FN("unmap", f_unmap),
    FN("dequantize", f_dequantize), FN("quantize", f_quantize),
    FN("matmul", f_matmul), FN("getRows", f_get_rows),
    FN("rmsNorm", f_rms_norm), FN("rope", f_rope), FN("softmax", f_softmax), FN("silu", f_silu),
    FN("swiglu", f_swiglu), FN("swigluFused", f_swiglu_fused), FN("add", f_add), FN("addBias", f_add_bias),
    FN("mul", f_mul), FN("scale", f_scale), FN("copyRows", f_copy_rows), FN("argmax", f_argmax),
    FN("kvStore", f_kv_store), FN("memRead", f_mem_read), FN("kvShift", f_kv_shift), FN("attention", f_attention),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
