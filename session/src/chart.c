/* The body chart: every spot of past sessions on a body outline, in body
 * coordinates, coloured by how long it has persisted (knotmap/history.h). */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"

/* The outline is drawn for an adult of this height; body coordinates are a
 * fraction of the contact length along and mm across, so this only sets how
 * far a spot sits from the spine on the chart. */
#define NOMINAL_HEIGHT_MM 1750.0

const char *const km__safety_note[] = {
    "knotmap finds candidate tender/stiff spots; it does not diagnose.",
    "A spot that persists for more than a week, or numbness, tingling or pain",
    "radiating down a limb: see a healthcare professional.",
    NULL,
};

static int push(void *user, const struct km_history_knot *k)
{
	struct km__chart_spots *s = user;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32, bytes;
		if (!km__mul_size(cap, sizeof *s->k, &bytes))
			return KM_ERR_NO_MEMORY;
		void *p = km__realloc(s->k, bytes);
		if (!p)
			return KM_ERR_NO_MEMORY;
		s->k = p;
		s->cap = cap;
	}
	s->k[s->n++] = *k;
	if (!k->body.region[0])
		s->unplaced++;
	return 0;
}

int km__chart_collect(km_history *h, struct km__chart_spots *s)
{
	memset(s, 0, sizeof *s);
	int rc = km_history_list_knots(h, 0, push, s);
	if (rc != KM_OK)
		km__chart_spots_free(s);
	return rc;
}

void km__chart_spots_free(struct km__chart_spots *s)
{
	km__free(s->k);
	memset(s, 0, sizeof *s);
}

uint32_t km__chart_colour(uint32_t days, bool persistent)
{
	if (persistent)
		return 0xd62728; /* red: the 7-day rule */
	if (days >= 4)
		return 0xff7f0e; /* orange: 4-7 days */
	if (days >= 1)
		return 0xe6b800; /* amber: 1-3 days */
	return 0x1f77b4;         /* blue: seen on one day only */
}

void km__chart_place(const struct km_history_body *b, double cx, double top, double fig_h,
                     double *x, double *y)
{
	double ppm = fig_h / NOMINAL_HEIGHT_MM;
	/* back view: the person's left (+1) on the viewer's left */
	*x = cx - (double)b->side * (double)b->lateral_mm * ppm;
	*y = top + KM_CLAMP((double)b->along_pct, 0.0, 100.0) / 100.0 * fig_h;
}

/* Half-width of the trunk (mm) at fraction f of the height, piecewise linear. */
static double trunk_half(double f)
{
	static const double pts[][2] = {{0.150, 120}, {0.180, 190}, {0.300, 170},
	                                {0.400, 140}, {0.480, 170}, {0.540, 165}};
	if (f < pts[0][0] || f > pts[5][0])
		return -1;
	for (size_t i = 0; i + 1 < KM_ARRAY_SIZE(pts); i++)
		if (f <= pts[i + 1][0]) {
			double t = (f - pts[i][0]) / (pts[i + 1][0] - pts[i][0]);
			return pts[i][1] + t * (pts[i + 1][1] - pts[i][1]);
		}
	return -1;
}

/* Is (x mm from the midline, fraction f from the vertex) inside the outline? */
static bool inside(double xmm, double f)
{
	double ax = fabs(xmm);
	double H = NOMINAL_HEIGHT_MM, fy = f * H;
	/* head: an ellipse */
	double hy = (fy - 0.065 * H) / (0.065 * H), hx = ax / 78.0;
	if (hx * hx + hy * hy <= 1.0)
		return true;
	if (f >= 0.12 && f <= 0.16 && ax <= 52)
		return true; /* neck */
	double th = trunk_half(f);
	if (th > 0 && ax <= th)
		return true;
	/* arms hang beside the trunk, a gap away */
	if (f >= 0.18 && f <= 0.50) {
		double t = (f - 0.18) / 0.32;
		double c = 225 + 25 * t, hw = 42 - 12 * t;
		if (fabs(ax - c) <= hw)
			return true;
	}
	if (f > 0.50 && f <= 0.56) { /* hands */
		double c = 250, hw = 32 * (1 - (f - 0.50) / 0.08);
		if (fabs(ax - c) <= hw)
			return true;
	}
	/* legs: one each side of the midline, tapering to the ankles */
	if (f >= 0.53 && f <= 0.985) {
		double t = (f - 0.53) / 0.455;
		double c = 85 + 10 * t, hw = 82 - 47 * t;
		if (fabs(ax - c) <= hw)
			return true;
	}
	return false;
}

static void draw_outline(struct km__img *im, double cx, double top, double fig_h)
{
	double ppm = fig_h / NOMINAL_HEIGHT_MM;
	long x0 = (long)floor(cx - 300 * ppm), x1 = (long)ceil(cx + 300 * ppm);
	long y0 = (long)floor(top), y1 = (long)ceil(top + fig_h);
#define IN(px, py) inside(((px) + 0.5 - cx) / ppm, ((py) + 0.5 - top) / fig_h)
	for (long y = y0; y <= y1; y++)
		for (long x = x0; x <= x1; x++) {
			if (!IN(x, y))
				continue;
			bool edge =
			    !IN(x - 1, y) || !IN(x + 1, y) || !IN(x, y - 1) || !IN(x, y + 1);
			km__put(im, x, y, edge ? 0x505050 : 0xe9e4de);
		}
#undef IN
	/* the spine, faintly: sides are read from it */
	for (long y = (long)(top + 0.15 * fig_h); y < (long)(top + 0.52 * fig_h); y += 4)
		km__fill(im, (long)lround(cx), y, 1, 2, 0xb0a89f);
}

int km__chart_draw(struct km__img *im, long x, long y, long w, long h,
                   const struct km__chart_spots *s, bool note, const struct km_log *log,
                   km_history_chart_progress_fn progress, void *user)
{
	struct km__text *bold = NULL, *reg = NULL;
	int rc = km__text_open(&bold, true, 15, log);
	if (rc == KM_OK)
		rc = km__text_open(&reg, false, 13, log);
	if (rc != KM_OK) {
		km__text_close(bold);
		return rc;
	}
	long lh = (long)km__text_line_h(reg) + 3;
	km__text_draw(bold, im, x, y, "Body chart: candidate spots across sessions", 0x000000);
	long top = y + (long)km__text_line_h(bold) + 2 * lh;
	double fig_h = (double)(y + h - top) - 8;
	/* the figure takes at most 40 % of the width, the list the rest */
	double max_h = (double)w * 0.4 / (600.0 / NOMINAL_HEIGHT_MM);
	if (fig_h > max_h)
		fig_h = max_h;
	if (fig_h < 60)
		fig_h = 60;
	double ppm = fig_h / NOMINAL_HEIGHT_MM;
	double cx = (double)x + 300 * ppm + 8;
	/* back view header, with which side is which */
	long hy = y + (long)km__text_line_h(bold) + 4;
	km__text_draw(reg, im, (long)(cx - 300 * ppm), hy, "L", 0x000000);
	const char *bv = "back view";
	km__text_draw(reg, im, (long)cx - km__text_width(reg, bv) / 2, hy, bv, 0x555555);
	km__text_draw(reg, im, (long)(cx + 300 * ppm) - km__text_width(reg, "R"), hy, "R",
	              0x000000);
	draw_outline(im, cx, (double)top, fig_h);

	/* spots: older and shorter-lived first, so the persistent ones are on top */
	long col = (long)(cx + 300 * ppm) + 24;
	size_t placed = 0, number = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->n; i++) {
			const struct km_history_knot *k = &s->k[i];
			if (!k->body.region[0] || (int)k->persistent != pass)
				continue;
			double px, py;
			km__chart_place(&k->body, cx, (double)top, fig_h, &px, &py);
			uint32_t c = km__chart_colour(k->span_days, k->persistent);
			km__disc(im, px, py, 7.0, c);
			km__ring(im, px, py, 7.0, 8.5, 0x000000);
			placed++;
			if (progress)
				progress(user, placed, s->n - s->unplaced);
		}
	/* numbers beside the discs, in list order */
	for (size_t i = 0; i < s->n; i++) {
		const struct km_history_knot *k = &s->k[i];
		if (!k->body.region[0])
			continue;
		number++;
		double px, py;
		km__chart_place(&k->body, cx, (double)top, fig_h, &px, &py);
		char buf[16];
		snprintf(buf, sizeof buf, "%zu", number);
		km__text_draw(reg, im, (long)(px + 10), (long)(py - km__text_line_h(reg) / 2.0),
		              buf, 0x000000);
	}

	/* legend */
	long ly = top;
	km__text_draw(bold, im, col, ly, "Days from first to last sighting", 0x000000);
	ly += (long)km__text_line_h(bold) + 4;
	static const struct {
		uint32_t days;
		bool persistent;
		const char *label;
	} legend[] = {{0, false, "one day only"},
	              {1, false, "1-3 days"},
	              {4, false, "4-7 days"},
	              {8, true, "over a week: see a healthcare professional"}};
	for (size_t i = 0; i < KM_ARRAY_SIZE(legend); i++) {
		uint32_t c = km__chart_colour(legend[i].days, legend[i].persistent);
		km__disc(im, (double)col + 7, (double)ly + lh / 2.0, 6.0, c);
		km__ring(im, (double)col + 7, (double)ly + lh / 2.0, 6.0, 7.5, 0x000000);
		km__text_draw(reg, im, col + 20, ly, legend[i].label, 0x000000);
		ly += lh;
	}
	ly += lh / 2;
	km__text_draw(bold, im, col, ly, "Spots", 0x000000);
	ly += (long)km__text_line_h(bold) + 4;
	long note_y = note ? y + h - 3 * lh - 4 : y + h;
	number = 0;
	size_t shown = 0, total = s->n - s->unplaced;
	for (size_t i = 0; i < s->n; i++) {
		const struct km_history_knot *k = &s->k[i];
		if (!k->body.region[0])
			continue;
		number++;
		if (ly + 2 * lh > note_y)
			continue; /* no room: counted below */
		char line[200], adv[160];
		km_history_knot_advice(k, adv, sizeof adv);
		snprintf(line, sizeof line, "%zu  %s", number, adv);
		km__text_draw(reg, im, col, ly, line, k->persistent ? 0xb00000 : 0x000000);
		ly += lh;
		shown++;
	}
	char buf[160];
	if (total == 0) {
		km__text_draw(reg, im, col, ly, "No spots with body coordinates yet.", 0x555555);
		ly += lh;
	} else if (shown < total) {
		snprintf(buf, sizeof buf, "... and %zu more (see 'knotmap history')",
		         total - shown);
		km__text_draw(reg, im, col, ly, buf, 0x555555);
		ly += lh;
	}
	if (s->unplaced) {
		snprintf(buf, sizeof buf,
		         "%zu spot%s recorded without body coordinates (not shown)", s->unplaced,
		         s->unplaced == 1 ? "" : "s");
		km__text_draw(reg, im, col, ly, buf, 0x555555);
	}
	for (size_t i = 0; note && km__safety_note[i]; i++)
		km__text_draw(reg, im, col, note_y + (long)i * lh, km__safety_note[i], 0x333333);
	km__text_close(bold);
	km__text_close(reg);
	return KM_OK;
}

int km_history_write_chart(km_history *h, const struct km_image_config *ic,
                           km_history_chart_progress_fn progress, void *user)
{
	if (!h || !ic)
		return KM_ERR_INVALID_ARG;
	struct km__chart_spots s;
	int rc = km__chart_collect(h, &s);
	if (rc != KM_OK)
		return rc;
	struct km__img im;
	rc = km__img_init(&im, 960, 720);
	if (rc == KM_OK)
		rc = km__chart_draw(&im, 20, 20, 920, 680, &s, true, &ic->log, progress, user);
	if (rc == KM_OK)
		rc = km_image_write_png(ic, im.px, im.w, im.h);
	km__img_free(&im);
	km__chart_spots_free(&s);
	return rc;
}

int km_history_draw_chart(km_history *h, uint8_t *rgb, uint32_t width, uint32_t height,
                          bool safety_note, const struct km_log *log)
{
	size_t bytes;
	if (!h || !rgb || width < KM_HISTORY_CHART_MIN_W || height < KM_HISTORY_CHART_MIN_H ||
	    !km__mul_size((size_t)width * 3, height, &bytes))
		return KM_ERR_INVALID_ARG;
	struct km__chart_spots s;
	int rc = km__chart_collect(h, &s);
	if (rc != KM_OK)
		return rc;
	/* The caller's pixels, drawn on as km__img_init's would be. */
	struct km__img im = {width, height, rgb};
	memset(rgb, 0xff, bytes);
	struct km_log none;
	memset(&none, 0, sizeof none);
	rc = km__chart_draw(&im, 16, 16, (long)width - 32, (long)height - 32, &s, safety_note,
	                    log ? log : &none, NULL, NULL);
	km__chart_spots_free(&s);
	return rc;
}
