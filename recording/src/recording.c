/* .kmrec writer and reader; the byte layout is docs/kmrec-format.md. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "recording_internal.h"

#define MOD "session"

/* File layout constants (see docs/kmrec-format.md). */
static const uint8_t file_magic[8] = {'K', 'M', 'R', 'E', 'C', 0x0D, 0x0A, 0x1A};
static const uint8_t chunk_magic[4] = {'K', 'M', 'C', 'K'};
static const uint8_t end_magic[8] = {'K', 'M', 'R', 'E', 'C', 'E', 'N', 'D'};

enum {
	HDR_FIXED = 272, /* header bytes before the calibration blob... */
	HDR_CALIB = 268, /* ...where the blob starts */
	CHUNK_HDR = 32,
	CHUNK_TAIL = 4,
	TRAILER = 32,
	REC_PREFIX = 8,
	FRAME_FIXED = 32, /* frame body before the cells */
	EVENT_FIXED = 32, /* event body before ints and values */
	INDEX_ENTRY = 40,
	CHUNK_DATA = 1,
	CHUNK_INDEX = 2,
	REC_FRAME = 1,
	REC_EVENT = 2,
};

#define MAX_CHUNK_BYTES (64u * 1024u * 1024u)
#define MIN_CHUNK_BYTES (4u * 1024u)

/* ------------------------------------------------------------------------ */
/* File helpers                                                              */
/* ------------------------------------------------------------------------ */

static int read_at(int fd, uint64_t off, void *buf, size_t size)
{
	uint8_t *p = buf;
	while (size > 0) {
		ssize_t n = pread(fd, p, size, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return km__error_from_errno(errno);
		}
		if (n == 0)
			return KM_ERR_TRUNCATED;
		p += n;
		off += (uint64_t)n;
		size -= (size_t)n;
	}
	return KM_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	memset(dst + n, 0, cap - n);
}

/* ------------------------------------------------------------------------ */
/* Shared layout                                                             */
/* ------------------------------------------------------------------------ */

static size_t frame_record_size(uint32_t content, size_t cells)
{
	size_t n = REC_PREFIX + FRAME_FIXED;
	if (content & KM_REC_RAW)
		n += cells * 2;
	if (content & KM_REC_KPA)
		n += cells * 4;
	return n;
}

static size_t event_record_size(unsigned n_ints, unsigned n_values)
{
	return REC_PREFIX + EVENT_FIXED + 4u * n_ints + 4u * n_values;
}

static int check_device(const struct km_rec_device *d)
{
	if (d->rows == 0 || d->cols == 0 || d->rows > KM_FRAME_MAX_DIM ||
	    d->cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	if (!isfinite(d->pitch_mm) || d->pitch_mm <= 0.0f)
		return KM_ERR_INVALID_ARG;
	if (d->geometry != KM_GEOMETRY_FLAT && d->geometry != KM_GEOMETRY_CYLINDER)
		return KM_ERR_INVALID_ARG;
	if (!isfinite(d->rate_hz) || d->rate_hz < 0.0f)
		return KM_ERR_INVALID_ARG;
	return KM_OK;
}

struct index_entry {
	uint64_t offset;      /* chunk start in the file */
	uint64_t first_frame; /* frames before this chunk */
	uint32_t frames;
	uint32_t events;
	uint64_t first_time_us;
	uint64_t last_time_us;
};

static int index_push(struct index_entry **arr, size_t *n, size_t *cap, const struct index_entry *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		size_t bytes;
		if (!km__mul_size(ncap, sizeof **arr, &bytes))
			return KM_ERR_NO_MEMORY;
		void *p = km__realloc(*arr, bytes);
		if (!p)
			return KM_ERR_NO_MEMORY;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = *e;
	return KM_OK;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

struct km_rec_writer {
	struct km_rec_writer_config cfg;
	char *path;
	void *calib;
	int fd;
	bool closed;
	int failed; /* sticky error after a failed write */
	size_t cells;
	size_t frame_rec;
	uint64_t header_len;
	uint64_t file_off; /* bytes in the file = where the next chunk goes */
	uint8_t *buf;      /* chunk: header + payload + crc */
	size_t cap;        /* payload capacity */
	size_t len;        /* payload bytes pending */
	uint32_t recs;
	struct index_entry cur; /* the pending chunk's index entry */
	struct index_entry *index;
	size_t n_index, cap_index;
	uint64_t frames, events;
	uint64_t last_flush_us;
	uint64_t fail_after; /* test hook: bytes until ENOSPC */
	bool index_lost;     /* an index entry could not be stored */

	/* The timed flushes' fdatasync runs on a thread of its own: on a slow
	 * disk (an SD card, a USB stick under write-back) it can take longer
	 * than the stream's ring holds frames (32 = 0.3 s at 100 Hz), and the
	 * caller is the thread that reads them. The caller write()s the chunk
	 * into the page cache (a killed process loses nothing of it) and asks
	 * for a sync; a failed sync is returned by the next call. */
	pthread_t syncer;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	bool syncer_on;   /* the thread runs (only with cfg.sync) */
	bool sync_wanted; /* guarded by sync_mu, as are the two below */
	bool sync_stop;
	int sync_err; /* first failed background sync, not yet reported */
	_Atomic int fail_sync; /* test hook: every sync fails with this code */
};

struct km_rec_writer_config km_rec_writer_config_default(void)
{
	struct km_rec_writer_config c;
	memset(&c, 0, sizeof c);
	c.make_dirs = true;
	c.content = KM_REC_KPA;
	c.flush_interval_ms = 1000;
	c.chunk_bytes = 256u * 1024u;
	c.sync = true;
	return c;
}

void km__rec_writer_fail_after(km_rec_writer *w, uint64_t bytes)
{
	if (w)
		w->fail_after = bytes;
}

static int writer_write(km_rec_writer *w, const void *p, size_t size)
{
	if (w->fail_after != UINT64_MAX) {
		if (size > w->fail_after) {
			/* Like a real full disk: part of the data may land. */
			size_t part = (size_t)w->fail_after;
			w->fail_after = 0;
			if (part > 0 && km__write_all(w->fd, p, part) != KM_OK)
				return KM_ERR_IO;
			return KM_ERR_NO_SPACE;
		}
		w->fail_after -= size;
	}
	return km__write_all(w->fd, p, size);
}

void km__rec_writer_fail_sync(km_rec_writer *w, int err)
{
	if (w)
		atomic_store(&w->fail_sync, err);
}

static int writer_sync(km_rec_writer *w)
{
	int forced = atomic_load(&w->fail_sync);
	if (forced != KM_OK)
		return forced;
	if (w->cfg.sync && fdatasync(w->fd) != 0 && errno != EINVAL && errno != EROFS)
		return km__error_from_errno(errno); /* EINVAL: a device like /dev/full */
	return KM_OK;
}

/* Undo a partly written chunk so the file ends on a whole chunk. */
static void writer_fail(km_rec_writer *w, int err)
{
	if (ftruncate(w->fd, (off_t)w->file_off) == 0)
		(void)lseek(w->fd, (off_t)w->file_off, SEEK_SET);
	w->failed = err;
	km__log(&w->cfg.log, KM_LOG_ERROR, MOD, "%s: write failed at byte %llu: %s", w->path,
	        (unsigned long long)w->file_off, km_strerror(err));
}

static void chunk_header(uint8_t *h, uint32_t type, uint32_t payload, uint32_t recs,
                         uint64_t first_frame, uint32_t frames)
{
	memcpy(h, chunk_magic, 4);
	km_put_le32(h + 4, type);
	km_put_le32(h + 8, payload);
	km_put_le32(h + 12, recs);
	km_put_le64(h + 16, first_frame);
	km_put_le32(h + 24, frames);
	km_put_le32(h + 28, km_crc32c(0, h, 28));
}

static int writer_emit(km_rec_writer *w)
{
	if (w->len == 0)
		return KM_OK;
	uint8_t *h = w->buf;
	chunk_header(h, CHUNK_DATA, (uint32_t)w->len, w->recs, w->cur.first_frame, w->cur.frames);
	km_put_le32(h + CHUNK_HDR + w->len, km_crc32c(0, h + CHUNK_HDR, w->len));
	size_t total = CHUNK_HDR + w->len + CHUNK_TAIL;
	int rc = writer_write(w, h, total);
	if (rc != KM_OK) {
		writer_fail(w, rc);
		return rc;
	}
	w->cur.offset = w->file_off;
	/* A failed index push only costs the index (rebuilt by scanning). */
	if (!w->index_lost && index_push(&w->index, &w->n_index, &w->cap_index, &w->cur) != KM_OK) {
		w->index_lost = true;
		km__log(&w->cfg.log, KM_LOG_WARN, MOD,
		        "no memory for the index; readers will scan");
	}
	w->file_off += total;
	w->len = 0;
	w->recs = 0;
	memset(&w->cur, 0, sizeof w->cur);
	w->cur.first_frame = w->frames;
	return KM_OK;
}

static void *syncer_main(void *arg)
{
	km_rec_writer *w = arg;
	pthread_mutex_lock(&w->sync_mu);
	for (;;) {
		while (!w->sync_wanted && !w->sync_stop)
			pthread_cond_wait(&w->sync_cv, &w->sync_mu);
		if (w->sync_stop)
			break; /* close syncs once more itself */
		w->sync_wanted = false;
		pthread_mutex_unlock(&w->sync_mu);
		int rc = writer_sync(w); /* fd and cfg stay put while this thread lives */
		pthread_mutex_lock(&w->sync_mu);
		if (rc != KM_OK && !w->sync_err)
			w->sync_err = rc;
	}
	pthread_mutex_unlock(&w->sync_mu);
	return NULL;
}

/* Starts the sync thread; without it (cfg.sync off, or no thread to be had)
 * the flushes sync on the caller's thread as before. */
static void syncer_start(km_rec_writer *w)
{
	if (!w->cfg.sync)
		return;
	if (pthread_mutex_init(&w->sync_mu, NULL) != 0)
		return;
	if (pthread_cond_init(&w->sync_cv, NULL) != 0) {
		pthread_mutex_destroy(&w->sync_mu);
		return;
	}
	if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0) {
		pthread_cond_destroy(&w->sync_cv);
		pthread_mutex_destroy(&w->sync_mu);
		km__log(&w->cfg.log, KM_LOG_WARN, MOD,
		        "%s: no sync thread, flushes sync on the caller's thread", w->path);
		return;
	}
	w->syncer_on = true;
}

/* Stops the sync thread; returns a failed background sync not yet reported. */
static int syncer_stop(km_rec_writer *w)
{
	if (!w->syncer_on)
		return KM_OK;
	pthread_mutex_lock(&w->sync_mu);
	w->sync_stop = true;
	pthread_cond_signal(&w->sync_cv);
	pthread_mutex_unlock(&w->sync_mu);
	pthread_join(w->syncer, NULL);
	pthread_cond_destroy(&w->sync_cv);
	pthread_mutex_destroy(&w->sync_mu);
	w->syncer_on = false;
	return w->sync_err;
}

/* Asks the sync thread for an fdatasync; returns an earlier one's failure. */
static int syncer_request(km_rec_writer *w)
{
	pthread_mutex_lock(&w->sync_mu);
	int rc = w->sync_err;
	w->sync_err = KM_OK;
	w->sync_wanted = true;
	pthread_cond_signal(&w->sync_cv);
	pthread_mutex_unlock(&w->sync_mu);
	return rc;
}

/* Writes the pending chunk and syncs: in the background when background is
 * true and the sync thread runs, else here. */
static int writer_flush(km_rec_writer *w, bool background)
{
	int rc = writer_emit(w);
	if (rc == KM_OK) {
		rc = background && w->syncer_on ? syncer_request(w) : writer_sync(w);
		if (rc != KM_OK)
			writer_fail(w, rc);
	}
	w->last_flush_us = km_time_monotonic_us();
	return rc;
}

static int writer_header(km_rec_writer *w)
{
	const struct km_rec_writer_config *c = &w->cfg;
	size_t n = HDR_FIXED + c->calibration_size;
	uint8_t *h = km__calloc(1, n);
	if (!h)
		return KM_ERR_NO_MEMORY;
	memcpy(h, file_magic, 8);
	km_put_le16(h + 8, KM_REC_FORMAT_VERSION);
	km_put_le32(h + 12, (uint32_t)n);
	km_put_le32(h + 16, c->content);
	km_put_le16(h + 20, c->device.rows);
	km_put_le16(h + 22, c->device.cols);
	km_put_le_f32(h + 24, c->device.pitch_mm);
	h[28] = (uint8_t)c->device.geometry;
	km_put_le_f32(h + 32, c->device.rate_hz);
	km_put_le16(h + 36, c->device.usb_vid);
	km_put_le16(h + 38, c->device.usb_pid);
	copy_str((char *)h + 40, 64, c->device.serial);
	copy_str((char *)h + 104, 32, c->device.firmware);
	copy_str((char *)h + 136, 64, c->device.model);
	copy_str((char *)h + 200, 48, c->session_id);
	km_put_le64(h + 248, (uint64_t)c->start_unix_us);
	km_put_le32(h + 256, (uint32_t)w->cap);
	km_put_le32(h + 260, c->calibration_id);
	km_put_le32(h + 264, (uint32_t)c->calibration_size);
	if (c->calibration_size)
		memcpy(h + HDR_CALIB, w->calib, c->calibration_size);
	km_put_le32(h + n - 4, km_crc32c(0, h, n - 4));
	int rc = writer_write(w, h, n);
	km__free(h);
	if (rc == KM_OK)
		rc = writer_sync(w);
	w->header_len = n;
	w->file_off = n;
	return rc;
}

static int64_t now_unix_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int km_rec_writer_create(const struct km_rec_writer_config *cfg, km_rec_writer **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->path || !cfg->path[0])
		return KM_ERR_INVALID_ARG;
	if (cfg->content == 0 || (cfg->content & ~(uint32_t)(KM_REC_RAW | KM_REC_KPA)))
		return KM_ERR_INVALID_ARG;
	if (cfg->flush_interval_ms < 1 || cfg->flush_interval_ms > 60000)
		return KM_ERR_INVALID_ARG;
	if (cfg->chunk_bytes < MIN_CHUNK_BYTES || cfg->chunk_bytes > MAX_CHUNK_BYTES)
		return KM_ERR_INVALID_ARG;
	int rc = check_device(&cfg->device);
	if (rc != KM_OK)
		return rc;
	if (cfg->calibration_size > KM_REC_MAX_CALIBRATION)
		return KM_ERR_RANGE;
	if (cfg->calibration_size && !cfg->calibration)
		return KM_ERR_INVALID_ARG;

	km_rec_writer *w = km__calloc(1, sizeof *w);
	if (!w)
		return KM_ERR_NO_MEMORY;
	w->fd = -1;
	w->fail_after = UINT64_MAX;
	w->cfg = *cfg;
	w->cfg.session_id[sizeof w->cfg.session_id - 1] = '\0';
	w->cfg.device.serial[sizeof w->cfg.device.serial - 1] = '\0';
	w->cfg.device.firmware[sizeof w->cfg.device.firmware - 1] = '\0';
	w->cfg.device.model[sizeof w->cfg.device.model - 1] = '\0';
	if (!w->cfg.start_unix_us)
		w->cfg.start_unix_us = now_unix_us();
	w->cells = (size_t)cfg->device.rows * cfg->device.cols;
	w->frame_rec = frame_record_size(cfg->content, w->cells);
	w->cap = KM_MAX((size_t)cfg->chunk_bytes,
	                w->frame_rec +
	                    event_record_size(KM_REC_EVENT_MAX_INTS, KM_REC_EVENT_MAX_VALUES));
	size_t plen = strlen(cfg->path);
	w->path = km__malloc(plen + 1);
	w->buf = km__malloc(CHUNK_HDR + w->cap + CHUNK_TAIL);
	if (cfg->calibration_size)
		w->calib = km__malloc(cfg->calibration_size);
	if (!w->path || !w->buf || (cfg->calibration_size && !w->calib)) {
		km_rec_writer_destroy(w);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(w->path, cfg->path, plen + 1);
	w->cfg.path = w->path;
	if (cfg->calibration_size)
		memcpy(w->calib, cfg->calibration, cfg->calibration_size);
	w->cfg.calibration = w->calib;

	if (cfg->make_dirs) {
		rc = km__make_parent_dirs(w->path);
		if (rc != KM_OK) {
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot create the folder for %s: %s",
			        w->path, km_strerror(rc));
			km_rec_writer_destroy(w);
			return rc;
		}
	}
	bool created = true;
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0 && errno == EEXIST && cfg->overwrite) {
		created = false;
		w->fd = open(w->path, O_WRONLY | O_CLOEXEC);
		struct stat st;
		if (w->fd >= 0 && fstat(w->fd, &st) == 0 && S_ISREG(st.st_mode)) {
			if (ftruncate(w->fd, 0) != 0 || fchmod(w->fd, 0600) != 0) {
				rc = km__error_from_errno(errno);
				km_rec_writer_destroy(w);
				return rc;
			}
		}
	}
	if (w->fd < 0) {
		rc = km__error_from_errno(errno);
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot create %s: %s", w->path,
		        strerror(errno));
		km_rec_writer_destroy(w);
		return rc;
	}
	rc = writer_header(w);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot write the header of %s: %s", w->path,
		        km_strerror(rc));
		if (created)
			(void)unlink(w->path);
		w->closed = true;
		km_rec_writer_destroy(w);
		return rc;
	}
	w->cur.first_frame = 0;
	w->last_flush_us = km_time_monotonic_us();
	syncer_start(w);
	*out = w;
	return KM_OK;
}

static int writer_ready(km_rec_writer *w)
{
	if (!w)
		return KM_ERR_INVALID_ARG;
	if (w->closed)
		return KM_ERR_STATE;
	if (w->failed)
		return KM_ERR_STATE;
	return KM_OK;
}

/* Makes room for `need` payload bytes; then flushes when the interval passed. */
static int writer_room(km_rec_writer *w, size_t need)
{
	if (w->len + need > w->cap)
		return writer_emit(w);
	return KM_OK;
}

static int writer_after_record(km_rec_writer *w)
{
	uint64_t now = km_time_monotonic_us();
	if (now - w->last_flush_us >= (uint64_t)w->cfg.flush_interval_ms * 1000u)
		return writer_flush(w, true);
	return KM_OK;
}

int km_rec_writer_write_frame(km_rec_writer *w, const struct km_frame *frame, const uint16_t *raw,
                              uint32_t calibration_id)
{
	int rc = writer_ready(w);
	if (rc != KM_OK)
		return rc;
	if (!frame)
		return KM_ERR_INVALID_ARG;
	if (frame->rows != w->cfg.device.rows || frame->cols != w->cfg.device.cols)
		return KM_ERR_SHAPE;
	if ((w->cfg.content & KM_REC_KPA) && !frame->kpa)
		return KM_ERR_INVALID_ARG;
	if ((w->cfg.content & KM_REC_RAW) && !raw)
		return KM_ERR_INVALID_ARG;
	rc = writer_room(w, w->frame_rec);
	if (rc != KM_OK)
		return rc;
	uint8_t *p = w->buf + CHUNK_HDR + w->len;
	p[0] = REC_FRAME;
	p[1] = 0;
	km_put_le16(p + 2, 0);
	km_put_le32(p + 4, (uint32_t)w->frame_rec);
	p += REC_PREFIX;
	km_put_le32(p, frame->sequence);
	km_put_le32(p + 4, frame->flags);
	km_put_le32(p + 8, frame->dropped_since_last);
	km_put_le32(p + 12, calibration_id);
	km_put_le64(p + 16, frame->device_time_us);
	km_put_le64(p + 24, frame->host_time_us);
	p += FRAME_FIXED;
	if (w->cfg.content & KM_REC_RAW) {
		for (size_t i = 0; i < w->cells; i++, p += 2)
			km_put_le16(p, raw[i]);
	}
	if (w->cfg.content & KM_REC_KPA) {
		for (size_t i = 0; i < w->cells; i++, p += 4)
			km_put_le_f32(p, frame->kpa[i]);
	}
	if (w->cur.frames == 0)
		w->cur.first_time_us = frame->device_time_us;
	w->cur.last_time_us = frame->device_time_us;
	w->cur.frames++;
	w->len += w->frame_rec;
	w->recs++;
	w->frames++;
	return writer_after_record(w);
}

int km_rec_writer_write_event(km_rec_writer *w, const struct km_rec_event *ev)
{
	int rc = writer_ready(w);
	if (rc != KM_OK)
		return rc;
	if (!ev)
		return KM_ERR_INVALID_ARG;
	if (ev->n_ints > KM_REC_EVENT_MAX_INTS || ev->n_values > KM_REC_EVENT_MAX_VALUES)
		return KM_ERR_RANGE;
	size_t size = event_record_size(ev->n_ints, ev->n_values);
	rc = writer_room(w, size);
	if (rc != KM_OK)
		return rc;
	uint8_t *p = w->buf + CHUNK_HDR + w->len;
	p[0] = REC_EVENT;
	p[1] = 0;
	km_put_le16(p + 2, 0);
	km_put_le32(p + 4, (uint32_t)size);
	p += REC_PREFIX;
	km_put_le16(p, ev->type);
	km_put_le16(p + 2, ev->subtype);
	km_put_le32(p + 4, ev->track_id);
	km_put_le64(p + 8, ev->time_us);
	km_put_le_f32(p + 16, ev->x_mm);
	km_put_le_f32(p + 20, ev->y_mm);
	p[24] = ev->n_ints;
	p[25] = ev->n_values;
	memset(p + 26, 0, 6);
	p += EVENT_FIXED;
	for (unsigned i = 0; i < ev->n_ints; i++, p += 4)
		km_put_le32(p, ev->ints[i]);
	for (unsigned i = 0; i < ev->n_values; i++, p += 4)
		km_put_le_f32(p, ev->values[i]);
	w->cur.events++;
	w->len += size;
	w->recs++;
	w->events++;
	return writer_after_record(w);
}

int km_rec_writer_flush(km_rec_writer *w)
{
	int rc = writer_ready(w);
	if (rc != KM_OK)
		return rc;
	return writer_flush(w, false);
}

int km_rec_writer_reset(km_rec_writer *w)
{
	if (!w)
		return KM_ERR_INVALID_ARG;
	if (w->closed)
		return KM_ERR_STATE;
	if (ftruncate(w->fd, (off_t)w->header_len) != 0 ||
	    lseek(w->fd, (off_t)w->header_len, SEEK_SET) < 0)
		return km__error_from_errno(errno);
	w->file_off = w->header_len;
	w->len = 0;
	w->recs = 0;
	w->frames = 0;
	w->events = 0;
	w->n_index = 0;
	w->index_lost = false;
	w->failed = 0;
	if (w->syncer_on) { /* a failed sync of the discarded data no longer matters */
		pthread_mutex_lock(&w->sync_mu);
		w->sync_err = KM_OK;
		pthread_mutex_unlock(&w->sync_mu);
	}
	memset(&w->cur, 0, sizeof w->cur);
	w->last_flush_us = km_time_monotonic_us();
	return writer_sync(w);
}

static int writer_index(km_rec_writer *w)
{
	size_t payload;
	if (!km__mul_size(w->n_index, INDEX_ENTRY, &payload) || payload > UINT32_MAX)
		return KM_ERR_RANGE;
	uint8_t *b = km__malloc(CHUNK_HDR + payload + CHUNK_TAIL);
	if (!b)
		return KM_ERR_NO_MEMORY;
	chunk_header(b, CHUNK_INDEX, (uint32_t)payload, (uint32_t)w->n_index, w->frames, 0);
	uint8_t *p = b + CHUNK_HDR;
	for (size_t i = 0; i < w->n_index; i++, p += INDEX_ENTRY) {
		const struct index_entry *e = &w->index[i];
		km_put_le64(p, e->offset);
		km_put_le64(p + 8, e->first_frame);
		km_put_le32(p + 16, e->frames);
		km_put_le32(p + 20, e->events);
		km_put_le64(p + 24, e->first_time_us);
		km_put_le64(p + 32, e->last_time_us);
	}
	km_put_le32(p, km_crc32c(0, b + CHUNK_HDR, payload));
	uint8_t t[TRAILER];
	memcpy(t, end_magic, 8);
	km_put_le64(t + 8, w->file_off);
	km_put_le64(t + 16, w->frames);
	km_put_le32(t + 24, (uint32_t)w->n_index);
	km_put_le32(t + 28, km_crc32c(0, t, 28));
	int rc = writer_write(w, b, CHUNK_HDR + payload + CHUNK_TAIL);
	if (rc == KM_OK)
		rc = writer_write(w, t, TRAILER);
	km__free(b);
	if (rc != KM_OK) {
		writer_fail(w, rc);
		return rc;
	}
	w->file_off += CHUNK_HDR + payload + CHUNK_TAIL + TRAILER;
	return writer_sync(w);
}

int km_rec_writer_close(km_rec_writer *w)
{
	if (!w)
		return KM_ERR_INVALID_ARG;
	if (w->closed)
		return KM_ERR_STATE;
	int rc = syncer_stop(w);
	if (rc != KM_OK)
		writer_fail(w, rc);
	rc = w->failed ? w->failed : KM_OK;
	if (rc == KM_OK)
		rc = writer_flush(w, false);
	/* Without a complete index in memory the reader rebuilds it by scanning. */
	if (rc == KM_OK && !w->index_lost)
		rc = writer_index(w);
	if (close(w->fd) != 0 && rc == KM_OK)
		rc = km__error_from_errno(errno);
	w->fd = -1;
	w->closed = true;
	return rc;
}

void km_rec_writer_stats(const km_rec_writer *w, uint64_t *frames, uint64_t *events,
                         uint64_t *bytes)
{
	if (frames)
		*frames = w ? w->frames : 0;
	if (events)
		*events = w ? w->events : 0;
	if (bytes)
		*bytes = w ? w->file_off + w->len : 0;
}

void km_rec_writer_destroy(km_rec_writer *w)
{
	if (!w)
		return;
	if (!w->closed && w->fd >= 0)
		(void)km_rec_writer_close(w);
	(void)syncer_stop(w);
	if (w->fd >= 0)
		close(w->fd);
	km__free(w->index);
	km__free(w->buf);
	km__free(w->calib);
	km__free(w->path);
	km__free(w);
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

struct km_rec_reader {
	struct km_rec_reader_config cfg;
	char *path;
	int fd;
	struct km_rec_info info;
	void *calib;
	size_t cells;
	size_t frame_rec;
	uint32_t max_payload;
	uint64_t data_start; /* first chunk */
	uint64_t data_end;   /* end of the readable data chunks */
	struct index_entry *index;
	size_t n_index, cap_index;
	struct km_rec_damage damage;
	/* current chunk */
	uint8_t *buf; /* payload + crc */
	uint32_t len;
	uint32_t pos;
	uint64_t next_off;   /* where the next chunk starts */
	uint64_t frame_next; /* index of the next frame to be read */
	struct km_frame *frame;
	uint16_t *raw;
};

struct km_rec_reader_config km_rec_reader_config_default(void)
{
	struct km_rec_reader_config c;
	memset(&c, 0, sizeof c);
	return c;
}

static void set_damage(km_rec_reader *r, int err, uint64_t off, uint64_t frame)
{
	if (r->damage.damaged && r->damage.byte_offset <= off)
		return;
	r->damage.damaged = true;
	r->damage.error = err;
	r->damage.byte_offset = off;
	r->damage.frame_index = frame;
	km__log(&r->cfg.log, KM_LOG_WARN, MOD, "%s: %s at byte %llu (frame %llu)", r->path,
	        km_strerror(err), (unsigned long long)off, (unsigned long long)frame);
}

static int read_header(km_rec_reader *r)
{
	uint8_t h[HDR_FIXED];
	int rc = read_at(r->fd, 0, h, 16);
	if (rc == KM_ERR_TRUNCATED)
		return r->info.file_size >= 8 && !memcmp(h, file_magic, 8) ? KM_ERR_TRUNCATED
		                                                           : KM_ERR_BAD_MAGIC;
	if (rc != KM_OK)
		return rc;
	if (memcmp(h, file_magic, 8) != 0)
		return KM_ERR_BAD_MAGIC;
	uint16_t version = km_get_le16(h + 8);
	if (version < 1 || version > KM_REC_FORMAT_VERSION)
		return KM_ERR_BAD_VERSION;
	uint32_t hlen = km_get_le32(h + 12);
	if (hlen < HDR_FIXED || hlen - HDR_FIXED > KM_REC_MAX_CALIBRATION)
		return KM_ERR_MALFORMED;
	if (hlen > r->info.file_size)
		return KM_ERR_TRUNCATED;
	rc = read_at(r->fd, 0, h, HDR_FIXED);
	if (rc != KM_OK)
		return rc;
	uint32_t csize = km_get_le32(h + 264);
	if (csize != hlen - HDR_FIXED)
		return KM_ERR_MALFORMED;
	uint32_t crc = km_crc32c(0, h, HDR_CALIB);
	if (csize) {
		r->calib = km__malloc(csize);
		if (!r->calib)
			return KM_ERR_NO_MEMORY;
		rc = read_at(r->fd, HDR_CALIB, r->calib, csize);
		if (rc != KM_OK)
			return rc;
		crc = km_crc32c(crc, r->calib, csize);
	}
	uint8_t tail[4];
	rc = read_at(r->fd, HDR_CALIB + csize, tail, 4);
	if (rc != KM_OK)
		return rc;
	if (km_get_le32(tail) != crc)
		return KM_ERR_BAD_CRC;

	struct km_rec_info *in = &r->info;
	in->format_version = version;
	in->content = km_get_le32(h + 16);
	if (in->content == 0 || (in->content & ~(uint32_t)(KM_REC_RAW | KM_REC_KPA)))
		return KM_ERR_MALFORMED;
	in->device.rows = km_get_le16(h + 20);
	in->device.cols = km_get_le16(h + 22);
	in->device.pitch_mm = km_get_le_f32(h + 24);
	in->device.geometry = (enum km_geometry)h[28];
	in->device.rate_hz = km_get_le_f32(h + 32);
	in->device.usb_vid = km_get_le16(h + 36);
	in->device.usb_pid = km_get_le16(h + 38);
	copy_str(in->device.serial, sizeof in->device.serial, (const char *)h + 40);
	copy_str(in->device.firmware, sizeof in->device.firmware, (const char *)h + 104);
	copy_str(in->device.model, sizeof in->device.model, (const char *)h + 136);
	copy_str(in->session_id, sizeof in->session_id, (const char *)h + 200);
	in->start_unix_us = (int64_t)km_get_le64(h + 248);
	r->max_payload = km_get_le32(h + 256);
	in->calibration_id = km_get_le32(h + 260);
	in->calibration = r->calib;
	in->calibration_size = csize;
	rc = check_device(&in->device);
	if (rc != KM_OK)
		return rc == KM_ERR_SHAPE ? KM_ERR_SHAPE : KM_ERR_MALFORMED;
	r->cells = (size_t)in->device.rows * in->device.cols;
	r->frame_rec = frame_record_size(in->content, r->cells);
	if (r->max_payload < r->frame_rec || r->max_payload > MAX_CHUNK_BYTES + r->frame_rec + 256u)
		return KM_ERR_MALFORMED;
	r->data_start = hlen;
	return KM_OK;
}

/* Reads and checks a chunk header at off. */
static int read_chunk_header(km_rec_reader *r, uint64_t off, uint8_t h[CHUNK_HDR])
{
	if (off + CHUNK_HDR > r->info.file_size)
		return KM_ERR_TRUNCATED;
	int rc = read_at(r->fd, off, h, CHUNK_HDR);
	if (rc != KM_OK)
		return rc;
	if (memcmp(h, chunk_magic, 4) != 0)
		return KM_ERR_MALFORMED;
	if (km_get_le32(h + 28) != km_crc32c(0, h, 28))
		return KM_ERR_BAD_CRC;
	return KM_OK;
}

/* Loads the data chunk at off into r->buf, checks its CRC and records. */
static int load_chunk(km_rec_reader *r, uint64_t off, uint64_t *first_frame, uint32_t *frames,
                      uint32_t *events, uint64_t *t0, uint64_t *t1)
{
	uint8_t h[CHUNK_HDR];
	int rc = read_chunk_header(r, off, h);
	if (rc != KM_OK)
		return rc;
	uint32_t type = km_get_le32(h + 4);
	uint32_t len = km_get_le32(h + 8);
	uint32_t recs = km_get_le32(h + 12);
	if (type != CHUNK_DATA || len > r->max_payload)
		return KM_ERR_MALFORMED;
	if (off + CHUNK_HDR + len + CHUNK_TAIL > r->info.file_size)
		return KM_ERR_TRUNCATED;
	rc = read_at(r->fd, off + CHUNK_HDR, r->buf, (size_t)len + CHUNK_TAIL);
	if (rc != KM_OK)
		return rc;
	if (km_get_le32(r->buf + len) != km_crc32c(0, r->buf, len))
		return KM_ERR_BAD_CRC;
	/* Walk the records: sizes must tile the payload exactly. */
	uint32_t nf = 0, ne = 0, pos = 0;
	uint64_t a = 0, b = 0;
	for (uint32_t i = 0; i < recs; i++) {
		if (len - pos < REC_PREFIX)
			return KM_ERR_MALFORMED;
		const uint8_t *p = r->buf + pos;
		uint32_t size = km_get_le32(p + 4);
		if (size > len - pos)
			return KM_ERR_MALFORMED;
		if (p[0] == REC_FRAME) {
			if (size != r->frame_rec)
				return KM_ERR_MALFORMED;
			uint64_t t = km_get_le64(p + REC_PREFIX + 16);
			if (nf == 0)
				a = t;
			b = t;
			nf++;
		} else if (p[0] == REC_EVENT) {
			if (size < REC_PREFIX + EVENT_FIXED)
				return KM_ERR_MALFORMED;
			unsigned ni = p[REC_PREFIX + 24], nv = p[REC_PREFIX + 25];
			if (ni > KM_REC_EVENT_MAX_INTS || nv > KM_REC_EVENT_MAX_VALUES ||
			    size != event_record_size(ni, nv))
				return KM_ERR_MALFORMED;
			ne++;
		} else if (size < REC_PREFIX) {
			return KM_ERR_MALFORMED; /* unknown kinds are skipped by size */
		}
		pos += size;
	}
	if (pos != len || nf != km_get_le32(h + 24))
		return KM_ERR_MALFORMED;
	r->len = len;
	r->pos = 0;
	if (first_frame)
		*first_frame = km_get_le64(h + 16);
	if (frames)
		*frames = nf;
	if (events)
		*events = ne;
	if (t0)
		*t0 = a;
	if (t1)
		*t1 = b;
	return KM_OK;
}

/* Reads the end trailer: KM_ERR_NOT_FOUND when there is none. */
static int read_trailer(km_rec_reader *r, uint8_t t[TRAILER])
{
	uint64_t size = r->info.file_size;
	if (size < r->data_start + CHUNK_HDR + CHUNK_TAIL + TRAILER)
		return KM_ERR_NOT_FOUND;
	int rc = read_at(r->fd, size - TRAILER, t, TRAILER);
	if (rc != KM_OK)
		return rc;
	if (memcmp(t, end_magic, 8) != 0 || km_get_le32(t + 28) != km_crc32c(0, t, 28))
		return KM_ERR_NOT_FOUND;
	uint64_t ioff = km_get_le64(t + 8);
	if (ioff < r->data_start || ioff > size - TRAILER)
		return KM_ERR_MALFORMED;
	return KM_OK;
}

static int load_index(km_rec_reader *r)
{
	uint64_t size = r->info.file_size;
	uint8_t t[TRAILER];
	int rc = read_trailer(r, t);
	if (rc != KM_OK)
		return rc;
	uint64_t ioff = km_get_le64(t + 8);
	uint32_t n = km_get_le32(t + 24);
	uint8_t h[CHUNK_HDR];
	r->n_index = 0;
	rc = read_chunk_header(r, ioff, h);
	if (rc != KM_OK)
		return rc;
	uint32_t len = km_get_le32(h + 8);
	if (km_get_le32(h + 4) != CHUNK_INDEX || km_get_le32(h + 12) != n ||
	    (uint64_t)n * INDEX_ENTRY != len ||
	    ioff + CHUNK_HDR + len + CHUNK_TAIL + TRAILER != size)
		return KM_ERR_MALFORMED;
	uint8_t *b = km__malloc((size_t)len + CHUNK_TAIL);
	if (!b)
		return KM_ERR_NO_MEMORY;
	rc = read_at(r->fd, ioff + CHUNK_HDR, b, (size_t)len + CHUNK_TAIL);
	if (rc == KM_OK && km_get_le32(b + len) != km_crc32c(0, b, len))
		rc = KM_ERR_BAD_CRC;
	uint64_t expect_off = r->data_start, expect_frame = 0;
	for (uint32_t i = 0; rc == KM_OK && i < n; i++) {
		const uint8_t *p = b + (size_t)i * INDEX_ENTRY;
		struct index_entry e = {km_get_le64(p),      km_get_le64(p + 8),
		                        km_get_le32(p + 16), km_get_le32(p + 20),
		                        km_get_le64(p + 24), km_get_le64(p + 32)};
		/* Offsets must be increasing and frame counts consistent. */
		if (e.offset < expect_off || e.offset >= ioff || e.first_frame != expect_frame) {
			rc = KM_ERR_MALFORMED;
			break;
		}
		expect_off = e.offset + CHUNK_HDR + CHUNK_TAIL;
		expect_frame += e.frames;
		rc = index_push(&r->index, &r->n_index, &r->cap_index, &e);
	}
	km__free(b);
	if (rc == KM_OK && expect_frame != km_get_le64(t + 16))
		rc = KM_ERR_MALFORMED;
	if (rc != KM_OK) {
		r->n_index = 0;
		return rc;
	}
	r->data_end = ioff;
	r->info.indexed = true;
	r->info.complete = true;
	return KM_OK;
}

/* Rebuilds the index by reading every chunk (one at a time); stops at damage. */
static int scan(km_rec_reader *r)
{
	uint64_t off = r->data_start, frames = 0;
	r->n_index = 0;
	for (;;) {
		if (off == r->info.file_size)
			break;
		uint8_t h[CHUNK_HDR];
		int rc = read_chunk_header(r, off, h);
		if (rc == KM_OK && km_get_le32(h + 4) == CHUNK_INDEX)
			break; /* index present but trailer missing or bad: data ends here */
		struct index_entry e = {off, 0, 0, 0, 0, 0};
		if (rc == KM_OK)
			rc = load_chunk(r, off, &e.first_frame, &e.frames, &e.events,
			                &e.first_time_us, &e.last_time_us);
		if (rc == KM_OK && e.first_frame != frames)
			rc = KM_ERR_MALFORMED;
		if (rc == KM_ERR_IO || rc == KM_ERR_NO_MEMORY)
			return rc;
		if (rc != KM_OK) {
			set_damage(r, rc, off, frames);
			break;
		}
		rc = index_push(&r->index, &r->n_index, &r->cap_index, &e);
		if (rc != KM_OK)
			return rc;
		frames += e.frames;
		off += CHUNK_HDR + (uint64_t)r->len + CHUNK_TAIL;
	}
	r->data_end = off;
	r->len = 0;
	r->pos = 0;
	return KM_OK;
}

static uint64_t scanned_frames(const km_rec_reader *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n_index; i++)
		n += r->index[i].frames;
	return n;
}

static void fill_counts(km_rec_reader *r)
{
	struct km_rec_info *in = &r->info;
	in->frame_count = 0;
	in->event_count = 0;
	in->first_time_us = 0;
	in->last_time_us = 0;
	for (size_t i = 0; i < r->n_index; i++) {
		const struct index_entry *e = &r->index[i];
		if (e->frames && in->frame_count == 0)
			in->first_time_us = e->first_time_us;
		if (e->frames)
			in->last_time_us = e->last_time_us;
		in->frame_count += e->frames;
		in->event_count += e->events;
	}
}

int km_rec_reader_create(const struct km_rec_reader_config *cfg, km_rec_reader **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->path || !cfg->path[0])
		return KM_ERR_INVALID_ARG;
	km_rec_reader *r = km__calloc(1, sizeof *r);
	if (!r)
		return KM_ERR_NO_MEMORY;
	r->cfg = *cfg;
	r->fd = -1;
	size_t plen = strlen(cfg->path);
	r->path = km__malloc(plen + 1);
	if (!r->path) {
		km_rec_reader_destroy(r);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(r->path, cfg->path, plen + 1);
	r->cfg.path = r->path;
	int rc = KM_OK;
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (r->fd < 0 || fstat(r->fd, &st) != 0)
		rc = km__error_from_errno(errno);
	else if (!S_ISREG(st.st_mode))
		rc = KM_ERR_INVALID_ARG;
	if (rc == KM_OK) {
		r->info.file_size = (uint64_t)st.st_size;
		rc = read_header(r);
	}
	if (rc == KM_OK) {
		r->buf = km__malloc((size_t)r->max_payload + CHUNK_TAIL);
		rc = km_frame_create(r->info.device.rows, r->info.device.cols,
		                     r->info.device.pitch_mm, r->info.device.geometry, &r->frame);
		if (rc == KM_OK && (r->info.content & KM_REC_RAW))
			r->raw = km__calloc(r->cells, sizeof *r->raw);
		if (!r->buf || rc != KM_OK || ((r->info.content & KM_REC_RAW) && !r->raw))
			rc = rc != KM_OK ? rc : KM_ERR_NO_MEMORY;
	}
	if (rc == KM_OK) {
		int irc = cfg->verify_all ? KM_ERR_NOT_FOUND : load_index(r);
		if (irc == KM_ERR_NO_MEMORY || irc == KM_ERR_IO)
			rc = irc;
		else if (irc != KM_OK) {
			if (irc != KM_ERR_NOT_FOUND)
				km__log(&r->cfg.log, KM_LOG_WARN, MOD,
				        "%s: index unusable (%s); scanning", r->path,
				        km_strerror(irc));
			r->info.indexed = false;
			r->info.complete = false;
			rc = scan(r);
			uint8_t t[TRAILER];
			/* Complete: sound data, then exactly the trailer's index chunk. */
			if (rc == KM_OK && !r->damage.damaged && read_trailer(r, t) == KM_OK &&
			    km_get_le64(t + 8) == r->data_end &&
			    km_get_le64(t + 16) == scanned_frames(r))
				r->info.complete = true;
		}
	}
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot read %s: %s", r->path,
		        km_strerror(rc));
		km_rec_reader_destroy(r);
		return rc;
	}
	fill_counts(r);
	if (r->damage.damaged)
		r->damage.frame_index = r->info.frame_count;
	r->next_off = r->data_start;
	*out = r;
	return KM_OK;
}

const struct km_rec_info *km_rec_reader_info(const km_rec_reader *r)
{
	return r ? &r->info : NULL;
}

void km_rec_reader_damage(const km_rec_reader *r, struct km_rec_damage *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	if (r)
		*out = r->damage;
}

/* Loads the next chunk; KM_ERR_END at the end of the data. */
static int next_chunk(km_rec_reader *r)
{
	if (r->damage.damaged && r->next_off >= r->damage.byte_offset)
		return r->damage.error;
	if (r->next_off >= r->data_end)
		return KM_ERR_END;
	uint64_t first = 0;
	int rc = load_chunk(r, r->next_off, &first, NULL, NULL, NULL, NULL);
	if (rc == KM_OK && first != r->frame_next)
		rc = KM_ERR_MALFORMED;
	if (rc != KM_OK) {
		if (rc == KM_ERR_IO || rc == KM_ERR_NO_MEMORY)
			return rc;
		set_damage(r, rc, r->next_off, r->frame_next);
		r->len = 0;
		r->pos = 0;
		return rc;
	}
	r->next_off += CHUNK_HDR + (uint64_t)r->len + CHUNK_TAIL;
	return KM_OK;
}

static void decode_frame(km_rec_reader *r, const uint8_t *p, struct km_rec_item *item)
{
	struct km_frame *f = r->frame;
	p += REC_PREFIX;
	f->sequence = km_get_le32(p);
	f->flags = km_get_le32(p + 4);
	f->dropped_since_last = km_get_le32(p + 8);
	item->calibration_id = km_get_le32(p + 12);
	f->device_time_us = km_get_le64(p + 16);
	f->host_time_us = km_get_le64(p + 24);
	p += FRAME_FIXED;
	item->raw = NULL;
	if (r->info.content & KM_REC_RAW) {
		for (size_t i = 0; i < r->cells; i++, p += 2)
			r->raw[i] = km_get_le16(p);
		item->raw = r->raw;
	}
	if (r->info.content & KM_REC_KPA) {
		for (size_t i = 0; i < r->cells; i++, p += 4)
			f->kpa[i] = km_get_le_f32(p);
	} else {
		for (size_t i = 0; i < r->cells; i++)
			f->kpa[i] = (float)r->raw[i];
		f->flags |= KM_FRAME_UNCALIBRATED;
	}
	item->frame = f;
}

static void decode_event(const uint8_t *p, struct km_rec_event *ev)
{
	memset(ev, 0, sizeof *ev);
	p += REC_PREFIX;
	ev->type = km_get_le16(p);
	ev->subtype = km_get_le16(p + 2);
	ev->track_id = km_get_le32(p + 4);
	ev->time_us = km_get_le64(p + 8);
	ev->x_mm = km_get_le_f32(p + 16);
	ev->y_mm = km_get_le_f32(p + 20);
	ev->n_ints = p[24];
	ev->n_values = p[25];
	p += EVENT_FIXED;
	for (unsigned i = 0; i < ev->n_ints; i++, p += 4)
		ev->ints[i] = km_get_le32(p);
	for (unsigned i = 0; i < ev->n_values; i++, p += 4)
		ev->values[i] = km_get_le_f32(p);
}

int km_rec_reader_next(km_rec_reader *r, struct km_rec_item *item)
{
	if (!r || !item)
		return KM_ERR_INVALID_ARG;
	for (;;) {
		if (r->pos >= r->len) {
			int rc = next_chunk(r);
			if (rc != KM_OK)
				return rc;
			continue;
		}
		const uint8_t *p = r->buf + r->pos;
		uint32_t size = km_get_le32(p + 4);
		r->pos += size;
		if (p[0] == REC_FRAME) {
			memset(item, 0, sizeof *item);
			item->kind = KM_REC_ITEM_FRAME;
			item->frame_index = r->frame_next++;
			decode_frame(r, p, item);
			return KM_OK;
		}
		if (p[0] == REC_EVENT) {
			memset(item, 0, sizeof *item);
			item->kind = KM_REC_ITEM_EVENT;
			item->frame_index = r->frame_next;
			decode_event(p, &item->event);
			return KM_OK;
		}
		/* unknown record kind from a newer writer: skip */
	}
}

int km_rec_reader_next_frame(km_rec_reader *r, struct km_rec_item *item)
{
	for (;;) {
		int rc = km_rec_reader_next(r, item);
		if (rc != KM_OK || item->kind == KM_REC_ITEM_FRAME)
			return rc;
	}
}

/* Loads chunk i and skips records until frame `index` is next. */
static int position_at(km_rec_reader *r, size_t i, uint64_t index)
{
	r->next_off = r->index[i].offset;
	r->frame_next = r->index[i].first_frame;
	r->len = 0;
	r->pos = 0;
	int rc = next_chunk(r);
	if (rc != KM_OK)
		return rc;
	while (r->pos < r->len) {
		const uint8_t *p = r->buf + r->pos;
		if (p[0] == REC_FRAME) {
			if (r->frame_next == index)
				return KM_OK;
			r->frame_next++;
		}
		r->pos += km_get_le32(p + 4);
	}
	return KM_ERR_MALFORMED; /* the index promised a frame the chunk lacks */
}

static size_t chunk_of_frame(const km_rec_reader *r, uint64_t index)
{
	size_t lo = 0, hi = r->n_index; /* last chunk with first_frame <= index and frames */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->index[mid].first_frame <= index)
			lo = mid;
		else
			hi = mid;
	}
	while (lo < r->n_index && (r->index[lo].frames == 0 ||
	                           index >= r->index[lo].first_frame + r->index[lo].frames))
		lo++;
	return lo;
}

int km_rec_reader_seek_frame(km_rec_reader *r, uint64_t index)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	if (index >= r->info.frame_count)
		return KM_ERR_RANGE;
	size_t i = chunk_of_frame(r, index);
	if (i >= r->n_index)
		return KM_ERR_INTERNAL;
	return position_at(r, i, index);
}

int km_rec_reader_seek_time(km_rec_reader *r, uint64_t time_us)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	/* First chunk whose last frame is at or after time_us. */
	size_t i = 0;
	size_t lo = 0, hi = r->n_index;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->index[mid].frames == 0 || r->index[mid].last_time_us < time_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Chunks with no frames break monotonicity of the search key: walk back. */
	i = lo;
	while (i > 0 && (r->index[i - 1].frames == 0 || r->index[i - 1].last_time_us >= time_us))
		i--;
	while (i < r->n_index && (r->index[i].frames == 0 || r->index[i].last_time_us < time_us))
		i++;
	if (i >= r->n_index)
		return KM_ERR_RANGE;
	r->next_off = r->index[i].offset;
	r->frame_next = r->index[i].first_frame;
	r->len = 0;
	r->pos = 0;
	int rc = next_chunk(r);
	if (rc != KM_OK)
		return rc;
	while (r->pos < r->len) {
		const uint8_t *p = r->buf + r->pos;
		if (p[0] == REC_FRAME) {
			if (km_get_le64(p + REC_PREFIX + 16) >= time_us)
				return KM_OK;
			r->frame_next++;
		}
		r->pos += km_get_le32(p + 4);
	}
	return KM_ERR_RANGE;
}

int km_rec_reader_reset(km_rec_reader *r)
{
	if (!r)
		return KM_ERR_INVALID_ARG;
	r->next_off = r->data_start;
	r->frame_next = 0;
	r->len = 0;
	r->pos = 0;
	return KM_OK;
}

bool km_rec_reader_is_file(const km_rec_reader *r, const char *path)
{
	struct stat a, b;
	return r && path && fstat(r->fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

void km_rec_reader_destroy(km_rec_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	km_frame_destroy(r->frame);
	km__free(r->raw);
	km__free(r->buf);
	km__free(r->index);
	km__free(r->calib);
	km__free(r->path);
	km__free(r);
}
