/* Shared helpers for the headless viewer tests. */
#ifndef KM_VIEWER_TEST_H
#define KM_VIEWER_TEST_H

#include <SDL.h>
#include <SDL_ttf.h>
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "knotmap/colormap.h"
#include "knotmap/render.h"
#include "knotmap/screenshot.h"
#include "knotmap/snapshot.h"
#include "knotmap/stream.h"
#include "knotmap/tribuf.h"
#include "knotmap/viewer.h"

/* A virtual-mat stream of the scenario (seed 1, as fast as it computes,
 * frames: 0 = the scenario's length), started; its frame and device info. */
static inline void vt_sim_start(const char *scenario, uint32_t frames, km_stream **st,
                                struct km_frame **f, struct km_device_info *info)
{
	struct km_stream_config sc = km_stream_config_default();
	sc.transport = KM_TRANSPORT_SIM;
	sc.sim_scenario = scenario;
	sc.sim_seed = 1;
	sc.sim_realtime = false;
	if (frames)
		sc.sim_frames = frames;
	*st = NULL;
	*f = NULL;
	cr_assert_eq(km_stream_create(&sc, st), KM_OK, "scenario %s", scenario);
	cr_assert_eq(km_stream_frame_create(*st, f), KM_OK);
	cr_assert_eq(km_stream_device_info(*st, info), KM_OK);
	cr_assert_eq(km_stream_start(*st), KM_OK);
}

/* The next frame of st into f and *t, its seconds since the stream's first
 * frame (*t0: that frame's time; UINT64_MAX before it). false at the
 * stream's end or once past `seconds`. */
static inline bool vt_next_frame(km_stream *st, struct km_frame *f, uint64_t *t0, double seconds,
                                 double *t)
{
	if (km_stream_read(st, f, 5000) != KM_OK)
		return false;
	if (*t0 == UINT64_MAX)
		*t0 = f->device_time_us;
	*t = (double)(f->device_time_us - *t0) / 1e6;
	return *t <= seconds;
}

struct vt {
	SDL_Surface *surf;
	SDL_Renderer *ren;
};

/* A 1024 x 640 RGBA8888 surface with a software renderer on it. */
static inline struct vt vt_open(int w, int h)
{
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	cr_assert_eq(SDL_Init(SDL_INIT_VIDEO), 0, "SDL_Init: %s", SDL_GetError());
	cr_assert_eq(TTF_Init(), 0, "TTF_Init: %s", TTF_GetError());
	struct vt v;
	v.surf = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_RGBA8888);
	cr_assert_not_null(v.surf);
	v.ren = SDL_CreateSoftwareRenderer(v.surf);
	cr_assert_not_null(v.ren, "software renderer: %s", SDL_GetError());
	return v;
}

static inline void vt_close(struct vt *v)
{
	SDL_DestroyRenderer(v->ren);
	SDL_FreeSurface(v->surf);
	TTF_Quit();
	SDL_Quit();
}

/* 0x00RRGGBB at (x, y). */
static inline uint32_t vt_pixel(const struct vt *v, int x, int y)
{
	const uint8_t *row = (const uint8_t *)v->surf->pixels + (size_t)y * (size_t)v->surf->pitch;
	uint32_t p = ((const uint32_t *)row)[x];
	uint8_t r, g, b;
	SDL_GetRGB(p, v->surf->format, &r, &g, &b);
	return ((uint32_t)r << 16) | ((uint32_t)g << 8) | b;
}

static inline int vt_channel_diff(uint32_t a, uint32_t b)
{
	int d = 0;
	for (int s = 0; s < 24; s += 8) {
		int x = (int)((a >> s) & 0xff) - (int)((b >> s) & 0xff);
		if (abs(x) > d)
			d = abs(x);
	}
	return d;
}

#endif
