/* Frame packets: round trips of every encoding at several shapes, fragments,
 * CRC against every single-bit flip, truncation at every length, garbage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto_test_util.h"

/* Encodes, parses every packet, joins the payload and decodes it; checks the
 * header fields and that the cells come back exactly. Returns packets used. */
static size_t round_trip(uint16_t rows, uint16_t cols, uint8_t enc, const uint16_t *x,
                         const uint16_t *prev, size_t max_transfer)
{
	size_t n = (size_t)rows * cols;
	size_t cap = km_proto_max_packet_bytes_split(rows, cols, max_transfer);
	cr_assert_gt(cap, 0);
	uint8_t *buf = malloc(cap);
	uint8_t *joined = malloc(KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols));
	uint16_t *y = malloc(n * sizeof *y);
	struct km_proto_frame_header h = {.sequence = 0xFFFFFFF0u,
	                                  .timestamp_us = 0x0123456789ABCDEFull,
	                                  .rows = rows,
	                                  .cols = cols,
	                                  .encoding = enc,
	                                  .flags = KM_PROTO_FLAG_SATURATED | KM_PROTO_FLAG_ZEROED};
	size_t written = 0, npk = 0;
	cr_assert_eq(km_proto_encode_frame_split(&h, x, prev, max_transfer, buf, cap, &written, &npk),
	             KM_OK);
	cr_assert_leq(written, cap, "max_packet_bytes is an upper bound");
	size_t expect_total = 0;
	cr_assert_eq(km_proto_payload_size(enc, rows, cols, x, prev, &expect_total), KM_OK);

	size_t pos = 0, total = 0, k = 0;
	while (pos < written) {
		struct km_proto_packet p;
		size_t used = 0;
		cr_assert_eq(km_proto_parse_packet(buf + pos, written - pos, &p, &used), KM_OK,
		             "packet %zu", k);
		cr_assert_leq(used, max_transfer);
		cr_assert_eq(p.header.sequence, h.sequence);
		cr_assert_eq(p.header.timestamp_us, h.timestamp_us);
		cr_assert_eq(p.header.rows, rows);
		cr_assert_eq(p.header.cols, cols);
		cr_assert_eq(p.header.encoding, enc);
		cr_assert_eq(p.header.flags, h.flags);
		cr_assert_eq(p.frag_index, k);
		cr_assert_eq(p.frag_count, npk);
		cr_assert_eq(p.frag_offset, total);
		cr_assert_eq(p.total_len, expect_total);
		memcpy(joined + total, p.payload, p.payload_len);
		total += p.payload_len;
		pos += used;
		k++;
	}
	cr_assert_eq(k, npk);
	cr_assert_eq(total, expect_total);
	cr_assert_eq(km_proto_decode_payload(enc, rows, cols, joined, total, prev, y, n), KM_OK);
	cr_assert_eq(memcmp(x, y, n * sizeof *y), 0, "%ux%u enc %u", rows, cols, enc);
	free(buf);
	free(joined);
	free(y);
	return npk;
}

static const uint16_t shapes[][2] = {{1, 1}, {1, 2},   {1, 7},   {2, 1},   {3, 5},
                                     {7, 9}, {16, 16}, {33, 31}, {64, 64}, {128, 128}};

Test(packet, round_trip_all_encodings_and_shapes)
{
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		uint16_t rows = shapes[s][0], cols = shapes[s][1];
		size_t n = (size_t)rows * cols;
		uint16_t *x = malloc(n * sizeof *x), *prev = malloc(n * sizeof *prev);
		for (int kind = 0; kind < 3; kind++) {
			if (kind == 0)
				tu_fill_random(x, n, 4095, 11 + s);
			else if (kind == 1)
				tu_fill_smooth(x, rows, cols, 3, 7 + s);
			else
				memset(x, 0, n * sizeof *x);
			tu_fill_smooth(prev, rows, cols, 3, 99 + s);
			for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++)
				round_trip(rows, cols, enc, x, prev, KM_PROTO_MAX_TRANSFER);
		}
		free(x);
		free(prev);
	}
}

Test(packet, sixteen_bit_extremes_round_trip)
{
	/* Alternating 0 / 65535 is the DELTA worst case: 2.5 bytes per cell. */
	uint16_t x[9 * 11], prev[9 * 11];
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) {
		x[i] = (i % 2) ? 65535 : 0;
		prev[i] = (i % 2) ? 0 : 65535;
	}
	round_trip(9, 11, KM_PROTO_ENC_RAW16, x, NULL, KM_PROTO_MAX_TRANSFER);
	round_trip(9, 11, KM_PROTO_ENC_DELTA, x, NULL, KM_PROTO_MAX_TRANSFER);
	round_trip(9, 11, KM_PROTO_ENC_DELTA_TEMPORAL, x, prev, KM_PROTO_MAX_TRANSFER);
	size_t sz = 0;
	cr_assert_eq(km_proto_payload_size(KM_PROTO_ENC_DELTA, 9, 11, x, NULL, &sz), KM_OK);
	cr_assert_leq(sz, KM_PROTO_MAX_PAYLOAD_BYTES(9, 11));
	cr_assert_geq(sz, 2 * 9 * 11, "full-scale jumps are sent as literals");
}

Test(packet, large_frames_split_into_fragments)
{
	uint16_t rows = 128, cols = 128;
	size_t n = (size_t)rows * cols;
	uint16_t *x = malloc(n * sizeof *x);
	tu_fill_random(x, n, 4095, 5);
	/* RAW12 128x128 = 24576 payload bytes: two 16 KiB transfers. */
	cr_assert_eq(round_trip(rows, cols, KM_PROTO_ENC_RAW12, x, NULL, KM_PROTO_MAX_TRANSFER), 2);
	/* RAW16 = 32768 bytes: three. */
	cr_assert_eq(round_trip(rows, cols, KM_PROTO_ENC_RAW16, x, NULL, KM_PROTO_MAX_TRANSFER), 3);
	/* Small transfers: many fragments, every boundary inside varints too. */
	tu_fill_smooth(x, rows, cols, 20, 3);
	cr_assert_gt(round_trip(rows, cols, KM_PROTO_ENC_DELTA, x, NULL, 512), 10);
	cr_assert_gt(round_trip(7, 9, KM_PROTO_ENC_RAW12, x, NULL, KM_PROTO_MIN_TRANSFER), 20);
	free(x);
}

Test(packet, encoder_rejects_bad_arguments)
{
	uint16_t x[6] = {1, 2, 3, 4, 5, 4096};
	uint8_t buf[256];
	size_t w = 99;
	struct km_proto_frame_header h = {.rows = 2, .cols = 3, .encoding = KM_PROTO_ENC_RAW12};
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_RANGE);
	cr_assert_eq(w, 0);
	h.encoding = KM_PROTO_ENC_RAW16;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_OK);
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, w - 1, &w), KM_ERR_OVERFLOW);
	cr_assert_eq(km_proto_encode_frame(NULL, x, NULL, buf, sizeof buf, &w), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_proto_encode_frame(&h, NULL, NULL, buf, sizeof buf, &w),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, NULL, sizeof buf, &w), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, NULL), KM_ERR_INVALID_ARG);
	h.encoding = KM_PROTO_ENC_DELTA_TEMPORAL;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_INVALID_ARG,
	             "temporal needs the previous frame");
	h.encoding = KM_PROTO_ENC_COUNT;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_UNSUPPORTED);
	h.encoding = KM_PROTO_ENC_DELTA;
	h.flags = 0x80;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_INVALID_ARG);
	h.flags = 0;
	h.rows = 0;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_SHAPE);
	h.rows = KM_FRAME_MAX_DIM + 1;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_ERR_SHAPE);
	h.rows = 2;
	cr_assert_eq(km_proto_encode_frame_split(&h, x, NULL, KM_PROTO_MIN_TRANSFER - 1, buf,
	                                      sizeof buf, &w, NULL),
	             KM_ERR_RANGE);
	cr_assert_eq(km_proto_encode_frame_split(&h, x, NULL, KM_PROTO_MAX_TRANSFER + 1, buf,
	                                      sizeof buf, &w, NULL),
	             KM_ERR_RANGE);
	cr_assert_eq(km_proto_max_packet_bytes(0, 5), 0);
	cr_assert_eq(km_proto_max_packet_bytes_split(5, 5, KM_PROTO_MIN_TRANSFER - 1), 0);
	cr_assert_eq(km_proto_max_packet_bytes_split(5, 5, KM_PROTO_MAX_TRANSFER),
	             km_proto_max_packet_bytes(5, 5));
	cr_assert_eq(km_proto_max_packet_bytes(5, KM_FRAME_MAX_DIM + 1), 0);
	cr_assert_eq(km_proto_max_packet_bytes(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM),
	             KM_PROTO_MAX_PACKET_BYTES(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM));
}

static size_t encode_small(uint8_t *buf, size_t cap, uint8_t enc, size_t max_transfer)
{
	uint16_t x[4 * 5];
	tu_fill_smooth(x, 4, 5, 2, 1);
	x[7] = 1000;
	x[8] = 1003;
	struct km_proto_frame_header h = {
	    .sequence = 42, .timestamp_us = 1000000, .rows = 4, .cols = 5, .encoding = enc};
	size_t w = 0;
	cr_assert_eq(km_proto_encode_frame_split(&h, x, NULL, max_transfer, buf, cap, &w, NULL),
	             KM_OK);
	return w;
}

Test(packet, crc_catches_every_single_bit_flip)
{
	uint8_t buf[1024];
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_DELTA_TEMPORAL; enc++) {
		size_t len = encode_small(buf, sizeof buf, enc, KM_PROTO_MAX_TRANSFER);
		struct km_proto_packet p;
		size_t used;
		cr_assert_eq(km_proto_parse_packet(buf, len, &p, &used), KM_OK);
		cr_assert_eq(used, len);
		for (size_t bit = 0; bit < len * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int rc = km_proto_parse_packet(buf, len, &p, &used);
			cr_assert_neq(rc, KM_OK, "enc %u: flip of bit %zu not detected", enc, bit);
			cr_assert_eq(used, 0);
			/* A flip in the payload or the CRC itself is a CRC error. */
			if (bit / 8 >= KM_PROTO_HEADER_LEN)
				cr_assert_eq(rc, KM_ERR_BAD_CRC, "bit %zu", bit);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	}
	/* Also every packet of a fragmented frame. */
	size_t len = encode_small(buf, sizeof buf, KM_PROTO_ENC_RAW16, 64);
	size_t pos = 0;
	while (pos < len) {
		struct km_proto_packet p;
		size_t used = 0;
		cr_assert_eq(km_proto_parse_packet(buf + pos, len - pos, &p, &used), KM_OK);
		for (size_t bit = 0; bit < used * 8; bit++) {
			buf[pos + bit / 8] ^= (uint8_t)(1u << (bit % 8));
			size_t u2;
			cr_assert_neq(km_proto_parse_packet(buf + pos, used, &p, &u2), KM_OK);
			buf[pos + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		pos += used;
	}
}

Test(packet, truncation_at_every_length_is_reported)
{
	uint8_t buf[1024];
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_DELTA_TEMPORAL; enc++) {
		size_t len = encode_small(buf, sizeof buf, enc, KM_PROTO_MAX_TRANSFER);
		for (size_t l = 0; l < len; l++) {
			/* Copy to an exact-size heap block so ASan sees any overread. */
			uint8_t *t = malloc(l ? l : 1);
			memcpy(t, buf, l);
			struct km_proto_packet p;
			size_t used = 7;
			cr_assert_eq(km_proto_parse_packet(t, l, &p, &used), KM_ERR_TRUNCATED,
			             "len %zu", l);
			cr_assert_eq(used, 0);
			free(t);
		}
	}
}

Test(packet, several_packets_in_one_buffer)
{
	uint8_t buf[2048];
	size_t a = encode_small(buf, sizeof buf, KM_PROTO_ENC_DELTA, KM_PROTO_MAX_TRANSFER);
	size_t b = encode_small(buf + a, sizeof buf - a, KM_PROTO_ENC_RAW12, KM_PROTO_MAX_TRANSFER);
	struct km_proto_packet p;
	size_t used;
	cr_assert_eq(km_proto_parse_packet(buf, a + b, &p, &used), KM_OK);
	cr_assert_eq(used, a);
	cr_assert_eq(p.header.encoding, KM_PROTO_ENC_DELTA);
	cr_assert_eq(km_proto_parse_packet(buf + a, b, &p, &used), KM_OK);
	cr_assert_eq(used, b);
	cr_assert_eq(p.header.encoding, KM_PROTO_ENC_RAW12);
}

/* Re-seals a modified header so the field checks behind the CRC are reached. */
static void reseal(uint8_t *buf)
{
	size_t body = KM_PROTO_HEADER_LEN + km_get_le32(buf + 36);
	km_put_le32(buf + body, km_crc32c(0, buf, body));
}

Test(packet, field_checks_behind_a_valid_crc)
{
	uint8_t ref[512], buf[512];
	size_t len = encode_small(ref, sizeof ref, KM_PROTO_ENC_DELTA, KM_PROTO_MAX_TRANSFER);
	struct km_proto_packet p;
	size_t used;
	struct {
		size_t off;
		int width;
		uint32_t value;
		int expect;
	} cases[] = {
	    {0, 1, 'X', KM_ERR_BAD_MAGIC},
	    {4, 1, 2, KM_ERR_BAD_VERSION},
	    {4, 1, 0, KM_ERR_BAD_VERSION},
	    {5, 1, 39, KM_ERR_MALFORMED},
	    {6, 1, KM_PROTO_ENC_COUNT, KM_ERR_MALFORMED},
	    {7, 1, 0x80, KM_ERR_MALFORMED},
	    {20, 2, 0, KM_ERR_MALFORMED},
	    {22, 2, 0, KM_ERR_MALFORMED},
	    {20, 2, KM_FRAME_MAX_DIM + 1, KM_ERR_MALFORMED},
	    {24, 2, 1, KM_ERR_MALFORMED}, /* index >= count */
	    {26, 2, 0, KM_ERR_MALFORMED},
	    {28, 4, 1, KM_ERR_MALFORMED},
	    {32, 4, 0, KM_ERR_MALFORMED},
	    {32, 4, (5 * 20 + 1) / 2 + 1, KM_ERR_MALFORMED},
	    {36, 4, KM_PROTO_MAX_FRAG_PAYLOAD + 1, KM_ERR_MALFORMED},
	    {36, 4, 400, KM_ERR_TRUNCATED},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(buf, ref, len);
		if (cases[i].width == 1)
			buf[cases[i].off] = (uint8_t)cases[i].value;
		else if (cases[i].width == 2)
			km_put_le16(buf + cases[i].off, (uint16_t)cases[i].value);
		else
			km_put_le32(buf + cases[i].off, cases[i].value);
		if (cases[i].off != 36)
			reseal(buf);
		cr_assert_eq(km_proto_parse_packet(buf, len, &p, &used), cases[i].expect,
		             "case %zu", i);
	}
	/* RAW encodings have an exact payload size. */
	len = encode_small(ref, sizeof ref, KM_PROTO_ENC_RAW16, KM_PROTO_MAX_TRANSFER);
	memcpy(buf, ref, len);
	buf[6] = KM_PROTO_ENC_RAW12;
	reseal(buf);
	cr_assert_eq(km_proto_parse_packet(buf, len, &p, &used), KM_ERR_MALFORMED);
	cr_assert_eq(km_proto_parse_packet(NULL, len, &p, &used), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_proto_parse_packet(buf, len, NULL, &used), KM_ERR_INVALID_ARG);
}

Test(packet, garbage_never_crashes)
{
	uint64_t s = 12345;
	uint8_t *buf = malloc(600);
	struct km_proto_packet p;
	size_t used;
	size_t ok = 0;
	for (int it = 0; it < 20000; it++) {
		size_t len = tu_rand(&s) % 600;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)tu_rand(&s);
		int mode = it % 3;
		if (mode == 1 && len >= KM_PROTO_HEADER_LEN) {
			/* Plausible magic/version/lengths: the length checks run. */
			km_put_le32(buf, KM_PROTO_MAGIC);
			buf[4] = KM_PROTO_VERSION;
			buf[5] = (uint8_t)(KM_PROTO_HEADER_LEN + buf[5] % 3);
			km_put_le32(buf + 36, tu_rand(&s) % 700u);
		} else if (mode == 2 && len >= KM_PROTO_PACKET_OVERHEAD + 1) {
			/* A consistent single-fragment DELTA header under a valid CRC:
			 * the field checks pass and the token decoder sees garbage. */
			uint16_t r = (uint16_t)(1 + tu_rand(&s) % 12),
			         c = (uint16_t)(1 + tu_rand(&s) % 12);
			uint32_t pl = (uint32_t)(len - KM_PROTO_PACKET_OVERHEAD);
			if (pl > KM_PROTO_MAX_PAYLOAD_BYTES(r, c))
				pl = (uint32_t)KM_PROTO_MAX_PAYLOAD_BYTES(r, c);
			km_put_le32(buf, KM_PROTO_MAGIC);
			buf[4] = KM_PROTO_VERSION;
			buf[5] = KM_PROTO_HEADER_LEN;
			buf[6] = (uint8_t)(KM_PROTO_ENC_DELTA + it % 2);
			buf[7] &= KM_PROTO_FLAGS_KNOWN;
			km_put_le16(buf + 20, r);
			km_put_le16(buf + 22, c);
			km_put_le16(buf + 24, 0);
			km_put_le16(buf + 26, 1);
			km_put_le32(buf + 28, 0);
			km_put_le32(buf + 32, pl);
			km_put_le32(buf + 36, pl);
			reseal(buf);
			len = KM_PROTO_PACKET_OVERHEAD + pl;
		}
		/* Exact-size copy: any overread is an ASan error. */
		uint8_t *t = malloc(len ? len : 1);
		memcpy(t, buf, len);
		int rc = km_proto_parse_packet(t, len, &p, &used);
		cr_assert_leq(rc, 0);
		cr_assert_geq(rc, KM_ERROR_MIN);
		if (rc == KM_OK) {
			ok++;
			cr_assert_leq(used, len);
			/* Decode the lone fragment's bytes as if they were the whole payload. */
			size_t n = (size_t)p.header.rows * p.header.cols;
			uint16_t *y = malloc(n * sizeof *y);
			uint16_t *prev = calloc(n, sizeof *prev);
			int d =
			    km_proto_decode_payload(p.header.encoding, p.header.rows, p.header.cols,
			                            p.payload, p.payload_len, prev, y, n);
			cr_assert_leq(d, 0);
			free(y);
			free(prev);
		}
		free(t);
	}
	cr_assert_gt(ok, 0, "the plausible-header mode should reach the field checks");
	free(buf);
}

Test(packet, payload_decoder_rejects_garbage_and_bad_tokens)
{
	uint16_t y[64];
	uint16_t prev[64] = {0};
	/* Empty payload. */
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++)
		cr_assert_eq(km_proto_decode_payload(enc, 2, 2, NULL, 0, prev, y, 64),
		             KM_ERR_TRUNCATED);
	/* Nibbles go low first: 0x3D is token D (run) with v = 3: 5 zeros. */
	uint8_t run5[] = {0x3D};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 2, 2, run5, 1, NULL, y, 64),
	             KM_ERR_MALFORMED, "run past the last cell");
	uint8_t run4[] = {0x2D};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 2, 2, run4, 1, NULL, y, 64),
	             KM_OK);
	uint8_t trail[] = {0x2D, 0x00};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 2, 2, trail, 2, NULL, y, 64),
	             KM_ERR_MALFORMED, "trailing byte");
	/* One zero residual, then the padding nibble: must be 0. */
	uint8_t pad0[] = {0x00}, pad1[] = {0x10};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, pad0, 1, NULL, y, 64),
	             KM_OK);
	cr_assert_eq(y[0], 0);
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, pad1, 1, NULL, y, 64),
	             KM_ERR_MALFORMED);
	/* Residual -1 from a prediction of 0. */
	uint8_t neg[] = {0x01};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 4, neg, 1, NULL, y, 64),
	             KM_ERR_MALFORMED);
	/* Literal 0x1234: F 4 3 2 1 (+ padding). */
	uint8_t lit[] = {0x4F, 0x23, 0x01};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, lit, 3, NULL, y, 64), KM_OK);
	cr_assert_eq(y[0], 0x1234);
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, lit, 2, NULL, y, 64),
	             KM_ERR_TRUNCATED);
	/* Literal 100, then mid residual +20 (zz 40 = 13 + 0x1B): E B 1. */
	uint8_t mid[] = {0x4F, 0x06, 0xE0, 0x1B};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 2, mid, 4, NULL, y, 64), KM_OK);
	cr_assert_eq(y[0], 100);
	cr_assert_eq(y[1], 120);
	/* Literal 5, then mid residual -134 (zz 267 = 13 + 0xFE): below zero. */
	uint8_t low[] = {0x5F, 0x00, 0xE0, 0xFE};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 2, low, 4, NULL, y, 64),
	             KM_ERR_MALFORMED);
	/* Run length with 8 nibbles (only 7 allowed), and an unterminated one. */
	uint8_t longv[] = {0x8D, 0x88, 0x88, 0x88, 0x08};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, longv, 5, NULL, y, 64),
	             KM_ERR_MALFORMED);
	uint8_t open[] = {0x8D};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_DELTA, 1, 1, open, 1, NULL, y, 64),
	             KM_ERR_TRUNCATED);
	/* RAW12 odd cell: padding nibble must be zero. */
	uint8_t pad[] = {0x12, 0x03};
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_RAW12, 1, 1, pad, 2, NULL, y, 64), KM_OK);
	cr_assert_eq(y[0], 0x312);
	pad[1] = 0x13;
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_RAW12, 1, 1, pad, 2, NULL, y, 64),
	             KM_ERR_MALFORMED);
	/* Output too small, bad shape, unknown encoding, missing reference. */
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_RAW12, 1, 1, pad, 2, NULL, y, 0),
	             KM_ERR_OVERFLOW);
	cr_assert_eq(km_proto_decode_payload(KM_PROTO_ENC_RAW12, 0, 1, pad, 2, NULL, y, 64),
	             KM_ERR_SHAPE);
	cr_assert_eq(km_proto_decode_payload(9, 1, 1, pad, 2, NULL, y, 64), KM_ERR_UNSUPPORTED);
	cr_assert_eq(
	    km_proto_decode_payload(KM_PROTO_ENC_DELTA_TEMPORAL, 1, 1, run4, 1, NULL, y, 64),
	    KM_ERR_INVALID_ARG);
	/* Random bytes through every encoding at several shapes. */
	uint64_t s = 77;
	uint8_t junk[200];
	for (int it = 0; it < 5000; it++) {
		size_t len = tu_rand(&s) % sizeof junk;
		for (size_t i = 0; i < len; i++)
			junk[i] = (uint8_t)tu_rand(&s);
		uint16_t r = (uint16_t)(1 + tu_rand(&s) % 8), c = (uint16_t)(1 + tu_rand(&s) % 8);
		uint8_t *t = malloc(len ? len : 1);
		memcpy(t, junk, len);
		int rc = km_proto_decode_payload((uint8_t)(it % KM_PROTO_ENC_COUNT), r, c, t, len,
		                                 prev, y, 64);
		cr_assert_leq(rc, 0);
		free(t);
	}
}

/* The example in PROTOCOL.md: a 3 x 4 frame, DELTA encoding, which uses every
 * kind of token (run, literal, small and mid residual). */
Test(packet, documented_example_dump)
{
	const uint16_t x[12] = {0, 0, 0, 0, 0, 0, 1000, 1003, 0, 0, 998, 1040};
	struct km_proto_frame_header h = {.sequence = 7,
	                                  .timestamp_us = 1000000,
	                                  .rows = 3,
	                                  .cols = 4,
	                                  .encoding = KM_PROTO_ENC_DELTA,
	                                  .flags = KM_PROTO_FLAG_ZEROED};
	uint8_t buf[128];
	size_t w = 0;
	cr_assert_eq(km_proto_encode_frame(&h, x, NULL, buf, sizeof buf, &w), KM_OK);
	char dump[512];
	size_t pos = 0;
	for (size_t i = 0; i < w; i++)
		pos += (size_t)snprintf(dump + pos, sizeof dump - pos, "%02x%s", buf[i],
		                        (i % 16 == 15 || i + 1 == w) ? "\n" : " ");
	printf("example packet (%zu bytes):\n%s", w, dump);
	/* Pasted into PROTOCOL.md; change both together. */
	const char *expect = "4b 4d 41 50 01 28 02 08 07 00 00 00 40 42 0f 00\n"
	                     "00 00 00 00 03 00 04 00 00 00 01 00 00 00 00 00\n"
	                     "07 00 00 00 07 00 00 00 4d 8f 3e 60 0d e3 41 17\n"
	                     "c2 dd 21\n";
	cr_assert_str_eq(dump, expect);
	cr_assert_eq(w, KM_PROTO_PACKET_OVERHEAD + 7);
	uint16_t y[12];
	struct km_proto_packet p;
	size_t used;
	cr_assert_eq(km_proto_parse_packet(buf, w, &p, &used), KM_OK);
	cr_assert_eq(
	    km_proto_decode_payload(p.header.encoding, 3, 4, p.payload, p.payload_len, NULL, y, 12),
	    KM_OK);
	cr_assert_arr_eq(x, y, sizeof x);
}
