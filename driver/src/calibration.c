/* Calibration: raw counts -> kPa per cell, zeroing, creep correction. */
#include "knotmap/calibration.h"
#include "knotmap/outfile.h"
#include "calibration_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/protocol.h"

#define MOD "calibration"

/* File layout, version 1 (docs/calibration-format.md). */
static const uint8_t cal_magic[8] = {'K', 'M', 'C', 'A', 'L', 'I', 'B', 0};
#define CAL_VERSION 1
#define CAL_HEADER_LEN 24
#define CAL_CRC_LEN 4

struct km_calibration {
	struct km_calibration_config cfg;
	size_t cells;
	enum km_calibration_model model;
	unsigned points;
	/* power law: a = offset, b = scale, c = exponent; curve: unused. */
	float *a, *b, *c;
	/* curve: [cells x points] counts and kpa. */
	float *cx, *cy;
	/* zero: counts subtracted from raw before the model (0 = factory). */
	float *zero_shift;
	double *zero_acc;
	unsigned zero_left;
	/* crosstalk: scratch for row and column sums, corrected counts */
	float *rowsum, *colsum, *counts;
	/* creep: per cell, seconds under load (relaxing once unloaded). */
	float *creep_l;
	float *peak; /* hysteresis: recent peak of the true pressure, kPa */
	uint64_t last_t_us;
	bool have_t;
};

const struct km_log *km__calibration_log(const km_calibration *cal)
{
	return &cal->cfg.log;
}

struct km_calibration_config km_calibration_config_default(uint16_t rows, uint16_t cols)
{
	struct km_calibration_config c;
	memset(&c, 0, sizeof c);
	c.rows = rows;
	c.cols = cols;
	c.max_counts = 4095;
	c.zero_frames = 8;
	c.creep_coeff = 0.19f / 1.78533f; /* 19 % at 60 s: log10(61) = 1.78533 */
	c.creep_tau_s = 1.0f;
	c.creep_recovery_s = 5.0f;
	c.load_threshold_kpa = 0.5f;
	c.hysteresis_tau_s = 2.0f;
	return c;
}

static int check_config(const struct km_calibration_config *cfg)
{
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	if (cfg->rows == 0 || cfg->cols == 0 || cfg->rows > KM_FRAME_MAX_DIM ||
	    cfg->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (cfg->max_counts == 0 || cfg->zero_frames < 1 || cfg->zero_frames > 1000)
		return KM_ERR_RANGE;
	if (!isfinite(cfg->creep_coeff) || cfg->creep_coeff < 0.0f || cfg->creep_coeff > 1.0f ||
	    !isfinite(cfg->creep_tau_s) || cfg->creep_tau_s <= 0.0f ||
	    !isfinite(cfg->load_threshold_kpa) || cfg->load_threshold_kpa < 0.0f ||
	    !isfinite(cfg->creep_recovery_s) || cfg->creep_recovery_s <= 0.0f ||
	    !isfinite(cfg->crosstalk) || cfg->crosstalk < 0.0f || cfg->crosstalk > 0.5f ||
	    !isfinite(cfg->hysteresis) || cfg->hysteresis < 0.0f || cfg->hysteresis > 0.5f ||
	    !isfinite(cfg->hysteresis_tau_s) || cfg->hysteresis_tau_s <= 0.0f)
		return KM_ERR_RANGE;
	return KM_OK;
}

void km_calibration_destroy(km_calibration *cal)
{
	if (!cal)
		return;
	km__free(cal->a);
	km__free(cal->b);
	km__free(cal->c);
	km__free(cal->cx);
	km__free(cal->cy);
	km__free(cal->zero_shift);
	km__free(cal->zero_acc);
	km__free(cal->creep_l);
	km__free(cal->peak);
	km__free(cal->rowsum);
	km__free(cal->colsum);
	km__free(cal->counts);
	km__free(cal);
}

int km_calibration_create(const struct km_calibration_config *cfg, km_calibration **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	int rc = check_config(cfg);
	if (rc != KM_OK)
		return rc;
	km_calibration *cal = km__calloc(1, sizeof *cal);
	if (!cal)
		return KM_ERR_NO_MEMORY;
	cal->cfg = *cfg;
	cal->cells = (size_t)cfg->rows * cfg->cols;
	size_t n = cal->cells;
	cal->a = km__calloc(n, sizeof *cal->a);
	cal->b = km__calloc(n, sizeof *cal->b);
	cal->c = km__calloc(n, sizeof *cal->c);
	cal->zero_shift = km__calloc(n, sizeof *cal->zero_shift);
	cal->zero_acc = km__calloc(n, sizeof *cal->zero_acc);
	cal->creep_l = km__calloc(n, sizeof *cal->creep_l);
	cal->peak = km__calloc(n, sizeof *cal->peak);
	cal->rowsum = km__calloc(cfg->rows, sizeof *cal->rowsum);
	cal->colsum = km__calloc(cfg->cols, sizeof *cal->colsum);
	cal->counts = km__calloc(n, sizeof *cal->counts);
	if (!cal->a || !cal->b || !cal->c || !cal->zero_shift || !cal->zero_acc || !cal->creep_l ||
	    !cal->peak || !cal->rowsum || !cal->colsum || !cal->counts) {
		km_calibration_destroy(cal);
		return KM_ERR_NO_MEMORY;
	}
	cal->model = KM_CAL_POWER_LAW;
	for (size_t i = 0; i < n; i++) {
		cal->b[i] = 1.0f;
		cal->c[i] = 1.0f;
	}
	*out = cal;
	return KM_OK;
}

int km_calibration_reset(km_calibration *cal)
{
	if (!cal)
		return KM_ERR_INVALID_ARG;
	memset(cal->zero_shift, 0, cal->cells * sizeof *cal->zero_shift);
	memset(cal->zero_acc, 0, cal->cells * sizeof *cal->zero_acc);
	memset(cal->creep_l, 0, cal->cells * sizeof *cal->creep_l);
	memset(cal->peak, 0, cal->cells * sizeof *cal->peak);
	cal->zero_left = 0;
	cal->have_t = false;
	return KM_OK;
}

enum km_calibration_model km_calibration_model(const km_calibration *cal)
{
	return cal ? cal->model : KM_CAL_POWER_LAW;
}

static int check_power(const struct km_log *log, size_t i, float a, float b, float c)
{
	if (!isfinite(a) || !isfinite(b) || !isfinite(c) || b <= 0.0f || c < 0.05f || c > 20.0f) {
		km__log(log, KM_LOG_ERROR, MOD,
		        "cell %zu: bad power law (offset %g, scale %g, exponent %g): scale must "
		        "be > 0 and exponent in [0.05, 20]",
		        i, (double)a, (double)b, (double)c);
		return KM_ERR_CALIBRATION;
	}
	return KM_OK;
}

int km_calibration_set_power_law(km_calibration *cal, const float *offset, const float *scale,
                                 const float *exponent, size_t n)
{
	if (!cal || !offset || !scale || !exponent)
		return KM_ERR_INVALID_ARG;
	if (n != cal->cells)
		return KM_ERR_SHAPE;
	for (size_t i = 0; i < n; i++) {
		int rc = check_power(&cal->cfg.log, i, offset[i], scale[i], exponent[i]);
		if (rc != KM_OK)
			return rc;
	}
	memcpy(cal->a, offset, n * sizeof *offset);
	memcpy(cal->b, scale, n * sizeof *scale);
	memcpy(cal->c, exponent, n * sizeof *exponent);
	km__free(cal->cx);
	km__free(cal->cy);
	cal->cx = cal->cy = NULL;
	cal->points = 0;
	cal->model = KM_CAL_POWER_LAW;
	return km_calibration_reset(cal);
}

static int check_curve(const struct km_log *log, size_t cell, unsigned points, const float *x,
                       const float *y)
{
	for (unsigned k = 0; k < points; k++) {
		if (!isfinite(x[k]) || !isfinite(y[k]) || y[k] < 0.0f) {
			km__log(log, KM_LOG_ERROR, MOD,
			        "cell %zu point %u: counts %g / kPa %g not finite or negative kPa",
			        cell, k, (double)x[k], (double)y[k]);
			return KM_ERR_CALIBRATION;
		}
		if (k > 0 && (x[k] <= x[k - 1] || y[k] <= y[k - 1])) {
			km__log(log, KM_LOG_ERROR, MOD,
			        "cell %zu: curve not strictly increasing at point %u "
			        "(counts %g -> %g, kPa %g -> %g)",
			        cell, k, (double)x[k - 1], (double)x[k], (double)y[k - 1],
			        (double)y[k]);
			return KM_ERR_CALIBRATION;
		}
	}
	return KM_OK;
}

int km_calibration_set_curve(km_calibration *cal, unsigned points, const float *counts,
                             const float *kpa, size_t n)
{
	if (!cal || !counts || !kpa)
		return KM_ERR_INVALID_ARG;
	if (n != cal->cells)
		return KM_ERR_SHAPE;
	if (points < 2 || points > KM_CAL_MAX_POINTS)
		return KM_ERR_RANGE;
	for (size_t i = 0; i < n; i++) {
		int rc =
		    check_curve(&cal->cfg.log, i, points, counts + i * points, kpa + i * points);
		if (rc != KM_OK)
			return rc;
	}
	float *x = km__calloc(n * points, sizeof *x);
	float *y = km__calloc(n * points, sizeof *y);
	if (!x || !y) {
		km__free(x);
		km__free(y);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(x, counts, n * points * sizeof *x);
	memcpy(y, kpa, n * points * sizeof *y);
	km__free(cal->cx);
	km__free(cal->cy);
	cal->cx = x;
	cal->cy = y;
	cal->points = points;
	cal->model = KM_CAL_CURVE;
	return km_calibration_reset(cal);
}

/* Counts -> kPa for one cell, before creep; >= 0. */
static float model_kpa(const km_calibration *cal, size_t i, float counts)
{
	if (cal->model == KM_CAL_POWER_LAW) {
		float d = counts - cal->a[i];
		if (d <= 0.0f)
			return 0.0f;
		return powf(d / cal->b[i], 1.0f / cal->c[i]);
	}
	const float *x = cal->cx + i * cal->points;
	const float *y = cal->cy + i * cal->points;
	unsigned k = 1;
	while (k + 1 < cal->points && counts > x[k])
		k++;
	/* Linear within [x[k-1], x[k]], extended by the end segments outside. */
	float p = y[k - 1] + (counts - x[k - 1]) * (y[k] - y[k - 1]) / (x[k] - x[k - 1]);
	return p > 0.0f ? p : 0.0f;
}

/* Counts of an unloaded cell under the factory model. */
static float model_zero_counts(const km_calibration *cal, size_t i)
{
	if (cal->model == KM_CAL_POWER_LAW)
		return cal->a[i];
	const float *x = cal->cx + i * cal->points;
	const float *y = cal->cy + i * cal->points;
	if (y[0] <= 0.0f)
		return x[0];
	/* Extend the first segment down to 0 kPa. */
	return x[0] - y[0] * (x[1] - x[0]) / (y[1] - y[0]);
}

int km_calibration_zero(km_calibration *cal)
{
	if (!cal)
		return KM_ERR_INVALID_ARG;
	memset(cal->zero_acc, 0, cal->cells * sizeof *cal->zero_acc);
	cal->zero_left = cal->cfg.zero_frames;
	return KM_OK;
}

bool km_calibration_zero_pending(const km_calibration *cal)
{
	return cal && cal->zero_left > 0;
}

static void zero_feed(km_calibration *cal, const uint16_t *raw)
{
	for (size_t i = 0; i < cal->cells; i++)
		cal->zero_acc[i] += raw[i];
	if (--cal->zero_left > 0)
		return;
	size_t kept = 0;
	double nf = cal->cfg.zero_frames;
	for (size_t i = 0; i < cal->cells; i++) {
		float mean = (float)(cal->zero_acc[i] / nf);
		/* A cell that reads as loaded under the current offsets keeps them:
		 * zeroing must never turn a static hold into the new zero. */
		if (model_kpa(cal, i, mean - cal->zero_shift[i]) > cal->cfg.load_threshold_kpa) {
			kept++;
			continue;
		}
		cal->zero_shift[i] = mean - model_zero_counts(cal, i);
	}
	if (kept)
		km__log(&cal->cfg.log, KM_LOG_WARN, MOD,
		        "zero: %zu loaded cells kept their previous offset (unload the mat to "
		        "zero them)",
		        kept);
}

/*
 * Ghosting in a passive matrix: the sensor adds x * R_r * C_c / T to cell
 * (r, c), R, C, T being the row, column and total sums of the true signal.
 * The observed sums are (1 + x) times the true ones, so the added term is
 * x * R'_r * C'_c / (T' * (1 + x)) in observed sums: exact, one extra pass.
 */
static void remove_crosstalk(km_calibration *cal)
{
	const size_t rows = cal->cfg.rows, cols = cal->cfg.cols;
	memset(cal->rowsum, 0, rows * sizeof *cal->rowsum);
	memset(cal->colsum, 0, cols * sizeof *cal->colsum);
	double total = 0.0;
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < cols; c++) {
			size_t i = r * cols + c;
			float sig = cal->counts[i] - model_zero_counts(cal, i);
			if (sig <= 0.0f)
				continue;
			cal->rowsum[r] += sig;
			cal->colsum[c] += sig;
			total += sig;
		}
	}
	/* Below a count of signal in the whole frame there is no ghosting worth
	 * removing, and 1/total would overflow a float (found by fuzzing). */
	if (total < 1.0)
		return;
	const double x = cal->cfg.crosstalk;
	const double g = x / (total * (1.0 + x));
	for (size_t r = 0; r < rows; r++) {
		double gr = g * cal->rowsum[r];
		for (size_t c = 0; c < cols; c++)
			cal->counts[r * cols + c] -= (float)(gr * cal->colsum[c]);
	}
}

int km_calibration_apply(km_calibration *cal, const uint16_t *raw, uint64_t t_us, bool creep,
                         float *kpa, uint32_t *flags)
{
	if (!cal || !raw || !kpa)
		return KM_ERR_INVALID_ARG;
	if (cal->zero_left > 0)
		zero_feed(cal, raw);
	bool saturated = false;
	bool do_creep = creep && cal->cfg.creep_coeff > 0.0f;
	/* Frame interval; a gap (pause, reconnect) counts as at most 1 s. */
	float dt = 0.0f;
	if (cal->have_t && t_us > cal->last_t_us)
		dt = (float)KM_MIN((double)(t_us - cal->last_t_us) * 1e-6, 1.0);
	cal->last_t_us = t_us;
	cal->have_t = true;
	const float thr = cal->cfg.load_threshold_kpa;
	const float inv_tau = 1.0f / cal->cfg.creep_tau_s;
	const float k = cal->cfg.creep_coeff;
	const float relax = expf(-dt / cal->cfg.creep_recovery_s);
	const float hyst = creep ? cal->cfg.hysteresis : 0.0f;
	const float hd = expf(-dt / cal->cfg.hysteresis_tau_s);
	const float a_h = hyst * hd;
	for (size_t i = 0; i < cal->cells; i++)
		cal->counts[i] = (float)raw[i] - cal->zero_shift[i];
	if (cal->cfg.crosstalk > 0.0f)
		remove_crosstalk(cal);
	for (size_t i = 0; i < cal->cells; i++) {
		if (raw[i] >= cal->cfg.max_counts)
			saturated = true;
		float p = model_kpa(cal, i, cal->counts[i]);
		if (!isfinite(p))
			p = 0.0f; /* a degenerate curve must not poison the creep/peak state */
		if (do_creep) {
			float l = cal->creep_l[i];
			/* The reading includes creep: the cell is loaded if even the
			 * corrected value is above the threshold. */
			float g = 1.0f + k * log10f(1.0f + l * inv_tau);
			l = p / g > thr ? l + dt : l * relax;
			cal->creep_l[i] = l;
			if (l > 1e-3f)
				p /= 1.0f + k * log10f(1.0f + l * inv_tau);
		}
		if (hyst > 0.0f) {
			/* Rising: reads true and sets the peak. Falling: the reading
			 * is p + a * (m - p), a = h * exp(-dt / tau); solve for p. */
			float m = cal->peak[i];
			if (p < m) {
				p = (p - a_h * m) / (1.0f - a_h);
				if (p < 0.0f)
					p = 0.0f;
				m = p + (m - p) * hd;
			} else {
				m = p;
			}
			cal->peak[i] = m;
		}
		/* Whatever a calibration file holds, never hand out NaN or inf. */
		kpa[i] = isfinite(p) && p > 0.0f ? p : 0.0f;
	}
	if (flags && saturated)
		*flags |= KM_FRAME_SATURATED;
	return KM_OK;
}

/* ---- file format ---- */

static size_t body_len(enum km_calibration_model model, size_t cells, unsigned points)
{
	return model == KM_CAL_POWER_LAW ? cells * 3 * 4 : cells * (size_t)points * 2 * 4;
}

static void put_f32(uint8_t *p, float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	km_put_le32(p, u);
}

static float get_f32(const uint8_t *p)
{
	uint32_t u = km_get_le32(p);
	float v;
	memcpy(&v, &u, sizeof v);
	return v;
}

int km_calibration_serialize(const km_calibration *cal, uint8_t *buf, size_t cap, size_t *size)
{
	if (!cal || !size)
		return KM_ERR_INVALID_ARG;
	size_t need = CAL_HEADER_LEN + body_len(cal->model, cal->cells, cal->points) + CAL_CRC_LEN;
	*size = need;
	if (!buf || cap < need)
		return KM_ERR_OVERFLOW;
	memset(buf, 0, CAL_HEADER_LEN);
	memcpy(buf, cal_magic, sizeof cal_magic);
	km_put_le16(buf + 8, CAL_VERSION);
	km_put_le16(buf + 10, (uint16_t)cal->model);
	km_put_le16(buf + 12, cal->cfg.rows);
	km_put_le16(buf + 14, cal->cfg.cols);
	km_put_le16(buf + 16, (uint16_t)cal->points);
	uint8_t *p = buf + CAL_HEADER_LEN;
	if (cal->model == KM_CAL_POWER_LAW) {
		for (size_t i = 0; i < cal->cells; i++, p += 12) {
			put_f32(p, cal->a[i]);
			put_f32(p + 4, cal->b[i]);
			put_f32(p + 8, cal->c[i]);
		}
	} else {
		for (size_t i = 0; i < cal->cells; i++) {
			for (unsigned k = 0; k < cal->points; k++, p += 4)
				put_f32(p, cal->cx[i * cal->points + k]);
			for (unsigned k = 0; k < cal->points; k++, p += 4)
				put_f32(p, cal->cy[i * cal->points + k]);
		}
	}
	km_put_le32(p, km_crc32c(0, buf, (size_t)(p - buf)));
	return KM_OK;
}

int km_calibration_parse(const struct km_calibration_config *cfg, const uint8_t *buf, size_t size,
                         km_calibration **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg || (!buf && size))
		return KM_ERR_INVALID_ARG;
	const struct km_log *log = &cfg->log;
	if (size < CAL_HEADER_LEN + CAL_CRC_LEN) {
		km__log(log, KM_LOG_ERROR, MOD, "file too short (%zu bytes) for a header", size);
		return size >= sizeof cal_magic && memcmp(buf, cal_magic, sizeof cal_magic) != 0
		           ? KM_ERR_BAD_MAGIC
		           : KM_ERR_TRUNCATED;
	}
	if (memcmp(buf, cal_magic, sizeof cal_magic) != 0) {
		km__log(log, KM_LOG_ERROR, MOD, "not a knotmap calibration file (bad magic)");
		return KM_ERR_BAD_MAGIC;
	}
	uint16_t version = km_get_le16(buf + 8);
	if (version != CAL_VERSION) {
		km__log(log, KM_LOG_ERROR, MOD, "calibration format version %u, expected %u",
		        version, CAL_VERSION);
		return KM_ERR_BAD_VERSION;
	}
	uint16_t model = km_get_le16(buf + 10);
	uint16_t rows = km_get_le16(buf + 12), cols = km_get_le16(buf + 14);
	uint16_t points = km_get_le16(buf + 16);
	if ((model != KM_CAL_POWER_LAW && model != KM_CAL_CURVE) ||
	    (model == KM_CAL_POWER_LAW && points != 0) ||
	    (model == KM_CAL_CURVE && (points < 2 || points > KM_CAL_MAX_POINTS)) || rows == 0 ||
	    cols == 0 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM) {
		km__log(log, KM_LOG_ERROR, MOD, "bad header: model %u, %u x %u cells, %u points",
		        model, rows, cols, points);
		return KM_ERR_CALIBRATION;
	}
	size_t cells = (size_t)rows * cols;
	size_t need = CAL_HEADER_LEN + body_len(model, cells, points) + CAL_CRC_LEN;
	if (size != need) {
		km__log(log, KM_LOG_ERROR, MOD,
		        "file is %zu bytes but its header (%u x %u, model %u) needs %zu", size,
		        rows, cols, model, need);
		return KM_ERR_TRUNCATED;
	}
	uint32_t crc = km_crc32c(0, buf, need - CAL_CRC_LEN);
	if (crc != km_get_le32(buf + need - CAL_CRC_LEN)) {
		km__log(log, KM_LOG_ERROR, MOD, "checksum mismatch: file corrupted");
		return KM_ERR_BAD_CRC;
	}
	if (rows != cfg->rows || cols != cfg->cols) {
		km__log(log, KM_LOG_ERROR, MOD,
		        "calibration is for a %u x %u grid, the mat has %u x %u", rows, cols,
		        cfg->rows, cfg->cols);
		return KM_ERR_SHAPE;
	}
	km_calibration *cal;
	int rc = km_calibration_create(cfg, &cal);
	if (rc != KM_OK)
		return rc;
	const uint8_t *p = buf + CAL_HEADER_LEN;
	if (model == KM_CAL_POWER_LAW) {
		for (size_t i = 0; i < cells; i++, p += 12) {
			cal->a[i] = get_f32(p);
			cal->b[i] = get_f32(p + 4);
			cal->c[i] = get_f32(p + 8);
			rc = check_power(log, i, cal->a[i], cal->b[i], cal->c[i]);
			if (rc != KM_OK)
				break;
		}
	} else {
		cal->cx = km__calloc(cells * points, sizeof *cal->cx);
		cal->cy = km__calloc(cells * points, sizeof *cal->cy);
		if (!cal->cx || !cal->cy)
			rc = KM_ERR_NO_MEMORY;
		for (size_t i = 0; rc == KM_OK && i < cells; i++) {
			float *x = cal->cx + i * points, *y = cal->cy + i * points;
			for (unsigned k = 0; k < points; k++, p += 4)
				x[k] = get_f32(p);
			for (unsigned k = 0; k < points; k++, p += 4)
				y[k] = get_f32(p);
			rc = check_curve(log, i, points, x, y);
		}
		cal->points = points;
		cal->model = KM_CAL_CURVE;
	}
	if (rc != KM_OK) {
		km_calibration_destroy(cal);
		return rc;
	}
	*out = cal;
	return KM_OK;
}

int km_calibration_load(const struct km_calibration_config *cfg, const char *path,
                        km_calibration **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg || !path)
		return KM_ERR_INVALID_ARG;
	int fd;
	int orc = km__open_input(&cfg->log, MOD, path, &fd);
	if (orc != KM_OK)
		return orc;
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return KM_ERR_NO_MEMORY;
	}
	/* Largest valid file: 1024 x 1024 cells x 32 points x 8 bytes. */
	const long max = CAL_HEADER_LEN +
	                 (long)KM_FRAME_MAX_DIM * KM_FRAME_MAX_DIM * KM_CAL_MAX_POINTS * 8 +
	                 CAL_CRC_LEN;
	long len = -1;
	if (fseek(f, 0, SEEK_END) == 0)
		len = ftell(f);
	if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot read %s", path);
		return KM_ERR_IO;
	}
	if (len > max) {
		fclose(f);
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s: %ld bytes is too large", path, len);
		return KM_ERR_CALIBRATION;
	}
	uint8_t *buf = km__malloc(len > 0 ? (size_t)len : 1);
	if (!buf) {
		fclose(f);
		return KM_ERR_NO_MEMORY;
	}
	size_t got = fread(buf, 1, (size_t)len, f);
	int err = ferror(f);
	fclose(f);
	int rc;
	if (err || got != (size_t)len) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot read %s", path);
		rc = KM_ERR_IO;
	} else {
		rc = km_calibration_parse(cfg, buf, got, out);
		if (rc != KM_OK)
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s rejected: %s", path,
			        km_strerror(rc));
	}
	km__free(buf);
	return rc;
}

int km_calibration_save(const km_calibration *cal, const char *path, bool force)
{
	if (!cal || !path)
		return KM_ERR_INVALID_ARG;
	size_t need;
	km_calibration_serialize(cal, NULL, 0, &need);
	uint8_t *buf = km__malloc(need);
	if (!buf)
		return KM_ERR_NO_MEMORY;
	int rc = km_calibration_serialize(cal, buf, need, &need);
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = path;
	oc.force = force;
	oc.log = cal->cfg.log;
	km_outfile *out = NULL;
	if (rc == KM_OK)
		rc = km_outfile_open(&oc, &out);
	if (rc == KM_OK)
		rc = km_outfile_write(out, buf, need);
	if (rc == KM_OK)
		rc = km_outfile_commit(out);
	km_outfile_destroy(out); /* the old file stays unless the commit succeeded */
	km__free(buf);
	return rc;
}
