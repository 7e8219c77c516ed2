/* Virtual mat internals shared by its source files (sim.c, body.c, knots.c,
 * motion.c, sensor.c, pack.c, scenario.c). */
#ifndef KM_SIM_INTERNAL_H
#define KM_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include "knotmap/sim.h"

#define KM_SIM_MODULE "sim"

/* xoshiro256** (Blackman & Vigna 2018): fast, good, and the state is ours, so
 * the output depends on nothing but the seed. */
struct km__sim_rng {
	uint64_t s[4];
};

/* A knot's footprint: a box of cells and the excess weight of each. */
struct km__sim_knot_state {
	int r0, c0, nr, nc; /* box origin and size; columns wrap on a cylinder */
	float *w;           /* [nr x nc] relative excess at full strength */
	float amp;          /* peak surface excess (fraction) */
	float sigma_mm;     /* surface footprint SD */
	float strength;     /* 1 at start, falls as the knot releases */
	float hold_s;
	bool loaded;
};

struct km_sim {
	struct km_sim_config cfg;
	size_t n; /* rows * cols */
	float cell_area_mm2;
	float width_mm, height_mm; /* mat extent; width = circumference on a cylinder */
	bool cylinder;

	/* static fields, [rows x cols] */
	float *body;                       /* body pressure at full load, no breathing, kPa */
	float *breath;                     /* the part of it that breathing modulates */
	float *off, *scale, *expo, *drift; /* sensor curve, drift counts/s */
	uint8_t *fault;
	size_t dead_count, stuck_count;
	float body_fraction;
	float body_weight_n;
	struct km__sim_knot_state knots[KM_SIM_MAX_KNOTS];
	float breath_phi0, tremor_phi[2], burst_phi;
	uint32_t calibration_id;

	/* motion timeline: state at the start of each step */
	double step_t0[KM_SIM_MAX_STEPS + 1];
	float step_x0[KM_SIM_MAX_STEPS + 1], step_y0[KM_SIM_MAX_STEPS + 1];
	float step_l0[KM_SIM_MAX_STEPS + 1];
	float step_tx[KM_SIM_MAX_STEPS], step_ty[KM_SIM_MAX_STEPS], step_tl[KM_SIM_MAX_STEPS];
	double motion_len;

	/* dynamic */
	float *kpa;
	uint16_t *counts;
	uint16_t *prev_counts; /* previous frame, for DELTA_TEMPORAL packets */
	bool have_prev;
	float *hyst, *creep, *sig, *rowsum, *colsum, *noise_buf;
	uint16_t *baseline; /* the firmware's tare, counts */
	uint32_t *zero_acc;
	uint8_t frame_encoding; /* encoding of the current frame's packets */
	uint32_t since_key;     /* DELTA_TEMPORAL frames since the last self-contained one */
	struct km__sim_rng noise;
	double t_s;
	uint64_t time_us;
	double time_us_frac;
	uint32_t sequence; /* of the current frame */
	uint32_t seq_next;
	uint64_t frames; /* since create/reset/start */
	bool have_frame;
	bool running;
	float rate_hz;
	uint32_t zero_left, zero_total;
	bool zeroed, zeroing_frame, saturated;
	float last_force; /* for tool force */
	struct km_sim_truth truth;
};

uint32_t km__sim_hash(const void *data, size_t len, uint32_t h);

/* body.c: the static body field (s->body, s->breath) and the landmarks. */
void km__sim_build_body(km_sim *s);
void km__sim_set_landmarks(km_sim *s);

/* knots.c: each knot's footprint box; the excess of all knots at a point. */
int km__sim_build_knots(km_sim *s);
float km__sim_knot_excess_at(const km_sim *s, float x, float y);

/* sensor.c: the static per-cell sensor parameters; one frame through it. */
void km__sim_build_sensor(km_sim *s, struct km__sim_rng *rng);
void km__sim_run_sensor(km_sim *s, float dt);

/* motion.c: where the contact is, its load and phase at time t. */
struct km__sim_motion {
	float x, y, load;
	enum km_sim_phase phase;
	uint32_t index;
};
void km__sim_build_motion(km_sim *s);
void km__sim_motion_eval(const km_sim *s, double t, struct km__sim_motion *m);
/* Tensing up: multiplicative load factor, flags. */
float km__sim_tensing_factor(const km_sim *s, double t, bool *tensing, bool *withdrawal);

/* Geometry helpers of the step and the knots (inline: per cell). */
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

#endif
