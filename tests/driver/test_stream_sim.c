/* The stream engine over the virtual-mat transport: content, counters, life
 * cycle, zero, creep, stop from callbacks and signal handlers. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/sim.h"
#include "knotmap/stream.h"

static struct km_stream_config sim_cfg(uint64_t frames)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_SIM;
	c.sim_realtime = false;
	c.sim_frames = frames;
	c.sim_seed = 7;
	return c;
}

static struct km_sim_config small_sim(void)
{
	struct km_sim_config sc = km_sim_config_default();
	sc.rows = 16;
	sc.cols = 24;
	sc.seed = 7;
	return sc;
}

Test(stream_sim, rejects_bad_config)
{
	km_stream *s = (void *)1;
	struct km_stream_config c = sim_cfg(0);
	c.transfers = 0;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_RANGE);
	cr_expect_null(s);
	c = sim_cfg(0);
	c.ring_capacity = 1;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_RANGE);
	c = sim_cfg(0);
	c.transfer_size = 1000;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_RANGE);
	c = sim_cfg(0);
	c.transport = KM_TRANSPORT_REPLAY;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG);
	c = sim_cfg(0);
	c.transport = (enum km_transport_kind)42;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG);
	c = sim_cfg(0);
	c.sim_scenario = "no-such-scenario-anywhere";
	cr_expect_neq(km_stream_create(&c, &s), KM_OK);
	cr_expect_eq(km_stream_create(NULL, &s), KM_ERR_INVALID_ARG);
	km_stream_destroy(NULL);
}

Test(stream_sim, frames_are_bit_identical_to_the_virtual_mat)
{
	struct km_sim_config sc = small_sim();
	struct km_stream_config c = sim_cfg(40);
	c.sim_config = &sc;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_device_info info;
	cr_assert_eq(km_stream_device_info(s, &info), KM_OK);
	cr_expect_eq(info.rows, 16);
	cr_expect_eq(info.cols, 24);
	cr_expect_eq(info.transport, KM_TRANSPORT_SIM);
	cr_expect_str_eq(km_stream_state_name(s), "idle");

	sc.start_running = true;
	km_sim *ref;
	cr_assert_eq(km_sim_create(&sc, &ref), KM_OK);

	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	uint16_t raw[16 * 24];
	cr_assert_eq(km_stream_start(s), KM_OK);
	cr_expect_eq(km_stream_start(s), KM_ERR_STATE);
	for (int i = 0; i < 40; i++) {
		cr_assert_eq(km_stream_read_raw(s, f, raw, KM_ARRAY_SIZE(raw), 5000), KM_OK);
		struct km_sim_output o;
		cr_assert_eq(km_sim_step(ref, &o), KM_OK);
		cr_assert_eq(f->sequence, o.sequence);
		cr_assert_eq(f->device_time_us, o.time_us);
		cr_assert_arr_eq(raw, o.counts, sizeof raw, "frame %d differs", i);
		cr_assert_eq(f->dropped_since_last, 0);
		for (size_t k = 0; k < km_frame_cells(f); k++)
			cr_assert(f->kpa[k] >= 0.0f && isfinite(f->kpa[k]));
	}
	cr_expect_eq(km_stream_read(s, f, 5000), KM_ERR_END);
	struct km_stream_stats st;
	cr_assert_eq(km_stream_stats(s, &st), KM_OK);
	cr_expect_eq(st.frames_ok, 40);
	cr_expect_eq(st.frames_read, 40);
	cr_expect_eq(st.crc_errors, 0);
	cr_expect_eq(st.lost_frames, 0);
	cr_expect_eq(st.garbled, 0);
	cr_expect_eq(st.ring_drops, 0);
	cr_expect_gt(st.bytes, 0);
	km_sim_destroy(ref);
	km_frame_destroy(f);
	km_stream_destroy(s);
}

Test(stream_sim, calibrated_frames_follow_the_true_pressure)
{
	struct km_sim_config sc = km_sim_config_default(); /* a whole body on 64 x 64 */
	sc.seed = 7;
	sc.noise_counts = 0.0f;
	sc.creep_pct = 0.0f;
	sc.hysteresis_pct = 0.0f;
	sc.crosstalk_pct = 0.0f;
	sc.drift_counts_per_min = 0.0f;
	struct km_stream_config c = sim_cfg(30);
	c.sim_config = &sc;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	sc.start_running = true;
	km_sim *ref;
	cr_assert_eq(km_sim_create(&sc, &ref), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	double err = 0, sum = 0;
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
		struct km_sim_output o;
		km_sim_step(ref, &o);
		for (size_t k = 0; k < km_frame_cells(f); k++) {
			/* below ~2 kPa one ADC count is a large fraction of the value */
			if ((o.truth->fault_map && o.truth->fault_map[k]) || o.kpa[k] < 2.0f)
				continue;
			err += fabs((double)f->kpa[k] - o.kpa[k]);
			sum += o.kpa[k];
		}
	}
	cr_assert_gt(sum, 0.0);
	/* the ADC quantises: a few percent at most over the loaded cells */
	cr_expect_lt(err / sum, 0.03, "mean relative error %f", err / sum);
	km_sim_destroy(ref);
	km_frame_destroy(f);
	km_stream_destroy(s);
}

Test(stream_sim, nothing_is_allocated_per_frame)
{
	struct km_sim_config sc = small_sim();
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	uint64_t before = km__alloc_count();
	for (int i = 0; i < 200; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	cr_expect_eq(km__alloc_count(), before);
	km_stream_stop(s);
	km_frame_destroy(f);
	km_stream_destroy(s);
}

Test(stream_sim, reset_clears_counters_and_restarts)
{
	struct km_sim_config sc = small_sim();
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	cr_assert_eq(km_stream_reset(s), KM_OK);
	cr_expect_str_eq(km_stream_state_name(s), "idle");
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_eq(st.frames_ok, 0);
	cr_expect_eq(st.frames_read, 0);
	/* stopped and empty: the reader is told so at once */
	cr_expect_eq(km_stream_read(s, f, 0), KM_ERR_INTERRUPTED);
	cr_assert_eq(km_stream_start(s), KM_OK);
	cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	cr_expect_eq(f->sequence, 0, "START restarts the sequence");
	km_stream_destroy(s); /* destroy while running */
	km_frame_destroy(f);
}

static void stop_on_connect(void *user, enum km_stream_status status, int error)
{
	(void)error;
	if (status == KM_STREAM_CONNECTED)
		cr_expect_eq(km_stream_stop(*(km_stream **)user), KM_OK);
}

Test(stream_sim, stop_from_the_status_callback)
{
	struct km_sim_config sc = small_sim();
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	static km_stream *s;
	c.status_fn = stop_on_connect;
	c.status_user = &s;
	c.ring_capacity = 4;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	int rc;
	int frames = 0;
	while ((rc = km_stream_read(s, f, 5000)) == KM_OK)
		frames++;
	cr_expect_eq(rc, KM_ERR_INTERRUPTED);
	cr_expect_leq(frames, 5);
	cr_expect_eq(km_stream_stop(s), KM_OK);
	km_stream_destroy(s);
	km_frame_destroy(f);
}

static km_stream *sig_stream;
static void on_sigusr1(int sig)
{
	(void)sig;
	km_stream_request_stop(sig_stream);
}

Test(stream_sim, request_stop_from_a_signal_handler)
{
	struct km_sim_config sc = small_sim();
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	c.sim_realtime = true;
	cr_assert_eq(km_stream_create(&c, &sig_stream), KM_OK);
	signal(SIGUSR1, on_sigusr1);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(sig_stream, &f), KM_OK);
	cr_assert_eq(km_stream_start(sig_stream), KM_OK);
	cr_assert_eq(km_stream_read(sig_stream, f, 5000), KM_OK);
	raise(SIGUSR1);
	int rc;
	while ((rc = km_stream_read(sig_stream, f, 5000)) == KM_OK)
		;
	cr_expect_eq(rc, KM_ERR_INTERRUPTED);
	km_stream_destroy(sig_stream);
	km_frame_destroy(f);
}

Test(stream_sim, zero_removes_the_offset_drift)
{
	struct km_sim_config sc = small_sim();
	sc.body = false;
	sc.tool = KM_SIM_TOOL_NONE;
	sc.drift_counts_per_min = 600.0f; /* 10 counts/s: plenty after a few seconds */
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	double before = 0;
	for (size_t k = 0; k < km_frame_cells(f); k++)
		before += f->kpa[k];
	cr_assert_eq(km_stream_zero(s), KM_OK);
	/* up to a ring of frames made before the request, the device's 16
	 * zeroing frames, then the host's 8 */
	for (int i = 0; i < 120; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	double after = 0;
	for (size_t k = 0; k < km_frame_cells(f); k++)
		after += f->kpa[k];
	cr_expect_gt(before, 10.0 * after + 1.0, "before %f after %f", before, after);
	km_stream_destroy(s);
	km_frame_destroy(f);
	km_stream_destroy(NULL);
}

/* The design criterion: a static 60 s hold on the virtual mat (which creeps
 * in log time, 19 % after 60 s) reads within 2 % of the applied load. */
static void hold_error(bool creep, double *err_at_60s)
{
	struct km_sim_config sc = small_sim();
	sc.rows = 32;
	sc.cols = 32;
	sc.body = false;
	sc.breath_depth = 0.0f;
	sc.tool = KM_SIM_TOOL_LACROSSE_BALL;
	sc.step_count = 2;
	float cx = 16 * sc.pitch_mm, cy = 16 * sc.pitch_mm;
	sc.start_x_mm = cx;
	sc.start_y_mm = cy;
	sc.steps[0] = (struct km_sim_step){KM_SIM_MOVE_SETTLE, 1.0f, cx, cy, 0.15f};
	sc.steps[1] = (struct km_sim_step){KM_SIM_MOVE_HOLD, 80.0f, cx, cy, 0.15f};
	sc.rate_hz = 50.0f;
	struct km_stream_config c = sim_cfg(0);
	c.sim_config = &sc;
	c.creep_correction = creep;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	sc.start_running = true;
	km_sim *ref;
	cr_assert_eq(km_sim_create(&sc, &ref), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	const int frames = (int)(61.0f * sc.rate_hz);
	double area = (double)sc.pitch_mm * sc.pitch_mm * 1e-6; /* m^2 */
	for (int i = 0; i < frames; i++) {
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
		struct km_sim_output o;
		km_sim_step(ref, &o);
		if (i == frames - 1) {
			double force = 0;
			for (size_t k = 0; k < km_frame_cells(f); k++)
				force += f->kpa[k] * 1e3 * area;
			cr_assert_gt(o.truth->total_force_n, 1.0f);
			cr_assert_eq(o.truth->phase, KM_SIM_PHASE_HOLD);
			*err_at_60s = fabs(force - o.truth->total_force_n) / o.truth->total_force_n;
		}
	}
	km_sim_destroy(ref);
	km_frame_destroy(f);
	km_stream_destroy(s);
}

Test(stream_sim, creep_correction_keeps_a_60s_hold_within_2_percent, .timeout = 100)
{
	double with, without;
	hold_error(false, &without);
	hold_error(true, &with);
	cr_log_info("60 s hold error: %.2f %% uncorrected, %.2f %% corrected", 100.0 * without,
	            100.0 * with);
	cr_expect_gt(without, 0.05, "the virtual mat must creep (%f)", without);
	cr_expect_lt(with, 0.02, "hold reads %.2f %% off", 100.0 * with);
}
