/* knotmap record: frames from a mat (or the virtual mat) into a .kmrec, with the
 * dsp's events, and the session's knots and holds into the history. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "knotmap/body.h"
#include "knotmap/history.h"
#include "knotmap/pipeline.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"
#include "knotmap/session_log.h"

#define CMD "record"
/* The virtual mat's scenario when no mat is plugged in and --sim is not
 * given: the same demo `knotmap view` shows (a first recording has knots). */
#define KM_RECORD_DEMO "tennis-ball-trapezius"

#include "session_util.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap record [--sim SCENARIO | --device SERIAL] [--duration S]\n"
	        "                      [-o FILE] [--force] [--raw] [--seed N] [--fast]\n"
	        "                      [--no-analysis] [--no-history] [--db PATH]\n"
	        "                      [--calibration FILE.kmcal]\n"
	        "\n"
	        "Records pressure frames to a .kmrec file until --duration has passed or you\n"
	        "press Ctrl-C. The dsp runs alongside: its events (knots found, holds and\n"
	        "their outcomes) go into the recording, and the session's knots and holds\n"
	        "into the history (see 'knotmap history').\n"
	        "\n"
	        "  --sim SCENARIO   record the virtual mat running SCENARIO (see\n"
	        "                   'knotmap sim --list')\n"
	        "  --device SERIAL  record the mat with this serial (see 'knotmap devices');\n"
	        "                   default: the first mat plugged in, else the virtual mat\n"
	        "                   running the " KM_RECORD_DEMO " demo (as 'knotmap\n"
	        "                   view')\n"
	        "  --duration S     stop after S seconds of device time, 0.01..86400\n"
	        "                   (default: until Ctrl-C)\n"
	        "  -o, --output F   the recording (default ~/.local/share/knotmap/sessions/\n"
	        "                   <id>.kmrec, created 0600)\n"
	        "  --force          overwrite F if it exists\n"
	        "  --raw            also store the raw ADC counts of every cell, with the\n"
	        "                   calibration in force (replays calibrate the same way)\n"
	        "  --calibration F  the mat's calibration file (see 'knotmap calibrate');\n"
	        "                   default: the one the mat or virtual mat ships with\n"
	        "  --seed N         virtual mat seed (default 1)\n"
	        "  --fast           virtual mat only: run as fast as possible, not in real time\n"
	        "  --no-analysis    do not run the dsp (no events, nothing for the history)\n"
	        "  --no-history     do not add the session to the history\n"
	        "  --db PATH        history database (default ~/.local/share/knotmap/history.db)\n"
	        "  -h, --help       this help\n"
	        "\n"
	        "The file is flushed to disk every second: after a crash or power cut it is\n"
	        "readable up to the last second ('knotmap replay FILE' says what is there).\n"
	        "Exit status: 0 ok, 1 failure (file, disk full, stream), 2 bad arguments,\n"
	        "3 no mat found.\n");
}

static volatile sig_atomic_t stop_requested;
static km_stream *volatile active_stream;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (active_stream)
		km_stream_request_stop(active_stream); /* async-signal-safe */
}

struct rec_state {
	km_rec_writer *w;
	km_session_log *log; /* the history rows: the same fold as analyze and export */
	int64_t start_unix_us;
	uint64_t t0, last_written_us;
	uint64_t events, knots, holds;
	int write_error;
};

static void handle_event(struct rec_state *st, const struct km_event *ev,
                         const struct km_body_model *body)
{
	st->events++;
	if (st->w && !st->write_error) {
		struct km_rec_event r;
		km_event_to_record(ev, &r);
		st->write_error = km_rec_writer_write_event(st->w, &r);
	}
	if (ev->type == KM_EVENT_KNOT_FOUND)
		st->knots++;
	else if (ev->type == KM_EVENT_HOLD_STOPPED)
		st->holds++;
	bool persistent = false;
	/* where on the body, for the history (which matches spots across
	 * sessions on the body, not on the mat; as the viewer's R key) */
	struct km_history_body b;
	bool on_body = ev->type == KM_EVENT_KNOT_FOUND &&
	               km_body_history_position(body, ev->x_mm, ev->y_mm, b.region, sizeof b.region,
	                                        &b.side, &b.lateral_mm, &b.along_pct);
	if (st->log &&
	    km_session_log_event_at(st->log, ev, on_body ? &b : NULL, &persistent) == KM_OK &&
	    persistent) {
		char name[KM_BODY_NAME_MAX];
		if (on_body && km_body_spot_name(body, ev->x_mm, ev->y_mm, name, sizeof name))
			/* the words the viewer and the report use */
			fprintf(stderr,
			        "\nknotmap record: the spot on the %s has been seen for more "
			        "than a week: please see a healthcare professional.\n",
			        name);
		else
			fprintf(stderr,
			        "\nknotmap record: the spot at (%.0f, %.0f) mm has been seen "
			        "for more than a week: please see a healthcare professional.\n",
			        (double)ev->x_mm, (double)ev->y_mm);
	}
}

static void make_session_id(char *buf, size_t cap, int64_t *start_us)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	struct tm tm;
	char when[32] = "session";
	time_t t = ts.tv_sec;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
	unsigned tag = (unsigned)((ts.tv_nsec / 1000) ^ ((long)getpid() << 4)) & 0xFFFFu;
	snprintf(buf, cap, "%s-%04x", when, tag);
}

static int stream_fail(int rc, const char *serial)
{
	const char *hint = NULL;
	if (rc == KM_ERR_NO_DEVICE)
		hint = serial ? "see 'knotmap devices' for the serials plugged in, or use --sim"
		              : "plug the mat in, or try the virtual mat: --sim SCENARIO";
	else if (rc == KM_ERR_PERMISSION)
		hint = km_device_permission_hint();
	else if (rc == KM_ERR_BUSY)
		hint = "another program (another knotmap?) is using the mat";
	else if (rc == KM_ERR_NOT_FOUND)
		hint = "see 'knotmap sim --list' for the scenarios";
	km_cli_error(CMD, hint, "cannot open the stream: %s", km_strerror(rc));
	return km_cli_exit_code(rc) == KM_EXIT_OK ? KM_EXIT_FAILURE : km_cli_exit_code(rc);
}

/* What the command line asked for. */
struct record_opts {
	const char *sim, *serial, *out, *db, *calibration;
	double duration;
	long seed;
	bool force, raw, fast, analysis, history;
};

/* Fills *o; returns -1 to go on, else the exit status (help, usage error). */
static int parse_args(int argc, char **argv, struct record_opts *o)
{
	memset(o, 0, sizeof *o);
	o->seed = 1;
	o->analysis = o->history = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--sim") && has_next) {
			o->sim = argv[++i];
		} else if (!strcmp(a, "--device") && has_next) {
			o->serial = argv[++i];
		} else if (!strcmp(a, "--duration") && has_next) {
			if (km_cli_parse_double(CMD, "--duration", argv[++i], 0.01, 86400,
			                        &o->duration))
				return KM_EXIT_USAGE;
		} else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
			o->out = argv[++i];
		} else if (!strcmp(a, "--seed") && has_next) {
			if (km_cli_parse_long(CMD, "--seed", argv[++i], 0, LONG_MAX, &o->seed))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--calibration") && has_next) {
			o->calibration = argv[++i];
		} else if (!strcmp(a, "--db") && has_next) {
			o->db = argv[++i];
		} else if (!strcmp(a, "--force")) {
			o->force = true;
		} else if (!strcmp(a, "--raw")) {
			o->raw = true;
		} else if (!strcmp(a, "--fast")) {
			o->fast = true;
		} else if (!strcmp(a, "--no-analysis")) {
			o->analysis = false;
		} else if (!strcmp(a, "--no-history")) {
			o->history = false;
		} else {
			km_cli_error(CMD, "see 'knotmap record --help'",
			             a[0] == '-' ? "unknown option or missing value: '%s'"
			                         : "unexpected argument '%s'",
			             a);
			return KM_EXIT_USAGE;
		}
	}
	if (o->sim && o->serial) {
		km_cli_error(CMD, "see 'knotmap record --help'",
		             "--sim and --device cannot be used together");
		return KM_EXIT_USAGE;
	}
	if (o->fast && !o->sim) {
		km_cli_error(CMD, "see 'knotmap record --help'", "--fast needs --sim");
		return KM_EXIT_USAGE;
	}
	if (!o->analysis)
		o->history = false;
	return -1;
}

/* One recording session: what it opened, in the order it opens them. */
struct recorder {
	struct record_opts o;
	char sid[48];
	int64_t start_us;
	char defpath[4096];
	km_stream *s;
	struct km_device_info dev;
	struct km_frame *f;
	uint16_t *counts; /* --raw: the frame's ADC counts */
	uint32_t cal_id;  /* the calibration the raw counts go with */
	km_pipeline *p;   /* NULL: frames only */
	struct rec_state st;
	uint64_t frames, dropped;
};

/* The stream, its frame and the raw counts buffer. Exit status or -1. */
static int open_stream(struct recorder *r)
{
	const struct record_opts *o = &r->o;
	struct km_stream_config sc = km_stream_config_default();
	sc.log = km_cli_log();
	sc.calibration_path = o->calibration;
	if (o->sim) {
		sc.transport = KM_TRANSPORT_SIM;
		sc.sim_scenario = o->sim;
		sc.sim_seed = (uint64_t)o->seed;
		sc.sim_realtime = !o->fast;
	} else if (o->serial) {
		sc.transport = KM_TRANSPORT_LIBUSB;
		sc.serial = o->serial;
	} else {
		/* auto: the mat when one is plugged in, else the virtual mat
		 * running the demo (as `view`), not a quiet mat */
		sc.sim_scenario = KM_RECORD_DEMO;
		sc.sim_seed = (uint64_t)o->seed;
	}
	int rc = km_stream_create(&sc, &r->s);
	if (rc == KM_OK)
		rc = km_stream_device_info(r->s, &r->dev);
	if (rc == KM_OK)
		rc = km_stream_frame_create(r->s, &r->f);
	if (rc == KM_OK && o->raw) {
		r->counts = calloc((size_t)r->dev.rows * r->dev.cols, sizeof *r->counts);
		if (!r->counts)
			rc = KM_ERR_NO_MEMORY;
	}
	return rc == KM_OK ? -1 : stream_fail(rc, o->serial);
}

/* The .kmrec, with the calibration when raw counts are kept. Exit status or -1. */
static int create_writer(struct recorder *r)
{
	const struct record_opts *o = &r->o;
	const struct km_device_info *dev = &r->dev;
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.log = km_cli_log();
	wc.path = o->out;
	wc.overwrite = o->force;
	wc.content = KM_REC_KPA | (o->raw ? KM_REC_RAW : 0u);
	wc.device.rows = dev->rows;
	wc.device.cols = dev->cols;
	wc.device.pitch_mm = dev->pitch_mm;
	wc.device.geometry = dev->geometry;
	wc.device.rate_hz = dev->rate_hz;
	wc.device.usb_vid = dev->vid;
	wc.device.usb_pid = dev->pid;
	snprintf(wc.device.serial, sizeof wc.device.serial, "%s", dev->serial);
	snprintf(wc.device.firmware, sizeof wc.device.firmware, "%u.%u.%u",
	         (unsigned)(dev->firmware_version >> 16),
	         (unsigned)((dev->firmware_version >> 8) & 0xFF),
	         (unsigned)(dev->firmware_version & 0xFF));
	if (dev->transport == KM_TRANSPORT_SIM)
		snprintf(wc.device.model, sizeof wc.device.model, "%.30s (%.30s)", dev->product,
		         o->sim ? o->sim : KM_RECORD_DEMO);
	else
		snprintf(wc.device.model, sizeof wc.device.model, "%s", dev->product);
	snprintf(wc.session_id, sizeof wc.session_id, "%s", r->sid);
	wc.start_unix_us = r->start_us;
	/* Raw counts are only worth keeping with the calibration that reads them. */
	uint8_t *cal_blob = NULL;
	if (o->raw) {
		size_t cal_size = 0;
		if (km_stream_calibration_blob(r->s, NULL, 0, &cal_size, NULL) == KM_ERR_OVERFLOW &&
		    cal_size > 0 && cal_size <= KM_REC_MAX_CALIBRATION &&
		    (cal_blob = malloc(cal_size)) != NULL &&
		    km_stream_calibration_blob(r->s, cal_blob, cal_size, &cal_size, &r->cal_id) ==
		        KM_OK) {
			wc.calibration = cal_blob;
			wc.calibration_size = cal_size;
			wc.calibration_id = r->cal_id;
		} else {
			fprintf(stderr,
			        "knotmap record: warning: the calibration could not be stored "
			        "with the raw counts\n");
			r->cal_id = 0;
		}
	}
	int rc = km_rec_writer_create(&wc, &r->st.w);
	free(cal_blob); /* the writer keeps its own copy */
	if (rc != KM_OK) {
		const char *hint =
		    rc == KM_ERR_EXISTS       ? "add --force to overwrite it, or pick another name"
		    : rc == KM_ERR_NO_SPACE   ? "free some disk space"
		    : rc == KM_ERR_NOT_A_FILE ? "give the path of a regular file"
		    : rc == KM_ERR_PERMISSION ? "check that the folder is writable and the name is "
		                                "not a symbolic link"
		                              : "check that the folder is writable";
		km_cli_error(CMD, hint, "cannot create '%s': %s", o->out, km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	return -1;
}

/* The dsp pipeline and the history session; each only warns when it fails. */
static void start_analysis(struct recorder *r)
{
	const struct record_opts *o = &r->o;
	bool history = o->history;
	if (o->analysis) {
		struct km_pipeline_config pc = km_pipeline_config_default();
		pc.rows = r->dev.rows;
		pc.cols = r->dev.cols;
		pc.pitch_mm = r->dev.pitch_mm;
		pc.geometry = r->dev.geometry;
		if (r->dev.rate_hz)
			pc.rate_hz = r->dev.rate_hz;
		pc.log = km_cli_log();
		if (km_pipeline_create(&pc, &r->p) != KM_OK) {
			fprintf(stderr, "knotmap record: warning: the analysis could not start; "
			                "recording frames only\n");
			r->p = NULL;
			history = false;
		}
	}
	if (!history)
		return;
	struct km_session_log_config lc = km_session_log_config_default();
	lc.log = km_cli_log();
	lc.db_path = o->db;
	lc.uuid = r->sid;
	lc.start_unix_us = r->start_us;
	/* One format for the history's device column: "sim:<scenario>" for the
	 * virtual mat (also when it stood in for a missing mat), "mat:<serial>". */
	char device[64];
	if (r->dev.transport == KM_TRANSPORT_SIM)
		snprintf(device, sizeof device, "sim:%.59s", o->sim ? o->sim : KM_RECORD_DEMO);
	else
		snprintf(device, sizeof device, "mat:%.59s", r->dev.serial);
	lc.device = device;
	/* the full path: `history` may run from another folder */
	static char abs_path[PATH_MAX + 1], cwd[PATH_MAX];
	lc.recording = o->out;
	if (o->out[0] != '/' && getcwd(cwd, sizeof cwd)) {
		int n = snprintf(abs_path, sizeof abs_path, "%s/%s", cwd, o->out);
		if (n > 0 && (size_t)n < sizeof abs_path)
			lc.recording = abs_path;
	}
	if (km_session_log_create(&lc, &r->st.log) != KM_OK) {
		fprintf(stderr, "knotmap record: warning: the history is not available; "
		                "recording without it\n");
		r->st.log = NULL;
	}
}

/* Frames into the file and the pipeline until Ctrl-C, the duration, the end
 * of a scenario or an error. Returns the error that stopped it, or KM_OK. */
static int record_loop(struct recorder *r)
{
	struct rec_state *st = &r->st;
	struct km_frame *f = r->f;
	size_t cells = (size_t)r->dev.rows * r->dev.cols;
	bool tty = isatty(STDERR_FILENO);
	if (tty)
		fprintf(stderr, "recording to %s (Ctrl-C to stop)\n", r->o.out);
	uint64_t last_status = 0;
	bool unplugged_said = false;
	int end_rc = KM_OK;
	struct km_pipeline_result res;
	while (!stop_requested) {
		int rc = r->o.raw ? km_stream_read_raw(r->s, f, r->counts, cells, 500)
		                  : km_stream_read(r->s, f, 500);
		if (rc == KM_ERR_TIMEOUT || rc == KM_ERR_NO_DEVICE) {
			if (rc == KM_ERR_NO_DEVICE && !unplugged_said) {
				fprintf(stderr, "\nknotmap record: the mat was unplugged; waiting "
				                "for it (Ctrl-C to stop)\n");
				unplugged_said = true;
			}
			/* keep the once-a-second flush while no frames arrive */
			int frc = km_rec_writer_flush(st->w);
			if (frc != KM_OK) {
				end_rc = frc;
				break;
			}
			continue;
		}
		if (rc == KM_ERR_END || rc == KM_ERR_INTERRUPTED)
			break;
		if (rc != KM_OK) {
			end_rc = rc;
			break;
		}
		unplugged_said = false;
		if (r->frames == 0) {
			st->t0 = f->device_time_us;
			km_session_log_first_frame(st->log, st->t0);
		}
		rc = km_rec_writer_write_frame(st->w, f, r->counts, r->cal_id);
		if (rc != KM_OK) {
			end_rc = rc;
			break;
		}
		r->frames++;
		st->last_written_us = f->device_time_us;
		r->dropped += f->dropped_since_last;
		if (r->p && km_pipeline_process(r->p, f, &res) == KM_OK) {
			bool body = res.outline && res.outline->found;
			km_session_log_outline(st->log, body,
			                       body ? res.outline->midline_x_mm : 0.0f,
			                       body ? res.outline->top_mm : 0.0f);
			for (size_t i = 0; i < res.event_count; i++)
				handle_event(st, &res.events[i], res.body);
		}
		if (st->write_error) {
			end_rc = st->write_error;
			break;
		}
		uint64_t t = f->device_time_us - st->t0;
		if (tty && t - last_status >= 1000000u) {
			last_status = t;
			fprintf(stderr,
			        "\r  %8.1f s  %8" PRIu64 " frames  %5" PRIu64 " dropped  %3" PRIu64
			        " knots  %3" PRIu64 " holds ",
			        (double)t / 1e6, r->frames, r->dropped, st->knots, st->holds);
		}
		if (r->o.duration > 0 && (double)t >= r->o.duration * 1e6)
			break;
	}
	if (tty)
		fputc('\n', stderr);
	return end_rc;
}

/* Everything still open (NULL-safe); the history stays for the summary. */
static void recorder_close(struct recorder *r)
{
	km_rec_writer_destroy(r->st.w);
	r->st.w = NULL;
	km_pipeline_destroy(r->p);
	km_stream_destroy(r->s);
	km_frame_destroy(r->f);
	free(r->counts);
	r->p = NULL;
	r->s = NULL;
	r->f = NULL;
	r->counts = NULL;
}

static int run_record(int argc, char **argv)
{
	static struct recorder r; /* large: keep it off the stack */
	memset(&r, 0, sizeof r);
	int status = parse_args(argc, argv, &r.o);
	if (status >= 0)
		return status;
	make_session_id(r.sid, sizeof r.sid, &r.start_us);
	if (!r.o.out) {
		char sub[128];
		snprintf(sub, sizeof sub, "sessions/%s.kmrec", r.sid);
		if (km_history_data_path(sub, r.defpath, sizeof r.defpath) != KM_OK) {
			km_cli_error(CMD, "give the file with -o FILE", "HOME is not set");
			return KM_EXIT_USAGE;
		}
		r.o.out = r.defpath;
	}
	r.st.start_unix_us = r.start_us;
	if ((status = open_stream(&r)) >= 0 || (status = create_writer(&r)) >= 0) {
		recorder_close(&r);
		return status;
	}
	start_analysis(&r);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	struct sigaction old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	active_stream = r.s;
	int rc = km_stream_start(r.s);
	int end_rc = rc == KM_OK ? record_loop(&r) : KM_OK;
	active_stream = NULL;
	if (rc == KM_OK)
		km_stream_stop(r.s);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc != KM_OK) {
		km_session_log_destroy(r.st.log);
		recorder_close(&r);
		return stream_fail(rc, r.o.serial);
	}

	struct km_pipeline_result res;
	if (r.p && km_pipeline_finish(r.p, &res) == KM_OK)
		for (size_t i = 0; i < res.event_count; i++)
			handle_event(&r.st, &res.events[i], res.body);
	int crc = km_rec_writer_close(r.st.w);
	if (end_rc == KM_OK && crc != KM_OK)
		end_rc = crc;
	uint64_t bytes = 0, in_file = 0;
	km_rec_writer_stats(r.st.w, &in_file, NULL, &bytes);
	if (r.st.log) {
		km_session_log_finish(r.st.log, r.st.last_written_us);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		km_session_log_end(r.st.log, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
		/* the mat-time length, as `replay` gives it for the file (first to
		 * last frame written), so `history` agrees without opening it */
		double mat_s = in_file && r.st.last_written_us >= r.st.t0
		                   ? (double)(r.st.last_written_us - r.st.t0) / 1e6
		                   : 0.0;
		km_session_log_mat_seconds(r.st.log, mat_s);
	}
	recorder_close(&r);

	/* The frame count is what the file holds: after a full disk, fewer than
	 * were received. */
	printf("recorded %" PRIu64 " frames (%" PRIu64 " dropped), %" PRIu64 " events, %" PRIu64
	       " knots, %" PRIu64 " holds\n  file    %s (%" PRIu64 " bytes)\n",
	       in_file, r.dropped, r.st.events, r.st.knots, r.st.holds, r.o.out, bytes);
	if (in_file < r.frames)
		printf("  note    %" PRIu64 " frames were received but could not be written\n",
		       r.frames - in_file);
	if (r.st.log) {
		int64_t sid = km_session_log_id(r.st.log);
		printf("  session %" PRId64 " in the history ('knotmap history --show %" PRId64
		       "')\n",
		       sid, sid);
		struct km_history_advice adv;
		if (km_history_advice(km_session_log_history(r.st.log), &adv) == KM_OK &&
		    adv.see_professional)
			printf("  advice  see 'knotmap history': a healthcare professional should "
			       "look at this\n");
		km_session_log_destroy(r.st.log);
	}
	if (end_rc != KM_OK) {
		const char *hint = end_rc == KM_ERR_NO_SPACE
		                       ? "free some disk space; the recording is readable up to "
		                         "where the disk filled"
		                       : NULL;
		km_cli_error(CMD, hint, "recording stopped: %s", km_strerror(end_rc));
		return km_cli_exit_code(end_rc);
	}
	return KM_EXIT_OK;
}

const struct km_cli_command km_cli_cmd_record = {
    "record", "record a session from a mat or the virtual mat to a .kmrec file", run_record};
