/* Event names and the event sink. */
#include <criterion/criterion.h>
#include <string.h>

#include "knotmap/events.h"

Test(events, every_type_and_reason_has_a_distinct_name)
{
	for (int i = 0; i < KM_EVENT_TYPE_COUNT; i++) {
		const char *a = km_event_type_name((enum km_event_type)i);
		cr_assert_str_neq(a, "UNKNOWN", "type %d has no name", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(a, km_event_type_name((enum km_event_type)j));
	}
	for (int i = 0; i < KM_REASON_COUNT; i++) {
		const char *a = km_event_reason_name((enum km_event_reason)i);
		cr_assert_str_neq(a, "UNKNOWN", "reason %d has no name", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(a, km_event_reason_name((enum km_event_reason)j));
	}
	cr_assert_str_eq(km_event_type_name(KM_EVENT_HOLD_TARGET), "HOLD_TARGET");
	cr_assert_str_eq(km_event_type_name(KM_EVENT_TYPE_COUNT), "UNKNOWN");
	cr_assert_str_eq(km_event_type_name((enum km_event_type) - 1), "UNKNOWN");
	cr_assert_str_eq(km_event_reason_name(KM_REASON_COUNT), "UNKNOWN");
}

Test(events, values_are_stable)
{
	/* Consumers (viewer, session logs) store these numbers: never renumber. */
	cr_assert_eq(KM_EVENT_KNOT_FOUND, 1);
	cr_assert_eq(KM_EVENT_HOLD_STOPPED, 9);
	cr_assert_eq(KM_EVENT_STIFFENED, 13);
	cr_assert_eq(KM_EVENT_SEEK_ADVICE, 19);
	cr_assert_eq(KM_REASON_HARD_STOP, 1);
	cr_assert_eq(KM_REASON_SYMPTOMS, 16);
}

struct calls {
	int n;
	enum km_event_type last;
};

static void cb(void *user, const struct km_event *ev)
{
	struct calls *c = user;
	c->n++;
	c->last = ev->type;
}

Test(events, sink_array_callback_and_drops)
{
	struct km_event buf[2];
	struct calls c = {0};
	struct km_event_sink s = {.buf = buf, .capacity = 2, .fn = cb, .user = &c};
	struct km_event ev;
	memset(&ev, 0, sizeof(ev));
	for (int i = 0; i < 3; i++) {
		ev.type = (enum km_event_type)(KM_EVENT_HOLD_ENGAGED + i);
		km_event_sink_emit(&s, &ev);
	}
	cr_assert_eq(s.count, 2);
	cr_assert_eq(s.dropped, 1);
	cr_assert_eq(buf[1].type, KM_EVENT_HOLD_STARTED);
	cr_assert_eq(c.n, 3, "the callback sees every event, stored or not");
	cr_assert_eq(c.last, KM_EVENT_HOLD_PAUSED);
	km_event_sink_clear(&s);
	cr_assert_eq(s.count, 0);
	cr_assert_eq(s.dropped, 1);
	/* Callback only: nothing dropped. No sink at all: counted as dropped. */
	struct km_event_sink only = {.fn = cb, .user = &c};
	km_event_sink_emit(&only, &ev);
	cr_assert_eq(only.dropped, 0);
	struct km_event_sink none = {0};
	km_event_sink_emit(&none, &ev);
	cr_assert_eq(none.dropped, 1);
	km_event_sink_emit(NULL, &ev);
	km_event_sink_emit(&s, NULL);
	km_event_sink_clear(NULL);
}
