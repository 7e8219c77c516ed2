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
