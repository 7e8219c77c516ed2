/*
 * Host-side reassembler: collects a frame's fragments in order, checks them
 * against each other and the sequence, decodes the payload. All storage is
 * allocated at create; push never allocates.
 */
#include <inttypes.h>

#include "km_internal.h"
#include "knotmap/protocol.h"

struct km_proto_reasm {
	struct km_proto_reasm_config cfg;
	size_t max_cells;
	size_t payload_cap;
	uint8_t *payload;  /* the frame in progress, encoded */
	uint16_t *spare;   /* decode target; swapped with frame.counts on success */
	uint16_t *current; /* backs frame.counts */

	bool active; /* a frame is in progress */
	struct km_proto_frame_header h;
	uint16_t frag_count;
	uint16_t next_index;
	uint32_t total_len;
	uint32_t received;

	bool have_frame; /* frame/last_seq are valid */
	uint32_t last_seq;
	struct km_proto_frame frame;
	struct km_proto_reasm_stats stats;
};

struct km_proto_reasm_config km_proto_reasm_config_default(void)
{
	struct km_proto_reasm_config c;
	memset(&c, 0, sizeof c);
	c.max_rows = 128;
	c.max_cols = 128;
	return c;
}

int km_proto_reasm_create(const struct km_proto_reasm_config *cfg, km_proto_reasm **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out)
		return KM_ERR_INVALID_ARG;
	if (cfg->max_rows < 1 || cfg->max_rows > KM_FRAME_MAX_DIM || cfg->max_cols < 1 ||
	    cfg->max_cols > KM_FRAME_MAX_DIM)
		return KM_ERR_SHAPE;
	km_proto_reasm *r = km__calloc(1, sizeof *r);
	if (!r)
		return KM_ERR_NO_MEMORY;
	r->cfg = *cfg;
	r->max_cells = (size_t)cfg->max_rows * cfg->max_cols;
	r->payload_cap = KM_PROTO_MAX_PAYLOAD_BYTES(cfg->max_rows, cfg->max_cols);
	r->payload = km__malloc(r->payload_cap);
	r->spare = km__calloc(r->max_cells, sizeof(uint16_t));
	r->current = km__calloc(r->max_cells, sizeof(uint16_t));
	if (!r->payload || !r->spare || !r->current) {
		km_proto_reasm_destroy(r);
		return KM_ERR_NO_MEMORY;
	}
	km_proto_reasm_reset(r);
	*out = r;
	return KM_OK;
}

void km_proto_reasm_reset(km_proto_reasm *r)
{
	if (!r)
		return;
	r->active = false;
	r->have_frame = false;
	r->last_seq = 0;
	memset(&r->frame, 0, sizeof r->frame);
	memset(&r->stats, 0, sizeof r->stats);
}

void km_proto_reasm_destroy(km_proto_reasm *r)
{
	if (!r)
		return;
	km__free(r->payload);
	km__free(r->spare);
	km__free(r->current);
	km__free(r);
}

static void abandon(km_proto_reasm *r)
{
	if (r->active) {
		r->active = false;
		r->stats.incomplete++;
	}
}

static bool same_frame(const struct km_proto_frame_header *a, const struct km_proto_frame_header *b)
{
	return a->sequence == b->sequence && a->timestamp_us == b->timestamp_us &&
	       a->rows == b->rows && a->cols == b->cols && a->encoding == b->encoding &&
	       a->flags == b->flags;
}

static int finish(km_proto_reasm *r, bool *frame_ready)
{
	r->active = false;
	const struct km_proto_frame_header *h = &r->h;
	const uint16_t *prev = NULL;
	if (h->encoding == KM_PROTO_ENC_DELTA_TEMPORAL) {
		if (!r->have_frame || r->last_seq + 1u != h->sequence ||
		    r->frame.header.rows != h->rows || r->frame.header.cols != h->cols) {
			r->stats.undecodable++;
			km__log(&r->cfg.log, KM_LOG_DEBUG, "protocol",
			        "frame %" PRIu32 ": temporal delta without its reference",
			        h->sequence);
			return KM_ERR_BAD_SEQUENCE;
		}
		prev = r->current;
	}
	int rc = km_proto_decode_payload(h->encoding, h->rows, h->cols, r->payload, r->received,
	                                 prev, r->spare, r->max_cells);
	if (rc != KM_OK) {
		r->stats.undecodable++;
		km__log(&r->cfg.log, KM_LOG_DEBUG, "protocol", "frame %" PRIu32 ": %s", h->sequence,
		        km_error_name(rc));
		return KM_ERR_MALFORMED;
	}
	uint32_t dropped = 0;
	if (r->have_frame) {
		if ((int32_t)(h->sequence - r->last_seq) > 0) {
			dropped = h->sequence - r->last_seq - 1u;
		} else {
			r->stats.restarts++;
			km__log(&r->cfg.log, KM_LOG_INFO, "protocol",
			        "sequence restarted at %" PRIu32 " (was %" PRIu32 ")", h->sequence,
			        r->last_seq);
		}
	}
	uint16_t *t = r->current;
	r->current = r->spare;
	r->spare = t;
	r->frame.header = *h;
	r->frame.dropped_since_last = dropped;
	r->frame.counts = r->current;
	r->have_frame = true;
	r->last_seq = h->sequence;
	r->stats.frames++;
	r->stats.lost_frames += dropped;
	*frame_ready = true;
	return KM_OK;
}

int km_proto_reasm_push(km_proto_reasm *r, const struct km_proto_packet *pkt, bool *frame_ready)
{
	if (frame_ready)
		*frame_ready = false;
	if (!r || !pkt || !frame_ready || (!pkt->payload && pkt->payload_len))
		return KM_ERR_INVALID_ARG;
	r->stats.packets++;
	const struct km_proto_frame_header *h = &pkt->header;
	if (h->rows < 1 || h->cols < 1 || h->rows > r->cfg.max_rows || h->cols > r->cfg.max_cols)
		return KM_ERR_SHAPE;
	/* Packets built by hand (not by the parser) get the same bounds checks. */
	if (pkt->frag_count == 0 || pkt->frag_index >= pkt->frag_count ||
	    pkt->total_len > KM_PROTO_MAX_PAYLOAD_BYTES(h->rows, h->cols) ||
	    (uint64_t)pkt->frag_offset + pkt->payload_len > pkt->total_len) {
		r->stats.bad_packets++;
		return KM_ERR_MALFORMED;
	}
	if (r->have_frame && r->last_seq - h->sequence < KM_PROTO_REASM_WINDOW) {
		/* At or just behind the last frame handed out: a late copy. USB
		 * delivers in order, so a bigger step back is a device restart. */
		if (h->sequence == r->last_seq)
			r->stats.duplicates++;
		else
			r->stats.gaps++;
		return KM_ERR_BAD_SEQUENCE;
	}
	if (r->active && h->sequence == r->h.sequence && pkt->frag_index < r->next_index) {
		r->stats.duplicates++;
		return KM_ERR_BAD_SEQUENCE; /* the frame in progress is kept */
	}
	if (pkt->frag_index == 0) {
		abandon(r);
		r->active = true;
		r->h = *h;
		r->frag_count = pkt->frag_count;
		r->total_len = pkt->total_len;
		r->next_index = 0;
		r->received = 0;
	} else if (!r->active || h->sequence != r->h.sequence || pkt->frag_index != r->next_index) {
		/* A stale fragment of an older frame leaves the newer one alone. */
		if (!r->active || (int32_t)(h->sequence - r->h.sequence) >= 0)
			abandon(r);
		r->stats.gaps++;
		return KM_ERR_BAD_SEQUENCE;
	}
	if (!same_frame(h, &r->h) || pkt->frag_count != r->frag_count ||
	    pkt->total_len != r->total_len || pkt->frag_offset != r->received) {
		abandon(r);
		r->stats.bad_packets++;
		return KM_ERR_MALFORMED;
	}
	if (pkt->payload_len)
		memcpy(r->payload + r->received, pkt->payload, pkt->payload_len);
	r->received += pkt->payload_len;
	r->next_index++;
	if (r->next_index < r->frag_count)
		return KM_OK;
	if (r->received != r->total_len) {
		abandon(r);
		r->stats.bad_packets++;
		return KM_ERR_MALFORMED;
	}
	return finish(r, frame_ready);
}

int km_proto_reasm_push_bytes(km_proto_reasm *r, const uint8_t *buf, size_t len, bool *frame_ready,
                              size_t *consumed)
{
	if (consumed)
		*consumed = 0;
	if (frame_ready)
		*frame_ready = false;
	if (!r || !buf || !frame_ready)
		return KM_ERR_INVALID_ARG;
	struct km_proto_packet pkt;
	size_t used = 0;
	int rc = km_proto_parse_packet(buf, len, &pkt, &used);
	if (rc != KM_OK) {
		r->stats.packets++;
		r->stats.bad_packets++;
		return rc;
	}
	if (consumed)
		*consumed = used;
	return km_proto_reasm_push(r, &pkt, frame_ready);
}

const struct km_proto_frame *km_proto_reasm_frame(const km_proto_reasm *r)
{
	return (r && r->have_frame) ? &r->frame : NULL;
}

void km_proto_reasm_stats(const km_proto_reasm *r, struct km_proto_reasm_stats *out)
{
	if (!out)
		return;
	if (!r) {
		memset(out, 0, sizeof *out);
		return;
	}
	*out = r->stats;
}
