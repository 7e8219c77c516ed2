/* Exact "%.Ng" of a float without printf. glibc formats every float through
 * multi-precision arithmetic, which was half of a CSV export's time. A finite float
 * is m * 2^e with m < 2^24, so v * 10^s at the 9 significant digits any float needs
 * is a 128-bit integer q plus a remainder; every rounding below (half to even on the
 * exact binary value, as glibc does) and the read-back check are exact integer
 * comparisons. Values below ~1e-23 (subnormals included) go to libc. */
#include "fmt_float.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t fmt_libc(char *buf, float v, int prec)
{
	int n = snprintf(buf, KM__FMT_FLOAT_MAX, "%.*g", prec, (double)v);
	return n < 0 ? 0 : (size_t)n;
}

/* The definition of the CSV cell text; the fast path must match it exactly. */
static size_t cell_libc(char *buf, float v)
{
	if (!isfinite(v)) {
		memcpy(buf, "nan", 4);
		return 3;
	}
	size_t n = fmt_libc(buf, v, 6);
	if (strtof(buf, NULL) != v)
		n = fmt_libc(buf, v, 9);
	return n;
}

/* The fast path: 128-bit integers, and ascii8 writes the first digit to the lowest byte. */
#if defined(__SIZEOF_INT128__) && defined(__BYTE_ORDER__) &&                                       \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__

__extension__ typedef unsigned __int128 u128;

static const uint64_t pow10_64[20] = {1ull,
                                      10ull,
                                      100ull,
                                      1000ull,
                                      10000ull,
                                      100000ull,
                                      1000000ull,
                                      10000000ull,
                                      100000000ull,
                                      1000000000ull,
                                      10000000000ull,
                                      100000000000ull,
                                      1000000000000ull,
                                      10000000000000ull,
                                      100000000000000ull,
                                      1000000000000000ull,
                                      10000000000000000ull,
                                      100000000000000000ull,
                                      1000000000000000000ull,
                                      10000000000000000000ull};

/* 10^k, k <= 38 */
static u128 pow10_128(int k)
{
	return k <= 19 ? pow10_64[k] : (u128)pow10_64[19] * pow10_64[k - 19];
}

/* 5^k, k <= 54 (5^27 < 2^63) */
static u128 pow5_128(int k)
{
	u128 p = 1;
	for (; k >= 27; k -= 27)
		p *= 7450580596923828125ull;
	static const uint64_t small[27] = {1ull,
	                                   5ull,
	                                   25ull,
	                                   125ull,
	                                   625ull,
	                                   3125ull,
	                                   15625ull,
	                                   78125ull,
	                                   390625ull,
	                                   1953125ull,
	                                   9765625ull,
	                                   48828125ull,
	                                   244140625ull,
	                                   1220703125ull,
	                                   6103515625ull,
	                                   30517578125ull,
	                                   152587890625ull,
	                                   762939453125ull,
	                                   3814697265625ull,
	                                   19073486328125ull,
	                                   95367431640625ull,
	                                   476837158203125ull,
	                                   2384185791015625ull,
	                                   11920928955078125ull,
	                                   59604644775390625ull,
	                                   298023223876953125ull,
	                                   1490116119384765625ull};
	return p * small[k];
}

/* What the exact value has beyond the integer q: nothing, less than, exactly or
 * more than one half. Enough for round half to even at any coarser digit. */
enum { F_ZERO, F_BELOW, F_HALF, F_ABOVE };

static int frac_class(u128 r, u128 d)
{
	if (r == 0)
		return F_ZERO;
	u128 rest = d - r;
	return r < rest ? F_BELOW : r == rest ? F_HALF : F_ABOVE;
}

/* Inlined everywhere so the powers of ten are constants (no divide instructions). */
#define INLINE static inline __attribute__((always_inline))

/* Moves the low j digits of q (j >= 1) into the fraction class. */
INLINE uint64_t drop_digits(uint64_t q, int j, int *cls)
{
	uint64_t p = pow10_64[j], low = q % p, half = p / 2;
	if (low < half)
		*cls = (low == 0 && *cls == F_ZERO) ? F_ZERO : F_BELOW;
	else if (low == half)
		*cls = *cls == F_ZERO ? F_HALF : F_ABOVE;
	else
		*cls = F_ABOVE;
	return q / p;
}

/* m * 2^e (2^23 <= m < 2^24) = (q + f) * 10^(x - 8) with 10^8 <= q < 10^9 and f's
 * class in cls. False below ~1e-23, where the products would not fit 128 bits. */
INLINE bool decimal9(uint32_t m, int e, uint64_t *q9, int *cls, int *x)
{
	int b = e + 23;             /* 2^b <= v < 2^(b+1) */
	int xe = (b * 78913) >> 18; /* floor(b log10 2): x is xe or xe + 1 */
	if (xe < -23)
		return false;
	int s = 8 - xe; /* v * 10^s in [1e8, 1e10) */
	uint64_t q;
	int c;
	if (e >= 0) {
		if (s >= 0) { /* v < 1e10: small integers */
			q = ((uint64_t)m * pow10_64[s]) << e;
			c = F_ZERO;
		} else { /* m << e < 2^128, 10^-s <= 10^30 */
			u128 n = (u128)m << e, d = pow10_128(-s);
			q = (uint64_t)(n / d);
			c = frac_class(n % d, d);
		}
	} else if (s <= 11) { /* then -e <= 33 and m * 10^s < 2^61 */
		int sh = -e;
		uint64_t n = (uint64_t)m * pow10_64[s], r = n & ((1ull << sh) - 1),
		         half = 1ull << (sh - 1);
		q = n >> sh;
		c = r == 0 ? F_ZERO : r < half ? F_BELOW : r == half ? F_HALF : F_ABOVE;
	} else { /* e < 0 means v < 2^24, so s >= 1; s <= 31 and -e <= 99 */
		int sh = -e;
		u128 n = (u128)m * pow10_128(s), one = (u128)1 << sh;
		q = (uint64_t)(n >> sh);
		c = frac_class(n & (one - 1), one);
	}
	if (q >= pow10_64[9]) {
		q = drop_digits(q, 1, &c);
		xe++;
	}
	*q9 = q;
	*cls = c;
	*x = xe;
	return true;
}

/* q9 rounded half to even to prec (1..9) digits; x becomes the rounded value's. */
INLINE uint64_t round_to(uint64_t q9, int cls, int prec, int *x)
{
	uint64_t q = prec < 9 ? drop_digits(q9, 9 - prec, &cls) : q9;
	if (cls == F_ABOVE || (cls == F_HALF && (q & 1)))
		q++;
	if (q == pow10_64[prec]) {
		q = pow10_64[prec - 1];
		(*x)++;
	}
	return q;
}

/* Whether strtof (round to nearest, ties to even) reads n * 10^t back as m * 2^e:
 * n * 10^t * 2^(2-e) = n * 5^t * 2^(t+2-e) within [4m - lo, 4m + 2]. Both sides stay
 * below 2^100 for the range decimal9 takes (n * 10^t is within 1e-5 of m * 2^e). */
static bool reads_back(uint64_t n, int t, uint32_t m, int e, bool lo_quarter)
{
	u128 l = n, qd = 1;
	int p2 = t + 2 - e;
	if (t >= 0)
		l *= pow5_128(t);
	else
		qd = pow5_128(-t);
	if (p2 >= 0)
		l <<= p2;
	else
		qd <<= -p2;
	u128 hi = qd * (4 * (u128)m + 2), lo = qd * (4 * (u128)m - (lo_quarter ? 1 : 2));
	if (m & 1)
		return l > lo && l < hi;
	return l >= lo && l <= hi;
}

/* The 8 digits of r < 10^8 as ASCII, first digit in the lowest byte: two 4-digit lanes,
 * then 2-digit, then 1-digit lanes, by multiplications that stay inside each lane. */
INLINE uint64_t ascii8(uint32_t r)
{
	uint64_t v = (r / 10000) | ((uint64_t)(r % 10000) << 32);
	uint64_t q = ((v * 5243) >> 19) & 0x0000007F0000007Full; /* lane / 100 */
	v = q | ((v - q * 100) << 16);
	q = ((v * 103) >> 10) & 0x000F000F000F000Full; /* lane / 10 */
	v = q | ((v - q * 10) << 8);
	return v | 0x3030303030303030ull;
}

/* "%.{prec}g" of (-1)^neg * n * 10^(x - 8), 10^8 <= n < 10^9 (n already rounded to
 * prec digits). Writes whole 8-byte words past the text's end: needs
 * KM__FMT_FLOAT_MAX bytes. */
INLINE size_t emit_g(char *buf, bool neg, uint64_t n, int prec, int x)
{
	uint32_t n9 = (uint32_t)n;
	char c0 = (char)('0' + n9 / 100000000);
	uint64_t w = ascii8(n9 % 100000000);         /* digits 2..9 */
	uint64_t z = w ^ 0x3030303030303030ull;      /* zero bytes: '0' digits */
	int nd = z ? 9 - __builtin_clzll(z) / 8 : 1; /* %g drops trailing zeros */
	char *p = buf + neg;
	buf[0] = '-';
	if (x < -4 || x >= prec) {
		*p++ = c0;
		if (nd > 1) {
			*p++ = '.';
			memcpy(p, &w, 8);
			p += nd - 1;
		}
		unsigned ax = (unsigned)abs(x); /* floats: at most 2 digits */
		p[0] = 'e';
		p[1] = x < 0 ? '-' : '+';
		p[2] = (char)('0' + ax / 10);
		p[3] = (char)('0' + ax % 10);
		p += 4;
	} else if (x >= 0) { /* digits past nd are '0': the integer part is always there */
		p[0] = c0;
		memcpy(p + 1, &w, 8);
		if (nd > x + 1) {
			uint64_t frac = w >> (8 * x);
			p[x + 1] = '.';
			memcpy(p + x + 2, &frac, 8);
			p += nd + 1;
		} else {
			p += x + 1;
		}
	} else { /* 0.000ddd */
		memcpy(p, "0.000000", 8);
		p[1 - x] = c0;
		memcpy(p + 2 - x, &w, 8);
		p += 1 - x + nd;
	}
	*p = '\0';
	return (size_t)(p - buf);
}

struct parts {
	bool neg, zero, special; /* special: NaN, infinity, subnormal: libc */
	uint32_t m;
	int e;
	bool lo_quarter; /* the gap below is half the gap above (m = 2^23) */
};

INLINE struct parts split(float v)
{
	uint32_t bits;
	memcpy(&bits, &v, sizeof bits);
	struct parts p = {0};
	p.neg = bits >> 31;
	uint32_t be = (bits >> 23) & 0xff, mant = bits & 0x7fffff;
	p.zero = be == 0 && mant == 0;
	p.special = be == 0xff || (be == 0 && mant != 0);
	p.m = mant | (1u << 23);
	p.e = (int)be - 150;
	p.lo_quarter = mant == 0 && be > 1;
	return p;
}

static size_t zero(char *buf, bool neg)
{
	memcpy(buf, "-0", 3);
	if (neg)
		return 2;
	memcpy(buf, "0", 2);
	return 1;
}

size_t km__fmt_float(char *buf, float v)
{
	struct parts p = split(v);
	if (p.zero)
		return zero(buf, p.neg);
	uint64_t q9;
	int cls, x;
	if (p.special || !decimal9(p.m, p.e, &q9, &cls, &x))
		return cell_libc(buf, v);
	int x6 = x;
	uint64_t n6 = round_to(q9, cls, 6, &x6);
	/* In q9's units the gap to either neighbour float is below 10^9 / 2^24 < 60, so a
	 * 6-digit value further than 61 away never reads back: skip the exact test. */
	uint64_t d = n6 * (x6 > x ? 10000 : 1000);
	if (d <= q9 + 61 && q9 <= d + 61 && reads_back(n6, x6 - 5, p.m, p.e, p.lo_quarter))
		return emit_g(buf, p.neg, n6 * 1000, 6, x6);
	int x9 = x;
	uint64_t n9 = round_to(q9, cls, 9, &x9);
	return emit_g(buf, p.neg, n9, 9, x9);
}

size_t km__fmt_float_g(char *buf, float v, int prec)
{
	struct parts p = split(v);
	if (prec < 1 || prec > 9 || p.special)
		return fmt_libc(buf, v, prec);
	if (p.zero)
		return zero(buf, p.neg);
	uint64_t q9;
	int cls, x;
	if (!decimal9(p.m, p.e, &q9, &cls, &x))
		return fmt_libc(buf, v, prec);
	uint64_t n = round_to(q9, cls, prec, &x);
	return emit_g(buf, p.neg, n * pow10_64[9 - prec], prec, x);
}

#else /* libc */

size_t km__fmt_float(char *buf, float v)
{
	return cell_libc(buf, v);
}

size_t km__fmt_float_g(char *buf, float v, int prec)
{
	return fmt_libc(buf, v, prec);
}

#endif
