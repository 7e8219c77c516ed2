/*
 * Build-time generator of the USB test fixtures, from the virtual mat and the
 * protocol's device table (never committed):
 *   mat.umockdev     umockdev device description of the mat
 *   devices.pcap     what `knotmap devices` exchanges with it
 *   stream-K.pcap    a K-transfers-in-flight client streaming FIX_FRAMES frames
 * Captures are classic pcap, link type 220 (usbmon, mmapped 64-byte header).
 * umockdev replays them strictly in order: request lengths and setup bytes
 * must equal the client's, devnum/busnum must equal the sysfs values (or the
 * record is skipped) and start_frame must be 0; a client that asks for more
 * than was captured waits for its timeout.
 *
 * usage: gen_usb_fixtures OUTDIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/protocol.h"
#include "knotmap/sim.h"
#include "usb_fixture.h"

#define LINKTYPE_USB_LINUX_MMAPPED 220
#define EINPROGRESS_NEG (-115)

struct cap {
	FILE *f;
	uint64_t next_id;
	uint64_t t_us;
};

static void put(struct cap *c, const void *p, size_t n)
{
	if (fwrite(p, 1, n, c->f) != n) {
		perror("write");
		exit(1);
	}
}

static void le32(uint8_t *p, uint32_t v)
{
	km_put_le32(p, v);
}

static int cap_open(struct cap *c, const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	c->f = fopen(path, "wb");
	if (!c->f) {
		fprintf(stderr, "gen_usb_fixtures: %s: %s\n", path, strerror(errno));
		return -1;
	}
	c->next_id = 0xffff8a0000001000ull;
	c->t_us = 1700000000000000ull;
	uint8_t h[24];
	le32(h, 0xa1b2c3d4u);
	km_put_le16(h + 4, 2);
	km_put_le16(h + 6, 4);
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, 262144 + 64);
	le32(h + 20, LINKTYPE_USB_LINUX_MMAPPED);
	put(c, h, sizeof h);
	return 0;
}

/* One usbmon record: 64-byte header + data. */
static void record(struct cap *c, uint64_t id, char type, uint8_t xfer, uint8_t ep,
                   const uint8_t *setup, int32_t status, uint32_t length, const uint8_t *data,
                   uint32_t data_len)
{
	uint8_t h[64];
	memset(h, 0, sizeof h);
	c->t_us += 100;
	km_put_le64(h, id);
	h[8] = (uint8_t)type;
	h[9] = xfer;
	h[10] = ep;
	h[11] = FIX_DEV;
	km_put_le16(h + 12, FIX_BUS);
	h[14] = setup ? 0 : '-';
	h[15] = data_len ? 0 : (ep & 0x80 ? '<' : '>');
	km_put_le64(h + 16, c->t_us / 1000000u);
	le32(h + 24, (uint32_t)(c->t_us % 1000000u));
	le32(h + 28, (uint32_t)status);
	le32(h + 32, length);
	le32(h + 36, data_len);
	if (setup)
		memcpy(h + 40, setup, 8);
	/* interval, start_frame (must be 0), xfer_flags, ndesc: 0 */
	uint8_t rh[16];
	uint32_t n = 64 + data_len;
	le32(rh, (uint32_t)(c->t_us / 1000000u));
	le32(rh + 4, (uint32_t)(c->t_us % 1000000u));
	le32(rh + 8, n);
	le32(rh + 12, n);
	put(c, rh, sizeof rh);
	put(c, h, sizeof h);
	if (data_len)
		put(c, data, data_len);
}

/* A control transfer: submit + complete. data is the IN response. */
static void control(struct cap *c, uint8_t reqtype, uint8_t req, uint16_t value, uint16_t index,
                    uint16_t wlength, const uint8_t *data, uint32_t n)
{
	uint8_t setup[8];
	struct km_proto_setup s = {reqtype, req, value, index, wlength};
	km_proto_setup_encode(&s, setup);
	uint8_t ep = reqtype & 0x80 ? 0x80 : 0x00;
	uint64_t id = c->next_id++;
	record(c, id, 'S', 2, ep, setup, EINPROGRESS_NEG, wlength, NULL, 0);
	record(c, id, 'C', 2, ep, NULL, 0, n, data, n);
}

struct mat {
	km_sim *sim;
	struct km_proto_info info;
	uint8_t *buf;
	size_t cap;
};

static void open_sequence(struct cap *c, struct mat *m)
{
	uint8_t d[KM_USB_STRING_DESC_MAX];
	size_t n;
	/* libusb_get_string_descriptor_ascii: LANGID table (wLength 4), then the
	 * string (wLength 255). */
	km_proto_langid_descriptor(d, sizeof d, &n);
	control(c, 0x80, 6, 0x0300, 0, 4, d, (uint32_t)n);
	km_proto_string_descriptor(m->info.serial, d, sizeof d, &n);
	control(c, 0x80, 6, 0x0300 | KM_USB_STR_SERIAL, 0x0409, 255, d, (uint32_t)n);
	uint8_t ib[KM_PROTO_INFO_LEN];
	km_proto_info_encode(&m->info, ib, sizeof ib, &n);
	control(c, KM_PROTO_REQTYPE_IN, KM_PROTO_REQ_GET_INFO, 0, 0, KM_PROTO_INFO_LEN, ib,
	        (uint32_t)n);
}

static int write_stream(const char *dir, unsigned k, struct mat *m)
{
	char name[64];
	snprintf(name, sizeof name, "stream-%u.pcap", k);
	struct cap c;
	if (cap_open(&c, dir, name))
		return -1;
	km_sim_reset(m->sim);
	open_sequence(&c, m);
	control(&c, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_START, 0, 0, 0, NULL, 0);
	km_sim_control(m->sim, KM_SIM_CMD_START, 0);
	/* Submits are answered in order; the client keeps k outstanding. */
	uint64_t ids[64];
	unsigned head = 0, tail = 0;
	for (unsigned i = 0; i < k; i++) {
		ids[tail++ % 64] = c.next_id;
		record(&c, c.next_id++, 'S', 3, KM_USB_EP_IN, NULL, EINPROGRESS_NEG, FIX_TRANSFER,
		       NULL, 0);
	}
	for (unsigned f = 0; f < FIX_FRAMES; f++) {
		struct km_sim_output o;
		size_t len;
		if (km_sim_step(m->sim, &o) != KM_OK ||
		    km_sim_pack(m->sim, m->buf, m->cap, &len) != KM_OK) {
			fprintf(stderr, "gen_usb_fixtures: the virtual mat failed\n");
			return -1;
		}
		/* one packet per bulk transfer, as the firmware sends them */
		size_t off = 0;
		while (off < len) {
			struct km_proto_packet p;
			size_t used;
			if (km_proto_parse_packet(m->buf + off, len - off, &p, &used) != KM_OK)
				return -1;
			record(&c, ids[head++ % 64], 'C', 3, KM_USB_EP_IN, NULL, 0, (uint32_t)used,
			       m->buf + off, (uint32_t)used);
			ids[tail++ % 64] = c.next_id;
			record(&c, c.next_id++, 'S', 3, KM_USB_EP_IN, NULL, EINPROGRESS_NEG,
			       FIX_TRANSFER, NULL, 0);
			off += used;
		}
	}
	control(&c, KM_PROTO_REQTYPE_OUT, KM_PROTO_REQ_STOP, 0, 0, 0, NULL, 0);
	return fclose(c.f);
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static int write_device(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/mat.umockdev", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	uint8_t desc[KM_USB_DEVICE_DESC_LEN + KM_USB_CONFIG_DESC_LEN];
	size_t a, b;
	const struct km_proto_device_id *id = &km_proto_devices[0];
	km_proto_device_descriptor(id->vid, id->pid, FIX_BCD_DEVICE, desc, sizeof desc, &a);
	km_proto_config_descriptor(desc + a, sizeof desc - a, &b);
	fprintf(f, "P: %s\n", FIX_SYSFS);
	/* The node without contents: umockdev wants text there, and libusb reads
	 * the descriptors from sysfs. */
	fprintf(f, "N: bus/usb/%03u/%03u\n", FIX_BUS, FIX_DEV);
	fprintf(f, "E: DEVNAME=%s\n", FIX_DEVNODE);
	fprintf(f, "E: DEVTYPE=usb_device\nE: DRIVER=usb\n");
	fprintf(f, "E: PRODUCT=%x/%x/%x\n", id->vid, id->pid, FIX_BCD_DEVICE);
	fprintf(f, "E: SUBSYSTEM=usb\nE: BUSNUM=%03u\nE: DEVNUM=%03u\n", FIX_BUS, FIX_DEV);
	fprintf(f, "A: bConfigurationValue=%u\\n\n", KM_USB_CONFIGURATION);
	fprintf(f, "A: bDeviceClass=00\\n\nA: bNumConfigurations=1\\n\n");
	fprintf(f, "A: busnum=%u\\n\nA: devnum=%u\\n\n", FIX_BUS, FIX_DEV);
	fprintf(f, "A: idProduct=%04x\\n\nA: idVendor=%04x\\n\n", id->pid, id->vid);
	fprintf(f, "A: manufacturer=%s\\n\nA: product=%s\\n\n", id->manufacturer, id->product);
	fprintf(f, "A: serial=KMSIM-%08X\\n\n", FIX_SERIAL_NUM);
	fprintf(f, "A: speed=12\\n\n");
	fprintf(f, "H: descriptors=");
	hex(f, desc, a + b);
	fprintf(f, "\n");
	return fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_usb_fixtures OUTDIR\n");
		return 2;
	}
	const char *dir = argv[1];
	struct km_sim_config sc = fix_sim_config();
	struct mat m;
	if (km_sim_create(&sc, &m.sim) != KM_OK || km_sim_info(m.sim, &m.info) != KM_OK) {
		fprintf(stderr, "gen_usb_fixtures: cannot create the virtual mat\n");
		return 1;
	}
	m.cap = km_sim_max_packet_bytes(m.sim);
	m.buf = malloc(m.cap);
	if (!m.buf)
		return 1;
	int rc = write_device(dir);
	struct cap c;
	if (!rc && !(rc = cap_open(&c, dir, "devices.pcap"))) {
		open_sequence(&c, &m);
		rc = fclose(c.f);
	}
	if (!rc)
		rc = write_stream(dir, 1, &m);
	if (!rc)
		rc = write_stream(dir, 4, &m);
	free(m.buf);
	km_sim_destroy(m.sim);
	if (rc)
		fprintf(stderr, "gen_usb_fixtures: failed\n");
	return rc ? 1 : 0;
}
