/* The viewer's history screen (B key, issue 20): the body chart of the
 * user's history database, drawn by the session part's chart through
 * knotmap/history.h, with the 7-day rule per spot; "No history yet" when
 * there is none. Headless: the renderer on a software surface, then the whole
 * viewer pressing B on the virtual mat and saving a screenshot. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knotmap/history.h"
#include "knotmap/history_screen.h"
#include "viewer_test.h"

#define DAY_US (86400ll * 1000000ll)
#define T0 (1764000000ll * 1000000ll) /* 2025-11-24 */
#define C_PERSIST 0xd62728u           /* the chart's 7-day-rule colour (chart.c) */
#define C_ONCE 0x1f77b4u              /* seen on one day only */

static char dir[64];
static char db[128];

static void quiet(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	(void)msg;
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/km-hscreen-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/history.db", dir);
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(history_screen, .init = setup, .fini = teardown);

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

static void sight(km_history *h, int64_t ses, int64_t t, const char *region, int side,
                  float lateral, float along)
{
	struct km_history_observation o;
	memset(&o, 0, sizeof o);
	o.session_id = ses;
	o.time_unix_us = t;
	o.x_mm = 300.0f + (float)side * lateral;
	o.y_mm = along * 17.5f;
	o.body_relative = true;
	snprintf(o.body.region, sizeof o.body.region, "%s", region);
	o.body.side = side;
	o.body.lateral_mm = lateral;
	o.body.along_pct = along;
	cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_OK);
}

/* sessions: 1 = one session, one spot seen once; 3 = three sessions over 9
 * days, the left upper back seen in each (the 7-day rule) and a right
 * lower-back spot seen once. */
static void make_history(int sessions)
{
	struct km_history_config c = km_history_config_default();
	c.path = db;
	c.log.fn = quiet;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	static const int day[3] = {0, 5, 9};
	for (int i = 0; i < sessions; i++) {
		char uuid[16];
		snprintf(uuid, sizeof uuid, "s%d", i);
		int64_t t = T0 + day[i] * DAY_US;
		int64_t id = add_session(h, uuid, t);
		if (sessions == 1 || i == 1)
			sight(h, id, t + 1000000, "lower back", -1, 60.0f, 40.0f);
		if (sessions == 3)
			sight(h, id, t + 2000000, "upper back", 1, 70.0f + (float)i, 25.0f);
	}
	km_history_destroy(h);
	struct stat st;
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "the history is personal health data: 0600");
}

static size_t count_colour(const struct vt *v, uint32_t rgb)
{
	size_t n = 0;
	for (int y = 0; y < v->surf->h; y++)
		for (int x = 0; x < v->surf->w; x++)
			n += vt_pixel(v, x, y) == rgb;
	return n;
}

/* Draws the screen for the history at db; counts the two spot colours. */
static void draw_screen(struct km_history_screen *hs, size_t *red, size_t *blue, size_t *white)
{
	struct vt v = vt_open(1024, 640);
	struct km_render_config rc = km_render_config_default();
	km_render *r = NULL;
	cr_assert_eq(km_render_create(v.ren, &rc, &r), KM_OK);
	struct km_view_ui ui = km_view_ui_default();
	ui.history = hs;
	cr_assert_eq(km_render_draw(r, NULL, &ui, 0.0f), KM_OK);
	*red = count_colour(&v, C_PERSIST);
	*blue = count_colour(&v, C_ONCE);
	*white = count_colour(&v, 0xffffff);
	km_render_destroy(r);
	vt_close(&v);
}


Test(history_screen, three_sessions_draw_the_chart_with_the_7_day_rule)
{
	make_history(3);
	struct km_history_screen hs;
	struct km_log log = {quiet, NULL, KM_LOG_DEBUG};
	cr_assert_eq(km_history_screen_load(db, 1000, 524, &log, &hs), KM_OK);
	cr_assert_eq(hs.status, KM_OK, "%s", hs.headline);
	cr_assert_eq(hs.sessions, 3u);
	cr_assert_eq(hs.spots, 2u);
	cr_assert_eq(hs.persistent, 1u);
	cr_assert_not_null(hs.rgb);
	cr_assert_eq(hs.n_advice, 2u);
	/* oldest first: the upper back was seen first (day 0) */
	cr_assert_str_eq(hs.advice[0],
	                 "left upper back: seen on 3 days over 9 days: see a healthcare professional");
	cr_assert(strstr(hs.advice[1], "right lower back: seen on 1 day"), "%s", hs.advice[1]);
	cr_assert_null(strstr(hs.advice[1], "professional"), "%s", hs.advice[1]);
	cr_assert(strstr(hs.headline, "3 sessions"), "%s", hs.headline);
	size_t red = 0, blue = 0, white = 0;
	draw_screen(&hs, &red, &blue, &white);
	km_history_screen_free(&hs);
	/* the chart's white page fills most of the screen */
	cr_assert_gt(white, 1000u * 524u / 2, "the chart is on screen (%zu white px)", white);

	/* one session: the legend's discs alone carry the alarm colour */
	remove(db); /* start again (closed: no journal files left) */
	make_history(1);
	cr_assert_eq(km_history_screen_load(db, 1000, 524, &log, &hs), KM_OK);
	cr_assert_eq(hs.status, KM_OK);
	cr_assert_eq(hs.persistent, 0u);
	size_t red1 = 0, blue1 = 0, white1 = 0;
	draw_screen(&hs, &red1, &blue1, &white1);
	km_history_screen_free(&hs);
	/* the persistent spot's disc (7 px radius: ~150 px) on top of the legend's */
	cr_assert_gt(red, red1 + 100, "the 7-day spot is drawn in red: %zu vs %zu", red, red1);
	cr_assert_gt(blue, 100u, "the spot seen once is drawn in blue");
	cr_assert_gt(blue1, 100u);
}

Test(history_screen, no_history_says_so_and_creates_nothing)
{
	struct km_history_screen hs;
	struct km_log log = {quiet, NULL, KM_LOG_DEBUG};
	cr_assert_eq(km_history_screen_load(db, 1000, 524, &log, &hs), KM_OK);
	cr_assert_eq(hs.status, KM_ERR_NOT_FOUND);
	cr_assert_str_eq(hs.headline, "No history yet");
	cr_assert_null(hs.rgb);
	struct stat st;
	cr_assert_neq(stat(db, &st), 0, "looking at the history must not create it");
	size_t red = 0, blue = 0, white = 0;
	draw_screen(&hs, &red, &blue, &white);
	cr_assert_eq(red, 0u);
	km_history_screen_free(&hs);
	/* an empty database (no session yet) says the same */
	make_history(0);
	cr_assert_eq(km_history_screen_load(db, 1000, 524, &log, &hs), KM_OK);
	cr_assert_eq(hs.status, KM_ERR_NOT_FOUND);
	km_history_screen_free(&hs);
	cr_assert_eq(km_history_screen_load(db, 10, 10, &log, &hs), KM_ERR_INVALID_ARG);
}

struct logged {
	char headline[256];
	int advice_lines;
	bool persistent_advice;
};

static void capture(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)level;
	(void)module;
	struct logged *l = user;
	if (!strncmp(msg, "history screen", 14))
		snprintf(l->headline, sizeof l->headline, "%s", msg);
	else if (!strncmp(msg, "history: ", 9)) {
		l->advice_lines++;
		l->persistent_advice =
		    l->persistent_advice || strstr(msg, "see a healthcare professional");
	}
}

/* Counts pixels of one colour in a PNG (libpng's simplified reader). */
static size_t png_count(const char *path, uint32_t rgb)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	cr_assert(png_image_begin_read_from_file(&im, path), "%s", im.message);
	im.format = PNG_FORMAT_RGB;
	size_t bytes = PNG_IMAGE_SIZE(im);
	uint8_t *px = malloc(bytes);
	cr_assert_not_null(px);
	cr_assert(png_image_finish_read(&im, NULL, px, 0, NULL), "%s", im.message);
	size_t n = 0;
	for (size_t i = 0; i + 2 < bytes; i += 3)
		n += ((uint32_t)px[i] << 16 | (uint32_t)px[i + 1] << 8 | px[i + 2]) == rgb;
	free(px);
	return n;
}

Test(history_screen, the_b_key_opens_it_in_the_viewer, .timeout = 120)
{
	make_history(3);
	/* what the renderer draws for this history on its own */
	struct km_history_screen hs;
	struct km_log qlog = {quiet, NULL, KM_LOG_DEBUG};
	cr_assert_eq(km_history_screen_load(db, 1000, 524, &qlog, &hs), KM_OK);
	size_t red = 0, blue = 0, white = 0;
	draw_screen(&hs, &red, &blue, &white);
	km_history_screen_free(&hs);

	setenv("SDL_VIDEODRIVER", "dummy", 1);
	char png[160];
	snprintf(png, sizeof png, "%s/shot.png", dir);
	struct logged l;
	memset(&l, 0, sizeof l);
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_SIM;
	o.scenario = "back-lying";
	o.sim_speed = 16.0;
	o.sound = false;
	o.history_path = db;
	o.keys = "b";
	o.screenshot_path = png;
	o.screenshot_after_s = 1.0;
	o.log.fn = capture;
	o.log.user = &l;
	o.log.max_level = KM_LOG_DEBUG;
	int err = km_viewer_run(&o);
	cr_assert_eq(err, KM_OK, "km_viewer_run: %s", km_strerror(err));
	cr_assert(strstr(l.headline, "3 sessions, 2 spots"), "logged: '%s'", l.headline);
	cr_assert_eq(l.advice_lines, 2);
	cr_assert(l.persistent_advice);
	/* the screenshot is the history screen: the same chart, pixel for pixel */
	size_t shot_red = png_count(png, C_PERSIST), shot_blue = png_count(png, C_ONCE);
	cr_assert_eq(shot_red, red, "red %zu in the screenshot, %zu drawn alone", shot_red, red);
	cr_assert_eq(shot_blue, blue);
	cr_assert_gt(shot_red, 150u);
}
