/*
 * Opening an input file: regular files only, and an error that says what is
 * wrong. A FIFO would block a reader forever and /dev/zero never ends, so
 * neither is read unless the caller asked for a stream (e.g. "-" for stdin),
 * which does not come through here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "km_internal.h"

static const char *kind_of(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int km__open_input(const struct km_log *log, const char *module, const char *path, int *fd_out)
{
	if (fd_out)
		*fd_out = -1;
	if (!path || !path[0] || !fd_out)
		return KM_ERR_INVALID_ARG;
	/* O_NONBLOCK: opening a FIFO with no writer must not hang; cleared below. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		km__log(log, KM_LOG_ERROR, module, "cannot open %s: %s", path, strerror(e));
		return km__error_from_errno(e);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		km__log(log, KM_LOG_ERROR, module, "cannot read %s: %s", path, strerror(e));
		return km__error_from_errno(e);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		km__log(log, KM_LOG_ERROR, module, "%s is %s; knotmap reads regular files", path,
		        kind_of(st.st_mode));
		return KM_ERR_NOT_A_FILE;
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		int e = errno;
		close(fd);
		km__log(log, KM_LOG_ERROR, module, "cannot read %s: %s", path, strerror(e));
		return km__error_from_errno(e);
	}
	*fd_out = fd;
	return KM_OK;
}
