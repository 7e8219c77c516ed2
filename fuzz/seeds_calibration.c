/*
 * Seeds of fuzz_calibration: files written by km_calibration_serialize for
 * both models and several grids, each with every option pattern that keeps
 * the grid from the header.
 */
#include <stdio.h>
#include <stdlib.h>

#include "knotmap/calibration.h"
#include "seeds.h"

static void emit(const char *dir, const char *name, km_calibration *cal)
{
	size_t need = 0;
	km_calibration_serialize(cal, NULL, 0, &need);
	uint8_t *buf = malloc(need);
	if (!buf || km_calibration_serialize(cal, buf, need, &need) != KM_OK)
		exit(1);
	/* options: CRC repair + header grid, with creep/zero/crosstalk/hysteresis
	 * and the raw patterns varied. */
	static const uint8_t opts[] = {0x02, 0x03, 0x07, 0x0F, 0x1B, 0x27, 0x7B, 0xBF, 0xFF};
	char file[96];
	for (size_t k = 0; k < sizeof opts; k++) {
		struct seed_buf b = {0};
		seed_u8(&b, opts[k]);
		seed_put(&b, buf, need);
		snprintf(file, sizeof file, "%s-%02x", name, opts[k]);
		seed_write_buf(dir, file, &b);
		seed_free(&b);
	}
	free(buf);
}

void seeds_calibration(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_calibration", out);
	static const uint16_t grids[][2] = {{1, 1}, {4, 4}, {3, 7}, {8, 8}};
	char name[64];
	for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
		uint16_t rows = grids[g][0], cols = grids[g][1];
		size_t n = (size_t)rows * cols;
		struct km_calibration_config cfg = km_calibration_config_default(rows, cols);
		km_calibration *cal = NULL;
		if (km_calibration_create(&cfg, &cal) != KM_OK)
			exit(1);
		/* The virtual mat's sensor: counts = 60 + 62 p^0.6, varied per cell. */
		float *o = malloc(n * sizeof *o), *s = malloc(n * sizeof *s);
		float *e = malloc(n * sizeof *e);
		enum { PTS = 5 };
		float *cx = malloc(n * PTS * sizeof *cx), *cy = malloc(n * PTS * sizeof *cy);
		if (!o || !s || !e || !cx || !cy)
			exit(1);
		for (size_t i = 0; i < n; i++) {
			o[i] = 60.0f + (float)(i % 7);
			s[i] = 62.0f * (1.0f + 0.01f * (float)(i % 5));
			e[i] = 0.6f + 0.01f * (float)(i % 3);
			for (int k = 0; k < PTS; k++) {
				cx[i * PTS + (size_t)k] = 60.0f + 900.0f * (float)k + (float)i;
				cy[i * PTS + (size_t)k] = 40.0f * (float)(k * k);
			}
		}
		if (km_calibration_set_power_law(cal, o, s, e, n) != KM_OK)
			exit(1);
		snprintf(name, sizeof name, "power-%ux%u", rows, cols);
		emit(dir, name, cal);
		unsigned pts = g == 0 ? 2 : PTS;
		if (g == 0) {
			cx[1] = 4095.0f;
			cy[1] = 1000.0f;
		}
		if (km_calibration_set_curve(cal, pts, cx, cy, n) != KM_OK)
			exit(1);
		snprintf(name, sizeof name, "curve-%ux%u", rows, cols);
		emit(dir, name, cal);
		free(o);
		free(s);
		free(e);
		free(cx);
		free(cy);
		km_calibration_destroy(cal);
	}
}
