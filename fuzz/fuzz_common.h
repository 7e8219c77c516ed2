/*
 * Shared helpers of the libFuzzer targets in fuzz/. Harness code, not
 * library code: a failed property prints where and aborts, which libFuzzer
 * reports as a crash and saves the input.
 */
#ifndef KM_FUZZ_COMMON_H
#define KM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,        \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A return code must be KM_OK or one of the codes in the list (terminated by
 * KM_OK): anything else is an undocumented code. */
static inline bool fuzz_rc_in(int rc, const int *allowed)
{
	if (rc == KM_OK)
		return true;
	for (; *allowed != KM_OK; allowed++)
		if (rc == *allowed)
			return true;
	return false;
}

#define FUZZ_CHECK_RC(rc, ...)                                                                     \
	do {                                                                                       \
		static const int fuzz_allowed_[] = {__VA_ARGS__, KM_OK};                           \
		if (!fuzz_rc_in((rc), fuzz_allowed_)) {                                            \
			fprintf(stderr, "%s:%d: undocumented return code %d (%s)\n", __FILE__,     \
			        __LINE__, (rc), km_error_name(rc));                                \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Reads the input front to back; past the end every read gives 0. */
struct fuzz_reader {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_reader *r)
{
	uint16_t lo = fuzz_u8(r);
	return (uint16_t)(lo | (uint16_t)(fuzz_u8(r) << 8));
}

/* A heap copy of exactly n bytes (ASan then catches a read one past the
 * end); never NULL for n == 0. */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	FUZZ_CHECK(c != NULL);
	if (n)
		memcpy(c, p, n);
	return c;
}

/* Reads every cell so ASan sees an out-of-bounds frame buffer. */
static inline uint32_t fuzz_touch_u16(const uint16_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

#endif /* KM_FUZZ_COMMON_H */
