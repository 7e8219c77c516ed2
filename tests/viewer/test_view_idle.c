/* A paused view is idle (issue 22): the processing thread publishes the
 * paused status once and then nothing until something changes (a command,
 * a step), so the main thread, which draws only fresh snapshots, input and
 * notices, has nothing to draw or present. */
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

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t published(struct km__vproc *p)
{
	uint64_t pub = 0, taken = 0;
	km_tribuf_counts(p->tb, &pub, &taken);
	return pub;
}

Test(view_idle, a_paused_replay_publishes_nothing_until_something_changes, .timeout = 60)
{
	char rec[] = "/tmp/km_view_idle_XXXXXX";
	int fd = mkstemp(rec);
	cr_assert_geq(fd, 0);
	close(fd);
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = rec;
	c.overwrite = true;
	c.sync = false;
	c.device.rows = 12;
	c.device.cols = 8;
	c.device.pitch_mm = 10.0f;
	c.device.rate_hz = 100.0f;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(12, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int k = 0; k < 3000; k++) { /* 30 s: it does not end during the test */
		f->sequence = (uint32_t)k;
		f->device_time_us = 1000000u + (uint64_t)k * 10000u;
		for (int i = 0; i < 96; i++)
			f->kpa[i] = 5.0f + (float)((i + k) % 7);
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);

	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = rec;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	sleep_ms(300);
	uint64_t playing = published(p);
	cr_assert_gt(playing, 5u, "frames flow while playing");

	km__vproc_send(p, KM__VCMD_PAUSE, 0);
	sleep_ms(300); /* the command is applied and the paused status published */
	uint64_t paused = published(p);
	sleep_ms(1000);
	cr_assert_eq(published(p), paused, "paused: %llu snapshots published in 1 s",
	             (unsigned long long)(published(p) - paused));

	km__vproc_send(p, KM__VCMD_STEP, 0); /* one frame on request */
	sleep_ms(300);
	uint64_t stepped = published(p);
	cr_assert_gt(stepped, paused);
	sleep_ms(500);
	cr_assert_eq(published(p), stepped, "after the step: idle again");

	km__vproc_send(p, KM__VCMD_PAUSE, 0); /* play */
	sleep_ms(300);
	cr_assert_gt(published(p), stepped + 5, "playing again");
	km__vproc_destroy(p);
	remove(rec);
}
