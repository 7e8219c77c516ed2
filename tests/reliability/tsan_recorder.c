/*
 * The recorder while reading (plain executable for ThreadSanitizer): the
 * stream's engine thread feeds the main thread, which runs the dsp pipeline
 * and writes a .kmrec, while a follower thread keeps opening the growing file
 * with its own reader (as a live replay would), and the writer's thread
 * fdatasyncs every 20 ms. Every frame written is read back in order at the end.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "knotmap/pipeline.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"
#include "rel_util.h"

#define FRAMES 300

static char path[512];
static atomic_bool writing_done;
static atomic_uint_fast64_t follower_max;

static void *follower(void *arg)
{
	(void)arg;
	while (!atomic_load(&writing_done)) {
		struct km_rec_reader_config rc = km_rec_reader_config_default();
		rc.path = path;
		km_rec_reader *r;
		if (km_rec_reader_create(&rc, &r) == KM_OK) {
			struct km_rec_item it;
			uint64_t n = 0;
			while (km_rec_reader_next_frame(r, &it) == KM_OK)
				n++;
			if (n > atomic_load(&follower_max))
				atomic_store(&follower_max, n);
			km_rec_reader_destroy(r);
		}
		rel_sleep_ms(25);
	}
	return NULL;
}

static void record_while_a_follower_reads(void)
{
	const char *base = getenv("TMPDIR");
	char dir[300];
	snprintf(dir, sizeof dir, "%s/km-tsanrec-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		REL_CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/r.kmrec", dir);

	struct km_stream_config sc = km_stream_config_default();
	sc.transport = KM_TRANSPORT_SIM;
	sc.sim_realtime = false;
	sc.sim_seed = 9;
	km_stream *s;
	REL_CHECK(km_stream_create(&sc, &s) == KM_OK, "stream");
	if (!s)
		return;
	struct km_device_info dev;
	km_stream_device_info(s, &dev);
	struct km_frame *f;
	REL_CHECK(km_stream_frame_create(s, &f) == KM_OK, "frame");

	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = path;
	wc.device.rows = dev.rows;
	wc.device.cols = dev.cols;
	wc.device.pitch_mm = dev.pitch_mm;
	wc.device.geometry = dev.geometry;
	wc.device.rate_hz = dev.rate_hz;
	wc.chunk_bytes = 64 * 1024; /* many chunks, so the follower sees the file grow */
	wc.flush_interval_ms = 20;
	wc.sync = true; /* the writer's own fdatasync thread runs under TSan too */
	km_rec_writer *w;
	REL_CHECK(km_rec_writer_create(&wc, &w) == KM_OK, "writer");
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = dev.rows;
	pc.cols = dev.cols;
	pc.pitch_mm = dev.pitch_mm;
	pc.geometry = dev.geometry;
	km_pipeline *p;
	REL_CHECK(km_pipeline_create(&pc, &p) == KM_OK, "pipeline");
	if (!w || !p)
		return;

	pthread_t t;
	pthread_create(&t, NULL, follower, NULL);
	REL_CHECK(km_stream_start(s) == KM_OK, "start");
	uint64_t events = 0;
	for (int i = 0; i < FRAMES; i++) {
		int rc = km_stream_read(s, f, 2000);
		REL_CHECK(rc == KM_OK, "read %d: %s", i, km_strerror(rc));
		if (rc != KM_OK)
			break;
		struct km_pipeline_result res;
		if (km_pipeline_process(p, f, &res) == KM_OK) {
			for (size_t e = 0; e < res.event_count; e++) {
				struct km_rec_event ev = {.type = (uint16_t)res.events[e].type,
				                          .time_us = res.events[e].time_us};
				REL_CHECK(km_rec_writer_write_event(w, &ev) == KM_OK, "event");
				events++;
			}
		}
		REL_CHECK(km_rec_writer_write_frame(w, f, NULL, 0) == KM_OK, "write %d", i);
	}
	km_stream_stop(s);
	REL_CHECK(km_rec_writer_close(w) == KM_OK, "close");
	atomic_store(&writing_done, true);
	pthread_join(t, NULL);
	km_rec_writer_destroy(w);

	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = path;
	rc.verify_all = true;
	km_rec_reader *r;
	REL_CHECK(km_rec_reader_create(&rc, &r) == KM_OK, "reader");
	if (r) {
		const struct km_rec_info *info = km_rec_reader_info(r);
		REL_CHECK(info->complete, "not closed cleanly");
		REL_CHECK(info->frame_count == FRAMES, "%llu frames",
		          (unsigned long long)info->frame_count);
		REL_CHECK(info->event_count == events, "%llu events of %llu",
		          (unsigned long long)info->event_count, (unsigned long long)events);
		km_rec_reader_destroy(r);
	}
	REL_CHECK(atomic_load(&follower_max) > 0, "the follower never saw a frame");
	fprintf(stderr, "  follower saw up to %llu frames while recording\n",
	        (unsigned long long)atomic_load(&follower_max));
	km_pipeline_destroy(p);
	km_stream_destroy(s);
	km_frame_destroy(f);
	remove(path);
	remove(dir);
}

int main(void)
{
	REL_RUN(record_while_a_follower_reads);
	return rel_failures ? 1 : 0;
}
