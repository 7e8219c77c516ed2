/*
 * knotmap sound cues: tones synthesised in code (sine partials under a bell
 * envelope, no sound files) and optional spoken phrases, mixed in an SDL2
 * audio callback.
 *
 * The callback only reads a lock-free single-producer ring of cue requests
 * and plays fixed voices: it never takes a lock, never allocates, never
 * blocks the render or dsp threads. Volume and mute are atomics.
 *
 * Two layers:
 *   - pure synthesis (km_tone_*): what each cue sounds like, rendered into a
 *     float buffer; thread-safe, no SDL, used by the tests;
 *   - km_audio: the SDL device, the ring, the mixer and the voice clips.
 * Not part of libknotmap (lives in the viewer).
 */
#ifndef KNOTMAP_AUDIO_H
#define KNOTMAP_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/guided.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Tones                                                                     */
/* ------------------------------------------------------------------------ */

#define KM_TONE_MAX_NOTES 3

/* One cue: up to three notes one after another, each a sine with a soft
 * attack and an exponential (bell) decay, plus a quieter partial. */
struct km_tone_note {
	float freq_hz;  /* fundamental; 0 = silence (a gap) */
	float start_s;  /* from the cue's start */
	float length_s; /* until the envelope is cut */
	float decay_s;  /* exponential decay time constant */
	float gain;     /* peak amplitude, 0..1 */
	float partial;  /* relative amplitude of the 2.76 x partial (bell), 0..1 */
};

struct km_tone {
	size_t n_notes;
	struct km_tone_note notes[KM_TONE_MAX_NOTES];
	float length_s; /* whole cue */
};

/* The tone of a cue; freq_hz is used by KM_CUE_PROXIMITY (its pitch) and
 * ignored otherwise. Unknown cues and NONE give an empty tone (no notes).
 * Pure. Frequencies: see docs/guided.md (each cue a distinct interval). */
struct km_tone km_tone_for_cue(enum km_cue cue, float freq_hz);

/* Renders samples [offset, offset + n) of tone at rate_hz, ADDING into out
 * (mono floats). Returns true while the tone has samples after these. Pure;
 * no allocation. */
bool km_tone_render(const struct km_tone *tone, float rate_hz, uint64_t offset, float *out,
                    size_t n, float gain);

/* ------------------------------------------------------------------------ */
/* The device                                                                */
/* ------------------------------------------------------------------------ */

typedef struct km_audio km_audio;

struct km_audio_config {
	int rate_hz;           /* requested device rate (48000); SDL may give another */
	int buffer_frames;     /* device buffer (1024 samples: ~21 ms at 48 kHz) */
	float volume;          /* 0..1 (0.6) */
	bool voice;            /* spoken phrases when espeak-ng is found (true) */
	const char *espeak;    /* program name or path (NULL = "espeak-ng" on PATH) */
	const char *cache_dir; /* NULL = $XDG_CACHE_HOME/knotmap/voice (~/.cache/...) */
	struct km_log log;
};

struct km_audio_stats {
	int rate_hz; /* the device's actual rate */
	int channels;
	uint64_t played;  /* cue requests the callback started */
	uint64_t dropped; /* requests that found the ring full (or too many voices) */
	uint64_t callbacks;
	bool voice;     /* phrases loaded */
	size_t phrases; /* how many phrases have a clip */
};

struct km_audio_config km_audio_config_default(void);

/* Opens the default output device (SDL_INIT_AUDIO is initialised here and
 * quit in destroy) and, when cfg->voice, makes or loads the phrase clips:
 * `espeak-ng -w FILE TEXT` into the cache directory once, then SDL_LoadWAV,
 * converted to the device format. Missing espeak-ng or a failed clip only
 * means tones alone (logged at INFO). Starts playing silence.
 * KM_OK; KM_ERR_INVALID_ARG / KM_ERR_RANGE (config); KM_ERR_NO_DEVICE (no
 * audio device: the caller carries on without sound); KM_ERR_NO_MEMORY.
 * Call from the main thread. */
int km_audio_create(const struct km_audio_config *cfg, km_audio **out);
/* Stops the device, frees the clips. NULL ok. Main thread. */
void km_audio_destroy(km_audio *a);
/* Drops queued requests and silences playing voices (from the next
 * callback). Any thread. */
void km_audio_reset(km_audio *a);

/* Queues one cue (tone, then its phrase when a clip exists). Single
 * producer: call from ONE thread only (the processing thread). Lock-free,
 * never blocks, no allocation. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_OVERFLOW
 * (ring full: counted and dropped). */
int km_audio_cue(km_audio *a, const struct km_guided_cue *cue);

/* Volume 0..1 (clamped) and mute; atomics, any thread. */
void km_audio_set_volume(km_audio *a, float volume);
float km_audio_volume(const km_audio *a);
void km_audio_set_mute(km_audio *a, bool mute);
bool km_audio_muted(const km_audio *a);
/* Snapshot of the counters. Any thread. */
void km_audio_stats(const km_audio *a, struct km_audio_stats *out);

/* Where the phrase clips live: cfg dir or $XDG_CACHE_HOME/knotmap/voice or
 * $HOME/.cache/knotmap/voice. KM_OK, KM_ERR_OVERFLOW, KM_ERR_NOT_FOUND (no
 * HOME). Pure apart from getenv. */
int km_audio_voice_dir(const char *cfg_dir, char *buf, size_t size);
/* True when prog (a path, or a name searched in $PATH) is executable. */
bool km_audio_find_program(const char *prog);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_AUDIO_H */
