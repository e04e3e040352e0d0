/*
 * A persistent worker pool. qk_pool_run(fn, arg, nchunks) calls fn(arg, chunk, tid) once for
 * every chunk in [0, nchunks), spread over the caller (tid 0) and the workers, which take chunks
 * from a shared counter. The caller never waits for a worker that has not started (a descheduled
 * worker simply gets no chunks), so an oversubscribed machine degrades gracefully.
 */
#ifndef QK_THREADPOOL_H
#define QK_THREADPOOL_H
#include <stdint.h>

typedef void (*qk_chunk_fn)(void *arg, int64_t chunk, int tid);
typedef struct qk_pool qk_pool;

/* nthreads >= 1 (the caller counts as one). In builds without threads, always 1. */
qk_pool *qk_pool_create(int nthreads);
void qk_pool_destroy(qk_pool *p);
int qk_pool_size(const qk_pool *p);
/* maxth limits how many threads take part (1 = run everything on the caller). */
void qk_pool_run(qk_pool *p, qk_chunk_fn fn, void *arg, int64_t nchunks, int maxth);

/*
 * QK_JOB(T, j, arg): `const T *j` for a chunk function's job. In wasm it points to a copy in the
 * running thread's own frame: the job (and what it points to, such as attention parameters) lives in
 * the calling thread's shadow-stack frame, next to locals that thread keeps writing while it runs its
 * own chunks (a vec-dot's unpacked scales), and V8 reloads the fields through the pointer after every
 * indirect call — so the other threads missed on that cache line once per row (2 threads: decode
 * matmuls at about half speed). Native code keeps the pointer: a copy measured no faster there.
 */
#if defined(__wasm__)
#define QK_JOB(T, j, arg) const T j##_copy = *(const T *)(arg), *j = &j##_copy
#else
#define QK_JOB(T, j, arg) const T *j = (const T *)(arg)
#endif

#endif
