/* The bandwidth arithmetic of PROTOCOL.md, checked on encoded frames: a body
 * lying on the mat (smooth contact region, zero elsewhere, ADC noise where
 * loaded) must fit full-speed USB at 100 Hz. The printed table is the one in
 * PROTOCOL.md. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "proto_test_util.h"

/* Practical full-speed bulk throughput: 19 packets x 64 bytes per 1 ms frame
 * is 1.216 MB/s in theory (USB 2.0 spec 5.8.4); hosts and MCU stacks reach
 * ~1.0 MB/s, the budget used here. */
#define BUDGET_BYTES_PER_S 1000000.0

static size_t wire_bytes(uint16_t rows, uint16_t cols, uint8_t enc, const uint16_t *x,
                         const uint16_t *prev)
{
	size_t cap = km_proto_max_packet_bytes(rows, cols), w = 0;
	uint8_t *buf = malloc(cap);
	struct km_proto_frame_header h = {.rows = rows, .cols = cols, .encoding = enc};
	cr_assert_eq(km_proto_encode_frame(&h, x, prev, buf, cap, &w), KM_OK);
	free(buf);
	return w;
}

static const char *enc_name[] = {"RAW16", "RAW12", "DELTA", "DELTA_T"};

Test(bandwidth, body_frames_fit_full_speed_at_100_hz)
{
	const uint16_t dims[] = {32, 64, 128};
	printf("grid     enc      bytes/frame  bytes/cell  MB/s@100Hz\n");
	for (size_t d = 0; d < 3; d++) {
		uint16_t n = dims[d];
		size_t cells = (size_t)n * n;
		uint16_t *x = malloc(cells * sizeof *x), *prev = malloc(cells * sizeof *prev);
		tu_fill_smooth(prev, n, n, 2, 1);
		tu_fill_smooth(x, n, n, 2, 2);
		size_t sz[KM_PROTO_ENC_COUNT];
		for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++) {
			sz[enc] = wire_bytes(n, n, enc, x, prev);
			printf("%3ux%-3u  %-7s  %11zu  %10.2f  %10.3f\n", n, n, enc_name[enc],
			       sz[enc], (double)sz[enc] / (double)cells, sz[enc] * 100.0 / 1e6);
		}
		/* The fixed-size encodings follow the formula exactly. */
		size_t frags16 =
		    (2 * cells + KM_PROTO_MAX_FRAG_PAYLOAD - 1) / KM_PROTO_MAX_FRAG_PAYLOAD;
		size_t frags12 = ((cells * 3 + 1) / 2 + KM_PROTO_MAX_FRAG_PAYLOAD - 1) /
		                 KM_PROTO_MAX_FRAG_PAYLOAD;
		cr_assert_eq(sz[KM_PROTO_ENC_RAW16],
		             2 * cells + KM_PROTO_PACKET_OVERHEAD * frags16);
		cr_assert_eq(sz[KM_PROTO_ENC_RAW12],
		             (cells * 3 + 1) / 2 + KM_PROTO_PACKET_OVERHEAD * frags12);
		/* DELTA beats RAW12 on a body frame and fits the budget at 100 Hz. */
		cr_assert_lt(sz[KM_PROTO_ENC_DELTA], sz[KM_PROTO_ENC_RAW12]);
		cr_assert_lt(sz[KM_PROTO_ENC_DELTA] * 100.0, BUDGET_BYTES_PER_S, "%ux%u", n, n);
		if (n == 64) /* 64x64 fits even uncompressed */
			cr_assert_lt(sz[KM_PROTO_ENC_RAW12] * 100.0, BUDGET_BYTES_PER_S);
		if (n == 128) /* 128x128 does not, uncompressed */
			cr_assert_gt(sz[KM_PROTO_ENC_RAW12] * 100.0, BUDGET_BYTES_PER_S);
		free(x);
		free(prev);
	}
}

Test(bandwidth, worst_case_noise_is_bounded)
{
	/* Full-range 12-bit noise defeats prediction: mostly literals, bounded
	 * by 2.5 bytes per cell (5 nibbles); RAW12 is the better choice there. */
	uint16_t n = 64;
	size_t cells = (size_t)n * n;
	uint16_t *x = malloc(cells * sizeof *x);
	tu_fill_random(x, cells, 4095, 5);
	size_t sz = 0;
	cr_assert_eq(km_proto_payload_size(KM_PROTO_ENC_DELTA, n, n, x, NULL, &sz), KM_OK);
	printf("64x64 uniform 12-bit noise: DELTA %zu bytes (%.2f/cell)\n", sz,
	       (double)sz / (double)cells);
	cr_assert_leq(sz, (5 * cells + 1) / 2);
	cr_assert_gt(sz, 2 * cells, "noise is not compressible");
	free(x);
}
