/*
 * knotmap evaluate: runs every virtual-mat scenario over several seeds through
 * the dsp pipeline and prints an accuracy table against the simulator's
 * ground truth (docs/accuracy.md explains every column). No tuning per
 * scenario: one pipeline configuration (the library defaults) for all.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval_lying.h"
#include "eval_phantom.h"
#include "progress.h"
#include "knotmap/calibration.h"
#include "knotmap/pipeline.h"

#if __has_include("knotmap/sim.h")
#include "knotmap/sim.h"
#define HAVE_SIM 1
#else
#define HAVE_SIM 0
#endif

#if HAVE_SIM

#define MAX_SCEN 64
#define MAX_REC 512
#define MATCH_MIN_MM 20.0f  /* docs/signal-model.md: knots within 2 cm are one */
#define EVAL_EVERY 10       /* detection scored every 10th frame */
#define WARMUP_S 1.0        /* tracks need 3 frames to confirm; skip the start */
#define TENSING_GRACE_S 3.0 /* a TENSING_UP this long after an episode still counts */

struct tally {
	unsigned runs, errors;
	double minutes;
	/* knot detection, per scored frame */
	uint64_t gt, tp, fp;
	double loc_sum, loc_max, loc_pitch_sum;
	uint64_t found, found_false; /* KNOT_FOUND events, and those far from every knot */
	/* holds */
	unsigned holds, holds_timed;
	double start_err, start_abs, end_err, end_abs;
	/* tensing */
	unsigned tens, tens_hit, tens_fa;
	double delay_sum;
	/* lying still: scenarios with no tool (no hold may start) */
	unsigned still_runs, still_holds, still_tens;
	uint64_t still_found;
	double still_minutes;
};

struct interval {
	double t0, t1;
	float x, y; /* holds: the tool's position at the start (NaN: none) */
};

struct ev_rec {
	double t;
	enum km_event_type type;
	uint32_t track;
	float x, y;
	float held_s; /* seconds already timed (HOLD_STARTED: the settling counted) */
};

struct run_state {
	struct ev_rec ev[MAX_REC];
	size_t n_ev;
	struct interval holds[16], tens[16];
	size_t n_holds, n_tens;
	int in_hold, in_tens;
};

static void record(struct run_state *st, double t, const struct km_event *e)
{
	/* a knot back is not a new one (scored as found once) */
	if (st->n_ev == MAX_REC || (e->type == KM_EVENT_KNOT_FOUND && e->reason == KM_REASON_AGAIN))
		return;
	struct ev_rec *r = &st->ev[st->n_ev++];
	r->t = t;
	r->type = e->type;
	r->track = e->track_id;
	r->x = e->x_mm;
	r->y = e->y_mm;
	r->held_s = e->held_s;
}

static float wrap_dx(float dx, float wrap)
{
	if (wrap > 0.0f) {
		dx = fmodf(dx, wrap);
		if (dx > 0.5f * wrap)
			dx -= wrap;
		else if (dx < -0.5f * wrap)
			dx += wrap;
	}
	return dx;
}

/* Is a knot hidden under a ball? The contact (~2 cm^2) is far stronger and
 * smaller than a knot's excess: the knot is what the ball presses, not
 * something the mat can see around it. */
static bool under_ball(const struct km_sim_config *cfg, const struct km_sim_truth *t,
                       const struct km_sim_knot_truth *k, float wrap)
{
	if (!t->tool_contact ||
	    (cfg->tool != KM_SIM_TOOL_TENNIS_BALL && cfg->tool != KM_SIM_TOOL_LACROSSE_BALL))
		return false;
	float d = cfg->tool_diameter_mm > 0.0f ? cfg->tool_diameter_mm : 65.0f;
	float dx = wrap_dx(k->x_mm - t->tool_x_mm, wrap), dy = k->y_mm - t->tool_y_mm;
	return sqrtf(dx * dx + dy * dy) < 0.5f * d + k->radius_mm;
}

/* Scores one frame's knot detections against the truth. Knots count when
 * loaded, at least +20 % stiffer, not under a ball and not on the spine mask. */
static void score_frame(struct tally *ty, const struct km_sim_config *cfg,
                        const struct km_sim_truth *t, const struct km_pipeline_result *res,
                        float wrap)
{
	struct {
		float x, y, r;
		int scored, used;
	} g[KM_SIM_MAX_KNOTS];
	size_t ng = 0;
	for (size_t i = 0; i < t->knot_count && ng < KM_SIM_MAX_KNOTS; i++) {
		const struct km_sim_knot_truth *k = &t->knots[i];
		bool spine = t->body && fabsf(k->x_mm - t->spine_x_mm) < 25.0f;
		g[ng].x = k->x_mm;
		g[ng].y = k->y_mm;
		g[ng].r = fmaxf(MATCH_MIN_MM, k->radius_mm);
		g[ng].scored = k->loaded && k->stiffness_pct >= 20.0f && !spine &&
		               !under_ball(cfg, t, k, wrap);
		g[ng].used = 0;
		ty->gt += (uint64_t)g[ng].scored;
		ng++;
	}
	/* Greedy matching, nearest pairs first (a handful of knots). */
	int det_used[256] = {0};
	size_t nd = res->track_count < 256 ? res->track_count : 256;
	for (;;) {
		float best = INFINITY;
		size_t bi = 0, bj = 0;
		for (size_t j = 0; j < nd; j++) {
			const struct km_track *tr = &res->tracks[j];
			if (det_used[j] || tr->state == KM_TRACK_END ||
			    (tr->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE)))
				continue;
			for (size_t i = 0; i < ng; i++) {
				if (g[i].used)
					continue;
				float dx = wrap_dx(tr->x_mm - g[i].x, wrap), dy = tr->y_mm - g[i].y;
				float d = sqrtf(dx * dx + dy * dy);
				if (d <= g[i].r && d < best) {
					best = d;
					bi = i;
					bj = j;
				}
			}
		}
		if (!isfinite(best))
			break;
		g[bi].used = 1;
		det_used[bj] = 1;
		if (g[bi].scored) {
			ty->tp++;
			ty->loc_sum += best;
			ty->loc_pitch_sum += best / cfg->pitch_mm;
			ty->loc_max = fmax(ty->loc_max, best);
		}
	}
	for (size_t j = 0; j < nd; j++) {
		const struct km_track *tr = &res->tracks[j];
		if (!det_used[j] && tr->state != KM_TRACK_END &&
		    !(tr->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE)))
			ty->fp++;
	}
}

static void score_events(struct tally *ty, const struct run_state *st,
                         const struct km_sim_config *cfg, const struct km_sim_truth *last,
                         float wrap)
{
	for (size_t i = 0; i < st->n_ev; i++) {
		const struct ev_rec *e = &st->ev[i];
		if (e->type == KM_EVENT_KNOT_FOUND) {
			ty->found++;
			bool near = false;
			for (size_t k = 0; k < last->knot_count; k++) {
				float dx = wrap_dx(e->x - last->knots[k].x_mm, wrap);
				float dy = e->y - last->knots[k].y_mm;
				near |= sqrtf(dx * dx + dy * dy) <=
				        fmaxf(MATCH_MIN_MM, last->knots[k].radius_mm);
			}
			ty->found_false += !near;
		}
		if (e->type == KM_EVENT_TENSING_UP) {
			bool inside = false;
			for (size_t k = 0; k < st->n_tens; k++)
				inside |= e->t >= st->tens[k].t0 &&
				          e->t <= st->tens[k].t1 + TENSING_GRACE_S;
			ty->tens_fa += !inside;
		}
	}
	for (size_t k = 0; k < st->n_tens; k++) {
		ty->tens++;
		for (size_t i = 0; i < st->n_ev; i++) {
			const struct ev_rec *e = &st->ev[i];
			if (e->type == KM_EVENT_TENSING_UP && e->t >= st->tens[k].t0 &&
			    e->t <= st->tens[k].t1 + TENSING_GRACE_S) {
				ty->tens_hit++;
				ty->delay_sum += e->t - st->tens[k].t0;
				break;
			}
		}
	}
	/* Holds are scored where a tool presses (a hold is a tool on a knot). */
	if (cfg->tool == KM_SIM_TOOL_NONE)
		return;
	for (size_t k = 0; k < st->n_holds; k++) {
		const struct interval *h = &st->holds[k];
		ty->holds++;
		/* A roller's line contact can start holds on several spots at once:
		 * score the one nearest the tool (else the first). */
		const struct ev_rec *start = NULL;
		float best = INFINITY;
		for (size_t i = 0; i < st->n_ev; i++) {
			const struct ev_rec *e = &st->ev[i];
			if (e->type != KM_EVENT_HOLD_STARTED || e->t < h->t0 - 10.0 || e->t > h->t1)
				continue;
			float d = 0.0f;
			if (!isnan(h->x)) {
				float dx = wrap_dx(e->x - h->x, wrap), dy = e->y - h->y;
				d = sqrtf(dx * dx + dy * dy);
			}
			if (!start || d < best) {
				start = e;
				best = d;
			}
		}
		if (!start)
			continue;
		/* The timer stops when the load goes (the last PAUSED not followed by
		 * a RESUMED), or at STOPPED. */
		double end = NAN, paused = NAN;
		for (size_t i = (size_t)(start - st->ev) + 1; i < st->n_ev; i++) {
			const struct ev_rec *e = &st->ev[i];
			if (e->track != start->track)
				continue;
			if (e->type == KM_EVENT_HOLD_PAUSED)
				paused = e->t;
			else if (e->type == KM_EVENT_HOLD_RESUMED)
				paused = NAN;
			else if (e->type == KM_EVENT_HOLD_STOPPED) {
				end = isnan(paused) ? e->t : paused;
				break;
			}
		}
		/* The hold's counted start: HOLD_STARTED minus the seconds it says
		 * were already timed (the timer counts from HOLD_ENGAGED, hold.h). */
		double t_start = start->t - (isfinite(start->held_s) ? start->held_s : 0.0);
		ty->holds_timed++;
		ty->start_err += t_start - h->t0;
		ty->start_abs += fabs(t_start - h->t0);
		if (isnan(end))
			end = last->t_s; /* still running at the end of the run */
		ty->end_err += end - h->t1;
		ty->end_abs += fabs(end - h->t1);
	}
}

static double scenario_seconds(const struct km_sim_config *c)
{
	double s = 0.0;
	for (size_t i = 0; i < c->step_count; i++)
		s += c->steps[i].duration_s;
	if (s <= 0.0 || c->motion_loop)
		s = 60.0;
	return s;
}

/* One scenario, one seed, one input (true pressure or calibrated counts). */
/* Overrides for sensitivity studies (negative = library default). */
static double opt_min_response = -1.0;
static double opt_texture_k = -1.0;
/* Sensor input as the driver delivers it: the mat's calibration with its
 * creep and hysteresis corrections (1), or the curve and crosstalk only (0,
 * --calibration factory). */
static int opt_driver_cal = 1;

/* The driver's calibration of this virtual mat (the sim transport's own). */
static int sensor_calibration(km_sim *sim, const struct km_sim_config *cfg, km_calibration **out)
{
	struct km_sim_config sc = *cfg;
	if (!opt_driver_cal)
		sc.hysteresis_pct = 0.0f; /* not inverted; creep: apply's flag */
	struct km_calibration_config cc = km_calibration_config_default(cfg->rows, cfg->cols);
	cc.max_counts = (uint16_t)((1u << cfg->adc_bits) - 1u);
	cc.log = km_cli_log();
	return km_calibration_for_sim(sim, &sc, &cc, out);
}

static int run_one(const char *path, uint64_t seed, int sensor, double max_s, struct tally *ty)
{
	struct km_sim_config cfg;
	memset(&cfg, 0, sizeof cfg);
	char err[256];
	int rc = km_sim_scenario_load(path, &cfg, err, sizeof err);
	if (rc != KM_OK) {
		km_cli_error("evaluate", NULL, "%s", err);
		return rc;
	}
	cfg.seed = seed;
	cfg.log = km_cli_log();
	km_sim *sim = NULL;
	km_pipeline *p = NULL;
	struct km_frame *f = NULL;
	km_calibration *cal = NULL;
	struct run_state *st = calloc(1, sizeof *st);
	if (!st)
		return KM_ERR_NO_MEMORY;
	rc = km_sim_create(&cfg, &sim);
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = cfg.rows;
	pc.cols = cfg.cols;
	pc.pitch_mm = cfg.pitch_mm;
	pc.geometry = cfg.geometry;
	pc.rate_hz = cfg.rate_hz;
	pc.enable_guard = cfg.rate_hz >= 25.0f;
	if (opt_min_response >= 0.0)
		pc.detect.min_response_kpa = (float)opt_min_response;
	if (opt_texture_k >= 0.0)
		pc.detect.texture_k = (float)opt_texture_k;
	pc.log = km_cli_log();
	if (rc == KM_OK)
		rc = km_pipeline_create(&pc, &p);
	if (rc == KM_OK)
		rc = km_frame_create(cfg.rows, cfg.cols, cfg.pitch_mm, cfg.geometry, &f);
	size_t cells = (size_t)cfg.rows * cfg.cols;
	if (rc == KM_OK && sensor)
		rc = sensor_calibration(sim, &cfg, &cal);
	if (rc != KM_OK) {
		km_cli_error("evaluate", NULL, "%s: %s", path, km_strerror(rc));
		goto out;
	}
	float wrap = cfg.geometry == KM_GEOMETRY_CYLINDER ? cfg.cols * cfg.pitch_mm : 0.0f;
	double secs = scenario_seconds(&cfg);
	if (max_s > 0.0 && secs > max_s)
		secs = max_s;
	size_t frames = (size_t)(secs * cfg.rate_hz);
	struct km_sim_output so;
	struct km_pipeline_result res;
	struct km_sim_truth last;
	memset(&last, 0, sizeof last);
	for (size_t n = 0; n < frames; n++) {
		rc = km_sim_step(sim, &so);
		if (rc != KM_OK)
			break;
		const struct km_sim_truth *t = so.truth;
		f->sequence = so.sequence;
		f->device_time_us = so.time_us;
		f->host_time_us = so.time_us;
		if (cal)
			km_calibration_apply(cal, so.counts, so.time_us, opt_driver_cal, f->kpa, NULL);
		else
			memcpy(f->kpa, so.kpa, cells * sizeof *f->kpa);
		int prc = km_pipeline_process(p, f, &res);
		if (prc != KM_OK) {
			ty->errors++;
			continue;
		}
		for (size_t i = 0; i < res.event_count; i++)
			record(st, t->t_s, &res.events[i]);
		/* Truth intervals from the per-frame phase and tensing flags. */
		bool hold = t->phase == KM_SIM_PHASE_HOLD;
		if (hold && !st->in_hold && st->n_holds < 16)
			st->holds[st->n_holds++] = (struct interval){
			    t->t_s, INFINITY, t->tool_contact ? t->tool_x_mm : NAN,
			    t->tool_contact ? t->tool_y_mm : NAN};
		if (!hold && st->in_hold && st->n_holds)
			st->holds[st->n_holds - 1].t1 = t->t_s;
		st->in_hold = hold;
		if (t->tensing && !st->in_tens && st->n_tens < 16)
			st->tens[st->n_tens++] = (struct interval){t->t_s, INFINITY, NAN, NAN};
		if (!t->tensing && st->in_tens && st->n_tens)
			st->tens[st->n_tens - 1].t1 = t->t_s;
		st->in_tens = t->tensing;
		if (t->t_s >= WARMUP_S && n % EVAL_EVERY == 0)
			score_frame(ty, &cfg, t, &res, wrap);
		last = *t;
	}
	if (km_pipeline_finish(p, &res) == KM_OK)
		for (size_t i = 0; i < res.event_count; i++)
			record(st, last.t_s, &res.events[i]);
	for (size_t k = 0; k < st->n_holds; k++)
		if (isinf(st->holds[k].t1))
			st->holds[k].t1 = last.t_s;
	for (size_t k = 0; k < st->n_tens; k++)
		if (isinf(st->tens[k].t1))
			st->tens[k].t1 = last.t_s;
	score_events(ty, st, &cfg, &last, wrap);
	ty->minutes += last.t_s / 60.0;
	if (cfg.tool == KM_SIM_TOOL_NONE) {
		/* Nothing presses: every HOLD_ENGAGED is bone under body weight. */
		ty->still_runs++;
		ty->still_minutes += last.t_s / 60.0;
		for (size_t i = 0; i < st->n_ev; i++) {
			ty->still_holds += st->ev[i].type == KM_EVENT_HOLD_ENGAGED;
			ty->still_tens += st->ev[i].type == KM_EVENT_TENSING_UP;
			ty->still_found += st->ev[i].type == KM_EVENT_KNOT_FOUND;
		}
	}
	ty->runs++;
	rc = KM_OK;
out:
	km_calibration_destroy(cal);
	free(st);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	km_sim_destroy(sim);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fmt_ratio(char *buf, size_t n, double num, double den)
{
	if (den > 0.0)
		snprintf(buf, n, "%.3f", num / den);
	else
		snprintf(buf, n, "-");
}

static void print_row(const char *name, const char *input, const struct tally *t)
{
	char rec[16], prec[16], loc[24], hs[32], he[32], td[24], fa[16], kfa[16];
	fmt_ratio(rec, sizeof rec, (double)t->tp, (double)t->gt);
	fmt_ratio(prec, sizeof prec, (double)t->tp, (double)(t->tp + t->fp));
	if (t->tp)
		snprintf(loc, sizeof loc, "%.1f (%.2f)", t->loc_sum / (double)t->tp,
		         t->loc_pitch_sum / (double)t->tp);
	else
		snprintf(loc, sizeof loc, "-");
	if (t->holds_timed) {
		snprintf(hs, sizeof hs, "%+.1f", t->start_err / t->holds_timed);
		snprintf(he, sizeof he, "%+.1f", t->end_err / t->holds_timed);
	} else {
		snprintf(hs, sizeof hs, "-");
		snprintf(he, sizeof he, "-");
	}
	if (t->tens_hit)
		snprintf(td, sizeof td, "%.2f", t->delay_sum / t->tens_hit);
	else
		snprintf(td, sizeof td, "-");
	snprintf(fa, sizeof fa, "%.2f", t->minutes > 0 ? t->tens_fa / t->minutes : 0.0);
	snprintf(kfa, sizeof kfa, "%.2f", t->minutes > 0 ? t->found_false / t->minutes : 0.0);
	printf("| %-22s | %-6s | %6llu | %6s | %6s | %-11s | %2u/%-2u | %6s | %6s | %2u/%-2u | %6s "
	       "| %6s | %6s | %3u |\n",
	       name, input, (unsigned long long)t->gt, rec, prec, loc, t->holds_timed, t->holds, hs,
	       he, t->tens_hit, t->tens, td, fa, kfa, t->errors);
}

static void add(struct tally *a, const struct tally *b)
{
	a->runs += b->runs;
	a->errors += b->errors;
	a->minutes += b->minutes;
	a->gt += b->gt;
	a->tp += b->tp;
	a->fp += b->fp;
	a->loc_sum += b->loc_sum;
	a->loc_max = fmax(a->loc_max, b->loc_max);
	a->loc_pitch_sum += b->loc_pitch_sum;
	a->found += b->found;
	a->found_false += b->found_false;
	a->holds += b->holds;
	a->holds_timed += b->holds_timed;
	a->start_err += b->start_err;
	a->start_abs += b->start_abs;
	a->end_err += b->end_err;
	a->end_abs += b->end_abs;
	a->tens += b->tens;
	a->tens_hit += b->tens_hit;
	a->tens_fa += b->tens_fa;
	a->delay_sum += b->delay_sum;
	a->still_runs += b->still_runs;
	a->still_holds += b->still_holds;
	a->still_tens += b->still_tens;
	a->still_found += b->still_found;
	a->still_minutes += b->still_minutes;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap evaluate [--seeds N] [--seconds S] [--input true|sensor|both]\n"
	        "                        [--scenario NAME]... [--min-response-kpa X]\n"
	        "                        [--texture-k X] [--calibration driver|factory]\n"
	        "                        [--lying DIR] [--family sim|real|phantom|both|all]\n"
	        "                        [--lying-seconds S] [--lying-seeds N]\n"
	        "                        [--lying-posture PREFIX] [--lying-split report|dev|all]\n"
	        "                        [--phantom-grid 32|64|128] [--phantom-pitch MM]\n"
	        "                        [--phantom-gain-spread X] [--phantom-noise X]\n"
	        "                        [--phantom-tilt DEG] [--phantom-load-scale X]\n"
	        "                        [--phantom-knot-max-pitch MM] [--phantom-units kPa|counts]\n"
	        "                        [--phantom-read-pitch MM]\n\n"
	        "Runs every virtual-mat scenario (or the named ones) for N seeds (default 3)\n"
	        "through the dsp pipeline with its default settings and prints a Markdown\n"
	        "accuracy table against the simulator's ground truth: knot recall, precision\n"
	        "and localisation error, hold start/end timing error, tensing-up detection\n"
	        "delay and false alarms per minute. --seconds caps each run (default: the\n"
	        "scenario's length). --input picks the true pressure, the sensor model\n"
	        "(ADC counts through the driver's calibration of the mat, creep and\n"
	        "hysteresis corrected; --calibration factory: the curve and crosstalk only)\n"
	        "or both (default).\n"
	        "--min-response-kpa overrides the detector's absolute floor (simulator\n"
	        "and phantom), --texture-k its texture factor (every family; for studies).\n"
	        "--lying DIR adds the real-body family: the unzipped PoPu preview\n"
	        "(DIR/tactilus_data, DIR/segmentation_data; unzip\n"
	        "lying/popu_preview_data.zip of the shared data): real lying maps with\n"
	        "injected knots at 8 mm / 10 Hz and native 32 mm / 1 Hz, and the\n"
	        "lying-still check of every capture. --lying-posture keeps the\n"
	        "captures whose name starts with PREFIX (e.g. supine1). --lying-split\n"
	        "picks the captures: report (default: postures 2-7 of each side, never\n"
	        "looked at while building the detector), dev (posture 1: supine1, prone1,\n"
	        "left1, right1, looked at) or all.\n"
	        "The phantom family: an analytic supine adult with four knots per\n"
	        "recording, 60 s at 25 Hz on 32x32 @ 12 mm, 64x64 @ 8 mm and 128x128 @ 4 mm\n"
	        "(--phantom-grid picks one), 30 recordings per grid (--seeds N: N),\n"
	        "--seconds caps its recordings too. For robustness studies:\n"
	        "--phantom-pitch MM runs one grid of that pitch instead (a 512 mm mat),\n"
	        "--phantom-gain-spread X sets the cells' fixed gain errors (relative SD;\n"
	        "drawn 0.01-0.03), --phantom-noise X the frame-to-frame relative noise\n"
	        "(drawn 0.01-0.03), --phantom-tilt DEG the body's largest rotation on the\n"
	        "mat (drawn within 1.5), --phantom-load-scale X a factor on the body's\n"
	        "pressures (a lighter or heavier person), --phantom-knot-max-pitch MM\n"
	        "the pipeline's coarse-cells limit (0: off; default 18), --phantom-units\n"
	        "counts reads the frames as counts (relative rules only), as analyze\n"
	        "reads an .npy that states no units, --phantom-read-pitch MM takes the\n"
	        "cells for MM (as analyze takes a file that gives no pitch for 10 mm).\n"
	        "--family picks the families: sim, real, phantom, both (sim and real) or\n"
	        "all (the default; the real one needs --lying; with --scenario the\n"
	        "default leaves the phantom out).\n"
	        "See docs/accuracy.md for the definitions.\n");
}

static int run_evaluate(int argc, char **argv)
{
	long seeds = 3, lying_seeds = 1;
	double max_s = 0.0, lying_s = 60.0;
	double phantom_pitch = 0.0, phantom_gain = 0.0, phantom_noise = 0.0, phantom_tilt = 0.0;
	double phantom_coarse = -1.0, phantom_load = 0.0, phantom_read_pitch = 0.0;
	int phantom_counts = 0;
	const char *lying = NULL, *lying_posture = NULL;
	enum km_lying_split lying_split = KM_LYING_REPORT;
	int fam_sim = 1, fam_real = 1, fam_phantom = 1, seeds_given = 0, phantom_grid = -1,
	    family_given = 0;
	int in_lo = 0, in_hi = 1;
	const char *names[MAX_SCEN];
	size_t n_names = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		}
		if (i + 1 >= argc) {
			km_cli_error("evaluate", "see 'knotmap evaluate --help'",
			             "unknown or incomplete option '%s'", a);
			return KM_EXIT_USAGE;
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--seeds")) {
			if (km_cli_parse_long("evaluate", a, v, 1, 100, &seeds))
				return KM_EXIT_USAGE;
			seeds_given = 1;
		} else if (!strcmp(a, "--seconds")) {
			if (km_cli_parse_double("evaluate", a, v, 1.0, 3600.0, &max_s))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--calibration")) {
			if (!strcmp(v, "driver")) {
				opt_driver_cal = 1;
			} else if (!strcmp(v, "factory")) {
				opt_driver_cal = 0;
			} else {
				km_cli_error("evaluate", "see 'knotmap evaluate --help'",
				             "--calibration expects driver or factory, got '%s'", v);
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--min-response-kpa")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 1000.0, &opt_min_response))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--texture-k")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 100.0, &opt_texture_k))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--input")) {
			if (!strcmp(v, "true"))
				in_lo = in_hi = 0;
			else if (!strcmp(v, "sensor"))
				in_lo = in_hi = 1;
			else if (!strcmp(v, "both"))
				in_lo = 0, in_hi = 1;
			else {
				km_cli_error("evaluate", NULL,
				             "--input expects true, sensor or both");
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--lying")) {
			lying = v;
		} else if (!strcmp(a, "--lying-posture")) {
			lying_posture = v;
		} else if (!strcmp(a, "--lying-split")) {
			if (!strcmp(v, "report")) {
				lying_split = KM_LYING_REPORT;
			} else if (!strcmp(v, "dev")) {
				lying_split = KM_LYING_DEV;
			} else if (!strcmp(v, "all")) {
				lying_split = KM_LYING_ALL;
			} else {
				km_cli_error("evaluate", NULL,
				             "--lying-split expects report, dev or all, got '%s'", v);
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--lying-seconds")) {
			if (km_cli_parse_double("evaluate", a, v, 10.0, 3600.0, &lying_s))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--lying-seeds")) {
			if (km_cli_parse_long("evaluate", a, v, 1, 100, &lying_seeds))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--family")) {
			int all = !strcmp(v, "all");
			family_given = 1;
			fam_sim = all || !strcmp(v, "sim") || !strcmp(v, "both");
			fam_real = all || !strcmp(v, "real") || !strcmp(v, "both");
			fam_phantom = all || !strcmp(v, "phantom");
			if (!fam_sim && !fam_real && !fam_phantom) {
				km_cli_error("evaluate", "see 'knotmap evaluate --help'",
				             "--family expects sim, real, phantom, both or all, got '%s'",
				             v);
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--phantom-pitch")) {
			if (km_cli_parse_double("evaluate", a, v, 1.0, 50.0, &phantom_pitch))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-read-pitch")) {
			if (km_cli_parse_double("evaluate", a, v, 1.0, 50.0, &phantom_read_pitch))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-knot-max-pitch")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 1000.0, &phantom_coarse))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-gain-spread")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 0.5, &phantom_gain))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-noise")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 0.5, &phantom_noise))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-load-scale")) {
			if (km_cli_parse_double("evaluate", a, v, 0.05, 100.0, &phantom_load))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-units")) {
			if (!strcmp(v, "counts") || !strcmp(v, "kpa") || !strcmp(v, "kPa")) {
				phantom_counts = !strcmp(v, "counts");
			} else {
				km_cli_error("evaluate", "see 'knotmap evaluate --help'",
				             "--phantom-units expects kPa or counts, got '%s'", v);
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--phantom-tilt")) {
			if (km_cli_parse_double("evaluate", a, v, 0.0, 30.0, &phantom_tilt))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--phantom-grid")) {
			long side;
			if (km_cli_parse_long("evaluate", a, v, 1, 1024, &side))
				return KM_EXIT_USAGE;
			phantom_grid = km_eval_phantom_grid(side);
			if (phantom_grid < 0) {
				km_cli_error("evaluate", "see 'knotmap evaluate --help'",
				             "--phantom-grid expects 32, 64 or 128, got '%s'", v);
				return KM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--scenario")) {
			if (n_names == MAX_SCEN) {
				km_cli_error("evaluate", NULL, "too many --scenario options");
				return KM_EXIT_USAGE;
			}
			names[n_names++] = v;
		} else {
			km_cli_error("evaluate", "see 'knotmap evaluate --help'",
			             "unknown option '%s'", a);
			return KM_EXIT_USAGE;
		}
	}

	/* Named scenarios are a look at the simulator: the phantom's 90
	 * recordings only when --family asks for them. */
	if (n_names && !family_given)
		fam_phantom = 0;
	if (fam_real && !fam_sim && !fam_phantom && !lying) {
		km_cli_error("evaluate", "see 'knotmap evaluate --help'",
		             "--family real needs --lying DIR");
		return KM_EXIT_USAGE;
	}
	char *paths[MAX_SCEN];
	size_t n_paths = 0;
	char buf[4096 + 512];
	if (!fam_sim) {
		/* the real family alone */
	} else if (n_names) {
		for (size_t i = 0; i < n_names; i++) {
			if (km_sim_scenario_find(names[i], buf, sizeof buf) != KM_OK) {
				km_cli_error("evaluate", NULL, "no scenario '%s'", names[i]);
				goto fail;
			}
			paths[n_paths++] = strdup(buf);
		}
	} else {
		char dir[4096];
		if (km_sim_scenario_dir(dir, sizeof dir) != KM_OK) {
			km_cli_error("evaluate", "set KNOTMAP_SCENARIO_DIR",
			             "no scenario directory found");
			return KM_EXIT_FAILURE;
		}
		DIR *d = opendir(dir);
		if (!d) {
			km_cli_error("evaluate", NULL, "cannot open %s", dir);
			return KM_EXIT_FAILURE;
		}
		struct dirent *de;
		while ((de = readdir(d)) && n_paths < MAX_SCEN) {
			size_t len = strlen(de->d_name);
			if (len < 5 || strcmp(de->d_name + len - 4, ".ini"))
				continue;
			if (snprintf(buf, sizeof buf, "%s/%s", dir, de->d_name) >= (int)sizeof buf)
				continue;
			paths[n_paths++] = strdup(buf);
		}
		closedir(d);
		qsort(paths, n_paths, sizeof paths[0], cmp_str);
	}
	for (size_t i = 0; i < n_paths; i++)
		if (!paths[i]) {
			km_cli_error("evaluate", NULL, "out of memory");
			goto fail;
		}

	int failed = 0;
	if (!fam_sim)
		goto real;
	printf("knotmap %s evaluate\n\nSimulator family (TUNING split): %ld seed(s), knots scored"
	       " at >= +20 %% stiffness\n\n",
	       km_version_string(), seeds);
	printf("| scenario               | input  | knot-f | recall | precis | loc mm (pitch) "
	       "| holds | start s | end s | tens  | delay s | FA/min | knotFA | err |\n");
	printf("|------------------------|--------|-------:|-------:|-------:|-------------"
	       "|------:|-------:|------:|------:|-------:|-------:|-------:|----:|\n");
	struct tally total[2];
	memset(total, 0, sizeof total);
	struct km_progress pg; /* one step per simulator run */
	km_progress_begin(&pg, stderr, "evaluating", "runs",
	                  (uint64_t)n_paths * (uint64_t)(in_hi - in_lo + 1) * (uint64_t)seeds);
	uint64_t runs = 0;
	for (size_t i = 0; i < n_paths; i++) {
		struct km_sim_config cfg;
		memset(&cfg, 0, sizeof cfg);
		char err[256];
		if (km_sim_scenario_load(paths[i], &cfg, err, sizeof err) != KM_OK) {
			km_cli_error("evaluate", NULL, "%s", err);
			failed = 1;
			continue;
		}
		const char *base = strrchr(paths[i], '/');
		base = base ? base + 1 : paths[i];
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(strlen(base) - 4), base);
		for (int in = in_lo; in <= in_hi; in++) {
			struct tally t;
			memset(&t, 0, sizeof t);
			for (long s = 1; s <= seeds; s++) {
				if (run_one(paths[i], (uint64_t)s, in, max_s, &t) != KM_OK)
					failed = 1;
				km_progress_update(&pg, ++runs);
			}
			km_progress_clear(&pg);
			print_row(name, in ? "sensor" : "true", &t);
			fflush(stdout);
			add(&total[in], &t);
		}
	}
	km_progress_clear(&pg);
	for (int in = in_lo; in <= in_hi; in++)
		print_row("ALL", in ? "sensor" : "true", &total[in]);
	for (int in = in_lo; in <= in_hi; in++)
		if (total[in].still_runs)
			printf("\nLying still (simulator, scenarios without a tool, %s input): %u "
			       "runs, "
			       "%u holds, %u tensing-up, %.2f new candidates/min (KNOT_FOUND, the "
			       "scenarios' own knots included)\n",
			       in ? "sensor" : "true", total[in].still_runs, total[in].still_holds,
			       total[in].still_tens,
			       (double)total[in].still_found / fmax(total[in].still_minutes, 1e-9));
	printf("\nknot-f: scored knot-frames (10 Hz);"
	       " start/end s: mean signed hold timing error; tens: episodes detected;"
	       " FA/min: false TENSING_UP; knotFA: KNOT_FOUND away from every knot, per min.\n");
real:
	if (fam_real && lying) {
		struct km_eval_lying_opts lo = {.dir = lying,
		                                .seconds = lying_s,
		                                .seeds = (unsigned)lying_seeds,
		                                .posture = lying_posture,
		                                .split = lying_split,
		                                .texture_k = opt_texture_k};
		failed |= km_eval_lying(&lo);
	} else if (fam_real) {
		printf("\nReal-body family: not run (give --lying DIR, the unzipped PoPu preview;"
		       " docs/accuracy.md)\n");
	}
	if (fam_phantom) {
		struct km_eval_phantom_opts po = {.seeds = seeds_given ? (unsigned)seeds : 30u,
		                                  .seconds = max_s > 0.0 && max_s < 60.0 ? max_s : 60.0,
		                                  .grid = phantom_grid,
		                                  .min_response_kpa = opt_min_response,
		                                  .texture_k = opt_texture_k,
		                                  .gain_spread = phantom_gain,
		                                  .noise = phantom_noise,
		                                  .tilt_deg = phantom_tilt,
		                                  .load_scale = phantom_load,
		                                  .counts = phantom_counts,
		                                  .pitch_mm = phantom_pitch,
		                                  .knot_max_pitch_mm = phantom_coarse,
		                                  .read_pitch_mm = phantom_read_pitch};
		failed |= km_eval_phantom(&po);
	}
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i]);
	return failed ? KM_EXIT_FAILURE : KM_EXIT_OK;
fail:
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i]);
	return KM_EXIT_FAILURE;
}

#else /* !HAVE_SIM */

static int run_evaluate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	km_cli_error("evaluate", NULL, "built without the virtual mat (hardware/sim)");
	return KM_EXIT_FAILURE;
}

#endif

const struct km_cli_command km_cli_cmd_evaluate = {
    "evaluate", "accuracy of knot detection and hold timing (virtual mat, phantom, real)",
    run_evaluate};
