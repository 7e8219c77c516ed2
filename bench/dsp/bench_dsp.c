/*
 * bench_dsp: knotmap dsp speed on frames from the virtual mat, and the floor.
 *
 * Per grid (32x32, 64x64, 128x128 flat; 48x128 cylinder):
 *  - frames come from the virtual mat through the driver's sim transport
 *    (calibrated kPa, exactly what an application reads), kept in memory and
 *    written to <out>/frames_<case>.npy for the Python peers;
 *  - the full pipeline (km_pipeline_process, default config) frames/s;
 *  - the band-pass + detection stage alone in two configs: "pipeline" (the
 *    pipeline's normalised band-pass with background) and "plain" (DoG
 *    without background, detection reduced to 3x3x3 NMS + a fixed 2 kPa
 *    threshold: the same math the OpenCV / SciPy peers do); the plain stage's
 *    detections go to <out>/dets_<case>.npy for the agreement check;
 *  - the plain band-pass forced to FFT and to DIRECT, to check AUTO's pick;
 *  - pipeline variants (FFTW_MEASURE, plain band-pass) with their allocations
 *    per frame, counted by a malloc-family interposer in this program;
 *  - the floor: one bare FFTW r2c + c2r pair on the pipeline's padded grid
 *    (same plan flags: FFTW_ESTIMATE), and the time to read the frame at
 *    the measured memory read bandwidth.
 * Times are thread CPU time (one core), median of 5 repetitions.
 * Results: <out>/dsp.json.
 *
 * usage: bench_dsp OUTDIR [SECONDS_PER_MEASURE]        (default 0.25)
 *        bench_dsp --callgrind CASE ITERS             (pipeline loop only)
 *        bench_dsp --pipeline CASE SECONDS            (pipeline frames/s only)
 * CASE: a grid above, or 128x64bed (a whole body lying: the trunk gate).
 */
#include <fftw3.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bench_util.h"
#include "knotmap/pipeline.h"
#include "knotmap/stream.h"

/* ---- allocation counter (every malloc-family call of the process) --------- */
/* Exported: the build hides symbols by default, and FFTW's calls must land here. */
#define BENCH_EXPORT __attribute__((visibility("default")))
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static int g_count_allocs;
static unsigned long long g_allocs;
BENCH_EXPORT void *malloc(size_t n)
{
	g_allocs += (unsigned long long)g_count_allocs;
	return __libc_malloc(n);
}
BENCH_EXPORT void *calloc(size_t a, size_t b)
{
	g_allocs += (unsigned long long)g_count_allocs;
	return __libc_calloc(a, b);
}
BENCH_EXPORT void *realloc(void *p, size_t n)
{
	g_allocs += (unsigned long long)g_count_allocs;
	return __libc_realloc(p, n);
}
BENCH_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	g_allocs += (unsigned long long)g_count_allocs;
	void *p = __libc_memalign(align, n);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}
BENCH_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	g_allocs += (unsigned long long)g_count_allocs;
	return __libc_memalign(align, n);
}
BENCH_EXPORT void *memalign(size_t align, size_t n);
BENCH_EXPORT void *memalign(size_t align, size_t n)
{
	g_allocs += (unsigned long long)g_count_allocs;
	return __libc_memalign(align, n);
}

#define NFRAMES 300
#define SKIP_FRAMES 120
#define REPS 5

struct frames {
	struct km_frame *f[NFRAMES];
	size_t n;
};

/* A whole body lying, for the pipeline's trunk gate (it runs only when the
 * body model finds a lying posture, which takes a contact of 1.3 m or more;
 * the flat cases above show part of a body). The virtual mat stops at 128
 * cells and 10 mm pitch (1.28 m), so its shortest body (1.0 m) lies whole on
 * 128 x 64 cells at 10 mm and the frames are read at 15 mm pitch: a bed mat
 * of 1.92 x 0.96 m with a 1.5 m body. Two knots on the back, either side of
 * the spine. Only for --callgrind and --pipeline (not in the peers' table). */
static const struct bu_case bed_case = {"128x64bed", 128, 64, 15.0f, KM_GEOMETRY_FLAT};
#define BED_SIM_PITCH_MM 10.0f

static struct km_sim_config case_sim_config(const struct bu_case *bc)
{
	if (bc != &bed_case)
		return bu_sim_config(bc);
	struct km_sim_config c = km_sim_config_default();
	c.rows = bc->rows;
	c.cols = bc->cols;
	c.pitch_mm = BED_SIM_PITCH_MM;
	c.geometry = KM_GEOMETRY_FLAT;
	c.seed = 7;
	float w = bc->cols * BED_SIM_PITCH_MM;
	c.body_height_mm = 1000.0f;
	c.body_mass_kg = 35.0f;
	c.body_vertex_y_mm = 100.0f;
	c.body_midline_x_mm = w / 2;
	c.knot_count = 2;
	c.knots[0] = (struct km_sim_knot){w / 2 + 45, 100 + 0.30f * 1000, 10, 30, 6, 0};
	c.knots[1] = (struct km_sim_knot){w / 2 - 40, 100 + 0.42f * 1000, 9, 25, 5, 0};
	return c;
}

static int get_frames(const struct bu_case *bc, struct frames *fr)
{
	struct km_sim_config sc = case_sim_config(bc);
	struct km_stream_config cfg = km_stream_config_default();
	cfg.transport = KM_TRANSPORT_SIM;
	cfg.sim_config = &sc;
	cfg.sim_seed = 7;
	cfg.sim_realtime = false;
	cfg.sim_frames = NFRAMES + SKIP_FRAMES;
	cfg.ring_capacity = 64;
	km_stream *s = NULL;
	int rc = km_stream_create(&cfg, &s);
	if (rc == KM_OK)
		rc = km_stream_start(s);
	struct km_frame *tmp = NULL;
	if (rc == KM_OK)
		rc = km_stream_frame_create(s, &tmp);
	size_t got = 0;
	while (rc == KM_OK && got < NFRAMES + SKIP_FRAMES) {
		rc = km_stream_read(s, tmp, 2000);
		if (rc != KM_OK)
			break;
		if (got >= SKIP_FRAMES) {
			rc = km_frame_clone(tmp, &fr->f[got - SKIP_FRAMES]);
			if (rc == KM_OK)
				fr->f[got - SKIP_FRAMES]->pitch_mm = bc->pitch_mm; /* bed_case */
		}
		got++;
	}
	fr->n = got > SKIP_FRAMES ? got - SKIP_FRAMES : 0;
	km_frame_destroy(tmp);
	km_stream_destroy(s);
	if (fr->n < NFRAMES) {
		fprintf(stderr, "%s: only %zu frames (%s)\n", bc->name, fr->n, km_error_name(rc));
		return -1;
	}
	return 0;
}

/* ---- what is timed ------------------------------------------------------ */

static uint32_t g_seq = 1;

__attribute__((noinline)) size_t bench_pipeline_loop(km_pipeline *p, struct frames *fr,
                                                     size_t iters);
__attribute__((noinline)) size_t bench_pipeline_loop(km_pipeline *p, struct frames *fr,
                                                     size_t iters)
{
	struct km_pipeline_result res;
	size_t sink = 0;
	for (size_t i = 0; i < iters; i++) {
		struct km_frame *f = fr->f[i % fr->n];
		f->sequence = g_seq;
		f->device_time_us = (uint64_t)g_seq * 10000u;
		g_seq++;
		if (km_pipeline_process(p, f, &res) == KM_OK)
			sink += res.candidate_count;
	}
	return sink;
}

struct stage {
	km_bandpass *bp;
	km_detect *det;
	float *stack;
	bool masked;
	float *weight;
	float weight_kpa;
};

static size_t stage_loop(struct stage *st, struct frames *fr, size_t iters, bool detect)
{
	struct km_detect_result res;
	size_t sink = 0, cells = km_frame_cells(fr->f[0]);
	for (size_t i = 0; i < iters; i++) {
		const float *in = fr->f[i % fr->n]->kpa;
		if (st->masked) {
			/* the pipeline's weights: loaded cells, with its hysteresis (as
			 * pipeline.c does, but on the raw frames: the pipeline's are
			 * averaged, so its weights change less often than here) */
			for (size_t k = 0; k < cells; k++)
				st->weight[k] =
				    in[k] > (st->weight[k] > 0.0f ? 0.9f : 1.0f) * st->weight_kpa
				        ? 1.0f
				        : 0.0f;
			km_bandpass_execute_masked(st->bp, in, st->weight, st->stack);
		} else {
			km_bandpass_execute(st->bp, in, st->stack);
		}
		if (detect && km_detect_execute(st->det, st->stack, in,
		                                km_bandpass_background(st->bp), &res) == KM_OK)
			sink += res.count;
	}
	return sink;
}

static size_t fft_loop(fftwf_plan fwd, fftwf_plan inv, size_t iters)
{
	for (size_t i = 0; i < iters; i++) {
		fftwf_execute(fwd);
		fftwf_execute(inv);
	}
	return iters;
}

/* Generic timing: calls fn(ctx, iters) in repetitions of ~secs/REPS CPU
 * seconds; returns the median seconds per iteration. */
typedef size_t (*loop_fn)(void *ctx, size_t iters);

static volatile size_t g_sink;

static double time_loop(loop_fn fn, void *ctx, double secs)
{
	size_t iters = 1;
	double t;
	/* calibrate (also warms up) */
	for (;;) {
		double t0 = bu_cpu_s();
		g_sink += fn(ctx, iters);
		t = bu_cpu_s() - t0;
		if (t > secs / REPS / 4 || iters > (1u << 28))
			break;
		iters *= 2;
	}
	size_t n = (size_t)((double)iters * (secs / REPS) / (t > 1e-9 ? t : 1e-9)) + 1;
	double per[REPS];
	for (int r = 0; r < REPS; r++) {
		double t0 = bu_cpu_s();
		g_sink += fn(ctx, n);
		per[r] = (bu_cpu_s() - t0) / (double)n;
	}
	return bu_quantile(per, REPS, 0.5);
}

struct pipe_ctx {
	km_pipeline *p;
	struct frames *fr;
};
static size_t pipe_fn(void *c, size_t n)
{
	struct pipe_ctx *x = c;
	return bench_pipeline_loop(x->p, x->fr, n);
}
struct stage_ctx {
	struct stage *st;
	struct frames *fr;
	bool detect;
};
static size_t stage_fn(void *c, size_t n)
{
	struct stage_ctx *x = c;
	return stage_loop(x->st, x->fr, n, x->detect);
}
struct fft_ctx {
	fftwf_plan fwd, inv;
};
static size_t fft_fn(void *c, size_t n)
{
	struct fft_ctx *x = c;
	return fft_loop(x->fwd, x->inv, n);
}

/* Seconds per bare r2c + c2r pair of nr x nc (FFTW_ESTIMATE, as the library). */
static double fft_pair(int nr, int nc, double secs)
{
	int nch = nc / 2 + 1;
	float *rin = fftwf_malloc(sizeof(float) * (size_t)nr * (size_t)nc);
	float *rout = fftwf_malloc(sizeof(float) * (size_t)nr * (size_t)nc);
	fftwf_complex *spec = fftwf_malloc(sizeof(fftwf_complex) * (size_t)nr * (size_t)nch);
	if (!rin || !rout || !spec)
		return 0.0;
	fftwf_plan fwd = fftwf_plan_dft_r2c_2d(nr, nc, rin, spec, FFTW_ESTIMATE);
	fftwf_plan inv = fftwf_plan_dft_c2r_2d(nr, nc, spec, rout, FFTW_ESTIMATE);
	for (int i = 0; i < nr * nc; i++)
		rin[i] = (float)(i % 13);
	struct fft_ctx fx = {fwd, inv};
	double t = time_loop(fft_fn, &fx, secs);
	fftwf_destroy_plan(fwd);
	fftwf_destroy_plan(inv);
	fftwf_free(rin);
	fftwf_free(rout);
	fftwf_free(spec);
	return t;
}

/* ---- setup -------------------------------------------------------------- */

static struct km_pipeline_config pipe_config(const struct bu_case *bc)
{
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = bc->rows;
	pc.cols = bc->cols;
	pc.pitch_mm = bc->pitch_mm;
	pc.geometry = bc->geometry;
	pc.rate_hz = 100.0f;
	return pc;
}

static struct km_bandpass_config grid_bp(struct km_bandpass_config b, const struct bu_case *bc)
{
	b.rows = bc->rows;
	b.cols = bc->cols;
	b.pitch_mm = bc->pitch_mm;
	b.geometry = bc->geometry;
	return b;
}

/* "plain": DoG without background; detection = 3x3x3 NMS over (x, y, scale)
 * + response > 2 kPa, nothing else (what the peers compute). */
static int stage_plain(const struct bu_case *bc, enum km_bandpass_method m, struct stage *st)
{
	memset(st, 0, sizeof *st);
	struct km_bandpass_config b = grid_bp(km_bandpass_config_default(), bc);
	b.background_sigma_mm = 0.0f;
	b.method = m;
	int rc = km_bandpass_create(&b, &st->bp);
	if (rc != KM_OK)
		return rc;
	struct km_detect_config d = km_detect_config_default();
	km_detect_config_from_bandpass(&d, &b);
	d.noise_k = 0.0f;
	d.min_response_kpa = 2.0f;
	d.edge_ratio = 0.0f;
	d.midline_half_width_mm = 0.0f;
	d.landmark_excess = 0.0f;
	d.support_sigmas = 0.0f;
	d.min_separation_mm = 0.0f;
	d.weak_fraction = 0.0f;
	d.max_candidates = 1024;
	rc = km_detect_create(&d, &st->det);
	if (rc != KM_OK)
		return rc;
	st->stack = calloc((size_t)b.n_scales * bc->rows * bc->cols, sizeof(float));
	return st->stack ? KM_OK : KM_ERR_NO_MEMORY;
}

/* "pipeline": the band-pass and detector exactly as km_pipeline configures them. */
static int stage_pipeline(const struct bu_case *bc, struct stage *st)
{
	memset(st, 0, sizeof *st);
	struct km_pipeline_config pc = pipe_config(bc);
	struct km_bandpass_config b = grid_bp(pc.bandpass, bc);
	b.normalized = pc.normalized;
	int rc = km_bandpass_create(&b, &st->bp);
	if (rc != KM_OK)
		return rc;
	struct km_detect_config d = pc.detect;
	km_detect_config_from_bandpass(&d, &b);
	if (d.noise_frames == 0)
		d.noise_frames = (unsigned)pc.rate_hz;
	rc = km_detect_create(&d, &st->det);
	if (rc != KM_OK)
		return rc;
	st->masked = pc.normalized;
	st->weight_kpa = pc.detect.outline_kpa;
	st->stack = calloc((size_t)b.n_scales * bc->rows * bc->cols, sizeof(float));
	st->weight = calloc((size_t)bc->rows * bc->cols, sizeof(float));
	return st->stack && st->weight ? KM_OK : KM_ERR_NO_MEMORY;
}

static void stage_free(struct stage *st)
{
	km_bandpass_destroy(st->bp);
	km_detect_destroy(st->det);
	free(st->stack);
	free(st->weight);
}

/* The padded FFT grid km_bandpass uses (bandpass.c: rows + reach of the
 * widest kernel, rounded up to 2^a 3^b 5^c 7^d; periodic columns unpadded). */
static int good_size(int x)
{
	for (int n = x > 1 ? x : 1;; n++) {
		int m = n;
		while (m % 2 == 0)
			m /= 2;
		while (m % 3 == 0)
			m /= 3;
		while (m % 5 == 0)
			m /= 5;
		while (m % 7 == 0)
			m /= 7;
		if (m == 1)
			return n;
	}
}

static void padded_grid(const struct bu_case *bc, const struct km_bandpass_config *b, int *nr,
                        int *nc)
{
	double smax = b->sigma_max_mm * b->ratio;
	if (b->background_sigma_mm > smax)
		smax = b->background_sigma_mm;
	int h = (int)ceil(4.0 * smax / bc->pitch_mm);
	int hr = h < bc->rows - 1 ? h : bc->rows - 1;
	int hc = h < bc->cols - 1 ? h : bc->cols - 1;
	*nr = good_size(bc->rows + hr);
	*nc = bc->geometry == KM_GEOMETRY_CYLINDER ? bc->cols : good_size(bc->cols + hc);
}

/* Read bandwidth (bytes/s): a sum over a buffer far larger than the caches. */
static double read_bandwidth(void)
{
	size_t n = (64u << 20) / sizeof(float);
	float *a = malloc(n * sizeof(float));
	if (!a)
		return 0.0;
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(i & 7);
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = bu_cpu_s();
		float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		for (size_t i = 0; i < n; i += 4) {
			s0 += a[i];
			s1 += a[i + 1];
			s2 += a[i + 2];
			s3 += a[i + 3];
		}
		g_sink += (size_t)(s0 + s1 + s2 + s3);
		double t = bu_cpu_s() - t0;
		if (t < best)
			best = t;
	}
	free(a);
	return (double)(n * sizeof(float)) / best;
}

static const char *mname(enum km_bandpass_method m)
{
	return m == KM_BANDPASS_FFT ? "fft" : m == KM_BANDPASS_DIRECT ? "direct" : "auto";
}

/* Detections of the plain stage for every frame: [K x 7] = frame, row, col,
 * scale index, x_mm, y_mm, response_kpa. */
static int write_dets(const char *path, struct stage *st, struct frames *fr)
{
	size_t cap = 4096, k = 0;
	float *d = malloc(cap * 7 * sizeof(float));
	if (!d)
		return -1;
	km_detect_reset(st->det);
	for (size_t i = 0; i < fr->n; i++) {
		struct km_detect_result res;
		km_bandpass_execute(st->bp, fr->f[i]->kpa, st->stack);
		if (km_detect_execute(st->det, st->stack, fr->f[i]->kpa, NULL, &res) != KM_OK)
			continue;
		for (size_t j = 0; j < res.count; j++) {
			if (k == cap) {
				cap *= 2;
				float *nd = realloc(d, cap * 7 * sizeof(float));
				if (!nd) {
					free(d);
					return -1;
				}
				d = nd;
			}
			const struct km_candidate *c = &res.candidates[j];
			float *o = d + k * 7;
			o[0] = (float)i;
			o[1] = c->row;
			o[2] = c->col;
			o[3] = c->scale_index;
			o[4] = c->x_mm;
			o[5] = c->y_mm;
			o[6] = c->response_kpa;
			k++;
		}
	}
	size_t shape[2] = {k, 7};
	int rc = bu_write_npy(path, d, shape, 2);
	free(d);
	return rc;
}

static int write_frames(const char *path, struct frames *fr)
{
	size_t cells = km_frame_cells(fr->f[0]);
	float *all = malloc(fr->n * cells * sizeof(float));
	if (!all)
		return -1;
	for (size_t i = 0; i < fr->n; i++)
		memcpy(all + i * cells, fr->f[i]->kpa, cells * sizeof(float));
	size_t shape[3] = {fr->n, fr->f[0]->rows, fr->f[0]->cols};
	int rc = bu_write_npy(path, all, shape, 3);
	free(all);
	return rc;
}

static const struct bu_case *find_case(const char *name)
{
	for (size_t i = 0; i < BU_NCASES; i++)
		if (strcmp(bu_cases[i].name, name) == 0)
			return &bu_cases[i];
	if (strcmp(bed_case.name, name) == 0)
		return &bed_case;
	fprintf(stderr, "no case %s\n", name);
	return NULL;
}

/* What the body model made of the case's frames (the trunk gate runs for a
 * lying posture: supine, prone or side). Trees without a body model: "-". */
static const char *posture_seen(const struct km_pipeline_result *res)
{
#if __has_include("knotmap/body.h")
	return res->body ? km_posture_name(res->body->posture) : "none";
#else
	(void)res;
	return "-";
#endif
}

/* --callgrind CASE ITERS: the pipeline loop alone, for
 * valgrind --tool=callgrind --toggle-collect=bench_pipeline_loop.
 * --pipeline CASE SECONDS: its frames/s (thread CPU time, median of 5) and
 * allocations per frame (malloc interposer, 100 frames after warm-up). */
static int run_one(const char *name, bool callgrind, double arg)
{
	const struct bu_case *bc = find_case(name);
	if (!bc)
		return 2;
	struct frames fr = {0};
	if (get_frames(bc, &fr))
		return 1;
	struct km_pipeline_config pc = pipe_config(bc);
	km_pipeline *p = NULL;
	if (km_pipeline_create(&pc, &p) != KM_OK)
		return 1;
	/* warm-up outside the collected function: noise estimate, tracks */
	struct km_pipeline_result res;
	for (size_t i = 0; i < 20; i++) {
		struct km_frame *f = fr.f[i % fr.n];
		f->sequence = g_seq;
		f->device_time_us = (uint64_t)g_seq++ * 10000u;
		km_pipeline_process(p, f, &res);
	}
	if (callgrind) {
		size_t iters = (size_t)arg;
		g_sink += bench_pipeline_loop(p, &fr, iters); /* the collected function */
		printf("callgrind: %s pipeline %zu frames done\n", name, iters);
	} else {
		g_count_allocs = 1;
		unsigned long long a0 = g_allocs;
		g_sink += bench_pipeline_loop(p, &fr, 100);
		g_count_allocs = 0;
		double allocs = (double)(g_allocs - a0) / 100.0;
		struct pipe_ctx px = {p, &fr};
		double t = time_loop(pipe_fn, &px, arg);
		printf("pipeline %s: %.0f frames/s (%.1f us/frame), %.2f allocations/frame\n", name,
		       1.0 / t, t * 1e6, allocs);
	}
	/* one more frame outside the collected function: what the body model saw */
	struct km_frame *f = fr.f[0];
	f->sequence = g_seq;
	f->device_time_us = (uint64_t)g_seq++ * 10000u;
	if (km_pipeline_process(p, f, &res) == KM_OK)
		printf("%s: body model posture %s, %zu candidates on the last frame\n", name,
		       posture_seen(&res), (size_t)res.candidate_count);
	km_pipeline_destroy(p);
	for (size_t i = 0; i < fr.n; i++)
		km_frame_destroy(fr.f[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--callgrind") == 0)
		return run_one(argv[2], true, (double)strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "--pipeline") == 0)
		return run_one(argv[2], false, atof(argv[3]));
	if (argc < 2) {
		fprintf(stderr, "usage: bench_dsp OUTDIR [SECONDS_PER_MEASURE]\n");
		return 2;
	}
	const char *out = argv[1];
	double secs = argc > 2 ? atof(argv[2]) : 0.25;
	if (!(secs > 0.0 && secs < 60.0))
		secs = 0.25;
	char path[4096];
	snprintf(path, sizeof path, "%s/dsp.json", out);
	FILE *js = fopen(path, "w");
	if (!js) {
		perror(path);
		return 1;
	}
	double bw = read_bandwidth();
	fprintf(js, "{\"read_bandwidth_gbs\": %.3f, \"fftw_version\": \"%s\", \"cases\": [\n",
	        bw / 1e9, fftwf_version);
	int status = 0;
	for (size_t ci = 0; ci < BU_NCASES; ci++) {
		const struct bu_case *bc = &bu_cases[ci];
		struct frames fr = {0};
		if (get_frames(bc, &fr)) {
			status = 1;
			continue;
		}
		snprintf(path, sizeof path, "%s/frames_%s.npy", out, bc->name);
		if (write_frames(path, &fr))
			fprintf(stderr, "cannot write %s\n", path);

		/* full pipeline */
		struct km_pipeline_config pc = pipe_config(bc);
		km_pipeline *p = NULL;
		int rc = km_pipeline_create(&pc, &p);
		if (rc != KM_OK) {
			fprintf(stderr, "%s: pipeline create: %s\n", bc->name, km_error_name(rc));
			status = 1;
			continue;
		}
		struct pipe_ctx px = {p, &fr};
		double t_pipe = time_loop(pipe_fn, &px, secs);
		/* candidates per frame and tracks at the end (sanity: it finds something) */
		struct km_pipeline_result res;
		double cand = 0;
		for (size_t i = 0; i < fr.n; i++) {
			struct km_frame *f = fr.f[i];
			f->sequence = g_seq;
			f->device_time_us = (uint64_t)g_seq++ * 10000u;
			if (km_pipeline_process(p, f, &res) == KM_OK)
				cand += (double)res.candidate_count;
		}
		size_t tracks = res.track_count;
		km_pipeline_destroy(p);

		/* pipeline variants that exist as config options today: FFTW_MEASURE
		 * plans, plain (not normalised) band-pass; allocations per frame of
		 * the whole process (malloc interposer) over 100 frames after warm-up */
		double t_var[4] = {0}, a_var[4] = {0};
		/* ESTIMATE variants first: FFTW keeps MEASURE results as in-process
		 * wisdom and later ESTIMATE plans of the same size would reuse them */
		static const int order[4] = {0, 2, 1, 3};
		for (int k = 0; k < 4; k++) {
			int v = order[k];
			struct km_pipeline_config vc = pipe_config(bc);
			vc.bandpass.fftw_measure = v & 1;
			vc.normalized = !(v & 2);
			if (km_pipeline_create(&vc, &p) != KM_OK) {
				t_var[v] = a_var[v] = -1;
				continue;
			}
			struct pipe_ctx vx = {p, &fr};
			g_sink += bench_pipeline_loop(p, &fr, 20);
			g_count_allocs = 1;
			unsigned long long a0 = g_allocs;
			g_sink += bench_pipeline_loop(p, &fr, 100);
			g_count_allocs = 0;
			a_var[v] = (double)(g_allocs - a0) / 100.0;
			t_var[v] = v == 0 ? t_pipe : time_loop(pipe_fn, &vx, secs);
			km_pipeline_destroy(p);
		}
		fftwf_forget_wisdom(); /* the stages below are timed with ESTIMATE plans */

		/* stages */
		struct stage sp, sa, sf, sd;
		double t_stage_pipe = 0, t_bp_pipe = 0, t_plain = 0, t_plain_bp = 0, t_fft = 0,
		       t_direct = 0;
		enum km_bandpass_method m_pipe = 0, m_plain = 0;
		if (stage_pipeline(bc, &sp) == KM_OK) {
			m_pipe = km_bandpass_method_used(sp.bp);
			struct stage_ctx c1 = {&sp, &fr, true}, c2 = {&sp, &fr, false};
			t_stage_pipe = time_loop(stage_fn, &c1, secs);
			t_bp_pipe = time_loop(stage_fn, &c2, secs);
		}
		if (stage_plain(bc, KM_BANDPASS_AUTO, &sa) == KM_OK) {
			m_plain = km_bandpass_method_used(sa.bp);
			struct stage_ctx c1 = {&sa, &fr, true}, c2 = {&sa, &fr, false};
			t_plain = time_loop(stage_fn, &c1, secs);
			t_plain_bp = time_loop(stage_fn, &c2, secs);
			snprintf(path, sizeof path, "%s/dets_%s.npy", out, bc->name);
			if (write_dets(path, &sa, &fr))
				fprintf(stderr, "cannot write %s\n", path);
		}
		if (stage_plain(bc, KM_BANDPASS_FFT, &sf) == KM_OK) {
			struct stage_ctx c = {&sf, &fr, false};
			t_fft = time_loop(stage_fn, &c, secs / 2);
		}
		if (stage_plain(bc, KM_BANDPASS_DIRECT, &sd) == KM_OK) {
			struct stage_ctx c = {&sd, &fr, false};
			t_direct = time_loop(stage_fn, &c, secs / 2);
		}
		stage_free(&sp);
		stage_free(&sa);
		stage_free(&sf);
		stage_free(&sd);

		/* floor: one r2c + c2r on the pipeline band-pass's padded grid, and
		 * on the bare grid */
		int nr, nc;
		struct km_bandpass_config bpc = grid_bp(pc.bandpass, bc);
		padded_grid(bc, &bpc, &nr, &nc);
		double t_floor = fft_pair(nr, nc, secs);
		double t_floor_grid = fft_pair(bc->rows, bc->cols, secs / 2);
		double frame_bytes = (double)bc->rows * bc->cols * sizeof(float);
		double t_mem = bw > 0 ? frame_bytes / bw : 0;

		fprintf(
		    js,
		    "%s{\"case\": \"%s\", \"rows\": %u, \"cols\": %u, \"pitch_mm\": %.3f, "
		    "\"cylinder\": %s, \"frames\": %zu,\n"
		    "  \"pipeline_s\": %.9g, \"stage_pipeline_s\": %.9g, \"bp_pipeline_s\": %.9g, "
		    "\"method_pipeline\": \"%s\",\n"
		    "  \"stage_plain_s\": %.9g, \"bp_plain_s\": %.9g, \"method_plain\": \"%s\", "
		    "\"bp_plain_fft_s\": %.9g, \"bp_plain_direct_s\": %.9g,\n"
		    "  \"fft_pair_s\": %.9g, \"fft_grid\": [%d, %d], \"fft_pair_unpadded_s\": "
		    "%.9g, "
		    "\"mem_read_s\": %.9g,\n"
		    "  \"variants\": {\"default\": [%.9g, %.3f], \"fftw_measure\": [%.9g, %.3f], "
		    "\"plain\": [%.9g, %.3f], \"plain_measure\": [%.9g, %.3f]},\n"
		    "  \"candidates_per_frame\": %.2f, \"tracks\": %zu,\n"
		    "  \"sigmas_mm\": [%.4f, %.4f], \"n_scales\": %u, \"ratio\": %.3f}\n",
		    ci ? "," : "", bc->name, bc->rows, bc->cols, bc->pitch_mm,
		    bc->geometry == KM_GEOMETRY_CYLINDER ? "true" : "false", fr.n, t_pipe,
		    t_stage_pipe, t_bp_pipe, mname(m_pipe), t_plain, t_plain_bp, mname(m_plain),
		    t_fft, t_direct, t_floor, nr, nc, t_floor_grid, t_mem, t_var[0], a_var[0],
		    t_var[1], a_var[1], t_var[2], a_var[2], t_var[3], a_var[3], cand / (double)fr.n,
		    tracks, bpc.sigma_min_mm, bpc.sigma_max_mm, bpc.n_scales, bpc.ratio);
		fflush(js);
		printf(
		    "%-10s pipeline %9.0f f/s   plain bp+det %9.0f f/s (%s)   fft pair %9.0f/s\n",
		    bc->name, 1.0 / t_pipe, t_plain > 0 ? 1.0 / t_plain : 0.0, mname(m_plain),
		    1.0 / t_floor);
		for (size_t i = 0; i < fr.n; i++)
			km_frame_destroy(fr.f[i]);
	}
	fprintf(js, "]}\n");
	fclose(js);
	return status;
}
