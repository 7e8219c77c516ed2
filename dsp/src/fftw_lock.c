/*
 * The FFTW planner lock and explicit wisdom load/save. FFTW's planner keeps
 * global state, so only fftwf_execute* may run concurrently; everything else
 * goes through km__fftw_lock().
 */
#include <errno.h>
#include <fftw3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fftw_lock.h"
#include "km_internal.h"
#include "knotmap/bandpass.h"

static pthread_mutex_t fftw_mutex = PTHREAD_MUTEX_INITIALIZER;

void km__fftw_lock(void)
{
	pthread_mutex_lock(&fftw_mutex);
}

void km__fftw_unlock(void)
{
	pthread_mutex_unlock(&fftw_mutex);
}

/* "$XDG_CACHE_HOME/knotmap" or "$HOME/.cache/knotmap" (XDG base directory
 * spec: a relative XDG_CACHE_HOME is ignored). */
static int cache_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	int n;
	if (xdg && xdg[0] == '/') {
		n = snprintf(buf, size, "%s/knotmap", xdg);
	} else {
		const char *home = getenv("HOME");
		if (!home || home[0] != '/')
			return KM_ERR_NOT_FOUND;
		n = snprintf(buf, size, "%s/.cache/knotmap", home);
	}
	if (n < 0 || (size_t)n >= size)
		return KM_ERR_OVERFLOW;
	return KM_OK;
}

int km_dsp_wisdom_path(char *buf, size_t size)
{
	if (!buf || size == 0)
		return KM_ERR_INVALID_ARG;
	int rc = cache_dir(buf, size);
	if (rc != KM_OK)
		return rc;
	size_t len = strlen(buf);
	int n = snprintf(buf + len, size - len, "/fftw-wisdom");
	if (n < 0 || (size_t)n >= size - len)
		return KM_ERR_OVERFLOW;
	return KM_OK;
}

int km_dsp_wisdom_load(const char *path)
{
	char def[4096];
	if (!path) {
		int rc = km_dsp_wisdom_path(def, sizeof def);
		if (rc != KM_OK)
			return rc;
		path = def;
	}
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? KM_ERR_NOT_FOUND : km__error_from_errno(errno);
	km__fftw_lock();
	int ok = fftwf_import_wisdom_from_file(f);
	km__fftw_unlock();
	fclose(f);
	return ok ? KM_OK : KM_ERR_PARSE;
}

/* mkdir -p for the one or two missing levels of the cache path, mode 0700. */
static int make_dirs(const char *file_path)
{
	char dir[4096];
	size_t len = strlen(file_path);
	if (len >= sizeof dir)
		return KM_ERR_OVERFLOW;
	memcpy(dir, file_path, len + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return KM_OK;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return km__error_from_errno(errno);
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return km__error_from_errno(errno);
	return KM_OK;
}

int km_dsp_wisdom_save(const char *path)
{
	char def[4096], tmp[4200];
	if (!path) {
		int rc = km_dsp_wisdom_path(def, sizeof def);
		if (rc != KM_OK)
			return rc;
		rc = make_dirs(def);
		if (rc != KM_OK)
			return rc;
		path = def;
	}
	/* Write a temporary file and rename it, so a crash never leaves a
	 * truncated wisdom file that a later load would reject. */
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return KM_ERR_OVERFLOW;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return km__error_from_errno(errno);
	km__fftw_lock();
	fftwf_export_wisdom_to_file(f);
	km__fftw_unlock();
	int bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		remove(tmp);
		return KM_ERR_IO;
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		return km__error_from_errno(e);
	}
	return KM_OK;
}
