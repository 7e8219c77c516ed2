/* Fixed-capacity frame ring, drop-oldest (see ring.h). */
#include "ring.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "km_internal.h"

/* How often a waiting reader looks at the interrupt flag: a signal handler
 * can only store an atomic, never signal the condition variable. */
#define KM_RING_POLL_MS 20

struct km__ring {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	unsigned capacity;
	unsigned head; /* oldest */
	unsigned count;
	size_t cells;
	struct km__frame_meta *meta;
	uint16_t *raw;
	uint32_t pending_lost; /* dropped frames to report on the next stored one */
	int close_code;        /* KM_OK = open */
	int idle_code;
	const atomic_bool *interrupt;
	atomic_uint_fast64_t drops;
};

int km__ring_create(unsigned capacity, size_t cells, struct km__ring **out)
{
	*out = NULL;
	if (capacity < 2 || capacity > 4096 || cells == 0 ||
	    cells > (size_t)KM_FRAME_MAX_DIM * KM_FRAME_MAX_DIM)
		return KM_ERR_RANGE;
	struct km__ring *r = km__calloc(1, sizeof *r);
	if (!r)
		return KM_ERR_NO_MEMORY;
	size_t total;
	if (!km__mul_size(capacity, cells, &total))
		total = SIZE_MAX;
	r->meta = km__calloc(capacity, sizeof *r->meta);
	r->raw = total == SIZE_MAX ? NULL : km__calloc(total, sizeof *r->raw);
	if (!r->meta || !r->raw) {
		km__free(r->meta);
		km__free(r->raw);
		km__free(r);
		return KM_ERR_NO_MEMORY;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->not_empty, &ca);
	pthread_cond_init(&r->not_full, &ca);
	pthread_condattr_destroy(&ca);
	r->capacity = capacity;
	r->cells = cells;
	atomic_init(&r->drops, 0);
	*out = r;
	return KM_OK;
}

void km__ring_destroy(struct km__ring *r)
{
	if (!r)
		return;
	pthread_cond_destroy(&r->not_empty);
	pthread_cond_destroy(&r->not_full);
	pthread_mutex_destroy(&r->lock);
	km__free(r->meta);
	km__free(r->raw);
	km__free(r);
}

void km__ring_reset(struct km__ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->head = 0;
	r->count = 0;
	r->pending_lost = 0;
	r->close_code = KM_OK;
	r->idle_code = KM_OK;
	atomic_store(&r->drops, 0);
	pthread_cond_broadcast(&r->not_full);
	pthread_mutex_unlock(&r->lock);
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void add_lost(uint32_t *dst, uint64_t n)
{
	uint64_t v = (uint64_t)*dst + n;
	*dst = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

bool km__ring_push(struct km__ring *r, const struct km__frame_meta *meta, const uint16_t *raw,
                   bool wait)
{
	pthread_mutex_lock(&r->lock);
	while (wait && r->count == r->capacity && r->close_code == KM_OK &&
	       !(r->interrupt && atomic_load(r->interrupt))) {
		struct timespec slice;
		deadline_after(&slice, KM_RING_POLL_MS);
		pthread_cond_timedwait(&r->not_full, &r->lock, &slice);
	}
	if (wait && r->count == r->capacity) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	if (r->count == r->capacity) {
		/* Drop the oldest; its own losses carry over to the next one. */
		add_lost(&r->pending_lost, 1u + (uint64_t)r->meta[r->head].dropped_before);
		r->head = (r->head + 1) % r->capacity;
		r->count--;
		atomic_fetch_add(&r->drops, 1);
		if (r->count > 0) {
			struct km__frame_meta *m = &r->meta[r->head];
			add_lost(&m->dropped_before, r->pending_lost);
			m->flags |= KM_FRAME_LOST_BEFORE;
			r->pending_lost = 0;
		}
	}
	unsigned slot = (r->head + r->count) % r->capacity;
	struct km__frame_meta *m = &r->meta[slot];
	*m = *meta;
	if (r->pending_lost) {
		add_lost(&m->dropped_before, r->pending_lost);
		r->pending_lost = 0;
	}
	if (m->dropped_before)
		m->flags |= KM_FRAME_LOST_BEFORE;
	memcpy(r->raw + (size_t)slot * r->cells, raw, r->cells * sizeof *raw);
	r->count++;
	pthread_cond_signal(&r->not_empty);
	pthread_mutex_unlock(&r->lock);
	return true;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int km__ring_pop(struct km__ring *r, struct km__frame_meta *meta, uint16_t *raw, int timeout_ms)
{
	struct timespec end;
	if (timeout_ms >= 0)
		deadline_after(&end, timeout_ms);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		if (r->count > 0)
			break;
		if (r->close_code != KM_OK || (r->interrupt && atomic_load(r->interrupt))) {
			int code = r->close_code != KM_OK ? r->close_code : KM_ERR_INTERRUPTED;
			pthread_mutex_unlock(&r->lock);
			return code;
		}
		if (timeout_ms == 0) {
			int code = r->idle_code != KM_OK ? r->idle_code : KM_ERR_TIMEOUT;
			pthread_mutex_unlock(&r->lock);
			return code;
		}
		struct timespec slice;
		deadline_after(&slice, KM_RING_POLL_MS);
		if (timeout_ms >= 0 && before(&end, &slice))
			slice = end;
		int rc = pthread_cond_timedwait(&r->not_empty, &r->lock, &slice);
		if (rc == ETIMEDOUT && timeout_ms >= 0 && !before(&slice, &end) && r->count == 0) {
			/* While unplugged, say so rather than just "nothing yet". */
			int code = r->idle_code != KM_OK ? r->idle_code : KM_ERR_TIMEOUT;
			pthread_mutex_unlock(&r->lock);
			return code;
		}
	}
	unsigned slot = r->head;
	if (meta)
		*meta = r->meta[slot];
	if (raw)
		memcpy(raw, r->raw + (size_t)slot * r->cells, r->cells * sizeof *raw);
	r->head = (r->head + 1) % r->capacity;
	r->count--;
	pthread_cond_signal(&r->not_full);
	pthread_mutex_unlock(&r->lock);
	return KM_OK;
}

void km__ring_close(struct km__ring *r, int code)
{
	pthread_mutex_lock(&r->lock);
	r->close_code = code == KM_OK ? KM_ERR_INTERRUPTED : code;
	pthread_cond_broadcast(&r->not_empty);
	pthread_cond_broadcast(&r->not_full);
	pthread_mutex_unlock(&r->lock);
}

void km__ring_open(struct km__ring *r)
{
	pthread_mutex_lock(&r->lock);
	r->close_code = KM_OK;
	pthread_mutex_unlock(&r->lock);
}

void km__ring_set_idle_code(struct km__ring *r, int code)
{
	pthread_mutex_lock(&r->lock);
	r->idle_code = code;
	pthread_cond_broadcast(&r->not_empty);
	pthread_mutex_unlock(&r->lock);
}

void km__ring_set_interrupt(struct km__ring *r, const atomic_bool *flag)
{
	pthread_mutex_lock(&r->lock);
	r->interrupt = flag;
	pthread_mutex_unlock(&r->lock);
}

void km__ring_wake(struct km__ring *r)
{
	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->not_empty);
	pthread_cond_broadcast(&r->not_full);
	pthread_mutex_unlock(&r->lock);
}

unsigned km__ring_count(struct km__ring *r)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t km__ring_drops(struct km__ring *r)
{
	return atomic_load(&r->drops);
}

size_t km__ring_cells(const struct km__ring *r)
{
	return r->cells;
}
