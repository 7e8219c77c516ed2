/*
 * knotmap stream: calibrated pressure frames from a mat, whatever carries them.
 *
 * A stream owns one transport (libusb, the in-process virtual mat, or a
 * recording), an engine thread that receives packets, reassembles frames,
 * checks CRC and sequence numbers and keeps a fixed-capacity ring of frames
 * (drop-oldest, counted), and a calibration that turns raw counts into kPa
 * when the caller reads a frame. Nothing is allocated per frame after
 * km_stream_start.
 *
 *     struct km_stream_config cfg = km_stream_config_default();
 *     cfg.transport = KM_TRANSPORT_AUTO;
 *     km_stream *s;  struct km_frame *f;
 *     km_stream_create(&cfg, &s);
 *     km_stream_start(s);
 *     km_stream_frame_create(s, &f);
 *     while (km_stream_read(s, f, 500) == KM_OK) { ... f->kpa ... }
 *     km_stream_destroy(s);  km_frame_destroy(f);
 *
 * Thread safety: km_stream_read is meant for one consumer thread. stats,
 * device_info, zero, set_rate and request_stop may be called from any thread
 * concurrently with it. create/start/stop/destroy: one thread at a time.
 */
#ifndef KNOTMAP_STREAM_H
#define KNOTMAP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_stream km_stream;
struct km_sim_config; /* knotmap/sim.h */

/* Connection changes, reported through the status callback. */
enum km_stream_status {
	KM_STREAM_CONNECTED = 0,   /* streaming started */
	KM_STREAM_UNPLUGGED = 1,   /* the mat went away; the stream waits for it */
	KM_STREAM_RECONNECTED = 2, /* the same serial came back and streams again */
	KM_STREAM_ENDED = 3,       /* a replay or a finite sim run reached its end */
	KM_STREAM_FAILED = 4,      /* unrecoverable error (code in `error`); stream stopped */
};

/* "connected", "unplugged", ... Never NULL. */
KM_API const char *km_stream_status_name(enum km_stream_status status);

/* Called on the stream's engine thread; keep it short. It may call
 * km_stream_request_stop or km_stream_stop (which then only requests). error is
 * KM_OK or the km_error that caused the change. */
typedef void (*km_stream_status_fn)(void *user, enum km_stream_status status, int error);

struct km_stream_config {
	enum km_transport_kind transport; /* default KM_TRANSPORT_AUTO */

	/* libusb */
	const char *serial;           /* open this serial; NULL = the first mat found */
	void *libusb_context;         /* a libusb_context * to use; NULL = a private one */
	unsigned transfers;           /* bulk IN transfers in flight, 1..32 (default 4) */
	size_t transfer_size;         /* bytes per bulk IN transfer, 512..262080, multiple of
	                                 512 (default 16384) */
	unsigned transfer_timeout_ms; /* per bulk transfer; 0 = none (default 1000) */
	unsigned control_timeout_ms;  /* per control request, 1..60000 (default 1000) */
	bool reconnect;               /* wait for the same serial after an unplug (default true) */
	unsigned reconnect_poll_ms; /* look for the mat this often while it is away (default 200) */

	/* virtual mat */
	const char *sim_scenario; /* scenario name or file path; NULL = the sim's default */
	const struct km_sim_config *sim_config; /* instead of a scenario (copied; its seed and
	                                          log are replaced by the ones here) */
	uint64_t sim_seed;                      /* default 1 */
	bool sim_realtime;   /* pace at the mat's frame rate (default true); false = as
	                        fast as the reader takes frames (never drops) */
	uint64_t sim_frames; /* stop with KM_ERR_END after this many; 0 = endless */

	/* replay */
	const char *replay_path; /* a .kmrec recording */
	double replay_speed;     /* 1.0 = real time, 2.0 = twice as fast, 0 = as fast as
	                            the reader takes frames (default 1.0) */
	/* Files from other mats (knotmap/import.h, docs/formats.md); each NULL or 0
	 * = what the file or its sidecar JSON says, else the import's default. */
	const char *replay_format;   /* "auto", "npy", "tekscan", "xsensor", "csv" */
	float replay_rate_hz;        /* frame rate, Hz */
	float replay_pitch_mm;       /* cell pitch, mm */
	const char *replay_units;    /* "kPa", "mmHg", "kgf/cm2", "raw"... (import.h) */
	uint16_t replay_rows;        /* a plain CSV without a header: its grid, both or */
	uint16_t replay_cols;        /* neither, 1..KM_FRAME_MAX_DIM (0: from the file) */
	/* A file with several sensors (XSENSOR insoles): which one, by 1-based
	 * number or name (import.h's config.sensor; an unknown one fails create
	 * with KM_ERR_INVALID_ARG); NULL = the first. The device info's location
	 * names the sensor played ("FILE, sensor LF (1 of 2)"). */
	const char *replay_sensor;
	/* Skip the frames of an import that do not read (each logged with its
	 * place; the next frame shows the gap in dropped_since_last) instead of
	 * stopping there (import.h's config.partial). Default false. */
	bool replay_partial;

	/* common */
	uint16_t rate_hz;       /* frame rate to request at start; 0 = the device's (default 0) */
	unsigned ring_capacity; /* frames buffered between engine and reader, 2..4096
	                           (default 32) */
	const char *calibration_path; /* calibration file (docs/calibration-format.md); NULL =
	                                 the device's / virtual mat's factory calibration */
	bool creep_correction;        /* correct sensor creep and hysteresis (default true) */

	km_stream_status_fn status_fn; /* may be NULL */
	void *status_user;
	struct km_log log;
};

/* Counters, all since create (km_stream_reset clears them). Readable at any
 * time from any thread; each field is read atomically. */
struct km_stream_stats {
	uint64_t frames_ok;         /* complete frames that passed CRC and went into the ring */
	uint64_t frames_read;       /* frames handed out by km_stream_read */
	uint64_t bytes;             /* payload bytes received from the transport */
	uint64_t transfers;         /* completed transport transfers (USB) or packets (sim) */
	uint64_t crc_errors;        /* packets or frames dropped for a CRC mismatch */
	uint64_t lost_frames;       /* frames missing by sequence gap */
	uint64_t ring_drops;        /* frames dropped (oldest first) because the reader lagged */
	uint64_t resubmit_failures; /* bulk transfers that could not be resubmitted */
	uint64_t timeouts;          /* bulk transfers that timed out */
	uint64_t garbled;           /* short, truncated or malformed packets dropped */
	uint64_t stalls;            /* endpoint STALLs cleared */
	uint64_t usb_errors;        /* other transfer errors */
	uint64_t unplugs;           /* times the mat went away */
	uint64_t reconnects;        /* times it came back and streaming resumed */
};

/* Defaults as documented above. */
KM_API struct km_stream_config km_stream_config_default(void);

/*
 * Validates cfg, opens the transport (for libusb: finds, opens and claims the
 * mat and reads its info block; for sim: creates the virtual mat; for replay:
 * opens the file) and loads the calibration. Does not stream yet.
 * Returns KM_OK, KM_ERR_INVALID_ARG / KM_ERR_RANGE (bad config),
 * KM_ERR_NO_DEVICE (no mat, or not the serial asked for), KM_ERR_PERMISSION
 * (no access: the log explains the udev rule, see km_device_permission_hint),
 * KM_ERR_BUSY (claimed by another program), KM_ERR_USB, KM_ERR_BAD_VERSION
 * (protocol mismatch), KM_ERR_CALIBRATION / KM_ERR_NOT_FOUND / KM_ERR_IO (bad
 * calibration file), KM_ERR_NO_MEMORY; with the replay transport also what
 * km_source_create returns (knotmap/import.h: KM_ERR_BAD_MAGIC, KM_ERR_PARSE,
 * KM_ERR_TRUNCATED, KM_ERR_UNSUPPORTED, ...). On error *out is NULL. The
 * config's strings are copied.
 */
KM_API int km_stream_create(const struct km_stream_config *cfg, km_stream **out);

/* Starts the engine thread and streaming (IDLE -> RUNNING). KM_OK,
 * KM_ERR_STATE (already running), KM_ERR_NO_DEVICE, KM_ERR_USB, KM_ERR_NO_MEMORY. */
KM_API int km_stream_start(km_stream *s);

/*
 * Stops streaming (RUNNING -> STOPPING -> IDLE): cancels every transfer, keeps
 * handling events until each has completed, joins the engine thread. Frames
 * still in the ring stay readable. Idempotent; KM_OK.
 * Called from the status callback (the engine thread) it only requests the
 * stop, like km_stream_request_stop.
 */
KM_API int km_stream_stop(km_stream *s);

/* Asks the engine to stop without waiting: async-signal-safe (one atomic store
 * and one write(2)), callable from a signal handler or a callback. A blocked
 * km_stream_read returns KM_ERR_INTERRUPTED once the ring is empty; complete
 * the stop with km_stream_stop or km_stream_destroy from a normal thread. */
KM_API void km_stream_request_stop(km_stream *s);

/* Stops if needed, then frees everything. NULL is a no-op. */
KM_API void km_stream_destroy(km_stream *s);

/* Not from the status callback (KM_ERR_STATE there).
 * Stops if running, empties the ring, clears counters, calibration state
 * (zero offsets, creep timers) and sequence tracking; keeps the config and
 * the open transport. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_stream_reset(km_stream *s);

/*
 * Takes the oldest frame from the ring into dst and calibrates it to kPa.
 * dst must have the stream's rows x cols (km_stream_frame_create makes one).
 * timeout_ms: < 0 waits forever, 0 polls.
 * Returns KM_OK; KM_ERR_TIMEOUT (nothing within the timeout);
 * KM_ERR_NO_DEVICE (instead of KM_ERR_TIMEOUT while the mat is unplugged;
 * keep calling, frames resume after a reconnect); KM_ERR_END (replay or finite sim finished
 * and the ring is empty); KM_ERR_INTERRUPTED (stop requested / not running and
 * the ring is empty); KM_ERR_SHAPE; KM_ERR_INVALID_ARG.
 * dst->flags carries KM_FRAME_LOST_BEFORE when frames were lost (sequence gap
 * or ring drop) and dst->dropped_since_last how many; KM_FRAME_SATURATED when a
 * cell hit the ADC ceiling. Never allocates.
 */
KM_API int km_stream_read(km_stream *s, struct km_frame *dst, int timeout_ms);

/* Like km_stream_read, also copying the frame's raw ADC counts into raw
 * ([rows x cols] row-major, raw_cells >= rows * cols, else KM_ERR_OVERFLOW).
 * raw may be NULL. */
KM_API int km_stream_read_raw(km_stream *s, struct km_frame *dst, uint16_t *raw, size_t raw_cells,
                              int timeout_ms);

/* Allocates a frame shaped for this stream (caller frees with
 * km_frame_destroy). KM_OK, KM_ERR_INVALID_ARG, KM_ERR_NO_MEMORY. */
KM_API int km_stream_frame_create(const km_stream *s, struct km_frame **out);

/* Copies the counters. Any thread, any time. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_stream_stats(const km_stream *s, struct km_stream_stats *out);

/* The mat's description (serial, grid, firmware, rate). Any thread. */
KM_API int km_stream_device_info(const km_stream *s, struct km_device_info *out);

/* The stream's state: "idle", "running", "stopping". Never NULL. */
KM_API const char *km_stream_state_name(const km_stream *s);

/*
 * Zeroes the mat: sends the ZERO request to the device (when the transport has
 * one) and re-measures every cell's offset on the host from the next frames
 * read (the mat must be unloaded). Any thread. KM_OK, KM_ERR_STATE (not
 * running), KM_ERR_NO_DEVICE, KM_ERR_USB, KM_ERR_TIMEOUT.
 */
KM_API int km_stream_zero(km_stream *s);

/* Sets the frame rate in Hz (1..1000; the device may refuse with KM_ERR_RANGE
 * or KM_ERR_UNSUPPORTED). Any thread. KM_OK, KM_ERR_RANGE, KM_ERR_NO_DEVICE,
 * KM_ERR_USB, KM_ERR_TIMEOUT, KM_ERR_UNSUPPORTED (replay). */
KM_API int km_stream_set_rate(km_stream *s, uint16_t rate_hz);

/*
 * The calibration in use, serialised in the calibration file format
 * (docs/calibration-format.md), e.g. to store with a raw recording; the
 * replay transport reads it back. *size receives the length; KM_ERR_OVERFLOW
 * (with *size set) when buf is NULL or cap too small. *id (may be NULL)
 * receives its CRC-32C, an identifier for the calibration. Any thread.
 */
KM_API int km_stream_calibration_blob(const km_stream *s, uint8_t *buf, size_t cap, size_t *size,
                                      uint32_t *id);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_STREAM_H */
