/* Shared helpers for the protocol tests: a deterministic PRNG and frame
 * generators (random, smooth body-like contact, constant). */
#ifndef PROTO_TEST_UTIL_H
#define PROTO_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "knotmap/protocol.h"

static inline uint32_t tu_rand(uint64_t *s)
{
	/* xorshift64*: deterministic, good enough for test data. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t)((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

static inline void tu_fill_random(uint16_t *x, size_t n, uint32_t max, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++)
		x[i] = (uint16_t)(tu_rand(&s) % (max + 1u));
}

/* A smooth pressure map in 12-bit counts: two Gaussian contact blobs (a back
 * and a tool) covering part of the mat, zero elsewhere, plus +-noise counts of
 * ADC noise where loaded. Roughly what a person lying on the mat gives. */
static inline void tu_fill_smooth(uint16_t *x, uint16_t rows, uint16_t cols, int noise,
                                  uint64_t seed)
{
	uint64_t s = seed | 1;
	for (uint16_t r = 0; r < rows; r++) {
		for (uint16_t c = 0; c < cols; c++) {
			double y = (r + 0.5) / rows, z = (c + 0.5) / cols;
			double body =
			    1800.0 * exp(-(pow((y - 0.5) / 0.22, 2) + pow((z - 0.5) / 0.16, 2)));
			double tool =
			    2200.0 * exp(-(pow((y - 0.35) / 0.04, 2) + pow((z - 0.45) / 0.04, 2)));
			double v = body + tool;
			if (v < 40.0) {
				x[(size_t)r * cols + c] = 0; /* below the sensor threshold */
				continue;
			}
			if (noise > 0)
				v += (double)((int)(tu_rand(&s) % (uint32_t)(2 * noise + 1)) -
				              noise);
			if (v > 4095.0)
				v = 4095.0;
			x[(size_t)r * cols + c] = (uint16_t)v;
		}
	}
}

#endif
