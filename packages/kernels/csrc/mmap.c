/* Read-only memory maps of weight data (native only). */
#include "qk.h"
#include "file-map.h"

#if defined(_WIN32) || defined(__wasm__)
int qk_map_file(const char *path, double offset, double bytes, qk_map *out) { (void)path; (void)offset; (void)bytes; (void)out; return -1; }
void qk_unmap(void *base, size_t len) { (void)base; (void)len; }
#else
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int qk_map_file(const char *path, double offset, double bytes, qk_map *out) {
  int fd = open(path, O_RDONLY);
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
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) return e ? e : -1;
  out->base = p;
  out->len = maplen;
  out->data = (uint8_t *)p + delta;
  return 0;
}

void qk_unmap(void *base, size_t len) { munmap(base, len); }
#endif
