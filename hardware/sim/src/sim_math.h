/* The virtual mat's random numbers and fast maths (inline: the per-cell loops
 * of the sensor model use them), shared by its source files. */
#ifndef KM_SIM_MATH_H
#define KM_SIM_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sim_internal.h"

#define G_N_PER_KG 9.81f
#define TWO_PI 6.28318530717958647692
#define KM_PI 3.14159265358979323846
#define KM_PI_F 3.14159265f

/* ------------------------------------------------------------------------ */
/* Random numbers and fast maths                                             */
/* ------------------------------------------------------------------------ */

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline void rng_seed(struct km__sim_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct km__sim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, 1), 53 bits. */
static inline double rng_uniform(struct km__sim_rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Exact normal (Box-Muller) for the static per-cell parameters. */
static inline double rng_normal(struct km__sim_rng *r)
{
	double u1 = rng_uniform(r), u2 = rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

/* Per-frame noise: Irwin-Hall sum of four 16-bit uniforms from one draw,
 * scaled to unit variance (tails end at +-3.46 SD, fine for ADC noise). */
static inline float rng_fast_normal(struct km__sim_rng *r)
{
	uint64_t x = rng_next(r);
	uint32_t s = (uint32_t)(x & 0xFFFF) + (uint32_t)((x >> 16) & 0xFFFF) +
	             (uint32_t)((x >> 32) & 0xFFFF) + (uint32_t)(x >> 48);
	return ((float)s - 131070.0f) * (1.0f / 37837.23f);
}

/* log2 for x > 0 (normal floats), |error| < 1e-7: atanh series around the
 * mantissa reduced to [sqrt(1/2), sqrt(2)). Branch-free so that the sensor
 * loop vectorises. */
static inline float fast_log2(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	int32_t e = (int32_t)((u >> 23) & 0xFFu) - 127;
	u = (u & 0x007FFFFFu) | 0x3F800000u;
	float m;
	memcpy(&m, &u, sizeof m);
	int32_t big = m > 1.41421356f;
	float mh = m * 0.5f;
	m = big ? mh : m;
	e += big;
	float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
	float s =
	    t * (2.0f + t2 * (0.6666667f + t2 * (0.4f + t2 * (0.2857143f + t2 * 0.2222222f))));
	return (float)e + s * 1.44269504f;
}

/* 2^x, x clamped to [-100, 100], relative error ~2e-7 (degree-6 Taylor on
 * [-0.5, 0.5]); branch-free. */
static inline float fast_exp2(float x)
{
	x = x < -100.0f ? -100.0f : (x > 100.0f ? 100.0f : x);
	float xr = x + 0.5f;
	int32_t n = (int32_t)xr;
	n -= xr < (float)n; /* floor */
	float f = (x - (float)n) * 0.69314718f;
	float p =
	    1.0f +
	    f * (1.0f +
	         f * (0.5f + f * (0.16666667f +
	                          f * (0.041666667f + f * (0.0083333333f + f * 0.0013888889f)))));
	uint32_t bits = (uint32_t)(n + 127) << 23;
	float sc;
	memcpy(&sc, &bits, sizeof sc);
	return p * sc;
}

static inline float fast_pow(float x, float e)
{
	return fast_exp2(e * fast_log2(x));
}

#endif
