/* What the renderer caches between draws (issue 22): the heatmap is
 * uploaded once per new mat frame (or new colours / range), the static layer
 * (background, title, colour bar, heading) is drawn once until what it shows
 * changes, text is rasterised once, and a cached draw is the same picture as
 * the first. Counts, not timings: speed is measured in bench/viewer. */
#include <string.h>

#include "viewer_test.h"

static struct km_view_snapshot snap(void)
{
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 32, 16, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	for (int i = 0; i < 32 * 16; i++)
		s.frame->kpa[i] = (float)(i % 37);
	s.serial = 1;
	snprintf(s.stats.device, sizeof s.stats.device, "test");
	s.stats.frames_ok = 100;
	return s;
}

static uint8_t *pixels(const struct vt *v)
{
	size_t n = (size_t)v->surf->pitch * (size_t)v->surf->h;
	uint8_t *p = malloc(n);
	cr_assert_not_null(p);
	memcpy(p, v->surf->pixels, n);
	return p;
}

Test(render_cache, heatmap_uploads_once_per_new_frame)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s = snap();
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 50.0f;
	struct km_render_stats st;
	for (int i = 0; i < 5; i++)
		cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	km_render_stats(r, &st);
	cr_assert_eq(st.draws, 5u);
	cr_assert_eq(st.heat_uploads, 1u, "the same frame drawn 5 times: one upload");
	s.serial = 2; /* a new mat frame */
	s.frame->kpa[3] = 40.0f;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	km_render_stats(r, &st);
	cr_assert_eq(st.heat_uploads, 2u);
	ui.colormap = KM_COLORMAP_TURBO; /* new colours: the same frame again */
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	km_render_stats(r, &st);
	cr_assert_eq(st.heat_uploads, 3u);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

Test(render_cache, static_layer_and_text_are_drawn_once_until_they_change)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s = snap();
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 50.0f;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	struct km_render_stats a, b;
	km_render_stats(r, &a);
	cr_assert_eq(a.static_redraws, 1u);
	cr_assert_gt(a.text_renders, 5u);
	uint8_t *first = pixels(&v);
	for (int i = 0; i < 3; i++) {
		s.serial++; /* new frames, same numbers on screen */
		cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	}
	km_render_stats(r, &b);
	cr_assert_eq(b.static_redraws, 1u, "nothing static changed");
	cr_assert_eq(b.text_renders, a.text_renders, "no text changed: none rasterised again");
	uint8_t *again = pixels(&v);
	cr_assert_eq(memcmp(first, again, (size_t)v.surf->pitch * (size_t)v.surf->h), 0,
	             "the cached layers give the same picture");
	ui.fixed_range_kpa = 100.0f; /* new colour-bar ticks */
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	km_render_stats(r, &b);
	cr_assert_eq(b.static_redraws, 2u);
	free(first);
	free(again);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

/* The cached static layer gives the picture drawing every layer directly
 * gives (what a renderer without render targets does). */
Test(render_cache, cached_picture_matches_drawing_directly)
{
	struct vt v = vt_open(1024, 640);
	struct km_render_config cfg = km_render_config_default();
	km_render *r1 = NULL, *r2 = NULL;
	cr_assert_eq(km_render_create(v.ren, &cfg, &r1), KM_OK);
	struct km_view_snapshot s = snap();
	s.n_markers = 1;
	s.markers[0].track_id = 3;
	s.markers[0].x_mm = 80.0f;
	s.markers[0].y_mm = 150.0f;
	struct km_view_ui ui = km_view_ui_default();
	for (int i = 0; i < 3; i++) {
		s.serial++;
		cr_assert_eq(km_render_draw(r1, &s, &ui, 0.016f), KM_OK);
	}
	uint8_t *cached = pixels(&v);
	km_render_destroy(r1);
	cfg.no_static_cache = true;
	cr_assert_eq(km_render_create(v.ren, &cfg, &r2), KM_OK);
	for (int i = 0; i < 3; i++) {
		s.serial++;
		cr_assert_eq(km_render_draw(r2, &s, &ui, 0.016f), KM_OK);
	}
	struct km_render_stats st;
	km_render_stats(r2, &st);
	cr_assert_eq(st.static_redraws, 0u);
	/* Text blended into the layer's texture rather than straight onto the
	 * surface may round differently by a level or two, nothing more. */
	int diff = 0, n_diff = 0;
	for (int y = 0; y < 640; y++)
		for (int x = 0; x < 1024; x++) {
			const uint32_t *a = (const uint32_t *)(cached + (size_t)y * v.surf->pitch);
			int d = vt_channel_diff(a[x] >> 8, vt_pixel(&v, x, y));
			diff = d > diff ? d : diff;
			n_diff += d > 0;
		}
	cr_assert_leq(diff, 2, "cached and direct pictures differ by %d (%d pixels)", diff, n_diff);
	cr_assert_lt(n_diff, 5000, "%d pixels differ", n_diff);
	printf("cached vs direct: max %d levels, %d pixels\n", diff, n_diff);
	free(cached);
	km_view_snapshot_free(&s);
	km_render_destroy(r2);
	vt_close(&v);
}
