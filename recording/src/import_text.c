/*
 * Text importers (Tekscan-style ASCII, XSENSOR-style CSV, plain CSV): one
 * streaming engine. A line is data when its first field is a number, blank
 * when empty, else metadata ("KEY value", "Key,Value", "Frame N", a header row
 * of cell names rRcC). Fields are split at ',', ';' or TAB (quotes allowed);
 * values are never held as whole lines, so memory is one field plus the frame.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import_internal.h"

#define FIELD_MAX 1023

enum term { T_FIELD, T_LINE, T_END };
enum lk { LK_EOF, LK_BLANK, LK_DATA, LK_META, LK_COMMENT };

struct text {
	char tok[FIELD_MAX + 1];
	size_t tok_len;
	enum term tok_term;
	/* The next line's first field, read ahead to classify the line. */
	bool pending;
	enum lk kind;
	char first[FIELD_MAX + 1];
	size_t first_len;
	enum term first_term;
	uint64_t line, line_off; /* where that line starts */
	uint64_t meta_bytes;     /* non-data bytes since the last data line */
	bool in_header;
	/* layout */
	bool row_layout;
	unsigned lead;     /* row layout: columns before the cells */
	int time_col;      /* row layout: column with time stamps, -1 none */
	double time_scale; /* to microseconds */
	bool separated;    /* frames are separated (markers or blank lines) */
	bool markers;
	/* header row analysis */
	unsigned hdr_cells, hdr_first, hdr_cols, hdr_rows;
	bool hdr_bad;
	int hdr_time_col;
	double hdr_time_scale;
	/* metadata */
	unsigned meta_rows, meta_cols;
	double row_pitch, col_pitch;
	/* separator of the fields: ',', ';' (then ',' is a decimal comma when
	 * the data has one), '\t' or ' ' (runs of blanks, numpy savetxt); 0
	 * before the first data line is seen: any of , ; TAB */
	char sep, dec;
	uint64_t field_off; /* where the last field read starts */
	uint64_t first_off; /* where the pending line's first field starts */
	bool data_seen;
	enum km_import_units hdr_units; /* from cell names "r0c0_kpa" */
	bool have_prev_time;
	uint64_t prev_time;
	bool line_done; /* the last field read ended its line */
	/* "# mask_cells,N" (knotmap's CSV export of a masked input): the first
	 * frame's empty cells are outside the sensor; -1 when not said */
	long mask_said;
};

static const char *field_err = "field longer than 1023 bytes";

/* Is c a field separator here? */
static bool is_sep(const struct text *t, int c)
{
	if (t->sep == 0)
		return c == ',' || c == ';' || c == '\t';
	if (t->sep == ' ')
		return c == ' ' || c == '\t';
	return c == t->sep;
}

/* Reads one field into buf; *term tells what ended it. */
static int read_field(km_import *r, char *buf, size_t *len, enum term *term)
{
	struct km__in *in = &r->in;
	struct text *t = r->fmt;
	size_t n = 0;
	bool quoted = false, too_long = false;
	int c;
	while ((c = km__in_peek(in)) == ' ' || (t->sep == ' ' && c == '\t'))
		km__in_getc(in);
	t->field_off = in->offset;
	if (c == '"') {
		km__in_getc(in);
		quoted = true;
		for (;;) {
			c = km__in_getc(in);
			if (c < 0)
				break;
			if (c == '"') {
				if (km__in_peek(in) == '"') {
					km__in_getc(in);
				} else {
					break;
				}
			}
			if (n < FIELD_MAX)
				buf[n++] = (char)c;
			else
				too_long = true;
		}
	}
	for (;;) {
		c = km__in_getc(in);
		if (c < 0) {
			*term = T_END;
			break;
		}
		if (is_sep(t, c)) {
			*term = T_FIELD;
			if (t->sep == ' ') {
				/* a run of blanks is one separator; blanks before the
				 * end of the line separate nothing */
				int d;
				while ((d = km__in_peek(in)) == ' ' || d == '\t')
					km__in_getc(in);
				d = km__in_peek(in);
				if (d < 0) {
					*term = T_END;
				} else if (d == '\n' || d == '\r') {
					km__in_getc(in);
					if (d == '\r' && km__in_peek(in) == '\n')
						km__in_getc(in);
					*term = T_LINE;
				}
			}
			break;
		}
		if (c == '\n') {
			*term = T_LINE;
			break;
		}
		if (c == '\r') {
			if (km__in_peek(in) == '\n')
				km__in_getc(in);
			*term = T_LINE;
			break;
		}
		if (quoted && c == ' ')
			continue;
		if (n < FIELD_MAX)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	*len = n;
	t->line_done = *term != T_FIELD;
	if (in->err)
		return KM_ERR_IO;
	return too_long ? KM_ERR_MALFORMED : KM_OK;
}

/* Consumes the rest of the current line. */
static void skip_line_rest(km_import *r)
{
	struct text *t = r->fmt;
	int c;
	if (t->line_done)
		return;
	while ((c = km__in_getc(&r->in)) >= 0 && c != '\n')
		;
	t->line_done = true;
}

/* The separator of the first data-looking line of the head (a line whose
 * first character is a digit, or a sign or point before one). */
static void detect_sep(const char *h, size_t n, char *sep, char *dec)
{
	*sep = 0;
	*dec = '.';
	const char *p = h, *end = h + n;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e && end - p < 256)
			break; /* a short partial line says too little */
		if (!e)
			e = end; /* a line longer than the head: its start says enough */
		const char *q = p;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		if (q < e && (*q == '+' || *q == '-' || *q == '.'))
			q++;
		/* the first token must be a number ("2022-08-16 export" is not) */
		const char *tok = p;
		while (tok < e && (*tok == ' ' || *tok == '\t'))
			tok++;
		const char *tend = tok;
		while (tend < e && !strchr(",; \t\r", *tend))
			tend++;
		double v;
		bool number = km__parse_decimal(tok, (size_t)(tend - tok), '.', &v);
		if (!number && tend < e && *tend == ',') {
			/* "1,5;2": a decimal comma inside the first token */
			const char *t2 = tend + 1;
			while (t2 < e && *t2 >= '0' && *t2 <= '9')
				t2++;
			number = t2 < e && *t2 == ';' &&
			         km__parse_decimal(tok, (size_t)(t2 - tok), ',', &v);
		}
		if (number && q < e && *q >= '0' && *q <= '9') {
			bool semi = memchr(p, ';', (size_t)(e - p)) != NULL;
			bool comma = memchr(p, ',', (size_t)(e - p)) != NULL;
			bool tab = memchr(p, '\t', (size_t)(e - p)) != NULL;
			if (semi) {
				*sep = ';';
				*dec = comma ? ',' : '.';
			} else if (comma) {
				*sep = ',';
			} else if (tab) {
				*sep = '\t';
			} else {
				/* blanks between two values: numpy savetxt's default */
				const char *a = q;
				while (a < e && *a != ' ' && *a != '\r')
					a++;
				while (a < e && (*a == ' ' || *a == '\r'))
					a++;
				if (a < e)
					*sep = ' ';
			}
			return;
		}
		p = e + 1;
	}
}

/* The whole string is a decimal number (NaN and inf included; no hex). */
static bool parse_number(const struct text *t, const char *s, double *v)
{
	return km__parse_decimal(s, strlen(s), t->dec ? t->dec : '.', v);
}

/* Column (1-based) of the field read last. */
static uint64_t field_col(const struct text *t)
{
	return t->field_off >= t->line_off ? t->field_off - t->line_off + 1 : 0;
}

static bool comment_is_meta(struct text *t);

static int peek_line(km_import *r, enum lk *kind)
{
	struct text *t = r->fmt;
	if (t->pending) {
		*kind = t->kind;
		return KM_OK;
	}
	t->line = r->in.line;
	t->line_off = r->in.offset;
	if (km__in_peek(&r->in) < 0) {
		if (r->in.err)
			return km__import_fail(r, KM_ERR_IO, t->line, t->line_off, "read error");
		t->kind = *kind = LK_EOF;
		t->pending = true;
		return KM_OK;
	}
	int rc = read_field(r, t->first, &t->first_len, &t->first_term);
	if (rc == KM_ERR_MALFORMED)
		return km__import_fail(r, rc, t->line, t->line_off, "%s", field_err);
	if (rc != KM_OK)
		return km__import_fail(r, rc, t->line, t->line_off, "read error");
	/* A UTF-8 byte order mark before the first field. */
	if (t->line_off == 0 && t->first_len >= 3 && !memcmp(t->first, "\xEF\xBB\xBF", 3)) {
		memmove(t->first, t->first + 3, t->first_len - 2);
		t->first_len -= 3;
	}
	double v;
	if (t->first_len == 0 && t->first_term == T_FIELD) {
		/* ",,,,": a blank line padded with separators (XSENSOR), unless a
		 * value follows (then a data line with an empty first cell) */
		size_t len;
		enum term term = T_FIELD;
		bool any = false;
		while (term == T_FIELD && !any) {
			rc = read_field(r, t->tok, &len, &term);
			if (rc != KM_OK)
				return km__import_fail(r, rc, t->line, t->line_off, "%s",
				                       rc == KM_ERR_IO ? "read error" : field_err);
			any = len > 0;
		}
		if (!any) {
			t->kind = LK_BLANK;
		} else {
			rc = km__in_seek(&r->in, t->line_off, t->line);
			if (rc == KM_OK)
				rc = read_field(r, t->first, &t->first_len, &t->first_term);
			if (rc != KM_OK)
				return km__import_fail(r, rc, t->line, t->line_off, "read error");
			t->kind = LK_DATA;
		}
	} else if (t->first_len == 0) {
		t->kind = LK_BLANK;
	} else if (t->first[0] == '#') {
		/* numpy savetxt header/footer, comments; and knotmap's own CSV export,
		 * which says its rate and spacing in comment lines ("# rate_hz,100") so
		 * that pandas (comment='#') and R (comment.char='#') read it as it is. */
		t->kind = comment_is_meta(t) ? LK_META : LK_COMMENT;
	} else {
		t->kind = parse_number(t, t->first, &v) ? LK_DATA : LK_META;
	}
	t->first_off = t->field_off;
	t->pending = true;
	*kind = t->kind;
	return KM_OK;
}

static int count_meta(km_import *r)
{
	struct text *t = r->fmt;
	t->meta_bytes += r->in.offset - t->line_off;
	if (t->meta_bytes > r->cfg.max_header_bytes)
		return km__import_fail(r, KM_ERR_MALFORMED, t->line, t->line_off,
		                       "more than %u bytes of header/metadata before the data",
		                       (unsigned)r->cfg.max_header_bytes);
	return KM_OK;
}

/* Lowercase alphanumerics of s: "Sensel Width (cm)" -> "senselwidthcm". */
static void norm_key(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; *s && n + 1 < cap; s++)
		if (isalnum((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

static bool starts(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* A header-row field: cell names rRcC (any suffix), time columns. */
static void header_field(struct text *t, unsigned i, const char *f)
{
	unsigned rr, cc;
	char tail;
	const char *p = f;
	if ((p[0] == 'r' || p[0] == 'R') && sscanf(p + 1, "%u%c", &rr, &tail) == 2 &&
	    (tail == 'c' || tail == 'C')) {
		const char *q = strpbrk(p + 1, "cC");
		if (q && sscanf(q + 1, "%u", &cc) == 1) {
			/* "r0c0_kpa": knotmap's CSV names the units in the cell names */
			const char *u = q + 1;
			while (*u >= '0' && *u <= '9')
				u++;
			enum km_import_units units;
			if (*u == '_' && km_import_units_parse(u + 1, &units) == KM_OK)
				t->hdr_units = units;
			unsigned k = t->hdr_cells;
			if (k == 0)
				t->hdr_first = i;
			if (rr == 0)
				t->hdr_cols = k + 1;
			if (i != t->hdr_first + k || rr > KM_FRAME_MAX_DIM ||
			    cc > KM_FRAME_MAX_DIM || (rr == 0 && cc != k) ||
			    (rr > 0 &&
			     (t->hdr_cols == 0 || rr != k / t->hdr_cols || cc != k % t->hdr_cols)))
				t->hdr_bad = true;
			t->hdr_rows = rr + 1;
			t->hdr_cells++;
			return;
		}
	}
	if (t->hdr_cells)
		return;
	char k[64];
	norm_key(f, k, sizeof k);
	double scale = 0;
	if (!strcmp(k, "devicetimeus") || !strcmp(k, "timeus"))
		scale = 1;
	else if (!strcmp(k, "timems") || !strcmp(k, "millis"))
		scale = 1e3;
	else if (!strcmp(k, "time") || !strcmp(k, "times") || !strcmp(k, "seconds") ||
	         !strcmp(k, "elapsedtime") || !strcmp(k, "elapsedtimes"))
		scale = 1e6;
	if (scale > 0 && t->hdr_time_col < 0) {
		t->hdr_time_col = (int)i;
		t->hdr_time_scale = scale;
	}
}

/* A length with a unit ("0.508 cm", key "Sensel Width (cm)"), in mm. */
static bool parse_length(const char *value, const char *unit, const char *key, double *mm)
{
	char *e;
	double v = strtod(value, &e);
	if (e == value || !isfinite(v) || v <= 0)
		return false;
	while (*e == ' ')
		e++;
	char u[16];
	norm_key(*e ? e : unit ? unit : "", u, sizeof u);
	if (!u[0]) {
		/* the unit in the key: "senselwidthcm", "rowspacingmm" */
		size_t n = strlen(key);
		if (n > 2 && !strcmp(key + n - 2, "cm"))
			strcpy(u, "cm");
		else if (n > 2 && !strcmp(key + n - 2, "in"))
			strcpy(u, "in");
		else
			strcpy(u, "mm");
	}
	if (!strcmp(u, "mm"))
		*mm = v;
	else if (!strcmp(u, "cm"))
		*mm = v * 10;
	else if (!strcmp(u, "in") || !strcmp(u, "inch") || !strcmp(u, "inches"))
		*mm = v * 25.4;
	else
		return false;
	return *mm <= 1000;
}

static int meta_value_error(km_import *r, const char *key, const char *value)
{
	struct text *t = r->fmt;
	return km__import_fail(r, KM_ERR_MALFORMED, t->line, t->line_off, "bad %s value '%.60s'",
	                       key, value);
}

/* A comment line that carries one of the keys knotmap's CSV export writes
 * ("# rate_hz,100", "# row_spacing_mm,7.5", "# col_spacing_mm,7.5") becomes a
 * metadata line: the '#' and the blanks after it are dropped from its first
 * field. Any other comment stays a comment. */
static bool comment_is_meta(struct text *t)
{
	size_t i = 1;
	while (i < t->first_len && (t->first[i] == ' ' || t->first[i] == '\t'))
		i++;
	char key[64];
	norm_key(t->first + i, key, sizeof key);
	if (strcmp(key, "ratehz") != 0 && strcmp(key, "rowspacingmm") != 0 &&
	    strcmp(key, "colspacingmm") != 0 && strcmp(key, "maskcells") != 0)
		return false;
	memmove(t->first, t->first + i, t->first_len - i + 1);
	t->first_len -= i;
	return true;
}

/* Consumes a metadata line (its first field is pending) and applies it. */
static int consume_meta(km_import *r)
{
	struct text *t = r->fmt;
	char f[3][FIELD_MAX + 1];
	memcpy(f[0], t->first, t->first_len + 1);
	f[1][0] = f[2][0] = '\0';
	enum term term = t->first_term;
	t->pending = false;
	if (t->hdr_cells == 0)
		t->hdr_time_col = -1; /* time columns count only on the cell-name row */
	if (t->in_header)
		header_field(t, 0, f[0]);
	unsigned nf = 1;
	while (term == T_FIELD) {
		size_t len;
		int rc = read_field(r, t->tok, &len, &term);
		if (rc != KM_OK)
			return km__import_fail(r, rc, t->line, t->line_off, "%s",
			                       rc == KM_ERR_IO ? "read error" : field_err);
		if (nf < 3)
			memcpy(f[nf], t->tok, len + 1);
		if (t->in_header)
			header_field(t, nf, t->tok);
		nf++;
		if ((nf & 1023) == 0 && count_meta(r) != KM_OK)
			return r->damage.error;
	}
	int rc = count_meta(r);
	if (rc != KM_OK)
		return rc;
	if (!t->in_header && !(nf == 2 || nf == 1))
		return KM_OK;
	/* Tekscan style: one field "KEY value [unit]". */
	char *key = f[0], *value = f[1], *unit = f[2];
	char split[FIELD_MAX + 1];
	if (nf == 1) {
		memcpy(split, f[0], strlen(f[0]) + 1);
		char *sp = strpbrk(split, " \t");
		key = split;
		value = sp ? sp : split + strlen(split);
		if (sp) {
			*sp = '\0';
			value = sp + 1;
			while (*value == ' ')
				value++;
		}
		unit = NULL;
	}
	char k[64];
	norm_key(key, k, sizeof k);
	char *e;
	if (!strcmp(k, "frame")) {
		strtoull(value, &e, 10);
		if (e != value && *e == '\0') {
			t->markers = true;
			t->separated = true;
		}
		return KM_OK;
	}
	if (!t->in_header)
		return KM_OK;
	if (!strcmp(k, "rows") || !strcmp(k, "numrows") || !strcmp(k, "sensorrows") ||
	    !strcmp(k, "cols") || !strcmp(k, "columns") || !strcmp(k, "numcols") ||
	    !strcmp(k, "numcolumns") || !strcmp(k, "sensorcolumns")) {
		unsigned long v = strtoul(value, &e, 10);
		if (e == value || *e || v < 1 || v > KM_FRAME_MAX_DIM)
			return km__import_fail(r, KM_ERR_SHAPE, t->line, t->line_off,
			                       "%s '%.40s' is not in 1..%d", key, value,
			                       KM_FRAME_MAX_DIM);
		if (k[0] == 'r' || !strcmp(k, "numrows") || !strcmp(k, "sensorrows"))
			t->meta_rows = (unsigned)v;
		else
			t->meta_cols = (unsigned)v;
	} else if (starts(k, "rowspacing") || starts(k, "senselheight") ||
	           starts(k, "colspacing") || starts(k, "columnspacing") ||
	           starts(k, "senselwidth") || starts(k, "senselsize") || starts(k, "pitch")) {
		double mm;
		if (!parse_length(value, unit, k, &mm))
			return meta_value_error(r, key, value);
		if (starts(k, "rowspacing") || starts(k, "senselheight"))
			t->row_pitch = mm;
		else
			t->col_pitch = mm;
	} else if (!strcmp(k, "secondsperframe")) {
		double v = strtod(value, &e);
		if (e == value || !isfinite(v) || v < 0 || v > 3600 || (v > 0 && v < 1e-5))
			return meta_value_error(r, key, value);
		if (v > 0)
			km__import_set_rate(r, 1.0 / v);
	} else if (!strcmp(k, "framerate") || !strcmp(k, "frameratehz") || !strcmp(k, "rate") ||
	           !strcmp(k, "ratehz") || !strcmp(k, "fps") || !strcmp(k, "samplerate") ||
	           !strcmp(k, "samplingrate") || !strcmp(k, "framespersecond")) {
		double v = strtod(value, &e);
		if (e == value || !isfinite(v) || v <= 0 || v > 100000)
			return meta_value_error(r, key, value);
		km__import_set_rate(r, v);
	} else if (!strcmp(k, "units") || !strcmp(k, "unit") || !strcmp(k, "pressureunits") ||
	           !strcmp(k, "pressureunit")) {
		enum km_import_units u;
		if (km_import_units_parse(value, &u) != KM_OK)
			return km__import_fail(r, KM_ERR_UNSUPPORTED, t->line, t->line_off,
			                       "unknown units '%.40s' (" KM_IMPORT_UNITS_LIST ")",
			                       value);
		km__import_set_units(r, u);
	} else if (!strcmp(k, "maskcells")) {
		long v = strtol(value, &e, 10);
		if (e == value || *e || v < 0 || v > (long)KM_FRAME_MAX_DIM * KM_FRAME_MAX_DIM)
			return meta_value_error(r, key, value);
		t->mask_said = v;
	} else if (!strcmp(k, "sensortype") || !strcmp(k, "sensor") || !strcmp(k, "model") ||
	           !strcmp(k, "product") || !strcmp(k, "device")) {
		snprintf(r->info.model, sizeof r->info.model, "%.63s", value);
	} else if (!strcmp(k, "serial") || !strcmp(k, "serialnumber") ||
	           !strcmp(k, "sensorserial")) {
		snprintf(r->info.serial, sizeof r->info.serial, "%.63s", value);
	}
	return KM_OK;
}

/* Reads a data line (its first field pending) into dst[0..n), skipping `lead`
 * leading columns (time from time_col). Empty fields at the end of the line
 * are padding; an empty field before a value is an empty cell. */
static int read_data_line(km_import *r, float *dst, size_t n, unsigned lead, uint64_t *time_us,
                          bool *have_time)
{
	struct text *t = r->fmt;
	t->pending = false;
	t->meta_bytes = 0;
	t->data_seen = true;
	const char *f = t->first;
	size_t len = t->first_len;
	enum term term = t->first_term;
	uint64_t col = t->first_off - t->line_off + 1;
	size_t i = 0, cells = 0;
	uint64_t empty_col = 0; /* the first empty field not yet known to be padding */
	size_t empty_i = 0;
	const uint8_t *mask = t->row_layout ? r->mask : NULL;
	for (;;) {
		if (len == 0 && mask && i >= lead && cells < n && !mask[cells]) {
			dst[cells++] = 0.0f; /* outside the sensor */
		} else if (len == 0 && i >= lead) {
			if (!empty_col) {
				empty_col = col;
				empty_i = i;
			}
		} else if (empty_col) {
			return km__import_fail_at(r, KM_ERR_PARSE, t->line, empty_col, t->line_off,
			                          "field %zu: empty cell (expected a number)",
			                          empty_i + 1);
		} else if (i < lead) {
			double v;
			if ((int)i == t->time_col && time_us) {
				if (!parse_number(t, f, &v) || !isfinite(v) || v < 0 ||
				    v * t->time_scale > 1.8e19)
					return km__import_fail_at(
					    r, KM_ERR_PARSE, t->line, col, t->line_off,
					    "field %zu: bad time stamp '%.40s' (expected a number >= 0)",
					    i + 1, f);
				uint64_t us = (uint64_t)llround(v * t->time_scale);
				if (t->have_prev_time && us < t->prev_time)
					return km__import_fail_at(
					    r, KM_ERR_MALFORMED, t->line, col, t->line_off,
					    "field %zu: time stamp '%.40s' is before the previous "
					    "frame's (time goes backwards)",
					    i + 1, f);
				t->prev_time = us;
				t->have_prev_time = true;
				*time_us = us;
				*have_time = true;
			}
		} else {
			double v;
			if (cells >= n)
				return km__import_fail_at(r, KM_ERR_SHAPE, t->line, col, t->line_off,
				                          "more than %zu values on the line", n);
			if (!parse_number(t, f, &v))
				return km__import_fail_at(r, KM_ERR_PARSE, t->line, col, t->line_off,
				                          "field %zu: '%.40s' is not a number", i + 1,
				                          f);
			if (!isfinite(v) || fabs(v) > FLT_MAX)
				return km__import_fail_at(r, KM_ERR_NONFINITE, t->line, col,
				                          t->line_off,
				                          "field %zu: '%.40s' is not a finite value",
				                          i + 1, f);
			dst[cells++] = (float)v;
		}
		i++;
		if (term != T_FIELD)
			break;
		int rc = read_field(r, t->tok, &len, &term);
		if (rc != KM_OK)
			return km__import_fail(r, rc, t->line, t->line_off, "%s",
			                       rc == KM_ERR_IO ? "read error" : field_err);
		f = t->tok;
		col = field_col(t);
	}
	if (cells < n) {
		if (term == T_END)
			return km__import_fail_at(r, KM_ERR_TRUNCATED, t->line, col, t->line_off,
			                          "file ends inside the line (%zu of %zu values)",
			                          cells, n);
		return km__import_fail_at(r, KM_ERR_SHAPE, t->line, empty_col ? empty_col : col,
		                          t->line_off, "%zu values; expected %zu (ragged row)",
		                          cells, n);
	}
	return KM_OK;
}

/* Counts the values on the pending data line, then rewinds to its start. */
static int count_line(km_import *r, size_t *count)
{
	struct text *t = r->fmt;
	uint64_t off = t->line_off, line = t->line;
	size_t n = 1, len = t->first_len, filled = 1;
	enum term term = t->first_term;
	while (term == T_FIELD) {
		int rc = read_field(r, t->tok, &len, &term);
		if (rc != KM_OK)
			return km__import_fail(r, rc, line, off, "%s",
			                       rc == KM_ERR_IO ? "read error" : field_err);
		n++;
		if (len)
			filled = n;
	}
	*count = filled; /* empty fields at the end: a trailing separator, padding */
	/* and how many data lines follow directly (block height) */
	t->pending = false;
	size_t lines = 1;
	enum lk k;
	for (;;) {
		int rc = peek_line(r, &k);
		if (rc != KM_OK)
			return rc;
		if (k != LK_DATA)
			break;
		t->pending = false;
		term = t->first_term;
		while (term == T_FIELD) {
			rc = read_field(r, t->tok, &len, &term);
			if (rc != KM_OK)
				return km__import_fail(r, rc, t->line, t->line_off, "%s",
				                       rc == KM_ERR_IO ? "read error" : field_err);
		}
		if (++lines > KM_FRAME_MAX_DIM)
			break;
	}
	t->pending = false;
	int rc = km__in_seek(&r->in, off, line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, line, off, "input is not seekable");
	enum lk again;
	rc = peek_line(r, &again);
	return rc != KM_OK ? rc : (int)lines;
}

/* knotmap's CSV of a masked input ("# mask_cells,N", one frame per row):
 * the pending first data line's empty cells are the cells outside the
 * sensor, and there must be N others. Reads the line, then rewinds to it. */
static int scan_mask(km_import *r, size_t n)
{
	struct text *t = r->fmt;
	uint64_t off = t->line_off, line = t->line;
	if (!r->mask) {
		r->mask = km__malloc(n);
		if (!r->mask)
			return KM_ERR_NO_MEMORY;
	}
	memset(r->mask, 0, n);
	size_t i = 0, on = 0, len = t->first_len;
	enum term term = t->first_term;
	for (;;) {
		if (i >= t->lead && i - t->lead < n && len) {
			r->mask[i - t->lead] = 1;
			on++;
		}
		i++;
		if (term != T_FIELD)
			break;
		int rc = read_field(r, t->tok, &len, &term);
		if (rc != KM_OK)
			return km__import_fail(r, rc, line, off, "%s",
			                       rc == KM_ERR_IO ? "read error" : field_err);
	}
	if (on != (size_t)t->mask_said)
		return km__import_fail(r, KM_ERR_MALFORMED, line, off,
		                       "'# mask_cells,%ld' but the first frame has %zu cells "
		                       "with a value (of %zu)",
		                       t->mask_said, on, n);
	if (on == n) {
		km__free(r->mask);
		r->mask = NULL;
	}
	t->pending = false;
	int rc = km__in_seek(&r->in, off, line);
	if (rc != KM_OK)
		return km__import_fail(r, rc, line, off, "input is not seekable");
	enum lk again;
	return peek_line(r, &again);
}

static int text_open(km_import *r)
{
	struct text *t = r->fmt;
	if (!t) {
		t = km__calloc(1, sizeof *t);
		if (!t)
			return KM_ERR_NO_MEMORY;
		r->fmt = t;
	}
	memset(t, 0, sizeof *t);
	t->time_col = t->hdr_time_col = -1;
	t->mask_said = -1;
	t->in_header = true;
	t->line_done = true;
	{
		/* the separator, from the first data line of the head */
		char head[8192];
		size_t n = km__in_read(&r->in, head, sizeof head);
		detect_sep(head, n, &t->sep, &t->dec);
		int rc = km__in_seek(&r->in, 0, 1);
		if (rc != KM_OK)
			return km__import_fail(r, rc, 1, 0, "input is not seekable");
	}
	enum lk k = LK_EOF; /* set by peek_line; the optimiser cannot see that at -O3 */
	for (;;) {
		int rc = peek_line(r, &k);
		if (rc != KM_OK)
			return rc;
		if (k == LK_DATA || k == LK_EOF)
			break;
		if (k == LK_BLANK) {
			t->pending = false;
			rc = count_meta(r);
		} else if (k == LK_COMMENT) {
			t->pending = false;
			skip_line_rest(r);
			rc = count_meta(r);
		} else {
			rc = consume_meta(r);
		}
		if (rc != KM_OK)
			return rc;
	}
	t->in_header = false;
	struct km_import_info *in = &r->info;
	if (t->row_pitch > 0 || t->col_pitch > 0)
		km__import_set_pitch2(r, t->row_pitch, t->col_pitch);
	if (t->hdr_units != KM_UNITS_DEFAULT)
		km__import_set_units(r, t->hdr_units);
	unsigned rows = r->cfg.rows ? r->cfg.rows : t->meta_rows ? t->meta_rows : r->side_rows;
	unsigned cols = r->cfg.cols ? r->cfg.cols : t->meta_cols ? t->meta_cols : r->side_cols;
	if ((rows == 0) != (cols == 0))
		return km__import_fail(r, KM_ERR_SHAPE, t->line, t->line_off,
		                       "the header gives %s but not %s", rows ? "rows" : "columns",
		                       rows ? "columns" : "rows");
	if (t->hdr_cells) {
		if (t->hdr_bad || t->hdr_cols == 0 || t->hdr_cells != t->hdr_rows * t->hdr_cols)
			return km__import_fail(
			    r, KM_ERR_SHAPE, 1, 0,
			    "header cell names are not r0c0, r0c1, ... in row order");
		if (rows && (rows != t->hdr_rows || cols != t->hdr_cols))
			return km__import_fail(r, KM_ERR_SHAPE, 1, 0,
			                       "header names a %ux%u grid, not %ux%u", t->hdr_rows,
			                       t->hdr_cols, rows, cols);
		rows = t->hdr_rows;
		cols = t->hdr_cols;
		t->row_layout = true;
		t->lead = t->hdr_first;
		t->time_col = t->hdr_time_col < (int)t->lead ? t->hdr_time_col : -1;
		t->time_scale = t->hdr_time_scale;
		if (t->mask_said >= 0 && k == LK_DATA) {
			int rc = scan_mask(r, (size_t)rows * cols);
			if (rc != KM_OK)
				return rc;
		}
	} else if (k == LK_DATA) {
		size_t n = 0;
		int lines = count_line(r, &n);
		if (lines < 0)
			return lines;
		if (rows) {
			if (n == cols) {
				t->row_layout = false;
			} else if (n == (size_t)rows * cols) {
				t->row_layout = true;
			} else {
				return km__import_fail(
				    r, KM_ERR_SHAPE, t->line, t->line_off,
				    "%zu values; expected %u (a row of the %ux%u "
				    "grid) or %u (a whole frame)",
				    n, cols, rows, cols, rows * cols);
			}
		} else {
			/* blank-line separated blocks: the first block sets the grid */
			if (n > KM_FRAME_MAX_DIM)
				return km__import_fail(
				    r, KM_ERR_SHAPE, t->line, t->line_off,
				    "%zu values on a line: more than a row can hold (%d), so one "
				    "frame per line; give its grid (--rows R --cols C, or \"rows\" "
				    "and \"cols\" in a sidecar; rows x cols = %zu)",
				    n, KM_FRAME_MAX_DIM, n);
			if (lines > KM_FRAME_MAX_DIM)
				return km__import_fail(r, KM_ERR_SHAPE, t->line, t->line_off,
				                       "first frame is larger than %dx%d",
				                       KM_FRAME_MAX_DIM, KM_FRAME_MAX_DIM);
			rows = (unsigned)lines;
			cols = (unsigned)n;
			t->separated = true;
		}
	} else if (!rows) {
		/* not a single number: this is not pressure data at all */
		return km__import_fail(r, KM_ERR_BAD_MAGIC, t->line, t->line_off,
		                       "no data and no grid size in the file");
	} else {
		/* a header and nothing else: not "0 frames, fine" */
		return km__import_fail(r, KM_ERR_TRUNCATED, t->line, t->line_off,
		                       "no frames: no line of numbers after the header");
	}
	if (t->mask_said >= 0 && !t->hdr_cells)
		return km__import_fail(r, KM_ERR_MALFORMED, 1, 0,
		                       "'# mask_cells' goes with a header row of cell names "
		                       "(knotmap's CSV export)");
	in->rows = (uint16_t)rows;
	in->cols = (uint16_t)cols;
	return KM_OK;
}

/* A line between frames whose first field is not a number: a frame
 * marker ("Frame 2", "Frame,2") is fine; anything else is not skipped in
 * silence once the data has begun. */
static int between_frames(km_import *r)
{
	struct text *t = r->fmt;
	if (!strncasecmp(t->first, "frame", 5) || !t->data_seen)
		return consume_meta(r);
	return km__import_fail_at(r, KM_ERR_PARSE, t->line, t->first_off - t->line_off + 1,
	                          t->line_off,
	                          "expected a row of numbers%s, found '%.40s'",
	                          t->markers ? " or 'Frame N'" : "", t->first);
}

static int text_next(km_import *r, struct km_frame *out, bool *have_time)
{
	struct text *t = r->fmt;
	enum lk k;
	for (;;) {
		int rc = peek_line(r, &k);
		if (rc != KM_OK)
			return rc;
		if (k == LK_EOF)
			return KM_ERR_END;
		if (k == LK_DATA)
			break;
		if (k == LK_BLANK) {
			t->pending = false;
			rc = count_meta(r);
		} else if (k == LK_COMMENT) {
			t->pending = false;
			skip_line_rest(r);
			rc = count_meta(r);
		} else {
			rc = between_frames(r);
		}
		if (rc != KM_OK)
			return rc;
	}
	size_t cells = km_frame_cells(out);
	if (t->row_layout)
		return read_data_line(r, out->kpa, cells, t->lead, &out->device_time_us, have_time);
	for (unsigned y = 0; y < out->rows; y++) {
		if (y > 0) {
			int rc = peek_line(r, &k);
			if (rc != KM_OK)
				return rc;
			if (k == LK_EOF)
				return km__import_fail(
				    r, KM_ERR_TRUNCATED, t->line, t->line_off,
				    "file ends inside frame %llu (%u of %u rows)",
				    (unsigned long long)r->index, y, out->rows);
			if (k != LK_DATA)
				return km__import_fail(r, KM_ERR_SHAPE, t->line, t->line_off,
				                       "frame %llu has %u rows; expected %u",
				                       (unsigned long long)r->index, y, out->rows);
		}
		int rc =
		    read_data_line(r, out->kpa + (size_t)y * out->cols, out->cols, 0, NULL, NULL);
		if (rc != KM_OK)
			return rc;
	}
	if (t->separated) {
		int rc = peek_line(r, &k);
		if (rc != KM_OK)
			return rc;
		if (k == LK_DATA)
			return km__import_fail(r, KM_ERR_SHAPE, t->line, t->line_off,
			                       "frame %llu has more than %u rows",
			                       (unsigned long long)r->index, out->rows);
	}
	return KM_OK;
}

/* Partial reading: past the rest of the bad line and, for frames of
 * several lines, past the rest of the bad frame. */
static int text_resync(km_import *r)
{
	struct text *t = r->fmt;
	if (t->pending) {
		t->pending = false;
		if (t->kind == LK_EOF)
			return KM_ERR_END;
	}
	skip_line_rest(r);
	if (t->row_layout)
		return KM_OK;
	for (;;) {
		enum lk k;
		int rc = peek_line(r, &k);
		if (rc != KM_OK)
			return rc;
		if (k == LK_EOF)
			return KM_ERR_END;
		if (k != LK_DATA)
			return KM_OK;
		t->pending = false;
		skip_line_rest(r);
	}
}

static void text_close(km_import *r)
{
	km__free(r->fmt);
	r->fmt = NULL;
}

const struct km__import_ops km__import_text = {
    .format = KM_IMPORT_CSV,
    .open = text_open,
    .next = text_next,
    .close = text_close,
    .resync = text_resync,
};
