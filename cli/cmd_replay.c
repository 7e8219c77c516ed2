/* knotmap replay: what a recording (or an imported file) holds - a summary,
 * its frames and events as text, a check of every chunk or line, and the
 * frames as the driver's replay transport delivers them (what `knotmap view
 * --replay` shows). */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"

#define CMD "replay"

#include "session_util.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap replay FILE [--frames] [--events] [--from S] [--count N]\n"
	        "                      [--verify] [--stream] [--format F] [--rate HZ]\n"
	        "                      [--pitch MM] [--units U] [--rows R --cols C]\n"
	        "\n"
	        "Prints what a recording holds: the device, duration, frame and event counts,\n"
	        "whether it was closed cleanly, and where it is damaged if it is.\n"
	        "\n"
	        "  --frames      one line per frame: index, sequence, time (s from the first\n"
	        "                frame), flags, dropped, peak kPa, mean kPa, loaded cells\n"
	        "  --events      one line per event: time, name, track, position, values\n"
	        "  --from S      start at S seconds from the first frame\n"
	        "  --count N     at most N frames (with --frames / --events)\n"
	        "  --verify      check every chunk's CRC (imports: every line); exit 1 if\n"
	        "                the file is damaged\n"
	        "  --stream      play the file through the driver's replay transport, as\n"
	        "                'view --replay' does, and print each frame it delivers\n"
	        "                (imports: with the options below, as the other modes)\n"
	        "  -h, --help    this help\n"
	        "\n"
	        "%s"
	        "\n"
	        "To watch it: knotmap view --replay FILE.kmrec\n"
	        "Exit status: 0 ok, 1 failure (unreadable or, with --verify, damaged file),\n"
	        "2 bad arguments.\n",
	        km_cli_import_usage);
}

static void summary(const char *path, km_rec_reader *r)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	char when[40] = "?";
	time_t t = (time_t)(in->start_unix_us / 1000000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	double dur = km_cli_rec_seconds(in);
	printf("recording %s\n", path);
	printf("  session    %s, started %s\n", in->session_id[0] ? in->session_id : "-", when);
	printf("  device     %s, serial %s, firmware %s",
	       in->device.model[0] ? in->device.model : "-",
	       in->device.serial[0] ? in->device.serial : "-",
	       in->device.firmware[0] ? in->device.firmware : "-");
	if (in->device.usb_vid)
		printf(", usb %04x:%04x", in->device.usb_vid, in->device.usb_pid);
	printf("\n  grid       %u x %u cells, %.1f mm pitch, %s, %.0f Hz\n", in->device.rows,
	       in->device.cols, (double)in->device.pitch_mm,
	       in->device.geometry == KM_GEOMETRY_CYLINDER ? "roller" : "flat",
	       (double)in->device.rate_hz);
	printf("  content    %s%s%s\n", (in->content & KM_REC_KPA) ? "kPa" : "",
	       in->content == (KM_REC_KPA | KM_REC_RAW) ? " + " : "",
	       (in->content & KM_REC_RAW) ? "raw counts" : "");
	if (in->calibration_size)
		printf("  calibration id %" PRIu32 ", %zu bytes\n", in->calibration_id,
		       in->calibration_size);
	printf("  frames     %" PRIu64 " over %.2f s\n  events     %" PRIu64 "\n", in->frame_count,
	       dur, in->event_count);
	printf("  file       %" PRIu64 " bytes, %s\n", in->file_size,
	       in->complete ? "closed cleanly"
	                    : "not closed (recorder stopped early); index rebuilt by scanning");
}

static void damage_line(km_rec_reader *r)
{
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	if (d.damaged)
		printf("  damage     %s at byte %" PRIu64 ": frames from %" PRIu64
		       " on are lost; the ones before are intact\n",
		       km_strerror(d.error), d.byte_offset, d.frame_index);
}

static void print_frame(const struct km_rec_item *it, uint64_t t0)
{
	const struct km_frame *f = it->frame;
	size_t n = km_frame_cells(f), loaded = 0;
	double sum = 0, peak = 0;
	for (size_t i = 0; i < n; i++) {
		double v = f->kpa[i];
		if (!(v >= 0) || !isfinite(v))
			continue;
		sum += v;
		peak = v > peak ? v : peak;
		loaded += v > 1.0; /* 1 kPa: above the noise floor of a typical mat */
	}
	printf("frame %7" PRIu64 "  seq %10" PRIu32 "  t %9.3f s  flags 0x%02" PRIx32
	       "  dropped %3" PRIu32 "  peak %7.2f  mean %6.2f  loaded %zu\n",
	       it->frame_index, f->sequence, (double)(f->device_time_us - t0) / 1e6, f->flags,
	       f->dropped_since_last, peak, n ? sum / (double)n : 0.0, loaded);
}

static void print_event(const struct km_rec_item *it, uint64_t t0)
{
	struct km_event ev;
	km_event_from_record(&it->event, &ev);
	const char *name = ev.type < KM_EVENT_TYPE_COUNT ? km_event_type_name(ev.type) : "UNKNOWN";
	printf("event  %9.3f s  %-14s track %-4" PRIu32 " at (%6.1f, %6.1f) mm",
	       (double)((int64_t)(ev.time_us - t0)) / 1e6, name, ev.track_id, (double)ev.x_mm,
	       (double)ev.y_mm);
	if (ev.reason)
		printf("  reason %s", km_event_reason_name(ev.reason));
	if (ev.load_kpa > 0)
		printf("  load %.1f kPa", (double)ev.load_kpa);
	if (ev.held_s > 0)
		printf("  held %.1f s", (double)ev.held_s);
	if (ev.stiffness_pct != 0)
		printf("  stiffness %+.1f %%", (double)ev.stiffness_pct);
	printf("\n");
}

/* An imported file: summary (read through, so the count and damage are
 * known), or its frames. */
static int run_import(const char *path, km_source *src, bool pitch_guessed, bool frames,
                      bool verify, double from, long count)
{
	const struct km_import_info *ii = km_import_info(km_source_import(src));
	static const char *const origin[] = {"default", "given", "from the file", "from sidecar"};
	uint64_t n = 0, t0 = 0, t1 = 0;
	long shown = 0;
	struct km_rec_item it;
	int rc;
	while ((rc = km_source_next_frame(src, &it)) == KM_OK) {
		if (n == 0)
			t0 = it.frame->device_time_us;
		t1 = it.frame->device_time_us;
		n++;
		if (frames && shown < count &&
		    (double)(it.frame->device_time_us - t0) / 1e6 >= from - 1e-9) {
			print_frame(&it, t0);
			shown++;
		}
		if (frames && shown >= count)
			break;
	}
	struct km_import_damage d;
	km_source_damage(src, &d);
	if (!frames) {
		printf("import %s\n", path);
		printf("  format     %s (%s)\n", km_import_format_name(ii->format), ii->model);
		printf("  grid       %u x %u cells, %.2f mm pitch (%s), flat, %.4g Hz (%s)\n",
		       ii->rows, ii->cols, (double)ii->pitch_mm,
		       pitch_guessed ? "guessed from the body on it" : origin[ii->pitch_from],
		       (double)ii->rate_hz, origin[ii->rate_from]);
		if (ii->row_pitch_mm != ii->col_pitch_mm)
			printf("  cells      %.2f mm between rows x %.2f mm between columns\n",
			       (double)ii->row_pitch_mm, (double)ii->col_pitch_mm);
		char line[160];
		km_cli_cells_line(src, line, sizeof line);
		printf("  mask       %s\n", line);
		if (ii->sensor_count > 1)
			printf("  sensor     %s, %u of %u: %s\n",
			       km_import_sensor_label(km_source_import(src), ii->sensor_index),
			       ii->sensor_index + 1u, (unsigned)ii->sensor_count, ii->sensor);
		km_cli_values_line(src, line, sizeof line);
		printf("  values     %s\n", line);
		printf("  frames     %" PRIu64 " over %.2f s\n", n,
		       n > 1 ? (double)(t1 - t0) / 1e6 : 0.0);
	}
	if (d.damaged) {
		printf("  damage     %s: frames from %" PRIu64 " on are lost\n", d.message,
		       d.frame_index);
		if (verify) {
			fprintf(stderr, "knotmap replay: %s is damaged (see above)\n", path);
			return KM_EXIT_FAILURE;
		}
	} else if (d.skipped_frames) {
		printf("  skipped    %" PRIu64 " frames that do not read (first: %s)\n",
		       d.skipped_frames, d.first_skip);
		if (verify) {
			fprintf(stderr, "knotmap replay: %s is damaged (see above)\n", path);
			return KM_EXIT_FAILURE;
		}
	} else if (verify && n == 0) {
		/* a file with no frames is not a good file */
		fprintf(stderr, "knotmap replay: %s holds no frames\n", path);
		return KM_EXIT_FAILURE;
	} else if (verify) {
		printf("  verified   every line reads\n");
	}
	return KM_EXIT_OK;
}

/* The replay transport ends a damaged import at the damage: its ENDED
 * status carries the code (read once the stream's threads are joined). */
static void on_stream_status(void *user, enum km_stream_status status, int error)
{
	if (status == KM_STREAM_ENDED && error != KM_OK)
		*(int *)user = error;
}

/* The file through the driver's replay transport, as fast as it reads. */
static int run_stream(const char *path, long count, const struct km_cli_import_opts *io)
{
	if (km_cli_check_source(CMD, path, io, NULL) != KM_OK)
		return KM_EXIT_FAILURE;
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = path;
	c.replay_speed = 0.0;
	if (io->format != KM_IMPORT_AUTO)
		c.replay_format = km_import_format_name(io->format);
	if (io->units != KM_UNITS_DEFAULT)
		c.replay_units = km_import_units_name(io->units);
	c.replay_rate_hz = io->rate_hz;
	c.replay_pitch_mm = km_cli_import_pitch(io); /* the stream takes one pitch */
	c.replay_rows = io->rows;
	c.replay_cols = io->cols;
	c.replay_sensor = io->sensor;
	c.replay_partial = io->partial;
	int ended = KM_OK;
	c.status_fn = on_stream_status;
	c.status_user = &ended;
	c.log = km_cli_log();
	km_stream *s = NULL;
	int rc = km_stream_create(&c, &s);
	if (rc != KM_OK) {
		km_cli_error(CMD, "run with -v for details", "cannot replay '%s': %s", path,
		             km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	struct km_device_info info;
	km_stream_device_info(s, &info);
	printf("stream %s: %u x %u cells, %.2f mm pitch, %u Hz\n", info.location, info.rows,
	       info.cols, (double)info.pitch_mm, info.rate_hz);
	struct km_frame *f = NULL;
	rc = km_stream_frame_create(s, &f);
	if (rc == KM_OK)
		rc = km_stream_start(s);
	uint64_t t0 = 0;
	long n = 0;
	while (rc == KM_OK && n < count && (rc = km_stream_read(s, f, 10000)) == KM_OK) {
		if (n == 0)
			t0 = f->device_time_us;
		struct km_rec_item it = {.kind = KM_REC_ITEM_FRAME,
		                         .frame_index = (uint64_t)n,
		                         .frame = f};
		print_frame(&it, t0);
		n++;
	}
	km_stream_destroy(s);
	km_frame_destroy(f);
	if (rc != KM_OK && rc != KM_ERR_END) {
		km_cli_error(CMD, NULL, "replaying '%s' failed: %s", path, km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	if (rc == KM_ERR_END && ended != KM_OK) {
		/* no silent loss: the frames after the damage never came */
		printf("streamed %ld frames\n", n);
		km_cli_error(CMD, "add --partial to skip the frames that do not read",
		             "'%s' is damaged (%s, see above): the stream stopped there", path,
		             km_strerror(ended));
		return KM_EXIT_FAILURE;
	}
	printf("streamed %ld frames\n", n);
	return KM_EXIT_OK;
}

static int run_replay(int argc, char **argv)
{
	const char *path = NULL;
	bool frames = false, events = false, verify = false, stream = false;
	double from = 0;
	long count = LONG_MAX;
	struct km_cli_import_opts io;
	memset(&io, 0, sizeof io);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_next = i + 1 < argc;
		int took = km_cli_import_option(CMD, argc, argv, &i, true, &io);
		if (took < 0)
			return KM_EXIT_USAGE;
		if (took > 0)
			continue;
		if (!strcmp(a, "--stream")) {
			stream = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--frames")) {
			frames = true;
		} else if (!strcmp(a, "--events")) {
			events = true;
		} else if (!strcmp(a, "--verify")) {
			verify = true;
		} else if (!strcmp(a, "--from") && has_next) {
			if (km_cli_parse_double(CMD, "--from", argv[++i], 0, 1e9, &from) != 0)
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--count") && has_next) {
			if (km_cli_parse_long(CMD, "--count", argv[++i], 1, LONG_MAX, &count) != 0)
				return KM_EXIT_USAGE;
		} else if (a[0] == '-' && a[1] != '\0') {
			km_cli_error(CMD, "see 'knotmap replay --help'", "unknown option '%s'", a);
			return KM_EXIT_USAGE;
		} else if (!path) {
			path = a;
		} else {
			km_cli_error(CMD, "see 'knotmap replay --help'", "unexpected argument '%s'",
			             a);
			return KM_EXIT_USAGE;
		}
	}
	if (!path) {
		km_cli_error(CMD, "e.g. knotmap replay ~/.local/share/knotmap/sessions/ID.kmrec",
		             "which recording? give FILE.kmrec");
		return KM_EXIT_USAGE;
	}
	km_cli_import_guess_pitch(CMD, path, &io);
	if (stream)
		return run_stream(path, count, &io);
	km_source *src = NULL;
	if (km_cli_open_source(CMD, path, &io, verify, &src) != KM_OK)
		return KM_EXIT_FAILURE;
	km_rec_reader *r = km_source_rec_reader(src);
	if (!r) {
		km_cli_import_notes(CMD, path, src, &io); /* guessed settings, the sensor read */
		int st = run_import(path, src, io.pitch_guessed, frames, verify, from, count);
		km_source_destroy(src);
		return st;
	}
	const struct km_rec_info *in = km_rec_reader_info(r);
	int status = KM_EXIT_OK;
	if (!frames && !events) {
		summary(path, r);
		damage_line(r);
	} else {
		uint64_t t0 = in->first_time_us;
		int rc = KM_OK;
		if (from > 0) {
			rc = km_rec_reader_seek_time(r, t0 + (uint64_t)llround(from * 1e6));
			if (rc == KM_ERR_RANGE) {
				km_cli_error(CMD, "see the duration with 'knotmap replay FILE'",
				             "--from %.3f s is past the end of the recording",
				             from);
				km_source_destroy(src);
				return KM_EXIT_USAGE;
			}
		}
		long shown = 0;
		struct km_rec_item it;
		while (rc == KM_OK && shown < count && (rc = km_rec_reader_next(r, &it)) == KM_OK) {
			if (it.kind == KM_REC_ITEM_FRAME) {
				if (frames)
					print_frame(&it, t0);
				shown++;
			} else if (events) {
				print_event(&it, t0);
			}
		}
		if (rc != KM_OK && rc != KM_ERR_END) {
			struct km_rec_damage d;
			km_rec_reader_damage(r, &d);
			fprintf(stderr,
			        "knotmap replay: the recording is damaged at byte %" PRIu64
			        " (frame %" PRIu64 "): %s; nothing after it is readable\n",
			        d.byte_offset, d.frame_index, km_strerror(rc));
		}
	}
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	if (verify) {
		if (d.damaged) {
			fprintf(stderr, "knotmap replay: %s is damaged (see above)\n", path);
			status = KM_EXIT_FAILURE;
		} else {
			printf("  verified   every chunk's CRC is good\n");
		}
	}
	km_source_destroy(src);
	return status;
}

const struct km_cli_command km_cli_cmd_replay = {
    "replay", "summarise a recording, print its frames and events, check it", run_replay};
