/*
 * knotmap session_log: a session being recorded, as it goes into the history.
 * The one place that turns a live event stream into history rows, for
 * `knotmap record` and the viewer's R key alike: the session row (start, end,
 * device, the recording's full path, its mat-time length), each found knot as
 * an observation (with its body coordinates when the caller gives them,
 * km_session_log_event_at, so the same knot matches across sessions wherever
 * the person lay) and each hold, finished or still running at the end, folded
 * by the one summary (knotmap/summary.h).
 *
 * Thread safety: one thread per object (it owns a km_history handle).
 */
#ifndef KNOTMAP_SESSION_LOG_H
#define KNOTMAP_SESSION_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"
#include "knotmap/history.h"
#include "knotmap/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_session_log km_session_log;

struct km_session_log_config {
	const char *db_path;   /* NULL = km_history_default_path() */
	const char *uuid;      /* the recording's session id (unique; may be NULL) */
	int64_t start_unix_us; /* wall clock when the recording started */
	const char *device;    /* device serial or "sim:<scenario>"; NULL = "" */
	const char *recording; /* full path of the .kmrec; NULL = "" */
	struct km_log log;
};

KM_API struct km_session_log_config km_session_log_config_default(void);

/* Opens the history (creating it 0600) and adds the session row. KM_OK or the
 * errors of km_history_create / km_history_add_session (KM_ERR_EXISTS for a
 * uuid already there, KM_ERR_NAME_TOO_LONG for a path over
 * KM_HISTORY_PATH_MAX...). *out is NULL on error. */
KM_API int km_session_log_create(const struct km_session_log_config *cfg, km_session_log **out);

/* The device time of the recording's first frame: an event at device time t
 * happened at start_unix_us + (t - first). Call once, before the events. */
KM_API void km_session_log_first_frame(km_session_log *l, uint64_t device_us);

/* The body outline of the current frame (knotmap/pipeline.h's result):
 * knots found while it is known are stored relative to the spine midline and
 * the head end of the body. found false: mat coordinates. */
KM_API void km_session_log_outline(km_session_log *l, bool found, float midline_x_mm, float top_mm);

/*
 * Folds one event in (km_summary_add) and stores what the history keeps: a
 * KNOT_FOUND as an observation, a closed hold with its outcome. *persistent
 * (may be NULL) is set when this knot now meets the 7-day rule. KM_OK, or the
 * history's error (the event is still folded into the summary).
 */
KM_API int km_session_log_event(km_session_log *l, const struct km_event *ev, bool *persistent);
/* The same with the spot's body coordinates (the caller's dsp fills them:
 * km_body_history_position of the event's position, in knotmap/body.h; NULL
 * or an empty region: unknown). A KNOT_FOUND with
 * them is stored and matched across sessions by body position. */
KM_API int km_session_log_event_at(km_session_log *l, const struct km_event *ev,
                                   const struct km_history_body *body, bool *persistent);

/* The last frame's device time: each hold still running is stored with its
 * length so far (knotmap/summary.h's km_summary_finish; outcome as far as
 * known), so a session stopped mid-hold lists that hold, not 0 s. Call once,
 * after the last event. KM_OK or the history's error. */
KM_API int km_session_log_finish(km_session_log *l, uint64_t last_device_us);

/* Stores the session's end (wall clock, us). */
KM_API int km_session_log_end(km_session_log *l, int64_t end_unix_us);
/* Stores the session's mat-time length (s), as `replay` gives it for the
 * recording, so the history lists it without opening the file. */
KM_API int km_session_log_mat_seconds(km_session_log *l, double seconds);

KM_API int64_t km_session_log_id(const km_session_log *l);
/* The open history (for advice after the session); owned by l. */
KM_API km_history *km_session_log_history(km_session_log *l);
/* Everything folded in so far; owned by l. */
KM_API const struct km_summary *km_session_log_summary(const km_session_log *l);

/* Closes the history and frees l. NULL ok. Does not end the session. */
KM_API void km_session_log_destroy(km_session_log *l);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SESSION_LOG_H */
