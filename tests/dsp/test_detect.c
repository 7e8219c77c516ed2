/* Spot detection: analytic bumps through the real band-pass. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/detect.h"

#include "../../dsp/src/detect_scan.h"

#define R 48
#define C 48
#define PITCH 5.0f
#define CELLS (R * C)

struct rig {
	km_bandpass *bp;
	km_detect *det;
	struct km_bandpass_config bc;
	struct km_detect_config dc;
	float in[CELLS];
	float weight[CELLS];
	int masked; /* run the band-pass as normalised convolution over loaded cells */
	float stack[KM_BANDPASS_MAX_SCALES * CELLS];
	struct km_detect_result res;
};

static void rig_init(struct rig *g, enum km_geometry geo, void (*tweak)(struct km_detect_config *))
{
	memset(g, 0, sizeof *g);
	g->bc = km_bandpass_config_default();
	g->bc.rows = R;
	g->bc.cols = C;
	g->bc.pitch_mm = PITCH;
	g->bc.geometry = geo;
	g->dc = km_detect_config_default();
	cr_assert_eq(km_detect_config_from_bandpass(&g->dc, &g->bc), KM_OK);
	if (tweak)
		tweak(&g->dc);
	g->bc.normalized = 1;
	cr_assert_eq(km_bandpass_create(&g->bc, &g->bp), KM_OK);
	cr_assert_eq(km_detect_create(&g->dc, &g->det), KM_OK);
}

static void rig_run(struct rig *g)
{
	if (g->masked) {
		for (int i = 0; i < CELLS; i++)
			g->weight[i] = g->in[i] > g->dc.outline_kpa ? 1.0f : 0.0f;
		cr_assert_eq(km_bandpass_execute_masked(g->bp, g->in, g->weight, g->stack), KM_OK);
	} else {
		cr_assert_eq(km_bandpass_execute(g->bp, g->in, g->stack), KM_OK);
	}
	cr_assert_eq(
	    km_detect_execute(g->det, g->stack, g->in, km_bandpass_background(g->bp), &g->res),
	    KM_OK);
}

static void rig_free(struct rig *g)
{
	km_bandpass_destroy(g->bp);
	km_detect_destroy(g->det);
}

static void add_bump(float *in, double x_mm, double y_mm, double sigma_mm, double amp, int periodic)
{
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			double dx = (c + 0.5) * PITCH - x_mm, dy = (r + 0.5) * PITCH - y_mm;
			if (periodic) {
				double L = C * PITCH;
				dx = fmod(fmod(dx, L) + 1.5 * L, L) - 0.5 * L;
			}
			in[r * C + c] +=
			    (float)(amp * exp(-(dx * dx + dy * dy) / (2 * sigma_mm * sigma_mm)));
		}
}

static void plateau(float *in, int c0, int c1, float kpa)
{
	for (int r = 0; r < R; r++)
		for (int c = c0; c < c1; c++)
			in[r * C + c] += kpa;
}

/* Landmark and midline masks off: bare detector. */
static void no_landmark(struct km_detect_config *c)
{
	c->landmark_excess = 0.0f;
	c->midline_half_width_mm = 0.0f;
}

Test(detect, gaussian_bump_found_at_centre_and_scale)
{
	const double xs[3] = {118.3, 101.0, 96.6}, ys[3] = {121.7, 99.2, 130.4};
	const double bs[3] = {12.0, 9.0, 17.0};
	for (int t = 0; t < 3; t++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
		plateau(g.in, 0, C, 30.0f);
		add_bump(g.in, xs[t], ys[t], bs[t], 20.0, 0);
		rig_run(&g);
		cr_assert_eq(g.res.count, 1, "bump %d: %zu candidates", t, g.res.count);
		const struct km_candidate *k = &g.res.candidates[0];
		/* Sub-cell: well under a quarter of the 5 mm pitch. */
		cr_expect_lt(fabs(k->x_mm - xs[t]), 0.25 * PITCH, "x %g vs %g", (double)k->x_mm,
		             xs[t]);
		cr_expect_lt(fabs(k->y_mm - ys[t]), 0.25 * PITCH, "y %g vs %g", (double)k->y_mm,
		             ys[t]);
		cr_expect_lt(fabs(k->scale_mm / bs[t] - 1.0), 0.2, "scale %g vs %g",
		             (double)k->scale_mm, bs[t]);
		cr_expect_gt(k->response_kpa, 15.0f);
		cr_expect_lt(k->response_kpa, 21.0f);
		cr_expect_gt(k->peak_kpa, 47.0f);
		rig_free(&g);
	}
}

Test(detect, two_bumps_sorted_strongest_first)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
	plateau(g.in, 0, C, 30.0f);
	add_bump(g.in, 70, 70, 10, 8.0, 0);
	add_bump(g.in, 160, 150, 10, 15.0, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 2);
	cr_expect_lt(fabs(g.res.candidates[0].x_mm - 160), 2.0);
	cr_expect_lt(fabs(g.res.candidates[1].x_mm - 70), 2.0);
	cr_expect_gt(g.res.candidates[0].response_kpa, g.res.candidates[1].response_kpa);
	rig_free(&g);
}

Test(detect, absolute_threshold)
{
	/* A 1.5 kPa bump is below the 2 kPa floor; 3 kPa is above. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
	plateau(g.in, 0, C, 10.0f);
	add_bump(g.in, 120, 120, 10, 1.5, 0);
	rig_run(&g);
	cr_expect_eq(g.res.count, 0);
	add_bump(g.in, 120, 120, 10, 1.5, 0);
	rig_run(&g);
	cr_expect_eq(g.res.count, 1);
	rig_free(&g);
}

Test(detect, noise_estimate_scales_with_noise)
{
	float sd[2][KM_BANDPASS_MAX_SCALES];
	for (int t = 0; t < 2; t++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
		uint32_t s = 12345;
		for (int i = 0; i < CELLS; i++) {
			s = s * 1664525u + 1013904223u;
			float u = (float)(s >> 8) / 16777216.0f - 0.5f;
			g.in[i] = 30.0f + (t ? 20.0f : 10.0f) * u;
		}
		rig_run(&g);
		memcpy(sd[t], g.res.noise_sd_kpa, sizeof sd[t]);
		cr_expect_gt(sd[t][0], 0.0f);
		rig_free(&g);
	}
	/* Scales whose interior (3 outer sigmas from the mat edge) is large on
	 * this 48 x 48 grid: the estimate is the noise's, not the edges'. */
	for (unsigned s = 0; s < 3; s++)
		cr_expect_float_eq(sd[1][s], 2.0f * sd[0][s], 0.1f * sd[1][s], "scale %u: %g vs %g",
		                   s, (double)sd[1][s], (double)sd[0][s]);
}

Test(detect, relative_threshold_follows_noise)
{
	/* With noise SD ~4 kPa a 4 kPa bump stays below 3 x noise. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
	uint32_t s = 99;
	for (int i = 0; i < CELLS; i++) {
		s = s * 1664525u + 1013904223u;
		g.in[i] = 60.0f + 14.0f * ((float)(s >> 8) / 16777216.0f - 0.5f);
	}
	add_bump(g.in, 120, 120, 12, 4.0, 0);
	rig_run(&g);
	for (size_t i = 0; i < g.res.count; i++)
		cr_expect_gt(g.res.candidates[i].response_kpa,
		             3.0f * g.res.noise_sd_kpa[g.res.candidates[i].scale_index] * 0.999f);
	rig_free(&g);
}

Test(detect, straight_edges_and_corners_are_not_spots)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, NULL);
	for (int r = 8; r < 40; r++)
		for (int c = 10; c < 34; c++)
			g.in[r * C + c] = 30.0f;
	rig_run(&g);
	cr_expect_eq(g.res.count, 0, "%zu spurious", g.res.count);
	rig_free(&g);
}

static void label_mode(struct km_detect_config *c)
{
	c->midline_mode = KM_DETECT_MASK_LABEL;
	c->landmark_mode = KM_DETECT_MASK_LABEL;
}

Test(detect, outline_and_midline_mask)
{
	/* Body: columns 2..46 loaded (x 12.5..232.5 mm), midline at 122.5 mm. A bump on
	 * the midline is masked; one 50 mm lateral is kept. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, NULL);
	plateau(g.in, 2, 47, 25.0f);
	add_bump(g.in, 122.5, 80, 9, 6.0, 0);
	add_bump(g.in, 170, 150, 9, 6.0, 0);
	rig_run(&g);
	const struct km_body_outline *o = g.res.outline;
	cr_assert(o->found);
	cr_expect_float_eq(o->midline_x_mm, 122.5f, 0.01f);
	cr_expect_float_eq(o->left_mm, 12.5f, 0.01f);
	cr_expect_float_eq(o->right_mm, 232.5f, 0.01f);
	cr_expect_float_eq(o->row_left_mm[10], 12.5f, 0.01f);
	cr_expect_eq(o->rows, R);
	cr_assert_eq(g.res.count, 1, "%zu candidates", g.res.count);
	cr_expect_lt(fabs(g.res.candidates[0].x_mm - 170), 2.0);
	cr_expect_geq(g.res.masked, 1);
	rig_free(&g);

	/* Labelled instead of dropped; normalised convolution as the pipeline
	 * uses it (plain DoG keeps the body corners as labelled landmarks). */
	rig_init(&g, KM_GEOMETRY_FLAT, label_mode);
	g.masked = 1;
	plateau(g.in, 2, 47, 25.0f);
	add_bump(g.in, 122.5, 80, 9, 6.0, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 1, "%zu candidates", g.res.count);
	cr_expect(g.res.candidates[0].flags & KM_CANDIDATE_MIDLINE);
	cr_expect_not(g.res.candidates[0].flags & KM_CANDIDATE_LANDMARK);
	rig_free(&g);
}

Test(detect, strong_peak_labelled_landmark)
{
	/* A knot makes 15-40 % excess; a 3x peak is bone or a tool. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, label_mode);
	g.masked = 1;
	plateau(g.in, 0, C, 20.0f);
	add_bump(g.in, 80, 80, 10, 60.0, 0);
	add_bump(g.in, 160, 160, 10, 5.0, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 2);
	cr_expect(g.res.candidates[0].flags & KM_CANDIDATE_LANDMARK);
	cr_expect_not(g.res.candidates[1].flags & KM_CANDIDATE_LANDMARK);
	cr_expect_gt(g.res.candidates[1].background_kpa, 15.0f);
	rig_free(&g);
}

static void cap3(struct km_detect_config *c)
{
	no_landmark(c);
	c->max_candidates = 3;
}

Test(detect, isolated_strong_contact_is_kept)
{
	/* A ball's contact: a small island of high pressure with nothing loaded
	 * around it. No support, but landmark strength: kept (labelled). */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, label_mode);
	g.masked = 1;
	add_bump(g.in, 31.5 * PITCH, 21.5 * PITCH, 4.0, 600.0, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 1, "%zu candidates", g.res.count);
	cr_expect(g.res.candidates[0].flags & KM_CANDIDATE_LANDMARK);
	cr_expect_lt(fabsf(g.res.candidates[0].x_mm - 31.5f * PITCH), 2.0f);
	rig_free(&g);
}

Test(detect, one_spot_per_min_separation)
{
	/* Two bumps 12 mm apart are one spot (merge within 2 cm); 40 mm apart, two. */
	for (int t = 0; t < 2; t++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, no_landmark);
		plateau(g.in, 0, C, 30.0f);
		float sep = t ? 40.0f : 12.0f;
		add_bump(g.in, 100, 120, 5, 6.0, 0);
		add_bump(g.in, 100 + sep, 120, 5, 5.0, 0);
		rig_run(&g);
		cr_expect_eq(g.res.count, t ? 2u : 1u, "sep %g: %zu", (double)sep, g.res.count);
		cr_expect_lt(fabsf(g.res.candidates[0].x_mm - 100.0f), 4.0f);
		rig_free(&g);
	}
}

Test(detect, capped_at_max_candidates)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, cap3);
	plateau(g.in, 0, C, 30.0f);
	for (int i = 0; i < 6; i++)
		add_bump(g.in, 50 + 35 * (i % 3), 70 + 80 * (i / 3), 8, 5.0 + i, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 3);
	cr_expect_eq(g.res.over_cap, 3);
	cr_expect_float_eq(g.res.candidates[0].response_kpa, 10.0f, 1.5f);
	cr_expect_gt(g.res.candidates[0].response_kpa, g.res.candidates[1].response_kpa);
	cr_expect_gt(g.res.candidates[1].response_kpa, g.res.candidates[2].response_kpa);
	rig_free(&g);
}

Test(detect, periodic_bump_across_the_seam)
{
	/* On a roller a bump centred on the seam (column 0) is one spot. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_CYLINDER, NULL);
	plateau(g.in, 0, C, 20.0f);
	add_bump(g.in, 1.0, 120, 10, 6.0, 1);
	rig_run(&g);
	cr_assert_eq(g.res.count, 1);
	float x = g.res.candidates[0].x_mm;
	float d = fminf(fabsf(x - 1.0f), fabsf(x - (C * PITCH + 1.0f)));
	cr_expect_lt(d, 1.5f, "x %g", (double)x);
	cr_expect_not(g.res.outline->found, "no body outline on a roller");
	rig_free(&g);
}

Test(detect, rejects_bad_config)
{
	struct km_detect_config c = km_detect_config_default();
	km_detect *d = (km_detect *)1;
	cr_expect_eq(km_detect_create(&c, &d), KM_ERR_SHAPE);
	cr_expect_null(d);
	struct km_bandpass_config bc = km_bandpass_config_default();
	bc.rows = bc.cols = 8;
	cr_assert_eq(km_detect_config_from_bandpass(&c, &bc), KM_OK);
	struct km_detect_config b = c;
	b.scale_mm[1] = b.scale_mm[0];
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.max_candidates = 0;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.texture_k = -1.0f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.texture_k = NAN;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.noise_k = -1.0f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.edge_ratio = 0.5f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.midline_mode = (enum km_detect_mask_mode)7;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.ratio = 1.0f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.weak_fraction = 1.5f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.outline_min_area_cm2 = -1.0f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.support_sigmas = 11.0f;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.min_separation_mm = NAN;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	b = c;
	b.noise_frames = 1000000;
	cr_expect_eq(km_detect_create(&b, &d), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_create(NULL, &d), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_create(&c, NULL), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_config_from_bandpass(NULL, &bc), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_detect_create(&c, &d), KM_OK);
	struct km_detect_result res;
	float buf[64 * 5] = {0};
	cr_expect_eq(km_detect_execute(d, NULL, buf, NULL, &res), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_execute(d, buf, NULL, NULL, &res), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_execute(d, buf, buf, NULL, NULL), KM_ERR_INVALID_ARG);
	km_detect_destroy(d);
	km_detect_destroy(NULL);
}

Test(detect, reset_clears_outline_and_no_alloc_per_frame)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, NULL);
	plateau(g.in, 2, 47, 25.0f);
	add_bump(g.in, 170, 150, 9, 6.0, 0);
	uint64_t before = km__alloc_count();
	for (int i = 0; i < 20; i++)
		rig_run(&g);
	cr_expect_eq(km__alloc_count(), before);
	cr_expect(km_detect_outline(g.det)->found);
	km_detect_reset(g.det);
	cr_expect_not(km_detect_outline(g.det)->found);
	cr_expect(isnan(km_detect_outline(g.det)->row_left_mm[3]));
	rig_run(&g);
	cr_expect(g.res.outline->found);
	cr_expect_eq(g.res.count, 1);
	rig_free(&g);
}

static void weak_on(struct km_detect_config *c)
{
	no_landmark(c);
	c->weak_fraction = 0.6f;
}

Test(detect, weak_candidates_for_hysteresis)
{
	/* 1.5 kPa: below the 2 kPa floor, above 0.6 x 2: reported as WEAK. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, weak_on);
	plateau(g.in, 0, C, 10.0f);
	add_bump(g.in, 120, 120, 10, 1.5, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 1);
	cr_expect(g.res.candidates[0].flags & KM_CANDIDATE_WEAK);
	add_bump(g.in, 120, 120, 10, 1.5, 0);
	rig_run(&g);
	cr_assert_eq(g.res.count, 1);
	cr_expect_not(g.res.candidates[0].flags & KM_CANDIDATE_WEAK);
	rig_free(&g);
}

Test(detect, small_loaded_area_is_not_a_body)
{
	/* A 50 x 50 mm contact (25 cm^2) is a tool, not a lying body. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, NULL);
	for (int r = 20; r < 30; r++)
		for (int c = 20; c < 30; c++)
			g.in[r * C + c] = 30.0f;
	rig_run(&g);
	cr_expect_not(g.res.outline->found);
	cr_expect_eq(g.res.outline->loaded_cells, 100);
	rig_free(&g);
}

static void smooth4(struct km_detect_config *c)
{
	no_landmark(c);
	c->noise_frames = 4;
}

Test(detect, noise_estimate_is_smoothed_over_frames)
{
	/* With noise_frames = 4 a doubled noise moves the estimate a quarter of
	 * the way per frame; reset starts over from the next frame's value. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, smooth4);
	float amp[2] = {10.0f, 20.0f}, sd[3];
	for (int t = 0; t < 3; t++) {
		uint32_t s = 4242;
		for (int i = 0; i < CELLS; i++) {
			s = s * 1664525u + 1013904223u;
			g.in[i] = 30.0f + amp[t ? 1 : 0] * ((float)(s >> 8) / 16777216.0f - 0.5f);
		}
		if (t == 2)
			km_detect_reset(g.det);
		rig_run(&g);
		sd[t] = g.res.noise_sd_kpa[0];
	}
	/* frame 2 raw = 2 x frame 1 raw: smoothed = sd0 + (2 sd0 - sd0) / 4. */
	cr_expect_float_eq(sd[1], 1.25f * sd[0], 0.01f * sd[0]);
	cr_expect_float_eq(sd[2], 2.0f * sd[0], 0.01f * sd[0]);
	rig_free(&g);
}

static void relative(struct km_detect_config *c)
{
	no_landmark(c);
	c->min_contrast = 0.08f;
	c->min_response_kpa = 0.3f;
}

Test(detect, relative_contrast)
{
	/* 1.5 kPa is 15 % of a 10 kPa back (a knot) but 3.75 % of 40 kPa (not);
	 * 0.5 kPa on 10 kPa (5 %) is below the 8 % contrast. */
	const float base[3] = {10.0f, 40.0f, 10.0f}, amp[3] = {1.5f, 1.5f, 0.5f};
	const size_t want[3] = {1, 0, 0};
	for (int t = 0; t < 3; t++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, relative);
		g.masked = 1;
		plateau(g.in, 0, C, base[t]);
		add_bump(g.in, 120, 120, 10, amp[t], 0);
		rig_run(&g);
		cr_expect_eq(g.res.count, want[t], "case %d: %zu", t, g.res.count);
		rig_free(&g);
	}
}

Test(detect, external_noise_sets_the_noise_rule)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, relative);
	g.masked = 1;
	plateau(g.in, 0, C, 10.0f);
	add_bump(g.in, 120, 120, 10, 1.5, 0);
	float sd[KM_BANDPASS_MAX_SCALES];
	for (int i = 0; i < KM_BANDPASS_MAX_SCALES; i++)
		sd[i] = 1.0f; /* 3 x 1 kPa > the 1.5 kPa bump */
	cr_expect_eq(km_detect_set_noise(g.det, sd, g.dc.n_scales + 1), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_set_noise(NULL, sd, g.dc.n_scales), KM_ERR_INVALID_ARG);
	sd[0] = -1.0f;
	cr_expect_eq(km_detect_set_noise(g.det, sd, g.dc.n_scales), KM_ERR_INVALID_ARG);
	sd[0] = 1.0f;
	cr_assert_eq(km_detect_set_noise(g.det, sd, g.dc.n_scales), KM_OK);
	rig_run(&g);
	cr_expect_eq(g.res.count, 0);
	cr_expect_float_eq(g.res.noise_sd_kpa[0], 1.0f, 1e-6f);
	cr_assert_eq(km_detect_set_noise(g.det, NULL, 0), KM_OK); /* back to the MAD */
	rig_run(&g);
	cr_expect_eq(g.res.count, 1);
	rig_free(&g);
}

static void per_scale(struct km_detect_config *c)
{
	relative(c);
	c->landmark_excess = 0.8f;
	c->landmark_mode = KM_DETECT_MASK_LABEL;
	c->per_scale_nms = true;
	c->max_scale_growth = 1.5f;
}

static size_t unlabelled_near(const struct rig *g, float x, float y, float r)
{
	size_t n = 0;
	for (size_t i = 0; i < g->res.count; i++) {
		const struct km_candidate *k = &g->res.candidates[i];
		if (!(k->flags & KM_CANDIDATE_LANDMARK) && hypotf(k->x_mm - x, k->y_mm - y) < r)
			n++;
	}
	return n;
}

Test(detect, knot_beside_a_bony_dome)
{
	/* A scapula-like dome (sigma 30 mm, +100 %) with a +30 % knot (sigma
	 * 8 mm) on its flank 22 mm from its top (a rhomboid knot): the knot is
	 * a maximum at its own scale only; per-scale maxima find it, and the
	 * dome's landmark label does not swallow it. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, per_scale);
	g.masked = 1;
	plateau(g.in, 0, C, 4.0f);
	add_bump(g.in, 130, 120, 30, 8.0, 0);
	add_bump(g.in, 108, 120, 8, 2.0, 0);
	rig_run(&g);
	cr_expect_eq(unlabelled_near(&g, 108, 120, 10.0f), 1, "knot not found");
	rig_free(&g);
}

static void per_scale_no_growth(struct km_detect_config *c)
{
	per_scale(c);
	c->max_scale_growth = 0.0f;
}

Test(detect, broad_dome_is_not_a_spot)
{
	/* A thigh-like dome (sigma 60 mm, +40 %): at fine scales its top is a
	 * maximum with knot-like contrast (about 2.5 x the largest knot scale),
	 * but one scale coarser its response
	 * still grows by far more than half: no unlabelled spot. */
	for (int t = 0; t < 2; t++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, t ? per_scale : per_scale_no_growth);
		g.masked = 1;
		plateau(g.in, 0, C, 4.0f);
		add_bump(g.in, 120, 120, 60, 1.6, 0);
		rig_run(&g);
		size_t n = unlabelled_near(&g, 120, 120, 30.0f);
		if (t)
			cr_expect_eq(n, 0, "dome reported as a spot");
		else
			cr_expect_geq(n, 1, "without the growth rule the dome's top is a maximum");
		rig_free(&g);
	}
}

/* ---- the fast paths against brute force ----------------------------------- */

static unsigned lcg(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffu;
}

/* Plain 3x3x3 (or per-scale 3x3) maxima over v / thr, ties to the first in
 * (s, r, c) order, every other rule off (per scale: the coarsest layer is
 * a guard band): the pruned scan must find exactly these, on quantised
 * random stacks full of ties. */
static void brute_nms(int periodic, int per_scale, enum km__isa isa)
{
	enum { NR = 23, NC = 37, NS = 4 };
	static float stack[NS * NR * NC], kpa[NR * NC];
	struct km_detect_config dc = km_detect_config_default();
	dc.rows = NR;
	dc.cols = NC;
	dc.pitch_mm = 7.5f;
	dc.geometry = periodic ? KM_GEOMETRY_CYLINDER : KM_GEOMETRY_FLAT;
	dc.n_scales = NS;
	for (int s = 0; s < NS; s++)
		dc.scale_mm[s] = 6.0f * (float)(s + 1);
	dc.noise_k = 0.0f;
	dc.min_response_kpa = 0.75f;
	dc.edge_ratio = 0.0f;
	dc.midline_half_width_mm = 0.0f;
	dc.landmark_excess = 0.0f;
	dc.support_sigmas = 0.0f;
	dc.min_separation_mm = 0.0f;
	dc.max_candidates = 1024;
	dc.per_scale_nms = per_scale;
	km_detect *d = NULL;
	cr_assert_eq(km_detect_create(&dc, &d), KM_OK);
	cr_assert_not_null(km__detect_set_isa(d, isa));
	unsigned seed = 99u + (unsigned)(2 * periodic + per_scale);
	for (int frame = 0; frame < 40; frame++) {
		float q = frame % 2 ? 1.0f : 0.25f; /* coarse steps: plateaus */
		for (int i = 0; i < NS * NR * NC; i++)
			stack[i] = q * floorf((float)(lcg(&seed) % 400) * 0.01f / q) - 1.0f;
		for (int i = 0; i < NR * NC; i++)
			kpa[i] = (float)(lcg(&seed) % 50) * 0.1f;
		struct km_detect_result res;
		cr_assert_eq(km_detect_execute(d, stack, kpa, NULL, &res), KM_OK);
		size_t want = 0, want_masked = 0;
		for (int s = 0; s < NS; s++)
			for (int r = 1; r < NR - 1; r++)
				for (int c = periodic ? 0 : 1; c < (periodic ? NC : NC - 1); c++) {
					float v = stack[(s * NR + r) * NC + c];
					if (!(v > 0.75f))
						continue;
					int is_max = 1;
					for (int ds = per_scale ? 0 : -1; ds <= (per_scale ? 0 : 1);
					     ds++)
						for (int dr = -1; dr <= 1; dr++)
							for (int dk = -1; dk <= 1; dk++) {
								int ss = s + ds,
								    cc = (c + dk + NC) % NC;
								if ((!ds && !dr && !dk) || ss < 0 ||
								    ss >= NS)
									continue;
								float w =
								    stack[(ss * NR + r + dr) * NC +
								          cc];
								int earlier =
								    ds < 0 ||
								    (!ds &&
								     (dr < 0 || (!dr && dk < 0)));
								if (earlier ? !(v > w) : !(v >= w))
									is_max = 0;
							}
					if (!is_max)
						continue;
					if (per_scale && s == NS - 1) {
						/* the guard band: counted as masked */
						want_masked++;
						continue;
					}
					want++;
					int found = 0;
					for (size_t j = 0; j < res.count; j++)
						found |= res.candidates[j].row == r &&
						         res.candidates[j].col == c &&
						         res.candidates[j].scale_index == s;
					cr_assert(found, "frame %d: maximum s %d r %d c %d missing",
					          frame, s, r, c);
				}
		cr_assert_eq(res.count, want, "frame %d: %zu candidates, %zu maxima", frame,
		             res.count, want);
		cr_assert_eq(res.masked, want_masked);
	}
	km_detect_destroy(d);
}

Test(detect, pruned_nms_matches_brute_force)
{
	for (int isa = KM_ISA_PORTABLE; isa <= KM_ISA_AVX512; isa++)
		for (int periodic = 0; periodic < 2; periodic++)
			for (int per_scale = 0; per_scale < 2; per_scale++)
				brute_nms(periodic, per_scale, (enum km__isa)isa);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static float sorted_median(float *a, size_t n)
{
	qsort(a, n, sizeof *a, cmp_float);
	return n % 2 ? a[n / 2] : 0.5f * (a[n / 2] + a[n / 2 - 1]);
}

/* Every cell loaded: a cell's distance to the unloaded outside is
 * min(r + 1, rows - r) (and the columns' on a flat mat); the noise SD must be
 * exactly 1.4826 x the MAD of the layer over the cells >= k inside, halving k
 * below 32 cells, computed here by sorting. */
Test(detect, noise_mad_matches_sorted_reference)
{
	enum { NR = 41, NC = 70, NS = 3 };
	static float stack[NS * NR * NC], kpa[NR * NC], vals[NR * NC];
	for (int pi = 0; pi < 6; pi++) {
		int periodic = pi % 2;
		enum km__isa isa = (enum km__isa)(pi / 2);
		struct km_detect_config dc = km_detect_config_default();
		dc.rows = NR;
		dc.cols = NC;
		dc.pitch_mm = 5.0f;
		dc.geometry = periodic ? KM_GEOMETRY_CYLINDER : KM_GEOMETRY_FLAT;
		dc.n_scales = NS;
		dc.scale_mm[0] = 3.0f;
		dc.scale_mm[1] = 9.0f;
		dc.scale_mm[2] = 40.0f; /* k = 38: too few cells, halved */
		km_detect *d = NULL;
		cr_assert_eq(km_detect_create(&dc, &d), KM_OK);
		cr_assert_not_null(km__detect_set_isa(d, isa));
		unsigned seed = 5u + (unsigned)periodic;
		for (int frame = 0; frame < 6; frame++) {
			for (int i = 0; i < NS * NR * NC; i++)
				stack[i] = (float)((int)(lcg(&seed) % 2001) - 1000) * 0.003f *
				           (frame % 3 ? 1.0f : (float)(i % 7));
			for (int i = 0; i < NR * NC; i++)
				kpa[i] = 5.0f;
			struct km_detect_result res;
			km_detect_reset(d); /* this frame's estimate, not smoothed */
			cr_assert_eq(km_detect_execute(d, stack, kpa, NULL, &res), KM_OK);
			for (int s = 0; s < NS; s++) {
				long k = lroundf(3.0f * dc.ratio * dc.scale_mm[s] / dc.pitch_mm);
				size_t n = 0;
				for (k = k < 1 ? 1 : k;; k /= 2) {
					n = 0;
					for (int r = 0; r < NR; r++)
						for (int c = 0; c < NC; c++) {
							int dist = r + 1 < NR - r ? r + 1 : NR - r;
							int dc2 = c + 1 < NC - c ? c + 1 : NC - c;
							if (!periodic && dc2 < dist)
								dist = dc2;
							if (dist >= k)
								vals[n++] =
								    stack[(s * NR + r) * NC + c];
						}
					if (n >= 32 || k <= 1)
						break;
				}
				float med = sorted_median(vals, n);
				for (size_t i = 0; i < n; i++)
					vals[i] = fabsf(vals[i] - med);
				float want = 1.4826f * sorted_median(vals, n);
				cr_assert_eq(res.noise_sd_kpa[s], want,
				             "periodic %d frame %d s %d: %g != %g", periodic, frame,
				             s, (double)res.noise_sd_kpa[s], (double)want);
			}
		}
		km_detect_destroy(d);
	}
}

/* Values that stress the scans: quantised (ties), NaN, infinities, signed
 * zeros, subnormals. */
static float odd_value(unsigned *seed)
{
	unsigned k = lcg(seed) % 64;
	if (k == 0)
		return NAN;
	if (k == 1)
		return INFINITY;
	if (k == 2)
		return -INFINITY;
	if (k == 3)
		return -0.0f;
	if (k == 4)
		return 1e-40f * (float)(lcg(seed) % 3);
	return (float)((int)(lcg(seed) % 40) - 15) * 0.25f;
}

static int ref_hit(const struct km__scan_row *a, int c)
{
	int n = a->cols;
	float v = a->m[c];
	if (!(v > a->weak))
		return 0;
	if (a->bg) {
		float b = a->bg[c] > 0.0f ? a->bg[c] : 0.0f;
		float need = a->mc * b;
		if (!(v > a->wf * need))
			return 0;
	}
	if (a->nms) {
		int cl = (c + n - 1) % n, cr = (c + 1) % n;
		if (!(v > a->m[cl] && v > a->u[cl] && v > a->u[c] && v > a->u[cr]))
			return 0;
	}
	return 1;
}

/* Every version of the row scans (as far as this CPU runs them) against
 * plain per-cell references, on rows of every length around the vector
 * widths; the rows sit at the ends of exactly sized buffers. */
Test(detect, scan_ops_match_reference)
{
	static const int lens[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 130, 200};
	unsigned seed = 7u;
	for (int isa = KM_ISA_PORTABLE; isa <= KM_ISA_AVX512; isa++) {
		const struct km__detect_ops *ops = km__detect_ops((enum km__isa)isa);
		cr_assert_not_null(ops);
		for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
			int n = lens[li], words = (n + 63) / 64;
			float *ub = malloc(2 * (size_t)n * sizeof(float)); /* u, then m */
			float *bg = malloc((size_t)n * sizeof(float));
			float *band = malloc(((size_t)n + 16) * sizeof(float));
			cr_assert(ub && bg && band);
			for (int t = 0; t < 60; t++) {
				for (int i = 0; i < 2 * n; i++)
					ub[i] = odd_value(&seed);
				for (int i = 0; i < n; i++)
					bg[i] = odd_value(&seed) * 4.0f;
				struct km__scan_row a;
				memset(&a, 0, sizeof a);
				a.u = ub;
				a.m = ub + n;
				a.cols = n;
				a.weak = (float)((int)(lcg(&seed) % 16) - 8) * 0.25f;
				a.nms = t % 2;
				if (t % 4 >= 2) {
					a.bg = bg;
					a.mc = 0.05f * (float)(1 + t % 3);
					a.wf = t % 3 ? 0.5f : 1.0f;
				}
				uint64_t got[4], want[4] = {0};
				memset(got, 0xa5, sizeof got);
				ops->row_hits(&a, got);
				for (int c = 0; c < n; c++)
					want[c / 64] |= (uint64_t)ref_hit(&a, c) << (c % 64);
				for (int w = 0; w < words; w++)
					cr_assert_eq(got[w], want[w],
					             "%s row_hits n %d t %d word %d: %llx != %llx",
					             ops->name, n, t, w, (unsigned long long)got[w],
					             (unsigned long long)want[w]);
				memset(got, 0xa5, sizeof got);
				memset(want, 0, sizeof want);
				ops->gt_bits(a.m, n, a.weak, got);
				for (int c = 0; c < n; c++)
					want[c / 64] |= (uint64_t)(a.m[c] > a.weak) << (c % 64);
				for (int w = 0; w < words; w++)
					cr_assert_eq(got[w], want[w], "%s gt_bits n %d t %d",
					             ops->name, n, t);
				/* band: finite values only (the caller's contract) */
				float lo = (float)((int)(lcg(&seed) % 20) - 10) * 0.25f;
				float hi = lo + (float)(lcg(&seed) % 12) * 0.25f;
				for (int i = 0; i < n; i++)
					if (!isfinite(a.m[i]))
						ub[n + i] = 1.5f;
				size_t lt = 99, nb = ops->band(a.m, (size_t)n, lo, hi, band, &lt);
				size_t wl = 0, wn = 0;
				for (int i = 0; i < n; i++) {
					float x = a.m[i];
					wl += x < lo;
					if (x >= lo && x <= hi) {
						cr_assert(wn < nb &&
						              !memcmp(&band[wn], &x, sizeof x),
						          "%s band n %d t %d at %zu", ops->name, n,
						          t, wn);
						wn++;
					}
				}
				cr_assert_eq(nb, wn, "%s band count n %d", ops->name, n);
				cr_assert_eq(lt, wl, "%s band below n %d", ops->name, n);
			}
			free(ub);
			free(bg);
			free(band);
		}
	}
}

static void run_isa(km_detect *d, enum km__isa isa, const float *stack, const float *kpa,
                    const float *bg, const float *sd, unsigned ns, struct km_detect_result *res)
{
	km__detect_set_isa(d, isa);
	if (sd)
		cr_assert_eq(km_detect_set_noise(d, sd, ns), KM_OK);
	cr_assert_eq(km_detect_execute(d, stack, kpa, bg, res), KM_OK);
}

/* Whole frames through every version: the same bits in every result field,
 * with the thresholds, contrast test, weak candidates, cylinder seam, MAD
 * and external noise all in play. */
Test(detect, isas_give_identical_results)
{
	enum { NS = 4 };
	static const int dims[][2] = {{20, 70}, {33, 130}, {9, 5}, {16, 64}};
	unsigned seed = 4242u;
	for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
		for (int mode = 0; mode < 6; mode++) {
			int nr = dims[di][0], nc = dims[di][1], cells = nr * nc;
			struct km_detect_config dc = km_detect_config_default();
			dc.rows = (uint16_t)nr;
			dc.cols = (uint16_t)nc;
			dc.pitch_mm = 7.5f;
			dc.geometry = mode % 2 ? KM_GEOMETRY_CYLINDER : KM_GEOMETRY_FLAT;
			dc.n_scales = NS;
			for (int s = 0; s < NS; s++)
				dc.scale_mm[s] = 5.0f * (float)(s + 1);
			dc.max_candidates = 16;
			dc.min_response_kpa = 0.5f;
			dc.outline_min_cells = 4;
			dc.outline_min_area_cm2 = 1.0f;
			if (mode / 2 == 1) {
				dc.weak_fraction = 0.5f;
				dc.min_contrast = 0.05f;
				dc.per_scale_nms = 1;
				dc.max_scale_growth = 1.5f;
				dc.midline_mode = KM_DETECT_MASK_LABEL;
				dc.landmark_mode = KM_DETECT_MASK_LABEL;
				dc.noise_frames = 3;
			} else if (mode / 2 == 2) {
				dc.noise_k = 0.0f;
				dc.edge_ratio = 0.0f;
				dc.support_sigmas = 0.0f;
				dc.min_separation_mm = 0.0f;
			}
			km_detect *a = NULL, *b = NULL;
			cr_assert_eq(km_detect_create(&dc, &a), KM_OK);
			cr_assert_eq(km_detect_create(&dc, &b), KM_OK);
			float *stack = malloc((size_t)(NS * cells) * sizeof(float));
			float *kpa = malloc((size_t)cells * sizeof(float));
			float *bgm = malloc((size_t)cells * sizeof(float));
			cr_assert(stack && kpa && bgm);
			for (int frame = 0; frame < 12; frame++) {
				for (int i = 0; i < NS * cells; i++)
					stack[i] = frame == 5 ? odd_value(&seed)
					                      : (float)(lcg(&seed) % 300) * 0.01f *
					                            (frame % 3 ? 1.0f : 2.0f);
				for (int i = 0; i < cells; i++) {
					int r = i / nc, c = i % nc;
					kpa[i] = r > 0 && r + 1 < nr && c > frame % 3 && c + 1 < nc
					             ? 2.0f + (float)(lcg(&seed) % 100) * 0.05f
					             : 0.0f;
					bgm[i] = (float)((int)(lcg(&seed) % 200) - 20) * 0.1f;
				}
				float sd[NS];
				for (int s = 0; s < NS; s++)
					sd[s] = 0.1f + 0.05f * (float)s;
				const float *ext = mode / 2 == 1 && frame % 2 ? sd : NULL;
				const float *bg = mode / 2 == 2 ? NULL : bgm;
				struct km_detect_result ra, rb;
				run_isa(a, KM_ISA_PORTABLE, stack, kpa, bg, ext, NS, &ra);
				run_isa(b, KM_ISA_AVX512, stack, kpa, bg, ext, NS, &rb);
				if (ext) { /* back to the own estimate for the next frame */
					km_detect_set_noise(a, NULL, 0);
					km_detect_set_noise(b, NULL, 0);
				}
				cr_assert_eq(ra.count, rb.count, "dims %zu mode %d frame %d", di,
				             mode, frame);
				cr_assert_eq(ra.over_cap, rb.over_cap);
				cr_assert_eq(ra.masked, rb.masked);
				cr_assert(!memcmp(ra.noise_sd_kpa, rb.noise_sd_kpa,
				                  sizeof ra.noise_sd_kpa));
				cr_assert(!memcmp(ra.candidates, rb.candidates,
				                  ra.count * sizeof *ra.candidates),
				          "dims %zu mode %d frame %d: candidates differ", di, mode,
				          frame);
				cr_assert_eq(ra.outline->found, rb.outline->found);
				cr_assert_eq(ra.outline->loaded_cells, rb.outline->loaded_cells);
				cr_assert(!memcmp(&ra.outline->midline_x_mm,
				                  &rb.outline->midline_x_mm, 5 * sizeof(float)));
				cr_assert(!memcmp(ra.outline->row_left_mm, rb.outline->row_left_mm,
				                  (size_t)nr * sizeof(float)));
				cr_assert(!memcmp(ra.outline->row_right_mm,
				                  rb.outline->row_right_mm,
				                  (size_t)nr * sizeof(float)));
			}
			free(stack);
			free(kpa);
			free(bgm);
			km_detect_destroy(a);
			km_detect_destroy(b);
		}
}

static void mirror_on(struct km_detect_config *c)
{
	c->landmark_excess = 0.0f;
	c->mirror_fraction = 1.0f;
	c->mirror_mode = KM_DETECT_MASK_LABEL;
}

static void mirror_off(struct km_detect_config *c)
{
	c->landmark_excess = 0.0f;
}

Test(detect, mirror_evidence_pairs_anatomy_not_a_one_sided_knot)
{
	/* A back (columns 2..46, midline 122.5 mm) with a pair of shoulder-
	 * blade-like bumps at 122.5 -+ 60 mm (the right one 20 % stronger: a
	 * body is not exactly symmetric) and a one-sided knot at 122.5 + 55 mm
	 * lower down. Without mirror evidence all three are spots; with it only
	 * the knot is unpaired. */
	for (int on = 0; on <= 1; on++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, on ? mirror_on : mirror_off);
		g.masked = 1;
		plateau(g.in, 2, 47, 20.0f);
		add_bump(g.in, 62.5, 60, 9, 5.0, 0);
		add_bump(g.in, 182.5, 60, 9, 6.0, 0);
		add_bump(g.in, 177.5, 170, 9, 5.0, 0);
		rig_run(&g);
		int knot = 0, blades = 0, paired = 0;
		for (size_t i = 0; i < g.res.count; i++) {
			const struct km_candidate *k = &g.res.candidates[i];
			bool is_knot = fabsf(k->y_mm - 170.0f) < 10.0f;
			knot += is_knot;
			blades += !is_knot;
			if (k->flags & KM_CANDIDATE_PAIRED) {
				paired++;
				cr_expect_not(is_knot, "the one-sided knot was called paired");
			}
		}
		cr_expect_eq(knot, 1, "mirror %d: knot found %d times", on, knot);
		cr_expect_eq(blades, 2, "mirror %d: %d blade spots", on, blades);
		cr_expect_eq(paired, on ? 2 : 0, "mirror %d: %d paired", on, paired);
		rig_free(&g);
	}
}

static void textured(struct km_detect_config *c)
{
	relative(c);
	c->texture_k = 2.5f;
	c->min_response_kpa = 0.05f;
}

/* A 10 kPa plateau, times a static cell gain 1 + g u (u uniform in [-1, 1],
 * fixed seed: an uneven sensel gain), with a bump of `amp` at (120, 120). */
static void textured_map(struct rig *g, float gain, double amp)
{
	plateau(g->in, 0, C, 10.0f);
	add_bump(g->in, 120, 120, 10, amp, 0);
	uint32_t s = 12345u;
	for (int i = 0; i < CELLS; i++) {
		s = s * 1664525u + 1013904223u;
		float u = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
		g->in[i] *= 1.0f + gain * u;
	}
}

Test(detect, texture_raises_the_contrast_bar_on_a_textured_map_only)
{
	/* The sensor noise is tiny (set as the pipeline does), so only the
	 * contrast rule stands between the texture and a crop of spots. */
	float sd[KM_BANDPASS_MAX_SCALES];
	for (int i = 0; i < KM_BANDPASS_MAX_SCALES; i++)
		sd[i] = 0.001f;
	size_t count[2][2]; /* [texture off/on][smooth/textured] */
	float tex[2] = {0};
	for (int on = 0; on <= 1; on++)
		for (int t = 0; t <= 1; t++) {
			struct rig g;
			rig_init(&g, KM_GEOMETRY_FLAT, textured);
			if (!on) {
				km_detect_destroy(g.det);
				g.dc.texture_k = 0.0f;
				cr_assert_eq(km_detect_create(&g.dc, &g.det), KM_OK);
			}
			g.masked = 1;
			cr_assert_eq(km_detect_set_noise(g.det, sd, g.dc.n_scales), KM_OK);
			/* +30 % at the centre: a knot */
			textured_map(&g, t ? 0.15f : 0.0f, 3.0);
			rig_run(&g);
			count[on][t] = g.res.count;
			if (on)
				tex[t] = g.res.texture_sd[0];
			else
				cr_expect_eq(g.res.texture_sd[0], 0.0f, "off: not measured");
			/* the knot stays found in every case */
			size_t near = unlabelled_near(&g, 120, 120, 10);
			cr_expect_eq(near, 1, "texture %d map %d: knot found %zu times", on, t,
			             near);
			rig_free(&g);
		}
	cr_expect_lt(tex[0], 0.01f, "smooth map: texture %g", (double)tex[0]);
	cr_log_info("texture: smooth %g, textured %g; spots %zu %zu / %zu %zu", (double)tex[0],
	            (double)tex[1], count[0][0], count[0][1], count[1][0], count[1][1]);
	cr_expect_gt(tex[1], 0.03f, "textured map: texture %g", (double)tex[1]);
	cr_expect_eq(count[0][0], 1, "smooth, texture off: %zu", count[0][0]);
	cr_expect_eq(count[1][0], 1, "smooth, texture on changes nothing: %zu", count[1][0]);
	cr_expect_gt(count[0][1], 3, "textured, off: texture makes spots (%zu)", count[0][1]);
	cr_expect_lt(count[1][1], count[0][1], "textured, on: fewer spots (%zu vs %zu)",
	             count[1][1], count[0][1]);
}

Test(detect, texture_is_remeasured_one_scale_every_texture_frames)
{
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, textured);
	km_detect_destroy(g.det);
	g.dc.texture_frames = 3;
	cr_assert_eq(km_detect_create(&g.dc, &g.det), KM_OK);
	g.masked = 1;
	textured_map(&g, 0.0f, 0.0);
	rig_run(&g); /* first frame: every scale, smooth */
	float t0 = g.res.texture_sd[0];
	memset(g.in, 0, sizeof g.in);
	textured_map(&g, 0.15f, 0.0);
	rig_run(&g); /* frames 2, 3: no update */
	rig_run(&g);
	cr_expect_eq(g.res.texture_sd[0], t0);
	rig_run(&g); /* frame 4: scale 0 */
	cr_expect_gt(g.res.texture_sd[0], t0 + 0.02f);
	cr_expect_eq(g.res.texture_sd[1], g.res.texture_sd[1]); /* finite */
	float t1 = g.res.texture_sd[1];
	km_detect_reset(g.det);
	rig_run(&g); /* after reset: every scale again */
	cr_expect_neq(g.res.texture_sd[1], t1);
	rig_free(&g);
}

/* A lying body seen from below at 5 mm: a trunk (columns 12..35, rows
 * 6..33, the midline lifted off the mat at rows 24..25 as a lumbar curve
 * does), an arm each side (columns 2..6 and 41..45, a gap to the trunk),
 * a narrow head and two legs (rows 35..47, the midline unloaded between
 * them). */
static void lying_body(float *in)
{
	memset(in, 0, CELLS * sizeof(float));
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			bool trunk = r >= 6 && r <= 33 && c >= 12 && c <= 35 &&
			             !(r >= 24 && r <= 25 && c >= 21 && c <= 26);
			bool arm = r >= 8 && r <= 31 && ((c >= 2 && c <= 6) || (c >= 41 && c <= 45));
			bool head = r <= 4 && c >= 20 && c <= 27;
			bool leg = r >= 35 && ((c >= 13 && c <= 20) || (c >= 27 && c <= 34));
			if (trunk || arm || head || leg)
				in[r * C + c] = 10.0f;
		}
}

/* A small body on the rig's 24 x 24 cm grid: an outline from 100 cm^2. */
static void small_body(struct km_detect_config *c)
{
	no_landmark(c);
	c->outline_min_area_cm2 = 100.0f;
}

Test(detect, trunk_only_keeps_the_back_and_drops_arms_and_legs)
{
	/* Equal bumps on the back (one beside the lumbar gap), an arm and a
	 * leg; with the trunk gate only the two on the back remain. */
	const double bx[4] = {150, 147.5, 22.5, 82.5}, by[4] = {80, 127.5, 100, 205};
	for (int on = 0; on <= 1; on++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, small_body);
		g.masked = 1;
		cr_assert_eq(km_detect_set_trunk_only(g.det, on), KM_OK);
		lying_body(g.in);
		for (int i = 0; i < 4; i++)
			add_bump(g.in, bx[i], by[i], 6, 4.0, 0);
		rig_run(&g);
		int hit[4] = {0};
		for (size_t j = 0; j < g.res.count; j++)
			for (int i = 0; i < 4; i++)
				hit[i] += hypot(g.res.candidates[j].x_mm - bx[i],
				                g.res.candidates[j].y_mm - by[i]) < 7.5;
		cr_expect_eq(hit[0], 1, "gate %d: back knot found %d times", on, hit[0]);
		cr_expect_eq(hit[1], 1, "gate %d: knot by the lumbar gap found %d times", on,
		             hit[1]);
		cr_expect_eq(hit[2], on ? 0 : 1, "gate %d: arm bump found %d times", on, hit[2]);
		cr_expect_eq(hit[3], on ? 0 : 1, "gate %d: leg bump found %d times", on, hit[3]);
		rig_free(&g);
	}
	cr_expect_eq(km_detect_set_trunk_only(NULL, true), KM_ERR_INVALID_ARG);
}

static void three_per_scale(struct km_detect_config *c)
{
	no_landmark(c);
	c->per_scale_nms = true;
	c->max_candidates = 3;
}

Test(detect, cap_counts_spots_not_their_duplicates_across_scales)
{
	/* A strong spot is a maximum at several scales (duplicates merged by
	 * min_separation_mm); with room for three, a weaker second spot must
	 * still be listed (capping before the merge filled the list with the
	 * strong spot's duplicates). */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, three_per_scale);
	plateau(g.in, 0, C, 10.0f);
	add_bump(g.in, 80, 80, 9, 8.0, 0);
	add_bump(g.in, 170, 160, 9, 3.0, 0);
	rig_run(&g);
	int strong = 0, weak = 0;
	for (size_t i = 0; i < g.res.count; i++) {
		strong += hypotf(g.res.candidates[i].x_mm - 80, g.res.candidates[i].y_mm - 80) < 10;
		weak += hypotf(g.res.candidates[i].x_mm - 170, g.res.candidates[i].y_mm - 160) < 10;
	}
	cr_expect_eq(strong, 1, "strong spot listed %d times", strong);
	cr_expect_eq(weak, 1, "weaker spot listed %d times (of %zu)", weak, g.res.count);
	rig_free(&g);
}

Test(detect, a_twin_stronger_than_the_spot_still_pairs_it)
{
	/* Paired bumps at 122.5 -+ 40 mm; the right one carries a knot that
	 * makes it 2.5 x as strong. The left one is anatomy with a twin (the
	 * twin's extra is the knot's, not its own): paired. The right one keeps
	 * an excess over its twin: a spot. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, mirror_on);
	g.masked = 1;
	plateau(g.in, 2, 47, 20.0f);
	add_bump(g.in, 82.5, 100, 8, 4.0, 0);
	add_bump(g.in, 162.5, 100, 8, 4.0, 0);
	add_bump(g.in, 162.5, 100, 8, 6.0, 0);
	rig_run(&g);
	int left = -1, right = -1;
	for (size_t i = 0; i < g.res.count; i++) {
		const struct km_candidate *k = &g.res.candidates[i];
		if (fabsf(k->y_mm - 100.0f) > 8.0f)
			continue;
		if (fabsf(k->x_mm - 82.5f) < 8.0f)
			left = (k->flags & KM_CANDIDATE_PAIRED) != 0;
		if (fabsf(k->x_mm - 162.5f) < 8.0f)
			right = (k->flags & KM_CANDIDATE_PAIRED) != 0;
	}
	cr_expect_eq(left, 1, "the left bump (twin 2.5 x stronger): paired flag %d", left);
	cr_expect_eq(right, 0, "the bump with the knot: paired flag %d", right);
	rig_free(&g);
}

Test(detect, midline_follows_a_body_lying_turned_on_the_mat)
{
	/* A back 30 cells wide turned by 5 degrees: each row's loaded run
	 * shifts 0.0875 mm per mm down the mat. The fitted midline follows it
	 * (a vertical line would be 10 mm off at the top and bottom), and a
	 * pair of bumps mirrored about the turned midline is paired. */
	struct rig g;
	rig_init(&g, KM_GEOMETRY_FLAT, mirror_on);
	g.masked = 1;
	const double slope = tan(5.0 * 3.14159265358979 / 180.0);
	for (int r = 0; r < R; r++) {
		double mid = 110.0 + slope * ((r + 0.5) * PITCH - 120.0);
		for (int c = 0; c < C; c++) {
			double x = (c + 0.5) * PITCH;
			if (fabs(x - mid) < 75.0)
				g.in[r * C + c] = 20.0f;
		}
	}
	/* twins 40 mm either side of the midline at y = 40 mm (mid 103 mm) */
	double mid40 = 110.0 + slope * (40.0 - 120.0);
	add_bump(g.in, mid40 - 40.0, 40.0, 8, 4.0, 0);
	add_bump(g.in, mid40 + 40.0, 40.0, 8, 4.2, 0);
	rig_run(&g);
	const struct km_body_outline *o = g.res.outline;
	cr_assert(o->found);
	cr_expect(fabsf(o->midline_slope - (float)slope) < 0.02f, "slope %g, want %g",
	          (double)o->midline_slope, slope);
	for (double y = 20.0; y <= 220.0; y += 100.0) {
		double want = 110.0 + slope * (y - 120.0);
		cr_expect(fabs(km_outline_midline_at(o, (float)y) - want) < 3.0,
		          "midline at y %g: %g, want %g", y, (double)km_outline_midline_at(o, (float)y),
		          want);
	}
	int twins = 0, paired = 0;
	for (size_t i = 0; i < g.res.count; i++) {
		const struct km_candidate *k = &g.res.candidates[i];
		if (fabsf(k->y_mm - 40.0f) < 8.0f && fabsf(fabsf(k->x_mm - (float)mid40) - 40.0f) < 8.0f) {
			twins++;
			paired += (k->flags & KM_CANDIDATE_PAIRED) != 0;
		}
	}
	cr_expect_eq(twins, 2, "%d of the twin bumps found", twins);
	cr_expect_eq(paired, 2, "%d of them paired", paired);
	rig_free(&g);
}

static void mirror_textured(struct km_detect_config *c)
{
	relative(c);
	c->texture_mirror_k = 3.0f;
	c->min_response_kpa = 0.05f;
}

Test(detect, mirror_texture_ignores_paired_anatomy_and_sees_uneven_gain)
{
	/* A smooth plateau with strong paired bumps (anatomy, symmetric about
	 * the midline at 120 mm): the texture the mirror image does not explain
	 * is ~0, the bar stays at the contrast floor and the one-sided knot is
	 * found. The same plateau with a 15 % sensel gain spread: that texture
	 * is measured, raises the bar and removes most of the spots it makes;
	 * the +30 % knot stays. */
	float sd[KM_BANDPASS_MAX_SCALES];
	for (int i = 0; i < KM_BANDPASS_MAX_SCALES; i++)
		sd[i] = 0.001f;
	float texm[2];
	size_t count[2][2]; /* [mirror texture off/on][smooth/textured] */
	for (int on = 0; on <= 1; on++)
		for (int t = 0; t <= 1; t++) {
			struct rig g;
			rig_init(&g, KM_GEOMETRY_FLAT, mirror_textured);
			if (!on) {
				km_detect_destroy(g.det);
				g.dc.texture_mirror_k = 0.0f;
				cr_assert_eq(km_detect_create(&g.dc, &g.det), KM_OK);
			}
			g.masked = 1;
			cr_assert_eq(km_detect_set_noise(g.det, sd, g.dc.n_scales), KM_OK);
			textured_map(&g, t ? 0.15f : 0.0f, 3.0);
			add_bump(g.in, 60, 60, 10, 8.0, 0);
			add_bump(g.in, 180, 60, 10, 8.0, 0);
			rig_run(&g);
			count[on][t] = g.res.count;
			if (on)
				texm[t] = g.res.texture_mirror_sd[0];
			size_t near = unlabelled_near(&g, 120, 120, 10);
			cr_expect_eq(near, 1, "mirror texture %d map %d: knot found %zu times", on, t,
			             near);
			rig_free(&g);
		}
	cr_expect_lt(texm[0], 0.01f, "symmetric smooth body: %g", (double)texm[0]);
	cr_expect_gt(texm[1], 0.03f, "uneven gain: %g", (double)texm[1]);
	cr_expect_eq(count[1][0], count[0][0], "smooth: the rule changes nothing (%zu vs %zu)",
	             count[1][0], count[0][0]);
	cr_expect_lt(count[1][1], count[0][1], "textured: fewer spots (%zu vs %zu)", count[1][1],
	             count[0][1]);
}

/* A flat rig on the normalised band-pass whose sensor noise is tiny (set
 * as the pipeline does): only the relative rules stand. */
static void quiet_rig(struct rig *g, void (*tweak)(struct km_detect_config *))
{
	float sd[KM_BANDPASS_MAX_SCALES];
	for (int i = 0; i < KM_BANDPASS_MAX_SCALES; i++)
		sd[i] = 0.001f;
	rig_init(g, KM_GEOMETRY_FLAT, tweak);
	g->masked = 1;
	cr_assert_eq(km_detect_set_noise(g->det, sd, g->dc.n_scales), KM_OK);
}

static void both_textures(struct km_detect_config *c)
{
	mirror_textured(c);
	c->texture_k = 0.6f;
}

Test(detect, no_body_no_mirror_texture)
{
	/* A tool's contact alone (225 cm^2, under the 300 cm^2 of a body) with
	 * a 15 % sensel gain spread: its plain texture is measured, but with no
	 * body there is no midline and no mirror image, so the texture the
	 * mirror does not explain is 0 (it stood in for the plain one, 3.5
	 * times over, and held back a roller's hold by seconds). */
	struct rig g;
	quiet_rig(&g, both_textures);
	uint32_t s = 777u;
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			s = s * 1664525u + 1013904223u;
			float u = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
			bool on = r >= 9 && r < 39 && c >= 9 && c < 39;
			g.in[r * C + c] = on ? 10.0f * (1.0f + 0.15f * u) : 0.0f;
		}
	rig_run(&g);
	cr_assert_not(g.res.outline->found, "a tool's contact is no body");
	cr_expect_gt(g.res.texture_sd[0], 0.01f, "plain texture measured: %g",
	             (double)g.res.texture_sd[0]);
	for (unsigned i = 0; i < g.dc.n_scales; i++)
		cr_expect_eq(g.res.texture_mirror_sd[i], 0.0f, "scale %u: %g", i,
		             (double)g.res.texture_mirror_sd[i]);
	rig_free(&g);
}

/* The floor can follow the body's load (the pipeline sets it from the
 * median loaded cell): a spot under the new floor is no longer reported,
 * and the setter refuses what is not a pressure. */
Test(detect, floor_set_at_run_time)
{
	struct rig g;
	quiet_rig(&g, relative);
	plateau(g.in, 0, C, 10.0f);
	add_bump(g.in, 60, 120, 10, 3.0, 0);
	rig_run(&g);
	cr_assert_eq(unlabelled_near(&g, 60, 120, 10), 1, "found under the config's floor");
	float v = 0.0f;
	for (size_t i = 0; i < g.res.count; i++)
		v = fmaxf(v, g.res.candidates[i].response_kpa);
	cr_assert_eq(km_detect_set_min_response(g.det, 1.5f * v), KM_OK);
	rig_run(&g);
	cr_expect_eq(unlabelled_near(&g, 60, 120, 10), 0, "a floor over its %.2f kPa", (double)v);
	cr_expect_eq(km_detect_set_min_response(g.det, NAN), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_set_min_response(g.det, -1.0f), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_detect_set_min_response(NULL, 1.0f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_detect_set_min_response(g.det, 0.0f), KM_OK);
	rig_run(&g);
	cr_expect_eq(unlabelled_near(&g, 60, 120, 10), 1, "back under a floor of 0");
	rig_free(&g);
}

static void mirror_12_5(struct km_detect_config *c)
{
	mirror_on(c);
	c->mirror_tol_mm = 12.5f; /* 2.5 cells of 5 mm */
}

Test(detect, mirror_window_stays_within_the_tolerance)
{
	/* A hand-made response stack over a back (columns 2..47, midline
	 * 122.5 mm): a spot 40 mm left of the midline, and on the right a
	 * stronger structure 2 or 3 cells (10 or 15 mm) below the spot's mirror
	 * image. The window holds the most whole cells within the 12.5 mm
	 * tolerance, two: the structure 10 mm off is the spot's twin (paired),
	 * the one 15 mm off is beyond it (rounding 2.5 to the nearest gave three
	 * cells and paired both). */
	for (int off = 2; off <= 3; off++) {
		struct rig g;
		rig_init(&g, KM_GEOMETRY_FLAT, mirror_12_5);
		plateau(g.in, 2, 48, 20.0f);
		const int s = 2, r = 20, cl = 16, cr = 32; /* x 82.5 and 162.5 mm */
		memset(g.stack, 0, sizeof g.stack);
		g.stack[s * CELLS + r * C + cl] = 3.0f;
		g.stack[s * CELLS + (r + off) * C + cr] = 6.0f;
		cr_assert_eq(km_detect_execute(g.det, g.stack, g.in, NULL, &g.res), KM_OK);
		int spot = -1;
		for (size_t i = 0; i < g.res.count; i++) {
			const struct km_candidate *k = &g.res.candidates[i];
			if (k->row == r && k->col == cl)
				spot = (k->flags & KM_CANDIDATE_PAIRED) != 0;
		}
		cr_expect_eq(spot, off == 2 ? 1 : 0, "structure %d cells off: paired flag %d", off,
		             spot);
		rig_free(&g);
	}
}
