/*
 * Helpers the session commands share (record, replay, analyze, export, view):
 * mapping dsp events to recording events and back, a terminal progress bar,
 * opening a recording with errors that say what to do, exit codes.
 */
#ifndef KNOTMAP_CLI_SESSION_UTIL_H
#define KNOTMAP_CLI_SESSION_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/recording.h"

/* The mapping documented in docs/kmrec-format.md ("How knotmap's CLI maps"). */
void km_cli_event_to_rec(const struct km_event *ev, struct km_rec_event *out);
void km_cli_rec_to_event(const struct km_rec_event *in, struct km_event *out);
/* export's `describe` callback: what a recorded event means. */
void km_cli_describe_event(void *user, const struct km_rec_event *ev,
			   struct km_export_event_info *info);
/* A bar on stderr when it is a terminal; user is a label (const char *). */
void km_cli_progress(void *user, uint64_t done, uint64_t total);
void km_cli_progress_end(void);
/* Opens a recording; on failure prints the error with a hint and returns the code. */
int km_cli_open_recording(const char *cmd, const char *path, bool verify, km_rec_reader **out);
/* enum km_cli_exit for a km_error. */
int km_cli_exit_code(int km_error);

#endif
