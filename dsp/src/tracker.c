/*
 * Global-nearest-neighbour spot tracker with the Hungarian algorithm.
 * See knotmap/tracker.h.
 */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/tracker.h"

#define MAX_TRACKS 256u
#define FORBIDDEN 1e9 /* cost of a gated-out or padded pair */

struct slot {
	int used, confirmed;
	unsigned age;     /* frames since the first hit */
	uint32_t history; /* bit 0 = this frame's hit */
	float hit_x, hit_y; /* the last hit's candidate position (not the coasted one) */
	struct km_track t;
};

struct km_tracker {
	struct km_tracker_config cfg;
	unsigned m; /* square cost matrix side */
	struct slot *slots;
	struct km_track *out;
	double *cost; /* [m x m] */
	/* Hungarian work arrays, [m + 1] each (1-based, e-maxx formulation) */
	double *u, *v, *minv;
	int *p, *way, *row_of_col;
	unsigned char *seen;
	int *live;            /* slot index per cost row */
	unsigned char *taken; /* per candidate */
	uint32_t next_id;
	/* Where confirmed tracks ended (remember_spots entries, oldest
	 * replaced): a spot found again there takes its id back. */
	struct spot_mem {
		float x, y;
		uint32_t id; /* 0 = empty */
		uint64_t end_us;
	} * mem;
	int have_time;
	uint64_t last_us;
};

struct km_tracker_config km_tracker_config_default(void)
{
	struct km_tracker_config c;
	memset(&c, 0, sizeof c);
	c.gate_mm = 20.0f;  /* docs/signal-model.md: gate 2 cm */
	c.confirm_hits = 3; /* confirm after 3 of 5 frames */
	c.confirm_window = 5;
	c.delete_after_s = 0.5f; /* delete after 0.5 s of misses */
	c.alpha = 0.6f;
	c.beta = 0.2f;
	c.max_tracks = 64;
	c.max_candidates = 64;
	c.remember_spots = 256;
	return c;
}

static int check_config(const struct km_tracker_config *c)
{
	if (!(isfinite(c->gate_mm) && c->gate_mm > 0.0f && c->gate_mm < 1e5f))
		return KM_ERR_INVALID_ARG;
	if (c->confirm_window < 1 || c->confirm_window > 32 || c->confirm_hits < 1 ||
	    c->confirm_hits > c->confirm_window)
		return KM_ERR_INVALID_ARG;
	if (!(isfinite(c->delete_after_s) && c->delete_after_s > 0.0f &&
	      c->delete_after_s < 3600.0f))
		return KM_ERR_INVALID_ARG;
	if (!(c->alpha > 0.0f && c->alpha <= 1.0f) || !(c->beta >= 0.0f && c->beta <= 1.0f))
		return KM_ERR_INVALID_ARG;
	if (c->max_tracks < 1 || c->max_tracks > MAX_TRACKS || c->max_candidates < 1 ||
	    c->max_candidates > MAX_TRACKS)
		return KM_ERR_INVALID_ARG;
	if (!(isfinite(c->wrap_x_mm) && c->wrap_x_mm >= 0.0f))
		return KM_ERR_INVALID_ARG;
	if (c->remember_spots > 4096 ||
	    !(isfinite(c->same_spot_mm) && c->same_spot_mm >= 0.0f && c->same_spot_mm < 1e5f))
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

int km_tracker_create(const struct km_tracker_config *cfg, km_tracker **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, "dsp", "tracker: bad config");
		return rc;
	}
	km_tracker *t = km__calloc(1, sizeof *t);
	if (!t)
		return KM_ERR_NO_MEMORY;
	t->cfg = *cfg;
	t->m = KM_MAX(cfg->max_tracks, cfg->max_candidates);
	size_t m1 = (size_t)t->m + 1;
	t->slots = km__calloc(cfg->max_tracks, sizeof *t->slots);
	t->out = km__calloc(cfg->max_tracks, sizeof *t->out);
	t->cost = km__calloc((size_t)t->m * t->m, sizeof(double));
	t->u = km__calloc(m1, sizeof(double));
	t->v = km__calloc(m1, sizeof(double));
	t->minv = km__calloc(m1, sizeof(double));
	t->p = km__calloc(m1, sizeof(int));
	t->way = km__calloc(m1, sizeof(int));
	t->row_of_col = km__calloc(m1, sizeof(int));
	t->seen = km__calloc(m1, 1);
	if (cfg->remember_spots) {
		t->mem = km__calloc(cfg->remember_spots, sizeof *t->mem);
		if (!t->mem) {
			km_tracker_destroy(t);
			return KM_ERR_NO_MEMORY;
		}
	}
	t->live = km__calloc(m1, sizeof(int));
	t->taken = km__calloc(m1, 1);
	if (!t->slots || !t->out || !t->cost || !t->u || !t->v || !t->minv || !t->p || !t->way ||
	    !t->row_of_col || !t->seen || !t->live || !t->taken) {
		km_tracker_destroy(t);
		return KM_ERR_NO_MEMORY;
	}
	km_tracker_reset(t);
	*out = t;
	return KM_OK;
}

/*
 * Minimum-cost perfect matching of an n x n matrix (rows = tracks, columns =
 * candidates): Kuhn-Munkres with potentials and shortest augmenting paths,
 * O(n^3) (Jonker & Volgenant 1987 style). Afterwards p[j] (1-based) is the
 * row matched to column j.
 */
static void hungarian(km_tracker *t, unsigned n)
{
	double *u = t->u, *v = t->v, *minv = t->minv;
	int *p = t->p, *way = t->way;
	const double *a = t->cost;
	for (unsigned j = 0; j <= n; j++) {
		u[j] = v[j] = 0.0;
		p[j] = 0;
		way[j] = 0;
	}
	for (unsigned i = 1; i <= n; i++) {
		p[0] = (int)i;
		unsigned j0 = 0;
		for (unsigned j = 0; j <= n; j++) {
			minv[j] = INFINITY;
			t->seen[j] = 0;
		}
		do {
			t->seen[j0] = 1;
			unsigned i0 = (unsigned)p[j0], j1 = 0;
			double delta = INFINITY;
			for (unsigned j = 1; j <= n; j++) {
				if (t->seen[j])
					continue;
				double cur = a[(size_t)(i0 - 1) * t->m + (j - 1)] - u[i0] - v[j];
				if (cur < minv[j]) {
					minv[j] = cur;
					way[j] = (int)j0;
				}
				if (minv[j] < delta) {
					delta = minv[j];
					j1 = j;
				}
			}
			for (unsigned j = 0; j <= n; j++) {
				if (t->seen[j]) {
					u[p[j]] += delta;
					v[j] -= delta;
				} else {
					minv[j] -= delta;
				}
			}
			j0 = j1;
		} while (p[j0] != 0);
		do {
			unsigned j1 = (unsigned)way[j0];
			p[j0] = p[j1];
			j0 = j1;
		} while (j0);
	}
}

/* Difference a - b, on a cylinder the shorter way round. */
static float delta_x(const km_tracker *t, float a, float b)
{
	float d = a - b, w = t->cfg.wrap_x_mm;
	if (w > 0.0f) {
		d = fmodf(d, w);
		if (d >= 0.5f * w)
			d -= w;
		else if (d < -0.5f * w)
			d += w;
	}
	return d;
}

static float wrap_pos(const km_tracker *t, float x)
{
	float w = t->cfg.wrap_x_mm;
	if (w > 0.0f) {
		x = fmodf(x, w);
		if (x < 0.0f)
			x += w;
	}
	return x;
}

static void take(struct km_track *tr, const struct km_candidate *c)
{
	tr->response_kpa = c->response_kpa;
	tr->peak_kpa = c->peak_kpa;
	tr->background_kpa = c->background_kpa;
	tr->scale_mm = c->scale_mm;
	tr->area_mm2 = 3.14159265f * c->scale_mm * c->scale_mm;
	tr->flags = c->flags;
}

static void emit(km_tracker *t, size_t *count, const struct slot *s, enum km_track_state st)
{
	struct km_track *o = &t->out[(*count)++];
	*o = s->t;
	o->state = st;
}

/* Sorts the output by id (insertion sort: at most max_tracks entries). */
static void sort_out(km_tracker *t, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct km_track k = t->out[i];
		size_t j = i;
		while (j > 0 && t->out[j - 1].id > k.id) {
			t->out[j] = t->out[j - 1];
			j--;
		}
		t->out[j] = k;
	}
}

static unsigned popcount32(uint32_t x)
{
	unsigned n = 0;
	for (; x; x &= x - 1)
		n++;
	return n;
}

/* Radius within which a found-again spot is the same spot. */
static float same_spot(const km_tracker *t)
{
	return t->cfg.same_spot_mm > 0.0f ? t->cfg.same_spot_mm : t->cfg.gate_mm;
}

/* A confirmed track ended: remember its id where it was last seen (a
 * coasting track's prediction drifts with the velocity of its jitter). */
static void mem_put(km_tracker *t, const struct slot *sl, uint64_t now_us)
{
	const struct km_track *k = &sl->t;
	unsigned n = t->cfg.remember_spots, oldest = 0;
	for (unsigned i = 0; i < n; i++) {
		if (t->mem[i].id == 0 || t->mem[i].id == k->id) {
			oldest = i;
			break;
		}
		if (t->mem[i].end_us < t->mem[oldest].end_us)
			oldest = i;
	}
	if (n)
		t->mem[oldest] = (struct spot_mem){sl->hit_x, sl->hit_y, k->id, now_us};
}

/* The id of the nearest remembered spot within gate_mm of (x, y), taken out
 * of the memory; 0 when none. */
static uint32_t mem_take(km_tracker *t, float x, float y)
{
	float best = same_spot(t);
	unsigned bi = 0;
	uint32_t id = 0;
	for (unsigned i = 0; i < t->cfg.remember_spots; i++) {
		if (!t->mem[i].id)
			continue;
		float dx = x - t->mem[i].x, dy = y - t->mem[i].y;
		if (t->cfg.wrap_x_mm > 0.0f) {
			dx = fmodf(fabsf(dx), t->cfg.wrap_x_mm);
			dx = fminf(dx, t->cfg.wrap_x_mm - dx);
		}
		float d = sqrtf(dx * dx + dy * dy);
		if (d <= best) {
			best = d;
			bi = i;
			id = t->mem[i].id;
		}
	}
	if (id)
		t->mem[bi].id = 0;
	return id;
}

/* A confirmed track that missed this frame and was last seen within gate_mm
 * of the tentative track s; NULL when none. */
static struct slot *coasting_at(km_tracker *t, const struct slot *s)
{
	struct slot *best = NULL;
	float bd = same_spot(t);
	for (unsigned i = 0; i < t->cfg.max_tracks; i++) {
		struct slot *o = &t->slots[i];
		if (!o->used || !o->confirmed || o == s || (o->history & 1u))
			continue;
		float dx = delta_x(t, s->hit_x, o->hit_x), dy = s->hit_y - o->hit_y;
		float d = sqrtf(dx * dx + dy * dy);
		if (d <= bd) {
			bd = d;
			best = o;
		}
	}
	return best;
}

int km_tracker_update(km_tracker *t, const struct km_candidate *cand, size_t n, uint64_t time_us,
                      struct km_tracker_result *res)
{
	if (!t || !res || (n > 0 && !cand))
		return KM_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	if (t->have_time && time_us < t->last_us)
		return KM_ERR_BAD_SEQUENCE;
	const struct km_tracker_config *cf = &t->cfg;
	float dt = t->have_time ? (float)((double)(time_us - t->last_us) * 1e-6) : 0.0f;
	t->have_time = 1;
	t->last_us = time_us;
	size_t nc = KM_MIN(n, (size_t)cf->max_candidates);
	size_t ignored = n - nc;

	/* Predict, and list the live tracks. */
	unsigned nt = 0;
	for (unsigned i = 0; i < cf->max_tracks; i++) {
		struct slot *s = &t->slots[i];
		if (!s->used)
			continue;
		/* A track that missed stays where it was last seen: coasting on
		 * the velocity of its jitter would carry a knot off its spot. */
		if (s->t.missed == 0) {
			s->t.x_mm = wrap_pos(t, s->t.x_mm + s->t.vx_mm_s * dt);
			s->t.y_mm += s->t.vy_mm_s * dt;
		}
		s->history <<= 1;
		s->age++;
		t->live[nt++] = (int)i;
	}

	unsigned m = (unsigned)KM_MAX((size_t)nt, nc);
	for (unsigned i = 0; i < m; i++)
		for (unsigned j = 0; j < m; j++) {
			double c = FORBIDDEN;
			if (i < nt && j < nc && isfinite(cand[j].x_mm) && isfinite(cand[j].y_mm) &&
			    (t->slots[t->live[i]].confirmed ||
			     !(cand[j].flags & KM_CANDIDATE_WEAK))) {
				const struct km_track *tr = &t->slots[t->live[i]].t;
				float dx = delta_x(t, cand[j].x_mm, tr->x_mm);
				float dy = cand[j].y_mm - tr->y_mm;
				double d = sqrt((double)dx * dx + (double)dy * dy);

				if (d <= (double)cf->gate_mm)
					c = d;
			}
			t->cost[(size_t)i * t->m + j] = c;
		}
	if (m > 0)
		hungarian(t, m);
	memset(t->taken, 0, nc);
	for (unsigned j = 1; j <= m; j++) {
		unsigned i = (unsigned)t->p[j] - 1, jj = j - 1;
		if (i >= nt || jj >= nc || !(t->cost[(size_t)i * t->m + jj] < FORBIDDEN))
			continue;
		struct slot *s = &t->slots[t->live[i]];
		const struct km_candidate *c = &cand[jj];
		float ix = delta_x(t, c->x_mm, s->t.x_mm), iy = c->y_mm - s->t.y_mm;
		s->t.x_mm = wrap_pos(t, s->t.x_mm + cf->alpha * ix);
		s->t.y_mm += cf->alpha * iy;
		if (dt > 0.0f) {
			s->t.vx_mm_s += cf->beta * ix / dt;
			s->t.vy_mm_s += cf->beta * iy / dt;
		}
		take(&s->t, c);
		s->hit_x = wrap_pos(t, c->x_mm);
		s->hit_y = c->y_mm;
		s->t.hits++;
		s->t.missed = 0;
		s->t.last_hit_us = time_us;
		s->history |= 1u;
		t->taken[jj] = 1;
	}

	/* Unmatched candidates start tentative tracks. */
	unsigned free_i = 0;
	for (size_t j = 0; j < nc; j++) {
		if (t->taken[j])
			continue;
		if (!isfinite(cand[j].x_mm) || !isfinite(cand[j].y_mm)) {
			ignored++;
			continue;
		}
		if (cand[j].flags & KM_CANDIDATE_WEAK)
			continue; /* hysteresis: weak maxima never start a track */
		while (free_i < cf->max_tracks && t->slots[free_i].used)
			free_i++;
		if (free_i == cf->max_tracks) {
			ignored++;
			continue;
		}
		struct slot *s = &t->slots[free_i];
		memset(s, 0, sizeof *s);
		s->used = 1;
		s->history = 1u;
		s->age = 0;
		s->t.x_mm = wrap_pos(t, cand[j].x_mm);
		s->t.y_mm = cand[j].y_mm;
		take(&s->t, &cand[j]);
		s->hit_x = s->t.x_mm;
		s->hit_y = s->t.y_mm;
		s->t.hits = 1;
		s->t.first_us = s->t.last_hit_us = time_us;
	}

	/* Confirm, report, delete. */
	size_t count = 0, tentative = 0;
	uint32_t window = cf->confirm_window >= 32 ? 0xffffffffu : (1u << cf->confirm_window) - 1u;
	uint64_t max_miss_us = (uint64_t)((double)cf->delete_after_s * 1e6);
	for (unsigned i = 0; i < cf->max_tracks; i++) {
		struct slot *s = &t->slots[i];
		if (!s->used)
			continue;
		if (!(s->history & 1u) && s->t.missed < UINT16_MAX)
			s->t.missed++;
		if (!s->confirmed) {
			struct slot *o = NULL;
			if (popcount32(s->history & window) >= cf->confirm_hits && t->mem &&
			    (o = coasting_at(t, s)) != NULL) {
				/* The spot of a confirmed track that is coasting
				 * (missed, not yet ended; its prediction ran off):
				 * that track takes this one's hits, id unchanged. */
				struct km_track keep = o->t;
				o->t = s->t;
				o->t.id = keep.id;
				o->t.first_us = keep.first_us;
				o->t.hits = keep.hits + s->t.hits;
				o->t.missed = 0;
				o->hit_x = s->hit_x;
				o->hit_y = s->hit_y;
				o->history = s->history;
				s->used = 0;
				continue;
			}
			if (popcount32(s->history & window) >= cf->confirm_hits) {
				s->confirmed = 1;
				/* The same spot found again keeps its id. */
				uint32_t id = t->mem ? mem_take(t, s->t.x_mm, s->t.y_mm) : 0;
				s->t.id = id ? id : t->next_id++;
				emit(t, &count, s, KM_TRACK_START);
			} else if (s->age + 1 >= cf->confirm_window) {
				s->used = 0; /* never confirmed: gone without a report */
			} else {
				tentative++;
			}
			continue;
		}
		if (time_us - s->t.last_hit_us >= max_miss_us) {
			emit(t, &count, s, KM_TRACK_END);
			if (t->mem)
				mem_put(t, s, time_us);
			s->used = 0;
		} else {
			emit(t, &count, s, KM_TRACK_MOVE);
		}
	}
	sort_out(t, count);
	res->tracks = t->out;
	res->count = count;
	res->tentative = tentative;
	res->ignored = ignored;
	return KM_OK;
}

int km_tracker_flush(km_tracker *t, struct km_tracker_result *res)
{
	if (!t || !res)
		return KM_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	size_t count = 0;
	for (unsigned i = 0; i < t->cfg.max_tracks; i++) {
		struct slot *s = &t->slots[i];
		if (s->used && s->confirmed)
			emit(t, &count, s, KM_TRACK_END);
		s->used = 0;
	}
	sort_out(t, count);
	res->tracks = t->out;
	res->count = count;
	return KM_OK;
}

void km_tracker_reset(km_tracker *t)
{
	if (!t)
		return;
	memset(t->slots, 0, t->cfg.max_tracks * sizeof *t->slots);
	if (t->mem)
		memset(t->mem, 0, t->cfg.remember_spots * sizeof *t->mem);
	t->next_id = 1;
	t->have_time = 0;
	t->last_us = 0;
}

void km_tracker_destroy(km_tracker *t)
{
	if (!t)
		return;
	km__free(t->slots);
	km__free(t->out);
	km__free(t->cost);
	km__free(t->u);
	km__free(t->v);
	km__free(t->minv);
	km__free(t->p);
	km__free(t->way);
	km__free(t->row_of_col);
	km__free(t->seen);
	km__free(t->live);
	km__free(t->taken);
	km__free(t->mem);
	km__free(t);
}
