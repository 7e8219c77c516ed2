/* The only libc the firmware core may use, for the bare-metal compile test
 * (a freestanding target has no <string.h> of its own without a C library). */
#ifndef KM_FREESTANDING_STRING_H
#define KM_FREESTANDING_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif
