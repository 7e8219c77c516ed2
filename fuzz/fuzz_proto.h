/*
 * Protocol helpers shared by the protocol fuzz targets and the seed
 * generator: CRC repair (so mutations get past the checksum into the field
 * checks and the decoders), reference frames and the encode/parse/decode
 * round trip.
 */
#ifndef KM_FUZZ_PROTO_H
#define KM_FUZZ_PROTO_H

#include "fuzz_common.h"
#include "knotmap/protocol.h"

/* Largest frame any target builds: KM_FRAME_MAX_DIM squared. */
#define FUZZ_MAX_CELLS ((size_t)KM_FRAME_MAX_DIM * KM_FRAME_MAX_DIM)

/* Rewrites the CRC of the packet at p[0..len) when its header declares
 * lengths that fit in len. Returns the packet's length, 0 when it did not. */
static inline size_t fuzz_fix_packet_crc(uint8_t *p, size_t len)
{
	if (len < KM_PROTO_HEADER_LEN)
		return 0;
	size_t hlen = p[5];
	uint32_t plen = km_get_le32(p + 36);
	if (hlen < KM_PROTO_HEADER_LEN || plen > KM_PROTO_MAX_FRAG_PAYLOAD)
		return 0;
	size_t body = hlen + plen;
	if (len < body + KM_PROTO_CRC_LEN)
		return 0;
	km_put_le32(p + body, km_crc32c(0, p, body));
	return body + KM_PROTO_CRC_LEN;
}

/* A previous frame for DELTA_TEMPORAL, chosen by `kind` (0..3): zeros, the
 * ceiling, a ramp, or pseudo-random counts. */
static inline void fuzz_prev_pattern(uint8_t kind, uint16_t *prev, size_t n)
{
	uint32_t s = 0x9E3779B9u ^ kind;
	for (size_t i = 0; i < n; i++) {
		switch (kind & 3u) {
		case 0:
			prev[i] = 0;
			break;
		case 1:
			prev[i] = 0xFFFF;
			break;
		case 2:
			prev[i] = (uint16_t)(i * 37u);
			break;
		default:
			s ^= s << 13;
			s ^= s >> 17;
			s ^= s << 5;
			prev[i] = (uint16_t)s;
			break;
		}
	}
}

/*
 * Encodes counts[rows x cols] in `enc` as packets of at most max_transfer
 * bytes, parses every packet back, checks each header, joins the payloads
 * and decodes them: the cells must come back unchanged. pkt_buf must hold
 * km_proto_max_packet_bytes_split(); payload_out (>= KM_PROTO_MAX_PAYLOAD_BYTES)
 * receives the joined payload, *payload_len its size; scratch holds rows*cols.
 * Returns the encoder's code (KM_ERR_RANGE for RAW12 above 4095 is expected
 * and checked by the caller).
 */
static inline int fuzz_proto_roundtrip(uint8_t enc, uint16_t rows, uint16_t cols, uint8_t flags,
                                       const uint16_t *counts, const uint16_t *prev,
                                       size_t max_transfer, uint8_t *pkt_buf, size_t pkt_cap,
                                       uint8_t *payload_out, size_t *payload_len, uint16_t *scratch)
{
	const size_t n = (size_t)rows * cols;
	struct km_proto_frame_header h = {.sequence = 0xFFFFFFFEu,
	                                  .timestamp_us = 123456789u,
	                                  .rows = rows,
	                                  .cols = cols,
	                                  .encoding = enc,
	                                  .flags = flags};
	size_t written = 0, npk = 0;
	int rc = km_proto_encode_frame_split(&h, counts, prev, max_transfer, pkt_buf, pkt_cap,
	                                  &written, &npk);
	if (rc != KM_OK) {
		FUZZ_CHECK(written == 0);
		return rc;
	}
	FUZZ_CHECK(written <= pkt_cap && npk >= 1);
	FUZZ_CHECK(written <= km_proto_max_packet_bytes_split(rows, cols, max_transfer));
	size_t expect = 0;
	FUZZ_CHECK(km_proto_payload_size(enc, rows, cols, counts, prev, &expect) == KM_OK);
	FUZZ_CHECK(expect <= KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols));

	size_t off = 0, joined = 0;
	for (size_t k = 0; k < npk; k++) {
		struct km_proto_packet p;
		size_t used = 0;
		FUZZ_CHECK(km_proto_parse_packet(pkt_buf + off, written - off, &p, &used) == KM_OK);
		FUZZ_CHECK(used <= max_transfer && used > 0);
		FUZZ_CHECK(p.header.sequence == h.sequence && p.header.rows == rows &&
		           p.header.cols == cols && p.header.encoding == enc &&
		           p.header.flags == flags && p.header.timestamp_us == h.timestamp_us);
		FUZZ_CHECK(p.frag_index == k && p.frag_count == npk);
		FUZZ_CHECK(p.frag_offset == joined && p.total_len == expect);
		memcpy(payload_out + joined, p.payload, p.payload_len);
		joined += p.payload_len;
		off += used;
	}
	FUZZ_CHECK(off == written && joined == expect);
	*payload_len = joined;
	rc = km_proto_decode_payload(enc, rows, cols, payload_out, joined, prev, scratch, n);
	FUZZ_CHECK(rc == KM_OK);
	FUZZ_CHECK(memcmp(scratch, counts, n * sizeof *counts) == 0);
	return KM_OK;
}

#endif /* KM_FUZZ_PROTO_H */
