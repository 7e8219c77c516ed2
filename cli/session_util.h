/*
 * Helpers the session commands share (record, replay, analyze, export, view):
 * a terminal progress bar, opening a recording with errors that say what to
 * do, exit codes.
 */
#ifndef KNOTMAP_CLI_SESSION_UTIL_H
#define KNOTMAP_CLI_SESSION_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/import.h"
#include "knotmap/recording.h"

/* A bar on stderr when it is a terminal (progress.h: rate and ETA, silent
 * otherwise); user is a label (const char *), done and total in frames. */
void km_cli_progress(void *user, uint64_t done, uint64_t total);
void km_cli_progress_end(void);
/* Opens a recording; on failure prints the error with a hint and returns the code. */
int km_cli_open_recording(const char *cmd, const char *path, bool verify, km_rec_reader **out);
/* enum km_cli_exit for a km_error. */
int km_cli_exit_code(int km_error);
/* A recording's length in seconds of mat time, first frame to last (0 without
 * frames): the one figure replay, history and the summaries show. */
double km_cli_rec_seconds(const struct km_rec_info *in);

/* Options for reading other mats' files (docs/formats.md), shared by analyze,
 * export and replay. */
struct km_cli_import_opts {
	enum km_import_format format;     /* --format (AUTO: from the content) */
	float rate_hz;                    /* --rate (0: file, sidecar, default) */
	float pitch_mm;                   /* --pitch */
	enum km_import_units units;       /* --units */
	uint16_t rows, cols;              /* --rows / --cols (plain CSV) */
	bool partial;                     /* --partial: skip what does not read, report it */
	const char *sensor;               /* --sensor: which sensor of a multi-sensor file */
	float row_pitch_mm, col_pitch_mm; /* --pitch ROW,COL */
	bool any;                         /* an import option was given */
	bool pitch_guessed; /* pitch_mm is km_cli_import_guess_pitch's, not the user's */
};
/* The one pitch for a consumer that takes one (--pitch MM, or the geometric
 * mean of --pitch ROW,COL, which keeps the cell area); 0 when not given. */
float km_cli_import_pitch(const struct km_cli_import_opts *o);
/* Help text for the options above (each line starts with two spaces). */
extern const char km_cli_import_usage[];
/*
 * Parses argv[*i] (and its value) when it is one of the import options
 * (--format is taken only when `with_format`). Returns 1 and advances *i when
 * consumed, 0 when it is not one, -1 after printing a usage error.
 */
int km_cli_import_option(const char *cmd, int argc, char **argv, int *i, bool with_format,
                         struct km_cli_import_opts *o);
/* When neither the options nor the file give a cell spacing, and the file's
 * first seconds hold a whole body lying along the mat (km_body_guess_pitch),
 * sets o->pitch_mm to the pitch that body implies (o->pitch_guessed) and says
 * so on stderr: the import default (10 mm) would search a bed mat's coarse
 * cells for knots. Quiet and unchanged otherwise (the open that follows
 * reports any error). */
void km_cli_import_guess_pitch(const char *cmd, const char *path, struct km_cli_import_opts *o);
/* Opens a .kmrec or an import as a recording source; on failure prints the
 * error (file, line, problem) with a hint and returns the code. */
int km_cli_open_source(const char *cmd, const char *path, const struct km_cli_import_opts *o,
                       bool verify, km_source **out);
/* Notes on stderr when the rate, pitch or units of an import were a default
 * guess, and which sensor of a file with several is read (and how to choose
 * another). */
void km_cli_import_notes(const char *cmd, const char *path, const km_source *s,
                         const struct km_cli_import_opts *o);
/* Before a replay through the driver's stream (view --replay, replay
 * --stream), which opens the file again with the same settings: opens it
 * once so that its errors and the notes on guessed settings are analyze's.
 * KM_OK, or the error it printed. *sensor_index (may be NULL): the sensor
 * read of a file with several (0-based; 0 else). */
int km_cli_check_source(const char *cmd, const char *path, const struct km_cli_import_opts *o,
                        unsigned *sensor_index);

/* One line each (no newline) for replay's summary and analyze's report:
 * what the values are ("mmHg (from the file), x 0.133322387 to kPa",
 * "counts (...), not pressures", "kPa (recorded)") and how many cells are on
 * the sensor ("955 of 1260 cells are on the sensor (75.8 %); ..."). */
void km_cli_values_line(const km_source *s, char *buf, size_t cap);
void km_cli_cells_line(const km_source *s, char *buf, size_t cap);

#endif
