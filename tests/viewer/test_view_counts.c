/* A replay of raw counts (a file that gives no units) runs the relative
 * rules in the viewer, as `knotmap analyze` does (km_pipeline_config_for_
 * counts): the back-lying scene written as counts (x 37, no unit) shows
 * spots, and the status says the rules are relative, not "no detection". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../viewer/src/proc.h"
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

/* seconds of the virtual mat's scenario as a float32 .npy of values x scale,
 * with a sidecar giving rate and pitch and, when units is not NULL, units. */
static void write_npy(const char *path, const char *scenario, double seconds, float scale,
                      const char *units)
{
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start(scenario, 0, &st, &f, &info);
	cr_assert_eq(info.geometry, KM_GEOMETRY_FLAT);
	unsigned n = (unsigned)(seconds * info.rate_hz);
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	char hdr[128];
	int len = snprintf(hdr, sizeof hdr,
	                   "{'descr': '<f4', 'fortran_order': False, 'shape': (%u, %u, %u), }", n,
	                   (unsigned)info.rows, (unsigned)info.cols);
	int total = 10 + len + 1;
	int pad = (64 - total % 64) % 64;
	unsigned hlen = (unsigned)(len + pad + 1);
	fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
	fputc((int)(hlen & 0xff), fp);
	fputc((int)(hlen >> 8), fp);
	fwrite(hdr, 1, (size_t)len, fp);
	for (int i = 0; i < pad; i++)
		fputc(' ', fp);
	fputc('\n', fp);
	size_t cells = km_frame_cells(f);
	for (unsigned k = 0; k < n; k++) {
		cr_assert_eq(km_stream_read(st, f, 5000), KM_OK);
		for (size_t i = 0; i < cells; i++) {
			float v = f->kpa[i] * scale;
			fwrite(&v, sizeof v, 1, fp); /* little-endian host (x86, arm) */
		}
	}
	cr_assert_eq(fclose(fp), 0);
	char side[4200];
	snprintf(side, sizeof side, "%.4000s.json", path);
	fp = fopen(side, "w");
	cr_assert_not_null(fp);
	fprintf(fp, "{\"rate_hz\": %u, \"pitch_mm\": %g%s%s%s}\n", (unsigned)info.rate_hz,
	        (double)info.pitch_mm, units ? ", \"units\": \"" : "", units ? units : "",
	        units ? "\"" : "");
	fclose(fp);
	km_frame_destroy(f);
	km_stream_destroy(st);
}

struct seen {
	size_t max_markers;
	bool raw_units, detection_off, ended;
	char guidance[200];
	char hud[200];
};

/* Plays the file through the processing thread (seeking to its end, which
 * runs every frame without pacing) and notes what the snapshots showed. */
static void play(const char *path, struct seen *out)
{
	memset(out, 0, sizeof *out);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = path;
	o.sound = false;
	o.log.fn = quiet;
	struct km__vproc *p = NULL;
	cr_assert_eq(km__vproc_create(&o, &p), KM_OK);
	cr_assert_eq(km__vproc_start(p, NULL), KM_OK);
	bool sent = false;
	for (int i = 0; i < 24000 && !out->ended; i++) { /* 120 s: sanitizers, a busy machine */
		sleep_ms(5);
		bool fresh = false;
		const struct km_view_snapshot *s = km_tribuf_read(p->tb, &fresh);
		if (!s || !fresh)
			continue;
		if (!sent && s->stats.frames_ok > 0) {
			km__vproc_send(p, KM__VCMD_SEEK, 3600.0);
			sent = true;
		}
		if (s->n_markers > out->max_markers)
			out->max_markers = s->n_markers;
		out->raw_units = out->raw_units || s->stats.raw_units;
		out->detection_off = out->detection_off || s->stats.detection_off;
		out->ended = s->stats.ended;
		if (s->hold.state == KM_VIEW_HOLD_IDLE && !s->tensing && !s->seek_advice) {
			uint32_t col;
			snprintf(out->guidance, sizeof out->guidance, "%s", km__rguidance(s, &col));
		}
	}
	km__vproc_destroy(p);
}

Test(view_counts, a_counts_replay_shows_spots_by_the_relative_rules, .timeout = 280)
{
	char dir[] = "/tmp/km_view_counts_XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/scene.npy", dir);
	write_npy(path, "back-lying", 8.0, 37.0f, NULL);
	struct seen s;
	play(path, &s);
	cr_assert(s.ended, "the replay did not reach its end");
	cr_expect(s.raw_units, "a file without units is counts");
	cr_expect_not(s.detection_off);
	cr_expect_gt(s.max_markers, 0u, "no spot shown on a counts replay");
	cr_expect(strstr(s.guidance, "relative rules only"), "guidance: %s", s.guidance);
	cr_expect_null(strstr(s.guidance, "no spot detection"), "guidance: %s", s.guidance);

	/* the same scene in kPa: spots too, and no counts notice */
	write_npy(path, "back-lying", 8.0, 1.0f, "kPa");
	struct seen k;
	play(path, &k);
	cr_expect_not(k.raw_units);
	cr_expect_gt(k.max_markers, 0u);
	cr_expect_null(strstr(k.guidance, "relative rules"), "guidance: %s", k.guidance);
	char side[80];
	snprintf(side, sizeof side, "%s.json", path);
	remove(side);
	remove(path);
	rmdir(dir);
}

/* The screen says it: the guidance names the relative rules, and the
 * colour bar's unit follows the frame (counts, not kPa): the map side of the
 * picture changes with the frame's flag alone. */
Test(view_counts, the_screen_says_counts_and_relative_rules)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 12, 8, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	for (int i = 0; i < 96; i++)
		s.frame->kpa[i] = 100.0f + (float)i;
	uint64_t h[3] = {0, 0, 0};
	for (int pass = 0; pass < 3; pass++) {
		/* kPa, counts, kPa again (the cached layer is redrawn back) */
		if (pass == 1)
			s.frame->flags |= KM_FRAME_UNCALIBRATED;
		else
			s.frame->flags &= ~(uint32_t)KM_FRAME_UNCALIBRATED;
		cr_assert_eq(km_render_draw(r, &s, NULL, 0.03f), KM_OK);
		for (int y = 0; y < 566; y++)
			for (int x = 0; x < 716; x++)
				h[pass] = (h[pass] ^ vt_pixel(&v, x, y)) * 1099511628211ull;
	}
	cr_expect_neq(h[0], h[1], "the colour bar's unit did not change for counts");
	cr_expect_eq(h[0], h[2], "kPa again does not look as before");
	uint32_t col;
	s.stats.raw_units = true;
	cr_expect(strstr(km__rguidance(&s, &col), "relative rules only"), "%s",
	          km__rguidance(&s, &col));
	cr_expect_null(strstr(km__rguidance(&s, &col), "no spot detection"));
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}
