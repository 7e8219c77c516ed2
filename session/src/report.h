/* The PNG session report (report.c): layout and colours, exposed so the
 * tests can find what was drawn where. */
#ifndef KNOTMAP_SESSION_REPORT_H
#define KNOTMAP_SESSION_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/export.h"
#include "knotmap/recording.h"
#include "knotmap/summary.h"

/* Report geometry, so tests can find what was drawn where. */
struct km__report_layout {
	uint32_t width, height;
	uint32_t scale;          /* pixels per cell across (a column's width) */
	uint32_t scale_y;        /* pixels per cell down: scale x row / column pitch */
	uint32_t peak_x, peak_y; /* top-left of the peak map */
	uint32_t mean_x, mean_y; /* top-left of the mean map */
	uint32_t map_w, map_h;
	uint32_t timeline_x, timeline_y, timeline_w, timeline_h;
	uint32_t lane_h;
	uint32_t spots_y;                            /* the line naming the spots */
	uint32_t chart_x, chart_y, chart_w, chart_h; /* the body chart (0 when none) */
	uint32_t note_y;                             /* the safety note */
};
/* row_over_col: the row pitch over the column pitch (cells drawn to
 * scale; <= 0: square). */
void km__report_layout(unsigned rows, unsigned cols, uint32_t scale_opt, bool chart,
                       double row_over_col, struct km__report_layout *l);
/*
 * The session's spots by letter, as the viewer names them when the body
 * does not (its messages, markers and hold panel: "spot B"): a knot takes
 * the first letter free at its KNOT_FOUND and gives it back at KNOT_LOST,
 * so letters come back rather than climb. letter[n_knots] receives each
 * summary knot's letter (0 = A), -1 past Z. The viewer names a spot by its
 * body region instead when its body model knows it; the recording has no
 * body model, so the report keeps the letter (session depends on no dsp).
 */
void km__report_spot_letters(const struct km_summary *s, int *letter);
/* "spot A", or "spot" for -1 (what the viewer writes). */
void km__report_spot_name(int letter, char *buf, size_t n);
/* Knot k's body name from cfg->knot_names (its track and KNOT_FOUND time),
 * or NULL when it has none. */
const char *km__report_knot_body(const struct km_export_config *cfg,
                                 const struct km_summary_knot *k);
/* Knot k as the report and the JSON summary name it: "A: left upper back"
 * (its letter as a short tag, its body name), else "spot A" as the viewer
 * said it ("left upper back" alone past Z). */
void km__report_knot_label(const struct km_export_config *cfg, const struct km_summary_knot *k,
                           int letter, char *buf, size_t n);

/* Outcome colours of the hold timeline, 0xRRGGBB. */
uint32_t km__outcome_colour(enum km_outcome o);
int km__export_png(const struct km_export_config *cfg, km_rec_reader *r);

#endif
