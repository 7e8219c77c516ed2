/*
 * Seeds of fuzz_kmrec: recordings written by km_rec_writer into a temporary
 * directory (closed and indexed, raw and/or kPa, with events and a
 * calibration blob; one left unclosed as after a crash; one cut short), each
 * with a few option bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knotmap/recording.h"
#include "seeds.h"

char *mkdtemp(char *tmpl); /* POSIX 2008, hidden by the strict C11 headers */

static void read_back(const char *path, struct seed_buf *b)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		exit(1);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		seed_put(b, chunk, got);
	fclose(f);
}

static void emit(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	static const uint8_t opts[] = {0x00, 0x01, 0x03, 0x55, 0xFE};
	char file[96];
	for (size_t k = 0; k < sizeof opts; k++) {
		struct seed_buf b = {0};
		seed_u8(&b, opts[k]);
		seed_put(&b, p, n);
		snprintf(file, sizeof file, "%s-%02x", name, opts[k]);
		seed_write_buf(dir, file, &b);
		seed_free(&b);
	}
}

/* Writes a recording; close = false leaves it as a crash would (flushed,
 * no index). Returns the file's bytes in *b. */
static void record(const char *tmp, const char *name, uint16_t rows, uint16_t cols,
                   uint32_t content, bool events, const uint8_t *calib, size_t calib_size,
                   int frames, bool close, struct seed_buf *b)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.kmrec", tmp, name);
	struct km_rec_writer_config cfg = km_rec_writer_config_default();
	cfg.path = path;
	cfg.overwrite = true;
	cfg.sync = false;
	cfg.chunk_bytes = 4096;
	cfg.content = content;
	cfg.device.rows = rows;
	cfg.device.cols = cols;
	cfg.device.pitch_mm = 7.5f;
	cfg.device.rate_hz = 100.0f;
	cfg.device.usb_vid = 0x1209;
	cfg.device.usb_pid = 0x0001;
	strcpy(cfg.device.serial, "KMSIM-00000001");
	strcpy(cfg.device.firmware, "0.1.0");
	strcpy(cfg.device.model, "virtual mat (seed)");
	strcpy(cfg.session_id, "20261125-120000-seed");
	cfg.start_unix_us = 1764072000000000;
	if (calib) {
		cfg.calibration_id = 42;
		cfg.calibration = calib;
		cfg.calibration_size = calib_size;
	}
	km_rec_writer *w = NULL;
	if (km_rec_writer_create(&cfg, &w) != KM_OK) {
		fprintf(stderr, "gen_seeds: cannot create %s\n", path);
		exit(1);
	}
	struct km_frame *f = NULL;
	if (km_frame_create(rows, cols, 7.5f, KM_GEOMETRY_FLAT, &f) != KM_OK)
		exit(1);
	size_t n = (size_t)rows * cols;
	uint16_t *raw = calloc(n, sizeof *raw);
	if (!raw)
		exit(1);
	for (int k = 0; k < frames; k++) {
		f->sequence = (uint32_t)k;
		f->device_time_us = 1000000u + 10000u * (uint64_t)k;
		f->host_time_us = 5000000u + 10000u * (uint64_t)k;
		for (size_t i = 0; i < n; i++) {
			raw[i] = (uint16_t)((i * 31u + (size_t)k * 7u) % 4096u);
			f->kpa[i] = (float)raw[i] * 0.25f;
		}
		if (km_rec_writer_write_frame(w, f, raw, 42) != KM_OK)
			exit(1);
		if (events && k % 10 == 3) {
			struct km_rec_event ev = {.type = 2,
			                          .subtype = 1,
			                          .track_id = (uint32_t)k,
			                          .time_us = f->device_time_us,
			                          .x_mm = 30.0f,
			                          .y_mm = 60.0f,
			                          .n_ints = 3,
			                          .n_values = 6,
			                          .ints = {1, (uint32_t)k, 0},
			                          .values = {10, 20, 1.5f, 15, 30, 1}};
			if (km_rec_writer_write_event(w, &ev) != KM_OK)
				exit(1);
		}
	}
	if (close) {
		if (km_rec_writer_close(w) != KM_OK)
			exit(1);
		read_back(path, b);
	} else {
		if (km_rec_writer_flush(w) != KM_OK)
			exit(1);
		read_back(path, b); /* before close: what a crash leaves */
	}
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	free(raw);
	remove(path);
}

void seeds_kmrec(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_kmrec", out);
	char tmp[] = "/tmp/km-fuzz-seeds-XXXXXX";
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "gen_seeds: cannot create a temporary directory\n");
		exit(1);
	}
	static const uint8_t blob[100] = {'K', 'M', 'C', 'A', 'L', 'I', 'B'};
	struct seed_buf b = {0};
	record(tmp, "kpa", 4, 4, KM_REC_KPA, false, NULL, 0, 50, true, &b);
	emit(dir, "kpa-closed", b.p, b.len);
	seed_free(&b);

	record(tmp, "both", 4, 4, KM_REC_RAW | KM_REC_KPA, true, blob, sizeof blob, 40, true, &b);
	emit(dir, "both-events-closed", b.p, b.len);
	emit(dir, "both-events-cut", b.p, b.len * 2 / 3);
	seed_free(&b);

	record(tmp, "raw", 3, 5, KM_REC_RAW, true, NULL, 0, 60, false, &b);
	emit(dir, "raw-unclosed", b.p, b.len);
	seed_free(&b);

	record(tmp, "empty", 1, 1, KM_REC_KPA, false, NULL, 0, 0, true, &b);
	emit(dir, "empty-closed", b.p, b.len);
	seed_free(&b);
	rmdir(tmp);
}

#ifdef KM_FUZZ_HAVE_REPLAY
#include "knotmap/calibration.h"

/* Seeds of fuzz_replay: raw recordings carrying a real calibration file (both
 * models), a raw one without, a kPa-only one, an unclosed one. Options: CRC
 * repair, creep, zero, raw read. */
void seeds_replay(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_replay", out);
	char tmp[] = "/tmp/km-fuzz-seeds-XXXXXX";
	if (!mkdtemp(tmp))
		exit(1);
	const uint16_t rows = 3, cols = 4;
	const size_t n = (size_t)rows * cols;
	struct km_calibration_config cc = km_calibration_config_default(rows, cols);
	km_calibration *cal = NULL;
	if (km_calibration_create(&cc, &cal) != KM_OK)
		exit(1);
	float o[12], s[12], e[12], cx[24], cy[24];
	for (size_t i = 0; i < n; i++) {
		o[i] = 60.0f + (float)i;
		s[i] = 62.0f;
		e[i] = 0.6f;
		cx[2 * i] = 60.0f;
		cx[2 * i + 1] = 4095.0f;
		cy[2 * i] = 0.0f;
		cy[2 * i + 1] = 1000.0f + (float)i;
	}
	static const uint8_t opts[] = {0x01, 0x03, 0x07, 0x0F, 0x00};
	for (int model = 0; model < 2; model++) {
		int rc = model == 0 ? km_calibration_set_power_law(cal, o, s, e, n)
		                    : km_calibration_set_curve(cal, 2, cx, cy, n);
		size_t need = 0;
		km_calibration_serialize(cal, NULL, 0, &need);
		uint8_t *blob = malloc(need);
		if (rc != KM_OK || !blob ||
		    km_calibration_serialize(cal, blob, need, &need) != KM_OK)
			exit(1);
		struct seed_buf b = {0};
		record(tmp, "replay", rows, cols, KM_REC_RAW, true, blob, need, 30, true, &b);
		for (size_t k = 0; k < sizeof opts; k++) {
			struct seed_buf in = {0};
			char name[64];
			seed_u8(&in, opts[k]);
			seed_put(&in, b.p, b.len);
			snprintf(name, sizeof name, "raw-cal%d-%02x", model, opts[k]);
			seed_write_buf(dir, name, &in);
			seed_free(&in);
		}
		seed_free(&b);
		free(blob);
	}
	km_calibration_destroy(cal);
	struct seed_buf b = {0};
	record(tmp, "nominal", rows, cols, KM_REC_RAW, false, NULL, 0, 20, false, &b);
	emit(dir, "raw-nominal-unclosed", b.p, b.len);
	seed_free(&b);
	record(tmp, "kpa", rows, cols, KM_REC_KPA, true, NULL, 0, 20, true, &b);
	emit(dir, "kpa-closed", b.p, b.len);
	seed_free(&b);
	rmdir(tmp);
}
#endif

#ifdef KM_FUZZ_HAVE_IMPORT
#include "knotmap/export.h"
#include "knotmap/import.h"

/* Seeds of fuzz_import: knotmap's own CSV, NPY and Tekscan exports of a small
 * recording (what the importers are meant to read back), and hand-written
 * XSENSOR-style and headerless CSV text. */
void seeds_import(const char *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz_import", out);
	char tmp[] = "/tmp/km-fuzz-seeds-XXXXXX";
	if (!mkdtemp(tmp))
		exit(1);
	struct seed_buf rec = {0};
	char rpath[4096];
	/* record() removes its file: write the bytes back to export from them. */
	record(tmp, "src2", 3, 4, KM_REC_KPA, false, NULL, 0, 5, true, &rec);
	snprintf(rpath, sizeof rpath, "%s/src2.kmrec", tmp);
	FILE *f = fopen(rpath, "wb");
	if (!f || fwrite(rec.p, 1, rec.len, f) != rec.len || fclose(f) != 0)
		exit(1);
	seed_free(&rec);
	static const struct {
		enum km_export_format fmt;
		const char *name;
		uint8_t opt; /* forced import format */
	} ex[] = {{KM_EXPORT_CSV, "csv", KM_IMPORT_CSV},
	          {KM_EXPORT_NPY, "npy", KM_IMPORT_NPY},
	          {KM_EXPORT_TEKSCAN, "tekscan", KM_IMPORT_TEKSCAN}};
	for (size_t k = 0; k < sizeof ex / sizeof ex[0]; k++) {
		struct km_rec_reader_config rc = km_rec_reader_config_default();
		rc.path = rpath;
		km_rec_reader *r = NULL;
		if (km_rec_reader_create(&rc, &r) != KM_OK)
			exit(1);
		char epath[4096];
		snprintf(epath, sizeof epath, "%s/out.%s", tmp, ex[k].name);
		struct km_export_config ec = km_export_config_default();
		ec.format = ex[k].fmt;
		ec.path = epath;
		ec.overwrite = true;
		if (km_export_recording(&ec, r) != KM_OK) {
			fprintf(stderr, "gen_seeds: export %s failed\n", ex[k].name);
			exit(1);
		}
		km_rec_reader_destroy(r);
		struct seed_buf b = {0};
		read_back(epath, &b);
		remove(epath);
		const uint8_t opts[] = {0x00, ex[k].opt, 0x20, 0x10};
		for (size_t o = 0; o < sizeof opts; o++) {
			struct seed_buf in = {0};
			char name[64];
			seed_u8(&in, opts[o]);
			seed_put(&in, b.p, b.len);
			snprintf(name, sizeof name, "%s-%02x", ex[k].name, opts[o]);
			seed_write_buf(dir, name, &in);
			seed_free(&in);
		}
		seed_free(&b);
	}
	remove(rpath);
	rmdir(tmp);
	static const char *const text[] = {
	    ("Rows,3\nColumns,2\nSensel Width,5\nUnits,mmHg\nFrame Rate,50\n"
	     "Frame,1\n1,2\n3,4\n5,6\nFrame,2\n0,0\n7.5,8\n9,10\n"),
	    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1.5\n",
	    "1,2,3\n4,5,6\n\n7,8,9\n1,2,3\n",
	    /* Tekscan ASCII movie: B cells (the mask), spacing units, @@ */
	    ("DATA_TYPE MOVIE\r\nROWS 2\r\nCOLS 3\r\nROW_SPACING 0.127 centimeters\r\n"
	     "COL_SPACING 0.1 inches\r\nSECONDS_PER_FRAME 0.032\r\nUNITS KPa\r\nCOMMENTS:\r\n"
	     "free text\r\nASCII_DATA @@\r\n\r\nFrame 1\r\nB,1,2\r\n3,4,B\r\n\r\nFrame 2\r\n"
	     "B,5,6\r\n7,8,B\r\n@@\r\n"),
	    /* XSENSOR X4 export: two sensors, padding, a GROUP, Date/Time */
	    ("File:,\"a,b.XSN\",,,\nUnits:,mmHg,,,\nFRAME,1,,,\nDate, 2022 Aug 16,,,\n"
	     "Time, 08:21:17.982,,,\nSENSOR,S-LF,,,\nRows,2,,,\nColumns,2,,,\n"
	     "Sensel Width (cm),0.86,,,\nSensel Height (cm),0.5,,,\nSENSELS,,,,\n1,2,,,\n,,,,\n"
	     "3,4,,,\nSENSOR,S-RF,,,\nRows,1,,,\nColumns,1,,,\nSENSELS,,,,\n9,,,,\nGROUP,1,,,\n"
	     "Name,Heel,,,\nCells,2,,,\nSENSELS,,,,\n1,2,,,\nFRAME,2,,,\nDate, 2022 Aug 16,,,\n"
	     "Time, 08:21:17.995,,,\nSENSOR,S-LF,,,\nRows,2,,,\nColumns,2,,,\nSENSELS,,,,\n"
	     "5,6,,,\n7,8,,,\nSENSOR,S-RF,,,\nRows,1,,,\nColumns,1,,,\nSENSELS,,,,\n9,,,,\n"),
	    /* numpy savetxt (blanks), and semicolons with decimal commas */
	    "# savetxt\n1.0e+00 2.0e+00 3.0e+00\n4.0e+00 5.0e+00 6.0e+00\n\n7 8 9\n1 2 3\n",
	    "1,5;2,25\n3,0;4,75\n\n0,5;1\n2;3,5\n",
	};
	for (size_t t = 0; t < sizeof text / sizeof text[0]; t++) {
		struct seed_buf in = {0};
		char name[64];
		seed_u8(&in, t == 1 ? 0x0D : 0x00); /* the headerless row: 4 x 4 override */
		seed_put(&in, text[t], strlen(text[t]));
		snprintf(name, sizeof name, "text-%zu", t);
		seed_write_buf(dir, name, &in);
		seed_free(&in);
	}
}
#endif
