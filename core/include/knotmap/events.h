/*
 * knotmap events: what the signal core tells the viewer, the recording and
 * the session summary. Core owns the vocabulary so every part above it reads
 * the same meaning without depending on the dsp.
 *
 * One plain struct, struct km_event, for every kind of event (knot found/lost,
 * hold timer steps, tensing up, stiffness change, safety blocks). Producers are
 * the dsp objects (tracker, stiffness, guard, hold); consumers are the pipeline,
 * the viewer, the recording (through the one mapping to struct km_rec_event
 * below) and the session summary.
 *
 * Stability: enum values and struct fields are never renumbered, reordered or
 * removed; new values and new fields are only appended (fields at the end of
 * the struct). Consumers must ignore event types they do not know.
 *
 * Thread safety: the functions here are pure or touch only the sink passed in;
 * one sink must not be used from two threads at once.
 */
#ifndef KNOTMAP_EVENTS_H
#define KNOTMAP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What happened. Values are stable (append only). */
enum km_event_type {
	KM_EVENT_NONE = 0,
	KM_EVENT_KNOT_FOUND = 1,     /* tracker confirmed a candidate spot (reason AGAIN: a knot
	                                lost earlier this session, back under its id) */
	KM_EVENT_KNOT_LOST = 2,      /* tracker deleted a spot (END) */
	KM_EVENT_HOLD_ENGAGED = 3,   /* load on the spot, position steady: settling starts */
	KM_EVENT_HOLD_STARTED = 4,   /* settling done, baselines captured, timer runs */
	KM_EVENT_HOLD_PAUSED = 5,    /* short unload / drift / out of band: timer paused */
	KM_EVENT_HOLD_RESUMED = 6,   /* back within limits before the pause ran out */
	KM_EVENT_HOLD_TARGET = 7,    /* target time reached (30 s default) */
	KM_EVENT_HOLD_RELEASE = 8,   /* prompt to release (60 s default, 30-90) */
	KM_EVENT_HOLD_STOPPED = 9,   /* hold over: hard stop (90 s), unload, drift...; see reason */
	KM_EVENT_TENSING_UP = 10,    /* guarding detected on the spot/tool force */
	KM_EVENT_EASED = 11,         /* guarding over (hysteresis passed) */
	KM_EVENT_RELEASED = 12,      /* stiffness index fell >= 15 % during a hold */
	KM_EVENT_STIFFENED = 13,     /* stiffness index rose >= 20 % during a hold */
	KM_EVENT_SPINE_BLOCKED = 14, /* would have timed a hold over the spine midline */
	KM_EVENT_COOLDOWN = 15,      /* same spot engaged again within the cooldown */
	KM_EVENT_HOLD_LIMIT = 16,    /* too many holds on this spot (3 per 2 min default) */
	KM_EVENT_EASE_OFF = 17,      /* prompt to ease off (tensing up during a hold) */
	KM_EVENT_STIFFNESS = 18,     /* periodic stiffness index update (accepted estimate) */
	KM_EVENT_SEEK_ADVICE = 19,   /* knot seen across > 7 days, or symptoms logged */
	KM_EVENT_TYPE_COUNT          /* number of types; grows when types are appended */
};

/* Why it happened (mostly for HOLD_PAUSED / HOLD_STOPPED / TENSING_UP). Stable. */
enum km_event_reason {
	KM_REASON_NONE = 0,
	KM_REASON_HARD_STOP = 1,        /* reached the hard stop time (90 s default) */
	KM_REASON_UNLOADED = 2,         /* load below the minimum (longer than the pause limit) */
	KM_REASON_DRIFT = 3,            /* position drifted beyond the limit */
	KM_REASON_OVERLOAD = 4,         /* load above the tolerable band */
	KM_REASON_SPINE = 5,            /* over the spine midline */
	KM_REASON_USER = 6,             /* the caller stopped it */
	KM_REASON_RESET = 7,            /* object reset / track ended */
	KM_REASON_TREMOR = 8,           /* guard: 6-14 Hz band power */
	KM_REASON_VARIATION = 9,        /* guard: 0.5-4 Hz variation */
	KM_REASON_WITHDRAWAL = 10,      /* guard: force drop > 30 % within 1 s */
	KM_REASON_BREATH_COLLAPSE = 11, /* guard: breathing amplitude collapsed */
	KM_REASON_COOLDOWN = 12,        /* cooldown still running */
	KM_REASON_LIMIT = 13,           /* hold count limit */
	KM_REASON_TENSING = 14,         /* tensing up reported by the caller / guard */
	KM_REASON_LOST = 15,            /* the spot's track was lost */
	KM_REASON_SYMPTOMS = 16,        /* numbness / tingling / radiating pain logged */
	KM_REASON_AGAIN = 17,           /* KNOT_FOUND: a spot lost earlier this session, back */
	KM_REASON_COUNT
};

/*
 * One event. Plain data; fields that do not apply to a type are 0.
 * Units: time in microseconds (same clock as the frames' device_time_us),
 * position in mm on the grid (x along columns, y along rows), load in kPa
 * and/or N, durations in seconds, stiffness in % change.
 */
struct km_event {
	enum km_event_type type;
	enum km_event_reason reason;
	uint32_t track_id;   /* tracker id of the spot; 0 = none */
	uint32_t knot_id;    /* persistent knot id (history), 0 = unknown */
	uint32_t frame_seq;  /* km_frame.sequence of the frame that triggered it */
	uint32_t hold_index; /* 1-based hold number for this spot in this session; 0 = n/a */
	uint64_t time_us;    /* frame time of the event */
	float x_mm;          /* spot position */
	float y_mm;
	float load_kpa;      /* load at the event (mean over the hold for STOPPED) */
	float load_n;        /* same as force when known, else 0 */
	float held_s;        /* seconds held so far (timer, pauses excluded) */
	float dose_kpa_s;    /* load x time so far in this hold, kPa*s */
	float stiffness_pct; /* stiffness change since the hold started, % */
	float value;         /* type-specific: guard ratio, coherence, remaining s... */
};

/* Called once per event. `ev` is valid only during the call. Must not call back
 * into the object that emitted it. */
typedef void (*km_event_fn)(void *user, const struct km_event *ev);

/*
 * Where an object puts its events: a caller-owned array, a callback, or both.
 * Fill it yourself (all fields public); zero-initialise, then set buf+capacity
 * and/or fn+user. `count` is how many are stored in buf; `dropped` counts events
 * that did not fit (never resets by itself). Clear with km_event_sink_clear()
 * between frames when using the array.
 */
struct km_event_sink {
	struct km_event *buf; /* caller-owned, `capacity` entries; may be NULL */
	size_t capacity;
	size_t count;
	uint64_t dropped;
	km_event_fn fn; /* may be NULL */
	void *user;
};

/* Stores ev in sink->buf (when room; else counts it in dropped) and calls
 * sink->fn when set. sink NULL or ev NULL: no-op. Never allocates. */
KM_API void km_event_sink_emit(struct km_event_sink *sink, const struct km_event *ev);
/* count = 0 (dropped is kept). NULL ok. */
KM_API void km_event_sink_clear(struct km_event_sink *sink);

/*
 * The generic event record a .kmrec file stores (docs/kmrec-format.md). The
 * format gives no meaning to type/subtype/ints/values; km_event_to_record()
 * and km_event_from_record() below are the one mapping between it and struct
 * km_event, used by every writer and reader of recordings (CLI and viewer).
 * time_us: same clock as frames' device_time_us. n_ints <= 4, n_values <= 8.
 */
#define KM_REC_EVENT_MAX_INTS 4
#define KM_REC_EVENT_MAX_VALUES 8

struct km_rec_event {
	uint16_t type;
	uint16_t subtype;
	uint32_t track_id;
	uint64_t time_us;
	float x_mm;
	float y_mm;
	uint8_t n_ints;
	uint8_t n_values;
	uint32_t ints[KM_REC_EVENT_MAX_INTS];
	float values[KM_REC_EVENT_MAX_VALUES];
};

/*
 * type = type, subtype = reason, track_id, time_us, x_mm, y_mm as they are;
 * ints = [knot_id, frame_seq, hold_index];
 * values = [load_kpa, load_n, held_s, dose_kpa_s, stiffness_pct, value].
 * Fields appended to struct km_event later go after these (append only), so
 * older files read back with the new fields 0. Both never fail; NULL: no-op.
 */
KM_API void km_event_to_record(const struct km_event *ev, struct km_rec_event *out);
/* The reverse: missing ints/values read as 0, extra ones are ignored. */
KM_API void km_event_from_record(const struct km_rec_event *in, struct km_event *out);

/* "KNOT_FOUND", "HOLD_STARTED", ...; "UNKNOWN" for values not in the enum.
 * Never NULL; static strings; thread-safe. */
KM_API const char *km_event_type_name(enum km_event_type type);
/* "HARD_STOP", "UNLOADED", ...; "UNKNOWN" for values not in the enum. */
KM_API const char *km_event_reason_name(enum km_event_reason reason);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_EVENTS_H */
