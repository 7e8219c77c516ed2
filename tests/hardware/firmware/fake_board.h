/* A fake board for the firmware tests: a grid of true cell values, samples
 * with a known per-conversion offset pattern, a manual clock, a call log and
 * a packet sink that can report busy. */
#ifndef FAKE_BOARD_H
#define FAKE_BOARD_H

#include <stdlib.h>
#include <string.h>

#include "km_fw.h"

#define FB_LOG_MAX 100000
#define FB_SINK_MAX (1 << 21)

enum fb_event { FB_SELECT, FB_READ, FB_DELAY };

struct fb_call {
	enum fb_event ev;
	uint16_t a, b; /* select: row; read: first, n; delay: us */
};

struct fake_board {
	uint16_t rows, cols;
	uint16_t truth[KM_FW_MAX_CELLS];
	int offsets[8]; /* added to conversion k (mod 8) of each cell */
	uint16_t row;   /* selected */
	uint32_t conversion[KM_FW_MAX_CELLS];
	uint64_t now_us;
	uint64_t delayed_us;
	struct fb_call log[FB_LOG_MAX];
	size_t nlog;
	int busy;      /* bulk_write returns BUSY this many times */
	int fail_read; /* read_columns fails when > 0 */
	uint8_t sink[FB_SINK_MAX];
	size_t sink_len;
	size_t packets;
	size_t writes;
};

static void fb_log(struct fake_board *fb, enum fb_event ev, uint16_t a, uint16_t b)
{
	if (fb->nlog < FB_LOG_MAX)
		fb->log[fb->nlog++] = (struct fb_call){ev, a, b};
}

static void fb_select_row(void *u, uint16_t row)
{
	struct fake_board *fb = u;
	fb->row = row;
	fb_log(fb, FB_SELECT, row, 0);
}

static int fb_read_columns(void *u, uint16_t first, uint16_t n, uint16_t *out)
{
	struct fake_board *fb = u;
	fb_log(fb, FB_READ, first, n);
	if (fb->fail_read > 0)
		return KM_ERR_IO;
	if (fb->row >= fb->rows || first + n > fb->cols)
		return KM_ERR_INTERNAL; /* the core asked for a cell that does not exist */
	for (uint16_t i = 0; i < n; i++) {
		size_t idx = (size_t)fb->row * fb->cols + first + i;
		int v = fb->truth[idx] + fb->offsets[fb->conversion[idx]++ % 8];
		out[i] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
	}
	return KM_OK;
}

static void fb_delay_us(void *u, uint32_t us)
{
	struct fake_board *fb = u;
	fb->delayed_us += us;
	fb_log(fb, FB_DELAY, (uint16_t)us, 0);
}

static uint64_t fb_time_us(void *u)
{
	return ((struct fake_board *)u)->now_us;
}

static int fb_bulk_write(void *u, const uint8_t *data, size_t len)
{
	struct fake_board *fb = u;
	fb->writes++;
	if (fb->busy > 0) {
		fb->busy--;
		return KM_ERR_BUSY;
	}
	if (fb->sink_len + len > FB_SINK_MAX)
		return KM_ERR_NO_SPACE;
	memcpy(fb->sink + fb->sink_len, data, len);
	fb->sink_len += len;
	fb->packets++;
	return KM_OK;
}

static inline struct km_fw_board fb_board(struct fake_board *fb)
{
	struct km_fw_board b = {fb,          fb_select_row, fb_read_columns,
	                        fb_delay_us, fb_time_us,    fb_bulk_write};
	return b;
}

#endif
