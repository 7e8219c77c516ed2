/* Hold timers: the per-knot state machine of docs/signal-model.md ("Hold timer"). */
#include "knotmap/hold.h"

#include <math.h>
#include <string.h>

#include "km_internal.h"

#define MOD "hold"

struct slot {
	bool used;
	bool seen; /* present in this frame's input */
	uint32_t track_id, knot_id;
	enum km_hold_state state;
	enum km_event_reason block_reason, pause_reason;
	float x, y, load, load_n, spine_d;
	bool over_flag, tensing, tensing_prev;
	uint64_t t_state; /* engage anchor time / settle start / pause start (us) */
	float ax, ay;     /* anchor position, mm */
	double sum_load, sum_x, sum_y;
	uint32_t nsum;
	float base_load;
	uint64_t held_us;
	double dose; /* kPa * s */
	bool target_sent, release_sent;
	uint32_t hold_index;
	int32_t spot; /* spot history index, -1 none */
};

struct spot {
	bool used;
	bool has_end;
	float x, y;
	uint64_t last_end_us;
	uint64_t last_used_us;
	uint32_t total; /* holds started in this session */
	uint32_t nstart;
	uint32_t start_head; /* ring of the last max_holds start times */
};

struct km_hold {
	struct km_hold_config cfg;
	uint64_t engage_us, settle_us, pause_us, target_us, release_us, hard_us;
	uint64_t cooldown_us, window_us;
	struct slot *slots;
	struct spot *spots;
	uint64_t *starts; /* [max_spots x max_holds] */
	uint64_t t_prev;
	bool have_t;
	uint32_t seq;
	uint64_t overflow;
};

struct km_hold_config km_hold_config_default(void)
{
	struct km_hold_config c;
	memset(&c, 0, sizeof(c));
	c.max_tracks = 16;
	c.max_spots = 64;
	/* Above supine resting pressure (20-30 mmHg = 2.7-4 kPa, docs/signal-model.md),
	 * with margin. */
	c.load_min_kpa = 10.0f; /* est. */
	c.load_max_kpa = 0.0f;
	c.band_lo = 0.5f; /* est.: half the settled load still counts as pressing */
	c.band_hi = 2.0f; /* est. */
	c.engage_s = 2.0f;
	c.engage_drift_mm = 10.0f;
	c.settle_s = 5.0f;
	c.hold_drift_mm = 15.0f;
	c.pause_max_s = 2.0f;
	c.target_s = 30.0f;
	c.release_s = 60.0f;
	c.hard_stop_s = 90.0f;
	/* The load is already steady and on the knot while settling: counting
	 * those seconds times the hold from when the pressure actually began. */
	c.count_settling = true;
	c.cooldown_s = 30.0f;
	c.max_holds = 3;
	c.limit_window_s = 120.0f;
	c.spot_radius_mm = 20.0f;
	c.spine_margin_mm = 25.0f;
	return c;
}

static bool pos_finite(float v)
{
	return isfinite(v) && v > 0.0f;
}

static bool nonneg_finite(float v)
{
	return isfinite(v) && v >= 0.0f;
}

static uint64_t to_us(float s)
{
	return (uint64_t)llround((double)s * 1e6);
}

static int check_config(const struct km_hold_config *c)
{
	if (c->max_tracks < 1 || c->max_tracks > 1024 || c->max_spots < 1 || c->max_spots > 4096 ||
	    c->max_holds < 1 || c->max_holds > 64)
		return KM_ERR_RANGE;
	if (!pos_finite(c->load_min_kpa) || !nonneg_finite(c->load_max_kpa) ||
	    !pos_finite(c->band_lo) || !nonneg_finite(c->band_hi))
		return KM_ERR_INVALID_ARG;
	if (c->band_lo > 1.0f || (c->band_hi != 0.0f && c->band_hi < 1.0f) ||
	    (c->load_max_kpa != 0.0f && c->load_max_kpa <= c->load_min_kpa))
		return KM_ERR_RANGE;
	const float durations[] = {c->engage_s,  c->settle_s,    c->pause_max_s,   c->target_s,
	                           c->release_s, c->hard_stop_s, c->limit_window_s};
	for (size_t i = 0; i < KM_ARRAY_SIZE(durations); i++)
		if (!pos_finite(durations[i]) || durations[i] > 86400.0f)
			return KM_ERR_INVALID_ARG;
	if (!nonneg_finite(c->cooldown_s) || c->cooldown_s > 86400.0f)
		return KM_ERR_INVALID_ARG;
	if (!nonneg_finite(c->engage_drift_mm) || !pos_finite(c->hold_drift_mm) ||
	    !nonneg_finite(c->spot_radius_mm) || !nonneg_finite(c->spine_margin_mm))
		return KM_ERR_INVALID_ARG;
	/* The release prompt is configurable 30-90 s (docs/signal-model.md). */
	if (c->release_s < 30.0f || c->release_s > 90.0f || c->release_s < c->target_s ||
	    c->hard_stop_s < c->release_s)
		return KM_ERR_RANGE;
	return KM_OK;
}

int km_hold_create(const struct km_hold_config *cfg, km_hold **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "bad config: %s", km_strerror(rc));
		return rc;
	}
	km_hold *h = km__calloc(1, sizeof(*h));
	if (!h)
		return KM_ERR_NO_MEMORY;
	h->cfg = *cfg;
	h->slots = km__calloc(cfg->max_tracks, sizeof(*h->slots));
	h->spots = km__calloc(cfg->max_spots, sizeof(*h->spots));
	h->starts = km__calloc((size_t)cfg->max_spots * cfg->max_holds, sizeof(*h->starts));
	if (!h->slots || !h->spots || !h->starts) {
		km_hold_destroy(h);
		return KM_ERR_NO_MEMORY;
	}
	h->engage_us = to_us(cfg->engage_s);
	h->settle_us = to_us(cfg->settle_s);
	h->pause_us = to_us(cfg->pause_max_s);
	h->target_us = to_us(cfg->target_s);
	h->release_us = to_us(cfg->release_s);
	h->hard_us = to_us(cfg->hard_stop_s);
	h->cooldown_us = to_us(cfg->cooldown_s);
	h->window_us = to_us(cfg->limit_window_s);
	*out = h;
	return KM_OK;
}

void km_hold_reset(km_hold *h)
{
	if (!h)
		return;
	memset(h->slots, 0, (size_t)h->cfg.max_tracks * sizeof(*h->slots));
	memset(h->spots, 0, (size_t)h->cfg.max_spots * sizeof(*h->spots));
	memset(h->starts, 0, (size_t)h->cfg.max_spots * h->cfg.max_holds * sizeof(*h->starts));
	h->have_t = false;
	h->t_prev = 0;
	h->overflow = 0;
}

void km_hold_destroy(km_hold *h)
{
	if (!h)
		return;
	km__free(h->slots);
	km__free(h->spots);
	km__free(h->starts);
	km__free(h);
}

const char *km_hold_state_name(enum km_hold_state s)
{
	switch (s) {
	case KM_HOLD_IDLE:
		return "IDLE";
	case KM_HOLD_ENGAGED:
		return "ENGAGED";
	case KM_HOLD_SETTLING:
		return "SETTLING";
	case KM_HOLD_HOLDING:
		return "HOLDING";
	case KM_HOLD_PAUSED:
		return "PAUSED";
	case KM_HOLD_BLOCKED:
		return "BLOCKED";
	}
	return "UNKNOWN";
}

uint64_t km_hold_overflow_count(const km_hold *h)
{
	return h ? h->overflow : 0;
}

/* ---- spot history (cooldown and hold limit are per spot, not per track) ---- */

static float dist(float x0, float y0, float x1, float y1)
{
	return hypotf(x1 - x0, y1 - y0);
}

static int32_t spot_find(km_hold *h, float x, float y, uint64_t t, bool create)
{
	int32_t best = -1;
	float best_d = h->cfg.spot_radius_mm;
	for (uint32_t i = 0; i < h->cfg.max_spots; i++) {
		const struct spot *sp = &h->spots[i];
		if (!sp->used)
			continue;
		float d = dist(sp->x, sp->y, x, y);
		if (d <= best_d) {
			best_d = d;
			best = (int32_t)i;
		}
	}
	if (best >= 0 || !create)
		return best;
	/* A free entry, else the least recently used one. */
	uint32_t victim = 0;
	for (uint32_t i = 0; i < h->cfg.max_spots; i++) {
		if (!h->spots[i].used) {
			victim = i;
			break;
		}
		if (h->spots[i].last_used_us < h->spots[victim].last_used_us)
			victim = i;
	}
	struct spot *sp = &h->spots[victim];
	memset(sp, 0, sizeof(*sp));
	sp->used = true;
	sp->x = x;
	sp->y = y;
	sp->last_used_us = t;
	return (int32_t)victim;
}

static uint32_t spot_starts_in_window(const km_hold *h, const struct spot *sp, uint64_t t)
{
	const uint64_t *ring = h->starts + (size_t)(sp - h->spots) * h->cfg.max_holds;
	uint32_t n = 0;
	for (uint32_t i = 0; i < sp->nstart; i++)
		if (t - ring[i] < h->window_us)
			n++;
	return n;
}

static void spot_add_start(km_hold *h, struct spot *sp, uint64_t t)
{
	uint64_t *ring = h->starts + (size_t)(sp - h->spots) * h->cfg.max_holds;
	ring[sp->start_head] = t;
	sp->start_head = (sp->start_head + 1) % h->cfg.max_holds;
	if (sp->nstart < h->cfg.max_holds)
		sp->nstart++;
	sp->total++;
	sp->last_used_us = t;
}

/* ---- events ---- */

static void emit(km_hold *h, struct km_event_sink *sink, const struct slot *s,
                 enum km_event_type type, enum km_event_reason reason, uint64_t t, float value)
{
	struct km_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.track_id = s->track_id;
	ev.knot_id = s->knot_id;
	ev.frame_seq = h->seq;
	ev.hold_index = s->hold_index;
	ev.time_us = t;
	ev.x_mm = s->x;
	ev.y_mm = s->y;
	ev.load_kpa = s->load;
	ev.load_n = s->load_n;
	ev.held_s = (float)((double)s->held_us * 1e-6);
	ev.dose_kpa_s = (float)s->dose;
	ev.value = value;
	km_event_sink_emit(sink, &ev);
}

static void block(struct slot *s, enum km_event_reason reason)
{
	s->state = KM_HOLD_BLOCKED;
	s->block_reason = reason;
}

/* Ends an engagement (SETTLING / HOLDING / PAUSED): one HOLD_STOPPED. */
static void stop(km_hold *h, struct km_event_sink *sink, struct slot *s, uint64_t t,
                 enum km_event_reason reason)
{
	bool started = s->state == KM_HOLD_HOLDING || s->state == KM_HOLD_PAUSED;
	float cur = s->load;
	/* STOPPED carries the mean load over the timed hold (dose / time). */
	if (started && s->held_us > 0)
		s->load = (float)(s->dose / ((double)s->held_us * 1e-6));
	emit(h, sink, s, KM_EVENT_HOLD_STOPPED, reason, t, 0.0f);
	s->load = cur;
	if (started && s->spot >= 0) {
		struct spot *sp = &h->spots[s->spot];
		sp->has_end = true;
		sp->last_end_us = t;
		sp->last_used_us = t;
	}
	block(s, reason);
}

/* ---- the state machine ---- */

static bool over_spine(const km_hold *h, const struct slot *s)
{
	return s->over_flag || (isfinite(s->spine_d) && fabsf(s->spine_d) < h->cfg.spine_margin_mm);
}

/* Why the hold is outside its limits now, or KM_REASON_NONE. */
static enum km_event_reason hold_fault(const km_hold *h, const struct slot *s)
{
	const struct km_hold_config *c = &h->cfg;
	if (!s->seen)
		return KM_REASON_LOST;
	if (s->load < c->load_min_kpa || s->load < c->band_lo * s->base_load)
		return KM_REASON_UNLOADED;
	if ((c->load_max_kpa > 0.0f && s->load > c->load_max_kpa) ||
	    (c->band_hi > 0.0f && s->load > c->band_hi * s->base_load))
		return KM_REASON_OVERLOAD;
	if (dist(s->ax, s->ay, s->x, s->y) >= c->hold_drift_mm)
		return KM_REASON_DRIFT;
	return KM_REASON_NONE;
}

static void step(km_hold *h, struct slot *s, uint64_t t, uint64_t dt, struct km_event_sink *sink)
{
	const struct km_hold_config *c = &h->cfg;
	bool loaded = s->seen && s->load >= c->load_min_kpa;
	bool over = over_spine(h, s);
	bool active = s->state == KM_HOLD_SETTLING || s->state == KM_HOLD_HOLDING ||
	              s->state == KM_HOLD_PAUSED;

	if (active && s->tensing && !s->tensing_prev)
		emit(h, sink, s, KM_EVENT_EASE_OFF, KM_REASON_TENSING, t, 0.0f);
	s->tensing_prev = s->tensing;

	/* Safety first: no hold is ever timed over the spine midline. */
	if (active && over) {
		stop(h, sink, s, t, KM_REASON_SPINE);
		emit(h, sink, s, KM_EVENT_SPINE_BLOCKED, KM_REASON_SPINE, t, s->spine_d);
		return;
	}

	switch (s->state) {
	case KM_HOLD_BLOCKED:
		if (!loaded || (s->block_reason == KM_REASON_SPINE && !over))
			s->state = KM_HOLD_IDLE;
		break;
	case KM_HOLD_IDLE:
		if (loaded) {
			s->state = KM_HOLD_ENGAGED;
			s->t_state = t;
			s->ax = s->x;
			s->ay = s->y;
		}
		break;
	case KM_HOLD_ENGAGED:
		if (!loaded) {
			s->state = KM_HOLD_IDLE;
		} else if (dist(s->ax, s->ay, s->x, s->y) >= c->engage_drift_mm) {
			/* Still moving: restart the steadiness window here. */
			s->t_state = t;
			s->ax = s->x;
			s->ay = s->y;
		} else if (t - s->t_state >= h->engage_us) {
			if (over) {
				emit(h, sink, s, KM_EVENT_SPINE_BLOCKED, KM_REASON_SPINE, t,
				     s->spine_d);
				block(s, KM_REASON_SPINE);
				break;
			}
			s->spot = spot_find(h, s->ax, s->ay, t, true);
			struct spot *sp = &h->spots[s->spot];
			s->hold_index = sp->total;
			/* km_hold_stop() may have been given a later time than this frame. */
			uint64_t since = t > sp->last_end_us ? t - sp->last_end_us : 0;
			if (sp->has_end && since < h->cooldown_us) {
				float left = (float)((double)(h->cooldown_us - since) * 1e-6);
				emit(h, sink, s, KM_EVENT_COOLDOWN, KM_REASON_COOLDOWN, t, left);
				block(s, KM_REASON_COOLDOWN);
				break;
			}
			if (spot_starts_in_window(h, sp, t) >= c->max_holds) {
				emit(h, sink, s, KM_EVENT_HOLD_LIMIT, KM_REASON_LIMIT, t,
				     (float)c->max_holds);
				block(s, KM_REASON_LIMIT);
				break;
			}
			s->state = KM_HOLD_SETTLING;
			s->t_state = t;
			s->sum_load = s->load;
			s->sum_x = s->x;
			s->sum_y = s->y;
			s->nsum = 1;
			s->held_us = 0;
			s->dose = 0.0;
			s->target_sent = s->release_sent = false;
			s->base_load = 0.0f;
			emit(h, sink, s, KM_EVENT_HOLD_ENGAGED, KM_REASON_NONE, t, 0.0f);
		}
		break;
	case KM_HOLD_SETTLING:
		if (!loaded) {
			stop(h, sink, s, t, s->seen ? KM_REASON_UNLOADED : KM_REASON_LOST);
		} else if (c->load_max_kpa > 0.0f && s->load > c->load_max_kpa) {
			stop(h, sink, s, t, KM_REASON_OVERLOAD);
		} else if (dist(s->ax, s->ay, s->x, s->y) >= c->hold_drift_mm) {
			stop(h, sink, s, t, KM_REASON_DRIFT);
		} else {
			s->sum_load += s->load;
			s->sum_x += s->x;
			s->sum_y += s->y;
			s->nsum++;
			if (c->count_settling) {
				s->held_us += dt;
				s->dose += (double)s->load * (double)dt * 1e-6;
			}
			if (t - s->t_state >= h->settle_us) {
				/* Baselines: mean load and position over the settling. */
				s->base_load = (float)(s->sum_load / s->nsum);
				s->ax = (float)(s->sum_x / s->nsum);
				s->ay = (float)(s->sum_y / s->nsum);
				struct spot *sp = &h->spots[s->spot];
				spot_add_start(h, sp, t);
				s->hold_index = sp->total;
				s->state = KM_HOLD_HOLDING;
				s->t_state = t;
				emit(h, sink, s, KM_EVENT_HOLD_STARTED, KM_REASON_NONE, t,
				     s->base_load);
			}
		}
		break;
	case KM_HOLD_HOLDING: {
		enum km_event_reason f = hold_fault(h, s);
		if (f != KM_REASON_NONE) {
			/* The fault began somewhere in (t - dt, t]: that interval is not
			 * counted. */
			s->state = KM_HOLD_PAUSED;
			s->pause_reason = f;
			s->t_state = t;
			emit(h, sink, s, KM_EVENT_HOLD_PAUSED, f, t, 0.0f);
			break;
		}
		s->held_us += dt;
		s->dose += (double)s->load * (double)dt * 1e-6;
		if (!s->target_sent && s->held_us >= h->target_us) {
			s->target_sent = true;
			emit(h, sink, s, KM_EVENT_HOLD_TARGET, KM_REASON_NONE, t, c->target_s);
		}
		if (!s->release_sent && s->held_us >= h->release_us) {
			s->release_sent = true;
			emit(h, sink, s, KM_EVENT_HOLD_RELEASE, KM_REASON_NONE, t, c->release_s);
		}
		if (s->held_us >= h->hard_us)
			stop(h, sink, s, t, KM_REASON_HARD_STOP);
		break;
	}
	case KM_HOLD_PAUSED: {
		enum km_event_reason f = hold_fault(h, s);
		if (f == KM_REASON_NONE) {
			s->state = KM_HOLD_HOLDING;
			emit(h, sink, s, KM_EVENT_HOLD_RESUMED, KM_REASON_NONE, t,
			     (float)((double)(t - s->t_state) * 1e-6));
		} else if (t - s->t_state >= h->pause_us) {
			stop(h, sink, s, t, s->pause_reason);
		}
		break;
	}
	}
}

static bool input_ok(const struct km_hold_input *in)
{
	return in->track_id != 0 && isfinite(in->x_mm) && isfinite(in->y_mm) &&
	       nonneg_finite(in->load_kpa) && isfinite(in->load_n) && !isinf(in->spine_distance_mm);
}

static struct slot *slot_for(km_hold *h, uint32_t track_id, bool create)
{
	struct slot *free_slot = NULL;
	for (uint32_t i = 0; i < h->cfg.max_tracks; i++) {
		struct slot *s = &h->slots[i];
		if (s->used && s->track_id == track_id)
			return s;
		if (!s->used && !free_slot)
			free_slot = s;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->track_id = track_id;
	free_slot->state = KM_HOLD_IDLE;
	free_slot->spot = -1;
	free_slot->spine_d = NAN;
	return free_slot;
}

int km_hold_execute(km_hold *h, uint64_t t_us, uint32_t seq, const struct km_hold_input *in,
                    size_t n, struct km_event_sink *sink)
{
	if (!h || (n > 0 && !in))
		return KM_ERR_INVALID_ARG;
	if (h->have_t && t_us < h->t_prev)
		return KM_ERR_RANGE;
	for (size_t i = 0; i < n; i++) {
		if (in[i].track_id == 0)
			return KM_ERR_INVALID_ARG;
		if (!input_ok(&in[i]))
			return KM_ERR_NONFINITE;
	}
	uint64_t dt = h->have_t ? t_us - h->t_prev : 0;
	h->t_prev = t_us;
	h->have_t = true;
	h->seq = seq;

	for (uint32_t i = 0; i < h->cfg.max_tracks; i++)
		h->slots[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = slot_for(h, in[i].track_id, true);
		if (!s) {
			h->overflow++;
			continue;
		}
		s->seen = true;
		s->knot_id = in[i].knot_id;
		s->x = in[i].x_mm;
		s->y = in[i].y_mm;
		s->load = in[i].load_kpa;
		s->load_n = in[i].load_n;
		s->tensing = in[i].tensing;
		s->over_flag = in[i].over_spine;
		s->spine_d = in[i].spine_distance_mm;
	}
	for (uint32_t i = 0; i < h->cfg.max_tracks; i++) {
		struct slot *s = &h->slots[i];
		if (!s->used)
			continue;
		if (!s->seen) {
			/* A track that vanished holds nothing; active holds pause first. */
			s->load = 0.0f;
			s->load_n = 0.0f;
			s->tensing = false;
			if (s->state == KM_HOLD_IDLE || s->state == KM_HOLD_ENGAGED ||
			    s->state == KM_HOLD_BLOCKED) {
				s->used = false;
				continue;
			}
		}
		step(h, s, t_us, dt, sink);
	}
	return KM_OK;
}

int km_hold_stop(km_hold *h, uint64_t t_us, uint32_t track_id, enum km_event_reason reason,
                 struct km_event_sink *sink)
{
	if (!h)
		return KM_ERR_INVALID_ARG;
	bool found = false;
	for (uint32_t i = 0; i < h->cfg.max_tracks; i++) {
		struct slot *s = &h->slots[i];
		if (!s->used || (track_id != 0 && s->track_id != track_id))
			continue;
		found = true;
		if (s->state == KM_HOLD_SETTLING || s->state == KM_HOLD_HOLDING ||
		    s->state == KM_HOLD_PAUSED)
			stop(h, sink, s, t_us, reason);
		else
			block(s, reason);
	}
	return (found || track_id == 0) ? KM_OK : KM_ERR_NOT_FOUND;
}

int km_hold_status(const km_hold *h, uint32_t track_id, struct km_hold_status *out)
{
	if (!h || !out)
		return KM_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < h->cfg.max_tracks; i++) {
		const struct slot *s = &h->slots[i];
		if (!s->used || s->track_id != track_id)
			continue;
		memset(out, 0, sizeof(*out));
		out->state = s->state;
		out->track_id = s->track_id;
		out->hold_index = s->hold_index;
		out->held_s = (float)((double)s->held_us * 1e-6);
		out->dose_kpa_s = (float)s->dose;
		out->baseline_kpa = s->base_load;
		out->target_s = h->cfg.target_s;
		out->release_s = h->cfg.release_s;
		out->hard_stop_s = h->cfg.hard_stop_s;
		if (s->state == KM_HOLD_SETTLING) {
			uint64_t e = h->t_prev - s->t_state;
			out->settle_left_s =
			    e >= h->settle_us ? 0.0f : (float)((double)(h->settle_us - e) * 1e-6);
		} else if (s->state == KM_HOLD_PAUSED) {
			uint64_t e = h->t_prev - s->t_state;
			out->pause_left_s =
			    e >= h->pause_us ? 0.0f : (float)((double)(h->pause_us - e) * 1e-6);
		}
		return KM_OK;
	}
	return KM_ERR_NOT_FOUND;
}
