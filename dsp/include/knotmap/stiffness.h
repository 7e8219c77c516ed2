/*
 * knotmap stiffness index: how strongly a spot's pressure follows the breathing
 * load, relative to its neighbourhood (docs/signal-model.md, "Stiffness index").
 *
 * Two objects:
 *
 * km_welch - a Welch cross-spectral estimator (Welch 1967) for one pair of
 *   signals x (input) and y (output) sampled at a fixed rate: Hann window,
 *   segment_s segments (16 s; docs/signal-model.md 16-20 s), `overlap` (50 %), averaged
 *   over the segments that fit in window_s (48 s; docs/signal-model.md 40-60 s).
 *   Gives Pxx, Pyy, Pxy, H1 = Pxy / Pxx and the magnitude-squared coherence
 *   |Pxy|^2 / (Pxx Pyy) in the band f_lo..f_hi (0.1-0.5 Hz, breathing search band).
 *   Method: a direct DFT at the band's bins only (~9 bins of a 1600-point
 *   segment at 100 Hz), accumulated sample by sample into the open segments
 *   (two at 50 % overlap), not FFTW. Measured (-O2, this machine): ~50 ns per
 *   sample pair, against ~8 ns amortised for two 1600-point r2c FFTs (2 us each)
 *   per 8 s hop - FFTW is cheaper in raw arithmetic, but both are negligible
 *   (16 spots x 2 estimators at 100 Hz: < 0.02 % of a core). The direct DFT was
 *   chosen because a spot's estimator is created whenever a track appears: no
 *   planner call (FFTW_MEASURE took 435 ms for this size) and no process-wide
 *   FFTW lock on that path, no fftwf_malloc outside the km__ allocation
 *   accounting, an even per-frame cost instead of a burst at segment ends, the
 *   segment mean removed exactly (detrend 'constant'), and only in-band bins
 *   stored.
 *   Spectra at the estimate are averaged over +-smooth_bins bins around the bin
 *   (frequency smoothing adds degrees of freedom, so coherence of independent
 *   signals stays low with only ~5 segments; Bendat & Piersol). It biases H1
 *   where the response changes across +-1 bin (0.0625 Hz); use smooth_bins = 0
 *   to measure a steep response.
 *
 * km_stiffness - one tracked spot: x = the regional load (load on the torso
 *   region around the spot, not the whole mat), y = the spot's pressure, and a
 *   second estimator with y = the neighbourhood's pressure (a ring around the
 *   spot). At the breathing peak (largest Pxx of the load in the band) the
 *   index is |H1_spot| / |H1_neighbourhood|, accepted only when both coherences
 *   are >= min_coherence (0.5). During a hold it is also reported as % change
 *   from the index at the start of the hold: a fall >= release_pct (15 %) emits
 *   KM_EVENT_RELEASED (the knot softening), a rise >= stiffen_pct (20 %)
 *   KM_EVENT_STIFFENED. Each accepted estimate (one per segment hop, 8 s) emits
 *   KM_EVENT_STIFFNESS (value = index, stiffness_pct = % change, 0 outside holds).
 *   Candidate stiffness, not a diagnosis (Roch 2020: trigger points ~ +19 % stiffer).
 *
 * All fixed memory at create; push never allocates. Thread safety: one object
 * per thread; distinct objects are independent.
 */
#ifndef KNOTMAP_STIFFNESS_H
#define KNOTMAP_STIFFNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Welch cross-spectral estimator                                            */
/* ------------------------------------------------------------------------ */

typedef struct km_welch km_welch;

struct km_welch_config {
	float sample_rate_hz; /* 1..10000, and f_hi_hz < 0.5 x rate (100) */
	float segment_s;      /* segment length; >= 4 periods of f_lo recommended (16 s) */
	float overlap;        /* fraction, 0..0.9 (0.5) */
	float window_s;       /* averaging span, >= segment_s, <= 600 s (48 s) */
	float f_lo_hz;        /* band, > 0 (0.1) */
	float f_hi_hz;        /* > f_lo_hz (0.5) */
	uint32_t smooth_bins; /* half-width of the frequency smoothing, 0..4 (1) */
	struct km_log log;
};

/* Cross-spectral estimate at one frequency. PSD units: unit(x)^2/Hz etc. */
struct km_welch_result {
	float freq_hz;        /* centre bin frequency */
	float pxx, pyy;       /* one-sided auto-spectra */
	float pxy_re, pxy_im; /* one-sided cross-spectrum, conj(X) * Y */
	float gain;           /* |H1| = |Pxy| / Pxx, unit(y)/unit(x) */
	float phase_rad;      /* arg H1: positive when y leads x */
	float coherence;      /* 0..1 */
	uint32_t segments;    /* segments averaged */
};

KM_API struct km_welch_config km_welch_config_default(void);
/* KM_ERR_INVALID_ARG (NULL, non-finite), KM_ERR_RANGE (limits above, or fewer
 * than 1 bin in the band), KM_ERR_NO_MEMORY. *out NULL on error. */
KM_API int km_welch_create(const struct km_welch_config *cfg, km_welch **out);
/* One sample pair. *segment_done (may be NULL) is set true when a segment ended
 * at this sample (new estimates available). KM_OK, KM_ERR_INVALID_ARG,
 * KM_ERR_NONFINITE (pair ignored). Never allocates. */
KM_API int km_welch_push(km_welch *w, float x, float y, bool *segment_done);
/* Estimate at the band's peak of Pxx (the breathing peak of the input).
 * KM_ERR_STATE when no segment is complete yet. */
KM_API int km_welch_estimate(const km_welch *w, struct km_welch_result *out);
/* Estimate at the band bin nearest f_hz (KM_ERR_RANGE outside the band). */
KM_API int km_welch_estimate_at(const km_welch *w, float f_hz, struct km_welch_result *out);
/* Segments currently averaged (0 .. max). */
KM_API uint32_t km_welch_segments(const km_welch *w);
/* Clears samples and spectra; keeps config. */
KM_API void km_welch_reset(km_welch *w);
KM_API void km_welch_destroy(km_welch *w);

/* ------------------------------------------------------------------------ */
/* Stiffness index per tracked spot                                          */
/* ------------------------------------------------------------------------ */

typedef struct km_stiffness km_stiffness;

struct km_stiffness_config {
	struct km_welch_config welch; /* rate, segments, band (defaults above) */
	float min_coherence;          /* accept at or above, 0..1 (0.5, docs/signal-model.md) */
	uint32_t min_segments;        /* segments needed before estimating, >= 2 (3) */
	bool use_neighbourhood;       /* index relative to the neighbourhood (true) */
	float release_pct;            /* fall meaning release, > 0 (15 %, docs/signal-model.md) */
	float stiffen_pct;            /* rise meaning stiffening, > 0 (20 %, docs/signal-model.md) */
	uint32_t track_id;            /* copied into events */
	struct km_log log;
};

struct km_stiffness_status {
	bool valid; /* an accepted estimate exists */
	bool in_hold;
	bool hold_baseline; /* the hold has its starting index */
	float index;        /* last accepted index (relative, or |H1| without neighbourhood) */
	float gain_spot, gain_neigh;
	float coherence_spot, coherence_neigh; /* of the last estimate, accepted or not */
	float freq_hz;                         /* breathing peak used */
	float change_pct;                      /* vs the hold's starting index; 0 outside holds */
	uint32_t accepted, rejected;           /* estimates since create/reset */
};

KM_API struct km_stiffness_config km_stiffness_config_default(void);
KM_API int km_stiffness_create(const struct km_stiffness_config *cfg, km_stiffness **out);
/* One frame: regional load, spot pressure and neighbourhood pressure (kPa; any
 * consistent unit), finite. p_neigh is ignored when use_neighbourhood is false.
 * Emits STIFFNESS / RELEASED / STIFFENED into sink (may be NULL).
 * KM_OK, KM_ERR_INVALID_ARG, KM_ERR_NONFINITE (frame ignored). Never allocates. */
KM_API int km_stiffness_push(km_stiffness *s, uint64_t t_us, uint32_t seq, float load_region,
                             float p_spot, float p_neigh, struct km_event_sink *sink);
/* A hold started on this spot (e.g. on KM_EVENT_HOLD_STARTED): the % change is
 * measured from the last accepted index, or from the next one if none yet. */
KM_API int km_stiffness_hold_begin(km_stiffness *s);
/* The hold ended: no more RELEASED / STIFFENED until the next hold_begin. */
KM_API int km_stiffness_hold_end(km_stiffness *s);
KM_API int km_stiffness_status(const km_stiffness *s, struct km_stiffness_status *out);
/* Changes the track id put into events (pool reuse). */
KM_API int km_stiffness_set_track(km_stiffness *s, uint32_t track_id);
/* Clears the estimators and the hold; keeps config. */
KM_API void km_stiffness_reset(km_stiffness *s);
KM_API void km_stiffness_destroy(km_stiffness *s);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_STIFFNESS_H */
