/*
 * Helpers shared by the reliability tests: a counting allocator for
 * libknotmap (live blocks and bytes, so "memory is flat" is an exact check),
 * RSS from /proc, monotonic time, and a tiny check macro for the plain
 * (non-Criterion) executables that ThreadSanitizer runs.
 */
#ifndef KM_TEST_REL_UTIL_H
#define KM_TEST_REL_UTIL_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "knotmap/core.h"

/* ---- counting allocator: every block carries its size in front ---- */

static atomic_long rel_live_blocks;
static atomic_long rel_live_bytes;

#define REL_HDR 16 /* keeps malloc's 16-byte alignment */

static inline void *rel_alloc(void *user, size_t size)
{
	(void)user;
	unsigned char *p = malloc(size + REL_HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof size);
	atomic_fetch_add(&rel_live_blocks, 1);
	atomic_fetch_add(&rel_live_bytes, (long)size);
	return p + REL_HDR;
}

static inline void rel_free(void *user, void *ptr)
{
	(void)user;
	if (!ptr)
		return;
	unsigned char *p = (unsigned char *)ptr - REL_HDR;
	size_t size;
	memcpy(&size, p, sizeof size);
	atomic_fetch_sub(&rel_live_blocks, 1);
	atomic_fetch_sub(&rel_live_bytes, (long)size);
	free(p);
}

static inline void *rel_realloc(void *user, void *ptr, size_t size)
{
	if (!ptr)
		return rel_alloc(user, size);
	unsigned char *p = (unsigned char *)ptr - REL_HDR;
	size_t old;
	memcpy(&old, p, sizeof old);
	unsigned char *q = realloc(p, size + REL_HDR);
	if (!q)
		return NULL;
	memcpy(q, &size, sizeof size);
	atomic_fetch_add(&rel_live_bytes, (long)size - (long)old);
	return q + REL_HDR;
}

/* Installs the counting allocator (before any library object exists). */
static inline void rel_count_allocations(void)
{
	struct km_allocator a = {rel_alloc, rel_realloc, rel_free, NULL};
	km_set_allocator(&a);
}

static inline long rel_live(long *bytes)
{
	if (bytes)
		*bytes = atomic_load(&rel_live_bytes);
	return atomic_load(&rel_live_blocks);
}

/* Resident set size of this process, KiB (0 when /proc is unreadable). */
static inline long rel_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Threads of this process (from /proc/self/status), -1 when unknown. */
static inline int rel_threads(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static inline double rel_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void rel_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Integer knob from the environment (e.g. KM_FAULT_SECONDS), else def. */
static inline long rel_env_long(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	long x = strtol(v, &end, 10);
	if (*end || x < lo || x > hi)
		return def;
	return x;
}

/* ---- plain test executables (ThreadSanitizer cannot run Criterion) ---- */

static int rel_failures __attribute__((unused));

#define REL_CHECK(cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			rel_failures++;                                                            \
		}                                                                                  \
	} while (0)

#define REL_RUN(fn)                                                                                \
	do {                                                                                       \
		int before_ = rel_failures;                                                        \
		double t0_ = rel_now_s();                                                          \
		fn();                                                                              \
		fprintf(stderr, "[%s] %s (%.2f s)\n", rel_failures == before_ ? "PASS" : "FAIL",   \
		        #fn, rel_now_s() - t0_);                                                   \
	} while (0)

#endif
