/* The virtual mat's sensor: per-cell power-law response, 12-bit ADC, drift,
 * creep, hysteresis, noise, dead/stuck cells and crosstalk
 * (docs/signal-model.md, Sensor imperfections). */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"
#include "sim_math.h"

/* ------------------------------------------------------------------------ */
/* Sensor                                                                    */
/* ------------------------------------------------------------------------ */

void km__sim_build_sensor(km_sim *s, struct km__sim_rng *rng)
{
	const struct km_sim_config *c = &s->cfg;
	for (size_t i = 0; i < s->n; i++) {
		s->off[i] = (float)(c->offset_counts + c->offset_sd * rng_normal(rng));
		if (s->off[i] < 0)
			s->off[i] = 0;
		double g = 1.0 + c->scale_sd * rng_normal(rng);
		s->scale[i] = (float)(c->scale * (g < 0.2 ? 0.2 : g));
		double e = c->exponent + c->exponent_sd * rng_normal(rng);
		s->expo[i] = (float)KM_CLAMP(e, 0.1, 3.0);
		/* per-cell drift spread +-50 % around the mean (est.), counts/s */
		s->drift[i] =
		    (float)(c->drift_counts_per_min / 60.0 * (1.0 + 0.5 * rng_normal(rng)));
	}
	/* faults: random distinct cells, then broken traces */
	uint32_t want[2] = {c->dead_cells, c->stuck_cells};
	for (int kind = 0; kind < 2; kind++) {
		for (uint32_t k = 0; k < want[kind]; k++) {
			for (int tries = 0; tries < 1000; tries++) {
				size_t i = (size_t)(rng_uniform(rng) * (double)s->n);
				if (i < s->n && s->fault[i] == 0) {
					s->fault[i] = (uint8_t)(kind + 1);
					break;
				}
			}
		}
	}
	for (size_t k = 0; k < c->dead_row_count; k++)
		for (size_t col = 0; col < c->cols; col++)
			s->fault[(size_t)c->dead_rows[k] * c->cols + col] = 1;
	for (size_t k = 0; k < c->dead_col_count; k++)
		for (size_t r = 0; r < c->rows; r++)
			s->fault[r * c->cols + c->dead_cols[k]] = 1;
	s->dead_count = s->stuck_count = 0;
	for (size_t i = 0; i < s->n; i++) {
		s->dead_count += s->fault[i] == 1;
		s->stuck_count += s->fault[i] == 2;
	}
}

/* ------------------------------------------------------------------------ */
/* Per frame: sensor                                                         */
/* ------------------------------------------------------------------------ */

/* Pass 1 of the sensor, branch-free so that the compiler vectorises it:
 * hysteresis (a peak that decays towards the load, read back in part), log-time
 * creep, then the per-cell power law. */
static void sensor_response(const float *restrict kpa, float *restrict hm, float *restrict cl,
                            float *restrict sig, const float *restrict scale,
                            const float *restrict expo, size_t n, float hd, float thr, float dt,
                            float creep_rec, float hyst, float creep_k, float inv_tau)
{
	for (size_t i = 0; i < n; i++) {
		float p = kpa[i];
		float m = p + (hm[i] - p) * hd;
		m = m > p ? m : p;
		hm[i] = m;
		float L = cl[i];
		float Lup = L + dt, Ldown = L * creep_rec;
		L = p > thr ? Lup : Ldown;
		cl[i] = L;
		float pe = (p + hyst * (m - p)) * (1 + creep_k * fast_log2(1 + L * inv_tau));
		float pc = pe > 1e-4f ? pe : 1e-4f;
		float sg = scale[i] * fast_pow(pc, expo[i]);
		sig[i] = pe > 1e-4f ? sg : 0.0f;
	}
}

void km__sim_run_sensor(km_sim *s, float dt)
{
	const struct km_sim_config *c = &s->cfg;
	const size_t rows = c->rows, cols = c->cols, n = s->n;
	const float full = (float)((1u << c->adc_bits) - 1u);
	const float hyst = c->hysteresis_pct / 100.0f;
	const float hd = expf(-dt / c->hysteresis_tau_s);
	const float thr = c->loaded_kpa;
	/* log-time creep: (creep_pct) reached after creep_ref_s of load */
	const float creep_k = c->creep_pct / 100.0f / log2f(1 + c->creep_ref_s / c->creep_tau_s);
	const float inv_tau = 1.0f / c->creep_tau_s;
	const float creep_rec = expf(-dt / 5.0f); /* recovers over ~5 s unloaded (est.) */
	const float xt = c->crosstalk_pct / 100.0f;
	const float tmin = (float)s->t_s;
	sensor_response(s->kpa, s->hyst, s->creep, s->sig, s->scale, s->expo, n, hd, thr, dt,
	                creep_rec, hyst, creep_k, inv_tau);
	const float *sig = s->sig;
	memset(s->colsum, 0, cols * sizeof(float));
	float total = 0;
	for (size_t r = 0; r < rows; r++) {
		const float *row = sig + r * cols;
		float rs = 0;
		for (size_t col = 0; col < cols; col++) {
			rs += row[col];
			s->colsum[col] += row[col];
		}
		s->rowsum[r] = rs;
		total += rs;
	}
	/* noise first (a serial generator), then pass 2 vectorises */
	const float noise = c->noise_counts;
	float *restrict nz = s->noise_buf;
	if (noise > 0)
		for (size_t i = 0; i < n; i++)
			nz[i] = noise * rng_fast_normal(&s->noise);
	else
		memset(nz, 0, n * sizeof(float));
	const float ghost = total > 0 ? xt / total : 0;
	const uint16_t stuck = c->stuck_value;
	uint16_t *restrict counts = s->counts;
	const uint8_t *restrict fault = s->fault;
	const float *restrict off = s->off, *restrict drift = s->drift,
	                      *restrict colsum = s->colsum;
	int sat = 0;
	for (size_t r = 0; r < rows; r++) {
		const float gr = ghost * s->rowsum[r];
		const size_t base = r * cols;
		for (size_t col = 0; col < cols; col++) {
			size_t i = base + col;
			float v = off[i] + drift[i] * tmin + sig[i] + gr * colsum[col] + nz[i];
			v = v < 0 ? 0 : (v > full ? full : v);
			uint16_t q = (uint16_t)(v + 0.5f);
			q = fault[i] == 1 ? 0 : (fault[i] == 2 ? stuck : q);
			sat |= q >= (uint16_t)full;
			counts[i] = q;
		}
	}
	s->saturated = sat != 0;
	/* the firmware's tare (hardware/firmware apply_zero): average N frames of
	 * counts, rounded; the frame that completes it is already zeroed */
	s->zeroing_frame = false;
	if (s->zero_left > 0) {
		for (size_t i = 0; i < s->n; i++)
			s->zero_acc[i] += s->counts[i];
		if (--s->zero_left == 0) {
			uint32_t z = s->zero_total;
			for (size_t i = 0; i < s->n; i++)
				s->baseline[i] = (uint16_t)((s->zero_acc[i] + z / 2u) / z);
			s->zeroed = true;
		} else {
			s->zeroing_frame = true;
		}
	}
	if (s->zeroed)
		for (size_t i = 0; i < s->n; i++)
			s->counts[i] = s->counts[i] > s->baseline[i]
			                   ? (uint16_t)(s->counts[i] - s->baseline[i])
			                   : 0;
}
