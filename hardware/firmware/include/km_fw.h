/*
 * knotmap firmware core: scan scheduling, oversampling, crosstalk hook, zero
 * (tare), packing with the protocol encoder, rate control and the vendor
 * control requests. Portable C11: no heap, no stdio; all storage lives in
 * struct km_fw (sized by km_fw_config.h), which the port places statically.
 *
 * The port supplies a struct km_fw_board and runs a superloop:
 *   km_fw_init(&fw, &board, &settings);
 *   for (;;) { usb_task(); km_fw_poll(&fw); }
 * with the USB stack's vendor-request callback calling km_fw_control().
 * km_fw_control and km_fw_poll must not run concurrently (call both from the
 * main loop, as TinyUSB's tud_task callbacks do; ISRs only enqueue).
 */
#ifndef KM_FW_H
#define KM_FW_H

#include "km_fw_config.h"
#include "knotmap/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the core needs from the board. Every function pointer is required. */
struct km_fw_board {
	void *user;
	/* Drive one row (0..rows-1) for measurement; KM_FW_NO_ROW releases all. */
	void (*select_row)(void *user, uint16_t row);
	/* One conversion of columns first..first+n-1 of the selected row into
	 * out[0..n-1] (n <= KM_FW_ADC_GROUP), right-aligned adc_bits counts.
	 * Returns KM_OK or a negative km_error (the scan is abandoned). */
	int (*read_columns)(void *user, uint16_t first, uint16_t n, uint16_t *out);
	/* Busy-wait; used for row settling. */
	void (*delay_us)(void *user, uint32_t us);
	/* Free-running microsecond clock (wraps only after 2^64 us). */
	uint64_t (*time_us)(void *user);
	/* Queue one packet (one bulk transfer on KM_USB_EP_IN; the USB stack adds
	 * a zero-length packet when len is a multiple of 64). Returns KM_OK,
	 * KM_ERR_BUSY (endpoint still busy: retried on the next poll) or another
	 * negative km_error (the frame is abandoned). data is valid only during
	 * the call unless the board documents otherwise: copy or finish the DMA. */
	int (*bulk_write)(void *user, const uint8_t *data, size_t len);
};
#define KM_FW_NO_ROW 0xFFFFu

/* Compensates row/column crosstalk (ghosting in a resistive matrix) in place
 * on [rows x cols] averaged raw counts, before the zero is subtracted. Results
 * above 2^adc_bits - 1 are clamped to it. */
typedef void (*km_fw_crosstalk_fn)(void *user, uint16_t *counts, uint16_t rows, uint16_t cols);

struct km_fw_settings {
	uint16_t rows, cols;   /* 1..KM_FW_MAX_ROWS / KM_FW_MAX_COLS */
	uint32_t pitch_um;     /* > 0 */
	uint8_t geometry;      /* enum km_geometry */
	uint8_t adc_bits;      /* 1..16 */
	uint8_t oversample;    /* conversions averaged per cell, 1..KM_FW_MAX_OVERSAMPLE */
	uint16_t settle_us;    /* wait after selecting a row */
	uint8_t encoding;      /* enum km_proto_encoding for streamed frames */
	uint16_t key_interval; /* DELTA_TEMPORAL: a self-contained DELTA frame at
	                        * least every key_interval frames (>= 1) */
	uint16_t rate_hz;      /* initial rate, 1..max_rate_hz */
	uint16_t max_rate_hz;  /* 1..KM_FW_MAX_RATE_HZ */
	uint32_t max_transfer; /* KM_PROTO_MIN_TRANSFER..KM_FW_MAX_TRANSFER; small values
	                        * need more header room than KM_FW_TX_BYTES has for
	                        * large grids (then KM_ERR_RANGE) */
	uint32_t calibration_id;
	const char *serial;           /* printable ASCII, <= KM_PROTO_SERIAL_MAX chars */
	km_fw_crosstalk_fn crosstalk; /* NULL: none */
	void *crosstalk_user;
};

/* Defaults: the full KM_FW_MAX_ROWS x KM_FW_MAX_COLS grid, 10 mm pitch, flat,
 * 12-bit ADC, 4x oversampling, 20 us settling, DELTA, key interval 50,
 * KM_FW_DEFAULT_RATE_HZ, KM_FW_MAX_TRANSFER, serial "KM-0000". */
struct km_fw_settings km_fw_settings_default(void);

/* All firmware state. Place it statically; treat the fields as private. */
struct km_fw {
	struct km_fw_board board;
	struct km_fw_settings cfg;
	char serial[KM_PROTO_SERIAL_MAX + 1];
	bool running;
	bool zeroing;
	bool zeroed;
	bool need_key; /* next DELTA_TEMPORAL frame must be a key frame */
	bool overrun;  /* frames were dropped since the last one sent */
	bool have_prev;
	uint16_t rate_hz;
	uint32_t period_us;
	uint64_t next_due_us;
	uint32_t sequence;  /* of the next frame */
	uint32_t overruns;  /* since START */
	uint32_t since_key; /* frames since the last key frame */
	uint16_t zero_target, zero_done;
	/* Transmit queue: one frame's packets back to back. */
	size_t tx_len, tx_pos;
	uint8_t tx[KM_FW_TX_BYTES];
	uint16_t counts[KM_FW_MAX_CELLS];   /* the frame being built */
	uint16_t prev[KM_FW_MAX_CELLS];     /* the last frame sent (temporal reference) */
	uint16_t baseline[KM_FW_MAX_CELLS]; /* zero (tare) offsets */
	uint32_t zero_acc[KM_FW_MAX_CELLS];
};

/* Checks the settings and resets all state (stopped, not zeroed, sequence 0).
 * Returns KM_OK, KM_ERR_INVALID_ARG (NULL, missing board function, bad
 * serial, encoding unusable with adc_bits, e.g. RAW12 with > 12 bits),
 * KM_ERR_SHAPE (rows/cols) or KM_ERR_RANGE (other fields). The board
 * struct is copied. */
int km_fw_init(struct km_fw *fw, const struct km_fw_board *board,
               const struct km_fw_settings *settings);

/*
 * Handles one vendor control request. For IN requests writes the reply
 * (at most min(w_length, reply_cap) bytes) and sets *reply_len; OUT requests
 * carry no data stage. Returns KM_OK (ACK) or, and the USB stack must STALL:
 * KM_ERR_UNSUPPORTED (not a vendor request / unknown bRequest),
 * KM_ERR_INVALID_ARG (wrong direction or NULL), KM_ERR_RANGE (SET_RATE
 * outside 1..max_rate_hz, ZERO above KM_FW_ZERO_MAX_FRAMES).
 */
int km_fw_control(struct km_fw *fw, const struct km_proto_setup *setup, uint8_t *reply,
                  size_t reply_cap, size_t *reply_len);

/*
 * One superloop step: sends pending packets, and when a frame is due (by
 * rate) and streaming or zeroing, scans, processes and queues it. If the
 * previous frame is still being sent or polls came too late, the due frames
 * are skipped and counted as overruns (their sequence numbers are skipped
 * too; the next frame carries KM_PROTO_FLAG_OVERRUN and, in DELTA_TEMPORAL,
 * is a key frame). Returns KM_OK or a board error (read_columns,
 * bulk_write other than BUSY).
 */
int km_fw_poll(struct km_fw *fw);

/* One full scan into the frame buffer: for each row, select, settle, then
 * oversample x read_columns per column group, averaged with rounding; then
 * the crosstalk hook. *saturated (may be NULL) tells whether any averaged
 * cell reached 2^adc_bits - 1. Exposed for tests and bring-up. */
int km_fw_scan(struct km_fw *fw, bool *saturated);

/* The last scanned / processed frame, [rows x cols] row-major counts. */
const uint16_t *km_fw_counts(const struct km_fw *fw);

/* The status block fields (what GET_STATUS returns). */
void km_fw_get_status(const struct km_fw *fw, struct km_proto_status *out);
/* The info block fields (what GET_INFO returns). */
void km_fw_get_info(const struct km_fw *fw, struct km_proto_info *out);

#ifdef __cplusplus
}
#endif

#endif /* KM_FW_H */
