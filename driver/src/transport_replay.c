/*
 * Replay transport: frames from a .kmrec recording (session/recording.h) or
 * from another mat's export read by the importers (session/import.h: .npy,
 * Tekscan-like ASCII, XSENSOR-style and plain CSV), through one recording
 * source; paced by their device time (replay_speed x real time) or as fast as
 * the reader takes them (speed 0, nothing dropped). Imports are detected from
 * their content and use their sidecar JSON or the defaults for rate and pitch.
 *
 * Raw recordings go through the same calibration as a live mat: the
 * recording's calibration blob is a calibration file (docs/calibration-format.md)
 * when present, else the nominal curve. Recordings of kPa only (and imports)
 * are carried as counts of 1/32 kPa (0..2047.97 kPa) under a linear
 * calibration, with no creep or hysteresis correction (it was applied when
 * they were recorded); imports in raw units as their counts, 1:1 (0..65535),
 * their frames flagged KM_FRAME_UNCALIBRATED as the importer flags them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/import.h"
#include "knotmap/protocol.h"
#include "knotmap/recording.h"
#include "transport.h"

#define MOD "replay"
/* kPa-only recordings: counts per kPa. */
#define KPA_SCALE 32.0f

struct replay_state {
	km_stream *s;
	const struct km_stream_config *cfg;
	km_source *src;
	const struct km_source_info *si;
	const struct km_rec_info *ri; /* .kmrec only, else NULL */
	bool raw;         /* the file has raw counts */
	float scale;      /* counts per kPa for files without raw counts */
	uint16_t *counts; /* kPa-only files: the frame as counts */
	size_t cells;
};

static void replay_close(void *state)
{
	struct replay_state *st = state;
	if (!st)
		return;
	km_source_destroy(st->src);
	km__free(st->counts);
	km__free(st);
}

static int replay_open(km_stream *s, const struct km_stream_config *cfg, void **state,
                       struct km_device_info *info)
{
	struct replay_state *st = km__calloc(1, sizeof *st);
	if (!st)
		return KM_ERR_NO_MEMORY;
	st->s = s;
	st->cfg = cfg;
	struct km_source_config sc = km_source_config_default();
	sc.log = cfg->log;
	sc.path = cfg->replay_path;
	/* Validated by the stream at create. */
	if (cfg->replay_format)
		km_import_format_parse(cfg->replay_format, &sc.import.format);
	if (cfg->replay_units)
		km_import_units_parse(cfg->replay_units, &sc.import.units);
	sc.import.rate_hz = cfg->replay_rate_hz;
	sc.import.pitch_mm = cfg->replay_pitch_mm;
	sc.import.rows = cfg->replay_rows;
	sc.import.cols = cfg->replay_cols;
	sc.import.sensor = cfg->replay_sensor;
	sc.import.partial = cfg->replay_partial;
	int err = km_source_create(&sc, &st->src);
	if (err != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot open %s: %s", cfg->replay_path,
		        km_strerror(err));
		replay_close(st);
		return err;
	}
	st->si = km_source_info(st->src);
	km_rec_reader *rr = km_source_rec_reader(st->src);
	st->ri = rr ? km_rec_reader_info(rr) : NULL;
	st->raw = st->ri && (st->ri->content & KM_REC_RAW) != 0;
	st->scale = !st->ri && st->si->units == KM_UNITS_RAW ? 1.0f : KPA_SCALE;
	if (!st->ri)
		km__log(&cfg->log, KM_LOG_INFO, MOD,
		        "%s: %s import, %ux%u at %.3g mm, %.4g Hz, %s", cfg->replay_path,
		        km_import_format_name(st->si->format), (unsigned)st->si->device.rows,
		        (unsigned)st->si->device.cols, (double)st->si->device.pitch_mm,
		        (double)st->si->device.rate_hz, km_import_units_name(st->si->units));
	const struct km_rec_device *d = &st->si->device;
	st->cells = (size_t)d->rows * d->cols;
	if (!st->raw) {
		st->counts = km__calloc(st->cells, sizeof *st->counts);
		if (!st->counts) {
			replay_close(st);
			return KM_ERR_NO_MEMORY;
		}
	}
	memset(info, 0, sizeof *info);
	info->transport = KM_TRANSPORT_REPLAY;
	info->rows = d->rows;
	info->cols = d->cols;
	info->pitch_mm = d->pitch_mm;
	info->geometry = d->geometry;
	info->rate_hz = (uint16_t)lrintf(fminf(fmaxf(d->rate_hz, 0.0f), 65535.0f));
	info->vid = d->usb_vid;
	info->pid = d->usb_pid;
	info->max_counts = st->raw ? 4095 : UINT16_MAX;
	info->protocol_version = KM_PROTO_VERSION;
	snprintf(info->serial, sizeof info->serial, "%s", d->serial);
	snprintf(info->product, sizeof info->product, "%s", d->model);
	const char *base = strrchr(cfg->replay_path, '/');
	base = base ? base + 1 : cfg->replay_path;
	km_import *imp = km_source_import(st->src);
	const struct km_import_info *ii = imp ? km_import_info(imp) : NULL;
	if (ii && ii->sensor_count > 1) {
		/* what a viewer shows as the source: which insole it is */
		char where[160];
		snprintf(where, sizeof where, "%.40s, sensor %.12s (%u of %u)", base,
		         km_import_sensor_label(imp, ii->sensor_index), ii->sensor_index + 1u,
		         (unsigned)ii->sensor_count);
		snprintf(info->location, sizeof info->location, "%.63s", where);
	} else
		snprintf(info->location, sizeof info->location, "%s", base);
	unsigned a = 0, b = 0, c = 0;
	if (sscanf(d->firmware, "%u.%u.%u", &a, &b, &c) == 3)
		info->firmware_version = (a << 16) | (b << 8) | c;
	*state = st;
	return KM_OK;
}

static int replay_run(void *state)
{
	struct replay_state *st = state;
	km_stream *s = st->s;
	double speed = st->cfg->replay_speed;
	km__engine_set_lossless(s, speed <= 0.0);
	int rc = km_source_reset(st->src);
	if (rc != KM_OK)
		return rc;
	km__engine_restart(s);
	km__engine_status(s, KM_STREAM_CONNECTED, KM_OK);
	uint64_t host0 = km_time_monotonic_us(), dev0 = 0;
	bool first = true;
	while (!km__engine_stopping(s)) {
		struct km_rec_item it;
		rc = km_source_next_frame(st->src, &it);
		if (rc != KM_OK)
			break;
		const struct km_frame *f = it.frame;
		if ((size_t)f->rows * f->cols != st->cells)
			continue;
		if (speed > 0.0) {
			if (first) {
				dev0 = f->device_time_us;
				first = false;
			}
			uint64_t dt = f->device_time_us > dev0 ? f->device_time_us - dev0 : 0;
			if (!km__engine_sleep_until(s, host0 + (uint64_t)((double)dt / speed)))
				break;
		}
		const uint16_t *counts = it.raw;
		if (!st->raw || !counts) {
			for (size_t i = 0; i < st->cells; i++) {
				float v = f->kpa[i] * st->scale + 0.5f;
				st->counts[i] = !(v > 0.0f)     ? 0
				                : v >= 65535.0f ? 65535
				                                : (uint16_t)v;
			}
			counts = st->counts;
		}
		uint8_t pf = (f->flags & KM_FRAME_SATURATED) ? KM_PROTO_FLAG_SATURATED : 0;
		/* An import of raw counts (no units, or units counts) stays counts:
		 * every consumer sees the frames flagged, not relabelled kPa. */
		uint32_t ff = f->flags & KM_FRAME_UNCALIBRATED;
		km__engine_count(s, KM__STAT_TRANSFERS, 1);
		km__engine_push_counts(s, f->sequence, f->device_time_us, f->dropped_since_last, pf, ff,
		                       counts);
	}
	if (km__engine_stopping(s))
		return KM_OK;
	if (rc != KM_ERR_END) {
		struct km_import_damage d;
		km_source_damage(st->src, &d);
		km__log(&st->cfg->log, KM_LOG_WARN, MOD, "%s: recording damaged: %s (%s)",
		        st->cfg->replay_path, km_strerror(rc), d.damaged ? d.message : "-");
	}
	km__engine_status(s, KM_STREAM_ENDED, rc == KM_ERR_END ? KM_OK : rc);
	return KM_ERR_END;
}

static int replay_factory(void *state, struct km_calibration_config *cc, km_calibration **out)
{
	struct replay_state *st = state;
	if (!st->raw) {
		cc->creep_coeff = 0.0f;
		cc->hysteresis = 0.0f;
		cc->crosstalk = 0.0f;
		cc->max_counts = UINT16_MAX;
		int rc = km_calibration_create(cc, out);
		if (rc != KM_OK)
			return rc;
		float *buf = km__calloc(3 * st->cells, sizeof *buf);
		if (!buf) {
			km_calibration_destroy(*out);
			*out = NULL;
			return KM_ERR_NO_MEMORY;
		}
		for (size_t i = 0; i < st->cells; i++) {
			buf[st->cells + i] = st->scale;
			buf[2 * st->cells + i] = 1.0f;
		}
		rc = km_calibration_set_power_law(*out, buf, buf + st->cells, buf + 2 * st->cells,
		                                  st->cells);
		km__free(buf);
		return rc;
	}
	if (st->ri && st->ri->calibration && st->ri->calibration_size) {
		struct km_calibration_config nominal = *cc;
		km_calibration *tmp = NULL;
		if (km__nominal_calibration(&nominal, &tmp) == KM_OK)
			*cc = nominal; /* creep and friends of the sensor family */
		km_calibration_destroy(tmp);
		int rc =
		    km_calibration_parse(cc, st->ri->calibration, st->ri->calibration_size, out);
		if (rc == KM_OK)
			return KM_OK;
		km__log(&st->cfg->log, KM_LOG_WARN, MOD,
		        "the recording's calibration is unusable (%s): nominal curve used",
		        km_strerror(rc));
	}
	return km__nominal_calibration(cc, out);
}

const struct km__transport_ops km__transport_replay = {
    .name = "replay",
    .open = replay_open,
    .run = replay_run,
    .control = NULL,
    .factory_calibration = replay_factory,
    .close = replay_close,
};
