/*
 * Fixed-capacity ring of raw frames between the engine thread (producer) and
 * the reader (consumer). Full ring: the oldest frame is dropped and counted,
 * and the next frame handed out says how many were lost before it. Storage is
 * allocated once at create; push and pop only copy.
 */
#ifndef KM_DRIVER_RING_H
#define KM_DRIVER_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct km__frame_meta {
	uint32_t sequence;
	uint32_t dropped_before; /* frames lost just before this one (any cause) */
	uint32_t flags;          /* enum km_frame_flag bits */
	uint64_t device_time_us;
	uint64_t host_time_us;
};

struct km__ring;

/* capacity 2..4096 slots of `cells` counts each. KM_OK, KM_ERR_RANGE, KM_ERR_NO_MEMORY. */
int km__ring_create(unsigned capacity, size_t cells, struct km__ring **out);
void km__ring_destroy(struct km__ring *r);
/* Empties the ring and clears its counters and the closed state. */
void km__ring_reset(struct km__ring *r);

/* Copies a frame in. When full: with `wait` false the oldest is dropped
 * (counted); with `wait` true it blocks until there is room or the ring is
 * closed (then returns false without storing). Returns true when stored. */
bool km__ring_push(struct km__ring *r, const struct km__frame_meta *meta, const uint16_t *raw,
                   bool wait);

/* Takes the oldest frame. timeout_ms < 0 waits forever. Returns KM_OK,
 * KM_ERR_TIMEOUT, or the close code given to km__ring_close once empty.
 * raw may be NULL (counts discarded). */
int km__ring_pop(struct km__ring *r, struct km__frame_meta *meta, uint16_t *raw, int timeout_ms);

/* Marks the ring closed with a code (e.g. KM_ERR_END): readers get it once the
 * ring is empty, and blocked pushers give up. km__ring_open clears it. */
void km__ring_close(struct km__ring *r, int code);
void km__ring_open(struct km__ring *r);
/* Sets the code a reader gets instead of KM_ERR_TIMEOUT when its wait ends
 * with the ring empty (KM_ERR_NO_DEVICE while unplugged); KM_OK clears it. */
void km__ring_set_idle_code(struct km__ring *r, int code);
/* A flag (set e.g. from a signal handler) that makes a waiting pop return
 * KM_ERR_INTERRUPTED once the ring is empty; checked every few ms because a
 * signal handler cannot signal a condition variable. NULL: none. */
void km__ring_set_interrupt(struct km__ring *r, const atomic_bool *flag);
/* Wakes every waiter (used by request_stop via the engine, not signal-safe). */
void km__ring_wake(struct km__ring *r);

unsigned km__ring_count(struct km__ring *r);
uint64_t km__ring_drops(struct km__ring *r);
size_t km__ring_cells(const struct km__ring *r);

#endif
