/*
 * knotmap evaluate, third body family: the phantom, an analytic supine adult
 * written from anatomy (phantom_body.h), not from the virtual mat's body,
 * with four knots per recording at three grids, run through the analysis
 * `knotmap analyze` gives an imported .npy in kPa. A TUNING split
 * (docs/accuracy.md, "Phantom family"). Prints its own tables.
 */
#ifndef KM_CLI_EVAL_PHANTOM_H
#define KM_CLI_EVAL_PHANTOM_H

#define KM_PHANTOM_GRIDS 3

struct km_eval_phantom_opts {
	unsigned seeds; /* recordings with knots per grid (default 30) */
	double seconds; /* per recording (default 60) */
	int grid; /* -1: every grid; else 0 (32x32 @ 12 mm), 1 (64x64 @ 8 mm), 2 (128 @ 4 mm) */
	double min_response_kpa; /* the detector's floor, for studies (negative: default) */
	double texture_k;        /* the detector's texture factor (negative: default) */
	/* A robustness study (0: as drawn; phantom_body.h): the cells' fixed
	 * gain errors, the frame noise (relative SDs), the largest tilt (deg). */
	double gain_spread, noise, tilt_deg, load_scale;
	/* > 0: one grid of this pitch instead (a 512 mm mat; grid is ignored). */
	double pitch_mm;
	double knot_max_pitch_mm; /* the pipeline's coarse-cells limit (negative: default) */
	int counts; /* 1: the frames read as counts, as analyze reads an .npy without units */
	/* > 0: the analysis takes the cells for this pitch (as analyze takes an
	 * .npy that gives none for 10 mm); knots are scored where it puts them. */
	double read_pitch_mm;
};

/* The grid index for a side of 32, 64 or 128 cells, else -1. */
int km_eval_phantom_grid(long side);
/* Returns 0 when every recording ran, 1 otherwise (errors printed). */
int km_eval_phantom(const struct km_eval_phantom_opts *o);

#endif
