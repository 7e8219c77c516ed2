/*
 * Fault injection on the real libusb path (umockdev + the live emulator of
 * tests/driver): repeated unplug/replug, CRC errors, short packets, STALLs and
 * a host too slow for the mat. Each test checks that the stream recovers and
 * that the counters account for every frame the emulator sent, and that the
 * library's memory (live blocks through km_set_allocator) stays flat.
 * KM_FAULT_SECONDS (default 12) sets how long the unplug test runs.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <umockdev.h>
#include <unistd.h>

#include "knotmap/recording.h"
#include "knotmap/stream.h"
#include "rel_util.h"
#include "usb_emulator.h"
#include "usb_fixture.h"

static UMockdevTestbed *tb;

static bool preloaded(void)
{
	const char *p = getenv("LD_PRELOAD");
	return p && strstr(p, "libumockdev-preload");
}

static void setup(void)
{
	if (!preloaded()) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("umockdev is not active: run under umockdev-wrapper");
		cr_skip_test("not running under umockdev-wrapper");
	}
	rel_count_allocations();
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
}

static void teardown(void)
{
	if (tb)
		g_object_unref(tb);
	tb = NULL;
}

TestSuite(usb_faults, .init = setup, .fini = teardown, .timeout = 200);

static const char *device_file(void)
{
	return KM_FIXTURE_DIR "/mat.umockdev";
}

static atomic_int n_unplugged, n_reconnected, n_failed;

static void on_status(void *user, enum km_stream_status status, int error)
{
	(void)user;
	(void)error;
	if (status == KM_STREAM_UNPLUGGED)
		atomic_fetch_add(&n_unplugged, 1);
	else if (status == KM_STREAM_RECONNECTED)
		atomic_fetch_add(&n_reconnected, 1);
	else if (status == KM_STREAM_FAILED)
		atomic_fetch_add(&n_failed, 1);
}

static struct km_stream_config __attribute__((unused)) usb_cfg(void)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_LIBUSB;
	c.transfers = 4;
	c.transfer_size = 16384;
	c.transfer_timeout_ms = 2000;
	c.control_timeout_ms = 500;
	c.reconnect_poll_ms = 50;
	c.ring_capacity = 256;
	c.status_fn = on_status;
	return c;
}

/* Frame sequences (since START) whose packet the emulator damages. They hit
 * every connection again, because the sequence restarts at each START. */
#define F_CRC 40
#define F_SHORT 80
#define F_STALL 120

/*
 * Unplug/replug every ~1.5-2 s for KM_FAULT_SECONDS, with a CRC error, a short
 * packet and a STALL in every connection. For each connection the reader
 * drains the ring after the unplug, so the last sequence it read is the last
 * frame the engine accepted; the emulator's frames_sent minus that is the
 * tail lost in flight when the cable went, at most the transfers queued.
 */
Test(usb_faults, unplug_replug_cycles_with_errors_account_for_every_frame)
{
	long seconds = rel_env_long("KM_FAULT_SECONDS", 12, 3, 3600);
	struct emu *e = emu_create(tb, device_file(), true);
	cr_assert_not_null(e);
	emu_inject(e, F_CRC, EMU_CORRUPT);
	emu_inject(e, F_SHORT, EMU_TRUNCATE);
	emu_inject(e, F_STALL, EMU_STALL);
	struct km_stream_config c = usb_cfg();
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);

	srand(7);
	uint64_t sent_total = 0, read_total = 0, dropped_total = 0, tail_total = 0;
	uint64_t expect_crc = 0, expect_short = 0, expect_stall = 0, seq_span = 0;
	unsigned cycles = 0;
	long live_blocks = -1, live_bytes = -1;
	long rss_first = 0, rss_last = 0;
	double t_end = rel_now_s() + (double)seconds;
	while (rel_now_s() < t_end || cycles == 0) {
		/* one connection: read until the reader has seen frame `until` */
		uint32_t until = 150 + (uint32_t)(rand() % 50);
		int64_t last = -1;
		int rc, guard = 0;
		while (last < (int64_t)until) {
			rc = km_stream_read(s, f, 200);
			if (rc == KM_ERR_TIMEOUT || rc == KM_ERR_NO_DEVICE) {
				cr_assert_lt(++guard, 50, "cycle %u: no frames (%s)", cycles,
				             km_strerror(rc));
				continue;
			}
			cr_assert_eq(rc, KM_OK, "cycle %u: %s", cycles, km_strerror(rc));
			if (last < 0)
				cr_assert_eq(f->sequence, f->dropped_since_last,
				             "cycle %u: the connection starts at frame %u", cycles,
				             f->sequence);
			else
				cr_assert_eq(f->sequence,
				             (uint32_t)last + 1 + f->dropped_since_last,
				             "cycle %u: gap not reported before frame %u", cycles,
				             f->sequence);
			last = f->sequence;
			read_total++;
			dropped_total += f->dropped_since_last;
		}
		emu_unplug(e);
		/* drain what the engine accepted before the cable went */
		guard = 0;
		while ((rc = km_stream_read(s, f, 100)) == KM_OK || rc == KM_ERR_TIMEOUT) {
			if (rc == KM_OK) {
				cr_assert_eq(f->sequence,
				             (uint32_t)last + 1 + f->dropped_since_last);
				last = f->sequence;
				read_total++;
				dropped_total += f->dropped_since_last;
			}
			cr_assert_lt(++guard, 500, "the unplug was not noticed");
		}
		cr_assert_eq(rc, KM_ERR_NO_DEVICE);
		struct emu_stats es;
		emu_stats(e, &es);
		cr_assert_geq(es.frames_sent, (unsigned)last + 1);
		uint64_t tail = es.frames_sent - ((uint64_t)last + 1);
		cr_expect_leq(tail, c.transfers, "cycle %u: %llu frames vanished in flight", cycles,
		              (unsigned long long)tail);
		sent_total += es.frames_sent;
		tail_total += tail;
		seq_span += (uint64_t)last + 1;
		expect_crc += last > F_CRC;
		expect_short += last > F_SHORT;
		expect_stall += last > F_STALL;
		rel_sleep_ms(200 + (unsigned)(rand() % 300));
		emu_replug(e);
		cycles++;
		/* memory at the same point of every cycle: from the 2nd on, flat */
		long bytes, blocks = rel_live(&bytes);
		if (cycles == 2) {
			live_blocks = blocks;
			live_bytes = bytes;
			rss_first = rel_rss_kib();
		} else if (cycles > 2) {
			cr_expect_eq(blocks, live_blocks, "cycle %u: live blocks grew", cycles);
			cr_expect_eq(bytes, live_bytes, "cycle %u: live bytes grew", cycles);
			rss_last = rel_rss_kib();
		}
		if (getenv("KM_FAULT_VERBOSE"))
			fprintf(stderr,
			        "cycle %u: rss %ld KiB, live %ld blocks %ld bytes, threads %d\n",
			        cycles, rel_rss_kib(), blocks, bytes, rel_threads());
	}
	/* the last replug must resume too */
	int rc, guard = 0;
	while ((rc = km_stream_read(s, f, 200)) != KM_OK)
		cr_assert_lt(++guard, 50, "no frames after the last replug");
	struct km_stream_stats st;
	cr_assert_eq(km_stream_stats(s, &st), KM_OK);
	km_stream_stop(s);
	while (km_stream_read(s, f, 0) == KM_OK)
		;
	cr_expect_eq(st.unplugs, cycles);
	cr_expect_eq(st.reconnects, cycles);
	cr_expect_eq(atomic_load(&n_unplugged), (int)cycles);
	cr_expect_eq(atomic_load(&n_reconnected), (int)cycles);
	cr_expect_eq(atomic_load(&n_failed), 0);
	cr_expect_eq(st.crc_errors, expect_crc);
	cr_expect_eq(st.garbled, expect_short);
	cr_expect_eq(st.stalls, expect_stall);
	cr_expect_eq(st.ring_drops, 0);
	/* frames of finished connections: accepted + lost by gap = the sequence
	 * span; plus the tails: every frame the emulator sent */
	cr_expect_eq(dropped_total, expect_crc + expect_short + expect_stall);
	cr_expect_eq(read_total + dropped_total, seq_span);
	cr_expect_eq(seq_span + tail_total, sent_total);
	cr_expect_geq(st.frames_ok, read_total + 1);
	cr_expect_leq(st.lost_frames - dropped_total, 3, "the connection still open lost frames");
	fprintf(stderr,
	        "usb_faults: %ld s, %u unplug/replug cycles, %llu frames sent, %llu read, "
	        "%llu lost to injected faults, %llu in flight at unplugs (max %u per unplug), "
	        "live library blocks %ld (%ld bytes) flat, RSS %ld -> %ld KiB\n",
	        seconds, cycles, (unsigned long long)sent_total, (unsigned long long)read_total,
	        (unsigned long long)dropped_total, (unsigned long long)tail_total, c.transfers,
	        live_blocks, live_bytes, rss_first, rss_last);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

/*
 * The reading thread stalls (a slow host) while the emulator sends as fast as
 * transfers are queued, with faults sprinkled in: the ring overflows and
 * drops the oldest frames. Every frame sent is accounted for exactly:
 *   sent = frames_ok + lost_frames,  frames_ok = frames_read + ring_drops,
 *   sum of dropped_since_last = lost_frames + ring_drops.
 */
Test(usb_faults, slow_host_overflows_the_ring_and_counts_are_exact)
{
	const uint32_t limit = 1500;
	struct emu *e = emu_create(tb, device_file(), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, limit);
	unsigned n_crc = 0, n_short = 0, n_stall = 0;
	for (uint32_t q = 37; q < limit && n_crc + n_short + n_stall < 15; q += 97) {
		enum emu_fault k = (enum emu_fault)(1 + (q / 97) % 3);
		emu_inject(e, q, k);
		n_crc += k == EMU_CORRUPT;
		n_short += k == EMU_TRUNCATE;
		n_stall += k == EMU_STALL;
	}
	struct km_stream_config c = usb_cfg();
	c.ring_capacity = 8;
	c.transfer_timeout_ms = 300;
	c.transfer_size = (size_t)rel_env_long("KM_FAULT_XFER", 16384, 512, 262080);
	long rss0 = rel_rss_kib();
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	uint64_t read = 0, dropped = 0;
	int64_t last = -1;
	int rc;
	long blocks0 = -1;
	while ((rc = km_stream_read(s, f, 1000)) == KM_OK) {
		if (last >= 0)
			cr_assert_eq(f->sequence, (uint32_t)last + 1 + f->dropped_since_last,
			             "frame %u: dropped_since_last %u after %lld", f->sequence,
			             f->dropped_since_last, (long long)last);
		else
			cr_assert_eq(f->sequence, f->dropped_since_last);
		if (f->dropped_since_last)
			cr_assert(f->flags & KM_FRAME_LOST_BEFORE);
		last = f->sequence;
		read++;
		dropped += f->dropped_since_last;
		if (read == 10)
			blocks0 = rel_live(NULL);
		if (read % 25 == 0)
			rel_sleep_ms(40); /* the host stalls */
	}
	cr_assert_eq(rc, KM_ERR_TIMEOUT, "%s", km_strerror(rc));
	cr_expect_eq(rel_live(NULL), blocks0, "the library allocated while streaming");
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_assert_eq(es.frames_sent, limit);
	cr_expect_eq(last, (int64_t)limit - 1, "the last frame is always kept");
	cr_expect_gt(st.ring_drops, 0, "the slow host never overflowed the ring");
	cr_expect_eq(st.crc_errors, n_crc);
	cr_expect_eq(st.garbled, n_short);
	cr_expect_eq(st.stalls, n_stall);
	cr_expect_eq(st.lost_frames, n_crc + n_short + n_stall);
	cr_expect_eq(st.frames_ok + st.lost_frames, limit);
	cr_expect_eq(st.frames_read, read);
	cr_expect_eq(st.frames_ok, read + st.ring_drops);
	cr_expect_eq(dropped, st.lost_frames + st.ring_drops);
	cr_expect_eq(es.clear_halts, n_stall);
	fprintf(stderr,
	        "slow host: %u frames sent, %llu read, %llu ring drops, %llu lost "
	        "(%u CRC, %u short, %u STALL); RSS %ld -> %ld KiB with %zu-byte transfers\n",
	        limit, (unsigned long long)read, (unsigned long long)st.ring_drops,
	        (unsigned long long)st.lost_frames, n_crc, n_short, n_stall, rss0, rel_rss_kib(),
	        c.transfer_size);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

/* Unplugged for good while the host is stalled: the frames already in the
 * ring are still read, then NO_DEVICE; stop and destroy do not hang. */
Test(usb_faults, unplug_while_the_host_is_stalled)
{
	struct emu *e = emu_create(tb, device_file(), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 100);
	struct km_stream_config c = usb_cfg();
	c.ring_capacity = 16;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	cr_assert_eq(km_stream_read(s, f, 2000), KM_OK);
	/* Wait until the emulator has sent all 100 frames (a loaded machine can
	 * take a while), so the ring holds the last 16 whatever the timing. */
	struct km_stream_stats st;
	for (int i = 0; i < 1000; i++) {
		km_stream_stats(s, &st);
		if (st.frames_ok + st.lost_frames >= 100)
			break;
		rel_sleep_ms(10);
	}
	cr_assert_eq(st.frames_ok + st.lost_frames, 100, "the emulator's frames did not all arrive");
	emu_unplug(e);
	int rc, n = 0, guard = 0;
	while ((rc = km_stream_read(s, f, 100)) == KM_OK || rc == KM_ERR_TIMEOUT) {
		n += rc == KM_OK;
		cr_assert_lt(++guard, 200);
	}
	cr_expect_eq(rc, KM_ERR_NO_DEVICE);
	cr_expect_eq(n, 16, "the ring's frames are kept after the unplug");
	km_stream_stats(s, &st);
	cr_expect_eq(st.unplugs, 1);
	cr_expect_eq(st.frames_ok, 1 + 16 + st.ring_drops);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}


/*
 * `knotmap record --device` (the built binary, a child process that reaches
 * this process's emulator through umockdev's sockets) across an unplug: it
 * says the mat went away, waits, records again after the replug, and keeps
 * going until Ctrl-C (SIGINT) or --duration; everything recorded replays.
 */
static void __attribute__((unused)) record_across_replug(bool power_cycle)
{
	const char *bin_dir = getenv("KM_BINARY_DIR");
	cr_assert_not_null(bin_dir);
	char bin[4096], dir[256], out[512], errf[512];
	snprintf(bin, sizeof bin, "%s/cli/knotmap", bin_dir);
	snprintf(dir, sizeof dir, "/tmp/km-usbrec-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(out, sizeof out, "%s/u.kmrec", dir);
	snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
	struct emu *e = emu_create(tb, device_file(), true);
	cr_assert_not_null(e);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_WRONLY);
		if (fd >= 0 && nul >= 0) {
			dup2(nul, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "record", "--device", "KMSIM-4B4D0042", "--duration", "30", "-o",
		      out, "--no-history", (char *)NULL);
		_exit(127);
	}
	rel_sleep_ms(1500);
	emu_unplug(e);
	rel_sleep_ms(1500);
	if (power_cycle) {
		/* a bus-powered mat loses power with the cable: it comes back
		 * with its clock (and everything else) restarted */
		emu_destroy(e);
		umockdev_testbed_remove_device(tb, "/sys" FIX_SYSFS);
		e = emu_create(tb, device_file(), true);
		cr_assert_not_null(e);
		emu_replug(e);
	} else {
		emu_replug(e);
	}
	rel_sleep_ms(2000);
	struct emu_stats es;
	emu_stats(e, &es);
	bool alive = waitpid(pid, NULL, WNOHANG) == 0;
	if (alive)
		kill(pid, SIGINT);
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	char text[4096] = "";
	FILE *f = fopen(errf, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	cr_expect(alive, "knotmap record stopped on its own after the replug (30 s asked): %s",
	          text);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d: %s", status, text);
	cr_expect_not_null(strstr(text, "unplugged"), "%s", text);
	cr_expect_eq(es.starts, power_cycle ? 1u : 2u,
	             "streaming did not restart after the replug");

	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = out;
	km_rec_reader *r;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_rec_item it;
	uint64_t frames = 0, restarts = 0, back = 0, last_t = 0;
	uint32_t last = 0;
	while (km_rec_reader_next_frame(r, &it) == KM_OK) {
		if (frames && it.frame->sequence < last)
			restarts++;
		if (frames && it.frame->device_time_us <= last_t)
			back++;
		last = it.frame->sequence;
		last_t = it.frame->device_time_us;
		frames++;
	}
	cr_expect(km_rec_reader_info(r)->complete);
	km_rec_reader_destroy(r);
	cr_expect_eq(restarts, 1, "frames of both connections are in the file");
	/* seeking by time (km_rec_reader_seek_time) needs time order */
	cr_expect_eq(back, 0, "device time went back %llu times in the file",
	             (unsigned long long)back);
	fprintf(stderr, "record across a replug: %llu frames, exit %d\n",
	        (unsigned long long)frames, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
	emu_destroy(e);
}

Test(usb_faults, record_cli_keeps_recording_across_a_replug)
{
	record_across_replug(false);
}

/*
 * A bus-powered mat loses power when unplugged and comes back with its device
 * clock restarted near 0; the stream must keep device time continuous
 * (seek_time, durations, the dsp's timers and the history's times all assume
 * it only grows).
 */
Test(usb_faults, device_time_continues_after_a_mat_power_cycle)
{
	record_across_replug(true);
}
