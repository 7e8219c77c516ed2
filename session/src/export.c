/* Exports of a .kmrec: CSV, JSON summary, NPY, Tekscan-like ASCII; the PNG
 * report lives in report.c. Everything streams through one output buffer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export_out.h"
#include "fmt_float.h"
#include "model.h"
#include "report.h"

#define MOD "export"

/* Raw counts are never labelled kPa: a raw-only recording, or an import
 * whose values are counts (cfg->counts). */
static bool is_kpa(const struct km_export_config *cfg, const km_rec_reader *r)
{
	return (km_rec_reader_info(r)->content & KM_REC_KPA) && !cfg->counts;
}

static const char *cell_unit(const struct km_export_config *cfg, const km_rec_reader *r)
{
	return is_kpa(cfg, r) ? "kpa" : "counts";
}

static double row_pitch(const struct km_export_config *cfg, const km_rec_reader *r)
{
	return cfg->row_pitch_mm > 0 ? cfg->row_pitch_mm : km_rec_reader_info(r)->device.pitch_mm;
}

static double col_pitch(const struct km_export_config *cfg, const km_rec_reader *r)
{
	return cfg->col_pitch_mm > 0 ? cfg->col_pitch_mm : km_rec_reader_info(r)->device.pitch_mm;
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

static int export_csv_frames(const struct km_export_config *cfg, km_rec_reader *r,
                             struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	const char *unit = cell_unit(cfg, r);
	/* Comment lines the importer reads back (docs/formats.md): the rate and
	 * the spacing a header row of cell names cannot hold (the units are in the
	 * cell names). Comments, so that pandas (comment='#') and R
	 * (comment.char='#') read the file as it is. */
	km__out_puts(o, "# rate_hz,");
	km__out_float(o, in->device.rate_hz);
	km__out_puts(o, "\n# row_spacing_mm,");
	km__out_float(o, (float)row_pitch(cfg, r));
	km__out_puts(o, "\n# col_spacing_mm,");
	km__out_float(o, (float)col_pitch(cfg, r));
	km__out_puts(o, "\n");
	size_t cells = (size_t)in->device.rows * in->device.cols;
	const uint8_t *mask = cfg->mask;
	if (mask) {
		/* Cells outside the sensor are empty fields, which pandas and R read
		 * as missing (NaN / NA), not as 0 kPa; the count lets the importer
		 * tell them from a damaged line. */
		size_t on = 0;
		for (size_t c = 0; c < cells; c++)
			on += mask[c] != 0;
		km__out_printf(o, "# mask_cells,%zu\n", on);
	}
	km__out_puts(o, "frame,sequence,device_time_us,host_time_us,flags,dropped_since_last");
	for (unsigned y = 0; y < in->device.rows; y++)
		for (unsigned x = 0; x < in->device.cols; x++)
			km__out_printf(o, ",r%uc%u_%s", y, x, unit);
	km__out_puts(o, "\n");
	struct km_rec_item it;
	int rc;
	uint64_t n = 0;
	while ((rc = km__next(cfg, r, &it)) == KM_OK && !o->err) {
		if (it.kind != KM_REC_ITEM_FRAME)
			continue;
		const struct km_frame *f = it.frame;
		km__out_printf(
		    o, "%" PRIu64 ",%" PRIu32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32 ",%" PRIu32,
		    it.frame_index, f->sequence, f->device_time_us, f->host_time_us,
		    f->flags & ~(uint32_t)KM_FRAME_UNCALIBRATED, f->dropped_since_last);
		/* The hot loop: cells go straight into the buffer, one room check each. */
		for (size_t c = 0; c < cells; c++) {
			if (KM__OUT_BUF - o->len < 1 + KM__FMT_FLOAT_MAX &&
			    km__out_flush(o) != KM_OK)
				break;
			char *p = (char *)o->buf + o->len;
			*p = ',';
			o->len += 1 + (mask && !mask[c] ? 0 : km__fmt_float(p + 1, f->kpa[c]));
		}
		km__out_puts(o, "\n");
		km__progress(cfg, r, ++n, false);
	}
	km__progress(cfg, r, n, true);
	return rc == KM_ERR_END ? KM_OK : rc;
}

static int export_csv_events(const struct km_export_config *cfg, km_rec_reader *r,
                             struct km__out *o)
{
	km__out_puts(o, "time_us,frame,type,name,subtype,track_id,x_mm,y_mm,"
	                "int0,int1,int2,int3,value0,value1,value2,value3,value4,value5,value6,"
	                "value7\n");
	struct km_rec_item it;
	int rc;
	uint64_t frames = 0;
	while ((rc = km__next(cfg, r, &it)) == KM_OK && !o->err) {
		if (it.kind == KM_REC_ITEM_FRAME) {
			km__progress(cfg, r, ++frames, false);
			continue;
		}
		const struct km_rec_event *ev = &it.event;
		char name[32];
		km__out_printf(o, "%" PRIu64 ",%" PRIu64 ",%u,", ev->time_us, it.frame_index,
		               (unsigned)ev->type);
		km__out_csv_text(o, km__event_name(ev->type, name, sizeof name));
		km__out_printf(o, ",%u,%" PRIu32 ",", (unsigned)ev->subtype, ev->track_id);
		km__out_float(o, ev->x_mm);
		km__out_puts(o, ",");
		km__out_float(o, ev->y_mm);
		for (unsigned i = 0; i < KM_REC_EVENT_MAX_INTS; i++) {
			if (i < ev->n_ints)
				km__out_printf(o, ",%" PRIu32, ev->ints[i]);
			else
				km__out_puts(o, ",");
		}
		for (unsigned i = 0; i < KM_REC_EVENT_MAX_VALUES; i++) {
			km__out_puts(o, ",");
			if (i < ev->n_values)
				km__out_float(o, ev->values[i]);
		}
		km__out_puts(o, "\n");
	}
	km__progress(cfg, r, frames, true);
	return rc == KM_ERR_END ? KM_OK : rc;
}

/* ------------------------------------------------------------------------ */
/* NPY                                                                       */
/* ------------------------------------------------------------------------ */

enum { NPY_HEADER = 128 };

static void npy_header(uint8_t h[NPY_HEADER], uint64_t n, unsigned rows, unsigned cols)
{
	/* Format 1.0: magic, version, u16 header length, a Python dict literal
	 * padded with spaces to a multiple of 64 bytes and ended by '\n'. A fixed
	 * 128-byte header lets the count be patched in place. */
	memset(h, ' ', NPY_HEADER);
	memcpy(h, "\x93NUMPY\x01\x00", 8);
	km_put_le16(h + 8, NPY_HEADER - 10);
	char dict[NPY_HEADER];
	int len =
	    snprintf(dict, sizeof dict,
	             "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRIu64 ", %u, %u), }",
	             n, rows, cols);
	memcpy(h + 10, dict, (size_t)len);
	h[NPY_HEADER - 1] = '\n';
}

static int export_npy(const struct km_export_config *cfg, km_rec_reader *r, struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	uint8_t h[NPY_HEADER];
	npy_header(h, in->frame_count, in->device.rows, in->device.cols);
	km__out_write(o, h, sizeof h);
	size_t cells = (size_t)in->device.rows * in->device.cols;
	struct km_rec_item it;
	int rc;
	uint64_t n = 0;
	uint8_t cell[4];
	while ((rc = km__next(cfg, r, &it)) == KM_OK && !o->err) {
		if (it.kind != KM_REC_ITEM_FRAME)
			continue;
		for (size_t c = 0; c < cells; c++) {
			km_put_le_f32(cell, it.frame->kpa[c]);
			km__out_write(o, cell, 4);
		}
		km__progress(cfg, r, ++n, false);
	}
	km__progress(cfg, r, n, true);
	if (rc != KM_ERR_END)
		return rc;
	rc = km__out_flush(o);
	if (rc != KM_OK)
		return rc;
	/* Patch the count: the index may have promised more than was readable. */
	npy_header(h, n, in->device.rows, in->device.cols);
	return km_outfile_pwrite(o->file, h, sizeof h, 0);
}

/* ------------------------------------------------------------------------ */
/* Tekscan-like ASCII                                                        */
/* ------------------------------------------------------------------------ */

static int export_tekscan(const struct km_export_config *cfg, km_rec_reader *r, struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	double row_cm = row_pitch(cfg, r) / 10.0, col_cm = col_pitch(cfg, r) / 10.0;
	double spf = in->device.rate_hz > 0 ? 1.0 / in->device.rate_hz : 0.0;
	if (in->frame_count > 1 && in->last_time_us > in->first_time_us)
		spf = (double)(in->last_time_us - in->first_time_us) / 1e6 /
		      (double)(in->frame_count - 1);
	bool kpa = is_kpa(cfg, r);
	/* The sensor type round-trips: a Tekscan import's model is "Tekscan
	 * <SENSOR_TYPE>" (written back as it was), knotmap's own mats are
	 * "knotmap <model>" (prefixed once). */
	const char *sensor = in->device.model[0] ? in->device.model : "mat";
	const char *sensor_prefix = "knotmap ";
	if (!strncmp(sensor, "Tekscan ", 8)) {
		sensor += 8;
		sensor_prefix = "";
	} else if (!strncmp(sensor, "knotmap ", 8)) {
		sensor_prefix = "";
	}
	km__out_printf(o,
	               "DATA_TYPE MOVIE\r\nVERSION knotmap %s\r\nSENSOR_TYPE %s%s\r\n"
	               "SERIAL %s\r\nROWS %u\r\nCOLS %u\r\nROW_SPACING %.4f cm\r\n"
	               "COL_SPACING %.4f cm\r\nSENSEL_AREA %.4f cm2\r\n"
	               "SECONDS_PER_FRAME %.6f\r\nUNITS %s\r\nSTART_FRAME 1\r\n"
	               "END_FRAME %" PRIu64 "\r\n\r\n",
	               km_version_string(), sensor_prefix, sensor,
	               in->device.serial[0] ? in->device.serial : "-", (unsigned)in->device.rows,
	               (unsigned)in->device.cols, row_cm, col_cm, row_cm * col_cm, spf,
	               kpa ? "KPA" : "RAW", in->frame_count);
	struct km_rec_item it;
	int rc;
	uint64_t n = 0;
	while ((rc = km__next(cfg, r, &it)) == KM_OK && !o->err) {
		if (it.kind != KM_REC_ITEM_FRAME)
			continue;
		const struct km_frame *f = it.frame;
		km__out_printf(o, "Frame %" PRIu64 "\r\n", n + 1);
		for (unsigned y = 0; y < f->rows; y++) {
			for (unsigned x = 0; x < f->cols; x++) {
				if (x)
					km__out_puts(o, ",");
				if (cfg->mask && !cfg->mask[(size_t)y * f->cols + x])
					km__out_puts(o, "B"); /* outside the sensor */
				else if (kpa)
					km__out_printf(o, "%.3f",
					               (double)f->kpa[(size_t)y * f->cols + x]);
				else /* counts as they came, exactly */
					km__out_float(o, f->kpa[(size_t)y * f->cols + x]);
			}
			km__out_puts(o, "\r\n");
		}
		km__out_puts(o, "\r\n");
		km__progress(cfg, r, ++n, false);
	}
	km__progress(cfg, r, n, true);
	return rc == KM_ERR_END ? KM_OK : rc;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

static void json_str(struct km__out *o, const char *s)
{
	km__out_puts(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			km__out_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			km__out_printf(o, "\\u%04x", *p);
		else
			km__out_write(o, p, 1);
	}
	km__out_puts(o, "\"");
}

static void json_num(struct km__out *o, double v)
{
	if (!isfinite(v))
		km__out_puts(o, "null");
	else
		km__out_printf(o, "%.9g", v);
}

static void iso_time(int64_t unix_us, char *buf, size_t cap)
{
	time_t t = (time_t)(unix_us / 1000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "unknown");
}

static int export_json(const struct km_export_config *cfg, km_rec_reader *r, struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	struct km__model m;
	km__model_init(&m);
	int rc = km__model_build(cfg, r, &m, false);
	if (rc != KM_OK) {
		km__model_free(&m);
		return rc;
	}
	char when[64];
	iso_time(in->start_unix_us, when, sizeof when);
	km__out_puts(o, "{\n  \"format\": \"knotmap-session-summary\",\n  \"version\": 1,\n");
	km__out_puts(o, "  \"session_id\": ");
	json_str(o, in->session_id);
	km__out_printf(o, ",\n  \"start_unix_us\": %" PRId64 ",\n  \"start_utc\": \"%s\",\n",
	               in->start_unix_us, when);
	const char *u = is_kpa(cfg, r) ? "kPa" : "counts";
	km__out_printf(o,
	               "  \"units\": {\"pressure\": \"%s\", \"time\": \"us\", \"position\": "
	               "\"mm\", \"dose\": \"%s*s\"},\n",
	               u, u);
	km__out_printf(o, "  \"device\": {\"rows\": %u, \"cols\": %u, \"pitch_mm\": ",
	               (unsigned)in->device.rows, (unsigned)in->device.cols);
	json_num(o, in->device.pitch_mm);
	km__out_puts(o, ", \"row_pitch_mm\": ");
	json_num(o, row_pitch(cfg, r));
	km__out_puts(o, ", \"col_pitch_mm\": ");
	json_num(o, col_pitch(cfg, r));
	km__out_printf(o, ", \"geometry\": \"%s\", \"rate_hz\": ",
	               in->device.geometry == KM_GEOMETRY_CYLINDER ? "cylinder" : "flat");
	json_num(o, in->device.rate_hz);
	km__out_puts(o, ", \"serial\": ");
	json_str(o, in->device.serial);
	km__out_puts(o, ", \"firmware\": ");
	json_str(o, in->device.firmware);
	km__out_puts(o, ", \"model\": ");
	json_str(o, in->device.model);
	km__out_printf(o, ", \"usb_vid\": %u, \"usb_pid\": %u},\n", (unsigned)in->device.usb_vid,
	               (unsigned)in->device.usb_pid);
	km__out_printf(o, "  \"content\": {\"raw_counts\": %s, \"kpa\": %s},\n",
	               (in->content & KM_REC_RAW) ? "true" : "false",
	               (in->content & KM_REC_KPA) ? "true" : "false");
	double dur = m.frames ? (double)(m.last_us - m.first_us) / 1e6 : 0.0;
	double mean = m.frames && m.cells ? m.sum_all / ((double)m.frames * (double)m.cells) : 0;
	km__out_printf(o,
	               "  \"frames\": {\"count\": %" PRIu64 ", \"first_time_us\": %" PRIu64
	               ", \"last_time_us\": %" PRIu64 ", \"duration_s\": ",
	               m.frames, m.first_us, m.last_us);
	json_num(o, dur);
	km__out_printf(o,
	               ", \"dropped\": %" PRIu64 ", \"corrupt\": %" PRIu64
	               ", \"saturated\": %" PRIu64 ", \"peak_kpa\": ",
	               m.dropped, m.corrupt, m.saturated);
	json_num(o, m.peak_kpa);
	km__out_puts(o, ", \"mean_kpa\": ");
	json_num(o, mean);
	unsigned cols = in->device.cols ? in->device.cols : 1;
	km__out_printf(o, ", \"peak_cell\": {\"row\": %zu, \"col\": %zu}},\n", m.peak_cell / cols,
	               m.peak_cell % cols);
	km__out_printf(o, "  \"events\": {\"count\": %" PRIu64 ", \"by_type\": {",
	               m.summary.events);
	for (size_t t = 0; t < m.n_types; t++) {
		km__out_puts(o, t ? ", " : "");
		json_str(o, m.types[t].name);
		km__out_printf(o, ": %" PRIu64, m.types[t].count);
	}
	km__out_puts(o, "}},\n  \"knots\": [");
	/* each knot as the viewer and the report name it (report.h) */
	int *letter = km__calloc(m.summary.n_knots ? m.summary.n_knots : 1, sizeof *letter);
	if (!letter) {
		km__model_free(&m);
		return KM_ERR_NO_MEMORY;
	}
	km__report_spot_letters(&m.summary, letter);
	for (size_t i = 0; i < m.summary.n_knots; i++) {
		const struct km_summary_knot *k = &m.summary.knots[i];
		km__out_printf(o, "%s\n    {\"track_id\": %" PRIu32 ", \"x_mm\": ", i ? "," : "",
		               k->track_id);
		json_num(o, k->x_mm);
		km__out_puts(o, ", \"y_mm\": ");
		json_num(o, k->y_mm);
		km__out_printf(o, ", \"time_us\": %" PRIu64 ", \"name\": ", k->found_us);
		char label[KM_EXPORT_NAME_MAX + 8];
		km__report_knot_label(cfg, k, letter[i], label, sizeof label);
		json_str(o, label);
		km__out_puts(o, ", \"body\": ");
		const char *body = km__report_knot_body(cfg, k);
		if (body)
			json_str(o, body);
		else
			km__out_puts(o, "null");
		km__out_puts(o, "}");
	}
	km__free(letter);
	km__out_puts(o, m.summary.n_knots ? "\n  ],\n  \"holds\": [" : "],\n  \"holds\": [");
	for (size_t i = 0; i < m.summary.n_holds; i++) {
		const struct km_summary_hold *d = &m.summary.holds[i];
		km__out_printf(o,
		               "%s\n    {\"track_id\": %" PRIu32 ", \"start_us\": %" PRIu64
		               ", \"end_us\": %" PRIu64 ", \"held_s\": ",
		               i ? "," : "", d->track_id, d->start_us, d->end_us);
		json_num(o, d->held_s);
		km__out_puts(o, ", \"x_mm\": ");
		json_num(o, d->x_mm);
		km__out_puts(o, ", \"y_mm\": ");
		json_num(o, d->y_mm);
		km__out_puts(o, ", \"load_kpa\": ");
		json_num(o, d->load_kpa);
		km__out_puts(o, ", \"dose_kpa_s\": ");
		json_num(o, d->dose_kpa_s);
		km__out_printf(o, ", \"outcome\": \"%s\", \"finished\": %s}",
		               km_outcome_name(d->outcome), d->open ? "false" : "true");
	}
	km__out_puts(o, m.summary.n_holds ? "\n  ],\n" : "],\n");
	struct km_rec_damage dmg;
	km_rec_reader_damage(r, &dmg);
	if (dmg.damaged)
		km__out_printf(o,
		               "  \"damage\": {\"error\": \"%s\", \"byte_offset\": %" PRIu64
		               ", \"frame_index\": %" PRIu64 "},\n",
		               km_error_name(dmg.error), dmg.byte_offset, dmg.frame_index);
	else
		km__out_puts(o, "  \"damage\": null,\n");
	km__out_puts(o, "  \"note\": \"candidate tender/stiff spots, not a diagnosis\"\n}\n");
	km__model_free(&m);
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* NPY sidecar                                                               */
/* ------------------------------------------------------------------------ */

/* PATH.json beside an .npy: what the array cannot hold (rate, the row and
 * column pitch, units), in the keys the importer's sidecar reader takes, so
 * the file comes back with its rate, grid and units. Opened before the array
 * is written (an existing sidecar is refused like the array) and committed
 * after it. */
static int sidecar_open(const struct km_export_config *cfg, km_rec_reader *r, km_outfile **out)
{
	*out = NULL;
	size_t n = strlen(cfg->path);
	char *path = km__malloc(n + 6);
	if (!path)
		return KM_ERR_NO_MEMORY;
	memcpy(path, cfg->path, n);
	memcpy(path + n, ".json", 6);
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = path;
	oc.force = cfg->overwrite;
	oc.log = cfg->log;
	int rc = km_outfile_open(&oc, out);
	km__free(path);
	if (rc != KM_OK)
		return rc;
	const struct km_rec_info *in = km_rec_reader_info(r);
	char text[256];
	int len = snprintf(text, sizeof text,
	                   "{\"rate_hz\": %.9g, \"pitch_mm\": [%.9g, %.9g], \"units\": \"%s\"",
	                   (double)in->device.rate_hz, row_pitch(cfg, r), col_pitch(cfg, r),
	                   is_kpa(cfg, r) ? "kPa" : "counts");
	rc = km_outfile_write(*out, text, (size_t)len);
	if (rc == KM_OK && cfg->mask) {
		/* cells on the sensor, row order: the mask reads back */
		size_t cells = (size_t)in->device.rows * in->device.cols;
		char *m = km__malloc(cells + 12);
		if (!m) {
			rc = KM_ERR_NO_MEMORY;
		} else {
			memcpy(m, ", \"mask\": \"", 11);
			for (size_t i = 0; i < cells; i++)
				m[11 + i] = cfg->mask[i] ? '1' : '0';
			m[11 + cells] = '"';
			rc = km_outfile_write(*out, m, cells + 12);
			km__free(m);
		}
	}
	if (rc == KM_OK)
		rc = km_outfile_write(*out, "}\n", 2);
	if (rc != KM_OK) {
		km_outfile_destroy(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const format_names[] = {"csv", "csv-events", "json", "npy", "tekscan", "png"};

const char *km_export_format_name(enum km_export_format f)
{
	return (unsigned)f < KM_ARRAY_SIZE(format_names) ? format_names[f] : NULL;
}

int km_export_format_parse(const char *name, enum km_export_format *out)
{
	if (!name || !out)
		return KM_ERR_INVALID_ARG;
	for (size_t i = 0; i < KM_ARRAY_SIZE(format_names); i++)
		if (!strcmp(name, format_names[i])) {
			*out = (enum km_export_format)i;
			return KM_OK;
		}
	return KM_ERR_INVALID_ARG;
}

struct km_export_config km_export_config_default(void)
{
	struct km_export_config c;
	memset(&c, 0, sizeof c);
	c.format = KM_EXPORT_CSV;
	return c;
}

int km_export_recording(const struct km_export_config *cfg, km_rec_reader *reader)
{
	if (!cfg || !reader || !cfg->path || !cfg->path[0] || !km_export_format_name(cfg->format) ||
	    cfg->png_scale > 32)
		return KM_ERR_INVALID_ARG;
	if (km_rec_reader_is_file(reader, cfg->path)) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s is the recording being exported",
		        cfg->path);
		return KM_ERR_INVALID_ARG; /* --force would truncate the input */
	}
	int rc = km_rec_reader_reset(reader);
	if (rc != KM_OK)
		return rc;
	if (cfg->format == KM_EXPORT_PNG)
		return km__export_png(cfg, reader);
	km_outfile *side = NULL;
	if (cfg->format == KM_EXPORT_NPY && cfg->npy_sidecar) {
		rc = sidecar_open(cfg, reader, &side);
		if (rc != KM_OK)
			return rc;
	}
	struct km__out o;
	rc = km__out_open(&o, cfg);
	if (rc != KM_OK) {
		km_outfile_destroy(side);
		return rc;
	}
	switch (cfg->format) {
	case KM_EXPORT_CSV:
		rc = export_csv_frames(cfg, reader, &o);
		break;
	case KM_EXPORT_CSV_EVENTS:
		rc = export_csv_events(cfg, reader, &o);
		break;
	case KM_EXPORT_JSON:
		rc = export_json(cfg, reader, &o);
		break;
	case KM_EXPORT_NPY:
		rc = export_npy(cfg, reader, &o);
		break;
	case KM_EXPORT_TEKSCAN:
		rc = export_tekscan(cfg, reader, &o);
		break;
	default:
		rc = KM_ERR_INVALID_ARG;
		break;
	}
	if (rc == KM_OK && o.err)
		rc = o.err;
	rc = km__out_close(&o, rc);
	if (side && rc == KM_OK)
		rc = km_outfile_commit(side);
	km_outfile_destroy(side);
	return rc;
}
