/* Colour maps and the heatmap: known values land on the expected colours. */
#include <math.h>

#include "viewer_test.h"

Test(colormap, tables_have_the_published_ends)
{
	const uint32_t *v = km_colormap_table(KM_COLORMAP_VIRIDIS);
	const uint32_t *t = km_colormap_table(KM_COLORMAP_TURBO);
	cr_assert_eq(v[0], 0x440154u);
	cr_assert_eq(v[255], 0xfde725u);
	cr_assert_eq(t[0], 0x30123bu);
	cr_assert_eq(t[255], 0x7a0403u);
	/* Unknown maps fall back to viridis instead of reading out of bounds. */
	cr_assert_eq(km_colormap_table((enum km_colormap)99), v);
	cr_assert_str_eq(km_colormap_name(KM_COLORMAP_TURBO), "turbo");
	cr_assert_str_eq(km_colormap_name((enum km_colormap)99), "unknown");
}

Test(colormap, viridis_lightness_rises)
{
	/* Perceptual: luma never falls along viridis (that is why it is used). */
	const uint32_t *v = km_colormap_table(KM_COLORMAP_VIRIDIS);
	float prev = -1.0f;
	for (int i = 0; i < 256; i++) {
		float y = 0.2126f * (float)(v[i] >> 16) + 0.7152f * (float)((v[i] >> 8) & 0xff) +
		          0.0722f * (float)(v[i] & 0xff);
		cr_assert_geq(y, prev - 0.5f, "luma falls at %d", i);
		prev = y;
	}
}

Test(colormap, index_clamps_and_rejects_bad_ranges)
{
	cr_assert_eq(km_colormap_index(-5.0f, 0.0f, 100.0f), 0);
	cr_assert_eq(km_colormap_index(0.0f, 0.0f, 100.0f), 0);
	cr_assert_eq(km_colormap_index(50.0f, 0.0f, 100.0f), 128);
	cr_assert_eq(km_colormap_index(100.0f, 0.0f, 100.0f), 255);
	cr_assert_eq(km_colormap_index(1e9f, 0.0f, 100.0f), 255);
	cr_assert_eq(km_colormap_index(NAN, 0.0f, 100.0f), 0);
	cr_assert_eq(km_colormap_index(INFINITY, 0.0f, 100.0f), 0);
	cr_assert_eq(km_colormap_index(5.0f, 10.0f, 10.0f), 0);
	cr_assert_eq(km_colormap_index(5.0f, 10.0f, 0.0f), 0);
}

Test(heatmap, rejects_bad_arguments)
{
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(4, 4, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint32_t px[16 * 16];
	cr_assert_eq(km_render_heatmap_pixels(NULL, 0, KM_SCALE_LINEAR, 0, 1, 1, px, 4),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_heatmap_pixels(f, 0, KM_SCALE_LINEAR, 0, 1, 0, px, 4),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_heatmap_pixels(f, 0, KM_SCALE_LINEAR, 0, 1, 65, px, 4),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_heatmap_pixels(f, 0, KM_SCALE_LINEAR, 0, 1, 1, NULL, 4),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_heatmap_pixels(f, 0, KM_SCALE_LINEAR, 0, 1, 4, px, 8),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_heatmap_pixels(f, 0, KM_SCALE_LINEAR, 0, 1, 4, px, 16), KM_OK);
	km_frame_destroy(f);
}

Test(heatmap, scale_one_is_the_cell_colour)
{
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(3, 5, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (size_t i = 0; i < 15; i++)
		f->kpa[i] = (float)i * 10.0f;
	uint32_t px[15];
	cr_assert_eq(
	    km_render_heatmap_pixels(f, KM_COLORMAP_TURBO, KM_SCALE_LINEAR, 0, 140, 1, px, 5),
	    KM_OK);
	const uint32_t *t = km_colormap_table(KM_COLORMAP_TURBO);
	for (size_t i = 0; i < 15; i++)
		cr_assert_eq(px[i], 0xff000000u | t[km_colormap_index(f->kpa[i], 0, 140)],
		             "cell %zu", i);
	km_frame_destroy(f);
}

Test(heatmap, sqrt_scale_lifts_the_low_end)
{
	cr_assert_eq(km_colormap_index_sqrt(25.0f, 0.0f, 100.0f), 128);
	cr_assert_eq(km_colormap_index_sqrt(100.0f, 0.0f, 100.0f), 255);
	cr_assert_eq(km_colormap_index_sqrt(NAN, 0.0f, 100.0f), 0);
	cr_assert_eq(km_colormap_index_sqrt(1.0f, 5.0f, 5.0f), 0);
	/* 5 kPa of body next to 500 kPa of ball: visible with sqrt, not linear. */
	cr_assert_lt(km_colormap_index(5.0f, 0.0f, 500.0f), 5);
	cr_assert_gt(km_colormap_index_sqrt(5.0f, 0.0f, 500.0f), 20);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(1, 2, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	f->kpa[0] = 5.0f;
	f->kpa[1] = 500.0f;
	uint32_t lin[2], sq[2];
	cr_assert_eq(
	    km_render_heatmap_pixels(f, KM_COLORMAP_TURBO, KM_SCALE_LINEAR, 0, 500, 1, lin, 2),
	    KM_OK);
	cr_assert_eq(
	    km_render_heatmap_pixels(f, KM_COLORMAP_TURBO, KM_SCALE_SQRT, 0, 500, 1, sq, 2), KM_OK);
	cr_assert_eq(lin[1], sq[1], "the top of the range is the same colour");
	cr_assert_neq(lin[0], sq[0]);
	cr_assert_eq(sq[0] & 0xffffff,
	             km_colormap_table(KM_COLORMAP_TURBO)[km_colormap_index_sqrt(5, 0, 500)]);
	km_frame_destroy(f);
}

Test(heatmap, upscale_is_smooth_and_roller_wraps)
{
	/* One hot column at the right edge. Flat: the left edge stays cold.
	 * Roller: the left edge is next to the hot column and warms up. */
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(2, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int r = 0; r < 2; r++)
		f->kpa[r * 8 + 7] = 100.0f;
	enum { S = 8 };
	static uint32_t flat[2 * S * 8 * S], roll[2 * S * 8 * S];
	cr_assert_eq(km_render_heatmap_pixels(f, KM_COLORMAP_VIRIDIS, KM_SCALE_LINEAR, 0, 100, S,
	                                      flat, 8 * S),
	             KM_OK);
	f->geometry = KM_GEOMETRY_CYLINDER;
	cr_assert_eq(km_render_heatmap_pixels(f, KM_COLORMAP_VIRIDIS, KM_SCALE_LINEAR, 0, 100, S,
	                                      roll, 8 * S),
	             KM_OK);
	const uint32_t *v = km_colormap_table(KM_COLORMAP_VIRIDIS);
	cr_assert_eq(flat[0] & 0xffffff, v[0]);
	cr_assert_neq(roll[0] & 0xffffff, v[0]);
	/* Smooth: along a row towards the hot column the green channel of
	 * viridis never falls (monotone interpolation, no ringing). */
	int prev = -1;
	for (int x = 4 * S; x < 8 * S - S / 2; x++) {
		int g = (int)((flat[x] >> 8) & 0xff);
		cr_assert_geq(g, prev, "x %d", x);
		prev = g;
	}
	/* More than two distinct colours between two cells: interpolated. */
	cr_assert_neq(flat[6 * S + S / 2], flat[6 * S]);
	cr_assert_neq(flat[6 * S + S / 2], flat[7 * S]);
	km_frame_destroy(f);
}

Test(heatmap, rendered_cells_have_the_expected_colours)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 16, 12, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	/* Four uniform quadrants: 0, 30, 60, 90 kPa; range fixed 0..100. */
	for (int row = 0; row < 16; row++)
		for (int c = 0; c < 12; c++)
			s.frame->kpa[row * 12 + c] =
			    (row < 8 ? 0.0f : 60.0f) + (c < 6 ? 0.0f : 30.0f);
	s.serial = 1;
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 100.0f;
	ui.colormap = KM_COLORMAP_TURBO;
	ui.scale = KM_SCALE_LINEAR;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	int rc[4];
	km_render_heat_rect(r, rc);
	cr_assert_gt(rc[2], 100);
	cr_assert_gt(rc[3], 100);
	const uint32_t *t = km_colormap_table(KM_COLORMAP_TURBO);
	static const int cells[][2] = {{3, 2}, {3, 9}, {12, 2}, {12, 9}, {5, 4}, {10, 7}};
	for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
		int row = cells[i][0], c = cells[i][1];
		int x = rc[0] + (int)(((float)c + 0.5f) * (float)rc[2] / 12.0f);
		int y = rc[1] + (int)(((float)row + 0.5f) * (float)rc[3] / 16.0f);
		uint32_t want = t[km_colormap_index(s.frame->kpa[row * 12 + c], 0, 100)];
		uint32_t got = vt_pixel(&v, x, y);
		cr_assert_leq(vt_channel_diff(got, want), 3, "cell %d,%d: got %06x want %06x", row,
		              c, got, want);
	}
	float lo, hi;
	km_render_range(r, &lo, &hi);
	cr_assert_float_eq(hi, 100.0f, 1e-6);
	/* Switching the map changes the same cell's colour to viridis. */
	ui.colormap = KM_COLORMAP_VIRIDIS;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	int x = rc[0] + (int)(9.5f * (float)rc[2] / 12.0f),
	    y = rc[1] + (int)(12.5f * (float)rc[3] / 16.0f);
	uint32_t want = km_colormap_table(KM_COLORMAP_VIRIDIS)[km_colormap_index(90.0f, 0, 100)];
	cr_assert_leq(vt_channel_diff(vt_pixel(&v, x, y), want), 3);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

Test(heatmap, auto_range_follows_the_peak)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 8, 8, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	s.frame->kpa[10] = 240.0f;
	struct km_view_ui ui = km_view_ui_default();
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	float lo, hi1, hi2;
	km_render_range(r, &lo, &hi1);
	cr_assert_geq(hi1, 240.0f);
	cr_assert_float_eq(lo, 0.0f, 1e-6);
	/* The peak goes away: the range comes down slowly, not at once. */
	s.frame->kpa[10] = 20.0f;
	s.serial++;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.1f), KM_OK);
	km_render_range(r, &lo, &hi2);
	cr_assert_geq(hi2, 200.0f);
	for (int i = 0; i < 200; i++)
		km_render_draw(r, &s, &ui, 0.1f);
	km_render_range(r, &lo, &hi2);
	cr_assert_lt(hi2, 60.0f);
	cr_assert_geq(hi2, 20.0f);
	/* reset forgets the history. */
	km_render_reset(r);
	s.frame->kpa[10] = 5.0f;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.0f), KM_OK);
	km_render_range(r, &lo, &hi2);
	cr_assert_leq(hi2, 15.0f);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}
