#ifndef QK_FILE_MAP_H
#define QK_FILE_MAP_H
#include <stddef.h>
/* One read-only mapping of weight data: `data` is the tensor, [base, base+len) the pages mapped.
 * `file_id` names the mapped file (one open descriptor per distinct file, shared by its mappings). */
typedef struct { void *base; size_t len; void *data; int file_id; } qk_map;
/* Maps [offset, offset+bytes) of a file read-only. 0 on success, else an errno (or -2: past end of file).
 * The first call installs a SIGBUS handler (chained to any previous one) that, for a fault inside one
 * of these mappings (the file was truncated under us), maps zero pages over the rest of that mapping
 * so the reading thread carries on, and records the fault (qk_map_faults / qk_map_check). */
int qk_map_file(const char *path, double offset, double bytes, qk_map *out);
void qk_unmap(void *base, size_t len);
/* How many faults inside our mappings the SIGBUS handler has absorbed in this process so far. */
double qk_map_faults(void);
/* The state of a mapped file: 0 unchanged; else a bitmask of QK_FILE_* (or -errno if fstat fails). */
enum { QK_FILE_FAULTED = 1, QK_FILE_SIZE_CHANGED = 2, QK_FILE_MTIME_CHANGED = 4, QK_FILE_UNKNOWN = 8 };
int qk_map_check(int file_id);
#endif
