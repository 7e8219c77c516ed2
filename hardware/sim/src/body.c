/* The virtual mat's body: supine contact regions from segment masses, bony
 * prominences, breathing weight and the landmarks (docs/signal-model.md, How
 * the grid meets the body; Winter 2009, table 4.1). */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"
#include "sim_math.h"

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
void km__sim_build_body(km_sim *s)
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

void km__sim_set_landmarks(km_sim *s)
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
