/*
 * The live viewer's main thread (docs/architecture.md "Threads"): it owns
 * every SDL call: events, keys, drawing and screenshots. It takes the newest
 * snapshot from the processing thread (proc.c) through the triple buffer and
 * draws it outside the buffer's lock; commands go back through the
 * processing thread's mailbox.
 */
#include <SDL.h>
#include <SDL_ttf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "km_internal.h"
#include "knotmap/history.h"
#include "knotmap/history_screen.h"
#include "knotmap/import.h"
#include "knotmap/outfile.h"
#include "knotmap/render.h"
#include "knotmap/screenshot.h"
#include "proc.h"

struct km_viewer_options km_viewer_options_default(void)
{
	struct km_viewer_options o;
	memset(&o, 0, sizeof o);
	o.seed = 1;
	o.width = 1024;
	o.height = 640;
	o.sim_speed = 1.0;
	o.guided_config = km_guided_config_default();
	o.sound = true;
	o.volume = 0.6f;
	o.voice = true;
	return o;
}

static const float fixed_ranges[] = {0.0f, 20.0f, 50.0f, 100.0f, 200.0f, 500.0f, 1000.0f};

struct app {
	const struct km_viewer_options *opts;
	SDL_Window *win;
	SDL_Renderer *ren;
	km_render *render;
	struct km__vproc *proc;
	km_audio *audio;
	struct km_view_ui ui;
	size_t range_i;
	bool fullscreen, quit, want_shot, vsync;
	char notice[160];
	uint64_t notice_until;
	/* What drawing cost, for the log line at exit (bench/viewer reads it). */
	uint64_t presents;
	double present_s;
	uint64_t run_start_us;
	struct km_view_stats last_stats;
	/* The history screen (B): loaded when it opens, freed when it closes. */
	struct km_history_screen history;
	bool history_open;
};

/* The chart's size on the history screen, px (the canvas less its heading
 * and note: render_panels.c). */
#define HISTORY_W 1000
#define HISTORY_H 524

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The processing thread's CPU time, s (0 when the clock is not available:
 * the budget then also counts the dsp, and the view draws less). */
static double proc_thread_cpu_s(const struct km__vproc *p)
{
	clockid_t id;
	struct timespec ts;
	if (!p || !p->started || pthread_getcpuclockid(p->thread, &id) != 0 ||
	    clock_gettime(id, &ts) != 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void present(struct app *a)
{
	double t0 = thread_cpu_s();
	SDL_RenderPresent(a->ren);
	a->present_s += thread_cpu_s() - t0;
	a->presents++;
}

/* One line at exit: drawing's cost per drawn frame by stage (main thread
 * CPU time) and the mat frames, for bench/viewer. */
static void log_draw_costs(const struct app *a)
{
	struct km_render_stats rs;
	km_render_stats(a->render, &rs);
	double n = rs.draws > 0 ? (double)rs.draws : 1.0;
	double p = a->presents > 0 ? (double)a->presents : 1.0;
	uint64_t published = 0, taken = 0;
	if (a->proc && a->proc->tb)
		km_tribuf_counts(a->proc->tb, &published, &taken);
	km__log(&a->opts->log, KM_LOG_INFO, "viewer",
	        "draw costs: wall_s %.2f draws %llu presents %llu heat_uploads %llu "
	        "text_renders %llu ms_per_draw heat %.3f overlays %.3f text %.3f "
	        "ms_per_present %.3f mat_frames_ok %llu mat_frames_lost %llu "
	        "snapshots_published %llu snapshots_taken %llu",
	        (double)(km_time_monotonic_us() - a->run_start_us) / 1e6,
	        (unsigned long long)rs.draws, (unsigned long long)a->presents,
	        (unsigned long long)rs.heat_uploads, (unsigned long long)rs.text_renders,
	        rs.heat_s * 1e3 / n, rs.overlay_s * 1e3 / n, rs.text_s * 1e3 / n,
	        a->present_s * 1e3 / p, (unsigned long long)a->last_stats.frames_ok,
	        (unsigned long long)a->last_stats.frames_lost, (unsigned long long)published,
	        (unsigned long long)taken);
}

static void set_notice(struct app *a, const char *text)
{
	/* Notices are short by construction; a longer one is cut, which is fine. */
	size_t n = strnlen(text, sizeof a->notice - 1);
	memcpy(a->notice, text, n);
	a->notice[n] = '\0';
	a->notice_until = km_time_monotonic_us() + 3000000;
}

/* The S key: a new file in the screenshot folder; the notice says where. */
static void screenshot(struct app *a)
{
	char path[4096];
	int err = km_viewer_save_png_unique(a->ren, a->opts->screenshot_dir, &a->opts->log, path,
	                                    sizeof path);
	char line[4200];
	if (err == KM_OK)
		snprintf(line, sizeof line, "Saved %s", path);
	else
		snprintf(line, sizeof line, "Screenshot failed (%s): %s", path[0] ? path : "-",
		         km_strerror(err));
	km__log(&a->opts->log, err == KM_OK ? KM_LOG_INFO : KM_LOG_ERROR, "viewer", "%s", line);
	/* The notice shows the end of a long path (the file name matters most). */
	size_t n = strlen(line);
	set_notice(a, n > sizeof a->notice - 1 && err == KM_OK ? line + n - (sizeof a->notice - 1)
	                                                       : line);
}

/* --screenshot FILE: never over what this run reads (the replayed file, the
 * calibration). inputs[2] must outlive the config. */
static struct km_image_config shot_config(const struct km_viewer_options *o, const char *inputs[2])
{
	size_t n_in = 0;
	if (o->source == KM_VIEW_SOURCE_REPLAY && o->replay_path)
		inputs[n_in++] = o->replay_path;
	if (o->calibration_path)
		inputs[n_in++] = o->calibration_path;
	struct km_image_config ic = km_image_config_default();
	ic.path = o->screenshot_path;
	ic.force = o->screenshot_force;
	ic.inputs = inputs;
	ic.n_inputs = n_in;
	ic.title = "knotmap screenshot";
	ic.log = o->log;
	return ic;
}

static int save_requested_shot(struct app *a)
{
	const char *inputs[2];
	struct km_image_config ic = shot_config(a->opts, inputs);
	return km_viewer_save_png(a->ren, &ic);
}

/* Checks the --screenshot target before anything opens, so a run that would
 * end refusing to write says so at once (the check is repeated, atomically,
 * when the file is written). */
static int check_shot_target(const struct km_viewer_options *o)
{
	const char *inputs[2];
	struct km_image_config ic = shot_config(o, inputs);
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = ic.path;
	oc.force = ic.force;
	oc.inputs = ic.inputs;
	oc.n_inputs = ic.n_inputs;
	oc.log = ic.log;
	km_outfile *f = NULL;
	int rc = km_outfile_open(&oc, &f);
	km_outfile_destroy(f); /* removes the temporary file */
	return rc;
}

/* A replay's sensor as the file describes it (row and column pitch, the
 * cells on the sensor), for the renderer: the header only, quietly (the
 * stream's own open says what it found). Nothing for a live mat. */
static void replay_sensor(const struct km_viewer_options *o, km_render *render)
{
	if (o->source != KM_VIEW_SOURCE_REPLAY || !o->replay_path)
		return;
	km_source *src = NULL;
	if (km__vproc_replay_source(o, &src) != KM_OK)
		return;
	const struct km_source_info *in = km_source_info(src);
	struct km_render_sensor rs;
	memset(&rs, 0, sizeof rs);
	rs.rows = in->device.rows;
	rs.cols = in->device.cols;
	rs.row_pitch_mm = in->row_pitch_mm > 0.0f ? in->row_pitch_mm : in->device.pitch_mm;
	rs.col_pitch_mm = in->col_pitch_mm > 0.0f ? in->col_pitch_mm : in->device.pitch_mm;
	rs.mask = in->mask;
	if (km_render_set_sensor(render, &rs) == KM_OK &&
	    fabsf(rs.row_pitch_mm - rs.col_pitch_mm) > 0.005f * rs.row_pitch_mm)
		km__log(&o->log, KM_LOG_INFO, "viewer",
		        "rows %.4g mm apart, columns %.4g mm: drawn to scale", (double)rs.row_pitch_mm,
		        (double)rs.col_pitch_mm);
	km_source_destroy(src);
}

/* B: the body chart of the history the R key and `knotmap record` write
 * to, read when the screen opens (so a session just recorded is on it). */
static void toggle_history(struct app *a)
{
	const struct km_viewer_options *o = a->opts;
	if (a->history_open) {
		a->history_open = false;
		a->ui.history = NULL;
		km_history_screen_free(&a->history);
		return;
	}
	int rc = km_history_screen_load(o->history_path, HISTORY_W, HISTORY_H, &o->log, &a->history);
	if (rc != KM_OK) {
		km__log(&o->log, KM_LOG_ERROR, "viewer", "history screen: %s", km_strerror(rc));
		set_notice(a, "The history screen could not open");
		return;
	}
	a->history_open = true;
	a->ui.history = &a->history;
	km__log(&o->log, KM_LOG_INFO, "viewer", "history screen (%s): %s", a->history.path,
	        a->history.headline);
	for (size_t i = 0; i < a->history.n_advice; i++)
		km__log(&o->log, KM_LOG_INFO, "viewer", "history: %zu  %s", i + 1,
		        a->history.advice[i]);
}

static void on_key(struct app *a, const SDL_KeyboardEvent *k)
{
	bool shift = (k->keysym.mod & KMOD_SHIFT) != 0;
	struct km__vproc *p = a->proc;
	switch (k->keysym.sym) {
	case SDLK_q:
		a->quit = true;
		break;
	case SDLK_ESCAPE:
		if (a->history_open)
			toggle_history(a);
		else if (a->ui.show_help)
			a->ui.show_help = false;
		else if (a->fullscreen) {
			a->fullscreen = false;
			SDL_SetWindowFullscreen(a->win, 0);
		} else
			a->quit = true;
		break;
	case SDLK_SPACE:
		if (p->paced)
			km__vproc_send(p, KM__VCMD_PAUSE, 0);
		else
			a->ui.frozen = !a->ui.frozen;
		break;
	case SDLK_b:
		toggle_history(a);
		break;
	case SDLK_z:
		km__vproc_send(p, KM__VCMD_ZERO, 0);
		break;
	case SDLK_r:
		km__vproc_send(p, KM__VCMD_RECORD, 0);
		break;
	case SDLK_s:
	case SDLK_F12:
		a->want_shot = true;
		break;
	case SDLK_c:
		a->ui.colormap = (enum km_colormap)((a->ui.colormap + 1) % KM_COLORMAP_COUNT);
		break;
	case SDLK_a:
		a->range_i = (a->range_i + 1) % KM_ARRAY_SIZE(fixed_ranges);
		a->ui.fixed_range_kpa = fixed_ranges[a->range_i];
		break;
	case SDLK_l:
		a->ui.scale = a->ui.scale == KM_SCALE_SQRT ? KM_SCALE_LINEAR : KM_SCALE_SQRT;
		break;
	case SDLK_m:
		a->ui.show_markers = !a->ui.show_markers;
		break;
	case SDLK_o:
		a->ui.show_outline = !a->ui.show_outline;
		break;
	case SDLK_f:
	case SDLK_F11:
		a->fullscreen = !a->fullscreen;
		SDL_SetWindowFullscreen(a->win, a->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
		break;
	case SDLK_x:
		a->ui.red_flag = !a->ui.red_flag;
		if (a->ui.red_flag)
			km__vproc_send(p, KM__VCMD_SYMPTOMS, 0);
		break;
	case SDLK_h:
	case SDLK_F1:
	case SDLK_SLASH:
		a->ui.show_help = !a->ui.show_help;
		break;
	case SDLK_LEFT:
		km__vproc_send(p, KM__VCMD_SEEK, shift ? -30.0 : -5.0);
		break;
	case SDLK_RIGHT:
		km__vproc_send(p, KM__VCMD_SEEK, shift ? 30.0 : 5.0);
		break;
	case SDLK_MINUS:
	case SDLK_KP_MINUS:
		km__vproc_send(p, KM__VCMD_SPEED, -1);
		break;
	case SDLK_PLUS:
	case SDLK_EQUALS:
	case SDLK_KP_PLUS:
		km__vproc_send(p, KM__VCMD_SPEED, 1);
		break;
	case SDLK_PERIOD:
		km__vproc_send(p, KM__VCMD_STEP, 0);
		break;
	case SDLK_g:
		km__vproc_send(p, KM__VCMD_GUIDED, 0);
		break;
	case SDLK_n:
		km__vproc_send(p, KM__VCMD_SKIP, 0);
		break;
	case SDLK_v:
	case SDLK_LEFTBRACKET:
	case SDLK_RIGHTBRACKET: {
		if (!a->audio) {
			set_notice(a, "No sound device");
			break;
		}
		char line[64];
		if (k->keysym.sym == SDLK_v) {
			km_audio_set_mute(a->audio, !km_audio_muted(a->audio));
		} else {
			float v = km_audio_volume(a->audio) +
			          (k->keysym.sym == SDLK_RIGHTBRACKET ? 0.1f : -0.1f);
			km_audio_set_volume(a->audio, v);
			km_audio_set_mute(a->audio, false);
		}
		snprintf(line, sizeof line, "Sound %s, volume %.0f %%",
		         km_audio_muted(a->audio) ? "muted" : "on",
		         (double)(km_audio_volume(a->audio) * 100.0f));
		set_notice(a, line);
		break;
	}
	default:
		break;
	}
}

/* New mat frames are drawn at most LIVE_HZ (the mat runs at 100 Hz for the
 * dsp; a pressure map read from 1-2 m away needs no more), and no more often
 * than keeps drawing within DRAW_BUDGET of one core, measured as it goes
 * (the whole process's CPU time but the processing thread's, so a GL
 * driver's own threads count too):
 * a laptop on the floor for 20 minutes stays cool (issue 22, bench/viewer).
 * On a cheap renderer that is the display's rate; on the software renderer
 * about 15 frames/s. Never below MIN_HZ, whatever drawing costs. */
#define LIVE_HZ 30.0
#define MIN_HZ 10.0
#define DRAW_BUDGET 0.04

/* The display's refresh rate, Hz (60 when SDL does not know). */
static double display_hz(SDL_Window *win)
{
	SDL_DisplayMode m;
	int i = SDL_GetWindowDisplayIndex(win);
	if (i >= 0 && SDL_GetCurrentDisplayMode(i, &m) == 0 && m.refresh_rate > 0)
		return m.refresh_rate;
	return 60.0;
}

static void on_event(struct app *a, const SDL_Event *ev, bool *dirty)
{
	if (ev->type == SDL_QUIT)
		a->quit = true;
	else if (ev->type == SDL_KEYDOWN)
		on_key(a, &ev->key);
	else if (ev->type == SDL_RENDER_TARGETS_RESET || ev->type == SDL_RENDER_DEVICE_RESET)
		km_render_reset(a->render); /* the cached layers' textures were lost */
	else if (ev->type != SDL_WINDOWEVENT)
		return;
	*dirty = true;
}

/*
 * Draws only when something changed (a new snapshot, a key, the window, a
 * notice coming or going), at the rate the budget allows (see LIVE_HZ);
 * between draws it sleeps, so a paused or ended view, whose processing
 * thread publishes nothing new, costs (almost) nothing.
 */
static int main_loop(struct app *a)
{
	const struct km_viewer_options *o = a->opts;
	const struct km_view_snapshot *snap = NULL;
	uint64_t last = km_time_monotonic_us();
	uint64_t start = last;
	int result = KM_OK;
	const char *keys = o->keys;
	const double max_hz = KM_MIN(display_hz(a->win), LIVE_HZ);
	double hz = max_hz;
	uint64_t interval_us = (uint64_t)(1e6 / hz);
	/* The budget's window: wall time, process and processing-thread CPU. */
	uint64_t win_wall = km_time_monotonic_us();
	double win_proc = process_cpu_s(), win_dsp = proc_thread_cpu_s(a->proc);
	uint64_t next_draw = 0;
	bool dirty = true, noticed = false;
	while (!a->quit) {
		uint64_t now = km_time_monotonic_us();
		/* Sleep until the next draw may happen (SDL_WaitEventTimeout
		 * overslept by tens of ms under X11 here); keys wait at most one
		 * interval, 1 / MIN_HZ at worst. */
		int wait_ms = next_draw > now ? (int)((next_draw - now + 999) / 1000) : 0;
		SDL_Event ev;
		if (wait_ms > 0)
			SDL_Delay((Uint32)wait_ms);
		if (SDL_PollEvent(&ev)) {
			on_event(a, &ev, &dirty);
			while (SDL_PollEvent(&ev))
				on_event(a, &ev, &dirty);
		}
		int fatal = atomic_load(&a->proc->fatal);
		if (fatal != KM_OK) {
			km__log(&o->log, KM_LOG_ERROR, "viewer", "stream stopped: %s",
			        km_strerror(fatal));
			result = fatal;
			break;
		}
		now = km_time_monotonic_us();
		if (now < next_draw)
			continue;
		/* Frozen: keep the snapshot we have (it stays ours until the
		 * next read), the processing thread keeps running. */
		if (!a->ui.frozen || !snap) {
			bool fresh = false;
			snap = km_tribuf_read(a->proc->tb, &fresh);
			dirty = dirty || fresh;
		}
		if (snap && keys && *keys) {
			SDL_KeyboardEvent k;
			memset(&k, 0, sizeof k);
			k.type = SDL_KEYDOWN;
			k.keysym.sym = *keys == '<'   ? SDLK_LEFT
			               : *keys == '>' ? SDLK_RIGHT
			                              : (SDL_Keycode)(unsigned char)*keys;
			/* '[' and ']' are their own keycodes already. */
			on_key(a, &k);
			keys++;
			dirty = true;
		}
		bool notice = now < a->notice_until;
		if (notice != noticed || a->want_shot)
			dirty = true;
		/* A screenshot run keeps checking whether it is due or late. */
		if (o->screenshot_path &&
		    (!snap || (double)(now - start) / 1e6 > 60.0 + o->screenshot_after_s * 4.0))
			dirty = true;
		/* Nothing new: wait for the next snapshot or key. */
		if (!dirty) {
			next_draw = now + interval_us / 4;
			continue;
		}
		noticed = notice;
		float dt = (float)(now - last) / 1e6f;
		last = now;
		a->ui.notice = notice ? a->notice : NULL;
		km_render_draw(a->render, snap, &a->ui, dt);
		if (o->screenshot_path) {
			bool due = snap && (snap->stats.session_s >= o->screenshot_after_s ||
			                    snap->stats.ended);
			/* Never hang a script: give up waiting after a generous time. */
			bool late =
			    (double)(now - start) / 1e6 > 60.0 + o->screenshot_after_s * 4.0;
			if (due || late) {
				a->ui.notice = NULL;
				km_render_draw(a->render, snap, &a->ui, 0.0f);
				int err = save_requested_shot(a);
				if (err != KM_OK)
					km__log(&o->log, KM_LOG_ERROR, "viewer",
					        "screenshot %s: %s", o->screenshot_path,
					        km_strerror(err));
				result = err != KM_OK ? err : late && !due ? KM_ERR_TIMEOUT : KM_OK;
				break;
			}
		}
		if (a->want_shot) {
			a->want_shot = false;
			screenshot(a);
		}
		if (snap)
			a->last_stats = snap->stats;
		present(a);
		dirty = false;
		/* Twice a second: the share of a core drawing took, and the rate
		 * that brings it to the budget (halfway, to settle smoothly). */
		if (now - win_wall >= 500000) {
			double proc_s = process_cpu_s(), dsp_s = proc_thread_cpu_s(a->proc);
			double share = (proc_s - win_proc - (dsp_s - win_dsp)) /
			               ((double)(now - win_wall) / 1e6);
			double want = hz * DRAW_BUDGET / KM_MAX(share, 1e-4);
			hz = KM_CLAMP(0.5 * (hz + want), MIN_HZ, max_hz);
			interval_us = (uint64_t)(1e6 / hz);
			win_wall = now;
			win_proc = proc_s;
			win_dsp = dsp_s;
		}
		/* With vsync the present itself waited for the display. */
		next_draw = now + interval_us;
	}
	return result;
}

/* SDL's own log lines (SDL_Log...) go to knotmap's log, so they never come
 * before knotmap's clear message; errors stay errors, the rest is debug. */
static void sdl_log_to_km(void *user, int category, SDL_LogPriority priority, const char *msg)
{
	(void)category;
	const struct km_log *log = user;
	enum km_log_level level = priority >= SDL_LOG_PRIORITY_ERROR  ? KM_LOG_ERROR
	                          : priority == SDL_LOG_PRIORITY_WARN ? KM_LOG_WARN
	                                                              : KM_LOG_DEBUG;
	km__log(log, level, "sdl", "%s", msg);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return path && path[0] == '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Which display SDL can reach, decided before SDL probes: libwayland prints
 * "XDG_RUNTIME_DIR is invalid or not set" to stderr itself when SDL tries
 * Wayland without a runtime directory, ahead of knotmap's "no display". With
 * neither a Wayland socket nor $DISPLAY there is no display: say so and do not
 * probe; with only $DISPLAY, SDL goes straight to X11. A driver the user names
 * in SDL_VIDEODRIVER is left to SDL. Returns false when there is no display.
 */
static bool choose_video_driver(const struct km_log *log)
{
	const char *asked = SDL_getenv("SDL_VIDEODRIVER");
	if (asked && asked[0])
		return true;
	const char *wl = SDL_getenv("WAYLAND_DISPLAY");
	const char *x11 = SDL_getenv("DISPLAY");
	bool wayland = (wl && wl[0] == '/') || is_dir(SDL_getenv("XDG_RUNTIME_DIR"));
	bool have_x11 = x11 && x11[0];
	if (!wayland && !have_x11) {
		km__log(log, KM_LOG_ERROR, "viewer",
		        "no display: no X11 or Wayland session ($DISPLAY and $WAYLAND_DISPLAY "
		        "unset, no $XDG_RUNTIME_DIR)");
		return false;
	}
	if (!wayland)
		SDL_SetHint(SDL_HINT_VIDEODRIVER, "x11");
	return true;
}

int km_viewer_run(const struct km_viewer_options *opts)
{
	if (!opts || (opts->source == KM_VIEW_SOURCE_REPLAY && !opts->replay_path) ||
	    opts->source > KM_VIEW_SOURCE_REPLAY || !(opts->sim_speed > 0.0) ||
	    opts->sim_speed > 64.0 || opts->screenshot_after_s < 0.0 || !(opts->volume >= 0.0f) ||
	    opts->volume > 1.0f)
		return KM_ERR_INVALID_ARG;
	struct app a;
	memset(&a, 0, sizeof a);
	a.opts = opts;
	a.ui = km_view_ui_default();
	a.fullscreen = opts->fullscreen;
	int w = opts->width > 0 ? opts->width : 1024, h = opts->height > 0 ? opts->height : 640;

	if (opts->screenshot_path) {
		int rc = check_shot_target(opts);
		if (rc != KM_OK)
			return rc;
	}
	/* Display first: fail fast without touching the mat. */
	if (!choose_video_driver(&opts->log))
		return KM_ERR_NO_DISPLAY;
	SDL_LogOutputFunction old_log_fn = NULL;
	void *old_log_user = NULL;
	SDL_LogGetOutputFunction(&old_log_fn, &old_log_user);
	SDL_LogSetOutputFunction(sdl_log_to_km, (void *)&opts->log);
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "0");
	if (SDL_Init(SDL_INIT_VIDEO) != 0) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer", "no display: %s", SDL_GetError());
		SDL_LogSetOutputFunction(old_log_fn, old_log_user);
		return KM_ERR_NO_DISPLAY;
	}
	/* SDL falls back to its offscreen driver when there is no screen: that
	 * is "no display" unless the user asked for it by name. */
	const char *drv = SDL_GetCurrentVideoDriver();
	const char *asked = SDL_getenv("SDL_VIDEODRIVER");
	if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")) &&
	    !(asked && !strcmp(asked, drv))) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer",
		        "no display: no X11 or Wayland session (SDL fell back to '%s')", drv);
		SDL_Quit();
		SDL_LogSetOutputFunction(old_log_fn, old_log_user);
		return KM_ERR_NO_DISPLAY;
	}
	int err = KM_OK;
	if (TTF_Init() != 0) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer", "SDL_ttf: %s", TTF_GetError());
		SDL_Quit();
		SDL_LogSetOutputFunction(old_log_fn, old_log_user);
		return KM_ERR_INTERNAL;
	}
	SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
	a.win = SDL_CreateWindow("knotmap", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h,
	                         SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI |
	                             (a.fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0));
	if (!a.win) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer", "cannot open a window: %s",
		        SDL_GetError());
		err = KM_ERR_NO_DISPLAY;
		goto out;
	}
	a.ren = SDL_CreateRenderer(a.win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
	a.vsync = a.ren != NULL;
	if (!a.ren)
		a.ren = SDL_CreateRenderer(a.win, -1, SDL_RENDERER_SOFTWARE);
	if (!a.ren) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer", "no renderer: %s", SDL_GetError());
		err = KM_ERR_NO_DISPLAY;
		goto out;
	}
	SDL_RendererInfo ri;
	if (SDL_GetRendererInfo(a.ren, &ri) == 0) {
		a.vsync = (ri.flags & SDL_RENDERER_PRESENTVSYNC) != 0;
		km__log(&opts->log, KM_LOG_INFO, "viewer", "renderer %s%s", ri.name,
		        a.vsync ? ", vsync" : "");
	}
	struct km_render_config rc = km_render_config_default();
	if (opts->font_path)
		rc.font_path = opts->font_path;
	rc.log = opts->log;
	SDL_RenderSetLogicalSize(a.ren, rc.width, rc.height);
	err = km_render_create(a.ren, &rc, &a.render);
	if (err != KM_OK)
		goto out;
	replay_sensor(opts, a.render);
	/* Something on screen while the mat opens. */
	km_render_draw(a.render, NULL, &a.ui, 0.0f);
	SDL_RenderPresent(a.ren);

	if (opts->sound) {
		struct km_audio_config ac = km_audio_config_default();
		ac.volume = opts->volume;
		ac.voice = opts->voice;
		ac.log = opts->log;
		if (km_audio_create(&ac, &a.audio) != KM_OK)
			km__log(&opts->log, KM_LOG_INFO, "viewer",
			        "no sound: carrying on silently");
	}
	err = km__vproc_create(opts, &a.proc);
	if (err != KM_OK) {
		km__log(&opts->log, KM_LOG_ERROR, "viewer", "cannot start the stream: %s",
		        km_strerror(err));
		goto out;
	}
	err = km__vproc_start(a.proc, a.audio);
	a.run_start_us = km_time_monotonic_us();
	if (err == KM_OK)
		err = main_loop(&a);
	log_draw_costs(&a);
out:
	if (a.proc) {
		km__vproc_join(a.proc);
		km__vproc_finish_guided(a.proc);
		if (a.proc->summary_ready && opts->on_summary)
			opts->on_summary(opts->summary_user, a.proc->summary_text,
			                 a.proc->summary_json);
	}
	km__vproc_destroy(a.proc);
	km_audio_destroy(a.audio);
	km_history_screen_free(&a.history);
	km_render_destroy(a.render);
	if (a.ren)
		SDL_DestroyRenderer(a.ren);
	if (a.win)
		SDL_DestroyWindow(a.win);
	TTF_Quit();
	SDL_Quit();
	SDL_LogSetOutputFunction(old_log_fn, old_log_user);
	return err;
}
