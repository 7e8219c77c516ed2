/* Guarding (tensing up) detector on one force signal; see knotmap/guard.h. */
#include "knotmap/guard.h"

#include <math.h>
#include <string.h>

#include "km_internal.h"

#define MOD "guard"
#define MAX_SECTIONS 6
#define PI 3.14159265358979323846

/* Second-order section, direct form II transposed, double state (the 0.1 Hz
 * sections at 100 Hz have poles close to 1). Coefficients: RBJ audio cookbook. */
struct biquad {
	double b0, b1, b2, a1, a2, z1, z2;
};

struct chain {
	struct biquad s[MAX_SECTIONS];
	unsigned n;
};

enum phase { PH_UNLOADED, PH_WARMUP, PH_BASELINE, PH_READY };

struct km_guard {
	struct km_guard_config cfg;
	float x_mm, y_mm; /* spot position put into events (km_guard_set_position) */
	struct chain tremor, var, breath;
	double a_tremor, a_var, a_fast, a_mean; /* EMA coefficients per sample */
	double p_tremor, p_var;                 /* smoothed band powers */
	double fast, mean;                      /* smoothed force: 0.05 s and 1 s */
	double ref;   /* force when loading began: removes the loading step from the bands */
	double ref_b; /* the same for the breathing band, re-set at each baseline */
	bool have_first;
	float *wring; /* [wn] smoothed force over withdrawal_s */
	uint32_t wn, whead, wcount;
	double *bring; /* [bn] squared breathing band over breath_window_s */
	uint32_t bn, bhead, bcount;
	double bsum;
	enum phase phase;
	uint32_t phase_n; /* samples in the phase / unloaded run */
	uint32_t warm_n, base_n, unload_n, on_n, off_n;
	double acc_tp, acc_vr;
	double base_tp, base_vr, base_br;
	bool breath_ok;
	bool breath_pending;  /* breathing reference not captured yet */
	uint32_t breath_skip; /* samples left before the breathing window fills */
	bool tensing;
	enum km_event_reason reason;
	uint32_t on_count, clear_count;
	struct km_guard_status st;
};

static const double q_butter2[] = {0.70710678};
static const double q_butter4[] = {0.54119610, 1.30656296};
static const double q_butter6[] = {0.51763809, 0.70710678, 1.93185165};

static void add_section(struct chain *c, bool highpass, double f, double fs, double q)
{
	double w0 = 2.0 * PI * f / fs, cw = cos(w0), alpha = sin(w0) / (2.0 * q);
	double a0 = 1.0 + alpha;
	struct biquad *b = &c->s[c->n++];
	memset(b, 0, sizeof(*b));
	if (highpass) {
		b->b0 = (1.0 + cw) / 2.0 / a0;
		b->b1 = -(1.0 + cw) / a0;
	} else {
		b->b0 = (1.0 - cw) / 2.0 / a0;
		b->b1 = (1.0 - cw) / a0;
	}
	b->b2 = b->b0;
	b->a1 = -2.0 * cw / a0;
	b->a2 = (1.0 - alpha) / a0;
}

static void add_butter(struct chain *c, bool highpass, double f, double fs, const double *q,
                       unsigned nq)
{
	for (unsigned i = 0; i < nq; i++)
		add_section(c, highpass, f, fs, q[i]);
}

static double chain_run(struct chain *c, double x)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct biquad *b = &c->s[i];
		double y = b->b0 * x + b->z1;
		b->z1 = b->b1 * x - b->a1 * y + b->z2;
		b->z2 = b->b2 * x - b->a2 * y;
		x = y;
	}
	return x;
}

static void chain_clear(struct chain *c)
{
	for (unsigned i = 0; i < c->n; i++)
		c->s[i].z1 = c->s[i].z2 = 0.0;
}

struct km_guard_config km_guard_config_default(void)
{
	struct km_guard_config c;
	memset(&c, 0, sizeof(c));
	c.sample_rate_hz = 100.0f; /* docs/signal-model.md default frame rate */
	c.min_force = 1.0f;        /* est. */
	c.tremor_lo_hz = 6.0f;     /* docs/signal-model.md: 6-14 Hz around 8-12 Hz tremor */
	c.tremor_hi_hz = 14.0f;
	c.tremor_ratio = 2.0f; /* docs/signal-model.md: 1.5-2x */
	c.tremor_tau_s = 1.0f;
	c.var_lo_hz = 0.5f; /* docs/signal-model.md: 0.5-4 Hz variation > 2x */
	c.var_hi_hz = 4.0f;
	c.var_ratio = 2.0f;
	c.var_tau_s = 0.5f;
	c.withdrawal_drop = 0.30f; /* docs/signal-model.md: > 30 % within 1 s */
	c.withdrawal_s = 1.0f;
	c.breath_collapse = 0.3f; /* est. */
	c.breath_window_s = 6.0f;
	c.breath_min_rel = 0.01f;
	c.floor_rel = 0.002f;
	c.on_s = 0.5f;
	c.off_s = 2.0f;
	c.off_fraction = 0.8f;
	c.warmup_s = 3.0f;
	c.baseline_s = 5.0f; /* docs/signal-model.md: 5 s settling */
	c.unload_s = 0.5f;
	return c;
}

static bool pos(float v)
{
	return isfinite(v) && v > 0.0f;
}

static int check_config(const struct km_guard_config *c)
{
	const float vals[] = {c->sample_rate_hz,  c->min_force,       c->tremor_lo_hz,
	                      c->tremor_hi_hz,    c->tremor_ratio,    c->tremor_tau_s,
	                      c->var_lo_hz,       c->var_hi_hz,       c->var_ratio,
	                      c->var_tau_s,       c->withdrawal_drop, c->withdrawal_s,
	                      c->breath_window_s, c->floor_rel,       c->on_s,
	                      c->off_s,           c->off_fraction,    c->warmup_s,
	                      c->baseline_s,      c->unload_s};
	for (size_t i = 0; i < KM_ARRAY_SIZE(vals); i++)
		if (!pos(vals[i]))
			return KM_ERR_INVALID_ARG;
	if (!isfinite(c->breath_collapse) || !isfinite(c->breath_min_rel) ||
	    c->breath_collapse < 0.0f || c->breath_min_rel < 0.0f)
		return KM_ERR_INVALID_ARG;
	/* The tremor band needs > 25 Hz sampling (docs/signal-model.md). */
	if (c->sample_rate_hz < 25.0f || c->sample_rate_hz > 10000.0f)
		return KM_ERR_RANGE;
	float top = 0.45f * c->sample_rate_hz;
	if (c->tremor_lo_hz >= c->tremor_hi_hz || c->tremor_lo_hz >= top ||
	    c->var_lo_hz >= c->var_hi_hz || c->var_hi_hz >= top)
		return KM_ERR_RANGE;
	if (c->tremor_ratio <= 1.0f || c->var_ratio <= 1.0f || c->withdrawal_drop >= 1.0f ||
	    c->breath_collapse >= 1.0f || c->off_fraction > 1.0f)
		return KM_ERR_RANGE;
	/* Keep every window and ring bounded (a minute at most). */
	const float durs[] = {c->tremor_tau_s,    c->var_tau_s,  c->withdrawal_s,
	                      c->breath_window_s, c->on_s,       c->off_s,
	                      c->warmup_s,        c->baseline_s, c->unload_s};
	for (size_t i = 0; i < KM_ARRAY_SIZE(durs); i++)
		if (durs[i] > 60.0f || durs[i] * c->sample_rate_hz < 1.0f)
			return KM_ERR_RANGE;
	return KM_OK;
}

static uint32_t nsamp(float s, float fs)
{
	return (uint32_t)lround((double)s * fs);
}

static double ema_coef(float tau, float fs)
{
	return 1.0 - exp(-1.0 / ((double)tau * fs));
}

int km_guard_create(const struct km_guard_config *cfg, km_guard **out)
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
	km_guard *g = km__calloc(1, sizeof(*g));
	if (!g)
		return KM_ERR_NO_MEMORY;
	g->cfg = *cfg;
	float fs = cfg->sample_rate_hz;
	/* The drop window gets 0.1 s extra: two time constants of the 0.05 s force
	 * smoothing, so a drop that takes exactly withdrawal_s is seen whole. */
	g->wn = KM_MAX(nsamp(cfg->withdrawal_s + 0.1f, fs), 1u);
	g->bn = KM_MAX(nsamp(cfg->breath_window_s, fs), 1u);
	g->wring = km__calloc(g->wn, sizeof(*g->wring));
	g->bring = km__calloc(g->bn, sizeof(*g->bring));
	if (!g->wring || !g->bring) {
		km_guard_destroy(g);
		return KM_ERR_NO_MEMORY;
	}
	double top = 0.45 * fs, thi = KM_MIN((double)cfg->tremor_hi_hz, top);
	/* Tremor: 4th-order Butterworth high- and low-pass. */
	add_butter(&g->tremor, true, cfg->tremor_lo_hz, fs, q_butter4, 2);
	add_butter(&g->tremor, false, thi, fs, q_butter4, 2);
	/* Variation: 6th-order high-pass keeps breathing (0.2-0.33 Hz) out. */
	add_butter(&g->var, true, cfg->var_lo_hz, fs, q_butter6, 3);
	add_butter(&g->var, false, cfg->var_hi_hz, fs, q_butter4, 2);
	/* Breathing: 0.1-0.5 Hz (docs/signal-model.md search band). */
	add_butter(&g->breath, true, 0.1, fs, q_butter2, 1);
	add_butter(&g->breath, false, 0.5, fs, q_butter4, 2);
	g->a_tremor = ema_coef(cfg->tremor_tau_s, fs);
	g->a_var = ema_coef(cfg->var_tau_s, fs);
	g->a_fast = ema_coef(0.05f, fs);
	g->a_mean = ema_coef(1.0f, fs);
	g->warm_n = nsamp(cfg->warmup_s, fs);
	g->base_n = KM_MAX(nsamp(cfg->baseline_s, fs), 1u);
	g->unload_n = KM_MAX(nsamp(cfg->unload_s, fs), 1u);
	g->on_n = KM_MAX(nsamp(cfg->on_s, fs), 1u);
	g->off_n = KM_MAX(nsamp(cfg->off_s, fs), 1u);
	km_guard_reset(g);
	*out = g;
	return KM_OK;
}

void km_guard_reset(km_guard *g)
{
	if (!g)
		return;
	chain_clear(&g->tremor);
	chain_clear(&g->var);
	chain_clear(&g->breath);
	g->p_tremor = g->p_var = 0.0;
	g->fast = g->mean = g->ref = g->ref_b = 0.0;
	g->have_first = false;
	memset(g->wring, 0, g->wn * sizeof(*g->wring));
	memset(g->bring, 0, g->bn * sizeof(*g->bring));
	g->whead = g->wcount = g->bhead = g->bcount = 0;
	g->bsum = 0.0;
	g->phase = PH_UNLOADED;
	g->phase_n = 0;
	g->acc_tp = g->acc_vr = 0.0;
	g->base_tp = g->base_vr = g->base_br = 0.0;
	g->breath_ok = g->breath_pending = false;
	g->breath_skip = 0;
	g->tensing = false;
	g->reason = KM_REASON_NONE;
	g->on_count = g->clear_count = 0;
	memset(&g->st, 0, sizeof(g->st));
}

void km_guard_destroy(km_guard *g)
{
	if (!g)
		return;
	km__free(g->wring);
	km__free(g->bring);
	km__free(g);
}

static void emit(km_guard *g, struct km_event_sink *sink, enum km_event_type type,
                 enum km_event_reason reason, uint64_t t, uint32_t seq, float value)
{
	struct km_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.track_id = g->cfg.track_id;
	ev.x_mm = g->x_mm;
	ev.y_mm = g->y_mm;
	ev.frame_seq = seq;
	ev.time_us = t;
	ev.load_n = (float)g->mean; /* in the unit of the samples */
	ev.value = value;
	km_event_sink_emit(sink, &ev);
}

/* Starts the baseline. The breathing band restarts here at the current level
 * and its window fills only after BREATH_SKIP_S, so the loading ramp's ringing
 * (0.1 Hz high-pass, ~1.6 s time constant) stays out of the breathing reference;
 * the reference is taken when that window is full (km_guard.h). */
#define BREATH_SKIP_S 2.0f

static void start_baseline(km_guard *g)
{
	g->phase = PH_BASELINE;
	g->phase_n = 0;
	g->acc_tp = g->acc_vr = 0.0;
	chain_clear(&g->breath);
	g->ref_b = g->fast;
	memset(g->bring, 0, g->bn * sizeof(*g->bring));
	g->bsum = 0.0;
	g->bhead = g->bcount = 0;
	g->breath_skip = nsamp(BREATH_SKIP_S, g->cfg.sample_rate_hz);
	g->breath_pending = true;
	g->breath_ok = false;
}

int km_guard_push(km_guard *g, uint64_t t_us, uint32_t seq, float force, struct km_event_sink *sink)
{
	if (!g)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(force) || force < 0.0f)
		return KM_ERR_NONFINITE;
	const struct km_guard_config *c = &g->cfg;
	double x = force;
	if (!g->have_first) {
		/* Start the smoothers at the first value, not at 0. */
		g->fast = g->mean = x;
		g->have_first = true;
	}
	g->fast += g->a_fast * (x - g->fast);
	g->mean += g->a_mean * (x - g->mean);
	if (g->phase == PH_UNLOADED && g->fast >= c->min_force) {
		/* Loading begins: restart the band filters from rest at this level, so
		 * the loading step does not ring through them into the baseline. */
		chain_clear(&g->tremor);
		chain_clear(&g->var);
		chain_clear(&g->breath);
		memset(g->bring, 0, g->bn * sizeof(*g->bring));
		g->bsum = 0.0;
		g->bhead = g->bcount = 0;
		g->p_tremor = g->p_var = 0.0;
		g->ref = g->ref_b = x;
	}
	double yt = chain_run(&g->tremor, x - g->ref);
	double yv = chain_run(&g->var, x - g->ref);
	double yb = chain_run(&g->breath, x - g->ref_b);
	g->p_tremor += g->a_tremor * (yt * yt - g->p_tremor);
	g->p_var += g->a_var * (yv * yv - g->p_var);
	if (g->breath_skip > 0) {
		g->breath_skip--;
	} else {
		g->bsum += yb * yb - g->bring[g->bhead];
		g->bring[g->bhead] = yb * yb;
		g->bhead = (g->bhead + 1) % g->bn;
		if (g->bcount < g->bn)
			g->bcount++;
		if (g->bsum < 0.0)
			g->bsum = 0.0;
	}
	g->wring[g->whead] = (float)g->fast;
	g->whead = (g->whead + 1) % g->wn;
	if (g->wcount < g->wn)
		g->wcount++;

	float wmax = 0.0f;
	for (uint32_t i = 0; i < g->wcount; i++)
		wmax = KM_MAX(wmax, g->wring[i]);
	double drop = wmax > 0.0f ? 1.0 - g->fast / wmax : 0.0;
	double m = KM_MAX(g->mean, 1e-12);
	double tp = g->p_tremor / (m * m);
	double vr = sqrt(g->p_var) / m;
	double br = sqrt(g->bsum / g->bn) / m;
	bool loaded = g->fast >= c->min_force;

	/* Phases: unloaded -> warm-up -> baseline -> ready. */
	if (!loaded) {
		if (g->phase != PH_UNLOADED && ++g->phase_n >= g->unload_n) {
			g->phase = PH_UNLOADED;
			g->phase_n = 0;
			if (g->tensing) {
				g->tensing = false;
				emit(g, sink, KM_EVENT_EASED, KM_REASON_UNLOADED, t_us, seq, 0.0f);
			}
		}
	} else if (g->phase == PH_UNLOADED) {
		g->phase = PH_WARMUP;
		g->phase_n = 0;
	} else if (g->phase == PH_WARMUP) {
		if (++g->phase_n >= g->warm_n)
			start_baseline(g);
	} else if (g->phase == PH_BASELINE) {
		g->acc_tp += tp;
		g->acc_vr += vr;
		if (++g->phase_n >= g->base_n) {
			double fl = c->floor_rel;
			g->base_tp = KM_MAX(g->acc_tp / g->base_n, fl * fl);
			g->base_vr = KM_MAX(g->acc_vr / g->base_n, 2.5 * fl);
			g->phase = PH_READY;
			g->phase_n = 0;
			g->on_count = g->clear_count = 0;
		}
	} else {
		g->phase_n = 0; /* loaded again: the unload run restarts */
	}
	if (g->breath_pending && g->bcount >= g->bn &&
	    (g->phase == PH_BASELINE || g->phase == PH_READY)) {
		g->breath_pending = false;
		g->base_br = br;
		g->breath_ok = c->breath_collapse > 0.0f && br >= c->breath_min_rel;
	}

	struct km_guard_status *st = &g->st;
	st->loaded = loaded;
	st->baseline_ready = g->phase == PH_READY;
	st->mean_force = (float)g->mean;
	st->drop = (float)drop;
	if (g->phase != PH_READY || !loaded) {
		st->tensing = g->tensing;
		st->reason = g->reason;
		return KM_OK;
	}

	double rt = tp / g->base_tp, rv = vr / g->base_vr;
	double rb = g->breath_ok ? br / g->base_br : 1.0;
	st->tremor_ratio = (float)rt;
	st->var_ratio = (float)rv;
	st->breath_ratio = (float)rb;

	enum km_event_reason why = KM_REASON_NONE;
	float val = 0.0f;
	if (drop > c->withdrawal_drop) {
		why = KM_REASON_WITHDRAWAL;
		val = (float)drop;
	} else if (rt > c->tremor_ratio) {
		why = KM_REASON_TREMOR;
		val = (float)rt;
	} else if (rv > c->var_ratio) {
		why = KM_REASON_VARIATION;
		val = (float)rv;
	} else if (g->breath_ok && rb < c->breath_collapse) {
		why = KM_REASON_BREATH_COLLAPSE;
		val = (float)rb;
	}
	double of = c->off_fraction;
	bool clear = drop < c->withdrawal_drop * of && rt < c->tremor_ratio * of &&
	             rv < c->var_ratio * of && (!g->breath_ok || rb > c->breath_collapse / of);

	if (!g->tensing) {
		g->on_count = why != KM_REASON_NONE ? g->on_count + 1 : 0;
		/* A withdrawal is already judged over withdrawal_s and is brief: no
		 * extra persistence for it. */
		if (g->on_count >= g->on_n || why == KM_REASON_WITHDRAWAL) {
			g->tensing = true;
			g->reason = why;
			g->clear_count = 0;
			emit(g, sink, KM_EVENT_TENSING_UP, why, t_us, seq, val);
		}
	} else {
		g->clear_count = clear ? g->clear_count + 1 : 0;
		if (g->clear_count >= g->off_n) {
			g->tensing = false;
			g->reason = KM_REASON_NONE;
			g->on_count = 0;
			emit(g, sink, KM_EVENT_EASED, KM_REASON_NONE, t_us, seq, 0.0f);
		}
	}
	st->tensing = g->tensing;
	st->reason = g->reason;
	return KM_OK;
}

int km_guard_rebaseline(km_guard *g)
{
	if (!g)
		return KM_ERR_INVALID_ARG;
	if (g->phase != PH_UNLOADED)
		start_baseline(g);
	return KM_OK;
}

int km_guard_set_track(km_guard *g, uint32_t track_id)
{
	if (!g)
		return KM_ERR_INVALID_ARG;
	g->cfg.track_id = track_id;
	return KM_OK;
}

int km_guard_set_position(km_guard *g, float x_mm, float y_mm)
{
	if (!g || !isfinite(x_mm) || !isfinite(y_mm))
		return KM_ERR_INVALID_ARG;
	g->x_mm = x_mm;
	g->y_mm = y_mm;
	return KM_OK;
}

int km_guard_status(const km_guard *g, struct km_guard_status *out)
{
	if (!g || !out)
		return KM_ERR_INVALID_ARG;
	*out = g->st;
	return KM_OK;
}

bool km_guard_is_tensing(const km_guard *g)
{
	return g && g->tensing;
}
