/* knotmap version: library and dependency versions. */
#include <string.h>

#include "cli.h"

static int run_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: knotmap version\n\nPrint the knotmap version.\n");
		return KM_EXIT_OK;
	}
	if (argc > 1) {
		km_cli_error("version", "see 'knotmap version --help'", "unexpected argument '%s'",
			     argv[1]);
		return KM_EXIT_USAGE;
	}
	printf("knotmap %s\n", km_version_string());
	return KM_EXIT_OK;
}

const struct km_cli_command km_cli_cmd_version = {
	"version", "print the knotmap version", run_version};
