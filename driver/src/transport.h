/*
 * The seam between the stream engine (stream.c) and its transports
 * (transport_libusb.c, transport_sim.c, transport_replay.c). The engine does
 * not know which transport it has; only transport_libusb.c includes <libusb.h>.
 */
#ifndef KM_DRIVER_TRANSPORT_H
#define KM_DRIVER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/calibration.h"
#include "knotmap/stream.h"

enum km__stat {
	KM__STAT_FRAMES_OK,
	KM__STAT_FRAMES_READ,
	KM__STAT_BYTES,
	KM__STAT_TRANSFERS,
	KM__STAT_CRC,
	KM__STAT_LOST,
	KM__STAT_RING_DROPS,
	KM__STAT_RESUBMIT,
	KM__STAT_TIMEOUTS,
	KM__STAT_GARBLED,
	KM__STAT_STALLS,
	KM__STAT_USB_ERRORS,
	KM__STAT_UNPLUGS,
	KM__STAT_RECONNECTS,
	KM__STAT_COUNT
};

struct km__transport_ops {
	const char *name;
	/* Opens the source and fills *info (rows, cols, serial ...). */
	int (*open)(km_stream *s, const struct km_stream_config *cfg, void **state,
	            struct km_device_info *info);
	/* Runs on the engine thread from start until km__engine_stopping(); sends
	 * START itself, hands every received transfer to km__engine_feed (or whole
	 * frames to km__engine_push_counts), and before returning stops the source
	 * and drains everything in flight. Returns KM_OK or the error that ended it. */
	int (*run)(void *state);
	/* A vendor control request (KM_PROTO_REQ_ZERO, _SET_RATE ...) from any thread. */
	int (*control)(void *state, uint8_t request, uint16_t value);
	/* The factory calibration of this source (may be NULL: nominal curve used). */
	int (*factory_calibration)(void *state, struct km_calibration_config *cfg,
	                           km_calibration **out);
	void (*close)(void *state);
};

extern const struct km__transport_ops km__transport_libusb;
extern const struct km__transport_ops km__transport_sim;
extern const struct km__transport_ops km__transport_replay;

/* ---- what the engine offers its transport (engine thread unless noted) ---- */

/* One received transfer: zero or more packets back to back. Parses, checks
 * CRC, reassembles, checks sequence, pushes complete frames into the ring. */
void km__engine_feed(km_stream *s, const uint8_t *buf, size_t len);
/* A complete frame of counts (replay of decoded frames). lost: frames missing
 * before it. proto_flags: enum km_proto_flag bits; frame_flags: enum
 * km_frame_flag bits the frame carries as well (a replay of raw counts:
 * KM_FRAME_UNCALIBRATED). */
void km__engine_push_counts(km_stream *s, uint32_t sequence, uint64_t device_time_us, uint32_t lost,
                            uint8_t proto_flags, uint32_t frame_flags, const uint16_t *counts);
/* Forget reassembly and sequence state: the source (re)started at sequence 0. */
void km__engine_restart(km_stream *s);
void km__engine_count(km_stream *s, enum km__stat which, uint64_t n);
/* Reports a connection change (status callback, ring idle code). */
void km__engine_status(km_stream *s, enum km_stream_status status, int error);
/* Any thread. */
bool km__engine_stopping(const km_stream *s);
/* Sleeps until the monotonic deadline (microseconds) or a stop request;
 * returns false when stopping. */
bool km__engine_sleep_until(km_stream *s, uint64_t deadline_us);
/* Whether pushes should wait for room (sources that can be paused) rather
 * than drop the oldest frame. */
void km__engine_set_lossless(km_stream *s, bool lossless);
const struct km_log *km__engine_log(const km_stream *s);
/* Updates the device description (after a reconnect or a rate change). */
void km__engine_set_info(km_stream *s, const struct km_device_info *info);

struct km_proto_info;
/* Fills the grid, firmware, rate and serial fields of out from an info block
 * (the other fields are left alone). */
void km__device_info_from_proto(const struct km_proto_info *pi, struct km_device_info *out);

/* Nominal factory calibration for a grid whose own is unknown (the virtual
 * mat's nominal sensor curve). */
int km__nominal_calibration(struct km_calibration_config *cfg, km_calibration **out);
/* Sets cfg's creep model from the virtual mat's: creep_pct reached after
 * creep_ref_s, log-time constant creep_tau_s. */
void km__calibration_creep_from_sim(struct km_calibration_config *cfg, float creep_pct,
                                    float creep_ref_s, float creep_tau_s);

#endif
