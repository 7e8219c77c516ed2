/*
 * Soak: the virtual mat streams in real time (100 Hz) through the whole dsp
 * pipeline into a recorder for SECONDS; the recording is rotated (closed,
 * read back, deleted, a new one created) every SAMPLE seconds, and at each
 * rotation the process's RSS and libknotmap's live blocks are sampled.
 * Prints a table; exits non-zero on memory growth or counter drift:
 *  - live library blocks/bytes differ between rotations (after the first);
 *  - RSS grows more than 1 MiB from the 2nd sample to the last;
 *  - frames are lost or counters disagree (frames_ok = read + ring drops,
 *    sequence and device time continuous, every recording reads back whole).
 * Usage: soak SECONDS [SAMPLE_SECONDS]   (scripts/soak.sh; ctest runs 20 s)
 */
#include <inttypes.h>

#include "knotmap/pipeline.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"
#include "rel_util.h"

#define RSS_SLACK_KIB 1024

/* AddressSanitizer keeps freed memory in quarantine (256 MiB by default), so
 * RSS grows by design there: only the library heap is checked then. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif

static int rotate_check(const char *path, uint64_t expect_frames)
{
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = path;
	rc.verify_all = true;
	km_rec_reader *r;
	int err = km_rec_reader_create(&rc, &r);
	REL_CHECK(err == KM_OK, "%s: %s", path, km_strerror(err));
	if (err != KM_OK)
		return err;
	const struct km_rec_info *info = km_rec_reader_info(r);
	REL_CHECK(info->complete && info->frame_count == expect_frames,
	          "%s: %" PRIu64 " frames of %" PRIu64 ", complete %d", path, info->frame_count,
	          expect_frames, info->complete);
	km_rec_reader_destroy(r);
	remove(path);
	return KM_OK;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 20;
	double sample_s = argc > 2 ? atof(argv[2]) : (seconds >= 600 ? 30 : 4);
	if (seconds <= 0 || sample_s <= 0) {
		fprintf(stderr, "usage: soak SECONDS [SAMPLE_SECONDS]\n");
		return 2;
	}
	rel_count_allocations();
	const char *base = getenv("TMPDIR");
	char dir[300], path[400], scen[400];
	snprintf(dir, sizeof dir, "%s/km-soak-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* back-lying on a 48 x 32 grid: the body, knots and breathing, at a
	 * size whose recordings stay small (6 KiB a frame) */
	snprintf(scen, sizeof scen, "%s/soak.ini", dir);
	char cmd[1200];
	snprintf(cmd, sizeof cmd,
	         "sed -e 's/^rows *=.*/rows = 48/' -e 's/^cols *=.*/cols = 32/' "
	         "-e 's/^midline_x_mm *=.*/midline_x_mm = 160/' '%s/back-lying.ini' > '%s'",
	         KM_SCENARIO_DIR, scen);
	if (system(cmd) != 0) {
		fprintf(stderr, "soak: cannot write %s\n", scen);
		return 1;
	}

	struct km_stream_config sc = km_stream_config_default();
	sc.transport = KM_TRANSPORT_SIM;
	sc.sim_scenario = scen;
	sc.sim_realtime = true;
	sc.ring_capacity = 64;
	km_stream *s = NULL;
	int err = km_stream_create(&sc, &s);
	if (err != KM_OK) {
		fprintf(stderr, "soak: stream: %s\n", km_strerror(err));
		return 1;
	}
	struct km_device_info dev;
	km_stream_device_info(s, &dev);
	struct km_frame *f = NULL;
	km_stream_frame_create(s, &f);
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = dev.rows;
	pc.cols = dev.cols;
	pc.pitch_mm = dev.pitch_mm;
	pc.geometry = dev.geometry;
	pc.rate_hz = dev.rate_hz;
	km_pipeline *p = NULL;
	if (!f || km_pipeline_create(&pc, &p) != KM_OK) {
		fprintf(stderr, "soak: setup failed\n");
		return 1;
	}
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = path;
	wc.device.rows = dev.rows;
	wc.device.cols = dev.cols;
	wc.device.pitch_mm = dev.pitch_mm;
	wc.device.geometry = dev.geometry;
	wc.device.rate_hz = dev.rate_hz;

	printf("soak: %.0f s of the virtual mat (%ux%u, %.0f Hz) -> dsp pipeline -> recorder, "
	       "sampled every %.0f s\n",
	       seconds, dev.rows, dev.cols, (double)dev.rate_hz, sample_s);
	printf("%8s %9s %6s %6s %6s %7s %9s %7s %10s\n", "time_s", "frames", "lost", "drops",
	       "events", "files", "rss_kib", "blocks", "bytes");
	if (km_stream_start(s) != KM_OK) {
		fprintf(stderr, "soak: start failed\n");
		return 1;
	}
	double t0 = rel_now_s(), next = t0 + sample_s;
	uint64_t read = 0, dropped = 0, events = 0, files = 0, in_file = 0;
	int64_t last_seq = -1;
	uint64_t last_dev = 0;
	long rss_warm = 0, rss_last = 0, rss_max = 0, blocks_ref = -1, bytes_ref = -1;
	unsigned samples = 0;
	km_rec_writer *w = NULL;
	snprintf(path, sizeof path, "%s/soak-%04" PRIu64 ".kmrec", dir, files);
	REL_CHECK(km_rec_writer_create(&wc, &w) == KM_OK, "writer");
	while (w && rel_failures == 0) {
		double now = rel_now_s();
		if (now >= next) {
			/* rotate: close, read back, delete; sample with no writer */
			REL_CHECK(km_rec_writer_close(w) == KM_OK, "close");
			km_rec_writer_destroy(w);
			w = NULL;
			rotate_check(path, in_file);
			files++;
			in_file = 0;
			long bytes, blocks = rel_live(&bytes);
			long rss = rel_rss_kib();
			struct km_stream_stats st;
			km_stream_stats(s, &st);
			printf("%8.0f %9" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %7" PRIu64
			       " %9ld %7ld %10ld\n",
			       now - t0, read, st.lost_frames, st.ring_drops, events, files, rss,
			       blocks, bytes);
			fflush(stdout);
			samples++;
			if (samples == 2) {
				rss_warm = rss;
				blocks_ref = blocks;
				bytes_ref = bytes;
			} else if (samples > 2) {
				REL_CHECK(
				    blocks == blocks_ref && bytes == bytes_ref,
				    "library memory changed: %ld blocks %ld bytes, was %ld / %ld",
				    blocks, bytes, blocks_ref, bytes_ref);
			}
			rss_last = rss;
			if (rss > rss_max)
				rss_max = rss;
			if (now - t0 >= seconds)
				break;
			next += sample_s;
			snprintf(path, sizeof path, "%s/soak-%04" PRIu64 ".kmrec", dir, files);
			err = km_rec_writer_create(&wc, &w);
			REL_CHECK(err == KM_OK, "writer: %s", km_strerror(err));
			continue;
		}
		err = km_stream_read(s, f, 1000);
		REL_CHECK(err == KM_OK, "read: %s", km_strerror(err));
		if (err != KM_OK)
			break;
		REL_CHECK((int64_t)f->sequence == last_seq + 1 + f->dropped_since_last,
		          "frame %u after %lld", f->sequence, (long long)last_seq);
		REL_CHECK(read == 0 || f->device_time_us > last_dev, "device time went back");
		last_seq = f->sequence;
		last_dev = f->device_time_us;
		read++;
		dropped += f->dropped_since_last;
		struct km_pipeline_result res;
		err = km_pipeline_process(p, f, &res);
		REL_CHECK(err == KM_OK, "pipeline: %s", km_strerror(err));
		events += res.event_count;
		err = km_rec_writer_write_frame(w, f, NULL, 0);
		REL_CHECK(err == KM_OK, "write: %s", km_strerror(err));
		in_file++;
	}
	km_stream_stop(s);
	uint64_t left = 0;
	while (km_stream_read(s, f, 0) == KM_OK)
		left++;
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	REL_CHECK(st.frames_read == read + left,
	          "frames_read %" PRIu64 " != %" PRIu64 " + %" PRIu64, st.frames_read, read, left);
	REL_CHECK(st.frames_ok == st.frames_read + st.ring_drops,
	          "frames_ok %" PRIu64 " != read %" PRIu64 " + drops %" PRIu64, st.frames_ok,
	          st.frames_read, st.ring_drops);
	REL_CHECK(left > 0 || dropped == st.lost_frames + st.ring_drops,
	          "dropped_since_last sum %" PRIu64 " vs lost %" PRIu64 " + drops %" PRIu64,
	          dropped, st.lost_frames, st.ring_drops);
	REL_CHECK(st.lost_frames == 0 && st.crc_errors == 0 && st.garbled == 0,
	          "the virtual mat lost frames: %" PRIu64, st.lost_frames);
	REL_CHECK(!RSS_CHECKED || samples < 3 || rss_last - rss_warm <= RSS_SLACK_KIB,
	          "RSS grew %ld KiB after warm-up (%ld -> %ld)", rss_last - rss_warm, rss_warm,
	          rss_last);
	printf("soak: %s: %" PRIu64 " frames, %" PRIu64 " ring drops, %" PRIu64 " lost, %" PRIu64
	       " recordings read back, RSS %ld -> %ld KiB (max %ld), library "
	       "%ld blocks\n",
	       rel_failures ? "FAILED" : "ok", read, st.ring_drops, st.lost_frames, files, rss_warm,
	       rss_last, rss_max, blocks_ref);
	if (!RSS_CHECKED)
		printf("soak: sanitizer build: RSS not checked (only the library heap)\n");
	km_rec_writer_destroy(w);
	km_pipeline_destroy(p);
	km_stream_destroy(s);
	km_frame_destroy(f);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "soak: could not remove %s\n", dir);
	return rel_failures ? 1 : 0;
}
