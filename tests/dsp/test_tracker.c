/* Tracker: ids through crossings, gates, confirmation, exactly one END. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/tracker.h"

#define DT_US 10000u /* 100 Hz */

static struct km_candidate cand(float x, float y)
{
	struct km_candidate c;
	memset(&c, 0, sizeof c);
	c.x_mm = x;
	c.y_mm = y;
	c.scale_mm = 10.0f;
	c.response_kpa = 5.0f;
	return c;
}

static km_tracker *mk(float wrap)
{
	struct km_tracker_config c = km_tracker_config_default();
	c.wrap_x_mm = wrap;
	km_tracker *t = NULL;
	cr_assert_eq(km_tracker_create(&c, &t), KM_OK);
	return t;
}

static const struct km_track *find(const struct km_tracker_result *r, uint32_t id)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->tracks[i].id == id)
			return &r->tracks[i];
	return NULL;
}

Test(tracker, confirms_after_three_hits)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate c = cand(100, 100);
	for (unsigned f = 0; f < 6; f++) {
		cr_assert_eq(km_tracker_update(t, &c, 1, f * DT_US, &r), KM_OK);
		if (f < 2) {
			cr_expect_eq(r.count, 0, "frame %u", f);
			cr_expect_eq(r.tentative, 1);
		} else {
			cr_assert_eq(r.count, 1);
			cr_expect_eq(r.tracks[0].id, 1u);
			cr_expect_eq(r.tracks[0].state, f == 2 ? KM_TRACK_START : KM_TRACK_MOVE);
			cr_expect_float_eq(r.tracks[0].x_mm, 100.0f, 1e-3f);
			cr_expect_float_eq(r.tracks[0].area_mm2, 314.159f, 0.1f);
		}
	}
	km_tracker_destroy(t);
}

Test(tracker, three_of_five_with_gaps)
{
	/* Hits at frames 0, 2, 4 confirm at frame 4; hits at 0 and 4 only never do. */
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate c = cand(50, 50);
	for (unsigned f = 0; f < 5; f++) {
		int hit = f % 2 == 0;
		cr_assert_eq(km_tracker_update(t, &c, hit ? 1 : 0, f * DT_US, &r), KM_OK);
		cr_expect_eq(r.count, f == 4 ? 1u : 0u, "frame %u", f);
	}
	cr_expect_eq(r.tracks[0].state, KM_TRACK_START);
	km_tracker_reset(t);
	for (unsigned f = 0; f < 8; f++) {
		int hit = f == 0 || f == 4;
		cr_assert_eq(km_tracker_update(t, &c, hit ? 1 : 0, f * DT_US, &r), KM_OK);
		cr_expect_eq(r.count, 0u, "frame %u", f);
	}
	km_tracker_destroy(t);
}

Test(tracker, keeps_ids_through_a_crossing)
{
	/* A moves right, B moves left, 6 mm apart in y, 4 mm per frame: at the
	 * crossing each candidate is inside both gates; the prediction keeps the
	 * identities. */
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	uint32_t id_a = 0, id_b = 0;
	for (unsigned f = 0; f < 60; f++) {
		float xa = 20.0f + 4.0f * (float)f, xb = 256.0f - 4.0f * (float)f;
		struct km_candidate c[2] = {cand(xb, 106.0f), cand(xa, 100.0f)};
		if (f % 2) { /* order of the list must not matter */
			struct km_candidate tmp = c[0];
			c[0] = c[1];
			c[1] = tmp;
		}
		cr_assert_eq(km_tracker_update(t, c, 2, f * DT_US, &r), KM_OK);
		if (f < 2)
			continue;
		cr_assert_eq(r.count, 2, "frame %u", f);
		for (size_t i = 0; i < 2; i++) {
			const struct km_track *k = &r.tracks[i];
			uint32_t *mine = k->y_mm < 103.0f ? &id_a : &id_b;
			if (!*mine)
				*mine = k->id;
			cr_assert_eq(k->id, *mine, "frame %u: id %u switched", f, k->id);
			float want = k->id == id_a ? xa : xb;
			cr_expect_lt(fabsf(k->x_mm - want), 4.0f, "frame %u", f);
		}
	}
	cr_expect_neq(id_a, id_b);
	km_tracker_destroy(t);
}

Test(tracker, gated_jump_makes_a_new_id)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate a = cand(100, 100), b = cand(150, 100);
	unsigned f = 0;
	for (; f < 5; f++)
		cr_assert_eq(km_tracker_update(t, &a, 1, f * DT_US, &r), KM_OK);
	cr_assert_eq(r.count, 1);
	cr_expect_eq(r.tracks[0].id, 1u);
	int ended = 0, started2 = 0;
	for (; f < 80; f++) {
		cr_assert_eq(km_tracker_update(t, &b, 1, f * DT_US, &r), KM_OK);
		const struct km_track *k1 = find(&r, 1), *k2 = find(&r, 2);
		if (k1) {
			cr_expect_not(ended, "id 1 reported after its END");
			cr_expect_float_eq(k1->x_mm, 100.0f, 0.01f, "old track must not jump");
			if (k1->state == KM_TRACK_END) {
				ended = 1;
				/* 0.5 s after the last hit at frame 4. */
				cr_expect_eq(f, 4 + 50);
			}
		}
		if (k2 && k2->state == KM_TRACK_START)
			started2++;
	}
	cr_expect(ended);
	cr_expect_eq(started2, 1);
	km_tracker_destroy(t);
}

Test(tracker, coasts_through_short_misses)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate a = cand(80, 80);
	for (unsigned f = 0; f < 5; f++)
		km_tracker_update(t, &a, 1, f * DT_US, &r);
	/* 0.4 s of misses: still alive, reporting MOVE with missed > 0. */
	for (unsigned f = 5; f < 45; f++) {
		cr_assert_eq(km_tracker_update(t, NULL, 0, f * DT_US, &r), KM_OK);
		cr_assert_eq(r.count, 1);
		cr_expect_eq(r.tracks[0].state, KM_TRACK_MOVE);
		cr_expect_eq(r.tracks[0].missed, f - 4);
	}
	cr_assert_eq(km_tracker_update(t, &a, 1, 45 * DT_US, &r), KM_OK);
	cr_assert_eq(r.count, 1);
	cr_expect_eq(r.tracks[0].id, 1u);
	cr_expect_eq(r.tracks[0].missed, 0);
	km_tracker_destroy(t);
}

static void start_end_schedule(unsigned remember)
{
	/* Six spots at fixed places appear and vanish on a pseudo-random
	 * schedule; every START of an id is followed by MOVEs and exactly one
	 * END (flush at the end). With spot memory a spot found again keeps
	 * its id: six ids at most; without, each return is a new id. */
	struct km_tracker_config tc = km_tracker_config_default();
	tc.remember_spots = remember;
	km_tracker *t = NULL;
	cr_assert_eq(km_tracker_create(&tc, &t), KM_OK);
	struct km_tracker_result r;
	enum { MAXID = 200 };
	int starts[MAXID] = {0}, ends[MAXID] = {0};
	uint32_t s = 7;
	int on[6] = {0};
	for (unsigned f = 0; f < 600; f++) {
		struct km_candidate c[6];
		size_t n = 0;
		for (int k = 0; k < 6; k++) {
			s = s * 1664525u + 1013904223u;
			if ((s >> 24) < 6)
				on[k] = !on[k];
			s = s * 1664525u + 1013904223u;
			int missed = (s >> 24) < 40; /* ~15 % detection misses */
			if (on[k] && !missed)
				c[n++] = cand(30.0f + 40.0f * (float)k, 60.0f + (float)(f % 7));
		}
		cr_assert_eq(km_tracker_update(t, c, n, (uint64_t)f * DT_US, &r), KM_OK);
		for (size_t i = 0; i < r.count; i++) {
			uint32_t id = r.tracks[i].id;
			cr_assert(id > 0 && id < MAXID);
			/* An id may come back (the same spot found again), but
			 * only after its END: START, MOVE..., END, START, ... */
			if (r.tracks[i].state == KM_TRACK_START) {
				cr_assert_eq(starts[id], ends[id], "id %u started twice", id);
				starts[id]++;
			} else {
				cr_assert_eq(starts[id], ends[id] + 1,
				             "id %u MOVE/END before START", id);
			}
			if (r.tracks[i].state == KM_TRACK_END)
				ends[id]++;
		}
	}
	cr_assert_eq(km_tracker_flush(t, &r), KM_OK);
	for (size_t i = 0; i < r.count; i++) {
		cr_expect_eq(r.tracks[i].state, KM_TRACK_END);
		ends[r.tracks[i].id]++;
	}
	int ids = 0;
	for (int id = 1; id < MAXID; id++) {
		if (!starts[id])
			continue;
		ids++;
		cr_expect_eq(starts[id], ends[id], "id %d: %d starts, %d ends", id, starts[id],
		             ends[id]);
		if (!remember)
			cr_expect_eq(starts[id], 1, "id %d", id);
	}
	if (remember)
		cr_expect_leq(ids, 6, "six spots were given %d ids", ids);
	else
		cr_expect_gt(ids, 6, "schedule should create several ids");
	km_tracker_destroy(t);
}

Test(tracker, each_id_exactly_one_start_and_end)
{
	start_end_schedule(0);
}

Test(tracker, a_spot_found_again_keeps_its_id)
{
	start_end_schedule(256);
	/* Lost for a second and found again 5 mm away: id 1 again; a spot
	 * 60 mm away is a new one. */
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	uint64_t us = 0;
	for (unsigned f = 0; f < 10; f++, us += DT_US) {
		struct km_candidate a = cand(100, 100);
		cr_assert_eq(km_tracker_update(t, &a, 1, us, &r), KM_OK);
	}
	cr_assert_eq(r.count, 1);
	cr_expect_eq(r.tracks[0].id, 1u);
	for (unsigned f = 0; f < 100; f++, us += DT_US)
		cr_assert_eq(km_tracker_update(t, NULL, 0, us, &r), KM_OK);
	for (unsigned f = 0; f < 10; f++, us += DT_US) {
		struct km_candidate c[2] = {cand(105, 100), cand(160, 100)};
		cr_assert_eq(km_tracker_update(t, c, 2, us, &r), KM_OK);
	}
	cr_assert_eq(r.count, 2);
	const struct km_track *back = find(&r, 1u);
	cr_assert_not_null(back, "the spot found again lost its id");
	cr_expect_lt(fabsf(back->x_mm - 105.0f), 3.0f);
	cr_expect_not_null(find(&r, 2u));
	km_tracker_destroy(t);
}

Test(tracker, wraps_around_a_cylinder)
{
	/* Circumference 300 mm: a spot moving from 290 to 10 mm keeps its id. */
	km_tracker *t = mk(300.0f);
	struct km_tracker_result r;
	for (unsigned f = 0; f < 20; f++) {
		float x = fmodf(280.0f + 3.0f * (float)f, 300.0f);
		struct km_candidate c = cand(x, 50);
		cr_assert_eq(km_tracker_update(t, &c, 1, f * DT_US, &r), KM_OK);
		if (f >= 2) {
			cr_assert_eq(r.count, 1, "frame %u", f);
			cr_expect_eq(r.tracks[0].id, 1u);
			cr_expect_geq(r.tracks[0].x_mm, 0.0f);
			cr_expect_lt(r.tracks[0].x_mm, 300.0f);
		}
	}
	km_tracker_destroy(t);
}

Test(tracker, rejects_time_going_backwards)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate c = cand(10, 10);
	cr_assert_eq(km_tracker_update(t, &c, 1, 1000000, &r), KM_OK);
	cr_expect_eq(km_tracker_update(t, &c, 1, 999999, &r), KM_ERR_BAD_SEQUENCE);
	cr_expect_eq(km_tracker_update(t, NULL, 1, 1000001, &r), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_tracker_update(t, &c, 1, 1000000, NULL), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_tracker_update(t, &c, 1, 1010000, &r), KM_OK);
	km_tracker_destroy(t);
}

Test(tracker, rejects_bad_config)
{
	struct km_tracker_config c = km_tracker_config_default(), b;
	km_tracker *t = (km_tracker *)1;
	b = c;
	b.gate_mm = 0.0f;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	cr_expect_null(t);
	b = c;
	b.confirm_hits = 6;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	b = c;
	b.confirm_window = 33;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	b = c;
	b.delete_after_s = NAN;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	b = c;
	b.max_tracks = 0;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	b = c;
	b.alpha = 0.0f;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	b = c;
	b.wrap_x_mm = -1.0f;
	cr_expect_eq(km_tracker_create(&b, &t), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_tracker_create(NULL, &t), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_tracker_create(&c, NULL), KM_ERR_INVALID_ARG);
	km_tracker_destroy(NULL);
}

Test(tracker, reset_restarts_ids_and_no_alloc)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate c[3] = {cand(10, 10), cand(60, 10), cand(110, 10)};
	uint64_t before = km__alloc_count();
	for (unsigned f = 0; f < 100; f++)
		cr_assert_eq(km_tracker_update(t, c, 3, f * DT_US, &r), KM_OK);
	cr_expect_eq(km__alloc_count(), before);
	cr_assert_eq(r.count, 3);
	cr_expect_eq(r.tracks[2].id, 3u);
	km_tracker_reset(t);
	/* Time may restart after a reset. */
	for (unsigned f = 0; f < 3; f++)
		cr_assert_eq(km_tracker_update(t, &c[1], 1, f * DT_US, &r), KM_OK);
	cr_assert_eq(r.count, 1);
	cr_expect_eq(r.tracks[0].id, 1u);
	km_tracker_destroy(t);
}

Test(tracker, weak_candidates_only_continue_confirmed_tracks)
{
	km_tracker *t = mk(0);
	struct km_tracker_result r;
	struct km_candidate w = cand(100, 100);
	w.flags = KM_CANDIDATE_WEAK;
	/* Weak alone: never a track. */
	for (unsigned f = 0; f < 6; f++)
		cr_assert_eq(km_tracker_update(t, &w, 1, f * DT_US, &r), KM_OK);
	cr_expect_eq(r.count, 0);
	cr_expect_eq(r.tentative, 0);
	/* Confirmed by strong hits, then kept alive by weak ones past 0.5 s. */
	struct km_candidate s = cand(100, 100);
	unsigned f = 6;
	for (; f < 10; f++)
		km_tracker_update(t, &s, 1, f * DT_US, &r);
	cr_assert_eq(r.count, 1);
	uint32_t id = r.tracks[0].id;
	for (; f < 200; f++) {
		cr_assert_eq(km_tracker_update(t, &w, 1, f * DT_US, &r), KM_OK);
		cr_assert_eq(r.count, 1);
		cr_expect_eq(r.tracks[0].id, id);
		cr_expect_eq(r.tracks[0].state, KM_TRACK_MOVE);
	}
	km_tracker_destroy(t);
}

Test(tracker, a_spot_hopping_a_coarse_cell_keeps_one_id)
{
	/* A 32 mm grid at 1 Hz: the maximum hops between two cells 33 mm apart
	 * every few frames, with misses. With same_spot_mm 48 (1.5 pitches, as
	 * the pipeline sets it) it stays one id; with the 20 mm gate alone the
	 * track is lost and a new id starts. */
	for (int coarse = 0; coarse <= 1; coarse++) {
		struct km_tracker_config c = km_tracker_config_default();
		c.gate_mm = 20.0f;
		c.delete_after_s = 2.5f;
		c.same_spot_mm = coarse ? 48.0f : 0.0f;
		km_tracker *t = NULL;
		cr_assert_eq(km_tracker_create(&c, &t), KM_OK);
		struct km_tracker_result r;
		uint32_t max_id = 0;
		for (unsigned f = 0; f < 60; f++) {
			struct km_candidate k = (f / 8) % 2 ? cand(595, 830) : cand(572, 854);
			int miss = f % 8 == 0 && f > 0;
			cr_assert_eq(km_tracker_update(t, &k, miss ? 0 : 1, (uint64_t)f * 1000000u, &r),
			             KM_OK);
			for (size_t i = 0; i < r.count; i++)
				max_id = r.tracks[i].id > max_id ? r.tracks[i].id : max_id;
		}
		if (coarse)
			cr_expect_eq(max_id, 1u, "a hopping spot got %u ids", max_id);
		else
			cr_expect_gt(max_id, 1u, "the 20 mm gate should lose the hop");
		km_tracker_destroy(t);
	}
}
