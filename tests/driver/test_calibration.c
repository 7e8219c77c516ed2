/* Calibration: models, file format and its rejections, zeroing, creep. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/calibration.h"
#include "knotmap/protocol.h"
#include "knotmap/sim.h"

#define R 4
#define C 5
#define N (R * C)

static km_calibration *power_cal(struct km_calibration_config *cc)
{
	*cc = km_calibration_config_default(R, C);
	cc->creep_coeff = 0.0f;
	km_calibration *cal;
	cr_assert_eq(km_calibration_create(cc, &cal), KM_OK);
	float off[N], sc[N], ex[N];
	for (int i = 0; i < N; i++) {
		off[i] = 50.0f + (float)i;
		sc[i] = 60.0f + 0.5f * (float)i;
		ex[i] = 0.55f + 0.005f * (float)i;
	}
	cr_assert_eq(km_calibration_set_power_law(cal, off, sc, ex, N), KM_OK);
	return cal;
}

static uint16_t counts_for(int i, float p)
{
	float c = 50.0f + (float)i + (60.0f + 0.5f * (float)i) * powf(p, 0.55f + 0.005f * (float)i);
	return (uint16_t)lrintf(c);
}

static char *tmp_path(void)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/km-cal-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	return path;
}

static void write_file(const char *path, const uint8_t *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

Test(calibration, rejects_bad_config)
{
	km_calibration *cal = (void *)1;
	struct km_calibration_config cc = km_calibration_config_default(0, 4);
	cr_expect_eq(km_calibration_create(&cc, &cal), KM_ERR_SHAPE);
	cr_expect_null(cal);
	cc = km_calibration_config_default(4, 4);
	cc.zero_frames = 0;
	cr_expect_eq(km_calibration_create(&cc, &cal), KM_ERR_RANGE);
	cc = km_calibration_config_default(4, 4);
	cc.creep_tau_s = -1.0f;
	cr_expect_eq(km_calibration_create(&cc, &cal), KM_ERR_RANGE);
	cc = km_calibration_config_default(4, 4);
	cc.creep_coeff = NAN;
	cr_expect_eq(km_calibration_create(&cc, &cal), KM_ERR_RANGE);
	cr_expect_eq(km_calibration_create(NULL, &cal), KM_ERR_INVALID_ARG);
}

Test(calibration, power_law_inverts_the_sensor_curve)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	uint16_t raw[N];
	float kpa[N];
	const float p[] = {0.0f, 5.0f, 50.0f, 300.0f, 900.0f};
	for (size_t k = 0; k < KM_ARRAY_SIZE(p); k++) {
		for (int i = 0; i < N; i++)
			raw[i] = counts_for(i, p[k]);
		uint32_t flags = 0;
		cr_assert_eq(km_calibration_apply(cal, raw, 1000u * k, true, kpa, &flags), KM_OK);
		for (int i = 0; i < N; i++) {
			/* one count of rounding is worth a little near 0 kPa */
			cr_expect(fabsf(kpa[i] - p[k]) <= 0.02f * p[k] + 0.1f, "cell %d: %f vs %f",
			          i, (double)kpa[i], (double)p[k]);
			cr_expect(kpa[i] >= 0.0f);
		}
	}
	km_calibration_destroy(cal);
}

Test(calibration, saturation_is_flagged)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	uint16_t raw[N];
	float kpa[N];
	for (int i = 0; i < N; i++)
		raw[i] = 100;
	uint32_t flags = 0;
	km_calibration_apply(cal, raw, 0, false, kpa, &flags);
	cr_expect_eq(flags & KM_FRAME_SATURATED, 0);
	raw[3] = cc.max_counts;
	km_calibration_apply(cal, raw, 0, false, kpa, &flags);
	cr_expect(flags & KM_FRAME_SATURATED);
	km_calibration_destroy(cal);
}

Test(calibration, curve_interpolates_and_rejects_non_monotonic)
{
	struct km_calibration_config cc = km_calibration_config_default(R, C);
	cc.creep_coeff = 0.0f;
	km_calibration *cal;
	cr_assert_eq(km_calibration_create(&cc, &cal), KM_OK);
	float x[N * 3], y[N * 3];
	for (int i = 0; i < N; i++) {
		x[3 * i] = 100;
		x[3 * i + 1] = 1100;
		x[3 * i + 2] = 2100;
		y[3 * i] = 0;
		y[3 * i + 1] = 100;
		y[3 * i + 2] = 500;
	}
	cr_assert_eq(km_calibration_set_curve(cal, 3, x, y, N), KM_OK);
	cr_expect_eq(km_calibration_model(cal), KM_CAL_CURVE);
	uint16_t raw[N];
	float kpa[N];
	for (int i = 0; i < N; i++)
		raw[i] = (uint16_t)(i % 2 ? 600 : 1600);
	km_calibration_apply(cal, raw, 0, false, kpa, NULL);
	cr_expect_float_eq(kpa[1], 50.0f, 1e-3f);
	cr_expect_float_eq(kpa[0], 300.0f, 1e-3f);
	/* counts below the first point: clamped at 0 kPa */
	raw[1] = 10;
	km_calibration_apply(cal, raw, 0, false, kpa, NULL);
	cr_expect_eq(kpa[1], 0.0f);

	y[3 * 7 + 2] = 90; /* cell 7 falls back: not monotonic */
	cr_expect_eq(km_calibration_set_curve(cal, 3, x, y, N), KM_ERR_CALIBRATION);
	y[3 * 7 + 2] = 500;
	x[3 * 2 + 1] = 100; /* repeated counts */
	cr_expect_eq(km_calibration_set_curve(cal, 3, x, y, N), KM_ERR_CALIBRATION);
	cr_expect_eq(km_calibration_set_curve(cal, 1, x, y, N), KM_ERR_RANGE);
	cr_expect_eq(km_calibration_set_curve(cal, 3, x, y, N - 1), KM_ERR_SHAPE);
	km_calibration_destroy(cal);
}

Test(calibration, power_law_rejects_bad_values)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	float off[N] = {0}, sc[N], ex[N];
	for (int i = 0; i < N; i++) {
		sc[i] = 1.0f;
		ex[i] = 1.0f;
	}
	sc[5] = 0.0f;
	cr_expect_eq(km_calibration_set_power_law(cal, off, sc, ex, N), KM_ERR_CALIBRATION);
	sc[5] = 1.0f;
	ex[2] = NAN;
	cr_expect_eq(km_calibration_set_power_law(cal, off, sc, ex, N), KM_ERR_CALIBRATION);
	km_calibration_destroy(cal);
}

Test(calibration, file_round_trip)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	const char *path = tmp_path(); /* exists (mkstemp): only force replaces it */
	cr_assert_eq(km_calibration_save(cal, path, false), KM_ERR_EXISTS);
	cr_assert_eq(km_calibration_save(cal, path, true), KM_OK);
	km_calibration *back;
	cr_assert_eq(km_calibration_load(&cc, path, &back), KM_OK);
	uint16_t raw[N];
	float a[N], b[N];
	for (int i = 0; i < N; i++)
		raw[i] = (uint16_t)(300 + 37 * i);
	km_calibration_apply(cal, raw, 0, false, a, NULL);
	km_calibration_apply(back, raw, 0, false, b, NULL);
	cr_expect_arr_eq(a, b, sizeof a);
	km_calibration_destroy(back);
	km_calibration_destroy(cal);
	unlink(path);
}

Test(calibration, save_never_writes_through_a_link)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	char *victim = tmp_path();
	char link_path[80];
	snprintf(link_path, sizeof link_path, "%s.kmcal", victim);
	cr_assert_eq(symlink(victim, link_path), 0);
	cr_assert_eq(km_calibration_save(cal, link_path, true), KM_ERR_PERMISSION);
	struct stat st;
	cr_assert_eq(stat(victim, &st), 0);
	cr_expect_eq(st.st_size, 0, "the link's target was not written");
	unlink(link_path);
	unlink(victim);
	km_calibration_destroy(cal);
}

static uint8_t *serialize(km_calibration *cal, size_t *n)
{
	cr_assert_eq(km_calibration_serialize(cal, NULL, 0, n), KM_ERR_OVERFLOW);
	uint8_t *buf = malloc(*n);
	cr_assert_eq(km_calibration_serialize(cal, buf, *n, n), KM_OK);
	return buf;
}

static void reseal(uint8_t *buf, size_t n)
{
	km_put_le32(buf + n - 4, km_crc32c(0, buf, n - 4));
}

Test(calibration, wrong_files_are_rejected_with_the_reason)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc), *out = (void *)1;
	size_t n;
	uint8_t *buf = serialize(cal, &n);
	uint8_t *copy = malloc(n);
	const char *path = tmp_path();

	/* size: one byte short, one byte long */
	write_file(path, buf, n - 1);
	cr_expect_eq(km_calibration_load(&cc, path, &out), KM_ERR_TRUNCATED);
	cr_expect_null(out);
	memcpy(copy, buf, n);
	cr_expect_eq(km_calibration_parse(&cc, copy, n + 0, &out), KM_OK);
	km_calibration_destroy(out);
	uint8_t *longer = calloc(1, n + 1);
	memcpy(longer, buf, n);
	cr_expect_eq(km_calibration_parse(&cc, longer, n + 1, &out), KM_ERR_TRUNCATED);
	free(longer);

	/* checksum: one flipped bit in the body */
	memcpy(copy, buf, n);
	copy[40] ^= 0x10;
	write_file(path, copy, n);
	cr_expect_eq(km_calibration_load(&cc, path, &out), KM_ERR_BAD_CRC);

	/* magic and version */
	memcpy(copy, buf, n);
	copy[0] = 'X';
	cr_expect_eq(km_calibration_parse(&cc, copy, n, &out), KM_ERR_BAD_MAGIC);
	memcpy(copy, buf, n);
	copy[8] = 9;
	reseal(copy, n);
	cr_expect_eq(km_calibration_parse(&cc, copy, n, &out), KM_ERR_BAD_VERSION);

	/* a grid other than the mat's */
	struct km_calibration_config other = km_calibration_config_default(C, R);
	cr_expect_eq(km_calibration_parse(&other, buf, n, &out), KM_ERR_SHAPE);

	/* a valid checksum over a bad value (negative scale) */
	memcpy(copy, buf, n);
	float neg = -3.0f;
	uint32_t u;
	memcpy(&u, &neg, 4);
	km_put_le32(copy + 24 + 12 * 3 + 4, u);
	reseal(copy, n);
	cr_expect_eq(km_calibration_parse(&cc, copy, n, &out), KM_ERR_CALIBRATION);

	/* missing file */
	cr_expect_eq(km_calibration_load(&cc, "/nonexistent/knotmap.kmcal", &out),
	             KM_ERR_NOT_FOUND);
	/* garbage of every length up to the header never crashes */
	for (size_t len = 0; len < 40; len++)
		cr_expect_neq(km_calibration_parse(&cc, copy, len, &out), KM_OK);
	free(copy);
	free(buf);
	km_calibration_destroy(cal);
	unlink(path);
}

Test(calibration, non_monotonic_curve_file_is_rejected)
{
	struct km_calibration_config cc = km_calibration_config_default(R, C);
	km_calibration *cal, *out;
	cr_assert_eq(km_calibration_create(&cc, &cal), KM_OK);
	float x[N * 2], y[N * 2];
	for (int i = 0; i < N; i++) {
		x[2 * i] = 100;
		x[2 * i + 1] = 4000;
		y[2 * i] = 0;
		y[2 * i + 1] = 1000;
	}
	cr_assert_eq(km_calibration_set_curve(cal, 2, x, y, N), KM_OK);
	size_t n;
	uint8_t *buf = serialize(cal, &n);
	cr_expect_eq(km_calibration_parse(&cc, buf, n, &out), KM_OK);
	km_calibration_destroy(out);
	/* cell 3's kPa column: 1000 -> 0 (falls) */
	km_put_le32(buf + 24 + 3 * 16 + 12, 0);
	reseal(buf, n);
	cr_expect_eq(km_calibration_parse(&cc, buf, n, &out), KM_ERR_CALIBRATION);
	free(buf);
	km_calibration_destroy(cal);
}

Test(calibration, zero_measures_offsets_but_keeps_loaded_cells)
{
	struct km_calibration_config cc;
	km_calibration *cal = power_cal(&cc);
	uint16_t raw[N];
	float kpa[N];
	/* offsets drifted by +30 counts; cell 0 carries a real load meanwhile */
	for (int i = 0; i < N; i++)
		raw[i] = (uint16_t)(counts_for(i, 0.0f) + 30);
	raw[0] = counts_for(0, 200.0f);
	km_calibration_apply(cal, raw, 0, false, kpa, NULL);
	cr_expect(kpa[5] > 0.1f, "drift reads as load before zeroing");
	cr_assert_eq(km_calibration_zero(cal), KM_OK);
	for (unsigned f = 0; f < cc.zero_frames; f++) {
		cr_expect(km_calibration_zero_pending(cal));
		km_calibration_apply(cal, raw, f, false, kpa, NULL);
	}
	cr_expect(!km_calibration_zero_pending(cal));
	km_calibration_apply(cal, raw, 99, false, kpa, NULL);
	for (int i = 1; i < N; i++)
		cr_expect(kpa[i] < 0.05f, "cell %d reads %f after zero", i, (double)kpa[i]);
	/* the loaded cell was not turned into the new zero */
	cr_expect(fabsf(kpa[0] - 200.0f) < 4.0f, "held load erased: %f", (double)kpa[0]);
	cr_assert_eq(km_calibration_reset(cal), KM_OK);
	km_calibration_apply(cal, raw, 100, false, kpa, NULL);
	cr_expect(kpa[5] > 0.1f, "reset restores the factory offsets");
	km_calibration_destroy(cal);
}

Test(calibration, creep_correction_divides_out_log_time_creep)
{
	struct km_calibration_config cc = km_calibration_config_default(1, 1);
	km_calibration *cal;
	cr_assert_eq(km_calibration_create(&cc, &cal), KM_OK);
	/* identity model: counts = kPa; a 100 kPa load creeping as the model says */
	float k = cc.creep_coeff;
	float l = 0.0f, worst_on = 0.0f, worst_off = 0.0f;
	for (int f = 0; f <= 6000; f++) {
		uint64_t t = (uint64_t)f * 10000u;
		if (f > 0)
			l += 0.01f;
		float reading = 100.0f * (1.0f + k * log10f(1.0f + l / cc.creep_tau_s));
		uint16_t raw = (uint16_t)lrintf(reading);
		float on, off;
		km_calibration_apply(cal, &raw, t, true, &on, NULL);
		worst_on = fmaxf(worst_on, fabsf(on - 100.0f) / 100.0f);
		worst_off = fmaxf(worst_off, fabsf((float)raw - 100.0f) / 100.0f);
		(void)off;
	}
	cr_expect(worst_off > 0.15f, "the test load must creep (%f)", (double)worst_off);
	cr_expect(worst_on < 0.02f, "corrected error %f", (double)worst_on);
	km_calibration_destroy(cal);
}

/* Found by fuzz_calibration: a zero-load signal total of ~1e-41 counts made the
 * crosstalk factor overflow to inf and turned whole rows into NaN. */
Test(calibration, tiny_signal_with_crosstalk_never_gives_nan)
{
	struct km_calibration_config cfg = km_calibration_config_default(1, 2);
	cfg.crosstalk = 0.02f;
	km_calibration *cal;
	cr_assert_eq(km_calibration_create(&cfg, &cal), KM_OK);
	const float off[2] = {-2.4e-41f, 60}, sc[2] = {62, 62}, ex[2] = {0.6f, 0.6f};
	cr_assert_eq(km_calibration_set_power_law(cal, off, sc, ex, 2), KM_OK);
	const uint16_t raw[2] = {0, 0};
	float kpa[2] = {-1, -1};
	cr_assert_eq(km_calibration_apply(cal, raw, 0, false, kpa, NULL), KM_OK);
	for (int i = 0; i < 2; i++)
		cr_assert(isfinite(kpa[i]) && kpa[i] >= 0.0f, "cell %d reads %f", i, (double)kpa[i]);
	km_calibration_destroy(cal);
}

/* The virtual mat's own calibration, the one its sim transport uses, reads
 * the simulator's true pressure back from the counts; its creep and
 * hysteresis corrections matter: without them the error grows as the body
 * lies still. */
Test(calibration, for_sim_reads_the_true_pressure)
{
	struct km_sim_config sc = km_sim_config_default();
	sc.rows = 24;
	sc.cols = 20;
	sc.seed = 3;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&sc, &sim), KM_OK);
	struct km_calibration_config cc = km_calibration_config_default(sc.rows, sc.cols);
	cc.max_counts = (uint16_t)((1u << sc.adc_bits) - 1u);
	km_calibration *cal = NULL, *plain = NULL;
	cr_assert_eq(km_calibration_for_sim(NULL, &sc, &cc, &cal), KM_ERR_INVALID_ARG);
	cr_assert_null(cal);
	cr_assert_eq(km_calibration_for_sim(sim, &sc, &cc, &cal), KM_OK);
	cr_assert_eq(km_calibration_for_sim(sim, &sc, &cc, &plain), KM_OK);
	static float kpa[24 * 20], kpa_plain[24 * 20];
	double err = 0.0, err_plain = 0.0, ref = 0.0;
	for (int k = 0; k < 3000; k++) { /* 30 s lying still */
		struct km_sim_output so;
		cr_assert_eq(km_sim_step(sim, &so), KM_OK);
		cr_assert_eq(km_calibration_apply(cal, so.counts, so.time_us, true, kpa, NULL), KM_OK);
		cr_assert_eq(km_calibration_apply(plain, so.counts, so.time_us, false, kpa_plain, NULL),
		             KM_OK);
		for (size_t i = 0; k >= 2000 && i < KM_ARRAY_SIZE(kpa); i++)
			if (so.kpa[i] > 2.0f) {
				err += fabs((double)kpa[i] - so.kpa[i]);
				err_plain += fabs((double)kpa_plain[i] - so.kpa[i]);
				ref += so.kpa[i];
			}
	}
	cr_assert_gt(ref, 0.0, "the body loads the mat");
	cr_expect_lt(err / ref, 0.04, "mean error %.1f %% of the load", 100.0 * err / ref);
	cr_expect_lt(err, 0.5 * err_plain, "corrected %.3f, uncorrected %.3f", err / ref,
	             err_plain / ref);
	km_calibration_destroy(cal);
	km_calibration_destroy(plain);
	km_sim_destroy(sim);
}
