/*
 * knotmap imports: pressure data from other mats and tools, read as knotmap
 * frames, and one "recording source" that opens either a .kmrec or an import.
 *
 * Formats (docs/formats.md gives each one's layout, units and geometry):
 *   npy      NumPy .npy, float32 / float64 / uint16 (and int16, int32, uint8),
 *            shape [frames, rows, cols] or [rows, cols], C order. Rate, pitch
 *            and units come from the config or a sidecar JSON (FILE.json or
 *            FILE.npy.json) with keys "rate_hz", "pitch_mm", "units" (and
 *            "mask", one '0'/'1' per cell).
 *   tekscan  Tekscan ASCII (movie or single frame): "KEY value" header lines
 *            (ROWS, COLS, ROW_SPACING, COL_SPACING, SECONDS_PER_FRAME, UNITS
 *            ...), then "Frame N" and rows of comma-separated values; 'B'
 *            cells are outside the sensor (info.mask).
 *   xsensor  XSENSOR CSV: the X3/X4 export (FRAME, Date/Time, one SENSOR
 *            block per sensor with its SENSELS, GROUP sub-blocks; lines padded
 *            with commas) and simpler "Key,Value" layouts with frames as blocks
 *            after a "Frame,N" row or one per row.
 *   csv      plain matrices, comma-, semicolon- (decimal commas), tab- or
 *            space-separated (numpy savetxt): one frame per row (shape from
 *            the config or from a header row naming cells rRcC, as knotmap's
 *            CSV export writes) or one frame per block of rows (blank-line
 *            separated).
 *
 * Every reader streams: it holds an input buffer (64 KiB) and one frame, and
 * never the whole file (Tekscan and XSENSOR: one line of it). Frames come
 * out in kPa (converted from the file's units; counts, and values whose units
 * nobody gives, are passed through with KM_FRAME_UNCALIBRATED), flat
 * geometry, sequence = frame index from 0, device_time_us from the file's
 * time stamps when it has them, else index / rate.
 *
 * Bad input never crashes: it gives a code and a message naming the file, the
 * line (text) or byte offset (binary) and the problem, through the log
 * callback, the config's detail buffer and km_import_damage().
 *
 * Thread safety: one reader must not be used from two threads at once;
 * distinct readers are independent.
 */
#ifndef KNOTMAP_IMPORT_H
#define KNOTMAP_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "knotmap/core.h"
#include "knotmap/recording.h"

#ifdef __cplusplus
extern "C" {
#endif

enum km_import_format {
	KM_IMPORT_AUTO = 0,  /* detect from the content (see docs/formats.md) */
	KM_IMPORT_KMREC = 1, /* only for km_source: a knotmap recording */
	KM_IMPORT_NPY = 2,
	KM_IMPORT_TEKSCAN = 3,
	KM_IMPORT_XSENSOR = 4,
	KM_IMPORT_CSV = 5,
};

/* "auto", "kmrec", "npy", "tekscan", "xsensor", "csv"; NULL when unknown. */
KM_API const char *km_import_format_name(enum km_import_format f);
/* Parses a name above (case-insensitive). KM_OK or KM_ERR_INVALID_ARG. */
KM_API int km_import_format_parse(const char *name, enum km_import_format *out);

/* Units of the values in a file, with their exact factors to kPa (CGPM and
 * NIST SP 811 definitions; standard gravity g = 9.80665 m/s^2). */
enum km_import_units {
	KM_UNITS_DEFAULT = 0, /* config: take the file's, then the sidecar's, else raw
	                       * counts (a file that does not say is never taken for kPa) */
	KM_UNITS_KPA = 1,
	KM_UNITS_MMHG = 2, /* conventional mm of mercury, 13.5951 g/cm^3 x g:
	                    * x 0.133322387415 kPa */
	KM_UNITS_NCM2 = 3, /* N/cm^2, x 10 kPa */
	KM_UNITS_PSI = 4,  /* lbf/in^2, x 6.894757293168 kPa */
	KM_UNITS_RAW = 5,  /* sensor counts, or units not known: passed through,
	                    * KM_FRAME_UNCALIBRATED */
	KM_UNITS_PA = 6,     /* Pa = N/m^2, x 0.001 kPa */
	KM_UNITS_KGFCM2 = 7, /* kgf/cm^2 ("kg/cm2", the technical atmosphere), x 98.0665 kPa */
	KM_UNITS_GFCM2 = 8,  /* gf/cm^2 ("g/cm2"), x 0.0980665 kPa */
	KM_UNITS_BAR = 9,    /* x 100 kPa */
	KM_UNITS_MBAR = 10,  /* mbar = hPa, x 0.1 kPa */
	KM_UNITS_MPA = 11,   /* MPa = N/mm^2, x 1000 kPa */
	KM_UNITS_CMH2O = 12, /* conventional cm of water, 1 g/cm^3 x g: x 0.0980665 kPa */
	/* a new unit goes here, and into km_import_create's range check */
};

/* Every unit km_import_units_parse() reads, for messages. */
#define KM_IMPORT_UNITS_LIST                                                                  \
	"kPa, Pa, N/m2, MPa, N/mm2, bar, mbar, hPa, N/cm2, kgf/cm2, kg/cm2, g/cm2, psi, mmHg, " \
	"cmH2O, counts"

/* "default", "kPa", "mmHg", "N/cm2", "psi", "counts", "Pa", "kgf/cm2",
 * "gf/cm2", "bar", "mbar", "MPa", "cmH2O"; "?" past the end. */
KM_API const char *km_import_units_name(enum km_import_units u);
/* Parses a unit as files and users write it, ignoring case, spaces, quotes
 * and brackets: kPa, Pa, N/m2, MPa, N/mm2, bar, mbar, hPa, N/cm2, kgf/cm2,
 * kg/cm2, gf/cm2, g/cm2, psi, mmHg, cmH2O, raw, counts, none (each "2" also
 * as "^2" or "²"; "kilopascal(s)", "pascal(s)" too). Case is ignored (Tekscan
 * writes "KPA") except where it names another unit: "mPa" (millipascal) and
 * "Mbar" (megabar) are refused, not read as MPa and mbar. KM_OK or
 * KM_ERR_UNSUPPORTED. */
KM_API int km_import_units_parse(const char *text, enum km_import_units *out);
/* kPa per unit (1 for kPa, raw and default). */
KM_API double km_import_units_to_kpa(enum km_import_units u);

/* Used when neither the config, the file nor a sidecar gives them. 100 Hz is
 * knotmap's mat rate; 10 mm is the dsp pipeline's default pitch. */
#define KM_IMPORT_DEFAULT_RATE_HZ 100.0f
#define KM_IMPORT_DEFAULT_PITCH_MM 10.0f

typedef struct km_import km_import;

struct km_import_config {
	struct km_log log;
	/* Input: a path (read through stdio), or an open FILE * positioned at
	 * offset 0 (not closed; must be seekable: the format is sniffed and
	 * some text layouts are measured, then re-read), or bytes in memory
	 * (not copied; must outlive the reader). Exactly one. */
	const char *path;
	FILE *file;
	const void *data;
	size_t size;
	const char *name;             /* used in messages for file/data input; default "<input>" */
	enum km_import_format format; /* AUTO (default) or one format; KMREC is refused */
	/* Overrides (0 / DEFAULT: take the file's, then the sidecar's, then the
	 * defaults above). rate_hz in (0, 100000]; pitch_mm in (0, 1000]. */
	float rate_hz;
	float pitch_mm;
	enum km_import_units units;
	/* Plain CSV without a header: the grid (both or neither), 1..KM_FRAME_MAX_DIM. */
	uint16_t rows, cols;
	bool sidecar; /* read PATH.json / PATH-minus-.npy.json when present (default true) */
	/* Bytes of header / metadata text (or the .npy header) accepted before
	 * the data, 256..16 MiB; default 1 MiB. */
	uint32_t max_header_bytes;
	/* Optional: receives the message of the last error (NUL-terminated,
	 * truncated to fit), from create and from km_import_next. */
	char *detail;
	size_t detail_size;
	/* Anisotropic overrides (0: take pitch_mm, then the file's...): the
	 * spacing between rows (along a column) and between columns. */
	float row_pitch_mm, col_pitch_mm;
	/* Files holding several sensors (XSENSOR: one SENSOR block each per
	 * frame): which one to read, by 1-based number or by name (exact, or a
	 * part of the name that fits one sensor only). NULL or "": the first. */
	const char *sensor;
	/* Skip what cannot be read (a bad frame, a bad line) instead of stopping:
	 * each skip is logged with its place, counted in the damage report
	 * (skipped_frames) and the first one's message kept. Frames that read
	 * come out as usual. */
	bool partial;
};

/* Defaults as documented above. */
KM_API struct km_import_config km_import_config_default(void);

/* Where the rate, pitch or units came from. */
enum km_import_origin {
	KM_IMPORT_FROM_DEFAULT = 0,
	KM_IMPORT_FROM_CONFIG = 1,
	KM_IMPORT_FROM_FILE = 2,
	KM_IMPORT_FROM_SIDECAR = 3,
};

struct km_import_info {
	enum km_import_format format;
	uint16_t rows, cols;
	float pitch_mm;
	float rate_hz;
	enum km_import_units units; /* of the file's values */
	float to_kpa;               /* factor applied (1 for raw) */
	enum km_import_origin rate_from, pitch_from, units_from;
	bool frame_count_known; /* npy: from its shape (the data may still be cut short) */
	uint64_t frame_count;
	char model[64];  /* sensor/model named by the file, or the format's name */
	char serial[64]; /* serial named by the file, or "" */
	/* Spacing between rows and between columns (mm); pitch_mm above is
	 * their geometric mean (the same cell area), what a one-pitch consumer
	 * such as the dsp uses. Equal for square cells. */
	float row_pitch_mm, col_pitch_mm;
	/* Cells on the sensor: mask[r * cols + c] is 1 for a real sensel, 0 for
	 * a cell outside the sensor outline (Tekscan 'B'; read as 0 kPa). NULL
	 * when every cell is real. mask_cells: how many are 1. Valid until
	 * destroy. */
	const uint8_t *mask;
	uint32_t mask_cells;
	/* Files with several sensors: how many, which one is read (0-based) and
	 * its name; km_import_sensor_name() lists the others. 1, 0, "" else. */
	uint16_t sensor_count, sensor_index;
	char sensor[64];
};

/* Where an input is bad. */
struct km_import_damage {
	bool damaged;
	int error;            /* KM_ERR_PARSE, KM_ERR_MALFORMED, KM_ERR_TRUNCATED, ... */
	uint64_t line;        /* 1-based text line; 0 for binary formats */
	uint64_t byte_offset; /* where the problem is */
	uint64_t frame_index; /* frames read before it (= frames usable) */
	char message[256];    /* "FILE:LINE:COLUMN: problem" or "FILE: byte N: problem" */
	uint64_t column;      /* 1-based byte column in the line; 0 when not known */
	/* partial reading (config.partial): frames skipped as unreadable, and
	 * the first skip's message ("" when none); damaged stays false. */
	uint64_t skipped_frames;
	char first_skip[256];
};

/*
 * Opens the input, detects or checks the format, reads the header and, for
 * text formats, as much of the first frame as fixes the grid; allocates the
 * input buffer and one row/frame buffer. Nothing is allocated after this.
 * Returns KM_OK; KM_ERR_INVALID_ARG (config: no or two inputs, bad
 * overrides, format KMREC); KM_ERR_NOT_FOUND / KM_ERR_PERMISSION / KM_ERR_IO;
 * KM_ERR_BAD_MAGIC (format not recognised, not the one asked for, or text
 * without a single number and no grid size);
 * KM_ERR_PARSE (syntax), KM_ERR_MALFORMED (header values that make no sense,
 * header too large), KM_ERR_SHAPE (no or too large grid, ragged first frame),
 * KM_ERR_UNSUPPORTED (dtype, Fortran order, unknown units), KM_ERR_BAD_VERSION
 * (an .npy format major version other than 1, 2 or 3), KM_ERR_TRUNCATED
 * (ends inside the header, or a header without frames); KM_ERR_NO_MEMORY.
 * Tekscan reads its first frame at open (its B cells are the mask), so that
 * frame's errors (KM_ERR_PARSE, KM_ERR_SHAPE, KM_ERR_NONFINITE,
 * KM_ERR_TRUNCATED) come from here. A config.sensor the file does not hold:
 * KM_ERR_INVALID_ARG. On error *out is NULL and the message went to the log
 * and detail.
 */
KM_API int km_import_create(const struct km_import_config *cfg, km_import **out);

/* Valid until destroy. */
KM_API const struct km_import_info *km_import_info(const km_import *r);
/* Name of sensor i (0-based) of a file with several; NULL past the end. */
KM_API const char *km_import_sensor_name(const km_import *r, unsigned i);
/* What tells sensor i apart from the others, a part of its name that chooses
 * it alone as config.sensor ("LF" of "HX210.11.31.M11-DFM-LF S0073" next to
 * "...-RF S0073"); its whole name when no shorter part does. NULL past the end. */
KM_API const char *km_import_sensor_label(const km_import *r, unsigned i);

/*
 * Reads the next frame into out, which must have the info's rows x cols
 * (KM_ERR_SHAPE otherwise; km_frame_create(info->rows, info->cols, ...)).
 * Sets every field of out. Never allocates.
 * Returns KM_OK; KM_ERR_END after the last frame; on bad data KM_ERR_PARSE
 * (non-numeric cell), KM_ERR_SHAPE (ragged row, wrong cell count),
 * KM_ERR_NONFINITE (NaN or infinite cell), KM_ERR_TRUNCATED (ends inside a
 * frame), KM_ERR_MALFORMED, KM_ERR_IO - and the same code on every later
 * call; km_import_damage() says where. Negative cells are set to 0 with
 * KM_FRAME_BAD_CELLS.
 */
KM_API int km_import_next(km_import *r, struct km_frame *out);

/* Damage found so far. */
KM_API void km_import_damage(const km_import *r, struct km_import_damage *out);

/* Back to the first frame; clears damage. KM_OK, KM_ERR_IO (input not seekable). */
KM_API int km_import_reset(km_import *r);

/* Closes the file (not a caller's FILE *) and frees. NULL ok. */
KM_API void km_import_destroy(km_import *r);

/* Detects the format from the first bytes of an input (up to 4 KiB is
 * enough). Returns the format, or KM_IMPORT_AUTO when none fits. Thread-safe. */
KM_API enum km_import_format km_import_detect(const void *head, size_t size);

/*
 * Converts an import into a .kmrec (kPa content; raw imports are stored as
 * kPa-content frames with KM_FRAME_UNCALIBRATED). wc: writer config with its
 * path set (its device is filled from the import's info). Reads from the
 * current position to the end; stops at damage, writes what came before and
 * returns the damage code (the .kmrec is closed cleanly either way).
 * *frames (may be NULL) receives the number written.
 */
KM_API int km_import_to_recording(km_import *r, const struct km_rec_writer_config *wc,
                                  uint64_t *frames);

/* ------------------------------------------------------------------------ */
/* Recording source: a .kmrec or an import, through one interface            */
/* ------------------------------------------------------------------------ */

typedef struct km_source km_source;

struct km_source_config {
	struct km_log log;
	const char *path; /* required */
	/* For imports (its path/file/data are ignored; log is replaced);
	 * import.format KMREC forces a .kmrec, AUTO detects (default). */
	struct km_import_config import;
	bool verify_all; /* .kmrec: check every chunk at open */
};

KM_API struct km_source_config km_source_config_default(void);

struct km_source_info {
	enum km_import_format format; /* KM_IMPORT_KMREC or the import's format */
	struct km_rec_device device;  /* imports: grid, pitch, rate, model, serial */
	uint32_t content;             /* enum km_rec_content; imports: KM_REC_KPA */
	bool frame_count_known;
	uint64_t frame_count;
	uint64_t first_time_us; /* known only when frame_count_known */
	uint64_t last_time_us;
	enum km_import_units units; /* imports: the file's units; kmrec: kPa */
	/* imports: as km_import_info (device.pitch_mm is their geometric mean);
	 * kmrec: both device.pitch_mm, mask NULL */
	float row_pitch_mm, col_pitch_mm;
	const uint8_t *mask;
};

/* Opens path as a .kmrec (when its magic says so, its name ends in .kmrec, or
 * format is KMREC) or else as an import. Returns what km_rec_reader_create /
 * km_import_create return (a foreign file named .kmrec: KM_ERR_BAD_MAGIC). */
KM_API int km_source_create(const struct km_source_config *cfg, km_source **out);
KM_API const struct km_source_info *km_source_info(const km_source *s);
/*
 * The next frame. item->frame (owned by the source, valid until the next
 * call) carries kPa; item->raw is the .kmrec's raw counts or NULL. Returns
 * what km_rec_reader_next_frame / km_import_next return (KM_ERR_END at the
 * end; damage codes, sticky).
 */
KM_API int km_source_next_frame(km_source *s, struct km_rec_item *item);
/* Damage so far, in the import's terms (.kmrec: line 0, message filled). */
KM_API void km_source_damage(const km_source *s, struct km_import_damage *out);
/* Back to the first frame. */
KM_API int km_source_reset(km_source *s);
/* The underlying reader: exactly one is non-NULL. */
KM_API km_rec_reader *km_source_rec_reader(km_source *s);
KM_API km_import *km_source_import(km_source *s);
/* NULL ok. */
KM_API void km_source_destroy(km_source *s);

#ifdef __cplusplus
}
#endif

#endif /* KNOTMAP_IMPORT_H */
