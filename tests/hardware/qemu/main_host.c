/* Host build of the synthetic-board run: the reference output for the qemu
 * comparison (see synth.h). Exit status 0 when every self-check passed. */
#include <stdio.h>

#include "synth.h"

static void write_stdout(void *user, const char *s, size_t n)
{
	(void)user;
	fwrite(s, 1, n, stdout);
}

int main(void)
{
	struct synth_out out = {write_stdout, NULL};
	int failures = synth_run(&out);
	return fflush(stdout) == 0 && failures == 0 ? 0 : 1;
}
