/*
 * knotmap firmware for the STM32F411 "Black Pill": the portable core
 * (hardware/firmware) on this board's matrix and USB driver.
 *
 * The mat is chosen at build time (CMakeLists.txt, KM_MAT preset or the
 * KM_MAT_* values): rows, columns, pitch, geometry, rates. The LED blinks at
 * 1 Hz when idle, 4 Hz while streaming, and stays on when the core rejected
 * the settings (a build configuration error).
 */
#include "board.h"
#include "km_fw.h"
#include "km_xtalk.h"
#include "usb_otgfs.h"

#ifndef KM_MAT_ROWS
#define KM_MAT_ROWS 64
#endif
#ifndef KM_MAT_COLS
#define KM_MAT_COLS 64
#endif
#ifndef KM_MAT_PITCH_UM
#define KM_MAT_PITCH_UM 10000
#endif
#ifndef KM_MAT_GEOMETRY
#define KM_MAT_GEOMETRY KM_GEOMETRY_FLAT
#endif
#ifndef KM_MAT_RATE_HZ
#define KM_MAT_RATE_HZ 50
#endif
#ifndef KM_MAT_MAX_RATE_HZ
#define KM_MAT_MAX_RATE_HZ 60
#endif
#ifndef KM_MAT_OVERSAMPLE
#define KM_MAT_OVERSAMPLE 1
#endif
#ifndef KM_MAT_SETTLE_US
#define KM_MAT_SETTLE_US 20
#endif
#ifndef KM_MAT_XTALK
#define KM_MAT_XTALK 1
#endif
#ifndef KM_MAT_CALIBRATION_ID
#define KM_MAT_CALIBRATION_ID 0
#endif

#if KM_MAT_ROWS > KM_FW_MAX_ROWS || KM_MAT_COLS > KM_FW_MAX_COLS
#error "KM_MAT_ROWS/COLS exceed KM_FW_MAX_ROWS/COLS"
#endif
#if KM_MAT_COLS > 64
#error "this board reads at most 4 x 16 columns (4 x 74HC4067 on PA4..PA7)"
#endif

/* bcdDevice from the core's version: major.minor.patch -> 0xMMmp in BCD. */
#define BCD_DEVICE                                                                                 \
	((uint16_t)((((KM_FW_VERSION >> 16) & 0xFFu) << 8) |                                       \
	            (((KM_FW_VERSION >> 8) & 0xFu) << 4) | (KM_FW_VERSION & 0xFu)))

static struct km_fw fw;
static struct km_xtalk xtalk;
static char serial[32];

static void b_select_row(void *u, uint16_t row)
{
	(void)u;
	board_select_row(row);
}

static int b_read_columns(void *u, uint16_t first, uint16_t n, uint16_t *out)
{
	(void)u;
	return board_read_columns(first, n, out);
}

static void b_delay_us(void *u, uint32_t us)
{
	(void)u;
	board_delay_us(us);
}

static uint64_t b_time_us(void *u)
{
	(void)u;
	return board_time_us();
}

static int b_bulk_write(void *u, const uint8_t *data, size_t len)
{
	(void)u;
	return usb_bulk_write(data, len);
}

static int vendor_request(void *u, const struct km_proto_setup *s, uint8_t *reply, size_t cap,
                          size_t *n)
{
	(void)u;
	return km_fw_control(&fw, s, reply, cap, n);
}

static void stop_streaming(void)
{
	struct km_proto_setup stop = {KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_STOP, 0, 0, 0};
	size_t n = 0;
	(void)km_fw_control(&fw, &stop, NULL, 0, &n);
}

int main(void)
{
	board_clock_init();
	board_time_init();
	board_matrix_init(KM_MAT_ROWS, KM_MAT_COLS);
	board_serial(serial, sizeof serial);

	static const struct km_fw_board board = {NULL,       b_select_row, b_read_columns,
	                                         b_delay_us, b_time_us,    b_bulk_write};
	struct km_fw_settings s = km_fw_settings_default();
	s.rows = KM_MAT_ROWS;
	s.cols = KM_MAT_COLS;
	s.pitch_um = KM_MAT_PITCH_UM;
	s.geometry = KM_MAT_GEOMETRY;
	s.adc_bits = 12;
	s.oversample = KM_MAT_OVERSAMPLE;
	s.settle_us = KM_MAT_SETTLE_US;
	s.rate_hz = KM_MAT_RATE_HZ;
	s.max_rate_hz = KM_MAT_MAX_RATE_HZ;
	s.calibration_id = KM_MAT_CALIBRATION_ID;
	s.serial = serial;
	xtalk.adc_bits = s.adc_bits;
	xtalk.enabled = KM_MAT_XTALK;
	if (KM_MAT_XTALK) {
		s.crosstalk = km_xtalk_apply;
		s.crosstalk_user = &xtalk;
	}
	if (km_fw_init(&fw, &board, &s) != KM_OK) {
		board_led(true);
		for (;;) {
		}
	}

	const struct km_proto_device_id *dev = km_proto_find_device(KM_USB_VID, KM_USB_PID);
	static struct km_proto_usb_identity id;
	id.vid = KM_USB_VID;
	id.pid = KM_USB_PID;
	id.bcd_device = BCD_DEVICE;
	id.manufacturer = dev ? dev->manufacturer : "knotmap";
	id.product = dev ? dev->product : "knotmap pressure mat";
	id.serial = serial;
	usb_init(&id);

	for (;;) {
		if (usb_task(vendor_request, NULL))
			stop_streaming(); /* host reset, unconfigured or halted us */
		/* Errors are per frame (ADC timeout, USB gone): the core already
		 * marked the next frame as a key frame; keep going. */
		(void)km_fw_poll(&fw);
		struct km_proto_status st;
		km_fw_get_status(&fw, &st);
		uint64_t period = (st.flags & KM_PROTO_STATUS_RUNNING) ? 125000u : 500000u;
		board_led((board_time_us() / period) % 2u == 0);
	}
}
