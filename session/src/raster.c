/* The RGB rasteriser of the report and the body chart (raster.h). Text goes
 * through FreeType so it has real descenders ("pgjy"), in the same DejaVu
 * Sans as the viewer. */
#include "raster.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include <math.h>
#include <string.h>

#include "km_internal.h"

#define MOD "report"

int km__img_init(struct km__img *im, uint32_t w, uint32_t h)
{
	memset(im, 0, sizeof *im);
	size_t bytes;
	if (w == 0 || h == 0 || !km__mul_size((size_t)w * 3, h, &bytes))
		return KM_ERR_INVALID_ARG;
	im->px = km__malloc(bytes);
	if (!im->px)
		return KM_ERR_NO_MEMORY;
	memset(im->px, 0xff, bytes);
	im->w = w;
	im->h = h;
	return KM_OK;
}

void km__img_free(struct km__img *im)
{
	if (!im)
		return;
	km__free(im->px);
	memset(im, 0, sizeof *im);
}

void km__put(struct km__img *im, long x, long y, uint32_t rgb)
{
	if (x < 0 || y < 0 || x >= (long)im->w || y >= (long)im->h)
		return;
	uint8_t *p = im->px + ((size_t)y * im->w + (size_t)x) * 3;
	p[0] = (uint8_t)(rgb >> 16);
	p[1] = (uint8_t)(rgb >> 8);
	p[2] = (uint8_t)rgb;
}

uint32_t km__get(const struct km__img *im, long x, long y)
{
	if (x < 0 || y < 0 || x >= (long)im->w || y >= (long)im->h)
		return 0xffffff;
	const uint8_t *p = im->px + ((size_t)y * im->w + (size_t)x) * 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* Mixes rgb over the pixel with coverage a (0..255). */
static void blend(struct km__img *im, long x, long y, uint32_t rgb, unsigned a)
{
	if (x < 0 || y < 0 || x >= (long)im->w || y >= (long)im->h || a == 0)
		return;
	uint8_t *p = im->px + ((size_t)y * im->w + (size_t)x) * 3;
	for (int i = 0; i < 3; i++) {
		unsigned c = (rgb >> (16 - 8 * i)) & 0xFF;
		p[i] = (uint8_t)((c * a + p[i] * (255u - a) + 127u) / 255u);
	}
}

void km__fill(struct km__img *im, long x, long y, long w, long h, uint32_t rgb)
{
	for (long j = y; j < y + h; j++)
		for (long i = x; i < x + w; i++)
			km__put(im, i, j, rgb);
}

void km__frame_rect(struct km__img *im, long x, long y, long w, long h, uint32_t rgb)
{
	km__fill(im, x, y, w, 1, rgb);
	km__fill(im, x, y + h - 1, w, 1, rgb);
	km__fill(im, x, y, 1, h, rgb);
	km__fill(im, x + w - 1, y, 1, h, rgb);
}

void km__ring(struct km__img *im, double cx, double cy, double r0, double r1, uint32_t rgb)
{
	long x0 = (long)floor(cx - r1 - 1), x1 = (long)ceil(cx + r1 + 1);
	long y0 = (long)floor(cy - r1 - 1), y1 = (long)ceil(cy + r1 + 1);
	for (long y = y0; y <= y1; y++)
		for (long x = x0; x <= x1; x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
			double d = sqrt(dx * dx + dy * dy);
			if (d >= r0 && d <= r1)
				km__put(im, x, y, rgb);
		}
}

void km__disc(struct km__img *im, double cx, double cy, double r, uint32_t rgb)
{
	km__ring(im, cx, cy, 0.0, r, rgb);
}

/* ------------------------------------------------------------------------ */
/* 5x7 fallback font, ASCII 32..126: five columns per glyph, bit 0 = top row */
/* (the classic public-domain HD44780-style table). It has no descenders, so */
/* it is only used when DejaVu is not installed.                             */
/* ------------------------------------------------------------------------ */

static const uint8_t font5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x08, 0x2A, 0x1C, 0x2A, 0x08}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x01, 0x01},
    {0x3E, 0x41, 0x41, 0x51, 0x32}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x04, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x7F, 0x20, 0x18, 0x20, 0x7F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x03, 0x04, 0x78, 0x04, 0x03}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x08, 0x14, 0x54, 0x54, 0x3C},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},
    {0x00, 0x7F, 0x10, 0x28, 0x44}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

struct km__text {
	FT_Library lib;
	FT_Face face; /* NULL: the 5x7 fallback */
	int scale;    /* fallback: pixels per font dot */
	unsigned ascent, descent;
};

int km__text_open(struct km__text **out, bool bold, unsigned px, const struct km_log *log)
{
	*out = NULL;
	struct km__text *t = km__calloc(1, sizeof *t);
	if (!t)
		return KM_ERR_NO_MEMORY;
	const char *path = bold ? KM__FONT_BOLD : KM__FONT_REGULAR;
	if (FT_Init_FreeType(&t->lib) == 0 && FT_New_Face(t->lib, path, 0, &t->face) == 0 &&
	    FT_Set_Pixel_Sizes(t->face, 0, px) == 0) {
		t->ascent = (unsigned)((t->face->size->metrics.ascender + 63) >> 6);
		t->descent = (unsigned)((-t->face->size->metrics.descender + 63) >> 6);
	} else {
		km__log(log, KM_LOG_WARN, MOD,
		        "font %s not found: the report uses a plain bitmap font; install it "
		        "with 'apt-get install fonts-dejavu-core'",
		        path);
		if (t->face)
			FT_Done_Face(t->face);
		t->face = NULL;
		t->scale = px >= 16 ? 2 : 1;
		t->ascent = 7u * (unsigned)t->scale;
		t->descent = (unsigned)t->scale;
	}
	*out = t;
	return KM_OK;
}

void km__text_close(struct km__text *t)
{
	if (!t)
		return;
	if (t->face)
		FT_Done_Face(t->face);
	if (t->lib)
		FT_Done_FreeType(t->lib);
	km__free(t);
}

bool km__text_is_vector(const struct km__text *t)
{
	return t && t->face;
}

unsigned km__text_line_h(const struct km__text *t)
{
	return t->ascent + t->descent;
}

unsigned km__text_baseline(const struct km__text *t)
{
	return t->ascent;
}

/* Next code point of UTF-8 s (advances *s); U+FFFD for a bad sequence. */
static uint32_t next_cp(const char **s)
{
	const unsigned char *p = (const unsigned char *)*s;
	uint32_t c = *p++;
	int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	if (c >= 0x80 && more == 0) {
		*s = (const char *)p;
		return 0xFFFD;
	}
	if (more)
		c &= 0x3Fu >> more;
	for (; more > 0; more--) {
		if ((*p & 0xC0) != 0x80) {
			*s = (const char *)p;
			return 0xFFFD;
		}
		c = c << 6 | (*p++ & 0x3Fu);
	}
	*s = (const char *)p;
	return c;
}

static long draw_bitmap_text(struct km__text *t, struct km__img *im, long x, long y, const char *s,
                             uint32_t rgb, bool draw)
{
	int sc = t->scale;
	while (*s) {
		uint32_t c = next_cp(&s);
		if (c < 32 || c > 126)
			c = '?';
		const uint8_t *g = font5x7[c - 32];
		for (int col = 0; draw && col < 5; col++)
			for (int row = 0; row < 7; row++)
				if (g[col] & (1u << row))
					km__fill(im, x + col * sc, y + row * sc, sc, sc, rgb);
		x += 6 * sc;
	}
	return x;
}

static long run_text(struct km__text *t, struct km__img *im, long x, long y, const char *s,
                     uint32_t rgb, bool draw)
{
	if (!t->face)
		return draw_bitmap_text(t, im, x, y, s, rgb, draw);
	FT_Face f = t->face;
	long base = y + (long)t->ascent;
	FT_UInt prev = 0;
	bool kern = FT_HAS_KERNING(f);
	while (*s) {
		uint32_t c = next_cp(&s);
		FT_UInt gi = FT_Get_Char_Index(f, c);
		if (kern && prev && gi) {
			FT_Vector d;
			if (FT_Get_Kerning(f, prev, gi, FT_KERNING_DEFAULT, &d) == 0)
				x += d.x >> 6;
		}
		prev = gi;
		int flags = draw ? FT_LOAD_RENDER | FT_LOAD_TARGET_LIGHT : FT_LOAD_TARGET_LIGHT;
		if (FT_Load_Glyph(f, gi, flags) != 0)
			continue;
		FT_GlyphSlot g = f->glyph;
		if (draw) {
			const FT_Bitmap *b = &g->bitmap;
			for (unsigned r = 0; r < b->rows; r++)
				for (unsigned col = 0; col < b->width; col++)
					blend(im, x + g->bitmap_left + (long)col,
					      base - g->bitmap_top + (long)r, rgb,
					      b->buffer[(long)r * b->pitch + (long)col]);
		}
		x += (g->advance.x + 32) >> 6;
	}
	return x;
}

long km__text_draw(struct km__text *t, struct km__img *im, long x, long y, const char *s,
                   uint32_t rgb)
{
	return run_text(t, im, x, y, s, rgb, true);
}

long km__text_width(struct km__text *t, const char *s)
{
	return run_text(t, NULL, 0, 0, s, 0, false);
}
