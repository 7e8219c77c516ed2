/*
 * Internal hooks of the .kmrec writer for the recording tests (a full disk,
 * a failing fdatasync). Byte order and CRC-32C come from core's bytes.h,
 * whole writes and parent directories from km_internal.h.
 */
#ifndef KNOTMAP_RECORDING_INTERNAL_H
#define KNOTMAP_RECORDING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/bytes.h"
#include "knotmap/recording.h"

/* Test hook: after `bytes` more bytes the writer's writes fail with ENOSPC,
 * as on a full disk. UINT64_MAX disables. */
void km__rec_writer_fail_after(km_rec_writer *w, uint64_t bytes);

/* Test hook: every fdatasync of the writer fails with err (KM_OK: real ones). */
void km__rec_writer_fail_sync(km_rec_writer *w, int err);

#endif
