/* Body model: outline, posture, midline, landmarks, body coordinates, on a
 * synthesized lying body and on a real bed-mat map (PoPu, when present). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "km_internal.h"
#include "knotmap/body.h"

#define R 64
#define C 32
#define PITCH 30.0f

static void blob(float *m, float x, float y, float sx, float sy, float kpa)
{
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			float dx = ((float)c + 0.5f) * PITCH - x,
			      dy = ((float)r + 0.5f) * PITCH - y;
			m[r * C + c] +=
			    kpa * expf(-0.5f * (dx * dx / (sx * sx) + dy * dy / (sy * sy)));
		}
}

static void rect(float *m, int r0, int r1, int c0, int c1, float kpa)
{
	for (int r = r0; r <= r1; r++)
		for (int c = c0; c <= c1; c++)
			m[r * C + c] += kpa;
}

/* Lying on the back, head at row 0, midline at x = 480 mm (between columns
 * 15 and 16): head, a trunk 12 columns wide, two legs, and the bony peaks. */
static void supine(float *m, int side)
{
	memset(m, 0, sizeof(float) * R * C);
	float mid = 480.0f;
	blob(m, mid, 5 * PITCH, 50, 70, 4.0f);                 /* head, rows 2-8 */
	rect(m, 9, 36, side ? 13 : 10, side ? 18 : 21, 2.0f);  /* trunk */
	rect(m, 37, 59, side ? 13 : 11, side ? 18 : 14, 1.5f); /* legs */
	if (!side)
		rect(m, 37, 59, 17, 20, 1.5f);
	if (!side) {
		blob(m, mid - 120, 14.5f * PITCH, 30, 40, 4.0f); /* right shoulder blade */
		blob(m, mid + 120, 14.5f * PITCH, 30, 40, 4.0f); /* left shoulder blade */
		blob(m, mid, 29.5f * PITCH, 30, 30, 6.0f);       /* sacrum */
		rect(m, 26, 34, 11, 20, 2.0f); /* buttocks: the pelvis presses most */
		blob(m, mid - 90, 57.5f * PITCH, 20, 30, 5.0f); /* right heel */
		blob(m, mid + 90, 57.5f * PITCH, 20, 30, 5.0f); /* left heel */
	}
}

static km_body *mk(uint16_t rows, uint16_t cols, float pitch)
{
	struct km_body_config c = km_body_config_default();
	c.rows = rows;
	c.cols = cols;
	c.pitch_mm = pitch;
	km_body *b = NULL;
	cr_assert_eq(km_body_create(&c, &b), KM_OK);
	return b;
}

Test(body, supine_midline_and_landmarks)
{
	static float m[R * C];
	supine(m, 0);
	km_body *b = mk(R, C, PITCH);
	uint64_t a0 = km__alloc_count();
	cr_assert_eq(km_body_update(b, m), KM_OK);
	cr_expect_eq(km__alloc_count(), a0, "allocated per update");
	const struct km_body_model *o = km_body_model(b);
	cr_assert(o->found);
	cr_expect_eq(o->posture, KM_POSTURE_SUPINE, "%s", km_posture_name(o->posture));
	cr_expect(o->head_at_top);
	cr_expect_lt(fabsf(o->midline_x_mm - 480.0f), 20.0f, "midline %.0f", o->midline_x_mm);
	const struct km_body_point *lm = o->landmark;
	cr_assert(lm[KM_LANDMARK_SHOULDER_BLADE_LEFT].found &&
	          lm[KM_LANDMARK_SHOULDER_BLADE_RIGHT].found);
	cr_expect_lt(fabsf(lm[KM_LANDMARK_SHOULDER_BLADE_LEFT].x_mm - 600.0f), 31.0f);
	cr_expect_lt(fabsf(lm[KM_LANDMARK_SHOULDER_BLADE_RIGHT].x_mm - 360.0f), 31.0f);
	cr_expect_lt(fabsf(lm[KM_LANDMARK_SHOULDER_BLADE_LEFT].y_mm - 435.0f), 31.0f);
	cr_assert(lm[KM_LANDMARK_SACRUM].found);
	cr_expect_lt(fabsf(lm[KM_LANDMARK_SACRUM].y_mm - 885.0f), 31.0f);
	cr_expect_lt(fabsf(lm[KM_LANDMARK_SACRUM].x_mm - 480.0f), 31.0f);
	cr_expect(lm[KM_LANDMARK_HEAD].found);
	cr_expect(lm[KM_LANDMARK_HEEL_LEFT].found && lm[KM_LANDMARK_HEEL_RIGHT].found);
	cr_expect_gt(lm[KM_LANDMARK_HEEL_LEFT].x_mm, o->midline_x_mm);

	/* A spot 40 mm to the person's left of the spine, between the shoulder
	 * blades' rows: "left, upper back, 4 cm lateral of the spine". */
	struct km_body_position pos;
	cr_assert_eq(km_body_locate(o, o->midline_x_mm + 40.0f, 20.5f * PITCH, &pos), KM_OK);
	cr_expect_eq(pos.side, 1);
	cr_expect_eq(pos.region, KM_REGION_UPPER_BACK, "%s", km_body_region_name(pos.region));
	char text[160];
	km_body_describe(&pos, text, sizeof text);
	cr_expect(strstr(text, "left, upper back, 4 cm lateral of the spine") == text, "%s", text);
	cr_assert_eq(km_body_locate(o, o->midline_x_mm - 150.0f, 33.5f * PITCH, &pos), KM_OK);
	cr_expect_eq(pos.side, -1);
	cr_expect_eq(pos.region, KM_REGION_PELVIS, "%s", km_body_region_name(pos.region));

	/* The words on the viewer's markers and in the report (issue 20). */
	char name[KM_BODY_NAME_MAX];
	cr_expect(km_body_spot_name(o, o->midline_x_mm + 40.0f, 20.5f * PITCH, name, sizeof name));
	cr_expect_str_eq(name, "left upper back");
	cr_expect(km_body_spot_name(o, o->midline_x_mm - 150.0f, 33.5f * PITCH, name, sizeof name));
	cr_expect_str_eq(name, "right pelvis");
	cr_expect(km_body_spot_name(o, o->midline_x_mm, 20.5f * PITCH, name, sizeof name));
	cr_expect_str_eq(name, "upper back", "on the midline: the region alone");
	/* one of a pair: "left thigh", not "left thighs" */
	struct km_body_position thigh;
	float ty = o->top_mm + 0.7f * o->length_mm;
	cr_assert_eq(km_body_locate(o, o->midline_x_mm + 80.0f, ty, &thigh), KM_OK);
	cr_assert_eq(thigh.region, KM_REGION_THIGHS, "%s", km_body_region_name(thigh.region));
	cr_expect(km_body_spot_name(o, o->midline_x_mm + 80.0f, ty, name, sizeof name));
	cr_expect_str_eq(name, "left thigh");
	/* off the body, or cut short: no name, an empty buffer */
	cr_expect_not(km_body_spot_name(o, o->right_mm + 200.0f, 20.5f * PITCH, name, sizeof name));
	cr_expect_str_eq(name, "");
	cr_expect_not(km_body_spot_name(NULL, 0.0f, 0.0f, name, sizeof name));
	char small[6];
	cr_expect(km_body_spot_name(o, o->midline_x_mm + 40.0f, 20.5f * PITCH, small, sizeof small));
	cr_expect_str_eq(small, "left ", "always terminated");
	km_body_destroy(b);
}

Test(body, side_lying_and_no_body)
{
	static float m[R * C];
	supine(m, 1);
	km_body *b = mk(R, C, PITCH);
	cr_assert_eq(km_body_update(b, m), KM_OK);
	cr_expect_eq(km_body_model(b)->posture, KM_POSTURE_SIDE, "%s",
	             km_posture_name(km_body_model(b)->posture));
	memset(m, 0, sizeof m);
	blob(m, 480, 900, 10, 10, 200.0f); /* a ball alone is not a body */
	cr_assert_eq(km_body_update(b, m), KM_OK);
	cr_expect_not(km_body_model(b)->found);
	struct km_body_position pos;
	cr_expect_eq(km_body_locate(km_body_model(b), 1, 1, &pos), KM_ERR_NOT_FOUND);
	cr_expect_eq(km_body_update(NULL, m), KM_ERR_INVALID_ARG);
	km_body_destroy(b);
}

/* A file without a cell spacing: a whole body lying along the mat gives the
 * pitch an adult's length implies, in any units and over any offset; a back
 * filling a square mat, a ball, an empty or uniform map give none. */
Test(body, guess_pitch_from_a_whole_body)
{
	static float m[R * C], back[32 * 32];
	float pitch = -1.0f;
	supine(m, 0);
	cr_assert_eq(km_body_guess_pitch(m, R, C, &pitch), KM_OK);
	/* head to heels over rows 0-59 or so: 1.6 m / ~60 rows */
	cr_expect(pitch > KM_BODY_LYING_CONTACT_MM / 64 && pitch < KM_BODY_LYING_CONTACT_MM / 56,
	          "pitch %.2f", pitch);
	float first = pitch;
	for (int i = 0; i < R * C; i++)
		m[i] = 7.0f * m[i] + 100.0f; /* counts: another scale, an offset */
	cr_assert_eq(km_body_guess_pitch(m, R, C, &pitch), KM_OK);
	cr_expect_float_eq(pitch, first, 1e-4f, "%.3f vs %.3f", pitch, first);
	supine(m, 1);
	cr_expect_eq(km_body_guess_pitch(m, R, C, &pitch), KM_OK, "side-lying");

	/* a back filling a square mat: as long as wide */
	for (int r = 0; r < 32; r++)
		for (int c = 0; c < 32; c++)
			back[r * 32 + c] = (c >= 4 && c < 28) ? 3.0f + 0.05f * (float)r : 0.0f;
	pitch = -1.0f;
	cr_expect_eq(km_body_guess_pitch(back, 32, 32, &pitch), KM_ERR_NOT_FOUND);
	cr_expect_eq(pitch, -1.0f, "untouched");
	memset(m, 0, sizeof m);
	cr_expect_eq(km_body_guess_pitch(m, R, C, &pitch), KM_ERR_NOT_FOUND, "empty");
	blob(m, 480, 900, 40, 40, 200.0f);
	cr_expect_eq(km_body_guess_pitch(m, R, C, &pitch), KM_ERR_NOT_FOUND, "a ball");
	for (int i = 0; i < R * C; i++)
		m[i] = 5.0f;
	cr_expect_eq(km_body_guess_pitch(m, R, C, &pitch), KM_ERR_NOT_FOUND, "uniform");
	cr_expect_eq(km_body_guess_pitch(NULL, R, C, &pitch), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_body_guess_pitch(m, R, C, NULL), KM_ERR_INVALID_ARG);
	cr_expect_eq(km_body_guess_pitch(m, 0, C, &pitch), KM_ERR_SHAPE);
}

/* What `knotmap record` and the viewer's R key give the history: the
 * spot's body coordinates only when the posture says which side is the
 * person's left; nothing off the body, on a side-lying body or with none. */
Test(body, history_position)
{
	static float m[R * C];
	supine(m, 0);
	km_body *b = mk(R, C, PITCH);
	cr_assert_eq(km_body_update(b, m), KM_OK);
	const struct km_body_model *o = km_body_model(b);
	cr_assert_eq(o->posture, KM_POSTURE_SUPINE, "%s", km_posture_name(o->posture));
	float x = o->midline_x_mm - 150.0f, y = 33.5f * PITCH;
	struct km_body_position pos;
	cr_assert_eq(km_body_locate(o, x, y, &pos), KM_OK);
	char region[24] = "junk";
	int side = 7;
	float lat = -1.0f, along = -1.0f;
	cr_assert(km_body_history_position(o, x, y, region, sizeof region, &side, &lat, &along));
	cr_expect_str_eq(region, "pelvis");
	cr_expect_eq(side, -1, "the person's right");
	cr_expect_eq(lat, pos.lateral_mm);
	cr_expect_eq(along, pos.along_pct);
	cr_expect_gt(along, 0.0f);
	/* NULL outputs are skipped; a short buffer is terminated */
	char small[4];
	cr_expect(km_body_history_position(o, x, y, small, sizeof small, NULL, NULL, NULL));
	cr_expect_str_eq(small, "pel");
	/* off the body: nothing, the outputs cleared */
	cr_expect_not(km_body_history_position(o, o->right_mm + 200.0f, y, region, sizeof region,
	                                       &side, &lat, &along));
	cr_expect_str_eq(region, "");
	cr_expect(side == 0 && lat == 0.0f && along == 0.0f);
	cr_expect_not(
	    km_body_history_position(NULL, x, y, region, sizeof region, &side, &lat, &along));
	/* lying on the side: -1 / +1 would be the mat's sides, not the person's */
	supine(m, 1);
	cr_assert_eq(km_body_update(b, m), KM_OK);
	cr_assert_eq(o->posture, KM_POSTURE_SIDE, "%s", km_posture_name(o->posture));
	cr_assert_eq(km_body_locate(o, o->midline_x_mm + 60.0f, 20.5f * PITCH, &pos), KM_OK);
	cr_assert(pos.region != KM_REGION_OFF_BODY && pos.side_is_mat);
	cr_expect_not(km_body_history_position(o, o->midline_x_mm + 60.0f, 20.5f * PITCH, region,
	                                       sizeof region, &side, &lat, &along));
	cr_expect_str_eq(region, "");
	km_body_destroy(b);
}

Test(body, part_of_a_body_lying_is_on_its_back)
{
	/* The supine body from the head to the top of the thighs (rows 0..38:
	 * 1.17 m), the pelvis band lifted off the mat (a lumbar curve on a firm
	 * mat): the chest-against-pelvis rule would call it the front; part of
	 * a body lying is taken as lying on the back, its sides the person's. */
	static float m[R * C];
	supine(m, 0);
	for (int r = 22; r < R; r++)
		if (r <= 30 || r >= 39) /* the lifted lumbar band; the legs off the mat */
			for (int c = 0; c < C; c++)
				m[r * C + c] = 0.0f;
	km_body *b = mk(R, C, PITCH);
	cr_assert_eq(km_body_update(b, m), KM_OK);
	const struct km_body_model *md = km_body_model(b);
	cr_assert(md->found);
	cr_expect_eq(md->posture, KM_POSTURE_SUPINE, "%s", km_posture_name(md->posture));
	struct km_body_position pos;
	cr_assert_eq(km_body_locate(md, 600.0f, 400.0f, &pos), KM_OK);
	cr_expect_not(pos.side_is_mat, "a person's side");
	cr_expect_eq(pos.side, 1, "x > midline, head at row 0, on the back: the left");
	km_body_destroy(b);
}

/* ---- a real bed mat: PoPu (CC0), ../shared/data/lying ------------------- */

#define PR 64
#define PC 27

/* A Tactilus capture's 1728 readings as kPa (counts read as mmHg): the first
 * snapshot's, or with `mean` the mean of all of them (a file's first seconds,
 * as `knotmap analyze` averages them to guess a pitch). 0 when read. */
static int read_popu_snapshots(const char *path, float *out, bool mean)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	int snapshots = 0;
	for (const char *s = buf; (s = strstr(s, "\"tactilus_readings\"")) != NULL;) {
		const char *p = strchr(s, '[');
		if (!p)
			return -1;
		p++;
		for (int i = 0; i < PR * PC; i++) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p)
				return -1;
			out[i] = (snapshots ? out[i] : 0.0f) + (float)v * 0.1333f;
			p = end + strspn(end, ", \n\r\t");
		}
		snapshots++;
		s = p;
		if (!mean)
			break;
	}
	for (int i = 0; i < PR * PC && snapshots > 1; i++)
		out[i] /= (float)snapshots;
	return snapshots ? 0 : -1;
}

static int read_popu(const char *path, float *out)
{
	return read_popu_snapshots(path, out, false);
}

/* Unzips the PoPu preview into the build tree once; its folder, or NULL
 * (skip, or fail under CI=true) when the shared data is absent. */
static const char *popu_dir(void)
{
	static char dir[4096];
	const char *src = getenv("KM_SOURCE_DIR"), *bin = getenv("KM_BINARY_DIR");
	char zip[4096];
	snprintf(zip, sizeof zip, "%s/../shared/data/lying/popu_preview_data.zip", src ? src : ".");
	FILE *z = fopen(zip, "rb");
	if (!z) {
		const char *ci = getenv("CI");
		if (ci && !strcmp(ci, "true"))
			cr_assert_fail("%s is missing (CI=true: the shared data must be present)",
			               zip);
		cr_skip_test("%s is missing: real-body checks skipped", zip);
		return NULL;
	}
	fclose(z);
	snprintf(dir, sizeof dir, "%s/popu", bin ? bin : ".");
	char probe[4200], cmd[12600];
	snprintf(probe, sizeof probe, "%s/preview_data/tactilus_data/4/supine1_1.json", dir);
	FILE *t = fopen(probe, "rb");
	if (t) {
		fclose(t);
	} else {
		snprintf(cmd, sizeof cmd, "mkdir -p '%s' && unzip -q -o '%s' -d '%s'", dir, zip,
		         dir);
		cr_assert_eq(system(cmd), 0, "could not unzip %s", zip);
	}
	strncat(dir, "/preview_data", sizeof dir - strlen(dir) - 1);
	return dir;
}

Test(body, real_bed_mat_supine)
{
	const char *dir = popu_dir();
	if (!dir)
		return;
	static float m[PR * PC];
	char path[4300];
	km_body *b = mk(PR, PC, 32.0f);
	for (int k = 1; k <= 3; k++) {
		snprintf(path, sizeof path, "%s/tactilus_data/4/supine%d_1.json", dir, k);
		cr_assert_eq(read_popu(path, m), 0, "cannot read %s", path);
		cr_assert_eq(km_body_update(b, m), KM_OK);
		const struct km_body_model *o = km_body_model(b);
		cr_assert(o->found, "%s: no body", path);
		cr_expect_eq(o->posture, KM_POSTURE_SUPINE, "%s: %s", path,
		             km_posture_name(o->posture));
		cr_expect(o->head_at_top, "%s", path);
		/* The body lies across the middle of the 27 columns (864 mm). */
		cr_expect(o->midline_x_mm > 250.0f && o->midline_x_mm < 600.0f, "%s: midline %.0f",
		          path, o->midline_x_mm);
		/* Sacrum in rows 24-36 (the pressure peak of the pelvis), shoulder
		 * blades in rows 8-22, one either side of the midline. */
		const struct km_body_point *lm = o->landmark;
		cr_expect(lm[KM_LANDMARK_SACRUM].found, "%s", path);
		cr_expect(lm[KM_LANDMARK_SACRUM].y_mm > 24 * 32.0f &&
		              lm[KM_LANDMARK_SACRUM].y_mm < 37 * 32.0f,
		          "%s: sacrum at %.0f mm", path, lm[KM_LANDMARK_SACRUM].y_mm);
		for (int s = KM_LANDMARK_SHOULDER_BLADE_LEFT; s <= KM_LANDMARK_SHOULDER_BLADE_RIGHT;
		     s++) {
			cr_expect(lm[s].found, "%s: %s", path, km_landmark_name(s));
			cr_expect(lm[s].y_mm > 8 * 32.0f && lm[s].y_mm < 23 * 32.0f,
			          "%s: %s at %.0f", path, km_landmark_name(s), lm[s].y_mm);
		}
		cr_expect_gt(lm[KM_LANDMARK_SHOULDER_BLADE_LEFT].x_mm, o->midline_x_mm);
		cr_expect_lt(lm[KM_LANDMARK_SHOULDER_BLADE_RIGHT].x_mm, o->midline_x_mm);
	}
	km_body_destroy(b);
}

/* The real sheet gives no pitch: every posture of the PoPu volunteer (190 cm,
 * head to heels over most of the 64 rows), its snapshots averaged, reads as a
 * whole body lying, with cells coarser than a knot (18 mm), as a bed sheet's
 * are (about 30 mm: 64 rows for a body of 1.75 m head to heels). */
Test(body, real_bed_mat_guess_pitch)
{
	const char *dir = popu_dir();
	if (!dir)
		return;
	static float m[PR * PC];
	static const char *const posture[] = {"supine", "prone", "left", "right"};
	char path[4300];
	for (int p = 0; p < 4; p++)
		for (int k = 1; k <= 7; k++) {
			snprintf(path, sizeof path, "%s/tactilus_data/4/%s%d_1.json", dir, posture[p],
			         k);
			cr_assert_eq(read_popu_snapshots(path, m, true), 0, "cannot read %s", path);
			float pitch = 0.0f;
			cr_expect_eq(km_body_guess_pitch(m, PR, PC, &pitch), KM_OK, "%s", path);
			cr_expect(pitch > 20.0f && pitch < 35.0f, "%s: %.1f mm", path, pitch);
		}
}

/* Oblong cells: the supine map drawn at 30 x 30 mm and read as 40 mm between
 * rows and 20 mm between columns is a body 4/3 as long and 2/3 as wide: the
 * model's lengths, widths and positions are in each axis's mm. */
Test(body, oblong_cells_measure_in_mm_per_axis)
{
	float *m = calloc(R * C, sizeof(float));
	supine(m, 0);
	km_body *sq = mk(R, C, PITCH);
	cr_assert_eq(km_body_update(sq, m), KM_OK);
	struct km_body_model a = *km_body_model(sq);
	struct km_body_config c = km_body_config_default();
	c.rows = R;
	c.cols = C;
	c.pitch_mm = PITCH;
	c.row_pitch_mm = 40.0f;
	c.col_pitch_mm = 20.0f;
	km_body *ob = NULL;
	cr_assert_eq(km_body_create(&c, &ob), KM_OK);
	cr_assert_eq(km_body_update(ob, m), KM_OK);
	const struct km_body_model *b = km_body_model(ob);
	cr_assert(a.found && b->found);
	cr_expect_float_eq(b->length_mm, a.length_mm * 40.0f / PITCH, 1e-3f);
	cr_expect_float_eq(b->trunk_width_mm, a.trunk_width_mm * 20.0f / PITCH, 1e-3f);
	cr_expect_float_eq(b->midline_x_mm, a.midline_x_mm * 20.0f / PITCH, 1e-3f);
	cr_expect_float_eq(b->top_mm, a.top_mm * 40.0f / PITCH, 1e-3f);
	cr_expect_float_eq(b->right_mm, a.right_mm * 20.0f / PITCH, 1e-3f);
	c.col_pitch_mm = -1.0f;
	km_body *bad = NULL;
	cr_expect_eq(km_body_create(&c, &bad), KM_ERR_INVALID_ARG);
	cr_expect_null(bad);
	km_body_destroy(sq);
	km_body_destroy(ob);
	free(m);
}
