/* Reassembler: in-order frames, lost / duplicated / reordered / mismatched
 * fragments, temporal references, config rejection, reset, no allocation. */
#include <criterion/criterion.h>
#include <string.h>

#include "km_internal.h"
#include "proto_test_util.h"

#define R 16
#define C 12
#define N (R * C)
#define MT 128 /* small transfers: every frame has several fragments */

struct pkts {
	uint8_t buf[8192];
	size_t off[128];
	size_t len[128];
	size_t n;
};

static void make(struct pkts *p, uint32_t seq, uint8_t enc, const uint16_t *x, const uint16_t *prev)
{
	struct km_proto_frame_header h = {
	    .sequence = seq, .timestamp_us = 1000ull * seq, .rows = R, .cols = C, .encoding = enc};
	size_t w = 0, np = 0;
	cr_assert_eq(km_proto_encode_frame_split(&h, x, prev, MT, p->buf, sizeof p->buf, &w, &np),
	             KM_OK);
	cr_assert_leq(np, 128);
	size_t pos = 0;
	for (size_t k = 0; k < np; k++) {
		struct km_proto_packet pk;
		size_t used;
		cr_assert_eq(km_proto_parse_packet(p->buf + pos, w - pos, &pk, &used), KM_OK);
		p->off[k] = pos;
		p->len[k] = used;
		pos += used;
	}
	p->n = np;
}

static int push(km_proto_reasm *r, const struct pkts *p, size_t k, bool *ready)
{
	size_t used = 0;
	int rc = km_proto_reasm_push_bytes(r, p->buf + p->off[k], p->len[k], ready, &used);
	if (rc == KM_OK)
		cr_assert_eq(used, p->len[k]);
	return rc;
}

static km_proto_reasm *new_reasm(void)
{
	struct km_proto_reasm_config cfg = km_proto_reasm_config_default();
	cfg.max_rows = 32;
	cfg.max_cols = 32;
	km_proto_reasm *r = NULL;
	cr_assert_eq(km_proto_reasm_create(&cfg, &r), KM_OK);
	return r;
}

static void push_all(km_proto_reasm *r, const struct pkts *p, const uint16_t *x, uint32_t seq,
                     uint32_t expect_dropped)
{
	bool ready = false;
	for (size_t k = 0; k < p->n; k++) {
		cr_assert_eq(push(r, p, k, &ready), KM_OK, "fragment %zu", k);
		cr_assert_eq(ready, k + 1 == p->n);
	}
	const struct km_proto_frame *f = km_proto_reasm_frame(r);
	cr_assert_not_null(f);
	cr_assert_eq(f->header.sequence, seq);
	cr_assert_eq(f->header.rows, R);
	cr_assert_eq(f->header.cols, C);
	cr_assert_eq(f->header.timestamp_us, 1000ull * seq);
	cr_assert_eq(f->dropped_since_last, expect_dropped);
	cr_assert_arr_eq(f->counts, x, N * sizeof(uint16_t));
}

Test(reasm, config_rejection)
{
	km_proto_reasm *r = (km_proto_reasm *)0x1;
	struct km_proto_reasm_config cfg = km_proto_reasm_config_default();
	cr_assert_eq(cfg.max_rows, 128);
	cfg.max_rows = 0;
	cr_assert_eq(km_proto_reasm_create(&cfg, &r), KM_ERR_SHAPE);
	cr_assert_null(r);
	cfg.max_rows = 8;
	cfg.max_cols = KM_FRAME_MAX_DIM + 1;
	cr_assert_eq(km_proto_reasm_create(&cfg, &r), KM_ERR_SHAPE);
	cr_assert_eq(km_proto_reasm_create(NULL, &r), KM_ERR_INVALID_ARG);
	cfg.max_cols = 8;
	cr_assert_eq(km_proto_reasm_create(&cfg, NULL), KM_ERR_INVALID_ARG);
	km_proto_reasm_destroy(NULL);
	cr_assert_null(km_proto_reasm_frame(NULL));
}

Test(reasm, frames_in_order_without_allocation)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N], prev[N];
	tu_fill_smooth(prev, R, C, 3, 1);
	uint64_t allocs = km__alloc_count();
	for (uint32_t seq = 0; seq < 20; seq++) {
		tu_fill_smooth(x, R, C, 3, 100 + seq);
		uint8_t enc = (uint8_t)(seq % KM_PROTO_ENC_COUNT);
		make(&p, seq, enc, x, prev);
		if (enc <= KM_PROTO_ENC_RAW12)
			cr_assert_gt(p.n, 1);
		push_all(r, &p, x, seq, 0);
		memcpy(prev, x, sizeof x);
	}
	cr_assert_eq(km__alloc_count(), allocs, "push must not allocate");
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.frames, 20);
	cr_assert_eq(st.bad_packets + st.duplicates + st.gaps + st.incomplete + st.undecodable, 0);
	km_proto_reasm_destroy(r);
}

Test(reasm, lost_fragment_abandons_the_frame)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N];
	tu_fill_random(x, N, 4095, 1);
	make(&p, 0, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 0, 0);
	/* Frame 1: fragment 1 lost. */
	make(&p, 1, KM_PROTO_ENC_RAW12, x, NULL);
	bool ready;
	cr_assert_eq(push(r, &p, 0, &ready), KM_OK);
	for (size_t k = 2; k < p.n; k++) {
		int rc = push(r, &p, k, &ready);
		cr_assert_eq(rc, KM_ERR_BAD_SEQUENCE, "fragment %zu after a gap", k);
		cr_assert(!ready);
	}
	/* Frame 2 arrives whole: one frame lost in between. */
	tu_fill_random(x, N, 4095, 2);
	make(&p, 2, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 2, 1);
	/* Frame 3: last fragment lost, frame 4 starts: 3 is abandoned. */
	make(&p, 3, KM_PROTO_ENC_RAW12, x, NULL);
	for (size_t k = 0; k + 1 < p.n; k++)
		cr_assert_eq(push(r, &p, k, &ready), KM_OK);
	make(&p, 4, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 4, 1);
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.frames, 3);
	cr_assert_eq(st.incomplete, 2);
	cr_assert_eq(st.lost_frames, 2);
	cr_assert_geq(st.gaps, 1);
	km_proto_reasm_destroy(r);
}

Test(reasm, duplicates_are_dropped_and_the_frame_survives)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N];
	tu_fill_smooth(x, R, C, 5, 4);
	make(&p, 10, KM_PROTO_ENC_DELTA, x, NULL);
	bool ready;
	for (size_t k = 0; k < p.n; k++) {
		cr_assert_eq(push(r, &p, k, &ready), KM_OK);
		if (k + 1 < p.n) {
			/* Every fragment sent twice (a retried transfer). */
			cr_assert_eq(push(r, &p, k, &ready), KM_ERR_BAD_SEQUENCE);
			cr_assert(!ready);
			cr_assert_eq(push(r, &p, 0, &ready), KM_ERR_BAD_SEQUENCE);
		}
	}
	cr_assert(ready);
	cr_assert_arr_eq(km_proto_reasm_frame(r)->counts, x, sizeof x);
	/* The whole frame again: every packet refused, the frame is unchanged. */
	for (size_t k = 0; k < p.n; k++) {
		cr_assert_eq(push(r, &p, k, &ready), KM_ERR_BAD_SEQUENCE);
		cr_assert(!ready);
	}
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.frames, 1);
	cr_assert_eq(st.duplicates, 2 * (p.n - 1) + p.n);
	cr_assert_eq(st.incomplete, 0);
	km_proto_reasm_destroy(r);
}

Test(reasm, reordered_fragments_and_frames)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p, q;
	uint16_t x[N], y[N];
	tu_fill_random(x, N, 4095, 8);
	tu_fill_random(y, N, 4095, 9);
	make(&p, 5, KM_PROTO_ENC_RAW16, x, NULL);
	bool ready;
	/* Fragments 0, 2, 1: the swap breaks the frame. */
	cr_assert_eq(push(r, &p, 0, &ready), KM_OK);
	cr_assert_eq(push(r, &p, 2, &ready), KM_ERR_BAD_SEQUENCE);
	cr_assert_eq(push(r, &p, 1, &ready), KM_ERR_BAD_SEQUENCE);
	cr_assert_null(km_proto_reasm_frame(r));
	/* Frame 7 complete, then frame 6 (late): refused. */
	make(&q, 7, KM_PROTO_ENC_RAW16, y, NULL);
	push_all(r, &q, y, 7, 0);
	make(&p, 6, KM_PROTO_ENC_RAW16, x, NULL);
	for (size_t k = 0; k < p.n; k++)
		cr_assert_eq(push(r, &p, k, &ready), KM_ERR_BAD_SEQUENCE);
	cr_assert_arr_eq(km_proto_reasm_frame(r)->counts, y, sizeof y);
	/* Interleaved fragments of two frames: the older one is abandoned and its
	 * late fragment does not disturb the newer one. */
	make(&p, 8, KM_PROTO_ENC_RAW16, x, NULL);
	make(&q, 9, KM_PROTO_ENC_RAW16, y, NULL);
	cr_assert_eq(push(r, &p, 0, &ready), KM_OK);
	cr_assert_eq(push(r, &q, 0, &ready), KM_OK);
	cr_assert_eq(push(r, &p, 1, &ready), KM_ERR_BAD_SEQUENCE);
	for (size_t k = 1; k < q.n; k++)
		cr_assert_eq(push(r, &q, k, &ready), KM_OK);
	cr_assert(ready);
	cr_assert_eq(km_proto_reasm_frame(r)->header.sequence, 9);
	cr_assert_eq(km_proto_reasm_frame(r)->dropped_since_last, 1);
	km_proto_reasm_destroy(r);
}

Test(reasm, mismatched_fragments_are_malformed)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p, q;
	uint16_t x[N];
	tu_fill_random(x, N, 4095, 10);
	make(&p, 3, KM_PROTO_ENC_RAW12, x, NULL);
	bool ready;
	/* Same sequence, different encoding: fragment 1 of the other stream. */
	make(&q, 3, KM_PROTO_ENC_RAW16, x, NULL);
	cr_assert_eq(push(r, &p, 0, &ready), KM_OK);
	cr_assert_eq(push(r, &q, 1, &ready), KM_ERR_MALFORMED);
	/* Hand-made packet structs with inconsistent fields. */
	struct km_proto_packet pk;
	size_t used;
	cr_assert_eq(km_proto_parse_packet(p.buf, p.len[0], &pk, &used), KM_OK);
	struct km_proto_packet bad = pk;
	bad.frag_count = 0;
	cr_assert_eq(km_proto_reasm_push(r, &bad, &ready), KM_ERR_MALFORMED);
	bad = pk;
	bad.frag_offset = bad.total_len;
	cr_assert_eq(km_proto_reasm_push(r, &bad, &ready), KM_ERR_MALFORMED);
	bad = pk;
	bad.header.rows = 33;
	cr_assert_eq(km_proto_reasm_push(r, &bad, &ready), KM_ERR_SHAPE);
	bad = pk;
	bad.frag_count = 1;
	bad.payload_len = 3; /* a lone fragment shorter than total_len */
	cr_assert_eq(km_proto_reasm_push(r, &bad, &ready), KM_ERR_MALFORMED);
	cr_assert_eq(km_proto_reasm_push(r, NULL, &ready), KM_ERR_INVALID_ARG);
	/* Bytes that do not parse count as bad packets and return the parse code. */
	uint8_t junk[64] = {1, 2, 3, 4};
	cr_assert_eq(km_proto_reasm_push_bytes(r, junk, sizeof junk, &ready, &used),
	             KM_ERR_BAD_MAGIC);
	cr_assert_eq(used, 0);
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_geq(st.bad_packets, 4);
	km_proto_reasm_destroy(r);
}

Test(reasm, undecodable_payload_under_a_valid_crc)
{
	km_proto_reasm *r = new_reasm();
	/* A single-fragment DELTA frame whose token stream runs past the end. */
	uint8_t b[KM_PROTO_PACKET_OVERHEAD + 1];
	memset(b, 0, sizeof b);
	km_put_le32(b, KM_PROTO_MAGIC);
	b[4] = KM_PROTO_VERSION;
	b[5] = KM_PROTO_HEADER_LEN;
	b[6] = KM_PROTO_ENC_DELTA;
	km_put_le16(b + 20, 2);
	km_put_le16(b + 22, 2);
	km_put_le16(b + 26, 1);
	km_put_le32(b + 32, 1);
	km_put_le32(b + 36, 1);
	b[40] = 0x3D; /* token D (zero run), v = 3: 5 zeros in a 4-cell frame */
	km_put_le32(b + 41, km_crc32c(0, b, 41));
	bool ready;
	size_t used;
	cr_assert_eq(km_proto_reasm_push_bytes(r, b, sizeof b, &ready, &used), KM_ERR_MALFORMED);
	cr_assert(!ready);
	b[40] = 0x2D; /* exactly 4 zeros */
	km_put_le32(b + 41, km_crc32c(0, b, 41));
	cr_assert_eq(km_proto_reasm_push_bytes(r, b, sizeof b, &ready, &used), KM_OK);
	cr_assert(ready);
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.undecodable, 1);
	km_proto_reasm_destroy(r);
}

Test(reasm, temporal_frames_need_their_reference)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t a[N], b[N], c[N];
	tu_fill_smooth(a, R, C, 3, 1);
	tu_fill_smooth(b, R, C, 3, 2);
	tu_fill_smooth(c, R, C, 3, 3);
	bool ready;
	/* Temporal first frame: no reference. */
	make(&p, 0, KM_PROTO_ENC_DELTA_TEMPORAL, a, b);
	int rc = KM_OK;
	for (size_t k = 0; k < p.n; k++)
		rc = push(r, &p, k, &ready);
	cr_assert_eq(rc, KM_ERR_BAD_SEQUENCE);
	cr_assert(!ready);
	/* Key frame 1, temporal 2 (ok), frame 3 lost, temporal 4 (refused), key 5. */
	make(&p, 1, KM_PROTO_ENC_DELTA, a, NULL);
	push_all(r, &p, a, 1, 0);
	make(&p, 2, KM_PROTO_ENC_DELTA_TEMPORAL, b, a);
	push_all(r, &p, b, 2, 0);
	make(&p, 4, KM_PROTO_ENC_DELTA_TEMPORAL, c, a);
	for (size_t k = 0; k < p.n; k++)
		rc = push(r, &p, k, &ready);
	cr_assert_eq(rc, KM_ERR_BAD_SEQUENCE);
	cr_assert_eq(km_proto_reasm_frame(r)->header.sequence, 2);
	make(&p, 5, KM_PROTO_ENC_RAW12, c, NULL);
	push_all(r, &p, c, 5, 2);
	km_proto_reasm_destroy(r);
}

Test(reasm, reset_forgets_sequence_and_counters)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N];
	tu_fill_random(x, N, 4095, 12);
	make(&p, 100, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 100, 0);
	bool ready;
	/* A half frame in progress, then reset (device restarted). */
	make(&p, 101, KM_PROTO_ENC_RAW12, x, NULL);
	cr_assert_eq(push(r, &p, 0, &ready), KM_OK);
	km_proto_reasm_reset(r);
	cr_assert_null(km_proto_reasm_frame(r));
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.packets, 0);
	cr_assert_eq(st.frames, 0);
	/* Sequence 0 after 100 is fine after a reset, and the old half frame is gone. */
	cr_assert_eq(push(r, &p, 1, &ready), KM_ERR_BAD_SEQUENCE);
	make(&p, 0, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 0, 0);
	km_proto_reasm_destroy(r);
}

Test(reasm, big_step_back_is_a_restart)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N];
	tu_fill_random(x, N, 4095, 14);
	make(&p, 1000, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 1000, 0);
	/* Within the window behind: a late copy, refused. */
	make(&p, 1000 - (KM_PROTO_REASM_WINDOW - 1), KM_PROTO_ENC_RAW12, x, NULL);
	bool ready;
	cr_assert_eq(push(r, &p, 0, &ready), KM_ERR_BAD_SEQUENCE);
	/* The device restarted its count without a host reset: resumes, no loss. */
	make(&p, 0, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 0, 0);
	make(&p, 2, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 2, 1);
	struct km_proto_reasm_stats st;
	km_proto_reasm_stats(r, &st);
	cr_assert_eq(st.restarts, 1);
	cr_assert_eq(st.lost_frames, 1);
	km_proto_reasm_destroy(r);
}

Test(reasm, sequence_wraps)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p;
	uint16_t x[N];
	tu_fill_random(x, N, 4095, 13);
	make(&p, 0xFFFFFFFEu, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 0xFFFFFFFEu, 0);
	make(&p, 0xFFFFFFFFu, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 0xFFFFFFFFu, 0);
	make(&p, 1, KM_PROTO_ENC_RAW12, x, NULL);
	push_all(r, &p, x, 1, 1);
	km_proto_reasm_destroy(r);
}

Test(reasm, random_packet_soup_never_crashes)
{
	km_proto_reasm *r = new_reasm();
	static struct pkts p[4];
	uint16_t x[N];
	uint64_t s = 21;
	for (int f = 0; f < 4; f++) {
		tu_fill_smooth(x, R, C, 4, (uint64_t)f + 30);
		make(&p[f], (uint32_t)f, (uint8_t)(f % 3), x, NULL);
	}
	bool ready;
	for (int it = 0; it < 3000; it++) {
		struct pkts *q = &p[tu_rand(&s) % 4];
		size_t k = tu_rand(&s) % q->n;
		int rc = push(r, q, k, &ready);
		cr_assert_leq(rc, 0);
		if (ready) {
			const struct km_proto_frame *fr = km_proto_reasm_frame(r);
			cr_assert_not_null(fr);
			cr_assert_lt(fr->header.sequence, 4);
		}
		if (it % 500 == 499)
			km_proto_reasm_reset(r);
	}
	km_proto_reasm_destroy(r);
}
