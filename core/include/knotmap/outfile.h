/*
 * knotmap outfile: the one way knotmap writes a whole file (exports,
 * screenshots, reports, simulator outputs, calibration, summaries).
 *
 * The bytes go to a temporary file created next to the target (same
 * directory, O_EXCL, O_NOFOLLOW, mode 0600 whatever the umask), are fsync'd,
 * then moved into place in one step:
 *   - without force, the target must not exist (checked at open and again,
 *     atomically, at commit: rename with RENAME_NOREPLACE, or link + unlink on
 *     file systems without it);
 *   - with force, an existing regular file is replaced by rename, which swaps
 *     the directory entry and never writes through the old file.
 * A symbolic link, directory, FIFO or device at the target is refused, with or
 * without force, so a planted link can never redirect a write. A target that is
 * the same file as one of the command's inputs is refused. If anything fails,
 * or the caller never commits, the temporary file is removed: the old target is
 * untouched and no partial file appears under the final name.
 *
 * `.kmrec` recordings do not use this: they are appended while they record and
 * have their own crash-safe design (docs/kmrec-format.md).
 *
 * Thread safety: one km_outfile per thread; distinct objects are independent.
 */
#ifndef KNOTMAP_OUTFILE_H
#define KNOTMAP_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct km_outfile km_outfile;

struct km_outfile_config {
	const char *path; /* the target; any length up to PATH_MAX */
	bool force;       /* replace an existing regular file */
	/* Paths the same command reads (may be NULL, n_inputs 0). Writing onto any
	 * of them (same device and inode, through any name) is refused. */
	const char *const *inputs;
	size_t n_inputs;
	struct km_log log; /* messages name the file and the cause */
};

KM_API struct km_outfile_config km_outfile_config_default(void);

/*
 * Checks the target and creates the temporary file. Returns KM_OK,
 * KM_ERR_INVALID_ARG (no path, or the target is an input), KM_ERR_NOT_A_FILE
 * (a directory or special file at the target, or a path ending in "/"),
 * KM_ERR_NAME_TOO_LONG, KM_ERR_EXISTS (target exists and force
 * is off), KM_ERR_PERMISSION (symbolic link at the target, or the directory is
 * not writable), KM_ERR_NOT_FOUND (directory missing), KM_ERR_NO_SPACE,
 * KM_ERR_NO_MEMORY or KM_ERR_IO. *out is NULL on error.
 */
KM_API int km_outfile_open(const struct km_outfile_config *cfg, km_outfile **out);

/* Appends len bytes. Errors are sticky: after the first failure every write and
 * the commit return it. Returns KM_OK, KM_ERR_NO_SPACE (disk full, quota, file
 * size limit) or KM_ERR_IO. */
KM_API int km_outfile_write(km_outfile *f, const void *data, size_t len);

/* Overwrites len bytes at offset of what was written so far (e.g. a header
 * whose count is known only at the end). Same errors as km_outfile_write. Not
 * with km_outfile_stream(). */
KM_API int km_outfile_pwrite(km_outfile *f, const void *data, size_t len, uint64_t offset);

/* A stdio stream on the temporary file for formatted output (owned by f; do not
 * fclose it). Write errors on it are caught at commit. NULL on allocation
 * failure. Do not mix with km_outfile_write() after the first use. */
KM_API FILE *km_outfile_stream(km_outfile *f);

/* Flushes, fsyncs and moves the file into place (see the top of this header),
 * then fsyncs the directory. Returns KM_OK or the first error; on error the
 * temporary file is removed and the old target left as it was. Call once. */
KM_API int km_outfile_commit(km_outfile *f);

/* The temporary file's descriptor, for writers that do their own I/O (owned by
 * f until km_outfile_publish). -1 when closed. */
KM_API int km_outfile_fd(const km_outfile *f);

/*
 * For files that grow after they appear (a .kmrec being recorded): fsyncs what
 * was written so far (e.g. a header), moves the file into place by the same
 * rules as km_outfile_commit, and hands the still-open descriptor to the
 * caller in *fd_out (the caller closes it; f only needs destroying). So the
 * final name never shows an empty or headerless file. Same return codes as
 * km_outfile_commit; on error nothing is moved and *fd_out is -1.
 */
KM_API int km_outfile_publish(km_outfile *f, int *fd_out);

/* Removes the temporary file unless committed, then frees f. NULL ok. */
KM_API void km_outfile_destroy(km_outfile *f);

/* The target path as given (valid while f lives). */
KM_API const char *km_outfile_path(const km_outfile *f);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_OUTFILE_H */
