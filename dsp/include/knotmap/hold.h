/*
 * knotmap hold timers: the per-knot state machine that times tolerable-pressure
 * holds (docs/signal-model.md, "Hold timer"; Travell & Simons: ischemic compression
 * up to ~1 min at tolerable pressure).
 *
 *   IDLE -> ENGAGED (load >= load_min, drift < engage_drift_mm over engage_s)
 *        -> SETTLING (settle_s; baselines: mean load, mean position; the
 *                     timer already runs, see count_settling)
 *        -> HOLDING (timer runs while drift < hold_drift_mm, load in the band,
 *                    not over the spine)
 *        -> PAUSED (any condition fails; back within pause_max_s: resumes, timer
 *                   kept; else the hold stops)
 *   target_s (30 s): HOLD_TARGET; release_s (60 s): HOLD_RELEASE prompt;
 *   hard_stop_s (90 s): HOLD_STOPPED(HARD_STOP), all on the timer (which by
 *   default counts from HOLD_ENGAGED, settling included).
 *
 * Every HOLD_ENGAGED is followed by exactly one HOLD_STOPPED (like a contact's
 * END), with the reason; held_s and dose_kpa_s say what was achieved.
 * Safety: an engagement over the spine midline never starts a timer
 * (SPINE_BLOCKED); the same spot (within spot_radius_mm) gets cooldown_s after a
 * hold (COOLDOWN) and at most max_holds holds per limit_window_s (HOLD_LIMIT).
 * Tensing up (flag from km_guard or the caller) during a hold -> EASE_OFF.
 * After a stop, cooldown or block, a spot must be unloaded (load < load_min)
 * before it can engage again.
 *
 * One km_hold serves all knots of a session: slots keyed by track id, spot
 * history keyed by position. Fixed memory, allocated at create.
 *
 * Thread safety: one object per thread; distinct objects are independent.
 */
#ifndef KNOTMAP_HOLD_H
#define KNOTMAP_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_hold km_hold;

struct km_hold_config {
	uint32_t max_tracks;   /* simultaneous knots timed, 1..1024 (16) */
	uint32_t max_spots;    /* spot history entries (cooldown/limit), 1..4096 (64) */
	float load_min_kpa;    /* engage/keep threshold, > 0 (10 kPa, est.) */
	float load_max_kpa;    /* above: out of the tolerable band; 0 = no limit (0) */
	float band_lo;         /* band relative to the settled load, (0,1] (0.5, est.) */
	float band_hi;         /* >= 1, or 0 = no relative upper limit (2.0, est.) */
	float engage_s;        /* steady time to engage (2 s, docs/signal-model.md) */
	float engage_drift_mm; /* max drift while engaging (10 mm, docs/signal-model.md) */
	float settle_s;        /* settling time (5 s, docs/signal-model.md) */
	float hold_drift_mm;   /* max drift from the settled spot (15 mm, docs/signal-model.md) */
	float pause_max_s;     /* longest pause that keeps the timer (2 s, docs/signal-model.md) */
	float target_s;        /* target time (30 s, docs/signal-model.md) */
	float release_s;       /* release prompt, 30..90 and >= target_s (60 s) */
	float hard_stop_s;     /* hard stop, >= release_s (90 s, docs/signal-model.md) */
	float cooldown_s;      /* rest before the same spot again (30 s, docs/signal-model.md) */
	uint32_t max_holds;    /* holds per spot per limit window, >= 1 (3, docs/signal-model.md) */
	float limit_window_s;  /* (120 s, docs/signal-model.md) */
	float spot_radius_mm;  /* same spot when within this (20 mm, tracker merge radius) */
	float spine_margin_mm; /* |distance to midline| below this = over the spine
	                          (25 mm, docs/signal-model.md midline mask +-2.5 cm) */
	/* The user already presses the spot steadily while the baselines are
	 * captured, so by default the timer counts from the start of SETTLING
	 * (the HOLD_ENGAGED moment): HOLD_STARTED then carries held_s =
	 * settle_s already held, and target_s / release_s / hard_stop_s count
	 * from HOLD_ENGAGED. The hold's counted start is HOLD_STARTED's time_us
	 * minus its held_s. false: the timer starts at HOLD_STARTED (default
	 * true). */
	bool count_settling;
	struct km_log log;
};

/* One knot's input for a frame. */
struct km_hold_input {
	uint32_t track_id;       /* tracker id, != 0; slot key */
	uint32_t knot_id;        /* persistent id or 0; copied into events */
	float x_mm, y_mm;        /* position, mm; finite */
	float load_kpa;          /* load on the knot, kPa, finite >= 0 */
	float load_n;            /* force, N, or 0 when unknown; copied into events */
	bool tensing;            /* guarding detected on this knot (km_guard or caller) */
	bool over_spine;         /* caller says the knot is over the spine midline */
	float spine_distance_mm; /* distance to the midline, mm; NaN = unknown */
};

enum km_hold_state {
	KM_HOLD_IDLE = 0,
	KM_HOLD_ENGAGED = 1,  /* loaded, checking that the position is steady */
	KM_HOLD_SETTLING = 2, /* HOLD_ENGAGED emitted; capturing baselines */
	KM_HOLD_HOLDING = 3,  /* timer running */
	KM_HOLD_PAUSED = 4,   /* timer paused */
	KM_HOLD_BLOCKED = 5,  /* stopped / cooldown / limit / spine: waits for unload */
};

/* What the viewer's hold ring needs. */
struct km_hold_status {
	enum km_hold_state state;
	uint32_t track_id;
	uint32_t hold_index; /* holds started on this spot so far */
	float held_s;        /* timer, pauses excluded */
	float settle_left_s; /* while SETTLING */
	float pause_left_s;  /* while PAUSED */
	float dose_kpa_s;
	float baseline_kpa; /* settled load */
	float target_s, release_s, hard_stop_s;
};

/* Defaults above. Never fails. */
KM_API struct km_hold_config km_hold_config_default(void);
/* Validates cfg (KM_ERR_INVALID_ARG / KM_ERR_RANGE on a bad field) and allocates.
 * *out NULL on error. KM_ERR_NO_MEMORY possible. */
KM_API int km_hold_create(const struct km_hold_config *cfg, km_hold **out);
/* One frame. in: n inputs (may be 0; n <= max_tracks tracked, extras ignored and
 * counted), one per track; tracks present before and missing now count as
 * unloaded (stop reason LOST after pause_max_s). t_us: frame time, must not go
 * backwards (KM_ERR_RANGE, frame ignored). seq: frame sequence for events.
 * Events go to sink (may be NULL: state still advances). Never allocates.
 * Returns KM_OK, KM_ERR_INVALID_ARG (h NULL, in NULL with n > 0, track_id 0),
 * KM_ERR_NONFINITE (non-finite or negative load/position; frame ignored),
 * KM_ERR_RANGE. */
KM_API int km_hold_execute(km_hold *h, uint64_t t_us, uint32_t seq, const struct km_hold_input *in,
                           size_t n, struct km_event_sink *sink);
/* Stops the hold on track_id (0 = all tracks) with reason `reason` (e.g.
 * KM_REASON_USER, KM_REASON_SYMPTOMS); emits HOLD_STOPPED for each active one.
 * The spot then needs an unload before engaging again. KM_ERR_NOT_FOUND when
 * track_id != 0 has no slot. */
KM_API int km_hold_stop(km_hold *h, uint64_t t_us, uint32_t track_id, enum km_event_reason reason,
                        struct km_event_sink *sink);
/* Status of one track; KM_ERR_NOT_FOUND when it has no slot. */
KM_API int km_hold_status(const km_hold *h, uint32_t track_id, struct km_hold_status *out);
/* Inputs ignored because all slots were busy, since create/reset. */
KM_API uint64_t km_hold_overflow_count(const km_hold *h);
/* Forgets all slots and spot history (a new session); keeps the config. No events. */
KM_API void km_hold_reset(km_hold *h);
/* NULL ok. */
KM_API void km_hold_destroy(km_hold *h);
/* "IDLE", "HOLDING", ...; "UNKNOWN" otherwise. */
KM_API const char *km_hold_state_name(enum km_hold_state s);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_HOLD_H */
