/* The live session into the history (knotmap/session_log.h), shared by
 * `knotmap record` and the viewer's R key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knotmap/session_log.h"

static char db[64];

static void setup(void)
{
	snprintf(db, sizeof db, "/tmp/km_slog_XXXXXX");
	int fd = mkstemp(db);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(db);
}

static void teardown(void)
{
	char p[128];
	unlink(db);
	snprintf(p, sizeof p, "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db);
	unlink(p);
}

static struct km_event ev_of(enum km_event_type t, uint32_t track, uint64_t t_us)
{
	struct km_event e;
	memset(&e, 0, sizeof e);
	e.type = t;
	e.track_id = track;
	e.time_us = t_us;
	e.x_mm = 120.0f;
	e.y_mm = 300.0f;
	e.load_kpa = 40.0f;
	e.hold_index = 1;
	return e;
}

struct seen {
	int knots, holds;
	struct km_history_knot k;
	struct km_history_hold h;
};

static int on_knot(void *user, const struct km_history_knot *k)
{
	struct seen *s = user;
	s->knots++;
	s->k = *k;
	return 0;
}

static int on_hold(void *user, const struct km_history_hold *h)
{
	struct seen *s = user;
	s->holds++;
	s->h = *h;
	return 0;
}

Test(session_log, knots_and_holds_reach_the_history, .init = setup, .fini = teardown)
{
	struct km_session_log_config c = km_session_log_config_default();
	c.db_path = db;
	c.uuid = "20261206-030000";
	c.start_unix_us = 1765000000000000;
	c.device = "sim:tennis-ball-trapezius";
	c.recording = "/somewhere/sessions/20261206-030000.kmrec";
	km_session_log *l = NULL;
	cr_assert_eq(km_session_log_create(&c, &l), KM_OK);
	km_session_log_first_frame(l, 5000000);
	/* the body outline is known: the knot is stored relative to it */
	km_session_log_outline(l, true, 100.0f, 50.0f);
	struct km_event e = ev_of(KM_EVENT_KNOT_FOUND, 7, 6000000);
	cr_assert_eq(km_session_log_event(l, &e, NULL), KM_OK);
	e = ev_of(KM_EVENT_HOLD_STARTED, 7, 7000000);
	cr_assert_eq(km_session_log_event(l, &e, NULL), KM_OK);
	e = ev_of(KM_EVENT_HOLD_STOPPED, 7, 40000000);
	e.held_s = 33.0f;
	e.dose_kpa_s = 1320.0f;
	e.reason = KM_REASON_UNLOADED;
	cr_assert_eq(km_session_log_event(l, &e, NULL), KM_OK);
	const struct km_summary *sum = km_session_log_summary(l);
	cr_assert_eq(sum->n_knots, 1u);
	cr_assert_eq(sum->n_holds, 1u);
	cr_assert_eq(km_session_log_end(l, c.start_unix_us + 36000000), KM_OK);
	int64_t id = km_session_log_id(l);
	cr_assert_gt(id, 0);

	km_history *h = km_session_log_history(l);
	struct km_history_session s;
	cr_assert_eq(km_history_get_session(h, id, &s), KM_OK);
	cr_assert_str_eq(s.recording, c.recording);
	cr_assert_str_eq(s.device, c.device);
	cr_assert_eq(s.end_unix_us - s.start_unix_us, 36000000);
	struct seen seen = {0};
	cr_assert_eq(km_history_list_knots(h, id, on_knot, &seen), KM_OK);
	cr_assert_eq(seen.knots, 1);
	cr_assert(seen.k.body_relative);
	cr_assert_float_eq(seen.k.x_mm, 20.0f, 1e-3f);
	cr_assert_float_eq(seen.k.y_mm, 250.0f, 1e-3f);
	/* first seen 1 s after the first frame, on the wall clock */
	cr_assert_eq(seen.k.first_seen_unix_us, c.start_unix_us + 1000000);
	cr_assert_eq(km_history_list_holds(h, id, on_hold, &seen), KM_OK);
	cr_assert_eq(seen.holds, 1);
	cr_assert_eq(seen.h.knot_id, seen.k.id, "the hold is on the knot");
	cr_assert_float_eq(seen.h.duration_s, 33.0f, 1e-3f);
	cr_assert_eq(seen.h.start_unix_us, c.start_unix_us + 2000000);
	km_session_log_destroy(l);
}

Test(session_log, a_path_too_long_is_refused_not_cut, .init = setup, .fini = teardown)
{
	static char longpath[KM_HISTORY_PATH_MAX + 10];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	struct km_session_log_config c = km_session_log_config_default();
	c.db_path = db;
	c.recording = longpath;
	km_session_log *l = (km_session_log *)1;
	cr_assert_eq(km_session_log_create(&c, &l), KM_ERR_NAME_TOO_LONG);
	cr_assert_null(l);
	cr_assert_eq(km_session_log_create(NULL, &l), KM_ERR_INVALID_ARG);
	km_session_log_destroy(NULL);
}

/* Stopped mid-hold: the hold reaches the history with its length so far, on
 * the knot of its track; the knot has its body coordinates; the mat-time
 * length is stored for `history --list`. */
Test(session_log, running_hold_body_position_and_length, .init = setup, .fini = teardown)
{
	struct km_session_log_config c = km_session_log_config_default();
	c.db_path = db;
	c.uuid = "20261206-040000";
	c.start_unix_us = 1765000000000000;
	c.device = "sim:guided-upper-back";
	km_session_log *l = NULL;
	cr_assert_eq(km_session_log_create(&c, &l), KM_OK);
	km_session_log_first_frame(l, 0);
	struct km_history_body b = {"upper back", +1, 45.0f, 22.0f};
	struct km_event e = ev_of(KM_EVENT_KNOT_FOUND, 7, 1000000);
	cr_assert_eq(km_session_log_event_at(l, &e, &b, NULL), KM_OK);
	e = ev_of(KM_EVENT_HOLD_STARTED, 7, 2000000);
	cr_assert_eq(km_session_log_event(l, &e, NULL), KM_OK);
	e = ev_of(KM_EVENT_HOLD_TARGET, 7, 19500000);
	e.held_s = 17.0f;
	cr_assert_eq(km_session_log_event(l, &e, NULL), KM_OK);
	cr_assert_eq(km_session_log_finish(l, 20000000), KM_OK);
	cr_assert_eq(km_session_log_mat_seconds(l, 20.0), KM_OK);
	cr_assert_eq(km_session_log_end(l, c.start_unix_us + 20000000), KM_OK);
	struct seen s = {0};
	km_history *h = km_session_log_history(l);
	int64_t id = km_session_log_id(l);
	cr_assert_eq(km_history_list_knots(h, id, on_knot, &s), KM_OK);
	cr_assert_eq(km_history_list_holds(h, id, on_hold, &s), KM_OK);
	cr_assert_eq(s.knots, 1);
	cr_assert_str_eq(s.k.body.region, "upper back");
	cr_assert_eq(s.k.body.side, 1);
	cr_assert_eq(s.holds, 1);
	cr_assert_float_eq(s.h.duration_s, 17.0f, 1e-6);
	cr_assert_eq(s.h.knot_id, s.k.id);
	struct km_history_session hs;
	cr_assert_eq(km_history_get_session(h, id, &hs), KM_OK);
	cr_assert_float_eq(hs.mat_seconds, 20.0, 1e-9);
	km_session_log_destroy(l);
}
