/*
 * What the body families of knotmap evaluate share (docs/accuracy.md): the
 * knots' physics (a local stiffness rise, p' = p (1 + s g(r))), a seeded
 * random generator, scoring a frame's tracks against the knots, counting a
 * recording's events, and the knot and region tables. The real-body family
 * (eval_lying.c) and the phantom family (eval_phantom.c) each bring their
 * bodies and regions; the scoring is one.
 */
#ifndef KM_CLI_EVAL_SCORE_H
#define KM_CLI_EVAL_SCORE_H

#include <stdint.h>

#include "knotmap/pipeline.h"

#define KM_EVAL_MATCH_MIN_MM 20.0f /* knots within 2 cm are one (docs/signal-model.md) */
#define KM_EVAL_MAX_KNOTS 8
#define KM_EVAL_MAX_REGIONS 6

/* One injected knot: centre (mm, the frame's coordinates), relative stiffness
 * rise s (0.15 = +15 %), radius r (mm; the profile's sigma is 0.6 r) and the
 * family's region index. */
struct km_eval_knot {
	float x, y, s, r;
	int reg;
};

/* Knot scores of one grid (or of several added up). */
struct km_eval_tally {
	uint64_t gt[3], tp[3]; /* knot-frames per strength class: +15, +25, +40 % */
	uint64_t reg_gt[KM_EVAL_MAX_REGIONS], reg_tp[KM_EVAL_MAX_REGIONS];
	uint64_t fp, fp_reg[KM_EVAL_MAX_REGIONS]; /* live tracks matched to no knot */
	double loc_sum, loc_pitch_sum;
	unsigned runs, found, found_false, holds, tens, errors;
	double minutes;
};

/* Events of one recording. */
struct km_eval_events {
	unsigned found, found_false, holds, tens;
};

uint64_t km_eval_rng_next(uint64_t *s);
double km_eval_rng_unit(uint64_t *s); /* [0, 1) */
double km_eval_rng_normal(uint64_t *s);

/* Strength class of s: 0 (+15 %), 1 (+25 %), 2 (+40 %). */
int km_eval_strength_class(float s);
/* sum of s g(r) of the knots at (x, y): the relative pressure excess there. */
float km_eval_knot_excess(const struct km_eval_knot *k, int nk, float x, float y);
/* 1 + the mean excess over the cell with corner (x0, y0), 4 x 4 points. */
float km_eval_knot_gain(const struct km_eval_knot *k, int nk, float x0, float y0, float pitch);
/* Is (x, y) within max(20 mm, r) of a knot? */
int km_eval_knot_near(const struct km_eval_knot *k, int nk, float x, float y);

/* Counts HOLD_ENGAGED, TENSING_UP and KNOT_FOUND (and those far from every
 * knot) among res's events. */
void km_eval_count_events(struct km_eval_events *ev, const struct km_pipeline_result *res,
                          const struct km_eval_knot *k, int nk);
/* Region of a false track at (x, y) (an index below KM_EVAL_MAX_REGIONS). */
typedef int (*km_eval_region_fn)(const void *ctx, float x, float y);
/* Scores one frame: the live unlabelled tracks against the knots, greedy
 * nearest first within max(20 mm, r); every knot is a scored knot-frame,
 * every unmatched track a false one (its region from region_of). */
void km_eval_score_frame(struct km_eval_tally *t, const struct km_eval_knot *k, int nk,
                         const struct km_pipeline_result *res, float pitch,
                         km_eval_region_fn region_of, const void *ctx);
/* A recording's events and length into the tally. */
void km_eval_end_run(struct km_eval_tally *t, const struct km_eval_events *ev, double secs);
void km_eval_tally_add(struct km_eval_tally *a, const struct km_eval_tally *b);

/* The knot table (one row per grid) and the region table. */
void km_eval_print_knots_header(void);
void km_eval_print_knots(const char *grid, const struct km_eval_tally *t);
void km_eval_print_regions_header(void);
void km_eval_print_regions(const char *grid, const struct km_eval_tally *t,
                           const char *const *names, int n);
/* The legend under both tables. */
void km_eval_print_legend(void);

#endif
