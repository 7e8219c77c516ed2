/*
 * knotmap core: error codes, logging, the pressure frame, allocation hooks,
 * version and time. Every other module builds on this header.
 *
 * Thread safety: unless a function says otherwise, distinct objects may be used
 * from distinct threads; one object must not be used from two threads at once.
 * The library never prints and never aborts: it returns a km_error and reports
 * detail through the log callback given in each object's config.
 */
#ifndef KNOTMAP_CORE_H
#define KNOTMAP_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols marked KM_API are the public ABI of libknotmap.so; everything else
 * is built with hidden visibility. */
#if defined(__GNUC__)
#define KM_API __attribute__((visibility("default")))
#else
#define KM_API
#endif

#if defined(__GNUC__)
#define KM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define KM_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * One error enum for the whole library. Values are negative and stable: never
 * renumber, only append. X(name, value, message).
 */
#define KM_ERROR_TABLE(X)                                                                          \
	X(KM_OK, 0, "success")                                                                     \
	X(KM_ERR_INVALID_ARG, -1, "invalid argument")                                              \
	X(KM_ERR_NO_MEMORY, -2, "out of memory")                                                   \
	X(KM_ERR_SHAPE, -3, "grid shape is zero, too large, or does not match")                    \
	X(KM_ERR_RANGE, -4, "value out of the allowed range")                                      \
	X(KM_ERR_STATE, -5, "operation not allowed in the current state")                          \
	X(KM_ERR_NOT_FOUND, -6, "not found")                                                       \
	X(KM_ERR_BUSY, -7, "resource busy")                                                        \
	X(KM_ERR_TIMEOUT, -8, "operation timed out")                                               \
	X(KM_ERR_IO, -9, "input/output error")                                                     \
	X(KM_ERR_NO_SPACE, -10, "no space left on device")                                         \
	X(KM_ERR_PERMISSION, -11, "permission denied")                                             \
	X(KM_ERR_NO_DEVICE, -12, "device disconnected or not present")                             \
	X(KM_ERR_USB, -13, "USB transfer error")                                                   \
	X(KM_ERR_PIPE, -14, "USB endpoint stalled")                                                \
	X(KM_ERR_OVERFLOW, -15, "buffer too small for the data")                                   \
	X(KM_ERR_TRUNCATED, -16, "data ends before its declared length")                           \
	X(KM_ERR_BAD_MAGIC, -17, "not a knotmap packet or file (bad magic)")                       \
	X(KM_ERR_BAD_VERSION, -18, "unsupported protocol or format version")                       \
	X(KM_ERR_BAD_CRC, -19, "checksum mismatch: data corrupted")                                \
	X(KM_ERR_BAD_SEQUENCE, -20, "sequence number out of order")                                \
	X(KM_ERR_MALFORMED, -21, "malformed data")                                                 \
	X(KM_ERR_UNSUPPORTED, -22, "not supported")                                                \
	X(KM_ERR_PARSE, -23, "syntax error in input file")                                         \
	X(KM_ERR_CALIBRATION, -24, "invalid calibration")                                          \
	X(KM_ERR_FFT, -25, "FFT planning failed")                                                  \
	X(KM_ERR_DATABASE, -26, "history database error")                                          \
	X(KM_ERR_INTERRUPTED, -27, "interrupted")                                                  \
	X(KM_ERR_EXISTS, -28, "already exists")                                                    \
	X(KM_ERR_NONFINITE, -29, "value is NaN or infinite")                                       \
	X(KM_ERR_END, -30, "end of stream")                                                        \
	X(KM_ERR_NO_DISPLAY, -31, "no display available")                                          \
	X(KM_ERR_INTERNAL, -32, "internal error (please report)")                                  \
	X(KM_ERR_NOT_A_FILE, -33, "not a regular file (a directory, FIFO or device)")              \
	X(KM_ERR_NAME_TOO_LONG, -34, "file name or path too long")                                 \
	X(KM_ERR_LINK_LOOP, -35, "too many levels of symbolic links")

enum km_error {
#define KM__ERROR_ENUM(name, value, msg) name = value,
	KM_ERROR_TABLE(KM__ERROR_ENUM)
#undef KM__ERROR_ENUM
};

/* Lowest (most negative) defined code, for iterating the table. */
#define KM_ERROR_MIN (-35)

/* A fixed, human-readable message for a code; "unknown error" for values not
 * in the table. Never NULL. Thread-safe. */
KM_API const char *km_strerror(int code);
/* The symbolic name ("KM_ERR_BAD_CRC"); "KM_ERR_UNKNOWN" when not in the table. */
KM_API const char *km_error_name(int code);

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */
/* ------------------------------------------------------------------------ */

enum km_log_level {
	KM_LOG_ERROR = 0,
	KM_LOG_WARN = 1,
	KM_LOG_INFO = 2,
	KM_LOG_DEBUG = 3,
};

/* Called for each message at or below the configured level. `module` is a
 * short static string ("driver", "dsp", ...); `msg` has no trailing newline and
 * is valid only during the call. May be called from any library thread. */
typedef void (*km_log_fn)(void *user, enum km_log_level level, const char *module, const char *msg);

/* Embedded in every object's config. A zeroed struct (fn == NULL) is silent,
 * which is the library's default. */
struct km_log {
	km_log_fn fn;
	void *user;
	enum km_log_level max_level; /* messages above this level are dropped */
};

KM_API const char *km_log_level_name(enum km_log_level level);

/* ------------------------------------------------------------------------ */
/* Frame: one pressure map                                                   */
/* ------------------------------------------------------------------------ */

/* How the grid lies: on a flat mat, or wrapped around a roller (columns run
 * around the circumference and are periodic, rows run along the axis). */
enum km_geometry {
	KM_GEOMETRY_FLAT = 0,
	KM_GEOMETRY_CYLINDER = 1,
};

enum km_frame_flag {
	KM_FRAME_LOST_BEFORE = 1u << 0, /* frames were lost just before this one */
	KM_FRAME_CORRUPT = 1u << 1,     /* arrived damaged; values not trustworthy */
	KM_FRAME_SATURATED = 1u << 2,   /* at least one cell at the ADC ceiling */
	KM_FRAME_BAD_CELLS = 1u << 3,   /* NaN/inf/negative cells were replaced by 0 */
	KM_FRAME_UNCALIBRATED = 1u << 4 /* values are raw counts, not kPa */
};

/* Largest grid the library accepts on either axis. */
#define KM_FRAME_MAX_DIM 1024

/*
 * A pressure frame. Plain data: read the fields directly.
 * kpa: [rows x cols] row-major, kilopascals, >= 0 when valid; owned by the
 * frame (allocated by km_frame_create). Row r, column c is kpa[r * cols + c];
 * rows advance by pitch_mm, columns by pitch_mm. A grid of oblong cells
 * (another mat's file: knotmap/import.h) carries the geometric mean of its
 * row and column pitch here (the same cell area); the two pitches travel
 * with the source and reach the dsp through its config
 * (knotmap/pipeline.h row_pitch_mm, col_pitch_mm).
 */
struct km_frame {
	uint16_t rows;
	uint16_t cols;
	float pitch_mm; /* centre-to-centre cell spacing, both axes (oblong: see above) */
	enum km_geometry geometry;
	uint32_t flags;              /* enum km_frame_flag bits */
	uint32_t sequence;           /* device sequence number (wraps at 2^32) */
	uint32_t dropped_since_last; /* frames lost between the previous one and this */
	uint64_t device_time_us;     /* device clock, microseconds */
	uint64_t host_time_us;       /* km_time_monotonic_us() when it arrived */
	float *kpa;
};

/* Allocates a zeroed frame. rows, cols in 1..KM_FRAME_MAX_DIM; pitch_mm finite
 * and > 0. Returns KM_OK, KM_ERR_INVALID_ARG, KM_ERR_SHAPE or KM_ERR_NO_MEMORY.
 * On error *out is set to NULL. */
KM_API int km_frame_create(uint16_t rows, uint16_t cols, float pitch_mm, enum km_geometry geometry,
                           struct km_frame **out);
/* Copies every field and the cells of src into dst, which must have the same
 * rows and cols (KM_ERR_SHAPE otherwise). Does not allocate. */
KM_API int km_frame_copy(struct km_frame *dst, const struct km_frame *src);
/* Allocates a new frame equal to src. */
KM_API int km_frame_clone(const struct km_frame *src, struct km_frame **out);
/* Frees a frame; NULL is a no-op. */
KM_API void km_frame_destroy(struct km_frame *frame);
/* Checks the header (shape, pitch, geometry) and the cells. Returns KM_OK,
 * KM_ERR_SHAPE, KM_ERR_INVALID_ARG, or KM_ERR_NONFINITE when any cell is NaN,
 * infinite or negative; *bad_cells (may be NULL) receives how many. */
KM_API int km_frame_check(const struct km_frame *frame, size_t *bad_cells);
/* Replaces NaN, infinite and negative cells with 0 and sets
 * KM_FRAME_BAD_CELLS when any were found. Returns how many were replaced. */
KM_API size_t km_frame_sanitize(struct km_frame *frame);
/* Number of cells, rows * cols. */
static inline size_t km_frame_cells(const struct km_frame *f)
{
	return (size_t)f->rows * (size_t)f->cols;
}

/* ------------------------------------------------------------------------ */
/* Allocation hooks                                                          */
/* ------------------------------------------------------------------------ */

/* Every allocation the library makes itself goes through these (FFTW's own
 * buffers excepted). Set before creating any object; not thread-safe with
 * respect to concurrent allocation. NULL restores malloc/realloc/free. */
struct km_allocator {
	void *(*alloc)(void *user, size_t size);
	void *(*realloc)(void *user, void *ptr, size_t size);
	void (*free)(void *user, void *ptr);
	void *user;
};
KM_API void km_set_allocator(const struct km_allocator *allocator);

/* ------------------------------------------------------------------------ */
/* Version and time                                                          */
/* ------------------------------------------------------------------------ */

/* "0.1.0" etc.; never NULL. */
KM_API const char *km_version_string(void);
/* (major << 16) | (minor << 8) | patch. */
KM_API uint32_t km_version_number(void);
/* CLOCK_MONOTONIC in microseconds; never goes backwards. */
KM_API uint64_t km_time_monotonic_us(void);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_CORE_H */
