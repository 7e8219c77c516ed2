/*
 * knotmap viewer: the history screen (the B key). The body chart of the
 * user's history database (knotmap/history.h's km_history_draw_chart, the
 * chart `knotmap history --chart` writes): every past spot on a body
 * outline, coloured by how long it has persisted, one 7-day-rule line per
 * spot. Loaded once when the screen opens (never per frame); drawn by
 * knotmap/render.h when km_view_ui.history points at it.
 */
#ifndef KNOTMAP_HISTORY_SCREEN_H
#define KNOTMAP_HISTORY_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KM_HISTORY_SCREEN_MAX_ADVICE 32
#define KM_HISTORY_SCREEN_LINE 160

struct km_history_screen {
	/* KM_OK: a chart; KM_ERR_NOT_FOUND: no history yet (no database, or
	 * no session in it); anything else: the database could not be read. */
	int status;
	char path[4096];                           /* the database read */
	char headline[KM_HISTORY_SCREEN_LINE];     /* one line above the chart */
	uint32_t sessions, spots, persistent;      /* spots: with body coordinates */
	uint32_t unplaced;                         /* spots without body coordinates */
	uint32_t width, height;                    /* of rgb, px */
	uint8_t *rgb;                              /* the chart, R G B bytes; NULL when none */
	/* The 7-day rule per spot (km_history_knot_advice), in the chart's
	 * order; the first KM_HISTORY_SCREEN_MAX_ADVICE of `spots`. */
	size_t n_advice;
	char advice[KM_HISTORY_SCREEN_MAX_ADVICE][KM_HISTORY_SCREEN_LINE];
	uint64_t serial; /* new for every load (the renderer re-uploads on change) */
};

/*
 * Reads the history at path (NULL: km_history_default_path(), the database
 * `knotmap history` and the R key use), read-only: it is never created or
 * migrated here. Draws the chart into a width x height image (at least
 * KM_HISTORY_CHART_MIN_W x _H). Returns KM_OK when *out was filled, whatever
 * out->status says (that is what the screen shows); KM_ERR_INVALID_ARG,
 * KM_ERR_NO_MEMORY. Free with km_history_screen_free.
 */
int km_history_screen_load(const char *path, uint32_t width, uint32_t height,
                           const struct km_log *log, struct km_history_screen *out);
/* Frees the image; zeroes *s. NULL ok. */
void km_history_screen_free(struct km_history_screen *s);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_HISTORY_SCREEN_H */
