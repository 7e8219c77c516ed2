/* The terminal progress bar (cli/progress.h): the line it draws, and silence
 * when stderr is not a terminal (pipes, logs, these tests). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "progress.h"

Test(progress, format_bar_rate_eta)
{
	char buf[160];
	/* 250 of 1000 frames in 2 s: 125 frames/s, 750 left: 6 s */
	km_progress_format(buf, sizeof buf, "exporting", "frames", 250, 1000, 2.0);
	cr_assert_str_eq(buf, "exporting [######..................]  25%  125 frames/s  ETA 0:06");
	/* done: no ETA; over total is clamped */
	km_progress_format(buf, sizeof buf, "exporting", "frames", 1200, 1000, 4.0);
	cr_assert_str_eq(buf, "exporting [########################] 100%  300 frames/s");
	/* slow: a decimal; a long ETA in h:mm:ss */
	km_progress_format(buf, sizeof buf, "evaluating", "runs", 3, 10000, 4.0);
	cr_assert_str_eq(buf, "evaluating [........................]   0%  0.8 runs/s  ETA 3:42:09");
	/* unknown total: a count and the rate */
	km_progress_format(buf, sizeof buf, "analysing", "frames", 12345, 0, 10.0);
	cr_assert_str_eq(buf, "analysing 12345 frames  1234 frames/s");
	/* no time yet: no rate */
	km_progress_format(buf, sizeof buf, "x", "frames", 0, 10, 0.0);
	cr_assert_str_eq(buf, "x [........................]   0%");
	/* a short buffer is cut, terminated */
	char small[12];
	size_t n = km_progress_format(small, sizeof small, "exporting", "frames", 1, 2, 1.0);
	cr_assert_eq(strlen(small), 11u);
	cr_assert_eq(n, 11u);
}

Test(progress, silent_when_not_a_terminal)
{
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	struct km_progress p;
	km_progress_begin(&p, f, "exporting", "frames", 100);
	cr_assert_not(p.tty);
	/* past the delay: a terminal would show the bar now */
	p.t0 -= 2 * KM_PROGRESS_DELAY_S;
	for (uint64_t i = 0; i <= 100; i++)
		km_progress_update(&p, i);
	km_progress_clear(&p);
	km_progress_end(&p);
	cr_assert_eq(p.done, 100u, "progress is still counted");
	cr_assert_eq(ftell(f), 0L, "nothing written to a file");
	fclose(f);
}

Test(progress, draws_on_a_terminal_after_the_delay)
{
	/* the same object told its output is a terminal (a pty is not always
	 * available in CI): drawn after the delay, ended with a newline */
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	struct km_progress p;
	km_progress_begin(&p, f, "exporting", "frames", 100);
	p.tty = true;
	km_progress_update(&p, 1);
	cr_assert_eq(ftell(f), 0L, "nothing before the delay");
	p.t0 -= 2 * KM_PROGRESS_DELAY_S;
	km_progress_update(&p, 50);
	km_progress_end(&p);
	rewind(f);
	char buf[512] = "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, "\rexporting ["), "%s", buf);
	cr_assert(strstr(buf, " 50%"), "%s", buf);
	cr_assert(strstr(buf, "100%"), "ends at 100 %%: %s", buf);
	cr_assert_eq(buf[n - 1], '\n');
	fclose(f);
}
