/*
 * knotmap image: the one PNG writer, for the report (knotmap/export.h) and the
 * viewer's screenshots. An 8-bit RGB image goes to disk through
 * knotmap/outfile.h, so every rule of a whole-file output holds: a 0600
 * temporary file next to the target, moved into place only when complete;
 * an existing file only replaced with force; links, special files and the
 * command's own inputs refused.
 *
 * Thread safety: reentrant; distinct calls are independent.
 */
#ifndef KNOTMAP_IMAGE_H
#define KNOTMAP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "knotmap/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct km_image_config {
	const char *path; /* the target (any length up to PATH_MAX) */
	bool force;       /* replace an existing regular file */
	/* Paths the same command reads; writing onto one of them is refused. */
	const char *const *inputs;
	size_t n_inputs;
	const char *title; /* PNG "Title" text chunk; NULL = none */
	struct km_log log; /* messages name the file and the cause */
};

KM_API struct km_image_config km_image_config_default(void);

/*
 * Writes w x h pixels, rows top to bottom, 3 bytes R, G, B each (stride
 * w * 3), as an 8-bit RGB PNG with a "Software: knotmap" text chunk.
 * Returns KM_OK; KM_ERR_INVALID_ARG (no path or pixels, zero or oversize
 * dimensions, the target is an input); the errors of km_outfile_open
 * (KM_ERR_EXISTS, KM_ERR_PERMISSION for a link, KM_ERR_NOT_A_FILE, ...);
 * KM_ERR_NO_SPACE, KM_ERR_IO, KM_ERR_NO_MEMORY. On error nothing appears at
 * the path and an old file there is untouched.
 */
KM_API int km_image_write_png(const struct km_image_config *cfg, const uint8_t *rgb, uint32_t w,
                              uint32_t h);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_IMAGE_H */
