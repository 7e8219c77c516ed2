/* outfile: no clobbering, no following links, no partial file under the final
 * name, 0600 whatever the umask, inputs never overwritten. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knotmap/outfile.h"

static char dir[64]; /* mkdtemp name under /tmp */
static char last_log[1024];

static void capture(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/km-outfile-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	last_log[0] = '\0';
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(outfile, .init = setup, .fini = teardown);

static const char *in_dir(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int entries(void)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static struct km_outfile_config cfg_for(const char *path, bool force)
{
	struct km_outfile_config c = km_outfile_config_default();
	c.path = path;
	c.force = force;
	c.log.fn = capture;
	c.log.max_level = KM_LOG_DEBUG;
	return c;
}

static int write_whole(const char *path, bool force, const char *text)
{
	struct km_outfile_config c = cfg_for(path, force);
	km_outfile *f;
	int rc = km_outfile_open(&c, &f);
	if (rc != KM_OK)
		return rc;
	rc = km_outfile_write(f, text, strlen(text));
	if (rc == KM_OK)
		rc = km_outfile_commit(f);
	km_outfile_destroy(f);
	return rc;
}

Test(outfile, new_file_is_whole_and_owner_only_under_umask_000)
{
	mode_t old = umask(0);
	const char *p = in_dir("out.csv");
	cr_assert_eq(write_whole(p, false, "a,b\n1,2\n"), KM_OK);
	umask(old);
	cr_assert_str_eq(slurp(p), "a,b\n1,2\n");
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert_eq(entries(), 1, "no temporary file left behind");
}

Test(outfile, existing_target_is_refused_without_force_and_kept)
{
	const char *p = in_dir("out.json");
	put(p, "old");
	cr_assert_eq(write_whole(p, false, "new"), KM_ERR_EXISTS);
	cr_assert_str_eq(slurp(p), "old");
	cr_assert(strstr(last_log, p) && strstr(last_log, "--force"), "log: %s", last_log);
	cr_assert_eq(entries(), 1);
}

Test(outfile, force_replaces_the_entry_not_the_old_files_contents)
{
	const char *p = in_dir("out.json");
	const char *other = in_dir("hardlink-to-old");
	put(p, "old");
	cr_assert_eq(link(p, other), 0);
	cr_assert_eq(write_whole(p, true, "new"), KM_OK);
	cr_assert_str_eq(slurp(p), "new");
	cr_assert_str_eq(slurp(other), "old", "the old inode was never written through");
}

Test(outfile, symlink_at_target_is_refused_even_with_force)
{
	const char *victim = in_dir("someone-elses-file");
	const char *p = in_dir("out.png");
	put(victim, "precious");
	chmod(victim, 0644);
	cr_assert_eq(symlink(victim, p), 0);
	for (int force = 0; force <= 1; force++) {
		cr_assert_eq(write_whole(p, force, "evil"), KM_ERR_PERMISSION);
		cr_assert(strstr(last_log, "symbolic link"), "log: %s", last_log);
	}
	struct stat st;
	cr_assert_eq(stat(victim, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "the link's target was not chmod'ed");
	cr_assert_str_eq(slurp(victim), "precious");
	cr_assert_eq(entries(), 2);
}

Test(outfile, dangling_symlink_creates_nothing_at_its_target)
{
	const char *where = in_dir("would-be-created");
	const char *p = in_dir("out.npy");
	cr_assert_eq(symlink(where, p), 0);
	cr_assert_eq(write_whole(p, true, "x"), KM_ERR_PERMISSION);
	cr_assert_eq(access(where, F_OK), -1);
	cr_assert_eq(entries(), 1);
}

Test(outfile, target_that_appears_while_writing_is_left_alone)
{
	const char *p = in_dir("out.csv");
	struct km_outfile_config c = cfg_for(p, false);
	km_outfile *f;
	cr_assert_eq(km_outfile_open(&c, &f), KM_OK);
	cr_assert_eq(km_outfile_write(f, "mine", 4), KM_OK);
	put(p, "theirs");
	cr_assert_eq(km_outfile_commit(f), KM_ERR_EXISTS);
	km_outfile_destroy(f);
	cr_assert_str_eq(slurp(p), "theirs");
	cr_assert_eq(entries(), 1, "temporary file removed");
}

Test(outfile, no_commit_leaves_the_old_file_and_no_partial_file)
{
	const char *p = in_dir("report.png");
	put(p, "old report");
	struct km_outfile_config c = cfg_for(p, true);
	km_outfile *f;
	cr_assert_eq(km_outfile_open(&c, &f), KM_OK);
	cr_assert_eq(km_outfile_write(f, "half a rep", 10), KM_OK);
	km_outfile_destroy(f); /* e.g. the export failed half way */
	cr_assert_str_eq(slurp(p), "old report");
	cr_assert_eq(entries(), 1);
}

Test(outfile, an_input_of_the_command_is_never_overwritten)
{
	const char *in = in_dir("session.kmrec");
	const char *alias = in_dir("alias.kmrec");
	put(in, "recording");
	cr_assert_eq(link(in, alias), 0);
	const char *inputs[] = {in};
	const char *targets[] = {in, alias};
	for (int i = 0; i < 2; i++) {
		struct km_outfile_config c = cfg_for(targets[i], true);
		c.inputs = inputs;
		c.n_inputs = 1;
		km_outfile *f;
		cr_assert_eq(km_outfile_open(&c, &f), KM_ERR_INVALID_ARG);
		cr_assert_null(f);
		cr_assert(strstr(last_log, "input"), "log: %s", last_log);
	}
	cr_assert_str_eq(slurp(in), "recording");
}

Test(outfile, full_disk_keeps_the_old_file_and_leaves_no_partial_one)
{
	const char *p = in_dir("big.csv");
	put(p, "old export");
	/* A file size limit stands in for a full disk: write() fails with EFBIG. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	struct km_outfile_config c = cfg_for(p, true);
	km_outfile *f;
	cr_assert_eq(km_outfile_open(&c, &f), KM_OK);
	static char block[1000];
	memset(block, 'x', sizeof(block));
	int rc = KM_OK;
	for (int i = 0; i < 10 && rc == KM_OK; i++)
		rc = km_outfile_write(f, block, sizeof(block));
	cr_assert_eq(rc, KM_ERR_NO_SPACE);
	cr_assert_eq(km_outfile_write(f, "x", 1), KM_ERR_NO_SPACE, "errors are sticky");
	cr_assert_eq(km_outfile_commit(f), KM_ERR_NO_SPACE);
	km_outfile_destroy(f);
	lim.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &lim);
	cr_assert_str_eq(slurp(p), "old export");
	cr_assert_eq(entries(), 1);
}

Test(outfile, stream_output_is_caught_at_commit)
{
	const char *p = in_dir("rows.csv");
	struct km_outfile_config c = cfg_for(p, false);
	km_outfile *f;
	cr_assert_eq(km_outfile_open(&c, &f), KM_OK);
	FILE *s = km_outfile_stream(f);
	cr_assert_not_null(s);
	for (int i = 0; i < 3; i++)
		fprintf(s, "%d\n", i);
	cr_assert_eq(access(p, F_OK), -1, "nothing under the final name before commit");
	cr_assert_eq(km_outfile_commit(f), KM_OK);
	km_outfile_destroy(f);
	cr_assert_str_eq(slurp(p), "0\n1\n2\n");
}

Test(outfile, long_paths_work_and_names_over_name_max_are_refused_clearly)
{
	/* A path of ~1,100 bytes through nested folders (each name < NAME_MAX). */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", dir);
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(path);
		path[n] = '/';
		memset(path + n + 1, 'a' + i, 200);
		path[n + 201] = '\0';
		cr_assert_eq(mkdir(path, 0700), 0);
	}
	strcat(path, "/out.csv");
	cr_assert_gt(strlen(path), 1000);
	cr_assert_eq(write_whole(path, false, "deep"), KM_OK);
	cr_assert_str_eq(slurp(path), "deep");

	char longname[NAME_MAX + 10];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(write_whole(in_dir(longname), false, "x"), KM_ERR_NAME_TOO_LONG);
	cr_assert(strstr(last_log, "limit"), "log: %s", last_log);
}

Test(outfile, directories_and_special_files_are_not_targets)
{
	const char *d = in_dir("adir");
	cr_assert_eq(mkdir(d, 0700), 0);
	cr_assert_eq(write_whole(d, true, "x"), KM_ERR_NOT_A_FILE);
	const char *fifo = in_dir("fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(write_whole(fifo, true, "x"), KM_ERR_NOT_A_FILE);
	cr_assert_eq(write_whole(in_dir("no/such/dir/out.csv"), false, "x"), KM_ERR_NOT_FOUND);
	cr_assert_eq(write_whole(in_dir("trailing/"), false, "x"), KM_ERR_NOT_A_FILE);
}
