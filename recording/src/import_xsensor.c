/*
 * XSENSOR CSV export (docs/formats.md, "XSENSOR CSV"): what the XSENSOR
 * X3/X4 software writes. Every line is padded with commas to the widest one.
 *
 *   File:,"C:\...\walk.XSN"          header (Units:, Threshold:, ...)
 *   Units:,mmHg
 *   FRAME,1464                        one block per frame
 *   Date, 2022 Aug 16
 *   Time, 08:21:17.982                the only clock: the rate comes from it
 *   SENSOR,HX210.11.31.M11-DFM-LF S0073   one block per sensor (insole)
 *   Rows,31
 *   Columns,11
 *   Sensel Width (cm),0.86
 *   Sensel Height (cm),0.86
 *   Average Pressure (mmHg),452.85    statistics: skipped
 *   SENSELS
 *   0,0,107.87,...                    Rows lines of Columns values
 *   GROUP,1                           region sub-blocks (Name, Cells, stats,
 *   Name,Left Heel                    SENSELS with Cells values): skipped
 *
 * An export of one sensor may have no SENSOR line: its Rows, Columns and
 * Sensel sizes then follow FRAME directly. One sensor is read per reader
 * (config.sensor; default the first); a file
 * with two insoles is two streams, one reader each. Line by line: the reader
 * holds one line and the frame being filled.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import_internal.h"

#define MAX_SENSORS 16
#define RATE_SCAN_FRAMES 1024 /* frames whose times set the rate at open */

struct sensor {
	unsigned rows, cols;
	double width_mm, height_mm;
};

struct xs {
	char *line;
	size_t cap, len;
	bool held;
	uint64_t lno, loff;
	uint64_t first_off, first_line; /* the first FRAME line */
	unsigned nsensors, sel;
	struct sensor s[MAX_SENSORS];
	/* the file names no SENSOR: one sensor, its keys right after FRAME */
	bool unnamed;
	/* time of the frame being read and of the first frame, us since 1970 (or
	 * since midnight when the date is missing) */
	bool have_t0, have_prev;
	int64_t t0, prev;
	uint64_t time_line; /* of the block just read */
};

bool km__xsensor_is_export(const void *head, size_t size)
{
	/* "SENSOR,..." or a "SENSELS" line: the X3/X4 export's blocks */
	const char *p = head, *end = p + size;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		size_t n = (size_t)(e - p);
		if ((n >= 7 && !strncmp(p, "SENSOR,", 7)) || (n >= 7 && !strncmp(p, "SENSELS", 7)))
			return true;
		p = e + 1;
	}
	return false;
}

static int get_line(km_import *r, struct xs *x)
{
	if (x->held)
		return 1;
	x->lno = r->in.line;
	x->loff = r->in.offset;
	int rc = km__in_line(&r->in, x->line, x->cap, &x->len);
	if (rc == KM_ERR_MALFORMED)
		return km__import_fail_at(r, rc, x->lno, 1, x->loff, "line longer than %zu bytes",
		                          x->cap - 1);
	if (rc < 0)
		return km__import_fail(r, rc, x->lno, x->loff, "read error");
	x->held = rc == 1;
	return rc;
}

/* The next comma-separated field at *p (quotes allowed, not unescaped),
 * trimmed: [*s, *s + *n); 1-based column in *col. False at the end. */
static bool field(const char *line, const char **p, const char **s, size_t *n, size_t *col)
{
	const char *q = *p;
	if (!q)
		return false;
	*col = (size_t)(q - line) + 1;
	while (*q == ' ' || *q == '\t')
		q++;
	const char *start = q, *e;
	if (*q == '"') {
		start = ++q;
		const char *close = strchr(q, '"');
		e = close ? close : q + strlen(q);
		q = close ? close + 1 : e;
		while (*q && *q != ',')
			q++;
	} else {
		while (*q && *q != ',')
			q++;
		e = q;
	}
	while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*s = start;
	*n = (size_t)(e - start);
	*p = *q == ',' ? q + 1 : NULL;
	return true;
}

/* The line's first two fields (key lowercased to its letters and digits,
 * value as is). False for a blank line (only commas and spaces). */
static bool key_value(const char *line, char *key, size_t kcap, char *val, size_t vcap)
{
	const char *p = line, *s;
	size_t n, col, k = 0;
	bool any = false;
	key[0] = val[0] = '\0';
	if (field(line, &p, &s, &n, &col)) {
		any = n > 0;
		for (size_t i = 0; i < n && k + 1 < kcap; i++)
			if (isalnum((unsigned char)s[i]))
				key[k++] = (char)tolower((unsigned char)s[i]);
		key[k] = '\0';
	}
	if (field(line, &p, &s, &n, &col)) {
		any = any || n > 0;
		snprintf(val, vcap, "%.*s", (int)KM_MIN(n, vcap - 1), s);
	}
	while (!any && field(line, &p, &s, &n, &col))
		any = n > 0;
	return any;
}

static bool is_data(const char *line)
{
	const char *p = line, *s;
	size_t n, col;
	double v;
	return field(line, &p, &s, &n, &col) && km__parse_decimal(s, n, '.', &v);
}

/* "2022 Aug 16", "16 Aug 2022", "2022-08-16", "8/16/2022" -> days since
 * 1970-01-01; false when it is none of these. */
static bool parse_date(const char *v, int64_t *days)
{
	static const char *const mon[] = {"jan", "feb", "mar", "apr", "may", "jun",
	                                  "jul", "aug", "sep", "oct", "nov", "dec"};
	long y = 0, m = 0, d = 0, a, b, c;
	char w[16];
	if (sscanf(v, " %ld %15s %ld", &a, w, &c) == 3 && isalpha((unsigned char)w[0])) {
		for (int i = 0; i < 12; i++)
			if (!strncasecmp(w, mon[i], 3))
				m = i + 1;
		y = a > 31 ? a : c;
		d = a > 31 ? c : a;
	} else if (sscanf(v, " %ld-%ld-%ld", &a, &b, &c) == 3) {
		y = a, m = b, d = c;
	} else if (sscanf(v, " %ld/%ld/%ld", &a, &b, &c) == 3) {
		m = a, d = b, y = c;
	}
	if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	/* days from civil (proleptic Gregorian) */
	y -= m <= 2;
	long era = y / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = (int64_t)era * 146097 + doe - 719468;
	return true;
}

/* "08:21:17.982" -> microseconds since midnight. */
static bool parse_clock(const char *v, int64_t *us)
{
	unsigned h, m;
	double s;
	char tail;
	int k = sscanf(v, " %u:%u:%lf %c", &h, &m, &s, &tail);
	if (k < 3 || h > 23 || m > 59 || !(s >= 0 && s < 61))
		return false;
	if (k == 4 && !(tail == 'A' || tail == 'P' || tail == 'a' || tail == 'p'))
		return false;
	if (k == 4 && (tail == 'P' || tail == 'p') && h < 12)
		h += 12;
	if (k == 4 && (tail == 'A' || tail == 'a') && h == 12)
		h = 0;
	*us = ((int64_t)h * 3600 + (int64_t)m * 60) * 1000000 + (int64_t)llround(s * 1e6);
	return true;
}

/* Length in mm from a key that names its unit: "Sensel Width (cm)". */
static double length_mm(const char *key, double v)
{
	size_t n = strlen(key);
	if (n > 2 && !strcmp(key + n - 2, "mm"))
		return v;
	if (n > 2 && !strcmp(key + n - 2, "in"))
		return v * 25.4;
	return v * 10; /* XSENSOR writes cm */
}

/* Skips the data lines that follow (group SENSELS); holds the next other line. */
static int skip_data(km_import *r, struct xs *x)
{
	for (;;) {
		int rc = get_line(r, x);
		if (rc <= 0)
			return rc;
		char k[8], v[8];
		if (key_value(x->line, k, sizeof k, v, sizeof v) && !is_data(x->line))
			return 1;
		x->held = false;
	}
}

/* Reads one frame block (from its FRAME line to the next). dst: the chosen
 * sensor's cells (NULL: skip). *t_us: its time; *have: whether it has one. */
static int read_block(km_import *r, struct xs *x, float *dst, int64_t *t_us, bool *have)
{
	char key[64], val[64];
	int rc;
	*have = false;
	for (;;) {
		rc = get_line(r, x);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return KM_ERR_END;
		x->held = false;
		if (!key_value(x->line, key, sizeof key, val, sizeof val))
			continue;
		if (!strcmp(key, "frame"))
			break;
		return km__import_fail_at(r, KM_ERR_PARSE, x->lno, 1, x->loff,
		                          "expected 'FRAME,N', found '%.40s'", x->line);
	}
	uint64_t frame_line = x->lno;
	int sensor = x->unnamed ? 0 : -1;
	bool group = false, got = false, have_day = false, have_clock = false;
	int64_t day = 0, clock = 0;
	for (;;) {
		rc = get_line(r, x);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (!key_value(x->line, key, sizeof key, val, sizeof val)) {
			x->held = false;
			continue;
		}
		if (!strcmp(key, "frame"))
			break; /* held: the next block */
		if (is_data(x->line))
			return km__import_fail_at(r, KM_ERR_PARSE, x->lno, 1, x->loff,
			                          "values outside a SENSELS block (expected a "
			                          "'Key,Value' line)");
		x->held = false;
		if (!strcmp(key, "date")) {
			have_day = parse_date(val, &day);
		} else if (!strcmp(key, "time")) {
			if (!parse_clock(val, &clock))
				return km__import_fail_at(r, KM_ERR_PARSE, x->lno, 6, x->loff,
				                          "expected a time hh:mm:ss.sss, found '%.30s'",
				                          val);
			have_clock = true;
			x->time_line = x->lno;
		} else if (!strcmp(key, "sensor")) {
			sensor++;
			group = false;
			if ((unsigned)sensor >= x->nsensors || strcmp(val, r->sensor_names[sensor]) != 0)
				return km__import_fail_at(
				    r, KM_ERR_MALFORMED, x->lno, 8, x->loff,
				    "SENSOR '%.40s' here; frame 1 has %u sensors (%.40s first)", val,
				    x->nsensors, r->sensor_names[0]);
		} else if (!strcmp(key, "group")) {
			group = true;
		} else if (!group && sensor >= 0 && (!strcmp(key, "rows") || !strcmp(key, "columns"))) {
			unsigned long v = strtoul(val, NULL, 10);
			unsigned want = key[0] == 'r' ? x->s[sensor].rows : x->s[sensor].cols;
			if (v != want)
				return km__import_fail_at(r, KM_ERR_SHAPE, x->lno, 1, x->loff,
				                          "sensor '%.40s' has %s %lu here; %u in frame 1",
				                          r->sensor_names[sensor], key, v, want);
		} else if (!strcmp(key, "sensels")) {
			if (group || sensor < 0) {
				rc = skip_data(r, x);
				if (rc < 0)
					return rc;
				continue;
			}
			const struct sensor *se = &x->s[sensor];
			bool mine = (unsigned)sensor == x->sel;
			for (unsigned y = 0; y < se->rows;) {
				rc = get_line(r, x);
				if (rc < 0)
					return rc;
				if (rc == 0)
					return km__import_fail_at(
					    r, KM_ERR_TRUNCATED, x->lno, 1, x->loff,
					    "file ends inside frame %llu (%u of %u rows of sensor '%.40s')",
					    (unsigned long long)r->index + 1, y, se->rows,
					    r->sensor_names[sensor]);
				if (!key_value(x->line, key, sizeof key, val, sizeof val)) {
					x->held = false;
					continue;
				}
				if (!is_data(x->line))
					return km__import_fail_at(
					    r, KM_ERR_SHAPE, x->lno, 1, x->loff,
					    "sensor '%.40s': %u of %u rows, then '%.30s'",
					    r->sensor_names[sensor], y, se->rows, x->line);
				x->held = false;
				if (mine) {
					const char *p = x->line, *s;
					size_t n, col;
					unsigned c = 0;
					while (field(x->line, &p, &s, &n, &col)) {
						double v;
						if (n == 0) {
							/* padding: only empty fields may follow */
							const char *q = p, *s2;
							size_t n2, col2;
							while (field(x->line, &q, &s2, &n2, &col2))
								if (n2)
									return km__import_fail_at(
									    r, KM_ERR_PARSE, x->lno, col, x->loff,
									    "empty cell");
							break;
						}
						if (c >= se->cols)
							return km__import_fail_at(
							    r, KM_ERR_SHAPE, x->lno, col, x->loff,
							    "more than %u values", se->cols);
						if (!km__parse_decimal(s, n, '.', &v))
							return km__import_fail_at(
							    r, KM_ERR_PARSE, x->lno, col, x->loff,
							    "expected a number, found '%.*s'",
							    (int)KM_MIN(n, (size_t)30), s);
						if (!isfinite(v))
							return km__import_fail_at(
							    r, KM_ERR_NONFINITE, x->lno, col, x->loff,
							    "'%.*s' is not a finite value",
							    (int)KM_MIN(n, (size_t)30), s);
						if (dst)
							dst[(size_t)y * se->cols + c] = (float)v;
						c++;
					}
					if (c < se->cols)
						return km__import_fail_at(
						    r, KM_ERR_SHAPE, x->lno, x->len + 1, x->loff,
						    "%u values; expected %u", c, se->cols);
					got = true;
				}
				y++;
			}
		}
		/* other keys: statistics, names; nothing to read */
	}
	if (!got)
		return km__import_fail_at(r, KM_ERR_MALFORMED, frame_line, 1, x->loff,
		                          "frame has no SENSELS for sensor '%.40s'",
		                          r->sensor_names[x->sel]);
	if (have_clock) {
		*t_us = (have_day ? day * 86400000000LL : 0) + clock;
		*have = true;
	}
	return KM_OK;
}

/* Does hay contain needle, ignoring case? */
static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

/* Picks the sensor config.sensor names: "2" (1-based), an exact name, or a
 * part of exactly one name. */
static int pick_sensor(km_import *r, struct xs *x)
{
	const char *want = r->cfg.sensor;
	x->sel = 0;
	if (!want || !*want)
		return KM_OK;
	char *e;
	unsigned long k = strtoul(want, &e, 10);
	if (e != want && !*e) {
		if (k < 1 || k > x->nsensors)
			return km__import_fail(r, KM_ERR_INVALID_ARG, x->first_line, x->first_off,
			                       "sensor %lu: the file holds %u (1..%u)", k, x->nsensors,
			                       x->nsensors);
		x->sel = (unsigned)k - 1;
		return KM_OK;
	}
	int found = -1, hits = 0;
	for (unsigned i = 0; i < x->nsensors; i++)
		if (!strcasecmp(r->sensor_names[i], want)) {
			x->sel = i;
			return KM_OK;
		}
	for (unsigned i = 0; i < x->nsensors; i++)
		if (contains_ci(r->sensor_names[i], want)) {
			found = (int)i;
			hits++;
		}
	if (hits != 1) {
		char list[200] = "";
		for (unsigned i = 0; i < x->nsensors; i++) {
			size_t n = strlen(list);
			snprintf(list + n, sizeof list - n, "%s%u '%.40s'", i ? ", " : "", i + 1,
			         r->sensor_names[i]);
		}
		return km__import_fail(r, KM_ERR_INVALID_ARG, x->first_line, x->first_off,
		                       "sensor '%.30s' %s; the file holds %s", want,
		                       hits ? "fits several" : "is not in the file", list);
	}
	x->sel = (unsigned)found;
	return KM_OK;
}

static int xs_open(km_import *r)
{
	struct xs *x = r->fmt;
	if (!x) {
		x = km__calloc(1, sizeof *x);
		if (!x)
			return KM_ERR_NO_MEMORY;
		r->fmt = x;
		x->cap = 256 * 1024;
		x->line = km__malloc(x->cap);
		if (!x->line)
			return KM_ERR_NO_MEMORY;
	}
	x->held = x->have_t0 = x->have_prev = false;
	x->unnamed = false;
	x->nsensors = 0;
	char key[64], val[64];
	int rc;
	/* header, up to the first FRAME */
	for (;;) {
		rc = get_line(r, x);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return km__import_fail(r, KM_ERR_TRUNCATED, x->lno, x->loff,
			                       "no FRAME block in the file");
		if (r->in.offset > r->cfg.max_header_bytes)
			return km__import_fail(r, KM_ERR_MALFORMED, x->lno, x->loff,
			                       "more than %u bytes of header before the first FRAME",
			                       (unsigned)r->cfg.max_header_bytes);
		/* a UTF-8 byte order mark before "File:" */
		if (x->loff == 0 && !strncmp(x->line, "\xEF\xBB\xBF", 3))
			memmove(x->line, x->line + 3, x->len - 2);
		if (!key_value(x->line, key, sizeof key, val, sizeof val)) {
			x->held = false;
			continue;
		}
		if (!strcmp(key, "frame"))
			break;
		x->held = false;
		if (!strcmp(key, "units") || !strcmp(key, "pressureunits")) {
			enum km_import_units u;
			if (km_import_units_parse(val, &u) != KM_OK)
				return km__import_fail_at(r, KM_ERR_UNSUPPORTED, x->lno, 1, x->loff,
				                          "unknown units '%.40s' (" KM_IMPORT_UNITS_LIST ")",
				                          val);
			km__import_set_units(r, u);
		}
	}
	x->first_off = x->loff;
	x->first_line = x->lno;
	x->held = false;
	/* the first frame: its sensors */
	int cur = -1;
	bool group = false;
	for (;;) {
		rc = get_line(r, x);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		x->held = false;
		if (!key_value(x->line, key, sizeof key, val, sizeof val) || is_data(x->line))
			continue;
		if (!strcmp(key, "frame"))
			break;
		if (cur < 0 && !group &&
		    (!strcmp(key, "rows") || !strcmp(key, "columns") ||
		     !strncmp(key, "senselwidth", 11) || !strncmp(key, "senselheight", 12))) {
			/* a sensor's keys with no SENSOR line before them: the file
			 * has one sensor and does not name it */
			cur = 0;
			x->nsensors = 1;
			x->unnamed = true;
			memset(&x->s[0], 0, sizeof x->s[0]);
			snprintf(r->sensor_names[0], sizeof r->sensor_names[0], "%s", "(unnamed)");
		}
		if (!strcmp(key, "sensor")) {
			if (x->unnamed)
				return km__import_fail_at(r, KM_ERR_MALFORMED, x->lno, 1, x->loff,
				                          "SENSOR after a sensor's Rows/Columns without "
				                          "one");
			if (x->nsensors >= MAX_SENSORS)
				return km__import_fail_at(r, KM_ERR_UNSUPPORTED, x->lno, 1, x->loff,
				                          "more than %d SENSOR blocks in a frame",
				                          MAX_SENSORS);
			cur = (int)x->nsensors++;
			group = false;
			memset(&x->s[cur], 0, sizeof x->s[cur]);
			snprintf(r->sensor_names[cur], sizeof r->sensor_names[cur], "%s", val);
		} else if (!strcmp(key, "group")) {
			group = true;
		} else if (cur >= 0 && !group) {
			struct sensor *se = &x->s[cur];
			char *e;
			double v = strtod(val, &e);
			bool num = e != val && isfinite(v);
			if (!strcmp(key, "rows") || !strcmp(key, "columns")) {
				if (!num || v < 1 || v > KM_FRAME_MAX_DIM || v != floor(v))
					return km__import_fail_at(r, KM_ERR_SHAPE, x->lno, 1, x->loff,
					                          "%s '%.30s' is not in 1..%d", key, val,
					                          KM_FRAME_MAX_DIM);
				*(key[0] == 'r' ? &se->rows : &se->cols) = (unsigned)v;
			} else if (!strncmp(key, "senselwidth", 11) ||
			           !strncmp(key, "senselheight", 12)) {
				if (!num || v <= 0 || length_mm(key, v) > 1000)
					return km__import_fail_at(r, KM_ERR_MALFORMED, x->lno, 1, x->loff,
					                          "bad %s '%.30s'", key, val);
				*(key[6] == 'w' ? &se->width_mm : &se->height_mm) = length_mm(key, v);
			}
		}
	}
	if (x->nsensors == 0)
		return km__import_fail(r, KM_ERR_SHAPE, x->first_line, x->first_off,
		                       "the first FRAME has no SENSOR block");
	for (unsigned i = 0; i < x->nsensors; i++)
		if (!x->s[i].rows || !x->s[i].cols)
			return km__import_fail(r, KM_ERR_SHAPE, x->first_line, x->first_off,
			                       "sensor '%.40s' gives no Rows and Columns",
			                       r->sensor_names[i]);
	km__import_sensor_labels(r, x->nsensors);
	rc = pick_sensor(r, x);
	if (rc != KM_OK)
		return rc;
	const struct sensor *se = &x->s[x->sel];
	r->info.rows = (uint16_t)se->rows;
	r->info.cols = (uint16_t)se->cols;
	r->info.sensor_count = (uint16_t)x->nsensors;
	r->info.sensor_index = (uint16_t)x->sel;
	snprintf(r->info.sensor, sizeof r->info.sensor, "%s",
	         x->unnamed ? "" : r->sensor_names[x->sel]);
	if (x->unnamed)
		snprintf(r->info.model, sizeof r->info.model, "XSENSOR");
	else
		snprintf(r->info.model, sizeof r->info.model, "XSENSOR %.55s",
		         r->sensor_names[x->sel]);
	if (se->height_mm > 0 || se->width_mm > 0)
		km__import_set_pitch2(r, se->height_mm, se->width_mm);
	size_t need = 64 * (size_t)se->cols + 4096;
	if (need > x->cap) {
		char *b = km__malloc(need);
		if (!b)
			return KM_ERR_NO_MEMORY;
		km__free(x->line);
		x->line = b;
		x->cap = need;
	}
	if (x->nsensors > 1 && !r->reading) {
		char list[200] = "";
		for (unsigned i = 0; i < x->nsensors; i++) {
			size_t n = strlen(list);
			snprintf(list + n, sizeof list - n, "%s%.40s", i ? ", " : "",
			         km_import_sensor_label(r, i));
		}
		unsigned other = x->sel == 0 ? 1 : 0;
		const char *base = strrchr(r->name, '/');
		base = base ? base + 1 : r->name;
		if (r->cfg.sensor && *r->cfg.sensor)
			km__log(&r->cfg.log, KM_LOG_INFO, "import",
			        "%.60s holds %u sensors (%s); reading %s ('%s')", base,
			        x->nsensors, list, km_import_sensor_label(r, x->sel),
			        r->sensor_names[x->sel]);
		else
			km__log(&r->cfg.log, KM_LOG_INFO, "import",
			        "%.60s holds %u sensors (%s); using %s; --sensor %s for %s", base,
			        x->nsensors, list, km_import_sensor_label(r, x->sel),
			        km_import_sensor_label(r, other),
			        x->nsensors == 2 ? "the other" : "another");
	}
	/* The rate: from the first frames' Date/Time rows. */
	rc = km__in_seek(&r->in, x->first_off, x->first_line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, x->first_line, x->first_off, "input is not seekable");
	x->held = false;
	uint64_t frames = 0;
	int64_t t_first = 0, t_last = 0, t;
	uint64_t timed = 0;
	bool have;
	r->quiet = true;
	while (frames < RATE_SCAN_FRAMES) {
		rc = read_block(r, x, NULL, &t, &have);
		if (rc == KM_ERR_END)
			break;
		if (rc != KM_OK) {
			r->quiet = false;
			if (rc == KM_ERR_IO || rc == KM_ERR_NO_MEMORY)
				return rc;
			/* damage further on: reading reports it there (or skips it,
			 * partial); the rate comes from the frames before it */
			memset(&r->damage, 0, sizeof r->damage);
			frames = RATE_SCAN_FRAMES;
			break;
		}
		if (have) {
			if (!timed)
				t_first = t;
			t_last = t;
			timed++;
		}
		frames++;
	}
	r->quiet = false;
	if (frames < RATE_SCAN_FRAMES) {
		r->info.frame_count_known = true;
		r->info.frame_count = frames;
	}
	if (timed >= 2 && t_last > t_first)
		km__import_set_rate(r, (double)(timed - 1) * 1e6 / (double)(t_last - t_first));
	x->held = false;
	rc = km__in_seek(&r->in, x->first_off, x->first_line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, x->first_line, x->first_off, "input is not seekable");
	return KM_OK;
}

static int xs_next(km_import *r, struct km_frame *out, bool *have_time)
{
	struct xs *x = r->fmt;
	int64_t t;
	bool have;
	int rc = read_block(r, x, out->kpa, &t, &have);
	if (rc != KM_OK)
		return rc;
	if (have) {
		if (!x->have_t0) {
			x->t0 = t;
			x->have_t0 = true;
		}
		if (x->have_prev && t < x->prev)
			return km__import_fail_at(r, KM_ERR_MALFORMED, x->time_line, 1, x->loff,
			                          "frame %llu: its Date/Time is %.3f s before the "
			                          "previous frame's (time goes backwards)",
			                          (unsigned long long)r->index + 1,
			                          (double)(x->prev - t) / 1e6);
		x->prev = t;
		x->have_prev = true;
		out->device_time_us = (uint64_t)(t - x->t0);
		*have_time = true;
	}
	return KM_OK;
}

/* Partial reading: on to the next FRAME line. */
static int xs_resync(km_import *r)
{
	struct xs *x = r->fmt;
	char key[16], val[8];
	for (;;) {
		int rc = get_line(r, x);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return KM_ERR_END;
		if (key_value(x->line, key, sizeof key, val, sizeof val) && !strcmp(key, "frame"))
			return KM_OK; /* held */
		x->held = false;
	}
}

static void xs_close(km_import *r)
{
	struct xs *x = r->fmt;
	if (x)
		km__free(x->line);
	km__free(x);
	r->fmt = NULL;
}

const struct km__import_ops km__import_xsensor = {
    .format = KM_IMPORT_XSENSOR,
    .open = xs_open,
    .next = xs_next,
    .close = xs_close,
    .resync = xs_resync,
};
