/* Pipeline: frame checks, wiring, events, no allocation per frame. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/pipeline.h"

#define R 32
#define C 32
#define PITCH 10.0f
#define DT_US 20000u /* 50 Hz */

static struct km_pipeline_config cfg_small(void)
{
	struct km_pipeline_config c = km_pipeline_config_default();
	c.rows = R;
	c.cols = C;
	c.pitch_mm = PITCH;
	c.rate_hz = 50.0f;
	c.announce_s = 0.0f; /* announce at confirmation: short streams */
	c.confirm_s = 0.0f;  /* confirm after 3 of 5 frames: short streams */
	return c;
}

/* A pipeline of config c and a flat frame of the small grid for it. */
static km_pipeline *small_rig(const struct km_pipeline_config *c, struct km_frame **f)
{
	km_pipeline *p = NULL;
	cr_assert_eq(km_pipeline_create(c, &p), KM_OK);
	cr_assert_eq(km_frame_create(R, C, PITCH, KM_GEOMETRY_FLAT, f), KM_OK);
	return p;
}

/* Lying body (columns 2..29, 20 kPa) with a knot-like 5 kPa bump 80 mm
 * right of the midline. */
static void body_frame(struct km_frame *f, uint32_t seq, float knot_x)
{
	f->sequence = seq;
	f->device_time_us = (uint64_t)seq * DT_US;
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			float v = (c >= 2 && c < 30) ? 20.0f : 0.0f;
			float dx = (c + 0.5f) * PITCH - knot_x, dy = (r + 0.5f) * PITCH - 160.0f;
			if (v > 0.0f)
				v += 5.0f * expf(-(dx * dx + dy * dy) / (2.0f * 12.0f * 12.0f));
			f->kpa[r * C + c] = v;
		}
}

struct counter {
	int found, lost, total;
	int again;              /* KNOT_FOUND with reason AGAIN: a knot back */
	uint32_t found_id[4];   /* the first KNOT_FOUNDs' track ids */
};

static void on_event(void *user, const struct km_event *ev)
{
	struct counter *k = user;
	k->total++;
	if (ev->type == KM_EVENT_KNOT_FOUND) {
		if (k->found < 4)
			k->found_id[k->found] = ev->track_id;
		k->found++;
		k->again += ev->reason == KM_REASON_AGAIN;
	}
	if (ev->type == KM_EVENT_KNOT_LOST)
		k->lost++;
}

Test(pipeline, finds_and_tracks_a_knot)
{
	struct km_pipeline_config c = cfg_small();
	struct counter cnt = {0};
	c.on_event = on_event;
	c.user = &cnt;
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	int found_in_result = 0;
	for (uint32_t s = 1; s <= 10; s++) {
		body_frame(f, s, 240.0f);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		for (size_t i = 0; i < res.event_count; i++)
			found_in_result += res.events[i].type == KM_EVENT_KNOT_FOUND;
	}
	cr_expect_eq(cnt.found, 1);
	cr_expect_eq(found_in_result, 1);
	cr_assert_eq(res.track_count, 1);
	cr_expect_eq(res.tracks[0].state, KM_TRACK_MOVE);
	cr_expect_lt(fabsf(res.tracks[0].x_mm - 240.0f), 3.0f, "x %g", (double)res.tracks[0].x_mm);
	cr_expect_lt(fabsf(res.tracks[0].y_mm - 160.0f), 3.0f);
	cr_expect_eq(res.tracks[0].flags, 0);
	/* Whole mat: 28 x 32 cells at 20 kPa (1 cm^2 each = 2 N) plus the bump. */
	cr_expect_gt(res.total_load_n, 28 * 32 * 2.0f);
	cr_expect_lt(res.total_load_n, 28 * 32 * 2.0f + 10.0f);
	cr_expect_float_eq(res.loaded_area_cm2, 28 * 32 * 1.0f, 0.01f);
	cr_expect(res.load_centre_valid);
	cr_expect_lt(fabsf(res.load_centre_y_mm - 160.0f), 1.0f);
	cr_expect_gt(res.load_centre_x_mm, 160.0f); /* the bump pulls it right */
	cr_expect(res.outline && res.outline->found);
	cr_expect_float_eq(res.outline->midline_x_mm, 160.0f, 0.01f);
	cr_expect_eq(res.n_scales, 5);
	cr_expect_not_null(res.response);
	cr_expect_gt(res.peak_kpa, 24.0f);
	/* The end of the stream ends the id: one KNOT_LOST. */
	cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
	cr_expect_eq(res.track_count, 1);
	cr_expect_eq(res.tracks[0].state, KM_TRACK_END);
	cr_expect_eq(cnt.lost, 1);
	cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
	cr_expect_eq(cnt.lost, 1, "a second finish must not end it again");
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

Test(pipeline, rejects_bad_frames_with_codes)
{
	struct km_pipeline_config c = cfg_small();
	km_pipeline *p = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	struct km_frame *f = NULL, *g = NULL, *h = NULL;
	cr_assert_eq(km_frame_create(R, C, PITCH, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_frame_create(R, C + 1, PITCH, KM_GEOMETRY_FLAT, &g), KM_OK);
	cr_assert_eq(km_frame_create(R, C, PITCH, KM_GEOMETRY_CYLINDER, &h), KM_OK);
	struct km_pipeline_result res;
	body_frame(f, 10, 240.0f);
	cr_expect_eq(km_pipeline_process(NULL, f, &res), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_pipeline_process(p, NULL, &res), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_pipeline_process(p, f, NULL), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_pipeline_process(p, g, &res), KM_ERR_SHAPE);
	cr_expect_eq(km_pipeline_process(p, h, &res), KM_ERR_SHAPE);
	struct km_frame z = *f;
	z.rows = 0;
	cr_expect_eq(km_pipeline_process(p, &z, &res), KM_ERR_SHAPE);
	z = *f;
	z.pitch_mm = 7.5f;
	cr_expect_eq(km_pipeline_process(p, &z, &res), KM_ERR_SHAPE);
	z = *f;
	z.kpa = NULL;
	cr_expect_eq(km_pipeline_process(p, &z, &res), KM_ERR_INVALID_ARG);
	z = *f;
	z.flags = KM_FRAME_CORRUPT;
	cr_expect_eq(km_pipeline_process(p, &z, &res), KM_ERR_MALFORMED);
	z.flags = KM_FRAME_UNCALIBRATED;
	cr_expect_eq(km_pipeline_process(p, &z, &res), KM_ERR_CALIBRATION);

	cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	/* Same sequence again, an older one, time going backwards. */
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_ERR_BAD_SEQUENCE);
	body_frame(f, 9, 240.0f);
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_ERR_BAD_SEQUENCE);
	body_frame(f, 11, 240.0f);
	f->device_time_us = 5;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_ERR_BAD_SEQUENCE);
	/* Rejections changed nothing: the next frame in order is fine. */
	body_frame(f, 11, 240.0f);
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_OK);
	cr_expect_eq(res.flags & KM_PIPELINE_GAP, 0u);

	/* A few bad cells are replaced and flagged; a frame with many is refused. */
	body_frame(f, 13, 240.0f);
	f->kpa[0] = NAN;
	f->kpa[5] = -3.0f;
	f->kpa[7] = INFINITY;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_OK);
	cr_expect(res.flags & KM_PIPELINE_BAD_CELLS);
	cr_expect(res.flags & KM_PIPELINE_GAP, "sequence 12 was skipped");
	cr_expect_eq(res.bad_cells, 3);
	body_frame(f, 14, 240.0f);
	for (int i = 0; i < R * C / 2; i++)
		f->kpa[i] = NAN;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_ERR_NONFINITE);
	cr_expect_eq(res.bad_cells, (size_t)(R * C / 2));
	/* Sequence numbers wrap at 2^32. */
	km_pipeline_reset(p);
	body_frame(f, 0, 240.0f);
	f->sequence = 0xffffffffu;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_OK);
	f->sequence = 0;
	f->device_time_us += DT_US;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_OK);
	km_frame_destroy(f);
	km_frame_destroy(g);
	km_frame_destroy(h);
	km_pipeline_destroy(p);
}

Test(pipeline, no_allocation_per_frame)
{
	struct km_pipeline_config c = cfg_small();
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	uint64_t before = km__alloc_count();
	for (uint32_t s = 1; s <= 100; s++) {
		/* The knot moves and vanishes now and then, so tracks start and end. */
		body_frame(f, s, 200.0f + (float)(s % 40));
		if (s % 30 > 25)
			for (int i = 0; i < R * C; i++)
				f->kpa[i] = 0.0f;
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	}
	cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
	cr_expect_eq(km__alloc_count(), before, "%llu allocations in 100 frames",
	             (unsigned long long)(km__alloc_count() - before));
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

/* Oblong cells and a sensor mask, plain and normalised: still nothing
 * allocated per frame (the mask is copied once, at create). */
Test(pipeline, no_allocation_per_frame_oblong_and_masked)
{
	static uint8_t m[R * C];
	for (int i = 0; i < R * C; i++)
		m[i] = (i % C) < 28 || (i / C) > 8; /* a corner off the sensor */
	for (int nm = 0; nm < 2; nm++) {
		struct km_pipeline_config c = cfg_small();
		c.pitch_mm = sqrtf(12.0f * PITCH);
		c.row_pitch_mm = 12.0f;
		c.col_pitch_mm = PITCH;
		c.sensor_mask = m;
		c.normalized = nm;
		km_pipeline *p = NULL;
		cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
		struct km_frame *f = NULL;
		cr_assert_eq(km_frame_create(R, C, c.pitch_mm, KM_GEOMETRY_FLAT, &f), KM_OK);
		struct km_pipeline_result res;
		uint64_t before = km__alloc_count();
		for (uint32_t s = 1; s <= 100; s++) {
			body_frame(f, s, 200.0f + (float)(s % 40));
			if (s % 30 > 25)
				for (int i = 0; i < R * C; i++)
					f->kpa[i] = 0.0f;
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		}
		cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
		cr_expect_eq(km__alloc_count(), before, "%llu allocations in 100 frames",
		             (unsigned long long)(km__alloc_count() - before));
		km_frame_destroy(f);
		km_pipeline_destroy(p);
	}
}

Test(pipeline, each_knot_found_gets_one_lost)
{
	struct km_pipeline_config c = cfg_small();
	struct counter cnt = {0};
	c.on_event = on_event;
	c.user = &cnt;
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	/* The knot is there for 0.4 s, gone for 1 s, back at the same place:
	 * the same knot, found once (lost_after_s 10 s), lost at finish. With
	 * lost_after_s 0 it is lost at its END and found again: the same knot
	 * back (reason AGAIN, its id), not a new one.
	 * Temporal averaging off: it would carry a vanished spot for ~0.5-1 s. */
	c.average_tau_s = 0.0f;
	for (int immediate = 0; immediate <= 1; immediate++) {
		c.lost_after_s = immediate ? 0.0f : 10.0f;
		memset(&cnt, 0, sizeof cnt);
		km_pipeline_destroy(p);
		cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
		for (uint32_t s = 1; s <= 120; s++) {
			body_frame(f, s, (s > 20 && s <= 70) ? -500.0f : 240.0f);
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		}
		cr_expect_eq(cnt.found, immediate ? 2 : 1);
		cr_expect_eq(cnt.again, immediate ? 1 : 0);
		if (immediate)
			cr_expect_eq(cnt.found_id[1], cnt.found_id[0], "back under its id: %u, %u",
			             cnt.found_id[1], cnt.found_id[0]);
		cr_expect_eq(cnt.lost, immediate ? 1 : 0);
		cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
		cr_expect_eq(cnt.lost, immediate ? 2 : 1);
	}
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

/* A knot whose maximum hops from side to side of its own spot (a real
 * sheet's stripes under a still body: 22 mm right, then 22 mm left) is one
 * knot: each new track is measured against where the knot was announced,
 * not only where the last one ended (which walked 44 mm away). */
Test(pipeline, a_hopping_maximum_stays_one_knot)
{
	struct km_pipeline_config c = cfg_small();
	struct counter cnt = {0};
	c.on_event = on_event;
	c.user = &cnt;
	c.average_tau_s = 0.0f;
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	const float at[5] = {240.0f, -500.0f, 262.0f, -500.0f, 218.0f}; /* -500: gone */
	uint32_t s = 1;
	for (int phase = 0; phase < 5; phase++)
		for (int i = 0; i < 40; i++, s++) {
			body_frame(f, s, at[phase]);
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		}
	cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
	cr_expect_eq(cnt.found, 1, "one knot, announced %d times", cnt.found);
	cr_expect_eq(cnt.lost, 1);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

/* The detection floor follows the body's load (floor_fraction): a +30 %
 * spot on the light side of a body whose median cell presses 30 kPa is
 * under a tenth of that load (the floor then) and is not announced; with
 * the floor at min_response_kpa alone it is. */
Test(pipeline, floor_follows_the_body_load)
{
	int found[2];
	for (int on = 0; on <= 1; on++) {
		struct km_pipeline_config c = cfg_small();
		struct counter cnt = {0};
		c.on_event = on_event;
		c.user = &cnt;
		c.floor_fraction = on ? 0.1f : 0.0f;
		/* the halves are no mirror image of each other: the texture
		 * bars would hold the spot back whatever the floor */
		c.detect.texture_k = 0.0f;
		c.detect.texture_mirror_k = 0.0f;
		struct km_frame *f = NULL;
		km_pipeline *p = small_rig(&c, &f);
		struct km_pipeline_result res;
		for (uint32_t s = 1; s <= 100; s++) {
			f->sequence = s;
			f->device_time_us = (uint64_t)s * DT_US;
			for (int r = 0; r < R; r++)
				for (int col = 0; col < C; col++) {
					float v = col < 2 || col >= 30 ? 0.0f : col < 17 ? 30.0f : 5.0f;
					float dx = (col + 0.5f) * PITCH - 250.0f, dy = (r + 0.5f) * PITCH - 160.0f;
					if (col >= 17 && col < 30)
						v += 1.5f * expf(-(dx * dx + dy * dy) / (2.0f * 12.0f * 12.0f));
					f->kpa[r * C + col] = v;
				}
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		}
		found[on] = cnt.found;
		km_frame_destroy(f);
		km_pipeline_destroy(p);
	}
	cr_expect_eq(found[0], 1, "floor 0.25 kPa: the spot is found (%d)", found[0]);
	cr_expect_eq(found[1], 0, "floor 3 kPa: it is not (%d)", found[1]);
}

/* On counts (no scale: the kPa outline is off) a mat that reads a few
 * counts everywhere is not a body: the outline is relative to the map
 * (outline_fraction of its 99th-percentile cell), so the body model finds
 * the body's 160 mm, not the mat's 300. */
Test(pipeline, counts_outline_is_the_body_not_the_mat)
{
	float width[2];
	for (int rel = 0; rel <= 1; rel++) {
		struct km_pipeline_config c = cfg_small();
		km_pipeline_config_for_counts(&c);
		c.outline_fraction = rel ? 0.1f : 0.0f;
		struct km_frame *f = NULL;
		km_pipeline *p = small_rig(&c, &f);
		struct km_pipeline_result res;
		for (uint32_t s = 1; s <= 50; s++) {
			f->sequence = s;
			f->device_time_us = (uint64_t)s * DT_US;
			for (int i = 0; i < R * C; i++) {
				int col = i % C;
				f->kpa[i] = col >= 8 && col < 24 ? 200.0f : 5.0f + (float)((i * 7 + s) % 3);
			}
			f->flags |= KM_FRAME_UNCALIBRATED;
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		}
		cr_assert_not_null(res.body);
		cr_assert(res.body->found, "a body");
		width[rel] = res.body->right_mm - res.body->left_mm;
		km_frame_destroy(f);
		km_pipeline_destroy(p);
	}
	cr_expect_gt(width[0], 250.0f, "outline 0: the mat's %.0f mm", (double)width[0]);
	cr_expect(width[1] > 140.0f && width[1] < 180.0f, "relative: the body's %.0f mm",
	          (double)width[1]);
}

Test(pipeline, rejects_bad_config)
{
	struct km_pipeline_config c = cfg_small(), b;
	km_pipeline *p = (km_pipeline *)1;
	b = c;
	b.rows = 0;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_SHAPE);
	cr_expect_null(p);
	b = c;
	b.pitch_mm = -1.0f;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.max_events = 0;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.bandpass.ratio = 0.5f;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.tracker.gate_mm = 0.0f;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.confirm_s = 11.0f;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.average_tau_s = -0.1f;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.average_motion_mm = NAN;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_ERR_INVALID_ARG);
	b = c;
	b.detect.min_contrast = -1.0f;
	cr_expect_neq(km_pipeline_create(&b, &p), KM_OK);
	b = c;
	b.detect.max_scale_growth = 0.5f;
	cr_expect_neq(km_pipeline_create(&b, &p), KM_OK);
	b = c;
	b.rate_hz = 10.0f; /* below the guard's 25 Hz: runs with the guard off */
	cr_expect_eq(km_pipeline_create(&b, &p), KM_OK);
	km_pipeline_destroy(p);
	b.enable_guard = false;
	cr_expect_eq(km_pipeline_create(&b, &p), KM_OK);
	km_pipeline_destroy(p);
	cr_expect_eq(km_pipeline_create(NULL, &p), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_pipeline_create(&c, NULL), KM_ERR_INVALID_ARG);
	km_pipeline_destroy(NULL);
}

Test(pipeline, reset_forgets_order_and_tracks)
{
	struct km_pipeline_config c = cfg_small();
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	for (uint32_t s = 100; s < 110; s++) {
		body_frame(f, s, 240.0f);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	}
	cr_expect_eq(res.track_count, 1);
	km_pipeline_reset(p);
	/* A restarted stream (sequence 1, time 0) is accepted and ids restart. */
	for (uint32_t s = 1; s <= 3; s++) {
		body_frame(f, s, 240.0f);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	}
	cr_assert_eq(res.track_count, 1);
	cr_expect_eq(res.tracks[0].id, 1u);
	cr_expect_eq(res.tracks[0].state, KM_TRACK_START);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

struct stiff_seen {
	int n;
	float last;
};

static void on_stiff(void *user, const struct km_event *ev)
{
	struct stiff_seen *s = user;
	if (ev->type == KM_EVENT_STIFFNESS) {
		s->n++;
		s->last = ev->value;
	}
}

Test(pipeline, stiffness_index_from_breathing)
{
	/* 25 Hz, 40 s of breathing (0.25 Hz, 6 % load modulation): the knot's
	 * pressure follows the regional load in proportion to its 25 kPa, the
	 * ring around it to its 20 kPa: index ~ 1.25 (> 1: stiffer than around). */
	struct km_pipeline_config c = cfg_small();
	c.rate_hz = 25.0f;
	struct stiff_seen seen = {0, 0.0f};
	c.on_event = on_stiff;
	c.user = &seen;
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	for (uint32_t s = 1; s <= 1000; s++) {
		body_frame(f, s, 240.0f);
		f->device_time_us = (uint64_t)s * 40000u;
		float m = 1.0f + 0.06f * sinf(2.0f * 3.14159265f * 0.25f * (float)s / 25.0f);
		for (int i = 0; i < R * C; i++)
			f->kpa[i] *= m;
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	}
	cr_assert_gt(seen.n, 0, "no stiffness estimate in 40 s");
	cr_expect_gt(seen.last, 1.05f, "index %g", (double)seen.last);
	cr_expect_lt(seen.last, 1.5f, "index %g", (double)seen.last);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

Test(pipeline, short_blips_are_not_announced)
{
	/* announce_s = 1: a spot seen for 0.3 s is tracked but never announced
	 * (and so never "lost"); one seen for 2 s is announced once. */
	struct km_pipeline_config c = cfg_small();
	c.announce_s = 1.0f;
	struct counter cnt = {0};
	c.on_event = on_event;
	c.user = &cnt;
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	int tracked = 0;
	for (uint32_t s = 1; s <= 200; s++) {
		float x = s <= 15 ? 240.0f : (s <= 80 ? -500.0f : 240.0f);
		body_frame(f, s, x);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		if (s == 12)
			tracked = (int)res.track_count;
		if (s == 80)
			cr_expect_eq(cnt.found, 0, "the blip was announced");
	}
	cr_expect_eq(tracked, 1, "the blip is still tracked");
	cr_expect_eq(cnt.found, 1);
	cr_expect_eq(cnt.lost, 0);
	cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
	cr_expect_eq(cnt.lost, 1);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

/* xorshift + Box-Muller: reproducible sensor noise. */
static float noise_n(uint64_t *s)
{
	double u[2];
	for (int i = 0; i < 2; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 7;
		*s ^= *s << 17;
		u[i] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
	}
	return (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

/* A lying back of 4 kPa with a +25 % knot (1 kPa excess: below the old 2 kPa
 * floor) and 3 % white sensor noise per cell and frame: the relative-contrast
 * rule finds the knot, the temporally averaged map and the noise rule taken
 * from frame-to-frame differences keep noise maxima from becoming spots. */
Test(pipeline, weak_relative_knot_in_sensor_noise)
{
	struct km_pipeline_config c = cfg_small();
	struct km_frame *f = NULL;
	km_pipeline *p = small_rig(&c, &f);
	struct km_pipeline_result res;
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	size_t frames_with_knot = 0, false_spots = 0;
	for (uint32_t s = 1; s <= 150; s++) {
		f->sequence = s;
		f->device_time_us = (uint64_t)s * DT_US;
		for (int r = 0; r < R; r++)
			for (int cc = 0; cc < C; cc++) {
				float v = (cc >= 2 && cc < 30) ? 4.0f : 0.0f;
				float dx = (cc + 0.5f) * PITCH - 220.0f, dy = (r + 0.5f) * PITCH - 160.0f;
				if (v > 0.0f) {
					v *= 1.0f + 0.25f * expf(-(dx * dx + dy * dy) / (2.0f * 10.0f * 10.0f));
					v *= 1.0f + 0.03f * noise_n(&rng);
				}
				f->kpa[r * C + cc] = v;
			}
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		if (s <= 50)
			continue; /* 1 s: averaging and noise estimate settle */
		int hit = 0;
		for (size_t i = 0; i < res.track_count; i++) {
			const struct km_track *t = &res.tracks[i];
			if (t->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE))
				continue;
			float d = hypotf(t->x_mm - 220.0f, t->y_mm - 160.0f);
			if (d < 20.0f)
				hit = 1;
			else
				false_spots++;
		}
		frames_with_knot += (size_t)hit;
	}
	cr_expect_geq(frames_with_knot, 95, "knot seen in %zu of 100 frames", frames_with_knot);
	cr_expect_leq(false_spots, 5, "%zu false spot-frames", false_spots);
	/* The noise rule comes from the sensor: 3 % of 4 kPa per cell, reduced
	 * by the band-pass and the average, is far below the 0.3 kPa floor. */
	cr_expect_lt(res.noise_sd_kpa[0], 0.1f);
	cr_expect_gt(res.noise_sd_kpa[0], 0.0f);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
}

/* A lying back (4 kPa, 64 x 64 at 10 mm) with a bony peak of 16 kPa under
 * body weight (soft tissue around bears load), or a ball: the body lifted
 * off the mat within 60 mm of a 2 cm^2-like 200 kPa contact. */
static void lying_frame(struct km_frame *f, uint32_t seq, uint64_t t_us, int ball)
{
	f->sequence = seq;
	f->device_time_us = t_us;
	for (int r = 0; r < f->rows; r++)
		for (int c = 0; c < f->cols; c++) {
			float x = (c + 0.5f) * f->pitch_mm, y = (r + 0.5f) * f->pitch_mm;
			float v = (x > 120.0f && x < 520.0f) ? 4.0f : 0.0f;
			float dx = x - 400.0f, dy = y - 320.0f, d2 = dx * dx + dy * dy;
			if (ball == 0)
				v += 12.0f * expf(-d2 / (2.0f * 20.0f * 20.0f));
			else if (ball == 1)
				v = d2 < 60.0f * 60.0f ? 200.0f * expf(-d2 / (2.0f * 6.0f * 6.0f))
				                       : v;
			else if (r == 32 && c == 40)
				v = 400.0f; /* a stuck sensel in the lying body */
			f->kpa[r * f->cols + c] = v;
		}
}

struct hold_count {
	int engaged, tensing;
};

static void on_hold(void *user, const struct km_event *ev)
{
	struct hold_count *h = user;
	h->engaged += ev->type == KM_EVENT_HOLD_ENGAGED;
	h->tensing += ev->type == KM_EVENT_TENSING_UP;
}

static struct hold_count run_lying(int ball, float rate_hz, float seconds)
{
	struct km_pipeline_config c = km_pipeline_config_default();
	c.rows = c.cols = 64;
	c.pitch_mm = 10.0f;
	c.rate_hz = rate_hz;
	struct hold_count h = {0, 0};
	c.on_event = on_hold;
	c.user = &h;
	km_pipeline *p = NULL;
	struct km_frame *f = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	cr_assert_eq(km_frame_create(64, 64, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	struct km_pipeline_result res;
	unsigned n = (unsigned)(seconds * rate_hz);
	for (unsigned i = 0; i < n; i++) {
		lying_frame(f, i, (uint64_t)(i * 1e6 / rate_hz), ball);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		cr_assert_eq((res.flags & KM_PIPELINE_GUARD_OFF) != 0, rate_hz < 25.0f);
		/* the body model rides along in every result on a flat mat */
		cr_assert_not_null(res.body);
		cr_expect(res.body->found);
		cr_expect_lt(fabsf(res.body->midline_x_mm - 320.0f), 15.0f);
	}
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	return h;
}

Test(pipeline, bone_under_body_weight_starts_no_hold)
{
	struct hold_count h = run_lying(0, 25.0f, 12.0f);
	cr_expect_eq(h.engaged, 0, "a bony peak under body weight started %d holds", h.engaged);
	cr_expect_eq(h.tensing, 0);
}

Test(pipeline, a_stuck_cell_starts_no_hold)
{
	struct hold_count h = run_lying(2, 25.0f, 12.0f);
	cr_expect_eq(h.engaged, 0, "a lone stuck sensel started %d holds", h.engaged);
}

Test(pipeline, a_ball_starts_a_hold)
{
	struct hold_count h = run_lying(1, 25.0f, 12.0f);
	cr_expect_eq(h.engaged, 1, "a ball's contact started %d holds", h.engaged);
}

Test(pipeline, runs_at_one_frame_per_second)
{
	/* A bed mat at 1 Hz: no refusal, the guard off with its flag, the
	 * ball's hold still timed. */
	struct hold_count h = run_lying(1, 1.0f, 30.0f);
	cr_expect_eq(h.engaged, 1, "at 1 Hz the ball started %d holds", h.engaged);
	cr_expect_eq(h.tensing, 0);
	h = run_lying(0, 1.0f, 30.0f);
	cr_expect_eq(h.engaged, 0);
}

static int check_log_calls;
static void count_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	(void)msg;
	check_log_calls++;
}

Test(pipeline, config_check_says_why_and_agrees_with_create)
{
	struct km_pipeline_config c = km_pipeline_config_default();
	c.rows = 32;
	c.cols = 32;
	c.log.fn = count_log;
	c.log.max_level = KM_LOG_DEBUG;
	char why[200];
	struct {
		float rate, pitch;
		uint16_t rows;
		float noise_k;
		bool stiffness;
		int rc;
		const char *says;
	} cases[] = {
	    {100.0f, 10.0f, 32, 3.0f, true, KM_OK, ""},
	    {1.0f, 32.0f, 32, 3.0f, true, KM_OK, ""}, /* a bed mat: guard off, no refusal */
	    {100000.0f, 10.0f, 32, 3.0f, true, KM_ERR_INVALID_ARG, "above the 10000 Hz"},
	    {0.5f, 10.0f, 32, 3.0f, true, KM_ERR_INVALID_ARG, "below the 1 frame/s"},
	    {0.5f, 10.0f, 32, 3.0f, false, KM_OK, ""}, /* no breathing estimate: fine */
	    {0.0f, 10.0f, 32, 3.0f, true, KM_ERR_INVALID_ARG, "positive number of frames"},
	    {100.0f, 0.0f, 32, 3.0f, true, KM_ERR_INVALID_ARG, "pitch 0 mm"},
	    {100.0f, NAN, 32, 3.0f, true, KM_ERR_INVALID_ARG, "pitch"},
	    {100.0f, 10.0f, 0, 3.0f, true, KM_ERR_SHAPE, "grid of 0 x 32"},
	    {100.0f, 10.0f, 32, -1.0f, true, KM_ERR_INVALID_ARG, "detect"}, /* a stage's own */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct km_pipeline_config k = c;
		k.rate_hz = cases[i].rate;
		k.pitch_mm = cases[i].pitch;
		k.rows = cases[i].rows;
		k.detect.noise_k = cases[i].noise_k;
		k.enable_stiffness = cases[i].stiffness;
		check_log_calls = 0;
		int rc = km_pipeline_config_check(&k, why, sizeof why);
		cr_expect_eq(rc, cases[i].rc, "case %zu: %d (%s)", i, rc, why);
		cr_expect_eq(check_log_calls, 0, "case %zu: the check logs nothing", i);
		if (cases[i].rc == KM_OK)
			cr_expect_str_eq(why, "", "case %zu", i);
		else
			cr_expect(strstr(why, cases[i].says) != NULL, "case %zu: '%s' lacks '%s'",
			          i, why, cases[i].says);
		/* create accepts exactly what the check accepts */
		km_pipeline *p = NULL;
		k.log.fn = NULL;
		int crc = km_pipeline_create(&k, &p);
		cr_expect_eq(crc == KM_OK, rc == KM_OK, "case %zu: create %d, check %d", i, crc,
		             rc);
		km_pipeline_destroy(p);
	}
	/* a short buffer is cut, not overrun; NULL why is fine */
	struct km_pipeline_config k = c;
	k.rate_hz = 100000.0f;
	char tiny[8];
	memset(tiny, 'x', sizeof tiny);
	cr_expect_eq(km_pipeline_config_check(&k, tiny, sizeof tiny), KM_ERR_INVALID_ARG);
	cr_expect_eq(strlen(tiny), sizeof tiny - 1);
	cr_expect_eq(km_pipeline_config_check(&k, NULL, 0), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_pipeline_config_check(NULL, why, sizeof why), KM_ERR_INVALID_ARG);
}

Test(pipeline, counts_run_on_the_relative_rules)
{
	/* The same body in raw counts (x 37: no unit), flagged UNCALIBRATED:
	 * refused by default, tracked at the same place with
	 * km_pipeline_config_for_counts, also without any noise (no kPa floor,
	 * no noise: the threshold must not be 0). */
	for (int counts = 0; counts <= 1; counts++) {
		struct km_pipeline_config c = cfg_small();
		if (counts)
			km_pipeline_config_for_counts(&c);
		cr_expect_eq(c.counts, (bool)counts);
		struct km_frame *f = NULL;
		km_pipeline *p = small_rig(&c, &f);
		struct km_pipeline_result res;
		for (uint32_t s = 1; s <= 10; s++) {
			body_frame(f, s, 240.0f);
			for (int i = 0; i < R * C; i++)
				f->kpa[i] *= 37.0f;
			f->flags = KM_FRAME_UNCALIBRATED;
			int rc = km_pipeline_process(p, f, &res);
			cr_assert_eq(rc, counts ? KM_OK : KM_ERR_CALIBRATION, "rc %d", rc);
		}
		if (counts) {
			cr_assert_eq(res.track_count, 1, "%zu candidates", res.candidate_count);
			cr_expect_lt(fabsf(res.tracks[0].x_mm - 240.0f), 3.0f);
			cr_expect_eq(res.tracks[0].flags, 0);
		}
		km_frame_destroy(f);
		km_pipeline_destroy(p);
	}
	km_pipeline_config_for_counts(NULL); /* no crash */
}

/* A whole body lying on a 64 x 32 bed mat at 30 mm (1.92 x 0.96 m): head,
 * trunk, an arm each side, two legs, a knot-like bump on the back and one on
 * an arm; the bumps move a little so tracks start and end. */
static void bed_frame(struct km_frame *f, uint32_t seq)
{
	const int rows = 64, cols = 32;
	f->sequence = seq;
	f->device_time_us = (uint64_t)seq * 100000u; /* 10 Hz */
	float jig = (float)(seq % 7) * 4.0f;
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			bool head = r >= 2 && r <= 6 && c >= 14 && c <= 17;
			bool trunk = r >= 8 && r <= 34 && c >= 9 && c <= 22;
			bool arm = r >= 10 && r <= 30 && ((c >= 2 && c <= 6) || (c >= 25 && c <= 29));
			bool leg = r >= 36 && r <= 60 && ((c >= 10 && c <= 14) || (c >= 17 && c <= 21));
			float v = head || trunk || arm || leg ? 3.0f : 0.0f;
			float x = (c + 0.5f) * 30.0f, y = (r + 0.5f) * 30.0f;
			if (trunk)
				v += 1.2f * expf(-((x - 560.0f - jig) * (x - 560.0f - jig) +
				                   (y - 450.0f) * (y - 450.0f)) /
				                 (2.0f * 30.0f * 30.0f));
			if (arm)
				v += 1.2f * expf(-((x - 135.0f) * (x - 135.0f) +
				                   (y - 600.0f - jig) * (y - 600.0f - jig)) /
				                 (2.0f * 30.0f * 30.0f));
			f->kpa[r * cols + c] = v;
		}
}

Test(pipeline, no_allocation_per_frame_with_the_trunk_rule_on)
{
	/* With the rule (default) no spot is tracked on an arm, and nothing is
	 * allocated per frame; without it the arm's bump is a spot. */
	for (int gate = 1; gate >= 0; gate--) {
		struct km_pipeline_config c = km_pipeline_config_default();
		c.rows = 64;
		c.cols = 32;
		c.pitch_mm = 30.0f;
		c.rate_hz = 10.0f;
		c.lying_trunk_only = gate;
		c.knot_max_pitch_mm = 0.0f; /* 30 mm cells: the coarse rule would hide the arm */
		km_pipeline *p = NULL;
		cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
		struct km_frame *f = NULL;
		cr_assert_eq(km_frame_create(64, 32, 30.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
		struct km_pipeline_result res;
		bed_frame(f, 1);
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		cr_assert(res.body && res.body->found);
		cr_expect(res.body->posture == KM_POSTURE_SUPINE ||
		              res.body->posture == KM_POSTURE_PRONE,
		          "a whole body lying: %s", km_posture_name(res.body->posture));
		uint64_t before = km__alloc_count();
		int on_arm = 0;
		for (uint32_t s = 2; s <= 100; s++) {
			bed_frame(f, s);
			cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
			for (size_t i = 0; i < res.track_count; i++) {
				float x = res.tracks[i].x_mm;
				on_arm += !(res.tracks[i].flags & KM_CANDIDATE_LANDMARK) &&
				          (x < 220.0f || x > 740.0f);
			}
		}
		cr_assert_eq(km_pipeline_finish(p, &res), KM_OK);
		if (gate) {
			cr_expect_eq(km__alloc_count(), before, "%llu allocations in 99 frames",
			             (unsigned long long)(km__alloc_count() - before));
			cr_expect_eq(on_arm, 0, "%d track-frames on an arm with the rule", on_arm);
		} else {
			cr_expect_gt(on_arm, 0, "without the rule the arm's bump is a spot");
		}
		km_frame_destroy(f);
		km_pipeline_destroy(p);
	}
}

struct coarse_count {
	int found, engaged;
};

static void on_coarse(void *user, const struct km_event *ev)
{
	struct coarse_count *n = user;
	n->found += ev->type == KM_EVENT_KNOT_FOUND;
	n->engaged += ev->type == KM_EVENT_HOLD_ENGAGED;
}

/* The bed mat of bed_frame (30 mm cells, 10 Hz) for 30 s, with a ball under
 * the back (a 4 cm contact at a cell corner: 120 kPa on the four cells it
 * covers, the body lifted off the mat around it) or without; limit: knot_max_pitch_mm. Returns the
 * events and the frames that tracked a spot. */
static struct coarse_count run_bed(bool ball, float limit, int *tracked)
{
	struct km_pipeline_config c = km_pipeline_config_default();
	c.rows = 64;
	c.cols = 32;
	c.pitch_mm = 30.0f;
	c.rate_hz = 10.0f;
	c.knot_max_pitch_mm = limit;
	struct coarse_count n = {0, 0};
	c.on_event = on_coarse;
	c.user = &n;
	km_pipeline *p = NULL;
	struct km_frame *f = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	cr_assert_eq(km_frame_create(64, 32, 30.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	struct km_pipeline_result res;
	*tracked = 0;
	uint64_t allocs = 0;
	for (uint32_t s = 1; s <= 300; s++) {
		if (s == 2)
			allocs = km__alloc_count();
		bed_frame(f, s);
		for (int r = 0; ball && r < 64; r++)
			for (int cc = 0; cc < 32; cc++) {
				float dx = (cc + 0.5f) * 30.0f - 390.0f, dy = (r + 0.5f) * 30.0f - 600.0f;
				float d2 = dx * dx + dy * dy;
				if (d2 < 75.0f * 75.0f) /* each cell: its share of the contact */
					f->kpa[r * 32 + cc] = d2 < 30.0f * 30.0f ? 120.0f : 0.0f;
			}
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		cr_assert_eq((res.flags & KM_PIPELINE_COARSE) != 0, limit > 0.0f && limit < 30.0f);
		*tracked += res.track_count > 0;
	}
	cr_expect_eq(km__alloc_count(), allocs, "allocations per frame on 30 mm cells");
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	return n;
}

Test(pipeline, a_mat_coarser_than_a_knot_finds_spots_only_under_a_tool)
{
	/* 30 mm cells hold a whole knot (radius 7-25 mm) in one or two: lying
	 * alone, a bump on the back is not announced nor tracked... */
	int tracked;
	struct coarse_count n = run_bed(false, 25.0f, &tracked);
	cr_expect_eq(n.found, 0, "lying alone on 30 mm cells: %d spots announced", n.found);
	cr_expect_eq(tracked, 0, "lying alone on 30 mm cells: %d frames tracked a spot", tracked);
	/* ...which it is without the limit (the rule, not the bump, hides it)... */
	n = run_bed(false, 0.0f, &tracked);
	cr_expect_gt(n.found, 0, "without the limit the back's bump is a spot");
	/* ...while a ball's contact is tracked and its hold timed. */
	n = run_bed(true, 25.0f, &tracked);
	cr_expect_gt(tracked, 250, "a ball on 30 mm cells tracked in %d of 300 frames", tracked);
	cr_expect_eq(n.engaged, 1, "a ball on 30 mm cells: %d holds", n.engaged);
}

/* Oblong cells: a plateau of 20 kPa over the whole grid with a round knot
 * (a 5 kPa bump, sigma KNOT_SIGMA mm) at (kx, ky) mm from the grid's centre.
 * rows x cols cells of py x px mm; cell centres at ((c + 0.5) px,
 * (r + 0.5) py). Runs 10 frames and returns the strongest unlabelled track. */
#define KNOT_SIGMA 12.0f
static struct km_track oblong_knot(int rows, int cols, float py, float px, float kx, float ky)
{
	struct km_pipeline_config c = cfg_small();
	c.rows = (uint16_t)rows;
	c.cols = (uint16_t)cols;
	c.pitch_mm = sqrtf(py * px); /* what the frames carry */
	c.row_pitch_mm = py;
	c.col_pitch_mm = px;
	km_pipeline *p = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create((uint16_t)rows, (uint16_t)cols, c.pitch_mm, KM_GEOMETRY_FLAT,
	                             &f),
	             KM_OK);
	float x0 = 0.5f * (float)cols * px + kx, y0 = 0.5f * (float)rows * py + ky;
	struct km_pipeline_result res;
	for (uint32_t s = 1; s <= 10; s++) {
		f->sequence = s;
		f->device_time_us = (uint64_t)s * DT_US;
		for (int r = 0; r < rows; r++)
			for (int cc = 0; cc < cols; cc++) {
				float dx = ((float)cc + 0.5f) * px - x0, dy = ((float)r + 0.5f) * py - y0;
				f->kpa[r * cols + cc] =
				    20.0f + 5.0f * expf(-(dx * dx + dy * dy) /
				                        (2.0f * KNOT_SIGMA * KNOT_SIGMA));
			}
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
	}
	struct km_track best;
	memset(&best, 0, sizeof best);
	for (size_t i = 0; i < res.track_count; i++) {
		const struct km_track *t = &res.tracks[i];
		if (!(t->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE)) &&
		    t->response_kpa > best.response_kpa)
			best = *t;
	}
	cr_expect_eq(res.track_count, 1, "%zu tracks", res.track_count);
	/* the load: 20 kPa over rows x cols cells of py x px mm, plus the bump */
	float area_m2 = (float)(rows * cols) * py * px * 1e-6f;
	cr_expect_gt(res.total_load_n, 20e3f * area_m2);
	cr_expect_lt(res.total_load_n, 20e3f * area_m2 + 5.0f);
	cr_expect_float_eq(res.loaded_area_cm2, area_m2 * 1e4f, 0.5f);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	return best;
}

/* A 10.28 x 5.28 mm grid (rows x columns): the knot is found where it is,
 * in true mm per axis, to half a cell of each axis. With one pitch (the
 * geometric mean, 7.37 mm) x was off by ~95 mm and y by ~-48 mm. */
Test(pipeline, oblong_cells_knot_at_its_place)
{
	const float py = 10.28f, px = 5.28f;
	struct km_track t = oblong_knot(32, 64, py, px, 70.0f, 40.0f);
	cr_assert_gt(t.response_kpa, 0.0f, "knot not found");
	float x0 = 32.0f * px + 70.0f, y0 = 16.0f * py + 40.0f;
	cr_expect_lt(fabsf(t.x_mm - x0), 0.5f * px, "x %g mm, knot at %g", (double)t.x_mm,
	             (double)x0);
	cr_expect_lt(fabsf(t.y_mm - y0), 0.5f * py, "y %g mm, knot at %g", (double)t.y_mm,
	             (double)y0);
	/* a round spot of sigma 12 mm: the scale in mm, whatever the cells */
	cr_expect_lt(fabsf(t.scale_mm - KNOT_SIGMA), 4.0f, "scale %g mm", (double)t.scale_mm);
}

/* The same knot on the transposed grid (the finer pitch along the other
 * axis): the same detection, transposed. */
Test(pipeline, oblong_cells_detection_does_not_depend_on_the_fine_axis)
{
	const float fine = 5.28f, coarse = 10.28f;
	struct km_track a = oblong_knot(32, 64, coarse, fine, 70.0f, 40.0f);
	struct km_track b = oblong_knot(64, 32, fine, coarse, 40.0f, 70.0f);
	cr_assert_gt(a.response_kpa, 0.0f);
	cr_assert_gt(b.response_kpa, 0.0f);
	/* positions relative to the grids' centres, transposed */
	float ax = a.x_mm - 32.0f * fine, ay = a.y_mm - 16.0f * coarse;
	float bx = b.x_mm - 16.0f * coarse, by = b.y_mm - 32.0f * fine;
	cr_expect_lt(fabsf(ax - by), 0.5f * fine, "%g vs %g", (double)ax, (double)by);
	cr_expect_lt(fabsf(ay - bx), 0.5f * coarse, "%g vs %g", (double)ay, (double)bx);
	cr_expect_lt(fabsf(a.response_kpa - b.response_kpa), 0.05f * a.response_kpa,
	             "response %g vs %g kPa", (double)a.response_kpa, (double)b.response_kpa);
	cr_expect_lt(fabsf(a.scale_mm - b.scale_mm), 0.1f * a.scale_mm, "scale %g vs %g mm",
	             (double)a.scale_mm, (double)b.scale_mm);
}

/* Frames carry the geometric mean of the two pitches: another pitch is
 * another grid. */
Test(pipeline, oblong_cells_frame_pitch_is_the_geometric_mean)
{
	struct km_pipeline_config c = cfg_small();
	c.row_pitch_mm = 10.28f;
	c.col_pitch_mm = 5.28f;
	km_pipeline *p = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	struct km_frame *f = NULL;
	struct km_pipeline_result res;
	cr_assert_eq(km_frame_create(R, C, 10.28f, KM_GEOMETRY_FLAT, &f), KM_OK);
	f->sequence = 1;
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_ERR_SHAPE);
	f->pitch_mm = sqrtf(10.28f * 5.28f);
	cr_expect_eq(km_pipeline_process(p, f, &res), KM_OK);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	c.row_pitch_mm = -1.0f;
	char why[160];
	cr_expect_eq(km_pipeline_config_check(&c, why, sizeof why), KM_ERR_INVALID_ARG);
	cr_expect(strstr(why, "row pitch") != NULL, "%s", why);
}

/* A body (48 x 48 at 10 mm, columns 4..43 loaded, a smooth 30 % dome, 3 %
 * sensor noise) with a block of cells outside the sensor cut into the
 * loaded area (rows 16..23, columns 28..35: a Tekscan sensor's B cells),
 * read as 0; optionally a knot (+25 %, sigma 12 mm) at (knot_r, knot_c).
 * mask: the pipeline is told which cells are off the sensor. Counts the
 * candidate-frames (after 1 s) on or within 2 cells of the block, and the
 * frames with a candidate within 20 mm of the knot. */
#define MB_N 48
struct masked_run {
	int near_block, knot_frames, bad_flagged;
};
static bool in_block(int r, int c)
{
	return r >= 16 && r < 24 && c >= 28 && c < 36;
}
static struct masked_run masked_block_run(bool normalized, bool mask, float knot_r, float knot_c,
                                          bool nan_in_block)
{
	struct km_pipeline_config c = cfg_small();
	c.rows = c.cols = MB_N;
	c.normalized = normalized;
	static uint8_t m[MB_N * MB_N];
	for (int r = 0; r < MB_N; r++)
		for (int cc = 0; cc < MB_N; cc++)
			m[r * MB_N + cc] = !in_block(r, cc);
	if (mask)
		c.sensor_mask = m;
	km_pipeline *p = NULL;
	cr_assert_eq(km_pipeline_create(&c, &p), KM_OK);
	memset(m, 0, sizeof m); /* the pipeline keeps its own copy */
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(MB_N, MB_N, PITCH, KM_GEOMETRY_FLAT, &f), KM_OK);
	struct km_pipeline_result res;
	struct masked_run out = {0, 0, 0};
	uint64_t rng = 0x243F6A8885A308D3ull;
	for (uint32_t s = 1; s <= 100; s++) {
		f->sequence = s;
		f->device_time_us = (uint64_t)s * DT_US;
		for (int r = 0; r < MB_N; r++)
			for (int cc = 0; cc < MB_N; cc++) {
				float v = (cc >= 4 && cc < 44) ? 20.0f : 0.0f;
				float dx = (cc + 0.5f) * PITCH - 240.0f, dy = (r + 0.5f) * PITCH - 240.0f;
				float kx = (cc + 0.5f) * PITCH - (knot_c + 0.5f) * PITCH,
				      ky = (r + 0.5f) * PITCH - (knot_r + 0.5f) * PITCH;
				if (v > 0.0f) {
					v *= 1.0f + 0.3f * expf(-(dx * dx + dy * dy) / (2.0f * 120.0f * 120.0f));
					if (knot_r >= 0.0f)
						v *= 1.0f + 0.25f * expf(-(kx * kx + ky * ky) /
						                         (2.0f * 12.0f * 12.0f));
					v *= 1.0f + 0.03f * noise_n(&rng);
				}
				if (in_block(r, cc))
					v = nan_in_block ? NAN : 0.0f;
				f->kpa[r * MB_N + cc] = v;
			}
		cr_assert_eq(km_pipeline_process(p, f, &res), KM_OK);
		out.bad_flagged += (res.flags & KM_PIPELINE_BAD_CELLS) != 0;
		if (s <= 50)
			continue;
		bool knot = false;
		for (size_t i = 0; i < res.candidate_count; i++) {
			const struct km_candidate *k = &res.candidates[i];
			if (k->row >= 14 && k->row < 26 && k->col >= 26 && k->col < 38)
				out.near_block++;
			cr_expect(!in_block(k->row, k->col), "a candidate on a cell off the sensor");
			if (knot_r >= 0.0f &&
			    hypotf(k->x_mm - (knot_c + 0.5f) * PITCH, k->y_mm - (knot_r + 0.5f) * PITCH) <
			        20.0f)
				knot = true;
		}
		out.knot_frames += knot;
	}
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	return out;
}

/* Cells off the sensor read as 0 look like unloaded skin: with the plain
 * DoG (normalized false) the loaded cells around them are a relative
 * excess and make candidates at the block's edge. Told they are off the
 * sensor, the pipeline gives them no weight: no candidate on or beside it. */
Test(pipeline, sensor_mask_block_makes_no_edge_candidates)
{
	struct masked_run zeros = masked_block_run(false, false, -1.0f, -1.0f, false);
	cr_expect_gt(zeros.near_block, 10, "the zeros' edge made %d candidate-frames",
	             zeros.near_block);
	struct masked_run masked = masked_block_run(false, true, -1.0f, -1.0f, false);
	cr_expect_eq(masked.near_block, 0, "%d candidate-frames beside the masked block",
	             masked.near_block);
	/* the normalised band-pass (the default) too */
	struct masked_run norm = masked_block_run(true, true, -1.0f, -1.0f, false);
	cr_expect_eq(norm.near_block, 0, "%d candidate-frames beside the masked block",
	             norm.near_block);
}

/* A knot four cells from the block (beyond the support test's reach) is
 * still found, in both modes, and the block makes no other candidate. */
Test(pipeline, sensor_mask_knot_beside_the_block_is_found)
{
	for (int nm = 0; nm < 2; nm++) {
		struct masked_run k = masked_block_run(nm, true, 19.5f, 23.0f, false);
		cr_expect_geq(k.knot_frames, 45, "normalized %d: knot seen in %d of 50 frames", nm,
		              k.knot_frames);
	}
}

/* Off the sensor a frame's value is no data: NaN there is not a bad cell. */
Test(pipeline, sensor_mask_cells_are_no_bad_cells)
{
	struct masked_run nan_masked = masked_block_run(true, true, -1.0f, -1.0f, true);
	cr_expect_eq(nan_masked.bad_flagged, 0);
	struct masked_run nan_plain = masked_block_run(true, false, -1.0f, -1.0f, true);
	cr_expect_eq(nan_plain.bad_flagged, 100);
	/* a mask that leaves no cell is refused */
	struct km_pipeline_config c = cfg_small();
	static uint8_t none[R * C];
	c.sensor_mask = none;
	km_pipeline *p = NULL;
	cr_expect_eq(km_pipeline_create(&c, &p), KM_ERR_INVALID_ARG);
	cr_expect_null(p);
}
