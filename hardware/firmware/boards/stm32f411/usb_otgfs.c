/*
 * OTG_FS device driver (usb_otgfs.h). Sequences follow RM0383 22.17:
 * core initialisation (22.17.1), device initialisation (22.17.3), USB reset
 * and enumeration done (22.17.5), the RX FIFO read (22.17.6, "Packet read"),
 * control transfers (22.17.6, "Control transfers") and IN data transfers with
 * the TX-FIFO-empty interrupt (22.17.6, "IN data transfers").
 *
 * Every register access goes through reg_rd / reg_wr (regs.h), so
 * tests/hardware/qemu/test_usb_otgfs.c runs this file on the host against a
 * model of the peripheral.
 */
#include "usb_otgfs.h"

#include <string.h>

#include "board.h"
#include "regs.h"
#include "usb_ctrl.h"

/* FIFO RAM (320 words): RX 64 words (>= 10 + 64/4 + 1 + 2 + 1 = 30, RM0383
 * 22.11.1), EP0 TX 32 words, EP1 TX 224 words (14 bulk packets in flight). */
#define RX_WORDS 64u
#define TX0_WORDS 32u
#define TX1_WORDS (OTG_FIFO_WORDS - RX_WORDS - TX0_WORDS)
#define EP0_MPS KM_USB_EP0_MAX_PACKET
#define EP1_MPS KM_USB_BULK_MAX_PACKET
#define EP1 (KM_USB_EP_IN & 0x7Fu)
#define DIEPINT_INEPNE (1u << 6)

enum ep0_state { EP0_IDLE, EP0_DATA_IN, EP0_STATUS_IN, EP0_DEFERRED };

static struct usb_ctrl ctrl;
static uint8_t setup_pkt[8];
static volatile uint32_t setup_seq; /* bumped per SETUP: a deferred answer checks it */

static volatile enum ep0_state ep0;
static const uint8_t *ep0_data;
static uint16_t ep0_left;
static bool ep0_zlp;

static uint8_t ep1_buf[USB_BULK_MAX];
static volatile uint32_t ep1_len, ep1_pos;
static volatile bool ep1_busy, ep1_zlp;
static volatile bool stop_event;

/* ------------------------------------------------------------------------ */
/* FIFO access: 32-bit words, little-endian                                  */
/* ------------------------------------------------------------------------ */

static void fifo_write(uint32_t ep, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 4) {
		uint32_t w = 0;
		for (uint32_t k = 0; k < 4 && i + k < n; k++)
			w |= (uint32_t)p[i + k] << (8u * k);
		reg_wr(OTG_FIFO(ep), w);
	}
}

static void fifo_read(uint8_t *dst, uint32_t n, uint32_t cap)
{
	for (uint32_t i = 0; i < n; i += 4) {
		uint32_t w = reg_rd(OTG_FIFO(0));
		for (uint32_t k = 0; k < 4 && i + k < n; k++)
			if (dst && i + k < cap)
				dst[i + k] = (uint8_t)(w >> (8u * k));
	}
}

/* Bounded waits: a missing bit never hangs the interrupt. */
static bool wait_clear(uint32_t reg, uint32_t bits)
{
	for (uint32_t i = 0; i < 100000u; i++)
		if (!(reg_rd(reg) & bits))
			return true;
	return false;
}

static bool wait_set(uint32_t reg, uint32_t bits)
{
	for (uint32_t i = 0; i < 100000u; i++)
		if (reg_rd(reg) & bits)
			return true;
	return false;
}

static void flush_tx(uint32_t fifo_num)
{
	reg_wr(OTG_GRSTCTL, OTG_GRSTCTL_TXFFLSH | (fifo_num << 6));
	wait_clear(OTG_GRSTCTL, OTG_GRSTCTL_TXFFLSH);
}

/* Stops an IN endpoint's transfer and empties its FIFO (RM0383 22.17.6,
 * "IN endpoint disable"). */
static void in_ep_disable(uint32_t ep)
{
	if (reg_rd(OTG_DIEPCTL(ep)) & OTG_EPCTL_EPENA) {
		reg_set(OTG_DIEPCTL(ep), OTG_EPCTL_SNAK);
		wait_set(OTG_DIEPINT(ep), DIEPINT_INEPNE);
		reg_set(OTG_DIEPCTL(ep), OTG_EPCTL_EPDIS);
		wait_set(OTG_DIEPINT(ep), OTG_EPINT_EPDISD);
		reg_wr(OTG_DIEPINT(ep), 0xFFu);
	}
	flush_tx(ep);
}

/* ------------------------------------------------------------------------ */
/* Endpoint 0                                                                */
/* ------------------------------------------------------------------------ */

/* Accept the next SETUPs (up to 3 back to back) and one OUT packet (status). */
static void ep0_out_arm(void)
{
	reg_wr(OTG_DOEPTSIZ(0),
	       OTG_DOEPTSIZ_STUPCNT3 | OTG_EPTSIZ_PKTCNT(1) | OTG_EPTSIZ_XFRSIZ(EP0_MPS));
	reg_set(OTG_DOEPCTL(0), OTG_EPCTL_EPENA | OTG_EPCTL_CNAK);
}

static void ep0_in_packet(const uint8_t *p, uint32_t n)
{
	reg_wr(OTG_DIEPTSIZ(0), OTG_EPTSIZ_PKTCNT(1) | OTG_EPTSIZ_XFRSIZ(n));
	reg_set(OTG_DIEPCTL(0), OTG_EPCTL_EPENA | OTG_EPCTL_CNAK);
	if (n)
		fifo_write(0, p, n); /* one packet always fits the 128-byte EP0 FIFO */
}

static void ep0_stall(void)
{
	reg_set(OTG_DIEPCTL(0), OTG_EPCTL_STALL);
	reg_set(OTG_DOEPCTL(0), OTG_EPCTL_STALL); /* cleared by hardware at the next SETUP */
	ep0 = EP0_IDLE;
}

/* Sends the next data packet of the IN stage, or the final ZLP. */
static void ep0_next(void)
{
	uint32_t n = ep0_left < EP0_MPS ? ep0_left : EP0_MPS;
	if (n == 0)
		ep0_zlp = false;
	ep0_in_packet(ep0_data, n);
	ep0_data += n;
	ep0_left = (uint16_t)(ep0_left - n);
}

static void ep1_abort(void);

static void apply_events(uint32_t ev)
{
	if (ev & USB_EV_ADDRESS) /* the core applies it after the status stage */
		reg_wr(OTG_DCFG,
		       (reg_rd(OTG_DCFG) & ~OTG_DCFG_DAD_MASK) | OTG_DCFG_DAD(ctrl.address));
	if (ev & (USB_EV_DECONFIGURE | USB_EV_CONFIGURE | USB_EV_HALT)) {
		ep1_abort();
		if (!(ev & USB_EV_CONFIGURE))
			stop_event = true;
	}
	if (ev & USB_EV_DECONFIGURE) {
		reg_clr(OTG_DIEPCTL(EP1), OTG_EPCTL_USBAEP);
		reg_clr(OTG_DAINTMSK, OTG_DAINT_IN(EP1));
	}
	if (ev & USB_EV_CONFIGURE) {
		reg_wr(OTG_DIEPCTL(EP1), OTG_EPCTL_USBAEP | OTG_EPCTL_EPTYP_BULK |
		                             OTG_EPCTL_TXFNUM(EP1) | OTG_EPCTL_MPSIZ(EP1_MPS) |
		                             OTG_EPCTL_SD0PID | OTG_EPCTL_SNAK);
		reg_set(OTG_DAINTMSK, OTG_DAINT_IN(EP1));
	}
	if (ev & USB_EV_HALT)
		reg_set(OTG_DIEPCTL(EP1), OTG_EPCTL_STALL);
	if (ev & USB_EV_UNHALT)
		reg_wr(OTG_DIEPCTL(EP1),
		       (reg_rd(OTG_DIEPCTL(EP1)) & ~OTG_EPCTL_STALL) | OTG_EPCTL_SD0PID);
}

static void ep0_do(const struct usb_ctrl_result *r)
{
	apply_events(r->events);
	switch (r->action) {
	case USB_CTRL_DATA_IN:
		ep0_data = r->data;
		ep0_left = r->len;
		ep0_zlp = r->zlp;
		ep0 = EP0_DATA_IN;
		ep0_next();
		break;
	case USB_CTRL_STATUS_IN:
		ep0 = EP0_STATUS_IN;
		ep0_in_packet(NULL, 0);
		break;
	case USB_CTRL_DEFER:
		ep0 = EP0_DEFERRED; /* EP0 IN stays disabled: the host sees NAK */
		break;
	default:
		ep0_stall();
		break;
	}
}

static void on_setup(void)
{
	struct usb_ctrl_result r;
	setup_seq++;
	/* A new SETUP ends any control transfer the host gave up on: drop an
	 * IN packet still waiting in EP0's FIFO. */
	in_ep_disable(0);
	usb_ctrl_setup(&ctrl, setup_pkt, &r);
	ep0_do(&r);
	ep0_out_arm();
}

/* ------------------------------------------------------------------------ */
/* Endpoint 1: bulk IN                                                       */
/* ------------------------------------------------------------------------ */

/* Writes whole packets while the FIFO has room; masks TXFE when all is in. */
static void ep1_fill(void)
{
	while (ep1_pos < ep1_len) {
		uint32_t n = ep1_len - ep1_pos;
		if (n > EP1_MPS)
			n = EP1_MPS;
		if ((reg_rd(OTG_DTXFSTS(EP1)) & 0xFFFFu) < (n + 3u) / 4u)
			break;
		fifo_write(EP1, ep1_buf + ep1_pos, n);
		ep1_pos += n;
	}
	if (ep1_pos >= ep1_len)
		reg_clr(OTG_DIEPEMPMSK, 1u << EP1);
}

static void ep1_start(uint32_t len)
{
	uint32_t pkts = len == 0 ? 1u : (len + EP1_MPS - 1u) / EP1_MPS;
	ep1_len = len;
	ep1_pos = 0;
	reg_wr(OTG_DIEPTSIZ(EP1), OTG_EPTSIZ_PKTCNT(pkts) | OTG_EPTSIZ_XFRSIZ(len));
	reg_set(OTG_DIEPCTL(EP1), OTG_EPCTL_EPENA | OTG_EPCTL_CNAK);
	if (len) {
		reg_set(OTG_DIEPEMPMSK, 1u << EP1);
		ep1_fill();
	}
}

static void ep1_abort(void)
{
	in_ep_disable(EP1);
	reg_clr(OTG_DIEPEMPMSK, 1u << EP1);
	ep1_busy = false;
	ep1_zlp = false;
	ep1_len = ep1_pos = 0;
}

/* ------------------------------------------------------------------------ */
/* Interrupt                                                                 */
/* ------------------------------------------------------------------------ */

static void on_bus_reset(void)
{
	for (uint32_t ep = 0; ep < 4u; ep++) {
		reg_set(OTG_DOEPCTL(ep), OTG_EPCTL_SNAK);
		reg_wr(OTG_DIEPINT(ep), 0xFFu);
		reg_wr(OTG_DOEPINT(ep), 0xFFu);
	}
	if (ctrl.configuration)
		stop_event = true;
	ep1_abort();
	reg_clr(OTG_DIEPCTL(EP1), OTG_EPCTL_USBAEP);
	flush_tx(0x10u);
	reg_wr(OTG_DAINT, 0xFFFFFFFFu);
	reg_wr(OTG_DAINTMSK, OTG_DAINT_IN(0) | OTG_DAINT_OUT(0));
	reg_wr(OTG_DOEPMSK, OTG_EPINT_XFRC | OTG_DOEPINT_STUP);
	reg_wr(OTG_DIEPMSK, OTG_EPINT_XFRC | OTG_DIEPINT_TOC);
	reg_clr(OTG_DCFG, OTG_DCFG_DAD_MASK);
	usb_ctrl_reset(&ctrl);
	ep0 = EP0_IDLE;
	ep0_out_arm();
}

static void on_rx(void)
{
	uint32_t st = reg_rd(OTG_GRXSTSP);
	uint32_t n = OTG_GRXSTS_BCNT(st);
	switch (OTG_GRXSTS_PKTSTS(st)) {
	case OTG_PKTSTS_SETUP_DATA:
		fifo_read(setup_pkt, n, sizeof setup_pkt);
		break;
	case OTG_PKTSTS_OUT_DATA:
		fifo_read(NULL, n, 0); /* EP0 status stage (no OUT data is used) */
		break;
	default: /* SETUP/OUT complete, global NAK: no data in the FIFO */
		break;
	}
}

static void on_in_ep(void)
{
	uint32_t daint = reg_rd(OTG_DAINT) & reg_rd(OTG_DAINTMSK);
	if (daint & OTG_DAINT_IN(0)) {
		uint32_t f = reg_rd(OTG_DIEPINT(0));
		reg_wr(OTG_DIEPINT(0), f & ~OTG_DIEPINT_TXFE); /* TXFE is read-only */
		if (f & OTG_EPINT_XFRC) {
			if (ep0 == EP0_DATA_IN && (ep0_left || ep0_zlp))
				ep0_next();
			else if (ep0 == EP0_DATA_IN || ep0 == EP0_STATUS_IN)
				ep0 = EP0_IDLE; /* (data IN ends with the host's OUT status) */
		}
	}
	if (daint & OTG_DAINT_IN(EP1)) {
		uint32_t f = reg_rd(OTG_DIEPINT(EP1));
		reg_wr(OTG_DIEPINT(EP1), f & ~OTG_DIEPINT_TXFE);
		if ((f & OTG_DIEPINT_TXFE) && (reg_rd(OTG_DIEPEMPMSK) & (1u << EP1)))
			ep1_fill();
		if (f & OTG_EPINT_XFRC) {
			if (ep1_zlp) {
				ep1_zlp = false; /* a multiple of 64: end with a ZLP */
				ep1_start(0);
			} else {
				ep1_busy = false;
			}
		}
	}
}

static void on_out_ep(void)
{
	uint32_t daint = reg_rd(OTG_DAINT) & reg_rd(OTG_DAINTMSK);
	if (!(daint & OTG_DAINT_OUT(0)))
		return;
	uint32_t f = reg_rd(OTG_DOEPINT(0));
	reg_wr(OTG_DOEPINT(0), f);
	if (f & OTG_DOEPINT_STUP)
		on_setup();
	else if (f & OTG_EPINT_XFRC)
		ep0_out_arm(); /* status OUT received: ready for the next */
}

void OTG_FS_IRQHandler(void)
{
	uint32_t st = reg_rd(OTG_GINTSTS) & reg_rd(OTG_GINTMSK);
	if (st & OTG_GINT_USBRST) {
		reg_wr(OTG_GINTSTS, OTG_GINT_USBRST);
		on_bus_reset();
	}
	if (st & OTG_GINT_ENUMDNE) {
		reg_wr(OTG_GINTSTS, OTG_GINT_ENUMDNE);
		/* Full speed: EP0 max packet 64 (MPSIZ code 0), clear global IN NAK. */
		reg_clr(OTG_DIEPCTL(0), 3u);
		reg_set(OTG_DCTL, OTG_DCTL_CGINAK);
	}
	while (reg_rd(OTG_GINTSTS) & OTG_GINT_RXFLVL)
		on_rx();
	if (st & OTG_GINT_OEPINT)
		on_out_ep();
	if (st & OTG_GINT_IEPINT)
		on_in_ep();
	if (st & (OTG_GINT_USBSUSP | OTG_GINT_WKUPINT))
		reg_wr(OTG_GINTSTS, st & (OTG_GINT_USBSUSP | OTG_GINT_WKUPINT));
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */
/* ------------------------------------------------------------------------ */

void usb_init(const struct km_proto_usb_identity *id)
{
	usb_ctrl_init(&ctrl, id);
	ep0 = EP0_IDLE;
	ep1_busy = ep1_zlp = stop_event = false;
	reg_set(RCC_AHB1ENR, RCC_AHB1ENR_GPIOA);
	reg_set(RCC_AHB2ENR, RCC_AHB2ENR_OTGFS);
	(void)reg_rd(RCC_AHB2ENR);
	/* PA11 = D-, PA12 = D+: alternate function 10, very high speed. */
	for (uint32_t pin = 11; pin <= 12; pin++) {
		reg_wr(GPIO_MODER(GPIOA_BASE),
		       (reg_rd(GPIO_MODER(GPIOA_BASE)) & ~(3u << (2u * pin))) |
		           (GPIO_MODE_AF << (2u * pin)));
		reg_set(GPIO_OSPEEDR(GPIOA_BASE), GPIO_SPEED_VERY_HIGH << (2u * pin));
		reg_wr(GPIO_AFRH(GPIOA_BASE),
		       (reg_rd(GPIO_AFRH(GPIOA_BASE)) & ~(0xFu << (4u * (pin - 8u)))) |
		           (GPIO_AF_OTG_FS << (4u * (pin - 8u))));
	}

	/* Core reset once the AHB master is idle. */
	reg_set(OTG_GUSBCFG, OTG_GUSBCFG_PHYSEL);
	wait_set(OTG_GRSTCTL, OTG_GRSTCTL_AHBIDL);
	reg_set(OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
	wait_clear(OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
	wait_set(OTG_GRSTCTL, OTG_GRSTCTL_AHBIDL);

	/* Device mode; turnaround 6 PHY clocks for HCLK >= 32 MHz (table 144). */
	reg_wr(OTG_GUSBCFG, (reg_rd(OTG_GUSBCFG) & ~(0xFu << 10) & ~(1u << 29)) |
	                        OTG_GUSBCFG_FDMOD | OTG_GUSBCFG_TRDT(6) | OTG_GUSBCFG_PHYSEL);
	board_delay_us(25000);            /* forced mode takes effect after 25 ms */
	reg_set(OTG_DCTL, OTG_DCTL_SDIS); /* no D+ pull-up until everything is set up */
	/* Transceiver on; the Black Pill does not route VBUS to PA9. */
	reg_wr(OTG_GCCFG, OTG_GCCFG_PWRDWN | OTG_GCCFG_NOVBUSSENS);
	reg_wr(OTG_PCGCCTL, 0);
	reg_wr(OTG_DCFG, OTG_DCFG_DSPD_FS);

	reg_wr(OTG_GRXFSIZ, RX_WORDS);
	reg_wr(OTG_DIEPTXF0, (TX0_WORDS << 16) | RX_WORDS);
	reg_wr(OTG_DIEPTXF(1), (TX1_WORDS << 16) | (RX_WORDS + TX0_WORDS));
	flush_tx(0x10u);
	reg_wr(OTG_GRSTCTL, OTG_GRSTCTL_RXFFLSH);
	wait_clear(OTG_GRSTCTL, OTG_GRSTCTL_RXFFLSH);

	reg_wr(OTG_DIEPMSK, 0);
	reg_wr(OTG_DOEPMSK, 0);
	reg_wr(OTG_DAINTMSK, 0);
	reg_wr(OTG_DIEPEMPMSK, 0);
	for (uint32_t ep = 0; ep < 4u; ep++) {
		reg_wr(OTG_DIEPINT(ep), 0xFFu);
		reg_wr(OTG_DOEPINT(ep), 0xFFu);
	}
	reg_wr(OTG_GINTSTS, 0xFFFFFFFFu);
	reg_wr(OTG_GINTMSK, OTG_GINT_USBRST | OTG_GINT_ENUMDNE | OTG_GINT_RXFLVL | OTG_GINT_IEPINT |
	                        OTG_GINT_OEPINT | OTG_GINT_USBSUSP | OTG_GINT_WKUPINT);
	reg_wr(OTG_GAHBCFG, OTG_GAHBCFG_GINTMSK); /* TXFE at half empty */
	irq_enable(IRQ_OTG_FS);
	reg_clr(OTG_DCTL, OTG_DCTL_SDIS); /* D+ pull-up: the host sees us */
}

bool usb_configured(void)
{
	return ctrl.configuration != 0;
}

bool usb_task(usb_vendor_fn fn, void *user)
{
	irq_disable(IRQ_OTG_FS);
	bool stop = stop_event;
	stop_event = false;
	bool pending = ep0 == EP0_DEFERRED && ctrl.deferred;
	struct km_proto_setup s = ctrl.pending;
	uint32_t seq = setup_seq;
	irq_enable(IRQ_OTG_FS);
	if (!pending || !fn)
		return stop;

	/* Outside the interrupt: the core's handler may take a while. */
	uint8_t reply[KM_PROTO_INFO_LEN];
	size_t n = 0;
	int rc = fn(user, &s, reply, sizeof reply, &n);

	irq_disable(IRQ_OTG_FS);
	if (seq == setup_seq && ep0 == EP0_DEFERRED) {
		struct usb_ctrl_result r;
		usb_ctrl_vendor_done(&ctrl, rc, reply, n, &r);
		ep0_do(&r);
	}
	irq_enable(IRQ_OTG_FS);
	return stop;
}

int usb_bulk_write(const uint8_t *data, size_t len)
{
	if (!data || len == 0 || len > sizeof ep1_buf)
		return KM_ERR_RANGE;
	/* Only the main loop sets ep1_busy, so the buffer is ours when it is clear. */
	if (ep1_busy)
		return KM_ERR_BUSY;
	if (!ctrl.configuration)
		return KM_ERR_NO_DEVICE;
	memcpy(ep1_buf, data, len);
	int rc = KM_OK;
	irq_disable(IRQ_OTG_FS);
	if (!ctrl.configuration) { /* reset or deconfigured meanwhile */
		rc = KM_ERR_NO_DEVICE;
	} else if (ctrl.ep_in_halted) {
		rc = KM_ERR_PIPE;
	} else {
		ep1_busy = true;
		ep1_zlp = len % EP1_MPS == 0;
		ep1_start((uint32_t)len);
	}
	irq_enable(IRQ_OTG_FS);
	return rc;
}
