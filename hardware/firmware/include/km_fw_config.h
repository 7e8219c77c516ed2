/*
 * Firmware build configuration: every static buffer is sized here, once.
 * Override any value with -D at build time (the MCU port sets its own).
 * RAM use of struct km_fw is about 10 * KM_FW_MAX_CELLS + KM_FW_TX_BYTES bytes
 * (64 x 64: ~51 KiB), see km_fw.h.
 */
#ifndef KM_FW_CONFIG_H
#define KM_FW_CONFIG_H

#include "knotmap/protocol.h"

/* Largest grid the firmware can scan (the mat may use fewer rows/cols). */
#ifndef KM_FW_MAX_ROWS
#define KM_FW_MAX_ROWS 64
#endif
#ifndef KM_FW_MAX_COLS
#define KM_FW_MAX_COLS 64
#endif
#define KM_FW_MAX_CELLS ((size_t)KM_FW_MAX_ROWS * (size_t)KM_FW_MAX_COLS)

/* Columns converted by one board read_columns() call (ADC channels sampled
 * together, e.g. one analog mux bank). */
#ifndef KM_FW_ADC_GROUP
#define KM_FW_ADC_GROUP 16
#endif

/* Conversions averaged per cell: noise falls as 1/sqrt(n). */
#ifndef KM_FW_MAX_OVERSAMPLE
#define KM_FW_MAX_OVERSAMPLE 16
#endif

/* Frame rate ceiling. 100 Hz is the system default (docs: signal model:
 * tremor band 8-12 Hz needs > 25 Hz); 200 Hz leaves headroom for small grids. */
#ifndef KM_FW_MAX_RATE_HZ
#define KM_FW_MAX_RATE_HZ 200
#endif
#ifndef KM_FW_DEFAULT_RATE_HZ
#define KM_FW_DEFAULT_RATE_HZ 100
#endif

/* ZERO (tare) averages this many frames when the request says 0; at most
 * KM_FW_ZERO_MAX_FRAMES (65535 * 256 fits the uint32 accumulator). */
#define KM_FW_ZERO_DEFAULT_FRAMES 16
#define KM_FW_ZERO_MAX_FRAMES 256

/* Largest packet the firmware sends; smaller for MCUs with little RAM. */
#ifndef KM_FW_MAX_TRANSFER
#define KM_FW_MAX_TRANSFER KM_PROTO_MAX_TRANSFER
#endif

/* Room for one frame's packets, any encoding. */
#define KM_FW_TX_BYTES KM_PROTO_MAX_PACKET_BYTES(KM_FW_MAX_ROWS, KM_FW_MAX_COLS)

/* Reported in the info block: (major << 16) | (minor << 8) | patch. */
#define KM_FW_VERSION ((0u << 16) | (1u << 8) | 0u)

#if KM_FW_MAX_ROWS < 1 || KM_FW_MAX_ROWS > KM_FRAME_MAX_DIM || KM_FW_MAX_COLS < 1 ||               \
    KM_FW_MAX_COLS > KM_FRAME_MAX_DIM
#error "KM_FW_MAX_ROWS/COLS must be 1..KM_FRAME_MAX_DIM"
#endif
#if KM_FW_MAX_OVERSAMPLE < 1 || KM_FW_MAX_OVERSAMPLE > 256
#error "KM_FW_MAX_OVERSAMPLE must be 1..256 (the sum of 16-bit samples is 32-bit)"
#endif

#endif /* KM_FW_CONFIG_H */
