/*
 * Crosstalk compensation for a passive resistive matrix scanned with the
 * selected row driven to the ADC reference, every other row driven to 0 V,
 * and each column tied to 0 V through its own pull-down resistor R_pd whose
 * voltage the ADC reads (hardware/BUILD.md, "Scan circuit").
 *
 * Grounding the idle rows removes ghost paths (r -> c' -> r' -> c), but the
 * cells of column c on the idle rows now sit in parallel with R_pd and pull
 * the reading of a loaded cell down ("shadowing"). With conductances in units
 * of 1/R_pd and v = count / full scale, reading row r of column c gives
 *
 *   v_r = g_r / (1 + S),  S = sum of g over the column's rows
 *
 * Summing over r: V = S / (1 + S), so 1 + S = 1 / (1 - V) and g_r = v_r / (1 - V).
 * The count the cell would give alone on its column, F * g / (1 + g), is then
 *
 *   count' = count * F / (F - others),  others = column sum - count
 *
 * exact for this model, one pass, integers only (bit-identical on the host
 * and any Cortex-M; the qemu test checks this). The denominator is kept at
 * >= F / KM_XTALK_MAX_GAIN so a miswired mat cannot blow every count up.
 * Not modelled: row driver and mux on-resistance, film hysteresis.
 *
 * Freestanding C11, no libc.
 */
#ifndef KM_XTALK_H
#define KM_XTALK_H

#include <stdint.h>

#include "km_fw.h"

#define KM_XTALK_MAX_GAIN 8u

struct km_xtalk {
	uint8_t adc_bits; /* 1..16, as the core's settings */
	uint8_t enabled;  /* 0: the hook leaves the counts alone */
};

/* The hook (km_fw_crosstalk_fn): user is a const struct km_xtalk *; counts
 * is [rows x cols] row-major, corrected in place. Thread-safe (no state). */
void km_xtalk_apply(void *user, uint16_t *counts, uint16_t rows, uint16_t cols);

#endif /* KM_XTALK_H */
