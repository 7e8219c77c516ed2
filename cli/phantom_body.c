/*
 * The phantom body (phantom_body.h). The reference adult is 175 cm; body
 * coordinates are u (mm lateral of the midline, + towards the mat's +x) and v
 * (mm from the vertex towards the feet), scaled by the body's size. The
 * anatomy of a supine adult on a firm foam mat (loads from bed-mat pressure
 * studies: 5-15 kPa under the shoulder blades and sacrum, 1-5 kPa elsewhere):
 *
 *   head (occiput)         v ~105          4-6 kPa, off the back's mat
 *   shoulders, C7          v ~235-270      the trunk's load begins
 *   shoulder blades        v ~330, u ~+-75 a sharp bony peak on a broad flank
 *   ribs / mid back        v ~270-470      2.5-4 kPa, falling towards the flanks
 *   spine                  v ~240-620      spinous processes: a low midline;
 *                                          erector spinae: a ridge each side
 *                                          20-35 mm off it
 *   lumbar lordosis        v ~490-590      the back lifts: half the load
 *   sacrum                 v ~650          a sharp bony peak
 *   buttocks               v ~745, u ~+-88 broad, 4-5 kPa
 */
#include "phantom_body.h"

#include <math.h>
#include <stdlib.h>

const char *const km_phantom_region_name[KM_PHANTOM_REGIONS] = {"shoulder blade", "sacrum",
                                                                "paraspinal", "other"};

#define SCAP_U 75.0f  /* reference shoulder-blade peak, mm lateral */
#define SCAP_V 330.0f /* and from the vertex */
#define SACRUM_V 650.0f
#define NEAR_BONE_MM 40.0f /* the regions' radius round a bony peak */

/* Half-width of the back's contact along the body (shoulders, waist, hips). */
static const float hw_tab[][2] = {{200, 0},   {225, 120}, {265, 190}, {400, 180}, {500, 150},
                                  {580, 145}, {660, 170}, {780, 165}, {850, 140}, {900, 0}};
/* The trunk's share of load along the body: the neck lifts, the lumbar
 * lordosis lifts, the pelvis presses again. */
static const float load_tab[][2] = {{215, 0},     {235, 0.5f},  {270, 1}, {470, 1},
                                    {540, 0.45f}, {600, 0.95f}, {800, 1}, {860, 0}};

static float table(const float (*t)[2], int n, float v)
{
	if (v <= t[0][0])
		return t[0][1];
	for (int i = 1; i < n; i++)
		if (v <= t[i][0])
			return t[i - 1][1] + (t[i][1] - t[i - 1][1]) * (v - t[i - 1][0]) /
			                         (t[i][0] - t[i - 1][0]);
	return t[n - 1][1];
}

static float gauss2(float dx, float dy, float su, float sv)
{
	return expf(-0.5f * (dx * dx / (su * su) + dy * dy / (sv * sv)));
}

/* Smooth 0..1 box over [a, b] with ramps of w mm. */
static float band(float v, float a, float b, float w)
{
	float lo = (v - a) / w, hi = (b - v) / w;
	float x = fminf(lo, hi);
	return x <= 0 ? 0 : x >= 1 ? 1 : x * x * (3 - 2 * x);
}

/* Pressure (kPa) of the reference body at (u, v) in reference mm. */
static float body_kpa(const struct km_phantom_body *b, float u, float v)
{
	float p = 0.0f;
	float hw = table(hw_tab, (int)(sizeof hw_tab / sizeof hw_tab[0]), v);
	if (hw > 0.0f) {
		/* The contact's edge is soft (the flank curves off the foam). */
		float edge = 1.0f / (1.0f + expf(-(hw - fabsf(u)) / 6.0f));
		float load = table(load_tab, (int)(sizeof load_tab / sizeof load_tab[0]), v);
		float across = fmaxf(0.2f, 1.0f - 0.55f * (u / hw) * (u / hw));
		float spine = band(v, 240, 620, 25);
		/* One vertebral level per ~24 mm (thoracic), ~34 mm (lumbar): the
		 * spinous tips and the muscle over each level are not a smooth line. */
		float level =
		    v < 530.0f ? (v - 250.0f) / 24.0f : 280.0f / 24.0f + (v - 530.0f) / 34.0f;
		float seg = 0.5f + 0.5f * cosf(6.2831853f * level);
		/* Spinous processes: a low midline on a firm mat. */
		float trunk = b->base_kpa * load * across *
		              (1.0f - 0.55f * (1.0f - 0.3f * seg) * spine * gauss2(u, 0, 7, 1));
		for (int s = 0; s < 2; s++) {
			float sg = s ? 1.0f : -1.0f;
			/* Erector spinae: a muscle ridge each side of the spine. */
			trunk += b->ridge_amp[s] * load * spine * (0.8f + 0.4f * seg) *
			         gauss2(u - sg * b->ridge_u[s], 0, 8, 1);
			/* Shoulder blade: a sharp bony peak on a broad, tilted flank. */
			float dx = u - sg * (SCAP_U + b->scap_du[s]),
			      dy = v - (SCAP_V + b->scap_dv[s]);
			float a = sg * 0.26f, ca = cosf(a), sa = sinf(a);
			float px = ca * dx + sa * dy, py = -sa * dx + ca * dy;
			trunk += b->scap_amp[s] *
			         (0.55f * gauss2(dx, dy, 10, 13) + 0.45f * gauss2(px, py, 30, 48));
			/* Its spine, an oblique bony ridge towards the acromion, and
			 * its inferior angle. */
			float ex = dx - sg * (-25.0f), ey = dy - (-30.0f); /* from the medial end */
			float lx = sg * 75.0f, ly = -18.0f, len2 = lx * lx + ly * ly;
			float f = fminf(1.0f, fmaxf(0.0f, (ex * lx + ey * ly) / len2));
			trunk += b->scap_amp[s] * (0.25f * gauss2(ex - f * lx, ey - f * ly, 6, 6) +
			                           0.2f * gauss2(dx + sg * 7.0f, dy - 75.0f, 9, 9));
			/* Buttocks. */
			trunk += b->butt_amp[s] * gauss2(u - sg * 88.0f, v - 745.0f, 48, 42);
		}
		float du = u - b->sacrum_du, dv = v - SACRUM_V;
		trunk +=
		    b->sacrum_amp * (0.6f * gauss2(du, dv, 13, 20) + 0.4f * gauss2(du, dv, 32, 45));
		p += trunk * edge;
	}
	if (v < 200.0f) /* the back of the head */
		p += b->head_amp * gauss2(u, v - 105.0f, 30, 34);
	return p;
}

static void to_body(const struct km_phantom *ph, float x, float y, float *u, float *v)
{
	const struct km_phantom_body *b = &ph->body;
	float rx = x - b->ox, ry = y - b->oy, c = cosf(b->theta), s = sinf(b->theta);
	*u = c * rx + s * ry;
	*v = b->v_top + (-s * rx + c * ry);
}

static void to_mat(const struct km_phantom *ph, float u, float v, float *x, float *y)
{
	const struct km_phantom_body *b = &ph->body;
	float dv = v - b->v_top, c = cosf(b->theta), s = sinf(b->theta);
	*x = b->ox + c * u - s * dv;
	*y = b->oy + s * u + c * dv;
}

float km_phantom_pressure(const struct km_phantom *ph, float x, float y)
{
	float u, v;
	to_body(ph, x, y, &u, &v);
	return body_kpa(&ph->body, u / ph->body.scale, v / ph->body.scale);
}

float km_phantom_lateral(const struct km_phantom *ph, float x, float y)
{
	float u, v;
	to_body(ph, x, y, &u, &v);
	return u;
}

int km_phantom_region(const void *ctx, float x, float y)
{
	const struct km_phantom *ph = ctx;
	for (int s = 0; s < 2; s++)
		if (hypotf(x - ph->scap_x[s], y - ph->scap_y[s]) < NEAR_BONE_MM)
			return KM_PHANTOM_SCAPULA;
	if (hypotf(x - ph->sacrum_x, y - ph->sacrum_y) < NEAR_BONE_MM)
		return KM_PHANTOM_SACRUM;
	if (fabsf(km_phantom_lateral(ph, x, y)) < 50.0f)
		return KM_PHANTOM_PARASPINAL;
	return KM_PHANTOM_OTHER;
}

static float uni(uint64_t *s, float a, float b)
{
	return a + (b - a) * (float)km_eval_rng_unit(s);
}

/* Left and right of one paired structure: mean m, up to 10 % apart. */
static void paired(uint64_t *s, float lo, float hi, float out[2])
{
	float m = uni(s, lo, hi), d = uni(s, -0.10f, 0.10f);
	out[0] = m * (1.0f + 0.5f * d);
	out[1] = m * (1.0f - 0.5f * d);
}

static void draw_body(struct km_phantom *ph, uint64_t seed, const struct km_phantom_config *cfg)
{
	struct km_phantom_body *b = &ph->body;
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x5eed;
	float mat = ph->side * ph->pitch_mm;
	b->scale = uni(&s, 0.9f, 1.1f);
	float tilt = cfg->tilt_deg > 0.0f ? cfg->tilt_deg : 1.5f;
	b->theta = uni(&s, -tilt, tilt) * 3.14159265f / 180.0f;
	b->base_kpa = uni(&s, 2.5f, 4.0f);
	paired(&s, 6.0f, 10.0f, b->scap_amp);
	paired(&s, 0.6f, 1.2f, b->ridge_amp);
	paired(&s, 1.5f, 2.5f, b->butt_amp);
	float ru = uni(&s, 22.0f, 32.0f);
	for (int i = 0; i < 2; i++) {
		b->scap_du[i] = uni(&s, -4.0f, 4.0f);
		b->scap_dv[i] = uni(&s, -4.0f, 4.0f);
		b->ridge_u[i] = ru + uni(&s, -2.0f, 2.0f);
	}
	b->sacrum_amp = uni(&s, 6.0f, 10.0f);
	b->sacrum_du = uni(&s, -3.0f, 3.0f);
	b->head_amp = uni(&s, 4.0f, 6.0f);
	b->breath_amp = uni(&s, 0.02f, 0.04f);
	b->breath_hz = uni(&s, 0.22f, 0.28f);
	b->breath_phase = uni(&s, 0.0f, 6.2831853f);
	for (int i = 0; i < 2; i++) {
		b->sway_mm[i] = uni(&s, 0.3f, 1.5f);
		b->sway_hz[i] = uni(&s, 0.03f, 0.12f);
		b->sway_phase[i] = uni(&s, 0.0f, 6.2831853f);
	}
	b->noise_mult = uni(&s, 0.01f, 0.03f);
	b->noise_add_kpa = uni(&s, 0.01f, 0.03f);
	/* The mat shows the back: the shoulder blades near its top and the
	 * sacrum near its bottom, with equal margins up to 100 mm (a 512 mm
	 * mat: C7 to the buttocks; 384 mm: the blades' top flanks and the
	 * sacrum's lower flank are cut off). */
	float span = b->scale * (SACRUM_V - SCAP_V);
	float margin = fminf(100.0f, fmaxf(10.0f, 0.5f * (mat - span)));
	b->v_top = b->scale * SCAP_V - margin + uni(&s, -8.0f, 8.0f);
	b->ox = 0.5f * mat + uni(&s, -15.0f, 15.0f);
	b->oy = 0.0f;
	b->gain_spread = uni(&s, 0.01f, 0.03f);
	if (cfg->gain_spread > 0.0f)
		b->gain_spread = cfg->gain_spread;
	if (cfg->noise_mult > 0.0f)
		b->noise_mult = cfg->noise_mult;
	ph->noise = seed * 0xD1B54A32D192ED03ull + 0x401;
}

static void landmarks(struct km_phantom *ph)
{
	const struct km_phantom_body *b = &ph->body;
	for (int s = 0; s < 2; s++)
		to_mat(ph, b->scale * (s ? 1.0f : -1.0f) * (SCAP_U + b->scap_du[s]),
		       b->scale * (SCAP_V + b->scap_dv[s]), &ph->scap_x[s], &ph->scap_y[s]);
	to_mat(ph, b->scale * b->sacrum_du, b->scale * SACRUM_V, &ph->sacrum_x, &ph->sacrum_y);
}

/* Four knots (+15, +25, +40 % and one more of the three, radius 7-25 mm) on
 * well-loaded soft tissue of the back (1.5 kPa or more: the lifted flanks and
 * the lordosis' hollow are left out; C7 to the sacrum's top), off the spinous
 * processes (20 mm or more from the midline) and the bony peaks' tips, 40 mm
 * apart and 20 mm inside the mat. The upper back's muscles over and round the
 * shoulder blades and the erector spinae are where knots are most often
 * found: one knot is placed 15-40 mm from a shoulder blade's peak, one 20-50
 * mm beside the spine, two anywhere on the back (in a shuffled order, the
 * strengths shuffled apart); when a zone has no room (a small mat), anywhere. */
static const float strengths[3] = {0.15f, 0.25f, 0.40f};

enum zone { ZONE_SCAPULA, ZONE_PARASPINAL, ZONE_ANY };

static void shuffle(uint64_t *s, int *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(km_eval_rng_unit(s) * (i + 1)) % (i + 1), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* A point drawn in the zone (mat mm). */
static void draw_in(struct km_phantom *ph, uint64_t *s, int zone, float *x, float *y)
{
	float mat = ph->side * ph->pitch_mm, S = ph->body.scale;
	if (zone == ZONE_SCAPULA) {
		int side = km_eval_rng_unit(s) < 0.5;
		float a = uni(s, 0.0f, 6.2831853f), r = uni(s, 15.0f, 40.0f);
		*x = ph->scap_x[side] + r * cosf(a);
		*y = ph->scap_y[side] + r * sinf(a);
	} else if (zone == ZONE_PARASPINAL) {
		float u = (km_eval_rng_unit(s) < 0.5 ? -1.0f : 1.0f) * uni(s, 20.0f, 50.0f);
		to_mat(ph, u, S * uni(s, 265.0f, 625.0f), x, y);
	} else {
		*x = uni(s, 20.0f, mat - 20.0f);
		*y = uni(s, 20.0f, mat - 20.0f);
	}
}

static int knot_fits(const struct km_phantom *ph, int n, float x, float y)
{
	float mat = ph->side * ph->pitch_mm, S = ph->body.scale, u, v;
	if (x < 20.0f || y < 20.0f || x > mat - 20.0f || y > mat - 20.0f)
		return 0;
	to_body(ph, x, y, &u, &v);
	if (v / S < 265.0f || v / S > 625.0f || fabsf(u) < 20.0f ||
	    km_phantom_pressure(ph, x, y) < 1.5f)
		return 0;
	int bad = hypotf(x - ph->sacrum_x, y - ph->sacrum_y) < 25.0f;
	for (int i = 0; i < 2; i++)
		bad |= hypotf(x - ph->scap_x[i], y - ph->scap_y[i]) < 15.0f;
	for (int j = 0; j < n; j++)
		bad |= hypotf(x - ph->knot[j].x, y - ph->knot[j].y) < 40.0f;
	return !bad;
}

static int place_knots(struct km_phantom *ph, uint64_t seed)
{
	uint64_t s = seed * 0xA0761D6478BD642Full + 0x6b;
	int zone[KM_PHANTOM_KNOTS] = {ZONE_SCAPULA, ZONE_PARASPINAL, ZONE_ANY, ZONE_ANY};
	int str[KM_PHANTOM_KNOTS] = {0, 1, 2, (int)(km_eval_rng_unit(&s) * 3) % 3};
	shuffle(&s, zone, KM_PHANTOM_KNOTS);
	shuffle(&s, str, KM_PHANTOM_KNOTS);
	int n = 0;
	for (int tries = 0; n < KM_PHANTOM_KNOTS && tries < 20000; tries++) {
		float x, y;
		draw_in(ph, &s, tries < 2000 ? zone[n] : ZONE_ANY, &x, &y);
		if (!knot_fits(ph, n, x, y))
			continue;
		struct km_eval_knot *k = &ph->knot[n];
		k->x = x;
		k->y = y;
		k->s = strengths[str[n]];
		k->r = uni(&s, 7.0f, 25.0f);
		k->reg = km_phantom_region(ph, x, y);
		n++;
		tries = 0;
	}
	return n;
}

/* The static map: each cell the mean of p (1 + s g) over 4 x 4 points. */
static void render(struct km_phantom *ph)
{
	float p = ph->pitch_mm, S = ph->body.scale;
	for (int r = 0; r < ph->side; r++)
		for (int c = 0; c < ph->side; c++) {
			float sum = 0.0f;
			for (int i = 0; i < 4; i++)
				for (int j = 0; j < 4; j++) {
					float x = (c + (j + 0.5f) / 4) * p,
					      y = (r + (i + 0.5f) / 4) * p;
					sum += km_phantom_pressure(ph, x, y) *
					       (1.0f + km_eval_knot_excess(ph->knot, ph->nk, x, y));
				}
			size_t at = (size_t)r * ph->side + c;
			ph->map[at] = sum / 16.0f;
			/* Breathing moves the chest most, the pelvis least. */
			float u, v;
			to_body(ph, (c + 0.5f) * p, (r + 0.5f) * p, &u, &v);
			v /= S;
			ph->breath_w[at] = v < 480.0f   ? 1.0f
			                   : v > 640.0f ? 0.4f
			                                : 1.0f - 0.6f * (v - 480.0f) / 160.0f;
		}
}

/* A unit normal deviate, cheaply: four 16-bit uniforms (Irwin-Hall). */
static float noise_normal(uint64_t *s)
{
	uint64_t z = km_eval_rng_next(s);
	float sum = (float)(z & 0xffff) + (float)((z >> 16) & 0xffff) +
	            (float)((z >> 32) & 0xffff) + (float)(z >> 48);
	return (sum / 65536.0f - 2.0f) * 1.7320508f;
}

int km_phantom_create(const struct km_phantom_config *cfg, struct km_phantom **out)
{
	*out = NULL;
	if (cfg->side < 8 || cfg->side > 256 || !(cfg->pitch_mm >= 1.0f && cfg->pitch_mm <= 50.0f) ||
	    !(cfg->gain_spread >= 0.0f && cfg->gain_spread <= 0.5f) ||
	    !(cfg->noise_mult >= 0.0f && cfg->noise_mult <= 0.5f) ||
	    !(cfg->tilt_deg >= 0.0f && cfg->tilt_deg <= 30.0f) ||
	    !(cfg->load_scale >= 0.0f && cfg->load_scale <= 100.0f))
		return -1;
	struct km_phantom *ph = calloc(1, sizeof *ph);
	if (!ph)
		return -1;
	size_t cells = (size_t)cfg->side * cfg->side;
	ph->side = cfg->side;
	ph->pitch_mm = cfg->pitch_mm;
	ph->quiet = cfg->quiet;
	ph->map = malloc(cells * sizeof *ph->map);
	ph->breath_w = malloc(cells * sizeof *ph->breath_w);
	ph->cell_gain = malloc(cells * sizeof *ph->cell_gain);
	if (!ph->map || !ph->breath_w || !ph->cell_gain) {
		km_phantom_destroy(ph);
		return -1;
	}
	draw_body(ph, cfg->seed, cfg);
	landmarks(ph);
	ph->nk = cfg->knots ? place_knots(ph, cfg->seed) : 0;
	render(ph);
	if (cfg->load_scale > 0.0f) /* the same body and knots, pressing harder or softer */
		for (size_t i = 0; i < cells; i++)
			ph->map[i] *= cfg->load_scale;
	for (size_t i = 0; i < cells; i++)
		ph->cell_gain[i] =
		    ph->quiet ? 1.0f : 1.0f + ph->body.gain_spread * noise_normal(&ph->noise);
	*out = ph;
	return 0;
}

void km_phantom_destroy(struct km_phantom *ph)
{
	if (!ph)
		return;
	free(ph->map);
	free(ph->breath_w);
	free(ph->cell_gain);
	free(ph);
}

void km_phantom_frame(struct km_phantom *ph, double t, float *kpa, float *dx, float *dy)
{
	const struct km_phantom_body *b = &ph->body;
	int n = ph->side;
	float sx = 0.0f, sy = 0.0f, br = 0.0f;
	if (!ph->quiet) {
		sx = b->sway_mm[0] *
		     sinf((float)(6.283185307 * b->sway_hz[0] * t) + b->sway_phase[0]);
		sy = b->sway_mm[1] *
		     sinf((float)(6.283185307 * b->sway_hz[1] * t) + b->sway_phase[1]);
		br =
		    b->breath_amp * sinf((float)(6.283185307 * b->breath_hz * t) + b->breath_phase);
	}
	*dx = sx;
	*dy = sy;
	/* The body shifted by (sx, sy): the static map sampled bilinearly. */
	float fx = -sx / ph->pitch_mm, fy = -sy / ph->pitch_mm;
	int ox = (int)floorf(fx), oy = (int)floorf(fy);
	float ax = fx - ox, ay = fy - oy;
	for (int r = 0; r < n; r++) {
		int r0 = r + oy, r1 = r0 + 1;
		r0 = r0 < 0 ? 0 : r0 >= n ? n - 1 : r0;
		r1 = r1 < 0 ? 0 : r1 >= n ? n - 1 : r1;
		for (int c = 0; c < n; c++) {
			int c0 = c + ox, c1 = c0 + 1;
			c0 = c0 < 0 ? 0 : c0 >= n ? n - 1 : c0;
			c1 = c1 < 0 ? 0 : c1 >= n ? n - 1 : c1;
			const float *m = ph->map;
			float v = (1 - ay) * ((1 - ax) * m[r0 * n + c0] + ax * m[r0 * n + c1]) +
			          ay * ((1 - ax) * m[r1 * n + c0] + ax * m[r1 * n + c1]);
			size_t at = (size_t)r * n + c;
			if (!ph->quiet) {
				v *= 1.0f + br * ph->breath_w[at];
				v *= ph->cell_gain[at] *
				     (1.0f + b->noise_mult * noise_normal(&ph->noise));
				v += b->noise_add_kpa * noise_normal(&ph->noise);
			}
			kpa[at] = v > 0.0f ? v : 0.0f;
		}
	}
}
