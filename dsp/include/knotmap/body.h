/*
 * Body model from a pressure map: where the body lies on the mat, its
 * posture, midline and bony landmarks, and positions in body coordinates
 * ("left, upper back, 4 cm lateral of the spine"), the basis for following
 * a knot across sessions and for telling a knot from a bone.
 *
 * Flat mat only, the body's head-feet axis along the rows (as
 * knotmap/detect.h assumes). Per frame: the loaded cells (> outline_kpa)
 * give the outline (per-row extent, bounding box) and the midline (the
 * median of the midpoints of the trunk rows' longest loaded runs); which end is the head (the
 * feet end of a lying body shows two separate contacts, the heels; the head
 * end one); the posture from the trunk's contact width against the body's
 * length (lying on the back or front: a wide trunk; on the side: about half
 * as wide; sitting: a short contact; a wide contact of 0.8-1.3 m is part of
 * a body lying on the back, where the rule below cannot apply) and, for a
 * whole body on the back or front, whether the
 * pelvis or the chest presses harder on average (back: the pelvis); landmarks as the pressure peaks
 * in the bands where adult proportions put them, measured from the vertex as a fraction of the
 * contact length (docs/accuracy.md, "Body model"): head 0-13 %, shoulder blades 15-32 % (one each
 * side of the midline), sacrum 40-58 % (near the midline), heels 85-100 % (one each side). Bony
 * prominences are expected maxima under body weight, not knots.
 *
 * Side convention: lying on the back with the head at row 0, looking down
 * at the mat (x grows to the right), the person's left is at larger x; on
 * the front, at smaller x. Unknown postures report mat sides.
 *
 * Thread safety: one object per thread. Nothing allocated per update.
 */
#ifndef KNOTMAP_BODY_H
#define KNOTMAP_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum km_posture {
	KM_POSTURE_UNKNOWN = 0, /* no body, or a shape none of the rules fit */
	KM_POSTURE_SUPINE = 1,  /* lying on the back */
	KM_POSTURE_PRONE = 2,   /* lying on the front */
	KM_POSTURE_SIDE = 3,    /* lying on one side */
	KM_POSTURE_SITTING = 4, /* sitting (or a short contact: on a ball, a cushion) */
};

enum km_landmark {
	KM_LANDMARK_HEAD = 0,
	KM_LANDMARK_SHOULDER_BLADE_LEFT,
	KM_LANDMARK_SHOULDER_BLADE_RIGHT,
	KM_LANDMARK_SACRUM,
	KM_LANDMARK_HEEL_LEFT,
	KM_LANDMARK_HEEL_RIGHT,
	KM_LANDMARK_COUNT
};

enum km_body_region {
	KM_REGION_OFF_BODY = 0,
	KM_REGION_HEAD,
	KM_REGION_NECK_SHOULDERS,
	KM_REGION_UPPER_BACK,
	KM_REGION_MID_BACK,
	KM_REGION_LOWER_BACK,
	KM_REGION_PELVIS,
	KM_REGION_THIGHS,
	KM_REGION_LOWER_LEGS,
	KM_REGION_COUNT
};

struct km_body_point {
	bool found;
	float x_mm, y_mm; /* cell centre of the peak, (c + 0.5) x col pitch, (r + 0.5) x row pitch */
	float kpa;        /* pressure there */
};

struct km_body_model {
	bool found; /* a body is on the mat (enough loaded cells, flat mat) */
	enum km_posture posture;
	bool head_at_top; /* head towards row 0 */
	float midline_x_mm;
	float top_mm, bottom_mm, left_mm, right_mm; /* bounding box of the contact */
	float length_mm;                            /* contact length along the rows */
	float trunk_width_mm; /* median width of the trunk rows' longest loaded run */
	struct km_body_point landmark[KM_LANDMARK_COUNT];
};

/* A position in body coordinates. */
struct km_body_position {
	enum km_body_region region;
	int side;         /* -1 the person's right, +1 left, 0 on the midline (+-25 mm) */
	bool side_is_mat; /* posture unknown: side -1 / +1 are mat left / right */
	float lateral_mm; /* distance from the midline, >= 0 */
	float along_pct;  /* from the vertex, % of the contact length */
	enum km_landmark nearest;
	float nearest_mm; /* distance to that landmark; NAN when none found */
};

struct km_body_config {
	uint16_t rows, cols;
	float pitch_mm;     /* > 0 */
	float row_pitch_mm; /* oblong cells: spacing between rows (y), mm; 0 = pitch_mm */
	float col_pitch_mm; /* and between columns (x); 0 = pitch_mm */
	float outline_kpa;  /* a cell is loaded above this (1 kPa) */
	float min_area_cm2; /* less contact: no body (300 cm^2, as detect.h) */
	struct km_log log;
};

typedef struct km_body km_body;

KM_API struct km_body_config km_body_config_default(void);
/* KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_NO_MEMORY. *out NULL on error. */
KM_API int km_body_create(const struct km_body_config *cfg, km_body **out);
/* Updates the model from one frame [rows x cols] kPa. Allocates nothing.
 * KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_body_update(km_body *b, const float *kpa);
/* The loaded-cell level (outline_kpa) from the next update on (on counts
 * the pipeline sets one relative to the map). KM_OK or KM_ERR_INVALID_ARG
 * (NULL b, negative or non-finite level). */
KM_API int km_body_set_outline(km_body *b, float level);
/* The model of the last update (found false before any). Never NULL for a valid b. */
KM_API const struct km_body_model *km_body_model(const km_body *b);
/* Body coordinates of (x_mm, y_mm) under model m. KM_OK, KM_ERR_INVALID_ARG,
 * KM_ERR_NOT_FOUND (no body). */
KM_API int km_body_locate(const struct km_body_model *m, float x_mm, float y_mm,
                          struct km_body_position *out);
/*
 * A spot's body coordinates as the history keeps them, to match spots across
 * sessions on the body, not on the mat (the four fields of session/history.h's
 * struct km_history_body: that part does not depend on the dsp, so they come
 * as plain values; `knotmap record` and the viewer's R key both fill it here).
 * True only when a body is found, the spot is on it and the posture says
 * which side is the person's left (side_is_mat false: a mat side would match
 * the wrong spot when the person turns round). Otherwise false, region "" and
 * the numbers 0. region (truncated to region_n, always terminated when
 * region_n > 0) gets km_body_region_name(); a NULL output is skipped.
 */
KM_API bool km_body_history_position(const struct km_body_model *m, float x_mm, float y_mm,
                                     char *region, size_t region_n, int *side,
                                     float *lateral_mm, float *along_pct);
/* "left, upper back, 4 cm lateral of the spine, 3 cm from the left shoulder
 * blade" into buf (always terminated). Returns the length it needed. */
KM_API size_t km_body_describe(const struct km_body_position *pos, char *buf, size_t n);
/*
 * A spot's name for people, the one wording the viewer's markers, the PNG
 * report, the export's summary and `analyze` share: the person's side and the
 * body region ("left upper back", "right thigh": one of a pair singular), the
 * region alone on the midline or when the posture does not say which side is
 * the person's ("upper back"). Returns false (buf "") when the body does not
 * place the spot: no body, a short contact (sitting, a trunk on a ball: the
 * regions are proportions of a whole body's length), or off the body. buf is
 * always terminated; KM_BODY_NAME_MAX holds every name.
 */
#define KM_BODY_NAME_MAX 32
KM_API bool km_body_spot_name(const struct km_body_model *m, float x_mm, float y_mm, char *buf,
                              size_t n);
/*
 * A cell spacing for a map whose file gives none, from the body lying on it
 * (an import without a pitch: the 10 mm default would make a whole body on a
 * bed mat 0.6 m long, and its coarse cells look fine enough to search for
 * knots). Scale-free: loaded cells are those 5 % of the way from the map's
 * 5th percentile (the empty mat, an offset) to its 99th (any units); a row is
 * part of the body with 2 or more of them. When the body's rows span at least
 * half the mat's rows and are at least KM_BODY_GUESS_ASPECT times as many as
 * the median row's loaded cells (a person lying on a bed sheet: 2.8-7 in
 * every PoPu capture; a back, a seat or a foam roller on a mat: about 1),
 * *pitch_mm = KM_BODY_LYING_CONTACT_MM / those rows and KM_OK; otherwise
 * KM_ERR_NOT_FOUND and *pitch_mm untouched. A body cut by the mat's ends
 * gives a pitch too small, a child one too large. A long single contact of
 * another size (a footprint) is taken for a body too: the caller says it
 * assumed this. Give a map averaged over a few seconds. Allocates a copy of
 * the map. KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_NO_MEMORY as usual.
 */
#define KM_BODY_LYING_CONTACT_MM 1600.0f /* head to heels, a lying adult of 1.70 m */
#define KM_BODY_GUESS_ASPECT 2.5f
KM_API int km_body_guess_pitch(const float *map, uint16_t rows, uint16_t cols, float *pitch_mm);
KM_API const char *km_posture_name(enum km_posture p);
KM_API const char *km_landmark_name(enum km_landmark l);
KM_API const char *km_body_region_name(enum km_body_region r);
KM_API void km_body_destroy(km_body *b);

#ifdef __cplusplus
}
#endif

#endif
