/* Screenshots: read the render target back and write an 8-bit RGB PNG with
 * libpng (smaller than SDL_SaveBMP's output, and what people can open). */
#include <SDL.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>

#include "km_internal.h"
#include "knotmap/screenshot.h"

static int write_png(const char *path, const uint8_t *rgb, int w, int h)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return km__error_from_errno(errno);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, NULL);
		fclose(fp);
		return KM_ERR_NO_MEMORY;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		fclose(fp);
		return KM_ERR_IO;
	}
	png_init_io(png, fp);
	png_set_compression_level(png, 9);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	if (fclose(fp) != 0)
		return KM_ERR_IO;
	return KM_OK;
}

int km_viewer_save_png(SDL_Renderer *renderer, const char *path)
{
	if (!renderer || !path)
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
		err = write_png(path, rgb, w, h);
	km__free(rgb);
	return err;
}
