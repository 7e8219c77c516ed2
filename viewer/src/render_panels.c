/*
 * The renderer's panels around the map (render.c draws the map and what
 * lies on it): the hold panel, the HUD counters and messages, the guidance
 * line, banners, the help and the red-flag screen. Sized to be read from
 * 1-2 m away: big digits for the hold, few words, strong colours.
 */
#include <SDL.h>
#include <SDL_ttf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/history_screen.h"
#include "knotmap/render.h"
#include "render_int.h"

static const char *band_words(const struct km_view_hold *h)
{
	if (h->ease_off)
		return "EASE OFF";
	switch (h->band) {
	case KM_BAND_TOO_LIGHT:
		return "TOO LIGHT";
	case KM_BAND_GOOD:
		return "GOOD PRESSURE";
	case KM_BAND_TOO_MUCH:
		return "TOO MUCH";
	default:
		return "";
	}
}

const char *km__rguided_title(const struct km_guided_view *g);

int km__rhold_secs(const struct km_view_hold *h)
{
	if (!(isfinite(h->held_s) && h->held_s > 0.0f))
		return 0;
	/* Counting up: whole seconds gone by. Over: its length as the list
	 * and the summary print it (rounded). */
	return h->state == KM_VIEW_HOLD_DONE ? (int)lroundf(h->held_s) : (int)h->held_s;
}

/* The hold panel: the hold now (HOLD_NOW_H px), then the list of the
 * session's holds (hold_list_h). */
#define HOLD_NOW_H 262
#define HOLD_ROWS 4 /* rows of the list; older holds are counted in its heading */
#define HOLD_ROW_H 21

static int hold_list_h(const struct km_view_snapshot *s)
{
	if (!s || s->n_holds == 0 || s->guided.active)
		return 0;
	return 4 + HOLD_ROW_H * (1 + (int)KM_MIN(s->n_holds, (size_t)HOLD_ROWS));
}

/* Most recent first: the running one highlighted, finished ones with their
 * length (the summary's). Each row is a layout box, so tests see that the
 * rows stay inside the panel and off each other. */
static void draw_hold_list(km_render *r, const struct km_view_snapshot *s, int x, int y, int w)
{
	size_t rows = KM_MIN(s->n_holds, (size_t)HOLD_ROWS);
	km__rfill(r->ren, x + 10, y, w - 20, 1, C_TRACK, 255);
	char head[64];
	if (s->holds_total > rows)
		snprintf(head, sizeof head, "Holds this session: %u (latest %zu)",
		         (unsigned)s->holds_total, rows);
	else
		snprintf(head, sizeof head, "Holds this session: %u", (unsigned)s->holds_total);
	SDL_Rect hb = {x + 14, y + 3, w - 28, HOLD_ROW_H - 2};
	km__rtext(r, F_SMALL, C_DIM, x + 14, y + 3, AL_LEFT, head);
	km__rlayout_add(r, KM_BOX_HOLD_LIST, 0, hb);
	int yy = y + 3 + HOLD_ROW_H;
	for (size_t i = 0; i < rows; i++, yy += HOLD_ROW_H) {
		const struct km_view_hold_item *h = &s->holds[i];
		char secs[32];
		km_view_format_hold_item(h, secs, sizeof secs);
		uint32_t col = h->running ? C_GOOD : C_TEXT;
		SDL_Rect rc = {x + 8, yy, w - 16, HOLD_ROW_H - 2};
		if (h->running) {
			km__rfill(r->ren, rc.x, rc.y, rc.w, rc.h, 0x26313c, 255);
			km__rfill(r->ren, rc.x, rc.y, 4, rc.h, C_GOOD, 255);
		}
		int sw = km__rtext(r, F_SMALL, col, x + w - 14, yy, AL_RIGHT, secs);
		/* The name keeps off the seconds: cut to fit when it must. */
		char name[KM_VIEW_NAME_MAX];
		snprintf(name, sizeof name, "%s", h->name[0] ? h->name : "a spot");
		struct text_entry *e = km__rtext_get(r, F_SMALL, col, name);
		while (e && e->w > w - 28 - sw - 10 && strlen(name) > 1) {
			name[strlen(name) - 1] = '\0';
			e = km__rtext_get(r, F_SMALL, col, name);
		}
		km__rtext(r, F_SMALL, col, x + 14, yy, AL_LEFT, name);
		km__rlayout_add(r, KM_BOX_HOLD_LIST, h->track_id, rc);
	}
}

static void draw_hold_now(km_render *r, const struct km_view_snapshot *s, int x, int y, int w);

static void draw_hold_panel(km_render *r, const struct km_view_snapshot *s, int x, int y, int w)
{
	int lh = hold_list_h(s);
	km__rfill(r->ren, x, y, w, HOLD_NOW_H + lh, C_PANEL, 255);
	SDL_Rect now = {x, y, w, HOLD_NOW_H};
	km__rlayout_add(r, KM_BOX_HOLD_PANEL, s->hold.track_id, now);
	draw_hold_now(r, s, x, y, w);
	if (lh > 0)
		draw_hold_list(r, s, x, y + HOLD_NOW_H, w);
}

static void draw_hold_now(km_render *r, const struct km_view_snapshot *s, int x, int y, int w)
{
	struct km_view_hold hold = s->hold;
	hold.ease_off = hold.ease_off || s->tensing;
	const struct km_view_hold *h = &hold;
	if (h->state == KM_VIEW_HOLD_IDLE && s->guided.active) {
		const struct km_guided_view *g = &s->guided;
		km__rtext(r, F_LARGE, C_GOOD, x + 14, y + 12, AL_LEFT, km__rguided_title(g));
		int yy = y + 50;
		/* One big number: how far, or how long. */
		if (g->state == KM_GUIDED_PLACE && g->pointer_valid && g->target_valid) {
			km__rtextf(r, F_BANNER, C_TEXT, x + 14, yy, AL_LEFT, "%.0f cm to go",
			           (double)g->distance_mm / 10.0);
			yy += 52;
		} else if (g->phase_total_s > 0.0f) {
			km__rtextf(r, F_BANNER, C_TEXT, x + 14, yy, AL_LEFT, "%.0f s",
			           ceil((double)g->phase_left_s));
			yy += 52;
		}
		km__rtext_wrap(r, F_BODY, C_TEXT, x + 14, yy, w - 28, AL_LEFT, g->prompt);
		km__rtext_wrap(r, F_SMALL, C_DIM, x + 14, y + 200, w - 28, AL_LEFT,
		               "Eyes closed is fine: the tones and voice lead the way. "
		               "X stops at once.");
		return;
	}
	if (h->state == KM_VIEW_HOLD_IDLE && s->stats.detection_off) {
		/* No spots can come: do not invite anyone to look for one. */
		km__rtext(r, F_LARGE, C_WARN, x + 14, y + 12, AL_LEFT, "No detection");
		km__rtext_wrap(r, F_BODY, C_DIM, x + 14, y + 52, w - 28, AL_LEFT,
		               "This source has no spot detection: the map shows pressure "
		               "only.");
		return;
	}
	if (h->state == KM_VIEW_HOLD_IDLE && s->stats.raw_units) {
		/* Spots come from the map's own contrast; no kPa rule judges them. */
		km__rtext(r, F_LARGE, C_TEXT, x + 14, y + 12, AL_LEFT, "No hold");
		km__rtext_wrap(r, F_BODY, C_DIM, x + 14, y + 52, w - 28, AL_LEFT,
		               "Raw sensor counts, not kPa: spots are found by the relative "
		               "rules only (contrast with the map around them), and no "
		               "pressure limit applies. Calibrate the mat for kPa.");
		return;
	}
	if (h->state == KM_VIEW_HOLD_IDLE) {
		km__rtext(r, F_LARGE, C_TEXT, x + 14, y + 12, AL_LEFT, "No hold");
		km__rtext_wrap(r, F_BODY, C_DIM, x + 14, y + 52, w - 28, AL_LEFT,
		               "Rest a ball or a roller under a candidate spot and keep "
		               "still: the timer starts by itself.");
		return;
	}
	bool paused = h->state == KM_VIEW_HOLD_PAUSED;
	uint32_t col = h->ease_off ? C_MUCH : km_render_band_colour(h->band, paused);
	if (h->state == KM_VIEW_HOLD_SETTLING)
		col = C_TEXT;
	int secs = km__rhold_secs(h);
	/* The number read from across the room. */
	int wd = km__rtextf(r, F_HUGE, col, x + 12, y - 6, AL_LEFT, "%d", secs);
	km__rtext(r, F_LARGE, col, x + 20 + wd, y + 72, AL_LEFT, "s");
	const char *state = h->state == KM_VIEW_HOLD_SETTLING ? "settling - keep still"
	                    : paused                          ? "PAUSED"
	                    : h->state == KM_VIEW_HOLD_DONE   ? "hold over"
	                                                      : "held";
	km__rtext(r, F_BODY, paused ? C_WARN : C_DIM, x + 20 + wd, y + 106, AL_LEFT, state);
	if (h->name[0])
		km__rtext(r, F_SMALL, C_DIM, x + w - 12, y + 10, AL_RIGHT, h->name);
	const char *bw = band_words(h);
	if (*bw)
		km__rtext(r, F_LARGE, h->ease_off ? C_MUCH : km_render_band_colour(h->band, false),
		          x + 14, y + 150, AL_LEFT, bw);
	const char *goal;
	char buf[96];
	float tgt = h->target_s > 0 ? h->target_s : 30.0f,
	      rel = h->release_s > 0 ? h->release_s : 60.0f;
	if (h->held_s >= rel) {
		goal = "Release now";
	} else if (h->held_s >= tgt) {
		snprintf(buf, sizeof buf, "Target met, release by %.0f s", (double)rel);
		goal = buf;
	} else {
		snprintf(buf, sizeof buf, "Target %.0f s, release by %.0f s", (double)tgt,
		         (double)rel);
		goal = buf;
	}
	km__rtext(r, F_BODY, h->held_s >= rel ? C_WARN : C_TEXT, x + 14, y + 192, AL_LEFT, goal);
	if (h->load_kpa > 0.0f)
		km__rtextf(r, F_SMALL, C_DIM, x + 14, y + 224, AL_LEFT, "load %.0f %s",
		           (double)h->load_kpa, s->stats.raw_units ? "counts" : "kPa");
	if (isfinite(h->stiffness_pct) && h->stiffness_pct != 0.0f)
		km__rtextf(r, F_SMALL, C_DIM, x + w - 12, y + 224, AL_RIGHT, "stiffness %+.0f%%",
		           (double)h->stiffness_pct);
}

static uint32_t level_colour(enum km_view_level l)
{
	switch (l) {
	case KM_VIEW_GOOD:
		return C_GOOD;
	case KM_VIEW_WARN:
		return C_WARN;
	case KM_VIEW_ALERT:
		return C_MUCH;
	default:
		return C_TEXT;
	}
}

void km__rdraw_hud(km_render *r, const struct km_view_snapshot *s, const struct km_view_ui *ui)
{
	const int x = 716, w = 292;
	if (!s) /* with a snapshot the heading is in the static layer (render.c) */
		km__rtext(r, F_LARGE, C_TEXT, x, 8, AL_LEFT, "knotmap");
	if (s && s->stats.recording) {
		km__rarc(r->ren, (float)(x + w - 52), 24.0f, 0.0f, 7.0f, 0.0f, 360.0f, C_MUCH, 255);
		km__rtext(r, F_BODY, C_MUCH, x + w, 12, AL_RIGHT, "REC");
	}
	if (!s) {
		km__rtext_wrap(r, F_BODY, C_DIM, x, 60, w, AL_LEFT,
		               "Waiting for frames from the mat...");
		return;
	}
	draw_hold_panel(r, s, x, 48, w);

	char buf[512];
	km_view_format_stats(&s->stats, buf, sizeof buf);
	const int y0 = 48 + HOLD_NOW_H + hold_list_h(s) + 12;
	int y = y0;
	for (char *line = buf, *nl; *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		km__rtext(r, F_SMALL, y == y0 ? C_TEXT : C_DIM, x, y, AL_LEFT, line);
		y += 19;
	}
	km__rtextf(r, F_SMALL, C_DIM, x, y, AL_LEFT, "colours %s, %s, range %s",
	           km_colormap_name(ui->colormap), ui->scale == KM_SCALE_SQRT ? "sqrt" : "linear",
	           ui->fixed_range_kpa > 0 ? "fixed" : "auto");
	y += 19;
	if (s->sound)
		km__rtextf(r, F_SMALL, C_DIM, x, y, AL_LEFT, "sound on, volume %.0f %%",
		           (double)(s->volume * 100.0f));
	else
		km__rtext(r, F_SMALL, C_DIM, x, y, AL_LEFT, "sound off");
	y += 22;
	/* What limits the analysis, always in view: the guidance line gives
	 * way to a hold's own words. */
	const struct km_view_stats *st = &s->stats;
	char lim[96];
	if (st->raw_units)
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT,
		                    "Raw counts: relative rules only (not kPa)");
	else if (st->detection_off)
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT,
		                    "Detection off: pressure map only");
	if (st->guard_off) {
		snprintf(lim, sizeof lim, "Low frame rate (%.0f Hz): no tensing-up warnings",
		         (double)st->rate_hz);
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT, lim);
	}
	if (st->coarse) {
		snprintf(lim, sizeof lim, "Cells of %.0f mm, coarser than a knot: spots under a "
		         "tool only", (double)st->coarse_mm);
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT, lim);
	}
	if (st->pitch_guessed)
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT,
		                    "Cell size guessed from the body (the file gives none: "
		                    "--pitch MM)");
	if (st->bad_cells) {
		if (st->n_bad_cells > 0)
			snprintf(lim, sizeof lim, "%u faulty cell%s (NaN or negative) read as 0",
			         (unsigned)st->n_bad_cells, st->n_bad_cells == 1 ? "" : "s");
		else
			snprintf(lim, sizeof lim, "Faulty cells (NaN or negative) read as 0");
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT, lim);
	}
	if (st->saturated)
		y += km__rtext_wrap(r, F_SMALL, C_WARN, x, y, w, AL_LEFT,
		                    "Cells at the sensor's ceiling: stuck or overloaded");
	y += 4;
	/* Room for a two-line message above the guidance strip (566). */
	for (size_t i = 0; i < s->n_messages && i < KM_VIEW_MAX_MESSAGES && y + 2 * 19 <= 562;
	     i++) {
		const struct km_view_message *m = &s->messages[i];
		uint8_t fade = m->age_s > 20.0 ? 0 : 1;
		uint32_t col = fade ? level_colour(m->level) : C_DIM;
		y += km__rtext_wrap(r, F_SMALL, col, x, y, w, AL_LEFT, m->text) + 3;
	}
}

const char *km__rguidance(const struct km_view_snapshot *s, uint32_t *col)
{
	*col = C_TEXT;
	if (!s)
		return "Lie on the mat, or put a ball or roller on it.";
	const struct km_view_hold *h = &s->hold;
	if (s->tensing || h->ease_off) {
		*col = C_MUCH;
		return "Tensing up means too much pressure: ease off and breathe out slowly.";
	}
	if (s->seek_advice) {
		*col = C_WARN;
		return "See a healthcare professional before working on this area again.";
	}
	if (h->state == KM_VIEW_HOLD_SETTLING)
		return "Keep still and breathe: the timer starts in a moment.";
	if (h->state == KM_VIEW_HOLD_PAUSED) {
		*col = C_WARN;
		return "Paused: settle back onto the spot to carry on.";
	}
	if (h->state == KM_VIEW_HOLD_HOLDING) {
		float rel = h->release_s > 0 ? h->release_s : 60.0f;
		float tgt = h->target_s > 0 ? h->target_s : 30.0f;
		if (h->held_s >= rel) {
			*col = C_WARN;
			return "That is enough for this spot: release slowly.";
		}
		if (h->band == KM_BAND_TOO_MUCH) {
			*col = C_MUCH;
			return "Too much pressure: ease off to a tolerable level.";
		}
		if (h->band == KM_BAND_TOO_LIGHT)
			return "Lean in a little: aim for a tolerable 'good pain' that eases.";
		if (h->held_s >= tgt) {
			*col = C_GOOD;
			return "Target reached. Release when the spot has eased.";
		}
		*col = C_GOOD;
		return "Good. Breathe slowly and let it ease: hold 30-60 s.";
	}
	/* Say what limits the analysis rather than promise spots it cannot
	 * find (the terminal's warning is not where people look). Coarse cells
	 * first: on them no spot is found lying, counts or kPa (a bed sheet
	 * read without units; the panel says both). */
	if (s->stats.coarse) {
		*col = C_WARN;
		return "This mat's cells are coarser than a knot: place a ball under the spot to "
		       "find and time it.";
	}
	if (s->stats.raw_units) {
		*col = C_WARN;
		return "Raw counts, not kPa: relative rules only. Find a candidate spot, hold 30-60 s.";
	}
	if (s->stats.detection_off) {
		*col = C_WARN;
		return "Detection is off for this source: the map shows pressure only.";
	}
	if (s->stats.guard_off) {
		*col = C_WARN;
		return "Low frame rate: no tensing-up warnings. Ease off yourself if you tense up.";
	}
	if (s->stats.bad_cells || s->stats.saturated) {
		*col = C_WARN;
		return "Some cells read wrong (faulty or stuck): spots next to them are "
		       "unreliable.";
	}
	return "Find a candidate spot, then hold 30-60 s at a tolerable 'good pain' that eases.";
}

void km__rdraw_guidance(km_render *r, const struct km_view_snapshot *s)
{
	const int y = 566;
	km__rfill(r->ren, 0, y, r->cfg.width, r->cfg.height - y, C_PANEL, 255);
	uint32_t col;
	const char *g = km__rguidance(s, &col);
	if (s && s->guided.active && s->guided.prompt[0] && !s->tensing && !s->hold.ease_off) {
		g = s->guided.prompt;
		col = s->guided.state == KM_GUIDED_STOPPED ? C_MUCH : C_GOOD;
	}
	km__rtext(r, F_BODY, col, 16, y + 8, AL_LEFT, g);
	km__rtext(r, F_SMALL, C_DIM, 16, y + 36, AL_LEFT,
	          "Candidate tender/stiff spots, not a diagnosis. A knot lasting over a week, or "
	          "numbness,");
	km__rtext(r, F_SMALL, C_DIM, 16, y + 54, AL_LEFT,
	          "tingling or pain down a limb: see a healthcare professional.");
	km__rtext(r, F_SMALL, C_TEXT, r->cfg.width - 16, y + 54, AL_RIGHT,
	          s && s->guided.active ? "N skip spot   G end   X symptoms"
	                                : "H help   B history   G guided   X symptoms");
}

SDL_Rect km__rbanner_rect(const km_render *r, bool small)
{
	const SDL_Rect *hr = &r->heat_rect;
	/* Over the lower map (feet end), where it hides the least. */
	int hgt = small ? 92 : 60;
	int w = KM_MAX(hr->w - 16, 360), x = hr->x + hr->w / 2 - w / 2;
	SDL_Rect rc = {KM_MAX(x, 8), hr->y + hr->h - hgt - 56, w, hgt};
	return rc;
}

void km__rbanner(km_render *r, uint32_t col, const char *big, const char *small)
{
	SDL_Rect rc = km__rbanner_rect(r, small != NULL);
	int x = rc.x, y = rc.y, w = rc.w, hgt = rc.h;
	km__rfill(r->ren, x, y, w, hgt, 0x000000, 210);
	km__rfill(r->ren, x, y, 8, hgt, col, 255);
	km__rtext(r, F_BANNER, col, x + w / 2, y + 6, AL_CENTER, big);
	if (small)
		km__rtext(r, F_BODY, C_TEXT, x + w / 2, y + 60, AL_CENTER, small);
}

void km__rdraw_help(km_render *r)
{
	km__rfill(r->ren, 0, 0, r->cfg.width, r->cfg.height, 0x000000, 215);
	static const char *const keys[][2] = {
	    {"Space", "pause the view / play-pause a replay"},
	    {"Z", "zero the mat (nothing on it)"},
	    {"R", "recording on / off"},
	    {"S", "screenshot (PNG)"},
	    {"C", "colour map: viridis / turbo"},
	    {"A", "colour range: auto / fixed steps"},
	    {"L", "colour scale: square root / linear"},
	    {"M / O", "markers / body outline on-off"},
	    {"F", "full screen"},
	    {"X", "log numbness, tingling or radiating pain"},
	    {"B", "history: your spots across sessions on a body chart"},
	    {"G / N", "guided routine start-end / skip a spot"},
	    {"V  [  ]", "sound mute / volume down, up"},
	    {"Left / Right", "replay: seek 5 s (Shift: 30 s)"},
	    {"- / +", "replay speed 0.25x to 8x"},
	    {". (period)", "replay: one frame while paused"},
	    {"H / F1", "this help"},
	    {"Q / Esc", "quit"},
	};
	km__rtext(r, F_BANNER, C_TEXT, r->cfg.width / 2, 30, AL_CENTER, "Keys");
	int y = 92;
	for (size_t i = 0; i < KM_ARRAY_SIZE(keys); i++, y += 28) {
		km__rtext(r, F_BODY, C_GOOD, r->cfg.width / 2 - 20, y, AL_RIGHT, keys[i][0]);
		km__rtext(r, F_BODY, C_TEXT, r->cfg.width / 2, y, AL_LEFT, keys[i][1]);
	}
	km__rtext(
	    r, F_SMALL, C_DIM, r->cfg.width / 2, y + 14, AL_CENTER,
	    "Holds of 30-60 s at a tolerable pressure that eases. Tensing up = too much: ease "
	    "off.");
}

/* The chart as a texture, made again only when a new one was loaded. */
static SDL_Texture *history_texture(km_render *r, const struct km_history_screen *hs)
{
	if (!hs->rgb || hs->width == 0 || hs->height == 0)
		return NULL;
	if (r->hist_tex && r->hist_serial == hs->serial)
		return r->hist_tex;
	if (r->hist_tex)
		SDL_DestroyTexture(r->hist_tex);
	r->hist_serial = 0;
	r->hist_tex = SDL_CreateTexture(r->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STATIC,
	                                (int)hs->width, (int)hs->height);
	if (!r->hist_tex)
		return NULL;
	if (SDL_UpdateTexture(r->hist_tex, NULL, hs->rgb, (int)hs->width * 3) != 0) {
		SDL_DestroyTexture(r->hist_tex);
		r->hist_tex = NULL;
		return NULL;
	}
	r->hist_serial = hs->serial;
	return r->hist_tex;
}

void km__rdraw_history(km_render *r, const struct km_history_screen *hs)
{
	const int W = r->cfg.width, H = r->cfg.height;
	km__rfill(r->ren, 0, 0, W, H, C_BG, 255);
	km__rtext(r, F_LARGE, C_TEXT, 16, 8, AL_LEFT, "History: your spots across sessions");
	km__rtext(r, F_SMALL, C_TEXT, W - 16, 16, AL_RIGHT, "B or Esc: back to the mat");
	SDL_Texture *tex = hs->status == KM_OK ? history_texture(r, hs) : NULL;
	if (tex) {
		km__rtext(r, F_SMALL, hs->persistent ? C_WARN : C_DIM, 16, 44, AL_LEFT,
		          hs->headline);
		/* The chart keeps its aspect in the room between the heading and
		 * the note. */
		SDL_Rect room = {12, 68, W - 24, H - 68 - 48};
		double k = KM_MIN((double)room.w / hs->width, (double)room.h / hs->height);
		SDL_Rect d = {0, 0, (int)(hs->width * k), (int)(hs->height * k)};
		d.x = room.x + (room.w - d.w) / 2;
		d.y = room.y;
		SDL_RenderCopy(r->ren, tex, NULL, &d);
	} else {
		bool none = hs->status == KM_ERR_NOT_FOUND || hs->status == KM_OK;
		km__rtext(r, F_BANNER, none ? C_TEXT : C_WARN, W / 2, 150, AL_CENTER,
		          none ? "No history yet" : "History not readable");
		int y = 230;
		if (!none)
			y += km__rtext_wrap(r, F_BODY, C_WARN, W / 2 - 400, y, 800, AL_CENTER,
			                    hs->headline) +
			     12;
		y += km__rtext_wrap(
		         r, F_BODY, C_TEXT, W / 2 - 400, y, 800, AL_CENTER,
		         "Sessions recorded here (R) or with 'knotmap record' go into your "
		         "history. Their candidate spots then appear on a body chart, with the "
		         "7-day rule for each spot.") +
		     16;
		/* The end of a long path (the folder names matter less). */
		const char *p = hs->path[0] ? hs->path : "(no HOME)";
		size_t n = strlen(p);
		km__rtext(r, F_SMALL, C_DIM, W / 2, y, AL_CENTER, "History file:");
		km__rtext(r, F_SMALL, C_DIM, W / 2, y + 20, AL_CENTER,
		          n >= TEXT_LEN ? p + n - (TEXT_LEN - 1) : p);
	}
	km__rtext(r, F_SMALL, C_DIM, 16, H - 42, AL_LEFT,
	          "Candidate tender/stiff spots, not a diagnosis. A spot lasting over a week, or "
	          "numbness,");
	km__rtext(r, F_SMALL, C_DIM, 16, H - 24, AL_LEFT,
	          "tingling or pain down a limb: see a healthcare professional.");
}

void km__rdraw_red_flag(km_render *r)
{
	km__rfill(r->ren, 0, 0, r->cfg.width, r->cfg.height, 0x400000, 235);
	km__rtext(r, F_HUGE, C_MUCH, r->cfg.width / 2, 40, AL_CENTER, "STOP");
	km__rtext(r, F_LARGE, C_TEXT, r->cfg.width / 2, 210, AL_CENTER,
	          "Numbness, tingling or pain radiating down a limb was logged.");
	km__rtext_wrap(r, F_BODY, C_TEXT, r->cfg.width / 2 - 380, 270, 760, AL_CENTER,
	               "Stop the session and see a healthcare professional (doctor or "
	               "physiotherapist) before pressing on this area again. These symptoms "
	               "are a reason to stop self-treatment.");
	km__rtext(
	    r, F_SMALL, C_DIM, r->cfg.width / 2, 420, AL_CENTER,
	    "Noted in the session's events (and the recording, when on). X dismisses, Q quits.");
}

const char *km__rguided_title(const struct km_guided_view *g)
{
	switch (g->state) {
	case KM_GUIDED_SCAN:
		return "Body scan";
	case KM_GUIDED_PLACE:
		return "Place the ball";
	case KM_GUIDED_HOLD:
		return "Hold";
	case KM_GUIDED_REST:
		return "Rest";
	case KM_GUIDED_DONE:
		return "Done";
	case KM_GUIDED_STOPPED:
		return "Stopped";
	default:
		return "Guided";
	}
}
