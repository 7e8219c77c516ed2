/* Welch cross-spectral estimator by direct DFT at the band's bins; see
 * knotmap/stiffness.h for why not FFTW. Welch 1967; Hann window (periodic). */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/stiffness.h"

#define MOD "welch"
#define PI 3.14159265358979323846

/* One open segment: DFT accumulators at the nb bins. */
struct seg {
	bool open;
	uint32_t n; /* samples so far */
	double sx, sy;
	double *xr, *xi, *yr, *yi; /* [nb] each */
};

struct km_welch {
	struct km_welch_config cfg;
	uint32_t N, hop, nslots, kmax; /* segment length, hop, open slots, stored segs */
	uint32_t k_lo, k_hi;           /* band bins */
	uint32_t kb0, nb;              /* computed bins: kb0 .. kb0 + nb - 1 */
	float *cos_t, *sin_t, *win;    /* [N] */
	double *wr, *wi;               /* [nb] DFT of the window (for mean removal) */
	double win_ss;                 /* sum w^2 */
	struct seg *slots;             /* [nslots] */
	double *slot_mem;
	double *store; /* [kmax][nb][4]: |X|^2, |Y|^2, Re, Im of conj(X) Y */
	uint32_t nstored, head;
	uint64_t samples;
};

struct km_welch_config km_welch_config_default(void)
{
	struct km_welch_config c;
	memset(&c, 0, sizeof(c));
	c.sample_rate_hz = 100.0f; /* docs/signal-model.md default frame rate */
	c.segment_s = 16.0f;       /* docs/signal-model.md: 16-20 s */
	c.overlap = 0.5f;          /* docs/signal-model.md: 50 % */
	c.window_s = 48.0f;        /* docs/signal-model.md: 40-60 s */
	c.f_lo_hz = 0.1f;          /* docs/signal-model.md breathing search band */
	c.f_hi_hz = 0.5f;
	c.smooth_bins = 1;
	return c;
}

static bool fin(float v)
{
	return isfinite(v);
}

static int check_config(const struct km_welch_config *c)
{
	if (!fin(c->sample_rate_hz) || !fin(c->segment_s) || !fin(c->overlap) ||
	    !fin(c->window_s) || !fin(c->f_lo_hz) || !fin(c->f_hi_hz))
		return KM_ERR_INVALID_ARG;
	if (c->sample_rate_hz < 1.0f || c->sample_rate_hz > 10000.0f || c->segment_s <= 0.0f ||
	    c->overlap < 0.0f || c->overlap > 0.9f || c->window_s < c->segment_s ||
	    c->window_s > 600.0f || c->f_lo_hz <= 0.0f || c->f_hi_hz <= c->f_lo_hz ||
	    c->f_hi_hz >= 0.5f * c->sample_rate_hz || c->smooth_bins > 4)
		return KM_ERR_RANGE;
	double n = (double)c->segment_s * c->sample_rate_hz;
	if (n < 8.0 || n > 1e6)
		return KM_ERR_RANGE;
	return KM_OK;
}

int km_welch_create(const struct km_welch_config *cfg, km_welch **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "bad config: %s", km_strerror(rc));
		return rc;
	}
	double fs = cfg->sample_rate_hz;
	uint32_t N = (uint32_t)lround((double)cfg->segment_s * fs);
	uint32_t hop = (uint32_t)lround(N * (1.0 - (double)cfg->overlap));
	if (hop < 1)
		hop = 1;
	uint32_t k_lo = (uint32_t)ceil((double)cfg->f_lo_hz * N / fs - 1e-9);
	uint32_t k_hi = (uint32_t)floor((double)cfg->f_hi_hz * N / fs + 1e-9);
	if (k_lo < 1)
		k_lo = 1;
	if (k_hi >= N / 2)
		k_hi = N / 2 - 1;
	if (k_lo > k_hi) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "band holds no bin of a %u-point segment", N);
		return KM_ERR_RANGE;
	}
	uint32_t kb0 = k_lo > cfg->smooth_bins ? k_lo - cfg->smooth_bins : 1;
	uint32_t kb1 = KM_MIN(k_hi + cfg->smooth_bins, N / 2 - 1);
	uint32_t nb = kb1 - kb0 + 1;
	uint32_t win_n = (uint32_t)lround((double)cfg->window_s * fs);

	km_welch *w = km__calloc(1, sizeof(*w));
	if (!w)
		return KM_ERR_NO_MEMORY;
	w->cfg = *cfg;
	w->N = N;
	w->hop = hop;
	w->nslots = (N + hop - 1) / hop;
	w->kmax = (win_n - N) / hop + 1;
	w->k_lo = k_lo;
	w->k_hi = k_hi;
	w->kb0 = kb0;
	w->nb = nb;
	w->cos_t = km__calloc(N, sizeof(float));
	w->sin_t = km__calloc(N, sizeof(float));
	w->win = km__calloc(N, sizeof(float));
	w->wr = km__calloc(nb, sizeof(double));
	w->wi = km__calloc(nb, sizeof(double));
	w->slots = km__calloc(w->nslots, sizeof(*w->slots));
	size_t slot_doubles, store_doubles;
	bool ok = km__mul_size((size_t)w->nslots * 4, nb, &slot_doubles) &&
	          km__mul_size((size_t)w->kmax * 4, nb, &store_doubles);
	w->slot_mem = ok ? km__calloc(slot_doubles, sizeof(double)) : NULL;
	w->store = ok ? km__calloc(store_doubles, sizeof(double)) : NULL;
	if (!w->cos_t || !w->sin_t || !w->win || !w->wr || !w->wi || !w->slots || !w->slot_mem ||
	    !w->store) {
		km_welch_destroy(w);
		return KM_ERR_NO_MEMORY;
	}
	w->win_ss = 0.0;
	for (uint32_t n = 0; n < N; n++) {
		double ph = 2.0 * PI * n / N;
		w->cos_t[n] = (float)cos(ph);
		w->sin_t[n] = (float)sin(ph);
		double hw = 0.5 - 0.5 * cos(ph); /* periodic Hann */
		w->win[n] = (float)hw;
		w->win_ss += hw * hw;
	}
	for (uint32_t b = 0; b < nb; b++) {
		uint64_t k = kb0 + b;
		for (uint32_t n = 0; n < N; n++) {
			uint32_t idx = (uint32_t)((k * n) % N);
			w->wr[b] += (double)w->win[n] * w->cos_t[idx];
			w->wi[b] -= (double)w->win[n] * w->sin_t[idx];
		}
	}
	for (uint32_t s = 0; s < w->nslots; s++) {
		double *m = w->slot_mem + (size_t)s * 4 * nb;
		w->slots[s].xr = m;
		w->slots[s].xi = m + nb;
		w->slots[s].yr = m + 2 * nb;
		w->slots[s].yi = m + 3 * nb;
	}
	*out = w;
	return KM_OK;
}

void km_welch_reset(km_welch *w)
{
	if (!w)
		return;
	for (uint32_t s = 0; s < w->nslots; s++)
		w->slots[s].open = false;
	w->nstored = w->head = 0;
	w->samples = 0;
}

void km_welch_destroy(km_welch *w)
{
	if (!w)
		return;
	km__free(w->cos_t);
	km__free(w->sin_t);
	km__free(w->win);
	km__free(w->wr);
	km__free(w->wi);
	km__free(w->slots);
	km__free(w->slot_mem);
	km__free(w->store);
	km__free(w);
}

uint32_t km_welch_segments(const km_welch *w)
{
	return w ? w->nstored : 0;
}

static void finish(km_welch *w, struct seg *s)
{
	double mx = s->sx / w->N, my = s->sy / w->N;
	double *dst = w->store + (size_t)w->head * 4 * w->nb;
	for (uint32_t b = 0; b < w->nb; b++) {
		/* DFT of (x - mean) w = DFT(x w) - mean DFT(w). */
		double xr = s->xr[b] - mx * w->wr[b], xi = s->xi[b] - mx * w->wi[b];
		double yr = s->yr[b] - my * w->wr[b], yi = s->yi[b] - my * w->wi[b];
		dst[4 * b + 0] = xr * xr + xi * xi;
		dst[4 * b + 1] = yr * yr + yi * yi;
		dst[4 * b + 2] = xr * yr + xi * yi; /* conj(X) Y */
		dst[4 * b + 3] = xr * yi - xi * yr;
	}
	w->head = (w->head + 1) % w->kmax;
	if (w->nstored < w->kmax)
		w->nstored++;
	s->open = false;
}

int km_welch_push(km_welch *w, float x, float y, bool *segment_done)
{
	if (segment_done)
		*segment_done = false;
	if (!w)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(x) || !isfinite(y))
		return KM_ERR_NONFINITE;
	if (w->samples % w->hop == 0) {
		/* Segment j starts at sample j * hop in slot j mod nslots, which the
		 * segment j - nslots left at (j - nslots) * hop + N <= j * hop. */
		struct seg *s = &w->slots[(w->samples / w->hop) % w->nslots];
		s->open = true;
		s->n = 0;
		s->sx = s->sy = 0.0;
		memset(s->xr, 0, 4 * w->nb * sizeof(double));
	}
	w->samples++;
	bool done = false;
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct seg *s = &w->slots[i];
		if (!s->open)
			continue;
		double wn = w->win[s->n];
		double xw = x * wn, yw = y * wn;
		/* Twiddle index (k n) mod N for k = kb0, kb0 + 1, ...: one modulo, then
		 * steps of n (< N). */
		uint32_t n = s->n;
		uint32_t idx = (uint32_t)(((uint64_t)w->kb0 * n) % w->N);
		for (uint32_t b = 0; b < w->nb; b++) {
			double c = w->cos_t[idx], sn = w->sin_t[idx];
			idx += n;
			if (idx >= w->N)
				idx -= w->N;
			s->xr[b] += xw * c;
			s->xi[b] -= xw * sn;
			s->yr[b] += yw * c;
			s->yi[b] -= yw * sn;
		}
		s->sx += x;
		s->sy += y;
		if (++s->n == w->N) {
			finish(w, s);
			done = true;
		}
	}
	if (segment_done)
		*segment_done = done;
	return KM_OK;
}

/* Sums of the stored spectra at computed bin b: out[0..3]. */
static void bin_sums(const km_welch *w, uint32_t b, double out[4])
{
	out[0] = out[1] = out[2] = out[3] = 0.0;
	for (uint32_t j = 0; j < w->nstored; j++) {
		const double *p = w->store + (size_t)j * 4 * w->nb + 4 * b;
		for (int q = 0; q < 4; q++)
			out[q] += p[q];
	}
}

static void fill(const km_welch *w, uint32_t k, struct km_welch_result *out)
{
	double acc[4] = {0, 0, 0, 0}, t[4];
	uint32_t s = w->cfg.smooth_bins, nbins = 0;
	for (uint32_t kk = (k > s ? k - s : 0); kk <= k + s; kk++) {
		if (kk < w->kb0 || kk >= w->kb0 + w->nb)
			continue;
		bin_sums(w, kk - w->kb0, t);
		for (int q = 0; q < 4; q++)
			acc[q] += t[q];
		nbins++;
	}
	/* One-sided PSD: 2 |X|^2 / (fs sum w^2), averaged over segments and bins. */
	double scale = 2.0 / ((double)w->cfg.sample_rate_hz * w->win_ss * w->nstored * nbins);
	double pxx = acc[0] * scale, pyy = acc[1] * scale;
	double cre = acc[2] * scale, cim = acc[3] * scale;
	double mag2 = cre * cre + cim * cim;
	memset(out, 0, sizeof(*out));
	out->freq_hz = (float)((double)k * w->cfg.sample_rate_hz / w->N);
	out->pxx = (float)pxx;
	out->pyy = (float)pyy;
	out->pxy_re = (float)cre;
	out->pxy_im = (float)cim;
	out->gain = pxx > 0.0 ? (float)(sqrt(mag2) / pxx) : 0.0f;
	out->phase_rad = (float)atan2(cim, cre);
	out->coherence = (pxx > 0.0 && pyy > 0.0) ? (float)KM_MIN(mag2 / (pxx * pyy), 1.0) : 0.0f;
	out->segments = w->nstored;
}

int km_welch_estimate(const km_welch *w, struct km_welch_result *out)
{
	if (!w || !out)
		return KM_ERR_INVALID_ARG;
	if (w->nstored == 0)
		return KM_ERR_STATE;
	uint32_t best = w->k_lo;
	double best_p = -1.0, t[4];
	for (uint32_t k = w->k_lo; k <= w->k_hi; k++) {
		bin_sums(w, k - w->kb0, t);
		if (t[0] > best_p) {
			best_p = t[0];
			best = k;
		}
	}
	fill(w, best, out);
	return KM_OK;
}

int km_welch_estimate_at(const km_welch *w, float f_hz, struct km_welch_result *out)
{
	if (!w || !out || !isfinite(f_hz))
		return KM_ERR_INVALID_ARG;
	double kf = (double)f_hz * w->N / w->cfg.sample_rate_hz;
	if (kf < 0.0 || kf > (double)UINT32_MAX)
		return KM_ERR_RANGE;
	uint32_t k = (uint32_t)lround(kf);
	if (k < w->k_lo || k > w->k_hi)
		return KM_ERR_RANGE;
	if (w->nstored == 0)
		return KM_ERR_STATE;
	fill(w, k, out);
	return KM_OK;
}
