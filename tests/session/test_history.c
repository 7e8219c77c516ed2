/* History database: schema, migrations, 7-day rule, red flags, file modes. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <sys/stat.h>

#include "knotmap/history.h"

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

TestSuite(history, .init = setup, .fini = teardown);

#define DAY_US (86400ll * 1000000ll)
#define T0 (1764000000ll * 1000000ll) /* 2025-11-24 */

/* Runs a shell command, returns its stdout (trailing newline removed). */
static char *sh(const char *cmd)
{
	static char out[8192];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	cr_assert_eq(st, 0, "command failed: %s", cmd);
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
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
	snprintf(s.device, sizeof s.device, "sim:test");
	int64_t id = 0;
	cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
	cr_assert_gt(id, 0);
	return id;
}

static bool observe(km_history *h, int64_t ses, int64_t t, float x, float y, bool body,
                    int64_t *knot)
{
	struct km_history_observation o = {ses, t, x, y, body, 1.5f, 40.0f, {{0}, 0, 0, 0}};
	bool persistent = true;
	int64_t k = 0;
	cr_assert_eq(km_history_add_observation(h, &o, &k, &persistent), KM_OK);
	if (knot)
		*knot = k;
	return persistent;
}

Test(history, config_rejected)
{
	km_history *h = (km_history *)1;
	cr_assert_eq(km_history_create(NULL, &h), KM_ERR_INVALID_ARG);
	cr_assert_null(h);
	struct km_history_config c = km_history_config_default();
	char *p = km_test_path(dir, "h.db");
	c.path = p;
	c.match_mm = 0.0f;
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_INVALID_ARG);
	c = km_history_config_default();
	c.path = p;
	c.persist_days = NAN;
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_INVALID_ARG);
	c = km_history_config_default();
	c.path = "";
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_INVALID_ARG);
	c = km_history_config_default();
	c.path = p;
	c.read_only = true;
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_test_file_size(p), -1);
	km_history_destroy(NULL);
	free(p);
}

Test(history, default_path_follows_xdg)
{
	char buf[512];
	setenv("XDG_DATA_HOME", "/x/data", 1);
	cr_assert_eq(km_history_default_path(buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/x/data/knotmap/history.db");
	setenv("XDG_DATA_HOME", "relative/ignored", 1);
	setenv("HOME", "/home/u", 1);
	cr_assert_eq(km_history_default_path(buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/home/u/.local/share/knotmap/history.db");
	unsetenv("XDG_DATA_HOME");
	cr_assert_eq(km_history_data_path("sessions", buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/home/u/.local/share/knotmap/sessions");
	cr_assert_eq(km_history_default_path(buf, 8), KM_ERR_OVERFLOW);
	unsetenv("HOME");
	cr_assert_eq(km_history_default_path(buf, sizeof buf), KM_ERR_NOT_FOUND);
}

Test(history, created_private_wal_versioned)
{
	setenv("XDG_DATA_HOME", dir, 1);
	struct km_history_config c = km_history_config_default();
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK); /* default path under XDG */
	add_session(h, "s1", T0);
	char *p = km_test_path(dir, "knotmap/history.db");
	char *d = km_test_path(dir, "knotmap");
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(d, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	char *wal = km_test_path(dir, "knotmap/history.db-wal");
	if (stat(wal, &st) == 0)
		cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(km_history_schema_version(h), KM_HISTORY_SCHEMA_VERSION);
	km_history_destroy(h);
	/* Checked with the real client. */
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "sqlite3 '%s' 'PRAGMA user_version; PRAGMA journal_mode;"
	         " SELECT uuid FROM sessions;'",
	         p);
	char want[64];
	snprintf(want, sizeof want, "%d\nwal\ns1", KM_HISTORY_SCHEMA_VERSION);
	cr_assert_str_eq(sh(cmd), want);
	free(wal);
	free(d);
	free(p);
}

struct ses_list {
	int64_t id[8];
	int n;
};

static int collect_session(void *user, const struct km_history_session *s)
{
	struct ses_list *l = user;
	if (l->n < 8)
		l->id[l->n++] = s->id;
	return 0;
}

Test(history, sessions_and_reset)
{
	char *p = km_test_path(dir, "h.db");
	km_history *h = open_db(p);
	int64_t a = add_session(h, "a", T0);
	int64_t b = add_session(h, "b", T0 + DAY_US);
	struct km_history_session s;
	memset(&s, 0, sizeof s);
	snprintf(s.uuid, sizeof s.uuid, "a");
	cr_assert_eq(km_history_add_session(h, &s, NULL), KM_ERR_EXISTS);
	cr_assert_eq(km_history_end_session(h, a, T0 + 600 * 1000000ll), KM_OK);
	cr_assert_eq(km_history_end_session(h, 999, 1), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_history_get_session(h, a, &s), KM_OK);
	cr_assert_str_eq(s.uuid, "a");
	cr_assert_eq(s.end_unix_us, T0 + 600 * 1000000ll);
	int64_t id = 0;
	cr_assert_eq(km_history_find_session(h, "b", &id), KM_OK);
	cr_assert_eq(id, b);
	cr_assert_eq(km_history_find_session(h, "zz", &id), KM_ERR_NOT_FOUND);
	struct ses_list l = {.n = 0};
	cr_assert_eq(km_history_list_sessions(h, collect_session, &l), KM_OK);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(l.id[0], b, "newest first");
	cr_assert_eq(l.id[1], a);
	cr_assert_eq(km_history_reset(h), KM_OK);
	cr_assert_eq(km_history_get_session(h, a, &s), KM_ERR_NOT_FOUND);
	l.n = 0;
	cr_assert_eq(km_history_list_sessions(h, collect_session, &l), KM_OK);
	cr_assert_eq(l.n, 0);
	add_session(h, "a", T0); /* uuid free again */
	km_history_destroy(h);
	free(p);
}

Test(history, seven_day_rule)
{
	char *p = km_test_path(dir, "h.db");
	km_history *h = open_db(p);
	int64_t s1 = add_session(h, "day0", T0);
	int64_t s2 = add_session(h, "day3", T0 + 3 * DAY_US);
	int64_t s3 = add_session(h, "day8", T0 + 8 * DAY_US);
	int64_t k1, k2, k3, k4;
	cr_assert(!observe(h, s1, T0, 100.0f, 200.0f, true, &k1));
	/* 18 mm away three days later: same knot, not yet a week */
	cr_assert(!observe(h, s2, T0 + 3 * DAY_US, 110.0f, 215.0f, true, &k2));
	cr_assert_eq(k2, k1);
	/* a spot 60 mm away is another knot */
	cr_assert(!observe(h, s1, T0 + 60 * 1000000ll, 160.0f, 200.0f, true, &k3));
	cr_assert_neq(k3, k1);
	/* the same position in mat coordinates is not matched to a body knot */
	cr_assert(!observe(h, s3, T0 + 8 * DAY_US, 100.0f, 200.0f, false, &k4));
	cr_assert_neq(k4, k1);
	/* eight days after the first sighting, in another session: flagged */
	cr_assert(observe(h, s3, T0 + 8 * DAY_US, 104.0f, 207.0f, true, &k2));
	cr_assert_eq(k2, k1);

	/* Many sightings within one session over 8 days do not count: one session. */
	int64_t s4 = add_session(h, "long", T0 + 20 * DAY_US);
	cr_assert(!observe(h, s4, T0 + 20 * DAY_US, 400.0f, 400.0f, true, &k4));
	cr_assert(!observe(h, s4, T0 + 29 * DAY_US, 401.0f, 400.0f, true, NULL));

	struct km_history_advice adv;
	cr_assert_eq(km_history_advice(h, &adv), KM_OK);
	cr_assert_eq(adv.persistent_knots, 1);
	cr_assert_eq(adv.red_flags, 0);
	cr_assert(adv.see_professional);
	km_history_destroy(h);

	/* A longer window in the config un-flags it. */
	struct km_history_config c = km_history_config_default();
	c.path = p;
	c.persist_days = 10.0f;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	cr_assert_eq(km_history_advice(h, &adv), KM_OK);
	cr_assert_eq(adv.persistent_knots, 0);
	cr_assert(!adv.see_professional);
	km_history_destroy(h);
	free(p);
}

struct knot_list {
	struct km_history_knot k[8];
	int n;
};

static int collect_knot(void *user, const struct km_history_knot *k)
{
	struct knot_list *l = user;
	if (l->n < 8)
		l->k[l->n++] = *k;
	return 0;
}

Test(history, knot_position_is_mean_and_listed_per_session)
{
	char *p = km_test_path(dir, "h.db");
	km_history *h = open_db(p);
	int64_t s1 = add_session(h, "1", T0);
	int64_t s2 = add_session(h, "2", T0 + DAY_US);
	observe(h, s1, T0, 100.0f, 100.0f, false, NULL);
	observe(h, s2, T0 + DAY_US, 110.0f, 104.0f, false, NULL);
	observe(h, s2, T0 + DAY_US, 300.0f, 300.0f, false, NULL);
	struct knot_list l = {.n = 0};
	cr_assert_eq(km_history_list_knots(h, s1, collect_knot, &l), KM_OK);
	cr_assert_eq(l.n, 1);
	cr_assert_float_eq(l.k[0].x_mm, 105.0f, 1e-3);
	cr_assert_float_eq(l.k[0].y_mm, 102.0f, 1e-3);
	cr_assert_eq(l.k[0].sessions, 2);
	cr_assert_eq(l.k[0].observations, 2);
	cr_assert_float_eq(l.k[0].last_stiffness, 1.5f, 1e-6);
	l.n = 0;
	cr_assert_eq(km_history_list_knots(h, 0, collect_knot, &l), KM_OK);
	cr_assert_eq(l.n, 2);
	struct km_history_observation bad = {s1, T0, NAN, 0, false, 0, 0, {{0}, 0, 0, 0}};
	cr_assert_eq(km_history_add_observation(h, &bad, NULL, NULL), KM_ERR_INVALID_ARG);
	bad.x_mm = 1.0f;
	bad.session_id = 12345;
	cr_assert_eq(km_history_add_observation(h, &bad, NULL, NULL), KM_ERR_NOT_FOUND);
	km_history_destroy(h);
	free(p);
}

struct hold_list {
	struct km_history_hold d[8];
	int n;
};

static int collect_hold(void *user, const struct km_history_hold *d)
{
	struct hold_list *l = user;
	if (l->n < 8)
		l->d[l->n++] = *d;
	return 0;
}

Test(history, holds_with_outcomes)
{
	char *p = km_test_path(dir, "h.db");
	km_history *h = open_db(p);
	int64_t s = add_session(h, "1", T0);
	int64_t k;
	observe(h, s, T0, 50.0f, 60.0f, true, &k);
	const enum km_outcome outs[] = {KM_OUTCOME_RELEASED, KM_OUTCOME_STIFFENED,
	                                KM_OUTCOME_STOPPED};
	for (int i = 0; i < 3; i++) {
		struct km_history_hold d = {0,
		                            s,
		                            i == 2 ? 0 : k,
		                            T0 + i * 120 * 1000000ll,
		                            30.0f + (float)i * 10.0f,
		                            35.0f,
		                            1050.0f + (float)i,
		                            -15.0f,
		                            outs[i]};
		cr_assert_eq(km_history_add_hold(h, &d, NULL), KM_OK);
	}
	struct km_history_hold bad = {0, s, k, T0, -1.0f, 1, 1, 0, KM_OUTCOME_STOPPED};
	cr_assert_eq(km_history_add_hold(h, &bad, NULL), KM_ERR_INVALID_ARG);
	bad.duration_s = 1.0f;
	bad.outcome = (enum km_outcome)7;
	cr_assert_eq(km_history_add_hold(h, &bad, NULL), KM_ERR_INVALID_ARG);
	struct hold_list l = {.n = 0};
	cr_assert_eq(km_history_list_holds(h, s, collect_hold, &l), KM_OK);
	cr_assert_eq(l.n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(l.d[i].outcome, outs[i]);
		cr_assert_float_eq(l.d[i].duration_s, 30.0f + (float)i * 10.0f, 1e-5);
	}
	cr_assert_eq(l.d[0].knot_id, k);
	cr_assert_eq(l.d[2].knot_id, 0);
	struct km_history_session ses;
	cr_assert_eq(km_history_get_session(h, s, &ses), KM_OK);
	cr_assert_eq(ses.holds, 3);
	cr_assert_eq(ses.knots, 1);
	km_history_destroy(h);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"SELECT group_concat(outcome) FROM holds\"", p);
	cr_assert_str_eq(sh(cmd), "released,stiffened,stopped");
	free(p);
}

Test(history, red_flags)
{
	cr_assert_eq(km_red_flag_classify("my left foot feels NUMB"), KM_RED_FLAG_NUMBNESS);
	cr_assert_eq(km_red_flag_classify("pins and needles in fingers"), KM_RED_FLAG_TINGLING);
	cr_assert_eq(km_red_flag_classify("Tingling"), KM_RED_FLAG_TINGLING);
	cr_assert_eq(km_red_flag_classify("pain shooting down my leg"), KM_RED_FLAG_RADIATING);
	cr_assert_eq(km_red_flag_classify("numb and radiating"), KM_RED_FLAG_RADIATING);
	cr_assert_eq(km_red_flag_classify("sore"), KM_RED_FLAG_OTHER);
	char *p = km_test_path(dir, "h.db");
	km_history *h = open_db(p);
	int64_t s = add_session(h, "1", T0);
	cr_assert_eq(km_history_add_red_flag(h, s, T0, "tingling in toes", NULL), KM_OK);
	cr_assert_eq(km_history_add_red_flag(h, 0, T0, "numb", NULL), KM_OK);
	cr_assert_eq(km_history_add_red_flag(h, 0, T0, "", NULL), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_history_add_red_flag(h, 777, T0, "numb", NULL), KM_ERR_NOT_FOUND);
	struct km_history_advice adv;
	cr_assert_eq(km_history_advice(h, &adv), KM_OK);
	cr_assert_eq(adv.red_flags, 2);
	cr_assert(adv.see_professional);
	km_history_destroy(h);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"SELECT group_concat(kind) FROM red_flags\"", p);
	cr_assert_str_eq(sh(cmd), "tingling,numbness");
	free(p);
}

Test(history, migrates_version_1_file)
{
	char *p = km_test_path(dir, "old.db");
	/* A file as the first release wrote it (schema 1), made with the shell. */
	char cmd[8192];
	snprintf(
	    cmd, sizeof cmd,
	    "sqlite3 '%s' \""
	    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, uuid TEXT UNIQUE,"
	    " start_us INTEGER NOT NULL, end_us INTEGER NOT NULL DEFAULT 0,"
	    " device TEXT NOT NULL DEFAULT '', recording TEXT NOT NULL DEFAULT '');"
	    "CREATE TABLE knots(id INTEGER PRIMARY KEY, x_mm REAL NOT NULL, y_mm REAL NOT NULL,"
	    " first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL);"
	    "CREATE TABLE observations(id INTEGER PRIMARY KEY, knot_id INTEGER NOT NULL"
	    " REFERENCES knots(id) ON DELETE CASCADE, session_id INTEGER NOT NULL REFERENCES"
	    " sessions(id) ON DELETE CASCADE, time_us INTEGER NOT NULL, x_mm REAL NOT NULL,"
	    " y_mm REAL NOT NULL, stiffness REAL NOT NULL DEFAULT 0);"
	    "CREATE TABLE holds(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES"
	    " sessions(id) ON DELETE CASCADE, knot_id INTEGER REFERENCES knots(id) ON DELETE"
	    " SET NULL, start_us INTEGER NOT NULL, duration_s REAL NOT NULL, load_kpa REAL"
	    " NOT NULL, dose_kpa_s REAL NOT NULL, outcome TEXT NOT NULL CHECK(outcome IN"
	    " ('stopped','released','stiffened')));"
	    "INSERT INTO sessions VALUES(1, 'old', %lld, 0, 'KM-1', '');"
	    "INSERT INTO knots VALUES(1, 100, 100, %lld, %lld);"
	    "INSERT INTO observations VALUES(1, 1, 1, %lld, 100, 100, 2.0);"
	    "INSERT INTO holds VALUES(1, 1, 1, %lld, 45, 30, 1350, 'released');"
	    "PRAGMA user_version = 1;\"",
	    p, (long long)T0, (long long)T0, (long long)T0, (long long)T0, (long long)T0);
	sh(cmd);
	km_history *h = open_db(p);
	cr_assert_eq(km_history_schema_version(h), KM_HISTORY_SCHEMA_VERSION);
	/* old rows kept; old positions are mat-relative */
	struct knot_list l = {.n = 0};
	cr_assert_eq(km_history_list_knots(h, 0, collect_knot, &l), KM_OK);
	cr_assert_eq(l.n, 1);
	cr_assert(!l.k[0].body_relative);
	/* schema 3 on old rows: no body coordinates, length unknown, the file
	 * (made by the shell with the umask) narrowed to the owner */
	cr_assert_str_eq(l.k[0].body.region, "");
	cr_assert_eq(l.k[0].days_seen, 1u);
	struct km_history_session old;
	cr_assert_eq(km_history_get_session(h, 1, &old), KM_OK);
	cr_assert_lt(old.mat_seconds, 0.0);
	cr_assert_eq(km_history_set_mat_seconds(h, 1, 12.5), KM_OK);
	cr_assert_eq(km_history_get_session(h, 1, &old), KM_OK);
	cr_assert_float_eq(old.mat_seconds, 12.5, 1e-9);
	cr_assert_eq(km_history_set_mat_seconds(h, 1, -1.0), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_history_set_mat_seconds(h, 77, 1.0), KM_ERR_NOT_FOUND);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	struct hold_list hl = {.n = 0};
	cr_assert_eq(km_history_list_holds(h, 1, collect_hold, &hl), KM_OK);
	cr_assert_eq(hl.n, 1);
	cr_assert_eq(hl.d[0].outcome, KM_OUTCOME_RELEASED);
	cr_assert_float_eq(hl.d[0].stiffness_pct, 0.0f, 0);
	/* new features work on the migrated file, and the 7-day rule sees old data */
	int64_t s = add_session(h, "new", T0 + 9 * DAY_US);
	cr_assert(observe(h, s, T0 + 9 * DAY_US, 105.0f, 95.0f, false, NULL));
	cr_assert_eq(km_history_add_red_flag(h, s, T0, "tingling", NULL), KM_OK);
	km_history_destroy(h);
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version'", p);
	char want[16];
	snprintf(want, sizeof want, "%d", KM_HISTORY_SCHEMA_VERSION);
	cr_assert_str_eq(sh(cmd), want);
	free(p);
}

Test(history, refuses_newer_schema_and_non_database)
{
	char *p = km_test_path(dir, "new.db");
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'CREATE TABLE t(x); PRAGMA user_version = 99;'", p);
	sh(cmd);
	struct km_history_config c = km_history_config_default();
	c.path = p;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_BAD_VERSION);
	cr_assert_null(h);
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version'", p);
	cr_assert_str_eq(sh(cmd), "99", "a refused file is left untouched");
	char *q = km_test_path(dir, "junk.db");
	FILE *f = fopen(q, "w");
	fputs("this is not a database, just some text that is long enough to be a header......"
	      "..........................................................................",
	      f);
	fclose(f);
	c.path = q;
	cr_assert_eq(km_history_create(&c, &h), KM_ERR_DATABASE);
	free(q);
	free(p);
}

static char warned[1024];
static void keep_warning(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)module;
	if (level == KM_LOG_WARN)
		snprintf(warned, sizeof warned, "%s", msg);
}

Test(history, a_world_readable_database_is_narrowed_to_0600_and_said)
{
	char *db = km_test_path(dir, "history.db");
	km_history_destroy(open_db(db));
	cr_assert_eq(chmod(db, 0644), 0); /* e.g. made by an older version, or copied in */
	struct km_history_config c = km_history_config_default();
	c.path = db;
	c.log.fn = keep_warning;
	c.log.max_level = KM_LOG_WARN;
	km_history *h = NULL;
	warned[0] = '\0';
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	struct stat st;
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert(strstr(warned, "0644") && strstr(warned, "0600"), "warning: %s", warned);
	km_history_destroy(h);
	free(db);
}

Test(history, recording_paths_are_stored_whole)
{
	char *db = km_test_path(dir, "history.db");
	km_history *h = open_db(db);
	struct km_history_session s;
	memset(&s, 0, sizeof s);
	s.start_unix_us = T0;
	size_t n = snprintf(s.recording, sizeof s.recording, "%s/", dir);
	while (n < 1500) /* well past the old 511-byte cut */
		n += snprintf(s.recording + n, sizeof s.recording - n, "deep-folder-name/");
	snprintf(s.recording + n, sizeof s.recording - n, "session.kmrec");
	int64_t id = 0;
	cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
	struct km_history_session back;
	cr_assert_eq(km_history_get_session(h, id, &back), KM_OK);
	cr_assert_str_eq(back.recording, s.recording);

	memset(s.recording, 'x', sizeof s.recording); /* no terminator: refused, not cut */
	s.uuid[0] = '\0';
	cr_assert_eq(km_history_add_session(h, &s, &id), KM_ERR_NAME_TOO_LONG);
	km_history_destroy(h);
	free(db);
}

/* A reader (read_only) never migrates: a schema 2 file (as the previous
 * knotmap wrote it) is read as it is, the schema 3 fields at their defaults,
 * and the file keeps schema 2. */
Test(history, read_only_reads_schema_2_without_migrating)
{
	char *p = km_test_path(dir, "v2.db");
	char cmd[8192];
	snprintf(
	    cmd, sizeof cmd,
	    "sqlite3 '%s' \""
	    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, uuid TEXT UNIQUE,"
	    " start_us INTEGER NOT NULL, end_us INTEGER NOT NULL DEFAULT 0,"
	    " device TEXT NOT NULL DEFAULT '', recording TEXT NOT NULL DEFAULT '');"
	    "CREATE TABLE knots(id INTEGER PRIMARY KEY, x_mm REAL NOT NULL, y_mm REAL NOT NULL,"
	    " first_seen_us INTEGER NOT NULL, last_seen_us INTEGER NOT NULL,"
	    " body_relative INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE observations(id INTEGER PRIMARY KEY, knot_id INTEGER NOT NULL,"
	    " session_id INTEGER NOT NULL, time_us INTEGER NOT NULL, x_mm REAL NOT NULL,"
	    " y_mm REAL NOT NULL, stiffness REAL NOT NULL DEFAULT 0,"
	    " peak_kpa REAL NOT NULL DEFAULT 0);"
	    "CREATE TABLE holds(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL,"
	    " knot_id INTEGER, start_us INTEGER NOT NULL, duration_s REAL NOT NULL,"
	    " load_kpa REAL NOT NULL, dose_kpa_s REAL NOT NULL, outcome TEXT NOT NULL,"
	    " stiffness_pct REAL NOT NULL DEFAULT 0);"
	    "CREATE TABLE red_flags(id INTEGER PRIMARY KEY, session_id INTEGER,"
	    " time_us INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);"
	    "INSERT INTO sessions VALUES(1, 'v2', %lld, %lld, 'sim:x', '');"
	    "INSERT INTO knots VALUES(1, 10, 20, %lld, %lld, 1);"
	    "INSERT INTO observations VALUES(1, 1, 1, %lld, 10, 20, 0, 5);"
	    "PRAGMA user_version = 2;\"",
	    p, (long long)T0, (long long)(T0 + 1000000), (long long)T0, (long long)T0,
	    (long long)T0);
	sh(cmd);
	struct km_history_config c = km_history_config_default();
	c.path = p;
	c.read_only = true;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	cr_assert_eq(km_history_schema_version(h), 2);
	struct km_history_session s;
	cr_assert_eq(km_history_get_session(h, 1, &s), KM_OK);
	cr_assert_lt(s.mat_seconds, 0.0);
	struct knot_list l = {.n = 0};
	cr_assert_eq(km_history_list_knots(h, 0, collect_knot, &l), KM_OK);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.k[0].body.region, "");
	cr_assert(l.k[0].body_relative);
	km_history_destroy(h);
	snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version'", p);
	cr_assert_str_eq(sh(cmd), "2");
	free(p);
}
