/*
 * knotmap viewer: draws a snapshot with an SDL_Renderer (heatmap, colour bar,
 * markers, hold ring, HUD, guidance, overlays). Main thread only (SDL video
 * rule); km_render_heatmap_pixels is pure.
 */
#ifndef KNOTMAP_RENDER_H
#define KNOTMAP_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/colormap.h"
#include "knotmap/core.h"
#include "knotmap/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

struct SDL_Renderer;
struct km_history_screen;

typedef struct km_render km_render;

#define KM_VIEW_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define KM_VIEW_DEFAULT_FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

struct km_render_config {
	const char *font_path;      /* regular face; default KM_VIEW_DEFAULT_FONT */
	const char *font_bold_path; /* bold face; default KM_VIEW_DEFAULT_FONT_BOLD (falls
	                               back to font_path when missing) */
	int width, height;          /* logical canvas, px (default 1024 x 640) */
	int max_texture;            /* largest side of the upscaled heatmap, px (default 512) */
	bool no_static_cache;       /* draw the background layer every time (what a renderer
	                               without render targets does; tests compare the two) */
	struct km_log log;
};

/* What the user toggled. */
struct km_view_ui {
	enum km_colormap colormap;
	bool show_markers;
	bool show_outline;
	bool show_help;
	bool frozen;              /* live view paused (display frozen; processing goes on) */
	bool red_flag;            /* numbness/tingling/radiating pain logged: stop advice */
	float fixed_range_kpa;    /* > 0: colour range 0..this; 0 = auto */
	enum km_view_scale scale; /* default KM_SCALE_SQRT */
	const char *notice;       /* short transient line ("Saved knotmap-...png"); may be NULL */
	/* The history screen (B key, knotmap/history_screen.h) over everything
	 * but the red-flag screen; NULL: closed. */
	const struct km_history_screen *history;
};

struct km_render_config km_render_config_default(void);
struct km_view_ui km_view_ui_default(void);

/* Opens the fonts (SDL2_ttf must be initialised by the caller, TTF_Init) and
 * prepares the renderer state; the heatmap texture is made on first draw.
 * KM_ERR_NOT_FOUND when the font file is missing (the log says which path and
 * the package: fonts-dejavu-core), KM_ERR_INVALID_ARG, KM_ERR_NO_MEMORY,
 * KM_ERR_NO_DISPLAY (texture creation failed). */
int km_render_create(struct SDL_Renderer *renderer, const struct km_render_config *cfg,
                     km_render **out);
/* NULL ok. Before SDL_DestroyRenderer / TTF_Quit. */
void km_render_destroy(km_render *r);
/* Forgets the auto-range history and text cache. */
void km_render_reset(km_render *r);

/* Draws one whole view (clears first; does not present). snap may be NULL
 * ("waiting for the mat..."). dt_s: time since the previous draw (drives the
 * auto-range decay), s. KM_OK or KM_ERR_NO_MEMORY / KM_ERR_INTERNAL (SDL). */
int km_render_draw(km_render *r, const struct km_view_snapshot *snap, const struct km_view_ui *ui,
                   float dt_s);

/*
 * The sensor as its source describes it (an import's km_source_info): rows
 * and columns may be spaced differently (a Tekscan 10.28 x 5.28 mm), and
 * cells off the sensor (mask 0) are not readings. The map then keeps the
 * true aspect (a cell twice as tall as wide is drawn so), the heading states
 * both pitches, and masked cells are drawn hatched, "outside the sensor",
 * never as 0 kPa. Applies while the frames are rows x cols. Copies the mask
 * (once: nothing per frame). s NULL: back to square cells, no mask.
 * KM_OK, KM_ERR_INVALID_ARG, KM_ERR_NO_MEMORY.
 */
struct km_render_sensor {
	uint16_t rows, cols;
	float row_pitch_mm, col_pitch_mm; /* centre spacing down / across, > 0 */
	const uint8_t *mask;              /* rows x cols, 1 = a real sensel; NULL = all */
};
int km_render_set_sensor(km_render *r, const struct km_render_sensor *s);

/* Where the last draw put the heatmap, in logical px (for tests and mouse):
 * x, y, w, h of the grid rectangle. */
void km_render_heat_rect(const km_render *r, int rect[4]);
/*
 * What the last draw placed on and around the map, logical px: the markers'
 * labels and everything they are kept off (tests check that nothing
 * overlaps; screenshots explain themselves). Labels are tried around their
 * marker (right, left, above, below, the diagonals), then further out with a
 * leader line; those that fit nowhere are counted in a "+N more" note.
 */
enum km_render_box_kind {
	KM_BOX_LABEL = 0,  /* a marker's label, its dark plate included */
	KM_BOX_MARKER,     /* a marker's circle (spots on one contact: one circle) */
	KM_BOX_HOLD_RING,  /* the hold ring with its halo */
	KM_BOX_HOLD_TAG,   /* the seconds under (or over) the ring */
	KM_BOX_MORE,       /* the "+N more" note */
	KM_BOX_GUIDED,     /* the guided target's rings and its label */
	KM_BOX_OVERLAY,    /* a banner, PAUSED, a notice, the "spine" word */
	KM_BOX_COLOUR_BAR, /* the colour bar and its tick labels */
	KM_BOX_PANEL,      /* the HUD column and the guidance strip */
	KM_BOX_HOLD_PANEL, /* the hold panel's current-hold part (its big number, words) */
	KM_BOX_HOLD_LIST,  /* a row of the hold panel's list (track_id: its spot), or its
	                      heading (track_id 0) */
};

struct km_render_box {
	enum km_render_box_kind kind;
	uint32_t track_id; /* LABEL / MARKER: the spot's track (the group's shown one) */
	int x, y, w, h;
};

#define KM_RENDER_MAX_BOXES 112

struct km_render_layout {
	size_t n_boxes;
	struct km_render_box box[KM_RENDER_MAX_BOXES];
	size_t n_markers; /* circles drawn */
	size_t n_labels;  /* labels placed */
	size_t n_hidden;  /* labels that fit nowhere ("+N more") */
};

/* The layout of the last draw (zeroed before any). */
void km_render_layout(const km_render *r, struct km_render_layout *out);

/* Colour range of the last draw, kPa. */
void km_render_range(const km_render *r, float *lo, float *hi);

/* What drawing has cost since create (bench/viewer reads it; tests count
 * uploads). CPU times are the calling thread's, s. */
struct km_render_stats {
	uint64_t draws;          /* km_render_draw calls */
	uint64_t heat_uploads;   /* heatmap texture uploads (new frame, colours or range) */
	uint64_t text_renders;   /* strings rasterised (text cache misses) */
	uint64_t static_redraws; /* the cached background layer redrawn */
	double heat_s;           /* heatmap pixels, upload and copy */
	double text_s;           /* text: rasterising and copying */
	double overlay_s;        /* everything else drawn: clear, panels, bar, markers, ring */
};
void km_render_stats(const km_render *r, struct km_render_stats *out);

/*
 * Software upscale + colour: bilinear interpolation of the kPa grid (periodic
 * across columns for a cylinder), then the colour map, into out
 * ([rows*scale x cols*scale] 0xAARRGGBB, alpha 0xff, row stride pitch_px).
 * scale 1..64. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE. Pure.
 */
int km_render_heatmap_pixels(const struct km_frame *f, enum km_colormap map,
                             enum km_view_scale vscale, float lo, float hi, int scale,
                             uint32_t *out, size_t pitch_px);

/* Draws a hold ring centred at (cx, cy) px: a track, the elapsed arc clockwise
 * from 12 o'clock (full circle = hold->release_s), a tick at target_s, in the
 * band's colour (grey when paused). Returns the arc's end angle in degrees
 * clockwise from 12 o'clock (0..360). */
float km_render_hold_ring(struct SDL_Renderer *renderer, float cx, float cy, float radius,
                          float thickness, const struct km_view_hold *hold);
/* The band's ring colour, 0x00RRGGBB. */
uint32_t km_render_band_colour(enum km_view_band band, bool paused);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_RENDER_H */
