/*
 * The libusb transport on the real libusb path, under umockdev: enumeration,
 * streaming from captures (1 and 4 transfers in flight) and from a live
 * emulator (unplug/replug, CRC errors, truncation, STALL, queue depth),
 * control requests and the permission message. Runs under umockdev-wrapper.
 */
#include <criterion/criterion.h>
#include <glib/gstdio.h>
#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umockdev.h>

#include "km_internal.h"
#include "knotmap/protocol.h"
#include "knotmap/sim.h"
#include "knotmap/stream.h"
#include "usb_emulator.h"
#include "usb_fixture.h"

#define CELLS (32 * 48)

static UMockdevTestbed *tb;

static const char *fixture(const char *name)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", KM_FIXTURE_DIR, name);
	return path;
}

/* umockdev_in_mock_environment() only turns true once a testbed exists;
 * what matters here is whether the preload library is in place. */
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
			cr_assert_fail("umockdev is not active: run under umockdev-wrapper (CI "
			               "must run these tests)");
		cr_skip_test("not running under umockdev-wrapper");
	}
	tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
}

static void teardown(void)
{
	if (tb)
		g_object_unref(tb);
	tb = NULL;
}

TestSuite(usb, .init = setup, .fini = teardown, .timeout = 60);

/* Collects log lines for assertions. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

static void collect(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	pthread_mutex_lock(&log_lock);
	size_t n = strlen(log_text);
	snprintf(log_text + n, sizeof log_text - n, "%s: %s\n", module, msg);
	pthread_mutex_unlock(&log_lock);
}

static struct km_log test_log(void)
{
	struct km_log l = {collect, NULL, KM_LOG_DEBUG};
	return l;
}

static struct km_stream_config usb_cfg(unsigned transfers)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_LIBUSB;
	c.transfers = transfers;
	c.transfer_size = FIX_TRANSFER;
	c.transfer_timeout_ms = 2000;
	c.control_timeout_ms = 500;
	c.reconnect_poll_ms = 50;
	c.ring_capacity = 256;
	c.log = test_log();
	return c;
}

static km_sim *reference(void)
{
	struct km_sim_config sc = fix_sim_config();
	km_sim *ref;
	cr_assert_eq(km_sim_create(&sc, &ref), KM_OK);
	cr_assert_eq(km_sim_control(ref, KM_SIM_CMD_START, 0), KM_OK);
	return ref;
}

static void add_mat_with_capture(const char *capture)
{
	GError *err = NULL;
	cr_assert(umockdev_testbed_add_from_file(tb, fixture("mat.umockdev"), &err), "%s",
	          err ? err->message : "");
	cr_assert(umockdev_testbed_load_pcap(tb, "/sys" FIX_SYSFS, fixture(capture), &err), "%s",
	          err ? err->message : "");
}

Test(usb, lists_the_mat_with_its_info_block)
{
	add_mat_with_capture("devices.pcap");
	struct km_device_info d[4];
	size_t n = 0;
	struct km_log l = test_log();
	cr_assert_eq(km_device_list(NULL, &l, d, 4, &n), KM_OK, "%s", log_text);
	cr_assert_eq(n, 1);
	cr_expect_eq(d[0].status, KM_OK, "%s", log_text);
	km_sim *ref = reference();
	cr_expect_str_eq(d[0].serial, "KMSIM-4B4D0042");
	cr_expect_eq(d[0].rows, 32);
	cr_expect_eq(d[0].cols, 48);
	cr_expect_eq(d[0].bus, FIX_BUS);
	cr_expect_eq(d[0].address, FIX_DEV);
	cr_expect_eq(d[0].vid, KM_USB_VID);
	cr_expect_eq(d[0].pid, KM_USB_PID);
	cr_expect_eq(d[0].firmware_version, km_version_number());
	cr_expect_eq(d[0].transport, KM_TRANSPORT_LIBUSB);
	km_sim_destroy(ref);
}

static void stream_capture(unsigned transfers, const char *capture)
{
	add_mat_with_capture(capture);
	struct km_stream_config c = usb_cfg(transfers);
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_device_info info;
	km_stream_device_info(s, &info);
	cr_assert_eq(info.rows, 32);
	cr_assert_eq(info.cols, 48);
	cr_expect_str_eq(info.serial, "KMSIM-4B4D0042");
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	km_sim *ref = reference();
	static uint16_t raw[CELLS];
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < FIX_FRAMES; i++) {
		cr_assert_eq(km_stream_read_raw(s, f, raw, CELLS, 5000), KM_OK, "frame %d: %s", i,
		             log_text);
		struct km_sim_output o;
		km_sim_step(ref, &o);
		cr_assert_eq(f->sequence, o.sequence);
		cr_assert_arr_eq(raw, o.counts, sizeof raw, "frame %d differs", i);
	}
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_eq(st.frames_ok, FIX_FRAMES);
	cr_expect_eq(st.crc_errors, 0);
	cr_expect_eq(st.lost_frames, 0);
	cr_expect_eq(st.garbled, 0);
	cr_expect_eq(st.unplugs, 0);
	cr_assert_eq(km_stream_stop(s), KM_OK);
	km_stream_destroy(s);
	km_frame_destroy(f);
	km_sim_destroy(ref);
}

Test(usb, streams_a_capture_with_one_transfer_in_flight)
{
	stream_capture(1, "stream-1.pcap");
}

Test(usb, streams_a_capture_with_four_transfers_in_flight)
{
	stream_capture(4, "stream-4.pcap");
}

static void live_stream(unsigned transfers)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 60);
	struct km_stream_config c = usb_cfg(transfers);
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	km_sim *ref = reference();
	static uint16_t raw[CELLS];
	cr_assert_eq(km_stream_start(s), KM_OK);
	uint64_t allocs = 0;
	for (int i = 0; i < 60; i++) {
		if (i == 5)
			allocs = km__alloc_count();
		cr_assert_eq(km_stream_read_raw(s, f, raw, CELLS, 5000), KM_OK, "frame %d", i);
		struct km_sim_output o;
		km_sim_step(ref, &o);
		cr_assert_arr_eq(raw, o.counts, sizeof raw, "frame %d differs", i);
	}
	cr_expect_eq(km__alloc_count(), allocs, "the driver allocated while streaming");
	km_stream_destroy(s);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_expect_eq(es.max_in_flight, transfers, "bulk URBs queued at once");
	cr_expect_eq(es.starts, 1);
	cr_expect_eq(es.stops, 1);
	emu_destroy(e);
	km_frame_destroy(f);
	km_sim_destroy(ref);
}

Test(usb, live_mat_one_transfer_in_flight)
{
	live_stream(1);
}

Test(usb, live_mat_four_transfers_in_flight)
{
	live_stream(4);
}

static atomic_int n_unplugged, n_reconnected;

static void on_status(void *user, enum km_stream_status status, int error)
{
	(void)user;
	(void)error;
	if (status == KM_STREAM_UNPLUGGED)
		atomic_fetch_add(&n_unplugged, 1);
	if (status == KM_STREAM_RECONNECTED)
		atomic_fetch_add(&n_reconnected, 1);
}

Test(usb, unplug_mid_stream_then_replug_resumes)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), true);
	cr_assert_not_null(e);
	struct km_stream_config c = usb_cfg(4);
	c.status_fn = on_status;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);

	emu_unplug(e);
	int rc;
	int guard = 0;
	while ((rc = km_stream_read(s, f, 100)) == KM_OK || rc == KM_ERR_TIMEOUT)
		cr_assert_lt(++guard, 100, "the unplug was not noticed: %s", log_text);
	cr_assert_eq(rc, KM_ERR_NO_DEVICE);
	cr_expect_eq(atomic_load(&n_unplugged), 1);
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_eq(st.unplugs, 1);
	cr_expect_eq(st.reconnects, 0);

	emu_replug(e);
	guard = 0;
	while ((rc = km_stream_read(s, f, 100)) != KM_OK)
		cr_assert_lt(++guard, 100, "no frames after the replug (%s): %s", km_strerror(rc),
		             log_text);
	cr_expect_eq(f->sequence, 0, "streaming restarted (sequence %u)", f->sequence);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	km_stream_stats(s, &st);
	cr_expect_eq(st.unplugs, 1);
	cr_expect_eq(st.reconnects, 1);
	cr_expect_eq(atomic_load(&n_reconnected), 1);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_expect_eq(es.starts, 2);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

Test(usb, corrupted_and_truncated_packets_are_counted_and_dropped)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 30);
	emu_inject(e, 5, EMU_CORRUPT);
	emu_inject(e, 9, EMU_CORRUPT);
	emu_inject(e, 12, EMU_TRUNCATE);
	struct km_stream_config c = usb_cfg(4);
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	int read = 0;
	do {
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK, "after %d frames", read);
		read++;
		if (f->sequence == 6 || f->sequence == 10 || f->sequence == 13) {
			cr_expect_eq(f->dropped_since_last, 1, "frame %u", f->sequence);
			cr_expect(f->flags & KM_FRAME_LOST_BEFORE);
		} else {
			cr_expect_eq(f->dropped_since_last, 0, "frame %u", f->sequence);
		}
	} while (f->sequence < 29);
	cr_expect_eq(read, 27);
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_eq(st.crc_errors, 2);
	cr_expect_eq(st.garbled, 1);
	cr_expect_eq(st.lost_frames, 3);
	cr_expect_eq(st.frames_ok, 27);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

Test(usb, stall_is_cleared_and_streaming_goes_on)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 20);
	emu_inject(e, 7, EMU_STALL);
	struct km_stream_config c = usb_cfg(4);
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	do
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK, "%s", log_text);
	while (f->sequence < 19);
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_eq(st.stalls, 1);
	cr_expect_eq(st.lost_frames, 1);
	cr_expect_eq(st.frames_ok, 19);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_expect_eq(es.clear_halts, 1);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

Test(usb, bulk_timeouts_are_counted_and_resubmitted)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 5); /* then the mat goes quiet */
	struct km_stream_config c = usb_cfg(2);
	c.transfer_timeout_ms = 100;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	cr_expect_eq(km_stream_read(s, f, 1500), KM_ERR_TIMEOUT);
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	cr_expect_geq(st.timeouts, 1, "no bulk timeout counted");
	cr_expect_eq(st.resubmit_failures, 0);
	cr_expect_eq(st.unplugs, 0);
	km_stream_destroy(s);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_expect_geq(es.discarded, 1, "timed-out URBs are cancelled");
	emu_destroy(e);
	km_frame_destroy(f);
}

Test(usb, rate_and_zero_go_to_the_device)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), true);
	cr_assert_not_null(e);
	struct km_stream_config c = usb_cfg(2);
	c.rate_hz = 50;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_expect_eq(km_stream_zero(s), KM_ERR_STATE, "not running yet");
	cr_assert_eq(km_stream_start(s), KM_OK);
	cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	struct emu_stats es;
	emu_stats(e, &es);
	cr_expect_eq(es.last_rate, 50, "rate requested at start");
	cr_assert_eq(km_stream_set_rate(s, 120), KM_OK, "%s", log_text);
	cr_expect_eq(km_stream_set_rate(s, 0), KM_ERR_RANGE);
	cr_assert_eq(km_stream_zero(s), KM_OK, "%s", log_text);
	cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	emu_stats(e, &es);
	cr_expect_eq(es.last_rate, 120);
	cr_expect_eq(es.zeros, 1);
	struct km_device_info info;
	km_stream_device_info(s, &info);
	cr_expect_eq(info.rate_hz, 120);
	km_stream_destroy(s);
	emu_destroy(e);
	km_frame_destroy(f);
}

Test(usb, other_serial_or_no_mat_is_no_device)
{
	struct km_stream_config c = usb_cfg(1);
	km_stream *s = (void *)1;
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_NO_DEVICE, "empty bus");
	cr_expect_null(s);
	/* AUTO falls back to the virtual mat when nothing is plugged in */
	c.transport = KM_TRANSPORT_AUTO;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK);
	struct km_device_info info;
	km_stream_device_info(s, &info);
	cr_expect_eq(info.transport, KM_TRANSPORT_SIM);
	km_stream_destroy(s);

	struct emu *e = emu_create(tb, fixture("mat.umockdev"), true);
	cr_assert_not_null(e);
	c = usb_cfg(1);
	c.serial = "KMSIM-FFFFFFFF";
	cr_expect_eq(km_stream_create(&c, &s), KM_ERR_NO_DEVICE);
	c.serial = "KMSIM-4B4D0042";
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	km_stream_destroy(s);
	emu_destroy(e);
}

Test(usb, injected_libusb_context_is_used_and_left_alone)
{
	struct emu *e = emu_create(tb, fixture("mat.umockdev"), false);
	cr_assert_not_null(e);
	emu_set_frame_limit(e, 10);
	libusb_context *ctx;
	cr_assert_eq(libusb_init(&ctx), 0);
	struct km_stream_config c = usb_cfg(2);
	c.libusb_context = ctx;
	km_stream *s;
	cr_assert_eq(km_stream_create(&c, &s), KM_OK, "%s", log_text);
	struct km_frame *f;
	cr_assert_eq(km_stream_frame_create(s, &f), KM_OK);
	cr_assert_eq(km_stream_start(s), KM_OK);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(km_stream_read(s, f, 5000), KM_OK);
	km_stream_destroy(s);
	/* still usable after the stream is gone */
	libusb_device **list;
	cr_expect_geq(libusb_get_device_list(ctx, &list), 1);
	libusb_free_device_list(list, 1);
	libusb_exit(ctx);
	emu_destroy(e);
	km_frame_destroy(f);
}

static void chmod_tree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "chmod -R a+rwX '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Bits usb_perm_helper reports back. */
enum { P_CREATE = 1, P_HINT = 2, P_UDEVADM = 4, P_AUTO = 8, P_LIST = 16, P_LIST_STATUS = 32 };

Test(usb, permission_error_names_the_udev_rule)
{
	cr_expect_not_null(strstr(km_device_permission_hint(), "70-knotmap.rules"));
	GError *err = NULL;
	cr_assert(umockdev_testbed_add_from_file(tb, fixture("mat.umockdev"), &err));
	/* A mat whose node the user may not open, as without the udev rule:
	 * root opens anything, so the check runs in a child that is not root. */
	gchar *root = umockdev_testbed_get_root_dir(tb);
	chmod_tree(root);
	char node[4200];
	snprintf(node, sizeof node, "%s%s", root, FIX_DEVNODE);
	g_free(root);
	cr_assert_eq(chmod(node, 0600), 0);
	/* fork + exec at once: nothing of this process's threads is inherited */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(KM_PERM_HELPER, KM_PERM_HELPER, (char *)NULL);
		_exit(0);
	}
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	int ok = WEXITSTATUS(status);
	cr_expect(ok & P_CREATE, "create did not report KM_ERR_PERMISSION");
	cr_expect(ok & P_HINT, "the log does not name 70-knotmap.rules");
	cr_expect(ok & P_UDEVADM, "the log does not say how to reload udev");
	cr_expect(ok & P_AUTO, "AUTO hid the permission problem");
	cr_expect(ok & P_LIST, "km_device_list did not list the mat");
	cr_expect(ok & P_LIST_STATUS, "km_device_list did not flag the permission error");
}
