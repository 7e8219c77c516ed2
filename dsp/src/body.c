/*
 * Body model from a pressure map: outline, posture, midline, bony landmarks
 * and body coordinates. See knotmap/body.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/body.h"
#include "select.h"

/* Where adult proportions put each landmark, from the vertex, as a fraction
 * of the contact length (head ~13 % of stature; scapulae T2-T7; sacrum at
 * about half the stature; heels at the end). Est. from standard proportions. */
static const float band_lo[KM_LANDMARK_COUNT] = {0.00f, 0.15f, 0.15f, 0.40f, 0.85f, 0.85f};
static const float band_hi[KM_LANDMARK_COUNT] = {0.13f, 0.32f, 0.32f, 0.58f, 1.00f, 1.00f};
#define MIDLINE_MM 25.0f /* "on the midline" within this (the spine mask, detect.h) */
#define SACRUM_MM 60.0f  /* the sacrum's peak lies this close to the midline */

struct km_body {
	struct km_body_config cfg;
	int R, C;
	float px, py; /* column pitch (x), row pitch (y), mm */
	int16_t *first, *last; /* per row: loaded extent, -1 when empty */
	uint16_t *count, *runs;
	int16_t *run_first, *run_len; /* per row: the longest run of loaded cells */
	float *tmp; /* [rows] */
	struct km_body_model m;
};

struct km_body_config km_body_config_default(void)
{
	struct km_body_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.outline_kpa = 1.0f;
	c.min_area_cm2 = 300.0f;
	return c;
}

int km_body_create(const struct km_body_config *cfg, km_body **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	if (cfg->rows == 0 || cfg->cols == 0 || cfg->rows > KM_FRAME_MAX_DIM ||
	    cfg->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!(isfinite(cfg->pitch_mm) && cfg->pitch_mm > 0.0f) ||
	    !(isfinite(cfg->row_pitch_mm) && cfg->row_pitch_mm >= 0.0f) ||
	    !(isfinite(cfg->col_pitch_mm) && cfg->col_pitch_mm >= 0.0f) ||
	    !(isfinite(cfg->outline_kpa) && cfg->outline_kpa >= 0.0f) ||
	    !(isfinite(cfg->min_area_cm2) && cfg->min_area_cm2 >= 0.0f))
		return KM_ERR_INVALID_ARG;
	km_body *b = km__calloc(1, sizeof *b);
	if (!b)
		return KM_ERR_NO_MEMORY;
	b->cfg = *cfg;
	b->R = cfg->rows;
	b->C = cfg->cols;
	b->px = cfg->col_pitch_mm > 0.0f ? cfg->col_pitch_mm : cfg->pitch_mm;
	b->py = cfg->row_pitch_mm > 0.0f ? cfg->row_pitch_mm : cfg->pitch_mm;
	b->first = km__calloc(b->R, sizeof *b->first);
	b->last = km__calloc(b->R, sizeof *b->last);
	b->count = km__calloc(b->R, sizeof *b->count);
	b->runs = km__calloc(b->R, sizeof *b->runs);
	b->run_first = km__calloc(b->R, sizeof *b->run_first);
	b->run_len = km__calloc(b->R, sizeof *b->run_len);
	b->tmp = km__calloc(b->R, sizeof *b->tmp);
	if (!b->first || !b->last || !b->count || !b->runs || !b->tmp || !b->run_first ||
	    !b->run_len) {
		km_body_destroy(b);
		return KM_ERR_NO_MEMORY;
	}
	*out = b;
	return KM_OK;
}

void km_body_destroy(km_body *b)
{
	if (!b)
		return;
	km__free(b->first);
	km__free(b->run_first);
	km__free(b->run_len);
	km__free(b->last);
	km__free(b->count);
	km__free(b->runs);
	km__free(b->tmp);
	km__free(b);
}

const struct km_body_model *km_body_model(const km_body *b)
{
	return &b->m;
}

/* Median of a[0..n) by insertion sort (n <= rows: a few hundred). */
static float median(float *a, int n)
{
	for (int i = 1; i < n; i++) {
		float v = a[i];
		int j = i - 1;
		for (; j >= 0 && a[j] > v; j--)
			a[j + 1] = a[j];
		a[j + 1] = v;
	}
	return n ? (n % 2 ? a[n / 2] : 0.5f * (a[n / 2 - 1] + a[n / 2])) : NAN;
}

/* Row of fraction f from the vertex. */
static int row_at(const km_body *b, int top, int bottom, float f)
{
	float n = (float)(bottom - top + 1);
	int r = b->m.head_at_top ? top + (int)floorf(f * n) : bottom - (int)floorf(f * n);
	return KM_CLAMP(r, top, bottom);
}

/* Pressure peak over the rows of band [lo, hi] and x in [x0, x1] mm. */
static struct km_body_point peak(const km_body *b, const float *kpa, int top, int bottom, float lo,
                                 float hi, float x0, float x1)
{
	struct km_body_point p = {false, 0.0f, 0.0f, 0.0f};
	int r0 = row_at(b, top, bottom, lo), r1 = row_at(b, top, bottom, hi);
	if (r0 > r1) {
		int t = r0;
		r0 = r1;
		r1 = t;
	}
	float best = b->cfg.outline_kpa;
	for (int r = r0; r <= r1; r++)
		for (int c = 0; c < b->C; c++) {
			float x = ((float)c + 0.5f) * b->px,
			      v = kpa[(size_t)r * (size_t)b->C + (size_t)c];
			if (x < x0 || x > x1 || !(v > best))
				continue;
			best = v;
			p = (struct km_body_point){true, x, ((float)r + 0.5f) * b->py, v};
		}
	return p;
}

/* Mean pressure of the loaded cells over the rows of band [lo, hi]. */
static float band_mean(const km_body *b, const float *kpa, int top, int bottom, float lo, float hi)
{
	int r0 = row_at(b, top, bottom, lo), r1 = row_at(b, top, bottom, hi);
	if (r0 > r1) {
		int t = r0;
		r0 = r1;
		r1 = t;
	}
	double sum = 0.0;
	size_t n = 0;
	for (int r = r0; r <= r1; r++)
		for (int c = 0; c < b->C; c++) {
			float v = kpa[(size_t)r * (size_t)b->C + (size_t)c];
			if (v > b->cfg.outline_kpa) {
				sum += v;
				n++;
			}
		}
	return n ? (float)(sum / (double)n) : 0.0f;
}

int km_body_set_outline(km_body *b, float level)
{
	if (!b || !(level >= 0.0f) || !isfinite(level))
		return KM_ERR_INVALID_ARG;
	b->cfg.outline_kpa = level;
	return KM_OK;
}

int km_body_update(km_body *b, const float *kpa)
{
	if (!b || !kpa)
		return KM_ERR_INVALID_ARG;
	struct km_body_model *m = &b->m;
	memset(m, 0, sizeof *m);
	float px = b->px, py = b->py, thr = b->cfg.outline_kpa;
	int top = -1, bottom = -1, left = b->C, right = -1;
	size_t loaded = 0;
	int dead_gap = (int)floorf(15.0f / px);
	for (int r = 0; r < b->R; r++) {
		const float *row = kpa + (size_t)r * (size_t)b->C;
		int first = -1, last = -1, n = 0, runs = 0, prev = 0;
		/* The longest run bridges dead cells (gaps up to 15 mm), as the
		 * detector's outline does (knotmap/detect.h). */
		int run0 = 0, best0 = -1, best = 0;
		for (int c = 0; c < b->C; c++) {
			int on = row[c] > thr;
			if (on) {
				if (first < 0)
					first = c;
				if (!prev && (last < 0 || c - last - 1 > dead_gap))
					run0 = c;
				last = c;
				n++;
				runs += !prev;
				if (c - run0 + 1 > best) {
					best = c - run0 + 1;
					best0 = run0;
				}
			}
			prev = on;
		}
		b->run_first[r] = (int16_t)best0;
		b->run_len[r] = (int16_t)best;
		b->first[r] = (int16_t)first;
		b->last[r] = (int16_t)last;
		b->count[r] = (uint16_t)n;
		b->runs[r] = (uint16_t)runs;
		loaded += (size_t)n;
		if (n >= 2) { /* a lone noisy cell is not the body's end */
			if (top < 0)
				top = r;
			bottom = r;
			left = KM_MIN(left, first);
			right = KM_MAX(right, last);
		}
	}
	if (top < 0 || (double)loaded * px * py * 0.01 < (double)b->cfg.min_area_cm2)
		return KM_OK; /* no body */
	m->found = true;
	m->top_mm = ((float)top + 0.5f) * py;
	m->bottom_mm = ((float)bottom + 0.5f) * py;
	m->left_mm = ((float)left + 0.5f) * px;
	m->right_mm = ((float)right + 0.5f) * px;
	m->length_mm = (float)(bottom - top + 1) * py;

	/* The feet end of a lying body shows two contacts (heels, feet), the
	 * head end one: compare the mean number of runs over the last tenth. */
	int band = KM_MAX((bottom - top + 1) / 10, 1);
	float runs_top = 0.0f, runs_bot = 0.0f;
	for (int i = 0; i < band; i++) {
		runs_top += b->runs[top + i];
		runs_bot += b->runs[bottom - i];
	}
	m->head_at_top = !(runs_top > runs_bot + 0.3f * (float)band);

	/* Midline and trunk width over the trunk (18-55 % from the vertex). */
	int t0 = row_at(b, top, bottom, 0.18f), t1 = row_at(b, top, bottom, 0.55f);
	if (t0 > t1) {
		int t = t0;
		t0 = t1;
		t1 = t;
	}
	/* Each row's longest run is the trunk: arms beside it and a strip of
	 * cells stuck on at the mat's edge are separate runs. */
	int n = 0;
	for (int r = t0; r <= t1; r++)
		if (b->run_len[r] >= 2)
			b->tmp[n++] = ((float)b->run_first[r] + 0.5f * (float)b->run_len[r]) * px;
	m->midline_x_mm = n ? median(b->tmp, n) : 0.5f * (m->left_mm + m->right_mm);
	n = 0;
	for (int r = t0; r <= t1; r++)
		if (b->run_len[r] >= 2)
			b->tmp[n++] = (float)b->run_len[r] * px;
	m->trunk_width_mm = n ? median(b->tmp, n) : 0.0f;

	/* Posture. A body cut by the mat's first or last row across its trunk
	 * is partial: its proportions say nothing, so no posture and no
	 * landmarks. A head or the feet touching the edge (a tall person on a
	 * bed mat) is not: the contact there is narrow. */
	float edge_w = 0.6f * m->trunk_width_mm;
	bool partial = (top == 0 && (float)b->count[top] * px > edge_w) ||
	               (bottom == b->R - 1 && (float)b->count[bottom] * px > edge_w);
	if (partial) {
		m->posture = KM_POSTURE_UNKNOWN;
		return KM_OK;
	}
	if (m->length_mm < 800.0f) {
		m->posture = KM_POSTURE_SITTING; /* est.: a lying adult spans > 1.4 m */
	} else if (m->length_mm < 1300.0f && m->trunk_width_mm >= 0.14f * m->length_mm) {
		/* Part of a body lying (head to pelvis or thighs): the chest-
		 * against-pelvis rule below needs a whole body's proportions (on
		 * the virtual mat's head-to-thigh view a lifted lumbar band fell
		 * in its pelvis band and the back read as the front, the person's
		 * sides swapped). Such a view is of someone lying on their back
		 * on the mat, the position self-care on a mat uses. */
		m->posture = KM_POSTURE_SUPINE;
	} else if (m->trunk_width_mm < 0.14f * m->length_mm) {
		m->posture = KM_POSTURE_SIDE; /* est.: back ~0.2 x length, side ~0.1 */
	} else {
		/* On the back the pelvis (the heaviest segment, on the narrow
		 * sacrum and buttocks) presses harder on average than the chest;
		 * on the front the rib cage carries more than the soft belly. */
		float chest = band_mean(b, kpa, top, bottom, 0.15f, 0.35f);
		float pelvis = band_mean(b, kpa, top, bottom, 0.40f, 0.58f);
		m->posture = pelvis >= chest ? KM_POSTURE_SUPINE : KM_POSTURE_PRONE;
	}
	if (m->posture == KM_POSTURE_SITTING)
		return KM_OK;
	float mid = m->midline_x_mm;
	m->landmark[KM_LANDMARK_HEAD] =
	    peak(b, kpa, top, bottom, band_lo[0], band_hi[0], -INFINITY, INFINITY);
	if (m->posture != KM_POSTURE_SUPINE)
		return KM_OK; /* the back's landmarks are what a supine map shows */
	/* Lying on the back, head at row 0: the person's left at larger x. */
	bool left_high = m->head_at_top;
	for (int k = KM_LANDMARK_SHOULDER_BLADE_LEFT; k < KM_LANDMARK_COUNT; k++) {
		if (k == KM_LANDMARK_SACRUM) {
			m->landmark[k] = peak(b, kpa, top, bottom, band_lo[k], band_hi[k],
			                      mid - SACRUM_MM, mid + SACRUM_MM);
			continue;
		}
		bool is_left = k == KM_LANDMARK_SHOULDER_BLADE_LEFT || k == KM_LANDMARK_HEEL_LEFT;
		bool high = is_left == left_high;
		m->landmark[k] =
		    peak(b, kpa, top, bottom, band_lo[k], band_hi[k],
		         high ? mid + MIDLINE_MM : -INFINITY, high ? INFINITY : mid - MIDLINE_MM);
	}
	return KM_OK;
}

int km_body_locate(const struct km_body_model *m, float x_mm, float y_mm,
                   struct km_body_position *out)
{
	if (!m || !out || !isfinite(x_mm) || !isfinite(y_mm))
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	out->nearest_mm = NAN;
	if (!m->found)
		return KM_ERR_NOT_FOUND;
	float len = fmaxf(m->length_mm, 1e-3f);
	float f = m->head_at_top ? (y_mm - m->top_mm) / len : (m->bottom_mm - y_mm) / len;
	out->along_pct = 100.0f * f;
	float dx = x_mm - m->midline_x_mm;
	out->lateral_mm = fabsf(dx);
	bool person = m->posture == KM_POSTURE_SUPINE || m->posture == KM_POSTURE_PRONE;
	out->side_is_mat = !person;
	if (fabsf(dx) > MIDLINE_MM) {
		/* supine, head at row 0: larger x is the person's left */
		bool left = (dx > 0.0f) == m->head_at_top;
		if (m->posture == KM_POSTURE_PRONE)
			left = !left;
		out->side = person ? (left ? 1 : -1) : (dx > 0.0f ? 1 : -1);
	}
	static const float edge[] = {0.13f, 0.20f, 0.35f, 0.45f, 0.53f, 0.62f, 0.80f};
	if (f < -0.02f || f > 1.02f || x_mm < m->left_mm - 20.0f || x_mm > m->right_mm + 20.0f) {
		out->region = KM_REGION_OFF_BODY;
	} else {
		int r = 0;
		while (r < 7 && f >= edge[r])
			r++;
		out->region = (enum km_body_region)(KM_REGION_HEAD + r);
	}
	for (int k = 0; k < KM_LANDMARK_COUNT; k++) {
		if (!m->landmark[k].found)
			continue;
		float d = hypotf(x_mm - m->landmark[k].x_mm, y_mm - m->landmark[k].y_mm);
		if (isnan(out->nearest_mm) || d < out->nearest_mm) {
			out->nearest_mm = d;
			out->nearest = (enum km_landmark)k;
		}
	}
	return KM_OK;
}

const char *km_posture_name(enum km_posture p)
{
	switch (p) {
	case KM_POSTURE_SUPINE:
		return "lying on the back";
	case KM_POSTURE_PRONE:
		return "lying on the front";
	case KM_POSTURE_SIDE:
		return "lying on the side";
	case KM_POSTURE_SITTING:
		return "sitting";
	default:
		return "unknown";
	}
}

const char *km_landmark_name(enum km_landmark l)
{
	static const char *const n[KM_LANDMARK_COUNT] = {
	    "head",   "left shoulder blade", "right shoulder blade",
	    "sacrum", "left heel",           "right heel"};
	return (unsigned)l < KM_LANDMARK_COUNT ? n[l] : "unknown";
}

const char *km_body_region_name(enum km_body_region r)
{
	static const char *const n[KM_REGION_COUNT] = {
	    "off the body", "head",   "neck and shoulders", "upper back", "mid back", "lower back",
	    "pelvis",       "thighs", "lower legs"};
	return (unsigned)r < KM_REGION_COUNT ? n[r] : "unknown";
}

bool km_body_history_position(const struct km_body_model *m, float x_mm, float y_mm,
                              char *region, size_t region_n, int *side, float *lateral_mm,
                              float *along_pct)
{
	if (region && region_n)
		region[0] = '\0';
	if (side)
		*side = 0;
	if (lateral_mm)
		*lateral_mm = 0.0f;
	if (along_pct)
		*along_pct = 0.0f;
	struct km_body_position pos;
	if (!m || !m->found || km_body_locate(m, x_mm, y_mm, &pos) != KM_OK ||
	    pos.region == KM_REGION_OFF_BODY || pos.side_is_mat)
		return false;
	if (region && region_n)
		snprintf(region, region_n, "%s", km_body_region_name(pos.region));
	if (side)
		*side = pos.side;
	if (lateral_mm)
		*lateral_mm = pos.lateral_mm;
	if (along_pct)
		*along_pct = pos.along_pct;
	return true;
}

bool km_body_spot_name(const struct km_body_model *m, float x_mm, float y_mm, char *buf,
                       size_t n)
{
	if (buf && n)
		buf[0] = '\0';
	struct km_body_position pos;
	if (!buf || !n || !m || !m->found || m->posture == KM_POSTURE_SITTING ||
	    km_body_locate(m, x_mm, y_mm, &pos) != KM_OK || pos.region == KM_REGION_OFF_BODY)
		return false;
	const char *region = km_body_region_name(pos.region);
	if (pos.side == 0 || pos.side_is_mat) {
		snprintf(buf, n, "%s", region);
		return true;
	}
	/* one side of a pair: "left thigh", not "left thighs" (as the
	 * history's knot names, session/src/history.c) */
	size_t rl = strlen(region);
	bool pair = pos.region == KM_REGION_THIGHS || pos.region == KM_REGION_LOWER_LEGS;
	snprintf(buf, n, "%s %.*s", pos.side > 0 ? "left" : "right", (int)(pair ? rl - 1 : rl),
	         region);
	return true;
}

size_t km_body_describe(const struct km_body_position *pos, char *buf, size_t n)
{
	char tmp[160];
	const char *side = pos->side == 0     ? "on the midline"
	                   : pos->side_is_mat ? (pos->side > 0 ? "mat right" : "mat left")
	                                      : (pos->side > 0 ? "left" : "right");
	int k = snprintf(tmp, sizeof tmp, "%s, %s", side, km_body_region_name(pos->region));
	if (pos->side != 0 && k > 0 && (size_t)k < sizeof tmp)
		k += snprintf(tmp + k, sizeof tmp - (size_t)k, ", %.0f cm lateral of the spine",
		              (double)pos->lateral_mm / 10.0);
	if (!isnan(pos->nearest_mm) && k > 0 && (size_t)k < sizeof tmp)
		k += snprintf(tmp + k, sizeof tmp - (size_t)k, ", %.0f cm from the %s",
		              (double)pos->nearest_mm / 10.0, km_landmark_name(pos->nearest));
	if (buf && n)
		snprintf(buf, n, "%s", tmp);
	return k > 0 ? (size_t)k : 0;
}

int km_body_guess_pitch(const float *map, uint16_t rows, uint16_t cols, float *pitch_mm)
{
	if (!map || !pitch_mm)
		return KM_ERR_INVALID_ARG;
	if (rows < 1 || cols < 1 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	size_t n = (size_t)rows * cols;
	float *tmp = km__malloc((n + rows) * sizeof *tmp);
	if (!tmp)
		return KM_ERR_NO_MEMORY;
	size_t finite = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(map[i]))
			tmp[finite++] = map[i];
	/* 5 % of the way from the empty mat (5th percentile: an offset or a
	 * sensor's floor) to the 99th percentile: a prone body's feet and head
	 * press lightly */
	float floor_level = 0.0f, level = 0.0f;
	if (finite) {
		floor_level = km__select_kth(tmp, finite, (finite - 1) * 5 / 100);
		float top = km__select_kth(tmp, finite, (finite - 1) * 99 / 100);
		level = floor_level + 0.05f * (top - floor_level);
	}
	int first = -1, last = -1;
	float *width = tmp + n;
	for (int r = 0; r < rows; r++) {
		int w = 0;
		for (int c = 0; c < cols; c++)
			w += map[(size_t)r * cols + (size_t)c] > level;
		width[r] = (float)w;
		if (w >= 2) {
			if (first < 0)
				first = r;
			last = r;
		}
	}
	int rc = KM_ERR_NOT_FOUND;
	if (level > floor_level && first >= 0 && 2 * (last - first + 1) >= rows) {
		float span = (float)(last - first + 1);
		float median = km__select_kth(width + first, (size_t)(last - first + 1),
		                              (size_t)(last - first) / 2);
		if (median >= 1.0f && span >= KM_BODY_GUESS_ASPECT * median) {
			*pitch_mm = KM_BODY_LYING_CONTACT_MM / span;
			rc = KM_OK;
		}
	}
	km__free(tmp);
	return rc;
}
