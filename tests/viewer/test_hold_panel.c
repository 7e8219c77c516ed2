/* The hold panel and the messages speak of the same spot (issue 20): on the
 * roller the dsp runs several holds at once, and the panel once showed the
 * most advanced one ("spot C") while the messages said "Hold started on spot
 * E". Now the panel shows the hold the last message was about, while it
 * runs. Drawn through the viewer's own pipeline glue on the virtual mat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../viewer/src/glue.h"
#include "knotmap/stream.h"
#include "viewer_test.h"

struct said {
	struct km__vpipe *vp;
	uint32_t track;     /* the spot the last message about a hold named */
	char name[KM_VIEW_NAME_MAX];
	char line[KM_VIEW_TEXT_MAX];
	uint32_t tracks[16]; /* tracks a hold message spoke of */
	size_t n_tracks;
};

static void on_event(void *user, const struct km_event *ev)
{
	struct said *s = user;
	char name[KM_VIEW_NAME_MAX], text[KM_VIEW_TEXT_MAX];
	km__vpipe_event_name(s->vp, ev, name, sizeof name);
	enum km_view_level level;
	if (!km__event_text(ev, name, text, sizeof text, &level))
		return;
	switch (ev->type) {
	case KM_EVENT_HOLD_ENGAGED:
	case KM_EVENT_HOLD_STARTED:
	case KM_EVENT_HOLD_PAUSED:
	case KM_EVENT_HOLD_RESUMED:
	case KM_EVENT_HOLD_TARGET:
	case KM_EVENT_HOLD_RELEASE:
		s->track = ev->track_id;
		snprintf(s->name, sizeof s->name, "%s", name);
		snprintf(s->line, sizeof s->line, "%s", text);
		bool known = false;
		for (size_t i = 0; i < s->n_tracks; i++)
			known = known || s->tracks[i] == ev->track_id;
		if (!known && s->n_tracks < 16)
			s->tracks[s->n_tracks++] = ev->track_id;
		break;
	case KM_EVENT_HOLD_STOPPED:
	case KM_EVENT_KNOT_LOST:
		if (s->track == ev->track_id)
			s->track = 0;
		break;
	default:
		break;
	}
	if (getenv("KM_TEST_VERBOSE"))
		printf("%.2f s #%u %s\n", (double)ev->time_us / 1e6, ev->track_id, text);
}

static void run(const char *scenario, double seconds, size_t *checked, size_t *n_tracks)
{
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start(scenario, 0, &st, &f, &info);
	struct km__vpipe *vp = NULL;
	cr_assert_eq(km__vpipe_create(f, (float)info.rate_hz, NULL, &vp), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, f->rows, f->cols, f->pitch_mm, f->geometry), KM_OK);
	struct said said;
	memset(&said, 0, sizeof said);
	said.vp = vp;
	*checked = 0;
	uint64_t t0 = UINT64_MAX;
	double t;
	while (vt_next_frame(st, f, &t0, seconds, &t)) {
		cr_assert_eq(km_frame_copy(s.frame, f), KM_OK);
		if (km__vpipe_process(vp, f, &s, on_event, &said) != KM_OK)
			continue;
		const struct km_view_hold *h = &s.hold;
		bool running = h->state == KM_VIEW_HOLD_SETTLING || h->state == KM_VIEW_HOLD_HOLDING ||
		               h->state == KM_VIEW_HOLD_PAUSED;
		if (!running || said.track == 0)
			continue;
		(*checked)++;
		cr_assert_eq(h->track_id, said.track,
		             "%.2f s: the panel shows '%s' (#%u) while the last message said "
		             "'%s' (#%u)",
		             (double)(f->device_time_us - t0) / 1e6, h->name, h->track_id, said.line,
		             said.track);
		cr_assert_str_eq(h->name, said.name);
	}
	*n_tracks = said.n_tracks;
	km_view_snapshot_free(&s);
	km__vpipe_destroy(vp);
	km_frame_destroy(f);
	km_stream_destroy(st);
}

Test(hold_panel, the_panel_shows_the_hold_the_messages_name, .timeout = 240)
{
	size_t checked = 0, n_tracks = 0;
	run("roller-device", 60.0, &checked, &n_tracks);
	cr_assert_gt(checked, 100u, "the roller's holds were never on the panel");
	cr_assert_geq(n_tracks, 2u, "the roller held one spot only: nothing to tell apart");
}
