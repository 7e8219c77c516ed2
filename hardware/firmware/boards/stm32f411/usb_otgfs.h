/*
 * USB device driver for the STM32F411 OTG_FS peripheral (RM0383 chapter 22),
 * full speed, internal PHY, no VBUS sensing: EP0 control and one bulk IN
 * endpoint (KM_USB_EP_IN, 64-byte packets), the descriptors and requests of
 * hardware/protocol.
 *
 * Split of work: the OTG_FS interrupt moves FIFO data and answers the
 * standard requests (boards/common/usb_ctrl.c decides what to answer);
 * vendor requests are NAKed until usb_task(), called from the main loop,
 * hands them to the firmware core (km_fw_control must not run in an ISR).
 * Bulk transfers are copied into the driver's buffer and sent from the
 * interrupt (TX FIFO empty), so a frame keeps streaming while the main loop
 * scans the next one.
 */
#ifndef KM_F411_USB_OTGFS_H
#define KM_F411_USB_OTGFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/protocol.h"

/* Largest bulk transfer usb_bulk_write accepts (one protocol packet). */
#ifndef USB_BULK_MAX
#define USB_BULK_MAX KM_PROTO_MAX_TRANSFER
#endif

/* Answers one vendor request (km_fw_control's shape). */
typedef int (*usb_vendor_fn)(void *user, const struct km_proto_setup *setup, uint8_t *reply,
                             size_t cap, size_t *reply_len);

/* Powers up OTG_FS on PA11/PA12 and connects (D+ pull-up). id and its strings
 * must stay valid. Needs the 48 MHz clock (board_clock_init) and the time
 * base (board_time_init) first. */
void usb_init(const struct km_proto_usb_identity *id);

/* Main loop: runs a pending vendor request through fn. Returns true once
 * after the host reset, deconfigured or halted the device since the last call
 * (the caller should stop streaming). */
bool usb_task(usb_vendor_fn fn, void *user);

/* Queues one bulk IN transfer of len bytes (1..USB_BULK_MAX), copied; a
 * zero-length packet follows when len is a multiple of 64. Returns KM_OK,
 * KM_ERR_BUSY (the previous transfer is still going), KM_ERR_NO_DEVICE (not
 * configured), KM_ERR_PIPE (endpoint halted by the host), KM_ERR_RANGE. */
int usb_bulk_write(const uint8_t *data, size_t len);

bool usb_configured(void);

/* The OTG_FS interrupt handler (vector table position 67, startup.c). */
void OTG_FS_IRQHandler(void);

#endif /* KM_F411_USB_OTGFS_H */
