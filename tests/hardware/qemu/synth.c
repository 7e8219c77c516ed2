/* Synthetic-board run of the firmware core (see synth.h). */
#include "synth.h"

#include "km_fw.h"
#include "km_xtalk.h"
#include "usb_ctrl.h"

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

static const struct synth_out *g_out;
static int g_fail;

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	g_out->write(g_out->user, s, slen(s));
}

/* Unsigned decimal, or negative for error codes. */
static void put_int(long v)
{
	char buf[24];
	size_t i = sizeof buf;
	unsigned long u = v < 0 ? (unsigned long)(-(v + 1)) + 1u : (unsigned long)v;
	buf[--i] = '\0';
	do {
		buf[--i] = (char)('0' + (char)(u % 10u));
		u /= 10u;
	} while (u);
	if (v < 0)
		buf[--i] = '-';
	put(buf + i);
}

static void put_hex32(uint32_t v)
{
	static const char digits[] = "0123456789abcdef";
	char buf[9];
	for (int i = 0; i < 8; i++)
		buf[i] = digits[(v >> (28 - 4 * i)) & 0xFu];
	buf[8] = '\0';
	put(buf);
}

/* Bytes as hex, 32 per line, each line prefixed with two spaces. */
static void put_bytes(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char line[2 + 32 * 2 + 2];
	for (size_t off = 0; off < n; off += 32) {
		size_t k = 0, m = n - off < 32 ? n - off : 32;
		line[k++] = ' ';
		line[k++] = ' ';
		for (size_t i = 0; i < m; i++) {
			line[k++] = digits[p[off + i] >> 4];
			line[k++] = digits[p[off + i] & 0xFu];
		}
		line[k++] = '\n';
		line[k] = '\0';
		put(line);
	}
}

static void check(int ok, const char *what)
{
	if (ok)
		return;
	g_fail++;
	put("FAIL ");
	put(what);
	put("\n");
}

/* ------------------------------------------------------------------------ */
/* The synthetic board                                                       */
/* ------------------------------------------------------------------------ */

struct synth_board {
	uint16_t rows, cols, row;
	uint32_t lcg;
	uint64_t now_us;
	uint32_t writes;
	uint32_t busy_every; /* every n-th bulk_write reports BUSY; 0 = never */
	/* self-check: reassembly of the frame being sent */
	struct km_fw *fw;
	uint8_t frame_payload[KM_PROTO_MAX_PAYLOAD_BYTES(KM_FW_MAX_ROWS, KM_FW_MAX_COLS)];
	uint32_t got;
	uint16_t decoded[KM_FW_MAX_CELLS];
	uint16_t prev_decoded[KM_FW_MAX_CELLS];
	uint32_t prev_seq;
	int have_prev;
	uint32_t packets, frames;
};

static struct synth_board g_sb;

static uint32_t lcg_next(uint32_t *s)
{
	/* Numerical Recipes LCG: same sequence on any 32-bit-or-wider CPU. */
	*s = *s * 1664525u + 1013904223u;
	return *s >> 16;
}

/* True value of a cell at time t: a 12-bit blob moving across the grid. */
static uint32_t truth(const struct synth_board *sb, uint16_t r, uint16_t c)
{
	uint32_t step = (uint32_t)(sb->now_us / 7919u);
	int32_t cr = (int32_t)(step % sb->rows);
	int32_t cc = (int32_t)((step * 3u) % sb->cols);
	int32_t dr = (int32_t)r - cr, dc = (int32_t)c - cc;
	int32_t d2 = dr * dr + dc * dc;
	const int32_t R2 = 20;
	int32_t v = 40;
	if (d2 < R2)
		v += 3600 * (R2 - d2) / R2;
	return (uint32_t)v;
}

static void sb_select_row(void *u, uint16_t row)
{
	((struct synth_board *)u)->row = row;
}

static int sb_read_columns(void *u, uint16_t first, uint16_t n, uint16_t *out)
{
	struct synth_board *sb = u;
	if (sb->row >= sb->rows || first + n > sb->cols || n > KM_FW_ADC_GROUP)
		return KM_ERR_INTERNAL;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t v = truth(sb, sb->row, (uint16_t)(first + i));
		uint32_t noise = lcg_next(&sb->lcg) % 7u; /* 0..6, centred on 3 */
		v = v + noise < 3u ? 0u : v + noise - 3u;
		out[i] = (uint16_t)(v > 4095u ? 4095u : v);
	}
	sb->now_us += 2u; /* one group conversion */
	return KM_OK;
}

static void sb_delay_us(void *u, uint32_t us)
{
	((struct synth_board *)u)->now_us += us;
}

static uint64_t sb_time_us(void *u)
{
	return ((struct synth_board *)u)->now_us;
}

/* Checks a completed frame against what the core scanned. */
static void frame_done(struct synth_board *sb, const struct km_proto_packet *pk)
{
	const struct km_proto_frame_header *h = &pk->header;
	size_t cells = (size_t)h->rows * h->cols;
	const uint16_t *prev = NULL;
	if (h->encoding == KM_PROTO_ENC_DELTA_TEMPORAL) {
		check(sb->have_prev && h->sequence == sb->prev_seq + 1u,
		      "temporal frame without its reference");
		prev = sb->prev_decoded;
	}
	int rc = km_proto_decode_payload(h->encoding, h->rows, h->cols, sb->frame_payload, sb->got,
	                                 prev, sb->decoded, KM_FW_MAX_CELLS);
	check(rc == KM_OK, "payload decodes");
	const uint16_t *want = km_fw_counts(sb->fw);
	int same = rc == KM_OK;
	for (size_t i = 0; same && i < cells; i++)
		same = sb->decoded[i] == want[i];
	check(same, "decoded frame equals scanned counts");
	memcpy(sb->prev_decoded, sb->decoded, cells * sizeof sb->decoded[0]);
	sb->prev_seq = h->sequence;
	sb->have_prev = 1;
	sb->frames++;
}

static int sb_bulk_write(void *u, const uint8_t *data, size_t len)
{
	struct synth_board *sb = u;
	sb->writes++;
	if (sb->busy_every && sb->writes % sb->busy_every == 0) {
		put("BUSY\n");
		return KM_ERR_BUSY;
	}
	struct km_proto_packet pk;
	size_t used = 0;
	int rc = km_proto_parse_packet(data, len, &pk, &used);
	check(rc == KM_OK && used == len, "packet parses");
	put("PKT len=");
	put_int((long)len);
	put("\n");
	put_bytes(data, len);
	sb->packets++;
	if (rc != KM_OK)
		return KM_OK;
	if (pk.frag_index == 0)
		sb->got = 0;
	check(pk.frag_offset == sb->got, "fragments in order");
	if (pk.frag_offset == sb->got && sb->got + pk.payload_len <= sizeof sb->frame_payload) {
		memcpy(sb->frame_payload + sb->got, pk.payload, pk.payload_len);
		sb->got += pk.payload_len;
	}
	if (pk.frag_index + 1u == pk.frag_count) {
		check(sb->got == pk.total_len, "fragments add up to total_len");
		frame_done(sb, &pk);
	}
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Scenarios                                                                 */
/* ------------------------------------------------------------------------ */

static struct km_fw g_fw;
static struct km_xtalk g_xt;

/* One control request through the SETUP bytes, as the USB stack sees it. */
static int control(uint8_t type, uint8_t req, uint16_t value, uint16_t length)
{
	struct km_proto_setup s = {type, req, value, 0, length}, d;
	uint8_t raw[KM_PROTO_SETUP_LEN], reply[64];
	size_t n = 0;
	km_proto_setup_encode(&s, raw);
	int rc = km_proto_setup_decode(raw, sizeof raw, &d);
	if (rc == KM_OK)
		rc = km_fw_control(&g_fw, &d, reply, sizeof reply, &n);
	put("CTL ");
	put_int(req);
	put(" ");
	put_int(value);
	put(" rc=");
	put_int(rc);
	put(" n=");
	put_int((long)n);
	put("\n");
	put_bytes(reply, n);
	return rc;
}

struct scenario {
	const char *name;
	uint16_t rows, cols;
	uint8_t encoding;
	uint8_t oversample;
	uint16_t key_interval;
	uint32_t max_transfer;
	uint16_t zero_frames; /* 0: no ZERO */
	uint8_t xtalk;        /* 0: no crosstalk hook */
	uint32_t busy_every;
	uint16_t rate_hz;
	uint32_t polls;
	uint32_t tick_us; /* superloop period */
};

static void run_scenario(const struct scenario *sc)
{
	struct synth_board *sb = &g_sb;
	memset(sb, 0, sizeof *sb);
	sb->rows = sc->rows;
	sb->cols = sc->cols;
	sb->lcg = 12345u;
	sb->now_us = 1000u;
	sb->busy_every = sc->busy_every;
	sb->fw = &g_fw;

	struct km_fw_board b = {sb,          sb_select_row, sb_read_columns,
	                        sb_delay_us, sb_time_us,    sb_bulk_write};
	struct km_fw_settings s = km_fw_settings_default();
	s.rows = sc->rows;
	s.cols = sc->cols;
	s.encoding = sc->encoding;
	s.oversample = sc->oversample;
	s.key_interval = sc->key_interval;
	s.max_transfer = sc->max_transfer;
	s.serial = "SYNTH-1";
	if (sc->xtalk) {
		memset(&g_xt, 0, sizeof g_xt);
		g_xt.adc_bits = s.adc_bits;
		g_xt.enabled = 1;
		s.crosstalk = km_xtalk_apply;
		s.crosstalk_user = &g_xt;
	}
	put("SCENARIO ");
	put(sc->name);
	put("\n");
	int rc = km_fw_init(&g_fw, &b, &s);
	check(rc == KM_OK, "km_fw_init");
	if (rc != KM_OK)
		return;

	check(control(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 64) == KM_OK, "GET_INFO");
	check(control(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 0, 0) == KM_ERR_RANGE,
	      "SET_RATE 0 stalls");
	check(control(KM_PROTO_REQTYPE_OUT, 0x7F, 0, 0) == KM_ERR_UNSUPPORTED, "unknown stalls");
	check(control(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, sc->rate_hz, 0) == KM_OK,
	      "SET_RATE");
	if (sc->zero_frames) {
		check(control(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_ZERO, sc->zero_frames, 0) == KM_OK,
		      "ZERO");
		/* Let the zero finish before streaming, like a host that waits. */
		for (uint32_t i = 0; i < 4u * sc->zero_frames && g_fw.zeroing; i++) {
			sb->now_us += 1000000u / sc->rate_hz;
			check(km_fw_poll(&g_fw) == KM_OK, "poll while zeroing");
		}
	}
	check(control(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0) == KM_OK, "START");
	for (uint32_t i = 0; i < sc->polls; i++) {
		sb->now_us += sc->tick_us;
		rc = km_fw_poll(&g_fw);
		if (rc != KM_OK) {
			check(0, "km_fw_poll");
			break;
		}
	}
	check(control(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_STOP, 0, 0) == KM_OK, "STOP");
	/* Drain what is still queued. */
	sb->busy_every = 0;
	check(km_fw_poll(&g_fw) == KM_OK, "drain");
	check(control(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_STATUS, 0, 24) == KM_OK, "GET_STATUS");
	check(sb->frames > 0, "frames streamed");
	put("END ");
	put(sc->name);
	put(" packets=");
	put_int((long)sb->packets);
	put(" frames=");
	put_int((long)sb->frames);
	put("\n");
}

/* ------------------------------------------------------------------------ */
/* USB control endpoint logic (boards/common/usb_ctrl.c)                     */
/* ------------------------------------------------------------------------ */

static struct usb_ctrl g_uc;

static void put_result(const struct usb_ctrl_result *r)
{
	static const char *const names[] = {"STALL", "DATA_IN", "STATUS_IN", "DEFER"};
	put("  -> ");
	put(names[r->action]);
	put(" len=");
	put_int(r->len);
	put(r->zlp ? " zlp" : "");
	put(" ev=");
	put_int((long)r->events);
	put("\n");
	if (r->action == USB_CTRL_DATA_IN)
		put_bytes(r->data, r->len);
}

/* One SETUP through usb_ctrl; vendor requests go on to km_fw_control. */
static struct usb_ctrl_result usb_req(uint8_t type, uint8_t req, uint16_t value, uint16_t index,
                                      uint16_t length)
{
	struct km_proto_setup s = {type, req, value, index, length};
	uint8_t raw[8];
	struct usb_ctrl_result r;
	km_proto_setup_encode(&s, raw);
	usb_ctrl_setup(&g_uc, raw, &r);
	put("USB ");
	put_bytes(raw, 8);
	put_result(&r);
	if (r.action == USB_CTRL_DEFER) {
		uint8_t reply[64];
		size_t n = 0;
		int rc = km_fw_control(&g_fw, &g_uc.pending, reply, sizeof reply, &n);
		check(usb_ctrl_vendor_done(&g_uc, rc, reply, n, &r), "vendor_done after DEFER");
		put_result(&r);
	}
	return r;
}

static int same_bytes(const struct usb_ctrl_result *r, const uint8_t *want, size_t n)
{
	if (r->action != USB_CTRL_DATA_IN || r->len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (r->data[i] != want[i])
			return 0;
	return 1;
}

static void run_usb(void)
{
	struct synth_board *sb = &g_sb;
	memset(sb, 0, sizeof *sb);
	sb->rows = sb->cols = 8;
	sb->fw = &g_fw;
	struct km_fw_board b = {sb,          sb_select_row, sb_read_columns,
	                        sb_delay_us, sb_time_us,    sb_bulk_write};
	struct km_fw_settings fs = km_fw_settings_default();
	fs.rows = fs.cols = 8;
	fs.serial = "KM-USB-1";
	check(km_fw_init(&g_fw, &b, &fs) == KM_OK, "km_fw_init (usb)");
	struct km_proto_usb_identity id = {
	    KM_USB_VID, KM_USB_PID, 0x0010, "knotmap", "knotmap pressure mat", "KM-USB-1"};
	usb_ctrl_init(&g_uc, &id);
	put("SCENARIO usb-control\n");

	uint8_t want[KM_USB_STRING_DESC_MAX];
	size_t wn = 0;
	struct usb_ctrl_result r;
	/* Linux enumeration: device descriptor with wLength 64 first. */
	km_proto_device_descriptor(KM_USB_VID, KM_USB_PID, 0x0010, want, sizeof want, &wn);
	r = usb_req(0x80, 6, 0x0100, 0, 64);
	check(same_bytes(&r, want, wn) && !r.zlp, "device descriptor");
	r = usb_req(0x00, 5, 12, 0, 0);
	check(r.action == USB_CTRL_STATUS_IN && r.events == USB_EV_ADDRESS && g_uc.address == 12,
	      "SET_ADDRESS");
	r = usb_req(0x00, 5, 128, 0, 0);
	check(r.action == USB_CTRL_STALL && g_uc.address == 12, "SET_ADDRESS 128 stalls");
	km_proto_config_descriptor(want, sizeof want, &wn);
	r = usb_req(0x80, 6, 0x0200, 0, 9);
	check(same_bytes(&r, want, 9), "config descriptor, first 9 bytes");
	r = usb_req(0x80, 6, 0x0200, 0, 255);
	check(same_bytes(&r, want, wn), "config descriptor, whole set");
	r = usb_req(0x80, 6, 0x0300, 0, 4);
	check(r.action == USB_CTRL_DATA_IN && r.len == 4, "LANGID");
	km_proto_string_descriptor("KM-USB-1", want, sizeof want, &wn);
	r = usb_req(0x80, 6, 0x0303, 0x0409, 255);
	check(same_bytes(&r, want, wn), "serial string");
	r = usb_req(0x80, 6, 0x0600, 0, 10);
	check(r.action == USB_CTRL_STALL, "DEVICE_QUALIFIER stalls (full speed only)");
	r = usb_req(0x81, 10, 0, 0, 1);
	check(r.action == USB_CTRL_STALL, "GET_INTERFACE before configuration stalls");
	r = usb_req(0x00, 9, 2, 0, 0);
	check(r.action == USB_CTRL_STALL && g_uc.configuration == 0, "SET_CONFIGURATION 2 stalls");
	r = usb_req(0x00, 9, 1, 0, 0);
	check(r.action == USB_CTRL_STATUS_IN && (r.events & USB_EV_CONFIGURE), "SET_CONFIGURATION");
	r = usb_req(0x80, 8, 0, 0, 1);
	check(r.action == USB_CTRL_DATA_IN && r.len == 1 && r.data[0] == 1, "GET_CONFIGURATION");
	r = usb_req(0x02, 3, 0, KM_USB_EP_IN, 0);
	check(r.events == USB_EV_HALT && g_uc.ep_in_halted, "SET_FEATURE(ENDPOINT_HALT)");
	r = usb_req(0x82, 0, 0, KM_USB_EP_IN, 2);
	check(r.action == USB_CTRL_DATA_IN && r.len == 2 && r.data[0] == 1, "halted status");
	r = usb_req(0x02, 1, 0, KM_USB_EP_IN, 0);
	check(r.events == USB_EV_UNHALT && !g_uc.ep_in_halted, "CLEAR_FEATURE(ENDPOINT_HALT)");
	r = usb_req(0x02, 1, 0, 0x82, 0);
	check(r.action == USB_CTRL_STALL, "halt on a missing endpoint stalls");
	r = usb_req(0x21, 0x0A, 0, 0, 0);
	check(r.action == USB_CTRL_STALL, "class request stalls");
	/* Vendor requests: deferred, answered by the core. */
	r = usb_req(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 64);
	check(r.action == USB_CTRL_DATA_IN && r.len == 64 && !r.zlp, "GET_INFO, exact length");
	r = usb_req(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, 128);
	check(r.action == USB_CTRL_DATA_IN && r.len == 64 && r.zlp,
	      "GET_INFO, longer wLength: ZLP");
	r = usb_req(KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_STATUS, 0, 0, 8);
	check(r.action == USB_CTRL_DATA_IN && r.len == 8, "GET_STATUS cut to wLength");
	r = usb_req(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 0, 0, 0);
	check(r.action == USB_CTRL_STALL, "SET_RATE 0 stalls");
	r = usb_req(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0, 1);
	check(r.action == USB_CTRL_STALL && !g_uc.deferred, "vendor OUT with data stalls");
	r = usb_req(KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0, 0);
	check(r.action == USB_CTRL_STATUS_IN && g_fw.running, "START");
	check(!usb_ctrl_vendor_done(&g_uc, KM_OK, NULL, 0, &r) && r.action == USB_CTRL_STALL,
	      "vendor_done without a deferred request");
	r = usb_req(0x00, 9, 0, 0, 0);
	check(r.events == USB_EV_DECONFIGURE && g_uc.configuration == 0, "SET_CONFIGURATION 0");
	usb_ctrl_reset(&g_uc);
	check(g_uc.address == 0 && g_uc.configuration == 0 && !g_uc.ep_in_halted, "bus reset");
	put("END usb-control\n");
}

int synth_run(const struct synth_out *out)
{
	static const struct scenario sc[] = {
	    /* name  rows cols enc os key  max_tr  zero xt busy  rate polls tick */
	    {"delta-temporal-xtalk-32x32", 32, 32, KM_PROTO_ENC_DELTA_TEMPORAL, 4, 4, 16384, 4, 1,
	     7, 100, 40, 7000},
	    {"raw12-fragments-16x24", 16, 24, KM_PROTO_ENC_RAW12, 2, 1, 160, 0, 0, 5, 200, 12,
	     5000},
	    {"raw16-8x8", 8, 8, KM_PROTO_ENC_RAW16, 1, 1, 16384, 2, 0, 0, 50, 6, 20000},
	    {"delta-64x64", 64, 64, KM_PROTO_ENC_DELTA, 4, 1, 16384, 0, 1, 0, 100, 3, 10000},
	};
	g_out = out;
	g_fail = 0;
	put("KNOTMAP SYNTH 1\n");
	put("CRC32C 123456789 ");
	put_hex32(km_crc32c(0, "123456789", 9));
	put("\n");
	uint32_t packets = 0, frames = 0;
	for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
		run_scenario(&sc[i]);
		packets += g_sb.packets;
		frames += g_sb.frames;
	}
	run_usb();
	put(g_fail ? "RESULT FAIL" : "RESULT PASS");
	put(" packets=");
	put_int((long)packets);
	put(" frames=");
	put_int((long)frames);
	put(" failures=");
	put_int(g_fail);
	put("\n");
	return g_fail;
}
