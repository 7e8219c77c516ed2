/* core's byte helpers: little-endian fields at any alignment, CRC-32C. */
#include <criterion/criterion.h>
#include <string.h>

#include "knotmap/bytes.h"

Test(bytes, little_endian_round_trip_unaligned)
{
	uint8_t b[32];
	memset(b, 0xAA, sizeof b);
	km_put_le16(b + 1, 0xBEEF);
	km_put_le32(b + 3, 0x01234567u);
	km_put_le64(b + 7, 0x0123456789ABCDEFull);
	km_put_le_f32(b + 15, -1.5f);
	cr_assert_eq(b[1], 0xEF);
	cr_assert_eq(b[2], 0xBE);
	cr_assert_eq(b[3], 0x67);
	cr_assert_eq(b[6], 0x01);
	cr_assert_eq(b[7], 0xEF);
	cr_assert_eq(b[14], 0x01);
	cr_assert_eq(km_get_le16(b + 1), 0xBEEF);
	cr_assert_eq(km_get_le32(b + 3), 0x01234567u);
	cr_assert_eq(km_get_le64(b + 7), 0x0123456789ABCDEFull);
	cr_assert_eq(km_get_le_f32(b + 15), -1.5f);
	cr_assert_eq(b[0], 0xAA, "nothing written before the field");
	cr_assert_eq(b[19], 0xAA, "nothing written after the field");
}

Test(bytes, crc32c_check_value_and_continuation)
{
	cr_assert_eq(km_crc32c(0, "123456789", 9), 0xE3069283u);
	uint32_t a = km_crc32c(0, "12345", 5);
	cr_assert_eq(km_crc32c(a, "6789", 4), 0xE3069283u);
	cr_assert_eq(km_crc32c(0, NULL, 0), 0u);
	/* Long, odd-aligned input: the SSE4.2 path and the table must agree
	 * with a byte-at-a-time reference. */
	uint8_t buf[1031];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131u + 7u);
	uint32_t ref = 0;
	for (size_t i = 0; i < sizeof buf - 3; i++)
		ref = km_crc32c(ref, buf + 3 + i, 1);
	cr_assert_eq(km_crc32c(0, buf + 3, sizeof buf - 3), ref);
}
