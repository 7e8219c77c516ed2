/* knotmap: dispatch to a subcommand. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.gen.h"

enum km_log_level km_cli_verbosity = KM_LOG_WARN;

void km_cli_log_stderr(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	fprintf(stderr, "knotmap: %s: %s: %s\n", module, km_log_level_name(level), msg);
}

struct km_log km_cli_log(void)
{
	struct km_log log = {km_cli_log_stderr, NULL, km_cli_verbosity};
	return log;
}

void km_cli_error(const char *cmd, const char *hint, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "knotmap %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (hint)
		fprintf(stderr, "  hint: %s\n", hint);
}

int km_cli_parse_long(const char *cmd, const char *opt, const char *text, long min, long max,
		      long *out)
{
	char *end = NULL;
	errno = 0;
	long v = text ? strtol(text, &end, 10) : 0;
	if (!text || *text == '\0' || *end != '\0' || errno == ERANGE || v < min || v > max) {
		km_cli_error(cmd, NULL, "%s expects a whole number from %ld to %ld, got '%s'", opt, min,
			     max, text ? text : "");
		return -1;
	}
	*out = v;
	return 0;
}

int km_cli_parse_double(const char *cmd, const char *opt, const char *text, double min,
			double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = text ? strtod(text, &end) : 0.0;
	if (!text || *text == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min ||
	    v > max) {
		km_cli_error(cmd, NULL, "%s expects a number from %g to %g, got '%s'", opt, min, max,
			     text ? text : "");
		return -1;
	}
	*out = v;
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knotmap [-v|-q] <command> [options]\n"
		"       knotmap <command> --help\n\n"
		"Pressure mapping for finding candidate tender or stiff spots (muscle knots)\n"
		"and timing 30-60 s tolerable-pressure holds. Not a diagnosis: see a\n"
		"healthcare professional if a knot persists over a week, or with numbness,\n"
		"tingling or pain radiating down a limb.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof km_cli_commands / sizeof km_cli_commands[0]; i++)
		fprintf(out, "  %-10s %s\n", km_cli_commands[i]->name, km_cli_commands[i]->summary);
	fprintf(out, "\noptions:\n  -v, --verbose  more log output (repeat for debug)\n"
		     "  -q, --quiet    errors only\n  --version      print the version\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("knotmap %s\n", km_version_string());
			return KM_EXIT_OK;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			if (km_cli_verbosity < KM_LOG_DEBUG)
				km_cli_verbosity++;
		} else if (!strcmp(a, "-vv")) {
			km_cli_verbosity = KM_LOG_DEBUG;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			km_cli_verbosity = KM_LOG_ERROR;
		} else {
			fprintf(stderr, "knotmap: unknown option '%s'\n\n", a);
			usage(stderr);
			return KM_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return KM_EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof km_cli_commands / sizeof km_cli_commands[0]; c++)
		if (!strcmp(argv[i], km_cli_commands[c]->name))
			return km_cli_commands[c]->run(argc - i, argv + i);
	fprintf(stderr, "knotmap: '%s' is not a knotmap command; see 'knotmap --help'\n", argv[i]);
	return KM_EXIT_USAGE;
}
