/* The triple buffer never hands the reader a slot the writer is filling. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "viewer_test.h"

Test(tribuf, rejects_bad_shapes)
{
	km_tribuf *tb = (km_tribuf *)1;
	cr_assert_eq(km_tribuf_create(0, 4, 10.0f, KM_GEOMETRY_FLAT, &tb), KM_ERR_SHAPE);
	cr_assert_null(tb);
	cr_assert_eq(km_tribuf_create(4, 4, -1.0f, KM_GEOMETRY_FLAT, &tb), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_tribuf_create(4, 4, 10.0f, KM_GEOMETRY_FLAT, NULL), KM_ERR_INVALID_ARG);
	km_tribuf_destroy(NULL);
	cr_assert_null(km_tribuf_write_slot(NULL));
	cr_assert_null(km_tribuf_read(NULL, NULL));
	struct km_view_snapshot s;
	cr_assert_eq(km_view_snapshot_init(&s, 2000, 4, 10.0f, KM_GEOMETRY_FLAT), KM_ERR_SHAPE);
	cr_assert_eq(km_view_snapshot_init(NULL, 2, 4, 10.0f, KM_GEOMETRY_FLAT),
	             KM_ERR_INVALID_ARG);
}

Test(tribuf, newest_wins_and_slots_stay_apart)
{
	km_tribuf *tb = NULL;
	cr_assert_eq(km_tribuf_create(4, 4, 10.0f, KM_GEOMETRY_FLAT, &tb), KM_OK);
	bool fresh = true;
	cr_assert_null(km_tribuf_read(tb, &fresh), "nothing published yet");
	cr_assert_not(fresh);
	for (uint64_t k = 1; k <= 3; k++) {
		struct km_view_snapshot *w = km_tribuf_write_slot(tb);
		cr_assert_eq(km_tribuf_write_slot(tb), w, "same slot until publish");
		w->stats.frames_ok = k;
		km_tribuf_publish(tb);
	}
	const struct km_view_snapshot *r = km_tribuf_read(tb, &fresh);
	cr_assert(fresh);
	cr_assert_eq(r->stats.frames_ok, 3u, "the reader gets the newest");
	cr_assert_eq(r->serial, 3u);
	/* Nothing new: same slot, not fresh. */
	cr_assert_eq(km_tribuf_read(tb, &fresh), r);
	cr_assert_not(fresh);
	/* While the reader holds r, many publishes never write into r. */
	for (uint64_t k = 4; k < 50; k++) {
		struct km_view_snapshot *w = km_tribuf_write_slot(tb);
		cr_assert_neq(w, r);
		w->stats.frames_ok = k;
		km_tribuf_publish(tb);
	}
	cr_assert_eq(r->stats.frames_ok, 3u);
	uint64_t pub, taken;
	km_tribuf_counts(tb, &pub, &taken);
	cr_assert_eq(pub, 49u);
	cr_assert_eq(taken, 1u);
	/* reset drops the unread publish; the reader keeps its slot. */
	km_tribuf_reset(tb);
	cr_assert_eq(km_tribuf_read(tb, &fresh), r);
	cr_assert_not(fresh);
	km_tribuf_destroy(tb);
}

/* Threaded: the writer marks its slot busy while it fills every cell with
 * the publish number; the reader checks it never sees a busy slot or a torn
 * frame. */
struct shared {
	km_tribuf *tb;
	_Atomic(const void *) writing;
	atomic_bool stop;
	int rounds;
};

static void *writer(void *arg)
{
	struct shared *sh = arg;
	for (int k = 1; k <= sh->rounds; k++) {
		struct km_view_snapshot *w = km_tribuf_write_slot(sh->tb);
		atomic_store(&sh->writing, w);
		size_t n = km_frame_cells(w->frame);
		for (size_t i = 0; i < n; i++)
			w->frame->kpa[i] = (float)k;
		w->stats.frames_ok = (uint64_t)k;
		atomic_store(&sh->writing, NULL);
		km_tribuf_publish(sh->tb);
	}
	atomic_store(&sh->stop, true);
	return NULL;
}

Test(tribuf, reader_never_sees_a_slot_being_written)
{
	struct shared sh;
	memset(&sh, 0, sizeof sh);
	sh.rounds = 20000;
	cr_assert_eq(km_tribuf_create(24, 24, 10.0f, KM_GEOMETRY_FLAT, &sh.tb), KM_OK);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, writer, &sh), 0);
	uint64_t last = 0, reads = 0;
	while (!atomic_load(&sh.stop) || reads == 0) {
		bool fresh;
		const struct km_view_snapshot *r = km_tribuf_read(sh.tb, &fresh);
		if (!r)
			continue;
		reads++;
		cr_assert_neq((const void *)r, atomic_load(&sh.writing), "got the writer's slot");
		uint64_t k = r->stats.frames_ok;
		cr_assert_geq(k, last, "went back in time");
		last = k;
		size_t n = km_frame_cells(r->frame);
		for (size_t i = 0; i < n; i += 7)
			cr_assert_eq(r->frame->kpa[i], (float)k, "torn frame at publish %llu",
			             (unsigned long long)k);
		cr_assert_eq(r->serial, k);
	}
	pthread_join(th, NULL);
	const struct km_view_snapshot *r = km_tribuf_read(sh.tb, NULL);
	cr_assert_eq(r->stats.frames_ok, (uint64_t)sh.rounds, "the last publish arrives");
	km_tribuf_destroy(sh.tb);
}

Test(tribuf, snapshot_copy_keeps_own_buffers)
{
	struct km_view_snapshot a, b;
	cr_assert_eq(km_view_snapshot_init(&a, 3, 3, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	cr_assert_eq(km_view_snapshot_init(&b, 3, 3, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	a.frame->kpa[4] = 9.0f;
	a.outline[4] = 1;
	a.n_markers = 1;
	a.markers[0].track_id = 7;
	struct km_frame *bf = b.frame;
	cr_assert_eq(km_view_snapshot_copy(&b, &a), KM_OK);
	cr_assert_eq(b.frame, bf);
	cr_assert_eq(b.frame->kpa[4], 9.0f);
	cr_assert_eq(b.outline[4], 1);
	cr_assert_eq(b.markers[0].track_id, 7u);
	struct km_view_snapshot c;
	cr_assert_eq(km_view_snapshot_init(&c, 4, 3, 10.0f, KM_GEOMETRY_FLAT), KM_OK);
	cr_assert_eq(km_view_snapshot_copy(&c, &a), KM_ERR_SHAPE);
	km_view_snapshot_free(&a);
	km_view_snapshot_free(&b);
	km_view_snapshot_free(&c);
	km_view_snapshot_free(NULL);
}
