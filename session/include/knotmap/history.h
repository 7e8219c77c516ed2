/*
 * knotmap history: a small SQLite database of sessions, candidate knots, holds
 * and red-flag symptoms, kept across sessions so that a knot that persists for
 * more than a week can be pointed out (the "7-day rule": see a healthcare
 * professional). Detections are candidate tender/stiff spots, never a diagnosis.
 *
 * File: $XDG_DATA_HOME/knotmap/history.db (default
 * ~/.local/share/knotmap/history.db), created 0600 in a 0700 directory, WAL
 * journal. The schema is versioned with PRAGMA user_version and migrated
 * forward on open; a newer schema than this library knows is refused.
 *
 * Times are wall clock, microseconds since 1970-01-01 UTC (int64). Positions
 * are mm: body-relative when the body outline is known (knotmap record uses x
 * from the spine midline, y from the head end of the body outline), else
 * mat-relative (the grid's x/y); the two are never matched against each other.
 * A sighting with body coordinates (struct km_history_body: side, region,
 * distance from the spine, position along the body, from the dsp's body
 * model) is matched by those only, so the same knot is found again however
 * the person lay on the mat (schema 3; older rows have none).
 *
 * Returns: every function returns KM_OK or a km_error: KM_ERR_INVALID_ARG (NULL
 * handle or argument, bad value), KM_ERR_STATE (a write on a read_only handle),
 * KM_ERR_DATABASE / KM_ERR_BUSY / KM_ERR_NO_SPACE / KM_ERR_PERMISSION (SQLite
 * errors, detail in the log), plus the codes listed at each function. Strings
 * in the structs are NUL-terminated and truncated to fit. Callbacks (the
 * *_fn lists) get pointers valid only during the call; a non-zero return
 * stops the listing and is returned.
 *
 * Memory: SQLite allocates with its own allocator (not km_set_allocator's).
 *
 * Thread safety: one km_history must not be used from two threads at once.
 * Distinct handles on the same file are safe (SQLite locking; busy timeout 2 s).
 */
#ifndef KNOTMAP_HISTORY_H
#define KNOTMAP_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/image.h"
#include "knotmap/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Schema version this library writes (PRAGMA user_version). */
#define KM_HISTORY_SCHEMA_VERSION 3

/* A knot seen again across sessions spanning more than this is flagged. */
#define KM_HISTORY_PERSIST_DAYS 7
/* Two observations within this distance are the same knot, mm. */
#define KM_HISTORY_MATCH_MM 20.0f
/* Body coordinates: the same knot is on the same side, in the same region,
 * within this distance from the midline (mm) and this far along the body (%
 * of the contact length, about 5 cm on an adult). People lie differently each
 * time, so spots are matched on the body, not on the mat. */
#define KM_HISTORY_MATCH_LATERAL_MM 30.0f
#define KM_HISTORY_MATCH_ALONG_PCT 3.0f

typedef struct km_history km_history;

struct km_history_config {
	struct km_log log;
	const char *path;   /* NULL: km_history_default_path(); copied */
	float match_mm;     /* same-knot radius, mm; default 20; (0, 500] */
	float persist_days; /* 7-day rule span, days; default 7; (0, 3650] */
	bool read_only;     /* open without creating or migrating */
};

KM_API struct km_history_config km_history_config_default(void);

/*
 * The default database path: $XDG_DATA_HOME/knotmap/history.db when
 * XDG_DATA_HOME is set and absolute, else $HOME/.local/share/knotmap/history.db.
 * Writes a NUL-terminated path into buf[cap]. KM_OK, KM_ERR_NOT_FOUND (no HOME),
 * KM_ERR_OVERFLOW (buf too small), KM_ERR_INVALID_ARG.
 */
KM_API int km_history_default_path(char *buf, size_t cap);
/* The same with `sub` instead of "history.db" (e.g. "sessions"). */
KM_API int km_history_data_path(const char *sub, char *buf, size_t cap);

/*
 * Opens (creating 0600 with its 0700 directory, unless read_only) and migrates
 * the database. KM_OK; KM_ERR_INVALID_ARG (bad config); KM_ERR_BAD_VERSION
 * (schema newer than this library); KM_ERR_PERMISSION; KM_ERR_NOT_FOUND
 * (read_only and missing); KM_ERR_DATABASE (SQLite error, logged, or not a
 * database); KM_ERR_NO_MEMORY.
 */
KM_API int km_history_create(const struct km_history_config *cfg, km_history **out);
/* NULL ok. */
KM_API void km_history_destroy(km_history *h);
/* The schema version found on disk after open (== KM_HISTORY_SCHEMA_VERSION
 * unless read_only on an older file). */
KM_API int km_history_schema_version(const km_history *h);

/* Deletes every row (keeps the schema). For tests and "forget my data".
 * KM_OK, KM_ERR_DATABASE, KM_ERR_STATE (read_only). */
KM_API int km_history_reset(km_history *h);

/* ---- sessions ---------------------------------------------------------- */

/* Room for any path the kernel accepts (PATH_MAX on Linux), so recording
 * paths are stored whole, never cut. */
#define KM_HISTORY_PATH_MAX 4096

struct km_history_session {
	int64_t id;    /* assigned by the database */
	char uuid[48]; /* the recording's session id; unique; may be empty */
	int64_t start_unix_us;
	int64_t end_unix_us;                 /* 0 while running */
	char device[64];                     /* device serial or "sim:<scenario>" */
	char recording[KM_HISTORY_PATH_MAX]; /* full path of the .kmrec, may be empty */
	uint32_t knots;                      /* knots observed in it (filled by queries) */
	uint32_t holds;                      /* holds in it (filled by queries) */
	/* Mat-time length, s (the recording's frame span, as `replay` says it);
	 * < 0 = unknown (a session stored before schema 3, or still running). */
	double mat_seconds;
};

/* Adds a session; *id receives its id. KM_ERR_EXISTS when uuid is already there;
 * KM_ERR_NAME_TOO_LONG when a text field is not NUL-terminated within its array
 * (nothing is stored cut short). */
KM_API int km_history_add_session(km_history *h, const struct km_history_session *s, int64_t *id);
KM_API int km_history_end_session(km_history *h, int64_t id, int64_t end_unix_us);
/* Stores the session's mat-time length (s, finite, >= 0). KM_ERR_NOT_FOUND. */
KM_API int km_history_set_mat_seconds(km_history *h, int64_t id, double seconds);
/* KM_ERR_NOT_FOUND when no such id. */
KM_API int km_history_get_session(km_history *h, int64_t id, struct km_history_session *out);
/* Looks a session up by uuid. KM_ERR_NOT_FOUND. */
KM_API int km_history_find_session(km_history *h, const char *uuid, int64_t *id);

/* ---- knots ------------------------------------------------------------- */

/* Body coordinates of a spot (knotmap/body.h's km_body_position, copied
 * here so the history does not depend on the dsp). region empty: unknown. */
struct km_history_body {
	char region[24];  /* km_body_region_name(): "upper back", "lower legs"... */
	int side;         /* -1 the person's right, +1 left, 0 on the midline */
	float lateral_mm; /* distance from the midline, >= 0 */
	float along_pct;  /* from the vertex, % of the contact length, 0..100 */
};

/* One sighting of a candidate knot in a session. */
struct km_history_observation {
	int64_t session_id;
	int64_t time_unix_us;
	float x_mm, y_mm;
	bool body_relative;
	float stiffness; /* stiffness index (arbitrary units, > 0) or 0 = unknown */
	float peak_kpa;  /* peak pressure on the spot, kPa, or 0 */
	/* Where on the body (region empty: unknown). When known, the sighting
	 * is matched by body position (side, region, lateral and along within
	 * KM_HISTORY_MATCH_LATERAL_MM / _ALONG_PCT), never by mat position. */
	struct km_history_body body;
};

/* A knot as the history sees it: all sightings within match_mm merged. */
struct km_history_knot {
	int64_t id;
	float x_mm, y_mm; /* mean position of its sightings */
	bool body_relative;
	int64_t first_seen_unix_us;
	int64_t last_seen_unix_us;
	uint32_t sessions; /* distinct sessions it was seen in */
	uint32_t observations;
	float last_stiffness;        /* 0 = unknown */
	bool persistent;             /* 7-day rule: seen in >= 2 sessions spanning > persist_days */
	struct km_history_body body; /* mean body position; region empty: unknown */
	uint32_t days_seen;          /* distinct calendar days (local time) it was seen on */
	uint32_t span_days;          /* calendar days from the first to the last (0: one day) */
};

/* A knot's name for people: "left upper back", "upper back (midline)", or
 * "a spot off the body outline" / "a spot on the mat" without body
 * coordinates. Always terminated; returns the length it needed. */
KM_API size_t km_history_knot_name(const struct km_history_knot *k, char *buf, size_t n);
/* The 7-day rule for one spot, as one line: "left upper back: seen on 9 days
 * over 12 days: see a healthcare professional" (persistent; 12 = span_days),
 * "left upper back: seen on 2 days over 3 days", or "...: seen on 1 day". Always terminated;
 * returns the length needed. */
KM_API size_t km_history_knot_advice(const struct km_history_knot *k, char *buf, size_t n);

/*
 * Records a sighting: matched to the nearest knot within match_mm (same
 * reference frame) or a new knot. *knot_id (may be NULL) receives the knot,
 * *persistent (may be NULL) whether the 7-day rule now flags it.
 * KM_ERR_INVALID_ARG (non-finite position), KM_ERR_NOT_FOUND (no session).
 */
KM_API int km_history_add_observation(km_history *h, const struct km_history_observation *o,
                                      int64_t *knot_id, bool *persistent);

typedef int (*km_history_knot_fn)(void *user, const struct km_history_knot *k);
/* Calls fn for each knot (session_id 0: all; else those seen in that session),
 * oldest first. A non-zero return from fn stops and is returned. */
KM_API int km_history_list_knots(km_history *h, int64_t session_id, km_history_knot_fn fn,
                                 void *user);

/* ---- holds ------------------------------------------------------------- */

struct km_history_hold {
	int64_t id;
	int64_t session_id;
	int64_t knot_id; /* 0 = not linked to a knot */
	int64_t start_unix_us;
	float duration_s;        /* timed seconds, pauses excluded */
	float load_kpa;          /* mean load */
	float dose_kpa_s;        /* load x time */
	float stiffness_pct;     /* change over the hold, % */
	enum km_outcome outcome; /* knotmap/summary.h */
};

/* KM_ERR_INVALID_ARG for negative/non-finite numbers or a bad outcome. */
KM_API int km_history_add_hold(km_history *h, const struct km_history_hold *hold, int64_t *id);
typedef int (*km_history_hold_fn)(void *user, const struct km_history_hold *hold);
/* Holds of a session (0: all), in time order. */
KM_API int km_history_list_holds(km_history *h, int64_t session_id, km_history_hold_fn fn,
                                 void *user);

/* ---- red flags --------------------------------------------------------- */

enum km_red_flag_kind {
	KM_RED_FLAG_OTHER = 0,
	KM_RED_FLAG_NUMBNESS = 1,
	KM_RED_FLAG_TINGLING = 2,
	KM_RED_FLAG_RADIATING = 3, /* pain radiating / shooting down a limb */
};

struct km_history_red_flag {
	int64_t id;
	int64_t session_id; /* 0 = not tied to a session */
	int64_t time_unix_us;
	enum km_red_flag_kind kind;
	char text[256];
};

/* Classifies free text ("numb", "pins and needles", "shooting down my leg"...).
 * Pure; thread-safe. */
KM_API enum km_red_flag_kind km_red_flag_classify(const char *text);
KM_API const char *km_red_flag_kind_name(enum km_red_flag_kind kind);
/* Stores an entry; kind is classified from text. text must be non-empty. */
KM_API int km_history_add_red_flag(km_history *h, int64_t session_id, int64_t time_unix_us,
                                   const char *text, int64_t *id);
typedef int (*km_history_red_flag_fn)(void *user, const struct km_history_red_flag *f);
KM_API int km_history_list_red_flags(km_history *h, km_history_red_flag_fn fn, void *user);

/* ---- sessions list ----------------------------------------------------- */

typedef int (*km_history_session_fn)(void *user, const struct km_history_session *s);
/* All sessions, newest first, with their knot and hold counts. */
KM_API int km_history_list_sessions(km_history *h, km_history_session_fn fn, void *user);

/* What the history says the user should hear. */
struct km_history_advice {
	uint32_t persistent_knots; /* knots flagged by the 7-day rule */
	uint32_t red_flags;        /* symptom entries */
	bool see_professional;     /* either of the above */
};
KM_API int km_history_advice(km_history *h, struct km_history_advice *out);

/* ---- body chart -------------------------------------------------------- */

/* Draw-time progress: spots placed out of total. May be NULL. */
typedef void (*km_history_chart_progress_fn)(void *user, uint64_t done, uint64_t total);

/*
 * The body chart as a PNG (through knotmap/image.h: 0600, no overwrite
 * without force, links refused): a back-view body outline with every spot
 * of every session that has body coordinates placed on it, coloured by the
 * days it has persisted (first to last sighting), numbered, with a legend,
 * one line per spot with the 7-day rule, and the safety note. Spots stored
 * without body coordinates are counted under the chart, not placed.
 * KM_OK, the errors of km_history_list_knots and km_image_write_png.
 */
KM_API int km_history_write_chart(km_history *h, const struct km_image_config *ic,
                                  km_history_chart_progress_fn progress, void *user);

/* The smallest image km_history_draw_chart draws into, px. */
#define KM_HISTORY_CHART_MIN_W 480
#define KM_HISTORY_CHART_MIN_H 320

/*
 * The same body chart drawn into the caller's image (the viewer's history
 * screen shows it): rgb is width x height pixels, 3 bytes each (R, G, B),
 * row-major without padding; it is cleared to white first. The chart fills
 * it with a 16 px margin; safety_note false leaves the note off (a screen
 * that shows it elsewhere). KM_OK, KM_ERR_INVALID_ARG (NULL, or smaller
 * than KM_HISTORY_CHART_MIN_W x _H), the errors of km_history_list_knots.
 */
KM_API int km_history_draw_chart(km_history *h, uint8_t *rgb, uint32_t width, uint32_t height,
                                 bool safety_note, const struct km_log *log);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_HISTORY_H */
