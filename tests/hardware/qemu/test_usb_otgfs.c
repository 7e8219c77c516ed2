/*
 * The STM32F411 OTG_FS driver (boards/stm32f411/usb_otgfs.c) on the host,
 * against a model of the peripheral: its register file, the RX FIFO with its
 * status queue, the TX FIFOs with their free-space counters, write-1-to-clear
 * interrupt flags, endpoint enable/disable/NAK/STALL, and a host that sends
 * SETUPs, IN tokens and status packets. The model follows RM0383 chapter 22
 * as understood when writing the driver, so it cannot prove the reading of
 * the manual right; it does check the driver's own logic: packet counts,
 * FIFO packing, ZLPs, the EP0 state machine, deferral of vendor requests to
 * the main loop, bulk refills from the TX-FIFO-empty interrupt, halts and
 * bus resets in the middle of a transfer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "board.h"
#include "regs.h"
#include "usb_otgfs.h"

/* ------------------------------------------------------------------------ */
/* The peripheral model                                                      */
/* ------------------------------------------------------------------------ */

#define OFF(a) (((a)-OTG_BASE) / 4u)
#define FIFO_BASE (OTG_BASE + 0x1000u)

struct rx_entry {
	uint32_t st;
	uint32_t data[16];
};

static struct {
	uint32_t otg[0x1000 / 4];
	uint32_t addr[64], val[64];
	unsigned nother;
	bool irq_on;
	bool in_nak[4];
	bool sd0pid[4];
	uint32_t txq[2][8192];
	unsigned txn[2]; /* words queued */
	struct rx_entry rxq[32];
	unsigned rx_head, rx_tail, rx_word;
	struct rx_entry cur;
} m;

static uint32_t depth(unsigned ep)
{
	return (ep == 0 ? m.otg[OFF(OTG_DIEPTXF0)] : m.otg[OFF(OTG_DIEPTXF(ep))]) >> 16;
}

static bool txfe(unsigned ep)
{
	return ep < 2 && depth(ep) - m.txn[ep] >= depth(ep) / 2;
}

static uint32_t diepint(unsigned ep)
{
	return m.otg[OFF(OTG_DIEPINT(ep))] | (txfe(ep) ? OTG_DIEPINT_TXFE : 0u);
}

static uint32_t daint(void)
{
	uint32_t d = 0;
	for (unsigned ep = 0; ep < 4; ep++) {
		bool emp = (m.otg[OFF(OTG_DIEPEMPMSK)] >> ep) & 1u;
		if ((m.otg[OFF(OTG_DIEPINT(ep))] & m.otg[OFF(OTG_DIEPMSK)]) || (emp && txfe(ep)))
			d |= OTG_DAINT_IN(ep);
		if (m.otg[OFF(OTG_DOEPINT(ep))] & m.otg[OFF(OTG_DOEPMSK)])
			d |= OTG_DAINT_OUT(ep);
	}
	return d;
}

static uint32_t gintsts(void)
{
	uint32_t s = m.otg[OFF(OTG_GINTSTS)];
	if (m.rx_head != m.rx_tail)
		s |= OTG_GINT_RXFLVL;
	uint32_t d = daint() & m.otg[OFF(OTG_DAINTMSK)];
	if (d & 0xFFFFu)
		s |= OTG_GINT_IEPINT;
	if (d >> 16)
		s |= OTG_GINT_OEPINT;
	return s;
}

uint32_t reg_rd(uint32_t a)
{
	if (a >= FIFO_BASE && a < FIFO_BASE + 4u * 0x1000u) {
		cr_assert_eq(a, FIFO_BASE, "driver reads a TX FIFO");
		cr_assert(m.rx_word < 16);
		return m.cur.data[m.rx_word++];
	}
	if (a < OTG_BASE || a >= OTG_BASE + 0x1000u) {
		for (unsigned i = 0; i < m.nother; i++)
			if (m.addr[i] == a)
				return m.val[i];
		return 0;
	}
	if (a == OTG_GRSTCTL)
		return (m.otg[OFF(a)] &
		        ~(OTG_GRSTCTL_CSRST | OTG_GRSTCTL_TXFFLSH | OTG_GRSTCTL_RXFFLSH)) |
		       OTG_GRSTCTL_AHBIDL;
	if (a == OTG_GINTSTS)
		return gintsts();
	if (a == OTG_DAINT)
		return daint();
	if (a == OTG_GRXSTSP) {
		cr_assert(m.rx_head != m.rx_tail, "GRXSTSP read with an empty RX FIFO");
		m.cur = m.rxq[m.rx_head++ % 32u];
		m.rx_word = 0;
		uint32_t pkt = OTG_GRXSTS_PKTSTS(m.cur.st);
		if (pkt == 4u) /* SETUP complete: the STUP interrupt follows */
			m.otg[OFF(OTG_DOEPINT(0))] |= OTG_DOEPINT_STUP;
		if (pkt == 3u) /* OUT transfer complete */
			m.otg[OFF(OTG_DOEPINT(0))] |= OTG_EPINT_XFRC;
		return m.cur.st;
	}
	for (unsigned ep = 0; ep < 4; ep++) {
		if (a == OTG_DIEPINT(ep))
			return diepint(ep);
		if (a == OTG_DTXFSTS(ep))
			return ep < 2 ? depth(ep) - m.txn[ep] : 0;
	}
	return m.otg[OFF(a)];
}

void reg_wr(uint32_t a, uint32_t v)
{
	if (a >= FIFO_BASE && a < FIFO_BASE + 4u * 0x1000u) {
		unsigned ep = (a - FIFO_BASE) / 0x1000u;
		cr_assert(ep < 2, "write to the FIFO of an unused endpoint");
		cr_assert(m.txn[ep] < depth(ep), "TX FIFO %u overflow", ep);
		m.txq[ep][m.txn[ep]++] = v;
		return;
	}
	if (a < OTG_BASE || a >= OTG_BASE + 0x1000u) {
		if (a == NVIC_ISER_ADDR(IRQ_OTG_FS / 32u) && (v & (1u << (IRQ_OTG_FS % 32u))))
			m.irq_on = true;
		if (a == NVIC_ICER_ADDR(IRQ_OTG_FS / 32u) && (v & (1u << (IRQ_OTG_FS % 32u))))
			m.irq_on = false;
		for (unsigned i = 0; i < m.nother; i++)
			if (m.addr[i] == a) {
				m.val[i] = v;
				return;
			}
		cr_assert(m.nother < 64);
		m.addr[m.nother] = a;
		m.val[m.nother++] = v;
		return;
	}
	if (a == OTG_GRSTCTL && (v & OTG_GRSTCTL_TXFFLSH)) {
		uint32_t n = (v >> 6) & 0x1Fu;
		for (unsigned ep = 0; ep < 2; ep++)
			if (n == 0x10u || n == ep)
				m.txn[ep] = 0;
	}
	if (a == OTG_GINTSTS) {
		m.otg[OFF(a)] &= ~v;
		return;
	}
	for (unsigned ep = 0; ep < 4; ep++) {
		if (a == OTG_DIEPINT(ep) || a == OTG_DOEPINT(ep)) {
			m.otg[OFF(a)] &= ~v;
			return;
		}
		if (a == OTG_DIEPCTL(ep) || a == OTG_DOEPCTL(ep)) {
			uint32_t old = m.otg[OFF(a)];
			bool in = a == OTG_DIEPCTL(ep);
			if (in && (v & OTG_EPCTL_SNAK)) {
				m.in_nak[ep] = true;
				m.otg[OFF(OTG_DIEPINT(ep))] |= 1u << 6; /* INEPNE */
			}
			if (in && (v & OTG_EPCTL_CNAK))
				m.in_nak[ep] = false;
			if (in && (v & OTG_EPCTL_SD0PID))
				m.sd0pid[ep] = true;
			uint32_t keep = v & ~(OTG_EPCTL_SNAK | OTG_EPCTL_CNAK | OTG_EPCTL_SD0PID |
			                      OTG_EPCTL_EPDIS);
			if ((v & OTG_EPCTL_EPDIS) && (old & OTG_EPCTL_EPENA)) {
				keep &= ~OTG_EPCTL_EPENA;
				if (in)
					m.otg[OFF(OTG_DIEPINT(ep))] |= OTG_EPINT_EPDISD;
			}
			m.otg[OFF(a)] = keep;
			return;
		}
	}
	m.otg[OFF(a)] = v;
}

void board_delay_us(uint32_t us)
{
	(void)us;
}

/* Level-triggered interrupt: runs while anything unmasked is pending. */
static void run_irq(void)
{
	for (int i = 0; i < 1000 && m.irq_on && (gintsts() & m.otg[OFF(OTG_GINTMSK)]); i++)
		OTG_FS_IRQHandler();
}

/* ------------------------------------------------------------------------ */
/* The host                                                                  */
/* ------------------------------------------------------------------------ */

#define NAK (-1)
#define STALLED (-2)

static void rx_push(uint32_t pktsts, const uint8_t *data, uint32_t n)
{
	struct rx_entry e;
	memset(&e, 0, sizeof e);
	e.st = (pktsts << 17) | (n << 4);
	if (n)
		memcpy(e.data, data, n);
	m.rxq[m.rx_tail++ % 32u] = e;
}

static void host_reset(void)
{
	m.otg[OFF(OTG_GINTSTS)] |= OTG_GINT_USBRST | OTG_GINT_ENUMDNE;
	run_irq();
}

static void host_setup(const struct km_proto_setup *s)
{
	uint8_t raw[8];
	km_proto_setup_encode(s, raw);
	/* A SETUP is always accepted and clears EP0's STALL (RM0383 22.17.6). */
	m.otg[OFF(OTG_DIEPCTL(0))] &= ~OTG_EPCTL_STALL;
	m.otg[OFF(OTG_DOEPCTL(0))] &= ~OTG_EPCTL_STALL;
	rx_push(6, raw, 8);
	rx_push(4, NULL, 0);
	run_irq();
}

/* One IN token: the packet's length, NAK or STALLED. */
static int host_in(unsigned ep, uint8_t *buf)
{
	uint32_t ctl = m.otg[OFF(OTG_DIEPCTL(ep))];
	if (ctl & OTG_EPCTL_STALL)
		return STALLED;
	if (!(ctl & OTG_EPCTL_EPENA) || m.in_nak[ep])
		return NAK;
	uint32_t tsiz = m.otg[OFF(OTG_DIEPTSIZ(ep))];
	uint32_t xfr = tsiz & (ep == 0 ? 0x7Fu : 0x7FFFFu);
	uint32_t pkts = (tsiz >> 19) & (ep == 0 ? 3u : 0x3FFu);
	cr_assert(pkts > 0, "endpoint enabled with PKTCNT 0");
	uint32_t n = xfr < 64 ? xfr : 64;
	uint32_t words = (n + 3) / 4;
	if (m.txn[ep] < words)
		return NAK; /* data not in the FIFO yet */
	uint8_t tmp[64 + 4];
	for (uint32_t i = 0; i < words; i++)
		memcpy(tmp + 4 * i, &m.txq[ep][i], 4);
	memmove(m.txq[ep], m.txq[ep] + words, (m.txn[ep] - words) * 4);
	m.txn[ep] -= words;
	memcpy(buf, tmp, n);
	xfr -= n;
	pkts--;
	m.otg[OFF(OTG_DIEPTSIZ(ep))] = (pkts << 19) | xfr;
	if (pkts == 0) {
		m.otg[OFF(OTG_DIEPCTL(ep))] &= ~OTG_EPCTL_EPENA;
		m.otg[OFF(OTG_DIEPINT(ep))] |= OTG_EPINT_XFRC;
	}
	run_irq();
	return (int)n;
}

/* The zero-length OUT of a control read's status stage. */
static int host_out_status(void)
{
	uint32_t ctl = m.otg[OFF(OTG_DOEPCTL(0))];
	if (ctl & OTG_EPCTL_STALL)
		return STALLED;
	if (!(ctl & OTG_EPCTL_EPENA))
		return NAK;
	m.otg[OFF(OTG_DOEPCTL(0))] &= ~OTG_EPCTL_EPENA;
	rx_push(2, NULL, 0);
	rx_push(3, NULL, 0);
	run_irq();
	return 0;
}

/* A control read: SETUP, IN packets until a short one or wLength, status.
 * Returns the bytes received or STALLED; sizes[] gets each packet's size. */
static int control_in(uint8_t type, uint8_t req, uint16_t value, uint16_t index, uint16_t len,
                      uint8_t *out, int *sizes, int *npkts)
{
	struct km_proto_setup s = {type, req, value, index, len};
	host_setup(&s);
	int total = 0, k = 0;
	for (;;) {
		int n = host_in(0, out + total);
		if (n == STALLED)
			return STALLED;
		cr_assert_neq(n, NAK, "EP0 NAKs its data stage");
		if (sizes)
			sizes[k] = n;
		k++;
		total += n;
		if (n < 64 || total == len)
			break;
	}
	if (npkts)
		*npkts = k;
	cr_assert_eq(host_out_status(), 0, "status OUT refused");
	return total;
}

/* A control write without data: SETUP, then the IN status packet. */
static int control_out(uint8_t type, uint8_t req, uint16_t value, uint16_t index)
{
	struct km_proto_setup s = {type, req, value, index, 0};
	uint8_t buf[64];
	host_setup(&s);
	return host_in(0, buf);
}

static const char serial[] = "KM-TEST-0001";
static struct km_proto_usb_identity ident = {
    KM_USB_VID, KM_USB_PID, 0x0010, "knotmap", "knotmap pressure mat", serial};

static void bring_up(void)
{
	memset(&m, 0, sizeof m);
	usb_init(&ident);
	host_reset();
}

static void configure(void)
{
	cr_assert_eq(control_out(0x00, 5, 9, 0), 0);
	cr_assert_eq(control_out(0x00, 9, 1, 0), 0);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

Test(usb_otgfs, init_sets_up_core_and_connects)
{
	memset(&m, 0, sizeof m);
	usb_init(&ident);
	cr_assert(m.irq_on);
	cr_assert_eq(m.otg[OFF(OTG_DCTL)] & OTG_DCTL_SDIS, 0u, "pull-up must be on");
	cr_assert(m.otg[OFF(OTG_GUSBCFG)] & OTG_GUSBCFG_FDMOD);
	cr_assert_eq(m.otg[OFF(OTG_GCCFG)], OTG_GCCFG_PWRDWN | OTG_GCCFG_NOVBUSSENS);
	cr_assert_eq(m.otg[OFF(OTG_DCFG)] & 3u, 3u, "full speed");
	uint32_t rx = m.otg[OFF(OTG_GRXFSIZ)];
	uint32_t t0 = m.otg[OFF(OTG_DIEPTXF0)], t1 = m.otg[OFF(OTG_DIEPTXF(1))];
	cr_assert_eq(t0 & 0xFFFFu, rx, "EP0 TX FIFO right after RX");
	cr_assert_eq(t1 & 0xFFFFu, rx + (t0 >> 16), "EP1 TX FIFO right after EP0's");
	cr_assert_leq(rx + (t0 >> 16) + (t1 >> 16), OTG_FIFO_WORDS);
	cr_assert_geq(t0 >> 16, 16u);
	uint32_t need = OTG_GINT_USBRST | OTG_GINT_ENUMDNE | OTG_GINT_RXFLVL | OTG_GINT_IEPINT |
	                OTG_GINT_OEPINT;
	cr_assert_eq(m.otg[OFF(OTG_GINTMSK)] & need, need);
}

Test(usb_otgfs, enumerates_like_linux)
{
	bring_up();
	uint8_t buf[256], want[256];
	size_t wn = 0;
	km_proto_device_descriptor(KM_USB_VID, KM_USB_PID, 0x0010, want, sizeof want, &wn);
	cr_assert_eq(control_in(0x80, 6, 0x0100, 0, 64, buf, NULL, NULL), (int)wn);
	cr_assert(memcmp(buf, want, wn) == 0);
	cr_assert_eq(control_out(0x00, 5, 23, 0), 0);
	cr_assert_eq((m.otg[OFF(OTG_DCFG)] >> 4) & 0x7Fu, 23u, "device address");
	km_proto_config_descriptor(want, sizeof want, &wn);
	cr_assert_eq(control_in(0x80, 6, 0x0200, 0, 9, buf, NULL, NULL), 9);
	cr_assert_eq(control_in(0x80, 6, 0x0200, 0, 255, buf, NULL, NULL), (int)wn);
	cr_assert(memcmp(buf, want, wn) == 0);
	cr_assert_eq(control_in(0x80, 6, 0x0300, 0, 4, buf, NULL, NULL), 4);
	char text[64];
	int n = control_in(0x80, 6, 0x0303, 0x0409, 255, buf, NULL, NULL);
	cr_assert_eq(km_proto_parse_string_descriptor(buf, (size_t)n, text, sizeof text), KM_OK);
	cr_assert_str_eq(text, serial);
	cr_assert_eq(control_out(0x00, 9, 1, 0), 0);
	uint32_t ctl = m.otg[OFF(OTG_DIEPCTL(1))];
	cr_assert(ctl & OTG_EPCTL_USBAEP);
	cr_assert_eq(ctl & (3u << 18), OTG_EPCTL_EPTYP_BULK);
	cr_assert_eq((ctl >> 22) & 0xFu, 1u, "TX FIFO 1");
	cr_assert_eq(ctl & 0x7FFu, 64u);
	cr_assert(m.sd0pid[1], "DATA0 after SET_CONFIGURATION");
	cr_assert(usb_configured());
}

Test(usb_otgfs, multi_packet_descriptor_and_zlp)
{
	/* Product strings of 40 characters (82 bytes: 64 + 18) and of 31
	 * characters (64 bytes: one full packet, then a ZLP since wLength is
	 * larger). */
	static char p40[41], p31[32];
	memset(p40, 'a', 40);
	memset(p31, 'b', 31);
	ident.product = p40;
	bring_up();
	uint8_t buf[256];
	int sizes[8], k = 0;
	cr_assert_eq(control_in(0x80, 6, 0x0302, 0x0409, 255, buf, sizes, &k), 82);
	cr_assert(k == 2 && sizes[0] == 64 && sizes[1] == 18);
	cr_assert_eq(buf[64 + 16], 'a');
	ident.product = p31;
	bring_up();
	cr_assert_eq(control_in(0x80, 6, 0x0302, 0x0409, 255, buf, sizes, &k), 64);
	/* The helper stops at the full packet only when wLength is reached: it
	 * must have seen the ZLP as a second, empty packet. */
	cr_assert(k == 2 && sizes[0] == 64 && sizes[1] == 0, "k %d sizes %d %d", k, sizes[0],
	          sizes[1]);
	cr_assert_eq(control_in(0x80, 6, 0x0302, 0x0409, 64, buf, sizes, &k), 64);
	cr_assert(k == 1, "no ZLP when wLength is met exactly");
	ident.product = "knotmap pressure mat";
}

Test(usb_otgfs, unknown_request_stalls_and_next_setup_recovers)
{
	bring_up();
	uint8_t buf[64];
	cr_assert_eq(control_in(0x80, 6, 0x0600, 0, 10, buf, NULL, NULL), STALLED);
	cr_assert_eq(control_out(0x21, 0x0A, 0, 0), STALLED);
	cr_assert_eq(control_in(0x80, 8, 0, 0, 1, buf, NULL, NULL), 1);
	cr_assert_eq(buf[0], 0, "not configured yet");
}

static struct km_proto_setup seen;
static int vendor_calls;
static int vendor_rc;

static int fake_vendor(void *user, const struct km_proto_setup *s, uint8_t *reply, size_t cap,
                       size_t *n)
{
	(void)user;
	seen = *s;
	vendor_calls++;
	*n = 0;
	if (vendor_rc != KM_OK)
		return vendor_rc;
	if (s->bm_request_type & 0x80u) {
		for (size_t i = 0; i < 64 && i < cap; i++)
			reply[i] = (uint8_t)(i * 3u);
		*n = 64 < s->w_length ? 64 : s->w_length;
	}
	return KM_OK;
}

Test(usb_otgfs, vendor_requests_wait_for_the_main_loop)
{
	bring_up();
	configure();
	uint8_t buf[64];
	struct km_proto_setup s = {KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 64};
	host_setup(&s);
	cr_assert_eq(host_in(0, buf), NAK, "answered before the main loop ran");
	vendor_rc = KM_OK;
	cr_assert_not(usb_task(fake_vendor, NULL));
	cr_assert_eq(vendor_calls, 1);
	cr_assert(seen.b_request == KM_PROTO_REQ_GET_INFO && seen.w_length == 64);
	cr_assert_eq(host_in(0, buf), 64);
	cr_assert_eq(buf[10], 30);
	cr_assert_eq(host_out_status(), 0);
	/* OUT without data: the status IN waits too; an error STALLs. */
	cr_assert_eq(control_out(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0), NAK);
	usb_task(fake_vendor, NULL);
	cr_assert_eq(host_in(0, buf), 0);
	vendor_rc = KM_ERR_RANGE;
	cr_assert_eq(control_out(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 0, 0), NAK);
	usb_task(fake_vendor, NULL);
	cr_assert_eq(host_in(0, buf), STALLED);
	/* Nothing pending: the callback is not called. */
	int calls = vendor_calls;
	usb_task(fake_vendor, NULL);
	cr_assert_eq(vendor_calls, calls);
}

static uint8_t big[USB_BULK_MAX];

/* Reads IN packets until the transfer ends (short packet); returns bytes. */
static size_t host_read_transfer(uint8_t *out, size_t cap, int *packets)
{
	size_t total = 0;
	*packets = 0;
	for (int guard = 0; guard < 10000; guard++) {
		uint8_t pkt[64];
		int n = host_in(1, pkt);
		if (n == NAK)
			continue;
		cr_assert_neq(n, STALLED);
		cr_assert_leq(total + (size_t)n, cap);
		memcpy(out + total, pkt, (size_t)n);
		total += (size_t)n;
		(*packets)++;
		if (n < 64)
			return total;
	}
	cr_assert_fail("transfer never ended");
	return total;
}

Test(usb_otgfs, bulk_transfers_refill_the_fifo_and_end_with_zlp)
{
	bring_up();
	uint8_t data[200];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i ^ 0x5A);
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_ERR_NO_DEVICE);
	configure();
	cr_assert_eq(usb_bulk_write(data, 0), KM_ERR_RANGE);
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_OK);
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_ERR_BUSY);
	static uint8_t got[USB_BULK_MAX + 64];
	int packets = 0;
	cr_assert_eq(host_read_transfer(got, sizeof got, &packets), sizeof data);
	cr_assert_eq(packets, 4);
	cr_assert(memcmp(got, data, sizeof data) == 0);

	/* 16 KiB: 256 full packets, far more than the FIFO holds, then a ZLP. */
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7u + (i >> 8));
	cr_assert_eq(usb_bulk_write(big, sizeof big), KM_OK);
	cr_assert_eq(host_read_transfer(got, sizeof got, &packets), sizeof big);
	cr_assert_eq(packets, 257, "256 packets and the ZLP");
	cr_assert(memcmp(got, big, sizeof big) == 0);
	cr_assert_eq(usb_bulk_write(data, 64), KM_OK, "endpoint free after the ZLP");
}

Test(usb_otgfs, halt_stops_streaming_until_cleared)
{
	bring_up();
	configure();
	uint8_t data[100] = {1, 2, 3};
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_OK);
	cr_assert_eq(control_out(0x02, 3, 0, KM_USB_EP_IN), 0); /* SET_FEATURE(HALT) */
	cr_assert(m.otg[OFF(OTG_DIEPCTL(1))] & OTG_EPCTL_STALL);
	cr_assert(usb_task(NULL, NULL), "the main loop is told to stop");
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_ERR_PIPE);
	uint8_t pkt[64];
	cr_assert_eq(host_in(1, pkt), STALLED);
	m.sd0pid[1] = false;
	cr_assert_eq(control_out(0x02, 1, 0, KM_USB_EP_IN), 0); /* CLEAR_FEATURE(HALT) */
	cr_assert_eq(m.otg[OFF(OTG_DIEPCTL(1))] & OTG_EPCTL_STALL, 0u);
	cr_assert(m.sd0pid[1], "toggle reset to DATA0");
	cr_assert_eq(usb_bulk_write(data, sizeof data), KM_OK);
	static uint8_t got[256];
	int packets;
	cr_assert_eq(host_read_transfer(got, sizeof got, &packets), sizeof data);
	cr_assert(memcmp(got, data, sizeof data) == 0, "no stale data from before the halt");
}

Test(usb_otgfs, bus_reset_mid_transfer)
{
	bring_up();
	configure();
	for (size_t i = 0; i < 1000; i++)
		big[i] = (uint8_t)i;
	cr_assert_eq(usb_bulk_write(big, 1000), KM_OK);
	uint8_t pkt[64];
	cr_assert_eq(host_in(1, pkt), 64);
	cr_assert_eq(host_in(1, pkt), 64);
	host_reset();
	cr_assert_eq((m.otg[OFF(OTG_DCFG)] >> 4) & 0x7Fu, 0u, "address 0 after a reset");
	cr_assert(usb_task(NULL, NULL), "the main loop is told to stop");
	cr_assert_not(usb_task(NULL, NULL), "only once");
	cr_assert_not(usb_configured());
	cr_assert_eq(usb_bulk_write(big, 10), KM_ERR_NO_DEVICE);
	cr_assert_eq(m.txn[1], 0u, "FIFO flushed");
	configure();
	uint8_t fresh[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
	cr_assert_eq(usb_bulk_write(fresh, sizeof fresh), KM_OK);
	static uint8_t got[64];
	int packets;
	cr_assert_eq(host_read_transfer(got, sizeof got, &packets), sizeof fresh);
	cr_assert(memcmp(got, fresh, sizeof fresh) == 0);
}
