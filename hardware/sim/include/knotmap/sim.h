/*
 * knotmap virtual mat: a physically grounded, deterministic stand-in for the
 * pressure-mapping device, for demos, tests and benchmarks.
 *
 * It simulates a person lying supine on an instrumented mat (elastic foundation
 * p = k * d with anthropometric segment loads and bony prominences), muscle
 * knots (small regions of raised stiffness at a depth), breathing, tensing up,
 * tools under the body (tennis ball, lacrosse ball, foam roller), an
 * instrumented roller (cylinder geometry) and the sensor's imperfections
 * (per-cell power-law response, 12-bit ADC, drift, creep, hysteresis, noise,
 * dead/stuck cells, crosstalk). Numbers and their sources: see
 * docs/signal-model.md and the comments in src/ (sim.c for the defaults,
 * body.c, knots.c, motion.c and sensor.c for the models).
 *
 * Every frame it gives the true pressure, the raw ADC counts and the ground
 * truth, and it packs the counts into the same USB packets the firmware sends
 * (through the protocol's own encoder).
 *
 * Coordinates: millimetres on the mat; x runs along the columns (cell c has its
 * centre at x = (c + 0.5) * pitch_mm), y along the rows (y = (r + 0.5) *
 * pitch_mm). On a cylinder, x is the arc length around the circumference
 * (cols * pitch_mm) and wraps; y runs along the roller axis.
 *
 * Determinism: the same config (including seed) gives bit-identical output on
 * the same build. Nothing is allocated after km_sim_create.
 *
 * Thread safety: distinct km_sim objects may be used from distinct threads;
 * one object must not be used from two threads at once. The config and
 * scenario functions are thread-safe (they touch only their arguments).
 */
#ifndef KNOTMAP_SIM_H
#define KNOTMAP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct km_proto_info; /* knotmap/protocol.h */

#define KM_SIM_MAX_KNOTS 16
#define KM_SIM_MAX_STEPS 64
#define KM_SIM_MAX_TENSING 8
#define KM_SIM_MAX_DEAD_LINES 8
#define KM_SIM_MIN_DIM 8
#define KM_SIM_MAX_DIM 128

/* What lies between the body and the mat. */
enum km_sim_tool {
	KM_SIM_TOOL_NONE = 0,
	KM_SIM_TOOL_TENNIS_BALL = 1,   /* hollow, ~2 cm^2 contact, high peak */
	KM_SIM_TOOL_LACROSSE_BALL = 2, /* solid rubber, smaller contact */
	KM_SIM_TOOL_FOAM_ROLLER = 3,   /* 15 cm roller across the mat: a strip contact */
	KM_SIM_TOOL_ROLLER_DEVICE = 4, /* the mat is the roller (geometry must be cylinder) */
};

/* One step of the user's movement timeline. */
enum km_sim_move {
	KM_SIM_MOVE_IDLE = 0,   /* no contact (tool off / body up) */
	KM_SIM_MOVE_ROLL = 1,   /* move to the target under load (rolling along a muscle) */
	KM_SIM_MOVE_SETTLE = 2, /* ease onto the target, load ramps to the step's load */
	KM_SIM_MOVE_HOLD = 3,   /* stay at the target at the step's load */
	KM_SIM_MOVE_LIFT = 4,   /* load ramps down to zero */
};

/* Hold phase reported in the truth (what a hold timer should see). */
enum km_sim_phase {
	KM_SIM_PHASE_IDLE = 0,
	KM_SIM_PHASE_APPROACH = 1,
	KM_SIM_PHASE_SETTLE = 2,
	KM_SIM_PHASE_HOLD = 3,
	KM_SIM_PHASE_LIFT = 4,
};

struct km_sim_step {
	enum km_sim_move move;
	float duration_s; /* > 0 */
	float x_mm, y_mm; /* target contact position (mat coordinates); NAN = stay */
	float load;       /* tool: fraction of body weight on the tool (0..1);
	                   * no tool: fraction of the lying body's load (0..1);
	                   * NAN = keep the previous step's */
};

/* A knot: a small region of raised stiffness (taut band nodule). */
struct km_sim_knot {
	float x_mm, y_mm;    /* centre, mat coordinates */
	float radius_mm;     /* 3..40 (docs/signal-model.md: radius 0.7-2.5 cm) */
	float stiffness_pct; /* excess, 0..100 % (model: 15-40; Roch 2020: +19 %) */
	float depth_mm;      /* depth below the skin, 0..40: blurs and weakens the footprint */
	float release_pct;   /* excess lost over a long hold on it (0 = never softens) */
};

/* An interval of tensing up (guarding). */
struct km_sim_tensing {
	float start_s, duration_s;
	bool withdrawal; /* ends in a withdrawal: force drops > 30 % within 1 s */
};

struct km_sim_config {
	struct km_log log;  /* default silent */
	uint64_t seed;      /* everything random derives from it (default 1) */
	bool start_running; /* streaming from create (default true); else wait for START */

	/* [mat] */
	uint16_t rows, cols;       /* KM_SIM_MIN_DIM..KM_SIM_MAX_DIM (default 64 x 64) */
	float pitch_mm;            /* 5..10 (default 7.5) */
	enum km_geometry geometry; /* cylinder: x wraps at cols * pitch_mm */
	float rate_hz;             /* 1..1000 (default 100) */
	uint32_t serial;           /* reported serial number (default 1) */
	uint8_t encoding;          /* packets: enum km_proto_encoding (default 1, RAW12;
	                            * 0 RAW16, 2 DELTA, 3 DELTA_TEMPORAL) */
	uint16_t key_interval;     /* DELTA_TEMPORAL: a self-contained DELTA frame at least
	                            * every this many frames, 1..1000 (default 50, as the
	                            * firmware) */

	/* [body]: a person lying supine, head towards row 0 */
	bool body;               /* default true */
	float body_mass_kg;      /* 30..200 (default 70) */
	float body_height_mm;    /* 1000..2200 (default 1750) */
	float body_midline_x_mm; /* mat x of the spine midline (default: mat centre) */
	float body_vertex_y_mm;  /* mat y of the top of the head (may be negative) */
	float bony_gain;         /* scales the bony-prominence peaks, 0..3 (default 1) */
	float loaded_kpa;        /* a cell counts as loaded above this, kPa (default 0.5) */

	/* [breathing] */
	float breath_hz;    /* 0.05..1 (default 0.25: 15 /min, within 12-20 /min) */
	float breath_depth; /* relative load modulation, 0..0.5 (default 0.06, est.) */

	/* [knot] sections */
	size_t knot_count;
	struct km_sim_knot knots[KM_SIM_MAX_KNOTS];

	/* [tool] */
	enum km_sim_tool tool;
	float tool_diameter_mm; /* ball or roller diameter */
	float tool_contact_cm2; /* contact area on the mat at tool_ref_force_n */
	float tool_ref_force_n; /* force at which tool_contact_cm2 holds */
	float tool_width_mm;    /* rollers: contact length across the rolling direction */
	float tool_lift_mm;     /* radius around a ball where the lifted body leaves the mat */
	float tool_mass_kg;     /* roller device: its own weight on the floor contact */

	/* [motion] */
	size_t step_count; /* 0: hold at the first knot (or mat centre) forever */
	struct km_sim_step steps[KM_SIM_MAX_STEPS];
	bool motion_loop;
	float start_x_mm, start_y_mm; /* contact position before the first step */

	/* [tensing] */
	size_t tensing_count;
	struct km_sim_tensing tensing[KM_SIM_MAX_TENSING];
	float tremor_hz;       /* 8..12 Hz physiological tremor (default 10) */
	float tremor_amp;      /* relative load amplitude (default 0.05, est.) */
	float burst_hz;        /* 2..4 Hz bracing bursts (default 3) */
	float burst_amp;       /* relative (default 0.08, est.) */
	float withdrawal_drop; /* relative force drop, > 0.3 (default 0.45) */
	float withdrawal_s;    /* time of the drop, < 1 s (default 0.5) */
	float tensing_breath;  /* breathing depth factor while tensing (default 0.3) */

	/* [sensor]: counts = offset + scale * p^exponent (p in kPa), per cell */
	uint8_t adc_bits;           /* 8..16 (default 12: 0..4095) */
	float offset_counts;        /* mean offset (default 60) */
	float offset_sd;            /* per-cell SD (default 8) */
	float scale;                /* counts per kPa^exponent (default 62, 1000 kPa ~ 4000) */
	float scale_sd;             /* relative per-cell SD (default 0.08) */
	float exponent;             /* default 0.6 */
	float exponent_sd;          /* default 0.02 */
	float noise_counts;         /* additive noise SD (default 1.5) */
	float drift_counts_per_min; /* mean offset drift (default 2) */
	float creep_pct;            /* creep reached after creep_ref_s of load (default 19) */
	float creep_ref_s;          /* default 60 */
	float creep_tau_s;          /* log-time constant (default 1) */
	float hysteresis_pct;       /* unloading reads up to this % of the recent peak (20) */
	float hysteresis_tau_s;     /* memory of the peak (default 2) */
	float crosstalk_pct;        /* row/column ghosting (default 2, est.) */

	/* [faults] */
	uint32_t dead_cells;  /* random cells reading 0 */
	uint32_t stuck_cells; /* random cells stuck at stuck_value */
	uint16_t stuck_value; /* default 4095 (shorted) */
	size_t dead_row_count, dead_col_count;
	uint16_t dead_rows[KM_SIM_MAX_DEAD_LINES]; /* broken row traces */
	uint16_t dead_cols[KM_SIM_MAX_DEAD_LINES];
};

/* Anatomical landmarks reported in the truth. */
enum km_sim_landmark {
	KM_SIM_LM_OCCIPUT = 0,
	KM_SIM_LM_SCAPULA_LEFT,
	KM_SIM_LM_SCAPULA_RIGHT,
	KM_SIM_LM_C7,     /* top of the spine midline */
	KM_SIM_LM_SACRUM, /* bottom of the spine midline */
	KM_SIM_LM_CALF_LEFT,
	KM_SIM_LM_CALF_RIGHT,
	KM_SIM_LM_HEEL_LEFT,
	KM_SIM_LM_HEEL_RIGHT,
	KM_SIM_LM_COUNT
};

struct km_sim_point {
	float x_mm, y_mm;
	bool on_mat;
};

struct km_sim_knot_truth {
	uint32_t id; /* index in the config, stable */
	float x_mm, y_mm, radius_mm, depth_mm;
	float stiffness_pct; /* current excess (falls when it releases) */
	bool loaded;         /* under load now (body pressure or tool contact on it) */
	float hold_s;        /* seconds held under load in HOLD phase so far */
};

struct km_sim_truth {
	uint32_t sequence;
	uint64_t time_us;
	double t_s;

	/* whole mat */
	float total_force_n;   /* sum of true pressure x cell area */
	float loaded_area_cm2; /* cells above loaded_kpa */
	float peak_kpa;
	float body_weight_n; /* mass x 9.81 */
	float body_force_n;  /* force of the body itself on the mat (tool excluded) */
	float body_fraction; /* expected share of body weight resting on the mat
	                      * (from the segment model, before the tool) */

	/* movement */
	enum km_sim_phase phase;
	uint32_t step_index; /* current timeline step (step_count when past the end) */
	float load;          /* current commanded load fraction */

	/* tool */
	bool tool_contact;
	float tool_x_mm, tool_y_mm; /* contact centre (x wrapped on a cylinder) */
	float tool_force_n;
	float tool_area_cm2;
	float tool_peak_kpa;

	/* time signals */
	bool tensing;
	bool withdrawal;    /* within a withdrawal drop */
	float breath_phase; /* radians, 0..2 pi; load peaks at pi/2 */
	float breath_hz;

	/* body */
	bool body;
	float spine_x_mm;               /* midline; mask +-25 mm for detection */
	float spine_y0_mm, spine_y1_mm; /* C7 .. sacrum */
	struct km_sim_point landmarks[KM_SIM_LM_COUNT];

	/* knots */
	size_t knot_count;
	struct km_sim_knot_truth knots[KM_SIM_MAX_KNOTS];

	/* faults: [rows x cols], 0 ok, 1 dead (reads 0), 2 stuck (reads stuck_value) */
	const uint8_t *fault_map;
	size_t dead_count, stuck_count;
};

/* One frame. Pointers are into the simulator and valid until the next
 * km_sim_step, km_sim_reset or km_sim_destroy. */
struct km_sim_output {
	uint16_t rows, cols;
	float pitch_mm;
	enum km_geometry geometry;
	uint32_t sequence;
	uint64_t time_us;       /* device clock */
	const float *kpa;       /* [rows x cols] true pressure, kPa */
	const uint16_t *counts; /* [rows x cols] raw ADC counts, 0..2^adc_bits-1 */
	const struct km_sim_truth *truth;
};

typedef struct km_sim km_sim;

/* Design defaults (see the field comments). Thread-safe. */
KM_API struct km_sim_config km_sim_config_default(void);

/* Checks a config; KM_OK, KM_ERR_INVALID_ARG (NULL, unknown enum, NaN),
 * KM_ERR_SHAPE (rows/cols), KM_ERR_RANGE (a value outside its documented
 * range; the log says which). */
KM_API int km_sim_config_check(const struct km_sim_config *cfg);

/*
 * Creates a simulator: precomputes the static fields (body, knots, sensor
 * curves, faults). Returns KM_OK or a km_sim_config_check code, or
 * KM_ERR_NO_MEMORY. *out is NULL on error. The config is copied.
 */
KM_API int km_sim_create(const struct km_sim_config *cfg, km_sim **out);

/* Back to time 0 and sequence 0 with the same config and seed: the frames
 * after a reset repeat the frames after create. */
KM_API void km_sim_reset(km_sim *sim);

/* NULL is a no-op. */
KM_API void km_sim_destroy(km_sim *sim);

/*
 * Advances one frame (1 / rate_hz) and fills *out. Returns KM_OK,
 * KM_ERR_INVALID_ARG, or KM_ERR_STATE when stopped (nothing advances).
 * Allocates nothing.
 */
KM_API int km_sim_step(km_sim *sim, struct km_sim_output *out);

/* The current frame again (after at least one step); KM_ERR_STATE before. */
KM_API int km_sim_current(const km_sim *sim, struct km_sim_output *out);

/* Commands as the firmware applies them (vendor requests in protocol.h). */
enum km_sim_command {
	KM_SIM_CMD_START = 0,    /* start streaming; sequence restarts at 0 */
	KM_SIM_CMD_STOP = 1,     /* stop streaming (physics pauses too) */
	KM_SIM_CMD_SET_RATE = 2, /* value = frame rate, 1..1000 Hz (KM_ERR_RANGE otherwise) */
	KM_SIM_CMD_ZERO = 3,     /* value = frames to average, 0 (= 16) .. 256 */
};
/*
 * Applies a command as hardware/firmware does: START restarts the sequence at
 * 0 (the device clock and the physics go on); STOP pauses (km_sim_step then
 * returns KM_ERR_STATE); ZERO averages the next N frames' counts (packets
 * flagged ZEROING), and from the frame that completes it counts are
 * raw - baseline clamped at 0 (flag ZEROED), until the next ZERO or a reset.
 * Returns KM_OK, KM_ERR_RANGE (rate or frame count), KM_ERR_INVALID_ARG.
 */
KM_API int km_sim_control(km_sim *sim, enum km_sim_command cmd, uint32_t value);
KM_API bool km_sim_running(const km_sim *sim);
/* True once a ZERO finished: counts are then raw - baseline (clamped at 0). */
KM_API bool km_sim_zeroed(const km_sim *sim);
/* Current frame rate, Hz. */
KM_API float km_sim_rate(const km_sim *sim);

/*
 * The per-cell ideal response ("factory calibration" shipped with the virtual
 * mat): counts = offset[i] + scale[i] * p_kPa^exponent[i], before drift,
 * creep, hysteresis, noise, crosstalk and faults. Each array receives
 * rows*cols floats (any may be NULL); n is their capacity in elements.
 * Returns KM_OK, KM_ERR_INVALID_ARG or KM_ERR_OVERFLOW (n < rows * cols).
 */
KM_API int km_sim_sensor_curve(const km_sim *sim, float *offset, float *scale, float *exponent,
                               size_t n);

/* Calibration id the virtual mat reports (a hash of seed and sensor config). */
KM_API uint32_t km_sim_calibration_id(const km_sim *sim);

/* The device's info block (protocol.h). KM_ERR_UNSUPPORTED when built
 * without the protocol part. */
KM_API int km_sim_info(const km_sim *sim, struct km_proto_info *info);

/* The device's status block (protocol.h): RUNNING / ZEROING flags, the next
 * sequence number, rate and device clock. KM_ERR_UNSUPPORTED without the
 * protocol part. */
struct km_proto_status;
KM_API int km_sim_status(const km_sim *sim, struct km_proto_status *status);

/*
 * Encodes the current frame as the USB packets the firmware would send
 * (protocol encoder; the config's encoding, RAW12 by default; DELTA_TEMPORAL
 * falls back to DELTA for key frames exactly as the firmware does; fragments
 * <= KM_PROTO_MAX_TRANSFER; flags SATURATED / ZEROING / ZEROED),
 * back to back into buf. km_sim_max_packet_bytes() always suffices.
 * Returns KM_OK, KM_ERR_STATE (no frame yet), KM_ERR_OVERFLOW (cap),
 * KM_ERR_UNSUPPORTED (built without the protocol part).
 */
KM_API int km_sim_pack(km_sim *sim, uint8_t *buf, size_t cap, size_t *written);
KM_API size_t km_sim_max_packet_bytes(const km_sim *sim);

/* ------------------------------------------------------------------------ */
/* Scenario files (format: hardware/sim/scenarios/README.md)                 */
/* ------------------------------------------------------------------------ */

/*
 * Parses a scenario. cfg must be initialised (its log field is read: use
 * km_sim_config_default() or a zeroed struct); it is reset to
 * km_sim_config_default() keeping that log, then filled from the file. On a
 * syntax error, unknown section or key, bad number or missing [mat] section
 * returns KM_ERR_PARSE with
 * "FILE:LINE: key 'K': what" in err (when err_cap > 0, always NUL
 * terminated) and through cfg->log. Also KM_ERR_IO / KM_ERR_NOT_FOUND for a
 * file that cannot be read, KM_ERR_INVALID_ARG for NULL. The parsed config is
 * then checked (km_sim_config_check): KM_ERR_RANGE etc. with the message.
 */
KM_API int km_sim_scenario_load(const char *path, struct km_sim_config *cfg, char *err,
                                size_t err_cap);
/* Same from memory; name is used in messages. */
KM_API int km_sim_scenario_parse(const char *text, size_t len, const char *name,
                                 struct km_sim_config *cfg, char *err, size_t err_cap);
/* The [scenario] description of a loaded file ("" when none): written into
 * buf (NUL terminated, cut to cap). KM_OK or KM_ERR_* like load. */
KM_API int km_sim_scenario_describe(const char *path, char *buf, size_t cap);

/*
 * Finds a scenario by name ("tennis-ball-trapezius" or "...ini"): a name with
 * a '/' is taken as a path. Otherwise searched in $KNOTMAP_SCENARIO_DIR, then
 * the source tree's hardware/sim/scenarios (when it exists), then
 * <datadir>/knotmap/scenarios. Writes the path into path (cap bytes).
 * KM_OK, KM_ERR_NOT_FOUND, KM_ERR_INVALID_ARG (empty name, '..'),
 * KM_ERR_OVERFLOW.
 */
KM_API int km_sim_scenario_find(const char *name, char *path, size_t cap);
/* The first scenario directory that exists, in the order above. KM_OK,
 * KM_ERR_NOT_FOUND, KM_ERR_OVERFLOW. */
KM_API int km_sim_scenario_dir(char *path, size_t cap);

/* Short names for enums ("tennis_ball", "hold"); "unknown" for others. */
KM_API const char *km_sim_tool_name(enum km_sim_tool tool);
KM_API const char *km_sim_phase_name(enum km_sim_phase phase);
KM_API const char *km_sim_landmark_name(enum km_sim_landmark lm);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_SIM_H */
