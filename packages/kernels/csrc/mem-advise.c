/*
 * Page-level advice for large native buffers (Linux; no-ops elsewhere and in wasm).
 *
 * A first write to a fresh anonymous page takes a page fault. On bare metal that is ~0.1–0.3 µs,
 * but under some hypervisors every fault is a round trip through the host: on the 2-vCPU EPYC VMs
 * this project is developed on, 18–23 µs per 4 KiB page, so faulting in a 2.4 GB repacked weight
 * copy alone cost 13 CPU-seconds, and a decoding session paid ~2 ms per token as its KV cache
 * filled (57 µs per stored token of a 32-layer model). MADV_POPULATE_WRITE (Linux ≥ 5.14) maps a
 * range in one call (36 µs per stored token when a cache maps 64 positions at a time), and
 * MADV_HUGEPAGE asks for 2 MiB pages: used for repacked weights (fewer faults at load, fewer TLB
 * misses when streaming them), not for KV caches, whose sessions come and go — there a 2 MiB page
 * fault (zeroing, often compaction) cost more than the 4 KiB faults it replaced. Both are advice:
 * where unsupported they fail and the pages fault in lazily as before.
 */
#include "ctx.h"

#if defined(__linux__) && !defined(__wasm__)
#include <sys/mman.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static size_t page_size(void) {
  static size_t ps;
  if (!ps) {
    const long v = sysconf(_SC_PAGESIZE);
    ps = v > 0 ? (size_t)v : 4096;
  }
  return ps;
}

/* the whole pages inside [p, p + n) */
static int inner_pages(void *p, size_t n, size_t align, uintptr_t *a, size_t *len) {
  const uintptr_t s = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
  const uintptr_t e = ((uintptr_t)p + n) & ~(uintptr_t)(align - 1);
  if (e <= s) return 0;
  *a = s;
  *len = (size_t)(e - s);
  return 1;
}

void qk_mem_advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  uintptr_t a;
  size_t len;
  if (n >= ((size_t)4 << 20) && inner_pages(p, n, (size_t)2 << 20, &a, &len)) madvise((void *)a, len, MADV_HUGEPAGE);
#else
  (void)p; (void)n;
#endif
}

void qk_mem_populate(void *p, size_t n) {
  /* the partial pages at either end fault in on first use */
  uintptr_t a;
  size_t len;
  if (inner_pages(p, n, page_size(), &a, &len)) madvise((void *)a, len, MADV_POPULATE_WRITE);
}
#else
void qk_mem_advise_huge(void *p, size_t n) { (void)p; (void)n; }
void qk_mem_populate(void *p, size_t n) { (void)p; (void)n; }
#endif
