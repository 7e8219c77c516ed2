/*
 * The virtual mat as a transport: km_sim runs on the engine thread and its
 * packets (bit-identical to the firmware's) go through the same parse,
 * reassembly and CRC path as USB transfers.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/protocol.h"
#include "knotmap/sim.h"
#include "transport.h"

#define MOD "sim"

struct sim_state {
	km_stream *s;
	const struct km_stream_config *cfg;
	pthread_mutex_t lock; /* the sim: engine thread vs control requests */
	km_sim *sim;
	struct km_sim_config sc;
	uint8_t *buf;
	size_t cap;
	struct km_device_info info;
};

static int sim_open(km_stream *s, const struct km_stream_config *cfg, void **state,
                    struct km_device_info *info)
{
	struct sim_state *st = km__calloc(1, sizeof *st);
	if (!st)
		return KM_ERR_NO_MEMORY;
	st->s = s;
	st->cfg = cfg;
	pthread_mutex_init(&st->lock, NULL);
	int rc = KM_OK;
	st->sc = cfg->sim_config ? *cfg->sim_config : km_sim_config_default();
	st->sc.log = cfg->log;
	if (cfg->sim_scenario && !cfg->sim_config) {
		char path[4096], err[512];
		rc = km_sim_scenario_find(cfg->sim_scenario, path, sizeof path);
		if (rc != KM_OK) {
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "scenario '%s' not found",
			        cfg->sim_scenario);
		} else {
			rc = km_sim_scenario_load(path, &st->sc, err, sizeof err);
			if (rc != KM_OK)
				km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s", err);
		}
	}
	st->sc.seed = cfg->sim_seed;
	st->sc.start_running = false;
	if (cfg->rate_hz)
		st->sc.rate_hz = cfg->rate_hz;
	if (rc == KM_OK)
		rc = km_sim_create(&st->sc, &st->sim);
	if (rc == KM_OK) {
		st->cap = km_sim_max_packet_bytes(st->sim);
		st->buf = km__malloc(st->cap ? st->cap : 1);
		if (!st->buf)
			rc = KM_ERR_NO_MEMORY;
	}
	struct km_proto_info pi;
	if (rc == KM_OK)
		rc = km_sim_info(st->sim, &pi);
	if (rc != KM_OK) {
		km_sim_destroy(st->sim);
		km__free(st->buf);
		pthread_mutex_destroy(&st->lock);
		km__free(st);
		return rc;
	}
	memset(info, 0, sizeof *info);
	info->transport = KM_TRANSPORT_SIM;
	km__device_info_from_proto(&pi, info);
	snprintf(info->product, sizeof info->product, "virtual mat");
	snprintf(info->location, sizeof info->location, "sim");
	st->info = *info;
	*state = st;
	return KM_OK;
}

static int sim_run(void *state)
{
	struct sim_state *st = state;
	km_stream *s = st->s;
	km__engine_set_lossless(s, !st->cfg->sim_realtime);
	pthread_mutex_lock(&st->lock);
	int rc = km_sim_control(st->sim, KM_SIM_CMD_START, 0);
	pthread_mutex_unlock(&st->lock);
	if (rc != KM_OK)
		return rc;
	km__engine_restart(s);
	km__engine_status(s, KM_STREAM_CONNECTED, KM_OK);
	uint64_t next = km_time_monotonic_us();
	uint64_t frames = 0;
	while (!km__engine_stopping(s)) {
		if (st->cfg->sim_frames && frames >= st->cfg->sim_frames) {
			km__engine_status(s, KM_STREAM_ENDED, KM_OK);
			rc = KM_ERR_END;
			break;
		}
		size_t len = 0;
		float rate;
		pthread_mutex_lock(&st->lock);
		struct km_sim_output o;
		rc = km_sim_step(st->sim, &o);
		if (rc == KM_OK)
			rc = km_sim_pack(st->sim, st->buf, st->cap, &len);
		rate = km_sim_rate(st->sim);
		pthread_mutex_unlock(&st->lock);
		if (rc != KM_OK)
			break;
		km__engine_count(s, KM__STAT_TRANSFERS, 1);
		km__engine_feed(s, st->buf, len);
		frames++;
		if (st->cfg->sim_realtime) {
			next += (uint64_t)(1e6 / (rate > 0.0f ? rate : 100.0f));
			if (!km__engine_sleep_until(s, next))
				break;
		}
	}
	pthread_mutex_lock(&st->lock);
	km_sim_control(st->sim, KM_SIM_CMD_STOP, 0);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int sim_control(void *state, uint8_t request, uint16_t value)
{
	struct sim_state *st = state;
	enum km_sim_command cmd;
	switch (request) {
	case KM_PROTO_REQ_ZERO:
		cmd = KM_SIM_CMD_ZERO;
		break;
	case KM_PROTO_REQ_SET_RATE:
		cmd = KM_SIM_CMD_SET_RATE;
		break;
	case KM_PROTO_REQ_START:
		cmd = KM_SIM_CMD_START;
		break;
	case KM_PROTO_REQ_STOP:
		cmd = KM_SIM_CMD_STOP;
		break;
	default:
		return KM_ERR_UNSUPPORTED;
	}
	pthread_mutex_lock(&st->lock);
	int rc = km_sim_control(st->sim, cmd, value);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int km_calibration_for_sim(km_sim *sim, const struct km_sim_config *sc,
                          struct km_calibration_config *cc, km_calibration **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!sim || !sc || !cc)
		return KM_ERR_INVALID_ARG;
	km__calibration_creep_from_sim(cc, sc->creep_pct, sc->creep_ref_s, sc->creep_tau_s);
	cc->load_threshold_kpa = sc->loaded_kpa;
	cc->crosstalk = sc->crosstalk_pct / 100.0f;
	cc->hysteresis = sc->hysteresis_pct / 100.0f;
	cc->hysteresis_tau_s = sc->hysteresis_tau_s;
	size_t n = (size_t)cc->rows * cc->cols;
	float *buf = km__calloc(3 * n, sizeof *buf);
	if (!buf)
		return KM_ERR_NO_MEMORY;
	int rc = km_sim_sensor_curve(sim, buf, buf + n, buf + 2 * n, n);
	if (rc == KM_OK)
		rc = km_calibration_create(cc, out);
	if (rc == KM_OK) {
		rc = km_calibration_set_power_law(*out, buf, buf + n, buf + 2 * n, n);
		if (rc != KM_OK) {
			km_calibration_destroy(*out);
			*out = NULL;
		}
	}
	km__free(buf);
	return rc;
}

static int sim_factory(void *state, struct km_calibration_config *cc, km_calibration **out)
{
	struct sim_state *st = state;
	return km_calibration_for_sim(st->sim, &st->sc, cc, out);
}

static void sim_close(void *state)
{
	struct sim_state *st = state;
	if (!st)
		return;
	km_sim_destroy(st->sim);
	km__free(st->buf);
	pthread_mutex_destroy(&st->lock);
	km__free(st);
}

const struct km__transport_ops km__transport_sim = {
    .name = "sim",
    .open = sim_open,
    .run = sim_run,
    .control = sim_control,
    .factory_calibration = sim_factory,
    .close = sim_close,
};
