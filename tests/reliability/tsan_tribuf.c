/*
 * The viewer's triple buffer with a writer thread at full speed and a slower
 * reader (plain executable for ThreadSanitizer): the reader never sees a torn
 * snapshot, serials only grow, and published - taken counts the skipped ones.
 */
#include <pthread.h>

#include "knotmap/tribuf.h"
#include "rel_util.h"

#define ROWS 32
#define COLS 48
#define N 20000

static void *writer(void *arg)
{
	km_tribuf *tb = arg;
	for (uint32_t i = 1; i <= N; i++) {
		struct km_view_snapshot *s = km_tribuf_write_slot(tb);
		for (size_t c = 0; c < (size_t)ROWS * COLS; c++)
			s->frame->kpa[c] = (float)i;
		s->frame->sequence = i;
		s->n_markers = i % KM_VIEW_MAX_MARKERS;
		s->stats.frames_ok = i;
		km_tribuf_publish(tb);
	}
	return NULL;
}

static void reader_never_sees_a_torn_snapshot(void)
{
	km_tribuf *tb;
	REL_CHECK(km_tribuf_create(ROWS, COLS, 10.0f, KM_GEOMETRY_FLAT, &tb) == KM_OK, "create");
	if (!tb)
		return;
	pthread_t t;
	pthread_create(&t, NULL, writer, tb);
	uint64_t last_serial = 0, reads = 0, fresh_reads = 0;
	uint32_t last_seq = 0;
	while (last_seq < N) {
		bool fresh = false;
		const struct km_view_snapshot *s = km_tribuf_read(tb, &fresh);
		reads++;
		if (!s)
			continue;
		uint32_t seq = s->frame->sequence;
		bool whole = s->stats.frames_ok == seq && s->n_markers == seq % KM_VIEW_MAX_MARKERS;
		for (size_t c = 0; c < (size_t)ROWS * COLS; c++)
			whole &= s->frame->kpa[c] == (float)seq;
		REL_CHECK(whole, "snapshot %u torn", seq);
		if (fresh) {
			fresh_reads++;
			REL_CHECK(s->serial > last_serial, "serial %llu after %llu",
			          (unsigned long long)s->serial, (unsigned long long)last_serial);
			REL_CHECK(seq > last_seq, "frame %u after %u", seq, last_seq);
		} else {
			REL_CHECK(seq == last_seq, "stale read changed: %u vs %u", seq, last_seq);
		}
		last_serial = s->serial;
		last_seq = seq;
		if (reads % 64 == 0)
			sched_yield();
	}
	pthread_join(t, NULL);
	uint64_t published = 0, taken = 0;
	km_tribuf_counts(tb, &published, &taken);
	REL_CHECK(published == N, "published %llu", (unsigned long long)published);
	REL_CHECK(taken == fresh_reads, "taken %llu, fresh reads %llu", (unsigned long long)taken,
	          (unsigned long long)fresh_reads);
	km_tribuf_destroy(tb);
}

int main(void)
{
	REL_RUN(reader_never_sees_a_torn_snapshot);
	return rel_failures ? 1 : 0;
}
