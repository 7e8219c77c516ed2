/* The guided routine's state machine, driven by scripted inputs and events:
 * no SDL, no pipeline. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "knotmap/guided.h"

#define S(x) ((uint64_t)((x)*1e6))

struct drive {
	km_guided *g;
	struct km_guided_input in;
	struct km_event ev[8];
	struct km_guided_cue cues[64];
	size_t n;
	/* everything emitted so far */
	enum km_cue seen[512];
	enum km_phrase said[512];
	size_t n_seen;
};

static void record(struct drive *d)
{
	for (size_t i = 0; i < d->n && d->n_seen < 512; i++) {
		d->seen[d->n_seen] = d->cues[i].cue;
		d->said[d->n_seen++] = d->cues[i].phrase;
	}
}

static void lying(struct drive *d, double t_s)
{
	memset(&d->in, 0, sizeof d->in);
	d->in.time_us = S(t_s);
	d->in.loaded = true;
	d->in.centre_valid = true;
	d->in.centre_x_mm = 240;
	d->in.centre_y_mm = 500;
	d->in.midline_valid = true;
	d->in.midline_x_mm = 240;
}

static void contact(struct drive *d, uint32_t id, float x, float y, float kpa, bool spine,
                    bool landmark)
{
	struct km_guided_contact *c = &d->in.contacts[d->in.n_contacts++];
	c->track_id = id;
	c->x_mm = x;
	c->y_mm = y;
	c->peak_kpa = kpa;
	c->over_spine = spine;
	c->landmark = landmark;
	c->edge_mm = NAN;
}

static void event(struct drive *d, enum km_event_type type, uint32_t id, float x, float y,
                  float held, enum km_event_reason reason)
{
	struct km_event *e = &d->ev[d->in.n_events++];
	memset(e, 0, sizeof *e);
	e->type = type;
	e->track_id = id;
	e->x_mm = x;
	e->y_mm = y;
	e->held_s = held;
	e->reason = reason;
	e->stiffness_pct = NAN;
	d->in.events = d->ev;
}

static void step(struct drive *d)
{
	cr_assert_eq(km_guided_update(d->g, &d->in, d->cues, 64, &d->n), KM_OK);
	record(d);
}

static bool saw(const struct drive *d, enum km_cue c)
{
	for (size_t i = 0; i < d->n_seen; i++)
		if (d->seen[i] == c)
			return true;
	return false;
}

static size_t index_of(const struct drive *d, enum km_cue c)
{
	for (size_t i = 0; i < d->n_seen; i++)
		if (d->seen[i] == c)
			return i;
	return (size_t)-1;
}

static enum km_guided_state state(const struct drive *d)
{
	struct km_guided_view v;
	cr_assert_eq(km_guided_get_view(d->g, &v), KM_OK);
	return v.state;
}

/* Two knots beside the spine, one on it, one bone: a 20 s scan at 10 Hz. */
static void scan(struct drive *d, double *t)
{
	for (; *t < 20.05; *t += 0.1) {
		lying(d, *t);
		contact(d, 1, 300, 400, 20, false, false);
		contact(d, 2, 180, 300, 18, false, false);
		contact(d, 3, 242, 350, 25, true, false);  /* on the spine */
		contact(d, 4, 240, 800, 90, false, true);  /* sacrum: bone */
		contact(d, 6, 600, 420, 15, false, false); /* the arm's edge */
		d->in.contacts[d->in.n_contacts - 1].edge_mm = 8.0f;
		if ((int)(*t * 10) % 3 == 0)
			contact(d, 5, 400, 900, 12, false, false); /* seen a third of the time */
		step(d);
	}
}

static void setup(struct drive *d)
{
	memset(d, 0, sizeof *d);
	struct km_guided_config c = km_guided_config_default();
	c.max_spots = 4;
	cr_assert_eq(km_guided_create(&c, &d->g), KM_OK);
	cr_assert_eq(km_guided_start(d->g, 0, d->cues, 64, &d->n), KM_OK);
	record(d);
}

/* One full hold on (x, y) from t: engage, start, 30 s, 60 s, lift. */
static void hold(struct drive *d, double *t, uint32_t id, float x, float y, bool release_soft)
{
	double t0 = *t;
	for (; *t < t0 + 70.0; *t += 0.1) {
		double h = *t - t0 - 7.0; /* timer seconds: engage 2 s + settle 5 s */
		lying(d, *t);
		contact(d, id, x, y, 400, false, true);
		if (fabs(*t - t0 - 2.0) < 0.05)
			event(d, KM_EVENT_HOLD_ENGAGED, id, x, y, 0, KM_REASON_NONE);
		if (fabs(h) < 0.05)
			event(d, KM_EVENT_HOLD_STARTED, id, x, y, 0, KM_REASON_NONE);
		if (fabs(h - 20) < 0.05 && release_soft) {
			event(d, KM_EVENT_RELEASED, id, x, y, 20, KM_REASON_NONE);
			d->ev[d->in.n_events - 1].stiffness_pct = -18.0f;
		}
		if (fabs(h - 30) < 0.05)
			event(d, KM_EVENT_HOLD_TARGET, id, x, y, 30, KM_REASON_NONE);
		if (fabs(h - 60) < 0.05)
			event(d, KM_EVENT_HOLD_RELEASE, id, x, y, 60, KM_REASON_NONE);
		if (fabs(h - 62) < 0.05)
			event(d, KM_EVENT_HOLD_STOPPED, id, x, y, 62, KM_REASON_UNLOADED);
		step(d);
	}
}

Test(guided, rejects_bad_config)
{
	km_guided *g = (km_guided *)1;
	struct km_guided_config c = km_guided_config_default();
	cr_assert_eq(km_guided_create(NULL, &g), KM_ERR_INVALID_ARG);
	cr_assert_null(g);
	cr_assert_eq(km_guided_create(&c, NULL), KM_ERR_INVALID_ARG);
	c.max_spots = 0;
	cr_assert_eq(km_guided_create(&c, &g), KM_ERR_RANGE);
	c = km_guided_config_default();
	c.max_holds = 4; /* the safety rule: at most 3 holds per spot */
	cr_assert_eq(km_guided_create(&c, &g), KM_ERR_RANGE);
	c = km_guided_config_default();
	c.scan_s = NAN;
	cr_assert_eq(km_guided_create(&c, &g), KM_ERR_INVALID_ARG);
	c = km_guided_config_default();
	c.proximity_hi_hz = c.proximity_lo_hz - 1;
	cr_assert_eq(km_guided_create(&c, &g), KM_ERR_RANGE);
	c = km_guided_config_default();
	c.min_hold_s = 120; /* beyond the 90 s hard stop */
	cr_assert_eq(km_guided_create(&c, &g), KM_ERR_RANGE);
}

Test(guided, bad_input_is_a_code)
{
	struct drive d;
	setup(&d);
	size_t n;
	cr_assert_eq(km_guided_update(d.g, NULL, d.cues, 64, &n), KM_ERR_INVALID_ARG);
	lying(&d, 1.0);
	d.in.n_events = 3; /* events NULL */
	cr_assert_eq(km_guided_update(d.g, &d.in, d.cues, 64, &n), KM_ERR_INVALID_ARG);
	lying(&d, 1.0);
	d.in.n_contacts = KM_GUIDED_MAX_CONTACTS + 1;
	cr_assert_eq(km_guided_update(d.g, &d.in, d.cues, 64, &n), KM_ERR_INVALID_ARG);
	lying(&d, 2.0);
	cr_assert_eq(km_guided_update(d.g, &d.in, d.cues, 64, &n), KM_OK);
	lying(&d, 1.0); /* backwards */
	cr_assert_eq(km_guided_update(d.g, &d.in, d.cues, 64, &n), KM_ERR_RANGE);
	/* no room for cues: counted, never written */
	cr_assert_eq(km_guided_start(d.g, 0, NULL, 0, &n), KM_OK);
	cr_assert_eq(n, 0u);
	cr_assert_eq(km_guided_dropped(d.g), 1u);
	km_guided_destroy(d.g);
	km_guided_destroy(NULL);
}

Test(guided, off_until_started_and_reset_returns_to_off)
{
	km_guided *g;
	struct km_guided_config c = km_guided_config_default();
	cr_assert_eq(km_guided_create(&c, &g), KM_OK);
	struct km_guided_input in;
	memset(&in, 0, sizeof in);
	struct km_guided_cue cues[8];
	size_t n = 99;
	in.time_us = 5;
	cr_assert_eq(km_guided_update(g, &in, cues, 8, &n), KM_OK);
	cr_assert_eq(n, 0u);
	struct km_guided_view v;
	km_guided_get_view(g, &v);
	cr_assert_not(v.active);
	cr_assert_eq(km_guided_red_flag(g, 5, cues, 8, &n), KM_ERR_STATE);
	cr_assert_eq(km_guided_start(g, 10, cues, 8, &n), KM_OK);
	cr_assert_eq(n, 1u);
	cr_assert_eq(cues[0].cue, KM_CUE_SCAN_START);
	cr_assert_eq(cues[0].phrase, KM_PHRASE_LIE_STILL);
	km_guided_get_view(g, &v);
	cr_assert_eq(v.state, KM_GUIDED_SCAN);
	km_guided_reset(g);
	km_guided_get_view(g, &v);
	cr_assert_eq(v.state, KM_GUIDED_OFF);
	struct km_guided_summary s;
	km_guided_get_summary(g, &s);
	cr_assert_eq(s.n_spots, 0u);
	km_guided_destroy(g);
}

Test(guided, scan_keeps_steady_spots_off_the_spine_and_bone)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert_eq(v.state, KM_GUIDED_PLACE);
	cr_assert_eq(v.n_spots, 2u,
	             "the spine spot, the bone, the contact edge and the flicker are not spots");
	/* head to feet: (180, 300) first */
	cr_assert_float_eq(v.target_x_mm, 180.0f, 0.5f);
	cr_assert_float_eq(v.target_y_mm, 300.0f, 0.5f);
	cr_assert(saw(&d, KM_CUE_NEXT_SPOT));
	cr_assert_eq(d.said[index_of(&d, KM_CUE_NEXT_SPOT)], KM_PHRASE_PLACE_BALL);
	km_guided_destroy(d.g);
}

Test(guided, scan_waits_for_someone_lying_down)
{
	struct drive d;
	setup(&d);
	for (double t = 0.1; t < 40; t += 0.1) {
		memset(&d.in, 0, sizeof d.in);
		d.in.time_us = S(t);
		step(&d);
	}
	cr_assert_eq(state(&d), KM_GUIDED_SCAN);
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert(strstr(v.prompt, "Lie down") != NULL, "%s", v.prompt);
	km_guided_destroy(d.g);
}

Test(guided, proximity_pitch_rises_as_the_ball_nears_the_spot)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	/* target (180, 300); the ball rolls in from 300 mm away */
	float last_hz = 0;
	int blips = 0;
	for (double u = 0; u < 6.0; u += 0.1, t += 0.1) {
		lying(&d, t);
		float y = fmaxf(300.0f, 600.0f - 60.0f * (float)u);
		contact(&d, 9, 180, y, 400, false, true);
		step(&d);
		for (size_t i = 0; i < d.n; i++)
			if (d.cues[i].cue == KM_CUE_PROXIMITY) {
				cr_assert_geq(d.cues[i].freq_hz, last_hz,
				              "pitch rises as it nears");
				blips += d.cues[i].freq_hz > last_hz;
				last_hz = d.cues[i].freq_hz;
			}
	}
	cr_assert_geq(blips, 5);
	struct km_guided_config c = km_guided_config_default();
	cr_assert_float_eq(last_hz, c.proximity_hi_hz, 1.0f, "on the spot: the top pitch");
	km_guided_destroy(d.g);
}

Test(guided, full_routine_cues_in_order_and_summary)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	size_t before = d.n_seen;
	hold(&d, &t, 11, 182, 302, true);
	/* the cue sequence of one hold */
	enum km_cue want[] = {KM_CUE_HOLD_STARTED, KM_CUE_TARGET, KM_CUE_RELEASE, KM_CUE_REST};
	size_t k = 0;
	for (size_t i = before; i < d.n_seen && k < 4; i++)
		if (d.seen[i] == want[k])
			k++;
	cr_assert_eq(k, 4u, "started, 30 s, 60 s, rest in that order");
	cr_assert_eq(d.said[index_of(&d, KM_CUE_HOLD_STARTED)], KM_PHRASE_HOLD_HERE);
	cr_assert_eq(d.said[index_of(&d, KM_CUE_TARGET)], KM_PHRASE_THIRTY);
	cr_assert_eq(d.said[index_of(&d, KM_CUE_RELEASE)], KM_PHRASE_RELEASE);
	/* ticks at 10, 20, 40, 50 s; none on top of 30 / 60 */
	size_t ticks = 0;
	for (size_t i = before; i < d.n_seen; i++)
		ticks += d.seen[i] == KM_CUE_TICK;
	cr_assert_eq(ticks, 4u);
	cr_assert_eq(state(&d), KM_GUIDED_REST);
	/* rest 15 s, then the second spot */
	for (double t0 = t; t < t0 + 16; t += 0.1) {
		lying(&d, t);
		step(&d);
	}
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert_eq(v.state, KM_GUIDED_PLACE);
	cr_assert_eq(v.spot_index, 1u);
	hold(&d, &t, 12, 300, 400, false);
	cr_assert_eq(state(&d), KM_GUIDED_DONE, "the last spot ends the routine");
	cr_assert_eq(d.seen[d.n_seen - 1], KM_CUE_DONE);

	struct km_guided_summary s;
	cr_assert_eq(km_guided_get_summary(d.g, &s), KM_OK);
	cr_assert_eq(s.n_spots, 2u);
	cr_assert_eq(s.treated, 2u);
	cr_assert_float_eq(s.spots[0].held_s, 62.0f, 0.01f);
	cr_assert(s.spots[0].released);
	cr_assert_float_eq(s.spots[0].stiffness_pct, -18.0f, 0.01f);
	cr_assert_not(s.spots[1].released);
	char json[4096], text[2048];
	int nj = km_guided_summary_json(&s, json, sizeof json);
	cr_assert_gt(nj, 0);
	cr_assert_lt((size_t)nj, sizeof json);
	cr_assert(strstr(json, "\"treated\":2") != NULL, "%s", json);
	cr_assert(strstr(json, "\"released\":true") != NULL);
	cr_assert(strstr(json, "\"stiffness_pct\":null") != NULL, "spot 2: no change known");
	km_guided_summary_text(&s, text, sizeof text);
	cr_assert(strstr(text, "2 of 2") != NULL, "%s", text);
	cr_assert(strstr(text, "not a diagnosis") != NULL);
	/* truncation: the needed length is reported, the buffer terminated */
	char small[16];
	cr_assert_eq(km_guided_summary_json(&s, small, sizeof small), nj);
	cr_assert_eq(strlen(small), sizeof small - 1);
	km_guided_destroy(d.g);
}

Test(guided, pause_resume_ease_off_and_hard_stop)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	const float x = 180, y = 300;
	struct {
		double at;
		enum km_event_type type;
		enum km_event_reason why;
		float held;
	} script[] = {
	    {2, KM_EVENT_HOLD_ENGAGED, 0, 0},
	    {7, KM_EVENT_HOLD_STARTED, 0, 0},
	    {12, KM_EVENT_HOLD_PAUSED, KM_REASON_DRIFT, 5},
	    {13, KM_EVENT_HOLD_RESUMED, 0, 5},
	    {20, KM_EVENT_TENSING_UP, KM_REASON_TREMOR, 12},
	    {21, KM_EVENT_EASE_OFF, 0, 13},
	    {97, KM_EVENT_HOLD_STOPPED, KM_REASON_HARD_STOP, 90},
	};
	double t0 = t;
	size_t si = 0;
	for (; t < t0 + 100; t += 0.1) {
		lying(&d, t);
		contact(&d, 11, x, y, 400, false, true);
		while (si < sizeof script / sizeof script[0] && t - t0 >= script[si].at - 0.05) {
			event(&d, script[si].type, 11, x, y, script[si].held, script[si].why);
			si++;
		}
		step(&d);
	}
	cr_assert(saw(&d, KM_CUE_PAUSE));
	cr_assert(saw(&d, KM_CUE_RESUME));
	cr_assert_lt(index_of(&d, KM_CUE_PAUSE), index_of(&d, KM_CUE_RESUME));
	size_t eases = 0;
	for (size_t i = 0; i < d.n_seen; i++)
		eases += d.seen[i] == KM_CUE_EASE_OFF;
	cr_assert_eq(eases, 1u, "tensing and ease-off 1 s apart: one prompt, not two");
	cr_assert_eq(d.said[index_of(&d, KM_CUE_EASE_OFF)], KM_PHRASE_EASE_OFF);
	cr_assert(saw(&d, KM_CUE_STOP), "90 s hard stop has its own cue");
	struct km_guided_summary s;
	km_guided_get_summary(d.g, &s);
	cr_assert(s.spots[0].ease_off);
	cr_assert_float_eq(s.spots[0].held_s, 90.0f, 0.01f);
	km_guided_destroy(d.g);
}

Test(guided, short_holds_retry_after_cooldown_at_most_three_times)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	for (int attempt = 0; attempt < 3; attempt++) {
		cr_assert_eq(state(&d), KM_GUIDED_PLACE, "attempt %d", attempt);
		double t0 = t;
		for (; t < t0 + 12; t += 0.1) {
			lying(&d, t);
			contact(&d, 20 + (uint32_t)attempt, 180, 300, 400, false, true);
			double h = t - t0;
			if (fabs(h - 1) < 0.05)
				event(&d, KM_EVENT_HOLD_ENGAGED, 20 + (uint32_t)attempt, 180, 300,
				      0, 0);
			if (fabs(h - 3) < 0.05)
				event(&d, KM_EVENT_HOLD_STARTED, 20 + (uint32_t)attempt, 180, 300,
				      0, 0);
			if (fabs(h - 10) < 0.05)
				event(&d, KM_EVENT_HOLD_STOPPED, 20 + (uint32_t)attempt, 180, 300,
				      7, KM_REASON_UNLOADED);
			step(&d);
		}
		if (attempt < 2) {
			struct km_guided_view v;
			km_guided_get_view(d.g, &v);
			cr_assert_eq(v.state, KM_GUIDED_REST);
			cr_assert_float_eq(v.phase_total_s, 30.0f, 0.01f,
			                   "cooldown before a retry");
			for (double t1 = t; t < t1 + 31; t += 0.1) {
				lying(&d, t);
				step(&d);
			}
		}
	}
	/* third short hold: limit reached, on to the next spot */
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert_eq(v.spot_index, 1u);
	struct km_guided_summary s;
	km_guided_get_summary(d.g, &s);
	cr_assert_eq(s.spots[0].holds, 3u);
	cr_assert(s.spots[0].skipped);
	cr_assert_eq(s.spots[0].skip_reason, KM_REASON_LIMIT);
	km_guided_destroy(d.g);
}

Test(guided, spine_blocked_or_unreached_spots_are_skipped)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	lying(&d, t);
	event(&d, KM_EVENT_SPINE_BLOCKED, 30, 185, 305, 0, KM_REASON_SPINE);
	step(&d);
	t += 0.1;
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert_eq(v.spot_index, 1u);
	/* nobody reaches spot 2 within the place timeout */
	for (double t0 = t; t < t0 + 95; t += 0.1) {
		lying(&d, t);
		step(&d);
	}
	cr_assert_eq(state(&d), KM_GUIDED_DONE);
	struct km_guided_summary s;
	km_guided_get_summary(d.g, &s);
	cr_assert_eq(s.spots[0].skip_reason, KM_REASON_SPINE);
	cr_assert_eq(s.spots[1].skip_reason, KM_REASON_LOST);
	cr_assert_eq(s.treated, 0u);
	km_guided_destroy(d.g);
}

Test(guided, red_flag_stops_with_advice)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	cr_assert_eq(km_guided_red_flag(d.g, S(t), d.cues, 64, &d.n), KM_OK);
	record(&d);
	cr_assert_eq(d.seen[d.n_seen - 1], KM_CUE_ALERT);
	cr_assert_eq(d.said[d.n_seen - 1], KM_PHRASE_STOP);
	cr_assert_eq(state(&d), KM_GUIDED_STOPPED);
	/* nothing more happens after a stop */
	lying(&d, t + 1);
	contact(&d, 11, 180, 300, 400, false, true);
	event(&d, KM_EVENT_HOLD_ENGAGED, 11, 180, 300, 0, 0);
	step(&d);
	cr_assert_eq(d.n, 0u);
	struct km_guided_summary s;
	km_guided_get_summary(d.g, &s);
	cr_assert(s.red_flag);
	cr_assert_eq(s.end_state, KM_GUIDED_STOPPED);
	cr_assert_eq(s.spots[0].skip_reason, KM_REASON_SYMPTOMS);
	char text[1024];
	km_guided_summary_text(&s, text, sizeof text);
	cr_assert(strstr(text, "healthcare professional") != NULL, "%s", text);
	km_guided_destroy(d.g);
}

Test(guided, persisting_knot_adds_the_see_a_professional_phrase)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	lying(&d, t);
	event(&d, KM_EVENT_SEEK_ADVICE, 1, 300, 400, 0, KM_REASON_NONE);
	step(&d);
	t += 0.1;
	/* skip both spots: the end says DONE and adds the advice */
	size_t n;
	cr_assert_eq(km_guided_skip(d.g, S(t), d.cues, 64, &n), KM_OK);
	d.n = n;
	record(&d);
	cr_assert_eq(km_guided_skip(d.g, S(t), d.cues, 64, &n), KM_OK);
	d.n = n;
	record(&d);
	cr_assert_eq(state(&d), KM_GUIDED_DONE);
	cr_assert_eq(d.said[d.n_seen - 1], KM_PHRASE_SEE_PRO);
	struct km_guided_summary s;
	km_guided_get_summary(d.g, &s);
	cr_assert(s.seek_advice);
	cr_assert(s.spots[1].seek_advice, "the (300, 400) spot is the one that persists");
	cr_assert_not(s.spots[0].seek_advice);
	km_guided_destroy(d.g);
}

Test(guided, names_and_phrases)
{
	for (int c = 0; c < KM_CUE_COUNT; c++)
		cr_assert_str_neq(km_cue_name((enum km_cue)c), "UNKNOWN");
	cr_assert_str_eq(km_cue_name(KM_CUE_COUNT), "UNKNOWN");
	for (int p = 1; p < KM_PHRASE_COUNT; p++) {
		const char *s = km_phrase_text((enum km_phrase)p);
		cr_assert_gt(strlen(s), 5u);
		/* never a diagnosis */
		cr_assert_null(strstr(s, "trigger point"));
	}
	cr_assert_str_eq(km_phrase_text(KM_PHRASE_COUNT), "");
	cr_assert_str_eq(km_guided_state_name((enum km_guided_state)42), "UNKNOWN");
}

Test(guided, ticks_follow_the_timer_when_settling_counts)
{
	/* hold.h count_settling: HOLD_STARTED already says 5 s held. */
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	double t0 = t;
	size_t first = d.n_seen;
	double tick_at[8];
	size_t nt = 0;
	for (; t < t0 + 60; t += 0.1) {
		lying(&d, t);
		contact(&d, 11, 180, 300, 400, false, true);
		if (fabs(t - t0 - 1.0) < 0.05)
			event(&d, KM_EVENT_HOLD_ENGAGED, 11, 180, 300, 0, 0);
		if (fabs(t - t0 - 6.0) < 0.05)
			event(&d, KM_EVENT_HOLD_STARTED, 11, 180, 300, 5.0f, 0);
		step(&d);
		for (size_t i = 0; i < d.n; i++)
			if (d.cues[i].cue == KM_CUE_TICK && nt < 8)
				tick_at[nt++] = t - t0;
	}
	(void)first;
	cr_assert_geq(nt, 2u);
	/* timer 10 s = 5 s after HOLD_STARTED (which came at 6 s) */
	cr_assert_float_eq(tick_at[0], 11.0, 0.15);
	cr_assert_float_eq(tick_at[1], 21.0, 0.15);
	struct km_guided_view v;
	km_guided_get_view(d.g, &v);
	cr_assert_float_eq(v.held_s, 5.0f + (float)(t - 0.1 - t0 - 6.0), 0.2f);
	km_guided_destroy(d.g);
}

/* Quit 17 s into a hold: the summary counts the hold with the seconds the
 * screen showed (issue 20: "17 s held" on screen, "longest 0 s" in the
 * summary). */
Test(guided, summary_counts_a_hold_still_running)
{
	struct drive d;
	setup(&d);
	double t = 0.1;
	scan(&d, &t);
	double t0 = t;
	for (; t < t0 + 24.0; t += 0.1) {
		lying(&d, t);
		contact(&d, 11, 182, 302, 400, false, true);
		if (fabs(t - t0 - 2.0) < 0.05)
			event(&d, KM_EVENT_HOLD_ENGAGED, 11, 182, 302, 0, KM_REASON_NONE);
		if (fabs(t - t0 - 7.0) < 0.05)
			event(&d, KM_EVENT_HOLD_STARTED, 11, 182, 302, 0, KM_REASON_NONE);
		step(&d);
	}
	struct km_guided_view v;
	cr_assert_eq(km_guided_get_view(d.g, &v), KM_OK);
	cr_assert_float_eq(v.held_s, 17.0f, 0.2f, "on screen %.1f s", (double)v.held_s);
	struct km_guided_summary sum;
	cr_assert_eq(km_guided_get_summary(d.g, &sum), KM_OK);
	cr_assert_eq(sum.spots[0].holds, 1u);
	cr_assert_float_eq(sum.spots[0].held_s, v.held_s, 1e-3, "summary %.1f s, screen %.1f s",
	                   (double)sum.spots[0].held_s, (double)v.held_s);
	char text[2048];
	km_guided_summary_text(&sum, text, sizeof text);
	char want[64];
	snprintf(want, sizeof want, "longest %.0f s", (double)v.held_s);
	cr_assert(strstr(text, want), "summary: %s", text);
	cr_assert_eq(sum.treated, 0u, "17 s is short of the 30 s a treated spot needs: %s", text);
	km_guided_destroy(d.g);
}
