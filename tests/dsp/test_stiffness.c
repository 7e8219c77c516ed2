/* Stiffness index: simulated stiffening / softening during a hold, ignores
 * low-coherence input, invariant to the breathing depth. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/stiffness.h"

#define PI 3.14159265358979323846
#define MAXEV 64

static double urand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double randn(uint64_t *s)
{
	double u = urand(s), v = urand(s);
	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * PI * v);
}

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

static size_t count(const struct rec *r, enum km_event_type t)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->ev[i].type == t;
	return n;
}

/* Elastic-foundation toy: the regional load breathes (0.25 Hz) with broadband
 * wobble; the spot and its neighbourhood follow it with gains k_spot, k_neigh
 * (pressure = stiffness x compression, docs/signal-model.md). */
struct scene {
	uint64_t rng;
	double k_spot, k_neigh, depth;
	bool coupled; /* false: the spot's pressure is unrelated noise */
};

static void sample(struct scene *sc, long i, float *load, float *spot, float *neigh)
{
	double t = (double)i / 100.0;
	double d = sc->depth * sin(2.0 * PI * 0.25 * t) + 0.5 * randn(&sc->rng);
	*load = (float)(30.0 + d);
	double ps = sc->coupled ? sc->k_spot * d : 2.0 * randn(&sc->rng);
	*spot = (float)(50.0 + ps + 0.3 * randn(&sc->rng));
	*neigh = (float)(20.0 + sc->k_neigh * d + 0.3 * randn(&sc->rng));
}

static void run(km_stiffness *s, struct scene *sc, long *i, double t_end,
                struct km_event_sink *sink)
{
	for (; *i < lround(t_end * 100.0); (*i)++) {
		float l, p, n;
		sample(sc, *i, &l, &p, &n);
		cr_assert_eq(
		    km_stiffness_push(s, (uint64_t)*i * 10000u, (uint32_t)*i, l, p, n, sink),
		    KM_OK);
	}
}

/* 64 s at the start gain, hold begins, the spot's gain changes by `change`,
 * 80 s more. */
static void hold_scenario(double change, struct rec *r, struct km_stiffness_status *st)
{
	struct km_stiffness_config cfg = km_stiffness_config_default();
	cfg.track_id = 4;
	km_stiffness *s;
	cr_assert_eq(km_stiffness_create(&cfg, &s), KM_OK);
	struct km_event_sink sink = {.fn = on_event, .user = r};
	struct scene sc = {.rng = 42, .k_spot = 0.6, .k_neigh = 0.5, .depth = 4.0, .coupled = true};
	long i = 0;
	run(s, &sc, &i, 64.0, &sink);
	struct km_stiffness_status pre;
	cr_assert_eq(km_stiffness_status(s, &pre), KM_OK);
	cr_assert(pre.valid);
	cr_assert_float_eq(pre.index, 1.2f, 0.03f, "relative index %.3f", (double)pre.index);
	cr_assert_float_eq(pre.freq_hz, 0.25f, 1e-6f);
	cr_assert_eq(km_stiffness_hold_begin(s), KM_OK);
	sc.k_spot *= 1.0 + change;
	run(s, &sc, &i, 144.0, &sink);
	cr_assert_eq(km_stiffness_status(s, st), KM_OK);
	km_stiffness_destroy(s);
}

Test(stiffness, detects_stiffening_during_a_hold)
{
	struct rec r = {0};
	struct km_stiffness_status st;
	hold_scenario(+0.22, &r, &st);
	cr_assert_eq(count(&r, KM_EVENT_STIFFENED), 1);
	cr_assert_eq(count(&r, KM_EVENT_RELEASED), 0);
	cr_assert_float_eq(st.change_pct, 22.0f, 2.0f, "change %.1f %%", (double)st.change_pct);
	for (size_t k = 0; k < r.n; k++)
		if (r.ev[k].type == KM_EVENT_STIFFENED) {
			cr_assert_geq(r.ev[k].stiffness_pct, 20.0f);
			cr_assert_eq(r.ev[k].track_id, 4);
			/* Seen once the 48 s window is mostly post-change. */
			cr_assert(r.ev[k].time_us > 64000000u && r.ev[k].time_us <= 120000000u);
		}
}

Test(stiffness, detects_softening_during_a_hold)
{
	struct rec r = {0};
	struct km_stiffness_status st;
	hold_scenario(-0.17, &r, &st);
	cr_assert_eq(count(&r, KM_EVENT_RELEASED), 1);
	cr_assert_eq(count(&r, KM_EVENT_STIFFENED), 0);
	cr_assert_float_eq(st.change_pct, -17.0f, 2.0f);
}

Test(stiffness, small_changes_do_not_fire)
{
	struct rec r = {0};
	struct km_stiffness_status st;
	hold_scenario(+0.12, &r, &st);
	cr_assert_eq(count(&r, KM_EVENT_STIFFENED) + count(&r, KM_EVENT_RELEASED), 0);
	struct rec r2 = {0};
	hold_scenario(-0.08, &r2, &st);
	cr_assert_eq(count(&r2, KM_EVENT_STIFFENED) + count(&r2, KM_EVENT_RELEASED), 0);
	cr_assert_gt(count(&r2, KM_EVENT_STIFFNESS), 5, "estimates are reported");
}

Test(stiffness, index_ignores_breathing_depth)
{
	/* Deeper breathing moves spot and neighbourhood alike: the relative index stays. */
	struct km_stiffness_config cfg = km_stiffness_config_default();
	km_stiffness *s;
	cr_assert_eq(km_stiffness_create(&cfg, &s), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct scene sc = {.rng = 7, .k_spot = 0.6, .k_neigh = 0.5, .depth = 3.0, .coupled = true};
	long i = 0;
	run(s, &sc, &i, 64.0, &sink);
	km_stiffness_hold_begin(s);
	sc.depth = 7.0;
	run(s, &sc, &i, 144.0, &sink);
	cr_assert_eq(count(&r, KM_EVENT_STIFFENED) + count(&r, KM_EVENT_RELEASED), 0);
	km_stiffness_destroy(s);
}

Test(stiffness, low_coherence_is_ignored)
{
	struct km_stiffness_config cfg = km_stiffness_config_default();
	km_stiffness *s;
	cr_assert_eq(km_stiffness_create(&cfg, &s), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct scene sc = {.rng = 9, .k_spot = 0.6, .k_neigh = 0.5, .depth = 4.0, .coupled = false};
	long i = 0;
	run(s, &sc, &i, 64.0, &sink);
	km_stiffness_hold_begin(s);
	sc.rng = 1234567; /* the noise changes completely during the "hold" */
	run(s, &sc, &i, 144.0, &sink);
	struct km_stiffness_status st;
	cr_assert_eq(km_stiffness_status(s, &st), KM_OK);
	cr_assert_eq(r.n, 0, "no events from unrelated signals");
	cr_assert_not(st.valid);
	cr_assert_eq(st.accepted, 0);
	cr_assert_gt(st.rejected, 5);
	cr_assert_lt(st.coherence_spot, 0.5f);
	km_stiffness_destroy(s);
}

Test(stiffness, config_rejection)
{
	struct km_stiffness_config c;
	km_stiffness *s = (km_stiffness *)&c;
	c = km_stiffness_config_default();
	c.min_coherence = 1.5f;
	cr_assert_eq(km_stiffness_create(&c, &s), KM_ERR_RANGE);
	cr_assert_null(s);
	c = km_stiffness_config_default();
	c.min_segments = 1;
	cr_assert_eq(km_stiffness_create(&c, &s), KM_ERR_RANGE);
	c = km_stiffness_config_default();
	c.release_pct = NAN;
	cr_assert_eq(km_stiffness_create(&c, &s), KM_ERR_INVALID_ARG);
	c = km_stiffness_config_default();
	c.welch.segment_s = 100.0f; /* longer than the 48 s window */
	cr_assert_eq(km_stiffness_create(&c, &s), KM_ERR_RANGE);
	cr_assert_eq(km_stiffness_create(NULL, &s), KM_ERR_INVALID_ARG);
	c = km_stiffness_config_default();
	cr_assert_eq(km_stiffness_create(&c, NULL), KM_ERR_INVALID_ARG);
	km_stiffness_destroy(NULL);
}

Test(stiffness, reset_no_alloc_bad_input)
{
	struct km_stiffness_config cfg = km_stiffness_config_default();
	km_stiffness *s;
	cr_assert_eq(km_stiffness_create(&cfg, &s), KM_OK);
	cr_assert_eq(km_stiffness_push(s, 0, 0, NAN, 1, 1, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_stiffness_push(s, 0, 0, 1, 1, INFINITY, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_stiffness_push(NULL, 0, 0, 1, 1, 1, NULL), KM_ERR_INVALID_ARG);
	struct rec r1 = {0}, r2 = {0};
	struct km_event_sink s1 = {.fn = on_event, .user = &r1};
	struct km_event_sink s2 = {.fn = on_event, .user = &r2};
	struct scene sc = {.rng = 3, .k_spot = 0.6, .k_neigh = 0.5, .depth = 4.0, .coupled = true};
	long i = 0;
	uint64_t a0 = km__alloc_count();
	run(s, &sc, &i, 60.0, &s1);
	cr_assert_eq(km__alloc_count(), a0, "allocation per frame");
	km_stiffness_reset(s);
	struct km_stiffness_status st;
	km_stiffness_status(s, &st);
	cr_assert_not(st.valid);
	cr_assert_eq(st.accepted, 0);
	sc = (struct scene){.rng = 3, .k_spot = 0.6, .k_neigh = 0.5, .depth = 4.0, .coupled = true};
	i = 0;
	run(s, &sc, &i, 60.0, &s2);
	cr_assert_eq(r1.n, r2.n);
	cr_assert_gt(r1.n, 0);
	for (size_t k = 0; k < r1.n; k++) {
		cr_assert_eq(r1.ev[k].time_us, r2.ev[k].time_us);
		cr_assert_eq(r1.ev[k].value, r2.ev[k].value);
	}
	km_stiffness_destroy(s);
}

Test(stiffness, without_neighbourhood_reports_absolute_gain)
{
	struct km_stiffness_config cfg = km_stiffness_config_default();
	cfg.use_neighbourhood = false;
	km_stiffness *s;
	cr_assert_eq(km_stiffness_create(&cfg, &s), KM_OK);
	struct scene sc = {.rng = 11, .k_spot = 0.6, .k_neigh = 0.5, .depth = 4.0, .coupled = true};
	long i = 0;
	run(s, &sc, &i, 48.0, NULL);
	struct km_stiffness_status st;
	km_stiffness_status(s, &st);
	cr_assert(st.valid);
	cr_assert_float_eq(st.index, 0.6f, 0.02f);
	/* p_neigh is not looked at. */
	cr_assert_eq(km_stiffness_push(s, 0, 0, 1.0f, 1.0f, NAN, NULL), KM_OK);
	km_stiffness_destroy(s);
}
