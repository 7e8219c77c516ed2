/*
 * The host reassembler fed a stream of bulk transfers
 * (km_proto_reasm_push_bytes), as the driver does.
 * Input: options (1 byte), then records: a 16-bit little-endian word
 *   (bits 0-14: transfer length, bit 15: km_proto_reasm_reset first) and the
 *   transfer's bytes. Options bit 0: repair each transfer's CRC; bits 1-3:
 *   the largest frame accepted (max_rows = max_cols, from a table).
 * Properties: only documented codes; *consumed is the packet length or 0;
 * a completed frame is within the configured shape and its counts readable;
 * a single-fragment self-contained frame equals an independent decode of its
 * payload; the counters add up (packets pushed, frames handed out).
 */
#include "fuzz_proto.h"

static const uint16_t max_dims[8] = {1, 2, 4, 8, 16, 64, 128, KM_FRAME_MAX_DIM};
static uint16_t direct[FUZZ_MAX_CELLS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader rd = {data, size};
	uint8_t opt = fuzz_u8(&rd);
	struct km_proto_reasm_config cfg = km_proto_reasm_config_default();
	cfg.max_rows = cfg.max_cols = max_dims[(opt >> 1) & 7u];
	km_proto_reasm *r = NULL;
	FUZZ_CHECK(km_proto_reasm_create(&cfg, &r) == KM_OK && r != NULL);

	uint64_t pushed = 0, frames = 0;
	while (rd.left >= 2) {
		uint16_t w = fuzz_u16(&rd);
		size_t len = w & 0x7FFFu;
		if (len > rd.left)
			len = rd.left;
		if (w & 0x8000u) {
			km_proto_reasm_reset(r);
			FUZZ_CHECK(km_proto_reasm_frame(r) == NULL);
			pushed = frames = 0;
		}
		uint8_t *buf = fuzz_dup(rd.p, len);
		rd.p += len;
		rd.left -= len;
		if (opt & 1u)
			fuzz_fix_packet_crc(buf, len);

		bool ready = true;
		size_t consumed = 12345;
		int rc = km_proto_reasm_push_bytes(r, buf, len, &ready, &consumed);
		pushed++;
		FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION,
		              KM_ERR_BAD_CRC, KM_ERR_MALFORMED, KM_ERR_BAD_SEQUENCE, KM_ERR_SHAPE);
		FUZZ_CHECK(consumed <= len);
		if (rc != KM_OK)
			FUZZ_CHECK(!ready);

		struct km_proto_packet p;
		size_t used = 0;
		int prc = km_proto_parse_packet(buf, len, &p, &used);
		if (prc != KM_OK)
			FUZZ_CHECK(rc == prc && consumed == 0);
		else
			FUZZ_CHECK(consumed == used);

		const struct km_proto_frame *f = km_proto_reasm_frame(r);
		if (ready) {
			frames++;
			FUZZ_CHECK(rc == KM_OK && f != NULL);
			FUZZ_CHECK(prc == KM_OK && p.frag_index + 1 == p.frag_count);
			const struct km_proto_frame_header *h = &f->header;
			FUZZ_CHECK(h->rows >= 1 && h->rows <= cfg.max_rows);
			FUZZ_CHECK(h->cols >= 1 && h->cols <= cfg.max_cols);
			FUZZ_CHECK(h->sequence == p.header.sequence && h->rows == p.header.rows &&
			           h->cols == p.header.cols && h->encoding == p.header.encoding);
			size_t n = (size_t)h->rows * h->cols;
			(void)fuzz_touch_u16(f->counts, n);
			if (p.frag_count == 1 && h->encoding != KM_PROTO_ENC_DELTA_TEMPORAL) {
				int drc = km_proto_decode_payload(h->encoding, h->rows, h->cols,
				                                  p.payload, p.payload_len, NULL,
				                                  direct, n);
				FUZZ_CHECK(drc == KM_OK);
				FUZZ_CHECK(memcmp(direct, f->counts, n * sizeof *direct) == 0);
			}
		}
		struct km_proto_reasm_stats st;
		km_proto_reasm_stats(r, &st);
		FUZZ_CHECK(st.packets == pushed && st.frames == frames);
		FUZZ_CHECK(st.bad_packets + st.duplicates + st.gaps <= st.packets);
		FUZZ_CHECK((f != NULL) == (frames > 0));
		free(buf);
	}
	km_proto_reasm_destroy(r);
	return 0;
}
