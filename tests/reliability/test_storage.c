/*
 * Storage faults and privacy of `knotmap record` (the built binary): a full
 * disk (/dev/full, and RLIMIT_FSIZE for a disk that fills mid-recording),
 * read-only folders and files (as an unprivileged user when we are root),
 * and the modes of everything it creates under a permissive and a
 * restrictive umask: recordings and the history 0600, folders 0700.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "knotmap/history.h"
#include "knotmap/recording.h"
#include "rel_util.h"

#define NOBODY 65534

static char dir[256];

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/km-storage-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755); /* reachable by the unprivileged child */
}

static void teardown(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(storage, .init = setup, .fini = teardown, .timeout = 120);

static const char *knotmap_bin(void)
{
	static char path[4096];
	const char *b = getenv("KM_BINARY_DIR");
	cr_assert_not_null(b, "KM_BINARY_DIR is not set (run through ctest)");
	snprintf(path, sizeof path, "%s/cli/knotmap", b);
	return path;
}

/* The unprivileged child cannot reach the build tree when it sits in a
 * private folder (a clone in /root): it runs a copy of the binary, with a copy
 * of the scenarios, from the test's own folder. */
static const char *knotmap_for_nobody(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/bin/knotmap", dir);
	if (access(path, X_OK) == 0)
		return path;
	const char *src = getenv("KM_SOURCE_DIR");
	cr_assert_not_null(src, "KM_SOURCE_DIR is not set (run through ctest)");
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
	         "mkdir -p '%s/bin' && cp '%s' '%s' && cp -r '%s/hardware/sim/scenarios' "
	         "'%s/scenarios' && chmod -R a+rX '%s/bin' '%s/scenarios'",
	         dir, knotmap_bin(), path, src, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	return path;
}

struct run_opts {
	mode_t umask;
	rlim_t fsize; /* 0: no limit */
	bool drop;    /* run as nobody when we are root */
	const char *home;
	bool keep_stdout; /* stdout into err_text too */
};

static char err_text[8192];

/* Runs knotmap with argv (argv[0] is replaced); returns the exit status, the
 * child's stderr in err_text. */
static int run(const struct run_opts *o, const char **argv)
{
	char errf[300], scenarios[300];
	snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
	snprintf(scenarios, sizeof scenarios, "%s/scenarios", dir);
	bool drop = o->drop && getuid() == 0;
	argv[0] = drop ? knotmap_for_nobody() : knotmap_bin();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int nul = open("/dev/null", O_WRONLY);
		if (fd < 0 || nul < 0)
			_exit(126);
		dup2(o->keep_stdout ? fd : nul, 1);
		dup2(fd, 2);
		umask(o->umask);
		if (o->fsize) {
			struct rlimit rl = {o->fsize, o->fsize};
			setrlimit(RLIMIT_FSIZE, &rl);
			signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
		}
		if (o->home) {
			setenv("HOME", o->home, 1);
			unsetenv("XDG_DATA_HOME");
		}
		if (drop) {
			setenv("KNOTMAP_SCENARIO_DIR", scenarios, 1);
			gid_t g = NOBODY;
			if (setgroups(1, &g) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
			    setresuid(NOBODY, NOBODY, NOBODY) != 0)
				_exit(125);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	FILE *f = fopen(errf, "r");
	size_t n = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
	err_text[n] = '\0';
	if (f)
		fclose(f);
	cr_assert(WIFEXITED(status), "knotmap died: %s", err_text);
	return WEXITSTATUS(status);
}

static uint64_t readable_frames(const char *path, bool *torn)
{
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = path;
	km_rec_reader *r;
	int e = km_rec_reader_create(&rc, &r);
	cr_assert_eq(e, KM_OK, "%s: %s", path, km_strerror(e));
	struct km_rec_item it;
	uint64_t n = 0;
	while ((e = km_rec_reader_next_frame(r, &it)) == KM_OK)
		n++;
	*torn = e != KM_ERR_END;
	km_rec_reader_destroy(r);
	return n;
}

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

Test(storage, record_to_dev_full_fails_clearly)
{
	struct stat sb;
	if (stat("/dev/full", &sb) != 0)
		cr_skip_test("no /dev/full");
	struct run_opts o = {.umask = 022};
	const char *argv[] = {
	    NULL, "record",    "--sim",   "tennis-ball-trapezius", "--fast", "--duration", "2",
	    "-o", "/dev/full", "--force", "--no-history",          NULL};
	int rc = run(&o, argv);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err_text);
	cr_expect_not_null(strstr(err_text, "not a regular file"), "%s", err_text);
	cr_assert_eq(stat("/dev/full", &sb), 0);
	cr_expect(S_ISCHR(sb.st_mode), "/dev/full was replaced");
}

/* The disk fills while recording (RLIMIT_FSIZE: write() fails with EFBIG,
 * mapped to "no space"): the recorder stops with a clear message and exit 1;
 * everything written before stays readable and replays. */
Test(storage, disk_filling_mid_recording_keeps_what_was_written)
{
	char out[400], db[400];
	path_in(out, sizeof out, "full.kmrec");
	path_in(db, sizeof db, "history.db");
	const rlim_t limit = 3u << 20;
	struct run_opts o = {.umask = 022, .fsize = limit, .keep_stdout = true};
	const char *argv[] = {NULL, "record", "--sim", "back-lying", "--fast", "--duration",
	                      "30", "-o",     out,     "--db",       db,       NULL};
	int rc = run(&o, argv);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err_text);
	cr_expect_not_null(strstr(err_text, "no space left"), "%s", err_text);
	cr_expect_not_null(strstr(err_text, "readable up to"), "no hint: %s", err_text);
	struct stat sb;
	cr_assert_eq(stat(out, &sb), 0);
	cr_expect_leq((rlim_t)sb.st_size, limit);
	bool torn;
	uint64_t n = readable_frames(out, &torn);
	/* 32 KiB a frame, 8 to a 256 KiB chunk: all but the last chunk fit */
	cr_expect_geq(n, (limit / (256u << 10) - 1) * 8, "only %llu frames kept",
	              (unsigned long long)n);
	cr_expect_not(torn, "the recorder left a torn chunk behind");
	/* the summary counts what the file holds, not what was received */
	char said[64];
	snprintf(said, sizeof said, "recorded %llu frames", (unsigned long long)n);
	cr_expect_not_null(strstr(err_text, said), "want '%s': %s", said, err_text);
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "'%s' replay '%s' >/dev/null 2>&1", knotmap_bin(), out);
	cr_expect_eq(system(cmd), 0, "knotmap replay failed");
	/* the history is small and was written before the disk filled */
	struct km_history_config hc = km_history_config_default();
	hc.path = db;
	hc.read_only = true;
	km_history *h;
	cr_assert_eq(km_history_create(&hc, &h), KM_OK);
	km_history_destroy(h);
	fprintf(stderr, "disk full at %llu bytes: %llu frames kept, file %lld bytes\n",
	        (unsigned long long)limit, (unsigned long long)n, (long long)sb.st_size);
}

static int count_sessions(void *user, const struct km_history_session *s)
{
	(void)s;
	(*(int *)user)++;
	return 0;
}

static int sessions_in(const char *db)
{
	struct km_history_config hc = km_history_config_default();
	hc.path = db;
	hc.read_only = true;
	km_history *h;
	cr_assert_eq(km_history_create(&hc, &h), KM_OK);
	int n = 0;
	cr_assert_eq(km_history_list_sessions(h, count_sessions, &n), KM_OK);
	km_history_destroy(h);
	return n;
}

/* A folder the user cannot write: a clear error, exit 1, and the recording
 * and history already in it untouched (also with --force). */
Test(storage, read_only_folder_is_a_clear_error_and_loses_nothing)
{
	char ro[400], old[1024], db[1024], fresh[1024];
	path_in(ro, sizeof ro, "ro");
	cr_assert_eq(mkdir(ro, 0755), 0);
	snprintf(old, sizeof old, "%s/old.kmrec", ro);
	snprintf(db, sizeof db, "%s/history.db", ro);
	snprintf(fresh, sizeof fresh, "%s/new.kmrec", ro);
	/* an earlier session, recorded while the folder was writable */
	struct run_opts mine = {.umask = 022};
	const char *a1[] = {NULL,     "record",     "--sim", "tennis-ball-trapezius",
	                    "--fast", "--duration", "1",     "-o",
	                    old,      "--db",       db,      NULL};
	cr_assert_eq(run(&mine, a1), 0, "%s", err_text);
	bool torn;
	uint64_t frames = readable_frames(old, &torn);
	int sessions = sessions_in(db);
	struct stat before;
	cr_assert_eq(stat(old, &before), 0);
	/* now read-only for the user (run as nobody when we are root; the
	 * files are given to nobody so only the folder's mode stands in the way) */
	if (getuid() == 0) {
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "chown -R %d:%d '%s'", NOBODY, NOBODY, ro);
		cr_assert_eq(system(cmd), 0);
	}
	cr_assert_eq(chmod(ro, 0555), 0);
	struct run_opts user = {.umask = 022, .drop = true};
	const char *a2[] = {NULL,     "record",       "--sim", "tennis-ball-trapezius",
	                    "--fast", "--duration",   "1",     "-o",
	                    fresh,    "--no-history", NULL};
	int rc = run(&user, a2);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err_text);
	cr_expect_not_null(strstr(err_text, "permission denied"), "%s", err_text);
	cr_expect_not_null(strstr(err_text, "writable"), "no hint: %s", err_text);
	cr_expect_neq(access(fresh, F_OK), 0, "a file appeared in the read-only folder");
	/* an existing file, read-only itself, with --force */
	cr_assert_eq(chmod(old, 0400), 0);
	const char *a3[] = {
	    NULL, "record", "--sim",   "tennis-ball-trapezius", "--fast", "--duration", "1",
	    "-o", old,      "--force", "--no-history",          NULL};
	rc = run(&user, a3);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, err_text);
	cr_expect_not_null(strstr(err_text, "permission denied"), "%s", err_text);
	/* the history read-only too (file and any SQLite side files): the
	 * recording still works elsewhere, without it */
	char cmd[1400];
	snprintf(cmd, sizeof cmd, "chmod 0400 '%s'*", db);
	cr_assert_eq(system(cmd), 0);
	char elsewhere[1024];
	path_in(elsewhere, sizeof elsewhere, "w");
	cr_assert_eq(mkdir(elsewhere, 0777), 0);
	cr_assert_eq(chmod(elsewhere, 0777), 0);
	strcat(elsewhere, "/x.kmrec");
	const char *a4[] = {NULL,      "record",     "--sim", "tennis-ball-trapezius",
	                    "--fast",  "--duration", "1",     "-o",
	                    elsewhere, "--db",       db,      NULL};
	rc = run(&user, a4);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, err_text);
	cr_expect_not_null(strstr(err_text, "history is not available"), "%s", err_text);
	cr_expect_eq(access(elsewhere, F_OK), 0);

	chmod(ro, 0755);
	chmod(old, 0600);
	snprintf(cmd, sizeof cmd, "chmod 0600 '%s'*", db);
	cr_assert_eq(system(cmd), 0);
	struct stat after;
	cr_assert_eq(stat(old, &after), 0);
	cr_expect_eq(after.st_size, before.st_size, "the old recording changed size");
	cr_expect_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_expect_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	cr_expect_eq(readable_frames(old, &torn), frames);
	cr_expect_not(torn);
	cr_expect_eq(sessions_in(db), sessions, "sessions in the history changed");
}

static void expect_mode(const char *path, mode_t mode)
{
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0, "%s missing", path);
	cr_expect_eq(sb.st_mode & 0777, mode, "%s: mode %03o, want %03o", path, sb.st_mode & 0777,
	             mode);
}

/* With the default paths under a fresh HOME: every folder knotmap makes is
 * 0700 and every file 0600, whatever the umask. */
static void private_under_umask(mode_t um)
{
	char home[400], p[1024];
	snprintf(home, sizeof home, "%s/home-%03o", dir, um);
	cr_assert_eq(mkdir(home, 0755), 0);
	struct run_opts o = {.umask = um, .home = home};
	const char *argv[] = {NULL,     "record",     "--sim", "back-lying",
	                      "--fast", "--duration", "2",     NULL};
	cr_assert_eq(run(&o, argv), 0, "%s", err_text);
	snprintf(p, sizeof p, "%s/.local/share/knotmap", home);
	expect_mode(p, 0700);
	snprintf(p, sizeof p, "%s/.local/share/knotmap/sessions", home);
	expect_mode(p, 0700);
	snprintf(p, sizeof p, "%s/.local/share/knotmap/history.db", home);
	expect_mode(p, 0600);
	/* SQLite's side files, when present, must not be wider */
	const char *side[] = {"-wal", "-shm", "-journal"};
	for (int i = 0; i < 3; i++) {
		char q[1100];
		snprintf(q, sizeof q, "%s%s", p, side[i]);
		struct stat sb;
		if (stat(q, &sb) == 0)
			cr_expect_eq(sb.st_mode & 077, 0, "%s: mode %03o", q, sb.st_mode & 0777);
	}
	char cmd[4096];
	snprintf(
	    cmd, sizeof cmd,
	    "test $(find '%s/.local/share/knotmap/sessions' -name '*.kmrec' -perm 0600 | wc -l) "
	    "-eq 1 && test -z \"$(find '%s/.local/share/knotmap' ! -perm 0600 -type f)\"",
	    home, home);
	cr_expect_eq(system(cmd), 0, "a file under %s is not 0600", home);
	/* an export made from it */
	snprintf(
	    cmd, sizeof cmd,
	    "cd '%s' && umask %03o && '%s' export \"$(ls .local/share/knotmap/sessions/*.kmrec)\" "
	    "--format csv -o out.csv >/dev/null 2>&1",
	    home, um, knotmap_bin());
	if (system(cmd) == 0) {
		snprintf(p, sizeof p, "%s/out.csv", home);
		expect_mode(p, 0600);
	}
}

Test(storage, private_modes_under_a_permissive_umask)
{
	private_under_umask(0000);
}

Test(storage, private_modes_under_a_restrictive_umask)
{
	private_under_umask(0077);
}

Test(storage, private_modes_under_the_usual_umask)
{
	private_under_umask(0022);
}
