/*
 * Separable convolution row kernels: portable C, AVX2 + FMA and AVX-512.
 * See sepconv.h. The band-pass spends nearly all its DIRECT time here.
 *
 * Both passes are one loop, "n outputs, each a sum over taps k0..k1 of
 * w[k] * x[c + k * step]": along a row step is 1, across rows it is the row
 * stride.
 */
#include <string.h>

#include "km_internal.h"
#include "sepconv.h"

/* Taps -m..m pair up around the centre (w[k] == w[-k]): the pair's sum is
 * taken first, then one multiply-add. The rest of k0..k1 (a kernel clipped
 * at the grid's edge or at the rows with data) goes tap by tap. m is -1 when
 * k0..k1 does not hold the centre. */
#define KM_SEPCONV_FOLD(k0, k1) ((k0) <= 0 && (k1) >= 0 ? KM_MIN(-(k0), (k1)) : -1)

/* Portable: an 8-wide accumulator the compiler keeps in vector registers
 * (SSE2 at least on x86-64, NEON on ARM). */
static void row_portable(const float *x, long step, const float *w, int k0, int k1, int n, float *d)
{
	const int m = KM_SEPCONV_FOLD(k0, k1);
	for (int c = 0; c < n; c += 8) {
		float acc[8];
		for (int l = 0; l < 8; l++) /* no centre tap: x's own row is not read */
			acc[l] = m >= 0 ? w[0] * x[c + l] : 0.0f;
		for (int k = 1; k <= m; k++) {
			const float wk = w[k], *xp = x + (long)k * step + c,
			            *xm = x - (long)k * step + c;
			for (int l = 0; l < 8; l++)
				acc[l] += wk * (xp[l] + xm[l]);
		}
		for (int k = k0; k <= k1; k++) {
			if (k >= -m && k <= m)
				continue;
			const float wk = w[k], *xk = x + (long)k * step + c;
			for (int l = 0; l < 8; l++)
				acc[l] += wk * xk[l];
		}
		memcpy(d + c, acc, sizeof acc);
	}
}

static void along_portable(const float *e, const float *w, int h, int n, float *t)
{
	row_portable(e, 1, w, -h, h, n, t);
}

static const struct km_sepconv_ops portable_ops = {"portable", 1.7, along_portable, row_portable};

#ifdef KM_ISA_X86
#include <immintrin.h>

/*
 * x86: a row goes in blocks of up to four vectors with independent
 * accumulators, enough to hide the FMA latency (4 cycles, two issued per
 * cycle). nacc is a literal at every call of the inlined block, so the
 * accumulators stay in registers.
 */
__attribute__((target("avx2,fma"), always_inline)) static inline void
block_avx2(const float *x, long step, const float *w, int k0, int k1, float *d, int nacc)
{
	const int m = KM_SEPCONV_FOLD(k0, k1);
	__m256 a[4];
	const __m256 c0 = _mm256_set1_ps(w[0]);
	for (int i = 0; i < nacc; i++) /* no centre tap: x's own row is not read */
		a[i] = m >= 0 ? _mm256_mul_ps(c0, _mm256_loadu_ps(x + 8 * i)) : _mm256_setzero_ps();
	for (int k = 1; k <= m; k++) { /* w[k] == w[-k]: one multiply-add per pair */
		const __m256 wk = _mm256_set1_ps(w[k]);
		const float *xp = x + (long)k * step, *xm = x - (long)k * step;
		for (int i = 0; i < nacc; i++)
			a[i] = _mm256_fmadd_ps(
			    wk,
			    _mm256_add_ps(_mm256_loadu_ps(xp + 8 * i), _mm256_loadu_ps(xm + 8 * i)),
			    a[i]);
	}
	/* the unpaired taps, below and above the pairs */
	for (int k = k0; k <= KM_MIN(k1, -m - 1); k++) {
		const __m256 wk = _mm256_set1_ps(w[k]);
		for (int i = 0; i < nacc; i++)
			a[i] =
			    _mm256_fmadd_ps(wk, _mm256_loadu_ps(x + (long)k * step + 8 * i), a[i]);
	}
	for (int k = KM_MAX(k0, m + 1); k <= k1; k++) {
		const __m256 wk = _mm256_set1_ps(w[k]);
		for (int i = 0; i < nacc; i++)
			a[i] =
			    _mm256_fmadd_ps(wk, _mm256_loadu_ps(x + (long)k * step + 8 * i), a[i]);
	}
	for (int i = 0; i < nacc; i++)
		_mm256_storeu_ps(d + 8 * i, a[i]);
}

__attribute__((target("avx2,fma"))) static void row_avx2(const float *x, long step, const float *w,
                                                         int k0, int k1, int n, float *d)
{
	int c = 0;
	for (; c + 32 <= n; c += 32)
		block_avx2(x + c, step, w, k0, k1, d + c, 4);
	switch ((n - c) / 8) { /* the one to three vectors left, together */
	case 3:
		block_avx2(x + c, step, w, k0, k1, d + c, 3);
		break;
	case 2:
		block_avx2(x + c, step, w, k0, k1, d + c, 2);
		break;
	case 1:
		block_avx2(x + c, step, w, k0, k1, d + c, 1);
		break;
	default:
		break;
	}
}

__attribute__((target("avx2,fma"))) static void along_avx2(const float *e, const float *w, int h,
                                                           int n, float *t)
{
	row_avx2(e, 1, w, -h, h, n, t);
}

__attribute__((target("avx512f"), always_inline)) static inline void
block_avx512(const float *x, long step, const float *w, int k0, int k1, float *d, int nacc)
{
	const int m = KM_SEPCONV_FOLD(k0, k1);
	__m512 a[4];
	const __m512 c0 = _mm512_set1_ps(w[0]);
	for (int i = 0; i < nacc; i++) /* no centre tap: x's own row is not read */
		a[i] =
		    m >= 0 ? _mm512_mul_ps(c0, _mm512_loadu_ps(x + 16 * i)) : _mm512_setzero_ps();
	for (int k = 1; k <= m; k++) { /* w[k] == w[-k]: one multiply-add per pair */
		const __m512 wk = _mm512_set1_ps(w[k]);
		const float *xp = x + (long)k * step, *xm = x - (long)k * step;
		for (int i = 0; i < nacc; i++)
			a[i] = _mm512_fmadd_ps(wk,
			                       _mm512_add_ps(_mm512_loadu_ps(xp + 16 * i),
			                                     _mm512_loadu_ps(xm + 16 * i)),
			                       a[i]);
	}
	/* the unpaired taps, below and above the pairs */
	for (int k = k0; k <= KM_MIN(k1, -m - 1); k++) {
		const __m512 wk = _mm512_set1_ps(w[k]);
		for (int i = 0; i < nacc; i++)
			a[i] =
			    _mm512_fmadd_ps(wk, _mm512_loadu_ps(x + (long)k * step + 16 * i), a[i]);
	}
	for (int k = KM_MAX(k0, m + 1); k <= k1; k++) {
		const __m512 wk = _mm512_set1_ps(w[k]);
		for (int i = 0; i < nacc; i++)
			a[i] =
			    _mm512_fmadd_ps(wk, _mm512_loadu_ps(x + (long)k * step + 16 * i), a[i]);
	}
	for (int i = 0; i < nacc; i++)
		_mm512_storeu_ps(d + 16 * i, a[i]);
}

__attribute__((target("avx512f"))) static void row_avx512(const float *x, long step, const float *w,
                                                          int k0, int k1, int n, float *d)
{
	int c = 0;
	for (; c + 64 <= n; c += 64)
		block_avx512(x + c, step, w, k0, k1, d + c, 4);
	switch ((n - c) / 16) {
	case 3:
		block_avx512(x + c, step, w, k0, k1, d + c, 3);
		break;
	case 2:
		block_avx512(x + c, step, w, k0, k1, d + c, 2);
		break;
	case 1:
		block_avx512(x + c, step, w, k0, k1, d + c, 1);
		break;
	default:
		break;
	}
}

__attribute__((target("avx512f"))) static void along_avx512(const float *e, const float *w, int h,
                                                            int n, float *t)
{
	row_avx512(e, 1, w, -h, h, n, t);
}

static const struct km_sepconv_ops avx2_ops = {"avx2+fma", 0.45, along_avx2, row_avx2};
static const struct km_sepconv_ops avx512_ops = {"avx512", 0.34, along_avx512, row_avx512};
#endif

const struct km_sepconv_ops *km__sepconv_ops(enum km__isa limit)
{
	switch (km__isa_best(limit)) {
#ifdef KM_ISA_X86
	case KM_ISA_AVX512:
		return &avx512_ops;
	case KM_ISA_AVX2:
		return &avx2_ops;
#endif
	default:
		return &portable_ops;
	}
}
