/* Band-pass (DoG stack): property tests on small grids. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/bandpass.h"

static struct km_bandpass_config cfg_small(int rows, int cols, enum km_geometry g,
                                           enum km_bandpass_method m)
{
	struct km_bandpass_config c = km_bandpass_config_default();
	c.rows = (uint16_t)rows;
	c.cols = (uint16_t)cols;
	c.pitch_mm = 5.0f;
	c.geometry = g;
	c.method = m;
	c.n_scales = 3;
	return c;
}

/* Deterministic pseudo-random values in [0, 1). */
static void fill_random(float *x, size_t n, unsigned seed)
{
	uint32_t s = seed * 2654435761u + 1u;
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)(s >> 8) / 16777216.0f;
	}
}

static float *run(const struct km_bandpass_config *c, const float *in)
{
	km_bandpass *bp = NULL;
	cr_assert_eq(km_bandpass_create(c, &bp), KM_OK);
	size_t n = (size_t)c->n_scales * c->rows * c->cols;
	float *out = calloc(n, sizeof(float));
	cr_assert_eq(km_bandpass_execute(bp, in, out), KM_OK);
	km_bandpass_destroy(bp);
	return out;
}

static void fft_equals_direct(enum km_geometry g, int rows, int cols)
{
	size_t cells = (size_t)rows * cols;
	float *in = malloc(cells * sizeof(float));
	fill_random(in, cells, 7);
	struct km_bandpass_config cf = cfg_small(rows, cols, g, KM_BANDPASS_FFT);
	struct km_bandpass_config cd = cfg_small(rows, cols, g, KM_BANDPASS_DIRECT);
	km_bandpass *bf = NULL, *bd = NULL;
	cr_assert_eq(km_bandpass_create(&cf, &bf), KM_OK);
	cr_assert_eq(km_bandpass_create(&cd, &bd), KM_OK);
	cr_assert_eq(km_bandpass_method_used(bf), KM_BANDPASS_FFT);
	cr_assert_eq(km_bandpass_method_used(bd), KM_BANDPASS_DIRECT);
	float *of = calloc(3 * cells, sizeof(float)), *od = calloc(3 * cells, sizeof(float));
	cr_assert_eq(km_bandpass_execute(bf, in, of), KM_OK);
	cr_assert_eq(km_bandpass_execute(bd, in, od), KM_OK);
	float worst = 0.0f, mag = 0.0f;
	for (size_t i = 0; i < 3 * cells; i++) {
		worst = fmaxf(worst, fabsf(of[i] - od[i]));
		mag = fmaxf(mag, fabsf(od[i]));
	}
	cr_expect_lt(worst, 1e-4f, "fft vs direct differ by %g", (double)worst);
	cr_expect_gt(mag, 0.05f, "response unexpectedly tiny");
	const float *gf = km_bandpass_background(bf), *gd = km_bandpass_background(bd);
	cr_assert(gf && gd);
	for (size_t i = 0; i < cells; i++)
		cr_expect_lt(fabsf(gf[i] - gd[i]), 1e-4f);
	free(in);
	free(of);
	free(od);
	km_bandpass_destroy(bf);
	km_bandpass_destroy(bd);
}

Test(bandpass, fft_equals_direct_flat)
{
	fft_equals_direct(KM_GEOMETRY_FLAT, 23, 17);
}

Test(bandpass, fft_equals_direct_periodic)
{
	/* 12 columns: the outer kernels are wider than the circumference and wrap. */
	fft_equals_direct(KM_GEOMETRY_CYLINDER, 19, 12);
}

Test(bandpass, dog_of_constant_is_zero)
{
	for (int m = KM_BANDPASS_FFT; m <= KM_BANDPASS_DIRECT; m++) {
		struct km_bandpass_config c =
		    cfg_small(64, 16, KM_GEOMETRY_CYLINDER, (enum km_bandpass_method)m);
		c.pitch_mm = 10.0f;
		size_t cells = 64 * 16;
		float *in = malloc(cells * sizeof(float));
		for (size_t i = 0; i < cells; i++)
			in[i] = 50.0f;
		float *out = run(&c, in);
		/* Rows farther than the widest kernel (4 * 1.6 * 18 mm = 12 cells)
		 * from the zero-padded ends see a constant; periodic columns do
		 * everywhere. */
		for (unsigned s = 0; s < 3; s++)
			for (int r = 13; r < 64 - 13; r++)
				for (int col = 0; col < 16; col++)
					cr_assert_lt(fabsf(out[s * cells + r * 16 + col]), 1e-3f,
					             "scale %u r %d c %d: %g", s, r, col,
					             (double)out[s * cells + r * 16 + col]);
		/* A flat mat's edge is a step down: the DoG must see it. */
		cr_expect_gt(fabsf(out[0 * cells + 0]), 1.0f);
		free(in);
		free(out);
	}
}

Test(bandpass, linearity)
{
	int R = 20, C = 18;
	size_t cells = (size_t)R * C;
	float *x = malloc(cells * 4), *y = malloc(cells * 4), *z = malloc(cells * 4);
	fill_random(x, cells, 1);
	fill_random(y, cells, 2);
	for (size_t i = 0; i < cells; i++)
		z[i] = 3.0f * x[i] - 0.5f * y[i];
	struct km_bandpass_config c = cfg_small(R, C, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	float *ox = run(&c, x), *oy = run(&c, y), *oz = run(&c, z);
	for (size_t i = 0; i < 3 * cells; i++)
		cr_assert_lt(fabsf(oz[i] - (3.0f * ox[i] - 0.5f * oy[i])), 1e-4f);
	free(x), free(y), free(z), free(ox), free(oy), free(oz);
}

Test(bandpass, shift_equivariance_periodic)
{
	/* A circular shift along the cylinder's columns shifts the output by the
	 * same amount, exactly (up to float rounding). */
	int R = 16, C = 24, sh = 5;
	size_t cells = (size_t)R * C;
	float *x = malloc(cells * 4), *xs = malloc(cells * 4);
	fill_random(x, cells, 3);
	for (int r = 0; r < R; r++)
		for (int col = 0; col < C; col++)
			xs[r * C + (col + sh) % C] = x[r * C + col];
	for (int m = KM_BANDPASS_FFT; m <= KM_BANDPASS_DIRECT; m++) {
		struct km_bandpass_config c =
		    cfg_small(R, C, KM_GEOMETRY_CYLINDER, (enum km_bandpass_method)m);
		float *o = run(&c, x), *os = run(&c, xs);
		for (unsigned s = 0; s < 3; s++)
			for (int r = 0; r < R; r++)
				for (int col = 0; col < C; col++)
					cr_assert_lt(fabsf(os[s * cells + r * C + (col + sh) % C] -
					                   o[s * cells + r * C + col]),
					             1e-4f);
		free(o);
		free(os);
	}
	free(x);
	free(xs);
}

Test(bandpass, shift_equivariance_flat_interior)
{
	/* A bump moved by (2, 3) cells on a flat mat moves its response with it
	 * while it stays clear of the zero-padded edges. */
	int R = 48, C = 48;
	size_t cells = (size_t)R * C;
	float *a = calloc(cells, 4), *b = calloc(cells, 4);
	for (int r = 0; r < R; r++)
		for (int col = 0; col < C; col++) {
			double d1 = (r - 20) * (r - 20) + (col - 20) * (col - 20);
			double d2 = (r - 22) * (r - 22) + (col - 23) * (col - 23);
			a[r * C + col] = (float)(10.0 * exp(-d1 / 8.0));
			b[r * C + col] = (float)(10.0 * exp(-d2 / 8.0));
		}
	struct km_bandpass_config c = cfg_small(R, C, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	float *oa = run(&c, a), *ob = run(&c, b);
	for (unsigned s = 0; s < 3; s++)
		for (int r = 10; r < 30; r++)
			for (int col = 10; col < 30; col++)
				cr_assert_lt(fabsf(ob[s * cells + (r + 2) * C + col + 3] -
				                   oa[s * cells + r * C + col]),
				             1e-4f);
	free(a), free(b), free(oa), free(ob);
}

Test(bandpass, gaussian_bump_peaks_at_amplitude)
{
	/* The gain (ratio+1)/(ratio-1) makes a Gaussian bump of amplitude A and
	 * sigma b read ~A kPa at the scale sigma = b / sqrt(ratio). */
	int R = 64, C = 64;
	size_t cells = (size_t)R * C;
	struct km_bandpass_config c = cfg_small(R, C, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	c.pitch_mm = 2.0f;
	c.n_scales = 1;
	c.sigma_min_mm = c.sigma_max_mm = 8.0f;
	double b_mm = 8.0 * sqrt(1.6), A = 20.0;
	float *in = calloc(cells, 4);
	for (int r = 0; r < R; r++)
		for (int col = 0; col < C; col++) {
			double dx = (col - 32) * 2.0, dy = (r - 32) * 2.0;
			in[r * C + col] =
			    (float)(A * exp(-(dx * dx + dy * dy) / (2 * b_mm * b_mm)));
		}
	float *o = run(&c, in);
	cr_expect_float_eq(o[32 * C + 32], (float)A, 0.03f * (float)A, "peak %g",
	                   (double)o[32 * C + 32]);
	free(in);
	free(o);
}

Test(bandpass, auto_picks_by_cost_model)
{
	/* Tiny grid with small kernels: direct; big grid with wide kernels: FFT. */
	struct km_bandpass_config c = cfg_small(8, 8, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	c.pitch_mm = 20.0f;
	c.background_sigma_mm = 0.0f;
	km_bandpass *bp = NULL;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	cr_expect_eq(km_bandpass_method_used(bp), KM_BANDPASS_DIRECT);
	cr_expect_null(km_bandpass_background(bp));
	km_bandpass_destroy(bp);
	/* Big grid with wide kernels and the portable (no AVX) kernels: FFT
	 * (measured: 0.64 ms vs 3.8 ms per frame at 128x128, 2 mm pitch). With
	 * AVX2 or AVX-512 DIRECT stays ahead there too (0.62 ms, bench/dsp). */
	c = cfg_small(128, 128, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	c.pitch_mm = 2.0f;
	c.simd = KM_BANDPASS_SIMD_PORTABLE;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	cr_expect_eq(km_bandpass_method_used(bp), KM_BANDPASS_FFT);
	km_bandpass_destroy(bp);
}

Test(bandpass, rejects_bad_config)
{
	km_bandpass *bp = (km_bandpass *)1;
	struct km_bandpass_config c = cfg_small(10, 10, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	cr_expect_eq(km_bandpass_create(NULL, &bp), KM_ERR_INVALID_ARG);
	cr_expect_null(bp);
	cr_expect_eq(km_bandpass_create(&c, NULL), KM_ERR_INVALID_ARG);
	struct km_bandpass_config b = c;
	b.rows = 0;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_SHAPE);
	b = c;
	b.cols = KM_FRAME_MAX_DIM + 1;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_SHAPE);
	b = c;
	b.pitch_mm = NAN;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.ratio = 1.0f;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.n_scales = 0;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.n_scales = KM_BANDPASS_MAX_SCALES + 1;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.sigma_max_mm = 1.0f;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.method = (enum km_bandpass_method)9;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	b = c;
	b.geometry = (enum km_geometry)5;
	cr_expect_eq(km_bandpass_create(&b, &bp), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	float in[100] = {0}, out[300];
	cr_expect_eq(km_bandpass_execute(bp, NULL, out), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_bandpass_execute(bp, in, NULL), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_bandpass_execute(NULL, in, out), KM_ERR_INVALID_ARG);
	km_bandpass_destroy(bp);
	km_bandpass_destroy(NULL);
}

Test(bandpass, reset_keeps_config_and_results_repeat)
{
	struct km_bandpass_config c = cfg_small(12, 14, KM_GEOMETRY_FLAT, KM_BANDPASS_FFT);
	km_bandpass *bp = NULL;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	float in[168], o1[3 * 168], o2[3 * 168];
	fill_random(in, 168, 5);
	cr_assert_eq(km_bandpass_execute(bp, in, o1), KM_OK);
	km_bandpass_reset(bp);
	cr_expect_eq(km_bandpass_n_scales(bp), 3u);
	cr_expect_float_eq(km_bandpass_scale_mm(bp, 0), 5.0f, 1e-4f);
	cr_expect_float_eq(km_bandpass_scale_mm(bp, 2), 18.0f, 1e-4f);
	cr_expect_eq(km_bandpass_scale_mm(bp, 3), 0.0f);
	cr_assert_eq(km_bandpass_execute(bp, in, o2), KM_OK);
	cr_expect_arr_eq(o1, o2, sizeof o1);
	km_bandpass_destroy(bp);
}

Test(bandpass, no_allocation_per_execute)
{
	for (int m = KM_BANDPASS_FFT; m <= KM_BANDPASS_DIRECT; m++) {
		struct km_bandpass_config c =
		    cfg_small(16, 16, KM_GEOMETRY_FLAT, (enum km_bandpass_method)m);
		km_bandpass *bp = NULL;
		cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
		float in[256], out[3 * 256];
		fill_random(in, 256, 9);
		uint64_t before = km__alloc_count();
		for (int i = 0; i < 100; i++)
			cr_assert_eq(km_bandpass_execute(bp, in, out), KM_OK);
		cr_expect_eq(km__alloc_count(), before);
		km_bandpass_destroy(bp);
	}
}

Test(bandpass, wisdom_round_trip)
{
	char dir[] = "/tmp/km-wisdom-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	setenv("XDG_CACHE_HOME", dir, 1);
	char path[512];
	cr_assert_eq(km_dsp_wisdom_path(path, sizeof path), KM_OK);
	char want[600];
	snprintf(want, sizeof want, "%s/knotmap/fftw-wisdom", dir);
	cr_expect_str_eq(path, want);
	cr_expect_eq(km_dsp_wisdom_load(NULL), KM_ERR_NOT_FOUND);
	cr_expect_eq(km_dsp_wisdom_save(NULL), KM_OK);
	cr_expect_eq(km_dsp_wisdom_load(NULL), KM_OK);
	char tiny[4];
	cr_expect_eq(km_dsp_wisdom_path(tiny, sizeof tiny), KM_ERR_OVERFLOW);
	/* A file FFTW cannot parse is rejected with a code. */
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("not wisdom", f);
	fclose(f);
	cr_expect_eq(km_dsp_wisdom_load(path), KM_ERR_PARSE);
	unlink(path);
	snprintf(want, sizeof want, "%s/knotmap", dir);
	rmdir(want);
	rmdir(dir);
}

static void masked_fft_equals_direct(enum km_geometry g, int rows, int cols)
{
	size_t cells = (size_t)rows * cols;
	float *in = malloc(cells * 4), *w = malloc(cells * 4);
	fill_random(in, cells, 11);
	fill_random(w, cells, 12);
	for (size_t i = 0; i < cells; i++)
		w[i] = w[i] < 0.3f ? 0.0f : 1.0f; /* holes: dead / unloaded cells */
	km_bandpass *b[2];
	float *o[2];
	for (int m = 0; m < 2; m++) {
		struct km_bandpass_config c =
		    cfg_small(rows, cols, g, m ? KM_BANDPASS_DIRECT : KM_BANDPASS_FFT);
		c.normalized = 1;
		cr_assert_eq(km_bandpass_create(&c, &b[m]), KM_OK);
		o[m] = calloc(3 * cells, 4);
		cr_assert_eq(km_bandpass_execute_masked(b[m], in, w, o[m]), KM_OK);
	}
	for (size_t i = 0; i < 3 * cells; i++)
		cr_assert_lt(fabsf(o[0][i] - o[1][i]), 1e-4f, "cell %zu: %g vs %g", i,
		             (double)o[0][i], (double)o[1][i]);
	const float *g0 = km_bandpass_background(b[0]), *g1 = km_bandpass_background(b[1]);
	for (size_t i = 0; i < cells; i++)
		if (w[i] > 0.0f)
			cr_assert_lt(fabsf(g0[i] - g1[i]), 1e-4f);
	for (int m = 0; m < 2; m++) {
		km_bandpass_destroy(b[m]);
		free(o[m]);
	}
	free(in);
	free(w);
}

Test(bandpass, masked_fft_equals_direct_flat)
{
	masked_fft_equals_direct(KM_GEOMETRY_FLAT, 21, 18);
}

Test(bandpass, masked_fft_equals_direct_periodic)
{
	masked_fft_equals_direct(KM_GEOMETRY_CYLINDER, 17, 14);
}

Test(bandpass, masked_plateau_has_no_edge_response)
{
	/* Normalised convolution: a loaded plateau with sharp edges (and a dead
	 * cell inside, weight 0) reads 0 right up to its edges, and its
	 * background is the plateau's value. The plain DoG does see the edges. */
	int Rr = 30, Cc = 30;
	size_t cells = (size_t)Rr * Cc;
	float *in = calloc(cells, 4), *w = calloc(cells, 4), *o = calloc(3 * cells, 4);
	for (int r = 5; r < 25; r++)
		for (int c = 8; c < 22; c++) {
			in[r * Cc + c] = 40.0f;
			w[r * Cc + c] = 1.0f;
		}
	in[15 * Cc + 15] = 0.0f; /* dead cell */
	w[15 * Cc + 15] = 0.0f;
	struct km_bandpass_config c = cfg_small(Rr, Cc, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	c.normalized = 1;
	km_bandpass *bp = NULL;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	cr_assert_eq(km_bandpass_execute_masked(bp, in, w, o), KM_OK);
	const float *bg = km_bandpass_background(bp);
	for (size_t i = 0; i < cells; i++) {
		for (int s = 0; s < 3; s++)
			cr_assert_lt(fabsf(o[s * cells + i]), 1e-3f, "scale %d cell %zu: %g", s, i,
			             (double)o[s * cells + i]);
		if (w[i] > 0.0f)
			cr_assert_float_eq(bg[i], 40.0f, 1e-3f);
	}
	cr_assert_eq(km_bandpass_execute(bp, in, o), KM_OK);
	cr_expect_gt(fabsf(o[5 * Cc + 8]), 5.0f, "plain DoG at the corner");
	km_bandpass_destroy(bp);
	c.normalized = 0;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	cr_expect_eq(km_bandpass_execute_masked(bp, in, w, o), KM_ERR_STATE);
	km_bandpass_destroy(bp);
	free(in), free(w), free(o);
}

/* Every DIRECT kernel set (portable C, AVX2 + FMA, the best this CPU has)
 * gives the FFT's result, plain and normalised, on grids whose rows are not
 * a whole number of vectors (70 columns: four-vector blocks plus a rest). */
static void kernels_equal_fft(enum km_geometry g, int rows, int cols)
{
	size_t cells = (size_t)rows * cols;
	float *in = malloc(cells * 4), *w = malloc(cells * 4);
	float *ref = calloc(3 * cells, 4), *o = calloc(3 * cells, 4);
	fill_random(in, cells, 21);
	fill_random(w, cells, 22);
	for (size_t i = 0; i < cells; i++)
		w[i] = w[i] < 0.2f ? 0.0f : 1.0f;
	enum km_bandpass_simd simd[] = {KM_BANDPASS_SIMD_PORTABLE, KM_BANDPASS_SIMD_AVX2,
	                                KM_BANDPASS_SIMD_BEST};
	for (int norm = 0; norm < 2; norm++) {
		struct km_bandpass_config c = cfg_small(rows, cols, g, KM_BANDPASS_FFT);
		c.normalized = norm;
		km_bandpass *bp = NULL;
		cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
		cr_assert_eq(norm ? km_bandpass_execute_masked(bp, in, w, ref)
		                  : km_bandpass_execute(bp, in, ref),
		             KM_OK);
		km_bandpass_destroy(bp);
		for (size_t k = 0; k < sizeof simd / sizeof simd[0]; k++) {
			c.method = KM_BANDPASS_DIRECT;
			c.simd = simd[k];
			cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
			cr_assert_eq(norm ? km_bandpass_execute_masked(bp, in, w, o)
			                  : km_bandpass_execute(bp, in, o),
			             KM_OK);
			for (size_t i = 0; i < 3 * cells; i++)
				cr_assert_lt(fabsf(o[i] - ref[i]), 1e-4f,
				             "simd %d norm %d cell %zu: %g vs %g", (int)simd[k], norm,
				             i, (double)o[i], (double)ref[i]);
			km_bandpass_destroy(bp);
		}
	}
	free(in), free(w), free(ref), free(o);
}

Test(bandpass, simd_kernels_equal_fft_flat)
{
	kernels_equal_fft(KM_GEOMETRY_FLAT, 23, 70);
}

Test(bandpass, simd_kernels_equal_fft_periodic)
{
	kernels_equal_fft(KM_GEOMETRY_CYLINDER, 19, 45);
}

/* The weights' blurs are kept between frames: changing the weights (even
 * in the caller's same buffer) or the data gives exactly what a fresh
 * object gives, on both paths, and allocates nothing. */
Test(bandpass, masked_weight_cache_follows_the_weights)
{
	int R = 20, C = 26;
	size_t cells = (size_t)R * C;
	float *in = malloc(cells * 4), *w = malloc(cells * 4), *w0 = malloc(cells * 4);
	float *o = calloc(3 * cells, 4), *want = calloc(3 * cells, 4);
	fill_random(w0, cells, 31);
	for (size_t i = 0; i < cells; i++)
		w0[i] = w0[i] < 0.3f ? 0.0f : 1.0f;
	for (int m = KM_BANDPASS_FFT; m <= KM_BANDPASS_DIRECT; m++) {
		struct km_bandpass_config c =
		    cfg_small(R, C, KM_GEOMETRY_FLAT, (enum km_bandpass_method)m);
		c.normalized = 1;
		km_bandpass *bp = NULL;
		cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
		for (int frame = 0; frame < 6; frame++) {
			fill_random(in, cells, 40u + (unsigned)frame);
			memcpy(w, w0, cells * 4);
			if (frame % 3 == 1)
				w[(size_t)frame * 37 % cells] = 1.0f - w[(size_t)frame * 37 % cells];
			cr_assert_eq(km_bandpass_execute_masked(bp, in, w, o), KM_OK);
			km_bandpass *fresh = NULL;
			cr_assert_eq(km_bandpass_create(&c, &fresh), KM_OK);
			cr_assert_eq(km_bandpass_execute_masked(fresh, in, w, want), KM_OK);
			cr_assert_arr_eq(o, want, 3 * cells * 4, "method %d frame %d", m, frame);
			cr_assert_arr_eq(km_bandpass_background(bp), km_bandpass_background(fresh),
			                 cells * 4);
			km_bandpass_destroy(fresh);
		}
		uint64_t before = km__alloc_count();
		for (int frame = 0; frame < 10; frame++) {
			w[0] = (float)(frame & 1); /* the weights change every frame */
			cr_assert_eq(km_bandpass_execute_masked(bp, in, w, o), KM_OK);
		}
		cr_expect_eq(km__alloc_count(), before);
		km_bandpass_destroy(bp);
	}
	free(in), free(w), free(w0), free(o), free(want);
}

/* The background by normalised convolution in double precision, straight
 * from its definition: sampled Gaussian, 4 sigma, unit sum; rows zero
 * padded, columns periodic on a cylinder. *den gets the weights' blur. */
static double bg_reference(const float *in, const float *w, int R, int C, int periodic,
                           double sigma, int r, int c, double *den)
{
	int h = (int)ceil(4.0 * sigma);
	double norm = 0.0, num = 0.0;
	for (int k = -h; k <= h; k++)
		norm += exp(-0.5 * k * k / (sigma * sigma));
	*den = 0.0;
	for (int dr = -h; dr <= h; dr++) {
		int rr = r + dr;
		if (rr < 0 || rr >= R)
			continue;
		for (int dc = -h; dc <= h; dc++) {
			int cc = c + dc;
			if (periodic)
				cc = ((cc % C) + C) % C;
			else if (cc < 0 || cc >= C)
				continue;
			double g = exp(-0.5 * (dr * dr + dc * dc) / (sigma * sigma)) / (norm * norm);
			num += g * w[rr * C + cc] * in[rr * C + cc];
			*den += g * w[rr * C + cc];
		}
	}
	return num / *den;
}

/* DIRECT works only inside the weights' window (and the background within
 * a kernel's reach of it): with no weights, a small loaded patch, a lone
 * loaded cell far from it, and a patch across a cylinder's seam, the
 * responses equal the FFT's full-grid ones and the background equals its
 * definition everywhere. */
static void masked_window_is_exact(enum km_geometry g)
{
	int R = 40, C = 52;
	size_t cells = (size_t)R * C;
	float *in = malloc(cells * 4), *w = calloc(cells, 4);
	float *ref = calloc(3 * cells, 4), *o = calloc(3 * cells, 4);
	fill_random(in, cells, 51);
	for (int pass = 0; pass < 4; pass++) {
		if (pass == 1) {
			for (int r = 12; r < 20; r++)
				for (int c = 30; c < 41; c++)
					w[r * C + c] = 1.0f;
		} else if (pass == 2) {
			w[2 * C + 3] = 0.5f; /* the window now spans both */
		} else if (pass == 3) {
			/* on a cylinder one patch across the seam (columns 48..51, 0..2) */
			memset(w, 0, cells * 4);
			for (int r = 20; r < 26; r++)
				for (int c = -4; c < 3; c++)
					w[r * C + (c + C) % C] = 1.0f;
		}
		for (int m = 0; m < 2; m++) {
			struct km_bandpass_config c =
			    cfg_small(R, C, g, m ? KM_BANDPASS_DIRECT : KM_BANDPASS_FFT);
			c.normalized = 1;
			c.pitch_mm = 10.0f; /* background reach 14 cells: the grid is wider */
			km_bandpass *bp = NULL;
			cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
			float *dst = m ? o : ref;
			memset(dst, 0x7f, 3 * cells * 4); /* stale caller memory */
			cr_assert_eq(km_bandpass_execute_masked(bp, in, w, dst), KM_OK);
			if (m == 1) {
				const float *bg = km_bandpass_background(bp);
				double sigma = c.background_sigma_mm / c.pitch_mm;
				for (int r = 0; r < R; r++)
					for (int cc = 0; cc < C; cc++) {
						double den, want = bg_reference(in, w, R, C, g == KM_GEOMETRY_CYLINDER,
						                                sigma, r, cc, &den);
						float got = bg[r * C + cc];
						if (den == 0.0)
							cr_assert_eq(got, 0.0f, "pass %d (%d,%d)", pass, r, cc);
						else if (den > 2e-6)
							cr_assert_leq(fabs(got - want), 1e-4 * fabs(want) + 1e-5,
							              "pass %d bg (%d,%d): %g vs %g", pass, r, cc,
							              (double)got, want);
					}
			}
			km_bandpass_destroy(bp);
		}
		for (size_t i = 0; i < 3 * cells; i++)
			cr_assert_lt(fabsf(o[i] - ref[i]), 1e-4f, "pass %d cell %zu: %g vs %g", pass, i,
			             (double)o[i], (double)ref[i]);
	}
	free(in), free(w), free(ref), free(o);
}

Test(bandpass, masked_window_is_exact_flat)
{
	masked_window_is_exact(KM_GEOMETRY_FLAT);
}

Test(bandpass, masked_window_is_exact_periodic)
{
	masked_window_is_exact(KM_GEOMETRY_CYLINDER);
}

/* Oblong cells (10.28 mm between rows, 5.28 mm between columns, as a
 * Tekscan mat's): the Gaussians are round in mm, not in cells. The
 * background map of an impulse is G(35 mm): its second moments along x and
 * y, in mm, are both 35^2, on both paths, plain and normalised. With one
 * pitch for both axes (their geometric mean, 7.37 mm) they were 25 and 49 mm. */
static void oblong_cells_blur_round(enum km_bandpass_method m, int normalized)
{
	const int rows = 40, cols = 72;
	const float py = 10.28f, px = 5.28f;
	size_t cells = (size_t)rows * cols;
	struct km_bandpass_config c = cfg_small(rows, cols, KM_GEOMETRY_FLAT, m);
	c.pitch_mm = sqrtf(py * px);
	c.row_pitch_mm = py;
	c.col_pitch_mm = px;
	c.normalized = normalized;
	km_bandpass *bp = NULL;
	cr_assert_eq(km_bandpass_create(&c, &bp), KM_OK);
	cr_assert_eq(km_bandpass_method_used(bp), m);
	float *in = calloc(cells, sizeof(float)), *w = malloc(cells * sizeof(float));
	float *out = calloc(3 * cells, sizeof(float));
	int r0 = rows / 2, c0 = cols / 2;
	in[(size_t)r0 * cols + (size_t)c0] = 1.0f;
	for (size_t i = 0; i < cells; i++)
		w[i] = 1.0f;
	if (normalized)
		cr_assert_eq(km_bandpass_execute_masked(bp, in, w, out), KM_OK);
	else
		cr_assert_eq(km_bandpass_execute(bp, in, out), KM_OK);
	const float *g = km_bandpass_background(bp);
	cr_assert_not_null(g);
	double s = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0;
	for (int r = 0; r < rows; r++)
		for (int cc = 0; cc < cols; cc++) {
			double v = g[(size_t)r * cols + (size_t)cc];
			double x = (cc - c0) * (double)px, y = (r - r0) * (double)py;
			s += v;
			sxx += v * x * x;
			syy += v * y * y;
			sxy += v * x * y;
		}
	double sdx = sqrt(sxx / s), sdy = sqrt(syy / s);
	cr_expect_lt(fabs(sdx - 35.0), 1.0, "sigma along x %g mm", sdx);
	cr_expect_lt(fabs(sdy - 35.0), 1.0, "sigma along y %g mm", sdy);
	cr_expect_lt(fabs(sxy / s), 1.0, "no tilt");
	/* The finest DoG's response is round too: equal half-widths in mm. */
	const float *d0 = out;
	float peak = d0[(size_t)r0 * cols + (size_t)c0];
	cr_assert_gt(peak, 0.0f);
	int hx = 0, hy = 0;
	while (c0 + hx + 1 < cols && d0[(size_t)r0 * cols + (size_t)(c0 + hx + 1)] > 0.5f * peak)
		hx++;
	while (r0 + hy + 1 < rows && d0[(size_t)(r0 + hy + 1) * cols + (size_t)c0] > 0.5f * peak)
		hy++;
	/* to a cell of the coarse axis */
	cr_expect_leq(fabsf((float)hx * px - (float)hy * py), py, "half widths %g / %g mm",
	              (double)((float)hx * px), (double)((float)hy * py));
	free(in);
	free(w);
	free(out);
	km_bandpass_destroy(bp);
}

Test(bandpass, oblong_cells_blur_round_fft)
{
	oblong_cells_blur_round(KM_BANDPASS_FFT, 0);
	oblong_cells_blur_round(KM_BANDPASS_FFT, 1);
}

Test(bandpass, oblong_cells_blur_round_direct)
{
	oblong_cells_blur_round(KM_BANDPASS_DIRECT, 0);
	oblong_cells_blur_round(KM_BANDPASS_DIRECT, 1);
}

/* Both paths give the same stack on oblong cells (the row and column
 * kernels differ there), flat and periodic, plain and normalised. */
Test(bandpass, oblong_cells_fft_equals_direct)
{
	for (int g = 0; g < 2; g++)
		for (int nm = 0; nm < 2; nm++) {
			int rows = 21, cols = 26;
			size_t cells = (size_t)rows * cols;
			float *in = malloc(cells * 4), *w = malloc(cells * 4), *o[2];
			fill_random(in, cells, 21);
			fill_random(w, cells, 22);
			for (size_t i = 0; i < cells; i++)
				w[i] = w[i] < 0.3f ? 0.0f : 1.0f;
			km_bandpass *b[2];
			for (int m = 0; m < 2; m++) {
				struct km_bandpass_config c = cfg_small(
				    rows, cols, g ? KM_GEOMETRY_CYLINDER : KM_GEOMETRY_FLAT,
				    m ? KM_BANDPASS_DIRECT : KM_BANDPASS_FFT);
				c.row_pitch_mm = 9.0f;
				c.col_pitch_mm = 4.0f;
				c.normalized = nm;
				cr_assert_eq(km_bandpass_create(&c, &b[m]), KM_OK);
				o[m] = calloc(3 * cells, 4);
				if (nm)
					cr_assert_eq(km_bandpass_execute_masked(b[m], in, w, o[m]), KM_OK);
				else
					cr_assert_eq(km_bandpass_execute(b[m], in, o[m]), KM_OK);
			}
			for (size_t i = 0; i < 3 * cells; i++)
				cr_assert_lt(fabsf(o[0][i] - o[1][i]), 1e-4f,
				             "geometry %d normalised %d cell %zu: %g vs %g", g, nm, i,
				             (double)o[0][i], (double)o[1][i]);
			for (int m = 0; m < 2; m++) {
				km_bandpass_destroy(b[m]);
				free(o[m]);
			}
			free(in);
			free(w);
		}
}

Test(bandpass, rejects_bad_axis_pitch)
{
	struct km_bandpass_config c = cfg_small(8, 8, KM_GEOMETRY_FLAT, KM_BANDPASS_AUTO);
	km_bandpass *bp = NULL;
	c.row_pitch_mm = -1.0f;
	cr_expect_eq(km_bandpass_create(&c, &bp), KM_ERR_INVALID_ARG);
	c.row_pitch_mm = NAN;
	cr_expect_eq(km_bandpass_create(&c, &bp), KM_ERR_INVALID_ARG);
	c.row_pitch_mm = 0.0f;
	c.col_pitch_mm = 2000.0f;
	cr_expect_eq(km_bandpass_create(&c, &bp), KM_ERR_INVALID_ARG);
	cr_expect_null(bp);
}
