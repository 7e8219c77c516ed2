/* CRC-32C, device table, USB descriptors, SETUP packets, info/status blocks. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto_test_util.h"

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

Test(crc, check_value_and_table)
{
	/* The standard CRC-32C check value (RFC 3720 B.4, iSCSI). */
	cr_assert_eq(km_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(km_crc32c(0, NULL, 0), 0u);
	/* 32 zero bytes: RFC 3720 B.4 gives 0x8A9136AA. */
	uint8_t z[32] = {0};
	cr_assert_eq(km_crc32c(0, z, sizeof z), 0x8A9136AAu);
	/* Every single byte value against a bitwise reference (covers the table). */
	for (unsigned v = 0; v < 256; v++) {
		uint8_t b = (uint8_t)v;
		cr_assert_eq(km_crc32c(0, &b, 1), crc_bitwise(&b, 1), "byte %u", v);
	}
}

/* Every length 0..300 at every start alignment 0..7, in one piece and split
 * in two: on x86-64 this runs the SSE4.2 path (its unaligned head, 8-byte
 * body and tail), elsewhere the table; both equal the bitwise definition. */
Test(crc, every_length_and_alignment)
{
	uint8_t buf[320];
	uint64_t s = 11;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)tu_rand(&s);
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 300; n++) {
			uint32_t want = crc_bitwise(buf + off, n);
			cr_assert_eq(km_crc32c(0, buf + off, n), want, "off %zu len %zu", off, n);
			size_t h = n / 3;
			uint32_t head = km_crc32c(0, buf + off, h);
			cr_assert_eq(km_crc32c(head, buf + off + h, n - h), want);
		}
}

Test(crc, incremental_equals_one_shot)
{
	uint8_t buf[1000];
	uint64_t s = 3;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)tu_rand(&s);
	uint32_t whole = km_crc32c(0, buf, sizeof buf);
	cr_assert_eq(whole, crc_bitwise(buf, sizeof buf));
	for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
		uint32_t c = km_crc32c(0, buf, cut);
		c = km_crc32c(c, buf + cut, sizeof buf - cut);
		cr_assert_eq(c, whole);
	}
}

Test(usb, device_table_and_vid_pid)
{
	cr_assert_geq(km_proto_device_count, 1);
	cr_assert_eq(km_proto_devices[0].vid, KM_USB_VID);
	cr_assert_eq(km_proto_devices[0].pid, KM_USB_PID);
	cr_assert_eq(KM_USB_VID, 0x1209);
	cr_assert_eq(km_proto_find_device(KM_USB_VID, KM_USB_PID), &km_proto_devices[0]);
	cr_assert_null(km_proto_find_device(0x1d6b, 0x0002));
	for (size_t i = 0; i < km_proto_device_count; i++) {
		cr_assert_not_null(km_proto_devices[i].manufacturer);
		cr_assert_not_null(km_proto_devices[i].product);
	}
}

Test(usb, device_descriptor_bytes)
{
	uint8_t d[32];
	size_t w = 0;
	cr_assert_eq(km_proto_device_descriptor(0x1209, 0x0001, 0x0102, d, sizeof d, &w), KM_OK);
	const uint8_t expect[18] = {18,   1,    0x00, 0x02, 0,    0, 0, 64, 0x09,
	                            0x12, 0x01, 0x00, 0x02, 0x01, 1, 2, 3,  1};
	cr_assert_eq(w, 18);
	cr_assert_arr_eq(d, expect, 18);
	cr_assert_eq(km_proto_device_descriptor(1, 2, 3, d, 17, &w), KM_ERR_OVERFLOW);
	cr_assert_eq(w, 0);
	cr_assert_eq(km_proto_device_descriptor(1, 2, 3, NULL, 18, &w), KM_ERR_INVALID_ARG);
}

Test(usb, config_descriptor_is_consistent)
{
	uint8_t d[64];
	size_t w = 0;
	cr_assert_eq(km_proto_config_descriptor(d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, KM_USB_CONFIG_DESC_LEN);
	cr_assert_eq(km_get_le16(d + 2), w, "wTotalLength");
	/* Walk the descriptors: each bLength in range, types in order. */
	const uint8_t types[] = {2, 4, 5};
	size_t pos = 0, k = 0;
	while (pos < w) {
		cr_assert_lt(k, 3);
		cr_assert_geq(d[pos], 2);
		cr_assert_leq(pos + d[pos], w);
		cr_assert_eq(d[pos + 1], types[k]);
		if (types[k] == 4) {
			cr_assert_eq(d[pos + 4], 1, "one endpoint");
			cr_assert_eq(d[pos + 5], 0xFF, "vendor class");
		}
		if (types[k] == 5) {
			cr_assert_eq(d[pos + 2], KM_USB_EP_IN);
			cr_assert_eq(d[pos + 3], 2, "bulk");
			cr_assert_eq(km_get_le16(d + pos + 4), 64);
		}
		pos += d[pos];
		k++;
	}
	cr_assert_eq(k, 3);
	cr_assert_eq(km_proto_config_descriptor(d, 24, &w), KM_ERR_OVERFLOW);
}

Test(usb, string_descriptors)
{
	uint8_t d[KM_USB_STRING_DESC_MAX];
	size_t w = 0;
	cr_assert_eq(km_proto_langid_descriptor(d, sizeof d, &w), KM_OK);
	const uint8_t lang[4] = {4, 3, 0x09, 0x04};
	cr_assert_arr_eq(d, lang, 4);

	cr_assert_eq(km_proto_string_descriptor("KM-0001", d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, 2 + 2 * 7);
	cr_assert_eq(d[0], w);
	cr_assert_eq(d[1], 3);
	cr_assert_eq(d[2], 'K');
	cr_assert_eq(d[3], 0);
	char back[64];
	cr_assert_eq(km_proto_parse_string_descriptor(d, w, back, sizeof back), KM_OK);
	cr_assert_str_eq(back, "KM-0001");
	cr_assert_eq(km_proto_parse_string_descriptor(d, w, back, 7), KM_ERR_OVERFLOW);
	cr_assert_eq(km_proto_parse_string_descriptor(d, w - 1, back, 64), KM_ERR_TRUNCATED);
	cr_assert_eq(km_proto_parse_string_descriptor(d, 1, back, 64), KM_ERR_TRUNCATED);
	d[1] = 2;
	cr_assert_eq(km_proto_parse_string_descriptor(d, w, back, 64), KM_ERR_MALFORMED);

	/* UTF-8 (BMP) becomes UTF-16LE: "é" U+00E9, "€" U+20AC. */
	cr_assert_eq(km_proto_string_descriptor("\xc3\xa9\xe2\x82\xac", d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, 6);
	cr_assert_eq(km_get_le16(d + 2), 0x00E9);
	cr_assert_eq(km_get_le16(d + 4), 0x20AC);
	cr_assert_eq(km_proto_parse_string_descriptor(d, w, back, sizeof back), KM_OK);
	cr_assert_str_eq(back, "??");
	/* Invalid UTF-8, outside the BMP, overlong, lone continuation. */
	cr_assert_eq(km_proto_string_descriptor("\xf0\x9f\x98\x80", d, sizeof d, &w),
	             KM_ERR_MALFORMED);
	cr_assert_eq(km_proto_string_descriptor("\xc0\xaf", d, sizeof d, &w), KM_ERR_MALFORMED);
	cr_assert_eq(km_proto_string_descriptor("a\x80", d, sizeof d, &w), KM_ERR_MALFORMED);
	cr_assert_eq(km_proto_string_descriptor("\xc3", d, sizeof d, &w), KM_ERR_MALFORMED);
	/* 126 units fit, 127 do not. */
	char longs[200];
	memset(longs, 'x', 126);
	longs[126] = '\0';
	cr_assert_eq(km_proto_string_descriptor(longs, d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, 254);
	longs[126] = 'x';
	longs[127] = '\0';
	cr_assert_eq(km_proto_string_descriptor(longs, d, sizeof d, &w), KM_ERR_RANGE);
	cr_assert_eq(km_proto_string_descriptor("abc", d, 7, &w), KM_ERR_OVERFLOW);
	/* The device table's strings all encode. */
	for (size_t i = 0; i < km_proto_device_count; i++) {
		cr_assert_eq(
		    km_proto_string_descriptor(km_proto_devices[i].product, d, sizeof d, &w),
		    KM_OK);
		cr_assert_eq(
		    km_proto_string_descriptor(km_proto_devices[i].manufacturer, d, sizeof d, &w),
		    KM_OK);
	}
}

Test(usb, get_descriptor_answers_standard_requests)
{
	struct km_proto_usb_identity id = {
	    KM_USB_VID, KM_USB_PID, 0x0100, "knotmap", "knotmap pressure mat", "KM-0042"};
	uint8_t d[KM_USB_STRING_DESC_MAX], ref[64];
	size_t w = 0, wr = 0;
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0100, d, sizeof d, &w), KM_OK);
	cr_assert_eq(
	    km_proto_device_descriptor(KM_USB_VID, KM_USB_PID, 0x0100, ref, sizeof ref, &wr),
	    KM_OK);
	cr_assert_eq(w, wr);
	cr_assert_arr_eq(d, ref, w);
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0200, d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, KM_USB_CONFIG_DESC_LEN);
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0300, d, sizeof d, &w), KM_OK);
	cr_assert_eq(w, 4);
	char s[64];
	const char *want[] = {NULL, "knotmap", "knotmap pressure mat", "KM-0042"};
	for (uint16_t i = 1; i <= 3; i++) {
		cr_assert_eq(km_proto_get_descriptor(&id, (uint16_t)(0x0300 | i), d, sizeof d, &w),
		             KM_OK);
		cr_assert_eq(km_proto_parse_string_descriptor(d, w, s, sizeof s), KM_OK);
		cr_assert_str_eq(s, want[i]);
	}
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0304, d, sizeof d, &w), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0201, d, sizeof d, &w), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0600, d, sizeof d, &w), KM_ERR_NOT_FOUND,
	             "device qualifier: full-speed only");
	id.serial = NULL;
	cr_assert_eq(km_proto_get_descriptor(&id, 0x0303, d, sizeof d, &w), KM_ERR_NOT_FOUND);

	/* sysfs "descriptors": device then configuration. */
	cr_assert_eq(km_proto_sysfs_descriptors(KM_USB_VID, KM_USB_PID, 0x0100, d, sizeof d, &w),
	             KM_OK);
	cr_assert_eq(w, KM_USB_SYSFS_DESC_LEN);
	cr_assert_arr_eq(d, ref, KM_USB_DEVICE_DESC_LEN);
	cr_assert_eq(d[KM_USB_DEVICE_DESC_LEN + 1], 0x02);
	cr_assert_eq(km_proto_sysfs_descriptors(1, 2, 3, d, KM_USB_SYSFS_DESC_LEN - 1, &w),
	             KM_ERR_OVERFLOW);
}

Test(usb, setup_packet_round_trip)
{
	struct km_proto_setup s = {KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE, 100, 0, 0}, t;
	uint8_t b[8];
	km_proto_setup_encode(&s, b);
	const uint8_t expect[8] = {0x40, 0x04, 100, 0, 0, 0, 0, 0};
	cr_assert_arr_eq(b, expect, 8);
	cr_assert_eq(km_proto_setup_decode(b, 8, &t), KM_OK);
	cr_assert_eq(t.bm_request_type, s.bm_request_type);
	cr_assert_eq(t.b_request, s.b_request);
	cr_assert_eq(t.w_value, 100);
	cr_assert_eq(km_proto_setup_decode(b, 7, &t), KM_ERR_TRUNCATED);
}

static struct km_proto_info sample_info(void)
{
	struct km_proto_info in;
	memset(&in, 0, sizeof in);
	in.protocol_version = KM_PROTO_VERSION;
	in.rows = 64;
	in.cols = 48;
	in.pitch_um = 7500;
	in.geometry = KM_GEOMETRY_CYLINDER;
	in.adc_bits = 12;
	in.encodings = (1u << KM_PROTO_ENC_RAW12) | (1u << KM_PROTO_ENC_DELTA);
	in.firmware_version = 0x00010203;
	in.calibration_id = 0xCAFE;
	in.rate_hz = 100;
	in.max_rate_hz = 200;
	in.max_transfer = KM_PROTO_MAX_TRANSFER;
	strcpy(in.serial, "KM-TEST-0001");
	return in;
}

Test(info, round_trip)
{
	struct km_proto_info in = sample_info(), out;
	uint8_t b[KM_PROTO_INFO_LEN + 8];
	size_t w = 0;
	cr_assert_eq(km_proto_info_encode(&in, b, sizeof b, &w), KM_OK);
	cr_assert_eq(w, KM_PROTO_INFO_LEN);
	cr_assert_eq(km_proto_info_decode(b, w, &out), KM_OK);
	cr_assert_eq(memcmp(&in, &out, sizeof in), 0);
	/* A longer block from a newer firmware: extra bytes ignored. */
	km_put_le16(b + 2, KM_PROTO_INFO_LEN + 8);
	memset(b + KM_PROTO_INFO_LEN, 0xEE, 8);
	cr_assert_eq(km_proto_info_decode(b, sizeof b, &out), KM_OK);
	cr_assert_str_eq(out.serial, "KM-TEST-0001");
	/* A 32-character serial fills the field with no terminator on the wire. */
	memset(in.serial, 'Z', KM_PROTO_SERIAL_MAX);
	in.serial[KM_PROTO_SERIAL_MAX] = '\0';
	cr_assert_eq(km_proto_info_encode(&in, b, sizeof b, &w), KM_OK);
	cr_assert_eq(km_proto_info_decode(b, w, &out), KM_OK);
	cr_assert_eq(strlen(out.serial), KM_PROTO_SERIAL_MAX);
}

Test(info, rejects_bad_fields)
{
	uint8_t b[KM_PROTO_INFO_LEN];
	size_t w;
	struct km_proto_info in = sample_info(), out;
	in.rate_hz = 300;
	cr_assert_eq(km_proto_info_encode(&in, b, sizeof b, &w), KM_ERR_INVALID_ARG);
	in = sample_info();
	in.serial[3] = ' ';
	cr_assert_eq(km_proto_info_encode(&in, b, sizeof b, &w), KM_ERR_INVALID_ARG);
	in = sample_info();
	cr_assert_eq(km_proto_info_encode(&in, b, KM_PROTO_INFO_LEN - 1, &w), KM_ERR_OVERFLOW);
	cr_assert_eq(km_proto_info_encode(&in, b, sizeof b, &w), KM_OK);

	struct {
		size_t off;
		int width;
		uint32_t value;
		int expect;
	} cases[] = {
	    {0, 2, 2, KM_ERR_BAD_VERSION},   {2, 2, 63, KM_ERR_MALFORMED},
	    {4, 2, 0, KM_ERR_MALFORMED},     {6, 2, 1025, KM_ERR_MALFORMED},
	    {8, 4, 0, KM_ERR_MALFORMED},     {12, 1, 2, KM_ERR_MALFORMED},
	    {13, 1, 0, KM_ERR_MALFORMED},    {13, 1, 17, KM_ERR_MALFORMED},
	    {14, 1, 0xF0, KM_ERR_MALFORMED}, {24, 2, 0, KM_ERR_MALFORMED},
	    {24, 2, 201, KM_ERR_MALFORMED},  {26, 2, 0, KM_ERR_MALFORMED},
	    {28, 4, 20, KM_ERR_MALFORMED},   {28, 4, 1u << 20, KM_ERR_MALFORMED},
	    {33, 1, 0x7F, KM_ERR_MALFORMED}, {50, 1, 'a', KM_ERR_MALFORMED}, /* after NUL */
	};
	uint8_t ref[KM_PROTO_INFO_LEN];
	memcpy(ref, b, sizeof ref);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(b, ref, sizeof b);
		if (cases[i].width == 1)
			b[cases[i].off] = (uint8_t)cases[i].value;
		else if (cases[i].width == 2)
			km_put_le16(b + cases[i].off, (uint16_t)cases[i].value);
		else
			km_put_le32(b + cases[i].off, cases[i].value);
		cr_assert_eq(km_proto_info_decode(b, sizeof b, &out), cases[i].expect, "case %zu",
		             i);
		cr_assert_eq(out.rows, 0, "zeroed on error");
	}
	for (size_t l = 0; l < KM_PROTO_INFO_LEN; l++)
		cr_assert_eq(km_proto_info_decode(ref, l, &out), KM_ERR_TRUNCATED, "len %zu", l);
	cr_assert_eq(km_proto_info_decode(NULL, 64, &out), KM_ERR_INVALID_ARG);
}

Test(info, garbage_never_crashes)
{
	uint64_t s = 9;
	uint8_t b[80];
	struct km_proto_info out;
	struct km_proto_status st;
	for (int it = 0; it < 20000; it++) {
		size_t len = tu_rand(&s) % sizeof b;
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)tu_rand(&s);
		if (len >= 4) {
			km_put_le16(b, KM_PROTO_VERSION);
			km_put_le16(b + 2, KM_PROTO_INFO_LEN);
		}
		uint8_t *t = malloc(len ? len : 1);
		memcpy(t, b, len);
		cr_assert_leq(km_proto_info_decode(t, len, &out), 0);
		cr_assert_leq(km_proto_status_decode(t, len, &st), 0);
		free(t);
	}
}

Test(status, round_trip_and_truncation)
{
	struct km_proto_status st = {KM_PROTO_STATUS_RUNNING, 12345, 3, 100, 0,
	                             0x1122334455667788ull},
	                       out;
	uint8_t b[KM_PROTO_STATUS_LEN];
	size_t w;
	cr_assert_eq(km_proto_status_encode(&st, b, sizeof b, &w), KM_OK);
	cr_assert_eq(w, KM_PROTO_STATUS_LEN);
	cr_assert_eq(km_proto_status_decode(b, w, &out), KM_OK);
	cr_assert_eq(memcmp(&st, &out, sizeof st), 0);
	cr_assert_eq(km_proto_status_encode(&st, b, w - 1, &w), KM_ERR_OVERFLOW);
	for (size_t l = 0; l < KM_PROTO_STATUS_LEN; l++)
		cr_assert_eq(km_proto_status_decode(b, l, &out), KM_ERR_TRUNCATED);
}
