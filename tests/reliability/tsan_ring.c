/*
 * The driver's frame ring under two threads (plain executable for
 * ThreadSanitizer): drop-oldest and blocking pushes, close, the interrupt
 * flag. The consumer checks every frame is whole and that sequence gaps match
 * dropped_before exactly.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "rel_util.h"
#include "ring.h"

#define CELLS 257
#define N 20000

struct prod {
	struct km__ring *r;
	bool wait;
	uint32_t pushed;
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	static _Thread_local uint16_t raw[CELLS];
	for (uint32_t i = 0; i < N; i++) {
		for (int c = 0; c < CELLS; c++)
			raw[c] = (uint16_t)(i * 7u + (uint32_t)c);
		struct km__frame_meta m = {.sequence = i, .device_time_us = i};
		if (km__ring_push(p->r, &m, raw, p->wait))
			p->pushed++;
		if (i % 512 == 0)
			sched_yield();
	}
	km__ring_close(p->r, KM_ERR_END);
	return NULL;
}

static void run(bool wait)
{
	struct km__ring *r;
	REL_CHECK(km__ring_create(8, CELLS, &r) == KM_OK, "create");
	if (!r)
		return;
	struct prod p = {r, wait, 0};
	pthread_t t;
	pthread_create(&t, NULL, producer, &p);
	uint16_t raw[CELLS];
	struct km__frame_meta m;
	int64_t last = -1;
	uint64_t got = 0, dropped = 0;
	int rc;
	while ((rc = km__ring_pop(r, &m, raw, 1000)) == KM_OK) {
		bool whole = true;
		for (int c = 0; c < CELLS; c++)
			whole &= raw[c] == (uint16_t)(m.sequence * 7u + (uint32_t)c);
		REL_CHECK(whole, "frame %u torn", m.sequence);
		REL_CHECK((int64_t)m.sequence == last + 1 + m.dropped_before,
		          "frame %u after %lld with %u dropped", m.sequence, (long long)last,
		          m.dropped_before);
		last = m.sequence;
		got++;
		dropped += m.dropped_before;
		if (got % 97 == 0)
			rel_sleep_ms(1); /* a slow consumer */
	}
	pthread_join(t, NULL);
	REL_CHECK(rc == KM_ERR_END, "pop ended with %s", km_strerror(rc));
	REL_CHECK(last == N - 1, "last frame %lld", (long long)last);
	REL_CHECK(got + dropped == N, "%llu got + %llu dropped", (unsigned long long)got,
	          (unsigned long long)dropped);
	REL_CHECK(dropped == km__ring_drops(r), "drops %llu vs counter %llu",
	          (unsigned long long)dropped, (unsigned long long)km__ring_drops(r));
	if (wait)
		REL_CHECK(dropped == 0 && p.pushed == N, "blocking push dropped %llu",
		          (unsigned long long)dropped);
	km__ring_destroy(r);
}

static void drop_oldest_under_a_slow_consumer(void)
{
	run(false);
}

static void blocking_push_loses_nothing(void)
{
	run(true);
}

static atomic_bool flag;

static void *raise_flag(void *arg)
{
	(void)arg;
	rel_sleep_ms(50);
	atomic_store(&flag, true);
	return NULL;
}

static void *close_later(void *arg)
{
	rel_sleep_ms(50);
	km__ring_close(arg, KM_ERR_NO_DEVICE);
	return NULL;
}

static void interrupt_and_close_wake_a_waiting_reader(void)
{
	struct km__ring *r;
	REL_CHECK(km__ring_create(4, CELLS, &r) == KM_OK, "create");
	if (!r)
		return;
	km__ring_set_interrupt(r, &flag);
	struct km__frame_meta m;
	pthread_t t;
	pthread_create(&t, NULL, raise_flag, NULL);
	int rc = km__ring_pop(r, &m, NULL, -1);
	pthread_join(t, NULL);
	REL_CHECK(rc == KM_ERR_INTERRUPTED, "%s", km_strerror(rc));
	atomic_store(&flag, false);
	pthread_create(&t, NULL, close_later, r);
	rc = km__ring_pop(r, &m, NULL, -1);
	pthread_join(t, NULL);
	REL_CHECK(rc == KM_ERR_NO_DEVICE, "%s", km_strerror(rc));
	km__ring_destroy(r);
}

int main(void)
{
	REL_RUN(drop_oldest_under_a_slow_consumer);
	REL_RUN(blocking_push_loses_nothing);
	REL_RUN(interrupt_and_close_wake_a_waiting_reader);
	return rel_failures ? 1 : 0;
}
