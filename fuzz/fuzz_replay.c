/*
 * The replay transport end to end: a .kmrec file, or since the importers
 * landed any file they read (written to a memfd), played
 * through km_stream (engine thread, calibration from the recording's blob or
 * the nominal curve, the ring) as fast as it is read, every frame read.
 * Input: options (1 byte), then the file. Options bit 0: repair the
 *   recording's CRCs and, when its calibration blob is a calibration file,
 *   that file's CRC; bit 1: creep correction; bit 2: a zero request after
 *   the first frame; bit 3: read raw counts too.
 * Properties: km_stream_create / read return only documented codes; frames
 * have the recording's shape; kPa are never NaN or negative; the stream ends
 * with KM_ERR_END; it never hands out more frames than the file holds (when
 * the file says how many).
 */
#define _GNU_SOURCE /* memfd_create */
#include <math.h>

#include "fuzz_file.h"
#include "knotmap/protocol.h"
#include "knotmap/import.h"
#include "knotmap/recording.h"
#include "knotmap/stream.h"

#define REC_HDR_FIXED 272
#define REC_CALIB_OFF 268
#define CHUNK_HDR 32
#define TRAILER 32

static void fix_crcs(uint8_t *b, size_t n)
{
	if (n < REC_HDR_FIXED)
		return;
	size_t hlen = km_get_le32(b + 12);
	size_t csize = km_get_le32(b + 264);
	if (hlen < REC_HDR_FIXED || hlen > n)
		return;
	/* A calibration file inside: its own CRC first (docs/calibration-format.md). */
	if (csize >= 28 && REC_CALIB_OFF + csize <= hlen - 4 &&
	    memcmp(b + REC_CALIB_OFF, "KMCALIB", 8) == 0) {
		uint8_t *c = b + REC_CALIB_OFF;
		km_put_le32(c + csize - 4, km_crc32c(0, c, csize - 4));
	}
	km_put_le32(b + hlen - 4, km_crc32c(0, b, hlen - 4));
	size_t off = hlen;
	while (off + CHUNK_HDR + 4 <= n && memcmp(b + off, "KMCK", 4) == 0) {
		km_put_le32(b + off + 28, km_crc32c(0, b + off, 28));
		size_t len = km_get_le32(b + off + 8);
		if (len > n - off - CHUNK_HDR - 4)
			break;
		km_put_le32(b + off + CHUNK_HDR + len,
		                  km_crc32c(0, b + off + CHUNK_HDR, len));
		off += CHUNK_HDR + len + 4;
	}
	if (n >= hlen + TRAILER && memcmp(b + n - TRAILER, "KMRECEND", 8) == 0)
		km_put_le32(b + n - 4, km_crc32c(0, b + n - TRAILER, 28));
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

	struct km_stream_config cfg = km_stream_config_default();
	cfg.transport = KM_TRANSPORT_REPLAY;
	cfg.replay_path = path;
	cfg.replay_speed = 0.0; /* as fast as read: nothing dropped, no timing */
	cfg.creep_correction = (opt & 2u) != 0;
	km_stream *s = (km_stream *)&cfg; /* must be overwritten */
	int rc = km_stream_create(&cfg, &s);
	/* stream.h lists the config and calibration codes; the replay file adds
	 * what km_source_create returns (recording.h and import.h). */
	FUZZ_CHECK_RC(rc, KM_ERR_INVALID_ARG, KM_ERR_RANGE, KM_ERR_NOT_FOUND, KM_ERR_IO,
	              KM_ERR_BAD_MAGIC, KM_ERR_BAD_VERSION, KM_ERR_BAD_CRC, KM_ERR_TRUNCATED,
	              KM_ERR_MALFORMED, KM_ERR_SHAPE, KM_ERR_CALIBRATION, KM_ERR_NO_MEMORY,
	              KM_ERR_PARSE, KM_ERR_UNSUPPORTED, KM_ERR_PERMISSION,
	              KM_ERR_NONFINITE /* a Tekscan import reads its first frame at open */);
	if (rc != KM_OK) {
		FUZZ_CHECK(s == NULL);
		return 0;
	}
	/* What the file says, for the checks: the transport reads it through a
	 * recording source (a .kmrec or an import), so open one too. */
	struct km_source_config scfg = km_source_config_default();
	scfg.path = path;
	km_source *src = NULL;
	FUZZ_CHECK(km_source_create(&scfg, &src) == KM_OK);
	const struct km_source_info *si = km_source_info(src);
	uint64_t most = si->frame_count_known ? si->frame_count : UINT64_MAX;
	struct km_frame *f = NULL;
	FUZZ_CHECK(km_stream_frame_create(s, &f) == KM_OK);
	FUZZ_CHECK(f->rows == si->device.rows && f->cols == si->device.cols);
	size_t n = (size_t)f->rows * f->cols;
	uint16_t *raw = (opt & 8u) ? malloc(n * sizeof *raw) : NULL;
	FUZZ_CHECK(km_stream_start(s) == KM_OK);

	uint64_t frames = 0;
	for (;;) {
		rc = km_stream_read_raw(s, f, raw, raw ? n : 0, 10000);
		if (rc != KM_OK)
			break;
		frames++;
		FUZZ_CHECK(frames <= most);
		for (size_t i = 0; i < n; i++) {
			if (isnan(f->kpa[i]) || f->kpa[i] < 0.0f) {
				fprintf(stderr, "frame %llu cell %zu: kPa %g\n",
				        (unsigned long long)frames, i, (double)f->kpa[i]);
				FUZZ_CHECK(!isnan(f->kpa[i]) && f->kpa[i] >= 0.0f);
			}
		}
		if (raw)
			(void)fuzz_touch_u16(raw, n);
		if (frames == 1 && (opt & 4u))
			FUZZ_CHECK(km_stream_zero(s) == KM_OK);
	}
	/* A timeout here would mean the engine hung: libFuzzer's -timeout sees it first. */
	FUZZ_CHECK_RC(rc, KM_ERR_END);
	struct km_stream_stats st;
	FUZZ_CHECK(km_stream_stats(s, &st) == KM_OK);
	FUZZ_CHECK(st.frames_read == frames && st.frames_ok <= most);
	km_stream_destroy(s);
	km_frame_destroy(f);
	free(raw);
	km_source_destroy(src);
	return 0;
}
