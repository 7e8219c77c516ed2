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

#include "export_internal.h"
#include "fmt_float.h"

#define MOD "export"

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

int km__out_open(struct km__out *o, const struct km_export_config *cfg)
{
	memset(o, 0, sizeof o[0]);
	o->fd = -1;
	o->log = &cfg->log;
	o->path = cfg->path;
	o->fd = open(cfg->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (o->fd < 0 && errno == EEXIST && cfg->overwrite) {
		o->fd = open(cfg->path, O_WRONLY | O_CLOEXEC);
		struct stat st;
		if (o->fd >= 0 && fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (ftruncate(o->fd, 0) != 0 || fchmod(o->fd, 0600) != 0)) {
			int err = errno;
			close(o->fd);
			o->fd = -1;
			errno = err;
		}
	}
	if (o->fd < 0) {
		int rc = km__error_from_errno(errno);
		km__log(o->log, KM_LOG_ERROR, MOD, "cannot create %s: %s", cfg->path,
		        strerror(errno));
		return rc;
	}
	o->buf = km__malloc(KM__OUT_BUF);
	if (!o->buf) {
		close(o->fd);
		o->fd = -1;
		return KM_ERR_NO_MEMORY;
	}
	return KM_OK;
}

int km__out_flush(struct km__out *o)
{
	if (o->err)
		return o->err;
	if (o->len) {
		int rc = km__write_all(o->fd, o->buf, o->len);
		if (rc != KM_OK) {
			o->err = rc;
			km__log(o->log, KM_LOG_ERROR, MOD, "writing %s: %s", o->path,
			        km_strerror(rc));
			return rc;
		}
		o->written += o->len;
		o->len = 0;
	}
	return KM_OK;
}

void km__out_write(struct km__out *o, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0 && !o->err) {
		if (o->len == KM__OUT_BUF && km__out_flush(o) != KM_OK)
			return;
		size_t k = KM_MIN(n, KM__OUT_BUF - o->len);
		memcpy(o->buf + o->len, b, k);
		o->len += k;
		b += k;
		n -= k;
	}
}

void km__out_puts(struct km__out *o, const char *s)
{
	km__out_write(o, s, strlen(s));
}

void km__out_printf(struct km__out *o, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	km__out_write(o, tmp, KM_MIN((size_t)n, sizeof tmp - 1));
}

/* "%.6g" when that reads back as the same float32, else "%.9g" (which always does);
 * see fmt_float.h. */
void km__out_float(struct km__out *o, float v)
{
	char tmp[KM__FMT_FLOAT_MAX];
	km__out_write(o, tmp, km__fmt_float(tmp, v));
}

int km__out_close(struct km__out *o)
{
	int rc = km__out_flush(o);
	if (o->fd >= 0) {
		if (rc == KM_OK && fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS)
			rc = km__error_from_errno(errno);
		if (close(o->fd) != 0 && rc == KM_OK)
			rc = km__error_from_errno(errno);
	}
	o->fd = -1;
	km__free(o->buf);
	o->buf = NULL;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Common walk                                                               */
/* ------------------------------------------------------------------------ */

void km__progress(const struct km_export_config *cfg, const km_rec_reader *r, uint64_t done,
                  bool final)
{
	if (!cfg->progress)
		return;
	uint64_t total = km_rec_reader_info(r)->frame_count;
	uint64_t step = total / 100 ? total / 100 : 1;
	if (final || done % step == 0)
		cfg->progress(cfg->progress_user, done, total);
}

/* Reads the next item; KM_ERR_END at the end or at damage (logged). */
int km__next(const struct km_export_config *cfg, km_rec_reader *r, struct km_rec_item *it)
{
	int rc = km_rec_reader_next(r, it);
	if (rc == KM_ERR_TRUNCATED || rc == KM_ERR_BAD_CRC || rc == KM_ERR_MALFORMED) {
		struct km_rec_damage d;
		km_rec_reader_damage(r, &d);
		km__log(&cfg->log, KM_LOG_WARN, MOD,
		        "recording damaged at byte %" PRIu64 " (frame %" PRIu64
		        "): exported what precedes it",
		        d.byte_offset, d.frame_index);
		return KM_ERR_END;
	}
	return rc;
}

void km__describe(const struct km_export_config *cfg, const struct km_rec_event *ev,
                  struct km_export_event_info *info, char *namebuf, size_t cap)
{
	memset(info, 0, sizeof *info);
	if (cfg->describe)
		cfg->describe(cfg->describe_user, ev, info);
	if (!info->name) {
		snprintf(namebuf, cap, "type%u", (unsigned)ev->type);
		info->name = namebuf;
	}
}

static const char *cell_unit(const km_rec_reader *r)
{
	return (km_rec_reader_info(r)->content & KM_REC_KPA) ? "kpa" : "counts";
}

/* ------------------------------------------------------------------------ */
/* CSV                                                                       */
/* ------------------------------------------------------------------------ */

static int export_csv_frames(const struct km_export_config *cfg, km_rec_reader *r,
                             struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	const char *unit = cell_unit(r);
	km__out_puts(o, "frame,sequence,device_time_us,host_time_us,flags,dropped_since_last");
	for (unsigned y = 0; y < in->device.rows; y++)
		for (unsigned x = 0; x < in->device.cols; x++)
			km__out_printf(o, ",r%uc%u_%s", y, x, unit);
	km__out_puts(o, "\n");
	size_t cells = (size_t)in->device.rows * in->device.cols;
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
			o->len += 1 + km__fmt_float(p + 1, f->kpa[c]);
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
		struct km_export_event_info info;
		char name[32];
		km__describe(cfg, ev, &info, name, sizeof name);
		km__out_printf(o, "%" PRIu64 ",%" PRIu64 ",%u,", ev->time_us, it.frame_index,
		               (unsigned)ev->type);
		km__out_csv_text(o, info.name);
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

void km__out_csv_text(struct km__out *o, const char *s)
{
	/* RFC 4180: quote when needed, double the quotes. */
	if (!strpbrk(s, ",\"\r\n")) {
		km__out_puts(o, s);
		return;
	}
	km__out_puts(o, "\"");
	for (; *s; s++) {
		if (*s == '"')
			km__out_puts(o, "\"");
		km__out_write(o, s, 1);
	}
	km__out_puts(o, "\"");
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
	if (pwrite(o->fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
		rc = km__error_from_errno(errno);
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot patch the .npy header of %s: %s",
		        o->path, strerror(errno));
		return rc;
	}
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Tekscan-like ASCII                                                        */
/* ------------------------------------------------------------------------ */

static int export_tekscan(const struct km_export_config *cfg, km_rec_reader *r, struct km__out *o)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	double pitch_cm = in->device.pitch_mm / 10.0;
	double spf = in->device.rate_hz > 0 ? 1.0 / in->device.rate_hz : 0.0;
	if (in->frame_count > 1 && in->last_time_us > in->first_time_us)
		spf = (double)(in->last_time_us - in->first_time_us) / 1e6 /
		      (double)(in->frame_count - 1);
	bool kpa = in->content & KM_REC_KPA;
	km__out_printf(o,
	               "DATA_TYPE MOVIE\r\nVERSION knotmap %s\r\nSENSOR_TYPE knotmap %s\r\n"
	               "SERIAL %s\r\nROWS %u\r\nCOLS %u\r\nROW_SPACING %.4f cm\r\n"
	               "COL_SPACING %.4f cm\r\nSENSEL_AREA %.4f cm2\r\n"
	               "SECONDS_PER_FRAME %.6f\r\nUNITS %s\r\nSTART_FRAME 1\r\n"
	               "END_FRAME %" PRIu64 "\r\n\r\n",
	               km_version_string(), in->device.model[0] ? in->device.model : "mat",
	               in->device.serial[0] ? in->device.serial : "-", (unsigned)in->device.rows,
	               (unsigned)in->device.cols, pitch_cm, pitch_cm, pitch_cm * pitch_cm, spf,
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
				km__out_printf(o, kpa ? "%.3f" : "%.0f",
				               (double)f->kpa[(size_t)y * f->cols + x]);
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
/* Session model: frame statistics, knots, holds (shared with the report)    */
/* ------------------------------------------------------------------------ */

void km__model_init(struct km__model *m)
{
	memset(m, 0, sizeof *m);
}

void km__model_free(struct km__model *m)
{
	km__free(m->peak);
	km__free(m->sum);
	km__free(m->knots);
	km__free(m->holds);
	memset(m, 0, sizeof *m);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return KM_OK;
	size_t ncap = *cap ? *cap * 2 : 16, bytes;
	if (!km__mul_size(ncap, size, &bytes))
		return KM_ERR_NO_MEMORY;
	void *p = km__realloc(*arr, bytes);
	if (!p)
		return KM_ERR_NO_MEMORY;
	*arr = p;
	*cap = ncap;
	return KM_OK;
}

static void model_event(const struct km_export_config *cfg, struct km__model *m,
                        const struct km_rec_event *ev)
{
	struct km_export_event_info info;
	char name[32];
	km__describe(cfg, ev, &info, name, sizeof name);
	m->events++;
	/* Counts per name; small fixed table, later types go to "other". */
	size_t t = 0;
	for (; t < m->n_types; t++)
		if (m->types[t].type == ev->type)
			break;
	if (t == m->n_types && t < KM_ARRAY_SIZE(m->types)) {
		m->types[t].type = ev->type;
		snprintf(m->types[t].name, sizeof m->types[t].name, "%s", info.name);
		m->n_types++;
	}
	if (t < m->n_types)
		m->types[t].count++;

	if (info.role == KM_EXPORT_ROLE_KNOT) {
		if (grow((void **)&m->knots, &m->cap_knots, m->n_knots, sizeof *m->knots) == KM_OK)
			m->knots[m->n_knots++] =
			    (struct km__knot){ev->track_id, ev->x_mm, ev->y_mm, ev->time_us};
	} else if (info.role == KM_EXPORT_ROLE_HOLD_START) {
		if (grow((void **)&m->holds, &m->cap_holds, m->n_holds, sizeof *m->holds) ==
		    KM_OK) {
			struct km__hold *d = &m->holds[m->n_holds++];
			memset(d, 0, sizeof *d);
			d->track_id = ev->track_id;
			d->start_us = ev->time_us;
			d->x_mm = ev->x_mm;
			d->y_mm = ev->y_mm;
			d->open = true;
			d->outcome = KM_EXPORT_OUTCOME_STOPPED;
		}
	} else if (info.role == KM_EXPORT_ROLE_HOLD_OUTCOME ||
	           info.role == KM_EXPORT_ROLE_HOLD_END) {
		/* The most recent open hold on this track. */
		for (size_t i = m->n_holds; i-- > 0;) {
			struct km__hold *d = &m->holds[i];
			if (!d->open || d->track_id != ev->track_id)
				continue;
			if (info.role == KM_EXPORT_ROLE_HOLD_OUTCOME) {
				d->outcome = info.outcome;
			} else {
				d->open = false;
				d->end_us = ev->time_us;
				d->held_s =
				    info.held_s > 0
				        ? info.held_s
				        : (float)((double)(ev->time_us - d->start_us) / 1e6);
				d->load_kpa = info.load_kpa;
				d->dose_kpa_s = info.dose_kpa_s;
			}
			break;
		}
	}
}

int km__model_build(const struct km_export_config *cfg, km_rec_reader *r, struct km__model *m,
                    bool maps)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	size_t cells = (size_t)in->device.rows * in->device.cols;
	if (maps) {
		m->peak = km__calloc(cells, sizeof *m->peak);
		m->sum = km__calloc(cells, sizeof *m->sum);
		if (!m->peak || !m->sum)
			return KM_ERR_NO_MEMORY;
	}
	m->cells = cells;
	struct km_rec_item it;
	int rc;
	while ((rc = km__next(cfg, r, &it)) == KM_OK) {
		if (it.kind == KM_REC_ITEM_EVENT) {
			model_event(cfg, m, &it.event);
			continue;
		}
		const struct km_frame *f = it.frame;
		if (m->frames == 0)
			m->first_us = f->device_time_us;
		m->last_us = f->device_time_us;
		m->frames++;
		m->dropped += f->dropped_since_last;
		if (f->flags & KM_FRAME_CORRUPT)
			m->corrupt++;
		if (f->flags & KM_FRAME_SATURATED)
			m->saturated++;
		double fsum = 0;
		for (size_t c = 0; c < cells; c++) {
			float v = f->kpa[c];
			if (!(v >= 0.0f) || !isfinite(v))
				continue; /* bad cells never enter the statistics */
			fsum += v;
			if (v > m->peak_kpa) {
				m->peak_kpa = v;
				m->peak_cell = c;
			}
			if (maps) {
				if (v > m->peak[c])
					m->peak[c] = v;
				m->sum[c] += v;
			}
		}
		m->sum_all += fsum;
		km__progress(cfg, r, m->frames, false);
	}
	km__progress(cfg, r, m->frames, true);
	/* Holds still open at the end run until the last frame. */
	for (size_t i = 0; i < m->n_holds; i++) {
		struct km__hold *d = &m->holds[i];
		if (d->open) {
			d->end_us = KM_MAX(m->last_us, d->start_us);
			d->held_s = (float)((double)(d->end_us - d->start_us) / 1e6);
		}
	}
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
	km__out_puts(o, "  \"units\": {\"pressure\": \"kPa\", \"time\": \"us\", \"position\": "
	                "\"mm\", \"dose\": \"kPa*s\"},\n");
	km__out_printf(o, "  \"device\": {\"rows\": %u, \"cols\": %u, \"pitch_mm\": ",
	               (unsigned)in->device.rows, (unsigned)in->device.cols);
	json_num(o, in->device.pitch_mm);
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
	km__out_printf(o, "  \"events\": {\"count\": %" PRIu64 ", \"by_type\": {", m.events);
	for (size_t t = 0; t < m.n_types; t++) {
		km__out_puts(o, t ? ", " : "");
		json_str(o, m.types[t].name);
		km__out_printf(o, ": %" PRIu64, m.types[t].count);
	}
	km__out_puts(o, "}},\n  \"knots\": [");
	for (size_t i = 0; i < m.n_knots; i++) {
		const struct km__knot *k = &m.knots[i];
		km__out_printf(o, "%s\n    {\"track_id\": %" PRIu32 ", \"x_mm\": ", i ? "," : "",
		               k->track_id);
		json_num(o, k->x_mm);
		km__out_puts(o, ", \"y_mm\": ");
		json_num(o, k->y_mm);
		km__out_printf(o, ", \"time_us\": %" PRIu64 "}", k->time_us);
	}
	km__out_puts(o, m.n_knots ? "\n  ],\n  \"holds\": [" : "],\n  \"holds\": [");
	for (size_t i = 0; i < m.n_holds; i++) {
		const struct km__hold *d = &m.holds[i];
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
		               km__outcome_name(d->outcome), d->open ? "false" : "true");
	}
	km__out_puts(o, m.n_holds ? "\n  ],\n" : "],\n");
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

const char *km__outcome_name(enum km_export_outcome o)
{
	switch (o) {
	case KM_EXPORT_OUTCOME_RELEASED:
		return "released";
	case KM_EXPORT_OUTCOME_STIFFENED:
		return "stiffened";
	default:
		return "stopped";
	}
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
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s is the recording being exported", cfg->path);
		return KM_ERR_INVALID_ARG; /* --force would truncate the input */
	}
	int rc = km_rec_reader_reset(reader);
	if (rc != KM_OK)
		return rc;
	if (cfg->format == KM_EXPORT_PNG)
		return km__export_png(cfg, reader);
	struct km__out o;
	rc = km__out_open(&o, cfg);
	if (rc != KM_OK)
		return rc;
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
	int crc = km__out_close(&o);
	return rc != KM_OK ? rc : crc;
}
