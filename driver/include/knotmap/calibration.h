/*
 * knotmap calibration: raw ADC counts -> kPa, per cell.
 *
 * Two models (docs/calibration-format.md describes the file byte by byte):
 *  - power law per cell: counts = offset + scale * p^exponent, inverted as
 *    p = ((counts - offset) / scale)^(1 / exponent);
 *  - multi-point curve per cell: K points (counts_i, kpa_i), both strictly
 *    increasing, interpolated piecewise linearly (monotone by construction).
 * On top of either: host-side zeroing (offsets re-measured from unloaded
 * frames), and creep correction for static holds. Resistive sensors creep in
 * log time (docs/signal-model.md: up to ~19 % over a hold): under load a cell reads
 * true * (1 + k * log(1 + L / tau)), L being how long it has been loaded (L
 * relaxes back towards 0 once unloaded). Each cell keeps its own L and the
 * correction divides the factor back out. Ghosting (row/column crosstalk) is
 * removed in the signal domain before the model, and peak-memory hysteresis
 * after it, when their coefficients are known. Nothing here subtracts a baseline
 * from a loaded cell, so a static hold is never erased.
 *
 * Thread safety: one object, one thread at a time (the stream serialises).
 */
#ifndef KNOTMAP_CALIBRATION_H
#define KNOTMAP_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_calibration km_calibration;
/* The virtual mat (knotmap/sim.h), for km_calibration_for_sim. */
typedef struct km_sim km_sim;
struct km_sim_config;

enum km_calibration_model {
	KM_CAL_POWER_LAW = 1,
	KM_CAL_CURVE = 2,
};

/* Most points per cell in a curve model. */
#define KM_CAL_MAX_POINTS 32

struct km_calibration_config {
	uint16_t rows, cols;  /* grid, 1..KM_FRAME_MAX_DIM */
	uint16_t max_counts;  /* ADC ceiling (4095 for 12 bits); at or above: saturated */
	unsigned zero_frames; /* frames averaged by a zero request, 1..1000 (default 8) */
	/* Creep: reading = true * (1 + creep_coeff * log10(1 + L / creep_tau_s)),
	 * L = seconds loaded. creep_coeff 0 disables the correction. Defaults
	 * are the virtual mat's (19 % after 60 s, tau 1 s: 0.19 / log10(61)). */
	float creep_coeff;        /* 0..1 (default 0.1064) */
	float creep_tau_s;        /* > 0 (default 1 s) */
	float creep_recovery_s;   /* L decays with this time constant once unloaded
	                             (default 5 s, est.) */
	float load_threshold_kpa; /* a cell is loaded above this (default 0.5 kPa) */
	/* Row/column crosstalk (ghosting) of a passive resistive matrix: each
	 * cell also reads crosstalk * rowsum * colsum / total of the true signal
	 * (counts above offset). Removed exactly when known; 0..0.5 (default 0;
	 * the virtual mat's factory calibration sets its own, 2 %). */
	float crosstalk;
	/* Hysteresis: while unloading a cell reads p + h * (m - p), m being the
	 * recent peak, which relaxes towards p with hysteresis_tau_s. Inverted
	 * exactly frame by frame when h > 0. 0..0.5 (default 0; the virtual mat:
	 * 0.2, tau 2 s). */
	float hysteresis;
	float hysteresis_tau_s;
	struct km_log log;
};

/* Defaults as documented above, for a rows x cols grid. */
KM_API struct km_calibration_config km_calibration_config_default(uint16_t rows, uint16_t cols);

/* An identity calibration (power law offset 0, scale 1, exponent 1: kPa =
 * counts). KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_RANGE, KM_ERR_NO_MEMORY. */
KM_API int km_calibration_create(const struct km_calibration_config *cfg, km_calibration **out);

/* Frees; NULL is a no-op. */
KM_API void km_calibration_destroy(km_calibration *cal);

/* Clears zero offsets and creep clocks; keeps the model. */
KM_API int km_calibration_reset(km_calibration *cal);

/* Sets a per-cell power law. Arrays of rows * cols (n must equal it).
 * scale > 0, exponent in [0.05, 20], all finite; else KM_ERR_CALIBRATION
 * (the log names the cell). KM_ERR_SHAPE when n is wrong. */
KM_API int km_calibration_set_power_law(km_calibration *cal, const float *offset,
                                        const float *scale, const float *exponent, size_t n);

/* Sets a per-cell curve: points in 2..KM_CAL_MAX_POINTS; counts and kpa are
 * [cells x points] row-major, each cell's counts and kpa strictly increasing
 * (KM_ERR_CALIBRATION otherwise). */
KM_API int km_calibration_set_curve(km_calibration *cal, unsigned points, const float *counts,
                                    const float *kpa, size_t n);

/* Loads a calibration file (format version 1). cfg->rows/cols must match the
 * file (KM_ERR_SHAPE otherwise). Returns KM_OK, KM_ERR_NOT_FOUND, KM_ERR_IO,
 * KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION, KM_ERR_TRUNCATED (size does not match
 * the header), KM_ERR_BAD_CRC (checksum), KM_ERR_CALIBRATION (bad values, a
 * non-monotonic curve), KM_ERR_SHAPE, KM_ERR_NO_MEMORY; the log says which
 * check failed and where. */
KM_API int km_calibration_load(const struct km_calibration_config *cfg, const char *path,
                               km_calibration **out);

/* Writes the calibration to path through km_outfile (knotmap/outfile.h): a
 * temporary file next to it, fsync, then into place; an existing file is
 * replaced only when force is true, a symbolic link never. KM_OK,
 * KM_ERR_EXISTS, KM_ERR_IO, KM_ERR_PERMISSION, KM_ERR_NO_SPACE,
 * KM_ERR_INVALID_ARG (a directory or special file at path). */
KM_API int km_calibration_save(const km_calibration *cal, const char *path, bool force);

/* Serialises to a buffer; *size receives the needed length. When buf is NULL
 * or cap too small returns KM_ERR_OVERFLOW (with *size set). */
KM_API int km_calibration_serialize(const km_calibration *cal, uint8_t *buf, size_t cap,
                                    size_t *size);
/* Parses a buffer in the file format (same checks and codes as load). */
KM_API int km_calibration_parse(const struct km_calibration_config *cfg, const uint8_t *buf,
                                size_t size, km_calibration **out);

/* The model in use. */
KM_API enum km_calibration_model km_calibration_model(const km_calibration *cal);

/*
 * Converts one frame. raw: [rows x cols] counts; t_us: the frame's time
 * (device clock, microseconds; must not go backwards for creep correction);
 * kpa: [rows x cols] output, >= 0. *flags (may be NULL) gets
 * KM_FRAME_SATURATED when a cell is at max_counts. Applies zero offsets, and
 * creep correction when enabled (creep_coeff > 0 and `creep` true). While a
 * zero request is pending the frame also feeds the offset measurement.
 * Never allocates. KM_OK, KM_ERR_INVALID_ARG.
 */
KM_API int km_calibration_apply(km_calibration *cal, const uint16_t *raw, uint64_t t_us, bool creep,
                                float *kpa, uint32_t *flags);

/*
 * The virtual mat's factory calibration, as the sim transport uses it: the
 * mat's own per-cell power law (km_sim_sensor_curve) and its crosstalk, creep
 * and hysteresis constants from sc. cfg gives the grid (the sim's), max_counts
 * and the other options; its sensor-model fields are overwritten from sc.
 * KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE, KM_ERR_NO_MEMORY. *out is NULL on
 * error; the caller destroys it.
 */
KM_API int km_calibration_for_sim(km_sim *sim, const struct km_sim_config *sc,
                                  struct km_calibration_config *cfg, km_calibration **out);

/* Requests zeroing: the next zero_frames frames given to apply are averaged
 * into per-cell offsets (in counts), replacing the previous ones. The mat must
 * be unloaded meanwhile. */
KM_API int km_calibration_zero(km_calibration *cal);
/* True while a zero request is collecting frames. */
KM_API bool km_calibration_zero_pending(const km_calibration *cal);

/*
 * Calibration from measurements (hardware/BUILD.md section 9): fits a per-cell
 * power law counts = offset + scale * p^exponent and installs it in cal.
 *   zero:   [cells] mean counts of the unloaded mat;
 *   kpa:    [levels] known pressures, finite, > 0, strictly increasing;
 *   counts: [levels x cells] mean counts of each cell under each level; a cell
 *           that was not under the plate at a level is marked with a value < 0
 *           (or simply reads no more than min_rise counts above its zero, and
 *           is then treated the same way);
 *   max_counts: ADC ceiling; a reading at or above it is saturated and unused.
 * A cell needs two usable levels whose readings rise with pressure and a fit
 * with exponent in [0.05, 20]; any other cell (dead, stuck, never loaded, too
 * noisy) gets the median scale and exponent of the good cells on its own zero,
 * and is counted in *fallback_cells (may be NULL).
 * Returns KM_OK; KM_ERR_INVALID_ARG (NULL, levels < 2 or > KM_CAL_MAX_POINTS);
 * KM_ERR_RANGE (kPa not finite, positive and strictly increasing);
 * KM_ERR_SHAPE (cells is not the calibration's size);
 * KM_ERR_CALIBRATION (fewer than half of the cells could be fitted: the log
 * says how many); KM_ERR_NO_MEMORY. cal is unchanged on error.
 * Allocates scratch memory; not for the per-frame path.
 */
KM_API int km_calibration_fit_power_law(km_calibration *cal, const float *zero, unsigned levels,
                                        const float *kpa, const float *counts, size_t cells,
                                        float min_rise, uint16_t max_counts,
                                        size_t *fallback_cells);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_CALIBRATION_H */
