/* The .kmrec writer: chunks in a buffer, timed flushes whose fdatasync runs
 * on a thread of its own, the index at close (docs/kmrec-format.md). */
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

#include "knotmap/outfile.h"
#include "recording_internal.h"

#define MOD "recording"

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
	struct km__rec_index_entry cur; /* the pending chunk's index entry */
	struct km__rec_index_entry *index;
	size_t n_index, cap_index;
	uint64_t frames, events;           /* handed in */
	uint64_t file_frames, file_events; /* in whole chunks written to the file */
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
	int sync_err;          /* first failed background sync, not yet reported */
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
	memcpy(h, km__rec_chunk_magic, 4);
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
	if (!w->index_lost &&
	    km__rec_index_push(&w->index, &w->n_index, &w->cap_index, &w->cur) != KM_OK) {
		w->index_lost = true;
		km__log(&w->cfg.log, KM_LOG_WARN, MOD,
		        "no memory for the index; readers will scan");
	}
	w->file_off += total;
	w->file_frames += w->cur.frames;
	w->file_events += w->cur.events;
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
	memcpy(h, km__rec_file_magic, 8);
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
	km__rec_copy_str((char *)h + 40, 64, c->device.serial);
	km__rec_copy_str((char *)h + 104, 32, c->device.firmware);
	km__rec_copy_str((char *)h + 136, 64, c->device.model);
	km__rec_copy_str((char *)h + 200, 48, c->session_id);
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
	int rc = km__rec_check_device(&cfg->device);
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
	w->frame_rec = km__rec_frame_size(cfg->content, w->cells);
	w->cap = KM_MAX((size_t)cfg->chunk_bytes,
	                w->frame_rec +
	                    km__rec_event_size(KM_REC_EVENT_MAX_INTS, KM_REC_EVENT_MAX_VALUES));
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
	/* The header is written to a 0600 temporary file next to the target and
	 * the file appears under its name only with the header in it (no window
	 * with a 0-byte file); a link at the target is refused, never followed. */
	struct km_outfile_config oc = km_outfile_config_default();
	oc.path = w->path;
	oc.force = cfg->overwrite;
	oc.log = cfg->log;
	km_outfile *file = NULL;
	rc = km_outfile_open(&oc, &file);
	if (rc == KM_OK) {
		w->fd = km_outfile_fd(file);
		rc = writer_header(w);
		if (rc != KM_OK)
			km__log(&cfg->log, KM_LOG_ERROR, MOD, "cannot write the header of %s: %s",
			        w->path, km_strerror(rc));
		w->fd = -1;
	}
	if (rc == KM_OK)
		rc = km_outfile_publish(file, &w->fd);
	km_outfile_destroy(file); /* on error: the temporary file goes, an old file stays */
	if (rc != KM_OK) {
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
	size_t size = km__rec_event_size(ev->n_ints, ev->n_values);
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
	w->file_frames = 0;
	w->file_events = 0;
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
		const struct km__rec_index_entry *e = &w->index[i];
		km_put_le64(p, e->offset);
		km_put_le64(p + 8, e->first_frame);
		km_put_le32(p + 16, e->frames);
		km_put_le32(p + 20, e->events);
		km_put_le64(p + 24, e->first_time_us);
		km_put_le64(p + 32, e->last_time_us);
	}
	km_put_le32(p, km_crc32c(0, b + CHUNK_HDR, payload));
	uint8_t t[TRAILER];
	memcpy(t, km__rec_end_magic, 8);
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
	/* What is in the file (whole chunks written), not what was handed in: after
	 * a full disk the two differ, and a summary must tell what can be read. */
	if (frames)
		*frames = w ? w->file_frames : 0;
	if (events)
		*events = w ? w->file_events : 0;
	if (bytes)
		*bytes = w ? w->file_off : 0;
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
