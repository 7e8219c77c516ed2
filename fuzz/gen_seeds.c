/*
 * gen_seeds OUTDIR: writes the seed corpus of every fuzz target built here
 * into OUTDIR/<target>/ (run by the fuzz_corpora build target).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seeds.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "gen_seeds: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

void seed_put(struct seed_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			die("out of memory", "");
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void seed_u8(struct seed_buf *b, uint8_t v)
{
	seed_put(b, &v, 1);
}

void seed_u16(struct seed_buf *b, uint16_t v)
{
	uint8_t le[2] = {(uint8_t)(v & 0xFFu), (uint8_t)(v >> 8)};
	seed_put(b, le, 2);
}

void seed_free(struct seed_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* mkdir -p */
static void make_dir(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			die("cannot create", p);
		*s = '/';
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		die("cannot create", p);
}

void seed_write(const char *dir, const char *name, const void *data, size_t n)
{
	make_dir(dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot write", path);
	if ((n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
		die("cannot write", path);
}

void seed_write_buf(const char *dir, const char *name, const struct seed_buf *b)
{
	seed_write(dir, name, b->p, b->len);
}

const char *seed_dir(const char *dir, const char *sub)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	return path;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds OUTDIR\n");
		return 2;
	}
	make_dir(argv[1]);
	seeds_proto(argv[1]);
#ifdef KM_FUZZ_HAVE_SIM
	seeds_sim(argv[1]);
#endif
#ifdef KM_FUZZ_HAVE_CALIBRATION
	seeds_calibration(argv[1]);
#endif
#ifdef KM_FUZZ_HAVE_FW
	seeds_fw(argv[1]);
#endif
#ifdef KM_FUZZ_HAVE_KMREC
	seeds_kmrec(argv[1]);
#endif
#ifdef KM_FUZZ_HAVE_REPLAY
	seeds_replay(argv[1]);
#endif
#ifdef KM_FUZZ_HAVE_IMPORT
	seeds_import(argv[1]);
#endif
	return 0;
}
