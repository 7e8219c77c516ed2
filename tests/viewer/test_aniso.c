/* A mat whose rows and columns are spaced differently (an import's
 * row_pitch_mm / col_pitch_mm: a Tekscan sensor can be 10 x 5 mm) is drawn
 * to scale: cells twice as tall as wide, positions mapped per axis, and
 * cells off the sensor (the import's mask) hatched, never 0 kPa. Headless:
 * the renderer on a software surface, then the whole viewer replaying a
 * real Tekscan file. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viewer_test.h"

#define ROWS 10
#define COLS 10
#define HOT_R 4
#define HOT_C 6

/* The colour index (0..255) of the nearest viridis entry. */
static int viridis_index(uint32_t rgb)
{
	const uint32_t *tab = km_colormap_table(KM_COLORMAP_VIRIDIS);
	int best = 0, best_d = 1 << 30;
	for (int i = 0; i < 256; i++) {
		int d = vt_channel_diff(rgb, tab[i]);
		if (d < best_d) {
			best_d = d;
			best = i;
		}
	}
	return best;
}

/* Pixels of the map at or above half the hot cell's colour along a line
 * through (x, y), in x (dx 1) or y (dy 1). */
static int half_width(const struct vt *v, const int rect[4], int x, int y, int dx, int dy)
{
	int n = 0;
	for (int k = -200; k <= 200; k++) {
		int px = x + k * dx, py = y + k * dy;
		if (px < rect[0] || py < rect[1] || px >= rect[0] + rect[2] || py >= rect[1] + rect[3])
			continue;
		n += viridis_index(vt_pixel(v, px, py)) >= 128;
	}
	return n;
}

static const struct km_render_box *marker_box(const km_render *r, struct km_render_layout *l)
{
	km_render_layout(r, l);
	for (size_t i = 0; i < l->n_boxes; i++)
		if (l->box[i].kind == KM_BOX_MARKER)
			return &l->box[i];
	return NULL;
}

Test(aniso, a_10_by_5_mm_pitch_draws_cells_twice_as_tall_as_wide)
{
	struct vt v = vt_open(1024, 640);
	struct km_render_config rc = km_render_config_default();
	km_render *r = NULL;
	cr_assert_eq(km_render_create(v.ren, &rc, &r), KM_OK);
	/* the frame carries the geometric-mean pitch, as an import's stream does */
	const float g = sqrtf(10.0f * 5.0f);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, ROWS, COLS, g, KM_GEOMETRY_FLAT), KM_OK);
	for (int i = 0; i < ROWS * COLS; i++)
		s.frame->kpa[i] = 0.0f;
	s.frame->kpa[HOT_R * COLS + HOT_C] = 100.0f;
	s.serial = 1;
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 100.0f;
	ui.scale = KM_SCALE_LINEAR;

	/* square cells until the sensor says otherwise */
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.03f), KM_OK);
	int rect[4];
	km_render_heat_rect(r, rect);
	cr_assert_eq(rect[2], rect[3], "a 10 x 10 grid of equal pitch is square");

	struct km_render_sensor sens = {ROWS, COLS, 10.0f, 5.0f, NULL};
	cr_assert_eq(km_render_set_sensor(r, &sens), KM_OK);
	s.serial = 2;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.03f), KM_OK);
	km_render_heat_rect(r, rect);
	double cell_w = (double)rect[2] / COLS, cell_h = (double)rect[3] / ROWS;
	cr_assert_float_eq(cell_h / cell_w, 2.0, 0.03, "cells %.1f x %.1f px", cell_w, cell_h);
	/* the hot cell on screen: its half-height extent is twice its width */
	int cx = rect[0] + (int)((HOT_C + 0.5) * cell_w), cy = rect[1] + (int)((HOT_R + 0.5) * cell_h);
	int wx = half_width(&v, rect, cx, cy, 1, 0), wy = half_width(&v, rect, cx, cy, 0, 1);
	cr_assert_gt(wx, 5);
	cr_assert_float_eq((double)wy / wx, 2.0, 0.2, "hot cell %d px wide, %d px tall", wx, wy);
	cr_assert_float_eq((double)wx, cell_w, 0.2 * cell_w);

	/* a spot on the hot cell, in the dsp's mm (geometric-mean pitch on both
	 * axes today), lands on it */
	s.n_markers = 1;
	memset(&s.markers[0], 0, sizeof s.markers[0]);
	s.markers[0].track_id = 7;
	s.markers[0].x_mm = (HOT_C + 0.5f) * g;
	s.markers[0].y_mm = (HOT_R + 0.5f) * g;
	s.markers[0].peak_kpa = 100.0f;
	snprintf(s.markers[0].name, sizeof s.markers[0].name, "spot A");
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.03f), KM_OK);
	struct km_render_layout lay;
	const struct km_render_box *b = marker_box(r, &lay);
	cr_assert_not_null(b);
	cr_assert_leq(abs(b->x + b->w / 2 - cx), 2, "marker x %d, cell %d", b->x + b->w / 2, cx);
	cr_assert_leq(abs(b->y + b->h / 2 - cy), 2, "marker y %d, cell %d", b->y + b->h / 2, cy);
	/* and in true mm per axis (x = (col + 0.5) x 5, y = (row + 0.5) x 10) */
	s.pos_col_pitch_mm = 5.0f;
	s.pos_row_pitch_mm = 10.0f;
	s.markers[0].x_mm = (HOT_C + 0.5f) * 5.0f;
	s.markers[0].y_mm = (HOT_R + 0.5f) * 10.0f;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.03f), KM_OK);
	b = marker_box(r, &lay);
	cr_assert_not_null(b);
	cr_assert_leq(abs(b->x + b->w / 2 - cx), 2);
	cr_assert_leq(abs(b->y + b->h / 2 - cy), 2);
	s.n_markers = 0;

	/* cells off the sensor: hatched background, not the colour of 0 kPa */
	int mx = rect[0] + (int)(0.5 * cell_w), my = rect[1] + (int)(2.5 * cell_h);
	uint32_t zero = km_colormap_table(KM_COLORMAP_VIRIDIS)[0];
	cr_assert_eq(vt_channel_diff(vt_pixel(&v, mx, my), zero), 0, "a 0 kPa cell on the sensor");
	uint8_t mask[ROWS * COLS];
	memset(mask, 1, sizeof mask);
	for (int row = 0; row < ROWS; row++)
		mask[row * COLS] = 0; /* column 0 is outside the sensor */
	sens.mask = mask;
	cr_assert_eq(km_render_set_sensor(r, &sens), KM_OK);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.03f), KM_OK);
	size_t on_scale = 0, total = 0;
	for (int y = my - 10; y <= my + 10; y++)
		for (int x = mx - 4; x <= mx + 4; x++, total++)
			on_scale += vt_channel_diff(vt_pixel(&v, x, y), zero) < 8;
	cr_assert_eq(on_scale, 0u, "%zu of %zu masked pixels drawn as 0 kPa", on_scale, total);
	/* the cell beside it, on the sensor, still reads 0 kPa */
	cr_assert_eq(vt_channel_diff(vt_pixel(&v, mx + (int)cell_w, my), zero), 0);
	cr_assert_eq(km_render_set_sensor(r, NULL), KM_OK);
	struct km_render_sensor bad = {ROWS, COLS, 0.0f, 5.0f, NULL};
	cr_assert_eq(km_render_set_sensor(r, &bad), KM_ERR_INVALID_ARG);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

/* ---- the whole viewer on a real file's sensor ---------------------------- */

/* Keeps the line saying the map is drawn to scale. */
static void quiet_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)level;
	(void)module;
	if (strstr(msg, "drawn to scale"))
		snprintf(user, 160, "%s", msg);
}

/* The real Tekscan F-Scan export (../shared/data/vendor, see its README):
 * 60 x 21 sensels at 5.08 mm, 'B' for the 305 outside the insole's outline. */
static void tekscan_file(char *path, size_t cap)
{
	const char *src = getenv("KM_SOURCE_DIR");
	snprintf(path, cap, "%s/../shared/data/vendor/fscan_testL.asf", src ? src : ".");
	if (access(path, R_OK) != 0) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing: CI must run the real-file tests", path);
		cr_skip_test("real vendor file not found at %s; skipped", path);
	}
}

/* Pixels of one colour in a PNG (libpng's simplified reader). */
static size_t png_count(const char *path, uint32_t rgb)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	cr_assert(png_image_begin_read_from_file(&im, path), "%s", im.message);
	im.format = PNG_FORMAT_RGB;
	size_t bytes = PNG_IMAGE_SIZE(im);
	uint8_t *px = malloc(bytes);
	cr_assert_not_null(px);
	cr_assert(png_image_finish_read(&im, NULL, px, 0, NULL), "%s", im.message);
	size_t n = 0;
	for (size_t i = 0; i + 2 < bytes; i += 3)
		n += ((uint32_t)px[i] << 16 | (uint32_t)px[i + 1] << 8 | px[i + 2]) == rgb;
	free(px);
	return n;
}

Test(aniso, a_real_tekscan_replay_hatches_the_cells_off_the_insole, .timeout = 120)
{
	char src[4096];
	tekscan_file(src, sizeof src);
	char dir[] = "/tmp/km-aniso-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	/* the same file with its rows 10.16 mm apart (a sensor of that kind):
	 * a copy in the scratch folder, the original untouched */
	char copy[160], png[160], cmd[4400];
	snprintf(copy, sizeof copy, "%s/rows.asf", dir);
	snprintf(png, sizeof png, "%s/shot.png", dir);
	snprintf(cmd, sizeof cmd, "sed 's/^ROW_SPACING 5.08 mm/ROW_SPACING 10.16 mm/' '%s' > '%s'",
	         src, copy);
	cr_assert_eq(system(cmd), 0);
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char said[160] = "";
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = copy;
	o.sound = false;
	o.screenshot_path = png;
	o.screenshot_after_s = 0.5;
	o.log.fn = quiet_log;
	o.log.user = said;
	o.log.max_level = KM_LOG_DEBUG;
	int err = km_viewer_run(&o);
	cr_assert_eq(err, KM_OK, "km_viewer_run: %s", km_strerror(err));
	cr_assert(strstr(said, "rows 10.16 mm apart, columns 5.08 mm"), "logged: '%s'", said);
	/* the hatch's stripes: the cells off the insole, as the file marks them */
	size_t stripes = png_count(png, 0x3a4048);
	cr_assert_gt(stripes, 1000u, "%zu hatch pixels", stripes);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
