/*
 * Spot detection's per-cell scans (internal): row compares packed into bit
 * rows and the band split of the exact median. Portable C (any compiler, any
 * CPU) and, on x86 with GCC or Clang, AVX2 and AVX-512 versions chosen at run
 * time. Every version gives the same bits and values: they only compare and
 * copy, and the one product (the contrast test) is the same two IEEE
 * multiplications as the scalar code.
 */
#ifndef KM_DSP_DETECT_SCAN_H
#define KM_DSP_DETECT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "knotmap/detect.h"

/* Index of the lowest set bit of x (x != 0), for walking hit bits. Always
 * inlined: the vector scans call it (see detect_scan.c on vzeroupper). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline)) static inline int km__ctz64(uint64_t x)
{
	return __builtin_ctzll(x);
}
#else
static inline int km__ctz64(uint64_t x)
{
	int n = 0;
	while (!(x & 1u)) {
		x >>= 1;
		n++;
	}
	return n;
}
#endif

/* One row of one response layer, for km__detect_ops.row_hits. */
struct km__scan_row {
	const float *m;  /* the row, cols values */
	const float *u;  /* the row above it in the same layer (nms only) */
	const float *bg; /* background row, or NULL: no contrast test */
	float weak;      /* v > weak */
	float mc, wf;    /* with bg: v > wf * (mc * (bg > 0 ? bg : 0)) */
	int nms;         /* also v > left, upper left, upper, upper right (raw, wrapping) */
	int cols;
};

struct km__detect_ops {
	const char *name; /* "avx512", "avx2" or "portable" */
	/* out[0 .. (n + 63) / 64): bit c is x[c] > w, bits from n on are 0. */
	void (*gt_bits)(const float *x, int n, float w, uint64_t *out);
	/* out[0 .. (cols + 63) / 64): bit c is set when cell c passes every test
	 * of the row (columns wrap: left of 0 is cols - 1); bits from cols on are 0. */
	void (*row_hits)(const struct km__scan_row *a, uint64_t *out);
	/* Stable split of a[0..n): the values lo <= x <= hi to band (room for
	 * n + 16), in order; returns their number, *lt = values below lo. */
	size_t (*band)(const float *a, size_t n, float lo, float hi, float *band, size_t *lt);
};

/* The widest implementation, up to isa, that this CPU runs. Never NULL. */
const struct km__detect_ops *km__detect_ops(enum km__isa isa);

/* Makes d use km__detect_ops(isa) (create picks the widest); for tests and
 * benchmarks. Returns the name of the one chosen, or NULL when d is NULL. */
const char *km__detect_set_isa(km_detect *d, enum km__isa isa);

#endif
