/*
 * The viewer's processing thread (docs/architecture.md "Threads"): reads the
 * stream, runs the dsp pipeline, feeds the recorder and publishes a snapshot
 * through the triple buffer for every frame; it never waits for the screen.
 * Commands (zero, record, seek...) arrive through a small mutex-protected
 * mailbox it checks once per frame.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "km_internal.h"
#include "knotmap/import.h"
#include "knotmap/outfile.h"
#include "knotmap/pipeline.h"
#include "proc.h"

/* How long a faulty-cell notice stays after the last frame with one, us. */
#define FAULT_SHOW_US 3000000u

static const double speeds[] = {0.25, 0.5, 1.0, 2.0, 4.0, 8.0};

static void end_history(struct km__vproc *p);

static void push_msg(struct km__vproc *p, enum km_view_level level, uint64_t t_us, const char *text)
{
	memmove(&p->msgs[1], &p->msgs[0], sizeof p->msgs[0] * (KM_VIEW_MAX_MESSAGES - 1));
	p->msgs[0].level = level;
	p->msgs[0].t_us = t_us;
	snprintf(p->msgs[0].text, sizeof p->msgs[0].text, "%s", text);
	if (p->n_msgs < KM_VIEW_MAX_MESSAGES)
		p->n_msgs++;
}

static void play(struct km__vproc *p, const struct km_guided_cue *cues, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		km__log(&p->log, KM_LOG_DEBUG, "guided", "cue %s%s%s", km_cue_name(cues[i].cue),
		        cues[i].phrase ? ": " : "", km_phrase_text(cues[i].phrase));
		if (p->audio)
			km_audio_cue(p->audio, &cues[i]);
	}
}

/* The routine ended (or is being ended): summary text and JSON, written
 * next to the recording when recording. */
static void guided_summary(struct km__vproc *p)
{
	struct km_guided_summary sum;
	if (!p->guided || km_guided_get_summary(p->guided, &sum) != KM_OK)
		return;
	km_guided_summary_text(&sum, p->summary_text, sizeof p->summary_text);
	km_guided_summary_json(&sum, p->summary_json, sizeof p->summary_json);
	p->summary_ready = true;
	p->guided_on = false;
	if (p->rec) {
		char path[600];
		size_t n = strnlen(p->rec_path, sizeof p->rec_path);
		if (n > 6 && !strcmp(p->rec_path + n - 6, ".kmrec"))
			n -= 6;
		snprintf(path, sizeof path, "%.*s.guided.json", (int)n, p->rec_path);
		/* km_outfile: 0600, never through a link or over an existing file */
		struct km_outfile_config oc = km_outfile_config_default();
		oc.path = path;
		oc.log = p->log;
		km_outfile *f = NULL;
		bool ok = km_outfile_open(&oc, &f) == KM_OK &&
		          km_outfile_write(f, p->summary_json, strlen(p->summary_json)) == KM_OK &&
		          km_outfile_commit(f) == KM_OK;
		km_outfile_destroy(f);
		km__log(&p->log, ok ? KM_LOG_INFO : KM_LOG_WARN, "guided", "summary %s %s",
		        ok ? "saved to" : "not saved to", path);
	}
}

void km__view_event_to_rec(const struct km_event *ev, struct km_rec_event *out)
{
	km_event_to_record(ev, out); /* core's one mapping, shared with the CLI */
}

static void on_event(void *user, const struct km_event *ev)
{
	struct km__vproc *p = user;
	/* Free holds get their sounds too; the routine makes its own. */
	struct km_guided_cue cue;
	if (!p->guided_on && p->audio && km_guided_cue_for_event(ev, &cue))
		play(p, &cue, 1);
	char text[KM_VIEW_TEXT_MAX];
	enum km_view_level level = KM_VIEW_INFO;
	char name[KM_VIEW_NAME_MAX];
	km__vpipe_event_name(p->pipe, ev, name, sizeof name);
	if (km__event_text(ev, name, text, sizeof text, &level))
		push_msg(p, level, ev->time_us, text);
	if (p->rec) {
		struct km_rec_event re;
		km__view_event_to_rec(ev, &re);
		km_rec_writer_write_event(p->rec, &re);
		bool persistent = false;
		/* where on the body, for the history (as `knotmap record`) */
		struct km_history_body b;
		bool on_body = ev->type == KM_EVENT_KNOT_FOUND &&
		               km_body_history_position(km__vpipe_body(p->pipe), ev->x_mm, ev->y_mm,
		                                        b.region, sizeof b.region, &b.side,
		                                        &b.lateral_mm, &b.along_pct);
		if (p->slog &&
		    km_session_log_event_at(p->slog, ev, on_body ? &b : NULL, &persistent) == KM_OK &&
		    persistent)
			push_msg(p, KM_VIEW_ALERT, ev->time_us,
			         "Seen for over a week: see a healthcare professional");
	}
}

static void status_cb(void *user, enum km_stream_status status, int error)
{
	struct km__vproc *p = user;
	(void)error;
	if (status == KM_STREAM_UNPLUGGED)
		atomic_store(&p->disconnected, true);
	else if (status == KM_STREAM_RECONNECTED || status == KM_STREAM_CONNECTED)
		atomic_store(&p->disconnected, false);
}

/* With no mat plugged in and no scenario named, show a demo that finds a
 * spot and times a hold within the first minute (the README's promise); the
 * guided routine has a scenario of its own. */
static const char *sim_scenario(const struct km_viewer_options *o)
{
	if (o->scenario)
		return o->scenario;
	return o->guided ? "guided-upper-back" : "tennis-ball-trapezius";
}

static int open_stream(struct km__vproc *p)
{
	struct km_stream_config c = km_stream_config_default();
	const struct km_viewer_options *o = &p->opts;
	switch (o->source) {
	case KM_VIEW_SOURCE_DEVICE:
		c.transport = KM_TRANSPORT_LIBUSB;
		c.serial = o->serial;
		break;
	case KM_VIEW_SOURCE_SIM:
		c.transport = KM_TRANSPORT_SIM;
		break;
	case KM_VIEW_SOURCE_REPLAY:
		c.transport = KM_TRANSPORT_REPLAY;
		c.replay_path = o->replay_path;
		c.replay_format = o->replay_format;
		c.replay_rate_hz = o->replay_rate_hz;
		c.replay_pitch_mm = o->replay_pitch_mm;
		c.replay_units = o->replay_units;
		c.replay_rows = o->replay_rows;
		c.replay_cols = o->replay_cols;
		c.replay_sensor = o->replay_sensor;
		c.replay_partial = o->replay_partial;
		break;
	default:
		c.transport = KM_TRANSPORT_AUTO;
		break;
	}
	c.sim_scenario = sim_scenario(o);
	c.calibration_path = o->calibration_path;
	c.sim_seed = o->seed;
	p->replay = o->source == KM_VIEW_SOURCE_REPLAY;
	/* Replays and sped-up virtual mats are paced here, so pause, speed and
	 * seek work without the stream's help. */
	if (p->replay) {
		c.replay_speed = 0.0;
		p->paced = true;
	} else if (o->source == KM_VIEW_SOURCE_SIM && o->sim_speed != 1.0) {
		c.sim_realtime = false;
		p->paced = true;
	}
	c.status_fn = status_cb;
	c.status_user = p;
	c.log = p->log;
	int err = km_stream_create(&c, &p->stream);
	if (err != KM_OK)
		return err;
	err = km_stream_device_info(p->stream, &p->info);
	if (err == KM_OK && !p->frame)
		err = km_stream_frame_create(p->stream, &p->frame);
	if (err == KM_OK)
		err = km_stream_start(p->stream);
	if (err != KM_OK) {
		km_stream_destroy(p->stream);
		p->stream = NULL;
	}
	return err;
}

void km__vproc_join(struct km__vproc *p)
{
	if (p && p->started) {
		/* The thread sees the flag within one read timeout (100 ms); it
		 * may be reopening the stream (seek), so do not touch p->stream. */
		atomic_store(&p->stop, true);
		pthread_join(p->thread, NULL);
		p->started = false;
	}
}

void km__vproc_destroy(struct km__vproc *p)
{
	if (!p)
		return;
	km__vproc_join(p);
	if (p->guided_on)
		guided_summary(p); /* quit mid-routine: the summary so far */
	if (p->rec) {
		km_rec_writer_close(p->rec);
		km_rec_writer_destroy(p->rec);
		end_history(p);
	}
	km_stream_destroy(p->stream);
	km_guided_destroy(p->guided);
	km__vpipe_destroy(p->pipe);
	km_tribuf_destroy(p->tb);
	km_frame_destroy(p->frame);
	pthread_mutex_destroy(&p->lock);
	km__free(p);
}

/* What the pipeline needs of a replayed file that its frames do not say:
 * its row and column pitch (0: the frames' pitch) and sensor mask (NULL:
 * all cells; a copy, the caller frees it). */
struct replay_grid {
	float row_pitch_mm, col_pitch_mm;
	uint8_t *mask; /* [rows x cols] */
	uint16_t rows, cols;
};

int km__vproc_replay_source(const struct km_viewer_options *o, km_source **out)
{
	*out = NULL;
	struct km_source_config sc = km_source_config_default();
	sc.path = o->replay_path;
	int rc = KM_OK;
	if (o->replay_format)
		rc = km_import_format_parse(o->replay_format, &sc.import.format);
	if (rc == KM_OK && o->replay_units)
		rc = km_import_units_parse(o->replay_units, &sc.import.units);
	if (rc != KM_OK)
		return rc;
	sc.import.rate_hz = o->replay_rate_hz;
	sc.import.pitch_mm = o->replay_pitch_mm;
	sc.import.rows = o->replay_rows;
	sc.import.cols = o->replay_cols;
	sc.import.sensor = o->replay_sensor;
	sc.import.partial = o->replay_partial;
	return km_source_create(&sc, out);
}

/* Whether a replay's values are raw counts (an import without units, or
 * --units counts). The stream hands its frames over as kPa, unflagged, so
 * the file is asked here (its header only, quietly: the stream's own open
 * says what it found); also fills *g. */
static bool replay_is_counts(const struct km_viewer_options *o, struct replay_grid *g)
{
	memset(g, 0, sizeof *g);
	if (o->source != KM_VIEW_SOURCE_REPLAY || !o->replay_path)
		return false;
	km_source *src = NULL;
	if (km__vproc_replay_source(o, &src) != KM_OK)
		return false;
	const struct km_source_info *in = km_source_info(src);
	bool counts = in->format != KM_IMPORT_KMREC && in->units == KM_UNITS_RAW;
	g->row_pitch_mm = in->row_pitch_mm;
	g->col_pitch_mm = in->col_pitch_mm;
	g->rows = in->device.rows;
	g->cols = in->device.cols;
	size_t cells = (size_t)g->rows * (size_t)g->cols;
	if (in->mask && (g->mask = km__calloc(cells, 1)) != NULL)
		memcpy(g->mask, in->mask, cells);
	km_source_destroy(src);
	return counts;
}

int km__vproc_create(const struct km_viewer_options *opts, struct km__vproc **out)
{
	*out = NULL;
	struct km__vproc *p = km__calloc(1, sizeof *p);
	if (!p)
		return KM_ERR_NO_MEMORY;
	p->opts = *opts;
	p->log = opts->log;
	p->speed = p->opts.source == KM_VIEW_SOURCE_SIM ? opts->sim_speed : 1.0;
	pthread_mutex_init(&p->lock, NULL);
	int err = open_stream(p);
	struct replay_grid rg = {0.0f, 0.0f, NULL, 0, 0};
	if (err == KM_OK)
		p->counts = replay_is_counts(opts, &rg);
	if (err == KM_OK)
		err = km_tribuf_create(p->info.rows, p->info.cols, p->info.pitch_mm,
		                       p->info.geometry, &p->tb);
	if (err == KM_OK) {
		struct km_guided_config gc = opts->guided_config;
		gc.log = p->log;
		err = km_guided_create(&gc, &p->guided);
	}
	if (err != KM_OK) {
		km__free(rg.mask);
		km__vproc_destroy(p);
		return err;
	}
	p->guided_pending = opts->guided;
	/* a replayed file's oblong cells and sensor mask: the frames carry
	 * neither (only the grid's shape must agree) */
	bool fits = rg.mask && rg.rows == p->frame->rows && rg.cols == p->frame->cols;
	int perr = km__vpipe_create_grid(p->frame, (float)p->info.rate_hz, rg.row_pitch_mm,
	                                 rg.col_pitch_mm, fits ? rg.mask : NULL, &p->log, &p->pipe);
	km__free(rg.mask);
	if (perr != KM_OK)
		km__log(&p->log, KM_LOG_WARN, "viewer", "no spot detection or hold timing: %s",
		        km_strerror(perr));
	*out = p;
	return KM_OK;
}

void km__vproc_send(struct km__vproc *p, enum km__vcmd cmd, double arg)
{
	struct km__vmailbox *b = &p->box;
	pthread_mutex_lock(&p->lock);
	switch (cmd) {
	case KM__VCMD_ZERO:
		b->zero = true;
		break;
	case KM__VCMD_RECORD:
		b->rec_toggle = !b->rec_toggle;
		break;
	case KM__VCMD_SYMPTOMS:
		b->symptoms = true;
		break;
	case KM__VCMD_STEP:
		b->step = true;
		break;
	case KM__VCMD_PAUSE:
		b->toggle_pause = !b->toggle_pause;
		break;
	case KM__VCMD_GUIDED:
		b->guided_toggle = !b->guided_toggle;
		break;
	case KM__VCMD_SKIP:
		b->guided_skip = true;
		break;
	case KM__VCMD_SEEK:
		b->seek_s += arg;
		break;
	case KM__VCMD_SPEED:
		b->speed_step += arg > 0 ? 1 : -1;
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Sleeps up to us microseconds in slices, returning early on stop. */
static void nap(struct km__vproc *p, uint64_t us)
{
	while (us > 0 && !atomic_load(&p->stop)) {
		uint64_t slice = KM_MIN(us, (uint64_t)20000);
		struct timespec ts = {0, (long)(slice * 1000)};
		nanosleep(&ts, NULL);
		us -= slice;
	}
}

static void pace(struct km__vproc *p, uint64_t dev_us)
{
	if (!p->paced || p->seeking)
		return;
	uint64_t now = km_time_monotonic_us();
	if (!p->anchor_valid || dev_us < p->anchor_dev) {
		p->anchor_valid = true;
		p->anchor_wall = now;
		p->anchor_dev = dev_us;
		return;
	}
	double due = (double)p->anchor_wall + (double)(dev_us - p->anchor_dev) / p->speed;
	if (due > (double)now)
		nap(p, (uint64_t)(due - (double)now));
	else if ((double)now - due > 250000.0)
		p->anchor_valid = false; /* fell behind: carry on, do not sprint */
}

static int64_t wall_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The session's end as `knotmap record` stores it: holds still running with
 * their length so far, the wall-clock end, and the mat-time length of the
 * frames written (first to last, as `replay` gives it for the file). */
static void end_history(struct km__vproc *p)
{
	if (!p->slog)
		return;
	if (p->rec_frames > 0)
		km_session_log_finish(p->slog, p->rec_last_dev);
	km_session_log_end(p->slog, wall_now_us());
	km_session_log_mat_seconds(p->slog, p->rec_frames > 0 && p->rec_last_dev >= p->rec_first_dev
	                                        ? (double)(p->rec_last_dev - p->rec_first_dev) / 1e6
	                                        : 0.0);
	km_session_log_destroy(p->slog);
	p->slog = NULL;
}

/* The new recording's session row; only a warning when the history cannot
 * be opened (the recording goes on). */
static void start_history(struct km__vproc *p, const char *stamp, int64_t start_unix_us)
{
	char device[64];
	if (p->info.transport == KM_TRANSPORT_SIM)
		snprintf(device, sizeof device, "sim:%.59s", sim_scenario(&p->opts));
	else if (p->info.transport == KM_TRANSPORT_REPLAY)
		snprintf(device, sizeof device, "replay");
	else
		snprintf(device, sizeof device, "%.63s", p->info.serial);
	struct km_session_log_config lc = km_session_log_config_default();
	lc.db_path = p->opts.history_path;
	lc.uuid = stamp;
	lc.start_unix_us = start_unix_us;
	lc.device = device;
	lc.recording = p->rec_path;
	lc.log = p->log;
	if (km_session_log_create(&lc, &p->slog) != KM_OK) {
		p->slog = NULL;
		km__log(&p->log, KM_LOG_WARN, "viewer",
		        "the history is not available; recording %s without it", p->rec_path);
		return;
	}
	/* Events from here on are at or after the last frame shown. */
	km_session_log_first_frame(p->slog, p->last_dev);
}

static void rec_toggle(struct km__vproc *p, uint64_t t_us)
{
	if (p->rec) {
		int err = km_rec_writer_close(p->rec);
		km_rec_writer_destroy(p->rec);
		p->rec = NULL;
		end_history(p);
		char line[KM_VIEW_TEXT_MAX];
		snprintf(line, sizeof line, "Recording stopped%s",
		         err == KM_OK ? "" : " (write error)");
		push_msg(p, err == KM_OK ? KM_VIEW_INFO : KM_VIEW_WARN, t_us, line);
		return;
	}
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char dir[400];
	if (xdg && *xdg)
		snprintf(dir, sizeof dir, "%s/knotmap/sessions", xdg);
	else
		snprintf(dir, sizeof dir, "%s/.local/share/knotmap/sessions", home ? home : ".");
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	snprintf(p->rec_path, sizeof p->rec_path, "%s/%s.kmrec", dir, stamp);

	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.log = p->log;
	c.path = p->rec_path;
	c.device.rows = p->info.rows;
	c.device.cols = p->info.cols;
	c.device.pitch_mm = p->info.pitch_mm;
	c.device.geometry = p->info.geometry;
	c.device.rate_hz = (float)p->info.rate_hz;
	c.device.usb_vid = p->info.vid;
	c.device.usb_pid = p->info.pid;
	snprintf(c.device.serial, sizeof c.device.serial, "%s", p->info.serial);
	snprintf(c.device.firmware, sizeof c.device.firmware, "%u.%u.%u",
	         (unsigned)(p->info.firmware_version >> 16) & 0xffu,
	         (unsigned)(p->info.firmware_version >> 8) & 0xffu,
	         (unsigned)p->info.firmware_version & 0xffu);
	snprintf(c.device.model, sizeof c.device.model, "%s", p->info.product);
	snprintf(c.session_id, sizeof c.session_id, "%s", stamp);
	int64_t start_unix_us = wall_now_us();
	c.start_unix_us = start_unix_us;
	int err = km_rec_writer_create(&c, &p->rec);
	p->rec_frames = 0;
	if (err == KM_OK)
		start_history(p, stamp, start_unix_us);
	char line[KM_VIEW_TEXT_MAX];
	if (err == KM_OK)
		snprintf(line, sizeof line, "Recording to %s.kmrec", stamp);
	else
		snprintf(line, sizeof line, "Cannot record: %s", km_strerror(err));
	push_msg(p, err == KM_OK ? KM_VIEW_GOOD : KM_VIEW_WARN, t_us, line);
}

/* Backward seeks reopen the recording and run forward to the target. */
static void seek(struct km__vproc *p, double delta_s)
{
	if (!p->replay || !p->have_first)
		return;
	double pos = (double)(p->last_dev - p->first_dev) / 1e6;
	double target = KM_MAX(0.0, pos + delta_s);
	if (delta_s < 0) {
		km_stream_destroy(p->stream);
		p->stream = NULL;
		int err = open_stream(p);
		if (err != KM_OK) {
			atomic_store(&p->fatal, err);
			return;
		}
		km__vpipe_reset(p->pipe);
		p->have_first = false;
		p->ended = false;
	}
	p->seeking = true;
	p->seek_target_dev = (uint64_t)(target * 1e6); /* relative to first_dev */
	p->anchor_valid = false;
}

/* Returns whether any command arrived (the status is then re-published). */
static bool apply_commands(struct km__vproc *p)
{
	struct km__vmailbox b, none;
	memset(&none, 0, sizeof none);
	pthread_mutex_lock(&p->lock);
	b = p->box;
	p->box = none;
	pthread_mutex_unlock(&p->lock);
	if (!memcmp(&b, &none, sizeof b))
		return false;
	uint64_t t = p->last_dev;
	if (b.zero) {
		int err = km_stream_zero(p->stream);
		push_msg(p, err == KM_OK ? KM_VIEW_INFO : KM_VIEW_WARN, t,
		         err == KM_OK ? "Zeroing: keep the mat unloaded" : "Zero not possible now");
	}
	if (b.rec_toggle)
		rec_toggle(p, t);
	if (b.symptoms) {
		km__vpipe_symptoms(p->pipe, t);
		push_msg(p, KM_VIEW_ALERT, t,
		         "Symptoms logged: stop and see a healthcare professional");
		if (p->rec) {
			struct km_rec_event re;
			memset(&re, 0, sizeof re);
			re.type = KM_EVENT_SEEK_ADVICE;
			re.subtype = KM_REASON_SYMPTOMS;
			re.time_us = t;
			km_rec_writer_write_event(p->rec, &re);
		}
	}
	struct km_guided_cue cues[16];
	size_t n = 0;
	if (b.symptoms && p->guided_on &&
	    km_guided_red_flag(p->guided, t, cues, KM_ARRAY_SIZE(cues), &n) == KM_OK) {
		play(p, cues, n);
		guided_summary(p);
	}
	if (b.guided_toggle) {
		if (p->guided_on) {
			guided_summary(p);
			km_guided_reset(p->guided);
			push_msg(p, KM_VIEW_INFO, t, "Guided routine ended");
		} else {
			p->guided_pending = true;
		}
	}
	if (b.guided_skip && p->guided_on &&
	    km_guided_skip(p->guided, t, cues, KM_ARRAY_SIZE(cues), &n) == KM_OK)
		play(p, cues, n);
	if (b.toggle_pause && p->paced) {
		p->paused = !p->paused;
		p->anchor_valid = false;
	}
	if (b.speed_step) {
		size_t i = 0;
		while (i + 1 < KM_ARRAY_SIZE(speeds) && speeds[i] < p->speed - 1e-9)
			i++;
		int j = (int)i + (b.speed_step > 0 ? 1 : -1);
		j = KM_CLAMP(j, 0, (int)KM_ARRAY_SIZE(speeds) - 1);
		if (p->paced) {
			p->speed = speeds[j];
			p->anchor_valid = false;
		}
	}
	if (b.seek_s != 0.0)
		seek(p, b.seek_s);
	if (b.step && p->paused)
		p->step_pending = true;
	return true;
}

static void fill_stats(struct km__vproc *p, struct km_view_snapshot *s, const struct km_frame *f)
{
	struct km_view_stats *st = &s->stats;
	struct km_stream_stats ss;
	memset(&ss, 0, sizeof ss);
	km_stream_stats(p->stream, &ss);
	if (p->info.transport == KM_TRANSPORT_SIM)
		snprintf(st->device, sizeof st->device, "virtual mat (%s)", sim_scenario(&p->opts));
	else if (p->info.transport == KM_TRANSPORT_REPLAY)
		snprintf(st->device, sizeof st->device, "replay: %.54s", p->info.location);
	else
		snprintf(st->device, sizeof st->device, "%.31s %.31s", p->info.product,
		         p->info.serial);
	snprintf(st->transport, sizeof st->transport, "%s", km_transport_name(p->info.transport));
	st->detection_off = !km__vpipe_running(p->pipe);
	st->raw_units = (f->flags & KM_FRAME_UNCALIBRATED) != 0;
	st->guard_off = p->guard_off;
	/* the pipeline's own config says it (KM_PIPELINE_COARSE follows it) */
	st->coarse_mm = km__vpipe_running(p->pipe) ? km__vpipe_coarse_mm(p->pipe) : 0.0f;
	st->coarse = st->coarse_mm > 0.0f;
	st->pitch_guessed = p->info.transport == KM_TRANSPORT_REPLAY && p->opts.replay_pitch_guessed;
	/* Faulty cells stay on screen a few seconds after the last frame that
	 * had them: an intermittent cell does not blink the notice. */
	if (f && (f->flags & KM_FRAME_BAD_CELLS))
		p->bad_seen_us = KM_MAX(f->device_time_us, 1);
	if (f && (f->flags & KM_FRAME_SATURATED))
		p->sat_seen_us = KM_MAX(f->device_time_us, 1);
	st->bad_cells = p->bad_seen_us && p->last_dev < p->bad_seen_us + FAULT_SHOW_US;
	st->n_bad_cells = st->bad_cells ? p->n_bad_cells : 0;
	st->saturated = p->sat_seen_us && p->last_dev < p->sat_seen_us + FAULT_SHOW_US;
	st->rate_hz = p->dt_ewma_us > 0 ? (float)(1e6 / p->dt_ewma_us) : (float)p->info.rate_hz;
	st->frames_ok = p->frames_shown;
	st->frames_lost = ss.lost_frames + ss.ring_drops;
	st->crc_errors = ss.crc_errors;
	uint64_t now = km_time_monotonic_us();
	/* Arrival (or, when paced, the moment the frame was due) to publish. */
	st->latency_ms =
	    f && p->ready_us && now >= p->ready_us ? (float)(now - p->ready_us) / 1000.0f : 0.0f;
	st->session_s = p->have_first ? (double)(p->last_dev - p->first_dev) / 1e6 : 0.0;
	float sum = 0.0f, peak = 0.0f;
	if (f) {
		size_t n = km_frame_cells(f);
		for (size_t i = 0; i < n; i++) {
			sum += f->kpa[i];
			peak = KM_MAX(peak, f->kpa[i]);
		}
		/* kPa x mm^2 = 1e-3 N. */
		st->total_load_n = sum * f->pitch_mm * f->pitch_mm * 1e-3f;
	}
	st->peak_kpa = peak;
	st->recording = p->rec != NULL;
	snprintf(st->record_path, sizeof st->record_path, "%.95s", p->rec ? p->rec_path : "");
	st->replay = p->replay;
	st->replay_paused = p->paused;
	st->replay_speed = (float)p->speed;
	st->replay_pos_s = st->session_s;
	st->ended = p->ended;
	st->disconnected = atomic_load(&p->disconnected);
	s->n_messages = p->n_msgs;
	for (size_t i = 0; i < p->n_msgs; i++) {
		s->messages[i].level = p->msgs[i].level;
		s->messages[i].age_s = p->last_dev >= p->msgs[i].t_us
		                           ? (double)(p->last_dev - p->msgs[i].t_us) / 1e6
		                           : 0.0;
		memcpy(s->messages[i].text, p->msgs[i].text, sizeof s->messages[i].text);
	}
}

/* Re-publishes the last frame with new stats (pause, end, unplug). */
static void publish_status(struct km__vproc *p)
{
	struct km_view_snapshot *s = km_tribuf_write_slot(p->tb);
	if (p->have_first)
		km_frame_copy(s->frame, p->frame);
	fill_stats(p, s, p->have_first ? p->frame : NULL);
	km_tribuf_publish(p->tb);
}

static void guided_frame(struct km__vproc *p, struct km_view_snapshot *s, const struct km_frame *f)
{
	struct km_guided_cue cues[32];
	size_t n = 0;
	if (p->guided_pending && p->guided) {
		p->guided_pending = false;
		if (km_guided_start(p->guided, f->device_time_us, cues, KM_ARRAY_SIZE(cues), &n) ==
		    KM_OK) {
			p->guided_on = true;
			p->summary_ready = false;
			play(p, cues, n);
			push_msg(p, KM_VIEW_GOOD, f->device_time_us,
			         "Guided routine: lie flat and still for the scan");
		}
	}
	const struct km_pipeline_result *res = km__vpipe_result(p->pipe);
	struct km_guided_input in;
	/* the outline's rows are the row pitch apart (true mm along y) */
	float row_pitch = s->pos_row_pitch_mm > 0.0f ? s->pos_row_pitch_mm : f->pitch_mm;
	if (p->guided_on && res && km_guided_input_from_pipeline(res, row_pitch, &in) == KM_OK &&
	    km_guided_update(p->guided, &in, cues, KM_ARRAY_SIZE(cues), &n) == KM_OK)
		play(p, cues, n);
	km_guided_get_view(p->guided, &s->guided);
	if (p->guided_on &&
	    (s->guided.state == KM_GUIDED_DONE || s->guided.state == KM_GUIDED_STOPPED))
		guided_summary(p);
	s->sound = p->audio && !km_audio_muted(p->audio);
	s->volume = p->audio ? km_audio_volume(p->audio) : 0.0f;
}

static void *proc_main(void *arg)
{
	struct km__vproc *p = arg;
	/* Paused, ended or unplugged, the status is published when it changes
	 * (a command, the state itself), not on a timer: the screen can idle. */
	bool stale = true, shown_unplugged = false;
	while (!atomic_load(&p->stop)) {
		if (apply_commands(p))
			stale = true;
		if (atomic_load(&p->fatal) != KM_OK)
			break;
		bool step = p->step_pending;
		p->step_pending = false;
		if (p->paused && !step && !p->seeking) {
			if (stale)
				publish_status(p);
			stale = false;
			nap(p, 10000);
			continue;
		}
		int err = km_stream_read(p->stream, p->frame, 100);
		if (err == KM_ERR_TIMEOUT)
			continue;
		if (err == KM_ERR_NO_DEVICE) {
			atomic_store(&p->disconnected, true);
			if (stale || !shown_unplugged)
				publish_status(p);
			stale = false;
			shown_unplugged = true;
			nap(p, 50000);
			continue;
		}
		if (err == KM_ERR_END) {
			if (stale || !p->ended) {
				p->ended = true;
				p->seeking = false;
				publish_status(p);
			}
			stale = false;
			nap(p, 50000);
			continue;
		}
		if (err == KM_ERR_INTERRUPTED)
			break;
		if (err != KM_OK) {
			atomic_store(&p->fatal, err);
			break;
		}
		stale = true;
		shown_unplugged = false;
		if (p->counts)
			p->frame->flags |= KM_FRAME_UNCALIBRATED; /* relative rules only */
		const struct km_frame *f = p->frame;
		if (!p->have_first) {
			p->have_first = true;
			p->first_dev = f->device_time_us;
			p->last_dev = f->device_time_us;
		}
		if (f->device_time_us > p->last_dev) {
			double dt = (double)(f->device_time_us - p->last_dev);
			p->dt_ewma_us = p->dt_ewma_us > 0 ? p->dt_ewma_us * 0.95 + dt * 0.05 : dt;
		}
		p->last_dev = f->device_time_us;
		if (p->seeking && f->device_time_us - p->first_dev >= p->seek_target_dev)
			p->seeking = false;
		pace(p, f->device_time_us);
		p->ready_us = KM_MAX(f->host_time_us, p->paced ? km_time_monotonic_us() : 0);

		struct km_view_snapshot *s = km_tribuf_write_slot(p->tb);
		km_frame_copy(s->frame, f);
		if (p->pipe) {
			int perr = km__vpipe_process(p->pipe, f, s, on_event, p);
			if (perr != KM_OK)
				km__log(&p->log, KM_LOG_DEBUG, "viewer", "pipeline: %s",
				        km_strerror(perr));
			/* Events arrive during processing, so knots are placed on
			 * the body outline of the frame before (10 ms earlier). */
			const struct km_pipeline_result *res = km__vpipe_result(p->pipe);
			if (res && (res->flags & KM_PIPELINE_GUARD_OFF))
				p->guard_off = true;
			if (res && (res->flags & KM_PIPELINE_BAD_CELLS)) {
				p->n_bad_cells =
				    (uint32_t)KM_MIN(res->bad_cells, (size_t)UINT32_MAX);
				p->bad_seen_us = KM_MAX(f->device_time_us, 1);
			}
			if (p->slog && res) {
				bool body = res->outline && res->outline->found;
				km_session_log_outline(p->slog, body,
				                       body ? res->outline->midline_x_mm : 0.0f,
				                       body ? res->outline->top_mm : 0.0f);
			}
		} else {
			s->n_markers = 0;
			s->hold.state = KM_VIEW_HOLD_IDLE;
			s->outline_valid = false;
			s->centre_valid = false;
			s->tensing = false;
		}
		guided_frame(p, s, f);
		if (p->rec && km_rec_writer_write_frame(p->rec, f, NULL, 0) == KM_OK) {
			if (p->rec_frames++ == 0)
				p->rec_first_dev = f->device_time_us;
			p->rec_last_dev = f->device_time_us;
		}
		p->frames_shown++;
		fill_stats(p, s, f);
		km_tribuf_publish(p->tb);
	}
	return NULL;
}

int km__vproc_start(struct km__vproc *p, km_audio *audio)
{
	/* Set before the thread runs: it reads audio from its first frame. */
	p->audio = audio;
	if (pthread_create(&p->thread, NULL, proc_main, p) != 0)
		return KM_ERR_NO_MEMORY;
	p->started = true;
	return KM_OK;
}

void km__vproc_finish_guided(struct km__vproc *p)
{
	if (p && p->guided_on)
		guided_summary(p);
}
