/* Real files made by other people's mats (<source>/../shared/data/vendor, MIT
 * licensed, kept there with their notice): read with no options, and the facts an
 * independent reader found (frames, grid, pitch, units, rate, sums, maxima)
 * come out. Skipped with a message when ../shared is absent (a fresh clone);
 * a failure when CI=true. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <math.h>

#include "knotmap/import.h"

static char vendor[4096];

static void setup(void)
{
	const char *src = getenv("KM_SOURCE_DIR");
	snprintf(vendor, sizeof vendor, "%s/../shared/data/vendor", src ? src : ".");
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/LICENSE.md", vendor);
	if (access(probe, R_OK) != 0) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing: CI must run the real-file tests", vendor);
		cr_skip_test("real vendor files not found at %s (../shared/data is not part of a "
		             "clone); skipped",
		             vendor);
	}
}

TestSuite(import_vendor, .init = setup, .timeout = 60);

struct totals {
	uint64_t frames;
	double sum_kpa, max_kpa;
	uint64_t first_us, last_us;
	bool masked_nonzero;
};

static km_import *open_vendor(const char *name, const char *sensor)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", vendor, name);
	struct km_import_config c = km_import_config_default();
	c.path = path;
	c.sensor = sensor;
	char detail[256] = "";
	c.detail = detail;
	c.detail_size = sizeof detail;
	km_import *r = NULL;
	int rc = km_import_create(&c, &r);
	cr_assert_eq(rc, KM_OK, "%s: %s (%s)", name, km_error_name(rc), detail);
	return r;
}

static struct totals read_all(km_import *r)
{
	const struct km_import_info *in = km_import_info(r);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(in->rows, in->cols, in->pitch_mm, KM_GEOMETRY_FLAT, &f), KM_OK);
	struct totals t = {0};
	int rc;
	size_t n = (size_t)in->rows * in->cols;
	while ((rc = km_import_next(r, f)) == KM_OK) {
		if (t.frames == 0)
			t.first_us = f->device_time_us;
		t.last_us = f->device_time_us;
		for (size_t i = 0; i < n; i++) {
			if (in->mask && !in->mask[i]) {
				t.masked_nonzero |= f->kpa[i] != 0.0f;
				continue;
			}
			t.sum_kpa += f->kpa[i];
			if (f->kpa[i] > t.max_kpa)
				t.max_kpa = f->kpa[i];
		}
		t.frames++;
	}
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert_eq(rc, KM_ERR_END, "%s", d.message);
	cr_assert(!d.damaged);
	km_frame_destroy(f);
	return t;
}

Test(import_vendor, tekscan_fscan_movie_reads_with_no_options)
{
	km_import *r = open_vendor("fscan_testL.asf", NULL);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_TEKSCAN);
	cr_assert_eq(in->rows, 60);
	cr_assert_eq(in->cols, 21);
	cr_assert_float_eq(in->row_pitch_mm, 5.08f, 1e-4);
	cr_assert_float_eq(in->col_pitch_mm, 5.08f, 1e-4);
	cr_assert_float_eq(in->pitch_mm, 5.08f, 1e-4);
	cr_assert_eq(in->pitch_from, KM_IMPORT_FROM_FILE);
	cr_assert_float_eq(in->rate_hz, 31.25f, 1e-3);
	cr_assert_eq(in->rate_from, KM_IMPORT_FROM_FILE);
	cr_assert_eq(in->units, KM_UNITS_KPA);
	cr_assert_eq(in->units_from, KM_IMPORT_FROM_FILE);
	/* B cells: the sensor outline, not zeros */
	cr_assert_not_null(in->mask);
	cr_assert_eq(in->mask_cells, 955);
	cr_assert_eq(in->mask[0], 0, "row 0 starts with B");
	cr_assert_eq(in->mask[9], 1);
	struct totals t = read_all(r);
	cr_assert_eq(t.frames, 205);
	cr_assert_float_eq(t.sum_kpa, 3154674.0, 0.5, "sum %.1f", t.sum_kpa);
	cr_assert_float_eq(t.max_kpa, 760.0, 1e-3);
	cr_assert(!t.masked_nonzero);
	/* 205 frames at 0.032 s */
	cr_assert_eq(t.last_us - t.first_us, 204u * 32000u);
	km_import_destroy(r);
}

Test(import_vendor, xsensor_two_insoles_read_as_two_streams)
{
	km_import *r = open_vendor("xsensor_data.csv", NULL);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_XSENSOR);
	cr_assert_eq(in->sensor_count, 2);
	cr_assert_eq(in->sensor_index, 0, "the first sensor by default");
	cr_assert(strstr(in->sensor, "-LF "), "%s", in->sensor);
	cr_assert(strstr(km_import_sensor_name(r, 1), "-RF "));
	cr_assert_null(km_import_sensor_name(r, 2));
	cr_assert_eq(in->rows, 31);
	cr_assert_eq(in->cols, 11);
	cr_assert_float_eq(in->row_pitch_mm, 8.6f, 1e-4);
	cr_assert_float_eq(in->col_pitch_mm, 8.6f, 1e-4);
	cr_assert_eq(in->units, KM_UNITS_MMHG);
	cr_assert_eq(in->units_from, KM_IMPORT_FROM_FILE);
	cr_assert_eq(in->rate_from, KM_IMPORT_FROM_FILE);
	cr_assert(in->rate_hz > 75.0f && in->rate_hz < 75.2f, "rate %g", (double)in->rate_hz);
	cr_assert(in->frame_count_known);
	cr_assert_eq(in->frame_count, 101);
	struct totals lf = read_all(r);
	cr_assert_eq(lf.frames, 101);
	cr_assert_float_eq(lf.sum_kpa, 196120.0, 1.0, "LF sum %.2f", lf.sum_kpa);
	cr_assert_float_eq(lf.max_kpa, 394.3, 0.05, "LF max %.3f", lf.max_kpa);
	/* times from the Date/Time rows: 13-14 ms steps, 1.331 s in all */
	cr_assert_eq(lf.first_us, 0);
	cr_assert_eq(lf.last_us, 1331000u);
	km_import_destroy(r);

	/* the other insole, by name part and by number */
	r = open_vendor("xsensor_data.csv", "RF");
	cr_assert_eq(km_import_info(r)->sensor_index, 1);
	struct totals rf = read_all(r);
	cr_assert_eq(rf.frames, 101);
	cr_assert_float_eq(rf.sum_kpa, 191997.0, 1.0, "RF sum %.2f", rf.sum_kpa);
	km_import_destroy(r);
	r = open_vendor("xsensor_data.csv", "2");
	struct totals rf2 = read_all(r);
	cr_assert_float_eq(rf2.sum_kpa, rf.sum_kpa, 1e-6);
	km_import_destroy(r);

	/* a sensor the file does not hold: refused, naming the ones it has */
	char path[4200];
	snprintf(path, sizeof path, "%s/xsensor_data.csv", vendor);
	struct km_import_config c = km_import_config_default();
	c.path = path;
	c.sensor = "3";
	char detail[256] = "";
	c.detail = detail;
	c.detail_size = sizeof detail;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG);
	cr_assert(strstr(detail, "holds 2"), "%s", detail);
}
