/* The .kmrec reader: header, index (or a scan that rebuilds it), one chunk in
 * memory at a time, damage found by CRC (docs/kmrec-format.md). */
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

#define MOD "recording"

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
	struct km__rec_index_entry *index;
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

/* A header field that does not hold: says which field, where and why, so a
 * damaged or foreign file is more than "malformed data". */
static int bad_field(const km_rec_reader *r, const char *field, unsigned offset, const char *why,
                     unsigned long long value)
{
	km__log(&r->cfg.log, KM_LOG_ERROR, MOD, "%s: header field '%s' (byte %u) is %llu: %s",
	        r->path, field, offset, value, why);
	return KM_ERR_MALFORMED;
}

static int read_header(km_rec_reader *r)
{
	uint8_t h[HDR_FIXED];
	int rc = read_at(r->fd, 0, h, 16);
	if (rc == KM_ERR_TRUNCATED)
		return r->info.file_size >= 8 && !memcmp(h, km__rec_file_magic, 8)
		           ? KM_ERR_TRUNCATED
		           : KM_ERR_BAD_MAGIC;
	if (rc != KM_OK)
		return rc;
	if (memcmp(h, km__rec_file_magic, 8) != 0)
		return KM_ERR_BAD_MAGIC;
	uint16_t version = km_get_le16(h + 8);
	if (version < 1 || version > KM_REC_FORMAT_VERSION) {
		km__log(&r->cfg.log, KM_LOG_ERROR, MOD,
		        "%s: format version %u; this knotmap reads versions 1 to %u", r->path,
		        version, KM_REC_FORMAT_VERSION);
		return KM_ERR_BAD_VERSION;
	}
	uint32_t hlen = km_get_le32(h + 12);
	if (hlen < HDR_FIXED || hlen - HDR_FIXED > KM_REC_MAX_CALIBRATION)
		return bad_field(r, "header_length", 12, "outside the possible header sizes", hlen);
	if (hlen > r->info.file_size)
		return KM_ERR_TRUNCATED;
	rc = read_at(r->fd, 0, h, HDR_FIXED);
	if (rc != KM_OK)
		return rc;
	uint32_t csize = km_get_le32(h + 264);
	if (csize != hlen - HDR_FIXED)
		return bad_field(r, "calibration_size", 264, "does not match the header length",
		                 csize);
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
	if (km_get_le32(tail) != crc) {
		km__log(&r->cfg.log, KM_LOG_ERROR, MOD,
		        "%s: the header's checksum (byte %u) does not match its contents", r->path,
		        (unsigned)(HDR_CALIB + csize));
		return KM_ERR_BAD_CRC;
	}

	struct km_rec_info *in = &r->info;
	in->format_version = version;
	in->content = km_get_le32(h + 16);
	if (in->content == 0 || (in->content & ~(uint32_t)(KM_REC_RAW | KM_REC_KPA)))
		return bad_field(r, "content", 16, "not raw counts and/or kPa", in->content);
	in->device.rows = km_get_le16(h + 20);
	in->device.cols = km_get_le16(h + 22);
	in->device.pitch_mm = km_get_le_f32(h + 24);
	in->device.geometry = (enum km_geometry)h[28];
	in->device.rate_hz = km_get_le_f32(h + 32);
	in->device.usb_vid = km_get_le16(h + 36);
	in->device.usb_pid = km_get_le16(h + 38);
	km__rec_copy_str(in->device.serial, sizeof in->device.serial, (const char *)h + 40);
	km__rec_copy_str(in->device.firmware, sizeof in->device.firmware, (const char *)h + 104);
	km__rec_copy_str(in->device.model, sizeof in->device.model, (const char *)h + 136);
	km__rec_copy_str(in->session_id, sizeof in->session_id, (const char *)h + 200);
	in->start_unix_us = (int64_t)km_get_le64(h + 248);
	r->max_payload = km_get_le32(h + 256);
	in->calibration_id = km_get_le32(h + 260);
	in->calibration = r->calib;
	in->calibration_size = csize;
	rc = km__rec_check_device(&in->device);
	if (rc != KM_OK) {
		km__log(&r->cfg.log, KM_LOG_ERROR, MOD,
		        "%s: header device fields (bytes 20-39) do not hold: %ux%u cells, pitch "
		        "%g mm, geometry %u, %g Hz",
		        r->path, in->device.rows, in->device.cols, (double)in->device.pitch_mm,
		        (unsigned)in->device.geometry, (double)in->device.rate_hz);
		return rc == KM_ERR_SHAPE ? KM_ERR_SHAPE : KM_ERR_MALFORMED;
	}
	r->cells = (size_t)in->device.rows * in->device.cols;
	r->frame_rec = km__rec_frame_size(in->content, r->cells);
	if (r->max_payload < r->frame_rec || r->max_payload > MAX_CHUNK_BYTES + r->frame_rec + 256u)
		return bad_field(r, "chunk_bytes", 256, "too small for one frame or too large",
		                 r->max_payload);
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
	if (memcmp(h, km__rec_chunk_magic, 4) != 0)
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
			    size != km__rec_event_size(ni, nv))
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
	if (memcmp(t, km__rec_end_magic, 8) != 0 || km_get_le32(t + 28) != km_crc32c(0, t, 28))
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
		struct km__rec_index_entry e = {km_get_le64(p),      km_get_le64(p + 8),
		                                km_get_le32(p + 16), km_get_le32(p + 20),
		                                km_get_le64(p + 24), km_get_le64(p + 32)};
		/* Offsets must be increasing, frame counts consistent, and the frames an
		 * entry claims must fit in its chunk and before the index: a crafted
		 * index with a valid checksum cannot promise more than the file holds. */
		uint64_t min_len = (uint64_t)e.frames * r->frame_rec;
		if (e.offset < expect_off || e.offset >= ioff || e.first_frame != expect_frame ||
		    min_len > r->max_payload ||
		    e.offset + CHUNK_HDR + min_len + CHUNK_TAIL > ioff) {
			km__log(&r->cfg.log, KM_LOG_WARN, MOD,
			        "%s: index entry %u (chunk at byte %llu, %u frames) does not fit "
			        "the file",
			        r->path, i, (unsigned long long)e.offset, e.frames);
			rc = KM_ERR_MALFORMED;
			break;
		}
		expect_off = e.offset + CHUNK_HDR + min_len + CHUNK_TAIL;
		expect_frame += e.frames;
		rc = km__rec_index_push(&r->index, &r->n_index, &r->cap_index, &e);
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
		struct km__rec_index_entry e = {off, 0, 0, 0, 0, 0};
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
		rc = km__rec_index_push(&r->index, &r->n_index, &r->cap_index, &e);
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
		const struct km__rec_index_entry *e = &r->index[i];
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
	/* Regular files only, so a FIFO given by mistake never blocks. */
	rc = km__open_input(&cfg->log, MOD, r->path, &r->fd);
	struct stat st;
	if (rc == KM_OK && fstat(r->fd, &st) != 0)
		rc = km__error_from_errno(errno);
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
