/*
 * The dsp pipeline: one object that takes a stream of pressure frames and
 * gives tracked candidate knots, events and whole-mat summaries.
 *
 *   frame -> checks (shape, order, NaN/inf/negative cells) -> spatial
 *   band-pass (knotmap/bandpass.h) -> spot detection + body outline
 *   (knotmap/detect.h), body model (knotmap/body.h) -> tracker
 *   (knotmap/tracker.h) -> per knot: guarding
 *   (knotmap/guard.h), stiffness index (knotmap/stiffness.h) and hold
 *   timers (knotmap/hold.h) -> events
 *   (knotmap/events.h)
 *
 * Knots are candidate tender/stiff spots, never a diagnosis. By default the
 * detector labels (does not drop) strong peaks (bone or tool contact) and
 * spots over the spine midline: they are tracked and reach the hold timers
 * (a tool contact is what a hold times; a midline spot makes SPINE_BLOCKED),
 * but only unlabelled tracks that lived announce_s are announced with
 * KNOT_FOUND / KNOT_LOST (each announced id gets exactly one KNOT_LOST,
 * lost_after_s after its END unless the spot comes back, or at finish). A
 * knot lost and later found again where it was, in the same session, is
 * that knot back: KNOT_FOUND with reason KM_REASON_AGAIN under its old id
 * (one identity per spot; counting new spots skips these).
 *
 * Include this header alone: it pulls in every type the result uses.
 * Nothing is allocated per frame after km_pipeline_create. Times come from
 * the frames' device_time_us.
 *
 * Thread safety: one object per thread; the event callback runs on the
 * thread calling km_pipeline_process, inside that call.
 */
#ifndef KNOTMAP_PIPELINE_H
#define KNOTMAP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/bandpass.h"
#include "knotmap/body.h"
#include "knotmap/core.h"
#include "knotmap/detect.h"
#include "knotmap/events.h"
#include "knotmap/guard.h"
#include "knotmap/hold.h"
#include "knotmap/stiffness.h"
#include "knotmap/tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

struct km_pipeline_config {
	/* The grid every frame must have (KM_ERR_SHAPE otherwise). */
	uint16_t rows, cols;
	float pitch_mm;
	/* Oblong cells (a 10.28 x 5.28 mm Tekscan mat): the spacing between
	 * rows (along y) and between columns (along x), mm; 0 = pitch_mm
	 * (default: square cells). Every stage works in true mm per axis: the
	 * band-pass sigmas, distances, areas (a cell is row x col pitch) and
	 * positions, x_mm = (col + 0.5) x col pitch, y_mm = (row + 0.5) x row
	 * pitch. A frame carries one pitch, the geometric mean sqrt(row x col)
	 * (the same cell area, as knotmap/import.h gives it): the frame check
	 * compares the frame's pitch_mm with that. */
	float row_pitch_mm, col_pitch_mm;
	/* Cells on the sensor: sensor_mask[r * cols + c] nonzero for a real
	 * sensel, 0 for a cell outside the sensor (a Tekscan file's B cells,
	 * an import's mask: knotmap/import.h); NULL (default) = every cell.
	 * Copied at create (the pointer need not outlive it). A cell outside
	 * the sensor is no data, not unloaded skin: its value is ignored (read
	 * as 0; NaN there is no bad cell), it has weight 0 in the band-pass
	 * (normalised convolution, also with normalized false: on the sensor
	 * the plain DoG's weights are 1), it is never loaded (outline, body
	 * model, noise estimate, loads, area), never holds a candidate, and
	 * the loads of a spot (hold, stiffness, the tool test's sides) are
	 * means over the sensor's cells only. Like the mat's edge, it is
	 * where a spot's support ends (detect.h support_sigmas). */
	const uint8_t *sensor_mask;
	enum km_geometry geometry;
	float rate_hz; /* nominal frame rate, for the guard's filters; default 100 */
	/* Stage configs. Their grid, pitch, geometry, scale and wrap fields are
	 * filled from the fields above at create; the rest is used as given
	 * detect.noise_frames 0 (the default here) means rate_hz frames (1 s). */
	struct km_bandpass_config bandpass;
	/* Band-pass by normalised convolution over the loaded cells
	 * (km_bandpass_execute_masked; default true) or plain DoG (false). */
	bool normalized;
	struct km_detect_config detect;
	struct km_tracker_config tracker;
	/* One guard per spot whose hold timer is engaged or running (with holds
	 * disabled: per track); default true. */
	bool enable_guard;
	struct km_guard_config guard;
	bool enable_hold; /* hold timers (default true) */
	struct km_hold_config hold;
	/* Holds need a tool: a spot starts a hold timer only as a ball or
	 * roller contact, never as bone under body weight. On a flat mat a
	 * contact is a tool's when its 3 x 3 load is >= tool_min_ratio x the
	 * median of the loaded cells (default 12; 0 = any load) or >=
	 * tool_min_kpa (default 30 kPa: a tool carrying the whole body is
	 * itself the median; body weight alone lying stays below) and, along at
	 * least one axis, the mat tool_gap_mm away on both sides (default 40
	 * mm) reads under tool_side_fraction of it (default 0.2: the body is
	 * lifted around a ball, across a roller), and the contact covers two
	 * sensels or more (a lone spike is a stuck cell). tool_side_fraction 1 with
	 * tool_min_ratio 0 times every loaded spot (the old behaviour). On a
	 * cylinder every contact is the instrumented roller's. */
	float tool_min_ratio;
	float tool_min_kpa;
	float tool_gap_mm;
	float tool_side_fraction;
	/* Stiffness index per tracked spot (default true): regional load = mean
	 * over region_mm around the spot, spot = mean over the spot, neighbourhood
	 * = the ring between 2 and 3 spot radii. Holds start/end its % change. */
	bool enable_stiffness;
	struct km_stiffness_config stiffness;
	float region_mm; /* half-width of the regional-load window; default 100 mm (est.) */
	/* Temporal integration before the band-pass: knots are static for
	 * seconds while lying or holding, sensor noise is not. The map used for
	 * detection is an exponential average with time constant
	 * average_tau_s (0 = off; default 0.5 s), shortened whenever the load
	 * centre moves, so that the map never smears by more than about
	 * average_motion_mm per time constant (default 2 mm; rolling, a ball
	 * moving). Loads on spots (holds, guard, stiffness) use the raw frame. */
	float average_tau_s;
	float average_motion_mm;
	/* Noise rule from the sensor: the per-cell noise SD is estimated from
	 * frame-to-frame differences (robust, over the loaded cells, smoothed
	 * over 1 s) and carried through the band-pass kernels and the average
	 * (km_detect_set_noise), instead of the spatial MAD of the response,
	 * which a body's anatomy dominates. Default true. */
	bool sensor_noise;
	/* Persistence before a spot is reported as a track: the tracker
	 * confirms after hits in 3 of 4 frames over confirm_s (window capped
	 * at 32 frames; never shorter than tracker.confirm_window / hits).
	 * Moving contact edges live for a few frames; knots for seconds.
	 * 0 = use the tracker config as given; default 0.3 s (est.). */
	float confirm_s;
	/* KNOT_FOUND once a track has lived this long (s, 0..3600; default 1 s,
	 * est.): contact edges that blink for a few frames are not announced. */
	float announce_s;
	/* KNOT_LOST once an announced knot's track has been gone this long (s,
	 * 0..3600; default 10 s, est.): a spot that blinks out (breathing, a
	 * shift) and is found again at the same place keeps its id (tracker.h)
	 * and is announced once. 0 = at the track's END. */
	float lost_after_s;
	/* A body lying on the mat (the body model finds a lying posture: the
	 * whole body, or head to pelvis or thighs): knots are looked for on
	 * its trunk only (knotmap/detect.h km_detect_set_trunk_only): arms,
	 * head and legs touch a flat mat with small bony contacts. A mat that
	 * shows less (a back cut by the mat's edges, a short contact, a thigh
	 * on a roller) is not gated. Default true. */
	bool lying_trunk_only;
	/* The detection floor follows the body's load: every body-model
	 * update (5 a second) it is floor_fraction x the median of the loaded
	 * cells, never under detect.min_response_kpa. A knot's excess is a
	 * fraction of the load it sits in (p = k d), so a lighter person or a
	 * softer mat lowers every response with it, a heavier one or a firmer
	 * mat raises the anatomy's; an absolute floor held one and let the
	 * other through. Also on counts (it is relative). 0..1, 0 = off (the
	 * floor is detect.min_response_kpa); default 0.1 (docs/accuracy.md). */
	float floor_fraction;
	/* On counts (which have no scale, so detect.outline_kpa is 0 there): a
	 * cell is loaded above outline_fraction x the map's 99th-percentile
	 * cell, re-read as the floor is. Without it every cell of a mat with
	 * an offset or noise is "loaded", the body's outline is the mat's and
	 * the midline, mirror and support rules measure the mat. 0..1, 0 =
	 * off; default 0.1. Ignored in kPa. */
	float outline_fraction;
	/* A knot (radius 7-25 mm, docs/signal-model.md) shows as a bump of its
	 * own only on cells no larger than its radius; on coarser cells one
	 * cell holds most of the knot and reads like a cell of uneven gain or
	 * a fold of the sheet. Cells coarser than this (mm, either axis; 0 =
	 * no limit; default 18, where the phantom family's precision falls):
	 * a spot is kept only as a tool's contact, with KM_PIPELINE_COARSE on
	 * every result. */
	float knot_max_pitch_mm;
	/* A frame with more NaN/inf/negative cells than this fraction (of the
	 * sensor's cells) is rejected (KM_ERR_NONFINITE); fewer are replaced by
	 * 0 and flagged.
	 * Default 0.25. */
	float max_bad_fraction;
	/* The values are raw counts, not kPa (no calibration): frames flagged
	 * KM_FRAME_UNCALIBRATED are processed instead of refused. Set it with
	 * km_pipeline_config_for_counts, which also switches the kPa rules off.
	 * Default false. */
	bool counts;
	size_t max_events;    /* events kept per frame in the result, 1..4096 (default 64) */
	km_event_fn on_event; /* optional: called for every event, in order */
	void *user;
	struct km_log log;
};

/* Flags in km_pipeline_result.flags. */
enum km_pipeline_flag {
	KM_PIPELINE_BAD_CELLS = 1u << 0,   /* some cells were NaN/inf/negative (replaced by 0) */
	KM_PIPELINE_GAP = 1u << 1,         /* frames were lost before this one */
	KM_PIPELINE_SATURATED = 1u << 2,   /* the frame says cells hit the ADC ceiling */
	KM_PIPELINE_EVENTS_LOST = 1u << 3, /* more events than max_events (callback saw all) */
	/* enable_guard was asked for but rate_hz is below KM_PIPELINE_GUARD_MIN_HZ:
	 * no TENSING_UP / EASE_OFF from this stream (set on every result; the
	 * create also logs a warning). Detection and holds run as usual. */
	KM_PIPELINE_GUARD_OFF = 1u << 4,
	/* The mat's cells are coarser than knot_max_pitch_mm: spots are
	 * announced (KNOT_FOUND) only as a tool's contact, never from body
	 * weight alone (set on every result; the create logs a notice). */
	KM_PIPELINE_COARSE = 1u << 5
};

/* The tensing-up guard's tremor band (8-12 Hz) needs this frame rate. */
#define KM_PIPELINE_GUARD_MIN_HZ 25.0f

/* One processed frame. Pointers are owned by the pipeline and valid until the
 * next process, reset or destroy. */
struct km_pipeline_result {
	uint32_t sequence;
	uint64_t time_us;
	uint32_t flags; /* enum km_pipeline_flag */
	size_t bad_cells; /* on the sensor (sensor_mask) */
	/* tracked knots: confirmed tracks with START/MOVE/END (tracker.h) */
	const struct km_track *tracks;
	size_t track_count;
	/* this frame's detections, strongest first (detect.h) */
	const struct km_candidate *candidates;
	size_t candidate_count;
	/* events of this frame, in order */
	const struct km_event *events;
	size_t event_count;
	/* body outline and spine midline (found == 0 when unknown) */
	const struct km_body_outline *outline;
	/* body model (knotmap/body.h): posture, midline, landmarks; updated
	 * five times a second from the averaged map; NULL on a cylinder. Use
	 * km_body_locate for a spot's body coordinates. */
	const struct km_body_model *body;
	/* whole mat */
	float total_load_n;    /* sum of kPa x cell area */
	float loaded_area_cm2; /* cells above detect.outline_kpa */
	float peak_kpa;
	bool load_centre_valid; /* false when nothing is loaded */
	float load_centre_x_mm; /* pressure-weighted centre (circular mean on a cylinder) */
	float load_centre_y_mm;
	/* band-pass output, [n_scales x rows x cols] kPa, and background [rows x cols] (may be
	 * NULL), both of the temporally averaged map (average_tau_s) */
	const float *response;
	unsigned n_scales;
	const float *background;
	float noise_sd_kpa[KM_BANDPASS_MAX_SCALES]; /* noise SD per scale the detector used
	                                               (sensor noise with sensor_noise) */
	float texture_sd[KM_BANDPASS_MAX_SCALES];   /* the body's relative texture per scale
	                                               (detect.h texture_k; 0 when off) */
	float texture_mirror_sd[KM_BANDPASS_MAX_SCALES]; /* the part of it the mirror image
	                                                    does not explain (texture_mirror_k) */
};

typedef struct km_pipeline km_pipeline;

/* Defaults for every stage; rows/cols must be set (pitch 10 mm, flat). */
KM_API struct km_pipeline_config km_pipeline_config_default(void);

/* For a stream of raw counts (an uncalibrated mat, a file without units):
 * sets counts and switches off every threshold in kPa (the detection floor,
 * the outline level: any loaded cell is loaded, the tool's absolute load:
 * tools by their ratio to the body's median only, the hold's load window),
 * so detection, tracking and holds run on the rules relative to the map
 * itself; loads are then in counts. Call after setting the rest. */
KM_API void km_pipeline_config_for_counts(struct km_pipeline_config *cfg);

/* The coarser of the row and column pitch, mm, when it is coarser than
 * knot_max_pitch_mm (a pipeline of this config keeps spots only under a
 * tool: KM_PIPELINE_COARSE); 0 otherwise. */
KM_API float km_pipeline_config_coarse_mm(const struct km_pipeline_config *cfg);

/* Creates every stage. KM_OK, KM_ERR_INVALID_ARG / KM_ERR_SHAPE / KM_ERR_RANGE
 * (a stage rejected its config; the log says which), KM_ERR_NO_MEMORY,
 * KM_ERR_FFT. *out NULL on error. */
KM_API int km_pipeline_create(const struct km_pipeline_config *cfg, km_pipeline **out);

/* Frame rates the stages accept: the breathing estimate (enable_stiffness)
 * needs >= 1 frame/s, the guard's and the stiffness index's filters take
 * at most 10000 (without them, 100000). */
#define KM_PIPELINE_MIN_HZ 1.0f
#define KM_PIPELINE_MAX_HZ 10000.0f

/*
 * Would km_pipeline_create accept cfg? KM_OK, or its error code with the
 * reason in words in why (NUL-terminated, cut to why_size; why may be NULL),
 * e.g. "frame rate 100000 Hz is above the 10000 Hz the tensing-up guard and
 * stiffness index accept". Lets a caller check user options (--rate, --pitch)
 * once, before reading any data. Logs nothing (cfg->log is not used); may
 * build and free a pipeline to check the stages' own limits.
 */
KM_API int km_pipeline_config_check(const struct km_pipeline_config *cfg, char *why,
                                    size_t why_size);

/*
 * Processes one frame and fills *out. Returns:
 *  KM_OK                 processed (see out->flags for replaced cells, gaps);
 *  KM_ERR_INVALID_ARG    p, f, out or f->kpa NULL;
 *  KM_ERR_SHAPE          rows/cols zero or not the configured grid, or a
 *                        different pitch or geometry;
 *  KM_ERR_BAD_SEQUENCE   sequence not after the last processed frame's (modulo
 *                        2^32) or device time going backwards: frame skipped;
 *  KM_ERR_NONFINITE      too many NaN/inf/negative cells: frame skipped;
 *  KM_ERR_MALFORMED      the frame is flagged KM_FRAME_CORRUPT: skipped;
 *  KM_ERR_CALIBRATION    the frame is flagged KM_FRAME_UNCALIBRATED (counts,
 *                        not kPa) and cfg.counts is not set: skipped.
 * A skipped frame changes no state; out is zeroed except sequence/time.
 * Events go to cfg.on_event (if set) and out->events. Allocates nothing.
 */
KM_API int km_pipeline_process(km_pipeline *p, const struct km_frame *f,
                               struct km_pipeline_result *out);

/* Ends every live track (END + KNOT_LOST events, holds stopped with reason
 * RESET) at the last frame's time: call at the end of a stream so each id
 * gets its END. Fills *out (tracks and events only). KM_OK or
 * KM_ERR_INVALID_ARG. */
KM_API int km_pipeline_finish(km_pipeline *p, struct km_pipeline_result *out);

/* Hold status of a track (hold.h); KM_ERR_NOT_FOUND when it has none or holds
 * are disabled. */
KM_API int km_pipeline_hold_status(const km_pipeline *p, uint32_t track_id,
                                   struct km_hold_status *out);

/* Clears all state (tracks, holds, guards, frame order) without events;
 * keeps the config. */
KM_API void km_pipeline_reset(km_pipeline *p);
KM_API void km_pipeline_destroy(km_pipeline *p);

#ifdef __cplusplus
}
#endif

#endif
