/*
 * Persistent pthread pool. Workers spin briefly on a generation counter after each job (ops come
 * in quick succession during inference) and then sleep on a condition variable.
 */
#include "threadpool.h"
#include <stdlib.h>

#if defined(QK_NO_THREADS)

struct qk_pool { int n; };
qk_pool *qk_pool_create(int nthreads) { (void)nthreads; qk_pool *p = calloc(1, sizeof(*p)); if (p) p->n = 1; return p; }
void qk_pool_destroy(qk_pool *p) { free(p); }
int qk_pool_size(const qk_pool *p) { (void)p; return 1; }
void qk_pool_run(qk_pool *p, qk_task_fn fn, void *arg, int nth) { (void)p; (void)nth; fn(arg, 0, 1); }

#else

#include <pthread.h>
#include <stdatomic.h>

#define QK_MAX_THREADS 256
#define QK_SPIN 30000

struct qk_pool {
  int n;
  pthread_t th[QK_MAX_THREADS];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int gen;
  atomic_int pending;
  atomic_int stop;
  qk_task_fn fn;
  void *arg;
  int nth;
};

typedef struct { qk_pool *p; int ith; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *worker(void *v) {
  worker_arg *wa = v;
  qk_pool *p = wa->p;
  const int ith = wa->ith;
  free(wa);
  int seen = 0; /* the pool starts at generation 0; jobs posted before this thread runs are still seen */
  for (;;) {
    int g;
    int spins = 0;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !atomic_load(&p->stop)) {
      if (++spins < QK_SPIN) { cpu_relax(); continue; }
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
      pthread_mutex_unlock(&p->mu);
      break;
    }
    if (atomic_load(&p->stop)) return NULL;
    g = atomic_load_explicit(&p->gen, memory_order_acquire);
    seen = g;
    if (ith < p->nth) p->fn(p->arg, ith, p->nth);
    atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
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
  atomic_init(&p->pending, 0);
  atomic_init(&p->stop, 0);
  for (int i = 1; i < nthreads; i++) {
    worker_arg *wa = malloc(sizeof(*wa));
    wa->p = p;
    wa->ith = i;
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

void qk_pool_run(qk_pool *p, qk_task_fn fn, void *arg, int nth) {
  if (nth > p->n) nth = p->n;
  if (nth <= 1 || p->n == 1) { fn(arg, 0, 1); return; }
  p->fn = fn;
  p->arg = arg;
  p->nth = nth;
  atomic_store(&p->pending, p->n - 1);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  fn(arg, 0, nth);
  while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) cpu_relax();
}

#endif
