/*
 * Stream engine: owns a transport, the engine thread, reassembly, CRC and
 * sequence checks, the frame ring and the calibration (see stream.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/import.h"
#include "knotmap/protocol.h"
#include "knotmap/sim.h"
#include "ring.h"
#include "transport.h"

#define MOD "driver"

enum stream_state { ST_IDLE = 0, ST_RUNNING = 1, ST_STOPPING = 2 };

struct km_stream {
	struct km_stream_config cfg;
	char *serial, *sim_scenario, *replay_path, *calibration_path, *replay_format, *replay_units,
	    *replay_sensor;
	const struct km__transport_ops *ops;
	void *tstate;

	pthread_mutex_t info_lock;
	struct km_device_info info;
	size_t cells;

	km_proto_reasm *reasm; /* engine thread only */
	struct km__ring *ring;
	bool lossless;
	uint16_t *push_scratch; /* engine thread: counts copied for the ring */

	km_calibration *cal; /* reader thread only */
	uint16_t *read_raw;  /* reader thread */

	atomic_uint_fast64_t stats[KM__STAT_COUNT];
	atomic_int state;
	atomic_bool stop_req;
	int wake_pipe[2];
	pthread_t thread;
	bool thread_running;

	atomic_bool zero_req;
	atomic_uint_fast32_t last_seq; /* sequence of the newest frame pushed */
	atomic_bool have_seq;
	uint32_t zero_after_seq; /* reader: zero frames newer than this */
	bool zero_armed;         /* reader */

	/* Device time as handed out never goes backwards: a bus-powered mat's
	 * clock restarts near 0 after a replug (or a firmware reset), so frames
	 * get device time + offset, the offset chosen at such a jump so the
	 * stream continues from where it was by the host clock. Engine thread. */
	uint64_t time_offset_us; /* modulo 2^64: adding it may "subtract" */
	uint64_t last_device_us, last_host_us;
	bool have_time;
};

/* The stream whose engine runs on this thread: a stop from its own status
 * callback must only request (it cannot join itself). pthread_create may not
 * have stored the thread id yet when the first callback runs, so the id is
 * not a reliable test. */
static _Thread_local km_stream *engine_of_this_thread;

/* ---- small helpers ---- */

const char *km_stream_status_name(enum km_stream_status status)
{
	switch (status) {
	case KM_STREAM_CONNECTED:
		return "connected";
	case KM_STREAM_UNPLUGGED:
		return "unplugged";
	case KM_STREAM_RECONNECTED:
		return "reconnected";
	case KM_STREAM_ENDED:
		return "ended";
	case KM_STREAM_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *km_transport_name(enum km_transport_kind kind)
{
	switch (kind) {
	case KM_TRANSPORT_AUTO:
		return "auto";
	case KM_TRANSPORT_LIBUSB:
		return "libusb";
	case KM_TRANSPORT_SIM:
		return "sim";
	case KM_TRANSPORT_REPLAY:
		return "replay";
	}
	return "unknown";
}

int km_transport_parse(const char *name, enum km_transport_kind *out)
{
	if (!name || !out)
		return KM_ERR_INVALID_ARG;
	static const enum km_transport_kind all[] = {KM_TRANSPORT_AUTO, KM_TRANSPORT_LIBUSB,
	                                             KM_TRANSPORT_SIM, KM_TRANSPORT_REPLAY};
	for (size_t i = 0; i < KM_ARRAY_SIZE(all); i++) {
		if (!strcmp(name, km_transport_name(all[i]))) {
			*out = all[i];
			return KM_OK;
		}
	}
	return KM_ERR_INVALID_ARG;
}

struct km_stream_config km_stream_config_default(void)
{
	struct km_stream_config c;
	memset(&c, 0, sizeof c);
	c.transport = KM_TRANSPORT_AUTO;
	c.transfers = 4;
	c.transfer_size = KM_PROTO_MAX_TRANSFER;
	c.transfer_timeout_ms = 1000;
	c.control_timeout_ms = 1000;
	c.reconnect = true;
	c.reconnect_poll_ms = 200;
	c.sim_seed = 1;
	c.sim_realtime = true;
	c.replay_speed = 1.0;
	c.ring_capacity = 32;
	c.creep_correction = true;
	return c;
}

static int check_config(const struct km_stream_config *c)
{
	if (c->transport != KM_TRANSPORT_AUTO && c->transport != KM_TRANSPORT_LIBUSB &&
	    c->transport != KM_TRANSPORT_SIM && c->transport != KM_TRANSPORT_REPLAY)
		return KM_ERR_INVALID_ARG;
	if (c->transfers < 1 || c->transfers > 32)
		return KM_ERR_RANGE;
	if (c->transfer_size < 512 || c->transfer_size > 262080 || c->transfer_size % 512)
		return KM_ERR_RANGE;
	if (c->control_timeout_ms < 1 || c->control_timeout_ms > 60000 ||
	    c->transfer_timeout_ms > 60000)
		return KM_ERR_RANGE;
	if (c->reconnect_poll_ms < 10 || c->reconnect_poll_ms > 60000)
		return KM_ERR_RANGE;
	if (c->ring_capacity < 2 || c->ring_capacity > 4096)
		return KM_ERR_RANGE;
	if (!isfinite(c->replay_speed) || c->replay_speed < 0.0 || c->replay_speed > 1000.0)
		return KM_ERR_RANGE;
	if (c->rate_hz > 1000)
		return KM_ERR_RANGE;
	if (c->transport == KM_TRANSPORT_REPLAY && !c->replay_path)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(c->replay_rate_hz) || c->replay_rate_hz < 0.0f ||
	    c->replay_rate_hz > 100000.0f || !isfinite(c->replay_pitch_mm) ||
	    c->replay_pitch_mm < 0.0f || c->replay_pitch_mm > 1000.0f)
		return KM_ERR_RANGE;
	if ((c->replay_rows == 0) != (c->replay_cols == 0) || c->replay_rows > KM_FRAME_MAX_DIM ||
	    c->replay_cols > KM_FRAME_MAX_DIM)
		return KM_ERR_RANGE;
	enum km_import_format fmt;
	enum km_import_units units;
	if ((c->replay_format && km_import_format_parse(c->replay_format, &fmt) != KM_OK) ||
	    (c->replay_units && km_import_units_parse(c->replay_units, &units) != KM_OK) ||
	    (c->replay_sensor && !*c->replay_sensor))
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

static char *dup_str(const char *s, bool *fail)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = km__malloc(n);
	if (!d)
		*fail = true;
	else
		memcpy(d, s, n);
	return d;
}

/* ---- engine side (transport threads) ---- */

void km__engine_count(km_stream *s, enum km__stat which, uint64_t n)
{
	if ((unsigned)which < KM__STAT_COUNT)
		atomic_fetch_add(&s->stats[which], n);
}

bool km__engine_stopping(const km_stream *s)
{
	return atomic_load(&s->stop_req);
}

const struct km_log *km__engine_log(const km_stream *s)
{
	return &s->cfg.log;
}

void km__engine_set_lossless(km_stream *s, bool lossless)
{
	s->lossless = lossless;
}

void km__engine_set_info(km_stream *s, const struct km_device_info *info)
{
	pthread_mutex_lock(&s->info_lock);
	s->info = *info;
	pthread_mutex_unlock(&s->info_lock);
}

bool km__engine_sleep_until(km_stream *s, uint64_t deadline_us)
{
	for (;;) {
		if (km__engine_stopping(s))
			return false;
		uint64_t now = km_time_monotonic_us();
		if (now >= deadline_us)
			return true;
		uint64_t ms = (deadline_us - now + 999) / 1000;
		struct pollfd p = {.fd = s->wake_pipe[0], .events = POLLIN};
		int rc = poll(&p, 1, ms > 1000 ? 1000 : (int)ms);
		if (rc > 0) {
			char buf[16];
			while (read(s->wake_pipe[0], buf, sizeof buf) > 0)
				;
		}
	}
}

void km__engine_restart(km_stream *s)
{
	km_proto_reasm_reset(s->reasm);
}

void km__engine_status(km_stream *s, enum km_stream_status status, int error)
{
	switch (status) {
	case KM_STREAM_UNPLUGGED:
		km__ring_set_idle_code(s->ring, KM_ERR_NO_DEVICE);
		break;
	case KM_STREAM_CONNECTED:
	case KM_STREAM_RECONNECTED:
		km__ring_set_idle_code(s->ring, KM_OK);
		break;
	case KM_STREAM_ENDED:
		km__ring_close(s->ring, KM_ERR_END);
		break;
	case KM_STREAM_FAILED:
		km__ring_close(s->ring, error != KM_OK ? error : KM_ERR_IO);
		break;
	}
	km__log(&s->cfg.log, status == KM_STREAM_FAILED ? KM_LOG_ERROR : KM_LOG_INFO, MOD, "%s%s%s",
	        km_stream_status_name(status), error ? ": " : "", error ? km_strerror(error) : "");
	if (s->cfg.status_fn)
		s->cfg.status_fn(s->cfg.status_user, status, error);
}

/* Rebases m->device_time_us so it continues monotonically (see time_offset_us). */
static void continue_device_time(km_stream *s, struct km__frame_meta *m)
{
	/* Unsigned, so any device time (even garbage from a damaged file) is
	 * well defined: the offset is applied modulo 2^64. */
	uint64_t t = m->device_time_us + s->time_offset_us;
	if (s->have_time && t <= s->last_device_us) {
		uint64_t host_gap = m->host_time_us > s->last_host_us
		                        ? m->host_time_us - s->last_host_us
		                        : 0;
		/* At least one microsecond later, so time stays strictly increasing. */
		uint64_t want = s->last_device_us + KM_MAX(host_gap, (uint64_t)1);
		s->time_offset_us = want - m->device_time_us;
		km__log(&s->cfg.log, KM_LOG_INFO, MOD,
		        "device clock went back (restart?): device time continues from %llu us",
		        (unsigned long long)want);
		t = want;
	}
	m->device_time_us = t;
	s->last_device_us = t;
	s->last_host_us = m->host_time_us;
	s->have_time = true;
}

static void push_frame(km_stream *s, struct km__frame_meta *m, const uint16_t *counts)
{
	continue_device_time(s, m);
	/* Count before the push: once the frame is in the ring the reader may take
	 * it and read the counters straight away, and must see it counted. */
	km__engine_count(s, KM__STAT_FRAMES_OK, 1);
	bool stored = km__ring_push(s->ring, m, counts, s->lossless);
	if (stored) {
		atomic_store(&s->last_seq, m->sequence);
		atomic_store(&s->have_seq, true);
	} else {
		atomic_fetch_sub(&s->stats[KM__STAT_FRAMES_OK], 1); /* ring closed */
	}
}

static uint32_t proto_to_frame_flags(uint8_t pf)
{
	uint32_t f = 0;
	if (pf & KM_PROTO_FLAG_SATURATED)
		f |= KM_FRAME_SATURATED;
	return f;
}

void km__engine_push_counts(km_stream *s, uint32_t sequence, uint64_t device_time_us, uint32_t lost,
                            uint8_t proto_flags, uint32_t frame_flags, const uint16_t *counts)
{
	struct km__frame_meta m = {
	    .sequence = sequence,
	    .dropped_before = lost,
	    .flags = proto_to_frame_flags(proto_flags) | (frame_flags & 0xFFFFu) |
	             ((uint32_t)proto_flags << 16),
	    .device_time_us = device_time_us,
	    .host_time_us = km_time_monotonic_us(),
	};
	if (lost)
		km__engine_count(s, KM__STAT_LOST, lost);
	push_frame(s, &m, counts);
}

void km__engine_feed(km_stream *s, const uint8_t *buf, size_t len)
{
	km__engine_count(s, KM__STAT_BYTES, len);
	uint64_t host_us = km_time_monotonic_us();
	while (len > 0) {
		struct km_proto_packet pkt;
		size_t used = 0;
		int rc = km_proto_parse_packet(buf, len, &pkt, &used);
		if (rc != KM_OK) {
			/* The rest of this transfer cannot be trusted: drop it. */
			km__engine_count(s, rc == KM_ERR_BAD_CRC ? KM__STAT_CRC : KM__STAT_GARBLED,
			                 1);
			km__log(&s->cfg.log, KM_LOG_DEBUG, MOD, "packet dropped (%zu bytes): %s",
			        len, km_strerror(rc));
			return;
		}
		bool ready = false;
		rc = km_proto_reasm_push(s->reasm, &pkt, &ready);
		if (rc != KM_OK) {
			km__engine_count(s, KM__STAT_GARBLED, 1);
			km__log(&s->cfg.log, KM_LOG_DEBUG, MOD, "fragment of frame %u dropped: %s",
			        pkt.header.sequence, km_strerror(rc));
		} else if (ready) {
			const struct km_proto_frame *f = km_proto_reasm_frame(s->reasm);
			if (!f || (size_t)f->header.rows * f->header.cols != s->cells ||
			    f->header.rows != s->info.rows) {
				km__engine_count(s, KM__STAT_GARBLED, 1);
			} else {
				uint8_t pf = f->header.flags;
				struct km__frame_meta m = {
				    .sequence = f->header.sequence,
				    .dropped_before = f->dropped_since_last,
				    .flags = proto_to_frame_flags(pf) | ((uint32_t)pf << 16),
				    .device_time_us = f->header.timestamp_us,
				    .host_time_us = host_us,
				};
				if (f->dropped_since_last)
					km__engine_count(s, KM__STAT_LOST, f->dropped_since_last);
				push_frame(s, &m, f->counts);
			}
		}
		buf += used;
		len -= used;
	}
}

/* ---- life cycle ---- */

static const struct km__transport_ops *ops_for(enum km_transport_kind k)
{
	switch (k) {
	case KM_TRANSPORT_LIBUSB:
		return &km__transport_libusb;
	case KM_TRANSPORT_SIM:
		return &km__transport_sim;
	case KM_TRANSPORT_REPLAY:
		return &km__transport_replay;
	case KM_TRANSPORT_AUTO:
		break;
	}
	return NULL;
}

static int open_transport(km_stream *s)
{
	struct km_stream_config *c = &s->cfg;
	if (c->transport != KM_TRANSPORT_AUTO) {
		s->ops = ops_for(c->transport);
		return s->ops->open(s, c, &s->tstate, &s->info);
	}
	s->ops = &km__transport_libusb;
	int rc = s->ops->open(s, c, &s->tstate, &s->info);
	if (rc != KM_ERR_NO_DEVICE)
		return rc;
	km__log(&c->log, KM_LOG_INFO, MOD, "no mat plugged in: using the virtual mat");
	s->ops = &km__transport_sim;
	return s->ops->open(s, c, &s->tstate, &s->info);
}

static int load_calibration(km_stream *s)
{
	struct km_calibration_config cc = km_calibration_config_default(s->info.rows, s->info.cols);
	cc.log = s->cfg.log;
	if (s->info.max_counts)
		cc.max_counts = s->info.max_counts;
	int rc;
	if (s->calibration_path) {
		/* The file carries the response; creep follows the sensor family. */
		struct km_calibration_config nominal = cc;
		km_calibration *tmp = NULL;
		if (km__nominal_calibration(&nominal, &tmp) == KM_OK)
			cc = nominal;
		km_calibration_destroy(tmp);
		rc = km_calibration_load(&cc, s->calibration_path, &s->cal);
	} else if (s->ops->factory_calibration) {
		rc = s->ops->factory_calibration(s->tstate, &cc, &s->cal);
	} else {
		rc = km__nominal_calibration(&cc, &s->cal);
	}
	return rc;
}

static void close_wake_pipe(km_stream *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->wake_pipe[i] >= 0)
			close(s->wake_pipe[i]);
		s->wake_pipe[i] = -1;
	}
}

int km_stream_create(const struct km_stream_config *cfg, km_stream **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "bad stream config: %s", km_strerror(rc));
		return rc;
	}
	km_stream *s = km__calloc(1, sizeof *s);
	if (!s)
		return KM_ERR_NO_MEMORY;
	s->cfg = *cfg;
	s->wake_pipe[0] = s->wake_pipe[1] = -1;
	bool fail = false;
	s->serial = dup_str(cfg->serial, &fail);
	s->sim_scenario = dup_str(cfg->sim_scenario, &fail);
	s->replay_path = dup_str(cfg->replay_path, &fail);
	s->calibration_path = dup_str(cfg->calibration_path, &fail);
	s->replay_format = dup_str(cfg->replay_format, &fail);
	s->replay_units = dup_str(cfg->replay_units, &fail);
	s->replay_sensor = dup_str(cfg->replay_sensor, &fail);
	s->cfg.replay_sensor = s->replay_sensor;
	s->cfg.replay_format = s->replay_format;
	s->cfg.replay_units = s->replay_units;
	s->cfg.serial = s->serial;
	s->cfg.sim_scenario = s->sim_scenario;
	s->cfg.replay_path = s->replay_path;
	s->cfg.calibration_path = s->calibration_path;
	pthread_mutex_init(&s->info_lock, NULL);
	for (int i = 0; i < KM__STAT_COUNT; i++)
		atomic_init(&s->stats[i], 0);
	atomic_init(&s->state, ST_IDLE);
	atomic_init(&s->stop_req, false);
	atomic_init(&s->zero_req, false);
	atomic_init(&s->last_seq, 0);
	atomic_init(&s->have_seq, false);
	if (fail) {
		km_stream_destroy(s);
		return KM_ERR_NO_MEMORY;
	}
	if (pipe(s->wake_pipe) != 0) {
		s->wake_pipe[0] = s->wake_pipe[1] = -1;
		km_stream_destroy(s);
		return KM_ERR_NO_MEMORY;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(s->wake_pipe[i], F_SETFL, fcntl(s->wake_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(s->wake_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	rc = open_transport(s);
	s->cfg.sim_config = NULL; /* copied by the sim transport; not kept */
	if (rc != KM_OK) {
		s->ops = NULL;
		s->tstate = NULL;
		km_stream_destroy(s);
		return rc;
	}
	s->cells = (size_t)s->info.rows * s->info.cols;
	if (s->cells == 0) {
		km_stream_destroy(s);
		return KM_ERR_SHAPE;
	}
	struct km_proto_reasm_config rcfg = km_proto_reasm_config_default();
	rcfg.max_rows = s->info.rows;
	rcfg.max_cols = s->info.cols;
	rcfg.log = cfg->log;
	rc = km_proto_reasm_create(&rcfg, &s->reasm);
	if (rc == KM_OK)
		rc = km__ring_create(cfg->ring_capacity, s->cells, &s->ring);
	if (rc == KM_OK) {
		s->read_raw = km__calloc(s->cells, sizeof *s->read_raw);
		if (!s->read_raw)
			rc = KM_ERR_NO_MEMORY;
	}
	if (rc == KM_OK)
		rc = load_calibration(s);
	if (rc != KM_OK) {
		km_stream_destroy(s);
		return rc;
	}
	km__ring_set_interrupt(s->ring, &s->stop_req);
	*out = s;
	return KM_OK;
}

static void *engine_main(void *arg)
{
	km_stream *s = arg;
	engine_of_this_thread = s;
	int rc = s->ops->run(s->tstate);
	if (rc != KM_OK && rc != KM_ERR_END && !km__engine_stopping(s))
		km__engine_status(s, KM_STREAM_FAILED, rc);
	return NULL;
}

int km_stream_start(km_stream *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (atomic_load(&s->state) != ST_IDLE || s->thread_running)
		return KM_ERR_STATE;
	atomic_store(&s->stop_req, false);
	char buf[16];
	while (read(s->wake_pipe[0], buf, sizeof buf) > 0)
		;
	km__ring_open(s->ring);
	km__ring_set_idle_code(s->ring, KM_OK);
	km_proto_reasm_reset(s->reasm);
	atomic_store(&s->state, ST_RUNNING);
	s->thread_running = true;
	if (pthread_create(&s->thread, NULL, engine_main, s) != 0) {
		s->thread_running = false;
		atomic_store(&s->state, ST_IDLE);
		return KM_ERR_NO_MEMORY;
	}
	return KM_OK;
}

void km_stream_request_stop(km_stream *s)
{
	if (!s)
		return;
	atomic_store(&s->stop_req, true);
	if (s->wake_pipe[1] >= 0) {
		ssize_t w = write(s->wake_pipe[1], "x", 1);
		(void)w;
	}
}

int km_stream_stop(km_stream *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (engine_of_this_thread == s) {
		km_stream_request_stop(s);
		return KM_OK;
	}
	if (!s->thread_running)
		return KM_OK;
	atomic_store(&s->state, ST_STOPPING);
	km_stream_request_stop(s);
	km__ring_wake(s->ring);
	pthread_join(s->thread, NULL);
	s->thread_running = false;
	atomic_store(&s->state, ST_IDLE);
	return KM_OK;
}

void km_stream_destroy(km_stream *s)
{
	if (!s)
		return;
	if (s->thread_running)
		km_stream_stop(s);
	if (s->ops && s->ops->close)
		s->ops->close(s->tstate);
	km_calibration_destroy(s->cal);
	km_proto_reasm_destroy(s->reasm);
	km__ring_destroy(s->ring);
	km__free(s->read_raw);
	close_wake_pipe(s);
	pthread_mutex_destroy(&s->info_lock);
	km__free(s->serial);
	km__free(s->sim_scenario);
	km__free(s->replay_path);
	km__free(s->calibration_path);
	km__free(s->replay_format);
	km__free(s->replay_units);
	km__free(s->replay_sensor);
	km__free(s);
}

int km_stream_reset(km_stream *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (engine_of_this_thread == s)
		return KM_ERR_STATE; /* not from its own callback */
	km_stream_stop(s);
	km__ring_reset(s->ring);
	km_proto_reasm_reset(s->reasm);
	km_calibration_reset(s->cal);
	for (int i = 0; i < KM__STAT_COUNT; i++)
		atomic_store(&s->stats[i], 0);
	atomic_store(&s->zero_req, false);
	atomic_store(&s->have_seq, false);
	s->zero_armed = false;
	s->have_time = false;
	s->time_offset_us = 0;
	return KM_OK;
}

/* ---- reader side ---- */

int km_stream_read_raw(km_stream *s, struct km_frame *dst, uint16_t *raw, size_t raw_cells,
                       int timeout_ms)
{
	if (!s || !dst || !dst->kpa)
		return KM_ERR_INVALID_ARG;
	if (dst->rows != s->info.rows || dst->cols != s->info.cols)
		return KM_ERR_SHAPE;
	if (raw && raw_cells < s->cells)
		return KM_ERR_OVERFLOW;
	struct km__frame_meta m;
	int rc = km__ring_pop(s->ring, &m, s->read_raw, timeout_ms);
	if (rc != KM_OK)
		return rc;
	km__engine_count(s, KM__STAT_FRAMES_READ, 1);
	uint8_t pf = (uint8_t)(m.flags >> 16);
	if (atomic_exchange(&s->zero_req, false)) {
		s->zero_armed = true;
		s->zero_after_seq = (uint32_t)atomic_load(&s->last_seq);
	}
	/* Zero from frames the device made after the request, once its own
	 * zeroing (if any) is over. */
	if (s->zero_armed && (int32_t)(m.sequence - s->zero_after_seq) > 0 &&
	    !(pf & KM_PROTO_FLAG_ZEROING)) {
		km_calibration_zero(s->cal);
		s->zero_armed = false;
	}
	uint32_t flags = m.flags & 0xFFFFu;
	km_calibration_apply(s->cal, s->read_raw, m.device_time_us, s->cfg.creep_correction,
	                     dst->kpa, &flags);
	dst->pitch_mm = s->info.pitch_mm;
	dst->geometry = s->info.geometry;
	dst->flags = flags;
	dst->sequence = m.sequence;
	dst->dropped_since_last = m.dropped_before;
	dst->device_time_us = m.device_time_us;
	dst->host_time_us = m.host_time_us;
	if (raw)
		memcpy(raw, s->read_raw, s->cells * sizeof *raw);
	return KM_OK;
}

int km_stream_read(km_stream *s, struct km_frame *dst, int timeout_ms)
{
	return km_stream_read_raw(s, dst, NULL, 0, timeout_ms);
}

int km_stream_frame_create(const km_stream *s, struct km_frame **out)
{
	if (!s || !out)
		return KM_ERR_INVALID_ARG;
	return km_frame_create(s->info.rows, s->info.cols, s->info.pitch_mm, s->info.geometry, out);
}

int km_stream_stats(const km_stream *s, struct km_stream_stats *o)
{
	if (!s || !o)
		return KM_ERR_INVALID_ARG;
	km_stream *m = (km_stream *)s;
	memset(o, 0, sizeof *o);
	o->frames_ok = atomic_load(&m->stats[KM__STAT_FRAMES_OK]);
	o->frames_read = atomic_load(&m->stats[KM__STAT_FRAMES_READ]);
	o->bytes = atomic_load(&m->stats[KM__STAT_BYTES]);
	o->transfers = atomic_load(&m->stats[KM__STAT_TRANSFERS]);
	o->crc_errors = atomic_load(&m->stats[KM__STAT_CRC]);
	o->lost_frames = atomic_load(&m->stats[KM__STAT_LOST]);
	o->ring_drops = km__ring_drops(m->ring);
	o->resubmit_failures = atomic_load(&m->stats[KM__STAT_RESUBMIT]);
	o->timeouts = atomic_load(&m->stats[KM__STAT_TIMEOUTS]);
	o->garbled = atomic_load(&m->stats[KM__STAT_GARBLED]);
	o->stalls = atomic_load(&m->stats[KM__STAT_STALLS]);
	o->usb_errors = atomic_load(&m->stats[KM__STAT_USB_ERRORS]);
	o->unplugs = atomic_load(&m->stats[KM__STAT_UNPLUGS]);
	o->reconnects = atomic_load(&m->stats[KM__STAT_RECONNECTS]);
	return KM_OK;
}

int km_stream_device_info(const km_stream *s, struct km_device_info *out)
{
	if (!s || !out)
		return KM_ERR_INVALID_ARG;
	km_stream *m = (km_stream *)s;
	pthread_mutex_lock(&m->info_lock);
	*out = m->info;
	pthread_mutex_unlock(&m->info_lock);
	return KM_OK;
}

const char *km_stream_state_name(const km_stream *s)
{
	if (!s)
		return "unknown";
	switch (atomic_load(&((km_stream *)s)->state)) {
	case ST_IDLE:
		return "idle";
	case ST_RUNNING:
		return "running";
	case ST_STOPPING:
		return "stopping";
	}
	return "unknown";
}

int km_stream_zero(km_stream *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (atomic_load(&s->state) != ST_RUNNING)
		return KM_ERR_STATE;
	int rc = s->ops->control ? s->ops->control(s->tstate, KM_PROTO_REQ_ZERO, 0) : KM_OK;
	if (rc != KM_OK && rc != KM_ERR_UNSUPPORTED)
		return rc;
	atomic_store(&s->zero_req, true);
	return KM_OK;
}

int km_stream_set_rate(km_stream *s, uint16_t rate_hz)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	if (rate_hz < 1 || rate_hz > 1000)
		return KM_ERR_RANGE;
	if (!s->ops->control)
		return KM_ERR_UNSUPPORTED;
	int rc = s->ops->control(s->tstate, KM_PROTO_REQ_SET_RATE, rate_hz);
	if (rc == KM_OK) {
		pthread_mutex_lock(&s->info_lock);
		s->info.rate_hz = rate_hz;
		pthread_mutex_unlock(&s->info_lock);
	}
	return rc;
}

void km__device_info_from_proto(const struct km_proto_info *pi, struct km_device_info *out)
{
	out->rows = pi->rows;
	out->cols = pi->cols;
	out->pitch_mm = (float)pi->pitch_um / 1000.0f;
	out->geometry =
	    pi->geometry == KM_GEOMETRY_CYLINDER ? KM_GEOMETRY_CYLINDER : KM_GEOMETRY_FLAT;
	out->firmware_version = pi->firmware_version;
	out->protocol_version = pi->protocol_version;
	out->rate_hz = pi->rate_hz;
	out->max_counts = (uint16_t)((1u << pi->adc_bits) - 1u);
	snprintf(out->serial, sizeof out->serial, "%s", pi->serial);
}

int km_stream_calibration_blob(const km_stream *s, uint8_t *buf, size_t cap, size_t *size,
                               uint32_t *id)
{
	if (!s || !size)
		return KM_ERR_INVALID_ARG;
	/* The model arrays never change after create: no lock needed. */
	int rc = km_calibration_serialize(s->cal, buf, cap, size);
	if (rc == KM_OK && id)
		*id = km_crc32c(0, buf, *size);
	return rc;
}

/* ---- nominal calibration (the virtual mat's sensor family) ---- */

void km__calibration_creep_from_sim(struct km_calibration_config *cfg, float creep_pct,
                                    float creep_ref_s, float creep_tau_s)
{
	if (!(creep_pct > 0.0f) || !(creep_ref_s > 0.0f) || !(creep_tau_s > 0.0f)) {
		cfg->creep_coeff = 0.0f;
		return;
	}
	cfg->creep_tau_s = creep_tau_s;
	cfg->creep_coeff = creep_pct / 100.0f / log10f(1.0f + creep_ref_s / creep_tau_s);
}

int km__nominal_calibration(struct km_calibration_config *cfg, km_calibration **out)
{
	struct km_sim_config sc = km_sim_config_default();
	km__calibration_creep_from_sim(cfg, sc.creep_pct, sc.creep_ref_s, sc.creep_tau_s);
	cfg->crosstalk = sc.crosstalk_pct / 100.0f;
	cfg->hysteresis = sc.hysteresis_pct / 100.0f;
	cfg->hysteresis_tau_s = sc.hysteresis_tau_s;
	int rc = km_calibration_create(cfg, out);
	if (rc != KM_OK)
		return rc;
	size_t n = (size_t)cfg->rows * cfg->cols;
	float *buf = km__calloc(3 * n, sizeof *buf);
	if (!buf) {
		km_calibration_destroy(*out);
		*out = NULL;
		return KM_ERR_NO_MEMORY;
	}
	for (size_t i = 0; i < n; i++) {
		buf[i] = sc.offset_counts;
		buf[n + i] = sc.scale;
		buf[2 * n + i] = sc.exponent;
	}
	rc = km_calibration_set_power_law(*out, buf, buf + n, buf + 2 * n, n);
	km__free(buf);
	if (rc != KM_OK) {
		km_calibration_destroy(*out);
		*out = NULL;
	}
	return rc;
}
