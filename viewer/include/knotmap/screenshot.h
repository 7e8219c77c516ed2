/*
 * knotmap viewer: saves what the renderer drew as a PNG, through the one PNG
 * writer (knotmap/image.h), so a screenshot follows every rule of a whole-file
 * output: 0600, never through a link, never over an input, never over an
 * existing file unless forced. Main thread.
 */
#ifndef KNOTMAP_SCREENSHOT_H
#define KNOTMAP_SCREENSHOT_H

#include <stddef.h>

#include "knotmap/image.h"

#ifdef __cplusplus
extern "C" {
#endif

struct SDL_Renderer;

/* Writes the renderer's current target to cfg->path (with cfg's force,
 * inputs and log). KM_OK, the errors of km_image_write_png (KM_ERR_EXISTS,
 * KM_ERR_PERMISSION for a link, KM_ERR_INVALID_ARG for an input...),
 * KM_ERR_NO_MEMORY, KM_ERR_INTERNAL (the renderer could not be read). */
int km_viewer_save_png(struct SDL_Renderer *renderer, const struct km_image_config *cfg);

/*
 * The S key: saves into dir (created 0700 with its parents when missing;
 * NULL = $XDG_DATA_HOME/knotmap/screenshots, see km_history_data_path) as
 * knotmap-YYYYMMDD-HHMMSS.png, or -1, -2... before ".png" when that name is
 * taken: an earlier screenshot is never overwritten. The path written goes to
 * path_out[cap] (also on error, the name tried last; "" when none). KM_OK,
 * KM_ERR_NOT_FOUND (no HOME for the default folder), KM_ERR_OVERFLOW (path
 * longer than cap), the errors of km_viewer_save_png.
 */
int km_viewer_save_png_unique(struct SDL_Renderer *renderer, const char *dir,
                              const struct km_log *log, char *path_out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SCREENSHOT_H */
