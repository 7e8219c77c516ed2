/* `view --replay FILE --sensor S` on a real XSENSOR export with two insoles
 * (../shared/data/vendor/xsensor_data.csv, see its README): the viewer's
 * processing thread plays the insole chosen and its status line names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../viewer/src/proc.h"
#include "viewer_test.h"

static void quiet(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	(void)msg;
}

static void vendor_file(char *path, size_t cap)
{
	const char *src = getenv("KM_SOURCE_DIR");
	snprintf(path, cap, "%s/../shared/data/vendor/xsensor_data.csv", src ? src : ".");
	if (access(path, R_OK) != 0) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing: CI must run the real-file tests", path);
		cr_skip_test("real vendor file not found at %s; skipped", path);
	}
}

/* The newest snapshot's device line and peak once a few frames are shown. */
static void play(const char *path, const char *sensor, char *device, size_t cap, float *peak)
{
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = path;
	o.replay_sensor = sensor;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(p->info.rows, 31);
	cr_assert_eq(p->info.cols, 11);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	const struct km_view_snapshot *s = NULL;
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 25000000L};
		nanosleep(&ts, NULL);
		bool fresh = false;
		const struct km_view_snapshot *t = km_tribuf_read(p->tb, &fresh);
		if (t)
			s = t;
		if (s && s->stats.frames_ok >= 3)
			break;
	}
	cr_assert_not_null(s, "no snapshot from %s", path);
	km__vproc_join(p);
	snprintf(device, cap, "%s", s->stats.device);
	*peak = s->stats.peak_kpa;
	km__vproc_destroy(p);
}

Test(view_sensor, the_insole_chosen_plays_and_is_named, .timeout = 60)
{
	char path[4096];
	vendor_file(path, sizeof path);
	char lf[128], rf[128], two[128];
	float peak_lf = 0, peak_rf = 0, peak_two = 0;
	play(path, NULL, lf, sizeof lf, &peak_lf);
	play(path, "RF", rf, sizeof rf, &peak_rf);
	play(path, "2", two, sizeof two, &peak_two);
	cr_expect(strstr(lf, "sensor LF (1 of 2)"), "%s", lf);
	cr_expect(strstr(rf, "sensor RF (2 of 2)"), "%s", rf);
	cr_expect(strstr(two, "sensor RF (2 of 2)"), "%s", two);
	cr_expect_gt(peak_lf, 0.0f);
	cr_expect_gt(peak_rf, 0.0f);
	cr_expect_neq(peak_lf, peak_rf, "LF and RF show the same map (peak %g)", (double)peak_lf);
}
