/* Exact float -> text for the CSV exports, without printf (see fmt_float.c). */
#ifndef KNOTMAP_FMT_FLOAT_H
#define KNOTMAP_FMT_FLOAT_H

#include <stddef.h>

/* Room km__fmt_float and km__fmt_float_g need, NUL included ("-1.17549435e-38" is 15). */
#define KM__FMT_FLOAT_MAX 24

/* The CSV cell text of v, byte for byte what the exporters always wrote:
 * "%.6g" of (double)v when strtof reads that back as v, else "%.9g" (which always
 * does); "nan" for any NaN or infinity. Writes a NUL; returns the length without it.
 * buf holds at least KM__FMT_FLOAT_MAX bytes. Thread safe (no locale, no state). */
size_t km__fmt_float(char *buf, float v);

/* snprintf(buf, KM__FMT_FLOAT_MAX, "%.*g", prec, (double)v) for prec 1..9 (exposed
 * for the tests, which check it against libc). Non-finite v goes to snprintf. */
size_t km__fmt_float_g(char *buf, float v, int prec);

#endif
