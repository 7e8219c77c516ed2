/* Guarding detector: injected tremor / bursts / withdrawal are found within 2 s;
 * breathing alone (rate and depth varying, noise, creep) never fires. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/guard.h"

#define PI 3.14159265358979323846
#define MAXEV 64

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

/* splitmix64 (xorshift64* with Box-Muller pairs showed a -18 % low-frequency
 * power bias in one of the two interleaved streams). */
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

enum inject { NONE, TREMOR, BURSTS, RAMP_DROP, STEP_DROP, BREATH_STOP, UNLOAD };

struct gen {
	double fs, f0;       /* sample rate, mean force (N) */
	double depth;        /* breathing modulation of the force (8 %) */
	double breath_phase; /* integrated */
	uint64_t rng;
	bool vary;     /* breathing rate 12-20 /min and depth +-25 % */
	double ramp_s; /* leaning in: force ramps up from 0 over this time */
	enum inject what;
	double t_inject, t_end_inject;
};

static double gen_force(struct gen *g, double t)
{
	double rate = 0.25, depth = g->depth; /* 15 /min */
	if (g->vary) {
		rate = 0.265 + 0.065 * sin(2.0 * PI * t / 47.0); /* 0.20-0.33 Hz */
		depth = 0.08 * (1.0 + 0.25 * sin(2.0 * PI * t / 31.0));
	}
	bool on = t >= g->t_inject && t < g->t_end_inject;
	if (g->what == BREATH_STOP && on)
		depth = 0.0;
	g->breath_phase += 2.0 * PI * rate / g->fs;
	double rel = 1.0 + depth * sin(g->breath_phase);
	rel += 0.003 * sin(2.0 * PI * 10.3 * t) + 0.003 * randn(&g->rng); /* tremor + noise */
	double f = g->f0;
	if (g->ramp_s > 0.0)
		f *= KM_MIN(t / g->ramp_s, 1.0);
	if (g->vary)
		f *= 1.0 - 0.10 * KM_MIN(t / 60.0, 1.0); /* sensor creep, est. */
	if (on) {
		double u = t - g->t_inject;
		switch (g->what) {
		case TREMOR:
			rel += 0.015 * sin(2.0 * PI * 10.0 * t);
			break;
		case BURSTS: /* 3 Hz bracing, 0.5 s on / 0.5 s off */
			if (fmod(u, 1.0) < 0.5)
				rel += 0.04 * sin(2.0 * PI * 3.0 * u);
			break;
		case RAMP_DROP:
			rel *= 1.0 - 0.35 * KM_MIN(u, 1.0);
			break;
		case STEP_DROP:
			rel *= 0.65;
			break;
		case UNLOAD:
			rel = 0.0;
			break;
		default:
			break;
		}
	}
	return f * rel;
}

static void run(km_guard *g, struct gen *gen, double t0, double t1, struct km_event_sink *sink)
{
	for (long i = lround(t0 * gen->fs); i < lround(t1 * gen->fs); i++) {
		double t = (double)i / gen->fs;
		float f = (float)gen_force(gen, t);
		cr_assert_eq(km_guard_push(g, (uint64_t)llround(t * 1e6), (uint32_t)i, f, sink),
		             KM_OK);
	}
}

static struct gen make_gen(double fs, enum inject what, double t_in, double t_out)
{
	struct gen g;
	memset(&g, 0, sizeof(g));
	g.fs = fs;
	g.f0 = 40.0;
	g.depth = 0.08;
	g.rng = 0x9E3779B97F4A7C15ull;
	g.what = what;
	g.t_inject = t_in;
	g.t_end_inject = t_out;
	return g;
}

/* Runs an injection at 20 s; returns the first TENSING_UP (or NULL). */
static const struct km_event *detect(struct rec *r, float fs, enum inject what, double t_out,
                                     double t_stop)
{
	struct km_guard_config cfg = km_guard_config_default();
	cfg.sample_rate_hz = fs;
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct km_event_sink sink = {.fn = on_event, .user = r};
	struct gen gen = make_gen(fs, what, 20.0, t_out);
	run(g, &gen, 0.0, t_stop, &sink);
	km_guard_destroy(g);
	for (size_t i = 0; i < r->n; i++)
		if (r->ev[i].type == KM_EVENT_TENSING_UP)
			return &r->ev[i];
	return NULL;
}

static void expect_within_2s(const struct km_event *e, double t_in)
{
	cr_assert_not_null(e, "no TENSING_UP");
	double t = (double)e->time_us * 1e-6;
	cr_assert(t >= t_in && t <= t_in + 2.0, "TENSING_UP at %.2f s, injected at %.2f s", t,
	          t_in);
}

Test(guard, tremor_10hz_fires_within_2s_and_eases)
{
	struct rec r = {0};
	const struct km_event *e = detect(&r, 100.0f, TREMOR, 40.0, 50.0);
	expect_within_2s(e, 20.0);
	cr_assert_eq(e->reason, KM_REASON_TREMOR);
	cr_assert_gt(e->value, 2.0f);
	/* Eases after the tremor stops (hysteresis: 2 s clear). */
	const struct km_event *last = &r.ev[r.n - 1];
	cr_assert_eq(last->type, KM_EVENT_EASED);
	cr_assert(last->time_us > 42000000u && last->time_us < 48000000u, "EASED at %.2f s",
	          (double)last->time_us * 1e-6);
	cr_assert_eq(r.n, 2, "one TENSING_UP, one EASED");
}

Test(guard, bursts_3hz_fire_within_2s)
{
	struct rec r = {0};
	const struct km_event *e = detect(&r, 100.0f, BURSTS, 40.0, 30.0);
	expect_within_2s(e, 20.0);
	cr_assert_eq(e->reason, KM_REASON_VARIATION);
}

Test(guard, drop_35_percent_in_1s_fires_within_2s)
{
	struct rec r = {0};
	const struct km_event *e = detect(&r, 100.0f, RAMP_DROP, 1e9, 30.0);
	expect_within_2s(e, 20.0);
	cr_assert(e->reason == KM_REASON_WITHDRAWAL || e->reason == KM_REASON_VARIATION);
	struct rec r2 = {0};
	e = detect(&r2, 100.0f, STEP_DROP, 1e9, 30.0);
	expect_within_2s(e, 20.0);
}

Test(guard, withdrawal_alone_is_seen)
{
	/* Withdrawal feature by itself (variation and tremor disabled by huge ratios),
	 * at four phases of the breathing cycle (4 % depth). */
	struct km_guard_config cfg = km_guard_config_default();
	cfg.var_ratio = 1e6f;
	cfg.tremor_ratio = 1e6f;
	for (int k = 0; k < 4; k++) {
		double t_in = 20.0 + k;
		km_guard *g;
		cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
		struct rec r = {0};
		struct km_event_sink sink = {.fn = on_event, .user = &r};
		struct gen gen = make_gen(100.0, RAMP_DROP, t_in, 1e9);
		gen.depth = 0.04;
		run(g, &gen, 0.0, 30.0, &sink);
		cr_assert_geq(r.n, 1, "no event for a drop at %.0f s", t_in);
		cr_assert_eq(r.ev[0].type, KM_EVENT_TENSING_UP);
		cr_assert_eq(r.ev[0].reason, KM_REASON_WITHDRAWAL);
		expect_within_2s(&r.ev[0], t_in);
		cr_assert_gt(r.ev[0].value, 0.30f);
		km_guard_destroy(g);
	}
}

Test(guard, breathing_alone_never_fires)
{
	struct km_guard_config cfg = km_guard_config_default();
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct gen gen = make_gen(100.0, NONE, 0, 0);
	gen.vary = true;
	run(g, &gen, 0.0, 180.0, &sink);
	struct km_guard_status st;
	cr_assert_eq(km_guard_status(g, &st), KM_OK);
	cr_assert(st.baseline_ready);
	cr_assert_eq(r.n, 0, "false alarm: %s (%s) at %.2f s value %.2f",
	             r.n ? km_event_type_name(r.ev[0].type) : "",
	             r.n ? km_event_reason_name(r.ev[0].reason) : "",
	             r.n ? (double)r.ev[0].time_us * 1e-6 : 0.0, r.n ? (double)r.ev[0].value : 0.0);
	km_guard_destroy(g);
}

Test(guard, slow_leaning_in_never_fires)
{
	/* Loading over 2-12 s while breathing: the ramp must not enter the baselines. */
	for (int k = 0; k < 3; k++) {
		struct km_guard_config cfg = km_guard_config_default();
		km_guard *g;
		cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
		struct rec r = {0};
		struct km_event_sink sink = {.fn = on_event, .user = &r};
		struct gen gen = make_gen(100.0, NONE, 0, 0);
		gen.ramp_s = 2.0 + 5.0 * k; /* 2, 7, 12 s */
		gen.vary = true;
		run(g, &gen, 0.0, 90.0, &sink);
		cr_assert_eq(r.n, 0, "ramp %.0f s: %s (%s) at %.2f s", gen.ramp_s,
		             r.n ? km_event_type_name(r.ev[0].type) : "",
		             r.n ? km_event_reason_name(r.ev[0].reason) : "",
		             r.n ? (double)r.ev[0].time_us * 1e-6 : 0.0);
		struct km_guard_status st;
		km_guard_status(g, &st);
		cr_assert(st.baseline_ready);
		km_guard_destroy(g);
	}
}

Test(guard, breath_holding_collapse)
{
	struct rec r = {0};
	const struct km_event *e = detect(&r, 100.0f, BREATH_STOP, 1e9, 40.0);
	cr_assert_not_null(e);
	double t = (double)e->time_us * 1e-6;
	cr_assert(t > 20.0 && t < 28.0, "collapse seen at %.2f s", t);
	cr_assert_eq(e->reason, KM_REASON_BREATH_COLLAPSE);
}

Test(guard, works_at_25hz_and_rejects_lower_rates)
{
	struct rec r = {0};
	const struct km_event *e = detect(&r, 25.0f, TREMOR, 40.0, 30.0);
	expect_within_2s(e, 20.0);
	cr_assert_eq(e->reason, KM_REASON_TREMOR);
	struct km_guard_config cfg = km_guard_config_default();
	cfg.sample_rate_hz = 24.0f;
	km_guard *g = (km_guard *)&cfg;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_ERR_RANGE);
	cr_assert_null(g);
}

Test(guard, unloading_while_tensed_eases)
{
	struct km_guard_config cfg = km_guard_config_default();
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct gen gen = make_gen(100.0, TREMOR, 20.0, 1e9);
	run(g, &gen, 0.0, 25.0, &sink);
	cr_assert(km_guard_is_tensing(g));
	gen.what = UNLOAD;
	run(g, &gen, 25.0, 27.0, &sink);
	cr_assert_not(km_guard_is_tensing(g));
	cr_assert_eq(r.ev[r.n - 1].type, KM_EVENT_EASED);
	cr_assert_eq(r.ev[r.n - 1].reason, KM_REASON_UNLOADED);
	km_guard_destroy(g);
}

Test(guard, config_rejection)
{
	struct km_guard_config c;
	km_guard *g;
	c = km_guard_config_default();
	c.tremor_ratio = 1.0f;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_RANGE);
	c = km_guard_config_default();
	c.tremor_lo_hz = 20.0f;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_RANGE);
	c = km_guard_config_default();
	c.var_hi_hz = 0.3f;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_RANGE);
	c = km_guard_config_default();
	c.min_force = NAN;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_INVALID_ARG);
	c = km_guard_config_default();
	c.withdrawal_drop = 1.5f;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_RANGE);
	c = km_guard_config_default();
	c.breath_window_s = 1000.0f;
	cr_assert_eq(km_guard_create(&c, &g), KM_ERR_RANGE);
	cr_assert_eq(km_guard_create(NULL, &g), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_guard_create(&c, NULL), KM_ERR_INVALID_ARG);
	km_guard_destroy(NULL);
	cr_assert_not(km_guard_is_tensing(NULL));
}

Test(guard, bad_samples_rejected)
{
	struct km_guard_config cfg = km_guard_config_default();
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	cr_assert_eq(km_guard_push(g, 0, 0, NAN, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_guard_push(g, 0, 0, -1.0f, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_guard_push(g, 0, 0, INFINITY, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_guard_push(NULL, 0, 0, 1.0f, NULL), KM_ERR_INVALID_ARG);
	struct km_guard_status st;
	cr_assert_eq(km_guard_status(g, &st), KM_OK);
	cr_assert_not(st.loaded);
	km_guard_destroy(g);
}

Test(guard, reset_replays_identically_and_no_alloc_per_sample)
{
	struct km_guard_config cfg = km_guard_config_default();
	cfg.track_id = 7;
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct rec r1 = {0}, r2 = {0};
	struct km_event_sink s1 = {.fn = on_event, .user = &r1};
	struct km_event_sink s2 = {.fn = on_event, .user = &r2};
	uint64_t a0 = km__alloc_count();
	struct gen gen = make_gen(100.0, TREMOR, 20.0, 30.0);
	run(g, &gen, 0.0, 40.0, &s1);
	cr_assert_eq(km__alloc_count(), a0, "allocation while pushing samples");
	cr_assert_eq(r1.n, 2);
	cr_assert_eq(r1.ev[0].track_id, 7);
	km_guard_reset(g);
	struct km_guard_status st;
	cr_assert_eq(km_guard_status(g, &st), KM_OK);
	cr_assert_not(st.baseline_ready);
	cr_assert_not(st.tensing);
	gen = make_gen(100.0, TREMOR, 20.0, 30.0);
	run(g, &gen, 0.0, 40.0, &s2);
	cr_assert_eq(r2.n, r1.n);
	for (size_t i = 0; i < r1.n; i++) {
		cr_assert_eq(r2.ev[i].type, r1.ev[i].type);
		cr_assert_eq(r2.ev[i].time_us, r1.ev[i].time_us);
	}
	km_guard_destroy(g);
}

Test(guard, eased_only_after_off_s_of_clear_features)
{
	/* Hysteresis: EASED comes when every feature has stayed below off_fraction
	 * of its threshold for off_s (2 s), judged from the exposed status. */
	struct km_guard_config cfg = km_guard_config_default();
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct gen gen = make_gen(100.0, TREMOR, 20.0, 30.0);
	double clear_since = -1.0, eased_at = -1.0, clear_at_ease = -1.0;
	double of = cfg.off_fraction;
	for (long i = 0; i < 5000 && eased_at < 0; i++) {
		double t = (double)i / 100.0;
		size_t before = r.n;
		cr_assert_eq(km_guard_push(g, (uint64_t)llround(t * 1e6), (uint32_t)i,
		                           (float)gen_force(&gen, t), &sink),
		             KM_OK);
		struct km_guard_status st;
		km_guard_status(g, &st);
		bool clear = st.tremor_ratio < cfg.tremor_ratio * of &&
		             st.var_ratio < cfg.var_ratio * of &&
		             st.drop < cfg.withdrawal_drop * of;
		if (!clear)
			clear_since = -1.0;
		else if (clear_since < 0.0)
			clear_since = t;
		if (r.n > before && r.ev[r.n - 1].type == KM_EVENT_EASED) {
			eased_at = t;
			clear_at_ease = clear_since;
		}
	}
	cr_assert_geq(eased_at, 30.0, "eased at %.2f", eased_at);
	cr_assert_geq(clear_at_ease, 30.0);
	double held = eased_at - clear_at_ease;
	cr_assert(held >= 1.98 && held <= 2.0 + 1e-9, "clear for %.3f s before EASED", held);
	km_guard_destroy(g);
}

#if defined(__has_include)
#if __has_include("knotmap/sim.h")
#include "knotmap/sim.h"
#define HAVE_SIM 1
#endif
#endif

#ifdef HAVE_SIM
/* The virtual mat's tensing model (tremor + 2-4 Hz bursts, then a withdrawal),
 * as in hardware/sim/scenarios/tensing-up.ini, seen through the pressure grid:
 * the force is the pressure summed over 5 x 5 cells around the ball. */
Test(guard, virtual_mat_tensing_episodes)
{
	struct km_sim_config sc = km_sim_config_default();
	sc.rows = sc.cols = 32;
	sc.pitch_mm = 7.5f;
	sc.body_midline_x_mm = 120.0f;
	sc.body_vertex_y_mm = -250.0f;
	sc.knot_count = 1;
	sc.knots[0] = (struct km_sim_knot){
	    .x_mm = 170, .y_mm = 120, .radius_mm = 12, .stiffness_pct = 35, .depth_mm = 8};
	sc.tool = KM_SIM_TOOL_TENNIS_BALL;
	sc.start_x_mm = 170;
	sc.start_y_mm = 120;
	sc.step_count = 2;
	sc.steps[0] = (struct km_sim_step){KM_SIM_MOVE_SETTLE, 4, 170, 120, 0.2f};
	sc.steps[1] = (struct km_sim_step){KM_SIM_MOVE_HOLD, 56, 170, 120, 0.2f};
	sc.tensing_count = 2;
	sc.tensing[0] = (struct km_sim_tensing){20, 6, false};
	sc.tensing[1] = (struct km_sim_tensing){40, 5, true};
	km_sim *sim;
	cr_assert_eq(km_sim_create(&sc, &sim), KM_OK);
	struct km_guard_config cfg = km_guard_config_default();
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	struct rec r = {0};
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	for (int i = 0; i < 58 * 100; i++) {
		struct km_sim_output o;
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		int pc = (int)(o.truth->tool_x_mm / o.pitch_mm),
		    pr = (int)(o.truth->tool_y_mm / o.pitch_mm);
		double force = 0.0, area_m2 = (double)o.pitch_mm * o.pitch_mm * 1e-6;
		for (int rr = pr - 2; rr <= pr + 2; rr++)
			for (int cc = pc - 2; cc <= pc + 2; cc++)
				if (rr >= 0 && rr < o.rows && cc >= 0 && cc < o.cols)
					force += o.kpa[rr * o.cols + cc] * 1e3 * area_m2; /* N */
		cr_assert_eq(km_guard_push(g, o.time_us, o.sequence, (float)force, &sink), KM_OK);
	}
	/* Exactly the two episodes, each found within 2 s of its start. */
	size_t up = 0;
	for (size_t k = 0; k < r.n; k++) {
		if (r.ev[k].type != KM_EVENT_TENSING_UP)
			continue;
		double t = (double)r.ev[k].time_us * 1e-6;
		double start = up == 0 ? 20.0 : 40.0;
		cr_assert(t >= start && t <= start + 2.0, "episode %zu found at %.2f s (%s)", up, t,
		          km_event_reason_name(r.ev[k].reason));
		up++;
	}
	cr_assert_eq(up, 2, "%zu TENSING_UP events", up);
	km_guard_destroy(g);
	km_sim_destroy(sim);
}
#endif

/* TENSING_UP says where: the spot / tool position set by the caller. */
Test(guard, events_carry_the_set_position)
{
	struct rec r = {0};
	struct km_guard_config cfg = km_guard_config_default();
	cfg.sample_rate_hz = 100.0f;
	km_guard *g;
	cr_assert_eq(km_guard_create(&cfg, &g), KM_OK);
	cr_assert_eq(km_guard_set_position(g, NAN, 1.0f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_guard_set_position(NULL, 1.0f, 1.0f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_guard_set_position(g, 123.5f, 456.0f), KM_OK);
	struct km_event_sink sink = {.fn = on_event, .user = &r};
	struct gen gen = make_gen(100.0, TREMOR, 20.0, 40.0);
	run(g, &gen, 0.0, 30.0, &sink);
	km_guard_destroy(g);
	cr_assert_geq(r.n, 1);
	cr_assert_eq(r.ev[0].type, KM_EVENT_TENSING_UP);
	cr_assert_float_eq(r.ev[0].x_mm, 123.5f, 1e-4f);
	cr_assert_float_eq(r.ev[0].y_mm, 456.0f, 1e-4f);
}
