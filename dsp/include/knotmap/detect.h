/*
 * Spot detection on a band-pass response stack: candidate tender/stiff spots
 * ("knots"), never a diagnosis.
 *
 * Per frame: a robust noise estimate per scale (1.4826 x MAD of the response
 * over loaded cells three outer sigmas inside the loaded area, so body and mat
 * edges do not count as noise), non-maximum suppression over the 3x3x3
 * neighbourhood in (x, y, scale), thresholds (response > noise_k x noise SD
 * and > min_response_kpa), an edge test (Hessian ratio, as in SIFT, so body
 * and mat edges do not read as spots), sub-cell position by a 3-point
 * log-parabola fit per axis and a parabola over log-scale. Candidates are
 * sorted by response, strongest first, one kept per min_separation_mm, and
 * then capped at max_candidates (capping first let duplicates of one strong
 * structure push weaker spots out).
 * Optional (off by default, on in the pipeline): a relative-contrast rule
 * (min_contrast x background), an external noise SD from the sensor
 * (km_detect_set_noise), per-scale maxima (per_scale_nms) and the
 * broad-dome rule (max_scale_growth).
 *
 * Body outline (flat mat only; the body lies with its head-feet axis along
 * the rows): cells above outline_kpa form the loaded area; each row's longest
 * run of loaded cells (the trunk, not an arm beside it or a stuck edge strip)
 * gives a midpoint and the spine midline is a robust line through them.
 * Maxima not surrounded by loaded cells (support_sigmas) are dropped.
 * Candidates within midline_half_width_mm of it are masked (never time a hold
 * over the spine). Candidates whose response exceeds landmark_excess x the
 * background are far stronger than a knot's 15-40 % stiffness excess can make
 * (docs/signal-model.md): bony prominence or tool contact; they are labelled.
 *
 * Coordinates (as the virtual mat's): cell (r, c) has its centre at
 * x_mm = (c + 0.5) * col pitch, y_mm = (r + 0.5) * row pitch (both pitch_mm
 * on square cells); on a cylinder x wraps at cols * col pitch. Distances and
 * areas are in mm; the chessboard distances of the loaded area's erosions
 * (noise mask, support test) are counted in cells of the pitches'
 * geometric mean.
 *
 * Thread safety: one object per thread.
 */
#ifndef KNOTMAP_DETECT_H
#define KNOTMAP_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/bandpass.h"
#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum km_candidate_flag {
	KM_CANDIDATE_MIDLINE = 1u << 0,  /* within the spine midline band */
	KM_CANDIDATE_LANDMARK = 1u << 1, /* much stronger than a knot: bone or tool */
	KM_CANDIDATE_WEAK = 1u << 2,     /* between weak_fraction x and 1 x the thresholds:
	                                    only keeps an existing track alive (hysteresis) */
	KM_CANDIDATE_PAIRED = 1u << 3,   /* a twin across the midline: paired anatomy
	                                    (mirror_fraction; with mirror_mode LABEL) */
};

/* What to do with masked candidates (midline, landmark). */
enum km_detect_mask_mode {
	KM_DETECT_MASK_DROP = 0,  /* leave them out of the list */
	KM_DETECT_MASK_LABEL = 1, /* keep them, with the flag set */
};

struct km_candidate {
	float x_mm, y_mm; /* sub-cell position */
	float scale_mm; /* sigma of the Gaussian spot that fits best (inner sigma x sqrt(ratio)) */
	float response_kpa;   /* band-pass response at the peak (~ local excess) */
	float peak_kpa;       /* input pressure at the nearest cell */
	float background_kpa; /* smooth background there (0 when no background map) */
	uint16_t row, col;    /* nearest cell */
	uint16_t scale_index;
	uint16_t flags; /* enum km_candidate_flag bits */
};

struct km_body_outline {
	int found;          /* 0: no body (too few loaded cells, or a cylinder) */
	/* The spine midline: the line x = midline_x_mm + midline_slope (y -
	 * midline_y_mm) (km_outline_midline_at), fitted to the rows' midpoints:
	 * a body lying a little turned on the mat. */
	float midline_x_mm, midline_y_mm, midline_slope;
	float left_mm, right_mm, top_mm, bottom_mm; /* bounding box of the loaded area */
	size_t loaded_cells;
	uint16_t rows;
	/* Per row: left / right end of the loaded area in mm, NaN where the row
	 * has no body. [rows] each, owned by the detector. */
	const float *row_left_mm;
	const float *row_right_mm;
};

/* x of the outline's midline at y_mm. */
static inline float km_outline_midline_at(const struct km_body_outline *o, float y_mm)
{
	return o->midline_x_mm + o->midline_slope * (y_mm - o->midline_y_mm);
}

struct km_detect_config {
	uint16_t rows, cols; /* grid; must match the band-pass */
	float pitch_mm;      /* > 0 */
	/* Oblong cells: spacing between rows (y) and between columns (x), mm;
	 * 0 = pitch_mm (default). */
	float row_pitch_mm, col_pitch_mm;
	enum km_geometry geometry;
	unsigned n_scales;                      /* 1..KM_BANDPASS_MAX_SCALES */
	float scale_mm[KM_BANDPASS_MAX_SCALES]; /* inner sigma of each layer, increasing */
	float ratio;                            /* DoG ratio of the band-pass (1.6) */
	float noise_k;                          /* response > noise_k x noise SD; default 3 */
	float min_response_kpa;                 /* absolute floor; default 2 kPa */
	float edge_ratio;            /* Hessian ratio limit (Lowe 2004); default 10; 0 = off */
	unsigned max_candidates;     /* 1..1024; default 32 */
	float outline_kpa;           /* a cell is loaded above this; default 1 kPa */
	unsigned outline_min_cells;  /* fewer loaded cells: no body; default 30 */
	float outline_min_area_cm2;  /* smaller loaded area: no body (a tool alone); default 300 */
	float midline_half_width_mm; /* default 25 (docs/signal-model.md: +-2.5 cm); 0 = off */
	float
	    landmark_excess; /* response / background above this: landmark; default 0.8; 0 = off */
	/* Drop maxima with an unloaded or off-grid cell within this many inner
	 * sigmas (chessboard): body corners and mat edges make strong DoG
	 * responses with plain convolution. 0..10, 0 = off; default 2 (1 is
	 * enough after km_bandpass_execute_masked). Landmark-strength peaks are
	 * exempt (a ball's contact is an island of load). */
	float support_sigmas;
	/* Weaker candidates closer than this to a stronger one are dropped (one
	 * spot, maxima at two scales); default 20 mm (docs/signal-model.md: merge
	 * within 2 cm); 0 = off. */
	float min_separation_mm;
	/* Hysteresis: maxima above weak_fraction x the thresholds (but below
	 * them) are reported with KM_CANDIDATE_WEAK; the tracker uses them only
	 * to continue confirmed tracks. 0..1; default 0 (off; the pipeline
	 * uses 0.6); 1 = off too. */
	float weak_fraction;
	/* Noise SD smoothed over about this many frames (exponential average);
	 * 0 or 1 = per frame (default 1; the pipeline uses 1 s of frames). */
	unsigned noise_frames;
	/* Relative contrast: a knot raises the local pressure by a fraction of
	 * the background (docs/signal-model.md: +15-40 % stiffness, p = k d), so a
	 * candidate also needs response > min_contrast x background (with a
	 * background map; weak candidates: weak_fraction x that). 0 = off
	 * (default; the pipeline uses 0.08). */
	float min_contrast;
	/* true: maxima are found per scale (3 x 3 in x, y) and merged by
	 * min_separation_mm, strongest first, instead of 3x3x3 in (x, y,
	 * scale). A small knot on the flank of a broad bump (a rhomboid knot
	 * beside the scapula) is a spatial maximum at its own scale but sits
	 * below the bump's rising response at coarser scales, so the 3-D rule
	 * drops it. Default false (the pipeline uses true). */
	bool per_scale_nms;
	/* With per_scale_nms: an unlabelled maximum whose response one scale
	 * coarser, at the same cell, exceeds max_scale_growth x its own is the
	 * flank or dome of a broader structure (a thigh, a scapula), not a spot
	 * of its own scale: dropped. A Gaussian spot's response falls past
	 * its scale. > 1, or 0 = off (default; the pipeline uses 1.5). */
	float max_scale_growth;
	/* Left-right evidence: anatomy is paired about the spine (shoulder
	 * blades, paraspinal muscles, buttocks), a knot is usually one-sided.
	 * m = the largest response within mirror_tol_mm (the most whole cells
	 * within it, at least one) of the candidate's mirror image about the
	 * body's midline (same scale: a coarser one responds more to anything).
	 * With 0.5 x response <= m <= 5 x response (a twin, also a stronger one:
	 * a ridge whose twin carries a knot; one over five times as strong is
	 * something else, a stuck sensel or a tool), the excess without a twin,
	 * response - mirror_fraction x m, must still pass the noise, floor and
	 * contrast thresholds, else the candidate is paired anatomy: dropped, or
	 * labelled KM_CANDIDATE_PAIRED (mirror_mode). Needs a body outline
	 * (flat mat). 0 = off (default; the pipeline uses 1: the twin's whole
	 * response). mirror_tol_mm: default 10 mm. A knot on one of a pair of
	 * bony peaks must exceed its twin by a knot's excess (docs/accuracy.md). */
	float mirror_fraction;
	float mirror_tol_mm;
	/* This body's own texture: a knot must stand out from the static
	 * cell-to-cell variation of the map it sits in (anatomy, uneven sensel
	 * gain), not only from the sensor's frame-to-frame noise. Both scale
	 * with the load (a gain error or a stiffness rise multiplies the
	 * pressure, p = k d), so the texture is measured as relative contrast:
	 * t_s = 1.4826 x MAD of response / background over the loaded cells
	 * three outer sigmas inside the loaded area (as the noise estimate),
	 * and the contrast rule asks for response > max(min_contrast,
	 * texture_k x t_s) x background at scale s. A smooth body has a small
	 * t_s and nothing changes; a textured map raises the bar. Needs a
	 * background map. 0 = off (default; the pipeline uses 0.6, chosen on
	 * the simulator family, docs/accuracy.md). */
	float texture_k;
	/* The texture the body's mirror image does not explain: t'_s from the
	 * differences of response / background between each cell and its
	 * mirror image about the midline (divided by sqrt(2)); the contrast
	 * bar is also >= texture_mirror_k x t'_s. Paired anatomy (shoulder
	 * blades, paraspinal ridges, buttocks), which mirror_fraction answers
	 * for, cancels; uneven sensel gain, an asymmetric posture and
	 * one-sided structure stay. Needs a body outline on a flat mat (else
	 * t'_s is 0). 0 = off (default; the pipeline uses 3.5, docs/accuracy.md). */
	float texture_mirror_k;
	/* t_s is re-measured for one scale every texture_frames executes
	 * (round robin; the texture is static, the cost is a median), for
	 * every scale at the first execute. 0 or 1 = every execute (default;
	 * the pipeline: about every 0.25 s). */
	unsigned texture_frames;
	enum km_detect_mask_mode mirror_mode;   /* default DROP */
	enum km_detect_mask_mode midline_mode;  /* default DROP */
	enum km_detect_mask_mode landmark_mode; /* default DROP */
	struct km_log log;
};

/* Result of one execute; pointers are owned by the detector and valid until
 * its next execute, reset or destroy. */
struct km_detect_result {
	const struct km_candidate *candidates; /* strongest first */
	size_t count;
	size_t over_cap; /* maxima above threshold that did not fit */
	size_t masked;   /* dropped: masks, no support, closer than min_separation_mm */
	float noise_sd_kpa[KM_BANDPASS_MAX_SCALES]; /* as used (smoothed) */
	float texture_sd[KM_BANDPASS_MAX_SCALES];   /* t_s, relative (0 with texture_k off) */
	float texture_mirror_sd[KM_BANDPASS_MAX_SCALES]; /* t'_s (0 with texture_mirror_k off) */
	const struct km_body_outline *outline;
};

typedef struct km_detect km_detect;

/* Defaults as above; rows, cols, n_scales/scale_mm must be set (or use
 * km_detect_config_from_bandpass). */
KM_API struct km_detect_config km_detect_config_default(void);
/* Copies the grid, pitch, geometry, scales and ratio of a band-pass config
 * into cfg (other fields untouched). KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_detect_config_from_bandpass(struct km_detect_config *cfg,
                                          const struct km_bandpass_config *bp);

/* KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_NO_MEMORY. *out NULL on error. */
KM_API int km_detect_create(const struct km_detect_config *cfg, km_detect **out);

/*
 * stack: [n_scales x rows x cols] kPa (km_bandpass_execute output);
 * kpa: the input frame cells [rows x cols] kPa (outline, peak values);
 * background: [rows x cols] kPa or NULL (landmark test off without it).
 * Fills *res. Allocates nothing. KM_OK or KM_ERR_INVALID_ARG.
 */
KM_API int km_detect_execute(km_detect *d, const float *stack, const float *kpa,
                             const float *background, struct km_detect_result *res);

/* External noise SD per scale (kPa, sd[0..n), n == n_scales), e.g. from
 * the sensor's temporal noise: used for the noise_k rule instead of the
 * spatial MAD (which a body's anatomy dominates) from the next execute on.
 * n == 0 (sd may be NULL) goes back to the MAD. Kept across reset.
 * KM_OK, KM_ERR_INVALID_ARG (NULL d, n not 0 or n_scales, negative or
 * non-finite values). */
KM_API int km_detect_set_noise(km_detect *d, const float *sd, unsigned n);

/* Trunk only (off at create): from the next execute, unlabelled candidates
 * off the trunk of the body are dropped (counted in masked). The trunk is
 * the band of rows where the loaded run through the midline is wide (0.7 x
 * the widest such runs' width or more), gaps of up to 250 mm inside it
 * bridged; per row, that run, a cell either side. For a whole body lying
 * on a mat (the caller knows: knotmap/body.h's posture): its arms, head and
 * legs touch with small, bony contacts, the back is where a lying map can
 * show a knot. Landmark-strength candidates (a tool's contact) are kept.
 * Ignored on a cylinder. KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_detect_set_trunk_only(km_detect *d, bool on);

/* The absolute floor (min_response_kpa) from the next execute on, e.g. a
 * fraction of the body's typical load (knotmap/pipeline.h floor_fraction).
 * Kept across reset. KM_OK, KM_ERR_INVALID_ARG (NULL d, negative or
 * non-finite kpa). */
KM_API int km_detect_set_min_response(km_detect *d, float kpa);

/* The loaded-cell level (outline_kpa) from the next execute on, e.g. one
 * relative to the map on counts (knotmap/pipeline.h outline_fraction).
 * Kept across reset. KM_OK, KM_ERR_INVALID_ARG (NULL d, negative or
 * non-finite level). */
KM_API int km_detect_set_outline(km_detect *d, float level);

/* The outline of the last execute (found == 0 before any). Never NULL for a
 * valid d. */
KM_API const struct km_body_outline *km_detect_outline(const km_detect *d);
KM_API void km_detect_reset(km_detect *d);
KM_API void km_detect_destroy(km_detect *d);

#ifdef __cplusplus
}
#endif

#endif
