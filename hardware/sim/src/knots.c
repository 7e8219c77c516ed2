/* The virtual mat's knots: small regions of raised stiffness at a depth,
 * their footprint on the surface and how they release under a hold
 * (docs/signal-model.md, How the grid meets the body). */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"
#include "sim_math.h"

/* ------------------------------------------------------------------------ */
/* Knots                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * A knot of radius R at depth z: the region is taken as a Gaussian of SD
 * R / 2; at the surface its footprint spreads to SD sqrt((R/2)^2 + (z/2)^2)
 * and its amplitude falls so that the integral is kept (a buried inclusion
 * seen through soft tissue, est.). Stiffness excess 15-40 % (docs/signal-model.md;
 * MyotonPRO +19 %, Roch 2020).
 */
int km__sim_build_knots(km_sim *s)
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
float km__sim_knot_excess_at(const km_sim *s, float x, float y)
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
