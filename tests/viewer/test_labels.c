/* Marker labels on a crowded map, drawn headless through the real renderer:
 * no label overlaps another, the hold ring or its seconds, the colour bar or
 * the panels; spots on one contact are one marker; bony spots carry no
 * label. The layout the draw reports is checked against the pixels too. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../viewer/src/glue.h"
#include "knotmap/stream.h"
#include "viewer_test.h"

/* Boxes overlap; the hold ring's box stands for the circle it holds (the
 * map in its corners is free). */
static bool hit(const struct km_render_box *a, const struct km_render_box *b)
{
	if (b->kind == KM_BOX_HOLD_RING) {
		float rad = (float)b->w * 0.5f, cx = (float)b->x + rad, cy = (float)b->y + rad;
		float nx = fminf(fmaxf(cx, (float)a->x), (float)(a->x + a->w));
		float ny = fminf(fmaxf(cy, (float)a->y), (float)(a->y + a->h));
		return (nx - cx) * (nx - cx) + (ny - cy) * (ny - cy) < rad * rad;
	}
	return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static const char *kind_name(enum km_render_box_kind k)
{
	static const char *const n[] = {"label",  "marker",  "hold ring",  "hold tag", "more",
	                                "guided", "overlay", "colour bar", "panel"};
	return (unsigned)k < sizeof n / sizeof n[0] ? n[k] : "?";
}

/* Every label inside the map, clear of every other label and of everything
 * but markers (its own circle included). */
static void assert_clear(const km_render *r)
{
	struct km_render_layout l;
	km_render_layout(r, &l);
	int hr[4];
	km_render_heat_rect(r, hr);
	for (size_t i = 0; i < l.n_boxes; i++) {
		const struct km_render_box *a = &l.box[i];
		if (a->kind == KM_BOX_HOLD_TAG)
			for (size_t j = 0; j < l.n_boxes; j++)
				cr_assert(l.box[j].kind != KM_BOX_OVERLAY || !hit(a, &l.box[j]),
				          "the hold's seconds under a banner or notice");
		if (a->kind != KM_BOX_LABEL && a->kind != KM_BOX_MORE)
			continue;
		cr_assert(a->x >= hr[0] && a->y >= hr[1] && a->x + a->w <= hr[0] + hr[2] &&
		              a->y + a->h <= hr[1] + hr[3],
		          "label of #%u at %d,%d %dx%d leaves the map", a->track_id, a->x, a->y,
		          a->w, a->h);
		for (size_t j = 0; j < l.n_boxes; j++) {
			const struct km_render_box *b = &l.box[j];
			if (i == j || b->kind == KM_BOX_MARKER)
				continue;
			cr_assert(!hit(a, b),
			          "%s of #%u (%d,%d %dx%d) overlaps %s of #%u (%d,%d %dx%d)",
			          kind_name(a->kind), a->track_id, a->x, a->y, a->w, a->h,
			          kind_name(b->kind), b->track_id, b->x, b->y, b->w, b->h);
		}
	}
}

struct scene {
	struct vt v;
	km_render *r;
	struct km_view_snapshot s;
	struct km_view_ui ui;
};

static void scene_open(struct scene *sc, uint16_t rows, uint16_t cols, float pitch)
{
	sc->v = vt_open(1024, 640);
	sc->r = NULL;
	struct km_render_config cfg = km_render_config_default();
	cr_assert_eq(km_render_create(sc->v.ren, &cfg, &sc->r), KM_OK);
	cr_assert_eq(km_view_snapshot_init(&sc->s, rows, cols, pitch, KM_GEOMETRY_FLAT), KM_OK);
	sc->ui = km_view_ui_default();
	sc->ui.fixed_range_kpa = 40.0f;
}

static void scene_close(struct scene *sc)
{
	km_view_snapshot_free(&sc->s);
	km_render_destroy(sc->r);
	vt_close(&sc->v);
}

/* KM_TEST_SHOT=file.png: the picture, to look at by eye. */
static void shot(struct scene *sc, const char *env)
{
	const char *path = env ? getenv(env) : NULL;
	if (!path)
		return;
	struct km_image_config ic = km_image_config_default();
	ic.path = path;
	ic.force = true;
	cr_assert_eq(km_viewer_save_png(sc->v.ren, &ic), KM_OK);
}

/* A Gaussian bump of peak kpa at (x, y) mm, sigma mm, added to the frame. */
static void bump(struct km_frame *f, float x, float y, float sigma, float kpa)
{
	for (int rw = 0; rw < f->rows; rw++)
		for (int c = 0; c < f->cols; c++) {
			float dx = ((float)c + 0.5f) * f->pitch_mm - x,
			      dy = ((float)rw + 0.5f) * f->pitch_mm - y;
			f->kpa[(size_t)rw * f->cols + (size_t)c] +=
			    kpa * expf(-(dx * dx + dy * dy) / (2.0f * sigma * sigma));
		}
}

static struct km_view_marker *add_marker(struct km_view_snapshot *s, uint32_t id, float x, float y,
                                         float kpa, const char *name)
{
	struct km_view_marker *m = &s->markers[s->n_markers++];
	memset(m, 0, sizeof *m);
	m->track_id = id;
	m->x_mm = x;
	m->y_mm = y;
	m->radius_mm = 15.0f;
	m->peak_kpa = kpa;
	snprintf(m->name, sizeof m->name, "%s", name);
	return m;
}

/* Fifteen spots packed along the shoulders of a 64 x 32 mat (7.5 mm), one of
 * them held: the labels find room or are counted, never overlap. */
Test(labels, crowded_shoulders_never_overlap)
{
	struct scene sc;
	scene_open(&sc, 64, 32, 7.5f);
	struct km_view_snapshot *s = &sc.s;
	for (int i = 0; i < 15; i++) {
		/* Two staggered rows across both shoulder blades, 30 mm apart. */
		float x = 15.0f + 30.0f * (float)(i / 2) + (i % 2 ? 15.0f : 0.0f);
		float y = i % 2 ? 125.0f : 95.0f;
		bump(s->frame, x, y, 6.0f, 20.0f + (float)i);
		add_marker(s, 100u + (uint32_t)i, x, y, 20.0f + (float)i,
		           i < 8 ? "R upper back" : "L upper back");
		if (i % 4 == 0) {
			s->markers[s->n_markers - 1].has_stiffness = true;
			s->markers[s->n_markers - 1].stiffness_pct = -12.0f;
		}
	}
	s->hold.state = KM_VIEW_HOLD_HOLDING;
	s->hold.track_id = 107;
	s->hold.x_mm = s->markers[7].x_mm;
	s->hold.y_mm = s->markers[7].y_mm;
	s->hold.held_s = 17.0f;
	s->hold.target_s = 30.0f;
	s->hold.release_s = 60.0f;
	s->hold.band = KM_BAND_GOOD;
	snprintf(s->hold.name, sizeof s->hold.name, "R upper back");
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	assert_clear(sc.r);
	struct km_render_layout l;
	km_render_layout(sc.r, &l);
	/* Not vacuous: a good share found room, and every marker is either
	 * labelled or counted in the note. */
	shot(&sc, "KM_TEST_SHOT");
	cr_assert_geq(l.n_markers, 12u, "spots 30 mm apart were merged: %zu markers", l.n_markers);
	cr_assert_geq(l.n_labels, 6u, "only %zu labels placed", l.n_labels);
	size_t labelled_marks = l.n_markers;
	cr_assert_eq(l.n_labels + l.n_hidden, labelled_marks, "%zu + %zu != %zu", l.n_labels,
	             l.n_hidden, labelled_marks);
	bool more = false;
	for (size_t i = 0; i < l.n_boxes; i++)
		more = more || l.box[i].kind == KM_BOX_MORE;
	cr_assert_eq(more, l.n_hidden > 0, "a '+N more' note exactly when labels were left out");
	/* The pixels agree: each label's plate is dark with light text on it
	 * (the viridis map under it is neither). */
	for (size_t i = 0; i < l.n_boxes; i++) {
		const struct km_render_box *b = &l.box[i];
		if (b->kind != KM_BOX_LABEL)
			continue;
		int light = 0;
		for (int y = b->y; y < b->y + b->h; y++)
			for (int x = b->x; x < b->x + b->w; x++)
				light += vt_channel_diff(vt_pixel(&sc.v, x, y), 0xffffff) < 60;
		cr_assert_gt(light, 10, "no text drawn in label of #%u", b->track_id);
	}
	/* Frozen with a notice and an ending banner: still nothing overlaps. */
	sc.ui.frozen = true;
	sc.ui.notice = "Saved knotmap-1.png";
	s->stats.ended = true;
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	assert_clear(sc.r);
	scene_close(&sc);
}

/* Tensing up during a hold low on the map: the EASE OFF banner does not
 * hide the seconds, nor the held spot's label. */
Test(labels, banner_never_hides_the_hold)
{
	struct scene sc;
	scene_open(&sc, 48, 64, 10.0f);
	struct km_view_snapshot *s = &sc.s;
	bump(s->frame, 300.0f, 300.0f, 15.0f, 50.0f);
	add_marker(s, 3, 300.0f, 300.0f, 50.0f, "spot B");
	s->hold.state = KM_VIEW_HOLD_HOLDING;
	s->hold.track_id = 3;
	s->hold.x_mm = 300.0f;
	s->hold.y_mm = 300.0f;
	s->hold.held_s = 11.0f;
	s->hold.ease_off = true;
	snprintf(s->hold.name, sizeof s->hold.name, "spot B");
	s->tensing = true;
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	assert_clear(sc.r);
	struct km_render_layout l;
	km_render_layout(sc.r, &l);
	cr_assert_eq(l.n_labels, 1u, "the held spot's label");
	scene_close(&sc);
}

/* Three spots under one ball contact are one marker; a spot across a valley
 * is its own. */
Test(labels, one_contact_one_marker)
{
	struct scene sc;
	scene_open(&sc, 48, 32, 10.0f);
	struct km_view_snapshot *s = &sc.s;
	bump(s->frame, 120.0f, 200.0f, 18.0f, 35.0f);
	add_marker(s, 1, 116.0f, 196.0f, 34.0f, "spot A");
	add_marker(s, 2, 126.0f, 204.0f, 33.0f, "spot B");
	add_marker(s, 3, 120.0f, 210.0f, 32.0f, "spot C");
	bump(s->frame, 240.0f, 200.0f, 8.0f, 30.0f);
	add_marker(s, 4, 240.0f, 200.0f, 30.0f, "spot D");
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	struct km_render_layout l;
	km_render_layout(sc.r, &l);
	cr_assert_eq(l.n_markers, 2u, "%zu markers for two contacts", l.n_markers);
	cr_assert_eq(l.n_labels, 2u);
	bool strongest = false;
	for (size_t i = 0; i < l.n_boxes; i++)
		strongest = strongest || (l.box[i].kind == KM_BOX_LABEL && l.box[i].track_id == 1);
	cr_assert(strongest, "the group speaks through its strongest spot");
	assert_clear(sc.r);
	scene_close(&sc);
}

/* A knot right next to a bony landmark shares its circle but keeps its
 * label, though the bone presses harder. */
Test(labels, knot_beside_a_bone_keeps_its_label)
{
	struct scene sc;
	scene_open(&sc, 48, 32, 10.0f);
	struct km_view_snapshot *s = &sc.s;
	bump(s->frame, 150.0f, 200.0f, 14.0f, 40.0f);
	add_marker(s, 7, 150.0f, 200.0f, 40.0f, "")->landmark = true;
	add_marker(s, 4, 158.0f, 212.0f, 30.0f, "L upper back");
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	struct km_render_layout l;
	km_render_layout(sc.r, &l);
	cr_assert_eq(l.n_markers, 1u);
	cr_assert_eq(l.n_labels, 1u);
	for (size_t i = 0; i < l.n_boxes; i++)
		if (l.box[i].kind == KM_BOX_LABEL)
			cr_assert_eq(l.box[i].track_id, 4u);
	scene_close(&sc);
}

/* A spot the detector holds for bone, or one on the spine, is drawn grey
 * without a knot's label. */
Test(labels, bony_and_spine_spots_unlabelled)
{
	struct scene sc;
	scene_open(&sc, 48, 32, 10.0f);
	struct km_view_snapshot *s = &sc.s;
	bump(s->frame, 80.0f, 100.0f, 8.0f, 60.0f);
	add_marker(s, 1, 80.0f, 100.0f, 60.0f, "")->landmark = true;
	bump(s->frame, 160.0f, 250.0f, 8.0f, 20.0f);
	add_marker(s, 2, 160.0f, 250.0f, 20.0f, "")->over_spine = true;
	bump(s->frame, 240.0f, 350.0f, 8.0f, 20.0f);
	add_marker(s, 3, 240.0f, 350.0f, 20.0f, "L lower back");
	cr_assert_eq(km_render_draw(sc.r, s, &sc.ui, 0.03f), KM_OK);
	struct km_render_layout l;
	km_render_layout(sc.r, &l);
	cr_assert_eq(l.n_markers, 3u);
	cr_assert_eq(l.n_labels, 1u);
	cr_assert_eq(l.n_hidden, 0u);
	for (size_t i = 0; i < l.n_boxes; i++)
		if (l.box[i].kind == KM_BOX_LABEL)
			cr_assert_eq(l.box[i].track_id, 3u);
	scene_close(&sc);
}

/* ---------------------------------------------------------------------- */
/* Real scenes: the virtual mat through the viewer's own pipeline glue.     */
/* ---------------------------------------------------------------------- */

struct real {
	size_t draws, labels, named_body, named_letter, markers_max;
	size_t events_named, events_unnamed;
	char names[256];
	struct km__vpipe *vp;
};

/* Every event about a spot names it as its marker did (a lost spot too). */
static void on_real_event(void *user, const struct km_event *ev)
{
	struct real *r = user;
	if (ev->track_id == 0 || ev->type == KM_EVENT_SEEK_ADVICE)
		return;
	char name[KM_VIEW_NAME_MAX];
	km__vpipe_event_name(r->vp, ev, name, sizeof name);
	if (name[0])
		r->events_named++;
	else
		r->events_unnamed++;
	if (getenv("KM_TEST_VERBOSE"))
		printf("event %d #%u '%s'\n", ev->type, ev->track_id, name);
}

/* Runs scenario for up to seconds of mat time through km__vpipe (what the
 * processing thread runs), drawing the snapshot every second from 5 s on
 * and checking its layout; shot_env names the picture's variable. */
static void run_real(const char *scenario, double seconds, struct real *out, const char *shot_env)
{
	memset(out, 0, sizeof *out);
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start(scenario, 0, &st, &f, &info);
	struct km__vpipe *vp = NULL;
	cr_assert_eq(km__vpipe_create(f, (float)info.rate_hz, NULL, &vp), KM_OK);
	out->vp = vp;
	struct scene s;
	scene_open(&s, f->rows, f->cols, f->pitch_mm);
	if (f->geometry != KM_GEOMETRY_FLAT) {
		km_view_snapshot_free(&s.s);
		cr_assert_eq(
		    km_view_snapshot_init(&s.s, f->rows, f->cols, f->pitch_mm, f->geometry), KM_OK);
	}
	s.ui.fixed_range_kpa = 0.0f;
	uint64_t t0 = UINT64_MAX;
	double next = 5.0, t;
	while (vt_next_frame(st, f, &t0, seconds, &t)) {
		cr_assert_eq(km_frame_copy(s.s.frame, f), KM_OK);
		s.s.serial++;
		km__vpipe_process(vp, f, &s.s, on_real_event, out);
		if (t < next)
			continue;
		next += 1.0;
		cr_assert_eq(km_render_draw(s.r, &s.s, &s.ui, 1.0f), KM_OK);
		assert_clear(s.r);
		struct km_render_layout l;
		km_render_layout(s.r, &l);
		out->draws++;
		out->labels += l.n_labels;
		if (s.s.n_markers > out->markers_max)
			out->markers_max = s.s.n_markers;
		for (size_t i = 0; i < s.s.n_markers; i++) {
			const struct km_view_marker *m = &s.s.markers[i];
			cr_assert_null(strchr(m->name, '#'), "a climbing number: %s", m->name);
			cr_assert_null(strstr(m->name, "bone"), "%s", m->name);
			if (m->landmark) {
				cr_assert_eq(m->name[0], '\0', "a bony spot named %s", m->name);
				continue;
			}
			cr_assert_neq(m->name[0], '\0', "spot #%u has no name", m->track_id);
			/* The HUD's messages call it what its label says. */
			struct km_event ev;
			memset(&ev, 0, sizeof ev);
			ev.track_id = m->track_id;
			char said[KM_VIEW_NAME_MAX];
			km__vpipe_event_name(vp, &ev, said, sizeof said);
			cr_assert_str_eq(said, m->name, "#%u: label '%s', messages '%s'",
			                 m->track_id, m->name, said);
			if (!strncmp(m->name, "spot ", 5))
				out->named_letter++;
			else
				out->named_body++;
			if (strlen(out->names) + strlen(m->name) + 3 < sizeof out->names &&
			    !strstr(out->names, m->name)) {
				strcat(out->names, m->name);
				strcat(out->names, "; ");
			}
		}
		if (s.s.hold.state != KM_VIEW_HOLD_IDLE && s.s.hold.state != KM_VIEW_HOLD_DONE) {
			cr_assert_neq(s.s.hold.name[0], '\0', "the held spot has no name");
			struct km_event ev;
			memset(&ev, 0, sizeof ev);
			ev.track_id = s.s.hold.track_id;
			char said[KM_VIEW_NAME_MAX];
			km__vpipe_event_name(vp, &ev, said, sizeof said);
			cr_assert_str_eq(said, s.s.hold.name, "hold panel '%s', messages '%s'",
			                 s.s.hold.name, said);
		}
	}
	shot(&s, shot_env);
	if (getenv("KM_TEST_VERBOSE")) {
		struct km_render_layout l;
		km_render_layout(s.r, &l);
		for (size_t i = 0; i < s.s.n_markers; i++)
			printf("marker %u '%s' at %.0f,%.0f landmark %d spine %d\n",
			       s.s.markers[i].track_id, s.s.markers[i].name,
			       (double)s.s.markers[i].x_mm, (double)s.s.markers[i].y_mm,
			       s.s.markers[i].landmark, s.s.markers[i].over_spine);
		printf("hold on %u '%s' state %d\n", s.s.hold.track_id, s.s.hold.name,
		       s.s.hold.state);
		for (size_t i = 0; i < l.n_boxes; i++)
			printf("box %d #%u %d,%d %dx%d\n", l.box[i].kind, l.box[i].track_id,
			       l.box[i].x, l.box[i].y, l.box[i].w, l.box[i].h);
	}
	scene_close(&s);
	km__vpipe_destroy(vp);
	km_frame_destroy(f);
	km_stream_destroy(st);
}

Test(labels, back_lying_named_by_body_never_overlapping, .timeout = 120)
{
	struct real r;
	run_real("back-lying", 30.0, &r, "KM_TEST_SHOT_LYING");
	cr_assert_geq(r.draws, 20u);
	cr_assert_gt(r.labels, 0u, "no label drawn on the back-lying scene");
	cr_assert_gt(r.named_body, 0u, "no spot named by the body model: %s", r.names);
	cr_assert(strstr(r.names, "back") || strstr(r.names, "shoulders"), "names: %s", r.names);
}

Test(labels, roller_spots_named_by_letter, .timeout = 120)
{
	struct real r;
	run_real("foam-roller-thigh", 30.0, &r, "KM_TEST_SHOT_ROLLER");
	cr_assert_geq(r.draws, 20u);
	/* No body model on a roller: neutral letters, reused, never past Z. */
	cr_assert_eq(r.named_body, 0u, "names: %s", r.names);
	cr_assert_gt(r.named_letter, 0u);
	cr_assert_gt(r.events_named, 0u);
	cr_assert_eq(r.events_unnamed, 0u, "%zu events about a nameless spot", r.events_unnamed);
}

/* A hold while tensing up: the panel, the label and the messages name the
 * held spot alike, all the way through. */
Test(labels, tensing_up_one_name_throughout, .timeout = 120)
{
	struct real r;
	run_real("tensing-up", 30.0, &r, NULL);
	cr_assert_geq(r.draws, 20u);
	cr_assert_gt(r.events_named, 0u);
	cr_assert_eq(r.events_unnamed, 0u);
}

/* A replay that goes on with empty frames (someone got up): no marker stays
 * on the empty mat, from the first empty frame on. */
Test(labels, no_markers_on_empty_frames, .timeout = 120)
{
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start("back-lying", 0, &st, &f, &info);
	struct km__vpipe *vp = NULL;
	cr_assert_eq(km__vpipe_create(f, (float)info.rate_hz, NULL, &vp), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, f->rows, f->cols, f->pitch_mm, f->geometry), KM_OK);
	size_t most = 0;
	for (int k = 0; k < 1500 && km_stream_read(st, f, 5000) == KM_OK; k++) {
		km__vpipe_process(vp, f, &s, NULL, NULL);
		if (s.n_markers > most)
			most = s.n_markers;
	}
	cr_assert_gt(s.n_markers, 0u, "no spots on the back-lying scene to lose (most %zu)", most);
	for (int k = 0; k < 20; k++) {
		f->sequence++;
		f->device_time_us += 10000u;
		memset(f->kpa, 0, km_frame_cells(f) * sizeof *f->kpa);
		cr_assert_eq(km__vpipe_process(vp, f, &s, NULL, NULL), KM_OK);
		cr_assert_eq(s.n_markers, 0u, "%zu markers on empty frame %d", s.n_markers, k);
	}
	km_view_snapshot_free(&s);
	km__vpipe_destroy(vp);
	km_frame_destroy(f);
	km_stream_destroy(st);
}
