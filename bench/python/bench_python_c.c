/* The C side of bench/python: km_pipeline_process over every frame of a
 * recording, held in memory, as the Python module's process_many() runs it.
 *   usage: bench_python_c FILE.kmrec REPEATS
 * Prints "C_NS_PER_FRAME <best of REPEATS>" (CPU time: the machine is shared,
 * and CPU time moves less with the load) and the frame count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "knotmap/import.h"
#include "knotmap/pipeline.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_python_c FILE.kmrec REPEATS\n");
		return 2;
	}
	int reps = atoi(argv[2]);
	struct km_source_config sc = km_source_config_default();
	sc.path = argv[1];
	km_source *src = NULL;
	int rc = km_source_create(&sc, &src);
	if (rc != KM_OK) {
		fprintf(stderr, "bench_python_c: %s: %s\n", argv[1], km_strerror(rc));
		return 1;
	}
	const struct km_source_info *in = km_source_info(src);
	size_t cells = (size_t)in->device.rows * in->device.cols, n = 0, cap = 0;
	struct km_frame *frames = NULL;
	float *kpa = NULL;
	struct km_rec_item it;
	while (km_source_next_frame(src, &it) == KM_OK) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			frames = realloc(frames, cap * sizeof *frames);
			kpa = realloc(kpa, cap * cells * sizeof *kpa);
			if (!frames || !kpa)
				return 1;
		}
		frames[n] = *it.frame;
		memcpy(kpa + n * cells, it.frame->kpa, cells * sizeof *kpa);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		frames[i].kpa = kpa + i * cells;
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = in->device.rows;
	pc.cols = in->device.cols;
	pc.pitch_mm = in->device.pitch_mm;
	pc.geometry = in->device.geometry;
	pc.rate_hz = in->device.rate_hz;
	double best = 1e300;
	size_t events = 0;
	for (int r = 0; r < reps; r++) {
		km_pipeline *p = NULL;
		if (km_pipeline_create(&pc, &p) != KM_OK)
			return 1;
		struct km_pipeline_result res;
		events = 0;
		double t0 = now_ns();
		for (size_t i = 0; i < n; i++)
			if (km_pipeline_process(p, &frames[i], &res) == KM_OK)
				events += res.event_count;
		double t = (now_ns() - t0) / (double)n;
		best = t < best ? t : best;
		km_pipeline_destroy(p);
	}
	printf("FRAMES %zu\nEVENTS %zu\nC_NS_PER_FRAME %.0f\n", n, events, best);
	free(frames);
	free(kpa);
	km_source_destroy(src);
	return 0;
}
