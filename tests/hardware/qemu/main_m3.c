/* Cortex-M3 build of the synthetic-board run (qemu mps2-an385): the same
 * text as synth_host, through semihosting. */
#include "semihost.h"
#include "synth.h"

static void write_semihost(void *user, const char *s, size_t n)
{
	(void)user;
	semihost_write(s, n);
}

int main(void)
{
	struct synth_out out = {write_semihost, NULL};
	return synth_run(&out);
}
