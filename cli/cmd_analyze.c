/* knotmap analyze: run the dsp pipeline over a recording (or another mat's
 * export, through the importers) and print the candidate knots and the timed
 * holds it finds. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "knotmap/pipeline.h"
#include "knotmap/recording.h"
#include "knotmap/summary.h"

#define CMD "analyze"

#include "session_util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: knotmap analyze FILE [--events] [--json | --csv] [--format F]\n"
	             "                       [--rate HZ]\n"
	             "                       [--pitch MM] [--units U] [--rows R --cols C]\n"
	             "                       [--partial]\n"
	             "\n"
	             "Runs the signal pipeline (band-pass, spot detection, tracking, guarding,\n"
	             "hold timers) over a recording, as it would have run live, and prints the\n"
	             "candidate knots and the timed holds with their outcomes.\n"
	             "\n"
	             "  --events     also print every event as it happens\n"
	             "  --json       print the result as one JSON object for scripts: grid,\n"
	             "               units, knots (position in mm and in cells, first/last\n"
	             "               seen, peak contrast), holds and every event\n"
	             "  --csv        the same as CSV: one row per knot, hold and event\n"
	             "               (columns: kind, then the fields of that kind)\n"
	             "  Positions: cell (r, c) has its centre at ((c + 0.5) x col pitch,\n"
	             "  (r + 0.5) x row pitch) mm (docs/formats.md). On raw counts only the\n"
	             "  relative rules run, and loads are in counts.\n"
	             "  -h, --help   this help\n"
	             "\n"
	             "%s"
	             "\n"
	             "Knots are candidate tender or stiff spots, not a diagnosis.\n"
	             "Exit status: 0 ok, 1 failure (unreadable recording, damaged import\n"
	             "without --partial, analysis error), 2 bad arguments.\n",
	        km_cli_import_usage);
}

enum out_mode { OUT_TEXT, OUT_JSON, OUT_CSV };

struct analysis {
	uint64_t t0;
	bool print_events;
	enum out_mode mode;
	struct km_summary sum; /* knots and holds: the same fold as export and record */
	/* every event, for --json / --csv (grows; a session has hundreds) */
	struct km_event *events;
	size_t n_events, cap_events;
	bool events_lost; /* out of memory: the list is short */
	struct km_cli_analysis run;
	const struct km_source_info *in;
	const char *units; /* "kPa" or "counts" */
	char values[160], cells[160]; /* what the values are, the sensor's share */
	const char *file_units;       /* the file's own ("mmHg"), and its factor */
	double to_kpa;
	unsigned cells_on; /* cells on the sensor (all, without a mask) */
	int *letter;       /* each knot's letter (km_summary_knot_letters); NULL: none */
};

/* Knot i's body name (the viewer's at its KNOT_FOUND), or NULL. */
static const char *knot_body(const struct analysis *a, size_t i)
{
	const struct km_summary_knot *k = &a->sum.knots[i];
	return km_cli_analysis_knot_name(&a->run, k->track_id, k->found_us);
}

/* Knot i as the report and the export name it: "A: left upper back", "spot B". */
static void knot_label(const struct analysis *a, size_t i, char *buf, size_t n)
{
	km_summary_knot_label(a->letter ? a->letter[i] : -1, knot_body(a, i), buf, n);
}

static void on_event(struct analysis *a, const struct km_event *ev)
{
	if (a->mode != OUT_TEXT) {
		if (a->n_events == a->cap_events) {
			size_t cap = a->cap_events ? 2 * a->cap_events : 256;
			void *g = realloc(a->events, cap * sizeof *a->events);
			if (g) {
				a->events = g;
				a->cap_events = cap;
			}
		}
		if (a->n_events < a->cap_events)
			a->events[a->n_events++] = *ev;
		else
			a->events_lost = true;
	} else if (a->print_events) {
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

/* A position from the pipeline (true mm of the file's own frame, per
 * axis: x = (col + 0.5) x col pitch, y = (row + 0.5) x row pitch) in cells
 * and in mm. */
struct pos {
	double col, row, x_mm, y_mm;
};

static struct pos position(const struct analysis *a, float x_mm, float y_mm)
{
	const struct km_source_info *in = a->in;
	double p = in->device.pitch_mm;
	double cp = in->col_pitch_mm > 0 ? in->col_pitch_mm : p;
	double rp = in->row_pitch_mm > 0 ? in->row_pitch_mm : p;
	struct pos o;
	o.x_mm = (double)x_mm;
	o.y_mm = (double)y_mm;
	o.col = o.x_mm / cp - 0.5;
	o.row = o.y_mm / rp - 0.5;
	return o;
}

static double secs(const struct analysis *a, uint64_t us)
{
	return (double)(int64_t)(us - a->t0) / 1e6;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Finite numbers as %.6g; anything else as null (JSON has no NaN). */
static void json_num(double v)
{
	if (v == v && v - v == 0.0)
		printf("%.6g", v);
	else
		printf("null");
}

static void json_pos(const struct pos *p)
{
	printf("\"x_mm\": ");
	json_num(p->x_mm);
	printf(", \"y_mm\": ");
	json_num(p->y_mm);
	printf(", \"col\": ");
	json_num(p->col);
	printf(", \"row\": ");
	json_num(p->row);
}

static void report_json(const struct analysis *a, const char *path, uint64_t frames,
                        uint64_t skipped, double dur)
{
	const struct km_source_info *in = a->in;
	printf("{\n  \"file\": ");
	json_str(path);
	printf(",\n  \"format\": ");
	json_str(km_import_format_name(in->format));
	printf(",\n  \"units\": {\"pressure\": \"%s\", \"time\": \"s\", \"position\": \"mm\", "
	       "\"dose\": \"%s*s\", \"file\": \"%s\", \"file_to_kpa\": ",
	       a->units, a->units, a->file_units);
	printf("%.12g},\n", a->to_kpa); /* exact by definition: all its digits */
	printf("  \"relative_rules_only\": %s,\n  \"guard_off\": %s,\n"
	       "  \"spots_only_under_a_tool\": %s,\n",
	       a->run.counts ? "true" : "false", a->run.guard_off ? "true" : "false",
	       a->run.coarse_mm > 0.0f ? "true" : "false");
	printf("  \"grid\": {\"rows\": %u, \"cols\": %u, \"row_pitch_mm\": ",
	       (unsigned)in->device.rows, (unsigned)in->device.cols);
	json_num(in->row_pitch_mm > 0 ? in->row_pitch_mm : in->device.pitch_mm);
	printf(", \"col_pitch_mm\": ");
	json_num(in->col_pitch_mm > 0 ? in->col_pitch_mm : in->device.pitch_mm);
	printf(", \"rate_hz\": ");
	json_num(in->device.rate_hz);
	printf(", \"cells_on_sensor\": %u", a->cells_on);
	printf(", \"cell_centre\": \"x = (col + 0.5) * col_pitch_mm, y = (row + 0.5) * "
	       "row_pitch_mm\"},\n");
	printf("  \"frames\": %" PRIu64 ", \"skipped\": %" PRIu64 ", \"duration_s\": ", frames,
	       skipped);
	json_num(dur);
	printf(",\n  \"knots\": [");
	for (size_t i = 0; i < a->sum.n_knots; i++) {
		const struct km_summary_knot *k = &a->sum.knots[i];
		const struct km_cli_track_seen *seen = km_cli_analysis_seen(&a->run, k->track_id);
		struct pos p = position(a, k->x_mm, k->y_mm);
		printf("%s\n    {\"track\": %" PRIu32 ", ", i ? "," : "", k->track_id);
		json_pos(&p);
		printf(", \"found_s\": ");
		json_num(secs(a, k->found_us));
		printf(", \"lost_s\": ");
		if (k->lost_us)
			json_num(secs(a, k->lost_us));
		else
			printf("null");
		printf(", \"first_seen_s\": ");
		if (seen)
			json_num(secs(a, seen->first_us));
		else
			printf("null");
		printf(", \"last_seen_s\": ");
		if (seen)
			json_num(secs(a, seen->last_us));
		else
			printf("null");
		printf(", \"peak_contrast\": ");
		json_num(seen ? seen->peak_contrast : 0.0);
		printf(", \"peak_response\": ");
		json_num(seen ? seen->peak_response : 0.0);
		char label[KM_EXPORT_NAME_MAX + 8];
		knot_label(a, i, label, sizeof label);
		printf(", \"name\": ");
		json_str(label);
		printf(", \"body\": ");
		if (knot_body(a, i))
			json_str(knot_body(a, i));
		else
			printf("null");
		printf("}");
	}
	printf("%s],\n  \"holds\": [", a->sum.n_knots ? "\n  " : "");
	for (size_t i = 0; i < a->sum.n_holds; i++) {
		const struct km_summary_hold *h = &a->sum.holds[i];
		struct pos p = position(a, h->x_mm, h->y_mm);
		printf("%s\n    {\"track\": %" PRIu32 ", \"index\": %" PRIu32 ", ", i ? "," : "",
		       h->track_id, h->index);
		json_pos(&p);
		printf(", \"start_s\": ");
		json_num(secs(a, h->start_us));
		printf(", \"end_s\": ");
		if (h->end_us)
			json_num(secs(a, h->end_us));
		else
			printf("null");
		printf(", \"held_s\": ");
		json_num(h->held_s);
		printf(", \"load\": ");
		json_num(h->load_kpa);
		printf(", \"dose\": ");
		json_num(h->dose_kpa_s);
		printf(", \"stiffness_pct\": ");
		json_num(h->stiffness_pct);
		printf(", \"outcome\": \"%s\", \"reason\": \"%s\"}",
		       h->open ? "unfinished" : km_outcome_name(h->outcome),
		       km_event_reason_name(h->reason));
	}
	printf("%s],\n  \"events_complete\": %s,\n  \"events\": [",
	       a->sum.n_holds ? "\n  " : "", a->events_lost ? "false" : "true");
	for (size_t i = 0; i < a->n_events; i++) {
		const struct km_event *e = &a->events[i];
		struct pos p = position(a, e->x_mm, e->y_mm);
		printf("%s\n    {\"t_s\": ", i ? "," : "");
		json_num(secs(a, e->time_us));
		printf(", \"type\": \"%s\", \"reason\": \"%s\", \"track\": %" PRIu32
		       ", \"hold_index\": %" PRIu32 ", ",
		       km_event_type_name(e->type), km_event_reason_name(e->reason), e->track_id,
		       e->hold_index);
		json_pos(&p);
		printf(", \"load\": ");
		json_num(e->load_kpa);
		printf(", \"held_s\": ");
		json_num(e->held_s);
		printf(", \"value\": ");
		json_num(e->value);
		printf("}");
	}
	printf("%s]\n}\n", a->n_events ? "\n  " : "");
}

/* One table for three kinds of rows; empty fields where a kind has none. */
static void report_csv(const struct analysis *a)
{
	printf("kind,track,index,type,t_s,end_s,x_mm,y_mm,col,row,first_seen_s,last_seen_s,"
	       "peak_contrast,held_s,load_%s,dose_%s_s,stiffness_pct,outcome,reason,name\n",
	       a->units, a->units);
	for (size_t i = 0; i < a->sum.n_knots; i++) {
		const struct km_summary_knot *k = &a->sum.knots[i];
		const struct km_cli_track_seen *seen = km_cli_analysis_seen(&a->run, k->track_id);
		struct pos p = position(a, k->x_mm, k->y_mm);
		printf("knot,%" PRIu32 ",,,%.6g,", k->track_id, secs(a, k->found_us));
		if (k->lost_us)
			printf("%.6g", secs(a, k->lost_us));
		printf(",%.6g,%.6g,%.6g,%.6g,", p.x_mm, p.y_mm, p.col, p.row);
		if (seen)
			printf("%.6g,%.6g,%.6g", secs(a, seen->first_us), secs(a, seen->last_us),
			       (double)seen->peak_contrast);
		else
			printf(",,");
		char label[KM_EXPORT_NAME_MAX + 8];
		knot_label(a, i, label, sizeof label);
		printf(",,,,,,,%s\n", label); /* no comma in a name (body.h's words) */
	}
	for (size_t i = 0; i < a->sum.n_holds; i++) {
		const struct km_summary_hold *h = &a->sum.holds[i];
		struct pos p = position(a, h->x_mm, h->y_mm);
		printf("hold,%" PRIu32 ",%" PRIu32 ",,%.6g,", h->track_id, h->index,
		       secs(a, h->start_us));
		if (h->end_us)
			printf("%.6g", secs(a, h->end_us));
		printf(",%.6g,%.6g,%.6g,%.6g,,,,%.6g,%.6g,%.6g,%.6g,%s,%s,\n", p.x_mm, p.y_mm, p.col,
		       p.row, (double)h->held_s, (double)h->load_kpa, (double)h->dose_kpa_s,
		       (double)h->stiffness_pct,
		       h->open ? "unfinished" : km_outcome_name(h->outcome),
		       km_event_reason_name(h->reason));
	}
	for (size_t i = 0; i < a->n_events; i++) {
		const struct km_event *e = &a->events[i];
		struct pos p = position(a, e->x_mm, e->y_mm);
		printf("event,%" PRIu32 ",%" PRIu32 ",%s,%.6g,,%.6g,%.6g,%.6g,%.6g,,,,%.6g,%.6g,%.6g,%.6g,,%s,\n",
		       e->track_id, e->hold_index, km_event_type_name(e->type), secs(a, e->time_us),
		       p.x_mm, p.y_mm, p.col, p.row, (double)e->held_s, (double)e->load_kpa,
		       (double)e->dose_kpa_s, (double)e->stiffness_pct,
		       km_event_reason_name(e->reason));
	}
}

static void report(const struct analysis *a, uint64_t frames, uint64_t skipped, double dur)
{
	printf("analysed %" PRIu64 " frames (%.1f s)", frames, dur);
	if (skipped)
		printf(", %" PRIu64 " skipped (out of order, corrupt or unreadable)", skipped);
	printf(", %" PRIu64 " events\n", a->sum.events);
	printf("values: %s\nmask: %s\n\n", a->values, a->cells);
	printf("candidate knots: %zu\n", a->sum.n_knots);
	for (size_t i = 0; i < a->sum.n_knots; i++) {
		const struct km_summary_knot *k = &a->sum.knots[i];
		double from = (double)(int64_t)(k->found_us - a->t0) / 1e6;
		printf("  %2zu. track %-4" PRIu32 " at (%6.1f, %6.1f) mm  from %7.1f s", i + 1,
		       k->track_id, (double)k->x_mm, (double)k->y_mm, from);
		if (k->lost_us)
			printf(" to %7.1f s", (double)(int64_t)(k->lost_us - a->t0) / 1e6);
		char label[KM_EXPORT_NAME_MAX + 8];
		knot_label(a, i, label, sizeof label);
		printf("  %s\n", label);
	}
	printf("\nholds: %zu\n", a->sum.n_holds);
	for (size_t i = 0; i < a->sum.n_holds; i++) {
		const struct km_summary_hold *h = &a->sum.holds[i];
		printf("  %2zu. track %-4" PRIu32
		       " at (%6.1f, %6.1f) mm  start %7.1f s  held %5.1f s"
		       "  load %6.1f %s  dose %7.0f %s*s  stiffness %+5.1f %%  %s",
		       i + 1, h->track_id, (double)h->x_mm, (double)h->y_mm,
		       (double)(int64_t)(h->start_us - a->t0) / 1e6, (double)h->held_s,
		       (double)h->load_kpa, a->units, (double)h->dose_kpa_s, a->units,
		       (double)h->stiffness_pct,
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
		} else if (!strcmp(arg, "--json") || !strcmp(arg, "--csv")) {
			enum out_mode m = arg[2] == 'j' ? OUT_JSON : OUT_CSV;
			if (a.mode != OUT_TEXT && a.mode != m) {
				km_cli_error(CMD, "give one of them", "--json and --csv together");
				return KM_EXIT_USAGE;
			}
			a.mode = m;
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
	km_cli_import_guess_pitch(CMD, path, &io);
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
	km_cli_import_notes(CMD, path, r, &io);
	a.in = in;
	km_cli_values_line(r, a.values, sizeof a.values);
	km_cli_cells_line(r, a.cells, sizeof a.cells);
	const km_import *imp = km_source_import(r);
	const struct km_import_info *ii = imp ? km_import_info(imp) : NULL;
	a.file_units = ii                ? km_import_units_name(ii->units)
	               : (in->content & KM_REC_KPA) ? "kPa"
	                                            : "counts";
	a.to_kpa = ii && ii->units != KM_UNITS_RAW ? km_import_units_to_kpa(ii->units) : 1.0;
	a.cells_on = ii && ii->mask ? (unsigned)ii->mask_cells
	                            : (unsigned)in->device.rows * in->device.cols;
	int rc = km_cli_analysis_create(CMD, in, &a.run);
	if (rc != KM_OK) {
		km_source_destroy(r);
		return KM_EXIT_FAILURE;
	}
	a.units = a.run.counts ? "counts" : "kPa";
	if (a.run.counts)
		fprintf(stderr, "knotmap analyze: note: %s\n", km_cli_counts_notice);
	if (a.run.guard_off)
		fprintf(stderr,
		        "knotmap analyze: note: %.3g Hz is below the %.0f Hz the tensing-up guard "
		        "needs: it is off (no TENSING_UP or EASE_OFF); knots and holds are found "
		        "as usual\n",
		        (double)in->device.rate_hz, (double)KM_PIPELINE_GUARD_MIN_HZ);
	if (a.run.coarse_mm > 0.0f)
		fprintf(stderr,
		        "knotmap analyze: note: cells of %.3g mm are coarser than a knot (%.3g mm "
		        "and finer needed): spots are found only under a tool (ball, roller), not "
		        "from lying alone; holds are timed as usual\n",
		        (double)a.run.coarse_mm, (double)a.run.knot_max_pitch_mm);
	a.t0 = in->first_time_us;
	uint64_t frames = 0, skipped = 0, first_us = 0, last_us = 0;
	struct km_rec_item it;
	struct km_pipeline_result res;
	while ((rc = km_source_next_frame(r, &it)) == KM_OK) {
		if (frames == 0)
			a.t0 = first_us = it.frame->device_time_us;
		last_us = it.frame->device_time_us;
		frames++;
		if (km_cli_analysis_process(&a.run, it.frame, &res) != KM_OK) {
			skipped++;
		} else {
			for (size_t i = 0; i < res.event_count; i++)
				on_event(&a, &res.events[i]);
		}
		if (!a.print_events && a.mode == OUT_TEXT)
			km_cli_progress((void *)"analysing", frames,
			                in->frame_count_known ? in->frame_count : 0);
	}
	km_cli_progress_end();
	if (km_pipeline_finish(a.run.p, &res) == KM_OK)
		for (size_t i = 0; i < res.event_count; i++)
			on_event(&a, &res.events[i]);
	/* a hold still running at the end: its length so far, not 0 s */
	km_summary_finish(&a.sum, last_us);
	/* the knots' letters, as the viewer and the report give them (none
	 * out of memory: names without the tag) */
	a.letter = malloc((a.sum.n_knots ? a.sum.n_knots : 1) * sizeof *a.letter);
	if (a.letter)
		km_summary_knot_letters(&a.sum, a.letter);
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
	if (status == KM_EXIT_OK && a.mode == OUT_JSON)
		report_json(&a, path, frames, skipped, dur);
	else if (status == KM_EXIT_OK && a.mode == OUT_CSV)
		report_csv(&a);
	else if (status == KM_EXIT_OK)
		report(&a, frames, skipped, dur);
	km_summary_free(&a.sum);
	free(a.letter);
	free(a.events);
	km_cli_analysis_destroy(&a.run);
	km_source_destroy(r);
	return status;
}

const struct km_cli_command km_cli_cmd_analyze = {
    "analyze", "run the knot and hold analysis over a recording", run_analyze};
