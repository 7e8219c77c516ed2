/*
 * knotmap guarding detector: "tensing up" on a spot's (or tool's) force signal.
 *
 * Features (docs/signal-model.md, "Guarding"; tremor 8-12 Hz and bracing power at
 * 2-4 Hz and 8-12 Hz; withdrawal = force drop > 30 % within 1 s):
 *   - tremor: 6-14 Hz band power / mean force^2, compared with the settled
 *     baseline (fires above tremor_ratio, 2x power by default; docs/signal-model.md 1.5-2x);
 *   - variation: 0.5-4 Hz band RMS / mean force, above var_ratio (2x) the baseline;
 *   - withdrawal: smoothed force below (1 - withdrawal_drop) of its maximum over
 *     the last withdrawal_s (30 % / 1 s);
 *   - breathing collapse: 0.1-0.5 Hz band RMS / mean force below breath_collapse
 *     (0.3, est.) of the baseline (people hold their breath when bracing).
 * A condition must last on_s (0.5 s) to fire TENSING_UP (a withdrawal fires at
 * once); every feature must be back below off_fraction (0.8) of its threshold
 * for off_s (2 s) to fire EASED (hysteresis). With the defaults a tremor, 2-4 Hz bursts or a
 * withdrawal are reported within 2 s of their onset.
 *
 * The baseline is captured automatically: warmup_s after the force rises above
 * min_force, the mean of each feature over baseline_s (5 s, the hold settling
 * time). The breathing reference is the breathing RMS over the first full
 * breath_window_s that starts 2 s after the baseline starts, with the breathing
 * band restarted there, so the loading ramp's ringing stays out of it (a
 * breathing collapse is judged only after that, ~8 s later). Unloading (force
 * below min_force for unload_s) forgets the baseline; km_guard_rebaseline()
 * restarts it on demand (e.g. when a hold settles).
 * Baselines are floored (floor_rel) so a very clean signal does not make tiny
 * wiggles look like tensing.
 *
 * Needs sample_rate_hz >= 25 (the tremor band; docs/signal-model.md); the tremor band's
 * upper edge is capped at 0.45 x sample rate. One object per force signal; fixed
 * memory; push never allocates. Thread safety: one object per thread.
 *
 * Known limit: breathing faster than ~0.35 Hz with a large amplitude leaks into
 * the 0.5-4 Hz band; the variation floor (0.5 %) keeps 12-20 breaths/min at
 * 8 % force modulation well clear (tested).
 */
#ifndef KNOTMAP_GUARD_H
#define KNOTMAP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/events.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_guard km_guard;

struct km_guard_config {
	float sample_rate_hz;  /* >= 25 (100) */
	float min_force;       /* loaded above this, same unit as the samples, > 0 (1.0) */
	float tremor_lo_hz;    /* (6) */
	float tremor_hi_hz;    /* (14); capped at 0.45 x sample rate */
	float tremor_ratio;    /* power vs baseline, > 1 (2.0) */
	float tremor_tau_s;    /* power smoothing (1 s) */
	float var_lo_hz;       /* (0.5) */
	float var_hi_hz;       /* (4) */
	float var_ratio;       /* RMS vs baseline, > 1 (2.0) */
	float var_tau_s;       /* (0.5 s) */
	float withdrawal_drop; /* fraction, (0,1) (0.30) */
	float withdrawal_s;    /* (1.0 s) */
	float breath_collapse; /* RMS fraction of baseline, [0,1); 0 disables (0.3, est.) */
	float breath_window_s; /* breathing RMS window (6 s, > one breath at 12/min) */
	float breath_min_rel;  /* baseline breathing RMS / mean needed to judge (0.01, est.) */
	float floor_rel;       /* baseline floor: tremor RMS/mean (0.002); variation uses
	                          2.5x this (0.005) (est.) */
	float on_s;            /* persistence before TENSING_UP (0.5 s) */
	float off_s;           /* clear time before EASED (2.0 s) */
	float off_fraction;    /* hysteresis: clear below this x threshold, (0,1] (0.8) */
	float warmup_s;        /* filters settle after loading (3 s) */
	float baseline_s;      /* baseline capture (5 s, docs/signal-model.md settling) */
	float unload_s;        /* unloaded this long forgets the baseline (0.5 s) */
	uint32_t track_id;     /* copied into events */
	struct km_log log;
};

/* Last computed features (ratios are vs the baseline; 0 until it is ready). */
struct km_guard_status {
	bool loaded;
	bool baseline_ready;
	bool tensing;
	enum km_event_reason reason; /* what fired, while tensing */
	float mean_force;
	float tremor_ratio;
	float var_ratio;
	float breath_ratio;
	float drop; /* 1 - force / max over withdrawal_s */
};

KM_API struct km_guard_config km_guard_config_default(void);
/* KM_ERR_RANGE (sample rate < 25 Hz, bands not inside (0, Nyquist), ratios),
 * KM_ERR_INVALID_ARG (NULL, non-finite), KM_ERR_NO_MEMORY. *out NULL on error. */
KM_API int km_guard_create(const struct km_guard_config *cfg, km_guard **out);
/* One force sample (N or kPa, finite, >= 0) taken at t_us (frame seq `seq`).
 * Emits TENSING_UP (reason TREMOR / VARIATION / WITHDRAWAL / BREATH_COLLAPSE,
 * value = the ratio or drop that fired; load_n = the 1 s mean force in the
 * samples' unit) and EASED (reason NONE, or UNLOADED) into
 * sink (may be NULL). Never allocates. KM_OK, KM_ERR_INVALID_ARG,
 * KM_ERR_NONFINITE (sample ignored). */
KM_API int km_guard_push(km_guard *g, uint64_t t_us, uint32_t seq, float force,
                         struct km_event_sink *sink);
/* Restarts baseline capture (warm-up skipped: the filters are already running). */
KM_API int km_guard_rebaseline(km_guard *g);
/* Changes the track id put into events (pool reuse). */
KM_API int km_guard_set_track(km_guard *g, uint32_t track_id);
/* Spot / tool position (mm) put into the x_mm / y_mm of later events; 0, 0
 * until set. Kept by reset. KM_OK, KM_ERR_INVALID_ARG (NULL, non-finite). */
KM_API int km_guard_set_position(km_guard *g, float x_mm, float y_mm);
KM_API int km_guard_status(const km_guard *g, struct km_guard_status *out);
/* True while tensing (false for NULL). */
KM_API bool km_guard_is_tensing(const km_guard *g);
/* Clears filters, baseline and state; keeps the config. No events. */
KM_API void km_guard_reset(km_guard *g);
KM_API void km_guard_destroy(km_guard *g);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_GUARD_H */
