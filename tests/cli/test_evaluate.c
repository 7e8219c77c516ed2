/*
 * knotmap evaluate end to end on a short run of one scenario: the sensor input
 * through the driver's calibration (the default) or the factory curve only,
 * and a clear usage error for a wrong --calibration; the real-body family on
 * three real captures; the phantom family on one seed of its smallest grid
 * (the same table twice) and its options' errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "km_test_run.h"

static struct km_test_run *evaluate(const char *args)
{
	static struct km_test_run r;
	const char *bin = getenv("KM_KNOTMAP"), *src = getenv("KM_SOURCE_DIR");
	cr_assert_not_null(bin, "KM_KNOTMAP must name the knotmap binary");
	cr_assert_not_null(src, "KM_SOURCE_DIR must name the source tree");
	char env[4200], cmd[8192];
	snprintf(env, sizeof env, "%s/hardware/sim/scenarios", src);
	setenv("KNOTMAP_SCENARIO_DIR", env, 1);
	snprintf(cmd, sizeof cmd, "evaluate %s", args);
	km_test_run_in(&r, ".", bin, cmd);
	return &r;
}

Test(evaluate, sensor_input_through_either_calibration)
{
	const char *cal[] = {"driver", "factory"};
	for (int k = 0; k < 2; k++) {
		char args[256];
		snprintf(args, sizeof args,
		         "--scenario tensing-up --seconds 5 --input sensor --calibration %s", cal[k]);
		struct km_test_run *r = evaluate(args);
		cr_assert_eq(r->status, 0, "%s: %s", cal[k], r->out);
		cr_expect(strstr(r->out, "| tensing-up             | sensor |"), "%s", r->out);
		cr_expect(strstr(r->out, "| ALL                    | sensor |"), "%s", r->out);
		cr_expect_null(strstr(r->out, "| true "), "only the sensor input: %s", r->out);
	}
}

Test(evaluate, wrong_calibration_is_a_usage_error)
{
	struct km_test_run *r = evaluate("--scenario tensing-up --calibration nominal");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "--calibration expects driver or factory, got 'nominal'"), "%s",
	          r->out);
}

/* The unzipped PoPu preview in the build tree, or NULL (skipped; a failure
 * under CI=true) when ../shared/data is absent. */
static const char *popu_dir(void)
{
	static char dir[4096];
	const char *src = getenv("KM_SOURCE_DIR"), *bin = getenv("KM_BINARY_DIR");
	char zip[4096], probe[4200], cmd[12600];
	snprintf(zip, sizeof zip, "%s/../shared/data/lying/popu_preview_data.zip", src ? src : ".");
	FILE *z = fopen(zip, "rb");
	if (!z) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing (CI=true: the shared data must be present)",
			               zip);
		cr_skip_test("%s is missing: the real-body family is not checked", zip);
		return NULL;
	}
	fclose(z);
	snprintf(dir, sizeof dir, "%s/popu-cli", bin ? bin : ".");
	snprintf(probe, sizeof probe, "%s/preview_data/tactilus_data/4/supine1_1.json", dir);
	FILE *t = fopen(probe, "rb");
	if (t) {
		fclose(t);
	} else {
		snprintf(cmd, sizeof cmd, "mkdir -p '%s' && unzip -q -o '%s' -d '%s'", dir, zip,
		         dir);
		cr_assert_eq(system(cmd), 0, "could not unzip %s", zip);
	}
	strncat(dir, "/preview_data", sizeof dir - strlen(dir) - 1);
	return dir;
}

Test(evaluate, prints_both_families, .timeout = 600)
{
	const char *dir = popu_dir();
	if (!dir)
		return;
	char args[4400];
	snprintf(
	    args, sizeof args,
	    "--scenario back-lying --seconds 5 --input true --lying '%s' --lying-posture supine2"
	    " --lying-seconds 20",
	    dir);
	struct km_test_run *r = evaluate(args);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "Simulator family (TUNING split)"), "%s", r->out);
	cr_expect(strstr(r->out, "| back-lying             | true   |"), "%s", r->out);
	cr_expect(strstr(r->out, "Real-body family, REPORTING split"), "%s", r->out);
	cr_expect(strstr(r->out, "| 8 mm, 10 Hz      |    3 |"), "three supine2 captures: %s",
	          r->out);
	cr_expect(strstr(r->out, "| 32 mm, 1 Hz      |    3 |"), "%s", r->out);
	cr_expect(strstr(r->out, "| 8 mm, 10 Hz      | upper back "), "%s", r->out);
	cr_expect(strstr(r->out, "Lying still (real files"), "%s", r->out);
	/* Posture 1 is the development split: not in the default report. */
	snprintf(args, sizeof args,
	         "--family real --lying '%s' --lying-posture supine1 --lying-seconds 20", dir);
	r = evaluate(args);
	cr_expect_neq(r->status, 0, "supine1 is not in the reporting split: %s", r->out);
	cr_expect(strstr(r->out, "no captures"), "%s", r->out);
	snprintf(args, sizeof args,
	         "--family real --lying '%s' --lying-posture supine1 --lying-seconds 20"
	         " --lying-split dev",
	         dir);
	r = evaluate(args);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "DEVELOPMENT split"), "%s", r->out);
	cr_expect(strstr(r->out, "| 8 mm, 10 Hz      |    3 |"), "three supine1 captures: %s",
	          r->out);
	r = evaluate("--lying-split sometimes");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "--lying-split expects report, dev or all"), "%s", r->out);
	/* Without --lying the real family says why it did not run. */
	r = evaluate("--scenario back-lying --seconds 2 --input true");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "Real-body family: not run"), "%s", r->out);
}

/* The output without its last line (the wall time per recording). */
static void strip_time(char *out)
{
	char *t = strstr(out, "Time per recording");
	if (t)
		*t = '\0';
}

Test(evaluate, phantom_family_on_one_seed, .timeout = 600)
{
	struct km_test_run *r =
	    evaluate("--family phantom --seeds 1 --phantom-grid 32 --seconds 20");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "Phantom family (TUNING split)"), "%s", r->out);
	cr_expect_null(strstr(r->out, "Simulator family"), "the phantom alone: %s", r->out);
	cr_expect_null(strstr(r->out, "Real-body family"), "%s", r->out);
	/* One recording, 4 knots scored from 5 s to 20 s at 25 Hz: 375 frames. */
	cr_expect(strstr(r->out, "| 32x32 @ 12 mm    |    1 |    1500 |"), "%s", r->out);
	cr_expect_null(strstr(r->out, "| 64x64"), "one grid: %s", r->out);
	cr_expect_null(strstr(r->out, "| ALL "), "no ALL row for one grid: %s", r->out);
	const char *reg[] = {"shoulder blade", "sacrum", "paraspinal", "other"};
	for (int i = 0; i < 4; i++) {
		char row[64];
		snprintf(row, sizeof row, "| 32x32 @ 12 mm    | %-14s |", reg[i]);
		cr_expect(strstr(r->out, row), "%s: %s", reg[i], r->out);
	}
	/* Lying still: no tool, so no hold and no tensing-up; nothing rejected. */
	cr_expect(strstr(r->out, "Lying still (phantom"), "%s", r->out);
	const char *still = strstr(r->out, "| 32x32 @ 12 mm    |    1 |     0 |       0 |");
	cr_expect(still, "no hold, no tensing lying still: %s", r->out);
	if (still)
		cr_expect(strstr(still, "|   0 |"), "no frame rejected: %s", still);
	/* The same seed gives the same table. */
	char first[sizeof r->out];
	strip_time(r->out);
	memcpy(first, r->out, sizeof first);
	r = evaluate("--family phantom --seeds 1 --phantom-grid 32 --seconds 20");
	cr_assert_eq(r->status, 0, "%s", r->out);
	strip_time(r->out);
	cr_expect_str_eq(r->out, first);
}

/* --phantom-read-pitch: the cells taken for another pitch (a file read
 * without its own). At the grid's true pitch the scores are the plain run's,
 * row for row (the knots are scored in the analysis's mm); another pitch is
 * said. */
Test(evaluate, phantom_read_at_another_pitch, .timeout = 600)
{
	const char *args = "--family phantom --seeds 1 --phantom-grid 32 --seconds 10";
	struct km_test_run *r = evaluate(args);
	cr_assert_eq(r->status, 0, "%s", r->out);
	const char *row = strstr(r->out, "| 32x32 @ 12 mm    |    1 |");
	cr_assert_not_null(row, "%s", r->out);
	char plain[512];
	snprintf(plain, sizeof plain, "%.*s", (int)strcspn(row, "\n"), row);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "%s --phantom-read-pitch 12", args);
	r = evaluate(cmd);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, plain), "read at its own pitch: %s\nvs\n%s", plain, r->out);
	cr_expect(strstr(r->out, "Its cells read as 12 mm"), "%s", r->out);
	snprintf(cmd, sizeof cmd, "%s --phantom-read-pitch 0.5", args);
	r = evaluate(cmd);
	cr_expect_eq(r->status, 2, "%s", r->out);
}

Test(evaluate, phantom_options_are_checked)
{
	struct km_test_run *r = evaluate("--family phantom --phantom-grid 48");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "--phantom-grid expects 32, 64 or 128, got '48'"), "%s", r->out);
	r = evaluate("--family dummy");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "--family expects sim, real, phantom, both or all, got 'dummy'"),
	          "%s", r->out);
	r = evaluate("--family phantom --phantom-grid");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "incomplete option '--phantom-grid'"), "%s", r->out);
}
