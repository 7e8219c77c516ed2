/*
 * Fitting a per-cell power law from known uniform loads (hardware/BUILD.md,
 * "Calibration with known weights"). Least squares in log-log space:
 *     log(counts - zero) = log(scale) + exponent * log(kPa)
 * which is exact for the sensor model the virtual mat uses and the usual one
 * for piezoresistive film (its conductance follows a power of the load).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"
#include "calibration_internal.h"

#define MOD "calibration"

/* A fit is kept when the log-domain residual stays under this (~25 %). */
#define MAX_LOG_RMS 0.25
#define MIN_EXPONENT 0.05f
#define MAX_EXPONENT 20.0f

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Median of v[0..n-1] (reorders v). n > 0. */
static float median(float *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_float);
	return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* Fits one cell; false when it cannot be trusted. */
static bool fit_cell(float zero, unsigned levels, const float *kpa, const float *counts,
		     size_t stride, float min_rise, uint16_t max_counts, float *scale,
		     float *exponent)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, xs[KM_CAL_MAX_POINTS], ys[KM_CAL_MAX_POINTS];
	unsigned n = 0;
	float prev = zero;
	for (unsigned l = 0; l < levels; l++) {
		float c = counts[l * stride];
		if (!isfinite(c) || c < 0.0f || c - zero <= min_rise)
			continue; /* not under the plate at this level */
		if (c >= (float)max_counts || c <= prev)
			return false; /* saturated, or not rising with load: stuck */
		prev = c;
		double x = log((double)kpa[l]), y = log((double)(c - zero));
		xs[n] = x;
		ys[n] = y;
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		n++;
	}
	if (n < 2)
		return false;
	double den = n * sxx - sx * sx;
	if (den <= 1e-12)
		return false;
	double e = (n * sxy - sx * sy) / den;
	double ls = (sy - e * sx) / n;
	double rss = 0;
	for (unsigned k = 0; k < n; k++) {
		double r = ys[k] - (ls + e * xs[k]);
		rss += r * r;
	}
	if (!isfinite(e) || !isfinite(ls) || sqrt(rss / n) > MAX_LOG_RMS || e < MIN_EXPONENT ||
	    e > MAX_EXPONENT)
		return false;
	*scale = (float)exp(ls);
	*exponent = (float)e;
	return isfinite(*scale) && *scale > 0.0f;
}

int km_calibration_fit_power_law(km_calibration *cal, const float *zero, unsigned levels,
				 const float *kpa, const float *counts, size_t cells,
				 float min_rise, uint16_t max_counts, size_t *fallback_cells)
{
	if (fallback_cells)
		*fallback_cells = 0;
	if (!cal || !zero || !kpa || !counts || cells == 0 || levels < 2 ||
	    levels > KM_CAL_MAX_POINTS || !isfinite(min_rise) || min_rise < 0.0f)
		return KM_ERR_INVALID_ARG;
	for (unsigned l = 0; l < levels; l++)
		if (!isfinite(kpa[l]) || kpa[l] <= 0.0f || (l > 0 && kpa[l] <= kpa[l - 1]))
			return KM_ERR_RANGE;

	float *offset = km__calloc(cells, sizeof *offset);
	float *scale = km__calloc(cells, sizeof *scale);
	float *expo = km__calloc(cells, sizeof *expo);
	bool *good = km__calloc(cells, sizeof *good);
	float *scratch = km__calloc(cells, sizeof *scratch);
	int rc = KM_ERR_NO_MEMORY;
	if (!offset || !scale || !expo || !good || !scratch)
		goto out;

	size_t n_good = 0;
	for (size_t i = 0; i < cells; i++) {
		offset[i] = isfinite(zero[i]) && zero[i] >= 0.0f ? zero[i] : 0.0f;
		good[i] = fit_cell(offset[i], levels, kpa, counts + i, cells, min_rise, max_counts,
				   &scale[i], &expo[i]);
		n_good += good[i];
	}
	if (n_good * 2 < cells) {
		km__log(km__calibration_log(cal), KM_LOG_ERROR, MOD,
			"only %zu of %zu cells could be fitted: each cell needs readings at two "
			"or more levels that rise with the load",
			n_good, cells);
		rc = KM_ERR_CALIBRATION;
		goto out;
	}
	/* Cells that could not be fitted borrow the typical response. */
	size_t k = 0;
	for (size_t i = 0; i < cells; i++)
		if (good[i])
			scratch[k++] = scale[i];
	float med_scale = median(scratch, k);
	k = 0;
	for (size_t i = 0; i < cells; i++)
		if (good[i])
			scratch[k++] = expo[i];
	float med_expo = median(scratch, k);
	for (size_t i = 0; i < cells; i++) {
		if (!good[i]) {
			scale[i] = med_scale;
			expo[i] = med_expo;
		}
	}
	rc = km_calibration_set_power_law(cal, offset, scale, expo, cells);
	if (rc == KM_OK && fallback_cells)
		*fallback_cells = cells - n_good;
out:
	km__free(offset);
	km__free(scale);
	km__free(expo);
	km__free(good);
	km__free(scratch);
	return rc;
}
