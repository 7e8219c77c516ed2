/* The CSV float formatter against its definition in libc: "%.6g" when strtof reads it
 * back as the same float, else "%.9g"; "nan" for NaN and infinities. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_float.h"

static size_t ref_cell(char *buf, size_t cap, float v)
{
	if (!isfinite(v))
		return (size_t)snprintf(buf, cap, "nan");
	int n = snprintf(buf, cap, "%.6g", (double)v);
	if (strtof(buf, NULL) != v)
		n = snprintf(buf, cap, "%.9g", (double)v);
	return (size_t)n;
}

static float from_bits(uint32_t u)
{
	float v;
	memcpy(&v, &u, sizeof v);
	return v;
}

static uint32_t to_bits(float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	return u;
}

/* xorshift64*: deterministic, so a failure names a reproducible value. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static uint64_t checked;

/* The cell text and %.1g..%.9g of v, each against libc. */
static void check(float v)
{
	char got[KM__FMT_FLOAT_MAX], want[64];
	memset(got, 'x', sizeof got);
	size_t n = km__fmt_float(got, v);
	size_t wn = ref_cell(want, sizeof want, v);
	if (n != wn || strcmp(got, want) != 0)
		cr_assert_fail("cell text of %a (0x%08x): got \"%s\" (%zu), want \"%s\"", (double)v,
		               to_bits(v), got, n, want);
	for (int prec = 6; prec <= 9; prec += 3) {
		n = km__fmt_float_g(got, v, prec);
		wn = (size_t)snprintf(want, sizeof want, "%.*g", prec, (double)v);
		if (n != wn || strcmp(got, want) != 0)
			cr_assert_fail("%%.%dg of %a (0x%08x): got \"%s\", want \"%s\"", prec,
			               (double)v, to_bits(v), got, want);
	}
	checked++;
}

/* Every precision on fewer values: the rounding at other digit counts. */
static void check_all_prec(float v)
{
	char got[KM__FMT_FLOAT_MAX], want[64];
	for (int prec = 1; prec <= 9; prec++) {
		size_t n = km__fmt_float_g(got, v, prec);
		size_t wn = (size_t)snprintf(want, sizeof want, "%.*g", prec, (double)v);
		if (n != wn || strcmp(got, want) != 0)
			cr_assert_fail("%%.%dg of %a (0x%08x): got \"%s\", want \"%s\"", prec,
			               (double)v, to_bits(v), got, want);
	}
}

Test(fmt_float, special_values)
{
	char b[KM__FMT_FLOAT_MAX];
	cr_assert_eq(km__fmt_float(b, NAN), 3);
	cr_assert_str_eq(b, "nan");
	km__fmt_float(b, -NAN);
	cr_assert_str_eq(b, "nan");
	km__fmt_float(b, INFINITY);
	cr_assert_str_eq(b, "nan", "the CSV has always written nan for infinities");
	km__fmt_float(b, -INFINITY);
	cr_assert_str_eq(b, "nan");
	cr_assert_eq(km__fmt_float(b, 0.0f), 1);
	cr_assert_str_eq(b, "0");
	cr_assert_eq(km__fmt_float(b, -0.0f), 2);
	cr_assert_str_eq(b, "-0");
	km__fmt_float(b, 0.1f);
	cr_assert_str_eq(b, "0.1");
	km__fmt_float(b, 1.0f / 3.0f);
	cr_assert_str_eq(b, "0.333333343");
	km__fmt_float(b, 100000.0f);
	cr_assert_str_eq(b, "100000");
	km__fmt_float(b, 1000000.0f);
	cr_assert_str_eq(b, "1e+06");
	km__fmt_float(b, 16777217.0f); /* 2^24 + 1 is 2^24 in float */
	cr_assert_str_eq(b, "16777216");
	km__fmt_float(b, 0.0001f);
	cr_assert_str_eq(b, "0.0001");
	km__fmt_float(b, 0.00001f);
	cr_assert_str_eq(b, "1e-05");
	km__fmt_float(b, FLT_MAX);
	cr_assert_str_eq(b, "3.40282347e+38");
	km__fmt_float(b, -FLT_MIN);
	cr_assert_str_eq(b, "-1.17549435e-38");
	km__fmt_float(b, FLT_TRUE_MIN);
	cr_assert_str_eq(b, "1.4013e-45"); /* a subnormal: 6 digits read back */
	const float edge[] = {0.0f,      -0.0f,       FLT_MIN,       FLT_MAX,         FLT_TRUE_MIN,
	                      1e-23f,    1.0001e-23f, 9.999e-24f,    1.17549421e-38f, 123.456f,
	                      0.5f,      5e-5f,       9.99999e-5f,   9.999995e-5f,    99999.95f,
	                      999999.5f, 9999999.5f,  4294967296.0f, 1e38f,           3.4e38f};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		check(edge[i]);
		check(-edge[i]);
		check_all_prec(edge[i]);
	}
}

Test(fmt_float, random_bit_patterns)
{
	/* Every sign, exponent and mantissa equally: subnormals, NaNs and the libc
	 * fallback below 1e-23 included. */
	for (int i = 0; i < 1500000; i++)
		check(from_bits((uint32_t)(next64() >> 32)));
	for (int i = 0; i < 200000; i++)
		check_all_prec(from_bits((uint32_t)(next64() >> 32)));
	cr_log_info("%llu values checked", (unsigned long long)checked);
}

Test(fmt_float, kpa_range)
{
	/* What a mat reports: 0..2000 kPa, uniform and at the 0.01 kPa resolution of
	 * the sensor (every step), plus the 12-bit and 16-bit raw counts exactly. */
	for (int i = 0; i < 700000; i++) {
		float v = (float)(next64() >> 40) / (float)(1u << 24) * 2000.0f;
		check(v);
	}
	for (int k = 0; k <= 200000; k++)
		check((float)k / 100.0f);
	for (int k = 0; k <= 65535; k++)
		check((float)k);
	/* Small positives from calibration noise: 1e-9..1 kPa, log-uniform. */
	for (int i = 0; i < 300000; i++)
		check(powf(10.0f, -9.0f * (float)(next64() >> 40) / (float)(1u << 24)));
}

Test(fmt_float, every_exponent_edges)
{
	/* Each binade's first and last floats and their neighbours (the lower gap of a
	 * power of two is half the upper one), and the floats around every power of ten
	 * (where rounding carries into a new digit). */
	for (uint32_t be = 0; be < 255; be++) {
		for (uint32_t mant = 0; mant < 4; mant++) {
			uint32_t lo = be << 23 | mant, hi = be << 23 | (0x7fffffu - mant);
			check(from_bits(lo));
			check(from_bits(hi));
			check(from_bits(lo | 0x80000000u));
		}
	}
	for (int p = -45; p <= 38; p++) {
		char s[32];
		snprintf(s, sizeof s, "1e%d", p);
		float t = strtof(s, NULL);
		uint32_t u = to_bits(t);
		for (uint32_t d = 0; d < 64 && d <= u; d++) {
			check(from_bits(u - d));
			check(from_bits(u + d));
			check_all_prec(from_bits(u + d));
		}
	}
}

Test(fmt_float, decimal_midpoints)
{
	/* The floats nearest to random 6- and 9-digit decimals and to the midpoints
	 * between them: where half-to-even rounding and the read-back test decide. */
	char s[64];
	for (int i = 0; i < 300000; i++) {
		uint64_t r = next64();
		int digits = (r & 1) ? 6 : 9;
		uint64_t lead = (r >> 8) % 900000000ull + 100000000ull;
		if (digits == 6)
			lead /= 1000;
		int exp10 = (int)((r >> 40) % 80) - 40;
		bool mid = (r >> 50) & 1;
		snprintf(s, sizeof s, "%llu%se%d", (unsigned long long)lead, mid ? "5" : "", exp10);
		float v = strtof(s, NULL);
		if (!isfinite(v) || v == 0.0f)
			continue;
		uint32_t u = to_bits(v);
		check(v);
		check(from_bits(u + 1));
		check(from_bits(u - 1));
	}
}

/* Every one of the 2^32 floats (a few minutes, not run by default):
 *   KM_FMT_FLOAT_EXHAUSTIVE=1 ./test_session_fmt_float --filter fmt_float/exhaustive */
Test(fmt_float, exhaustive, .timeout = 0)
{
	const char *env = getenv("KM_FMT_FLOAT_EXHAUSTIVE");
	if (!env || strcmp(env, "1") != 0)
		cr_skip_test("set KM_FMT_FLOAT_EXHAUSTIVE=1");
	uint32_t u = 0;
	do {
		check(from_bits(u));
	} while (++u != 0);
	cr_assert_eq(checked, 1ull << 32);
}
