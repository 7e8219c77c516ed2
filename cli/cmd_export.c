/* knotmap export: a recording to CSV, JSON, NumPy, Tekscan-like ASCII or a PNG
 * report. Also holds the helpers the session commands share (event mapping,
 * progress bar, opening a recording with helpful errors). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/history.h"
#include "knotmap/recording.h"

#define CMD "export"

#include "session_util.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap export FILE --format FORMAT -o OUT [--force]\n"
	        "                      [--title TEXT] [--scale N] [--input-format F]\n"
	        "                      [--rate HZ] [--pitch MM] [--units U] [--rows R --cols C]\n"
	        "                      [--partial]\n"
	        "\n"
	        "Exports a recording (or another mat's file: see below). Formats:\n"
	        "  csv         three lines rate_hz / row_spacing_mm / col_spacing_mm, then a\n"
	        "              header and one row per frame: frame, sequence, device_time_us,\n"
	        "              host_time_us, flags, dropped_since_last, then one column per\n"
	        "              cell rRcC_kpa (rRcC_counts for raw counts)\n"
	        "  csv-events  one row per event (time_us, type, name, track, position, values)\n"
	        "  json        session summary: device, duration, frame statistics, knots,\n"
	        "              holds and outcomes, event counts, damage\n"
	        "  npy         NumPy array float32 [frames, rows, cols] in kPa (numpy.load),\n"
	        "              and OUT.json beside it: rate, [row, col] pitch, units (the\n"
	        "              sidecar knotmap reads back)\n"
	        "  tekscan     Tekscan-like ASCII movie: header block, then 'Frame N' and\n"
	        "              rows of comma-separated values (UNITS KPA, or RAW for counts)\n"
	        "  Raw counts stay counts in every format; kPa only when calibrated.\n"
	        "  png         report image: peak and mean pressure maps, knots, hold\n"
	        "              timeline coloured by outcome, the body chart of your history\n"
	        "              (every past spot, the 7-day rule per spot) and the safety note\n"
	        "\n"
	        "  -f, --format FORMAT  one of the above (default: from OUT's extension)\n"
	        "  -o, --output OUT     file to write (created 0600)\n"
	        "  --force              overwrite OUT if it exists\n"
	        "  --title TEXT         title of the PNG report\n"
	        "  --scale N            PNG: pixels per cell, 1..32 (default: fit ~360 px)\n"
	        "  --db PATH            PNG: the history for the body chart (default\n"
	        "                       ~/.local/share/knotmap/history.db when it exists)\n"
	        "  --no-history         PNG: no body chart\n"
	        "  -h, --help           this help\n"
	        "\n"
	        "%s"
	        "  (here the input format is --input-format F; --format is the output's)\n"
	        "\n"
	        "A damaged recording is exported up to the damage, with a warning; a damaged\n"
	        "import only with --partial.\n"
	        "Exit status: 0 ok, 1 failure (file, disk full), 2 bad arguments.\n",
	        km_cli_import_usage);
}

static int format_from_ext(const char *out, enum km_export_format *f)
{
	const char *dot = strrchr(out, '.');
	if (!dot)
		return KM_ERR_INVALID_ARG;
	static const struct {
		const char *ext;
		enum km_export_format f;
	} map[] = {{".csv", KM_EXPORT_CSV},     {".json", KM_EXPORT_JSON},
	           {".npy", KM_EXPORT_NPY},     {".txt", KM_EXPORT_TEKSCAN},
	           {".asf", KM_EXPORT_TEKSCAN}, {".png", KM_EXPORT_PNG}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(dot, map[i].ext)) {
			*f = map[i].f;
			return KM_OK;
		}
	return KM_ERR_INVALID_ARG;
}

/* Frames of the import into the temporary recording, with the events the
 * analysis `analyze` runs finds in them (a .kmrec made live holds its own):
 * the exports then report the same knots and holds as `analyze`. */
static int write_temp(km_source *src, const struct km_rec_writer_config *wc, uint64_t *n,
                      struct km_cli_analysis *names)
{
	const struct km_source_info *in = km_source_info(src);
	struct km_rec_writer_config c = *wc;
	c.device = in->device;
	c.content = KM_REC_KPA;
	struct km_cli_analysis an;
	if (km_cli_analysis_create(CMD, in, &an) != KM_OK)
		fprintf(stderr, "knotmap export: warning: exporting the frames without the "
		                "analysis (no knots or holds)\n");
	else if (an.counts)
		fprintf(stderr, "knotmap export: note: %s\n", km_cli_counts_notice);
	km_rec_writer *w = NULL;
	int rc = km_rec_writer_create(&c, &w);
	if (rc != KM_OK) {
		km_cli_analysis_destroy(&an);
		return rc;
	}
	struct km_rec_item it;
	struct km_pipeline_result res;
	struct km_rec_event rev;
	while ((rc = km_source_next_frame(src, &it)) == KM_OK) {
		rc = km_rec_writer_write_frame(w, it.frame, NULL, 0);
		if (rc != KM_OK)
			break;
		(*n)++;
		if (!an.p || km_cli_analysis_process(&an, it.frame, &res) != KM_OK)
			continue; /* a frame the analysis skips, as analyze does */
		for (size_t i = 0; i < res.event_count && rc == KM_OK; i++) {
			km_event_to_record(&res.events[i], &rev);
			rc = km_rec_writer_write_event(w, &rev);
		}
		if (rc != KM_OK)
			break;
	}
	if (rc == KM_ERR_END) {
		rc = KM_OK;
		if (an.p && km_pipeline_finish(an.p, &res) == KM_OK)
			for (size_t i = 0; i < res.event_count && rc == KM_OK; i++) {
				km_event_to_record(&res.events[i], &rev);
				rc = km_rec_writer_write_event(w, &rev);
			}
	}
	int crc = km_rec_writer_close(w);
	km_rec_writer_destroy(w);
	/* the knots' names, found on the way (the caller frees them) */
	names->names = an.names;
	names->n_names = an.n_names;
	names->cap_names = an.cap_names;
	an.names = NULL;
	km_cli_analysis_destroy(&an);
	return rc != KM_OK ? rc : crc;
}

/* An import is exported through a temporary .kmrec (0600, removed after):
 * the exporters read recordings, and this keeps memory fixed per frame. */
static int import_to_temp(const char *in, const struct km_cli_import_opts *io, km_source *src,
                          char *tmp, size_t cap, km_rec_reader **out,
                          struct km_cli_analysis *names)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmp, cap, "%s/knotmap-import-XXXXXX", base && *base ? base : "/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0) {
		km_cli_error(CMD, "set TMPDIR to a writable folder",
		             "cannot create a temporary file in %s: %s", base ? base : "/tmp",
		             strerror(errno));
		tmp[0] = '\0';
		return KM_ERR_IO;
	}
	close(fd);
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = tmp;
	wc.overwrite = true;
	wc.sync = false;
	wc.log = km_cli_log();
	uint64_t n = 0;
	int rc = write_temp(src, &wc, &n, names);
	if (rc != KM_OK) {
		struct km_import_damage d;
		km_source_damage(src, &d);
		if (d.damaged && io->partial) {
			fprintf(stderr, "knotmap export: warning: %s; exporting the %llu frames "
			                "before it\n",
			        d.message, (unsigned long long)n);
		} else {
			if (d.damaged)
				km_cli_error(CMD,
				             "fix the file, or add --partial to skip the frames "
				             "that do not read",
				             "%s", d.message);
			else
				km_cli_error(CMD, NULL, "cannot read '%s': %s", in, km_strerror(rc));
			unlink(tmp);
			tmp[0] = '\0';
			return rc;
		}
	}
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = tmp;
	c.log = km_cli_log();
	rc = km_rec_reader_create(&c, out);
	if (rc != KM_OK) {
		km_cli_error(CMD, NULL, "cannot read back %s: %s", tmp, km_strerror(rc));
		unlink(tmp);
		tmp[0] = '\0';
	}
	return rc;
}

static int run_export(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *fmt = NULL, *title = NULL, *db = NULL;
	bool force = false, no_history = false;
	long scale = 0;
	struct km_cli_import_opts io;
	memset(&io, 0, sizeof io);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		int took = km_cli_import_option(CMD, argc, argv, &i, false, &io);
		if (took < 0)
			return KM_EXIT_USAGE;
		if (took > 0)
			continue;
		if (!strcmp(a, "--input-format") && has_next) {
			if (km_import_format_parse(argv[++i], &io.format) != KM_OK ||
			    io.format == KM_IMPORT_AUTO) {
				km_cli_error(CMD, "input formats: npy, tekscan, xsensor, csv, kmrec",
				             "unknown input format '%s'", argv[i]);
				return KM_EXIT_USAGE;
			}
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if ((!strcmp(a, "-f") || !strcmp(a, "--format")) && has_next) {
			fmt = argv[++i];
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
			out = argv[++i];
		} else if (!strcmp(a, "--title") && has_next) {
			title = argv[++i];
		} else if (!strcmp(a, "--scale") && has_next) {
			if (km_cli_parse_long(CMD, "--scale", argv[++i], 1, 32, &scale) != 0)
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (!strcmp(a, "--db") && has_next) {
			db = argv[++i];
		} else if (!strcmp(a, "--no-history")) {
			no_history = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			km_cli_error(CMD, "see 'knotmap export --help'",
			             has_next || strchr("fo", a[1]) == NULL
			                 ? "unknown option '%s'"
			                 : "option '%s' needs a value",
			             a);
			return KM_EXIT_USAGE;
		} else if (!in) {
			in = a;
		} else {
			km_cli_error(CMD, "see 'knotmap export --help'", "unexpected argument '%s'",
			             a);
			return KM_EXIT_USAGE;
		}
	}
	if (!in || !out) {
		km_cli_error(CMD, "e.g. knotmap export session.kmrec --format csv -o frames.csv",
		             "%s", !in ? "which recording? give FILE.kmrec" : "give -o OUT");
		return KM_EXIT_USAGE;
	}
	enum km_export_format f;
	if (fmt ? km_export_format_parse(fmt, &f) != KM_OK : format_from_ext(out, &f) != KM_OK) {
		km_cli_error(CMD, "formats: csv, csv-events, json, npy, tekscan, png",
		             fmt ? "unknown format '%s'"
		                 : "cannot tell the format from '%s': give --format",
		             fmt ? fmt : out);
		return KM_EXIT_USAGE;
	}
	/* The report's body chart reads the history (read only; none yet: no
	 * chart). A --db that cannot be read is an error. */
	km_history *hist = NULL;
	if (f == KM_EXPORT_PNG && !no_history) {
		struct km_history_config hc = km_history_config_default();
		hc.path = db;
		hc.read_only = true;
		hc.log = db ? km_cli_log() : (struct km_log){0};
		int hrc = km_history_create(&hc, &hist);
		if (hrc != KM_OK && db) {
			km_cli_error(CMD, "give the history with --db PATH, or --no-history",
			             "cannot read the history '%s': %s", db, km_strerror(hrc));
			return KM_EXIT_FAILURE;
		}
	}
	km_source *src = NULL;
	km_cli_import_guess_pitch(CMD, in, &io);
	int rc = km_cli_open_source(CMD, in, &io, false, &src);
	if (rc != KM_OK) {
		km_history_destroy(hist);
		return KM_EXIT_FAILURE;
	}
	char tmp[4096] = "";
	/* The knots' names (the viewer's: side and body region at the
	 * KNOT_FOUND) for the formats that list knots: the pipeline's body
	 * model, from the analysis an import's events come from, or from the
	 * recording's frames run through it again (the file has no body model). */
	struct km_cli_analysis names;
	memset(&names, 0, sizeof names);
	km_rec_reader *r = km_source_rec_reader(src);
	if (!r) {
		km_cli_import_notes(CMD, in, src, &io);
		rc = import_to_temp(in, &io, src, tmp, sizeof tmp, &r, &names);
		if (rc != KM_OK) {
			km_cli_analysis_destroy(&names);
			km_source_destroy(src);
			km_history_destroy(hist);
			return KM_EXIT_FAILURE;
		}
	} else if (f == KM_EXPORT_PNG || f == KM_EXPORT_JSON) {
		if (km_cli_analysis_create(CMD, km_source_info(src), &names) == KM_OK)
			km_cli_analysis_name_recording(&names, r);
		else
			fprintf(stderr, "knotmap export: warning: the spots are named by letter "
			                "only (no body regions)\n");
	}
	struct km_export_config c = km_export_config_default();
	c.log = km_cli_log();
	c.format = f;
	c.path = out;
	c.overwrite = force;
	c.progress = km_cli_progress;
	c.progress_user = (void *)"exporting";
	c.title = title;
	c.png_scale = (uint32_t)scale;
	/* What the temporary .kmrec of an import cannot say: units, both pitches. */
	const struct km_source_info *si = km_source_info(src);
	c.counts = si->units == KM_UNITS_RAW;
	c.row_pitch_mm = si->row_pitch_mm;
	c.col_pitch_mm = si->col_pitch_mm;
	c.mask = si->mask;
	c.npy_sidecar = true;
	c.history = hist;
	c.knot_names = names.names;
	c.n_knot_names = names.n_names;
	rc = km_export_recording(&c, r);
	km_cli_analysis_destroy(&names);
	km_history_destroy(hist);
	km_cli_progress_end();
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	uint64_t frames = km_rec_reader_info(r)->frame_count;
	if (tmp[0]) {
		km_rec_reader_destroy(r);
		unlink(tmp);
	}
	km_source_destroy(src);
	if (rc != KM_OK) {
		const char *hint = NULL;
		if (rc == KM_ERR_EXISTS)
			hint = "choose another name or add --force to overwrite";
		else if (rc == KM_ERR_NO_SPACE)
			hint = "free some disk space; the partial output was left in place";
		else if (rc == KM_ERR_PERMISSION || rc == KM_ERR_NOT_FOUND)
			hint = "check that the output folder exists and is writable";
		else if (rc == KM_ERR_INVALID_ARG)
			hint = "OUT is the recording itself: choose another output file";
		km_cli_error(CMD, hint, "cannot write '%s': %s", out, km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	if (d.damaged)
		fprintf(stderr,
		        "knotmap export: warning: '%s' is damaged at byte %llu; exported the %llu "
		        "frames before it\n",
		        in, (unsigned long long)d.byte_offset, (unsigned long long)d.frame_index);
	printf("wrote %s (%s, %llu frames)\n", out, km_export_format_name(f),
	       (unsigned long long)(d.damaged ? d.frame_index : frames));
	return KM_EXIT_OK;
}

const struct km_cli_command km_cli_cmd_export = {
    "export", "export a recording to CSV, JSON, NumPy, Tekscan ASCII or a PNG report", run_export};
