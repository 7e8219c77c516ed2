/* The PNG session report: peak and mean pressure maps, knot markers, a hold
 * timeline, the body chart of the history and the safety note. Drawn with
 * raster.h (DejaVu Sans through FreeType), written by knotmap/image.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chart.h"
#include "export_out.h"
#include "knotmap/colormap.h"
#include "knotmap/image.h"
#include "model.h"
#include "raster.h"
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
/* Layout                                                                    */
/* ------------------------------------------------------------------------ */

enum { M = 16, LANES = 4, LANE_H = 14, BAR_GAP = 14, BAR_W = 10, LABEL_W = 64, LINE = 16 };
enum { CHART_H = 560, CHART_MIN_W = 900 };
/* Lines for the spots' names under the timeline ("A: left upper back"
 * takes a third of a narrow report's width). */
enum { SPOT_LINES = 3 };

void km__report_layout(unsigned rows, unsigned cols, uint32_t scale_opt, bool chart,
                       double row_over_col, struct km__report_layout *l)
{
	memset(l, 0, sizeof *l);
	/* rows and columns spaced differently (an import's pitches): a cell
	 * as tall as it is on the sensor, relative to its width */
	double k =
	    row_over_col > 0.0 && isfinite(row_over_col) ? KM_CLAMP(row_over_col, 0.1, 10.0) : 1.0;
	double big = KM_MAX((double)rows * k, (double)cols);
	uint32_t s =
	    scale_opt ? scale_opt : (uint32_t)KM_CLAMP(360.0 / (big > 0 ? big : 1.0), 1.0, 32.0);
	l->scale = s;
	l->scale_y = (uint32_t)KM_MAX(1L, lround(s * k));
	l->map_w = cols * s;
	l->map_h = rows * l->scale_y;
	uint32_t panel = l->map_w + BAR_GAP + BAR_W + 4 + LABEL_W;
	l->peak_x = M;
	l->peak_y = M + 64;
	l->mean_x = M + panel + M;
	l->mean_y = l->peak_y;
	l->width = KM_MAX(l->mean_x + panel + M, chart ? (uint32_t)CHART_MIN_W : 560u);
	l->lane_h = LANE_H;
	l->timeline_x = M + 8;
	l->timeline_y = l->peak_y + l->map_h + 48;
	l->timeline_w = l->width - l->timeline_x - M;
	l->timeline_h = LANES * LANE_H;
	/* axis labels, the outcome legend and the spots below the timeline,
	 * then the chart, then the safety note (three lines) */
	l->spots_y = l->timeline_y + l->timeline_h + 4 + LINE + 4 + LINE + 4;
	uint32_t y = l->spots_y + SPOT_LINES * LINE + M;
	if (chart) {
		l->chart_x = M;
		l->chart_y = y;
		l->chart_w = l->width - 2 * M;
		l->chart_h = CHART_H;
		y += CHART_H + M;
	}
	l->note_y = y;
	l->height = y + 3 * LINE + M;
}

/* ------------------------------------------------------------------------ */
/* Spot names                                                                */
/* ------------------------------------------------------------------------ */

void km__report_spot_letters(const struct km_summary *s, int *letter)
{
	km_summary_knot_letters(s, letter);
}

void km__report_spot_name(int letter, char *buf, size_t n)
{
	km_summary_knot_label(letter, NULL, buf, n);
}

const char *km__report_knot_body(const struct km_export_config *cfg,
                                 const struct km_summary_knot *k)
{
	if (!cfg || !k || !cfg->knot_names)
		return NULL;
	for (size_t i = 0; i < cfg->n_knot_names; i++) {
		const struct km_export_knot_name *n = &cfg->knot_names[i];
		if (n->track_id == k->track_id && n->found_us == k->found_us &&
		    memchr(n->name, '\0', sizeof n->name) && n->name[0])
			return n->name;
	}
	return NULL;
}

void km__report_knot_label(const struct km_export_config *cfg, const struct km_summary_knot *k,
                           int letter, char *buf, size_t n)
{
	km_summary_knot_label(letter, km__report_knot_body(cfg, k), buf, n);
}

/* ------------------------------------------------------------------------ */
/* Drawing                                                                   */
/* ------------------------------------------------------------------------ */

static void draw_map(struct km__text *t, struct km__img *im, const struct km__report_layout *l,
                     uint32_t x0, uint32_t y0, const float *v, double scale_div, unsigned rows,
                     unsigned cols, float vmax, const char *label, const char *unit)
{
	const uint32_t *cm = km_export_colormap();
	km__text_draw(t, im, x0, (long)y0 - LINE - 2, label, 0x000000);
	for (unsigned r = 0; r < rows; r++)
		for (unsigned c = 0; c < cols; c++) {
			double val = v[(size_t)r * cols + c] / scale_div;
			/* square-root scale: a tool's peak is 10-100x the body's load,
			 * and a linear map would hide the body entirely */
			double frac = vmax > 0 && val > 0 ? sqrt(val / vmax) : 0.0;
			int idx = (int)lround(KM_CLAMP(frac, 0.0, 1.0) * 255.0);
			km__fill(im, x0 + c * l->scale, y0 + r * l->scale_y, l->scale, l->scale_y,
			         cm[idx]);
		}
	km__frame_rect(im, (long)x0 - 1, (long)y0 - 1, l->map_w + 2, l->map_h + 2, 0x000000);
	/* colour bar with its range */
	long bx = x0 + l->map_w + BAR_GAP;
	for (uint32_t j = 0; j < l->map_h; j++) {
		int idx =
		    l->map_h > 1 ? (int)lround(255.0 * (1.0 - (double)j / (l->map_h - 1))) : 255;
		km__fill(im, bx, y0 + j, BAR_W, 1, cm[idx]);
	}
	km__frame_rect(im, bx - 1, (long)y0 - 1, BAR_W + 2, l->map_h + 2, 0x000000);
	char buf[32];
	snprintf(buf, sizeof buf, "%.1f", (double)vmax);
	long half = (long)km__text_line_h(t) / 2;
	km__text_draw(t, im, bx + BAR_W + 4, (long)y0 - half, buf, 0x000000);
	km__text_draw(t, im, bx + BAR_W + 4, (long)y0 + (long)l->map_h - half, "0", 0x000000);
	if (l->map_h >= 40) {
		/* mid-bar value on the square-root scale */
		snprintf(buf, sizeof buf, "%.1f", (double)vmax * 0.25);
		km__text_draw(t, im, bx + BAR_W + 4, (long)y0 + (long)l->map_h / 2 - half, buf,
		              0x000000);
		km__text_draw(t, im, bx + BAR_W + 4, (long)y0 + (long)l->map_h / 2 + half + 2, unit,
		              0x000000);
	}
}

static void draw_knots(struct km__text *t, struct km__img *im, const struct km__report_layout *l,
                       uint32_t x0, uint32_t y0, const struct km__model *m, double row_pitch,
                       double col_pitch, const int *letter)
{
	double rad = KM_MAX(4.0, KM_MIN(l->scale, l->scale_y) * 0.8);
	for (size_t i = 0; i < m->summary.n_knots; i++) {
		const struct km_summary_knot *k = &m->summary.knots[i];
		/* x along columns, y along rows, true mm per axis; cell c spans
		 * [c, c + 1) * col pitch (its centre at (c + 0.5) * col pitch, as in
		 * detect.h and sim.h) */
		double cx = x0 + k->x_mm / col_pitch * l->scale;
		double cy = y0 + k->y_mm / row_pitch * l->scale_y;
		km__ring(im, cx, cy, rad, rad + 2.0, 0x000000);
		km__ring(im, cx, cy, rad - 2.0, rad, 0xffffff);
		/* the letter the viewer showed ("spot B": B) */
		char buf[24];
		if (letter[i] >= 0)
			snprintf(buf, sizeof buf, "%c", 'A' + letter[i]);
		else
			snprintf(buf, sizeof buf, "?");
		km__text_draw(t, im, (long)(cx + rad + 3), (long)cy - (long)km__text_line_h(t) / 2,
		              buf, 0xffffff);
	}
}

/* Lines under the timeline: each spot by its name, when it was found and
 * its holds ("A: left upper back 12.3 s: 2 holds, longest 45 s", "spot B
 * 20.1 s"), as many as fit in SPOT_LINES lines. */
static void draw_spot_legend(struct km__text *t, struct km__img *im, long x0, long y, long w,
                             const struct km_export_config *cfg, const struct km__model *m,
                             const int *letter)
{
	long x = km__text_draw(t, im, x0, y, "Spots (as the viewer named them):", 0x000000) + 8;
	int line = 0;
	for (size_t i = 0; i < m->summary.n_knots; i++) {
		const struct km_summary_knot *k = &m->summary.knots[i];
		size_t holds = 0;
		float longest = 0.0f;
		for (size_t j = 0; j < m->summary.n_holds; j++)
			if (m->summary.holds[j].track_id == k->track_id) {
				holds++;
				longest = KM_MAX(longest, m->summary.holds[j].held_s);
			}
		char name[KM_EXPORT_NAME_MAX + 8], item[128];
		km__report_knot_label(cfg, k, letter[i], name, sizeof name);
		double at = (double)(int64_t)(k->found_us - m->first_us) / 1e6;
		if (holds)
			snprintf(item, sizeof item, "%s %.1f s: %zu hold%s, longest %.0f s;", name,
			         at, holds, holds == 1 ? "" : "s", (double)longest);
		else
			snprintf(item, sizeof item, "%s %.1f s;", name, at);
		char more[32];
		snprintf(more, sizeof more, "+%zu more", m->summary.n_knots - i);
		bool fits;
		for (;;) {
			/* the last line keeps room for "+N more" */
			bool last_line = line + 1 >= SPOT_LINES;
			long need =
			    km__text_width(t, item) + (last_line && i + 1 < m->summary.n_knots
			                                   ? km__text_width(t, more) + 8
			                                   : 0);
			fits = x + need <= x0 + w;
			if (fits || last_line)
				break;
			line++; /* on the next line, under the first item */
			y += LINE;
			x = x0 + 16;
		}
		if (!fits) {
			km__text_draw(t, im, x, y, more, 0x555555);
			return;
		}
		x = km__text_draw(t, im, x, y, item, 0x000000) + 8;
	}
	if (m->summary.n_knots == 0)
		km__text_draw(t, im, x, y, "none found", 0x555555);
}

static void draw_timeline(struct km__text *t, struct km__img *im, const struct km__report_layout *l,
                          const struct km__model *m)
{
	long x0 = l->timeline_x, y0 = l->timeline_y;
	km__text_draw(t, im, x0, y0 - LINE - 2, "Holds (colour = outcome)", 0x000000);
	for (int k = 0; k < LANES; k++)
		km__fill(im, x0, y0 + k * LANE_H, l->timeline_w, LANE_H - 2,
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
		km__fill(im, a, y0 + lane * LANE_H + 1, b - a, LANE_H - 4,
		         km__outcome_colour(d->outcome));
	}
	km__frame_rect(im, x0 - 1, y0 - 1, l->timeline_w + 2, l->timeline_h + 1, 0x000000);
	char buf[48];
	long ty = y0 + (long)l->timeline_h + 4;
	km__text_draw(t, im, x0, ty, "0 s", 0x000000);
	snprintf(buf, sizeof buf, "%.1f s", span / 1e6);
	km__text_draw(t, im, x0 + (long)l->timeline_w - km__text_width(t, buf), ty, buf, 0x000000);
	long ly = ty + LINE + 4, lx = x0;
	const enum km_outcome outs[] = {KM_OUTCOME_RELEASED, KM_OUTCOME_STIFFENED,
	                                KM_OUTCOME_STOPPED};
	for (size_t i = 0; i < 3; i++) {
		km__fill(im, lx, ly + 3, 10, 8, km__outcome_colour(outs[i]));
		lx = km__text_draw(t, im, lx + 14, ly, km_outcome_name(outs[i]), 0x000000) + 16;
	}
}

/* ------------------------------------------------------------------------ */
/* PNG output                                                                */
/* ------------------------------------------------------------------------ */

static int write_png(const struct km_export_config *cfg, struct km__img *im, const char *title)
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
	/* the report's maps to scale when rows and columns are spaced
	 * differently; the events' mm are true mm along each axis */
	double rp = cfg->row_pitch_mm > 0 ? cfg->row_pitch_mm : in->device.pitch_mm;
	double cp = cfg->col_pitch_mm > 0 ? cfg->col_pitch_mm : in->device.pitch_mm;
	km__report_layout(rows, cols, cfg->png_scale, cfg->history != NULL,
	                  rp > 0 && cp > 0 ? rp / cp : 1.0, &l);
	struct km__model m;
	km__model_init(&m);
	struct km__chart_spots spots;
	memset(&spots, 0, sizeof spots);
	struct km__img im;
	memset(&im, 0, sizeof im);
	struct km__text *title_font = NULL, *font = NULL;
	float *mean = NULL;
	int *letter = NULL;
	int rc = km__model_build(cfg, r, &m, true);
	if (rc == KM_OK &&
	    !(letter = km__calloc(m.summary.n_knots ? m.summary.n_knots : 1, sizeof *letter)))
		rc = KM_ERR_NO_MEMORY;
	if (rc == KM_OK)
		km__report_spot_letters(&m.summary, letter);
	if (rc == KM_OK && cfg->history)
		rc = km__chart_collect(cfg->history, &spots);
	if (rc == KM_OK)
		rc = km__img_init(&im, l.width, l.height);
	if (rc == KM_OK)
		rc = km__text_open(&title_font, true, 22, &cfg->log);
	if (rc == KM_OK)
		rc = km__text_open(&font, false, 12, &cfg->log);
	if (rc == KM_OK && !(mean = km__calloc(m.cells ? m.cells : 1, sizeof *mean)))
		rc = KM_ERR_NO_MEMORY;
	char title[160];
	snprintf(title, sizeof title, "%s", cfg->title ? cfg->title : "knotmap session report");
	if (rc == KM_OK) {
		km__text_draw(title_font, &im, M, M, title, 0x000000);
		char sub[200], pitch[64];
		double dur = m.frames ? (double)(m.last_us - m.first_us) / 1e6 : 0.0;
		if (fabs(rp - cp) > 0.005 * KM_MAX(rp, cp))
			snprintf(pitch, sizeof pitch, "rows %.4g mm apart, columns %.4g mm", rp,
			         cp);
		else
			snprintf(pitch, sizeof pitch, "%.1f mm", (double)in->device.pitch_mm);
		snprintf(sub, sizeof sub,
		         "%s  %ux%u @ %s  %" PRIu64 " frames  %.1f s  %zu knots  %zu holds",
		         in->session_id[0] ? in->session_id : "-", cols, rows, pitch, m.frames, dur,
		         m.summary.n_knots, m.summary.n_holds);
		km__text_draw(font, &im, M, M + 30, sub, 0x333333);

		float vmax_peak = 0, vmax_mean = 0;
		for (size_t c = 0; c < m.cells; c++) {
			vmax_peak = KM_MAX(vmax_peak, m.peak[c]);
			mean[c] = m.frames ? (float)(m.sum[c] / (double)m.frames) : 0.0f;
			vmax_mean = KM_MAX(vmax_mean, mean[c]);
		}
		const char *unit = cfg->counts ? "counts" : "kPa";
		draw_map(font, &im, &l, l.peak_x, l.peak_y, m.peak, 1.0, rows, cols, vmax_peak,
		         "Peak pressure (sqrt scale)", unit);
		draw_map(font, &im, &l, l.mean_x, l.mean_y, mean, 1.0, rows, cols, vmax_mean,
		         "Mean pressure (sqrt scale)", unit);
		draw_knots(font, &im, &l, l.peak_x, l.peak_y, &m, rp, cp, letter);
		draw_knots(font, &im, &l, l.mean_x, l.mean_y, &m, rp, cp, letter);
		draw_timeline(font, &im, &l, &m);
		draw_spot_legend(font, &im, l.timeline_x, (long)l.spots_y, (long)l.timeline_w, cfg,
		                 &m, letter);
		if (cfg->history)
			rc = km__chart_draw(&im, l.chart_x, l.chart_y, l.chart_w, l.chart_h, &spots,
			                    false, &cfg->log, NULL, NULL);
		for (size_t i = 0; km__safety_note[i]; i++)
			km__text_draw(font, &im, M, (long)l.note_y + (long)i * LINE,
			              km__safety_note[i], 0x333333);
	}
	if (rc == KM_OK)
		rc = write_png(cfg, &im, title);
	km__text_close(title_font);
	km__text_close(font);
	km__free(mean);
	km__free(letter);
	km__img_free(&im);
	km__chart_spots_free(&spots);
	km__model_free(&m);
	return rc;
}
