/* The whole viewer, headless: SDL's dummy video driver, the virtual mat, the
 * processing thread and the triple buffer, ending in a screenshot. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <math.h>

#include "../../viewer/src/glue.h"
#include "knotmap/recording.h"
#include "viewer_test.h"

static void quiet(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	(void)msg;
}

Test(app, rejects_bad_options)
{
	struct km_viewer_options o = km_viewer_options_default();
	cr_assert_eq(km_viewer_run(NULL), KM_ERR_INVALID_ARG);
	o.source = KM_VIEW_SOURCE_REPLAY; /* no path */
	cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG);
	o = km_viewer_options_default();
	o.sim_speed = 0.0;
	cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG);
	o = km_viewer_options_default();
	o.screenshot_after_s = -1.0;
	cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG);
}

Test(app, no_display_is_a_clear_error)
{
	/* X11 asked for, no X server: KM_ERR_NO_DISPLAY, not a crash. */
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	setenv("SDL_VIDEODRIVER", "x11", 1);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.log.fn = quiet;
	cr_assert_eq(km_viewer_run(&o), KM_ERR_NO_DISPLAY);
}

Test(app, virtual_mat_runs_to_a_screenshot, .timeout = 60)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char path[] = "/tmp/km_viewer_app_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.scenario = "back-lying";
	o.sim_speed = 16.0;
	o.screenshot_path = path;
	o.screenshot_force = true; /* the mkstemp placeholder */
	o.screenshot_after_s = 1.0;
	o.log.fn = quiet;
	int err = km_viewer_run(&o);
	cr_assert_eq(err, KM_OK, "km_viewer_run: %s", km_strerror(err));
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	unsigned char sig[8];
	cr_assert_eq(fread(sig, 1, 8, fp), 8u);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fclose(fp);
	remove(path);
	cr_assert_eq(memcmp(sig, "\x89PNG", 4), 0);
	cr_assert_gt(size, 10000, "a real picture, not a blank one");
}

Test(app, event_words_are_plain_and_never_diagnose)
{
	char buf[KM_VIEW_TEXT_MAX];
	int shown = 0;
	for (int t = 0; t <= KM_EVENT_TYPE_COUNT + 2; t++) {
		struct km_event ev;
		memset(&ev, 0, sizeof ev);
		ev.type = (enum km_event_type)t;
		ev.track_id = 4;
		ev.held_s = 31.0f;
		enum km_view_level lv = KM_VIEW_INFO;
		if (!km__event_text(&ev, "L upper back", buf, sizeof buf, &lv))
			continue;
		shown++;
		cr_assert_gt(strlen(buf), 5u);
		/* Spots by the name their marker shows, never a climbing number. */
		cr_assert_null(strchr(buf, '#'), "%s", buf);
		cr_assert_null(strstr(buf, "trigger point"), "%s", buf);
		cr_assert_null(strstr(buf, "diagnos"), "%s", buf);
	}
	cr_assert_geq(shown, 15);
	/* every line about a hold says which spot (a roller holds several) */
	static const enum km_event_type hold_lines[] = {
	    KM_EVENT_HOLD_ENGAGED, KM_EVENT_HOLD_STARTED, KM_EVENT_HOLD_PAUSED,
	    KM_EVENT_HOLD_RESUMED, KM_EVENT_HOLD_TARGET,  KM_EVENT_HOLD_RELEASE,
	    KM_EVENT_HOLD_STOPPED};
	for (size_t k = 0; k < sizeof hold_lines / sizeof hold_lines[0]; k++) {
		struct km_event h;
		memset(&h, 0, sizeof h);
		h.type = hold_lines[k];
		h.track_id = 4;
		h.held_s = 12.0f;
		h.reason = KM_REASON_DRIFT;
		cr_assert(km__event_text(&h, "spot E", buf, sizeof buf, NULL), "type %d", h.type);
		cr_assert(strstr(buf, "spot E"), "%s", buf);
	}
	struct km_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = KM_EVENT_TENSING_UP;
	enum km_view_level lv = KM_VIEW_INFO;
	cr_assert(km__event_text(&ev, "spot C", buf, sizeof buf, &lv));
	cr_assert_eq(lv, KM_VIEW_ALERT);
	cr_assert(strstr(buf, "spot C"), "%s", buf);
	cr_assert(km__event_text(&ev, NULL, buf, sizeof buf, &lv));
	cr_assert(strstr(buf, "a spot"), "no name: %s", buf);
	ev.type = KM_EVENT_STIFFNESS; /* periodic: not a line on screen */
	cr_assert_not(km__event_text(&ev, NULL, buf, sizeof buf, &lv));
	cr_assert_not(km__event_text(NULL, NULL, buf, sizeof buf, &lv));
	ev.type = KM_EVENT_KNOT_FOUND;
	cr_assert(km__event_text(&ev, "R lower back", buf, 4, NULL)); /* truncates safely */
	cr_assert_eq(strlen(buf), 3u);
}

/* A short recording: a pressure blob that moves across a 12 x 8 grid. */
static void write_recording(const char *path, int frames)
{
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.overwrite = true;
	c.sync = false;
	c.device.rows = 12;
	c.device.cols = 8;
	c.device.pitch_mm = 10.0f;
	c.device.rate_hz = 100.0f;
	snprintf(c.device.model, sizeof c.device.model, "test recording");
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(12, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int k = 0; k < frames; k++) {
		f->sequence = (uint32_t)k;
		f->device_time_us = 1000000u + (uint64_t)k * 10000u;
		for (int r = 0; r < 12; r++)
			for (int col = 0; col < 8; col++) {
				float dx = (float)col - 4.0f,
				      dy = (float)r - (float)(k % 1200) / 100.0f;
				f->kpa[r * 8 + col] =
				    5.0f + 40.0f * expf(-(dx * dx + dy * dy) / 3.0f);
			}
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
}

Test(app, replay_with_seek_and_speed_keys, .timeout = 60)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char rec[] = "/tmp/km_viewer_rec_XXXXXX";
	int fd = mkstemp(rec);
	cr_assert_geq(fd, 0);
	close(fd);
	write_recording(rec, 900); /* 9 s */
	char png[] = "/tmp/km_viewer_rpng_XXXXXX";
	fd = mkstemp(png);
	cr_assert_geq(fd, 0);
	close(fd);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = rec;
	o.screenshot_path = png;
	o.screenshot_force = true; /* the mkstemp placeholder */
	o.screenshot_after_s = 6.5;
	/* faster x3, seek +5 s twice, back 5 s (reopens the file), colours,
	 * linear scale, help on and off, markers off. */
	o.keys = "+++>><clhhm";
	o.log.fn = quiet;
	int err = km_viewer_run(&o);
	cr_assert_eq(err, KM_OK, "km_viewer_run: %s", km_strerror(err));
	FILE *fp = fopen(png, "rb");
	cr_assert_not_null(fp);
	fseek(fp, 0, SEEK_END);
	cr_assert_gt(ftell(fp), 5000);
	fclose(fp);
	remove(png);
	remove(rec);
}

struct summary_capture {
	int calls;
	char text[4096];
	char json[8192];
};

static void capture_summary(void *user, const char *text, const char *json)
{
	struct summary_capture *c = user;
	c->calls++;
	snprintf(c->text, sizeof c->text, "%s", text);
	snprintf(c->json, sizeof c->json, "%s", json);
}

Test(app, guided_routine_with_sound_reports_a_summary)
{
	/* The whole app: virtual mat, pipeline, guided state machine, the
	 * audio device (disk driver: nothing is heard), a screenshot mid-way
	 * through placing the ball, and the summary at the end. */
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	setenv("SDL_AUDIODRIVER", "disk", 1);
	char raw[] = "/tmp/km_viewer_audio_XXXXXX";
	int fd = mkstemp(raw);
	cr_assert_geq(fd, 0);
	close(fd);
	setenv("SDL_DISKAUDIOFILE", raw, 1);
	setenv("PATH", "/nonexistent", 1); /* no espeak-ng: tones only */
	char png[] = "/tmp/km_viewer_guided_XXXXXX";
	fd = mkstemp(png);
	cr_assert_geq(fd, 0);
	close(fd);
	char data[] = "/tmp/km_viewer_data_XXXXXX";
	cr_assert_not_null(mkdtemp(data));
	setenv("XDG_DATA_HOME", data, 1); /* where R records */
	static struct summary_capture cap;
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.scenario = "guided-upper-back";
	o.sim_speed = 16.0;
	o.guided = true;
	o.keys = "rv]["; /* record; mute, then volume up and down (unmutes) */
	o.screenshot_path = png;
	o.screenshot_force = true; /* the mkstemp placeholder */
	o.screenshot_after_s = 22.0;
	o.on_summary = capture_summary;
	o.summary_user = &cap;
	o.log.fn = quiet;
	int err = km_viewer_run(&o);
	cr_assert_eq(err, KM_OK, "km_viewer_run: %s", km_strerror(err));
	cr_assert_eq(cap.calls, 1);
	cr_assert(strstr(cap.json, "\"routine\":\"guided\"") != NULL, "%s", cap.json);
	cr_assert(strstr(cap.json, "\"spots_found\":2") != NULL, "the scan found both: %s",
	          cap.json);
	cr_assert(strstr(cap.text, "not a diagnosis") != NULL, "%s", cap.text);
	/* the scan's start tone and the first spot's bell reached the device */
	FILE *fp = fopen(raw, "rb");
	cr_assert_not_null(fp);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	float buf[4096];
	double peak = 0;
	size_t got;
	while ((got = fread(buf, sizeof buf[0], 4096, fp)) > 0)
		for (size_t i = 0; i < got; i++)
			peak = fmax(peak, fabs((double)buf[i]));
	fclose(fp);
	cr_assert_gt(size, 0);
	cr_assert_gt(peak, 0.05, "cues were mixed into the output");
	remove(raw);
	remove(png);
	/* recording: the summary is saved next to the .kmrec */
	char dir[128], path[512];
	snprintf(dir, sizeof dir, "%s/knotmap/sessions", data);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "recorded into %s", dir);
	int kmrec = 0, json = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		size_t n = strlen(e->d_name);
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (n > 12 && !strcmp(e->d_name + n - 12, ".guided.json")) {
			json++;
			FILE *jf = fopen(path, "r");
			cr_assert_not_null(jf);
			char text[8192];
			size_t n_read = fread(text, 1, sizeof text - 1, jf);
			text[n_read] = '\0';
			fclose(jf);
			cr_assert_str_eq(text, cap.json, "the file is the printed summary's JSON");
		} else if (n > 6 && !strcmp(e->d_name + n - 6, ".kmrec")) {
			kmrec++;
		}
		remove(path);
	}
	closedir(d);
	cr_assert_eq(kmrec, 1);
	cr_assert_eq(json, 1);
	rmdir(dir);
	snprintf(dir, sizeof dir, "%s/knotmap", data);
	rmdir(dir);
	rmdir(data);
}

Test(app, guided_config_is_checked)
{
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.volume = 3.0f;
	cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG);
}
