/* The analysis `analyze` and `export` share (see analysis.h). */
#include "analysis.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "knotmap/events.h"
#include "session_util.h"

const char km_cli_counts_notice[] =
    "values are raw counts: relative rules only; pressures are not in kPa "
    "(give --units kPa, mmHg, N/cm2 or psi if they are pressures, or calibrate)";

int km_cli_analysis_create(const char *cmd, const struct km_source_info *in,
                           struct km_cli_analysis *a)
{
	return km_cli_analysis_create_adjusted(cmd, in, NULL, NULL, a);
}

int km_cli_analysis_create_adjusted(const char *cmd, const struct km_source_info *in,
                                    void (*adjust)(struct km_pipeline_config *, void *), void *ctx,
                                    struct km_cli_analysis *a)
{
	memset(a, 0, sizeof *a);
	a->counts = in->units == KM_UNITS_RAW;
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = in->device.rows;
	pc.cols = in->device.cols;
	pc.pitch_mm = in->device.pitch_mm; /* what the frames carry: the geometric mean */
	pc.row_pitch_mm = in->row_pitch_mm; /* 0 (unset): pitch_mm */
	pc.col_pitch_mm = in->col_pitch_mm;
	pc.sensor_mask = in->mask; /* NULL: every cell is a sensel */
	pc.geometry = in->device.geometry;
	if (in->device.rate_hz > 0)
		pc.rate_hz = in->device.rate_hz;
	pc.log = km_cli_log();
	if (a->counts)
		km_pipeline_config_for_counts(&pc);
	if (adjust)
		adjust(&pc, ctx);
	a->guard_off = pc.enable_guard && pc.rate_hz < KM_PIPELINE_GUARD_MIN_HZ;
	a->coarse_mm = km_pipeline_config_coarse_mm(&pc);
	a->knot_max_pitch_mm = pc.knot_max_pitch_mm;
	/* Says in words what the analysis cannot take (a rate or pitch the file
	 * or --rate/--pitch gave), before anything runs. */
	char why[256];
	int rc = km_pipeline_config_check(&pc, why, sizeof why);
	if (rc != KM_OK) {
		km_cli_error(cmd, "check --rate / --pitch (or the file's own)",
		             "cannot analyse: %s", why);
		return rc;
	}
	rc = km_pipeline_create(&pc, &a->p);
	if (rc != KM_OK)
		km_cli_error(cmd, "run with -v for details",
		             "cannot set up the analysis for a %ux%u grid: %s", in->device.rows,
		             in->device.cols, km_strerror(rc));
	return rc;
}

static size_t seen_lower(const struct km_cli_analysis *a, uint32_t id);

/* The names of the knots found this frame, as the viewer gives them. */
static int name_knots(struct km_cli_analysis *a, const struct km_pipeline_result *res)
{
	for (size_t i = 0; i < res->event_count; i++) {
		const struct km_event *ev = &res->events[i];
		char name[KM_BODY_NAME_MAX];
		if (ev->type != KM_EVENT_KNOT_FOUND ||
		    !km_body_spot_name(res->body, ev->x_mm, ev->y_mm, name, sizeof name))
			continue;
		if (a->n_names == a->cap_names) {
			size_t cap = a->cap_names ? 2 * a->cap_names : 32;
			void *g = realloc(a->names, cap * sizeof *a->names);
			if (!g)
				return KM_ERR_NO_MEMORY;
			a->names = g;
			a->cap_names = cap;
		}
		struct km_export_knot_name *n = &a->names[a->n_names++];
		memset(n, 0, sizeof *n);
		n->track_id = ev->track_id;
		n->found_us = ev->time_us;
		snprintf(n->name, sizeof n->name, "%s", name);
	}
	return KM_OK;
}

int km_cli_analysis_process(struct km_cli_analysis *a, const struct km_frame *f,
                            struct km_pipeline_result *res)
{
	_Static_assert(KM_EXPORT_NAME_MAX >= KM_BODY_NAME_MAX, "a body name fits the export's");
	int rc = km_pipeline_process(a->p, f, res);
	if (rc != KM_OK)
		return rc;
	rc = name_knots(a, res);
	if (rc != KM_OK)
		return rc;
	for (size_t i = 0; i < res->track_count; i++) {
		const struct km_track *t = &res->tracks[i];
		size_t at = seen_lower(a, t->id);
		struct km_cli_track_seen *s =
		    at < a->n_seen && a->seen[at].id == t->id ? &a->seen[at] : NULL;
		if (!s) {
			if (a->n_seen == a->cap_seen) {
				size_t cap = a->cap_seen ? 2 * a->cap_seen : 64;
				void *g = realloc(a->seen, cap * sizeof *a->seen);
				if (!g)
					return KM_ERR_NO_MEMORY;
				a->seen = g;
				a->cap_seen = cap;
			}
			memmove(&a->seen[at + 1], &a->seen[at], (a->n_seen - at) * sizeof *a->seen);
			a->n_seen++;
			s = &a->seen[at];
			memset(s, 0, sizeof *s);
			s->id = t->id;
			s->first_us = t->first_us;
		}
		if (t->missed == 0) {
			s->last_us = t->last_hit_us;
			if (t->response_kpa > s->peak_response)
				s->peak_response = t->response_kpa;
			if (t->background_kpa > 0.0f &&
			    t->response_kpa / t->background_kpa > s->peak_contrast)
				s->peak_contrast = t->response_kpa / t->background_kpa;
		}
	}
	return KM_OK;
}

/* Index of the first entry with id >= id (the table is kept sorted by id:
 * thousands of short tracks in an hour, looked up every frame). */
static size_t seen_lower(const struct km_cli_analysis *a, uint32_t id)
{
	size_t lo = 0, hi = a->n_seen;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->seen[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct km_cli_track_seen *km_cli_analysis_seen(const struct km_cli_analysis *a, uint32_t id)
{
	size_t i = seen_lower(a, id);
	return i < a->n_seen && a->seen[i].id == id ? &a->seen[i] : NULL;
}

void km_cli_analysis_name_recording(struct km_cli_analysis *a, km_rec_reader *r)
{
	if (!a->p || km_rec_reader_reset(r) != KM_OK)
		return;
	/* The file's last KNOT_FOUND: the pipeline need not run past it (reading
	 * the items costs a fraction of running the dsp over them). */
	struct km_rec_item it;
	uint64_t last_found = 0;
	bool any = false;
	while (km_rec_reader_next(r, &it) == KM_OK) {
		struct km_event ev;
		if (it.kind != KM_REC_ITEM_EVENT)
			continue;
		km_event_from_record(&it.event, &ev);
		if (ev.type == KM_EVENT_KNOT_FOUND) {
			if (!any || ev.time_us > last_found)
				last_found = ev.time_us;
			any = true;
		}
	}
	if (!any || km_rec_reader_reset(r) != KM_OK) {
		km_rec_reader_reset(r);
		return;
	}
	struct km_pipeline_result res;
	uint64_t total = km_rec_reader_info(r)->frame_count, done = 0;
	while (km_rec_reader_next_frame(r, &it) == KM_OK && it.frame->device_time_us <= last_found) {
		if (km_cli_analysis_process(a, it.frame, &res) == KM_ERR_NO_MEMORY)
			break;
		if (++done % 256 == 0)
			km_cli_progress((void *)"naming the spots", done, total);
	}
	km_rec_reader_reset(r);
}

const char *km_cli_analysis_knot_name(const struct km_cli_analysis *a, uint32_t track_id,
                                      uint64_t found_us)
{
	for (size_t i = 0; i < a->n_names; i++)
		if (a->names[i].track_id == track_id && a->names[i].found_us == found_us)
			return a->names[i].name;
	return NULL;
}

void km_cli_analysis_destroy(struct km_cli_analysis *a)
{
	km_pipeline_destroy(a->p);
	free(a->names);
	free(a->seen);
	memset(a, 0, sizeof *a);
}
