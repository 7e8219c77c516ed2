/* File helpers shared by the parts that write files (recordings, history,
 * exports): whole writes that survive EINTR and short writes, parent dirs. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "km_internal.h"

int km__write_all(int fd, const void *buf, size_t size)
{
	const uint8_t *p = buf;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return km__error_from_errno(errno);
		}
		if (n == 0)
			return KM_ERR_IO;
		p += n;
		size -= (size_t)n;
	}
	return KM_OK;
}

int km__make_parent_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof buf)
		return KM_ERR_RANGE;
	memcpy(buf, path, len + 1);
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return KM_OK;
	*slash = '\0';
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST)
				return km__error_from_errno(errno);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return KM_OK;
}
