/* The events -> knots and holds fold (see knotmap/summary.h). */
#include "knotmap/summary.h"

#include <stdio.h>
#include <string.h>

#include "km_internal.h"

static const char *const outcome_names[] = {"stopped", "released", "stiffened"};

const char *km_outcome_name(enum km_outcome o)
{
	return (unsigned)o < KM_ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

int km_outcome_parse(const char *name, enum km_outcome *out)
{
	for (size_t i = 0; name && out && i < KM_ARRAY_SIZE(outcome_names); i++) {
		if (!strcmp(name, outcome_names[i])) {
			*out = (enum km_outcome)i;
			return KM_OK;
		}
	}
	return KM_ERR_INVALID_ARG;
}

void km_summary_init(struct km_summary *s)
{
	if (s)
		memset(s, 0, sizeof *s);
}

void km_summary_free(struct km_summary *s)
{
	if (!s)
		return;
	km__free(s->knots);
	km__free(s->holds);
	km__free(s->gaps);
	memset(s, 0, sizeof *s);
}

/* Room for one more element: doubles the array when full. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return KM_OK;
	size_t ncap = *cap ? *cap * 2 : 16, bytes;
	if (!km__mul_size(ncap, size, &bytes))
		return KM_ERR_NO_MEMORY;
	void *p = km__realloc(*arr, bytes);
	if (!p)
		return KM_ERR_NO_MEMORY;
	*arr = p;
	*cap = ncap;
	return KM_OK;
}

static struct km_summary_hold *open_hold(const struct km_summary *s, uint32_t track)
{
	/* The most recent open hold on the track. */
	for (size_t i = s->n_holds; i-- > 0;)
		if (s->holds[i].open && s->holds[i].track_id == track)
			return &s->holds[i];
	return NULL;
}

const struct km_summary_hold *km_summary_open_hold(const struct km_summary *s, uint32_t track_id)
{
	return s ? open_hold(s, track_id) : NULL;
}

int km_summary_add(struct km_summary *s, const struct km_event *ev,
                   const struct km_summary_hold **hold)
{
	if (hold)
		*hold = NULL;
	if (!s || !ev)
		return KM_ERR_INVALID_ARG;
	s->events++;
	if ((unsigned)ev->type < KM_EVENT_TYPE_COUNT)
		s->by_type[ev->type]++;
	else
		s->unknown_types++;

	struct km_summary_hold *h = NULL;
	switch (ev->type) {
	case KM_EVENT_KNOT_FOUND:
		/* The same knot back (lost, then found again): its entry reopens. */
		if (ev->reason == KM_REASON_AGAIN) {
			for (size_t i = s->n_knots; i-- > 0;)
				if (s->knots[i].track_id == ev->track_id) {
					struct km_summary_knot *k = &s->knots[i];
					k->gone_us = k->lost_us ? k->lost_us : ev->time_us;
					k->back_us = ev->time_us;
					k->lost_us = 0;
					/* out of memory: the entry is open again all the same */
					if (grow((void **)&s->gaps, &s->cap_gaps, s->n_gaps,
					         sizeof *s->gaps) != KM_OK)
						return KM_ERR_NO_MEMORY;
					s->gaps[s->n_gaps++] =
					    (struct km_summary_gap){.knot = i,
					                            .gone_us = k->gone_us,
					                            .back_us = k->back_us};
					return KM_OK;
				}
		}
		if (grow((void **)&s->knots, &s->cap_knots, s->n_knots, sizeof *s->knots) != KM_OK)
			return KM_ERR_NO_MEMORY;
		s->knots[s->n_knots++] = (struct km_summary_knot){.track_id = ev->track_id,
		                                                  .x_mm = ev->x_mm,
		                                                  .y_mm = ev->y_mm,
		                                                  .found_us = ev->time_us,
		                                                  .load_kpa = ev->load_kpa};
		break;
	case KM_EVENT_KNOT_LOST:
		for (size_t i = 0; i < s->n_knots; i++)
			if (s->knots[i].track_id == ev->track_id && !s->knots[i].lost_us)
				s->knots[i].lost_us = ev->time_us;
		break;
	case KM_EVENT_HOLD_STARTED:
		if (grow((void **)&s->holds, &s->cap_holds, s->n_holds, sizeof *s->holds) != KM_OK)
			return KM_ERR_NO_MEMORY;
		h = &s->holds[s->n_holds++];
		memset(h, 0, sizeof *h);
		h->track_id = ev->track_id;
		h->index = ev->hold_index;
		h->x_mm = ev->x_mm;
		h->y_mm = ev->y_mm;
		h->start_us = ev->time_us;
		h->outcome = KM_OUTCOME_STOPPED;
		h->open = true;
		break;
	case KM_EVENT_RELEASED:
	case KM_EVENT_STIFFENED:
		h = open_hold(s, ev->track_id);
		if (h)
			h->outcome = ev->type == KM_EVENT_RELEASED ? KM_OUTCOME_RELEASED
			                                           : KM_OUTCOME_STIFFENED;
		break;
	case KM_EVENT_HOLD_STOPPED:
		h = open_hold(s, ev->track_id);
		if (h) {
			h->open = false;
			h->end_us = ev->time_us;
			/* Timed seconds from the hold timer; a recording that lacks
			 * them still gets the wall time of the hold. */
			double wall = (double)(int64_t)(ev->time_us - h->start_us) / 1e6;
			h->held_s = ev->held_s > 0 ? ev->held_s : (float)(wall > 0 ? wall : 0);
			h->load_kpa = ev->load_kpa;
			h->dose_kpa_s = ev->dose_kpa_s;
			h->stiffness_pct = ev->stiffness_pct;
			h->reason = ev->reason;
		}
		break;
	default: {
		/* the timer's seconds so far: a hold running at the end of the
		 * session counts with them */
		struct km_summary_hold *o = ev->track_id ? open_hold(s, ev->track_id) : NULL;
		if (o && ev->held_s > o->held_s)
			o->held_s = ev->held_s;
		if (o && ev->dose_kpa_s > o->dose_kpa_s)
			o->dose_kpa_s = ev->dose_kpa_s;
		break;
	}
	}
	if (hold)
		*hold = h;
	return KM_OK;
}

void km_summary_finish(struct km_summary *s, uint64_t end_us)
{
	for (size_t i = 0; s && i < s->n_holds; i++) {
		struct km_summary_hold *d = &s->holds[i];
		if (!d->open)
			continue;
		d->end_us = KM_MAX(end_us, d->start_us);
		if (!(d->held_s > 0))
			d->held_s = (float)((double)(d->end_us - d->start_us) / 1e6);
	}
}

#define LETTERS 26

/* One letter step: a knot takes a letter (its KNOT_FOUND, each return) or
 * gives it back (the KNOT_LOST before each return, its last KNOT_LOST).
 * ord orders a knot's own steps: found 0, gap g's loss 1 + 2g and return
 * 2 + 2g, last loss after all. */
struct letter_step {
	uint64_t t;
	bool take;
	size_t knot, ord;
};

/* (t, takes before give-backs, knot, ord) order. */
static bool step_before(const struct letter_step *a, const struct letter_step *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->take != b->take)
		return a->take; /* a KNOT_LOST in the same frame comes after the frame's finds */
	return a->knot != b->knot ? a->knot < b->knot : a->ord < b->ord;
}

/* Step n of the summary's 2 per knot then 2 per gap; false when it does not
 * exist (a knot still tracked gives nothing back). */
static bool nth_step(const struct km_summary *s, size_t n, struct letter_step *st)
{
	if (n < 2 * s->n_knots) {
		const struct km_summary_knot *k = &s->knots[n / 2];
		st->knot = n / 2;
		st->take = n % 2 == 0;
		st->t = st->take ? k->found_us : k->lost_us;
		st->ord = st->take ? 0 : SIZE_MAX;
		return st->take || k->lost_us != 0;
	}
	n -= 2 * s->n_knots;
	if (n >= 2 * s->n_gaps)
		return false;
	const struct km_summary_gap *g = &s->gaps[n / 2];
	st->knot = g->knot;
	st->take = n % 2 == 1;
	st->t = st->take ? g->back_us : g->gone_us;
	st->ord = 1 + n; /* gaps are stored in time order: 1 + 2g, 2 + 2g */
	return g->knot < s->n_knots;
}

void km_summary_knot_letters(const struct km_summary *s, int *letter)
{
	if (!s || !letter)
		return;
	size_t owner[LETTERS] = {0}; /* knot index + 1 holding each letter */
	for (size_t i = 0; i < s->n_knots; i++)
		letter[i] = -1;
	/* The viewer's letters replayed: every step in time order, each the
	 * first one after the last done (no memory of its own needed). */
	size_t steps = 2 * (s->n_knots + s->n_gaps);
	bool any = false;
	struct letter_step last = {0};
	for (;;) {
		bool found = false;
		struct letter_step best = {0}, st;
		for (size_t n = 0; n < steps; n++)
			if (nth_step(s, n, &st) && (!any || step_before(&last, &st)) &&
			    (!found || step_before(&st, &best))) {
				found = true;
				best = st;
			}
		if (!found)
			break;
		any = true;
		last = best;
		for (int l = 0; l < LETTERS; l++)
			if (owner[l] == best.knot + 1)
				owner[l] = 0;
		if (!best.take)
			continue;
		letter[best.knot] = -1;
		for (int l = 0; l < LETTERS; l++)
			if (!owner[l]) {
				owner[l] = best.knot + 1;
				letter[best.knot] = l;
				break;
			}
	}
}

size_t km_summary_knot_label(int letter, const char *body, char *buf, size_t n)
{
	bool lettered = letter >= 0 && letter < LETTERS;
	int len;
	if (body && body[0])
		len = lettered ? snprintf(buf, buf ? n : 0, "%c: %s", 'A' + letter, body)
		               : snprintf(buf, buf ? n : 0, "%s", body);
	else
		len = lettered ? snprintf(buf, buf ? n : 0, "spot %c", 'A' + letter)
		               : snprintf(buf, buf ? n : 0, "spot");
	return len < 0 ? 0 : (size_t)len;
}
