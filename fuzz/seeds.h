/*
 * The seed-corpus generator (gen_seeds.c): each fuzz target's starting inputs
 * are built at build time from the real encoders and writers, so no binary
 * is committed and the seeds follow format changes.
 */
#ifndef KM_FUZZ_SEEDS_H
#define KM_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; on allocation failure the program exits. */
struct seed_buf {
	uint8_t *p;
	size_t len, cap;
};

void seed_put(struct seed_buf *b, const void *data, size_t n);
void seed_u8(struct seed_buf *b, uint8_t v);
void seed_u16(struct seed_buf *b, uint16_t v);
void seed_free(struct seed_buf *b);
/* Writes dir/name (dir is created); exits on error. */
void seed_write(const char *dir, const char *name, const void *data, size_t n);
void seed_write_buf(const char *dir, const char *name, const struct seed_buf *b);
/* dir/sub as a new string (static storage, valid until the next call). */
const char *seed_dir(const char *dir, const char *sub);

/* One per target; each writes into its own directory under `out`. */
void seeds_proto(const char *out);
void seeds_sim(const char *out);
void seeds_calibration(const char *out);
void seeds_kmrec(const char *out);
void seeds_fw(const char *out);
void seeds_replay(const char *out);
void seeds_import(const char *out);

#endif /* KM_FUZZ_SEEDS_H */
