/*
 * knotmap evaluate, second body family: real lying bodies (the PoPu preview
 * maps, a real person on a real bed mat) with knots injected by the physics
 * of docs/accuracy.md ("Real-body family"), plus the lying-still check.
 * Prints its own tables; nothing in the detector was tuned on this family.
 */
#ifndef KM_CLI_EVAL_LYING_H
#define KM_CLI_EVAL_LYING_H

struct km_eval_lying_opts {
	const char *dir; /* the unzipped preview_data folder (tactilus_data/, segmentation_data/) */
	double seconds;  /* per recording (default 60) */
	unsigned seeds;  /* knot layouts per capture (default 1) */
	int still_only;  /* 1: only the lying-still check */
	const char *posture; /* only captures whose name starts with this (NULL: all) */
	/* Which captures: KM_LYING_REPORT (postures 2-7 of each side, the
	 * reporting split: never looked at while building the detector),
	 * KM_LYING_DEV (posture 1 of each side, supine1, prone1, left1, right1:
	 * looked at while building the trunk rule, docs/accuracy.md) or both. */
	enum km_lying_split { KM_LYING_REPORT = 0, KM_LYING_DEV, KM_LYING_ALL } split;
	double texture_k;    /* detector's texture_k for studies (negative: default) */
};

/* Returns 0 when every file read and ran, 1 otherwise (errors printed). */
int km_eval_lying(const struct km_eval_lying_opts *o);

#endif
