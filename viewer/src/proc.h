/* Internal to the viewer: the processing thread (see proc.c). It reads the
 * stream, runs the dsp pipeline, feeds the recorder and publishes a snapshot
 * through the triple buffer for every frame; the main thread (app.c) talks
 * to it through a small mailbox and reads the triple buffer. */
#ifndef KM_VIEWER_PROC_H
#define KM_VIEWER_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "glue.h"
#include "knotmap/audio.h"
#include "knotmap/guided.h"
#include "knotmap/import.h"
#include "knotmap/recording.h"
#include "knotmap/session_log.h"
#include "knotmap/stream.h"
#include "knotmap/tribuf.h"
#include "knotmap/viewer.h"

/* Commands from the main thread, applied once per frame. */
enum km__vcmd {
	KM__VCMD_ZERO,
	KM__VCMD_RECORD,   /* toggles recording */
	KM__VCMD_SYMPTOMS, /* numbness / tingling / radiating pain logged */
	KM__VCMD_STEP,     /* one frame while paused */
	KM__VCMD_PAUSE,    /* toggles */
	KM__VCMD_GUIDED,   /* toggles the guided routine */
	KM__VCMD_SKIP,     /* guided: skip a spot */
	KM__VCMD_SEEK,     /* arg: relative seek, s (replay) */
	KM__VCMD_SPEED,    /* arg > 0 faster, < 0 slower */
};

struct km__vmailbox {
	bool zero, rec_toggle, symptoms, step, toggle_pause, guided_toggle, guided_skip;
	double seek_s;  /* relative seek request, s (replay) */
	int speed_step; /* +1 / -1 steps through the speed table */
};

struct km__vmsg {
	enum km_view_level level;
	uint64_t t_us;
	char text[KM_VIEW_TEXT_MAX];
};

struct km__vproc {
	struct km_viewer_options opts;
	struct km_log log;
	km_stream *stream;
	struct km_device_info info;
	struct km_frame *frame;
	km_tribuf *tb;
	struct km__vpipe *pipe;

	pthread_t thread;
	bool started;
	atomic_bool stop;
	atomic_int fatal;
	atomic_bool disconnected;
	pthread_mutex_t lock;
	struct km__vmailbox box;

	/* Owned by the processing thread once started. */
	bool replay, paced, paused, step_pending;
	double speed;
	bool anchor_valid;
	uint64_t anchor_wall, anchor_dev;
	uint64_t ready_us; /* when the current frame was due (after pacing) */
	/* Frames this thread has taken from the stream and published: the
	 * count of the frame on screen (the stream's own count runs ahead by
	 * what waits in its ring). */
	uint64_t frames_shown;
	/* Faulty cells last seen (device time, us) and how many read bad. */
	uint64_t bad_seen_us, sat_seen_us;
	uint32_t n_bad_cells;
	bool have_first;
	uint64_t first_dev, last_dev;
	double dt_ewma_us;
	bool seeking;
	uint64_t seek_target_dev;
	bool ended;
	km_rec_writer *rec;
	char rec_path[512];
	/* The recording's history rows (start, end, device, path, knots and
	 * holds), as `knotmap record` keeps them; NULL when not recording or the
	 * history is not available. */
	km_session_log *slog;
	/* Frames written to the recording, and the first and last one's device
	 * time: the session's mat-time length in the history. */
	uint64_t rec_frames, rec_first_dev, rec_last_dev;
	/* The replay's values are raw counts: its frames are flagged
	 * KM_FRAME_UNCALIBRATED, so the pipeline runs the relative rules only. */
	bool counts;
	/* The pipeline said the tensing-up guard is off (low rate); latched, as
	 * the rate is the stream's, and skipped frames carry no result. */
	bool guard_off;
	struct km__vmsg msgs[KM_VIEW_MAX_MESSAGES];
	size_t n_msgs;

	/* Guided routine and sound (audio is the main thread's; this thread is
	 * its one producer of cues). */
	km_guided *guided;
	km_audio *audio;
	bool guided_pending; /* start at the next frame */
	bool guided_on;      /* a routine is running */
	bool summary_ready;
	char summary_text[4096];
	char summary_json[8192];
};

/* Opens the stream, the triple buffer, the guided routine and the pipeline
 * (a pipeline that cannot start is logged; the view carries on without
 * spots). KM_OK or the first error. */
int km__vproc_create(const struct km_viewer_options *opts, struct km__vproc **out);
/* Opens a replay's file as the options describe it (format, units, rate,
 * pitch, grid, sensor, partial reading), for a look at its header; the
 * stream opens its own. KM_OK or the source's / the parser's code. */
int km__vproc_replay_source(const struct km_viewer_options *opts, km_source **out);
/* Starts the thread; audio (may be NULL) receives the cues. KM_OK or
 * KM_ERR_NO_MEMORY. */
int km__vproc_start(struct km__vproc *p, km_audio *audio);
/* Stops and joins the thread (within one read timeout). NULL ok. */
void km__vproc_join(struct km__vproc *p);
/* Joins, writes the guided summary if a routine was running, closes the
 * recording, frees everything. NULL ok. */
void km__vproc_destroy(struct km__vproc *p);
/* Ends a running guided routine with its summary so far (after join). */
void km__vproc_finish_guided(struct km__vproc *p);
/* Queues a command for the thread. Thread-safe. */
void km__vproc_send(struct km__vproc *p, enum km__vcmd cmd, double arg);

/* The one mapping from a dsp event to the recording's event record, as
 * docs/kmrec-format.md lays it out: ints [knot_id, frame_seq, hold_index],
 * values [load_kpa, load_n, held_s, dose_kpa_s, stiffness_pct, value]. */
void km__view_event_to_rec(const struct km_event *ev, struct km_rec_event *out);

#endif
