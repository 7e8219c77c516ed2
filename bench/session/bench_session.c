/*
 * bench_session: .kmrec write rate and export speed, on virtual-mat frames.
 *
 * Writes FRAMES frames of a 64x64 mat (calibrated kPa and raw counts, the
 * default flush policy: write + fdatasync about once a second) and reports
 * frames/s and MB/s of file written (wall time: this is I/O); then exports
 * the recording to CSV, NPY and JSON and reports MB/s of output written and
 * frames/s. Results: OUTDIR/session.json.
 *
 * usage: bench_session OUTDIR [FRAMES]      (default 3000 = 30 s at 100 Hz)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/bench_util.h"
#include "knotmap/export.h"
#include "knotmap/recording.h"
#include "knotmap/sim.h"

static double file_mb(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_session OUTDIR [FRAMES]\n");
		return 2;
	}
	const char *dir = argv[1];
	size_t frames = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 3000;
	if (frames == 0 || frames > 1000000)
		return 2;
	struct bu_case bc = {"64x64", 64, 64, 7.5f, KM_GEOMETRY_FLAT};
	struct km_sim_config sc = bu_sim_config(&bc);
	km_sim *sim = NULL;
	struct km_frame *f = NULL;
	if (km_sim_create(&sc, &sim) != KM_OK ||
	    km_frame_create(bc.rows, bc.cols, bc.pitch_mm, bc.geometry, &f) != KM_OK)
		return 1;
	char rec[4096], out[4096];
	snprintf(rec, sizeof rec, "%s/bench.kmrec", dir);
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = rec;
	wc.overwrite = true;
	wc.content = KM_REC_KPA | KM_REC_RAW;
	wc.device.rows = bc.rows;
	wc.device.cols = bc.cols;
	wc.device.pitch_mm = bc.pitch_mm;
	wc.device.geometry = bc.geometry;
	wc.device.rate_hz = 100.0f;
	snprintf(wc.device.model, sizeof wc.device.model, "virtual mat (bench)");
	km_rec_writer *w = NULL;
	int rc = km_rec_writer_create(&wc, &w);
	if (rc != KM_OK) {
		fprintf(stderr, "writer: %s\n", km_error_name(rc));
		return 1;
	}
	/* frames made first, so only the writer is timed */
	size_t cells = (size_t)bc.rows * bc.cols;
	float *kpa = malloc(frames * cells * sizeof(float));
	uint16_t *raw = malloc(frames * cells * sizeof(uint16_t));
	if (!kpa || !raw)
		return 1;
	for (size_t i = 0; i < frames; i++) {
		struct km_sim_output o;
		km_sim_step(sim, &o);
		memcpy(kpa + i * cells, o.kpa, cells * sizeof(float));
		memcpy(raw + i * cells, o.counts, cells * sizeof(uint16_t));
	}
	double t0 = bu_wall_s();
	for (size_t i = 0; i < frames && rc == KM_OK; i++) {
		memcpy(f->kpa, kpa + i * cells, cells * sizeof(float));
		f->sequence = (uint32_t)i;
		f->device_time_us = (uint64_t)i * 10000u;
		rc = km_rec_writer_write_frame(w, f, raw + i * cells, 0);
	}
	if (rc == KM_OK)
		rc = km_rec_writer_close(w);
	double t_write = bu_wall_s() - t0;
	km_rec_writer_destroy(w);
	if (rc != KM_OK) {
		fprintf(stderr, "write: %s\n", km_error_name(rc));
		return 1;
	}
	double rec_mb = file_mb(rec);
	char path_json[4096];
	snprintf(path_json, sizeof path_json, "%s/session.json", dir);
	FILE *js = fopen(path_json, "w");
	if (!js)
		return 1;
	fprintf(js,
	        "{\"frames\": %zu, \"grid\": \"64x64\", \"kmrec_mb\": %.3f, "
	        "\"write_s\": %.6f, \"write_fps\": %.1f, \"write_mbs\": %.2f, \"exports\": [",
	        frames, rec_mb, t_write, (double)frames / t_write, rec_mb / t_write);
	printf("kmrec write: %zu frames %.1f MB in %.3f s: %.0f frames/s, %.1f MB/s\n", frames,
	       rec_mb, t_write, (double)frames / t_write, rec_mb / t_write);
	static const enum km_export_format fmts[] = {KM_EXPORT_CSV, KM_EXPORT_NPY, KM_EXPORT_JSON};
	static const char *ext[] = {"csv", "npy", "json"};
	for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
		struct km_rec_reader_config rcfg = km_rec_reader_config_default();
		rcfg.path = rec;
		km_rec_reader *r = NULL;
		if (km_rec_reader_create(&rcfg, &r) != KM_OK)
			return 1;
		snprintf(out, sizeof out, "%s/bench-export.%s", dir, ext[k]);
		struct km_export_config ec = km_export_config_default();
		ec.format = fmts[k];
		ec.path = out;
		ec.overwrite = true;
		t0 = bu_wall_s();
		rc = km_export_recording(&ec, r);
		double t = bu_wall_s() - t0;
		km_rec_reader_destroy(r);
		double mb = file_mb(out);
		fprintf(js,
		        "%s{\"format\": \"%s\", \"rc\": \"%s\", \"mb\": %.3f, \"s\": %.6f, "
		        "\"mbs\": %.2f, \"fps\": %.1f}",
		        k ? ", " : "", ext[k], km_error_name(rc), mb, t, mb / t,
		        (double)frames / t);
		printf("export %-4s: %.1f MB in %.3f s: %.1f MB/s, %.0f frames/s (%s)\n", ext[k],
		       mb, t, mb / t, (double)frames / t, km_error_name(rc));
		remove(out);
	}
	fprintf(js, "]}\n");
	fclose(js);
	remove(rec);
	free(kpa);
	free(raw);
	km_frame_destroy(f);
	km_sim_destroy(sim);
	return 0;
}
