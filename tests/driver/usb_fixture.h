/*
 * What the USB tests share with the generator of their fixtures: where the
 * emulated mat sits on the fake bus and which virtual mat it is.
 */
#ifndef KM_TEST_USB_FIXTURE_H
#define KM_TEST_USB_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "knotmap/sim.h"

#define FIX_BUS 1
#define FIX_DEV 2
#define FIX_SYSFS "/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define FIX_DEVNODE "/dev/bus/usb/001/002"
#define FIX_SEED 11
#define FIX_SERIAL_NUM 0x4B4D0042u
#define FIX_FRAMES 120     /* frames in each streaming capture */
#define FIX_TRANSFER 16384 /* the driver's default bulk transfer size */
#define FIX_BCD_DEVICE 0x0100

/* The virtual mat behind the captures and the live emulator. */
static inline struct km_sim_config fix_sim_config(void)
{
	struct km_sim_config sc = km_sim_config_default();
	sc.seed = FIX_SEED;
	sc.serial = FIX_SERIAL_NUM;
	sc.rows = 32;
	sc.cols = 48;
	sc.start_running = false;
	return sc;
}

#endif
