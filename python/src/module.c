/*
 * knotmap._knotmap: the C half of the Python module (CPython C API only; the
 * Python half, python/knotmap/__init__.py, turns what this returns into numpy
 * arrays). Arrays cross the boundary as knotmap._knotmap.Buffer objects that
 * own their memory and export it through the buffer protocol, so numpy wraps
 * them without a copy; frames coming in are read through the buffer protocol
 * too (float32, C-contiguous: no copy either).
 *
 * Only the public headers are used, so what other parts add to them (new
 * config fields, formats, event types) never breaks this file. Long loops
 * (reading, writing, simulating, processing many frames) run with the GIL
 * released; they touch no Python object while they do.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knotmap/body.h"
#include "knotmap/export.h"
#include "knotmap/import.h"
#include "knotmap/pipeline.h"
#include "knotmap/sim.h"

PyMODINIT_FUNC PyInit__knotmap(void);

static PyObject *KmError; /* knotmap.Error */

/* ------------------------------------------------------------------------ */
/* Errors and the log                                                        */
/* ------------------------------------------------------------------------ */

/* Keeps the library's last error/warning message for the exception text.
 * Written from the library's thread without the GIL: plain C only. */
struct pylog {
	char last[512];
};

static void pylog_fn(void *user, enum km_log_level level, const char *module, const char *msg)
{
	struct pylog *l = user;
	if (level <= KM_LOG_WARN)
		snprintf(l->last, sizeof l->last, "%s: %s", module ? module : "knotmap", msg);
}

static struct km_log pylog_make(struct pylog *l)
{
	l->last[0] = '\0';
	struct km_log k = {pylog_fn, l, KM_LOG_WARN};
	return k;
}

/* Raises knotmap.Error(code, name, message): message is what the library
 * said (detail), else km_strerror. Returns NULL for `return km_raise(...)`. */
static PyObject *km_raise(int code, const char *what, const char *detail)
{
	const char *name = km_error_name(code);
	char msg[1024];
	if (detail && detail[0])
		snprintf(msg, sizeof msg, "%s: %s%s%s", name, what ? what : "", what ? ": " : "",
		         detail);
	else
		snprintf(msg, sizeof msg, "%s: %s%s%s", name, what ? what : "", what ? ": " : "",
		         km_strerror(code));
	PyObject *exc = PyObject_CallFunction(KmError, "s", msg);
	if (!exc)
		return NULL;
	PyObject *c = PyLong_FromLong(code);
	PyObject *n = PyUnicode_FromString(name);
	PyObject *d = PyUnicode_FromString(detail && detail[0] ? detail : km_strerror(code));
	if (c && n && d && PyObject_SetAttrString(exc, "code", c) == 0 &&
	    PyObject_SetAttrString(exc, "name", n) == 0 &&
	    PyObject_SetAttrString(exc, "detail", d) == 0)
		PyErr_SetObject(KmError, exc);
	Py_XDECREF(c);
	Py_XDECREF(n);
	Py_XDECREF(d);
	Py_DECREF(exc);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Buffer: memory this module allocated, exported through the buffer protocol */
/* ------------------------------------------------------------------------ */

#define BUF_MAX_DIM 3

typedef struct {
	PyObject_HEAD
	char *data; /* PyMem_Raw; freed with the object */
	Py_ssize_t ndim;
	Py_ssize_t shape[BUF_MAX_DIM];
	Py_ssize_t strides[BUF_MAX_DIM];
	Py_ssize_t itemsize;
	char format[8]; /* struct-module code: "f", "H", "Q", "I", "i", "B" */
	Py_ssize_t exports;
} BufferObject;

static void buffer_dealloc(BufferObject *self)
{
	PyMem_RawFree(self->data);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int buffer_getbuffer(BufferObject *self, Py_buffer *view, int flags)
{
	(void)flags;
	Py_ssize_t n = self->itemsize;
	for (Py_ssize_t i = 0; i < self->ndim; i++)
		n *= self->shape[i];
	view->buf = self->data;
	view->obj = (PyObject *)self;
	Py_INCREF(self);
	view->len = n;
	view->readonly = 0;
	view->itemsize = self->itemsize;
	view->format = (flags & PyBUF_FORMAT) ? self->format : NULL;
	view->ndim = (int)self->ndim;
	view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
	view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
	view->suboffsets = NULL;
	view->internal = NULL;
	self->exports++;
	return 0;
}

static void buffer_releasebuffer(BufferObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyBufferProcs buffer_procs = {
    (getbufferproc)buffer_getbuffer,
    (releasebufferproc)buffer_releasebuffer,
};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "knotmap._knotmap.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_as_buffer = &buffer_procs,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Memory owned by knotmap, exported through the buffer protocol.",
};

/* A growable array built without the GIL. */
struct grow {
	char *p;
	size_t len, cap; /* bytes */
	int failed;
};

static void *grow_add(struct grow *g, size_t bytes)
{
	if (g->failed)
		return NULL;
	if (g->len + bytes > g->cap) {
		size_t cap = g->cap ? g->cap : 4096;
		while (cap < g->len + bytes)
			cap *= 2;
		char *p = PyMem_RawRealloc(g->p, cap);
		if (!p) {
			g->failed = 1;
			return NULL;
		}
		g->p = p;
		g->cap = cap;
	}
	void *at = g->p + g->len;
	g->len += bytes;
	return at;
}

/* Hands g's memory to a new Buffer of `count` items shaped dims (ndim 1..3,
 * product of dims = count); g is emptied. NULL with MemoryError on failure. */
static PyObject *grow_to_buffer(struct grow *g, const char *format, size_t itemsize, int ndim,
                                const Py_ssize_t *dims)
{
	BufferObject *b = PyObject_New(BufferObject, &BufferType);
	if (!b) {
		PyMem_RawFree(g->p);
		memset(g, 0, sizeof *g);
		return NULL;
	}
	b->data = g->p ? g->p : PyMem_RawMalloc(1);
	memset(g, 0, sizeof *g);
	if (!b->data) {
		b->ndim = 0;
		Py_DECREF(b);
		return PyErr_NoMemory();
	}
	b->ndim = ndim;
	b->itemsize = (Py_ssize_t)itemsize;
	snprintf(b->format, sizeof b->format, "%s", format);
	b->exports = 0;
	Py_ssize_t stride = (Py_ssize_t)itemsize;
	for (int i = ndim - 1; i >= 0; i--) {
		b->shape[i] = dims[i];
		b->strides[i] = stride;
		stride *= dims[i];
	}
	return (PyObject *)b;
}

static PyObject *grow_to_buffer1(struct grow *g, const char *format, size_t itemsize)
{
	Py_ssize_t n = (Py_ssize_t)(g->len / itemsize);
	return grow_to_buffer(g, format, itemsize, 1, &n);
}

/* ------------------------------------------------------------------------ */
/* Record layouts shared with Python (numpy dtypes are built from these)     */
/* ------------------------------------------------------------------------ */

struct rec_event {
	uint64_t frame; /* index of the frame (in this pipeline) that raised it */
	uint64_t time_us;
	uint32_t type, reason, track_id, knot_id, frame_seq, hold_index;
	float x_mm, y_mm;
	float row, col;       /* position in cells (cell r's centre is row r) */
	float body_x_mm;      /* from the spine midline (NaN: no body found) */
	float body_y;         /* along the loaded body from its top, 0..1 (NaN: none) */
	float load_kpa, load_n, held_s, dose_kpa_s, stiffness_pct, value;
};

struct rec_spot {
	uint64_t frame;
	uint64_t time_us;
	uint64_t first_us;
	uint32_t id, state, flags, hits, missed;
	float x_mm, y_mm, row, col, body_x_mm, body_y;
	float vx_mm_s, vy_mm_s, response_kpa, peak_kpa, background_kpa, scale_mm, area_mm2;
};

struct rec_candidate {
	uint64_t frame;
	float x_mm, y_mm, row, col, body_x_mm, body_y;
	float scale_mm, response_kpa, peak_kpa, background_kpa;
	uint32_t cell_row, cell_col, scale_index, flags;
};

struct rec_frame {
	uint64_t frame;
	uint64_t time_us;
	uint32_t sequence;
	int32_t status; /* KM_OK or why the pipeline skipped the frame */
	uint32_t flags, bad_cells, n_events, n_spots, n_candidates;
	int32_t body_found;
	float total_load_n, loaded_area_cm2, peak_kpa;
	float load_centre_x_mm, load_centre_y_mm; /* NaN when nothing is loaded */
	float midline_x_mm, body_left_mm, body_right_mm, body_top_mm, body_bottom_mm;
};

struct rec_truth {
	uint64_t time_us;
	double t_s;
	uint32_t sequence, phase, step_index;
	uint8_t tool_contact, tensing, withdrawal, body;
	float load, total_force_n, body_force_n, loaded_area_cm2, peak_kpa;
	float tool_x_mm, tool_y_mm, tool_force_n, tool_area_cm2, tool_peak_kpa;
	float breath_phase, spine_x_mm, spine_y0_mm, spine_y1_mm;
};

struct rec_knot {
	uint32_t id;
	uint8_t loaded;
	float x_mm, y_mm, radius_mm, depth_mm, stiffness_pct, hold_s;
};

/* [(name, numpy type, offset), ...], itemsize */
#define F(st, field, ty) {#field, ty, offsetof(struct st, field)}
struct field {
	const char *name, *type;
	size_t offset;
};

static const struct field event_fields[] = {
    F(rec_event, frame, "<u8"),       F(rec_event, time_us, "<u8"),
    F(rec_event, type, "<u4"),        F(rec_event, reason, "<u4"),
    F(rec_event, track_id, "<u4"),    F(rec_event, knot_id, "<u4"),
    F(rec_event, frame_seq, "<u4"),   F(rec_event, hold_index, "<u4"),
    F(rec_event, x_mm, "<f4"),        F(rec_event, y_mm, "<f4"),
    F(rec_event, row, "<f4"),         F(rec_event, col, "<f4"),
    F(rec_event, body_x_mm, "<f4"),   F(rec_event, body_y, "<f4"),
    F(rec_event, load_kpa, "<f4"),    F(rec_event, load_n, "<f4"),
    F(rec_event, held_s, "<f4"),      F(rec_event, dose_kpa_s, "<f4"),
    F(rec_event, stiffness_pct, "<f4"), F(rec_event, value, "<f4"),
    {NULL, NULL, 0}};
static const struct field spot_fields[] = {
    F(rec_spot, frame, "<u8"),        F(rec_spot, time_us, "<u8"),
    F(rec_spot, first_us, "<u8"),     F(rec_spot, id, "<u4"),
    F(rec_spot, state, "<u4"),        F(rec_spot, flags, "<u4"),
    F(rec_spot, hits, "<u4"),         F(rec_spot, missed, "<u4"),
    F(rec_spot, x_mm, "<f4"),         F(rec_spot, y_mm, "<f4"),
    F(rec_spot, row, "<f4"),          F(rec_spot, col, "<f4"),
    F(rec_spot, body_x_mm, "<f4"),    F(rec_spot, body_y, "<f4"),
    F(rec_spot, vx_mm_s, "<f4"),      F(rec_spot, vy_mm_s, "<f4"),
    F(rec_spot, response_kpa, "<f4"), F(rec_spot, peak_kpa, "<f4"),
    F(rec_spot, background_kpa, "<f4"), F(rec_spot, scale_mm, "<f4"),
    F(rec_spot, area_mm2, "<f4"),     {NULL, NULL, 0}};
static const struct field candidate_fields[] = {
    F(rec_candidate, frame, "<u8"),         F(rec_candidate, x_mm, "<f4"),
    F(rec_candidate, y_mm, "<f4"),          F(rec_candidate, row, "<f4"),
    F(rec_candidate, col, "<f4"),           F(rec_candidate, body_x_mm, "<f4"),
    F(rec_candidate, body_y, "<f4"),        F(rec_candidate, scale_mm, "<f4"),
    F(rec_candidate, response_kpa, "<f4"),  F(rec_candidate, peak_kpa, "<f4"),
    F(rec_candidate, background_kpa, "<f4"), F(rec_candidate, cell_row, "<u4"),
    F(rec_candidate, cell_col, "<u4"),      F(rec_candidate, scale_index, "<u4"),
    F(rec_candidate, flags, "<u4"),         {NULL, NULL, 0}};
static const struct field frame_fields[] = {
    F(rec_frame, frame, "<u8"),            F(rec_frame, time_us, "<u8"),
    F(rec_frame, sequence, "<u4"),         F(rec_frame, status, "<i4"),
    F(rec_frame, flags, "<u4"),            F(rec_frame, bad_cells, "<u4"),
    F(rec_frame, n_events, "<u4"),         F(rec_frame, n_spots, "<u4"),
    F(rec_frame, n_candidates, "<u4"),     F(rec_frame, body_found, "<i4"),
    F(rec_frame, total_load_n, "<f4"),     F(rec_frame, loaded_area_cm2, "<f4"),
    F(rec_frame, peak_kpa, "<f4"),         F(rec_frame, load_centre_x_mm, "<f4"),
    F(rec_frame, load_centre_y_mm, "<f4"), F(rec_frame, midline_x_mm, "<f4"),
    F(rec_frame, body_left_mm, "<f4"),     F(rec_frame, body_right_mm, "<f4"),
    F(rec_frame, body_top_mm, "<f4"),      F(rec_frame, body_bottom_mm, "<f4"),
    {NULL, NULL, 0}};
static const struct field truth_fields[] = {
    F(rec_truth, time_us, "<u8"),        F(rec_truth, t_s, "<f8"),
    F(rec_truth, sequence, "<u4"),       F(rec_truth, phase, "<u4"),
    F(rec_truth, step_index, "<u4"),     F(rec_truth, tool_contact, "?"),
    F(rec_truth, tensing, "?"),          F(rec_truth, withdrawal, "?"),
    F(rec_truth, body, "?"),             F(rec_truth, load, "<f4"),
    F(rec_truth, total_force_n, "<f4"),  F(rec_truth, body_force_n, "<f4"),
    F(rec_truth, loaded_area_cm2, "<f4"), F(rec_truth, peak_kpa, "<f4"),
    F(rec_truth, tool_x_mm, "<f4"),      F(rec_truth, tool_y_mm, "<f4"),
    F(rec_truth, tool_force_n, "<f4"),   F(rec_truth, tool_area_cm2, "<f4"),
    F(rec_truth, tool_peak_kpa, "<f4"),  F(rec_truth, breath_phase, "<f4"),
    F(rec_truth, spine_x_mm, "<f4"),     F(rec_truth, spine_y0_mm, "<f4"),
    F(rec_truth, spine_y1_mm, "<f4"),    {NULL, NULL, 0}};
static const struct field knot_fields[] = {
    F(rec_knot, id, "<u4"),        F(rec_knot, loaded, "?"),
    F(rec_knot, x_mm, "<f4"),      F(rec_knot, y_mm, "<f4"),
    F(rec_knot, radius_mm, "<f4"), F(rec_knot, depth_mm, "<f4"),
    F(rec_knot, stiffness_pct, "<f4"), F(rec_knot, hold_s, "<f4"),
    {NULL, NULL, 0}};
#undef F

static PyObject *layout(const struct field *f, size_t itemsize)
{
	PyObject *list = PyList_New(0);
	if (!list)
		return NULL;
	for (; f->name; f++) {
		PyObject *t = Py_BuildValue("(ssn)", f->name, f->type, (Py_ssize_t)f->offset);
		if (!t || PyList_Append(list, t) < 0) {
			Py_XDECREF(t);
			Py_DECREF(list);
			return NULL;
		}
		Py_DECREF(t);
	}
	return Py_BuildValue("(Nn)", list, (Py_ssize_t)itemsize);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static const char *geometry_name(enum km_geometry g)
{
	return g == KM_GEOMETRY_CYLINDER ? "cylinder" : "flat";
}

static int geometry_parse(const char *s, enum km_geometry *out)
{
	if (!strcmp(s, "flat"))
		*out = KM_GEOMETRY_FLAT;
	else if (!strcmp(s, "cylinder") || !strcmp(s, "roller"))
		*out = KM_GEOMETRY_CYLINDER;
	else {
		PyErr_Format(PyExc_ValueError, "geometry must be 'flat' or 'cylinder', not '%s'", s);
		return -1;
	}
	return 0;
}

/* A float32 C-contiguous frame stack, [n, rows, cols] or [rows, cols]. */
static int get_frames(PyObject *obj, Py_buffer *view, Py_ssize_t *n, Py_ssize_t *rows,
                      Py_ssize_t *cols)
{
	if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
		return -1;
	if (!view->format || strcmp(view->format, "f") != 0 || view->itemsize != 4) {
		PyErr_Format(PyExc_TypeError, "frames must be float32 (format 'f'), not '%s'",
		             view->format ? view->format : "B");
		PyBuffer_Release(view);
		return -1;
	}
	if (view->ndim == 3) {
		*n = view->shape[0];
		*rows = view->shape[1];
		*cols = view->shape[2];
	} else if (view->ndim == 2) {
		*n = 1;
		*rows = view->shape[0];
		*cols = view->shape[1];
	} else {
		PyErr_Format(PyExc_ValueError, "frames must have 2 or 3 dimensions, not %d",
		             view->ndim);
		PyBuffer_Release(view);
		return -1;
	}
	return 0;
}

/* An optional 1-D buffer of n items of the given format ("Q" or "I"). */
static int get_column(PyObject *obj, Py_buffer *view, const char *fmt, Py_ssize_t n,
                      const char *what)
{
	if (obj == Py_None) {
		view->buf = NULL;
		view->obj = NULL;
		return 0;
	}
	if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
		return -1;
	const char *f = view->format ? view->format : "B";
	if (f[0] == '<' || f[0] == '=' || f[0] == '@')
		f++;
	int ok = view->ndim == 1 && view->shape[0] == n &&
	         ((fmt[0] == 'Q' && (!strcmp(f, "Q") || !strcmp(f, "L")) && view->itemsize == 8) ||
	          (fmt[0] == 'I' && (!strcmp(f, "I") || !strcmp(f, "L")) && view->itemsize == 4));
	if (!ok) {
		PyErr_Format(PyExc_ValueError, "%s must be a 1-D %s array of %zd items", what,
		             fmt[0] == 'Q' ? "uint64" : "uint32", n);
		PyBuffer_Release(view);
		view->obj = NULL;
		view->buf = NULL;
		return -1;
	}
	return 0;
}

static void release_column(Py_buffer *view)
{
	if (view->obj)
		PyBuffer_Release(view);
}

/* ------------------------------------------------------------------------ */
/* read                                                                      */
/* ------------------------------------------------------------------------ */

static PyObject *py_read(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"path",  "format", "rate_hz", "pitch_mm", "units",
	                         "rows",  "cols",   "sidecar", "partial",  NULL};
	PyObject *path_obj = NULL;
	const char *format = NULL, *units = NULL;
	double rate = 0, pitch = 0;
	int rows = 0, cols = 0, sidecar = 1, partial = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$zddziipp", kwlist, PyUnicode_FSConverter,
	                                 &path_obj, &format, &rate, &pitch, &units, &rows, &cols,
	                                 &sidecar, &partial))
		return NULL;
	const char *path = PyBytes_AS_STRING(path_obj);
	struct pylog log;
	char detail[512] = "";
	struct km_source_config sc = km_source_config_default();
	sc.log = pylog_make(&log);
	sc.path = path;
	sc.import.detail = detail;
	sc.import.detail_size = sizeof detail;
	sc.import.rate_hz = (float)rate;
	sc.import.pitch_mm = (float)pitch;
	sc.import.rows = (uint16_t)rows;
	sc.import.cols = (uint16_t)cols;
	sc.import.sidecar = sidecar != 0;
	if (rows < 0 || cols < 0 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM) {
		Py_DECREF(path_obj);
		return km_raise(KM_ERR_SHAPE, path, "rows and cols must be 1..1024");
	}
	if (format && km_import_format_parse(format, &sc.import.format) != KM_OK) {
		Py_DECREF(path_obj);
		return km_raise(KM_ERR_INVALID_ARG, path, "unknown format (auto, kmrec, npy, tekscan, xsensor, csv)");
	}
	if (units && km_import_units_parse(units, &sc.import.units) != KM_OK) {
		Py_DECREF(path_obj);
		return km_raise(KM_ERR_UNSUPPORTED, path, "unknown units (" KM_IMPORT_UNITS_LIST ")");
	}
	km_source *src = NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS rc = km_source_create(&sc, &src);
	Py_END_ALLOW_THREADS if (rc != KM_OK)
	{
		PyObject *r = km_raise(rc, path, detail[0] ? detail : log.last);
		Py_DECREF(path_obj);
		return r;
	}
	const struct km_source_info *in = km_source_info(src);
	const size_t cells = (size_t)in->device.rows * in->device.cols;
	struct grow kpa = {0}, times = {0}, seqs = {0}, flags = {0};
	uint64_t n = 0;
	struct km_rec_item it;
	Py_BEGIN_ALLOW_THREADS while ((rc = km_source_next_frame(src, &it)) == KM_OK)
	{
		float *k = grow_add(&kpa, cells * sizeof(float));
		uint64_t *t = grow_add(&times, sizeof(uint64_t));
		uint32_t *s = grow_add(&seqs, sizeof(uint32_t));
		uint32_t *f = grow_add(&flags, sizeof(uint32_t));
		if (!k || !t || !s || !f) {
			rc = KM_ERR_NO_MEMORY;
			break;
		}
		memcpy(k, it.frame->kpa, cells * sizeof(float));
		*t = it.frame->device_time_us;
		*s = it.frame->sequence;
		*f = it.frame->flags;
		n++;
	}
	Py_END_ALLOW_THREADS

	PyObject *result = NULL, *damage = Py_None;
	Py_INCREF(Py_None);
	if (rc != KM_ERR_END) {
		struct km_import_damage d;
		km_source_damage(src, &d);
		int is_import = km_source_import(src) != NULL;
		if (rc == KM_ERR_NO_MEMORY || !d.damaged || (is_import && !partial)) {
			const char *msg = d.damaged ? d.message : (detail[0] ? detail : log.last);
			km_raise(rc, d.damaged ? NULL : path, msg);
			goto out;
		}
		Py_DECREF(damage);
		damage = Py_BuildValue("{s:s,s:s,s:i,s:K,s:K,s:K}", "message", d.message, "error",
		                       km_error_name(d.error), "code", d.error, "line",
		                       (unsigned long long)d.line, "byte_offset",
		                       (unsigned long long)d.byte_offset, "frame_index",
		                       (unsigned long long)d.frame_index);
		if (!damage)
			goto out;
	}
	Py_ssize_t dims[3] = {(Py_ssize_t)n, in->device.rows, in->device.cols};
	PyObject *fr = grow_to_buffer(&kpa, "f", sizeof(float), 3, dims);
	PyObject *tb = grow_to_buffer1(&times, "Q", sizeof(uint64_t));
	PyObject *sb = grow_to_buffer1(&seqs, "I", sizeof(uint32_t));
	PyObject *fb = grow_to_buffer1(&flags, "I", sizeof(uint32_t));
	const struct km_import *imp = km_source_import(src);
	const struct km_import_info *ii = imp ? km_import_info(imp) : NULL;
	/* the sensor's outline (Tekscan's 'B' cells, a sidecar's mask): [rows,
	 * cols] of 0 / 1, or None */
	PyObject *mb = NULL;
	if (in->mask) {
		struct grow m = {0};
		uint8_t *at = grow_add(&m, cells);
		if (at) {
			memcpy(at, in->mask, cells);
			Py_ssize_t d2[2] = {in->device.rows, in->device.cols};
			mb = grow_to_buffer(&m, "B", 1, 2, d2);
		} else {
			PyMem_RawFree(m.p);
			PyErr_NoMemory();
		}
	} else {
		Py_INCREF(Py_None);
		mb = Py_None;
	}
	double row_pitch = in->row_pitch_mm > 0 ? in->row_pitch_mm : in->device.pitch_mm;
	double col_pitch = in->col_pitch_mm > 0 ? in->col_pitch_mm : in->device.pitch_mm;
	if (fr && tb && sb && fb && mb)
		result = Py_BuildValue(
		    "{s:O,s:O,s:O,s:O,s:s,s:f,s:f,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:d,s:d}",
		    "frames", fr,
		    "time_us", tb, "sequence", sb, "flags", fb, "format",
		    km_import_format_name(in->format), "rate_hz", (double)in->device.rate_hz,
		    "pitch_mm", (double)in->device.pitch_mm, "units",
		    /* frames come out in kPa whatever the file's units, raw counts excepted */
		    km_import_units_name(in->units == KM_UNITS_RAW ? KM_UNITS_RAW : KM_UNITS_KPA),
		    "file_units",
		    km_import_units_name(in->units == KM_UNITS_DEFAULT ? KM_UNITS_KPA : in->units),
		    "geometry", geometry_name(in->device.geometry), "model", in->device.model,
		    "serial", in->device.serial, "rate_from",
		    ii ? (const char *[]){"default", "config", "file", "sidecar"}[ii->rate_from & 3]
		       : "file",
		    "pitch_from",
		    ii ? (const char *[]){"default", "config", "file", "sidecar"}[ii->pitch_from & 3]
		       : "file",
		    "units_from",
		    ii ? (const char *[]){"default", "config", "file", "sidecar"}[ii->units_from & 3]
		       : "file",
		    "damage", damage, "mask", mb, "pitch_mm_rows", row_pitch, "pitch_mm_cols",
		    col_pitch);
	Py_XDECREF(mb);
	Py_XDECREF(fr);
	Py_XDECREF(tb);
	Py_XDECREF(sb);
	Py_XDECREF(fb);
out:
	PyMem_RawFree(kpa.p);
	PyMem_RawFree(times.p);
	PyMem_RawFree(seqs.p);
	PyMem_RawFree(flags.p);
	Py_XDECREF(damage);
	km_source_destroy(src);
	Py_DECREF(path_obj);
	return result;
}

/* ------------------------------------------------------------------------ */
/* write                                                                     */
/* ------------------------------------------------------------------------ */

/* Frames into a .kmrec at path. Runs without the GIL. */
static int write_kmrec(const char *path, const float *kpa, size_t n, uint16_t rows, uint16_t cols,
                       float pitch, float rate, enum km_geometry geom, const uint64_t *times,
                       const uint32_t *seqs, int overwrite, const char *model, struct pylog *log)
{
	struct km_rec_writer_config wc = km_rec_writer_config_default();
	wc.log = pylog_make(log);
	wc.path = path;
	wc.overwrite = overwrite != 0;
	wc.sync = false; /* one fsync at close is enough for a file written in one go */
	wc.device.rows = rows;
	wc.device.cols = cols;
	wc.device.pitch_mm = pitch;
	wc.device.geometry = geom;
	wc.device.rate_hz = rate;
	snprintf(wc.device.model, sizeof wc.device.model, "%s", model);
	km_rec_writer *w = NULL;
	int rc = km_rec_writer_create(&wc, &w);
	if (rc != KM_OK)
		return rc;
	struct km_frame f;
	memset(&f, 0, sizeof f);
	f.rows = rows;
	f.cols = cols;
	f.pitch_mm = pitch;
	f.geometry = geom;
	for (size_t i = 0; i < n && rc == KM_OK; i++) {
		f.kpa = (float *)(kpa + i * (size_t)rows * cols);
		f.sequence = seqs ? seqs[i] : (uint32_t)i;
		f.device_time_us = times ? times[i] : (uint64_t)((double)i * 1e6 / (double)rate + 0.5);
		rc = km_rec_writer_write_frame(w, &f, NULL, 0);
	}
	int rc2 = km_rec_writer_close(w);
	km_rec_writer_destroy(w);
	return rc != KM_OK ? rc : rc2;
}

static PyObject *py_write(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"path",     "frames",  "format",    "rate_hz", "pitch_mm",
	                         "geometry", "time_us", "sequence",  "overwrite", "model",
	                         "title",    NULL};
	PyObject *path_obj = NULL, *frames = NULL, *times_obj = Py_None, *seqs_obj = Py_None;
	const char *format = "kmrec", *geometry = "flat", *model = "python", *title = NULL;
	double rate = 100.0, pitch = 10.0;
	int overwrite = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O|$sddsOOpsz", kwlist, PyUnicode_FSConverter,
	                                 &path_obj, &frames, &format, &rate, &pitch, &geometry,
	                                 &times_obj, &seqs_obj, &overwrite, &model, &title))
		return NULL;
	const char *path = PyBytes_AS_STRING(path_obj);
	PyObject *ret = NULL;
	Py_buffer view = {0}, tv = {0}, sv = {0};
	Py_ssize_t n, rows, cols;
	enum km_geometry geom;
	enum km_export_format ef = KM_EXPORT_NPY;
	int to_kmrec = !strcmp(format, "kmrec");
	if (geometry_parse(geometry, &geom) < 0) {
		Py_DECREF(path_obj);
		return NULL;
	}
	if (!to_kmrec && (km_export_format_parse(format, &ef) != KM_OK || ef == KM_EXPORT_CSV_EVENTS)) {
		Py_DECREF(path_obj);
		return km_raise(KM_ERR_INVALID_ARG, path,
		                "format must be kmrec, csv, json, npy, tekscan or png");
	}
	if (!(rate > 0 && rate <= 100000) || !(pitch > 0 && pitch <= 1000)) {
		Py_DECREF(path_obj);
		return km_raise(KM_ERR_RANGE, path, "rate_hz must be in (0, 100000], pitch_mm in (0, 1000]");
	}
	if (get_frames(frames, &view, &n, &rows, &cols) < 0) {
		Py_DECREF(path_obj);
		return NULL;
	}
	if (rows < 1 || cols < 1 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM) {
		km_raise(KM_ERR_SHAPE, path, "rows and cols must be 1..1024");
		goto out;
	}
	if (get_column(times_obj, &tv, "Q", n, "time_us") < 0 ||
	    get_column(seqs_obj, &sv, "I", n, "sequence") < 0)
		goto out;
	struct pylog log;
	int rc;
	char tmpdir[] = "/tmp/knotmap-py-XXXXXX";
	char tmp[sizeof tmpdir + 16];
	Py_BEGIN_ALLOW_THREADS;
	if (to_kmrec) {
		rc = write_kmrec(path, view.buf, (size_t)n, (uint16_t)rows, (uint16_t)cols,
		                 (float)pitch, (float)rate, geom, tv.buf, sv.buf, overwrite, model, &log);
	} else if (!mkdtemp(tmpdir)) {
		rc = KM_ERR_IO;
	} else {
		/* The exporters read a recording: write one in a private directory,
		 * export it, remove it. */
		snprintf(tmp, sizeof tmp, "%s/w.kmrec", tmpdir);
		rc = write_kmrec(tmp, view.buf, (size_t)n, (uint16_t)rows, (uint16_t)cols,
		                 (float)pitch, (float)rate, geom, tv.buf, sv.buf, 0, model, &log);
		if (rc == KM_OK) {
			struct km_rec_reader_config rcfg = km_rec_reader_config_default();
			rcfg.log = pylog_make(&log);
			rcfg.path = tmp;
			km_rec_reader *r = NULL;
			rc = km_rec_reader_create(&rcfg, &r);
			if (rc == KM_OK) {
				struct km_export_config ec = km_export_config_default();
				ec.log = pylog_make(&log);
				ec.format = ef;
				ec.path = path;
				ec.overwrite = overwrite != 0;
				ec.title = title;
				rc = km_export_recording(&ec, r);
				km_rec_reader_destroy(r);
			}
		}
		unlink(tmp);
		rmdir(tmpdir);
	}
	Py_END_ALLOW_THREADS;
	if (rc != KM_OK)
		km_raise(rc, path, log.last);
	else
		ret = PyLong_FromSsize_t(n);
out:
	release_column(&tv);
	release_column(&sv);
	PyBuffer_Release(&view);
	Py_DECREF(path_obj);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* Pipeline                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	km_pipeline *p;
	struct km_pipeline_config cfg;
	struct pylog log;
	uint64_t next_frame; /* frames given so far (index of the next) */
	int busy;            /* a call is running with the GIL released */
} PipelineObject;

static void pipeline_dealloc(PipelineObject *self)
{
	km_pipeline_destroy(self->p);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Sets one config field from a keyword; -1 with TypeError for unknown keys. */
static int pipeline_set(struct km_pipeline_config *c, const char *key, PyObject *v)
{
	struct {
		const char *name;
		float *f;
		bool *b;
	} fields[] = {
	    {"region_mm", &c->region_mm, NULL},
	    {"average_tau_s", &c->average_tau_s, NULL},
	    {"average_motion_mm", &c->average_motion_mm, NULL},
	    {"confirm_s", &c->confirm_s, NULL},
	    {"announce_s", &c->announce_s, NULL},
	    {"max_bad_fraction", &c->max_bad_fraction, NULL},
	    {"row_pitch_mm", &c->row_pitch_mm, NULL},
	    {"col_pitch_mm", &c->col_pitch_mm, NULL},
	    {"knot_max_pitch_mm", &c->knot_max_pitch_mm, NULL},
	    {"floor_fraction", &c->floor_fraction, NULL},
	    {"outline_fraction", &c->outline_fraction, NULL},
	    {"noise_k", &c->detect.noise_k, NULL},
	    {"min_response_kpa", &c->detect.min_response_kpa, NULL},
	    {"outline_kpa", &c->detect.outline_kpa, NULL},
	    {"gate_mm", &c->tracker.gate_mm, NULL},
	    {"normalized", NULL, &c->normalized},
	    {"enable_guard", NULL, &c->enable_guard},
	    {"enable_hold", NULL, &c->enable_hold},
	    {"enable_stiffness", NULL, &c->enable_stiffness},
	    {"sensor_noise", NULL, &c->sensor_noise},
	    {"lying_trunk_only", NULL, &c->lying_trunk_only},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(key, fields[i].name) != 0)
			continue;
		if (fields[i].f) {
			double d = PyFloat_AsDouble(v);
			if (d == -1.0 && PyErr_Occurred())
				return -1;
			*fields[i].f = (float)d;
		} else {
			int b = PyObject_IsTrue(v);
			if (b < 0)
				return -1;
			*fields[i].b = b != 0;
		}
		return 0;
	}
	if (!strcmp(key, "max_events")) {
		Py_ssize_t m = PyLong_AsSsize_t(v);
		if (m == -1 && PyErr_Occurred())
			return -1;
		c->max_events = m < 0 ? 0 : (size_t)m;
		return 0;
	}
	PyErr_Format(PyExc_TypeError, "Pipeline() got an unknown option '%s'", key);
	return -1;
}

/* sensor_mask=, as knotmap/pipeline.h's km_pipeline_config.sensor_mask:
 * rows x cols, truthy = a cell on the sensor. Any object with the buffer
 * protocol (a numpy array of bools, integers or floats, any strides or byte
 * order: numpy itself is not needed here) or a nested sequence of bools or
 * numbers. Written as 0/1 into out[rows * cols], our copy (the caller's
 * array may change afterwards; the pipeline copies it again at create).
 * -1 with TypeError (not a mask) or ValueError (not rows x cols). */
static int mask_from_buffer(PyObject *obj, int rows, int cols, uint8_t *out)
{
	Py_buffer v;
	if (PyObject_GetBuffer(obj, &v, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
		return -1;
	int ret = -1;
	const char *f = v.format ? v.format : "B";
	char order = '@';
	if (*f && strchr("@=<>!", *f))
		order = *f++;
	char t = f[0] && !f[1] ? f[0] : 0;
	bool is_float = t == 'f' || t == 'd';
	if (!t || !strchr("?bBhHiIlLqQnNfd", t) || (is_float && v.itemsize != (t == 'f' ? 4 : 8))) {
		PyErr_Format(PyExc_TypeError,
		             "sensor_mask: items of format '%s' are not bools, integers or "
		             "floats (float32/64)",
		             v.format ? v.format : "B");
		goto out;
	}
	if (v.ndim != 2 || v.shape[0] != rows || v.shape[1] != cols) {
		if (v.ndim == 2)
			PyErr_Format(PyExc_ValueError,
			             "sensor_mask is %zd x %zd, the pipeline %d x %d (rows x cols)",
			             v.shape[0], v.shape[1], rows, cols);
		else
			PyErr_Format(PyExc_ValueError,
			             "sensor_mask has %d dimension(s), not 2: it must be %d x %d "
			             "(rows x cols)",
			             v.ndim, rows, cols);
		goto out;
	}
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	bool swap = order == '<';
#else
	bool swap = order == '>' || order == '!';
#endif
	size_t is = (size_t)v.itemsize;
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			const unsigned char *p = (const unsigned char *)v.buf +
			                         (Py_ssize_t)r * v.strides[0] +
			                         (Py_ssize_t)c * v.strides[1];
			bool on = false;
			if (is_float) {
				/* as Python's truth: -0.0 is off, NaN on */
				unsigned char b[8];
				for (size_t i = 0; i < is; i++)
					b[i] = swap ? p[is - 1 - i] : p[i];
				if (is == 4) {
					float x;
					memcpy(&x, b, 4);
					on = x != 0.0f;
				} else {
					double x;
					memcpy(&x, b, 8);
					on = x != 0.0;
				}
			} else {
				/* an integer is zero in every byte order alike */
				for (size_t i = 0; i < is; i++)
					on |= p[i] != 0;
			}
			out[(size_t)r * (size_t)cols + (size_t)c] = on;
		}
	ret = 0;
out:
	PyBuffer_Release(&v);
	return ret;
}

static int mask_from_sequence(PyObject *obj, int rows, int cols, uint8_t *out)
{
	PyObject *outer = PySequence_Fast(obj, "sensor_mask must be a sequence");
	if (!outer)
		return -1;
	int ret = -1;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(outer);
	if (n != rows) {
		PyErr_Format(PyExc_ValueError,
		             "sensor_mask has %zd rows, the pipeline %d (rows x cols: %d x %d)", n,
		             rows, rows, cols);
		goto out;
	}
	for (Py_ssize_t r = 0; r < n; r++) {
		PyObject *row = PySequence_Fast_GET_ITEM(outer, r);
		if (PyUnicode_Check(row) || !PySequence_Check(row)) {
			PyErr_Format(PyExc_TypeError,
			             "sensor_mask row %zd is a %.100s, not a sequence of bools or "
			             "numbers",
			             r, Py_TYPE(row)->tp_name);
			goto out;
		}
		PyObject *cells = PySequence_Fast(row, "sensor_mask row");
		if (!cells)
			goto out;
		Py_ssize_t m = PySequence_Fast_GET_SIZE(cells);
		int ok = m == cols;
		if (!ok)
			PyErr_Format(PyExc_ValueError,
			             "sensor_mask row %zd has %zd cells, the pipeline %d columns",
			             r, m, cols);
		for (Py_ssize_t c = 0; ok && c < m; c++) {
			PyObject *it = PySequence_Fast_GET_ITEM(cells, c);
			int on = -1;
			if (!PyBool_Check(it) && !PyNumber_Check(it))
				PyErr_Format(
				    PyExc_TypeError,
				    "sensor_mask[%zd][%zd] is a %.100s, not a bool or a number", r,
				    c, Py_TYPE(it)->tp_name);
			else
				on = PyObject_IsTrue(it);
			if (on < 0)
				ok = 0;
			else
				out[(size_t)r * (size_t)cols + (size_t)c] = (uint8_t)on;
		}
		Py_DECREF(cells);
		if (!ok)
			goto out;
	}
	ret = 0;
out:
	Py_DECREF(outer);
	return ret;
}

static int mask_parse(PyObject *obj, int rows, int cols, uint8_t *out)
{
	if (PyObject_CheckBuffer(obj))
		return mask_from_buffer(obj, rows, cols, out);
	if (PyUnicode_Check(obj) || !PySequence_Check(obj)) {
		PyErr_Format(PyExc_TypeError,
		             "sensor_mask must be a %d x %d array or nested sequence of bools "
		             "(true: on the sensor), or None, not %.100s",
		             rows, cols, Py_TYPE(obj)->tp_name);
		return -1;
	}
	return mask_from_sequence(obj, rows, cols, out);
}

static int pipeline_init(PipelineObject *self, PyObject *args, PyObject *kw)
{
	int rows = 0, cols = 0;
	double pitch = 10.0, rate = 100.0;
	const char *geometry = "flat";
	static char *kwlist[] = {"rows", "cols", "pitch_mm", "rate_hz", "geometry", NULL};
	/* Positional and the five named parameters here; the rest of kw is config. */
	PyObject *named = PyDict_New(), *config = PyDict_New();
	uint8_t *mask = NULL;
	int ret = -1;
	if (!named || !config)
		goto out;
	if (kw) {
		PyObject *k, *v;
		Py_ssize_t pos = 0;
		while (PyDict_Next(kw, &pos, &k, &v)) {
			const char *s = PyUnicode_AsUTF8(k);
			if (!s)
				goto out;
			int is_named = 0;
			for (char **n = kwlist; *n; n++)
				is_named |= !strcmp(*n, s);
			if (PyDict_SetItem(is_named ? named : config, k, v) < 0)
				goto out;
		}
	}
	if (!PyArg_ParseTupleAndKeywords(args, named, "ii|dds", kwlist, &rows, &cols, &pitch, &rate,
	                                 &geometry))
		goto out;
	struct km_pipeline_config c = km_pipeline_config_default();
	if (rows < 1 || cols < 1 || rows > KM_FRAME_MAX_DIM || cols > KM_FRAME_MAX_DIM) {
		km_raise(KM_ERR_SHAPE, "Pipeline", "rows and cols must be 1..1024");
		goto out;
	}
	c.rows = (uint16_t)rows;
	c.cols = (uint16_t)cols;
	c.pitch_mm = (float)pitch;
	c.rate_hz = (float)rate;
	if (geometry_parse(geometry, &c.geometry) < 0)
		goto out;
	PyObject *mo = PyDict_GetItemString(config, "sensor_mask"); /* borrowed */
	if (mo) {
		if (mo != Py_None) {
			mask = PyMem_Malloc((size_t)rows * (size_t)cols);
			if (!mask) {
				PyErr_NoMemory();
				goto out;
			}
			if (mask_parse(mo, rows, cols, mask) < 0)
				goto out;
			c.sensor_mask = mask;
		}
		if (PyDict_DelItemString(config, "sensor_mask") < 0)
			goto out;
	}
	PyObject *k, *v;
	Py_ssize_t pos = 0;
	while (PyDict_Next(config, &pos, &k, &v))
		if (pipeline_set(&c, PyUnicode_AsUTF8(k), v) < 0)
			goto out;
	c.log = pylog_make(&self->log);
	km_pipeline *p = NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS rc = km_pipeline_create(&c, &p);
	Py_END_ALLOW_THREADS if (rc != KM_OK)
	{
		km_raise(rc, "Pipeline", self->log.last);
		goto out;
	}
	km_pipeline_destroy(self->p);
	self->p = p;
	self->cfg = c;
	self->cfg.sensor_mask = NULL; /* the pipeline keeps its own copy */
	self->next_frame = 0;
	ret = 0;
out:
	PyMem_Free(mask);
	Py_XDECREF(named);
	Py_XDECREF(config);
	return ret;
}

/* Body coordinates of a position from the outline (NaN when none). */
static void body_coords(const struct km_body_outline *o, float x, float y, float *bx, float *by)
{
	if (!o || !o->found) {
		*bx = *by = NAN;
		return;
	}
	*bx = x - o->midline_x_mm;
	float len = o->bottom_mm - o->top_mm;
	*by = len > 0 ? (y - o->top_mm) / len : NAN;
}

struct collect {
	struct grow events, spots, candidates, frames;
};

static void collect_free(struct collect *c)
{
	PyMem_RawFree(c->events.p);
	PyMem_RawFree(c->spots.p);
	PyMem_RawFree(c->candidates.p);
	PyMem_RawFree(c->frames.p);
	memset(c, 0, sizeof *c);
}

/* One result into the record arrays. Runs without the GIL. */
static int collect_result(struct collect *c, const struct km_pipeline_result *r, uint64_t frame,
                          int status, float pitch, int with_frame)
{
	const struct km_body_outline *o = r->outline;
	for (size_t i = 0; i < r->event_count; i++) {
		const struct km_event *e = &r->events[i];
		struct rec_event *d = grow_add(&c->events, sizeof *d);
		if (!d)
			return KM_ERR_NO_MEMORY;
		*d = (struct rec_event){frame,         e->time_us,  (uint32_t)e->type,
		                        (uint32_t)e->reason, e->track_id, e->knot_id,
		                        e->frame_seq,  e->hold_index, e->x_mm,
		                        e->y_mm,       e->y_mm / pitch - 0.5f, e->x_mm / pitch - 0.5f,
		                        NAN,           NAN,        e->load_kpa,
		                        e->load_n,     e->held_s,  e->dose_kpa_s,
		                        e->stiffness_pct, e->value};
		body_coords(o, e->x_mm, e->y_mm, &d->body_x_mm, &d->body_y);
	}
	for (size_t i = 0; i < r->track_count; i++) {
		const struct km_track *t = &r->tracks[i];
		struct rec_spot *d = grow_add(&c->spots, sizeof *d);
		if (!d)
			return KM_ERR_NO_MEMORY;
		*d = (struct rec_spot){frame,
		                       r->time_us,
		                       t->first_us,
		                       t->id,
		                       (uint32_t)t->state,
		                       t->flags,
		                       t->hits,
		                       t->missed,
		                       t->x_mm,
		                       t->y_mm,
		                       t->y_mm / pitch - 0.5f,
		                       t->x_mm / pitch - 0.5f,
		                       NAN,
		                       NAN,
		                       t->vx_mm_s,
		                       t->vy_mm_s,
		                       t->response_kpa,
		                       t->peak_kpa,
		                       t->background_kpa,
		                       t->scale_mm,
		                       t->area_mm2};
		body_coords(o, t->x_mm, t->y_mm, &d->body_x_mm, &d->body_y);
	}
	for (size_t i = 0; i < r->candidate_count; i++) {
		const struct km_candidate *k = &r->candidates[i];
		struct rec_candidate *d = grow_add(&c->candidates, sizeof *d);
		if (!d)
			return KM_ERR_NO_MEMORY;
		*d = (struct rec_candidate){frame,
		                            k->x_mm,
		                            k->y_mm,
		                            k->y_mm / pitch - 0.5f,
		                            k->x_mm / pitch - 0.5f,
		                            NAN,
		                            NAN,
		                            k->scale_mm,
		                            k->response_kpa,
		                            k->peak_kpa,
		                            k->background_kpa,
		                            k->row,
		                            k->col,
		                            k->scale_index,
		                            k->flags};
		body_coords(o, k->x_mm, k->y_mm, &d->body_x_mm, &d->body_y);
	}
	if (!with_frame)
		return KM_OK;
	struct rec_frame *f = grow_add(&c->frames, sizeof *f);
	if (!f)
		return KM_ERR_NO_MEMORY;
	int found = o && o->found;
	*f = (struct rec_frame){frame,
	                        r->time_us,
	                        r->sequence,
	                        status,
	                        r->flags,
	                        (uint32_t)r->bad_cells,
	                        (uint32_t)r->event_count,
	                        (uint32_t)r->track_count,
	                        (uint32_t)r->candidate_count,
	                        found,
	                        r->total_load_n,
	                        r->loaded_area_cm2,
	                        r->peak_kpa,
	                        r->load_centre_valid ? r->load_centre_x_mm : NAN,
	                        r->load_centre_valid ? r->load_centre_y_mm : NAN,
	                        found ? o->midline_x_mm : NAN,
	                        found ? o->left_mm : NAN,
	                        found ? o->right_mm : NAN,
	                        found ? o->top_mm : NAN,
	                        found ? o->bottom_mm : NAN};
	return KM_OK;
}

static PyObject *collect_to_python(struct collect *c)
{
	PyObject *e = grow_to_buffer1(&c->events, "B", sizeof(struct rec_event));
	PyObject *s = grow_to_buffer1(&c->spots, "B", sizeof(struct rec_spot));
	PyObject *k = grow_to_buffer1(&c->candidates, "B", sizeof(struct rec_candidate));
	PyObject *f = grow_to_buffer1(&c->frames, "B", sizeof(struct rec_frame));
	PyObject *r = NULL;
	if (e && s && k && f)
		r = Py_BuildValue("(OOOO)", e, s, k, f);
	Py_XDECREF(e);
	Py_XDECREF(s);
	Py_XDECREF(k);
	Py_XDECREF(f);
	collect_free(c);
	return r;
}

/* Records are exported as raw bytes ("B", itemsize = record size): the
 * Python side views them with the dtype built from the layouts above. */

static int pipeline_enter(PipelineObject *self)
{
	if (!self->p) {
		km_raise(KM_ERR_STATE, "Pipeline", "not initialised");
		return -1;
	}
	if (self->busy) {
		km_raise(KM_ERR_BUSY, "Pipeline", "used from two threads at once");
		return -1;
	}
	self->busy = 1;
	self->log.last[0] = '\0';
	return 0;
}

/* _process(frames, time_us=None, sequence=None, strict=False, finish=False)
 * -> (events, spots, candidates, frames) record buffers. strict: raise on
 * the first frame the pipeline refuses (process()); else record its status
 * and go on (process_many(), as `knotmap analyze` does). */
static PyObject *pipeline_process(PipelineObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"frames", "time_us", "sequence", "strict", "finish", NULL};
	PyObject *frames, *times_obj = Py_None, *seqs_obj = Py_None;
	int strict = 0, finish = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOpp", kwlist, &frames, &times_obj, &seqs_obj,
	                                 &strict, &finish))
		return NULL;
	Py_buffer view, tv = {0}, sv = {0};
	Py_ssize_t n, rows, cols;
	if (pipeline_enter(self) < 0)
		return NULL;
	PyObject *ret = NULL;
	if (get_frames(frames, &view, &n, &rows, &cols) < 0) {
		self->busy = 0;
		return NULL;
	}
	if (rows != self->cfg.rows || cols != self->cfg.cols) {
		char msg[128];
		snprintf(msg, sizeof msg, "frames are %zd x %zd, the pipeline is %u x %u", rows, cols,
		         self->cfg.rows, self->cfg.cols);
		km_raise(KM_ERR_SHAPE, "Pipeline", msg);
		goto out;
	}
	if (get_column(times_obj, &tv, "Q", n, "time_us") < 0 ||
	    get_column(seqs_obj, &sv, "I", n, "sequence") < 0)
		goto out;
	struct collect c;
	memset(&c, 0, sizeof c);
	int rc = KM_OK, failed = KM_OK;
	const uint64_t *times = tv.buf;
	const uint32_t *seqs = sv.buf;
	const size_t cells = (size_t)rows * (size_t)cols;
	const float pitch = self->cfg.pitch_mm;
	const double us_per_frame = 1e6 / (double)self->cfg.rate_hz;
	Py_BEGIN_ALLOW_THREADS;
	struct km_frame f;
	struct km_pipeline_result res;
	memset(&f, 0, sizeof f);
	f.rows = (uint16_t)rows;
	f.cols = (uint16_t)cols;
	f.pitch_mm = pitch;
	f.geometry = self->cfg.geometry;
	for (Py_ssize_t i = 0; i < n; i++) {
		uint64_t idx = self->next_frame;
		f.kpa = (float *)view.buf + (size_t)i * cells;
		f.sequence = seqs ? seqs[i] : (uint32_t)idx;
		f.device_time_us = times ? times[i] : (uint64_t)((double)idx * us_per_frame + 0.5);
		rc = km_pipeline_process(self->p, &f, &res);
		self->next_frame++;
		if (rc != KM_OK && strict) {
			failed = rc;
			break;
		}
		if (collect_result(&c, &res, idx, rc, pitch, 1) != KM_OK) {
			failed = KM_ERR_NO_MEMORY;
			break;
		}
	}
	if (failed == KM_OK && finish) {
		rc = km_pipeline_finish(self->p, &res);
		if (rc == KM_OK && collect_result(&c, &res, self->next_frame ? self->next_frame - 1 : 0,
		                                  rc, pitch, 0) != KM_OK)
			failed = KM_ERR_NO_MEMORY;
	}
	Py_END_ALLOW_THREADS;
	if (failed != KM_OK) {
		collect_free(&c);
		km_raise(failed, "Pipeline", self->log.last);
	} else {
		ret = collect_to_python(&c);
	}
out:
	release_column(&tv);
	release_column(&sv);
	PyBuffer_Release(&view);
	self->busy = 0;
	return ret;
}

static PyObject *pipeline_finish(PipelineObject *self, PyObject *unused)
{
	(void)unused;
	if (pipeline_enter(self) < 0)
		return NULL;
	struct km_pipeline_result res;
	struct collect c;
	memset(&c, 0, sizeof c);
	int rc = km_pipeline_finish(self->p, &res);
	if (rc == KM_OK)
		rc = collect_result(&c, &res, self->next_frame ? self->next_frame - 1 : 0, rc,
		                    self->cfg.pitch_mm, 0);
	self->busy = 0;
	if (rc != KM_OK) {
		collect_free(&c);
		return km_raise(rc, "Pipeline", self->log.last);
	}
	return collect_to_python(&c);
}

static PyObject *pipeline_reset(PipelineObject *self, PyObject *unused)
{
	(void)unused;
	if (pipeline_enter(self) < 0)
		return NULL;
	km_pipeline_reset(self->p);
	self->next_frame = 0;
	self->busy = 0;
	Py_RETURN_NONE;
}

static PyObject *pipeline_get_info(PipelineObject *self, void *closure)
{
	(void)closure;
	return Py_BuildValue("{s:i,s:i,s:f,s:f,s:s,s:K}", "rows", self->cfg.rows, "cols",
	                     self->cfg.cols, "pitch_mm", (double)self->cfg.pitch_mm, "rate_hz",
	                     (double)self->cfg.rate_hz, "geometry",
	                     geometry_name(self->cfg.geometry), "frames",
	                     (unsigned long long)self->next_frame);
}

#define METH_KW(fn) (PyCFunction)(void (*)(void))(fn)

static PyMethodDef pipeline_methods[] = {
    {"_process", METH_KW(pipeline_process), METH_VARARGS | METH_KEYWORDS,
     "_process(frames, time_us=None, sequence=None, strict=False, finish=False)"},
    {"_finish", (PyCFunction)pipeline_finish, METH_NOARGS, "_finish()"},
    {"reset", (PyCFunction)pipeline_reset, METH_NOARGS,
     "reset(): clear all state (tracks, holds, frame order); keep the config"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef pipeline_getset[] = {
    {"_info", (getter)pipeline_get_info, NULL, "grid, pitch, rate, geometry, frames", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject PipelineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "knotmap._knotmap._Pipeline",
    .tp_basicsize = sizeof(PipelineObject),
    .tp_dealloc = (destructor)pipeline_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The dsp pipeline (knotmap/pipeline.h).",
    .tp_methods = pipeline_methods,
    .tp_getset = pipeline_getset,
    .tp_init = (initproc)pipeline_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------ */
/* simulate                                                                  */
/* ------------------------------------------------------------------------ */

static PyObject *py_simulate(PyObject *self, PyObject *args, PyObject *kw)
{
	(void)self;
	static char *kwlist[] = {"scenario", "seconds", "seed", "rate_hz", NULL};
	const char *scenario;
	double seconds = 10.0, rate = 0;
	PyObject *seed_obj = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|dOd", kwlist, &scenario, &seconds, &seed_obj,
	                                 &rate))
		return NULL;
	if (!(seconds > 0 && seconds <= 86400))
		return km_raise(KM_ERR_RANGE, scenario, "seconds must be in (0, 86400]");
	char path[4096], err[512] = "";
	struct pylog log;
	int rc = km_sim_scenario_find(scenario, path, sizeof path);
	if (rc != KM_OK)
		return km_raise(rc, scenario,
		                "no such scenario (names: see `knotmap sim --list`; or give a path)");
	struct km_sim_config cfg = km_sim_config_default();
	cfg.log = pylog_make(&log);
	rc = km_sim_scenario_load(path, &cfg, err, sizeof err);
	if (rc != KM_OK)
		return km_raise(rc, NULL, err[0] ? err : log.last);
	if (seed_obj != Py_None) {
		unsigned long long s = PyLong_AsUnsignedLongLong(seed_obj);
		if (s == (unsigned long long)-1 && PyErr_Occurred())
			return NULL;
		cfg.seed = s;
	}
	if (rate > 0)
		cfg.rate_hz = (float)rate;
	char desc[512] = "";
	km_sim_scenario_describe(path, desc, sizeof desc);
	km_sim *sim = NULL;
	rc = km_sim_create(&cfg, &sim);
	if (rc != KM_OK)
		return km_raise(rc, scenario, log.last);
	/* The CLI's frame count for --duration S: S x rate, rounded. */
	size_t n = (size_t)(seconds * (double)cfg.rate_hz + 0.5);
	if (n < 1)
		n = 1;
	const size_t cells = (size_t)cfg.rows * cfg.cols;
	struct grow kpa = {0}, counts = {0}, times = {0}, truth = {0}, knots = {0}, fault = {0};
	struct km_sim_output o;
	memset(&o, 0, sizeof o);
	Py_BEGIN_ALLOW_THREADS;
	for (size_t i = 0; i < n; i++) {
		rc = km_sim_step(sim, &o);
		if (rc != KM_OK)
			break;
		float *k = grow_add(&kpa, cells * sizeof(float));
		uint16_t *c = grow_add(&counts, cells * sizeof(uint16_t));
		uint64_t *t = grow_add(&times, sizeof(uint64_t));
		struct rec_truth *tr = grow_add(&truth, sizeof *tr);
		struct rec_knot *kn =
		    cfg.knot_count ? grow_add(&knots, cfg.knot_count * sizeof *kn) : NULL;
		if (!k || !c || !t || !tr || (cfg.knot_count && !kn)) {
			rc = KM_ERR_NO_MEMORY;
			break;
		}
		memcpy(k, o.kpa, cells * sizeof(float));
		memcpy(c, o.counts, cells * sizeof(uint16_t));
		*t = o.time_us;
		const struct km_sim_truth *s = o.truth;
		*tr = (struct rec_truth){s->time_us,        s->t_s,
		                         s->sequence,       (uint32_t)s->phase,
		                         s->step_index,     s->tool_contact,
		                         s->tensing,        s->withdrawal,
		                         s->body,           s->load,
		                         s->total_force_n,  s->body_force_n,
		                         s->loaded_area_cm2, s->peak_kpa,
		                         s->tool_x_mm,      s->tool_y_mm,
		                         s->tool_force_n,   s->tool_area_cm2,
		                         s->tool_peak_kpa,  s->breath_phase,
		                         s->spine_x_mm,     s->spine_y0_mm,
		                         s->spine_y1_mm};
		for (size_t j = 0; j < cfg.knot_count && j < s->knot_count; j++) {
			const struct km_sim_knot_truth *q = &s->knots[j];
			kn[j] = (struct rec_knot){q->id,        q->loaded,   q->x_mm,
			                          q->y_mm,      q->radius_mm, q->depth_mm,
			                          q->stiffness_pct, q->hold_s};
		}
		if (i == 0) {
			uint8_t *fm = grow_add(&fault, cells);
			if (!fm) {
				rc = KM_ERR_NO_MEMORY;
				break;
			}
			memcpy(fm, s->fault_map, cells);
		}
	}
	Py_END_ALLOW_THREADS;
	PyObject *result = NULL;
	if (rc != KM_OK) {
		km_raise(rc, scenario, log.last);
		goto out;
	}
	PyObject *landmarks = PyDict_New();
	if (!landmarks)
		goto out;
	for (int i = 0; i < KM_SIM_LM_COUNT && o.truth && o.truth->body; i++) {
		const struct km_sim_point *pt = &o.truth->landmarks[i];
		PyObject *v = Py_BuildValue("(ffO)", (double)pt->x_mm, (double)pt->y_mm,
		                            pt->on_mat ? Py_True : Py_False);
		if (!v || PyDict_SetItemString(landmarks, km_sim_landmark_name((enum km_sim_landmark)i),
		                               v) < 0) {
			Py_XDECREF(v);
			Py_DECREF(landmarks);
			goto out;
		}
		Py_DECREF(v);
	}
	Py_ssize_t d3[3] = {(Py_ssize_t)n, cfg.rows, cfg.cols};
	Py_ssize_t d2[2] = {cfg.rows, cfg.cols};
	PyObject *kb = grow_to_buffer(&kpa, "f", sizeof(float), 3, d3);
	PyObject *cb = grow_to_buffer(&counts, "H", sizeof(uint16_t), 3, d3);
	PyObject *tb = grow_to_buffer1(&times, "Q", sizeof(uint64_t));
	PyObject *trb = grow_to_buffer1(&truth, "B", sizeof(struct rec_truth));
	PyObject *knb = grow_to_buffer1(&knots, "B", sizeof(struct rec_knot));
	PyObject *fb = grow_to_buffer(&fault, "B", 1, 2, d2);
	if (kb && cb && tb && trb && knb && fb)
		result = Py_BuildValue(
		    "{s:O,s:O,s:O,s:O,s:O,s:n,s:O,s:N,s:i,s:i,s:f,s:f,s:s,s:s,s:s,s:K,s:s,s:f}",
		    "frames", kb, "counts", cb, "time_us", tb, "truth", trb, "knots", knb, "knot_count",
		    (Py_ssize_t)cfg.knot_count, "fault_map", fb, "landmarks", landmarks, "rows",
		    cfg.rows, "cols", cfg.cols, "pitch_mm", (double)cfg.pitch_mm, "rate_hz",
		    (double)cfg.rate_hz, "geometry", geometry_name(cfg.geometry), "scenario", path,
		    "description", desc, "seed", (unsigned long long)cfg.seed, "tool",
		    km_sim_tool_name(cfg.tool), "body_mass_kg", (double)cfg.body_mass_kg);
	else
		Py_DECREF(landmarks);
	Py_XDECREF(kb);
	Py_XDECREF(cb);
	Py_XDECREF(tb);
	Py_XDECREF(trb);
	Py_XDECREF(knb);
	Py_XDECREF(fb);
out:
	PyMem_RawFree(kpa.p);
	PyMem_RawFree(counts.p);
	PyMem_RawFree(times.p);
	PyMem_RawFree(truth.p);
	PyMem_RawFree(knots.p);
	PyMem_RawFree(fault.p);
	km_sim_destroy(sim);
	return result;
}

/* ------------------------------------------------------------------------ */
/* Module                                                                    */
/* ------------------------------------------------------------------------ */

static PyObject *py_error_name(PyObject *self, PyObject *arg)
{
	(void)self;
	long c = PyLong_AsLong(arg);
	if (c == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(km_error_name((int)c));
}

/* guess_pitch(map [rows, cols] float32) -> mm, or None: km_body_guess_pitch. */
static PyObject *py_guess_pitch(PyObject *self, PyObject *arg)
{
	(void)self;
	Py_buffer v;
	Py_ssize_t n, rows, cols;
	if (get_frames(arg, &v, &n, &rows, &cols) < 0)
		return NULL;
	if (v.ndim != 2 || rows < 1 || cols < 1 || rows > KM_FRAME_MAX_DIM ||
	    cols > KM_FRAME_MAX_DIM) {
		PyBuffer_Release(&v);
		PyErr_Format(PyExc_ValueError, "map must be [rows, cols], each 1..%d",
		             KM_FRAME_MAX_DIM);
		return NULL;
	}
	float pitch = 0.0f;
	int rc = km_body_guess_pitch(v.buf, (uint16_t)rows, (uint16_t)cols, &pitch);
	PyBuffer_Release(&v);
	if (rc == KM_ERR_NOT_FOUND)
		Py_RETURN_NONE;
	if (rc != KM_OK)
		return PyErr_NoMemory();
	return PyFloat_FromDouble((double)pitch);
}

static PyMethodDef module_methods[] = {
    {"read", METH_KW(py_read), METH_VARARGS | METH_KEYWORDS, "_read(path, **options) -> dict"},
    {"write", METH_KW(py_write), METH_VARARGS | METH_KEYWORDS,
     "_write(path, frames, **options) -> frames written"},
    {"simulate", METH_KW(py_simulate), METH_VARARGS | METH_KEYWORDS,
     "_simulate(scenario, seconds, seed, rate_hz) -> dict"},
    {"error_name", py_error_name, METH_O, "error_name(code) -> 'KM_ERR_...'"},
    {"guess_pitch", py_guess_pitch, METH_O, "guess_pitch(map) -> mm or None"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "knotmap._knotmap",
    "The C half of knotmap's Python module (use the knotmap package).", -1, module_methods,
    NULL, NULL, NULL, NULL};

static int add_names(PyObject *m)
{
	PyObject *ev = PyList_New(0), *rs = PyList_New(0);
	if (!ev || !rs)
		goto fail;
	for (int t = 0; t < KM_EVENT_TYPE_COUNT; t++) {
		PyObject *s = PyUnicode_FromString(km_event_type_name((enum km_event_type)t));
		if (!s || PyList_Append(ev, s) < 0) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
	}
	/* Reasons: the enum has no count; names run until "UNKNOWN". */
	for (int r = 0; r < 256; r++) {
		const char *n = km_event_reason_name((enum km_event_reason)r);
		if (!strcmp(n, "UNKNOWN"))
			break;
		PyObject *s = PyUnicode_FromString(n);
		if (!s || PyList_Append(rs, s) < 0) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
	}
	if (PyModule_AddObject(m, "event_names", ev) < 0)
		goto fail;
	ev = NULL;
	if (PyModule_AddObject(m, "reason_names", rs) < 0)
		goto fail;
	return 0;
fail:
	Py_XDECREF(ev);
	Py_XDECREF(rs);
	return -1;
}

PyMODINIT_FUNC PyInit__knotmap(void)
{
	if (PyType_Ready(&BufferType) < 0 || PyType_Ready(&PipelineType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&module_def);
	if (!m)
		return NULL;
	KmError = PyErr_NewExceptionWithDoc(
	    "knotmap.Error",
	    "An error from libknotmap: .name is its error name (e.g. 'KM_ERR_NOT_FOUND'), "
	    ".code the number, .detail the library's message.",
	    NULL, NULL);
	if (!KmError)
		goto fail;
	Py_INCREF(KmError);
	if (PyModule_AddObject(m, "Error", KmError) < 0)
		goto fail;
	Py_INCREF(&PipelineType);
	if (PyModule_AddObject(m, "_Pipeline", (PyObject *)&PipelineType) < 0)
		goto fail;
	Py_INCREF(&BufferType);
	if (PyModule_AddObject(m, "Buffer", (PyObject *)&BufferType) < 0)
		goto fail;
	PyObject *layouts = Py_BuildValue(
	    "{s:N,s:N,s:N,s:N,s:N,s:N}", "event", layout(event_fields, sizeof(struct rec_event)),
	    "spot", layout(spot_fields, sizeof(struct rec_spot)), "candidate",
	    layout(candidate_fields, sizeof(struct rec_candidate)), "frame",
	    layout(frame_fields, sizeof(struct rec_frame)), "truth",
	    layout(truth_fields, sizeof(struct rec_truth)), "knot",
	    layout(knot_fields, sizeof(struct rec_knot)));
	if (!layouts || PyModule_AddObject(m, "layouts", layouts) < 0)
		goto fail;
	if (add_names(m) < 0)
		goto fail;
	if (PyModule_AddStringConstant(m, "library_version", km_version_string()) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
