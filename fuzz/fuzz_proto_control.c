/*
 * The control-transfer side of the protocol: km_proto_info_decode,
 * km_proto_status_decode, km_proto_setup_decode,
 * km_proto_parse_string_descriptor, and the UTF-8 reader behind
 * km_proto_string_descriptor / km_proto_get_descriptor.
 * Input: selector (1 byte, modulo 5), an argument byte, then the bytes.
 * Properties: only documented codes; *out zeroed on error; what decodes
 * re-encodes and decodes to the same fields (info, status), the same bytes
 * (setup) or the same text (string descriptors).
 */
#include "fuzz_common.h"
#include "knotmap/protocol.h"

static bool info_equal(const struct km_proto_info *a, const struct km_proto_info *b)
{
	return a->protocol_version == b->protocol_version && a->rows == b->rows &&
	       a->cols == b->cols && a->pitch_um == b->pitch_um && a->geometry == b->geometry &&
	       a->adc_bits == b->adc_bits && a->encodings == b->encodings &&
	       a->firmware_version == b->firmware_version &&
	       a->calibration_id == b->calibration_id && a->rate_hz == b->rate_hz &&
	       a->max_rate_hz == b->max_rate_hz && a->max_transfer == b->max_transfer &&
	       strcmp(a->serial, b->serial) == 0;
}

static bool info_zero(const struct km_proto_info *a)
{
	static const struct km_proto_info z;
	return info_equal(a, &z) && a->serial[0] == '\0';
}

static void fuzz_info(const uint8_t *buf, size_t len)
{
	struct km_proto_info in, again;
	memset(&in, 0xA5, sizeof in);
	int rc = km_proto_info_decode(buf, len, &in);
	FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_BAD_VERSION, KM_ERR_MALFORMED);
	if (rc != KM_OK) {
		FUZZ_CHECK(info_zero(&in));
		return;
	}
	FUZZ_CHECK(len >= KM_PROTO_INFO_LEN);
	FUZZ_CHECK(in.protocol_version == KM_PROTO_VERSION);
	FUZZ_CHECK(in.rows >= 1 && in.rows <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(in.cols >= 1 && in.cols <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(strlen(in.serial) <= KM_PROTO_SERIAL_MAX);
	for (const char *s = in.serial; *s; s++)
		FUZZ_CHECK(*s >= 0x21 && *s <= 0x7E);
	/* What a host accepts, a device must be able to send. */
	uint8_t out[KM_PROTO_INFO_LEN];
	size_t written = 0;
	rc = km_proto_info_encode(&in, out, sizeof out, &written);
	FUZZ_CHECK(rc == KM_OK && written == KM_PROTO_INFO_LEN);
	FUZZ_CHECK(km_proto_info_decode(out, written, &again) == KM_OK);
	FUZZ_CHECK(info_equal(&in, &again));
	/* Every byte except info_len (2-3) and reserved (15) is a field. */
	FUZZ_CHECK(memcmp(out, buf, 2) == 0 && memcmp(out + 4, buf + 4, 11) == 0 &&
	           memcmp(out + 16, buf + 16, KM_PROTO_INFO_LEN - 16) == 0);
}

static void fuzz_status(const uint8_t *buf, size_t len)
{
	struct km_proto_status st, again;
	memset(&st, 0xA5, sizeof st);
	int rc = km_proto_status_decode(buf, len, &st);
	FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_BAD_VERSION, KM_ERR_MALFORMED);
	if (rc != KM_OK) {
		FUZZ_CHECK(st.flags == 0 && st.next_sequence == 0 && st.overruns == 0 &&
		           st.rate_hz == 0 && st.reserved == 0 && st.device_time_us == 0);
		return;
	}
	FUZZ_CHECK(len >= KM_PROTO_STATUS_LEN);
	uint8_t out[KM_PROTO_STATUS_LEN];
	size_t written = 0;
	FUZZ_CHECK(km_proto_status_encode(&st, out, sizeof out, &written) == KM_OK);
	FUZZ_CHECK(written == KM_PROTO_STATUS_LEN);
	FUZZ_CHECK(km_proto_status_decode(out, written, &again) == KM_OK);
	FUZZ_CHECK(again.flags == st.flags && again.next_sequence == st.next_sequence &&
	           again.overruns == st.overruns && again.rate_hz == st.rate_hz &&
	           again.device_time_us == st.device_time_us);
	FUZZ_CHECK(memcmp(out, buf, 14) == 0 && memcmp(out + 16, buf + 16, 8) == 0);
}

static void fuzz_setup(const uint8_t *buf, size_t len)
{
	struct km_proto_setup s;
	memset(&s, 0xA5, sizeof s);
	int rc = km_proto_setup_decode(buf, len, &s);
	FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED);
	if (rc != KM_OK) {
		FUZZ_CHECK(len < KM_PROTO_SETUP_LEN);
		FUZZ_CHECK(s.bm_request_type == 0 && s.b_request == 0 && s.w_value == 0 &&
		           s.w_index == 0 && s.w_length == 0);
		return;
	}
	uint8_t out[KM_PROTO_SETUP_LEN];
	km_proto_setup_encode(&s, out);
	FUZZ_CHECK(memcmp(out, buf, KM_PROTO_SETUP_LEN) == 0);
}

static void fuzz_parse_string(const uint8_t *buf, size_t len, size_t out_cap)
{
	char text[KM_USB_STRING_DESC_MAX + 1];
	char *out = malloc(out_cap ? out_cap : 1); /* exact size: ASan sees overruns */
	FUZZ_CHECK(out != NULL);
	int rc = km_proto_parse_string_descriptor(buf, len, out, out_cap);
	FUZZ_CHECK_RC(rc, KM_ERR_TRUNCATED, KM_ERR_MALFORMED, KM_ERR_OVERFLOW);
	if (rc != KM_OK) {
		FUZZ_CHECK(out_cap == 0 || out[0] == '\0');
		free(out);
		return;
	}
	size_t units = (size_t)(buf[0] - 2) / 2;
	FUZZ_CHECK(strlen(out) == units && units + 1 <= out_cap);
	for (size_t i = 0; i < units; i++) {
		uint16_t u = km_get_le16(buf + 2 + 2 * i);
		FUZZ_CHECK(out[i] == ((u >= 0x20 && u < 0x7F) ? (char)u : '?'));
	}
	/* ASCII text comes back unchanged through the device-side encoder. */
	uint8_t desc[KM_USB_STRING_DESC_MAX];
	size_t written = 0;
	FUZZ_CHECK(km_proto_string_descriptor(out, desc, sizeof desc, &written) == KM_OK);
	FUZZ_CHECK(written == buf[0] && desc[1] == 0x03);
	FUZZ_CHECK(km_proto_parse_string_descriptor(desc, written, text, sizeof text) == KM_OK);
	FUZZ_CHECK(strcmp(text, out) == 0);
	free(out);
}

/* Code points of valid BMP UTF-8 (reference decoder, in the encoder's order of
 * checks): -1 when invalid UTF-8 comes first, -2 when a valid 127th code
 * point does (more than a descriptor holds). */
static long utf8_units(const uint8_t *s)
{
	long n = 0;
	while (*s) {
		uint32_t cp;
		size_t k;
		if (s[0] < 0x80) {
			k = 1;
			cp = s[0];
		} else if ((s[0] & 0xE0) == 0xC0) {
			k = 2;
			cp = s[0] & 0x1Fu;
		} else if ((s[0] & 0xF0) == 0xE0) {
			k = 3;
			cp = s[0] & 0x0Fu;
		} else {
			return -1;
		}
		for (size_t i = 1; i < k; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i] & 0x3Fu);
		}
		if ((k == 2 && cp < 0x80) ||
		    (k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))))
			return -1;
		if (n == 126)
			return -2;
		s += k;
		n++;
	}
	return n;
}

static void fuzz_make_string(const uint8_t *buf, size_t len, size_t cap)
{
	char *str = malloc(len + 1);
	FUZZ_CHECK(str != NULL);
	memcpy(str, buf, len);
	str[len] = '\0';
	uint8_t *out = malloc(cap ? cap : 1);
	FUZZ_CHECK(out != NULL);
	size_t written = 77;
	int rc = km_proto_string_descriptor(str, out, cap, &written);
	FUZZ_CHECK_RC(rc, KM_ERR_MALFORMED, KM_ERR_RANGE, KM_ERR_OVERFLOW);
	long units = utf8_units((const uint8_t *)str);
	if (units == -1) {
		FUZZ_CHECK(rc == KM_ERR_MALFORMED);
	} else if (units == -2) {
		FUZZ_CHECK(rc == KM_ERR_RANGE);
	} else if (cap < (size_t)(2 + 2 * units)) {
		FUZZ_CHECK(rc == KM_ERR_OVERFLOW);
	} else {
		FUZZ_CHECK(rc == KM_OK && written == (size_t)(2 + 2 * units));
		char text[KM_USB_STRING_DESC_MAX + 1];
		FUZZ_CHECK(km_proto_parse_string_descriptor(out, written, text, sizeof text) ==
		           KM_OK);
		FUZZ_CHECK(strlen(text) == (size_t)units);
	}
	if (rc != KM_OK)
		FUZZ_CHECK(written == 0);

	/* The same strings through the GET_DESCRIPTOR answer. */
	struct km_proto_usb_identity id = {KM_USB_VID, KM_USB_PID, 0x0100, str, str, str};
	for (uint16_t type = 1; type <= 4; type++) {
		for (uint16_t index = 0; index <= 4; index++) {
			rc = km_proto_get_descriptor(&id, (uint16_t)(type << 8 | index), out, cap,
			                             &written);
			FUZZ_CHECK_RC(rc, KM_ERR_NOT_FOUND, KM_ERR_MALFORMED, KM_ERR_RANGE,
			              KM_ERR_OVERFLOW);
			FUZZ_CHECK(rc == KM_OK ? written <= cap && written >= 2 : written == 0);
		}
	}
	free(out);
	free(str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t sel = data[0], arg = data[1];
	uint8_t *buf = fuzz_dup(data + 2, size - 2);
	size_t len = size - 2;
	switch (sel % 5) {
	case 0:
		fuzz_info(buf, len);
		break;
	case 1:
		fuzz_status(buf, len);
		break;
	case 2:
		fuzz_setup(buf, len);
		break;
	case 3:
		fuzz_parse_string(buf, len, arg);
		break;
	default:
		/* cap 0..255 and the full 255 (arg 0xFF) */
		fuzz_make_string(buf, len, arg);
		break;
	}
	free(buf);
	return 0;
}
