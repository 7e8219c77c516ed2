/*
 * Triple buffer between the processing thread (writer) and the main thread
 * (reader): three slots; the writer owns one, the reader owns one, the third
 * holds the newest published snapshot. Publishing and reading only swap slot
 * indices under one mutex, so neither side ever waits for the other's copy or
 * texture upload (libfreenect glview.c's depth_mid / depth_front swap).
 */
#include <pthread.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/tribuf.h"

struct km_tribuf {
	pthread_mutex_t lock;
	struct km_view_snapshot slot[3];
	int write_i, ready_i, read_i; /* a permutation of 0, 1, 2 */
	bool fresh;                   /* ready_i holds a publish the reader has not taken */
	bool any;                     /* the reader's slot holds a publish */
	uint64_t serial, published, taken;
};

int km_tribuf_create(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry,
                     km_tribuf **out)
{
	if (!out)
		return KM_ERR_INVALID_ARG;
	*out = NULL;
	km_tribuf *tb = km__calloc(1, sizeof *tb);
	if (!tb)
		return KM_ERR_NO_MEMORY;
	for (int i = 0; i < 3; i++) {
		int err = km_view_snapshot_init(&tb->slot[i], rows, cols, pitch_mm, geometry);
		if (err != KM_OK) {
			for (int j = 0; j < i; j++)
				km_view_snapshot_free(&tb->slot[j]);
			km__free(tb);
			return err;
		}
	}
	if (pthread_mutex_init(&tb->lock, NULL) != 0) {
		for (int i = 0; i < 3; i++)
			km_view_snapshot_free(&tb->slot[i]);
		km__free(tb);
		return KM_ERR_NO_MEMORY;
	}
	tb->write_i = 0;
	tb->ready_i = 1;
	tb->read_i = 2;
	*out = tb;
	return KM_OK;
}

void km_tribuf_destroy(km_tribuf *tb)
{
	if (!tb)
		return;
	pthread_mutex_destroy(&tb->lock);
	for (int i = 0; i < 3; i++)
		km_view_snapshot_free(&tb->slot[i]);
	km__free(tb);
}

void km_tribuf_reset(km_tribuf *tb)
{
	if (!tb)
		return;
	pthread_mutex_lock(&tb->lock);
	tb->fresh = false;
	pthread_mutex_unlock(&tb->lock);
}

struct km_view_snapshot *km_tribuf_write_slot(km_tribuf *tb)
{
	if (!tb)
		return NULL;
	/* write_i only changes in publish, on this same thread; the lock makes the
	 * read well-defined for the sanitizers. */
	pthread_mutex_lock(&tb->lock);
	struct km_view_snapshot *s = &tb->slot[tb->write_i];
	pthread_mutex_unlock(&tb->lock);
	return s;
}

void km_tribuf_publish(km_tribuf *tb)
{
	if (!tb)
		return;
	pthread_mutex_lock(&tb->lock);
	tb->slot[tb->write_i].serial = ++tb->serial;
	int t = tb->ready_i;
	tb->ready_i = tb->write_i;
	tb->write_i = t;
	tb->fresh = true;
	tb->published++;
	pthread_mutex_unlock(&tb->lock);
}

const struct km_view_snapshot *km_tribuf_read(km_tribuf *tb, bool *fresh)
{
	if (fresh)
		*fresh = false;
	if (!tb)
		return NULL;
	pthread_mutex_lock(&tb->lock);
	if (tb->fresh) {
		int t = tb->read_i;
		tb->read_i = tb->ready_i;
		tb->ready_i = t;
		tb->fresh = false;
		tb->any = true;
		tb->taken++;
		if (fresh)
			*fresh = true;
	}
	const struct km_view_snapshot *s = tb->any ? &tb->slot[tb->read_i] : NULL;
	pthread_mutex_unlock(&tb->lock);
	return s;
}

void km_tribuf_counts(km_tribuf *tb, uint64_t *published, uint64_t *taken)
{
	if (!tb)
		return;
	pthread_mutex_lock(&tb->lock);
	if (published)
		*published = tb->published;
	if (taken)
		*taken = tb->taken;
	pthread_mutex_unlock(&tb->lock);
}
