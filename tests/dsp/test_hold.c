/* Hold timer state machine: scripted load traces, event times exact to a frame. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/hold.h"

#define FRAME_US 10000ull /* 100 Hz */
#define S(sec) ((uint64_t)llround((sec)*1e6))
#define MAXEV 256

struct rec {
	struct km_event ev[MAXEV];
	size_t n;
};

static void on_event(void *user, const struct km_event *ev)
{
	struct rec *r = user;
	if (r->n < MAXEV)
		r->ev[r->n++] = *ev;
}

struct sim {
	km_hold *h;
	struct rec rec;
	struct km_event_sink sink;
	uint64_t t;
	uint32_t seq;
};

static void sim_init(struct sim *s, const struct km_hold_config *cfg)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(km_hold_create(cfg, &s->h), KM_OK);
	s->sink.fn = on_event;
	s->sink.user = &s->rec;
}

static struct km_hold_input knot(uint32_t id, float load, float x, float y)
{
	struct km_hold_input in;
	memset(&in, 0, sizeof(in));
	in.track_id = id;
	in.knot_id = 100 + id;
	in.x_mm = x;
	in.y_mm = y;
	in.load_kpa = load;
	in.spine_distance_mm = NAN;
	return in;
}

/* Runs frames from s->t (inclusive) until t_end (exclusive) with one input
 * (or none when in == NULL). */
static void run_until(struct sim *s, double t_end, const struct km_hold_input *in)
{
	while (s->t < S(t_end)) {
		cr_assert_eq(km_hold_execute(s->h, s->t, s->seq++, in, in ? 1 : 0, &s->sink),
		             KM_OK);
		s->t += FRAME_US;
	}
}

static const struct km_event *find(const struct sim *s, enum km_event_type type, size_t nth)
{
	for (size_t i = 0; i < s->rec.n; i++)
		if (s->rec.ev[i].type == type && nth-- == 0)
			return &s->rec.ev[i];
	return NULL;
}

static size_t count(const struct sim *s, enum km_event_type type)
{
	size_t n = 0;
	for (size_t i = 0; i < s->rec.n; i++)
		n += s->rec.ev[i].type == type;
	return n;
}

/* Event time equals `sec` to within one frame. */
static void expect_at(const struct sim *s, enum km_event_type type, size_t nth, double sec)
{
	const struct km_event *e = find(s, type, nth);
	cr_assert_not_null(e, "no %s #%zu", km_event_type_name(type), nth);
	double d = fabs((double)e->time_us - (double)S(sec));
	cr_assert_leq(d, (double)FRAME_US, "%s #%zu at %.3f s, expected %.3f s",
	              km_event_type_name(type), nth, (double)e->time_us * 1e-6, sec);
}

Test(hold, full_hold_engage_settle_target_release_hard_stop)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	run_until(&s, 1.0, NULL);
	run_until(&s, 100.0, &k);
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 0, 1.0 + 2.0);
	expect_at(&s, KM_EVENT_HOLD_STARTED, 0, 3.0 + 5.0);
	/* The timer counts from HOLD_ENGAGED (3 s): settling is held time. */
	cr_assert_float_eq(find(&s, KM_EVENT_HOLD_STARTED, 0)->held_s, 5.0f, 0.011f);
	expect_at(&s, KM_EVENT_HOLD_TARGET, 0, 3.0 + 30.0);
	expect_at(&s, KM_EVENT_HOLD_RELEASE, 0, 3.0 + 60.0);
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 3.0 + 90.0);
	const struct km_event *st = find(&s, KM_EVENT_HOLD_STOPPED, 0);
	cr_assert_eq(st->reason, KM_REASON_HARD_STOP);
	cr_assert_float_eq(st->held_s, 90.0f, 0.011f);
	cr_assert_float_eq(st->dose_kpa_s, 50.0f * 90.0f, 1.0f);
	cr_assert_eq(st->hold_index, 1);
	cr_assert_eq(st->track_id, 1);
	cr_assert_eq(st->knot_id, 101);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_STOPPED), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_PAUSED), 0);
	struct km_hold_status hs;
	cr_assert_eq(km_hold_status(s.h, 1, &hs), KM_OK);
	cr_assert_eq(hs.state, KM_HOLD_BLOCKED, "still loaded after the stop: blocked");
	km_hold_destroy(s.h);
}

/* count_settling off: the timer starts at HOLD_STARTED (docs/signal-model.md as
 * first written). */
Test(hold, settling_not_counted_when_disabled)
{
	struct km_hold_config cfg = km_hold_config_default();
	cfg.count_settling = false;
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	run_until(&s, 1.0, NULL);
	run_until(&s, 100.0, &k);
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 0, 1.0 + 2.0);
	expect_at(&s, KM_EVENT_HOLD_STARTED, 0, 3.0 + 5.0);
	cr_assert_float_eq(find(&s, KM_EVENT_HOLD_STARTED, 0)->held_s, 0.0f, 0.011f);
	expect_at(&s, KM_EVENT_HOLD_TARGET, 0, 8.0 + 30.0);
	expect_at(&s, KM_EVENT_HOLD_RELEASE, 0, 8.0 + 60.0);
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 8.0 + 90.0);
	const struct km_event *st = find(&s, KM_EVENT_HOLD_STOPPED, 0);
	cr_assert_eq(st->reason, KM_REASON_HARD_STOP);
	cr_assert_float_eq(st->held_s, 90.0f, 0.011f);
	cr_assert_float_eq(st->dose_kpa_s, 50.0f * 90.0f, 1.0f);
	cr_assert_eq(st->hold_index, 1);
	cr_assert_eq(st->track_id, 1);
	cr_assert_eq(st->knot_id, 101);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_STOPPED), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_PAUSED), 0);
	struct km_hold_status hs;
	cr_assert_eq(km_hold_status(s.h, 1, &hs), KM_OK);
	cr_assert_eq(hs.state, KM_HOLD_BLOCKED, "still loaded after the stop: blocked");
	km_hold_destroy(s.h);
}

Test(hold, short_unload_pauses_without_reset)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	struct km_hold_input off = knot(1, 2.0f, 100.0f, 200.0f);
	run_until(&s, 20.0, &k); /* engaged 2 s (timer from here), started 7 s */
	run_until(&s, 21.5, &off);
	run_until(&s, 40.0, &k);
	expect_at(&s, KM_EVENT_HOLD_STARTED, 0, 7.0);
	expect_at(&s, KM_EVENT_HOLD_PAUSED, 0, 20.0);
	expect_at(&s, KM_EVENT_HOLD_RESUMED, 0, 21.5);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_PAUSED, 0)->reason, KM_REASON_UNLOADED);
	cr_assert_float_eq(find(&s, KM_EVENT_HOLD_RESUMED, 0)->value, 1.5f, 0.011f);
	cr_assert_float_eq(find(&s, KM_EVENT_HOLD_PAUSED, 0)->held_s, 18.0f, 0.011f);
	/* The paused 1.5 s (and the frame interval where it began/ended) are not
	 * timed; nothing is reset. */
	const struct km_event *tg = find(&s, KM_EVENT_HOLD_TARGET, 0);
	cr_assert_not_null(tg);
	double tt = (double)tg->time_us * 1e-6;
	cr_assert(tt >= 2.0 + 30.0 + 1.5 - 1e-9 && tt <= 2.0 + 30.0 + 1.5 + 0.0201, "target at %f",
	          tt);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_STOPPED), 0);
	km_hold_destroy(s.h);
}

Test(hold, long_unload_stops)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	struct km_hold_input off = knot(1, 0.0f, 100.0f, 200.0f);
	run_until(&s, 20.0, &k);
	run_until(&s, 25.0, &off);
	expect_at(&s, KM_EVENT_HOLD_PAUSED, 0, 20.0);
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 22.0);
	const struct km_event *st = find(&s, KM_EVENT_HOLD_STOPPED, 0);
	cr_assert_eq(st->reason, KM_REASON_UNLOADED);
	cr_assert_float_eq(st->held_s, 18.0f, 0.011f);
	cr_assert_float_eq(st->load_kpa, 50.0f, 0.01f, "mean load over the hold");
	cr_assert_eq(count(&s, KM_EVENT_HOLD_TARGET), 0);
	km_hold_destroy(s.h);
}

Test(hold, cooldown_same_spot_even_with_new_track)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	struct km_hold_input k2 = knot(2, 50.0f, 105.0f, 203.0f); /* same spot, new id */
	struct km_hold_input far = knot(3, 50.0f, 300.0f, 200.0f);
	run_until(&s, 20.0, &k);   /* started at 7 s */
	run_until(&s, 25.0, NULL); /* lost: paused at 20, stopped at 22 */
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 22.0);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_STOPPED, 0)->reason, KM_REASON_LOST);
	run_until(&s, 30.0, &k2); /* steady at 27 s: 5 s after the stop -> cooldown */
	expect_at(&s, KM_EVENT_COOLDOWN, 0, 27.0);
	cr_assert_float_eq(find(&s, KM_EVENT_COOLDOWN, 0)->value, 25.0f, 0.011f);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 1);
	/* Still pressing through the cooldown: blocked until unloaded. */
	run_until(&s, 60.0, &k2);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 1);
	cr_assert_eq(count(&s, KM_EVENT_COOLDOWN), 1);
	run_until(&s, 61.0, NULL);
	run_until(&s, 70.0, &k2); /* cooldown over (ended at 52 s) */
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 1, 63.0);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_STARTED, 1)->hold_index, 2, "second hold on the spot");
	/* Another spot is not affected by this spot's cooldown. */
	run_until(&s, 71.0, NULL);
	run_until(&s, 80.0, &far);
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 2, 73.0);
	km_hold_destroy(s.h);
}

Test(hold, at_most_three_holds_per_two_minutes)
{
	struct km_hold_config cfg = km_hold_config_default();
	cfg.cooldown_s = 1.0f;
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	double t = 0.0;
	/* Three short holds: engage 2 s + settle 5 s + hold 3 s, then off 4 s. */
	for (int i = 0; i < 3; i++) {
		run_until(&s, t + 10.0, &k);
		run_until(&s, t + 14.0, NULL);
		expect_at(&s, KM_EVENT_HOLD_STARTED, (size_t)i, t + 7.0);
		t += 14.0;
	}
	run_until(&s, t + 5.0, &k); /* 4th within 120 s of the first start (7 s) */
	expect_at(&s, KM_EVENT_HOLD_LIMIT, 0, t + 2.0);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 3);
	run_until(&s, 128.0, NULL);
	/* At 128 + 2 = 130 s only starts at 21 and 35 s are within 120 s. */
	run_until(&s, 140.0, &k);
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 3, 130.0);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_LIMIT), 1);
	km_hold_destroy(s.h);
}

Test(hold, never_over_the_spine)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	k.over_spine = true;
	run_until(&s, 10.0, &k);
	expect_at(&s, KM_EVENT_SPINE_BLOCKED, 0, 2.0);
	cr_assert_eq(count(&s, KM_EVENT_SPINE_BLOCKED), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 0);
	/* By distance: 20 mm from the midline is inside the +-25 mm mask. */
	k.over_spine = false;
	k.spine_distance_mm = -20.0f;
	run_until(&s, 20.0, &k);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 0);
	/* Off the spine: the hold runs; sliding onto it stops it at once. */
	k.spine_distance_mm = 40.0f;
	run_until(&s, 30.0, &k);
	expect_at(&s, KM_EVENT_HOLD_STARTED, 0, 27.0);
	k.spine_distance_mm = 10.0f;
	run_until(&s, 31.0, &k);
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 30.0);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_STOPPED, 0)->reason, KM_REASON_SPINE);
	expect_at(&s, KM_EVENT_SPINE_BLOCKED, 1, 30.0);
	km_hold_destroy(s.h);
}

Test(hold, drift_delays_engagement_and_pauses_hold)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	/* Rolling at 10 mm/s for 5 s: no engagement while moving. */
	for (int i = 0; i < 500; i++) {
		struct km_hold_input k = knot(1, 50.0f, 100.0f + 0.1f * (float)i, 200.0f);
		cr_assert_eq(km_hold_execute(s.h, s.t, s.seq++, &k, 1, &s.sink), KM_OK);
		s.t += FRAME_US;
	}
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 0);
	struct km_hold_input k = knot(1, 50.0f, 150.0f, 200.0f);
	run_until(&s, 20.0, &k); /* last anchor move at ~4.0 s, so engaged 2 s later */
	const struct km_event *e = find(&s, KM_EVENT_HOLD_ENGAGED, 0);
	cr_assert_not_null(e);
	cr_assert(e->time_us > S(5.0) && e->time_us <= S(7.0));
	struct km_hold_input moved = knot(1, 50.0f, 150.0f, 216.0f);
	run_until(&s, 21.0, &moved);
	run_until(&s, 30.0, &k);
	expect_at(&s, KM_EVENT_HOLD_PAUSED, 0, 20.0);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_PAUSED, 0)->reason, KM_REASON_DRIFT);
	expect_at(&s, KM_EVENT_HOLD_RESUMED, 0, 21.0);
	km_hold_destroy(s.h);
}

Test(hold, tensing_prompts_ease_off_once_per_episode)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	run_until(&s, 15.0, &k);
	k.tensing = true;
	run_until(&s, 17.0, &k);
	k.tensing = false;
	run_until(&s, 20.0, &k);
	k.tensing = true;
	run_until(&s, 21.0, &k);
	cr_assert_eq(count(&s, KM_EVENT_EASE_OFF), 2);
	expect_at(&s, KM_EVENT_EASE_OFF, 0, 15.0);
	expect_at(&s, KM_EVENT_EASE_OFF, 1, 20.0);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_PAUSED), 0, "tensing does not stop the timer");
	km_hold_destroy(s.h);
}

Test(hold, overload_pauses)
{
	struct km_hold_config cfg = km_hold_config_default();
	cfg.load_max_kpa = 200.0f;
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	struct km_hold_input hi = knot(1, 150.0f, 100.0f, 200.0f); /* > 2x settled */
	run_until(&s, 10.0, &k);
	run_until(&s, 13.0, &hi);
	expect_at(&s, KM_EVENT_HOLD_PAUSED, 0, 10.0);
	cr_assert_eq(find(&s, KM_EVENT_HOLD_PAUSED, 0)->reason, KM_REASON_OVERLOAD);
	expect_at(&s, KM_EVENT_HOLD_STOPPED, 0, 12.0);
	km_hold_destroy(s.h);
}

Test(hold, two_knots_are_independent_and_every_engage_ends_once)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input two[2] = {knot(1, 50.0f, 100.0f, 200.0f),
	                               knot(2, 0.0f, 300.0f, 200.0f)};
	while (s.t < S(120.0)) {
		double t = (double)s.t * 1e-6;
		two[1].load_kpa = (t > 10.0 && t < 40.0) ? 60.0f : 0.0f;
		two[0].load_kpa = (fmod(t, 50.0) < 45.0) ? 50.0f : 0.0f;
		cr_assert_eq(km_hold_execute(s.h, s.t, s.seq++, two, 2, &s.sink), KM_OK);
		s.t += FRAME_US;
	}
	cr_assert_eq(km_hold_stop(s.h, s.t, 0, KM_REASON_USER, &s.sink), KM_OK);
	size_t engaged[3] = {0}, stopped[3] = {0};
	for (size_t i = 0; i < s.rec.n; i++) {
		const struct km_event *e = &s.rec.ev[i];
		cr_assert(e->track_id == 1 || e->track_id == 2);
		engaged[e->track_id] += e->type == KM_EVENT_HOLD_ENGAGED;
		stopped[e->track_id] += e->type == KM_EVENT_HOLD_STOPPED;
	}
	cr_assert_eq(engaged[1], stopped[1]);
	cr_assert_eq(engaged[2], stopped[2]);
	cr_assert_geq(engaged[1], 2);
	cr_assert_eq(engaged[2], 1);
	km_hold_destroy(s.h);
}

Test(hold, config_rejection)
{
	struct km_hold_config c;
	km_hold *h = (km_hold *)&c;
	c = km_hold_config_default();
	c.release_s = 20.0f; /* outside 30-90 */
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_RANGE);
	cr_assert_null(h);
	c = km_hold_config_default();
	c.release_s = 95.0f;
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_RANGE);
	c = km_hold_config_default();
	c.hard_stop_s = 50.0f; /* before the release prompt */
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_RANGE);
	c = km_hold_config_default();
	c.load_min_kpa = NAN;
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_INVALID_ARG);
	c = km_hold_config_default();
	c.max_tracks = 0;
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_RANGE);
	c = km_hold_config_default();
	c.settle_s = -1.0f;
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_INVALID_ARG);
	c = km_hold_config_default();
	c.band_lo = 1.5f;
	cr_assert_eq(km_hold_create(&c, &h), KM_ERR_RANGE);
	cr_assert_eq(km_hold_create(NULL, &h), KM_ERR_INVALID_ARG);
	c = km_hold_config_default();
	cr_assert_eq(km_hold_create(&c, NULL), KM_ERR_INVALID_ARG);
	c.release_s = 45.0f; /* configurable */
	cr_assert_eq(km_hold_create(&c, &h), KM_OK);
	km_hold_destroy(h);
	km_hold_destroy(NULL);
}

Test(hold, bad_input_is_rejected_without_side_effects)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	run_until(&s, 1.0, &k);
	struct km_hold_input bad = k;
	bad.load_kpa = NAN;
	cr_assert_eq(km_hold_execute(s.h, s.t, 0, &bad, 1, &s.sink), KM_ERR_NONFINITE);
	bad = k;
	bad.load_kpa = -1.0f;
	cr_assert_eq(km_hold_execute(s.h, s.t, 0, &bad, 1, &s.sink), KM_ERR_NONFINITE);
	bad = k;
	bad.x_mm = INFINITY;
	cr_assert_eq(km_hold_execute(s.h, s.t, 0, &bad, 1, &s.sink), KM_ERR_NONFINITE);
	bad = k;
	bad.track_id = 0;
	cr_assert_eq(km_hold_execute(s.h, s.t, 0, &bad, 1, &s.sink), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_hold_execute(s.h, s.t, 0, NULL, 1, &s.sink), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_hold_execute(NULL, s.t, 0, &k, 1, &s.sink), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_hold_execute(s.h, s.t - 2 * FRAME_US, 0, &k, 1, &s.sink), KM_ERR_RANGE);
	run_until(&s, 10.0, &k);
	/* The rejected calls changed nothing: engaged 2 s after the start. */
	expect_at(&s, KM_EVENT_HOLD_ENGAGED, 0, 2.0);
	struct km_hold_status st;
	cr_assert_eq(km_hold_status(s.h, 99, &st), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_hold_stop(s.h, s.t, 99, KM_REASON_USER, &s.sink), KM_ERR_NOT_FOUND);
	km_hold_destroy(s.h);
}

Test(hold, overflow_counts_extra_tracks)
{
	struct km_hold_config cfg = km_hold_config_default();
	cfg.max_tracks = 2;
	km_hold *h;
	cr_assert_eq(km_hold_create(&cfg, &h), KM_OK);
	struct km_hold_input in[3] = {knot(1, 50, 0, 0), knot(2, 50, 100, 0), knot(3, 50, 200, 0)};
	cr_assert_eq(km_hold_execute(h, 0, 0, in, 3, NULL), KM_OK);
	cr_assert_eq(km_hold_overflow_count(h), 1);
	km_hold_destroy(h);
}

static void script(struct sim *s)
{
	struct km_hold_input k = knot(1, 50.0f, 100.0f, 200.0f);
	run_until(s, s->t * 1e-6 + 40.0, &k);
	run_until(s, s->t * 1e-6 + 5.0, NULL);
	run_until(s, s->t * 1e-6 + 10.0, &k);
}

Test(hold, reset_forgets_session_and_replays_identically)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	script(&s);
	size_t n1 = s.rec.n;
	struct km_event first[MAXEV];
	memcpy(first, s.rec.ev, n1 * sizeof(first[0]));
	cr_assert_eq(count(&s, KM_EVENT_COOLDOWN), 1, "script ends in a cooldown");
	km_hold_reset(s.h);
	s.rec.n = 0;
	s.t = 0;
	s.seq = 0;
	script(&s);
	cr_assert_eq(s.rec.n, n1);
	for (size_t i = 0; i < n1; i++) {
		cr_assert_eq(s.rec.ev[i].type, first[i].type);
		cr_assert_eq(s.rec.ev[i].time_us, first[i].time_us);
		cr_assert_eq(s.rec.ev[i].hold_index, first[i].hold_index);
	}
	km_hold_destroy(s.h);
}

Test(hold, no_allocation_per_frame)
{
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	uint64_t a0 = km__alloc_count();
	script(&s);
	cr_assert_eq(km__alloc_count(), a0);
	cr_assert_gt(s.rec.n, 3);
	km_hold_destroy(s.h);
}

Test(hold, names)
{
	cr_assert_str_eq(km_hold_state_name(KM_HOLD_HOLDING), "HOLDING");
	cr_assert_str_eq(km_hold_state_name((enum km_hold_state)42), "UNKNOWN");
}

#if defined(__has_include)
#if __has_include("knotmap/sim.h")
#include "knotmap/sim.h"
#define HAVE_SIM 1
#endif
#endif

#ifdef HAVE_SIM
/* hardware/sim/scenarios/tennis-ball-trapezius.ini, built in code: roll to the
 * knot (2-8 s), settle (8-12 s), hold 45 s (12-57 s), lift (57-59 s). The load
 * is the mean true pressure over 3 x 3 cells at the ball; breathing (6 %) and
 * postural sway must not pause the timer, and the lift must stop it. */
Test(hold, virtual_mat_tennis_ball_hold)
{
	struct km_sim_config sc = km_sim_config_default();
	sc.rows = sc.cols = 48; /* 360 mm: covers the path; smaller than the .ini for speed */
	sc.pitch_mm = 7.5f;
	sc.rate_hz = 50.0f; /* the timer works in frame times; 50 Hz halves the cost */
	sc.body_midline_x_mm = 240.0f;
	sc.body_vertex_y_mm = -250.0f;
	sc.knot_count = 1;
	sc.knots[0] = (struct km_sim_knot){.x_mm = 300,
	                                   .y_mm = 120,
	                                   .radius_mm = 12,
	                                   .stiffness_pct = 30,
	                                   .depth_mm = 8,
	                                   .release_pct = 40};
	sc.tool = KM_SIM_TOOL_TENNIS_BALL;
	sc.tool_lift_mm = 90.0f;
	sc.start_x_mm = 300;
	sc.start_y_mm = 330;
	sc.step_count = 6;
	sc.steps[0] = (struct km_sim_step){KM_SIM_MOVE_IDLE, 2, NAN, NAN, NAN};
	sc.steps[1] = (struct km_sim_step){KM_SIM_MOVE_ROLL, 6, 300, 150, 0.15f};
	sc.steps[2] = (struct km_sim_step){KM_SIM_MOVE_SETTLE, 4, 300, 120, 0.20f};
	sc.steps[3] = (struct km_sim_step){KM_SIM_MOVE_HOLD, 45, 300, 120, 0.20f};
	sc.steps[4] = (struct km_sim_step){KM_SIM_MOVE_LIFT, 2, NAN, NAN, NAN};
	sc.steps[5] = (struct km_sim_step){KM_SIM_MOVE_IDLE, 3, NAN, NAN, NAN};
	km_sim *sim;
	cr_assert_eq(km_sim_create(&sc, &sim), KM_OK);
	struct km_hold_config cfg = km_hold_config_default();
	struct sim s;
	sim_init(&s, &cfg);
	for (int i = 0; i < 62 * 50; i++) {
		struct km_sim_output o;
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		const struct km_sim_truth *tr = o.truth;
		int pc = (int)(tr->tool_x_mm / o.pitch_mm), pr = (int)(tr->tool_y_mm / o.pitch_mm);
		double sum = 0.0;
		for (int rr = pr - 1; rr <= pr + 1; rr++)
			for (int cc = pc - 1; cc <= pc + 1; cc++)
				if (rr >= 0 && rr < o.rows && cc >= 0 && cc < o.cols)
					sum += o.kpa[rr * o.cols + cc];
		struct km_hold_input k = knot(1, (float)(sum / 9.0), tr->tool_x_mm, tr->tool_y_mm);
		k.spine_distance_mm = tr->tool_x_mm - tr->spine_x_mm; /* 60 mm: off the spine */
		cr_assert_eq(km_hold_execute(s.h, o.time_us, o.sequence, &k, 1, &s.sink), KM_OK);
	}
	cr_assert_eq(count(&s, KM_EVENT_HOLD_ENGAGED), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_STARTED), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_TARGET), 1);
	cr_assert_eq(count(&s, KM_EVENT_HOLD_RELEASE), 0, "a 45 s hold never reaches 60 s");
	cr_assert_eq(count(&s, KM_EVENT_HOLD_STOPPED), 1);
	const struct km_event *en = find(&s, KM_EVENT_HOLD_ENGAGED, 0);
	const struct km_event *st = find(&s, KM_EVENT_HOLD_STARTED, 0);
	const struct km_event *tg = find(&s, KM_EVENT_HOLD_TARGET, 0);
	const struct km_event *sp = find(&s, KM_EVENT_HOLD_STOPPED, 0);
	double t_en = (double)en->time_us * 1e-6, t_st = (double)st->time_us * 1e-6;
	double t_tg = (double)tg->time_us * 1e-6, t_sp = (double)sp->time_us * 1e-6;
	cr_assert(t_en >= 8.0 && t_en <= 12.0, "engaged at %.2f s (settling 8-12 s)", t_en);
	cr_assert_float_eq(t_st, t_en + 5.0, 0.021);
	cr_assert_float_eq(t_tg, t_en + 30.0, 0.021, "breathing or sway paused the timer");
	cr_assert_eq(sp->reason, KM_REASON_UNLOADED);
	cr_assert(t_sp >= 57.0 && t_sp <= 61.0, "stopped at %.2f s (lift 57-59 s)", t_sp);
	cr_assert(sp->held_s > 57.0 - t_en - 0.02 && sp->held_s < 59.0 - t_en, "held %.2f s",
	          (double)sp->held_s);
	km_hold_destroy(s.h);
	km_sim_destroy(sim);
}
#endif
