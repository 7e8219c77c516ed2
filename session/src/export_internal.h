/* Internal pieces shared by export.c and report.c (and their tests). */
#ifndef KNOTMAP_EXPORT_INTERNAL_H
#define KNOTMAP_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/export.h"
#include "km_internal.h"
#include "knotmap/bytes.h"
#include "knotmap/recording.h"

#define KM__OUT_BUF (64u * 1024u)

/* A buffered output file; the first error sticks in err. */
struct km__out {
	int fd;
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
int km__out_close(struct km__out *o);

struct km__knot {
	uint32_t track_id;
	float x_mm, y_mm;
	uint64_t time_us;
};

struct km__hold {
	uint32_t track_id;
	uint64_t start_us, end_us;
	float x_mm, y_mm;
	float held_s, load_kpa, dose_kpa_s;
	enum km_export_outcome outcome;
	bool open;
};

/* What one pass over a recording learns. */
struct km__model {
	size_t cells;
	uint64_t frames, events, dropped, corrupt, saturated;
	uint64_t first_us, last_us;
	float peak_kpa;
	size_t peak_cell;
	double sum_all;
	float *peak; /* [cells] per-cell maximum (maps only) */
	double *sum; /* [cells] per-cell sum (maps only) */
	struct km__knot *knots;
	size_t n_knots, cap_knots;
	struct km__hold *holds;
	size_t n_holds, cap_holds;
	struct {
		uint16_t type;
		char name[32];
		uint64_t count;
	} types[64];
	size_t n_types;
};

void km__model_init(struct km__model *m);
int km__model_build(const struct km_export_config *cfg, km_rec_reader *r, struct km__model *m,
                    bool maps);
void km__model_free(struct km__model *m);

int km__next(const struct km_export_config *cfg, km_rec_reader *r, struct km_rec_item *it);
void km__progress(const struct km_export_config *cfg, const km_rec_reader *r, uint64_t done,
                  bool final);
void km__describe(const struct km_export_config *cfg, const struct km_rec_event *ev,
                  struct km_export_event_info *info, char *namebuf, size_t cap);
const char *km__outcome_name(enum km_export_outcome o);

/* Report geometry, so tests can find what was drawn where. */
struct km__report_layout {
	uint32_t width, height;
	uint32_t scale;          /* pixels per cell */
	uint32_t peak_x, peak_y; /* top-left of the peak map */
	uint32_t mean_x, mean_y; /* top-left of the mean map */
	uint32_t map_w, map_h;
	uint32_t timeline_x, timeline_y, timeline_w, timeline_h;
	uint32_t lane_h;
};
void km__report_layout(unsigned rows, unsigned cols, uint32_t scale_opt,
                       struct km__report_layout *l);
/* Outcome colours of the hold timeline, 0xRRGGBB. */
uint32_t km__outcome_colour(enum km_export_outcome o);
int km__export_png(const struct km_export_config *cfg, km_rec_reader *r);

#endif
