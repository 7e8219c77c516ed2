/* knotmap history: past sessions, knots and holds; symptom (red-flag) entries;
 * the 7-day rule. */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "knotmap/history.h"
#include "knotmap/recording.h"
#include "progress.h"
#include "session_util.h"

#define CMD "history"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap history [--list]\n"
	        "       knotmap history --show ID\n"
	        "       knotmap history --chart OUT.png [--force]\n"
	        "       knotmap history --red-flag TEXT [--session ID]\n"
	        "       (each also takes --db PATH)\n"
	        "\n"
	        "The session history: recorded sessions, the candidate knots seen in them\n"
	        "(matched across sessions by where they are on the body: side, region and\n"
	        "within 3 cm of the spine distance; by mat position, within 2 cm, when the\n"
	        "body was not recognised), timed holds and their outcomes, and symptoms\n"
	        "you logged.\n"
	        "\n"
	        "  --list             sessions, newest first, and any advice (default)\n"
	        "  --show ID          one session: its knots and holds\n"
	        "  --chart OUT.png    the body chart: every past spot on a body outline,\n"
	        "                     coloured by how many days it has persisted, with the\n"
	        "                     7-day rule per spot (created 0600)\n"
	        "  --force            replace OUT.png if it exists\n"
	        "  --red-flag TEXT    log a symptom, e.g. \"numbness in my left foot\",\n"
	        "                     \"tingling\", \"pain shooting down my leg\"\n"
	        "  --session ID       tie the symptom to a session\n"
	        "  --db PATH          database file (default $XDG_DATA_HOME/knotmap/history.db,\n"
	        "                     else ~/.local/share/knotmap/history.db)\n"
	        "  -h, --help         this help\n"
	        "\n"
	        "A knot seen again across sessions more than a week apart, or numbness,\n"
	        "tingling or pain radiating down a limb, means: see a healthcare\n"
	        "professional. knotmap finds candidate tender spots; it does not diagnose.\n"
	        "\n"
	        "Exit status: 0 ok, 1 failure (database), 2 bad arguments.\n");
}

static void fmt_time(int64_t unix_us, char *buf, size_t cap)
{
	time_t t = (time_t)(unix_us / 1000000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, cap, "?");
}

/* Seconds of mat time in the session: the length its recorder stored
 * (schema 3), the same number `replay` gives for the recording. A session
 * without it (killed before it could store it, or stored by an older
 * knotmap) falls back to its recording, then to the wall-clock span.
 * *how says which: 0 stored, 1 recording, 2 wall clock. */
static double session_seconds(const struct km_history_session *s, bool *interrupted, int *how)
{
	*interrupted = s->end_unix_us <= 0;
	*how = 0;
	if (s->mat_seconds >= 0)
		return s->mat_seconds;
	if (s->recording[0]) {
		struct km_rec_reader_config rc = km_rec_reader_config_default();
		rc.path = s->recording; /* no log: a moved file falls back quietly */
		km_rec_reader *r = NULL;
		if (km_rec_reader_create(&rc, &r) == KM_OK) {
			const struct km_rec_info *in = km_rec_reader_info(r);
			double span = km_cli_rec_seconds(in); /* as `replay` says it */
			*interrupted = *interrupted || !in->complete;
			km_rec_reader_destroy(r);
			*how = 1;
			return span;
		}
	}
	*how = 2;
	return s->end_unix_us > s->start_unix_us ? (double)(s->end_unix_us - s->start_unix_us) / 1e6
	                                         : 0.0;
}

/* One format for the device column, "kind:name", whatever wrote the row:
 * "sim:<scenario>", "mat:<serial>", "replay". Older rows stored the virtual
 * mat's serial (KMSIM-...) when record fell back to it. */
static void device_label(const char *stored, char *buf, size_t cap)
{
	if (!stored[0])
		snprintf(buf, cap, "-");
	else if (!strncmp(stored, "sim:", 4) || !strncmp(stored, "mat:", 4) ||
	         !strcmp(stored, "replay"))
		snprintf(buf, cap, "%s", stored);
	else if (!strncmp(stored, "KMSIM-", 6))
		snprintf(buf, cap, "sim:default");
	else
		snprintf(buf, cap, "mat:%s", stored);
}

static int print_session(void *user, const struct km_history_session *s)
{
	(void)user;
	char when[32];
	fmt_time(s->start_unix_us, when, sizeof when);
	bool interrupted;
	int how;
	double dur = session_seconds(s, &interrupted, &how);
	char dev[80];
	device_label(s->device, dev, sizeof dev);
	/* a short `record --fast` session is still seconds long: one decimal */
	printf("  %5" PRId64 "  %-16s  %7.1f s  %5u  %5u  %s%s\n", s->id, when, dur, s->knots,
	       s->holds, dev,
	       interrupted ? (how == 1 ? "  (not closed: running or interrupted; length from "
	                                 "its recording)"
	                               : "  (not closed: running or interrupted)")
	                   : "");
	return 0;
}

/* The knots of the session shown, so each hold can name its spot. */
struct knot_list {
	struct km_history_knot k[256];
	size_t n;
};

static int print_knot(void *user, const struct km_history_knot *k)
{
	struct knot_list *l = user;
	if (l->n < sizeof l->k / sizeof l->k[0])
		l->k[l->n++] = *k;
	char first[32], last[32], name[96];
	fmt_time(k->first_seen_unix_us, first, sizeof first);
	fmt_time(k->last_seen_unix_us, last, sizeof last);
	km_history_knot_name(k, name, sizeof name);
	printf("  knot %-4" PRId64 " %s  seen %u time%s in %u session%s on %u day%s, %s .. %s%s\n",
	       k->id, name, k->observations, k->observations == 1 ? "" : "s", k->sessions,
	       k->sessions == 1 ? "" : "s", k->days_seen, k->days_seen == 1 ? "" : "s", first, last,
	       k->persistent ? "  [more than a week]" : "");
	return 0;
}

static int print_hold(void *user, const struct km_history_hold *d)
{
	const struct knot_list *l = user;
	char when[32], name[96] = "an unnamed spot";
	fmt_time(d->start_unix_us, when, sizeof when);
	/* a hold on a spot the tracker never reported as a knot has no knot:
	 * it is "an unnamed spot", never "knot 0" */
	for (size_t i = 0; d->knot_id && i < l->n; i++)
		if (l->k[i].id == d->knot_id)
			km_history_knot_name(&l->k[i], name, sizeof name);
	printf("  hold %-4" PRId64 " %s  on %s  %5.1f s  %6.1f kPa  dose %7.0f kPa*s  %+5.1f %%  "
	       "%s\n",
	       d->id, when, name, (double)d->duration_s, (double)d->load_kpa, (double)d->dose_kpa_s,
	       (double)d->stiffness_pct, km_outcome_name(d->outcome));
	return 0;
}

struct persist_ctx {
	int shown;
};

static int print_persistent(void *user, const struct km_history_knot *k)
{
	struct persist_ctx *c = user;
	if (!k->persistent)
		return 0;
	char line[256];
	km_history_knot_advice(k, line, sizeof line);
	printf("  ! %s\n", line);
	c->shown++;
	return 0;
}

static int print_flag(void *user, const struct km_history_red_flag *f)
{
	(void)user;
	char when[32];
	fmt_time(f->time_unix_us, when, sizeof when);
	printf("  ! %s  %s: \"%s\"\n", when, km_red_flag_kind_name(f->kind), f->text);
	return 0;
}

static int advice(km_history *h)
{
	struct km_history_advice a;
	int rc = km_history_advice(h, &a);
	if (rc != KM_OK || !a.see_professional)
		return rc;
	printf("\nAdvice:\n");
	struct persist_ctx pc = {0};
	if (a.persistent_knots)
		rc = km_history_list_knots(h, 0, print_persistent, &pc);
	if (rc == KM_OK && a.red_flags)
		rc = km_history_list_red_flags(h, print_flag, NULL);
	if (a.persistent_knots)
		printf(
		    "  A knot that persists for more than a week should be looked at: please see\n"
		    "  a healthcare professional (a physiotherapist or your doctor) before "
		    "working\n"
		    "  on it further.\n");
	if (a.red_flags)
		printf("  Numbness, tingling or pain radiating down a limb can come from a nerve, "
		       "not\n"
		       "  a muscle: stop pressure work there and see a healthcare professional.\n");
	return rc;
}

static void chart_progress(void *user, uint64_t done, uint64_t total)
{
	struct km_progress *p = user;
	p->total = total;
	km_progress_update(p, done);
}

static int db_fail(int rc, const char *what)
{
	const char *hint = NULL;
	if (rc == KM_ERR_BAD_VERSION)
		hint = "the history was written by a newer knotmap: upgrade knotmap";
	else if (rc == KM_ERR_PERMISSION)
		hint = "check the permissions of the history file and its folder";
	else if (rc == KM_ERR_DATABASE)
		hint = "the file may not be a knotmap history; try --db with another path";
	else if (rc == KM_ERR_BUSY)
		hint = "another knotmap is writing the history; try again";
	km_cli_error(CMD, hint, "%s: %s", what, km_strerror(rc));
	return KM_EXIT_FAILURE;
}

static int run_history(int argc, char **argv)
{
	const char *db = NULL, *flag = NULL, *chart = NULL;
	bool force = false;
	long show = -1, session = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--list")) {
			/* the default */
		} else if (!strcmp(a, "--show") && has_next) {
			if (km_cli_parse_long(CMD, "--show", argv[++i], 1, LONG_MAX, &show) != 0)
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--session") && has_next) {
			if (km_cli_parse_long(CMD, "--session", argv[++i], 1, LONG_MAX, &session) !=
			    0)
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--red-flag") && has_next) {
			flag = argv[++i];
		} else if (!strcmp(a, "--chart") && has_next) {
			chart = argv[++i];
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (!strcmp(a, "--db") && has_next) {
			db = argv[++i];
		} else {
			km_cli_error(CMD, "see 'knotmap history --help'",
			             a[0] == '-'
			                 ? (has_next ? "unknown option '%s'"
			                             : "unknown option or missing value: '%s'")
			                 : "unexpected argument '%s'",
			             a);
			return KM_EXIT_USAGE;
		}
	}
	if ((flag != NULL) + (show > 0) + (chart != NULL) > 1) {
		km_cli_error(CMD, "see 'knotmap history --help'",
		             "--red-flag, --show and --chart cannot be used together");
		return KM_EXIT_USAGE;
	}
	if (chart && !chart[0]) {
		km_cli_error(CMD, "e.g. --chart body.png", "--chart needs a file name");
		return KM_EXIT_USAGE;
	}
	if (flag && !flag[0]) {
		km_cli_error(CMD, "e.g. --red-flag \"tingling in my right hand\"",
		             "--red-flag needs a description of the symptom");
		return KM_EXIT_USAGE;
	}
	struct km_history_config c = km_history_config_default();
	c.log = km_cli_log();
	c.path = db;
	km_history *h = NULL;
	int rc = km_history_create(&c, &h);
	if (rc != KM_OK)
		return db_fail(rc, "cannot open the history");

	if (flag) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		int64_t id = 0;
		rc = km_history_add_red_flag(h, session, now, flag, &id);
		if (rc == KM_ERR_NOT_FOUND) {
			km_cli_error(CMD, "see 'knotmap history --list' for session ids",
			             "no session %ld", session);
			km_history_destroy(h);
			return KM_EXIT_FAILURE;
		}
		if (rc == KM_ERR_INVALID_ARG) {
			km_cli_error(CMD, NULL, "the description must be 1 to 255 characters");
			km_history_destroy(h);
			return KM_EXIT_USAGE;
		}
		if (rc != KM_OK) {
			km_history_destroy(h);
			return db_fail(rc, "cannot store the symptom");
		}
		enum km_red_flag_kind k = km_red_flag_classify(flag);
		printf("logged (%s).\n", km_red_flag_kind_name(k));
		printf("Numbness, tingling or pain radiating down a limb can come from a nerve:\n"
		       "stop pressure work on that area and see a healthcare professional.\n");
		km_history_destroy(h);
		return KM_EXIT_OK;
	}

	if (chart) {
		struct km_image_config ic = km_image_config_default();
		ic.path = chart;
		ic.force = force;
		ic.title = "knotmap body chart";
		ic.log = km_cli_log();
		/* never onto the history itself, even with --force */
		char defdb[4096];
		const char *inputs[1] = {db};
		if (!db && km_history_default_path(defdb, sizeof defdb) == KM_OK)
			inputs[0] = defdb;
		ic.inputs = inputs;
		ic.n_inputs = inputs[0] ? 1 : 0;
		struct km_progress pg;
		km_progress_begin(&pg, stderr, "drawing the chart", "spots", 0);
		rc = km_history_write_chart(h, &ic, chart_progress, &pg);
		km_progress_end(&pg);
		km_history_destroy(h);
		if (rc != KM_OK) {
			const char *hint =
			    rc == KM_ERR_EXISTS
			        ? "add --force to replace it, or choose another name"
			    : rc == KM_ERR_INVALID_ARG
			        ? "that is the history itself: choose another name"
			    : rc == KM_ERR_PERMISSION
			        ? "check that the folder is writable and the name is not a link"
			        : NULL;
			km_cli_error(CMD, hint, "cannot write the chart '%s': %s", chart,
			             km_strerror(rc));
			return KM_EXIT_FAILURE;
		}
		printf("wrote %s\n", chart);
		return KM_EXIT_OK;
	}

	if (show > 0) {
		static struct knot_list knots; /* large: off the stack */
		knots.n = 0;
		struct km_history_session s;
		rc = km_history_get_session(h, show, &s);
		if (rc == KM_ERR_NOT_FOUND) {
			km_cli_error(CMD, "see 'knotmap history --list' for session ids",
			             "no session %ld", show);
			km_history_destroy(h);
			return KM_EXIT_FAILURE;
		}
		if (rc == KM_OK) {
			char when[32], dev[80];
			fmt_time(s.start_unix_us, when, sizeof when);
			device_label(s.device, dev, sizeof dev);
			printf("session %" PRId64 " (%s)\n  started   %s\n  device    %s\n"
			       "  recording %s\n",
			       s.id, s.uuid[0] ? s.uuid : "-", when, dev,
			       s.recording[0] ? s.recording : "-");
			printf("\nknots (%u):\n", s.knots);
			rc = km_history_list_knots(h, s.id, print_knot, &knots);
		}
		if (rc == KM_OK) {
			printf("\nholds (%u):\n", s.holds);
			rc = km_history_list_holds(h, s.id, print_hold, &knots);
		}
	} else {
		printf("sessions:\n     id  started             duration  knots  holds  device\n");
		rc = km_history_list_sessions(h, print_session, NULL);
	}
	if (rc == KM_OK)
		rc = advice(h);
	km_history_destroy(h);
	if (rc != KM_OK)
		return db_fail(rc, "cannot read the history");
	return KM_EXIT_OK;
}

const struct km_cli_command km_cli_cmd_history = {
    "history", "past sessions, knots and holds; log symptoms (--red-flag)", run_history};
