/*
 * What the .kmrec writer (writer.c), reader (reader.c) and their tests share:
 * the layout constants (docs/kmrec-format.md), record sizes, the chunk index
 * (format.c) and the writer's test hooks (a full disk, a failing fdatasync).
 * Byte order and CRC-32C come from core's bytes.h, whole writes and parent
 * directories from km_internal.h.
 */
#ifndef KNOTMAP_RECORDING_INTERNAL_H
#define KNOTMAP_RECORDING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/bytes.h"
#include "knotmap/recording.h"

/* File layout constants (see docs/kmrec-format.md). */
extern const uint8_t km__rec_file_magic[8];  /* "KMREC\r\n\x1a" */
extern const uint8_t km__rec_chunk_magic[4]; /* "KMCK" */
extern const uint8_t km__rec_end_magic[8];   /* "KMRECEND" */

enum {
	HDR_FIXED = 272, /* header bytes before the calibration blob... */
	HDR_CALIB = 268, /* ...where the blob starts */
	CHUNK_HDR = 32,
	CHUNK_TAIL = 4,
	TRAILER = 32,
	REC_PREFIX = 8,
	FRAME_FIXED = 32, /* frame body before the cells */
	EVENT_FIXED = 32, /* event body before ints and values */
	INDEX_ENTRY = 40,
	CHUNK_DATA = 1,
	CHUNK_INDEX = 2,
	REC_FRAME = 1,
	REC_EVENT = 2,
};

#define MAX_CHUNK_BYTES (64u * 1024u * 1024u)
#define MIN_CHUNK_BYTES (4u * 1024u)

/* Copies src into dst[cap], NUL-padded (truncates to cap - 1 chars). */
void km__rec_copy_str(char *dst, size_t cap, const char *src);
/* Bytes of one frame record (prefix included) for these contents and cells. */
size_t km__rec_frame_size(uint32_t content, size_t cells);
/* Bytes of one event record with n_ints ints and n_values values. */
size_t km__rec_event_size(unsigned n_ints, unsigned n_values);
/* KM_OK, KM_ERR_SHAPE or KM_ERR_INVALID_ARG for a device description. */
int km__rec_check_device(const struct km_rec_device *d);

/* One data chunk in the in-memory index (and in the index chunk). */
struct km__rec_index_entry {
	uint64_t offset;      /* chunk start in the file */
	uint64_t first_frame; /* frames before this chunk */
	uint32_t frames;
	uint32_t events;
	uint64_t first_time_us;
	uint64_t last_time_us;
};

/* Appends e, doubling the array when full. KM_OK or KM_ERR_NO_MEMORY. */
int km__rec_index_push(struct km__rec_index_entry **arr, size_t *n, size_t *cap,
                       const struct km__rec_index_entry *e);

/* Test hook: after `bytes` more bytes the writer's writes fail with ENOSPC,
 * as on a full disk. UINT64_MAX disables. */
void km__rec_writer_fail_after(km_rec_writer *w, uint64_t bytes);

/* Test hook: every fdatasync of the writer fails with err (KM_OK: real ones). */
void km__rec_writer_fail_sync(km_rec_writer *w, int err);

#endif
