/*
 * The real-body family of knotmap evaluate (docs/accuracy.md, "Real-body
 * family"): a real person lying on a real bed mat (the PoPu preview: Tactilus
 * 64 x 27 over-mattress maps, 10 snapshots per capture) gives the body's
 * shape, posture, bony peaks and sensor noise; knots are injected by the
 * physics of the signal model: a knot is a local stiffness rise, so under load
 * the pressure there rises by the same fraction, p' = p (1 + s g(r)), and is
 * zero where nothing presses. Nothing here knows the detector's rules.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval_lying.h"
#include "eval_score.h"
#include "knotmap/pipeline.h"

#define PR 64            /* rows of the Tactilus sheet */
#define PC 27            /* cols */
#define NSNAP 10         /* snapshots per capture */
#define NATIVE_MM 32.0f  /* est.: 190 cm volunteer spans ~58 rows head to heel */
#define FINE_MM 8.0f     /* the independent checker's middle grid */
#define UNIT_KPA 0.1333f /* counts read as mmHg (Tactilus' usual unit): kPa */
#define NKNOTS 4
#define WARMUP_S 5.0       /* tracks need a few frames at 1 Hz */

enum region { REG_UPPER, REG_MID, REG_LOWER, REG_PARASPINAL, REG_OFF, REG_N };
static const char *const region_name[REG_N] = {"upper back", "mid back", "lower back", "paraspinal",
                                               "off torso"};
static const float strengths[3] = {0.15f, 0.25f, 0.40f};

struct capture {
	char posture[32];
	float snap[NSNAP][PR * PC]; /* kPa */
	unsigned char torso[PR * PC];
	int torso_r0, torso_r1;
	float midline_mm; /* load-weighted centre of the torso, mm (native grid) */
};

struct stally {
	unsigned runs, holds, tens, found, errors;
	double minutes;
	unsigned worst_found;
	char worst[32];
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
			if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
				free(buf);
				buf = NULL;
			} else {
				buf[n] = 0;
			}
		}
	}
	fclose(f);
	return buf;
}

/* The snapshots of one capture: each "tactilus_readings" array of 1728
 * integers, in file order. */
static int read_tactilus(const char *path, struct capture *c)
{
	char *s = slurp(path);
	if (!s)
		return -1;
	int k = 0;
	const char *p = s;
	while (k < NSNAP && (p = strstr(p, "\"tactilus_readings\""))) {
		p = strchr(p, '[');
		if (!p)
			break;
		p++;
		int i = 0;
		while (i < PR * PC) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			c->snap[k][i++] = (float)v * UNIT_KPA;
			p = end;
			while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
				p++;
		}
		if (i != PR * PC)
			break;
		k++;
	}
	free(s);
	for (int j = k; j > 0 && j < NSNAP; j++) /* short captures repeat */
		memcpy(c->snap[j], c->snap[j % k], sizeof c->snap[0]);
	return k > 0 ? 0 : -1;
}

static int in_poly(float x, float y, const float *px, const float *py, int n)
{
	int in = 0;
	for (int i = 0, j = n - 1; i < n; j = i++)
		if ((py[i] > y) != (py[j] > y) &&
		    x < px[i] + (y - py[i]) * (px[j] - px[i]) / (py[j] - py[i]))
			in = !in;
	return in;
}

/* The "Torso" polygon of the posture's annotation (points in percent of the
 * image, which shows the whole sheet). 0 when found. */
static int read_torso(const char *path, struct capture *c)
{
	char *s = slurp(path);
	if (!s)
		return -1;
	int ok = -1;
	const char *p = s;
	while ((p = strstr(p, "\"points\""))) {
		float px[256], py[256];
		int n = 0;
		const char *q = strchr(p, '[');
		const char *lab = strstr(p, "\"polygonlabels\"");
		if (!q || !lab)
			break;
		q++;
		while (n < 256 && q < lab) {
			const char *a = strchr(q, '[');
			if (!a || a > lab)
				break;
			char *end;
			float x = strtof(a + 1, &end);
			const char *b = strchr(end, ',');
			if (!b)
				break;
			float y = strtof(b + 1, &end);
			px[n] = x * PC / 100.0f;
			py[n] = y * PR / 100.0f;
			n++;
			q = strchr(end, ']');
			if (!q)
				break;
			q++;
			if (*q == ']')
				break;
		}
		const char *l = strchr(lab + 15, '"');
		p = lab + 15;
		if (!l || strncmp(l, "\"Torso\"", 7) || n < 3)
			continue;
		c->torso_r0 = PR;
		c->torso_r1 = -1;
		for (int r = 0; r < PR; r++)
			for (int cc = 0; cc < PC; cc++)
				if (in_poly(cc + 0.5f, r + 0.5f, px, py, n)) {
					c->torso[r * PC + cc] = 1;
					c->torso_r0 = r < c->torso_r0 ? r : c->torso_r0;
					c->torso_r1 = r > c->torso_r1 ? r : c->torso_r1;
				}
		ok = c->torso_r1 >= c->torso_r0 ? 0 : -1;
		break;
	}
	free(s);
	return ok;
}

/* Bilinear value of the native map at (x, y) mm; cell centres at (c + 0.5) pitch. */
static float sample(const float *m, float x, float y)
{
	float fx = x / NATIVE_MM - 0.5f, fy = y / NATIVE_MM - 0.5f;
	int c0 = (int)floorf(fx), r0 = (int)floorf(fy);
	float ax = fx - c0, ay = fy - r0;
	float v = 0.0f;
	for (int dr = 0; dr <= 1; dr++)
		for (int dc = 0; dc <= 1; dc++) {
			int r = r0 + dr, c = c0 + dc;
			r = r < 0 ? 0 : r >= PR ? PR - 1 : r;
			c = c < 0 ? 0 : c >= PC ? PC - 1 : c;
			v += (dr ? ay : 1 - ay) * (dc ? ax : 1 - ax) * m[r * PC + c];
		}
	return v;
}

static int load_capture(const char *dir, const char *file, struct capture *c)
{
	char path[4096];
	memset(c, 0, sizeof *c);
	snprintf(c->posture, sizeof c->posture, "%.*s", (int)strcspn(file, "."), file);
	snprintf(path, sizeof path, "%s/tactilus_data/4/%s", dir, file);
	if (read_tactilus(path, c))
		return -1;
	char post[32];
	snprintf(post, sizeof post, "%.*s", (int)strcspn(c->posture, "_"), c->posture);
	snprintf(path, sizeof path, "%s/segmentation_data/%s_tactilus_Annotated.Json", dir, post);
	if (read_torso(path, c) == 0) {
		double w = 0.0, wx = 0.0;
		for (int r = 0; r < PR; r++)
			for (int cc = 0; cc < PC; cc++)
				if (c->torso[r * PC + cc]) {
					float v = c->snap[0][r * PC + cc];
					w += v;
					wx += v * (cc + 0.5) * NATIVE_MM;
				}
		c->midline_mm = w > 0 ? (float)(wx / w) : NAN;
	} else {
		c->torso_r0 = -1;
		c->midline_mm = NAN;
	}
	return 0;
}

/* Four knots on loaded torso cells (a quarter of the torso's peak load or
 * more), 60 mm apart, 30 mm or more off the midline: +15, +25, +40 % and one
 * more of the three, radius 7-25 mm. */
static int place_knots(const struct capture *c, uint64_t seed, struct km_eval_knot *k)
{
	if (c->torso_r0 < 0 || !isfinite(c->midline_mm))
		return 0;
	float peak = 0.0f;
	for (int i = 0; i < PR * PC; i++)
		if (c->torso[i] && c->snap[0][i] > peak)
			peak = c->snap[0][i];
	uint64_t s = seed;
	int n = 0;
	for (int tries = 0; n < NKNOTS && tries < 5000; tries++) {
		float x = (float)(km_eval_rng_unit(&s) * PC * NATIVE_MM),
		      y = (float)(km_eval_rng_unit(&s) * PR * NATIVE_MM);
		int r = (int)(y / NATIVE_MM), cc = (int)(x / NATIVE_MM);
		if (!c->torso[r * PC + cc] || sample(c->snap[0], x, y) < 0.25f * peak ||
		    fabsf(x - c->midline_mm) < 30.0f)
			continue;
		int close = 0;
		for (int j = 0; j < n; j++)
			close |= hypotf(x - k[j].x, y - k[j].y) < 60.0f;
		if (close)
			continue;
		k[n].x = x;
		k[n].y = y;
		k[n].s = strengths[n < 3 ? n : (int)(km_eval_rng_unit(&s) * 3) % 3];
		k[n].r = 7.0f + (float)km_eval_rng_unit(&s) * 18.0f;
		float f = (y / NATIVE_MM - c->torso_r0) / (float)(c->torso_r1 - c->torso_r0 + 1);
		k[n].reg = fabsf(x - c->midline_mm) < 50.0f ? REG_PARASPINAL
		           : f < 0.4f                       ? REG_UPPER
		           : f > 0.7f                       ? REG_LOWER
		                                            : REG_MID;
		n++;
	}
	return n;
}

static int region_of(const void *ctx, float x, float y)
{
	const struct capture *c = ctx;
	int r = (int)(y / NATIVE_MM), cc = (int)(x / NATIVE_MM);
	if (c->torso_r0 < 0 || r < 0 || r >= PR || cc < 0 || cc >= PC || !c->torso[r * PC + cc])
		return REG_OFF;
	if (fabsf(x - c->midline_mm) < 50.0f)
		return REG_PARASPINAL;
	float f = (y / NATIVE_MM - c->torso_r0) / (float)(c->torso_r1 - c->torso_r0 + 1);
	return f < 0.4f ? REG_UPPER : f > 0.7f ? REG_LOWER : REG_MID;
}

/* The frame's grid before time: the capture's snapshots resampled (real
 * noise) and the knots' gain per cell, both static over a recording. */
struct grid {
	float *snap[NSNAP];
	float *gain;
};

static void grid_free(struct grid *g)
{
	for (int i = 0; i < NSNAP; i++)
		free(g->snap[i]);
	free(g->gain);
}

static int grid_make(const struct capture *c, const struct km_eval_knot *k, int nk,
                     const struct km_frame *f, struct grid *g)
{
	size_t cells = (size_t)f->rows * f->cols;
	memset(g, 0, sizeof *g);
	g->gain = malloc(cells * sizeof(float));
	for (int i = 0; i < NSNAP; i++)
		g->snap[i] = malloc(cells * sizeof(float));
	for (int i = 0; i < NSNAP; i++)
		if (!g->snap[i] || !g->gain) {
			grid_free(g);
			return -1;
		}
	float pitch = f->pitch_mm;
	for (int r = 0; r < f->rows; r++)
		for (int cc = 0; cc < f->cols; cc++) {
			size_t i = (size_t)r * f->cols + cc;
			float x0 = cc * pitch, y0 = r * pitch;
			g->gain[i] = nk ? km_eval_knot_gain(k, nk, x0, y0, pitch) : 1.0f;
			for (int s = 0; s < NSNAP; s++)
				g->snap[s][i] =
				    pitch == NATIVE_MM
				        ? c->snap[s][r * PC + cc]
				        : sample(c->snap[s], x0 + 0.5f * pitch, y0 + 0.5f * pitch);
		}
	return 0;
}

/* Fills the frame at time t: the capture's snapshot (real noise), breathing
 * (+-2 % at 0.25 Hz, est.) and the knots. */
static void synth(const struct grid *g, double t, size_t n, struct km_frame *f)
{
	const float *m = g->snap[n % NSNAP];
	float breath = 1.0f + 0.02f * sinf((float)(2.0 * 3.14159265358979 * 0.25 * t));
	size_t cells = (size_t)f->rows * f->cols;
	for (size_t i = 0; i < cells; i++)
		f->kpa[i] = m[i] * breath * g->gain[i];
}

/* km_eval_lying_opts.texture_k (negative: the library default). */
static double opt_texture_k = -1.0;

static int run(const struct capture *c, const struct km_eval_knot *k, int nk, float pitch, float rate,
               double secs, struct km_eval_tally *kt, struct stally *st)
{
	uint16_t rows = (uint16_t)lroundf(PR * NATIVE_MM / pitch);
	uint16_t cols = (uint16_t)lroundf(PC * NATIVE_MM / pitch);
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = rows;
	pc.cols = cols;
	pc.pitch_mm = pitch;
	pc.rate_hz = rate;
	if (opt_texture_k >= 0.0)
		pc.detect.texture_k = (float)opt_texture_k;
	/* The guard-off notice once per table, not per recording (the
	 * pipeline warns at every create below 25 frames/s). */
	pc.log = km_cli_log();
	if (pc.log.max_level > KM_LOG_ERROR)
		pc.log.max_level = KM_LOG_ERROR;
	km_pipeline *p = NULL;
	struct km_frame *f = NULL;
	int rc = km_pipeline_create(&pc, &p);
	if (rc == KM_OK)
		rc = km_frame_create(rows, cols, pitch, KM_GEOMETRY_FLAT, &f);
	struct grid gr;
	if (rc == KM_OK && grid_make(c, k, nk, f, &gr))
		rc = KM_ERR_NO_MEMORY;
	if (rc != KM_OK) {
		km_cli_error("evaluate", NULL, "%s: %s", c->posture, km_strerror(rc));
		km_frame_destroy(f);
		km_pipeline_destroy(p);
		return -1;
	}
	size_t frames = (size_t)(secs * rate);
	unsigned errors = 0;
	struct km_eval_events ev = {0};
	struct km_pipeline_result res;
	for (size_t n = 0; n <= frames; n++) {
		double t = n / (double)rate;
		synth(&gr, t, n, f);
		f->sequence = (uint32_t)n;
		f->device_time_us = f->host_time_us = (uint64_t)llround(t * 1e6);
		int prc =
		    n == frames ? km_pipeline_finish(p, &res) : km_pipeline_process(p, f, &res);
		if (prc != KM_OK) {
			errors++;
			continue;
		}
		km_eval_count_events(&ev, &res, k, nk);
		if (kt && t >= WARMUP_S && n != frames)
			km_eval_score_frame(kt, k, nk, &res, pitch, region_of, c);
	}
	if (kt) {
		km_eval_end_run(kt, &ev, secs);
		kt->errors += errors;
	}
	if (st) {
		st->runs++;
		st->holds += ev.holds;
		st->tens += ev.tens;
		st->found += ev.found;
		st->errors += errors;
		st->minutes += secs / 60.0;
		if (ev.found > st->worst_found || !st->worst[0]) {
			st->worst_found = ev.found;
			snprintf(st->worst, sizeof st->worst, "%s", c->posture);
		}
	}
	grid_free(&gr);
	km_frame_destroy(f);
	km_pipeline_destroy(p);
	return errors ? -1 : 0;
}

/* Posture 1 of each side ("supine1_0.json") is the development split. */
static int in_split(const char *name, enum km_lying_split split)
{
	size_t i = strcspn(name, "0123456789");
	int dev = name[i] == '1' && name[i + 1] == '_';
	return split == KM_LYING_ALL || (split == KM_LYING_DEV) == dev;
}

static const char *split_name(enum km_lying_split split)
{
	return split == KM_LYING_DEV   ? "DEVELOPMENT split (posture 1 of each side, looked at)"
	       : split == KM_LYING_ALL ? "all captures (development and reporting)"
	                               : "REPORTING split (postures 2-7, never looked at)";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int km_eval_lying(const struct km_eval_lying_opts *o)
{
	char path[4096];
	opt_texture_k = o->texture_k;
	snprintf(path, sizeof path, "%s/tactilus_data/4", o->dir);
	DIR *d = opendir(path);
	if (!d) {
		km_cli_error("evaluate", "give --lying the unzipped PoPu preview_data folder",
		             "cannot open %s", path);
		return 1;
	}
	char *files[128];
	size_t nf = 0;
	struct dirent *de;
	while ((de = readdir(d)) && nf < 128) {
		size_t len = strlen(de->d_name);
		/* the 28 postures; not the empty bed or "others" */
		if (len > 5 && !strcmp(de->d_name + len - 5, ".json") &&
		    (!strncmp(de->d_name, "supine", 6) || !strncmp(de->d_name, "prone", 5) ||
		     !strncmp(de->d_name, "left", 4) || !strncmp(de->d_name, "right", 5)) &&
		    (!o->posture || !strncmp(de->d_name, o->posture, strlen(o->posture))) &&
		    in_split(de->d_name, o->split))
			files[nf++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(files, nf, sizeof files[0], cmp_str);
	struct capture *c = malloc(sizeof *c);
	if (!c || !nf) {
		km_cli_error("evaluate", NULL, "%s: no captures", path);
		free(c);
		for (size_t i = 0; i < nf; i++)
			free(files[i]);
		return 1;
	}
	const float grids[2] = {FINE_MM, NATIVE_MM};
	const float rates[2] = {10.0f, 1.0f};
	const char *gname[2] = {"8 mm, 10 Hz", "32 mm, 1 Hz"};
	struct km_eval_tally kt[2];
	struct stally st[2];
	memset(kt, 0, sizeof kt);
	memset(st, 0, sizeof st);
	int failed = 0;
	for (size_t i = 0; i < nf; i++) {
		if (load_capture(o->dir, files[i], c)) {
			km_cli_error("evaluate", NULL, "%s/%s: no tactilus_readings", path,
			             files[i]);
			failed = 1;
			continue;
		}
		for (int g = 0; g < 2; g++) {
			if (run(c, NULL, 0, grids[g], rates[g], o->seconds, NULL, &st[g]))
				failed = 1;
			if (o->still_only || strncmp(c->posture, "supine", 6))
				continue;
			for (unsigned s = 1; s <= o->seeds; s++) {
				struct km_eval_knot k[NKNOTS];
				int nk = place_knots(c, 1000u * s + i, k);
				if (nk &&
				    run(c, k, nk, grids[g], rates[g], o->seconds, &kt[g], NULL))
					failed = 1;
			}
		}
	}
	if (!o->still_only) {
		printf("\nReal-body family, %s: PoPu supine captures,"
		       " %u knot layout(s) each, %.0f s; below 25 frames/s the tensing-up guard is"
		       " off (KM_PIPELINE_GUARD_OFF)\n\n",
		       split_name(o->split), o->seeds, o->seconds);
		km_eval_print_knots_header();
		for (int g = 0; g < 2; g++)
			km_eval_print_knots(gname[g], &kt[g]);
		printf("\n");
		km_eval_print_regions_header();
		for (int g = 0; g < 2; g++)
			km_eval_print_regions(gname[g], &kt[g], region_name, REG_N);
		km_eval_print_legend();
	}
	printf("\nLying still (real files, no knots, no tool), %s: every capture, %.0f s\n\n",
	       split_name(o->split), o->seconds);
	printf("| grid             | recs | holds | tensing | new candidates/min | worst "
	       "capture (candidates) | err |\n");
	printf("|------------------|-----:|------:|--------:|-------------------:|---------"
	       "-------------------|----:|\n");
	for (int g = 0; g < 2; g++)
		printf("| %-16s | %4u | %5u | %7u | %18.2f | %-17s (%4u) | %3u |\n", gname[g],
		       st[g].runs, st[g].holds, st[g].tens, st[g].found / fmax(st[g].minutes, 1e-9),
		       st[g].worst, st[g].worst_found, st[g].errors);
	free(c);
	for (size_t i = 0; i < nf; i++)
		free(files[i]);
	return failed;
}
