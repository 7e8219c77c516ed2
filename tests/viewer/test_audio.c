/* Sound cues: the synthesis itself, then the real SDL audio path with the
 * disk driver (SDL_AUDIODRIVER=disk writes the mixed samples to
 * SDL_DISKAUDIOFILE), read back and analysed with Goertzel filters. */
#include <SDL.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knotmap/audio.h"

#define RATE 48000

/* Power of one frequency over x[0..n) (Goertzel), normalised by n^2. */
static double goertzel(const float *x, size_t n, double f, double rate)
{
	double w = 6.283185307179586 * f / rate, c = 2.0 * cos(w), s1 = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	double p = s1 * s1 + s2 * s2 - c * s1 * s2;
	return p / ((double)n * (double)n);
}

static double rms(const float *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return n ? sqrt(s / (double)n) : 0.0;
}

/* The frequency among cands[] with the most power in the window. */
static double loudest(const float *x, size_t n, const double *cands, size_t nc, double rate)
{
	double best = 0, bp = -1;
	for (size_t i = 0; i < nc; i++) {
		double p = goertzel(x, n, cands[i], rate);
		if (p > bp) {
			bp = p;
			best = cands[i];
		}
	}
	return best;
}

static const double all_f[] = {220.0,  293.66, 349.23, 392.0, 440.0, 523.25,
                               587.33, 659.26, 783.99, 880.0, 1318.5};

Test(tone, each_cue_has_its_notes_at_their_times)
{
	static float buf[RATE * 2];
	struct {
		enum km_cue cue;
		double f0, f1; /* first note, and the note 0.5 s later (0: none) */
	} want[] = {
	    {KM_CUE_HOLD_STARTED, 440.0, 659.26}, {KM_CUE_TARGET, 880.0, 880.0},
	    {KM_CUE_RELEASE, 880.0, 659.26},      {KM_CUE_STOP, 659.26, 523.25},
	    {KM_CUE_EASE_OFF, 220.0, 220.0},      {KM_CUE_PAUSE, 392.0, 0},
	    {KM_CUE_RESUME, 587.33, 0},           {KM_CUE_DONE, 523.25, 783.99},
	};
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
		struct km_tone t = km_tone_for_cue(want[k].cue, 0);
		cr_assert_gt(t.n_notes, 0u);
		memset(buf, 0, sizeof buf);
		bool more = km_tone_render(&t, RATE, 0, buf, RATE * 2, 1.0f);
		cr_assert_not(more, "every cue is shorter than 2 s");
		/* 0.02-0.2 s: the first note */
		double f = loudest(buf + RATE / 50, RATE * 18 / 100, all_f, 11, RATE);
		cr_assert_float_eq(f, want[k].f0, 0.01, "%s first note %.0f",
		                   km_cue_name(want[k].cue), f);
		if (want[k].f1 > 0) {
			/* 0.4-0.5 s: the second note (or the first one ringing on) */
			double g = loudest(buf + RATE * 40 / 100, RATE / 10, all_f, 11, RATE);
			cr_assert_float_eq(g, want[k].f1, 0.01, "%s at 0.4 s: %.0f",
			                   km_cue_name(want[k].cue), g);
		}
		/* the bell decays: the end is much quieter than the start */
		size_t end = (size_t)(t.length_s * RATE);
		cr_assert_lt(rms(buf + end - RATE / 20, RATE / 20), rms(buf, RATE / 10) * 0.5);
	}
	/* the tick is short and quiet */
	struct km_tone tick = km_tone_for_cue(KM_CUE_TICK, 0);
	struct km_tone tgt = km_tone_for_cue(KM_CUE_TARGET, 0);
	cr_assert_lt(tick.length_s, 0.1f);
	cr_assert_lt(tick.notes[0].gain, tgt.notes[0].gain * 0.5f);
	/* nothing for NONE */
	cr_assert_eq(km_tone_for_cue(KM_CUE_NONE, 0).n_notes, 0u);
	cr_assert_eq(km_tone_for_cue((enum km_cue)99, 0).n_notes, 0u);
}

Test(tone, proximity_blip_follows_the_pitch_and_render_is_chunkable)
{
	static float whole[RATE / 4], parts[RATE / 4];
	struct km_tone t = km_tone_for_cue(KM_CUE_PROXIMITY, 500.0f);
	memset(whole, 0, sizeof whole);
	memset(parts, 0, sizeof parts);
	km_tone_render(&t, RATE, 0, whole, RATE / 4, 1.0f);
	/* the callback renders in device-sized chunks: same samples */
	for (size_t off = 0; off < RATE / 4; off += 700)
		km_tone_render(&t, RATE, off, parts + off,
		               (RATE / 4 - off < 700u ? RATE / 4 - off : 700u), 1.0f);
	for (size_t i = 0; i < RATE / 4; i++)
		cr_assert_float_eq(whole[i], parts[i], 1e-6f);
	double c[] = {400, 450, 500, 550, 600};
	cr_assert_float_eq(loudest(whole, RATE / 10, c, 5, RATE), 500.0, 0.01);
	/* out-of-range pitches are clamped, never NaN */
	struct km_tone bad = km_tone_for_cue(KM_CUE_PROXIMITY, NAN);
	cr_assert(isfinite(bad.notes[0].freq_hz));
	cr_assert_not(km_tone_render(NULL, RATE, 0, whole, 10, 1.0f));
}

/* ------------------------------------------------------------------------ */
/* The device, through the disk driver                                       */
/* ------------------------------------------------------------------------ */

struct disk {
	char path[64];
	char cache[64];
	km_audio *a;
};

static void quiet(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	(void)msg;
}

static int disk_open(struct disk *d, bool voice)
{
	snprintf(d->path, sizeof d->path, "/tmp/km_audio_%ld.raw", (long)getpid());
	snprintf(d->cache, sizeof d->cache, "/tmp/km_voice_%ld", (long)getpid());
	setenv("SDL_AUDIODRIVER", "disk", 1);
	setenv("SDL_DISKAUDIOFILE", d->path, 1);
	struct km_audio_config c = km_audio_config_default();
	c.voice = voice;
	c.cache_dir = d->cache;
	c.log.fn = quiet;
	c.log.max_level = KM_LOG_DEBUG;
	return km_audio_create(&c, &d->a);
}

/* Waits until the callback has run at least n more times (real time). */
static void wait_callbacks(km_audio *a, uint64_t n)
{
	struct km_audio_stats s;
	km_audio_stats(a, &s);
	uint64_t goal = s.callbacks + n;
	for (int i = 0; i < 2000 && s.callbacks < goal; i++) {
		SDL_Delay(5);
		km_audio_stats(a, &s);
	}
}

static float *disk_read(struct disk *d, size_t *n)
{
	FILE *fp = fopen(d->path, "rb");
	cr_assert_not_null(fp, "the disk driver wrote %s", d->path);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	cr_assert_gt(size, 0);
	float *x = malloc((size_t)size);
	cr_assert_not_null(x);
	cr_assert_eq(fread(x, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	remove(d->path);
	*n = (size_t)size / sizeof(float);
	return x;
}

/* First sample index from `from` where the 10 ms RMS passes thr. */
static size_t onset(const float *x, size_t n, size_t from, double thr)
{
	for (size_t i = from; i + RATE / 100 < n; i += RATE / 400)
		if (rms(x + i, RATE / 100) > thr)
			return i;
	return n;
}

static void rm_cache(const char *dir)
{
	for (int p = 1; p < KM_PHRASE_COUNT; p++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s.wav", dir, km_phrase_name((enum km_phrase)p));
		remove(path);
	}
	rmdir(dir);
}

Test(audio, rejects_bad_config)
{
	km_audio *a = (km_audio *)1;
	struct km_audio_config c = km_audio_config_default();
	c.volume = 2.0f;
	cr_assert_eq(km_audio_create(&c, &a), KM_ERR_RANGE);
	cr_assert_null(a);
	c = km_audio_config_default();
	c.rate_hz = 10;
	cr_assert_eq(km_audio_create(&c, &a), KM_ERR_RANGE);
	c = km_audio_config_default();
	c.volume = NAN;
	cr_assert_eq(km_audio_create(&c, &a), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_audio_create(NULL, &a), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_audio_cue(NULL, NULL), KM_ERR_INVALID_ARG);
	km_audio_destroy(NULL);
	km_audio_reset(NULL);
	km_audio_set_volume(NULL, 1.0f);
	cr_assert(km_audio_muted(NULL));
}

Test(audio, cues_reach_the_device_with_their_pitches_and_order)
{
	struct disk d;
	cr_assert_eq(disk_open(&d, false), KM_OK);
	struct km_audio_stats st;
	km_audio_stats(d.a, &st);
	cr_assert_eq(st.rate_hz, RATE);
	wait_callbacks(d.a, 3);
	struct km_guided_cue c = {KM_CUE_RELEASE, KM_PHRASE_NONE, 0, 0};
	cr_assert_eq(km_audio_cue(d.a, &c), KM_OK);
	wait_callbacks(d.a, 70); /* ~1.5 s of 1024-frame buffers */
	c.cue = KM_CUE_EASE_OFF;
	cr_assert_eq(km_audio_cue(d.a, &c), KM_OK);
	wait_callbacks(d.a, 40);
	km_audio_stats(d.a, &st);
	cr_assert_eq(st.played, 2u);
	cr_assert_eq(st.dropped, 0u);
	km_audio_destroy(d.a);

	size_t n;
	float *x = disk_read(&d, &n);
	size_t t0 = onset(x, n, 0, 0.02);
	cr_assert_lt(t0, n, "the release cue is in the file");
	/* release: 880 Hz first, 659 Hz from 0.35 s on */
	cr_assert_float_eq(loudest(x + t0 + RATE / 50, RATE / 5, all_f, 11, RATE), 880.0, 0.01);
	cr_assert_float_eq(loudest(x + t0 + RATE * 45 / 100, RATE / 5, all_f, 11, RATE), 659.26,
	                   0.01);
	/* then silence until the ease-off cue: a low 220 Hz double pulse */
	size_t t1 = onset(x, n, t0 + (size_t)(1.3 * RATE), 0.02);
	cr_assert_lt(t1, n, "the ease-off cue follows");
	cr_assert_float_eq(loudest(x + t1 + RATE / 50, RATE / 5, all_f, 11, RATE), 220.0, 0.01);
	/* its second pulse starts 0.30 s after the first: a gap, then sound */
	double gap = rms(x + t1 + RATE * 26 / 100, RATE / 50);
	double pulse = rms(x + t1 + RATE * 31 / 100, RATE / 50);
	cr_assert_gt(pulse, gap * 2.0, "two pulses, not one tone");
	/* samples are finite and within [-1, 1] (soft limiter) */
	for (size_t i = 0; i < n; i++)
		cr_assert(isfinite(x[i]) && fabsf(x[i]) <= 1.0f);
	free(x);
}

Test(audio, mute_and_volume)
{
	struct disk d;
	cr_assert_eq(disk_open(&d, false), KM_OK);
	struct km_guided_cue c = {KM_CUE_TARGET, KM_PHRASE_NONE, 0, 0};
	km_audio_set_mute(d.a, true);
	cr_assert(km_audio_muted(d.a));
	km_audio_cue(d.a, &c);
	wait_callbacks(d.a, 70);
	km_audio_set_mute(d.a, false);
	km_audio_set_volume(d.a, 1.0f);
	km_audio_cue(d.a, &c);
	wait_callbacks(d.a, 70);
	km_audio_set_volume(d.a, 0.25f);
	cr_assert_float_eq(km_audio_volume(d.a), 0.25f, 1e-6f);
	km_audio_set_volume(d.a, 7.0f); /* clamped */
	cr_assert_float_eq(km_audio_volume(d.a), 1.0f, 1e-6f);
	km_audio_set_volume(d.a, 0.25f);
	km_audio_cue(d.a, &c);
	wait_callbacks(d.a, 70);
	km_audio_destroy(d.a);
	size_t n;
	float *x = disk_read(&d, &n);
	size_t t0 = onset(x, n, 0, 0.01);
	cr_assert_lt(t0, n);
	/* the muted cue left nothing: the first sound is the loud one, and a
	 * quieter one follows */
	double loud = rms(x + t0, RATE / 5);
	size_t t1 = onset(x, n, t0 + (size_t)(1.3 * RATE), 0.005);
	cr_assert_lt(t1, n);
	double soft = rms(x + t1, RATE / 5);
	cr_assert_lt(soft, loud * 0.5, "volume 0.25 is quieter than 1.0");
	cr_assert_gt(soft, 0.0);
	cr_assert_eq(onset(x, n, t1 + (size_t)(1.3 * RATE), 0.005), n, "only two cues sounded");
	free(x);
}

Test(audio, full_ring_drops_and_counts)
{
	struct disk d;
	cr_assert_eq(disk_open(&d, false), KM_OK);
	/* Far faster than the callback drains (64 per ~21 ms buffer). */
	struct km_guided_cue c = {KM_CUE_TICK, KM_PHRASE_NONE, 0, 0};
	int over = 0;
	for (int i = 0; i < 10000; i++)
		over += km_audio_cue(d.a, &c) == KM_ERR_OVERFLOW;
	struct km_audio_stats st;
	km_audio_stats(d.a, &st);
	/* the callback drains some meanwhile, never all */
	cr_assert_gt(over, 0);
	cr_assert_geq(st.dropped, (uint64_t)over);
	km_audio_reset(d.a);
	/* unknown cues and phrases are queued and ignored, never read out of
	 * bounds (the callback checks) */
	wait_callbacks(d.a, 3);
	struct km_guided_cue odd = {(enum km_cue)99, (enum km_phrase)99, NAN, 0};
	cr_assert_eq(km_audio_cue(d.a, &odd), KM_OK);
	wait_callbacks(d.a, 3);
	km_audio_destroy(d.a);
	remove(d.path);
}

Test(audio, without_espeak_the_cues_are_tones_only)
{
	struct disk d;
	setenv("PATH", "/nonexistent", 1);
	cr_assert_not(km_audio_find_program("espeak-ng"));
	cr_assert_eq(disk_open(&d, true), KM_OK);
	rm_cache(d.cache);
	struct km_audio_stats st;
	km_audio_stats(d.a, &st);
	cr_assert_not(st.voice);
	cr_assert_eq(st.phrases, 0u);
	struct km_guided_cue c = {KM_CUE_HOLD_STARTED, KM_PHRASE_HOLD_HERE, 0, 0};
	cr_assert_eq(km_audio_cue(d.a, &c), KM_OK);
	wait_callbacks(d.a, 100);
	km_audio_destroy(d.a);
	size_t n;
	float *x = disk_read(&d, &n);
	size_t t0 = onset(x, n, 0, 0.02);
	cr_assert_lt(t0, n);
	cr_assert_float_eq(loudest(x + t0 + RATE / 50, RATE / 5, all_f, 11, RATE), 440.0, 0.01);
	/* after the 0.95 s tone: silence (no voice) */
	cr_assert_lt(rms(x + t0 + (size_t)(1.2 * RATE), RATE / 2), 0.002);
	free(x);
}

Test(audio, espeak_phrases_are_cached_and_spoken_after_the_tone)
{
	if (!km_audio_find_program("espeak-ng"))
		cr_skip_test("espeak-ng not installed (optional): apt-get install espeak-ng");
	struct disk d;
	snprintf(d.cache, sizeof d.cache, "/tmp/km_voice_%ld", (long)getpid());
	rm_cache(d.cache);
	cr_assert_eq(disk_open(&d, true), KM_OK);
	struct km_audio_stats st;
	km_audio_stats(d.a, &st);
	cr_assert(st.voice);
	cr_assert_eq(st.phrases, (size_t)KM_PHRASE_COUNT - 1, "every phrase has a clip");
	char wav[128];
	snprintf(wav, sizeof wav, "%s/%s.wav", d.cache, km_phrase_name(KM_PHRASE_HOLD_HERE));
	struct stat sb;
	cr_assert_eq(stat(wav, &sb), 0, "cached in %s", wav);
	cr_assert_gt(sb.st_size, 1000);
	struct km_guided_cue c = {KM_CUE_TARGET, KM_PHRASE_THIRTY, 0, 0};
	cr_assert_eq(km_audio_cue(d.a, &c), KM_OK);
	wait_callbacks(d.a, 150);
	km_audio_destroy(d.a);
	size_t n;
	float *x = disk_read(&d, &n);
	size_t t0 = onset(x, n, 0, 0.02);
	cr_assert_lt(t0, n);
	/* the bell first; speech starts after 0.6 of it and runs past its end */
	cr_assert_float_eq(loudest(x + t0 + RATE / 50, RATE / 10, all_f, 11, RATE), 880.0, 0.01);
	cr_assert_gt(rms(x + t0 + (size_t)(1.25 * RATE), RATE / 4), 0.01, "speech after the bell");
	free(x);

	/* second run: the clips come from the cache, with no espeak-ng at all */
	setenv("PATH", "/nonexistent", 1);
	cr_assert_eq(disk_open(&d, true), KM_OK);
	km_audio_stats(d.a, &st);
	cr_assert_eq(st.phrases, (size_t)KM_PHRASE_COUNT - 1);
	km_audio_destroy(d.a);
	remove(d.path);
	rm_cache(d.cache);
}

Test(audio, voice_dir_follows_xdg)
{
	char buf[256];
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	cr_assert_eq(km_audio_voice_dir(NULL, buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/x/cache/knotmap/voice");
	unsetenv("XDG_CACHE_HOME");
	setenv("HOME", "/home/u", 1);
	cr_assert_eq(km_audio_voice_dir(NULL, buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/home/u/.cache/knotmap/voice");
	cr_assert_eq(km_audio_voice_dir("/given", buf, sizeof buf), KM_OK);
	cr_assert_str_eq(buf, "/given");
	cr_assert_eq(km_audio_voice_dir(NULL, buf, 8), KM_ERR_OVERFLOW);
}
