/*
 * knotmap session summary: the one fold of a session's events into its
 * candidate knots and its timed holds with their outcomes. `analyze`, `record`
 * (for the history), the exports (JSON, PNG report) all read a session through
 * it, so they agree on what a hold is and how it ended.
 *
 * Rules: KNOT_FOUND adds a knot, KNOT_LOST marks the knot of that track lost;
 * HOLD_STARTED opens a hold on its track (outcome "stopped" until told
 * otherwise); RELEASED / STIFFENED set the outcome of the open hold on the
 * track; HOLD_STOPPED closes it with the event's timed seconds (or end -
 * start when the event has none), mean load and dose. While a hold is
 * open, every event on its track that carries the timed seconds so far
 * (paused, resumed, target, release, stiffness...) moves its held_s and
 * dose on, so a hold still running at the end counts with its length so
 * far (km_summary_finish), never 0 s. Events for a track with no open hold
 * change nothing. Other event types are only counted.
 *
 * Plain data: read the arrays directly. Grows with the session (a few dozen
 * knots and holds); allocates only when a knot or hold is added.
 * Thread safety: one summary must not be used from two threads at once.
 */
#ifndef KNOTMAP_SUMMARY_H
#define KNOTMAP_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a hold ended. Stable values (the history stores their names). */
enum km_outcome {
	KM_OUTCOME_STOPPED = 0,   /* ended without a clear change */
	KM_OUTCOME_RELEASED = 1,  /* stiffness index fell during the hold */
	KM_OUTCOME_STIFFENED = 2, /* stiffness index rose: ease off next time */
};

/* "stopped", "released", "stiffened"; "unknown" otherwise. Static strings. */
KM_API const char *km_outcome_name(enum km_outcome o);
/* Parses one of the names above. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_outcome_parse(const char *name, enum km_outcome *out);

struct km_summary_knot {
	uint32_t track_id;
	float x_mm, y_mm;  /* where it was found */
	uint64_t found_us; /* event time it was found */
	uint64_t lost_us;  /* 0 while tracked */
	float load_kpa;    /* load when found (0 when the event had none) */
	/* Lost and found again (KNOT_FOUND, reason AGAIN): the last such gap,
	 * from its KNOT_LOST to the knot's return; 0, 0 when none. */
	uint64_t gone_us, back_us;
};

/* One return of a knot: lost at gone_us (its KNOT_LOST), back at back_us
 * (KNOT_FOUND, reason AGAIN). */
struct km_summary_gap {
	size_t knot; /* index into knots */
	uint64_t gone_us, back_us;
};

struct km_summary_hold {
	uint32_t track_id;
	uint32_t index; /* 1-based hold number on that spot (the event's hold_index) */
	float x_mm, y_mm;
	uint64_t start_us, end_us; /* end_us 0 while open */
	float held_s;              /* timed seconds (pauses excluded) */
	float load_kpa;            /* mean load over the hold */
	float dose_kpa_s;          /* load x time */
	float stiffness_pct;       /* stiffness change over the hold */
	enum km_outcome outcome;
	enum km_event_reason reason; /* why it stopped */
	bool open;                   /* no HOLD_STOPPED seen (yet) */
};

struct km_summary {
	struct km_summary_knot *knots; /* n_knots, in the order found */
	size_t n_knots;
	struct km_summary_hold *holds; /* n_holds, in the order started */
	size_t n_holds;
	uint64_t events;                       /* every event folded in */
	uint64_t by_type[KM_EVENT_TYPE_COUNT]; /* events per known type */
	uint64_t unknown_types;                /* events of types not in the enum */
	/* Every return of a knot, in time order (a knot's gone_us / back_us
	 * above keep its last); the letters replay them all. */
	struct km_summary_gap *gaps;
	size_t n_gaps;
	/* private */
	size_t cap_knots, cap_holds, cap_gaps;
};

/* Empty summary (no allocation). NULL ok. */
KM_API void km_summary_init(struct km_summary *s);

/*
 * Folds one event in. *hold (may be NULL) is set to the hold the event
 * started, gave an outcome or closed, else NULL; it stays valid until the
 * next call. KM_OK; KM_ERR_INVALID_ARG (NULL s or ev); KM_ERR_NO_MEMORY (the
 * knot, hold or return could not be stored: the event is still counted).
 */
KM_API int km_summary_add(struct km_summary *s, const struct km_event *ev,
                          const struct km_summary_hold **hold);

/*
 * The session ended at end_us (its last frame): each hold still open keeps
 * open = true and gets end_us and its length so far: the timed seconds of
 * its last event when one carried them, else end - start. NULL ok.
 */
KM_API void km_summary_finish(struct km_summary *s, uint64_t end_us);

/* The open hold on a track, or NULL. */
KM_API const struct km_summary_hold *km_summary_open_hold(const struct km_summary *s,
                                                          uint32_t track_id);

/*
 * The knots' letters, as the viewer names a spot the body does not place
 * ("spot B"): a knot takes the first letter free at its KNOT_FOUND and gives
 * it back at KNOT_LOST, so letters come back rather than climb; a knot back
 * (reason AGAIN) takes the first letter free again and is known by that
 * one, as the viewer shows it from then on (after several returns, the
 * last one's).
 * letter[s->n_knots] receives each knot's letter (0 = A), -1 past Z.
 */
KM_API void km_summary_knot_letters(const struct km_summary *s, int *letter);
/*
 * A knot's name for people, the one wording of the report, the export's JSON
 * summary and `analyze`: "A: left upper back" (the letter as a short tag and
 * the body name the viewer gave it at its KNOT_FOUND, knotmap/body.h's
 * km_body_spot_name), "spot A" when body is NULL or "" (as the viewer says
 * it), "left upper back" alone past Z, "spot" for neither. Always
 * terminated; returns the length it needed.
 */
KM_API size_t km_summary_knot_label(int letter, const char *body, char *buf, size_t n);

/* Frees the arrays and empties the summary. NULL ok. */
KM_API void km_summary_free(struct km_summary *s);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SUMMARY_H */
