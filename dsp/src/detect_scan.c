/*
 * Spot detection's per-cell scans: portable C, AVX2 and AVX-512 versions of
 * the same contract (detect_scan.h).
 */
#include <float.h>
#include <string.h>

#include "detect_scan.h"
#include "km_internal.h"

/* 64 bytes of 0 / 1 -> one word, byte j -> bit j. */
static uint64_t pack_bits(const uint8_t *b)
{
	uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (int j = 0; j < 8; j++) {
		uint64_t v;
		memcpy(&v, b + 8 * j, 8);
		/* each byte's bit 0 lands in the top byte, in order (no carries) */
		w |= ((v * 0x0102040810204080u) >> 56) << (8 * j);
	}
#else
	for (int j = 0; j < 64; j++)
		w |= (uint64_t)b[j] << j;
#endif
	return w;
}

/* Helpers the vector versions call are inlined: GCC 12 leaves out the
 * vzeroupper before a tail call, and SSE code after dirty upper halves of
 * the vector registers runs several times slower. */
#if defined(__GNUC__) || defined(__clang__)
#define KM_INLINE __attribute__((always_inline)) static inline
#else
#define KM_INLINE static inline
#endif

/* row_hits() of one cell, columns wrapping: the reference, and the edge
 * columns of every version. */
KM_INLINE int hit_at(const struct km__scan_row *a, int c)
{
	float v = a->m[c];
	if (!(v > a->weak))
		return 0;
	if (a->bg) {
		float b = a->bg[c];
		float need = a->mc * (b > 0.0f ? b : 0.0f);
		if (!(v > a->wf * need))
			return 0;
	}
	if (a->nms) {
		int C = a->cols, cl = c > 0 ? c - 1 : C - 1, cr = c + 1 < C ? c + 1 : 0;
		if (!(v > a->m[cl]) || !(v > a->u[cl]) || !(v > a->u[c]) || !(v > a->u[cr]))
			return 0;
	}
	return 1;
}

KM_INLINE void fix_edges(const struct km__scan_row *a, uint64_t *out)
{
	int e[2] = {0, a->cols - 1};
	for (int i = 0; i < 2; i++) {
		uint64_t bit = (uint64_t)1 << (e[i] % 64);
		out[e[i] / 64] = hit_at(a, e[i]) ? out[e[i] / 64] | bit : out[e[i] / 64] & ~bit;
	}
}

/* Clears the hits hit_at() rejects, given bits that are v > weak. Branch
 * free per cell: whether a neighbour is larger is a coin toss. */
KM_INLINE void recheck(const struct km__scan_row *a, uint64_t *out)
{
	const float *m = a->m, *u = a->u;
	int C = a->cols;
	for (int w = 0; w < (C + 63) / 64; w++)
		for (uint64_t b = out[w]; b; b &= b - 1) {
			int c = 64 * w + km__ctz64(b);
			float v = m[c];
			int ok = 1;
			if (a->bg) {
				float bg = a->bg[c];
				float need = a->mc * (bg > 0.0f ? bg : 0.0f);
				ok = v > a->wf * need;
			}
			if (a->nms) {
				int cl = c > 0 ? c - 1 : C - 1, cr = c + 1 < C ? c + 1 : 0;
				ok &= (v > m[cl]) & (v > u[cl]) & (v > u[c]) & (v > u[cr]);
			}
			out[w] &= ~((uint64_t)!ok << (c % 64));
		}
}

static void gt_bits_portable(const float *x, int n, float w, uint64_t *out)
{
	for (int c0 = 0; c0 < n; c0 += 64) {
		uint8_t f[64] = {0};
		int k = KM_MIN(n - c0, 64);
		if (k == 64) /* a fixed count: vectorised at -O2 too */
			for (int j = 0; j < 64; j++)
				f[j] = x[c0 + j] > w;
		else
			for (int j = 0; j < k; j++)
				f[j] = x[c0 + j] > w;
		out[c0 / 64] = pack_bits(f);
	}
}

static void row_hits_portable(const struct km__scan_row *a, uint64_t *out)
{
	/* The threshold packed (vectorised), the rest per cell above it. */
	gt_bits_portable(a->m, a->cols, a->weak, out);
	if (a->bg || a->nms)
		recheck(a, out);
}

KM_INLINE size_t band_portable(const float *a, size_t n, float lo, float hi, float *band,
                               size_t *lt)
{
	size_t nb = 0, below = 0;
	for (size_t i = 0; i < n; i++) {
		float x = a[i];
		band[nb] = x;
		nb += (size_t)((x >= lo) & (x <= hi));
		below += (size_t)(x < lo);
	}
	*lt = below;
	return nb;
}

static const struct km__detect_ops portable_ops = {"portable", gt_bits_portable, row_hits_portable,
                                                   band_portable};

#ifdef KM_ISA_X86
#include <immintrin.h>

/* The contrast product in vector registers equals the scalar one only when
 * float expressions are evaluated in float (SSE math, not x87). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define KM_DETECT_VEC_CONTRAST 1
#else
#define KM_DETECT_VEC_CONTRAST 0
#endif

/* AVX2: 8 lanes; masks are vectors of 0 / -1 and bit masks from movemask. */
static const int32_t lane_tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

__attribute__((target("avx2"))) static __m256i lanes_avx2(int k) /* first k of 8 lanes, k >= 0 */
{
	return _mm256_loadu_si256((const __m256i *)(const void *)(lane_tbl + 8 - KM_MIN(k, 8)));
}

/* Columns [c, c + 8) of x into bits: plain loads for a full block, masked
 * ones at the end of a row (lanes k.. read nothing). */
#define LOAD8(x, c, k)                                                                             \
	((k) >= 8 ? _mm256_loadu_ps((x) + (c)) : _mm256_maskload_ps((x) + (c), lanes_avx2(k)))

__attribute__((target("avx2"))) static void gt_bits_avx2(const float *x, int n, float w,
                                                         uint64_t *out)
{
	const __m256 vw = _mm256_set1_ps(w);
	for (int c0 = 0; c0 < n; c0 += 64) {
		uint64_t word = 0;
		int end = KM_MIN(n, c0 + 64);
		for (int c = c0; c < end; c += 8) {
			int k = end - c;
			__m256 v = LOAD8(x, c, k);
			unsigned h = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, vw, _CMP_GT_OQ));
			word |= (uint64_t)(h & (0xffu >> (8 - KM_MIN(k, 8)))) << (c - c0);
		}
		out[c0 / 64] = word;
	}
}

__attribute__((target("avx2"))) static void row_hits_avx2(const struct km__scan_row *a,
                                                          uint64_t *out)
{
	const float *m = a->m, *u = a->u;
	int C = a->cols;
	const __m256 vw = _mm256_set1_ps(a->weak), zero = _mm256_setzero_ps();
	const __m256 vmc = _mm256_set1_ps(a->mc), vwf = _mm256_set1_ps(a->wf);
	const __m256i up1 = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6); /* lane j <- j - 1 */
	for (int c0 = 0; c0 < C; c0 += 64) {
		uint64_t word = 0;
		int end = KM_MIN(C, c0 + 64);
		for (int c = c0; c < end; c += 8) {
			int k = end - c;
			__m256 v = LOAD8(m, c, k);
			__m256 h = _mm256_cmp_ps(v, vw, _CMP_GT_OQ);
			if (!_mm256_movemask_ps(h))
				continue;
			if (KM_DETECT_VEC_CONTRAST && a->bg) {
				__m256 b = LOAD8(a->bg, c, k);
				b = _mm256_and_ps(b, _mm256_cmp_ps(b, zero, _CMP_GT_OQ));
				__m256 t = _mm256_mul_ps(vwf, _mm256_mul_ps(vmc, b));
				h = _mm256_and_ps(h, _mm256_cmp_ps(v, t, _CMP_GT_OQ));
			}
			if (a->nms) {
				__m256 uu = LOAD8(u, c, k);
				/* lane 0 of column 0 and the lane of column C - 1 are
				 * redone by fix_edges */
				__m256 l =
				    c ? LOAD8(m, c - 1, k) : _mm256_permutevar8x32_ps(v, up1);
				__m256 ul =
				    c ? LOAD8(u, c - 1, k) : _mm256_permutevar8x32_ps(uu, up1);
				__m256 ur = LOAD8(u, c + 1, C - c - 1);
				h = _mm256_and_ps(h, _mm256_cmp_ps(v, l, _CMP_GT_OQ));
				h = _mm256_and_ps(h, _mm256_cmp_ps(v, ul, _CMP_GT_OQ));
				h = _mm256_and_ps(h, _mm256_cmp_ps(v, uu, _CMP_GT_OQ));
				h = _mm256_and_ps(h, _mm256_cmp_ps(v, ur, _CMP_GT_OQ));
			}
			unsigned bits =
			    (unsigned)_mm256_movemask_ps(h) & (0xffu >> (8 - KM_MIN(k, 8)));
			word |= (uint64_t)bits << (c - c0);
		}
		out[c0 / 64] = word;
	}
	if (!KM_DETECT_VEC_CONTRAST && a->bg) /* x87 math: the contrast test in C */
		recheck(a, out);
	fix_edges(a, out);
}

/* Order-keeping compaction of 4 lanes: the kept lanes' indices first. */
static const int32_t pack4[16][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0},
                                     {2, 0, 0, 0}, {0, 2, 0, 0}, {1, 2, 0, 0}, {0, 1, 2, 0},
                                     {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0},
                                     {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};
static const uint8_t pop4[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

__attribute__((target("avx2"))) static size_t band_avx2(const float *a, size_t n, float lo,
                                                        float hi, float *band, size_t *lt)
{
	const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
	size_t nb = 0, below = 0, i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(a + i);
		__m256 in = _mm256_and_ps(_mm256_cmp_ps(x, vlo, _CMP_GE_OQ),
		                          _mm256_cmp_ps(x, vhi, _CMP_LE_OQ));
		unsigned mi = (unsigned)_mm256_movemask_ps(in);
		unsigned ml = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(x, vlo, _CMP_LT_OQ));
		below += (size_t)pop4[ml & 15u] + pop4[ml >> 4];
		__m128 x0 = _mm256_castps256_ps128(x), x1 = _mm256_extractf128_ps(x, 1);
		__m128i i0 = _mm_loadu_si128((const __m128i *)(const void *)pack4[mi & 15u]);
		__m128i i1 = _mm_loadu_si128((const __m128i *)(const void *)pack4[mi >> 4]);
		_mm_storeu_ps(band + nb, _mm_permutevar_ps(x0, i0));
		nb += pop4[mi & 15u];
		_mm_storeu_ps(band + nb, _mm_permutevar_ps(x1, i1));
		nb += pop4[mi >> 4];
	}
	size_t tl = 0;
	nb += band_portable(a + i, n - i, lo, hi, band + nb, &tl);
	*lt = below + tl;
	return nb;
}

static const struct km__detect_ops avx2_ops = {"avx2", gt_bits_avx2, row_hits_avx2, band_avx2};

/* AVX-512: 16 lanes and mask registers. */
static inline __mmask16 lanes16(int k) /* first k of 16 lanes, k >= 0 */
{
	return (__mmask16)(0xffffu >> (16 - KM_MIN(k, 16)));
}

#define LOAD16(x, c, k)                                                                            \
	((k) >= 16 ? _mm512_loadu_ps((x) + (c)) : _mm512_maskz_loadu_ps(lanes16(k), (x) + (c)))

__attribute__((target("avx512f"))) static void gt_bits_avx512(const float *x, int n, float w,
                                                              uint64_t *out)
{
	const __m512 vw = _mm512_set1_ps(w);
	for (int c0 = 0; c0 < n; c0 += 64) {
		uint64_t word = 0;
		int end = KM_MIN(n, c0 + 64);
		for (int c = c0; c < end; c += 16) {
			int k = end - c;
			__m512 v = LOAD16(x, c, k);
			unsigned h = _mm512_mask_cmp_ps_mask(lanes16(k), v, vw, _CMP_GT_OQ);
			word |= (uint64_t)h << (c - c0);
		}
		out[c0 / 64] = word;
	}
}

__attribute__((target("avx512f"))) static void row_hits_avx512(const struct km__scan_row *a,
                                                               uint64_t *out)
{
	const float *m = a->m, *u = a->u;
	int C = a->cols;
	const __m512 vw = _mm512_set1_ps(a->weak), zero = _mm512_setzero_ps();
	const __m512 vmc = _mm512_set1_ps(a->mc), vwf = _mm512_set1_ps(a->wf);
	const __m512i up1 =
	    _mm512_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14); /* j <- j - 1 */
	for (int c0 = 0; c0 < C; c0 += 64) {
		uint64_t word = 0;
		int end = KM_MIN(C, c0 + 64);
		for (int c = c0; c < end; c += 16) {
			int k = end - c;
			__m512 v = LOAD16(m, c, k);
			__mmask16 h = _mm512_mask_cmp_ps_mask(lanes16(k), v, vw, _CMP_GT_OQ);
			if (!h)
				continue;
			if (KM_DETECT_VEC_CONTRAST && a->bg) {
				__m512 b = LOAD16(a->bg, c, k);
				b = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(b, zero, _CMP_GT_OQ), b);
				__m512 t = _mm512_mul_ps(vwf, _mm512_mul_ps(vmc, b));
				h = _mm512_mask_cmp_ps_mask(h, v, t, _CMP_GT_OQ);
			}
			if (a->nms && h) {
				__m512 uu = LOAD16(u, c, k);
				/* lane 0 of column 0 and the lane of column C - 1 are
				 * redone by fix_edges */
				__m512 l = c ? LOAD16(m, c - 1, k) : _mm512_permutexvar_ps(up1, v);
				__m512 ul =
				    c ? LOAD16(u, c - 1, k) : _mm512_permutexvar_ps(up1, uu);
				__m512 ur = LOAD16(u, c + 1, C - c - 1);
				h = _mm512_mask_cmp_ps_mask(h, v, l, _CMP_GT_OQ);
				h = _mm512_mask_cmp_ps_mask(h, v, ul, _CMP_GT_OQ);
				h = _mm512_mask_cmp_ps_mask(h, v, uu, _CMP_GT_OQ);
				h = _mm512_mask_cmp_ps_mask(h, v, ur, _CMP_GT_OQ);
			}
			word |= (uint64_t)(unsigned)h << (c - c0);
		}
		out[c0 / 64] = word;
	}
	if (!KM_DETECT_VEC_CONTRAST && a->bg) /* x87 math: the contrast test in C */
		recheck(a, out);
	fix_edges(a, out);
}

__attribute__((target("avx512f,popcnt"))) static size_t
band_avx512(const float *a, size_t n, float lo, float hi, float *band, size_t *lt)
{
	const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
	size_t nb = 0, below = 0, i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 x = _mm512_loadu_ps(a + i);
		__mmask16 ge = _mm512_cmp_ps_mask(x, vlo, _CMP_GE_OQ);
		__mmask16 in = _mm512_mask_cmp_ps_mask(ge, x, vhi, _CMP_LE_OQ);
		__mmask16 ltm = _mm512_cmp_ps_mask(x, vlo, _CMP_LT_OQ);
		/* a register compress and a full store: compress-to-memory is
		 * slow on some cores */
		_mm512_storeu_ps(band + nb, _mm512_maskz_compress_ps(in, x));
		nb += (size_t)__builtin_popcount((unsigned)in);
		below += (size_t)__builtin_popcount((unsigned)ltm);
	}
	size_t tl = 0;
	nb += band_portable(a + i, n - i, lo, hi, band + nb, &tl);
	*lt = below + tl;
	return nb;
}

static const struct km__detect_ops avx512_ops = {"avx512", gt_bits_avx512, row_hits_avx512,
                                                 band_avx512};
#endif

const struct km__detect_ops *km__detect_ops(enum km__isa limit)
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
