/*
 * Spatial band-pass: a stack of difference-of-Gaussians (DoG) responses at
 * several scales, the first stage of spot (knot) detection.
 *
 * For scale i with inner sigma s_i the response is
 *     R_i = g * (G(s_i) - G(ratio * s_i)) (*) p
 * where (*) is 2-D convolution, G a sampled Gaussian normalised to unit sum
 * and g = (ratio + 1) / (ratio - 1). With that gain a Gaussian bump of
 * amplitude A kPa and sigma b has its largest response, A kPa, at
 * s_i = b / sqrt(ratio) (Lindeberg 1998: DoG peak over scale), so responses
 * read directly as "kPa of local excess" and are comparable across scales.
 * The DoG of a constant map is 0 away from a flat mat's edges.
 * Optionally a background map G(background_sigma) (*) p is produced as well.
 * km_bandpass_execute_masked does the same by normalised convolution.
 *
 * Borders: a flat mat is zero-padded (the mat ends where the grid ends); a
 * cylinder (roller) is periodic along the columns and zero-padded along the
 * rows (the roller's axis).
 *
 * Two equal implementations: FFT convolution with FFTW single precision
 * (r2c once, per-scale multiply by a precomputed real kernel spectrum with
 * the gain and 1/N folded in, c2r) and separable direct convolution (8-lane
 * kernels, AVX2 + FMA when the CPU has them). AUTO picks by a cost model at
 * create (deterministic; no timing), calibrated by bench/ on both paths.
 *
 * Thread safety: one object per thread; different objects may execute
 * concurrently (plans are created/destroyed under one process-wide FFTW lock,
 * fftwf_execute is thread-safe).
 */
#ifndef KNOTMAP_BANDPASS_H
#define KNOTMAP_BANDPASS_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most scales one band-pass computes. */
#define KM_BANDPASS_MAX_SCALES 8

enum km_bandpass_method {
	KM_BANDPASS_AUTO = 0,   /* cost model picks FFT or DIRECT at create */
	KM_BANDPASS_FFT = 1,    /* FFTW r2c / c2r */
	KM_BANDPASS_DIRECT = 2, /* separable direct convolution */
};

/* The widest vector instructions the DIRECT path may use; the CPU may have
 * less (x86 only; elsewhere always portable C). Not BEST: to compare or
 * test the kernels. */
enum km_bandpass_simd {
	KM_BANDPASS_SIMD_BEST = 0,     /* AVX-512, else AVX2 + FMA, else portable C */
	KM_BANDPASS_SIMD_PORTABLE = 1, /* portable C only */
	KM_BANDPASS_SIMD_AVX2 = 2,     /* at most AVX2 + FMA */
};

struct km_bandpass_config {
	uint16_t rows, cols;       /* grid, 1..KM_FRAME_MAX_DIM each; default 0 (must be set) */
	float pitch_mm;            /* cell pitch, > 0; default 10 */
	/* Oblong cells: the spacing between rows (along y) and between columns
	 * (along x), mm; 0 = pitch_mm (default). Sigmas stay in mm: each axis's
	 * Gaussian is sigma / that axis's pitch cells wide, so a round spot is
	 * round in mm whichever axis has the finer pitch. */
	float row_pitch_mm, col_pitch_mm;
	enum km_geometry geometry; /* FLAT (zero padding) or CYLINDER (periodic columns) */
	unsigned n_scales;         /* 1..KM_BANDPASS_MAX_SCALES; default 5 */
	/* Inner sigmas, log-spaced from sigma_min_mm to sigma_max_mm (equal when
	 * n_scales == 1). Defaults 5 and 18 mm: knots of radius 0.7-2.5 cm
	 * (docs/signal-model.md). */
	float sigma_min_mm;
	float sigma_max_mm;
	float ratio;                    /* outer / inner sigma, > 1 and <= 4; default 1.6 */
	float background_sigma_mm;      /* 0 disables the background map; default 35 mm */
	enum km_bandpass_method method; /* default AUTO */
	int fftw_measure; /* nonzero: FFTW_MEASURE planning (slow create), else ESTIMATE */
	/* Nonzero: also allow km_bandpass_execute_masked (normalised
	 * convolution; about 2x the work, 4x on frames whose weights changed).
	 * Default 0. */
	int normalized;
	enum km_bandpass_simd simd; /* DIRECT path kernels; default BEST */
	struct km_log log;
};

typedef struct km_bandpass km_bandpass;

/* Defaults as documented above; rows/cols are 0 and must be set. */
KM_API struct km_bandpass_config km_bandpass_config_default(void);

/* Validates cfg, allocates every buffer and FFTW plan. Returns KM_OK,
 * KM_ERR_INVALID_ARG (NULL, bad sigma/ratio/method/scale count), KM_ERR_SHAPE
 * (rows/cols 0 or > KM_FRAME_MAX_DIM), KM_ERR_NO_MEMORY or KM_ERR_FFT.
 * *out is NULL on error. The caller owns the object (km_bandpass_destroy). */
KM_API int km_bandpass_create(const struct km_bandpass_config *cfg, km_bandpass **out);

/*
 * Computes the response stack. in: [rows x cols] row-major, kPa (finite; the
 * caller sanitises). out: [n_scales x rows x cols], kPa, caller-owned, may not
 * alias in. Allocates nothing. Returns KM_OK or KM_ERR_INVALID_ARG.
 */
KM_API int km_bandpass_execute(km_bandpass *bp, const float *in, float *out);

/*
 * Normalised convolution (Knutsson & Westin 1993): every Gaussian blur is a
 * weighted average over the cells with data, G*(w.p) / G*w, so the edges of
 * the loaded area and of the mat, and dead cells (weight 0), make no
 * response; the DoG of a plateau is 0 right up to its edge. weight:
 * [rows x cols] in [0, 1] (0 = no data); cells with weight 0 get response 0.
 * The background map is the weighted local mean. Needs cfg.normalized
 * (KM_ERR_STATE otherwise). KM_OK, KM_ERR_INVALID_ARG, KM_ERR_STATE.
 * Allocates nothing.
 */
KM_API int km_bandpass_execute_masked(km_bandpass *bp, const float *in, const float *weight,
                                      float *out);

/* Background map of the last execute, [rows x cols] kPa, owned by bp and
 * valid until the next execute/destroy; NULL when disabled. */
KM_API const float *km_bandpass_background(const km_bandpass *bp);

/* Inner sigma (mm) of scale i, or 0 when i is out of range. */
KM_API float km_bandpass_scale_mm(const km_bandpass *bp, unsigned i);
KM_API unsigned km_bandpass_n_scales(const km_bandpass *bp);
/* The method in use after AUTO resolved (FFT or DIRECT). */
KM_API enum km_bandpass_method km_bandpass_method_used(const km_bandpass *bp);
/* Nothing is carried between frames; kept for the common life cycle. */
KM_API void km_bandpass_reset(km_bandpass *bp);
/* Frees everything; NULL is a no-op. */
KM_API void km_bandpass_destroy(km_bandpass *bp);

/*
 * FFTW wisdom (planner results), explicit: the library never loads or saves it
 * on its own. path NULL means the default "$XDG_CACHE_HOME/knotmap/fftw-wisdom"
 * (or "$HOME/.cache/knotmap/fftw-wisdom"); save creates the directory (0700)
 * and replaces the file atomically. Both never print.
 * load: KM_OK, KM_ERR_NOT_FOUND (no file / no home), KM_ERR_PARSE (rejected by
 *       FFTW), KM_ERR_PERMISSION, KM_ERR_IO, KM_ERR_OVERFLOW (path too long).
 * save: KM_OK, KM_ERR_NOT_FOUND, KM_ERR_IO, KM_ERR_PERMISSION, KM_ERR_NO_SPACE,
 *       KM_ERR_OVERFLOW.
 * Thread-safe (FFTW lock).
 */
KM_API int km_dsp_wisdom_load(const char *path);
KM_API int km_dsp_wisdom_save(const char *path);
/* Writes the default wisdom path into buf (size bytes). KM_OK,
 * KM_ERR_INVALID_ARG, KM_ERR_NOT_FOUND (no HOME) or KM_ERR_OVERFLOW. */
KM_API int km_dsp_wisdom_path(char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
