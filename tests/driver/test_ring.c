/* The frame ring: order, drop-oldest accounting, timeouts, close codes. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "km_internal.h"
#include "ring.h"

static void fill(uint16_t *raw, size_t n, uint16_t v)
{
	for (size_t i = 0; i < n; i++)
		raw[i] = (uint16_t)(v + i);
}

static struct km__frame_meta meta(uint32_t seq)
{
	struct km__frame_meta m = {.sequence = seq, .device_time_us = seq * 10u};
	return m;
}

Test(ring, rejects_bad_config)
{
	struct km__ring *r = (void *)1;
	cr_expect_eq(km__ring_create(1, 4, &r), KM_ERR_RANGE);
	cr_expect_null(r);
	cr_expect_eq(km__ring_create(4097, 4, &r), KM_ERR_RANGE);
	cr_expect_eq(km__ring_create(4, 0, &r), KM_ERR_RANGE);
}

Test(ring, fifo_order_and_content)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(4, 6, &r), KM_OK);
	uint16_t in[6], out[6];
	for (uint32_t s = 0; s < 3; s++) {
		struct km__frame_meta m = meta(s);
		fill(in, 6, (uint16_t)(100 * s));
		cr_assert(km__ring_push(r, &m, in, false));
	}
	cr_expect_eq(km__ring_count(r), 3);
	for (uint32_t s = 0; s < 3; s++) {
		struct km__frame_meta m;
		cr_assert_eq(km__ring_pop(r, &m, out, 0), KM_OK);
		fill(in, 6, (uint16_t)(100 * s));
		cr_expect_eq(m.sequence, s);
		cr_expect_eq(m.dropped_before, 0);
		cr_expect_arr_eq(out, in, sizeof in);
	}
	cr_expect_eq(km__ring_pop(r, NULL, out, 0), KM_ERR_TIMEOUT);
	km__ring_destroy(r);
}

Test(ring, full_ring_drops_oldest_and_reports_it)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(3, 2, &r), KM_OK);
	uint16_t raw[2] = {1, 2};
	for (uint32_t s = 0; s < 7; s++) {
		struct km__frame_meta m = meta(s);
		km__ring_push(r, &m, raw, false);
	}
	/* 7 pushed into 3 slots: 4 dropped, the oldest survivor carries them. */
	cr_expect_eq(km__ring_drops(r), 4);
	struct km__frame_meta m;
	cr_assert_eq(km__ring_pop(r, &m, NULL, 0), KM_OK);
	cr_expect_eq(m.sequence, 4);
	cr_expect_eq(m.dropped_before, 4);
	cr_expect(m.flags & KM_FRAME_LOST_BEFORE);
	cr_assert_eq(km__ring_pop(r, &m, NULL, 0), KM_OK);
	cr_expect_eq(m.sequence, 5);
	cr_expect_eq(m.dropped_before, 0);
	km__ring_destroy(r);
}

Test(ring, drops_add_to_sequence_losses)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(2, 1, &r), KM_OK);
	uint16_t raw[1] = {0};
	struct km__frame_meta m = meta(0);
	km__ring_push(r, &m, raw, false);
	m = meta(1);
	km__ring_push(r, &m, raw, false);
	m = meta(5);
	m.dropped_before = 3; /* sequence gap seen by the reassembler */
	km__ring_push(r, &m, raw, false);
	m = meta(6);
	km__ring_push(r, &m, raw, false);
	/* Frames 0 and 1 dropped; 5 dropped (with its own 3 lost): 6 reports 0+... */
	struct km__frame_meta o;
	cr_assert_eq(km__ring_pop(r, &o, NULL, 0), KM_OK);
	cr_expect_eq(o.sequence, 5);
	cr_expect_eq(o.dropped_before, 3 + 2);
	cr_assert_eq(km__ring_pop(r, &o, NULL, 0), KM_OK);
	cr_expect_eq(o.sequence, 6);
	cr_expect_eq(o.dropped_before, 0);
	km__ring_destroy(r);
}

Test(ring, close_code_after_drain_and_reset)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(4, 1, &r), KM_OK);
	uint16_t raw[1] = {7};
	struct km__frame_meta m = meta(9);
	km__ring_push(r, &m, raw, false);
	km__ring_close(r, KM_ERR_END);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, 100), KM_OK);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, 100), KM_ERR_END);
	km__ring_set_idle_code(r, KM_ERR_NO_DEVICE);
	km__ring_reset(r);
	cr_expect_eq(km__ring_count(r), 0);
	cr_expect_eq(km__ring_drops(r), 0);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, 0), KM_ERR_TIMEOUT);
	km__ring_set_idle_code(r, KM_ERR_NO_DEVICE);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, 0), KM_ERR_NO_DEVICE);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, 30), KM_ERR_NO_DEVICE);
	km__ring_destroy(r);
}

Test(ring, interrupt_flag_wakes_a_waiting_reader)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(4, 1, &r), KM_OK);
	atomic_bool flag;
	atomic_init(&flag, true);
	km__ring_set_interrupt(r, &flag);
	cr_expect_eq(km__ring_pop(r, NULL, NULL, -1), KM_ERR_INTERRUPTED);
	km__ring_destroy(r);
}

struct prod {
	struct km__ring *r;
	int n;
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	uint16_t raw[3];
	for (int i = 0; i < p->n; i++) {
		struct km__frame_meta m = meta((uint32_t)i);
		fill(raw, 3, (uint16_t)i);
		km__ring_push(p->r, &m, raw, true);
	}
	return NULL;
}

Test(ring, lossless_push_waits_for_the_reader)
{
	struct km__ring *r;
	cr_assert_eq(km__ring_create(2, 3, &r), KM_OK);
	struct prod p = {r, 500};
	pthread_t t;
	pthread_create(&t, NULL, producer, &p);
	uint16_t raw[3];
	for (int i = 0; i < p.n; i++) {
		struct km__frame_meta m;
		cr_assert_eq(km__ring_pop(r, &m, raw, 5000), KM_OK);
		cr_assert_eq(m.sequence, (uint32_t)i);
		cr_assert_eq(raw[2], (uint16_t)(i + 2));
	}
	pthread_join(t, NULL);
	cr_expect_eq(km__ring_drops(r), 0);
	km__ring_destroy(r);
}
