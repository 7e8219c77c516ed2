/*
 * The dsp pipeline: checks, band-pass, detection, tracking, guarding and
 * hold timers for a frame stream. See knotmap/pipeline.h.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/pipeline.h"

#include "select.h"

struct guard_slot {
	km_guard *g;
	uint32_t track_id; /* 0 = free */
};

struct stiff_slot {
	km_stiffness *s;
	uint32_t track_id; /* 0 = free */
};

struct km_pipeline {
	struct km_pipeline_config cfg;
	int R, C;
	float px, py; /* column pitch (x), row pitch (y), mm */
	float pa;     /* sqrt(px x py): the pitch frames carry */
	uint8_t *mask; /* [cells] 1 on the sensor (cfg.sensor_mask's copy), or NULL: all */
	float *maskw;  /* [cells] the mask as band-pass weights (normalized false) */
	size_t cells_on; /* cells on the sensor */
	size_t cells;
	float *clean;  /* [cells] sanitised copy of the frame */
	float *weight; /* [cells] 1 where loaded (normalised band-pass) */
	float *stack;  /* [n_scales x cells] */
	float *avg;    /* [cells] temporally averaged map (detection input) */
	float *prev;   /* [cells] last clean frame (sensor noise) */
	float *scratch; /* [cells] medians */
	double *colsum; /* [cols] load per column (summarise) */
	double *col_cos, *col_sin; /* [cols] a roller's column angles (summarise) */
	float knorm[KM_BANDPASS_MAX_SCALES]; /* L2 norm of each band-pass kernel */
	float cell_sd;  /* per-cell sensor noise SD, kPa (smoothed) */
	int have_avg, have_sd;
	float noise_dt; /* s of frames since the last noise estimate */
	float cx, cy;   /* last load centre */
	unsigned n_scales;
	km_bandpass *bp;
	km_detect *det;
	km_tracker *trk;
	km_body *body;
	float body_dt; /* seconds since the body model and levels last updated */
	/* A cell is loaded above this (detect.outline_kpa; on counts, relative
	 * to the map: outline_fraction) */
	float outline;
	km_hold *hold;
	struct guard_slot *guards;
	unsigned n_guards;
	struct stiff_slot *stiff;
	unsigned n_stiff;
	struct km_hold_input *hin;
	unsigned n_hin;
	struct km_event *events;
	struct km_event_sink sink;
	/* Track ids with a KNOT_FOUND and no KNOT_LOST yet; dormant: the track
	 * ended less than lost_after_s ago (its id comes back if the tracker
	 * finds the spot again). */
	struct announced {
		uint32_t id;
		/* The live track that now stands for this knot (a spot whose
		 * maximum hops between two cells comes back under new ids):
		 * its END makes the knot dormant; 0 = id itself. */
		uint32_t alias;
		int dormant;
		uint64_t end_us;
		float load;
		struct km_track t; /* the last track that stood for it, at its END */
		/* Where it was announced: an alias's END moves t, and a knot
		 * whose maxima hop between cells would otherwise walk away from
		 * its own spot, one alias at a time. */
		float home_x_mm, home_y_mm;
	} * announced;
	int guard_off; /* enable_guard asked for, rate too low */
	int coarse;    /* cells coarser than knot_max_pitch_mm */
	struct km_candidate *kept; /* [n_kept] the candidates a coarse mat keeps */
	size_t n_kept;
	unsigned n_announced, max_announced;
	/* Knots announced and then lost this session (oldest first): a spot
	 * found there again is that knot back (KNOT_FOUND, reason AGAIN, its
	 * old id), not a new one. Cleared by reset. */
	struct gone_knot {
		uint32_t id;
		float x_mm, y_mm;           /* where it was last seen */
		float home_x_mm, home_y_mm; /* and announced */
	} * gone;
	unsigned n_gone, max_gone;
	float spot_mm; /* one knot: a new track this close to an announced one is it */
	int have_last;
	uint32_t last_seq;
	uint64_t last_us;
};

struct km_pipeline_config km_pipeline_config_default(void)
{
	struct km_pipeline_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.geometry = KM_GEOMETRY_FLAT;
	c.rate_hz = 100.0f; /* docs/signal-model.md: 100 Hz default */
	c.bandpass = km_bandpass_config_default();
	c.detect = km_detect_config_default();
	/* Keep strong peaks (bone, tool contact) and midline spots as labelled
	 * tracks: tool contacts are what a hold times, and the hold timer must
	 * see midline spots to refuse them (SPINE_BLOCKED). Only unlabelled
	 * tracks are announced as knots. */
	c.detect.landmark_mode = KM_DETECT_MASK_LABEL;
	c.detect.midline_mode = KM_DETECT_MASK_LABEL;
	/* Normalised convolution over the loaded cells: body and mat edges and
	 * dead cells make no response, so spots near them stay visible. */
	c.normalized = true;
	c.detect.support_sigmas = 1.0f;
	/* Detection hysteresis: a confirmed spot near the threshold does not
	 * flicker out (which would restart its hold timer under a new id). */
	c.detect.weak_fraction = 0.6f;
	c.detect.noise_frames = 0; /* 0 here: one second of frames at rate_hz */
	c.tracker = km_tracker_config_default();
	c.enable_guard = true;
	c.guard = km_guard_config_default();
	c.enable_hold = true;
	c.hold = km_hold_config_default();
	/* A tool carries a body part's weight on a few cm^2: hundreds of kPa
	 * against a lying body's median of 2-4 kPa; a heel or sacrum under body
	 * weight reaches 3-8x the median (est.). Around a ball the body is
	 * lifted (the simulator's 90-110 mm lift), so 40 mm away the mat reads
	 * under a fifth of the contact. */
	c.tool_min_ratio = 12.0f;
	/* Body weight alone lying: heels and sacrum on a firm mat stay under
	 * ~20 kPa (150 mmHg, est.); a foam roller under a thigh presses 40-50. */
	c.tool_min_kpa = 30.0f;
	c.tool_gap_mm = 40.0f;
	c.tool_side_fraction = 0.2f;
	c.enable_stiffness = true;
	c.stiffness = km_stiffness_config_default();
	c.region_mm = 100.0f;
	c.announce_s = 1.0f;
	c.lost_after_s = 10.0f;
	c.confirm_s = 0.3f;
	c.average_tau_s = 0.5f;     /* est.: knots static for seconds; noise cut ~7x at 100 Hz */
	c.average_motion_mm = 2.0f; /* est.: a fifth of a 10 mm pitch */
	c.sensor_noise = true;
	/* Contrast and floor: a +15-40 % stiff spot makes a 15-40 % pressure
	 * excess (p = k d, docs/signal-model.md) at the centre, less once depth
	 * spreads it; 8 % keeps the +20 % knots scored by knotmap evaluate and
	 * stays above the smooth anatomy. 0.25 kPa is the floor a lying back's
	 * 2-6 kPa needs (the specified 2 kPa removes most knots there): on the
	 * phantom family (tuning) 0.3 kept a +25 % knot on 2 kPa of back
	 * under it (recall 0.52 -> 0.55 at 0.25, precision 0.91 -> 0.90; the
	 * simulator's sensor precision 0.35 -> 0.32, 0.2 costs it twice
	 * that: docs/accuracy.md, fourth pass). */
	c.detect.min_contrast = 0.08f;
	c.detect.min_response_kpa = 0.25f;
	/* ... and rises with the body's load: 10 % of its median loaded cell
	 * (2.5 kPa at the phantom's 2.5-4 kPa over the ribs). On the phantom
	 * family pressing 3 times harder, precision 0.93 -> 0.98 (64x64) for
	 * recall 0.61 -> 0.60; as drawn, and the simulator, unchanged
	 * (docs/accuracy.md, fifth pass). */
	c.floor_fraction = 0.1f;
	/* On counts a cell is loaded above a tenth of the 99th-percentile
	 * cell: in kPa the 1 kPa outline is about that of a lying back whose
	 * top cells (bony peaks) press ~10 kPa. */
	c.outline_fraction = 0.1f;
	c.detect.per_scale_nms = true;
	/* A spot one scale coarser still growing by half is a broad dome
	 * (thigh, scapula) seen at a fine scale (est.; a Gaussian spot's
	 * response falls past its own scale). */
	c.detect.max_scale_growth = 1.5f;
	/* Paired anatomy: the excess left once the twin across the midline is
	 * taken away must pass the thresholds (a knot is one-sided; shoulder
	 * blades and paraspinal ridges are not). */
	c.detect.mirror_fraction = 1.0f;
	/* A spot must stand out from this body's own texture too: 0.6 x its
	 * robust relative SD. Chosen on the simulator family (the tuning
	 * split): the largest factor tried that keeps its recall (0.7 loses a
	 * faulty-sensor knot, 1.4 a back-lying one) while its precision rises
	 * (docs/accuracy.md). */
	c.detect.texture_k = 0.6f;
	/* And from the texture its mirror image does not explain (uneven sensel
	 * gain, asymmetric posture, one-sided structure) by 3.5 of its SDs:
	 * that texture is static, so every cell of a few hundred independent
	 * ones per scale stays put, and the largest of N Gaussian values is
	 * about sqrt(2 ln N) SDs (3.5 for N ~ 500; 3 SDs leave about one
	 * lasting false spot per scale). On the phantom family (tuning split)
	 * with the cells' gain errors at 6 % precision 0.65 -> 0.84 for recall
	 * 0.48 -> 0.48, as drawn (1-3 %) 0.955 -> 0.983 for 0.58 -> 0.56; the
	 * simulator's recall 0.92 / 0.92 -> 0.92 / 0.90 (true / sensor;
	 * docs/accuracy.md, fifth pass). */
	c.detect.texture_mirror_k = 3.5f;
	c.lying_trunk_only = true;
	/* On the phantom family (tuning split, a 512 mm mat, the rule off)
	 * cells of 12-16 mm keep recall 0.33-0.48 at precision 0.78-0.88;
	 * 20 and 24 mm fall to 0.17 / 0.15 at 0.50 / 0.32: the limit lies
	 * between (docs/accuracy.md, fifth pass). */
	c.knot_max_pitch_mm = 18.0f;
	c.max_bad_fraction = 0.25f;
	c.max_events = 64;
	return c;
}

float km_pipeline_config_coarse_mm(const struct km_pipeline_config *c)
{
	/* Either axis coarser than a knot: along it a knot is one cell. */
	float px = c->col_pitch_mm > 0.0f ? c->col_pitch_mm : c->pitch_mm;
	float py = c->row_pitch_mm > 0.0f ? c->row_pitch_mm : c->pitch_mm;
	float coarsest = fmaxf(px, py);
	return c->knot_max_pitch_mm > 0.0f && coarsest > c->knot_max_pitch_mm ? coarsest : 0.0f;
}

void km_pipeline_config_for_counts(struct km_pipeline_config *c)
{
	if (!c)
		return;
	/* Counts have no scale: every threshold in kPa is meaningless, so the
	 * ones with an "off" value are switched off and only the rules
	 * relative to the map itself remain (noise_k x the sensor's noise,
	 * contrast, texture, the tool's ratio to the body's median). */
	c->counts = true;
	c->detect.min_response_kpa = 0.0f;
	c->detect.outline_kpa = 0.0f;
	c->tool_min_kpa = INFINITY;
	c->hold.load_min_kpa = FLT_MIN; /* must be > 0: the smallest there is */
	c->hold.load_max_kpa = 0.0f;
}

static int fail(km_pipeline *p, const struct km_log *log, const char *what, int rc)
{
	km__log(log, KM_LOG_ERROR, "dsp", "pipeline: %s: %s", what, km_strerror(rc));
	km_pipeline_destroy(p);
	return rc;
}

/* km_pipeline_config_check's log: keeps the first error a stage reports. */
struct why_buf {
	char *s;
	size_t n;
	int have;
};

static void keep_first_error(void *user, enum km_log_level level, const char *module,
                             const char *msg)
{
	struct why_buf *w = user;
	(void)module;
	if (level > KM_LOG_ERROR || w->have || !w->s || w->n == 0)
		return;
	snprintf(w->s, w->n, "%s", msg);
	w->have = 1;
}

__attribute__((format(printf, 4, 5))) static int refuse(char *why, size_t n, int rc,
                                                        const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int km_pipeline_config_check(const struct km_pipeline_config *cfg, char *why, size_t why_size)
{
	if (why && why_size)
		why[0] = '\0';
	if (!cfg)
		return refuse(why, why_size, KM_ERR_INVALID_ARG, "no configuration");
	if (cfg->rows == 0 || cfg->cols == 0 || cfg->rows > KM_FRAME_MAX_DIM ||
	    cfg->cols > KM_FRAME_MAX_DIM)
		return refuse(why, why_size, KM_ERR_SHAPE,
		              "grid of %u x %u cells: rows and columns must be 1..%d",
		              (unsigned)cfg->rows, (unsigned)cfg->cols, KM_FRAME_MAX_DIM);
	if (!(isfinite(cfg->pitch_mm) && cfg->pitch_mm > 0.0f))
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "cell pitch %g mm: it must be a positive number of mm",
		              (double)cfg->pitch_mm);
	if (!(isfinite(cfg->row_pitch_mm) && cfg->row_pitch_mm >= 0.0f) ||
	    !(isfinite(cfg->col_pitch_mm) && cfg->col_pitch_mm >= 0.0f))
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "row pitch %g mm, column pitch %g mm: each must be a positive number "
		              "of mm (or 0: the pitch)",
		              (double)cfg->row_pitch_mm, (double)cfg->col_pitch_mm);
	if (!isfinite(cfg->rate_hz) || !(cfg->rate_hz > 0.0f))
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "frame rate %g Hz: it must be a positive number of frames per second",
		              (double)cfg->rate_hz);
	if (cfg->enable_stiffness && cfg->rate_hz < KM_PIPELINE_MIN_HZ)
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "frame rate %g Hz is below the %g frame/s the breathing (stiffness) "
		              "estimate needs",
		              (double)cfg->rate_hz, (double)KM_PIPELINE_MIN_HZ);
	/* The guard runs from 25 frames/s on; below, it is off, not a limit. */
	bool filters = cfg->enable_stiffness ||
	               (cfg->enable_guard && cfg->rate_hz >= KM_PIPELINE_GUARD_MIN_HZ);
	if (filters && cfg->rate_hz > KM_PIPELINE_MAX_HZ)
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "frame rate %g Hz is above the %g Hz the tensing-up guard and "
		              "stiffness index accept",
		              (double)cfg->rate_hz, (double)KM_PIPELINE_MAX_HZ);
	if (cfg->rate_hz > 100000.0f)
		return refuse(why, why_size, KM_ERR_INVALID_ARG,
		              "frame rate %g Hz is above the 100000 Hz the pipeline accepts",
		              (double)cfg->rate_hz);
	/* Everything else: what the stages themselves say, from a trial build. */
	struct km_pipeline_config c = *cfg;
	struct why_buf w = {why, why_size, 0};
	c.log.fn = keep_first_error;
	c.log.user = &w;
	c.log.max_level = KM_LOG_ERROR;
	km_pipeline *p = NULL;
	int rc = km_pipeline_create(&c, &p);
	km_pipeline_destroy(p);
	if (rc != KM_OK && !w.have)
		refuse(why, why_size, rc, "%s", km_strerror(rc));
	return rc;
}

int km_pipeline_create(const struct km_pipeline_config *cfg, km_pipeline **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	const struct km_log *log = &cfg->log;
	if (cfg->rows == 0 || cfg->cols == 0 || cfg->rows > KM_FRAME_MAX_DIM ||
	    cfg->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!(isfinite(cfg->pitch_mm) && cfg->pitch_mm > 0.0f) ||
	    !(isfinite(cfg->row_pitch_mm) && cfg->row_pitch_mm >= 0.0f) ||
	    !(isfinite(cfg->col_pitch_mm) && cfg->col_pitch_mm >= 0.0f) ||
	    !(isfinite(cfg->rate_hz) && cfg->rate_hz > 0.0f && cfg->rate_hz <= 100000.0f) ||
	    !(cfg->max_bad_fraction >= 0.0f && cfg->max_bad_fraction <= 1.0f) ||
	    !(isfinite(cfg->knot_max_pitch_mm) && cfg->knot_max_pitch_mm >= 0.0f) ||
	    !(cfg->floor_fraction >= 0.0f && cfg->floor_fraction <= 1.0f) ||
	    !(cfg->outline_fraction >= 0.0f && cfg->outline_fraction <= 1.0f) ||
	    cfg->max_events < 1 || cfg->max_events > 4096 ||
	    !(isfinite(cfg->region_mm) && cfg->region_mm > 0.0f) ||
	    !(isfinite(cfg->announce_s) && cfg->announce_s >= 0.0f && cfg->announce_s <= 3600.0f) ||
	    !(isfinite(cfg->average_tau_s) && cfg->average_tau_s >= 0.0f &&
	      cfg->average_tau_s <= 60.0f) ||
	    !(isfinite(cfg->average_motion_mm) && cfg->average_motion_mm >= 0.0f) ||
	    !(isfinite(cfg->confirm_s) && cfg->confirm_s >= 0.0f && cfg->confirm_s <= 10.0f) ||
	    !(isfinite(cfg->lost_after_s) && cfg->lost_after_s >= 0.0f &&
	      cfg->lost_after_s <= 3600.0f) ||
	    !(isfinite(cfg->tool_min_ratio) && cfg->tool_min_ratio >= 0.0f) ||
	    !(cfg->tool_min_kpa >= 0.0f) ||
	    !(isfinite(cfg->tool_gap_mm) && cfg->tool_gap_mm >= 0.0f &&
	      cfg->tool_gap_mm <= 1000.0f) ||
	    !(isfinite(cfg->tool_side_fraction) && cfg->tool_side_fraction >= 0.0f &&
	      cfg->tool_side_fraction <= 1.0f) ||
	    (cfg->geometry != KM_GEOMETRY_FLAT && cfg->geometry != KM_GEOMETRY_CYLINDER))
		return KM_ERR_INVALID_ARG;
	km_pipeline *p = km__calloc(1, sizeof *p);
	if (!p)
		return KM_ERR_NO_MEMORY;
	p->cfg = *cfg;
	p->R = cfg->rows;
	p->C = cfg->cols;
	p->cells = (size_t)p->R * (size_t)p->C;
	p->px = cfg->col_pitch_mm > 0.0f ? cfg->col_pitch_mm : cfg->pitch_mm;
	p->py = cfg->row_pitch_mm > 0.0f ? cfg->row_pitch_mm : cfg->pitch_mm;
	p->pa = p->px == p->py ? p->px : sqrtf(p->px * p->py);
	p->cells_on = p->cells;
	if (cfg->sensor_mask) {
		p->mask = km__calloc(p->cells, 1);
		p->maskw = km__calloc(p->cells, sizeof(float));
		if (!p->mask || !p->maskw)
			return fail(p, log, "sensor mask", KM_ERR_NO_MEMORY);
		p->cells_on = 0;
		for (size_t i = 0; i < p->cells; i++) {
			p->mask[i] = cfg->sensor_mask[i] != 0;
			p->maskw[i] = (float)p->mask[i];
			p->cells_on += p->mask[i];
		}
		p->cfg.sensor_mask = p->mask;
		if (p->cells_on == 0) {
			km__log(log, KM_LOG_ERROR, "dsp",
			        "pipeline: the sensor mask leaves no cell of the %dx%d grid", p->R, p->C);
			km_pipeline_destroy(p);
			return KM_ERR_INVALID_ARG;
		}
	}

	struct km_bandpass_config bc = cfg->bandpass;
	bc.rows = cfg->rows;
	bc.cols = cfg->cols;
	bc.pitch_mm = cfg->pitch_mm;
	bc.row_pitch_mm = p->py;
	bc.col_pitch_mm = p->px;
	bc.geometry = cfg->geometry;
	bc.log = cfg->log;
	/* a mask needs the weighted band-pass, whatever the mode */
	bc.normalized = cfg->normalized || p->mask;
	int rc = km_bandpass_create(&bc, &p->bp);
	if (rc != KM_OK)
		return fail(p, log, "band-pass", rc);
	p->n_scales = bc.n_scales;

	struct km_detect_config dc = cfg->detect;
	if (dc.noise_frames == 0)
		dc.noise_frames = (unsigned)lroundf(cfg->rate_hz); /* ~1 s */
	/* The texture is static: one scale re-measured about every 0.25 s
	 * (a median; every frame would cost ~5 % of the 64 x 64 pipeline). */
	if (dc.texture_frames == 0)
		dc.texture_frames = (unsigned)KM_MAX(lroundf(0.25f * cfg->rate_hz), 1L);
	rc = km_detect_config_from_bandpass(&dc, &bc);
	dc.log = cfg->log;
	if (rc == KM_OK)
		rc = km_detect_create(&dc, &p->det);
	if (rc != KM_OK)
		return fail(p, log, "detect", rc);
	p->cfg.detect = dc;

	if (cfg->geometry == KM_GEOMETRY_FLAT) {
		struct km_body_config yc = km_body_config_default();
		yc.rows = cfg->rows;
		yc.cols = cfg->cols;
		yc.pitch_mm = cfg->pitch_mm;
		yc.row_pitch_mm = p->py;
		yc.col_pitch_mm = p->px;
		yc.outline_kpa = dc.outline_kpa;
		yc.min_area_cm2 = dc.outline_min_area_cm2;
		yc.log = cfg->log;
		rc = km_body_create(&yc, &p->body);
		if (rc != KM_OK)
			return fail(p, log, "body model", rc);
	}

	struct km_tracker_config tc = cfg->tracker;
	if (cfg->confirm_s > 0.0f) {
		/* Persistence: 3 of 4 frames over confirm_s (at most the tracker's
		 * 32-frame window). */
		long w = lroundf(cfg->confirm_s * cfg->rate_hz);
		w = KM_CLAMP(w, (long)tc.confirm_window, 32L);
		tc.confirm_window = (unsigned)w;
		tc.confirm_hits = KM_MAX(tc.confirm_hits, (unsigned)((3 * w + 3) / 4));
	}
	/* At a low rate one missed frame is longer than delete_after_s: a track
	 * then survives at least 2.5 frame periods of misses, as at 100 Hz. */
	tc.delete_after_s = fmaxf(tc.delete_after_s, 2.5f / cfg->rate_hz);
	/* On a coarse grid a spot's maximum hops a cell with the noise: the
	 * same spot within 1.5 pitches (of the coarser axis). */
	if (tc.same_spot_mm == 0.0f)
		tc.same_spot_mm = fmaxf(tc.gate_mm, 1.5f * fmaxf(p->px, p->py));
	/* A knot is 2-3 cm across: a structure with two maxima a cell or two
	 * apart (seen on a real bed sheet: 27 mm at 8 mm, alternating every few
	 * seconds) is one spot to announce. */
	p->spot_mm = 1.5f * tc.same_spot_mm;
	tc.wrap_x_mm =
	    cfg->geometry == KM_GEOMETRY_CYLINDER ? (float)cfg->cols * p->px : 0.0f;
	tc.log = cfg->log;
	rc = km_tracker_create(&tc, &p->trk);
	if (rc != KM_OK)
		return fail(p, log, "tracker", rc);
	p->cfg.tracker = tc;

	if (cfg->enable_hold) {
		struct km_hold_config hc = cfg->hold;
		hc.log = cfg->log;
		rc = km_hold_create(&hc, &p->hold);
		if (rc != KM_OK)
			return fail(p, log, "hold", rc);
		p->n_hin = hc.max_tracks;
	} else {
		p->n_hin = tc.max_tracks;
	}
	p->hin = km__calloc(KM_MAX(p->n_hin, 1u), sizeof *p->hin);
	if (!p->hin)
		return fail(p, log, "hold inputs", KM_ERR_NO_MEMORY);

	float coarsest = km_pipeline_config_coarse_mm(cfg);
	if (coarsest > 0.0f) {
		p->coarse = 1;
		km__log(log, KM_LOG_WARN, "dsp",
		        "pipeline: cells of %.3g mm are coarser than a knot (%.3g mm and finer "
		        "needed): spots are found only under a tool, not from lying alone",
		        (double)coarsest, (double)cfg->knot_max_pitch_mm);
	}
	/* The guard's tremor band needs >= 25 frames/s; below that it is
	 * switched off with a notice (KM_PIPELINE_GUARD_OFF on every result),
	 * never a refusal: detection and hold timing work at any rate. */
	if (cfg->enable_guard && cfg->rate_hz < KM_PIPELINE_GUARD_MIN_HZ) {
		p->guard_off = 1;
		km__log(log, KM_LOG_WARN, "dsp",
		        "pipeline: tensing-up guard off: it needs >= %.0f frames/s, the stream has "
		        "%.3g",
		        (double)KM_PIPELINE_GUARD_MIN_HZ, (double)cfg->rate_hz);
	} else if (cfg->enable_guard) {
		struct km_guard_config gc = cfg->guard;
		gc.sample_rate_hz = cfg->rate_hz;
		gc.log = cfg->log;
		p->n_guards = p->n_hin;
		p->guards = km__calloc(p->n_guards, sizeof *p->guards);
		if (!p->guards)
			return fail(p, log, "guards", KM_ERR_NO_MEMORY);
		for (unsigned i = 0; i < p->n_guards; i++) {
			rc = km_guard_create(&gc, &p->guards[i].g);
			if (rc != KM_OK)
				return fail(p, log, "guard (needs rate_hz >= 25)", rc);
		}
	}

	if (cfg->enable_stiffness) {
		struct km_stiffness_config sc = cfg->stiffness;
		sc.welch.sample_rate_hz = cfg->rate_hz;
		/* A bed mat at 1 Hz still resolves breathing (0.1-0.45 Hz): the
		 * search band stops below Nyquist instead of refusing the rate. */
		sc.welch.f_hi_hz = fminf(sc.welch.f_hi_hz, 0.45f * cfg->rate_hz);
		sc.log = cfg->log;
		p->n_stiff = p->n_hin;
		p->stiff = km__calloc(p->n_stiff, sizeof *p->stiff);
		if (!p->stiff)
			return fail(p, log, "stiffness", KM_ERR_NO_MEMORY);
		for (unsigned i = 0; i < p->n_stiff; i++) {
			rc = km_stiffness_create(&sc, &p->stiff[i].s);
			if (rc != KM_OK)
				return fail(p, log, "stiffness", rc);
		}
	}

	p->clean = km__calloc(p->cells, sizeof(float));
	p->weight = km__calloc(p->cells, sizeof(float));
	size_t sn;
	if (!km__mul_size(p->cells, p->n_scales, &sn))
		return fail(p, log, "size", KM_ERR_NO_MEMORY);
	p->stack = km__calloc(sn, sizeof(float));
	p->avg = km__calloc(p->cells, sizeof(float));
	p->n_kept = cfg->detect.max_candidates;
	p->kept = km__calloc(p->n_kept, sizeof *p->kept);
	p->prev = km__calloc(p->cells, sizeof(float));
	p->scratch = km__calloc(p->cells, sizeof(float));
	p->colsum = km__calloc((size_t)p->C, sizeof(double));
	p->col_cos = km__calloc((size_t)p->C, sizeof(double));
	p->col_sin = km__calloc((size_t)p->C, sizeof(double));
	p->events = km__calloc(cfg->max_events, sizeof *p->events);
	p->max_announced = 2 * tc.max_tracks;
	p->announced = km__calloc(p->max_announced, sizeof *p->announced);
	p->outline = cfg->detect.outline_kpa;
	p->max_gone = 4 * p->max_announced;
	p->gone = km__calloc(p->max_gone, sizeof *p->gone);
	if (!p->clean || !p->weight || !p->stack || !p->events || !p->announced || !p->gone ||
	    !p->avg || !p->kept ||
	    !p->prev || !p->scratch || !p->colsum || !p->col_cos || !p->col_sin)
		return fail(p, log, "buffers", KM_ERR_NO_MEMORY);
	for (int c = 0; c < p->C; c++) {
		double a = 2.0 * 3.14159265358979323846 * (c + 0.5) / (double)p->C;
		p->col_cos[c] = cos(a);
		p->col_sin[c] = sin(a);
	}
	/* Kernel norms: the response to a unit impulse mid-grid; white cell
	 * noise of SD s gives response noise s x norm. */
	p->clean[(size_t)(p->R / 2) * (size_t)p->C + (size_t)(p->C / 2)] = 1.0f;
	km_bandpass_execute(p->bp, p->clean, p->stack);
	for (unsigned k = 0; k < p->n_scales; k++) {
		double ss = 0.0;
		for (size_t i = 0; i < p->cells; i++) {
			double v = p->stack[(size_t)k * p->cells + i];
			ss += v * v;
		}
		p->knorm[k] = (float)sqrt(ss);
	}
	memset(p->clean, 0, p->cells * sizeof(float));
	p->sink.buf = p->events;
	p->sink.capacity = cfg->max_events;
	p->sink.fn = cfg->on_event;
	p->sink.user = cfg->user;
	*out = p;
	return KM_OK;
}

static void emit_why(km_pipeline *p, enum km_event_type type, enum km_event_reason reason,
                     const struct km_track *t, uint32_t seq, uint64_t time_us, float load)
{
	struct km_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.reason = reason;
	ev.track_id = t->id;
	ev.frame_seq = seq;
	ev.time_us = time_us;
	ev.x_mm = t->x_mm;
	ev.y_mm = t->y_mm;
	ev.load_kpa = load;
	ev.value = t->response_kpa;
	km_event_sink_emit(&p->sink, &ev);
}

static void emit(km_pipeline *p, enum km_event_type type, const struct km_track *t, uint32_t seq,
                 uint64_t time_us, float load)
{
	emit_why(p, type, type == KM_EVENT_KNOT_LOST ? KM_REASON_LOST : KM_REASON_NONE, t, seq,
	         time_us, load);
}

/* Load on the spot: mean pressure of the 3 x 3 cells around the track. */
static float spot_load(const km_pipeline *p, const struct km_track *t)
{
	int r = (int)floorf(t->y_mm / p->py), c = (int)floorf(t->x_mm / p->px);
	/* A fixed 3 x 3 window: a window that followed the detected scale made
	 * a ball's ~2 cm^2 contact read 5x less whenever a coarser scale won,
	 * which the hold timer took for unloading. */
	const int k = 1;
	double sum = 0.0;
	int n = 0;
	for (int dr = -k; dr <= k; dr++) {
		int rr = r + dr;
		if (rr < 0 || rr >= p->R)
			continue;
		for (int dc = -k; dc <= k; dc++) {
			int cc = c + dc;
			if (p->cfg.geometry == KM_GEOMETRY_CYLINDER)
				cc = (cc % p->C + p->C) % p->C;
			else if (cc < 0 || cc >= p->C)
				continue;
			size_t i = (size_t)rr * (size_t)p->C + (size_t)cc;
			if (p->mask && !p->mask[i])
				continue;
			sum += p->clean[i];
			n++;
		}
	}
	return n ? (float)(sum / n) : 0.0f;
}

/* KNOT_LOST for entry i (its last position), and forgets it. */
static void lose(km_pipeline *p, unsigned i, uint32_t seq, uint64_t us)
{
	struct announced *a = &p->announced[i];
	a->t.state = KM_TRACK_END;
	a->t.id = a->id; /* the knot's id, also when an alias stood for it last */
	emit(p, KM_EVENT_KNOT_LOST, &a->t, seq, us, a->load);
	if (p->n_gone == p->max_gone) {
		/* full: the knot lost longest ago is forgotten */
		memmove(p->gone, p->gone + 1, (p->max_gone - 1) * sizeof *p->gone);
		p->n_gone--;
	}
	p->gone[p->n_gone++] =
	    (struct gone_knot){a->id, a->t.x_mm, a->t.y_mm, a->home_x_mm, a->home_y_mm};
	p->announced[i] = p->announced[--p->n_announced];
}

/* Distance (mm) from track t to (x, y); round a cylinder the short way. */
static float spot_distance(const km_pipeline *p, const struct km_track *t, float x, float y)
{
	float dx = fabsf(t->x_mm - x);
	if (p->cfg.geometry == KM_GEOMETRY_CYLINDER)
		dx = fminf(dx, (float)p->C * p->px - dx);
	return hypotf(dx, t->y_mm - y);
}

/* The knot lost this session that track t is: its id, else the nearest
 * within spot_mm of where it was lost; n_gone when none. */
static unsigned gone_at(const km_pipeline *p, const struct km_track *t)
{
	unsigned best = p->n_gone;
	float best_d = p->spot_mm;
	for (unsigned i = 0; i < p->n_gone; i++) {
		const struct gone_knot *g = &p->gone[i];
		if (g->id == t->id)
			return i;
		float d = fminf(spot_distance(p, t, g->x_mm, g->y_mm),
		                spot_distance(p, t, g->home_x_mm, g->home_y_mm));
		if (d < best_d) {
			best_d = d;
			best = i;
		}
	}
	return best;
}

/* KNOT_FOUND once a track is confirmed and not labelled (bone, tool,
 * midline); KNOT_LOST once an announced track has been gone lost_after_s
 * (or at finish: final). The tracker gives a spot found again its old id,
 * so a knot that blinks out and back is announced once. */
static void announce(km_pipeline *p, const struct km_track *t, uint32_t seq, uint64_t us,
                     float load, int final)
{
	for (unsigned i = 0; i < p->n_announced; i++) {
		struct announced *a = &p->announced[i];
		if (a->id != t->id && a->alias != t->id)
			continue;
		if (t->state == KM_TRACK_END) {
			a->t = *t;
			a->load = load;
			if (final) {
				lose(p, i, seq, us);
			} else if (!a->dormant) {
				a->dormant = 1;
				a->end_us = us;
			}
		} else {
			a->dormant = 0;
		}
		return;
	}
	/* A knot is a lasting structure: blips shorter than announce_s (edges
	 * of a moving contact) are tracked but not announced. */
	if (t->state == KM_TRACK_END ||
	    (t->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE | KM_CANDIDATE_WEAK)) ||
	    (double)(us - t->first_us) < (double)p->cfg.announce_s * 1e6)
		return;
	/* A new track where a knot was already announced is that knot again:
	 * it stands for it (no second KNOT_FOUND). */
	for (unsigned i = 0; i < p->n_announced; i++) {
		struct announced *a = &p->announced[i];
		if (fminf(spot_distance(p, t, a->t.x_mm, a->t.y_mm),
		          spot_distance(p, t, a->home_x_mm, a->home_y_mm)) < p->spot_mm) {
			a->alias = t->id;
			a->dormant = 0;
			return;
		}
	}
	if (p->n_announced == p->max_announced) {
		/* Full: the knot gone longest is declared lost now. */
		unsigned oldest = p->max_announced;
		for (unsigned i = 0; i < p->n_announced; i++)
			if (p->announced[i].dormant &&
			    (oldest == p->max_announced ||
			     p->announced[i].end_us < p->announced[oldest].end_us))
				oldest = i;
		if (oldest == p->max_announced)
			return;
		lose(p, oldest, seq, us);
	}
	struct announced *a = &p->announced[p->n_announced++];
	memset(a, 0, sizeof *a);
	a->id = t->id;
	a->t = *t;
	a->home_x_mm = t->x_mm;
	a->home_y_mm = t->y_mm;
	/* A knot lost earlier this session and found again where it was (a
	 * spot that dips under the thresholds for longer than lost_after_s
	 * while the body lies still): that knot back, under its old id, not a
	 * new one (one identity per spot for the session). */
	unsigned g = gone_at(p, t);
	if (g < p->n_gone) {
		struct km_track back = *t;
		back.id = p->gone[g].id;
		a->id = back.id;
		a->alias = back.id != t->id ? t->id : 0;
		a->home_x_mm = p->gone[g].home_x_mm;
		a->home_y_mm = p->gone[g].home_y_mm;
		memmove(p->gone + g, p->gone + g + 1, (p->n_gone - g - 1) * sizeof *p->gone);
		p->n_gone--;
		emit_why(p, KM_EVENT_KNOT_FOUND, KM_REASON_AGAIN, &back, seq, us, load);
		return;
	}
	emit(p, KM_EVENT_KNOT_FOUND, t, seq, us, load);
}

/* KNOT_LOST for knots gone lost_after_s or more. */
static void expire(km_pipeline *p, uint32_t seq, uint64_t us)
{
	for (unsigned i = 0; i < p->n_announced;) {
		const struct announced *a = &p->announced[i];
		if (a->dormant && (double)(us - a->end_us) >= (double)p->cfg.lost_after_s * 1e6)
			lose(p, i, seq, us);
		else
			i++;
	}
}

/* row_span over the sensor's cells only (a sensor mask). Kept out of line:
 * the common case, no mask, stays small enough to inline. */
__attribute__((noinline)) static double row_span_masked(const km_pipeline *p, int rr, int c0,
                                                        int c1, int *n)
{
	const float *row = p->clean + (size_t)rr * (size_t)p->C;
	const uint8_t *m = p->mask + (size_t)rr * (size_t)p->C;
	int cyl = p->cfg.geometry == KM_GEOMETRY_CYLINDER;
	double sum = 0.0;
	for (int c = c0; c <= c1; c++) {
		int cc = cyl ? (c % p->C + p->C) % p->C : c;
		if (cc < 0 || cc >= p->C || !m[cc])
			continue;
		sum += row[cc];
		(*n)++;
	}
	return sum;
}

/* Sum of row rr's cells c0..c1 (a cylinder wraps, a flat mat clips); adds
 * the cells counted to *n. Inlined: called per row of the windows. */
__attribute__((always_inline)) static inline double row_span(const km_pipeline *p, int rr, int c0,
                                                             int c1, int *n)
{
	if (p->mask)
		return row_span_masked(p, rr, c0, c1, n);
	const float *row = p->clean + (size_t)rr * (size_t)p->C;
	double sum = 0.0;
	if (p->cfg.geometry == KM_GEOMETRY_CYLINDER) {
		for (int c = c0; c <= c1; c++)
			sum += row[(c % p->C + p->C) % p->C];
		*n += c1 - c0 + 1;
		return sum;
	}
	c0 = KM_MAX(c0, 0);
	c1 = KM_MIN(c1, p->C - 1);
	for (int c = c0; c <= c1; c++)
		sum += row[c];
	*n += KM_MAX(c1 - c0 + 1, 0);
	return sum;
}

/* Mean pressure over the cells of a rectangular ring around the track's
 * cell: rows up to ky1 away and columns up to kx1 away, but not both
 * closer than ky0 rows and kx0 columns (ky0 = kx0 = 0: a full window; on
 * square cells kx = ky, a ring of chessboard distances): whole rows of the
 * window, or the two ends of the rows that cross the hole. */
static float window_mean(const km_pipeline *p, const struct km_track *t, int ky0, int ky1,
                         int kx0, int kx1)
{
	int r = (int)floorf(t->y_mm / p->py), c = (int)floorf(t->x_mm / p->px);
	double sum = 0.0;
	int n = 0;
	for (int dr = -ky1; dr <= ky1; dr++) {
		int rr = r + dr;
		if (rr < 0 || rr >= p->R)
			continue;
		if (abs(dr) >= ky0) {
			sum += row_span(p, rr, c - kx1, c + kx1, &n);
		} else {
			sum += row_span(p, rr, c - kx1, c - kx0, &n);
			sum += row_span(p, rr, c + kx0, c + kx1, &n);
		}
	}
	return n ? (float)(sum / n) : 0.0f;
}

static km_stiffness *stiff_for(km_pipeline *p, uint32_t id)
{
	for (unsigned i = 0; i < p->n_stiff; i++)
		if (p->stiff[i].track_id == id)
			return p->stiff[i].s;
	for (unsigned i = 0; i < p->n_stiff; i++)
		if (p->stiff[i].track_id == 0) {
			p->stiff[i].track_id = id;
			km_stiffness_reset(p->stiff[i].s);
			km_stiffness_set_track(p->stiff[i].s, id);
			return p->stiff[i].s;
		}
	return NULL;
}

static void stiff_release(km_pipeline *p, uint32_t id)
{
	for (unsigned i = 0; i < p->n_stiff; i++)
		if (p->stiff[i].track_id == id)
			p->stiff[i].track_id = 0;
}

static km_guard *guard_for(km_pipeline *p, uint32_t id, int claim)
{
	for (unsigned i = 0; i < p->n_guards; i++)
		if (p->guards[i].track_id == id)
			return p->guards[i].g;
	if (!claim)
		return NULL;
	for (unsigned i = 0; i < p->n_guards; i++)
		if (p->guards[i].track_id == 0) {
			p->guards[i].track_id = id;
			km_guard_reset(p->guards[i].g);
			km_guard_set_track(p->guards[i].g, id);
			return p->guards[i].g;
		}
	return NULL;
}

static void guard_release(km_pipeline *p, uint32_t id)
{
	for (unsigned i = 0; i < p->n_guards; i++)
		if (p->guards[i].track_id == id)
			p->guards[i].track_id = 0;
}

static void summarise(km_pipeline *p, struct km_pipeline_result *out)
{
	/* Row and column sums first: the moments (on a roller the mean angle,
	 * from tabulated column cos/sin) then cost O(rows + cols). */
	double sum = 0.0, sx = 0.0, sy = 0.0, scos = 0.0, ssin = 0.0;
	float peak = 0.0f, thr = p->outline, px = p->px, py = p->py;
	size_t loaded = 0;
	int cyl = p->cfg.geometry == KM_GEOMETRY_CYLINDER;
	double w = 2.0 * 3.14159265358979323846 / (double)p->C;
	double *col = p->colsum;
	memset(col, 0, (size_t)p->C * sizeof(double));
	for (int r = 0; r < p->R; r++) {
		const float *row = p->clean + (size_t)r * (size_t)p->C;
		/* Four independent sums and maxima: one chain would wait on each
		 * add's latency. */
		double rs[4] = {0.0, 0.0, 0.0, 0.0};
		float pk[4] = {0.0f, 0.0f, 0.0f, 0.0f};
		int c = 0;
		for (; c + 4 <= p->C; c += 4)
			for (int l = 0; l < 4; l++) {
				float v = row[c + l];
				rs[l] += v;
				col[c + l] += v;
				pk[l] = v > pk[l] ? v : pk[l]; /* clean: no NaN */
				loaded += v > thr;
			}
		for (; c < p->C; c++) {
			float v = row[c];
			rs[0] += v;
			col[c] += v;
			pk[0] = v > pk[0] ? v : pk[0];
			loaded += v > thr;
		}
		double rsum = (rs[0] + rs[1]) + (rs[2] + rs[3]);
		sum += rsum;
		sy += rsum * (r + 0.5);
		for (int l = 0; l < 4; l++)
			peak = pk[l] > peak ? pk[l] : peak;
	}
	for (int c = 0; c < p->C; c++) {
		sx += col[c] * (c + 0.5);
		scos += col[c] * p->col_cos[c];
		ssin += col[c] * p->col_sin[c];
	}
	double cell_m2 = (double)px * (double)py * 1e-6;
	out->total_load_n = (float)(sum * 1e3 * cell_m2); /* kPa -> Pa */
	out->loaded_area_cm2 = (float)((double)loaded * cell_m2 * 1e4);
	out->peak_kpa = peak;
	out->load_centre_valid = sum > 0.0;
	if (sum > 0.0) {
		out->load_centre_y_mm = (float)(sy / sum * py);
		if (cyl) {
			double a = atan2(ssin, scos);
			if (a < 0.0)
				a += 2.0 * 3.14159265358979323846;
			out->load_centre_x_mm = (float)(a / w * px);
		} else {
			out->load_centre_x_mm = (float)(sx / sum * px);
		}
	}
}

/* Sensor noise per cell from frame-to-frame differences over the loaded
 * cells: 1.4826 x MAD / sqrt(2) (a difference has twice the variance).
 * Breathing and posture change slowly; a moving contact touches few cells,
 * which the median ignores. Smoothed over about 1 s. */
static void update_noise(km_pipeline *p, float dt_s)
{
	/* At most ~1024 cells, evenly spread, and at most every 40 ms: two
	 * medians of all 16384 cells of a 128x128 mat at every frame cost more
	 * than the rest of the pipeline, and the SD's sampling error at 1024
	 * (~3 %) is averaged away over the 1 s it is smoothed for. */
	p->noise_dt += dt_s;
	if (p->have_sd && p->noise_dt < 0.04f) {
		memcpy(p->prev, p->clean, p->cells * sizeof(float));
		return;
	}
	size_t n = 0, step = (p->cells + 1023) / 1024;
	float thr = p->outline;
	for (size_t i = 0; i < p->cells; i += step)
		if (p->clean[i] > thr && p->prev[i] > thr)
			p->scratch[n++] = p->clean[i] - p->prev[i];
	if (n >= 16) {
		/* the upper middle value for even n, not the mean of the two */
		float med = km__select_kth(p->scratch, n, n / 2);
		for (size_t i = 0; i < n; i++)
			p->scratch[i] = fabsf(p->scratch[i] - med);
		float sd = 1.4826f * km__select_kth(p->scratch, n, n / 2) * 0.70710678f;
		float a = KM_CLAMP(p->noise_dt / 1.0f, 0.0f, 1.0f);
		p->cell_sd = p->have_sd ? p->cell_sd + a * (sd - p->cell_sd) : sd;
		p->have_sd = 1;
		p->noise_dt = 0.0f;
	}
	memcpy(p->prev, p->clean, p->cells * sizeof(float));
}

/* Typical pressure of the body this frame: the median of the loaded cells
 * (at most ~1024, evenly spread; the upper middle value for even n). 0 when
 * nothing is loaded. */
static float body_median(km_pipeline *p)
{
	size_t n = 0, step = (p->cells + 1023) / 1024;
	float thr = p->outline;
	for (size_t i = 0; i < p->cells; i += step)
		if (p->clean[i] > thr)
			p->scratch[n++] = p->clean[i];
	return n >= 4 ? km__select_kth(p->scratch, n, n / 2) : 0.0f;
}

/* The levels that follow the body's load. On counts the outline is
 * outline_fraction of the map's 99th-percentile cell (a count has no
 * scale: 0, the kPa rules' "off", took a noisy mat's every cell for the
 * body, its midline for the mat's); the floor is floor_fraction of the
 * body's median loaded cell, never under detect.min_response_kpa. */
static void update_levels(km_pipeline *p)
{
	if (p->cfg.counts && p->cfg.outline_fraction > 0.0f) {
		size_t n = 0;
		for (size_t i = 0; i < p->cells; i++)
			if (!p->mask || p->mask[i])
				p->scratch[n++] = p->clean[i];
		float top = n ? km__select_kth(p->scratch, n, (size_t)(0.99 * (double)(n - 1))) : 0.0f;
		p->outline = fmaxf(p->cfg.detect.outline_kpa, p->cfg.outline_fraction * top);
		km_detect_set_outline(p->det, p->outline);
		if (p->body)
			km_body_set_outline(p->body, p->outline);
	}
	if (p->cfg.floor_fraction > 0.0f)
		km_detect_set_min_response(p->det, fmaxf(p->cfg.detect.min_response_kpa,
		                                         p->cfg.floor_fraction * body_median(p)));
}

/* Mean of the raw frame over the 3 x 3 cells around (r, c): 0 off the mat
 * (nothing carries load there); NAN when its cells on the mat are all
 * outside the sensor (no evidence either way). */
static float patch_mean(const km_pipeline *p, int r, int c)
{
	double sum = 0.0;
	int n = 0, on_grid = 0;
	for (int rr = r - 1; rr <= r + 1; rr++)
		for (int cc = c - 1; cc <= c + 1; cc++) {
			if (rr < 0 || rr >= p->R || cc < 0 || cc >= p->C)
				continue;
			size_t i = (size_t)rr * (size_t)p->C + (size_t)cc;
			on_grid++;
			if (p->mask && !p->mask[i])
				continue;
			sum += p->clean[i];
			n++;
		}
	return n ? (float)(sum / n) : on_grid ? NAN : 0.0f;
}

/*
 * Is this spot a tool's contact (docs/accuracy.md, "Holds need a tool")?
 * A ball or foam roller lies between the body and the mat: it carries a
 * body part's weight on a few cm^2 (far above what the body presses lying:
 * over tool_min_ratio x the body's median, or over tool_min_kpa when the
 * tool carries the whole body and is itself the median) and lifts the body
 * off the mat around it, so along at least one axis
 * (both axes for a ball, across the line for a roller) the mat is nearly
 * unloaded tool_gap_mm away on both sides. A bony peak under body weight
 * (sacrum, shoulder blade, heel, head) is neither: soft tissue around it
 * bears load, and its pressure is a few times the body's median at most.
 * On a cylinder every contact is the instrumented roller's.
 */
static bool tool_contact(km_pipeline *p, const struct km_track *t, float load, float *body_kpa)
{
	if (p->cfg.geometry == KM_GEOMETRY_CYLINDER)
		return true;
	if (load < p->cfg.hold.load_min_kpa)
		return false;
	if (load < p->cfg.tool_min_kpa) {
		/* The body's median costs a selection over the mat: once per
		 * frame, and only for a loaded spot. */
		if (*body_kpa < 0.0f)
			*body_kpa = body_median(p);
		if (!(load >= p->cfg.tool_min_ratio * *body_kpa))
			return false;
	}
	int r = (int)floorf(t->y_mm / p->py), c = (int)floorf(t->x_mm / p->px);
	/* A contact covers more than one sensel (a ball's ~2 cm^2 disc, blurred
	 * by the mat's cover); a lone spike is a stuck cell. */
	float top = 0.0f;
	int wide = 0, r0 = r, r1 = r, c0 = c, c1 = c;
	for (int pass = 0; pass < 2; pass++)
		for (int rr = r - 1; rr <= r + 1; rr++)
			for (int cc = c - 1; cc <= c + 1; cc++) {
				if (rr < 0 || rr >= p->R || cc < 0 || cc >= p->C)
					continue;
				float v = p->clean[(size_t)rr * (size_t)p->C + (size_t)cc];
				if (pass == 0) {
					top = fmaxf(top, v);
				} else if (v >= 0.25f * top) {
					wide++;
					r0 = KM_MIN(r0, rr), r1 = KM_MAX(r1, rr);
					c0 = KM_MIN(c0, cc), c1 = KM_MAX(c1, cc);
				}
			}
	if (wide < 2)
		return false;
	int dx = KM_MAX((int)lroundf(p->cfg.tool_gap_mm / p->px), 2);
	int dy = KM_MAX((int)lroundf(p->cfg.tool_gap_mm / p->py), 2);
	/* On cells coarser than a knot the contact itself fills the cells
	 * beside its own: the gap is counted from the contact's edge. */
	if (!p->coarse)
		r0 = r1 = r, c0 = c1 = c;
	float lim = p->cfg.tool_side_fraction * load;
	float l = patch_mean(p, r, c0 - dx), rt = patch_mean(p, r, c1 + dx);
	float u = patch_mean(p, r0 - dy, c), dn = patch_mean(p, r1 + dy, c);
	/* a side outside the sensor (NAN) is no evidence of a lift */
	return (l < lim && rt < lim) || (u < lim && dn < lim);
}

/* On cells coarser than a knot: the candidates that are a tool's contact
 * (into p->kept); the rest is body weight on one or two cells, which such
 * a mat cannot tell from a cell of uneven gain. */
static size_t tool_candidates(km_pipeline *p, const struct km_detect_result *dr, float *body_kpa)
{
	size_t n = 0;
	for (size_t i = 0; i < dr->count && n < p->n_kept; i++) {
		const struct km_candidate *c = &dr->candidates[i];
		struct km_track at = {.x_mm = c->x_mm, .y_mm = c->y_mm, .scale_mm = c->scale_mm};
		if (tool_contact(p, &at, spot_load(p, &at), body_kpa))
			p->kept[n++] = *c;
	}
	return n;
}

/* Exponential average of the frame, with a time constant shortened by the
 * load centre's motion. Returns the weight of the new frame. */
static float update_average(km_pipeline *p, const struct km_pipeline_result *out, float dt_s,
                            bool gap)
{
	float a = 1.0f;
	if (p->have_avg && !gap && p->cfg.average_tau_s > 0.0f && out->load_centre_valid) {
		a = KM_CLAMP(dt_s / p->cfg.average_tau_s, 0.0f, 1.0f);
		float dx = out->load_centre_x_mm - p->cx, dy = out->load_centre_y_mm - p->cy;
		if (p->cfg.geometry == KM_GEOMETRY_CYLINDER) {
			float w = (float)p->C * p->px;
			dx = fmodf(dx, w);
			if (dx > 0.5f * w)
				dx -= w;
			else if (dx < -0.5f * w)
				dx += w;
		}
		float moved = sqrtf(dx * dx + dy * dy);
		if (p->cfg.average_motion_mm > 0.0f)
			a = fmaxf(a, KM_MIN(moved / p->cfg.average_motion_mm, 1.0f));
		else if (moved > 0.0f)
			a = 1.0f;
	}
	if (a >= 1.0f) {
		memcpy(p->avg, p->clean, p->cells * sizeof(float));
	} else {
		for (size_t i = 0; i < p->cells; i++)
			p->avg[i] += a * (p->clean[i] - p->avg[i]);
	}
	p->have_avg = 1;
	p->cx = out->load_centre_x_mm;
	p->cy = out->load_centre_y_mm;
	return a;
}

static int check_frame(const km_pipeline *p, const struct km_frame *f)
{
	if (f->rows == 0 || f->cols == 0 || f->rows != p->R || f->cols != p->C)
		return KM_ERR_SHAPE;
	if (!(fabsf(f->pitch_mm - p->pa) <= 1e-3f * p->pa) ||
	    f->geometry != p->cfg.geometry)
		return KM_ERR_SHAPE;
	if (f->flags & KM_FRAME_CORRUPT)
		return KM_ERR_MALFORMED;
	if ((f->flags & KM_FRAME_UNCALIBRATED) && !p->cfg.counts)
		return KM_ERR_CALIBRATION;
	if (p->have_last &&
	    ((int32_t)(f->sequence - p->last_seq) <= 0 || f->device_time_us < p->last_us))
		return KM_ERR_BAD_SEQUENCE;
	return KM_OK;
}

int km_pipeline_process(km_pipeline *p, const struct km_frame *f, struct km_pipeline_result *out)
{
	if (!p || !f || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	out->sequence = f->sequence;
	out->time_us = f->device_time_us;
	if (!f->kpa)
		return KM_ERR_INVALID_ARG;
	int rc = check_frame(p, f);
	if (rc != KM_OK) {
		km__log(&p->cfg.log, KM_LOG_DEBUG, "dsp", "frame %u skipped: %s", f->sequence,
		        km_error_name(rc));
		return rc;
	}
	size_t bad = 0;
	const float *restrict src = f->kpa;
	float *restrict dst = p->clean;
	if (p->mask) {
		/* outside the sensor: no data, whatever the frame holds there */
		const uint8_t *restrict m = p->mask;
		for (size_t i = 0, n = p->cells; i < n; i++) {
			float v = src[i];
			int ok = (v >= 0.0f) & (v <= FLT_MAX);
			bad += (size_t)((ok == 0) & (m[i] != 0));
			dst[i] = ok && m[i] ? v : 0.0f;
		}
	} else {
		for (size_t i = 0, n = p->cells; i < n; i++) {
			float v = src[i];
			int ok = (v >= 0.0f) & (v <= FLT_MAX); /* finite and not negative; vectorises */
			bad += (size_t)!ok;
			dst[i] = ok ? v : 0.0f;
		}
	}
	if ((double)bad > (double)p->cfg.max_bad_fraction * (double)p->cells_on) {
		km__log(&p->cfg.log, KM_LOG_WARN, "dsp", "frame %u: %zu bad cells, skipped",
		        f->sequence, bad);
		out->bad_cells = bad;
		return KM_ERR_NONFINITE;
	}
	uint32_t flags = 0;
	if (bad)
		flags |= KM_PIPELINE_BAD_CELLS;
	if ((f->flags & KM_FRAME_LOST_BEFORE) || f->dropped_since_last ||
	    (p->have_last && f->sequence - p->last_seq > 1))
		flags |= KM_PIPELINE_GAP;
	if (f->flags & KM_FRAME_SATURATED)
		flags |= KM_PIPELINE_SATURATED;

	km_event_sink_clear(&p->sink);
	uint64_t dropped0 = p->sink.dropped;
	summarise(p, out);

	float dt_s = 1.0f / p->cfg.rate_hz;
	if (p->have_last && f->device_time_us > p->last_us)
		dt_s = (float)((double)(f->device_time_us - p->last_us) * 1e-6);
	bool gap = (flags & KM_PIPELINE_GAP) || !p->have_last;
	if (gap)
		memcpy(p->prev, p->clean, p->cells * sizeof(float));
	else
		update_noise(p, dt_s);
	float a = update_average(p, out, dt_s, gap);
	if (p->cfg.sensor_noise && p->have_sd) {
		/* Averaging white noise with weight a leaves sqrt(a / (2 - a)). */
		float red = sqrtf(a / (2.0f - a)), sd[KM_BANDPASS_MAX_SCALES];
		for (unsigned k = 0; k < p->n_scales; k++)
			sd[k] = p->cell_sd * red * p->knorm[k];
		km_detect_set_noise(p->det, sd, p->n_scales);
	}
	/* The body model and the levels relative to the body's load follow
	 * posture, which changes over seconds: five updates a second cost a
	 * fraction of one per frame (a gap, the first frame too, updates). */
	p->body_dt += dt_s;
	bool body_now = gap || p->body_dt >= 0.2f;
	if (body_now)
		update_levels(p);
	const float *map = p->avg;
	if (p->cfg.normalized) {
		/* Loaded above the outline level, unloaded again below 90 % of it: cells
		 * at the body's edge no longer flip with the noise, so the weights
		 * rarely change and the band-pass keeps their blurs (about half
		 * its work). */
		float on = p->outline, off = 0.9f * on;
		if (p->mask) /* off the sensor: never loaded */
			for (size_t i = 0; i < p->cells; i++)
				p->weight[i] = p->mask[i] && map[i] > (p->weight[i] > 0.0f ? off : on)
				                   ? 1.0f
				                   : 0.0f;
		else
			for (size_t i = 0; i < p->cells; i++)
				p->weight[i] = map[i] > (p->weight[i] > 0.0f ? off : on) ? 1.0f : 0.0f;
		km_bandpass_execute_masked(p->bp, map, p->weight, p->stack);
	} else if (p->mask) {
		/* plain DoG on the sensor (unloaded cells count as 0 kPa), no
		 * data outside it */
		km_bandpass_execute_masked(p->bp, map, p->maskw, p->stack);
	} else {
		km_bandpass_execute(p->bp, map, p->stack);
	}
	if (body_now)
		p->body_dt = 0.0f;
	if (p->body && body_now) {
		km_body_update(p->body, map);
		/* A body lying (a lying posture found: not cut across the
		 * trunk by the mat's edge, not a short contact) shows its knots
		 * on the trunk only. */
		const struct km_body_model *bm = km_body_model(p->body);
		km_detect_set_trunk_only(p->det, p->cfg.lying_trunk_only && bm->found &&
		                                     (bm->posture == KM_POSTURE_SUPINE ||
		                                      bm->posture == KM_POSTURE_PRONE ||
		                                      bm->posture == KM_POSTURE_SIDE));
	}
	const float *bg = km_bandpass_background(p->bp);
	struct km_detect_result dr;
	km_detect_execute(p->det, p->stack, map, bg, &dr);
	float body_kpa = -1.0f; /* not computed yet this frame */
	const struct km_candidate *cand = dr.candidates;
	size_t n_cand = dr.count;
	if (p->coarse) {
		/* A mat this coarse tracks a tool's contact, not body weight. */
		n_cand = tool_candidates(p, &dr, &body_kpa);
		cand = p->kept;
	}
	struct km_tracker_result tr;
	rc = km_tracker_update(p->trk, cand, n_cand, f->device_time_us, &tr);
	if (rc != KM_OK)
		return rc; /* cannot happen after check_frame; kept for safety */
	p->have_last = 1;
	p->last_seq = f->sequence;
	p->last_us = f->device_time_us;

	unsigned nh = 0;
	bool midline = dr.outline->found;
	for (size_t i = 0; i < tr.count; i++) {
		const struct km_track *t = &tr.tracks[i];
		float load = spot_load(p, t);
		announce(p, t, f->sequence, f->device_time_us, load, 0);
		if (t->state == KM_TRACK_END) {
			guard_release(p, t->id);
			stiff_release(p, t->id);
			continue;
		}
		if (t->state == KM_TRACK_START) {
			/* An id back after its END (the spot found again): the
			 * guard and stiffness series start afresh, not across
			 * the gap. */
			guard_release(p, t->id);
			stiff_release(p, t->id);
		}
		km_stiffness *sf = p->n_stiff ? stiff_for(p, t->id) : NULL;
		if (sf) {
			/* spot radius and region in cells of each axis */
			int kx = KM_CLAMP((int)lroundf(t->scale_mm / p->px), 1, 4);
			int ky = KM_CLAMP((int)lroundf(t->scale_mm / p->py), 1, 4);
			int krx = KM_CLAMP((int)lroundf(p->cfg.region_mm / p->px), 3 * kx, 64);
			int kry = KM_CLAMP((int)lroundf(p->cfg.region_mm / p->py), 3 * ky, 64);
			km_stiffness_push(sf, f->device_time_us, f->sequence,
			                  window_mean(p, t, 0, kry, 0, krx), load,
			                  window_mean(p, t, 2 * ky, 3 * ky, 2 * kx, 3 * kx), &p->sink);
		}
		/* Guarding is watched on spots under a hold (a tool pressing): a
		 * lying body's breathing on bony spots is not tensing. */
		struct km_hold_status hs;
		bool pressed =
		    !p->hold || (km_hold_status(p->hold, t->id, &hs) == KM_OK &&
		                 hs.state != KM_HOLD_IDLE && hs.state != KM_HOLD_BLOCKED);
		if (!pressed)
			guard_release(p, t->id);
		km_guard *g = p->n_guards && pressed ? guard_for(p, t->id, 1) : NULL;
		if (g) {
			km_guard_set_position(g, t->x_mm, t->y_mm);
			km_guard_push(g, f->device_time_us, f->sequence, load, &p->sink);
		}
		/* Holds need a tool: a spot starts a hold timer only as a tool's
		 * contact; one already engaged keeps its timer (and its pause /
		 * unload rules) whatever the contact looks like now. */
		bool tool = tool_contact(p, t, load, &body_kpa);
		if (!tool && (!p->hold || km_hold_status(p->hold, t->id, &hs) != KM_OK ||
		              hs.state == KM_HOLD_IDLE))
			continue;
		if (nh < p->n_hin) {
			struct km_hold_input *h = &p->hin[nh++];
			memset(h, 0, sizeof *h);
			h->track_id = t->id;
			h->x_mm = t->x_mm;
			h->y_mm = t->y_mm;
			h->load_kpa = load;
			h->tensing = g ? km_guard_is_tensing(g) : false;
			h->over_spine = (t->flags & KM_CANDIDATE_MIDLINE) != 0;
			h->spine_distance_mm =
			    midline ? fabsf(t->x_mm - km_outline_midline_at(dr.outline, t->y_mm)) : NAN;
		}
	}
	expire(p, f->sequence, f->device_time_us);
	if (p->hold) {
		size_t first = p->sink.count;
		km_hold_execute(p->hold, f->device_time_us, f->sequence, p->hin, nh, &p->sink);
		/* The stiffness % change runs from each hold's start to its stop. */
		for (size_t i = first; i < p->sink.count && p->n_stiff; i++) {
			const struct km_event *e = &p->events[i];
			if (e->type != KM_EVENT_HOLD_STARTED && e->type != KM_EVENT_HOLD_STOPPED)
				continue;
			for (unsigned j = 0; j < p->n_stiff; j++)
				if (p->stiff[j].track_id == e->track_id) {
					if (e->type == KM_EVENT_HOLD_STARTED)
						km_stiffness_hold_begin(p->stiff[j].s);
					else
						km_stiffness_hold_end(p->stiff[j].s);
				}
		}
	}

	if (p->sink.dropped != dropped0)
		flags |= KM_PIPELINE_EVENTS_LOST;
	if (p->guard_off)
		flags |= KM_PIPELINE_GUARD_OFF;
	if (p->coarse)
		flags |= KM_PIPELINE_COARSE;
	out->flags = flags;
	out->bad_cells = bad;
	out->tracks = tr.tracks;
	out->track_count = tr.count;
	out->candidates = dr.candidates;
	out->candidate_count = dr.count;
	out->events = p->events;
	out->event_count = p->sink.count;
	out->outline = dr.outline;
	out->body = p->body ? km_body_model(p->body) : NULL;
	out->response = p->stack;
	out->n_scales = p->n_scales;
	out->background = bg;
	memcpy(out->noise_sd_kpa, dr.noise_sd_kpa, sizeof out->noise_sd_kpa);
	memcpy(out->texture_sd, dr.texture_sd, sizeof out->texture_sd);
	memcpy(out->texture_mirror_sd, dr.texture_mirror_sd, sizeof out->texture_mirror_sd);
	return KM_OK;
}

int km_pipeline_finish(km_pipeline *p, struct km_pipeline_result *out)
{
	if (!p || !out)
		return KM_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	km_event_sink_clear(&p->sink);
	uint64_t dropped0 = p->sink.dropped;
	struct km_tracker_result tr;
	km_tracker_flush(p->trk, &tr);
	if (p->hold)
		km_hold_stop(p->hold, p->last_us, 0, KM_REASON_RESET, &p->sink);
	for (size_t i = 0; i < tr.count; i++) {
		announce(p, &tr.tracks[i], p->last_seq, p->last_us, 0.0f, 1);
		guard_release(p, tr.tracks[i].id);
		stiff_release(p, tr.tracks[i].id);
	}
	while (p->n_announced) /* knots whose track ended earlier */
		lose(p, 0, p->last_seq, p->last_us);
	out->sequence = p->last_seq;
	out->time_us = p->last_us;
	out->tracks = tr.tracks;
	out->track_count = tr.count;
	out->events = p->events;
	out->event_count = p->sink.count;
	out->outline = km_detect_outline(p->det);
	out->body = p->body ? km_body_model(p->body) : NULL;
	if (p->sink.dropped != dropped0)
		out->flags |= KM_PIPELINE_EVENTS_LOST;
	if (p->guard_off)
		out->flags |= KM_PIPELINE_GUARD_OFF;
	if (p->coarse)
		out->flags |= KM_PIPELINE_COARSE;
	return KM_OK;
}

int km_pipeline_hold_status(const km_pipeline *p, uint32_t track_id, struct km_hold_status *out)
{
	if (!p || !out)
		return KM_ERR_INVALID_ARG;
	if (!p->hold)
		return KM_ERR_NOT_FOUND;
	return km_hold_status(p->hold, track_id, out);
}

void km_pipeline_reset(km_pipeline *p)
{
	if (!p)
		return;
	km_bandpass_reset(p->bp);
	km_detect_reset(p->det);
	km_detect_set_trunk_only(p->det, false);
	km_detect_set_min_response(p->det, p->cfg.detect.min_response_kpa);
	p->outline = p->cfg.detect.outline_kpa;
	km_detect_set_outline(p->det, p->outline);
	if (p->body)
		km_body_set_outline(p->body, p->outline);
	km_tracker_reset(p->trk);
	p->body_dt = 0.0f;
	if (p->hold)
		km_hold_reset(p->hold);
	for (unsigned i = 0; i < p->n_guards; i++) {
		km_guard_reset(p->guards[i].g);
		p->guards[i].track_id = 0;
	}
	for (unsigned i = 0; i < p->n_stiff; i++) {
		km_stiffness_reset(p->stiff[i].s);
		p->stiff[i].track_id = 0;
	}
	km_event_sink_clear(&p->sink);
	p->n_announced = 0;
	p->n_gone = 0;
	p->have_avg = p->have_sd = 0;
	p->noise_dt = 0.0f;
	memset(p->weight, 0, p->cells * sizeof(float));
	km_detect_set_noise(p->det, NULL, 0);
	p->have_last = 0;
	p->last_seq = 0;
	p->last_us = 0;
}

void km_pipeline_destroy(km_pipeline *p)
{
	if (!p)
		return;
	km_bandpass_destroy(p->bp);
	km_detect_destroy(p->det);
	km_tracker_destroy(p->trk);
	km_hold_destroy(p->hold);
	km_body_destroy(p->body);
	if (p->guards)
		for (unsigned i = 0; i < p->n_guards; i++)
			km_guard_destroy(p->guards[i].g);
	km__free(p->guards);
	if (p->stiff)
		for (unsigned i = 0; i < p->n_stiff; i++)
			km_stiffness_destroy(p->stiff[i].s);
	km__free(p->stiff);
	km__free(p->hin);
	km__free(p->clean);
	km__free(p->weight);
	km__free(p->mask);
	km__free(p->maskw);
	km__free(p->colsum);
	km__free(p->col_cos);
	km__free(p->col_sin);
	km__free(p->stack);
	km__free(p->avg);
	km__free(p->kept);
	km__free(p->prev);
	km__free(p->scratch);
	km__free(p->events);
	km__free(p->announced);
	km__free(p->gone);
	km__free(p);
}
