/* The hold panel lists the session's holds (issue 20): the running one
 * highlighted, finished ones with their length, most recent first, inside
 * the panel and off each other (km_render_layout). The lengths are the
 * session summary's (knotmap/summary.h folds the same events), so the
 * panel, `knotmap analyze`, the report and the history agree. Through the
 * viewer's own pipeline glue on the virtual mat. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../viewer/src/glue.h"
#include "knotmap/stream.h"
#include "knotmap/summary.h"
#include "viewer_test.h"

struct fold {
	struct km_summary sum;
};

static void on_event(void *user, const struct km_event *ev)
{
	struct fold *f = user;
	cr_assert_eq(km_summary_add(&f->sum, ev, NULL), KM_OK);
}

static bool boxes_overlap(const struct km_render_box *a, const struct km_render_box *b)
{
	return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h &&
	       b->y < a->y + a->h;
}

Test(hold_list, two_holds_both_listed_with_the_summarys_lengths, .timeout = 240)
{
	km_stream *st;
	struct km_frame *f;
	struct km_device_info info;
	vt_sim_start("roller-device", 0, &st, &f, &info);
	struct km__vpipe *vp = NULL;
	cr_assert_eq(km__vpipe_create(f, (float)info.rate_hz, NULL, &vp), KM_OK);
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, f->rows, f->cols, f->pitch_mm, f->geometry), KM_OK);
	struct fold fold;
	km_summary_init(&fold.sum);
	uint64_t t0 = UINT64_MAX;
	double t;
	size_t finished = 0;
	while (vt_next_frame(st, f, &t0, 180.0, &t)) {
		cr_assert_eq(km_frame_copy(s.frame, f), KM_OK);
		if (km__vpipe_process(vp, f, &s, on_event, &fold) != KM_OK)
			continue;
		/* every listed hold is one of the summary's, with its length once
		 * finished; the list is the summary's, newest first */
		cr_assert_eq(s.holds_total, (uint32_t)fold.sum.n_holds);
		cr_assert_eq(s.n_holds, (fold.sum.n_holds < KM_VIEW_MAX_HOLDS ? fold.sum.n_holds : KM_VIEW_MAX_HOLDS));
		finished = 0;
		for (size_t i = 0; i < s.n_holds; i++) {
			const struct km_view_hold_item *h = &s.holds[i];
			const struct km_summary_hold *d = &fold.sum.holds[fold.sum.n_holds - 1 - i];
			cr_assert_eq(h->track_id, d->track_id);
			cr_assert_eq(h->start_us, d->start_us);
			cr_assert_eq(h->running, d->open, "hold %zu", i);
			if (!h->running) {
				cr_assert_eq(h->held_s, d->held_s, "hold %zu: %g s listed, %g s in the summary",
				             i, (double)h->held_s, (double)d->held_s);
				finished++;
			}
		}
		if (finished >= 2)
			break;
	}
	cr_assert_geq(finished, 2u, "the roller finished fewer than two holds in 180 s");

	/* drawn: a row per hold under the current one, with the summary's
	 * seconds, inside the panel and off each other */
	struct vt v = vt_open(1024, 640);
	struct km_render_config rc = km_render_config_default();
	km_render *r = NULL;
	cr_assert_eq(km_render_create(v.ren, &rc, &r), KM_OK);
	cr_assert_eq(km_render_draw(r, &s, NULL, 0.03f), KM_OK);
	if (getenv("KM_TEST_SHOT")) { /* a picture to look at */
		struct km_image_config ic = km_image_config_default();
		ic.path = getenv("KM_TEST_SHOT");
		ic.force = true;
		km_viewer_save_png(v.ren, &ic);
	}
	struct km_render_layout lay;
	km_render_layout(r, &lay);
	const struct km_render_box *now = NULL, *rows[KM_RENDER_MAX_BOXES];
	size_t n_rows = 0;
	for (size_t i = 0; i < lay.n_boxes; i++) {
		if (lay.box[i].kind == KM_BOX_HOLD_PANEL)
			now = &lay.box[i];
		if (lay.box[i].kind == KM_BOX_HOLD_LIST)
			rows[n_rows++] = &lay.box[i];
	}
	cr_assert_not_null(now);
	cr_assert_eq(n_rows, 1 + (s.n_holds < 4 ? s.n_holds : 4), "a heading and a row per hold");
	size_t listed_finished = 0;
	for (size_t i = 0; i < n_rows; i++) {
		const struct km_render_box *b = rows[i];
		cr_assert(b->x >= now->x && b->x + b->w <= now->x + now->w, "row %zu in the column", i);
		cr_assert_geq(b->y, now->y + now->h, "row %zu under the current hold", i);
		cr_assert_leq(b->y + b->h, 566, "row %zu above the guidance strip", i);
		cr_assert_not(boxes_overlap(b, now));
		for (size_t j = 0; j < i; j++)
			cr_assert_not(boxes_overlap(b, rows[j]), "rows %zu and %zu overlap", j, i);
		if (i == 0)
			continue;
		/* rows in list order: newest first */
		const struct km_view_hold_item *h = &s.holds[i - 1];
		cr_assert_eq(b->track_id, h->track_id);
		if (i > 1)
			cr_assert_gt(b->y, rows[i - 1]->y);
		if (!h->running) {
			const struct km_summary_hold *d = &fold.sum.holds[fold.sum.n_holds - i];
			char secs[32], want[32];
			km_view_format_hold_item(h, secs, sizeof secs);
			snprintf(want, sizeof want, "%.0f s", (double)d->held_s);
			cr_assert_str_eq(secs, want);
			listed_finished++;
		}
	}
	cr_assert_geq(listed_finished, 2u, "two finished holds on the panel");
	km_render_destroy(r);
	vt_close(&v);
	km_summary_free(&fold.sum);
	km_view_snapshot_free(&s);
	km__vpipe_destroy(vp);
	km_frame_destroy(f);
	km_stream_destroy(st);
}
