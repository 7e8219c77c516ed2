/* Events in plain words for the HUD ("candidate spot", never "trigger point"). */
#include <stdio.h>

#include "glue.h"

int km__event_text(const struct km_event *ev, const char *name, char *buf, size_t size,
                   enum km_view_level *level)
{
	if (!ev || !buf || size == 0)
		return 0;
	enum km_view_level lv = KM_VIEW_INFO;
	/* The spot as its marker says ("left upper back", "spot A"). */
	const char *id = name && *name ? name : "a spot";
	int n = 0;
	switch (ev->type) {
	case KM_EVENT_KNOT_FOUND:
		n = ev->reason == KM_REASON_AGAIN
		        ? snprintf(buf, size, "%s seen again", id)
		        : snprintf(buf, size, "Candidate tender spot found: %s", id);
		break;
	case KM_EVENT_KNOT_LOST:
		n = snprintf(buf, size, "%s no longer seen", id);
		break;
	case KM_EVENT_HOLD_ENGAGED:
		n = snprintf(buf, size, "%s: keep still, settling", id);
		break;
	case KM_EVENT_HOLD_STARTED:
		n = snprintf(buf, size, "Hold started on %s", id);
		lv = KM_VIEW_GOOD;
		break;
	case KM_EVENT_HOLD_PAUSED:
		/* Named: a roller may hold several spots at once. */
		n = snprintf(buf, size, "Hold on %s paused (%s)", id,
		             ev->reason == KM_REASON_DRIFT      ? "moved off the spot"
		             : ev->reason == KM_REASON_OVERLOAD ? "too much pressure"
		             : ev->reason == KM_REASON_UNLOADED ? "lifted off"
		                                                : "out of the band");
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_HOLD_RESUMED:
		n = snprintf(buf, size, "Hold on %s resumed at %.0f s", id, (double)ev->held_s);
		lv = KM_VIEW_GOOD;
		break;
	case KM_EVENT_HOLD_TARGET:
		n = snprintf(buf, size, "Target reached: %.0f s on %s", (double)ev->held_s, id);
		lv = KM_VIEW_GOOD;
		break;
	case KM_EVENT_HOLD_RELEASE:
		n = snprintf(buf, size, "%.0f s: time to release %s", (double)ev->held_s, id);
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_HOLD_STOPPED:
		if (!(ev->held_s >= 1.0f))
			return 0; /* engaged but never timed: not news */
		n = snprintf(buf, size, "Hold on %s ended after %.0f s", id, (double)ev->held_s);
		break;
	case KM_EVENT_TENSING_UP:
		n = snprintf(buf, size, "Tensing up on %s: ease off", id);
		lv = KM_VIEW_ALERT;
		break;
	case KM_EVENT_EASED:
		n = snprintf(buf, size, "Relaxed again on %s", id);
		lv = KM_VIEW_GOOD;
		break;
	case KM_EVENT_RELEASED:
		n = snprintf(buf, size, "%s softened (%+.0f%% stiffness)", id,
		             (double)ev->stiffness_pct);
		lv = KM_VIEW_GOOD;
		break;
	case KM_EVENT_STIFFENED:
		n = snprintf(buf, size, "%s stiffened (%+.0f%%): ease off", id,
		             (double)ev->stiffness_pct);
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_SPINE_BLOCKED:
		n = snprintf(buf, size, "On the spine: not timed");
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_COOLDOWN:
		n = snprintf(buf, size, "%s needs a 30 s rest first", id);
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_HOLD_LIMIT:
		n = snprintf(buf, size, "Enough holds on %s for now", id);
		lv = KM_VIEW_WARN;
		break;
	case KM_EVENT_EASE_OFF:
		n = snprintf(buf, size, "Ease off: too much pressure on %s", id);
		lv = KM_VIEW_ALERT;
		break;
	case KM_EVENT_SEEK_ADVICE:
		n = snprintf(buf, size, "%s: see a healthcare professional",
		             ev->reason == KM_REASON_SYMPTOMS ? "Symptoms logged"
		                                              : "Knot persists over a week");
		lv = KM_VIEW_ALERT;
		break;
	default:
		return 0; /* periodic stiffness updates and unknown types: not a line */
	}
	if (level)
		*level = lv;
	return n > 0;
}
