/* A virtual-mat session through the viewer's pipeline glue (as the viewer
 * runs it), its frames and events recorded into a .kmrec (as the R key
 * records them), for the tests that compare what the viewer said with what
 * the files say afterwards. */
#ifndef KM_VT_SESSION_H
#define KM_VT_SESSION_H

#include "../../viewer/src/glue.h"
#include "knotmap/recording.h"
#include "viewer_test.h"

struct vt_session {
	/* set by the caller */
	const char *scenario;
	double seconds; /* mat time from the first frame */
	const char *path;
	/* hooks, each may be NULL; t_s is the frame's mat time */
	void (*on_event)(struct vt_session *ss, const struct km_event *ev); /* after it is recorded */
	void (*before)(struct vt_session *ss, struct km_frame *f, double t_s); /* may change f */
	void (*after)(struct vt_session *ss, const struct km_view_snapshot *s, double t_s);
	void *user;
	/* while it runs: the viewer's glue (to name events) and the writer */
	struct km__vpipe *vp;
	km_rec_writer *w;
};

static inline void vt_session_event(void *user, const struct km_event *ev)
{
	struct vt_session *ss = user;
	struct km_rec_event rec;
	km_event_to_record(ev, &rec);
	cr_assert_eq(km_rec_writer_write_event(ss->w, &rec), KM_OK);
	if (ss->on_event)
		ss->on_event(ss, ev);
}

static inline void vt_session_run(struct vt_session *ss)
{
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start(ss->scenario, 0, &st, &f, &info);
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = ss->path;
	wc.sync = false;
	wc.device.rows = f->rows;
	wc.device.cols = f->cols;
	wc.device.pitch_mm = f->pitch_mm;
	wc.device.geometry = f->geometry;
	wc.device.rate_hz = (float)info.rate_hz;
	snprintf(wc.device.model, sizeof wc.device.model, "virtual mat (%s)", ss->scenario);
	cr_assert_eq(km_rec_writer_create(&wc, &ss->w), KM_OK);
	cr_assert_eq(km__vpipe_create(f, (float)info.rate_hz, NULL, &ss->vp), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, f->rows, f->cols, f->pitch_mm, f->geometry), KM_OK);
	uint64_t t0 = UINT64_MAX;
	double t;
	while (vt_next_frame(st, f, &t0, ss->seconds, &t)) {
		if (ss->before)
			ss->before(ss, f, t);
		cr_assert_eq(km_rec_writer_write_frame(ss->w, f, NULL, 0), KM_OK);
		cr_assert_eq(km_frame_copy(s.frame, f), KM_OK);
		km__vpipe_process(ss->vp, f, &s, vt_session_event, ss);
		if (ss->after)
			ss->after(ss, &s, t);
	}
	cr_assert_eq(km_rec_writer_close(ss->w), KM_OK);
	km_rec_writer_destroy(ss->w);
	ss->w = NULL;
	km_view_snapshot_free(&s);
	km__vpipe_destroy(ss->vp);
	ss->vp = NULL;
	km_frame_destroy(f);
	km_stream_destroy(st);
}

#endif
