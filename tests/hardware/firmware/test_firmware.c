/* Firmware core against a fake board: settings, scan order, averaging,
 * crosstalk hook, control requests, rate, zero, overruns, and packets that
 * decode back to the board's cells. */
#include <criterion/criterion.h>
#include <string.h>

#include "fake_board.h"

static struct fake_board *fb;
static struct km_fw *fw;
static struct km_fw_board board;

static void setup(void)
{
	fb = calloc(1, sizeof *fb);
	fw = calloc(1, sizeof *fw);
	cr_assert(fb && fw);
	board = fb_board(fb);
}

static void teardown(void)
{
	free(fb);
	free(fw);
}

TestSuite(firmware, .init = setup, .fini = teardown);

static struct km_fw_settings small(uint16_t rows, uint16_t cols)
{
	struct km_fw_settings s = km_fw_settings_default();
	s.rows = rows;
	s.cols = cols;
	s.oversample = 1;
	fb->rows = rows;
	fb->cols = cols;
	return s;
}

/* Smooth-ish truth with a blob, values 0..4000. */
static void fill_truth(uint16_t rows, uint16_t cols, unsigned seed)
{
	for (uint16_t r = 0; r < rows; r++)
		for (uint16_t c = 0; c < cols; c++) {
			int dr = r - rows / 2, dc = c - cols / 2;
			int v =
			    3000 - 40 * (dr * dr + dc * dc) + (int)((r * 7 + c * 13 + seed) % 5);
			fb->truth[(size_t)r * cols + c] = (uint16_t)(v < 0 ? 0 : v);
		}
}

static int ctl(uint8_t type, uint8_t req, uint16_t value, uint16_t length, uint8_t *reply,
               size_t *len)
{
	struct km_proto_setup s = {type, req, value, 0, length};
	size_t dummy;
	return km_fw_control(fw, &s, reply, reply ? 64 : 0, len ? len : &dummy);
}

static int out_req(uint8_t req, uint16_t value)
{
	return ctl(KM_PROTO_REQTYPE_OUT, req, value, 0, NULL, NULL);
}

/* Runs the superloop for `ms` milliseconds of fake time in 1 ms steps. */
static void run_ms(unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		cr_assert_eq(km_fw_poll(fw), KM_OK);
		fb->now_us += 1000;
	}
}

/* Reassembles everything the board sent. Calls fn for each frame. */
static size_t collect(void (*fn)(const struct km_proto_frame *, void *), void *user,
                      struct km_proto_reasm_stats *st)
{
	struct km_proto_reasm_config cfg = km_proto_reasm_config_default();
	cfg.max_rows = KM_FW_MAX_ROWS;
	cfg.max_cols = KM_FW_MAX_COLS;
	km_proto_reasm *r;
	cr_assert_eq(km_proto_reasm_create(&cfg, &r), KM_OK);
	size_t pos = 0, frames = 0;
	while (pos < fb->sink_len) {
		bool ready = false;
		size_t used = 0;
		int rc =
		    km_proto_reasm_push_bytes(r, fb->sink + pos, fb->sink_len - pos, &ready, &used);
		cr_assert_eq(rc, KM_OK, "packet at %zu: %d", pos, rc);
		pos += used;
		if (ready) {
			frames++;
			if (fn)
				fn(km_proto_reasm_frame(r), user);
		}
	}
	if (st)
		km_proto_reasm_stats(r, st);
	km_proto_reasm_destroy(r);
	return frames;
}

Test(firmware, init_rejects_bad_settings)
{
	struct km_fw_settings s = small(8, 8);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(km_fw_init(NULL, &board, &s), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_fw_init(fw, NULL, &s), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_fw_init(fw, &board, NULL), KM_ERR_INVALID_ARG);
	struct km_fw_board b = board;
	b.bulk_write = NULL;
	cr_assert_eq(km_fw_init(fw, &b, &s), KM_ERR_INVALID_ARG);
	b = board;
	b.time_us = NULL;
	cr_assert_eq(km_fw_init(fw, &b, &s), KM_ERR_INVALID_ARG);

	struct km_fw_settings t;
#define REJECT(field_expr, rc)                                                                     \
	do {                                                                                       \
		t = small(8, 8);                                                                   \
		field_expr;                                                                        \
		cr_assert_eq(km_fw_init(fw, &board, &t), rc, #field_expr);                         \
	} while (0)
	REJECT(t.rows = 0, KM_ERR_SHAPE);
	REJECT(t.cols = KM_FW_MAX_COLS + 1, KM_ERR_SHAPE);
	REJECT(t.rows = KM_FW_MAX_ROWS + 1, KM_ERR_SHAPE);
	REJECT(t.pitch_um = 0, KM_ERR_RANGE);
	REJECT(t.geometry = 2, KM_ERR_RANGE);
	REJECT(t.adc_bits = 0, KM_ERR_RANGE);
	REJECT(t.adc_bits = 17, KM_ERR_RANGE);
	REJECT(t.oversample = 0, KM_ERR_RANGE);
	REJECT(t.oversample = KM_FW_MAX_OVERSAMPLE + 1, KM_ERR_RANGE);
	REJECT(t.encoding = KM_PROTO_ENC_COUNT, KM_ERR_RANGE);
	REJECT(t.key_interval = 0, KM_ERR_RANGE);
	REJECT(t.rate_hz = 0, KM_ERR_RANGE);
	REJECT(t.rate_hz = 201; t.max_rate_hz = 200, KM_ERR_RANGE);
	REJECT(t.max_rate_hz = KM_FW_MAX_RATE_HZ + 1, KM_ERR_RANGE);
	REJECT(t.max_transfer = KM_PROTO_MIN_TRANSFER - 1, KM_ERR_RANGE);
	REJECT(t.max_transfer = KM_FW_MAX_TRANSFER + 1, KM_ERR_RANGE);
	REJECT(t.encoding = KM_PROTO_ENC_RAW12; t.adc_bits = 14, KM_ERR_INVALID_ARG);
	/* The full grid in tiny transfers: the packet headers overflow KM_FW_TX_BYTES. */
	REJECT(t = small(KM_FW_MAX_ROWS, KM_FW_MAX_COLS); t.max_transfer = 256, KM_ERR_RANGE);
	REJECT(t.serial = "bad serial", KM_ERR_INVALID_ARG);
	REJECT(t.serial = "0123456789012345678901234567890123", KM_ERR_INVALID_ARG);
	REJECT(t.serial = NULL, KM_ERR_INVALID_ARG);
#undef REJECT
}

Test(firmware, init_resets_all_state)
{
	struct km_fw_settings s = small(4, 4);
	fill_truth(4, 4, 0);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_ZERO, 2), KM_OK);
	run_ms(50);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_gt(st.next_sequence, 0);
	cr_assert(st.flags & KM_PROTO_STATUS_RUNNING);
	/* Re-init (the reset path): stopped, sequence 0, not zeroed. */
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.flags, 0);
	cr_assert_eq(st.next_sequence, 0);
	cr_assert_eq(st.overruns, 0);
	size_t before = fb->sink_len;
	run_ms(50);
	cr_assert_eq(fb->sink_len, before, "stopped: nothing sent");
}

Test(firmware, scan_order_rows_then_column_groups)
{
	/* 5 rows x 20 cols: groups of KM_FW_ADC_GROUP (16) then 4, 3x oversampled. */
	struct km_fw_settings s = small(5, 20);
	s.oversample = 3;
	s.settle_us = 7;
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	bool sat;
	cr_assert_eq(km_fw_scan(fw, &sat), KM_OK);
	size_t i = 0;
	for (uint16_t r = 0; r < 5; r++) {
		cr_assert_eq(fb->log[i].ev, FB_SELECT);
		cr_assert_eq(fb->log[i++].a, r);
		cr_assert_eq(fb->log[i].ev, FB_DELAY);
		cr_assert_eq(fb->log[i++].a, 7);
		for (uint16_t c0 = 0; c0 < 20; c0 += KM_FW_ADC_GROUP) {
			uint16_t n =
			    (uint16_t)(20 - c0 < KM_FW_ADC_GROUP ? 20 - c0 : KM_FW_ADC_GROUP);
			for (int k = 0; k < 3; k++, i++) {
				cr_assert_eq(fb->log[i].ev, FB_READ, "call %zu", i);
				cr_assert_eq(fb->log[i].a, c0);
				cr_assert_eq(fb->log[i].b, n);
			}
		}
	}
	cr_assert_eq(fb->log[i].ev, FB_SELECT);
	cr_assert_eq(fb->log[i++].a, KM_FW_NO_ROW, "rows released after the scan");
	cr_assert_eq(fb->nlog, i);
	/* Every cell converted exactly oversample times. */
	for (size_t k = 0; k < 100; k++)
		cr_assert_eq(fb->conversion[k], 3);
}

Test(firmware, oversampling_averages_with_rounding)
{
	struct km_fw_settings s = small(3, 4);
	s.oversample = 4;
	fill_truth(3, 4, 1);
	/* Offsets over 4 conversions: +3 -1 +0 +0 -> mean +0.5, rounds up. */
	int off[8] = {3, -1, 0, 0, 3, -1, 0, 0};
	memcpy(fb->offsets, off, sizeof off);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	bool sat = true;
	cr_assert_eq(km_fw_scan(fw, &sat), KM_OK);
	cr_assert(!sat);
	const uint16_t *x = km_fw_counts(fw);
	for (size_t i = 0; i < 12; i++)
		cr_assert_eq(x[i], fb->truth[i] + 1, "cell %zu: %u vs %u", i, x[i], fb->truth[i]);
	/* Offsets -2 -1 +0 +1: mean -0.5 -> (4t - 2 + 2) / 4 = t. */
	int off2[8] = {-2, -1, 0, 1, -2, -1, 0, 1};
	memcpy(fb->offsets, off2, sizeof off2);
	cr_assert_eq(km_fw_scan(fw, &sat), KM_OK);
	for (size_t i = 0; i < 12; i++)
		cr_assert_eq(x[i], fb->truth[i]);
}

Test(firmware, saturation_is_clamped_and_flagged)
{
	struct km_fw_settings s = small(2, 2);
	s.oversample = 2;
	fb->truth[0] = 5000; /* above the 12-bit ceiling: clamped to 4095 */
	fb->truth[1] = 100;
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	bool sat = false;
	cr_assert_eq(km_fw_scan(fw, &sat), KM_OK);
	cr_assert(sat);
	cr_assert_eq(km_fw_counts(fw)[0], 4095);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(1);
	struct km_proto_packet p;
	size_t used;
	cr_assert_eq(km_proto_parse_packet(fb->sink, fb->sink_len, &p, &used), KM_OK);
	cr_assert(p.header.flags & KM_PROTO_FLAG_SATURATED);
}

static void crosstalk_sub(void *user, uint16_t *x, uint16_t rows, uint16_t cols)
{
	int *calls = user;
	(*calls)++;
	cr_assert_eq(rows, 3);
	cr_assert_eq(cols, 5);
	for (size_t i = 0; i < (size_t)rows * cols; i++)
		x[i] = (uint16_t)(x[i] / 2);
}

struct expect_ctx {
	const uint16_t *cells;
	size_t n;
	size_t frames;
	uint32_t next_seq;
	uint8_t want_flags;
};

static void check_frame(const struct km_proto_frame *f, void *user)
{
	struct expect_ctx *e = user;
	cr_assert_arr_eq(f->counts, e->cells, e->n * sizeof(uint16_t), "frame %u",
	                 f->header.sequence);
	cr_assert_eq(f->header.sequence, e->next_seq);
	cr_assert_eq(f->dropped_since_last, 0);
	cr_assert_eq(f->header.flags & e->want_flags, e->want_flags);
	e->next_seq++;
	e->frames++;
}

Test(firmware, crosstalk_hook_runs_before_packing)
{
	struct km_fw_settings s = small(3, 5);
	int calls = 0;
	s.crosstalk = crosstalk_sub;
	s.crosstalk_user = &calls;
	fill_truth(3, 5, 2);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(30); /* 100 Hz: 3 frames */
	cr_assert_eq(calls, 3);
	uint16_t half[15];
	for (int i = 0; i < 15; i++)
		half[i] = (uint16_t)(fb->truth[i] / 2);
	struct expect_ctx e = {half, 15, 0, 0, 0};
	cr_assert_eq(collect(check_frame, &e, NULL), 3);
}

static void crosstalk_boost(void *user, uint16_t *x, uint16_t rows, uint16_t cols)
{
	(void)user;
	for (size_t i = 0; i < (size_t)rows * cols; i++)
		x[i] = (uint16_t)(x[i] * 3u);
}

Test(firmware, crosstalk_output_is_clamped_to_the_adc_range)
{
	struct km_fw_settings s = small(3, 5);
	s.encoding = KM_PROTO_ENC_RAW12;
	s.crosstalk = crosstalk_boost;
	fill_truth(3, 5, 2);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(20);
	uint16_t want[15];
	for (int i = 0; i < 15; i++)
		want[i] = (uint16_t)(fb->truth[i] * 3u > 4095u ? 4095u : fb->truth[i] * 3u);
	struct expect_ctx e = {want, 15, 0, 0, 0};
	cr_assert_eq(collect(check_frame, &e, NULL), 2);
}

Test(firmware, random_control_requests_never_crash)
{
	struct km_fw_settings s = small(4, 4);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	uint64_t st = 99;
	uint8_t reply[64];
	for (int it = 0; it < 20000; it++) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		struct km_proto_setup req = {(uint8_t)st, (uint8_t)(st >> 8) & 0x07,
		                             (uint16_t)(st >> 16), (uint16_t)(st >> 32),
		                             (uint16_t)(st >> 48)};
		size_t len = 99;
		size_t cap = (st >> 40) % 65;
		int rc = km_fw_control(fw, &req, reply, cap, &len);
		cr_assert_leq(rc, 0);
		cr_assert_leq(len, cap);
		if (it % 100 == 0)
			cr_assert_eq(km_fw_poll(fw), KM_OK);
		fb->now_us += 37;
	}
	/* Whatever state it ended in, its rate is legal. */
	struct km_proto_status status;
	km_fw_get_status(fw, &status);
	cr_assert_geq(status.rate_hz, 1);
	cr_assert_leq(status.rate_hz, s.max_rate_hz);
}

Test(firmware, streamed_packets_decode_to_the_board_cells)
{
	for (uint8_t enc = 0; enc < KM_PROTO_ENC_COUNT; enc++) {
		memset(fb, 0, sizeof *fb);
		/* 48 x 64 with small transfers: several fragments per frame. */
		struct km_fw_settings s = small(48, KM_FW_MAX_COLS);
		s.encoding = enc;
		s.key_interval = 4;
		s.max_transfer = 512;
		fill_truth(s.rows, s.cols, enc);
		cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
		cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
		run_ms(100);
		if (enc <= KM_PROTO_ENC_RAW12)
			cr_assert_geq(fb->packets, 20, "several fragments per frame");
		struct expect_ctx e = {fb->truth, (size_t)s.rows * s.cols, 0, 0, 0};
		struct km_proto_reasm_stats st;
		cr_assert_eq(collect(check_frame, &e, &st), 10, "enc %u", enc);
		cr_assert_eq(st.bad_packets + st.gaps + st.undecodable, 0);
	}
}

static void count_encodings(const struct km_proto_frame *f, void *user)
{
	uint8_t *encs = user;
	encs[f->header.sequence] = f->header.encoding;
}

Test(firmware, temporal_stream_has_periodic_key_frames)
{
	struct km_fw_settings s = small(8, 8);
	s.encoding = KM_PROTO_ENC_DELTA_TEMPORAL;
	s.key_interval = 3;
	fill_truth(8, 8, 0);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(100);
	uint8_t encs[16];
	memset(encs, 0xFF, sizeof encs);
	cr_assert_eq(collect(count_encodings, encs, NULL), 10);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(encs[i], i % 3 == 0 ? KM_PROTO_ENC_DELTA : KM_PROTO_ENC_DELTA_TEMPORAL,
		             "frame %d", i);
}

Test(firmware, rate_control_follows_set_rate)
{
	struct km_fw_settings s = small(4, 4);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(1000);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.next_sequence, 100, "100 Hz for 1 s");
	cr_assert_eq(fb->packets, 100);
	cr_assert_eq(out_req(KM_PROTO_REQ_SET_RATE, 25), KM_OK);
	run_ms(1000);
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.rate_hz, 25);
	/* The change takes effect after the already scheduled frame. */
	cr_assert_geq(st.next_sequence, 125);
	cr_assert_leq(st.next_sequence, 126);
	cr_assert_eq(st.overruns, 0);
	cr_assert_eq(out_req(KM_PROTO_REQ_SET_RATE, 0), KM_ERR_RANGE);
	cr_assert_eq(out_req(KM_PROTO_REQ_SET_RATE, (uint16_t)(s.max_rate_hz + 1)), KM_ERR_RANGE);
	cr_assert_eq(out_req(KM_PROTO_REQ_SET_RATE, s.max_rate_hz), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_STOP, 0), KM_OK);
	size_t before = fb->packets;
	run_ms(100);
	cr_assert_eq(fb->packets, before, "STOP stops the stream");
}

Test(firmware, late_polls_skip_frames_as_overruns)
{
	struct km_fw_settings s = small(4, 4);
	s.encoding = KM_PROTO_ENC_DELTA_TEMPORAL;
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(20);          /* frames 0, 1 */
	fb->now_us += 35000; /* the main loop stalled 35 ms: 3 frames due late */
	run_ms(1);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.overruns, 3);
	struct km_proto_reasm_stats rs;
	cr_assert_eq(collect(NULL, NULL, &rs), 3);
	cr_assert_eq(rs.lost_frames, 3);
	/* The frame after the gap is flagged and self-contained. */
	size_t pos = 0;
	struct km_proto_packet p;
	size_t used;
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(km_proto_parse_packet(fb->sink + pos, fb->sink_len - pos, &p, &used),
		             KM_OK);
		pos += used;
	}
	cr_assert_eq(p.header.sequence, 5);
	cr_assert(p.header.flags & KM_PROTO_FLAG_OVERRUN);
	cr_assert_eq(p.header.encoding, KM_PROTO_ENC_DELTA);
}

Test(firmware, busy_endpoint_drops_frames_not_packets)
{
	struct km_fw_settings s = small(32, 32);
	s.max_transfer = 256; /* several packets per frame */
	s.encoding = KM_PROTO_ENC_RAW12;
	fill_truth(32, 32, 4);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(5);
	fb->busy = 25; /* busy for 25 polls mid-frame: ~2 frames cannot start */
	run_ms(200);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_gt(st.overruns, 0);
	struct km_proto_reasm_stats rs;
	size_t frames = collect(NULL, NULL, &rs);
	cr_assert_eq(rs.bad_packets + rs.gaps + rs.incomplete, 0, "every frame sent whole");
	cr_assert_eq(frames + st.overruns, st.next_sequence);
	cr_assert_eq(rs.lost_frames, st.overruns);
}

Test(firmware, control_requests)
{
	struct km_fw_settings s = small(48, 40);
	s.pitch_um = 7500;
	s.geometry = KM_GEOMETRY_CYLINDER;
	s.calibration_id = 77;
	s.serial = "KM-ROLLER-9";
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	uint8_t reply[64];
	size_t len = 0;
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 64, reply, &len), KM_OK);
	cr_assert_eq(len, KM_PROTO_INFO_LEN);
	struct km_proto_info info;
	cr_assert_eq(km_proto_info_decode(reply, len, &info), KM_OK);
	cr_assert_eq(info.rows, 48);
	cr_assert_eq(info.cols, 40);
	cr_assert_eq(info.pitch_um, 7500);
	cr_assert_eq(info.geometry, KM_GEOMETRY_CYLINDER);
	cr_assert_eq(info.adc_bits, 12);
	cr_assert_eq(info.calibration_id, 77);
	cr_assert_eq(info.rate_hz, KM_FW_DEFAULT_RATE_HZ);
	cr_assert_eq(info.firmware_version, KM_FW_VERSION);
	cr_assert_str_eq(info.serial, "KM-ROLLER-9");
	cr_assert(info.encodings & (1u << KM_PROTO_ENC_RAW12));
	/* A short wLength gets a short reply (USB semantics). */
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 8, reply, &len), KM_OK);
	cr_assert_eq(len, 8);

	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_STATUS, 0, 64, reply, &len), KM_OK);
	struct km_proto_status st;
	cr_assert_eq(km_proto_status_decode(reply, len, &st), KM_OK);
	cr_assert_eq(st.flags, 0);
	fb->now_us = 123456;
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_SET_RATE, 50), KM_OK);
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_STATUS, 0, 64, reply, &len), KM_OK);
	cr_assert_eq(km_proto_status_decode(reply, len, &st), KM_OK);
	cr_assert_eq(st.flags, KM_PROTO_STATUS_RUNNING);
	cr_assert_eq(st.rate_hz, 50);
	cr_assert_eq(st.device_time_us, 123456);
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 64, reply, &len), KM_OK);
	cr_assert_eq(km_proto_info_decode(reply, len, &info), KM_OK);
	cr_assert_eq(info.rate_hz, 50);

	/* Wrong direction, unknown request, standard/class requests: stall. */
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_GET_INFO, 0, 0, NULL, NULL),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(ctl(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_START, 0, 0, reply, &len),
	             KM_ERR_INVALID_ARG);
	cr_assert_eq(out_req(0x7F, 0), KM_ERR_UNSUPPORTED);
	cr_assert_eq(ctl(0x80, 0x06, 0x0100, 18, reply, &len), KM_ERR_UNSUPPORTED);
	cr_assert_eq(ctl(0xC1, KM_PROTO_REQ_GET_INFO, 0, 64, reply, &len), KM_ERR_UNSUPPORTED,
	             "interface recipient is not ours");
	cr_assert_eq(out_req(KM_PROTO_REQ_ZERO, KM_FW_ZERO_MAX_FRAMES + 1), KM_ERR_RANGE);
	cr_assert_eq(km_fw_control(fw, NULL, reply, 64, &len), KM_ERR_INVALID_ARG);
}

static void zero_check(const struct km_proto_frame *f, void *user)
{
	size_t *n = user;
	if (f->header.sequence < 3) {
		cr_assert(f->header.flags & KM_PROTO_FLAG_ZEROING, "frame %u", f->header.sequence);
		cr_assert(!(f->header.flags & KM_PROTO_FLAG_ZEROED));
	} else {
		cr_assert(!(f->header.flags & KM_PROTO_FLAG_ZEROING));
		cr_assert(f->header.flags & KM_PROTO_FLAG_ZEROED);
		/* Static load, zeroed: all zero except where it grew. */
		for (size_t i = 0; i < 16; i++)
			cr_assert_eq(f->counts[i], i == 5 && f->header.sequence >= 6 ? 50 : 0,
			             "frame %u cell %zu", f->header.sequence, i);
	}
	(*n)++;
}

Test(firmware, zero_request_tares_the_baseline)
{
	struct km_fw_settings s = small(4, 4);
	s.oversample = 2;
	fill_truth(4, 4, 5);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_ZERO, 4), KM_OK);
	run_ms(55); /* frames 0..5; the 4th (seq 3) completes the zero */
	fb->truth[5] += 50;
	run_ms(50);
	size_t n = 0;
	collect(zero_check, &n, NULL);
	cr_assert_eq(n, 11);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.flags & KM_PROTO_STATUS_ZEROING, 0);
}

Test(firmware, zero_while_stopped_scans_without_sending)
{
	struct km_fw_settings s = small(4, 4);
	fill_truth(4, 4, 6);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_ZERO, 0), KM_OK);
	run_ms(KM_FW_ZERO_DEFAULT_FRAMES * 10 + 5);
	cr_assert_eq(fb->sink_len, 0);
	struct km_proto_status st;
	km_fw_get_status(fw, &st);
	cr_assert_eq(st.flags, 0, "zero finished");
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	run_ms(10);
	struct km_proto_packet p;
	size_t used;
	cr_assert_eq(km_proto_parse_packet(fb->sink, fb->sink_len, &p, &used), KM_OK);
	cr_assert(p.header.flags & KM_PROTO_FLAG_ZEROED);
}

Test(firmware, board_errors_are_returned)
{
	struct km_fw_settings s = small(4, 4);
	cr_assert_eq(km_fw_init(fw, &board, &s), KM_OK);
	cr_assert_eq(out_req(KM_PROTO_REQ_START, 0), KM_OK);
	fb->fail_read = 1;
	cr_assert_eq(km_fw_poll(fw), KM_ERR_IO);
	cr_assert_eq(fb->log[fb->nlog - 1].ev, FB_SELECT);
	cr_assert_eq(fb->log[fb->nlog - 1].a, KM_FW_NO_ROW, "rows released on error");
}
