/*
 * A live USB mat for tests: a UMockdevIoctlBase handler answering usbfs
 * ioctls (SUBMITURB, REAPURB, DISCARDURB ...) from the virtual mat, with
 * fault injection (unplug, CRC corruption, truncation, STALL). The handler
 * runs on umockdev's worker thread; everything shared is under one lock.
 */
#ifndef KM_TEST_USB_EMULATOR_H
#define KM_TEST_USB_EMULATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <umockdev.h>

struct emu;

/* Adds the mat (device file + live handler) to tb. realtime: pace frames at
 * the mat's rate; else as fast as the client takes them. */
struct emu *emu_create(UMockdevTestbed *tb, const char *device_file, bool realtime);
void emu_destroy(struct emu *e);

/* Unplug: in-flight and new URBs fail with ENODEV, then a "remove" uevent. */
void emu_unplug(struct emu *e);
/* Replug: the mat answers again, then an "add" uevent. */
void emu_replug(struct emu *e);

enum emu_fault { EMU_CORRUPT = 1, EMU_TRUNCATE = 2, EMU_STALL = 3 };
/* The fault hits the packet of frame `sequence` (0-based since START). */
void emu_inject(struct emu *e, uint32_t sequence, enum emu_fault fault);
/* Stop sending after this many frames since START (default: unlimited). */
void emu_set_frame_limit(struct emu *e, uint32_t frames);

struct emu_stats {
	unsigned starts, stops, zeros, rate_requests, clear_halts;
	unsigned last_rate;
	unsigned max_in_flight; /* bulk IN URBs queued at once (submitted, not reaped) */
	unsigned frames_sent;
	unsigned discarded;
};
void emu_stats(struct emu *e, struct emu_stats *out);

#endif
