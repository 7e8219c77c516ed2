/* Virtual mat packets: what km_sim_pack writes decodes back, with the
 * protocol's own parser and reassembler, to exactly the simulated counts. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/protocol.h"
#include "sim_test_util.h"

static void roundtrip(uint8_t encoding, uint16_t rows, uint16_t cols, int frames)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = rows;
	c.cols = cols;
	c.body_midline_x_mm = cols * c.pitch_mm / 2;
	c.encoding = encoding;
	c.stuck_cells = 3; /* saturated cells: the flag must be set */
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_proto_reasm_config rc = km_proto_reasm_config_default();
	km_proto_reasm *ra = NULL;
	cr_assert_eq(km_proto_reasm_create(&rc, &ra), KM_OK);
	size_t cap = km_sim_max_packet_bytes(sim);
	cr_assert_gt(cap, 0u);
	uint8_t *buf = malloc(cap);
	size_t w = 1;
	cr_assert_eq(km_sim_pack(sim, buf, cap, &w), KM_ERR_STATE, "no frame yet");
	cr_assert_eq(w, 0u);
	for (int f = 0; f < frames; f++) {
		struct km_sim_output o;
		cr_assert_eq(km_sim_step(sim, &o), KM_OK);
		cr_assert_eq(km_sim_pack(sim, buf, cap, &w), KM_OK);
		cr_assert_gt(w, (size_t)KM_PROTO_PACKET_OVERHEAD);
		size_t pos = 0;
		bool ready = false;
		while (pos < w) {
			size_t used = 0;
			cr_assert_eq(
			    km_proto_reasm_push_bytes(ra, buf + pos, w - pos, &ready, &used),
			    KM_OK);
			cr_assert_gt(used, 0u);
			pos += used;
		}
		cr_assert(ready, "the last packet completes the frame");
		const struct km_proto_frame *fr = km_proto_reasm_frame(ra);
		cr_assert_not_null(fr);
		cr_assert_eq(fr->header.rows, rows);
		cr_assert_eq(fr->header.cols, cols);
		cr_assert_eq(fr->header.sequence, o.sequence);
		cr_assert_eq(fr->header.timestamp_us, o.time_us);
		cr_assert(fr->header.flags & KM_PROTO_FLAG_SATURATED);
		cr_assert_eq(fr->dropped_since_last, 0u);
		cr_assert_eq(memcmp(fr->counts, o.counts, (size_t)rows * cols * 2), 0,
		             "frame %d: decoded counts differ", f);
	}
	cr_assert_lt(cap, 1u << 20);
	size_t small = KM_PROTO_PACKET_OVERHEAD;
	cr_assert_eq(km_sim_pack(sim, buf, small, &w), KM_ERR_OVERFLOW);
	free(buf);
	km_proto_reasm_destroy(ra);
	km_sim_destroy(sim);
}

Test(packets, raw12_roundtrip)
{
	roundtrip(KM_PROTO_ENC_RAW12, 64, 64, 5);
}

Test(packets, raw12_fragments_for_a_large_grid)
{
	/* 128 x 128 RAW12 = 24 KiB: more than one 16 KiB transfer */
	roundtrip(KM_PROTO_ENC_RAW12, 128, 128, 3);
}

Test(packets, raw16_roundtrip)
{
	roundtrip(KM_PROTO_ENC_RAW16, 32, 48, 3);
}

Test(packets, delta_roundtrip)
{
	roundtrip(KM_PROTO_ENC_DELTA, 64, 64, 4);
}

Test(packets, delta_temporal_roundtrip)
{
	roundtrip(KM_PROTO_ENC_DELTA_TEMPORAL, 64, 64, 6);
}

Test(packets, temporal_delta_sends_key_frames_like_the_firmware)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = c.cols = 32;
	c.encoding = KM_PROTO_ENC_DELTA_TEMPORAL;
	c.key_interval = 3;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	size_t cap = km_sim_max_packet_bytes(sim);
	uint8_t *buf = malloc(cap);
	const uint8_t want[] = {2, 3, 3, 2, 3, 3, 2};
	struct km_sim_output o;
	struct km_proto_packet pkt;
	size_t w, used;
	for (size_t f = 0; f < sizeof want; f++) {
		km_sim_step(sim, &o);
		cr_assert_eq(km_sim_pack(sim, buf, cap, &w), KM_OK);
		cr_assert_eq(km_proto_parse_packet(buf, w, &pkt, &used), KM_OK);
		cr_assert_eq(pkt.header.encoding, want[f], "frame %zu", f);
	}
	/* after a STOP/START the first frame is self-contained again */
	km_sim_control(sim, KM_SIM_CMD_STOP, 0);
	km_sim_control(sim, KM_SIM_CMD_START, 0);
	km_sim_step(sim, &o);
	cr_assert_eq(km_sim_pack(sim, buf, cap, &w), KM_OK);
	cr_assert_eq(km_proto_parse_packet(buf, w, &pkt, &used), KM_OK);
	cr_assert_eq(pkt.header.encoding, KM_PROTO_ENC_DELTA);
	cr_assert_eq(pkt.header.sequence, 0u);
	free(buf);
	km_sim_destroy(sim);
}

Test(packets, zeroing_flags_follow_the_zero_command)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = c.cols = 32;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	uint8_t *buf = malloc(km_sim_max_packet_bytes(sim));
	struct km_sim_output o;
	struct km_proto_packet pkt;
	size_t w, used;
	km_sim_control(sim, KM_SIM_CMD_ZERO, 2);
	for (int f = 0; f < 3; f++) {
		km_sim_step(sim, &o);
		cr_assert_eq(km_sim_pack(sim, buf, km_sim_max_packet_bytes(sim), &w), KM_OK);
		cr_assert_eq(km_proto_parse_packet(buf, w, &pkt, &used), KM_OK);
		/* as the firmware: the frame completing the zero is zeroed */
		if (f < 1) {
			cr_assert(pkt.header.flags & KM_PROTO_FLAG_ZEROING);
			cr_assert_not(pkt.header.flags & KM_PROTO_FLAG_ZEROED);
		} else {
			cr_assert(pkt.header.flags & KM_PROTO_FLAG_ZEROED);
			cr_assert_not(pkt.header.flags & KM_PROTO_FLAG_ZEROING);
		}
	}
	free(buf);
	km_sim_destroy(sim);
}

Test(packets, info_block_describes_the_mat)
{
	struct km_sim_config c = km_sim_config_default();
	c.rows = 48;
	c.cols = 64;
	c.pitch_mm = 7.36f;
	c.geometry = KM_GEOMETRY_CYLINDER;
	c.body = false;
	c.tool = KM_SIM_TOOL_ROLLER_DEVICE;
	c.serial = 0xBEEF;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_proto_info info, back;
	cr_assert_eq(km_sim_info(sim, &info), KM_OK);
	uint8_t block[KM_PROTO_INFO_LEN];
	size_t w;
	cr_assert_eq(km_proto_info_encode(&info, block, sizeof block, &w), KM_OK);
	cr_assert_eq(km_proto_info_decode(block, w, &back), KM_OK);
	cr_assert_eq(back.rows, 48);
	cr_assert_eq(back.cols, 64);
	cr_assert_eq(back.pitch_um, 7360u);
	cr_assert_eq(back.geometry, KM_GEOMETRY_CYLINDER);
	cr_assert_eq(back.adc_bits, 12);
	cr_assert_eq(back.rate_hz, 100);
	cr_assert_eq(back.calibration_id, km_sim_calibration_id(sim));
	cr_assert_neq(back.calibration_id, 0u);
	cr_assert_str_eq(back.serial, "KMSIM-0000BEEF");
	km_sim_control(sim, KM_SIM_CMD_SET_RATE, 40);
	cr_assert_eq(km_sim_info(sim, &info), KM_OK);
	cr_assert_eq(info.rate_hz, 40);
	cr_assert_eq(km_sim_info(NULL, &info), KM_ERR_INVALID_ARG);
	struct km_proto_status st;
	struct km_sim_output o;
	km_sim_step(sim, &o);
	km_sim_step(sim, &o);
	cr_assert_eq(km_sim_status(sim, &st), KM_OK);
	cr_assert(st.flags & KM_PROTO_STATUS_RUNNING);
	cr_assert_eq(st.next_sequence, 2u);
	cr_assert_eq(st.rate_hz, 40);
	cr_assert_eq(st.device_time_us, o.time_us);
	km_sim_control(sim, KM_SIM_CMD_ZERO, 4);
	cr_assert_eq(km_sim_status(sim, &st), KM_OK);
	cr_assert(st.flags & KM_PROTO_STATUS_ZEROING);
	km_sim_destroy(sim);
}
