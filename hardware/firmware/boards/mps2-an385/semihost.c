/* Semihosting calls (see semihost.h). */
#include "semihost.h"

#include <stdint.h>

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR_UNKNOWN 0x20023u

static uintptr_t semihost_call(uintptr_t op, uintptr_t arg)
{
	register uintptr_t r0 __asm__("r0") = op;
	register uintptr_t r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static char buf[257];
static size_t used;

static void flush(void)
{
	if (used == 0)
		return;
	buf[used] = '\0';
	semihost_call(SYS_WRITE0, (uintptr_t)buf);
	used = 0;
}

void semihost_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* SYS_WRITE0 stops at NUL: never put one in the buffer. */
		if (s[i] != '\0')
			buf[used++] = s[i];
		if (s[i] == '\n' || used == sizeof buf - 1u)
			flush();
	}
}

void semihost_exit(int status)
{
	flush();
	/* AArch32 SYS_EXIT takes the reason itself in r1 (no parameter block). */
	semihost_call(SYS_EXIT, status == 0 ? ADP_STOPPED_APPLICATION_EXIT
	                                    : ADP_STOPPED_RUNTIME_ERROR_UNKNOWN);
	for (;;) {
	}
}
