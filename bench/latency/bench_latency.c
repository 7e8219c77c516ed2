/*
 * bench_latency: end-to-end latency from a frame leaving the virtual mat to
 * the dsp result, and allocations per frame after start.
 *
 * "Leaving the mat": the program is linked with -Wl,--wrap=km_sim_step,
 * --wrap=km_sim_pack; the wrappers stamp CLOCK_MONOTONIC when km_sim_pack
 * has made the frame's packets (in the sim transport's engine thread, or in
 * the USB emulator's handler on umockdev's thread), keyed by sequence.
 * "Result": km_pipeline_process returned for that frame on the reader thread
 * (km_stream_read -> km_pipeline_process, default configs, 100 Hz real time).
 *
 * Allocations are counted two ways over the measured frames (after start and
 * a warm-up): the library's own allocator hooks (km_set_allocator: every
 * km__malloc/calloc/realloc, all threads), and a malloc interposer in this
 * program (malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign, all
 * threads, attributed to the shared object of the caller: this binary holds
 * knotmap (static), libusb, glib/umockdev are separate).
 *
 * usage: bench_latency sim ROWSxCOLS FRAMES OUT.json
 *        bench_latency usb DEVICE_FILE FRAMES OUT.json   (under umockdev-wrapper)
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/bench_util.h"
#include "knotmap/pipeline.h"
#include "knotmap/sim.h"
#include "knotmap/stream.h"

#ifdef KM_BENCH_USB
#include "usb_emulator.h"
#include "usb_fixture.h"
#endif

/* ---- frame departure stamps (link-time wrappers) ------------------------ */

#define STAMPS 8192
static _Atomic uint64_t g_sent_us[STAMPS];
static _Atomic uint32_t g_sent_seq[STAMPS];
static _Thread_local uint32_t t_last_seq;

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int __real_km_sim_step(km_sim *sim, struct km_sim_output *out);
int __wrap_km_sim_step(km_sim *sim, struct km_sim_output *out);
int __real_km_sim_pack(km_sim *sim, uint8_t *buf, size_t cap, size_t *written);
int __wrap_km_sim_pack(km_sim *sim, uint8_t *buf, size_t cap, size_t *written);

int __wrap_km_sim_step(km_sim *sim, struct km_sim_output *out)
{
	int rc = __real_km_sim_step(sim, out);
	if (rc == KM_OK)
		t_last_seq = out->sequence;
	return rc;
}

int __wrap_km_sim_pack(km_sim *sim, uint8_t *buf, size_t cap, size_t *written)
{
	int rc = __real_km_sim_pack(sim, buf, cap, written);
	uint32_t k = t_last_seq % STAMPS;
	atomic_store(&g_sent_us[k], mono_us());
	atomic_store(&g_sent_seq[k], t_last_seq);
	return rc;
}

/* ---- malloc interposer -------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

#define SITES 1024
static atomic_bool g_counting;
static _Atomic uintptr_t g_site_pc[SITES];
static _Atomic uint64_t g_site_n[SITES];
static _Atomic uint64_t g_site_lost;

/* BENCH_ALLOC_TRACE=N: print the stack of the first N counted allocations. */
static _Atomic int g_trace_left;

static void count_alloc(void *pc)
{
	if (!atomic_load_explicit(&g_counting, memory_order_relaxed))
		return;
	if (atomic_load(&g_trace_left) > 0 && atomic_fetch_sub(&g_trace_left, 1) > 0) {
		void *bt[12];
		int k = backtrace(bt, 12);
		backtrace_symbols_fd(bt, k, 2);
		static const char sep[] = "--\n";
		if (write(2, sep, sizeof sep - 1) < 0)
			return;
	}
	uintptr_t key = (uintptr_t)pc;
	size_t h = (size_t)((key >> 4) * 2654435761u) % SITES;
	for (size_t i = 0; i < SITES; i++) {
		size_t j = (h + i) % SITES;
		uintptr_t cur = atomic_load(&g_site_pc[j]);
		if (cur == 0) {
			uintptr_t zero = 0;
			if (atomic_compare_exchange_strong(&g_site_pc[j], &zero, key) ||
			    zero == key) {
				atomic_fetch_add(&g_site_n[j], 1);
				return;
			}
			cur = zero;
		}
		if (cur == key) {
			atomic_fetch_add(&g_site_n[j], 1);
			return;
		}
	}
	atomic_fetch_add(&g_site_lost, 1);
}

/* Exported (the build hides symbols by default) so that libc, libusb and
 * glib calls land here too. */
#define KM_EXPORT __attribute__((visibility("default")))
KM_EXPORT void *malloc(size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_malloc(n);
}
KM_EXPORT void *calloc(size_t a, size_t b)
{
	count_alloc(__builtin_return_address(0));
	return __libc_calloc(a, b);
}
KM_EXPORT void *realloc(void *p, size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_realloc(p, n);
}
KM_EXPORT void free(void *p)
{
	__libc_free(p);
}
KM_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	count_alloc(__builtin_return_address(0));
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
KM_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_memalign(align, n);
}
void *memalign(size_t align, size_t n);
KM_EXPORT void *memalign(size_t align, size_t n)
{
	count_alloc(__builtin_return_address(0));
	return __libc_memalign(align, n);
}

/* ---- km allocator hooks ------------------------------------------------- */

static _Atomic uint64_t g_km_allocs;
static void *km_a(void *u, size_t n)
{
	(void)u;
	atomic_fetch_add(&g_km_allocs, 1);
	return __libc_malloc(n);
}
static void *km_r(void *u, void *p, size_t n)
{
	(void)u;
	atomic_fetch_add(&g_km_allocs, 1);
	return __libc_realloc(p, n);
}
static void km_f(void *u, void *p)
{
	(void)u;
	__libc_free(p);
}

/* ---- the run ------------------------------------------------------------ */

#define WARMUP 50

struct obj_count {
	char name[96];
	uint64_t n;
};

static int run(km_stream *s, const char *mode, const char *grid, size_t frames,
               const char *json_path)
{
	struct km_device_info di;
	if (km_stream_device_info(s, &di) != KM_OK)
		return 1;
	struct km_frame *f = NULL;
	if (km_stream_frame_create(s, &f) != KM_OK)
		return 1;
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = f->rows;
	pc.cols = f->cols;
	pc.pitch_mm = f->pitch_mm;
	pc.geometry = f->geometry;
	pc.rate_hz = 100.0f;
	km_pipeline *p = NULL;
	int rc = km_pipeline_create(&pc, &p);
	if (rc != KM_OK) {
		fprintf(stderr, "pipeline: %s\n", km_error_name(rc));
		return 1;
	}
	double *lat = calloc(frames, sizeof(double));
	double *xport = calloc(frames, sizeof(double));
	double *dsp = calloc(frames, sizeof(double));
	if (!lat || !xport || !dsp)
		return 1;
	struct km_pipeline_result res;
	size_t n = 0, bad_stamp = 0, errors = 0;
	uint64_t km0 = 0;
	double t_start = 0;
	if ((rc = km_stream_start(s)) != KM_OK) {
		fprintf(stderr, "start: %s\n", km_error_name(rc));
		return 1;
	}
	/* self-test: an allocation inside libc (strdup) must be seen */
	atomic_store(&g_counting, true);
	char *volatile probe = strdup("probe");
	atomic_store(&g_counting, false);
	free(probe);
	uint64_t selftest = 0;
	for (size_t i = 0; i < SITES; i++) {
		selftest += atomic_load(&g_site_n[i]);
		atomic_store(&g_site_n[i], 0);
		atomic_store(&g_site_pc[i], 0);
	}
	for (size_t i = 0; i < frames + WARMUP; i++) {
		if (i == WARMUP) {
			km0 = atomic_load(&g_km_allocs);
			atomic_store(&g_counting, true);
			t_start = bu_wall_s();
		}
		rc = km_stream_read(s, f, 2000);
		uint64_t t_read = mono_us();
		if (rc != KM_OK) {
			fprintf(stderr, "read: %s\n", km_error_name(rc));
			errors++;
			break;
		}
		if (km_pipeline_process(p, f, &res) != KM_OK)
			errors++;
		uint64_t t_done = mono_us();
		if (i < WARMUP)
			continue;
		uint32_t k = f->sequence % STAMPS;
		uint64_t sent = atomic_load(&g_sent_us[k]);
		if (atomic_load(&g_sent_seq[k]) != f->sequence || sent == 0 || sent > t_read) {
			bad_stamp++;
			continue;
		}
		lat[n] = (double)(t_done - sent);
		xport[n] = (double)(t_read - sent);
		dsp[n] = (double)(t_done - t_read);
		n++;
	}
	atomic_store(&g_counting, false);
	double dt = bu_wall_s() - t_start;
	uint64_t km_allocs = atomic_load(&g_km_allocs) - km0;
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	km_stream_stop(s);

	/* attribute the interposer's counts to shared objects */
	struct obj_count objs[32];
	size_t nobj = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < SITES; i++) {
		uint64_t c = atomic_load(&g_site_n[i]);
		if (!c)
			continue;
		total += c;
		Dl_info info;
		const char *name = "?";
		if (dladdr((void *)atomic_load(&g_site_pc[i]), &info) && info.dli_fname) {
			name = strrchr(info.dli_fname, '/');
			name = name ? name + 1 : info.dli_fname;
		}
		size_t j = 0;
		while (j < nobj && strcmp(objs[j].name, name) != 0)
			j++;
		if (j == nobj && nobj < 32) {
			snprintf(objs[nobj].name, sizeof objs[nobj].name, "%s", name);
			objs[nobj++].n = 0;
		}
		if (j < nobj)
			objs[j].n += c;
	}
	double denom = n ? (double)n : 1.0;
	double med = bu_quantile(lat, n, 0.5), p99 = bu_quantile(lat, n, 0.99),
	       mx = bu_quantile(lat, n, 1.0);
	double xmed = bu_quantile(xport, n, 0.5), xp99 = bu_quantile(xport, n, 0.99);
	double dmed = bu_quantile(dsp, n, 0.5), dp99 = bu_quantile(dsp, n, 0.99);
	FILE *js = fopen(json_path, "w");
	if (!js) {
		perror(json_path);
		return 1;
	}
	fprintf(
	    js,
	    "{\"mode\": \"%s\", \"grid\": \"%s\", \"rows\": %u, \"cols\": %u, \"rate_hz\": %u,\n"
	    " \"frames\": %zu, \"bad_stamps\": %zu, \"errors\": %zu, \"seconds\": %.3f,\n"
	    " \"latency_us\": {\"median\": %.1f, \"p99\": %.1f, \"max\": %.1f},\n"
	    " \"transport_us\": {\"median\": %.1f, \"p99\": %.1f},\n"
	    " \"dsp_us\": {\"median\": %.1f, \"p99\": %.1f},\n"
	    " \"km_allocs_per_frame\": %.4f, \"malloc_per_frame\": %.4f, \"malloc_lost\": %llu, "
	    "\"interposer_selftest\": %llu,\n"
	    " \"stream\": {\"frames_ok\": %llu, \"lost\": %llu, \"ring_drops\": %llu, "
	    "\"crc_errors\": %llu, \"timeouts\": %llu},\n"
	    " \"malloc_by_object\": {",
	    mode, grid, f->rows, f->cols, di.rate_hz, n, bad_stamp, errors, dt, med, p99, mx, xmed,
	    xp99, dmed, dp99, (double)km_allocs / denom, (double)total / denom,
	    (unsigned long long)atomic_load(&g_site_lost), (unsigned long long)selftest,
	    (unsigned long long)st.frames_ok, (unsigned long long)st.lost_frames,
	    (unsigned long long)st.ring_drops, (unsigned long long)st.crc_errors,
	    (unsigned long long)st.timeouts);
	for (size_t j = 0; j < nobj; j++)
		fprintf(js, "%s\"%s\": %.4f", j ? ", " : "", objs[j].name,
		        (double)objs[j].n / denom);
	fprintf(js, "}}\n");
	fclose(js);
	printf("%-4s %-9s frames %zu  latency median %.0f us p99 %.0f us max %.0f us  "
	       "km allocs/frame %.3f  malloc/frame %.3f\n",
	       mode, grid, n, med, p99, mx, (double)km_allocs / denom, (double)total / denom);
	km_pipeline_destroy(p);
	km_frame_destroy(f);
	free(lat);
	free(xport);
	free(dsp);
	return errors || n == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_latency sim ROWSxCOLS FRAMES OUT.json\n"
		                "       bench_latency usb DEVICE_FILE FRAMES OUT.json\n");
		return 2;
	}
	const char *tr = getenv("BENCH_ALLOC_TRACE");
	if (tr) {
		void *bt[4];
		backtrace(bt, 4); /* loads libgcc now, not inside malloc */
		atomic_store(&g_trace_left, atoi(tr));
	}
	struct km_allocator a = {km_a, km_r, km_f, NULL};
	km_set_allocator(&a);
	size_t frames = (size_t)strtoul(argv[3], NULL, 10);
	if (frames == 0 || frames > 100000)
		return 2;
	struct km_stream_config cfg = km_stream_config_default();
	cfg.ring_capacity = 64;
	int rc;
	km_stream *s = NULL;
	if (strcmp(argv[1], "sim") == 0) {
		unsigned r = 0, c = 0;
		if (sscanf(argv[2], "%ux%u", &r, &c) != 2)
			return 2;
		struct bu_case bc = {argv[2], (uint16_t)r, (uint16_t)c, 7.5f, KM_GEOMETRY_FLAT};
		struct km_sim_config sc = bu_sim_config(&bc);
		sc.rate_hz = 100.0f;
		cfg.transport = KM_TRANSPORT_SIM;
		cfg.sim_config = &sc;
		cfg.sim_realtime = true;
		rc = km_stream_create(&cfg, &s);
		if (rc != KM_OK) {
			fprintf(stderr, "stream: %s\n", km_error_name(rc));
			return 1;
		}
		rc = run(s, "sim", argv[2], frames, argv[4]);
		km_stream_destroy(s);
		return rc;
	}
#ifdef KM_BENCH_USB
	if (strcmp(argv[1], "usb") == 0) {
		const char *pre = getenv("LD_PRELOAD");
		if (!pre || !strstr(pre, "libumockdev-preload")) {
			fprintf(stderr, "bench_latency usb: run under umockdev-wrapper\n");
			return 2;
		}
		UMockdevTestbed *tb = umockdev_testbed_new();
		struct emu *e = emu_create(tb, argv[2], true);
		if (!e)
			return 1;
		cfg.transport = KM_TRANSPORT_LIBUSB;
		cfg.transfer_timeout_ms = 2000;
		cfg.control_timeout_ms = 500;
		rc = km_stream_create(&cfg, &s);
		if (rc != KM_OK) {
			fprintf(stderr, "stream: %s\n", km_error_name(rc));
			emu_destroy(e);
			g_object_unref(tb);
			return 1;
		}
		char grid[32];
		struct km_device_info di;
		km_stream_device_info(s, &di);
		snprintf(grid, sizeof grid, "%ux%u", (unsigned)di.rows, (unsigned)di.cols);
		rc = run(s, "usb", grid, frames, argv[4]);
		km_stream_destroy(s);
		emu_destroy(e);
		g_object_unref(tb);
		return rc;
	}
#endif
	fprintf(stderr, "bench_latency: unknown mode %s\n", argv[1]);
	return 2;
}
