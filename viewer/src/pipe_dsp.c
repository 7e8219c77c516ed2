/*
 * The dsp pipeline (dsp/include/knotmap/pipeline.h) turned into what the view
 * shows: markers from confirmed tracks, the most advanced hold, tensing, the
 * body outline and spine midline, the load centre.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "glue.h"
#include "km_internal.h"
#include "knotmap/pipeline.h"

#define MAX_IDS 64
/* How long a finished hold stays on screen with its final time, s. */
#define DONE_SHOW_S 6.0
/* Neutral names for spots off the body model: "spot A".."spot Z". */
#define N_LETTERS 26
/* A track missing from this many seconds of frames is coasting, not live:
 * no marker (one missed detection at 100 frames/s is not). */
#define LIVE_MISS_S 0.1f

/* Words a person reads at a glance: side and region from body coordinates
 * ("left upper back"), the one wording of knotmap/body.h that the report
 * and the export's summary use too. */
_Static_assert(KM_VIEW_NAME_MAX >= KM_BODY_NAME_MAX, "a spot's name fits the view");

struct spot_name {
	uint32_t id;
	bool body;      /* from body coordinates (else a letter) */
	bool announced; /* KNOT_FOUND seen */
	/* The announced knot this track stands for (the pipeline's alias: a
	 * new track where a knot was announced is that knot again, and gets
	 * no KNOT_FOUND of its own); 0 = none. It shows that knot's name. */
	uint32_t alias_of;
	float x_mm, y_mm; /* where the track was last seen */
	char name[KM_VIEW_NAME_MAX];
};

struct km__vpipe {
	km_pipeline *pl; /* NULL after a set-up for counts failed */
	/* The set-up for kPa; frames of raw counts (KM_FRAME_UNCALIBRATED) get
	 * it through km_pipeline_config_for_counts, as `knotmap analyze` does.
	 * The units are known from the first frame only (a replay's file, a
	 * recording of counts), so the pipeline is made again when they change. */
	struct km_pipeline_config cfg;
	uint8_t *mask; /* cfg.sensor_mask's copy (the set-up for counts comes later) */
	bool counts;
	int pl_err; /* why pl is NULL */
	struct km_hold_config hold_cfg;
	km__vpipe_event_fn fn;
	void *user;
	/* Tracks that are tensing up now (TENSING_UP .. EASED). */
	uint32_t tensing[MAX_IDS];
	size_t n_tensing;
	bool ease_off_now;
	/* Last stiffness index per track (STIFFNESS / RELEASED / STIFFENED). */
	struct {
		uint32_t id;
		float pct;
	} stiff[MAX_IDS];
	size_t n_stiff;
	/* Why each track's hold last paused (HOLD_PAUSED .. HOLD_RESUMED). */
	struct {
		uint32_t id;
		enum km_event_reason reason;
	} paused[MAX_IDS];
	size_t n_paused;
	/* The last finished hold, shown for a moment. */
	struct km_view_hold done;
	uint64_t done_us;
	bool seek_advice;
	/* The overlay of the last processed frame, copied into every snapshot
	 * (also when a frame is skipped, so nothing flickers). */
	struct km_view_snapshot ov;
	/* The last result, for the guided routine (km__vpipe_result). */
	struct km_pipeline_result res;
	bool res_valid;
	float rate_hz;
	/* The track holding each letter of the neutral names (0 = free): the
	 * letters come back when tracks end, rather than a count climbing. An
	 * announced knot takes the first free letter at its KNOT_FOUND and
	 * keeps it until KNOT_LOST: the rule the PNG report applies to the
	 * recorded events (session/src/report.h), so "spot B" on screen is B
	 * in the report. A track not announced (yet), or a tool's contact,
	 * borrows a letter from the end of the alphabet meanwhile ("spot Z"). */
	uint32_t letter[N_LETTERS];
	/* Each named track's name, kept for its life (an announced one's until
	 * KNOT_LOST). */
	struct spot_name names[MAX_IDS];
	size_t n_names;
	/* The track the last message about a hold named ("Hold started on spot
	 * E"): the panel shows that hold while it runs, so the panel and the
	 * messages speak of the same spot when a roller holds several. */
	uint32_t said_id;
	/* The name of the hold last shown, for its "hold over" moment. */
	uint32_t held_id;
	char held_name[KM_VIEW_NAME_MAX];
	/* The body model of the last processed frame (the pipeline's own
	 * object, stable while it lives), for naming events' spots. */
	const struct km_body_model *body;
};

static struct spot_name *name_find(struct km__vpipe *v, uint32_t id);
static void name_drop(struct km__vpipe *v, uint32_t id);
static void announce_letter(struct km__vpipe *v, const struct km_event *ev);

/* The running hold on a track in the panel's list, or NULL. */
static struct km_view_hold_item *hold_item(struct km__vpipe *v, uint32_t id)
{
	for (size_t i = 0; i < v->ov.n_holds; i++)
		if (v->ov.holds[i].running && v->ov.holds[i].track_id == id)
			return &v->ov.holds[i];
	return NULL;
}

/* The panel's list follows the session summary's rules (knotmap/summary.h):
 * HOLD_STARTED opens a hold, HOLD_STOPPED closes it with the timer's
 * seconds (else its wall time), and the events in between carry the
 * seconds so far; so its lengths are the summary's. */
static void hold_list_event(struct km__vpipe *v, const struct km_event *ev)
{
	struct km_view_snapshot *s = &v->ov;
	struct km_view_hold_item *h = ev->track_id ? hold_item(v, ev->track_id) : NULL;
	if (ev->type == KM_EVENT_HOLD_STARTED && ev->track_id) {
		if (h)
			h->running = false; /* a second start closes the first */
		size_t n = KM_MIN(s->n_holds, (size_t)KM_VIEW_MAX_HOLDS - 1);
		memmove(&s->holds[1], &s->holds[0], n * sizeof s->holds[0]);
		s->n_holds = n + 1;
		h = &s->holds[0];
		memset(h, 0, sizeof *h);
		h->track_id = ev->track_id;
		h->running = true;
		h->start_us = ev->time_us;
		km__vpipe_event_name(v, ev, h->name, sizeof h->name);
		s->holds_total++;
	} else if (ev->type == KM_EVENT_HOLD_STOPPED && h) {
		double wall = (double)(int64_t)(ev->time_us - h->start_us) / 1e6;
		h->held_s = ev->held_s > 0 ? ev->held_s : (float)(wall > 0 ? wall : 0);
		h->running = false;
	} else if (h && ev->type != KM_EVENT_RELEASED && ev->type != KM_EVENT_STIFFENED &&
	           ev->held_s > h->held_s) {
		h->held_s = ev->held_s;
	}
}

static void set_remove(uint32_t *ids, size_t *n, uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id) {
			ids[i] = ids[--*n];
			return;
		}
}

static void set_add(uint32_t *ids, size_t *n, uint32_t id)
{
	for (size_t i = 0; i < *n; i++)
		if (ids[i] == id)
			return;
	if (*n < MAX_IDS)
		ids[(*n)++] = id;
}

static bool set_has(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void stiff_set(struct km__vpipe *v, uint32_t id, float pct)
{
	for (size_t i = 0; i < v->n_stiff; i++)
		if (v->stiff[i].id == id) {
			v->stiff[i].pct = pct;
			return;
		}
	size_t i = v->n_stiff < MAX_IDS ? v->n_stiff++ : (size_t)(id % MAX_IDS);
	v->stiff[i].id = id;
	v->stiff[i].pct = pct;
}

static bool stiff_get(const struct km__vpipe *v, uint32_t id, float *pct)
{
	for (size_t i = 0; i < v->n_stiff; i++)
		if (v->stiff[i].id == id) {
			*pct = v->stiff[i].pct;
			return true;
		}
	return false;
}

static void pause_set(struct km__vpipe *v, uint32_t id, enum km_event_reason reason)
{
	size_t i = 0;
	while (i < v->n_paused && v->paused[i].id != id)
		i++;
	if (reason == KM_REASON_NONE) {
		if (i < v->n_paused)
			v->paused[i] = v->paused[--v->n_paused];
		return;
	}
	if (i == v->n_paused) {
		if (v->n_paused == MAX_IDS)
			i = id % MAX_IDS;
		else
			v->n_paused++;
	}
	v->paused[i].id = id;
	v->paused[i].reason = reason;
}

static enum km_event_reason pause_get(const struct km__vpipe *v, uint32_t id)
{
	for (size_t i = 0; i < v->n_paused; i++)
		if (v->paused[i].id == id)
			return v->paused[i].reason;
	return KM_REASON_NONE;
}

static void on_event(void *user, const struct km_event *ev)
{
	struct km__vpipe *v = user;
	switch (ev->type) {
	case KM_EVENT_HOLD_PAUSED:
		pause_set(v, ev->track_id,
		          ev->reason == KM_REASON_NONE ? KM_REASON_COUNT : ev->reason);
		v->said_id = ev->track_id;
		break;
	case KM_EVENT_HOLD_RESUMED:
	case KM_EVENT_HOLD_STARTED:
		pause_set(v, ev->track_id, KM_REASON_NONE);
		v->said_id = ev->track_id;
		break;
	case KM_EVENT_HOLD_ENGAGED:
	case KM_EVENT_HOLD_TARGET:
	case KM_EVENT_HOLD_RELEASE:
		v->said_id = ev->track_id;
		break;
	case KM_EVENT_TENSING_UP:
		set_add(v->tensing, &v->n_tensing, ev->track_id);
		break;
	case KM_EVENT_EASE_OFF:
		set_add(v->tensing, &v->n_tensing, ev->track_id);
		v->ease_off_now = true;
		break;
	case KM_EVENT_EASED:
	case KM_EVENT_KNOT_LOST:
		set_remove(v->tensing, &v->n_tensing, ev->track_id);
		break;
	case KM_EVENT_STIFFNESS:
	case KM_EVENT_RELEASED:
	case KM_EVENT_STIFFENED:
		if (isfinite(ev->stiffness_pct))
			stiff_set(v, ev->track_id, ev->stiffness_pct);
		break;
	case KM_EVENT_HOLD_STOPPED:
		pause_set(v, ev->track_id, KM_REASON_NONE);
		if (v->said_id == ev->track_id)
			v->said_id = 0;
		memset(&v->done, 0, sizeof v->done);
		v->done.state = KM_VIEW_HOLD_DONE;
		v->done.track_id = ev->track_id;
		v->done.x_mm = ev->x_mm;
		v->done.y_mm = ev->y_mm;
		v->done.held_s = ev->held_s;
		v->done.target_s = v->hold_cfg.target_s;
		v->done.release_s = v->hold_cfg.release_s;
		v->done.load_kpa = ev->load_kpa;
		v->done.stiffness_pct = NAN;
		if (v->held_id == ev->track_id)
			memcpy(v->done.name, v->held_name, sizeof v->done.name);
		v->done_us = ev->time_us;
		break;
	case KM_EVENT_SEEK_ADVICE:
		v->seek_advice = true;
		break;
	default:
		break;
	}
	if (ev->type == KM_EVENT_KNOT_FOUND && ev->track_id)
		announce_letter(v, ev);
	hold_list_event(v, ev);
	if (v->fn)
		v->fn(v->user, ev);
	/* After the callback: it names the spot one last time. */
	if (ev->type == KM_EVENT_KNOT_LOST)
		name_drop(v, ev->track_id);
}

int km__vpipe_create(const struct km_frame *shape, float rate_hz, const struct km_log *log,
                     struct km__vpipe **out)
{
	return km__vpipe_create_grid(shape, rate_hz, 0.0f, 0.0f, NULL, log, out);
}

int km__vpipe_create_grid(const struct km_frame *shape, float rate_hz, float row_pitch_mm,
                          float col_pitch_mm, const uint8_t *sensor_mask,
                          const struct km_log *log, struct km__vpipe **out)
{
	if (!out || !shape)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	struct km__vpipe *v = km__calloc(1, sizeof *v);
	if (!v)
		return KM_ERR_NO_MEMORY;
	struct km_pipeline_config c = km_pipeline_config_default();
	c.rows = shape->rows;
	c.cols = shape->cols;
	c.pitch_mm = shape->pitch_mm; /* oblong cells: the geometric mean, as the frames */
	c.row_pitch_mm = row_pitch_mm;
	c.col_pitch_mm = col_pitch_mm;
	if (sensor_mask) {
		size_t cells = (size_t)shape->rows * (size_t)shape->cols;
		v->mask = km__calloc(cells, 1);
		if (!v->mask) {
			km__free(v);
			return KM_ERR_NO_MEMORY;
		}
		memcpy(v->mask, sensor_mask, cells);
		c.sensor_mask = v->mask;
	}
	c.geometry = shape->geometry;
	if (rate_hz > 0.0f)
		c.rate_hz = rate_hz;
	v->rate_hz = c.rate_hz;
	c.on_event = on_event;
	c.user = v;
	if (log)
		c.log = *log;
	v->cfg = c;
	v->hold_cfg = c.hold;
	int err = km_view_snapshot_init(&v->ov, shape->rows, shape->cols, shape->pitch_mm,
	                                shape->geometry);
	if (err == KM_OK)
		err = km_pipeline_create(&c, &v->pl);
	if (err != KM_OK) {
		km_view_snapshot_free(&v->ov);
		km__free(v->mask);
		km__free(v);
		return err;
	}
	*out = v;
	return KM_OK;
}

void km__vpipe_destroy(struct km__vpipe *v)
{
	if (!v)
		return;
	km_pipeline_destroy(v->pl);
	km_view_snapshot_free(&v->ov);
	km__free(v->mask);
	km__free(v);
}

void km__vpipe_reset(struct km__vpipe *v)
{
	if (!v)
		return;
	if (v->pl)
		km_pipeline_reset(v->pl);
	v->res_valid = false;
	v->body = NULL;
	v->n_tensing = 0;
	v->n_stiff = 0;
	v->n_paused = 0;
	v->said_id = 0;
	v->done_us = 0;
	v->done.state = KM_VIEW_HOLD_IDLE;
	v->seek_advice = false;
	memset(v->letter, 0, sizeof v->letter);
	v->n_names = 0;
	v->ov.n_markers = 0;
	v->ov.outline_valid = v->ov.midline_valid = v->ov.centre_valid = false;
	v->ov.tensing = false;
	memset(&v->ov.hold, 0, sizeof v->ov.hold);
	v->ov.n_holds = 0;
	v->ov.holds_total = 0;
}

static void copy_overlay(struct km_view_snapshot *dst, const struct km_view_snapshot *src)
{
	memcpy(dst->outline, src->outline, km_frame_cells(src->frame));
	dst->outline_valid = src->outline_valid;
	dst->midline_valid = src->midline_valid;
	dst->midline_x_mm = src->midline_x_mm;
	dst->midline_top_mm = src->midline_top_mm;
	dst->midline_bottom_mm = src->midline_bottom_mm;
	dst->centre_valid = src->centre_valid;
	dst->centre_x_mm = src->centre_x_mm;
	dst->centre_y_mm = src->centre_y_mm;
	dst->pos_row_pitch_mm = src->pos_row_pitch_mm;
	dst->pos_col_pitch_mm = src->pos_col_pitch_mm;
	dst->n_markers = src->n_markers;
	memcpy(dst->markers, src->markers, sizeof dst->markers[0] * src->n_markers);
	dst->hold = src->hold;
	dst->n_holds = src->n_holds;
	memcpy(dst->holds, src->holds, sizeof dst->holds[0] * src->n_holds);
	dst->holds_total = src->holds_total;
	dst->tensing = src->tensing;
	dst->seek_advice = src->seek_advice;
}

const struct km_pipeline_result *km__vpipe_result(const struct km__vpipe *v)
{
	return v && v->res_valid ? &v->res : NULL;
}

void km__vpipe_symptoms(struct km__vpipe *v, uint64_t t_us)
{
	(void)t_us;
	if (v)
		v->seek_advice = true;
}

static int hold_rank(enum km_hold_state s)
{
	switch (s) {
	case KM_HOLD_HOLDING:
		return 3;
	case KM_HOLD_PAUSED:
		return 2;
	case KM_HOLD_SETTLING:
		return 1;
	default:
		return 0;
	}
}

/* The hold timer itself judges the tolerable band (hold.h): while it runs
 * the load is in the band; a pause says which side it left. */
static enum km_view_band band_of(const struct km__vpipe *v, uint32_t id, enum km_hold_state st)
{
	if (st == KM_HOLD_HOLDING)
		return KM_BAND_GOOD;
	if (st != KM_HOLD_PAUSED)
		return KM_BAND_NONE;
	switch (pause_get(v, id)) {
	case KM_REASON_OVERLOAD:
	case KM_REASON_TENSING:
		return KM_BAND_TOO_MUCH;
	case KM_REASON_UNLOADED:
		return KM_BAND_TOO_LIGHT;
	default:
		return KM_BAND_NONE;
	}
}

static void fill_outline(struct km_view_snapshot *s, const struct km_body_outline *o,
                         const struct km_frame *f, float col_pitch_mm)
{
	s->outline_valid = false;
	s->midline_valid = false;
	if (!o || !o->found || !o->row_left_mm || !o->row_right_mm || o->rows != f->rows)
		return;
	/* the outline's mm are true mm along x: the column pitch */
	const float pitch = col_pitch_mm > 0.0f ? col_pitch_mm : f->pitch_mm;
	for (uint16_t r = 0; r < f->rows; r++) {
		float lo = o->row_left_mm[r], hi = o->row_right_mm[r];
		uint8_t *row = s->outline + (size_t)r * f->cols;
		for (uint16_t c = 0; c < f->cols; c++) {
			float x = ((float)c + 0.5f) * pitch;
			row[c] = isfinite(lo) && isfinite(hi) && x >= lo - 0.5f * pitch &&
			         x <= hi + 0.5f * pitch;
		}
	}
	s->outline_valid = true;
	if (isfinite(o->midline_x_mm) && o->bottom_mm > o->top_mm) {
		s->midline_valid = true;
		s->midline_x_mm = o->midline_x_mm;
		s->midline_top_mm = o->top_mm;
		s->midline_bottom_mm = o->bottom_mm;
	}
}

/* The track's cached name, or NULL. */
static struct spot_name *name_find(struct km__vpipe *v, uint32_t id)
{
	for (size_t i = 0; i < v->n_names; i++)
		if (v->names[i].id == id)
			return &v->names[i];
	return NULL;
}

/* Forgets a track's name and gives its letter back; a track standing for
 * it keeps the name (and the letter, so no other spot is given it). */
static void name_drop(struct km__vpipe *v, uint32_t id)
{
	struct spot_name *heir = NULL;
	for (size_t i = 0; i < v->n_names; i++)
		if (v->names[i].alias_of == id) {
			v->names[i].alias_of = 0;
			heir = heir ? heir : &v->names[i];
		}
	for (int i = 0; i < N_LETTERS; i++)
		if (v->letter[i] == id)
			v->letter[i] = heir ? heir->id : 0;
	struct spot_name *n = name_find(v, id);
	if (n)
		*n = v->names[--v->n_names];
}

/* The pipeline's radius for "a new track where a knot was announced is
 * that knot" (pipeline.c, announce(): 1.5 x the tracker's same-spot
 * radius, itself at least 1.5 pitches), from the same configuration. */
static float alias_mm(const struct km__vpipe *v)
{
	const struct km_tracker_config *tc = &v->cfg.tracker;
	float same = tc->same_spot_mm > 0.0f ? tc->same_spot_mm
	                                     : fmaxf(tc->gate_mm, 1.5f * v->cfg.pitch_mm);
	return 1.5f * same;
}

/* The announced knot a new track at (x, y) stands for, or NULL: the
 * nearest within alias_mm (around a roller, x wraps). */
static struct spot_name *alias_find(struct km__vpipe *v, uint32_t id, float x_mm, float y_mm)
{
	struct spot_name *best = NULL;
	float best_d = alias_mm(v);
	float wrap = v->cfg.geometry == KM_GEOMETRY_CYLINDER
	                 ? (float)v->cfg.cols * v->cfg.pitch_mm
	                 : 0.0f;
	for (size_t i = 0; i < v->n_names; i++) {
		struct spot_name *n = &v->names[i];
		if (n->id == id || !n->announced)
			continue;
		float dx = fabsf(x_mm - n->x_mm);
		if (wrap > 0.0f)
			dx = fminf(dx, wrap - dx);
		float d = hypotf(dx, y_mm - n->y_mm);
		if (d < best_d) {
			best_d = d;
			best = n;
		}
	}
	return best;
}

/* A track ended: its name goes unless it was announced (KNOT_LOST drops it
 * then, on_event: the id may come back meanwhile, tracker.h). */
static void name_end(struct km__vpipe *v, uint32_t id)
{
	struct spot_name *n = name_find(v, id);
	if (!n || !n->announced)
		name_drop(v, id);
}

/* The first free letter for the track (high: the last free one); -1 when
 * all are taken. */
static int letter_take(struct km__vpipe *v, uint32_t id, bool high)
{
	for (int k = 0; k < N_LETTERS; k++) {
		int i = high ? N_LETTERS - 1 - k : k;
		if (v->letter[i] == 0) {
			v->letter[i] = id;
			return i;
		}
	}
	return -1;
}

/* The letter the track holds; -1 when none. */
static int letter_own(const struct km__vpipe *v, uint32_t id)
{
	for (int i = 0; i < N_LETTERS; i++)
		if (v->letter[i] == id)
			return i;
	return -1;
}

static void letter_name(int l, char *buf, size_t size)
{
	if (l >= 0)
		snprintf(buf, size, "spot %c", 'A' + l);
	else
		snprintf(buf, size, "spot");
}

/* KNOT_FOUND: the knot's letter is the first free one, as the report gives
 * it (a borrowed letter goes back); shown unless the body names the spot
 * where the event puts it, under this frame's body model: the rule `knotmap
 * export` applies when it names the recorded knots (cli/analysis.h), so the
 * report says what the screen said. */
static void announce_letter(struct km__vpipe *v, const struct km_event *ev)
{
	const uint32_t id = ev->track_id;
	struct spot_name *n = name_find(v, id);
	if (!n && v->n_names < MAX_IDS) {
		n = &v->names[v->n_names++];
		memset(n, 0, sizeof *n);
		n->id = id;
	}
	if (n)
		n->alias_of = 0; /* the pipeline says it is a knot of its own */
	for (int i = 0; i < N_LETTERS; i++)
		if (v->letter[i] == id)
			v->letter[i] = 0;
	int l = letter_take(v, id, false);
	if (n) {
		n->announced = true;
		n->body = km_body_spot_name(v->body, ev->x_mm, ev->y_mm, n->name, sizeof n->name);
		if (!n->body)
			letter_name(l, n->name, sizeof n->name);
	}
}

void km__vpipe_event_name(const struct km__vpipe *v, const struct km_event *ev, char *buf,
                          size_t size)
{
	if (!buf || size == 0)
		return;
	buf[0] = '\0';
	if (!v || !ev || ev->track_id == 0)
		return;
	for (size_t i = 0; i < v->n_names; i++)
		if (v->names[i].id == ev->track_id) {
			snprintf(buf, size, "%s", v->names[i].name);
			return;
		}
	/* A spot never shown: its place, if the body says. */
	km_body_spot_name(v->body, ev->x_mm, ev->y_mm, buf, size);
}

/* The track's name: the announced knot's it stands for (one name per
 * spot on the marker, in the messages and on the hold panel, however many
 * tracks the pipeline saw there); an announced knot's name from its
 * KNOT_FOUND (announce_letter); else where the body model puts it now
 * (it settles as the person does; a letter given before is handed back),
 * else the name it had (the body lost for a moment does not rename a spot
 * "spot A"), else a neutral letter ("spot A"). */
static void spot_name(struct km__vpipe *v, const struct km_body_model *body,
                      const struct km_track *t, char *buf, size_t size)
{
	const uint32_t id = t->id;
	const float x_mm = t->x_mm, y_mm = t->y_mm;
	struct spot_name *n = name_find(v, id);
	if (!n && v->n_names < MAX_IDS &&
	    !(t->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE | KM_CANDIDATE_WEAK))) {
		/* What the pipeline does (announce()): only knot-like tracks
		 * stand for an announced knot. */
		struct spot_name *knot = alias_find(v, id, x_mm, y_mm);
		if (knot) {
			uint32_t knot_id = knot->id;
			char knot_name[KM_VIEW_NAME_MAX];
			memcpy(knot_name, knot->name, sizeof knot_name);
			n = &v->names[v->n_names++];
			memset(n, 0, sizeof *n);
			n->id = id;
			n->alias_of = knot_id;
			memcpy(n->name, knot_name, sizeof n->name);
		}
	}
	if (n) {
		n->x_mm = x_mm;
		n->y_mm = y_mm;
	}
	if (n && n->alias_of) {
		const struct spot_name *knot = name_find(v, n->alias_of);
		if (knot)
			memcpy(n->name, knot->name, sizeof n->name);
		snprintf(buf, size, "%s", n->name);
		return;
	}
	if (n && n->announced && n->name[0]) {
		/* an announced knot keeps the name it got at its KNOT_FOUND: the
		 * one the messages, the report and the export's summary give it */
		snprintf(buf, size, "%s", n->name);
		return;
	}
	char tmp[KM_VIEW_NAME_MAX];
	bool by_body = km_body_spot_name(body, x_mm, y_mm, tmp, sizeof tmp);
	if (!by_body && n) {
		snprintf(buf, size, "%s", n->name);
		return;
	}
	if (!n && v->n_names < MAX_IDS) {
		n = &v->names[v->n_names++];
		memset(n, 0, sizeof *n);
		n->id = id;
		n->x_mm = x_mm;
		n->y_mm = y_mm;
	}
	if (by_body) {
		/* a borrowed letter goes back; a knot's stays (the report's) */
		for (int i = 0; i < N_LETTERS && !(n && n->announced); i++)
			if (v->letter[i] == id)
				v->letter[i] = 0;
	} else {
		int l = letter_own(v, id);
		if (l < 0)
			l = letter_take(v, id, !(n && n->announced));
		letter_name(l, tmp, sizeof tmp);
	}
	if (n) {
		n->body = by_body;
		memcpy(n->name, tmp, sizeof n->name);
	}
	snprintf(buf, size, "%s", tmp);
}

/* The pipeline for the frame's units: made again (once, not per frame) when
 * they change, with the overlay state of the old one dropped. */
static int match_units(struct km__vpipe *v, const struct km_frame *f)
{
	bool counts = (f->flags & KM_FRAME_UNCALIBRATED) != 0;
	if (counts == v->counts)
		return v->pl ? KM_OK : v->pl_err;
	km__vpipe_reset(v);
	km_pipeline_destroy(v->pl);
	v->pl = NULL;
	v->counts = counts;
	struct km_pipeline_config c = v->cfg;
	if (counts)
		km_pipeline_config_for_counts(&c);
	v->pl_err = km_pipeline_create(&c, &v->pl);
	if (v->pl_err != KM_OK) {
		v->pl = NULL;
		km__log(&c.log, KM_LOG_WARN, "viewer", "no spot detection for raw counts: %s",
		        km_strerror(v->pl_err));
		return v->pl_err;
	}
	v->hold_cfg = c.hold;
	km__log(&c.log, KM_LOG_INFO, "viewer",
	        counts ? "values are raw counts: relative rules only, loads not in kPa"
	               : "values are in kPa: every rule");
	return KM_OK;
}

const struct km_body_model *km__vpipe_body(const struct km__vpipe *v)
{
	return v ? v->body : NULL;
}

bool km__vpipe_running(const struct km__vpipe *v)
{
	return v && v->pl;
}

float km__vpipe_coarse_mm(const struct km__vpipe *v)
{
	return v ? km_pipeline_config_coarse_mm(&v->cfg) : 0.0f;
}

int km__vpipe_process(struct km__vpipe *v, const struct km_frame *f, struct km_view_snapshot *out,
                      km__vpipe_event_fn fn, void *user)
{
	if (!v || !f || !out || !out->outline || !out->frame ||
	    km_frame_cells(out->frame) != km_frame_cells(v->ov.frame))
		return KM_ERR_INVALID_ARG;
	struct km_view_snapshot *s = &v->ov;
	int uerr = match_units(v, f);
	if (uerr != KM_OK) {
		v->res_valid = false;
		copy_overlay(out, s);
		return uerr;
	}
	v->fn = fn;
	v->user = user;
	v->ease_off_now = false;
	struct km_pipeline_result *rp = &v->res;
	int err = km_pipeline_process(v->pl, f, rp);
	v->fn = NULL;
	v->res_valid = err == KM_OK;
	if (err != KM_OK) {
		/* Skipped frame: keep showing the previous overlay. */
		copy_overlay(out, s);
		return err;
	}
	v->body = rp->body;
	/* The pitches the pipeline's mm are in, per axis (the renderer maps
	 * them to pixels per axis): true mm along each axis. */
	s->pos_row_pitch_mm = v->cfg.row_pitch_mm > 0.0f ? v->cfg.row_pitch_mm : v->cfg.pitch_mm;
	s->pos_col_pitch_mm = v->cfg.col_pitch_mm > 0.0f ? v->cfg.col_pitch_mm : v->cfg.pitch_mm;
	fill_outline(s, rp->outline, f, v->cfg.col_pitch_mm);
	s->centre_valid = rp->load_centre_valid;
	s->centre_x_mm = rp->load_centre_x_mm;
	s->centre_y_mm = rp->load_centre_y_mm;

	s->n_markers = 0;
	struct km_view_hold best;
	memset(&best, 0, sizeof best);
	int best_rank = 0;
	bool best_said = false;
	for (size_t i = 0; i < rp->track_count; i++) {
		const struct km_track *t = &rp->tracks[i];
		if (t->state == KM_TRACK_END) {
			name_end(v, t->id);
			continue;
		}
		/* Markers for live spots only: not for a track coasting
		 * through misses, nor on a frame with nothing on the mat. */
		bool live =
		    (float)t->missed <= LIVE_MISS_S * v->rate_hz && rp->loaded_area_cm2 > 0.0f;
		bool bony = (t->flags & KM_CANDIDATE_LANDMARK) != 0;
		/* Every track is named (its events speak of it, a tool's
		 * contact may be held); only knots show the name on the map. */
		char name[KM_VIEW_NAME_MAX];
		spot_name(v, rp->body, t, name, sizeof name);
		if (live && s->n_markers < KM_VIEW_MAX_MARKERS) {
			struct km_view_marker *m = &s->markers[s->n_markers++];
			memset(m, 0, sizeof *m);
			m->track_id = t->id;
			m->x_mm = t->x_mm;
			m->y_mm = t->y_mm;
			m->radius_mm = t->scale_mm > 0.0f ? 1.5f * t->scale_mm : 0.0f;
			m->peak_kpa = t->peak_kpa;
			m->over_spine = (t->flags & KM_CANDIDATE_MIDLINE) != 0;
			m->landmark = (t->flags & KM_CANDIDATE_LANDMARK) != 0;
			m->has_stiffness = stiff_get(v, t->id, &m->stiffness_pct);
			if (!bony)
				memcpy(m->name, name, sizeof m->name);
		}
		struct km_hold_status hs;
		if (km_pipeline_hold_status(v->pl, t->id, &hs) != KM_OK)
			continue;
		/* The hold the last message named, while it runs; else the
		 * most advanced. */
		int rank = hold_rank(hs.state);
		bool said = rank > 0 && t->id == v->said_id;
		if (!said && (rank == 0 || best_said || rank < best_rank ||
		              (rank == best_rank && hs.held_s <= best.held_s)))
			continue;
		best_said = said;
		best_rank = rank;
		best.state = hs.state == KM_HOLD_HOLDING  ? KM_VIEW_HOLD_HOLDING
		             : hs.state == KM_HOLD_PAUSED ? KM_VIEW_HOLD_PAUSED
		                                          : KM_VIEW_HOLD_SETTLING;
		best.track_id = t->id;
		best.x_mm = t->x_mm;
		best.y_mm = t->y_mm;
		best.held_s = hs.held_s;
		best.target_s = hs.target_s;
		best.release_s = hs.release_s;
		best.load_kpa = t->peak_kpa;
		best.band = band_of(v, t->id, hs.state);
		best.ease_off = set_has(v->tensing, v->n_tensing, t->id);
		float pct;
		best.stiffness_pct = stiff_get(v, t->id, &pct) ? pct : NAN;
		/* A held "landmark" is the tool's contact (holds never start
		 * on bone): named too. */
		memcpy(best.name, name, sizeof best.name);
	}
	if (best_rank > 0) {
		s->hold = best;
		v->held_id = best.track_id;
		memcpy(v->held_name, best.name, sizeof v->held_name);
	} else if (v->done.state == KM_VIEW_HOLD_DONE && v->done.held_s >= 1.0f &&
	           rp->time_us >= v->done_us &&
	           (double)(rp->time_us - v->done_us) / 1e6 < DONE_SHOW_S) {
		s->hold = v->done;
	} else {
		memset(&s->hold, 0, sizeof s->hold);
		s->hold.target_s = v->hold_cfg.target_s;
		s->hold.release_s = v->hold_cfg.release_s;
	}
	/* Running holds in the list: the timer now, the name the marker has. */
	for (size_t i = 0; i < s->n_holds; i++) {
		struct km_view_hold_item *h = &s->holds[i];
		if (!h->running)
			continue;
		struct km_hold_status hs;
		if (km_pipeline_hold_status(v->pl, h->track_id, &hs) == KM_OK &&
		    hs.held_s > h->held_s)
			h->held_s = hs.held_s;
		const struct spot_name *n = name_find(v, h->track_id);
		if (n)
			memcpy(h->name, n->name, sizeof h->name);
	}
	s->tensing = v->n_tensing > 0 || v->ease_off_now;
	s->seek_advice = v->seek_advice;
	copy_overlay(out, s);
	return KM_OK;
}
