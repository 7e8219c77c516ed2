/*
 * The long-recording bench of issue 17: `knotmap analyze` of one hour of a
 * 64 x 64 mat at 100 Hz, as a .kmrec and as a .npy, against the dsp pipeline
 * alone on the same frames.
 *
 *   bench_analyze make BASE.npy MINUTES OUT.npy OUT.kmrec
 *       BASE.npy (with its sidecar BASE.npy.json, as `knotmap export` writes
 *       it) is a recording of 60 s or less; OUT.npy (+ OUT.npy.json) and
 *       OUT.kmrec hold it repeated, times continuing, to MINUTES minutes.
 *   bench_analyze pipeline BASE.npy MINUTES
 *       the pipeline alone (what `analyze` runs, no reading, no output) over
 *       the same repeated frames held in memory; prints
 *       "PIPELINE frames N cpu_s S wall_s W".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/bench_util.h"
#include "knotmap/import.h"
#include "knotmap/pipeline.h"
#include "knotmap/recording.h"

struct base {
	struct km_import_info info;
	float *cells; /* n x rows x cols */
	size_t n, per;
};

static int load(const char *path, struct base *b)
{
	struct km_import_config c = km_import_config_default();
	c.path = path;
	km_import *r = NULL;
	int rc = km_import_create(&c, &r);
	if (rc != KM_OK) {
		fprintf(stderr, "cannot read %s: %s\n", path, km_strerror(rc));
		return rc;
	}
	b->info = *km_import_info(r);
	b->info.mask = NULL;
	b->per = (size_t)b->info.rows * b->info.cols;
	size_t cap = 1024;
	b->cells = malloc(cap * b->per * sizeof(float));
	struct km_frame *f = NULL;
	rc = km_frame_create(b->info.rows, b->info.cols, b->info.pitch_mm, KM_GEOMETRY_FLAT, &f);
	b->n = 0;
	while (rc == KM_OK && b->cells && (rc = km_import_next(r, f)) == KM_OK) {
		if (b->n == cap) {
			cap *= 2;
			float *g = realloc(b->cells, cap * b->per * sizeof(float));
			if (!g) {
				rc = KM_ERR_NO_MEMORY;
				break;
			}
			b->cells = g;
		}
		memcpy(b->cells + b->n * b->per, f->kpa, b->per * sizeof(float));
		b->n++;
	}
	km_frame_destroy(f);
	km_import_destroy(r);
	if (rc != KM_ERR_END || !b->n) {
		fprintf(stderr, "%s: %s after %zu frames\n", path, km_strerror(rc), b->n);
		return rc == KM_ERR_END ? KM_ERR_TRUNCATED : rc;
	}
	return KM_OK;
}

static uint64_t total_frames(const struct base *b, double minutes)
{
	return (uint64_t)(minutes * 60.0 * b->info.rate_hz + 0.5);
}

static int make(const struct base *b, double minutes, const char *npy, const char *kmrec)
{
	uint64_t n = total_frames(b, minutes);
	/* .npy: a v1 header padded to 128 bytes, then the frames */
	FILE *o = fopen(npy, "wb");
	if (!o)
		return KM_ERR_IO;
	char dict[118];
	int len =
	    snprintf(dict, sizeof dict,
	             "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ", %u, %u), }",
	             n, (unsigned)b->info.rows, (unsigned)b->info.cols);
	unsigned char head[128];
	memcpy(head, "\x93NUMPY\x01\x00\x76\x00", 10);
	memset(head + 10, ' ', 118);
	memcpy(head + 10, dict, (size_t)len);
	head[127] = '\n';
	fwrite(head, 1, sizeof head, o);
	for (uint64_t i = 0; i < n; i++)
		fwrite(b->cells + (i % b->n) * b->per, sizeof(float), b->per, o);
	if (fclose(o) != 0)
		return KM_ERR_IO;
	char side[4096];
	snprintf(side, sizeof side, "%s.json", npy);
	o = fopen(side, "w");
	if (!o)
		return KM_ERR_IO;
	fprintf(o, "{\"rate_hz\": %.9g, \"pitch_mm\": [%.9g, %.9g], \"units\": \"kPa\"}\n",
	        (double)b->info.rate_hz, (double)b->info.row_pitch_mm,
	        (double)b->info.col_pitch_mm);
	fclose(o);
	/* .kmrec: kPa frames, times continuing */
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = kmrec;
	wc.overwrite = true;
	wc.sync = false;
	wc.device.rows = b->info.rows;
	wc.device.cols = b->info.cols;
	wc.device.pitch_mm = b->info.pitch_mm;
	wc.device.geometry = KM_GEOMETRY_FLAT;
	wc.device.rate_hz = b->info.rate_hz;
	snprintf(wc.device.model, sizeof wc.device.model, "bench hour");
	km_rec_writer *w = NULL;
	int rc = km_rec_writer_create(&wc, &w);
	if (rc != KM_OK)
		return rc;
	struct km_frame f;
	memset(&f, 0, sizeof f);
	f.rows = b->info.rows;
	f.cols = b->info.cols;
	f.pitch_mm = b->info.pitch_mm;
	f.geometry = KM_GEOMETRY_FLAT;
	for (uint64_t i = 0; i < n && rc == KM_OK; i++) {
		f.kpa = b->cells + (i % b->n) * b->per;
		f.sequence = (uint32_t)i;
		f.device_time_us = f.host_time_us = (uint64_t)((double)i * 1e6 / b->info.rate_hz);
		rc = km_rec_writer_write_frame(w, &f, NULL, 0);
	}
	int crc = km_rec_writer_close(w);
	km_rec_writer_destroy(w);
	printf("MADE frames %" PRIu64 " grid %ux%u rate %g\n", n, (unsigned)b->info.rows,
	       (unsigned)b->info.cols, (double)b->info.rate_hz);
	return rc != KM_OK ? rc : crc;
}

static int pipeline(const struct base *b, double minutes)
{
	struct km_pipeline_config pc = km_pipeline_config_default();
	pc.rows = b->info.rows;
	pc.cols = b->info.cols;
	pc.pitch_mm = b->info.pitch_mm;
	pc.rate_hz = b->info.rate_hz;
	km_pipeline *p = NULL;
	int rc = km_pipeline_create(&pc, &p);
	if (rc != KM_OK)
		return rc;
	uint64_t n = total_frames(b, minutes), events = 0;
	struct km_frame f;
	memset(&f, 0, sizeof f);
	f.rows = b->info.rows;
	f.cols = b->info.cols;
	f.pitch_mm = b->info.pitch_mm;
	f.geometry = KM_GEOMETRY_FLAT;
	struct km_pipeline_result res;
	double c0 = bu_cpu_s(), w0 = bu_wall_s();
	for (uint64_t i = 0; i < n; i++) {
		f.kpa = b->cells + (i % b->n) * b->per;
		f.sequence = (uint32_t)i;
		f.device_time_us = (uint64_t)((double)i * 1e6 / b->info.rate_hz);
		if (km_pipeline_process(p, &f, &res) == KM_OK)
			events += res.event_count;
	}
	double cpu = bu_cpu_s() - c0, wall = bu_wall_s() - w0;
	km_pipeline_destroy(p);
	printf("PIPELINE frames %" PRIu64 " cpu_s %.2f wall_s %.2f events %" PRIu64 "\n", n, cpu,
	       wall, events);
	return KM_OK;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "make") && strcmp(argv[1], "pipeline")) ||
	    (!strcmp(argv[1], "make") && argc != 6)) {
		fprintf(stderr, "usage: bench_analyze make BASE.npy MINUTES OUT.npy OUT.kmrec\n"
		                "       bench_analyze pipeline BASE.npy MINUTES\n");
		return 2;
	}
	umask(077); /* recordings are health data, even made-up ones: 0600 */
	double minutes = atof(argv[3]);
	struct base b;
	memset(&b, 0, sizeof b);
	int rc = load(argv[2], &b);
	if (rc == KM_OK)
		rc = !strcmp(argv[1], "make") ? make(&b, minutes, argv[4], argv[5])
		                              : pipeline(&b, minutes);
	free(b.cells);
	if (rc != KM_OK)
		fprintf(stderr, "bench_analyze: %s\n", km_strerror(rc));
	return rc == KM_OK ? 0 : 1;
}
