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

#define MAX_KERNELS (2 * KM_BANDPASS_MAX_SCALES + 1)

/* Gaussians are cut at 4 sigma: the dropped tail is < 7e-5 of the mass
 * before renormalisation, far below the 1 kPa resolution of a mat. */
#define TRUNC_SIGMAS 4.0

struct gauss {
	int h;    /* full half-width in cells */
	int hr;   /* taps used along rows (the row axis is always zero-padded) */
	int hc;   /* taps used along columns */
	float *w; /* [2h+1], unit sum; w[h] is the centre */
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
	/* normalised mode: one spectrum per single Gaussian, and a second
	 * forward spectrum (of the weights) */
	float *gspec[MAX_KERNELS];
	fftwf_complex *spec_w;
	float *acc; /* [rows x cols] */
	fftwf_plan fwd, inv;

	/* direct path */
	float *tmp, *b1, *b2, *ext, *pw;
};

struct km_bandpass_config km_bandpass_config_default(void)
{
	struct km_bandpass_config c;
	memset(&c, 0, sizeof c);
	c.pitch_mm = 10.0f;
	c.geometry = KM_GEOMETRY_FLAT;
	c.n_scales = 5;
	c.sigma_min_mm = 5.0f; /* signal-model.md: spot sigma 0.5-1.8 cm */
	c.sigma_max_mm = 18.0f;
	c.ratio = 1.6f;                /* classic DoG ratio (Marr-Hildreth) */
	c.background_sigma_mm = 35.0f; /* signal-model.md: background 3-4 cm */
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
	return KM_OK;
}

static int make_gauss(struct gauss *g, double sigma_cells, int rows, int cols, int periodic)
{
	double hd = ceil(TRUNC_SIGMAS * sigma_cells);
	g->h = hd < 1.0 ? 1 : (int)hd;
	g->w = km__calloc((size_t)(2 * g->h + 1), sizeof(float));
	if (!g->w)
		return KM_ERR_NO_MEMORY;
	double sum = 0.0;
	for (int k = -g->h; k <= g->h; k++)
		sum += exp(-0.5 * (double)k * (double)k / (sigma_cells * sigma_cells));
	for (int k = -g->h; k <= g->h; k++)
		g->w[k + g->h] =
		    (float)(exp(-0.5 * (double)k * (double)k / (sigma_cells * sigma_cells)) / sum);
	/* Taps at |k| >= size never reach a cell of a zero-padded axis. */
	g->hr = KM_MIN(g->h, rows - 1);
	g->hc = periodic ? g->h : KM_MIN(g->h, cols - 1);
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

/* Unit-sum 1-D kernel wrapped onto an axis of length n (taps |k| <= ht). */
static void wrap_axis(const struct gauss *g, int ht, int n, double *v)
{
	for (int i = 0; i < n; i++)
		v[i] = 0.0;
	for (int k = -ht; k <= ht; k++)
		v[((k % n) + n) % n] += g->w[k + g->h];
}

/* Flop estimates: r2c/c2r of N real points ~ 2.5 N log2 N (FFTW's split
 * radix count for real data); direct = multiply-add per tap per cell. */
static double cost_fft(const struct km_bandpass *bp, int nr, int nc)
{
	double n = (double)nr * (double)nc;
	double outs = (double)bp->n + (double)bp->has_bg;
	double fwd = 1.0;
	if (bp->cfg.normalized) {
		outs = 2.0 * (double)bp->nk; /* each Gaussian of data and of weights */
		fwd = 2.0;
	}
	return (fwd + outs) * 2.5 * n * log2(n > 2.0 ? n : 2.0) +
	       outs * (double)nr * (double)(nc / 2 + 1) * 2.0 + outs * n;
}

static double cost_direct(const struct km_bandpass *bp)
{
	double cells = (double)bp->rows * (double)bp->cols, c = 0.0;
	for (unsigned j = 0; j < bp->nk; j++)
		c += (bp->cfg.normalized ? 4.0 : 2.0) * cells *
		     (double)(2 * bp->k[j].hr + 1 + 2 * bp->k[j].hc + 1);
	return c + cells * (double)bp->n * 2.0;
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
	if (bp->cfg.normalized)
		bp->spec_w = fftwf_malloc(ncplx * sizeof(fftwf_complex));
	if (!bp->fin || !bp->fout || !bp->spec || !bp->work ||
	    (bp->cfg.normalized && !bp->spec_w)) {
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
		wrap_axis(gi, gi->hr, bp->nr, rv1);
		wrap_axis(gi, gi->hc, bp->nc, cv1);
		if (s < bp->n) {
			const struct gauss *go = &bp->k[2 * s + 1];
			wrap_axis(go, go->hr, bp->nr, rv2);
			wrap_axis(go, go->hc, bp->nc, cv2);
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
		wrap_axis(g, g->hr, bp->nr, rv1);
		wrap_axis(g, g->hc, bp->nc, cv1);
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
	size_t cells = (size_t)bp->rows * (size_t)bp->cols;
	int hmax = 0;
	for (unsigned j = 0; j < bp->nk; j++)
		hmax = KM_MAX(hmax, bp->k[j].hc);
	bp->tmp = km__calloc(cells, sizeof(float));
	bp->b1 = km__calloc(cells, sizeof(float));
	bp->b2 = km__calloc(cells, sizeof(float));
	bp->ext = km__calloc((size_t)bp->cols + 2 * (size_t)hmax, sizeof(float));
	if (bp->cfg.normalized)
		bp->pw = km__calloc(cells, sizeof(float));
	if (!bp->tmp || !bp->b1 || !bp->b2 || !bp->ext || (bp->cfg.normalized && !bp->pw))
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
	for (unsigned j = 0; j < bp->nk && rc == KM_OK; j++) {
		double s_mm = j == 2 * bp->n ? (double)cfg->background_sigma_mm
		                             : (double)bp->sigma_mm[j / 2] *
		                                   (j % 2 ? (double)cfg->ratio : 1.0);
		rc = make_gauss(&bp->k[j], s_mm / cfg->pitch_mm, bp->rows, bp->cols, bp->periodic);
	}
	if (rc == KM_OK && bp->has_bg) {
		bp->bg = km__calloc((size_t)bp->rows * (size_t)bp->cols, sizeof(float));
		if (!bp->bg)
			rc = KM_ERR_NO_MEMORY;
	}
	if (rc == KM_OK && cfg->normalized) {
		bp->acc = km__calloc((size_t)bp->rows * (size_t)bp->cols, sizeof(float));
		if (!bp->acc)
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
	bp->used = cfg->method;
	if (bp->used == KM_BANDPASS_AUTO)
		bp->used = cost_direct(bp) < cost_fft(bp, bp->nr, bp->nc) ? KM_BANDPASS_DIRECT
		                                                          : KM_BANDPASS_FFT;
	rc = bp->used == KM_BANDPASS_FFT ? setup_fft(bp) : setup_direct(bp);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, "dsp", "bandpass: setup failed (%s)",
		        km_error_name(rc));
		km_bandpass_destroy(bp);
		return rc;
	}
	km__log(&cfg->log, KM_LOG_DEBUG, "dsp", "bandpass %dx%d: %s (fft %dx%d)", bp->rows,
	        bp->cols, bp->used == KM_BANDPASS_FFT ? "fft" : "direct", bp->nr, bp->nc);
	*out = bp;
	return KM_OK;
}

static void exec_fft(km_bandpass *bp, const float *in, float *out)
{
	size_t C = (size_t)bp->cols, NC = (size_t)bp->nc;
	for (size_t r = 0; r < (size_t)bp->rows; r++) {
		memcpy(bp->fin + r * NC, in + r * C, C * sizeof(float));
		if (NC > C)
			memset(bp->fin + r * NC + C, 0, (NC - C) * sizeof(float));
	}
	if (bp->nr > bp->rows)
		memset(bp->fin + (size_t)bp->rows * NC, 0,
		       (size_t)(bp->nr - bp->rows) * NC * sizeof(float));
	fftwf_execute(bp->fwd);
	size_t ncplx = (size_t)bp->nr * (size_t)bp->nch;
	unsigned nspec = bp->n + (unsigned)bp->has_bg;
	for (unsigned s = 0; s < nspec; s++) {
		const float *k = bp->kspec[s];
		for (size_t i = 0; i < ncplx; i++) {
			bp->work[i][0] = bp->spec[i][0] * k[i];
			bp->work[i][1] = bp->spec[i][1] * k[i];
		}
		fftwf_execute(bp->inv);
		float *dst = s < bp->n ? out + (size_t)s * (size_t)bp->rows * C : bp->bg;
		for (size_t r = 0; r < (size_t)bp->rows; r++)
			memcpy(dst + r * C, bp->fout + r * NC, C * sizeof(float));
	}
}

/* Separable Gaussian blur of in into dst through bp->tmp. */
static void blur(km_bandpass *bp, const struct gauss *g, const float *in, float *dst)
{
	int R = bp->rows, C = bp->cols, hc = g->hc, hr = g->hr;
	const float *w = g->w + g->h; /* w[k], k in -h..h */
	float *ext = bp->ext;
	for (int r = 0; r < R; r++) {
		const float *row = in + (size_t)r * (size_t)C;
		for (int j = 0; j < C + 2 * hc; j++) {
			int c = j - hc;
			if (c >= 0 && c < C)
				ext[j] = row[c];
			else
				ext[j] = bp->periodic ? row[((c % C) + C) % C] : 0.0f;
		}
		float *t = bp->tmp + (size_t)r * (size_t)C;
		for (int c = 0; c < C; c++) {
			float acc = 0.0f;
			const float *e = ext + c + hc;
			for (int k = -hc; k <= hc; k++)
				acc += w[k] * e[k];
			t[c] = acc;
		}
	}
	memset(dst, 0, (size_t)R * (size_t)C * sizeof(float));
	for (int k = -hr; k <= hr; k++) {
		int r0 = KM_MAX(0, -k), r1 = KM_MIN(R, R - k);
		for (int r = r0; r < r1; r++) {
			float *d = dst + (size_t)r * (size_t)C;
			const float *s = bp->tmp + (size_t)(r + k) * (size_t)C;
			for (int c = 0; c < C; c++)
				d[c] += w[k] * s[c];
		}
	}
}

static void exec_direct(km_bandpass *bp, const float *in, float *out)
{
	size_t cells = (size_t)bp->rows * (size_t)bp->cols;
	for (unsigned s = 0; s < bp->n; s++) {
		blur(bp, &bp->k[2 * s], in, bp->b1);
		blur(bp, &bp->k[2 * s + 1], in, bp->b2);
		float *o = out + (size_t)s * cells;
		for (size_t i = 0; i < cells; i++)
			o[i] = bp->gain * (bp->b1[i] - bp->b2[i]);
	}
	if (bp->has_bg)
		blur(bp, &bp->k[2 * bp->n], in, bp->bg);
}

/* One Gaussian (kernel j) of the spectrum in `sp` back to the grid, into dst. */
static void fft_gauss(km_bandpass *bp, const fftwf_complex *sp, unsigned j, float *dst)
{
	size_t ncplx = (size_t)bp->nr * (size_t)bp->nch, C = (size_t)bp->cols;
	const float *k = bp->gspec[j];
	for (size_t i = 0; i < ncplx; i++) {
		bp->work[i][0] = sp[i][0] * k[i];
		bp->work[i][1] = sp[i][1] * k[i];
	}
	fftwf_execute(bp->inv);
	for (size_t r = 0; r < (size_t)bp->rows; r++)
		memcpy(dst + r * C, bp->fout + r * (size_t)bp->nc, C * sizeof(float));
}

/* Weighted average a/w where there is data, 0 elsewhere. The weights' blur
 * is at least the centre tap times the cell's own weight inside the data. */
static inline float ratio(float a, float w)
{
	return w > 1e-6f ? a / w : 0.0f;
}

static void load_fin(km_bandpass *bp, const float *in, const float *w)
{
	size_t C = (size_t)bp->cols, NC = (size_t)bp->nc;
	memset(bp->fin, 0, (size_t)bp->nr * NC * sizeof(float));
	for (size_t r = 0; r < (size_t)bp->rows; r++)
		for (size_t c = 0; c < C; c++)
			bp->fin[r * NC + c] = in ? in[r * C + c] * w[r * C + c] : w[r * C + c];
}

int km_bandpass_execute_masked(km_bandpass *bp, const float *in, const float *weight, float *out)
{
	if (!bp || !in || !weight || !out || in == out || weight == out)
		return KM_ERR_INVALID_ARG;
	if (!bp->cfg.normalized)
		return KM_ERR_STATE;
	size_t cells = (size_t)bp->rows * (size_t)bp->cols;
	float *a = bp->acc, *o;
	if (bp->used == KM_BANDPASS_FFT) {
		load_fin(bp, in, weight);
		fftwf_execute_dft_r2c(bp->fwd, bp->fin, bp->spec);
		load_fin(bp, NULL, weight);
		fftwf_execute_dft_r2c(bp->fwd, bp->fin, bp->spec_w);
		for (unsigned j = 0; j < bp->nk; j++) {
			/* data blur -> acc; weight blur stays in fout */
			o = j == 2 * bp->n ? bp->bg : out + (size_t)(j / 2) * cells;
			fft_gauss(bp, bp->spec, j, a);
			size_t ncplx = (size_t)bp->nr * (size_t)bp->nch;
			const float *k = bp->gspec[j];
			for (size_t i = 0; i < ncplx; i++) {
				bp->work[i][0] = bp->spec_w[i][0] * k[i];
				bp->work[i][1] = bp->spec_w[i][1] * k[i];
			}
			fftwf_execute(bp->inv);
			for (size_t r = 0; r < (size_t)bp->rows; r++)
				for (size_t c = 0; c < (size_t)bp->cols; c++) {
					size_t i = r * (size_t)bp->cols + c;
					float v = ratio(a[i], bp->fout[r * (size_t)bp->nc + c]);
					if (j == 2 * bp->n || j % 2 == 0)
						o[i] = v;
					else
						o[i] = bp->gain * (o[i] - v);
				}
		}
	} else {
		for (size_t i = 0; i < cells; i++)
			bp->pw[i] = in[i] * weight[i];
		for (unsigned j = 0; j < bp->nk; j++) {
			o = j == 2 * bp->n ? bp->bg : out + (size_t)(j / 2) * cells;
			blur(bp, &bp->k[j], bp->pw, bp->b1);
			blur(bp, &bp->k[j], weight, bp->b2);
			for (size_t i = 0; i < cells; i++) {
				float v = ratio(bp->b1[i], bp->b2[i]);
				if (j == 2 * bp->n || j % 2 == 0)
					o[i] = v;
				else
					o[i] = bp->gain * (o[i] - v);
			}
		}
	}
	/* No data, no response. */
	for (unsigned s = 0; s < bp->n; s++)
		for (size_t i = 0; i < cells; i++)
			if (!(weight[i] > 0.0f))
				out[(size_t)s * cells + i] = 0.0f;
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
	if (bp && bp->bg)
		memset(bp->bg, 0, (size_t)bp->rows * (size_t)bp->cols * sizeof(float));
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
	fftwf_free(bp->spec_w);
	km__fftw_unlock();
	for (unsigned s = 0; s <= KM_BANDPASS_MAX_SCALES; s++)
		km__free(bp->kspec[s]);
	for (unsigned j = 0; j < MAX_KERNELS; j++)
		km__free(bp->gspec[j]);
	km__free(bp->acc);
	km__free(bp->pw);
	for (unsigned j = 0; j < MAX_KERNELS; j++)
		km__free(bp->k[j].w);
	km__free(bp->bg);
	km__free(bp->tmp);
	km__free(bp->b1);
	km__free(bp->b2);
	km__free(bp->ext);
	km__free(bp);
}
