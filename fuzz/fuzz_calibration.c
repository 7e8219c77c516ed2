/*
 * Calibration files (km_calibration_parse, the bytes km_calibration_load
 * reads), then the parsed calibration applied to a few frames.
 * Input: options (1 byte), then the file. Options bit 0: repair the trailing
 *   CRC-32C so mutations reach the value checks; bit 1: take the mat's grid
 *   from the file header (else 4 x 4, so KM_ERR_SHAPE); bit 2: creep
 *   correction; bit 3: a zero request first; bit 4: crosstalk 2 %; bit 5:
 *   hysteresis 20 %; bits 6-7: the raw frame pattern.
 * Properties: only documented codes; *out NULL on error; km_calibration_load
 * of the same bytes as a file agrees with the parse; an accepted file
 * serialises back to the same bytes (the reserved header bytes excepted) and
 * parses again; applying it gives kPa that are never NaN or negative.
 */
#define _GNU_SOURCE /* memfd_create */
#include <math.h>

#include "fuzz_file.h"
#include "knotmap/calibration.h"
#include "knotmap/protocol.h"

#define CAL_HEADER 24

static void apply_frames(km_calibration *cal, uint16_t rows, uint16_t cols, uint8_t opt,
                         const uint8_t *file, size_t size)
{
	size_t n = (size_t)rows * cols;
	uint16_t *raw = malloc(n * sizeof *raw);
	float *kpa = malloc(n * sizeof *kpa);
	FUZZ_CHECK(raw && kpa);
	if (opt & 8u) {
		FUZZ_CHECK(km_calibration_zero(cal) == KM_OK);
		FUZZ_CHECK(km_calibration_zero_pending(cal));
	}
	uint32_t s = (uint32_t)size * 2654435761u;
	for (int f = 0; f < 4; f++) {
		for (size_t i = 0; i < n; i++) {
			switch ((opt >> 6) & 3u) {
			case 0:
				raw[i] = f < 2 ? 0 : (uint16_t)(i * 97u % 4096u);
				break;
			case 1:
				raw[i] = (uint16_t)(f * 1365);
				break;
			case 2:
				raw[i] = file[(i + (size_t)f) % size] * 16u;
				break;
			default:
				s ^= s << 13;
				s ^= s >> 17;
				s ^= s << 5;
				raw[i] = (uint16_t)s;
				break;
			}
		}
		uint32_t flags = 0;
		uint64_t t_us = 1000000u + 10000u * (uint64_t)f;
		int rc = km_calibration_apply(cal, raw, t_us, (opt & 4u) != 0, kpa, &flags);
		FUZZ_CHECK(rc == KM_OK);
		for (size_t i = 0; i < n; i++) {
			if (isnan(kpa[i]) || kpa[i] < 0.0f) {
				fprintf(stderr, "frame %d cell %zu: raw %u -> kPa %g\n", f, i,
				        raw[i], (double)kpa[i]);
				FUZZ_CHECK(!isnan(kpa[i]) && kpa[i] >= 0.0f);
			}
		}
	}
	free(kpa);
	free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	uint8_t *buf = fuzz_dup(data + 1, size - 1);
	size_t len = size - 1;
	if ((opt & 1u) && len >= CAL_HEADER + 4)
		km_put_le32(buf + len - 4, km_crc32c(0, buf, len - 4));

	uint16_t rows = 4, cols = 4;
	if ((opt & 2u) && len >= 16) {
		uint16_t r = km_get_le16(buf + 12), c = km_get_le16(buf + 14);
		if (r >= 1 && r <= KM_FRAME_MAX_DIM && c >= 1 && c <= KM_FRAME_MAX_DIM) {
			rows = r;
			cols = c;
		}
	}
	struct km_calibration_config cfg = km_calibration_config_default(rows, cols);
	/* -DFUZZ_NO_CROSSTALK keeps crosstalk off, to fuzz past the open crash #1
	 * of docs/reliability.md. */
#ifndef FUZZ_NO_CROSSTALK
	if (opt & 16u)
		cfg.crosstalk = 0.02f;
#endif
	if (opt & 32u)
		cfg.hysteresis = 0.2f;
	cfg.zero_frames = 2; /* the zero request completes within the frames applied */
	km_calibration *cal = (km_calibration *)&cfg; /* must be overwritten */
	int rc = km_calibration_parse(&cfg, buf, len, &cal);
	FUZZ_CHECK_RC(rc, KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC,
	              KM_ERR_SHAPE, KM_ERR_CALIBRATION, KM_ERR_NO_MEMORY);
	km_calibration *loaded = (km_calibration *)&cfg;
	int lrc = km_calibration_load(&cfg, fuzz_file(buf, len), &loaded);
	FUZZ_CHECK(lrc == rc);
	km_calibration_destroy(loaded);
	if (rc != KM_OK) {
		FUZZ_CHECK(cal == NULL && loaded == NULL);
		free(buf);
		return 0;
	}
	FUZZ_CHECK(cal != NULL);
	FUZZ_CHECK((int)km_calibration_model(cal) == km_get_le16(buf + 10));

	/* Serialise: the same bytes, except the reserved ones (and so the CRC). */
	size_t need = 0;
	FUZZ_CHECK(km_calibration_serialize(cal, NULL, 0, &need) == KM_ERR_OVERFLOW);
	FUZZ_CHECK(need == len);
	uint8_t *out = malloc(need);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(km_calibration_serialize(cal, out, need, &need) == KM_OK);
	FUZZ_CHECK(memcmp(out, buf, 18) == 0);
	FUZZ_CHECK(memcmp(out + CAL_HEADER, buf + CAL_HEADER, len - CAL_HEADER - 4) == 0);
	km_calibration *again = NULL;
	FUZZ_CHECK(km_calibration_parse(&cfg, out, need, &again) == KM_OK);
	km_calibration_destroy(again);
	free(out);

	apply_frames(cal, rows, cols, opt, buf, len);
	FUZZ_CHECK(km_calibration_reset(cal) == KM_OK);
	km_calibration_destroy(cal);
	free(buf);
	return 0;
}
