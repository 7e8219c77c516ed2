/*
 * bench_sim: how fast the virtual mat makes frames (physics + sensor model,
 * optionally + packets). Goal: >= 100x real time for 64x64 at 100 Hz, i.e.
 * >= 10,000 frames/s.
 *
 * usage: bench_sim [SECONDS_OF_SIM_PER_CASE]   (default 60)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "knotmap/sim.h"

/* CPU time of this process: fair on a machine shared with other jobs */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bench_case {
	const char *name;
	uint16_t rows, cols;
	float pitch_mm;
	enum km_sim_tool tool;
	int pack;
};

int main(int argc, char **argv)
{
	double sim_s = argc > 1 ? atof(argv[1]) : 60.0;
	if (!(sim_s > 0 && sim_s < 1e5)) {
		fprintf(stderr, "usage: bench_sim [SECONDS_OF_SIM_PER_CASE]\n");
		return 2;
	}
	static const struct bench_case cases[] = {
	    {"32x32 body", 32, 32, 10.0f, KM_SIM_TOOL_NONE, 0},
	    {"64x64 body", 64, 64, 7.5f, KM_SIM_TOOL_NONE, 0},
	    {"64x64 body+ball", 64, 64, 7.5f, KM_SIM_TOOL_TENNIS_BALL, 0},
	    {"64x64 body+ball+packets", 64, 64, 7.5f, KM_SIM_TOOL_TENNIS_BALL, 1},
	    {"128x64 body", 128, 64, 10.0f, KM_SIM_TOOL_NONE, 0},
	    {"128x128 body", 128, 128, 5.0f, KM_SIM_TOOL_NONE, 0},
	};
	printf("%-26s %10s %12s %10s   (CPU time)\n", "case", "frames", "frames/s", "x realtime");
	int status = 0;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct bench_case *bc = &cases[k];
		struct km_sim_config cfg = km_sim_config_default();
		cfg.rows = bc->rows;
		cfg.cols = bc->cols;
		cfg.pitch_mm = bc->pitch_mm;
		cfg.body_midline_x_mm = bc->cols * bc->pitch_mm / 2;
		cfg.tool = bc->tool;
		cfg.knot_count = 2;
		cfg.knots[0] = (struct km_sim_knot){cfg.body_midline_x_mm + 60, 120, 15, 30, 8, 20};
		cfg.knots[1] = (struct km_sim_knot){cfg.body_midline_x_mm - 80, 200, 12, 25, 6, 0};
		km_sim *sim = NULL;
		if (km_sim_create(&cfg, &sim) != 0) {
			fprintf(stderr, "%s: create failed\n", bc->name);
			return 1;
		}
		size_t cap = km_sim_max_packet_bytes(sim);
		unsigned char *buf = cap ? malloc(cap) : NULL;
		size_t frames = (size_t)(sim_s * cfg.rate_hz);
		struct km_sim_output out;
		double sink = 0;
		double t0 = now_s();
		for (size_t f = 0; f < frames; f++) {
			km_sim_step(sim, &out);
			if (bc->pack && buf) {
				size_t w = 0;
				km_sim_pack(sim, buf, cap, &w);
				sink += (double)w;
			}
			sink += out.counts[f % ((size_t)cfg.rows * cfg.cols)];
		}
		double dt = now_s() - t0;
		double fps = (double)frames / dt;
		printf("%-26s %10zu %12.0f %10.1f%s\n", bc->name, frames, fps, fps / cfg.rate_hz,
		       bc->pack && !buf ? "  (no protocol: packets skipped)" : "");
		if (sink < 0)
			puts("");
		free(buf);
		km_sim_destroy(sim);
	}
	return status;
}
