/* km_frame: invariants, copies, bad arguments. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_internal.h"

Test(frame, create_is_zeroed_with_given_header)
{
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(48, 64, 7.5f, KM_GEOMETRY_CYLINDER, &f), KM_OK);
	cr_assert_not_null(f);
	cr_assert_eq(f->rows, 48);
	cr_assert_eq(f->cols, 64);
	cr_assert_float_eq(f->pitch_mm, 7.5f, 1e-6);
	cr_assert_eq(f->geometry, KM_GEOMETRY_CYLINDER);
	cr_assert_eq(km_frame_cells(f), 48u * 64u);
	for (size_t i = 0; i < km_frame_cells(f); i++)
		cr_assert_eq(f->kpa[i], 0.0f);
	cr_assert_eq(f->flags, 0u);
	cr_assert_eq(km_frame_check(f, NULL), KM_OK);
	km_frame_destroy(f);
}

Test(frame, create_rejects_bad_arguments)
{
	struct km_frame *f = (struct km_frame *)0x1;
	cr_assert_eq(km_frame_create(0, 8, 10.0f, KM_GEOMETRY_FLAT, &f), KM_ERR_SHAPE);
	cr_assert_null(f, "out must be cleared on error");
	cr_assert_eq(km_frame_create(8, 0, 10.0f, KM_GEOMETRY_FLAT, &f), KM_ERR_SHAPE);
	cr_assert_eq(km_frame_create(KM_FRAME_MAX_DIM + 1, 8, 10.0f, KM_GEOMETRY_FLAT, &f),
	             KM_ERR_SHAPE);
	cr_assert_eq(km_frame_create(8, 8, 0.0f, KM_GEOMETRY_FLAT, &f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_create(8, 8, -1.0f, KM_GEOMETRY_FLAT, &f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_create(8, 8, NAN, KM_GEOMETRY_FLAT, &f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_create(8, 8, INFINITY, KM_GEOMETRY_FLAT, &f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_create(8, 8, 10.0f, (enum km_geometry)7, &f), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_create(8, 8, 10.0f, KM_GEOMETRY_FLAT, NULL), KM_ERR_INVALID_ARG);
	cr_assert_null(f);
}

Test(frame, max_dim_is_accepted)
{
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(KM_FRAME_MAX_DIM, 1, 5.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	km_frame_destroy(f);
}

Test(frame, copy_and_clone_are_deep)
{
	struct km_frame *a, *b, *c;
	cr_assert_eq(km_frame_create(3, 5, 10.0f, KM_GEOMETRY_FLAT, &a), KM_OK);
	for (size_t i = 0; i < km_frame_cells(a); i++)
		a->kpa[i] = (float)i * 1.5f;
	a->sequence = 77;
	a->device_time_us = 123456789;
	a->flags = KM_FRAME_SATURATED;
	a->dropped_since_last = 2;
	cr_assert_eq(km_frame_clone(a, &b), KM_OK);
	cr_assert_neq(a->kpa, b->kpa);
	cr_assert_eq(memcmp(a->kpa, b->kpa, km_frame_cells(a) * sizeof(float)), 0);
	cr_assert_eq(b->sequence, 77u);
	cr_assert_eq(b->device_time_us, 123456789u);
	cr_assert_eq(b->flags, (uint32_t)KM_FRAME_SATURATED);
	cr_assert_eq(b->dropped_since_last, 2u);
	a->kpa[0] = 99.0f;
	cr_assert_eq(b->kpa[0], 0.0f, "clone shares memory with its source");

	float *keep = b->kpa;
	cr_assert_eq(km_frame_copy(b, a), KM_OK);
	cr_assert_eq(b->kpa, keep, "copy must keep the destination's buffer");
	cr_assert_eq(b->kpa[0], 99.0f);

	cr_assert_eq(km_frame_create(5, 3, 10.0f, KM_GEOMETRY_FLAT, &c), KM_OK);
	cr_assert_eq(km_frame_copy(c, a), KM_ERR_SHAPE, "transposed shape must not copy");
	cr_assert_eq(km_frame_copy(NULL, a), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_copy(c, NULL), KM_ERR_INVALID_ARG);
	km_frame_destroy(c);
	cr_assert_eq(km_frame_clone(NULL, &c), KM_ERR_INVALID_ARG);
	cr_assert_null(c);
	km_frame_destroy(a);
	km_frame_destroy(b);
	km_frame_destroy(NULL);
}

Test(frame, check_and_sanitize_bad_cells)
{
	struct km_frame *f;
	size_t bad = 99;
	cr_assert_eq(km_frame_create(4, 4, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	f->kpa[1] = NAN;
	f->kpa[2] = INFINITY;
	f->kpa[3] = -0.5f;
	f->kpa[4] = 3.0f;
	cr_assert_eq(km_frame_check(f, &bad), KM_ERR_NONFINITE);
	cr_assert_eq(bad, 3u);
	cr_assert_eq(km_frame_sanitize(f), 3u);
	cr_assert(f->flags & KM_FRAME_BAD_CELLS);
	cr_assert_eq(f->kpa[1], 0.0f);
	cr_assert_eq(f->kpa[4], 3.0f, "good cells must survive sanitize");
	cr_assert_eq(km_frame_check(f, &bad), KM_OK);
	cr_assert_eq(bad, 0u);
	/* A header someone scribbled on is caught too. */
	f->rows = 0;
	cr_assert_eq(km_frame_check(f, NULL), KM_ERR_SHAPE);
	f->rows = 4;
	f->pitch_mm = NAN;
	cr_assert_eq(km_frame_check(f, NULL), KM_ERR_INVALID_ARG);
	km_frame_destroy(f);
	cr_assert_eq(km_frame_check(NULL, NULL), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_frame_sanitize(NULL), 0u);
}
