/*
 * knotmap recordings (.kmrec): an append-only, crash-tolerant log of pressure
 * frames and events, and a streamed reader for it. The byte layout is in
 * docs/kmrec-format.md.
 *
 * Writer: frames and events are packed into chunks (each with a length and a
 * CRC-32C) in a buffer allocated at create; a chunk goes to disk when the
 * buffer is full, and the file is flushed (write + fdatasync) at least every
 * `flush_interval_ms` of host monotonic time (default 1000 ms) as frames arrive, so a
 * crash or kill -9 loses at most about the last second and the file stays
 * readable up to the last complete chunk. Those timed flushes write() on the
 * caller's thread and fdatasync on a thread the writer owns, so a slow disk
 * never stalls the caller (the thread reading the mat); a failed sync is
 * returned by the next write. km_rec_writer_close() appends an
 * index for seeking. Nothing is allocated per frame (only the in-memory index
 * grows, by doubling, when chunks are written).
 *
 * Reader: reads the header, then frames and events in file order, one chunk in
 * memory at a time (never the whole file). Seeks by frame index or device time
 * through the index, which is rebuilt by scanning when missing (crash, kill).
 * Reports where damage starts (byte offset and frame index).
 *
 * This module does not depend on the driver: the device description and the
 * calibration are plain data here (the calibration is an opaque blob + id).
 *
 * Files are created with mode 0600, missing parent directories 0700 (see
 * km_rec_writer_config.make_dirs).
 *
 * Thread safety: one writer or reader must not be used from two threads at
 * once; distinct objects are independent. A writer with cfg.sync runs one
 * thread of its own (fdatasync only) from create to close.
 */
#ifndef KNOTMAP_RECORDING_H
#define KNOTMAP_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Format version written by this library; the reader accepts 1..this. */
#define KM_REC_FORMAT_VERSION 1

/* Largest calibration blob stored in a header, bytes. */
#define KM_REC_MAX_CALIBRATION (16u * 1024u * 1024u)

/* What each frame record carries (bits; at least one). */
enum km_rec_content {
	KM_REC_RAW = 1u << 0, /* raw ADC counts, uint16 per cell, + calibration id */
	KM_REC_KPA = 1u << 1, /* calibrated pressure, float32 per cell, kPa */
};

/*
 * The device that made the recording. Plain data; strings are NUL-terminated
 * UTF-8 and truncated to fit. rows, cols in 1..KM_FRAME_MAX_DIM.
 */
struct km_rec_device {
	uint16_t rows;
	uint16_t cols;
	float pitch_mm;            /* cell centre spacing, mm, > 0 */
	enum km_geometry geometry; /* flat mat or roller */
	float rate_hz;             /* nominal frame rate, Hz (0 = unknown) */
	uint16_t usb_vid;          /* 0 for the virtual mat / unknown */
	uint16_t usb_pid;
	char serial[64];
	char firmware[32];
	char model[64]; /* "knotmap mat", "virtual mat (scenario ...)", ... */
};

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct km_rec_writer km_rec_writer;

struct km_rec_writer_config {
	struct km_log log;
	const char *path; /* file to create; required; copied at create */
	bool overwrite;   /* false (default): KM_ERR_EXISTS when path exists */
	bool make_dirs;   /* true (default): create missing parent dirs, mode 0700 */
	struct km_rec_device device;
	uint32_t content; /* enum km_rec_content bits; default KM_REC_KPA */
	/* Calibration in force for raw counts: an opaque blob the driver
	 * understands, copied at create; NULL/0 when none. */
	uint32_t calibration_id;
	const void *calibration;
	size_t calibration_size; /* bytes, <= KM_REC_MAX_CALIBRATION */
	char session_id[48];     /* free text, e.g. "20261125-121700-3f2a"; may be empty */
	int64_t start_unix_us;   /* wall clock at start, µs since 1970; 0 = take it now */
	/* Flush (write + fdatasync) on the next write once this much host time
	 * (km_time_monotonic_us) has passed since the last flush, ms; 1..60000,
	 * default 1000. */
	uint32_t flush_interval_ms;
	/* Chunk buffer size in bytes (grown to hold at least one frame record);
	 * default 256 KiB; 4 KiB..64 MiB. */
	uint32_t chunk_bytes;
	bool sync; /* true (default): fdatasync on flush; false only for tests/benches */
};

/* Defaults as documented above; path NULL, device zeroed (must be filled). */
KM_API struct km_rec_writer_config km_rec_writer_config_default(void);

/*
 * Creates the file (O_CREAT|O_EXCL unless overwrite, mode 0600) and writes
 * and flushes the header.
 * Returns KM_OK; KM_ERR_INVALID_ARG (NULL, no path, bad content bits, bad
 * intervals, bad pitch/geometry); KM_ERR_SHAPE (rows/cols); KM_ERR_RANGE
 * (calibration too big); KM_ERR_EXISTS; KM_ERR_PERMISSION; KM_ERR_NOT_FOUND
 * (parent missing and make_dirs false); KM_ERR_NO_SPACE; KM_ERR_IO;
 * KM_ERR_NO_MEMORY. On error *out is NULL and no file is left behind.
 */
KM_API int km_rec_writer_create(const struct km_rec_writer_config *cfg, km_rec_writer **out);

/*
 * Appends one frame. frame: its rows/cols must match the device (KM_ERR_SHAPE);
 * frame->kpa is read when content has KM_REC_KPA. raw: [rows x cols] row-major
 * counts, required when content has KM_REC_RAW (else ignored, may be NULL).
 * calibration_id: the calibration the raw counts go with.
 * May write a chunk and flush. Allocates only when a written chunk makes the
 * in-memory index grow (doubling: a few dozen times over a whole recording).
 * Returns KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_STATE (closed or a
 * previous write failed), KM_ERR_NO_SPACE (disk full: everything up to the last
 * flushed chunk stays readable; the writer then refuses further writes),
 * KM_ERR_IO.
 */
KM_API int km_rec_writer_write_frame(km_rec_writer *w, const struct km_frame *frame,
                                     const uint16_t *raw, uint32_t calibration_id);

/* The event record (struct km_rec_event) and the one mapping between it and
 * struct km_event are core's: knotmap/events.h. */

/* Appends one event (stored in order with the frames). Same returns as
 * write_frame, plus KM_ERR_RANGE when n_ints/n_values are too large. */
KM_API int km_rec_writer_write_event(km_rec_writer *w, const struct km_rec_event *ev);

/* Writes the pending chunk and fdatasyncs (when cfg.sync) before it returns,
 * on the caller's thread. Call it when no frames arrive for a while. KM_OK,
 * KM_ERR_STATE, KM_ERR_NO_SPACE, KM_ERR_IO (also a failed background sync). */
KM_API int km_rec_writer_flush(km_rec_writer *w);

/*
 * Discards everything recorded so far (truncates back to the header) and
 * starts again with the same config. KM_OK, KM_ERR_IO, KM_ERR_STATE (closed).
 * Also clears a previous write failure.
 */
KM_API int km_rec_writer_reset(km_rec_writer *w);

/*
 * Writes the pending chunk, the index and the end trailer, fdatasyncs and
 * closes the file. Later writes return KM_ERR_STATE. Returns the first error
 * met (a failed close still leaves the file readable up to its last chunk).
 */
KM_API int km_rec_writer_close(km_rec_writer *w);

/* What the file holds so far: frames and events in whole chunks written, and
 * the file's size in bytes (a chunk still in the buffer is not counted; after a
 * write failure these are what a reader will find). Any pointer may be NULL. */
KM_API void km_rec_writer_stats(const km_rec_writer *w, uint64_t *frames, uint64_t *events,
                                uint64_t *bytes);

/* Closes (like km_rec_writer_close, result ignored) when not closed, frees.
 * NULL ok. */
KM_API void km_rec_writer_destroy(km_rec_writer *w);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct km_rec_reader km_rec_reader;

struct km_rec_reader_config {
	struct km_log log;
	const char *path; /* required; copied */
	/* Scan the whole file at open even when an index is present: verifies
	 * every chunk's CRC up front (damage is then known before reading).
	 * Default false: the index is trusted and chunks are checked as read. */
	bool verify_all;
};

KM_API struct km_rec_reader_config km_rec_reader_config_default(void);

/* What the header and the index (or scan) say. Valid until destroy. */
struct km_rec_info {
	uint16_t format_version;
	uint32_t content; /* enum km_rec_content bits */
	struct km_rec_device device;
	uint32_t calibration_id;
	const void *calibration; /* owned by the reader; NULL when size is 0 */
	size_t calibration_size;
	char session_id[48];
	int64_t start_unix_us;
	/* Frames in the file: from the index when there is one, else counted by
	 * the scan up to the damage. Damage met later while reading an indexed
	 * file: km_rec_reader_damage().frame_index is how many were readable. */
	uint64_t frame_count;
	uint64_t event_count;
	uint64_t first_time_us; /* device time of the first / last frame; 0 if none */
	uint64_t last_time_us;
	bool indexed;       /* true: the file had a valid index; false: rebuilt by scan */
	bool complete;      /* closed cleanly (index + trailer present and valid) */
	uint64_t file_size; /* bytes */
};

/* Where a file is damaged (or ends early). */
struct km_rec_damage {
	bool damaged;         /* false: no damage found (so far) */
	int error;            /* KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED */
	uint64_t byte_offset; /* first byte of the bad chunk */
	uint64_t frame_index; /* index of the first frame lost (= frames readable) */
};

/*
 * Opens a recording: reads and checks the header, loads the index or rebuilds
 * it by scanning chunk headers and CRCs (streamed; memory is one chunk plus the
 * index). Allocates the frame and raw buffers once.
 * Returns KM_OK; KM_ERR_INVALID_ARG; KM_ERR_NOT_FOUND; KM_ERR_PERMISSION;
 * KM_ERR_BAD_MAGIC (not a .kmrec); KM_ERR_BAD_VERSION; KM_ERR_BAD_CRC /
 * KM_ERR_TRUNCATED / KM_ERR_MALFORMED (header itself damaged); KM_ERR_SHAPE;
 * KM_ERR_IO; KM_ERR_NO_MEMORY. A damaged body is not an error here: the
 * reader opens and reports the damage through km_rec_reader_damage().
 */
KM_API int km_rec_reader_create(const struct km_rec_reader_config *cfg, km_rec_reader **out);

KM_API const struct km_rec_info *km_rec_reader_info(const km_rec_reader *r);

/* The damage found so far (at open by the scan, or while reading). */
KM_API void km_rec_reader_damage(const km_rec_reader *r, struct km_rec_damage *out);

enum km_rec_item_kind {
	KM_REC_ITEM_FRAME = 1,
	KM_REC_ITEM_EVENT = 2,
};

/*
 * One item read. For a frame: `frame` (owned by the reader, valid until the
 * next call that reads or seeks) has every field as written; its kpa holds the
 * stored kPa, or, when the file has raw counts only, the counts as floats with
 * KM_FRAME_UNCALIBRATED set. `raw` points to the counts (NULL when the file
 * has none) and `calibration_id` names their calibration. frame_index counts
 * frames from 0.
 */
struct km_rec_item {
	enum km_rec_item_kind kind;
	uint64_t frame_index; /* frames: this frame; events: frames read before it */
	const struct km_frame *frame;
	const uint16_t *raw;
	uint32_t calibration_id;
	struct km_rec_event event;
};

/*
 * Reads the next frame or event in file order. Never allocates.
 * Returns KM_OK; KM_ERR_END after the last item of a sound file; at damage
 * (crash tail, bad CRC) KM_ERR_TRUNCATED / KM_ERR_BAD_CRC / KM_ERR_MALFORMED,
 * with km_rec_reader_damage() saying where, and the same code on every later
 * call; KM_ERR_IO.
 */
KM_API int km_rec_reader_next(km_rec_reader *r, struct km_rec_item *item);

/* Like km_rec_reader_next but skips events. */
KM_API int km_rec_reader_next_frame(km_rec_reader *r, struct km_rec_item *item);

/*
 * Positions the reader so the next frame read is frame `index` (events stored
 * before it in the same chunk are skipped). KM_ERR_RANGE when index >=
 * frame_count; damage codes when the chunk is bad; KM_ERR_IO.
 */
KM_API int km_rec_reader_seek_frame(km_rec_reader *r, uint64_t index);

/* Positions the reader on the first frame whose device_time_us >= time_us
 * (frames are in time order as recorded). KM_ERR_RANGE when past the last. */
KM_API int km_rec_reader_seek_time(km_rec_reader *r, uint64_t time_us);

/* Back to the first item (like seek to frame 0, but events before the first
 * frame are read again). KM_OK, KM_ERR_IO. */
KM_API int km_rec_reader_reset(km_rec_reader *r);

/* True when path names the file the reader has open (same device and inode):
 * lets an exporter refuse to overwrite its own input. */
KM_API bool km_rec_reader_is_file(const km_rec_reader *r, const char *path);

/* NULL ok. */
KM_API void km_rec_reader_destroy(km_rec_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_RECORDING_H */
