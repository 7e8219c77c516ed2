/* The history screen's data (knotmap/history_screen.h): the body chart drawn
 * by the session part (chart.c through knotmap/history.h), the counts and
 * the advice lines. Main thread, once per opening. */
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/history.h"
#include "knotmap/history_screen.h"

static uint64_t next_serial;

static int count_session(void *user, const struct km_history_session *s)
{
	(void)s;
	(*(uint32_t *)user)++;
	return 0;
}

static int take_knot(void *user, const struct km_history_knot *k)
{
	struct km_history_screen *s = user;
	if (!k->body.region[0]) {
		s->unplaced++;
		return 0;
	}
	s->spots++;
	if (k->persistent)
		s->persistent++;
	if (s->n_advice < KM_HISTORY_SCREEN_MAX_ADVICE)
		km_history_knot_advice(k, s->advice[s->n_advice++], KM_HISTORY_SCREEN_LINE);
	return 0;
}

int km_history_screen_load(const char *path, uint32_t width, uint32_t height,
                           const struct km_log *log, struct km_history_screen *out)
{
	if (!out || width < KM_HISTORY_CHART_MIN_W || height < KM_HISTORY_CHART_MIN_H)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	out->serial = ++next_serial;
	if (path)
		snprintf(out->path, sizeof out->path, "%s", path);
	else if (km_history_default_path(out->path, sizeof out->path) != KM_OK)
		out->path[0] = '\0';
	if (!out->path[0]) {
		out->status = KM_ERR_NOT_FOUND;
		snprintf(out->headline, sizeof out->headline, "No history yet");
		return KM_OK;
	}
	struct km_history_config hc = km_history_config_default();
	hc.path = out->path;
	hc.read_only = true; /* looking never creates or migrates the file */
	if (log)
		hc.log = *log;
	km_history *h = NULL;
	int rc = km_history_create(&hc, &h);
	if (rc == KM_OK)
		rc = km_history_list_sessions(h, count_session, &out->sessions);
	if (rc == KM_OK && out->sessions == 0)
		rc = KM_ERR_NOT_FOUND;
	if (rc == KM_OK)
		rc = km_history_list_knots(h, 0, take_knot, out);
	if (rc == KM_OK) {
		size_t bytes = (size_t)width * height * 3;
		out->rgb = km__malloc(bytes);
		if (!out->rgb) {
			km_history_destroy(h);
			return KM_ERR_NO_MEMORY;
		}
		out->width = width;
		out->height = height;
		rc = km_history_draw_chart(h, out->rgb, width, height, false, log);
		if (rc != KM_OK) {
			km__free(out->rgb);
			out->rgb = NULL;
			out->width = out->height = 0;
		}
	}
	km_history_destroy(h);
	out->status = rc;
	if (rc == KM_ERR_NOT_FOUND)
		snprintf(out->headline, sizeof out->headline, "No history yet");
	else if (rc != KM_OK)
		snprintf(out->headline, sizeof out->headline, "The history could not be read: %s",
		         km_strerror(rc));
	else
		snprintf(out->headline, sizeof out->headline,
		         "%u session%s, %u spot%s on the body; %u seen over more than a week",
		         (unsigned)out->sessions, out->sessions == 1 ? "" : "s",
		         (unsigned)out->spots, out->spots == 1 ? "" : "s",
		         (unsigned)out->persistent);
	return KM_OK;
}

void km_history_screen_free(struct km_history_screen *s)
{
	if (!s)
		return;
	km__free(s->rgb);
	memset(s, 0, sizeof *s);
}
