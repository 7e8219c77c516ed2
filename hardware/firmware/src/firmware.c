/*
 * Portable firmware core. No heap, no stdio: only the board callbacks,
 * memcpy/memset and the protocol encoder.
 */
#include "km_fw.h"

struct km_fw_settings km_fw_settings_default(void)
{
	struct km_fw_settings s;
	memset(&s, 0, sizeof s);
	s.rows = KM_FW_MAX_ROWS;
	s.cols = KM_FW_MAX_COLS;
	s.pitch_um = 10000;
	s.geometry = KM_GEOMETRY_FLAT;
	s.adc_bits = 12;
	s.oversample = 4;
	s.settle_us = 20;
	s.encoding = KM_PROTO_ENC_DELTA;
	s.key_interval = 50;
	s.rate_hz = KM_FW_DEFAULT_RATE_HZ;
	s.max_rate_hz = KM_FW_MAX_RATE_HZ;
	s.max_transfer = KM_FW_MAX_TRANSFER;
	s.calibration_id = 0;
	s.serial = "KM-0000";
	return s;
}

static size_t cells_of(const struct km_fw *fw)
{
	return (size_t)fw->cfg.rows * fw->cfg.cols;
}

int km_fw_init(struct km_fw *fw, const struct km_fw_board *board, const struct km_fw_settings *s)
{
	if (!fw || !board || !s || !board->select_row || !board->read_columns || !board->delay_us ||
	    !board->time_us || !board->bulk_write || !s->serial)
		return KM_ERR_INVALID_ARG;
	if (s->rows < 1 || s->rows > KM_FW_MAX_ROWS || s->cols < 1 || s->cols > KM_FW_MAX_COLS)
		return KM_ERR_SHAPE;
	if (s->pitch_um == 0 || s->geometry > KM_GEOMETRY_CYLINDER || s->adc_bits < 1 ||
	    s->adc_bits > 16 || s->oversample < 1 || s->oversample > KM_FW_MAX_OVERSAMPLE ||
	    s->encoding >= KM_PROTO_ENC_COUNT || s->key_interval < 1 || s->max_rate_hz < 1 ||
	    s->max_rate_hz > KM_FW_MAX_RATE_HZ || s->rate_hz < 1 || s->rate_hz > s->max_rate_hz ||
	    s->max_transfer < KM_PROTO_MIN_TRANSFER || s->max_transfer > KM_FW_MAX_TRANSFER)
		return KM_ERR_RANGE;
	if (s->encoding == KM_PROTO_ENC_RAW12 && s->adc_bits > 12)
		return KM_ERR_INVALID_ARG;
	size_t n = 0;
	while (s->serial[n] != '\0') {
		if (n == KM_PROTO_SERIAL_MAX || s->serial[n] < 0x21 || s->serial[n] > 0x7E)
			return KM_ERR_INVALID_ARG;
		n++;
	}
	/* Every packet of a frame must fit the transmit buffer. */
	size_t need = km_proto_max_packet_bytes_split(s->rows, s->cols, s->max_transfer);
	if (need == 0 || need > sizeof fw->tx)
		return KM_ERR_RANGE;

	memset(fw, 0, sizeof *fw);
	fw->board = *board;
	fw->cfg = *s;
	memcpy(fw->serial, s->serial, n);
	fw->serial[n] = '\0';
	fw->cfg.serial = fw->serial;
	fw->rate_hz = s->rate_hz;
	fw->period_us = 1000000u / s->rate_hz;
	fw->need_key = true;
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Scanning                                                                  */
/* ------------------------------------------------------------------------ */

int km_fw_scan(struct km_fw *fw, bool *saturated)
{
	const struct km_fw_board *b = &fw->board;
	uint16_t rows = fw->cfg.rows, cols = fw->cfg.cols;
	uint32_t os = fw->cfg.oversample;
	uint16_t ceiling = (uint16_t)((1u << fw->cfg.adc_bits) - 1u);
	bool sat = false;
	uint16_t sample[KM_FW_ADC_GROUP];
	uint32_t acc[KM_FW_ADC_GROUP];
	int rc = KM_OK;

	for (uint16_t r = 0; r < rows && rc == KM_OK; r++) {
		b->select_row(b->user, r);
		if (fw->cfg.settle_us)
			b->delay_us(b->user, fw->cfg.settle_us);
		for (uint16_t c0 = 0; c0 < cols && rc == KM_OK; c0 += KM_FW_ADC_GROUP) {
			uint16_t n =
			    (uint16_t)(cols - c0 < KM_FW_ADC_GROUP ? cols - c0 : KM_FW_ADC_GROUP);
			memset(acc, 0, sizeof acc);
			for (uint32_t k = 0; k < os; k++) {
				rc = b->read_columns(b->user, c0, n, sample);
				if (rc != KM_OK)
					break;
				for (uint16_t i = 0; i < n; i++)
					acc[i] +=
					    (uint32_t)(sample[i] > ceiling ? ceiling : sample[i]);
			}
			if (rc != KM_OK)
				break;
			uint16_t *dst = fw->counts + (size_t)r * cols + c0;
			for (uint16_t i = 0; i < n; i++) {
				/* Round to nearest: (sum + n/2) / n. */
				dst[i] = (uint16_t)((acc[i] + os / 2u) / os);
				if (dst[i] >= ceiling)
					sat = true;
			}
		}
	}
	b->select_row(b->user, KM_FW_NO_ROW);
	if (rc != KM_OK)
		return rc;
	if (fw->cfg.crosstalk) {
		fw->cfg.crosstalk(fw->cfg.crosstalk_user, fw->counts, rows, cols);
		/* Keep the hook's output encodable (RAW12 refuses > 4095). */
		size_t n = (size_t)rows * cols;
		for (size_t i = 0; i < n; i++)
			if (fw->counts[i] > ceiling)
				fw->counts[i] = ceiling;
	}
	if (saturated)
		*saturated = sat;
	return KM_OK;
}

const uint16_t *km_fw_counts(const struct km_fw *fw)
{
	return fw->counts;
}

/* ------------------------------------------------------------------------ */
/* Control requests                                                          */
/* ------------------------------------------------------------------------ */

void km_fw_get_info(const struct km_fw *fw, struct km_proto_info *out)
{
	memset(out, 0, sizeof *out);
	out->protocol_version = KM_PROTO_VERSION;
	out->rows = fw->cfg.rows;
	out->cols = fw->cfg.cols;
	out->pitch_um = fw->cfg.pitch_um;
	out->geometry = fw->cfg.geometry;
	out->adc_bits = fw->cfg.adc_bits;
	out->encodings = (uint8_t)((1u << KM_PROTO_ENC_RAW16) | (1u << KM_PROTO_ENC_DELTA) |
	                           (1u << KM_PROTO_ENC_DELTA_TEMPORAL));
	if (fw->cfg.adc_bits <= 12)
		out->encodings |= (uint8_t)(1u << KM_PROTO_ENC_RAW12);
	out->firmware_version = KM_FW_VERSION;
	out->calibration_id = fw->cfg.calibration_id;
	out->rate_hz = fw->rate_hz;
	out->max_rate_hz = fw->cfg.max_rate_hz;
	out->max_transfer = fw->cfg.max_transfer;
	memcpy(out->serial, fw->serial, sizeof out->serial);
}

void km_fw_get_status(const struct km_fw *fw, struct km_proto_status *out)
{
	memset(out, 0, sizeof *out);
	out->flags = (fw->running ? KM_PROTO_STATUS_RUNNING : 0u) |
	             (fw->zeroing ? KM_PROTO_STATUS_ZEROING : 0u);
	out->next_sequence = fw->sequence;
	out->overruns = fw->overruns;
	out->rate_hz = fw->rate_hz;
	out->device_time_us = fw->board.time_us(fw->board.user);
}

static int reply_block(const uint8_t *block, size_t len, uint16_t w_length, uint8_t *reply,
                       size_t cap, size_t *reply_len)
{
	size_t n = len;
	if (n > w_length)
		n = w_length;
	if (n > cap)
		n = cap;
	memcpy(reply, block, n);
	*reply_len = n;
	return KM_OK;
}

int km_fw_control(struct km_fw *fw, const struct km_proto_setup *setup, uint8_t *reply,
                  size_t reply_cap, size_t *reply_len)
{
	if (reply_len)
		*reply_len = 0;
	if (!fw || !setup)
		return KM_ERR_INVALID_ARG;
	bool in = (setup->bm_request_type & 0x80u) != 0;
	/* Vendor type, device recipient only. */
	if ((setup->bm_request_type & 0x7Fu) != (KM_PROTO_REQTYPE_OUT & 0x7Fu))
		return KM_ERR_UNSUPPORTED;
	uint8_t block[KM_PROTO_INFO_LEN];
	size_t len = 0;
	switch (setup->b_request) {
	case KM_PROTO_REQ_GET_INFO: {
		if (!in || !reply || !reply_len)
			return KM_ERR_INVALID_ARG;
		struct km_proto_info info;
		km_fw_get_info(fw, &info);
		int rc = km_proto_info_encode(&info, block, sizeof block, &len);
		if (rc != KM_OK)
			return rc;
		return reply_block(block, len, setup->w_length, reply, reply_cap, reply_len);
	}
	case KM_PROTO_REQ_GET_STATUS: {
		if (!in || !reply || !reply_len)
			return KM_ERR_INVALID_ARG;
		struct km_proto_status st;
		km_fw_get_status(fw, &st);
		int rc = km_proto_status_encode(&st, block, sizeof block, &len);
		if (rc != KM_OK)
			return rc;
		return reply_block(block, len, setup->w_length, reply, reply_cap, reply_len);
	}
	case KM_PROTO_REQ_START:
		if (in)
			return KM_ERR_INVALID_ARG;
		fw->running = true;
		fw->sequence = 0;
		fw->overruns = 0;
		fw->overrun = false;
		fw->need_key = true;
		fw->have_prev = false;
		fw->tx_len = fw->tx_pos = 0;
		fw->next_due_us = fw->board.time_us(fw->board.user);
		return KM_OK;
	case KM_PROTO_REQ_STOP:
		if (in)
			return KM_ERR_INVALID_ARG;
		/* Packets already queued are still sent by km_fw_poll. */
		fw->running = false;
		return KM_OK;
	case KM_PROTO_REQ_SET_RATE:
		if (in)
			return KM_ERR_INVALID_ARG;
		if (setup->w_value < 1 || setup->w_value > fw->cfg.max_rate_hz)
			return KM_ERR_RANGE;
		fw->rate_hz = setup->w_value;
		fw->period_us = 1000000u / setup->w_value;
		return KM_OK;
	case KM_PROTO_REQ_ZERO: {
		if (in)
			return KM_ERR_INVALID_ARG;
		uint16_t n = setup->w_value ? setup->w_value : KM_FW_ZERO_DEFAULT_FRAMES;
		if (n > KM_FW_ZERO_MAX_FRAMES)
			return KM_ERR_RANGE;
		fw->zeroing = true;
		fw->zero_target = n;
		fw->zero_done = 0;
		memset(fw->zero_acc, 0, sizeof fw->zero_acc);
		if (!fw->running)
			fw->next_due_us = fw->board.time_us(fw->board.user);
		return KM_OK;
	}
	default:
		return KM_ERR_UNSUPPORTED;
	}
}

/* ------------------------------------------------------------------------ */
/* Streaming                                                                 */
/* ------------------------------------------------------------------------ */

/* Sends queued packets until the endpoint is busy or the frame is out. */
static int flush_tx(struct km_fw *fw)
{
	while (fw->tx_pos < fw->tx_len) {
		const uint8_t *p = fw->tx + fw->tx_pos;
		size_t len = KM_PROTO_PACKET_OVERHEAD + km_get_le32(p + 36);
		int rc = fw->board.bulk_write(fw->board.user, p, len);
		if (rc == KM_ERR_BUSY)
			return KM_OK;
		if (rc != KM_OK) {
			/* The host misses the rest: the next temporal frame is a key. */
			fw->tx_pos = fw->tx_len = 0;
			fw->need_key = true;
			fw->overrun = true;
			return rc;
		}
		fw->tx_pos += len;
	}
	fw->tx_pos = fw->tx_len = 0;
	return KM_OK;
}

/* Frames that could not be sent: skip their sequence numbers. */
static void skip_frames(struct km_fw *fw, uint32_t n)
{
	if (!fw->running || n == 0)
		return;
	fw->sequence += n;
	fw->overruns += n;
	fw->overrun = true;
	fw->need_key = true;
}

static void apply_zero(struct km_fw *fw, uint8_t *flags)
{
	size_t n = cells_of(fw);
	if (fw->zeroing) {
		for (size_t i = 0; i < n; i++)
			fw->zero_acc[i] += fw->counts[i];
		if (++fw->zero_done >= fw->zero_target) {
			uint32_t z = fw->zero_target;
			for (size_t i = 0; i < n; i++)
				fw->baseline[i] = (uint16_t)((fw->zero_acc[i] + z / 2u) / z);
			fw->zeroing = false;
			fw->zeroed = true;
		} else {
			*flags |= KM_PROTO_FLAG_ZEROING;
		}
	}
	if (fw->zeroed) {
		for (size_t i = 0; i < n; i++)
			fw->counts[i] = fw->counts[i] > fw->baseline[i]
			                    ? (uint16_t)(fw->counts[i] - fw->baseline[i])
			                    : 0;
		*flags |= KM_PROTO_FLAG_ZEROED;
	}
}

static int send_frame(struct km_fw *fw, uint64_t t_us, uint8_t flags)
{
	uint8_t enc = fw->cfg.encoding;
	if (enc == KM_PROTO_ENC_DELTA_TEMPORAL &&
	    (fw->need_key || !fw->have_prev || fw->since_key + 1u >= fw->cfg.key_interval))
		enc = KM_PROTO_ENC_DELTA;
	if (fw->overrun)
		flags |= KM_PROTO_FLAG_OVERRUN;
	struct km_proto_frame_header h = {.sequence = fw->sequence,
	                                  .timestamp_us = t_us,
	                                  .rows = fw->cfg.rows,
	                                  .cols = fw->cfg.cols,
	                                  .encoding = enc,
	                                  .flags = flags};
	size_t written = 0;
	int rc = km_proto_encode_frame_split(&h, fw->counts, fw->prev, fw->cfg.max_transfer, fw->tx,
	                                  sizeof fw->tx, &written, NULL);
	if (rc != KM_OK)
		return rc; /* cannot happen with checked settings; reported anyway */
	fw->sequence++;
	fw->overrun = false;
	fw->need_key = false;
	fw->since_key = enc == KM_PROTO_ENC_DELTA_TEMPORAL ? fw->since_key + 1u : 0u;
	memcpy(fw->prev, fw->counts, cells_of(fw) * sizeof fw->prev[0]);
	fw->have_prev = true;
	fw->tx_pos = 0;
	fw->tx_len = written;
	return flush_tx(fw);
}

int km_fw_poll(struct km_fw *fw)
{
	int rc = flush_tx(fw);
	if (rc != KM_OK)
		return rc;
	if (!fw->running && !fw->zeroing)
		return KM_OK;
	uint64_t now = fw->board.time_us(fw->board.user);
	if (now < fw->next_due_us)
		return KM_OK;
	/* Late by whole periods: those frames are skipped, not bunched up. */
	uint64_t late = (now - fw->next_due_us) / fw->period_us;
	if (late > 0) {
		skip_frames(fw, (uint32_t)(late > UINT32_MAX ? UINT32_MAX : late));
		fw->next_due_us += late * fw->period_us;
	}
	fw->next_due_us += fw->period_us;
	if (fw->tx_len > 0) {
		/* Still sending the previous frame: this one is dropped. */
		skip_frames(fw, 1);
		return KM_OK;
	}
	bool sat = false;
	rc = km_fw_scan(fw, &sat);
	if (rc != KM_OK)
		return rc;
	uint8_t flags = sat ? KM_PROTO_FLAG_SATURATED : 0;
	apply_zero(fw, &flags);
	if (!fw->running)
		return KM_OK;
	return send_frame(fw, now, flags);
}
