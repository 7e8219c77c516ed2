/* The guided routine end to end on the virtual mat: scenario
 * guided-upper-back (a lying scan, then a tennis ball held under each knot in
 * turn) -> the driver's sim transport -> the dsp pipeline -> the state machine.
 * Asserts the sequence of cues and prompts, and the summary. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/guided.h"
#include "knotmap/pipeline.h"
#include "knotmap/stream.h"

struct run {
	struct km_guided_cue log[4096];
	size_t n;
	enum km_guided_state states[64];
	size_t n_states;
	struct km_guided_summary sum;
	float first_prox_hz, last_prox_hz; /* during the first approach */
	uint32_t spot_of_first_hold;
	float hold_x, hold_y;
};

static bool verbose(void)
{
	return getenv("KM_TEST_VERBOSE") != NULL;
}

/* The viewer's path: the virtual mat through the driver (packets, sensor
 * model, calibration) as fast as frames are taken, the pipeline, the routine.
 * red_flag_at_s > 0: press the red-flag key then. */
static void run_scenario(const char *name, double red_flag_at_s, struct run *r)
{
	memset(r, 0, sizeof *r);
	/* Another scenario file to explore with (KM_TEST_VERBOSE=1 prints). */
	if (getenv("KM_TEST_SCENARIO"))
		name = getenv("KM_TEST_SCENARIO");
	struct km_stream_config sc = km_stream_config_default();
	sc.transport = KM_TRANSPORT_SIM;
	sc.sim_scenario = name;
	sc.sim_seed = 1;
	sc.sim_realtime = false;
	sc.sim_frames = 240 * 40; /* 240 s at 40 Hz: longer than the scenario */
	km_stream *st;
	cr_assert_eq(km_stream_create(&sc, &st), KM_OK, "scenario %s", name);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(st, &f), KM_OK);
	struct km_device_info info;
	cr_assert_eq(km_stream_device_info(st, &info), KM_OK);
	cr_assert_eq(km_stream_start(st), KM_OK);
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = f->rows;
	pc.cols = f->cols;
	pc.pitch_mm = f->pitch_mm;
	pc.geometry = f->geometry;
	pc.rate_hz = (float)info.rate_hz;
	km_pipeline *pl;
	cr_assert_eq(km_pipeline_create(&pc, &pl), KM_OK);
	km_guided *g;
	struct km_guided_config gc = km_guided_config_default();
	cr_assert_eq(km_guided_create(&gc, &g), KM_OK);
	struct km_guided_cue cues[64];
	size_t n = 0;
	enum km_guided_state last = KM_GUIDED_SCAN;
	bool started = false, flagged = false;
	uint64_t t0 = 0;
	int err;
	while ((err = km_stream_read(st, f, 5000)) == KM_OK) {
		double t_s = started ? (double)(f->device_time_us - t0) / 1e6 : 0.0;
		if (!started) {
			t0 = f->device_time_us;
			cr_assert_eq(km_guided_start(g, f->device_time_us, cues, 64, &n), KM_OK);
			memcpy(r->log, cues, n * sizeof cues[0]);
			r->n = n;
			r->states[r->n_states++] = last;
			started = true;
		}
		struct km_pipeline_result res;
		if (km_pipeline_process(pl, f, &res) != KM_OK)
			continue;
		struct km_guided_input in;
		cr_assert_eq(km_guided_input_from_pipeline(&res, f->pitch_mm, &in), KM_OK);
		cr_assert_eq(km_guided_update(g, &in, cues, 64, &n), KM_OK);
		if (verbose() && f->sequence % 200 == 0) {
			printf("%7.2f contacts:", t_s);
			for (size_t i = 0; i < in.n_contacts; i++)
				printf(" #%u(%.0f,%.0f %.0fkPa e%.0f%s%s)",
				       (unsigned)in.contacts[i].track_id,
				       (double)in.contacts[i].x_mm, (double)in.contacts[i].y_mm,
				       (double)in.contacts[i].peak_kpa,
				       (double)in.contacts[i].edge_mm,
				       in.contacts[i].over_spine ? " S" : "",
				       in.contacts[i].landmark ? " L" : "");
			printf("\n");
		}
		if (verbose())
			for (size_t i = 0; i < res.event_count; i++)
				if (res.events[i].type != KM_EVENT_STIFFNESS)
					printf("%7.2f ev %-14s #%u (%.0f,%.0f) %.1f s %s\n", t_s,
					       km_event_type_name(res.events[i].type),
					       (unsigned)res.events[i].track_id,
					       (double)res.events[i].x_mm,
					       (double)res.events[i].y_mm,
					       (double)res.events[i].held_s,
					       km_event_reason_name(res.events[i].reason));
		if (red_flag_at_s > 0 && !flagged && t_s >= red_flag_at_s) {
			size_t m = 0;
			cr_assert_eq(km_guided_red_flag(g, f->device_time_us, cues + n, 64 - n, &m),
			             KM_OK);
			n += m;
			flagged = true;
		}
		for (size_t i = 0; i < n && r->n < 4096; i++) {
			r->log[r->n++] = cues[i];
			if (verbose() && cues[i].cue != KM_CUE_PROXIMITY)
				printf("%7.2f CUE %s %s\n", t_s, km_cue_name(cues[i].cue),
				       km_phrase_name(cues[i].phrase));
		}
		struct km_guided_view v;
		km_guided_get_view(g, &v);
		if (v.state != last && r->n_states < 64) {
			r->states[r->n_states++] = v.state;
			last = v.state;
			if (verbose())
				printf("%7.2f STATE %s: %s\n", t_s, km_guided_state_name(v.state),
				       v.prompt);
		}
		if (last == KM_GUIDED_DONE || last == KM_GUIDED_STOPPED)
			break;
	}
	cr_assert(err == KM_OK || err == KM_ERR_END, "stream: %s", km_strerror(err));
	km_guided_get_summary(g, &r->sum);
	if (verbose()) {
		char text[2048];
		km_guided_summary_text(&r->sum, text, sizeof text);
		printf("%s", text);
	}
	km_guided_destroy(g);
	km_pipeline_destroy(pl);
	km_frame_destroy(f);
	km_stream_destroy(st);
}

/* The cues that matter for someone lying still (no proximity blips, ticks). */
static size_t main_cues(const struct run *r, struct km_guided_cue *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n && k < cap; i++)
		if (r->log[i].cue != KM_CUE_PROXIMITY && r->log[i].cue != KM_CUE_TICK)
			out[k++] = r->log[i];
	return k;
}

Test(guided_sim, upper_back_routine_end_to_end)
{
	static struct run r;
	run_scenario("guided-upper-back", 0, &r);

	enum km_guided_state want_states[] = {KM_GUIDED_SCAN, KM_GUIDED_PLACE, KM_GUIDED_HOLD,
	                                      KM_GUIDED_REST, KM_GUIDED_PLACE, KM_GUIDED_HOLD,
	                                      KM_GUIDED_DONE};
	cr_assert_eq(r.n_states, sizeof want_states / sizeof want_states[0]);
	for (size_t i = 0; i < r.n_states; i++)
		cr_assert_eq(r.states[i], want_states[i], "state %zu: %s", i,
		             km_guided_state_name(r.states[i]));

	struct {
		enum km_cue cue;
		enum km_phrase phrase;
	} want[] = {
	    {KM_CUE_SCAN_START, KM_PHRASE_LIE_STILL},
	    {KM_CUE_NEXT_SPOT, KM_PHRASE_PLACE_BALL},
	    {KM_CUE_HOLD_STARTED, KM_PHRASE_HOLD_HERE},
	    {KM_CUE_TARGET, KM_PHRASE_THIRTY},
	    {KM_CUE_RELEASE, KM_PHRASE_RELEASE},
	    {KM_CUE_REST, KM_PHRASE_REST},
	    {KM_CUE_NEXT_SPOT, KM_PHRASE_PLACE_BALL},
	    {KM_CUE_HOLD_STARTED, KM_PHRASE_HOLD_HERE},
	    {KM_CUE_TARGET, KM_PHRASE_THIRTY},
	    {KM_CUE_RELEASE, KM_PHRASE_RELEASE},
	    {KM_CUE_DONE, KM_PHRASE_DONE},
	};
	struct km_guided_cue got[64];
	size_t n = main_cues(&r, got, 64);
	cr_assert_eq(n, sizeof want / sizeof want[0], "%zu cues", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(got[i].cue, want[i].cue, "cue %zu: %s", i, km_cue_name(got[i].cue));
		cr_assert_eq(got[i].phrase, want[i].phrase, "cue %zu phrase", i);
	}
	/* the hold timer's clock: release 30 s after the 30 s target; the
	 * target at most 30 s after the start (the timer may count settling) */
	for (size_t h = 0; h < 2; h++) {
		const struct km_guided_cue *st = &got[2 + h * 5];
		double to_target = (double)(st[1].time_us - st[0].time_us) / 1e6;
		cr_assert(to_target > 20.0 && to_target <= 30.05, "%.2f s", to_target);
		cr_assert_float_eq((double)(st[2].time_us - st[1].time_us) / 1e6, 30.0, 0.05);
	}
	/* the rest between the spots lasts rest_s */
	struct km_guided_config gc = km_guided_config_default();
	cr_assert_float_eq((double)(got[6].time_us - got[5].time_us) / 1e6, gc.rest_s, 0.05);

	/* proximity blips while rolling towards spot 1: the pitch rises */
	float first = 0, lastf = 0;
	size_t blips = 0;
	for (size_t i = 0; i < r.n; i++) {
		if (r.log[i].cue == KM_CUE_HOLD_STARTED)
			break;
		if (r.log[i].cue != KM_CUE_PROXIMITY)
			continue;
		if (!blips)
			first = r.log[i].freq_hz;
		lastf = r.log[i].freq_hz;
		blips++;
	}
	cr_assert_geq(blips, 5u);
	cr_assert_gt(lastf, first * 1.5f, "%.0f Hz -> %.0f Hz", (double)first, (double)lastf);

	/* ticks every 10 s while holding, none on 30 / 60 */
	size_t ticks = 0;
	for (size_t i = 0; i < r.n; i++)
		ticks += r.log[i].cue == KM_CUE_TICK;
	cr_assert_eq(ticks, 8u, "10, 20, 40, 50 s of the timer on each of two holds");

	const struct km_guided_summary *s = &r.sum;
	cr_assert_eq(s->end_state, KM_GUIDED_DONE);
	cr_assert_eq(s->n_spots, 2u);
	cr_assert_eq(s->treated, 2u);
	cr_assert_not(s->red_flag);
	for (uint32_t i = 0; i < 2; i++) {
		cr_assert_eq(s->spots[i].holds, 1u);
		cr_assert_geq(s->spots[i].held_s, 60.0f);
		cr_assert(s->spots[i].reached_target);
		cr_assert_not(s->spots[i].skipped);
		cr_assert_gt(fabsf(s->spots[i].x_mm - 320.0f), gc.spine_margin_mm, "off the spine");
	}
	/* head to feet */
	cr_assert_lt(s->spots[0].y_mm, s->spots[1].y_mm);
}

Test(guided_sim, red_flag_stops_the_routine_mid_hold)
{
	static struct run r;
	run_scenario("guided-upper-back", 45.0, &r);
	cr_assert_eq(r.states[r.n_states - 1], KM_GUIDED_STOPPED);
	cr_assert_eq(r.states[r.n_states - 2], KM_GUIDED_HOLD);
	cr_assert_eq(r.log[r.n - 1].cue, KM_CUE_ALERT);
	cr_assert_eq(r.log[r.n - 1].phrase, KM_PHRASE_STOP);
	cr_assert(r.sum.red_flag);
	cr_assert_eq(r.sum.end_state, KM_GUIDED_STOPPED);
	cr_assert(r.sum.spots[0].skipped);
	cr_assert_eq(r.sum.spots[0].skip_reason, KM_REASON_SYMPTOMS);
	cr_assert_eq(r.sum.treated, 0u);
	char json[2048];
	km_guided_summary_json(&r.sum, json, sizeof json);
	cr_assert(strstr(json, "\"red_flag\":true") != NULL, "%s", json);
	cr_assert(strstr(json, "\"end\":\"STOPPED\"") != NULL, "%s", json);
}

Test(guided_sim, input_from_a_pipeline_result)
{
	struct km_track tracks[3];
	memset(tracks, 0, sizeof tracks);
	tracks[0].id = 4;
	tracks[0].state = KM_TRACK_MOVE;
	tracks[0].x_mm = 230;
	tracks[0].y_mm = 440;
	tracks[0].peak_kpa = 6;
	tracks[1].id = 5;
	tracks[1].state = KM_TRACK_END; /* gone: not a contact */
	tracks[2].id = 6;
	tracks[2].state = KM_TRACK_START;
	tracks[2].x_mm = 322;
	tracks[2].y_mm = 100;
	tracks[2].flags = KM_CANDIDATE_MIDLINE | KM_CANDIDATE_LANDMARK;
	float left[4] = {NAN, 100, 100, 100}, right[4] = {NAN, 540, 540, 540};
	struct km_body_outline ol;
	memset(&ol, 0, sizeof ol);
	ol.found = 1;
	ol.midline_x_mm = 320;
	ol.rows = 4;
	ol.row_left_mm = left;
	ol.row_right_mm = right;
	struct km_event ev[2];
	memset(ev, 0, sizeof ev);
	struct km_pipeline_result res;
	memset(&res, 0, sizeof res);
	res.time_us = 123;
	res.tracks = tracks;
	res.track_count = 3;
	res.outline = &ol;
	res.events = ev;
	res.event_count = 2;
	res.load_centre_valid = true;
	res.load_centre_x_mm = 300;
	res.load_centre_y_mm = 500;
	struct km_guided_input in;
	cr_assert_eq(km_guided_input_from_pipeline(NULL, 10, &in), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_guided_input_from_pipeline(&res, 0, &in), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_guided_input_from_pipeline(&res, 150, &in), KM_OK); /* 4 rows of 150 mm */
	cr_assert_eq(in.time_us, 123u);
	cr_assert(in.loaded && in.centre_valid && in.midline_valid);
	cr_assert_float_eq(in.midline_x_mm, 320.0f, 1e-6f);
	cr_assert_eq(in.n_contacts, 2u, "the ended track is left out");
	cr_assert_eq(in.contacts[0].track_id, 4u);
	cr_assert_float_eq(in.contacts[0].edge_mm, 130.0f, 1e-3f, "230 mm is 130 mm from 100");
	cr_assert(in.contacts[1].over_spine && in.contacts[1].landmark);
	cr_assert(isnan(in.contacts[1].edge_mm), "row 0 has no body");
	cr_assert_eq(in.n_events, 2u);
	cr_assert_eq(in.events, ev);
}
