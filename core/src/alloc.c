/* Allocation hooks (like curl_global_init_mem) and an allocation counter
 * used by tests that assert zero allocations per frame. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"

static struct km_allocator current;
static atomic_uint_fast64_t alloc_calls;

void km_set_allocator(const struct km_allocator *allocator)
{
	if (allocator && allocator->alloc && allocator->realloc && allocator->free)
		current = *allocator;
	else
		memset(&current, 0, sizeof current);
}

uint64_t km__alloc_count(void)
{
	return (uint64_t)atomic_load(&alloc_calls);
}

void *km__malloc(size_t size)
{
	atomic_fetch_add(&alloc_calls, 1);
	if (size == 0)
		size = 1;
	return current.alloc ? current.alloc(current.user, size) : malloc(size);
}

void *km__calloc(size_t count, size_t size)
{
	size_t total;
	if (!km__mul_size(count, size, &total))
		return NULL;
	void *p = km__malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *km__realloc(void *ptr, size_t size)
{
	atomic_fetch_add(&alloc_calls, 1);
	if (size == 0)
		size = 1;
	return current.realloc ? current.realloc(current.user, ptr, size) : realloc(ptr, size);
}

void km__free(void *ptr)
{
	if (!ptr)
		return;
	if (current.free)
		current.free(current.user, ptr);
	else
		free(ptr);
}
