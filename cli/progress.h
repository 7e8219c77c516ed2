/* A progress bar on the terminal for commands that run for a while
 * (export, analyze, evaluate, history --chart): "exporting [#####.....]  48%
 * 1520 frames/s  ETA 0:07". Drawn on stderr only when stderr is a terminal,
 * and only once the command has run for KM_PROGRESS_DELAY_S, so pipes, logs
 * and tests see nothing and quick commands never flash a bar. */
#ifndef KM_CLI_PROGRESS_H
#define KM_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Nothing is drawn before this many seconds have passed. */
#define KM_PROGRESS_DELAY_S 1.0
/* At most this many redraws per second. */
#define KM_PROGRESS_HZ 10.0

struct km_progress {
	FILE *out;
	bool tty; /* out is a terminal: draw; else stay silent */
	char what[32];
	char unit[16];
	uint64_t total, done; /* total 0: unknown (no bar, no ETA) */
	double t0, last_draw; /* monotonic seconds */
	bool shown;           /* a line is on screen: end it with a newline */
};

/* Starts a bar on out (NULL: stderr) for `total` `unit`s (0: unknown). */
void km_progress_begin(struct km_progress *p, FILE *out, const char *what, const char *unit,
                       uint64_t total);
/* done so far; redraws when due. */
void km_progress_update(struct km_progress *p, uint64_t done);
/* Wipes the bar off the line (before printing a result to the same
 * terminal); the next update draws it again. */
void km_progress_clear(struct km_progress *p);
/* Ends the line when one was drawn. */
void km_progress_end(struct km_progress *p);

/* The line for `done` of `total` after elapsed_s seconds, into buf (always
 * terminated): what, a 24-column bar and percent when total is known, the
 * rate in unit/s and the ETA (m:ss or h:mm:ss). Returns the length. Pure. */
size_t km_progress_format(char *buf, size_t cap, const char *what, const char *unit,
                          uint64_t done, uint64_t total, double elapsed_s);

#endif
