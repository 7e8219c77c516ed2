/* Imports end to end through the knotmap binary: analyze an exported .npy
 * finds the same knots and holds as the recording; the driver's replay
 * transport (`replay --stream`, the path `view --replay` takes) delivers the
 * same frames for a .kmrec and its imports; damaged imports fail with file
 * and line, or are used up to the damage with --partial; export of an import. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <stdarg.h>

static char *dir;
static char knotmap[4096];

/* A small, short scenario (40 x 40 cells) so the test stays quick: the ball
 * rolls onto the knot and settles; a candidate knot is found within 4 s. */
static const char scenario[] = "[scenario]\n"
                               "name = import-test\n"
                               "description = a ball on a small mat, for the import tests\n"
                               "[mat]\nrows = 40\ncols = 40\npitch_mm = 10\n"
                               "[body]\nmidline_x_mm = 240\nvertex_y_mm = -250\n"
                               "[knot]\nx_mm = 300\ny_mm = 120\nradius_mm = 12\n"
                               "stiffness_pct = 30\ndepth_mm = 8\nrelease_pct = 40\n"
                               "[tool]\ntype = tennis_ball\nlift_mm = 90\n"
                               "[motion]\nstart_x_mm = 300\nstart_y_mm = 330\n"
                               "step = idle 1\nstep = roll 3 300 150 0.15\n"
                               "step = settle 2 300 120 0.20\n";

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
	km_test_knotmap_path(knotmap, sizeof knotmap);
	km_test_home_in(dir);
	setenv("TMPDIR", dir, 1);
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(import_cli, .init = setup, .fini = teardown, .timeout = 110);

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

/* What `replay --stream` printed after its "stream FILE: ..." line (the
 * notes on guessed settings come before it). */
static const char *frames_of(const char *out)
{
	const char *s = strstr(out, "stream ");
	cr_assert_not_null(s, "%s", out);
	return strchr(s, '\n');
}

/* analyze's report without its "values: " line, which says where the units
 * came from (recorded, given, sidecar) and so differs between the .kmrec and
 * its imports while the analysis must not. */
static const char *analysis_of(const char *out, char *buf, size_t cap)
{
	const char *v = strstr(out, "\nvalues: ");
	const char *e = v ? strchr(v + 1, '\n') : NULL;
	if (!e)
		snprintf(buf, cap, "%s", out);
	else
		snprintf(buf, cap, "%.*s%s", (int)(v - out), out, e);
	return buf;
}

static void write_text(const char *name, const char *text)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void record(void)
{
	write_text("ball.ini", scenario);
	struct km_test_run *r = knot("record --sim ./ball.ini --duration 5 --fast --no-history -o s.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
}

Test(import_cli, analyze_npy_finds_what_the_recording_holds)
{
	record();
	struct km_test_run *r = knot("export s.kmrec -o s.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	/* this test is about a .npy that says nothing of itself: drop the
	 * sidecar the export writes (test_analysis.c covers it) */
	char *npy_side = km_test_path(dir, "s.npy.json");
	cr_assert_eq(unlink(npy_side), 0);
	free(npy_side);
	r = knot("analyze s.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	static char want[32768], got[32768];
	cr_assert(strstr(r->out, "\nvalues: kPa (recorded)\nmask: all 1600 cells are on the sensor\n"),
	          "%s", r->out);
	analysis_of(r->out, want, sizeof want);
	cr_assert(strstr(want, "candidate knots: ") && !strstr(want, "candidate knots: 0"),
	          "the scenario should give a knot: %s", want);

	/* with rate, pitch and units (options or sidecar), the analysis is the
	 * recording's; a .npy says none of them */
	r = knot("analyze s.npy --rate 100 --pitch 10 --units kPa");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "\nvalues: kPa (given)\n"), "%s", r->out);
	cr_assert_str_eq(analysis_of(r->out, got, sizeof got), want);
	write_text("s.json", "{\"rate_hz\": 100, \"pitch_mm\": 10, \"units\": \"kPa\"}\n");
	r = knot("analyze s.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "\nvalues: kPa (from sidecar)\n"), "%s", r->out);
	cr_assert_str_eq(analysis_of(r->out, got, sizeof got), want);

	/* raw counts are not pressures, and values nobody labels are counts:
	 * analysed with the relative rules only, and said */
	r = knot("analyze s.npy --units raw");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "values are raw counts: relative rules only"), "%s", r->out);
	char *side = km_test_path(dir, "s.json");
	cr_assert_eq(unlink(side), 0);
	free(side);
	r = knot("analyze s.npy --rate 100 --pitch 10");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "values are raw counts: relative rules only"), "%s", r->out);
	cr_assert(strstr(r->out, "\nvalues: counts (the file gives no units; --units to say), not "
	                         "pressures\n"),
	          "%s", r->out);
	r = knot("replay s.npy --rate 100 --pitch 10");
	cr_assert(strstr(r->out, "values     counts (the file gives no units; --units to say), "
	                         "not pressures"),
	          "%s", r->out);
	/* a unit refused before: kg/cm2, converted and said in one line each */
	write_text("s.json", "{\"rate_hz\": 100, \"pitch_mm\": 10, \"units\": \"kg/cm2\"}\n");
	r = knot("replay s.npy --verify");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "\n  values     kgf/cm2 (from sidecar), x 98.0665 to kPa\n") &&
	              strstr(r->out, "\n  mask       all 1600 cells are on the sensor\n"),
	          "%s", r->out);
	r = knot("analyze s.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "\nvalues: kgf/cm2 (from sidecar), x 98.0665 to kPa\n"), "%s",
	          r->out);
	r = knot("analyze s.npy --json");
	cr_assert(strstr(r->out, "\"file\": \"kgf/cm2\", \"file_to_kpa\": 98.0665}") &&
	              strstr(r->out, "\"cells_on_sensor\": 1600"),
	          "%s", r->out);
	r = knot("analyze s.npy --units furlongs");
	cr_assert_eq(r->status, 2, "%s", r->out);
}

Test(import_cli, replay_transport_reads_imports)
{
	record();
	struct km_test_run *r = knot("export s.kmrec -o s.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export s.kmrec -o s.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export s.kmrec -o s.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);

	r = knot("replay s.kmrec --stream | tail -n 1"); /* the frames overflow out[] */
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "streamed 501 frames"), "%s", r->out);
	static char want[32768];
	r = knot("replay s.kmrec --stream --count 20");
	snprintf(want, sizeof want, "%s", frames_of(r->out));
	/* the driver delivers the same frames from each import */
	const char *files[] = {"s.npy", "s.csv", "s.txt"};
	for (size_t i = 0; i < 3; i++) {
		r = knot("replay %s --stream | tail -n 1", files[i]);
		cr_assert_eq(r->status, 0, "%s: %s", files[i], r->out);
		cr_assert(strstr(r->out, "streamed 501 frames"), "%s: %s", files[i], r->out);
		/* a .npy does not say kPa; knotmap's CSV names it (r0c0_kpa) */
		r = knot("replay %s --stream --count 20%s", files[i], i == 0 ? " --units kPa" : "");
		cr_assert_eq(r->status, 0, "%s", r->out);
		if (i < 2) /* exact values; the Tekscan text has 3 decimals */
			cr_assert_str_eq(frames_of(r->out), want, "%s", files[i]);
	}
	r = knot("replay s.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "format     tekscan"), "%s", r->out);
	cr_assert(strstr(r->out, "10.00 mm pitch (from the file)"), "%s", r->out);
	cr_assert(strstr(r->out, "frames     501"), "%s", r->out);
	/* the stream takes the import options too (the path view --replay takes) */
	r = knot("replay s.npy --stream --rate 5 --count 2");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, ", 5 Hz"), "%s", r->out);
	cr_assert(strstr(r->out, "t     0.200 s"), "%s", r->out);
	/* a headerless one-frame-per-line CSV: its grid from --rows / --cols */
	write_text("flat.csv", "1,2,3,4,5,6\n7,8,9,10,11,12\n");
	r = knot("replay flat.csv --stream --rows 2 --cols 3 --pitch 8");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "stream flat.csv: 2 x 3 cells, 8.00 mm pitch"), "%s", r->out);
	cr_assert(strstr(r->out, "streamed 2 frames"), "%s", r->out);
	r = knot("replay flat.csv --stream --rows 2 --cols 4");
	cr_assert_eq(r->status, 1, "6 values are not 2 x 4: %s", r->out);
}

/* An 8 x 8 frame per block; frame `bad` has a short row. */
static void write_blocks(const char *name, int frames, int bad)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < frames; i++) {
		for (int y = 0; y < 8; y++) {
			int cols = (i == bad && y == 5) ? 7 : 8;
			for (int x = 0; x < cols; x++)
				fprintf(f, "%s%.2f", x ? "," : "",
				        (x == 3 && y == 4) ? 40.0 + i : 0.5);
			fputc('\n', f);
		}
		fputc('\n', f);
	}
	fclose(f);
	free(p);
}

/* `frames` blocks of a person lying on a bed sheet of 64 x 27 cells (head
 * rows 2-8, trunk 9-35, legs 36-61) in counts. */
static void write_bed(const char *name, int frames)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < frames; i++) {
		for (int y = 0; y < 64; y++) {
			for (int x = 0; x < 27; x++) {
				bool head = y >= 2 && y <= 8 && x >= 11 && x <= 15;
				bool trunk = y >= 9 && y <= 35 && x >= 6 && x <= 20;
				bool legs = y >= 36 && y <= 61 && ((x >= 8 && x <= 11) || (x >= 15 && x <= 18));
				fprintf(f, "%s%d", x ? "," : "", head || trunk || legs ? 30 + (x + y + i) % 7 : 0);
			}
			fputc('\n', f);
		}
		fputc('\n', f);
	}
	fclose(f);
	free(p);
}

/* A bed sheet's export without a cell spacing: the first seconds hold a whole
 * body lying, so the pitch is taken from its length (1.6 m over 60 rows), not
 * the 10 mm default that would search its coarse cells for knots; said on
 * stderr and by replay; a given pitch wins; a small map keeps the default. */
Test(import_cli, a_whole_body_gives_the_pitch_a_file_does_not)
{
	write_bed("bed.csv", 20);
	struct km_test_run *r = knot("analyze bed.csv --rate 10");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "whole body lying along the mat: assuming 26.7 mm"), "%s", r->out);
	cr_assert(strstr(r->out, "coarser than a knot"), "%s", r->out);
	cr_assert_null(strstr(r->out, "assuming 10.0 mm"), "%s", r->out);
	r = knot("replay bed.csv --rate 10");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "26.67 mm pitch (guessed from the body on it)"), "%s", r->out);
	r = knot("analyze bed.csv --rate 10 --pitch 8");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert_null(strstr(r->out, "assuming"), "%s", r->out);
	cr_assert_null(strstr(r->out, "coarser than a knot"), "%s", r->out);
	write_blocks("small.csv", 4, -1);
	r = knot("analyze small.csv --units kPa --rate 10");
	cr_assert(strstr(r->out, "assuming 10.0 mm"), "%s", r->out);
}

Test(import_cli, damaged_import_fails_or_is_partial)
{
	write_blocks("bad.csv", 5, 3);
	/* frame 3 starts on line 3 * 9 + 1; its row 5 is 5 lines later */
	struct km_test_run *r = knot("analyze bad.csv --units kPa");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "bad.csv:33:31: 7 values; expected 8"), "file, line, column: %s",
	          r->out);
	cr_assert(strstr(r->out, "--partial"), "%s", r->out);
	/* --partial skips the bad frame (reported with its place) and reads on */
	r = knot("analyze bad.csv --partial --rate 50 --units kPa");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "bad.csv:33:") && strstr(r->out, "frame skipped") &&
	              strstr(r->out, "analysed 4 frames"),
	          "%s", r->out);
	r = knot("replay bad.csv --verify");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "bad.csv:33:"), "%s", r->out);

	r = knot("export bad.csv -o out.npy");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(access("out.npy", F_OK) != 0);
	r = knot("export bad.csv -o out.npy --partial");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "wrote out.npy (npy, 4 frames)"), "%s", r->out);
	r = knot("replay bad.csv --partial");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "frames     4") && strstr(r->out, "skipped    1 frames"), "%s",
	          r->out);
	r = knot("replay bad.csv --partial --verify");
	cr_assert_eq(r->status, 1, "a file with a skipped frame is not verified: %s", r->out);
	/* the replay transport (view --replay's path) stops at the damage and
	 * says where, or with --partial skips the frame and shows the gap */
	r = knot("replay bad.csv --stream --units kPa");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "bad.csv:33:31: 7 values; expected 8") &&
	              strstr(r->out, "streamed 3 frames") &&
	              strstr(r->out, "'bad.csv' is damaged") && strstr(r->out, "--partial"),
	          "%s", r->out);
	r = knot("replay bad.csv --stream --units kPa --partial");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "streamed 4 frames") && strstr(r->out, "bad.csv:33:") &&
	              strstr(r->out, "frame       3  seq          4  t     0.040 s  flags 0x01  "
	                             "dropped   1"),
	          "%s", r->out);

	write_blocks("good.csv", 4, -1);
	/* without rate and pitch the defaults are announced */
	r = knot("analyze good.csv --units kPa");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "assuming 100 Hz") && strstr(r->out, "assuming 10.0 mm"), "%s",
	          r->out);
	cr_assert(strstr(r->out, "analysed 4 frames"), "%s", r->out);
	r = knot("export good.csv --format csv -o good-out.csv --units mmHg");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "(csv, 4 frames)"), "%s", r->out);
	r = knot("replay good-out.csv --frames --count 1");
	cr_assert_eq(r->status, 0, "%s", r->out);
	/* 40 mmHg = 5.33 kPa */
	cr_assert(strstr(r->out, "peak    5.33"), "%s", r->out);
	/* raw counts through the replay transport: 1 count each, no kPa scaling */
	write_blocks("raw.csv", 2, -1);
	write_text("raw.json", "{\"units\": \"raw\", \"rate_hz\": 50}");
	r = knot("replay raw.csv --stream");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "peak   40.00") && strstr(r->out, "peak   41.00") &&
	              strstr(r->out, "t     0.020 s"),
	          "%s", r->out);
	r = knot("analyze good.csv --rows 3");
	cr_assert_neq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "--cols"), "%s", r->out);
	r = knot("analyze good.csv --format npy");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "not npy"), "%s", r->out);
}

/* replay --verify never calls a file without frames good; the real vendor
 * files (../shared/data/vendor, when present) read with no options. */
Test(import_cli, verify_needs_frames_and_vendor_files_read_plainly)
{
	write_text("hdr.csv", "Rows,2\nColumns,2\n");
	struct km_test_run *r = knot("replay hdr.csv --verify");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "no frames"), "%s", r->out);
	write_text("stray.csv", "1,2\n3,4\n\n# a comment is fine\nn/a\n");
	r = knot("replay stray.csv --verify");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "stray.csv:5:1: expected a row of numbers"), "%s", r->out);

	const char *src = getenv("KM_SOURCE_DIR");
	char vendor[4096];
	snprintf(vendor, sizeof vendor, "%s/../shared/data/vendor", src ? src : ".");
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/LICENSE.md", vendor);
	if (access(probe, R_OK) != 0) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing: CI must run the real-file tests", vendor);
		cr_skip_test("real vendor files not found at %s; skipped", vendor);
	}
	r = knot("replay '%s/fscan_testL.asf' --verify", vendor);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "60 x 21 cells, 5.08 mm pitch (from the file)") &&
	              strstr(r->out, "31.25 Hz (from the file)") &&
	              strstr(r->out, "955 of 1260 cells") && strstr(r->out, "frames     205") &&
	              strstr(r->out, "every line reads"),
	          "%s", r->out);
	r = knot("replay '%s/xsensor_data.csv' --verify", vendor);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "31 x 11 cells, 8.60 mm pitch") && strstr(r->out, "mmHg") &&
	              strstr(r->out, "frames     101") && strstr(r->out, "sensor     LF, 1 of 2") &&
	              strstr(r->out, "xsensor_data.csv holds 2 sensors (LF, RF); using LF; "
	                             "--sensor RF for the other"),
	          "%s", r->out);
	r = knot("replay '%s/xsensor_data.csv' --sensor RF", vendor);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "sensor     RF, 2 of 2: HX210.11.31.M11-DFM-RF S0073"), "%s",
	          r->out);
	/* the replay transport (view --replay's path) plays the insole chosen:
	 * 101 frames each, and the two differ (the right one is lighter here) */
	char lf[256] = "", rf[256] = "";
	r = knot("replay '%s/xsensor_data.csv' --stream | grep -c '^frame'", vendor);
	cr_assert(strstr(r->out, "101\n"), "%s", r->out);
	r = knot("replay '%s/xsensor_data.csv' --stream --count 1 | grep '^frame'", vendor);
	snprintf(lf, sizeof lf, "%.250s", r->out);
	r = knot("replay '%s/xsensor_data.csv' --stream --sensor rf", vendor);
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "stream xsensor_data.csv, sensor RF (2 of 2): 31 x 11 cells") &&
	              strstr(r->out, "streamed 101 frames"),
	          "%s", r->out);
	r = knot("replay '%s/xsensor_data.csv' --stream --sensor 2 --count 1 | grep '^frame'",
	         vendor);
	snprintf(rf, sizeof rf, "%.250s", r->out);
	cr_assert(strstr(lf, "peak") && strstr(rf, "peak") && strcmp(lf, rf) != 0,
	          "LF: %s RF: %s", lf, rf);
}

/* A file with two sensors: replay --stream plays the one --sensor names (by
 * a part of its name or its number) and says which; without --sensor a note
 * lists them and how to choose. */
Test(import_cli, stream_plays_the_sensor_chosen)
{
	FILE *f;
	char *p = km_test_path(dir, "two.csv");
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("Units:,kPa,,\n", f);
	for (int i = 0; i < 4; i++)
		fprintf(f,
		        "FRAME,%d,,\nTime, 10:00:00.%03d,,\nSENSOR,Mat-LF S9,,\nRows,2,,\n"
		        "Columns,2,,\nSENSELS,,,\n%d,1,,\n1,1,,\nSENSOR,Mat-RF S9,,\nRows,1,,\n"
		        "Columns,3,,\nSENSELS,,,\n%d,2,2,\n",
		        i, 20 * i, 10 + i, 50 + i);
	fclose(f);
	free(p);
	struct km_test_run *r = knot("replay two.csv --stream");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "two.csv holds 2 sensors (LF, RF); using LF; --sensor RF for the "
	                         "other") &&
	              strstr(r->out, "stream two.csv, sensor LF (1 of 2): 2 x 2 cells") &&
	              strstr(r->out, "peak   13.00") && strstr(r->out, "streamed 4 frames"),
	          "%s", r->out);
	const char *const pick[] = {"RF", "rf", "2", "Mat-RF S9"};
	for (int k = 0; k < 4; k++) {
		r = knot("replay two.csv --stream --sensor '%s'", pick[k]);
		cr_assert_eq(r->status, 0, "%s", r->out);
		cr_assert(strstr(r->out, "reading RF (2 of 2, 'Mat-RF S9')") &&
		              strstr(r->out, "stream two.csv, sensor RF (2 of 2): 1 x 3 cells") &&
		              strstr(r->out, "peak   53.00") && !strstr(r->out, "peak   13.00") &&
		              strstr(r->out, "streamed 4 frames"),
		          "--sensor %s: %s", pick[k], r->out);
	}
	r = knot("replay two.csv --stream --sensor heel");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "sensor 'heel' is not in the file"), "%s", r->out);
	/* view --replay takes --sensor too (tests/viewer/test_view_import_cli.c
	 * plays it); an unknown one fails before any window opens, so no
	 * display is needed */
	r = knot("view --replay two.csv --sensor heel");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "sensor 'heel' is not in the file"), "%s", r->out);
}

/* --pitch overrides a sidecar (even one it could not read), takes ROW,COL,
 * and knotmap's own JSON export next to a CSV is not that CSV's sidecar. */
Test(import_cli, pitch_overrides_sidecar_and_exports_are_not_sidecars)
{
	write_text("m.csv", "1,2\n3,4\n");
	write_text("m.json", "{\"pitch_mm\": [10.28, 5.28], \"units\": \"kPa\"}\n");
	struct km_test_run *r = knot("replay m.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "10.28 mm between rows x 5.28 mm between columns") &&
	              strstr(r->out, "(from sidecar)"),
	          "%s", r->out);
	write_text("m.json", "{\"pitch_mm\": \"wide\"}\n");
	r = knot("replay m.csv");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "--pitch"), "%s", r->out);
	r = knot("replay m.csv --pitch 4,9 --units kPa");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "6.00 mm pitch (given)") &&
	              strstr(r->out, "4.00 mm between rows x 9.00 mm between columns"),
	          "%s", r->out);

	/* the export round trip: s.csv and s.json both exported from s.kmrec */
	record();
	r = knot("export s.kmrec -o s.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export s.kmrec -o s.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("-v replay s.csv --verify");
	cr_assert_eq(r->status, 0, "s.json must not break s.csv: %s", r->out);
	cr_assert(strstr(r->out, "is not a sidecar") && strstr(r->out, "frames     501"), "%s",
	          r->out);
}
