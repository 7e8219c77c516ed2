/* Shared between calibration.c and calibration_fit.c. */
#ifndef KM_CALIBRATION_INTERNAL_H
#define KM_CALIBRATION_INTERNAL_H

#include "knotmap/calibration.h"

/* The log given at create (never NULL for a valid cal). */
const struct km_log *km__calibration_log(const km_calibration *cal);

#endif
