/* Importers: the common part (input, detection, units, overrides, sidecar,
 * errors, partial reading, conversion to .kmrec) and the recording source.
 * The formats live in import_npy.c, import_text.c (plain matrices and
 * key/value layouts), import_tekscan.c and import_xsensor.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import_internal.h"

#define MOD "import"

/* ------------------------------------------------------------------------ */
/* Input                                                                     */
/* ------------------------------------------------------------------------ */

static int in_fill(struct km__in *in)
{
	if (in->eof || in->err)
		return -1;
	if (!in->fp) {
		in->eof = true;
		return -1;
	}
	in->len = fread(in->buf, 1, KM__IN_BUF, in->fp);
	in->pos = 0;
	if (in->len == 0) {
		if (ferror(in->fp))
			in->err = KM_ERR_IO;
		in->eof = true;
		return -1;
	}
	return 0;
}

int km__in_getc(struct km__in *in)
{
	if (in->pos >= in->len && in_fill(in) != 0)
		return -1;
	int c = in->buf ? in->buf[in->pos] : in->mem[in->pos];
	in->pos++;
	in->offset++;
	if (c == '\n')
		in->line++;
	return c;
}

int km__in_peek(struct km__in *in)
{
	if (in->pos >= in->len && in_fill(in) != 0)
		return -1;
	return in->buf ? in->buf[in->pos] : in->mem[in->pos];
}

size_t km__in_read(struct km__in *in, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t done = 0;
	while (done < n) {
		if (in->pos >= in->len && in->fp && n >= 4096 && !in->eof && !in->err) {
			/* a large read (an .npy frame) with the buffer used up: the
			 * rest straight into dst, not through the buffer (one copy
			 * fewer a frame; the next frame then starts on an empty one) */
			size_t want = n - done, got = fread(d + done, 1, want, in->fp);
			in->offset += got;
			done += got;
			if (got < want) {
				if (ferror(in->fp))
					in->err = KM_ERR_IO;
				in->eof = true;
				break;
			}
			continue;
		}
		if (in->pos >= in->len && in_fill(in) != 0)
			break;
		const uint8_t *src = in->buf ? in->buf : in->mem;
		size_t k = KM_MIN(n - done, in->len - in->pos);
		memcpy(d + done, src + in->pos, k);
		in->pos += k;
		in->offset += k;
		done += k;
	}
	return done;
}

int km__in_seek(struct km__in *in, uint64_t offset, uint64_t line)
{
	in->eof = false;
	in->err = 0;
	if (!in->fp) {
		if (offset > in->mem_size)
			return KM_ERR_RANGE;
		in->pos = (size_t)offset;
		in->len = in->mem_size;
	} else {
		if (offset > (uint64_t)INT64_MAX || fseeko(in->fp, (off_t)offset, SEEK_SET) != 0)
			return KM_ERR_IO;
		clearerr(in->fp);
		in->pos = in->len = 0;
	}
	in->offset = offset;
	in->line = line;
	return KM_OK;
}

int km__in_line(struct km__in *in, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	bool any = false, too_long = false;
	int c;
	while ((c = km__in_getc(in)) >= 0) {
		any = true;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	if (in->err)
		return KM_ERR_IO;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	if (too_long)
		return KM_ERR_MALFORMED;
	return any ? 1 : 0;
}

bool km__parse_decimal(const char *s, size_t n, char dec, double *v)
{
	char tmp[64];
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof tmp)
		return false;
	size_t i = 0;
	if (s[i] == '+' || s[i] == '-')
		i++;
	const char *word = s + i;
	size_t wn = n - i;
	if ((wn == 3 && !strncasecmp(word, "nan", 3)) || (wn == 3 && !strncasecmp(word, "inf", 3)) ||
	    (wn == 8 && !strncasecmp(word, "infinity", 8))) {
		*v = wn == 3 && (word[0] == 'n' || word[0] == 'N') ? (double)NAN
		     : s[0] == '-'                                  ? -(double)INFINITY
		                                                    : (double)INFINITY;
		return true;
	}
	size_t digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (i < n && s[i] == dec) {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t ed = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			ed++;
		}
		if (ed == 0)
			return false;
	}
	if (i != n)
		return false;
	if (dec == '.') {
		char *e;
		*v = strtod(s, &e); /* stops at n: what follows is not part of a number */
		if (e == s + n)
			return true;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (dec != '.') {
		char *d = strchr(tmp, dec);
		if (d)
			*d = '.';
	}
	*v = strtod(tmp, NULL);
	return true;
}

/* ------------------------------------------------------------------------ */
/* Names and units                                                           */
/* ------------------------------------------------------------------------ */

static const char *const format_names[] = {"auto", "kmrec", "npy", "tekscan", "xsensor", "csv"};

const char *km_import_format_name(enum km_import_format f)
{
	return (unsigned)f < KM_ARRAY_SIZE(format_names) ? format_names[f] : NULL;
}

int km_import_format_parse(const char *name, enum km_import_format *out)
{
	if (!name || !out)
		return KM_ERR_INVALID_ARG;
	for (size_t i = 0; i < KM_ARRAY_SIZE(format_names); i++)
		if (!strcasecmp(name, format_names[i])) {
			*out = (enum km_import_format)i;
			return KM_OK;
		}
	return KM_ERR_INVALID_ARG;
}

static const char *const unit_names[] = {"default", "kPa",  "mmHg", "N/cm2",  "psi",
                                         "counts",  "Pa",   "kgf/cm2", "gf/cm2", "bar",
                                         "mbar",    "MPa",  "cmH2O"};

const char *km_import_units_name(enum km_import_units u)
{
	return (unsigned)u < KM_ARRAY_SIZE(unit_names) ? unit_names[u] : "?";
}

int km_import_units_parse(const char *text, enum km_import_units *out)
{
	if (!text || !out)
		return KM_ERR_INVALID_ARG;
	/* Compare without spaces, quotes, brackets and case: "mm Hg", "(kPa)". */
	char k[32], cased[32];
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (isspace(*p) || *p == '"' || *p == '(' || *p == ')' || *p == '[' || *p == ']')
			continue;
		if (n + 1 >= sizeof k)
			return KM_ERR_UNSUPPORTED;
		cased[n] = (char)*p;
		k[n++] = (char)tolower(*p);
	}
	k[n] = cased[n] = '\0';
	/* the two spellings whose case changes the unit by 10^9 */
	if (!strcmp(cased, "mPa") || !strcmp(cased, "Mbar"))
		return KM_ERR_UNSUPPORTED;
	/* "^2" and "²" (UTF-8 C2 B2) are "2" */
	char *w = k;
	for (const char *p = k; *p;) {
		if (p[0] == '^' && p[1] == '2') {
			*w++ = '2';
			p += 2;
		} else if ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xB2) {
			*w++ = '2';
			p += 2;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	static const struct {
		const char *name;
		enum km_import_units u;
	} map[] = {
	    {"kpa", KM_UNITS_KPA},        {"kilopascal", KM_UNITS_KPA},
	    {"kilopascals", KM_UNITS_KPA}, {"mmhg", KM_UNITS_MMHG},
	    {"n/cm2", KM_UNITS_NCM2},     {"ncm2", KM_UNITS_NCM2},
	    {"psi", KM_UNITS_PSI},        {"lbf/in2", KM_UNITS_PSI},
	    {"pa", KM_UNITS_PA},          {"pascal", KM_UNITS_PA},
	    {"pascals", KM_UNITS_PA},     {"n/m2", KM_UNITS_PA},
	    {"kgf/cm2", KM_UNITS_KGFCM2}, {"kg/cm2", KM_UNITS_KGFCM2},
	    {"gf/cm2", KM_UNITS_GFCM2},   {"g/cm2", KM_UNITS_GFCM2},
	    {"bar", KM_UNITS_BAR},        {"mbar", KM_UNITS_MBAR},
	    {"hpa", KM_UNITS_MBAR},       {"mpa", KM_UNITS_MPA},
	    {"n/mm2", KM_UNITS_MPA},      {"cmh2o", KM_UNITS_CMH2O},
	    {"raw", KM_UNITS_RAW},        {"counts", KM_UNITS_RAW},
	    {"none", KM_UNITS_RAW},       {"adc", KM_UNITS_RAW},
	};
	for (size_t i = 0; i < KM_ARRAY_SIZE(map); i++)
		if (!strcmp(k, map[i].name)) {
			*out = map[i].u;
			return KM_OK;
		}
	return KM_ERR_UNSUPPORTED;
}

double km_import_units_to_kpa(enum km_import_units u)
{
	/* exact by definition (NIST SP 811 appendix B; g = 9.80665 m/s^2) */
	switch (u) {
	case KM_UNITS_MMHG:
		return 0.133322387415; /* 13.5951 g/cm^3 x 1 mm x g */
	case KM_UNITS_NCM2:
		return 10.0; /* 1 N/cm^2 = 10^4 Pa */
	case KM_UNITS_PSI:
		return 6.894757293168; /* 0.45359237 kg x g / (0.0254 m)^2 */
	case KM_UNITS_PA:
		return 0.001;
	case KM_UNITS_KGFCM2:
		return 98.0665; /* 1 kg x g / 10^-4 m^2 */
	case KM_UNITS_GFCM2:
	case KM_UNITS_CMH2O: /* 1 g/cm^3 x 1 cm x g: the same 98.0665 Pa */
		return 0.0980665;
	case KM_UNITS_BAR:
		return 100.0;
	case KM_UNITS_MBAR:
		return 0.1;
	case KM_UNITS_MPA:
		return 1000.0;
	default:
		return 1.0;
	}
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static int import_vfail(km_import *r, int code, uint64_t line, uint64_t column, uint64_t offset,
                        const char *fmt, va_list ap) KM_PRINTF(6, 0);
static int import_vfail(km_import *r, int code, uint64_t line, uint64_t column, uint64_t offset,
                        const char *fmt, va_list ap)
{
	if (r->damage.damaged)
		return r->damage.error;
	char msg[200];
	vsnprintf(msg, sizeof msg, fmt, ap);
	struct km_import_damage *d = &r->damage;
	d->damaged = true;
	d->error = code;
	d->line = line;
	d->column = line ? column : 0;
	d->byte_offset = offset;
	d->frame_index = r->index;
	if (line && column)
		snprintf(d->message, sizeof d->message, "%.60s:%llu:%llu: %.150s", r->name,
		         (unsigned long long)line, (unsigned long long)column, msg);
	else if (line)
		snprintf(d->message, sizeof d->message, "%.60s:%llu: %.150s", r->name,
		         (unsigned long long)line, msg);
	else
		snprintf(d->message, sizeof d->message, "%.60s: byte %llu: %.150s", r->name,
		         (unsigned long long)offset, msg);
	/* a skip under config.partial is a warning, logged by km_import_next */
	if (!r->quiet && (!r->cfg.partial || !r->ops || !r->ops->resync || !r->reading)) {
		km__log(&r->cfg.log, KM_LOG_ERROR, MOD, "%s", d->message);
		if (r->cfg.detail && r->cfg.detail_size)
			snprintf(r->cfg.detail, r->cfg.detail_size, "%s", d->message);
	}
	return code;
}

int km__import_fail(km_import *r, int code, uint64_t line, uint64_t offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = import_vfail(r, code, line, 0, offset, fmt, ap);
	va_end(ap);
	return rc;
}

int km__import_fail_at(km_import *r, int code, uint64_t line, uint64_t column, uint64_t offset,
                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = import_vfail(r, code, line, column, offset, fmt, ap);
	va_end(ap);
	return rc;
}

void km__import_warn(km_import *r, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	km__log(&r->cfg.log, KM_LOG_WARN, MOD, "%.60s: %s", r->name, msg);
}

/* Errors before a reader exists (config, open). */
static void early_fail(const struct km_import_config *cfg, const char *fmt, ...) KM_PRINTF(2, 3);
static void early_fail(const struct km_import_config *cfg, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	km__log(&cfg->log, KM_LOG_ERROR, MOD, "%s", msg);
	if (cfg->detail && cfg->detail_size)
		snprintf(cfg->detail, cfg->detail_size, "%s", msg);
}

void km__import_set_rate(km_import *r, double hz)
{
	if (r->info.rate_from != KM_IMPORT_FROM_CONFIG) {
		r->info.rate_hz = (float)hz;
		r->info.rate_from = KM_IMPORT_FROM_FILE;
	}
}

void km__import_set_pitch(km_import *r, double mm)
{
	km__import_set_pitch2(r, mm, mm);
}

void km__import_set_pitch2(km_import *r, double row_mm, double col_mm)
{
	r->file_row_pitch = row_mm > 0 ? row_mm : col_mm;
	r->file_col_pitch = col_mm > 0 ? col_mm : row_mm;
}

void km__import_set_units(km_import *r, enum km_import_units u)
{
	if (r->info.units_from != KM_IMPORT_FROM_CONFIG) {
		r->info.units = u;
		r->info.units_from = KM_IMPORT_FROM_FILE;
	}
}

/* ------------------------------------------------------------------------ */
/* Detection                                                                 */
/* ------------------------------------------------------------------------ */

static const uint8_t kmrec_magic[8] = {'K', 'M', 'R', 'E', 'C', 0x0D, 0x0A, 0x1A};

/* Does the line [p, e) start with word (case-insensitive), followed by sep? */
static bool line_key(const char *p, const char *e, const char *word, const char *seps)
{
	while (p < e && (*p == ' ' || *p == '"' || *p == '\t'))
		p++;
	size_t n = strlen(word);
	if ((size_t)(e - p) <= n || strncasecmp(p, word, n) != 0)
		return false;
	p += n;
	if (*p == '"')
		p++;
	return p < e && strchr(seps, *p) != NULL;
}

enum km_import_format km_import_detect(const void *head, size_t size)
{
	const uint8_t *h = head;
	if (!h || size == 0)
		return KM_IMPORT_AUTO;
	if (size >= 8 && !memcmp(h, kmrec_magic, 8))
		return KM_IMPORT_KMREC;
	if (size >= 6 && !memcmp(h, "\x93NUMPY", 6))
		return KM_IMPORT_NPY;
	size = KM_MIN(size, (size_t)4096);
	if (memchr(h, '\0', size))
		return KM_IMPORT_AUTO;
	const char *p = (const char *)h, *end = p + size;
	bool any_field = false, xs = false;
	int lines = 0;
	while (p < end && lines < 64) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		lines++;
		/* Tekscan: "KEY value" words, "Frame N" without a comma. */
		static const char *const tek[] = {
		    "DATA_TYPE", "ROWS", "COLS", "ROW_SPACING", "SECONDS_PER_FRAME", "SENSEL_AREA"};
		for (size_t i = 0; i < KM_ARRAY_SIZE(tek); i++)
			if (line_key(p, e, tek[i], " \t"))
				return KM_IMPORT_TEKSCAN;
		if (line_key(p, e, "Frame", " \t") && !memchr(p, ',', (size_t)(e - p)))
			return KM_IMPORT_TEKSCAN;
		/* XSENSOR-style: "Key,Value" metadata rows. */
		static const char *const xsk[] = {"Rows", "Columns", "Sensel", "Units",
		                                  "Pressure Units"};
		for (size_t i = 0; i < KM_ARRAY_SIZE(xsk); i++)
			if (line_key(p, e, xsk[i], ",;\t"))
				xs = true;
		/* "Frame,12" (knotmap's CSV header "frame,sequence,..." is not one) */
		if (line_key(p, e, "Frame", ",;\t")) {
			const char *q = p;
			while (q < e && !strchr(",;\t", *q))
				q++;
			q++;
			while (q < e && (*q == ' ' || *q == '"'))
				q++;
			if (q < e && *q >= '0' && *q <= '9')
				xs = true;
		}
		for (const char *q = p; q + 7 <= e; q++)
			if (!strncasecmp(q, "xsensor", 7))
				xs = true;
		if (e > p)
			any_field = true;
		p = e + 1;
	}
	if (xs)
		return KM_IMPORT_XSENSOR;
	return any_field ? KM_IMPORT_CSV : KM_IMPORT_AUTO;
}

/* ------------------------------------------------------------------------ */
/* Sidecar JSON: {"rate_hz": 50, "pitch_mm": 7.5, "units": "mmHg"}            */
/* ------------------------------------------------------------------------ */

enum { SIDECAR_MAX = 64 * 1024 };

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A JSON string at p (after the quote); copies up to cap-1 bytes. */
static const char *json_str(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			p++;
		if (n + 1 < cap)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	return *p == '"' ? p + 1 : NULL;
}

/* Skips one JSON value (nested objects/arrays by depth). */
static const char *json_skip(const char *p)
{
	int depth = 0;
	do {
		p = json_ws(p);
		if (*p == '"') {
			char tmp[2];
			p = json_str(p + 1, tmp, sizeof tmp);
			if (!p)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return p;
			depth--;
			p++;
		} else if (*p == ',' || *p == ':') {
			if (depth == 0)
				return p;
			p++;
		} else if (*p) {
			while (*p && !strchr(",:}] \t\r\n\"", *p))
				p++;
		} else {
			return NULL;
		}
	} while (depth > 0);
	return p;
}

/* A JSON number at *p into v; "null" sets *null. Advances *p. */
static bool json_num(const char **p, double *v, bool *null)
{
	*null = false;
	if (!strncmp(*p, "null", 4)) {
		*null = true;
		*p += 4;
		return true;
	}
	char *e;
	*v = strtod(*p, &e);
	if (e == *p)
		return false;
	*p = e;
	return true;
}

/* Applies a sidecar's values, each unless the config gives it: a sidecar
 * value the command line overrides is not even checked, so a wrong one never
 * stands in the way of the fix. */
static int read_sidecar(km_import *r, const char *path, bool *found)
{
	*found = false;
	/* regular files only: a FIFO of that name would block the import */
	int fd;
	struct km_log quiet = {0};
	int orc = km__open_input(&quiet, MOD, path, &fd);
	if (orc != KM_OK) {
		if (orc != KM_ERR_NOT_FOUND)
			km__log(&r->cfg.log, KM_LOG_INFO, MOD, "%s: %s: not used as a sidecar", path,
			        km_strerror(orc));
		return KM_OK; /* no sidecar */
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		close(fd);
		return KM_ERR_NO_MEMORY;
	}
	*found = true;
	char *text = km__malloc(SIDECAR_MAX + 1);
	if (!text) {
		fclose(f);
		return KM_ERR_NO_MEMORY;
	}
	size_t n = fread(text, 1, SIDECAR_MAX + 1, f);
	fclose(f);
	int rc = KM_OK;
	const struct km_import_config *c = &r->cfg;
	bool cfg_rate = c->rate_hz > 0;
	bool cfg_pitch = c->pitch_mm > 0 || (c->row_pitch_mm > 0 && c->col_pitch_mm > 0);
	bool cfg_units = c->units != KM_UNITS_DEFAULT;
	float rate = 0, rp = 0, cp = 0;
	uint16_t side_rows = 0, side_cols = 0;
	enum km_import_units units = KM_UNITS_DEFAULT;
	bool foreign = false; /* knotmap's own export, or some other JSON */
	if (n > SIDECAR_MAX) {
		rc = KM_ERR_MALFORMED;
		early_fail(&r->cfg, "%s: sidecar larger than %d bytes", path, SIDECAR_MAX);
		goto out;
	}
	text[n] = '\0';
	const char *p = json_ws(text);
	if (!*p) {
		/* empty: most likely the shell's "> FILE.json" of this very command
		 * ("analyze FILE.csv --json > FILE.json"), created before it runs */
		km__log(&r->cfg.log, KM_LOG_INFO, MOD, "%s is empty: not a sidecar, not used", path);
		*found = false;
		goto out;
	}
	if (*p != '{') {
		rc = KM_ERR_PARSE;
		early_fail(&r->cfg, "%s: sidecar is not a JSON object", path);
		goto out;
	}
	p++;
	for (;;) {
		p = json_ws(p);
		if (*p == '}')
			break;
		char key[32], sval[64];
		if (*p != '"' || !(p = json_str(p + 1, key, sizeof key)) ||
		    *(p = json_ws(p)) != ':') {
			rc = KM_ERR_PARSE;
			early_fail(&r->cfg, "%s: byte %ld: expected \"key\":", path,
			           p ? (long)(p - text) : -1L);
			goto out;
		}
		p = json_ws(p + 1);
		bool is_rate = !strcmp(key, "rate_hz") || !strcmp(key, "rate");
		bool is_pitch = !strcmp(key, "pitch_mm") || !strcmp(key, "pitch");
		const char *start = p;
		if (!strcmp(key, "format") && *p == '"' && json_str(p + 1, sval, sizeof sval) &&
		    !strncmp(sval, "knotmap", 7)) {
			/* {"format": "knotmap-session-summary", ...}: an export */
			foreign = true;
			break;
		}
		if (!strcmp(key, "units") && *p == '{') {
			foreign = true; /* {"units": {"pressure": ...}}: not a sidecar */
			break;
		}
		if (is_rate && !cfg_rate) {
			double v;
			bool null;
			if (!json_num(&p, &v, &null) || (!null && (!isfinite(v) || v <= 0 || v > 100000))) {
				rc = KM_ERR_MALFORMED;
				early_fail(&r->cfg,
				           "%s: \"%s\" must be a number in (0, 100000] or null (give --rate "
				           "to override)",
				           path, key);
				goto out;
			}
			rate = null ? 0.0f : (float)v;
		} else if (is_pitch && !cfg_pitch) {
			/* 7.5, [row, col] or null (unknown) */
			double v[2] = {0, 0};
			bool null[2] = {false, false}, ok = true;
			int k = 1;
			if (*p == '[') {
				p = json_ws(p + 1);
				ok = json_num(&p, &v[0], &null[0]);
				p = json_ws(p);
				ok = ok && *p == ',';
				if (ok) {
					p = json_ws(p + 1);
					ok = json_num(&p, &v[1], &null[1]);
					p = json_ws(p);
					ok = ok && *p == ']';
					p++;
				}
				k = 2;
			} else {
				ok = json_num(&p, &v[0], &null[0]);
			}
			for (int i = 0; i < k && ok; i++)
				ok = null[i] || (isfinite(v[i]) && v[i] > 0 && v[i] <= 1000);
			if (!ok) {
				rc = KM_ERR_MALFORMED;
				early_fail(&r->cfg,
				           "%s: \"%s\" must be a number in (0, 1000], [row, col] or null "
				           "(give --pitch to override)",
				           path, key);
				goto out;
			}
			rp = null[0] ? 0.0f : (float)v[0];
			cp = k == 2 ? (null[1] ? 0.0f : (float)v[1]) : rp;
		} else if ((!strcmp(key, "rows") || !strcmp(key, "cols")) && !c->rows) {
			/* the grid of a matrix with one frame per line */
			double v;
			bool null;
			if (!json_num(&p, &v, &null) ||
			    (!null && !(v >= 1 && v <= KM_FRAME_MAX_DIM && v == floor(v)))) {
				rc = KM_ERR_MALFORMED;
				early_fail(&r->cfg, "%s: \"%s\" must be an integer in 1..%d or null", path,
				           key, KM_FRAME_MAX_DIM);
				goto out;
			}
			*(key[0] == 'r' ? &side_rows : &side_cols) = null ? 0 : (uint16_t)v;
		} else if (!strcmp(key, "mask") && *p == '"') {
			/* cells on the sensor, row order, '1' real and '0' outside
			 * (knotmap's NPY export writes it for masked inputs) */
			const char *q = p + 1;
			while (*q == '0' || *q == '1')
				q++;
			size_t cells = (size_t)(q - (p + 1));
			if (*q != '"' || cells == 0) {
				rc = KM_ERR_MALFORMED;
				early_fail(&r->cfg, "%s: \"mask\" must be a string of 0 and 1, one per cell",
				           path);
				goto out;
			}
			km__free(r->side_mask);
			r->side_mask = km__malloc(cells);
			if (!r->side_mask) {
				rc = KM_ERR_NO_MEMORY;
				goto out;
			}
			for (size_t i = 0; i < cells; i++)
				r->side_mask[i] = p[1 + i] == '1';
			r->side_mask_cells = cells;
			p = q + 1;
		} else if (!strcmp(key, "units") && !cfg_units) {
			if (!strncmp(p, "null", 4)) {
				p += 4;
			} else if (*p != '"' || !(p = json_str(p + 1, sval, sizeof sval))) {
				rc = KM_ERR_PARSE;
				early_fail(&r->cfg, "%s: \"units\" must be a string or null", path);
				goto out;
			} else if (km_import_units_parse(sval, &units) != KM_OK) {
				rc = KM_ERR_UNSUPPORTED;
				early_fail(&r->cfg,
				           "%s: unknown units '%s' (" KM_IMPORT_UNITS_LIST "; give "
				           "--units to override)",
				           path, sval);
				goto out;
			}
		} else if (!(p = json_skip(start))) {
			rc = KM_ERR_PARSE;
			early_fail(&r->cfg, "%s: unterminated value for \"%s\"", path, key);
			goto out;
		}
		p = json_ws(p);
		if (*p == ',')
			p++;
		else if (*p != '}') {
			rc = KM_ERR_PARSE;
			early_fail(&r->cfg, "%s: byte %ld: expected ',' or '}'", path,
			           (long)(p - text));
			goto out;
		}
	}
	if (foreign) {
		km__log(&r->cfg.log, KM_LOG_INFO, MOD,
		        "%s is not a sidecar (it is a knotmap export or other JSON); not used", path);
		*found = false;
		goto out;
	}
	if (rate > 0)
		r->side_rate = rate;
	if (rp > 0 || cp > 0) {
		r->side_row_pitch = rp;
		r->side_col_pitch = cp;
		r->side_pitch = rp > 0 && cp > 0 ? sqrtf(rp * cp) : rp > 0 ? rp : cp;
	}
	if (units != KM_UNITS_DEFAULT)
		r->side_units = units;
	if ((side_rows == 0) != (side_cols == 0)) {
		rc = KM_ERR_MALFORMED;
		early_fail(&r->cfg, "%s: give both \"rows\" and \"cols\"", path);
		goto out;
	}
	r->side_rows = side_rows;
	r->side_cols = side_cols;
out:
	km__free(text);
	return rc;
}

static int load_sidecars(km_import *r)
{
	const char *path = r->cfg.path;
	size_t n = strlen(path);
	char *buf = km__malloc(n + 6);
	if (!buf)
		return KM_ERR_NO_MEMORY;
	/* FILE.npy.json, else FILE.json (the more specific name wins). */
	snprintf(buf, n + 6, "%s.json", path);
	bool found = false;
	int rc = read_sidecar(r, buf, &found);
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (rc == KM_OK && !found && dot && (!slash || dot > slash)) {
		snprintf(buf, n + 6, "%.*s.json", (int)(dot - path), path);
		if (strcmp(buf, path) != 0)
			rc = read_sidecar(r, buf, &found);
	}
	km__free(buf);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

struct km_import_config km_import_config_default(void)
{
	struct km_import_config c;
	memset(&c, 0, sizeof c);
	c.format = KM_IMPORT_AUTO;
	c.units = KM_UNITS_DEFAULT;
	c.sidecar = true;
	c.max_header_bytes = 1024u * 1024u;
	return c;
}

static int check_config(const struct km_import_config *c)
{
	int inputs = (c->path != NULL) + (c->file != NULL) + (c->data != NULL || c->size != 0);
	if (inputs != 1) {
		early_fail(c, "give exactly one input (path, FILE * or memory)");
		return KM_ERR_INVALID_ARG;
	}
	if (c->data == NULL && c->size != 0)
		return KM_ERR_INVALID_ARG;
	if ((unsigned)c->format > KM_IMPORT_CSV || c->format == KM_IMPORT_KMREC) {
		early_fail(c, "format %d cannot be imported", (int)c->format);
		return KM_ERR_INVALID_ARG;
	}
	if (!isfinite(c->rate_hz) || c->rate_hz < 0 || c->rate_hz > 100000 ||
	    !isfinite(c->pitch_mm) || c->pitch_mm < 0 || c->pitch_mm > 1000 ||
	    !isfinite(c->row_pitch_mm) || c->row_pitch_mm < 0 || c->row_pitch_mm > 1000 ||
	    !isfinite(c->col_pitch_mm) || c->col_pitch_mm < 0 || c->col_pitch_mm > 1000) {
		early_fail(c, "rate must be in (0, 100000] Hz and pitch in (0, 1000] mm");
		return KM_ERR_INVALID_ARG;
	}
	if ((unsigned)c->units > KM_UNITS_CMH2O) /* the last of enum km_import_units */
		return KM_ERR_INVALID_ARG;
	if ((c->rows == 0) != (c->cols == 0) || c->rows > KM_FRAME_MAX_DIM ||
	    c->cols > KM_FRAME_MAX_DIM) {
		early_fail(c, "give both rows and cols, each 1..%d", KM_FRAME_MAX_DIM);
		return KM_ERR_INVALID_ARG;
	}
	if (c->max_header_bytes < 256 || c->max_header_bytes > 16u * 1024u * 1024u)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

static int open_input(km_import *r)
{
	struct km__in *in = &r->in;
	in->line = 1;
	in->size = -1;
	const struct km_import_config *c = &r->cfg;
	if (c->data) {
		in->mem = c->data;
		in->mem_size = in->len = c->size;
		in->size = (int64_t)c->size;
		return KM_OK;
	}
	if (c->path) {
		/* Regular files only: a FIFO would block, /dev/zero never ends.
		 * A stream is read only when given as one (c->file, e.g. stdin). */
		int fd;
		struct km_log quiet = {0};
		int rc = km__open_input(&quiet, MOD, c->path, &fd);
		if (rc != KM_OK) {
			early_fail(c, "cannot open %s: %s", c->path, km_strerror(rc));
			return rc;
		}
		in->fp = fdopen(fd, "rb");
		if (!in->fp) {
			close(fd);
			return KM_ERR_NO_MEMORY;
		}
		in->own_fp = true;
	} else {
		in->fp = c->file;
	}
	struct stat st;
	if (fstat(fileno(in->fp), &st) == 0 && S_ISREG(st.st_mode))
		in->size = (int64_t)st.st_size;
	in->buf = km__malloc(KM__IN_BUF);
	return in->buf ? KM_OK : KM_ERR_NO_MEMORY;
}

/* One axis's spacing: the config's (that axis, then pitch_mm), the file's,
 * the sidecar's, the default. */
static float resolve_pitch(float cfg_axis, float cfg_both, double file, float side,
                           enum km_import_origin *from)
{
	if (cfg_axis > 0 || cfg_both > 0) {
		*from = KM_IMPORT_FROM_CONFIG;
		return cfg_axis > 0 ? cfg_axis : cfg_both;
	}
	if (file > 0) {
		*from = KM_IMPORT_FROM_FILE;
		return (float)file;
	}
	if (side > 0) {
		*from = KM_IMPORT_FROM_SIDECAR;
		return side;
	}
	*from = KM_IMPORT_FROM_DEFAULT;
	return KM_IMPORT_DEFAULT_PITCH_MM;
}

/* Runs the format's header parse and resolves rate, pitch and units. */
static int parse_header(km_import *r)
{
	struct km_import_info *in = &r->info;
	enum km_import_format fmt = in->format;
	char model[64], serial[64];
	memcpy(model, in->model, sizeof model);
	memcpy(serial, in->serial, sizeof serial);
	memset(in, 0, sizeof *in);
	in->format = fmt;
	memcpy(in->model, model, sizeof model);
	memcpy(in->serial, serial, sizeof serial);
	in->sensor_count = 1;
	r->file_row_pitch = r->file_col_pitch = 0;
	if (r->cfg.rate_hz > 0) {
		in->rate_hz = r->cfg.rate_hz;
		in->rate_from = KM_IMPORT_FROM_CONFIG;
	}
	if (r->cfg.units != KM_UNITS_DEFAULT) {
		in->units = r->cfg.units;
		in->units_from = KM_IMPORT_FROM_CONFIG;
	}
	int rc = r->ops->open(r);
	if (rc != KM_OK)
		return rc;
	if (in->rate_hz <= 0) {
		in->rate_hz = r->side_rate > 0 ? r->side_rate : KM_IMPORT_DEFAULT_RATE_HZ;
		in->rate_from = r->side_rate > 0 ? KM_IMPORT_FROM_SIDECAR : KM_IMPORT_FROM_DEFAULT;
	}
	enum km_import_origin rf, cf;
	in->row_pitch_mm = resolve_pitch(r->cfg.row_pitch_mm, r->cfg.pitch_mm, r->file_row_pitch,
	                                 r->side_row_pitch > 0 ? r->side_row_pitch : r->side_pitch,
	                                 &rf);
	in->col_pitch_mm = resolve_pitch(r->cfg.col_pitch_mm, r->cfg.pitch_mm, r->file_col_pitch,
	                                 r->side_col_pitch > 0 ? r->side_col_pitch : r->side_pitch,
	                                 &cf);
	/* one pitch for one-pitch consumers: the geometric mean keeps the cell
	 * area, so a load (pressure x area) stays right */
	in->pitch_mm = sqrtf(in->row_pitch_mm * in->col_pitch_mm);
	in->pitch_from = rf == KM_IMPORT_FROM_DEFAULT || cf == KM_IMPORT_FROM_DEFAULT
	                     ? KM_IMPORT_FROM_DEFAULT
	                     : rf;
	if (in->units == KM_UNITS_DEFAULT) {
		/* nothing says: counts, never a guessed kPa */
		in->units = r->side_units != KM_UNITS_DEFAULT ? r->side_units : KM_UNITS_RAW;
		in->units_from = r->side_units != KM_UNITS_DEFAULT ? KM_IMPORT_FROM_SIDECAR
		                                                   : KM_IMPORT_FROM_DEFAULT;
	}
	in->to_kpa = (float)km_import_units_to_kpa(in->units);
	if (!in->model[0])
		snprintf(in->model, sizeof in->model, "%s import", km_import_format_name(fmt));
	if (in->rows < 1 || in->cols < 1 || in->rows > KM_FRAME_MAX_DIM ||
	    in->cols > KM_FRAME_MAX_DIM)
		return km__import_fail(r, KM_ERR_SHAPE, 0, 0, "grid %ux%u is not in 1..%d",
		                       (unsigned)in->rows, (unsigned)in->cols, KM_FRAME_MAX_DIM);
	if (r->side_mask && !r->mask) {
		/* the file has no mask of its own: the sidecar's, if it fits */
		if (r->side_mask_cells != (size_t)in->rows * in->cols)
			return km__import_fail(r, KM_ERR_MALFORMED, 0, 0,
			                       "the sidecar's mask has %zu cells, the grid %ux%u has %zu",
			                       r->side_mask_cells, (unsigned)in->rows,
			                       (unsigned)in->cols, (size_t)in->rows * in->cols);
		r->mask = r->side_mask;
		r->side_mask = NULL;
	}
	in->mask = r->mask;
	if (r->mask) {
		size_t n = (size_t)in->rows * in->cols;
		for (size_t i = 0; i < n; i++)
			in->mask_cells += r->mask[i] != 0;
	} else {
		in->mask_cells = (uint32_t)in->rows * in->cols;
	}
	return KM_OK;
}

int km_import_create(const struct km_import_config *cfg, km_import **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg)
		return KM_ERR_INVALID_ARG;
	int rc = check_config(cfg);
	if (rc != KM_OK)
		return rc;
	km_import *r = km__calloc(1, sizeof *r);
	if (!r)
		return KM_ERR_NO_MEMORY;
	r->cfg = *cfg;
	r->cfg.path = NULL;
	const char *name = cfg->path ? cfg->path : cfg->name ? cfg->name : "<input>";
	snprintf(r->name, sizeof r->name, "%s", name);
	if (cfg->path) {
		/* The whole path, any length the kernel takes: a copy cut to the
		 * message buffer would open a different file. */
		size_t plen = strlen(cfg->path);
		r->path = km__malloc(plen + 1);
		if (!r->path) {
			km__free(r);
			return KM_ERR_NO_MEMORY;
		}
		memcpy(r->path, cfg->path, plen + 1);
	}
	r->cfg.path = r->path; /* copy: the caller's string may go */
	r->cfg.name = r->name;
	if (r->cfg.detail && r->cfg.detail_size)
		r->cfg.detail[0] = '\0';
	rc = open_input(r);
	if (rc == KM_OK && r->cfg.path && r->cfg.sidecar)
		rc = load_sidecars(r);
	if (rc != KM_OK) {
		km_import_destroy(r);
		return rc;
	}
	uint8_t head[4096];
	size_t n = km__in_read(&r->in, head, sizeof head);
	if (r->in.err) {
		early_fail(cfg, "%s: read error", r->name);
		km_import_destroy(r);
		return KM_ERR_IO;
	}
	enum km_import_format found = km_import_detect(head, n);
	rc = km__in_seek(&r->in, 0, 1);
	if (rc != KM_OK) {
		early_fail(cfg, "%s: input is not seekable", r->name);
		km_import_destroy(r);
		return rc;
	}
	enum km_import_format fmt = cfg->format != KM_IMPORT_AUTO ? cfg->format : found;
	if (n == 0) {
		early_fail(cfg, "%s: file is empty", r->name);
		km_import_destroy(r);
		return KM_ERR_TRUNCATED;
	}
	if (fmt == KM_IMPORT_AUTO || fmt == KM_IMPORT_KMREC ||
	    ((fmt == KM_IMPORT_NPY) != (found == KM_IMPORT_NPY))) {
		if (found == KM_IMPORT_KMREC)
			early_fail(cfg, "%s is a knotmap recording, not an import", r->name);
		else if (fmt == KM_IMPORT_AUTO)
			early_fail(cfg, "%s: format not recognised (npy, tekscan, xsensor, csv)",
			           r->name);
		else
			early_fail(cfg, "%s is not %s (it looks like %s)", r->name,
			           km_import_format_name(fmt),
			           found == KM_IMPORT_AUTO ? "binary data"
			                                   : km_import_format_name(found));
		km_import_destroy(r);
		return KM_ERR_BAD_MAGIC;
	}
	r->info.format = fmt;
	if (fmt == KM_IMPORT_NPY)
		r->ops = &km__import_npy;
	else if (fmt == KM_IMPORT_TEKSCAN)
		r->ops = &km__import_tekscan;
	else if (fmt == KM_IMPORT_XSENSOR && km__xsensor_is_export(head, n))
		r->ops = &km__import_xsensor;
	else
		r->ops = &km__import_text;
	rc = parse_header(r);
	if (rc != KM_OK) {
		if (r->cfg.detail && r->cfg.detail_size && !r->cfg.detail[0])
			snprintf(r->cfg.detail, r->cfg.detail_size, "%s: %s", r->name,
			         km_strerror(rc));
		km_import_destroy(r);
		return rc;
	}
	r->reading = true;
	*out = r;
	return KM_OK;
}

const struct km_import_info *km_import_info(const km_import *r)
{
	return r ? &r->info : NULL;
}

const char *km_import_sensor_name(const km_import *r, unsigned i)
{
	if (!r || i >= r->info.sensor_count || i >= KM_ARRAY_SIZE(r->sensor_names))
		return NULL;
	return r->sensor_names[i];
}

const char *km_import_sensor_label(const km_import *r, unsigned i)
{
	if (!r || i >= r->info.sensor_count || i >= KM_ARRAY_SIZE(r->sensor_labels))
		return NULL;
	return r->sensor_labels[i][0] ? r->sensor_labels[i] : r->sensor_names[i];
}

static bool label_sep(char c)
{
	return !isalnum((unsigned char)c);
}

static bool has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return false;
}

/* Vendors name sensors by model, side and serial ("HX210.11.31.M11-DFM-LF
 * S0073" and "...-RF S0073"): what is left once the whole tokens all names
 * share at both ends are cut is what a person types to choose one. */
void km__import_sensor_labels(km_import *r, unsigned n)
{
	n = n < KM_ARRAY_SIZE(r->sensor_labels) ? n : (unsigned)KM_ARRAY_SIZE(r->sensor_labels);
	for (unsigned i = 0; i < n; i++)
		snprintf(r->sensor_labels[i], sizeof r->sensor_labels[i], "%s", r->sensor_names[i]);
	if (n < 2)
		return;
	const char *a = r->sensor_names[0];
	size_t pre = strlen(a), suf = strlen(a), min_len = strlen(a);
	for (unsigned i = 1; i < n; i++) {
		const char *b = r->sensor_names[i];
		size_t la = strlen(a), lb = strlen(b), k = 0;
		while (k < pre && a[k] && a[k] == b[k])
			k++;
		pre = k;
		k = 0;
		while (k < suf && k < la && k < lb && a[la - 1 - k] == b[lb - 1 - k])
			k++;
		suf = k;
		min_len = lb < min_len ? lb : min_len;
	}
	/* whole tokens only: back off to a separator */
	while (pre > 0 && !label_sep(a[pre - 1]))
		pre--;
	size_t la = strlen(a);
	while (suf > 0 && !label_sep(a[la - suf]))
		suf--;
	if (pre + suf >= min_len)
		return;
	char lab[16][64];
	for (unsigned i = 0; i < n; i++) {
		const char *b = r->sensor_names[i];
		size_t lb = strlen(b), s = pre, e = lb - suf;
		while (s < e && label_sep(b[s]))
			s++;
		while (e > s && label_sep(b[e - 1]))
			e--;
		size_t digits = 0;
		while (s + digits < e && isdigit((unsigned char)b[s + digits]))
			digits++;
		if (e == s || digits == e - s) /* a number would choose by position */
			return;
		snprintf(lab[i], sizeof lab[i], "%.*s", (int)(e - s), b + s);
	}
	/* each must choose its sensor alone (config.sensor matches parts) */
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++)
			if (i != j && has_ci(r->sensor_names[j], lab[i]))
				return;
	memcpy(r->sensor_labels, lab, n * sizeof lab[0]);
}

/* config.partial: the damage just recorded becomes a logged skip, and the
 * format moves to the next frame. False when it cannot (the damage stands). */
static bool skip_damage(km_import *r, int rc, uint64_t before)
{
	if (!r->cfg.partial || !r->ops->resync || rc == KM_ERR_IO || rc == KM_ERR_NO_MEMORY ||
	    !r->damage.damaged)
		return false;
	km__log(&r->cfg.log, KM_LOG_WARN, MOD, "%s; frame skipped (partial reading)",
	        r->damage.message);
	if (!r->skipped)
		snprintf(r->first_skip, sizeof r->first_skip, "%s", r->damage.message);
	r->skipped++;
	r->skipped_since++;
	r->slot++;
	struct km_import_damage keep = r->damage;
	memset(&r->damage, 0, sizeof r->damage);
	int s = r->ops->resync(r);
	if (s == KM_OK && r->in.offset > before)
		return true;
	if (s == KM_ERR_END) {
		r->done = true;
		return true;
	}
	if (!r->damage.damaged)
		r->damage = keep;
	return false;
}

/* The per-cell work of every frame, in blocks of 8 with one accumulator per
 * lane so that the compiler makes vector code of it at -O2 (an hour of 64 x
 * 64 frames is 1.5e10 cells): x * 0 is NaN exactly when x is NaN or
 * infinite, and "v < lo ? v : lo" / "v < 0 ? 0 : v" are the processor's
 * min and max, which keep a NaN for the check. */
bool km__all_finite(const float *v, size_t n)
{
	float z[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t j = 0; j < 8; j++)
			z[j] += v[i + j] * 0.0f;
	float s = 0.0f;
	for (; i < n; i++)
		s += v[i] * 0.0f;
	for (size_t j = 0; j < 8; j++)
		s += z[j];
	return s == 0.0f;
}

/* Scales v[0..n) by k and sets negative cells to 0; returns how many were
 * negative; *bad: a cell is (or became) NaN or infinite, left in place.
 * Negative cells are rare (baseline-subtracted exports): the fast pass only
 * notes the smallest value, a second one clamps and counts. */
static size_t scale_cells(float *v, size_t n, float k, bool *bad)
{
	float z[4] = {0}, lo[4] = {0};
	size_t i = 0;
	if (k == 1.0f) /* kPa files, counts: nothing to write, only to look at */
		for (; i + 4 <= n; i += 4)
			for (size_t j = 0; j < 4; j++) {
				float x = v[i + j];
				z[j] += x * 0.0f;
				lo[j] = x < lo[j] ? x : lo[j];
			}
	else
		for (; i + 4 <= n; i += 4)
			for (size_t j = 0; j < 4; j++) {
				float x = v[i + j] * k;
				z[j] += x * 0.0f;
				lo[j] = x < lo[j] ? x : lo[j];
				v[i + j] = x;
			}
	float s = 0.0f, low = 0.0f;
	for (; i < n; i++) {
		float x = v[i] * k;
		s += x * 0.0f;
		low = x < low ? x : low;
		v[i] = x;
	}
	for (size_t j = 0; j < 4; j++) {
		s += z[j];
		low = lo[j] < low ? lo[j] : low;
	}
	*bad = s != 0.0f;
	size_t negative = 0;
	if (low < 0.0f)
		for (i = 0; i < n; i++)
			if (v[i] < 0.0f) {
				v[i] = 0.0f;
				negative++;
			}
	return negative;
}

int km_import_next(km_import *r, struct km_frame *out)
{
	if (!r || !out || !out->kpa)
		return KM_ERR_INVALID_ARG;
	if (out->rows != r->info.rows || out->cols != r->info.cols)
		return KM_ERR_SHAPE;
	if (r->damage.damaged)
		return r->damage.error;
	if (r->done)
		return KM_ERR_END;
	bool have_time = false;
	int rc;
	for (;;) {
		have_time = false;
		out->device_time_us = 0;
		uint64_t start = r->in.offset;
		rc = r->ops->next(r, out, &have_time);
		if (rc == KM_ERR_END) {
			r->done = true;
			return rc;
		}
		if (rc == KM_OK)
			break;
		if (!r->damage.damaged)
			km__import_fail(r, rc, r->in.line, r->in.offset, "%s", km_strerror(rc));
		if (!skip_damage(r, rc, start)) {
			if (r->cfg.partial && r->ops->resync) {
				km__log(&r->cfg.log, KM_LOG_ERROR, MOD, "%s", r->damage.message);
				if (r->cfg.detail && r->cfg.detail_size)
					snprintf(r->cfg.detail, r->cfg.detail_size, "%s",
					         r->damage.message);
			}
			return r->damage.error;
		}
		if (r->done)
			return KM_ERR_END;
	}
	size_t n = km_frame_cells(out);
	uint32_t flags = r->info.units == KM_UNITS_RAW ? KM_FRAME_UNCALIBRATED : 0;
	const uint8_t *mask = r->mask;
	if (mask)
		for (size_t i = 0; i < n; i++)
			out->kpa[i] = mask[i] ? out->kpa[i] : 0.0f; /* outside the sensor */
	bool bad;
	size_t negative = scale_cells(out->kpa, n, r->info.to_kpa, &bad);
	if (bad)
		for (size_t i = 0; i < n; i++)
			if (!isfinite(out->kpa[i]))
				return km__import_fail(
				    r, KM_ERR_NONFINITE, 0, r->in.offset,
				    "frame %llu, row %zu, column %zu: value out of range",
				    (unsigned long long)r->index, i / out->cols, i % out->cols);
	if (negative) {
		flags |= KM_FRAME_BAD_CELLS;
		if (!r->warned_negative)
			km__import_warn(r,
			                "frame %llu: %zu negative cells set to 0 (reported once)",
			                (unsigned long long)r->index, negative);
		r->warned_negative = true;
	}
	out->pitch_mm = r->info.pitch_mm;
	out->geometry = KM_GEOMETRY_FLAT;
	out->flags = flags;
	/* skipped frames (partial) show as a gap, like frames a mat dropped */
	out->sequence = (uint32_t)r->slot;
	out->dropped_since_last = (uint32_t)KM_MIN(r->skipped_since, (uint64_t)UINT32_MAX);
	r->skipped_since = 0;
	if (!have_time)
		out->device_time_us = (uint64_t)llround((double)r->slot * 1e6 / r->info.rate_hz);
	out->host_time_us = out->device_time_us;
	r->index++;
	r->slot++;
	return KM_OK;
}

void km_import_damage(const km_import *r, struct km_import_damage *out)
{
	if (!out)
		return;
	if (!r) {
		memset(out, 0, sizeof *out);
		return;
	}
	*out = r->damage;
	if (!out->damaged)
		out->frame_index = r->index;
	out->skipped_frames = r->skipped;
	snprintf(out->first_skip, sizeof out->first_skip, "%s", r->first_skip);
}

int km_import_reset(km_import *r)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	uint16_t rows = r->info.rows, cols = r->info.cols;
	memset(&r->damage, 0, sizeof r->damage);
	r->index = 0;
	r->slot = r->skipped = r->skipped_since = 0;
	r->first_skip[0] = '\0';
	r->done = false;
	int rc = km__in_seek(&r->in, 0, 1);
	if (rc != KM_OK)
		return rc;
	r->reading = false;
	rc = parse_header(r);
	r->reading = true;
	if (rc == KM_OK && (r->info.rows != rows || r->info.cols != cols))
		rc = km__import_fail(r, KM_ERR_SHAPE, 0, 0, "the file changed while open");
	return rc;
}

void km_import_destroy(km_import *r)
{
	if (!r)
		return;
	if (r->ops && r->ops->close)
		r->ops->close(r);
	km__free(r->mask);
	km__free(r->side_mask);
	if (r->in.own_fp && r->in.fp)
		fclose(r->in.fp);
	km__free(r->in.buf);
	km__free(r->path);
	km__free(r);
}

int km_import_to_recording(km_import *r, const struct km_rec_writer_config *wc, uint64_t *frames)
{
	if (frames)
		*frames = 0;
	if (!r || !wc)
		return KM_ERR_INVALID_ARG;
	const struct km_import_info *in = &r->info;
	struct km_rec_writer_config c = *wc;
	memset(&c.device, 0, sizeof c.device);
	c.device.rows = in->rows;
	c.device.cols = in->cols;
	c.device.pitch_mm = in->pitch_mm;
	c.device.geometry = KM_GEOMETRY_FLAT;
	c.device.rate_hz = in->rate_hz;
	snprintf(c.device.model, sizeof c.device.model, "%s", in->model);
	snprintf(c.device.serial, sizeof c.device.serial, "%s", in->serial);
	c.content = KM_REC_KPA;
	c.calibration = NULL;
	c.calibration_size = 0;
	struct km_frame *f = NULL;
	int rc = km_frame_create(in->rows, in->cols, in->pitch_mm, KM_GEOMETRY_FLAT, &f);
	if (rc != KM_OK)
		return rc;
	km_rec_writer *w = NULL;
	rc = km_rec_writer_create(&c, &w);
	if (rc != KM_OK) {
		km_frame_destroy(f);
		return rc;
	}
	uint64_t n = 0;
	while ((rc = km_import_next(r, f)) == KM_OK) {
		rc = km_rec_writer_write_frame(w, f, NULL, 0);
		if (rc != KM_OK)
			break;
		n++;
	}
	int crc = km_rec_writer_close(w);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);
	if (frames)
		*frames = n;
	if (rc == KM_ERR_END)
		rc = KM_OK;
	return rc != KM_OK ? rc : crc;
}

/* ------------------------------------------------------------------------ */
/* Recording source                                                          */
/* ------------------------------------------------------------------------ */

struct km_source {
	struct km_source_info info;
	km_rec_reader *rec;
	km_import *imp;
	struct km_frame *frame; /* imports */
	char *path;             /* whole, for messages */
};

struct km_source_config km_source_config_default(void)
{
	struct km_source_config c;
	memset(&c, 0, sizeof c);
	c.import = km_import_config_default();
	return c;
}

/* Is path a .kmrec by its magic? */
static bool is_kmrec(const char *path)
{
	int fd;
	struct km_log quiet = {0}; /* the real open below says what is wrong */
	if (km__open_input(&quiet, MOD, path, &fd) != KM_OK)
		return false;
	uint8_t h[8];
	bool yes = read(fd, h, 8) == 8 && !memcmp(h, kmrec_magic, 8);
	close(fd);
	return yes;
}

int km_source_create(const struct km_source_config *cfg, km_source **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	if (!cfg || !cfg->path)
		return KM_ERR_INVALID_ARG;
	km_source *s = km__calloc(1, sizeof *s);
	if (!s)
		return KM_ERR_NO_MEMORY;
	size_t path_len = strlen(cfg->path);
	s->path = km__malloc(path_len + 1);
	if (!s->path) {
		km__free(s);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(s->path, cfg->path, path_len + 1);
	struct km_source_info *si = &s->info;
	int rc;
	/* A file named *.kmrec is meant as a recording: a foreign one is refused
	 * (KM_ERR_BAD_MAGIC) rather than guessed at as text. */
	size_t plen = strlen(cfg->path);
	bool named_kmrec = plen >= 6 && !strcasecmp(cfg->path + plen - 6, ".kmrec");
	if (cfg->import.format == KM_IMPORT_KMREC ||
	    (cfg->import.format == KM_IMPORT_AUTO && (named_kmrec || is_kmrec(cfg->path)))) {
		struct km_rec_reader_config rc_ = km_rec_reader_config_default();
		rc_.log = cfg->log;
		rc_.path = cfg->path;
		rc_.verify_all = cfg->verify_all;
		rc = km_rec_reader_create(&rc_, &s->rec);
		if (rc != KM_OK) {
			if (cfg->import.detail && cfg->import.detail_size)
				snprintf(cfg->import.detail, cfg->import.detail_size, "%s: %s",
				         cfg->path, km_strerror(rc));
			km_source_destroy(s);
			return rc;
		}
		const struct km_rec_info *ri = km_rec_reader_info(s->rec);
		si->format = KM_IMPORT_KMREC;
		si->device = ri->device;
		si->content = ri->content;
		si->frame_count_known = true;
		si->frame_count = ri->frame_count;
		si->first_time_us = ri->first_time_us;
		si->last_time_us = ri->last_time_us;
		si->units = KM_UNITS_KPA;
		si->row_pitch_mm = si->col_pitch_mm = ri->device.pitch_mm;
		*out = s;
		return KM_OK;
	}
	struct km_import_config ic = cfg->import;
	ic.log = cfg->log;
	ic.path = cfg->path;
	ic.file = NULL;
	ic.data = NULL;
	ic.size = 0;
	rc = km_import_create(&ic, &s->imp);
	if (rc != KM_OK) {
		km_source_destroy(s);
		return rc;
	}
	const struct km_import_info *ii = km_import_info(s->imp);
	rc = km_frame_create(ii->rows, ii->cols, ii->pitch_mm, KM_GEOMETRY_FLAT, &s->frame);
	if (rc != KM_OK) {
		km_source_destroy(s);
		return rc;
	}
	si->format = ii->format;
	si->device.rows = ii->rows;
	si->device.cols = ii->cols;
	si->device.pitch_mm = ii->pitch_mm;
	si->device.geometry = KM_GEOMETRY_FLAT;
	si->device.rate_hz = ii->rate_hz;
	snprintf(si->device.model, sizeof si->device.model, "%s", ii->model);
	snprintf(si->device.serial, sizeof si->device.serial, "%s", ii->serial);
	si->content = KM_REC_KPA;
	si->frame_count_known = ii->frame_count_known;
	si->frame_count = ii->frame_count;
	if (ii->frame_count_known && ii->frame_count > 0)
		si->last_time_us =
		    (uint64_t)llround((double)(ii->frame_count - 1) * 1e6 / ii->rate_hz);
	si->units = ii->units;
	si->row_pitch_mm = ii->row_pitch_mm;
	si->col_pitch_mm = ii->col_pitch_mm;
	si->mask = ii->mask;
	*out = s;
	return KM_OK;
}

const struct km_source_info *km_source_info(const km_source *s)
{
	return s ? &s->info : NULL;
}

int km_source_next_frame(km_source *s, struct km_rec_item *item)
{
	if (!s || !item)
		return KM_ERR_INVALID_ARG;
	if (s->rec)
		return km_rec_reader_next_frame(s->rec, item);
	memset(item, 0, sizeof *item);
	int rc = km_import_next(s->imp, s->frame);
	if (rc != KM_OK)
		return rc;
	item->kind = KM_REC_ITEM_FRAME;
	item->frame_index = s->frame->sequence;
	item->frame = s->frame;
	return KM_OK;
}

void km_source_damage(const km_source *s, struct km_import_damage *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	if (!s)
		return;
	if (s->imp) {
		km_import_damage(s->imp, out);
		return;
	}
	struct km_rec_damage d;
	km_rec_reader_damage(s->rec, &d);
	out->damaged = d.damaged;
	out->error = d.error;
	out->byte_offset = d.byte_offset;
	out->frame_index = d.frame_index;
	if (d.damaged)
		snprintf(out->message, sizeof out->message, "%.60s: byte %llu: %s", s->path,
		         (unsigned long long)d.byte_offset, km_strerror(d.error));
}

int km_source_reset(km_source *s)
{
	if (!s)
		return KM_ERR_INVALID_ARG;
	return s->rec ? km_rec_reader_reset(s->rec) : km_import_reset(s->imp);
}

km_rec_reader *km_source_rec_reader(km_source *s)
{
	return s ? s->rec : NULL;
}

km_import *km_source_import(km_source *s)
{
	return s ? s->imp : NULL;
}

void km_source_destroy(km_source *s)
{
	if (!s)
		return;
	km_rec_reader_destroy(s->rec);
	km_import_destroy(s->imp);
	km_frame_destroy(s->frame);
	km__free(s->path);
	km__free(s);
}
