/*
 * km_proto_parse_packet on a received buffer holding packets back to back
 * (as the driver and the replay transport see them).
 * Input: options (1 byte), then the buffer. Options bit 0: repair each
 *   packet's CRC before parsing it, so mutations reach the field checks;
 *   bits 1-2: the previous frame's pattern for DELTA_TEMPORAL payloads.
 * Properties: only documented codes; *consumed is 0 on error and within the
 * buffer on success; the payload lies inside the packet; every field is in its
 * documented range; a single-fragment frame whose payload decodes re-encodes
 * to a packet that parses to the same header and decodes to the same cells
 * (byte for byte the same packet for RAW16/RAW12 with a 40-byte header).
 */
#include "fuzz_proto.h"

static uint16_t counts[FUZZ_MAX_CELLS];
static uint16_t prev[FUZZ_MAX_CELLS];
static uint16_t scratch[FUZZ_MAX_CELLS];
static uint8_t payload[KM_PROTO_MAX_PAYLOAD_BYTES(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM)];
static uint8_t *pkt_buf;
static size_t pkt_cap;

static void check_packet(const uint8_t *pk, size_t used, const struct km_proto_packet *p,
                         uint8_t opt)
{
	const struct km_proto_frame_header *h = &p->header;
	size_t hlen = pk[5];
	FUZZ_CHECK(used == hlen + p->payload_len + KM_PROTO_CRC_LEN);
	FUZZ_CHECK(p->payload == pk + hlen);
	FUZZ_CHECK(h->rows >= 1 && h->rows <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(h->cols >= 1 && h->cols <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(h->encoding < KM_PROTO_ENC_COUNT);
	FUZZ_CHECK((h->flags & ~KM_PROTO_FLAGS_KNOWN) == 0);
	FUZZ_CHECK(p->frag_count >= 1 && p->frag_index < p->frag_count);
	FUZZ_CHECK((uint64_t)p->frag_offset + p->payload_len <= p->total_len);
	FUZZ_CHECK(p->payload_len <= KM_PROTO_MAX_FRAG_PAYLOAD);
	size_t n = (size_t)h->rows * h->cols;
	FUZZ_CHECK(p->total_len <= KM_PROTO_MAX_PAYLOAD_BYTES(h->rows, h->cols));
	if (p->frag_count != 1)
		return;

	/* A whole frame in one packet: decode it and encode it again. */
	FUZZ_CHECK(p->payload_len == p->total_len);
	if (h->encoding == KM_PROTO_ENC_DELTA_TEMPORAL)
		fuzz_prev_pattern((uint8_t)((opt >> 1) & 3u), prev, n);
	int rc = km_proto_decode_payload(h->encoding, h->rows, h->cols, p->payload, p->payload_len,
	                                 prev, counts, n);
	FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_MALFORMED);
	if (rc != KM_OK)
		return;
	size_t plen = 0;
	rc = fuzz_proto_roundtrip(h->encoding, h->rows, h->cols, h->flags, counts, prev,
	                          KM_PROTO_MAX_TRANSFER, pkt_buf, pkt_cap, payload, &plen, scratch);
	FUZZ_CHECK(rc == KM_OK);
	if (h->encoding <= KM_PROTO_ENC_RAW12 && hlen == KM_PROTO_HEADER_LEN) {
		/* Canonical encodings: the encoder must rebuild this very packet. */
		struct km_proto_frame_header h2 = *h;
		size_t written = 0;
		rc = km_proto_encode_frame(&h2, counts, NULL, pkt_buf, pkt_cap, &written);
		FUZZ_CHECK(rc == KM_OK && written == used && memcmp(pkt_buf, pk, used) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pkt_buf) {
		pkt_cap = km_proto_max_packet_bytes(KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM);
		pkt_buf = malloc(pkt_cap);
		FUZZ_CHECK(pkt_buf != NULL);
	}
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	uint8_t *buf = fuzz_dup(data + 1, size - 1);
	size_t len = size - 1;

	size_t off = 0;
	while (off < len) {
		if (opt & 1u)
			fuzz_fix_packet_crc(buf + off, len - off);
		struct km_proto_packet p;
		size_t used = 12345;
		int rc = km_proto_parse_packet(buf + off, len - off, &p, &used);
		FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION,
		              KM_ERR_BAD_CRC, KM_ERR_MALFORMED);
		if (rc != KM_OK) {
			FUZZ_CHECK(used == 0);
			break;
		}
		FUZZ_CHECK(used >= KM_PROTO_PACKET_OVERHEAD && used <= len - off);
		check_packet(buf + off, used, &p, opt);
		off += used;
	}
	free(buf);
	return 0;
}
