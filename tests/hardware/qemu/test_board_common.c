/* The board-independent parts of the MCU port, on the host:
 * boards/common/km_xtalk.c (crosstalk compensation) and usb_ctrl.c (EP0
 * request logic). The same code also runs on a Cortex-M3 in the qemu test. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "km_xtalk.h"
#include "usb_ctrl.h"

/* ------------------------------------------------------------------------ */
/* Crosstalk                                                                 */
/* ------------------------------------------------------------------------ */

#define R 8
#define C 4
#define FULL 4095.0

/* The scan circuit (km_xtalk.h): cell conductances g (units of 1/R_pd), the
 * count each cell reads with every other row grounded. */
static void forward(const double g[R][C], uint16_t out[R * C])
{
	for (int c = 0; c < C; c++) {
		double sum = 0;
		for (int r = 0; r < R; r++)
			sum += g[r][c];
		for (int r = 0; r < R; r++) {
			double v = g[r][c] / (1.0 + sum);
			out[r * C + c] = (uint16_t)lround(v * FULL);
		}
	}
}

/* What a cell would read alone on its column. */
static uint16_t alone(double g)
{
	return (uint16_t)lround(g / (1.0 + g) * FULL);
}

Test(xtalk, rejects_bad_config_by_doing_nothing)
{
	struct km_xtalk x;
	memset(&x, 0, sizeof x);
	uint16_t counts[R * C], copy[R * C];
	for (int i = 0; i < R * C; i++)
		counts[i] = copy[i] = (uint16_t)(100 * i);
	x.adc_bits = 12;
	x.enabled = 0;
	km_xtalk_apply(&x, counts, R, C);
	cr_assert(memcmp(counts, copy, sizeof counts) == 0);
	x.enabled = 1;
	x.adc_bits = 0;
	km_xtalk_apply(&x, counts, R, C);
	x.adc_bits = 17;
	km_xtalk_apply(&x, counts, R, C);
	km_xtalk_apply(NULL, counts, R, C);
	x.adc_bits = 12;
	km_xtalk_apply(&x, NULL, R, C);
	cr_assert(memcmp(counts, copy, sizeof counts) == 0);
}

Test(xtalk, lone_cell_and_empty_columns_unchanged)
{
	struct km_xtalk x = {.adc_bits = 12, .enabled = 1};
	double g[R][C] = {{0}};
	g[3][1] = 1.5;
	uint16_t counts[R * C];
	forward(g, counts);
	uint16_t before[R * C];
	memcpy(before, counts, sizeof counts);
	km_xtalk_apply(&x, counts, R, C);
	for (int i = 0; i < R * C; i++)
		cr_assert(abs((int)counts[i] - (int)before[i]) <= 1, "cell %d: %u -> %u", i,
		          before[i], counts[i]);
}

Test(xtalk, undoes_shadowing_from_grounded_rows)
{
	struct km_xtalk x = {.adc_bits = 12, .enabled = 1};
	double g[R][C] = {{0}};
	/* A heel and a calf on column 2, light load elsewhere. */
	g[1][2] = 0.8;
	g[5][2] = 0.6;
	g[6][2] = 0.1;
	g[0][0] = 0.3;
	uint16_t counts[R * C];
	forward(g, counts);
	int err_before = abs((int)counts[1 * C + 2] - (int)alone(0.8));
	km_xtalk_apply(&x, counts, R, C);
	int err_after = abs((int)counts[1 * C + 2] - (int)alone(0.8));
	cr_assert(err_before > 100, "the test load must shadow (%d counts)", err_before);
	/* Exact for the model: only the ADC's rounding is left. */
	cr_assert(err_after <= 3, "before %d, after %d counts", err_before, err_after);
	cr_assert(abs((int)counts[5 * C + 2] - (int)alone(0.6)) <= 3);
	cr_assert(abs((int)counts[6 * C + 2] - (int)alone(0.1)) <= 3);
	cr_assert(abs((int)counts[0 * C + 0] - (int)alone(0.3)) <= 2);
}

Test(xtalk, gain_is_bounded_on_an_overloaded_column)
{
	struct km_xtalk x = {.adc_bits = 12, .enabled = 1};
	uint16_t counts[R * C];
	memset(counts, 0, sizeof counts);
	/* Impossible for the model (column sum above full scale): a short. */
	for (int r = 0; r < R; r++)
		counts[r * C] = 1000;
	km_xtalk_apply(&x, counts, R, C);
	for (int r = 0; r < R; r++)
		cr_assert(counts[r * C] <= 4095 && counts[r * C] >= 1000);
}

Test(xtalk, saturated_cells_stay_saturated)
{
	struct km_xtalk x = {.adc_bits = 12, .enabled = 1};
	uint16_t counts[R * C];
	memset(counts, 0, sizeof counts);
	counts[0] = 4095;
	counts[C] = 3000;
	km_xtalk_apply(&x, counts, R, C);
	cr_assert_eq(counts[0], 4095);
	cr_assert(counts[C] >= 3000 && counts[C] <= 4095);
}

/* ------------------------------------------------------------------------ */
/* USB control logic                                                         */
/* ------------------------------------------------------------------------ */

static const struct km_proto_usb_identity ident = {
    KM_USB_VID, KM_USB_PID, 0x0010, "knotmap", "knotmap pressure mat", "KM-TEST"};

static struct usb_ctrl_result req(struct usb_ctrl *c, uint8_t type, uint8_t r, uint16_t value,
                                  uint16_t index, uint16_t length)
{
	struct km_proto_setup s = {type, r, value, index, length};
	uint8_t raw[8];
	struct usb_ctrl_result res;
	km_proto_setup_encode(&s, raw);
	usb_ctrl_setup(c, raw, &res);
	return res;
}

Test(usb_ctrl, reset_returns_to_default_state)
{
	struct usb_ctrl c;
	usb_ctrl_init(&c, &ident);
	req(&c, 0x00, 5, 7, 0, 0);
	req(&c, 0x00, 9, 1, 0, 0);
	req(&c, 0x02, 3, 0, KM_USB_EP_IN, 0);
	req(&c, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 64);
	cr_assert(c.address == 7 && c.configuration == 1 && c.ep_in_halted && c.deferred);
	usb_ctrl_reset(&c);
	cr_assert(c.address == 0 && c.configuration == 0 && !c.ep_in_halted && !c.deferred);
	/* Interface requests need a configuration again. */
	cr_assert_eq(req(&c, 0x81, 10, 0, 0, 1).action, USB_CTRL_STALL);
}

Test(usb_ctrl, rejects_malformed_requests)
{
	struct usb_ctrl c;
	usb_ctrl_init(&c, &ident);
	cr_assert_eq(req(&c, 0x80, 0, 0, 0, 3).action, USB_CTRL_STALL); /* GET_STATUS wLength 3 */
	cr_assert_eq(req(&c, 0x00, 5, 1, 1, 0).action, USB_CTRL_STALL); /* SET_ADDRESS wIndex */
	cr_assert_eq(req(&c, 0x80, 6, 0x0204, 0, 9).action, USB_CTRL_STALL);  /* no 2nd config */
	cr_assert_eq(req(&c, 0x80, 6, 0x0304, 0, 9).action, USB_CTRL_STALL);  /* no string 4 */
	cr_assert_eq(req(&c, 0x00, 7, 0x0100, 0, 18).action, USB_CTRL_STALL); /* SET_DESCRIPTOR */
	cr_assert_eq(req(&c, 0x00, 3, 2, 0, 0).action, USB_CTRL_STALL);       /* TEST_MODE */
	cr_assert_eq(req(&c, 0x00, 1, 1, 0, 0).action, USB_CTRL_STALL);       /* remote wakeup */
	cr_assert_eq(req(&c, 0x40, KM_PROTO_REQ_ZERO, 0, 0, 2).action, USB_CTRL_STALL);
	cr_assert_eq(req(&c, 0xA1, 1, 0, 0, 8).action, USB_CTRL_STALL); /* class */
	cr_assert_eq(c.address, 0);
}

Test(usb_ctrl, zero_length_packet_rule)
{
	struct usb_ctrl c;
	usb_ctrl_init(&c, &ident);
	struct usb_ctrl_result r = req(&c, 0x80, 6, 0x0100, 0, 64);
	cr_assert(r.action == USB_CTRL_DATA_IN && r.len == 18 && !r.zlp);
	r = req(&c, 0x80, 6, 0x0100, 0, 8);
	cr_assert(r.len == 8 && !r.zlp); /* cut to wLength: the host stops there */
	uint8_t info[64];
	memset(info, 0xA5, sizeof info);
	req(&c, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 255);
	cr_assert(usb_ctrl_vendor_done(&c, KM_OK, info, 64, &r));
	cr_assert(r.action == USB_CTRL_DATA_IN && r.len == 64 && r.zlp);
	cr_assert(memcmp(r.data, info, 64) == 0);
	req(&c, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 64);
	cr_assert(usb_ctrl_vendor_done(&c, KM_OK, info, 64, &r));
	cr_assert(r.len == 64 && !r.zlp);
}

Test(usb_ctrl, new_setup_cancels_deferred_vendor_request)
{
	struct usb_ctrl c;
	usb_ctrl_init(&c, &ident);
	cr_assert_eq(req(&c, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0, 0).action,
	             USB_CTRL_DEFER);
	cr_assert(c.deferred);
	req(&c, 0x80, 6, 0x0100, 0, 18);
	struct usb_ctrl_result r;
	cr_assert_not(usb_ctrl_vendor_done(&c, KM_OK, NULL, 0, &r));
	cr_assert_eq(r.action, USB_CTRL_STALL);
	/* A failed vendor request stalls. */
	req(&c, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 0, 0, 0);
	cr_assert(usb_ctrl_vendor_done(&c, KM_ERR_RANGE, NULL, 0, &r));
	cr_assert_eq(r.action, USB_CTRL_STALL);
}

Test(usb_ctrl, descriptors_match_the_protocol)
{
	struct usb_ctrl c;
	usb_ctrl_init(&c, &ident);
	uint8_t want[64];
	size_t n = 0;
	cr_assert_eq(km_proto_config_descriptor(want, sizeof want, &n), KM_OK);
	struct usb_ctrl_result r = req(&c, 0x80, 6, 0x0200, 0, 0xFFFF);
	cr_assert(r.action == USB_CTRL_DATA_IN && r.len == n && !r.zlp);
	cr_assert(memcmp(r.data, want, n) == 0);
	r = req(&c, 0x80, 6, 0x0302, 0x0409, 255);
	char text[64];
	cr_assert_eq(km_proto_parse_string_descriptor(r.data, r.len, text, sizeof text), KM_OK);
	cr_assert_str_eq(text, "knotmap pressure mat");
}
