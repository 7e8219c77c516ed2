/*
 * Seeds of fuzz_fw_control: what the driver does to a device (GET_INFO,
 * SET_RATE, ZERO, START, polls, GET_STATUS, STOP) for each encoding and a few
 * grids and packet sizes, plus a busy endpoint and a restart.
 */
#include <stdio.h>

#include "knotmap/protocol.h"
#include "seeds.h"

static void setup(struct seed_buf *b, uint8_t type, uint8_t req, uint16_t value, uint16_t length)
{
	struct km_proto_setup s = {type, req, value, 0, length};
	uint8_t raw[KM_PROTO_SETUP_LEN];
	km_proto_setup_encode(&s, raw);
	seed_u8(b, 0);
	seed_put(b, raw, sizeof raw);
	seed_u8(b, 0xFF); /* reply buffer */
}

static void polls(struct seed_buf *b, int n, uint16_t step_10us)
{
	for (int i = 0; i < n; i++) {
		seed_u8(b, 1);
		seed_u16(b, step_10us);
	}
}

void seeds_fw(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_fw_control", out);
	/* shape byte, x4 flag, adc_bits-1, oversample-1, encoding, key-1, max_rate-1,
	 * rate-1, max_transfer (16 bits), geometry */
	static const uint8_t grids[][3] = {{0x77, 0, 0}, {0xF3, 0, 1}, {0x33, 1, 2}};
	char name[64];
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++) {
		for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
			struct seed_buf b = {0};
			seed_u8(&b, grids[g][0]);
			seed_u8(&b, grids[g][1]);
			seed_u8(&b, 11); /* 12-bit ADC */
			seed_u8(&b, 1);
			seed_u8(&b, enc);
			seed_u8(&b, 3);
			seed_u8(&b, 199);
			seed_u8(&b, 99);
			seed_u16(&b, grids[g][2] == 1 ? 100 : 0xFFFF);
			seed_u8(&b, grids[g][2] == 2);
			seed_u8(&b, 3 | (2u << 2)); /* ADC: a ramp */
			setup(&b, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, KM_PROTO_INFO_LEN);
			setup(&b, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 100, 0);
			setup(&b, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_ZERO, 2, 0);
			setup(&b, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0);
			polls(&b, 4, 1000);
			seed_u8(&b, 2 | (3u << 2)); /* busy for 3 writes */
			polls(&b, 3, 500);
			polls(&b, 2, 5000); /* late: overruns */
			setup(&b, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_STATUS, 0,
			      KM_PROTO_STATUS_LEN);
			setup(&b, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_STOP, 0, 0);
			polls(&b, 1, 1000);
			setup(&b, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0);
			polls(&b, 3, 1000);
			snprintf(name, sizeof name, "session-enc%u-g%zu", enc, g);
			seed_write_buf(dir, name, &b);
			seed_free(&b);
		}
	}
}
