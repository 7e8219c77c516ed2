/*
 * A synthetic-board run of the portable firmware core, written once and built
 * twice: for the host (synth_host) and for a Cortex-M3 under
 * qemu-system-arm -M mps2-an385 (synth_m3.elf, semihosting output). Both print
 * the same text (control replies and every bulk packet as hex); the test
 * compares the two outputs byte for byte.
 *
 * The board is fully deterministic: a moving pressure blob plus per-conversion
 * pseudo-random noise (LCG), a clock advanced only by the program (delay_us,
 * conversions, the superloop tick) and a bulk endpoint that reports BUSY on a
 * fixed pattern, so overruns and key frames happen at the same places.
 *
 * The program also checks itself: every packet must parse (CRC, header) and
 * every frame must decode to exactly the counts the core scanned. Freestanding
 * C11 (memcpy/memset only).
 */
#ifndef KM_SYNTH_H
#define KM_SYNTH_H

#include <stddef.h>

/* Where the text goes: host stdout or semihosting. */
struct synth_out {
	void (*write)(void *user, const char *s, size_t n);
	void *user;
};

/* Runs every scenario. Returns the number of failed self-checks (0 = pass).
 * The last line written is "RESULT PASS ..." or "RESULT FAIL ...". */
int synth_run(const struct synth_out *out);

#endif
