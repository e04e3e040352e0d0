/* A persistent worker pool: run(fn) calls fn(arg, ith, nth) once per thread, caller included. */
#ifndef QK_THREADPOOL_H
#define QK_THREADPOOL_H

typedef void (*qk_task_fn)(void *arg, int ith, int nth);
typedef struct qk_pool qk_pool;

/* nthreads >= 1 (the caller counts as one). In builds without threads, always 1. */
qk_pool *qk_pool_create(int nthreads);
void qk_pool_destroy(qk_pool *p);
int qk_pool_size(const qk_pool *p);
void qk_pool_run(qk_pool *p, qk_task_fn fn, void *arg, int nth);

#endif
