/*
 * The libusb transport: the only file that includes <libusb.h>.
 *
 * rtl-sdr's read_async shape: N bulk IN transfers allocated once, all
 * submitted, each resubmitted from its own completion; errors counted;
 * NO_DEVICE marks the mat lost; stop cancels and keeps handling events until
 * every transfer has come back. A dedicated engine thread runs the event loop.
 * After an unplug the same serial is looked for again (hotplug callback when
 * libusb has it, polling otherwise) and streaming resumes.
 */
#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/protocol.h"
#include "transport.h"

#define MOD "usb"
#define MAX_TRANSFERS 32
/* Consecutive transfer errors after which the mat is treated as gone. */
#define MAX_CONSECUTIVE_ERRORS 64
/* Event-loop slice: how soon a stop request or a hotplug flag is seen. */
#define EVENT_SLICE_US 50000

struct slot {
	struct usb_state *st;
	struct libusb_transfer *xfer;
	uint8_t *buf;
	bool busy;
};

struct usb_state {
	km_stream *s;
	const struct km_stream_config *cfg;
	const struct km_log *log;
	libusb_context *ctx;
	bool own_ctx;

	pthread_mutex_t h_lock; /* the handle: engine thread vs control requests */
	libusb_device_handle *h;
	char serial[KM_DEVICE_SERIAL_MAX]; /* the mat this stream is bound to */
	struct km_device_info info;

	struct slot slots[MAX_TRANSFERS];
	unsigned nslots;
	unsigned in_flight;   /* engine thread only */
	bool lost;            /* engine thread: the mat went away */
	bool need_clear_halt; /* engine thread: a STALL to clear */
	unsigned consecutive_errors;

	atomic_bool engine_running; /* the engine thread handles events */
	atomic_uint ctl_pending;    /* asynchronous control requests in flight */

	bool hotplug;
	libusb_hotplug_callback_handle hp[4];
	unsigned nhp;
	atomic_bool hp_arrived;
	atomic_bool hp_left;
};

/* libusb codes -> km_error, at the boundary. */
static int km__usb_error(int r)
{
	switch (r) {
	case LIBUSB_SUCCESS:
		return KM_OK;
	case LIBUSB_ERROR_ACCESS:
		return KM_ERR_PERMISSION;
	case LIBUSB_ERROR_NO_DEVICE:
		return KM_ERR_NO_DEVICE;
	case LIBUSB_ERROR_NOT_FOUND:
		return KM_ERR_NOT_FOUND;
	case LIBUSB_ERROR_BUSY:
		return KM_ERR_BUSY;
	case LIBUSB_ERROR_TIMEOUT:
		return KM_ERR_TIMEOUT;
	case LIBUSB_ERROR_OVERFLOW:
		return KM_ERR_OVERFLOW;
	case LIBUSB_ERROR_PIPE:
		return KM_ERR_PIPE;
	case LIBUSB_ERROR_INTERRUPTED:
		return KM_ERR_INTERRUPTED;
	case LIBUSB_ERROR_NO_MEM:
		return KM_ERR_NO_MEMORY;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		return KM_ERR_UNSUPPORTED;
	case LIBUSB_ERROR_INVALID_PARAM:
		return KM_ERR_INVALID_ARG;
	case LIBUSB_ERROR_IO:
		return KM_ERR_IO;
	default:
		return KM_ERR_USB;
	}
}

const char *km_device_permission_hint(void)
{
	return "Access to the mat needs the udev rule 70-knotmap.rules (it grants the "
	       "logged-in user access with TAG+=\"uaccess\"). Install it with:\n"
	       "    sudo cp hardware/udev/70-knotmap.rules /etc/udev/rules.d/\n"
	       "    sudo udevadm control --reload-rules && sudo udevadm trigger\n"
	       "then unplug and replug the mat (packages install it to "
	       "/usr/lib/udev/rules.d/).";
}

static int control(struct usb_state *st, libusb_device_handle *h, uint8_t reqtype, uint8_t req,
                   uint16_t value, uint8_t *data, uint16_t len)
{
	int r = libusb_control_transfer(h, reqtype, req, value, 0, data, len,
	                                st->cfg->control_timeout_ms);
	if (r < 0) {
		km__log(st->log, KM_LOG_DEBUG, MOD, "control request 0x%02x failed: %s", req,
		        libusb_error_name(r));
		return km__usb_error(r);
	}
	return r;
}

/* Opens one candidate; KM_OK with *out set when it is a usable mat. */
static int try_open(struct usb_state *st, libusb_device *dev,
                    const struct libusb_device_descriptor *d, const char *want, bool claim,
                    libusb_device_handle **out, struct km_device_info *info)
{
	libusb_device_handle *h = NULL;
	uint8_t bus = libusb_get_bus_number(dev), addr = libusb_get_device_address(dev);
	int r = libusb_open(dev, &h);
	if (r != 0) {
		int rc = km__usb_error(r);
		if (rc == KM_ERR_PERMISSION)
			km__log(st->log, KM_LOG_ERROR, MOD,
			        "no permission to open the mat on usb %03u:%03u. %s", bus, addr,
			        km_device_permission_hint());
		else
			km__log(st->log, KM_LOG_WARN, MOD, "cannot open usb %03u:%03u: %s", bus,
			        addr, libusb_error_name(r));
		return rc;
	}
	unsigned char sbuf[KM_DEVICE_SERIAL_MAX];
	sbuf[0] = 0;
	if (d->iSerialNumber) {
		r = libusb_get_string_descriptor_ascii(h, d->iSerialNumber, sbuf, sizeof sbuf);
		if (r < 0) {
			km__log(st->log, KM_LOG_WARN, MOD, "usb %03u:%03u: no serial: %s", bus,
			        addr, libusb_error_name(r));
			libusb_close(h);
			return km__usb_error(r);
		}
	}
	if (want && want[0] && strcmp((const char *)sbuf, want) != 0) {
		libusb_close(h);
		return KM_ERR_NOT_FOUND;
	}
	uint8_t ib[KM_PROTO_INFO_LEN];
	int n = control(st, h, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, ib, sizeof ib);
	struct km_proto_info pi;
	int rc = n < 0 ? n : km_proto_info_decode(ib, (size_t)n, &pi);
	if (rc != KM_OK) {
		km__log(st->log, KM_LOG_ERROR, MOD, "usb %03u:%03u: bad info block: %s", bus, addr,
		        km_strerror(rc));
		libusb_close(h);
		return rc;
	}
	r = 0;
	if (claim) {
		/* A vendor-class interface: no kernel driver should hold it, but
		 * if one does (usbfs snooping, a stray module), take it over. */
		r = libusb_claim_interface(h, KM_USB_INTERFACE);
		if (r == LIBUSB_ERROR_BUSY &&
		    libusb_kernel_driver_active(h, KM_USB_INTERFACE) == 1 &&
		    libusb_detach_kernel_driver(h, KM_USB_INTERFACE) == 0)
			r = libusb_claim_interface(h, KM_USB_INTERFACE);
	}
	if (r != 0) {
		rc = km__usb_error(r);
		km__log(st->log, KM_LOG_ERROR, MOD,
		        "usb %03u:%03u: cannot claim the interface: %s%s", bus, addr,
		        libusb_error_name(r),
		        rc == KM_ERR_BUSY ? " (another program is using the mat)" : "");
		libusb_close(h);
		return rc;
	}
	const struct km_proto_device_id *id = km_proto_find_device(d->idVendor, d->idProduct);
	memset(info, 0, sizeof *info);
	info->transport = KM_TRANSPORT_LIBUSB;
	km__device_info_from_proto(&pi, info);
	if (sbuf[0])
		snprintf(info->serial, sizeof info->serial, "%s", (const char *)sbuf);
	snprintf(info->product, sizeof info->product, "%s",
	         id && id->product ? id->product : "mat");
	snprintf(info->location, sizeof info->location, "usb %03u:%03u", bus, addr);
	info->vid = d->idVendor;
	info->pid = d->idProduct;
	info->bus = bus;
	info->address = addr;
	*out = h;
	return KM_OK;
}

/* Finds the mat (by serial when want is set). KM_ERR_NO_DEVICE when none. */
static int find_and_open(struct usb_state *st, const char *want, libusb_device_handle **out,
                         struct km_device_info *info)
{
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(st->ctx, &list);
	if (n < 0)
		return km__usb_error((int)n);
	int result = KM_ERR_NO_DEVICE;
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		if (libusb_get_device_descriptor(list[i], &d) != 0 ||
		    !km_proto_find_device(d.idVendor, d.idProduct))
			continue;
		int rc = try_open(st, list[i], &d, want, true, out, info);
		if (rc == KM_OK) {
			result = KM_OK;
			break;
		}
		/* Remember why a mat was unusable, unless it was just another serial. */
		if (rc != KM_ERR_NOT_FOUND && result == KM_ERR_NO_DEVICE)
			result = rc;
	}
	libusb_free_device_list(list, 1);
	return result;
}

static int hotplug_cb(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *user)
{
	struct usb_state *st = user;
	(void)ctx;
	if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		atomic_store(&st->hp_arrived, true);
	} else if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
		/* Runs on the event thread, which is the only one that changes h. */
		if (st->h && libusb_get_device(st->h) == dev)
			atomic_store(&st->hp_left, true);
	}
	return 0;
}

static void transfer_cb(struct libusb_transfer *t);

static void usb_close(void *state);

static int usb_open(km_stream *s, const struct km_stream_config *cfg, void **state,
                    struct km_device_info *info)
{
	struct usb_state *st = km__calloc(1, sizeof *st);
	if (!st)
		return KM_ERR_NO_MEMORY;
	st->s = s;
	st->cfg = cfg;
	st->log = km__engine_log(s);
	pthread_mutex_init(&st->h_lock, NULL);
	atomic_init(&st->hp_arrived, false);
	atomic_init(&st->hp_left, false);
	atomic_init(&st->engine_running, false);
	atomic_init(&st->ctl_pending, 0);
	int rc = KM_OK;
	if (cfg->libusb_context) {
		st->ctx = cfg->libusb_context;
	} else {
		int r = libusb_init(&st->ctx);
		if (r != 0) {
			km__log(st->log, KM_LOG_ERROR, MOD, "libusb_init failed: %s",
			        libusb_error_name(r));
			st->ctx = NULL;
			usb_close(st);
			return KM_ERR_USB;
		}
		st->own_ctx = true;
	}
	rc = find_and_open(st, cfg->serial, &st->h, &st->info);
	if (rc != KM_OK) {
		if (rc == KM_ERR_NO_DEVICE)
			km__log(st->log, KM_LOG_INFO, MOD,
			        cfg->serial ? "no mat with serial %s" : "no mat plugged in%s",
			        cfg->serial ? cfg->serial : "");
		usb_close(st);
		return rc;
	}
	snprintf(st->serial, sizeof st->serial, "%s", st->info.serial);
	st->nslots = cfg->transfers;
	for (unsigned i = 0; i < st->nslots; i++) {
		struct slot *sl = &st->slots[i];
		sl->st = st;
		sl->xfer = libusb_alloc_transfer(0);
		sl->buf = km__malloc(cfg->transfer_size);
		if (!sl->xfer || !sl->buf) {
			usb_close(st);
			return KM_ERR_NO_MEMORY;
		}
	}
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		st->hotplug = true;
		for (size_t i = 0; i < km_proto_device_count && st->nhp < 4; i++) {
			int r = libusb_hotplug_register_callback(
			    st->ctx,
			    LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
			    0, km_proto_devices[i].vid, km_proto_devices[i].pid,
			    LIBUSB_HOTPLUG_MATCH_ANY, hotplug_cb, st, &st->hp[st->nhp]);
			if (r == 0)
				st->nhp++;
			else
				st->hotplug = false;
		}
	}
	km__log(st->log, KM_LOG_INFO, MOD, "mat %s on %s: %ux%u cells, firmware %u.%u.%u, %u Hz%s",
	        st->info.serial, st->info.location, st->info.rows, st->info.cols,
	        st->info.firmware_version >> 16, (st->info.firmware_version >> 8) & 0xFFu,
	        st->info.firmware_version & 0xFFu, st->info.rate_hz,
	        st->hotplug ? "" : " (no hotplug: polling for replugs)");
	*info = st->info;
	*state = st;
	return KM_OK;
}

static void mark_lost(struct usb_state *st);

static bool submit(struct slot *sl)
{
	struct usb_state *st = sl->st;
	libusb_fill_bulk_transfer(sl->xfer, st->h, KM_USB_EP_IN, sl->buf,
	                          (int)st->cfg->transfer_size, transfer_cb, sl,
	                          st->cfg->transfer_timeout_ms);
	int r = libusb_submit_transfer(sl->xfer);
	if (r != 0) {
		km__engine_count(st->s, KM__STAT_RESUBMIT, 1);
		km__log(st->log, KM_LOG_DEBUG, MOD, "submit failed: %s", libusb_error_name(r));
		if (r == LIBUSB_ERROR_NO_DEVICE)
			mark_lost(st);
		return false;
	}
	sl->busy = true;
	st->in_flight++;
	return true;
}

static void mark_lost(struct usb_state *st)
{
	if (st->lost)
		return;
	st->lost = true;
	km__engine_count(st->s, KM__STAT_UNPLUGS, 1);
	km__engine_status(st->s, KM_STREAM_UNPLUGGED, KM_ERR_NO_DEVICE);
	for (unsigned i = 0; i < st->nslots; i++)
		if (st->slots[i].busy)
			libusb_cancel_transfer(st->slots[i].xfer);
}

static void transfer_cb(struct libusb_transfer *t)
{
	struct slot *sl = t->user_data;
	struct usb_state *st = sl->st;
	km_stream *s = st->s;
	sl->busy = false;
	st->in_flight--;
	bool again = true;
	switch (t->status) {
	case LIBUSB_TRANSFER_COMPLETED:
		st->consecutive_errors = 0;
		km__engine_count(s, KM__STAT_TRANSFERS, 1);
		if (t->actual_length > 0)
			km__engine_feed(s, t->buffer, (size_t)t->actual_length);
		break;
	case LIBUSB_TRANSFER_TIMED_OUT:
		km__engine_count(s, KM__STAT_TIMEOUTS, 1);
		/* Data that arrived before the timeout is still a packet. */
		if (t->actual_length > 0)
			km__engine_feed(s, t->buffer, (size_t)t->actual_length);
		break;
	case LIBUSB_TRANSFER_STALL:
		st->need_clear_halt = true;
		again = false;
		break;
	case LIBUSB_TRANSFER_NO_DEVICE:
		mark_lost(st);
		again = false;
		break;
	case LIBUSB_TRANSFER_CANCELLED:
		again = false;
		break;
	case LIBUSB_TRANSFER_ERROR:
	case LIBUSB_TRANSFER_OVERFLOW:
	default:
		km__engine_count(s, KM__STAT_USB_ERRORS, 1);
		if (++st->consecutive_errors >= MAX_CONSECUTIVE_ERRORS) {
			km__log(st->log, KM_LOG_ERROR, MOD, "%u transfer errors in a row: mat lost",
			        st->consecutive_errors);
			mark_lost(st);
			again = false;
		}
		break;
	}
	if (again && !st->lost && !st->need_clear_halt && !km__engine_stopping(s))
		submit(sl);
}

static void submit_idle(struct usb_state *st)
{
	for (unsigned i = 0; i < st->nslots && !st->lost; i++)
		if (!st->slots[i].busy)
			submit(&st->slots[i]);
}

/* START (and the rate) on a freshly opened mat, then every transfer out. */
static int start_streaming(struct usb_state *st)
{
	int rc = KM_OK;
	if (st->cfg->rate_hz) {
		rc = control(st, st->h, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_SET_RATE,
		             st->cfg->rate_hz, NULL, 0);
		if (rc < 0)
			return rc;
		st->info.rate_hz = st->cfg->rate_hz;
	}
	rc = control(st, st->h, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, NULL, 0);
	if (rc < 0)
		return rc;
	km__engine_restart(st->s);
	st->lost = false;
	st->need_clear_halt = false;
	st->consecutive_errors = 0;
	submit_idle(st);
	return st->in_flight > 0 ? KM_OK : KM_ERR_USB;
}

static void handle_events(struct usb_state *st, long usec)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = usec};
	int r = libusb_handle_events_timeout_completed(st->ctx, &tv, NULL);
	if (r != 0 && r != LIBUSB_ERROR_INTERRUPTED)
		km__log(st->log, KM_LOG_DEBUG, MOD, "event handling: %s", libusb_error_name(r));
	if (atomic_exchange(&st->hp_left, false))
		mark_lost(st);
}

/* Cancels everything in flight and handles events until all came back. */
static void drain(struct usb_state *st)
{
	for (unsigned i = 0; i < st->nslots; i++)
		if (st->slots[i].busy)
			libusb_cancel_transfer(st->slots[i].xfer);
	/* Bounded: a cancelled transfer comes back within one event round on a
	 * working stack; give up after a generous wait rather than hang. */
	uint64_t end = km_time_monotonic_us() + 2000000u + st->cfg->transfer_timeout_ms * 1000u;
	while ((st->in_flight > 0 || atomic_load(&st->ctl_pending) > 0) &&
	       km_time_monotonic_us() < end)
		handle_events(st, EVENT_SLICE_US);
	if (st->in_flight > 0)
		km__log(st->log, KM_LOG_WARN, MOD, "%u transfers did not come back", st->in_flight);
}

/* Closes the handle unless a control request from another thread is still
 * in flight on it (then false: try again after more events). */
static bool release_handle(struct usb_state *st)
{
	if (!st->h)
		return true;
	pthread_mutex_lock(&st->h_lock);
	if (atomic_load(&st->ctl_pending) > 0) {
		pthread_mutex_unlock(&st->h_lock);
		return false;
	}
	libusb_release_interface(st->h, KM_USB_INTERFACE);
	libusb_close(st->h);
	st->h = NULL;
	pthread_mutex_unlock(&st->h_lock);
	return true;
}

static bool try_reconnect(struct usb_state *st)
{
	libusb_device_handle *h = NULL;
	struct km_device_info info;
	int rc = find_and_open(st, st->serial, &h, &info);
	if (rc != KM_OK)
		return false;
	pthread_mutex_lock(&st->h_lock);
	st->h = h;
	st->info = info;
	pthread_mutex_unlock(&st->h_lock);
	rc = start_streaming(st);
	if (rc != KM_OK) {
		km__log(st->log, KM_LOG_WARN, MOD, "mat %s is back but does not stream: %s",
		        st->serial, km_strerror(rc));
		drain(st);
		release_handle(st);
		return false;
	}
	km__engine_set_info(st->s, &st->info);
	km__engine_count(st->s, KM__STAT_RECONNECTS, 1);
	km__engine_status(st->s, KM_STREAM_RECONNECTED, KM_OK);
	return true;
}

static int usb_run(void *state)
{
	struct usb_state *st = state;
	km_stream *s = st->s;
	km__engine_set_lossless(s, false);
	int rc = KM_OK;
	if (!st->h) {
		/* Lost during an earlier run: look for it first. */
		st->lost = true;
		km__engine_status(s, KM_STREAM_UNPLUGGED, KM_ERR_NO_DEVICE);
	} else {
		rc = start_streaming(st);
		if (rc != KM_OK) {
			drain(st);
			return rc;
		}
		km__engine_status(s, KM_STREAM_CONNECTED, KM_OK);
	}
	uint64_t next_poll = 0;
	atomic_store(&st->engine_running, true);
	while (!km__engine_stopping(s)) {
		handle_events(st, EVENT_SLICE_US);
		if (st->need_clear_halt && !st->lost) {
			int r = libusb_clear_halt(st->h, KM_USB_EP_IN);
			km__engine_count(s, KM__STAT_STALLS, 1);
			km__log(st->log, KM_LOG_WARN, MOD, "bulk endpoint stalled: %s",
			        r == 0 ? "cleared" : libusb_error_name(r));
			st->need_clear_halt = false;
			if (r == LIBUSB_ERROR_NO_DEVICE)
				mark_lost(st);
			else
				submit_idle(st);
		}
		if (!st->lost)
			continue;
		if (st->h && st->in_flight > 0)
			continue; /* cancelled transfers still coming back */
		if (!release_handle(st))
			continue;
		if (!st->cfg->reconnect) {
			rc = KM_ERR_NO_DEVICE;
			km__engine_status(s, KM_STREAM_FAILED, rc);
			break;
		}
		uint64_t now = km_time_monotonic_us();
		bool arrived = atomic_exchange(&st->hp_arrived, false);
		if (arrived || !st->hotplug || now >= next_poll) {
			/* Hotplug or not, poll now and then: a missed event must not
			 * strand the stream. */
			next_poll = now + (uint64_t)st->cfg->reconnect_poll_ms * 1000u;
			try_reconnect(st);
		}
	}
	if (st->h) {
		if (!st->lost)
			control(st, st->h, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_STOP, 0, NULL, 0);
	}
	/* Requests from other threads queue no more once this is false; the
	 * ones in flight complete in drain(). */
	pthread_mutex_lock(&st->h_lock);
	atomic_store(&st->engine_running, false);
	pthread_mutex_unlock(&st->h_lock);
	drain(st);
	return rc;
}

struct ctl_wait {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	enum libusb_transfer_status status;
};

static void ctl_cb(struct libusb_transfer *t)
{
	struct ctl_wait *w = t->user_data;
	pthread_mutex_lock(&w->m);
	w->status = t->status;
	w->done = true;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->m);
}

static int status_error(enum libusb_transfer_status s)
{
	switch (s) {
	case LIBUSB_TRANSFER_COMPLETED:
		return KM_OK;
	case LIBUSB_TRANSFER_TIMED_OUT:
		return KM_ERR_TIMEOUT;
	case LIBUSB_TRANSFER_STALL:
		return KM_ERR_PIPE;
	case LIBUSB_TRANSFER_NO_DEVICE:
		return KM_ERR_NO_DEVICE;
	case LIBUSB_TRANSFER_CANCELLED:
		return KM_ERR_INTERRUPTED;
	default:
		return KM_ERR_USB;
	}
}

/* A control request from a thread other than the engine's. While the engine
 * runs, the request goes out asynchronously and its completion is handled by
 * the engine's event loop: only the engine thread ever runs callbacks, so the
 * transfer bookkeeping needs no lock. */
static int usb_control(void *state, uint8_t request, uint16_t value)
{
	struct usb_state *st = state;
	int rc;
	pthread_mutex_lock(&st->h_lock);
	if (!st->h) {
		pthread_mutex_unlock(&st->h_lock);
		return KM_ERR_NO_DEVICE;
	}
	if (!atomic_load(&st->engine_running)) {
		rc = control(st, st->h, KM_PROTO_REQTYPE_OUT, request, value, NULL, 0);
		pthread_mutex_unlock(&st->h_lock);
	} else {
		struct libusb_transfer *t = libusb_alloc_transfer(0);
		if (!t) {
			pthread_mutex_unlock(&st->h_lock);
			return KM_ERR_NO_MEMORY;
		}
		uint8_t setup[LIBUSB_CONTROL_SETUP_SIZE];
		struct ctl_wait w = {.done = false};
		pthread_mutex_init(&w.m, NULL);
		pthread_cond_init(&w.c, NULL);
		libusb_fill_control_setup(setup, KM_PROTO_REQTYPE_OUT, request, value, 0, 0);
		libusb_fill_control_transfer(t, st->h, setup, ctl_cb, &w,
		                             st->cfg->control_timeout_ms);
		atomic_fetch_add(&st->ctl_pending, 1);
		int r = libusb_submit_transfer(t);
		pthread_mutex_unlock(&st->h_lock);
		if (r != 0) {
			rc = km__usb_error(r);
		} else {
			/* libusb times the request out itself; the engine keeps
			 * handling events until every pending request is back. */
			pthread_mutex_lock(&w.m);
			while (!w.done)
				pthread_cond_wait(&w.c, &w.m);
			pthread_mutex_unlock(&w.m);
			rc = status_error(w.status);
		}
		atomic_fetch_sub(&st->ctl_pending, 1);
		libusb_free_transfer(t);
		pthread_cond_destroy(&w.c);
		pthread_mutex_destroy(&w.m);
	}
	if (rc == KM_ERR_PIPE) /* the device refused the value */
		rc = request == KM_PROTO_REQ_SET_RATE ? KM_ERR_RANGE : KM_ERR_UNSUPPORTED;
	return rc < 0 ? rc : KM_OK;
}

static void usb_close(void *state)
{
	struct usb_state *st = state;
	if (!st)
		return;
	for (unsigned i = 0; i < st->nhp; i++)
		libusb_hotplug_deregister_callback(st->ctx, st->hp[i]);
	release_handle(st);
	for (unsigned i = 0; i < MAX_TRANSFERS; i++) {
		if (st->slots[i].xfer)
			libusb_free_transfer(st->slots[i].xfer);
		km__free(st->slots[i].buf);
	}
	if (st->own_ctx && st->ctx)
		libusb_exit(st->ctx);
	pthread_mutex_destroy(&st->h_lock);
	km__free(st);
}

const struct km__transport_ops km__transport_libusb = {
    .name = "libusb",
    .open = usb_open,
    .run = usb_run,
    .control = usb_control,
    .factory_calibration = NULL,
    .close = usb_close,
};

/* ---- knotmap devices ---- */

int km_device_list(void *libusb_context, const struct km_log *log, struct km_device_info *out,
                   size_t cap, size_t *count)
{
	if (!count || (cap && !out))
		return KM_ERR_INVALID_ARG;
	*count = 0;
	static const struct km_log silent;
	struct km_stream_config cfg = km_stream_config_default();
	struct usb_state st;
	memset(&st, 0, sizeof st);
	st.cfg = &cfg;
	st.log = log ? log : &silent;
	st.ctx = libusb_context;
	if (!st.ctx) {
		int r = libusb_init(&st.ctx);
		if (r != 0) {
			km__log(st.log, KM_LOG_ERROR, MOD, "libusb_init failed: %s",
			        libusb_error_name(r));
			return KM_ERR_USB;
		}
	}
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(st.ctx, &list);
	int rc = n < 0 ? km__usb_error((int)n) : KM_OK;
	size_t found = 0;
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		if (libusb_get_device_descriptor(list[i], &d) != 0)
			continue;
		const struct km_proto_device_id *id = km_proto_find_device(d.idVendor, d.idProduct);
		if (!id)
			continue;
		struct km_device_info info;
		libusb_device_handle *h = NULL;
		int orc = try_open(&st, list[i], &d, NULL, false, &h, &info);
		if (orc == KM_OK) {
			libusb_close(h);
		} else {
			memset(&info, 0, sizeof info);
			info.transport = KM_TRANSPORT_LIBUSB;
			info.vid = d.idVendor;
			info.pid = d.idProduct;
			info.bus = libusb_get_bus_number(list[i]);
			info.address = libusb_get_device_address(list[i]);
			snprintf(info.product, sizeof info.product, "%s",
			         id->product ? id->product : "mat");
			snprintf(info.location, sizeof info.location, "usb %03u:%03u", info.bus,
			         info.address);
		}
		info.status = orc;
		if (found < cap)
			out[found] = info;
		found++;
	}
	if (list)
		libusb_free_device_list(list, 1);
	if (!libusb_context)
		libusb_exit(st.ctx);
	*count = found;
	return rc;
}
