/* A live session into the history: the event fold and the rows, once for
 * every recorder (knotmap/session_log.h). */
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/session_log.h"

#define MOD "session_log"
#define MAX_TRACKS 128

/* The history's knot id of a tracked spot (the summary has the rest). */
struct track_info {
	uint32_t track_id;
	int64_t knot_id;
};

struct km_session_log {
	km_history *h;
	int64_t id;
	int64_t start_unix_us;
	uint64_t t0;
	bool body;
	float midline_x_mm, top_mm;
	struct track_info tracks[MAX_TRACKS];
	size_t n_tracks;
	struct km_summary sum;
	struct km_log log;
};

struct km_session_log_config km_session_log_config_default(void)
{
	struct km_session_log_config c;
	memset(&c, 0, sizeof c);
	return c;
}

int km_session_log_create(const struct km_session_log_config *cfg, km_session_log **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out)
		return KM_ERR_INVALID_ARG;
	struct km_history_session hs;
	memset(&hs, 0, sizeof hs);
	/* Every text field must fit whole: the history stores nothing cut short. */
	const char *fields[3] = {cfg->uuid, cfg->device, cfg->recording};
	char *dst[3] = {hs.uuid, hs.device, hs.recording};
	size_t cap[3] = {sizeof hs.uuid, sizeof hs.device, sizeof hs.recording};
	for (int i = 0; i < 3; i++) {
		const char *v = fields[i] ? fields[i] : "";
		size_t n = strlen(v);
		if (n >= cap[i]) {
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s is %zu bytes (limit %zu)",
			        i == 0   ? "session id"
			        : i == 1 ? "device name"
			                 : "recording path",
			        n, cap[i] - 1);
			return KM_ERR_NAME_TOO_LONG;
		}
		memcpy(dst[i], v, n + 1);
	}
	hs.start_unix_us = cfg->start_unix_us;
	km_session_log *l = km__calloc(1, sizeof *l);
	if (!l)
		return KM_ERR_NO_MEMORY;
	l->log = cfg->log;
	l->start_unix_us = cfg->start_unix_us;
	km_summary_init(&l->sum);
	struct km_history_config hc = km_history_config_default();
	hc.log = cfg->log;
	hc.path = cfg->db_path;
	int rc = km_history_create(&hc, &l->h);
	if (rc == KM_OK)
		rc = km_history_add_session(l->h, &hs, &l->id);
	if (rc != KM_OK) {
		km_session_log_destroy(l);
		return rc;
	}
	*out = l;
	return KM_OK;
}

void km_session_log_first_frame(km_session_log *l, uint64_t device_us)
{
	if (l)
		l->t0 = device_us;
}

void km_session_log_outline(km_session_log *l, bool found, float midline_x_mm, float top_mm)
{
	if (!l)
		return;
	l->body = found;
	if (found) {
		l->midline_x_mm = midline_x_mm;
		l->top_mm = top_mm;
	}
}

static struct track_info *track(km_session_log *l, uint32_t id)
{
	for (size_t i = 0; i < l->n_tracks; i++)
		if (l->tracks[i].track_id == id)
			return &l->tracks[i];
	size_t slot =
	    l->n_tracks < MAX_TRACKS ? l->n_tracks++ : id % MAX_TRACKS; /* reuse when full */
	memset(&l->tracks[slot], 0, sizeof l->tracks[slot]);
	l->tracks[slot].track_id = id;
	return &l->tracks[slot];
}

static int64_t wall_of(const km_session_log *l, uint64_t device_us)
{
	return l->start_unix_us + (int64_t)(device_us - l->t0);
}

/* The history row of a hold (ended, or still running at the end). */
static int add_hold(km_session_log *l, const struct km_summary_hold *hold)
{
	struct track_info *t = track(l, hold->track_id);
	struct km_history_hold d = {0,
	                            l->id,
	                            t->knot_id,
	                            wall_of(l, hold->start_us),
	                            hold->held_s > 0 ? hold->held_s : 0.0f,
	                            hold->load_kpa > 0 ? hold->load_kpa : 0.0f,
	                            hold->dose_kpa_s > 0 ? hold->dose_kpa_s : 0.0f,
	                            hold->stiffness_pct,
	                            hold->outcome};
	return km_history_add_hold(l->h, &d, NULL);
}

int km_session_log_event(km_session_log *l, const struct km_event *ev, bool *persistent)
{
	return km_session_log_event_at(l, ev, NULL, persistent);
}

int km_session_log_event_at(km_session_log *l, const struct km_event *ev,
                            const struct km_history_body *body, bool *persistent)
{
	if (persistent)
		*persistent = false;
	if (!l || !ev)
		return KM_ERR_INVALID_ARG;
	const struct km_summary_hold *hold = NULL;
	(void)km_summary_add(&l->sum, ev, &hold); /* out of memory: no history hold */
	int rc = KM_OK;
	if (ev->type == KM_EVENT_KNOT_FOUND && ev->reason != KM_REASON_AGAIN) {
		/* one sighting per knot and session: a knot back is not another */
		struct track_info *t = track(l, ev->track_id);
		struct km_history_observation o;
		memset(&o, 0, sizeof o);
		o.session_id = l->id;
		o.time_unix_us = wall_of(l, ev->time_us);
		o.x_mm = ev->x_mm;
		o.y_mm = ev->y_mm;
		o.peak_kpa = ev->load_kpa > 0 ? ev->load_kpa : 0.0f;
		if (body && body->region[0])
			o.body = *body;
		if (l->body) {
			o.x_mm = ev->x_mm - l->midline_x_mm;
			o.y_mm = ev->y_mm - l->top_mm;
			o.body_relative = true;
		}
		rc = km_history_add_observation(l->h, &o, &t->knot_id, persistent);
	} else if (ev->type == KM_EVENT_HOLD_STOPPED && hold && !hold->open) {
		rc = add_hold(l, hold);
	}
	return rc;
}

int km_session_log_finish(km_session_log *l, uint64_t last_device_us)
{
	if (!l)
		return KM_ERR_INVALID_ARG;
	km_summary_finish(&l->sum, last_device_us);
	int rc = KM_OK;
	for (size_t i = 0; i < l->sum.n_holds; i++) {
		const struct km_summary_hold *hold = &l->sum.holds[i];
		if (!hold->open)
			continue;
		int r = add_hold(l, hold);
		if (rc == KM_OK)
			rc = r;
	}
	return rc;
}

int km_session_log_end(km_session_log *l, int64_t end_unix_us)
{
	if (!l)
		return KM_ERR_INVALID_ARG;
	return km_history_end_session(l->h, l->id, end_unix_us);
}

int km_session_log_mat_seconds(km_session_log *l, double seconds)
{
	if (!l)
		return KM_ERR_INVALID_ARG;
	return km_history_set_mat_seconds(l->h, l->id, seconds);
}

int64_t km_session_log_id(const km_session_log *l)
{
	return l ? l->id : 0;
}

km_history *km_session_log_history(km_session_log *l)
{
	return l ? l->h : NULL;
}

const struct km_summary *km_session_log_summary(const km_session_log *l)
{
	return l ? &l->sum : NULL;
}

void km_session_log_destroy(km_session_log *l)
{
	if (!l)
		return;
	km_history_destroy(l->h);
	km_summary_free(&l->sum);
	km__free(l);
}
