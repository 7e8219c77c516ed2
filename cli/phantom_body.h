/*
 * The phantom body of knotmap evaluate (docs/accuracy.md, "Phantom family"):
 * an analytic adult lying on their back on a flat foam mat, written from
 * anatomy and the mat's physics, not from the virtual mat's body (the point is
 * a body the detector was not designed around). Shoulder blades as sharp bony
 * maxima with flanks, a low spinous midline between two paraspinal ridges,
 * ribs, lumbar lordosis, sacrum, buttocks and head; breathing, sway and sensor
 * noise; up to four knots p' = p (1 + s g(r)). Everything is drawn from the
 * seed: the same seed gives the same frames.
 *
 * Mat coordinates: x along the columns, y along the rows (mm from the mat's
 * top left corner), the head towards y < 0.
 */
#ifndef KM_CLI_PHANTOM_BODY_H
#define KM_CLI_PHANTOM_BODY_H

#include <stdint.h>

#include "eval_score.h"

#define KM_PHANTOM_KNOTS 4

enum km_phantom_region {
	KM_PHANTOM_SCAPULA,    /* within 40 mm of a shoulder-blade peak */
	KM_PHANTOM_SACRUM,     /* within 40 mm of the sacrum's peak */
	KM_PHANTOM_PARASPINAL, /* within 50 mm of the midline */
	KM_PHANTOM_OTHER,
	KM_PHANTOM_REGIONS
};
extern const char *const km_phantom_region_name[KM_PHANTOM_REGIONS];

struct km_phantom_config {
	uint16_t side;  /* square grid: side x side cells */
	float pitch_mm; /* cell pitch */
	uint64_t seed;  /* body, knots, breathing, sway and noise */
	int knots;      /* 0: none (lying still); else KM_PHANTOM_KNOTS */
	int quiet;      /* 1: no breathing, sway or noise (the static map; tests) */
	/* A robustness study's departures from the drawn body and sensor (0:
	 * drawn as usual): the cells' fixed gain errors (relative SD; drawn
	 * 1-3 %), the frame-to-frame relative noise (drawn 1-3 %), the largest
	 * rotation on the mat (degrees; drawn within 1.5), a factor on every
	 * pressure of the body (a lighter or heavier person, a softer or firmer
	 * mat; the sensor's own additive noise unchanged). */
	float gain_spread, noise_mult, tilt_deg, load_scale;
};

/* Where the body lies and what it presses (all drawn from the seed). */
struct km_phantom_body {
	float scale;                  /* body size against the reference adult (175 cm) */
	float theta;                  /* rotation on the mat, rad (small) */
	float ox, oy;                 /* mat position of the midline at the mat's top edge */
	float v_top;                  /* body coordinate (mm from the vertex) at that point */
	float base_kpa;               /* trunk load over the ribs */
	float scap_amp[2];            /* shoulder blade above the trunk (0: mat's left) */
	float scap_du[2], scap_dv[2]; /* their offsets from the mirror position */
	float ridge_u[2];             /* paraspinal ridges' distance from the midline */
	float ridge_amp[2];
	float sacrum_amp, sacrum_du;
	float butt_amp[2];
	float head_amp;
	float breath_amp, breath_hz, breath_phase;
	float sway_mm[2], sway_hz[2], sway_phase[2];
	float noise_mult, noise_add_kpa; /* frame to frame: relative SD, kPa SD */
	float gain_spread;               /* the cells' fixed gain errors (relative SD) */
};

struct km_phantom {
	uint16_t side;
	float pitch_mm;
	int quiet;
	struct km_phantom_body body;
	int nk;
	struct km_eval_knot knot[KM_PHANTOM_KNOTS]; /* at rest (no sway) */
	float scap_x[2], scap_y[2];                 /* shoulder-blade peaks (mat mm) */
	float sacrum_x, sacrum_y;                   /* sacrum's peak */
	float *map;       /* the static map with the knots, kPa per cell */
	float *breath_w;  /* how much of the breathing each cell takes */
	float *cell_gain; /* each sensel's fixed gain error (1: none) */
	uint64_t noise;   /* the noise's generator state */
};

/* 0, or -1 when out of memory or the config is out of range (side 8..256,
 * pitch 1..50 mm). */
int km_phantom_create(const struct km_phantom_config *cfg, struct km_phantom **out);
void km_phantom_destroy(struct km_phantom *ph);
/* The frame at t seconds (side x side kPa, row-major) and the sway it
 * carries (the knots' positions at t are knot + (dx, dy)). */
void km_phantom_frame(struct km_phantom *ph, double t, float *kpa, float *dx, float *dy);
/* The body's pressure at a mat point, without knots, breathing or noise. */
float km_phantom_pressure(const struct km_phantom *ph, float x, float y);
/* Distance of a mat point from the body's midline (mm, + towards +x). */
float km_phantom_lateral(const struct km_phantom *ph, float x, float y);
/* Region of a mat point (enum km_phantom_region); ctx is the phantom. */
int km_phantom_region(const void *ph, float x, float y);

#endif
