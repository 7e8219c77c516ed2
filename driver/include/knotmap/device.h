/*
 * knotmap driver: finding mats. A mat is a USB device from the protocol's
 * device table (hardware/protocol), the in-process virtual mat, or a
 * recording; struct km_device_info describes any of them.
 *
 * Thread safety: km_device_list may be called from any thread; it uses its
 * own libusb context unless one is given.
 */
#ifndef KNOTMAP_DEVICE_H
#define KNOTMAP_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where frames come from. AUTO = the first real mat if one is plugged in, else
 * the virtual mat. */
enum km_transport_kind {
	KM_TRANSPORT_AUTO = 0,
	KM_TRANSPORT_LIBUSB = 1,
	KM_TRANSPORT_SIM = 2,
	KM_TRANSPORT_REPLAY = 3,
};

/* "auto", "libusb", "sim", "replay"; "unknown" otherwise. Never NULL. */
KM_API const char *km_transport_name(enum km_transport_kind kind);
/* Parses the names above. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_transport_parse(const char *name, enum km_transport_kind *out);

#define KM_DEVICE_SERIAL_MAX 64 /* bytes including the NUL */
#define KM_DEVICE_NAME_MAX 64

/* One mat. Plain data; strings are NUL-terminated (truncated if longer). */
struct km_device_info {
	enum km_transport_kind transport;
	char serial[KM_DEVICE_SERIAL_MAX];
	char product[KM_DEVICE_NAME_MAX];  /* USB product string or "virtual mat" */
	char location[KM_DEVICE_NAME_MAX]; /* "usb 001:004", "sim", or the file name */
	uint16_t vid, pid;                 /* 0 for sim and replay */
	uint8_t bus, address;              /* USB bus number and device address */
	uint16_t rows, cols;               /* sensor grid */
	float pitch_mm;                    /* cell pitch, both axes */
	enum km_geometry geometry;
	uint32_t firmware_version; /* (major << 16) | (minor << 8) | patch */
	uint16_t protocol_version;
	uint16_t rate_hz;    /* current frame rate */
	uint16_t max_counts; /* ADC ceiling, e.g. 4095 for 12 bits */
	/* KM_OK when the fields above came from the device's info block; else the
	 * error met while opening it (e.g. KM_ERR_PERMISSION: only vid/pid/bus/address
	 * and location are valid then). */
	int status;
};

/*
 * Lists the mats plugged in over USB (devices matching the protocol's device
 * table). Opens each one briefly to read its serial and info block.
 * libusb_context: a libusb_context * to use, or NULL for a private one.
 * log: may be NULL. out: array of cap entries (may be NULL when cap is 0).
 * *count receives how many mats were found (may exceed cap; only cap filled).
 * Returns KM_OK (also when none is found), KM_ERR_INVALID_ARG, KM_ERR_USB
 * (libusb could not start), KM_ERR_NO_MEMORY. A mat that cannot be opened is
 * still listed, with status set (KM_ERR_PERMISSION: see km_device_permission_hint).
 */
KM_API int km_device_list(void *libusb_context, const struct km_log *log,
                          struct km_device_info *out, size_t cap, size_t *count);

/* A fixed multi-line text telling the user how to install the udev rule
 * 70-knotmap.rules that grants access to the mat. Never NULL. */
KM_API const char *km_device_permission_hint(void);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_DEVICE_H */
