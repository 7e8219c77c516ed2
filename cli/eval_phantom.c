/*
 * The phantom family of knotmap evaluate (eval_phantom.h). Frames go through
 * km_cli_analysis, the path `knotmap analyze` takes for an imported .npy in
 * kPa at 25 frames/s (the tensing-up guard on), so what is scored here is
 * what a user of analyze would see.
 */
#include "eval_phantom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis.h"
#include "cli.h"
#include "eval_score.h"
#include "phantom_body.h"

#define RATE_HZ 25.0f
#define WARMUP_S 5.0     /* as the real-body family */
#define STILL_SEED 1000u /* the lying-still body: none of the knotted recordings' (seeds 1-100) */

static const uint16_t grid_side[KM_PHANTOM_GRIDS] = {32, 64, 128};
static const float grid_pitch[KM_PHANTOM_GRIDS] = {12.0f, 8.0f, 4.0f};
static const char *const grid_name[KM_PHANTOM_GRIDS] = {"32x32 @ 12 mm", "64x64 @ 8 mm",
                                                        "128x128 @ 4 mm"};

int km_eval_phantom_grid(long side)
{
	for (int g = 0; g < KM_PHANTOM_GRIDS; g++)
		if (side == grid_side[g])
			return g;
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The detector's overrides of a study (eval_phantom.h). */
static void adjust(struct km_pipeline_config *pc, void *ctx)
{
	const struct km_eval_phantom_opts *o = ctx;
	if (o->min_response_kpa >= 0.0)
		pc->detect.min_response_kpa = (float)o->min_response_kpa;
	if (o->texture_k >= 0.0)
		pc->detect.texture_k = (float)o->texture_k;
	if (o->knot_max_pitch_mm >= 0.0)
		pc->knot_max_pitch_mm = (float)o->knot_max_pitch_mm;
	if (o->counts)
		km_pipeline_config_for_counts(pc);
}

/* A false track's region: the analysis's mm are the phantom's times
 * read_scale when it reads the cells at another pitch. */
struct read_scaled {
	const struct km_phantom *ph;
	float read_scale;
};

static int region_read(const void *ctx, float x, float y)
{
	const struct read_scaled *r = ctx;
	return km_phantom_region(r->ph, x / r->read_scale, y / r->read_scale);
}

/* One recording: knots scored into kt (when it has knots), events into ev. */
static int run(const struct km_phantom_config *pc, const struct km_eval_phantom_opts *o,
               struct km_eval_tally *kt, struct km_eval_events *ev)
{
	double secs = o->seconds;
	struct km_phantom *ph = NULL;
	if (km_phantom_create(pc, &ph)) {
		km_cli_error("evaluate", NULL, "phantom seed %llu: out of memory",
		             (unsigned long long)pc->seed);
		return -1;
	}
	struct km_source_info in;
	memset(&in, 0, sizeof in);
	in.format = KM_IMPORT_NPY;
	in.content = KM_REC_KPA;
	in.units = KM_UNITS_KPA;
	in.device.rows = in.device.cols = pc->side;
	float read_pitch = o->read_pitch_mm > 0.0 ? (float)o->read_pitch_mm : pc->pitch_mm;
	struct read_scaled rs = {ph, read_pitch / pc->pitch_mm};
	in.device.pitch_mm = in.row_pitch_mm = in.col_pitch_mm = read_pitch;
	in.device.geometry = KM_GEOMETRY_FLAT;
	in.device.rate_hz = RATE_HZ;
	struct km_cli_analysis a;
	struct km_frame *f = NULL;
	int rc = km_cli_analysis_create_adjusted("evaluate", &in, adjust, (void *)o, &a);
	if (rc == KM_OK) {
		rc = km_frame_create(pc->side, pc->side, read_pitch, KM_GEOMETRY_FLAT, &f);
		if (rc != KM_OK)
			km_cli_error("evaluate", NULL, "phantom: %s", km_strerror(rc));
	}
	if (rc != KM_OK) {
		km_cli_analysis_destroy(&a);
		km_phantom_destroy(ph);
		return -1;
	}
	size_t frames = (size_t)(secs * RATE_HZ);
	unsigned errors = 0;
	struct km_pipeline_result res;
	struct km_eval_knot k[KM_PHANTOM_KNOTS];
	float dx = 0.0f, dy = 0.0f;
	for (size_t n = 0; n <= frames; n++) {
		double t = n / (double)RATE_HZ;
		int prc;
		if (n < frames) {
			km_phantom_frame(ph, t, f->kpa, &dx, &dy);
			f->sequence = (uint32_t)n;
			f->device_time_us = f->host_time_us = (uint64_t)llround(t * 1e6);
			prc = km_cli_analysis_process(&a, f, &res);
		} else {
			prc = km_pipeline_finish(a.p, &res);
		}
		if (prc != KM_OK) {
			errors++;
			continue;
		}
		/* The knots move with the body's sway (in the analysis's mm). */
		for (int i = 0; i < ph->nk; i++) {
			k[i] = ph->knot[i];
			k[i].x = (k[i].x + dx) * rs.read_scale;
			k[i].y = (k[i].y + dy) * rs.read_scale;
			k[i].r *= rs.read_scale;
		}
		km_eval_count_events(ev, &res, k, ph->nk);
		if (kt && t >= WARMUP_S && n != frames)
			km_eval_score_frame(kt, k, ph->nk, &res, read_pitch, region_read, &rs);
	}
	if (kt) {
		km_eval_end_run(kt, ev, secs);
		kt->errors += errors;
	}
	km_frame_destroy(f);
	km_cli_analysis_destroy(&a);
	km_phantom_destroy(ph);
	if (errors)
		km_cli_error("evaluate", NULL, "phantom seed %llu: %u frame(s) rejected",
		             (unsigned long long)pc->seed, errors);
	return errors ? -1 : 0;
}

int km_eval_phantom(const struct km_eval_phantom_opts *o)
{
	int g0 = o->grid < 0 ? 0 : o->grid, g1 = o->grid < 0 ? KM_PHANTOM_GRIDS - 1 : o->grid;
	uint16_t side[KM_PHANTOM_GRIDS];
	float pitch[KM_PHANTOM_GRIDS];
	char name[KM_PHANTOM_GRIDS][48];
	for (int g = 0; g < KM_PHANTOM_GRIDS; g++) {
		side[g] = grid_side[g];
		pitch[g] = grid_pitch[g];
		snprintf(name[g], sizeof name[g], "%s", grid_name[g]);
	}
	if (o->pitch_mm > 0.0) {
		/* One grid of another pitch over a 512 mm mat, as the 8 mm one. */
		g0 = g1 = 0;
		pitch[0] = (float)o->pitch_mm;
		long n = lround(512.0 / o->pitch_mm);
		side[0] = (uint16_t)(n < 8 ? 8 : n > 256 ? 256 : n);
		snprintf(name[0], sizeof name[0], "%ux%u @ %g mm", side[0], side[0], o->pitch_mm);
	}
	struct km_eval_tally kt[KM_PHANTOM_GRIDS + 1];
	struct km_eval_events still[KM_PHANTOM_GRIDS];
	unsigned still_err[KM_PHANTOM_GRIDS] = {0};
	double per_rec[KM_PHANTOM_GRIDS] = {0};
	memset(kt, 0, sizeof kt);
	memset(still, 0, sizeof still);
	int failed = 0;
	printf("\nPhantom family (TUNING split): an analytic supine adult (cli/phantom_body.c), "
	       "%u recording(s) per grid, 4 knots each (+15, +25, +40 %% and one more), %.0f s at "
	       "%.0f Hz, analysed as `knotmap analyze` analyses an imported .npy %s\n\n",
	       o->seeds, o->seconds, (double)RATE_HZ,
	       o->counts ? "that states no units (counts: relative rules only)" : "in kPa");
	if (o->read_pitch_mm > 0.0)
		printf("Its cells read as %g mm, as analyze reads a file that gives no pitch "
		       "(positions and localisation in those mm)\n\n",
		       o->read_pitch_mm);
	float gs = (float)o->gain_spread, nm = (float)o->noise, tilt = (float)o->tilt_deg;
	float ls = (float)o->load_scale;
	if (gs > 0.0f || nm > 0.0f || tilt > 0.0f || ls > 0.0f)
		printf("Robustness study (0: drawn as usual): cells' fixed gain errors %.1f %% SD "
		       "(drawn 1-3), frame noise %.1f %% SD (drawn 1-3), tilt up to %.1f deg "
		       "(drawn within 1.5), pressures x %.2f\n\n",
		       100.0 * gs, 100.0 * nm, (double)tilt, ls > 0.0f ? (double)ls : 1.0);
	km_eval_print_knots_header();
	fflush(stdout);
	for (int g = g0; g <= g1; g++) {
		double t0 = now_s();
		for (unsigned s = 1; s <= o->seeds; s++) {
			struct km_eval_events ev = {0};
			struct km_phantom_config pc = {.side = side[g],
			                               .pitch_mm = pitch[g],
			                               .seed = s,
			                               .knots = 1,
			                               .gain_spread = gs,
			                               .noise_mult = nm,
			                               .tilt_deg = tilt,
			                               .load_scale = ls};
			if (run(&pc, o, &kt[g], &ev))
				failed = 1;
		}
		per_rec[g] = (now_s() - t0) / o->seeds;
		struct km_phantom_config pc = {.side = side[g],
		                               .pitch_mm = pitch[g],
		                               .seed = STILL_SEED,
		                               .gain_spread = gs,
		                               .noise_mult = nm,
		                               .tilt_deg = tilt,
		                               .load_scale = ls};
		if (run(&pc, o, NULL, &still[g]))
			failed = 1, still_err[g]++;
		km_eval_print_knots(name[g], &kt[g]);
		fflush(stdout);
		km_eval_tally_add(&kt[KM_PHANTOM_GRIDS], &kt[g]);
	}
	if (g1 > g0)
		km_eval_print_knots("ALL", &kt[KM_PHANTOM_GRIDS]);
	printf("\n");
	km_eval_print_regions_header();
	for (int g = g0; g <= g1; g++)
		km_eval_print_regions(name[g], &kt[g], km_phantom_region_name,
		                      KM_PHANTOM_REGIONS);
	if (g1 > g0)
		km_eval_print_regions("ALL", &kt[KM_PHANTOM_GRIDS], km_phantom_region_name,
		                      KM_PHANTOM_REGIONS);
	km_eval_print_legend();
	printf("\nLying still (phantom, no knots, no tool): one %.0f s recording per grid\n\n",
	       o->seconds);
	printf("| grid             | recs | holds | tensing | new candidates/min | err |\n");
	printf("|------------------|-----:|------:|--------:|-------------------:|----:|\n");
	for (int g = g0; g <= g1; g++)
		printf("| %-16s | %4u | %5u | %7u | %18.2f | %3u |\n", name[g], 1u,
		       still[g].holds, still[g].tens, still[g].found / (o->seconds / 60.0),
		       still_err[g]);
	printf("\nTime per recording with knots (wall, this machine):");
	for (int g = g0; g <= g1; g++)
		printf(" %s %.1f s%s", name[g], per_rec[g], g < g1 ? ";" : "\n");
	fflush(stdout);
	return failed;
}
