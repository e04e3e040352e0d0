/*
 * Read-only memory maps of weight data (native only), and what keeps the host process alive when
 * a mapped file changes underneath it.
 *
 * A file mapping reads the file's pages as they are now: if another process truncates the file,
 * reading a page past its new end raises SIGBUS, whose default action kills the process; if it
 * overwrites the file in place, the mapped weights silently change. So:
 *  - every mapping is registered (base, length, file) in a table the signal handler can read
 *    without locks (chunks of atomic slots, never freed);
 *  - a SIGBUS handler (installed once, chained to the previous one) recognises a fault inside one
 *    of our mappings, maps anonymous zero pages over the rest of that mapping (MAP_FIXED) so the
 *    faulting load re-executes and reads zeros, and counts the fault; faults elsewhere go to the
 *    previous handler (or the default action);
 *  - each distinct file stays open once (shared by its mappings) with the size and mtime it had
 *    when mapped, so qk_map_check() can tell with one fstat whether it was resized or rewritten.
 * The facade turns a counted fault or a changed file into KernelError('MODEL_FILE_CHANGED').
 */
#include "qk.h"
#include "file-map.h"

#if defined(_WIN32) || defined(__wasm__)
int qk_map_file(const char *path, double offset, double bytes, qk_map *out) { (void)path; (void)offset; (void)bytes; (void)out; return -1; }
void qk_unmap(void *base, size_t len) { (void)base; (void)len; }
double qk_map_faults(void) { return 0; }
int qk_map_check(int file_id) { (void)file_id; return QK_FILE_UNKNOWN; }
#else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__APPLE__)
#define QK_MTIME(st) ((st).st_mtimespec)
#else
#define QK_MTIME(st) ((st).st_mtim)
#endif

/* A mapped file: one descriptor per distinct (device, inode, size, mtime), shared by its mappings. */
typedef struct qk_mfile {
  int id, fd, refs;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  atomic_int faulted;
  struct qk_mfile *next;
} qk_mfile;

/* Mapping slots, read by the signal handler: `base` is published last (release) and cleared first. */
typedef struct {
  _Atomic(uintptr_t) base;
  _Atomic(size_t) len;
  _Atomic(qk_mfile *) file;
} qk_slot;

#define QK_SLOTS 256
typedef struct qk_chunk {
  qk_slot slot[QK_SLOTS];
  struct qk_chunk *next;
} qk_chunk;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(qk_chunk *) g_chunks; /* prepended under g_lock, never freed */
static qk_mfile *g_files;            /* under g_lock */
static int g_next_id = 1;            /* under g_lock */
static atomic_uint_fast64_t g_faults;
static uintptr_t g_page;
static struct sigaction g_prev;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void chain(int sig, siginfo_t *info, void *uctx) {
  if (g_prev.sa_flags & SA_SIGINFO) {
    if (g_prev.sa_sigaction) { g_prev.sa_sigaction(sig, info, uctx); return; }
  } else if (g_prev.sa_handler == SIG_IGN) {
    if (info == NULL || info->si_code <= 0) return; /* a sent SIGBUS stays ignored */
  } else if (g_prev.sa_handler != SIG_DFL) {
    g_prev.sa_handler(sig);
    return;
  }
  /* Default action: restore it; the faulting instruction re-executes and the process dies as it
   * would have without us (a hardware SIGBUS cannot be ignored). A sent signal is re-raised. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, NULL);
  if (info == NULL || info->si_code <= 0) raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *uctx) {
  const int saved = errno;
  /* si_code > 0: raised by the kernel for a memory access (not kill/sigqueue), si_addr is valid. */
  if (info != NULL && info->si_code > 0) {
    const uintptr_t a = (uintptr_t)info->si_addr;
    for (qk_chunk *c = atomic_load_explicit(&g_chunks, memory_order_acquire); c; c = c->next) {
      for (int i = 0; i < QK_SLOTS; i++) {
        const uintptr_t b = atomic_load_explicit(&c->slot[i].base, memory_order_acquire);
        if (!b || a < b) continue;
        const size_t len = atomic_load_explicit(&c->slot[i].len, memory_order_relaxed);
        const uintptr_t end = (b + len + g_page - 1) & ~(g_page - 1);
        if (a >= end) continue;
        const uintptr_t from = a & ~(g_page - 1);
        void *r = mmap((void *)from, end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (r == MAP_FAILED) break;
        qk_mfile *f = atomic_load_explicit(&c->slot[i].file, memory_order_relaxed);
        if (f) atomic_store(&f->faulted, 1);
        atomic_fetch_add(&g_faults, 1);
        errno = saved;
        return;
      }
    }
  }
  errno = saved;
  chain(sig, info, uctx);
}

static void install_handler(void) {
  g_page = (uintptr_t)sysconf(_SC_PAGESIZE);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &g_prev);
}

static int same_mtime(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

/* Under g_lock: the shared record of this open file (takes ownership of fd), or NULL (fd closed). */
static qk_mfile *file_for(int fd, const struct stat *st) {
  for (qk_mfile *f = g_files; f; f = f->next) {
    if (f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
        same_mtime(f->mtime, QK_MTIME(*st)) && !atomic_load(&f->faulted)) {
      close(fd);
      f->refs++;
      return f;
    }
  }
  qk_mfile *f = calloc(1, sizeof(*f));
  if (!f) { close(fd); return NULL; }
  f->id = g_next_id++;
  f->fd = fd;
  f->refs = 1;
  f->dev = st->st_dev;
  f->ino = st->st_ino;
  f->size = st->st_size;
  f->mtime = QK_MTIME(*st);
  f->next = g_files;
  g_files = f;
  return f;
}

static void file_release(qk_mfile *f) {
  if (--f->refs > 0) return;
  for (qk_mfile **p = &g_files; *p; p = &(*p)->next) {
    if (*p == f) { *p = f->next; break; }
  }
  close(f->fd);
  free(f);
}

/* Under g_lock: a free slot (allocating a chunk if needed), or NULL. */
static qk_slot *free_slot(void) {
  for (qk_chunk *c = atomic_load(&g_chunks); c; c = c->next)
    for (int i = 0; i < QK_SLOTS; i++)
      if (!atomic_load(&c->slot[i].base)) return &c->slot[i];
  qk_chunk *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->next = atomic_load(&g_chunks);
  atomic_store_explicit(&g_chunks, c, memory_order_release);
  return &c->slot[0];
}

int qk_map_file(const char *path, double offset, double bytes, qk_map *out) {
  pthread_once(&g_once, install_handler);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno ? errno : -1;
  struct stat st;
  if (fstat(fd, &st) != 0) { int e = errno; close(fd); return e; }
  const uint64_t off = (uint64_t)offset, len = (uint64_t)bytes;
  if (off + len > (uint64_t)st.st_size) { close(fd); return -2; }
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  const uint64_t aligned = off - off % page, delta = off - aligned;
  size_t maplen = (size_t)(len + delta);
  if (maplen == 0) maplen = 1;
  void *p = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, (off_t)aligned);
  if (p == MAP_FAILED) { int e = errno; close(fd); return e ? e : -1; }
  pthread_mutex_lock(&g_lock);
  qk_mfile *f = file_for(fd, &st);
  qk_slot *s = f ? free_slot() : NULL;
  if (!s) {
    if (f) file_release(f);
    pthread_mutex_unlock(&g_lock);
    munmap(p, maplen);
    return ENOMEM;
  }
  atomic_store_explicit(&s->file, f, memory_order_relaxed);
  atomic_store_explicit(&s->len, maplen, memory_order_relaxed);
  atomic_store_explicit(&s->base, (uintptr_t)p, memory_order_release);
  out->file_id = f->id;
  pthread_mutex_unlock(&g_lock);
  out->base = p;
  out->len = maplen;
  out->data = (uint8_t *)p + delta;
  return 0;
}

void qk_unmap(void *base, size_t len) {
  pthread_mutex_lock(&g_lock);
  for (qk_chunk *c = atomic_load(&g_chunks); c; c = c->next) {
    for (int i = 0; i < QK_SLOTS; i++) {
      qk_slot *s = &c->slot[i];
      if (atomic_load(&s->base) != (uintptr_t)base) continue;
      atomic_store_explicit(&s->base, 0, memory_order_release);
      qk_mfile *f = atomic_load(&s->file);
      atomic_store(&s->file, NULL);
      atomic_store(&s->len, 0);
      if (f) file_release(f);
      goto done;
    }
  }
done:
  /* Unmapped under the lock, so the handler never sees a slot whose range was reused meanwhile. */
  munmap(base, len);
  pthread_mutex_unlock(&g_lock);
}

double qk_map_faults(void) { return (double)atomic_load(&g_faults); }

int qk_map_check(int file_id) {
  pthread_mutex_lock(&g_lock);
  qk_mfile *f = g_files;
  while (f && f->id != file_id) f = f->next;
  int r = 0;
  if (!f) r = QK_FILE_UNKNOWN;
  else {
    struct stat st;
    if (atomic_load(&f->faulted)) r |= QK_FILE_FAULTED;
    if (fstat(f->fd, &st) != 0) r = -(errno ? errno : 1);
    else {
      if (st.st_size != f->size) r |= QK_FILE_SIZE_CHANGED;
      if (!same_mtime(QK_MTIME(st), f->mtime)) r |= QK_FILE_MTIME_CHANGED;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return r;
}
#endif
