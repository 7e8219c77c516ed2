/* What one pass over a recording learns (model.c): frame statistics, the
 * report's per-cell maps and the session summary. Used by the JSON export
 * and the PNG report. */
#ifndef KNOTMAP_SESSION_MODEL_H
#define KNOTMAP_SESSION_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export_out.h"
#include "knotmap/summary.h"

struct km__model {
	size_t cells;
	uint64_t frames, dropped, corrupt, saturated;
	uint64_t first_us, last_us;
	float peak_kpa;
	size_t peak_cell;
	double sum_all;
	float *peak;               /* [cells] per-cell maximum (maps only) */
	double *sum;               /* [cells] per-cell sum (maps only) */
	struct km_summary summary; /* knots, holds, event counts */
	struct {
		uint16_t type;
		char name[32];
		uint64_t count;
	} types[64]; /* per event type, in order of first appearance */
	size_t n_types;
};

void km__model_init(struct km__model *m);
/* Reads the whole recording from where the reader is; maps: fill peak/sum.
 * Holds still open at the end are closed at the last frame. */
int km__model_build(const struct km_export_config *cfg, km_rec_reader *r, struct km__model *m,
                    bool maps);
void km__model_free(struct km__model *m);

/* An event type's name (core's), or "type<N>" in buf for types not known. */
const char *km__event_name(uint16_t type, char *buf, size_t cap);

#endif
