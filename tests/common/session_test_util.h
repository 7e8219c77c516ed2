/* Helpers shared by the session, recording and CLI tests: temporary directories and frames. */
#ifndef KM_SESSION_TEST_UTIL_H
#define KM_SESSION_TEST_UTIL_H

#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "km_test_run.h"
#include "knotmap/core.h"

static int km_test_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Creates a fresh directory under $TMPDIR (or /tmp); caller frees with
 * km_test_rmdir. */
static inline char *km_test_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	static char buf[4096];
	snprintf(buf, sizeof buf, "%s/km-session-XXXXXX", base);
	char *d = mkdtemp(buf);
	return d ? strdup(d) : NULL;
}

static inline void km_test_rmdir(char *dir)
{
	if (dir)
		nftw(dir, km_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static inline char *km_test_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Deterministic test pattern for frame i. */
static inline void km_test_fill(struct km_frame *f, uint16_t *raw, uint32_t i)
{
	size_t n = km_frame_cells(f);
	for (size_t c = 0; c < n; c++) {
		uint32_t v = (uint32_t)(c * 2654435761u) ^ (i * 40503u);
		if (raw)
			raw[c] = (uint16_t)(v >> 7);
		f->kpa[c] = (float)((v >> 9) & 0xFFFF) / 997.0f;
	}
	f->sequence = 1000u + i;
	f->device_time_us = 5000000ull + (uint64_t)i * 10000u;
	f->host_time_us = 9000000000ull + (uint64_t)i * 10017u;
	f->flags = (i % 7 == 0) ? KM_FRAME_LOST_BEFORE : 0;
	f->dropped_since_last = (i % 7 == 0) ? i % 3 : 0;
}

static inline long km_test_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

#endif
