/*
 * Separable convolution row kernels for the band-pass's DIRECT path (internal).
 *
 * Two passes of a symmetric 1-D kernel w[-h..h] (w points at the centre tap):
 *   along_row:   t[c] = sum_{k=-h..h} w[k] * e[c + k]                c in [0, n)
 *     e has h readable floats before e[0] and n + h from it (the caller
 *     pads: zeros for a flat mat, the wrapped row for a cylinder);
 *   across_rows: d[c] = sum_{k=k0..k1} w[k] * s[c + k * stride]
 *     (the caller leaves out rows beyond the grid, zero padding, and rows
 *     it knows are zero; k0..k1 need not hold 0).
 * Both pair the taps -m..m (w[k] == w[-k]): a sum, then one multiply-add.
 * n is a multiple of KM_SEPCONV_LANES: row buffers are padded to it.
 *
 * Implementations with the same contract: portable C (any compiler, any CPU)
 * and, on x86 with GCC or Clang, AVX2 + FMA (8 lanes) and AVX-512 (16 lanes),
 * chosen at run time by what the CPU has. FMA rounds once per tap, so the
 * vector results differ from the portable ones in the last bits only.
 */
#ifndef KM_DSP_SEPCONV_H
#define KM_DSP_SEPCONV_H

#include "isa.h"

/* Row buffers are padded to a multiple of this many floats (one AVX-512
 * vector). */
#define KM_SEPCONV_LANES 16

struct km_sepconv_ops {
	const char *name; /* "avx512", "avx2+fma" or "portable" */
	/* Time of one tap on one cell, in the band-pass cost model's units
	 * (FFT flops; measured by bench/dsp against FFTW on this kind of CPU). */
	double tap_cost;
	void (*along_row)(const float *e, const float *w, int h, int n, float *t);
	void (*across_rows)(const float *s, long stride, const float *w, int k0, int k1, int n,
	                    float *d);
};

/* The widest implementation, up to limit, that this CPU runs. Never NULL. */
const struct km_sepconv_ops *km__sepconv_ops(enum km__isa limit);

#endif
