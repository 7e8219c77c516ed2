/*
 * knotmap viewer: the SDL2 live view a person watches while lying on the mat.
 *
 * Not part of libknotmap: a static library (km_viewer) linked into the
 * `knotmap` command. Three layers, each usable on its own:
 *   1. plain data the renderer draws: struct km_view_snapshot (frame + markers +
 *      hold + stats + recent messages), filled by the processing thread;
 *   2. km_tribuf: the triple buffer that hands the newest snapshot from the
 *      processing thread to the main thread (pointer swaps under one mutex);
 *   3. km_render: draws a snapshot with an SDL_Renderer (heatmap, colour bar,
 *      markers, hold ring, HUD, guidance, overlays); main thread only.
 * km_viewer_run ties them to a stream and the dsp pipeline in a window.
 *
 * Detections are "candidate tender/stiff spots", never a diagnosis.
 *
 * Thread safety: km_tribuf_* as documented per function; km_render_* and
 * km_viewer_run on the main thread only (SDL video rule). The colour map and
 * formatting helpers are pure and thread-safe.
 */
#ifndef KNOTMAP_VIEWER_H
#define KNOTMAP_VIEWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/guided.h"

#ifdef __cplusplus
extern "C" {
#endif

struct SDL_Renderer;

/* ------------------------------------------------------------------------ */
/* Colour maps                                                               */
/* ------------------------------------------------------------------------ */

/* Perceptual 256-entry maps. viridis: matplotlib's (van der Walt & Smith, CC0);
 * turbo: Google's (Mikhailov 2019, Apache-2.0). */
enum km_colormap { KM_COLORMAP_VIRIDIS = 0, KM_COLORMAP_TURBO = 1, KM_COLORMAP_COUNT };

/* The 256 entries as 0x00RRGGBB, index 0 = lowest value. An unknown map gives
 * viridis. Never NULL; static storage. */
const uint32_t *km_colormap_table(enum km_colormap map);
/* "viridis", "turbo"; "unknown" otherwise. */
const char *km_colormap_name(enum km_colormap map);
/* How values map onto the table. SQRT spreads the low end: the body's 5-30
 * kPa stays visible next to a ball's 500 kPa; the colour bar's ticks follow. */
enum km_view_scale {
	KM_SCALE_LINEAR = 0,
	KM_SCALE_SQRT = 1,
};

/* Table index for value in [lo, hi] (clamped; NaN -> 0; hi <= lo -> 0). */
uint8_t km_colormap_index(float value, float lo, float hi);
/* Same with the square-root scale: 255 * sqrt((value - lo) / (hi - lo)). */
uint8_t km_colormap_index_sqrt(float value, float lo, float hi);

/* ------------------------------------------------------------------------ */
/* View model: what one rendered frame shows                                 */
/* ------------------------------------------------------------------------ */

#define KM_VIEW_MAX_MARKERS 32
#define KM_VIEW_MAX_MESSAGES 6
#define KM_VIEW_TEXT_MAX 112

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
	bool landmark;   /* much stronger than a knot: bone or tool contact */
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
	bool ease_off;       /* tensing up during the hold: "ease off" */
	float stiffness_pct; /* change since the hold started, % (NaN = unknown) */
};

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
	size_t n_markers;
	struct km_view_marker markers[KM_VIEW_MAX_MARKERS];
	struct km_view_hold hold;
	bool tensing;     /* guarding detected now (any spot) */
	bool seek_advice; /* a knot persisted > 7 days, or symptoms logged */
	struct km_view_stats stats;
	struct km_guided_view guided; /* the guided routine (guided.active false: off) */
	bool sound;                   /* sound cues on (a device is open and not muted) */
	float volume;                 /* 0..1 */
	size_t n_messages; /* newest first */
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

/* ------------------------------------------------------------------------ */
/* Triple buffer                                                             */
/* ------------------------------------------------------------------------ */

typedef struct km_tribuf km_tribuf;

/* Three snapshots of rows x cols. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE,
 * KM_ERR_NO_MEMORY; *out NULL on error. */
int km_tribuf_create(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry,
                     km_tribuf **out);
/* NULL ok. No thread may be using it. */
void km_tribuf_destroy(km_tribuf *tb);
/* Forgets any unread publish (the reader keeps its current slot). */
void km_tribuf_reset(km_tribuf *tb);

/* Writer (one thread): the slot it may fill. The same slot is returned until
 * km_tribuf_publish; it is never the one the reader holds. Never blocks long
 * (one mutex, no waiting on the reader). */
struct km_view_snapshot *km_tribuf_write_slot(km_tribuf *tb);
/* Writer: makes the filled slot the newest; takes a fresh slot for the next
 * write (the stale unread one, if any, is recycled: the reader only ever sees
 * the newest). */
void km_tribuf_publish(km_tribuf *tb);

/* Reader (one thread): the newest published snapshot, or the one it had when
 * nothing new was published (*fresh false; fresh may be NULL). NULL before the
 * first publish. The pointer stays valid and untouched by the writer until the
 * reader's next call. */
const struct km_view_snapshot *km_tribuf_read(km_tribuf *tb, bool *fresh);

/* Publishes and reads counted since create: published - taken = skipped frames
 * (the renderer is slower than the source, which is expected at 100 Hz). */
void km_tribuf_counts(km_tribuf *tb, uint64_t *published, uint64_t *taken);

/* ------------------------------------------------------------------------ */
/* Renderer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct km_render km_render;

#define KM_VIEW_DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define KM_VIEW_DEFAULT_FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

struct km_render_config {
	const char *font_path;      /* regular face; default KM_VIEW_DEFAULT_FONT */
	const char *font_bold_path; /* bold face; default KM_VIEW_DEFAULT_FONT_BOLD (falls
	                               back to font_path when missing) */
	int width, height;          /* logical canvas, px (default 1024 x 640) */
	int max_texture;            /* largest side of the upscaled heatmap, px (default 512) */
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

/* Where the last draw put the heatmap, in logical px (for tests and mouse):
 * x, y, w, h of the grid rectangle. */
void km_render_heat_rect(const km_render *r, int rect[4]);
/* Colour range of the last draw, kPa. */
void km_render_range(const km_render *r, float *lo, float *hi);

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

/* ------------------------------------------------------------------------ */
/* The live viewer                                                           */
/* ------------------------------------------------------------------------ */

enum km_view_source {
	KM_VIEW_SOURCE_AUTO = 0,   /* a real mat if plugged in, else the virtual mat */
	KM_VIEW_SOURCE_DEVICE = 1, /* a mat by serial (NULL = first) */
	KM_VIEW_SOURCE_SIM = 2,    /* the virtual mat with a scenario */
	KM_VIEW_SOURCE_REPLAY = 3, /* a .kmrec file or an import */
};

struct km_viewer_options {
	enum km_view_source source;
	const char *serial;
	const char *scenario; /* NULL = the demo (tennis-ball-trapezius; guided-upper-back) */
	const char *replay_path; /* a .kmrec, or another mat's file (knotmap/import.h) */
	/* For imports, passed to the stream's replay_format / replay_rate_hz /
	 * replay_pitch_mm / replay_units / replay_rows / replay_cols
	 * (knotmap/stream.h): NULL or 0 = what the file or its sidecar JSON says,
	 * else the import's default. */
	const char *replay_format; /* "npy", "tekscan", "xsensor", "csv", "kmrec" */
	float replay_rate_hz;      /* Hz, (0, 100000] */
	float replay_pitch_mm;     /* mm, (0, 1000] */
	const char *replay_units;  /* "kPa", "mmHg", "N/cm2", "psi", "raw" */
	uint16_t replay_rows, replay_cols; /* a headerless plain CSV's grid (both or 0) */
	/* The mat's calibration file (knotmap calibrate); NULL = the one the
	 * mat or virtual mat ships with. */
	const char *calibration_path;
	uint64_t seed; /* virtual mat seed (default 1) */
	bool fullscreen;
	int width, height;           /* window size (default 1024 x 640) */
	const char *screenshot_path; /* save a PNG after screenshot_after_s and quit */
	double screenshot_after_s;   /* of source time (frame clock), s */
	double sim_speed;      /* virtual mat pace, 1 = real time (screenshots may use more) */
	const char *font_path; /* NULL = default */
	/* Keys pressed by themselves once frames arrive, one per drawn frame
	 * (scripted demos and tests): the key letters, ' ' space, '<' / '>'
	 * left / right arrow, '-', '+', '.', '[', ']'. NULL = none. */
	const char *keys;
	/* Guided routine (knotmap/guided.h): start it as soon as frames arrive
	 * (G starts / ends it at any time). */
	bool guided;
	struct km_guided_config guided_config; /* default km_guided_config_default() */
	/* Sound cues (knotmap/audio.h): tones, plus spoken prompts when espeak-ng
	 * is installed. No audio device: carries on silently. */
	bool sound;   /* default true */
	float volume; /* 0..1, default 0.6 */
	bool voice;   /* spoken prompts when available, default true */
	/* Called once at the end when a guided routine ran: the summary as text
	 * lines and as JSON (also written next to the recording when recording).
	 * Main thread; strings valid during the call. NULL = not reported. */
	void (*on_summary)(void *user, const char *text, const char *json);
	void *summary_user;
	struct km_log log;
};

struct km_viewer_options km_viewer_options_default(void);

/*
 * Opens a window and runs until the user quits (or the screenshot is saved).
 * Must be called on the main thread. Returns KM_OK; KM_ERR_NO_DISPLAY (no
 * video device: no $DISPLAY / Wayland, or SDL could not open a window);
 * KM_ERR_NOT_FOUND (font missing); errors from the stream (KM_ERR_NO_DEVICE,
 * KM_ERR_PERMISSION...) and the pipeline; KM_ERR_IO (screenshot not written).
 * Details go to opts->log.
 */
int km_viewer_run(const struct km_viewer_options *opts);

/* Writes the renderer's current target as an 8-bit RGB PNG. KM_OK, KM_ERR_IO,
 * KM_ERR_NO_MEMORY, KM_ERR_INTERNAL. Main thread. */
int km_viewer_save_png(struct SDL_Renderer *renderer, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_VIEWER_H */
