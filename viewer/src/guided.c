/*
 * The guided routine as a pure state machine (knotmap/guided.h): pipeline
 * results and events in, cues and prompts out. No SDL, no clock, no I/O.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/guided.h"

/* Scan candidates collected while lying flat (merged by position). */
#define MAX_SCAN 64
/* At most one "ease off" every this many seconds: a repeated prompt while
 * the person is already easing off only adds tension. */
#define EASE_OFF_GAP_S 5.0

static const struct {
	const char *name, *text;
} phrases[KM_PHRASE_COUNT] = {
    [KM_PHRASE_NONE] = {"none", ""},
    [KM_PHRASE_LIE_STILL] = {"lie_still", "Lie still, and breathe slowly, while the mat scans."},
    [KM_PHRASE_PLACE_BALL] = {"place_ball", "Place the ball under the next spot."},
    [KM_PHRASE_HOLD_HERE] = {"hold_here", "Hold here, breathe slowly."},
    [KM_PHRASE_THIRTY] = {"thirty", "Thirty seconds."},
    [KM_PHRASE_RELEASE] = {"release", "Release now."},
    [KM_PHRASE_EASE_OFF] = {"ease_off", "Too much pressure, ease off."},
    [KM_PHRASE_REST] = {"rest", "Roll off the ball, and rest."},
    [KM_PHRASE_DONE] = {"done", "All done. Well done."},
    [KM_PHRASE_STOP] = {"stop", "Stop now, and see a healthcare professional."},
    [KM_PHRASE_SEE_PRO] = {"see_pro",
                           "See a healthcare professional if this spot keeps coming back."},
};

const char *km_phrase_text(enum km_phrase p)
{
	return (unsigned)p < KM_PHRASE_COUNT ? phrases[p].text : "";
}

const char *km_phrase_name(enum km_phrase p)
{
	return (unsigned)p < KM_PHRASE_COUNT ? phrases[p].name : "unknown";
}

const char *km_cue_name(enum km_cue c)
{
	static const char *const names[KM_CUE_COUNT] = {
	    "NONE",   "SCAN_START", "NEXT_SPOT", "PROXIMITY", "HOLD_STARTED",
	    "TARGET", "RELEASE",    "STOP",      "EASE_OFF",  "PAUSE",
	    "RESUME", "TICK",       "REST",      "DONE",      "ALERT"};
	return (unsigned)c < KM_CUE_COUNT ? names[c] : "UNKNOWN";
}

const char *km_guided_state_name(enum km_guided_state s)
{
	static const char *const names[] = {"OFF",  "SCAN", "PLACE",  "HOLD",
	                                    "REST", "DONE", "STOPPED"};
	return (unsigned)s < KM_ARRAY_SIZE(names) ? names[s] : "UNKNOWN";
}

struct scan_cand {
	float x, y;
	uint32_t seen;
	uint32_t bone; /* frames it was labelled a landmark (bone / tool) */
	uint32_t track_id;
};

struct km_guided {
	struct km_guided_config cfg;
	enum km_guided_state state;
	uint64_t start_us, last_us, phase_us, end_us;
	bool have_time;

	/* scan */
	double scan_loaded_s;
	uint32_t scan_frames;
	struct scan_cand cand[MAX_SCAN];
	size_t n_cand;

	/* spots */
	struct km_guided_spot spots[KM_GUIDED_MAX_SPOTS];
	uint32_t n_spots, cur;
	float rest_len_s; /* this rest's length (rest_s, or cooldown before a retry) */
	bool rest_retry;  /* the rest ends on the same spot */

	/* hold */
	uint32_t hold_track;
	bool running, paused, release_prompted;
	uint64_t started_us, pause_from_us, paused_us;
	double held_base_s; /* timer seconds at HOLD_STARTED (settling may count) */
	double next_tick_s;
	uint64_t last_ease_us;
	bool eased_once;

	/* proximity */
	uint64_t prox_next_us;
	bool pointer_valid;
	float pointer_x, pointer_y;

	char prompt[KM_GUIDED_TEXT_MAX];
	bool red_flag, seek_advice;
	uint64_t dropped;
};

/* Where the cues of one call go. */
struct out {
	struct km_guided_cue *cues;
	size_t cap, n;
	uint64_t t_us;
};

struct km_guided_config km_guided_config_default(void)
{
	struct km_guided_config c;
	memset(&c, 0, sizeof c);
	c.scan_s = 20.0f;
	c.scan_seen_fraction = 0.5f;
	c.max_spots = 3;
	c.spot_radius_mm = 25.0f;
	c.spine_margin_mm = 25.0f;
	c.place_timeout_s = 90.0f;
	c.rest_s = 15.0f;
	c.cooldown_s = 30.0f;
	c.max_holds = 3;
	c.min_hold_s = 30.0f;
	c.tick_s = 10.0f;
	c.proximity_period_s = 0.6f;
	c.proximity_far_mm = 300.0f;
	c.proximity_lo_hz = 330.0f;
	c.proximity_hi_hz = 880.0f;
	c.tool_min_kpa = 120.0f;
	c.edge_margin_mm = 30.0f;
	return c;
}

static bool in_range(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

static int check_config(const struct km_guided_config *c)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	const float f[] = {c->scan_s,           c->scan_seen_fraction,
	                   c->spot_radius_mm,   c->spine_margin_mm,
	                   c->place_timeout_s,  c->rest_s,
	                   c->cooldown_s,       c->min_hold_s,
	                   c->tick_s,           c->proximity_period_s,
	                   c->proximity_far_mm, c->proximity_lo_hz,
	                   c->proximity_hi_hz,  c->tool_min_kpa,
	                   c->edge_margin_mm};
	for (size_t i = 0; i < KM_ARRAY_SIZE(f); i++)
		if (!isfinite(f[i]))
			return KM_ERR_INVALID_ARG;
	if (!in_range(c->scan_s, 1.0f, 600.0f) || !in_range(c->scan_seen_fraction, 0.0f, 1.0f) ||
	    c->max_spots < 1 || c->max_spots > KM_GUIDED_MAX_SPOTS ||
	    !in_range(c->spot_radius_mm, 1.0f, 200.0f) ||
	    !in_range(c->spine_margin_mm, 0.0f, 200.0f) ||
	    !in_range(c->place_timeout_s, 1.0f, 3600.0f) || !in_range(c->rest_s, 0.0f, 600.0f) ||
	    !in_range(c->cooldown_s, 0.0f, 600.0f) || c->max_holds < 1 || c->max_holds > 3 ||
	    !in_range(c->min_hold_s, 0.0f, 90.0f) || !in_range(c->tick_s, 0.0f, 60.0f) ||
	    !in_range(c->proximity_period_s, 0.1f, 10.0f) ||
	    !in_range(c->proximity_far_mm, 10.0f, 5000.0f) ||
	    !in_range(c->proximity_lo_hz, 50.0f, 4000.0f) ||
	    !in_range(c->proximity_hi_hz, c->proximity_lo_hz, 8000.0f) ||
	    !in_range(c->tool_min_kpa, 0.0f, 10000.0f) ||
	    !in_range(c->edge_margin_mm, 0.0f, 500.0f))
		return KM_ERR_RANGE;
	return KM_OK;
}

int km_guided_create(const struct km_guided_config *cfg, km_guided **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	int err = check_config(cfg);
	if (err != KM_OK) {
		if (cfg)
			km__log(&cfg->log, KM_LOG_ERROR, "guided", "config rejected: %s",
			        km_strerror(err));
		return err;
	}
	km_guided *g = km__calloc(1, sizeof *g);
	if (!g)
		return KM_ERR_NO_MEMORY;
	g->cfg = *cfg;
	km_guided_reset(g);
	*out = g;
	return KM_OK;
}

void km_guided_reset(km_guided *g)
{
	if (!g)
		return;
	struct km_guided_config c = g->cfg;
	memset(g, 0, sizeof *g);
	g->cfg = c;
	g->state = KM_GUIDED_OFF;
}

void km_guided_destroy(km_guided *g)
{
	km__free(g);
}

uint64_t km_guided_dropped(const km_guided *g)
{
	return g ? g->dropped : 0;
}

static void emit(km_guided *g, struct out *o, enum km_cue cue, enum km_phrase phrase, float hz)
{
	if (!o->cues || o->n >= o->cap) {
		g->dropped++;
		return;
	}
	struct km_guided_cue *c = &o->cues[o->n++];
	c->cue = cue;
	c->phrase = phrase;
	c->freq_hz = hz;
	c->time_us = o->t_us;
}

static void set_prompt(km_guided *g, const char *fmt, ...) KM_PRINTF(2, 3);
static void set_prompt(km_guided *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->prompt, sizeof g->prompt, fmt, ap);
	va_end(ap);
}

static double since_s(uint64_t now, uint64_t then)
{
	return now >= then ? (double)(now - then) / 1e6 : 0.0;
}

static float dist(float ax, float ay, float bx, float by)
{
	return hypotf(ax - bx, ay - by);
}

static void begin_place(km_guided *g, struct out *o)
{
	g->state = KM_GUIDED_PLACE;
	g->phase_us = o->t_us;
	g->hold_track = 0;
	g->running = g->paused = g->release_prompted = false;
	g->prox_next_us = o->t_us;
	set_prompt(g, "Spot %u of %u: place the ball under it", (unsigned)g->cur + 1,
	           (unsigned)g->n_spots);
	emit(g, o, KM_CUE_NEXT_SPOT, KM_PHRASE_PLACE_BALL, 0.0f);
}

static void finish(km_guided *g, struct out *o)
{
	g->state = KM_GUIDED_DONE;
	g->end_us = o->t_us;
	uint32_t treated = 0;
	for (uint32_t i = 0; i < g->n_spots; i++)
		treated += g->spots[i].held_s >= g->cfg.min_hold_s;
	if (g->n_spots == 0)
		set_prompt(g, "No candidate spots found: nothing to treat today");
	else
		set_prompt(g, "Done: %u of %u spots treated", (unsigned)treated,
		           (unsigned)g->n_spots);
	emit(g, o, KM_CUE_DONE, KM_PHRASE_DONE, 0.0f);
	if (g->seek_advice)
		emit(g, o, KM_CUE_NONE, KM_PHRASE_SEE_PRO, 0.0f);
}

/* The next spot, or the end. */
static void next_spot(km_guided *g, struct out *o)
{
	g->cur++;
	if (g->cur >= g->n_spots)
		finish(g, o);
	else
		begin_place(g, o);
}

static void begin_rest(km_guided *g, struct out *o, float len_s, bool retry)
{
	g->state = KM_GUIDED_REST;
	g->phase_us = o->t_us;
	g->rest_len_s = len_s;
	g->rest_retry = retry;
	g->hold_track = 0;
	g->running = g->paused = false;
	set_prompt(g, "%s",
	           retry ? "Rest, then try this spot again" : "Roll off the ball and rest");
	emit(g, o, KM_CUE_REST, KM_PHRASE_REST, 0.0f);
}

static void skip_spot(km_guided *g, struct out *o, enum km_event_reason why)
{
	struct km_guided_spot *s = &g->spots[g->cur];
	s->skipped = true;
	s->skip_reason = why;
	next_spot(g, o);
}

/* Head to feet, and left to right (on the mat) for spots at about the same
 * height (within band_mm): a predictable order lying down. */
static int cmp_cand(const struct scan_cand *x, const struct scan_cand *y, float band_mm)
{
	if (fabsf(x->y - y->y) > band_mm)
		return x->y < y->y ? -1 : 1;
	return x->x < y->x ? -1 : x->x > y->x ? 1 : 0;
}

static void choose_spots(km_guided *g, struct out *o)
{
	/* Strongest evidence first (seen most), then order them for the body. */
	struct scan_cand pick[KM_GUIDED_MAX_SPOTS];
	size_t n = 0;
	uint32_t need = (uint32_t)ceilf(g->cfg.scan_seen_fraction * (float)g->scan_frames);
	bool used[MAX_SCAN] = {false};
	while (n < g->cfg.max_spots) {
		size_t best = MAX_SCAN;
		for (size_t i = 0; i < g->n_cand; i++)
			if (!used[i] && g->cand[i].seen >= KM_MAX(need, 1u) &&
			    g->cand[i].bone * 2 <= g->cand[i].seen &&
			    (best == MAX_SCAN || g->cand[i].seen > g->cand[best].seen))
				best = i;
		if (best == MAX_SCAN)
			break;
		used[best] = true;
		pick[n++] = g->cand[best];
	}
	/* Insertion sort: n <= 8. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i;
		     j > 0 && cmp_cand(&pick[j - 1], &pick[j], g->cfg.spot_radius_mm) > 0; j--) {
			struct scan_cand t = pick[j];
			pick[j] = pick[j - 1];
			pick[j - 1] = t;
		}
	g->n_spots = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		struct km_guided_spot *s = &g->spots[i];
		memset(s, 0, sizeof *s);
		s->x_mm = pick[i].x;
		s->y_mm = pick[i].y;
		s->track_id = pick[i].track_id;
		s->stiffness_pct = NAN;
	}
	g->cur = 0;
	if (n == 0)
		finish(g, o);
	else
		begin_place(g, o);
}

static void scan_frame(km_guided *g, const struct km_guided_input *in, double dt)
{
	if (!in->loaded) {
		set_prompt(g, "Lie down flat on the mat to begin");
		return;
	}
	g->scan_loaded_s += dt;
	g->scan_frames++;
	for (size_t i = 0; i < in->n_contacts; i++) {
		const struct km_guided_contact *c = &in->contacts[i];
		/* Never the spine. A landmark label (bone) can flicker on a knot
		 * beside a bone: judged over the whole scan, in choose_spots. */
		if (c->over_spine || !isfinite(c->x_mm) || !isfinite(c->y_mm))
			continue;
		/* The side of the contact (arms, flanks): an edge, not a knot. */
		if (isfinite(c->edge_mm) && c->edge_mm < g->cfg.edge_margin_mm)
			continue;
		if (in->midline_valid && fabsf(c->x_mm - in->midline_x_mm) < g->cfg.spine_margin_mm)
			continue;
		size_t k = 0;
		while (k < g->n_cand &&
		       dist(g->cand[k].x, g->cand[k].y, c->x_mm, c->y_mm) > g->cfg.spot_radius_mm)
			k++;
		if (k == g->n_cand) {
			if (g->n_cand == MAX_SCAN)
				continue;
			g->n_cand++;
			g->cand[k].x = c->x_mm;
			g->cand[k].y = c->y_mm;
			g->cand[k].seen = 0;
			g->cand[k].bone = 0;
			g->cand[k].track_id = c->track_id;
		}
		struct scan_cand *s = &g->cand[k];
		/* running mean of the position */
		float w = 1.0f / (float)(s->seen + 1);
		s->x += (c->x_mm - s->x) * w;
		s->y += (c->y_mm - s->y) * w;
		s->seen++;
		s->bone += c->landmark;
		s->track_id = c->track_id;
	}
	double left = KM_MAX(0.0, (double)g->cfg.scan_s - g->scan_loaded_s);
	set_prompt(g, "Lie flat and still: scanning for tender spots (%.0f s)", ceil(left));
}

static bool near_target(const km_guided *g, const struct km_event *ev)
{
	const struct km_guided_spot *s = &g->spots[g->cur];
	return isfinite(ev->x_mm) && isfinite(ev->y_mm) &&
	       dist(ev->x_mm, ev->y_mm, s->x_mm, s->y_mm) <= g->cfg.spot_radius_mm;
}

static void place_event(km_guided *g, struct out *o, const struct km_event *ev)
{
	if (!near_target(g, ev))
		return;
	switch (ev->type) {
	case KM_EVENT_HOLD_ENGAGED:
		g->state = KM_GUIDED_HOLD;
		g->phase_us = o->t_us;
		g->hold_track = ev->track_id;
		g->running = g->paused = g->release_prompted = false;
		g->paused_us = 0;
		g->spots[g->cur].track_id = ev->track_id;
		set_prompt(g, "On the spot: keep still, let your weight sink in");
		break;
	case KM_EVENT_SPINE_BLOCKED:
		skip_spot(g, o, KM_REASON_SPINE);
		break;
	case KM_EVENT_HOLD_LIMIT:
		skip_spot(g, o, KM_REASON_LIMIT);
		break;
	case KM_EVENT_COOLDOWN:
		set_prompt(g, "This spot needs a rest first: lift off and wait");
		break;
	default:
		break;
	}
}

static double held_estimate(const km_guided *g, uint64_t now)
{
	if (!g->running)
		return 0.0;
	uint64_t paused =
	    g->paused_us + (g->paused && now > g->pause_from_us ? now - g->pause_from_us : 0);
	double s = g->held_base_s + since_s(now, g->started_us) - (double)paused / 1e6;
	return KM_MAX(0.0, s);
}

static void hold_stopped(km_guided *g, struct out *o, const struct km_event *ev)
{
	struct km_guided_spot *s = &g->spots[g->cur];
	float held = isfinite(ev->held_s) && ev->held_s > 0.0f ? ev->held_s : 0.0f;
	bool started = g->running;
	if (started) {
		s->total_s += held;
		s->held_s = KM_MAX(s->held_s, held);
	}
	if (ev->reason == KM_REASON_HARD_STOP)
		emit(g, o, KM_CUE_STOP, KM_PHRASE_RELEASE, 0.0f);
	g->running = false;
	g->hold_track = 0;
	if (started && (held >= g->cfg.min_hold_s || g->release_prompted)) {
		if (g->cur + 1 < g->n_spots)
			begin_rest(g, o, g->cfg.rest_s, false);
		else
			next_spot(g, o); /* the last spot: straight to the summary */
		return;
	}
	if (!started) {
		/* Engaged but the timer never ran (moved while settling): keep
		 * guiding to the same spot. */
		g->state = KM_GUIDED_PLACE;
		set_prompt(g, "Moved off the spot: find it again and keep still");
		return;
	}
	if (s->holds >= g->cfg.max_holds) {
		skip_spot(g, o, KM_REASON_LIMIT);
		return;
	}
	begin_rest(g, o, g->cfg.cooldown_s, true);
}

static void hold_event(km_guided *g, struct out *o, const struct km_event *ev)
{
	struct km_guided_spot *s = &g->spots[g->cur];
	bool mine = ev->track_id == g->hold_track;
	switch (ev->type) {
	case KM_EVENT_HOLD_STARTED:
		if (!mine)
			return;
		g->running = true;
		g->paused = false;
		g->started_us = o->t_us;
		g->paused_us = 0;
		/* The timer may already hold the settling seconds (hold.h
		 * count_settling): ticks follow the timer, not this moment. */
		g->held_base_s = isfinite(ev->held_s) && ev->held_s > 0.0f ? ev->held_s : 0.0;
		g->next_tick_s = g->cfg.tick_s > 0.0f
		                     ? (floor(g->held_base_s / g->cfg.tick_s) + 1.0) * g->cfg.tick_s
		                     : 0.0;
		s->holds++;
		set_prompt(g, "Hold here and breathe slowly: 30 to 60 s");
		emit(g, o, KM_CUE_HOLD_STARTED, KM_PHRASE_HOLD_HERE, 0.0f);
		break;
	case KM_EVENT_HOLD_PAUSED:
		/* After the release prompt a pause is the release itself. */
		if (!mine || !g->running || g->paused || g->release_prompted)
			return;
		g->paused = true;
		g->pause_from_us = o->t_us;
		set_prompt(g, "Paused: settle back onto the spot");
		emit(g, o, KM_CUE_PAUSE, KM_PHRASE_NONE, 0.0f);
		break;
	case KM_EVENT_HOLD_RESUMED:
		if (!mine || !g->paused)
			return;
		g->paused = false;
		g->paused_us += o->t_us > g->pause_from_us ? o->t_us - g->pause_from_us : 0;
		set_prompt(g, "Holding again: breathe slowly");
		emit(g, o, KM_CUE_RESUME, KM_PHRASE_NONE, 0.0f);
		break;
	case KM_EVENT_HOLD_TARGET:
		if (!mine)
			return;
		s->reached_target = true;
		set_prompt(g, "Thirty seconds: stay if it keeps easing, up to 60 s");
		emit(g, o, KM_CUE_TARGET, KM_PHRASE_THIRTY, 0.0f);
		break;
	case KM_EVENT_HOLD_RELEASE:
		if (!mine)
			return;
		g->release_prompted = true;
		set_prompt(g, "Release now: roll slowly off the ball");
		emit(g, o, KM_CUE_RELEASE, KM_PHRASE_RELEASE, 0.0f);
		break;
	case KM_EVENT_TENSING_UP:
	case KM_EVENT_EASE_OFF:
		if (!mine && !near_target(g, ev))
			return;
		/* Told to release: the load falling away now is the release
		 * itself (the guard reads it as a withdrawal), not tension. */
		if (g->release_prompted)
			return;
		s->ease_off = true;
		if (!g->eased_once || since_s(o->t_us, g->last_ease_us) >= EASE_OFF_GAP_S) {
			set_prompt(g, "Too much pressure: ease off and breathe out");
			emit(g, o, KM_CUE_EASE_OFF, KM_PHRASE_EASE_OFF, 0.0f);
			g->last_ease_us = o->t_us;
			g->eased_once = true;
		}
		break;
	case KM_EVENT_RELEASED:
	case KM_EVENT_STIFFENED:
		if (!mine || !g->running)
			return;
		if (ev->type == KM_EVENT_RELEASED)
			s->released = true;
		else
			s->stiffened = true;
		if (isfinite(ev->stiffness_pct))
			s->stiffness_pct = ev->stiffness_pct;
		break;
	case KM_EVENT_HOLD_STOPPED:
		if (mine)
			hold_stopped(g, o, ev);
		break;
	case KM_EVENT_SPINE_BLOCKED:
		if (mine)
			skip_spot(g, o, KM_REASON_SPINE);
		break;
	default:
		break;
	}
}

static void pointer_from(km_guided *g, const struct km_guided_input *in)
{
	/* The ball or roller is the strongest contact by far (hundreds of kPa
	 * against the body's 5-30); without one, the load centre. */
	const struct km_guided_contact *best = NULL;
	for (size_t i = 0; i < in->n_contacts; i++) {
		const struct km_guided_contact *c = &in->contacts[i];
		if (isfinite(c->peak_kpa) && c->peak_kpa >= g->cfg.tool_min_kpa &&
		    isfinite(c->x_mm) && isfinite(c->y_mm) &&
		    (!best || c->peak_kpa > best->peak_kpa))
			best = c;
	}
	g->pointer_valid = true;
	if (best) {
		g->pointer_x = best->x_mm;
		g->pointer_y = best->y_mm;
	} else if (in->centre_valid && isfinite(in->centre_x_mm) && isfinite(in->centre_y_mm)) {
		g->pointer_x = in->centre_x_mm;
		g->pointer_y = in->centre_y_mm;
	} else {
		g->pointer_valid = false;
	}
}

static float proximity_hz(const km_guided *g, float d)
{
	/* Equal pitch steps per distance step: an exponential in frequency. */
	float u = 1.0f - KM_CLAMP(d / g->cfg.proximity_far_mm, 0.0f, 1.0f);
	return g->cfg.proximity_lo_hz * powf(g->cfg.proximity_hi_hz / g->cfg.proximity_lo_hz, u);
}

int km_guided_start(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                    size_t *n_cues)
{
	if (!g || !n_cues)
		return KM_ERR_INVALID_ARG;
	struct out o = {cues, cap, 0, t_us};
	km_guided_reset(g);
	g->state = KM_GUIDED_SCAN;
	g->start_us = g->last_us = g->phase_us = t_us;
	g->have_time = true;
	set_prompt(g, "Lie flat and still: scanning for tender spots");
	emit(g, &o, KM_CUE_SCAN_START, KM_PHRASE_LIE_STILL, 0.0f);
	*n_cues = o.n;
	return KM_OK;
}

static bool running_state(enum km_guided_state s)
{
	return s == KM_GUIDED_SCAN || s == KM_GUIDED_PLACE || s == KM_GUIDED_HOLD ||
	       s == KM_GUIDED_REST;
}

int km_guided_update(km_guided *g, const struct km_guided_input *in, struct km_guided_cue *cues,
                     size_t cap, size_t *n_cues)
{
	if (n_cues)
		*n_cues = 0;
	if (!g || !in || !n_cues || (in->n_events > 0 && !in->events) ||
	    in->n_contacts > KM_GUIDED_MAX_CONTACTS)
		return KM_ERR_INVALID_ARG;
	if (!running_state(g->state))
		return KM_OK;
	if (g->have_time && in->time_us < g->last_us)
		return KM_ERR_RANGE;
	struct out o = {cues, cap, 0, in->time_us};
	double dt = g->have_time ? since_s(in->time_us, g->last_us) : 0.0;
	g->last_us = in->time_us;
	g->have_time = true;
	pointer_from(g, in);

	for (size_t i = 0; i < in->n_events && running_state(g->state); i++) {
		const struct km_event *ev = &in->events[i];
		if (ev->type == KM_EVENT_SEEK_ADVICE && ev->reason != KM_REASON_SYMPTOMS) {
			g->seek_advice = true;
			for (uint32_t k = 0; k < g->n_spots; k++)
				if (dist(ev->x_mm, ev->y_mm, g->spots[k].x_mm, g->spots[k].y_mm) <=
				    g->cfg.spot_radius_mm)
					g->spots[k].seek_advice = true;
			continue;
		}
		if (g->state == KM_GUIDED_PLACE)
			place_event(g, &o, ev);
		else if (g->state == KM_GUIDED_HOLD)
			hold_event(g, &o, ev);
	}

	switch (g->state) {
	case KM_GUIDED_SCAN:
		scan_frame(g, in, dt);
		if (g->scan_loaded_s >= (double)g->cfg.scan_s)
			choose_spots(g, &o);
		break;
	case KM_GUIDED_PLACE: {
		const struct km_guided_spot *s = &g->spots[g->cur];
		if (since_s(o.t_us, g->phase_us) >= (double)g->cfg.place_timeout_s) {
			skip_spot(g, &o, KM_REASON_LOST);
			break;
		}
		if (g->pointer_valid && o.t_us >= g->prox_next_us) {
			float d = dist(g->pointer_x, g->pointer_y, s->x_mm, s->y_mm);
			emit(g, &o, KM_CUE_PROXIMITY, KM_PHRASE_NONE, proximity_hz(g, d));
			g->prox_next_us = o.t_us + (uint64_t)(g->cfg.proximity_period_s * 1e6f);
		}
		break;
	}
	case KM_GUIDED_HOLD:
		if (g->running && !g->paused && !g->release_prompted && g->cfg.tick_s > 0.0f) {
			double h = held_estimate(g, o.t_us);
			if (h >= g->next_tick_s) {
				/* No tick on top of the 30 / 60 / 90 s cues. */
				double m = fmod(g->next_tick_s, 30.0);
				if (m > 0.5 && m < 29.5)
					emit(g, &o, KM_CUE_TICK, KM_PHRASE_NONE, 0.0f);
				g->next_tick_s += g->cfg.tick_s;
			}
		}
		break;
	case KM_GUIDED_REST:
		if (since_s(o.t_us, g->phase_us) >= (double)g->rest_len_s) {
			if (g->rest_retry)
				begin_place(g, &o);
			else
				next_spot(g, &o);
		} else {
			double left = (double)g->rest_len_s - since_s(o.t_us, g->phase_us);
			set_prompt(g, "%s (%.0f s)",
			           g->rest_retry ? "Rest, then try this spot again"
			                         : "Roll off the ball and rest",
			           ceil(left));
		}
		break;
	default:
		break;
	}
	*n_cues = o.n;
	return KM_OK;
}

int km_guided_red_flag(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                       size_t *n_cues)
{
	if (n_cues)
		*n_cues = 0;
	if (!g || !n_cues)
		return KM_ERR_INVALID_ARG;
	if (!running_state(g->state))
		return KM_ERR_STATE;
	struct out o = {cues, cap, 0, t_us};
	if ((g->state == KM_GUIDED_PLACE || g->state == KM_GUIDED_HOLD) && g->cur < g->n_spots) {
		struct km_guided_spot *s = &g->spots[g->cur];
		s->skipped = true;
		s->skip_reason = KM_REASON_SYMPTOMS;
		if (g->running) {
			/* the hold so far, by the timer estimate */
			float h = (float)held_estimate(g, t_us);
			s->held_s = KM_MAX(s->held_s, h);
			s->total_s += h;
		}
	}
	g->red_flag = true;
	g->state = KM_GUIDED_STOPPED;
	g->end_us = t_us;
	g->running = false;
	set_prompt(g, "Stopped: see a healthcare professional before pressing here again");
	emit(g, &o, KM_CUE_ALERT, KM_PHRASE_STOP, 0.0f);
	*n_cues = o.n;
	return KM_OK;
}

int km_guided_skip(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                   size_t *n_cues)
{
	if (n_cues)
		*n_cues = 0;
	if (!g || !n_cues)
		return KM_ERR_INVALID_ARG;
	if (g->state != KM_GUIDED_PLACE && g->state != KM_GUIDED_HOLD && g->state != KM_GUIDED_REST)
		return KM_ERR_STATE;
	struct out o = {cues, cap, 0, t_us};
	if (g->state == KM_GUIDED_REST && !g->rest_retry) {
		next_spot(g, &o); /* skip the rest */
	} else {
		struct km_guided_spot *s = &g->spots[g->cur];
		if (s->held_s < g->cfg.min_hold_s) {
			s->skipped = true;
			s->skip_reason = KM_REASON_USER;
		}
		next_spot(g, &o);
	}
	*n_cues = o.n;
	return KM_OK;
}

int km_guided_get_view(const km_guided *g, struct km_guided_view *v)
{
	if (!g || !v)
		return KM_ERR_INVALID_ARG;
	memset(v, 0, sizeof *v);
	v->state = g->state;
	v->active = g->state != KM_GUIDED_OFF;
	v->spot_index = g->cur;
	v->n_spots = g->n_spots;
	v->seek_advice = g->seek_advice;
	memcpy(v->prompt, g->prompt, sizeof v->prompt);
	if ((g->state == KM_GUIDED_PLACE || g->state == KM_GUIDED_HOLD) && g->cur < g->n_spots) {
		v->target_valid = true;
		v->target_x_mm = g->spots[g->cur].x_mm;
		v->target_y_mm = g->spots[g->cur].y_mm;
	}
	v->pointer_valid = g->pointer_valid && running_state(g->state);
	v->pointer_x_mm = g->pointer_x;
	v->pointer_y_mm = g->pointer_y;
	if (v->target_valid && v->pointer_valid)
		v->distance_mm =
		    dist(v->pointer_x_mm, v->pointer_y_mm, v->target_x_mm, v->target_y_mm);
	double el = since_s(g->last_us, g->phase_us);
	switch (g->state) {
	case KM_GUIDED_SCAN:
		v->phase_total_s = g->cfg.scan_s;
		v->phase_left_s = (float)KM_MAX(0.0, (double)g->cfg.scan_s - g->scan_loaded_s);
		break;
	case KM_GUIDED_PLACE:
		v->phase_total_s = g->cfg.place_timeout_s;
		v->phase_left_s = (float)KM_MAX(0.0, (double)g->cfg.place_timeout_s - el);
		break;
	case KM_GUIDED_REST:
		v->phase_total_s = g->rest_len_s;
		v->phase_left_s = (float)KM_MAX(0.0, (double)g->rest_len_s - el);
		break;
	default:
		break;
	}
	v->held_s = (float)held_estimate(g, g->last_us);
	return KM_OK;
}

int km_guided_get_summary(const km_guided *g, struct km_guided_summary *s)
{
	if (!g || !s)
		return KM_ERR_INVALID_ARG;
	memset(s, 0, sizeof *s);
	s->end_state = g->state;
	uint64_t end = running_state(g->state) ? g->last_us : g->end_us;
	s->duration_s = since_s(end, g->start_us);
	s->n_spots = g->n_spots;
	for (uint32_t i = 0; i < g->n_spots; i++)
		s->spots[i] = g->spots[i];
	/* A hold still running (the routine ended or the viewer quit mid-hold)
	 * counts with its length so far, the seconds the screen showed: its
	 * HOLD_STOPPED has not come yet. */
	if (g->running && running_state(g->state) && g->cur < g->n_spots) {
		struct km_guided_spot *sp = &s->spots[g->cur];
		float h = (float)held_estimate(g, g->last_us);
		sp->held_s = KM_MAX(sp->held_s, h);
		sp->total_s += h;
	}
	for (uint32_t i = 0; i < g->n_spots; i++)
		s->treated += s->spots[i].held_s >= g->cfg.min_hold_s;
	s->red_flag = g->red_flag;
	s->seek_advice = g->seek_advice;
	return KM_OK;
}

/* snprintf into buf at *len, tracking the length it would need. */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...) KM_PRINTF(4, 5);
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

static const char *skip_words(enum km_event_reason r)
{
	switch (r) {
	case KM_REASON_SPINE:
		return "on the spine: not treated";
	case KM_REASON_LIMIT:
		return "hold limit reached";
	case KM_REASON_LOST:
		return "not reached in time";
	case KM_REASON_USER:
		return "skipped";
	case KM_REASON_SYMPTOMS:
		return "stopped: symptoms logged";
	default:
		return "not treated";
	}
}

int km_guided_summary_text(const struct km_guided_summary *s, char *buf, size_t size)
{
	if (!s || (!buf && size > 0))
		return -1;
	if (size > 0)
		buf[0] = '\0';
	size_t len = 0;
	put(buf, size, &len, "Guided session: %u of %u candidate spots treated in %.0f s%s\n",
	    (unsigned)s->treated, (unsigned)s->n_spots, s->duration_s,
	    s->end_state == KM_GUIDED_STOPPED ? " (stopped early)" : "");
	for (uint32_t i = 0; i < s->n_spots && i < KM_GUIDED_MAX_SPOTS; i++) {
		const struct km_guided_spot *p = &s->spots[i];
		put(buf, size, &len, "  spot %u at (%.0f, %.0f) mm: ", (unsigned)i + 1,
		    (double)p->x_mm, (double)p->y_mm);
		if (p->holds == 0 && p->skipped)
			put(buf, size, &len, "%s", skip_words(p->skip_reason));
		else if (p->holds == 0)
			put(buf, size, &len, "no hold");
		else
			put(buf, size, &len, "%u hold%s, longest %.0f s", (unsigned)p->holds,
			    p->holds == 1 ? "" : "s", (double)p->held_s);
		if (p->released)
			put(buf, size, &len, ", softened (%+.0f%% stiffness)",
			    isfinite(p->stiffness_pct) ? (double)p->stiffness_pct : 0.0);
		if (p->stiffened)
			put(buf, size, &len, ", stiffened (%+.0f%%): go gentler next time",
			    isfinite(p->stiffness_pct) ? (double)p->stiffness_pct : 0.0);
		if (p->ease_off)
			put(buf, size, &len, ", tensed up");
		if (p->skipped && p->holds > 0)
			put(buf, size, &len, ", %s", skip_words(p->skip_reason));
		put(buf, size, &len, "\n");
	}
	if (s->red_flag)
		put(buf, size, &len,
		    "Numbness, tingling or radiating pain was logged: see a healthcare "
		    "professional before pressing on this area again.\n");
	else if (s->seek_advice)
		put(buf, size, &len,
		    "See a healthcare professional if a spot keeps coming back.\n");
	put(buf, size, &len, "Candidate tender/stiff spots, not a diagnosis.\n");
	return (int)KM_MIN(len, (size_t)0x7fffffff);
}

static void put_num(char *buf, size_t size, size_t *len, float v)
{
	if (isfinite(v))
		put(buf, size, len, "%.1f", (double)v);
	else
		put(buf, size, len, "null");
}

int km_guided_summary_json(const struct km_guided_summary *s, char *buf, size_t size)
{
	if (!s || (!buf && size > 0))
		return -1;
	if (size > 0)
		buf[0] = '\0';
	size_t len = 0;
	put(buf, size, &len,
	    "{\"routine\":\"guided\",\"end\":\"%s\",\"duration_s\":%.1f,\"spots_found\":%u,"
	    "\"treated\":%u,\"red_flag\":%s,\"seek_advice\":%s,\"spots\":[",
	    km_guided_state_name(s->end_state), s->duration_s, (unsigned)s->n_spots,
	    (unsigned)s->treated, s->red_flag ? "true" : "false",
	    s->seek_advice ? "true" : "false");
	for (uint32_t i = 0; i < s->n_spots && i < KM_GUIDED_MAX_SPOTS; i++) {
		const struct km_guided_spot *p = &s->spots[i];
		put(buf, size, &len, "%s{\"x_mm\":", i ? "," : "");
		put_num(buf, size, &len, p->x_mm);
		put(buf, size, &len, ",\"y_mm\":");
		put_num(buf, size, &len, p->y_mm);
		put(buf, size, &len, ",\"holds\":%u,\"held_s\":", (unsigned)p->holds);
		put_num(buf, size, &len, p->held_s);
		put(buf, size, &len, ",\"total_s\":");
		put_num(buf, size, &len, p->total_s);
		put(buf, size, &len,
		    ",\"reached_target\":%s,\"released\":%s,\"stiffened\":%s,\"stiffness_pct\":",
		    p->reached_target ? "true" : "false", p->released ? "true" : "false",
		    p->stiffened ? "true" : "false");
		put_num(buf, size, &len, p->stiffness_pct);
		put(buf, size, &len, ",\"ease_off\":%s,\"skipped\":%s,\"skip_reason\":\"%s\"}",
		    p->ease_off ? "true" : "false", p->skipped ? "true" : "false",
		    p->skipped ? km_event_reason_name(p->skip_reason) : "NONE");
	}
	put(buf, size, &len, "]}\n");
	return (int)KM_MIN(len, (size_t)0x7fffffff);
}

bool km_guided_cue_for_event(const struct km_event *ev, struct km_guided_cue *out)
{
	if (!ev || !out)
		return false;
	struct km_guided_cue c = {KM_CUE_NONE, KM_PHRASE_NONE, 0.0f, ev->time_us};
	switch (ev->type) {
	case KM_EVENT_HOLD_STARTED:
		c.cue = KM_CUE_HOLD_STARTED;
		c.phrase = KM_PHRASE_HOLD_HERE;
		break;
	case KM_EVENT_HOLD_TARGET:
		c.cue = KM_CUE_TARGET;
		c.phrase = KM_PHRASE_THIRTY;
		break;
	case KM_EVENT_HOLD_RELEASE:
		c.cue = KM_CUE_RELEASE;
		c.phrase = KM_PHRASE_RELEASE;
		break;
	case KM_EVENT_HOLD_STOPPED:
		if (ev->reason != KM_REASON_HARD_STOP)
			return false;
		c.cue = KM_CUE_STOP;
		c.phrase = KM_PHRASE_RELEASE;
		break;
	case KM_EVENT_HOLD_PAUSED:
		c.cue = KM_CUE_PAUSE;
		break;
	case KM_EVENT_HOLD_RESUMED:
		c.cue = KM_CUE_RESUME;
		break;
	case KM_EVENT_TENSING_UP:
	case KM_EVENT_EASE_OFF:
		c.cue = KM_CUE_EASE_OFF;
		c.phrase = KM_PHRASE_EASE_OFF;
		break;
	default:
		return false;
	}
	*out = c;
	return true;
}
