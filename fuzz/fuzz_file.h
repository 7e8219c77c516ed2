/*
 * For targets whose parser also has a path API: the input written to a
 * memfd, opened through /proc/self/fd/N. The including file defines
 * _GNU_SOURCE before its first #include (memfd_create).
 */
#ifndef KM_FUZZ_FILE_H
#define KM_FUZZ_FILE_H

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before the first #include to use fuzz_file.h"
#endif

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

/* Replaces the memfd's contents with data[0..len) and returns its path
 * (static storage). One memfd per process, created on first use. */
static inline const char *fuzz_file(const uint8_t *data, size_t len)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("km_fuzz", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len);
	return path;
}

#endif /* KM_FUZZ_FILE_H */
