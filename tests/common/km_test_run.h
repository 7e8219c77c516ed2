/* Running the built knotmap binary from a test (shared by the CLI suites). */
#ifndef KM_TEST_RUN_H
#define KM_TEST_RUN_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Output (stderr merged into stdout) and exit status of one command. */
struct km_test_run {
	int status; /* exit code; -1: popen failed or the command did not exit */
	char out[32768];
};

/* Runs `cd DIR && BIN ARGS 2>&1`; args is a shell fragment. Reads the output
 * to the end (a child never blocks on a full pipe); keeps the first
 * sizeof out - 1 bytes. */
static inline void km_test_run_in(struct km_test_run *r, const char *dir, const char *bin,
                                  const char *args)
{
	char cmd[12288];
	snprintf(cmd, sizeof cmd, "cd '%.2000s' && '%.2000s' %.8000s 2>&1", dir, bin, args);
	r->status = -1;
	r->out[0] = '\0';
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	size_t n = fread(r->out, 1, sizeof r->out - 1, p);
	r->out[n] = '\0';
	while (fgetc(p) != EOF)
		;
	int st = pclose(p);
	r->status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* km_test_run_in with the arguments formatted from fmt (a shell fragment).
 * The attribute lets clang check the callers' formats instead of refusing
 * a non-literal one here (-Wformat-nonliteral). */
static inline void km_test_vrun_in(struct km_test_run *r, const char *dir, const char *bin,
                                   const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static inline void km_test_vrun_in(struct km_test_run *r, const char *dir, const char *bin,
                                   const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static inline void km_test_vrun_in(struct km_test_run *r, const char *dir, const char *bin,
                                   const char *fmt, va_list ap)
{
	char args[8192];
	vsnprintf(args, sizeof args, fmt, ap);
	km_test_run_in(r, dir, bin, args);
}

/* The knotmap binary the build made: $KM_BINARY_DIR/cli/knotmap. */
static inline void km_test_knotmap_path(char *out, size_t cap)
{
	const char *bin = getenv("KM_BINARY_DIR");
	snprintf(out, cap, "%s/cli/knotmap", bin ? bin : ".");
}

/* The user's files (history, sessions, screenshots) go to the test's folder. */
static inline void km_test_home_in(const char *dir)
{
	setenv("XDG_DATA_HOME", dir, 1);
	setenv("HOME", dir, 1);
}

#endif
