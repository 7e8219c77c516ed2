/* km_frame: one pressure map with its timing and quality flags. */
#include <math.h>
#include <string.h>

#include "km_internal.h"

static int check_header(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry)
{
	if (rows == 0 || cols == 0 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!isfinite(pitch_mm) || pitch_mm <= 0.0f)
		return KM_ERR_INVALID_ARG;
	if (geometry != KM_GEOMETRY_FLAT && geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

int km_frame_create(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry,
                    struct km_frame **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	int rc = check_header(rows, cols, pitch_mm, geometry);
	if (rc != KM_OK)
		return rc;
	struct km_frame *f = km__calloc(1, sizeof *f);
	if (!f)
		return KM_ERR_NO_MEMORY;
	f->kpa = km__calloc((size_t)rows * cols, sizeof *f->kpa);
	if (!f->kpa) {
		km__free(f);
		return KM_ERR_NO_MEMORY;
	}
	f->rows = rows;
	f->cols = cols;
	f->pitch_mm = pitch_mm;
	f->geometry = geometry;
	*out = f;
	return KM_OK;
}

int km_frame_copy(struct km_frame *dst, const struct km_frame *src)
{
	if (!dst || !src || !dst->kpa || !src->kpa)
		return KM_ERR_INVALID_ARG;
	if (dst->rows != src->rows || dst->cols != src->cols)
		return KM_ERR_SHAPE;
	if (dst == src)
		return KM_OK;
	float *cells = dst->kpa;
	*dst = *src;
	dst->kpa = cells;
	memcpy(dst->kpa, src->kpa, km_frame_cells(src) * sizeof *src->kpa);
	return KM_OK;
}

int km_frame_clone(const struct km_frame *src, struct km_frame **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!src || !src->kpa)
		return KM_ERR_INVALID_ARG;
	struct km_frame *f;
	int rc = km_frame_create(src->rows, src->cols, src->pitch_mm, src->geometry, &f);
	if (rc != KM_OK)
		return rc;
	rc = km_frame_copy(f, src);
	if (rc != KM_OK) {
		km_frame_destroy(f);
		return rc;
	}
	*out = f;
	return KM_OK;
}

void km_frame_destroy(struct km_frame *frame)
{
	if (!frame)
		return;
	km__free(frame->kpa);
	km__free(frame);
}

static bool cell_is_bad(float v)
{
	return !isfinite(v) || v < 0.0f;
}

int km_frame_check(const struct km_frame *frame, size_t *bad_cells)
{
	if (bad_cells)
		*bad_cells = 0;
	if (!frame || !frame->kpa)
		return KM_ERR_INVALID_ARG;
	int rc = check_header(frame->rows, frame->cols, frame->pitch_mm, frame->geometry);
	if (rc != KM_OK)
		return rc;
	size_t bad = 0, n = km_frame_cells(frame);
	for (size_t i = 0; i < n; i++)
		bad += cell_is_bad(frame->kpa[i]);
	if (bad_cells)
		*bad_cells = bad;
	return bad ? KM_ERR_NONFINITE : KM_OK;
}

size_t km_frame_sanitize(struct km_frame *frame)
{
	if (!frame || !frame->kpa)
		return 0;
	size_t bad = 0, n = km_frame_cells(frame);
	for (size_t i = 0; i < n; i++) {
		if (cell_is_bad(frame->kpa[i])) {
			frame->kpa[i] = 0.0f;
			bad++;
		}
	}
	if (bad)
		frame->flags |= KM_FRAME_BAD_CELLS;
	return bad;
}
