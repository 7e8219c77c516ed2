/*
 * knotmap guided routine: a hands-free session for someone lying on a ball or
 * roller with eyes closed (issue 12).
 *
 *   SCAN  lying flat and still for scan_s: confirmed tracks that are not on
 *         the spine midline and not a bone/tool contact, seen in at least
 *         scan_seen_fraction of the scan, become the candidate spots (head to
 *         feet, at most max_spots);
 *   PLACE for each spot in turn: "place the ball under it" with a pointer on
 *         the map and a proximity tone whose pitch rises as the contact nears
 *         the spot; the hold timer engaging on the spot moves on;
 *   HOLD  the dsp hold timer (knotmap/hold.h) runs 30-60 s; its events become
 *         cues: started, 30 s target, 60 s release, 90 s stop, pause/resume,
 *         ease off (tensing up), optional tick every 10 s;
 *   REST  rest_s lying flat, then the next spot;
 *   DONE  a summary: spots treated, hold times, release / stiffening per spot.
 *
 * Safety (every rule of the hold timer, enforced again here): no spot on the
 * spine midline is ever chosen, a spot blocked by the timer (SPINE_BLOCKED)
 * is skipped; a retry on the same spot waits cooldown_s; at most max_holds
 * holds per spot; km_guided_red_flag() stops the routine with the
 * see-a-professional advice.
 *
 * A pure state machine: no SDL, no clock, no I/O, no allocation after
 * create. Input: what the pipeline saw this frame (struct km_guided_input,
 * built from a struct km_pipeline_result) and the frame time. Output: cues
 * and spoken phrases to play (struct km_guided_cue) and what the screen shows
 * (struct km_guided_view). Not part of libknotmap (lives in the viewer).
 *
 * Thread safety: one object per thread; the pure helpers are thread-safe.
 */
#ifndef KNOTMAP_GUIDED_H
#define KNOTMAP_GUIDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sounds. Values stable (they index tone tables and tests). */
enum km_cue {
	KM_CUE_NONE = 0,
	KM_CUE_SCAN_START = 1,   /* the routine begins: lie still */
	KM_CUE_NEXT_SPOT = 2,    /* place the ball under the next spot */
	KM_CUE_PROXIMITY = 3,    /* short blip; pitch from km_guided_cue.freq_hz */
	KM_CUE_HOLD_STARTED = 4, /* hold timer running */
	KM_CUE_TARGET = 5,       /* 30 s target reached */
	KM_CUE_RELEASE = 6,      /* 60 s: release now */
	KM_CUE_STOP = 7,         /* 90 s hard stop (or the hold ended) */
	KM_CUE_EASE_OFF = 8,     /* tensing up / too much pressure */
	KM_CUE_PAUSE = 9,        /* hold paused */
	KM_CUE_RESUME = 10,      /* hold resumed */
	KM_CUE_TICK = 11,        /* quiet tick every tick_s while holding */
	KM_CUE_REST = 12,        /* rest between spots */
	KM_CUE_DONE = 13,        /* routine finished */
	KM_CUE_ALERT = 14,       /* red flag: stop */
	KM_CUE_COUNT
};

/* Spoken phrases (played when a voice is available, else only the cue). */
enum km_phrase {
	KM_PHRASE_NONE = 0,
	KM_PHRASE_LIE_STILL = 1,  /* "lie still and breathe slowly while the mat scans" */
	KM_PHRASE_PLACE_BALL = 2, /* "place the ball under the next spot" */
	KM_PHRASE_HOLD_HERE = 3,  /* "hold here, breathe slowly" */
	KM_PHRASE_THIRTY = 4,     /* "thirty seconds" */
	KM_PHRASE_RELEASE = 5,    /* "release now" */
	KM_PHRASE_EASE_OFF = 6,   /* "too much pressure, ease off" */
	KM_PHRASE_REST = 7,       /* "roll off the ball and rest" */
	KM_PHRASE_DONE = 8,       /* "all done, well done" */
	KM_PHRASE_STOP = 9,       /* "stop now, and see a healthcare professional" */
	KM_PHRASE_SEE_PRO = 10, /* "see a healthcare professional if this spot keeps coming back" */
	KM_PHRASE_COUNT
};

/* The words of a phrase (also its cache file stem via km_phrase_name). Never
 * NULL; "" for NONE or unknown. Thread-safe. */
const char *km_phrase_text(enum km_phrase p);
/* "hold_here", ...; "unknown" otherwise. */
const char *km_phrase_name(enum km_phrase p);
/* "HOLD_STARTED", ...; "UNKNOWN" otherwise. */
const char *km_cue_name(enum km_cue c);

enum km_guided_state {
	KM_GUIDED_OFF = 0,  /* not started (or reset) */
	KM_GUIDED_SCAN = 1, /* lying flat: finding candidate spots */
	KM_GUIDED_PLACE = 2,
	KM_GUIDED_HOLD = 3, /* engaged / settling / holding on the spot */
	KM_GUIDED_REST = 4,
	KM_GUIDED_DONE = 5,
	KM_GUIDED_STOPPED = 6, /* red flag or km_guided_stop: routine ended early */
};
/* "SCAN", ...; "UNKNOWN" otherwise. */
const char *km_guided_state_name(enum km_guided_state s);

struct km_guided_config {
	float scan_s;             /* lying scan, s of loaded frames (20, est.) */
	float scan_seen_fraction; /* a spot must be seen this share of the scan (0.5) */
	uint32_t max_spots;       /* spots treated, 1..KM_GUIDED_MAX_SPOTS (3) */
	float spot_radius_mm;     /* same spot / "on it" radius (25: hold spot_radius + 5) */
	float spine_margin_mm;    /* no spot closer to the midline (25, as the hold timer:
	                             dsp/include/knotmap/hold.h) */
	float place_timeout_s;    /* give up on a spot not reached in time (90) */
	float rest_s;             /* rest between spots (15, est.) */
	float cooldown_s;         /* before retrying the same spot (30, as the hold timer:
	                             dsp/include/knotmap/hold.h) */
	uint32_t
	    max_holds; /* holds per spot, 1..3 (3, as the hold timer: dsp/include/knotmap/hold.h) */
	float min_hold_s;         /* a hold shorter than this is retried (30 = target) */
	float tick_s;             /* tick period while holding; 0 = no tick (10) */
	float proximity_period_s; /* proximity blip period (0.6) */
	float proximity_far_mm;   /* distance at the lowest pitch (300) */
	float proximity_lo_hz, proximity_hi_hz; /* pitch far .. on the spot (330, 880) */
	float tool_min_kpa;   /* a contact this strong is the ball/roller (120, est.) */
	float edge_margin_mm; /* no scan spot closer to the body's side (30, est.) */
	struct km_log log;
};

#define KM_GUIDED_MAX_SPOTS 8
#define KM_GUIDED_MAX_CONTACTS 32
#define KM_GUIDED_TEXT_MAX 96

/* One tracked spot this frame (from a km_track). */
struct km_guided_contact {
	uint32_t track_id;
	float x_mm, y_mm;
	float peak_kpa;
	bool over_spine; /* KM_CANDIDATE_MIDLINE */
	bool landmark;   /* KM_CANDIDATE_LANDMARK: bone or tool */
	float edge_mm;   /* distance to the side of the body outline in its row; NaN =
	                    unknown (a spot at the contact's edge is an edge, not a knot) */
};

/* What the pipeline saw this frame. */
struct km_guided_input {
	uint64_t time_us; /* frame time, must not go backwards */
	bool loaded;      /* someone is on the mat (load centre valid) */
	bool centre_valid;
	float centre_x_mm, centre_y_mm; /* pressure-weighted load centre */
	bool midline_valid;
	float midline_x_mm;
	size_t n_contacts; /* live confirmed tracks, at most KM_GUIDED_MAX_CONTACTS */
	struct km_guided_contact contacts[KM_GUIDED_MAX_CONTACTS];
	size_t n_events; /* this frame's events, in order */
	const struct km_event *events;
};

/* One thing to play. */
struct km_guided_cue {
	enum km_cue cue;
	enum km_phrase phrase; /* NONE = tone only */
	float freq_hz;         /* PROXIMITY: the blip's pitch; else 0 */
	uint64_t time_us;
};

/* How a spot went. */
struct km_guided_spot {
	float x_mm, y_mm;
	uint32_t track_id; /* the scan's track (ids change between holds) */
	uint32_t holds;    /* holds started */
	float held_s;      /* longest hold, timer seconds */
	float total_s;     /* all holds, timer seconds */
	bool reached_target;
	bool released;                    /* RELEASED during a hold */
	bool stiffened;                   /* STIFFENED during a hold */
	float stiffness_pct;              /* last change reported during a hold; NaN = none */
	bool ease_off;                    /* tensing up during a hold */
	bool skipped;                     /* not treated: see skip_reason */
	enum km_event_reason skip_reason; /* SPINE, LIMIT, LOST (not reached), USER, SYMPTOMS */
	bool seek_advice;                 /* SEEK_ADVICE (persisting knot) near it */
};

/* What the screen shows. */
struct km_guided_view {
	enum km_guided_state state;
	bool active;         /* state != OFF */
	uint32_t spot_index; /* 0-based current spot */
	uint32_t n_spots;
	bool target_valid;
	float target_x_mm, target_y_mm; /* the spot to place the ball under */
	bool pointer_valid;
	float pointer_x_mm, pointer_y_mm; /* where the ball / load is now */
	float distance_mm;                /* pointer to target, when both valid */
	float phase_left_s;               /* scan / rest / place time left */
	float phase_total_s;
	float held_s;                    /* estimated timer seconds of the current hold */
	char prompt[KM_GUIDED_TEXT_MAX]; /* one short line */
	bool seek_advice;
};

struct km_guided_summary {
	enum km_guided_state end_state; /* DONE or STOPPED (or the current state) */
	double duration_s;
	uint32_t n_spots;
	uint32_t treated; /* spots with a hold that reached min_hold_s */
	struct km_guided_spot spots[KM_GUIDED_MAX_SPOTS];
	bool red_flag;
	bool seek_advice;
};

typedef struct km_guided km_guided;

/* Defaults above. Never fails. */
struct km_guided_config km_guided_config_default(void);
/* KM_OK, KM_ERR_INVALID_ARG (NULL, NaN), KM_ERR_RANGE (a field outside its
 * documented range), KM_ERR_NO_MEMORY; *out NULL on error. */
int km_guided_create(const struct km_guided_config *cfg, km_guided **out);
/* Back to OFF, summary cleared; config kept. NULL ok. */
void km_guided_reset(km_guided *g);
/* NULL ok. */
void km_guided_destroy(km_guided *g);

/* Starts (or restarts) the routine at t_us with the lying scan. Emits
 * SCAN_START. cues: caller's array of cap entries (may be NULL when cap 0);
 * *n_cues receives how many were written (extras are dropped and counted in
 * km_guided_dropped). KM_OK, KM_ERR_INVALID_ARG. */
int km_guided_start(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                    size_t *n_cues);
/* One frame. Does nothing (KM_OK, no cues) while OFF, DONE or STOPPED.
 * KM_OK; KM_ERR_INVALID_ARG (NULL g/in/n_cues, events NULL with n_events > 0,
 * n_contacts too large); KM_ERR_RANGE (time went backwards: frame ignored). */
int km_guided_update(km_guided *g, const struct km_guided_input *in, struct km_guided_cue *cues,
                     size_t cap, size_t *n_cues);
/* The red-flag key: numbness / tingling / radiating pain. Stops the routine
 * (STOPPED, ALERT + STOP phrase) at t_us; the summary says why. KM_OK, or
 * KM_ERR_STATE when the routine is not running. */
int km_guided_red_flag(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                       size_t *n_cues);
/* Skips the current spot (the user chose to). KM_OK, KM_ERR_STATE. */
int km_guided_skip(km_guided *g, uint64_t t_us, struct km_guided_cue *cues, size_t cap,
                   size_t *n_cues);

struct km_pipeline_result;
/* Fills *in from one processed frame of the dsp pipeline (knotmap/pipeline.h):
 * live confirmed tracks (END excluded; the first KM_GUIDED_MAX_CONTACTS),
 * load centre, midline, events (in->events points into res: valid until the
 * pipeline's next call). pitch_mm: the grid's row pitch (rows of the outline). KM_OK,
 * KM_ERR_INVALID_ARG. Only in builds with the pipeline. */
int km_guided_input_from_pipeline(const struct km_pipeline_result *res, float pitch_mm,
                                  struct km_guided_input *in);

/* The cue for a dsp event outside the routine (free holds still get their
 * sounds): HOLD_STARTED, TARGET, RELEASE, hard STOP, PAUSED, RESUMED,
 * TENSING_UP / EASE_OFF. False (and *out untouched) for other events. Pure. */
bool km_guided_cue_for_event(const struct km_event *ev, struct km_guided_cue *out);

/* Current view. KM_OK, KM_ERR_INVALID_ARG. */
int km_guided_get_view(const km_guided *g, struct km_guided_view *out);
/* Summary so far. KM_OK, KM_ERR_INVALID_ARG. */
int km_guided_get_summary(const km_guided *g, struct km_guided_summary *out);
/* Cues that did not fit the caller's array, since create/reset. */
uint64_t km_guided_dropped(const km_guided *g);

/* The summary as lines of text / one JSON object (NUL-terminated, truncated
 * to size). Returns the length it needed (like snprintf), or -1 on NULL. */
int km_guided_summary_text(const struct km_guided_summary *s, char *buf, size_t size);
int km_guided_summary_json(const struct km_guided_summary *s, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_GUIDED_H */
