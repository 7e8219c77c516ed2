/*
 * knotmap exports: a recording (.kmrec) streamed into files other tools read.
 *
 *   CSV (frames)   one row per frame: index, seq, device time, flags, dropped,
 *                  then one column per cell r<row>c<col> in kPa. A leading
 *                  comment-free header row states units in the column names.
 *   CSV (events)   one row per event: time, type, name, track, position, values.
 *   JSON           a session summary (device, duration, frame statistics,
 *                  knots, holds and outcomes, event counts).
 *   NPY            NumPy .npy, float32 [n, rows, cols] in kPa, C order; the
 *                  header is written first and patched with n at the end;
 *                  with npy_sidecar a PATH.json beside it (rate, pitch, units).
 *   Tekscan-like   ASCII: a header block, then per frame "Frame N" and rows of
 *                  comma-separated kPa values (like Tekscan's ASCII export).
 *   PNG            a report image: peak and mean pressure maps with a colour
 *                  map and scale, knot markers, a hold timeline coloured by
 *                  outcome, the history's body chart when given one, and
 *                  the safety note, with text in DejaVu Sans (FreeType).
 *
 * Every export reads the recording one chunk at a time and writes as it goes
 * (the PNG keeps two float maps of the grid). Output files are created 0600
 * (O_CREAT|O_TRUNC). Event records are read through core's mapping and names
 * (knotmap/events.h) and folded into knots and holds by knotmap/summary.h, the
 * same fold `analyze` and `record` use.
 *
 * Thread safety: an export uses only its arguments; run one per reader.
 */
#ifndef KNOTMAP_EXPORT_H
#define KNOTMAP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/history.h"
#include "knotmap/recording.h"

#ifdef __cplusplus
extern "C" {
#endif

enum km_export_format {
	KM_EXPORT_CSV = 0,        /* frames */
	KM_EXPORT_CSV_EVENTS = 1, /* events */
	KM_EXPORT_JSON = 2,
	KM_EXPORT_NPY = 3,
	KM_EXPORT_TEKSCAN = 4,
	KM_EXPORT_PNG = 5,
};

/* "csv", "csv-events", "json", "npy", "tekscan", "png"; NULL if unknown. */
KM_API const char *km_export_format_name(enum km_export_format f);
/* Parses one of the names above. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_export_format_parse(const char *name, enum km_export_format *out);

/* Progress: frames done out of total (total from the index; may be 0). */
typedef void (*km_export_progress_fn)(void *user, uint64_t done, uint64_t total);

/* A knot's name for people, as the viewer gave it at its KNOT_FOUND:
 * side and body region ("left upper back", knotmap/body.h's
 * km_body_spot_name) under that frame's body model. The recording carries
 * no body model and the session part no dsp: the caller that ran the
 * pipeline (`knotmap export`) passes the names as data. */
#define KM_EXPORT_NAME_MAX 32
struct km_export_knot_name {
	uint32_t track_id; /* the KNOT_FOUND event's track */
	uint64_t found_us; /* and its time: one knot of the summary */
	char name[KM_EXPORT_NAME_MAX];
};

struct km_export_config {
	struct km_log log;
	enum km_export_format format;
	const char *path; /* output file; required */
	bool overwrite;   /* false (default): KM_ERR_EXISTS when path exists (regular file) */
	km_export_progress_fn progress; /* may be NULL; called about every 1 % */
	void *progress_user;
	const char *title; /* report title (ASCII), may be NULL */
	/* PNG report: pixels per cell of the maps (1..32; 0 = fit to about 360 px). */
	uint32_t png_scale;
	/* What a .kmrec cannot say about an input made from another mat's file
	 * (an import): its values are raw counts (no calibration, no units
	 * given), so every export labels them "counts" (CSV column names, JSON
	 * units, Tekscan UNITS RAW, the report's scale), never kPa. */
	bool counts;
	/* Spacing between rows and between columns (mm; 0: the device pitch),
	 * written by the formats that hold it (Tekscan ROW/COL_SPACING, the
	 * JSON device, the NPY sidecar). */
	float row_pitch_mm, col_pitch_mm;
	/* Cells on the sensor (rows x cols, 1 = real sensel; NULL = all), as an
	 * import's km_source_info.mask: Tekscan writes a masked cell as 'B', as
	 * Tekscan does; CSV as an empty field (missing to pandas and R) with a
	 * "# mask_cells,N" comment; NPY in its sidecar; so the mask reads back.
	 * Not copied; must outlive the call. */
	const uint8_t *mask;
	/* NPY: also write PATH.json, the sidecar the importer reads back (rate,
	 * [row, col] pitch, units), through km_outfile like the array. */
	bool npy_sidecar;
	/* PNG report: also draw this history's body chart (every past spot in
	 * body coordinates, the 7-day rule per spot). NULL: no chart. Not
	 * owned; read only. */
	struct km_history *history;
	/* The knots' names (n_knot_names; NULL: none): the PNG report's spot
	 * legend and the JSON summary's knots say "A: left upper back" for a
	 * knot named here, "spot A" (its letter, as the viewer's) otherwise.
	 * Not copied; must outlive the call. */
	const struct km_export_knot_name *knot_names;
	size_t n_knot_names;
};

KM_API struct km_export_config km_export_config_default(void);

/*
 * Exports the whole recording from the first item (the reader is reset first;
 * it is left at the end). Reads stop at damage: the export then covers the
 * readable part, says so in its output where the format has room (JSON
 * "damage", CSV comment-free: nothing) and returns KM_OK; the caller can ask
 * km_rec_reader_damage().
 * The file is written through km_outfile (knotmap/outfile.h): it appears under
 * path only when complete; on any error an older file at path is left as it
 * was and nothing partial remains; a symbolic link at path is refused.
 * Returns KM_OK; KM_ERR_INVALID_ARG; KM_ERR_EXISTS; KM_ERR_PERMISSION (also a
 * link at path); KM_ERR_NOT_A_FILE; KM_ERR_NO_SPACE (disk full); KM_ERR_IO;
 * KM_ERR_NO_MEMORY; KM_ERR_RANGE (NPY: more frames than fit).
 */
KM_API int km_export_recording(const struct km_export_config *cfg, km_rec_reader *reader);

/* The colour map the report uses: 256 entries of 0xRRGGBB, perceptually
 * ordered (dark blue -> green -> yellow). For viewers that want to match. */
KM_API const uint32_t *km_export_colormap(void);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_EXPORT_H */
