/*
 * Seeds of the protocol targets, made with the protocol's own encoders:
 * frames in every encoding and several shapes, fragmented streams with
 * temporal frames, gaps, duplicates and restarts, and the control blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_proto.h"
#include "seeds.h"

#define SEED_MAX_CELLS (64u * 64u)

/* Frame kinds: flat zero, gradient, a smooth contact with noise, full-scale
 * noise (kind 3 exceeds 12 bits; kind 4 is the same kept to 12 bits). */
static void make_frame(int kind, uint16_t rows, uint16_t cols, uint32_t salt, uint16_t *x)
{
	uint32_t s = 2463534242u + salt * 7919u;
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < cols; c++) {
			s ^= s << 13;
			s ^= s >> 17;
			s ^= s << 5;
			size_t i = r * cols + c;
			double dr = (double)r - rows / 2.0, dc = (double)c - cols / 3.0;
			double d2 = dr * dr + dc * dc;
			switch (kind) {
			case 0:
				x[i] = 0;
				break;
			case 1:
				x[i] = (uint16_t)(r * 40 + c * 3);
				break;
			case 2:
				x[i] =
				    d2 < 20.0 ? (uint16_t)(1000.0 - d2 * 40.0 + (s % 5) + salt) : 0;
				break;
			case 3:
				x[i] = (uint16_t)s;
				break;
			default:
				x[i] = (uint16_t)(s & 0x0FFFu);
				break;
			}
		}
	}
}

static const char *enc_name[KM_PROTO_ENC_COUNT] = {"raw16", "raw12", "delta", "dtemp"};

/* One frame encoded into b as packets; returns the packet count. */
static size_t encode(struct seed_buf *b, uint8_t enc, uint16_t rows, uint16_t cols, uint32_t seq,
                     const uint16_t *x, const uint16_t *prev, size_t mt)
{
	struct km_proto_frame_header h = {.sequence = seq,
	                                  .timestamp_us = 1000000u + 10000u * (uint64_t)seq,
	                                  .rows = rows,
	                                  .cols = cols,
	                                  .encoding = enc,
	                                  .flags = KM_PROTO_FLAG_ZEROED};
	size_t cap = km_proto_max_packet_bytes_split(rows, cols, mt);
	uint8_t *out = malloc(cap);
	size_t written = 0, n = 0;
	if (!out || km_proto_encode_frame_split(&h, x, prev, mt, out, cap, &written, &n) != KM_OK) {
		fprintf(stderr, "gen_seeds: encoding a %ux%u %s frame failed\n", rows, cols,
		        enc_name[enc]);
		exit(1);
	}
	seed_put(b, out, written);
	free(out);
	return n;
}

/* Each packet of a frame as a reasm record (length word + bytes). */
static void records(struct seed_buf *rec, const struct seed_buf *pk, uint16_t reset_first)
{
	size_t off = 0;
	while (off < pk->len) {
		struct km_proto_packet p;
		size_t used = 0;
		if (km_proto_parse_packet(pk->p + off, pk->len - off, &p, &used) != KM_OK)
			exit(1);
		seed_u16(rec, (uint16_t)(used | reset_first));
		seed_put(rec, pk->p + off, used);
		reset_first = 0;
		off += used;
	}
}

static void payload_seeds(const char *out)
{
	static const uint16_t shapes[][2] = {{3, 4}, {1, 1}, {1, 7}, {8, 8}, {16, 12}, {32, 32}};
	uint16_t x[SEED_MAX_CELLS], prev[SEED_MAX_CELLS];
	const char *dir = seed_dir(out, "fuzz_proto_payload");
	char name[64];
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		uint16_t rows = shapes[s][0], cols = shapes[s][1];
		for (int kind = 0; kind < 5; kind++) {
			make_frame(kind, rows, cols, (uint32_t)s, x);
			for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++) {
				if (enc == KM_PROTO_ENC_RAW12 && kind == 3)
					continue;
				uint8_t pk = (uint8_t)(kind & 3); /* prev pattern */
				fuzz_prev_pattern(pk, prev, (size_t)rows * cols);
				struct seed_buf f = {0}, in = {0};
				encode(&f, enc, rows, cols, 1, x, prev, KM_PROTO_MAX_TRANSFER);
				struct km_proto_packet p;
				size_t used;
				if (km_proto_parse_packet(f.p, f.len, &p, &used) != KM_OK)
					exit(1);
				seed_u8(&in, enc);
				seed_u16(&in, rows);
				seed_u16(&in, cols);
				seed_u8(&in, pk);
				seed_put(&in, p.payload, p.payload_len);
				snprintf(name, sizeof name, "%ux%u-k%d-%s", rows, cols, kind,
				         enc_name[enc]);
				seed_write_buf(dir, name, &in);
				seed_free(&f);
				seed_free(&in);
			}
		}
	}
}

static void packet_seeds(const char *out)
{
	uint16_t x[SEED_MAX_CELLS], prev[SEED_MAX_CELLS];
	const char *dir = seed_dir(out, "fuzz_proto_packet");
	char name[64];
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++) {
		for (int frag = 0; frag < 2; frag++) {
			struct seed_buf b = {0};
			seed_u8(&b, 0); /* CRCs as encoded */
			fuzz_prev_pattern(0, prev, SEED_MAX_CELLS);
			for (uint32_t seq = 0; seq < 3; seq++) {
				make_frame(seq == 0 ? 2 : 4, 12, 10, seq, x);
				encode(&b, enc, 12, 10, seq, x, prev, frag ? 64 : 16384);
			}
			snprintf(name, sizeof name, "%s-%s", enc_name[enc],
			         frag ? "frag" : "whole");
			seed_write_buf(dir, name, &b);
			b.p[0] = 1; /* the same with CRC repair on */
			snprintf(name, sizeof name, "%s-%s-fixcrc", enc_name[enc],
			         frag ? "frag" : "whole");
			seed_write_buf(dir, name, &b);
			seed_free(&b);
		}
	}
	/* The documented example packet (PROTOCOL.md). */
	static const uint16_t ex[12] = {0, 0, 0, 0, 0, 0, 1000, 1003, 0, 0, 998, 1040};
	struct seed_buf b = {0};
	seed_u8(&b, 0);
	struct km_proto_frame_header h = {
	    7, 1000000, 3, 4, KM_PROTO_ENC_DELTA, KM_PROTO_FLAG_ZEROED};
	uint8_t pk[128];
	size_t w = 0;
	if (km_proto_encode_frame(&h, ex, NULL, pk, sizeof pk, &w) != KM_OK)
		exit(1);
	seed_put(&b, pk, w);
	seed_write_buf(dir, "documented-example", &b);
	seed_free(&b);
}

static void reasm_seeds(const char *out)
{
	uint16_t frames[8][SEED_MAX_CELLS];
	const char *dir = seed_dir(out, "fuzz_proto_reasm");
	char name[64];
	const uint16_t rows = 12, cols = 10;
	for (uint32_t k = 0; k < 8; k++)
		make_frame(k == 0 ? 0 : 2, rows, cols, k, frames[k]);
	for (int variant = 0; variant < 6; variant++) {
		struct seed_buf rec = {0};
		/* options: CRC repair on odd variants; max 16x16 (index 4) or 64 (5) */
		seed_u8(&rec, (uint8_t)((variant & 1) | ((variant < 4 ? 4 : 5) << 1)));
		size_t mt = variant < 2 ? 16384 : (variant < 4 ? 64 : 100);
		for (uint32_t seq = 0; seq < 8; seq++) {
			if (variant >= 2 && seq == 3)
				continue; /* a lost frame: the next temporal frame is refused */
			uint8_t enc = (seq % 4 == 0 || seq == 4) ? KM_PROTO_ENC_DELTA
			                                         : KM_PROTO_ENC_DELTA_TEMPORAL;
			if (variant == 5)
				enc = (uint8_t)(seq % 3);
			struct seed_buf pk = {0};
			encode(&pk, enc, rows, cols, seq, frames[seq],
			       seq ? frames[seq - 1] : frames[0], mt);
			records(&rec, &pk, (variant == 4 && seq == 6) ? 0x8000u : 0);
			if (seq == 5)
				records(&rec, &pk, 0); /* a duplicate frame */
			seed_free(&pk);
		}
		/* A restart: sequence 0 again after 7. */
		struct seed_buf pk = {0};
		encode(&pk, KM_PROTO_ENC_RAW12, rows, cols, 0, frames[1], NULL, mt);
		records(&rec, &pk, 0);
		seed_free(&pk);
		snprintf(name, sizeof name, "stream-%d", variant);
		seed_write_buf(dir, name, &rec);
		seed_free(&rec);
	}
}

static void control_seeds(const char *out)
{
	const char *dir = seed_dir(out, "fuzz_proto_control");
	struct seed_buf b = {0};
	uint8_t blk[KM_PROTO_INFO_LEN];
	size_t w = 0;

	struct km_proto_info info = {.protocol_version = KM_PROTO_VERSION,
	                             .rows = 64,
	                             .cols = 48,
	                             .pitch_um = 7500,
	                             .geometry = KM_GEOMETRY_FLAT,
	                             .adc_bits = 12,
	                             .encodings = 0x0F,
	                             .firmware_version = 0x000102,
	                             .calibration_id = 42,
	                             .rate_hz = 100,
	                             .max_rate_hz = 200,
	                             .max_transfer = KM_PROTO_MAX_TRANSFER};
	strcpy(info.serial, "KM-0001-ABCD");
	if (km_proto_info_encode(&info, blk, sizeof blk, &w) != KM_OK)
		exit(1);
	seed_u8(&b, 0);
	seed_u8(&b, 0);
	seed_put(&b, blk, w);
	seed_write_buf(dir, "info", &b);
	seed_free(&b);

	struct km_proto_status st = {KM_PROTO_STATUS_RUNNING, 1234, 2, 100, 0, 987654321};
	if (km_proto_status_encode(&st, blk, sizeof blk, &w) != KM_OK)
		exit(1);
	seed_u8(&b, 1);
	seed_u8(&b, 0);
	seed_put(&b, blk, w);
	seed_write_buf(dir, "status", &b);
	seed_free(&b);

	struct km_proto_setup su = {KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0,
	                            KM_PROTO_INFO_LEN};
	km_proto_setup_encode(&su, blk);
	seed_u8(&b, 2);
	seed_u8(&b, 0);
	seed_put(&b, blk, KM_PROTO_SETUP_LEN);
	seed_write_buf(dir, "setup", &b);
	seed_free(&b);

	static const char *const strs[] = {"knotmap pressure mat", "KM-0001-ABCD",
	                                   "Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac", ""};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		uint8_t d[KM_USB_STRING_DESC_MAX];
		if (km_proto_string_descriptor(strs[i], d, sizeof d, &w) != KM_OK)
			exit(1);
		char name[32];
		seed_u8(&b, 3);
		seed_u8(&b, 0xFF);
		seed_put(&b, d, w);
		snprintf(name, sizeof name, "strdesc-%zu", i);
		seed_write_buf(dir, name, &b);
		seed_free(&b);
		seed_u8(&b, 4);
		seed_u8(&b, 0xFF);
		seed_put(&b, strs[i], strlen(strs[i]));
		snprintf(name, sizeof name, "utf8-%zu", i);
		seed_write_buf(dir, name, &b);
		seed_free(&b);
	}
}

void seeds_proto(const char *out)
{
	payload_seeds(out);
	packet_seeds(out);
	reasm_seeds(out);
	control_seeds(out);
}
