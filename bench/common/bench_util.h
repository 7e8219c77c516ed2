/*
 * Small helpers shared by the bench programs (header-only: bench/common has no
 * CMakeLists.txt, so it is not a benchmark of its own).
 */
#ifndef KM_BENCH_UTIL_H
#define KM_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "knotmap/core.h"
#include "knotmap/sim.h"

/* CPU time of the calling thread: fair on a machine shared with other jobs. */
static inline double bu_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bu_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* q-quantile (0..1) of v[n] by nearest rank; sorts v. */
static inline double bu_quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof *v, bu_cmp_double);
	size_t k = (size_t)(q * (double)n + 0.5);
	if (k >= n)
		k = n - 1;
	return v[k];
}

/*
 * Writes a float32 .npy file (format 1.0, little-endian, C order).
 * shape: ndim dims. Returns 0 or -1.
 */
static inline int bu_write_npy(const char *path, const float *data, const size_t *shape, int ndim)
{
	char dict[256], dims[160] = "";
	size_t count = 1, off = 0;
	for (int i = 0; i < ndim; i++) {
		int n = snprintf(dims + off, sizeof dims - off, "%zu,%s", shape[i],
		                 (i + 1 < ndim) ? " " : "");
		if (n < 0 || (size_t)n >= sizeof dims - off)
			return -1;
		off += (size_t)n;
		count *= shape[i];
	}
	int len = snprintf(dict, sizeof dict,
	                   "{'descr': '<f4', 'fortran_order': False, "
	                   "'shape': (%s), }",
	                   dims);
	if (len < 0 || (size_t)len >= sizeof dict - 64)
		return -1;
	size_t total = 10 + (size_t)len + 1;
	size_t pad = (64 - total % 64) % 64;
	for (size_t i = 0; i < pad; i++)
		dict[len++] = ' ';
	dict[len++] = '\n';
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	unsigned char hdr[10] = {0x93,
	                         'N',
	                         'U',
	                         'M',
	                         'P',
	                         'Y',
	                         1,
	                         0,
	                         (unsigned char)(len & 0xff),
	                         (unsigned char)(len >> 8)};
	int ok = fwrite(hdr, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len &&
	         (count == 0 || fwrite(data, sizeof(float), count, f) == count);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* The benchmark grids: the virtual mat's body on a flat mat, and the
 * instrumented roller (cylinder) with a thigh rolling over it. */
struct bu_case {
	const char *name;
	uint16_t rows, cols;
	float pitch_mm;
	enum km_geometry geometry;
};

static const struct bu_case bu_cases[] = {
    {"32x32", 32, 32, 10.0f, KM_GEOMETRY_FLAT},
    {"64x64", 64, 64, 7.5f, KM_GEOMETRY_FLAT},
    {"128x128", 128, 128, 5.0f, KM_GEOMETRY_FLAT},
    {"48x128cyl", 48, 128, 5.0f, KM_GEOMETRY_CYLINDER},
};
#define BU_NCASES (sizeof bu_cases / sizeof bu_cases[0])

/* Virtual mat config for a case: a lying body with two knots (flat), or the
 * roller device rolling a thigh over a knot (cylinder). */
static inline struct km_sim_config bu_sim_config(const struct bu_case *bc)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = bc->rows;
	c.cols = bc->cols;
	c.pitch_mm = bc->pitch_mm;
	c.geometry = bc->geometry;
	c.seed = 7;
	float w = bc->cols * bc->pitch_mm, h = bc->rows * bc->pitch_mm;
	if (bc->geometry == KM_GEOMETRY_FLAT) {
		c.body_midline_x_mm = w / 2;
		c.knot_count = 2;
		c.knots[0] = (struct km_sim_knot){w / 2 + 0.22f * w, 0.45f * h, 15, 30, 8, 0};
		c.knots[1] = (struct km_sim_knot){w / 2 - 0.25f * w, 0.7f * h, 12, 25, 6, 0};
	} else {
		c.body = false;
		c.tool = KM_SIM_TOOL_ROLLER_DEVICE;
		c.tool_width_mm = 120;
		c.tool_mass_kg = 1.0f;
		c.knot_count = 1;
		c.knots[0] = (struct km_sim_knot){0.45f * w, 0.5f * h, 18, 30, 12, 0};
		c.start_x_mm = 0;
		c.start_y_mm = 0.5f * h;
		c.step_count = 3;
		c.steps[0] = (struct km_sim_step){KM_SIM_MOVE_ROLL, 8, 1.1f * w, 0.5f * h, 0.33f};
		c.steps[1] =
		    (struct km_sim_step){KM_SIM_MOVE_SETTLE, 2, 0.45f * w, 0.5f * h, 0.33f};
		c.steps[2] = (struct km_sim_step){KM_SIM_MOVE_HOLD, 30, 0.45f * w, 0.5f * h, 0.33f};
	}
	return c;
}

#endif
