/* What one pass over a recording learns: frame statistics, the per-cell maps
 * of the report, and the session summary (knots, holds) from its events. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

/* ------------------------------------------------------------------------ */
/* Session model: frame statistics and the summary (JSON and the report)     */
/* ------------------------------------------------------------------------ */

void km__model_init(struct km__model *m)
{
	memset(m, 0, sizeof *m);
	km_summary_init(&m->summary);
}

void km__model_free(struct km__model *m)
{
	km__free(m->peak);
	km__free(m->sum);
	km_summary_free(&m->summary);
	memset(m, 0, sizeof *m);
}

const char *km__event_name(uint16_t type, char *buf, size_t cap)
{
	if (type < KM_EVENT_TYPE_COUNT)
		return km_event_type_name((enum km_event_type)type);
	snprintf(buf, cap, "type%u", (unsigned)type);
	return buf;
}

static void model_event(struct km__model *m, const struct km_rec_event *rec)
{
	struct km_event ev;
	km_event_from_record(rec, &ev);
	/* Counts per type, in order of first appearance; small fixed table. */
	size_t t = 0;
	for (; t < m->n_types; t++)
		if (m->types[t].type == rec->type)
			break;
	if (t == m->n_types && t < KM_ARRAY_SIZE(m->types)) {
		m->types[t].type = rec->type;
		char name[32];
		snprintf(m->types[t].name, sizeof m->types[t].name, "%s",
		         km__event_name(rec->type, name, sizeof name));
		m->n_types++;
	}
	if (t < m->n_types)
		m->types[t].count++;
	/* Out of memory: the event is still counted, its knot/hold left out. */
	(void)km_summary_add(&m->summary, &ev, NULL);
}

int km__model_build(const struct km_export_config *cfg, km_rec_reader *r, struct km__model *m,
                    bool maps)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	size_t cells = (size_t)in->device.rows * in->device.cols;
	if (maps) {
		m->peak = km__calloc(cells, sizeof *m->peak);
		m->sum = km__calloc(cells, sizeof *m->sum);
		if (!m->peak || !m->sum)
			return KM_ERR_NO_MEMORY;
	}
	m->cells = cells;
	struct km_rec_item it;
	int rc;
	while ((rc = km__next(cfg, r, &it)) == KM_OK) {
		if (it.kind == KM_REC_ITEM_EVENT) {
			model_event(m, &it.event);
			continue;
		}
		const struct km_frame *f = it.frame;
		if (m->frames == 0)
			m->first_us = f->device_time_us;
		m->last_us = f->device_time_us;
		m->frames++;
		m->dropped += f->dropped_since_last;
		if (f->flags & KM_FRAME_CORRUPT)
			m->corrupt++;
		if (f->flags & KM_FRAME_SATURATED)
			m->saturated++;
		double fsum = 0;
		for (size_t c = 0; c < cells; c++) {
			float v = f->kpa[c];
			if (!(v >= 0.0f) || !isfinite(v))
				continue; /* bad cells never enter the statistics */
			fsum += v;
			if (v > m->peak_kpa) {
				m->peak_kpa = v;
				m->peak_cell = c;
			}
			if (maps) {
				if (v > m->peak[c])
					m->peak[c] = v;
				m->sum[c] += v;
			}
		}
		m->sum_all += fsum;
		km__progress(cfg, r, m->frames, false);
	}
	km__progress(cfg, r, m->frames, true);
	/* Holds still open at the end run until the last frame. */
	km_summary_finish(&m->summary, m->last_us);
	return rc == KM_ERR_END ? KM_OK : rc;
}
