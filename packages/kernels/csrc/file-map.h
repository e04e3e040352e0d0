#ifndef QK_FILE_MAP_H
#define QK_FILE_MAP_H
#include <stddef.h>
typedef struct { void *base; size_t len; void *data; } qk_map;
/* Maps [offset, offset+bytes) of a file read-only. 0 on success, else an errno (or -2: past end of file). */
int qk_map_file(const char *path, double offset, double bytes, qk_map *out);
void qk_unmap(void *base, size_t len);
#endif
