/* The body chart (chart.c): past spots on a body outline. Drawn alone by
 * km_history_write_chart and as a panel of the PNG report. */
#ifndef KNOTMAP_SESSION_CHART_H
#define KNOTMAP_SESSION_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/history.h"
#include "raster.h"

/* Every knot of the history, oldest first. */
struct km__chart_spots {
	struct km_history_knot *k;
	size_t n, cap;
	size_t unplaced; /* of them, without body coordinates */
};

int km__chart_collect(km_history *h, struct km__chart_spots *s);
void km__chart_spots_free(struct km__chart_spots *s);

/* Colour of a spot persisting `days` calendar days (first to last sighting,
 * 0: seen on one day only);
 * persistent (7-day rule): the alarm colour. 0xRRGGBB. */
uint32_t km__chart_colour(uint32_t days, bool persistent);

/* Where a body position lands in a figure of height fig_h whose vertex is
 * at (cx, top): back view, the person's left on the viewer's left. */
void km__chart_place(const struct km_history_body *b, double cx, double top, double fig_h,
                     double *x, double *y);

/* The panel: outline, spots, legend, one advice line per spot and (note)
 * the safety note, inside the box (x, y, w, h). Fonts: the panel opens its
 * own. */
int km__chart_draw(struct km__img *im, long x, long y, long w, long h,
                   const struct km__chart_spots *s, bool note, const struct km_log *log,
                   km_history_chart_progress_fn progress, void *user);

/* The safety note every chart and report carries, as lines (NULL-terminated). */
extern const char *const km__safety_note[];

#endif
