/*
 * Seeds of fuzz_sim_scenario: every shipped scenario file (read from the
 * source tree at build time) and a few small ones for each encoding and
 * geometry.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seeds.h"

static const char *const small[] = {
    "[mat]\nrows = 8\ncols = 8\n",
    "[mat]\nrows = 16\ncols = 12\nencoding = raw16\n[sensor]\nadc_bits = 16\n",
    "[mat]\nrows = 8\ncols = 24\nencoding = delta\n[knot]\nx_mm = 60\ny_mm = 30\n",
    "[mat]\nrows = 12\ncols = 8\nencoding = delta_temporal\nkey_interval = 2\n"
    "[faults]\ndead_cells = 3\nstuck_cells = 2\ndead_row = 1\n",
    "[scenario]\nseed = 7\n[mat]\nrows = 16\ncols = 32\ngeometry = cylinder\n"
    "[body]\npresent = no\n[tool]\ntype = roller_device\n",
    "[mat]\nrows = 8\ncols = 8\nstart_running = no\n[breathing]\nrate_hz = 1\n"
    "[tensing]\ninterval = 0 1 withdrawal\n[motion]\nstep = hold 1 30 30 0.2\nloop = yes\n",
};

void seeds_sim(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_sim_scenario", out);
	char name[64];
	for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
		snprintf(name, sizeof name, "small-%zu.ini", i);
		seed_write(dir, name, small[i], strlen(small[i]));
	}
	DIR *d = opendir(KM_FUZZ_SCENARIO_DIR);
	if (!d)
		return; /* the shipped files are a bonus */
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".ini") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", KM_FUZZ_SCENARIO_DIR, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		struct seed_buf b = {0};
		char chunk[4096];
		size_t got;
		while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
			seed_put(&b, chunk, got);
		fclose(f);
		seed_write_buf(dir, e->d_name, &b);
		seed_free(&b);
	}
	closedir(d);
}
