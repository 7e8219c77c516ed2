/* Crosstalk compensation (model in km_xtalk.h). */
#include "km_xtalk.h"

void km_xtalk_apply(void *user, uint16_t *counts, uint16_t rows, uint16_t cols)
{
	const struct km_xtalk *x = user;
	if (!x || !counts || !x->enabled || x->adc_bits < 1 || x->adc_bits > 16)
		return;
	uint32_t full = (1u << x->adc_bits) - 1u;
	uint32_t min_den = (full + KM_XTALK_MAX_GAIN - 1u) / KM_XTALK_MAX_GAIN;

	for (uint16_t c = 0; c < cols; c++) {
		uint32_t sum = 0; /* <= 1024 rows * 65535: fits */
		for (uint16_t r = 0; r < rows; r++)
			sum += counts[(uint32_t)r * cols + c];
		if (sum == 0)
			continue;
		for (uint16_t r = 0; r < rows; r++) {
			uint32_t idx = (uint32_t)r * cols + c;
			uint32_t v = counts[idx] > full ? full : counts[idx];
			if (v == 0 || v == full)
				continue; /* unloaded stays 0, saturated stays saturated */
			uint32_t others = sum - counts[idx];
			uint32_t den = others < full ? full - others : 0;
			if (den < min_den)
				den = min_den;
			/* v * full + den / 2 < 2^32 for adc_bits <= 16: 32-bit divide
			 * (UDIV on a Cortex-M3/M4, no library call). */
			uint32_t out = (v * full + den / 2u) / den;
			counts[idx] = (uint16_t)(out > full ? full : out);
		}
	}
}
