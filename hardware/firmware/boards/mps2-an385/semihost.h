/*
 * ARM semihosting for the qemu test board (qemu-system-arm -M mps2-an385
 * -semihosting-config enable=on,target=native): text to the host's stdout
 * and the exit status. "bkpt 0xAB" with the operation in r0 and its argument
 * in r1 (ARM Semihosting spec, v2.0, "SYS_WRITE0", "SYS_EXIT").
 * Without a debugger or qemu attached, bkpt faults: test builds only.
 */
#ifndef KM_SEMIHOST_H
#define KM_SEMIHOST_H

#include <stddef.h>

/* Writes n bytes (buffered until a newline or 256 bytes). */
void semihost_write(const char *s, size_t n);
/* Flushes and ends the program: status 0 -> qemu exits 0, else 1. */
void semihost_exit(int status) __attribute__((noreturn));

#endif
