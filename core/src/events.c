/* Event names, the event sink and the one mapping to and from the recording
 * event record (see knotmap/events.h). */
#include "knotmap/events.h"

#include <string.h>

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
    [KM_REASON_AGAIN] = "AGAIN",
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

/* Positions in the record, as docs/kmrec-format.md lists them. */
enum { INT_KNOT, INT_FRAME_SEQ, INT_HOLD_INDEX, N_INTS };
enum { VAL_LOAD_KPA, VAL_LOAD_N, VAL_HELD_S, VAL_DOSE, VAL_STIFFNESS, VAL_VALUE, N_VALUES };

void km_event_to_record(const struct km_event *ev, struct km_rec_event *out)
{
	if (!ev || !out)
		return;
	memset(out, 0, sizeof *out);
	out->type = (uint16_t)ev->type;
	out->subtype = (uint16_t)ev->reason;
	out->track_id = ev->track_id;
	out->time_us = ev->time_us;
	out->x_mm = ev->x_mm;
	out->y_mm = ev->y_mm;
	out->n_ints = N_INTS;
	out->ints[INT_KNOT] = ev->knot_id;
	out->ints[INT_FRAME_SEQ] = ev->frame_seq;
	out->ints[INT_HOLD_INDEX] = ev->hold_index;
	out->n_values = N_VALUES;
	out->values[VAL_LOAD_KPA] = ev->load_kpa;
	out->values[VAL_LOAD_N] = ev->load_n;
	out->values[VAL_HELD_S] = ev->held_s;
	out->values[VAL_DOSE] = ev->dose_kpa_s;
	out->values[VAL_STIFFNESS] = ev->stiffness_pct;
	out->values[VAL_VALUE] = ev->value;
}

void km_event_from_record(const struct km_rec_event *in, struct km_event *out)
{
	if (!in || !out)
		return;
	memset(out, 0, sizeof *out);
	out->type = (enum km_event_type)in->type;
	out->reason = (enum km_event_reason)in->subtype;
	out->track_id = in->track_id;
	out->time_us = in->time_us;
	out->x_mm = in->x_mm;
	out->y_mm = in->y_mm;
	uint32_t ints[N_INTS] = {0};
	float v[N_VALUES] = {0};
	for (unsigned i = 0; i < in->n_ints && i < N_INTS; i++)
		ints[i] = in->ints[i];
	for (unsigned i = 0; i < in->n_values && i < N_VALUES; i++)
		v[i] = in->values[i];
	out->knot_id = ints[INT_KNOT];
	out->frame_seq = ints[INT_FRAME_SEQ];
	out->hold_index = ints[INT_HOLD_INDEX];
	out->load_kpa = v[VAL_LOAD_KPA];
	out->load_n = v[VAL_LOAD_N];
	out->held_s = v[VAL_HELD_S];
	out->dose_kpa_s = v[VAL_DOSE];
	out->stiffness_pct = v[VAL_STIFFNESS];
	out->value = v[VAL_VALUE];
}
