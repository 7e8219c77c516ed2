/* The virtual mat's motion: the scenario's timeline of moves, breathing and
 * tensing up (docs/signal-model.md, Time scales). */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"
#include "sim_math.h"

/* ------------------------------------------------------------------------ */
/* Motion                                                                    */
/* ------------------------------------------------------------------------ */

void km__sim_build_motion(km_sim *s)
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

static float smooth01(float u)
{
	u = KM_CLAMP(u, 0.0f, 1.0f);
	return u * u * (3 - 2 * u);
}

void km__sim_motion_eval(const km_sim *s, double t, struct km__sim_motion *m)
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
float km__sim_tensing_factor(const km_sim *s, double t, bool *tensing, bool *withdrawal)
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
