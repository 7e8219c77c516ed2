/* EP0 request logic (usb_ctrl.h). Request codes: USB 2.0, table 9-4. */
#include "usb_ctrl.h"

#include <string.h>

enum {
	REQ_GET_STATUS = 0,
	REQ_CLEAR_FEATURE = 1,
	REQ_SET_FEATURE = 3,
	REQ_SET_ADDRESS = 5,
	REQ_GET_DESCRIPTOR = 6,
	REQ_SET_DESCRIPTOR = 7,
	REQ_GET_CONFIGURATION = 8,
	REQ_SET_CONFIGURATION = 9,
	REQ_GET_INTERFACE = 10,
	REQ_SET_INTERFACE = 11,
};
#define FEATURE_ENDPOINT_HALT 0
#define TYPE_MASK 0x60u
#define TYPE_STANDARD 0x00u
#define TYPE_VENDOR 0x40u
#define RECIP_MASK 0x1Fu
#define RECIP_DEVICE 0u
#define RECIP_INTERFACE 1u
#define RECIP_ENDPOINT 2u
#define DIR_IN 0x80u

void usb_ctrl_init(struct usb_ctrl *c, const struct km_proto_usb_identity *id)
{
	memset(c, 0, sizeof *c);
	c->id = *id;
}

void usb_ctrl_reset(struct usb_ctrl *c)
{
	c->address = 0;
	c->configuration = 0;
	c->ep_in_halted = false;
	c->deferred = false;
}

static void stall(struct usb_ctrl_result *r)
{
	r->action = USB_CTRL_STALL;
	r->data = NULL;
	r->len = 0;
	r->zlp = false;
}

static void status(struct usb_ctrl_result *r)
{
	r->action = USB_CTRL_STATUS_IN;
	r->data = NULL;
	r->len = 0;
	r->zlp = false;
}

/* c->buf[0..n) as the IN data stage, cut to wLength. */
static void data_in(struct usb_ctrl *c, size_t n, uint16_t w_length, struct usb_ctrl_result *r)
{
	if (n > w_length)
		n = w_length;
	r->action = USB_CTRL_DATA_IN;
	r->data = c->buf;
	r->len = (uint16_t)n;
	/* A short final packet ends the stage; a full one needs a ZLP unless
	 * the host asked for exactly this much (USB 2.0, 5.5.3). */
	r->zlp = n < w_length && n % KM_USB_EP0_MAX_PACKET == 0;
}

static bool is_our_in_ep(uint16_t w_index)
{
	return (w_index & 0xFFu) == KM_USB_EP_IN;
}

static bool is_ep0(uint16_t w_index)
{
	return (w_index & 0x7Fu) == 0;
}

static void standard(struct usb_ctrl *c, const struct km_proto_setup *s, struct usb_ctrl_result *r)
{
	uint8_t recip = s->bm_request_type & RECIP_MASK;
	bool in = (s->bm_request_type & DIR_IN) != 0;
	bool configured = c->configuration != 0;

	switch (s->b_request) {
	case REQ_GET_STATUS:
		if (!in || s->w_value != 0 || s->w_length != 2)
			break;
		c->buf[0] = c->buf[1] = 0; /* bus powered, no remote wakeup, not halted */
		if (recip == RECIP_DEVICE && s->w_index == 0) {
			data_in(c, 2, s->w_length, r);
			return;
		}
		if (recip == RECIP_INTERFACE && configured && s->w_index == KM_USB_INTERFACE) {
			data_in(c, 2, s->w_length, r);
			return;
		}
		if (recip == RECIP_ENDPOINT &&
		    (is_ep0(s->w_index) || (configured && is_our_in_ep(s->w_index)))) {
			c->buf[0] = !is_ep0(s->w_index) && c->ep_in_halted ? 1u : 0u;
			data_in(c, 2, s->w_length, r);
			return;
		}
		break;
	case REQ_CLEAR_FEATURE:
	case REQ_SET_FEATURE:
		/* Only ENDPOINT_HALT: no remote wakeup, no test modes at full speed. */
		if (in || recip != RECIP_ENDPOINT || s->w_value != FEATURE_ENDPOINT_HALT ||
		    s->w_length != 0)
			break;
		if (is_ep0(s->w_index)) {
			status(r);
			return;
		}
		if (!configured || !is_our_in_ep(s->w_index))
			break;
		c->ep_in_halted = s->b_request == REQ_SET_FEATURE;
		r->events |= c->ep_in_halted ? USB_EV_HALT : USB_EV_UNHALT;
		status(r);
		return;
	case REQ_SET_ADDRESS:
		if (in || recip != RECIP_DEVICE || s->w_value > 127 || s->w_index != 0 ||
		    s->w_length != 0)
			break;
		c->address = (uint8_t)s->w_value;
		r->events |= USB_EV_ADDRESS;
		status(r);
		return;
	case REQ_GET_DESCRIPTOR: {
		if (!in || recip != RECIP_DEVICE)
			break;
		size_t n = 0;
		if (km_proto_get_descriptor(&c->id, s->w_value, c->buf, sizeof c->buf, &n) != KM_OK)
			break; /* e.g. DEVICE_QUALIFIER: a full-speed-only device STALLs */
		data_in(c, n, s->w_length, r);
		return;
	}
	case REQ_GET_CONFIGURATION:
		if (!in || recip != RECIP_DEVICE || s->w_length != 1)
			break;
		c->buf[0] = c->configuration;
		data_in(c, 1, s->w_length, r);
		return;
	case REQ_SET_CONFIGURATION:
		if (in || recip != RECIP_DEVICE || s->w_length != 0)
			break;
		if (s->w_value == 0) {
			if (configured)
				r->events |= USB_EV_DECONFIGURE;
			c->configuration = 0;
		} else if (s->w_value == KM_USB_CONFIGURATION) {
			/* (Re)configuring resets the endpoint's halt and toggle. */
			c->configuration = KM_USB_CONFIGURATION;
			c->ep_in_halted = false;
			r->events |= USB_EV_CONFIGURE;
		} else {
			break;
		}
		status(r);
		return;
	case REQ_GET_INTERFACE:
		if (!in || recip != RECIP_INTERFACE || !configured ||
		    s->w_index != KM_USB_INTERFACE || s->w_length != 1)
			break;
		c->buf[0] = 0;
		data_in(c, 1, s->w_length, r);
		return;
	case REQ_SET_INTERFACE:
		if (in || recip != RECIP_INTERFACE || !configured ||
		    s->w_index != KM_USB_INTERFACE || s->w_value != 0 || s->w_length != 0)
			break;
		c->ep_in_halted = false;
		r->events |= USB_EV_UNHALT;
		status(r);
		return;
	default: /* SET_DESCRIPTOR, SYNCH_FRAME and unknown ones */
		break;
	}
	stall(r);
}

void usb_ctrl_setup(struct usb_ctrl *c, const uint8_t setup[8], struct usb_ctrl_result *r)
{
	struct km_proto_setup s;
	memset(r, 0, sizeof *r);
	stall(r);
	c->deferred = false;
	if (km_proto_setup_decode(setup, KM_PROTO_SETUP_LEN, &s) != KM_OK)
		return;
	switch (s.bm_request_type & TYPE_MASK) {
	case TYPE_STANDARD:
		standard(c, &s, r);
		return;
	case TYPE_VENDOR:
		/* The protocol's OUT requests carry no data stage; one with data
		 * would need an OUT transfer nobody consumes. */
		if (!(s.bm_request_type & DIR_IN) && s.w_length != 0)
			return;
		c->pending = s;
		c->deferred = true;
		r->action = USB_CTRL_DEFER;
		return;
	default: /* class requests: none */
		return;
	}
}

bool usb_ctrl_vendor_done(struct usb_ctrl *c, int rc, const uint8_t *reply, size_t n,
                          struct usb_ctrl_result *r)
{
	memset(r, 0, sizeof *r);
	stall(r);
	if (!c->deferred)
		return false;
	c->deferred = false;
	if (rc != KM_OK)
		return true;
	if (c->pending.bm_request_type & DIR_IN) {
		if (n > sizeof c->buf)
			n = sizeof c->buf;
		if (n && reply)
			memcpy(c->buf, reply, n);
		data_in(c, n, c->pending.w_length, r);
	} else {
		status(r);
	}
	return true;
}
