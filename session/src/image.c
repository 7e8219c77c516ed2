/* The one PNG writer: libpng's output callback feeds km_outfile, so the PNG
 * lands with the same guarantees as every other whole-file output. */
#include <png.h>
#include <setjmp.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/image.h"
#include "knotmap/outfile.h"

#define MOD "image"

struct png_ctx {
	km_outfile *file;
	int err; /* first write error, sticky */
	const struct km_log *log;
};

struct km_image_config km_image_config_default(void)
{
	struct km_image_config c;
	memset(&c, 0, sizeof c);
	return c;
}

static void write_cb(png_structp png, png_bytep data, png_size_t len)
{
	struct png_ctx *c = png_get_io_ptr(png);
	if (c->err == KM_OK)
		c->err = km_outfile_write(c->file, data, len);
	if (c->err != KM_OK)
		png_error(png, "write failed");
}

static void flush_cb(png_structp png)
{
	(void)png; /* km_outfile_commit flushes and fsyncs once, at the end */
}

static void error_cb(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);
	km__log(c->log, KM_LOG_ERROR, MOD, "libpng: %s", msg);
	png_longjmp(png, 1);
}

static void warn_cb(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);
	km__log(c->log, KM_LOG_WARN, MOD, "libpng: %s", msg);
}

int km_image_write_png(const struct km_image_config *cfg, const uint8_t *rgb, uint32_t w,
                       uint32_t h)
{
	/* PNG allows 2^31-1; the row stride must also fit a size_t. */
	if (!cfg || !cfg->path || !rgb || w == 0 || h == 0 || w > 0x7fffffffu / 3u ||
	    h > 0x7fffffffu)
		return KM_ERR_INVALID_ARG;
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = cfg->path;
	oc.force = cfg->force;
	oc.inputs = cfg->inputs;
	oc.n_inputs = cfg->n_inputs;
	oc.log = cfg->log;
	km_outfile *file = NULL;
	int rc = km_outfile_open(&oc, &file);
	if (rc != KM_OK)
		return rc;
	struct png_ctx ctx = {file, KM_OK, &cfg->log};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, error_cb, warn_cb);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, &info);
		km_outfile_destroy(file);
		return KM_ERR_NO_MEMORY;
	}
	volatile int result = KM_OK;
	if (setjmp(png_jmpbuf(png))) {
		result = ctx.err != KM_OK ? ctx.err : KM_ERR_INTERNAL;
	} else {
		png_set_write_fn(png, &ctx, write_cb, flush_cb);
		png_set_compression_level(png, 9);
		png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
		png_text txt[2];
		memset(txt, 0, sizeof txt);
		int n = 0;
		if (cfg->title) {
			txt[n].compression = PNG_TEXT_COMPRESSION_NONE;
			txt[n].key = (png_charp) "Title";
			txt[n].text = (png_charp)cfg->title;
			n++;
		}
		txt[n].compression = PNG_TEXT_COMPRESSION_NONE;
		txt[n].key = (png_charp) "Software";
		txt[n].text = (png_charp) "knotmap";
		n++;
		png_set_text(png, info, txt, n);
		png_write_info(png, info);
		for (uint32_t y = 0; y < h; y++)
			png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3u));
		png_write_end(png, info);
	}
	png_destroy_write_struct(&png, &info);
	if (result == KM_OK)
		result = km_outfile_commit(file);
	/* km_outfile logged the cause (it names the file); an uncommitted
	 * temporary file is removed here. */
	km_outfile_destroy(file);
	return result;
}
