/*
 * knotmap viewer: saves what the renderer drew as a PNG. Main thread.
 */
#ifndef KNOTMAP_SCREENSHOT_H
#define KNOTMAP_SCREENSHOT_H

#ifdef __cplusplus
extern "C" {
#endif

struct SDL_Renderer;

/* Writes the renderer's current target as an 8-bit RGB PNG. KM_OK, KM_ERR_IO,
 * KM_ERR_NO_MEMORY, KM_ERR_INTERNAL. Main thread. */
int km_viewer_save_png(struct SDL_Renderer *renderer, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SCREENSHOT_H */
