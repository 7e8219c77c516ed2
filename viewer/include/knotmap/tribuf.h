/*
 * knotmap viewer: the triple buffer that hands the newest snapshot from the
 * processing thread to the main thread (pointer swaps under one mutex).
 * Thread safety as documented per function.
 */
#ifndef KNOTMAP_TRIBUF_H
#define KNOTMAP_TRIBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"
#include "knotmap/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_tribuf km_tribuf;

/* Three snapshots of rows x cols. KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE,
 * KM_ERR_NO_MEMORY; *out NULL on error. */
int km_tribuf_create(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry,
                     km_tribuf **out);
/* NULL ok. No thread may be using it. */
void km_tribuf_destroy(km_tribuf *tb);
/* Forgets any unread publish (the reader keeps its current slot). */
void km_tribuf_reset(km_tribuf *tb);

/* Writer (one thread): the slot it may fill. The same slot is returned until
 * km_tribuf_publish; it is never the one the reader holds. Never blocks long
 * (one mutex, no waiting on the reader). */
struct km_view_snapshot *km_tribuf_write_slot(km_tribuf *tb);
/* Writer: makes the filled slot the newest; takes a fresh slot for the next
 * write (the stale unread one, if any, is recycled: the reader only ever sees
 * the newest). */
void km_tribuf_publish(km_tribuf *tb);

/* Reader (one thread): the newest published snapshot, or the one it had when
 * nothing new was published (*fresh false; fresh may be NULL). NULL before the
 * first publish. The pointer stays valid and untouched by the writer until the
 * reader's next call. */
const struct km_view_snapshot *km_tribuf_read(km_tribuf *tb, bool *fresh);

/* Publishes and reads counted since create: published - taken = skipped frames
 * (the renderer is slower than the source, which is expected at 100 Hz). */
void km_tribuf_counts(km_tribuf *tb, uint64_t *published, uint64_t *taken);

/* ------------------------------------------------------------------------ */
/* Renderer                                                                  */
/* ------------------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_TRIBUF_H */
