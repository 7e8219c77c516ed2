/*
 * Spot tracker: gives detections stable ids across frames.
 *
 * Global nearest neighbour: each frame the candidates are assigned to the
 * live tracks by the Hungarian algorithm (Munkres 1957) on the distance from
 * each track's predicted position (alpha-beta filter, constant velocity) to
 * each candidate, with pairs farther than gate_mm forbidden. Unassigned
 * candidates start tentative tracks; a tentative track is confirmed (gets an
 * id) after confirm_hits hits in the last confirm_window frames and is
 * dropped silently when that can no longer happen. A confirmed track ends
 * after delete_after_s without a hit. Candidates flagged KM_CANDIDATE_WEAK
 * (detection hysteresis) can only continue confirmed tracks.
 *
 * Output is shaped like touch contacts (sensel-api): every confirmed track
 * reports START once, then MOVE every frame it is alive (also while it
 * coasts through misses), then exactly one END. Ids start at 1 and increase;
 * one spot keeps one id for the session: a track confirmed within
 * same_spot_mm of where an ended track last was takes that id back (START
 * again after its END), and one confirmed there while a track still
 * coasts is merged into it, so a spot lost and found again is not a new
 * spot. Two live
 * tracks never share an id (km_tracker_reset restarts them).
 *
 * Thread safety: one object per thread.
 */
#ifndef KNOTMAP_TRACKER_H
#define KNOTMAP_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/detect.h"

#ifdef __cplusplus
extern "C" {
#endif

enum km_track_state {
	KM_TRACK_START = 0, /* first report of this id (just confirmed) */
	KM_TRACK_MOVE = 1,  /* still alive */
	KM_TRACK_END = 2,   /* last report of this id */
};

struct km_track {
	uint32_t id; /* >= 1, stable */
	enum km_track_state state;
	float x_mm, y_mm;       /* filtered position (cylinder: x in [0, wrap_x_mm)) */
	float vx_mm_s, vy_mm_s; /* filtered velocity */
	float response_kpa;     /* band-pass response of the last hit */
	float peak_kpa;         /* input pressure at the last hit */
	float background_kpa;
	float scale_mm;    /* spot sigma of the last hit */
	float area_mm2;    /* pi * scale^2: the spot's 1-sigma disc */
	uint16_t flags;    /* km_candidate_flag bits of the last hit */
	uint16_t missed;   /* frames since the last hit (0: hit this frame) */
	uint32_t hits;     /* frames with a hit since the track began */
	uint64_t first_us; /* time of the track's first hit */
	uint64_t last_hit_us;
};

struct km_tracker_config {
	float gate_mm;           /* > 0; default 20 (docs/signal-model.md: gate 2 cm) */
	unsigned confirm_hits;   /* 1..confirm_window; default 3 */
	unsigned confirm_window; /* 1..32 frames; default 5 */
	float delete_after_s;    /* > 0; default 0.5 s of misses */
	float alpha, beta;       /* alpha-beta filter gains, (0, 1]; default 0.6, 0.2 */
	unsigned max_tracks;     /* live tracks (tentative + confirmed), 1..256; default 64 */
	unsigned max_candidates; /* per frame, 1..256; more are ignored (counted); default 64 */
	float wrap_x_mm;         /* cylinder circumference (cols * column pitch); 0 = flat */
	/* Ended tracks remembered for id reuse, 0..4096 (default 256; the
	 * oldest is forgotten first); 0 = every track gets a new id. */
	unsigned remember_spots;
	/* A spot found again within this of where a track was last seen is
	 * that track's spot (its id comes back; a coasting track takes the
	 * new hits); 0 = gate_mm (default). The pipeline uses max(gate_mm,
	 * 1.5 x pitch): on a coarse grid a spot's maximum hops a cell. */
	float same_spot_mm;
	struct km_log log;
};

/* One update's output; pointers owned by the tracker, valid until the next
 * update, flush, reset or destroy. */
struct km_tracker_result {
	const struct km_track *tracks; /* confirmed tracks: START/MOVE/END, by id */
	size_t count;
	size_t tentative; /* unconfirmed tracks alive */
	size_t ignored;   /* candidates left out: over max_candidates or no free slot */
};

typedef struct km_tracker km_tracker;

KM_API struct km_tracker_config km_tracker_config_default(void);
/* KM_OK, KM_ERR_INVALID_ARG, KM_ERR_NO_MEMORY; *out NULL on error. */
KM_API int km_tracker_create(const struct km_tracker_config *cfg, km_tracker **out);

/*
 * One frame: cand[0..n) (n may be 0; cand may be NULL then), frame time in
 * microseconds (must not go backwards: KM_ERR_BAD_SEQUENCE, state kept).
 * Allocates nothing. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_BAD_SEQUENCE.
 */
KM_API int km_tracker_update(km_tracker *t, const struct km_candidate *cand, size_t n,
                             uint64_t time_us, struct km_tracker_result *res);

/* Ends every confirmed track now (one END each) and drops tentative ones;
 * use at the end of a stream. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_tracker_flush(km_tracker *t, struct km_tracker_result *res);

/* Drops every track without END reports and restarts ids at 1. */
KM_API void km_tracker_reset(km_tracker *t);
KM_API void km_tracker_destroy(km_tracker *t);

#ifdef __cplusplus
}
#endif

#endif
