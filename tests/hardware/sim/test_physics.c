/* Virtual mat physics and sensor model: determinism, life cycle, the body,
 * knots, breathing, tensing, faults, commands. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"
#include "sim_test_util.h"

static struct km_sim_config small_cfg(void)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = 32;
	c.cols = 32;
	c.pitch_mm = 10;
	c.body_midline_x_mm = 160;
	c.body_vertex_y_mm = -150;
	return c;
}

static uint64_t counts_hash(const struct km_sim_output *o, uint64_t h)
{
	size_t n = (size_t)o->rows * o->cols;
	for (size_t i = 0; i < n; i++)
		h = (h ^ o->counts[i]) * 1099511628211ull;
	return h;
}

static uint64_t run_hash(const struct km_sim_config *c, int frames)
{
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(c, &sim), KM_OK);
	struct km_sim_output o;
	uint64_t h = 1469598103934665603ull;
	for (int f = 0; f < frames; f++) {
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		h = counts_hash(&o, h);
	}
	km_sim_destroy(sim);
	return h;
}

Test(physics, default_config_is_valid)
{
	struct km_sim_config c = km_sim_config_default();
	cr_assert_eq(km_sim_config_check(&c), KM_OK);
	cr_assert_eq(c.rows, 64);
	cr_assert_float_eq(c.rate_hz, 100.0f, 1e-6);
	cr_assert_eq(c.adc_bits, 12);
}

#define EXPECT_REJECT(field_stmt, code)                                                            \
	do {                                                                                       \
		struct km_sim_config c = small_cfg();                                              \
		field_stmt;                                                                        \
		km_sim *s = (km_sim *)0x1;                                                         \
		cr_assert_eq(km_sim_create(&c, &s), code, "%s", #field_stmt);                      \
		cr_assert_null(s, "%s", #field_stmt);                                              \
	} while (0)

Test(physics, create_rejects_bad_config)
{
	km_sim *sim = (km_sim *)0x1;
	struct km_sim_config ok = small_cfg();
	cr_assert_eq(km_sim_create(NULL, &sim), KM_ERR_INVALID_ARG);
	cr_assert_null(sim);
	cr_assert_eq(km_sim_create(&ok, NULL), KM_ERR_INVALID_ARG);
	EXPECT_REJECT(c.rows = 4, KM_ERR_SHAPE);
	EXPECT_REJECT(c.cols = 129, KM_ERR_SHAPE);
	EXPECT_REJECT(c.pitch_mm = 20, KM_ERR_RANGE);
	EXPECT_REJECT(c.pitch_mm = NAN, KM_ERR_RANGE);
	EXPECT_REJECT(c.rate_hz = 0, KM_ERR_RANGE);
	EXPECT_REJECT(c.geometry = (enum km_geometry)9, KM_ERR_INVALID_ARG);
	EXPECT_REJECT(c.tool = (enum km_sim_tool)9, KM_ERR_INVALID_ARG);
	EXPECT_REJECT(c.tool = KM_SIM_TOOL_ROLLER_DEVICE, KM_ERR_RANGE); /* needs a cylinder */
	EXPECT_REJECT(c.geometry = KM_GEOMETRY_CYLINDER, KM_ERR_RANGE);  /* body on a roller */
	EXPECT_REJECT((c.knot_count = 1, c.knots[0].radius_mm = 100), KM_ERR_RANGE);
	EXPECT_REJECT(c.knot_count = KM_SIM_MAX_KNOTS + 1, KM_ERR_RANGE);
	EXPECT_REJECT((c.step_count = 1, c.steps[0].duration_s = 0), KM_ERR_RANGE);
	EXPECT_REJECT(
	    (c.step_count = 1, c.steps[0].duration_s = 1, c.steps[0].move = (enum km_sim_move)7),
	    KM_ERR_INVALID_ARG);
	EXPECT_REJECT(c.adc_bits = 20, KM_ERR_RANGE);
	EXPECT_REJECT(c.dead_cells = 10000, KM_ERR_RANGE);
	EXPECT_REJECT((c.dead_row_count = 1, c.dead_rows[0] = 32), KM_ERR_RANGE);
	EXPECT_REJECT(c.breath_depth = -0.1f, KM_ERR_RANGE);
	EXPECT_REJECT((c.adc_bits = 16, c.encoding = 1), KM_ERR_RANGE); /* RAW12 > 12 bits */
}

Test(physics, same_seed_same_counts_other_seed_differs)
{
	struct km_sim_config c = small_cfg();
	c.seed = 42;
	uint64_t a = run_hash(&c, 60), b = run_hash(&c, 60);
	cr_assert_eq(a, b, "same seed must give identical counts");
	c.seed = 43;
	cr_assert_neq(run_hash(&c, 60), a, "another seed must give other counts");
}

Test(physics, reset_repeats_the_run)
{
	struct km_sim_config c = small_cfg();
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	uint64_t h1 = 1, h2 = 1;
	for (int f = 0; f < 40; f++) {
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		h1 = counts_hash(&o, h1);
	}
	cr_assert_eq(o.sequence, 39u);
	km_sim_reset(sim);
	cr_assert_eq(km_sim_current(sim, &o), KM_ERR_STATE);
	for (int f = 0; f < 40; f++) {
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		if (f == 0)
			cr_assert_eq(o.sequence, 0u);
		h2 = counts_hash(&o, h2);
	}
	cr_assert_eq(h1, h2);
	km_sim_destroy(sim);
	km_sim_destroy(NULL);
}

Test(physics, step_allocates_nothing)
{
	struct km_sim_config c = small_cfg();
	c.tool = KM_SIM_TOOL_TENNIS_BALL;
	c.knot_count = 1;
	c.knots[0] = (struct km_sim_knot){160, 100, 15, 30, 8, 20};
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	uint8_t *buf = malloc(km_sim_max_packet_bytes(sim));
	uint64_t before = km__alloc_count();
	for (int f = 0; f < 50; f++) {
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		size_t w;
		cr_assert_eq(km_sim_pack(sim, buf, km_sim_max_packet_bytes(sim), &w), KM_OK);
	}
	cr_assert_eq(km__alloc_count(), before, "allocations on the per-frame path");
	free(buf);
	km_sim_destroy(sim);
}

Test(physics, ideal_sensor_follows_its_curve)
{
	struct km_sim_config c = small_cfg();
	sim_test_ideal_sensor(&c);
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	for (int f = 0; f < 10; f++)
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
	size_t n = 32 * 32;
	float off[32 * 32], sc[32 * 32], ex[32 * 32];
	cr_assert_eq(km_sim_sensor_curve(sim, off, sc, ex, n - 1), KM_ERR_OVERFLOW);
	cr_assert_eq(km_sim_sensor_curve(sim, off, sc, ex, n), KM_OK);
	size_t loaded = 0;
	for (size_t i = 0; i < n; i++) {
		double want = off[i] + (o.kpa[i] > 1e-4f ? sc[i] * pow(o.kpa[i], ex[i]) : 0);
		want = fmin(fmax(want, 0), 4095);
		cr_assert(fabs((double)o.counts[i] - want) <= 1.0, "cell %zu: %u vs %.2f", i,
		          o.counts[i], want);
		loaded += o.kpa[i] > 1;
	}
	cr_assert_gt(loaded, 50u, "the body must load the grid");
	/* cells differ: per-cell variation of the response */
	cr_assert_neq(off[0], off[1]);
	cr_assert_neq(sc[0], sc[1]);
	km_sim_destroy(sim);
}

Test(physics, knot_raises_pressure_over_its_surroundings)
{
	/* flat patch of the upper back, knot between scapula and spine */
	struct km_sim_config c = km_sim_config_default();
	sim_test_ideal_sensor(&c);
	c.breath_depth = 0;
	c.knot_count = 1;
	c.knots[0] = (struct km_sim_knot){240 + 40, 250, 15, 30, 8, 0};
	km_sim *with = NULL, *without = NULL;
	cr_assert_eq(km_sim_create(&c, &with), KM_OK);
	c.knot_count = 0;
	cr_assert_eq(km_sim_create(&c, &without), KM_OK);
	struct km_sim_output a, b;
	for (int f = 0; f < 5; f++) {
		km_sim_step(with, &a);
		km_sim_step(without, &b);
	}
	int kr = (int)(250 / 7.5f), kc = (int)(280 / 7.5f);
	size_t ki = (size_t)kr * 64 + (size_t)kc;
	cr_assert(a.truth->knots[0].loaded);
	cr_assert_gt(a.kpa[ki], 1.0f, "knot must be under the body");
	double ratio = a.kpa[ki] / b.kpa[ki];
	/* excess at the surface: 30 % * (7.5^2 / (7.5^2 + 4^2)) ~ 23 % */
	cr_assert(ratio > 1.15 && ratio < 1.35, "ratio %.3f", ratio);
	/* and above a ring 4-6 cm away (relative to the same ring without it) */
	double ring_a = 0, ring_b = 0;
	for (int dr = -8; dr <= 8; dr++)
		for (int dc = -8; dc <= 8; dc++) {
			double d = sqrt(dr * dr + dc * dc) * 7.5;
			if (d < 40 || d > 60)
				continue;
			size_t i = (size_t)(kr + dr) * 64 + (size_t)(kc + dc);
			ring_a += a.kpa[i];
			ring_b += b.kpa[i];
		}
	cr_assert_lt(fabs(ring_a / ring_b - 1), 0.02, "the knot is local");
	/* and the counts show it too */
	cr_assert_gt(a.counts[ki], b.counts[ki] + 10);
	km_sim_destroy(with);
	km_sim_destroy(without);
}

Test(physics, breathing_frequency_shows_in_total_force)
{
	struct km_sim_config c = small_cfg();
	c.rate_hz = 10; /* enough for 0.1-0.5 Hz and fast */
	c.breath_hz = 0.3f;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	size_t n = 400; /* 40 s */
	double *f_true = calloc(n, sizeof(double)), *f_counts = calloc(n, sizeof(double));
	struct km_sim_output o;
	for (size_t i = 0; i < n; i++) {
		km_sim_step(sim, &o);
		f_true[i] = o.truth->total_force_n;
		f_counts[i] = sim_test_force_from_counts(sim, &o);
	}
	double pk = sim_test_peak_freq(f_true, n, 10, 0.1, 0.5);
	cr_assert(fabs(pk - 0.3) <= 0.026, "peak at %.3f Hz", pk);
	pk = sim_test_peak_freq(f_counts, n, 10, 0.1, 0.5);
	cr_assert(fabs(pk - 0.3) <= 0.026, "peak from counts at %.3f Hz", pk);
	free(f_true);
	free(f_counts);
	km_sim_destroy(sim);
}

Test(physics, tensing_raises_tremor_band_and_withdrawal_drops_force)
{
	struct km_sim_config c = small_cfg();
	c.tool = KM_SIM_TOOL_TENNIS_BALL;
	c.tensing_count = 1;
	c.tensing[0] = (struct km_sim_tensing){5.0f, 4.0f, true};
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	size_t n = 1100; /* 11 s at 100 Hz */
	double *f = calloc(n, sizeof(double));
	bool *tz = calloc(n, sizeof(bool));
	struct km_sim_output o;
	for (size_t i = 0; i < n; i++) {
		km_sim_step(sim, &o);
		f[i] = sim_test_force_from_counts(sim, &o);
		tz[i] = o.truth->tensing;
	}
	cr_assert(!tz[400] && tz[600] && !tz[1000]);
	/* 2 s windows: calm (2-4 s) vs tensing (5.5-7.5 s) */
	double calm = sim_test_band_power(f + 200, 200, 100, 8, 12);
	double tense = sim_test_band_power(f + 550, 200, 100, 8, 12);
	cr_assert_gt(tense, 4 * calm, "8-12 Hz power %.3g vs %.3g", tense, calm);
	double calm_b = sim_test_band_power(f + 200, 200, 100, 2, 4);
	double tense_b = sim_test_band_power(f + 550, 200, 100, 2, 4);
	cr_assert_gt(tense_b, 4 * calm_b, "2-4 Hz power %.3g vs %.3g", tense_b, calm_b);
	/* withdrawal at the end of the interval (t = 9 s): > 30 % within 1 s */
	double before = 0, after = 1e9;
	for (size_t i = 800; i < 850; i++)
		before += f[i] / 50;
	for (size_t i = 850; i < 950; i++)
		after = fmin(after, f[i]);
	cr_assert_lt(after, 0.7 * before, "drop %.1f -> %.1f N", before, after);
	free(f);
	free(tz);
	km_sim_destroy(sim);
}

Test(physics, faults_are_where_the_truth_says)
{
	struct km_sim_config c = small_cfg();
	c.dead_cells = 12;
	c.stuck_cells = 4;
	c.stuck_value = 3000;
	c.dead_row_count = 1;
	c.dead_rows[0] = 20;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	for (int f = 0; f < 5; f++)
		km_sim_step(sim, &o);
	const struct km_sim_truth *t = o.truth;
	cr_assert_eq(t->stuck_count, 4u);
	cr_assert_geq(t->dead_count, 32u); /* the row, plus random cells */
	cr_assert_leq(t->dead_count, 32u + 12u);
	size_t dead = 0, stuck = 0;
	for (size_t i = 0; i < 32 * 32; i++) {
		if (t->fault_map[i] == 1) {
			cr_assert_eq(o.counts[i], 0);
			dead++;
		} else if (t->fault_map[i] == 2) {
			cr_assert_eq(o.counts[i], 3000);
			stuck++;
		} else {
			cr_assert_gt(o.counts[i], 0, "healthy cells read their offset at least");
		}
	}
	cr_assert_eq(dead, t->dead_count);
	cr_assert_eq(stuck, t->stuck_count);
	for (size_t col = 0; col < 32; col++)
		cr_assert_eq(t->fault_map[20 * 32 + col], 1);
	km_sim_destroy(sim);
}

Test(physics, commands_like_the_firmware)
{
	struct km_sim_config c = small_cfg();
	c.start_running = false;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	cr_assert_not(km_sim_running(sim));
	cr_assert_eq(km_sim_step(sim, &o), KM_ERR_STATE);
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_START, 0), KM_OK);
	for (int f = 0; f < 5; f++)
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
	cr_assert_eq(o.sequence, 4u);
	uint64_t t_before = o.time_us;
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_STOP, 0), KM_OK);
	cr_assert_eq(km_sim_step(sim, &o), KM_ERR_STATE);
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_SET_RATE, 0), KM_ERR_RANGE);
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_SET_RATE, 1001), KM_ERR_RANGE);
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_SET_RATE, 50), KM_OK);
	cr_assert_float_eq(km_sim_rate(sim), 50.0f, 1e-6);
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_START, 0), KM_OK);
	cr_assert_eq(km_sim_step(sim, &o), KM_OK);
	cr_assert_eq(o.sequence, 0u, "START restarts the sequence");
	cr_assert_eq(km_sim_step(sim, &o), KM_OK);
	cr_assert_eq(o.sequence, 1u);
	cr_assert_gt(o.time_us, t_before, "the device clock never goes back");
	cr_assert_eq(km_sim_control(sim, (enum km_sim_command)99, 0), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_sim_control(NULL, KM_SIM_CMD_START, 0), KM_ERR_INVALID_ARG);
	km_sim_destroy(sim);
}

Test(physics, zero_subtracts_the_baseline)
{
	struct km_sim_config c = small_cfg();
	c.body = false;
	c.tool = KM_SIM_TOOL_TENNIS_BALL;
	c.step_count = 1;
	c.steps[0] = (struct km_sim_step){KM_SIM_MOVE_IDLE, 100, NAN, NAN, NAN};
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	km_sim_step(sim, &o);
	double raw_mean = 0;
	for (size_t i = 0; i < 32 * 32; i++)
		raw_mean += o.counts[i] / 1024.0;
	cr_assert_gt(raw_mean, 30, "unloaded cells read their offset");
	cr_assert_eq(km_sim_control(sim, KM_SIM_CMD_ZERO, 8), KM_OK);
	for (int f = 0; f < 8; f++)
		km_sim_step(sim, &o);
	cr_assert(km_sim_zeroed(sim));
	km_sim_step(sim, &o);
	double z_mean = 0;
	for (size_t i = 0; i < 32 * 32; i++)
		z_mean += o.counts[i] / 1024.0;
	cr_assert_lt(z_mean, 3, "zeroed unloaded cells read ~0 (got %.2f)", z_mean);
	km_sim_destroy(sim);
}

Test(physics, cylinder_wraps_across_the_seam)
{
	struct km_sim_config c = km_sim_config_default();
	sim_test_ideal_sensor(&c);
	c.rows = 48;
	c.cols = 64;
	c.pitch_mm = 7.36f;
	c.geometry = KM_GEOMETRY_CYLINDER;
	c.body = false;
	c.tool = KM_SIM_TOOL_ROLLER_DEVICE;
	c.tool_contact_cm2 = 68;
	c.tool_ref_force_n = 226;
	c.step_count = 1;
	/* the thigh contact sits on the seam at x = 0 (and the floor at C / 2) */
	c.steps[0] = (struct km_sim_step){KM_SIM_MOVE_HOLD, 100, 0, 176, 0.33f};
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	km_sim_step(sim, &o);
	size_t r = 24;
	cr_assert_gt(o.kpa[r * 64 + 0], 5.0f);
	cr_assert_gt(o.kpa[r * 64 + 63], 5.0f, "the contact continues across the seam");
	cr_assert_gt(o.kpa[r * 64 + 32], 5.0f, "the floor line half a turn away");
	cr_assert_lt(o.kpa[r * 64 + 16], 0.01f);
	/* force balance: floor = thigh + roller weight */
	double total = o.truth->total_force_n, thigh = o.truth->tool_force_n;
	cr_assert(fabs(total - (2 * thigh + 9.81)) < 0.05 * total, "%.1f vs %.1f", total, thigh);
	km_sim_destroy(sim);
}
