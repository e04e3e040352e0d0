/*
 * Node-API surface shared by the native addon and the WebAssembly module (emnapi).
 * Every function takes numbers; pointers travel as numbers (addresses in native memory, or
 * offsets in wasm linear memory). Argument checking happens in the TypeScript facade; this layer
 * only converts types, so keep the facade's checks in sync with what the C code reads and writes.
 */
#include <node_api.h>
#include <stdlib.h>
#if !defined(__wasm__)
#include <stdio.h> /* snprintf: the wasm module must import nothing but Node-API (stdio pulls in WASI) */
#endif
#include "ctx.h"
#include "file-map.h"
#include "op-table.h"

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

static int ctx_busy(napi_env env, const void *ctx, const char *what) {
  if (ctx && ((const qk_ctx *)ctx)->busy) {
    static const char tail[] = ": a command list (kernels.run()) is running on this context; wait for it to settle";
    char msg[192];
    size_t n = 0;
    for (const char *p = what; *p && n < 64; p++) msg[n++] = *p;
    memcpy(msg + n, tail, sizeof(tail));
    napi_throw_error(env, "QK_BUSY", msg);
    return 1;
  }
  return 0;
}

static napi_value f_destroy_context(napi_env env, napi_callback_info info) {
  ARGS(1);
  if (ctx_busy(env, PTR(a[0]), "destroyContext")) return NULL;
  qk_ctx_destroy(PTR(a[0]));
  return NULL;
}

static napi_value f_set_threads(napi_env env, napi_callback_info info) {
  ARGS(2);
  if (ctx_busy(env, PTR(a[0]), "setThreads")) return NULL;
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
  /* flags: 1 = zeroed, 2 = about to be written in full (map every page now: see mem-advise.c) */
  const int flags = (int)a[1];
  if (flags & 2) qk_mem_advise_huge(p, bytes);
  if (flags & 3) qk_mem_populate(p, bytes);
  if (flags & 1) memset(p, 0, bytes);
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
  napi_create_array_with_length(env, 4, &arr);
  napi_set_element(env, arr, 0, num(env, (double)(uintptr_t)m.data));
  napi_set_element(env, arr, 1, num(env, (double)(uintptr_t)m.base));
  napi_set_element(env, arr, 2, num(env, (double)m.len));
  napi_set_element(env, arr, 3, num(env, (double)m.file_id));
  return arr;
}

/* SIGBUS faults absorbed inside file mappings so far (process-wide; see mmap.c). */
static napi_value f_map_faults(napi_env env, napi_callback_info info) { (void)info; return num(env, qk_map_faults()); }
/* 0, or QK_FILE_* bits saying how a mapped file changed since it was mapped (see file-map.h). */
static napi_value f_map_check(napi_env env, napi_callback_info info) { ARGS(1); return num(env, qk_map_check((int)a[0])); }

static napi_value f_unmap(napi_env env, napi_callback_info info) {
  ARGS(2);
  qk_unmap(PTR(a[0]), (size_t)a[1]);
  return NULL;
}

/* Every entry of the op table (op-table.c) is exposed as a function of its name: `data` is the entry. */
static napi_value f_op(napi_env env, napi_callback_info info) {
  size_t argc = QK_OP_MAX_ARGS;
  napi_value argv[QK_OP_MAX_ARGS];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  const qk_op *op = data;
  double a[QK_OP_MAX_ARGS];
  if (argc < (size_t)op->nargs) {
    napi_throw_type_error(env, "QK_ARGS", "too few arguments");
    return NULL;
  }
  for (int i = 0; i < op->nargs; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number) { a[i] = 0; continue; }
    if (napi_get_value_double(env, argv[i], &a[i]) != napi_ok) return NULL;
  }
  if ((op->flags & QK_OP_CTX) && ctx_busy(env, PTR(a[0]), op->name)) return NULL;
  const double r = op->fn(a);
  return (op->flags & (QK_OP_STATUS | QK_OP_VALUE)) ? num(env, r) : NULL;
}

/* The op table for the facade: [[name, nargs, flags], ...] in table order (= command op index). */
static napi_value f_op_table(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  CHECK(napi_create_array_with_length(env, (size_t)qk_nops, &arr));
  for (int i = 0; i < qk_nops; i++) {
    napi_value e, name;
    CHECK(napi_create_array_with_length(env, 3, &e));
    CHECK(napi_create_string_utf8(env, qk_ops[i].name, NAPI_AUTO_LENGTH, &name));
    napi_set_element(env, e, 0, name);
    napi_set_element(env, e, 1, num(env, qk_ops[i].nargs));
    napi_set_element(env, e, 2, num(env, qk_ops[i].flags));
    napi_set_element(env, arr, (uint32_t)i, e);
  }
  return arr;
}

#if !defined(__wasm__)
/*
 * exec(ctx, cmds: Float64Array, count) -> Promise<undefined | [commandIndex, rc]>: runs a command
 * list (kernels.run() on native) on a libuv worker thread. The commands are copied, so the caller
 * may reuse the array at once. The context is marked busy from here until the completion callback
 * (on the JS thread), so no other op can use its thread pool or scratch meanwhile. Resolves with
 * [index, rc] when a status op failed (later commands did not run); rejects only if Node-API fails.
 * Not in the wasm build (single-threaded: the facade runs ops inline there).
 */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  qk_ctx *ctx;
  double *cmds;
  int64_t count;
  int64_t fail_index;
  double fail_rc;
} exec_job;

static void exec_execute(napi_env env, void *data) {
  (void)env;
  exec_job *j = data;
  j->fail_index = qk_cmds_run(j->cmds, j->count, &j->fail_rc);
}

static void exec_complete(napi_env env, napi_status status, void *data) {
  exec_job *j = data;
  j->ctx->busy = 0;
  napi_value result = NULL;
  if (status != napi_ok) {
    napi_value code, msg;
    napi_create_string_utf8(env, "QK_EXEC", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, status == napi_cancelled ? "exec: the command list was cancelled"
                                                          : "exec: Node-API async work failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &result);
    napi_reject_deferred(env, j->deferred, result);
  } else {
    if (j->fail_index >= 0) {
      napi_create_array_with_length(env, 2, &result);
      napi_set_element(env, result, 0, num(env, (double)j->fail_index));
      napi_set_element(env, result, 1, num(env, j->fail_rc));
    } else {
      napi_get_undefined(env, &result);
    }
    napi_resolve_deferred(env, j->deferred, result);
  }
  napi_delete_async_work(env, j->work);
  free(j->cmds);
  free(j);
}

static napi_value f_exec(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double ctxv = 0, countv = 0;
  bool is_ta = false;
  if (argc < 3 || napi_get_value_double(env, argv[0], &ctxv) != napi_ok ||
      napi_get_value_double(env, argv[2], &countv) != napi_ok || napi_is_typedarray(env, argv[1], &is_ta) != napi_ok ||
      !is_ta) {
    napi_throw_type_error(env, "QK_ARGS", "exec(ctx, cmds: Float64Array, count)");
    return NULL;
  }
  napi_typedarray_type tt;
  size_t len = 0, off = 0;
  void *cmds = NULL;
  napi_value ab;
  CHECK(napi_get_typedarray_info(env, argv[1], &tt, &len, &cmds, &ab, &off));
  qk_ctx *ctx = PTR(ctxv);
  const int64_t count = (int64_t)countv;
  if (tt != napi_float64_array || !ctx || count < 0 || (double)count != countv) {
    napi_throw_type_error(env, "QK_ARGS", "exec(ctx, cmds: Float64Array, count): bad context, array type or count");
    return NULL;
  }
  if (ctx_busy(env, ctx, "exec")) return NULL;
  const int64_t used = qk_cmds_check(cmds, (int64_t)len, count, ctx);
  if (used < 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "exec: command %lld is malformed (unknown op, value op, too few arguments or another context)",
             (long long)(-used - 1));
    napi_throw_error(env, "QK_ARGS", msg);
    return NULL;
  }
  exec_job *j = calloc(1, sizeof(*j));
  double *copy = malloc(used > 0 ? (size_t)used * sizeof(double) : sizeof(double));
  if (!j || !copy) {
    free(j);
    free(copy);
    napi_throw_error(env, "QK_OOM", "exec: out of memory copying the command list");
    return NULL;
  }
  if (used > 0) memcpy(copy, cmds, (size_t)used * sizeof(double));
  j->ctx = ctx;
  j->cmds = copy;
  j->count = count;
  j->fail_index = -1;
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "quant-kernels:exec", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, exec_execute, exec_complete, j, &j->work) != napi_ok) {
    free(copy);
    free(j);
    napi_throw_error(env, "QK_NAPI", "exec: could not create the async work");
    return NULL;
  }
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_async_work(env, j->work);
    free(copy);
    free(j);
    napi_throw_error(env, "QK_NAPI", "exec: could not queue the async work");
    return NULL;
  }
  ctx->busy = 1;
  return promise;
}
#endif

#define FN(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_default, NULL }

NAPI_MODULE_INIT() {
  qk_init_tables();
  napi_property_descriptor props[] = {
    FN("createContext", f_create_context), FN("destroyContext", f_destroy_context),
    FN("setThreads", f_set_threads), FN("threads", f_threads), FN("simd", f_simd), FN("typeInfo", f_type_info),
    FN("alloc", f_alloc), FN("free", f_free), FN("addressOf", f_address_of),
    FN("mapFile", f_map_file), FN("unmap", f_unmap),
    FN("opTable", f_op_table),
#if !defined(__wasm__)
    FN("exec", f_exec),
#endif
    FN("mapFaults", f_map_faults), FN("mapCheck", f_map_check),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  /* One function per op-table entry (the same names as RawBinding). */
  for (int i = 0; i < qk_nops; i++) {
    napi_property_descriptor d = { qk_ops[i].name, NULL, f_op, NULL, NULL, NULL, napi_default, (void *)&qk_ops[i] };
    napi_define_properties(env, exports, 1, &d);
  }
  return exports;
}
