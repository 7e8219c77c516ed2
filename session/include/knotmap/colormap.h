/*
 * knotmap colormap: the one set of colour maps, shared by the viewer's heatmap
 * and the PNG report (knotmap/export.h), so a pressure has the same colour in
 * both. Pure and thread-safe.
 */
#ifndef KNOTMAP_COLORMAP_H
#define KNOTMAP_COLORMAP_H

#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Perceptual 256-entry maps. viridis: matplotlib's (van der Walt & Smith, CC0);
 * turbo: Google's (Mikhailov 2019, Apache-2.0). */
enum km_colormap { KM_COLORMAP_VIRIDIS = 0, KM_COLORMAP_TURBO = 1, KM_COLORMAP_COUNT };

/* The 256 entries as 0x00RRGGBB, index 0 = lowest value. An unknown map gives
 * viridis. Never NULL; static storage. */
KM_API const uint32_t *km_colormap_table(enum km_colormap map);
/* "viridis", "turbo"; "unknown" otherwise. */
KM_API const char *km_colormap_name(enum km_colormap map);
/* How values map onto the table. SQRT spreads the low end: the body's 5-30
 * kPa stays visible next to a ball's 500 kPa; the colour bar's ticks follow. */
enum km_view_scale {
	KM_SCALE_LINEAR = 0,
	KM_SCALE_SQRT = 1,
};

/* Table index for value in [lo, hi] (clamped; NaN -> 0; hi <= lo -> 0). */
KM_API uint8_t km_colormap_index(float value, float lo, float hi);
/* Same with the square-root scale: 255 * sqrt((value - lo) / (hi - lo)). */
KM_API uint8_t km_colormap_index_sqrt(float value, float lo, float hi);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_COLORMAP_H */
