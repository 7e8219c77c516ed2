/* .kmrec writer/reader: round trip, damage, index, seeking, full disk, modes. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "km_internal.h"
#include "knotmap/bytes.h"
#include "knotmap/recording.h"
#include "recording_internal.h"

enum { ROWS = 12, COLS = 9 };

static char *dir;

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(recording, .init = setup, .fini = teardown);

static struct km_rec_writer_config wcfg(const char *path, uint32_t content)
{
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.content = content;
	c.device.rows = ROWS;
	c.device.cols = COLS;
	c.device.pitch_mm = 12.5f;
	c.device.geometry = KM_GEOMETRY_FLAT;
	c.device.rate_hz = 100.0f;
	c.device.usb_vid = 0x1209;
	c.device.usb_pid = 0x4b4d;
	snprintf(c.device.serial, sizeof c.device.serial, "KM-TEST-0042");
	snprintf(c.device.firmware, sizeof c.device.firmware, "1.2.3");
	snprintf(c.device.model, sizeof c.device.model, "test mat");
	snprintf(c.session_id, sizeof c.session_id, "sess-abc");
	c.chunk_bytes = 4096; /* several frames per chunk, many chunks */
	c.sync = false;
	return c;
}

static struct km_rec_event test_event(uint32_t i)
{
	struct km_rec_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = (uint16_t)(i % 19 + 1);
	ev.subtype = (uint16_t)(i % 5);
	ev.track_id = i * 3 + 1;
	ev.time_us = 5000000ull + i * 10000ull + 1;
	ev.x_mm = 10.5f + (float)i;
	ev.y_mm = -3.25f * (float)i;
	ev.n_ints = (uint8_t)(i % 5);
	ev.n_values = (uint8_t)(i % 9);
	for (unsigned k = 0; k < ev.n_ints; k++)
		ev.ints[k] = i * 100 + k;
	for (unsigned k = 0; k < ev.n_values; k++)
		ev.values[k] = (float)i / (float)(k + 1);
	return ev;
}

/* Writes n frames, with an event after every 5th. */
static void write_file(const char *path, uint32_t content, uint32_t n, bool close_it)
{
	struct km_rec_writer_config c = wcfg(path, content);
	static const uint8_t calib[] = {1, 2, 3, 4, 5, 250};
	c.calibration = calib;
	c.calibration_size = sizeof calib;
	c.calibration_id = 77;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint16_t raw[ROWS * COLS];
	for (uint32_t i = 0; i < n; i++) {
		km_test_fill(f, raw, i);
		cr_assert_eq(km_rec_writer_write_frame(w, f, raw, 77 + i % 2), KM_OK);
		if (i % 5 == 4) {
			struct km_rec_event ev = test_event(i);
			cr_assert_eq(km_rec_writer_write_event(w, &ev), KM_OK);
		}
	}
	if (close_it)
		cr_assert_eq(km_rec_writer_close(w), KM_OK);
	else
		cr_assert_eq(km_rec_writer_flush(w), KM_OK);
	km_frame_destroy(f);
	if (close_it)
		km_rec_writer_destroy(w);
	else {
		/* Simulate a crash: leak the fd state by not closing the index. */
		km__rec_writer_fail_after(w, 0);
		km_rec_writer_destroy(w); /* the index write fails: no trailer */
	}
}

static char kept[2048];
static void keep_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	size_t n = strlen(kept);
	snprintf(kept + n, sizeof kept - n, "%s\n", msg);
}

static km_rec_reader *open_reader(const char *path)
{
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = path;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_OK);
	return r;
}

/* Reads everything and checks it against the pattern; returns frames read
 * and the final code. */
static int check_all(km_rec_reader *r, uint32_t content, uint64_t *frames_out)
{
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint16_t raw[ROWS * COLS];
	uint64_t frames = 0, events = 0;
	int rc;
	struct km_rec_item it;
	while ((rc = km_rec_reader_next(r, &it)) == KM_OK) {
		if (it.kind == KM_REC_ITEM_FRAME) {
			cr_assert_eq(it.frame_index, frames);
			km_test_fill(f, raw, (uint32_t)frames);
			cr_assert_eq(it.frame->sequence, f->sequence);
			cr_assert_eq(it.frame->device_time_us, f->device_time_us);
			cr_assert_eq(it.frame->host_time_us, f->host_time_us);
			cr_assert_eq(it.frame->dropped_since_last, f->dropped_since_last);
			cr_assert_eq(it.calibration_id, 77 + frames % 2);
			if (content & KM_REC_KPA) {
				cr_assert_eq(it.frame->flags, f->flags);
				cr_assert(!memcmp(it.frame->kpa, f->kpa, sizeof raw * 2),
				          "kPa differs in frame %llu", (unsigned long long)frames);
			} else {
				cr_assert_eq(it.frame->flags, f->flags | KM_FRAME_UNCALIBRATED);
				for (size_t c = 0; c < ROWS * COLS; c++)
					cr_assert_eq(it.frame->kpa[c], (float)raw[c]);
			}
			if (content & KM_REC_RAW)
				cr_assert(!memcmp(it.raw, raw, sizeof raw));
			else
				cr_assert_null(it.raw);
			frames++;
		} else {
			cr_assert_eq(it.kind, KM_REC_ITEM_EVENT);
			struct km_rec_event ev = test_event((uint32_t)frames - 1);
			cr_assert(!memcmp(&it.event, &ev, sizeof ev), "event after frame %llu",
			          (unsigned long long)frames);
			events++;
		}
	}
	km_frame_destroy(f);
	*frames_out = frames;
	return rc;
}

Test(recording, crc32c_check_value)
{
	cr_assert_eq(km_crc32c(0, "123456789", 9), 0xE3069283u);
	uint32_t a = km_crc32c(0, "12345", 5);
	cr_assert_eq(km_crc32c(a, "6789", 4), 0xE3069283u);
}

Test(recording, config_rejected)
{
	char *p = km_test_path(dir, "x.kmrec");
	km_rec_writer *w = (km_rec_writer *)1;
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	cr_assert_eq(km_rec_writer_create(NULL, &w), KM_ERR_INVALID_ARG);
	cr_assert_null(w);
	c.path = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, 0);
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, 8);
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, KM_REC_KPA);
	c.device.rows = 0;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_SHAPE);
	c = wcfg(p, KM_REC_KPA);
	c.device.cols = KM_FRAME_MAX_DIM + 1;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_SHAPE);
	c = wcfg(p, KM_REC_KPA);
	c.device.pitch_mm = NAN;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, KM_REC_KPA);
	c.flush_interval_ms = 0;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, KM_REC_KPA);
	c.chunk_bytes = 10;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_INVALID_ARG);
	c = wcfg(p, KM_REC_KPA);
	c.calibration_size = KM_REC_MAX_CALIBRATION + 1;
	c.calibration = "x";
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_RANGE);
	c = wcfg(p, KM_REC_KPA);
	c.make_dirs = false;
	char *deep = km_test_path(dir, "no/such/dir.kmrec");
	c.path = deep;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_test_file_size(p), -1, "nothing created by rejected configs");

	struct km_rec_reader_config rc = km_rec_reader_config_default();
	km_rec_reader *r = (km_rec_reader *)1;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_ERR_INVALID_ARG);
	cr_assert_null(r);
	rc.path = p;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_ERR_NOT_FOUND);
	km_rec_writer_destroy(NULL);
	km_rec_reader_destroy(NULL);
	free(deep);
	free(p);
}

Test(recording, round_trip_bit_identical)
{
	const uint32_t contents[] = {KM_REC_KPA, KM_REC_RAW, KM_REC_RAW | KM_REC_KPA};
	for (size_t k = 0; k < 3; k++) {
		char name[32];
		snprintf(name, sizeof name, "rt%zu.kmrec", k);
		char *p = km_test_path(dir, name);
		write_file(p, contents[k], 103, true);
		km_rec_reader *r = open_reader(p);
		const struct km_rec_info *in = km_rec_reader_info(r);
		cr_assert(in->indexed && in->complete);
		cr_assert_eq(in->content, contents[k]);
		cr_assert_eq(in->frame_count, 103);
		cr_assert_eq(in->event_count, 20);
		cr_assert_eq(in->device.rows, ROWS);
		cr_assert_eq(in->device.cols, COLS);
		cr_assert_float_eq(in->device.pitch_mm, 12.5f, 0);
		cr_assert_float_eq(in->device.rate_hz, 100.0f, 0);
		cr_assert_eq(in->device.usb_pid, 0x4b4d);
		cr_assert_str_eq(in->device.serial, "KM-TEST-0042");
		cr_assert_str_eq(in->device.firmware, "1.2.3");
		cr_assert_str_eq(in->device.model, "test mat");
		cr_assert_str_eq(in->session_id, "sess-abc");
		cr_assert_neq(in->start_unix_us, 0);
		cr_assert_eq(in->calibration_id, 77);
		cr_assert_eq(in->calibration_size, 6);
		cr_assert_eq(((const uint8_t *)in->calibration)[5], 250);
		cr_assert_eq(in->first_time_us, 5000000ull);
		cr_assert_eq(in->last_time_us, 5000000ull + 102 * 10000ull);
		uint64_t frames;
		cr_assert_eq(check_all(r, contents[k], &frames), KM_ERR_END);
		cr_assert_eq(frames, 103);
		struct km_rec_damage d;
		km_rec_reader_damage(r, &d);
		cr_assert(!d.damaged);
		/* reset: read it all again */
		cr_assert_eq(km_rec_reader_reset(r), KM_OK);
		cr_assert_eq(check_all(r, contents[k], &frames), KM_ERR_END);
		cr_assert_eq(frames, 103);
		km_rec_reader_destroy(r);
		free(p);
	}
}

Test(recording, empty_recording)
{
	char *p = km_test_path(dir, "empty.kmrec");
	write_file(p, KM_REC_KPA, 0, true);
	km_rec_reader *r = open_reader(p);
	cr_assert_eq(km_rec_reader_info(r)->frame_count, 0);
	cr_assert(km_rec_reader_info(r)->complete);
	struct km_rec_item it;
	cr_assert_eq(km_rec_reader_next(r, &it), KM_ERR_END);
	cr_assert_eq(km_rec_reader_seek_frame(r, 0), KM_ERR_RANGE);
	km_rec_reader_destroy(r);
	free(p);
}

Test(recording, file_and_dirs_private)
{
	char *p = km_test_path(dir, "a/b/c.kmrec");
	write_file(p, KM_REC_KPA, 3, true);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	char *d = km_test_path(dir, "a/b");
	cr_assert_eq(stat(d, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	/* existing file refused unless overwrite */
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_EXISTS);
	cr_assert_eq(km_test_file_size(p) > 0, 1, "refused create leaves the file alone");
	chmod(p, 0644);
	c.overwrite = true;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	km_rec_writer_destroy(w);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	free(d);
	free(p);
}

Test(recording, truncated_reads_up_to_damage)
{
	char *p = km_test_path(dir, "t.kmrec");
	write_file(p, KM_REC_RAW | KM_REC_KPA, 60, true);
	/* Find the offset of the chunk holding frame 30 via the reader. */
	km_rec_reader *r = open_reader(p);
	long size = km_test_file_size(p);
	km_rec_reader_destroy(r);
	/* Cut in the middle of the file, inside some chunk. */
	long cut = size / 2 + 13;
	cr_assert_eq(truncate(p, cut), 0);
	r = open_reader(p);
	const struct km_rec_info *in = km_rec_reader_info(r);
	cr_assert(!in->indexed && !in->complete);
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	cr_assert(d.damaged);
	cr_assert_eq(d.error, KM_ERR_TRUNCATED);
	cr_assert_lt(d.byte_offset, (uint64_t)cut);
	cr_assert_gt(d.frame_index, 0);
	cr_assert_lt(d.frame_index, 60);
	cr_assert_eq(d.frame_index, in->frame_count);
	uint64_t frames;
	cr_assert_eq(check_all(r, KM_REC_RAW | KM_REC_KPA, &frames), KM_ERR_TRUNCATED);
	cr_assert_eq(frames, d.frame_index);
	struct km_rec_item it;
	cr_assert_eq(km_rec_reader_next(r, &it), KM_ERR_TRUNCATED, "sticky");
	km_rec_reader_destroy(r);
	free(p);
}

Test(recording, corrupted_chunk_reported)
{
	char *p = km_test_path(dir, "c.kmrec");
	write_file(p, KM_REC_KPA, 80, true);
	long size = km_test_file_size(p);
	long at = size / 3;
	int fd = open(p, O_RDWR);
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);

	/* Indexed open: damage found while reading. */
	km_rec_reader *r = open_reader(p);
	cr_assert(km_rec_reader_info(r)->indexed);
	uint64_t frames;
	int rc = check_all(r, KM_REC_KPA, &frames);
	cr_assert(rc == KM_ERR_BAD_CRC || rc == KM_ERR_MALFORMED, "got %d", rc);
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	cr_assert(d.damaged);
	cr_assert_leq(d.byte_offset, (uint64_t)at);
	cr_assert_eq(d.frame_index, frames);
	cr_assert_gt(frames, 0);
	cr_assert_lt(frames, 80);
	km_rec_reader_destroy(r);

	/* verify_all: the same damage known at open. */
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = p;
	c.verify_all = true;
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_OK);
	struct km_rec_damage d2;
	km_rec_reader_damage(r, &d2);
	cr_assert(d2.damaged);
	cr_assert_eq(d2.byte_offset, d.byte_offset);
	cr_assert_eq(d2.frame_index, d.frame_index);
	cr_assert_eq(km_rec_reader_info(r)->frame_count, frames);
	cr_assert(!km_rec_reader_info(r)->complete);
	km_rec_reader_destroy(r);
	free(p);
}

Test(recording, header_damage_rejected)
{
	char *p = km_test_path(dir, "h.kmrec");
	write_file(p, KM_REC_KPA, 5, true);
	int fd = open(p, O_RDWR);
	uint8_t b = 'X';
	cr_assert_eq(pwrite(fd, &b, 1, 50), 1); /* inside the serial */
	close(fd);
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = p;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_ERR_BAD_CRC);
	fd = open(p, O_RDWR);
	cr_assert_eq(pwrite(fd, "NOTKMREC", 8, 0), 8);
	close(fd);
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_ERR_BAD_MAGIC);
	cr_assert_eq(truncate(p, 4), 0);
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_ERR_BAD_MAGIC);
	cr_assert_null(r);
	free(p);
}

Test(recording, index_rebuilt_when_missing)
{
	char *p = km_test_path(dir, "i.kmrec");
	write_file(p, KM_REC_KPA, 70, true);
	km_rec_reader *r = open_reader(p);
	uint64_t frames_indexed = km_rec_reader_info(r)->frame_count;
	km_rec_reader_destroy(r);
	/* Remove the trailer: the index chunk is still there but unreferenced. */
	cr_assert_eq(truncate(p, km_test_file_size(p) - 32), 0);
	r = open_reader(p);
	const struct km_rec_info *in = km_rec_reader_info(r);
	cr_assert(!in->indexed);
	cr_assert_eq(in->frame_count, frames_indexed);
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	cr_assert(!d.damaged, "an index chunk without trailer is not damage");
	cr_assert_eq(km_rec_reader_seek_frame(r, 42), KM_OK);
	struct km_rec_item it;
	cr_assert_eq(km_rec_reader_next_frame(r, &it), KM_OK);
	cr_assert_eq(it.frame->sequence, 1042);
	km_rec_reader_destroy(r);

	/* A crash (no close): flushed data readable, index rebuilt. */
	char *q = km_test_path(dir, "crash.kmrec");
	write_file(q, KM_REC_KPA, 33, false);
	r = open_reader(q);
	cr_assert(!km_rec_reader_info(r)->indexed);
	cr_assert_eq(km_rec_reader_info(r)->frame_count, 33);
	uint64_t frames;
	cr_assert_eq(check_all(r, KM_REC_KPA, &frames), KM_ERR_END);
	cr_assert_eq(frames, 33);
	km_rec_reader_destroy(r);
	free(q);
	free(p);
}

Test(recording, seeking)
{
	char *p = km_test_path(dir, "s.kmrec");
	write_file(p, KM_REC_RAW, 150, true);
	km_rec_reader *r = open_reader(p);
	struct km_rec_item it;
	const uint64_t idx[] = {149, 0, 77, 78, 3, 100};
	for (size_t k = 0; k < KM_ARRAY_SIZE(idx); k++) {
		cr_assert_eq(km_rec_reader_seek_frame(r, idx[k]), KM_OK);
		cr_assert_eq(km_rec_reader_next_frame(r, &it), KM_OK);
		cr_assert_eq(it.frame_index, idx[k]);
		cr_assert_eq(it.frame->sequence, 1000 + idx[k]);
	}
	cr_assert_eq(km_rec_reader_seek_frame(r, 150), KM_ERR_RANGE);
	/* time: exact and between frames */
	cr_assert_eq(km_rec_reader_seek_time(r, 5000000ull + 64 * 10000ull), KM_OK);
	cr_assert_eq(km_rec_reader_next_frame(r, &it), KM_OK);
	cr_assert_eq(it.frame_index, 64);
	cr_assert_eq(km_rec_reader_seek_time(r, 5000000ull + 64 * 10000ull + 1), KM_OK);
	cr_assert_eq(km_rec_reader_next_frame(r, &it), KM_OK);
	cr_assert_eq(it.frame_index, 65);
	cr_assert_eq(km_rec_reader_seek_time(r, 0), KM_OK);
	cr_assert_eq(km_rec_reader_next_frame(r, &it), KM_OK);
	cr_assert_eq(it.frame_index, 0);
	cr_assert_eq(km_rec_reader_seek_time(r, 5000000ull + 150 * 10000ull), KM_ERR_RANGE);
	/* sequential reading continues after a seek */
	cr_assert_eq(km_rec_reader_seek_frame(r, 140), KM_OK);
	uint64_t n = 0;
	while (km_rec_reader_next_frame(r, &it) == KM_OK)
		cr_assert_eq(it.frame_index, 140 + n++);
	cr_assert_eq(n, 10);
	km_rec_reader_destroy(r);
	free(p);
}

/* A writer on c with frames 0..n-1 (kPa only) written and flushed; *f is
 * the frame, for more. */
static km_rec_writer *writer_with_frames(const struct km_rec_writer_config *c, uint32_t n,
                                         struct km_frame **f)
{
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(c, &w), KM_OK);
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, f), KM_OK);
	for (uint32_t i = 0; i < n; i++) {
		km_test_fill(*f, NULL, i);
		cr_assert_eq(km_rec_writer_write_frame(w, *f, NULL, 77 + i % 2), KM_OK);
	}
	cr_assert_eq(km_rec_writer_flush(w), KM_OK);
	return w;
}

Test(recording, disk_full_keeps_file_readable)
{
	char *p = km_test_path(dir, "full.kmrec");
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	struct km_frame *f = NULL;
	uint32_t i = 20;
	km_rec_writer *w = writer_with_frames(&c, i, &f);
	km__rec_writer_fail_after(w, 1000); /* the disk fills mid-chunk */
	int rc = KM_OK;
	for (; i < 200 && rc == KM_OK; i++) {
		km_test_fill(f, NULL, i);
		rc = km_rec_writer_write_frame(w, f, NULL, 77 + i % 2);
	}
	cr_assert_eq(rc, KM_ERR_NO_SPACE);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_ERR_STATE);
	cr_assert_eq(km_rec_writer_close(w), KM_ERR_NO_SPACE);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	km_rec_reader *r = open_reader(p);
	struct km_rec_damage d;
	km_rec_reader_damage(r, &d);
	cr_assert(!d.damaged, "the partial chunk was cut off");
	cr_assert_geq(km_rec_reader_info(r)->frame_count, 20);
	uint64_t frames;
	cr_assert_eq(check_all(r, KM_REC_KPA, &frames), KM_ERR_END);
	cr_assert_eq(frames, km_rec_reader_info(r)->frame_count);
	km_rec_reader_destroy(r);
	free(p);
}

/* The timed flushes sync on the writer's own thread: a failed fdatasync
 * comes back from a later write (then the writer refuses writes and close
 * reports it), an explicit flush reports it at once, and everything flushed
 * before stays readable. */
Test(recording, failed_background_sync_is_reported)
{
	char *p = km_test_path(dir, "sync.kmrec");
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	c.flush_interval_ms = 1;
	c.sync = true; /* the sync thread runs only with sync */
	struct km_frame *f = NULL;
	uint32_t i = 20;
	km_rec_writer *w = writer_with_frames(&c, i, &f);
	km__rec_writer_fail_sync(w, KM_ERR_IO);
	int rc = KM_OK;
	for (int tries = 0; tries < 5000 && rc == KM_OK; tries++, i++) {
		km_test_fill(f, NULL, i);
		rc = km_rec_writer_write_frame(w, f, NULL, 77 + i % 2);
		nanosleep(&(struct timespec){0, 1000000}, NULL); /* the interval passes, the
		                                                  * sync thread runs */
	}
	cr_assert_eq(rc, KM_ERR_IO, "a write reports the failed sync: %s", km_error_name(rc));
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 77 + i % 2), KM_ERR_STATE);
	cr_assert_eq(km_rec_writer_close(w), KM_ERR_IO);
	km_rec_writer_destroy(w);

	/* an explicit flush syncs on the caller's thread: the error at once */
	char *q = km_test_path(dir, "sync2.kmrec");
	c = wcfg(q, KM_REC_KPA);
	c.sync = true;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	km_test_fill(f, NULL, 0);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 77 + i % 2), KM_OK);
	km__rec_writer_fail_sync(w, KM_ERR_IO);
	cr_assert_eq(km_rec_writer_flush(w), KM_ERR_IO);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);

	km_rec_reader *r = open_reader(p);
	cr_assert_geq(km_rec_reader_info(r)->frame_count, 20);
	uint64_t frames;
	cr_assert_eq(check_all(r, KM_REC_KPA, &frames), KM_ERR_END);
	cr_assert_geq(frames, 20);
	km_rec_reader_destroy(r);
	free(p);
	free(q);
}

Test(recording, a_device_is_not_a_recording_target)
{
	struct stat st;
	if (stat("/dev/full", &st) != 0)
		cr_skip_test("no /dev/full");
	struct km_rec_writer_config c = wcfg("/dev/full", KM_REC_KPA);
	c.overwrite = true;
	c.make_dirs = false;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_NOT_A_FILE);
	cr_assert_null(w);
	cr_assert_eq(stat("/dev/full", &st), 0, "never unlink a file we did not create");
}

/* record --force onto a planted link: refused; the link's target is neither
 * truncated nor chmod'ed. A new recording never shows up empty: the name
 * appears with its header already in it. */
Test(recording, links_are_refused_and_the_name_appears_with_a_header)
{
	char *victim = km_test_path(dir, "victim");
	char *link_path = km_test_path(dir, "link.kmrec");
	FILE *f = fopen(victim, "w");
	fputs("someone else's data", f);
	fclose(f);
	cr_assert_eq(chmod(victim, 0644), 0);
	cr_assert_eq(symlink(victim, link_path), 0);
	struct km_rec_writer_config c = wcfg(link_path, KM_REC_KPA);
	c.overwrite = true;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_ERR_PERMISSION);
	struct stat st;
	cr_assert_eq(stat(victim, &st), 0);
	cr_assert_eq(st.st_size, 19, "the link's target was truncated");
	cr_assert_eq(st.st_mode & 0777, 0644, "the link's target was chmod'ed");

	char *p = km_test_path(dir, "fresh.kmrec");
	c = wcfg(p, KM_REC_KPA);
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_gt(st.st_size, 0, "the file appeared without its header");
	cr_assert_eq(st.st_mode & 0777, 0600);
	km_rec_writer_destroy(w);
	free(p);
	free(victim);
	free(link_path);
}

Test(recording, writer_reset_starts_over)
{
	char *p = km_test_path(dir, "reset.kmrec");
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (uint32_t i = 0; i < 50; i++) {
		km_test_fill(f, NULL, 500 + i);
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_reset(w), KM_OK);
	uint64_t frames = 9;
	km_rec_writer_stats(w, &frames, NULL, NULL);
	cr_assert_eq(frames, 0);
	for (uint32_t i = 0; i < 10; i++) {
		km_test_fill(f, NULL, i);
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 77 + i % 2), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	cr_assert_eq(km_rec_writer_reset(w), KM_ERR_STATE);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_ERR_STATE);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	km_rec_reader *r = open_reader(p);
	cr_assert_eq(km_rec_reader_info(r)->frame_count, 10);
	cr_assert_eq(check_all(r, KM_REC_KPA, &frames), KM_ERR_END);
	cr_assert_eq(frames, 10);
	km_rec_reader_destroy(r);
	free(p);
}

Test(recording, bad_writes_rejected_and_no_per_frame_alloc)
{
	char *p = km_test_path(dir, "w.kmrec");
	struct km_rec_writer_config c = wcfg(p, KM_REC_RAW | KM_REC_KPA);
	c.chunk_bytes = 64 * 1024;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL, *g = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_frame_create(ROWS, COLS + 1, 12.5f, KM_GEOMETRY_FLAT, &g), KM_OK);
	uint16_t raw[ROWS * COLS] = {0};
	cr_assert_eq(km_rec_writer_write_frame(w, g, raw, 0), KM_ERR_SHAPE);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_rec_writer_write_frame(w, NULL, raw, 0), KM_ERR_INVALID_ARG);
	struct km_rec_event ev = test_event(1);
	ev.n_values = KM_REC_EVENT_MAX_VALUES + 1;
	cr_assert_eq(km_rec_writer_write_event(w, &ev), KM_ERR_RANGE);
	/* Warm up: the first chunk allocates the index array. */
	for (uint32_t i = 0; i < 40; i++)
		cr_assert_eq(km_rec_writer_write_frame(w, f, raw, 0), KM_OK);
	uint64_t before = km__alloc_count();
	for (uint32_t i = 0; i < 40; i++)
		cr_assert_eq(km_rec_writer_write_frame(w, f, raw, 0), KM_OK);
	cr_assert_eq(km__alloc_count(), before, "frames must not allocate");
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	km_frame_destroy(g);

	km_rec_reader *r = open_reader(p);
	struct km_rec_item it;
	before = km__alloc_count();
	while (km_rec_reader_next(r, &it) == KM_OK)
		;
	cr_assert_eq(km__alloc_count(), before, "reading must not allocate");
	km_rec_reader_destroy(r);
	free(p);
}

Test(recording, flushes_without_close)
{
	char *p = km_test_path(dir, "flush.kmrec");
	struct km_rec_writer_config c = wcfg(p, KM_REC_KPA);
	c.flush_interval_ms = 1;
	c.chunk_bytes = 1024 * 1024; /* never fills: only the timer writes chunks */
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	long header = km_test_file_size(p);
	cr_assert_gt(header, 0, "the header is on disk at once");
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	km_test_fill(f, NULL, 0);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 77), KM_OK);
	struct timespec ts = {0, 3 * 1000 * 1000};
	nanosleep(&ts, NULL); /* > flush_interval_ms */
	km_test_fill(f, NULL, 1);
	cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 78), KM_OK);
	cr_assert_gt(km_test_file_size(p), header, "the interval flushed a chunk");
	/* a reader sees both frames while the writer is still open */
	km_rec_reader *r = open_reader(p);
	cr_assert_eq(km_rec_reader_info(r)->frame_count, 2);
	km_rec_reader_destroy(r);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	free(p);
}

Test(recording, survives_kill_9)
{
	char *p = km_test_path(dir, "killed.kmrec");
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* the recorder: 50 frames, flush, tell the parent, keep going */
		close(pipefd[0]);
		struct km_rec_writer_config c = wcfg(p, KM_REC_RAW | KM_REC_KPA);
		km_rec_writer *w = NULL;
		if (km_rec_writer_create(&c, &w) != KM_OK)
			_exit(1);
		struct km_frame *f = NULL;
		if (km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f) != KM_OK)
			_exit(1);
		uint16_t raw[ROWS * COLS];
		for (uint32_t i = 0;; i++) {
			km_test_fill(f, raw, i);
			if (km_rec_writer_write_frame(w, f, raw, 77 + i % 2) != KM_OK)
				_exit(1);
			if (i == 49) {
				if (km_rec_writer_flush(w) != KM_OK ||
				    write(pipefd[1], "x", 1) != 1)
					_exit(1);
			}
			if (i > 49) {
				struct timespec ts = {0, 100 * 1000};
				nanosleep(&ts, NULL);
			}
		}
	}
	close(pipefd[1]);
	char b;
	cr_assert_eq(read(pipefd[0], &b, 1), 1, "the recorder flushed");
	close(pipefd[0]);
	kill(pid, SIGKILL);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status));
	km_rec_reader *r = open_reader(p);
	const struct km_rec_info *in = km_rec_reader_info(r);
	cr_assert(!in->complete);
	cr_assert_geq(in->frame_count, 50);
	uint64_t frames;
	int rc = check_all(r, KM_REC_RAW | KM_REC_KPA, &frames);
	cr_assert(rc == KM_ERR_END || rc == KM_ERR_TRUNCATED, "got %s", km_error_name(rc));
	cr_assert_eq(frames, in->frame_count);
	km_rec_reader_destroy(r);
	free(p);
}

/* Reads everything a reader will give, seeking too; must never crash. */
static void read_anything(const char *path, bool verify)
{
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = path;
	c.verify_all = verify;
	km_rec_reader *r = NULL;
	if (km_rec_reader_create(&c, &r) != KM_OK)
		return;
	struct km_rec_item it;
	uint64_t n = 0;
	while (km_rec_reader_next(r, &it) == KM_OK && n < 100000)
		n++;
	uint64_t count = km_rec_reader_info(r)->frame_count;
	for (uint64_t i = 0; i < count; i += 7) {
		if (km_rec_reader_seek_frame(r, i) == KM_OK)
			(void)km_rec_reader_next_frame(r, &it);
	}
	(void)km_rec_reader_seek_time(r, 5000000ull + 40 * 10000ull);
	(void)km_rec_reader_next(r, &it);
	km_rec_reader_destroy(r);
}

Test(recording, damaged_files_never_crash)
{
	char *p = km_test_path(dir, "orig.kmrec");
	char *q = km_test_path(dir, "fuzz.kmrec");
	write_file(p, KM_REC_RAW | KM_REC_KPA, 60, true);
	long size = km_test_file_size(p);
	uint8_t *orig = malloc((size_t)size), *buf = malloc((size_t)size);
	FILE *f = fopen(p, "rb");
	cr_assert_eq(fread(orig, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	uint32_t seed = 12345;
	for (int iter = 0; iter < 300; iter++) {
		memcpy(buf, orig, (size_t)size);
		long len = size;
		int flips = 1 + iter % 4;
		for (int k = 0; k < flips; k++) {
			seed = seed * 1664525u + 1013904223u;
			long at = (long)(seed >> 8) % size;
			seed = seed * 1664525u + 1013904223u;
			buf[at] ^= (uint8_t)(1u << (seed >> 29));
		}
		if (iter % 3 == 0) {
			seed = seed * 1664525u + 1013904223u;
			len = (long)(seed >> 8) % size;
		}
		f = fopen(q, "wb");
		cr_assert_eq(fwrite(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		read_anything(q, iter % 2 == 0);
	}
	free(orig);
	free(buf);
	free(q);
	free(p);
}

Test(recording, independent_reader_follows_the_spec)
{
	/* tests/recording/kmrec_read.py parses the file from docs/kmrec-format.md
	 * alone, checking every CRC. */
	const char *src = getenv("KM_SOURCE_DIR");
	if (!src)
		cr_skip_test("KM_SOURCE_DIR not set");
	char *p = km_test_path(dir, "spec.kmrec");
	write_file(p, KM_REC_RAW | KM_REC_KPA, 23, true);
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "%s '%s/tests/recording/kmrec_read.py' '%s' 2>&1",
	         access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3", src, p);
	FILE *pp = popen(cmd, "r");
	cr_assert_not_null(pp);
	char out[1024] = "";
	size_t n = fread(out, 1, sizeof out - 1, pp);
	out[n] = '\0';
	cr_assert_eq(pclose(pp), 0, "%s", out);
	unsigned rows, cols, content, complete, ev_last;
	unsigned long long frames, events, seq0, t_last;
	double kpa;
	cr_assert_eq(sscanf(out, "%u %u %u %llu %llu %u %llu %llu %lf %u", &rows, &cols, &content,
	                    &frames, &events, &complete, &seq0, &t_last, &kpa, &ev_last),
	             10, "%s", out);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, 12.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint16_t raw[ROWS * COLS];
	km_test_fill(f, raw, 0);
	cr_assert_eq(rows, ROWS);
	cr_assert_eq(cols, COLS);
	cr_assert_eq(content, KM_REC_RAW | KM_REC_KPA);
	cr_assert_eq(frames, 23);
	cr_assert_eq(events, 4);
	cr_assert_eq(complete, 1);
	cr_assert_eq(seq0, 1000);
	cr_assert_eq(t_last, 5000000ull + 22 * 10000ull);
	cr_assert_eq(kpa, (double)f->kpa[1]);
	cr_assert_eq(ev_last, test_event(19).type);
	km_frame_destroy(f);
	free(p);
}

/* An index whose checksums are all valid but whose counts promise more frames
 * than the file can hold is not believed: the reader scans, finds the real
 * frames, and does not call the file closed cleanly. */
Test(recording, a_crafted_index_cannot_promise_more_than_the_file_holds)
{
	char *p = km_test_path(dir, "crafted.kmrec");
	write_file(p, KM_REC_KPA, 40, true);
	int fd = open(p, O_RDWR);
	cr_assert(fd >= 0);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	uint8_t t[TRAILER];
	cr_assert_eq(pread(fd, t, TRAILER, st.st_size - TRAILER), TRAILER);
	uint64_t ioff = km_get_le64(t + 8);
	uint32_t n = km_get_le32(t + 24);
	cr_assert_gt(n, 0);
	size_t len = (size_t)n * INDEX_ENTRY;
	uint8_t *b = malloc(len + CHUNK_TAIL);
	cr_assert_eq(pread(fd, b, len + CHUNK_TAIL, (off_t)(ioff + CHUNK_HDR)),
	             (ssize_t)(len + CHUNK_TAIL));
	/* the last entry claims 3 billion frames; the totals are made to agree */
	uint8_t *last = b + (size_t)(n - 1) * INDEX_ENTRY;
	uint64_t total = km_get_le64(t + 16) - km_get_le32(last + 16) + 3000000000u;
	km_put_le32(last + 16, 3000000000u);
	km_put_le32(b + len, km_crc32c(0, b, len));
	km_put_le64(t + 16, total);
	km_put_le32(t + 28, km_crc32c(0, t, 28));
	cr_assert_eq(pwrite(fd, b, len + CHUNK_TAIL, (off_t)(ioff + CHUNK_HDR)),
	             (ssize_t)(len + CHUNK_TAIL));
	cr_assert_eq(pwrite(fd, t, TRAILER, st.st_size - TRAILER), TRAILER);
	close(fd);
	free(b);

	km_rec_reader *r = open_reader(p);
	const struct km_rec_info *in = km_rec_reader_info(r);
	cr_assert_eq(in->frame_count, 40, "frames %llu", (unsigned long long)in->frame_count);
	cr_assert(!in->complete, "a file whose index lies is not 'closed cleanly'");
	km_rec_reader_destroy(r);
	free(p);
}

/* Header errors name the field and its byte, not just "malformed data". */
Test(recording, header_errors_name_the_field)
{
	char *p = km_test_path(dir, "badfield.kmrec");
	write_file(p, KM_REC_KPA, 3, true);
	int fd = open(p, O_RDWR);
	uint8_t h[HDR_FIXED + 6 + 4];
	cr_assert_eq(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	km_put_le32(h + 16, 0x80); /* content: neither raw nor kPa */
	km_put_le32(h + HDR_CALIB + 6, km_crc32c(0, h, HDR_CALIB + 6));
	cr_assert_eq(pwrite(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	close(fd);
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = p;
	c.log.fn = keep_log;
	c.log.max_level = KM_LOG_DEBUG;
	km_rec_reader *r = NULL;
	kept[0] = '\0';
	cr_assert_eq(km_rec_reader_create(&c, &r), KM_ERR_MALFORMED);
	cr_assert(strstr(kept, "'content' (byte 16)"), "%s", kept);
	free(p);
}
