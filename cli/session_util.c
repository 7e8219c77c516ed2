/* Helpers shared by the session commands; see session_util.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "knotmap/body.h"
#include "progress.h"
#include "session_util.h"

/* One bar at a time (progress.h); a new label starts a new bar. */
static struct km_progress cli_progress;
static bool cli_progress_active;

void km_cli_progress(void *user, uint64_t done, uint64_t total)
{
	const char *what = user ? user : "";
	if (!cli_progress_active ||
	    strncmp(cli_progress.what, what, sizeof cli_progress.what - 1)) {
		km_cli_progress_end();
		km_progress_begin(&cli_progress, stderr, what, "frames", total);
		cli_progress_active = true;
	}
	cli_progress.total = total;
	km_progress_update(&cli_progress, done);
}

void km_cli_progress_end(void)
{
	if (cli_progress_active)
		km_progress_end(&cli_progress);
	cli_progress_active = false;
}

double km_cli_rec_seconds(const struct km_rec_info *in)
{
	return in->frame_count && in->last_time_us >= in->first_time_us
	           ? (double)(in->last_time_us - in->first_time_us) / 1e6
	           : 0.0;
}

int km_cli_exit_code(int err)
{
	switch (err) {
	case KM_OK:
		return KM_EXIT_OK;
	case KM_ERR_NO_DEVICE:
		return KM_EXIT_NO_DEVICE;
	case KM_ERR_INTERRUPTED:
		return KM_EXIT_INTERRUPTED;
	default:
		return KM_EXIT_FAILURE;
	}
}

int km_cli_open_recording(const char *cmd, const char *path, bool verify, km_rec_reader **out)
{
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = path;
	c.verify_all = verify;
	c.log = km_cli_log();
	c.log.max_level = KM_LOG_ERROR < km_cli_verbosity ? km_cli_verbosity : KM_LOG_ERROR;
	int rc = km_rec_reader_create(&c, out);
	if (rc == KM_OK)
		return KM_OK;
	const char *hint = NULL;
	switch (rc) {
	case KM_ERR_NOT_FOUND:
		hint = "check the path; recordings are kept in ~/.local/share/knotmap/sessions/";
		break;
	case KM_ERR_PERMISSION:
		hint = "the file is not readable by you (recordings are created 0600)";
		break;
	case KM_ERR_BAD_MAGIC:
		hint = "this is not a knotmap recording (.kmrec)";
		break;
	case KM_ERR_BAD_VERSION:
		hint = "the recording was made by a newer knotmap: upgrade knotmap";
		break;
	case KM_ERR_BAD_CRC:
	case KM_ERR_TRUNCATED:
	case KM_ERR_MALFORMED:
		hint = "the file header is damaged; nothing in it can be trusted";
		break;
	default:
		break;
	}
	km_cli_error(cmd, hint, "cannot open '%s': %s", path, km_strerror(rc));
	return rc;
}

const char km_cli_import_usage[] =
    "Other mats' files (docs/formats.md) are read too: NumPy .npy, Tekscan-style\n"
    "ASCII, XSENSOR-style CSV, plain CSV; the format is found from the content.\n"
    "  --format F     npy, tekscan, xsensor, csv or kmrec (skip the detection)\n"
    "  --rate HZ      frame rate of an import (default: file, sidecar, 100 Hz)\n"
    "  --pitch MM     cell spacing of an import (default: file, sidecar, the one a\n"
    "                 whole body lying along the mat implies, 10 mm); ROW,COL for\n"
    "                 cells that are not square (mm between rows, columns)\n"
    "  --units U      kPa, Pa, MPa, bar, mbar, N/cm2, kgf/cm2, g/cm2, psi, mmHg,\n"
    "                 cmH2O or counts (default: file, sidecar, else counts:\n"
    "                 values are never assumed to be kPa)\n"
    "  --rows R --cols C   grid of a plain CSV with one frame per line\n"
    "  --sensor S     a file with several sensors (XSENSOR insoles): which one, by\n"
    "                 number (1, 2) or name; default the first\n"
    "  --partial      skip the frames that do not read (each one reported) instead\n"
    "                 of failing\n"
    "A sidecar FILE.json or FILE.npy.json with \"rate_hz\", \"pitch_mm\" (a number,\n"
    "[row, col] or null) and \"units\" is read when present; options override it.\n";

float km_cli_import_pitch(const struct km_cli_import_opts *o)
{
	if (o->pitch_mm > 0)
		return o->pitch_mm;
	if (o->row_pitch_mm > 0 && o->col_pitch_mm > 0)
		return sqrtf(o->row_pitch_mm * o->col_pitch_mm);
	return 0;
}

int km_cli_import_option(const char *cmd, int argc, char **argv, int *i, bool with_format,
                         struct km_cli_import_opts *o)
{
	const char *a = argv[*i];
	bool has_next = *i + 1 < argc;
	static const char *const with_value[] = {"--format", "--rate", "--pitch", "--units",
	                                         "--rows",   "--cols", "--sensor"};
	bool takes = false;
	for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
		if (!strcmp(a, with_value[k]))
			takes = true;
	if (!strcmp(a, "--format") && !with_format)
		return 0;
	if (!takes) {
		if (!strcmp(a, "--partial")) {
			o->partial = true;
			o->any = true;
			return 1;
		}
		return 0;
	}
	if (!has_next) {
		km_cli_error(cmd, NULL, "option '%s' needs a value", a);
		return -1;
	}
	const char *v = argv[++*i];
	double d;
	long l;
	o->any = true;
	if (!strcmp(a, "--format")) {
		if (km_import_format_parse(v, &o->format) != KM_OK || o->format == KM_IMPORT_AUTO) {
			km_cli_error(cmd, "formats: npy, tekscan, xsensor, csv, kmrec",
			             "unknown input format '%s'", v);
			return -1;
		}
	} else if (!strcmp(a, "--rate")) {
		if (km_cli_parse_double(cmd, "--rate", v, 0.001, 100000, &d) != 0)
			return -1;
		o->rate_hz = (float)d;
	} else if (!strcmp(a, "--sensor")) {
		if (!*v) {
			km_cli_error(cmd, NULL, "--sensor needs a number or a name");
			return -1;
		}
		o->sensor = v;
	} else if (!strcmp(a, "--pitch") && strchr(v, ',')) {
		/* ROW,COL */
		char row[64];
		const char *comma = strchr(v, ',');
		size_t rl = (size_t)(comma - v);
		snprintf(row, sizeof row, "%.*s", (int)(rl < sizeof row ? rl : sizeof row - 1), v);
		if (km_cli_parse_double(cmd, "--pitch (row)", row, 0.001, 1000, &d) != 0)
			return -1;
		o->row_pitch_mm = (float)d;
		if (km_cli_parse_double(cmd, "--pitch (column)", comma + 1, 0.001, 1000, &d) != 0)
			return -1;
		o->col_pitch_mm = (float)d;
		o->pitch_mm = 0;
	} else if (!strcmp(a, "--pitch")) {
		if (km_cli_parse_double(cmd, "--pitch", v, 0.001, 1000, &d) != 0)
			return -1;
		o->pitch_mm = (float)d;
		o->row_pitch_mm = o->col_pitch_mm = 0;
	} else if (!strcmp(a, "--units")) {
		if (km_import_units_parse(v, &o->units) != KM_OK) {
			km_cli_error(cmd, "units: " KM_IMPORT_UNITS_LIST, "unknown units '%s'", v);
			return -1;
		}
	} else {
		if (km_cli_parse_long(cmd, a, v, 1, KM_FRAME_MAX_DIM, &l) != 0)
			return -1;
		if (!strcmp(a, "--rows"))
			o->rows = (uint16_t)l;
		else
			o->cols = (uint16_t)l;
	}
	return 1;
}

/* The source config the import options describe (no log: the caller's). */
static struct km_source_config source_config(const char *path, const struct km_cli_import_opts *o)
{
	struct km_source_config c = km_source_config_default();
	c.path = path;
	c.import.format = o->format;
	c.import.sensor = o->sensor;
	c.import.partial = o->partial;
	c.import.row_pitch_mm = o->row_pitch_mm;
	c.import.col_pitch_mm = o->col_pitch_mm;
	c.import.rate_hz = o->rate_hz;
	c.import.pitch_mm = o->pitch_mm;
	c.import.units = o->units;
	c.import.rows = o->rows;
	c.import.cols = o->cols;
	return c;
}

/* The seconds of a file averaged for km_body_guess_pitch (a person settling
 * on the mat), and a bound on the frames read for it. */
#define GUESS_SECONDS 10.0
#define GUESS_MAX_FRAMES 2000

void km_cli_import_guess_pitch(const char *cmd, const char *path, struct km_cli_import_opts *o)
{
	if (o->pitch_mm > 0 || o->row_pitch_mm > 0 || o->col_pitch_mm > 0 ||
	    (o->rows == 0) != (o->cols == 0))
		return;
	struct km_source_config c = source_config(path, o); /* quiet: the open after says */
	km_source *src = NULL;
	if (km_source_create(&c, &src) != KM_OK)
		return;
	const km_import *imp = km_source_import(src);
	const struct km_import_info *ii = imp ? km_import_info(imp) : NULL;
	size_t n = ii ? (size_t)ii->rows * ii->cols : 0;
	double *sum = NULL;
	float *mean = NULL;
	if (ii && ii->pitch_from == KM_IMPORT_FROM_DEFAULT) {
		sum = calloc(n, sizeof *sum);
		mean = malloc(n * sizeof *mean);
	}
	if (sum && mean) {
		unsigned frames = 0;
		uint64_t t0 = 0;
		struct km_rec_item it;
		while (frames < GUESS_MAX_FRAMES && km_source_next_frame(src, &it) == KM_OK) {
			if (it.kind != KM_REC_ITEM_FRAME)
				continue;
			if (frames == 0)
				t0 = it.frame->device_time_us;
			else if ((double)(it.frame->device_time_us - t0) / 1e6 >= GUESS_SECONDS)
				break;
			for (size_t i = 0; i < n; i++)
				sum[i] += (double)it.frame->kpa[i];
			frames++;
		}
		for (size_t i = 0; i < n && frames; i++)
			mean[i] = (float)(sum[i] / frames);
		float pitch = 0.0f;
		if (frames && km_body_guess_pitch(mean, ii->rows, ii->cols, &pitch) == KM_OK) {
			o->pitch_mm = pitch;
			o->pitch_guessed = true;
			fprintf(
			    stderr,
			    "knotmap %s: note: the file gives no cell spacing; its first seconds "
			    "hold a whole body lying along the mat: assuming %.1f mm (an adult "
			    "lies %.1f m head to heels; give --pitch)\n",
			    cmd, (double)pitch, (double)KM_BODY_LYING_CONTACT_MM / 1000.0);
		}
	}
	free(sum);
	free(mean);
	km_source_destroy(src);
}

int km_cli_open_source(const char *cmd, const char *path, const struct km_cli_import_opts *o,
                       bool verify, km_source **out)
{
	if ((o->rows == 0) != (o->cols == 0)) {
		km_cli_error(cmd, NULL, "give both --rows and --cols");
		return KM_ERR_INVALID_ARG;
	}
	struct km_source_config c = source_config(path, o);
	c.verify_all = verify;
	c.log = km_cli_log();
	/* errors name file, line and problem through the log */
	c.log.max_level = KM_LOG_ERROR < km_cli_verbosity ? km_cli_verbosity : KM_LOG_ERROR;
	if (o->partial && c.log.max_level < KM_LOG_WARN)
		c.log.max_level = KM_LOG_WARN; /* every skipped frame, with its place */
	int rc = km_source_create(&c, out);
	if (rc == KM_OK)
		return KM_OK;
	const char *hint = NULL;
	switch (rc) {
	case KM_ERR_NOT_FOUND:
		hint = "check the path; recordings are kept in ~/.local/share/knotmap/sessions/";
		break;
	case KM_ERR_PERMISSION:
		hint = "the file is not readable by you (recordings are created 0600)";
		break;
	case KM_ERR_BAD_MAGIC:
		hint = "this is not a knotmap recording (.kmrec) nor a .npy, Tekscan, XSENSOR "
		       "or CSV export knotmap reads (see --format)";
		break;
	case KM_ERR_BAD_VERSION:
		hint = "the file was made by a newer program: upgrade knotmap";
		break;
	case KM_ERR_SHAPE:
		hint = "give the grid with --rows R --cols C, or fix the file";
		break;
	case KM_ERR_UNSUPPORTED:
		hint = "see docs/formats.md for what each reader accepts";
		break;
	default:
		break;
	}
	km_cli_error(cmd, hint, "cannot open '%s': %s", path, km_strerror(rc));
	return rc;
}

void km_cli_import_notes(const char *cmd, const char *path, const km_source *s,
                         const struct km_cli_import_opts *o)
{
	const km_import *imp = km_source_import((km_source *)s);
	if (!imp)
		return;
	const struct km_import_info *in = km_import_info(imp);
	if (in->rate_from == KM_IMPORT_FROM_DEFAULT)
		fprintf(stderr,
		        "knotmap %s: note: the file gives no frame rate; assuming %.0f Hz "
		        "(give --rate)\n",
		        cmd, (double)in->rate_hz);
	if (in->pitch_from == KM_IMPORT_FROM_DEFAULT)
		fprintf(stderr,
		        "knotmap %s: note: the file gives no cell spacing; assuming %.1f mm "
		        "(give --pitch)\n",
		        cmd, (double)in->pitch_mm);
	if (in->units_from == KM_IMPORT_FROM_DEFAULT)
		fprintf(stderr,
		        "knotmap %s: note: the file gives no units; its values are read as "
		        "counts, not kPa (give --units)\n",
		        cmd);
	if (in->sensor_count > 1) {
		/* which sensor is read, and how to choose another */
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		bool chosen = o->sensor && *o->sensor;
		fprintf(stderr, "knotmap %s: note: %s holds %u sensors (", cmd, base,
		        (unsigned)in->sensor_count);
		for (unsigned i = 0; i < in->sensor_count; i++)
			fprintf(stderr, "%s%s", i ? ", " : "", km_import_sensor_label(imp, i));
		unsigned other = in->sensor_index == 0 ? 1 : 0;
		if (chosen)
			fprintf(stderr, "); reading %s (%u of %u, '%s')\n",
			        km_import_sensor_label(imp, in->sensor_index),
			        in->sensor_index + 1u, (unsigned)in->sensor_count, in->sensor);
		else
			fprintf(stderr, "); using %s; --sensor %s for %s\n",
			        km_import_sensor_label(imp, in->sensor_index),
			        km_import_sensor_label(imp, other),
			        in->sensor_count == 2 ? "the other" : "another");
	}
}

int km_cli_check_source(const char *cmd, const char *path, const struct km_cli_import_opts *o,
                        unsigned *sensor_index)
{
	km_source *src = NULL;
	int rc = km_cli_open_source(cmd, path, o, false, &src);
	if (rc != KM_OK)
		return rc;
	km_cli_import_notes(cmd, path, src, o);
	const km_import *imp = km_source_import(src);
	if (sensor_index)
		*sensor_index = imp ? km_import_info(imp)->sensor_index : 0;
	km_source_destroy(src);
	return KM_OK;
}

void km_cli_values_line(const km_source *s, char *buf, size_t cap)
{
	static const char *const origin[] = {"default", "given", "from the file", "from sidecar"};
	const km_import *imp = km_source_import((km_source *)s);
	if (!imp) {
		const struct km_source_info *in = km_source_info(s);
		snprintf(buf, cap, "%s (recorded)", (in->content & KM_REC_KPA) ? "kPa" : "counts");
		return;
	}
	const struct km_import_info *ii = km_import_info(imp);
	if (ii->units == KM_UNITS_RAW)
		snprintf(buf, cap, "counts (%s%s), not pressures",
		         ii->units_from == KM_IMPORT_FROM_DEFAULT ? "the file gives no units"
		                                                  : origin[ii->units_from & 3],
		         ii->units_from == KM_IMPORT_FROM_DEFAULT ? "; --units to say" : "");
	else if (ii->units == KM_UNITS_KPA)
		snprintf(buf, cap, "kPa (%s)", origin[ii->units_from & 3]);
	else
		snprintf(buf, cap, "%s (%s), x %.9g to kPa", km_import_units_name(ii->units),
		         origin[ii->units_from & 3], km_import_units_to_kpa(ii->units));
}

void km_cli_cells_line(const km_source *s, char *buf, size_t cap)
{
	const struct km_source_info *in = km_source_info(s);
	const km_import *imp = km_source_import((km_source *)s);
	unsigned cells = (unsigned)in->device.rows * in->device.cols;
	unsigned on = imp && in->mask ? (unsigned)km_import_info(imp)->mask_cells : cells;
	if (on == cells)
		snprintf(buf, cap, "all %u cells are on the sensor", cells);
	else
		snprintf(buf, cap,
		         "%u of %u cells are on the sensor (%.1f %%); the rest lie outside its "
		         "outline",
		         on, cells, cells ? 100.0 * on / cells : 0.0);
}
