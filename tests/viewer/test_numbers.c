/* Numbers on screen agree with the recording (issue 20): the header's pitch
 * as the file has it, the frame counter of the frame shown. */
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

static uint64_t region_hash(const struct vt *v, int x0, int y0, int w, int h)
{
	uint64_t hsh = 1469598103934665603ull;
	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++)
			hsh = (hsh ^ vt_pixel(v, x, y)) * 1099511628211ull;
	return hsh;
}

/* The map's title line for a 64 x 32 grid of the given pitch. */
static uint64_t title_of(struct vt *v, float pitch)
{
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v->ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 64, 32, pitch, KM_GEOMETRY_FLAT), KM_OK);
	cr_assert_eq(km_render_draw(r, &s, NULL, 0.03f), KM_OK);
	int hr[4];
	km_render_heat_rect(r, hr);
	uint64_t h = region_hash(v, hr[0], hr[1] - 26, 260, 24);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	return h;
}

Test(numbers, header_pitch_is_the_recordings)
{
	struct vt v = vt_open(1024, 640);
	uint64_t p75 = title_of(&v, 7.5f), p8 = title_of(&v, 8.0f), p75b = title_of(&v, 7.5f);
	cr_assert_eq(p75, p75b, "same pitch, same title");
	cr_assert_neq(p75, p8, "7.5 mm drawn as 8 mm");
	vt_close(&v);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A 12 x 8 recording at 100 Hz, frames numbered from 0. */
static void write_rec(const char *path, int frames)
{
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.overwrite = true;
	c.sync = false;
	c.device.rows = 12;
	c.device.cols = 8;
	c.device.pitch_mm = 7.5f;
	c.device.rate_hz = 100.0f;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(12, 8, 7.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int k = 0; k < frames; k++) {
		f->sequence = (uint32_t)k;
		f->device_time_us = 1000000u + (uint64_t)k * 10000u;
		for (int i = 0; i < 96; i++)
			f->kpa[i] = 5.0f + (float)((i + k) % 7);
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
}

/* Every snapshot's frame counter is the count of the frame it carries (the
 * stream's own count ran ahead by what waited in its ring). */
Test(numbers, frame_counter_is_the_frame_shown, .timeout = 60)
{
	char rec[] = "/tmp/km_numbers_XXXXXX";
	int fd = mkstemp(rec);
	cr_assert_geq(fd, 0);
	close(fd);
	write_rec(rec, 300);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = rec;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	int seen = 0;
	for (int i = 0; i < 200 && seen < 20; i++) {
		sleep_ms(20);
		bool fresh = false;
		const struct km_view_snapshot *s = km_tribuf_read(p->tb, &fresh);
		if (!s || !fresh || !s->frame)
			continue;
		seen++;
		cr_assert_eq(s->stats.frames_ok, (uint64_t)s->frame->sequence + 1,
		             "counter %llu for frame #%u", (unsigned long long)s->stats.frames_ok,
		             (unsigned)s->frame->sequence);
		cr_assert_float_eq(s->frame->pitch_mm, 7.5f, 1e-6);
	}
	cr_assert_geq(seen, 10, "too few snapshots (%d)", seen);
	km__vproc_destroy(p);
	remove(rec);
}
