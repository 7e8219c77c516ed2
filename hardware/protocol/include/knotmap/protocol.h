/*
 * knotmap USB wire protocol: device IDs, USB descriptors, vendor control
 * requests, the info/status blocks, the frame packet (header, encodings,
 * fragments, CRC-32C) and a host-side fragment reassembler.
 *
 * One definition shared by the firmware, the virtual mat and the driver.
 * PROTOCOL.md (next to this folder's CMakeLists.txt) documents every byte.
 *
 * Firmware-safe: this header needs only <stdint.h>, <stddef.h>, <stdbool.h>,
 * <string.h> and knotmap/core.h (for enum km_error). Everything here except the
 * km_proto_reasm_* functions is implemented in protocol.c, which allocates
 * nothing and calls no libc beyond memcpy/memset.
 *
 * Byte order: every multi-byte field on the wire is little-endian and is read
 * and written with the km_put_le / km_get_le helpers below, never
 * through packed structs.
 *
 * Thread safety: every function without an object argument is pure and
 * thread-safe; a reassembler must not be used from two threads at once.
 *
 * Error codes: decoders and parsers accept any byte string and return one of
 * KM_ERR_TRUNCATED, KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION, KM_ERR_BAD_CRC,
 * KM_ERR_MALFORMED, KM_ERR_OVERFLOW (output too small) or KM_ERR_INVALID_ARG
 * (NULL pointers); they never read outside [buf, buf + len).
 */
#ifndef KNOTMAP_PROTOCOL_H
#define KNOTMAP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "knotmap/bytes.h"
#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */
/* ------------------------------------------------------------------------ */

/* pid.codes test VID/PID (https://pid.codes/1209/0001/): a placeholder until
 * the project has its own PID. The one place these numbers are written. */
#define KM_USB_VID 0x1209
#define KM_USB_PID 0x0001

/* Wire protocol version carried in every packet and in the info block. A host
 * refuses a device whose version differs (KM_ERR_BAD_VERSION). */
#define KM_PROTO_VERSION 1

struct km_proto_device_id {
	uint16_t vid;
	uint16_t pid;
	const char *manufacturer; /* USB iManufacturer string, ASCII */
	const char *product;      /* USB iProduct string, ASCII */
};

/* Every device knotmap talks to; the driver, the udev rule generator and the
 * firmware descriptors all come from this table. Static storage, read-only. */
KM_API extern const struct km_proto_device_id km_proto_devices[];
KM_API extern const size_t km_proto_device_count;

/* The entry for vid:pid, or NULL when unknown. */
KM_API const struct km_proto_device_id *km_proto_find_device(uint16_t vid, uint16_t pid);

/* ------------------------------------------------------------------------ */
/* USB descriptors                                                           */
/* ------------------------------------------------------------------------ */

#define KM_USB_BCD_USB 0x0200     /* USB 2.0 (full speed device) */
#define KM_USB_EP_IN 0x81         /* bulk IN endpoint carrying frame packets */
#define KM_USB_EP0_MAX_PACKET 64  /* bMaxPacketSize0 */
#define KM_USB_BULK_MAX_PACKET 64 /* full-speed bulk wMaxPacketSize */
#define KM_USB_INTERFACE 0        /* the one vendor interface */
#define KM_USB_CONFIGURATION 1    /* bConfigurationValue */
#define KM_USB_MAX_POWER_MA 100   /* bMaxPower * 2 mA */

#define KM_USB_DEVICE_DESC_LEN 18
#define KM_USB_CONFIG_DESC_LEN 25  /* configuration 9 + interface 9 + endpoint 7 */
#define KM_USB_STRING_DESC_MAX 255 /* bLength is one byte: at most 126 UTF-16 units */

/* String descriptor indices used by the device descriptor. Index 0 is the
 * LANGID table (0x0409, English US). */
enum km_usb_string_index {
	KM_USB_STR_LANGID = 0,
	KM_USB_STR_MANUFACTURER = 1,
	KM_USB_STR_PRODUCT = 2,
	KM_USB_STR_SERIAL = 3,
};

/* Writes the 18-byte device descriptor (class 0 at device level, EP0 64 bytes,
 * string indices 1/2/3) for vid:pid with bcdDevice = bcd_device into out.
 * Returns KM_OK, KM_ERR_INVALID_ARG (NULL) or KM_ERR_OVERFLOW (cap < 18);
 * *written = bytes written (0 on error). */
KM_API int km_proto_device_descriptor(uint16_t vid, uint16_t pid, uint16_t bcd_device, uint8_t *out,
                                      size_t cap, size_t *written);

/* Writes the full 25-byte configuration descriptor: one configuration, one
 * interface (class 0xFF vendor, subclass 0, protocol 0, one endpoint), one bulk
 * IN endpoint KM_USB_EP_IN with wMaxPacketSize 64. Same return codes. */
KM_API int km_proto_config_descriptor(uint8_t *out, size_t cap, size_t *written);

/* Writes string descriptor 0: the LANGID table {0x0409} (4 bytes). */
KM_API int km_proto_langid_descriptor(uint8_t *out, size_t cap, size_t *written);

/* Writes a string descriptor holding `utf8` as UTF-16LE. Accepts UTF-8 in the
 * Basic Multilingual Plane; KM_ERR_MALFORMED for invalid UTF-8 or code points
 * above U+FFFF, KM_ERR_RANGE when longer than 126 UTF-16 units,
 * KM_ERR_OVERFLOW when cap is too small. */
KM_API int km_proto_string_descriptor(const char *utf8, uint8_t *out, size_t cap, size_t *written);

/* Reads a string descriptor (bLength, bDescriptorType 3, UTF-16LE) into a NUL
 * terminated ASCII string; non-ASCII units become '?'. KM_ERR_TRUNCATED when
 * len < bLength or len < 2, KM_ERR_MALFORMED for a wrong type or odd length,
 * KM_ERR_OVERFLOW when out_cap is too small for the text and the NUL. */
KM_API int km_proto_parse_string_descriptor(const uint8_t *buf, size_t len, char *out,
                                            size_t out_cap);

/* What a device says about itself in its descriptors. */
struct km_proto_usb_identity {
	uint16_t vid;
	uint16_t pid;
	uint16_t bcd_device;      /* firmware version, BCD */
	const char *manufacturer; /* UTF-8 (BMP), <= 126 characters */
	const char *product;
	const char *serial;
};

/* Answers a standard GET_DESCRIPTOR request: w_value = (type << 8) | index.
 * DEVICE (type 1), CONFIGURATION (type 2, index 0: the full 25-byte set) and
 * STRING (type 3, index 0 LANGID, 1..3 from id) are known; anything else is
 * KM_ERR_NOT_FOUND (the device STALLs). Writes the whole descriptor; the USB
 * stack sends at most wLength of it. Also KM_ERR_INVALID_ARG, KM_ERR_OVERFLOW
 * and the string descriptor codes. For the firmware and device emulators. */
KM_API int km_proto_get_descriptor(const struct km_proto_usb_identity *id, uint16_t w_value,
                                   uint8_t *out, size_t cap, size_t *written);

/* The Linux sysfs "descriptors" attribute of such a device: the device
 * descriptor followed by the configuration set (18 + 25 bytes). For umockdev
 * device descriptions ("H: descriptors=<hex>"). */
#define KM_USB_SYSFS_DESC_LEN (KM_USB_DEVICE_DESC_LEN + KM_USB_CONFIG_DESC_LEN)
KM_API int km_proto_sysfs_descriptors(uint16_t vid, uint16_t pid, uint16_t bcd_device, uint8_t *out,
                                      size_t cap, size_t *written);

/* ------------------------------------------------------------------------ */
/* Vendor control requests                                                   */
/* ------------------------------------------------------------------------ */

/* bmRequestType: vendor request addressed to the device (wIndex = 0). */
#define KM_PROTO_REQTYPE_IN 0xC0  /* device-to-host | vendor | device */
#define KM_PROTO_REQTYPE_OUT 0x40 /* host-to-device | vendor | device */

enum km_proto_request {
	/* IN, wValue 0, wIndex 0, wLength KM_PROTO_INFO_LEN: the info block. */
	KM_PROTO_REQ_GET_INFO = 0x01,
	/* OUT, no data: start scanning and streaming frame packets. The
	 * sequence number restarts at 0. */
	KM_PROTO_REQ_START = 0x02,
	/* OUT, no data: stop streaming (the current frame is finished first). */
	KM_PROTO_REQ_STOP = 0x03,
	/* OUT, no data, wValue = frame rate in Hz, 1..max_rate_hz; STALL otherwise. */
	KM_PROTO_REQ_SET_RATE = 0x04,
	/* OUT, no data, wValue = frames to average for the zero (tare) baseline,
	 * 0 = device default. Frames carry KM_PROTO_FLAG_ZEROING meanwhile. */
	KM_PROTO_REQ_ZERO = 0x05,
	/* IN, wLength KM_PROTO_STATUS_LEN: the status block. */
	KM_PROTO_REQ_GET_STATUS = 0x06,
};

/* The 8-byte SETUP packet, decoded. */
struct km_proto_setup {
	uint8_t bm_request_type;
	uint8_t b_request;
	uint16_t w_value;
	uint16_t w_index;
	uint16_t w_length;
};

#define KM_PROTO_SETUP_LEN 8
/* Writes the 8 SETUP bytes (little-endian words). out must hold 8 bytes. */
KM_API void km_proto_setup_encode(const struct km_proto_setup *s, uint8_t out[8]);
/* Reads 8 SETUP bytes; KM_ERR_TRUNCATED when len < 8. */
KM_API int km_proto_setup_decode(const uint8_t *buf, size_t len, struct km_proto_setup *out);

/* ------------------------------------------------------------------------ */
/* Info block (GET_INFO) and status block (GET_STATUS)                       */
/* ------------------------------------------------------------------------ */

#define KM_PROTO_INFO_LEN 64
#define KM_PROTO_SERIAL_MAX 32 /* serial characters on the wire (NUL padded) */

struct km_proto_info {
	uint16_t protocol_version; /* KM_PROTO_VERSION */
	uint16_t rows;             /* 1..KM_FRAME_MAX_DIM */
	uint16_t cols;             /* 1..KM_FRAME_MAX_DIM */
	uint32_t pitch_um;         /* cell centre spacing, micrometres, > 0 */
	uint8_t geometry;          /* enum km_geometry */
	uint8_t adc_bits;          /* 1..16: counts are 0 .. 2^adc_bits - 1 */
	uint8_t encodings;         /* bit (1 << enum km_proto_encoding) per supported one */
	uint32_t firmware_version; /* (major << 16) | (minor << 8) | patch */
	uint32_t calibration_id;   /* which calibration table fits this mat; 0 = none */
	uint16_t rate_hz;          /* current frame rate, 1..max_rate_hz */
	uint16_t max_rate_hz;      /* >= 1 */
	uint32_t max_transfer;     /* largest packet the device sends, bytes */
	char serial[KM_PROTO_SERIAL_MAX + 1]; /* printable ASCII 0x21..0x7E, NUL terminated */
};

/* Writes the 64-byte info block. KM_ERR_INVALID_ARG for NULL or a field out of
 * its documented range (also a serial with characters outside 0x21..0x7E or
 * longer than 32), KM_ERR_OVERFLOW when cap < 64. */
KM_API int km_proto_info_encode(const struct km_proto_info *info, uint8_t *out, size_t cap,
                                size_t *written);
/* Reads an info block. Extra bytes beyond the declared block length are
 * ignored (later versions may append fields). KM_ERR_TRUNCATED,
 * KM_ERR_BAD_VERSION (protocol_version != KM_PROTO_VERSION), KM_ERR_MALFORMED
 * (any field out of range). *out is zeroed on error. */
KM_API int km_proto_info_decode(const uint8_t *buf, size_t len, struct km_proto_info *out);

#define KM_PROTO_STATUS_LEN 24

enum km_proto_status_flag {
	KM_PROTO_STATUS_RUNNING = 1u << 0, /* streaming (START received) */
	KM_PROTO_STATUS_ZEROING = 1u << 1, /* a ZERO is in progress */
};

struct km_proto_status {
	uint32_t flags;          /* enum km_proto_status_flag bits */
	uint32_t next_sequence;  /* sequence number of the next frame */
	uint32_t overruns;       /* frames skipped because USB was busy, since START */
	uint16_t rate_hz;        /* current frame rate */
	uint16_t reserved;       /* 0 */
	uint64_t device_time_us; /* device clock now */
};

/* 24-byte status block. Same conventions as the info block. */
KM_API int km_proto_status_encode(const struct km_proto_status *st, uint8_t *out, size_t cap,
                                  size_t *written);
KM_API int km_proto_status_decode(const uint8_t *buf, size_t len, struct km_proto_status *out);

/* ------------------------------------------------------------------------ */
/* Frame packets                                                             */
/* ------------------------------------------------------------------------ */

/* Packet = 40-byte header + payload + CRC-32C (4 bytes, over header+payload). */
#define KM_PROTO_MAGIC 0x50414D4Bu /* bytes "KMAP" */
#define KM_PROTO_HEADER_LEN 40
#define KM_PROTO_CRC_LEN 4
#define KM_PROTO_PACKET_OVERHEAD (KM_PROTO_HEADER_LEN + KM_PROTO_CRC_LEN)
/* Largest packet (one bulk transfer) the device sends and the host reads. */
#define KM_PROTO_MAX_TRANSFER 16384
#define KM_PROTO_MAX_FRAG_PAYLOAD (KM_PROTO_MAX_TRANSFER - KM_PROTO_PACKET_OVERHEAD)
/* Smallest max_transfer accepted by km_proto_encode_frame_split. */
#define KM_PROTO_MIN_TRANSFER (KM_PROTO_PACKET_OVERHEAD + 4)

enum km_proto_encoding {
	/* 2 bytes per cell, little-endian: any 16-bit count. */
	KM_PROTO_ENC_RAW16 = 0,
	/* 12-bit counts, two cells in 3 bytes; an odd last cell takes 2 bytes. */
	KM_PROTO_ENC_RAW12 = 1,
	/* Lossless, self-contained: residual vs the LOCO-I median predictor
	 * (left, above, above-left), zig-zag, 4-bit tokens with zero runs,
	 * mid-size residuals and literals (PROTOCOL.md). */
	KM_PROTO_ENC_DELTA = 2,
	/* Lossless: residual vs the same cell of the previous frame (sequence - 1),
	 * same token stream. Decodable only when that frame arrived. */
	KM_PROTO_ENC_DELTA_TEMPORAL = 3,
};
#define KM_PROTO_ENC_COUNT 4

enum km_proto_flag {
	KM_PROTO_FLAG_SATURATED = 1u << 0, /* some cell at the ADC ceiling */
	KM_PROTO_FLAG_ZEROING = 1u << 1,   /* a ZERO baseline is being captured */
	KM_PROTO_FLAG_OVERRUN = 1u << 2,   /* device dropped frames before this one */
	KM_PROTO_FLAG_ZEROED = 1u << 3,    /* counts have the zero baseline subtracted */
};
#define KM_PROTO_FLAGS_KNOWN 0x0Fu

/* What the encoder needs to know about a frame (and what a parsed packet
 * says about its frame). */
struct km_proto_frame_header {
	uint32_t sequence;     /* increments by 1 per frame, wraps at 2^32 */
	uint64_t timestamp_us; /* device clock at the start of the scan */
	uint16_t rows;         /* 1..KM_FRAME_MAX_DIM */
	uint16_t cols;         /* 1..KM_FRAME_MAX_DIM */
	uint8_t encoding;      /* enum km_proto_encoding */
	uint8_t flags;         /* enum km_proto_flag bits */
};

/* One parsed packet. payload points into the buffer given to the parser. */
struct km_proto_packet {
	struct km_proto_frame_header header;
	uint16_t frag_index;  /* 0..frag_count-1 */
	uint16_t frag_count;  /* >= 1 */
	uint32_t frag_offset; /* where this payload starts in the frame's payload */
	uint32_t total_len;   /* the whole frame's encoded payload, bytes */
	uint32_t payload_len; /* this fragment's payload, bytes */
	const uint8_t *payload;
};

/* Largest encoded payload (all fragments together) of one frame in any
 * encoding: 2.5 bytes per cell, rounded up (DELTA worst case: every cell a
 * 5-nibble literal). */
#define KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols) ((5u * (size_t)(rows) * (size_t)(cols) + 1u) / 2u)
/* Upper bound of what km_proto_encode_frame writes for one frame, as a
 * constant expression for static buffers (firmware). */
#define KM_PROTO_MAX_PACKET_BYTES(rows, cols)                                                      \
	(KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols) +                                                  \
	 KM_PROTO_PACKET_OVERHEAD *                                                                \
	     ((KM_PROTO_MAX_PAYLOAD_BYTES(rows, cols) + KM_PROTO_MAX_FRAG_PAYLOAD - 1) /           \
	      KM_PROTO_MAX_FRAG_PAYLOAD))

/* Upper bound of the bytes km_proto_encode_frame writes for a rows x cols
 * frame (all fragments, any encoding); 0 when rows or cols is 0 or above
 * KM_FRAME_MAX_DIM. */
KM_API size_t km_proto_max_packet_bytes(uint16_t rows, uint16_t cols);
/* The same bound for km_proto_encode_frame_split with packets of at most
 * max_transfer bytes; 0 also when max_transfer is outside
 * KM_PROTO_MIN_TRANSFER..KM_PROTO_MAX_TRANSFER. */
KM_API size_t km_proto_max_packet_bytes_split(uint16_t rows, uint16_t cols, size_t max_transfer);

/* Encoded payload size of a frame in an encoding, without writing it (for
 * bandwidth estimates and choosing an encoding). prev_counts is used only by
 * DELTA_TEMPORAL (required there). Returns KM_OK, KM_ERR_INVALID_ARG,
 * KM_ERR_SHAPE, KM_ERR_RANGE (RAW12 with a count > 4095) or
 * KM_ERR_UNSUPPORTED (unknown encoding). */
KM_API int km_proto_payload_size(uint8_t encoding, uint16_t rows, uint16_t cols,
                                 const uint16_t *counts, const uint16_t *prev_counts, size_t *size);

/*
 * Encodes one frame as one or more complete packets written back to back
 * into out (fragments of at most KM_PROTO_MAX_TRANSFER bytes each).
 * h: rows, cols, encoding, flags, sequence, timestamp.
 * counts: [rows x cols] row-major ADC counts (RAW12: each <= 4095).
 * prev_counts: [rows x cols] the previous frame's counts, required for
 *   DELTA_TEMPORAL, ignored otherwise (may be NULL).
 * out/cap: destination; km_proto_max_packet_bytes(rows, cols) always suffices.
 * *written: total bytes written (0 on error); *n_packets (may be NULL) how many.
 * Returns KM_OK, KM_ERR_INVALID_ARG (NULL, unknown flag bits), KM_ERR_SHAPE,
 * KM_ERR_RANGE, KM_ERR_UNSUPPORTED or KM_ERR_OVERFLOW (cap too small).
 * Allocates nothing. Thread-safe.
 */
KM_API int km_proto_encode_frame(const struct km_proto_frame_header *h, const uint16_t *counts,
                                 const uint16_t *prev_counts, uint8_t *out, size_t cap,
                                 size_t *written);

/* Same, with packets of at most max_transfer bytes (KM_PROTO_MIN_TRANSFER ..
 * KM_PROTO_MAX_TRANSFER; KM_ERR_RANGE otherwise). n_packets may be NULL. */
KM_API int km_proto_encode_frame_split(const struct km_proto_frame_header *h,
                                       const uint16_t *counts, const uint16_t *prev_counts,
                                       size_t max_transfer, uint8_t *out, size_t cap,
                                       size_t *written, size_t *n_packets);

/*
 * Parses the packet at the start of buf[0..len). On KM_OK fills *out (payload
 * points into buf) and *consumed = the packet's length, so several packets
 * in one buffer are parsed by advancing buf. Checks, in this order: magic
 * (KM_ERR_TRUNCATED when len < 4, KM_ERR_BAD_MAGIC), version
 * (KM_ERR_BAD_VERSION), header length, payload length and buffer length
 * (KM_ERR_TRUNCATED / KM_ERR_MALFORMED), CRC (KM_ERR_BAD_CRC), then the
 * fields (KM_ERR_MALFORMED: zero or too large rows/cols, unknown encoding or
 * flags, fragment index/offset outside the frame, total_len larger than the
 * encoding allows). *consumed is 0 on error. Thread-safe.
 */
KM_API int km_proto_parse_packet(const uint8_t *buf, size_t len, struct km_proto_packet *out,
                                 size_t *consumed);

/*
 * Decodes a complete encoded payload into counts[rows x cols].
 * prev_counts: the previous frame, required for DELTA_TEMPORAL (else ignored).
 * Returns KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_OVERFLOW
 * (counts_cap < rows * cols), KM_ERR_TRUNCATED (payload ends early),
 * KM_ERR_MALFORMED (bad token, run past the end, value outside 0..65535 or
 * RAW12 padding bits set, trailing bytes), KM_ERR_UNSUPPORTED (encoding).
 */
KM_API int km_proto_decode_payload(uint8_t encoding, uint16_t rows, uint16_t cols,
                                   const uint8_t *payload, size_t len, const uint16_t *prev_counts,
                                   uint16_t *counts, size_t counts_cap);

/* ------------------------------------------------------------------------ */
/* Reassembler (host only: allocates at create through km_set_allocator)    */
/* ------------------------------------------------------------------------ */

typedef struct km_proto_reasm km_proto_reasm;

struct km_proto_reasm_config {
	uint16_t max_rows; /* largest frame accepted, 1..KM_FRAME_MAX_DIM (default 128) */
	uint16_t max_cols; /* (default 128) */
	struct km_log log; /* default silent */
};

/* A complete frame handed out by the reassembler. */
struct km_proto_frame {
	struct km_proto_frame_header header;
	uint32_t dropped_since_last; /* sequence gap to the previous complete frame */
	const uint16_t *counts;      /* [rows x cols] row-major; owned by the reassembler,
	                              * valid until the next push, reset or destroy */
};

/* Counters since create/reset. */
struct km_proto_reasm_stats {
	uint64_t packets;     /* packets pushed (parsed or not) */
	uint64_t frames;      /* complete frames handed out */
	uint64_t bad_packets; /* failed to parse (CRC, magic, malformed...) */
	uint64_t duplicates;  /* fragments already received, ignored */
	uint64_t gaps;        /* fragments that did not continue the frame in progress */
	uint64_t incomplete;  /* frames abandoned because fragments were missing */
	uint64_t undecodable; /* complete frames whose payload did not decode */
	uint64_t lost_frames; /* sum of sequence gaps between complete frames */
	uint64_t restarts;    /* sequence jumped back by KM_PROTO_REASM_WINDOW or more */
};

/* A frame up to this many sequence numbers behind the last complete one is a
 * late duplicate and dropped; further back means the device restarted its
 * count (START without a host reset, replug), and the stream resumes there. */
#define KM_PROTO_REASM_WINDOW 16u

KM_API struct km_proto_reasm_config km_proto_reasm_config_default(void);

/* Allocates the storage for max_rows x max_cols once. KM_ERR_INVALID_ARG,
 * KM_ERR_SHAPE (dimension 0 or > KM_FRAME_MAX_DIM), KM_ERR_NO_MEMORY. *out is
 * NULL on error. */
KM_API int km_proto_reasm_create(const struct km_proto_reasm_config *cfg, km_proto_reasm **out);
/* Forgets any partial frame, the previous frame and the counters. Call when
 * the device is (re)started: sequence numbers restart at 0. */
KM_API void km_proto_reasm_reset(km_proto_reasm *r);
/* NULL is a no-op. */
KM_API void km_proto_reasm_destroy(km_proto_reasm *r);

/*
 * Feeds one parsed packet (in arrival order). *frame_ready is set true when
 * this packet completed a frame; read it with km_proto_reasm_frame().
 * Returns KM_OK (accepted or completed), or, with the packet dropped:
 *   KM_ERR_BAD_SEQUENCE: a duplicate fragment (the frame in progress is kept),
 *     a fragment out of order (the frame in progress is abandoned, unless the
 *     fragment belongs to an older frame, which is just dropped), a frame
 *     0..KM_PROTO_REASM_WINDOW-1 sequence numbers behind the last complete
 *     one (a late duplicate), or a DELTA_TEMPORAL frame whose
 *     reference (sequence - 1) did not arrive;
 *   KM_ERR_MALFORMED: a fragment disagreeing with its frame's other fragments
 *     (shape, encoding, flags, timestamp, sizes) or a payload that does not
 *     decode (frame abandoned);
 *   KM_ERR_SHAPE: a frame larger than max_rows x max_cols;
 *   KM_ERR_INVALID_ARG: NULL.
 * Allocates nothing.
 */
KM_API int km_proto_reasm_push(km_proto_reasm *r, const struct km_proto_packet *pkt,
                               bool *frame_ready);
/* Parses buf with km_proto_parse_packet and pushes it; *consumed = packet
 * length (or 0 when the packet did not parse; the parse code is returned and
 * counted as a bad packet). consumed may be NULL. */
KM_API int km_proto_reasm_push_bytes(km_proto_reasm *r, const uint8_t *buf, size_t len,
                                     bool *frame_ready, size_t *consumed);
/* The last completed frame, or NULL when none since create/reset. */
KM_API const struct km_proto_frame *km_proto_reasm_frame(const km_proto_reasm *r);
KM_API void km_proto_reasm_stats(const km_proto_reasm *r, struct km_proto_reasm_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_PROTOCOL_H */
