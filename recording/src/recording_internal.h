/*
 * Internal helpers shared by the recording sources and their tests: float
 * fields, robust file writes, directory creation.
 */
#ifndef KNOTMAP_RECORDING_INTERNAL_H
#define KNOTMAP_RECORDING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/protocol.h"
#include "knotmap/recording.h"

/* Little-endian fields: the protocol's km_proto_put_le16/32/64 and
 * km_proto_get_le16/32/64; floats as their IEEE-754 bit pattern. */
static inline void km__put_f32(uint8_t *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, sizeof v);
	km_proto_put_le32(p, v);
}

static inline float km__get_f32(const uint8_t *p)
{
	uint32_t v = km_proto_get_le32(p);
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

/* Test hook: every fdatasync of the writer fails with err (KM_OK: real ones). */
void km__rec_writer_fail_sync(km_rec_writer *w, int err);

#endif
