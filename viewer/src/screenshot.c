/* Screenshots: read the render target back and hand the pixels to the one PNG
 * writer (knotmap/image.h); smaller than SDL_SaveBMP's output, and what
 * people can open. */
#include <SDL.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "km_internal.h"
#include "knotmap/history.h"
#include "knotmap/screenshot.h"

int km_viewer_save_png(SDL_Renderer *renderer, const struct km_image_config *cfg)
{
	if (!renderer || !cfg || !cfg->path)
		return KM_ERR_INVALID_ARG;
	int w = 0, h = 0;
	if (SDL_GetRendererOutputSize(renderer, &w, &h) != 0 || w <= 0 || h <= 0)
		return KM_ERR_INTERNAL;
	size_t n;
	if (!km__mul_size((size_t)w * 3u, (size_t)h, &n))
		return KM_ERR_NO_MEMORY;
	uint8_t *rgb = km__malloc(n);
	if (!rgb)
		return KM_ERR_NO_MEMORY;
	int err = KM_OK;
	/* RGB24 is byte order R, G, B on every platform. */
	if (SDL_RenderReadPixels(renderer, NULL, SDL_PIXELFORMAT_RGB24, rgb, w * 3) != 0)
		err = KM_ERR_INTERNAL;
	else
		err = km_image_write_png(cfg, rgb, (uint32_t)w, (uint32_t)h);
	km__free(rgb);
	return err;
}

int km_viewer_save_png_unique(SDL_Renderer *renderer, const char *dir, const struct km_log *log,
                              char *path_out, size_t cap)
{
	if (!renderer || !path_out || cap == 0)
		return KM_ERR_INVALID_ARG;
	path_out[0] = '\0';
	char def[4096];
	if (!dir) {
		int rc = km_history_data_path("screenshots", def, sizeof def);
		if (rc != KM_OK)
			return rc;
		dir = def;
	}
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32] = "screenshot";
	if (localtime_r(&now, &tm))
		strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	/* Screenshots show health data: the folder is the owner's only. */
	int n = snprintf(path_out, cap, "%s/%s.png", dir, stamp);
	if (n < 0 || (size_t)n >= cap)
		return KM_ERR_OVERFLOW;
	int rc = km__make_parent_dirs(path_out);
	if (rc != KM_OK)
		return rc;
	struct km_image_config ic = km_image_config_default();
	if (log)
		ic.log = *log;
	ic.title = "knotmap screenshot";
	/* Pick the first free name; a name taken between the check and the
	 * write (another viewer) is caught by km_outfile and the next is tried. */
	for (unsigned i = 0; i < 1000; i++) {
		n = i == 0 ? snprintf(path_out, cap, "%s/knotmap-%s.png", dir, stamp)
		           : snprintf(path_out, cap, "%s/knotmap-%s-%u.png", dir, stamp, i);
		if (n < 0 || (size_t)n >= cap)
			return KM_ERR_OVERFLOW;
		struct stat st;
		if (lstat(path_out, &st) == 0 || errno != ENOENT)
			continue;
		ic.path = path_out;
		rc = km_viewer_save_png(renderer, &ic);
		if (rc != KM_ERR_EXISTS)
			return rc;
	}
	return KM_ERR_EXISTS;
}
