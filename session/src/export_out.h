/* The export's buffered output file and its walk over a recording; used by
 * export.c, model.c and report.c (export_out.c). */
#ifndef KNOTMAP_EXPORT_OUT_H
#define KNOTMAP_EXPORT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "km_internal.h"
#include "knotmap/bytes.h"
#include "knotmap/export.h"
#include "knotmap/outfile.h"
#include "knotmap/recording.h"

#define KM__OUT_BUF (64u * 1024u)

/* A buffered output file; the first error sticks in err. */
struct km__out {
	km_outfile *file;
	uint8_t *buf;
	size_t len;
	uint64_t written;
	int err;
	const struct km_log *log;
	const char *path;
};

int km__out_open(struct km__out *o, const struct km_export_config *cfg);
void km__out_write(struct km__out *o, const void *p, size_t n);
void km__out_puts(struct km__out *o, const char *s);
void km__out_printf(struct km__out *o, const char *fmt, ...) KM_PRINTF(2, 3);
void km__out_float(struct km__out *o, float v);
void km__out_csv_text(struct km__out *o, const char *s);
int km__out_flush(struct km__out *o);
/* Commits the file when rc is KM_OK and every write succeeded, else discards
 * it (an older file at the path is left as it was). Returns the first error. */
int km__out_close(struct km__out *o, int rc);

/* Reads the next item; KM_ERR_END at the end or at damage (logged). */
int km__next(const struct km_export_config *cfg, km_rec_reader *r, struct km_rec_item *it);
/* Calls cfg->progress about every 1 % of the frames (and once when final). */
void km__progress(const struct km_export_config *cfg, const km_rec_reader *r, uint64_t done,
                  bool final);

#endif
