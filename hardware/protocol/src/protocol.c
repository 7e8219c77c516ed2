/*
 * The knotmap wire protocol: descriptors, info/status blocks, frame packets,
 * encodings (CRC-32C and the byte order come from core's bytes.h). Firmware-safe: no allocation, no
 * stdio, only memcpy/memset from libc. See PROTOCOL.md for the byte layout.
 */
#include "knotmap/protocol.h"

/* ------------------------------------------------------------------------ */
/* Device table                                                              */
/* ------------------------------------------------------------------------ */

const struct km_proto_device_id km_proto_devices[] = {
    {KM_USB_VID, KM_USB_PID, "knotmap", "knotmap pressure mat"},
};
const size_t km_proto_device_count = sizeof(km_proto_devices) / sizeof(km_proto_devices[0]);

const struct km_proto_device_id *km_proto_find_device(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < km_proto_device_count; i++) {
		if (km_proto_devices[i].vid == vid && km_proto_devices[i].pid == pid)
			return &km_proto_devices[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* USB descriptors                                                           */
/* ------------------------------------------------------------------------ */

static int emit(const uint8_t *src, size_t n, uint8_t *out, size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!out || !written)
		return KM_ERR_INVALID_ARG;
	if (cap < n)
		return KM_ERR_OVERFLOW;
	memcpy(out, src, n);
	*written = n;
	return KM_OK;
}

int km_proto_device_descriptor(uint16_t vid, uint16_t pid, uint16_t bcd_device, uint8_t *out,
                               size_t cap, size_t *written)
{
	/* clang-format off */
	uint8_t d[KM_USB_DEVICE_DESC_LEN] = {
		KM_USB_DEVICE_DESC_LEN, 0x01, /* bLength, DEVICE */
		0, 0,                         /* bcdUSB */
		0x00, 0x00, 0x00,             /* class/subclass/protocol: per interface */
		KM_USB_EP0_MAX_PACKET,
		0, 0, 0, 0, 0, 0, /* idVendor, idProduct, bcdDevice */
		KM_USB_STR_MANUFACTURER, KM_USB_STR_PRODUCT, KM_USB_STR_SERIAL,
		1, /* bNumConfigurations */
	};
	/* clang-format on */
	km_put_le16(d + 2, KM_USB_BCD_USB);
	km_put_le16(d + 8, vid);
	km_put_le16(d + 10, pid);
	km_put_le16(d + 12, bcd_device);
	return emit(d, sizeof d, out, cap, written);
}

int km_proto_config_descriptor(uint8_t *out, size_t cap, size_t *written)
{
	/* clang-format off */
	static const uint8_t d[KM_USB_CONFIG_DESC_LEN] = {
		/* configuration */
		9, 0x02, KM_USB_CONFIG_DESC_LEN, 0, /* bLength, CONFIGURATION, wTotalLength */
		1, KM_USB_CONFIGURATION, 0,         /* bNumInterfaces, value, iConfiguration */
		0x80, KM_USB_MAX_POWER_MA / 2,      /* bus powered, bMaxPower (2 mA units) */
		/* interface */
		9, 0x04, KM_USB_INTERFACE, 0, 1, /* number, alternate, bNumEndpoints */
		0xFF, 0x00, 0x00, 0,             /* vendor class, iInterface */
		/* endpoint */
		7, 0x05, KM_USB_EP_IN, 0x02, /* bulk */
		KM_USB_BULK_MAX_PACKET, 0, 0, /* wMaxPacketSize, bInterval */
	};
	/* clang-format on */
	return emit(d, sizeof d, out, cap, written);
}

int km_proto_langid_descriptor(uint8_t *out, size_t cap, size_t *written)
{
	static const uint8_t d[4] = {4, 0x03, 0x09, 0x04};
	return emit(d, sizeof d, out, cap, written);
}

/* Next code point from UTF-8 (BMP only); returns bytes used, 0 when invalid. */
static size_t utf8_next(const uint8_t *s, uint32_t *cp)
{
	uint8_t b0 = s[0];
	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	if ((b0 & 0xE0u) == 0xC0u) {
		if ((s[1] & 0xC0u) != 0x80u)
			return 0;
		uint32_t v = ((uint32_t)(b0 & 0x1Fu) << 6) | (uint32_t)(s[1] & 0x3Fu);
		if (v < 0x80u)
			return 0; /* overlong */
		*cp = v;
		return 2;
	}
	if ((b0 & 0xF0u) == 0xE0u) {
		if ((s[1] & 0xC0u) != 0x80u || (s[2] & 0xC0u) != 0x80u)
			return 0;
		uint32_t v = ((uint32_t)(b0 & 0x0Fu) << 12) | ((uint32_t)(s[1] & 0x3Fu) << 6) |
		             (uint32_t)(s[2] & 0x3Fu);
		if (v < 0x800u || (v >= 0xD800u && v <= 0xDFFFu))
			return 0; /* overlong or surrogate */
		*cp = v;
		return 3;
	}
	return 0; /* continuation byte, 4-byte form (outside the BMP) or invalid */
}

int km_proto_string_descriptor(const char *utf8, uint8_t *out, size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!utf8 || !out || !written)
		return KM_ERR_INVALID_ARG;
	const uint8_t *s = (const uint8_t *)utf8;
	size_t n = 2;
	uint8_t tmp[KM_USB_STRING_DESC_MAX];
	while (*s) {
		uint32_t cp = 0;
		/* utf8_next reads at most up to the first non-continuation byte, and
		 * the NUL terminator is not a continuation byte. */
		size_t used = utf8_next(s, &cp);
		if (used == 0)
			return KM_ERR_MALFORMED;
		if (n + 2 > KM_USB_STRING_DESC_MAX - 1) /* 126 units: 254 bytes max */
			return KM_ERR_RANGE;
		km_put_le16(tmp + n, (uint16_t)cp);
		n += 2;
		s += used;
	}
	tmp[0] = (uint8_t)n;
	tmp[1] = 0x03;
	return emit(tmp, n, out, cap, written);
}

int km_proto_parse_string_descriptor(const uint8_t *buf, size_t len, char *out, size_t out_cap)
{
	if (!buf || !out)
		return KM_ERR_INVALID_ARG;
	if (out_cap > 0)
		out[0] = '\0';
	if (len < 2 || len < buf[0])
		return KM_ERR_TRUNCATED;
	size_t blen = buf[0];
	if (blen < 2 || buf[1] != 0x03 || (blen & 1u) != 0)
		return KM_ERR_MALFORMED;
	size_t units = (blen - 2) / 2;
	if (out_cap < units + 1)
		return KM_ERR_OVERFLOW;
	for (size_t i = 0; i < units; i++) {
		uint16_t u = km_get_le16(buf + 2 + 2 * i);
		out[i] = (u >= 0x20 && u < 0x7F) ? (char)u : '?';
	}
	out[units] = '\0';
	return KM_OK;
}

int km_proto_get_descriptor(const struct km_proto_usb_identity *id, uint16_t w_value, uint8_t *out,
                            size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!id || !out || !written)
		return KM_ERR_INVALID_ARG;
	uint8_t type = (uint8_t)(w_value >> 8), index = (uint8_t)(w_value & 0xFFu);
	switch (type) {
	case 0x01:
		if (index != 0)
			return KM_ERR_NOT_FOUND;
		return km_proto_device_descriptor(id->vid, id->pid, id->bcd_device, out, cap,
		                                  written);
	case 0x02:
		if (index != 0)
			return KM_ERR_NOT_FOUND;
		return km_proto_config_descriptor(out, cap, written);
	case 0x03: {
		const char *str = NULL;
		switch (index) {
		case KM_USB_STR_LANGID:
			return km_proto_langid_descriptor(out, cap, written);
		case KM_USB_STR_MANUFACTURER:
			str = id->manufacturer;
			break;
		case KM_USB_STR_PRODUCT:
			str = id->product;
			break;
		case KM_USB_STR_SERIAL:
			str = id->serial;
			break;
		default:
			return KM_ERR_NOT_FOUND;
		}
		if (!str)
			return KM_ERR_NOT_FOUND;
		return km_proto_string_descriptor(str, out, cap, written);
	}
	default:
		return KM_ERR_NOT_FOUND;
	}
}

int km_proto_sysfs_descriptors(uint16_t vid, uint16_t pid, uint16_t bcd_device, uint8_t *out,
                               size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!out || !written)
		return KM_ERR_INVALID_ARG;
	if (cap < KM_USB_SYSFS_DESC_LEN)
		return KM_ERR_OVERFLOW;
	size_t a = 0, b = 0;
	int rc = km_proto_device_descriptor(vid, pid, bcd_device, out, cap, &a);
	if (rc == KM_OK)
		rc = km_proto_config_descriptor(out + a, cap - a, &b);
	if (rc != KM_OK)
		return rc;
	*written = a + b;
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* SETUP packets                                                             */
/* ------------------------------------------------------------------------ */

void km_proto_setup_encode(const struct km_proto_setup *s, uint8_t out[8])
{
	out[0] = s->bm_request_type;
	out[1] = s->b_request;
	km_put_le16(out + 2, s->w_value);
	km_put_le16(out + 4, s->w_index);
	km_put_le16(out + 6, s->w_length);
}

int km_proto_setup_decode(const uint8_t *buf, size_t len, struct km_proto_setup *out)
{
	if (!buf || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (len < KM_PROTO_SETUP_LEN)
		return KM_ERR_TRUNCATED;
	out->bm_request_type = buf[0];
	out->b_request = buf[1];
	out->w_value = km_get_le16(buf + 2);
	out->w_index = km_get_le16(buf + 4);
	out->w_length = km_get_le16(buf + 6);
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Info and status blocks                                                    */
/* ------------------------------------------------------------------------ */

static bool dim_ok(uint16_t d)
{
	return d >= 1 && d <= KM_FRAME_MAX_DIM;
}

static bool serial_char_ok(uint8_t c)
{
	return c >= 0x21 && c <= 0x7E;
}

static bool info_fields_ok(const struct km_proto_info *in)
{
	return dim_ok(in->rows) && dim_ok(in->cols) && in->pitch_um > 0 &&
	       in->geometry <= KM_GEOMETRY_CYLINDER && in->adc_bits >= 1 && in->adc_bits <= 16 &&
	       (in->encodings & ((1u << KM_PROTO_ENC_COUNT) - 1u)) != 0 && in->max_rate_hz >= 1 &&
	       in->rate_hz >= 1 && in->rate_hz <= in->max_rate_hz &&
	       in->max_transfer >= KM_PROTO_MIN_TRANSFER &&
	       in->max_transfer <= KM_PROTO_MAX_TRANSFER;
}

int km_proto_info_encode(const struct km_proto_info *info, uint8_t *out, size_t cap,
                         size_t *written)
{
	if (written)
		*written = 0;
	if (!info || !out || !written || !info_fields_ok(info) ||
	    info->protocol_version != KM_PROTO_VERSION)
		return KM_ERR_INVALID_ARG;
	size_t slen = 0;
	while (slen <= KM_PROTO_SERIAL_MAX && info->serial[slen] != '\0') {
		if (!serial_char_ok((uint8_t)info->serial[slen]))
			return KM_ERR_INVALID_ARG;
		slen++;
	}
	if (slen > KM_PROTO_SERIAL_MAX)
		return KM_ERR_INVALID_ARG;
	if (cap < KM_PROTO_INFO_LEN)
		return KM_ERR_OVERFLOW;
	uint8_t *p = out;
	memset(p, 0, KM_PROTO_INFO_LEN);
	km_put_le16(p + 0, info->protocol_version);
	km_put_le16(p + 2, KM_PROTO_INFO_LEN);
	km_put_le16(p + 4, info->rows);
	km_put_le16(p + 6, info->cols);
	km_put_le32(p + 8, info->pitch_um);
	p[12] = info->geometry;
	p[13] = info->adc_bits;
	p[14] = info->encodings;
	p[15] = 0;
	km_put_le32(p + 16, info->firmware_version);
	km_put_le32(p + 20, info->calibration_id);
	km_put_le16(p + 24, info->rate_hz);
	km_put_le16(p + 26, info->max_rate_hz);
	km_put_le32(p + 28, info->max_transfer);
	memcpy(p + 32, info->serial, slen);
	*written = KM_PROTO_INFO_LEN;
	return KM_OK;
}

int km_proto_info_decode(const uint8_t *buf, size_t len, struct km_proto_info *out)
{
	if (!buf || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (len < 4)
		return KM_ERR_TRUNCATED;
	struct km_proto_info in;
	memset(&in, 0, sizeof in);
	in.protocol_version = km_get_le16(buf);
	if (in.protocol_version != KM_PROTO_VERSION)
		return KM_ERR_BAD_VERSION;
	if (km_get_le16(buf + 2) < KM_PROTO_INFO_LEN)
		return KM_ERR_MALFORMED;
	if (len < KM_PROTO_INFO_LEN)
		return KM_ERR_TRUNCATED;
	in.rows = km_get_le16(buf + 4);
	in.cols = km_get_le16(buf + 6);
	in.pitch_um = km_get_le32(buf + 8);
	in.geometry = buf[12];
	in.adc_bits = buf[13];
	in.encodings = buf[14];
	in.firmware_version = km_get_le32(buf + 16);
	in.calibration_id = km_get_le32(buf + 20);
	in.rate_hz = km_get_le16(buf + 24);
	in.max_rate_hz = km_get_le16(buf + 26);
	in.max_transfer = km_get_le32(buf + 28);
	if (!info_fields_ok(&in))
		return KM_ERR_MALFORMED;
	/* Serial: printable characters, then only NUL padding. */
	bool ended = false;
	for (size_t i = 0; i < KM_PROTO_SERIAL_MAX; i++) {
		uint8_t c = buf[32 + i];
		if (c == 0) {
			ended = true;
		} else if (ended || !serial_char_ok(c)) {
			return KM_ERR_MALFORMED;
		} else {
			in.serial[i] = (char)c;
		}
	}
	*out = in;
	return KM_OK;
}

int km_proto_status_encode(const struct km_proto_status *st, uint8_t *out, size_t cap,
                           size_t *written)
{
	if (written)
		*written = 0;
	if (!st || !out || !written)
		return KM_ERR_INVALID_ARG;
	if (cap < KM_PROTO_STATUS_LEN)
		return KM_ERR_OVERFLOW;
	km_put_le32(out + 0, st->flags);
	km_put_le32(out + 4, st->next_sequence);
	km_put_le32(out + 8, st->overruns);
	km_put_le16(out + 12, st->rate_hz);
	km_put_le16(out + 14, 0);
	km_put_le64(out + 16, st->device_time_us);
	*written = KM_PROTO_STATUS_LEN;
	return KM_OK;
}

int km_proto_status_decode(const uint8_t *buf, size_t len, struct km_proto_status *out)
{
	if (!buf || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (len < KM_PROTO_STATUS_LEN)
		return KM_ERR_TRUNCATED;
	out->flags = km_get_le32(buf + 0);
	out->next_sequence = km_get_le32(buf + 4);
	out->overruns = km_get_le32(buf + 8);
	out->rate_hz = km_get_le16(buf + 12);
	out->reserved = km_get_le16(buf + 14);
	out->device_time_us = km_get_le64(buf + 16);
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Payload encodings                                                         */
/* ------------------------------------------------------------------------ */

/* Writes the frame payload into the fragment slots of the output: virtual
 * payload byte p lands at (p / frag) * (frag + overhead) + header + p % frag.
 * out == NULL only counts. Capacity is checked by the caller beforehand. */
struct writer {
	uint8_t *out;
	size_t pos;
	size_t frag;
	size_t phys;
	size_t in_frag;
};

static inline void w_byte(struct writer *w, uint8_t b)
{
	if (w->out) {
		if (w->in_frag == w->frag) {
			w->phys += KM_PROTO_PACKET_OVERHEAD;
			w->in_frag = 0;
		}
		w->out[w->phys++] = b;
		w->in_frag++;
	}
	w->pos++;
}

static size_t raw12_size(size_t cells)
{
	return (cells * 3 + 1) / 2;
}

static void enc_raw16(struct writer *w, const uint16_t *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		w_byte(w, (uint8_t)(x[i] & 0xFFu));
		w_byte(w, (uint8_t)(x[i] >> 8));
	}
}

static void enc_raw12(struct writer *w, const uint16_t *x, size_t n)
{
	size_t i = 0;
	for (; i + 1 < n; i += 2) {
		uint16_t a = x[i], b = x[i + 1];
		w_byte(w, (uint8_t)(a & 0xFFu));
		w_byte(w, (uint8_t)(((a >> 8) & 0x0Fu) | ((b & 0x0Fu) << 4)));
		w_byte(w, (uint8_t)(b >> 4));
	}
	if (i < n) {
		w_byte(w, (uint8_t)(x[i] & 0xFFu));
		w_byte(w, (uint8_t)((x[i] >> 8) & 0x0Fu));
	}
}

/* Prediction shared by encoder and decoder. DELTA: the median edge detector
 * of LOCO-I / JPEG-LS (Weinberger et al. 2000) from left a, above b and
 * above-left c: min(a, b) if c >= max(a, b), max(a, b) if c <= min(a, b),
 * else a + b - c; first row: left; first column: above; cell 0: 0.
 * DELTA_TEMPORAL: the same cell of the previous frame. */
static inline uint16_t predict(const uint16_t *x, const uint16_t *prev, size_t i, size_t cols)
{
	if (prev)
		return prev[i];
	bool first_col = i % cols == 0;
	if (i < cols)
		return first_col ? 0 : x[i - 1];
	if (first_col)
		return x[i - cols];
	uint16_t a = x[i - 1], b = x[i - cols], c = x[i - cols - 1];
	uint16_t lo = a < b ? a : b, hi = a < b ? b : a;
	if (c >= hi)
		return lo;
	if (c <= lo)
		return hi;
	return (uint16_t)(a + b - c); /* lo < c < hi: stays within lo..hi */
}

/*
 * DELTA token stream, in 4-bit nibbles (low nibble of each byte first):
 *   0x0            one zero residual
 *   0x1..0xC       one residual with zig-zag code 1..12 (-6..+6)
 *   0xD v...       a run of v + 2 zero residuals; v in 3-bit groups, low
 *                  first, nibble bit 3 = more follows (at most 7 nibbles)
 *   0xE a b        one residual with zig-zag code 13 + (a | b << 4) (-134..+134)
 *   0xF a b c d    the cell's value itself, a | b << 4 | c << 8 | d << 12
 * An odd nibble count is padded with a zero high nibble. Noise of a few
 * counts costs half a byte per cell; the worst case is 2.5 bytes per cell.
 */
#define NIB_RUN 0xDu
#define NIB_MID 0xEu
#define NIB_LIT 0xFu
#define NIB_SMALL_MAX 12u
#define NIB_MID_MAX (13u + 255u)
#define NIB_VARINT_MAX 7

struct nib_writer {
	struct writer *w;
	uint8_t cur;
	bool half;
};

static inline void n_put(struct nib_writer *n, uint32_t v)
{
	if (!n->half) {
		n->cur = (uint8_t)(v & 0xFu);
		n->half = true;
	} else {
		w_byte(n->w, (uint8_t)(n->cur | ((v & 0xFu) << 4)));
		n->half = false;
	}
}

static inline void n_flush_run(struct nib_writer *n, size_t *run)
{
	if (*run == 1) {
		n_put(n, 0);
	} else if (*run > 1) {
		size_t v = *run - 2;
		n_put(n, NIB_RUN);
		while (v >= 8u) {
			n_put(n, (uint32_t)(v & 7u) | 8u);
			v >>= 3;
		}
		n_put(n, (uint32_t)v);
	}
	*run = 0;
}

static void enc_delta(struct writer *w, const uint16_t *x, const uint16_t *prev, size_t n,
                      size_t cols)
{
	struct nib_writer nw = {w, 0, false};
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t r = (int32_t)x[i] - (int32_t)predict(x, prev, i, cols);
		if (r == 0) {
			run++;
			continue;
		}
		n_flush_run(&nw, &run);
		uint32_t zz = r > 0 ? (uint32_t)r << 1 : (((uint32_t)(-r)) << 1) - 1u;
		if (zz <= NIB_SMALL_MAX) {
			n_put(&nw, zz);
		} else if (zz <= NIB_MID_MAX) {
			n_put(&nw, NIB_MID);
			n_put(&nw, zz - 13u);
			n_put(&nw, (zz - 13u) >> 4);
		} else {
			n_put(&nw, NIB_LIT);
			for (int k = 0; k < 16; k += 4)
				n_put(&nw, (uint32_t)x[i] >> k);
		}
	}
	n_flush_run(&nw, &run);
	if (nw.half)
		w_byte(w, nw.cur); /* high nibble 0: padding */
}

static int check_frame_args(uint8_t encoding, uint16_t rows, uint16_t cols, const uint16_t *counts,
                            const uint16_t *prev)
{
	if (!counts)
		return KM_ERR_INVALID_ARG;
	if (!dim_ok(rows) || !dim_ok(cols))
		return KM_ERR_SHAPE;
	if (encoding >= KM_PROTO_ENC_COUNT)
		return KM_ERR_UNSUPPORTED;
	if (encoding == KM_PROTO_ENC_DELTA_TEMPORAL && !prev)
		return KM_ERR_INVALID_ARG;
	if (encoding == KM_PROTO_ENC_RAW12) {
		size_t n = (size_t)rows * cols;
		for (size_t i = 0; i < n; i++)
			if (counts[i] > 0x0FFFu)
				return KM_ERR_RANGE;
	}
	return KM_OK;
}

static void encode_payload(struct writer *w, uint8_t encoding, uint16_t cols,
                           const uint16_t *counts, const uint16_t *prev, size_t n)
{
	switch (encoding) {
	case KM_PROTO_ENC_RAW16:
		enc_raw16(w, counts, n);
		break;
	case KM_PROTO_ENC_RAW12:
		enc_raw12(w, counts, n);
		break;
	case KM_PROTO_ENC_DELTA:
		enc_delta(w, counts, NULL, n, cols);
		break;
	default:
		enc_delta(w, counts, prev, n, cols);
		break;
	}
}

static size_t payload_size_of(uint8_t encoding, uint16_t cols, const uint16_t *counts,
                              const uint16_t *prev, size_t n)
{
	if (encoding == KM_PROTO_ENC_RAW16)
		return 2 * n;
	if (encoding == KM_PROTO_ENC_RAW12)
		return raw12_size(n);
	struct writer w = {0};
	encode_payload(&w, encoding, cols, counts, prev, n);
	return w.pos;
}

int km_proto_payload_size(uint8_t encoding, uint16_t rows, uint16_t cols, const uint16_t *counts,
                          const uint16_t *prev_counts, size_t *size)
{
	if (size)
		*size = 0;
	if (!size)
		return KM_ERR_INVALID_ARG;
	int rc = check_frame_args(encoding, rows, cols, counts, prev_counts);
	if (rc != KM_OK)
		return rc;
	*size = payload_size_of(encoding, cols, counts, prev_counts, (size_t)rows * cols);
	return KM_OK;
}

size_t km_proto_max_packet_bytes(uint16_t rows, uint16_t cols)
{
	if (!dim_ok(rows) || !dim_ok(cols))
		return 0;
	return KM_PROTO_MAX_PACKET_BYTES(rows, cols);
}

size_t km_proto_max_packet_bytes_split(uint16_t rows, uint16_t cols, size_t max_transfer)
{
	if (!dim_ok(rows) || !dim_ok(cols) || max_transfer < KM_PROTO_MIN_TRANSFER ||
	    max_transfer > KM_PROTO_MAX_TRANSFER)
		return 0;
	size_t payload = KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols);
	size_t frag = max_transfer - KM_PROTO_PACKET_OVERHEAD;
	return payload + KM_PROTO_PACKET_OVERHEAD * ((payload + frag - 1) / frag);
}

/* ------------------------------------------------------------------------ */
/* Packets                                                                   */
/* ------------------------------------------------------------------------ */

static void put_header(uint8_t *p, const struct km_proto_frame_header *h, uint16_t index,
                       uint16_t count, uint32_t offset, uint32_t total, uint32_t len)
{
	km_put_le32(p + 0, KM_PROTO_MAGIC);
	p[4] = KM_PROTO_VERSION;
	p[5] = KM_PROTO_HEADER_LEN;
	p[6] = h->encoding;
	p[7] = h->flags;
	km_put_le32(p + 8, h->sequence);
	km_put_le64(p + 12, h->timestamp_us);
	km_put_le16(p + 20, h->rows);
	km_put_le16(p + 22, h->cols);
	km_put_le16(p + 24, index);
	km_put_le16(p + 26, count);
	km_put_le32(p + 28, offset);
	km_put_le32(p + 32, total);
	km_put_le32(p + 36, len);
}

int km_proto_encode_frame_split(const struct km_proto_frame_header *h, const uint16_t *counts,
                                const uint16_t *prev_counts, size_t max_transfer, uint8_t *out,
                                size_t cap, size_t *written, size_t *n_packets)
{
	if (written)
		*written = 0;
	if (n_packets)
		*n_packets = 0;
	if (!h || !out || !written)
		return KM_ERR_INVALID_ARG;
	if ((h->flags & ~KM_PROTO_FLAGS_KNOWN) != 0)
		return KM_ERR_INVALID_ARG;
	if (max_transfer < KM_PROTO_MIN_TRANSFER || max_transfer > KM_PROTO_MAX_TRANSFER)
		return KM_ERR_RANGE;
	int rc = check_frame_args(h->encoding, h->rows, h->cols, counts, prev_counts);
	if (rc != KM_OK)
		return rc;
	size_t n = (size_t)h->rows * h->cols;
	size_t total = payload_size_of(h->encoding, h->cols, counts, prev_counts, n);
	size_t frag = max_transfer - KM_PROTO_PACKET_OVERHEAD;
	size_t nfrag = (total + frag - 1) / frag;
	if (nfrag > UINT16_MAX)
		return KM_ERR_RANGE;
	size_t need = total + nfrag * KM_PROTO_PACKET_OVERHEAD;
	if (cap < need)
		return KM_ERR_OVERFLOW;

	struct writer w = {out, 0, frag, KM_PROTO_HEADER_LEN, 0};
	encode_payload(&w, h->encoding, h->cols, counts, prev_counts, n);

	for (size_t k = 0; k < nfrag; k++) {
		size_t off = k * frag;
		size_t len = total - off < frag ? total - off : frag;
		uint8_t *p = out + k * (frag + KM_PROTO_PACKET_OVERHEAD);
		put_header(p, h, (uint16_t)k, (uint16_t)nfrag, (uint32_t)off, (uint32_t)total,
		           (uint32_t)len);
		uint32_t crc = km_crc32c(0, p, KM_PROTO_HEADER_LEN + len);
		km_put_le32(p + KM_PROTO_HEADER_LEN + len, crc);
	}
	*written = need;
	if (n_packets)
		*n_packets = nfrag;
	return KM_OK;
}

int km_proto_encode_frame(const struct km_proto_frame_header *h, const uint16_t *counts,
                          const uint16_t *prev_counts, uint8_t *out, size_t cap, size_t *written)
{
	return km_proto_encode_frame_split(h, counts, prev_counts, KM_PROTO_MAX_TRANSFER, out, cap,
	                                   written, NULL);
}

/* Exact payload size for the fixed-size encodings; the DELTA bound otherwise. */
static bool total_len_ok(uint8_t encoding, size_t cells, uint32_t total)
{
	switch (encoding) {
	case KM_PROTO_ENC_RAW16:
		return total == 2 * cells;
	case KM_PROTO_ENC_RAW12:
		return total == raw12_size(cells);
	default:
		return total >= 1 && total <= KM_PROTO_MAX_PAYLOAD_BYTES(cells, 1);
	}
}

int km_proto_parse_packet(const uint8_t *buf, size_t len, struct km_proto_packet *out,
                          size_t *consumed)
{
	if (consumed)
		*consumed = 0;
	if (!buf || !out || !consumed)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (len < 4)
		return KM_ERR_TRUNCATED;
	if (km_get_le32(buf) != KM_PROTO_MAGIC)
		return KM_ERR_BAD_MAGIC;
	if (len < 5)
		return KM_ERR_TRUNCATED;
	if (buf[4] != KM_PROTO_VERSION)
		return KM_ERR_BAD_VERSION;
	if (len < KM_PROTO_HEADER_LEN)
		return KM_ERR_TRUNCATED;
	size_t hlen = buf[5];
	if (hlen < KM_PROTO_HEADER_LEN)
		return KM_ERR_MALFORMED;
	if (len < hlen)
		return KM_ERR_TRUNCATED;
	uint32_t plen = km_get_le32(buf + 36);
	if (plen > KM_PROTO_MAX_FRAG_PAYLOAD)
		return KM_ERR_MALFORMED;
	size_t body = hlen + plen;
	if (len < body + KM_PROTO_CRC_LEN)
		return KM_ERR_TRUNCATED;
	if (km_crc32c(0, buf, body) != km_get_le32(buf + body))
		return KM_ERR_BAD_CRC;

	struct km_proto_packet p;
	p.header.encoding = buf[6];
	p.header.flags = buf[7];
	p.header.sequence = km_get_le32(buf + 8);
	p.header.timestamp_us = km_get_le64(buf + 12);
	p.header.rows = km_get_le16(buf + 20);
	p.header.cols = km_get_le16(buf + 22);
	p.frag_index = km_get_le16(buf + 24);
	p.frag_count = km_get_le16(buf + 26);
	p.frag_offset = km_get_le32(buf + 28);
	p.total_len = km_get_le32(buf + 32);
	p.payload_len = plen;
	p.payload = buf + hlen;

	if (!dim_ok(p.header.rows) || !dim_ok(p.header.cols) ||
	    p.header.encoding >= KM_PROTO_ENC_COUNT ||
	    (p.header.flags & ~KM_PROTO_FLAGS_KNOWN) != 0)
		return KM_ERR_MALFORMED;
	size_t cells = (size_t)p.header.rows * p.header.cols;
	if (!total_len_ok(p.header.encoding, cells, p.total_len))
		return KM_ERR_MALFORMED;
	if (p.frag_count == 0 || p.frag_index >= p.frag_count)
		return KM_ERR_MALFORMED;
	if ((uint64_t)p.frag_offset + plen > p.total_len)
		return KM_ERR_MALFORMED;
	bool last = p.frag_index + 1 == p.frag_count;
	if (last ? (uint64_t)p.frag_offset + plen != p.total_len : plen == 0)
		return KM_ERR_MALFORMED;
	if ((p.frag_index == 0) != (p.frag_offset == 0))
		return KM_ERR_MALFORMED;
	*out = p;
	*consumed = body + KM_PROTO_CRC_LEN;
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Payload decoding                                                          */
/* ------------------------------------------------------------------------ */

static int dec_raw16(const uint8_t *p, size_t len, uint16_t *x, size_t n)
{
	if (len < 2 * n)
		return KM_ERR_TRUNCATED;
	if (len > 2 * n)
		return KM_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++)
		x[i] = km_get_le16(p + 2 * i);
	return KM_OK;
}

static int dec_raw12(const uint8_t *p, size_t len, uint16_t *x, size_t n)
{
	size_t need = raw12_size(n);
	if (len < need)
		return KM_ERR_TRUNCATED;
	if (len > need)
		return KM_ERR_MALFORMED;
	size_t i = 0;
	for (; i + 1 < n; i += 2, p += 3) {
		x[i] = (uint16_t)(p[0] | ((p[1] & 0x0F) << 8));
		x[i + 1] = (uint16_t)((p[1] >> 4) | (p[2] << 4));
	}
	if (i < n) {
		if (p[1] & 0xF0u)
			return KM_ERR_MALFORMED; /* padding must be zero */
		x[i] = (uint16_t)(p[0] | ((p[1] & 0x0F) << 8));
	}
	return KM_OK;
}

struct nib_reader {
	const uint8_t *p;
	size_t pos; /* in nibbles */
	size_t end; /* 2 * bytes */
};

static inline int n_get(struct nib_reader *r, uint32_t *v)
{
	if (r->pos >= r->end)
		return KM_ERR_TRUNCATED;
	uint8_t b = r->p[r->pos >> 1];
	*v = (r->pos & 1u) ? (uint32_t)(b >> 4) : (uint32_t)(b & 0xFu);
	r->pos++;
	return KM_OK;
}

static int dec_delta(const uint8_t *p, size_t len, const uint16_t *prev, uint16_t *x, size_t n,
                     size_t cols)
{
	struct nib_reader nr = {p, 0, 2 * len};
	size_t i = 0;
	int rc;
	while (i < n) {
		uint32_t t, a;
		if ((rc = n_get(&nr, &t)) != KM_OK)
			return rc;
		if (t == NIB_RUN) {
			size_t v = 0;
			for (int k = 0;; k++) {
				if (k == NIB_VARINT_MAX)
					return KM_ERR_MALFORMED;
				if ((rc = n_get(&nr, &a)) != KM_OK)
					return rc;
				v |= (size_t)(a & 7u) << (3 * k);
				if (!(a & 8u))
					break;
			}
			if (v + 2 > n - i)
				return KM_ERR_MALFORMED; /* run past the last cell */
			for (size_t k = 0; k < v + 2; k++, i++)
				x[i] = predict(x, prev, i, cols);
			continue;
		}
		if (t == NIB_LIT) {
			uint32_t val = 0;
			for (int k = 0; k < 16; k += 4) {
				if ((rc = n_get(&nr, &a)) != KM_OK)
					return rc;
				val |= a << k;
			}
			x[i++] = (uint16_t)val;
			continue;
		}
		uint32_t zz = t;
		if (t == NIB_MID) {
			uint32_t b;
			if ((rc = n_get(&nr, &a)) != KM_OK || (rc = n_get(&nr, &b)) != KM_OK)
				return rc;
			zz = 13u + (a | (b << 4));
		}
		int32_t r = (zz & 1u) ? -(int32_t)((zz + 1) >> 1) : (int32_t)(zz >> 1);
		int32_t val = (int32_t)predict(x, prev, i, cols) + r;
		if (val < 0 || val > 0xFFFF)
			return KM_ERR_MALFORMED;
		x[i++] = (uint16_t)val;
	}
	/* Only a zero padding nibble may follow the last cell. */
	if (nr.pos & 1u) {
		if (p[nr.pos >> 1] >> 4)
			return KM_ERR_MALFORMED;
		nr.pos++;
	}
	if (nr.pos != nr.end)
		return KM_ERR_MALFORMED; /* trailing bytes */
	return KM_OK;
}

int km_proto_decode_payload(uint8_t encoding, uint16_t rows, uint16_t cols, const uint8_t *payload,
                            size_t len, const uint16_t *prev_counts, uint16_t *counts,
                            size_t counts_cap)
{
	if ((!payload && len) || !counts)
		return KM_ERR_INVALID_ARG;
	if (!dim_ok(rows) || !dim_ok(cols))
		return KM_ERR_SHAPE;
	if (encoding >= KM_PROTO_ENC_COUNT)
		return KM_ERR_UNSUPPORTED;
	if (encoding == KM_PROTO_ENC_DELTA_TEMPORAL && !prev_counts)
		return KM_ERR_INVALID_ARG;
	size_t n = (size_t)rows * cols;
	if (counts_cap < n)
		return KM_ERR_OVERFLOW;
	static const uint8_t empty[1] = {0};
	if (!payload)
		payload = empty; /* len == 0: every decoder reports TRUNCATED */
	switch (encoding) {
	case KM_PROTO_ENC_RAW16:
		return dec_raw16(payload, len, counts, n);
	case KM_PROTO_ENC_RAW12:
		return dec_raw12(payload, len, counts, n);
	case KM_PROTO_ENC_DELTA:
		return dec_delta(payload, len, NULL, counts, n, cols);
	default:
		return dec_delta(payload, len, prev_counts, counts, n, cols);
	}
}
