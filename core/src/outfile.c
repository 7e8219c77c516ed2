/*
 * outfile: whole-file writes that never clobber, never follow a link at the
 * target and never leave a partial file under the final name. The rules are in
 * core/include/knotmap/outfile.h; docs/reliability.md lists the cases tested.
 */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE, getrandom */
#include "knotmap/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "km_internal.h"

#define MOD "outfile"

struct km_outfile {
	struct km_log log;
	bool force;
	bool committed;
	int err;   /* first error, sticky */
	int dirfd; /* the target's directory */
	int fd;    /* the temporary file; -1 once closed */
	FILE *stream;
	char *path; /* as given */
	char *base; /* final component, inside path's copy */
	char tmp[NAME_MAX + 1];
	bool tmp_exists;
};

struct km_outfile_config km_outfile_config_default(void)
{
	struct km_outfile_config c;
	memset(&c, 0, sizeof(c));
	return c;
}

/* Logs "what: path: cause" and returns the km_error for errno value e. */
static int fail_errno(const struct km_log *log, const char *what, const char *path, int e)
{
	km__log(log, KM_LOG_ERROR, MOD, "%s %s: %s", what, path, strerror(e));
	int rc = km__error_from_errno(e);
	return rc == KM_ERR_INVALID_ARG || rc == KM_ERR_INTERNAL ? KM_ERR_IO : rc;
}

/* n random hex digits (n even, <= 32) and a NUL: getrandom, else clock and pid. */
static void random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t bytes = KM_MIN(n / 2, sizeof(raw));
	if (getrandom(raw, bytes, GRND_NONBLOCK) != (ssize_t)bytes) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x =
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
		for (size_t i = 0; i < bytes; i++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			raw[i] = (unsigned char)(x >> 56);
		}
	}
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * bytes] = '\0';
}

/* Is the existing target one of the command's inputs (same device + inode)? */
static bool is_an_input(const struct km_outfile_config *cfg, const struct stat *target)
{
	for (size_t i = 0; i < cfg->n_inputs; i++) {
		struct stat in;
		if (cfg->inputs[i] && stat(cfg->inputs[i], &in) == 0 &&
		    in.st_dev == target->st_dev && in.st_ino == target->st_ino)
			return true;
	}
	return false;
}

static int check_target(km_outfile *f, const struct km_outfile_config *cfg)
{
	struct stat st;
	if (fstatat(f->dirfd, f->base, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return KM_OK;
		return fail_errno(&f->log, "cannot check", f->path, errno);
	}
	if (S_ISLNK(st.st_mode)) {
		km__log(&f->log, KM_LOG_ERROR, MOD,
		        "%s is a symbolic link; knotmap does not write through links "
		        "(remove it or choose another name)",
		        f->path);
		return KM_ERR_PERMISSION;
	}
	if (!S_ISREG(st.st_mode)) {
		km__log(&f->log, KM_LOG_ERROR, MOD, "%s exists and is not a regular file (%s)",
		        f->path, S_ISDIR(st.st_mode) ? "a directory" : "a special file");
		return KM_ERR_NOT_A_FILE;
	}
	if (is_an_input(cfg, &st)) {
		km__log(&f->log, KM_LOG_ERROR, MOD,
		        "%s is also an input of this command; refusing to overwrite it", f->path);
		return KM_ERR_INVALID_ARG;
	}
	if (!cfg->force) {
		km__log(&f->log, KM_LOG_ERROR, MOD, "%s already exists (use --force to replace it)",
		        f->path);
		return KM_ERR_EXISTS;
	}
	return KM_OK;
}

static int create_tmp(km_outfile *f)
{
	size_t blen = strlen(f->base);
	for (int attempt = 0; attempt < 64; attempt++) {
		char rnd[13];
		random_hex(rnd, 12);
		/* ".name.<hex>.tmp" when it fits in NAME_MAX, else ".knotmap.<hex>.tmp" */
		if (blen + 19 <= NAME_MAX)
			snprintf(f->tmp, sizeof(f->tmp), ".%s.%s.tmp", f->base, rnd);
		else
			snprintf(f->tmp, sizeof(f->tmp), ".knotmap.%s.tmp", rnd);
		f->fd = openat(f->dirfd, f->tmp,
		               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f->fd >= 0) {
			f->tmp_exists = true;
			/* 0600 whatever the umask: the file may hold health data. */
			if (fchmod(f->fd, 0600) != 0)
				return fail_errno(&f->log, "cannot set the mode of a file for",
				                  f->path, errno);
			return KM_OK;
		}
		if (errno != EEXIST)
			return fail_errno(&f->log, "cannot create a file next to", f->path, errno);
	}
	km__log(&f->log, KM_LOG_ERROR, MOD, "cannot find a free temporary name next to %s",
	        f->path);
	return KM_ERR_IO;
}

int km_outfile_open(const struct km_outfile_config *cfg, km_outfile **out)
{
	if (out)
		*out = NULL;
	if (!cfg || !out || !cfg->path || !cfg->path[0])
		return KM_ERR_INVALID_ARG;
	size_t plen = strlen(cfg->path);
	if (plen >= PATH_MAX) {
		km__log(&cfg->log, KM_LOG_ERROR, MOD, "output path is %zu bytes (limit %d)", plen,
		        PATH_MAX - 1);
		return KM_ERR_NAME_TOO_LONG;
	}
	km_outfile *f = km__calloc(1, sizeof(*f));
	char *copy = km__malloc(plen + 1);
	char *dir = km__malloc(plen + 2);
	if (!f || !copy || !dir) {
		km__free(f);
		km__free(copy);
		km__free(dir);
		return KM_ERR_NO_MEMORY;
	}
	memcpy(copy, cfg->path, plen + 1);
	f->log = cfg->log;
	f->force = cfg->force;
	f->path = copy;
	f->fd = -1;
	f->dirfd = -1;

	char *slash = strrchr(copy, '/');
	f->base = slash ? slash + 1 : copy;
	if (slash == copy)
		memcpy(dir, "/", 2);
	else if (slash) {
		memcpy(dir, copy, (size_t)(slash - copy));
		dir[slash - copy] = '\0';
	} else
		memcpy(dir, ".", 2);

	int rc = KM_OK;
	size_t blen = strlen(f->base);
	if (blen == 0 || strcmp(f->base, ".") == 0 || strcmp(f->base, "..") == 0) {
		km__log(&f->log, KM_LOG_ERROR, MOD, "%s names a directory, not a file", f->path);
		rc = KM_ERR_NOT_A_FILE;
	} else if (blen > NAME_MAX) {
		km__log(&f->log, KM_LOG_ERROR, MOD, "%s: file name is %zu bytes (limit %d)",
		        f->path, blen, NAME_MAX);
		rc = KM_ERR_NAME_TOO_LONG;
	}
	if (rc == KM_OK) {
		f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (f->dirfd < 0)
			rc = fail_errno(&f->log, "cannot open the directory of", f->path, errno);
	}
	km__free(dir);
	if (rc == KM_OK)
		rc = check_target(f, cfg);
	if (rc == KM_OK)
		rc = create_tmp(f);
	if (rc != KM_OK) {
		km_outfile_destroy(f);
		return rc;
	}
	*out = f;
	return KM_OK;
}

/* Writes all of data at the file position (offset < 0) or at offset; the
 * first failure sticks. */
static int write_all(km_outfile *f, const unsigned char *p, size_t len, int64_t offset)
{
	if (f->err)
		return f->err;
	if (f->committed || f->fd < 0)
		return KM_ERR_STATE;
	while (len > 0) {
		ssize_t n =
		    offset < 0 ? write(f->fd, p, len) : pwrite(f->fd, p, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->err = fail_errno(&f->log, "cannot write", f->path, n < 0 ? errno : EIO);
			return f->err;
		}
		p += n;
		len -= (size_t)n;
		if (offset >= 0)
			offset += n;
	}
	return KM_OK;
}

int km_outfile_write(km_outfile *f, const void *data, size_t len)
{
	if (!f || (!data && len))
		return KM_ERR_INVALID_ARG;
	return write_all(f, data, len, -1);
}

int km_outfile_pwrite(km_outfile *f, const void *data, size_t len, uint64_t offset)
{
	if (!f || (!data && len) || f->stream || offset > (uint64_t)INT64_MAX - len)
		return KM_ERR_INVALID_ARG;
	return write_all(f, data, len, (int64_t)offset);
}

FILE *km_outfile_stream(km_outfile *f)
{
	if (!f || f->committed || f->fd < 0)
		return NULL;
	if (!f->stream)
		f->stream = fdopen(f->fd, "wb");
	return f->stream;
}

/* Moves the temporary file onto the target: atomically refusing an existing
 * target without force, replacing it (the directory entry, never the old
 * file's contents) with force. */
static int place(km_outfile *f)
{
	if (f->force) {
		if (renameat(f->dirfd, f->tmp, f->dirfd, f->base) != 0)
			return fail_errno(&f->log, "cannot move the new file onto", f->path, errno);
		return KM_OK;
	}
	if (renameat2(f->dirfd, f->tmp, f->dirfd, f->base, RENAME_NOREPLACE) == 0)
		return KM_OK;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return errno == EEXIST ? (km__log(&f->log, KM_LOG_ERROR, MOD,
		                                  "%s appeared while it was written; "
		                                  "left as it is",
		                                  f->path),
		                          KM_ERR_EXISTS)
		                       : fail_errno(&f->log, "cannot create", f->path, errno);
	/* No RENAME_NOREPLACE here: a hard link also fails when the name exists. */
	if (linkat(f->dirfd, f->tmp, f->dirfd, f->base, 0) != 0)
		return errno == EEXIST ? KM_ERR_EXISTS
		                       : fail_errno(&f->log, "cannot create", f->path, errno);
	unlinkat(f->dirfd, f->tmp, 0);
	return KM_OK;
}

int km_outfile_commit(km_outfile *f)
{
	if (!f)
		return KM_ERR_INVALID_ARG;
	if (f->committed || f->fd < 0)
		return KM_ERR_STATE;
	int rc = f->err;
	if (f->stream) {
		if (rc == KM_OK && (fflush(f->stream) != 0 || ferror(f->stream)))
			rc = fail_errno(&f->log, "cannot write", f->path, errno ? errno : EIO);
		if (rc == KM_OK && fsync(fileno(f->stream)) != 0)
			rc = fail_errno(&f->log, "cannot flush", f->path, errno);
		if (fclose(f->stream) != 0 && rc == KM_OK)
			rc = fail_errno(&f->log, "cannot close", f->path, errno);
		f->stream = NULL;
	} else {
		if (rc == KM_OK && fsync(f->fd) != 0)
			rc = fail_errno(&f->log, "cannot flush", f->path, errno);
		if (close(f->fd) != 0 && rc == KM_OK)
			rc = fail_errno(&f->log, "cannot close", f->path, errno);
	}
	f->fd = -1;
	if (rc == KM_OK)
		rc = place(f);
	if (rc != KM_OK) {
		f->err = rc;
		return rc; /* destroy removes the temporary file */
	}
	f->tmp_exists = false;
	f->committed = true;
	/* The new name must survive a power cut as well as the data. */
	if (fsync(f->dirfd) != 0 && errno != EINVAL)
		km__log(&f->log, KM_LOG_WARN, MOD, "cannot flush the directory of %s: %s", f->path,
		        strerror(errno));
	return KM_OK;
}

int km_outfile_fd(const km_outfile *f)
{
	return f && !f->stream ? f->fd : -1;
}

int km_outfile_publish(km_outfile *f, int *fd_out)
{
	if (fd_out)
		*fd_out = -1;
	if (!f || !fd_out || f->stream)
		return KM_ERR_INVALID_ARG;
	if (f->committed || f->fd < 0)
		return KM_ERR_STATE;
	int rc = f->err;
	if (rc == KM_OK && fsync(f->fd) != 0)
		rc = fail_errno(&f->log, "cannot flush", f->path, errno);
	if (rc == KM_OK)
		rc = place(f);
	if (rc != KM_OK) {
		f->err = rc;
		return rc;
	}
	f->tmp_exists = false;
	f->committed = true;
	if (fsync(f->dirfd) != 0 && errno != EINVAL)
		km__log(&f->log, KM_LOG_WARN, MOD, "cannot flush the directory of %s: %s", f->path,
		        strerror(errno));
	*fd_out = f->fd; /* the caller owns it now */
	f->fd = -1;
	return KM_OK;
}

void km_outfile_destroy(km_outfile *f)
{
	if (!f)
		return;
	if (f->stream)
		fclose(f->stream);
	else if (f->fd >= 0)
		close(f->fd);
	if (f->tmp_exists && f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmp, 0);
	if (f->dirfd >= 0)
		close(f->dirfd);
	km__free(f->path);
	km__free(f);
}

const char *km_outfile_path(const km_outfile *f)
{
	return f ? f->path : NULL;
}
