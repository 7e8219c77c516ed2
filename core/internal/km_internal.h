/*
 * Internal-but-shared helpers (km__ prefix): allocation through the
 * configurable allocator, logging through a struct km_log, small utilities.
 * Not installed; never include from a public header.
 */
#ifndef KNOTMAP_INTERNAL_H
#define KNOTMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#define KM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KM_UNUSED(x) ((void)(x))
#define KM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define KM_CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : ((x) > (hi) ? (hi) : (x)))

/* Allocation: all library memory goes through km_set_allocator()'s hooks. */
void *km__malloc(size_t size);
void *km__calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *km__realloc(void *ptr, size_t size);
void km__free(void *ptr);
/* Number of km__malloc/calloc/realloc calls since start (atomic); tests use it
 * to check that nothing is allocated per frame. */
uint64_t km__alloc_count(void);

/* a * b without overflow: false when it would overflow. */
static inline bool km__mul_size(size_t a, size_t b, size_t *out)
{
	if (b != 0 && a > SIZE_MAX / b)
		return false;
	*out = a * b;
	return true;
}

/* Formats and sends one message to log->fn when log is non-NULL, has a
 * callback and level <= log->max_level. Never prints by itself. */
void km__log(const struct km_log *log, enum km_log_level level, const char *module, const char *fmt,
             ...) KM_PRINTF(4, 5);
void km__vlog(const struct km_log *log, enum km_log_level level, const char *module,
              const char *fmt, va_list ap) KM_PRINTF(4, 0);

/* Maps an errno value to the closest km_error (ENOSPC -> KM_ERR_NO_SPACE...). */
int km__error_from_errno(int err);

/* Writes all of buf (retrying on EINTR and short writes). Returns KM_OK or the
 * km_error for errno (ENOSPC -> KM_ERR_NO_SPACE). */
int km__write_all(int fd, const void *buf, size_t size);
/* Creates every missing directory of path's parent, mode 0700. */
int km__make_parent_dirs(const char *path);

/* Opens path read-only for a reader of files: regular files only (a directory,
 * FIFO, device or socket gives KM_ERR_NOT_A_FILE and never blocks), errno
 * mapped by km__error_from_errno; the log names the path and the cause.
 * *fd_out is -1 on error. */
int km__open_input(const struct km_log *log, const char *module, const char *path, int *fd_out);

#endif /* KNOTMAP_INTERNAL_H */
