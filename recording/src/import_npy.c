/* NumPy .npy importer: format 1.0/2.0/3.0, a dict header ('descr',
 * 'fortran_order', 'shape'), then the array in C order. Read one row at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"

struct npy {
	char kind;     /* 'f', 'u', 'i' */
	unsigned size; /* bytes per item */
	bool big;      /* big-endian items */
	uint64_t data_offset;
	uint8_t *row; /* one row of items */
	char *header; /* header text, max_header_bytes + 1 */
};

/* A Python literal token scanner over the header dict. */
static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* 'text' or "text" at p; returns after the closing quote or NULL. */
static const char *py_str(const char *p, char *out, size_t cap)
{
	char q = *p;
	if (q != '\'' && q != '"')
		return NULL;
	p++;
	size_t n = 0;
	while (*p && *p != q) {
		if (n + 1 < cap)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	return *p == q ? p + 1 : NULL;
}

static int npy_fail(km_import *r, uint64_t off, const char *what)
{
	return km__import_fail(r, KM_ERR_MALFORMED, 0, off, "npy header: %s", what);
}

static int parse_descr(km_import *r, struct npy *st, const char *d)
{
	char order = d[0];
	if (order != '<' && order != '>' && order != '|' && order != '=')
		return km__import_fail(r, KM_ERR_UNSUPPORTED, 0, 10, "npy dtype '%s' not supported",
		                       d);
	st->big = order == '>';
	st->kind = d[1];
	char *e;
	long size = strtol(d + 2, &e, 10);
	bool ok = *e == '\0' && ((st->kind == 'f' && (size == 4 || size == 8)) ||
	                         (st->kind == 'u' && (size == 1 || size == 2)) ||
	                         (st->kind == 'i' && (size == 2 || size == 4)));
	if (!ok)
		return km__import_fail(r, KM_ERR_UNSUPPORTED, 0, 10,
		                       "npy dtype '%s' not supported (float32, float64, uint16, "
		                       "uint8, int16, int32)",
		                       d);
	st->size = (unsigned)size;
	return KM_OK;
}

static int npy_open(km_import *r)
{
	struct npy *st = r->fmt;
	uint32_t max = r->cfg.max_header_bytes;
	if (!st) {
		st = km__calloc(1, sizeof *st);
		if (!st)
			return KM_ERR_NO_MEMORY;
		r->fmt = st;
		st->header = km__malloc((size_t)max + 1);
		if (!st->header)
			return KM_ERR_NO_MEMORY;
	}
	uint8_t pre[12];
	if (km__in_read(&r->in, pre, 10) != 10)
		return km__import_fail(r, KM_ERR_TRUNCATED, 0, r->in.offset,
		                       "file ends inside the npy preamble");
	if (memcmp(pre, "\x93NUMPY", 6) != 0)
		return km__import_fail(r, KM_ERR_BAD_MAGIC, 0, 0, "not a .npy file");
	uint8_t major = pre[6];
	uint64_t hlen;
	if (major == 1) {
		hlen = km_get_le16(pre + 8);
	} else if (major == 2 || major == 3) {
		if (km__in_read(&r->in, pre + 10, 2) != 2)
			return km__import_fail(r, KM_ERR_TRUNCATED, 0, r->in.offset,
			                       "file ends inside the npy preamble");
		hlen = km_get_le32(pre + 8);
	} else {
		return km__import_fail(r, KM_ERR_BAD_VERSION, 0, 6, "npy format version %u.%u",
		                       (unsigned)major, (unsigned)pre[7]);
	}
	if (hlen > max)
		return km__import_fail(r, KM_ERR_MALFORMED, 0, 8,
		                       "npy header of %llu bytes is larger than the limit %u",
		                       (unsigned long long)hlen, (unsigned)max);
	uint64_t hstart = r->in.offset;
	if (km__in_read(&r->in, st->header, (size_t)hlen) != hlen)
		return km__import_fail(r, KM_ERR_TRUNCATED, 0, r->in.offset,
		                       "file ends inside the npy header (%llu bytes declared)",
		                       (unsigned long long)hlen);
	st->header[hlen] = '\0';
	if (strlen(st->header) != hlen)
		return npy_fail(r, hstart, "NUL byte in the header");
	st->data_offset = r->in.offset;

	/* {'descr': '<f4', 'fortran_order': False, 'shape': (n, r, c), } */
	bool have_descr = false, have_order = false, have_shape = false;
	uint64_t shape[4] = {0, 0, 0, 0};
	int dims = 0;
	const char *p = skip_ws(st->header);
	if (*p != '{')
		return npy_fail(r, hstart, "not a dict");
	p = skip_ws(p + 1);
	while (*p != '}') {
		char key[32], val[32];
		if (!(p = py_str(p, key, sizeof key)))
			return npy_fail(r, hstart, "expected a quoted key");
		p = skip_ws(p);
		if (*p != ':')
			return npy_fail(r, hstart + (uint64_t)(p - st->header), "expected ':'");
		p = skip_ws(p + 1);
		if (!strcmp(key, "descr")) {
			if (!(p = py_str(p, val, sizeof val)))
				return npy_fail(r, hstart,
				                "'descr' is not a string (structured dtype?)");
			int rc = parse_descr(r, st, val);
			if (rc != KM_OK)
				return rc;
			have_descr = true;
		} else if (!strcmp(key, "fortran_order")) {
			if (!strncmp(p, "False", 5)) {
				p += 5;
			} else if (!strncmp(p, "True", 4)) {
				return km__import_fail(r, KM_ERR_UNSUPPORTED, 0, hstart,
				                       "Fortran-order arrays are not supported "
				                       "(save with numpy.ascontiguousarray)");
			} else {
				return npy_fail(r, hstart, "'fortran_order' is not True/False");
			}
			have_order = true;
		} else if (!strcmp(key, "shape")) {
			if (*p != '(')
				return npy_fail(r, hstart, "'shape' is not a tuple");
			p = skip_ws(p + 1);
			while (*p != ')') {
				if (dims == 4)
					return km__import_fail(
					    r, KM_ERR_SHAPE, 0, hstart,
					    "npy array has more than 3 dimensions");
				char *e;
				if (*p < '0' || *p > '9')
					return npy_fail(r, hstart, "'shape' holds a non-integer");
				unsigned long long v = strtoull(p, &e, 10);
				shape[dims++] = v;
				p = skip_ws(e);
				if (*p == ',')
					p = skip_ws(p + 1);
				else if (*p != ')')
					return npy_fail(r, hstart, "bad 'shape' tuple");
			}
			p++;
			have_shape = true;
		} else {
			return npy_fail(r, hstart, "unknown key in the header");
		}
		p = skip_ws(p);
		if (*p == ',')
			p = skip_ws(p + 1);
		else if (*p != '}')
			return npy_fail(r, hstart, "expected ',' or '}'");
	}
	if (!have_descr || !have_order || !have_shape)
		return npy_fail(r, hstart, "'descr', 'fortran_order' or 'shape' missing");
	uint64_t frames, rows, cols;
	if (dims == 3) {
		frames = shape[0];
		rows = shape[1];
		cols = shape[2];
	} else if (dims == 2) {
		frames = 1;
		rows = shape[0];
		cols = shape[1];
	} else {
		return km__import_fail(r, KM_ERR_SHAPE, 0, hstart,
		                       "npy array has %d dimensions; expected [frames, rows, "
		                       "cols] or [rows, cols]",
		                       dims);
	}
	if (rows < 1 || cols < 1 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM)
		return km__import_fail(
		    r, KM_ERR_SHAPE, 0, hstart, "npy grid %llux%llu is not in 1..%d",
		    (unsigned long long)rows, (unsigned long long)cols, KM_FRAME_MAX_DIM);
	r->info.rows = (uint16_t)rows;
	r->info.cols = (uint16_t)cols;
	r->info.frame_count_known = true;
	r->info.frame_count = frames;
	uint64_t frame_bytes = rows * cols * st->size;
	if (r->in.size >= 0 && frames <= UINT64_MAX / frame_bytes) {
		uint64_t want = st->data_offset + frames * frame_bytes;
		if ((uint64_t)r->in.size > want)
			km__import_warn(r, "%llu bytes after the array ignored",
			                (unsigned long long)((uint64_t)r->in.size - want));
	}
	if (!st->row) {
		st->row = km__malloc((size_t)cols * st->size);
		if (!st->row)
			return KM_ERR_NO_MEMORY;
	}
	return KM_OK;
}

static double item(const struct npy *st, const uint8_t *p)
{
	uint8_t b[8];
	for (unsigned i = 0; i < st->size; i++)
		b[i] = st->big ? p[st->size - 1 - i] : p[i];
	uint64_t v = 0;
	for (unsigned i = 0; i < st->size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	switch (st->kind) {
	case 'f':
		if (st->size == 4) {
			uint32_t u = (uint32_t)v;
			float f;
			memcpy(&f, &u, 4);
			return f;
		} else {
			double d;
			memcpy(&d, &v, 8);
			return d;
		}
	case 'u':
		return (double)v;
	default: /* 'i': sign-extend */
		if (st->size == 2)
			return (double)(int16_t)(uint16_t)v;
		return (double)(int32_t)(uint32_t)v;
	}
}

static int npy_next(km_import *r, struct km_frame *out, bool *have_time)
{
	struct npy *st = r->fmt;
	*have_time = false;
	if (r->index >= r->info.frame_count)
		return KM_ERR_END;
	size_t row_bytes = (size_t)out->cols * st->size;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (st->kind == 'f' && st->size == 4 && !st->big) {
		/* little-endian float32 on a little-endian host (knotmap's own
		 * export, numpy's default): the bytes are the floats, read as one
		 * block straight into the frame; the check below is one pass */
		uint64_t at = r->in.offset;
		size_t cells = (size_t)out->rows * out->cols, bytes = cells * 4;
		size_t got = km__in_read(&r->in, out->kpa, bytes);
		if (r->in.err)
			return km__import_fail(r, KM_ERR_IO, 0, at, "read error");
		if (got != bytes)
			return km__import_fail(r, KM_ERR_TRUNCATED, 0, at + got,
			                       "file ends inside frame %llu of %llu (row %zu)",
			                       (unsigned long long)r->index,
			                       (unsigned long long)r->info.frame_count,
			                       got / row_bytes);
		if (km__all_finite(out->kpa, cells))
			return KM_OK;
		for (size_t i = 0; i < cells; i++)
			if (!isfinite(out->kpa[i]))
				return km__import_fail(r, KM_ERR_NONFINITE, 0, at + (uint64_t)i * 4,
				                       "frame %llu, row %zu, column %zu is %s",
				                       (unsigned long long)r->index, i / out->cols,
				                       i % out->cols,
				                       isnan(out->kpa[i]) ? "NaN" : "infinite");
		return km__import_fail(r, KM_ERR_NONFINITE, 0, at, "frame %llu is not finite",
		                       (unsigned long long)r->index);
	}
#endif
	for (unsigned y = 0; y < out->rows; y++) {
		uint64_t at = r->in.offset;
		size_t got = km__in_read(&r->in, st->row, row_bytes);
		if (r->in.err)
			return km__import_fail(r, KM_ERR_IO, 0, at, "read error");
		if (got != row_bytes)
			return km__import_fail(r, KM_ERR_TRUNCATED, 0, at + got,
			                       "file ends inside frame %llu of %llu (row %u)",
			                       (unsigned long long)r->index,
			                       (unsigned long long)r->info.frame_count, y);
		float *dst = out->kpa + (size_t)y * out->cols;
		for (unsigned x = 0; x < out->cols; x++) {
			double v = item(st, st->row + (size_t)x * st->size);
			if (!isfinite(v))
				return km__import_fail(r, KM_ERR_NONFINITE, 0,
				                       at + (uint64_t)x * st->size,
				                       "frame %llu, row %u, column %u is %s",
				                       (unsigned long long)r->index, y, x,
				                       isnan(v) ? "NaN" : "infinite");
			dst[x] = (float)v;
		}
	}
	return KM_OK;
}

static void npy_close(km_import *r)
{
	struct npy *st = r->fmt;
	if (!st)
		return;
	km__free(st->row);
	km__free(st->header);
	km__free(st);
	r->fmt = NULL;
}

const struct km__import_ops km__import_npy = {
    .format = KM_IMPORT_NPY,
    .open = npy_open,
    .next = npy_next,
    .close = npy_close,
};
