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
#include "session_util.h"

#define CMD "history"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap history [--list]\n"
	        "       knotmap history --show ID\n"
	        "       knotmap history --red-flag TEXT [--session ID]\n"
	        "       (each also takes --db PATH)\n"
	        "\n"
	        "The session history: recorded sessions, the candidate knots seen in them\n"
	        "(matched across sessions within 2 cm), timed holds and their outcomes,\n"
	        "and symptoms you logged.\n"
	        "\n"
	        "  --list             sessions, newest first, and any advice (default)\n"
	        "  --show ID          one session: its knots and holds\n"
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

/* Seconds of mat time in the session. The recording is the truth: a session
 * killed before it could write its end (kill -9, power cut) has no end time in
 * the database, and `record --fast` runs faster than the clock; the wall-clock
 * span is used only when the recording cannot be read. *from_rec says which. */
static double session_seconds(const struct km_history_session *s, bool *interrupted, bool *from_rec)
{
	*interrupted = s->end_unix_us <= 0;
	*from_rec = false;
	if (s->recording[0]) {
		struct km_rec_reader_config rc = km_rec_reader_config_default();
		rc.path = s->recording; /* no log: a moved file falls back quietly */
		km_rec_reader *r = NULL;
		if (km_rec_reader_create(&rc, &r) == KM_OK) {
			const struct km_rec_info *in = km_rec_reader_info(r);
			double span = km_cli_rec_seconds(in); /* as `replay` says it */
			*interrupted = *interrupted || !in->complete;
			km_rec_reader_destroy(r);
			*from_rec = true;
			return span;
		}
	}
	return s->end_unix_us > s->start_unix_us ? (double)(s->end_unix_us - s->start_unix_us) / 1e6
	                                         : 0.0;
}

static int print_session(void *user, const struct km_history_session *s)
{
	(void)user;
	char when[32];
	fmt_time(s->start_unix_us, when, sizeof when);
	bool interrupted, from_rec;
	double dur = session_seconds(s, &interrupted, &from_rec);
	printf("  %5" PRId64 "  %-16s  %7.0f s  %5u  %5u  %s%s\n", s->id, when, dur, s->knots,
	       s->holds, s->device,
	       interrupted ? (from_rec ? "  (not closed: running or interrupted; length from "
	                                 "its recording)"
	                               : "  (not closed: running or interrupted)")
	                   : "");
	return 0;
}

static int print_knot(void *user, const struct km_history_knot *k)
{
	(void)user;
	char first[32], last[32];
	fmt_time(k->first_seen_unix_us, first, sizeof first);
	fmt_time(k->last_seen_unix_us, last, sizeof last);
	printf("  knot %-4" PRId64
	       " at (%6.1f, %6.1f) mm %s  seen %u times in %u sessions, %s .. %s%s\n",
	       k->id, (double)k->x_mm, (double)k->y_mm, k->body_relative ? "body" : "mat ",
	       k->observations, k->sessions, first, last,
	       k->persistent ? "  [more than a week]" : "");
	return 0;
}

static int print_hold(void *user, const struct km_history_hold *d)
{
	(void)user;
	char when[32];
	fmt_time(d->start_unix_us, when, sizeof when);
	printf("  hold %-4" PRId64 " %s  knot %-4" PRId64
	       " %5.1f s  %6.1f kPa  dose %7.0f kPa*s  %+5.1f %%  %s\n",
	       d->id, when, d->knot_id, (double)d->duration_s, (double)d->load_kpa,
	       (double)d->dose_kpa_s, (double)d->stiffness_pct, km_outcome_name(d->outcome));
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
	double days = (double)(k->last_seen_unix_us - k->first_seen_unix_us) / 86400e6;
	printf("  ! The spot at (%.0f, %.0f) mm has come back in %u sessions over %.0f days.\n",
	       (double)k->x_mm, (double)k->y_mm, k->sessions, days);
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
	const char *db = NULL, *flag = NULL;
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
	if (flag && show > 0) {
		km_cli_error(CMD, "see 'knotmap history --help'",
		             "--red-flag and --show cannot be used together");
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

	if (show > 0) {
		struct km_history_session s;
		rc = km_history_get_session(h, show, &s);
		if (rc == KM_ERR_NOT_FOUND) {
			km_cli_error(CMD, "see 'knotmap history --list' for session ids",
			             "no session %ld", show);
			km_history_destroy(h);
			return KM_EXIT_FAILURE;
		}
		if (rc == KM_OK) {
			char when[32];
			fmt_time(s.start_unix_us, when, sizeof when);
			printf("session %" PRId64 " (%s)\n  started   %s\n  device    %s\n"
			       "  recording %s\n",
			       s.id, s.uuid[0] ? s.uuid : "-", when, s.device[0] ? s.device : "-",
			       s.recording[0] ? s.recording : "-");
			printf("\nknots (%u):\n", s.knots);
			rc = km_history_list_knots(h, s.id, print_knot, NULL);
		}
		if (rc == KM_OK) {
			printf("\nholds (%u):\n", s.holds);
			rc = km_history_list_holds(h, s.id, print_hold, NULL);
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
