/* Importers: knotmap's own exports read back (NPY, Tekscan-like ASCII, CSV),
 * XSENSOR-style and plain CSV layouts, sidecars and units, bad input with the
 * right code and a message naming the line, reset, memory input, the
 * recording source. The example files in docs/formats.md are the ones these
 * tests write (KM_IMPORT_KEEP_EXAMPLES=DIR keeps them). */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <math.h>

#include "km_internal.h"
#include "knotmap/export.h"
#include "knotmap/import.h"
#include "knotmap/recording.h"

#define R 6
#define C 9
#define N 17

static char *dir;
static char logbuf[4096];

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
	logbuf[0] = '\0';
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(import, .init = setup, .fini = teardown, .timeout = 60);

static void on_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	size_t n = strlen(logbuf);
	snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
}

static float value(uint32_t i, size_t c)
{
	/* kPa with a fractional part and a zero now and then */
	uint32_t v = (uint32_t)(c * 2654435761u) ^ (i * 40503u);
	return (v % 11 == 0) ? 0.0f : (float)((v >> 9) & 0xFFFF) / 997.0f;
}

static char *make_recording(void)
{
	char *p = km_test_path(dir, "src.kmrec");
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = p;
	wc.sync = false;
	wc.device.rows = R;
	wc.device.cols = C;
	wc.device.pitch_mm = 7.5f;
	wc.device.rate_hz = 50.0f;
	snprintf(wc.device.model, sizeof wc.device.model, "virtual mat");
	km_rec_writer *w;
	cr_assert_eq(km_rec_writer_create(&wc, &w), KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(R, C, 7.5f, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (uint32_t i = 0; i < N; i++) {
		for (size_t c = 0; c < R * C; c++)
			f->kpa[c] = value(i, c);
		f->sequence = i;
		f->device_time_us = 1000000ull + i * 20000ull;
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	return p;
}

static char *export_as(const char *rec, enum km_export_format fmt, const char *name)
{
	char *out = km_test_path(dir, name);
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config ec = km_export_config_default();
	ec.format = fmt;
	ec.path = out;
	cr_assert_eq(km_export_recording(&ec, r), KM_OK);
	km_rec_reader_destroy(r);
	const char *keep = getenv("KM_IMPORT_KEEP_EXAMPLES");
	if (keep && *keep) {
		char cmd[8192];
		snprintf(cmd, sizeof cmd, "cp '%.4000s' '%.3000s/'", out, keep);
		cr_assert_eq(system(cmd), 0);
	}
	return out;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	/* keep a copy for docs/formats.md when asked */
	const char *keep = getenv("KM_IMPORT_KEEP_EXAMPLES");
	if (keep && *keep) {
		const char *base = strrchr(path, '/');
		char *k = km_test_path(keep, base ? base + 1 : path);
		FILE *g = fopen(k, "wb");
		if (g) {
			fwrite(data, 1, n, g);
			fclose(g);
		}
		free(k);
	}
}

static void write_text(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

static km_import *open_path(const char *path, struct km_import_config *c, int expect)
{
	c->path = path;
	c->log.fn = on_log;
	c->log.max_level = KM_LOG_DEBUG;
	km_import *r = NULL;
	int rc = km_import_create(c, &r);
	cr_assert_eq(rc, expect, "%s: got %s, want %s; log: %s", path, km_error_name(rc),
	             km_error_name(expect), logbuf);
	return r;
}

/* Reads every frame and checks it against value() within tol. */
static void check_roundtrip(const char *path, enum km_import_format fmt, float tol, bool times)
{
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(path, &c, KM_OK);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, fmt, "%s: format %d", path, in->format);
	cr_assert_eq(in->rows, R);
	cr_assert_eq(in->cols, C);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(R, C, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	uint32_t i = 0;
	int rc;
	uint64_t allocs = 0;
	while ((rc = km_import_next(r, f)) == KM_OK) {
		if (i == 1)
			allocs = km__alloc_count();
		for (size_t c2 = 0; c2 < R * C; c2++)
			cr_assert(fabsf(f->kpa[c2] - value(i, c2)) <= tol,
			          "%s frame %u cell %zu: %g vs %g", path, i, c2, (double)f->kpa[c2],
			          (double)value(i, c2));
		cr_assert_eq(f->sequence, i);
		if (times)
			cr_assert_eq(f->device_time_us, 1000000ull + i * 20000ull);
		i++;
	}
	cr_assert_eq(rc, KM_ERR_END, "%s: %s (%s)", path, km_error_name(rc), logbuf);
	cr_assert_eq(i, N);
	cr_assert_eq(km__alloc_count(), allocs, "allocation while reading frames");
	/* reset: the same frames again */
	cr_assert_eq(km_import_reset(r), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert(fabsf(f->kpa[3] - value(0, 3)) <= tol);
	km_frame_destroy(f);
	km_import_destroy(r);
}

Test(import, config_rejected_and_names)
{
	km_import *r = (km_import *)1;
	cr_assert_eq(km_import_create(NULL, &r), KM_ERR_INVALID_ARG);
	cr_assert_null(r);
	struct km_import_config c = km_import_config_default();
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG, "no input");
	c.path = "x";
	c.data = "1";
	c.size = 1;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG, "two inputs");
	c = km_import_config_default();
	c.data = "1,2\n";
	c.size = 4;
	c.format = KM_IMPORT_KMREC;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG);
	c.format = KM_IMPORT_AUTO;
	c.rate_hz = -1;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG);
	c.rate_hz = NAN;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG);
	c.rate_hz = 0;
	c.rows = 4;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG, "rows without cols");
	c.rows = 0;
	c.max_header_bytes = 10;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_INVALID_ARG);

	enum km_import_format f;
	cr_assert_eq(km_import_format_parse("TekScan", &f), KM_OK);
	cr_assert_eq(f, KM_IMPORT_TEKSCAN);
	cr_assert_str_eq(km_import_format_name(KM_IMPORT_XSENSOR), "xsensor");
	cr_assert_eq(km_import_format_parse("pdf", &f), KM_ERR_INVALID_ARG);
	enum km_import_units u;
	cr_assert_eq(km_import_units_parse("mm Hg", &u), KM_OK);
	cr_assert_eq(u, KM_UNITS_MMHG);
	cr_assert_eq(km_import_units_parse("N/cm^2", &u), KM_OK);
	cr_assert_eq(u, KM_UNITS_NCM2);
	cr_assert_eq(km_import_units_parse("furlongs", &u), KM_ERR_UNSUPPORTED);
	/* the conventional millimetre of mercury, 13.5951 g/cm^3 x 9.80665 m/s^2 */
	cr_assert_float_eq(km_import_units_to_kpa(KM_UNITS_MMHG), 13.5951 * 9.80665 / 1000, 1e-15);
	km_import_destroy(NULL);
	km_source_destroy(NULL);
}

Test(import, detects_formats)
{
	cr_assert_eq(km_import_detect("\x93NUMPY\x01", 7), KM_IMPORT_NPY);
	cr_assert_eq(km_import_detect("KMREC\r\n\x1a", 8), KM_IMPORT_KMREC);
	const char *tek = "DATA_TYPE MOVIE\r\nROWS 2\r\n";
	cr_assert_eq(km_import_detect(tek, strlen(tek)), KM_IMPORT_TEKSCAN);
	const char *xs = "\"XSENSOR\",\"X3\"\nRows,2\n";
	cr_assert_eq(km_import_detect(xs, strlen(xs)), KM_IMPORT_XSENSOR);
	cr_assert_eq(km_import_detect("1,2,3\n4,5,6\n", 12), KM_IMPORT_CSV);
	cr_assert_eq(km_import_detect("\0\1\2", 3), KM_IMPORT_AUTO);
}

Test(import, knotmap_exports_round_trip)
{
	char *rec = make_recording();
	char *npy = export_as(rec, KM_EXPORT_NPY, "s.npy");
	char *tek = export_as(rec, KM_EXPORT_TEKSCAN, "s.txt");
	char *csv = export_as(rec, KM_EXPORT_CSV, "s.csv");
	check_roundtrip(npy, KM_IMPORT_NPY, 0.0f, false);
	check_roundtrip(tek, KM_IMPORT_TEKSCAN, 0.0005f, false); /* "%.3f" */
	check_roundtrip(csv, KM_IMPORT_CSV, 0.0f, true);         /* shortest exact text */

	/* what the Tekscan header and the CSV columns say */
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(tek, &c, KM_OK);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_float_eq(in->pitch_mm, 7.5f, 1e-4);
	cr_assert_eq(in->pitch_from, KM_IMPORT_FROM_FILE);
	cr_assert_float_eq(in->rate_hz, 50.0f, 1e-3);
	cr_assert_eq(in->units, KM_UNITS_KPA);
	cr_assert_eq(in->units_from, KM_IMPORT_FROM_FILE);
	km_import_destroy(r);
	c = km_import_config_default();
	c.rate_hz = 25;
	r = open_path(npy, &c, KM_OK);
	cr_assert_eq(km_import_info(r)->rate_from, KM_IMPORT_FROM_CONFIG);
	cr_assert_eq(km_import_info(r)->pitch_from, KM_IMPORT_FROM_DEFAULT);
	cr_assert(km_import_info(r)->frame_count_known);
	cr_assert_eq(km_import_info(r)->frame_count, N);
	km_import_destroy(r);
	free(rec);
	free(npy);
	free(tek);
	free(csv);
}

/* A .npy with any dtype string and shape, cells from fn. */
static void write_npy(const char *path, const char *descr, unsigned n, unsigned rows, unsigned cols,
                      size_t item, void (*put)(uint8_t *, double))
{
	char dict[128];
	int len = snprintf(dict, sizeof dict,
	                   "{'descr': '%s', 'fortran_order': False, 'shape': (%u, %u, %u), }",
	                   descr, n, rows, cols);
	size_t hl = ((size_t)len + 1 + 10 + 63) / 64 * 64 - 10;
	size_t total = 10 + hl + (size_t)n * rows * cols * item;
	uint8_t *b = calloc(1, total);
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	b[8] = (uint8_t)(hl & 0xFF);
	b[9] = (uint8_t)(hl >> 8);
	memset(b + 10, ' ', hl);
	memcpy(b + 10, dict, (size_t)len);
	b[10 + hl - 1] = '\n';
	for (size_t i = 0; i < (size_t)n * rows * cols; i++)
		put(b + 10 + hl + i * item, (double)(i % 50));
	write_file(path, b, total);
	free(b);
}

static void put_u16(uint8_t *p, double v)
{
	uint16_t u = (uint16_t)v;
	p[0] = (uint8_t)u;
	p[1] = (uint8_t)(u >> 8);
}

static void put_f64(uint8_t *p, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(u >> (8 * i));
}

Test(import, npy_dtypes_sidecar_and_units)
{
	char *p16 = km_test_path(dir, "counts.npy");
	write_npy(p16, "<u2", 3, 4, 5, 2, put_u16);
	char *side = km_test_path(dir, "counts.json");
	write_text(side, "{\"rate_hz\": 40, \"pitch_mm\": 12.7, \"units\": \"raw\", "
	                 "\"note\": {\"a\": [1, 2]}}\n");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(p16, &c, KM_OK);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->rate_from, KM_IMPORT_FROM_SIDECAR);
	cr_assert_float_eq(in->rate_hz, 40.0f, 1e-6);
	cr_assert_float_eq(in->pitch_mm, 12.7f, 1e-6);
	cr_assert_eq(in->units, KM_UNITS_RAW);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(4, 5, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[1], 21.0f, 0); /* (20 + 1) % 50 */
	cr_assert(f->flags & KM_FRAME_UNCALIBRATED);
	cr_assert_eq(f->device_time_us, 25000u); /* frame 1 at 40 Hz */
	km_frame_destroy(f);
	km_import_destroy(r);

	/* float64 in mmHg, the config beats the sidecar */
	char *p64 = km_test_path(dir, "mmhg.npy");
	write_npy(p64, "<f8", 2, 3, 3, 8, put_f64);
	char *side2 = km_test_path(dir, "mmhg.npy.json");
	write_text(side2, "{\"units\": \"mmHg\", \"rate\": 10}");
	c = km_import_config_default();
	c.rate_hz = 20;
	r = open_path(p64, &c, KM_OK);
	in = km_import_info(r);
	cr_assert_eq(in->units, KM_UNITS_MMHG);
	cr_assert_float_eq(in->rate_hz, 20.0f, 0);
	cr_assert_eq(km_frame_create(3, 3, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[7], 7.0 * 101.325 / 760.0, 1e-5);
	km_frame_destroy(f);
	km_import_destroy(r);

	/* a sidecar with unknown units is refused, naming the file */
	write_text(side2, "{\"units\": \"bar-ish\"}");
	c = km_import_config_default();
	char detail[256];
	c.detail = detail;
	c.detail_size = sizeof detail;
	open_path(p64, &c, KM_ERR_UNSUPPORTED);
	cr_assert(strstr(detail, "mmhg.npy.json") && strstr(detail, "bar-ish"), "%s", detail);
	free(p16);
	free(side);
	free(p64);
	free(side2);
}

static const char xsensor_blocks[] =
    "\"XSENSOR Technology\",\"X3 export (made by knotmap tests)\"\r\n"
    "Sensor,PX100:48.48.02\r\n"
    "Rows,2\r\n"
    "Columns,3\r\n"
    "Sensel Width (cm),1.27\r\n"
    "Sensel Height (cm),1.27\r\n"
    "Frame Rate,5\r\n"
    "Pressure Units,mmHg\r\n"
    "\r\n"
    "Frame,1\r\n"
    "0,7.5,15\r\n"
    "22.5,30,37.5\r\n"
    "\r\n"
    "Frame,2\r\n"
    "1,2,3\r\n"
    "4,5,6\r\n";

static const char xsensor_rows[] = "XSENSOR per-frame rows\n"
                                   "Units,kPa\n"
                                   "Frame,Time (s),r0c0,r0c1,r1c0,r1c1\n"
                                   "1,0.00,1,2,3,4\n"
                                   "2,0.25,5,6,7,8\n"
                                   "3,0.50,9,10,11,12\n";

Test(import, xsensor_layouts)
{
	char *p = km_test_path(dir, "xsensor-blocks.csv");
	write_text(p, xsensor_blocks);
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(p, &c, KM_OK);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_XSENSOR);
	cr_assert_eq(in->rows, 2);
	cr_assert_eq(in->cols, 3);
	cr_assert_float_eq(in->pitch_mm, 12.7f, 1e-5);
	cr_assert_float_eq(in->rate_hz, 5.0f, 0);
	cr_assert_eq(in->units, KM_UNITS_MMHG);
	cr_assert_str_eq(in->model, "PX100:48.48.02");
	struct km_frame *f;
	cr_assert_eq(km_frame_create(2, 3, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[5], 37.5 * 101.325 / 760.0, 1e-5);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(f->device_time_us, 200000u);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);

	char *q = km_test_path(dir, "xsensor-rows.csv");
	write_text(q, xsensor_rows);
	c = km_import_config_default();
	r = open_path(q, &c, KM_OK);
	in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_XSENSOR);
	cr_assert_eq(in->rows, 2);
	cr_assert_eq(in->cols, 2);
	cr_assert_eq(km_frame_create(2, 2, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
		cr_assert_float_eq(f->kpa[3], 4.0f * (float)i + 4.0f, 0);
		cr_assert_eq(f->device_time_us, 250000u * (unsigned)i);
	}
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	free(q);
}

Test(import, plain_csv_rows_and_blocks)
{
	/* one frame per row, shape from the config */
	char *p = km_test_path(dir, "plain-rows.csv");
	write_text(p, "0,1,2,3,4,5\n6,7,8,9,10,11\n");
	struct km_import_config c = km_import_config_default();
	c.rows = 2;
	c.cols = 3;
	km_import *r = open_path(p, &c, KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(2, 3, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[4], 10.0f, 0);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_import_destroy(r);

	/* one frame per block, grid from the first block; N/cm2 from the config */
	char *q = km_test_path(dir, "plain-blocks.csv");
	write_text(q, "1;2;3\n4;5;6\n\n7;8;9\n10;11;-12\n");
	c = km_import_config_default();
	c.units = KM_UNITS_NCM2;
	r = open_path(q, &c, KM_OK);
	cr_assert_eq(km_import_info(r)->rows, 2);
	cr_assert_eq(km_import_info(r)->cols, 3);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 10.0f, 0);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[5], 0.0f, 0, "negative cell clamped");
	cr_assert(f->flags & KM_FRAME_BAD_CELLS);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_import_destroy(r);

	/* every unit a caller may give, also the ones numbered after raw counts */
	c = km_import_config_default();
	c.units = KM_UNITS_BAR;
	r = open_path(q, &c, KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 100.0f, 1e-4f, "1 bar = 100 kPa");
	km_import_destroy(r);
	c.units = KM_UNITS_CMH2O;
	r = open_path(q, &c, KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[1], 2.0f * 0.0980665f, 1e-6f);
	km_import_destroy(r);
	c.units = (enum km_import_units)(KM_UNITS_CMH2O + 1);
	r = open_path(q, &c, KM_ERR_INVALID_ARG);
	km_frame_destroy(f);

	/* an open FILE * (not closed by the reader) */
	FILE *fp = tmpfile();
	cr_assert_not_null(fp);
	fputs("Rows,1\nColumns,2\n5,6\n7,8\n", fp);
	rewind(fp);
	c = km_import_config_default();
	c.file = fp;
	c.name = "stdio";
	cr_assert_eq(km_import_create(&c, &r), KM_OK);
	cr_assert_eq(km_import_info(r)->rows, 1);
	struct km_frame *g;
	cr_assert_eq(km_frame_create(1, 2, 1, KM_GEOMETRY_FLAT, &g), KM_OK);
	cr_assert_eq(km_import_next(r, g), KM_OK);
	cr_assert_eq(km_import_next(r, g), KM_OK);
	cr_assert_float_eq(g->kpa[1], 8.0f, 0);
	cr_assert_eq(km_import_next(r, g), KM_ERR_END);
	km_frame_destroy(g);
	km_import_destroy(r);
	fclose(fp);

	/* the same text from memory (the fuzzing entry) */
	const char *text = "1,2\n3,4\n\n5,6\n7,8\n";
	c = km_import_config_default();
	c.data = text;
	c.size = strlen(text);
	c.name = "mem";
	cr_assert_eq(km_import_create(&c, &r), KM_OK);
	cr_assert_eq(km_frame_create(2, 2, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[3], 8.0f, 0);
	cr_assert_eq(km_import_reset(r), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[3], 4.0f, 0);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	free(q);
}

struct bad {
	const char *name;
	const char *text;
	uint16_t rows, cols;
	int create_rc; /* KM_OK: the error comes from next */
	int next_rc;
	const char *where; /* expected in the message */
	unsigned good_frames;
};

Test(import, bad_text_gives_code_and_line)
{
	static const struct bad cases[] = {
	    {"ragged", "1,2,3\n4,5\n\n", 0, 0, KM_OK, KM_ERR_SHAPE, ":2:", 0},
	    {"ragged-later", "1,2\n3,4\n\n5,6\n7\n", 0, 0, KM_OK, KM_ERR_SHAPE, ":5:", 1},
	    {"non-numeric", "1,2\n3,x\n", 0, 0, KM_OK, KM_ERR_PARSE, ":2:3: field 2", 0},
	    {"empty-cell", "1,,2\n", 0, 0, KM_OK, KM_ERR_PARSE, ":1:3: field 2: empty cell", 0},
	    {"nan", "1,2\n3,4\n\n1,NaN\n3,4\n", 0, 0, KM_OK, KM_ERR_NONFINITE, ":4:", 1},
	    {"too-many-rows", "Frame 1\n1,2\n3,4\n5,6\n", 2, 2, KM_ERR_SHAPE, 0, ":4:", 0},
	    /* the first Tekscan frame is read at open (it sets the sensor mask) */
	    {"truncated-rows", "ROWS 3\nCOLS 2\nFrame 1\n1,2\n3,4\n", 0, 0, KM_ERR_TRUNCATED, 0,
	     "frame 1 ends after 2 of 3 rows", 0},
	    {"truncated-line", "1,2,3,4\n5,6", 2, 2, KM_OK, KM_ERR_TRUNCATED, ":2:", 1},
	    {"wrong-shape", "1,2,3,4,5\n", 2, 2, KM_ERR_SHAPE, 0, ":1:", 0},
	    {"unknown-units", "ROWS 2\nCOLS 2\nUNITS furlongs\n1,2\n3,4\n", 0, 0,
	     KM_ERR_UNSUPPORTED, 0, ":3:7: unknown units", 0},
	    {"bad-rows", "Rows,0\nColumns,2\n1,2\n", 0, 0, KM_ERR_SHAPE, 0, ":1:", 0},
	    {"bad-spacing", "ROW_SPACING wide\n1\n", 0, 0, KM_ERR_MALFORMED, 0, ":1:", 0},
	    {"no-grid", "# nothing here\n", 0, 0, KM_ERR_BAD_MAGIC, 0, "no data", 0},
	    {"bad-header-names", "frame,r0c0,r0c1,r1c1\n0,1,2,3\n", 0, 0, KM_ERR_SHAPE, 0,
	     ":1:", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad *b = &cases[i];
		char *p = km_test_path(dir, b->name);
		write_text(p, b->text);
		struct km_import_config c = km_import_config_default();
		c.rows = b->rows;
		c.cols = b->cols;
		char detail[256] = "";
		c.detail = detail;
		c.detail_size = sizeof detail;
		km_import *r = open_path(p, &c, b->create_rc);
		if (b->create_rc != KM_OK) {
			cr_assert(strstr(detail, b->where) && strstr(detail, b->name),
			          "%s: detail '%s' lacks '%s'", b->name, detail, b->where);
			free(p);
			continue;
		}
		const struct km_import_info *in = km_import_info(r);
		struct km_frame *f;
		cr_assert_eq(km_frame_create(in->rows, in->cols, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
		unsigned good = 0;
		int rc;
		while ((rc = km_import_next(r, f)) == KM_OK)
			good++;
		cr_assert_eq(rc, b->next_rc, "%s: %s", b->name, km_error_name(rc));
		cr_assert_eq(good, b->good_frames, "%s: %u frames before the damage", b->name,
		             good);
		cr_assert_eq(km_import_next(r, f), rc, "%s: the error sticks", b->name);
		struct km_import_damage d;
		km_import_damage(r, &d);
		cr_assert(d.damaged);
		cr_assert_eq(d.error, rc);
		cr_assert_eq(d.frame_index, good);
		cr_assert(strstr(d.message, b->where) && strstr(d.message, b->name),
		          "%s: message '%s' lacks '%s'", b->name, d.message, b->where);
		cr_assert_str_eq(detail, d.message);
		cr_assert(strstr(logbuf, d.message), "logged: %s", logbuf);
		km_frame_destroy(f);
		km_import_destroy(r);
		free(p);
	}
}

Test(import, bad_npy_gives_code_and_offset)
{
	char *p = km_test_path(dir, "cut.npy");
	write_npy(p, "<f8", 4, 2, 2, 8, put_f64);
	long size = km_test_file_size(p);
	cr_assert_eq(truncate(p, size - 8), 0); /* the last cell of the last frame */
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(p, &c, KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(2, 2, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	int rc, good = 0;
	while ((rc = km_import_next(r, f)) == KM_OK)
		good++;
	cr_assert_eq(rc, KM_ERR_TRUNCATED);
	cr_assert_eq(good, 3);
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "byte ") && strstr(d.message, "frame 3"), "%s", d.message);
	cr_assert_eq(d.line, 0);
	km_import_destroy(r);
	km_frame_destroy(f);

	/* NaN in a float64 cell */
	uint8_t b[10 + 118 + 4 * 8];
	memset(b, ' ', sizeof b);
	const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }";
	memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10);
	memcpy(b + 10, dict, strlen(dict));
	b[127] = '\n';
	for (int i = 0; i < 4; i++)
		put_f64(b + 128 + 8 * i, i == 2 ? NAN : 1.0);
	write_file(p, b, sizeof b);
	r = open_path(p, &c, KM_OK);
	cr_assert_eq(km_frame_create(2, 2, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_ERR_NONFINITE);
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "byte 144") && strstr(d.message, "row 1, column 0"), "%s",
	          d.message);
	km_frame_destroy(f);
	km_import_destroy(r);

	/* headers: unsupported dtype, Fortran order, 4-D, huge, cut short */
	static const struct {
		const char *dict;
		int rc;
		const char *what;
	} hdr[] = {
	    {"{'descr': '<c8', 'fortran_order': False, 'shape': (1, 2, 2), }", KM_ERR_UNSUPPORTED,
	     "dtype"},
	    {"{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 2), }", KM_ERR_UNSUPPORTED,
	     "Fortran"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", KM_ERR_SHAPE,
	     "4 dimensions"},
	    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2000, 2), }", KM_ERR_SHAPE,
	     "grid"},
	    {"{'descr': '<f4', 'fortran_order': False}", KM_ERR_MALFORMED, "missing"},
	    {"[1, 2]", KM_ERR_MALFORMED, "not a dict"},
	};
	for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
		memset(b, ' ', sizeof b);
		memcpy(b, "\x93NUMPY\x01\x00\x76\x00", 10);
		memcpy(b + 10, hdr[i].dict, strlen(hdr[i].dict));
		b[127] = '\n';
		write_file(p, b, sizeof b);
		char detail[256] = "";
		c = km_import_config_default();
		c.detail = detail;
		c.detail_size = sizeof detail;
		r = open_path(p, &c, hdr[i].rc);
		cr_assert(strstr(detail, hdr[i].what) && strstr(detail, "cut.npy"), "%zu: %s", i,
		          detail);
	}
	/* a header longer than the limit, and one cut short */
	memcpy(b, "\x93NUMPY\x01\x00\xff\xff", 10);
	write_file(p, b, sizeof b);
	c = km_import_config_default();
	c.max_header_bytes = 4096;
	open_path(p, &c, KM_ERR_MALFORMED);
	c = km_import_config_default();
	open_path(p, &c, KM_ERR_TRUNCATED);
	write_file(p, "\x93NUMPY\x01", 7);
	open_path(p, &c, KM_ERR_TRUNCATED);
	free(p);
}

Test(import, huge_text_header_refused)
{
	char *p = km_test_path(dir, "huge.csv");
	size_t n = 8192;
	char *t = malloc(n + 16);
	for (size_t i = 0; i < n; i += 8)
		memcpy(t + i, "# junk.\n", 8);
	memcpy(t + n - 1, "\n1,2\n", 6);
	write_file(p, t, n + 4);
	free(t);
	struct km_import_config c = km_import_config_default();
	c.max_header_bytes = 1024;
	char detail[256];
	c.detail = detail;
	c.detail_size = sizeof detail;
	open_path(p, &c, KM_ERR_MALFORMED);
	cr_assert(strstr(detail, "more than 1024 bytes"), "%s", detail);
	/* a single over-long field */
	char *q = km_test_path(dir, "longfield.csv");
	char *big = malloc(3000);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	write_text(q, big);
	free(big);
	c = km_import_config_default();
	open_path(q, &c, KM_ERR_MALFORMED);
	free(p);
	free(q);
}

Test(import, format_override_and_refusals)
{
	char *p = km_test_path(dir, "x.csv");
	write_text(p, "1,2\n3,4\n");
	struct km_import_config c = km_import_config_default();
	c.format = KM_IMPORT_NPY;
	open_path(p, &c, KM_ERR_BAD_MAGIC);
	c = km_import_config_default();
	c.format = KM_IMPORT_TEKSCAN; /* text formats share one tolerant reader */
	km_import_destroy(open_path(p, &c, KM_OK));
	char *rec = make_recording();
	c = km_import_config_default();
	open_path(rec, &c, KM_ERR_BAD_MAGIC);
	char *e = km_test_path(dir, "empty");
	write_text(e, "");
	open_path(e, &c, KM_ERR_TRUNCATED);
	c = km_import_config_default();
	char *missing = km_test_path(dir, "missing.npy");
	open_path(missing, &c, KM_ERR_NOT_FOUND);
	free(p);
	free(rec);
	free(e);
	free(missing);
}

Test(import, source_reads_kmrec_and_imports_alike)
{
	char *rec = make_recording();
	char *npy = export_as(rec, KM_EXPORT_NPY, "s.npy");
	const char *paths[2] = {rec, npy};
	for (int k = 0; k < 2; k++) {
		struct km_source_config sc = km_source_config_default();
		sc.path = paths[k];
		km_source *s;
		cr_assert_eq(km_source_create(&sc, &s), KM_OK);
		const struct km_source_info *si = km_source_info(s);
		cr_assert_eq(si->format, k == 0 ? KM_IMPORT_KMREC : KM_IMPORT_NPY);
		cr_assert_eq((k == 0) == (km_source_rec_reader(s) != NULL), true);
		cr_assert_eq((k == 1) == (km_source_import(s) != NULL), true);
		cr_assert_eq(si->device.rows, R);
		cr_assert(si->frame_count_known);
		cr_assert_eq(si->frame_count, N);
		struct km_rec_item it;
		uint32_t i = 0;
		int rc;
		while ((rc = km_source_next_frame(s, &it)) == KM_OK) {
			cr_assert_eq(it.kind, KM_REC_ITEM_FRAME);
			cr_assert_float_eq(it.frame->kpa[5], value(i, 5), 0);
			i++;
		}
		cr_assert_eq(rc, KM_ERR_END);
		cr_assert_eq(i, N);
		struct km_import_damage d;
		km_source_damage(s, &d);
		cr_assert(!d.damaged);
		cr_assert_eq(km_source_reset(s), KM_OK);
		cr_assert_eq(km_source_next_frame(s, &it), KM_OK);
		km_source_destroy(s);
	}

	/* an import converted to .kmrec reads back the same */
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(npy, &c, KM_OK);
	char *back = km_test_path(dir, "back.kmrec");
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = back;
	wc.sync = false;
	uint64_t n = 0;
	cr_assert_eq(km_import_to_recording(r, &wc, &n), KM_OK);
	cr_assert_eq(n, N);
	km_import_destroy(r);
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = back;
	km_rec_reader *rr;
	cr_assert_eq(km_rec_reader_create(&rc, &rr), KM_OK);
	cr_assert_eq(km_rec_reader_info(rr)->frame_count, N);
	cr_assert_float_eq(km_rec_reader_info(rr)->device.pitch_mm, KM_IMPORT_DEFAULT_PITCH_MM, 0);
	km_rec_reader_destroy(rr);
	free(rec);
	free(npy);
	free(back);
}

/* Paths are used whole (a copy cut at 255 bytes opened another file or none),
 * and only regular files are read: a FIFO would block forever and /dev/zero
 * never ends. The suite's timeout catches a hang. */
Test(import, long_paths_and_special_files)
{
	char path[2048];
	int n = snprintf(path, sizeof path, "%s", dir);
	for (int i = 0; i < 4; i++) {
		n += snprintf(path + n, sizeof path - (size_t)n, "/%0120d", i);
		cr_assert_eq(mkdir(path, 0700), 0);
	}
	snprintf(path + n, sizeof path - (size_t)n, "/grid.csv");
	cr_assert_gt(strlen(path), 400);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("1,2,3\n4,5,6\n\n7,8,9\n1,2,3\n", f);
	fclose(f);
	struct km_import_config c = km_import_config_default();
	c.path = path;
	c.format = KM_IMPORT_CSV;
	c.rows = 2;
	c.cols = 3;
	c.units = KM_UNITS_KPA;
	km_import *r = NULL;
	cr_assert_eq(km_import_create(&c, &r), KM_OK, "a %zu-byte path", strlen(path));
	cr_assert_eq(km_import_info(r)->rows, 2);
	km_import_destroy(r);

	char fifo[600];
	snprintf(fifo, sizeof fifo, "%s/pipe.csv", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	const char *specials[] = {fifo, "/dev/zero", dir};
	for (size_t i = 0; i < 3; i++) {
		c.path = specials[i];
		c.log.fn = on_log;
		c.log.max_level = KM_LOG_DEBUG;
		logbuf[0] = '\0';
		cr_assert_eq(km_import_create(&c, &r), KM_ERR_NOT_A_FILE, "%s", specials[i]);
		cr_assert_null(r);
		cr_assert(strstr(logbuf, "not a regular file"), "%s", logbuf);
	}
}

/* A frame time too small to be a rate knotmap reads (1e-300 s gave an
 * infinite rate) is an error naming the line and the field. */
Test(import, tiny_seconds_per_frame_is_refused_by_line)
{
	static const char tek[] = "DATA_TYPE MOVIE\nSENSOR_TYPE FSCAN\nROWS 2\nCOLS 2\n"
	                          "ROW_SPACING 5 mm\nCOL_SPACING 5 mm\nSECONDS_PER_FRAME 1e-300\n"
	                          "UNITS KPa\nASCII_DATA @@\nFrame 1\n1,2\n3,4\n@@\n";
	struct km_import_config c = km_import_config_default();
	c.data = tek;
	c.size = sizeof tek - 1;
	c.name = "tiny.asf";
	c.log.fn = on_log;
	c.log.max_level = KM_LOG_DEBUG;
	logbuf[0] = '\0';
	km_import *r = NULL;
	cr_assert_eq(km_import_create(&c, &r), KM_ERR_MALFORMED);
	cr_assert(strstr(logbuf, "tiny.asf:7:") && strstr(logbuf, "SECONDS_PER_FRAME"), "%s",
	          logbuf);
}

/* The float32 .npy fast path (frames read as one block, straight into the
 * frame once the input buffer is used up; one vector pass that scales,
 * checks and clamps): 64 x 64 frames of 16 KiB, enough of them to cross the
 * 64 KiB input buffer at every offset, read back value for value from a file
 * and from memory, with units, negative cells, a NaN named by frame, row,
 * column and byte, and a file cut inside a frame. */
static float fast_value(size_t i)
{
	/* distinct, some negative (clamped), some not exactly representable */
	return (float)((double)((i * 7919) % 20011) / 7.0 - 100.0);
}

static void put_f32le(uint8_t *p, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(u >> (8 * b));
}

Test(import, npy_float32_frames_read_exactly)
{
	enum { FN = 13, FR = 64, FC = 64 };
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (13, 64, 64), }";
	size_t hl = 118, cells = (size_t)FN * FR * FC, total = 10 + hl + cells * 4;
	uint8_t *b = calloc(1, total);
	cr_assert_not_null(b);
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	b[8] = (uint8_t)hl;
	memset(b + 10, ' ', hl);
	memcpy(b + 10, dict, strlen(dict));
	b[10 + hl - 1] = '\n';
	for (size_t i = 0; i < cells; i++)
		put_f32le(b + 10 + hl + i * 4, fast_value(i));
	char *p = km_test_path(dir, "fast.npy");
	write_file(p, b, total);
	for (int run = 0; run < 4; run++) {
		/* from a file and from memory; mmHg (scaled) and kPa (as they are) */
		int mem = run & 1;
		struct km_import_config c = km_import_config_default();
		c.units = run & 2 ? KM_UNITS_KPA : KM_UNITS_MMHG;
		c.sidecar = false;
		km_import *r;
		if (mem) {
			c.data = b;
			c.size = total;
			c.log.fn = on_log;
			cr_assert_eq(km_import_create(&c, &r), KM_OK, "%s", logbuf);
		} else {
			r = open_path(p, &c, KM_OK);
		}
		struct km_frame *f;
		cr_assert_eq(km_frame_create(FR, FC, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
		const float k = (float)km_import_units_to_kpa(c.units);
		for (unsigned n = 0; n < FN; n++) {
			cr_assert_eq(km_import_next(r, f), KM_OK, "frame %u: %s", n, logbuf);
			cr_assert(f->flags & KM_FRAME_BAD_CELLS, "negative cells were clamped");
			for (size_t i = 0; i < (size_t)FR * FC; i++) {
				float want = fast_value((size_t)n * FR * FC + i) * k;
				want = want < 0 ? 0 : want;
				if (f->kpa[i] != want)
					cr_assert_fail("%s frame %u cell %zu: %.9g, want %.9g",
					               mem ? "memory" : "file", n, i, (double)f->kpa[i],
					               (double)want);
			}
		}
		cr_assert_eq(km_import_next(r, f), KM_ERR_END);
		km_frame_destroy(f);
		km_import_destroy(r);
	}
	/* a NaN in frame 9, row 5, column 3 */
	size_t bad = (size_t)9 * FR * FC + 5 * FC + 3;
	put_f32le(b + 10 + hl + bad * 4, NAN);
	write_file(p, b, total);
	struct km_import_config c = km_import_config_default();
	km_import *r = open_path(p, &c, KM_OK);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(FR, FC, 1, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (int n = 0; n < 9; n++)
		cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_ERR_NONFINITE);
	struct km_import_damage d;
	km_import_damage(r, &d);
	char want[64];
	snprintf(want, sizeof want, "byte %zu", 10 + hl + bad * 4);
	cr_assert(strstr(d.message, want) && strstr(d.message, "frame 9, row 5, column 3 is NaN"),
	          "%s", d.message);
	cr_assert_eq(d.frame_index, 9);
	km_import_destroy(r);
	/* cut inside frame 11, row 40 */
	write_file(p, b, 10 + hl + ((size_t)11 * FR * FC + 40 * FC + 7) * 4);
	c = km_import_config_default();
	r = open_path(p, &c, KM_OK);
	int rc = KM_OK;
	unsigned n = 0;
	while ((rc = km_import_next(r, f)) == KM_OK || rc == KM_ERR_NONFINITE) {
		if (rc == KM_ERR_NONFINITE)
			break;
		n++;
	}
	cr_assert_eq(rc, KM_ERR_NONFINITE, "the NaN of frame 9 comes first");
	cr_assert_eq(n, 9u);
	km_import_destroy(r);
	put_f32le(b + 10 + hl + bad * 4, 1.0f);
	write_file(p, b, 10 + hl + ((size_t)11 * FR * FC + 40 * FC + 7) * 4);
	r = open_path(p, &c, KM_OK);
	n = 0;
	while ((rc = km_import_next(r, f)) == KM_OK)
		n++;
	cr_assert_eq(rc, KM_ERR_TRUNCATED);
	cr_assert_eq(n, 11u);
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "file ends inside frame 11 of 13 (row 40)"), "%s", d.message);
	km_import_destroy(r);
	km_frame_destroy(f);
	free(p);
	free(b);
}
