/*
 * km_proto_decode_payload, every encoding, on arbitrary payloads.
 * Input: encoding (1 byte), rows (2), cols (2), options (1), then the payload.
 *   rows/cols are taken modulo 66, or modulo 1026 when bit 15 is set (0 and
 *   1025 exercise KM_ERR_SHAPE; big frames are slow, so they are the rarer);
 *   options bits 0-1: the previous frame's pattern (DELTA_TEMPORAL),
 *   bit 2: counts_cap one cell short (KM_ERR_OVERFLOW), bits 3-4: the packet
 *   size of the round trip.
 * Properties: only documented codes; a decoded frame re-encodes in every
 * encoding (RAW12 only when every count fits 12 bits) and decodes to the same
 * cells (frames up to 16384 cells); RAW16/RAW12 are canonical, so
 * re-encoding gives back the very bytes.
 */
#include "fuzz_proto.h"

static uint16_t counts[FUZZ_MAX_CELLS];
static uint16_t prev[FUZZ_MAX_CELLS];
static uint16_t scratch[FUZZ_MAX_CELLS];
static uint8_t payload[KM_PROTO_MAX_PAYLOAD_BYTES(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM)];
static uint8_t *pkt_buf;
static size_t pkt_cap;

static const size_t transfers[4] = {KM_PROTO_MAX_TRANSFER, KM_PROTO_MIN_TRANSFER, 64, 1000};

static uint16_t dim(uint16_t v)
{
	return (uint16_t)((v & 0x8000u) ? v % (KM_FRAME_MAX_DIM + 2) : v % 66u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pkt_buf) {
		/* The smallest packets give the largest output. */
		pkt_cap = km_proto_max_packet_bytes_split(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM,
		                                       KM_PROTO_MIN_TRANSFER);
		pkt_buf = malloc(pkt_cap);
		FUZZ_CHECK(pkt_buf != NULL);
	}
	struct fuzz_reader rd = {data, size};
	uint8_t enc = fuzz_u8(&rd);
	uint16_t rows = dim(fuzz_u16(&rd));
	uint16_t cols = dim(fuzz_u16(&rd));
	uint8_t opt = fuzz_u8(&rd);
	/* An exact-size copy: ASan flags a read one byte past the payload. */
	uint8_t *p = fuzz_dup(rd.p, rd.left);
	size_t len = rd.left;

	bool shape_ok =
	    rows >= 1 && rows <= KM_FRAME_MAX_DIM && cols >= 1 && cols <= KM_FRAME_MAX_DIM;
	size_t n = (size_t)rows * cols;
	size_t cap = n;
	if ((opt & 4u) && n > 0)
		cap = n - 1;
	if (shape_ok && enc == KM_PROTO_ENC_DELTA_TEMPORAL)
		fuzz_prev_pattern(opt & 3u, prev, n);

	int rc = km_proto_decode_payload(enc, rows, cols, p, len, prev, counts, cap);
	FUZZ_CHECK_RC(rc, KM_ERR_SHAPE, KM_ERR_OVERFLOW, KM_ERR_TRUNCATED, KM_ERR_MALFORMED,
	              KM_ERR_UNSUPPORTED);
	if (!shape_ok)
		FUZZ_CHECK(rc == KM_ERR_SHAPE);
	else if (enc >= KM_PROTO_ENC_COUNT)
		FUZZ_CHECK(rc == KM_ERR_UNSUPPORTED);
	else if (cap < n)
		FUZZ_CHECK(rc == KM_ERR_OVERFLOW);
	if (rc != KM_OK) {
		free(p);
		return 0;
	}
	/* Exact sizes of the fixed encodings. */
	if (enc == KM_PROTO_ENC_RAW16)
		FUZZ_CHECK(len == 2 * n);
	if (enc == KM_PROTO_ENC_RAW12)
		FUZZ_CHECK(len == (3 * n + 1) / 2);

	uint16_t maxv = 0;
	for (size_t i = 0; i < n; i++)
		maxv = counts[i] > maxv ? counts[i] : maxv;
	if (enc == KM_PROTO_ENC_RAW12)
		FUZZ_CHECK(maxv <= 4095);

	/* Round trips are the slow part: big frames are only decoded (fragments
	 * are exercised just as well by small frames in small packets). */
	if (n > 16384) {
		free(p);
		return 0;
	}
	size_t mt = transfers[(opt >> 3) & 3u];
	for (uint8_t e = 0; e < KM_PROTO_ENC_COUNT; e++) {
		size_t plen = 0;
		if (e == KM_PROTO_ENC_DELTA_TEMPORAL && enc != KM_PROTO_ENC_DELTA_TEMPORAL)
			fuzz_prev_pattern(opt & 3u, prev, n);
		int erc = fuzz_proto_roundtrip(e, rows, cols, KM_PROTO_FLAG_ZEROED, counts, prev,
		                               mt, pkt_buf, pkt_cap, payload, &plen, scratch);
		if (e == KM_PROTO_ENC_RAW12 && maxv > 4095) {
			FUZZ_CHECK(erc == KM_ERR_RANGE);
			continue;
		}
		FUZZ_CHECK(erc == KM_OK);
		if (e == enc && (e == KM_PROTO_ENC_RAW16 || e == KM_PROTO_ENC_RAW12))
			FUZZ_CHECK(plen == len && memcmp(payload, p, len) == 0);
	}
	free(p);
	return 0;
}
