/*
 * The op table: every kernel op the facade can call, as one C function taking its numeric
 * arguments as doubles (pointers are addresses / wasm offsets as numbers) and returning a double.
 * The Node-API binding exposes each entry as a function of the same name (napi-binding.c), and the
 * command-list executor (qk_exec_cmds, kernels.run() on native) calls the same functions, so
 * adding an op means one C function + one entry in qk_ops[] + its line in the TypeScript facade.
 */
#ifndef QK_OP_TABLE_H
#define QK_OP_TABLE_H
#include <stdint.h>

/* The op returns a status: 0 = success, anything else = the failure code the facade reports. */
#define QK_OP_STATUS 1
/* The op returns a result the caller needs at once (or fills an output the caller copies out), so
 * it cannot be recorded into a command list. */
#define QK_OP_VALUE 2
/* args[0] is the qk_ctx: the op uses its thread pool and scratch memory. */
#define QK_OP_CTX 4

#define QK_OP_MAX_ARGS 20

typedef double (*qk_op_fn)(const double *args);

typedef struct {
  const char *name; /* the facade's name for it (RawBinding) */
  int nargs;        /* number of numeric arguments */
  int flags;        /* QK_OP_* */
  qk_op_fn fn;
} qk_op;

extern const qk_op qk_ops[];
extern const int qk_nops;

/*
 * Checks a command list: `count` commands, each [op index, args...] (1 + nargs doubles), within
 * `len` doubles; no QK_OP_VALUE ops; QK_OP_CTX ops must name `ctx`. Returns the number of doubles
 * used, or -(1 + index of the first bad command).
 */
int64_t qk_cmds_check(const double *cmds, int64_t len, int64_t count, const void *ctx);

/*
 * Runs a checked command list in order. Stops at the first QK_OP_STATUS op that returns non-zero:
 * returns its command index and stores the code in *fail_rc. Returns -1 when every command ran.
 */
int64_t qk_cmds_run(const double *cmds, int64_t count, double *fail_rc);

#endif
