/* What the .kmrec writer and reader share: the magics, record sizes, the
 * device check and the in-memory chunk index (docs/kmrec-format.md). */
#include <math.h>
#include <string.h>

#include "recording_internal.h"

const uint8_t km__rec_file_magic[8] = {'K', 'M', 'R', 'E', 'C', 0x0D, 0x0A, 0x1A};
const uint8_t km__rec_chunk_magic[4] = {'K', 'M', 'C', 'K'};
const uint8_t km__rec_end_magic[8] = {'K', 'M', 'R', 'E', 'C', 'E', 'N', 'D'};

void km__rec_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	memset(dst + n, 0, cap - n);
}

/* ------------------------------------------------------------------------ */
/* Shared layout                                                             */
/* ------------------------------------------------------------------------ */

size_t km__rec_frame_size(uint32_t content, size_t cells)
{
	size_t n = REC_PREFIX + FRAME_FIXED;
	if (content & KM_REC_RAW)
		n += cells * 2;
	if (content & KM_REC_KPA)
		n += cells * 4;
	return n;
}

size_t km__rec_event_size(unsigned n_ints, unsigned n_values)
{
	return REC_PREFIX + EVENT_FIXED + 4u * n_ints + 4u * n_values;
}

int km__rec_check_device(const struct km_rec_device *d)
{
	if (d->rows == 0 || d->cols == 0 || d->rows > KM_FRAME_MAX_DIM ||
	    d->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!isfinite(d->pitch_mm) || d->pitch_mm <= 0.0f)
		return KM_ERR_INVALID_ARG;
	if (d->geometry != KM_GEOMETRY_FLAT && d->geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(d->rate_hz) || d->rate_hz < 0.0f)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

int km__rec_index_push(struct km__rec_index_entry **arr, size_t *n, size_t *cap,
                       const struct km__rec_index_entry *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		size_t bytes;
		if (!km__mul_size(ncap, sizeof **arr, &bytes))
			return KM_ERR_NO_MEMORY;
		void *p = km__realloc(*arr, bytes);
		if (!p)
			return KM_ERR_NO_MEMORY;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = *e;
	return KM_OK;
}
