/* The replay transport: a raw recording of the virtual mat plays back
 * bit-identically through the same calibration; kPa-only recordings too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "km_internal.h"
#include "knotmap/recording.h"
#include "knotmap/sim.h"
#include "knotmap/stream.h"

#define FRAMES 40
#define R 16
#define C 24

static char path[64];
static float live_kpa[FRAMES][R * C];
static uint16_t live_raw[FRAMES][R * C];
static uint32_t live_seq[FRAMES];

static void cleanup(void)
{
	if (path[0])
		unlink(path);
}

static void record(uint32_t content)
{
	snprintf(path, sizeof path, "/tmp/km-replay-%d.kmrec", (int)getpid());
	unlink(path);
	struct km_sim_config sc = km_sim_config_default();
	sc.rows = R;
	sc.cols = C;
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_SIM;
	c.sim_config = &sc;
	c.sim_realtime = false;
	c.sim_frames = FRAMES;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_device_info info;
	km_stream_device_info(s, &info);

	size_t blob_size;
	cr_assert_eq(km_stream_calibration_blob(s, NULL, 0, &blob_size, NULL), KM_ERR_OVERFLOW);
	uint8_t *blob = malloc(blob_size);
	uint32_t cal_id;
	cr_assert_eq(km_stream_calibration_blob(s, blob, blob_size, &blob_size, &cal_id), KM_OK);

	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = path;
	wc.sync = false;
	wc.content = content;
	wc.device.rows = info.rows;
	wc.device.cols = info.cols;
	wc.device.pitch_mm = info.pitch_mm;
	wc.device.geometry = info.geometry;
	wc.device.rate_hz = info.rate_hz;
	snprintf(wc.device.serial, sizeof wc.device.serial, "%s", info.serial);
	snprintf(wc.device.firmware, sizeof wc.device.firmware, "1.2.3");
	snprintf(wc.device.model, sizeof wc.device.model, "virtual mat");
	wc.calibration = blob;
	wc.calibration_size = blob_size;
	wc.calibration_id = cal_id;
	km_rec_writer *w;
	cr_assert_eq(km_rec_writer_create(&wc, &w), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < FRAMES; i++) {
		cr_assert_eq(km_stream_read_raw(s, f, live_raw[i], R * C, 5000), KM_OK);
		memcpy(live_kpa[i], f->kpa, sizeof live_kpa[i]);
		live_seq[i] = f->sequence;
		cr_assert_eq(km_rec_writer_write_frame(w, f, live_raw[i], cal_id), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	km_stream_destroy(s);
	free(blob);
}

static km_stream *open_replay(void)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = path;
	c.replay_speed = 0.0;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	return s;
}

Test(replay, raw_recording_plays_back_bit_identically, .fini = cleanup)
{
	record(KM_REC_RAW | KM_REC_KPA);
	km_stream *s = open_replay();
	struct km_device_info info;
	km_stream_device_info(s, &info);
	cr_expect_eq(info.transport, KM_TRANSPORT_REPLAY);
	cr_expect_eq(info.rows, R);
	cr_expect_eq(info.firmware_version, (1u << 16) | (2u << 8) | 3u);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	uint16_t raw[R * C];
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < FRAMES; i++) {
		cr_assert_eq(km_stream_read_raw(s, f, raw, R * C, 5000), KM_OK, "frame %d", i);
		cr_assert_eq(f->sequence, live_seq[i]);
		cr_assert_arr_eq(raw, live_raw[i], sizeof raw);
		cr_assert_arr_eq(f->kpa, live_kpa[i], sizeof live_kpa[i], "kPa of frame %d", i);
	}
	cr_expect_eq(km_stream_read(s, f, 5000), KM_ERR_END);
	/* a second start plays it again from the beginning */
	km_stream_stop(s);
	km_stream_reset(s);
	cr_assert_eq(km_stream_start(s), KM_OK);
	cr_assert_eq(km_stream_read_raw(s, f, raw, R * C, 5000), KM_OK);
	cr_expect_arr_eq(raw, live_raw[0], sizeof raw);
	cr_expect_eq(km_stream_set_rate(s, 10), KM_ERR_UNSUPPORTED);
	km_stream_destroy(s);
	km_frame_destroy(f);
}

Test(replay, kpa_only_recording_plays_back, .fini = cleanup)
{
	record(KM_REC_KPA);
	km_stream *s = open_replay();
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < FRAMES; i++) {
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
		for (int k = 0; k < R * C; k++)
			cr_assert(fabsf(f->kpa[k] - live_kpa[i][k]) <= 1.0f / 64.0f,
			          "frame %d cell %d: %f vs %f", i, k, (double)f->kpa[k],
			          (double)live_kpa[i][k]);
	}
	cr_expect_eq(km_stream_read(s, f, 5000), KM_ERR_END);
	km_stream_destroy(s);
	km_frame_destroy(f);
}

Test(replay, missing_or_foreign_files_are_refused)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = "/nonexistent/none.kmrec";
	km_stream *s = (void *)1;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_NOT_FOUND);
	cr_expect_null(s);
	snprintf(path, sizeof path, "/tmp/km-replay-bad-%d.kmrec", (int)getpid());
	FILE *fp = fopen(path, "wb");
	fputs("this is not a recording at all, just text", fp);
	fclose(fp);
	c.replay_path = path;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_BAD_MAGIC);
	cleanup();
}

/* Device time handed out never goes backwards, whatever a file says: a clock
 * restart (a power-cycled mat) continues from where time was, and absurd
 * times near 2^63 and 2^64 (a damaged file, found by fuzz_replay) are handled
 * without overflow. */
Test(replay, device_time_only_moves_forward)
{
	static const uint64_t times[] = {
	    1000000, 1010000, 1020000,    /* a normal start */
	    5000, 15000,                  /* the clock restarted */
	    0x8000000000000000u, 0x7FFFFFFFFFFFFFFFu, /* garbage */
	    UINT64_MAX, 3,                /* more garbage */
	};
	const size_t n = sizeof times / sizeof times[0];
	snprintf(path, sizeof path, "/tmp/km-replay-t-%d.kmrec", (int)getpid());
	unlink(path);
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = path;
	wc.sync = false;
	wc.device.rows = 2;
	wc.device.cols = 3;
	wc.device.pitch_mm = 10.0f;
	wc.device.rate_hz = 100.0f;
	km_rec_writer *w;
	cr_assert_eq(km_rec_writer_create(&wc, &w), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(2, 3, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (size_t i = 0; i < n; i++) {
		f->sequence = (uint32_t)i;
		f->device_time_us = times[i];
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);

	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = path;
	c.replay_speed = 0;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	uint64_t last = 0;
	size_t got = 0;
	int rc;
	while ((rc = km_stream_read(s, f, 2000)) == KM_OK) {
		if (got > 0)
			cr_assert_gt(f->device_time_us, last, "frame %zu went back in time", got);
		if (got == 3)
			cr_expect_lt(f->device_time_us - 1020000u, 1000000u,
				     "after a restart time continues from the previous frame");
		last = f->device_time_us;
		got++;
	}
	cr_expect_eq(rc, KM_ERR_END);
	km_stream_destroy(s);
	km_frame_destroy(f);
	cleanup();
}

/* A file from another mat (a NumPy array) replays with the rate, pitch and
 * units the caller gives; bad option names are refused at create. */
Test(replay, import_options_reach_the_reader)
{
	snprintf(path, sizeof path, "/tmp/km-replay-n-%d.npy", (int)getpid());
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp);
	/* NumPy format 1.0: magic, version, header length, header padded so the
	 * data starts on a 64-byte boundary, then float32 [4, 2, 3] C order. */
	char hdr[118];
	memset(hdr, ' ', sizeof hdr);
	int n = snprintf(hdr, sizeof hdr,
			 "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2, 3), }");
	hdr[n] = ' ';
	hdr[sizeof hdr - 1] = '\n';
	const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, sizeof hdr, 0};
	fwrite(pre, 1, sizeof pre, fp);
	fwrite(hdr, 1, sizeof hdr, fp);
	for (int i = 0; i < 4 * 6; i++) {
		float v = (float)i; /* mmHg */
		fwrite(&v, sizeof v, 1, fp);
	}
	fclose(fp);

	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = path;
	c.replay_speed = 0;
	c.replay_format = "bogus";
	km_stream *s;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG);
	c.replay_format = "npy";
	c.replay_units = "furlongs";
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG);
	c.replay_units = "mmHg";
	c.replay_rate_hz = 50.0f;
	c.replay_pitch_mm = 8.0f;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_device_info info;
	km_stream_device_info(s, &info);
	cr_expect_float_eq(info.pitch_mm, 8.0f, 1e-6);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	uint64_t t[4];
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(km_stream_read(s, f, 2000), KM_OK);
		t[i] = f->device_time_us;
		/* 1 mmHg = 0.133322 kPa; the replay carries 1/32 kPa steps. */
		cr_expect_float_eq(f->kpa[5], (float)(i * 6 + 5) * 0.133322f, 1.0f / 32.0f,
				   "frame %d reads %f kPa", i, (double)f->kpa[5]);
	}
	cr_expect_eq(f->flags & KM_FRAME_UNCALIBRATED, 0u, "mmHg are pressures: kPa");
	cr_expect_eq(t[1] - t[0], 20000u, "50 Hz is 20 ms a frame");
	cr_expect_eq(t[3] - t[2], 20000u);
	km_stream_destroy(s);
	km_frame_destroy(f);
	cleanup();
}

/* Two sensors in one XSENSOR file (left and right insole): the stream plays
 * the one replay_sensor names, by name part or number, says which in the
 * device's location, and refuses one the file does not hold. */
static void xsensor_frame(FILE *f, int n, int base)
{
	fprintf(f, "FRAME,%d,,,\n,,,,\nDate, 2022 Aug 16,,,\nTime, 08:00:00.%03d,,,\n", n,
	        10 * n);
	fprintf(f, "SENSOR,Foot-LF S1,,,\nRows,2,,,\nColumns,3,,,\nSENSELS,,,,\n"
	           "%d,1,2,,\n3,4,5,,\n",
	        base);
	fprintf(f, "SENSOR,Foot-RF S1,,,\nRows,1,,,\nColumns,2,,,\nSENSELS,,,,\n%d,100,,,\n",
	        base + 10);
}

Test(replay, the_sensor_chosen_of_a_file_with_several, .fini = cleanup)
{
	snprintf(path, sizeof path, "/tmp/km-replay-x-%d.csv", (int)getpid());
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("Units:,kPa,,,\n,,,,\n", fp);
	for (int i = 0; i < 3; i++)
		xsensor_frame(fp, i + 1, 20 * i);
	fclose(fp);

	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_REPLAY;
	c.replay_path = path;
	c.replay_speed = 0;
	const char *const pick[] = {NULL, "rf", "2", "1"};
	const unsigned rows[] = {2, 1, 1, 2}, cols[] = {3, 2, 2, 3};
	const char *const where[] = {"sensor LF (1 of 2)", "sensor RF (2 of 2)",
	                             "sensor RF (2 of 2)", "sensor LF (1 of 2)"};
	for (int k = 0; k < 4; k++) {
		c.replay_sensor = pick[k];
		km_stream *s;
		cr_assert_eq(km_stream_create(&c, &s), KM_OK, "sensor %s", pick[k]);
		struct km_device_info info;
		km_stream_device_info(s, &info);
		cr_expect_eq(info.rows, rows[k], "sensor %s", pick[k]);
		cr_expect_eq(info.cols, cols[k], "sensor %s", pick[k]);
		cr_expect(strstr(info.location, where[k]), "%s", info.location);
		struct km_frame *f;
		cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
		cr_assert_eq(km_stream_start(s), KM_OK);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(km_stream_read(s, f, 2000), KM_OK);
			/* the first cell: 20 i (left) or 20 i + 10 (right) kPa */
			float want = (float)(20 * i + (rows[k] == 1 ? 10 : 0));
			cr_expect_float_eq(f->kpa[0], want, 1.0f / 32.0f, "sensor %s frame %d: %f",
			                   pick[k], i, (double)f->kpa[0]);
		}
		cr_expect_eq(km_stream_read(s, f, 2000), KM_ERR_END, "3 frames per sensor");
		km_stream_destroy(s);
		km_frame_destroy(f);
	}
	c.replay_sensor = "heel";
	km_stream *s;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG, "no such sensor");
	c.replay_sensor = "3";
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG, "the file holds 2");
	c.replay_sensor = "";
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_INVALID_ARG, "an empty name");
}

/* An import of raw counts (a file without units): the replay transport
 * hands its frames over flagged KM_FRAME_UNCALIBRATED, their values the
 * counts 1:1, so no consumer takes them for kPa; given --units, the same
 * file is pressures and unflagged. */
Test(replay, counts_imports_arrive_flagged_uncalibrated, .fini = cleanup)
{
	snprintf(path, sizeof path, "/tmp/km-replay-c-%d.csv", (int)getpid());
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	for (int i = 0; i < 3; i++)
		fprintf(fp, "%d,%d,%d\n%d,%d,%d\n\n", 10 * i, 1, 2, 3, 4, 500 + i);
	fclose(fp);
	for (int units = 0; units < 2; units++) {
		struct km_stream_config c = km_stream_config_default();
		c.transport = KM_TRANSPORT_REPLAY;
		c.replay_path = path;
		c.replay_speed = 0;
		c.replay_rate_hz = 10.0f;
		c.replay_units = units ? "kPa" : NULL;
		km_stream *s = NULL;
		cr_assert_eq(km_stream_create(&c, &s), KM_OK);
		struct km_frame *f = NULL;
		cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
		cr_assert_eq(f->rows, 2);
		cr_assert_eq(f->cols, 3);
		cr_assert_eq(km_stream_start(s), KM_OK);
		for (int i = 0; i < 3; i++) {
			cr_assert_eq(km_stream_read(s, f, 2000), KM_OK);
			if (units) {
				cr_expect_eq(f->flags & KM_FRAME_UNCALIBRATED, 0u, "frame %d", i);
				cr_expect_float_eq(f->kpa[5], (float)(500 + i), 1.0f / 32.0f);
			} else {
				cr_expect_neq(f->flags & KM_FRAME_UNCALIBRATED, 0u,
				              "frame %d of counts unflagged", i);
				cr_expect_float_eq(f->kpa[5], (float)(500 + i), 1e-3f, "%g",
				                   (double)f->kpa[5]);
				cr_expect_float_eq(f->kpa[0], (float)(10 * i), 1e-3f);
			}
		}
		km_stream_destroy(s);
		km_frame_destroy(f);
	}
	cleanup();
}
