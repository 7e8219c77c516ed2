/*
 * The knotmap command, git style: `knotmap <command> [options]`.
 * Each subcommand lives in cli/cmd_<name>.c and defines
 *     const struct km_cli_command km_cli_cmd_<name>;
 * CMake finds the files and generates the dispatch table (commands.gen.h).
 */
#ifndef KNOTMAP_CLI_H
#define KNOTMAP_CLI_H

#include <stdio.h>

#include "knotmap/core.h"

/* Exit codes shared by every subcommand (documented in knotmap(1)). */
enum km_cli_exit {
	KM_EXIT_OK = 0,
	KM_EXIT_FAILURE = 1, /* the operation failed (device, file, data) */
	KM_EXIT_USAGE = 2,   /* wrong arguments: the message says which */
	KM_EXIT_NO_DEVICE = 3,
	KM_EXIT_INTERRUPTED = 130,
};

struct km_cli_command {
	const char *name;
	const char *summary; /* one line for `knotmap --help` */
	int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* The CLI's log sink: "knotmap: <module>: <message>" on stderr. */
void km_cli_log_stderr(void *user, enum km_log_level level, const char *module, const char *msg);
/* A struct km_log for library objects, at the verbosity the user asked for. */
struct km_log km_cli_log(void);
/* Global verbosity set by -v / -q before the command name. */
extern enum km_log_level km_cli_verbosity;

/* "knotmap <cmd>: <message>" on stderr, plus a hint line when hint != NULL. */
void km_cli_error(const char *cmd, const char *hint, const char *fmt, ...) KM_PRINTF(3, 4);

/* Strict number parsing for options: the whole string must be a number in
 * [min, max]. Returns 0 on success, -1 (after printing a usage error) if not. */
int km_cli_parse_long(const char *cmd, const char *opt, const char *text, long min, long max,
		      long *out);
int km_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
			double max, double *out);

#endif
