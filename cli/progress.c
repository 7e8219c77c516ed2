/* The terminal progress bar (progress.h). */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR 24

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_eta(char *buf, size_t cap, double s)
{
	unsigned long t = s > 0 ? (unsigned long)(s + 0.5) : 0;
	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

size_t km_progress_format(char *buf, size_t cap, const char *what, const char *unit,
                          uint64_t done, uint64_t total, double elapsed_s)
{
	if (!buf || cap == 0)
		return 0;
	size_t len = 0;
#define PUT(...)                                                                                   \
	do {                                                                                       \
		int n_ = snprintf(buf + len, cap - len, __VA_ARGS__);                              \
		if (n_ > 0)                                                                        \
			len = len + (size_t)n_ < cap ? len + (size_t)n_ : cap - 1;                 \
	} while (0)
	buf[0] = '\0';
	PUT("%s", what ? what : "");
	if (total > 0) {
		uint64_t d = done > total ? total : done;
		unsigned pct = (unsigned)(d * 100 / total);
		unsigned fill = (unsigned)(d * BAR / total);
		char bar[BAR + 1];
		for (unsigned i = 0; i < BAR; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR] = '\0';
		PUT(" [%s] %3u%%", bar, pct);
	} else {
		PUT(" %llu %s", (unsigned long long)done, unit ? unit : "");
	}
	double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0.0;
	if (elapsed_s > 0 && done > 0) {
		if (rate >= 10)
			PUT("  %.0f %s/s", rate, unit ? unit : "");
		else
			PUT("  %.1f %s/s", rate, unit ? unit : "");
	}
	if (total > 0 && done < total && rate > 0) {
		char eta[32];
		fmt_eta(eta, sizeof eta, (double)(total - done) / rate);
		PUT("  ETA %s", eta);
	}
#undef PUT
	return len;
}

void km_progress_begin(struct km_progress *p, FILE *out, const char *what, const char *unit,
                       uint64_t total)
{
	memset(p, 0, sizeof *p);
	p->out = out ? out : stderr;
	p->tty = isatty(fileno(p->out)) == 1;
	snprintf(p->what, sizeof p->what, "%s", what ? what : "");
	snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
	p->total = total;
	p->t0 = now_s();
}

void km_progress_update(struct km_progress *p, uint64_t done)
{
	p->done = done;
	if (!p->tty)
		return;
	double t = now_s();
	if (t - p->t0 < KM_PROGRESS_DELAY_S || (p->shown && t - p->last_draw < 1.0 / KM_PROGRESS_HZ))
		return;
	char line[160];
	km_progress_format(line, sizeof line, p->what, p->unit, done, p->total, t - p->t0);
	/* \033[K: clear what a longer previous line left */
	fprintf(p->out, "\r%s\033[K", line);
	fflush(p->out);
	p->last_draw = t;
	p->shown = true;
}

void km_progress_clear(struct km_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	p->shown = false;
}

void km_progress_end(struct km_progress *p)
{
	if (p->shown) {
		char line[160];
		km_progress_format(line, sizeof line, p->what, p->unit, p->total ? p->total : p->done,
		                   p->total, now_s() - p->t0);
		fprintf(p->out, "\r%s\033[K\n", line);
		fflush(p->out);
	}
	p->shown = false;
}
