/*
 * The one analysis the commands run over a recording source: `analyze`, and
 * the export of an import (whose temporary recording then holds the events
 * `analyze` finds, so both report the same knots and holds).
 *
 * The dsp pipeline is set up from the source's grid, row and column pitch
 * (positions in true mm per axis), sensor mask and rate. On raw
 * counts (units "counts": no calibration, no --units) the pipeline is set up
 * by km_pipeline_config_for_counts (knotmap/pipeline.h: the absolute kPa
 * rules off, UNCALIBRATED frames accepted), so detection, tracking and holds
 * run on their relative (contrast) rules; loads and doses are then in
 * counts. The viewer does the same.
 */
#ifndef KNOTMAP_CLI_ANALYSIS_H
#define KNOTMAP_CLI_ANALYSIS_H

#include <stdbool.h>

#include "knotmap/export.h"
#include "knotmap/import.h"
#include "knotmap/pipeline.h"

/* What the tracker saw of one confirmed track (knots are announced tracks). */
struct km_cli_track_seen {
	uint32_t id;
	uint64_t first_us, last_us; /* first and last hit */
	float peak_contrast;        /* max band-pass response / background (0: no background) */
	float peak_response;        /* max band-pass response (kPa or counts) */
};

struct km_cli_analysis {
	km_pipeline *p;
	/* Each knot's name at its KNOT_FOUND (n_names, in the order found):
	 * km_body_spot_name under that frame's body model at the event's
	 * position, the viewer's rule (viewer/src/pipe_dsp.c); knots the body
	 * does not place are not listed (they keep their letter). */
	struct km_export_knot_name *names;
	size_t n_names, cap_names;
	struct km_cli_track_seen *seen; /* n_seen, by first confirmation */
	size_t n_seen, cap_seen;
	bool counts;    /* relative rules only; loads in counts */
	bool guard_off; /* rate below KM_PIPELINE_GUARD_MIN_HZ */
	float coarse_mm; /* > 0: cells this coarse, spots only under a tool */
	float knot_max_pitch_mm;
};

/* The notice printed (on stderr) when the values are raw counts. */
extern const char km_cli_counts_notice[];

/* Sets up the pipeline for the source; prints the error with a hint and
 * returns the code on failure (a->p NULL). */
int km_cli_analysis_create(const char *cmd, const struct km_source_info *in,
                           struct km_cli_analysis *a);
/* The same, with adjust (when not NULL) changing the pipeline's config after
 * the source's settings are in: studies of the detector's thresholds
 * (knotmap evaluate). */
int km_cli_analysis_create_adjusted(const char *cmd, const struct km_source_info *in,
                                    void (*adjust)(struct km_pipeline_config *, void *), void *ctx,
                                    struct km_cli_analysis *a);
/* km_pipeline_process on one source frame; keeps what each track was seen as
 * and each knot's name (KM_ERR_NO_MEMORY only when those tables cannot grow). */
int km_cli_analysis_process(struct km_cli_analysis *a, const struct km_frame *f,
                            struct km_pipeline_result *res);
/* The names of the knots of a recording: its frames, up to its last
 * KNOT_FOUND, run through the analysis (the reader is reset after; it is
 * left at the start). A .kmrec
 * recorded live holds the events of the same pipeline, so its KNOT_FOUND
 * events are the ones named here. Prints nothing; on failure (no analysis,
 * a read error) names just stay empty: the exports then use letters. */
void km_cli_analysis_name_recording(struct km_cli_analysis *a, km_rec_reader *r);
/* Knot (track_id, found_us)'s name, or NULL. */
const char *km_cli_analysis_knot_name(const struct km_cli_analysis *a, uint32_t track_id,
                                      uint64_t found_us);
/* What the tracker saw of track id, or NULL. */
const struct km_cli_track_seen *km_cli_analysis_seen(const struct km_cli_analysis *a, uint32_t id);
void km_cli_analysis_destroy(struct km_cli_analysis *a);

#endif
