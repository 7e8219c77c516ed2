/*
 * The virtual mat: body, knots, tools, movement, breathing, tensing and the
 * sensor's imperfections. Static fields are computed once at create; a step
 * only combines them, adds the moving contacts and runs the sensor model.
 *
 * Numbers come from docs/signal-model.md unless marked (est.),
 * an engineering estimate. Segment masses and positions: Winter, Biomechanics
 * and Motor Control of Human Movement, 4th ed. 2009, table 4.1 (fractions of
 * body mass and of height).
 */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"

#define G_N_PER_KG 9.81f
#define TWO_PI 6.28318530717958647692
#define KM_PI 3.14159265358979323846
#define KM_PI_F 3.14159265f

/* ------------------------------------------------------------------------ */
/* Random numbers and fast maths                                             */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rng_seed(struct km__sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct km__sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, 1), 53 bits. */
static double rng_uniform(struct km__sim_rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Exact normal (Box-Muller) for the static per-cell parameters. */
static double rng_normal(struct km__sim_rng *r)
{
	double u1 = rng_uniform(r), u2 = rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

/* Per-frame noise: Irwin-Hall sum of four 16-bit uniforms from one draw,
 * scaled to unit variance (tails end at +-3.46 SD, fine for ADC noise). */
static inline float rng_fast_normal(struct km__sim_rng *r)
{
	uint64_t x = rng_next(r);
	uint32_t s = (uint32_t)(x & 0xFFFF) + (uint32_t)((x >> 16) & 0xFFFF) +
	             (uint32_t)((x >> 32) & 0xFFFF) + (uint32_t)(x >> 48);
	return ((float)s - 131070.0f) * (1.0f / 37837.23f);
}

/* log2 for x > 0 (normal floats), |error| < 1e-7: atanh series around the
 * mantissa reduced to [sqrt(1/2), sqrt(2)). Branch-free so that the sensor
 * loop vectorises. */
static inline float fast_log2(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	int32_t e = (int32_t)((u >> 23) & 0xFFu) - 127;
	u = (u & 0x007FFFFFu) | 0x3F800000u;
	float m;
	memcpy(&m, &u, sizeof m);
	int32_t big = m > 1.41421356f;
	float mh = m * 0.5f;
	m = big ? mh : m;
	e += big;
	float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
	float s =
	    t * (2.0f + t2 * (0.6666667f + t2 * (0.4f + t2 * (0.2857143f + t2 * 0.2222222f))));
	return (float)e + s * 1.44269504f;
}

/* 2^x, x clamped to [-100, 100], relative error ~2e-7 (degree-6 Taylor on
 * [-0.5, 0.5]); branch-free. */
static inline float fast_exp2(float x)
{
	x = x < -100.0f ? -100.0f : (x > 100.0f ? 100.0f : x);
	float xr = x + 0.5f;
	int32_t n = (int32_t)xr;
	n -= xr < (float)n; /* floor */
	float f = (x - (float)n) * 0.69314718f;
	float p =
	    1.0f +
	    f * (1.0f +
	         f * (0.5f + f * (0.16666667f +
	                          f * (0.041666667f + f * (0.0083333333f + f * 0.0013888889f)))));
	uint32_t bits = (uint32_t)(n + 127) << 23;
	float sc;
	memcpy(&sc, &bits, sizeof sc);
	return p * sc;
}

static inline float fast_pow(float x, float e)
{
	return fast_exp2(e * fast_log2(x));
}

uint32_t km__sim_hash(const void *data, size_t len, uint32_t h)
{
	/* FNV-1a */
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

struct km_sim_config km_sim_config_default(void)
{
	struct km_sim_config c;
	memset(&c, 0, sizeof c);
	c.seed = 1;
	c.start_running = true;
	/* docs/signal-model.md: 32x32..128x128 cells at 5-10 mm, 100 Hz default */
	c.rows = 64;
	c.cols = 64;
	c.pitch_mm = 7.5f;
	c.geometry = KM_GEOMETRY_FLAT;
	c.rate_hz = 100.0f;
	c.serial = 1;
	c.encoding = 1;      /* RAW12: what a 12-bit firmware sends */
	c.key_interval = 50; /* hardware/firmware default */

	c.body = true;
	c.body_mass_kg = 70.0f;
	c.body_height_mm = 1750.0f;
	c.body_midline_x_mm = 240.0f; /* centre of a 64 x 7.5 mm mat */
	c.body_vertex_y_mm = -250.0f; /* upper back over the mat */
	c.bony_gain = 1.0f;
	c.loaded_kpa = 0.5f; /* (est.) well above the noise floor of the low end */

	c.breath_hz = 0.25f;    /* 12-20 /min = 0.20-0.33 Hz */
	c.breath_depth = 0.06f; /* (est.) */

	c.tool = KM_SIM_TOOL_NONE;
	c.tool_diameter_mm = 67.0f;  /* tennis ball 6.5-6.9 cm */
	c.tool_contact_cm2 = 2.0f;   /* ball: ~2 cm^2 */
	c.tool_ref_force_n = 100.0f; /* (est.) load at which the contact is ~2 cm^2 */
	c.tool_width_mm = 120.0f;    /* thigh width across a roller (est.) */
	c.tool_lift_mm = 100.0f;     /* (est.) body lifted off the mat around a ball */
	c.tool_mass_kg = 1.0f;       /* (est.) instrumented roller */

	c.start_x_mm = NAN;
	c.start_y_mm = NAN;

	c.tremor_hz = 10.0f; /* physiological tremor 8-12 Hz */
	c.tremor_amp = 0.05f;
	c.burst_hz = 3.0f; /* bracing 2-4 Hz */
	c.burst_amp = 0.08f;
	c.withdrawal_drop = 0.45f; /* withdrawal = drop > 30 % within 1 s */
	c.withdrawal_s = 0.5f;
	c.tensing_breath = 0.3f; /* breath held while bracing (est.) */

	/* Sensor: 12-bit ADC, power law, 0-1000 kPa range (docs/signal-model.md). With
	 * exponent 0.6 and scale 62: 1000 kPa ~ 3900 counts above offset, and
	 * ~37 counts/kPa at 1 kPa (resolution far better than 1 kPa). */
	c.adc_bits = 12;
	c.offset_counts = 60.0f;
	c.offset_sd = 8.0f;
	c.scale = 62.0f;
	c.scale_sd = 0.08f;
	c.exponent = 0.6f;
	c.exponent_sd = 0.02f;
	c.noise_counts = 1.5f;
	c.drift_counts_per_min = 2.0f;
	c.creep_pct = 19.0f; /* up to ~19 % over a hold, log-time shape */
	c.creep_ref_s = 60.0f;
	c.creep_tau_s = 1.0f;
	c.hysteresis_pct = 20.0f; /* +-20 % */
	c.hysteresis_tau_s = 2.0f;
	c.crosstalk_pct = 2.0f; /* (est.) ghosting of passive resistive matrices */

	c.stuck_value = 4095;
	return c;
}

static bool finite_in(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

#define CHECK_RANGE(cfg, cond, what)                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			km__log(&(cfg)->log, KM_LOG_ERROR, KM_SIM_MODULE,                          \
			        "config: %s out of range", what);                                  \
			return KM_ERR_RANGE;                                                       \
		}                                                                                  \
	} while (0)

int km_sim_config_check(const struct km_sim_config *c)
{
	if (!c)
		return KM_ERR_INVALID_ARG;
	if (c->rows < KM_SIM_MIN_DIM || c->rows > KM_SIM_MAX_DIM || c->cols < KM_SIM_MIN_DIM ||
	    c->cols > KM_SIM_MAX_DIM) {
		km__log(&c->log, KM_LOG_ERROR, KM_SIM_MODULE, "config: grid %ux%u outside %d..%d",
		        c->rows, c->cols, KM_SIM_MIN_DIM, KM_SIM_MAX_DIM);
		return KM_ERR_SHAPE;
	}
	if (c->geometry != KM_GEOMETRY_FLAT && c->geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	if ((unsigned)c->tool > KM_SIM_TOOL_ROLLER_DEVICE)
		return KM_ERR_INVALID_ARG;
	CHECK_RANGE(c, c->encoding <= 3, "mat encoding (0..3)");
	CHECK_RANGE(c, c->key_interval >= 1 && c->key_interval <= 1000, "mat key_interval");
	CHECK_RANGE(c, c->encoding != 1 || c->adc_bits <= 12, "RAW12 encoding with adc_bits > 12");
	CHECK_RANGE(c, finite_in(c->pitch_mm, 5.0f, 10.0f), "pitch_mm (5..10)");
	CHECK_RANGE(c, finite_in(c->rate_hz, 1.0f, 1000.0f), "rate_hz (1..1000)");
	CHECK_RANGE(c, finite_in(c->body_mass_kg, 30.0f, 200.0f), "body mass_kg (30..200)");
	CHECK_RANGE(c, finite_in(c->body_height_mm, 1000.0f, 2200.0f),
	            "body height_mm (1000..2200)");
	CHECK_RANGE(c, finite_in(c->body_midline_x_mm, -2000.0f, 3000.0f), "body midline_x_mm");
	CHECK_RANGE(c, finite_in(c->body_vertex_y_mm, -3000.0f, 3000.0f), "body vertex_y_mm");
	CHECK_RANGE(c, finite_in(c->bony_gain, 0.0f, 3.0f), "body bony_gain (0..3)");
	CHECK_RANGE(c, finite_in(c->loaded_kpa, 0.0f, 100.0f), "body loaded_kpa (0..100)");
	CHECK_RANGE(c, finite_in(c->breath_hz, 0.05f, 1.0f), "breathing rate_hz (0.05..1)");
	CHECK_RANGE(c, finite_in(c->breath_depth, 0.0f, 0.5f), "breathing depth (0..0.5)");
	CHECK_RANGE(c, c->knot_count <= KM_SIM_MAX_KNOTS, "knot count (max 16)");
	for (size_t i = 0; i < c->knot_count; i++) {
		const struct km_sim_knot *k = &c->knots[i];
		CHECK_RANGE(c, finite_in(k->x_mm, -1000.0f, 2000.0f), "knot x_mm");
		CHECK_RANGE(c, finite_in(k->y_mm, -1000.0f, 2000.0f), "knot y_mm");
		CHECK_RANGE(c, finite_in(k->radius_mm, 3.0f, 40.0f), "knot radius_mm (3..40)");
		CHECK_RANGE(c, finite_in(k->stiffness_pct, 0.0f, 100.0f),
		            "knot stiffness_pct (0..100)");
		CHECK_RANGE(c, finite_in(k->depth_mm, 0.0f, 40.0f), "knot depth_mm (0..40)");
		CHECK_RANGE(c, finite_in(k->release_pct, 0.0f, 100.0f),
		            "knot release_pct (0..100)");
	}
	CHECK_RANGE(c, finite_in(c->tool_diameter_mm, 10.0f, 300.0f), "tool diameter_mm");
	CHECK_RANGE(c, finite_in(c->tool_contact_cm2, 0.1f, 500.0f), "tool contact_cm2");
	CHECK_RANGE(c, finite_in(c->tool_ref_force_n, 1.0f, 5000.0f), "tool ref_force_n");
	CHECK_RANGE(c, finite_in(c->tool_width_mm, 10.0f, 1000.0f), "tool width_mm");
	CHECK_RANGE(c, finite_in(c->tool_lift_mm, 0.0f, 500.0f), "tool lift_mm");
	CHECK_RANGE(c, finite_in(c->tool_mass_kg, 0.0f, 20.0f), "tool mass_kg");
	if (c->tool == KM_SIM_TOOL_ROLLER_DEVICE && c->geometry != KM_GEOMETRY_CYLINDER) {
		km__log(&c->log, KM_LOG_ERROR, KM_SIM_MODULE,
		        "config: the roller device needs geometry = cylinder");
		return KM_ERR_RANGE;
	}
	if (c->geometry == KM_GEOMETRY_CYLINDER &&
	    (c->body || (c->tool != KM_SIM_TOOL_ROLLER_DEVICE && c->tool != KM_SIM_TOOL_NONE))) {
		km__log(&c->log, KM_LOG_ERROR, KM_SIM_MODULE,
		        "config: on a cylinder only the roller device (no lying body) is modelled");
		return KM_ERR_RANGE;
	}
	CHECK_RANGE(c, c->step_count <= KM_SIM_MAX_STEPS, "motion step count (max 64)");
	for (size_t i = 0; i < c->step_count; i++) {
		const struct km_sim_step *s = &c->steps[i];
		if ((unsigned)s->move > KM_SIM_MOVE_LIFT)
			return KM_ERR_INVALID_ARG;
		CHECK_RANGE(c, finite_in(s->duration_s, 0.001f, 1e6f), "motion step duration");
		/* NaN = keep the previous value */
		CHECK_RANGE(c, isnan(s->x_mm) || finite_in(s->x_mm, -1e5f, 1e5f), "motion step x");
		CHECK_RANGE(c, isnan(s->y_mm) || finite_in(s->y_mm, -1e5f, 1e5f), "motion step y");
		CHECK_RANGE(c, isnan(s->load) || finite_in(s->load, 0.0f, 1.0f),
		            "motion step load (0..1)");
	}
	CHECK_RANGE(c, isnan(c->start_x_mm) || finite_in(c->start_x_mm, -1e5f, 1e5f), "start x");
	CHECK_RANGE(c, isnan(c->start_y_mm) || finite_in(c->start_y_mm, -1e5f, 1e5f), "start y");
	CHECK_RANGE(c, c->tensing_count <= KM_SIM_MAX_TENSING, "tensing count (max 8)");
	for (size_t i = 0; i < c->tensing_count; i++) {
		CHECK_RANGE(c, finite_in(c->tensing[i].start_s, 0.0f, 1e6f), "tensing start");
		CHECK_RANGE(c, finite_in(c->tensing[i].duration_s, 0.1f, 1e6f), "tensing duration");
	}
	CHECK_RANGE(c, finite_in(c->tremor_hz, 1.0f, 30.0f), "tensing tremor_hz (1..30)");
	CHECK_RANGE(c, finite_in(c->tremor_amp, 0.0f, 0.5f), "tensing tremor_amp (0..0.5)");
	CHECK_RANGE(c, finite_in(c->burst_hz, 0.5f, 10.0f), "tensing burst_hz (0.5..10)");
	CHECK_RANGE(c, finite_in(c->burst_amp, 0.0f, 0.5f), "tensing burst_amp (0..0.5)");
	CHECK_RANGE(c, finite_in(c->withdrawal_drop, 0.0f, 0.95f), "tensing withdrawal_drop");
	CHECK_RANGE(c, finite_in(c->withdrawal_s, 0.05f, 5.0f), "tensing withdrawal_s");
	CHECK_RANGE(c, finite_in(c->tensing_breath, 0.0f, 1.0f), "tensing breath (0..1)");
	CHECK_RANGE(c, c->adc_bits >= 8 && c->adc_bits <= 16, "sensor adc_bits (8..16)");
	const float full = (float)((1u << c->adc_bits) - 1u);
	CHECK_RANGE(c, finite_in(c->offset_counts, 0.0f, full), "sensor offset_counts");
	CHECK_RANGE(c, finite_in(c->offset_sd, 0.0f, full / 4), "sensor offset_sd");
	CHECK_RANGE(c, finite_in(c->scale, 0.001f, 1e5f), "sensor scale");
	CHECK_RANGE(c, finite_in(c->scale_sd, 0.0f, 0.5f), "sensor scale_sd (0..0.5)");
	CHECK_RANGE(c, finite_in(c->exponent, 0.2f, 2.0f), "sensor exponent (0.2..2)");
	CHECK_RANGE(c, finite_in(c->exponent_sd, 0.0f, 0.2f), "sensor exponent_sd (0..0.2)");
	CHECK_RANGE(c, finite_in(c->noise_counts, 0.0f, full / 8), "sensor noise_counts");
	CHECK_RANGE(c, finite_in(c->drift_counts_per_min, -1000.0f, 1000.0f), "sensor drift");
	CHECK_RANGE(c, finite_in(c->creep_pct, 0.0f, 100.0f), "sensor creep_pct (0..100)");
	CHECK_RANGE(c, finite_in(c->creep_ref_s, 1.0f, 1e5f), "sensor creep_ref_s");
	CHECK_RANGE(c, finite_in(c->creep_tau_s, 0.01f, 1e4f), "sensor creep_tau_s");
	CHECK_RANGE(c, finite_in(c->hysteresis_pct, 0.0f, 50.0f), "sensor hysteresis_pct");
	CHECK_RANGE(c, finite_in(c->hysteresis_tau_s, 0.01f, 1e4f), "sensor hysteresis_tau_s");
	CHECK_RANGE(c, finite_in(c->crosstalk_pct, 0.0f, 50.0f), "sensor crosstalk_pct");
	size_t n = (size_t)c->rows * c->cols;
	CHECK_RANGE(c, (size_t)c->dead_cells + c->stuck_cells <= n / 2, "faults: too many cells");
	CHECK_RANGE(c, c->stuck_value <= full, "faults stuck_value (ADC range)");
	CHECK_RANGE(c, c->dead_row_count <= KM_SIM_MAX_DEAD_LINES, "faults dead_row count");
	CHECK_RANGE(c, c->dead_col_count <= KM_SIM_MAX_DEAD_LINES, "faults dead_col count");
	for (size_t i = 0; i < c->dead_row_count; i++)
		CHECK_RANGE(c, c->dead_rows[i] < c->rows, "faults dead_row");
	for (size_t i = 0; i < c->dead_col_count; i++)
		CHECK_RANGE(c, c->dead_cols[i] < c->cols, "faults dead_col");
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Body model                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Supine contact regions in body coordinates: u from the top of the head
 * towards the feet, v lateral (+ = the subject's left, which lies at larger x
 * seen from above with the head at row 0), both as fractions of height.
 * Loads are segment masses (Winter 2009): head+neck 8.1 %, thorax 21.6 %,
 * abdomen 13.9 %, pelvis 14.2 %, upper arm 2.8 %, forearm 1.6 %, hand 0.6 %,
 * thigh 10 %, leg 4.65 %, foot 1.45 %. Lying supine, the abdomen's weight goes
 * mostly to the thorax (40 %) and pelvis (50 %) contacts because of the lumbar
 * lordosis (est.). Positions: shoulder at 0.182 H from the vertex, greater
 * trochanter 0.47 H, knee 0.715 H, ankle 0.961 H (Winter's proportions).
 * Each ellipse carries (1 - rho^2)^1.5 (a soft elastic-foundation footprint,
 * integral pi a b / 2.5); each bony prominence a Gaussian. Breathing weight:
 * how much of the contact's load rises and falls with the chest (est.).
 */
struct body_region {
	float u, v;     /* centre, fraction of height */
	float au, av;   /* ellipse semi-axes (fraction of height); 0 for a bump */
	float sigma_mm; /* bump SD (0 for an ellipse) */
	float frac;     /* fraction of body weight */
	float breath;   /* 0..1 */
	bool bony;      /* scaled by bony_gain */
};

#define THORAX_W (0.216f + 0.4f * 0.139f)
#define PELVIS_W (0.142f + 0.5f * 0.139f)
static const struct body_region body_regions[] = {
    /* head: the occiput carries most of it (docs/signal-model.md: occiput peak) */
    {0.075f, 0.0f, 0.030f, 0.028f, 0.0f, 0.081f * 0.45f, 0.0f, false},
    {0.080f, 0.0f, 0.0f, 0.0f, 18.0f, 0.081f * 0.55f, 0.0f, true},
    /* upper back, scapulae, thoracic spinous ridge */
    {0.290f, 0.0f, 0.100f, 0.100f, 0.0f, THORAX_W * 0.70f, 1.0f, false},
    {0.255f, -0.050f, 0.0f, 0.0f, 30.0f, THORAX_W * 0.12f, 1.0f, true},
    {0.255f, 0.050f, 0.0f, 0.0f, 30.0f, THORAX_W * 0.12f, 1.0f, true},
    {0.300f, 0.0f, 0.090f, 0.006f, 0.0f, THORAX_W * 0.06f, 1.0f, true},
    /* lumbar (lordosis: light contact) */
    {0.435f, 0.0f, 0.040f, 0.070f, 0.0f, 0.1f * 0.139f, 0.5f, false},
    /* buttocks and sacrum (docs/signal-model.md: sacrum > 30 mmHg, up to ~104 kPa rigid) */
    {0.510f, 0.0f, 0.065f, 0.095f, 0.0f, PELVIS_W * 0.70f, 0.0f, false},
    {0.485f, 0.0f, 0.0f, 0.0f, 22.0f, PELVIS_W * 0.30f, 0.0f, true},
    /* arms beside the trunk: upper arm, forearm + hand */
    {0.285f, -0.165f, 0.080f, 0.025f, 0.0f, 0.028f, 0.0f, false},
    {0.285f, 0.165f, 0.080f, 0.025f, 0.0f, 0.028f, 0.0f, false},
    {0.445f, -0.190f, 0.080f, 0.022f, 0.0f, 0.022f, 0.0f, false},
    {0.445f, 0.190f, 0.080f, 0.022f, 0.0f, 0.022f, 0.0f, false},
    /* thighs */
    {0.620f, -0.055f, 0.090f, 0.040f, 0.0f, 0.100f, 0.0f, false},
    {0.620f, 0.055f, 0.090f, 0.040f, 0.0f, 0.100f, 0.0f, false},
    /* calves */
    {0.790f, -0.060f, 0.070f, 0.028f, 0.0f, 0.0465f * 0.8f, 0.0f, false},
    {0.790f, 0.060f, 0.070f, 0.028f, 0.0f, 0.0465f * 0.8f, 0.0f, false},
    {0.790f, -0.060f, 0.0f, 0.0f, 30.0f, 0.0465f * 0.2f, 0.0f, false},
    {0.790f, 0.060f, 0.0f, 0.0f, 30.0f, 0.0465f * 0.2f, 0.0f, false},
    /* heels */
    {0.985f, -0.065f, 0.0f, 0.0f, 15.0f, 0.0145f, 0.0f, true},
    {0.985f, 0.065f, 0.0f, 0.0f, 15.0f, 0.0145f, 0.0f, true},
};

/* Landmark positions (u, v as fractions of height). */
static const float landmark_uv[KM_SIM_LM_COUNT][2] = {
    [KM_SIM_LM_OCCIPUT] = {0.080f, 0.0f},          [KM_SIM_LM_SCAPULA_LEFT] = {0.255f, 0.050f},
    [KM_SIM_LM_SCAPULA_RIGHT] = {0.255f, -0.050f}, [KM_SIM_LM_C7] = {0.175f, 0.0f},
    [KM_SIM_LM_SACRUM] = {0.485f, 0.0f},           [KM_SIM_LM_CALF_LEFT] = {0.790f, 0.060f},
    [KM_SIM_LM_CALF_RIGHT] = {0.790f, -0.060f},    [KM_SIM_LM_HEEL_LEFT] = {0.985f, 0.065f},
    [KM_SIM_LM_HEEL_RIGHT] = {0.985f, -0.065f},
};

/* Shape of a region at (x, y) in mm from its centre, normalised so that its
 * plane integral is 1 (per mm^2). */
static double region_density(const struct body_region *g, double H, double dx, double dy)
{
	if (g->sigma_mm > 0.0f) {
		double s2 = (double)g->sigma_mm * g->sigma_mm;
		return exp(-(dx * dx + dy * dy) / (2.0 * s2)) / (TWO_PI * s2);
	}
	double a = g->au * H, b = g->av * H;
	double rho2 = (dy * dy) / (a * a) + (dx * dx) / (b * b);
	if (rho2 >= 1.0)
		return 0.0;
	double w = 1.0 - rho2;
	return w * sqrt(w) / (KM_PI * a * b / 2.5);
}

static double region_extent_mm(const struct body_region *g, double H, bool along_u)
{
	if (g->sigma_mm > 0.0f)
		return 4.0 * g->sigma_mm;
	return (along_u ? g->au : g->av) * H;
}

static double region_weight(const struct km_sim_config *c, const struct body_region *g)
{
	return g->bony ? g->frac * c->bony_gain : g->frac;
}

/* Body pressure (kPa) and breathing part, cell-averaged over 3x3 points;
 * the fraction of body weight over the mat from a fine independent grid. */
static void build_body(km_sim *s)
{
	const struct km_sim_config *c = &s->cfg;
	const double H = c->body_height_mm, W = s->body_weight_n;
	/* kPa = N/mm^2 * 1000 */
	const double kpa_per_n_mm2 = 1000.0;
	double total_w = 0;
	for (size_t g = 0; g < KM_ARRAY_SIZE(body_regions); g++)
		total_w += region_weight(c, &body_regions[g]);
	double frac_on_mat = 0;
	for (size_t g = 0; g < KM_ARRAY_SIZE(body_regions); g++) {
		const struct body_region *rg = &body_regions[g];
		/* renormalise so bony_gain moves load between regions, not adds it */
		double load_n = W * region_weight(c, rg) / total_w;
		double cx = c->body_midline_x_mm + rg->v * H;
		double cy = c->body_vertex_y_mm + rg->u * H;
		double ex = region_extent_mm(rg, H, false), ey = region_extent_mm(rg, H, true);
		/* cells overlapped by the region's box */
		int c0 = (int)floor((cx - ex) / c->pitch_mm) - 1;
		int c1 = (int)ceil((cx + ex) / c->pitch_mm) + 1;
		int r0 = (int)floor((cy - ey) / c->pitch_mm) - 1;
		int r1 = (int)ceil((cy + ey) / c->pitch_mm) + 1;
		c0 = KM_MAX(c0, 0);
		r0 = KM_MAX(r0, 0);
		c1 = KM_MIN(c1, (int)c->cols - 1);
		r1 = KM_MIN(r1, (int)c->rows - 1);
		for (int r = r0; r <= r1; r++) {
			for (int col = c0; col <= c1; col++) {
				double acc = 0;
				for (int sy = 0; sy < 3; sy++)
					for (int sx = 0; sx < 3; sx++) {
						double x = (col + (sx + 0.5) / 3.0) * c->pitch_mm;
						double y = (r + (sy + 0.5) / 3.0) * c->pitch_mm;
						acc += region_density(rg, H, x - cx, y - cy);
					}
				double p = load_n * (acc / 9.0) * kpa_per_n_mm2;
				size_t i = (size_t)r * c->cols + (size_t)col;
				s->body[i] += (float)p;
				s->breath[i] += (float)(p * rg->breath);
			}
		}
		/* independent estimate of the share over the mat: 2 mm grid over
		 * the region's box, clipped to the mat */
		double part = 0;
		const double step = 2.0;
		for (double y = cy - ey; y <= cy + ey; y += step) {
			if (y < 0 || y >= s->height_mm)
				continue;
			for (double x = cx - ex; x <= cx + ex; x += step) {
				if (x < 0 || x >= s->width_mm)
					continue;
				part += region_density(rg, H, x + step / 2 - cx, y + step / 2 - cy);
			}
		}
		frac_on_mat += KM_MIN(part * step * step, 1.0) * region_weight(c, rg) / total_w;
	}
	s->body_fraction = (float)frac_on_mat;
}

/* ------------------------------------------------------------------------ */
/* Knots                                                                     */
/* ------------------------------------------------------------------------ */

/* Wrapped x distance on a cylinder; plain difference on a flat mat. */
static inline float dx_wrap(const km_sim *s, float dx)
{
	if (s->cylinder) {
		float w = s->width_mm;
		dx = fmodf(dx, w);
		if (dx > w / 2)
			dx -= w;
		else if (dx < -w / 2)
			dx += w;
	}
	return dx;
}

static inline float wrap_x(const km_sim *s, float x)
{
	if (!s->cylinder)
		return x;
	float w = s->width_mm;
	x = fmodf(x, w);
	return x < 0 ? x + w : x;
}

/*
 * A knot of radius R at depth z: the region is taken as a Gaussian of SD
 * R / 2; at the surface its footprint spreads to SD sqrt((R/2)^2 + (z/2)^2)
 * and its amplitude falls so that the integral is kept (a buried inclusion
 * seen through soft tissue, est.). Stiffness excess 15-40 % (docs/signal-model.md;
 * MyotonPRO +19 %, Roch 2020).
 */
static int build_knots(km_sim *s)
{
	const struct km_sim_config *c = &s->cfg;
	for (size_t k = 0; k < c->knot_count; k++) {
		const struct km_sim_knot *kd = &c->knots[k];
		struct km__sim_knot_state *ks = &s->knots[k];
		float s0 = kd->radius_mm / 2, sz = kd->depth_mm / 2;
		ks->sigma_mm = sqrtf(s0 * s0 + sz * sz);
		ks->amp = kd->stiffness_pct / 100.0f * (s0 * s0) / (ks->sigma_mm * ks->sigma_mm);
		ks->strength = 1.0f;
		float ext = 3.0f * ks->sigma_mm;
		int c0 = (int)floorf((kd->x_mm - ext) / c->pitch_mm);
		int c1 = (int)ceilf((kd->x_mm + ext) / c->pitch_mm);
		int r0 = (int)floorf((kd->y_mm - ext) / c->pitch_mm);
		int r1 = (int)ceilf((kd->y_mm + ext) / c->pitch_mm);
		r0 = KM_MAX(r0, 0);
		r1 = KM_MIN(r1, (int)c->rows - 1);
		if (!s->cylinder) {
			c0 = KM_MAX(c0, 0);
			c1 = KM_MIN(c1, (int)c->cols - 1);
		} else if (c1 - c0 + 1 > (int)c->cols) {
			c1 = c0 + (int)c->cols - 1;
		}
		if (r1 < r0 || c1 < c0) { /* off the mat */
			ks->nr = ks->nc = 0;
			continue;
		}
		ks->r0 = r0;
		ks->c0 = c0;
		ks->nr = r1 - r0 + 1;
		ks->nc = c1 - c0 + 1;
		ks->w = km__calloc((size_t)ks->nr * (size_t)ks->nc, sizeof(float));
		if (!ks->w)
			return KM_ERR_NO_MEMORY;
		float inv2s2 = 1.0f / (2.0f * ks->sigma_mm * ks->sigma_mm);
		for (int r = 0; r < ks->nr; r++)
			for (int cc = 0; cc < ks->nc; cc++) {
				float x = ((float)(c0 + cc) + 0.5f) * c->pitch_mm;
				float y = ((float)(r0 + r) + 0.5f) * c->pitch_mm;
				float dx = dx_wrap(s, x - kd->x_mm), dy = y - kd->y_mm;
				ks->w[r * ks->nc + cc] =
				    ks->amp * expf(-(dx * dx + dy * dy) * inv2s2);
			}
	}
	return KM_OK;
}

/* Current excess (fraction) at a point, all knots. */
static float knot_excess_at(const km_sim *s, float x, float y)
{
	float e = 0;
	for (size_t k = 0; k < s->cfg.knot_count; k++) {
		const struct km__sim_knot_state *ks = &s->knots[k];
		float dx = dx_wrap(s, x - s->cfg.knots[k].x_mm), dy = y - s->cfg.knots[k].y_mm;
		e += ks->amp * ks->strength *
		     expf(-(dx * dx + dy * dy) / (2.0f * ks->sigma_mm * ks->sigma_mm));
	}
	return e;
}

/* Excess of knot k at cell (r, col); 0 outside its box. */
static inline float knot_w_at(const km_sim *s, const struct km__sim_knot_state *ks, int r, int col)
{
	if (ks->nr == 0 || r < ks->r0 || r >= ks->r0 + ks->nr)
		return 0.0f;
	int dc = col - ks->c0;
	if (s->cylinder)
		dc = ((dc % (int)s->cfg.cols) + (int)s->cfg.cols) % (int)s->cfg.cols;
	if (dc < 0 || dc >= ks->nc)
		return 0.0f;
	return ks->w[(r - ks->r0) * ks->nc + dc];
}

/* ------------------------------------------------------------------------ */
/* Sensor                                                                    */
/* ------------------------------------------------------------------------ */

static void build_sensor(km_sim *s, struct km__sim_rng *rng)
{
	const struct km_sim_config *c = &s->cfg;
	for (size_t i = 0; i < s->n; i++) {
		s->off[i] = (float)(c->offset_counts + c->offset_sd * rng_normal(rng));
		if (s->off[i] < 0)
			s->off[i] = 0;
		double g = 1.0 + c->scale_sd * rng_normal(rng);
		s->scale[i] = (float)(c->scale * (g < 0.2 ? 0.2 : g));
		double e = c->exponent + c->exponent_sd * rng_normal(rng);
		s->expo[i] = (float)KM_CLAMP(e, 0.1, 3.0);
		/* per-cell drift spread +-50 % around the mean (est.), counts/s */
		s->drift[i] =
		    (float)(c->drift_counts_per_min / 60.0 * (1.0 + 0.5 * rng_normal(rng)));
	}
	/* faults: random distinct cells, then broken traces */
	uint32_t want[2] = {c->dead_cells, c->stuck_cells};
	for (int kind = 0; kind < 2; kind++) {
		for (uint32_t k = 0; k < want[kind]; k++) {
			for (int tries = 0; tries < 1000; tries++) {
				size_t i = (size_t)(rng_uniform(rng) * (double)s->n);
				if (i < s->n && s->fault[i] == 0) {
					s->fault[i] = (uint8_t)(kind + 1);
					break;
				}
			}
		}
	}
	for (size_t k = 0; k < c->dead_row_count; k++)
		for (size_t col = 0; col < c->cols; col++)
			s->fault[(size_t)c->dead_rows[k] * c->cols + col] = 1;
	for (size_t k = 0; k < c->dead_col_count; k++)
		for (size_t r = 0; r < c->rows; r++)
			s->fault[r * c->cols + c->dead_cols[k]] = 1;
	s->dead_count = s->stuck_count = 0;
	for (size_t i = 0; i < s->n; i++) {
		s->dead_count += s->fault[i] == 1;
		s->stuck_count += s->fault[i] == 2;
	}
}

/* ------------------------------------------------------------------------ */
/* Motion                                                                    */
/* ------------------------------------------------------------------------ */

static void build_motion(km_sim *s)
{
	const struct km_sim_config *c = &s->cfg;
	float x = c->start_x_mm, y = c->start_y_mm;
	if (isnan(x) || isnan(y)) {
		if (c->knot_count > 0) {
			x = c->knots[0].x_mm;
			y = c->knots[0].y_mm;
		} else {
			x = s->width_mm / 2;
			y = s->height_mm / 2;
		}
	}
	float l = 0.0f;
	double t = 0;
	for (size_t i = 0; i < c->step_count; i++) {
		const struct km_sim_step *st = &c->steps[i];
		s->step_t0[i] = t;
		s->step_x0[i] = x;
		s->step_y0[i] = y;
		s->step_l0[i] = l;
		float tx = isnan(st->x_mm) ? x : st->x_mm;
		float ty = isnan(st->y_mm) ? y : st->y_mm;
		float tl = isnan(st->load) ? l : st->load;
		if (st->move == KM_SIM_MOVE_IDLE || st->move == KM_SIM_MOVE_LIFT)
			tl = isnan(st->load) && l > 0 ? l : tl; /* the load being lifted */
		s->step_tx[i] = tx;
		s->step_ty[i] = ty;
		s->step_tl[i] = tl;
		x = tx;
		y = ty;
		l = (st->move == KM_SIM_MOVE_IDLE || st->move == KM_SIM_MOVE_LIFT) ? 0.0f : tl;
		t += st->duration_s;
	}
	s->step_t0[c->step_count] = t;
	s->step_x0[c->step_count] = x;
	s->step_y0[c->step_count] = y;
	s->step_l0[c->step_count] = l;
	s->motion_len = t;
}

struct motion_state {
	float x, y, load;
	enum km_sim_phase phase;
	uint32_t index;
};

static float smooth01(float u)
{
	u = KM_CLAMP(u, 0.0f, 1.0f);
	return u * u * (3 - 2 * u);
}

static void motion_eval(const km_sim *s, double t, struct motion_state *m)
{
	const struct km_sim_config *c = &s->cfg;
	size_t ns = c->step_count;
	if (ns == 0) {
		/* no timeline: hold at the start position (tool at 33 % body
		 * weight, the mean of foam rolling, Baumgart 2019; body lying) */
		m->x = s->step_x0[0];
		m->y = s->step_y0[0];
		m->load = c->tool != KM_SIM_TOOL_NONE ? 0.33f : 1.0f;
		m->phase = KM_SIM_PHASE_HOLD;
		m->index = 0;
		return;
	}
	if (t >= s->motion_len) {
		if (c->motion_loop && s->motion_len > 0) {
			t = fmod(t, s->motion_len);
		} else {
			m->x = s->step_x0[ns];
			m->y = s->step_y0[ns];
			m->load = s->step_l0[ns];
			enum km_sim_move last = c->steps[ns - 1].move;
			m->phase = (m->load > 0 && last == KM_SIM_MOVE_HOLD)
			               ? KM_SIM_PHASE_HOLD
			               : (m->load > 0 ? KM_SIM_PHASE_SETTLE : KM_SIM_PHASE_IDLE);
			if (last == KM_SIM_MOVE_ROLL && m->load > 0)
				m->phase = KM_SIM_PHASE_APPROACH;
			m->index = (uint32_t)ns;
			return;
		}
	}
	size_t i = 0;
	while (i + 1 < ns && t >= s->step_t0[i + 1])
		i++;
	const struct km_sim_step *st = &c->steps[i];
	float tau = (float)(t - s->step_t0[i]);
	float u = tau / st->duration_s;
	float x0 = s->step_x0[i], y0 = s->step_y0[i], l0 = s->step_l0[i];
	float tx = s->step_tx[i], ty = s->step_ty[i], tl = s->step_tl[i];
	m->index = (uint32_t)i;
	switch (st->move) {
	case KM_SIM_MOVE_IDLE:
		m->x = tx;
		m->y = ty;
		m->load = 0;
		m->phase = KM_SIM_PHASE_IDLE;
		break;
	case KM_SIM_MOVE_ROLL: {
		/* constant speed along the muscle; load eases in over 0.5 s */
		float ramp = smooth01(tau / KM_MIN(0.5f, st->duration_s));
		m->x = x0 + (tx - x0) * u;
		m->y = y0 + (ty - y0) * u;
		m->load = l0 + (tl - l0) * ramp;
		m->phase = KM_SIM_PHASE_APPROACH;
		break;
	}
	case KM_SIM_MOVE_SETTLE: {
		float e = (1 - expf(-5 * u)) / (1 - expf(-5.0f));
		float el = (1 - expf(-4 * u)) / (1 - expf(-4.0f));
		m->x = x0 + (tx - x0) * e;
		m->y = y0 + (ty - y0) * e;
		m->load = l0 + (tl - l0) * el;
		m->phase = KM_SIM_PHASE_SETTLE;
		break;
	}
	case KM_SIM_MOVE_HOLD: {
		/* postural sway, ~1 mm at 0.1 Hz (est.): drift well below the
		 * hold timer's 1.5 cm tolerance */
		float sway = 0.8f * (float)sin(TWO_PI * 0.1 * t);
		m->x = tx + sway;
		m->y = ty + 0.5f * sway;
		m->load = tl;
		m->phase = KM_SIM_PHASE_HOLD;
		break;
	}
	case KM_SIM_MOVE_LIFT:
		m->x = tx;
		m->y = ty;
		m->load = l0 * (1 - smooth01(u));
		m->phase = KM_SIM_PHASE_LIFT;
		break;
	}
}

/* Tensing: multiplicative load factor, flags. */
static float tensing_factor(const km_sim *s, double t, bool *tensing, bool *withdrawal)
{
	const struct km_sim_config *c = &s->cfg;
	float f = 1.0f;
	*tensing = *withdrawal = false;
	for (size_t k = 0; k < c->tensing_count; k++) {
		const struct km_sim_tensing *tz = &c->tensing[k];
		double a = tz->start_s, b = tz->start_s + tz->duration_s;
		const double recover_s = 1.5; /* (est.) */
		if (t >= a && t < b) {
			*tensing = true;
			float env =
			    smooth01((float)(t - a) / 0.3f) * smooth01((float)(b - t) / 0.3f);
			if (tz->withdrawal)
				env = smooth01((float)(t - a) / 0.3f);
			float tr = (float)(sin(TWO_PI * c->tremor_hz * t + s->tremor_phi[0]) +
			                   0.6 * sin(TWO_PI * c->tremor_hz * 1.13 * t +
			                             s->tremor_phi[1])) /
			           1.6f;
			float bs = (float)sin(TWO_PI * c->burst_hz * t + s->burst_phi);
			bs = bs > 0 ? bs * bs : 0;
			f *= 1 + env * (c->tremor_amp * tr + c->burst_amp * (bs - 0.5f));
			if (tz->withdrawal && t >= b - c->withdrawal_s) {
				float u = (float)(t - (b - c->withdrawal_s)) / c->withdrawal_s;
				f *= 1 - c->withdrawal_drop * smooth01(u);
				*withdrawal = true;
			}
		} else if (tz->withdrawal && t >= b && t < b + recover_s) {
			float u = (float)((t - b) / recover_s);
			f *= 1 - c->withdrawal_drop * (1 - smooth01(u));
			*withdrawal = true;
		}
	}
	return f;
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

static void free_all(km_sim *s)
{
	float **fl[] = {&s->body,      &s->breath, &s->off,   &s->scale, &s->expo,
	                &s->drift,     &s->kpa,    &s->hyst,  &s->creep, &s->sig,
	                &s->noise_buf, &s->rowsum, &s->colsum};
	for (size_t i = 0; i < KM_ARRAY_SIZE(fl); i++) {
		km__free(*fl[i]);
		*fl[i] = NULL;
	}
	km__free(s->counts);
	km__free(s->prev_counts);
	km__free(s->baseline);
	km__free(s->zero_acc);
	km__free(s->fault);
	for (size_t k = 0; k < KM_SIM_MAX_KNOTS; k++) {
		km__free(s->knots[k].w);
		s->knots[k].w = NULL;
	}
}

static void set_landmarks(km_sim *s)
{
	const struct km_sim_config *c = &s->cfg;
	struct km_sim_truth *t = &s->truth;
	t->body = c->body;
	if (!c->body)
		return;
	const float H = c->body_height_mm;
	for (int i = 0; i < KM_SIM_LM_COUNT; i++) {
		struct km_sim_point *p = &t->landmarks[i];
		p->x_mm = c->body_midline_x_mm + landmark_uv[i][1] * H;
		p->y_mm = c->body_vertex_y_mm + landmark_uv[i][0] * H;
		p->on_mat =
		    p->x_mm >= 0 && p->x_mm < s->width_mm && p->y_mm >= 0 && p->y_mm < s->height_mm;
	}
	t->spine_x_mm = c->body_midline_x_mm;
	t->spine_y0_mm = t->landmarks[KM_SIM_LM_C7].y_mm;
	t->spine_y1_mm = t->landmarks[KM_SIM_LM_SACRUM].y_mm;
}

void km_sim_reset(km_sim *s)
{
	if (!s)
		return;
	const size_t n = s->n;
	memset(s->kpa, 0, n * sizeof(float));
	memset(s->counts, 0, n * sizeof(uint16_t));
	memset(s->hyst, 0, n * sizeof(float));
	memset(s->creep, 0, n * sizeof(float));
	memset(s->sig, 0, n * sizeof(float));
	memset(s->baseline, 0, n * sizeof(uint16_t));
	memset(s->zero_acc, 0, n * sizeof(uint32_t));
	s->since_key = 0;
	rng_seed(&s->noise, s->cfg.seed, 2);
	s->t_s = 0;
	s->time_us = 0;
	s->time_us_frac = 0;
	s->sequence = 0;
	s->seq_next = 0;
	s->frames = 0;
	s->have_frame = false;
	s->have_prev = false;
	s->running = s->cfg.start_running;
	s->rate_hz = s->cfg.rate_hz;
	s->zero_left = s->zero_total = 0;
	s->zeroed = s->zeroing_frame = s->saturated = false;
	for (size_t k = 0; k < KM_SIM_MAX_KNOTS; k++) {
		s->knots[k].strength = 1.0f;
		s->knots[k].hold_s = 0;
		s->knots[k].loaded = false;
	}
}

int km_sim_create(const struct km_sim_config *cfg, km_sim **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	int rc = km_sim_config_check(cfg);
	if (rc != KM_OK)
		return rc;
	km_sim *s = km__calloc(1, sizeof *s);
	if (!s)
		return KM_ERR_NO_MEMORY;
	s->cfg = *cfg;
	const struct km_sim_config *c = &s->cfg;
	s->n = (size_t)c->rows * c->cols;
	s->cylinder = c->geometry == KM_GEOMETRY_CYLINDER;
	s->cell_area_mm2 = c->pitch_mm * c->pitch_mm;
	s->width_mm = c->cols * c->pitch_mm;
	s->height_mm = c->rows * c->pitch_mm;
	s->body_weight_n = c->body_mass_kg * G_N_PER_KG;
	float **fl[] = {&s->body, &s->breath, &s->off,   &s->scale, &s->expo,     &s->drift,
	                &s->kpa,  &s->hyst,   &s->creep, &s->sig,   &s->noise_buf};
	bool ok = true;
	for (size_t i = 0; i < KM_ARRAY_SIZE(fl); i++)
		ok = ok && (*fl[i] = km__calloc(s->n, sizeof(float))) != NULL;
	ok = ok && (s->rowsum = km__calloc(c->rows, sizeof(float))) != NULL;
	ok = ok && (s->colsum = km__calloc(c->cols, sizeof(float))) != NULL;
	ok = ok && (s->counts = km__calloc(s->n, sizeof(uint16_t))) != NULL;
	ok = ok && (s->prev_counts = km__calloc(s->n, sizeof(uint16_t))) != NULL;
	ok = ok && (s->baseline = km__calloc(s->n, sizeof(uint16_t))) != NULL;
	ok = ok && (s->zero_acc = km__calloc(s->n, sizeof(uint32_t))) != NULL;
	ok = ok && (s->fault = km__calloc(s->n, 1)) != NULL;
	if (!ok || build_knots(s) != KM_OK) {
		free_all(s);
		km__free(s);
		return KM_ERR_NO_MEMORY;
	}
	struct km__sim_rng rng;
	rng_seed(&rng, c->seed, 1);
	s->breath_phi0 = (float)(rng_uniform(&rng) * TWO_PI);
	s->tremor_phi[0] = (float)(rng_uniform(&rng) * TWO_PI);
	s->tremor_phi[1] = (float)(rng_uniform(&rng) * TWO_PI);
	s->burst_phi = (float)(rng_uniform(&rng) * TWO_PI);
	if (c->body)
		build_body(s);
	build_sensor(s, &rng);
	build_motion(s);
	uint32_t h = km__sim_hash(&c->seed, sizeof c->seed, 2166136261u);
	h = km__sim_hash(&c->offset_counts, sizeof(float) * 5, h); /* offset..exponent_sd */
	h = km__sim_hash(&c->rows, sizeof c->rows, h);
	h = km__sim_hash(&c->cols, sizeof c->cols, h);
	s->calibration_id = h ? h : 1;
	set_landmarks(s);
	km_sim_reset(s);
	km__log(&c->log, KM_LOG_DEBUG, KM_SIM_MODULE,
	        "virtual mat %ux%u @ %.2f mm, %s, body %s (%.0f %% of weight over the mat), "
	        "tool %s, %zu knots, %zu dead, %zu stuck",
	        c->rows, c->cols, (double)c->pitch_mm, s->cylinder ? "cylinder" : "flat",
	        c->body ? "yes" : "no", (double)s->body_fraction * 100, km_sim_tool_name(c->tool),
	        c->knot_count, s->dead_count, s->stuck_count);
	*out = s;
	return KM_OK;
}

void km_sim_destroy(km_sim *s)
{
	if (!s)
		return;
	free_all(s);
	km__free(s);
}

/* ------------------------------------------------------------------------ */
/* Per frame: contacts                                                       */
/* ------------------------------------------------------------------------ */

enum patch_kind { PATCH_DISC, PATCH_STRIP_Y, PATCH_STRIP_X };

/*
 * Adds a contact of total force F (N) centred at (cx, cy):
 *  DISC: Hertz p0 sqrt(1 - r^2/a^2), a = sqrt(area / pi) (ball on the mat);
 *  STRIP_Y: line contact across the mat (axis along x, length len), Hertz
 *    profile of half-width b along y (foam roller rolled along y);
 *  STRIP_X: the same turned (axis along y: the roller device, rolling in x).
 * Cells are averaged over 4x4 points; the force is normalised over the
 * unclipped footprint so the part on the mat carries its share. Knot excess
 * under the contact raises its pressure. Returns the force on the mat and the
 * peak cell pressure.
 */
static float add_patch(km_sim *s, enum patch_kind kind, float cx, float cy, float F, float half_a,
                       float half_len, float *peak)
{
	const struct km_sim_config *c = &s->cfg;
	const float p = c->pitch_mm;
	float ex = kind == PATCH_STRIP_Y ? half_len : half_a;
	float ey = kind == PATCH_STRIP_X ? half_len : half_a;
	int c0 = (int)floorf((cx - ex) / p) - 1, c1 = (int)ceilf((cx + ex) / p) + 1;
	int r0 = (int)floorf((cy - ey) / p) - 1, r1 = (int)ceilf((cy + ey) / p) + 1;
	if (s->cylinder && c1 - c0 + 1 > (int)c->cols)
		c1 = c0 + (int)c->cols - 1;
	/* pass 1: normalisation over the whole footprint; pass 2: write */
	double sum = 0;
	float onmat = 0;
	*peak = 0;
	for (int pass = 0; pass < 2; pass++) {
		const float k = pass == 0 ? 1.0f : (sum > 0 ? (float)(F / sum) : 0.0f);
		for (int r = r0; r <= r1; r++) {
			for (int col = c0; col <= c1; col++) {
				float acc = 0;
				for (int sy = 0; sy < 4; sy++) {
					float y = ((float)r + ((float)sy + 0.5f) / 4) * p - cy;
					for (int sx = 0; sx < 4; sx++) {
						float x =
						    ((float)col + ((float)sx + 0.5f) / 4) * p - cx;
						float q;
						if (kind == PATCH_DISC) {
							q = 1 - (x * x + y * y) / (half_a * half_a);
						} else {
							float along = kind == PATCH_STRIP_Y ? y : x;
							float across =
							    kind == PATCH_STRIP_Y ? x : y;
							float e = across / half_len, e2 = e * e;
							/* rounded ends: 1 - e^8 */
							q = 1 - (along * along) / (half_a * half_a);
							q = q > 0 ? q * (1 - e2 * e2 * e2 * e2) : 0;
						}
						acc += q > 0 ? sqrtf(q) : 0;
					}
				}
				acc *= 1.0f / 16;
				if (pass == 0) {
					sum += acc * s->cell_area_mm2 * 1e-3; /* kPa * mm^2 -> N */
					continue;
				}
				if (acc <= 0 || r < 0 || r >= (int)c->rows)
					continue;
				int cc = col;
				if (s->cylinder)
					cc = ((cc % (int)c->cols) + (int)c->cols) % (int)c->cols;
				else if (cc < 0 || cc >= (int)c->cols)
					continue;
				float e = 0;
				for (size_t kk = 0; kk < c->knot_count; kk++)
					e += s->knots[kk].strength *
					     knot_w_at(s, &s->knots[kk], r, cc);
				float v = acc * k * (1 + e);
				s->kpa[(size_t)r * c->cols + (size_t)cc] += v;
				onmat += v * s->cell_area_mm2 * 1e-3f;
				if (v > *peak)
					*peak = v;
			}
		}
		if (pass == 0 && sum <= 0) {
			/* footprint smaller than the sub-sampling: one cell */
			int r = (int)floorf(cy / p), cc = (int)floorf(cx / p);
			if (s->cylinder)
				cc = ((cc % (int)c->cols) + (int)c->cols) % (int)c->cols;
			if (r >= 0 && r < (int)c->rows && cc >= 0 && cc < (int)c->cols) {
				float v = F / (s->cell_area_mm2 * 1e-3f);
				s->kpa[(size_t)r * c->cols + (size_t)cc] += v;
				*peak = v;
				return F;
			}
			return 0;
		}
	}
	return onmat;
}

/* Body lifted off the mat around a ball: factor r^4 / (r^4 + R^4) (est.). */
static void apply_lift(km_sim *s, float cx, float cy, float R)
{
	const struct km_sim_config *c = &s->cfg;
	if (R <= 0)
		return;
	const float p = c->pitch_mm, ext = 3 * R, R4 = R * R * R * R;
	int c0 = KM_MAX((int)floorf((cx - ext) / p), 0);
	int c1 = KM_MIN((int)ceilf((cx + ext) / p), (int)c->cols - 1);
	int r0 = KM_MAX((int)floorf((cy - ext) / p), 0);
	int r1 = KM_MIN((int)ceilf((cy + ext) / p), (int)c->rows - 1);
	for (int r = r0; r <= r1; r++) {
		float dy = ((float)r + 0.5f) * p - cy;
		float *row = s->kpa + (size_t)r * c->cols;
		for (int col = c0; col <= c1; col++) {
			float dx = ((float)col + 0.5f) * p - cx;
			float d2 = dx * dx + dy * dy, d4 = d2 * d2;
			row[col] *= d4 / (d4 + R4);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Per frame: sensor                                                         */
/* ------------------------------------------------------------------------ */

/* Pass 1 of the sensor, branch-free so that the compiler vectorises it:
 * hysteresis (a peak that decays towards the load, read back in part), log-time
 * creep, then the per-cell power law. */
static void sensor_response(const float *restrict kpa, float *restrict hm, float *restrict cl,
                            float *restrict sig, const float *restrict scale,
                            const float *restrict expo, size_t n, float hd, float thr, float dt,
                            float creep_rec, float hyst, float creep_k, float inv_tau)
{
	for (size_t i = 0; i < n; i++) {
		float p = kpa[i];
		float m = p + (hm[i] - p) * hd;
		m = m > p ? m : p;
		hm[i] = m;
		float L = cl[i];
		float Lup = L + dt, Ldown = L * creep_rec;
		L = p > thr ? Lup : Ldown;
		cl[i] = L;
		float pe = (p + hyst * (m - p)) * (1 + creep_k * fast_log2(1 + L * inv_tau));
		float pc = pe > 1e-4f ? pe : 1e-4f;
		float sg = scale[i] * fast_pow(pc, expo[i]);
		sig[i] = pe > 1e-4f ? sg : 0.0f;
	}
}

static void run_sensor(km_sim *s, float dt)
{
	const struct km_sim_config *c = &s->cfg;
	const size_t rows = c->rows, cols = c->cols, n = s->n;
	const float full = (float)((1u << c->adc_bits) - 1u);
	const float hyst = c->hysteresis_pct / 100.0f;
	const float hd = expf(-dt / c->hysteresis_tau_s);
	const float thr = c->loaded_kpa;
	/* log-time creep: (creep_pct) reached after creep_ref_s of load */
	const float creep_k = c->creep_pct / 100.0f / log2f(1 + c->creep_ref_s / c->creep_tau_s);
	const float inv_tau = 1.0f / c->creep_tau_s;
	const float creep_rec = expf(-dt / 5.0f); /* recovers over ~5 s unloaded (est.) */
	const float xt = c->crosstalk_pct / 100.0f;
	const float tmin = (float)s->t_s;
	sensor_response(s->kpa, s->hyst, s->creep, s->sig, s->scale, s->expo, n, hd, thr, dt,
	                creep_rec, hyst, creep_k, inv_tau);
	const float *sig = s->sig;
	memset(s->colsum, 0, cols * sizeof(float));
	float total = 0;
	for (size_t r = 0; r < rows; r++) {
		const float *row = sig + r * cols;
		float rs = 0;
		for (size_t col = 0; col < cols; col++) {
			rs += row[col];
			s->colsum[col] += row[col];
		}
		s->rowsum[r] = rs;
		total += rs;
	}
	/* noise first (a serial generator), then pass 2 vectorises */
	const float noise = c->noise_counts;
	float *restrict nz = s->noise_buf;
	if (noise > 0)
		for (size_t i = 0; i < n; i++)
			nz[i] = noise * rng_fast_normal(&s->noise);
	else
		memset(nz, 0, n * sizeof(float));
	const float ghost = total > 0 ? xt / total : 0;
	const uint16_t stuck = c->stuck_value;
	uint16_t *restrict counts = s->counts;
	const uint8_t *restrict fault = s->fault;
	const float *restrict off = s->off, *restrict drift = s->drift,
	                      *restrict colsum = s->colsum;
	int sat = 0;
	for (size_t r = 0; r < rows; r++) {
		const float gr = ghost * s->rowsum[r];
		const size_t base = r * cols;
		for (size_t col = 0; col < cols; col++) {
			size_t i = base + col;
			float v = off[i] + drift[i] * tmin + sig[i] + gr * colsum[col] + nz[i];
			v = v < 0 ? 0 : (v > full ? full : v);
			uint16_t q = (uint16_t)(v + 0.5f);
			q = fault[i] == 1 ? 0 : (fault[i] == 2 ? stuck : q);
			sat |= q >= (uint16_t)full;
			counts[i] = q;
		}
	}
	s->saturated = sat != 0;
	/* the firmware's tare (hardware/firmware apply_zero): average N frames of
	 * counts, rounded; the frame that completes it is already zeroed */
	s->zeroing_frame = false;
	if (s->zero_left > 0) {
		for (size_t i = 0; i < s->n; i++)
			s->zero_acc[i] += s->counts[i];
		if (--s->zero_left == 0) {
			uint32_t z = s->zero_total;
			for (size_t i = 0; i < s->n; i++)
				s->baseline[i] = (uint16_t)((s->zero_acc[i] + z / 2u) / z);
			s->zeroed = true;
		} else {
			s->zeroing_frame = true;
		}
	}
	if (s->zeroed)
		for (size_t i = 0; i < s->n; i++)
			s->counts[i] = s->counts[i] > s->baseline[i]
			                   ? (uint16_t)(s->counts[i] - s->baseline[i])
			                   : 0;
}

/* ------------------------------------------------------------------------ */
/* Step                                                                      */
/* ------------------------------------------------------------------------ */

static void fill_output(const km_sim *s, struct km_sim_output *out)
{
	out->rows = s->cfg.rows;
	out->cols = s->cfg.cols;
	out->pitch_mm = s->cfg.pitch_mm;
	out->geometry = s->cfg.geometry;
	out->sequence = s->sequence;
	out->time_us = s->time_us;
	out->kpa = s->kpa;
	out->counts = s->counts;
	out->truth = &s->truth;
}

int km_sim_step(km_sim *s, struct km_sim_output *out)
{
	if (!s || !out)
		return KM_ERR_INVALID_ARG;
	if (!s->running)
		return KM_ERR_STATE;
	const struct km_sim_config *c = &s->cfg;
	const float dt = 1.0f / s->rate_hz;
	if (s->frames > 0) {
		s->t_s += dt;
		s->time_us_frac += 1e6 / s->rate_hz;
		uint64_t whole = (uint64_t)s->time_us_frac;
		s->time_us += whole;
		s->time_us_frac -= (double)whole;
	}
	s->sequence = s->seq_next++;
	const double t = s->t_s;
	struct km_sim_truth *tr = &s->truth;

	struct motion_state m = {0, 0, 0, KM_SIM_PHASE_IDLE, 0};
	motion_eval(s, t, &m);
	bool tensing, withdrawal;
	float tf = tensing_factor(s, t, &tensing, &withdrawal);
	double bphase = fmod(TWO_PI * c->breath_hz * t + s->breath_phi0, TWO_PI);
	float b = (float)sin(bphase);
	float bd = c->breath_depth * (tensing ? c->tensing_breath : 1.0f);
	const bool has_tool = c->tool != KM_SIM_TOOL_NONE;
	const float W = s->body_weight_n;
	const float mx = wrap_x(s, m.x);

	/* body: with a tool the load it carries leaves the body's contacts */
	float body_force = 0;
	if (c->body) {
		float gl = has_tool ? KM_CLAMP(1 - m.load, 0.0f, 1.0f) : m.load * tf;
		float gb = gl * bd * b;
		for (size_t i = 0; i < s->n; i++)
			s->kpa[i] = s->body[i] * gl + s->breath[i] * gb;
		if (has_tool && m.load > 0.005f &&
		    (c->tool == KM_SIM_TOOL_TENNIS_BALL || c->tool == KM_SIM_TOOL_LACROSSE_BALL))
			apply_lift(s, mx, m.y, c->tool_lift_mm);
		for (size_t k = 0; k < c->knot_count; k++) {
			const struct km__sim_knot_state *ks = &s->knots[k];
			for (int r = 0; r < ks->nr; r++) {
				float *row = s->kpa + (size_t)(ks->r0 + r) * c->cols;
				for (int cc = 0; cc < ks->nc; cc++) {
					int col = ks->c0 + cc;
					row[col] *= 1 + ks->strength * ks->w[r * ks->nc + cc];
				}
			}
		}
		float sum = 0;
		for (size_t i = 0; i < s->n; i++)
			sum += s->kpa[i];
		body_force = sum * s->cell_area_mm2 * 1e-3f;
	} else {
		memset(s->kpa, 0, s->n * sizeof(float));
	}

	/* tool */
	tr->tool_contact = false;
	tr->tool_force_n = tr->tool_area_cm2 = tr->tool_peak_kpa = 0;
	if (has_tool && m.load > 0.005f) {
		/* a stiff spot under the tool moves more force per breath (est.):
		 * what the stiffness index (H1 of spot vs regional load) reads */
		float ex = knot_excess_at(s, mx, m.y);
		float F = m.load * W * (1 + bd * (1 + ex) * b) * tf;
		float peak = 0, peak2 = 0, area_mm2, onmat;
		float Fr = F / c->tool_ref_force_n, A_ref = c->tool_contact_cm2 * 100;
		switch (c->tool) {
		case KM_SIM_TOOL_TENNIS_BALL:
		case KM_SIM_TOOL_LACROSSE_BALL:
			/* Hertz: contact radius ~ F^(1/3), area ~ F^(2/3) */
			area_mm2 = A_ref * powf(Fr, 2.0f / 3.0f);
			onmat = add_patch(s, PATCH_DISC, mx, m.y, F, sqrtf(area_mm2 / KM_PI_F), 0,
			                  &peak);
			break;
		case KM_SIM_TOOL_FOAM_ROLLER:
			/* line contact: half-width ~ sqrt(F), area ~ sqrt(F) */
			area_mm2 = A_ref * sqrtf(Fr);
			onmat = add_patch(s, PATCH_STRIP_Y, mx, m.y, F,
			                  area_mm2 / (2 * c->tool_width_mm), c->tool_width_mm / 2,
			                  &peak);
			break;
		default: { /* roller device: thigh on top, floor underneath */
			area_mm2 = A_ref * sqrtf(Fr);
			onmat = add_patch(s, PATCH_STRIP_X, mx, m.y, F,
			                  area_mm2 / (2 * c->tool_width_mm), c->tool_width_mm / 2,
			                  &peak);
			/* the floor line, half a turn away, along the whole roller;
			 * a narrow contact on the hard floor (est. 8 mm half-width) */
			float Ff = F + c->tool_mass_kg * G_N_PER_KG;
			(void)add_patch(s, PATCH_STRIP_X, wrap_x(s, mx + s->width_mm / 2),
			                s->height_mm / 2, Ff, 8.0f, s->height_mm / 2 + c->pitch_mm,
			                &peak2);
			break;
		}
		}
		tr->tool_contact = true;
		tr->tool_force_n = onmat;
		tr->tool_area_cm2 = area_mm2 / 100;
		tr->tool_peak_kpa = peak;
	}

	/* knots: loaded, hold time, release while held */
	for (size_t k = 0; k < c->knot_count; k++) {
		struct km__sim_knot_state *ks = &s->knots[k];
		const struct km_sim_knot *kd = &c->knots[k];
		bool loaded = false;
		if (tr->tool_contact) {
			/* contact half-size: ball radius, or a roller's half-width */
			bool roller = c->tool == KM_SIM_TOOL_FOAM_ROLLER ||
			              c->tool == KM_SIM_TOOL_ROLLER_DEVICE;
			float ca = roller ? tr->tool_area_cm2 * 100 / (2 * c->tool_width_mm)
			                  : sqrtf(tr->tool_area_cm2 * 100 / KM_PI_F);
			float dx = dx_wrap(s, mx - kd->x_mm), dy = m.y - kd->y_mm;
			if (c->tool == KM_SIM_TOOL_FOAM_ROLLER)
				loaded = fabsf(dy) < kd->radius_mm + ca &&
				         fabsf(dx) < c->tool_width_mm / 2;
			else if (c->tool == KM_SIM_TOOL_ROLLER_DEVICE)
				loaded = fabsf(dx) < kd->radius_mm + ca &&
				         fabsf(dy) < c->tool_width_mm / 2;
			else
				loaded = sqrtf(dx * dx + dy * dy) < kd->radius_mm + ca;
		}
		if (!loaded && c->body) {
			int r = (int)floorf(kd->y_mm / c->pitch_mm),
			    col = (int)floorf(kd->x_mm / c->pitch_mm);
			if (r >= 0 && r < (int)c->rows && col >= 0 && col < (int)c->cols)
				loaded =
				    s->kpa[(size_t)r * c->cols + (size_t)col] > 2 * c->loaded_kpa &&
				    (!has_tool || !tr->tool_contact);
		}
		ks->loaded = loaded;
		if (loaded && m.phase == KM_SIM_PHASE_HOLD) {
			ks->hold_s += dt;
			/* ischaemic compression softens the spot over ~1 min (Travell &
			 * Simons); time constant 30 s (est.) */
			ks->strength = 1 - kd->release_pct / 100 * (1 - expf(-ks->hold_s / 30.0f));
		}
		struct km_sim_knot_truth *kt = &tr->knots[k];
		kt->id = (uint32_t)k;
		kt->x_mm = kd->x_mm;
		kt->y_mm = kd->y_mm;
		kt->radius_mm = kd->radius_mm;
		kt->depth_mm = kd->depth_mm;
		kt->stiffness_pct = kd->stiffness_pct * ks->strength;
		kt->loaded = loaded;
		kt->hold_s = ks->hold_s;
	}
	tr->knot_count = c->knot_count;

	/* whole-mat truth (before the sensor) */
	float sum = 0, peak = 0;
	size_t loaded_cells = 0;
	for (size_t i = 0; i < s->n; i++) {
		float p = s->kpa[i];
		sum += p;
		peak = p > peak ? p : peak;
		loaded_cells += p > c->loaded_kpa;
	}
	tr->total_force_n = sum * s->cell_area_mm2 * 1e-3f;
	tr->loaded_area_cm2 = (float)loaded_cells * s->cell_area_mm2 / 100;
	tr->peak_kpa = peak;
	tr->body_weight_n = W;
	tr->body_force_n = body_force;
	tr->body_fraction = s->body_fraction;
	tr->phase = m.phase;
	tr->step_index = m.index;
	tr->load = m.load;
	tr->tool_x_mm = mx;
	tr->tool_y_mm = m.y;
	tr->tensing = tensing;
	tr->withdrawal = withdrawal;
	tr->breath_phase = (float)bphase;
	tr->breath_hz = c->breath_hz;
	tr->fault_map = s->fault;
	tr->dead_count = s->dead_count;
	tr->stuck_count = s->stuck_count;

	s->have_prev = s->have_frame;
	if (s->have_frame)
		memcpy(s->prev_counts, s->counts, s->n * sizeof(uint16_t));
	run_sensor(s, dt);
	/* as the firmware: a temporal delta needs the previous frame, and a
	 * self-contained frame comes every key_interval frames */
	uint8_t enc = c->encoding;
	if (enc == 3 && (!s->have_prev || s->since_key + 1u >= c->key_interval))
		enc = 2;
	s->since_key = enc == 3 ? s->since_key + 1u : 0u;
	s->frame_encoding = enc;
	tr->sequence = s->sequence;
	tr->time_us = s->time_us;
	tr->t_s = t;
	s->frames++;
	s->have_frame = true;
	fill_output(s, out);
	return KM_OK;
}

int km_sim_current(const km_sim *s, struct km_sim_output *out)
{
	if (!s || !out)
		return KM_ERR_INVALID_ARG;
	if (!s->have_frame)
		return KM_ERR_STATE;
	fill_output(s, out);
	return KM_OK;
}

int km_sim_control(km_sim *s, enum km_sim_command cmd, uint32_t value)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	switch (cmd) {
	case KM_SIM_CMD_START:
		/* the sequence restarts at 0 (protocol: START); the physics and
		 * the device clock go on */
		if (!s->running) {
			s->running = true;
			s->seq_next = 0;
			s->have_frame = false;
			s->have_prev = false;
		}
		return KM_OK;
	case KM_SIM_CMD_STOP:
		s->running = false;
		return KM_OK;
	case KM_SIM_CMD_SET_RATE:
		if (value < 1 || value > 1000)
			return KM_ERR_RANGE;
		s->rate_hz = (float)value;
		return KM_OK;
	case KM_SIM_CMD_ZERO:
		/* firmware: 16 frames by default, at most 256 */
		if (value > 256)
			return KM_ERR_RANGE;
		s->zero_total = s->zero_left = value ? value : 16;
		memset(s->zero_acc, 0, s->n * sizeof(uint32_t));
		return KM_OK;
	}
	return KM_ERR_INVALID_ARG;
}

bool km_sim_running(const km_sim *s)
{
	return s && s->running;
}

bool km_sim_zeroed(const km_sim *s)
{
	return s && s->zeroed;
}

float km_sim_rate(const km_sim *s)
{
	return s ? s->rate_hz : 0.0f;
}

int km_sim_sensor_curve(const km_sim *s, float *offset, float *scale, float *exponent, size_t n)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (n < s->n)
		return KM_ERR_OVERFLOW;
	if (offset)
		memcpy(offset, s->off, s->n * sizeof(float));
	if (scale)
		memcpy(scale, s->scale, s->n * sizeof(float));
	if (exponent)
		memcpy(exponent, s->expo, s->n * sizeof(float));
	return KM_OK;
}

uint32_t km_sim_calibration_id(const km_sim *s)
{
	return s ? s->calibration_id : 0;
}

const char *km_sim_tool_name(enum km_sim_tool tool)
{
	switch (tool) {
	case KM_SIM_TOOL_NONE:
		return "none";
	case KM_SIM_TOOL_TENNIS_BALL:
		return "tennis_ball";
	case KM_SIM_TOOL_LACROSSE_BALL:
		return "lacrosse_ball";
	case KM_SIM_TOOL_FOAM_ROLLER:
		return "foam_roller";
	case KM_SIM_TOOL_ROLLER_DEVICE:
		return "roller_device";
	}
	return "unknown";
}

const char *km_sim_phase_name(enum km_sim_phase phase)
{
	switch (phase) {
	case KM_SIM_PHASE_IDLE:
		return "idle";
	case KM_SIM_PHASE_APPROACH:
		return "approach";
	case KM_SIM_PHASE_SETTLE:
		return "settle";
	case KM_SIM_PHASE_HOLD:
		return "hold";
	case KM_SIM_PHASE_LIFT:
		return "lift";
	}
	return "unknown";
}

const char *km_sim_landmark_name(enum km_sim_landmark lm)
{
	static const char *const names[KM_SIM_LM_COUNT] = {
	    "occiput",   "scapula_left", "scapula_right", "c7",        "sacrum",
	    "calf_left", "calf_right",   "heel_left",     "heel_right"};
	if ((unsigned)lm >= KM_SIM_LM_COUNT)
		return "unknown";
	return names[lm];
}
