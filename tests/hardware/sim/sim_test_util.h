/* Helpers shared by the virtual-mat tests (header-only, static). */
#ifndef SIM_TEST_UTIL_H
#define SIM_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/sim.h"

/* A quiet, ideal sensor: only the true pressure and the power law. */
static inline void sim_test_ideal_sensor(struct km_sim_config *c)
{
	c->noise_counts = 0;
	c->drift_counts_per_min = 0;
	c->creep_pct = 0;
	c->hysteresis_pct = 0;
	c->crosstalk_pct = 0;
	c->dead_cells = c->stuck_cells = 0;
	c->dead_row_count = c->dead_col_count = 0;
}

/* Loads a shipped scenario by name; aborts the test on failure. */
static inline int sim_test_load(const char *name, struct km_sim_config *cfg, char *err, size_t cap)
{
	char path[4096];
	int rc = km_sim_scenario_find(name, path, sizeof path);
	if (rc != KM_OK)
		return rc;
	*cfg = km_sim_config_default();
	return km_sim_scenario_load(path, cfg, err, cap);
}

/* Force (N) read back from counts with the factory curve. */
static inline double sim_test_force_from_counts(const km_sim *sim, const struct km_sim_output *o)
{
	size_t n = (size_t)o->rows * o->cols;
	float *off = malloc(n * sizeof(float)), *sc = malloc(n * sizeof(float)),
	      *ex = malloc(n * sizeof(float));
	km_sim_sensor_curve(sim, off, sc, ex, n);
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		double v = (double)o->counts[i] - off[i];
		if (v > 0)
			sum += pow(v / sc[i], 1.0 / ex[i]);
	}
	free(off);
	free(sc);
	free(ex);
	return sum * o->pitch_mm * o->pitch_mm * 1e-3;
}

/* Power of x[0..n) (mean removed) in [f0, f1] Hz, DFT at the bin frequencies. */
static inline double sim_test_band_power(const double *x, size_t n, double fs, double f0, double f1)
{
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += x[i];
	mean /= (double)n;
	double p = 0;
	for (size_t k = 1; k <= n / 2; k++) {
		double f = (double)k * fs / (double)n;
		if (f < f0 || f > f1)
			continue;
		double re = 0, im = 0;
		for (size_t i = 0; i < n; i++) {
			double a = 2 * 3.14159265358979323846 * (double)k * (double)i / (double)n;
			re += (x[i] - mean) * cos(a);
			im -= (x[i] - mean) * sin(a);
		}
		p += re * re + im * im;
	}
	return p / ((double)n * (double)n);
}

/* Frequency (Hz) of the strongest DFT bin in [f0, f1]. */
static inline double sim_test_peak_freq(const double *x, size_t n, double fs, double f0, double f1)
{
	double mean = 0, best = -1, bestf = 0;
	for (size_t i = 0; i < n; i++)
		mean += x[i];
	mean /= (double)n;
	for (size_t k = 1; k <= n / 2; k++) {
		double f = (double)k * fs / (double)n;
		if (f < f0 || f > f1)
			continue;
		double re = 0, im = 0;
		for (size_t i = 0; i < n; i++) {
			double a = 2 * 3.14159265358979323846 * (double)k * (double)i / (double)n;
			re += (x[i] - mean) * cos(a);
			im -= (x[i] - mean) * sin(a);
		}
		if (re * re + im * im > best) {
			best = re * re + im * im;
			bestf = f;
		}
	}
	return bestf;
}

#endif
