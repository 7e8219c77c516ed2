/* knotmap analyze: run the dsp pipeline over a recording (or another mat's
 * export, through the importers) and print the candidate knots and the timed
 * holds it finds. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "knotmap/pipeline.h"
#include "knotmap/recording.h"
#include "knotmap/summary.h"

#define CMD "analyze"

#include "session_util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: knotmap analyze FILE [--events] [--format F] [--rate HZ]\n"
	             "                       [--pitch MM] [--units U] [--rows R --cols C]\n"
	             "                       [--partial]\n"
	             "\n"
	             "Runs the signal pipeline (band-pass, spot detection, tracking, guarding,\n"
	             "hold timers) over a recording, as it would have run live, and prints the\n"
	             "candidate knots and the timed holds with their outcomes.\n"
	             "\n"
	             "  --events     also print every event as it happens\n"
	             "  -h, --help   this help\n"
	             "\n"
	             "%s"
	             "\n"
	             "Knots are candidate tender or stiff spots, not a diagnosis.\n"
	             "Exit status: 0 ok, 1 failure (unreadable recording, damaged import\n"
	             "without --partial, analysis error), 2 bad arguments.\n",
	        km_cli_import_usage);
}

struct analysis {
	uint64_t t0;
	bool print_events;
	struct km_summary sum; /* knots and holds: the same fold as export and record */
};

static void on_event(struct analysis *a, const struct km_event *ev)
{
	if (a->print_events) {
		double t = (double)(int64_t)(ev->time_us - a->t0) / 1e6;
		printf("  %9.3f s  %-14s track %-4" PRIu32 " at (%6.1f, %6.1f) mm", t,
		       km_event_type_name(ev->type), ev->track_id, (double)ev->x_mm,
		       (double)ev->y_mm);
		if (ev->reason)
			printf("  %s", km_event_reason_name(ev->reason));
		printf("\n");
	}
	(void)km_summary_add(&a->sum, ev, NULL); /* out of memory: counted, not listed */
}

static void report(const struct analysis *a, uint64_t frames, uint64_t skipped, double dur)
{
	printf("analysed %" PRIu64 " frames (%.1f s)", frames, dur);
	if (skipped)
		printf(", %" PRIu64 " skipped (out of order, corrupt or unreadable)", skipped);
	printf(", %" PRIu64 " events\n\n", a->sum.events);
	printf("candidate knots: %zu\n", a->sum.n_knots);
	for (size_t i = 0; i < a->sum.n_knots; i++) {
		const struct km_summary_knot *k = &a->sum.knots[i];
		double from = (double)(int64_t)(k->found_us - a->t0) / 1e6;
		printf("  %2zu. track %-4" PRIu32 " at (%6.1f, %6.1f) mm  from %7.1f s", i + 1,
		       k->track_id, (double)k->x_mm, (double)k->y_mm, from);
		if (k->lost_us)
			printf(" to %7.1f s", (double)(int64_t)(k->lost_us - a->t0) / 1e6);
		printf("\n");
	}
	printf("\nholds: %zu\n", a->sum.n_holds);
	for (size_t i = 0; i < a->sum.n_holds; i++) {
		const struct km_summary_hold *h = &a->sum.holds[i];
		printf("  %2zu. track %-4" PRIu32
		       " at (%6.1f, %6.1f) mm  start %7.1f s  held %5.1f s"
		       "  load %6.1f kPa  dose %7.0f kPa*s  stiffness %+5.1f %%  %s",
		       i + 1, h->track_id, (double)h->x_mm, (double)h->y_mm,
		       (double)(int64_t)(h->start_us - a->t0) / 1e6, (double)h->held_s,
		       (double)h->load_kpa, (double)h->dose_kpa_s, (double)h->stiffness_pct,
		       h->open ? "unfinished" : km_outcome_name(h->outcome));
		if (!h->open && h->reason)
			printf(" (%s)", km_event_reason_name(h->reason));
		printf("\n");
	}
	if (a->sum.n_knots)
		printf(
		    "\nThese are candidate tender/stiff spots, not a diagnosis. See a healthcare\n"
		    "professional if one persists for more than a week, or with numbness,\n"
		    "tingling or pain radiating down a limb.\n");
}

static int run_analyze(int argc, char **argv)
{
	const char *path = NULL;
	struct analysis a;
	memset(&a, 0, sizeof a);
	km_summary_init(&a.sum);
	struct km_cli_import_opts io;
	memset(&io, 0, sizeof io);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int took = km_cli_import_option(CMD, argc, argv, &i, true, &io);
		if (took < 0)
			return KM_EXIT_USAGE;
		if (took > 0)
			continue;
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(arg, "--events")) {
			a.print_events = true;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			km_cli_error(CMD, "see 'knotmap analyze --help'", "unknown option '%s'",
			             arg);
			return KM_EXIT_USAGE;
		} else if (!path) {
			path = arg;
		} else {
			km_cli_error(CMD, "see 'knotmap analyze --help'",
			             "unexpected argument '%s'", arg);
			return KM_EXIT_USAGE;
		}
	}
	if (!path) {
		km_cli_error(CMD, "e.g. knotmap analyze session.kmrec",
		             "which recording? give FILE.kmrec (or .npy, .csv, .txt)");
		return KM_EXIT_USAGE;
	}
	km_source *r = NULL;
	if (km_cli_open_source(CMD, path, &io, false, &r) != KM_OK)
		return KM_EXIT_FAILURE;
	const struct km_source_info *in = km_source_info(r);
	bool import = km_source_import(r) != NULL;
	if (!(in->content & KM_REC_KPA)) {
		km_cli_error(CMD, "record with kPa (the default) to analyse later",
		             "'%s' holds raw counts only; the analysis needs calibrated kPa", path);
		km_source_destroy(r);
		return KM_EXIT_FAILURE;
	}
	if (in->units == KM_UNITS_RAW) {
		km_cli_error(CMD, "give --units kPa, mmHg, N/cm2 or psi if the values are pressures",
		             "'%s' holds raw sensor counts; the analysis needs pressures", path);
		km_source_destroy(r);
		return KM_EXIT_FAILURE;
	}
	km_cli_import_notes(CMD, r);
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = in->device.rows;
	pc.cols = in->device.cols;
	pc.pitch_mm = in->device.pitch_mm;
	pc.geometry = in->device.geometry;
	if (in->device.rate_hz > 0)
		pc.rate_hz = in->device.rate_hz;
	pc.log = km_cli_log();
	char why[256];
	if (km_pipeline_config_check(&pc, why, sizeof why) != KM_OK) {
		km_cli_error(CMD, "check --rate / --pitch (or the recording's own)",
		             "cannot analyse '%s': %s", path, why);
		km_source_destroy(r);
		return KM_EXIT_USAGE;
	}
	km_pipeline *p = NULL;
	int rc = km_pipeline_create(&pc, &p);
	if (rc != KM_OK) {
		km_cli_error(CMD, "run with -v for details",
		             "cannot set up the analysis for a %ux%u grid: %s", in->device.rows,
		             in->device.cols, km_strerror(rc));
		km_source_destroy(r);
		return KM_EXIT_FAILURE;
	}
	a.t0 = in->first_time_us;
	uint64_t frames = 0, skipped = 0, first_us = 0, last_us = 0;
	struct km_rec_item it;
	struct km_pipeline_result res;
	while ((rc = km_source_next_frame(r, &it)) == KM_OK) {
		if (frames == 0)
			a.t0 = first_us = it.frame->device_time_us;
		last_us = it.frame->device_time_us;
		frames++;
		if (km_pipeline_process(p, it.frame, &res) != KM_OK) {
			skipped++;
		} else {
			for (size_t i = 0; i < res.event_count; i++)
				on_event(&a, &res.events[i]);
		}
		if (!a.print_events)
			km_cli_progress((void *)"analysing", frames,
			                in->frame_count_known ? in->frame_count : 0);
	}
	km_cli_progress_end();
	if (km_pipeline_finish(p, &res) == KM_OK)
		for (size_t i = 0; i < res.event_count; i++)
			on_event(&a, &res.events[i]);
	int status = KM_EXIT_OK;
	if (rc != KM_ERR_END) {
		struct km_import_damage d;
		km_source_damage(r, &d);
		if (d.damaged && import && !io.partial) {
			km_cli_error(CMD,
			             "fix the file, or add --partial to skip the frames that do not "
			             "read",
			             "%s", d.message);
			status = KM_EXIT_FAILURE;
		} else if (d.damaged && import) {
			fprintf(stderr,
			        "knotmap analyze: warning: %s; analysed the %" PRIu64
			        " frames before it\n",
			        d.message, d.frame_index);
		} else if (d.damaged) {
			fprintf(stderr,
			        "knotmap analyze: warning: '%s' is damaged at byte %" PRIu64
			        "; analysed the %" PRIu64 " frames before it\n",
			        path, d.byte_offset, d.frame_index);
		} else {
			km_cli_error(CMD, NULL, "reading '%s' failed: %s", path, km_strerror(rc));
			status = KM_EXIT_FAILURE;
		}
	}
	double dur = frames > 1 ? (double)(last_us - first_us) / 1e6 : 0.0;
	if (status == KM_EXIT_OK)
		report(&a, frames, skipped, dur);
	km_summary_free(&a.sum);
	km_pipeline_destroy(p);
	km_source_destroy(r);
	return status;
}

const struct km_cli_command km_cli_cmd_analyze = {
    "analyze", "run the knot and hold analysis over a recording", run_analyze};
