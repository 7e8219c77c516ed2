/*
 * Internal helpers shared by the session sources and their tests: explicit
 * little-endian put/get, robust file writes, directory creation.
 */
#ifndef KNOTMAP_SESSION_INTERNAL_H
#define KNOTMAP_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/recording.h"

static inline void km__put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void km__put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void km__put_u64(uint8_t *p, uint64_t v)
{
	km__put_u32(p, (uint32_t)v);
	km__put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline void km__put_f32(uint8_t *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, sizeof v);
	km__put_u32(p, v);
}

static inline uint16_t km__get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t km__get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t km__get_u64(const uint8_t *p)
{
	return (uint64_t)km__get_u32(p) | ((uint64_t)km__get_u32(p + 4) << 32);
}

static inline float km__get_f32(const uint8_t *p)
{
	uint32_t v = km__get_u32(p);
	float f;
	memcpy(&f, &v, sizeof f);
	return f;
}

/* Writes all of buf (retrying on EINTR and short writes). Returns KM_OK or the
 * km_error for errno (ENOSPC -> KM_ERR_NO_SPACE). */
int km__write_all(int fd, const void *buf, size_t size);
/* Creates every missing directory of path's parent, mode 0700. */
int km__make_parent_dirs(const char *path);

/* True when path names the file the reader has open (same device and inode). */
bool km__rec_reader_is_file(const km_rec_reader *r, const char *path);

/* Test hook: after `bytes` more bytes the writer's writes fail with ENOSPC,
 * as on a full disk. UINT64_MAX disables. */
void km__rec_writer_fail_after(km_rec_writer *w, uint64_t bytes);

#endif
