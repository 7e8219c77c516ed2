/*
 * The firmware core (hardware/firmware) driven by arbitrary host traffic: any
 * sequence of SETUP packets (vendor control requests, km_fw_control), with
 * polls at arbitrary times, a busy endpoint and arbitrary ADC readings, on a
 * fake board. Everything the device sends goes through the host's
 * reassembler.
 * Input: 12 bytes of settings (shape, ADC bits, oversampling, encoding, key
 *   interval, rates, packet size), then operations: 0 = a SETUP packet (8
 *   bytes) with a reply buffer of the next byte's size; 1 = advance the clock
 *   (16 bits x 10 us) and poll; 2 = the endpoint is busy for the next N
 *   writes; 3 = new ADC pattern.
 * Properties: km_fw_init and km_fw_control return only documented codes; a
 * reply never exceeds wLength or the buffer; GET_INFO / GET_STATUS replies
 * decode on the host and say what the device does; km_fw_poll never fails
 * with a good board; every packet sent is accepted by the host reassembler
 * (reset after each START, as the driver does), and each frame it completes
 * carries exactly the counts the firmware processed.
 */
#include "fuzz_common.h"
#include "km_fw.h"

struct board {
	struct km_fw *fw;
	km_proto_reasm *host;
	uint64_t now_us;
	uint16_t row;
	uint16_t rows, cols;
	uint8_t adc_bits;
	uint32_t rng;
	uint8_t pattern;
	unsigned busy;
	uint64_t frames;
};

static struct km_fw fw; /* large: static, as on the MCU */

static void b_select_row(void *u, uint16_t row)
{
	((struct board *)u)->row = row;
}

static int b_read_columns(void *u, uint16_t first, uint16_t n, uint16_t *out)
{
	struct board *b = u;
	FUZZ_CHECK(b->row < b->rows && n >= 1 && n <= KM_FW_ADC_GROUP && first + n <= b->cols);
	uint16_t ceiling = (uint16_t)((1u << b->adc_bits) - 1u);
	for (uint16_t i = 0; i < n; i++) {
		b->rng ^= b->rng << 13;
		b->rng ^= b->rng >> 17;
		b->rng ^= b->rng << 5;
		uint32_t v;
		switch (b->pattern & 3u) {
		case 0:
			v = 0;
			break;
		case 1:
			v = ceiling;
			break;
		case 2:
			v = (uint32_t)(b->row * 7u + first + i) * 13u + (b->rng & 3u);
			break;
		default:
			v = b->rng;
			break;
		}
		out[i] = (uint16_t)(v & ceiling);
	}
	return KM_OK;
}

static void b_delay_us(void *u, uint32_t us)
{
	((struct board *)u)->now_us += us;
}

static uint64_t b_time_us(void *u)
{
	return ((struct board *)u)->now_us;
}

static int b_bulk_write(void *u, const uint8_t *data, size_t len)
{
	struct board *b = u;
	if (b->busy) {
		b->busy--;
		return KM_ERR_BUSY;
	}
	FUZZ_CHECK(len <= b->fw->cfg.max_transfer);
	uint8_t *copy = fuzz_dup(data, len);
	bool ready = false;
	size_t used = 0;
	int rc = km_proto_reasm_push_bytes(b->host, copy, len, &ready, &used);
	if (rc != KM_OK)
		fprintf(stderr, "host refused a device packet: %s\n", km_error_name(rc));
	FUZZ_CHECK(rc == KM_OK && used == len);
	if (ready) {
		const struct km_proto_frame *f = km_proto_reasm_frame(b->host);
		FUZZ_CHECK(f && f->header.rows == b->rows && f->header.cols == b->cols);
		size_t n = (size_t)b->rows * b->cols;
		FUZZ_CHECK(memcmp(f->counts, km_fw_counts(b->fw), n * sizeof *f->counts) == 0);
		b->frames++;
	}
	free(copy);
	return KM_OK;
}

static void control(struct board *b, struct fuzz_reader *rd)
{
	uint8_t raw[KM_PROTO_SETUP_LEN];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = fuzz_u8(rd);
	/* Mostly well-formed vendor requests, so the fuzzer need not find 0x40/0xC0. */
	if ((raw[0] & 0x60u) == 0x20u)
		raw[0] = (raw[0] & 0x80u) ? KM_PROTO_REQTYPE_IN : KM_PROTO_REQTYPE_OUT;
	struct km_proto_setup s;
	FUZZ_CHECK(km_proto_setup_decode(raw, sizeof raw, &s) == KM_OK);
	size_t cap = fuzz_u8(rd);
	uint8_t *reply = malloc(cap ? cap : 1);
	FUZZ_CHECK(reply != NULL);
	size_t rlen = 999;
	int rc = km_fw_control(b->fw, &s, reply, cap, &rlen);
	FUZZ_CHECK_RC(rc, KM_ERR_UNSUPPORTED, KM_ERR_INVALID_ARG, KM_ERR_RANGE);
	FUZZ_CHECK(rlen <= s.w_length && rlen <= cap);
	if (rc != KM_OK)
		FUZZ_CHECK(rlen == 0);
	if (rc == KM_OK && s.b_request == KM_PROTO_REQ_GET_INFO && rlen == KM_PROTO_INFO_LEN) {
		struct km_proto_info info;
		FUZZ_CHECK(km_proto_info_decode(reply, rlen, &info) == KM_OK);
		FUZZ_CHECK(info.rows == b->rows && info.cols == b->cols &&
		           info.adc_bits == b->adc_bits &&
		           info.max_transfer == b->fw->cfg.max_transfer);
		FUZZ_CHECK(info.encodings & (1u << b->fw->cfg.encoding));
	}
	if (rc == KM_OK && s.b_request == KM_PROTO_REQ_GET_STATUS && rlen == KM_PROTO_STATUS_LEN) {
		struct km_proto_status st;
		FUZZ_CHECK(km_proto_status_decode(reply, rlen, &st) == KM_OK);
		FUZZ_CHECK(st.rate_hz >= 1 && st.rate_hz <= b->fw->cfg.max_rate_hz);
	}
	/* The driver resets its reassembler after each START it sends. */
	if (rc == KM_OK && s.b_request == KM_PROTO_REQ_START)
		km_proto_reasm_reset(b->host);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader rd = {data, size};
	struct km_fw_settings s = km_fw_settings_default();
	uint8_t shape = fuzz_u8(&rd);
	s.rows = (uint16_t)(1u + (shape & 0x0Fu));
	s.cols = (uint16_t)(1u + (shape >> 4));
	if (fuzz_u8(&rd) & 1u) { /* the full grid now and then */
		s.rows = (uint16_t)(s.rows * 4u);
		s.cols = (uint16_t)(s.cols * 4u);
	}
	s.adc_bits = (uint8_t)(1u + fuzz_u8(&rd) % 16u);
	s.oversample = (uint8_t)(1u + fuzz_u8(&rd) % 3u);
	s.encoding = (uint8_t)(fuzz_u8(&rd) % KM_PROTO_ENC_COUNT);
	s.key_interval = (uint16_t)(1u + fuzz_u8(&rd) % 8u);
	s.max_rate_hz = (uint16_t)(1u + fuzz_u8(&rd) % KM_FW_MAX_RATE_HZ);
	s.rate_hz = (uint16_t)(1u + fuzz_u8(&rd) % s.max_rate_hz);
	uint16_t mt = fuzz_u16(&rd);
	s.max_transfer =
	    mt >= 0x8000u ? KM_FW_MAX_TRANSFER : KM_PROTO_MIN_TRANSFER + (uint32_t)(mt % 2000u);
	s.geometry = (uint8_t)(fuzz_u8(&rd) & 1u);
	s.serial = "KM-FUZZ-0001";

	struct board b;
	memset(&b, 0, sizeof b);
	b.fw = &fw;
	b.rows = s.rows;
	b.cols = s.cols;
	b.adc_bits = s.adc_bits;
	b.rng = 0x12345678u;
	b.now_us = 1000;
	struct km_fw_board board = {&b,         b_select_row, b_read_columns,
	                            b_delay_us, b_time_us,    b_bulk_write};
	int rc = km_fw_init(&fw, &board, &s);
	FUZZ_CHECK_RC(rc, KM_ERR_INVALID_ARG, KM_ERR_RANGE, KM_ERR_SHAPE);
	if (rc != KM_OK) {
		/* RAW12 cannot carry more than 12 bits; small packets may not fit. */
		FUZZ_CHECK((s.encoding == KM_PROTO_ENC_RAW12 && s.adc_bits > 12) ||
		           rc == KM_ERR_RANGE);
		return 0;
	}
	struct km_proto_reasm_config hc = km_proto_reasm_config_default();
	hc.max_rows = KM_FW_MAX_ROWS;
	hc.max_cols = KM_FW_MAX_COLS;
	FUZZ_CHECK(km_proto_reasm_create(&hc, &b.host) == KM_OK);

	unsigned ops = 0;
	while (rd.left > 0 && ops++ < 2000) {
		uint8_t op = fuzz_u8(&rd);
		switch (op & 3u) {
		case 0:
			control(&b, &rd);
			break;
		case 1:
			b.now_us += (uint64_t)fuzz_u16(&rd) * 10u;
			FUZZ_CHECK(km_fw_poll(&fw) == KM_OK);
			break;
		case 2:
			b.busy = op >> 2;
			break;
		default:
			b.pattern = (uint8_t)(op >> 2);
			b.rng ^= (uint32_t)op * 0x9E3779B9u;
			break;
		}
	}
	/* Let the last frame out. */
	b.busy = 0;
	FUZZ_CHECK(km_fw_poll(&fw) == KM_OK);
	if (getenv("KM_FUZZ_VERBOSE"))
		fprintf(stderr, "%ux%u enc %u: %llu frames reassembled\n", s.rows, s.cols,
		        s.encoding, (unsigned long long)b.frames);
	km_proto_reasm_destroy(b.host);
	return 0;
}
