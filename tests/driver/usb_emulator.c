/* The live USB mat (see usb_emulator.h). Shaped like libusb's tests/umockdev.c. */
#include "usb_emulator.h"

#include <errno.h>
#include <linux/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "knotmap/protocol.h"
#include "knotmap/sim.h"
#include "usb_fixture.h"

#define MAX_FAULTS 16

struct emu {
	UMockdevTestbed *tb;
	UMockdevIoctlBase *handler;
	pthread_mutex_t lock;
	km_sim *sim;
	struct km_proto_info info;
	bool realtime;
	bool present;
	bool streaming;
	bool stalled;
	uint64_t start_us;
	uint32_t frame_limit;
	/* packets of the current frame not yet sent */
	uint8_t *pkt;
	size_t cap, len, off;
	uint32_t cur_seq;
	GList *pending;   /* UMockdevIoctlData* of bulk IN URBs waiting for data */
	GList *done;      /* URBs to reap */
	GList *discarded; /* URBs cancelled, reaped with -ENOENT */
	/* Bulk IN URBs the driver has submitted and not reaped yet: its queue
	 * depth. (The pending list alone drained whenever a frame was due at
	 * submission, which a loaded machine made likely: a flaky count.) */
	unsigned bulk_out;
	struct {
		uint32_t seq;
		enum emu_fault fault;
	} faults[MAX_FAULTS];
	unsigned nfaults;
	struct emu_stats st;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct usbdevfs_urb *urb_of(UMockdevIoctlData *d)
{
	return (struct usbdevfs_urb *)d->data;
}

/* Next packet of the stream into the URB; false when none is due yet. */
static bool next_packet(struct emu *e, struct usbdevfs_urb *urb, int *status)
{
	if (e->off >= e->len) {
		if (e->st.frames_sent >= e->frame_limit)
			return false;
		if (e->realtime) {
			float rate = km_sim_rate(e->sim);
			uint64_t due = e->start_us + (uint64_t)(e->st.frames_sent * 1e6 / rate);
			if (now_us() < due)
				return false;
		}
		struct km_sim_output o;
		if (km_sim_step(e->sim, &o) != KM_OK ||
		    km_sim_pack(e->sim, e->pkt, e->cap, &e->len) != KM_OK)
			return false;
		e->off = 0;
		e->cur_seq = o.sequence;
		e->st.frames_sent++;
	}
	struct km_proto_packet p;
	size_t used = 0;
	if (km_proto_parse_packet(e->pkt + e->off, e->len - e->off, &p, &used) != KM_OK) {
		e->off = e->len;
		return false;
	}
	enum emu_fault fault = 0;
	for (unsigned i = 0; i < e->nfaults; i++)
		if (e->faults[i].seq == e->cur_seq)
			fault = e->faults[i].fault;
	*status = 0;
	size_t n = used < (size_t)urb->buffer_length ? used : (size_t)urb->buffer_length;
	memcpy(urb->buffer, e->pkt + e->off, n);
	urb->actual_length = (int)n;
	if (fault == EMU_CORRUPT && n > 60)
		((uint8_t *)urb->buffer)[50] ^= 0x5A;
	if (fault == EMU_TRUNCATE)
		urb->actual_length = (int)(n / 2);
	if (fault == EMU_STALL) {
		/* this packet is lost to the stall: the frame goes missing */
		urb->actual_length = 0;
		*status = -EPIPE;
		e->stalled = true;
	}
	e->off += used;
	return true;
}

/* Moves pending bulk URBs to done while data is due. Lock held. */
static void pump(struct emu *e)
{
	while (e->pending && e->present && e->streaming && !e->stalled) {
		UMockdevIoctlData *d = e->pending->data;
		struct usbdevfs_urb *urb = urb_of(d);
		int status;
		if (!next_packet(e, urb, &status))
			break;
		urb->status = status;
		e->pending = g_list_delete_link(e->pending, e->pending);
		e->done = g_list_append(e->done, d);
	}
}

static size_t string_reply(struct emu *e, uint16_t value, uint8_t *out, size_t cap)
{
	size_t n = 0;
	uint8_t idx = (uint8_t)(value & 0xFF);
	const struct km_proto_device_id *id = &km_proto_devices[0];
	if (idx == KM_USB_STR_LANGID)
		km_proto_langid_descriptor(out, cap, &n);
	else if (idx == KM_USB_STR_MANUFACTURER)
		km_proto_string_descriptor(id->manufacturer, out, cap, &n);
	else if (idx == KM_USB_STR_PRODUCT)
		km_proto_string_descriptor(id->product, out, cap, &n);
	else if (idx == KM_USB_STR_SERIAL)
		km_proto_string_descriptor(e->info.serial, out, cap, &n);
	return n;
}

/* A control URB, answered at once. Returns the URB status. Lock held. */
static int control(struct emu *e, struct usbdevfs_urb *urb)
{
	uint8_t *b = urb->buffer;
	struct km_proto_setup s;
	if (urb->buffer_length < 8 || km_proto_setup_decode(b, 8, &s) != KM_OK)
		return -EINVAL;
	uint8_t *data = b + 8;
	size_t cap = (size_t)urb->buffer_length - 8, n = 0;
	urb->actual_length = 0;
	if (s.bm_request_type == 0x80 && s.b_request == 6 && (s.w_value >> 8) == 3) {
		uint8_t tmp[256];
		n = string_reply(e, s.w_value, tmp, sizeof tmp);
		if (n == 0)
			return -EPIPE;
		n = n < cap ? n : cap;
		memcpy(data, tmp, n);
	} else if (s.bm_request_type == KM_PROTO_REQTYPE_IN &&
	           s.b_request == KM_PROTO_REQ_GET_INFO) {
		uint8_t ib[KM_PROTO_INFO_LEN];
		km_proto_info_encode(&e->info, ib, sizeof ib, &n);
		n = n < cap ? n : cap;
		memcpy(data, ib, n);
	} else if (s.bm_request_type == KM_PROTO_REQTYPE_OUT) {
		switch (s.b_request) {
		case KM_PROTO_REQ_START:
			km_sim_control(e->sim, KM_SIM_CMD_START, 0);
			e->streaming = true;
			e->stalled = false;
			e->off = e->len = 0;
			e->st.frames_sent = 0;
			e->start_us = now_us();
			e->st.starts++;
			break;
		case KM_PROTO_REQ_STOP:
			km_sim_control(e->sim, KM_SIM_CMD_STOP, 0);
			e->streaming = false;
			e->st.stops++;
			break;
		case KM_PROTO_REQ_ZERO:
			km_sim_control(e->sim, KM_SIM_CMD_ZERO, s.w_value);
			e->st.zeros++;
			break;
		case KM_PROTO_REQ_SET_RATE:
			e->st.rate_requests++;
			if (km_sim_control(e->sim, KM_SIM_CMD_SET_RATE, s.w_value) != KM_OK)
				return -EPIPE;
			e->st.last_rate = s.w_value;
			break;
		default:
			return -EPIPE;
		}
	} else {
		return -EPIPE;
	}
	urb->actual_length = (int)n;
	return 0;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user)
{
	struct emu *e = user;
	(void)handler;
	gulong request = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	pthread_mutex_lock(&e->lock);
	gboolean handled = TRUE;
	switch (request) {
	case USBDEVFS_GET_CAPABILITIES: {
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
		*(guint32 *)d->data = USBDEVFS_CAP_BULK_CONTINUATION |
		                      USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
		                      USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	}
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_DISCONNECT_CLAIM:
	case USBDEVFS_RELEASEINTERFACE:
	case USBDEVFS_RESET:
	case USBDEVFS_RESETEP:
	case USBDEVFS_CLEAR_HALT:
		if (!e->present) {
			umockdev_ioctl_client_complete(client, -1, ENODEV);
			break;
		}
		if (request == USBDEVFS_CLEAR_HALT) {
			e->st.clear_halts++;
			e->stalled = false;
		}
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	case USBDEVFS_SUBMITURB: {
		if (!e->present) {
			umockdev_ioctl_client_complete(client, -1, ENODEV);
			break;
		}
		UMockdevIoctlData *d =
		    umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
		struct usbdevfs_urb *urb = urb_of(d);
		umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_urb, buffer),
		                            (gsize)urb->buffer_length, NULL);
		umockdev_ioctl_data_ref(d);
		if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
			urb->status = control(e, urb);
			e->done = g_list_append(e->done, d);
		} else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == KM_USB_EP_IN) {
			e->pending = g_list_append(e->pending, d);
			if (++e->bulk_out > e->st.max_in_flight)
				e->st.max_in_flight = e->bulk_out;
			pump(e);
		} else {
			umockdev_ioctl_data_unref(d);
			umockdev_ioctl_client_complete(client, -1, EINVAL);
			break;
		}
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	}
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY: {
		pump(e);
		GList **from = e->discarded ? &e->discarded : (e->done ? &e->done : NULL);
		if (!from) {
			umockdev_ioctl_client_complete(client, -1, e->present ? EAGAIN : ENODEV);
			break;
		}
		UMockdevIoctlData *d = (*from)->data;
		*from = g_list_delete_link(*from, *from);
		if (urb_of(d)->type == USBDEVFS_URB_TYPE_BULK && e->bulk_out)
			e->bulk_out--;
		if (from == &e->discarded)
			urb_of(d)->status = -ENOENT;
		UMockdevIoctlData *p = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
		umockdev_ioctl_data_set_ptr(p, 0, d);
		umockdev_ioctl_data_unref(d);
		umockdev_ioctl_client_complete(client, 0, 0);
		break;
	}
	case USBDEVFS_DISCARDURB: {
		gulong addr = (gulong) * (void **)arg->data;
		GList *l = e->pending;
		while (l && ((UMockdevIoctlData *)l->data)->client_addr != addr)
			l = l->next;
		if (l) {
			e->discarded = g_list_append(e->discarded, l->data);
			e->pending = g_list_delete_link(e->pending, l);
			e->st.discarded++;
			umockdev_ioctl_client_complete(client, 0, 0);
		} else {
			umockdev_ioctl_client_complete(client, -1, EINVAL);
		}
		break;
	}
	default:
		umockdev_ioctl_client_complete(client, -1, ENOTTY);
		break;
	}
	pthread_mutex_unlock(&e->lock);
	return handled;
}

struct emu *emu_create(UMockdevTestbed *tb, const char *device_file, bool realtime)
{
	struct emu *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	pthread_mutex_init(&e->lock, NULL);
	e->tb = tb;
	e->realtime = realtime;
	e->present = true;
	e->frame_limit = UINT32_MAX;
	struct km_sim_config sc = fix_sim_config();
	if (km_sim_create(&sc, &e->sim) != KM_OK || km_sim_info(e->sim, &e->info) != KM_OK) {
		free(e);
		return NULL;
	}
	e->cap = km_sim_max_packet_bytes(e->sim);
	e->pkt = malloc(e->cap);
	e->handler = umockdev_ioctl_base_new();
	g_signal_connect(e->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), e);
	GError *err = NULL;
	/* Handler first, so the device answers as soon as it appears. */
	if (!umockdev_testbed_attach_ioctl(tb, FIX_DEVNODE, e->handler, &err) ||
	    !umockdev_testbed_add_from_file(tb, device_file, &err)) {
		fprintf(stderr, "emulator: %s\n", err ? err->message : "?");
		g_clear_error(&err);
		emu_destroy(e);
		return NULL;
	}
	return e;
}

static void drop_list(GList **l)
{
	while (*l) {
		umockdev_ioctl_data_unref((*l)->data);
		*l = g_list_delete_link(*l, *l);
	}
}

void emu_destroy(struct emu *e)
{
	if (!e)
		return;
	if (e->handler) {
		umockdev_testbed_detach_ioctl(e->tb, FIX_DEVNODE, NULL);
		g_object_unref(e->handler);
	}
	drop_list(&e->pending);
	drop_list(&e->done);
	drop_list(&e->discarded);
	km_sim_destroy(e->sim);
	free(e->pkt);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void emu_unplug(struct emu *e)
{
	pthread_mutex_lock(&e->lock);
	e->present = false;
	e->streaming = false;
	km_sim_control(e->sim, KM_SIM_CMD_STOP, 0); /* power gone */
	while (e->pending) {
		UMockdevIoctlData *d = e->pending->data;
		urb_of(d)->status = -ENODEV;
		urb_of(d)->actual_length = 0;
		e->pending = g_list_delete_link(e->pending, e->pending);
		e->done = g_list_append(e->done, d);
	}
	pthread_mutex_unlock(&e->lock);
	umockdev_testbed_uevent(e->tb, "/sys" FIX_SYSFS, "remove");
}

void emu_replug(struct emu *e)
{
	pthread_mutex_lock(&e->lock);
	/* URBs still waiting to be reaped belong to the connection that was
	 * unplugged: drop them, but only then. A freshly created emulator (a
	 * power-cycled mat) is already present, and its done URBs belong to a
	 * client that may have connected already; dropping those lost a
	 * transfer for good under load. */
	if (!e->present)
		drop_list(&e->done);
	e->present = true;
	pthread_mutex_unlock(&e->lock);
	umockdev_testbed_uevent(e->tb, "/sys" FIX_SYSFS, "add");
}

void emu_inject(struct emu *e, uint32_t sequence, enum emu_fault fault)
{
	pthread_mutex_lock(&e->lock);
	if (e->nfaults < MAX_FAULTS) {
		e->faults[e->nfaults].seq = sequence;
		e->faults[e->nfaults].fault = fault;
		e->nfaults++;
	}
	pthread_mutex_unlock(&e->lock);
}

void emu_set_frame_limit(struct emu *e, uint32_t frames)
{
	pthread_mutex_lock(&e->lock);
	e->frame_limit = frames;
	pthread_mutex_unlock(&e->lock);
}

void emu_stats(struct emu *e, struct emu_stats *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->st;
	pthread_mutex_unlock(&e->lock);
}
