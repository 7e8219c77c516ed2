/*
 * Byte-level helpers shared by the wire protocol, the firmware and the file
 * formats: little-endian fields and CRC-32C. Firmware-safe: no allocation, no
 * stdio, only memcpy from libc (core/src/bytes.c is compiled into the
 * firmware image).
 */
#ifndef KNOTMAP_BYTES_H
#define KNOTMAP_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Little-endian fields (any alignment)                                      */
/* ------------------------------------------------------------------------ */

static inline void km_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xFFu);
	p[1] = (uint8_t)(v >> 8);
}

static inline void km_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xFFu);
	p[1] = (uint8_t)((v >> 8) & 0xFFu);
	p[2] = (uint8_t)((v >> 16) & 0xFFu);
	p[3] = (uint8_t)(v >> 24);
}

static inline void km_put_le64(uint8_t *p, uint64_t v)
{
	km_put_le32(p, (uint32_t)(v & 0xFFFFFFFFu));
	km_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t km_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t km_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t km_get_le64(const uint8_t *p)
{
	return (uint64_t)km_get_le32(p) | ((uint64_t)km_get_le32(p + 4) << 32);
}

/* A float as its IEEE-754 bit pattern, little-endian. */
static inline void km_put_le_f32(uint8_t *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, sizeof v);
	km_put_le32(p, v);
}

static inline float km_get_le_f32(const uint8_t *p)
{
	uint32_t v = km_get_le32(p);
	float f;
	memcpy(&f, &v, sizeof f);
	return f;
}

/* ------------------------------------------------------------------------ */
/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)                     */
/* ------------------------------------------------------------------------ */

/* Continues a CRC-32C (init and final xor 0xFFFFFFFF): pass crc = 0 for the
 * first chunk, then the previous result. km_crc32c(0, "123456789", 9) ==
 * 0xE3069283. The USB protocol and the .kmrec format both use it. Table-driven
 * (1 KiB const table), SSE4.2 on x86-64 hosts. data may be NULL only when
 * len == 0. Thread-safe. */
KM_API uint32_t km_crc32c(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_BYTES_H */
