/*
 * The sound device: a lock-free single-producer / single-consumer ring of
 * cue requests, fixed voices, and the spoken phrase clips. The SDL callback
 * (its own thread) is the only consumer; it reads atomics and plain arrays
 * filled before the device started, and nothing else.
 */
#include <SDL.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/audio.h"

extern char **environ;

#define RING 64 /* power of two */
#define TONE_VOICES 8

struct req {
	enum km_cue cue;
	enum km_phrase phrase;
	float freq_hz;
};

struct tone_voice {
	bool on;
	struct km_tone tone;
	uint64_t pos;
};

struct clip {
	float *pcm; /* mono, device rate */
	size_t n;
};

struct km_audio {
	struct km_audio_config cfg;
	SDL_AudioDeviceID dev;
	SDL_AudioSpec spec;
	bool sdl_init;

	/* ring: producer writes slots then head; consumer reads then tail */
	struct req ring[RING];
	_Atomic size_t head, tail;
	atomic_uint volume_bits; /* float bits */
	atomic_bool mute;
	atomic_bool reset_req;
	atomic_uint_fast64_t played, dropped, callbacks;

	/* callback-owned */
	struct tone_voice tones[TONE_VOICES];
	const struct clip *speech; /* the phrase being spoken */
	size_t speech_pos;
	uint64_t speech_delay; /* samples until it starts (after its tone) */
	float *mix;            /* mono scratch, spec.samples */

	struct clip clips[KM_PHRASE_COUNT];
	size_t n_clips;
};

struct km_audio_config km_audio_config_default(void)
{
	struct km_audio_config c;
	memset(&c, 0, sizeof c);
	c.rate_hz = 48000;
	c.buffer_frames = 1024;
	c.volume = 0.6f;
	c.voice = true;
	return c;
}

static unsigned f2u(float f)
{
	unsigned u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static float u2f(unsigned u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* ------------------------------------------------------------------------ */
/* Callback                                                                  */
/* ------------------------------------------------------------------------ */

static void start_req(km_audio *a, const struct req *r)
{
	struct km_tone t = km_tone_for_cue(r->cue, r->freq_hz);
	if (t.n_notes > 0) {
		size_t i = 0;
		while (i < TONE_VOICES && a->tones[i].on)
			i++;
		if (i == TONE_VOICES) {
			atomic_fetch_add(&a->dropped, 1);
		} else {
			a->tones[i].on = true;
			a->tones[i].tone = t;
			a->tones[i].pos = 0;
		}
	}
	if ((unsigned)r->phrase < KM_PHRASE_COUNT && r->phrase != KM_PHRASE_NONE &&
	    a->clips[r->phrase].pcm) {
		/* The newest phrase wins: an old prompt is no longer true. */
		a->speech = &a->clips[r->phrase];
		a->speech_pos = 0;
		a->speech_delay = (uint64_t)((double)t.length_s * 0.6 * a->spec.freq);
	}
	atomic_fetch_add(&a->played, 1);
}

static void callback(void *user, Uint8 *stream, int len)
{
	km_audio *a = user;
	atomic_fetch_add(&a->callbacks, 1);
	const int ch = a->spec.channels > 0 ? a->spec.channels : 1;
	size_t frames = (size_t)len / (sizeof(float) * (size_t)ch);
	float *outp = (float *)(void *)stream;
	if (atomic_exchange(&a->reset_req, false)) {
		memset(a->tones, 0, sizeof a->tones);
		a->speech = NULL;
		atomic_store(&a->tail, atomic_load(&a->head));
	}
	size_t tail = atomic_load_explicit(&a->tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&a->head, memory_order_acquire);
	while (tail != head) {
		start_req(a, &a->ring[tail & (RING - 1)]);
		tail++;
	}
	atomic_store_explicit(&a->tail, tail, memory_order_release);

	float vol = atomic_load(&a->mute) ? 0.0f : u2f(atomic_load(&a->volume_bits));
	size_t done = 0;
	while (done < frames) {
		size_t n = KM_MIN(frames - done, (size_t)a->spec.samples);
		float *m = a->mix;
		memset(m, 0, n * sizeof *m);
		for (size_t i = 0; i < TONE_VOICES; i++) {
			struct tone_voice *v = &a->tones[i];
			if (!v->on)
				continue;
			v->on = km_tone_render(&v->tone, (float)a->spec.freq, v->pos, m, n, 1.0f);
			v->pos += n;
		}
		if (a->speech) {
			size_t k = 0;
			if (a->speech_delay >= n) {
				a->speech_delay -= n;
				k = n;
			} else {
				k = (size_t)a->speech_delay;
				a->speech_delay = 0;
			}
			for (; k < n && a->speech_pos < a->speech->n; k++)
				m[k] += 0.8f * a->speech->pcm[a->speech_pos++];
			if (a->speech_pos >= a->speech->n)
				a->speech = NULL;
		}
		for (size_t i = 0; i < n; i++) {
			/* Soft limit: overlapping cues never clip harshly. */
			float v = m[i] * vol;
			v = v / (1.0f + fabsf(v) * 0.25f);
			for (int c = 0; c < ch; c++)
				outp[(done + i) * (size_t)ch + (size_t)c] = v;
		}
		done += n;
	}
}

/* ------------------------------------------------------------------------ */
/* Voice clips                                                               */
/* ------------------------------------------------------------------------ */

int km_audio_voice_dir(const char *cfg_dir, char *buf, size_t size)
{
	if (!buf || size == 0)
		return KM_ERR_INVALID_ARG;
	int n;
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (cfg_dir && *cfg_dir)
		n = snprintf(buf, size, "%s", cfg_dir);
	else if (xdg && *xdg == '/')
		n = snprintf(buf, size, "%s/knotmap/voice", xdg);
	else if (home && *home)
		n = snprintf(buf, size, "%s/.cache/knotmap/voice", home);
	else
		return KM_ERR_NOT_FOUND;
	return n > 0 && (size_t)n < size ? KM_OK : KM_ERR_OVERFLOW;
}

bool km_audio_find_program(const char *prog)
{
	if (!prog || !*prog)
		return false;
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char dir[1024];
	while (*path) {
		size_t n = strcspn(path, ":");
		char cand[1200];
		if (n > 0 && n < sizeof dir) {
			memcpy(dir, path, n);
			dir[n] = '\0';
			int w = snprintf(cand, sizeof cand, "%s/%s", dir, prog);
			if (w > 0 && (size_t)w < sizeof cand && access(cand, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static int mkdir_p(const char *dir)
{
	char tmp[1024];
	int n = snprintf(tmp, sizeof tmp, "%s", dir);
	if (n <= 0 || (size_t)n >= sizeof tmp)
		return KM_ERR_OVERFLOW;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return km__error_from_errno(errno);
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return km__error_from_errno(errno);
	return KM_OK;
}

/* espeak-ng -w tmp TEXT, then rename: a half-written WAV is never cached.
 * posix_spawnp with an argv: the text never meets a shell. */
static int speak_to_file(const km_audio *a, const char *prog, const char *path, const char *text)
{
	char tmp[1100];
	int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	if (n <= 0 || (size_t)n >= sizeof tmp)
		return KM_ERR_OVERFLOW;
	/* -s 140 words/min: slower than the default 175, for someone lying
	 * still with eyes closed (est.). */
	char *argv[] = {(char *)prog, "-s", "140", "-w", tmp, (char *)text, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int err = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		km__log(&a->cfg.log, KM_LOG_INFO, "audio", "cannot run %s: %s", prog,
		        strerror(err));
		return KM_ERR_NOT_FOUND;
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		remove(tmp);
		return KM_ERR_IO;
	}
	if (rename(tmp, path) != 0) {
		remove(tmp);
		return km__error_from_errno(errno);
	}
	return KM_OK;
}

/* Loads a WAV and converts it to mono float at the device rate. */
static int load_clip(km_audio *a, const char *path, struct clip *out)
{
	SDL_AudioSpec ws;
	Uint8 *buf = NULL;
	Uint32 len = 0;
	if (!SDL_LoadWAV(path, &ws, &buf, &len))
		return KM_ERR_MALFORMED;
	SDL_AudioCVT cvt;
	int rc =
	    SDL_BuildAudioCVT(&cvt, ws.format, ws.channels, ws.freq, AUDIO_F32SYS, 1, a->spec.freq);
	if (rc < 0 || len == 0) {
		SDL_FreeWAV(buf);
		return KM_ERR_UNSUPPORTED;
	}
	size_t cap;
	if (!km__mul_size(len, (size_t)(cvt.len_mult > 0 ? cvt.len_mult : 1), &cap)) {
		SDL_FreeWAV(buf);
		return KM_ERR_NO_MEMORY;
	}
	Uint8 *work = km__malloc(cap + 16);
	if (!work) {
		SDL_FreeWAV(buf);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(work, buf, len);
	SDL_FreeWAV(buf);
	cvt.len = (int)len;
	cvt.buf = work;
	if (rc > 0 && SDL_ConvertAudio(&cvt) != 0) {
		km__free(work);
		return KM_ERR_UNSUPPORTED;
	}
	size_t bytes = rc > 0 ? (size_t)cvt.len_cvt : len;
	out->pcm = (float *)(void *)work;
	out->n = bytes / sizeof(float);
	return KM_OK;
}

static void load_voice(km_audio *a)
{
	const char *prog = a->cfg.espeak ? a->cfg.espeak : "espeak-ng";
	char dir[900];
	if (km_audio_voice_dir(a->cfg.cache_dir, dir, sizeof dir) != KM_OK)
		return;
	bool have_prog = km_audio_find_program(prog);
	bool made_dir = false;
	for (int p = 1; p < KM_PHRASE_COUNT; p++) {
		char path[1000];
		int n = snprintf(path, sizeof path, "%s/%s.wav", dir,
		                 km_phrase_name((enum km_phrase)p));
		if (n <= 0 || (size_t)n >= sizeof path)
			continue;
		/* A cached clip stays valid without the program; make missing
		 * ones only when the program is there. */
		if (access(path, R_OK) != 0) {
			if (!have_prog)
				continue;
			if (!made_dir) {
				if (mkdir_p(dir) != KM_OK) {
					km__log(&a->cfg.log, KM_LOG_INFO, "audio",
					        "cannot create %s: tones only", dir);
					return;
				}
				made_dir = true;
			}
			if (speak_to_file(a, prog, path, km_phrase_text((enum km_phrase)p)) !=
			    KM_OK)
				continue;
		}
		if (load_clip(a, path, &a->clips[p]) == KM_OK)
			a->n_clips++;
	}
	if (a->n_clips == 0)
		km__log(&a->cfg.log, KM_LOG_INFO, "audio",
		        "%s not found: sound cues only (apt-get install espeak-ng for spoken "
		        "prompts)",
		        prog);
	else
		km__log(&a->cfg.log, KM_LOG_INFO, "audio", "%zu spoken prompts from %s", a->n_clips,
		        dir);
}

/* ALSA prints its own errors straight to stderr ("ALSA lib pcm.c:... Unknown
 * PCM default", eight lines on a machine with no sound card) while SDL probes
 * it, before knotmap can say "no sound". libasound is in the process already
 * as SDL's dependency: its error hook, when present, is found by name (no
 * link of our own, no ALSA headers) and sends those lines to the debug log.
 * The hook is process-wide; the last config's log wins (one viewer at a time
 * in practice). */
typedef void (*alsa_error_fn)(const char *file, int line, const char *function, int err,
                              const char *fmt, ...);
typedef int (*alsa_set_error_fn)(alsa_error_fn handler);
static struct km_log alsa_log;

static void alsa_to_log(const char *file, int line, const char *function, int err, const char *fmt,
                        ...) KM_PRINTF(5, 6);
static void alsa_to_log(const char *file, int line, const char *function, int err, const char *fmt,
                        ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	km__log(&alsa_log, KM_LOG_DEBUG, "audio", "ALSA %s:%d (%s) %s%s%s", file ? file : "?", line,
	        function ? function : "?", msg, err < 0 ? ": " : "", err < 0 ? strerror(-err) : "");
}

static void quiet_alsa(const struct km_log *log)
{
	alsa_log = *log;
	void *self = dlopen(NULL, RTLD_LAZY);
	if (!self)
		return;
	alsa_set_error_fn set = (alsa_set_error_fn)dlsym(self, "snd_lib_error_set_handler");
	if (set)
		set(alsa_to_log);
	dlclose(self);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

int km_audio_create(const struct km_audio_config *cfg, km_audio **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg || !isfinite(cfg->volume))
		return KM_ERR_INVALID_ARG;
	if (cfg->rate_hz < 8000 || cfg->rate_hz > 192000 || cfg->buffer_frames < 64 ||
	    cfg->buffer_frames > 16384 || cfg->volume < 0.0f || cfg->volume > 1.0f)
		return KM_ERR_RANGE;
	km_audio *a = km__calloc(1, sizeof *a);
	if (!a)
		return KM_ERR_NO_MEMORY;
	a->cfg = *cfg;
	atomic_init(&a->head, 0);
	atomic_init(&a->tail, 0);
	atomic_init(&a->volume_bits, f2u(cfg->volume));
	atomic_init(&a->mute, false);
	atomic_init(&a->reset_req, false);
	atomic_init(&a->played, 0);
	atomic_init(&a->dropped, 0);
	atomic_init(&a->callbacks, 0);
	quiet_alsa(&cfg->log);
	if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
		km__log(&cfg->log, KM_LOG_WARN, "audio", "no sound: %s", SDL_GetError());
		km__free(a);
		return KM_ERR_NO_DEVICE;
	}
	a->sdl_init = true;
	SDL_AudioSpec want;
	SDL_zero(want);
	want.freq = cfg->rate_hz;
	want.format = AUDIO_F32SYS;
	want.channels = 1;
	want.samples = (Uint16)cfg->buffer_frames;
	want.callback = callback;
	want.userdata = a;
	a->dev =
	    SDL_OpenAudioDevice(NULL, 0, &want, &a->spec,
	                        SDL_AUDIO_ALLOW_FREQUENCY_CHANGE | SDL_AUDIO_ALLOW_CHANNELS_CHANGE |
	                            SDL_AUDIO_ALLOW_SAMPLES_CHANGE);
	if (a->dev == 0) {
		km__log(&cfg->log, KM_LOG_WARN, "audio", "no sound device: %s", SDL_GetError());
		km_audio_destroy(a);
		return KM_ERR_NO_DEVICE;
	}
	a->mix = km__calloc(a->spec.samples ? a->spec.samples : 1, sizeof(float));
	if (!a->mix) {
		km_audio_destroy(a);
		return KM_ERR_NO_MEMORY;
	}
	if (cfg->voice)
		load_voice(a);
	km__log(&cfg->log, KM_LOG_INFO, "audio", "sound: %s, %d Hz, %d ch, %u frames",
	        SDL_GetCurrentAudioDriver() ? SDL_GetCurrentAudioDriver() : "?", a->spec.freq,
	        a->spec.channels, (unsigned)a->spec.samples);
	SDL_PauseAudioDevice(a->dev, 0);
	*out = a;
	return KM_OK;
}

void km_audio_destroy(km_audio *a)
{
	if (!a)
		return;
	if (a->dev)
		SDL_CloseAudioDevice(a->dev); /* waits for the callback to finish */
	for (int p = 0; p < KM_PHRASE_COUNT; p++)
		km__free(a->clips[p].pcm);
	km__free(a->mix);
	if (a->sdl_init)
		SDL_QuitSubSystem(SDL_INIT_AUDIO);
	km__free(a);
}

void km_audio_reset(km_audio *a)
{
	if (a)
		atomic_store(&a->reset_req, true);
}

int km_audio_cue(km_audio *a, const struct km_guided_cue *cue)
{
	if (!a || !cue)
		return KM_ERR_INVALID_ARG;
	size_t head = atomic_load_explicit(&a->head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&a->tail, memory_order_acquire);
	if (head - tail >= RING) {
		atomic_fetch_add(&a->dropped, 1);
		return KM_ERR_OVERFLOW;
	}
	struct req *r = &a->ring[head & (RING - 1)];
	r->cue = cue->cue;
	r->phrase = cue->phrase;
	r->freq_hz = cue->freq_hz;
	atomic_store_explicit(&a->head, head + 1, memory_order_release);
	return KM_OK;
}

void km_audio_set_volume(km_audio *a, float volume)
{
	if (!a || !isfinite(volume))
		return;
	atomic_store(&a->volume_bits, f2u(KM_CLAMP(volume, 0.0f, 1.0f)));
}

float km_audio_volume(const km_audio *a)
{
	return a ? u2f(atomic_load(&((km_audio *)a)->volume_bits)) : 0.0f;
}

void km_audio_set_mute(km_audio *a, bool mute)
{
	if (a)
		atomic_store(&a->mute, mute);
}

bool km_audio_muted(const km_audio *a)
{
	return a ? atomic_load(&((km_audio *)a)->mute) : true;
}

void km_audio_stats(const km_audio *a, struct km_audio_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	if (!a)
		return;
	km_audio *m = (km_audio *)a;
	out->rate_hz = a->spec.freq;
	out->channels = a->spec.channels;
	out->played = atomic_load(&m->played);
	out->dropped = atomic_load(&m->dropped);
	out->callbacks = atomic_load(&m->callbacks);
	out->voice = a->n_clips > 0;
	out->phrases = a->n_clips;
}
