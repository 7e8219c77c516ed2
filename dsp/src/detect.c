/*
 * Spot detection: robust thresholds, 3-D non-maximum suppression, sub-cell
 * refinement, body outline and spine midline mask. See knotmap/detect.h.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/detect.h"

#define MAX_CAP 1024u

struct km_detect {
	struct km_detect_config cfg;
	int R, C, periodic;
	unsigned n;
	float *scratch;                    /* [cells] for medians */
	uint8_t *loaded;                   /* [cells] */
	uint16_t *dist;                    /* [cells] distance to unloaded, cells */
	float *row_left, *row_right, *mid; /* [rows] */
	struct km_candidate *cand;         /* [max_candidates] */
	size_t count;
	struct km_body_outline outline;
	float noise[KM_BANDPASS_MAX_SCALES]; /* smoothed noise SD per scale */
	int have_noise;
	float ext_noise[KM_BANDPASS_MAX_SCALES]; /* km_detect_set_noise */
	int have_ext;
};

struct km_detect_config km_detect_config_default(void)
{
	struct km_detect_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.ratio = 1.6f;
	c.noise_k = 3.0f;          /* signal-model.md: > 3x noise SD */
	c.min_response_kpa = 2.0f; /* signal-model.md: and > 2 kPa */
	c.edge_ratio = 10.0f;      /* Lowe 2004, principal curvature ratio */
	c.max_candidates = 32;
	c.outline_kpa = 1.0f;
	c.outline_min_cells = 30;
	/* A lying torso loads well over 1000 cm^2; a ball (~2 cm^2) or a foam
	 * roller strip (~70 cm^2, signal-model.md) alone is not a body. (est.) */
	c.outline_min_area_cm2 = 300.0f;
	c.midline_half_width_mm = 25.0f; /* signal-model.md: +-2.5 cm */
	c.landmark_excess = 0.8f;        /* knots: 15-40 % excess; bone / tool: far more */
	c.support_sigmas = 2.0f;
	c.min_separation_mm = 20.0f; /* signal-model.md: merge within 2 cm */
	c.weak_fraction = 0.0f;
	c.noise_frames = 1;
	c.midline_mode = KM_DETECT_MASK_DROP;
	c.landmark_mode = KM_DETECT_MASK_DROP;
	return c;
}

int km_detect_config_from_bandpass(struct km_detect_config *cfg,
                                   const struct km_bandpass_config *bp)
{
	if (!cfg || !bp || bp->n_scales < 1 || bp->n_scales > KM_BANDPASS_MAX_SCALES)
		return KM_ERR_INVALID_ARG;
	cfg->rows = bp->rows;
	cfg->cols = bp->cols;
	cfg->pitch_mm = bp->pitch_mm;
	cfg->geometry = bp->geometry;
	cfg->n_scales = bp->n_scales;
	cfg->ratio = bp->ratio;
	/* Same log spacing as km_bandpass_create. */
	for (unsigned i = 0; i < bp->n_scales; i++) {
		double t = bp->n_scales > 1 ? (double)i / (double)(bp->n_scales - 1) : 0.0;
		cfg->scale_mm[i] =
		    (float)(bp->sigma_min_mm * pow((double)bp->sigma_max_mm / bp->sigma_min_mm, t));
	}
	return KM_OK;
}

static int fin_ge(float v, float lo)
{
	return isfinite(v) && v >= lo;
}

static int check_config(const struct km_detect_config *c)
{
	if (c->rows == 0 || c->cols == 0 || c->rows > KM_FRAME_MAX_DIM ||
	    c->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!(isfinite(c->pitch_mm) && c->pitch_mm > 0.0f))
		return KM_ERR_INVALID_ARG;
	if (c->geometry != KM_GEOMETRY_FLAT && c->geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	if (c->n_scales < 1 || c->n_scales > KM_BANDPASS_MAX_SCALES)
		return KM_ERR_INVALID_ARG;
	for (unsigned i = 0; i < c->n_scales; i++)
		if (!(isfinite(c->scale_mm[i]) && c->scale_mm[i] > 0.0f) ||
		    (i > 0 && !(c->scale_mm[i] > c->scale_mm[i - 1])))
			return KM_ERR_INVALID_ARG;
	if (!(isfinite(c->ratio) && c->ratio > 1.0f))
		return KM_ERR_INVALID_ARG;
	if (!fin_ge(c->noise_k, 0.0f) || !fin_ge(c->min_response_kpa, 0.0f) ||
	    !fin_ge(c->edge_ratio, 0.0f) || !fin_ge(c->outline_kpa, 0.0f) ||
	    !fin_ge(c->midline_half_width_mm, 0.0f) || !fin_ge(c->landmark_excess, 0.0f) ||
	    !fin_ge(c->support_sigmas, 0.0f) || c->support_sigmas > 10.0f ||
	    !fin_ge(c->min_separation_mm, 0.0f) || !fin_ge(c->outline_min_area_cm2, 0.0f) ||
	    !fin_ge(c->weak_fraction, 0.0f) || c->weak_fraction > 1.0f ||
	    !fin_ge(c->min_contrast, 0.0f) || c->min_contrast > 100.0f ||
	    !fin_ge(c->max_scale_growth, 0.0f) ||
	    (c->max_scale_growth > 0.0f && c->max_scale_growth <= 1.0f))
		return KM_ERR_INVALID_ARG;
	if (c->edge_ratio > 0.0f && c->edge_ratio < 1.0f)
		return KM_ERR_INVALID_ARG;
	if (c->noise_frames > 100000)
		return KM_ERR_INVALID_ARG;
	if (c->max_candidates < 1 || c->max_candidates > MAX_CAP)
		return KM_ERR_INVALID_ARG;
	if ((c->midline_mode != KM_DETECT_MASK_DROP && c->midline_mode != KM_DETECT_MASK_LABEL) ||
	    (c->landmark_mode != KM_DETECT_MASK_DROP && c->landmark_mode != KM_DETECT_MASK_LABEL))
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

int km_detect_create(const struct km_detect_config *cfg, km_detect **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, "dsp", "detect: bad config (%s)",
		        km_error_name(rc));
		return rc;
	}
	km_detect *d = km__calloc(1, sizeof *d);
	if (!d)
		return KM_ERR_NO_MEMORY;
	d->cfg = *cfg;
	d->R = cfg->rows;
	d->C = cfg->cols;
	d->periodic = cfg->geometry == KM_GEOMETRY_CYLINDER;
	d->n = cfg->n_scales;
	size_t cells = (size_t)d->R * (size_t)d->C;
	d->scratch = km__calloc(cells, sizeof(float));
	d->loaded = km__calloc(cells, 1);
	d->dist = km__calloc(cells, sizeof(uint16_t));
	d->row_left = km__calloc((size_t)d->R, sizeof(float));
	d->row_right = km__calloc((size_t)d->R, sizeof(float));
	d->mid = km__calloc((size_t)d->R, sizeof(float));
	d->cand = km__calloc(cfg->max_candidates, sizeof(struct km_candidate));
	if (!d->scratch || !d->loaded || !d->dist || !d->row_left || !d->row_right || !d->mid ||
	    !d->cand) {
		km_detect_destroy(d);
		return KM_ERR_NO_MEMORY;
	}
	km_detect_reset(d);
	*out = d;
	return KM_OK;
}

/* k-th smallest of a[0..n) (Hoare's quickselect); reorders a. */
static float select_kth(float *a, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
	while (lo < hi) {
		float pivot = a[lo + (hi - lo) / 2];
		ptrdiff_t i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				float t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		if (kk <= j)
			hi = j;
		else if (kk >= i)
			lo = i;
		else
			return a[kk];
	}
	return a[kk];
}

static float median(float *a, size_t n)
{
	if (n == 0)
		return 0.0f;
	float m = select_kth(a, n, n / 2);
	if (n % 2 == 0)
		m = 0.5f * (m + select_kth(a, n, n / 2 - 1));
	return m;
}

static void find_outline(km_detect *d, const float *kpa)
{
	struct km_body_outline *o = &d->outline;
	int R = d->R, C = d->C;
	float p = d->cfg.pitch_mm;
	size_t loaded = 0, nmid = 0;
	int top = -1, bottom = -1, left = C, right = -1;
	for (int r = 0; r < R; r++) {
		int first = -1, last = -1;
		for (int c = 0; c < C; c++) {
			size_t i = (size_t)r * (size_t)C + (size_t)c;
			d->loaded[i] = kpa[i] > d->cfg.outline_kpa;
			if (d->loaded[i]) {
				loaded++;
				if (first < 0)
					first = c;
				last = c;
			}
		}
		if (first >= 0 && last > first) {
			d->row_left[r] = ((float)first + 0.5f) * p;
			d->row_right[r] = ((float)last + 0.5f) * p;
			d->mid[nmid++] = (0.5f * (float)(first + last) + 0.5f) * p;
			if (top < 0)
				top = r;
			bottom = r;
			left = KM_MIN(left, first);
			right = KM_MAX(right, last);
		} else {
			d->row_left[r] = NAN;
			d->row_right[r] = NAN;
		}
	}
	o->loaded_cells = loaded;
	double area_cm2 = (double)loaded * (double)p * (double)p * 0.01;
	o->found = !d->periodic && loaded >= d->cfg.outline_min_cells && nmid >= 3 &&
	           area_cm2 >= (double)d->cfg.outline_min_area_cm2;
	if (o->found) {
		/* Median of the row midpoints: arms or a tool on one side shift a
		 * few rows' midpoints, not the median. */
		o->midline_x_mm = median(d->mid, nmid);
		o->left_mm = ((float)left + 0.5f) * p;
		o->right_mm = ((float)right + 0.5f) * p;
		o->top_mm = ((float)top + 0.5f) * p;
		o->bottom_mm = ((float)bottom + 0.5f) * p;
	} else {
		o->midline_x_mm = o->left_mm = o->right_mm = o->top_mm = o->bottom_mm = 0.0f;
	}
}

/* Chessboard distance (cells) from each cell to the nearest unloaded cell,
 * counting a flat mat's outside as unloaded: two raster passes (Rosenfeld &
 * Pfaltz 1966); periodic columns get a second round so the wrap propagates. */
static void distance_map(km_detect *d)
{
	int R = d->R, C = d->C;
	uint16_t *D = d->dist;
	const uint16_t inf = UINT16_MAX - 1;
	for (size_t i = 0; i < (size_t)R * (size_t)C; i++)
		D[i] = d->loaded[i] ? inf : 0;
	for (int round = 0; round < (d->periodic ? 2 : 1); round++) {
		for (int r = 0; r < R; r++)
			for (int c = 0; c < C; c++) {
				uint16_t *v = &D[(size_t)r * (size_t)C + (size_t)c];
				if (!*v)
					continue;
				uint32_t best = *v;
				for (int dc = -1; dc <= 1; dc++) {
					int cc = c + dc;
					for (int dr = -1; dr <= 0; dr++) {
						if (dr == 0 && dc >= 0)
							continue;
						int rr = r + dr;
						uint32_t nb;
						if (d->periodic)
							cc = (cc % C + C) % C;
						if (rr < 0 || (!d->periodic && (cc < 0 || cc >= C)))
							nb = 0;
						else
							nb = D[(size_t)rr * (size_t)C + (size_t)cc];
						best = KM_MIN(best, nb + 1);
					}
				}
				*v = (uint16_t)best;
			}
		for (int r = R - 1; r >= 0; r--)
			for (int c = C - 1; c >= 0; c--) {
				uint16_t *v = &D[(size_t)r * (size_t)C + (size_t)c];
				if (!*v)
					continue;
				uint32_t best = *v;
				for (int dc = -1; dc <= 1; dc++) {
					int cc = c + dc;
					for (int dr = 0; dr <= 1; dr++) {
						if (dr == 0 && dc <= 0)
							continue;
						int rr = r + dr;
						uint32_t nb;
						if (d->periodic)
							cc = (cc % C + C) % C;
						if (rr >= R ||
						    (!d->periodic && (cc < 0 || cc >= C)))
							nb = 0;
						else
							nb = D[(size_t)rr * (size_t)C + (size_t)cc];
						best = KM_MIN(best, nb + 1);
					}
				}
				*v = (uint16_t)best;
			}
	}
}

/* Robust SD (1.4826 x MAD) of one response layer over the loaded cells at
 * least three outer sigmas inside the loaded area, where mat and body edges
 * no longer reach the response; closer in (halving) when too few such cells
 * exist, and every cell when nothing is loaded. */
static float noise_sd(km_detect *d, const float *layer, unsigned s)
{
	size_t cells = (size_t)d->R * (size_t)d->C, n = 0;
	long need = lroundf(3.0f * d->cfg.ratio * d->cfg.scale_mm[s] / d->cfg.pitch_mm);
	for (long k = KM_MAX(need, 1);; k /= 2) {
		n = 0;
		for (size_t i = 0; i < cells; i++)
			if ((long)d->dist[i] >= k)
				d->scratch[n++] = layer[i];
		if (n >= 32 || k <= 1)
			break;
	}
	if (n < 32) {
		n = 0;
		for (size_t i = 0; i < cells; i++)
			d->scratch[n++] = layer[i];
	}
	float med = median(d->scratch, n);
	for (size_t i = 0; i < n; i++)
		d->scratch[i] = fabsf(d->scratch[i] - med);
	return 1.4826f * median(d->scratch, n); /* MAD -> SD for Gaussian noise */
}

static inline float at(const km_detect *d, const float *stack, int s, int r, int c)
{
	if (d->periodic)
		c = (c % d->C + d->C) % d->C;
	return stack[((size_t)s * (size_t)d->R + (size_t)r) * (size_t)d->C + (size_t)c];
}

/* Vertex offset of a 3-point fit, in cells, within +-0.5. The log-parabola
 * is exact for a Gaussian peak; fall back to a parabola for values <= 0. */
static float vertex(float a, float b, float c)
{
	float off = 0.0f;
	if (a > 0.0f && b > 0.0f && c > 0.0f) {
		float la = logf(a), lb = logf(b), lc = logf(c);
		float den = la - 2.0f * lb + lc;
		if (den < 0.0f)
			off = 0.5f * (la - lc) / den;
	} else {
		float den = a - 2.0f * b + c;
		if (den < 0.0f)
			off = 0.5f * (a - c) / den;
	}
	return KM_CLAMP(off, -0.5f, 0.5f);
}

/* Maximum of the significance z = response / threshold of its scale over the
 * 3x3x3 neighbourhood: scales compete by signal-to-noise, not raw kPa, so a
 * spot is not handed to a coarser scale whose threshold it cannot pass. */
static int is_max(const km_detect *d, const float *stack, const float *thr, int s, int r, int c,
                  float v)
{
	v /= thr[s];
	int sr = d->cfg.per_scale_nms ? 0 : 1;
	for (int ds = -sr; ds <= sr; ds++) {
		int ss = s + ds;
		if (ss < 0 || ss >= (int)d->n)
			continue;
		for (int dr = -1; dr <= 1; dr++)
			for (int dc = -1; dc <= 1; dc++) {
				if (!ds && !dr && !dc)
					continue;
				float w = at(d, stack, ss, r + dr, c + dc) / thr[ss];
				/* Ties go to the first in (s, r, c) order: one maximum
				 * per plateau. */
				int earlier =
				    ds < 0 || (ds == 0 && (dr < 0 || (dr == 0 && dc < 0)));
				if (earlier ? !(v > w) : !(v >= w))
					return 0;
			}
	}
	return 1;
}

static int edge_like(const km_detect *d, const float *stack, int s, int r, int c, float v)
{
	if (d->cfg.edge_ratio <= 0.0f)
		return 0;
	float dxx = at(d, stack, s, r, c + 1) + at(d, stack, s, r, c - 1) - 2.0f * v;
	float dyy = at(d, stack, s, r + 1, c) + at(d, stack, s, r - 1, c) - 2.0f * v;
	float dxy = 0.25f * (at(d, stack, s, r + 1, c + 1) - at(d, stack, s, r + 1, c - 1) -
	                     at(d, stack, s, r - 1, c + 1) + at(d, stack, s, r - 1, c - 1));
	float tr = dxx + dyy, det = dxx * dyy - dxy * dxy, q = d->cfg.edge_ratio;
	return !(det > 0.0f) || tr * tr * q >= (q + 1.0f) * (q + 1.0f) * det;
}

/* A knot lies under loaded tissue: every cell within support_sigmas inner sigmas
 * (chessboard) must be on the grid and loaded. Zero padding and body outlines
 * make strong blob-like DoG responses about 1.2 sigma inside each corner;
 * this drops them, at the price of missing spots that close to an edge. */
static int supported(const km_detect *d, int s, int r, int c)
{
	int k = (int)ceilf(d->cfg.support_sigmas * d->cfg.scale_mm[s] / d->cfg.pitch_mm);
	return (int)d->dist[(size_t)r * (size_t)d->C + (size_t)c] > KM_MAX(k, 1);
}

static void insert(km_detect *d, const struct km_candidate *k, size_t *over)
{
	size_t cap = d->cfg.max_candidates;
	if (d->count == cap) {
		(*over)++;
		if (!(k->response_kpa > d->cand[cap - 1].response_kpa))
			return;
		d->count--;
	}
	size_t i = d->count;
	while (i > 0 && d->cand[i - 1].response_kpa < k->response_kpa) {
		d->cand[i] = d->cand[i - 1];
		i--;
	}
	d->cand[i] = *k;
	d->count++;
}

int km_detect_execute(km_detect *d, const float *stack, const float *kpa, const float *background,
                      struct km_detect_result *res)
{
	if (!d || !stack || !kpa || !res)
		return KM_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	const struct km_detect_config *cf = &d->cfg;
	find_outline(d, kpa);
	distance_map(d);
	size_t cells = (size_t)d->R * (size_t)d->C;
	float thr[KM_BANDPASS_MAX_SCALES], weak[KM_BANDPASS_MAX_SCALES];
	/* The noise level of a scene changes slowly; a per-frame estimate
	 * breathes with the load and would make spots flicker. */
	float alpha = cf->noise_frames > 1 ? 1.0f / (float)cf->noise_frames : 1.0f;
	for (unsigned s = 0; s < d->n; s++) {
		if (d->have_ext) {
			d->noise[s] = d->ext_noise[s];
		} else {
			float now = noise_sd(d, stack + (size_t)s * cells, s);
			d->noise[s] =
			    d->have_noise ? d->noise[s] + alpha * (now - d->noise[s]) : now;
		}
		res->noise_sd_kpa[s] = d->noise[s];
		thr[s] = fmaxf(cf->noise_k * res->noise_sd_kpa[s], cf->min_response_kpa);
		weak[s] = cf->weak_fraction > 0.0f ? cf->weak_fraction * thr[s] : thr[s];
	}
	d->have_noise = 1;
	d->count = 0;
	size_t over = 0, masked = 0;
	float p = cf->pitch_mm, sq = sqrtf(cf->ratio);
	/* A flat mat's border cells have no outer neighbours to fit or compare. */
	int c0 = d->periodic ? 0 : 1, c1 = d->periodic ? d->C : d->C - 1;
	for (unsigned su = 0; su < d->n; su++) {
		int s = (int)su;
		for (int r = 1; r < d->R - 1; r++)
			for (int c = c0; c < c1; c++) {
				float v = at(d, stack, s, r, c);
				if (!(v > weak[s]))
					continue;
				/* Relative contrast (a knot's excess is a fraction of the
				 * load it sits under); weak ones at weak_fraction of it. */
				float need = 0.0f;
				if (background && cf->min_contrast > 0.0f) {
					size_t ii = (size_t)r * (size_t)d->C +
					            (size_t)(d->periodic ? (c % d->C + d->C) % d->C : c);
					need = cf->min_contrast * fmaxf(background[ii], 0.0f);
					float wf = cf->weak_fraction > 0.0f ? cf->weak_fraction : 1.0f;
					if (!(v > wf * need))
						continue;
				}
				if (!is_max(d, stack, thr, s, r, c, v) ||
				    edge_like(d, stack, s, r, c, v))
					continue;
				struct km_candidate k;
				memset(&k, 0, sizeof k);
				float ox =
				    vertex(at(d, stack, s, r, c - 1), v, at(d, stack, s, r, c + 1));
				float oy =
				    vertex(at(d, stack, s, r - 1, c), v, at(d, stack, s, r + 1, c));
				float x = ((float)c + 0.5f + ox) * p;
				if (d->periodic && x < 0.0f)
					x += (float)d->C * p;
				k.x_mm = x;
				k.y_mm = ((float)r + 0.5f + oy) * p;
				float ls = logf(cf->scale_mm[s]);
				if (s > 0 && s < (int)d->n - 1) {
					/* Log-spaced scales: interpolate log(sigma) between
					 * neighbours with a plain parabola over the index. */
					float a = at(d, stack, s - 1, r, c),
					      b = at(d, stack, s + 1, r, c);
					float den = a - 2.0f * v + b, os = 0.0f;
					if (den < 0.0f)
						os = KM_CLAMP(0.5f * (a - b) / den, -0.5f, 0.5f);
					float step = os > 0.0f ? logf(cf->scale_mm[s + 1]) - ls
					                       : ls - logf(cf->scale_mm[s - 1]);
					ls += os * step;
				}
				k.scale_mm = expf(ls) * sq;
				k.response_kpa = v;
				size_t i = (size_t)r * (size_t)d->C + (size_t)c;
				k.peak_kpa = kpa[i];
				k.background_kpa = background ? background[i] : 0.0f;
				k.row = (uint16_t)r;
				k.col = (uint16_t)c;
				k.scale_index = (uint16_t)s;
				if (!(v > thr[s]) || !(v > need))
					k.flags |= KM_CANDIDATE_WEAK;
				/* Per-scale maxima: the coarsest layer is a guard band.
				 * Broad structures (arms, a scapula's dome) peak there;
				 * only landmark-strength peaks are kept from it. */
				bool top = cf->per_scale_nms && d->n > 2 && su == d->n - 1;
				if (d->outline.found && cf->midline_half_width_mm > 0.0f &&
				    fabsf(k.x_mm - d->outline.midline_x_mm) <
				        cf->midline_half_width_mm)
					k.flags |= KM_CANDIDATE_MIDLINE;
				if (background && cf->landmark_excess > 0.0f &&
				    v > cf->landmark_excess * fmaxf(background[i], 0.0f))
					k.flags |= KM_CANDIDATE_LANDMARK;
				if (!top && !(k.flags & KM_CANDIDATE_LANDMARK) && cf->per_scale_nms &&
				    cf->max_scale_growth > 0.0f && su + 1 < d->n &&
				    at(d, stack, s + 1, r, c) > cf->max_scale_growth * v)
					top = true;
				if (top && !(k.flags & KM_CANDIDATE_LANDMARK)) {
					masked++;
					continue;
				}
				/* Strong peaks may stand alone: a ball's ~2 cm^2 contact is an
				 * island of load with the body lifted around it. */
				if (cf->support_sigmas > 0.0f &&
				    !(k.flags & KM_CANDIDATE_LANDMARK) && !supported(d, s, r, c)) {
					masked++;
					continue;
				}
				if (((k.flags & KM_CANDIDATE_MIDLINE) &&
				     cf->midline_mode == KM_DETECT_MASK_DROP) ||
				    ((k.flags & KM_CANDIDATE_LANDMARK) &&
				     cf->landmark_mode == KM_DETECT_MASK_DROP)) {
					masked++;
					continue;
				}
				insert(d, &k, &over);
			}
	}
	/* One spot per min_separation_mm (signal-model.md: knots within 2 cm are
	 * one): the same peak often makes maxima at two scales a few mm apart.
	 * The list is sorted, so the stronger one stays. */
	if (cf->min_separation_mm > 0.0f) {
		float wrap = d->periodic ? (float)d->C * p : 0.0f;
		size_t kept = 0;
		for (size_t j = 0; j < d->count; j++) {
			int dup = 0;
			for (size_t i = 0; i < kept && !dup; i++) {
				float dx = d->cand[j].x_mm - d->cand[i].x_mm;
				if (wrap > 0.0f)
					dx = fabsf(dx) > 0.5f * wrap ? wrap - fabsf(dx) : dx;
				float dy = d->cand[j].y_mm - d->cand[i].y_mm;
				/* A landmark (bone, tool) swallows only what lies on it
				 * (half the radius: its own maxima at finer scales), not
				 * a knot beside it: knots sit around bony landmarks
				 * (rhomboid, infraspinatus by the scapula). */
				float sep = cf->min_separation_mm;
				if ((d->cand[j].flags ^ d->cand[i].flags) & KM_CANDIDATE_LANDMARK)
					sep *= 0.5f;
				dup = dx * dx + dy * dy < sep * sep;
			}
			if (dup)
				masked++;
			else
				d->cand[kept++] = d->cand[j];
		}
		d->count = kept;
	}
	res->candidates = d->cand;
	res->count = d->count;
	res->over_cap = over;
	res->masked = masked;
	res->outline = &d->outline;
	return KM_OK;
}

int km_detect_set_noise(km_detect *d, const float *sd, unsigned n)
{
	if (!d || (n != 0 && n != d->n) || (n && !sd))
		return KM_ERR_INVALID_ARG;
	for (unsigned i = 0; i < n; i++)
		if (!fin_ge(sd[i], 0.0f))
			return KM_ERR_INVALID_ARG;
	for (unsigned i = 0; i < n; i++)
		d->ext_noise[i] = sd[i];
	d->have_ext = n != 0;
	return KM_OK;
}

const struct km_body_outline *km_detect_outline(const km_detect *d)
{
	return d ? &d->outline : NULL;
}

void km_detect_reset(km_detect *d)
{
	if (!d)
		return;
	d->count = 0;
	d->have_noise = 0;
	memset(&d->outline, 0, sizeof d->outline);
	d->outline.rows = (uint16_t)d->R;
	d->outline.row_left_mm = d->row_left;
	d->outline.row_right_mm = d->row_right;
	for (int r = 0; r < d->R; r++)
		d->row_left[r] = d->row_right[r] = NAN;
}

void km_detect_destroy(km_detect *d)
{
	if (!d)
		return;
	km__free(d->scratch);
	km__free(d->loaded);
	km__free(d->dist);
	km__free(d->row_left);
	km__free(d->row_right);
	km__free(d->mid);
	km__free(d->cand);
	km__free(d);
}
