/*
 * knotmap evaluate end to end on a short run of one scenario: the sensor input
 * through the driver's calibration (the default) or the factory curve only,
 * and a clear usage error for a wrong --calibration.
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
	    "--scenario back-lying --seconds 5 --input true --lying '%s' --lying-posture supine1"
	    " --lying-seconds 20",
	    dir);
	struct km_test_run *r = evaluate(args);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "Simulator family (TUNING split)"), "%s", r->out);
	cr_expect(strstr(r->out, "| back-lying             | true   |"), "%s", r->out);
	cr_expect(strstr(r->out, "Real-body family (REPORTING split"), "%s", r->out);
	cr_expect(strstr(r->out, "| 8 mm, 10 Hz      |    3 |"), "three supine1 captures: %s",
	          r->out);
	cr_expect(strstr(r->out, "| 32 mm, 1 Hz      |    3 |"), "%s", r->out);
	cr_expect(strstr(r->out, "| 8 mm, 10 Hz      | upper back |"), "%s", r->out);
	cr_expect(strstr(r->out, "Lying still (real files"), "%s", r->out);
	/* Without --lying the real family says why it did not run. */
	r = evaluate("--scenario back-lying --seconds 2 --input true");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "Real-body family: not run"), "%s", r->out);
}
