/*
 * knotmap viewer: the SDL2 live view a person watches while lying on the mat.
 *
 * Not part of libknotmap: a static library (km_viewer) linked into the
 * `knotmap` command. Its modules, each with its own header:
 *   knotmap/snapshot.h  the plain data one rendered frame shows;
 *   knotmap/tribuf.h    the triple buffer from the processing thread to the
 *                       main thread;
 *   knotmap/render.h    draws a snapshot with an SDL_Renderer;
 *   knotmap/screenshot.h the PNG (through session's knotmap/image.h; the
 *                       colours are session's knotmap/colormap.h);
 *   knotmap/guided.h, knotmap/audio.h  the guided routine and its sounds;
 *   knotmap/history_screen.h the history screen's body chart (B key).
 * This header: km_viewer_run, which ties them to a stream and the dsp
 * pipeline in a window.
 *
 * Detections are "candidate tender/stiff spots", never a diagnosis.
 *
 * Thread safety: km_viewer_run on the main thread only (SDL video rule).
 */
#ifndef KNOTMAP_VIEWER_H
#define KNOTMAP_VIEWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/guided.h"
#include "knotmap/render.h" /* KM_VIEW_DEFAULT_FONT */

#ifdef __cplusplus
extern "C" {
#endif

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
	const char *scenario;    /* NULL = the demo (tennis-ball-trapezius; guided-upper-back) */
	const char *replay_path; /* a .kmrec, or another mat's file (knotmap/import.h) */
	/* For imports, passed to the stream's replay_format / replay_rate_hz /
	 * replay_pitch_mm / replay_units / replay_rows / replay_cols
	 * (knotmap/stream.h): NULL or 0 = what the file or its sidecar JSON says,
	 * else the import's default. */
	const char *replay_format;         /* "npy", "tekscan", "xsensor", "csv", "kmrec" */
	float replay_rate_hz;              /* Hz, (0, 100000] */
	float replay_pitch_mm;             /* mm, (0, 1000] */
	/* replay_pitch_mm is a guess (the file gives none; knotmap view took the
	 * one the body lying on it implies): said beside the map's limits. */
	bool replay_pitch_guessed;
	/* Any unit knotmap/import.h reads (KM_IMPORT_UNITS_LIST: kPa, Pa, N/m2,
	 * MPa, bar, mbar, hPa, N/cm2, kgf/cm2, gf/cm2, psi, mmHg, cmH2O), or
	 * "counts" for raw sensor counts (relative rules only). */
	const char *replay_units;
	uint16_t replay_rows, replay_cols; /* a headerless plain CSV's grid (both or 0) */
	/* A file with several sensors (XSENSOR insoles): which one, by 1-based
	 * number or name (the stream's replay_sensor); NULL = the first. */
	const char *replay_sensor;
	/* Skip an import's frames that do not read (each one logged) instead of
	 * stopping there (the stream's replay_partial). */
	bool replay_partial;
	/* The mat's calibration file (knotmap calibrate); NULL = the one the
	 * mat or virtual mat ships with. */
	const char *calibration_path;
	uint64_t seed; /* virtual mat seed (default 1) */
	bool fullscreen;
	int width, height;           /* window size (default 1024 x 640) */
	const char *screenshot_path; /* save a PNG after screenshot_after_s and quit */
	double screenshot_after_s;   /* of source time (frame clock), s */
	/* Replace an existing screenshot_path (never a link, never the replayed
	 * file or the calibration: those are refused whatever this says). */
	bool screenshot_force;
	/* Where the S key saves (created 0700); NULL = the data folder,
	 * $XDG_DATA_HOME/knotmap/screenshots. Never overwrites. */
	const char *screenshot_dir;
	/* The history R-key recordings go into (knotmap/session_log.h); NULL =
	 * the default, $XDG_DATA_HOME/knotmap/history.db. */
	const char *history_path;
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

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_VIEWER_H */
