/* Stiffness index of one tracked spot; see knotmap/stiffness.h. */
#include "knotmap/stiffness.h"

#include <math.h>
#include <string.h>

#include "km_internal.h"

#define MOD "stiffness"

struct km_stiffness {
	struct km_stiffness_config cfg;
	km_welch *spot;  /* x = regional load, y = spot pressure */
	km_welch *neigh; /* x = regional load, y = neighbourhood pressure; NULL if unused */
	struct km_stiffness_status st;
	float hold_base;
	bool released_sent, stiffened_sent;
};

struct km_stiffness_config km_stiffness_config_default(void)
{
	struct km_stiffness_config c;
	memset(&c, 0, sizeof(c));
	c.welch = km_welch_config_default();
	c.min_coherence = 0.5f; /* docs/signal-model.md */
	c.min_segments = 3;     /* est.: coherence from 2 segments is too optimistic */
	c.use_neighbourhood = true;
	c.release_pct = 15.0f; /* docs/signal-model.md: fall >= 15 % = release */
	c.stiffen_pct = 20.0f; /* docs/signal-model.md: rise >= 20 % = stiffening */
	return c;
}

static int check_config(const struct km_stiffness_config *c)
{
	if (!isfinite(c->min_coherence) || !isfinite(c->release_pct) || !isfinite(c->stiffen_pct))
		return KM_ERR_INVALID_ARG;
	if (c->min_coherence < 0.0f || c->min_coherence > 1.0f || c->min_segments < 2 ||
	    c->release_pct <= 0.0f || c->release_pct >= 100.0f || c->stiffen_pct <= 0.0f ||
	    c->stiffen_pct > 1000.0f)
		return KM_ERR_RANGE;
	return KM_OK;
}

int km_stiffness_create(const struct km_stiffness_config *cfg, km_stiffness **out)
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
	km_stiffness *s = km__calloc(1, sizeof(*s));
	if (!s)
		return KM_ERR_NO_MEMORY;
	s->cfg = *cfg;
	struct km_welch_config wc = cfg->welch;
	wc.log = cfg->log;
	rc = km_welch_create(&wc, &s->spot);
	if (rc == KM_OK && cfg->use_neighbourhood)
		rc = km_welch_create(&wc, &s->neigh);
	if (rc != KM_OK) {
		km_stiffness_destroy(s);
		return rc;
	}
	*out = s;
	return KM_OK;
}

void km_stiffness_reset(km_stiffness *s)
{
	if (!s)
		return;
	km_welch_reset(s->spot);
	km_welch_reset(s->neigh);
	memset(&s->st, 0, sizeof(s->st));
	s->hold_base = 0.0f;
	s->released_sent = s->stiffened_sent = false;
}

void km_stiffness_destroy(km_stiffness *s)
{
	if (!s)
		return;
	km_welch_destroy(s->spot);
	km_welch_destroy(s->neigh);
	km__free(s);
}

static void emit(const km_stiffness *s, struct km_event_sink *sink, enum km_event_type type,
                 uint64_t t, uint32_t seq)
{
	struct km_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.track_id = s->cfg.track_id;
	ev.frame_seq = seq;
	ev.time_us = t;
	ev.stiffness_pct = s->st.change_pct;
	ev.value = s->st.index;
	km_event_sink_emit(sink, &ev);
}

/* A new segment ended: estimate, accept or reject, judge the hold. */
static void update(km_stiffness *s, uint64_t t, uint32_t seq, struct km_event_sink *sink)
{
	struct km_stiffness_status *st = &s->st;
	if (km_welch_segments(s->spot) < s->cfg.min_segments)
		return;
	struct km_welch_result rs, rn;
	memset(&rn, 0, sizeof(rn));
	/* The breathing peak is where the regional load's spectrum peaks. */
	if (km_welch_estimate(s->spot, &rs) != KM_OK)
		return;
	bool ok = rs.coherence >= s->cfg.min_coherence && rs.gain > 0.0f;
	float index = rs.gain;
	if (s->neigh) {
		if (km_welch_estimate_at(s->neigh, rs.freq_hz, &rn) != KM_OK)
			return;
		ok = ok && rn.coherence >= s->cfg.min_coherence && rn.gain > 0.0f;
		index = rn.gain > 0.0f ? rs.gain / rn.gain : 0.0f;
	}
	st->gain_spot = rs.gain;
	st->gain_neigh = rn.gain;
	st->coherence_spot = rs.coherence;
	st->coherence_neigh = rn.coherence;
	st->freq_hz = rs.freq_hz;
	if (!ok || !isfinite(index)) {
		st->rejected++;
		return;
	}
	st->accepted++;
	st->valid = true;
	st->index = index;
	if (st->in_hold && !st->hold_baseline) {
		s->hold_base = index;
		st->hold_baseline = true;
	}
	st->change_pct =
	    st->in_hold && st->hold_baseline ? 100.0f * (index / s->hold_base - 1.0f) : 0.0f;
	emit(s, sink, KM_EVENT_STIFFNESS, t, seq);
	if (!st->in_hold || !st->hold_baseline)
		return;
	if (!s->released_sent && st->change_pct <= -s->cfg.release_pct) {
		s->released_sent = true;
		emit(s, sink, KM_EVENT_RELEASED, t, seq);
	}
	if (!s->stiffened_sent && st->change_pct >= s->cfg.stiffen_pct) {
		s->stiffened_sent = true;
		emit(s, sink, KM_EVENT_STIFFENED, t, seq);
	}
}

int km_stiffness_push(km_stiffness *s, uint64_t t_us, uint32_t seq, float load_region, float p_spot,
                      float p_neigh, struct km_event_sink *sink)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(load_region) || !isfinite(p_spot) || (s->neigh && !isfinite(p_neigh)))
		return KM_ERR_NONFINITE;
	bool done = false, done_n = false;
	int rc = km_welch_push(s->spot, load_region, p_spot, &done);
	if (rc == KM_OK && s->neigh)
		rc = km_welch_push(s->neigh, load_region, p_neigh, &done_n);
	if (rc != KM_OK)
		return rc;
	if (done)
		update(s, t_us, seq, sink);
	return KM_OK;
}

int km_stiffness_hold_begin(km_stiffness *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	s->st.in_hold = true;
	s->st.hold_baseline = s->st.valid;
	s->hold_base = s->st.index;
	s->st.change_pct = 0.0f;
	s->released_sent = s->stiffened_sent = false;
	return KM_OK;
}

int km_stiffness_hold_end(km_stiffness *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	s->st.in_hold = false;
	s->st.hold_baseline = false;
	s->st.change_pct = 0.0f;
	return KM_OK;
}

int km_stiffness_status(const km_stiffness *s, struct km_stiffness_status *out)
{
	if (!s || !out)
		return KM_ERR_INVALID_ARG;
	*out = s->st;
	return KM_OK;
}

int km_stiffness_set_track(km_stiffness *s, uint32_t track_id)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	s->cfg.track_id = track_id;
	return KM_OK;
}
