/*
 * The virtual mat: its config, life cycle and the step that combines the
 * static fields, adds the moving contacts (tools, rolling) and runs the
 * sensor model. The models live in files of their own: body.c (segment
 * loads, bony prominences, landmarks), knots.c, motion.c (the scenario's
 * timeline, breathing, tensing up) and sensor.c (the sensor's response and
 * imperfections). Static fields are computed once at create.
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
#include "sim_math.h"

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
	if (!ok || km__sim_build_knots(s) != KM_OK) {
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
		km__sim_build_body(s);
	km__sim_build_sensor(s, &rng);
	km__sim_build_motion(s);
	uint32_t h = km__sim_hash(&c->seed, sizeof c->seed, 2166136261u);
	h = km__sim_hash(&c->offset_counts, sizeof(float) * 5, h); /* offset..exponent_sd */
	h = km__sim_hash(&c->rows, sizeof c->rows, h);
	h = km__sim_hash(&c->cols, sizeof c->cols, h);
	s->calibration_id = h ? h : 1;
	km__sim_set_landmarks(s);
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

	struct km__sim_motion m = {0, 0, 0, KM_SIM_PHASE_IDLE, 0};
	km__sim_motion_eval(s, t, &m);
	bool tensing, withdrawal;
	float tf = km__sim_tensing_factor(s, t, &tensing, &withdrawal);
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
		float ex = km__sim_knot_excess_at(s, mx, m.y);
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
	km__sim_run_sensor(s, dt);
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
