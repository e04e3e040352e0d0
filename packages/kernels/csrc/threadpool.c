/*
 * Persistent pthread pool with chunk self-scheduling. Workers spin briefly on a generation counter
 * after each job (ops arrive in quick succession during inference), then sleep on a condvar.
 *
 * Protocol (all atomics sequentially consistent unless noted):
 *   caller: set fn/arg/nchunks/next=0/maxth, closed=0, gen++ and wake; take chunks; closed=1;
 *           wait until active == 0.
 *   worker: on a new gen: active++; if !closed take chunks; active--.
 * A worker that arrives after the caller saw active == 0 must also see closed == 1, so it never
 * touches a finished job.
 */
#include "threadpool.h"
#include <stdlib.h>

#if defined(QK_NO_THREADS)

struct qk_pool { int n; };
qk_pool *qk_pool_create(int nthreads) { (void)nthreads; qk_pool *p = calloc(1, sizeof(*p)); if (p) p->n = 1; return p; }
void qk_pool_destroy(qk_pool *p) { free(p); }
int qk_pool_size(const qk_pool *p) { (void)p; return 1; }
void qk_pool_run(qk_pool *p, qk_chunk_fn fn, void *arg, int64_t nchunks, int maxth) {
  (void)p; (void)maxth;
  for (int64_t c = 0; c < nchunks; c++) fn(arg, c, 0);
}

#elif defined(QK_WASM_THREADS)

/*
 * wasm with threads (wasm/quant-kernels-mt.wasm: shared memory, atomics). Workers are Web Workers /
 * worker_threads that the host starts through the wasi-threads `thread-spawn` import; each runs its
 * own instance of the module on the shared memory and enters wasi_thread_start (csrc/wasm/
 * thread-start.s), which switches to the stack allocated here and calls qk_wasm_thread_entry. The
 * toolchain's libc is the single-threaded wasm32-wasip1 one, so workers call nothing that allocates
 * (chunk functions only compute). Same protocol as the pthread pool below; workers sleep with
 * memory.atomic.wait32 after spinning, and the caller only spins (a browser's main thread may not
 * wait), notifying only when a worker sleeps.
 */
#include <stdatomic.h>

#define QK_MAX_THREADS 64
#define QK_SPIN 20000
#define QK_WASM_STACK (1 << 20)

__attribute__((import_module("wasi"), import_name("thread-spawn"))) int32_t qk_thread_spawn(void *start_arg);

/* A worker's start argument. stack_top must stay first (wasi_thread_start reads it at offset 0). */
typedef struct {
  uint32_t stack_top;
  uint32_t tls_base; /* unused (nothing is thread-local); offset 4 as in wasi-libc's start argument */
  qk_pool *p;
  int tid;
  void *stack;
  atomic_int state; /* 0 spawned, 1 running, 2 exited, 3 abandoned (pool destroyed before it started) */
} qk_slot;

struct qk_pool {
  int n;
  qk_slot *slot[QK_MAX_THREADS];
  atomic_int gen;
  atomic_int stop;
  atomic_int closed;
  atomic_int active;
  atomic_int sleepers;
  atomic_llong next;
  qk_chunk_fn fn;
  void *arg;
  int64_t nchunks;
  int maxth;
};

static void take_chunks(qk_pool *p, int tid) {
  for (;;) {
    const int64_t c = atomic_fetch_add(&p->next, 1);
    if (c >= p->nchunks) return;
    p->fn(p->arg, c, tid);
  }
}

void qk_wasm_thread_entry(int tid, qk_slot *s);
void qk_wasm_thread_entry(int tid, qk_slot *s) {
  (void)tid;
  int expect = 0;
  if (!atomic_compare_exchange_strong(&s->state, &expect, 1)) return; /* abandoned: touch nothing else */
  qk_pool *p = s->p;
  const int me = s->tid;
  int seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) {
      if (++spins < QK_SPIN) continue;
      atomic_fetch_add(&p->sleepers, 1);
      __builtin_wasm_memory_atomic_wait32((int *)&p->gen, seen, -1);
      atomic_fetch_sub(&p->sleepers, 1);
      spins = 0;
    }
    if (atomic_load(&p->stop)) break;
    seen = atomic_load(&p->gen);
    atomic_fetch_add(&p->active, 1);
    if (!atomic_load(&p->closed) && me < p->maxth) take_chunks(p, me);
    atomic_fetch_sub(&p->active, 1);
  }
  atomic_store(&s->state, 2);
}

qk_pool *qk_pool_create(int nthreads) {
  if (nthreads < 1) nthreads = 1;
  if (nthreads > QK_MAX_THREADS) nthreads = QK_MAX_THREADS;
  qk_pool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->n = nthreads;
  atomic_init(&p->closed, 1);
  for (int i = 1; i < nthreads; i++) {
    qk_slot *s = calloc(1, sizeof(*s));
    void *stack = s ? malloc(QK_WASM_STACK) : NULL;
    if (!stack) { free(s); p->n = i; break; }
    s->stack = stack;
    s->stack_top = (uint32_t)(((uintptr_t)stack + QK_WASM_STACK) & ~(uintptr_t)15);
    s->p = p;
    s->tid = i;
    atomic_init(&s->state, 0);
    if (qk_thread_spawn(s) < 0) { free(stack); free(s); p->n = i; break; }
    p->slot[i] = s;
  }
  return p;
}

void qk_pool_destroy(qk_pool *p) {
  if (!p) return;
  atomic_store(&p->stop, 1);
  atomic_fetch_add(&p->gen, 1);
  __builtin_wasm_memory_atomic_notify((int *)&p->gen, 0xFFFFFFFFu);
  for (int i = 1; i < p->n; i++) {
    qk_slot *s = p->slot[i];
    int expect = 0;
    /* A worker that never started (a browser starts workers only when the creating thread yields)
     * is told to return at once; its slot and stack stay allocated for it (a few leaked bytes + 1 MiB). */
    if (atomic_compare_exchange_strong(&s->state, &expect, 3)) continue;
    while (atomic_load(&s->state) != 2) {}
    free(s->stack);
    free(s);
  }
  free(p);
}

int qk_pool_size(const qk_pool *p) { return p->n; }

void qk_pool_run(qk_pool *p, qk_chunk_fn fn, void *arg, int64_t nchunks, int maxth) {
  if (maxth > p->n) maxth = p->n;
  if (maxth <= 1 || nchunks <= 1) {
    for (int64_t c = 0; c < nchunks; c++) fn(arg, c, 0);
    return;
  }
  p->fn = fn;
  p->arg = arg;
  p->nchunks = nchunks;
  p->maxth = maxth;
  atomic_store(&p->next, 0);
  atomic_store(&p->closed, 0);
  atomic_fetch_add(&p->gen, 1);
  if (atomic_load(&p->sleepers) > 0) __builtin_wasm_memory_atomic_notify((int *)&p->gen, 0xFFFFFFFFu);
  take_chunks(p, 0);
  atomic_store(&p->closed, 1);
  while (atomic_load(&p->active) > 0) {}
}

#else

#include <pthread.h>
#include <stdatomic.h>

#define QK_MAX_THREADS 256
#define QK_SPIN 20000

struct qk_pool {
  int n;
  pthread_t th[QK_MAX_THREADS];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int gen;
  atomic_int stop;
  atomic_int closed;
  atomic_int active;
  atomic_llong next;
  qk_chunk_fn fn;
  void *arg;
  int64_t nchunks;
  int maxth;
};

typedef struct { qk_pool *p; int tid; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void take_chunks(qk_pool *p, int tid) {
  for (;;) {
    const int64_t c = atomic_fetch_add(&p->next, 1);
    if (c >= p->nchunks) return;
    p->fn(p->arg, c, tid);
  }
}

static void *worker(void *v) {
  worker_arg *wa = v;
  qk_pool *p = wa->p;
  const int tid = wa->tid;
  free(wa);
  int seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) {
      if (++spins < QK_SPIN) { cpu_relax(); continue; }
      pthread_mutex_lock(&p->mu);
      while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = atomic_load(&p->gen);
    atomic_fetch_add(&p->active, 1);
    if (!atomic_load(&p->closed) && tid < p->maxth) take_chunks(p, tid);
    atomic_fetch_sub(&p->active, 1);
  }
}

qk_pool *qk_pool_create(int nthreads) {
  if (nthreads < 1) nthreads = 1;
  if (nthreads > QK_MAX_THREADS) nthreads = QK_MAX_THREADS;
  qk_pool *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->n = nthreads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  atomic_init(&p->gen, 0);
  atomic_init(&p->stop, 0);
  atomic_init(&p->closed, 1);
  atomic_init(&p->active, 0);
  atomic_init(&p->next, 0);
  for (int i = 1; i < nthreads; i++) {
    worker_arg *wa = malloc(sizeof(*wa));
    if (!wa) { p->n = i; break; }
    wa->p = p;
    wa->tid = i;
    if (pthread_create(&p->th[i], NULL, worker, wa) != 0) { free(wa); p->n = i; break; }
  }
  return p;
}

void qk_pool_destroy(qk_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

int qk_pool_size(const qk_pool *p) { return p->n; }

void qk_pool_run(qk_pool *p, qk_chunk_fn fn, void *arg, int64_t nchunks, int maxth) {
  if (maxth > p->n) maxth = p->n;
  if (maxth <= 1 || nchunks <= 1) {
    for (int64_t c = 0; c < nchunks; c++) fn(arg, c, 0);
    return;
  }
  p->fn = fn;
  p->arg = arg;
  p->nchunks = nchunks;
  p->maxth = maxth;
  atomic_store(&p->next, 0);
  atomic_store(&p->closed, 0);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  take_chunks(p, 0);
  atomic_store(&p->closed, 1);
  while (atomic_load(&p->active) > 0) cpu_relax();
}

#endif
