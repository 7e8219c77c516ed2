/* Event names and the event sink (see knotmap/events.h). */
#include "knotmap/events.h"

#include "km_internal.h"

static const char *const type_names[KM_EVENT_TYPE_COUNT] = {
    [KM_EVENT_NONE] = "NONE",
    [KM_EVENT_KNOT_FOUND] = "KNOT_FOUND",
    [KM_EVENT_KNOT_LOST] = "KNOT_LOST",
    [KM_EVENT_HOLD_ENGAGED] = "HOLD_ENGAGED",
    [KM_EVENT_HOLD_STARTED] = "HOLD_STARTED",
    [KM_EVENT_HOLD_PAUSED] = "HOLD_PAUSED",
    [KM_EVENT_HOLD_RESUMED] = "HOLD_RESUMED",
    [KM_EVENT_HOLD_TARGET] = "HOLD_TARGET",
    [KM_EVENT_HOLD_RELEASE] = "HOLD_RELEASE",
    [KM_EVENT_HOLD_STOPPED] = "HOLD_STOPPED",
    [KM_EVENT_TENSING_UP] = "TENSING_UP",
    [KM_EVENT_EASED] = "EASED",
    [KM_EVENT_RELEASED] = "RELEASED",
    [KM_EVENT_STIFFENED] = "STIFFENED",
    [KM_EVENT_SPINE_BLOCKED] = "SPINE_BLOCKED",
    [KM_EVENT_COOLDOWN] = "COOLDOWN",
    [KM_EVENT_HOLD_LIMIT] = "HOLD_LIMIT",
    [KM_EVENT_EASE_OFF] = "EASE_OFF",
    [KM_EVENT_STIFFNESS] = "STIFFNESS",
    [KM_EVENT_SEEK_ADVICE] = "SEEK_ADVICE",
};

static const char *const reason_names[KM_REASON_COUNT] = {
    [KM_REASON_NONE] = "NONE",
    [KM_REASON_HARD_STOP] = "HARD_STOP",
    [KM_REASON_UNLOADED] = "UNLOADED",
    [KM_REASON_DRIFT] = "DRIFT",
    [KM_REASON_OVERLOAD] = "OVERLOAD",
    [KM_REASON_SPINE] = "SPINE",
    [KM_REASON_USER] = "USER",
    [KM_REASON_RESET] = "RESET",
    [KM_REASON_TREMOR] = "TREMOR",
    [KM_REASON_VARIATION] = "VARIATION",
    [KM_REASON_WITHDRAWAL] = "WITHDRAWAL",
    [KM_REASON_BREATH_COLLAPSE] = "BREATH_COLLAPSE",
    [KM_REASON_COOLDOWN] = "COOLDOWN",
    [KM_REASON_LIMIT] = "LIMIT",
    [KM_REASON_TENSING] = "TENSING",
    [KM_REASON_LOST] = "LOST",
    [KM_REASON_SYMPTOMS] = "SYMPTOMS",
};

const char *km_event_type_name(enum km_event_type type)
{
	unsigned v = (unsigned)type;
	if (v >= KM_ARRAY_SIZE(type_names) || !type_names[v])
		return "UNKNOWN";
	return type_names[v];
}

const char *km_event_reason_name(enum km_event_reason reason)
{
	unsigned v = (unsigned)reason;
	if (v >= KM_ARRAY_SIZE(reason_names) || !reason_names[v])
		return "UNKNOWN";
	return reason_names[v];
}

void km_event_sink_emit(struct km_event_sink *sink, const struct km_event *ev)
{
	if (!sink || !ev)
		return;
	if (sink->buf && sink->count < sink->capacity)
		sink->buf[sink->count++] = *ev;
	else if (sink->buf || !sink->fn)
		sink->dropped++;
	if (sink->fn)
		sink->fn(sink->user, ev);
}

void km_event_sink_clear(struct km_event_sink *sink)
{
	if (sink)
		sink->count = 0;
}
