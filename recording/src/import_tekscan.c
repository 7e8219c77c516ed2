/*
 * Tekscan ASCII (docs/formats.md, "Tekscan ASCII"): what F-Scan, I-Scan and
 * the other Tekscan programs write as an "ASCII movie" or a single frame, and
 * what knotmap's own Tekscan export writes.
 *
 *   DATA_TYPE MOVIE             header: "KEY value [unit]" lines; free text
 *   ROWS 60                     after COMMENTS: is skipped
 *   COLS 21
 *   ROW_SPACING 5.08 mm         mm, cm, centimeters, inches, ...
 *   SECONDS_PER_FRAME 0.032
 *   UNITS KPa
 *   ASCII_DATA @@               the data ends at a line "@@"
 *
 *   Frame 1                     optional (a single frame has none)
 *   B,B,0,18,...                ROWS lines of COLS cells; B: outside the sensor
 *   @@
 *
 * Read line by line: the reader holds one line and the frame being filled.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import_internal.h"

struct tek {
	char *line;
	size_t cap, len;
	bool held;             /* line holds a line not yet consumed */
	uint64_t lno, loff;    /* its line number and offset */
	uint64_t data_off, data_line;
	bool markers;          /* frames start with "Frame N" */
	bool comments;         /* inside COMMENTS: free text */
	bool warned_masked;    /* a value in a cell the first frame marked B */
	uint64_t header_bytes;
};

static int get_line(km_import *r, struct tek *t)
{
	if (t->held)
		return 1;
	t->lno = r->in.line;
	t->loff = r->in.offset;
	int rc = km__in_line(&r->in, t->line, t->cap, &t->len);
	if (rc == KM_ERR_MALFORMED)
		return km__import_fail_at(r, rc, t->lno, 1, t->loff,
		                          "line longer than %zu bytes (expected a row of %u values)",
		                          t->cap - 1, (unsigned)r->info.cols);
	if (rc < 0)
		return km__import_fail(r, rc, t->lno, t->loff, "read error");
	t->held = rc == 1;
	return rc;
}

static bool blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '\0';
}

static bool is_end(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "@@", 2) != 0)
		return false;
	return blank(s + 2);
}

/* "Frame 12" (anything may follow the number) */
static bool is_marker(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "frame", 5) != 0 || (s[5] != ' ' && s[5] != '\t'))
		return false;
	s += 5;
	while (*s == ' ' || *s == '\t')
		s++;
	return isdigit((unsigned char)*s);
}

/* Cell separator of a data line: ',' (Tekscan), else ';' or runs of blanks. */
static char line_sep(const char *s)
{
	return strchr(s, ',') ? ',' : strchr(s, ';') ? ';' : ' ';
}

/* The next cell of a line at *p: [*s, *s + *n), 1-based column in *col.
 * False at the end of the line (a trailing separator ends it too). */
static bool next_cell(const char *line, const char **p, char sep, const char **s, size_t *n,
                      size_t *col)
{
	const char *q = *p;
	if (sep == ' ') {
		while (*q == ' ' || *q == '\t')
			q++;
		if (!*q)
			return false;
		*s = q;
		while (*q && *q != ' ' && *q != '\t')
			q++;
		*n = (size_t)(q - *s);
		*col = (size_t)(*s - line) + 1;
		*p = q;
		return true;
	}
	if (!*q)
		return false;
	const char *e = strchr(q, sep);
	if (!e)
		e = q + strlen(q);
	*s = q;
	*n = (size_t)(e - q);
	*col = (size_t)(q - line) + 1;
	*p = *e ? e + 1 : e;
	if (!*e && *n > 0 && blank(q) && q > line)
		return false; /* "1,2, " */
	return true;
}

static bool is_b(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == 1 && (*s == 'B' || *s == 'b');
}

/* Could this line be a row of the grid: its first cell a number or B? */
static bool looks_like_row(const char *line)
{
	const char *p = line, *s;
	size_t n, col;
	char sep = line_sep(line);
	double v;
	if (!next_cell(line, &p, sep, &s, &n, &col))
		return false;
	return is_b(s, n) || km__parse_decimal(s, n, '.', &v);
}

/* Parses the held line as grid row y into dst (NULL: only check) and the
 * mask row (NULL: use it, do not set it). Consumes the line. */
static int parse_row(km_import *r, struct tek *t, unsigned y, float *dst, uint8_t *set_mask)
{
	unsigned cols = r->info.cols;
	const char *p = t->line, *s;
	size_t n, col;
	char sep = line_sep(t->line);
	unsigned x = 0;
	t->held = false;
	while (next_cell(t->line, &p, sep, &s, &n, &col)) {
		if (x >= cols)
			return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, col, t->loff,
			                          "frame %llu, row %u: more than %u values",
			                          (unsigned long long)r->index + 1, y + 1, cols);
		double v = 0;
		bool b = is_b(s, n);
		if (!b && !km__parse_decimal(s, n, '.', &v))
			return km__import_fail_at(r, KM_ERR_PARSE, t->lno, col, t->loff,
			                          "expected a number or B (outside the sensor), "
			                          "found '%.*s'",
			                          (int)KM_MIN(n, (size_t)40), s);
		if (!b && !isfinite(v))
			return km__import_fail_at(r, KM_ERR_NONFINITE, t->lno, col, t->loff,
			                          "'%.*s' is not a finite value",
			                          (int)KM_MIN(n, (size_t)40), s);
		size_t i = (size_t)y * cols + x;
		if (set_mask) {
			set_mask[i] = b ? 0 : 1;
		} else if (!b && r->mask && !r->mask[i] && v != 0 && !t->warned_masked) {
			km__import_warn(r,
			                "%llu:%zu: a value in a cell that frame 1 marks B (outside "
			                "the sensor); the cell stays masked and reads 0 (reported once)",
			                (unsigned long long)t->lno, col);
			t->warned_masked = true;
		}
		if (dst) /* outside the sensor reads 0, whatever a later frame says */
			dst[i] = b || (!set_mask && r->mask && !r->mask[i]) ? 0.0f : (float)v;
		x++;
	}
	if (x < cols)
		return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, t->len + 1, t->loff,
		                          "frame %llu, row %u: %u values; expected %u",
		                          (unsigned long long)r->index + 1, y + 1, x, cols);
	return KM_OK;
}

/* Reads one frame (from a marker, or from its first row). */
static int read_frame(km_import *r, struct tek *t, float *dst, uint8_t *set_mask)
{
	int rc;
	for (;;) {
		rc = get_line(r, t);
		if (rc < 0)
			return rc;
		if (rc == 0 || is_end(t->line))
			return KM_ERR_END;
		if (blank(t->line)) {
			t->held = false;
			continue;
		}
		if (is_marker(t->line)) {
			t->held = false;
			t->markers = true;
			break;
		}
		if (looks_like_row(t->line))
			break;
		return km__import_fail_at(r, KM_ERR_PARSE, t->lno, 1, t->loff,
		                          "expected 'Frame N' or a row of %u values, found '%.40s'",
		                          (unsigned)r->info.cols, t->line);
	}
	for (unsigned y = 0; y < r->info.rows; y++) {
		rc = get_line(r, t);
		if (rc < 0)
			return rc;
		if (rc == 0 || is_end(t->line))
			return km__import_fail_at(
			    r, KM_ERR_TRUNCATED, t->lno, 1, t->loff,
			    "frame %llu ends after %u of %u rows", (unsigned long long)r->index + 1, y,
			    (unsigned)r->info.rows);
		if (blank(t->line) || is_marker(t->line))
			return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, 1, t->loff,
			                          "frame %llu has %u rows; expected %u",
			                          (unsigned long long)r->index + 1, y,
			                          (unsigned)r->info.rows);
		rc = parse_row(r, t, y, dst, set_mask);
		if (rc != KM_OK)
			return rc;
	}
	/* with "Frame N" markers, a further row means the frame is too tall */
	while (t->markers) {
		rc = get_line(r, t);
		if (rc <= 0)
			return rc < 0 ? rc : KM_OK;
		if (!blank(t->line))
			break;
		t->held = false;
	}
	if (t->markers && !is_end(t->line) && !is_marker(t->line) && looks_like_row(t->line))
		return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, 1, t->loff,
		                          "frame %llu has more than %u rows (expected 'Frame N')",
		                          (unsigned long long)r->index + 1, (unsigned)r->info.rows);
	return KM_OK;
}

/* The first block of rows (from the held line): its width and height; the
 * input goes back to where it was. */
static int measure(km_import *r, struct tek *t, unsigned *rows, unsigned *cols)
{
	uint64_t off = t->loff, line = t->lno;
	bool marker = is_marker(t->line);
	unsigned h = 0, w = 0;
	if (marker)
		t->held = false;
	for (;;) {
		int rc = get_line(r, t);
		if (rc < 0)
			return rc;
		if (rc == 0 || blank(t->line) || is_end(t->line) || is_marker(t->line) ||
		    !looks_like_row(t->line))
			break;
		t->held = false;
		const char *p = t->line, *s;
		size_t n, col;
		unsigned c = 0;
		char sep = line_sep(t->line);
		while (next_cell(t->line, &p, sep, &s, &n, &col))
			c++;
		if (h == 0)
			w = c;
		if (++h > KM_FRAME_MAX_DIM || c > KM_FRAME_MAX_DIM)
			return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, 1, t->loff,
			                          "first frame is larger than %dx%d", KM_FRAME_MAX_DIM,
			                          KM_FRAME_MAX_DIM);
	}
	t->held = false;
	int rc = km__in_seek(&r->in, off, line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, line, off, "input is not seekable");
	rc = get_line(r, t); /* held again */
	if (rc < 0)
		return rc;
	if (!h || !w)
		return km__import_fail_at(r, KM_ERR_SHAPE, line, 1, off,
		                          "the header gives no ROWS and COLS and no rows follow");
	*rows = h;
	*cols = w;
	return KM_OK;
}

/* A length: "5.08 mm", "0.127 centimeters", "0.2 inches" -> mm. */
static bool spacing_mm(const char *v, double *mm)
{
	char *e;
	double x = strtod(v, &e);
	if (e == v || !isfinite(x) || x <= 0)
		return false;
	while (*e == ' ' || *e == '\t')
		e++;
	char u[24];
	size_t n = 0;
	for (; *e && n + 1 < sizeof u; e++)
		if (isalpha((unsigned char)*e))
			u[n++] = (char)tolower((unsigned char)*e);
	u[n] = '\0';
	double k;
	if (!n || !strcmp(u, "mm") || !strcmp(u, "millimeter") || !strcmp(u, "millimeters") ||
	    !strcmp(u, "millimetre") || !strcmp(u, "millimetres"))
		k = 1;
	else if (!strcmp(u, "cm") || !strcmp(u, "centimeter") || !strcmp(u, "centimeters") ||
	         !strcmp(u, "centimetre") || !strcmp(u, "centimetres"))
		k = 10;
	else if (!strcmp(u, "in") || !strcmp(u, "inch") || !strcmp(u, "inches"))
		k = 25.4;
	else if (!strcmp(u, "m") || !strcmp(u, "meter") || !strcmp(u, "meters") ||
	         !strcmp(u, "metre") || !strcmp(u, "metres"))
		k = 1000;
	else
		return false;
	*mm = x * k;
	return *mm <= 1000;
}

/* A header line "KEY value". */
static int header_line(km_import *r, struct tek *t, unsigned *rows, unsigned *cols,
                       double *rp, double *cp, double *area)
{
	const char *s = t->line;
	while (*s == ' ' || *s == '\t')
		s++;
	char key[40];
	size_t n = 0;
	bool upper = true;
	while ((isalnum((unsigned char)*s) || *s == '_') && n + 1 < sizeof key) {
		upper = upper && !islower((unsigned char)*s);
		key[n++] = (char)toupper((unsigned char)*s++);
	}
	key[n] = '\0';
	bool is_key = n > 0 && (*s == ' ' || *s == '\t' || *s == ':' || *s == '\0');
	/* Free text before the data (the lines after COMMENTS:, notes) is not
	 * data and says nothing knotmap reads; an upper-case KEY ends comments. */
	if (!is_key || (t->comments && !upper))
		return KM_OK;
	if (*s == ':')
		s++;
	while (*s == ' ' || *s == '\t')
		s++;
	char val[128];
	snprintf(val, sizeof val, "%s", s);
	for (size_t k = strlen(val); k > 0 && (val[k - 1] == ' ' || val[k - 1] == '\t'); k--)
		val[k - 1] = '\0';
	t->comments = !strcmp(key, "COMMENTS");
	char *e;
	if (!strcmp(key, "ROWS") || !strcmp(key, "COLS")) {
		unsigned long v = strtoul(val, &e, 10);
		if (e == val || *e || v < 1 || v > KM_FRAME_MAX_DIM)
			return km__import_fail_at(r, KM_ERR_SHAPE, t->lno, (size_t)(s - t->line) + 1,
			                          t->loff, "%s '%.40s' is not in 1..%d", key, val,
			                          KM_FRAME_MAX_DIM);
		*(key[0] == 'R' ? rows : cols) = (unsigned)v;
	} else if (!strcmp(key, "ROW_SPACING") || !strcmp(key, "COL_SPACING")) {
		double mm;
		if (!spacing_mm(val, &mm))
			return km__import_fail_at(r, KM_ERR_MALFORMED, t->lno,
			                          (size_t)(s - t->line) + 1, t->loff,
			                          "bad %s '%.40s' (expected a length in mm, cm or "
			                          "inches)",
			                          key, val);
		*(key[0] == 'R' ? rp : cp) = mm;
	} else if (!strcmp(key, "SENSEL_AREA")) {
		/* a fallback for the spacing: "25.8064 mm2", "0.5625 cm2", "0.04 in2" */
		double v = strtod(val, &e), k = 0;
		char u[16];
		size_t n2 = 0;
		for (; e && *e && n2 + 1 < sizeof u; e++)
			if (isalnum((unsigned char)*e))
				u[n2++] = (char)tolower((unsigned char)*e);
		u[n2] = '\0';
		if (!strcmp(u, "mm2") || !strcmp(u, "sqmm") || !n2)
			k = 1;
		else if (!strcmp(u, "cm2") || !strcmp(u, "sqcm"))
			k = 100;
		else if (!strcmp(u, "in2") || !strcmp(u, "sqin"))
			k = 645.16;
		if (k > 0 && isfinite(v) && v > 0 && v * k <= 1e6)
			*area = v * k; /* an area knotmap cannot read is not needed */
	} else if (!strcmp(key, "SECONDS_PER_FRAME")) {
		double v = strtod(val, &e);
		/* 0 means "not given"; otherwise the rate must be one knotmap reads:
		 * 1e-300 s would be an infinite rate (1 us to 1 hour per frame). */
		if (e == val || !isfinite(v) || v < 0 || v > 3600 || (v > 0 && v < 1e-5))
			return km__import_fail_at(r, KM_ERR_MALFORMED, t->lno,
			                          (size_t)(s - t->line) + 1, t->loff,
			                          "bad SECONDS_PER_FRAME '%.40s' (expected 0, or "
			                          "0.00001 to 3600 s per frame)",
			                          val);
		if (v > 0)
			km__import_set_rate(r, 1.0 / v);
	} else if (!strcmp(key, "UNITS")) {
		enum km_import_units u;
		if (km_import_units_parse(val, &u) != KM_OK)
			return km__import_fail_at(r, KM_ERR_UNSUPPORTED, t->lno,
			                          (size_t)(s - t->line) + 1, t->loff,
			                          "unknown units '%.40s' (" KM_IMPORT_UNITS_LIST ")",
			                          val);
		km__import_set_units(r, u);
	} else if (!strcmp(key, "SENSOR_TYPE") && val[0]) {
		snprintf(r->info.model, sizeof r->info.model, "Tekscan %.50s", val);
	} else if (!strcmp(key, "SERIAL") && val[0] && strcmp(val, "-") != 0) {
		snprintf(r->info.serial, sizeof r->info.serial, "%.63s", val);
	}
	return KM_OK;
}

static int tek_open(km_import *r)
{
	struct tek *t = r->fmt;
	if (!t) {
		t = km__calloc(1, sizeof *t);
		if (!t)
			return KM_ERR_NO_MEMORY;
		r->fmt = t;
		t->cap = 64 * 1024;
		t->line = km__malloc(t->cap);
		if (!t->line)
			return KM_ERR_NO_MEMORY;
	}
	t->held = t->markers = t->comments = t->warned_masked = false;
	t->header_bytes = 0;
	unsigned rows = 0, cols = 0;
	double rp = 0, cp = 0, area = 0;
	int rc;
	bool data = false;
	for (;;) {
		rc = get_line(r, t);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		if (r->in.offset > r->cfg.max_header_bytes)
			return km__import_fail(r, KM_ERR_MALFORMED, t->lno, t->loff,
			                       "more than %u bytes of header before the data",
			                       (unsigned)r->cfg.max_header_bytes);
		if (is_marker(t->line) || (!t->comments && looks_like_row(t->line))) {
			data = true;
			break;
		}
		t->held = false;
		if (blank(t->line))
			continue;
		if (is_end(t->line))
			break;
		rc = header_line(r, t, &rows, &cols, &rp, &cp, &area);
		if (rc != KM_OK)
			return rc;
	}
	if (r->cfg.rows) {
		if (rows && (rows != r->cfg.rows || cols != r->cfg.cols))
			return km__import_fail(r, KM_ERR_SHAPE, 1, 0,
			                       "the header says %ux%u, not %ux%u as given", rows, cols,
			                       (unsigned)r->cfg.rows, (unsigned)r->cfg.cols);
		rows = r->cfg.rows;
		cols = r->cfg.cols;
	}
	if (!data && (!rows || !cols))
		return km__import_fail(r, KM_ERR_SHAPE, t->lno, t->loff,
		                       "the header gives no %s (ROWS and COLS)",
		                       rows ? "COLS" : "ROWS");
	if (!data)
		return km__import_fail(r, KM_ERR_TRUNCATED, t->lno, t->loff,
		                       "no frames after the header (expected 'Frame 1' or a row "
		                       "of %u values)",
		                       cols);
	if ((!rows) != (!cols))
		return km__import_fail(r, KM_ERR_SHAPE, t->lno, t->loff,
		                       "the header gives %s but not %s", rows ? "ROWS" : "COLS",
		                       rows ? "COLS" : "ROWS");
	if (!rows) {
		/* no ROWS/COLS: the first block of rows sets the grid */
		int k = measure(r, t, &rows, &cols);
		if (k != KM_OK)
			return k;
		km__import_warn(r, "the header gives no ROWS and COLS; the first frame's %ux%u "
		                   "block sets the grid",
		                rows, cols);
	}
	if (rp > 0 || cp > 0)
		km__import_set_pitch2(r, rp, cp);
	else if (area > 0) /* no spacing: square cells of that area */
		km__import_set_pitch(r, sqrt(area));
	r->info.rows = (uint16_t)rows;
	r->info.cols = (uint16_t)cols;
	size_t need = (size_t)cols * 48 + 1024;
	if (need > t->cap) {
		char *b = km__malloc(need);
		if (!b)
			return KM_ERR_NO_MEMORY;
		memcpy(b, t->line, t->len + 1);
		km__free(t->line);
		t->line = b;
		t->cap = need;
	}
	t->data_off = t->loff;
	t->data_line = t->lno;
	/* The first frame's B cells are the sensor outline. */
	size_t cells = (size_t)rows * cols;
	if (!r->mask) {
		r->mask = km__malloc(cells);
		if (!r->mask)
			return KM_ERR_NO_MEMORY;
	}
	rc = read_frame(r, t, NULL, r->mask);
	if (rc != KM_OK)
		return rc == KM_ERR_END ? km__import_fail(r, KM_ERR_TRUNCATED, t->lno, t->loff,
		                                          "no frames after the header")
		                        : rc;
	bool any_b = memchr(r->mask, 0, cells) != NULL;
	if (!any_b) {
		km__free(r->mask);
		r->mask = NULL;
	}
	t->held = false;
	rc = km__in_seek(&r->in, t->data_off, t->data_line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, t->data_line, t->data_off, "input is not seekable");
	return KM_OK;
}

static int tek_next(km_import *r, struct km_frame *out, bool *have_time)
{
	(void)have_time; /* Tekscan rows carry no time: index / rate */
	return read_frame(r, r->fmt, out->kpa, NULL);
}

/* Partial reading: on to the next "Frame N" (or, without markers, past the
 * next blank line). */
static int tek_resync(km_import *r)
{
	struct tek *t = r->fmt;
	for (;;) {
		int rc = get_line(r, t);
		if (rc < 0)
			return rc;
		if (rc == 0 || is_end(t->line))
			return KM_ERR_END;
		if (t->markers ? is_marker(t->line) : blank(t->line))
			return KM_OK; /* held: the next read starts here */
		t->held = false;
	}
}

static void tek_close(km_import *r)
{
	struct tek *t = r->fmt;
	if (t)
		km__free(t->line);
	km__free(t);
	r->fmt = NULL;
}

const struct km__import_ops km__import_tekscan = {
    .format = KM_IMPORT_TEKSCAN,
    .open = tek_open,
    .next = tek_next,
    .close = tek_close,
    .resync = tek_resync,
};
