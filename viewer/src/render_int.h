/* Internal to the renderer: the state render.c and render_panels.c share,
 * and their drawing helpers. Main thread only. */
#ifndef KM_VIEWER_RENDER_INT_H
#define KM_VIEWER_RENDER_INT_H

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdbool.h>
#include <stdint.h>

#include "km_internal.h"
#include "knotmap/render.h"

#define KM_PI 3.14159265358979f

enum font_id { F_SMALL, F_BODY, F_LARGE, F_BANNER, F_HUGE, F_COUNT };

#define TEXT_CACHE 160
#define TEXT_LEN 160

struct text_entry {
	SDL_Texture *tex;
	int w, h;
	int font;
	uint32_t rgb;
	uint64_t used;
	char s[TEXT_LEN];
};

/* Texture pixels y, [x0, x1) of masked cells (drawn hatched). */
struct mask_run {
	int y, x0, x1;
};

/* What the static layer shows; redrawn when any of it changes. */
struct static_key {
	int map, scale;
	float lo, hi;
	SDL_Rect rect;
	int rows, cols;
	float pitch_mm;
	float row_pitch, col_pitch; /* the sensor's, when set */
	int geometry;
	bool counts; /* the frame is raw counts (KM_FRAME_UNCALIBRATED), not kPa */
};

/* Steps of the heatmap's colour-index tables (render.c heat_pixels). */
#define HEAT_LUT 65535

struct km_render {
	SDL_Renderer *ren;
	struct km_render_config cfg;
	TTF_Font *font[F_COUNT];
	struct text_entry text[TEXT_CACHE];
	uint64_t frame_no;
	double clock_s; /* sum of the draws' dt_s: animations run on it */

	SDL_Texture *heat;
	int heat_w, heat_h; /* texture size, px */
	enum km_geometry heat_geometry;
	struct col_weight *heat_xs;        /* per texture column: the cells it samples */
	float *heat_colv;                  /* one row of the grid, interpolated down the columns */
	uint8_t heat_lut[2][HEAT_LUT + 1]; /* [linear, sqrt] colour index by t */
	uint16_t heat_rows, heat_cols;
	uint64_t heat_serial;
	enum km_colormap heat_map;
	enum km_view_scale heat_vscale;
	float heat_lo, heat_hi;
	bool heat_valid;

	SDL_Texture *bar[KM_COLORMAP_COUNT];
	float auto_hi;
	float lo, hi;
	SDL_Rect heat_rect;
	struct km_render_stats stats;
	SDL_Texture *static_tex; /* background, title, colour bar, heading */
	struct static_key static_key;
	bool static_valid, static_failed;
	int text_depth;                 /* nested text calls count their time once */
	struct km_render_layout layout; /* what the last draw placed (render.h) */
	/* The sensor (km_render_set_sensor): true pitches and the mask. */
	uint16_t sens_rows, sens_cols;
	float sens_row_pitch, sens_col_pitch; /* 0: none set */
	uint8_t *sens_mask;                   /* NULL: every cell is a sensel */
	/* The masked cells' runs of heatmap texture pixels, per texture size. */
	struct mask_run *mask_runs;
	size_t n_mask_runs;
	int mask_runs_w, mask_runs_h; /* the texture size they are for (0: stale) */
	/* This draw's position pitches (the snapshot's, else the frame's). */
	float pos_row_pitch, pos_col_pitch;
	SDL_Texture *hist_tex;          /* the history screen's chart */
	uint64_t hist_serial;           /* of the chart in hist_tex (0: none) */
};

/* Colours (0xRRGGBB). */
#define C_BG 0x101418u
#define C_PANEL 0x1b2129u
#define C_TEXT 0xf2f2f2u
#define C_DIM 0xa8b0b8u
#define C_GOOD 0x3ddc84u
#define C_LIGHT 0x5aa9ffu
#define C_MUCH 0xff4d3au
#define C_WARN 0xffb02eu
#define C_PAUSE 0x9a9a9au
#define C_TRACK 0x4a4f57u

enum { AL_LEFT, AL_CENTER, AL_RIGHT };

/* This thread's CPU time, s (stage costs for km_render_stats). */
double km__rcpu_s(void);

/* Filled rectangle, 0xRRGGBB with alpha a. */
void km__rfill(SDL_Renderer *ren, int x, int y, int w, int h, uint32_t rgb, uint8_t a);
/* Ring sector between radii r_in..r_out, angles a0..a1 degrees clockwise
 * from 12 o'clock. */
void km__rarc(SDL_Renderer *ren, float cx, float cy, float r_in, float r_out, float a0, float a1,
              uint32_t rgb, uint8_t a);
/* Thick anti-aliased-looking line of the given width. */
void km__rline(SDL_Renderer *ren, float x0, float y0, float x1, float y1, float width, uint32_t rgb,
               uint8_t a);
/* The cached texture of s in font and colour (made on first use). NULL on
 * failure. */
struct text_entry *km__rtext_get(km_render *r, int font, uint32_t rgb, const char *s);
/* Draws s aligned AL_* at x; returns its width. */
int km__rtext(km_render *r, int font, uint32_t rgb, int x, int y, int align, const char *s);
int km__rtextf(km_render *r, int font, uint32_t rgb, int x, int y, int align, const char *fmt, ...)
    KM_PRINTF(7, 8);
/* Word-wraps s into max_w px; returns the height used. */
int km__rtext_wrap(km_render *r, int font, uint32_t rgb, int x, int y, int max_w, int align,
                   const char *s);

/* Records what a draw placed (km_render_layout). */
void km__rlayout_add(km_render *r, enum km_render_box_kind kind, uint32_t id, SDL_Rect rc);

/* render_panels.c */
/* The seconds a hold shows on its ring tag and the panel. */
int km__rhold_secs(const struct km_view_hold *h);
const char *km__rguided_title(const struct km_guided_view *g);
void km__rdraw_hud(km_render *r, const struct km_view_snapshot *s, const struct km_view_ui *ui);
void km__rdraw_guidance(km_render *r, const struct km_view_snapshot *s);
/* The guidance line's words and colour for a snapshot (NULL: waiting). */
const char *km__rguidance(const struct km_view_snapshot *s, uint32_t *col);
void km__rbanner(km_render *r, uint32_t col, const char *big, const char *small);
/* Where km__rbanner draws (small: with the second line). */
SDL_Rect km__rbanner_rect(const km_render *r, bool small);
void km__rdraw_help(km_render *r);
/* The history screen: the chart (uploaded once per load) or why there is
 * none. */
void km__rdraw_history(km_render *r, const struct km_history_screen *hs);
void km__rdraw_red_flag(km_render *r);

#endif
