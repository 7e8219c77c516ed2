/* Screenshots through the one PNG writer (knotmap/image.h, knotmap/outfile.h):
 * 0600 whatever the umask, never over an existing file without force, never
 * through a link, never over the replayed input; S-key names never clash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "viewer_test.h"

static void paint(struct vt *v, uint8_t r, uint8_t g, uint8_t b)
{
	SDL_SetRenderDrawColor(v->ren, r, g, b, 255);
	SDL_RenderClear(v->ren);
}

static void tmpdir(char *buf, size_t cap)
{
	snprintf(buf, cap, "/tmp/km_shot_XXXXXX");
	cr_assert_not_null(mkdtemp(buf));
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[1024];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			struct stat st;
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				rm_tree(p);
			else
				unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static bool has_text(const char *path, const char *text)
{
	char buf[256] = {0};
	FILE *fp = fopen(path, "r");
	if (!fp)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return !strcmp(buf, text);
}

static bool is_png(const char *path)
{
	unsigned char sig[8] = {0};
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	size_t n = fread(sig, 1, 8, fp);
	fclose(fp);
	return n == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

Test(screenshot, lands_0600_whatever_the_umask)
{
	struct vt v = vt_open(64, 48);
	paint(&v, 10, 200, 30);
	char dir[64], path[128];
	tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/a.png", dir);
	mode_t old = umask(0);
	struct km_image_config ic = km_image_config_default();
	ic.path = path;
	int rc = km_viewer_save_png(v.ren, &ic);
	umask(old);
	cr_assert_eq(rc, KM_OK);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", (unsigned)(st.st_mode & 0777));
	cr_assert(is_png(path));
	cr_assert_eq(km_viewer_save_png(NULL, &ic), KM_ERR_INVALID_ARG);
	ic.path = "/nonexistent-dir/x.png";
	cr_assert_eq(km_viewer_save_png(v.ren, &ic), KM_ERR_NOT_FOUND);
	rm_tree(dir);
	vt_close(&v);
}

Test(screenshot, refuses_existing_file_without_force)
{
	struct vt v = vt_open(64, 48);
	paint(&v, 0, 0, 255);
	char dir[64], path[128];
	tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/old.png", dir);
	write_text(path, "precious");
	struct km_image_config ic = km_image_config_default();
	ic.path = path;
	cr_assert_eq(km_viewer_save_png(v.ren, &ic), KM_ERR_EXISTS);
	cr_assert(has_text(path, "precious"), "the old file changed");
	cr_assert_eq(count_entries(dir), 1u, "a temporary file was left behind");
	ic.force = true;
	cr_assert_eq(km_viewer_save_png(v.ren, &ic), KM_OK);
	cr_assert(is_png(path));
	rm_tree(dir);
	vt_close(&v);
}

Test(screenshot, never_follows_a_link)
{
	struct vt v = vt_open(64, 48);
	paint(&v, 255, 0, 0);
	char dir[64], victim[128], link[128], dangling[128], gone[128];
	tmpdir(dir, sizeof dir);
	snprintf(victim, sizeof victim, "%s/victim.txt", dir);
	snprintf(link, sizeof link, "%s/shot.png", dir);
	snprintf(dangling, sizeof dangling, "%s/dangling.png", dir);
	snprintf(gone, sizeof gone, "%s/created-through-link.png", dir);
	write_text(victim, "someone else's");
	cr_assert_eq(symlink(victim, link), 0);
	cr_assert_eq(symlink(gone, dangling), 0);
	struct km_image_config ic = km_image_config_default();
	for (int force = 0; force < 2; force++) {
		ic.force = force;
		ic.path = link;
		cr_assert_eq(km_viewer_save_png(v.ren, &ic), KM_ERR_PERMISSION, "force %d", force);
		ic.path = dangling;
		cr_assert_eq(km_viewer_save_png(v.ren, &ic), KM_ERR_PERMISSION, "force %d", force);
	}
	cr_assert(has_text(victim, "someone else's"));
	struct stat st;
	cr_assert_eq(lstat(link, &st), 0);
	cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
	cr_assert_neq(lstat(gone, &st), 0, "a file was created through a dangling link");
	cr_assert_eq(count_entries(dir), 3u);
	rm_tree(dir);
	vt_close(&v);
}

/* `view --replay s.kmrec --screenshot s.kmrec` once replaced the recording
 * with a PNG (issue 19). The target is checked before any window opens, with
 * or without --force. */
Test(screenshot, refuses_the_replayed_input)
{
	char dir[64], rec[128], alias[128];
	tmpdir(dir, sizeof dir);
	snprintf(rec, sizeof rec, "%s/s.kmrec", dir);
	snprintf(alias, sizeof alias, "%s/./s.kmrec", dir);
	write_text(rec, "recording bytes");
	struct km_viewer_options o = km_viewer_options_default();
	o.source = KM_VIEW_SOURCE_REPLAY;
	o.replay_path = rec;
	o.sound = false;
	for (int force = 0; force < 2; force++) {
		o.screenshot_force = force;
		o.screenshot_path = rec;
		cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG, "force %d", force);
		o.screenshot_path = alias; /* the same file by another name */
		cr_assert_eq(km_viewer_run(&o), KM_ERR_INVALID_ARG, "force %d", force);
	}
	cr_assert(has_text(rec, "recording bytes"), "the recording changed");
	cr_assert_eq(count_entries(dir), 1u);
	/* an existing PNG without force: refused at once, before the display */
	char png[128];
	snprintf(png, sizeof png, "%s/old.png", dir);
	write_text(png, "old");
	o.screenshot_force = false;
	o.screenshot_path = png;
	cr_assert_eq(km_viewer_run(&o), KM_ERR_EXISTS);
	cr_assert(has_text(png, "old"));
	rm_tree(dir);
}

/* The S key: into the data folder (created 0700), date-time names that never
 * clash, 0600 files. */
Test(screenshot, s_key_names_never_clash)
{
	struct vt v = vt_open(32, 24);
	paint(&v, 1, 2, 3);
	char data[64], dir[160];
	tmpdir(data, sizeof data);
	setenv("XDG_DATA_HOME", data, 1);
	snprintf(dir, sizeof dir, "%s/knotmap/screenshots", data);
	char paths[5][4096];
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(
		    km_viewer_save_png_unique(v.ren, NULL, NULL, paths[i], sizeof paths[i]), KM_OK);
		cr_assert_eq(strncmp(paths[i], dir, strlen(dir)), 0, "%s not in %s", paths[i], dir);
		struct stat st;
		cr_assert_eq(stat(paths[i], &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0600);
		cr_assert(is_png(paths[i]));
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(paths[i], paths[j]);
	}
	/* five saves within a second or two: none replaced another */
	cr_assert_eq(count_entries(dir), 5u);
	struct stat st;
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	/* --screenshot-dir: a folder of the user's choice. Links planted at this
	 * second's and the next second's names are stepped over, not followed:
	 * the save takes a -N name. */
	char own[160], out[4096], victim[128];
	snprintf(own, sizeof own, "%s/mine/shots", data);
	snprintf(victim, sizeof victim, "%s/victim", data);
	write_text(victim, "x");
	cr_assert_eq(km_viewer_save_png_unique(v.ren, own, NULL, out, sizeof out), KM_OK);
	cr_assert_eq(strncmp(out, own, strlen(own)), 0);
	time_t now = time(NULL);
	char planted[2][4096];
	for (int k = 0; k < 2; k++) {
		time_t t = now + k;
		struct tm tm;
		localtime_r(&t, &tm);
		char stamp[32];
		strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
		snprintf(planted[k], sizeof planted[k], "%s/knotmap-%s.png", own, stamp);
		unlink(planted[k]);
		cr_assert_eq(symlink(victim, planted[k]), 0);
	}
	cr_assert_eq(km_viewer_save_png_unique(v.ren, own, NULL, out, sizeof out), KM_OK);
	cr_assert_str_neq(out, planted[0]);
	cr_assert_str_neq(out, planted[1]);
	cr_assert(strstr(out, ".png") && strrchr(out, '-') > strrchr(out, '/') + 20,
	          "expected a -N name, got %s", out);
	cr_assert(has_text(victim, "x"));
	cr_assert(is_png(out));
	rm_tree(data);
	unsetenv("XDG_DATA_HOME");
	vt_close(&v);
}
