/*
 * The renderer's map: one streaming heatmap texture (software bilinear
 * upscale, then a 256-entry colour map; SDL test/teststreaming.c's Lock /
 * write rows by pitch / Unlock), a colour bar with kPa ticks, the outline,
 * markers, the hold ring and the guided target; the text cache and drawing
 * helpers; and km_render_draw, which lays the panels (render_panels.c)
 * around it on a 1024 x 640 logical canvas.
 */
#include <SDL.h>
#include <SDL_ttf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "km_internal.h"
#include "knotmap/render.h"
#include "render_int.h"

static const struct {
	int pt;
	bool bold;
} font_spec[F_COUNT] = {{15, false}, {19, false}, {26, true}, {40, true}, {120, true}};

/* ------------------------------------------------------------------------ */
/* Config                                                                    */
/* ------------------------------------------------------------------------ */

struct km_render_config km_render_config_default(void)
{
	struct km_render_config c;
	memset(&c, 0, sizeof c);
	c.font_path = KM_VIEW_DEFAULT_FONT;
	c.font_bold_path = KM_VIEW_DEFAULT_FONT_BOLD;
	c.width = 1024;
	c.height = 640;
	c.max_texture = 512;
	return c;
}

struct km_view_ui km_view_ui_default(void)
{
	struct km_view_ui u;
	memset(&u, 0, sizeof u);
	u.colormap = KM_COLORMAP_VIRIDIS;
	u.show_markers = true;
	u.show_outline = true;
	u.scale = KM_SCALE_SQRT;
	return u;
}

/* ------------------------------------------------------------------------ */
/* Small drawing helpers                                                     */
/* ------------------------------------------------------------------------ */

static SDL_Color rgba(uint32_t rgb, uint8_t a)
{
	SDL_Color c = {(uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, a};
	return c;
}

void km__rfill(SDL_Renderer *ren, int x, int y, int w, int h, uint32_t rgb, uint8_t a)
{
	SDL_Rect rc = {x, y, w, h};
	SDL_SetRenderDrawColor(ren, (uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb, a);
	/* Opaque: the same pixels without the software renderer's per-pixel
	 * blend. */
	if (a == 255)
		SDL_SetRenderDrawBlendMode(ren, SDL_BLENDMODE_NONE);
	SDL_RenderFillRect(ren, &rc);
	if (a == 255)
		SDL_SetRenderDrawBlendMode(ren, SDL_BLENDMODE_BLEND);
}

/* An annulus sector: degrees clockwise from 12 o'clock, a0 < a1. */
/* Untextured triangles of alpha a. Opaque ones are drawn without blending:
 * the same pixels, while SDL's software renderer blends each triangle
 * through a temporary surface of its own. */
static void geometry(SDL_Renderer *ren, const SDL_Vertex *v, int nv, const int *idx, int ni,
                     uint8_t a)
{
	if (a == 255)
		SDL_SetRenderDrawBlendMode(ren, SDL_BLENDMODE_NONE);
	SDL_RenderGeometry(ren, NULL, v, nv, idx, ni);
	if (a == 255)
		SDL_SetRenderDrawBlendMode(ren, SDL_BLENDMODE_BLEND);
}

void km__rarc(SDL_Renderer *ren, float cx, float cy, float r_in, float r_out, float a0, float a1,
              uint32_t rgb, uint8_t a)
{
	enum { MAXSEG = 120 };
	SDL_Vertex v[2 * (MAXSEG + 1)];
	int idx[6 * MAXSEG];
	if (!(a1 > a0))
		return;
	/* Segments of about 4 px along the outer edge (at most one per 3
	 * degrees): the chords stay within 0.1 px of the circle, and a small
	 * marker ring is not 240 triangles for the software renderer. */
	int n = (int)ceilf((a1 - a0) * KM_PI / 180.0f * r_out / 4.0f);
	n = KM_MIN(n, (int)ceilf((a1 - a0) / 3.0f));
	n = KM_CLAMP(n, 1, MAXSEG);
	SDL_Color col = rgba(rgb, a);
	for (int i = 0; i <= n; i++) {
		float ang = (a0 + (a1 - a0) * (float)i / (float)n) * KM_PI / 180.0f;
		float s = sinf(ang), c = cosf(ang);
		v[2 * i].position.x = cx + s * r_in;
		v[2 * i].position.y = cy - c * r_in;
		v[2 * i + 1].position.x = cx + s * r_out;
		v[2 * i + 1].position.y = cy - c * r_out;
		v[2 * i].color = v[2 * i + 1].color = col;
		v[2 * i].tex_coord.x = v[2 * i].tex_coord.y = 0.0f;
		v[2 * i + 1].tex_coord = v[2 * i].tex_coord;
	}
	for (int i = 0; i < n; i++) {
		int *q = &idx[6 * i];
		q[0] = 2 * i;
		q[1] = 2 * i + 1;
		q[2] = 2 * i + 2;
		q[3] = 2 * i + 1;
		q[4] = 2 * i + 3;
		q[5] = 2 * i + 2;
	}
	geometry(ren, v, 2 * (n + 1), idx, 6 * n, a);
}

void km__rline(SDL_Renderer *ren, float x0, float y0, float x1, float y1, float width, uint32_t rgb,
               uint8_t a)
{
	float dx = x1 - x0, dy = y1 - y0;
	float len = sqrtf(dx * dx + dy * dy);
	if (!(len > 0.0f))
		return;
	float nx = -dy / len * width * 0.5f, ny = dx / len * width * 0.5f;
	SDL_Color col = rgba(rgb, a);
	SDL_Vertex v[4];
	memset(v, 0, sizeof v);
	v[0].position.x = x0 + nx, v[0].position.y = y0 + ny;
	v[1].position.x = x0 - nx, v[1].position.y = y0 - ny;
	v[2].position.x = x1 + nx, v[2].position.y = y1 + ny;
	v[3].position.x = x1 - nx, v[3].position.y = y1 - ny;
	for (int i = 0; i < 4; i++)
		v[i].color = col;
	static const int idx[6] = {0, 1, 2, 1, 3, 2};
	geometry(ren, v, 4, idx, 6, a);
}

/* ------------------------------------------------------------------------ */
/* Text (SDL2_ttf, anti-aliased, cached as textures)                         */
/* ------------------------------------------------------------------------ */

double km__rcpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double text_begin(km_render *r)
{
	return r->text_depth++ == 0 ? km__rcpu_s() : 0.0;
}

static void text_end(km_render *r, double t0)
{
	if (--r->text_depth == 0)
		r->stats.text_s += km__rcpu_s() - t0;
}

static struct text_entry *text_get(km_render *r, int font, uint32_t rgb, const char *s);

struct text_entry *km__rtext_get(km_render *r, int font, uint32_t rgb, const char *s)
{
	double t0 = text_begin(r);
	struct text_entry *e = text_get(r, font, rgb, s);
	text_end(r, t0);
	return e;
}

static struct text_entry *text_get(km_render *r, int font, uint32_t rgb, const char *s)
{
	char key[TEXT_LEN];
	snprintf(key, sizeof key, "%s", s);
	struct text_entry *victim = &r->text[0];
	for (int i = 0; i < TEXT_CACHE; i++) {
		struct text_entry *e = &r->text[i];
		if (e->tex && e->font == font && e->rgb == rgb && !strcmp(e->s, key)) {
			e->used = r->frame_no;
			return e;
		}
		if (!e->tex)
			victim = e;
		else if (victim->tex && e->used < victim->used)
			victim = e;
	}
	if (victim->tex)
		SDL_DestroyTexture(victim->tex);
	memset(victim, 0, sizeof *victim);
	r->stats.text_renders++;
	SDL_Surface *surf = TTF_RenderUTF8_Blended(r->font[font], key, rgba(rgb, 255));
	if (!surf)
		return NULL;
	victim->tex = SDL_CreateTextureFromSurface(r->ren, surf);
	victim->w = surf->w;
	victim->h = surf->h;
	SDL_FreeSurface(surf);
	if (!victim->tex)
		return NULL;
	victim->font = font;
	victim->rgb = rgb;
	victim->used = r->frame_no;
	memcpy(victim->s, key, sizeof key);
	return victim;
}

int km__rtext(km_render *r, int font, uint32_t rgb, int x, int y, int align, const char *s)
{
	if (!s || !*s)
		return 0;
	double t0 = text_begin(r);
	struct text_entry *e = text_get(r, font, rgb, s);
	int w = 0;
	if (e) {
		int dx = align == AL_CENTER ? x - e->w / 2 : align == AL_RIGHT ? x - e->w : x;
		SDL_Rect d = {dx, y, e->w, e->h};
		SDL_RenderCopy(r->ren, e->tex, NULL, &d);
		w = e->w;
	}
	text_end(r, t0);
	return w;
}

int km__rtextf(km_render *r, int font, uint32_t rgb, int x, int y, int align, const char *fmt, ...)
{
	char buf[TEXT_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return km__rtext(r, font, rgb, x, y, align, buf);
}

/* Word-wraps s into max_w px; returns the height used. */
int km__rtext_wrap(km_render *r, int font, uint32_t rgb, int x, int y, int max_w, int align,
                   const char *s)
{
	double t0 = text_begin(r);
	char line[TEXT_LEN];
	int lh = TTF_FontLineSkip(r->font[font]);
	int yy = y;
	const char *p = s;
	while (*p) {
		size_t best = 0, len = 0;
		/* Grow the line word by word while it fits. */
		for (;;) {
			size_t next = len;
			while (p[next] == ' ')
				next++;
			while (p[next] && p[next] != ' ')
				next++;
			if (next >= sizeof line)
				break;
			memcpy(line, p, next);
			line[next] = '\0';
			int w = 0;
			TTF_SizeUTF8(r->font[font], line, &w, NULL);
			if (w > max_w && best > 0)
				break;
			best = next;
			len = next;
			if (!p[next])
				break;
		}
		if (best == 0)
			best = KM_MIN(strlen(p), sizeof line - 1);
		memcpy(line, p, best);
		line[best] = '\0';
		int lx = align == AL_CENTER ? x + max_w / 2 : x;
		km__rtext(r, font, rgb, lx, yy, align, line);
		yy += lh;
		p += best;
		while (*p == ' ')
			p++;
	}
	text_end(r, t0);
	return yy - y;
}

/* ------------------------------------------------------------------------ */
/* Create / destroy                                                          */
/* ------------------------------------------------------------------------ */

static void text_cache_clear(km_render *r)
{
	for (int i = 0; i < TEXT_CACHE; i++) {
		if (r->text[i].tex)
			SDL_DestroyTexture(r->text[i].tex);
		memset(&r->text[i], 0, sizeof r->text[i]);
	}
}

static bool file_exists(const char *path)
{
	SDL_RWops *rw = path ? SDL_RWFromFile(path, "rb") : NULL;
	if (!rw)
		return false;
	SDL_RWclose(rw);
	return true;
}

int km_render_create(SDL_Renderer *renderer, const struct km_render_config *cfg, km_render **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!renderer || !cfg || cfg->width < 320 || cfg->height < 240 || cfg->max_texture < 16 ||
	    !TTF_WasInit())
		return KM_ERR_INVALID_ARG;
	const char *regular = cfg->font_path ? cfg->font_path : KM_VIEW_DEFAULT_FONT;
	const char *bold = cfg->font_bold_path ? cfg->font_bold_path : KM_VIEW_DEFAULT_FONT_BOLD;
	if (!file_exists(regular)) {
		km__log(&cfg->log, KM_LOG_ERROR, "viewer",
		        "font %s not found: install it with 'apt-get install fonts-dejavu-core'",
		        regular);
		return KM_ERR_NOT_FOUND;
	}
	if (!file_exists(bold))
		bold = regular;
	km_render *r = km__calloc(1, sizeof *r);
	if (!r)
		return KM_ERR_NO_MEMORY;
	r->ren = renderer;
	r->cfg = *cfg;
	for (int k = 0; k <= HEAT_LUT; k++) {
		float t = (float)k / (float)HEAT_LUT;
		r->heat_lut[0][k] = km_colormap_index(t, 0.0f, 1.0f);
		r->heat_lut[1][k] = km_colormap_index_sqrt(t, 0.0f, 1.0f);
	}
	r->cfg.font_path = NULL; /* not kept: the caller's strings may go away */
	r->cfg.font_bold_path = NULL;
	for (int i = 0; i < F_COUNT; i++) {
		r->font[i] = TTF_OpenFont(font_spec[i].bold ? bold : regular, font_spec[i].pt);
		if (!r->font[i]) {
			km__log(&cfg->log, KM_LOG_ERROR, "viewer", "cannot open font: %s",
			        TTF_GetError());
			km_render_destroy(r);
			return KM_ERR_NOT_FOUND;
		}
		TTF_SetFontHinting(r->font[i], TTF_HINTING_LIGHT);
	}
	/* A 1 x 256 texture per colour map for the colour bar. */
	for (int m = 0; m < KM_COLORMAP_COUNT; m++) {
		r->bar[m] = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_ARGB8888,
		                              SDL_TEXTUREACCESS_STATIC, 1, 256);
		if (!r->bar[m]) {
			km__log(&cfg->log, KM_LOG_ERROR, "viewer", "cannot create a texture: %s",
			        SDL_GetError());
			km_render_destroy(r);
			return KM_ERR_NO_DISPLAY;
		}
		uint32_t px[256];
		const uint32_t *tab = km_colormap_table((enum km_colormap)m);
		for (int i = 0; i < 256; i++)
			px[i] = 0xff000000u | tab[255 - i]; /* top = high */
		SDL_UpdateTexture(r->bar[m], NULL, px, 4);
	}
	SDL_SetRenderDrawBlendMode(renderer, SDL_BLENDMODE_BLEND);
	*out = r;
	return KM_OK;
}

void km_render_destroy(km_render *r)
{
	if (!r)
		return;
	text_cache_clear(r);
	for (int m = 0; m < KM_COLORMAP_COUNT; m++)
		if (r->bar[m])
			SDL_DestroyTexture(r->bar[m]);
	if (r->heat)
		SDL_DestroyTexture(r->heat);
	if (r->static_tex)
		SDL_DestroyTexture(r->static_tex);
	if (r->hist_tex)
		SDL_DestroyTexture(r->hist_tex);
	km__free(r->heat_xs);
	km__free(r->heat_colv);
	km__free(r->sens_mask);
	km__free(r->mask_runs);
	for (int i = 0; i < F_COUNT; i++)
		if (r->font[i])
			TTF_CloseFont(r->font[i]);
	km__free(r);
}

void km_render_reset(km_render *r)
{
	if (!r)
		return;
	text_cache_clear(r);
	r->auto_hi = 0.0f;
	r->heat_valid = false;
	r->static_valid = false;
	r->hist_serial = 0; /* a lost target's texture may be lost too */
}

int km_render_set_sensor(km_render *r, const struct km_render_sensor *s)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	if (s && (s->rows == 0 || s->cols == 0 || !(s->row_pitch_mm > 0.0f) ||
	          !(s->col_pitch_mm > 0.0f) || !isfinite(s->row_pitch_mm) ||
	          !isfinite(s->col_pitch_mm)))
		return KM_ERR_INVALID_ARG;
	uint8_t *mask = NULL;
	size_t cells = s ? (size_t)s->rows * s->cols : 0;
	bool any_off = false;
	for (size_t i = 0; s && s->mask && i < cells; i++)
		any_off = any_off || !s->mask[i];
	if (any_off) {
		mask = km__malloc(cells);
		if (!mask)
			return KM_ERR_NO_MEMORY;
		memcpy(mask, s->mask, cells);
	}
	km__free(r->sens_mask);
	r->sens_mask = mask;
	r->sens_rows = s ? s->rows : 0;
	r->sens_cols = s ? s->cols : 0;
	r->sens_row_pitch = s ? s->row_pitch_mm : 0.0f;
	r->sens_col_pitch = s ? s->col_pitch_mm : 0.0f;
	r->mask_runs_w = r->mask_runs_h = 0; /* remade for the texture at the next upload */
	r->heat_valid = false;
	r->static_valid = false;
	return KM_OK;
}

/* Whether the sensor set applies to frames of f's shape. */
static bool sensor_for(const km_render *r, const struct km_frame *f)
{
	return f && r->sens_row_pitch > 0.0f && r->sens_rows == f->rows && r->sens_cols == f->cols;
}

void km_render_heat_rect(const km_render *r, int rect[4])
{
	if (!r || !rect)
		return;
	rect[0] = r->heat_rect.x;
	rect[1] = r->heat_rect.y;
	rect[2] = r->heat_rect.w;
	rect[3] = r->heat_rect.h;
}

void km_render_stats(const km_render *r, struct km_render_stats *out)
{
	if (!out)
		return;
	if (r)
		*out = r->stats;
	else
		memset(out, 0, sizeof *out);
}

void km_render_layout(const km_render *r, struct km_render_layout *out)
{
	if (!out)
		return;
	if (r)
		*out = r->layout;
	else
		memset(out, 0, sizeof *out);
}

void km_render_range(const km_render *r, float *lo, float *hi)
{
	if (!r)
		return;
	if (lo)
		*lo = r->lo;
	if (hi)
		*hi = r->hi;
}

/* ------------------------------------------------------------------------ */
/* Heatmap                                                                   */
/* ------------------------------------------------------------------------ */

/* km_colormap_index / km_colormap_index_sqrt with the range checked once
 * (span = hi - lo > 0, both finite): the same expression, so the same
 * pixels, without a call and four checks per pixel. */
static inline uint8_t colour_index(float v, float lo, float span, bool sq)
{
	if (!isfinite(v))
		return 0;
	float t = (v - lo) / span;
	if (!(t > 0.0f))
		return 0;
	if (t >= 1.0f)
		return 255;
	return sq ? (uint8_t)(sqrtf(t) * 255.0f + 0.5f) : (uint8_t)(t * 255.0f + 0.5f);
}

/* Where output column px samples the grid: cells x0, x1 and the weight of
 * x1 (periodic across columns on a cylinder). */
static void column_weights(const struct km_frame *f, int w, int px, int *x0, int *x1, float *fx)
{
	const int cols = f->cols;
	float gx = ((float)px + 0.5f) * ((float)cols / (float)w) - 0.5f;
	if (f->geometry == KM_GEOMETRY_CYLINDER) {
		/* Around the roller the last column meets the first. */
		float fl = floorf(gx);
		*fx = gx - fl;
		*x0 = (((int)fl % cols) + cols) % cols;
		*x1 = (*x0 + 1) % cols;
	} else {
		gx = KM_CLAMP(gx, 0.0f, (float)(cols - 1));
		*x0 = (int)gx;
		*x1 = KM_MIN(*x0 + 1, cols - 1);
		*fx = gx - (float)*x0;
	}
}

/* Bilinear at pixel centres into w x h pixels, then the colour map. The
 * column weights come from xs (w entries) when given, else per pixel. */
struct col_weight {
	int x0, x1;
	float fx;
};

/* lut (optional): the colour index for t = (v - lo) / (hi - lo) in
 * HEAT_LUT + 1 steps over [0, 1], the scale's index at each step: no division
 * or square root per pixel, at most one index off next to a step. */
static void heat_pixels(const struct km_frame *f, const uint32_t *tab, bool sq, float lo, float hi,
                        int w, int h, const struct col_weight *xs, const uint8_t *lut, float *colv,
                        uint32_t *out, size_t pitch_px)
{
	const int rows = f->rows, cols = f->cols;
	const bool valid = hi > lo && isfinite(lo) && isfinite(hi);
	const float span = hi - lo;
	const float inv_span = 1.0f / span;
	const float sy = (float)rows / (float)h;
	for (int py = 0; py < h; py++) {
		/* Sample at pixel centres; cell centres sit at (i + 0.5) * scale. */
		float gy = ((float)py + 0.5f) * sy - 0.5f;
		gy = KM_CLAMP(gy, 0.0f, (float)(rows - 1));
		int y0 = (int)gy;
		int y1 = KM_MIN(y0 + 1, rows - 1);
		float fy = gy - (float)y0;
		const float *r0 = f->kpa + (size_t)y0 * cols;
		const float *r1 = f->kpa + (size_t)y1 * cols;
		uint32_t *dst = out + (size_t)py * pitch_px;
		if (!valid) {
			for (int px = 0; px < w; px++)
				dst[px] = 0xff000000u | tab[0];
			continue;
		}
		if (lut && xs && colv) {
			/* Down the columns first (once per cell), then across. */
			for (int c = 0; c < cols; c++)
				colv[c] = r0[c] + (r1[c] - r0[c]) * fy;
			const float k = inv_span * (float)HEAT_LUT;
			for (int px = 0; px < w; px++) {
				const struct col_weight *c = &xs[px];
				float v = colv[c->x0] + (colv[c->x1] - colv[c->x0]) * c->fx;
				float t = (v - lo) * k + 0.5f;
				/* NaN and below 0 -> 0, above 1 -> the top. */
				uint8_t i =
				    t > 0.0f ? lut[t < (float)HEAT_LUT ? (int)t : HEAT_LUT] : 0;
				dst[px] = 0xff000000u | tab[i];
			}
			continue;
		}
		for (int px = 0; px < w; px++) {
			struct col_weight c;
			if (xs)
				c = xs[px];
			else
				column_weights(f, w, px, &c.x0, &c.x1, &c.fx);
			float top = r0[c.x0] + (r0[c.x1] - r0[c.x0]) * c.fx;
			float bot = r1[c.x0] + (r1[c.x1] - r1[c.x0]) * c.fx;
			float v = top + (bot - top) * fy;
			uint8_t i;
			if (lut) {
				float t = (v - lo) * inv_span * (float)HEAT_LUT + 0.5f;
				/* NaN and below 0 -> 0, above 1 -> the top. */
				i = t > 0.0f ? lut[t < (float)HEAT_LUT ? (int)t : HEAT_LUT] : 0;
			} else {
				i = colour_index(v, lo, span, sq);
			}
			dst[px] = 0xff000000u | tab[i];
		}
	}
}

int km_render_heatmap_pixels(const struct km_frame *f, enum km_colormap map,
                             enum km_view_scale vscale, float lo, float hi, int scale,
                             uint32_t *out, size_t pitch_px)
{
	if (!f || !f->kpa || !out || scale < 1 || scale > 64)
		return KM_ERR_INVALID_ARG;
	if (f->rows == 0 || f->cols == 0)
		return KM_ERR_SHAPE;
	const int w = f->cols * scale, h = f->rows * scale;
	if (pitch_px < (size_t)w)
		return KM_ERR_INVALID_ARG;
	heat_pixels(f, km_colormap_table(map), vscale == KM_SCALE_SQRT, lo, hi, w, h, NULL, NULL,
	            NULL, out, pitch_px);
	return KM_OK;
}

/* 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 x 10^n at or above v: a colour range that
 * does not twitch with every frame. */
static float nice_ceil(float v)
{
	static const float steps[] = {1.0f, 1.5f, 2.0f, 2.5f, 3.0f, 4.0f, 5.0f, 6.0f, 8.0f, 10.0f};
	if (!(v > 0.0f))
		return 1.0f;
	float mag = powf(10.0f, floorf(log10f(v)));
	for (size_t i = 0; i < KM_ARRAY_SIZE(steps); i++)
		if (steps[i] * mag >= v * 0.9999f)
			return steps[i] * mag;
	return 10.0f * mag;
}

static float tick_step(float hi)
{
	float raw = hi / 5.0f;
	float mag = powf(10.0f, floorf(log10f(raw)));
	float n = raw / mag;
	return (n < 1.5f ? 1.0f : n < 3.0f ? 2.0f : n < 7.0f ? 5.0f : 10.0f) * mag;
}

static void update_range(km_render *r, const struct km_frame *f, const struct km_view_ui *ui,
                         float dt_s)
{
	r->lo = 0.0f;
	if (ui->fixed_range_kpa > 0.0f) {
		r->hi = ui->fixed_range_kpa;
		return;
	}
	float peak = 0.0f;
	if (f) {
		size_t n = km_frame_cells(f);
		for (size_t i = 0; i < n; i++)
			if (f->kpa[i] > peak)
				peak = f->kpa[i];
	}
	/* Fast attack, slow release (3 s), never below 10 kPa: a light touch
	 * should not fill the screen with colour. */
	float target = KM_MAX(peak * 1.1f, 10.0f);
	if (target > r->auto_hi || r->auto_hi <= 0.0f)
		r->auto_hi = target;
	else if (dt_s > 0.0f)
		r->auto_hi += (target - r->auto_hi) * (1.0f - expf(-dt_s / 3.0f));
	r->hi = nice_ceil(r->auto_hi);
}

static void layout(km_render *r, const struct km_frame *f)
{
	/* Left region: heatmap + colour bar centred in 0..700; top 44 for the
	 * title, bottom ends at 556 above the guidance panel. */
	const int area_w = 560, area_h = 504, top = 44;
	/* The grid's true extent: rows and columns spaced as the sensor says
	 * (a cell 10 x 5 mm is drawn twice as tall as wide). */
	double ext_h = f ? f->rows : 1, ext_w = f ? f->cols : 1;
	if (sensor_for(r, f)) {
		ext_h *= r->sens_row_pitch;
		ext_w *= r->sens_col_pitch;
	}
	int w = area_w, h = (int)lround(area_w * ext_h / ext_w);
	if (h > area_h) {
		h = area_h;
		w = (int)lround(area_h * ext_w / ext_h);
	}
	w = KM_MAX(w, 1);
	h = KM_MAX(h, 1);
	int total = w + 16 + 22 + 80; /* map, gap, bar, tick labels */
	r->heat_rect.x = KM_MAX(12, (706 - total) / 2);
	r->heat_rect.y = top + (area_h - h) / 2;
	r->heat_rect.w = w;
	r->heat_rect.h = h;
}

/* The texture pixels whose cell is off the sensor, as runs per texture row
 * (made when the mask or the texture size changes, not per frame). */
static int make_mask_runs(km_render *r, int tw, int th)
{
	km__free(r->mask_runs);
	r->mask_runs = NULL;
	r->n_mask_runs = 0;
	r->mask_runs_w = tw;
	r->mask_runs_h = th;
	if (!r->sens_mask)
		return KM_OK;
	const int rows = r->sens_rows, cols = r->sens_cols;
	size_t n = 0, cap = 0;
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		for (int py = 0; py < th; py++) {
			int row = KM_MIN((int)(((double)py + 0.5) * rows / th), rows - 1);
			const uint8_t *m = r->sens_mask + (size_t)row * cols;
			int x0 = -1;
			for (int px = 0; px <= tw; px++) {
				int col = px < tw ? KM_MIN((int)(((double)px + 0.5) * cols / tw), cols - 1)
				                  : 0;
				bool off = px < tw && !m[col];
				if (off && x0 < 0)
					x0 = px;
				if (!off && x0 >= 0) {
					if (pass == 1)
						r->mask_runs[n] = (struct mask_run){py, x0, px};
					n++;
					x0 = -1;
				}
			}
		}
		if (pass == 0) {
			cap = n;
			if (cap == 0)
				return KM_OK;
			r->mask_runs = km__calloc(cap, sizeof *r->mask_runs);
			if (!r->mask_runs)
				return KM_ERR_NO_MEMORY;
		}
	}
	r->n_mask_runs = n;
	return KM_OK;
}

/* Off the sensor: hatched on the background, never a pressure colour. */
static void hatch_masked(const km_render *r, uint32_t *px, size_t pitch_px)
{
	for (size_t i = 0; i < r->n_mask_runs; i++) {
		const struct mask_run *m = &r->mask_runs[i];
		uint32_t *row = px + (size_t)m->y * pitch_px;
		for (int x = m->x0; x < m->x1; x++)
			row[x] = ((x + m->y) % 8 < 2) ? 0xff3a4048u : (0xff000000u | C_BG);
	}
}

/* The heatmap texture is made at the size it is shown (at most max_texture
 * on its longer side), so the copy to the screen is a plain blit, not a
 * second, filtered stretch; uploaded once per new frame, colours or range. */
static int upload_heat(km_render *r, const struct km_view_snapshot *s, enum km_colormap map,
                       enum km_view_scale vscale)
{
	const struct km_frame *f = s->frame;
	int tw = r->heat_rect.w, th = r->heat_rect.h;
	int m = KM_MAX(tw, th);
	if (m > r->cfg.max_texture) {
		tw = KM_MAX(1, (int)((long)tw * r->cfg.max_texture / m));
		th = KM_MAX(1, (int)((long)th * r->cfg.max_texture / m));
	}
	if (!r->heat || r->heat_rows != f->rows || r->heat_cols != f->cols || r->heat_w != tw ||
	    r->heat_h != th || f->geometry != r->heat_geometry) {
		if (r->heat)
			SDL_DestroyTexture(r->heat);
		km__free(r->heat_xs);
		km__free(r->heat_colv);
		r->heat_xs = km__calloc((size_t)tw, sizeof *r->heat_xs);
		r->heat_colv = km__calloc(f->cols, sizeof *r->heat_colv);
		if (!r->heat_colv) {
			km__free(r->heat_xs);
			r->heat_xs = NULL;
		}
		r->heat = r->heat_xs ? SDL_CreateTexture(r->ren, SDL_PIXELFORMAT_ARGB8888,
		                                         SDL_TEXTUREACCESS_STREAMING, tw, th)
		                     : NULL;
		if (!r->heat) {
			km__log(&r->cfg.log, KM_LOG_ERROR, "viewer", "heatmap texture: %s",
			        r->heat_xs ? SDL_GetError() : "out of memory");
			return r->heat_xs ? KM_ERR_INTERNAL : KM_ERR_NO_MEMORY;
		}
		/* Opaque: no blending on the copy. Linear filtering only matters
		 * when the window is scaled. */
		SDL_SetTextureBlendMode(r->heat, SDL_BLENDMODE_NONE);
		SDL_SetTextureScaleMode(r->heat, SDL_ScaleModeLinear);
		for (int px = 0; px < tw; px++)
			column_weights(f, tw, px, &r->heat_xs[px].x0, &r->heat_xs[px].x1,
			               &r->heat_xs[px].fx);
		r->heat_w = tw;
		r->heat_h = th;
		r->heat_rows = f->rows;
		r->heat_cols = f->cols;
		r->heat_geometry = f->geometry;
		r->heat_valid = false;
	}
	if (sensor_for(r, f) && (r->mask_runs_w != tw || r->mask_runs_h != th)) {
		int merr = make_mask_runs(r, tw, th);
		if (merr != KM_OK)
			return merr;
	}
	if (r->heat_valid && r->heat_serial == s->serial && r->heat_map == map &&
	    r->heat_vscale == vscale && r->heat_lo == r->lo && r->heat_hi == r->hi)
		return KM_OK;
	void *pixels = NULL;
	int pitch = 0;
	if (SDL_LockTexture(r->heat, NULL, &pixels, &pitch) != 0)
		return KM_ERR_INTERNAL;
	bool sq = vscale == KM_SCALE_SQRT;
	heat_pixels(f, km_colormap_table(map), sq, r->lo, r->hi, tw, th, r->heat_xs,
	            r->heat_lut[sq ? 1 : 0], r->heat_colv, pixels, (size_t)pitch / 4);
	if (sensor_for(r, f))
		hatch_masked(r, pixels, (size_t)pitch / 4);
	SDL_UnlockTexture(r->heat);
	r->heat_valid = true;
	r->heat_serial = s->serial;
	r->heat_map = map;
	r->heat_vscale = vscale;
	r->heat_lo = r->lo;
	r->heat_hi = r->hi;
	r->stats.heat_uploads++;
	return KM_OK;
}

/* Positions to pixels per axis: x_mm = (col + 0.5) x the position pitch
 * across, y_mm likewise down (km_view_snapshot pos_*_pitch_mm). */
static float mm_to_x(const km_render *r, const struct km_frame *f, float x_mm)
{
	return (float)r->heat_rect.x +
	       x_mm / ((float)f->cols * r->pos_col_pitch) * (float)r->heat_rect.w;
}

static float mm_to_y(const km_render *r, const struct km_frame *f, float y_mm)
{
	return (float)r->heat_rect.y +
	       y_mm / ((float)f->rows * r->pos_row_pitch) * (float)r->heat_rect.h;
}

/* Rounds to 1, 2 or 5 x 10^n (nearest in log terms). */
static float nice_round(float v)
{
	if (!(v > 0.0f))
		return 0.0f;
	float mag = powf(10.0f, floorf(log10f(v)));
	float n = v / mag;
	return (n < 1.5f ? 1.0f : n < 3.5f ? 2.0f : n < 7.5f ? 5.0f : 10.0f) * mag;
}

static void draw_colour_bar(km_render *r, enum km_colormap map, enum km_view_scale vscale,
                            bool counts)
{
	SDL_Rect bar = {r->heat_rect.x + r->heat_rect.w + 16, r->heat_rect.y, 22, r->heat_rect.h};
	SDL_RenderCopy(r->ren, r->bar[map < KM_COLORMAP_COUNT ? map : 0], NULL, &bar);
	SDL_SetRenderDrawColor(r->ren, 0xd0, 0xd0, 0xd0, 255);
	SDL_RenderDrawRect(r->ren, &bar);
	km__rtext(r, F_SMALL, C_DIM, bar.x + bar.w + 4, r->heat_rect.y - 24, AL_LEFT,
	          counts ? (vscale == KM_SCALE_SQRT ? "counts (sqrt)" : "counts")
	                 : (vscale == KM_SCALE_SQRT ? "kPa (sqrt)" : "kPa"));
	float ticks[12];
	int n = 0;
	if (vscale == KM_SCALE_SQRT) {
		/* Evenly spaced on the bar, then rounded to readable values. */
		static const float pos[] = {0.0f, 0.25f, 0.5f, 0.75f};
		for (size_t i = 0; i < KM_ARRAY_SIZE(pos); i++)
			ticks[n++] = nice_round(r->hi * pos[i] * pos[i]);
		ticks[n++] = r->hi;
	} else {
		float step = tick_step(r->hi);
		for (float v = r->lo; v <= r->hi * 1.0001f && n < 12; v += step)
			ticks[n++] = v;
	}
	int last_y = 1 << 20;
	for (int i = 0; i < n; i++) {
		float v = ticks[i];
		float t = (v - r->lo) / (r->hi - r->lo);
		t = KM_CLAMP(t, 0.0f, 1.0f);
		if (vscale == KM_SCALE_SQRT)
			t = sqrtf(t);
		int y = bar.y + bar.h - 1 - (int)(t * (float)(bar.h - 1));
		if (last_y - y < 18)
			continue; /* labels would overlap */
		last_y = y;
		km__rfill(r->ren, bar.x + bar.w, y, 6, 2, 0xd0d0d0, 255);
		km__rtextf(r, F_SMALL, C_TEXT, bar.x + bar.w + 9, y - 9, AL_LEFT, "%g", (double)v);
	}
}

/* Marching squares over cell centres: a smooth line where the body mask
 * changes, without filling anything the sensors did not see. */
static void draw_outline(km_render *r, const struct km_view_snapshot *s)
{
	const struct km_frame *f = s->frame;
	const int rows = f->rows, cols = f->cols;
	const float cw = (float)r->heat_rect.w / (float)cols,
	            ch = (float)r->heat_rect.h / (float)rows;
	const float ox = (float)r->heat_rect.x, oy = (float)r->heat_rect.y;
	for (int y = -1; y < rows; y++) {
		for (int x = -1; x < cols; x++) {
#define M(yy, xx)                                                                                  \
	((yy) >= 0 && (yy) < rows && (xx) >= 0 && (xx) < cols && s->outline[(yy)*cols + (xx)])
			int c = (M(y, x) ? 8 : 0) | (M(y, x + 1) ? 4 : 0) |
			        (M(y + 1, x + 1) ? 2 : 0) | (M(y + 1, x) ? 1 : 0);
#undef M
			if (c == 0 || c == 15)
				continue;
			/* Edge midpoints: top, right, bottom, left of the square
			 * between cell centres (x, y) and (x+1, y+1). */
			float x0 = ox + ((float)x + 0.5f) * cw, y0 = oy + ((float)y + 0.5f) * ch;
			float px[4] = {x0 + cw * 0.5f, x0 + cw, x0 + cw * 0.5f, x0};
			float py[4] = {y0, y0 + ch * 0.5f, y0 + ch, y0 + ch * 0.5f};
			static const signed char seg[16][4] = {
			    {-1, -1, -1, -1}, {2, 3, -1, -1}, {1, 2, -1, -1}, {1, 3, -1, -1},
			    {0, 1, -1, -1},   {0, 3, 1, 2},   {0, 2, -1, -1}, {0, 3, -1, -1},
			    {0, 3, -1, -1},   {0, 2, -1, -1}, {0, 1, 2, 3},   {0, 1, -1, -1},
			    {1, 3, -1, -1},   {1, 2, -1, -1}, {2, 3, -1, -1}, {-1, -1, -1, -1}};
			for (int k = 0; k < 4 && seg[c][k] >= 0; k += 2) {
				int a = seg[c][k], b = seg[c][k + 1];
				/* Clip to the grid rectangle (outside-of-grid samples). */
				float ax = KM_CLAMP(px[a], ox, ox + (float)r->heat_rect.w);
				float ay = KM_CLAMP(py[a], oy, oy + (float)r->heat_rect.h);
				float bx = KM_CLAMP(px[b], ox, ox + (float)r->heat_rect.w);
				float by = KM_CLAMP(py[b], oy, oy + (float)r->heat_rect.h);
				km__rline(r->ren, ax, ay, bx, by, 2.5f, 0xffffff, 170);
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Markers and their labels                                                  */
/* ------------------------------------------------------------------------ */

static bool box_hit(const SDL_Rect *a, const SDL_Rect *b)
{
	return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static bool box_inside(const SDL_Rect *a, const SDL_Rect *outer)
{
	return a->x >= outer->x && a->y >= outer->y && a->x + a->w <= outer->x + outer->w &&
	       a->y + a->h <= outer->y + outer->h;
}

/* Does the segment (x0, y0)-(x1, y1) cross rectangle b (Liang-Barsky)? */
static bool seg_hit(float x0, float y0, float x1, float y1, const SDL_Rect *b)
{
	float t0 = 0.0f, t1 = 1.0f, dx = x1 - x0, dy = y1 - y0;
	const float p[4] = {-dx, dx, -dy, dy};
	const float q[4] = {x0 - (float)b->x, (float)(b->x + b->w) - x0, y0 - (float)b->y,
	                    (float)(b->y + b->h) - y0};
	for (int i = 0; i < 4; i++) {
		if (p[i] == 0.0f) {
			if (q[i] < 0.0f)
				return false;
			continue;
		}
		float t = q[i] / p[i];
		if (p[i] < 0.0f)
			t0 = KM_MAX(t0, t);
		else
			t1 = KM_MIN(t1, t);
		if (t0 > t1)
			return false;
	}
	return true;
}

void km__rlayout_add(km_render *r, enum km_render_box_kind kind, uint32_t id, SDL_Rect rc)
{
	struct km_render_layout *l = &r->layout;
	if (l->n_boxes >= KM_RENDER_MAX_BOXES)
		return;
	struct km_render_box *b = &l->box[l->n_boxes++];
	b->kind = kind;
	b->track_id = id;
	b->x = rc.x;
	b->y = rc.y;
	b->w = rc.w;
	b->h = rc.h;
}

/* Pressure at the cell nearest (x_mm, y_mm), kPa (0 off the grid). */
static float kpa_at(const km_render *r, const struct km_frame *f, float x_mm, float y_mm)
{
	int c = (int)floorf(x_mm / r->pos_col_pitch), rw = (int)floorf(y_mm / r->pos_row_pitch);
	if (c < 0 || rw < 0 || c >= f->cols || rw >= f->rows)
		return 0.0f;
	return f->kpa[(size_t)rw * f->cols + (size_t)c];
}

/* Two spots on one contact: no valley between them (the pressure along the
 * line never drops below 70 % of the weaker peak), as under one ball or
 * one roller contact patch. */
static bool one_contact(const km_render *r, const struct km_frame *f,
                        const struct km_view_marker *a, const struct km_view_marker *b)
{
	float lo = KM_MIN(a->peak_kpa, b->peak_kpa);
	if (!(lo > 0.0f))
		return false;
	for (int k = 1; k < 8; k++) {
		float t = (float)k / 8.0f;
		float v =
		    kpa_at(r, f, a->x_mm + (b->x_mm - a->x_mm) * t, a->y_mm + (b->y_mm - a->y_mm) * t);
		if (v < 0.7f * lo)
			return false;
	}
	return true;
}

/* One marker on screen: a spot, or the spots of one contact. */
struct mark {
	float cx, cy, rad;
	const struct km_view_marker *m; /* the one whose words are shown */
	bool held;
	uint32_t col;
	SDL_Rect circle;
	/* The label's place (valid when placed) and its leader's ends. */
	bool placed, leader;
	SDL_Rect plate;
	float lx0, ly0, lx1, ly1;
	char text[KM_VIEW_NAME_MAX + 16];
};

static int find_root(int *parent, int i)
{
	while (parent[i] != i)
		i = parent[i] = parent[parent[i]];
	return i;
}

/* The spots as circles, spots on one contact merged into one (the held one,
 * else a knot, else the strongest, speaks for the group). Returns how many. */
static size_t gather_marks(km_render *r, const struct km_view_snapshot *s, struct mark *out)
{
	const struct km_frame *f = s->frame;
	float px_per_mm = (float)r->heat_rect.w / ((float)f->cols * r->pos_col_pitch);
	size_t n = KM_MIN(s->n_markers, (size_t)KM_VIEW_MAX_MARKERS);
	float cx[KM_VIEW_MAX_MARKERS], cy[KM_VIEW_MAX_MARKERS], rad[KM_VIEW_MAX_MARKERS];
	int parent[KM_VIEW_MAX_MARKERS];
	for (size_t i = 0; i < n; i++) {
		const struct km_view_marker *m = &s->markers[i];
		cx[i] = mm_to_x(r, f, m->x_mm);
		cy[i] = mm_to_y(r, f, m->y_mm);
		float rd = m->radius_mm > 0.0f ? m->radius_mm * px_per_mm : 12.0f;
		rad[i] = KM_CLAMP(rd, 9.0f, 40.0f);
		parent[i] = (int)i;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			float dx = cx[i] - cx[j], dy = cy[i] - cy[j];
			float d = sqrtf(dx * dx + dy * dy);
			bool same =
			    d < KM_MAX(rad[i], rad[j]) ||
			    (d < rad[i] + rad[j] && one_contact(r, f, &s->markers[i], &s->markers[j]));
			if (same)
				parent[find_root(parent, (int)i)] = find_root(parent, (int)j);
		}
	size_t nm = 0;
	int slot[KM_VIEW_MAX_MARKERS];
	for (size_t i = 0; i < n; i++)
		slot[i] = -1;
	for (size_t i = 0; i < n; i++) {
		const struct km_view_marker *m = &s->markers[i];
		bool held = s->hold.state != KM_VIEW_HOLD_IDLE && s->hold.track_id == m->track_id;
		int root = find_root(parent, (int)i);
		if (slot[root] < 0) {
			slot[root] = (int)nm;
			memset(&out[nm], 0, sizeof out[nm]);
			out[nm].m = m;
			out[nm].held = held;
			nm++;
		}
		struct mark *k = &out[slot[root]];
		/* The speaker: the held spot, else a knot over a bone or the
		 * spine (a knot next to a shoulder blade keeps its label), else
		 * the strongest. */
		bool knot = !m->over_spine && !m->landmark,
		     kknot = !k->m->over_spine && !k->m->landmark;
		if (held || (!k->held && (knot != kknot ? knot : m->peak_kpa > k->m->peak_kpa))) {
			k->m = m;
			k->held = held;
		}
	}
	/* Each circle around its speaker, wide enough for the group. */
	for (size_t i = 0; i < n; i++) {
		struct mark *k = &out[slot[find_root(parent, (int)i)]];
		size_t si = (size_t)(k->m - s->markers);
		float dx = cx[i] - cx[si], dy = cy[i] - cy[si];
		float need = sqrtf(dx * dx + dy * dy) + rad[i];
		k->cx = cx[si];
		k->cy = cy[si];
		k->rad = KM_CLAMP(KM_MAX(k->rad, KM_MAX(need, rad[si])), 9.0f, 48.0f);
	}
	for (size_t i = 0; i < nm; i++) {
		struct mark *k = &out[i];
		k->col = !k->held && (k->m->over_spine || k->m->landmark) ? C_PAUSE : 0xffffffu;
		int e = (int)ceilf(k->rad + 3.5f);
		SDL_Rect c = {(int)k->cx - e, (int)k->cy - e, 2 * e + 1, 2 * e + 1};
		k->circle = c;
	}
	return nm;
}

/* What labels and leaders keep off: boxes, and the hold ring as the circle
 * it is (its box's corners are free map). */
struct keep_off {
	SDL_Rect *box;
	size_t n, cap;
	bool ring;
	float rx, ry, rr;
};

static bool circle_hits_box(float cx, float cy, float rad, const SDL_Rect *b)
{
	float nx = KM_CLAMP(cx, (float)b->x, (float)(b->x + b->w));
	float ny = KM_CLAMP(cy, (float)b->y, (float)(b->y + b->h));
	return (nx - cx) * (nx - cx) + (ny - cy) * (ny - cy) < rad * rad;
}

static bool circle_hits_seg(float cx, float cy, float rad, float x0, float y0, float x1, float y1)
{
	float dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
	float t = l2 > 0.0f ? KM_CLAMP(((cx - x0) * dx + (cy - y0) * dy) / l2, 0.0f, 1.0f) : 0.0f;
	float px = x0 + t * dx - cx, py = y0 + t * dy - cy;
	return px * px + py * py < rad * rad;
}

/* Is the plate rc (with its leader from (x0, y0) to (x1, y1) when lead)
 * clear of everything already there? */
static bool label_fits(const km_render *r, const struct mark *marks, size_t nm,
                       const struct mark *k, const struct keep_off *ko, const SDL_Rect *rc,
                       bool lead, float x0, float y0, float x1, float y1)
{
	if (!box_inside(rc, &r->heat_rect))
		return false;
	for (size_t o = 0; o < ko->n; o++)
		if (box_hit(rc, &ko->box[o]) || (lead && seg_hit(x0, y0, x1, y1, &ko->box[o])))
			return false;
	if (ko->ring &&
	    (circle_hits_box(ko->rx, ko->ry, ko->rr, rc) ||
	     (lead && !k->held && circle_hits_seg(ko->rx, ko->ry, ko->rr, x0, y0, x1, y1))))
		return false;
	for (size_t o = 0; o < nm; o++) {
		const struct mark *q = &marks[o];
		if (q != k && box_hit(rc, &q->circle))
			return false;
		if (q->placed &&
		    (box_hit(rc, &q->plate) || (lead && seg_hit(x0, y0, x1, y1, &q->plate)) ||
		     (q->leader && seg_hit(q->lx0, q->ly0, q->lx1, q->ly1, rc))))
			return false;
	}
	return true;
}

/* The label of k (w x h text) where it fits: right, left, above, below,
 * the diagonals, right next to the marker; then further out in 16
 * directions with a leader line. false when nowhere. */
static bool place_label(const km_render *r, struct mark *marks, size_t nm, struct mark *k,
                        const struct keep_off *ko, int w, int h)
{
	static const float dir[16][2] = {
	    {1, 0},          {-1, 0},          {0, -1},         {0, 1},
	    {0.71f, -0.71f}, {-0.71f, -0.71f}, {0.71f, 0.71f},  {-0.71f, 0.71f},
	    {0.38f, 0.92f},  {-0.38f, 0.92f},  {0.38f, -0.92f}, {-0.38f, -0.92f},
	    {0.92f, 0.38f},  {-0.92f, 0.38f},  {0.92f, -0.38f}, {-0.92f, -0.38f}};
	/* The held spot's label goes outside its hold ring. */
	float d0 = k->held ? 58.0f : k->rad + 6.0f;
	const float pw = (float)(w + 6), ph = (float)h;
	for (int ring = 0; ring < 7; ring++) {
		float d = d0 + (float)ring * 28.0f;
		int ndir = ring == 0 ? 8 : 16;
		for (int j = 0; j < ndir; j++) {
			float ux = dir[j][0], uy = dir[j][1];
			float ax = k->cx + ux * d, ay = k->cy + uy * d;
			/* The plate's side or corner nearest the marker at (ax, ay);
			 * straight above or below, also hung left or right of it. */
			float xs[3];
			int nx = 0;
			if (ux > 0.3f)
				xs[nx++] = ax;
			else if (ux < -0.3f)
				xs[nx++] = ax - pw;
			else {
				xs[nx++] = ax - pw * 0.5f;
				xs[nx++] = ax - 4.0f;
				xs[nx++] = ax - pw + 4.0f;
			}
			float y = uy > 0.3f ? ay : uy < -0.3f ? ay - ph : ay - ph * 0.5f;
			float edge = k->held ? 54.0f : k->rad + 3.5f;
			float x0 = k->cx + ux * edge, y0 = k->cy + uy * edge;
			for (int a = 0; a < nx; a++) {
				SDL_Rect rc = {(int)floorf(xs[a]), (int)floorf(y), (int)pw,
				               (int)ph};
				if (!label_fits(r, marks, nm, k, ko, &rc, ring > 0, x0, y0, ax, ay))
					continue;
				k->placed = true;
				k->plate = rc;
				k->leader = ring > 0;
				k->lx0 = x0;
				k->ly0 = y0;
				k->lx1 = ax;
				k->ly1 = ay;
				return true;
			}
		}
	}
	return false;
}

/* Lays every label out (the held spot first, then the strongest); returns
 * how many fit nowhere. */
static size_t place_labels(km_render *r, struct mark *marks, size_t nm, const struct keep_off *ko)
{
	size_t order[KM_VIEW_MAX_MARKERS], no = 0;
	for (size_t i = 0; i < nm; i++) {
		marks[i].placed = false;
		if (!marks[i].text[0])
			continue;
		size_t j = no++;
		/* Insertion: held first, then by peak pressure. */
		while (j > 0) {
			const struct mark *p = &marks[order[j - 1]], *q = &marks[i];
			bool before =
			    q->held != p->held ? q->held : q->m->peak_kpa > p->m->peak_kpa;
			if (!before)
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	size_t hidden = 0;
	for (size_t o = 0; o < no; o++) {
		struct mark *k = &marks[order[o]];
		struct text_entry *e = km__rtext_get(r, F_SMALL, k->col, k->text);
		if (!e || !place_label(r, marks, nm, k, ko, e->w, e->h))
			hidden++;
	}
	return hidden;
}

static void draw_markers(km_render *r, const struct km_view_snapshot *s, struct keep_off *ko)
{
	struct mark marks[KM_VIEW_MAX_MARKERS];
	size_t nm = gather_marks(r, s, marks);
	for (size_t i = 0; i < nm; i++) {
		struct mark *k = &marks[i];
		const struct km_view_marker *m = k->m;
		/* The held spot by the name its hold panel shows (a tool's
		 * contact reads as a "landmark"); a spot the detector holds for
		 * bone (or the spine) is not labelled as a knot: its grey circle
		 * says enough. */
		const char *name = k->held && s->hold.name[0] ? s->hold.name : m->name;
		if (!k->held && (m->over_spine || m->landmark))
			name = "";
		if (!name[0])
			k->text[0] = '\0';
		else if (m->has_stiffness && fabsf(m->stiffness_pct) >= 0.5f) /* not "+0%" */
			snprintf(k->text, sizeof k->text, "%s %+.0f%%", name,
			         (double)m->stiffness_pct);
		else
			snprintf(k->text, sizeof k->text, "%s", name);
	}
	size_t hidden = place_labels(r, marks, nm, ko);
	SDL_Rect more = {0, 0, 0, 0};
	char note[32] = "";
	if (hidden > 0 && ko->n < ko->cap) {
		/* A corner of the map for the note, clear of the ring, tags and
		 * overlays; then the labels again around it. */
		snprintf(note, sizeof note, "+%zu more", hidden);
		struct text_entry *e = km__rtext_get(r, F_SMALL, C_TEXT, "+99 more");
		const SDL_Rect *hr = &r->heat_rect;
		int w = (e ? e->w : 70) + 8, h = e ? e->h : 18;
		SDL_Rect corner[4] = {{hr->x + hr->w - w - 6, hr->y + 6, w, h},
		                      {hr->x + 6, hr->y + 6, w, h},
		                      {hr->x + 6, hr->y + hr->h - h - 6, w, h},
		                      {hr->x + hr->w - w - 6, hr->y + hr->h - h - 6, w, h}};
		more = corner[0];
		for (int c = 0; c < 4; c++) {
			bool ok =
			    !(ko->ring && circle_hits_box(ko->rx, ko->ry, ko->rr, &corner[c]));
			for (size_t o = 0; o < ko->n && ok; o++)
				ok = !box_hit(&corner[c], &ko->box[o]);
			for (size_t o = 0; o < nm && ok; o++)
				ok = !box_hit(&corner[c], &marks[o].circle);
			if (ok) {
				more = corner[c];
				break;
			}
		}
		ko->box[ko->n++] = more;
		hidden = place_labels(r, marks, nm, ko);
		snprintf(note, sizeof note, "+%zu more", hidden);
	}
	for (size_t i = 0; i < nm; i++) {
		const struct mark *k = &marks[i];
		km__rarc(r->ren, k->cx, k->cy, k->rad - 3.5f, k->rad + 3.5f, 0.0f, 360.0f, 0x000000,
		         170);
		km__rarc(r->ren, k->cx, k->cy, k->rad - 1.5f, k->rad + 1.5f, 0.0f, 360.0f, k->col,
		         255);
		km__rlayout_add(r, KM_BOX_MARKER, k->m->track_id, k->circle);
	}
	for (size_t i = 0; i < nm; i++) {
		const struct mark *k = &marks[i];
		if (!k->placed)
			continue;
		if (k->leader) {
			km__rline(r->ren, k->lx0, k->ly0, k->lx1, k->ly1, 3.0f, 0x000000, 150);
			km__rline(r->ren, k->lx0, k->ly0, k->lx1, k->ly1, 1.2f, k->col, 230);
		}
		/* Dark plate behind the label so it reads on any colour. */
		km__rfill(r->ren, k->plate.x, k->plate.y, k->plate.w, k->plate.h, 0x000000, 150);
		km__rtext(r, F_SMALL, k->col, k->plate.x + 3, k->plate.y, AL_LEFT, k->text);
		km__rlayout_add(r, KM_BOX_LABEL, k->m->track_id, k->plate);
		r->layout.n_labels++;
	}
	r->layout.n_markers = nm;
	r->layout.n_hidden = hidden;
	if (hidden > 0) {
		km__rfill(r->ren, more.x, more.y, more.w, more.h, 0x000000, 170);
		km__rtext(r, F_SMALL, C_TEXT, more.x + 4, more.y, AL_LEFT, note);
		km__rlayout_add(r, KM_BOX_MORE, 0, more);
	}
}

/* ------------------------------------------------------------------------ */
/* Hold ring                                                                 */
/* ------------------------------------------------------------------------ */

uint32_t km_render_band_colour(enum km_view_band band, bool paused)
{
	if (paused)
		return C_PAUSE;
	switch (band) {
	case KM_BAND_TOO_LIGHT:
		return C_LIGHT;
	case KM_BAND_GOOD:
		return C_GOOD;
	case KM_BAND_TOO_MUCH:
		return C_MUCH;
	default:
		return 0xd8d8d8u;
	}
}

float km_render_hold_ring(SDL_Renderer *ren, float cx, float cy, float radius, float thickness,
                          const struct km_view_hold *h)
{
	if (!ren || !h || !(radius > 0.0f) || !(thickness > 0.0f))
		return 0.0f;
	float rel = h->release_s > 0.0f ? h->release_s : 60.0f;
	float tgt = h->target_s > 0.0f ? h->target_s : 30.0f;
	float frac = isfinite(h->held_s) ? KM_CLAMP(h->held_s / rel, 0.0f, 1.0f) : 0.0f;
	float end = 360.0f * frac;
	bool paused = h->state == KM_VIEW_HOLD_PAUSED;
	uint32_t col = h->ease_off ? C_MUCH : km_render_band_colour(h->band, paused);
	float r_in = radius - thickness * 0.5f, r_out = radius + thickness * 0.5f;
	SDL_SetRenderDrawBlendMode(ren, SDL_BLENDMODE_BLEND);
	/* Dark halo: the ring must read on viridis yellow and turbo green alike. */
	km__rarc(ren, cx, cy, r_in - 3.0f, r_out + 3.0f, 0.0f, 360.0f, 0x000000, 190);
	km__rarc(ren, cx, cy, r_in, r_out, end, 360.0f, C_TRACK, 255);
	km__rarc(ren, cx, cy, r_in, r_out, 0.0f, end, col, 255);
	if (tgt < rel) {
		float a = 360.0f * tgt / rel * KM_PI / 180.0f;
		float s = sinf(a), c = cosf(a);
		km__rline(ren, cx + s * (r_in - 4.0f), cy - c * (r_in - 4.0f),
		          cx + s * (r_out + 4.0f), cy - c * (r_out + 4.0f), 3.0f, 0xffffff, 255);
	}
	return end;
}

/* ------------------------------------------------------------------------ */
/* The whole view                                                            */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Guided routine                                                            */
/* ------------------------------------------------------------------------ */

static void draw_triangle(SDL_Renderer *ren, float x0, float y0, float x1, float y1, float x2,
                          float y2, uint32_t rgb, uint8_t a)
{
	SDL_Vertex v[3];
	memset(v, 0, sizeof v);
	v[0].position.x = x0, v[0].position.y = y0;
	v[1].position.x = x1, v[1].position.y = y1;
	v[2].position.x = x2, v[2].position.y = y2;
	for (int i = 0; i < 3; i++)
		v[i].color = rgba(rgb, a);
	SDL_RenderGeometry(ren, NULL, v, 3, NULL, 0);
}
/* Target rings on the next spot, an arrow from the ball to it, and a strip
 * above the map with the step and its countdown. */
static void draw_guided_map(km_render *r, const struct km_view_snapshot *s)
{
	const struct km_guided_view *g = &s->guided;
	const struct km_frame *f = s->frame;
	const SDL_Rect *hr = &r->heat_rect;
	if (g->target_valid) {
		float tx = mm_to_x(r, f, g->target_x_mm), ty = mm_to_y(r, f, g->target_y_mm);
		/* A slow pulse (1 s, on the clock, whatever the drawing rate):
		 * easy to find on the map at a glance. */
		float ph = (float)fmod(r->clock_s, 1.0);
		float pr = 30.0f + 10.0f * sinf(ph * 2.0f * KM_PI);
		uint32_t col = g->state == KM_GUIDED_HOLD ? C_GOOD : C_WARN;
		km__rarc(r->ren, tx, ty, pr - 2.0f, pr + 2.0f, 0.0f, 360.0f, col, 200);
		km__rarc(r->ren, tx, ty, 16.0f, 20.0f, 0.0f, 360.0f, 0x000000, 160);
		km__rarc(r->ren, tx, ty, 17.0f, 19.0f, 0.0f, 360.0f, col, 255);
		km__rline(r->ren, tx - 26, ty, tx - 10, ty, 2.0f, col, 255);
		km__rline(r->ren, tx + 10, ty, tx + 26, ty, 2.0f, col, 255);
		km__rline(r->ren, tx, ty - 26, tx, ty - 10, 2.0f, col, 255);
		km__rline(r->ren, tx, ty + 10, tx, ty + 26, 2.0f, col, 255);
		char label[32];
		snprintf(label, sizeof label, "spot %u/%u", (unsigned)g->spot_index + 1,
		         (unsigned)g->n_spots);
		/* Above the rings (below near the top edge): the markers' own
		 * labels sit to their upper right. */
		struct text_entry *e = km__rtext_get(r, F_SMALL, col, label);
		if (e) {
			/* Outside the hold ring when one is drawn there. */
			int off = s->hold.state != KM_VIEW_HOLD_IDLE ? 60 : 44;
			int lx = (int)tx - e->w / 2, ly = (int)ty - off - e->h;
			if (ly < hr->y)
				ly = (int)ty + off;
			km__rfill(r->ren, lx - 4, ly, e->w + 8, e->h, 0x000000, 170);
			km__rtext(r, F_SMALL, col, lx, ly, AL_LEFT, label);
		}
		if (g->state == KM_GUIDED_PLACE && g->pointer_valid && g->distance_mm > 20.0f) {
			float px = mm_to_x(r, f, g->pointer_x_mm),
			      py = mm_to_y(r, f, g->pointer_y_mm);
			float dx = tx - px, dy = ty - py, len = sqrtf(dx * dx + dy * dy);
			if (len > 40.0f) {
				float ux = dx / len, uy = dy / len;
				/* From just off the ball to just outside the rings. */
				float x0 = px + ux * 12.0f, y0 = py + uy * 12.0f;
				float x1 = tx - ux * 34.0f, y1 = ty - uy * 34.0f;
				km__rline(r->ren, x0, y0, x1, y1, 8.0f, 0x000000, 150);
				km__rline(r->ren, x0, y0, x1, y1, 4.0f, 0xffffff, 240);
				draw_triangle(r->ren, x1 + ux * 14.0f, y1 + uy * 14.0f,
				              x1 - uy * 9.0f, y1 + ux * 9.0f, x1 + uy * 9.0f,
				              y1 - ux * 9.0f, 0xffffff, 240);
				km__rarc(r->ren, px, py, 6.0f, 9.0f, 0.0f, 360.0f, 0xffffff, 240);
			}
		}
	}
	/* Step strip above the map, where the grid title goes otherwise. */
	char line[96];
	if (g->phase_total_s > 0.0f && g->state != KM_GUIDED_PLACE)
		snprintf(line, sizeof line, "Guided: %s   %.0f s", km__rguided_title(g),
		         ceil((double)g->phase_left_s));
	else if (g->state == KM_GUIDED_PLACE && g->pointer_valid && g->target_valid)
		snprintf(line, sizeof line, "Guided: %s   %.0f cm to go", km__rguided_title(g),
		         (double)g->distance_mm / 10.0);
	else
		snprintf(line, sizeof line, "Guided: %s", km__rguided_title(g));
	int sy = KM_MAX(hr->y - 34, 4);
	km__rfill(r->ren, hr->x, sy, hr->w, 30, C_BG, 255);
	uint32_t col = g->state == KM_GUIDED_STOPPED ? C_MUCH : C_GOOD;
	km__rtext(r, F_BODY, col, hr->x + 2, sy + 2, AL_LEFT, line);
	if (g->phase_total_s > 0.0f) {
		float u = 1.0f - KM_CLAMP(g->phase_left_s / g->phase_total_s, 0.0f, 1.0f);
		km__rfill(r->ren, hr->x, sy + 27, hr->w, 3, C_TRACK, 255);
		km__rfill(r->ren, hr->x, sy + 27, (int)((float)hr->w * u), 3, col, 255);
	}
}

static void draw_title(km_render *r, const struct km_frame *f)
{
	const SDL_Rect *hr = &r->heat_rect;
	if (f->geometry == KM_GEOMETRY_CYLINDER) {
		km__rtext(r, F_SMALL, C_DIM, hr->x, hr->y - 40, AL_LEFT,
		          "Roller, unrolled: angle around the roller ->");
		for (int d = 0; d <= 360; d += 90) {
			int x = hr->x + hr->w * d / 360;
			km__rfill(r->ren, x - 1, hr->y - 6, 2, 6, 0xd0d0d0, 255);
			km__rtextf(r, F_SMALL, C_TEXT, x, hr->y - 24, AL_CENTER, "%d\xc2\xb0", d);
		}
		/* The seam: left and right edges are the same line on the roller. */
		for (int y = hr->y; y < hr->y + hr->h; y += 12) {
			km__rfill(r->ren, hr->x - 3, y, 2, 6, 0xffffff, 200);
			km__rfill(r->ren, hr->x + hr->w + 1, y, 2, 6, 0xffffff, 200);
		}
	} else if (sensor_for(r, f) &&
	           fabsf(r->sens_row_pitch - r->sens_col_pitch) >
	               0.005f * KM_MAX(r->sens_row_pitch, r->sens_col_pitch)) {
		/* Rows and columns spaced differently: both, as the file says;
		 * a line higher when a narrow map would put it over the colour
		 * bar's unit. */
		char t[96];
		snprintf(t, sizeof t, "%u x %u cells, rows %.4g mm apart, columns %.4g mm",
		         (unsigned)f->rows, (unsigned)f->cols, (double)r->sens_row_pitch,
		         (double)r->sens_col_pitch);
		struct text_entry *e = km__rtext_get(r, F_SMALL, C_DIM, t);
		int y = e && e->w > hr->w + 36 ? hr->y - 44 : hr->y - 24;
		km__rtext(r, F_SMALL, C_DIM, hr->x, KM_MAX(y, 2), AL_LEFT, t);
	} else {
		/* The pitch as the recording has it (7.5 mm, not 8). */
		km__rtextf(r, F_SMALL, C_DIM, hr->x, hr->y - 24, AL_LEFT, "%u x %u cells, %.3g mm",
		           (unsigned)f->rows, (unsigned)f->cols, (double)f->pitch_mm);
	}
}

static void clear_background(km_render *r)
{
	SDL_SetRenderDrawColor(r->ren, (C_BG >> 16) & 0xff, (C_BG >> 8) & 0xff, C_BG & 0xff, 255);
	SDL_RenderClear(r->ren);
}

/* What does not change from frame to frame: the map's title, the colour bar
 * with its ticks, the heading. */
static void draw_static(km_render *r, const struct km_frame *f, const struct km_view_ui *ui)
{
	draw_title(r, f);
	draw_colour_bar(r, ui->colormap, ui->scale, (f->flags & KM_FRAME_UNCALIBRATED) != 0);
	km__rtext(r, F_LARGE, C_TEXT, 716, 8, AL_LEFT, "knotmap");
}

/* Copies the static layer, redrawing it into its texture first when what it
 * shows changed. false: no render targets here (drawn directly instead). */
static bool static_layer(km_render *r, const struct km_frame *f, const struct km_view_ui *ui)
{
	struct static_key k;
	memset(&k, 0, sizeof k);
	k.map = ui->colormap;
	k.scale = ui->scale;
	k.lo = r->lo;
	k.hi = r->hi;
	k.rect = r->heat_rect;
	k.rows = f->rows;
	k.cols = f->cols;
	k.pitch_mm = f->pitch_mm;
	k.row_pitch = sensor_for(r, f) ? r->sens_row_pitch : 0.0f;
	k.col_pitch = sensor_for(r, f) ? r->sens_col_pitch : 0.0f;
	k.geometry = f->geometry;
	k.counts = (f->flags & KM_FRAME_UNCALIBRATED) != 0;
	if (r->static_failed || r->cfg.no_static_cache)
		return false;
	if (!r->static_tex) {
		r->static_tex =
		    SDL_CreateTexture(r->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_TARGET,
		                      r->cfg.width, r->cfg.height);
		if (!r->static_tex) {
			r->static_failed = true;
			return false;
		}
		SDL_SetTextureBlendMode(r->static_tex, SDL_BLENDMODE_NONE);
		r->static_valid = false;
	}
	if (!r->static_valid || memcmp(&k, &r->static_key, sizeof k) != 0) {
		SDL_Texture *prev = SDL_GetRenderTarget(r->ren);
		if (SDL_SetRenderTarget(r->ren, r->static_tex) != 0) {
			r->static_failed = true;
			return false;
		}
		SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_BLEND);
		clear_background(r);
		draw_static(r, f, ui);
		SDL_SetRenderTarget(r->ren, prev);
		SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_BLEND);
		r->static_key = k;
		r->static_valid = true;
		r->stats.static_redraws++;
	}
	SDL_RenderCopy(r->ren, r->static_tex, NULL, NULL);
	return true;
}

int km_render_draw(km_render *r, const struct km_view_snapshot *snap,
                   const struct km_view_ui *ui_in, float dt_s)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	struct km_view_ui ui = ui_in ? *ui_in : km_view_ui_default();
	if (ui.colormap >= KM_COLORMAP_COUNT || ui.colormap < 0)
		ui.colormap = KM_COLORMAP_VIRIDIS;
	r->frame_no++;
	if (dt_s > 0.0f && dt_s < 10.0f)
		r->clock_s += dt_s;
	double t_start = km__rcpu_s(), text_start = r->stats.text_s;
	SDL_SetRenderDrawBlendMode(r->ren, SDL_BLENDMODE_BLEND);

	const struct km_view_snapshot *s = snap && snap->frame && snap->frame->kpa ? snap : NULL;
	const struct km_frame *f = s ? s->frame : NULL;
	if (f) {
		r->pos_row_pitch = s->pos_row_pitch_mm > 0.0f ? s->pos_row_pitch_mm : f->pitch_mm;
		r->pos_col_pitch = s->pos_col_pitch_mm > 0.0f ? s->pos_col_pitch_mm : f->pitch_mm;
	}
	layout(r, f);
	update_range(r, f, &ui, dt_s);
	memset(&r->layout, 0, sizeof r->layout);
	{
		const SDL_Rect *hr = &r->heat_rect;
		SDL_Rect bar = {hr->x + hr->w + 16, hr->y - 24, 22 + 9 + 72, hr->h + 24 + 10};
		SDL_Rect hud = {716, 0, r->cfg.width - 716, 566};
		SDL_Rect guide = {0, 566, r->cfg.width, r->cfg.height - 566};
		km__rlayout_add(r, KM_BOX_COLOUR_BAR, 0, bar);
		km__rlayout_add(r, KM_BOX_PANEL, 0, hud);
		km__rlayout_add(r, KM_BOX_PANEL, 0, guide);
	}
	int err = KM_OK;
	double heat_s = 0.0;
	/* The background, title, colour bar and heading from the cache (drawn
	 * first: nothing drawn later is under them), else drawn here. */
	if (!s || !static_layer(r, f, &ui)) {
		clear_background(r);
		if (s)
			draw_static(r, f, &ui);
	}
	if (s) {
		double t_heat = km__rcpu_s();
		err = upload_heat(r, s, ui.colormap, ui.scale);
		if (err == KM_OK)
			SDL_RenderCopy(r->ren, r->heat, NULL, &r->heat_rect);
		heat_s = km__rcpu_s() - t_heat;
		if (ui.show_outline && s->outline_valid)
			draw_outline(r, s);
		/* What the labels keep off, worked out before anything is drawn
		 * on the map: the ring and its seconds, the guided target, the
		 * words drawn over the map. */
		SDL_Rect obst[16];
		size_t n_obst = 0;
		struct keep_off ko;
		memset(&ko, 0, sizeof ko);
		float spine_x = 0.0f, spine_y0 = 0.0f, spine_y1 = 0.0f;
		if (ui.show_outline && s->midline_valid) {
			spine_x = mm_to_x(r, f, s->midline_x_mm);
			spine_y0 = mm_to_y(r, f, s->midline_top_mm);
			spine_y1 = mm_to_y(r, f, s->midline_bottom_mm);
			struct text_entry *e = km__rtext_get(r, F_SMALL, C_DIM, "spine");
			if (e) {
				SDL_Rect rc = {(int)spine_x - e->w / 2, (int)spine_y1 + 2, e->w,
				               e->h};
				obst[n_obst++] = rc;
				km__rlayout_add(r, KM_BOX_OVERLAY, 0, rc);
			}
		}
		bool banner =
		    s->tensing || s->hold.ease_off || s->stats.disconnected || s->stats.ended;
		float hold_cx = 0.0f, hold_cy = 0.0f;
		char hold_num[16] = "";
		SDL_Rect hold_tag = {0, 0, 0, 0};
		if (s->hold.state != KM_VIEW_HOLD_IDLE) {
			hold_cx = mm_to_x(r, f, s->hold.x_mm);
			hold_cy = mm_to_y(r, f, s->hold.y_mm);
			SDL_Rect ring = {(int)hold_cx - 54, (int)hold_cy - 54, 109, 109};
			ko.ring = true;
			ko.rx = hold_cx;
			ko.ry = hold_cy;
			ko.rr = 54.5f;
			km__rlayout_add(r, KM_BOX_HOLD_RING, s->hold.track_id, ring);
			int secs = km__rhold_secs(&s->hold);
			snprintf(hold_num, sizeof hold_num, "%d s", secs);
			struct text_entry *e = km__rtext_get(r, F_LARGE, C_TEXT, hold_num);
			if (e) {
				/* Under the ring; over it near the bottom edge or
				 * where a banner would hide it. */
				int ty = (int)hold_cy + 60;
				SDL_Rect below = {(int)hold_cx - e->w / 2 - 6, ty, e->w + 12, e->h};
				SDL_Rect ban = km__rbanner_rect(r, true);
				if (ty + e->h > r->heat_rect.y + r->heat_rect.h ||
				    (banner && box_hit(&below, &ban)))
					ty = (int)hold_cy - 60 - e->h;
				SDL_Rect tag = {(int)hold_cx - e->w / 2 - 6, ty, e->w + 12, e->h};
				hold_tag = tag;
				obst[n_obst++] = tag;
				km__rlayout_add(r, KM_BOX_HOLD_TAG, s->hold.track_id, tag);
			}
		}
		if (s->guided.active && s->guided.target_valid) {
			float tx = mm_to_x(r, f, s->guided.target_x_mm),
			      ty = mm_to_y(r, f, s->guided.target_y_mm);
			/* The pulsing rings (40 px at most) and the "spot i/n" word
			 * above or below them (further out around a hold ring). */
			SDL_Rect rc = {(int)tx - 64, (int)ty - 84, 129, 169};
			obst[n_obst++] = rc;
			km__rlayout_add(r, KM_BOX_GUIDED, 0, rc);
		}
		if (banner) {
			SDL_Rect rc = km__rbanner_rect(r, true);
			obst[n_obst++] = rc;
			km__rlayout_add(r, KM_BOX_OVERLAY, 0, rc);
		}
		const SDL_Rect *hr = &r->heat_rect;
		if (ui.frozen || (s->stats.replay && s->stats.replay_paused)) {
			SDL_Rect rc = {hr->x + hr->w - 112, hr->y + hr->h - 40, 104, 32};
			obst[n_obst++] = rc;
			km__rlayout_add(r, KM_BOX_OVERLAY, 0, rc);
		}
		if (ui.notice && *ui.notice) {
			SDL_Rect rc = {hr->x + 8, hr->y + hr->h - 40, 380, 32};
			obst[n_obst++] = rc;
			km__rlayout_add(r, KM_BOX_OVERLAY, 0, rc);
		}
		if (ui.show_outline && s->midline_valid) {
			/* Dashed spine midline: holds are never timed on it. */
			for (float y = spine_y0; y < spine_y1; y += 14.0f)
				km__rline(r->ren, spine_x, y, spine_x, KM_MIN(y + 7.0f, spine_y1),
				          2.0f, 0xffffff, 110);
			km__rtext(r, F_SMALL, C_DIM, (int)spine_x, (int)spine_y1 + 2, AL_CENTER,
			          "spine");
		}
		if (s->centre_valid) {
			float cx = mm_to_x(r, f, s->centre_x_mm),
			      cy = mm_to_y(r, f, s->centre_y_mm);
			km__rline(r->ren, cx - 9, cy, cx + 9, cy, 2.0f, 0xffffff, 200);
			km__rline(r->ren, cx, cy - 9, cx, cy + 9, 2.0f, 0xffffff, 200);
		}
		/* Guided, placing / holding / resting: only the target counts; the
		 * other candidates would be clutter at a glance. */
		bool guiding = s->guided.active && (s->guided.state == KM_GUIDED_PLACE ||
		                                    s->guided.state == KM_GUIDED_HOLD ||
		                                    s->guided.state == KM_GUIDED_REST);
		if (ui.show_markers && !guiding) {
			ko.box = obst;
			ko.n = n_obst;
			ko.cap = KM_ARRAY_SIZE(obst);
			draw_markers(r, s, &ko);
		}
		if (s->hold.state != KM_VIEW_HOLD_IDLE) {
			struct km_view_hold h = s->hold;
			h.ease_off = h.ease_off || s->tensing;
			km_render_hold_ring(r->ren, hold_cx, hold_cy, 46.0f, 10.0f, &h);
			/* Seconds under the ring, on a plate; the spot itself stays
			 * visible inside the ring. */
			if (hold_tag.w > 0) {
				km__rfill(r->ren, hold_tag.x, hold_tag.y, hold_tag.w, hold_tag.h,
				          0x000000, 170);
				km__rtext(r, F_LARGE, C_TEXT, (int)hold_cx, hold_tag.y, AL_CENTER,
				          hold_num);
			}
		}
		if (s->guided.active)
			draw_guided_map(r, s);
		if (s->tensing || s->hold.ease_off)
			km__rbanner(r, C_MUCH, "EASE OFF", "tensing up: too much pressure");
		else if (s->stats.disconnected)
			km__rbanner(r, C_WARN, "Mat unplugged", "waiting for it to come back...");
		else if (s->stats.ended)
			km__rbanner(r, C_DIM, "End of recording",
			            "Left arrow to seek back, Q to quit");
		if (ui.frozen || (s->stats.replay && s->stats.replay_paused)) {
			km__rfill(r->ren, hr->x + hr->w - 112, hr->y + hr->h - 40, 104, 32,
			          0x000000, 200);
			km__rtext(r, F_BODY, C_WARN, hr->x + hr->w - 60, hr->y + hr->h - 36,
			          AL_CENTER, "PAUSED");
		}
	} else {
		km__rfill(r->ren, r->heat_rect.x, r->heat_rect.y, r->heat_rect.w, r->heat_rect.h,
		          C_PANEL, 255);
		km__rtext(r, F_LARGE, C_DIM, r->heat_rect.x + r->heat_rect.w / 2,
		          r->heat_rect.y + r->heat_rect.h / 2 - 16, AL_CENTER,
		          "Waiting for the mat...");
	}
	if (ui.notice && *ui.notice) {
		const SDL_Rect *hr = &r->heat_rect;
		km__rfill(r->ren, hr->x + 8, hr->y + hr->h - 40, 380, 32, 0x000000, 200);
		km__rtext(r, F_SMALL, C_TEXT, hr->x + 16, hr->y + hr->h - 33, AL_LEFT, ui.notice);
	}
	km__rdraw_hud(r, s, &ui);
	km__rdraw_guidance(r, s);
	if (ui.history)
		km__rdraw_history(r, ui.history);
	if (ui.show_help)
		km__rdraw_help(r);
	if (ui.red_flag)
		km__rdraw_red_flag(r);
	r->stats.draws++;
	r->stats.heat_s += heat_s;
	r->stats.overlay_s += km__rcpu_s() - t_start - heat_s - (r->stats.text_s - text_start);
	return err;
}
