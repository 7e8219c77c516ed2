/*
 * `knotmap view --replay FILE` with the import options analyze, export and
 * replay take (--format, --rate, --pitch, --units, --rows/--cols), end to end through the
 * knotmap binary: headless (SDL's dummy video driver, --screenshot), on a
 * small plain CSV written here. The driver's replay transport logs what it
 * opened at -v ("csv import, 8x8 at 7.5 mm, 40 Hz, mmHg"): that is how the
 * tests see the options reach the stream.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "km_test_run.h"

static char dir[4096];
static char knotmap[4096];

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/km-view-import-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	km_test_knotmap_path(knotmap, sizeof knotmap);
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	setenv("SDL_AUDIODRIVER", "dummy", 1);
	setenv("XDG_DATA_HOME", dir, 1);
	setenv("XDG_STATE_HOME", dir, 1);
	setenv("HOME", dir, 1);
}

static void teardown(void)
{
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(view_import_cli, .init = setup, .fini = teardown, .timeout = 120);

/* Runs `knotmap ARGS` (a shell fragment) in the test's directory. */
static struct km_test_run *knot(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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

static void write_text(const char *name, const char *text)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* A plain CSV of 8 x 8 frames, one block of rows per frame (blank line
 * between): a spot under the middle that grows. The file gives no rate,
 * pitch or units. */
static void write_csv(const char *name)
{
	static char text[65536];
	size_t len = 0;
	for (int t = 0; t < 30; t++) {
		for (int r = 0; r < 8; r++)
			for (int c = 0; c < 8; c++) {
				int d2 = (r - 4) * (r - 4) + (c - 4) * (c - 4);
				double v = 4.0 + (d2 <= 2 ? 10.0 * t : 0.0);
				len += (size_t)snprintf(text + len, sizeof text - len, "%.1f%s", v,
				                        c < 7 ? "," : "\n");
			}
		len += (size_t)snprintf(text + len, sizeof text - len, "\n");
	}
	cr_assert_lt(len, sizeof text - 1);
	write_text(name, text);
}

/* A PNG was written (signature and a non-trivial size). */
static void expect_png(const char *name)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s was not written", name);
	unsigned char sig[8] = {0};
	size_t n = fread(sig, 1, sizeof sig, f);
	fclose(f);
	cr_expect_eq(n, 8u);
	cr_expect_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0, "%s is not a PNG", name);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_gt(st.st_size, 1000, "%s: %lld bytes", name, (long long)st.st_size);
}

static bool exists(const char *name)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* --force: several tests write shot.png twice */
#define VIEW "view --no-sound --screenshot shot.png --force --after 0.1"

Test(view_import_cli, options_reach_the_stream)
{
	write_csv("mat.csv");
	struct km_test_run *r =
	    knot("-v " VIEW " --replay mat.csv --rate 40 --pitch 7.5 --units mmHg");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "mat.csv: csv import, 8x8 at 7.5 mm, 40 Hz, mmHg"), "%s", r->out);
	cr_expect(strstr(r->out, "saved shot.png"), "%s", r->out);
	/* Given, so not guessed: no notes. */
	cr_expect_null(strstr(r->out, "note:"), "%s", r->out);
	expect_png("shot.png");
}

Test(view_import_cli, without_options_the_guesses_are_named)
{
	write_csv("mat.csv");
	struct km_test_run *r = knot("-v " VIEW " --replay mat.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	/* units nobody gives are counts, never a guessed kPa */
	cr_expect(strstr(r->out, "mat.csv: csv import, 8x8 at 10 mm, 100 Hz, counts"), "%s",
	          r->out);
	cr_expect(strstr(r->out, "knotmap view: note: the file gives no units"), "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: note: the file gives no frame rate; assuming "
	                         "100 Hz (give --rate)"),
	          "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: note: the file gives no cell spacing; assuming "
	                         "10.0 mm (give --pitch)"),
	          "%s", r->out);
	expect_png("shot.png");
}

Test(view_import_cli, options_override_the_sidecar)
{
	write_csv("mat.csv");
	write_text("mat.json", "{\"rate_hz\": 20, \"pitch_mm\": 5, \"units\": \"psi\"}\n");
	struct km_test_run *r = knot("-v " VIEW " --replay mat.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "csv import, 8x8 at 5 mm, 20 Hz, psi"), "%s", r->out);
	r = knot("-v " VIEW " --replay mat.csv --rate 50 --units kPa");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "csv import, 8x8 at 5 mm, 50 Hz, kPa"), "%s", r->out);
}

/* A CSV named .kmrec is taken for a damaged recording unless --format says
 * what it is: a clear error and exit 1 without it, and no window. */
Test(view_import_cli, format_needed_for_a_misnamed_file)
{
	write_csv("mat.kmrec");
	struct km_test_run *r = knot(VIEW " --replay mat.kmrec --rate 40");
	cr_expect_eq(r->status, 1, "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: cannot open 'mat.kmrec': "), "%s", r->out);
	cr_expect(strstr(r->out, "(see --format)"), "%s", r->out);
	cr_expect_not(exists("shot.png"));
	r = knot("-v " VIEW " --replay mat.kmrec --format csv --rate 40");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "mat.kmrec: csv import, 8x8 at 10 mm, 40 Hz, counts"), "%s",
	          r->out);
	expect_png("shot.png");
}

Test(view_import_cli, import_options_need_replay)
{
	struct km_test_run *r = knot("view --rate 40 --screenshot shot.png");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: --rate describes a file to replay: it goes with "
	                         "--replay FILE"),
	          "%s", r->out);
	r = knot("view --sim back-lying --pitch 8 --units psi --screenshot shot.png");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: --pitch describes a file to replay"), "%s", r->out);
	r = knot("view --format npy --screenshot shot.png");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "knotmap view: --format describes a file to replay"), "%s",
	          r->out);
	cr_expect_not(exists("shot.png"));
}

/* A plain CSV with one frame per line and no header: without --rows / --cols
 * the block rule makes the whole file one 30 x 48 frame; with them each line
 * is a 6 x 8 frame: the options reach the stream. */
Test(view_import_cli, grid_options_reach_the_stream)
{
	static char text[65536];
	size_t len = 0;
	for (int t = 0; t < 30; t++)
		for (int i = 0; i < 48; i++)
			len += (size_t)snprintf(text + len, sizeof text - len, "%d%s",
			                        4 + (i == 20) * t, i < 47 ? "," : "\n");
	write_text("lines.csv", text);
	struct km_test_run *r = knot("-v " VIEW " --replay lines.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "lines.csv: csv import, 30x48 at 10 mm"), "%s", r->out);
	r = knot("-v " VIEW " --replay lines.csv --rows 6 --cols 8 --pitch 9");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "lines.csv: csv import, 6x8 at 9 mm"), "%s", r->out);
	expect_png("shot.png");
}

/* Bad values: the very messages analyze gives, with view's name. */
Test(view_import_cli, bad_values_as_analyze)
{
	write_csv("mat.csv");
	static const char *const bad[] = {
	    "--rate 0",     "--rate fast", "--pitch 2000", "--units furlongs",
	    "--format xls", "--pitch",     "--units",
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		struct km_test_run *r = knot("analyze mat.csv %s", bad[k]);
		cr_assert_eq(r->status, 2, "analyze %s: %s", bad[k], r->out);
		char want[sizeof r->out];
		const char *p = strstr(r->out, "knotmap analyze: ");
		cr_assert_not_null(p, "%s", r->out);
		snprintf(want, sizeof want, "knotmap view: %s", p + strlen("knotmap analyze: "));
		r = knot("view --replay mat.csv --no-sound --screenshot shot.png %s", bad[k]);
		cr_expect_eq(r->status, 2, "view %s: %s", bad[k], r->out);
		cr_expect_str_eq(r->out, want, "view %s", bad[k]);
	}
	cr_expect_not(exists("shot.png"));
}

Test(view_import_cli, help_lists_the_options)
{
	struct km_test_run *r = knot("view --help");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "[--format F] [--rate HZ] [--pitch MM] [--units U]"), "%s",
	          r->out);
	cr_expect(strstr(r->out, "  --rate HZ "), "%s", r->out);
}

/* `view --replay s.kmrec --screenshot s.kmrec` once replaced the recording
 * with a PNG and exited 0 (issue 19); an existing PNG was overwritten without
 * --force. Both are refused before a window opens, and nothing changes. */
Test(view_import_cli, screenshot_never_replaces_the_input_or_an_old_file)
{
	write_csv("mat.csv");
	char before[65536];
	{
		char p[8192];
		snprintf(p, sizeof p, "%s/mat.csv", dir);
		FILE *fp = fopen(p, "rb");
		cr_assert_not_null(fp);
		size_t n = fread(before, 1, sizeof before - 1, fp);
		before[n] = '\0';
		fclose(fp);
	}
	struct km_test_run *r =
	    knot("view --no-sound --replay mat.csv --rate 40 --screenshot mat.csv --force");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "not writing the screenshot mat.csv"), "%s", r->out);
	{
		char p[8192], now[65536];
		snprintf(p, sizeof p, "%s/mat.csv", dir);
		FILE *fp = fopen(p, "rb");
		cr_assert_not_null(fp);
		size_t n = fread(now, 1, sizeof now - 1, fp);
		now[n] = '\0';
		fclose(fp);
		cr_expect_str_eq(now, before, "the replayed file changed");
	}
	write_text("old.png", "old");
	r = knot("view --no-sound --replay mat.csv --rate 40 --screenshot old.png --after 0.1");
	cr_expect_eq(r->status, 1, "%s", r->out);
	cr_expect(strstr(r->out, "old.png already exists"), "%s", r->out);
	cr_expect(strstr(r->out, "--force"), "%s", r->out);
	r = knot("view --no-sound --sim back-lying --force");
	cr_expect_eq(r->status, 2, "%s", r->out);
	cr_expect(strstr(r->out, "--force goes with --screenshot FILE"), "%s", r->out);
}

/* Issue 20 item 6: knotmap's own message comes first. Without a display,
 * SDL is not left to probe Wayland (libwayland's "XDG_RUNTIME_DIR is invalid"
 * on stderr); with no sound card, ALSA's own "ALSA lib ..." lines go to the
 * debug log instead of the terminal. */
Test(view_import_cli, no_library_noise_before_the_message)
{
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("SDL_VIDEODRIVER");
	struct km_test_run *r = knot("view --no-sound");
	cr_expect_eq(r->status, 1, "%s", r->out);
	cr_expect_eq(strncmp(r->out, "knotmap", 7), 0, "first line is not knotmap's: %s", r->out);
	cr_expect(strstr(r->out, "no display"), "%s", r->out);
	cr_expect_null(strstr(r->out, "XDG_RUNTIME_DIR is invalid"), "%s", r->out);
	/* sound on, SDL's real audio drivers (ALSA where nothing else runs) */
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	unsetenv("SDL_AUDIODRIVER");
	r = knot("view --sim back-lying --screenshot s.png --after 0.2");
	cr_expect_eq(r->status, 0, "%s", r->out);
	cr_expect_null(strstr(r->out, "ALSA lib"), "%s", r->out);
	cr_expect_eq(strncmp(r->out, "knotmap", 7), 0, "first line is not knotmap's: %s", r->out);
}

/* An XSENSOR file with two insoles (2 x 2 and 1 x 3 cells here): --sensor
 * reaches the stream (the grid it opened says which insole plays), by name
 * or number; an unknown one fails before a window opens. */
Test(view_import_cli, sensor_chooses_the_insole)
{
	static char text[8192];
	size_t len = 0;
	len += (size_t)snprintf(text, sizeof text, "Units:,kPa,,\n");
	for (int i = 0; i < 30; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
		                        "FRAME,%d,,\nTime, 10:00:%02d.%03d,,\nSENSOR,Mat-LF S9,,\n"
		                        "Rows,2,,\nColumns,2,,\nSENSELS,,,\n%d,1,,\n1,1,,\n"
		                        "SENSOR,Mat-RF S9,,\nRows,1,,\nColumns,3,,\nSENSELS,,,\n"
		                        "%d,2,2,\n",
		                        i, i / 50, 20 * (i % 50), 10 + i, 50 + i);
	cr_assert_lt(len, sizeof text - 1);
	write_text("two.csv", text);
	struct km_test_run *r = knot("-v " VIEW " --replay two.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "two.csv: xsensor import, 2x2 at"), "%s", r->out);
	cr_expect(strstr(r->out, "--sensor RF for the other"), "%s", r->out);
	static const char *const rf[] = {"RF", "2", "rf"};
	for (size_t k = 0; k < sizeof rf / sizeof rf[0]; k++) {
		r = knot("-v " VIEW " --replay two.csv --sensor %s", rf[k]);
		cr_assert_eq(r->status, 0, "--sensor %s: %s", rf[k], r->out);
		cr_expect(strstr(r->out, "two.csv: xsensor import, 1x3 at"), "--sensor %s: %s",
		          rf[k], r->out);
		cr_expect_null(strstr(r->out, "2x2"), "--sensor %s: %s", rf[k], r->out);
		cr_expect_null(strstr(r->out, "first sensor"), "%s", r->out);
		expect_png("shot.png");
	}
	r = knot(VIEW " --replay two.csv --sensor heel");
	cr_expect_eq(r->status, 1, "%s", r->out);
	cr_expect(strstr(r->out, "sensor 'heel' is not in the file"), "%s", r->out);
}

/* --partial reaches the stream: a line that does not read stops the replay
 * there without it, and is skipped (said with its place) with it. */
Test(view_import_cli, partial_skips_what_does_not_read)
{
	static char text[65536];
	size_t len = 0;
	for (int t = 0; t < 30; t++)
		for (int i = 0; i < 48; i++)
			len += (size_t)snprintf(text + len, sizeof text - len, "%s%s",
			                        t == 10 && i == 2 ? "x" : (i == 20 ? "9" : "4"),
			                        i < 47 ? "," : "\n");
	write_text("bad.csv", text);
	struct km_test_run *r = knot(VIEW " --replay bad.csv --rows 6 --cols 8 --after 0.25");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "recording damaged") && strstr(r->out, "bad.csv:11:5"), "%s",
	          r->out);
	r = knot(VIEW " --replay bad.csv --rows 6 --cols 8 --after 0.25 --partial");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_expect(strstr(r->out, "bad.csv:11:5: field 3: 'x' is not a number; frame skipped"),
	          "%s", r->out);
	cr_expect_null(strstr(r->out, "recording damaged"), "%s", r->out);
	expect_png("shot.png");
}
