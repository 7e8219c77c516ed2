/*
 * .kmrec recordings: km_rec_reader_create on arbitrary file contents, then
 * every item read, seeks and a reset. The reader takes a path, so each input
 * is written to a memfd and opened as /proc/self/fd/N.
 * Input: options (1 byte), then the file. Options bit 0: repair every CRC the
 *   format has (header, chunk headers and payloads, trailer) so mutations
 *   reach the structure checks; bit 1: verify_all; bits 2-7: where to seek.
 * Properties: only documented codes; *out NULL on error; the header fields
 * in range and strings terminated; items as documented (frame shape equal to
 * the device's, frame_index counting up, event value counts within bounds);
 * damage reported with a code that then repeats; with no damage, a sound
 * file (verify_all) yields exactly info.frame_count frames; after a reset
 * the first item is read again; a seek lands on the frame asked for.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_file.h"
#include "knotmap/bytes.h"
#include "knotmap/recording.h"

#define REC_HDR_FIXED 272
#define CHUNK_HDR 32
#define TRAILER 32

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crcs(uint8_t *b, size_t n)
{
	if (n < 16)
		return;
	size_t hlen = get32(b + 12);
	if (hlen < REC_HDR_FIXED || hlen > n)
		return;
	put32(b + hlen - 4, km_crc32c(0, b, hlen - 4));
	size_t off = hlen;
	while (off + CHUNK_HDR + 4 <= n && memcmp(b + off, "KMCK", 4) == 0) {
		put32(b + off + 28, km_crc32c(0, b + off, 28));
		size_t len = get32(b + off + 8);
		if (len > n - off - CHUNK_HDR - 4)
			break;
		put32(b + off + CHUNK_HDR + len, km_crc32c(0, b + off + CHUNK_HDR, len));
		off += CHUNK_HDR + len + 4;
	}
	if (n >= hlen + TRAILER && memcmp(b + n - TRAILER, "KMRECEND", 8) == 0)
		put32(b + n - 4, km_crc32c(0, b + n - TRAILER, 28));
}

static bool terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

static void check_item(const km_rec_reader *r, const struct km_rec_item *it, uint64_t frames)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	if (it->kind == KM_REC_ITEM_FRAME) {
		FUZZ_CHECK(it->frame != NULL);
		FUZZ_CHECK(it->frame_index == frames);
		FUZZ_CHECK(it->frame->rows == in->device.rows &&
		           it->frame->cols == in->device.cols);
		size_t n = (size_t)in->device.rows * in->device.cols;
		volatile float sink = 0.0f;
		for (size_t i = 0; i < n; i++)
			sink += it->frame->kpa[i];
		(void)sink;
		if (in->content & KM_REC_RAW)
			(void)fuzz_touch_u16(it->raw, n);
		else
			FUZZ_CHECK(it->raw == NULL);
	} else {
		FUZZ_CHECK(it->kind == KM_REC_ITEM_EVENT);
		FUZZ_CHECK(it->event.n_ints <= KM_REC_EVENT_MAX_INTS);
		FUZZ_CHECK(it->event.n_values <= KM_REC_EVENT_MAX_VALUES);
	}
}

static void read_all(km_rec_reader *r, uint8_t opt)
{
	const struct km_rec_info *in = km_rec_reader_info(r);
	FUZZ_CHECK(in != NULL);
	FUZZ_CHECK(in->format_version >= 1 && in->format_version <= KM_REC_FORMAT_VERSION);
	FUZZ_CHECK(in->content != 0 && (in->content & ~(uint32_t)(KM_REC_RAW | KM_REC_KPA)) == 0);
	FUZZ_CHECK(in->device.rows >= 1 && in->device.rows <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(in->device.cols >= 1 && in->device.cols <= KM_FRAME_MAX_DIM);
	FUZZ_CHECK(terminated(in->device.serial, sizeof in->device.serial));
	FUZZ_CHECK(terminated(in->device.firmware, sizeof in->device.firmware));
	FUZZ_CHECK(terminated(in->device.model, sizeof in->device.model));
	FUZZ_CHECK(terminated(in->session_id, sizeof in->session_id));
	FUZZ_CHECK(in->calibration_size <= KM_REC_MAX_CALIBRATION);
	FUZZ_CHECK((in->calibration_size == 0) == (in->calibration == NULL));
	if (in->calibration_size) {
		const volatile uint8_t *c = in->calibration;
		(void)c[0];
		(void)c[in->calibration_size - 1];
	}

	struct km_rec_item it, first;
	memset(&first, 0, sizeof first);
	uint64_t frames = 0, events = 0, items = 0;
	int rc;
	while ((rc = km_rec_reader_next(r, &it)) == KM_OK) {
		check_item(r, &it, frames);
		if (items++ == 0)
			first = it;
		if (it.kind == KM_REC_ITEM_FRAME)
			frames++;
		else
			events++;
	}
	FUZZ_CHECK_RC(rc, KM_ERR_END, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED,
	              KM_ERR_IO);
	struct km_rec_damage dmg;
	km_rec_reader_damage(r, &dmg);
	if (rc == KM_ERR_END) {
		if (!dmg.damaged && (opt & 2u)) {
			/* A file scanned whole and found sound: its counts are exact. */
			FUZZ_CHECK(frames == in->frame_count);
			FUZZ_CHECK(events == in->event_count);
		}
	} else {
		FUZZ_CHECK(dmg.damaged && dmg.error == rc);
		FUZZ_CHECK(dmg.frame_index == frames);
		struct km_rec_item again;
		FUZZ_CHECK(km_rec_reader_next(r, &again) == rc);
	}

	/* Reset: the first item again. */
	rc = km_rec_reader_reset(r);
	FUZZ_CHECK_RC(rc, KM_ERR_IO, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED);
	if (rc == KM_OK && items > 0) {
		rc = km_rec_reader_next(r, &it);
		FUZZ_CHECK(rc == KM_OK && it.kind == first.kind && it.frame_index == 0);
		if (it.kind == KM_REC_ITEM_EVENT)
			FUZZ_CHECK(it.event.time_us == first.event.time_us &&
			           it.event.type == first.event.type);
	}

	/* Seeks: by index (in and past the range) and by time. */
	uint64_t target = in->frame_count ? ((uint64_t)(opt >> 2) % (in->frame_count + 1)) : 0;
	rc = km_rec_reader_seek_frame(r, target);
	FUZZ_CHECK_RC(rc, KM_ERR_RANGE, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED,
	              KM_ERR_IO);
	if (target >= in->frame_count)
		FUZZ_CHECK(rc == KM_ERR_RANGE);
	if (rc == KM_OK) {
		rc = km_rec_reader_next_frame(r, &it);
		FUZZ_CHECK_RC(rc, KM_ERR_END, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED,
		              KM_ERR_IO);
		if (rc == KM_OK)
			FUZZ_CHECK(it.kind == KM_REC_ITEM_FRAME && it.frame_index == target);
	}
	rc = km_rec_reader_seek_time(r, in->first_time_us + (uint64_t)(opt >> 2) * 10000u);
	FUZZ_CHECK_RC(rc, KM_ERR_RANGE, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED,
	              KM_ERR_IO);
	if (rc == KM_OK) {
		rc = km_rec_reader_next_frame(r, &it);
		FUZZ_CHECK_RC(rc, KM_ERR_END, KM_ERR_TRUNCATED, KM_ERR_BAD_CRC, KM_ERR_MALFORMED,
		              KM_ERR_IO);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	uint8_t *buf = fuzz_dup(data + 1, size - 1);
	size_t len = size - 1;
	if (opt & 1u)
		fix_crcs(buf, len);
	const char *path = fuzz_file(buf, len);
	free(buf);

	struct km_rec_reader_config cfg = km_rec_reader_config_default();
	cfg.path = path;
	cfg.verify_all = (opt & 2u) != 0;
	km_rec_reader *r = (km_rec_reader *)&cfg; /* must be overwritten */
	int rc = km_rec_reader_create(&cfg, &r);
	FUZZ_CHECK_RC(rc, KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION, KM_ERR_BAD_CRC, KM_ERR_TRUNCATED,
	              KM_ERR_MALFORMED, KM_ERR_SHAPE, KM_ERR_NO_MEMORY);
	if (rc != KM_OK) {
		FUZZ_CHECK(r == NULL);
		return 0;
	}
	FUZZ_CHECK(r != NULL);
	FUZZ_CHECK(km_rec_reader_info(r)->file_size == len);
	read_all(r, opt);
	km_rec_reader_destroy(r);
	return 0;
}
