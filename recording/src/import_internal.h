/*
 * Internal pieces of the importers (import.c, import_npy.c, import_text.c,
 * import_tekscan.c, import_xsensor.c):
 * the buffered input (file, FILE * or memory) that counts bytes and lines,
 * error reporting, and the per-format vtable.
 */
#ifndef KNOTMAP_IMPORT_INTERNAL_H
#define KNOTMAP_IMPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "knotmap/import.h"
#include "recording_internal.h"

#define KM__IN_BUF (64u * 1024u)

/* Buffered input. offset: absolute position of the next byte; line: 1-based
 * line of the next byte. */
struct km__in {
	FILE *fp;
	bool own_fp;
	const uint8_t *mem; /* memory input (fp NULL) */
	size_t mem_size;
	uint8_t *buf; /* file input */
	size_t len, pos;
	uint64_t offset;
	uint64_t line;
	bool eof;
	int err;      /* KM_ERR_IO once a read failed */
	int64_t size; /* total bytes when known, else -1 */
};

/* Next byte, or -1 at the end (in->err tells a read error). */
int km__in_getc(struct km__in *in);
/* Next byte without consuming it, or -1. */
int km__in_peek(struct km__in *in);
/* Reads up to n bytes; returns how many (short at the end or on error). */
size_t km__in_read(struct km__in *in, void *dst, size_t n);
/* Repositions to an offset/line earlier returned by the fields above. */
int km__in_seek(struct km__in *in, uint64_t offset, uint64_t line);
/* Reads one line without its "\n" / "\r\n" into buf (NUL-terminated).
 * Returns 1, 0 at the end of the input, KM_ERR_MALFORMED when the line does
 * not fit in cap - 1 bytes (the rest of it is consumed), KM_ERR_IO. */
int km__in_line(struct km__in *in, char *buf, size_t cap, size_t *len);

/* A decimal number as pressure files write it: [sign] digits [. digits]
 * [e [sign] digits], or nan / inf (which the caller refuses by name). No hex
 * (strtod reads "0x10" as 16), no thousands separators. dec: the decimal
 * mark, '.' or ','. s[0..n). */
bool km__parse_decimal(const char *s, size_t n, char dec, double *v);

/* Whether every one of v[0..n) is finite (vector code at -O2). */
bool km__all_finite(const float *v, size_t n);

struct km__import_ops;

struct km_import {
	struct km_import_config cfg;
	char name[256]; /* file name for messages (may be cut; never opened) */
	char *path;     /* the whole path, copied: the one that is opened */
	struct km__in in;
	const struct km__import_ops *ops;
	void *fmt; /* the format's state */
	struct km_import_info info;
	/* Overrides resolved at create (config, sidecar). */
	float side_rate, side_pitch;
	enum km_import_units side_units;
	float side_row_pitch, side_col_pitch; /* a sidecar's [row, col] pitch */
	uint16_t side_rows, side_cols;        /* a sidecar's grid (plain matrices) */
	uint8_t *side_mask; /* a sidecar's "mask" ('0'/'1' per cell), side_mask_cells long */
	size_t side_mask_cells;
	uint64_t index; /* frames read */
	struct km_import_damage damage;
	bool done;
	bool warned_negative;
	bool reading; /* created: errors now come from km_import_next */
	bool quiet;   /* a format's look-ahead at open: errors are its to report later */
	/* Set by a format: both spacings (origin FILE unless overridden). */
	double file_row_pitch, file_col_pitch;
	uint8_t *mask; /* the format's; info.mask points here */
	/* several sensors: their names in file order */
	char sensor_names[16][64];
	/* what tells each apart ("LF" of "HX210.11.31.M11-DFM-LF S0073"), a part
	 * config.sensor accepts; the whole name when nothing shorter does */
	char sensor_labels[16][64];
	/* partial reading: frames skipped, frame slots used (read + skipped; the
	 * time base when the file has no time stamps), the first skip's message */
	uint64_t skipped, slot, skipped_since;
	char first_skip[256];
};

struct km__import_ops {
	enum km_import_format format;
	/* Parses the header from the start of the input, fills r->info's grid and
	 * what the file says; allocates its state on the first call (reset calls
	 * it again with the state in place). */
	int (*open)(km_import *r);
	/* Fills out->kpa in the file's units and, when the file has it, the time
	 * (set *have_time). KM_ERR_END at the end. */
	int (*next)(km_import *r, struct km_frame *out, bool *have_time);
	void (*close)(km_import *r);
	/* Partial reading: after a failed next, moves to the start of the next
	 * frame (must consume input). KM_OK, KM_ERR_END, or an error. NULL: the
	 * format cannot skip (the damage stands). */
	int (*resync)(km_import *r);
};

/* Fills sensor_labels[0..n) from sensor_names (n <= 16). */
void km__import_sensor_labels(km_import *r, unsigned n);

extern const struct km__import_ops km__import_npy;
extern const struct km__import_ops km__import_text;
extern const struct km__import_ops km__import_tekscan;
extern const struct km__import_ops km__import_xsensor;

/* Is this XSENSOR text the X3/X4 export layout (SENSOR / SENSELS blocks)? */
bool km__xsensor_is_export(const void *head, size_t size);

/* Records damage (first one sticks), logs it, copies the message to the
 * detail buffer. line 0: binary, the message names the byte offset. Returns code. */
int km__import_fail(km_import *r, int code, uint64_t line, uint64_t offset, const char *fmt, ...)
    KM_PRINTF(5, 6);
/* The same with a 1-based column: "FILE:LINE:COLUMN: problem". */
int km__import_fail_at(km_import *r, int code, uint64_t line, uint64_t column, uint64_t offset,
                       const char *fmt, ...) KM_PRINTF(6, 7);
void km__import_warn(km_import *r, const char *fmt, ...) KM_PRINTF(2, 3);

/* Sets the rate/pitch/units the file declares (origin FILE) unless the
 * config overrides them. */
void km__import_set_rate(km_import *r, double hz);
void km__import_set_pitch(km_import *r, double mm);
/* Both spacings (either may be 0: the other is used for it). */
void km__import_set_pitch2(km_import *r, double row_mm, double col_mm);
void km__import_set_units(km_import *r, enum km_import_units u);

#endif
