/*
 * Difference-of-Gaussians band-pass stack, by FFT (FFTW, single precision)
 * or by separable direct convolution. See knotmap/bandpass.h.
 */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "fftw_lock.h"
#include "km_internal.h"
#include "knotmap/bandpass.h"
#include "sepconv.h"

#define MAX_KERNELS (2 * KM_BANDPASS_MAX_SCALES + 1)

/* Gaussians are cut at 4 sigma: the dropped tail is < 7e-5 of the mass
 * before renormalisation, far below the 1 kPa resolution of a mat. */
#define TRUNC_SIGMAS 4.0

/* One Gaussian as two 1-D kernels: across the rows (y, row pitch) and
 * along a row (x, column pitch); equal on square cells. */
struct gauss {
	int hy, hx; /* full half-widths in cells */
	int hr;     /* taps used across rows (the row axis is always zero-padded) */
	int hc;     /* taps used along columns */
	float *wy;  /* [2hy+1], unit sum; wy[hy] is the centre */
	float *wx;  /* [2hx+1], unit sum; wx[hx] is the centre */
};

/* Cells r0..r1 x c0..c1 (inclusive); empty when r0 > r1. On a cylinder
 * the columns may run past the seam: c0 < cols, c1 < c0 + cols, and column
 * c >= cols is column c - cols. */
struct window {
	int r0, r1, c0, c1;
};

struct km_bandpass {
	struct km_bandpass_config cfg;
	enum km_bandpass_method used;
	int rows, cols, periodic;
	unsigned n; /* scales */
	int has_bg;
	float sigma_mm[KM_BANDPASS_MAX_SCALES];
	float gain;
	unsigned nk; /* kernels: inner_i = 2i, outer_i = 2i+1, bg = 2n */
	struct gauss k[MAX_KERNELS];
	float *bg; /* [rows x cols] background map, or NULL */

	/* FFT path */
	int nr, nc, nch;
	float *fin, *fout;
	fftwf_complex *spec, *work;
	float *kspec[KM_BANDPASS_MAX_SCALES + 1]; /* real spectra, [nr x nch] */
	/* normalised mode: one spectrum per single Gaussian */
	float *gspec[MAX_KERNELS];
	fftwf_plan fwd, inv;

	/* direct path: the frame, padded along each row by H cells each side
	 * ([rows x el], el = tw + 2H), the row pass result [rows x tw] and one
	 * output row [tw]; cp is cols rounded up to the kernels' lane count, tw
	 * is cp (a cylinder: 2 cols rounded up, for windows across the seam) */
	const struct km_sepconv_ops *ops;
	int cp, tw, H, el;
	float *ext, *t, *rowbuf;
	float *t_mem; /* t's allocation; t is its first 64-byte boundary, so with
	               * cp a whole number of vectors every row pass load is aligned */

	/* normalised mode, both paths: 1 / (G_j * w) per kernel, rcp [nk x rows x cp],
	 * for the weights in wlast [rows x cols]. The weights (where the body
	 * lies) change far less often than the data, so they are only blurred
	 * again when they differ from the last frame's: half the work saved. */
	float *rcp;
	float *wlast;
	int inv_valid;
	/* The rows and columns of the weights' nonzero cells (a cylinder: all
	 * columns): outside, the data times weights are 0, the DoG responses are
	 * 0 and the background is 0 beyond a kernel's reach. The DIRECT path
	 * computes only inside (a body covers a quarter to a half of a mat). */
	struct window data_win;
};

struct km_bandpass_config km_bandpass_config_default(void)
{
	struct km_bandpass_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.geometry = KM_GEOMETRY_FLAT;
	c.n_scales = 5;
	c.sigma_min_mm = 5.0f; /* docs/signal-model.md: spot sigma 0.5-1.8 cm */
	c.sigma_max_mm = 18.0f;
	c.ratio = 1.6f;                /* classic DoG ratio (Marr-Hildreth) */
	c.background_sigma_mm = 35.0f; /* docs/signal-model.md: background 3-4 cm */
	c.method = KM_BANDPASS_AUTO;
	return c;
}

static int finite_in(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

static int check_config(const struct km_bandpass_config *c)
{
	if (c->rows == 0 || c->cols == 0 || c->rows > KM_FRAME_MAX_DIM ||
	    c->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	/* Bounds keep kernel half-widths (4 sigma / pitch) below ~40000 cells. */
	if (!finite_in(c->pitch_mm, 0.1f, 1000.0f))
		return KM_ERR_INVALID_ARG;
	if ((c->row_pitch_mm != 0.0f && !finite_in(c->row_pitch_mm, 0.1f, 1000.0f)) ||
	    (c->col_pitch_mm != 0.0f && !finite_in(c->col_pitch_mm, 0.1f, 1000.0f)))
		return KM_ERR_INVALID_ARG;
	if (c->geometry != KM_GEOMETRY_FLAT && c->geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	if (c->n_scales < 1 || c->n_scales > KM_BANDPASS_MAX_SCALES)
		return KM_ERR_INVALID_ARG;
	if (!finite_in(c->sigma_min_mm, 1e-3f, 1000.0f) ||
	    !finite_in(c->sigma_max_mm, c->sigma_min_mm, 1000.0f))
		return KM_ERR_INVALID_ARG;
	if (c->n_scales > 1 && !(c->sigma_max_mm > c->sigma_min_mm))
		return KM_ERR_INVALID_ARG;
	if (!finite_in(c->ratio, 1.01f, 4.0f))
		return KM_ERR_INVALID_ARG;
	if (!(c->background_sigma_mm == 0.0f || finite_in(c->background_sigma_mm, 1e-3f, 4000.0f)))
		return KM_ERR_INVALID_ARG;
	if (c->method != KM_BANDPASS_AUTO && c->method != KM_BANDPASS_FFT &&
	    c->method != KM_BANDPASS_DIRECT)
		return KM_ERR_INVALID_ARG;
	if (c->simd != KM_BANDPASS_SIMD_BEST && c->simd != KM_BANDPASS_SIMD_PORTABLE &&
	    c->simd != KM_BANDPASS_SIMD_AVX2)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

/* Unit-sum sampled Gaussian of sigma_cells, cut at TRUNC_SIGMAS: *h taps
 * each side. */
static float *make_taps(double sigma_cells, int *h)
{
	double hd = ceil(TRUNC_SIGMAS * sigma_cells);
	*h = hd < 1.0 ? 1 : (int)hd;
	float *w = km__calloc((size_t)(2 * *h + 1), sizeof(float));
	if (!w)
		return NULL;
	double sum = 0.0;
	for (int k = -*h; k <= *h; k++)
		sum += exp(-0.5 * (double)k * (double)k / (sigma_cells * sigma_cells));
	for (int k = -*h; k <= *h; k++)
		w[k + *h] = (float)(exp(-0.5 * (double)k * (double)k / (sigma_cells * sigma_cells)) /
		                    sum);
	return w;
}

static int make_gauss(struct gauss *g, double sigma_y_cells, double sigma_x_cells, int rows,
                      int cols, int periodic)
{
	g->wy = make_taps(sigma_y_cells, &g->hy);
	g->wx = make_taps(sigma_x_cells, &g->hx);
	if (!g->wy || !g->wx)
		return KM_ERR_NO_MEMORY;
	/* Taps at |k| >= size never reach a cell of a zero-padded axis. */
	g->hr = KM_MIN(g->hy, rows - 1);
	g->hc = periodic ? g->hx : KM_MIN(g->hx, cols - 1);
	return KM_OK;
}

/* Smallest even n >= x whose only prime factors are 2, 3, 5, 7 (fast for
 * FFTW). Even, because FFTW can only plan an r2c/c2r pair without internal
 * buffering (FFTW_NO_BUFFERING) when the last dimension is even; with
 * buffering it allocates inside every fftwf_execute (found by bench/). */
static int good_size(int x)
{
	for (int n = x > 2 ? x + (x & 1) : 2;; n += 2) {
		int m = n;
		while (m % 2 == 0)
			m /= 2;
		while (m % 3 == 0)
			m /= 3;
		while (m % 5 == 0)
			m /= 5;
		while (m % 7 == 0)
			m /= 7;
		if (m == 1)
			return n;
	}
}

/* Unit-sum 1-D kernel w (centre w[h]) wrapped onto an axis of length n
 * (taps |k| <= ht). */
static void wrap_axis(const float *w, int h, int ht, int n, double *v)
{
	for (int i = 0; i < n; i++)
		v[i] = 0.0;
	for (int k = -ht; k <= ht; k++)
		v[((k % n) + n) % n] += w[k + h];
}

/* Cost model, in FFT flops: r2c/c2r of N real points ~ 2.5 N log2 N (FFTW's
 * split radix count for real data) plus the spectral products; a direct tap
 * (one multiply-add per cell per pass) costs the kernels' tap_cost, measured
 * against FFTW (bench/dsp: FFT/DIRECT time ratios of 1.0-3.3 on 32x32 to
 * 128x128 at 2-10 mm pitch, all DIRECT with AVX-512 or AVX2). Normalised mode
 * counts the data's blurs only: the weights' are cached while unchanged. */
static double cost_fft(const struct km_bandpass *bp, int nr, int nc)
{
	double n = (double)nr * (double)nc;
	double outs = bp->cfg.normalized ? (double)bp->nk : (double)bp->n + (double)bp->has_bg;
	return (1.0 + outs) * 2.5 * n * log2(n > 2.0 ? n : 2.0) +
	       outs * (double)nr * (double)(nc / 2 + 1) * 2.0 + outs * n;
}

static double cost_direct(const struct km_bandpass *bp, int cp)
{
	double cells = (double)bp->rows * (double)cp, taps = 0.0;
	for (unsigned j = 0; j < bp->nk; j++)
		taps += (double)(2 * bp->k[j].hr + 1 + 2 * bp->k[j].hc + 1);
	return bp->ops->tap_cost * cells * taps + cells * (double)bp->nk * 2.0;
}

static int setup_fft(km_bandpass *bp)
{
	int hr = 0, hc = 0;
	for (unsigned j = 0; j < bp->nk; j++) {
		hr = KM_MAX(hr, bp->k[j].hr);
		hc = KM_MAX(hc, bp->k[j].hc);
	}
	size_t nreal, ncplx;
	if (!km__mul_size((size_t)bp->nr, (size_t)bp->nc, &nreal) ||
	    !km__mul_size((size_t)bp->nr, (size_t)bp->nch, &ncplx))
		return KM_ERR_NO_MEMORY;
	int rc = KM_OK;
	unsigned flags = bp->cfg.fftw_measure ? FFTW_MEASURE : FFTW_ESTIMATE;
	km__fftw_lock();
	bp->fin = fftwf_malloc(nreal * sizeof(float));
	bp->fout = fftwf_malloc(nreal * sizeof(float));
	bp->spec = fftwf_malloc(ncplx * sizeof(fftwf_complex));
	bp->work = fftwf_malloc(ncplx * sizeof(fftwf_complex));
	if (!bp->fin || !bp->fout || !bp->spec || !bp->work) {
		rc = KM_ERR_NO_MEMORY;
	} else {
		/* Plan before any data is written: MEASURE overwrites the arrays.
		 * No buffering: a buffered plan mallocs on every execute. A
		 * periodic axis of odd length cannot do without; then buffered. */
		bp->fwd = fftwf_plan_dft_r2c_2d(bp->nr, bp->nc, bp->fin, bp->spec,
						flags | FFTW_NO_BUFFERING);
		if (!bp->fwd)
			bp->fwd = fftwf_plan_dft_r2c_2d(bp->nr, bp->nc, bp->fin, bp->spec, flags);
		bp->inv = fftwf_plan_dft_c2r_2d(bp->nr, bp->nc, bp->work, bp->fout,
						flags | FFTW_NO_BUFFERING);
		if (!bp->inv)
			bp->inv = fftwf_plan_dft_c2r_2d(bp->nr, bp->nc, bp->work, bp->fout, flags);
		if (!bp->fwd || !bp->inv)
			rc = KM_ERR_FFT;
	}
	km__fftw_unlock();
	if (rc != KM_OK)
		return rc;

	double *rv1 = km__calloc((size_t)bp->nr, sizeof(double));
	double *cv1 = km__calloc((size_t)bp->nc, sizeof(double));
	double *rv2 = km__calloc((size_t)bp->nr, sizeof(double));
	double *cv2 = km__calloc((size_t)bp->nc, sizeof(double));
	if (!rv1 || !cv1 || !rv2 || !cv2) {
		rc = KM_ERR_NO_MEMORY;
		goto out;
	}
	unsigned nspec = bp->n + (unsigned)bp->has_bg;
	double norm = 1.0 / ((double)bp->nr * (double)bp->nc); /* FFTW is unnormalised */
	for (unsigned s = 0; s < nspec && rc == KM_OK; s++) {
		bp->kspec[s] = km__calloc(ncplx, sizeof(float));
		if (!bp->kspec[s]) {
			rc = KM_ERR_NO_MEMORY;
			break;
		}
		const struct gauss *gi = &bp->k[s < bp->n ? 2 * s : 2 * bp->n];
		double gain = s < bp->n ? (double)bp->gain : 1.0;
		wrap_axis(gi->wy, gi->hy, gi->hr, bp->nr, rv1);
		wrap_axis(gi->wx, gi->hx, gi->hc, bp->nc, cv1);
		if (s < bp->n) {
			const struct gauss *go = &bp->k[2 * s + 1];
			wrap_axis(go->wy, go->hy, go->hr, bp->nr, rv2);
			wrap_axis(go->wx, go->hx, go->hc, bp->nc, cv2);
		}
		for (int r = 0; r < bp->nr; r++)
			for (int c = 0; c < bp->nc; c++) {
				double v = rv1[r] * cv1[c];
				if (s < bp->n)
					v -= rv2[r] * cv2[c];
				bp->fin[(size_t)r * (size_t)bp->nc + (size_t)c] = (float)(gain * v);
			}
		fftwf_execute(bp->fwd);
		/* A symmetric kernel has a real spectrum: keep the real part only. */
		for (size_t i = 0; i < ncplx; i++)
			bp->kspec[s][i] = (float)((double)bp->spec[i][0] * norm);
	}
	for (unsigned j = 0; bp->cfg.normalized && j < bp->nk && rc == KM_OK; j++) {
		bp->gspec[j] = km__calloc(ncplx, sizeof(float));
		if (!bp->gspec[j]) {
			rc = KM_ERR_NO_MEMORY;
			break;
		}
		const struct gauss *g = &bp->k[j];
		wrap_axis(g->wy, g->hy, g->hr, bp->nr, rv1);
		wrap_axis(g->wx, g->hx, g->hc, bp->nc, cv1);
		for (int r = 0; r < bp->nr; r++)
			for (int c = 0; c < bp->nc; c++)
				bp->fin[(size_t)r * (size_t)bp->nc + (size_t)c] =
				    (float)(rv1[r] * cv1[c]);
		fftwf_execute(bp->fwd);
		for (size_t i = 0; i < ncplx; i++)
			bp->gspec[j][i] = (float)((double)bp->spec[i][0] * norm);
	}
out:
	km__free(rv1);
	km__free(cv1);
	km__free(rv2);
	km__free(cv2);
	return rc;
}

static int setup_direct(km_bandpass *bp)
{
	size_t ext_n, t_n;
	if (!km__mul_size((size_t)bp->rows, (size_t)bp->el, &ext_n) ||
	    !km__mul_size((size_t)bp->rows, (size_t)bp->tw, &t_n))
		return KM_ERR_NO_MEMORY;
	bp->ext = km__calloc(ext_n, sizeof(float));
	bp->t_mem = km__calloc(t_n + KM_SEPCONV_LANES, sizeof(float));
	if (bp->t_mem)
		bp->t = bp->t_mem + ((64u - (uintptr_t)bp->t_mem % 64u) % 64u) / sizeof(float);
	bp->rowbuf = km__calloc((size_t)bp->tw, sizeof(float));
	if (!bp->ext || !bp->t || !bp->rowbuf)
		return KM_ERR_NO_MEMORY;
	return KM_OK;
}

int km_bandpass_create(const struct km_bandpass_config *cfg, km_bandpass **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, "dsp", "bandpass: bad config (%s)",
		        km_error_name(rc));
		return rc;
	}
	km_bandpass *bp = km__calloc(1, sizeof *bp);
	if (!bp)
		return KM_ERR_NO_MEMORY;
	bp->cfg = *cfg;
	bp->rows = cfg->rows;
	bp->cols = cfg->cols;
	bp->periodic = cfg->geometry == KM_GEOMETRY_CYLINDER;
	bp->n = cfg->n_scales;
	bp->has_bg = cfg->background_sigma_mm > 0.0f;
	bp->gain = (cfg->ratio + 1.0f) / (cfg->ratio - 1.0f);
	bp->nk = 2 * bp->n + (unsigned)bp->has_bg;
	for (unsigned i = 0; i < bp->n; i++) {
		double t = bp->n > 1 ? (double)i / (double)(bp->n - 1) : 0.0;
		bp->sigma_mm[i] = (float)(cfg->sigma_min_mm *
		                          pow((double)cfg->sigma_max_mm / cfg->sigma_min_mm, t));
	}
	double py = cfg->row_pitch_mm > 0.0f ? cfg->row_pitch_mm : cfg->pitch_mm;
	double px = cfg->col_pitch_mm > 0.0f ? cfg->col_pitch_mm : cfg->pitch_mm;
	for (unsigned j = 0; j < bp->nk && rc == KM_OK; j++) {
		double s_mm = j == 2 * bp->n ? (double)cfg->background_sigma_mm
		                             : (double)bp->sigma_mm[j / 2] *
		                                   (j % 2 ? (double)cfg->ratio : 1.0);
		rc = make_gauss(&bp->k[j], s_mm / py, s_mm / px, bp->rows, bp->cols, bp->periodic);
	}
	if (rc == KM_OK && bp->has_bg) {
		bp->bg = km__calloc((size_t)bp->rows * (size_t)bp->cols, sizeof(float));
		if (!bp->bg)
			rc = KM_ERR_NO_MEMORY;
	}
	if (rc != KM_OK) {
		km_bandpass_destroy(bp);
		return rc;
	}
	int hr = 0, hc = 0;
	for (unsigned j = 0; j < bp->nk; j++) {
		hr = KM_MAX(hr, bp->k[j].hr);
		hc = KM_MAX(hc, bp->k[j].hc);
	}
	/* Zero padding by at least the kernel reach keeps the circular FFT
	 * convolution equal to the linear one on the grid; periodic columns use
	 * the grid's own length so the wrap is the cylinder's. */
	bp->nr = good_size(bp->rows + hr);
	bp->nc = bp->periodic ? bp->cols : good_size(bp->cols + hc);
	bp->nch = bp->nc / 2 + 1;
	bp->ops = km__sepconv_ops(cfg->simd == KM_BANDPASS_SIMD_PORTABLE ? KM_ISA_PORTABLE
	                          : cfg->simd == KM_BANDPASS_SIMD_AVX2   ? KM_ISA_AVX2
	                                                                 : KM_ISA_AVX512);
	bp->cp = (bp->cols + KM_SEPCONV_LANES - 1) / KM_SEPCONV_LANES * KM_SEPCONV_LANES;
	bp->tw = bp->periodic ? (2 * bp->cols + KM_SEPCONV_LANES - 1) / KM_SEPCONV_LANES *
	                            KM_SEPCONV_LANES
	                      : bp->cp;
	bp->H = hc;
	bp->el = bp->tw + 2 * hc;
	bp->used = cfg->method;
	if (bp->used == KM_BANDPASS_AUTO)
		bp->used = cost_direct(bp, bp->cp) < cost_fft(bp, bp->nr, bp->nc)
		               ? KM_BANDPASS_DIRECT
		               : KM_BANDPASS_FFT;
	rc = bp->used == KM_BANDPASS_FFT ? setup_fft(bp) : setup_direct(bp);
	if (rc == KM_OK && cfg->normalized) {
		size_t n;
		if (!km__mul_size((size_t)bp->nk * (size_t)bp->rows, (size_t)bp->cp, &n))
			rc = KM_ERR_NO_MEMORY;
		else
			bp->rcp = km__calloc(n, sizeof(float));
		bp->wlast = km__calloc((size_t)bp->rows * (size_t)bp->cols, sizeof(float));
		if (!bp->rcp || !bp->wlast)
			rc = KM_ERR_NO_MEMORY;
	}
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, "dsp", "bandpass: setup failed (%s)",
		        km_error_name(rc));
		km_bandpass_destroy(bp);
		return rc;
	}
	km__log(&cfg->log, KM_LOG_DEBUG, "dsp", "bandpass %dx%d: %s (fft %dx%d, direct %s)",
	        bp->rows, bp->cols, bp->used == KM_BANDPASS_FFT ? "fft" : "direct", bp->nr, bp->nc,
	        bp->ops->name);
	*out = bp;
	return KM_OK;
}

/* Where kernel j's output goes: scale j/2 of the stack, or the background. */
static float *out_plane(km_bandpass *bp, unsigned j, float *out)
{
	return j == 2 * bp->n ? bp->bg : out + (size_t)(j / 2) * (size_t)bp->rows * (size_t)bp->cols;
}

/* Row r of kernel j's blur, v, into its output: an inner Gaussian or the
 * background is stored, an outer one completes the DoG g * (inner - outer).
 * inv (NULL in plain mode) is the row of 1 / (G_j * w). */
static void emit_row(km_bandpass *bp, unsigned j, int r, const float *restrict v,
                     const float *restrict inv, float *out, int c0, int c1)
{
	float *restrict d = out_plane(bp, j, out) + (size_t)r * (size_t)bp->cols;
	if (j == 2 * bp->n || j % 2 == 0) {
		if (inv)
			for (int c = c0; c <= c1; c++)
				d[c] = v[c] * inv[c];
		else
			memcpy(d + c0, v + c0, (size_t)(c1 - c0 + 1) * sizeof(float));
	} else {
		float g = bp->gain;
		if (inv)
			for (int c = c0; c <= c1; c++)
				d[c] = g * (d[c] - v[c] * inv[c]);
		else
			for (int c = c0; c <= c1; c++)
				d[c] = g * (d[c] - v[c]);
	}
}

/* ---- FFT path ---------------------------------------------------------- */

/* The grid (in x weight, or either alone when the other is NULL), zero
 * padded, forward transformed into bp->spec. */
static void fft_forward(km_bandpass *bp, const float *in, const float *w)
{
	size_t C = (size_t)bp->cols, NC = (size_t)bp->nc;
	memset(bp->fin, 0, (size_t)bp->nr * NC * sizeof(float));
	for (size_t r = 0; r < (size_t)bp->rows; r++) {
		float *f = bp->fin + r * NC;
		const float *x = in ? in + r * C : NULL, *m = w ? w + r * C : NULL;
		for (size_t c = 0; c < C; c++)
			f[c] = x && m ? x[c] * m[c] : x ? x[c] : m[c];
	}
	fftwf_execute(bp->fwd);
}

/* bp->spec times the real spectrum k, back to the grid in bp->fout. */
static void fft_inverse(km_bandpass *bp, const float *k)
{
	size_t ncplx = (size_t)bp->nr * (size_t)bp->nch;
	for (size_t i = 0; i < ncplx; i++) {
		bp->work[i][0] = bp->spec[i][0] * k[i];
		bp->work[i][1] = bp->spec[i][1] * k[i];
	}
	fftwf_execute(bp->inv);
}

static void exec_fft(km_bandpass *bp, const float *in, float *out)
{
	fft_forward(bp, in, NULL);
	unsigned nspec = bp->n + (unsigned)bp->has_bg;
	for (unsigned s = 0; s < nspec; s++) {
		fft_inverse(bp, bp->kspec[s]);
		float *dst = s < bp->n ? out + (size_t)s * (size_t)bp->rows * (size_t)bp->cols : bp->bg;
		for (size_t r = 0; r < (size_t)bp->rows; r++)
			memcpy(dst + r * (size_t)bp->cols, bp->fout + r * (size_t)bp->nc,
			       (size_t)bp->cols * sizeof(float));
	}
}

/* ---- direct path -------------------------------------------------------- */

static void store_inv(km_bandpass *bp, unsigned j, int r, const float *blur, const float *w,
                      int c0, int c1);

/* Rows r0..r1 of the grid (in x weight, or either alone) into bp->ext, each
 * padded by H cells: zeros for a flat mat, the wrapped row for a cylinder. */
static void direct_load(km_bandpass *bp, const float *in, const float *w, int r0, int r1)
{
	int C = bp->cols, H = bp->H;
	for (int r = r0; r <= r1; r++) {
		float *e = bp->ext + (size_t)r * (size_t)bp->el;
		const float *x = in ? in + (size_t)r * (size_t)C : NULL;
		const float *m = w ? w + (size_t)r * (size_t)C : NULL;
		for (int c = 0; c < C; c++)
			e[H + c] = x && m ? x[c] * m[c] : x ? x[c] : m[c];
		if (bp->periodic) { /* copies of the row, as often as the padding needs */
			for (int end = H; end > 0; end -= KM_MIN(C, end))
				memcpy(e + end - KM_MIN(C, end), e + H + C - KM_MIN(C, end),
				       (size_t)KM_MIN(C, end) * sizeof(float));
			for (int j = H + C; j < bp->el; j += C)
				memcpy(e + j, e + H, (size_t)KM_MIN(C, bp->el - j) * sizeof(float));
		} else {
			memset(e, 0, (size_t)H * sizeof(float));
			memset(e + H + C, 0, (size_t)(bp->el - H - C) * sizeof(float));
		}
	}
}

/* Kernel j over the data rows d (loaded by direct_load) and its output
 * window o: out = the blur, stored or completing a DoG by emit_row, with
 * inv (NULL in plain mode) the 1 / (G_j * w) plane; or, when out is NULL,
 * the reciprocals of the blur of the weights w into bp->rcp. Rows outside d
 * are zero and left out of the sums. */
static void direct_kernel(km_bandpass *bp, unsigned j, struct window d, struct window o,
                          const float *inv, const float *w, float *out)
{
	const struct gauss *g = &bp->k[j];
	const float *wx = g->wx + g->hx, *wy = g->wy + g->hy;
	/* whole vectors: both passes run over columns cs .. cs + n - 1 */
	int cs = o.c0 / KM_SEPCONV_LANES * KM_SEPCONV_LANES;
	int n = (o.c1 + 1 - cs + KM_SEPCONV_LANES - 1) / KM_SEPCONV_LANES * KM_SEPCONV_LANES;
	size_t tw = (size_t)bp->tw;
	for (int r = d.r0; r <= d.r1; r++)
		bp->ops->along_row(bp->ext + (size_t)r * (size_t)bp->el + bp->H + cs, wx, g->hc, n,
		                   bp->t + (size_t)r * tw + cs);
	for (int r = o.r0; r <= o.r1; r++) {
		int k0 = KM_MAX(-g->hr, d.r0 - r), k1 = KM_MIN(g->hr, d.r1 - r);
		bp->ops->across_rows(bp->t + (size_t)r * tw + cs, bp->tw, wy, k0, k1, n,
		                     bp->rowbuf + cs);
		const float *iv = inv ? inv + (size_t)r * (size_t)bp->cp : NULL;
		/* across a cylinder's seam the part past it is columns 0.. */
		int c1 = KM_MIN(o.c1, bp->cols - 1);
		if (out)
			emit_row(bp, j, r, bp->rowbuf, iv, out, o.c0, c1);
		else
			store_inv(bp, j, r, bp->rowbuf, w, o.c0, c1);
		if (o.c1 >= bp->cols) {
			if (out)
				emit_row(bp, j, r, bp->rowbuf + bp->cols, iv, out, 0, o.c1 - bp->cols);
			else
				store_inv(bp, j, r, bp->rowbuf + bp->cols, w, 0, o.c1 - bp->cols);
		}
	}
}

static struct window whole_grid(const km_bandpass *bp)
{
	return (struct window){0, bp->rows - 1, 0, bp->cols - 1};
}

static void exec_direct(km_bandpass *bp, const float *in, float *out)
{
	struct window all = whole_grid(bp);
	direct_load(bp, in, NULL, 0, bp->rows - 1);
	for (unsigned j = 0; j < bp->nk; j++)
		direct_kernel(bp, j, all, all, NULL, NULL, out);
}

/* ---- normalised convolution -------------------------------------------- */

/* Columns c0..c1 of row r of 1 / (G_j * w) where there is weight (blur >
 * 1e-6; at least the centre tap inside the data), else 0; also 0 for the DoG
 * kernels where the cell itself has no weight: no data, no response. */
static void store_inv(km_bandpass *bp, unsigned j, int r, const float *blur, const float *w,
                      int c0, int c1)
{
	float *restrict iv = bp->rcp + ((size_t)j * (size_t)bp->rows + (size_t)r) * (size_t)bp->cp;
	const float *restrict wr = w + (size_t)r * (size_t)bp->cols;
	const float *restrict b = blur;
	int any = j == 2 * bp->n; /* the background: wherever the blur reaches */
	for (int c = c0; c <= c1; c++) {
		/* every lane divides (by 1 where it is not kept): one vector divide,
		 * where a conditional divide would stay scalar */
		int keep = (b[c] > 1e-6f) & (any | (wr[c] > 0.0f));
		float q = 1.0f / (keep ? b[c] : 1.0f);
		iv[c] = keep ? q : 0.0f;
	}
}

/* Where kernel j's output is needed given the data window d: d itself for
 * the DoG kernels (0 elsewhere), d grown by the kernel's reach for the
 * background. */
static struct window kernel_window(const km_bandpass *bp, unsigned j, struct window d)
{
	if (j != 2 * bp->n)
		return d;
	const struct gauss *g = &bp->k[j];
	struct window o = d;
	o.r0 = KM_MAX(0, d.r0 - g->hr);
	o.r1 = KM_MIN(bp->rows - 1, d.r1 + g->hr);
	if (!bp->periodic) {
		o.c0 = KM_MAX(0, d.c0 - g->hc);
		o.c1 = KM_MIN(bp->cols - 1, d.c1 + g->hc);
	} else if (d.c1 - d.c0 + 1 + 2 * g->hc >= bp->cols) {
		o.c0 = 0; /* the whole circumference */
		o.c1 = bp->cols - 1;
	} else {
		o.c0 = (d.c0 - g->hc + bp->cols) % bp->cols;
		o.c1 = o.c0 + (d.c1 - d.c0) + 2 * g->hc;
	}
	return o;
}

/* bp->data_win from the weights: the rows and columns with nonzero (or NaN)
 * weights; on a cylinder the shortest arc of columns holding them all, the
 * complement of the longest run of empty columns (bp->rowbuf as scratch). */
static void find_data_window(km_bandpass *bp, const float *w)
{
	int R = bp->rows, C = bp->cols;
	struct window *d = &bp->data_win;
	float *col_used = bp->rowbuf; /* DIRECT only: the FFT path has no window */
	*d = (struct window){R, -1, C, -1};
	if (!col_used)
		return;
	for (int c = 0; c < C; c++)
		col_used[c] = 0.0f;
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++)
			if (w[(size_t)r * (size_t)C + (size_t)c] != 0.0f) {
				d->r0 = KM_MIN(d->r0, r);
				d->r1 = r;
				col_used[c] = 1.0f;
			}
	if (d->r0 > d->r1)
		return;
	if (!bp->periodic) {
		for (int c = 0; c < C; c++)
			if (col_used[c] != 0.0f) {
				d->c0 = KM_MIN(d->c0, c);
				d->c1 = c;
			}
		return;
	}
	/* longest circular run of empty columns: scan twice round */
	int best = 0, best_end = 0, run = 0;
	for (int i = 0; i < 2 * C; i++) {
		run = col_used[i % C] != 0.0f ? 0 : KM_MIN(run + 1, C);
		if (run > best) {
			best = run;
			best_end = i % C;
		}
	}
	d->c0 = best ? (best_end + 1) % C : 0;
	d->c1 = d->c0 + (C - best) - 1;
}

/* Blurs the weights again only when they differ from the last call's. */
static void update_weights(km_bandpass *bp, const float *w)
{
	size_t cells = (size_t)bp->rows * (size_t)bp->cols;
	if (bp->inv_valid && memcmp(w, bp->wlast, cells * sizeof(float)) == 0)
		return;
	if (bp->used == KM_BANDPASS_FFT) {
		fft_forward(bp, NULL, w);
		for (unsigned j = 0; j < bp->nk; j++) {
			fft_inverse(bp, bp->gspec[j]);
			for (int r = 0; r < bp->rows; r++)
				store_inv(bp, j, r, bp->fout + (size_t)r * (size_t)bp->nc, w, 0,
				          bp->cols - 1);
		}
	} else {
		/* only where masked_direct will read them */
		find_data_window(bp, w);
		struct window d = bp->data_win;
		if (d.r0 <= d.r1) {
			direct_load(bp, NULL, w, d.r0, d.r1);
			for (unsigned j = 0; j < bp->nk; j++)
				direct_kernel(bp, j, d, kernel_window(bp, j, d), NULL, w, NULL);
		}
	}
	memcpy(bp->wlast, w, cells * sizeof(float));
	bp->inv_valid = 1;
}

/* Zeros the cells of a [rows x cols] plane outside window o (not empty). */
static void zero_outside(float *plane, int rows, int cols, struct window o)
{
	size_t C = (size_t)cols;
	memset(plane, 0, (size_t)o.r0 * C * sizeof(float));
	for (int r = o.r0; r <= o.r1; r++) {
		float *row = plane + (size_t)r * C;
		if (o.c1 < cols) {
			memset(row, 0, (size_t)o.c0 * sizeof(float));
			memset(row + o.c1 + 1, 0, (size_t)(cols - 1 - o.c1) * sizeof(float));
		} else { /* across the seam: the gap is between its two ends */
			memset(row + o.c1 - cols + 1, 0, (size_t)(o.c0 - (o.c1 - cols + 1)) * sizeof(float));
		}
	}
	memset(plane + (size_t)(o.r1 + 1) * C, 0, (size_t)(rows - 1 - o.r1) * C * sizeof(float));
}

/* Normalised DIRECT: only inside the weights' window (the background a
 * kernel's reach beyond it); zero outside. */
static void masked_direct(km_bandpass *bp, const float *in, const float *w, float *out)
{
	const struct window d = bp->data_win;
	size_t plane = (size_t)bp->rows * (size_t)bp->cp;
	if (d.r0 > d.r1) { /* no data anywhere */
		size_t cells = (size_t)bp->rows * (size_t)bp->cols;
		memset(out, 0, (size_t)bp->n * cells * sizeof(float));
		if (bp->bg)
			memset(bp->bg, 0, cells * sizeof(float));
		return;
	}
	direct_load(bp, in, w, d.r0, d.r1);
	for (unsigned j = 0; j < bp->nk; j++) {
		struct window o = kernel_window(bp, j, d);
		if (j == 2 * bp->n || j % 2 == 0) /* the first write to this plane */
			zero_outside(out_plane(bp, j, out), bp->rows, bp->cols, o);
		direct_kernel(bp, j, d, o, bp->rcp + j * plane, NULL, out);
	}
}

int km_bandpass_execute_masked(km_bandpass *bp, const float *in, const float *weight, float *out)
{
	if (!bp || !in || !weight || !out || in == out || weight == out)
		return KM_ERR_INVALID_ARG;
	if (!bp->cfg.normalized)
		return KM_ERR_STATE;
	update_weights(bp, weight);
	const float *inv = bp->rcp;
	size_t plane = (size_t)bp->rows * (size_t)bp->cp;
	if (bp->used == KM_BANDPASS_FFT) {
		fft_forward(bp, in, weight);
		for (unsigned j = 0; j < bp->nk; j++) {
			fft_inverse(bp, bp->gspec[j]);
			for (int r = 0; r < bp->rows; r++)
				emit_row(bp, j, r, bp->fout + (size_t)r * (size_t)bp->nc,
				         inv + j * plane + (size_t)r * (size_t)bp->cp, out, 0,
				         bp->cols - 1);
		}
	} else {
		masked_direct(bp, in, weight, out);
	}
	return KM_OK;
}

int km_bandpass_execute(km_bandpass *bp, const float *in, float *out)
{
	if (!bp || !in || !out || in == out)
		return KM_ERR_INVALID_ARG;
	if (bp->used == KM_BANDPASS_FFT)
		exec_fft(bp, in, out);
	else
		exec_direct(bp, in, out);
	return KM_OK;
}

const float *km_bandpass_background(const km_bandpass *bp)
{
	return bp ? bp->bg : NULL;
}

float km_bandpass_scale_mm(const km_bandpass *bp, unsigned i)
{
	return bp && i < bp->n ? bp->sigma_mm[i] : 0.0f;
}

unsigned km_bandpass_n_scales(const km_bandpass *bp)
{
	return bp ? bp->n : 0;
}

enum km_bandpass_method km_bandpass_method_used(const km_bandpass *bp)
{
	return bp ? bp->used : KM_BANDPASS_AUTO;
}

void km_bandpass_reset(km_bandpass *bp)
{
	if (!bp)
		return;
	if (bp->bg)
		memset(bp->bg, 0, (size_t)bp->rows * (size_t)bp->cols * sizeof(float));
	bp->inv_valid = 0;
}

void km_bandpass_destroy(km_bandpass *bp)
{
	if (!bp)
		return;
	km__fftw_lock();
	if (bp->fwd)
		fftwf_destroy_plan(bp->fwd);
	if (bp->inv)
		fftwf_destroy_plan(bp->inv);
	fftwf_free(bp->fin);
	fftwf_free(bp->fout);
	fftwf_free(bp->spec);
	fftwf_free(bp->work);
	km__fftw_unlock();
	for (unsigned s = 0; s <= KM_BANDPASS_MAX_SCALES; s++)
		km__free(bp->kspec[s]);
	for (unsigned j = 0; j < MAX_KERNELS; j++)
		km__free(bp->gspec[j]);
	km__free(bp->rcp);
	km__free(bp->wlast);
	for (unsigned j = 0; j < MAX_KERNELS; j++) {
		km__free(bp->k[j].wy);
		km__free(bp->k[j].wx);
	}
	km__free(bp->bg);
	km__free(bp->ext);
	km__free(bp->t_mem);
	km__free(bp->rowbuf);
	km__free(bp);
}
