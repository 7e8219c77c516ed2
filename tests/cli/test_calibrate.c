/*
 * knotmap calibrate from recordings: plate recordings made from the virtual
 * mat's own per-cell sensor curves (counts = zero + scale * kPa^exponent, plus
 * noise), the plate moved over two halves of the mat at each level; the
 * command must recover a calibration that reads a pressure it never saw.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "knotmap/calibration.h"
#include "knotmap/recording.h"
#include "knotmap/sim.h"

#define ROWS 16
#define COLS 12
#define CELLS (ROWS * COLS)
#define STUCK_CELL 37

static float off[CELLS], scl[CELLS], ex[CELLS];
static char dir[256];

static void load_curves(void)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = ROWS;
	c.cols = COLS;
	km_sim *sim;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	cr_assert_eq(km_sim_sensor_curve(sim, off, scl, ex, CELLS), KM_OK);
	km_sim_destroy(sim);
}

static uint16_t counts_for(size_t i, double kpa, unsigned *rng)
{
	if (i == STUCK_CELL)
		return 1234; /* a stuck cell: the fit must not trust it */
	double c = off[i] + (kpa > 0 ? scl[i] * pow(kpa, ex[i]) : 0.0);
	*rng = *rng * 1103515245u + 12345u;
	c += ((double)((*rng >> 16) & 0xFF) / 255.0 - 0.5) * 2.0; /* +-1 count noise */
	return (uint16_t)lrint(c < 0 ? 0 : c > 4095 ? 4095 : c);
}

/* A recording of `frames` frames with the plate at kPa over rows [r0, r1). */
static void write_recording(const char *name, double kpa, int r0, int r1)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = path;
	wc.content = KM_REC_RAW;
	wc.sync = false;
	wc.device.rows = ROWS;
	wc.device.cols = COLS;
	wc.device.pitch_mm = 10.0f;
	wc.device.rate_hz = 100.0f;
	snprintf(wc.device.serial, sizeof wc.device.serial, "TEST");
	km_rec_writer *w;
	cr_assert_eq(km_rec_writer_create(&wc, &w), KM_OK, "%s", path);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(ROWS, COLS, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint16_t raw[CELLS];
	unsigned rng = 7;
	for (int n = 0; n < 50; n++) {
		for (size_t i = 0; i < CELLS; i++) {
			int r = (int)(i / COLS);
			raw[i] = counts_for(i, r >= r0 && r < r1 ? kpa : 0.0, &rng);
		}
		f->sequence = (uint32_t)n;
		f->device_time_us = (uint64_t)n * 10000u;
		cr_assert_eq(km_rec_writer_write_frame(w, f, raw, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
}

static int run(const char *args, char *out, size_t cap)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cd '%s' && '%s' calibrate %s 2>&1", dir, getenv("KM_KNOTMAP"),
		 args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void)
{
	cr_assert_not_null(getenv("KM_KNOTMAP"), "KM_KNOTMAP must name the knotmap binary");
	snprintf(dir, sizeof dir, "%s/km-cal-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	load_curves();
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(calibrate, .init = setup, .fini = teardown);

Test(calibrate, recovers_the_sensor_curves_from_plate_recordings)
{
	static const double levels[] = {5, 20, 60, 150};
	char args[2048] = "-o mat.kmcal --zero zero.kmrec";
	write_recording("zero.kmrec", 0, 0, 0);
	for (size_t l = 0; l < 4; l++) {
		char a[64], b[64];
		snprintf(a, sizeof a, "l%zu-top.kmrec", l);
		snprintf(b, sizeof b, "l%zu-bottom.kmrec", l);
		write_recording(a, levels[l], 0, ROWS / 2);
		write_recording(b, levels[l], ROWS / 2, ROWS);
		size_t len = strlen(args);
		snprintf(args + len, sizeof args - len, " --level %g %s %s", levels[l], a, b);
	}
	char out[8192];
	cr_assert_eq(run(args, out, sizeof out), 0, "%s", out);
	cr_expect(strstr(out, "1 use the typical response") != NULL,
		  "the stuck cell must fall back: %s", out);

	/* Load it and read a pressure between the levels. */
	char path[400];
	snprintf(path, sizeof path, "%s/mat.kmcal", dir);
	struct km_calibration_config cc = km_calibration_config_default(ROWS, COLS);
	km_calibration *cal;
	cr_assert_eq(km_calibration_load(&cc, path, &cal), KM_OK);
	uint16_t raw[CELLS];
	float kpa[CELLS];
	unsigned rng = 99;
	for (size_t i = 0; i < CELLS; i++)
		raw[i] = counts_for(i, 35.0, &rng);
	cr_assert_eq(km_calibration_apply(cal, raw, 0, false, kpa, NULL), KM_OK);
	for (size_t i = 0; i < CELLS; i++) {
		if (i == STUCK_CELL)
			continue;
		cr_assert(fabsf(kpa[i] - 35.0f) < 35.0f * 0.03f, "cell %zu reads %.2f kPa at 35",
			  i, (double)kpa[i]);
	}
	km_calibration_destroy(cal);
}

Test(calibrate, refuses_bad_arguments_and_unusable_data)
{
	char out[4096];
	cr_expect_eq(run("--zero z.kmrec --level 5 a.kmrec --level 10 b.kmrec", out, sizeof out), 2,
		     "missing -o: %s", out);
	cr_expect_eq(run("-o x.kmcal --zero z.kmrec --level 10 a.kmrec --level 5 b.kmrec", out,
			 sizeof out),
		     2, "decreasing levels: %s", out);
	cr_expect_eq(run("-o x.kmcal --zero z.kmrec --level 5", out, sizeof out), 2, "%s", out);
	cr_expect_eq(run("-o x.kmcal --plate-cm2 nope", out, sizeof out), 2, "%s", out);
	cr_expect_eq(run("-o x.kmcal --bogus", out, sizeof out), 2, "%s", out);
	cr_expect_eq(run("-o x.kmcal --zero missing.kmrec --level 5 a --level 9 b", out, sizeof out),
		     1, "%s", out);
	cr_expect(strstr(out, "missing.kmrec") != NULL, "the error names the file: %s", out);

	/* Levels where the plate never moved off one half: half the cells have no
	 * readings, which is not enough to fit. */
	write_recording("zero.kmrec", 0, 0, 0);
	write_recording("a.kmrec", 10, 0, 3);
	write_recording("b.kmrec", 40, 0, 3);
	cr_expect_eq(run("-o x.kmcal --zero zero.kmrec --level 10 a.kmrec --level 40 b.kmrec", out,
			 sizeof out),
		     1, "%s", out);
	cr_expect(strstr(out, "every cell") != NULL, "the hint says what to do: %s", out);
	cr_expect_eq(access("x.kmcal", F_OK), -1, "nothing written on failure");
}

/* calibrate -o, as every other output (tests/reliability/cli_outputs.sh): a
 * planted link is refused with and without --force, an older file is kept
 * without --force, and a disk that fills keeps the older file and leaves
 * nothing beside it. */
Test(calibrate, output_is_never_clobbered_or_written_through_a_link)
{
	static const char levels[] = "--zero zero.kmrec --level 20 t1.kmrec b1.kmrec"
	                             " --level 60 t2.kmrec b2.kmrec";
	write_recording("zero.kmrec", 0, 0, 0);
	write_recording("t1.kmrec", 20, 0, ROWS / 2);
	write_recording("b1.kmrec", 20, ROWS / 2, ROWS);
	write_recording("t2.kmrec", 60, 0, ROWS / 2);
	write_recording("b2.kmrec", 60, ROWS / 2, ROWS);
	char out[8192], args[512], cmd[2400];
	snprintf(cmd, sizeof cmd, "cd '%s' && echo precious > victim && chmod 644 victim &&"
	                          " ln -s victim link.kmcal && echo older > old.kmcal", dir);
	cr_assert_eq(system(cmd), 0);

	snprintf(args, sizeof args, "-o link.kmcal %s", levels);
	cr_expect_eq(run(args, out, sizeof out), 1, "%s", out);
	snprintf(args, sizeof args, "-o link.kmcal --force %s", levels);
	cr_expect_eq(run(args, out, sizeof out), 1, "%s", out);
	cr_expect(strstr(out, "symbolic link") != NULL, "%s", out);
	snprintf(args, sizeof args, "-o old.kmcal %s", levels);
	cr_expect_eq(run(args, out, sizeof out), 1, "%s", out);
	cr_expect(strstr(out, "--force") != NULL, "%s", out);
	/* 512 bytes of file at most; SIGXFSZ ignored so write() fails with EFBIG */
	snprintf(args, sizeof args, "-o old.kmcal --force %s", levels);
	char full[1100];
	snprintf(full, sizeof full, "%s; trap '' XFSZ; ulimit -f 1; exec '%s' calibrate %s",
	         "true", getenv("KM_KNOTMAP"), args);
	snprintf(cmd, sizeof cmd, "cd '%s' && sh -c \"%s\" > full.txt 2>&1", dir, full);
	int st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "a full disk must fail");
	snprintf(cmd, sizeof cmd, "grep -qi 'no space left' '%s/full.txt'", dir);
	cr_expect_eq(system(cmd), 0, "a full disk is said as such");

	snprintf(cmd, sizeof cmd,
	         "cd '%s' && test \"$(cat victim)\" = precious && test \"$(stat -c %%a victim)\" = 644"
	         " && test -L link.kmcal && test \"$(cat old.kmcal)\" = older"
	         " && test -z \"$(ls -A | grep '\\.tmp$')\"",
	         dir);
	cr_expect_eq(system(cmd), 0, "the link's target, the older file or a temporary file");
	snprintf(args, sizeof args, "-o new.kmcal %s", levels);
	cr_expect_eq(run(args, out, sizeof out), 0, "the same recordings do calibrate: %s", out);
}
