/*
 * Spot detection: robust thresholds, 3-D non-maximum suppression, sub-cell
 * refinement, body outline and spine midline mask. See knotmap/detect.h.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/detect.h"

#include "detect_scan.h"
#include "select.h"

#define MAX_CAP 1024u

struct km_detect {
	struct km_detect_config cfg;
	const struct km__detect_ops *ops; /* row scans: the widest this CPU runs */
	int R, C, periodic;
	float px, py; /* column pitch (x) and row pitch (y), mm */
	float pc;     /* their geometric mean: mm per cell of a chessboard distance */
	unsigned n;
	float *scratch; /* [3 x cells + 512] for medians */
	/* The loaded area as bit rows ([rows x words], bit c of a row = column c)
	 * and its erosions by squares: the cells whose chessboard distance to
	 * the nearest unloaded (or, flat, off-grid) cell is >= k, kept for the
	 * few k the noise masks and the support test ask for (fixed by the
	 * config). Bit rows make an erosion a few word operations per row. */
	int words;                         /* per row */
	int kbound;                        /* no cell is farther than this from an unloaded one */
	unsigned nk;                       /* kept masks */
	int *kslot;                        /* [kbound + 1] mask slot of k, or -1 */
	uint64_t *masks;                   /* [nk x rows x words]; slot 0 is k = 1 (loaded) */
	size_t *mcount;                    /* [nk] cells in each mask */
	uint64_t *ework, *hwork;           /* [rows x words] erosion buffers */
	int kmax_all, kmax_sup;            /* largest kept k; largest the support test needs */
	int ksup[KM_BANDPASS_MAX_SCALES];  /* support test: distance >= ksup (0: off grid) */
	float *row_left, *row_right, *mid; /* [rows] */
	/* The trunk (km_detect_set_trunk_only): per row, the first and last
	 * column of the trunk's contact, -1 off it. */
	int16_t *trunk_first, *trunk_last; /* [rows] */
	int16_t *run_first, *run_last;     /* [rows] the run through the midline */
	bool trunk_only;
	struct km_candidate *cand;         /* [raw_cap] */
	size_t raw_cap;                    /* maxima kept before the merge */
	size_t count;
	struct km_body_outline outline;
	float noise[KM_BANDPASS_MAX_SCALES]; /* smoothed noise SD per scale */
	int have_noise;
	float ext_noise[KM_BANDPASS_MAX_SCALES]; /* km_detect_set_noise */
	float tex[KM_BANDPASS_MAX_SCALES];       /* texture SD per scale (relative) */
	float texm[KM_BANDPASS_MAX_SCALES];      /* what the mirror image does not explain */
	int have_tex;
	unsigned tex_tick, tex_next;
	int have_ext;
};

struct km_detect_config km_detect_config_default(void)
{
	struct km_detect_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.ratio = 1.6f;
	c.noise_k = 3.0f;          /* docs/signal-model.md: > 3x noise SD */
	c.min_response_kpa = 2.0f; /* docs/signal-model.md: and > 2 kPa */
	c.edge_ratio = 10.0f;      /* Lowe 2004, principal curvature ratio */
	c.max_candidates = 32;
	c.outline_kpa = 1.0f;
	c.outline_min_cells = 30;
	/* A lying torso loads well over 1000 cm^2; a ball (~2 cm^2) or a foam
	 * roller strip (~70 cm^2, docs/signal-model.md) alone is not a body. (est.) */
	c.outline_min_area_cm2 = 300.0f;
	c.midline_half_width_mm = 25.0f; /* docs/signal-model.md: +-2.5 cm */
	c.landmark_excess = 0.8f;        /* knots: 15-40 % excess; bone / tool: far more */
	c.support_sigmas = 2.0f;
	c.min_separation_mm = 20.0f; /* docs/signal-model.md: merge within 2 cm */
	c.weak_fraction = 0.0f;
	c.noise_frames = 1;
	c.midline_mode = KM_DETECT_MASK_DROP;
	c.landmark_mode = KM_DETECT_MASK_DROP;
	c.mirror_tol_mm = 10.0f; /* est.: a body lying is symmetric to about 1 cm */
	c.mirror_mode = KM_DETECT_MASK_DROP;
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
	cfg->row_pitch_mm = bp->row_pitch_mm;
	cfg->col_pitch_mm = bp->col_pitch_mm;
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
	if (!(isfinite(c->pitch_mm) && c->pitch_mm > 0.0f) || !fin_ge(c->row_pitch_mm, 0.0f) ||
	    !fin_ge(c->col_pitch_mm, 0.0f))
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
	    !fin_ge(c->max_scale_growth, 0.0f) || !fin_ge(c->mirror_fraction, 0.0f) ||
	    !fin_ge(c->mirror_tol_mm, 0.0f) || c->mirror_tol_mm > 200.0f ||
	    !fin_ge(c->texture_k, 0.0f) || c->texture_k > 100.0f ||
	    !fin_ge(c->texture_mirror_k, 0.0f) || c->texture_mirror_k > 100.0f || c->texture_frames > 100000 ||
	    (c->max_scale_growth > 0.0f && c->max_scale_growth <= 1.0f))
		return KM_ERR_INVALID_ARG;
	if (c->edge_ratio > 0.0f && c->edge_ratio < 1.0f)
		return KM_ERR_INVALID_ARG;
	if (c->noise_frames > 100000)
		return KM_ERR_INVALID_ARG;
	if (c->max_candidates < 1 || c->max_candidates > MAX_CAP)
		return KM_ERR_INVALID_ARG;
	if ((c->midline_mode != KM_DETECT_MASK_DROP && c->midline_mode != KM_DETECT_MASK_LABEL) ||
	    (c->landmark_mode != KM_DETECT_MASK_DROP && c->landmark_mode != KM_DETECT_MASK_LABEL) ||
	    (c->mirror_mode != KM_DETECT_MASK_DROP && c->mirror_mode != KM_DETECT_MASK_LABEL))
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

static long noise_need(const km_detect *d, unsigned s)
{
	return lroundf(3.0f * d->cfg.ratio * d->cfg.scale_mm[s] / d->pc);
}

/* Which erosions of the loaded area execute needs: the noise masks of every
 * scale (with their halvings) and the support test's distance. */
static int plan_masks(km_detect *d)
{
	int R = d->R, C = d->C, B = (R + 1) / 2;
	if (!d->periodic)
		B = KM_MIN(B, (C + 1) / 2);
	d->kbound = B;
	d->words = (C + 63) / 64;
	d->kslot = km__calloc((size_t)B + 1, sizeof(int));
	if (!d->kslot)
		return KM_ERR_NO_MEMORY;
	for (int k = 0; k <= B; k++)
		d->kslot[k] = -1;
	d->kslot[1] = 0;
	for (unsigned s = 0; s < d->n; s++) {
		for (long k = KM_MAX(noise_need(d, s), 1);; k /= 2) {
			if (k <= B)
				d->kslot[k] = 0;
			if (k <= 1)
				break;
		}
		/* supported(): distance > max(ceil(support_sigmas x sigma / pitch), 1) */
		float kf = ceilf(d->cfg.support_sigmas * d->cfg.scale_mm[s] / d->pc);
		d->ksup[s] = 0; /* never: no cell is that far inside */
		if (kf < (float)B) {
			d->ksup[s] = KM_MAX((int)kf, 1) + 1;
			if (d->cfg.support_sigmas > 0.0f) {
				d->kslot[d->ksup[s]] = 0;
				d->kmax_sup = KM_MAX(d->kmax_sup, d->ksup[s]);
			}
		}
	}
	d->nk = 0;
	for (int k = 1; k <= B; k++)
		if (d->kslot[k] == 0) {
			d->kslot[k] = (int)d->nk++;
			d->kmax_all = k;
		}
	d->kmax_sup = KM_MAX(d->kmax_sup, 1);
	size_t rw = (size_t)R * (size_t)d->words;
	d->masks = km__calloc((size_t)d->nk * rw, sizeof(uint64_t));
	d->mcount = km__calloc(d->nk, sizeof(size_t));
	d->ework = km__calloc(rw, sizeof(uint64_t));
	d->hwork = km__calloc(rw, sizeof(uint64_t));
	if (!d->masks || !d->mcount || !d->ework || !d->hwork)
		return KM_ERR_NO_MEMORY;
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
	d->ops = km__detect_ops(KM_ISA_AVX512);
	d->R = cfg->rows;
	d->C = cfg->cols;
	d->periodic = cfg->geometry == KM_GEOMETRY_CYLINDER;
	d->px = cfg->col_pitch_mm > 0.0f ? cfg->col_pitch_mm : cfg->pitch_mm;
	d->py = cfg->row_pitch_mm > 0.0f ? cfg->row_pitch_mm : cfg->pitch_mm;
	d->pc = d->px == d->py ? d->px : sqrtf(d->px * d->py);
	d->n = cfg->n_scales;
	size_t cells = (size_t)d->R * (size_t)d->C;
	d->scratch = km__calloc(3 * cells + 512, sizeof(float));
	d->row_left = km__calloc((size_t)d->R, sizeof(float));
	d->row_right = km__calloc((size_t)d->R, sizeof(float));
	d->mid = km__calloc(2 * (size_t)d->R, sizeof(float)); /* midpoints, then their y */
	d->trunk_first = km__calloc((size_t)d->R, sizeof(int16_t));
	d->trunk_last = km__calloc((size_t)d->R, sizeof(int16_t));
	d->run_first = km__calloc((size_t)d->R, sizeof(int16_t));
	d->run_last = km__calloc((size_t)d->R, sizeof(int16_t));
	/* Room for the raw maxima before one spot per min_separation_mm: the
	 * same structure makes a maximum at several scales, and a ridge of
	 * vertebral levels a row of them; capping before that merge pushed
	 * weaker knots out of the list for duplicates that were dropped next. */
	d->raw_cap = 4u * cfg->max_candidates + 64u;
	d->cand = km__calloc(d->raw_cap, sizeof(struct km_candidate));
	if (!d->scratch || !d->row_left || !d->row_right || !d->mid || !d->cand ||
	    !d->trunk_first || !d->trunk_last || !d->run_first || !d->run_last ||
	    plan_masks(d) != KM_OK) {
		km_detect_destroy(d);
		return KM_ERR_NO_MEMORY;
	}
	km_detect_reset(d);
	*out = d;
	return KM_OK;
}

static int popcount64(uint64_t x)
{
#if defined(__GNUC__) && defined(__POPCNT__)
	return __builtin_popcountll(x);
#else
	x = x - ((x >> 1) & 0x5555555555555555u);
	x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
	return (int)((x * 0x0101010101010101u) >> 56);
#endif
}

static int top_bit64(uint64_t x) /* x != 0 */
{
#if defined(__GNUC__)
	return 63 - __builtin_clzll(x);
#else
	int n = 0;
	while (x >>= 1)
		n++;
	return n;
#endif
}

/* Loaded cells as bit rows (mask slot 0, k = 1), the row ends and the
 * outline. */
/* First column >= c whose bit equals `set`, or C. */
static int next_bit(const uint64_t *mr, int C, int c, bool set)
{
	while (c < C) {
		int w = c / 64;
		uint64_t b = (set ? mr[w] : ~mr[w]) & (~UINT64_C(0) << (c % 64));
		if (b)
			return KM_MIN(64 * w + km__ctz64(b), C);
		c = 64 * (w + 1);
	}
	return C;
}

/* The longest run of loaded cells in a bit row, gaps of up to `gap` cells
 * inside it (dead cells) bridged: *first, returns its length. */
static int longest_run(const uint64_t *mr, int C, int gap, int *first)
{
	int best = 0, start = -1, end = -1;
	for (int c = next_bit(mr, C, 0, true); c < C;) {
		int e = next_bit(mr, C, c, false);
		if (start < 0 || c - end > gap)
			start = c;
		end = e;
		if (end - start > best) {
			best = end - start;
			*first = start;
		}
		c = next_bit(mr, C, e, true);
	}
	return best;
}

/*
 * The spine midline through the rows' midpoints d->mid[0..n) (their y in
 * d->mid[R..R + n)): a person seldom lies square to the mat (1.5 degrees
 * turn the midline 13 mm over a 50 cm back, and the mirror test needs it to
 * a few mm), so a line x = x0 + slope (y - y0), not a vertical. The median
 * first (arms or a tool on one side shift a few rows' midpoints, not the
 * median), then least squares over the rows within 40 mm of it, then over
 * those within 15 mm of that line. Slopes beyond 0.25 (14 degrees) are
 * clamped: the detector assumes the body along the rows.
 */
static void fit_midline(km_detect *d, size_t n)
{
	struct km_body_outline *o = &d->outline;
	const float *x = d->mid, *y = d->mid + d->R;
	float *tmp = d->scratch;
	memcpy(tmp, x, n * sizeof(float));
	float x0 = km__median(tmp, n), slope = 0.0f, y0 = 0.0f;
	double sy = 0.0;
	for (size_t i = 0; i < n; i++)
		sy += y[i];
	y0 = (float)(sy / (double)n);
	for (int pass = 0; pass < 2; pass++) {
		float keep = pass ? 15.0f : 40.0f;
		double n1 = 0, mx = 0, my = 0, sxy = 0, syy = 0;
		for (size_t i = 0; i < n; i++)
			if (fabsf(x[i] - (x0 + slope * (y[i] - y0))) < keep) {
				n1++;
				mx += x[i];
				my += y[i];
			}
		if (n1 < 8)
			break;
		mx /= n1;
		my /= n1;
		for (size_t i = 0; i < n; i++)
			if (fabsf(x[i] - (x0 + slope * (y[i] - y0))) < keep) {
				sxy += (x[i] - mx) * (y[i] - my);
				syy += (y[i] - my) * (y[i] - my);
			}
		slope = syy > 0.0 ? (float)(sxy / syy) : 0.0f;
		slope = KM_CLAMP(slope, -0.25f, 0.25f);
		x0 = (float)mx;
		y0 = (float)my;
	}
	o->midline_x_mm = x0;
	o->midline_y_mm = y0;
	o->midline_slope = slope;
}

static void find_outline(km_detect *d, const float *kpa)
{
	struct km_body_outline *o = &d->outline;
	int R = d->R, C = d->C, W = d->words;
	float px = d->px, py = d->py, thr = d->cfg.outline_kpa;
	size_t loaded = 0, nmid = 0;
	int top = -1, bottom = -1, left = C, right = -1;
	uint64_t *m = d->masks;
	/* A dead line of sensels is a gap of a cell or two; the gap between an
	 * arm and the trunk is wider than 15 mm (at a coarse pitch it can be a
	 * single cell, so nothing is bridged there). */
	int dead_gap = (int)floorf(15.0f / px);
	for (int r = 0; r < R; r++) {
		int first = -1, last = -1;
		uint64_t *mr = m + (size_t)r * (size_t)W;
		d->ops->gt_bits(kpa + (size_t)r * (size_t)C, C, thr, mr);
		for (int w = 0; w < W; w++) {
			uint64_t b = mr[w];
			if (b) {
				loaded += (size_t)popcount64(b);
				if (first < 0)
					first = 64 * w + km__ctz64(b);
				last = 64 * w + top_bit64(b);
			}
		}
		if (first >= 0 && last > first) {
			d->row_left[r] = ((float)first + 0.5f) * px;
			d->row_right[r] = ((float)last + 0.5f) * px;
			/* The midpoint of the row's longest run: the trunk, not
			 * an arm beside it or a strip of cells stuck on at the
			 * mat's edge (a real bed sheet's first column); a dead
			 * line through the trunk does not split it. */
			int a = first, len = longest_run(mr, C, dead_gap, &a);
			if (len >= 2) {
				d->mid[nmid] = ((float)a + 0.5f * (float)len) * px;
				d->mid[(size_t)R + nmid++] = ((float)r + 0.5f) * py;
			}
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
	d->mcount[0] = loaded;
	o->loaded_cells = loaded;
	double area_cm2 = (double)loaded * (double)px * (double)py * 0.01;
	o->found = !d->periodic && loaded >= d->cfg.outline_min_cells && nmid >= 3 &&
	           area_cm2 >= (double)d->cfg.outline_min_area_cm2;
	if (o->found) {
		fit_midline(d, nmid);
		o->left_mm = ((float)left + 0.5f) * px;
		o->right_mm = ((float)right + 0.5f) * px;
		o->top_mm = ((float)top + 0.5f) * py;
		o->bottom_mm = ((float)bottom + 0.5f) * py;
	} else {
		o->midline_x_mm = o->left_mm = o->right_mm = o->top_mm = o->bottom_mm = 0.0f;
		o->midline_y_mm = o->midline_slope = 0.0f;
	}
}

static bool loaded_bit(const km_detect *d, int r, int c)
{
	return (d->masks[(size_t)r * (size_t)d->words + (size_t)(c / 64)] >> (c % 64)) & 1u;
}

/*
 * The trunk of a body lying on the mat (km_detect_set_trunk_only): each
 * row's run of loaded cells through the midline; the trunk is the band of
 * rows where that run is wide (0.7 x the widest runs' width or more: a
 * head, with a pillow, reaches about 0.6, the neck and the legs less, and
 * the legs leave the midline unloaded; a waist narrower than that is
 * bridged below), with gaps of up to 250 mm inside it bridged by the rows above
 * and below (a lumbar curve lifts the lower back off a firm mat: 170 mm of
 * rows on the virtual mat's back-lying body; the cleft between the buttocks
 * lifts the midline). The head and the legs are narrow rows, never wide
 * ones, so a long bridge does not reach them. Arms beside the body and the heels are separate
 * contacts, off the trunk.
 */
static void find_trunk(km_detect *d)
{
	int R = d->R, C = d->C;
	float px = d->px, py = d->py;
	for (int r = 0; r < R; r++)
		d->trunk_first[r] = d->trunk_last[r] = -1;
	if (!d->outline.found)
		return;
	float *w = d->scratch;
	int nw = 0;
	for (int r = 0; r < R; r++) {
		int cm = (int)floorf(km_outline_midline_at(&d->outline, ((float)r + 0.5f) * py) / px);
		cm = KM_CLAMP(cm, 0, C - 1);
		int a = cm, b = cm;
		if (!loaded_bit(d, r, cm)) {
			d->run_first[r] = d->run_last[r] = -1;
			continue;
		}
		while (a > 0 && loaded_bit(d, r, a - 1))
			a--;
		while (b < C - 1 && loaded_bit(d, r, b + 1))
			b++;
		d->run_first[r] = (int16_t)a;
		d->run_last[r] = (int16_t)b;
		w[nw++] = (float)(b - a + 1);
	}
	if (nw < 3)
		return;
	/* The widest runs' width: the 80th percentile (a few rows with an arm
	 * touching the trunk do not set it). */
	float wide = km__select_kth(w, (size_t)nw, (size_t)(0.8f * (float)(nw - 1)));
	int min_w = KM_MAX(2, (int)ceilf(0.7f * wide));
	int gap_rows = (int)lroundf(250.0f / py);
	/* The longest band of wide rows with gaps of at most gap_rows. */
	int best0 = -1, best1 = -1, best_n = 0, b0 = -1, last = -1, n = 0;
	for (int r = 0; r < R; r++) {
		if (d->run_first[r] < 0 || d->run_last[r] - d->run_first[r] + 1 < min_w)
			continue;
		if (b0 < 0 || r - last - 1 > gap_rows) {
			b0 = r;
			n = 0;
		}
		last = r;
		if (++n > best_n) {
			best_n = n;
			best0 = b0;
			best1 = r;
		}
	}
	if (best_n < 3)
		return;
	int above = -1;
	for (int r = best0; r <= best1; r++) {
		bool wide_row =
		    d->run_first[r] >= 0 && d->run_last[r] - d->run_first[r] + 1 >= min_w;
		if (wide_row) {
			d->trunk_first[r] = d->run_first[r];
			d->trunk_last[r] = d->run_last[r];
			above = r;
			continue;
		}
		int below = r + 1;
		while (below <= best1 && !(d->run_first[below] >= 0 &&
		                           d->run_last[below] - d->run_first[below] + 1 >= min_w))
			below++;
		d->trunk_first[r] = KM_MIN(d->run_first[above], d->run_first[below]);
		d->trunk_last[r] = KM_MAX(d->run_last[above], d->run_last[below]);
	}
}

/* On the trunk (to a cell beyond its edge: a knot at the flank of the back). */
static bool on_trunk(const km_detect *d, int r, int c)
{
	return d->trunk_first[r] >= 0 && c >= d->trunk_first[r] - 1 && c <= d->trunk_last[r] + 1;
}

/* One erosion by the 3 x 3 square: a cell stays if it and its 8 neighbours
 * are loaded (off-grid rows, and a flat mat's off-grid columns, are not;
 * a cylinder's columns wrap). src may be dst. Returns the cells left. */
static size_t erode(const km_detect *d, const uint64_t *src, uint64_t *dst)
{
	int R = d->R, W = d->words, lw = (d->C - 1) / 64, lb = (d->C - 1) % 64;
	uint64_t *h = d->hwork;
	for (int r = 0; r < R; r++) {
		const uint64_t *x = src + (size_t)r * (size_t)W;
		uint64_t *y = h + (size_t)r * (size_t)W;
		uint64_t wrap_l = 0, wrap_r = 0;
		if (d->periodic) {
			wrap_l = (x[lw] >> lb) & 1u; /* column C - 1, left of column 0 */
			wrap_r = (x[0] & 1u) << lb;  /* column 0, right of column C - 1 */
		}
		for (int w = 0; w < W; w++) {
			uint64_t l = x[w] << 1 | (w > 0 ? x[w - 1] >> 63 : wrap_l);
			uint64_t rt = x[w] >> 1 | (w + 1 < W ? x[w + 1] << 63 : wrap_r);
			y[w] = x[w] & l & rt;
		}
	}
	size_t n = 0;
	for (int r = 0; r < R; r++) {
		const uint64_t *y = h + (size_t)r * (size_t)W;
		uint64_t *o = dst + (size_t)r * (size_t)W;
		for (int w = 0; w < W; w++) {
			/* rows off the grid are unloaded */
			uint64_t v = r > 0 && r + 1 < R ? y[w - W] & y[w] & y[w + W] : 0;
			o[w] = v;
			n += (size_t)popcount64(v);
		}
	}
	return n;
}

/* The kept masks up to k = kmax: mask k holds the cells whose chessboard
 * distance to the nearest unloaded cell (a flat mat's outside counts as
 * unloaded; a cylinder's columns wrap) is >= k, i.e. the loaded area
 * eroded k - 1 times (squares add up). */
static void build_masks(km_detect *d, int kmax)
{
	size_t rw = (size_t)d->R * (size_t)d->words;
	const uint64_t *cur = d->masks;
	for (int k = 2; k <= kmax; k++) {
		int slot = d->kslot[k];
		uint64_t *dst = slot >= 0 ? d->masks + (size_t)slot * rw : d->ework;
		size_t n = erode(d, cur, dst);
		if (slot >= 0)
			d->mcount[slot] = n;
		cur = dst;
		if (n == 0) {
			/* empty from here on */
			for (int kk = k + 1; kk <= kmax; kk++)
				if (d->kslot[kk] >= 0) {
					memset(d->masks + (size_t)d->kslot[kk] * rw, 0,
					       rw * sizeof(uint64_t));
					d->mcount[d->kslot[kk]] = 0;
				}
			break;
		}
	}
}

static size_t mask_count(const km_detect *d, long k)
{
	return k <= d->kbound ? d->mcount[d->kslot[k]] : 0;
}

/* k-th smallest of a[0..n) and, when prev, the (k-1)-th (k >= 1); values
 * finite (or infinite, never NaN), so the answer is a value of the multiset
 * whatever the order. Floyd & Rivest's idea: two sample quantiles bracket
 * the k-th with high probability; one branch-free pass counts what lies
 * below and copies what lies between, and only that is searched. a is left
 * as it is unless the bracket misses (then quickselect over a). tmp holds
 * 2.5 n + 300 floats. */
static float fast_kth(const struct km__detect_ops *ops, float *a, size_t n, size_t k, float *tmp,
                      float *prev, int depth)
{
	if (n > 64) {
		size_t m = n >= 1500 ? 128 : 64, delta = m == 128 ? 14 : 10, stride = n / m;
		float *smp = tmp, *band = tmp + m;
		for (size_t j = 0; j < m; j++)
			smp[j] = a[j * stride + stride / 2];
		size_t pos = k * m / n;
		float lo = -INFINITY, hi = INFINITY;
		size_t ilo = 0;
		if (pos >= delta) {
			ilo = pos - delta;
			lo = km__select_kth(smp, m, ilo);
		}
		if (pos + delta < m) /* smp[ilo + 1 ..] >= lo after the first select */
			hi = pos >= delta
			         ? km__select_kth(smp + ilo + 1, m - ilo - 1, pos + delta - ilo - 1)
			         : km__select_kth(smp, m, pos + delta);
		size_t lt = 0, nb = ops->band(a, n, lo, hi, band, &lt);
		if (k >= lt && k - lt < nb) {
			float r, p = 0.0f;
			if (k == lt && prev) {
				/* the (k-1)-th is the largest value below the band */
				p = -INFINITY;
				for (size_t i = 0; i < n; i++)
					p = a[i] < lo && a[i] > p ? a[i] : p;
				*prev = p;
				prev = NULL;
			}
			if (depth < 1 && nb > 64 && nb <= n / 2)
				return fast_kth(ops, band, nb, k - lt, band + nb + 1, prev,
				                depth + 1);
			r = km__select_kth(band, nb, k - lt);
			if (prev) {
				size_t kb = k - lt;
				p = band[0];
				for (size_t i = 1; i < kb; i++)
					p = band[i] > p ? band[i] : p;
				*prev = p;
			}
			return r;
		}
	}
	/* quickselect leaves a[0..k) <= a[k] (no NaN) */
	float r = km__select_kth(a, n, k);
	if (prev) {
		float p = a[0];
		for (size_t i = 1; i < k; i++)
			p = a[i] > p ? a[i] : p;
		*prev = p;
	}
	return r;
}

/* km__median() for values without NaN, a left reordered or not. */
static float fast_median(const struct km__detect_ops *ops, float *a, size_t n, float *tmp)
{
	if (n == 0)
		return 0.0f;
	float prev = 0.0f;
	float m = fast_kth(ops, a, n, n / 2, tmp, n % 2 == 0 ? &prev : NULL, 0);
	if (n % 2 == 0)
		m = 0.5f * (m + prev);
	return m;
}

/* Robust SD (1.4826 x MAD) of one response layer over the loaded cells at
 * least three outer sigmas inside the loaded area, where mat and body edges
 * no longer reach the response; closer in (halving) when too few such cells
 * exist, and every cell when nothing is loaded. */
/* 1.4826 x MAD of a[0..n) (reordered): the SD of Gaussian noise, robust to
 * the spots and edges among the values. */
static float robust_sd(km_detect *d, float *a, size_t n)
{
	int finite = 1;
	for (size_t i = 0; i < n; i++)
		finite &= fabsf(a[i]) <= FLT_MAX;
	if (!finite) {
		/* NaN or inf: the order-dependent original path, exactly */
		float med = km__median(a, n);
		for (size_t i = 0; i < n; i++)
			a[i] = fabsf(a[i] - med);
		return 1.4826f * km__median(a, n);
	}
	float *tmp = d->scratch + (size_t)d->R * (size_t)d->C;
	float med = fast_median(d->ops, a, n, tmp);
	for (size_t i = 0; i < n; i++)
		a[i] = fabsf(a[i] - med);
	return 1.4826f * fast_median(d->ops, a, n, tmp); /* MAD -> SD for Gaussian noise */
}

static float noise_sd(km_detect *d, const float *layer, const float *div, unsigned s, bool mirror)
{
	size_t cells = (size_t)d->R * (size_t)d->C, n = 0;
	long need = noise_need(d, s), k;
	for (k = KM_MAX(need, 1);; k /= 2) {
		n = mask_count(d, k);
		if (n >= 32 || k <= 1)
			break;
	}
	float *a = d->scratch;
	if (div) {
		/* Relative texture: response / background over the cells where the
		 * background carries load (the same interior mask). */
		if (n < 32)
			return 0.0f;
		int W = d->words;
		const uint64_t *m = d->masks + (size_t)d->kslot[k] * (size_t)d->R * (size_t)W;
		size_t j = 0;
		float floor = fmaxf(d->cfg.outline_kpa, 1e-6f);
		/* mirror: each cell left of the midline against its
		 * mirror image, both inside the mask; the difference of two
		 * independent textures has sqrt(2) times their SD. */
		if (mirror && (!d->outline.found || d->periodic))
			return 0.0f; /* no body, no mirror image: no such texture */
		float px = d->px, py = d->py;
		for (int r = 0; r < d->R; r++) {
			/* column c mirrored about this row's midline: m2 - c */
			float m2 =
			    2.0f * km_outline_midline_at(&d->outline, ((float)r + 0.5f) * py) / px - 1.0f;
			const uint64_t *mr = m + (size_t)r * (size_t)W;
			for (int w = 0; w < W; w++) {
				uint64_t b = mr[w];
				size_t base = (size_t)r * (size_t)d->C + 64 * (size_t)w;
				while (b) {
					int c = 64 * w + km__ctz64(b);
					size_t i = base + (size_t)km__ctz64(b);
					b &= b - 1;
					if (!(div[i] > floor))
						continue;
					float q = layer[i] / div[i];
					if (mirror) {
						/* to the nearest cell */
						int cm = (int)lroundf(m2 - (float)c);
						if (cm <= c || cm >= d->C)
							continue;
						size_t im = (size_t)r * (size_t)d->C + (size_t)cm;
						if (!((mr[cm / 64] >> (cm % 64)) & 1u) || !(div[im] > floor))
							continue;
						q -= layer[im] / div[im];
					}
					if (fabsf(q) <= FLT_MAX)
						a[j++] = q;
				}
			}
		}
		n = j;
		if (n < (mirror ? 16u : 32u))
			return 0.0f;
		if (mirror)
			return robust_sd(d, a, n) / sqrtf(2.0f);
	} else if (n < 32) {
		n = cells;
		memcpy(a, layer, cells * sizeof(float));
	} else {
		/* row-major, as a scan of the distance map would collect them */
		int W = d->words;
		const uint64_t *m = d->masks + (size_t)d->kslot[k] * (size_t)d->R * (size_t)W;
		size_t j = 0;
		for (int r = 0; r < d->R; r++)
			for (int w = 0; w < W; w++) {
				uint64_t b = m[(size_t)r * (size_t)W + (size_t)w];
				const float *src =
				    layer + (size_t)r * (size_t)d->C + 64 * (size_t)w;
				while (b) {
					a[j++] = src[km__ctz64(b)];
					b &= b - 1;
				}
			}
	}
	return robust_sd(d, a, n);
}

/* The body's texture at scale s: plain and unexplained by the mirror image
 * (only the ones the config uses). */
static void measure_texture(km_detect *d, const float *stack, const float *background, unsigned s)
{
	const float *layer = stack + (size_t)s * (size_t)d->R * (size_t)d->C;
	d->tex[s] = d->cfg.texture_k > 0.0f ? noise_sd(d, layer, background, s, false) : 0.0f;
	d->texm[s] =
	    d->cfg.texture_mirror_k > 0.0f ? noise_sd(d, layer, background, s, true) : 0.0f;
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

/* is_max() for a cell that passed the threshold, with the same answer: the
 * divisions are monotone for a positive finite threshold, so a raw
 * comparison settles most neighbours (an earlier one >= v rejects, a later
 * one <= v passes) and only the rest is divided out. Cheapest first: the
 * same scale, then the others. cl, cr: the columns left and right of c. */
static int is_max_fast(const km_detect *d, const float *stack, const float *thr, int s, int r,
                       int c, int cl, int cr, float v)
{
	float t = thr[s];
	if (!(t > 0.0f && t <= FLT_MAX))
		return is_max(d, stack, thr, s, r, c, v);
	size_t C = (size_t)d->C, plane = (size_t)d->R * C;
	const float *m = stack + (size_t)s * plane + (size_t)r * C;
	const float *u = m - C, *b = m + C;
	/* earlier: (r-1, c-1..c+1), (r, c-1); later: (r, c+1), (r+1, c-1..c+1) */
	float e[4] = {u[cl], u[c], u[cr], m[cl]}, l[4] = {m[cr], b[cl], b[c], b[cr]};
	if (!(v > e[0]) || !(v > e[1]) || !(v > e[2]) || !(v > e[3]))
		return 0;
	float vt = v / t;
	for (int i = 0; i < 4; i++)
		if (!(v >= l[i]) && !(vt >= l[i] / t))
			return 0;
	for (int i = 0; i < 4; i++)
		if (!(vt > e[i] / t))
			return 0;
	if (d->cfg.per_scale_nms)
		return 1;
	for (int ds = -1; ds <= 1; ds += 2) {
		int ss = s + ds;
		if (ss < 0 || ss >= (int)d->n)
			continue;
		const float *q = stack + (size_t)ss * plane + (size_t)r * C;
		const float *qu = q - C, *qb = q + C;
		float w9[9] = {qu[cl], qu[c], qu[cr], q[cl], q[c], q[cr], qb[cl], qb[c], qb[cr]};
		float ts = thr[ss];
		for (int i = 0; i < 9; i++) {
			float w = w9[i];
			if (ds < 0) { /* a finer layer comes earlier */
				if (ts == t ? !(v > w) || !(vt > w / t) : !(vt > w / ts))
					return 0;
			} else if (ts == t ? !(v >= w) && !(vt >= w / t) : !(vt >= w / ts)) {
				return 0;
			}
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
	/* Curvatures per mm^2, up to a common factor (1 x 1 on square cells):
	 * on oblong cells a round spot is round in mm, not in cells. */
	float q = d->px / d->py;
	dyy *= q * q;
	dxy *= q;
	float tr = dxx + dyy, det = dxx * dyy - dxy * dxy, e = d->cfg.edge_ratio;
	return !(det > 0.0f) || tr * tr * e >= (e + 1.0f) * (e + 1.0f) * det;
}

/* A knot lies under loaded tissue: every cell within support_sigmas inner sigmas
 * (chessboard) must be on the grid and loaded. Zero padding and body outlines
 * make strong blob-like DoG responses about 1.2 sigma inside each corner;
 * this drops them, at the price of missing spots that close to an edge. */
static int supported(const km_detect *d, int s, int r, int c)
{
	/* distance > max(ceil(support_sigmas x sigma / pitch), 1), i.e. in mask ksup */
	int k = d->ksup[s];
	if (k == 0)
		return 0;
	size_t W = (size_t)d->words;
	const uint64_t *m = d->masks + ((size_t)d->kslot[k] * (size_t)d->R + (size_t)r) * W;
	return (int)((m[c / 64] >> (c % 64)) & 1u);
}

static void insert(km_detect *d, const struct km_candidate *k, size_t *over)
{
	size_t cap = d->raw_cap;
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

/* The mirror window's half-width in cells: the most whole cells within the
 * tolerance, at least one (the twin point falls between cells); 0 for a
 * tolerance of 0. Rounding up (two cells at 8 mm for 10 mm) reached a
 * neighbouring structure as often as the twin; rounding to the nearest gave
 * three cells at 4 mm, 12 mm out, and there a flank's twin window reached
 * the other side's peak (phantom, 128 x 128 @ 4 mm, two cells: recall
 * 0.619 -> 0.633, precision 0.996 -> 0.993; docs/accuracy.md, sixth pass). */
static int tol_cells(float tol_mm, float pitch_mm)
{
	if (!(tol_mm > 0.0f))
		return 0;
	return KM_MAX(1, (int)floorf(tol_mm / pitch_mm + 1e-4f));
}

/*
 * Left-right evidence (docs/accuracy.md, "Paired anatomy"): anatomy is
 * paired about the spine (shoulder blades, paraspinal muscles, buttocks,
 * heels), a knot is usually one-sided. The largest response at the same scale
 * within mirror_tol_mm of the point mirrored about the midline (0 off the
 * mat).
 */
static float mirror_response(const km_detect *d, const float *stack, int s, float x_mm, int r)
{
	const struct km_detect_config *cf = &d->cfg;
	float px = d->px, py = d->py;
	/* reflected across the midline x = x0 + slope (y - y0) */
	const struct km_body_outline *o = &d->outline;
	float y_mm = ((float)r + 0.5f) * py, b = o->midline_slope;
	float dist = x_mm - km_outline_midline_at(o, y_mm), k = 2.0f * dist / (1.0f + b * b);
	float xm = x_mm - k, ym = y_mm + k * b;
	int cm = (int)lroundf(xm / px - 0.5f);
	r = (int)lroundf(ym / py - 0.5f);
	int t = tol_cells(cf->mirror_tol_mm, py), tc = tol_cells(cf->mirror_tol_mm, px);
	float best = 0.0f;
	for (int rr = r - t; rr <= r + t; rr++) {
		if (rr < 0 || rr >= d->R)
			continue;
		for (int cc = cm - tc; cc <= cm + tc; cc++)
			if (cc >= 0 && cc < d->C)
				best = fmaxf(best, at(d, stack, s, rr, cc));
	}
	return best;
}

/* A twin at least half as strong (paired anatomy is symmetric to that), and
 * what is left once it is taken away (mirror_fraction of it) fails the
 * thresholds `need`. A twin stronger than itself is still a twin: a ridge
 * whose twin carries a knot, or a flank beside the other side's bony peak,
 * is no excess. Only a twin over five times as strong is something else (a
 * stuck sensel, a tool). */
static bool paired(const km_detect *d, const float *stack, int s, float x_mm, int r, float v,
                   float need)
{
	float m = mirror_response(d, stack, s, x_mm, r);
	return m >= 0.5f * v && m <= 5.0f * v && !(v - d->cfg.mirror_fraction * m > need);
}

int km_detect_execute(km_detect *d, const float *stack, const float *kpa, const float *background,
                      struct km_detect_result *res)
{
	if (!d || !stack || !kpa || !res)
		return KM_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	const struct km_detect_config *cf = &d->cfg;
	find_outline(d, kpa);
	if (d->trunk_only)
		find_trunk(d);
	size_t cells = (size_t)d->R * (size_t)d->C;
	/* Texture: every scale at the first frame, then one scale every
	 * texture_frames frames (it is static: a median per frame would cost
	 * more than the detection). */
	bool tex_on = background && (cf->texture_k > 0.0f || cf->texture_mirror_k > 0.0f);
	bool tex_now = false;
	if (tex_on) {
		unsigned every = cf->texture_frames > 1 ? cf->texture_frames : 1;
		tex_now = !d->have_tex || ++d->tex_tick >= every;
	}
	build_masks(d, d->have_ext && !tex_now ? d->kmax_sup : d->kmax_all);
	if (tex_now) {
		d->tex_tick = 0;
		if (!d->have_tex) {
			for (unsigned s = 0; s < d->n; s++)
				measure_texture(d, stack, background, s);
			d->have_tex = 1;
		} else {
			unsigned s = d->tex_next;
			measure_texture(d, stack, background, s);
			d->tex_next = (s + 1) % d->n;
		}
	}
	float mc[KM_BANDPASS_MAX_SCALES];
	for (unsigned s = 0; s < d->n; s++) {
		mc[s] = cf->min_contrast;
		if (tex_on) {
			res->texture_sd[s] = d->tex[s];
			res->texture_mirror_sd[s] = d->texm[s];
			mc[s] = fmaxf(mc[s], fmaxf(cf->texture_k * d->tex[s],
			                           cf->texture_mirror_k * d->texm[s]));
		}
	}
	float thr[KM_BANDPASS_MAX_SCALES], weak[KM_BANDPASS_MAX_SCALES];
	/* The noise level of a scene changes slowly; a per-frame estimate
	 * breathes with the load and would make spots flicker. */
	float alpha = cf->noise_frames > 1 ? 1.0f / (float)cf->noise_frames : 1.0f, peak = 0.0f;
	for (unsigned s = 0; s < d->n; s++) {
		if (d->have_ext) {
			d->noise[s] = d->ext_noise[s];
		} else {
			float now = noise_sd(d, stack + (size_t)s * cells, NULL, s, false);
			d->noise[s] =
			    d->have_noise ? d->noise[s] + alpha * (now - d->noise[s]) : now;
		}
		res->noise_sd_kpa[s] = d->noise[s];
		thr[s] = fmaxf(cf->noise_k * res->noise_sd_kpa[s], cf->min_response_kpa);
		if (!(thr[s] > 0.0f)) {
			/* No floor (counts) and no noise (a synthetic stream): a
			 * ten-thousandth of the map's peak, far below any spot, keeps
			 * the significance response / threshold finite. */
			if (!(peak > 0.0f))
				for (size_t i = 0; i < cells; i++)
					peak = fmaxf(peak, kpa[i]);
			thr[s] = 1e-4f * peak;
		}
		weak[s] = cf->weak_fraction > 0.0f ? cf->weak_fraction * thr[s] : thr[s];
	}
	d->have_noise = 1;
	d->count = 0;
	size_t over = 0, masked = 0;
	float px = d->px, py = d->py, sq = sqrtf(cf->ratio);
	/* A flat mat's border cells have no outer neighbours to fit or compare. */
	int c0 = d->periodic ? 0 : 1, c1 = d->periodic ? d->C : d->C - 1;
	/* Nearly every cell is below the threshold, or not above its earlier
	 * same-layer neighbours: a row's cells that pass those tests (and the
	 * contrast test) come as bits from one vector pass, and only those are
	 * visited. Each test only rejects, as the checks below would. */
	struct km__scan_row sr;
	memset(&sr, 0, sizeof sr);
	sr.cols = d->C;
	bool contrast = background && (cf->min_contrast > 0.0f || tex_on);
	if (contrast)
		sr.wf = cf->weak_fraction > 0.0f ? cf->weak_fraction : 1.0f;
	uint64_t hits[(KM_FRAME_MAX_DIM + 63) / 64];
	for (unsigned su = 0; su < d->n; su++) {
		int s = (int)su;
		sr.weak = weak[s];
		sr.mc = contrast ? mc[s] : 0.0f;
		/* is_max_fast's raw comparisons with the earlier neighbours decide
		 * for a positive finite threshold */
		sr.nms = thr[s] > 0.0f && thr[s] <= FLT_MAX;
		for (int r = 1; r < d->R - 1; r++) {
			const float *row =
			    stack + ((size_t)s * (size_t)d->R + (size_t)r) * (size_t)d->C;
			sr.m = row;
			sr.u = row - d->C;
			sr.bg = sr.mc > 0.0f ? background + (size_t)r * (size_t)d->C : NULL;
			d->ops->row_hits(&sr, hits);
			if (c0 > 0) /* flat: the border columns are out */
				hits[0] &= ~(uint64_t)1;
			if (c1 < d->C)
				hits[c1 / 64] &= ~((uint64_t)1 << (c1 % 64));
			int w = 0;
			uint64_t hb = hits[0];
			for (;;) {
				while (!hb && ++w < d->words)
					hb = hits[w];
				if (!hb)
					break;
				int c = 64 * w + km__ctz64(hb);
				hb &= hb - 1;
				float v = row[c];
				int cl = c > 0 ? c - 1 : d->C - 1, cr = c + 1 < d->C ? c + 1 : 0;
				/* Relative contrast (a knot's excess is a fraction of the
				 * load it sits under); weak ones at weak_fraction of it. */
				float need = 0.0f;
				if (contrast && mc[s] > 0.0f) {
					/* fmaxf(b, 0) up to the sign of a zero, which no
					 * comparison below sees */
					float bg = background[(size_t)r * (size_t)d->C + (size_t)c];
					need = mc[s] * (bg > 0.0f ? bg : 0.0f);
					float wf =
					    cf->weak_fraction > 0.0f ? cf->weak_fraction : 1.0f;
					if (!(v > wf * need))
						continue;
				}
				if (!is_max_fast(d, stack, thr, s, r, c, cl, cr, v) ||
				    edge_like(d, stack, s, r, c, v))
					continue;
				struct km_candidate k;
				memset(&k, 0, sizeof k);
				float ox =
				    vertex(at(d, stack, s, r, c - 1), v, at(d, stack, s, r, c + 1));
				float oy =
				    vertex(at(d, stack, s, r - 1, c), v, at(d, stack, s, r + 1, c));
				float x = ((float)c + 0.5f + ox) * px;
				if (d->periodic && x < 0.0f)
					x += (float)d->C * px;
				k.x_mm = x;
				k.y_mm = ((float)r + 0.5f + oy) * py;
				float ls = logf(cf->scale_mm[s]);
				if (s > 0 && s < (int)d->n - 1) {
					/* Log-spaced scales: interpolate log(sigma) between
					 * neighbours with a plain parabola over the index.
					 */
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
				    fabsf(k.x_mm - km_outline_midline_at(&d->outline, k.y_mm)) <
				        cf->midline_half_width_mm)
					k.flags |= KM_CANDIDATE_MIDLINE;
				if (background && cf->landmark_excess > 0.0f &&
				    v > cf->landmark_excess * fmaxf(background[i], 0.0f))
					k.flags |= KM_CANDIDATE_LANDMARK;
				if (!top && !(k.flags & KM_CANDIDATE_LANDMARK) &&
				    cf->per_scale_nms && cf->max_scale_growth > 0.0f &&
				    su + 1 < d->n &&
				    at(d, stack, s + 1, r, c) > cf->max_scale_growth * v)
					top = true;
				if (top && !(k.flags & KM_CANDIDATE_LANDMARK)) {
					masked++;
					continue;
				}
				/* An excess with a twin across the midline is paired
				 * anatomy, not a knot: what is left once the twin is
				 * taken away must still pass the thresholds. */
				if (cf->mirror_fraction > 0.0f && d->outline.found &&
				    !d->periodic &&
				    !(k.flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE)) &&
				    paired(d, stack, s, k.x_mm, r, v, fmaxf(thr[s], need))) {
					if (cf->mirror_mode == KM_DETECT_MASK_DROP) {
						masked++;
						continue;
					}
					k.flags |= KM_CANDIDATE_PAIRED;
				}
				/* A lying body's knots are looked for on its trunk: arms,
				 * head and legs touch a flat mat with small bony
				 * contacts where a maximum says nothing of stiffness.
				 * A tool's contact (landmark strength) is kept anywhere. */
				if (d->trunk_only && !(k.flags & KM_CANDIDATE_LANDMARK) &&
				    !on_trunk(d, r, c)) {
					masked++;
					continue;
				}
				/* Strong peaks may stand alone: a ball's ~2 cm^2 contact is
				 * an island of load with the body lifted around it. */
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
	}
	/* One spot per min_separation_mm (docs/signal-model.md: knots within 2 cm are
	 * one): the same peak often makes maxima at two scales a few mm apart.
	 * The list is sorted, so the stronger one stays. */
	if (cf->min_separation_mm > 0.0f) {
		float wrap = d->periodic ? (float)d->C * px : 0.0f;
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
	if (d->count > cf->max_candidates) {
		over += d->count - cf->max_candidates;
		d->count = cf->max_candidates;
	}
	res->candidates = d->cand;
	res->count = d->count;
	res->over_cap = over;
	res->masked = masked;
	res->outline = &d->outline;
	return KM_OK;
}

int km_detect_set_trunk_only(km_detect *d, bool on)
{
	if (!d)
		return KM_ERR_INVALID_ARG;
	d->trunk_only = on && !d->periodic;
	return KM_OK;
}

int km_detect_set_min_response(km_detect *d, float kpa)
{
	if (!d || !(kpa >= 0.0f) || !(kpa <= FLT_MAX))
		return KM_ERR_INVALID_ARG;
	d->cfg.min_response_kpa = kpa;
	return KM_OK;
}

int km_detect_set_outline(km_detect *d, float level)
{
	if (!d || !(level >= 0.0f) || !(level <= FLT_MAX))
		return KM_ERR_INVALID_ARG;
	d->cfg.outline_kpa = level;
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

const char *km__detect_set_isa(km_detect *d, enum km__isa isa)
{
	if (!d)
		return NULL;
	d->ops = km__detect_ops(isa);
	return d->ops->name;
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
	d->have_tex = 0;
	d->tex_tick = d->tex_next = 0;
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
	km__free(d->kslot);
	km__free(d->masks);
	km__free(d->mcount);
	km__free(d->ework);
	km__free(d->hwork);
	km__free(d->row_left);
	km__free(d->row_right);
	km__free(d->mid);
	km__free(d->trunk_first);
	km__free(d->trunk_last);
	km__free(d->run_first);
	km__free(d->run_last);
	km__free(d->cand);
	km__free(d);
}
