/* Logging, allocation hooks, version and time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "km_internal.h"

struct captured {
	int calls;
	enum km_log_level level;
	char module[32];
	char msg[600];
};

static void capture(void *user, enum km_log_level level, const char *module, const char *msg)
{
	struct captured *c = user;
	c->calls++;
	c->level = level;
	snprintf(c->module, sizeof c->module, "%s", module);
	snprintf(c->msg, sizeof c->msg, "%s", msg);
}

Test(log, silent_by_default_and_filtered_by_level)
{
	struct captured c = {0};
	km__log(NULL, KM_LOG_ERROR, "x", "nobody hears %d", 1);
	struct km_log quiet = {0};
	km__log(&quiet, KM_LOG_ERROR, "x", "still nobody");
	struct km_log log = {capture, &c, KM_LOG_WARN};
	km__log(&log, KM_LOG_INFO, "dsp", "dropped %s", "info");
	cr_assert_eq(c.calls, 0);
	km__log(&log, KM_LOG_WARN, "dsp", "kept %d", 42);
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(c.level, KM_LOG_WARN);
	cr_assert_str_eq(c.module, "dsp");
	cr_assert_str_eq(c.msg, "kept 42");
}

Test(log, long_messages_are_cut_not_overrun)
{
	struct captured c = {0};
	struct km_log log = {capture, &c, KM_LOG_DEBUG};
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	km__log(&log, KM_LOG_DEBUG, NULL, "%s", big);
	cr_assert_eq(c.calls, 1);
	cr_assert_str_eq(c.module, "knotmap");
	cr_assert_eq(strlen(c.msg), 511u);
	cr_assert_str_eq(km_log_level_name(KM_LOG_ERROR), "error");
	cr_assert_str_eq(km_log_level_name((enum km_log_level)9), "unknown");
}

static size_t hook_allocs, hook_frees;
static void *h_alloc(void *u, size_t n)
{
	(void)u;
	hook_allocs++;
	return malloc(n);
}
static void *h_realloc(void *u, void *p, size_t n)
{
	(void)u;
	hook_allocs++;
	return realloc(p, n);
}
static void h_free(void *u, void *p)
{
	(void)u;
	hook_frees++;
	free(p);
}
static void *fail_alloc(void *u, size_t n)
{
	(void)u;
	(void)n;
	return NULL;
}

Test(alloc, hooks_see_every_library_allocation)
{
	struct km_allocator a = {h_alloc, h_realloc, h_free, NULL};
	km_set_allocator(&a);
	uint64_t before = km__alloc_count();
	struct km_frame *f;
	cr_assert_eq(km_frame_create(8, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(hook_allocs, 2u);
	cr_assert_eq(km__alloc_count() - before, 2u);
	km_frame_destroy(f);
	cr_assert_eq(hook_frees, 2u);
	km_set_allocator(NULL);
}

Test(alloc, out_of_memory_is_reported_and_nothing_leaks)
{
	struct km_allocator a = {fail_alloc, h_realloc, h_free, NULL};
	km_set_allocator(&a);
	struct km_frame *f = (struct km_frame *)0x1;
	cr_assert_eq(km_frame_create(8, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_ERR_NO_MEMORY);
	cr_assert_null(f);
	km_set_allocator(NULL);
	/* calloc overflow must fail rather than wrap. */
	cr_assert_null(km__calloc(SIZE_MAX / 2, 4));
}

Test(version, string_matches_number)
{
	unsigned maj, min, pat;
	cr_assert_eq(sscanf(km_version_string(), "%u.%u.%u", &maj, &min, &pat), 3);
	cr_assert_eq(km_version_number(), (maj << 16) | (min << 8) | pat);
}

Test(time, monotonic_advances)
{
	uint64_t a = km_time_monotonic_us();
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	uint64_t b = km_time_monotonic_us();
	cr_assert_gt(b, a);
	cr_assert_geq(b - a, 1500u, "2 ms sleep measured as %llu us", (unsigned long long)(b - a));
}
