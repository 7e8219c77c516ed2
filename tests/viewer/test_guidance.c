/* The guidance line says what limits the analysis (issue 20 item 7): on a
 * low-rate replay the pipeline turns the tensing-up guard off, and the screen
 * says so instead of promising the usual "Find a candidate spot". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../viewer/src/proc.h"
#include "knotmap/pipeline.h"
#include "../../viewer/src/render_int.h"
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

/* A 12 x 8 recording of quiet body load at rate_hz on cells of pitch_mm,
 * 20 s long. */
static void write_rec(const char *path, float rate_hz, float pitch_mm)
{
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.overwrite = true;
	c.sync = false;
	c.device.rows = 12;
	c.device.cols = 8;
	c.device.pitch_mm = pitch_mm;
	c.device.rate_hz = rate_hz;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(12, 8, pitch_mm, KM_GEOMETRY_FLAT, &f), KM_OK);
	int n = (int)(20.0f * rate_hz);
	for (int k = 0; k < n; k++) {
		f->sequence = (uint32_t)k;
		f->device_time_us = 1000000u + (uint64_t)((double)k * 1e6 / rate_hz);
		for (int i = 0; i < 96; i++)
			f->kpa[i] = 5.0f + (float)((i + k) % 7);
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
}

/* Plays the recording for a moment and returns the guidance for the newest
 * snapshot; *stats gets what the snapshot says. */
/* The replay's guidance and stats; `guessed`: the pitch was guessed (what
 * knotmap view passes when the file gives none). */
static void guidance_of(float rate_hz, float pitch_mm, bool guessed, char *text, size_t cap,
                        uint32_t *col, struct km_view_stats *stats)
{
	char rec[] = "/tmp/km_guidance_XXXXXX";
	int fd = mkstemp(rec);
	cr_assert_geq(fd, 0);
	close(fd);
	write_rec(rec, rate_hz, pitch_mm);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = rec;
	o.replay_pitch_guessed = guessed;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	const struct km_view_snapshot *s = NULL;
	/* a few frames at 10 Hz; wait up to 5 s on a loaded machine */
	for (int i = 0; i < 100; i++) {
		sleep_ms(50);
		bool fresh = false;
		const struct km_view_snapshot *t = km_tribuf_read(p->tb, &fresh);
		if (t)
			s = t;
		if (s && s->stats.frames_ok >= 5)
			break;
	}
	cr_assert_not_null(s, "no snapshot from the replay");
	*stats = s->stats;
	snprintf(text, cap, "%s", km__rguidance(s, col));
	km__vproc_destroy(p);
	remove(rec);
}

Test(guidance, low_rate_replay_says_the_guard_is_off, .timeout = 60)
{
	char text[200];
	uint32_t col = 0;
	struct km_view_stats st;
	guidance_of(10.0f, 10.0f, false, text, sizeof text, &col, &st);
	cr_assert(st.guard_off, "10 Hz is below the guard's %.0f Hz",
	          (double)KM_PIPELINE_GUARD_MIN_HZ);
	cr_assert(strstr(text, "Low frame rate"), "guidance: %s", text);
	cr_assert_null(strstr(text, "Find a candidate spot"), "guidance: %s", text);
	cr_assert_eq(col, C_WARN);

	guidance_of(100.0f, 10.0f, false, text, sizeof text, &col, &st);
	cr_assert_not(st.guard_off);
	cr_assert_not(st.coarse);
	cr_assert(strstr(text, "Find a candidate spot"), "guidance: %s", text);
}

/* A bed sheet's 32 mm cells: the viewer says spots are found under a tool
 * only, instead of inviting the user to find one lying. */
Test(guidance, coarse_cells_say_spots_under_a_tool_only, .timeout = 60)
{
	char text[200];
	uint32_t col = 0;
	struct km_view_stats st;
	guidance_of(100.0f, 32.0f, false, text, sizeof text, &col, &st);
	cr_assert(st.coarse, "32 mm cells are coarser than a knot");
	cr_assert_float_eq(st.coarse_mm, 32.0f, 1e-3);
	cr_assert(strstr(text, "coarser than a knot"), "guidance: %s", text);
	cr_assert_eq(col, C_WARN);
	cr_assert_not(st.pitch_guessed, "the pitch was the file's");
	/* a pitch knotmap view guessed from the body is said to be one */
	guidance_of(100.0f, 32.0f, true, text, sizeof text, &col, &st);
	cr_assert(st.pitch_guessed);
}

Test(guidance, raw_units_and_no_detection_are_said)
{
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 12, 8, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	uint32_t col = 0;
	cr_assert(strstr(km__rguidance(&s, &col), "Find a candidate spot"));
	s.stats.raw_units = true;
	cr_assert(strstr(km__rguidance(&s, &col), "Raw counts, not kPa: relative rules only"));
	cr_assert_eq(col, C_WARN);
	s.stats.raw_units = false;
	s.stats.detection_off = true;
	cr_assert(strstr(km__rguidance(&s, &col), "Detection is off"));
	/* a hold in progress keeps its own guidance */
	s.stats.detection_off = false;
	s.stats.guard_off = true;
	cr_assert(strstr(km__rguidance(&s, &col), "Low frame rate"));
	s.stats.guard_off = false;
	s.stats.coarse = true;
	s.stats.coarse_mm = 32.0f;
	cr_assert(strstr(km__rguidance(&s, &col), "coarser than a knot"));
	cr_assert_eq(col, C_WARN);
	/* counts on coarse cells: no spot is found lying either way, so the
	 * guidance asks for a ball rather than "find a candidate spot" */
	s.stats.raw_units = true;
	cr_assert(strstr(km__rguidance(&s, &col), "place a ball under the spot"));
	s.stats.raw_units = false;
	s.stats.coarse = false;
	s.stats.saturated = true;
	cr_assert(strstr(km__rguidance(&s, &col), "cells read wrong"));
	s.stats.guard_off = true;
	s.hold.state = KM_VIEW_HOLD_HOLDING;
	s.hold.held_s = 5.0f;
	s.hold.band = KM_BAND_GOOD;
	cr_assert(strstr(km__rguidance(&s, &col), "Good."), "%s", km__rguidance(&s, &col));
	km_view_snapshot_free(&s);
}

/* A worn mat (stuck cells at the ADC ceiling, dead ones): the status says
 * so, on screen, within a few frames. */
Test(guidance, faulty_cells_are_said, .timeout = 60)
{
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.scenario = "faulty-sensor";
	o.sim_speed = 4.0;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	bool said = false;
	char text[200] = "";
	for (int i = 0; i < 200 && !said; i++) {
		sleep_ms(25);
		bool fresh = false;
		const struct km_view_snapshot *s = km_tribuf_read(p->tb, &fresh);
		if (!s || !(s->stats.saturated || s->stats.bad_cells))
			continue;
		said = true;
		uint32_t col = 0;
		snprintf(text, sizeof text, "%s", km__rguidance(s, &col));
		if (s->hold.state == KM_VIEW_HOLD_IDLE && !s->tensing) {
			cr_assert(strstr(text, "cells read wrong"), "guidance: %s", text);
			cr_assert_eq(col, C_WARN);
		}
	}
	km__vproc_destroy(p);
	cr_assert(said, "stuck cells at the ceiling not reported");
}

/* The idle hold panel and the HUD say what limits the analysis: the
 * pictures with and without each limit differ where they say it. */
Test(guidance, limits_are_drawn)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 32, 16, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	uint64_t base[2], hsh[2];
	cr_assert_eq(km_render_draw(r, &s, NULL, 0.03f), KM_OK);
	base[0] = 0;
	base[1] = 0;
	/* hold panel (716, 48, 292 x 262) and the HUD's lines below it */
	for (int y = 48; y < 310; y++)
		for (int x = 716; x < 1008; x++)
			base[0] = (base[0] ^ vt_pixel(&v, x, y)) * 1099511628211ull;
	for (int y = 318; y < 560; y++)
		for (int x = 716; x < 1008; x++)
			base[1] = (base[1] ^ vt_pixel(&v, x, y)) * 1099511628211ull;
	bool *flags[] = {&s.stats.raw_units, &s.stats.detection_off, &s.stats.guard_off,
	                 &s.stats.bad_cells, &s.stats.saturated, &s.stats.coarse};
	for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
		*flags[k] = true;
		cr_assert_eq(km_render_draw(r, &s, NULL, 0.03f), KM_OK);
		*flags[k] = false;
		hsh[0] = hsh[1] = 0;
		for (int y = 48; y < 310; y++)
			for (int x = 716; x < 1008; x++)
				hsh[0] = (hsh[0] ^ vt_pixel(&v, x, y)) * 1099511628211ull;
		for (int y = 318; y < 560; y++)
			for (int x = 716; x < 1008; x++)
				hsh[1] = (hsh[1] ^ vt_pixel(&v, x, y)) * 1099511628211ull;
		cr_assert_neq(hsh[1], base[1], "limit %zu not in the HUD", k);
		if (k < 2)
			cr_assert_neq(hsh[0], base[0], "limit %zu: the hold panel still invites",
			              k);
		else
			cr_assert_eq(hsh[0], base[0]);
	}
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}
