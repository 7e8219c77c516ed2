/* The session part's small RGB rasteriser: rectangles, rings, filled discs
 * and text in DejaVu Sans through FreeType (the font the viewer uses), with
 * a 5x7 bitmap font only when the DejaVu file is missing. The report
 * (report.c) and the body chart (chart.c) draw with it; the PNG goes out
 * through knotmap/image.h. */
#ifndef KNOTMAP_SESSION_RASTER_H
#define KNOTMAP_SESSION_RASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

/* The font the viewer ships with (fonts-dejavu-core). */
#define KM__FONT_REGULAR "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define KM__FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

struct km__img {
	uint32_t w, h;
	uint8_t *px; /* RGB, row-major, stride w * 3 */
};

/* White w x h image. KM_OK, KM_ERR_NO_MEMORY, KM_ERR_INVALID_ARG. */
int km__img_init(struct km__img *im, uint32_t w, uint32_t h);
void km__img_free(struct km__img *im);

void km__put(struct km__img *im, long x, long y, uint32_t rgb);
uint32_t km__get(const struct km__img *im, long x, long y);
void km__fill(struct km__img *im, long x, long y, long w, long h, uint32_t rgb);
void km__frame_rect(struct km__img *im, long x, long y, long w, long h, uint32_t rgb);
/* A ring between radii r0 and r1 (pixels) around (cx, cy). */
void km__ring(struct km__img *im, double cx, double cy, double r0, double r1, uint32_t rgb);
void km__disc(struct km__img *im, double cx, double cy, double r, uint32_t rgb);

/* Text. A km__text opens DejaVu Sans (bold or regular) at px pixels; when
 * the file cannot be opened it falls back to the 5x7 font (logged once per
 * open, naming the package) and km__text_is_vector() says false. */
struct km__text;
int km__text_open(struct km__text **out, bool bold, unsigned px, const struct km_log *log);
void km__text_close(struct km__text *t);
bool km__text_is_vector(const struct km__text *t);
/* Draws s (UTF-8; ASCII drawn by the fallback) with its top at y (the line
 * box: ascent + descent); returns the x after the last glyph. */
long km__text_draw(struct km__text *t, struct km__img *im, long x, long y, const char *s,
                   uint32_t rgb);
long km__text_width(struct km__text *t, const char *s);
/* Height of a line (ascent + descent) and the baseline below its top, px. */
unsigned km__text_line_h(const struct km__text *t);
unsigned km__text_baseline(const struct km__text *t);

#endif
