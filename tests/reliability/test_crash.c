/*
 * Crash safety of `knotmap record` on the virtual mat: the built binary is
 * killed with SIGKILL at a random moment (0.2-1.5 s after it starts), KM_CRASH_TRIALS
 * times (default 50). Each recording must open and read to its end (or to a
 * reported torn tail) and replay with `knotmap replay`; the data lost is the
 * time between the arrival of the last frame on disk (its host_time_us,
 * CLOCK_MONOTONIC like ours) and the kill, and must stay within the
 * recorder's 1 s flush interval plus what can be queued in the stream's ring. The history
 * database, shared by every trial, must pass PRAGMA integrity_check and keep
 * every session already written.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "knotmap/history.h"
#include "knotmap/recording.h"
#include "rel_util.h"

#define FLUSH_S 1.0 /* the recorder's flush interval (cmd_record.c, recording.h) */
/* Frames still queued when the kill lands: up to the stream's 32-frame ring
 * (0.32 s at 100 Hz) behind a slow fdatasync or the dsp (ASan, loaded CI). */
#define SLACK_S 0.5

static char dir[256];

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/km-crash-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 400);

static const char *knotmap_bin(void)
{
	static char path[4096];
	const char *b = getenv("KM_BINARY_DIR");
	cr_assert_not_null(b, "KM_BINARY_DIR is not set (run through ctest)");
	snprintf(path, sizeof path, "%s/cli/knotmap", b);
	cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
	return path;
}

static pid_t spawn(const char *const argv[])
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int session_count_fn(void *user, const struct km_history_session *s)
{
	(void)s;
	(*(int *)user)++;
	return 0;
}

/* integrity_check through SQLite itself, then the library's own view. */
static int check_history(const char *db)
{
	sqlite3 *h = NULL;
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK, "%s",
	             h ? sqlite3_errmsg(h) : "?");
	sqlite3_busy_timeout(h, 2000);
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	const char *res = (const char *)sqlite3_column_text(st, 0);
	cr_assert_str_eq(res, "ok", "integrity_check: %s", res);
	sqlite3_finalize(st);
	sqlite3_close(h);

	struct km_history_config hc = km_history_config_default();
	hc.path = db;
	hc.read_only = true;
	km_history *kh;
	cr_assert_eq(km_history_create(&hc, &kh), KM_OK);
	int n = 0;
	cr_assert_eq(km_history_list_sessions(kh, session_count_fn, &n), KM_OK);
	km_history_destroy(kh);
	return n;
}

struct trial {
	bool file;       /* the recorder had created its file */
	uint64_t frames; /* readable frames */
	bool torn;       /* the file ended in a partly written chunk */
	double lost_s;   /* data lost to the kill, s */
};

static struct trial check_recording(const char *path, double t_kill, double t_created)
{
	struct trial t = {0};
	struct stat sb;
	if (stat(path, &sb) != 0)
		return t; /* killed before the recorder created its file */
	t.file = true;
	cr_expect_eq(sb.st_mode & 0777, 0600, "%s: mode %o", path, sb.st_mode & 0777);
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = path;
	km_rec_reader *r;
	int e = km_rec_reader_create(&rc, &r);
	cr_assert_eq(e, KM_OK, "%s (%lld bytes) does not open: %s", path, (long long)sb.st_size,
	             km_strerror(e));
	const struct km_rec_info *info = km_rec_reader_info(r);
	cr_expect_not(info->complete, "a killed recorder cannot have closed the file");
	struct km_rec_item it;
	uint64_t last_host = 0, last_dev = 0;
	while ((e = km_rec_reader_next_frame(r, &it)) == KM_OK) {
		cr_assert_eq(it.frame_index, t.frames);
		if (t.frames)
			cr_assert_gt(it.frame->device_time_us, last_dev);
		last_dev = it.frame->device_time_us;
		last_host = it.frame->host_time_us;
		t.frames++;
	}
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	if (e == KM_ERR_END) {
		cr_expect_not(d.damaged);
	} else {
		cr_assert_eq(e, KM_ERR_TRUNCATED, "%s: %s", path, km_strerror(e));
		cr_expect_eq(d.frame_index, t.frames);
		t.torn = true;
	}
	cr_expect_eq(info->frame_count, t.frames);
	km_rec_reader_destroy(r);
	/* with frames: since the last one on disk arrived; without: since the
	 * file appeared (an upper bound: it includes the recorder's start-up) */
	t.lost_s = t.frames ? t_kill - (double)last_host / 1e6 : t_kill - t_created;
	return t;
}

/* A 16 x 24 copy of back-lying: its frames fill a chunk only every ~1.7 s,
 * so the 1 s flush interval is what bounds the loss (128 x 64 frames fill a
 * 256 KiB chunk every 8 frames). */
static void write_small_scenario(const char *path)
{
	const char *src = getenv("KM_SOURCE_DIR");
	cr_assert_not_null(src);
	char cmd[1400];
	snprintf(cmd, sizeof cmd,
	         "sed -e 's/^rows *=.*/rows = 16/' -e 's/^cols *=.*/cols = 24/' "
	         "'%s/hardware/sim/scenarios/back-lying.ini' > '%s'",
	         src, path);
	cr_assert_eq(system(cmd), 0);
}

struct tally {
	unsigned files, with_frames, empty, torn, no_file;
	uint64_t frames;
	double max_lost, sum_lost;
};

Test(crash, sigkill_during_record_loses_at_most_the_last_second)
{
	const char *bin = knotmap_bin();
	long trials = rel_env_long("KM_CRASH_TRIALS", 50, 1, 10000);
	char db[400], out[400], small[400];
	snprintf(db, sizeof db, "%s/history.db", dir);
	snprintf(small, sizeof small, "%s/small.ini", dir);
	write_small_scenario(small);
	srand((unsigned)time(NULL));
	int sessions = 0;
	struct tally tl[2];
	memset(tl, 0, sizeof tl);
	for (long i = 0; i < trials; i++) {
		int kind = (int)(i & 1); /* 0: 128 x 64 back-lying, 1: 16 x 24 */
		struct tally *y = &tl[kind];
		snprintf(out, sizeof out, "%s/t%03ld.kmrec", dir, i);
		const char *argv[] = {bin,      "record", "--sim", kind ? small : "back-lying",
		                      "-o",     out,      "--db",  db,
		                      "--seed", "3",      NULL};
		double delay = 0.2 + 1.3 * (double)rand() / RAND_MAX;
		double t0 = rel_now_s(), t_created = 0;
		pid_t pid = spawn(argv);
		struct stat sb;
		while (rel_now_s() - t0 < delay) {
			if (!t_created && stat(out, &sb) == 0)
				t_created = rel_now_s();
			rel_sleep_ms(2);
		}
		double t_kill = rel_now_s();
		cr_assert_eq(kill(pid, SIGKILL), 0);
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status)) {
			cr_assert_fail("trial %ld: the recorder exited (status %d) before the kill",
			               i, WEXITSTATUS(status));
		}
		struct trial t = check_recording(out, t_kill, t_created ? t_created : t_kill);
		if (!t.file) {
			y->no_file++;
		} else {
			char cmd[8400];
			snprintf(cmd, sizeof cmd, "'%s' replay '%s' >/dev/null 2>&1", bin, out);
			cr_expect_eq(system(cmd), 0, "trial %ld: knotmap replay %s failed", i, out);
			y->files++;
			y->empty += t.frames == 0;
			y->with_frames += t.frames > 0;
			y->torn += t.torn;
			y->frames += t.frames;
			cr_expect_leq(
			    t.lost_s, FLUSH_S + SLACK_S,
			    "trial %ld: killed at %.2f s, %.3f s of data lost (%llu frames)", i,
			    delay, t.lost_s, (unsigned long long)t.frames);
			if (t.lost_s > y->max_lost)
				y->max_lost = t.lost_s;
			y->sum_lost += t.lost_s;
		}
		if (access(db, F_OK) == 0) {
			int n = check_history(db);
			cr_expect_geq(n, sessions, "trial %ld: sessions already written were lost",
			              i);
			sessions = n;
		}
	}
	for (int k = 0; k < 2; k++) {
		struct tally *y = &tl[k];
		fprintf(stderr,
		        "crash %s: %u files (%u with frames, %u header only, %u torn tails), "
		        "%u killed before the file existed; %llu frames readable; data lost max "
		        "%.3f s, mean %.3f s\n",
		        k ? "16x24" : "128x64", y->files, y->with_frames, y->empty, y->torn,
		        y->no_file, (unsigned long long)y->frames, y->max_lost,
		        y->files ? y->sum_lost / y->files : 0.0);
	}
	fprintf(stderr,
	        "crash: %ld SIGKILL trials; history: %d sessions, integrity_check ok "
	        "after every kill\n",
	        trials, sessions);
	cr_expect_gt(tl[0].with_frames + tl[1].with_frames, 0,
	             "no trial lived long enough to flush frames");
}
