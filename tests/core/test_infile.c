/* km__open_input: regular files only, never blocking, a cause for each error. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "km_internal.h"

static char dir[64];
static char last_log[1024];

static void capture(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static const struct km_log log_to_buffer = {capture, NULL, KM_LOG_DEBUG};

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/km-infile-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(infile, .init = setup, .fini = teardown);

static int open_in(const char *name, int *fd)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	last_log[0] = '\0';
	return km__open_input(&log_to_buffer, "test", path, fd);
}

Test(infile, a_regular_file_opens_blocking)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/a.csv", dir);
	FILE *f = fopen(path, "w");
	fputs("1,2\n", f);
	fclose(f);
	int fd;
	cr_assert_eq(open_in("a.csv", &fd), KM_OK);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	char buf[8];
	cr_assert_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
}

Test(infile, a_fifo_is_refused_without_blocking)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/pipe", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	int fd = 0;
	cr_assert_eq(open_in("pipe", &fd), KM_ERR_NOT_A_FILE); /* no writer: must not hang */
	cr_assert_eq(fd, -1);
	cr_assert(strstr(last_log, "a FIFO"), "log: %s", last_log);
}

Test(infile, devices_and_directories_are_refused_by_name)
{
	int fd;
	cr_assert_eq(km__open_input(&log_to_buffer, "test", "/dev/zero", &fd), KM_ERR_NOT_A_FILE);
	cr_assert(strstr(last_log, "/dev/zero is a device"), "log: %s", last_log);
	cr_assert_eq(km__open_input(&log_to_buffer, "test", dir, &fd), KM_ERR_NOT_A_FILE);
	cr_assert(strstr(last_log, "a directory"), "log: %s", last_log);
}

Test(infile, each_failure_says_what_is_wrong)
{
	int fd;
	cr_assert_eq(open_in("missing.npy", &fd), KM_ERR_NOT_FOUND);
	cr_assert(strstr(last_log, "missing.npy") && strstr(last_log, "No such file"), "log: %s",
	          last_log);

	char longname[NAME_MAX + 20];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(open_in(longname, &fd), KM_ERR_NAME_TOO_LONG);

	char a[128], b[128];
	snprintf(a, sizeof(a), "%s/loop-a", dir);
	snprintf(b, sizeof(b), "%s/loop-b", dir);
	cr_assert_eq(symlink(a, b), 0);
	cr_assert_eq(symlink(b, a), 0);
	cr_assert_eq(open_in("loop-a", &fd), KM_ERR_LINK_LOOP);
	cr_assert_str_eq(km_strerror(KM_ERR_LINK_LOOP), "too many levels of symbolic links");
}
