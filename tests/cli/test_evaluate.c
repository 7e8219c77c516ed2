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
