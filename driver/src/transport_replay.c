/*
 * Replay transport: frames from a .kmrec recording (session/recording.h),
 * paced by their device time (replay_speed x real time) or as fast as the
 * reader takes them (speed 0, nothing dropped).
 *
 * Raw recordings go through the same calibration as a live mat: the
 * recording's calibration blob is a calibration file (docs/calibration-format.md)
 * when present, else the nominal curve. Recordings of kPa only are carried as
 * counts of 1/32 kPa (0..2047.97 kPa) under a linear calibration, with no
 * creep or hysteresis correction (it was applied when they were recorded).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/protocol.h"
#include "knotmap/recording.h"
#include "transport.h"

#define MOD "replay"
/* kPa-only recordings: counts per kPa. */
#define KPA_SCALE 32.0f

struct replay_state {
	km_stream *s;
	const struct km_stream_config *cfg;
	km_rec_reader *r;
	const struct km_rec_info *ri;
	bool raw;         /* the file has raw counts */
	uint16_t *counts; /* kPa-only files: the frame as counts */
	size_t cells;
};

static void replay_close(void *state)
{
	struct replay_state *st = state;
	if (!st)
		return;
	km_rec_reader_destroy(st->r);
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
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.log = cfg->log;
	rc.path = cfg->replay_path;
	int err = km_rec_reader_create(&rc, &st->r);
	if (err != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot open %s: %s", cfg->replay_path,
		        km_strerror(err));
		replay_close(st);
		return err;
	}
	st->ri = km_rec_reader_info(st->r);
	st->raw = (st->ri->content & KM_REC_RAW) != 0;
	const struct km_rec_device *d = &st->ri->device;
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
	snprintf(info->location, sizeof info->location, "%s", base ? base + 1 : cfg->replay_path);
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
	int rc = km_rec_reader_reset(st->r);
	if (rc != KM_OK)
		return rc;
	km__engine_restart(s);
	km__engine_status(s, KM_STREAM_CONNECTED, KM_OK);
	uint64_t host0 = km_time_monotonic_us(), dev0 = 0;
	bool first = true;
	while (!km__engine_stopping(s)) {
		struct km_rec_item it;
		rc = km_rec_reader_next_frame(st->r, &it);
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
				float v = f->kpa[i] * KPA_SCALE + 0.5f;
				st->counts[i] = !(v > 0.0f)     ? 0
				                : v >= 65535.0f ? 65535
				                                : (uint16_t)v;
			}
			counts = st->counts;
		}
		uint8_t pf = (f->flags & KM_FRAME_SATURATED) ? KM_PROTO_FLAG_SATURATED : 0;
		km__engine_count(s, KM__STAT_TRANSFERS, 1);
		km__engine_push_counts(s, f->sequence, f->device_time_us, f->dropped_since_last, pf,
		                       counts);
	}
	if (km__engine_stopping(s))
		return KM_OK;
	if (rc != KM_ERR_END)
		km__log(&st->cfg->log, KM_LOG_WARN, MOD, "%s: recording damaged: %s",
		        st->cfg->replay_path, km_strerror(rc));
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
			buf[st->cells + i] = KPA_SCALE;
			buf[2 * st->cells + i] = 1.0f;
		}
		rc = km_calibration_set_power_law(*out, buf, buf + st->cells, buf + 2 * st->cells,
		                                  st->cells);
		km__free(buf);
		return rc;
	}
	if (st->ri->calibration && st->ri->calibration_size) {
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
