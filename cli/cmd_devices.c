/* knotmap devices: list the mats plugged in over USB. */
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "knotmap/device.h"

#define MAX_MATS 32

static void print_usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap devices [--json]\n\n"
	        "List the knotmap mats plugged in over USB: serial, sensor grid, cell pitch,\n"
	        "firmware and frame rate. Each mat is opened briefly to read its info block.\n\n"
	        "  --json   one JSON object per line instead of a table\n\n"
	        "Exit status: 0 when at least one mat is usable, 3 when none is found,\n"
	        "1 when a mat is present but cannot be opened (e.g. missing udev rule).\n"
	        "Without a mat, 'knotmap view --sim' runs the virtual mat.\n");
}

static void fw(char *buf, size_t n, uint32_t v)
{
	snprintf(buf, n, "%u.%u.%u", v >> 16, (v >> 8) & 0xFFu, v & 0xFFu);
}

static void print_json(const struct km_device_info *d)
{
	char ver[24];
	fw(ver, sizeof ver, d->firmware_version);
	/* serial and product are printable ASCII from the protocol's checks;
	 * quotes and backslashes are still escaped. */
	printf("{\"serial\":\"");
	for (const char *p = d->serial; *p; p++)
		printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
	printf("\",\"vid\":\"%04x\",\"pid\":\"%04x\",\"bus\":%u,\"address\":%u,"
	       "\"rows\":%u,\"cols\":%u,\"pitch_mm\":%.3f,\"geometry\":\"%s\","
	       "\"firmware\":\"%s\",\"rate_hz\":%u,\"status\":\"%s\"}\n",
	       d->vid, d->pid, d->bus, d->address, d->rows, d->cols, (double)d->pitch_mm,
	       d->geometry == KM_GEOMETRY_CYLINDER ? "cylinder" : "flat", ver, d->rate_hz,
	       d->status == KM_OK ? "ok" : km_error_name(d->status));
}

static int run_devices(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			km_cli_error("devices", "see 'knotmap devices --help'",
			             "unexpected argument '%s'", argv[i]);
			return KM_EXIT_USAGE;
		}
	}
	struct km_log log = km_cli_log();
	struct km_device_info mats[MAX_MATS];
	size_t n = 0;
	int rc = km_device_list(NULL, &log, mats, MAX_MATS, &n);
	if (rc != KM_OK) {
		km_cli_error("devices", NULL, "cannot list USB devices: %s", km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	if (n > MAX_MATS)
		n = MAX_MATS;
	if (n == 0) {
		if (!json)
			fprintf(stderr, "knotmap devices: no mat found (the virtual mat is always "
			                "there: knotmap view --sim)\n");
		return KM_EXIT_NO_DEVICE;
	}
	size_t usable = 0;
	bool denied = false;
	if (!json)
		printf("%-20s %-9s %-8s %-9s %-7s %-12s %s\n", "SERIAL", "GRID", "PITCH",
		       "FIRMWARE", "RATE", "LOCATION", "STATUS");
	for (size_t i = 0; i < n; i++) {
		const struct km_device_info *d = &mats[i];
		if (d->status == KM_OK)
			usable++;
		if (d->status == KM_ERR_PERMISSION)
			denied = true;
		if (json) {
			print_json(d);
			continue;
		}
		if (d->status != KM_OK) {
			printf("%-20s %-9s %-8s %-9s %-7s %-12s %s\n", "?", "?", "?", "?", "?",
			       d->location, km_strerror(d->status));
			continue;
		}
		char grid[24], pitch[24], ver[24], rate[16];
		snprintf(grid, sizeof grid, "%ux%u", d->rows, d->cols);
		snprintf(pitch, sizeof pitch, "%.1f mm", (double)d->pitch_mm);
		snprintf(rate, sizeof rate, "%u Hz", d->rate_hz);
		fw(ver, sizeof ver, d->firmware_version);
		printf("%-20s %-9s %-8s %-9s %-7s %-12s %s\n", d->serial, grid, pitch, ver, rate,
		       d->location, "ok");
	}
	if (denied)
		fprintf(stderr, "knotmap devices: %s\n", km_device_permission_hint());
	return usable ? KM_EXIT_OK : KM_EXIT_FAILURE;
}

const struct km_cli_command km_cli_cmd_devices = {"devices", "list the mats plugged in over USB",
                                                  run_devices};
