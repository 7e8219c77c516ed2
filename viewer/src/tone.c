/*
 * What each cue sounds like: short bell-like notes synthesised in code.
 * Intervals chosen so the cues tell apart with eyes closed: rising = start,
 * a high single bell = 30 s, falling pair = release, falling triad = stop, a
 * low double pulse = ease off, an arpeggio = done.
 */
#include <math.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/audio.h"

#define TWO_PI 6.283185307179586
/* Soft attack: no click at the note's start (5 ms, est.). */
#define ATTACK_S 0.005f
/* A bell's strongest inharmonic partial sits near 2.76 x the fundamental
 * (the "hum"-less strike tone of a free bar; Rossing, Science of Sound). */
#define BELL_PARTIAL 2.76f

static struct km_tone_note note(float hz, float start, float len, float decay, float gain,
                                float partial)
{
	struct km_tone_note n = {hz, start, len, decay, gain, partial};
	return n;
}

struct km_tone km_tone_for_cue(enum km_cue cue, float freq_hz)
{
	struct km_tone t;
	memset(&t, 0, sizeof t);
	switch (cue) {
	case KM_CUE_SCAN_START: /* C5 -> G5, gentle */
		t.notes[t.n_notes++] = note(523.25f, 0.00f, 0.45f, 0.20f, 0.35f, 0.15f);
		t.notes[t.n_notes++] = note(783.99f, 0.30f, 0.60f, 0.25f, 0.35f, 0.15f);
		break;
	case KM_CUE_NEXT_SPOT: /* E5 bell */
		t.notes[t.n_notes++] = note(659.26f, 0.00f, 0.80f, 0.30f, 0.40f, 0.25f);
		break;
	case KM_CUE_PROXIMITY: /* a short blip at the given pitch */
		t.notes[t.n_notes++] =
		    note(isfinite(freq_hz) ? KM_CLAMP(freq_hz, 50.0f, 8000.0f) : 440.0f, 0.0f,
		         0.12f, 0.05f, 0.25f, 0.0f);
		break;
	case KM_CUE_HOLD_STARTED: /* A4 -> E5, rising fifth */
		t.notes[t.n_notes++] = note(440.00f, 0.00f, 0.40f, 0.18f, 0.40f, 0.20f);
		t.notes[t.n_notes++] = note(659.26f, 0.25f, 0.70f, 0.28f, 0.40f, 0.20f);
		break;
	case KM_CUE_TARGET: /* one clear high bell, A5 */
		t.notes[t.n_notes++] = note(880.00f, 0.00f, 1.20f, 0.45f, 0.45f, 0.30f);
		break;
	case KM_CUE_RELEASE: /* A5 -> E5, falling */
		t.notes[t.n_notes++] = note(880.00f, 0.00f, 0.45f, 0.20f, 0.45f, 0.25f);
		t.notes[t.n_notes++] = note(659.26f, 0.35f, 0.90f, 0.35f, 0.45f, 0.25f);
		break;
	case KM_CUE_STOP: /* E5 C5 G4, falling triad */
		t.notes[t.n_notes++] = note(659.26f, 0.00f, 0.35f, 0.15f, 0.45f, 0.2f);
		t.notes[t.n_notes++] = note(523.25f, 0.25f, 0.35f, 0.15f, 0.45f, 0.2f);
		t.notes[t.n_notes++] = note(392.00f, 0.50f, 0.80f, 0.30f, 0.45f, 0.2f);
		break;
	case KM_CUE_EASE_OFF: /* low double pulse, A3 */
		t.notes[t.n_notes++] = note(220.00f, 0.00f, 0.25f, 0.10f, 0.55f, 0.0f);
		t.notes[t.n_notes++] = note(220.00f, 0.30f, 0.35f, 0.12f, 0.55f, 0.0f);
		break;
	case KM_CUE_PAUSE: /* G4, short */
		t.notes[t.n_notes++] = note(392.00f, 0.00f, 0.30f, 0.10f, 0.30f, 0.0f);
		break;
	case KM_CUE_RESUME: /* D5, short */
		t.notes[t.n_notes++] = note(587.33f, 0.00f, 0.30f, 0.10f, 0.30f, 0.0f);
		break;
	case KM_CUE_TICK: /* a quiet woodblock-like tick, E6 */
		t.notes[t.n_notes++] = note(1318.5f, 0.00f, 0.06f, 0.015f, 0.12f, 0.0f);
		break;
	case KM_CUE_REST: /* F4, soft and long */
		t.notes[t.n_notes++] = note(349.23f, 0.00f, 1.00f, 0.40f, 0.30f, 0.10f);
		break;
	case KM_CUE_DONE: /* C5 E5 G5 arpeggio */
		t.notes[t.n_notes++] = note(523.25f, 0.00f, 0.60f, 0.30f, 0.35f, 0.2f);
		t.notes[t.n_notes++] = note(659.26f, 0.20f, 0.60f, 0.30f, 0.35f, 0.2f);
		t.notes[t.n_notes++] = note(783.99f, 0.40f, 1.00f, 0.40f, 0.35f, 0.2f);
		break;
	case KM_CUE_ALERT: /* D4 pulses, firm */
		t.notes[t.n_notes++] = note(293.66f, 0.00f, 0.30f, 0.12f, 0.60f, 0.0f);
		t.notes[t.n_notes++] = note(293.66f, 0.35f, 0.30f, 0.12f, 0.60f, 0.0f);
		t.notes[t.n_notes++] = note(293.66f, 0.70f, 0.50f, 0.20f, 0.60f, 0.0f);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < t.n_notes; i++)
		t.length_s = KM_MAX(t.length_s, t.notes[i].start_s + t.notes[i].length_s);
	return t;
}

bool km_tone_render(const struct km_tone *tone, float rate_hz, uint64_t offset, float *out,
                    size_t n, float gain)
{
	if (!tone || !out || !(rate_hz > 0.0f))
		return false;
	const double rate = rate_hz;
	uint64_t total = (uint64_t)ceil((double)tone->length_s * rate);
	for (size_t k = 0; k < tone->n_notes && k < KM_TONE_MAX_NOTES; k++) {
		const struct km_tone_note *nt = &tone->notes[k];
		if (!(nt->freq_hz > 0.0f) || !(nt->length_s > 0.0f))
			continue;
		uint64_t s0 = (uint64_t)llround((double)nt->start_s * rate);
		uint64_t s1 = s0 + (uint64_t)llround((double)nt->length_s * rate);
		uint64_t a = KM_MAX(offset, s0), b = KM_MIN(offset + n, s1);
		if (a >= b)
			continue;
		/* The last 10 ms fade out linearly: no click when the note is cut. */
		double fade = 0.010 * rate;
		for (uint64_t i = a; i < b; i++) {
			double t = (double)(i - s0) / rate;
			double env =
			    t < ATTACK_S ? t / ATTACK_S : exp(-(t - ATTACK_S) / nt->decay_s);
			double left = (double)(s1 - i);
			if (left < fade)
				env *= left / fade;
			double ph = TWO_PI * nt->freq_hz * t;
			double v = sin(ph) + nt->partial * sin(ph * BELL_PARTIAL) *
			                         exp(-t / (0.5 * nt->decay_s));
			out[i - offset] += (float)(gain * nt->gain * env * v);
		}
	}
	return offset + n < total;
}
