/* Hold ring, HUD and overlays drawn headless; pixels read back. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "viewer_test.h"

#define PI_F 3.14159265f

/* The pixel on the ring's centre line at `deg` clockwise from 12 o'clock. */
static uint32_t ring_pixel(const struct vt *v, float cx, float cy, float radius, float deg)
{
	float a = deg * PI_F / 180.0f;
	return vt_pixel(v, (int)lroundf(cx + sinf(a) * radius),
	                (int)lroundf(cy - cosf(a) * radius));
}

static void clear(struct vt *v)
{
	SDL_SetRenderDrawColor(v->ren, 0, 0, 0, 255);
	SDL_RenderClear(v->ren);
}

Test(ring, arc_matches_elapsed_time)
{
	struct vt v = vt_open(200, 200);
	struct km_view_hold h;
	memset(&h, 0, sizeof h);
	h.state = KM_VIEW_HOLD_HOLDING;
	h.band = KM_BAND_GOOD;
	h.target_s = 30.0f;
	h.release_s = 60.0f;
	const uint32_t good = km_render_band_colour(KM_BAND_GOOD, false);
	static const float held[] = {6.0f, 15.0f, 24.0f, 40.0f, 52.0f};
	for (size_t k = 0; k < sizeof held / sizeof held[0]; k++) {
		clear(&v);
		h.held_s = held[k];
		float end = km_render_hold_ring(v.ren, 100, 100, 60, 12, &h);
		float want = 360.0f * held[k] / 60.0f;
		cr_assert_float_eq(end, want, 1e-3);
		/* Sample every 10 degrees, skipping near the arc end and the 30 s tick. */
		for (float d = 5.0f; d < 360.0f; d += 10.0f) {
			if (fabsf(d - want) < 6.0f || fabsf(d - 180.0f) < 6.0f)
				continue;
			uint32_t p = ring_pixel(&v, 100, 100, 60, d);
			if (d < want)
				cr_assert_leq(vt_channel_diff(p, good), 2,
				              "held %.0f s: %.0f deg should be filled, got %06x",
				              (double)held[k], (double)d, p);
			else
				cr_assert_gt(vt_channel_diff(p, good), 40,
				             "held %.0f s: %.0f deg should be empty, got %06x",
				             (double)held[k], (double)d, p);
		}
	}
	vt_close(&v);
}

Test(ring, colour_shows_band_and_pause)
{
	struct vt v = vt_open(200, 200);
	struct km_view_hold h;
	memset(&h, 0, sizeof h);
	h.state = KM_VIEW_HOLD_HOLDING;
	h.held_s = 20.0f;
	h.target_s = 30.0f;
	h.release_s = 60.0f;
	uint32_t seen[4];
	static const enum km_view_band bands[] = {KM_BAND_TOO_LIGHT, KM_BAND_GOOD,
	                                          KM_BAND_TOO_MUCH};
	for (int i = 0; i < 3; i++) {
		clear(&v);
		h.band = bands[i];
		km_render_hold_ring(v.ren, 100, 100, 60, 12, &h);
		seen[i] = ring_pixel(&v, 100, 100, 60, 45.0f);
		cr_assert_leq(vt_channel_diff(seen[i], km_render_band_colour(bands[i], false)), 2);
	}
	cr_assert_neq(seen[0], seen[1]);
	cr_assert_neq(seen[1], seen[2]);
	/* Paused: same arc, grey. */
	clear(&v);
	h.band = KM_BAND_GOOD;
	h.state = KM_VIEW_HOLD_PAUSED;
	km_render_hold_ring(v.ren, 100, 100, 60, 12, &h);
	seen[3] = ring_pixel(&v, 100, 100, 60, 45.0f);
	cr_assert_leq(vt_channel_diff(seen[3], km_render_band_colour(KM_BAND_GOOD, true)), 2);
	cr_assert_neq(seen[3], seen[1]);
	/* Ease off overrides the band with the warning colour. */
	clear(&v);
	h.state = KM_VIEW_HOLD_HOLDING;
	h.ease_off = true;
	km_render_hold_ring(v.ren, 100, 100, 60, 12, &h);
	cr_assert_leq(vt_channel_diff(ring_pixel(&v, 100, 100, 60, 45.0f),
	                              km_render_band_colour(KM_BAND_TOO_MUCH, false)),
	              2);
	/* Bad input draws nothing and does not crash. */
	cr_assert_float_eq(km_render_hold_ring(NULL, 0, 0, 10, 2, &h), 0.0f, 1e-9);
	cr_assert_float_eq(km_render_hold_ring(v.ren, 0, 0, 10, 2, NULL), 0.0f, 1e-9);
	h.held_s = NAN;
	cr_assert_float_eq(km_render_hold_ring(v.ren, 100, 100, 60, 12, &h), 0.0f, 1e-9);
	h.held_s = 500.0f;
	cr_assert_float_eq(km_render_hold_ring(v.ren, 100, 100, 60, 12, &h), 360.0f, 1e-3);
	vt_close(&v);
}

Test(render, rejects_bad_config_and_missing_font)
{
	struct vt v = vt_open(320, 240);
	km_render *r = (km_render *)&v; /* must be reset to NULL on error */
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(NULL, &cfg, &r), KM_ERR_INVALID_ARG);
	cr_assert_null(r);
	cr_assert_eq(km_render_create(v.ren, NULL, &r), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_render_create(v.ren, &cfg, NULL), KM_ERR_INVALID_ARG);
	cfg.width = 10;
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_ERR_INVALID_ARG);
	cfg = km_render_config_default();
	cfg.font_path = "/nonexistent/DejaVuSans.ttf";
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_ERR_NOT_FOUND);
	cr_assert_null(r);
	km_render_destroy(NULL);
	km_render_reset(NULL);
	cr_assert_eq(km_render_draw(NULL, NULL, NULL, 0), KM_ERR_INVALID_ARG);
	vt_close(&v);
}

static uint64_t region_hash(const struct vt *v, int x0, int y0, int w, int h)
{
	uint64_t hsh = 1469598103934665603ull;
	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++)
			hsh = (hsh ^ vt_pixel(v, x, y)) * 1099511628211ull;
	return hsh;
}

static void fill_stats(struct km_view_snapshot *s, uint64_t ok, uint64_t lost, uint64_t crc)
{
	snprintf(s->stats.device, sizeof s->stats.device, "virtual mat (back-lying)");
	s->stats.rate_hz = 100.0f;
	s->stats.frames_ok = ok;
	s->stats.frames_lost = lost;
	s->stats.crc_errors = crc;
	s->stats.latency_ms = 3.5f;
	s->stats.session_s = 75.0;
	s->stats.total_load_n = 412.0f;
}

Test(hud, counters_change_the_picture)
{
	char buf[512];
	struct km_view_stats st;
	memset(&st, 0, sizeof st);
	st.frames_ok = 1234;
	st.frames_lost = 7;
	st.crc_errors = 2;
	st.session_s = 75.0;
	cr_assert_geq(km_view_format_stats(&st, buf, sizeof buf), 4);
	cr_assert_not_null(strstr(buf, "1234 ok"));
	cr_assert_not_null(strstr(buf, "7 lost"));
	cr_assert_not_null(strstr(buf, "2 CRC"));
	cr_assert_not_null(strstr(buf, "1:15"));
	st.total_load_n = 412.0f;
	km_view_format_stats(&st, buf, sizeof buf);
	cr_assert_not_null(strstr(buf, "load 412 N"), "%s", buf);
	st.raw_units = true; /* counts: no force to give */
	km_view_format_stats(&st, buf, sizeof buf);
	cr_assert_not_null(strstr(buf, "load - (counts)"), "%s", buf);
	cr_assert_null(strstr(buf, " N\n"), "%s", buf);
	st.raw_units = false;
	cr_assert_eq(km_view_format_stats(&st, buf, 8), 4); /* truncates, never overflows */
	cr_assert_eq(strlen(buf), 7u);
	cr_assert_eq(km_view_format_stats(NULL, buf, sizeof buf), 0);

	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 32, 16, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	s.frame->kpa[40] = 50.0f;
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 100.0f;
	fill_stats(&s, 1000, 0, 0);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	int rc[4];
	km_render_heat_rect(r, rc);
	/* HUD stats block: right panel, below the hold panel. */
	uint64_t hud_a = region_hash(&v, 716, 318, 292, 100);
	uint64_t heat_a = region_hash(&v, rc[0], rc[1], rc[2], rc[3]);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	cr_assert_eq(region_hash(&v, 716, 318, 292, 100), hud_a, "same input, same picture");
	fill_stats(&s, 1001, 0, 0);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	uint64_t hud_b = region_hash(&v, 716, 318, 292, 100);
	cr_assert_neq(hud_b, hud_a, "frames ok changed but the HUD did not");
	fill_stats(&s, 1001, 3, 0);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	uint64_t hud_c = region_hash(&v, 716, 318, 292, 100);
	cr_assert_neq(hud_c, hud_b, "lost frames changed but the HUD did not");
	fill_stats(&s, 1001, 3, 9);
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	cr_assert_neq(region_hash(&v, 716, 318, 292, 100), hud_c, "CRC errors not shown");
	/* The heatmap did not move while only counters changed. */
	cr_assert_eq(region_hash(&v, rc[0], rc[1], rc[2], rc[3]), heat_a);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

Test(hud, hold_ring_and_warnings_are_drawn_on_the_map)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 32, 32, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	struct km_view_ui ui = km_view_ui_default();
	ui.fixed_range_kpa = 100.0f;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	int rc[4];
	km_render_heat_rect(r, rc);
	/* A hold at the map's centre, 15 s of 60: the ring's 45-degree point is
	 * filled green, its 135-degree point is not. */
	s.hold.state = KM_VIEW_HOLD_HOLDING;
	s.hold.band = KM_BAND_GOOD;
	s.hold.held_s = 15.0f;
	s.hold.x_mm = 160.0f;
	s.hold.y_mm = 160.0f;
	s.hold.track_id = 3;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	float cx = (float)rc[0] + (float)rc[2] / 2.0f, cy = (float)rc[1] + (float)rc[3] / 2.0f;
	uint32_t good = km_render_band_colour(KM_BAND_GOOD, false);
	cr_assert_leq(vt_channel_diff(ring_pixel(&v, cx, cy, 46.0f, 45.0f), good), 2);
	cr_assert_gt(vt_channel_diff(ring_pixel(&v, cx, cy, 46.0f, 135.0f), good), 40);
	/* Tensing up puts a red EASE OFF banner on the lower map and turns the
	 * ring red. */
	uint64_t before = region_hash(&v, rc[0], rc[1] + rc[3] / 2, rc[2], rc[3] / 2);
	s.tensing = true;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	cr_assert_neq(region_hash(&v, rc[0], rc[1] + rc[3] / 2, rc[2], rc[3] / 2), before);
	cr_assert_leq(vt_channel_diff(ring_pixel(&v, cx, cy, 46.0f, 45.0f),
	                              km_render_band_colour(KM_BAND_TOO_MUCH, false)),
	              2);
	/* The red-flag overlay covers the screen. */
	ui.red_flag = true;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	uint32_t p = vt_pixel(&v, 5, 5);
	cr_assert_gt((p >> 16) & 0xff, (p >> 8) & 0xff, "overlay should be red, got %06x", p);
	/* No snapshot yet: draws the waiting screen without crashing. */
	ui.red_flag = false;
	cr_assert_eq(km_render_draw(r, NULL, &ui, 0.016f), KM_OK);
	cr_assert_eq(km_render_draw(r, &s, NULL, 0.016f), KM_OK);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

Test(render, roller_outline_markers_and_overlays_draw)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &cfg, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 24, 40, 11.8f, KM_GEOMETRY_CYLINDER), KM_OK);
	for (int i = 0; i < 24 * 40; i++) {
		s.frame->kpa[i] = (float)(i % 40 < 3 || i % 40 > 37 ? 60 : 4);
		s.outline[i] = (uint8_t)(i % 40 > 10 && i % 40 < 30);
	}
	s.outline_valid = true;
	s.midline_valid = true;
	s.midline_x_mm = 20 * 11.8f;
	s.midline_top_mm = 10.0f;
	s.midline_bottom_mm = 200.0f;
	s.centre_valid = true;
	s.centre_x_mm = 5.0f;
	s.centre_y_mm = 100.0f;
	s.n_markers = 3;
	s.markers[0].track_id = 1;
	s.markers[0].x_mm = 50.0f;
	s.markers[0].y_mm = 60.0f;
	s.markers[0].has_stiffness = true;
	s.markers[0].stiffness_pct = 22.0f;
	s.markers[1].track_id = 2;
	s.markers[1].over_spine = true;
	s.markers[2].track_id = 3;
	s.markers[2].landmark = true;
	s.markers[2].x_mm = 400.0f;
	s.hold.state = KM_VIEW_HOLD_PAUSED;
	s.hold.track_id = 1;
	s.hold.x_mm = 50.0f;
	s.hold.y_mm = 60.0f;
	s.hold.held_s = 61.0f;
	s.stats.replay = true;
	s.stats.replay_paused = true;
	s.stats.replay_speed = 2.0f;
	s.n_messages = 2;
	snprintf(s.messages[0].text, sizeof s.messages[0].text, "Hold paused (moved off the spot)");
	s.messages[0].level = KM_VIEW_WARN;
	snprintf(s.messages[1].text, sizeof s.messages[1].text, "an old line");
	s.messages[1].age_s = 60.0;
	struct km_view_ui ui = km_view_ui_default();
	ui.show_help = true;
	ui.notice = "Saved knotmap-test.png";
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	int rc[4];
	km_render_heat_rect(r, rc);
	/* Wider than tall: 40 columns around, 24 along. */
	cr_assert_gt(rc[2], rc[3]);
	ui.show_help = false;
	ui.show_markers = false;
	ui.show_outline = false;
	ui.colormap = (enum km_colormap)77; /* bad value: falls back, no crash */
	s.stats.ended = true;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	s.stats.disconnected = true;
	s.stats.ended = false;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.016f), KM_OK);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}

Test(guided, target_rings_and_step_strip_are_drawn)
{
	struct vt v = vt_open(1024, 640);
	km_render *r = NULL;
	struct km_render_config rc = km_render_config_default();
	cr_assert_eq(km_render_create(v.ren, &rc, &r), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 96, 64, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	for (size_t i = 0; i < km_frame_cells(s.frame); i++)
		s.frame->kpa[i] = 2.0f;
	struct km_view_ui ui = km_view_ui_default();
	/* without the routine: no target ring */
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.0f), KM_OK);
	int hr[4];
	km_render_heat_rect(r, hr);
	float tx = (float)hr[0] + 225.0f / 640.0f * (float)hr[2];
	float ty = (float)hr[1] + 440.0f / 960.0f * (float)hr[3];
	const uint32_t warn = 0xffb02eu, good = 0x3ddc84u;
	uint32_t before = vt_pixel(&v, (int)lroundf(tx + 18.0f), (int)lroundf(ty));
	cr_assert_gt(vt_channel_diff(before, warn), 60);
	/* placing the ball: warm rings around the target, the step strip */
	s.guided.active = true;
	s.guided.state = KM_GUIDED_PLACE;
	s.guided.n_spots = 2;
	s.guided.target_valid = true;
	s.guided.target_x_mm = 225.0f;
	s.guided.target_y_mm = 440.0f;
	s.guided.pointer_valid = true;
	s.guided.pointer_x_mm = 225.0f;
	s.guided.pointer_y_mm = 600.0f;
	s.guided.distance_mm = 160.0f;
	snprintf(s.guided.prompt, sizeof s.guided.prompt, "Spot 1 of 2: place the ball under it");
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.0f), KM_OK);
	uint32_t ring = vt_pixel(&v, (int)lroundf(tx + 18.0f), (int)lroundf(ty));
	cr_assert_leq(vt_channel_diff(ring, warn), 3, "target ring, got %06x", ring);
	/* the arrow runs from the ball up to the rings: white on its shaft */
	float py = (float)hr[1] + 600.0f / 960.0f * (float)hr[3];
	uint32_t shaft = vt_pixel(&v, (int)lroundf(tx), (int)lroundf((py + ty) / 2.0f + 10.0f));
	cr_assert_leq(vt_channel_diff(shaft, 0xffffffu), 20, "arrow shaft, got %06x", shaft);
	/* holding: the rings turn green */
	s.guided.state = KM_GUIDED_HOLD;
	cr_assert_eq(km_render_draw(r, &s, &ui, 0.0f), KM_OK);
	ring = vt_pixel(&v, (int)lroundf(tx + 18.0f), (int)lroundf(ty));
	cr_assert_leq(vt_channel_diff(ring, good), 3, "holding ring, got %06x", ring);
	km_view_snapshot_free(&s);
	km_render_destroy(r);
	vt_close(&v);
}
