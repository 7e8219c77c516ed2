/* Importers on the layouts real mats write (issue "real files from real
 * mats"): Tekscan 'B' cells, spacing units and non-square cells; XSENSOR
 * exports with two sensors, padding, GROUP blocks and a clock; whitespace-
 * and semicolon-separated matrices; no silent loss (file:line:column, partial
 * reading); sidecars with [row, col] and null, overridden by the config, and
 * knotmap's own JSON export not taken for one; units nobody gives are counts.
 * Each test fails on the readers before that issue. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knotmap/import.h"

static char *dir;
static char logbuf[8192];

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

TestSuite(import_layouts, .init = setup, .fini = teardown, .timeout = 60);

static void on_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	size_t n = strlen(logbuf);
	snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
}

static char *write_text(const char *name, const char *text)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "wb");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

struct opened {
	km_import *r;
	char detail[256];
};

static int open_cfg(const char *path, struct km_import_config *c, struct opened *o)
{
	c->path = path;
	c->log.fn = on_log;
	c->log.max_level = KM_LOG_DEBUG;
	c->detail = o->detail;
	c->detail_size = sizeof o->detail;
	o->r = NULL;
	return km_import_create(c, &o->r);
}

static km_import *open_ok(const char *path, struct km_import_config *c)
{
	static struct opened o; /* the reader keeps writing its detail buffer */
	int rc = open_cfg(path, c, &o);
	cr_assert_eq(rc, KM_OK, "%s: %s: %s", path, km_error_name(rc), o.detail);
	return o.r;
}

static struct km_frame *frame_for(km_import *r)
{
	const struct km_import_info *in = km_import_info(r);
	struct km_frame *f;
	cr_assert_eq(km_frame_create(in->rows, in->cols, in->pitch_mm, KM_GEOMETRY_FLAT, &f), KM_OK);
	return f;
}

/* Reads to the end; returns frames read, *rc the last code. */
static unsigned read_all(km_import *r, struct km_frame *f, int *rc)
{
	unsigned n = 0;
	while ((*rc = km_import_next(r, f)) == KM_OK)
		n++;
	return n;
}

/* ------------------------------------------------------------------------ */
/* Tekscan                                                                   */
/* ------------------------------------------------------------------------ */

/* An I-Scan style single frame: no "Frame" line, spacing in centimeters and
 * inches (not square), B cells. */
static const char tek_single[] = "DATA_TYPE FRAME\r\n"
                                 "SENSOR_TYPE 5330\r\n"
                                 "ROWS 3\r\n"
                                 "COLS 4\r\n"
                                 "ROW_SPACING 0.127 centimeters\r\n"
                                 "COL_SPACING 0.1 inches\r\n"
                                 "SECONDS_PER_FRAME 0.1\r\n"
                                 "UNITS PSI\r\n"
                                 "COMMENTS:\r\n"
                                 "10 steps, then rest\r\n"
                                 "ASCII_DATA @@\r\n"
                                 "\r\n"
                                 "B,1,2,B\r\n"
                                 "3,4,5,6\r\n"
                                 "B,7,8,B\r\n"
                                 "@@\r\n";

Test(import_layouts, tekscan_b_cells_are_a_mask_and_spacings_have_units)
{
	char *p = write_text("single.fsx.asf", tek_single);
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_TEKSCAN);
	cr_assert_eq(in->rows, 3);
	cr_assert_eq(in->cols, 4);
	cr_assert_float_eq(in->row_pitch_mm, 1.27f, 1e-5);
	cr_assert_float_eq(in->col_pitch_mm, 2.54f, 1e-5);
	cr_assert_float_eq(in->pitch_mm, sqrtf(1.27f * 2.54f), 1e-5, "same cell area");
	cr_assert_float_eq(in->rate_hz, 10.0f, 1e-4);
	cr_assert_eq(in->units, KM_UNITS_PSI);
	cr_assert_not_null(in->mask);
	cr_assert_eq(in->mask_cells, 8);
	static const uint8_t want[12] = {0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0};
	cr_assert_arr_eq(in->mask, want, 12);
	struct km_frame *f = frame_for(r);
	int rc;
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 0.0f, 0);
	cr_assert_float_eq(f->kpa[5], 4.0 * 6.894757293168, 1e-4);
	cr_assert_eq(read_all(r, f, &rc), 0u, "the data ends at @@");
	cr_assert_eq(rc, KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
}

Test(import_layouts, tekscan_without_frames_is_an_error_not_zero_frames)
{
	/* no spacing: the sensel area gives square cells */
	char *a = write_text("area.asf", "ROWS 1\nCOLS 2\nSENSEL_AREA 0.25 cm2\n1,2\n");
	struct km_import_config ca = km_import_config_default();
	km_import *ra = open_ok(a, &ca);
	cr_assert_float_eq(km_import_info(ra)->row_pitch_mm, 5.0f, 1e-5);
	cr_assert_eq(km_import_info(ra)->pitch_from, KM_IMPORT_FROM_FILE);
	km_import_destroy(ra);
	free(a);
	char *p = write_text("empty.asf", "DATA_TYPE MOVIE\nROWS 2\nCOLS 2\nROW_SPACING 0.5 cm\n"
	                                    "UNITS KPa\nASCII_DATA @@\n@@\n");
	struct km_import_config c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_TRUNCATED);
	cr_assert(strstr(o.detail, "no frames"), "%s", o.detail);
	free(p);
	/* a row that is neither numbers nor B: named with line and column */
	p = write_text("bad.asf", "ROWS 2\nCOLS 3\nFrame 1\n1,2,3\n4,5,6\n\nFrame 2\n1,2,3\n4,X,6\n");
	c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	struct km_frame *f = frame_for(r);
	int rc;
	cr_assert_eq(read_all(r, f, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_PARSE);
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "bad.asf:9:3: expected a number or B"), "%s", d.message);
	cr_assert_eq(d.line, 9);
	cr_assert_eq(d.column, 3);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
}

/* ------------------------------------------------------------------------ */
/* XSENSOR                                                                   */
/* ------------------------------------------------------------------------ */

/* The X4 layout, two sensors of different grids, padded with commas. */
static void xs_frame(FILE *f, int n, const char *date, const char *time, int base)
{
	fprintf(f, "FRAME,%d,,,,\n,,,,,\nDate, %s,,,,\n,,,,,\nTime, %s,,,,\n,,,,,\n", n, date,
	        time);
	fprintf(f, "SENSOR,Foot-LF S1,,,,\n,,,,,\nRows,2,,,,\nColumns,3,,,,\n"
	           "Sensel Width (cm),0.5,,,,\nSensel Height (cm),1.0,,,,\n"
	           "Peak Pressure (mmHg),9,,,,\n,,,,,\nSENSELS,,,,,\n,,,,,\n");
	fprintf(f, "%d,1,2,,,\n,,,,,\n3,4,5,,,\n,,,,,\n", base);
	fprintf(f, "SENSOR,Foot-RF S1,,,,\n,,,,,\nRows,1,,,,\nColumns,2,,,,\n"
	           "Sensel Width (cm),0.5,,,,\nSensel Height (cm),0.5,,,,\nSENSELS,,,,,\n"
	           "%d,100,,,\n,,,,,\n",
	           base + 10);
	fprintf(f, "GROUP,1,,,,\nName,Left Heel,,,,\nCells,3,,,,\nSENSELS,,,,,\n1,2,,,,\n3,,,,,\n"
	           ",,,,,\n");
}

static char *xs_file(const char *name, const char *d2, const char *t2)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("\xEF\xBB\xBF" "File:,\"C:\\x,y.XSN\",,,,\n,,,,,\nUnits:,mmHg,,,,\n,,,,,\n", f);
	xs_frame(f, 7, "2022 Aug 16", "23:59:59.990", 0);
	xs_frame(f, 8, d2, t2, 20);
	fclose(f);
	return p;
}

Test(import_layouts, xsensor_export_two_sensors_padding_groups_and_clock)
{
	char *p = xs_file("x4.csv", "2022 Aug 16", "23:59:59.995");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_XSENSOR);
	cr_assert_eq(in->sensor_count, 2);
	cr_assert_str_eq(in->sensor, "Foot-LF S1");
	/* the sensors are listed by what tells them apart, with how to choose */
	cr_assert(strstr(logbuf, "x4.csv holds 2 sensors (LF, RF); using LF; --sensor RF for the "
	                         "other"),
	          "%s", logbuf);
	cr_assert_str_eq(km_import_sensor_label(r, 0), "LF");
	cr_assert_str_eq(km_import_sensor_label(r, 1), "RF");
	cr_assert_null(km_import_sensor_label(r, 2));
	cr_assert_str_eq(km_import_sensor_name(r, 1), "Foot-RF S1");
	cr_assert_eq(in->rows, 2);
	cr_assert_eq(in->cols, 3);
	cr_assert_float_eq(in->row_pitch_mm, 10.0f, 1e-5, "Sensel Height (cm)");
	cr_assert_float_eq(in->col_pitch_mm, 5.0f, 1e-5, "Sensel Width (cm)");
	cr_assert_eq(in->units, KM_UNITS_MMHG);
	cr_assert_float_eq(in->rate_hz, 200.0f, 1e-3, "5 ms between the Time rows");
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[5], 5 * 101.325 / 760, 1e-5);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 20 * 101.325 / 760, 1e-5);
	cr_assert_eq(f->device_time_us, 5000u);
	int rc;
	cr_assert_eq(read_all(r, f, &rc), 0u);
	cr_assert_eq(rc, KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);

	/* the other sensor: a stream of its own */
	c = km_import_config_default();
	c.sensor = "rf";
	r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->rows, 1);
	cr_assert_eq(km_import_info(r)->cols, 2);
	f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 30 * 101.325 / 760, 1e-5);
	km_frame_destroy(f);
	km_import_destroy(r);
	/* a name part that fits both is refused, listing them */
	c = km_import_config_default();
	c.sensor = "Foot";
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_INVALID_ARG);
	cr_assert(strstr(o.detail, "fits several"), "%s", o.detail);
	free(p);
}

/* An export with SENSELS but no SENSOR line (one sensor the file does not
 * name): its Rows/Columns/Sensel size right after FRAME are that sensor's;
 * refused before. A SENSOR line after such keys is an error naming the line. */
Test(import_layouts, xsensor_without_a_sensor_line)
{
	char *p = write_text("nosensor.csv",
	                     "Units:,kPa,,\nFRAME,1,,\nTime, 10:00:00.000,,\nRows,2,,\nColumns,3,,\n"
	                     "Sensel Width (cm),0.5,,\nSensel Height (cm),1.0,,\nSENSELS,,,\n"
	                     "1,2,3\n4,5,6\nFRAME,2,,\nTime, 10:00:00.020,,\nRows,2,,\n"
	                     "Columns,3,,\nSENSELS,,,\n7,8,9\n10,11,12,,\n");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->format, KM_IMPORT_XSENSOR);
	cr_assert_eq(in->sensor_count, 1);
	cr_assert_str_eq(in->sensor, "");
	cr_assert_str_eq(in->model, "XSENSOR");
	cr_assert_eq(in->rows, 2);
	cr_assert_eq(in->cols, 3);
	cr_assert_float_eq(in->row_pitch_mm, 10.0f, 1e-5);
	cr_assert_float_eq(in->col_pitch_mm, 5.0f, 1e-5);
	cr_assert_float_eq(in->rate_hz, 50.0f, 1e-3);
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[5], 6.0f, 1e-6);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[0], 7.0f, 1e-6);
	cr_assert_float_eq(f->kpa[5], 12.0f, 1e-6);
	cr_assert_eq(f->device_time_us, 20000u);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	p = write_text("late.csv", "FRAME,1,,\nRows,1,,\nColumns,2,,\nSENSOR,Seat,,\nSENSELS,,,\n1,2\n");
	c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_MALFORMED);
	cr_assert(strstr(o.detail, "late.csv:4") && strstr(o.detail, "SENSOR after"), "%s",
	          o.detail);
	free(p);
}

/* Labels are cut at whole tokens and must choose their sensor alone: names
 * where a shorter part would fit another sensor keep the whole name. */
Test(import_layouts, xsensor_sensor_labels)
{
	static const struct {
		const char *a, *b, *la, *lb;
	} cases[] = {
	    {"HX210.11.31.M11-DFM-LF S0073", "HX210.11.31.M11-DFM-RF S0073", "LF", "RF"},
	    {"Seat 1", "Seat 2", "Seat 1", "Seat 2"}, /* "1" would choose by number */
	    {"Mat-A", "Mat-AB", "Mat-A", "Mat-AB"},   /* "A" is part of "AB" */
	    {"LeftFoot", "RightFoot", "LeftFoot", "RightFoot"},
	    {"Back X1 upper", "Back X1 lower", "upper", "lower"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char *p = km_test_path(dir, "labels.csv");
		FILE *f = fopen(p, "w");
		cr_assert_not_null(f);
		fprintf(f,
		        "Units:,kPa\nFRAME,1\nSENSOR,%s\nRows,1\nColumns,2\nSENSELS\n1,2\n"
		        "SENSOR,%s\nRows,1\nColumns,1\nSENSELS\n3\n",
		        cases[k].a, cases[k].b);
		fclose(f);
		struct km_import_config c = km_import_config_default();
		km_import *r = open_ok(p, &c);
		cr_expect_str_eq(km_import_sensor_label(r, 0), cases[k].la, "%s", cases[k].a);
		cr_expect_str_eq(km_import_sensor_label(r, 1), cases[k].lb, "%s", cases[k].b);
		km_import_destroy(r);
		/* each label chooses its own sensor */
		c = km_import_config_default();
		c.sensor = cases[k].lb;
		r = open_ok(p, &c);
		cr_expect_eq(km_import_info(r)->sensor_index, 1, "--sensor %s", cases[k].lb);
		km_import_destroy(r);
		free(p);
	}
}

Test(import_layouts, xsensor_time_going_backwards_is_an_error)
{
	/* the next day across midnight is fine; a step back is not */
	char *p = xs_file("midnight.csv", "2022 Aug 17", "00:00:00.005");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_eq(f->device_time_us, 15000u);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	/* the same date, the clock before the last frame's */
	p = xs_file("back.csv", "2022 Aug 16", "00:00:00.005");
	c = km_import_config_default();
	r = open_ok(p, &c);
	f = frame_for(r);
	int rc;
	cr_assert_eq(read_all(r, f, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_MALFORMED);
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "time goes backwards"), "%s", d.message);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
}

Test(import_layouts, xsensor_damage_in_a_later_frame_reads_up_to_it)
{
	char *p = xs_file("dmg.csv", "2022 Aug 16", "23:59:59.995");
	/* frame 2's first row: 20,1,2 -> 20,x,2 */
	FILE *f = fopen(p, "r+");
	cr_assert_not_null(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	char *at = strstr(buf, "\n20,1,2,");
	cr_assert_not_null(at);
	at[4] = 'x';
	rewind(f);
	cr_assert_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	cr_assert(!strstr(logbuf, "error"), "the look-ahead at open reports nothing: %s", logbuf);
	cr_assert(!km_import_info(r)->frame_count_known);
	struct km_frame *fr = frame_for(r);
	int rc;
	cr_assert_eq(read_all(r, fr, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_PARSE);
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "expected a number, found 'x'"), "%s", d.message);
	km_frame_destroy(fr);
	km_import_destroy(r);
	/* partial: frame 2 skipped, reported */
	c = km_import_config_default();
	c.partial = true;
	r = open_ok(p, &c);
	fr = frame_for(r);
	cr_assert_eq(read_all(r, fr, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_END);
	km_import_damage(r, &d);
	cr_assert_eq(d.skipped_frames, 1u);
	km_frame_destroy(fr);
	km_import_destroy(r);
	free(p);
}

/* ------------------------------------------------------------------------ */
/* Matrices                                                                  */
/* ------------------------------------------------------------------------ */

Test(import_layouts, whitespace_matrices_numpy_savetxt)
{
	/* numpy.savetxt(f, frames.reshape(n, -1)): one frame per line, '%.18e' */
	char *p = write_text("frames.txt",
	                     "# header written by savetxt\n"
	                     "1.000000000000000000e+00 2.000000000000000000e+00 "
	                     "3.000000000000000000e+00 4.000000000000000000e+00 "
	                     "5.000000000000000000e+00 6.000000000000000000e+00\n"
	                     "7.000000000000000000e+00 8.000000000000000000e+00 "
	                     "9.000000000000000000e+00 1.000000000000000000e+01 "
	                     "1.100000000000000000e+01 1.200000000000000000e+01  \n");
	struct km_import_config c = km_import_config_default();
	c.rows = 2;
	c.cols = 3;
	km_import *r = open_ok(p, &c);
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[5], 6.0f, 0);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[3], 10.0f, 0);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);

	/* a frame per block of rows (savetxt of each 2-D frame, blank between) */
	p = write_text("blocks.txt", "1 2 3\n4 5 6\n\n7\t8  9\n 10 11 12\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->rows, 2);
	cr_assert_eq(km_import_info(r)->cols, 3);
	f = frame_for(r);
	int rc;
	cr_assert_eq(read_all(r, f, &rc), 2u, "%s", logbuf);
	cr_assert_eq(rc, KM_ERR_END);
	cr_assert_float_eq(f->kpa[3], 10.0f, 0);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);

	/* 2048 values a line: one frame per line, whose grid must be given */
	/* (10 KiB a line: longer than the head the separator is found in) */
	char *line = malloc(2048 * 5 + 2);
	cr_assert_not_null(line);
	line[0] = '\0';
	for (int i = 0; i < 2048; i++)
		strcat(line, i ? " 1.50" : "1.50");
	strcat(line, "\n");
	char *big = malloc(strlen(line) * 3 + 1);
	cr_assert_not_null(big);
	snprintf(big, strlen(line) * 3 + 1, "%s%s%s", line, line, line);
	p = write_text("wide.txt", big);
	c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_SHAPE);
	cr_assert(strstr(o.detail, "2048 values") && strstr(o.detail, "--rows"), "%s", o.detail);
	c = km_import_config_default();
	c.rows = 64;
	c.cols = 32;
	r = open_ok(p, &c);
	f = frame_for(r);
	cr_assert_eq(read_all(r, f, &rc), 3u);
	km_frame_destroy(f);
	km_import_destroy(r);
	/* or from a sidecar, with no options */
	free(write_text("wide.json", "{\"rows\": 64, \"cols\": 32, \"rate_hz\": 1}"));
	c = km_import_config_default();
	r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->rows, 64);
	cr_assert_float_eq(km_import_info(r)->rate_hz, 1.0f, 0);
	f = frame_for(r);
	cr_assert_eq(read_all(r, f, &rc), 3u);
	cr_assert_eq(rc, KM_ERR_END);
	cr_assert_float_eq(f->kpa[2047], 1.5f, 0);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	free(big);
	free(line);
}

Test(import_layouts, decimal_commas_hex_and_stray_lines)
{
	/* ';' separates, ',' is the decimal mark: 2 cells, not 4 */
	char *p = write_text("comma.csv", "1,5;2,25\n3,0;4,75\n");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->cols, 2);
	cr_assert_eq(km_import_info(r)->rows, 2);
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_float_eq(f->kpa[0], 1.5f, 0);
	cr_assert_float_eq(f->kpa[3], 4.75f, 0);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);

	/* a header line that starts with a digit does not set the separator */
	p = write_text("dated.csv", "2022-08-16 export of mat 3\n1.5,2\n3,4\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->cols, 2);
	km_import_destroy(r);
	free(p);

	/* 0x10 is not 16 */
	p = write_text("hex.csv", "1,2\n3,0x10\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	f = frame_for(r);
	int rc;
	cr_assert_eq(read_all(r, f, &rc), 0u);
	cr_assert_eq(rc, KM_ERR_PARSE);
	struct km_import_damage d;
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "hex.csv:2:3: field 2: '0x10' is not a number"), "%s",
	          d.message);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);

	/* a line that does not start with a number, once the data began: an
	 * error with its place, not metadata skipped in silence */
	p = write_text("stray.csv", "1,2\n3,4\n\nn/a,2\n\n5,6\n7,8\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	f = frame_for(r);
	cr_assert_eq(read_all(r, f, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_PARSE);
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "stray.csv:4:1: expected a row of numbers, found 'n/a'"),
	          "%s", d.message);
	km_frame_destroy(f);
	km_import_destroy(r);

	/* partial: the bad frame is skipped, reported, and the rest reads */
	c = km_import_config_default();
	c.partial = true;
	r = open_ok(p, &c);
	f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert_eq(km_import_next(r, f), KM_OK, "%s", logbuf);
	cr_assert_float_eq(f->kpa[0], 5.0f, 0);
	cr_assert_eq(f->dropped_since_last, 1u, "the skipped frame shows as a gap");
	cr_assert_eq(f->sequence, 2u);
	cr_assert_eq(km_import_next(r, f), KM_ERR_END);
	km_import_damage(r, &d);
	cr_assert(!d.damaged);
	cr_assert_eq(d.skipped_frames, 1u);
	cr_assert(strstr(d.first_skip, "stray.csv:4:1:"), "%s", d.first_skip);
	cr_assert(strstr(logbuf, "frame skipped"), "%s", logbuf);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);

	/* a header and no data: an error, not 0 frames and fine */
	p = write_text("hdr.csv", "Rows,2\nColumns,2\n");
	c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_TRUNCATED);
	cr_assert(strstr(o.detail, "no frames"), "%s", o.detail);
	free(p);

	/* time stamps going backwards */
	p = write_text("back.csv", "time_s,r0c0,r0c1\n0.5,1,2\n0.25,3,4\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	f = frame_for(r);
	cr_assert_eq(read_all(r, f, &rc), 1u);
	cr_assert_eq(rc, KM_ERR_MALFORMED);
	km_import_damage(r, &d);
	cr_assert(strstr(d.message, "back.csv:3:1:") && strstr(d.message, "backwards"), "%s",
	          d.message);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
}

/* ------------------------------------------------------------------------ */
/* Sidecars and units                                                        */
/* ------------------------------------------------------------------------ */

Test(import_layouts, sidecar_row_col_pitch_null_and_overrides)
{
	char *p = write_text("m.csv", "1,2\n3,4\n");
	char *s = write_text("m.json", "{\"pitch_mm\": [10.28, 5.28], \"rate_hz\": null, "
	                               "\"units\": \"mmHg\"}");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_float_eq(in->row_pitch_mm, 10.28f, 1e-5);
	cr_assert_float_eq(in->col_pitch_mm, 5.28f, 1e-5);
	cr_assert_eq(in->pitch_from, KM_IMPORT_FROM_SIDECAR);
	cr_assert_eq(in->rate_from, KM_IMPORT_FROM_DEFAULT, "null: not known");
	cr_assert_eq(in->units, KM_UNITS_MMHG);
	km_import_destroy(r);

	/* the command line wins, even over a sidecar value it cannot read */
	free(write_text("m.json", "{\"pitch_mm\": \"wide\", \"units\": \"kPa\"}"));
	c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_MALFORMED);
	cr_assert(strstr(o.detail, "--pitch"), "%s", o.detail);
	c = km_import_config_default();
	c.row_pitch_mm = 4;
	c.col_pitch_mm = 9;
	r = open_ok(p, &c);
	in = km_import_info(r);
	cr_assert_float_eq(in->row_pitch_mm, 4.0f, 0);
	cr_assert_float_eq(in->col_pitch_mm, 9.0f, 0);
	cr_assert_float_eq(in->pitch_mm, 6.0f, 1e-6);
	cr_assert_eq(in->pitch_from, KM_IMPORT_FROM_CONFIG);
	km_import_destroy(r);

	/* knotmap's own JSON export next to the file is not a sidecar */
	free(write_text("m.json",
	                "{\n  \"format\": \"knotmap-session-summary\",\n  \"version\": 1,\n"
	                "  \"units\": {\"pressure\": \"kPa\"},\n  \"device\": {\"pitch_mm\": 10}\n}\n"));
	logbuf[0] = '\0';
	c = km_import_config_default();
	r = open_ok(p, &c);
	in = km_import_info(r);
	cr_assert_eq(in->pitch_from, KM_IMPORT_FROM_DEFAULT);
	cr_assert_eq(in->units_from, KM_IMPORT_FROM_DEFAULT);
	cr_assert(strstr(logbuf, "is not a sidecar"), "%s", logbuf);
	km_import_destroy(r);
	free(p);
	free(s);
}

Test(import_layouts, units_nobody_gives_are_counts)
{
	char *p = write_text("plain.csv", "1,2\n3,4\n");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	const struct km_import_info *in = km_import_info(r);
	cr_assert_eq(in->units, KM_UNITS_RAW);
	cr_assert_eq(in->units_from, KM_IMPORT_FROM_DEFAULT);
	cr_assert_str_eq(km_import_units_name(in->units), "counts");
	struct km_frame *f = frame_for(r);
	cr_assert_eq(km_import_next(r, f), KM_OK);
	cr_assert(f->flags & KM_FRAME_UNCALIBRATED, "counts are flagged, not taken for kPa");
	cr_assert_float_eq(f->kpa[3], 4.0f, 0);
	km_frame_destroy(f);
	km_import_destroy(r);
	free(p);
	/* knotmap's CSV names its units in the cell names */
	p = write_text("named.csv", "frame,r0c0_kpa,r0c1_kpa\n0,1,2\n1,3,4\n");
	c = km_import_config_default();
	r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->units, KM_UNITS_KPA);
	cr_assert_eq(km_import_info(r)->units_from, KM_IMPORT_FROM_FILE);
	km_import_destroy(r);
	free(p);
}

/* ------------------------------------------------------------------------ */
/* Units                                                                     */
/* ------------------------------------------------------------------------ */

/* Every pressure unit vendors write, as they write it, with its exact factor
 * from the definitions (g = 9.80665 m/s^2, 1 lb = 0.45359237 kg, 1 in =
 * 0.0254 m, mercury 13.5951 g/cm^3); the name it is shown by reads back as
 * itself. kg/cm2 was refused before. */
Test(import_layouts, units_table)
{
	const double g = 9.80665;
	static const struct {
		const char *text;
		enum km_import_units u;
	} spell[] = {
	    {"kPa", KM_UNITS_KPA},          {"KPA", KM_UNITS_KPA},
	    {"kilopascals", KM_UNITS_KPA},  {"Pa", KM_UNITS_PA},
	    {"N/m2", KM_UNITS_PA},          {"N/m^2", KM_UNITS_PA},
	    {"MPa", KM_UNITS_MPA},          {"N/mm2", KM_UNITS_MPA},
	    {"N/mm\xc2\xb2", KM_UNITS_MPA}, {"bar", KM_UNITS_BAR},
	    {"mbar", KM_UNITS_MBAR},        {"hPa", KM_UNITS_MBAR},
	    {"N/cm2", KM_UNITS_NCM2},       {"N/cm^2", KM_UNITS_NCM2},
	    {"kg/cm2", KM_UNITS_KGFCM2},    {"kgf/cm2", KM_UNITS_KGFCM2},
	    {"KG/CM^2", KM_UNITS_KGFCM2},   {"kgf/cm\xc2\xb2", KM_UNITS_KGFCM2},
	    {"g/cm2", KM_UNITS_GFCM2},      {"gf/cm2", KM_UNITS_GFCM2},
	    {"(g/cm^2)", KM_UNITS_GFCM2},   {"psi", KM_UNITS_PSI},
	    {"PSI", KM_UNITS_PSI},          {"lbf/in2", KM_UNITS_PSI},
	    {"mmHg", KM_UNITS_MMHG},        {"mm Hg", KM_UNITS_MMHG},
	    {"cmH2O", KM_UNITS_CMH2O},      {"cm H2O", KM_UNITS_CMH2O},
	    {"counts", KM_UNITS_RAW},       {"raw", KM_UNITS_RAW},
	};
	for (size_t i = 0; i < sizeof spell / sizeof spell[0]; i++) {
		enum km_import_units u = KM_UNITS_DEFAULT;
		cr_expect_eq(km_import_units_parse(spell[i].text, &u), KM_OK, "%s", spell[i].text);
		cr_expect_eq(u, spell[i].u, "%s read as %s", spell[i].text,
		             km_import_units_name(u));
	}
	static const struct {
		enum km_import_units u;
		const char *name;
	} named[] = {
	    {KM_UNITS_KPA, "kPa"},        {KM_UNITS_PA, "Pa"},        {KM_UNITS_MPA, "MPa"},
	    {KM_UNITS_BAR, "bar"},        {KM_UNITS_MBAR, "mbar"},    {KM_UNITS_NCM2, "N/cm2"},
	    {KM_UNITS_KGFCM2, "kgf/cm2"}, {KM_UNITS_GFCM2, "gf/cm2"}, {KM_UNITS_PSI, "psi"},
	    {KM_UNITS_MMHG, "mmHg"},      {KM_UNITS_CMH2O, "cmH2O"},  {KM_UNITS_RAW, "counts"},
	};
	const double kpa[] = {1,
	                      1e-3,
	                      1e3,
	                      100,
	                      0.1,
	                      10,
	                      g * 10,
	                      g / 100,
	                      0.45359237 * g / (0.0254 * 0.0254) / 1000,
	                      13.5951 * g / 1000,
	                      g / 100,
	                      1};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		cr_expect_str_eq(km_import_units_name(named[i].u), named[i].name);
		enum km_import_units back = KM_UNITS_DEFAULT;
		cr_expect_eq(km_import_units_parse(named[i].name, &back), KM_OK, "%s",
		             named[i].name);
		cr_expect_eq(back, named[i].u, "%s reads back", named[i].name);
		double f = km_import_units_to_kpa(named[i].u);
		cr_expect(fabs(f - kpa[i]) <= 1e-12 * kpa[i], "%s: %.15g kPa, want %.15g",
		          named[i].name, f, kpa[i]);
	}
	/* the values the brief quotes, and what case changes */
	cr_expect_float_eq(km_import_units_to_kpa(KM_UNITS_KGFCM2), 98.0665, 1e-12);
	cr_expect_float_eq(km_import_units_to_kpa(KM_UNITS_PSI), 6.894757, 1e-6);
	cr_expect_float_eq(km_import_units_to_kpa(KM_UNITS_MMHG), 0.133322, 1e-6);
	static const char *const refused[] = {"mPa", "Mbar", "furlongs", "kg", "", "kPa/s", "atm"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		enum km_import_units u;
		cr_expect_eq(km_import_units_parse(refused[i], &u), KM_ERR_UNSUPPORTED, "'%s'",
		             refused[i]);
	}
}

/* The units a file names reach its frames in kPa: Tekscan UNITS, XSENSOR
 * Units:, a CSV "units" row; an unknown unit is an error naming it and the
 * line. */
#define TEK                                                                                        \
	"DATA_TYPE FRAME\r\nROWS 1\r\nCOLS 2\r\nROW_SPACING 5 mm\r\nCOL_SPACING 5 mm\r\n"          \
	"SECONDS_PER_FRAME 0.1\r\nUNITS "
#define TEK_END "\r\nASCII_DATA @@\r\n\r\n1,2\r\n@@\r\n"
#define XS_END ",,\nFRAME,1,,\nSENSOR,Seat,,\nRows,1,,\nColumns,2,,\nSENSELS,,,\n1,2,,\n"

Test(import_layouts, units_from_files_are_converted)
{
	static const struct {
		const char *pre, *unit, *post; /* the file: pre unit post */
		double kpa;                    /* of the cell holding 2 */
	} files[] = {
	    {TEK, "KG/CM2", TEK_END, 2 * 98.0665},
	    {TEK, "g/cm2", TEK_END, 2 * 0.0980665},
	    {"Units:,", "kgf/cm2", XS_END, 2 * 98.0665},
	    {"Units:,", "mbar", XS_END, 2 * 0.1},
	    {"units,", "bar", "\nrate_hz,10\n1,2\n", 2 * 100.0},
	    {"units,", "Pa", "\nrate_hz,10\n1,2\n", 2 * 0.001},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, "%s%s%s", files[i].pre, files[i].unit, files[i].post);
		char *p = write_text("units.txt", text);
		struct km_import_config c = km_import_config_default();
		c.rows = files[i].pre[0] == 'u' ? 1 : 0;
		c.cols = files[i].pre[0] == 'u' ? 2 : 0;
		km_import *r = open_ok(p, &c);
		const struct km_import_info *in = km_import_info(r);
		cr_expect_eq(in->units_from, KM_IMPORT_FROM_FILE, "%s", files[i].unit);
		struct km_frame *f = frame_for(r);
		cr_assert_eq(km_import_next(r, f), KM_OK, "%s: %s", files[i].unit, logbuf);
		cr_expect_float_eq(f->kpa[1], files[i].kpa, 1e-6 * files[i].kpa, "%s: %f kPa",
		                   files[i].unit, (double)f->kpa[1]);
		cr_expect_eq(f->flags & KM_FRAME_UNCALIBRATED, 0u, "%s", files[i].unit);
		km_frame_destroy(f);
		km_import_destroy(r);
		free(p);
	}
	char *p = write_text("odd.asf", "DATA_TYPE FRAME\r\nROWS 1\r\nCOLS 2\r\nUNITS stone/ft2\r\n"
	                                "ASCII_DATA @@\r\n\r\n1,2\r\n@@\r\n");
	struct km_import_config c = km_import_config_default();
	struct opened o;
	cr_expect_eq(open_cfg(p, &c, &o), KM_ERR_UNSUPPORTED);
	cr_expect(strstr(o.detail, "odd.asf:4") && strstr(o.detail, "unknown units 'stone/ft2'"),
	          "%s", o.detail);
	free(p);
}

/* An empty FILE.json next to FILE.csv is no sidecar: it is what the shell
 * creates for "knotmap analyze FILE.csv --json > FILE.json" before knotmap
 * runs (which then failed with "sidecar is not a JSON object"). A non-empty
 * one that is not JSON is still an error. */
Test(import_layouts, empty_sidecar_is_not_a_sidecar)
{
	char *p = write_text("m.csv", "1,2\n3,4\n");
	char *side = write_text("m.json", "");
	struct km_import_config c = km_import_config_default();
	km_import *r = open_ok(p, &c);
	cr_assert_eq(km_import_info(r)->units_from, KM_IMPORT_FROM_DEFAULT);
	cr_assert(strstr(logbuf, "m.json is empty: not a sidecar"), "%s", logbuf);
	km_import_destroy(r);
	free(write_text("m.json", " \n"));
	c = km_import_config_default();
	r = open_ok(p, &c);
	km_import_destroy(r);
	free(write_text("m.json", "rate 10\n"));
	c = km_import_config_default();
	struct opened o;
	cr_assert_eq(open_cfg(p, &c, &o), KM_ERR_PARSE);
	cr_assert(strstr(o.detail, "not a JSON object"), "%s", o.detail);
	/* a FIFO of that name is not read (it would block), nor a folder */
	cr_assert_eq(unlink(side), 0);
	cr_assert_eq(mkfifo(side, 0600), 0);
	c = km_import_config_default();
	logbuf[0] = '\0';
	r = open_ok(p, &c);
	cr_assert(strstr(logbuf, "not used as a sidecar"), "%s", logbuf);
	km_import_destroy(r);
	cr_assert_eq(unlink(side), 0);
	cr_assert_eq(mkdir(side, 0700), 0);
	c = km_import_config_default();
	r = open_ok(p, &c);
	km_import_destroy(r);
	cr_assert_eq(rmdir(side), 0);
	free(side);
	free(p);
}
