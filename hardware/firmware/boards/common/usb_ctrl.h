/*
 * USB device control-endpoint logic without hardware: decides what EP0 does
 * for each SETUP packet (USB 2.0, chapter 9.4 standard requests; the vendor
 * requests of hardware/protocol are deferred to the main loop where the
 * firmware core answers them). The register-level driver (stm32f411/usb_otgfs.c)
 * only executes the result, so everything here is tested on the host and on
 * a Cortex-M3 under qemu (tests/hardware/qemu).
 *
 * Freestanding C11 (memcpy/memset only), no allocation. One struct usb_ctrl
 * per device; not thread-safe (the driver calls it from its interrupt handler
 * and from the main loop with the USB interrupt masked).
 */
#ifndef KM_USB_CTRL_H
#define KM_USB_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/protocol.h"

/* What EP0 does next. */
enum usb_ctrl_action {
	USB_CTRL_STALL = 0, /* request error: STALL the data or status stage */
	USB_CTRL_DATA_IN,   /* send data[0..len) (then the host's OUT status) */
	USB_CTRL_STATUS_IN, /* no data stage: send the zero-length status packet */
	USB_CTRL_DEFER,     /* vendor request: NAK until usb_ctrl_vendor_done() */
};

/* Side effects the driver applies to the hardware (bits). */
enum usb_ctrl_event {
	USB_EV_ADDRESS = 1u << 0,     /* set the device address to ctrl->address */
	USB_EV_CONFIGURE = 1u << 1,   /* activate the bulk IN endpoint, DATA0 */
	USB_EV_DECONFIGURE = 1u << 2, /* deactivate it (and abort a transfer) */
	USB_EV_HALT = 1u << 3,        /* STALL the bulk IN endpoint */
	USB_EV_UNHALT = 1u << 4,      /* clear its STALL, reset its toggle to DATA0 */
};

struct usb_ctrl_result {
	enum usb_ctrl_action action;
	const uint8_t *data; /* DATA_IN: points into the usb_ctrl (valid until the next call) */
	uint16_t len;        /* DATA_IN: already cut to wLength */
	bool zlp;            /* DATA_IN: end with a zero-length packet (len < wLength and
	                      * len a multiple of the EP0 packet size) */
	uint32_t events;     /* enum usb_ctrl_event bits */
};

struct usb_ctrl {
	struct km_proto_usb_identity id;
	uint8_t address;       /* 0..127 */
	uint8_t configuration; /* 0 or KM_USB_CONFIGURATION */
	bool ep_in_halted;
	bool deferred; /* a vendor request waits for usb_ctrl_vendor_done */
	struct km_proto_setup pending;
	uint8_t buf[KM_USB_STRING_DESC_MAX];
};

/* id is copied (its strings must stay valid). Starts in the default state. */
void usb_ctrl_init(struct usb_ctrl *c, const struct km_proto_usb_identity *id);
/* USB bus reset: address 0, not configured, no halt, nothing deferred. */
void usb_ctrl_reset(struct usb_ctrl *c);

/* Decides EP0's answer to the 8 SETUP bytes. A new SETUP cancels a deferred
 * vendor request (the host gave up on it). */
void usb_ctrl_setup(struct usb_ctrl *c, const uint8_t setup[8], struct usb_ctrl_result *r);

/* The main loop's answer to the deferred vendor request: rc from
 * km_fw_control, reply/n its IN data. Turns it into DATA_IN / STATUS_IN /
 * STALL (data copied into the usb_ctrl, cut to wLength). Returns false (and
 * r->action STALL) when nothing was deferred. */
bool usb_ctrl_vendor_done(struct usb_ctrl *c, int rc, const uint8_t *reply, size_t n,
                          struct usb_ctrl_result *r);

#endif /* KM_USB_CTRL_H */
