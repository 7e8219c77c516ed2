/* The view model: fixed-size snapshots reused frame after frame. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/snapshot.h"

int km_view_snapshot_init(struct km_view_snapshot *s, uint16_t rows, uint16_t cols, float pitch_mm,
                          enum km_geometry geometry)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	memset(s, 0, sizeof *s);
	int err = km_frame_create(rows, cols, pitch_mm, geometry, &s->frame);
	if (err != KM_OK)
		return err;
	s->outline = km__calloc((size_t)rows * cols, 1);
	if (!s->outline) {
		km_frame_destroy(s->frame);
		s->frame = NULL;
		return KM_ERR_NO_MEMORY;
	}
	s->hold.target_s = 30.0f;
	s->hold.release_s = 60.0f;
	return KM_OK;
}

void km_view_snapshot_free(struct km_view_snapshot *s)
{
	if (!s)
		return;
	km_frame_destroy(s->frame);
	km__free(s->outline);
	memset(s, 0, sizeof *s);
}

int km_view_snapshot_copy(struct km_view_snapshot *dst, const struct km_view_snapshot *src)
{
	if (!dst || !src || !dst->frame || !src->frame || !dst->outline || !src->outline)
		return KM_ERR_INVALID_ARG;
	int err = km_frame_copy(dst->frame, src->frame);
	if (err != KM_OK)
		return err;
	struct km_frame *frame = dst->frame;
	uint8_t *outline = dst->outline;
	memcpy(outline, src->outline, km_frame_cells(src->frame));
	*dst = *src;
	dst->frame = frame;
	dst->outline = outline;
	return KM_OK;
}

static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...) KM_PRINTF(4, 5);
static void appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	if (*len >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = KM_MIN(size - 1, *len + (size_t)n);
}

int km_view_format_stats(const struct km_view_stats *st, char *buf, size_t size)
{
	if (!buf || size == 0)
		return 0;
	buf[0] = '\0';
	if (!st)
		return 0;
	size_t len = 0;
	unsigned secs = st->session_s > 0 ? (unsigned)st->session_s : 0u;
	appendf(buf, size, &len, "%s\n", st->device[0] ? st->device : "no device");
	appendf(buf, size, &len, "rate %.0f Hz   latency %.1f ms\n", (double)st->rate_hz,
	        (double)st->latency_ms);
	appendf(buf, size, &len, "frames %" PRIu64 " ok  %" PRIu64 " lost  %" PRIu64 " CRC\n",
	        st->frames_ok, st->frames_lost, st->crc_errors);
	if (st->raw_units) /* counts x area is no force */
		appendf(buf, size, &len, "session %u:%02u   load - (counts)\n", secs / 60u,
		        secs % 60u);
	else
		appendf(buf, size, &len, "session %u:%02u   load %.0f N\n", secs / 60u,
		        secs % 60u, (double)st->total_load_n);
	int lines = 4;
	if (st->replay) {
		appendf(buf, size, &len, "replay %s %.2gx at %.1f s\n",
		        st->replay_paused ? "paused" : "playing", (double)st->replay_speed,
		        st->replay_pos_s);
		lines++;
	}
	return lines;
}

size_t km_view_format_hold_item(const struct km_view_hold_item *h, char *buf, size_t size)
{
	if (!h) {
		if (buf && size)
			buf[0] = '\0';
		return 0;
	}
	float s = isfinite(h->held_s) && h->held_s > 0.0f ? h->held_s : 0.0f;
	int n = h->running ? snprintf(buf, size, "%d s now", (int)s)
	                   : snprintf(buf, size, "%.0f s", (double)s);
	return n > 0 ? (size_t)n : 0;
}
