/* Welch cross-spectral estimator: known transfer functions, PSD level,
 * coherence of independent noise, segment bookkeeping. */
#include <complex.h>
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/stiffness.h"

#define PI 3.14159265358979323846

/* splitmix64 (xorshift64* with Box-Muller pairs showed a -18 % low-frequency
 * power bias in one of the two interleaved streams). */
static double urand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double randn(uint64_t *s)
{
	double u = urand(s), v = urand(s);
	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * PI * v);
}

static km_welch *make(void)
{
	struct km_welch_config c = km_welch_config_default();
	km_welch *w;
	cr_assert_eq(km_welch_create(&c, &w), KM_OK);
	return w;
}

Test(welch, first_order_lowpass_gain_phase_and_coherence)
{
	/* y = g * LP1(x) + small noise; x white. H(e^jw) = g a / (1 - (1 - a) e^-jw). */
	const double fs = 100.0, fc = 0.3, g = 0.6, a = 1.0 - exp(-2.0 * PI * fc / fs);
	/* No frequency smoothing here: H changes fast across bins, and averaging
	 * neighbouring bins would bias it (the default smooth_bins = 1 is meant for
	 * the near-flat tissue response at the breathing peak). */
	struct km_welch_config c = km_welch_config_default();
	c.smooth_bins = 0;
	c.window_s = 304.0f; /* 37 segments: the estimator's scatter below the tolerance */
	km_welch *w;
	cr_assert_eq(km_welch_create(&c, &w), KM_OK);
	uint64_t rng = 12345;
	double lp = 10.0; /* start in steady state: no step transient */
	for (int i = 0; i < 304 * 100; i++) {
		double x = 10.0 + randn(&rng);
		lp += a * (x - lp);
		double y = g * lp + 0.005 * randn(&rng);
		cr_assert_eq(km_welch_push(w, (float)x, (float)y, NULL), KM_OK);
	}
	cr_assert_eq(km_welch_segments(w), 37, "304 s of 16 s segments at 50 %%: 37");
	for (double f = 0.125; f <= 0.5 + 1e-9; f += 0.0625) {
		struct km_welch_result r;
		cr_assert_eq(km_welch_estimate_at(w, (float)f, &r), KM_OK);
		double complex z = cexp(-I * 2.0 * PI * f / fs);
		double complex h = g * a / (1.0 - (1.0 - a) * z);
		cr_assert_float_eq(r.freq_hz, f, 1e-6);
		cr_assert(fabs(r.gain - cabs(h)) < 0.03 * cabs(h), "f=%.3f gain %.4f expected %.4f",
		          f, (double)r.gain, cabs(h));
		cr_assert(fabs(r.phase_rad - carg(h)) < 0.05, "f=%.3f phase %.3f expected %.3f", f,
		          (double)r.phase_rad, carg(h));
		cr_assert_gt(r.coherence, 0.95f);
	}
	km_welch_destroy(w);
}

Test(welch, breathing_peak_gain_and_delay)
{
	/* x: 0.25 Hz breathing load + noise; y = 0.8 x delayed 0.2 s + noise. */
	const double fs = 100.0, f = 0.25, g = 0.8;
	const int d = 20;
	km_welch *w = make();
	uint64_t rng = 777;
	float hist[32] = {0};
	for (int i = 0; i < 50 * 100; i++) {
		double x = 20.0 + 3.0 * sin(2.0 * PI * f * i / fs) + 0.3 * randn(&rng);
		for (int k = 31; k > 0; k--)
			hist[k] = hist[k - 1];
		hist[0] = (float)x;
		double y = g * hist[d] + 0.3 * randn(&rng);
		cr_assert_eq(km_welch_push(w, (float)x, (float)y, NULL), KM_OK);
	}
	struct km_welch_result r;
	cr_assert_eq(km_welch_estimate(w, &r), KM_OK);
	cr_assert_float_eq(r.freq_hz, 0.25f, 1e-6f, "peak at %.4f Hz", (double)r.freq_hz);
	cr_assert_float_eq(r.gain, g, 0.03 * g);
	cr_assert_float_eq(r.phase_rad, -2.0 * PI * f * d / fs, 0.05);
	cr_assert_gt(r.coherence, 0.9f);
	km_welch_destroy(w);
}

Test(welch, white_noise_psd_level)
{
	/* One-sided PSD of white noise of variance s^2 is 2 s^2 / fs. A 304 s
	 * window (37 segments) keeps the estimate's own scatter near 5 %. */
	struct km_welch_config c = km_welch_config_default();
	c.window_s = 304.0f;
	km_welch *w;
	cr_assert_eq(km_welch_create(&c, &w), KM_OK);
	uint64_t rng = 99;
	for (int i = 0; i < 304 * 100; i++) {
		double x = 2.0 * randn(&rng), y = randn(&rng);
		km_welch_push(w, (float)x, (float)y, NULL);
	}
	double want_x = 2.0 * 4.0 / 100.0, want_y = 2.0 / 100.0, sx = 0, sy = 0;
	int n = 0;
	for (double f = 0.125; f <= 0.5; f += 0.0625, n++) {
		struct km_welch_result r;
		cr_assert_eq(km_welch_estimate_at(w, (float)f, &r), KM_OK);
		sx += r.pxx;
		sy += r.pyy;
	}
	cr_assert_float_eq(sx / n, want_x, 0.1 * want_x, "Pxx %g want %g", sx / n, want_x);
	cr_assert_float_eq(sy / n, want_y, 0.1 * want_y, "Pyy %g want %g", sy / n, want_y);
	km_welch_destroy(w);
}

Test(welch, independent_noise_has_low_coherence)
{
	int high = 0;
	double sum = 0.0;
	for (int s = 0; s < 20; s++) {
		km_welch *w = make();
		uint64_t rng = 1000 + (uint64_t)s * 7919;
		for (int i = 0; i < 48 * 100; i++) {
			/* Same breathing-like spectrum in both, no relation between them. */
			double x = 5.0 + randn(&rng), y = 3.0 + randn(&rng);
			km_welch_push(w, (float)x, (float)y, NULL);
		}
		struct km_welch_result r;
		cr_assert_eq(km_welch_estimate(w, &r), KM_OK);
		sum += r.coherence;
		high += r.coherence >= 0.5f;
		km_welch_destroy(w);
	}
	cr_assert_lt(sum / 20.0, 0.3, "mean coherence %.3f", sum / 20.0);
	cr_assert_leq(high, 1, "%d of 20 above 0.5", high);
}

Test(welch, segment_bookkeeping)
{
	km_welch *w = make();
	int done_at[16], nd = 0;
	for (int i = 0; i < 100 * 100; i++) {
		bool done;
		cr_assert_eq(km_welch_push(w, (float)sin(i * 0.0157), 1.0f, &done), KM_OK);
		if (done && nd < 16)
			done_at[nd++] = i + 1;
	}
	/* Segments end at 16, 24, 32 ... s: every 800 samples from 1600. */
	cr_assert_eq(nd, 11);
	for (int k = 0; k < nd; k++)
		cr_assert_eq(done_at[k], 1600 + 800 * k);
	cr_assert_eq(km_welch_segments(w), 5, "ring keeps the 48 s window");
	km_welch_destroy(w);
}

Test(welch, config_rejection)
{
	struct km_welch_config c;
	km_welch *w;
	c = km_welch_config_default();
	c.f_hi_hz = 60.0f; /* above Nyquist at 100 Hz */
	cr_assert_eq(km_welch_create(&c, &w), KM_ERR_RANGE);
	cr_assert_null(w);
	c = km_welch_config_default();
	c.window_s = 10.0f; /* shorter than a segment */
	cr_assert_eq(km_welch_create(&c, &w), KM_ERR_RANGE);
	c = km_welch_config_default();
	c.overlap = 0.95f;
	cr_assert_eq(km_welch_create(&c, &w), KM_ERR_RANGE);
	c = km_welch_config_default();
	c.segment_s = NAN;
	cr_assert_eq(km_welch_create(&c, &w), KM_ERR_INVALID_ARG);
	c = km_welch_config_default();
	c.segment_s = 2.0f; /* 0.5 Hz bins: no bin inside 0.1-0.4 Hz */
	c.f_hi_hz = 0.4f;
	cr_assert_eq(km_welch_create(&c, &w), KM_ERR_RANGE);
	cr_assert_eq(km_welch_create(NULL, &w), KM_ERR_INVALID_ARG);
	c = km_welch_config_default();
	cr_assert_eq(km_welch_create(&c, NULL), KM_ERR_INVALID_ARG);
	c.sample_rate_hz = 20.0f; /* docs/signal-model.md: 20 Hz suffices for stiffness */
	cr_assert_eq(km_welch_create(&c, &w), KM_OK);
	km_welch_destroy(w);
	km_welch_destroy(NULL);
}

Test(welch, reset_and_no_allocation_and_bad_input)
{
	km_welch *w = make();
	struct km_welch_result r1, r2;
	cr_assert_eq(km_welch_estimate(w, &r1), KM_ERR_STATE);
	cr_assert_eq(km_welch_push(w, NAN, 1.0f, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_welch_push(w, 1.0f, INFINITY, NULL), KM_ERR_NONFINITE);
	cr_assert_eq(km_welch_push(NULL, 1.0f, 1.0f, NULL), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_welch_estimate_at(w, 3.0f, &r1), KM_ERR_RANGE);
	uint64_t a0 = km__alloc_count();
	uint64_t rng = 5;
	for (int i = 0; i < 30 * 100; i++) {
		double x = randn(&rng), y = randn(&rng);
		km_welch_push(w, (float)x, (float)y, NULL);
	}
	cr_assert_eq(km__alloc_count(), a0);
	cr_assert_eq(km_welch_estimate(w, &r1), KM_OK);
	km_welch_reset(w);
	cr_assert_eq(km_welch_segments(w), 0);
	cr_assert_eq(km_welch_estimate(w, &r2), KM_ERR_STATE);
	rng = 5;
	for (int i = 0; i < 30 * 100; i++) {
		double x = randn(&rng), y = randn(&rng);
		km_welch_push(w, (float)x, (float)y, NULL);
	}
	cr_assert_eq(km_welch_estimate(w, &r2), KM_OK);
	cr_assert_eq(memcmp(&r1, &r2, sizeof(r1)), 0, "reset replays identically");
	km_welch_destroy(w);
}

Test(welch, hann_keeps_leakage_low_and_offset_out)
{
	/* A sine between two bins on a large offset: with the Hann window and the
	 * mean removed, 3.5 bins away holds < 1e-3 of the peak (a rectangular window
	 * leaks ~1e-2 there; Harris 1978). */
	km_welch *w = make();
	for (int i = 0; i < 48 * 100; i++) {
		double x = 1000.0 + 10.0 * sin(2.0 * PI * 0.28125 * i / 100.0);
		km_welch_push(w, (float)x, (float)x, NULL);
	}
	struct km_welch_result pk, far;
	cr_assert_eq(km_welch_estimate(w, &pk), KM_OK);
	cr_assert_eq(km_welch_estimate_at(w, 0.5f, &far), KM_OK);
	cr_assert(pk.freq_hz == 0.25f || pk.freq_hz == 0.3125f, "peak %.4f", (double)pk.freq_hz);
	cr_assert_lt(far.pxx / pk.pxx, 1e-3f, "leakage %g", (double)(far.pxx / pk.pxx));
	/* The 1000 offset would swamp bin 1 (smoothed into 0.125 Hz) if the
	 * segment mean were not removed. */
	struct km_welch_result lo;
	cr_assert_eq(km_welch_estimate_at(w, 0.125f, &lo), KM_OK);
	cr_assert_lt(lo.pxx, pk.pxx);
	/* One-sided PSD integrates to the variance: A^2 / 2 = 50 over the peak. */
	double sum = 0.0;
	struct km_welch_config c = km_welch_config_default();
	c.smooth_bins = 0;
	km_welch *w0;
	cr_assert_eq(km_welch_create(&c, &w0), KM_OK);
	for (int i = 0; i < 48 * 100; i++) {
		double x = 1000.0 + 10.0 * sin(2.0 * PI * 0.28125 * i / 100.0);
		km_welch_push(w0, (float)x, (float)x, NULL);
	}
	for (double f = 0.125; f <= 0.5 + 1e-9; f += 0.0625) {
		struct km_welch_result r;
		cr_assert_eq(km_welch_estimate_at(w0, (float)f, &r), KM_OK);
		sum += r.pxx * (100.0 / 1600.0);
	}
	/* Scaling by fs sum(w^2) makes the bin sum times the bin width equal the
	 * signal power (Parseval). */
	cr_assert_float_eq(sum, 50.0, 2.5, "power %.2f", sum);
	km_welch_destroy(w0);
	km_welch_destroy(w);
}
