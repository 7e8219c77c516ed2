/*
 * Helper for test_usb's permission test: runs as a fresh process (exec'd, so
 * no locks inherited from the test's threads), drops root, tries the mat and
 * reports what it saw as exit-status bits (see enum in test_usb.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "knotmap/device.h"
#include "knotmap/stream.h"

enum { P_CREATE = 1, P_HINT = 2, P_UDEVADM = 4, P_AUTO = 8, P_LIST = 16, P_LIST_STATUS = 32 };

static char log_text[8192];

static void collect(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	size_t n = strlen(log_text);
	snprintf(log_text + n, sizeof log_text - n, "%s: %s\n", module, msg);
}

int main(void)
{
	if (getuid() == 0 && setresuid(65534, 65534, 65534) != 0)
		return 0;
	int ok = 0;
	struct km_stream_config c = km_stream_config_default();
	c.transport = KM_TRANSPORT_LIBUSB;
	c.control_timeout_ms = 500;
	c.log.fn = collect;
	c.log.max_level = KM_LOG_DEBUG;
	km_stream *s = NULL;
	if (km_stream_create(&c, &s) == KM_ERR_PERMISSION && !s)
		ok |= P_CREATE;
	if (strstr(log_text, "70-knotmap.rules"))
		ok |= P_HINT;
	if (strstr(log_text, "udevadm"))
		ok |= P_UDEVADM;
	/* a plugged-in mat the user cannot open is an error, not a silent sim */
	c.transport = KM_TRANSPORT_AUTO;
	if (km_stream_create(&c, &s) == KM_ERR_PERMISSION)
		ok |= P_AUTO;
	else
		km_stream_destroy(s);
	struct km_device_info d[2];
	size_t n = 0;
	if (km_device_list(NULL, NULL, d, 2, &n) == KM_OK && n == 1)
		ok |= P_LIST;
	if (n == 1 && d[0].status == KM_ERR_PERMISSION)
		ok |= P_LIST_STATUS;
	if (!(ok & P_CREATE))
		fprintf(stderr, "usb_perm_helper log:\n%s", log_text);
	return ok;
}
