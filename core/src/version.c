/* Version and monotonic time. */
#include <time.h>

#include "km_internal.h"
#include "km_version.h"

const char *km_version_string(void)
{
	return KM_VERSION_STRING;
}

uint32_t km_version_number(void)
{
	return ((uint32_t)KM_VERSION_MAJOR << 16) | ((uint32_t)KM_VERSION_MINOR << 8) |
	       (uint32_t)KM_VERSION_PATCH;
}

uint64_t km_time_monotonic_us(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
