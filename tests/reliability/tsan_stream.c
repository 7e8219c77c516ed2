/*
 * The stream engine on the virtual mat under threads (plain executable for
 * ThreadSanitizer): a reader while another thread zeroes, changes the rate
 * and reads counters; stop/start cycles; request_stop from a signal handler
 * while the reader is blocked; stop from the status callback; destroy while
 * running. Counters must agree with what the reader saw.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "knotmap/stream.h"
#include "rel_util.h"

static struct km_stream_config sim_cfg(bool realtime)
{
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_SIM;
	c.sim_realtime = realtime;
	c.sim_seed = 5;
	c.ring_capacity = 16;
	return c;
}

struct ctl {
	km_stream *s;
	atomic_bool done;
	unsigned zeros, rates, stats;
};

static void *controller(void *arg)
{
	struct ctl *c = arg;
	uint16_t rates[] = {50, 100, 200, 100};
	unsigned i = 0;
	while (!atomic_load(&c->done)) {
		struct km_stream_stats st;
		if (km_stream_stats(c->s, &st) == KM_OK)
			c->stats++;
		struct km_device_info info;
		(void)km_stream_device_info(c->s, &info);
		(void)km_stream_state_name(c->s);
		if (i % 4 == 0 && km_stream_zero(c->s) == KM_OK)
			c->zeros++;
		if (i % 4 == 2 && km_stream_set_rate(c->s, rates[(i / 4) % 4]) == KM_OK)
			c->rates++;
		i++;
		rel_sleep_ms(3);
	}
	return NULL;
}

static void read_while_another_thread_controls(void)
{
	struct km_stream_config cfg = sim_cfg(true);
	km_stream *s;
	REL_CHECK(km_stream_create(&cfg, &s) == KM_OK, "create");
	if (!s)
		return;
	struct km_frame *f;
	REL_CHECK(km_stream_frame_create(s, &f) == KM_OK, "frame");
	struct ctl c = {.s = s};
	pthread_t t;
	pthread_create(&t, NULL, controller, &c);
	uint64_t read = 0, dropped = 0;
	for (int cycle = 0; cycle < 3; cycle++) {
		REL_CHECK(km_stream_start(s) == KM_OK, "start %d", cycle);
		for (int i = 0; i < 60; i++) {
			int rc = km_stream_read(s, f, 2000);
			REL_CHECK(rc == KM_OK, "read: %s", km_strerror(rc));
			if (rc != KM_OK)
				break;
			read++;
			dropped += f->dropped_since_last;
		}
		REL_CHECK(km_stream_stop(s) == KM_OK, "stop");
		while (km_stream_read(s, f, 0) == KM_OK) {
			read++;
			dropped += f->dropped_since_last;
		}
	}
	atomic_store(&c.done, true);
	pthread_join(t, NULL);
	struct km_stream_stats st;
	km_stream_stats(s, &st);
	REL_CHECK(st.frames_read == read, "frames_read %llu vs %llu",
	          (unsigned long long)st.frames_read, (unsigned long long)read);
	REL_CHECK(st.frames_ok == read + st.ring_drops, "ok %llu, read %llu, drops %llu",
	          (unsigned long long)st.frames_ok, (unsigned long long)read,
	          (unsigned long long)st.ring_drops);
	REL_CHECK(c.zeros > 0 && c.rates > 0 && c.stats > 0, "zero %u, rate %u, stats %u", c.zeros,
	          c.rates, c.stats);
	km_stream_destroy(s);
	km_frame_destroy(f);
}

static km_stream *volatile sig_stream;

static void on_sigusr1(int sig)
{
	(void)sig;
	if (sig_stream)
		km_stream_request_stop(sig_stream); /* async-signal-safe by contract */
}

static void *send_signal(void *arg)
{
	(void)arg;
	rel_sleep_ms(150);
	kill(getpid(), SIGUSR1);
	return NULL;
}

static void request_stop_from_a_signal_handler(void)
{
	struct km_stream_config cfg = sim_cfg(true);
	km_stream *s;
	REL_CHECK(km_stream_create(&cfg, &s) == KM_OK, "create");
	if (!s)
		return;
	struct km_frame *f;
	REL_CHECK(km_stream_frame_create(s, &f) == KM_OK, "frame");
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	for (int round = 0; round < 3; round++) {
		sig_stream = s;
		REL_CHECK(km_stream_start(s) == KM_OK, "start");
		pthread_t t;
		pthread_create(&t, NULL, send_signal, NULL);
		int rc, n = 0;
		while ((rc = km_stream_read(s, f, -1)) == KM_OK)
			n++;
		pthread_join(t, NULL);
		REL_CHECK(rc == KM_ERR_INTERRUPTED, "round %d: %s", round, km_strerror(rc));
		REL_CHECK(n > 0, "round %d: no frames before the signal", round);
		sig_stream = NULL;
		REL_CHECK(km_stream_stop(s) == KM_OK, "stop");
	}
	sigaction(SIGUSR1, &old, NULL);
	km_stream_destroy(s);
	km_frame_destroy(f);
}

static km_stream *volatile cb_stream;
static atomic_int cb_ended;

static void on_status(void *user, enum km_stream_status status, int error)
{
	(void)user;
	(void)error;
	if (status == KM_STREAM_ENDED) {
		atomic_fetch_add(&cb_ended, 1);
		km_stream_stop(cb_stream); /* from the engine thread: only requests */
	}
}

static void finite_run_stops_from_the_callback(void)
{
	struct km_stream_config cfg = sim_cfg(false);
	cfg.sim_frames = 500;
	cfg.status_fn = on_status;
	km_stream *s;
	REL_CHECK(km_stream_create(&cfg, &s) == KM_OK, "create");
	if (!s)
		return;
	cb_stream = s;
	struct km_frame *f;
	REL_CHECK(km_stream_frame_create(s, &f) == KM_OK, "frame");
	REL_CHECK(km_stream_start(s) == KM_OK, "start");
	int rc, n = 0;
	while ((rc = km_stream_read(s, f, 2000)) == KM_OK)
		n++;
	REL_CHECK(rc == KM_ERR_END || rc == KM_ERR_INTERRUPTED, "%s", km_strerror(rc));
	REL_CHECK(n == 500, "%d frames of 500", n);
	km_stream_destroy(s); /* joins the engine: its callback has run by now */
	REL_CHECK(atomic_load(&cb_ended) == 1, "ENDED %d times", atomic_load(&cb_ended));
	km_frame_destroy(f);
}

static void destroy_while_running(void)
{
	for (int i = 0; i < 5; i++) {
		struct km_stream_config cfg = sim_cfg(i & 1);
		km_stream *s;
		REL_CHECK(km_stream_create(&cfg, &s) == KM_OK, "create");
		if (!s)
			return;
		REL_CHECK(km_stream_start(s) == KM_OK, "start");
		rel_sleep_ms((unsigned)(5 * i));
		km_stream_destroy(s);
	}
}

int main(void)
{
	REL_RUN(read_while_another_thread_controls);
	REL_RUN(request_stop_from_a_signal_handler);
	REL_RUN(finite_run_stops_from_the_callback);
	REL_RUN(destroy_while_running);
	return rel_failures ? 1 : 0;
}
