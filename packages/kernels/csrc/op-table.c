/*
 * The op table (see op-table.h): one function per kernel op, taking its numeric arguments as the
 * TypeScript facade passes them (raw-binding.ts), and the command-list checker and runner.
 * Argument order of every entry = the RawBinding signature of the same name.
 */
#include "op-table.h"
#include "ctx.h"
#include "plan.h"
#include "norm-act.h"
#include <stdlib.h>

#define PTR(v) ((void *)(uintptr_t)(v))
#define FPTR(v) ((float *)(uintptr_t)(v))
#define I64(v) ((int64_t)(v))

static double op_dequantize(const double *a) { return qk_dequantize((int)a[0], PTR(a[1]), FPTR(a[2]), I64(a[3])); }

static double op_quantize(const double *a) {
  return qk_quantize((int)a[0], FPTR(a[1]), PTR(a[2]), I64(a[3]), I64(a[4]), (int)a[5]);
}

/* ctx, out, w, type, rows, cols, x, nTokens */
static double op_matmul(const double *a) {
  return qk_matmul(PTR(a[0]), FPTR(a[1]), PTR(a[2]), (int)a[3], I64(a[4]), I64(a[5]), FPTR(a[6]), I64(a[7]));
}

/* w, type, rows, cols, ids, n, out */
static double op_get_rows(const double *a) {
  return qk_get_rows(PTR(a[0]), (int)a[1], I64(a[2]), I64(a[3]), PTR(a[4]), I64(a[5]), FPTR(a[6]));
}

static double op_rms_norm(const double *a) {
  qk_rms_norm(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3]), I64(a[4]), (float)a[5]);
  return 0;
}

/* x, nTokens, pos, nHeads, headDim, nRot, neox, freqBase, freqScale, attnFactor, factors */
static double op_rope(const double *a) {
  qk_rope_params p;
  p.n_tokens = I64(a[1]); p.pos = I64(a[2]); p.n_heads = I64(a[3]); p.head_dim = I64(a[4]); p.n_rot = I64(a[5]);
  p.neox = (int)a[6]; p.freq_base = (float)a[7]; p.freq_scale = (float)a[8]; p.attn_factor = (float)a[9];
  p.freq_factors = a[10] != 0 ? FPTR(a[10]) : NULL;
  qk_rope(FPTR(a[0]), &p);
  return 0;
}

/* x, nTokens, positions (int32 per row), nHeads, headDim, nRot, neox, freqBase, freqScale, attnFactor, factors */
static double op_rope_rows(const double *a) {
  qk_rope_params p;
  p.n_tokens = I64(a[1]); p.pos = 0; p.n_heads = I64(a[3]); p.head_dim = I64(a[4]); p.n_rot = I64(a[5]);
  p.neox = (int)a[6]; p.freq_base = (float)a[7]; p.freq_scale = (float)a[8]; p.attn_factor = (float)a[9];
  p.freq_factors = a[10] != 0 ? FPTR(a[10]) : NULL;
  qk_rope_rows(FPTR(a[0]), (const int32_t *)PTR(a[2]), &p);
  return 0;
}

/* out, x, w (0 = none), b (0 = none), rows, cols, eps */
static double op_layer_norm(const double *a) {
  qk_layer_norm(FPTR(a[0]), FPTR(a[1]), a[2] != 0 ? FPTR(a[2]) : NULL, a[3] != 0 ? FPTR(a[3]) : NULL, I64(a[4]), I64(a[5]), (float)a[6]);
  return 0;
}
static double op_gelu(const double *a) { qk_gelu(FPTR(a[0]), FPTR(a[1]), I64(a[2])); return 0; }
static double op_gelu_erf(const double *a) { qk_gelu_erf(FPTR(a[0]), FPTR(a[1]), I64(a[2])); return 0; }
/* out, x, cap, n */
static double op_softcap(const double *a) { qk_softcap(FPTR(a[0]), FPTR(a[1]), (float)a[2], I64(a[3])); return 0; }

static double op_softmax(const double *a) { qk_softmax(FPTR(a[0]), I64(a[1]), I64(a[2])); return 0; }
static double op_silu(const double *a) { qk_silu(FPTR(a[0]), I64(a[1])); return 0; }
static double op_swiglu(const double *a) { qk_swiglu(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return 0; }
static double op_swiglu_fused(const double *a) { qk_swiglu_fused(FPTR(a[0]), FPTR(a[1]), I64(a[2]), I64(a[3])); return 0; }
static double op_add(const double *a) { qk_add(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return 0; }
static double op_add_bias(const double *a) { qk_add_bias(FPTR(a[0]), FPTR(a[1]), I64(a[2]), I64(a[3])); return 0; }
static double op_mul(const double *a) { qk_mul(FPTR(a[0]), FPTR(a[1]), FPTR(a[2]), I64(a[3])); return 0; }
static double op_scale(const double *a) { qk_scale(FPTR(a[0]), (float)a[1], I64(a[2])); return 0; }

/* dst, dstStride, src, srcStride, rows, cols */
static double op_copy_rows(const double *a) {
  qk_copy_rows(FPTR(a[0]), I64(a[1]), FPTR(a[2]), I64(a[3]), I64(a[4]), I64(a[5]));
  return 0;
}

static double op_argmax(const double *a) { return (double)qk_argmax(FPTR(a[0]), I64(a[1])); }

static double op_mem_read(const double *a) { return qk_mem_read(PTR(a[0]), PTR(a[1]), (size_t)a[2]); }

/* dst, src, n */
static double op_copy_bytes(const double *a) { memcpy(PTR(a[0]), PTR(a[1]), (size_t)a[2]); return 0; }

static void kv_from(const double *a, qk_kv *kv) {
  kv->data = PTR(a[0]); kv->layers = I64(a[1]); kv->ctx = I64(a[2]); kv->kv_dim = I64(a[3]);
  /* a type code is ggml type id | rotation size << 8 | mode (QK_KVM_*) << 20 */
  const int kc = (int)a[4], vc = (int)a[5];
  kv->k_type = kc & 255; kv->k_rot = (kc >> 8) & 4095; kv->v_type = vc & 255; kv->v_rot = (vc >> 8) & 4095;
  kv->k_mode = kc >> 20; kv->v_mode = vc >> 20;
}

/* kv(6), layer, pos, n, k, v */
static double op_kv_store(const double *a) {
  qk_kv kv;
  kv_from(a, &kv);
  qk_kv_store(&kv, I64(a[6]), I64(a[7]), I64(a[8]), FPTR(a[9]), FPTR(a[10]));
  return 0;
}

/* kv(6), from, to, count */
static double op_kv_shift(const double *a) {
  qk_kv kv;
  kv_from(a, &kv);
  qk_kv_shift(&kv, I64(a[6]), I64(a[7]), I64(a[8]));
  return 0;
}

/* ctx, kv(6), layer, from, to, count, headDim, nRot (0 = move only), neox, freqBase, freqScale, factors (0 = none) */
static double op_kv_shift_rope(const double *a) {
  qk_kv kv;
  kv_from(a + 1, &kv);
  qk_rope_params p;
  p.n_tokens = 1; p.pos = 0; p.head_dim = I64(a[11]); p.n_heads = p.head_dim > 0 ? kv.kv_dim / p.head_dim : 0;
  p.n_rot = I64(a[12]); p.neox = (int)a[13]; p.freq_base = (float)a[14]; p.freq_scale = (float)a[15];
  p.attn_factor = 1.0f; p.freq_factors = a[16] != 0 ? FPTR(a[16]) : NULL;
  return qk_kv_shift_layer(PTR(a[0]), &kv, I64(a[7]), I64(a[8]), I64(a[9]), I64(a[10]), &p);
}

/* ctx, out, q, kv(6), layer, nTokens, pos, nHeads, nKvHeads, headDim, window, scale, flash, softcap */
static double op_attention(const double *a) {
  qk_kv kv;
  kv_from(a + 3, &kv);
  qk_attn_params p;
  p.n_tokens = I64(a[10]); p.pos = I64(a[11]); p.n_heads = I64(a[12]); p.n_kv_heads = I64(a[13]);
  p.head_dim = I64(a[14]); p.window = I64(a[15]); p.scale = (float)a[16]; p.flash = a[17] != 0;
  p.softcap = (float)a[18];
  return qk_attention(PTR(a[0]), FPTR(a[1]), FPTR(a[2]), &kv, I64(a[9]), &p);
}

/* A segment list: nseg × [kv(6), nTokens, pos, row] doubles (malloc'd; NULL = out of memory). */
#define SEG_DOUBLES 9
static qk_attn_segment *segs_from(const double *d, int64_t nseg) {
  qk_attn_segment *segs = malloc((size_t)nseg * sizeof(*segs));
  if (!segs) return NULL;
  for (int64_t s = 0; s < nseg; s++) {
    const double *e = d + s * SEG_DOUBLES;
    kv_from(e, &segs[s].kv);
    segs[s].n_tokens = I64(e[6]); segs[s].pos = I64(e[7]); segs[s].row = I64(e[8]);
  }
  return segs;
}

/* ctx, out, q, nseg, segments, layer, nHeads, nKvHeads, headDim, window, scale, flash, softcap */
static double op_attention_segments(const double *a) {
  const int64_t nseg = I64(a[3]);
  if (nseg <= 0) return 0;
  qk_attn_segment *segs = segs_from((const double *)PTR(a[4]), nseg);
  if (!segs) return -2;
  qk_attn_params p;
  p.n_tokens = 0; p.pos = 0; p.n_heads = I64(a[6]); p.n_kv_heads = I64(a[7]); p.head_dim = I64(a[8]);
  p.window = I64(a[9]); p.scale = (float)a[10]; p.flash = a[11] != 0; p.softcap = (float)a[12];
  const int rc = qk_attention_segments(PTR(a[0]), FPTR(a[1]), FPTR(a[2]), segs, nseg, I64(a[5]), &p);
  free(segs);
  return rc;
}

/* ctx, nseg, segments (nseg × [kv(6), nTokens, pos, row] doubles, as attentionSegments), layer, k, v */
static double op_kv_store_segments(const double *a) {
  const int64_t nseg = I64(a[1]);
  if (nseg <= 0) return 0;
  qk_attn_segment *segs = segs_from((const double *)PTR(a[2]), nseg);
  if (!segs) return -2;
  const int rc = qk_kv_store_segments(PTR(a[0]), segs, nseg, I64(a[3]), FPTR(a[4]), FPTR(a[5]));
  free(segs);
  return rc;
}

/* ctx, mode (QK_MODE_*): sets and returns the context's matmul mode */
static double op_set_mode(const double *a) {
  qk_ctx *c = PTR(a[0]);
  c->mode = (int)a[1] == QK_MODE_PARITY ? QK_MODE_PARITY : QK_MODE_FAST;
  return c->mode;
}
/* ctx, type, rows, cols: the layout a new weight should be repacked into (plan.h) */
static double op_repack_plan(const double *a) { return qk_plan_repack(PTR(a[0]), (int)a[1], I64(a[2]), I64(a[3])); }
/* ctx, type, layout, src, dst, rows, cols */
static double op_repack(const double *a) {
  return qk_repack(PTR(a[0]), (int)a[1], (int)a[2], PTR(a[3]), PTR(a[4]), I64(a[5]), I64(a[6]));
}
/* ctx: the ISA the matmul plan uses (plan.h QK_ISA_*; 0 when the context forces scalar) */
static double op_plan_isa(const double *a) {
  const qk_ctx *c = PTR(a[0]);
  return c->force_scalar ? QK_ISA_SCALAR : qk_plan_isa();
}

const qk_op qk_ops[] = {
  { "dequantize", 4, QK_OP_STATUS | QK_OP_VALUE, op_dequantize },
  { "quantize", 6, QK_OP_STATUS | QK_OP_VALUE, op_quantize },
  { "matmul", 8, QK_OP_STATUS | QK_OP_CTX, op_matmul },
  { "getRows", 7, QK_OP_STATUS, op_get_rows },
  { "rmsNorm", 6, 0, op_rms_norm },
  { "rope", 11, 0, op_rope },
  { "softmax", 3, 0, op_softmax },
  { "silu", 2, 0, op_silu },
  { "swiglu", 4, 0, op_swiglu },
  { "swigluFused", 4, 0, op_swiglu_fused },
  { "add", 4, 0, op_add },
  { "addBias", 4, 0, op_add_bias },
  { "mul", 4, 0, op_mul },
  { "scale", 3, 0, op_scale },
  { "copyRows", 6, 0, op_copy_rows },
  { "argmax", 2, QK_OP_VALUE, op_argmax },
  { "memRead", 3, QK_OP_VALUE | QK_OP_CTX, op_mem_read },
  { "copyBytes", 3, 0, op_copy_bytes },
  { "kvStore", 11, 0, op_kv_store },
  { "kvShift", 9, 0, op_kv_shift },
  { "attention", 19, QK_OP_STATUS | QK_OP_CTX, op_attention },
  { "setMode", 2, QK_OP_VALUE | QK_OP_CTX, op_set_mode },
  { "repackPlan", 4, QK_OP_VALUE | QK_OP_CTX, op_repack_plan },
  { "repack", 7, QK_OP_STATUS | QK_OP_VALUE | QK_OP_CTX, op_repack },
  { "planIsa", 1, QK_OP_VALUE | QK_OP_CTX, op_plan_isa },
  { "layerNorm", 7, 0, op_layer_norm },
  { "gelu", 3, 0, op_gelu },
  { "geluErf", 3, 0, op_gelu_erf },
  { "softcap", 4, 0, op_softcap },
  { "kvShiftRope", 17, QK_OP_STATUS | QK_OP_CTX, op_kv_shift_rope },
  { "attentionSegments", 13, QK_OP_STATUS | QK_OP_CTX, op_attention_segments },
  { "ropeRows", 11, 0, op_rope_rows },
  { "kvStoreSegments", 6, QK_OP_STATUS | QK_OP_CTX, op_kv_store_segments },
};

const int qk_nops = (int)(sizeof(qk_ops) / sizeof(qk_ops[0]));

int64_t qk_cmds_check(const double *cmds, int64_t len, int64_t count, const void *ctx) {
  int64_t at = 0;
  for (int64_t i = 0; i < count; i++) {
    if (at >= len) return -(1 + i);
    const double d = cmds[at];
    if (!(d >= 0 && d < qk_nops) || d != (double)(int)d) return -(1 + i);
    const qk_op *op = &qk_ops[(int)d];
    if ((op->flags & QK_OP_VALUE) || at + 1 + op->nargs > len) return -(1 + i);
    if ((op->flags & QK_OP_CTX) && PTR(cmds[at + 1]) != ctx) return -(1 + i);
    at += 1 + op->nargs;
  }
  return at;
}

/* A matmul command whose input (ctx, out, w, type, rows, cols, x, nTokens) is the previous matmul's,
 * not overwritten by that matmul's output: its activations are still quantized in scratch. */
static int same_matmul_input(const double *prev, const double *a) {
  if (!prev || prev[0] != a[0] || prev[6] != a[6] || prev[7] != a[7] || prev[5] != a[5]) return 0;
  const double out0 = prev[1], out1 = prev[1] + prev[7] * prev[4] * 4, x0 = a[6], x1 = a[6] + a[7] * a[5] * 4;
  return out1 <= x0 || x1 <= out0;
}

/*
 * QUANT_DEBUG=ops: wall time spent in each op of the command lists (matmuls per weight type and
 * one token or several), printed to stderr when the process exits. Native only.
 */
#if !defined(__wasm__)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define PROF_SLOTS (64 + 2 * 64)
static double prof_ns[PROF_SLOTS];
static int64_t prof_n[PROF_SLOTS];
static int prof_on = -1;

static void prof_print(void) {
  double total = 0;
  for (int i = 0; i < PROF_SLOTS; i++) total += prof_ns[i];
  if (total == 0) return;
  fprintf(stderr, "[quant ops] wall time per op (command lists only), total %.1f ms\n", total / 1e6);
  for (int i = 0; i < PROF_SLOTS; i++) {
    if (!prof_n[i]) continue;
    char name[48];
    if (i < 64) snprintf(name, sizeof name, "%s", qk_ops[i].name);
    else {
      const int t = (i - 64) % 64;
      const char *tn = t < QK_TYPE_COUNT && qk_types[t].name ? qk_types[t].name : "?";
      snprintf(name, sizeof name, "matmul %s %s", tn, i >= 128 ? "batch" : "1 token");
    }
    fprintf(stderr, "  %-26s %10.1f ms %5.1f%% %9lld calls %8.1f us/call\n", name, prof_ns[i] / 1e6,
            100 * prof_ns[i] / total, (long long)prof_n[i], prof_ns[i] / 1e3 / (double)prof_n[i]);
  }
}

static int prof_enabled(void) {
  if (prof_on < 0) {
    const char *e = getenv("QUANT_DEBUG");
    prof_on = e && strstr(e, "ops") ? 1 : 0;
    if (prof_on) atexit(prof_print);
  }
  return prof_on;
}

static double prof_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
#endif

int64_t qk_cmds_run(const double *cmds, int64_t count, double *fail_rc) {
  const double *p = cmds;
  const double *prev_matmul = NULL;
#if !defined(__wasm__)
  const int prof = prof_enabled();
#endif
  for (int64_t i = 0; i < count; i++) {
    const qk_op *op = &qk_ops[(int)p[0]];
    const int is_matmul = op->fn == op_matmul;
    if (is_matmul) ((qk_ctx *)PTR(p[1]))->act_reuse = same_matmul_input(prev_matmul, p + 1);
#if !defined(__wasm__)
    const double t0 = prof ? prof_now() : 0;
    const double r = op->fn(p + 1);
    if (prof) {
      const int slot = is_matmul ? 64 + (QK_CODE_TYPE((int)p[4]) & 63) + (p[8] > 1 ? 64 : 0) : (int)p[0] & 63;
      prof_ns[slot] += prof_now() - t0;
      prof_n[slot]++;
    }
#else
    const double r = op->fn(p + 1);
#endif
    if (is_matmul) ((qk_ctx *)PTR(p[1]))->act_reuse = 0;
    prev_matmul = is_matmul && r == 0 ? p + 1 : NULL;
    if ((op->flags & QK_OP_STATUS) && r != 0) {
      *fail_rc = r;
      return i;
    }
    p += 1 + op->nargs;
  }
  return -1;
}
