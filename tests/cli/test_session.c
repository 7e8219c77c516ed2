/* The session subcommands end to end: record (virtual mat), replay, analyze,
 * export, history; exit codes and messages. Runs the built knotmap binary. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "knotmap/history.h"

static char *dir;
static char knotmap[4096];

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
	const char *src = getenv("KM_SOURCE_DIR");
	km_test_knotmap_path(knotmap, sizeof knotmap);
	km_test_home_in(dir);
	if (src) {
		char sc[4096];
		snprintf(sc, sizeof sc, "%s/hardware/sim/scenarios", src);
		setenv("KNOTMAP_SCENARIO_DIR", sc, 1);
	}
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 100);

/* Runs `knotmap ARGS` (a shell fragment) in the test's directory. */
static struct km_test_run *knot(const char *fmt, ...) KM_PRINTF(1, 2);
static struct km_test_run *knot(const char *fmt, ...)
{
	static struct km_test_run r;
	if (access(knotmap, X_OK) != 0)
		cr_skip_test("knotmap binary not built at %s", knotmap);
	va_list ap;
	va_start(ap, fmt);
	km_test_vrun_in(&r, dir, knotmap, fmt, ap);
	va_end(ap);
	return &r;
}

static char *sh(const char *cmd)
{
	static char out[4096];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	cr_assert_eq(pclose(p), 0, "%s", cmd);
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
}

Test(cli, help_and_usage_errors)
{
	const char *cmds[] = {"record", "export", "history", "analyze", "replay"};
	for (size_t i = 0; i < 5; i++) {
		struct km_test_run *r = knot("%s --help", cmds[i]);
		cr_assert_eq(r->status, 0, "%s --help", cmds[i]);
		cr_assert(strstr(r->out, "usage: knotmap"), "%s", r->out);
		cr_assert(strstr(r->out, "Exit status"), "%s --help lists exit codes", cmds[i]);
		r = knot("%s --no-such-option", cmds[i]);
		cr_assert_eq(r->status, 2, "%s: %s", cmds[i], r->out);
		cr_assert(strstr(r->out, "--help"), "the error says where to look: %s", r->out);
	}
	struct km_test_run *r = knot("export");
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->out, "FILE.kmrec"), "%s", r->out);
	r = knot("export x.kmrec -o out.xyz");
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->out, "--format"), "%s", r->out);
	r = knot("history --show abc");
	cr_assert_eq(r->status, 2);
	r = knot("record --duration -3");
	cr_assert_eq(r->status, 2);
	r = knot("replay missing.kmrec");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->out, "hint:"), "%s", r->out);
	FILE *f = fopen("/dev/null", "r");
	fclose(f);
	r = knot("analyze /etc/hostname");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->out, "not a knotmap recording"), "%s", r->out);
}

Test(cli, record_replay_analyze_export)
{
	struct km_test_run *r =
	    knot("record --sim tennis-ball-trapezius --duration 1.5 --fast -o rec/a.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "recorded 151 frames"), "%s", r->out);
	char *p = km_test_path(dir, "rec/a.kmrec");
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	/* the session is in the history, under XDG_DATA_HOME */
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
	         "sqlite3 '%s/knotmap/history.db' \"SELECT device, recording LIKE '%%a.kmrec'"
	         " FROM sessions\"",
	         dir);
	cr_assert_str_eq(sh(cmd), "sim:tennis-ball-trapezius|1");

	r = knot("record --sim tennis-ball-trapezius --duration 1 --fast -o rec/a.kmrec");
	cr_assert_eq(r->status, 1, "an existing file is not overwritten");
	cr_assert(strstr(r->out, "--force"), "%s", r->out);

	r = knot("replay rec/a.kmrec --verify");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "151 over 1.50 s"), "%s", r->out);
	cr_assert(strstr(r->out, "closed cleanly"), "%s", r->out);
	r = knot("replay rec/a.kmrec --frames --from 1.0 --count 2");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "frame     100"), "%s", r->out);
	cr_assert(strstr(r->out, "frame     101"), "%s", r->out);
	cr_assert(!strstr(r->out, "frame     102"), "%s", r->out);

	r = knot("analyze rec/a.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "analysed 151 frames"), "%s", r->out);

	r = knot("export rec/a.kmrec -o s.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	snprintf(cmd, sizeof cmd, "jq -r '.frames.count, .device.rows, .damage' '%s/s.json'", dir);
	cr_assert_str_eq(sh(cmd), "151\n64\nnull");
	r = knot("export rec/a.kmrec --format npy -o s.json");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->out, "--force"), "%s", r->out);
	r = knot("export rec/a.kmrec --format png -o r.png --scale 4");
	cr_assert_eq(r->status, 0, "%s", r->out);
	snprintf(cmd, sizeof cmd, "head -c 8 '%s/r.png' | od -An -tx1 | tr -d ' \\n'", dir);
	cr_assert_str_eq(sh(cmd), "89504e470d0a1a0a");
	/* a device is not an export target, even with --force (it is left alone) */
	r = knot("export rec/a.kmrec --format csv -o /dev/full --force");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->out, "not a regular file"), "%s", r->out);

	/* a crash tail: cut the file inside its data */
	cr_assert_eq(truncate(p, st.st_size / 2), 0);
	r = knot("replay rec/a.kmrec --verify");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "damage"), "%s", r->out);
	cr_assert(strstr(r->out, "at byte"), "%s", r->out);
	r = knot("export rec/a.kmrec -o d.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "warning"), "%s", r->out);
	free(p);
}

Test(cli, history_red_flags_and_seven_day_rule)
{
	struct km_test_run *r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(!strstr(r->out, "healthcare"), "no advice without reason: %s", r->out);

	/* two sessions nine days apart with the same spot, via the library */
	char *db = km_test_path(dir, "knotmap/history.db");
	struct km_history_config c = km_history_config_default();
	c.path = db;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	const int64_t t0 = 1764000000ll * 1000000ll, day = 86400ll * 1000000ll;
	for (int i = 0; i < 2; i++) {
		struct km_history_session s;
		memset(&s, 0, sizeof s);
		snprintf(s.uuid, sizeof s.uuid, "s%d", i);
		s.start_unix_us = t0 + i * 9 * day;
		int64_t id;
		cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
		struct km_history_observation o = {
		    id, s.start_unix_us, 120.0f + 5.0f * (float)i, 80.0f, false, 0, 30.0f, {{0}, 0, 0, 0}};
		cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_OK);
	}
	km_history_destroy(h);
	r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "over 9 days"), "%s", r->out);
	cr_assert(strstr(r->out, "healthcare professional"), "%s", r->out);
	r = knot("history --show 1");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "more than a week"), "%s", r->out);
	r = knot("history --show 99");
	cr_assert_eq(r->status, 1);

	r = knot("history --red-flag 'pins and needles in my left hand' --session 2");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "tingling"), "%s", r->out);
	r = knot("history --red-flag numb --session 42");
	cr_assert_eq(r->status, 1, "%s", r->out);
	r = knot("history --list --db '%s'", db);
	cr_assert(strstr(r->out, "pins and needles"), "%s", r->out);
	cr_assert(strstr(r->out, "nerve"), "%s", r->out);
	free(db);
}

/* Session lengths come from the recording: `record --fast` runs faster than the
 * clock, and a session killed before it wrote its end has no end time. */
Test(cli, history_lengths_come_from_the_recording)
{
	struct km_test_run *r =
	    knot("record --sim tennis-ball-trapezius --duration 3 --fast -o rec/b.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "    3.0 s"), "a 3 s session: %s", r->out);
	cr_assert(!strstr(r->out, "not closed"), "%s", r->out);

	/* as after kill -9: the end was never written */
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
	         "sqlite3 '%s/knotmap/history.db' \"UPDATE sessions SET end_us = 0\"", dir);
	sh(cmd);
	r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "    3.0 s") && strstr(r->out, "not closed"), "%s", r->out);
}

/* `record` with no mat and no --sim records the demo `view` shows (knots,
 * not a quiet mat), and says so in its help; the history lists it with the
 * same device format as a --sim session. */
Test(cli, record_defaults_to_the_view_demo)
{
	struct km_test_run *r = knot("record --help");
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "tennis-ball-trapezius demo"), "%s", r->out);
	r = knot("record --duration 5 -o auto.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(!strstr(r->out, " 0 events"), "a quiet mat: %s", r->out);
	cr_assert(!strstr(r->out, " 0 knots"), "%s", r->out);
	r = knot("record --sim back-lying --duration 2 --fast -o b.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "sim:tennis-ball-trapezius"), "%s", r->out);
	cr_assert(strstr(r->out, "sim:back-lying"), "%s", r->out);
	cr_assert(strstr(r->out, "    5.0 s"), "%s", r->out);
	cr_assert(strstr(r->out, "    2.0 s"), "%s", r->out);
}

/* history --list takes a session's length from its row, never "knot 0" for a
 * hold on a spot that was never a knot, one device format for every row. */
Test(cli, history_rows_agree)
{
	char *db = km_test_path(dir, "knotmap/history.db");
	struct km_test_run *r = knot("record --sim tennis-ball-trapezius --duration 3 --fast "
	                             "-o rec/x.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	struct km_history_config c = km_history_config_default();
	c.path = db;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	/* the stored length wins over the file (which says 3 s) */
	cr_assert_eq(km_history_set_mat_seconds(h, 1, 5.25), KM_OK);
	/* rows as older knotmaps wrote them: a serial, the virtual mat's serial */
	const char *devs[] = {"KM-00A1", "KMSIM-00000001"};
	for (int i = 0; i < 2; i++) {
		struct km_history_session s;
		memset(&s, 0, sizeof s);
		snprintf(s.uuid, sizeof s.uuid, "old%d", i);
		snprintf(s.device, sizeof s.device, "%s", devs[i]);
		s.start_unix_us = 1764000000000000ll + i;
		s.end_unix_us = s.start_unix_us + 4000000;
		int64_t id;
		cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
		struct km_history_hold d = {0, id, 0, s.start_unix_us, 12.0f, 30.0f, 360.0f, 0,
		                            KM_OUTCOME_STOPPED};
		cr_assert_eq(km_history_add_hold(h, &d, NULL), KM_OK);
	}
	km_history_destroy(h);
	r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "    5.2 s"), "%s", r->out);
	cr_assert(strstr(r->out, "mat:KM-00A1"), "%s", r->out);
	cr_assert(strstr(r->out, "sim:default"), "%s", r->out);
	cr_assert(strstr(r->out, "    4.0 s"), "wall clock for old rows: %s", r->out);
	r = knot("history --show 2");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "on an unnamed spot"), "%s", r->out);
	cr_assert(!strstr(r->out, "knot 0"), "%s", r->out);
	free(db);
}

/* history --chart: a PNG through the output rules (0600, no overwrite
 * without --force); the advice names the spot by body region. */
Test(cli, history_chart_and_per_spot_advice)
{
	char *db = km_test_path(dir, "knotmap/history.db");
	struct km_history_config c = km_history_config_default();
	c.path = db;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&c, &h), KM_OK);
	const long long day = 86400ll * 1000000ll, t0 = 1764000000ll * 1000000ll;
	const int at[3] = {0, 5, 11};
	for (int i = 0; i < 3; i++) {
		struct km_history_session s;
		memset(&s, 0, sizeof s);
		snprintf(s.uuid, sizeof s.uuid, "s%d", i);
		s.start_unix_us = t0 + at[i] * day;
		int64_t id;
		cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
		struct km_history_observation o;
		memset(&o, 0, sizeof o);
		o.session_id = id;
		o.time_unix_us = s.start_unix_us;
		o.x_mm = 200.0f + 80.0f * (float)i; /* lying elsewhere each time */
		o.y_mm = 300.0f - 40.0f * (float)i;
		snprintf(o.body.region, sizeof o.body.region, "upper back");
		o.body.side = 1;
		o.body.lateral_mm = 50.0f + 5.0f * (float)i;
		o.body.along_pct = 24.0f;
		cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_OK);
		if (i == 1) { /* seen once only */
			snprintf(o.body.region, sizeof o.body.region, "lower back");
			o.body.side = -1;
			o.body.along_pct = 50.0f;
			cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_OK);
		}
	}
	km_history_destroy(h);
	struct km_test_run *r = knot("history");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "! left upper back: seen on 3 days over 11 days: see a "
	                         "healthcare professional"),
	          "%s", r->out);
	cr_assert(!strstr(r->out, "right lower back"), "seen once: no advice: %s", r->out);
	r = knot("history --chart body.png");
	cr_assert_eq(r->status, 0, "%s", r->out);
	char *png = km_test_path(dir, "body.png");
	struct stat st;
	cr_assert_eq(stat(png, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_gt(st.st_size, 1000);
	r = knot("history --chart body.png");
	cr_assert_eq(r->status, 1, "no overwrite without --force: %s", r->out);
	r = knot("history --chart body.png --force");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("history --chart body.png --show 1");
	cr_assert_eq(r->status, 2, "%s", r->out);
	/* never onto the history itself, even with --force */
	r = knot("history --chart knotmap/history.db --force");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "history itself"), "%s", r->out);
	r = knot("history");
	cr_assert_eq(r->status, 0, "the history still opens: %s", r->out);
	free(png);
	free(db);
}
