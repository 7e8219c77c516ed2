/* The export's buffered output file (created 0600) and its walk over a
 * recording (progress, damage), shared by export.c, model.c and report.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_out.h"
#include "fmt_float.h"

#define MOD "export"

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

int km__out_open(struct km__out *o, const struct km_export_config *cfg)
{
	memset(o, 0, sizeof o[0]);
	o->log = &cfg->log;
	o->path = cfg->path;
	/* km_outfile: a 0600 temporary file next to the target, moved into place
	 * only when the whole export is written (never through a link, never over
	 * an existing file without overwrite). */
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = cfg->path;
	oc.force = cfg->overwrite;
	oc.log = cfg->log;
	int rc = km_outfile_open(&oc, &o->file);
	if (rc != KM_OK)
		return rc;
	o->buf = km__malloc(KM__OUT_BUF);
	if (!o->buf) {
		km_outfile_destroy(o->file);
		o->file = NULL;
		return KM_ERR_NO_MEMORY;
	}
	return KM_OK;
}

int km__out_flush(struct km__out *o)
{
	if (o->err)
		return o->err;
	if (o->len) {
		int rc = km_outfile_write(o->file, o->buf, o->len);
		if (rc != KM_OK) {
			o->err = rc; /* km_outfile logged the file and the cause */
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

int km__out_close(struct km__out *o, int rc)
{
	if (rc == KM_OK)
		rc = km__out_flush(o);
	if (rc == KM_OK && o->file)
		rc = km_outfile_commit(o->file);
	/* Not committed: the temporary file goes, an older file stays as it was. */
	km_outfile_destroy(o->file);
	o->file = NULL;
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
