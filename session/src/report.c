/* The PNG session report: peak and mean pressure maps, knot markers, a hold
 * timeline. A small RGB rasteriser and a 5x7 bitmap font, written by
 * knotmap/image.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "export_out.h"
#include "knotmap/colormap.h"
#include "knotmap/image.h"
#include "model.h"
#include "report.h"

#define MOD "report"

/* ------------------------------------------------------------------------ */
/* Colour map                                                                */
/* ------------------------------------------------------------------------ */

/* The viewer's table (knotmap/colormap.h): a pressure has one colour on
 * screen and in the report. */
const uint32_t *km_export_colormap(void)
{
	return km_colormap_table(KM_COLORMAP_VIRIDIS);
}

uint32_t km__outcome_colour(enum km_outcome o)
{
	switch (o) {
	case KM_OUTCOME_RELEASED:
		return 0x2ca02c; /* green */
	case KM_OUTCOME_STIFFENED:
		return 0xff7f0e; /* orange */
	default:
		return 0x7f7f7f; /* grey */
	}
}

/* ------------------------------------------------------------------------ */
/* 5x7 font, ASCII 32..126: five columns per glyph, bit 0 = top row (the      */
/* classic public-domain HD44780-style table).                                */
/* ------------------------------------------------------------------------ */

static const uint8_t font5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x08, 0x2A, 0x1C, 0x2A, 0x08}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x01, 0x01},
    {0x3E, 0x41, 0x41, 0x51, 0x32}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x04, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x7F, 0x20, 0x18, 0x20, 0x7F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x03, 0x04, 0x78, 0x04, 0x03}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x08, 0x14, 0x54, 0x54, 0x3C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},
    {0x00, 0x7F, 0x10, 0x28, 0x44}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

/* ------------------------------------------------------------------------ */
/* Rasteriser                                                                */
/* ------------------------------------------------------------------------ */

struct img {
	uint32_t w, h;
	uint8_t *px; /* RGB, row-major */
};

static void put(struct img *im, long x, long y, uint32_t rgb)
{
	if (x < 0 || y < 0 || x >= (long)im->w || y >= (long)im->h)
		return;
	uint8_t *p = im->px + ((size_t)y * im->w + (size_t)x) * 3;
	p[0] = (uint8_t)(rgb >> 16);
	p[1] = (uint8_t)(rgb >> 8);
	p[2] = (uint8_t)rgb;
}

static void fill(struct img *im, long x, long y, long w, long h, uint32_t rgb)
{
	for (long j = y; j < y + h; j++)
		for (long i = x; i < x + w; i++)
			put(im, i, j, rgb);
}

static void frame_rect(struct img *im, long x, long y, long w, long h, uint32_t rgb)
{
	fill(im, x, y, w, 1, rgb);
	fill(im, x, y + h - 1, w, 1, rgb);
	fill(im, x, y, 1, h, rgb);
	fill(im, x + w - 1, y, 1, h, rgb);
}

/* A ring between radii r0 and r1 (pixels), centre (cx, cy). */
static void ring(struct img *im, double cx, double cy, double r0, double r1, uint32_t rgb)
{
	long x0 = (long)floor(cx - r1 - 1), x1 = (long)ceil(cx + r1 + 1);
	long y0 = (long)floor(cy - r1 - 1), y1 = (long)ceil(cy + r1 + 1);
	for (long y = y0; y <= y1; y++)
		for (long x = x0; x <= x1; x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
			double d = sqrt(dx * dx + dy * dy);
			if (d >= r0 && d <= r1)
				put(im, x, y, rgb);
		}
}

static long text(struct img *im, long x, long y, const char *s, uint32_t rgb, int scale)
{
	for (; *s; s++) {
		unsigned c = (unsigned char)*s;
		if (c < 32 || c > 126)
			c = '?';
		const uint8_t *g = font5x7[c - 32];
		for (int col = 0; col < 5; col++)
			for (int row = 0; row < 7; row++)
				if (g[col] & (1u << row))
					fill(im, x + col * scale, y + row * scale, scale, scale,
					     rgb);
		x += 6 * scale;
	}
	return x;
}

static long text_width(const char *s, int scale)
{
	return (long)strlen(s) * 6 * scale;
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */
/* ------------------------------------------------------------------------ */

enum { M = 16, LANES = 4, LANE_H = 14, BAR_GAP = 14, BAR_W = 10, LABEL_W = 64 };

void km__report_layout(unsigned rows, unsigned cols, uint32_t scale_opt,
                       struct km__report_layout *l)
{
	memset(l, 0, sizeof *l);
	unsigned big = KM_MAX(rows, cols);
	uint32_t s = scale_opt ? scale_opt : KM_CLAMP(360u / (big ? big : 1u), 1u, 32u);
	l->scale = s;
	l->map_w = cols * s;
	l->map_h = rows * s;
	uint32_t panel = l->map_w + BAR_GAP + BAR_W + 4 + LABEL_W;
	l->peak_x = M;
	l->peak_y = M + 48;
	l->mean_x = M + panel + M;
	l->mean_y = l->peak_y;
	l->width = KM_MAX(l->mean_x + panel + M, 560u);
	l->lane_h = LANE_H;
	l->timeline_x = M + 8;
	l->timeline_y = l->peak_y + l->map_h + 40;
	l->timeline_w = l->width - l->timeline_x - M;
	l->timeline_h = LANES * LANE_H;
	/* axis labels, legend, footer below the timeline */
	l->height = l->timeline_y + l->timeline_h + 14 + 18 + 16 + 7 + M;
}

/* ------------------------------------------------------------------------ */
/* Drawing                                                                   */
/* ------------------------------------------------------------------------ */

static void draw_map(struct img *im, const struct km__report_layout *l, uint32_t x0, uint32_t y0,
                     const float *v, double scale_div, unsigned rows, unsigned cols, float vmax,
                     const char *label, const char *unit)
{
	const uint32_t *cm = km_export_colormap();
	text(im, x0, (long)y0 - 12, label, 0x000000, 1);
	for (unsigned r = 0; r < rows; r++)
		for (unsigned c = 0; c < cols; c++) {
			double val = v[(size_t)r * cols + c] / scale_div;
			/* square-root scale: a tool's peak is 10-100x the body's load,
			 * and a linear map would hide the body entirely */
			double t = vmax > 0 && val > 0 ? sqrt(val / vmax) : 0.0;
			int idx = (int)lround(KM_CLAMP(t, 0.0, 1.0) * 255.0);
			fill(im, x0 + c * l->scale, y0 + r * l->scale, l->scale, l->scale, cm[idx]);
		}
	frame_rect(im, (long)x0 - 1, (long)y0 - 1, l->map_w + 2, l->map_h + 2, 0x000000);
	/* colour bar with its range */
	long bx = x0 + l->map_w + BAR_GAP;
	for (uint32_t j = 0; j < l->map_h; j++) {
		int idx =
		    l->map_h > 1 ? (int)lround(255.0 * (1.0 - (double)j / (l->map_h - 1))) : 255;
		fill(im, bx, y0 + j, BAR_W, 1, cm[idx]);
	}
	frame_rect(im, bx - 1, (long)y0 - 1, BAR_W + 2, l->map_h + 2, 0x000000);
	char buf[32];
	snprintf(buf, sizeof buf, "%.1f", (double)vmax);
	text(im, bx + BAR_W + 4, y0, buf, 0x000000, 1);
	text(im, bx + BAR_W + 4, (long)y0 + (long)l->map_h - 7, "0", 0x000000, 1);
	if (l->map_h >= 40) {
		/* mid-bar value on the square-root scale */
		snprintf(buf, sizeof buf, "%.1f", (double)vmax * 0.25);
		text(im, bx + BAR_W + 4, (long)y0 + (long)l->map_h / 2 - 3, buf, 0x000000, 1);
		text(im, bx + BAR_W + 4, (long)y0 + (long)l->map_h / 2 + 9, unit, 0x000000, 1);
	}
}

static void draw_knots(struct img *im, const struct km__report_layout *l, uint32_t x0, uint32_t y0,
                       const struct km__model *m, float pitch)
{
	double rad = KM_MAX(4.0, l->scale * 0.8);
	for (size_t i = 0; i < m->summary.n_knots; i++) {
		const struct km_summary_knot *k = &m->summary.knots[i];
		/* x along columns, y along rows; cell c spans [c, c + 1) * pitch (its
		 * centre at (c + 0.5) * pitch, as in detect.h and sim.h) */
		double cx = x0 + k->x_mm / pitch * l->scale;
		double cy = y0 + k->y_mm / pitch * l->scale;
		ring(im, cx, cy, rad, rad + 2.0, 0x000000);
		ring(im, cx, cy, rad - 2.0, rad, 0xffffff);
		char buf[24];
		snprintf(buf, sizeof buf, "%zu", i + 1);
		text(im, (long)(cx + rad + 3), (long)(cy - 3), buf, 0xffffff, 1);
	}
}

static void draw_timeline(struct img *im, const struct km__report_layout *l,
                          const struct km__model *m)
{
	long x0 = l->timeline_x, y0 = l->timeline_y;
	text(im, x0, y0 - 12, "Holds (colour = outcome)", 0x000000, 1);
	for (int k = 0; k < LANES; k++)
		fill(im, x0, y0 + k * LANE_H, l->timeline_w, LANE_H - 2,
		     k % 2 ? 0xececec : 0xf4f4f4);
	uint64_t t0 = m->first_us, t1 = m->last_us;
	for (size_t i = 0; i < m->summary.n_holds; i++) {
		t0 = KM_MIN(t0, m->summary.holds[i].start_us);
		t1 = KM_MAX(t1, m->summary.holds[i].end_us);
	}
	double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
	/* one lane per track, in order of first hold */
	uint32_t lane_track[LANES] = {0};
	int used = 0;
	for (size_t i = 0; i < m->summary.n_holds; i++) {
		const struct km_summary_hold *d = &m->summary.holds[i];
		int lane = -1;
		for (int k = 0; k < used; k++)
			if (lane_track[k] == d->track_id)
				lane = k;
		if (lane < 0) {
			lane = used < LANES ? used++ : (int)(d->track_id % LANES);
			lane_track[lane] = d->track_id;
		}
		long a = x0 + (long)((double)(d->start_us - t0) / span * (l->timeline_w - 1));
		long b = x0 + (long)((double)(d->end_us - t0) / span * (l->timeline_w - 1));
		if (b < a + 2)
			b = a + 2;
		fill(im, a, y0 + lane * LANE_H + 1, b - a, LANE_H - 4,
		     km__outcome_colour(d->outcome));
	}
	frame_rect(im, x0 - 1, y0 - 1, l->timeline_w + 2, l->timeline_h + 1, 0x000000);
	char buf[48];
	long ty = y0 + (long)l->timeline_h + 4;
	text(im, x0, ty, "0 s", 0x000000, 1);
	snprintf(buf, sizeof buf, "%.1f s", span / 1e6);
	text(im, x0 + (long)l->timeline_w - text_width(buf, 1), ty, buf, 0x000000, 1);
	long ly = ty + 16, lx = x0;
	const enum km_outcome outs[] = {KM_OUTCOME_RELEASED, KM_OUTCOME_STIFFENED,
	                                KM_OUTCOME_STOPPED};
	for (size_t i = 0; i < 3; i++) {
		fill(im, lx, ly, 10, 8, km__outcome_colour(outs[i]));
		lx = text(im, lx + 14, ly, km_outcome_name(outs[i]), 0x000000, 1) + 16;
	}
}

/* ------------------------------------------------------------------------ */
/* PNG output                                                                */
/* ------------------------------------------------------------------------ */

static int write_png(const struct km_export_config *cfg, struct img *im, const char *title)
{
	struct km_image_config ic = km_image_config_default();
	ic.path = cfg->path;
	ic.force = cfg->overwrite;
	ic.title = title;
	ic.log = cfg->log;
	return km_image_write_png(&ic, im->px, im->w, im->h);
}

int km__export_png(const struct km_export_config *cfg, km_rec_reader *r)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	unsigned rows = in->device.rows, cols = in->device.cols;
	struct km__report_layout l;
	km__report_layout(rows, cols, cfg->png_scale, &l);
	struct km__model m;
	km__model_init(&m);
	int rc = km__model_build(cfg, r, &m, true);
	struct img im = {l.width, l.height, NULL};
	size_t bytes;
	if (rc == KM_OK &&
	    (!km__mul_size((size_t)l.width * 3, l.height, &bytes) || !(im.px = km__malloc(bytes))))
		rc = KM_ERR_NO_MEMORY;
	if (rc != KM_OK) {
		km__model_free(&m);
		return rc;
	}
	memset(im.px, 0xff, bytes);

	char title[160];
	snprintf(title, sizeof title, "%s", cfg->title ? cfg->title : "knotmap session report");
	text(&im, M, M, title, 0x000000, 2);
	char sub[200];
	double dur = m.frames ? (double)(m.last_us - m.first_us) / 1e6 : 0.0;
	snprintf(sub, sizeof sub,
	         "%s  %ux%u @ %.1f mm  %" PRIu64 " frames  %.1f s  %zu knots  %zu holds",
	         in->session_id[0] ? in->session_id : "-", cols, rows, (double)in->device.pitch_mm,
	         m.frames, dur, m.summary.n_knots, m.summary.n_holds);
	text(&im, M, M + 20, sub, 0x333333, 1);

	float vmax_peak = 0, vmax_mean = 0;
	float *mean = km__calloc(m.cells, sizeof *mean);
	if (!mean) {
		km__free(im.px);
		km__model_free(&m);
		return KM_ERR_NO_MEMORY;
	}
	for (size_t c = 0; c < m.cells; c++) {
		vmax_peak = KM_MAX(vmax_peak, m.peak[c]);
		mean[c] = m.frames ? (float)(m.sum[c] / (double)m.frames) : 0.0f;
		vmax_mean = KM_MAX(vmax_mean, mean[c]);
	}
	draw_map(&im, &l, l.peak_x, l.peak_y, m.peak, 1.0, rows, cols, vmax_peak,
	         "Peak pressure (sqrt scale)", cfg->counts ? "counts" : "kPa");
	draw_map(&im, &l, l.mean_x, l.mean_y, mean, 1.0, rows, cols, vmax_mean,
	         "Mean pressure (sqrt scale)", cfg->counts ? "counts" : "kPa");
	draw_knots(&im, &l, l.peak_x, l.peak_y, &m, in->device.pitch_mm);
	draw_knots(&im, &l, l.mean_x, l.mean_y, &m, in->device.pitch_mm);
	draw_timeline(&im, &l, &m);
	text(&im, M, (long)l.height - M - 7, "Candidate tender/stiff spots, not a diagnosis.",
	     0x555555, 1);

	rc = write_png(cfg, &im, title);
	km__free(mean);
	km__free(im.px);
	km__model_free(&m);
	return rc;
}
