/*
 * knotmap calibrate: builds a mat's calibration file (.kmcal) from known
 * weights, following hardware/BUILD.md section 9. Two ways in:
 *   - from recordings made with `knotmap record --raw` (one unloaded, then one
 *     or more per pressure level, the plate moved between them);
 *   - live and guided: the command zeroes the mat, asks for each weight,
 *     waits for the film to settle and measures, region by region.
 * Per cell and level the highest region mean is kept (the region where the
 * plate covered that cell); km_calibration_fit_power_law does the fit.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "knotmap/calibration.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"
#include "session_util.h"

#define CMD "calibrate"
#define MAX_LEVELS KM_CAL_MAX_POINTS
#define STANDARD_GRAVITY 9.80665 /* m/s^2 */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knotmap calibrate -o FILE.kmcal [--force] --zero ZERO.kmrec\n"
		"                         --level KPA FILE.kmrec [FILE.kmrec...] [--level ...]\n"
		"       knotmap calibrate -o FILE.kmcal --plate-cm2 AREA [--device SERIAL | --sim S]\n"
		"                         [--settle SECONDS] [--seconds SECONDS]\n"
		"\n"
		"Builds the per-cell calibration (raw counts -> kPa) of a mat from known\n"
		"weights on a rigid plate (hardware/BUILD.md, 'Calibration with known\n"
		"weights'). Each cell gets a power law counts = zero + scale * kPa^exponent;\n"
		"cells that cannot be fitted (dead, stuck, never under the plate) get the\n"
		"typical response and are counted.\n"
		"\n"
		"From recordings (made with 'knotmap record --raw --no-analysis'):\n"
		"  --zero FILE        the unloaded mat\n"
		"  --level KPA FILES  the recordings under one pressure level (the plate in\n"
		"                     different places); at least two levels, increasing\n"
		"\n"
		"Live, guided on the terminal:\n"
		"  --plate-cm2 AREA   the plate's contact area; you type each total mass in kg\n"
		"  --device SERIAL    the mat (default: the first one plugged in)\n"
		"  --sim SCENARIO     the virtual mat instead (to try the procedure)\n"
		"  --settle SECONDS   wait after loading, for the film's creep (default 30)\n"
		"  --seconds SECONDS  measure this long per region (default 10)\n"
		"\n"
		"  -o FILE            the calibration file to write (required)\n"
		"  --force            replace FILE when it exists\n"
		"  --min-rise COUNTS  a cell counts as under the plate above this rise\n"
		"                     over its zero (default 10)\n"
		"  -h, --help         this help\n"
		"\n"
		"Use the file with 'knotmap view --calibration FILE' and\n"
		"'knotmap record --calibration FILE'.\n"
		"Exit status: 0 written, 1 failed, 2 bad arguments.\n");
}

/* Per-level measurements: for each cell the highest region mean so far. */
struct measure {
	uint16_t rows, cols;
	size_t cells;
	unsigned levels;
	float kpa[MAX_LEVELS];
	float *zero;   /* [cells] */
	float *counts; /* [MAX_LEVELS x cells], -1 = not measured */
	double *acc;   /* [cells] scratch for one region's mean */
};

static int measure_init(struct measure *m, uint16_t rows, uint16_t cols)
{
	memset(m, 0, sizeof *m);
	m->rows = rows;
	m->cols = cols;
	m->cells = (size_t)rows * cols;
	m->zero = calloc(m->cells, sizeof *m->zero);
	m->counts = malloc(MAX_LEVELS * m->cells * sizeof *m->counts);
	m->acc = calloc(m->cells, sizeof *m->acc);
	if (!m->zero || !m->counts || !m->acc)
		return KM_ERR_NO_MEMORY;
	for (size_t i = 0; i < MAX_LEVELS * m->cells; i++)
		m->counts[i] = -1.0f;
	return KM_OK;
}

static void measure_free(struct measure *m)
{
	free(m->zero);
	free(m->counts);
	free(m->acc);
}

/* Folds one region's per-cell mean (in acc, over n frames) into a level, or
 * into the zero when level < 0. */
static void measure_commit(struct measure *m, int level, uint64_t n)
{
	for (size_t i = 0; i < m->cells; i++) {
		float mean = (float)(m->acc[i] / (double)n);
		if (level < 0) {
			m->zero[i] = mean;
		} else {
			float *c = &m->counts[(size_t)level * m->cells + i];
			if (mean > *c)
				*c = mean;
		}
		m->acc[i] = 0.0;
	}
}

/* Adds the mean raw counts of one recording to level (or zero when < 0). */
static int measure_recording(struct measure *m, const char *path, int level)
{
	km_rec_reader *r;
	int err = km_cli_open_recording(CMD, path, false, &r);
	if (err != KM_OK)
		return err;
	const struct km_rec_info *info = km_rec_reader_info(r);
	if (info->device.rows != m->rows || info->device.cols != m->cols) {
		km_cli_error(CMD, "every recording must come from the same mat",
			     "'%s' is %ux%u cells, the zero recording %ux%u", path,
			     info->device.rows, info->device.cols, m->rows, m->cols);
		km_rec_reader_destroy(r);
		return KM_ERR_SHAPE;
	}
	struct km_rec_item it;
	uint64_t n = 0;
	while ((err = km_rec_reader_next_frame(r, &it)) == KM_OK) {
		if (!it.raw)
			break;
		for (size_t i = 0; i < m->cells; i++)
			m->acc[i] += it.raw[i];
		n++;
	}
	km_rec_reader_destroy(r);
	if (n == 0) {
		km_cli_error(CMD, "record with 'knotmap record --raw' so the counts are kept",
			     "'%s' has no raw counts", path);
		return KM_ERR_MALFORMED;
	}
	if (err != KM_OK && err != KM_ERR_END)
		fprintf(stderr, "knotmap calibrate: '%s' is damaged after %llu frames (%s); using "
				"those\n",
			path, (unsigned long long)n, km_strerror(err));
	measure_commit(m, level, n);
	return KM_OK;
}

/* Fits, reports and writes the file. */
static int fit_and_save(struct measure *m, const char *out_path, bool force, float min_rise)
{
	struct km_calibration_config cc = km_calibration_config_default(m->rows, m->cols);
	cc.log = km_cli_log();
	km_calibration *cal;
	int err = km_calibration_create(&cc, &cal);
	if (err != KM_OK) {
		km_cli_error(CMD, NULL, "cannot create a calibration: %s", km_strerror(err));
		return KM_EXIT_FAILURE;
	}
	size_t fallback = 0;
	err = km_calibration_fit_power_law(cal, m->zero, m->levels, m->kpa, m->counts, m->cells,
					   min_rise, cc.max_counts, &fallback);
	if (err != KM_OK) {
		km_cli_error(CMD,
			     "measure more levels, and move the plate until every cell has been "
			     "under it",
			     "the fit failed: %s", km_strerror(err));
		km_calibration_destroy(cal);
		return KM_EXIT_FAILURE;
	}
	/* How well the model reproduces each level on the cells measured there. */
	printf("level      cells   mean error\n");
	for (unsigned l = 0; l < m->levels; l++) {
		double err_sum = 0;
		size_t used = 0;
		uint16_t *raw = calloc(m->cells, sizeof *raw);
		float *kpa = calloc(m->cells, sizeof *kpa);
		if (!raw || !kpa) {
			free(raw);
			free(kpa);
			km_calibration_destroy(cal);
			return KM_EXIT_FAILURE;
		}
		for (size_t i = 0; i < m->cells; i++) {
			float c = m->counts[(size_t)l * m->cells + i];
			raw[i] = (uint16_t)lrintf(c < 0.0f ? 0.0f : c > 65535.0f ? 65535.0f : c);
		}
		km_calibration_apply(cal, raw, 0, false, kpa, NULL);
		for (size_t i = 0; i < m->cells; i++) {
			float c = m->counts[(size_t)l * m->cells + i];
			if (c - m->zero[i] > min_rise) {
				err_sum += fabs(kpa[i] - m->kpa[l]) / m->kpa[l];
				used++;
			}
		}
		printf("%7.2f kPa %6zu   %5.1f %%\n", (double)m->kpa[l], used,
		       used ? 100.0 * err_sum / (double)used : 0.0);
		free(raw);
		free(kpa);
	}
	printf("%zu of %zu cells fitted; %zu use the typical response\n", m->cells - fallback,
	       m->cells, fallback);
	err = km_calibration_save(cal, out_path, force);
	km_calibration_destroy(cal);
	if (err != KM_OK) {
		km_cli_error(CMD, NULL, "cannot write '%s': %s", out_path, km_strerror(err));
		return KM_EXIT_FAILURE;
	}
	printf("wrote %s\n", out_path);
	return KM_EXIT_OK;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Reads a line from stdin; false at end of input. */
static bool ask(const char *prompt, char *buf, size_t cap)
{
	fputs(prompt, stderr);
	fflush(stderr);
	if (!fgets(buf, (int)cap, stdin))
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* Reads frames for `seconds` into m->acc; returns frames read or 0. */
static uint64_t collect(km_stream *s, struct measure *m, struct km_frame *f, uint16_t *raw,
			double seconds)
{
	uint64_t n = 0, t0 = km_time_monotonic_us();
	while (!interrupted && (double)(km_time_monotonic_us() - t0) < seconds * 1e6) {
		int err = km_stream_read_raw(s, f, raw, m->cells, 500);
		if (err == KM_ERR_TIMEOUT)
			continue;
		if (err != KM_OK) {
			km_cli_error(CMD, NULL, "the mat stopped: %s", km_strerror(err));
			return 0;
		}
		for (size_t i = 0; i < m->cells; i++)
			m->acc[i] += raw[i];
		n++;
	}
	return n;
}

static void wait_seconds(km_stream *s, struct km_frame *f, double seconds)
{
	/* Keep reading so the ring never overflows while the film settles. */
	uint64_t t0 = km_time_monotonic_us();
	while (!interrupted && (double)(km_time_monotonic_us() - t0) < seconds * 1e6)
		km_stream_read(s, f, 200);
}

static int run_live(struct km_stream_config *sc, double plate_cm2, double settle, double seconds,
		    const char *out_path, bool force, float min_rise)
{
	km_stream *s;
	int err = km_stream_create(sc, &s);
	if (err != KM_OK) {
		km_cli_error(CMD, err == KM_ERR_NO_DEVICE ? "plug the mat in, or try --sim" : NULL,
			     "cannot open the mat: %s", km_strerror(err));
		return err == KM_ERR_NO_DEVICE ? KM_EXIT_NO_DEVICE : KM_EXIT_FAILURE;
	}
	struct km_frame *f = NULL;
	uint16_t *raw = NULL;
	struct measure m;
	int rc = KM_EXIT_FAILURE;
	struct km_device_info info;
	km_stream_device_info(s, &info);
	if (measure_init(&m, info.rows, info.cols) != KM_OK ||
	    km_stream_frame_create(s, &f) != KM_OK || !(raw = calloc(m.cells, sizeof *raw)) ||
	    km_stream_start(s) != KM_OK) {
		km_cli_error(CMD, NULL, "cannot start the mat");
		goto out;
	}
	signal(SIGINT, on_sigint);
	char line[128];
	fprintf(stderr, "Calibrating %s (%ux%u cells). Ctrl-C stops without writing.\n",
		info.serial, info.rows, info.cols);
	if (!ask("1. Take everything off the mat and press Enter: ", line, sizeof line))
		goto out;
	uint64_t n = collect(s, &m, f, raw, seconds);
	if (!n)
		goto out;
	measure_commit(&m, -1, n);
	while (!interrupted && m.levels < MAX_LEVELS) {
		char prompt[160];
		snprintf(prompt, sizeof prompt,
			 "%u. Total mass on the plate in kg for level %u (Enter when done): ",
			 m.levels + 2, m.levels + 1);
		if (!ask(prompt, line, sizeof line) || line[0] == '\0')
			break;
		char *end;
		double kg = strtod(line, &end);
		if (*end != '\0' || !isfinite(kg) || kg <= 0.0) {
			fprintf(stderr, "   '%s' is not a mass in kg; try again\n", line);
			continue;
		}
		double kpa = kg * STANDARD_GRAVITY / (plate_cm2 * 1e-4) / 1000.0;
		if (m.levels > 0 && kpa <= m.kpa[m.levels - 1]) {
			fprintf(stderr, "   levels must increase (the last was %.2f kPa)\n",
				(double)m.kpa[m.levels - 1]);
			continue;
		}
		m.kpa[m.levels] = (float)kpa;
		for (unsigned region = 1;; region++) {
			fprintf(stderr, "   %.2f kPa, region %u: settling %.0f s...\n", kpa, region,
				settle);
			wait_seconds(s, f, settle);
			n = collect(s, &m, f, raw, seconds);
			if (!n)
				goto out;
			measure_commit(&m, (int)m.levels, n);
			if (!ask("   Move the plate to the next region and press Enter, or type 'n' "
				 "for the next level: ",
				 line, sizeof line) ||
			    line[0] == 'n')
				break;
		}
		m.levels++;
	}
	if (interrupted) {
		fprintf(stderr, "interrupted: nothing written\n");
		rc = KM_EXIT_INTERRUPTED;
		goto out;
	}
	if (m.levels < 2) {
		km_cli_error(CMD, "measure at least two weights", "only %u level(s) measured",
			     m.levels);
		goto out;
	}
	rc = fit_and_save(&m, out_path, force, min_rise);
out:
	km_stream_destroy(s);
	km_frame_destroy(f);
	free(raw);
	measure_free(&m);
	return rc;
}

static int run_calibrate(int argc, char **argv)
{
	const char *out_path = NULL, *zero_path = NULL, *serial = NULL, *scenario = NULL;
	bool force = false;
	double plate_cm2 = 0, settle = 30, seconds = 10, min_rise = 10;
	/* Levels from recordings: kPa and the argv range of their files. */
	unsigned levels = 0;
	double level_kpa[MAX_LEVELS];
	int level_first[MAX_LEVELS], level_count[MAX_LEVELS];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		}
		if (!v && strcmp(a, "--level") && strcmp(a, "--force") && a[0] == '-') {
			km_cli_error(CMD, "see 'knotmap calibrate --help'", "%s needs a value", a);
			return KM_EXIT_USAGE;
		}
		if (!strcmp(a, "--force")) {
			force = true;
			continue;
		}
		if (!strcmp(a, "-o")) {
			out_path = argv[++i];
		} else if (!strcmp(a, "--zero")) {
			zero_path = argv[++i];
		} else if (!strcmp(a, "--device")) {
			serial = argv[++i];
		} else if (!strcmp(a, "--sim")) {
			scenario = argv[++i];
		} else if (!strcmp(a, "--plate-cm2")) {
			if (km_cli_parse_double(CMD, a, argv[++i], 1, 100000, &plate_cm2))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--settle")) {
			if (km_cli_parse_double(CMD, a, argv[++i], 0, 600, &settle))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--seconds")) {
			if (km_cli_parse_double(CMD, a, argv[++i], 0.05, 600, &seconds))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--min-rise")) {
			if (km_cli_parse_double(CMD, a, argv[++i], 0, 4095, &min_rise))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--level")) {
			if (levels == MAX_LEVELS) {
				km_cli_error(CMD, NULL, "at most %d levels", MAX_LEVELS);
				return KM_EXIT_USAGE;
			}
			if (!v || km_cli_parse_double(CMD, a, v, 0.001, 100000, &level_kpa[levels]))
				return KM_EXIT_USAGE;
			i++;
			level_first[levels] = i + 1;
			while (i + 1 < argc && argv[i + 1][0] != '-')
				i++;
			level_count[levels] = i + 1 - level_first[levels];
			if (level_count[levels] == 0) {
				km_cli_error(CMD, "give the recordings after the pressure",
					     "--level %s has no recordings", v);
				return KM_EXIT_USAGE;
			}
			if (levels > 0 && level_kpa[levels] <= level_kpa[levels - 1]) {
				km_cli_error(CMD, NULL, "levels must be given in increasing kPa");
				return KM_EXIT_USAGE;
			}
			levels++;
		} else {
			km_cli_error(CMD, "see 'knotmap calibrate --help'", "unknown argument '%s'",
				     a);
			return KM_EXIT_USAGE;
		}
	}
	if (!out_path) {
		km_cli_error(CMD, "see 'knotmap calibrate --help'", "-o FILE.kmcal is required");
		return KM_EXIT_USAGE;
	}
	bool from_files = zero_path || levels > 0;
	if (from_files && (serial || scenario || plate_cm2 > 0)) {
		km_cli_error(CMD, NULL, "use either recordings (--zero, --level) or a live mat "
					"(--plate-cm2), not both");
		return KM_EXIT_USAGE;
	}
	if (from_files) {
		if (!zero_path || levels < 2) {
			km_cli_error(CMD, "see 'knotmap calibrate --help'",
				     "needs --zero and at least two --level");
			return KM_EXIT_USAGE;
		}
		km_rec_reader *r;
		if (km_cli_open_recording(CMD, zero_path, false, &r) != KM_OK)
			return KM_EXIT_FAILURE;
		struct measure m;
		const struct km_rec_info *info = km_rec_reader_info(r);
		int err = measure_init(&m, info->device.rows, info->device.cols);
		km_rec_reader_destroy(r);
		int rc = KM_EXIT_FAILURE;
		if (err == KM_OK)
			err = measure_recording(&m, zero_path, -1);
		for (unsigned l = 0; err == KM_OK && l < levels; l++) {
			m.kpa[l] = (float)level_kpa[l];
			for (int k = 0; err == KM_OK && k < level_count[l]; k++)
				err = measure_recording(&m, argv[level_first[l] + k], (int)l);
		}
		m.levels = levels;
		if (err == KM_OK)
			rc = fit_and_save(&m, out_path, force, (float)min_rise);
		measure_free(&m);
		return rc;
	}
	if (plate_cm2 <= 0) {
		km_cli_error(CMD, "see 'knotmap calibrate --help'",
			     "give recordings (--zero, --level) or the plate's area (--plate-cm2)");
		return KM_EXIT_USAGE;
	}
	struct km_stream_config sc = km_stream_config_default();
	sc.log = km_cli_log();
	if (scenario) {
		sc.transport = KM_TRANSPORT_SIM;
		sc.sim_scenario = scenario;
	} else {
		sc.transport = KM_TRANSPORT_LIBUSB;
		sc.serial = serial;
	}
	return run_live(&sc, plate_cm2, settle, seconds, out_path, force, (float)min_rise);
}

const struct km_cli_command km_cli_cmd_calibrate = {
	"calibrate", "build a mat's calibration file from known weights", run_calibrate};
