/*
 * knotmap viewer: the view model, the plain data one rendered frame shows
 * (frame + markers + hold + stats + recent messages), filled by the
 * processing thread and drawn by knotmap/render.h.
 * Detections are "candidate tender/stiff spots", never a diagnosis.
 */
#ifndef KNOTMAP_SNAPSHOT_H
#define KNOTMAP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/guided.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_VIEW_MAX_MARKERS 32
#define KM_VIEW_MAX_MESSAGES 6
#define KM_VIEW_TEXT_MAX 112
/* a spot's name: body.h's KM_BODY_NAME_MAX ("right neck and shoulders") */
#define KM_VIEW_NAME_MAX 32

/* One candidate tender/stiff spot (a confirmed track). Positions in mm on the
 * grid: x along columns from the left edge of cell 0, y along rows. */
struct km_view_marker {
	uint32_t track_id;
	float x_mm, y_mm;
	float radius_mm;     /* spot size, for the marker circle; 0 = default */
	float peak_kpa;      /* pressure at the spot */
	float stiffness_pct; /* stiffness index vs neighbourhood, %; valid when has_stiffness */
	bool has_stiffness;
	bool over_spine; /* on the spine midline: never timed */
	bool landmark;   /* much stronger than a knot: bone or tool contact (never
	                    labelled as a knot) */
	/* Short words for the spot: side and body region ("left upper back",
	 * km_body_spot_name) from body coordinates, else a neutral letter stable while the track lives
	 * ("spot A"). */
	char name[KM_VIEW_NAME_MAX];
};

/* How the load on the held spot compares with the tolerable band. */
enum km_view_band {
	KM_BAND_NONE = 0,
	KM_BAND_TOO_LIGHT = 1,
	KM_BAND_GOOD = 2,
	KM_BAND_TOO_MUCH = 3,
};

enum km_view_hold_state {
	KM_VIEW_HOLD_IDLE = 0,     /* no hold: no ring */
	KM_VIEW_HOLD_SETTLING = 1, /* engaged, baselines being captured */
	KM_VIEW_HOLD_HOLDING = 2,  /* timer running */
	KM_VIEW_HOLD_PAUSED = 3,   /* short unload / drift: timer paused, not reset */
	KM_VIEW_HOLD_DONE = 4,     /* stopped; shows the final time for a moment */
};

/* The active hold (at most one is shown: the most loaded spot). */
struct km_view_hold {
	enum km_view_hold_state state;
	uint32_t track_id;
	float x_mm, y_mm;
	float held_s;    /* timer, pauses excluded, s */
	float target_s;  /* target (30 s default); ring tick */
	float release_s; /* release prompt (60 s default, 30-90); full ring */
	float load_kpa;
	enum km_view_band band;
	bool ease_off;               /* tensing up during the hold: "ease off" */
	float stiffness_pct;         /* change since the hold started, % (NaN = unknown) */
	char name[KM_VIEW_NAME_MAX]; /* the held spot, as its marker says */
};

/* One hold of the session for the hold panel's list. */
struct km_view_hold_item {
	uint32_t track_id;
	/* Timed seconds (pauses excluded). Finished: as the session summary
	 * (knotmap/summary.h) counts the hold: the HOLD_STOPPED event's timer,
	 * else its wall time. Running: so far. */
	float held_s;
	bool running;
	uint64_t start_us; /* HOLD_STARTED's frame time */
	char name[KM_VIEW_NAME_MAX]; /* the spot, as its marker says */
};

/* The hold panel lists this many of the session's most recent holds. */
#define KM_VIEW_MAX_HOLDS 8

/* Counters and facts for the HUD. Strings NUL-terminated. */
struct km_view_stats {
	char device[64];    /* "virtual mat (back-lying)", "knotmap mat KM-0012" */
	char transport[16]; /* "sim", "libusb", "replay" */
	float rate_hz;      /* measured frame rate */
	uint64_t frames_ok;
	uint64_t frames_lost;
	uint64_t crc_errors;
	float latency_ms;   /* frame arrival (host) to snapshot publish */
	double session_s;   /* since the stream started (frame clock) */
	float total_load_n; /* sum of kPa x cell area over the grid, N */
	float peak_kpa;
	bool recording;
	char record_path[96];
	bool replay;
	bool replay_paused;
	float replay_speed; /* 0.25..8 */
	double replay_pos_s;
	bool ended;        /* replay / finite source reached its end */
	bool disconnected; /* mat unplugged; waiting for it */
	/* What limits the analysis, for the guidance line (issue 20): */
	bool detection_off; /* no dsp pipeline for this source: no spots, no holds */
	bool raw_units;     /* the frames are raw counts, not kPa: relative rules only */
	bool guard_off;     /* frame rate below the tensing-up guard's need */
	/* cells coarser than a knot: spots only under a tool (KM_PIPELINE_COARSE);
	 * coarse_mm is the coarser axis's pitch */
	bool coarse;
	float coarse_mm;
	bool pitch_guessed; /* the replayed file gave no cell size: it is a guess */
	/* Faulty cells, seen within the last few seconds: */
	bool bad_cells;       /* some cells read NaN/inf/negative (read as 0) */
	uint32_t n_bad_cells; /* how many, in the last frame that had any */
	bool saturated;       /* cells at the sensor's ceiling (stuck, or overloaded) */
};

enum km_view_level {
	KM_VIEW_INFO = 0,
	KM_VIEW_GOOD = 1,
	KM_VIEW_WARN = 2,
	KM_VIEW_ALERT = 3,
};

/* A recent event turned into words ("Hold started on spot #3"). */
struct km_view_message {
	enum km_view_level level;
	double age_s; /* how long ago, at snapshot time */
	char text[KM_VIEW_TEXT_MAX];
};

/*
 * Everything one rendered frame shows. The frame and outline are allocated by
 * km_view_snapshot_init for a grid shape and reused: nothing is allocated per
 * frame.
 */
struct km_view_snapshot {
	struct km_frame *frame; /* kPa map, owned */
	uint8_t *outline;       /* [rows x cols] body mask (1 = body), owned */
	bool outline_valid;
	bool midline_valid; /* spine midline x, from top to bottom of the body, mm */
	float midline_x_mm, midline_top_mm, midline_bottom_mm;
	bool centre_valid;
	float centre_x_mm, centre_y_mm; /* load centre */
	/* The pitches the positions above and below (markers, hold, outline
	 * midline, centre, guided target) are in, per axis, mm: the dsp's x_mm
	 * = (col + 0.5) x pos_col_pitch_mm. 0: frame->pitch_mm. On a mat whose
	 * rows and columns are spaced differently the picture keeps the true
	 * aspect (km_render_set_sensor) and positions map per axis. */
	float pos_row_pitch_mm, pos_col_pitch_mm;
	size_t n_markers;
	struct km_view_marker markers[KM_VIEW_MAX_MARKERS];
	struct km_view_hold hold;
	/* The session's holds, most recent first (at most KM_VIEW_MAX_HOLDS of
	 * holds_total): those started (HOLD_STARTED) since the stream began or
	 * was last reset (a replay's seek). */
	size_t n_holds;
	struct km_view_hold_item holds[KM_VIEW_MAX_HOLDS];
	uint32_t holds_total;
	bool tensing;     /* guarding detected now (any spot) */
	bool seek_advice; /* a knot persisted > 7 days, or symptoms logged */
	struct km_view_stats stats;
	struct km_guided_view guided; /* the guided routine (guided.active false: off) */
	bool sound;                   /* sound cues on (a device is open and not muted) */
	float volume;                 /* 0..1 */
	size_t n_messages;            /* newest first */
	struct km_view_message messages[KM_VIEW_MAX_MESSAGES];
	uint64_t serial; /* increases with every publish (set by km_tribuf) */
};

/* Allocates the frame and outline for rows x cols (1..KM_FRAME_MAX_DIM) and
 * zeroes the rest. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_NO_MEMORY. */
int km_view_snapshot_init(struct km_view_snapshot *s, uint16_t rows, uint16_t cols, float pitch_mm,
                          enum km_geometry geometry);
/* Frees what init allocated; zeroes *s. NULL ok. */
void km_view_snapshot_free(struct km_view_snapshot *s);
/* Copies everything from src into dst (same shape; KM_ERR_SHAPE otherwise).
 * Does not allocate. */
int km_view_snapshot_copy(struct km_view_snapshot *dst, const struct km_view_snapshot *src);

/* Formats the HUD counter lines ("frames 1234 ok  0 lost  0 CRC") into buf,
 * one per '\n'. Returns the number of lines. buf NUL-terminated, truncated to
 * size. Pure. */
int km_view_format_stats(const struct km_view_stats *st, char *buf, size_t size);

/* The length in a row of the hold panel's list (the spot's name goes
 * beside it): "45 s" for a finished hold (the seconds rounded, as the
 * session summary prints them), "12 s now" for the running one (whole
 * seconds, as the ring counts). Returns the length needed. Pure. */
size_t km_view_format_hold_item(const struct km_view_hold_item *h, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SNAPSHOT_H */
