/* Exports read back by the real clients: Python csv, numpy.load, jq, libpng. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <sys/resource.h>
#include <signal.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <sys/stat.h>

#include "km_internal.h"
#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/recording.h"
#include "chart.h"
#include "raster.h"
#include "report.h"

enum { ROWS = 6, COLS = 5, NFRAMES = 40 };
#define PITCH 10.0f

static char *dir;
static char *rec;

/* An event type no knotmap version has defined: exported as "type99". */
enum { EV_UNKNOWN = 99 };

static float cell_value(uint32_t i, size_t c)
{
	/* one hot cell (row 2, col 3) that peaks at frame 20 */
	if (c == 2 * COLS + 3)
		return 100.0f - (float)abs((int)i - 20);
	return (float)((c * 7 + i * 3) % 11) * 0.37f;
}

static void make_recording(const char *path)
{
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.content = KM_REC_KPA;
	c.device.rows = ROWS;
	c.device.cols = COLS;
	c.device.pitch_mm = PITCH;
	c.device.rate_hz = 10.0f;
	snprintf(c.device.serial, sizeof c.device.serial, "SER\"1");
	snprintf(c.session_id, sizeof c.session_id, "export-test");
	c.chunk_bytes = 4096;
	c.sync = false;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(ROWS, COLS, PITCH, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (uint32_t i = 0; i < NFRAMES; i++) {
		for (size_t k = 0; k < ROWS * COLS; k++)
			f->kpa[k] = cell_value(i, k);
		f->sequence = i;
		f->device_time_us = 1000000ull + i * 100000ull;
		f->dropped_since_last = i == 10 ? 2 : 0;
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
		/* Written as the CLI and the viewer write them: core's mapping. */
		struct km_event ev;
		memset(&ev, 0, sizeof ev);
		ev.time_us = f->device_time_us;
		ev.track_id = 7;
		ev.x_mm = 3.5f * PITCH; /* the hot cell's centre: col 3, row 2 */
		ev.y_mm = 2.5f * PITCH;
		if (i == 2)
			ev.type = KM_EVENT_KNOT_FOUND;
		else if (i == 5)
			ev.type = KM_EVENT_HOLD_STARTED;
		else if (i == 15)
			ev.type = KM_EVENT_RELEASED;
		else if (i == 30) {
			ev.type = KM_EVENT_HOLD_STOPPED;
			ev.held_s = 2.5f;
			ev.load_kpa = 42.0f;
		} else if (i == 31)
			ev.type = (enum km_event_type)EV_UNKNOWN;
		else
			continue;
		struct km_rec_event r;
		km_event_to_record(&ev, &r);
		cr_assert_eq(km_rec_writer_write_event(w, &r), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
}

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
	rec = km_test_path(dir, "in.kmrec");
	make_recording(rec);
}

static void teardown(void)
{
	free(rec);
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(export, .init = setup, .fini = teardown);

static const char *python(void)
{
	/* The Debian interpreter has python3-numpy; a pyenv one on PATH may not. */
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static char *sh(const char *cmd)
{
	static char out[16384];
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	cr_assert_eq(st, 0, "command failed (%d): %s\n%s", st, cmd, out);
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return out;
}

/* Exports the recording at `in` to `out`. */
static int export_from(const char *in, enum km_export_format fmt, const char *out)
{
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = in;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.format = fmt;
	c.path = out;
	int rcode = km_export_recording(&c, r);
	km_rec_reader_destroy(r);
	return rcode;
}

static int do_export(enum km_export_format fmt, const char *out)
{
	return export_from(rec, fmt, out);
}

Test(export, config_rejected_and_names)
{
	struct km_export_config c = km_export_config_default();
	cr_assert_eq(km_export_recording(&c, NULL), KM_ERR_INVALID_ARG);
	enum km_export_format f;
	cr_assert_eq(km_export_format_parse("npy", &f), KM_OK);
	cr_assert_eq(f, KM_EXPORT_NPY);
	cr_assert_eq(km_export_format_parse("xls", &f), KM_ERR_INVALID_ARG);
	cr_assert_str_eq(km_export_format_name(KM_EXPORT_TEKSCAN), "tekscan");
	cr_assert_null(km_export_format_name((enum km_export_format)99));
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	cr_assert_eq(km_export_recording(&c, r), KM_ERR_INVALID_ARG, "no path");
	char *p = km_test_path(dir, "x");
	c.path = p;
	c.format = (enum km_export_format)42;
	cr_assert_eq(km_export_recording(&c, r), KM_ERR_INVALID_ARG);
	c.format = KM_EXPORT_PNG;
	c.png_scale = 33;
	cr_assert_eq(km_export_recording(&c, r), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_test_file_size(p), -1);
	/* never onto the recording itself, even with overwrite */
	long size = km_test_file_size(rec);
	c.format = KM_EXPORT_CSV;
	c.png_scale = 0;
	c.path = rec;
	c.overwrite = true;
	cr_assert_eq(km_export_recording(&c, r), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_test_file_size(rec), size);
	km_rec_reader_destroy(r);
	free(p);
}

Test(export, csv_frames_read_by_python)
{
	char *out = km_test_path(dir, "f.csv");
	cr_assert_eq(do_export(KM_EXPORT_CSV, out), KM_OK);
	struct stat st;
	cr_assert_eq(stat(out, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import csv,sys; lines=open(sys.argv[1]).readlines();"
	         " meta=[m for m in lines if m.startswith('#')];"
	         " assert [m.split(',')[0] for m in meta] == "
	         "['# rate_hz','# row_spacing_mm','# col_spacing_mm'];"
	         " rows=list(csv.DictReader(m for m in lines if not m.startswith('#')));"
	         " print(len(rows)); print(len(rows[0])); print(rows[20]['r2c3_kpa']);"
	         " print(rows[7]['r4c1_kpa']); print(rows[10]['dropped_since_last']);"
	         " print(rows[39]['device_time_us'])\" '%s'",
	         python(), out);
	char *res = sh(cmd);
	char *save = NULL;
	cr_assert_eq(atoi(strtok_r(res, "\n", &save)), NFRAMES);
	cr_assert_eq(atoi(strtok_r(NULL, "\n", &save)), 6 + ROWS * COLS);
	cr_assert_eq(strtof(strtok_r(NULL, "\n", &save), NULL), cell_value(20, 2 * COLS + 3));
	cr_assert_eq(strtof(strtok_r(NULL, "\n", &save), NULL), cell_value(7, 4 * COLS + 1),
	             "floats round-trip exactly");
	cr_assert_eq(atoi(strtok_r(NULL, "\n", &save)), 2);
	cr_assert_eq(atoll(strtok_r(NULL, "\n", &save)), 1000000ll + 39 * 100000ll);
	/* existing output refused */
	cr_assert_eq(do_export(KM_EXPORT_CSV, out), KM_ERR_EXISTS);
	free(out);
}

Test(export, csv_events_read_by_python)
{
	char *out = km_test_path(dir, "e.csv");
	cr_assert_eq(do_export(KM_EXPORT_CSV_EVENTS, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import csv,sys; rows=list(csv.DictReader(open(sys.argv[1])));"
	         " print(len(rows)); print('|'.join(r['name'] for r in rows));"
	         " print(rows[3]['value0'], rows[3]['value2']); print(rows[0]['x_mm'])\" '%s'",
	         python(), out);
	/* value0 = load_kpa, value2 = held_s (docs/kmrec-format.md) */
	cr_assert_str_eq(sh(cmd),
	                 "5\nKNOT_FOUND|HOLD_STARTED|RELEASED|HOLD_STOPPED|type99\n42 2.5\n35");
	free(out);
}

Test(export, json_summary_read_by_jq)
{
	char *out = km_test_path(dir, "s.json");
	cr_assert_eq(do_export(KM_EXPORT_JSON, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "jq -r '[.frames.count, .frames.dropped, .frames.peak_kpa,"
	         " .frames.peak_cell.row, .frames.peak_cell.col, (.knots|length),"
	         " .holds[0].outcome, .holds[0].held_s, .holds[0].load_kpa, .device.serial,"
	         " .events.count, .events.by_type.RELEASED, .damage] | map(tostring) | join(\" \")'"
	         " '%s'",
	         out);
	cr_assert_str_eq(sh(cmd), "40 2 100 2 3 1 released 2.5 42 SER\"1 5 1 null");
	free(out);
}

static int npy_available(void)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "%s -c 'import numpy' 2>/dev/null", python());
	return system(cmd) == 0;
}

Test(export, npy_read_by_numpy)
{
	if (!npy_available())
		cr_skip_test("python3-numpy not installed (scripts/deps.sh test)");
	char *out = km_test_path(dir, "f.npy");
	cr_assert_eq(do_export(KM_EXPORT_NPY, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import numpy,sys; a=numpy.load(sys.argv[1]); print(a.dtype, a.shape);"
	         " print(repr(float(a[20,2,3]))); print(repr(float(a[7,4,1])))\" '%s'",
	         python(), out);
	char *res = sh(cmd);
	char *save = NULL;
	char want[64];
	snprintf(want, sizeof want, "float32 (%d, %d, %d)", NFRAMES, ROWS, COLS);
	cr_assert_str_eq(strtok_r(res, "\n", &save), want);
	cr_assert_eq(strtof(strtok_r(NULL, "\n", &save), NULL), cell_value(20, 2 * COLS + 3));
	cr_assert_eq(strtof(strtok_r(NULL, "\n", &save), NULL), cell_value(7, 4 * COLS + 1));
	free(out);
}

Test(export, npy_header_patched_when_damaged)
{
	if (!npy_available())
		cr_skip_test("python3-numpy not installed (scripts/deps.sh test)");
	/* Corrupt the last data chunk (just before the index chunk and the
	 * trailer): the index still promises 40 frames. */
	long at = km_test_file_size(rec) - 32 - 200;
	int fd = open(rec, O_RDWR);
	uint8_t b;
	cr_assert_eq(pread(fd, &b, 1, at), 1);
	b ^= 0xFF;
	cr_assert_eq(pwrite(fd, &b, 1, at), 1);
	close(fd);
	char *out = km_test_path(dir, "d.npy");
	cr_assert_eq(do_export(KM_EXPORT_NPY, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import numpy,sys; print(numpy.load(sys.argv[1]).shape[0])\" '%s'",
	         python(), out);
	int frames = atoi(sh(cmd));
	cr_assert_gt(frames, 0);
	cr_assert_lt(frames, NFRAMES);
	char *js = km_test_path(dir, "d.json");
	cr_assert_eq(do_export(KM_EXPORT_JSON, js), KM_OK);
	snprintf(cmd, sizeof cmd, "jq -r '.damage.frame_index, .frames.count' '%s'", js);
	char want[32];
	snprintf(want, sizeof want, "%d\n%d", frames, frames);
	cr_assert_str_eq(sh(cmd), want);
	free(js);
	free(out);
}

Test(export, tekscan_ascii)
{
	char *out = km_test_path(dir, "t.txt");
	cr_assert_eq(do_export(KM_EXPORT_TEKSCAN, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import sys; t=open(sys.argv[1], newline='').read().split('\\r\\n');"
	         " print(sum(1 for l in t if l.startswith('Frame ')));"
	         " i=t.index('Frame 21'); print(t[i+3].split(',')[3]);"
	         " print([l for l in t if l.startswith('ROWS')][0]);"
	         " print([l for l in t if l.startswith('END_FRAME')][0])\" '%s'",
	         python(), out);
	cr_assert_str_eq(sh(cmd), "40\n100.000\nROWS 6\nEND_FRAME 40");
	free(out);
}

struct decoded {
	uint32_t w, h;
	uint8_t *px;
};

static void decode_png(const char *path, struct decoded *d)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	uint8_t sig[8];
	cr_assert_eq(fread(sig, 1, 8, f), 8);
	cr_assert_eq(png_sig_cmp(sig, 0, 8), 0, "PNG signature");
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	cr_assert(png && info);
	if (setjmp(png_jmpbuf(png)))
		cr_assert_fail("libpng could not decode the report");
	png_init_io(png, f);
	png_set_sig_bytes(png, 8);
	png_read_info(png, info);
	d->w = png_get_image_width(png, info);
	d->h = png_get_image_height(png, info);
	cr_assert_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
	cr_assert_eq(png_get_bit_depth(png, info), 8);
	d->px = malloc((size_t)d->w * d->h * 3);
	for (uint32_t y = 0; y < d->h; y++)
		png_read_row(png, d->px + (size_t)y * d->w * 3, NULL);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
}

static uint32_t pixel(const struct decoded *d, uint32_t x, uint32_t y)
{
	const uint8_t *p = d->px + ((size_t)y * d->w + x) * 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

Test(export, png_report_decoded_by_libpng)
{
	char *out = km_test_path(dir, "r.png");
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.format = KM_EXPORT_PNG;
	c.path = out;
	c.png_scale = 20;
	c.title = "Test report";
	cr_assert_eq(km_export_recording(&c, r), KM_OK);
	km_rec_reader_destroy(r);

	struct decoded d;
	decode_png(out, &d);
	struct km__report_layout l;
	km__report_layout(ROWS, COLS, 20, false, 1.0, &l);
	cr_assert_eq(d.w, l.width);
	cr_assert_eq(d.h, l.height);
	const uint32_t *cm = km_export_colormap();
	/* the hot cell is the brightest of both maps: away from the knot ring
	 * drawn on it, its corner pixel has the top colour */
	cr_assert_eq(pixel(&d, l.peak_x + 3 * 20 + 1, l.peak_y + 2 * 20 + 1), cm[255]);
	cr_assert_eq(pixel(&d, l.mean_x + 3 * 20 + 1, l.mean_y + 2 * 20 + 1), cm[255]);
	/* a cold cell is dark (bottom third of the map) */
	uint32_t cold = pixel(&d, l.peak_x + 0 * 20 + 10, l.peak_y + 0 * 20 + 10);
	int ci = -1;
	for (int i = 0; i < 256; i++)
		if (cm[i] == cold)
			ci = i;
	cr_assert(ci >= 0 && ci < 128, "cold cell colour index %d", ci);
	/* knot marker: a black ring around the hot cell centre, radius ~16-18 px */
	uint32_t cx = l.peak_x + 3 * 20 + 10, cy = l.peak_y + 2 * 20 + 10;
	cr_assert_eq(pixel(&d, cx + 17, cy), 0x000000);
	cr_assert_eq(pixel(&d, cx - 15, cy), 0xffffff);
	/* the hold timeline: one released hold from frame 5 to 30 of 0..39 */
	uint32_t ty = l.timeline_y + l.lane_h / 2;
	uint32_t mid = l.timeline_x + (uint32_t)(l.timeline_w * 17.5 / 39.0);
	cr_assert_eq(pixel(&d, mid, ty), km__outcome_colour(KM_OUTCOME_RELEASED));
	uint32_t before = l.timeline_x + (uint32_t)(l.timeline_w * 2.0 / 39.0);
	cr_assert_neq(pixel(&d, before, ty), km__outcome_colour(KM_OUTCOME_RELEASED));
	/* some text was drawn in the title area */
	int dark = 0;
	for (uint32_t y = 16; y < 30; y++)
		for (uint32_t x = 16; x < 200; x++)
			dark += pixel(&d, x, y) == 0;
	cr_assert_gt(dark, 50);
	free(d.px);
	free(out);
}

/* Rows and columns spaced differently (an import's 10 x 5 mm): the report's
 * maps draw each cell twice as tall as wide, the hot cell and its marker
 * where they are. */
Test(export, png_report_draws_an_anisotropic_mat_to_scale)
{
	char *out = km_test_path(dir, "aniso.png");
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.format = KM_EXPORT_PNG;
	c.path = out;
	c.png_scale = 20;
	c.row_pitch_mm = 10.0f;
	c.col_pitch_mm = 5.0f;
	cr_assert_eq(km_export_recording(&c, r), KM_OK);
	km_rec_reader_destroy(r);
	struct decoded d;
	decode_png(out, &d);
	struct km__report_layout l;
	km__report_layout(ROWS, COLS, 20, false, 2.0, &l);
	cr_assert_eq(l.scale, 20u);
	cr_assert_eq(l.scale_y, 40u);
	cr_assert_eq(l.map_h, ROWS * 40u);
	cr_assert_eq(d.w, l.width);
	cr_assert_eq(d.h, l.height);
	const uint32_t *cm = km_export_colormap();
	/* the hot cell (row 2, column 3) spans 20 px across and 40 px down */
	cr_assert_eq(pixel(&d, l.peak_x + 3 * 20 + 1, l.peak_y + 2 * 40 + 1), cm[255]);
	cr_assert_eq(pixel(&d, l.peak_x + 3 * 20 + 1, l.peak_y + 2 * 40 + 38), cm[255]);
	cr_assert_neq(pixel(&d, l.peak_x + 3 * 20 + 1, l.peak_y + 2 * 40 + 41), cm[255]);
	cr_assert_neq(pixel(&d, l.peak_x + 4 * 20 + 1, l.peak_y + 2 * 40 + 1), cm[255]);
	free(d.px);
	free(out);
}

/* The report in DejaVu: the title's "p" reaches below its baseline (the old
 * 5x7 font had no descenders); with a history it carries the body chart
 * (the persistent spot in the alarm colour) and always the safety note. */
Test(export, png_report_font_chart_and_note)
{
	char *db = km_test_path(dir, "h.db");
	struct km_history_config hc = km_history_config_default();
	hc.path = db;
	km_history *h = NULL;
	cr_assert_eq(km_history_create(&hc, &h), KM_OK);
	const int64_t day = 86400ll * 1000000ll, t0 = 1764000000ll * 1000000ll;
	for (int i = 0; i < 3; i++) {
		struct km_history_session s;
		memset(&s, 0, sizeof s);
		s.start_unix_us = t0 + i * 5 * day;
		int64_t id;
		cr_assert_eq(km_history_add_session(h, &s, &id), KM_OK);
		struct km_history_observation o;
		memset(&o, 0, sizeof o);
		o.session_id = id;
		o.time_unix_us = s.start_unix_us;
		o.x_mm = 100.0f * (float)i;
		snprintf(o.body.region, sizeof o.body.region, "lower back");
		o.body.side = -1;
		o.body.lateral_mm = 40.0f;
		o.body.along_pct = 50.0f;
		cr_assert_eq(km_history_add_observation(h, &o, NULL, NULL), KM_OK);
	}
	char *out = km_test_path(dir, "rc.png");
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.format = KM_EXPORT_PNG;
	c.path = out;
	c.png_scale = 20;
	c.title = "knotmap session report";
	c.history = h;
	cr_assert_eq(km_export_recording(&c, r), KM_OK);
	km_rec_reader_destroy(r);
	km_history_destroy(h);

	struct decoded d;
	decode_png(out, &d);
	struct km__report_layout l;
	km__report_layout(ROWS, COLS, 20, true, 1.0, &l);
	cr_assert_eq(d.w, l.width);
	cr_assert_eq(d.h, l.height);
	cr_assert_gt(l.chart_h, 0u);
	/* the title's descenders: ink between its baseline and the subtitle */
	struct km__text *t = NULL;
	cr_assert_eq(km__text_open(&t, true, 22, NULL), KM_OK);
	cr_assert(km__text_is_vector(t), "DejaVu Sans (fonts-dejavu-core) is needed");
	uint32_t base = 16 + km__text_baseline(t);
	km__text_close(t);
	int below = 0;
	for (uint32_t y = base + 2; y < base + 5; y++)
		for (uint32_t x = 16; x < 400; x++)
			below += (pixel(&d, x, y) & 0xFF) < 100;
	cr_assert_gt(below, 3, "the p of 'report' goes below the baseline");
	/* the chart: the persistent spot's disc, in the chart panel */
	size_t red = 0;
	for (uint32_t y = l.chart_y; y < l.chart_y + l.chart_h; y++)
		for (uint32_t x = l.chart_x; x < l.chart_x + l.chart_w; x++)
			red += pixel(&d, x, y) == km__chart_colour(10, true);
	cr_assert_gt(red, 150u, "red %zu", red);
	/* the safety note: text in its three lines */
	int ink = 0;
	for (uint32_t y = l.note_y; y < l.height; y++)
		for (uint32_t x = 16; x < l.width; x++)
			ink += (pixel(&d, x, y) & 0xFF) < 100;
	cr_assert_gt(ink, 300);
	free(d.px);
	free(out);
	free(db);
}

Test(export, colormap_is_ordered)
{
	const uint32_t *cm = km_export_colormap();
	/* luminance rises monotonically (perceptual order) */
	double prev = -1;
	for (int i = 0; i < 256; i++) {
		double lum = 0.2126 * (cm[i] >> 16) + 0.7152 * ((cm[i] >> 8) & 0xFF) +
		             0.0722 * (cm[i] & 0xFF);
		cr_assert_geq(lum, prev - 0.5, "entry %d", i);
		prev = lum;
	}
	cr_assert_eq(cm[0], 0x440154);
	cr_assert_eq(cm[255], 0xfde725);
}

static void progress(void *user, uint64_t done, uint64_t total)
{
	uint64_t *p = user;
	cr_assert_leq(done, total);
	cr_assert_geq(done, p[0]);
	p[0] = done;
	p[1] = total;
	p[2]++;
}

Test(export, progress_reported)
{
	char *out = km_test_path(dir, "p.csv");
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.path = out;
	uint64_t p[3] = {0, 0, 0};
	c.progress = progress;
	c.progress_user = p;
	cr_assert_eq(km_export_recording(&c, r), KM_OK);
	cr_assert_eq(p[0], NFRAMES);
	cr_assert_eq(p[1], NFRAMES);
	cr_assert_geq(p[2], 2);
	km_rec_reader_destroy(r);
	free(out);
}

Test(export, devices_are_not_targets)
{
	struct stat st;
	if (stat("/dev/full", &st) != 0)
		cr_skip_test("no /dev/full");
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config c = km_export_config_default();
	c.format = KM_EXPORT_CSV;
	c.path = "/dev/full";
	c.overwrite = true;
	cr_assert_eq(km_export_recording(&c, r), KM_ERR_NOT_A_FILE);
	km_rec_reader_destroy(r);
	cr_assert_eq(stat("/dev/full", &st), 0);
}

/* A disk that fills during the export (a file size limit stands in for it):
 * an error, the earlier export intact, nothing partial under the name. */
Test(export, disk_full_is_an_error_and_keeps_the_old_export)
{
	const enum km_export_format fmts[] = {KM_EXPORT_CSV, KM_EXPORT_JSON, KM_EXPORT_NPY,
	                                      KM_EXPORT_TEKSCAN, KM_EXPORT_PNG};
	char *out = km_test_path(dir, "old-export");
	FILE *f = fopen(out, "w");
	cr_assert_not_null(f);
	fputs("the earlier export", f);
	fclose(f);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = {.rlim_cur = 600, .rlim_max = RLIM_INFINITY};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (size_t i = 0; i < KM_ARRAY_SIZE(fmts); i++) {
		struct km_rec_reader_config rc = km_rec_reader_config_default();
		rc.path = rec;
		km_rec_reader *r = NULL;
		cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
		struct km_export_config c = km_export_config_default();
		c.format = fmts[i];
		c.path = out;
		c.overwrite = true;
		cr_assert_eq(km_export_recording(&c, r), KM_ERR_NO_SPACE, "format %s",
		             km_export_format_name(fmts[i]));
		km_rec_reader_destroy(r);
	}
	lim.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &lim);
	char buf[64] = {0};
	f = fopen(out, "r");
	cr_assert_not_null(f);
	cr_assert_gt(fread(buf, 1, sizeof buf - 1, f), 0);
	fclose(f);
	cr_assert_str_eq(buf, "the earlier export");
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '\\.tmp$' || true", dir);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	int leftovers = -1;
	cr_assert_eq(fscanf(p, "%d", &leftovers), 1);
	pclose(p);
	cr_assert_eq(leftovers, 0, "temporary files left behind");
	free(out);
}

Test(export, raw_only_csv_says_counts)
{
	char *p = km_test_path(dir, "raw.kmrec");
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = p;
	c.content = KM_REC_RAW;
	c.device.rows = 2;
	c.device.cols = 2;
	c.device.pitch_mm = PITCH;
	c.sync = false;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(2, 2, PITCH, KM_GEOMETRY_FLAT, &f), KM_OK);
	const uint16_t raw[4] = {0, 4095, 17, 65535};
	cr_assert_eq(km_rec_writer_write_frame(w, f, raw, 3), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	char *out = km_test_path(dir, "raw.csv");
	cr_assert_eq(export_from(p, KM_EXPORT_CSV, out), KM_OK);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "%s -c \"import csv,sys; r=list(csv.reader(open(sys.argv[1])));"
	         " print(','.join(r[3][6:])); print(','.join(r[4][6:]))\" '%s'",
	         python(), out);
	cr_assert_str_eq(sh(cmd),
	                 "r0c0_counts,r0c1_counts,r1c0_counts,r1c1_counts\n0,4095,17,65535");
	free(out);
	free(p);
}

/* The cell text libc gave before the exporter had its own formatter. */
static void libc_cell(char *buf, size_t cap, float v)
{
	if (!isfinite(v)) {
		snprintf(buf, cap, "nan");
		return;
	}
	snprintf(buf, cap, "%.6g", (double)v);
	if (strtof(buf, NULL) != v)
		snprintf(buf, cap, "%.9g", (double)v);
}

static float tricky_cell(uint32_t i, size_t c)
{
	uint32_t h = (uint32_t)(c * 2654435761u) ^ (i * 40503u) ^ (i << 16);
	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 12;
	float v;
	switch (h % 8) {
	case 0: /* any bit pattern: NaN, infinities, subnormals, huge */
		memcpy(&v, &h, sizeof v);
		return v;
	case 1:
		return (h & 64) ? -0.0f : 0.0f;
	case 2:
		return (float)(h >> 8) / 100.0f; /* 0.01 kPa steps */
	default:
		return (float)(h >> 8) / (float)(1u << 24) * 500.0f;
	}
}

Test(export, csv_cells_are_the_libc_text)
{
	/* Byte for byte what "%.6g"-else-"%.9g" gave, over several 64 KiB buffer
	 * flushes (which land mid-row). */
	enum { R = 8, C = 8, N = 300 };
	char *p = km_test_path(dir, "tricky.kmrec");
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.path = p;
	wc.content = KM_REC_KPA;
	wc.device.rows = R;
	wc.device.cols = C;
	wc.device.pitch_mm = PITCH;
	wc.sync = false;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&wc, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(R, C, PITCH, KM_GEOMETRY_FLAT, &f), KM_OK);
	for (uint32_t i = 0; i < N; i++) {
		for (size_t k = 0; k < R * C; k++)
			f->kpa[k] = tricky_cell(i, k);
		f->sequence = i;
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	char *out = km_test_path(dir, "tricky.csv");
	cr_assert_eq(export_from(p, KM_EXPORT_CSV, out), KM_OK);

	FILE *fp = fopen(out, "r");
	cr_assert_not_null(fp);
	char *line = NULL;
	size_t cap = 0;
	for (int k = 0; k < 4; k++) /* rate_hz, row_spacing_mm, col_spacing_mm, header */
		cr_assert_gt(getline(&line, &cap, fp), 0);
	uint32_t rows = 0;
	size_t bytes = 0;
	while (getline(&line, &cap, fp) > 0) {
		bytes += strlen(line);
		char *s = line;
		for (int k = 0; k < 6; k++) { /* frame .. dropped_since_last */
			s = strchr(s, ',');
			cr_assert_not_null(s);
			s++;
		}
		char want[R * C * 20 + 2] = "", cell[32];
		size_t n = 0;
		for (size_t k = 0; k < R * C; k++) {
			libc_cell(cell, sizeof cell, tricky_cell(rows, k));
			n +=
			    (size_t)snprintf(want + n, sizeof want - n, "%s%s", k ? "," : "", cell);
		}
		snprintf(want + n, sizeof want - n, "\n");
		cr_assert_str_eq(s, want, "frame %u", rows);
		rows++;
	}
	cr_assert_eq(rows, N);
	cr_assert_gt(bytes, 3 * 65536);
	free(line);
	fclose(fp);
	free(out);
	free(p);
}
