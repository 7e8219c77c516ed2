/* The guided routine's input from one pipeline result (kept apart from
 * guided.c so the state machine builds without the dsp pipeline). */
#include <math.h>
#include <string.h>

#include "knotmap/guided.h"
#include "knotmap/pipeline.h"

/* Distance from x to the nearer side of the outline's row at y; NaN when
 * unknown. */
static float edge_distance(const struct km_body_outline *o, float pitch_mm, float x, float y)
{
	if (!o || !o->found || !o->row_left_mm || !o->row_right_mm || !(pitch_mm > 0.0f) ||
	    !isfinite(x) || !isfinite(y) || y < 0.0f)
		return NAN;
	float rf = y / pitch_mm;
	if (!(rf < (float)o->rows))
		return NAN;
	size_t r = (size_t)rf;
	float lo = o->row_left_mm[r], hi = o->row_right_mm[r];
	if (!isfinite(lo) || !isfinite(hi))
		return NAN;
	return fminf(fabsf(x - lo), fabsf(hi - x));
}

int km_guided_input_from_pipeline(const struct km_pipeline_result *res, float pitch_mm,
                                  struct km_guided_input *in)
{
	if (!res || !in || !(pitch_mm > 0.0f))
		return KM_ERR_INVALID_ARG;
	memset(in, 0, sizeof *in);
	in->time_us = res->time_us;
	in->loaded = res->load_centre_valid;
	in->centre_valid = res->load_centre_valid;
	in->centre_x_mm = res->load_centre_x_mm;
	in->centre_y_mm = res->load_centre_y_mm;
	if (res->outline && res->outline->found && isfinite(res->outline->midline_x_mm)) {
		in->midline_valid = true;
		in->midline_x_mm = res->outline->midline_x_mm;
	}
	for (size_t i = 0; i < res->track_count && res->tracks; i++) {
		const struct km_track *t = &res->tracks[i];
		if (t->state == KM_TRACK_END || in->n_contacts >= KM_GUIDED_MAX_CONTACTS)
			continue;
		struct km_guided_contact *c = &in->contacts[in->n_contacts++];
		c->track_id = t->id;
		c->x_mm = t->x_mm;
		c->y_mm = t->y_mm;
		c->peak_kpa = t->peak_kpa;
		c->over_spine = (t->flags & KM_CANDIDATE_MIDLINE) != 0;
		c->landmark = (t->flags & KM_CANDIDATE_LANDMARK) != 0;
		c->edge_mm = edge_distance(res->outline, pitch_mm, t->x_mm, t->y_mm);
	}
	in->events = res->events;
	in->n_events = res->events ? res->event_count : 0;
	return KM_OK;
}
