/* The report's text (DejaVu through FreeType: real descenders) and the body
 * chart across sessions (body-position matching, the 7-day rule per spot, the
 * chart PNG through knotmap/image.h). */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <unistd.h>
#include <sys/stat.h>

#include "chart.h"
#include "knotmap/history.h"
#include "raster.h"

static char *dir;

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(chart, .init = setup, .fini = teardown);

#define DAY_US (86400ll * 1000000ll)
#define T0 (1764000000ll * 1000000ll) /* 2025-11-24 */

/* Rows of ink strictly below the baseline + 1 (a descender reaches 2+ px
 * under it; the old 5x7 bitmap font stopped at the baseline). */
static int rows_below_baseline(const char *s, unsigned px)
{
	struct km__text *t = NULL;
	cr_assert_eq(km__text_open(&t, false, px, NULL), KM_OK);
	cr_assert(km__text_is_vector(t), "DejaVu Sans (fonts-dejavu-core) must be installed: "
	                                 "scripts/deps.sh installs it");
	struct km__img im;
	cr_assert_eq(km__img_init(&im, 600, 80), KM_OK);
	long end = km__text_draw(t, &im, 4, 4, s, 0x000000);
	cr_assert_gt(end, 4 + (long)strlen(s) * (long)px / 4, "the text has a width");
	long base = 4 + (long)km__text_baseline(t);
	int rows = 0;
	for (long y = base + 1; y < (long)im.h; y++) {
		int ink = 0;
		for (long x = 0; x < (long)im.w; x++)
			ink += (km__get(&im, x, y) & 0xFF) < 128;
		rows += ink > 0;
	}
	km__img_free(&im);
	km__text_close(t);
	return rows;
}

Test(chart, report_font_has_descenders)
{
	/* p, g, j, y reach below the baseline by about a fifth of the size */
	cr_assert_geq(rows_below_baseline("pgjy", 24), 3);
	cr_assert_geq(rows_below_baseline("knotmap session report", 22), 3);
	/* and text without descenders stays on it */
	cr_assert_eq(rows_below_baseline("KNOT", 24), 0);
}

Test(chart, report_font_width_matches_drawing)
{
	struct km__text *t = NULL;
	cr_assert_eq(km__text_open(&t, true, 15, NULL), KM_OK);
	struct km__img im;
	cr_assert_eq(km__img_init(&im, 400, 40), KM_OK);
	long w = km__text_width(t, "left upper back");
	cr_assert_eq(km__text_draw(t, &im, 10, 5, "left upper back", 0), 10 + w);
	km__img_free(&im);
	km__text_close(t);
}

static km_history *open_db(const char *path)
{
	struct km_history_config c = km_history_config_default();
	c.path = path;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	return h;
}

static int64_t add_session(km_history *h, const char *uuid, int64_t start)
{
	struct km_history_session s;
	memset(&s, 0, sizeof s);
	snprintf(s.uuid, sizeof s.uuid, "%s", uuid);
	s.start_unix_us = start;
	s.end_unix_us = start + 600ll * 1000000;
	int64_t id = 0;
	cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
	return id;
}

/* A sighting at mat (x, y) with body coordinates. */
static int64_t sight(km_history *h, int64_t ses, int64_t t, float x, float y, const char *region,
                     int side, float lateral, float along)
{
	struct km_history_observation o;
	memset(&o, 0, sizeof o);
	o.session_id = ses;
	o.time_unix_us = t;
	o.x_mm = x;
	o.y_mm = y;
	o.body_relative = true;
	snprintf(o.body.region, sizeof o.body.region, "%s", region);
	o.body.side = side;
	o.body.lateral_mm = lateral;
	o.body.along_pct = along;
	int64_t k = 0;
	cr_assert_eq(km_history_add_observation(h, &o, &k, NULL), KM_OK);
	return k;
}

struct knots {
	struct km_history_knot k[16];
	size_t n;
};

static int collect(void *user, const struct km_history_knot *k)
{
	struct knots *l = user;
	cr_assert_lt(l->n, 16u);
	l->k[l->n++] = *k;
	return 0;
}

/* Three sessions over 10 days: the same knot on the left upper back each
 * time, lying 15 cm and 9 cm apart on the mat; a spot seen once. */
static km_history *three_sessions(const char *db)
{
	km_history *h = open_db(db);
	int64_t s1 = add_session(h, "a", T0);
	int64_t s2 = add_session(h, "b", T0 + 4 * DAY_US);
	int64_t s3 = add_session(h, "c", T0 + 9 * DAY_US);
	int64_t k1 = sight(h, s1, T0 + 60000000, 300, 400, "upper back", +1, 60, 24);
	int64_t k2 =
	    sight(h, s2, T0 + 4 * DAY_US + 60000000, 450, 380, "upper back", +1, 72, 25.5f);
	int64_t k3 = sight(h, s3, T0 + 9 * DAY_US + 60000000, 210, 520, "upper back", +1, 55, 23);
	cr_assert_eq(k1, k2, "matched by body position, not by the mat");
	cr_assert_eq(k1, k3);
	/* the other side at the same distance is another knot */
	int64_t right =
	    sight(h, s2, T0 + 4 * DAY_US + 90000000, 300, 400, "upper back", -1, 60, 24);
	cr_assert_neq(right, k1);
	/* same mat position as the first sighting, but the lower back: another knot */
	int64_t low = sight(h, s3, T0 + 9 * DAY_US + 90000000, 300, 400, "lower back", +1, 60, 50);
	cr_assert_neq(low, k1);
	return h;
}

Test(chart, body_position_matching_and_seven_day_rule)
{
	char *db = km_test_path(dir, "h.db");
	km_history *h = three_sessions(db);
	struct knots l = {0};
	cr_assert_eq(km_history_list_knots(h, 0, collect, &l), KM_OK);
	cr_assert_eq(l.n, 3u);
	char buf[200];
	const struct km_history_knot *k = &l.k[0];
	cr_assert_str_eq(k->body.region, "upper back");
	cr_assert_eq(k->body.side, 1);
	cr_assert_float_eq(k->body.lateral_mm, (60 + 72 + 55) / 3.0f, 1e-3);
	cr_assert_eq(k->sessions, 3u);
	cr_assert_eq(k->days_seen, 3u);
	cr_assert_eq(k->span_days, 9u);
	cr_assert(k->persistent);
	km_history_knot_advice(k, buf, sizeof buf);
	cr_assert_str_eq(
	    buf, "left upper back: seen on 3 days over 9 days: see a healthcare professional");
	/* seen once: named, no advice */
	for (size_t i = 1; i < l.n; i++) {
		cr_assert_not(l.k[i].persistent);
		km_history_knot_advice(&l.k[i], buf, sizeof buf);
		cr_assert_null(strstr(buf, "healthcare"), "%s", buf);
		cr_assert(strstr(buf, ": seen on 1 day"), "%s", buf);
	}
	km_history_knot_name(&l.k[1], buf, sizeof buf);
	cr_assert_str_eq(buf, "right upper back");
	struct km_history_knot named = l.k[1];
	snprintf(named.body.region, sizeof named.body.region, "thighs");
	km_history_knot_name(&named, buf, sizeof buf);
	cr_assert_str_eq(buf, "right thigh");
	named.body.side = 0;
	km_history_knot_name(&named, buf, sizeof buf);
	cr_assert_str_eq(buf, "thighs (midline)");
	km_history_knot_name(NULL, buf, sizeof buf);
	cr_assert_str_eq(buf, "an unnamed spot");
	struct km_history_advice a;
	cr_assert_eq(km_history_advice(h, &a), KM_OK);
	cr_assert_eq(a.persistent_knots, 1u);
	km_history_destroy(h);
	free(db);
}

Test(chart, mat_only_sighting_never_matches_a_body_knot)
{
	char *db = km_test_path(dir, "h.db");
	km_history *h = open_db(db);
	int64_t s1 = add_session(h, "a", T0);
	int64_t kb = sight(h, s1, T0, 300, 400, "upper back", 1, 60, 24);
	struct km_history_observation o;
	memset(&o, 0, sizeof o);
	o.session_id = s1;
	o.time_unix_us = T0 + 1;
	o.x_mm = 300;
	o.y_mm = 400;
	o.body_relative = true;
	int64_t km = 0;
	cr_assert_eq(km_history_add_observation(h, &o, &km, NULL), KM_OK);
	cr_assert_neq(km, kb);
	/* bad body coordinates are refused */
	snprintf(o.body.region, sizeof o.body.region, "upper back");
	o.body.side = 2;
	cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_ERR_INVALID_ARG);
	o.body.side = 1;
	o.body.lateral_mm = NAN;
	cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_ERR_INVALID_ARG);
	km_history_destroy(h);
	free(db);
}

struct decoded {
	uint32_t w, h;
	uint8_t *px;
};

static void decode_png(const char *path, struct decoded *d)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	cr_assert(png && info);
	if (setjmp(png_jmpbuf(png)))
		cr_assert_fail("libpng could not decode the chart");
	png_init_io(png, f);
	png_read_info(png, info);
	d->w = png_get_image_width(png, info);
	d->h = png_get_image_height(png, info);
	cr_assert_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
	d->px = malloc((size_t)d->w * d->h * 3);
	for (uint32_t y = 0; y < d->h; y++)
		png_read_row(png, d->px + (size_t)y * d->w * 3, NULL);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
}

static size_t count_colour(const struct decoded *d, uint32_t rgb)
{
	size_t n = 0;
	for (size_t i = 0; i < (size_t)d->w * d->h; i++) {
		const uint8_t *p = d->px + i * 3;
		n += ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) == rgb;
	}
	return n;
}

static void progress(void *user, uint64_t done, uint64_t total)
{
	uint64_t *p = user;
	cr_assert_leq(done, total);
	p[0] = done;
	p[1] = total;
}

Test(chart, chart_png_places_spots_by_persistence)
{
	char *db = km_test_path(dir, "h.db");
	char *out = km_test_path(dir, "chart.png");
	km_history *h = three_sessions(db);
	struct km_image_config ic = km_image_config_default();
	ic.path = out;
	uint64_t prog[2] = {0, 0};
	cr_assert_eq(km_history_write_chart(h, &ic, progress, prog), KM_OK);
	cr_assert_eq(prog[0], 3u);
	cr_assert_eq(prog[1], 3u);
	struct stat st;
	cr_assert_eq(stat(out, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	struct decoded d;
	decode_png(out, &d);
	/* one persistent disc (red) and two one-day discs (blue): each disc is
	 * about pi * 7^2 px; the legend has one swatch of each, smaller */
	size_t red = count_colour(&d, km__chart_colour(10, true));
	size_t blue = count_colour(&d, km__chart_colour(0, false));
	cr_assert_gt(red, 150u, "red %zu", red);
	cr_assert_gt(blue, 2 * 150u, "blue %zu", blue);
	/* no 4-7 day spot: only the legend's swatch (pi * 6^2 px) has that colour */
	cr_assert_lt(count_colour(&d, km__chart_colour(5, false)), 150u);
	/* the persistent spot sits on the left upper back: left of the spine,
	 * in the upper quarter of the figure */
	size_t sx = 0, sy = 0, n = 0;
	for (uint32_t y = 0; y < d.h; y++)
		for (uint32_t x = 0; x < d.w / 2; x++) {
			const uint8_t *p = d.px + ((size_t)y * d.w + x) * 3;
			if (((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) ==
			    km__chart_colour(10, true)) {
				sx += x;
				sy += y;
				n++;
			}
		}
	cr_assert_gt(n, 150u, "the persistent disc is left of the page centre");
	cr_assert_lt(sy / n, d.h / 2, "upper back: the upper half of the figure");
	cr_assert_gt(sx / n, 20u);
	free(d.px);
	/* no overwrite without force; a link is refused */
	cr_assert_eq(km_history_write_chart(h, &ic, NULL, NULL), KM_ERR_EXISTS);
	ic.force = true;
	cr_assert_eq(km_history_write_chart(h, &ic, NULL, NULL), KM_OK);
	char *link = km_test_path(dir, "link.png");
	cr_assert_eq(symlink(out, link), 0);
	ic.path = link;
	cr_assert_neq(km_history_write_chart(h, &ic, NULL, NULL), KM_OK);
	km_history_destroy(h);
	free(link);
	free(out);
	free(db);
}

/* The same chart into the caller's pixels (the viewer's history screen):
 * drawn at the PNG's size, the same discs in the same colours (the margins
 * differ by 4 px, so the discs' edges by a few pixels). */
Test(chart, chart_drawn_into_a_buffer_is_the_pngs)
{
	char *db = km_test_path(dir, "h.db");
	char *out = km_test_path(dir, "chart.png");
	km_history *h = three_sessions(db);
	struct km_image_config ic = km_image_config_default();
	ic.path = out;
	cr_assert_eq(km_history_write_chart(h, &ic, NULL, NULL), KM_OK);
	struct decoded d;
	decode_png(out, &d);
	uint8_t *buf = malloc((size_t)d.w * d.h * 3);
	cr_assert_not_null(buf);
	memset(buf, 0x55, (size_t)d.w * d.h * 3); /* cleared by the call */
	/* the PNG's page is 960 x 720 with a 20 px margin; the buffer's chart
	 * has 16 px: compare the colours drawn, not the places */
	cr_assert_eq(km_history_draw_chart(h, buf, d.w, d.h, true, NULL), KM_OK);
	struct decoded b = {d.w, d.h, buf};
	for (int days = 0; days <= 10; days += 5) {
		uint32_t c = km__chart_colour((uint32_t)days, days == 10);
		double nb = (double)count_colour(&b, c), nd = (double)count_colour(&d, c);
		cr_assert_gt(nd, 100.0);
		cr_assert_float_eq(nb, nd, 0.1 * nd, "colour %06x: %g px, %g in the PNG", c, nb,
		                   nd);
	}
	cr_assert_gt(count_colour(&b, 0xffffff), (size_t)d.w * d.h / 2);
	/* too small a picture, or nothing to draw into */
	cr_assert_eq(km_history_draw_chart(h, buf, KM_HISTORY_CHART_MIN_W - 1, 400, true, NULL),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_history_draw_chart(h, NULL, 600, 400, true, NULL), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_history_draw_chart(NULL, buf, 600, 400, true, NULL), KM_ERR_INVALID_ARG);
	free(buf);
	free(d.px);
	km_history_destroy(h);
	free(out);
	free(db);
}

Test(chart, place_back_view)
{
	struct km_history_body b = {"upper back", +1, 100, 25};
	double x, y;
	km__chart_place(&b, 200, 10, 700, &x, &y);
	cr_assert_lt(x, 200, "the person's left is on the viewer's left");
	cr_assert_float_eq(y, 10 + 175, 1e-9);
	b.side = -1;
	km__chart_place(&b, 200, 10, 700, &x, &y);
	cr_assert_gt(x, 200);
}
