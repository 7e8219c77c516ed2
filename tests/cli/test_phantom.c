/*
 * The phantom body of knotmap evaluate (cli/phantom_body.c), unit by unit:
 * four knots as specified, the knots' physics in the rendered map, a body
 * mirrored within its stated asymmetry, pressures of a person lying on foam,
 * breathing and noise, and the same frames for the same seed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/body.h"
#include "phantom_body.h"

static const uint16_t sides[3] = {32, 64, 128};
static const float pitches[3] = {12.0f, 8.0f, 4.0f};

static struct km_phantom *make(int g, uint64_t seed, int knots, int quiet)
{
	struct km_phantom_config c = {
	    .side = sides[g], .pitch_mm = pitches[g], .seed = seed, .knots = knots, .quiet = quiet};
	struct km_phantom *ph = NULL;
	cr_assert_eq(km_phantom_create(&c, &ph), 0);
	cr_assert_not_null(ph);
	return ph;
}

Test(phantom, bad_config_is_refused)
{
	struct km_phantom *ph = (struct km_phantom *)1;
	struct km_phantom_config c = {.side = 4, .pitch_mm = 8.0f, .seed = 1, .knots = 1};
	cr_expect_eq(km_phantom_create(&c, &ph), -1);
	cr_expect_null(ph);
	c.side = 64;
	c.pitch_mm = NAN;
	cr_expect_eq(km_phantom_create(&c, &ph), -1);
	c.pitch_mm = 8.0f;
	c.tilt_deg = 45.0f;
	cr_expect_eq(km_phantom_create(&c, &ph), -1);
	c.tilt_deg = 0.0f;
	c.gain_spread = -0.1f;
	cr_expect_eq(km_phantom_create(&c, &ph), -1);
	c.gain_spread = 0.0f;
	c.load_scale = NAN;
	cr_expect_eq(km_phantom_create(&c, &ph), -1);
}

/* A study's load factor scales the body's pressures, not its shape: the
 * same knots, every cell of the static map times the factor. */
Test(phantom, study_scales_the_load)
{
	struct km_phantom_config c = {
	    .side = 32, .pitch_mm = 12.0f, .seed = 5, .knots = 1, .quiet = 1};
	struct km_phantom *one = NULL, *three = NULL;
	cr_assert_eq(km_phantom_create(&c, &one), 0);
	c.load_scale = 3.0f;
	cr_assert_eq(km_phantom_create(&c, &three), 0);
	for (int i = 0; i < 32 * 32; i++)
		cr_assert_float_eq(three->map[i], 3.0f * one->map[i], 1e-4f * (1.0f + one->map[i]),
		                   "cell %d", i);
	for (int i = 0; i < 4; i++)
		cr_expect_float_eq(three->knot[i].x, one->knot[i].x, 1e-4);
	km_phantom_destroy(one);
	km_phantom_destroy(three);
}

/* A robustness study's settings replace the drawn ones: the cells' fixed
 * gain errors get the SD asked for, and the rest of the body is drawn as
 * without them (the same seed, the same knots). */
Test(phantom, study_sets_the_cells_gain_errors)
{
	struct km_phantom_config c = {.side = 64, .pitch_mm = 8.0f, .seed = 3, .knots = 1};
	struct km_phantom *plain = NULL, *rough = NULL;
	cr_assert_eq(km_phantom_create(&c, &plain), 0);
	c.gain_spread = 0.08f;
	cr_assert_eq(km_phantom_create(&c, &rough), 0);
	double sum = 0.0, sum2 = 0.0;
	size_t n = (size_t)c.side * c.side;
	for (size_t i = 0; i < n; i++) {
		double g = rough->cell_gain[i] - 1.0;
		sum += g;
		sum2 += g * g;
	}
	double sd = sqrt(sum2 / (double)n - (sum / (double)n) * (sum / (double)n));
	cr_expect(sd > 0.07 && sd < 0.09, "gain SD %.4f, asked 0.08", sd);
	cr_expect(plain->body.gain_spread < 0.031f, "drawn 1-3 %%: %.4f",
	          (double)plain->body.gain_spread);
	for (int i = 0; i < 4; i++) {
		cr_expect_float_eq(rough->knot[i].x, plain->knot[i].x, 1e-4);
		cr_expect_float_eq(rough->knot[i].y, plain->knot[i].y, 1e-4);
	}
	km_phantom_destroy(plain);
	km_phantom_destroy(rough);
}

Test(phantom, four_knots_as_specified)
{
	for (int g = 0; g < 3; g++)
		for (uint64_t s = 1; s <= 12; s++) {
			struct km_phantom *ph = make(g, s, 1, 1);
			float mat = sides[g] * pitches[g];
			cr_assert_eq(ph->nk, 4, "grid %d seed %llu", g, (unsigned long long)s);
			int cls[3] = {0};
			for (int i = 0; i < 4; i++) {
				const struct km_eval_knot *k = &ph->knot[i];
				int c = km_eval_strength_class(k->s);
				cr_expect(fabsf(k->s - (c == 0   ? 0.15f
				                        : c == 1 ? 0.25f
				                                 : 0.40f)) < 1e-6f);
				cls[c]++;
				cr_expect(k->r >= 7.0f && k->r <= 25.0f, "radius %g", k->r);
				cr_expect(k->x >= 20.0f && k->x <= mat - 20.0f && k->y >= 20.0f &&
				          k->y <= mat - 20.0f);
				/* on loaded soft tissue, off the spinous processes */
				cr_expect_geq(km_phantom_pressure(ph, k->x, k->y), 1.5f);
				cr_expect_geq(fabsf(km_phantom_lateral(ph, k->x, k->y)), 20.0f);
				cr_expect_eq(k->reg, km_phantom_region(ph, k->x, k->y));
				for (int j = 0; j < i; j++)
					cr_expect_geq(
					    hypotf(k->x - ph->knot[j].x, k->y - ph->knot[j].y),
					    40.0f);
			}
			cr_expect(cls[0] >= 1 && cls[1] >= 1 && cls[2] >= 1,
			          "one each of +15, +25, +40 %%: %d %d %d", cls[0], cls[1], cls[2]);
			km_phantom_destroy(ph);
		}
}

/* The knots over many seeds land in every region of the back but the
 * sacrum's tip: one a recording near a shoulder blade, one beside the spine
 * (when there is room), the rest anywhere. */
Test(phantom, knots_cover_the_back)
{
	int reg[KM_PHANTOM_REGIONS] = {0};
	for (uint64_t s = 1; s <= 30; s++) {
		struct km_phantom *ph = make(1, s, 1, 1);
		for (int i = 0; i < ph->nk; i++)
			reg[ph->knot[i].reg]++;
		km_phantom_destroy(ph);
	}
	cr_expect_geq(reg[KM_PHANTOM_SCAPULA], 27, "%d of 120", reg[KM_PHANTOM_SCAPULA]);
	cr_expect_geq(reg[KM_PHANTOM_PARASPINAL], 27, "%d of 120", reg[KM_PHANTOM_PARASPINAL]);
	cr_expect_gt(reg[KM_PHANTOM_OTHER], 10, "%d of 120", reg[KM_PHANTOM_OTHER]);
}

/* p' = p (1 + s g(r)) averaged over the cell: the rendered map (4 x 4 points
 * a cell) against a fine integral (32 x 32 points) of the same physics, and
 * against the same body without knots. */
Test(phantom, knot_excess_follows_the_physics)
{
	for (int g = 0; g < 3; g++)
		for (uint64_t s = 1; s <= 4; s++) {
			struct km_phantom *ph = make(g, s, 1, 1), *bare = make(g, s, 0, 1);
			float p = pitches[g];
			int n = sides[g];
			for (int i = 0; i < ph->nk; i++) {
				const struct km_eval_knot *k = &ph->knot[i];
				int r = (int)(k->y / p), c = (int)(k->x / p);
				double num = 0.0, den = 0.0;
				for (int a = 0; a < 32; a++)
					for (int b = 0; b < 32; b++) {
						float x = (c + (b + 0.5f) / 32) * p,
						      y = (r + (a + 0.5f) / 32) * p;
						float pr = km_phantom_pressure(ph, x, y);
						num += pr * (1.0f + km_eval_knot_excess(
						                        ph->knot, ph->nk, x, y));
						den += pr;
					}
				float with = ph->map[r * n + c], without = bare->map[r * n + c];
				cr_expect(fabsf(with - (float)(num / (32 * 32))) < 0.02f * with,
				          "grid %d seed %llu knot %d: %g vs %g", g,
				          (unsigned long long)s, i, with, num / (32 * 32));
				/* The excess at the centre: the knot's own s g, through the cell.
				 */
				float excess = with / without - 1.0f,
				      want = (float)(num / den) - 1.0f;
				cr_expect(fabsf(excess - want) < 0.1f * k->s + 0.005f, "%g vs %g",
				          excess, want);
				cr_expect(excess > 0.0f && excess <= k->s + 0.01f, "%g of %g",
				          excess, k->s);
			}
			/* Far from every knot nothing changes. */
			int far = 0;
			for (int r = 0; r < n; r++)
				for (int c = 0; c < n; c++) {
					float x = (c + 0.5f) * p, y = (r + 0.5f) * p, d = INFINITY;
					for (int i = 0; i < ph->nk; i++)
						d = fminf(d, hypotf(x - ph->knot[i].x,
						                    y - ph->knot[i].y) -
						                 3.0f * ph->knot[i].r);
					if (d > p) {
						far++;
						cr_expect_float_eq(ph->map[r * n + c],
						                   bare->map[r * n + c], 1e-4f);
					}
				}
			cr_expect_gt(far, n * n / 2);
			km_phantom_destroy(ph);
			km_phantom_destroy(bare);
		}
}

/* The body is mirrored about its midline but for the stated asymmetry: up to
 * 10 % between the shoulder blades' strengths and 4 mm of offset each. */
Test(phantom, mirrored_within_the_asymmetry)
{
	int asymmetric = 0;
	for (uint64_t s = 1; s <= 20; s++) {
		struct km_phantom *ph = make(2, s, 0, 1);
		const struct km_phantom_body *b = &ph->body;
		float ll = km_phantom_lateral(ph, ph->scap_x[0], ph->scap_y[0]);
		float lr = km_phantom_lateral(ph, ph->scap_x[1], ph->scap_y[1]);
		cr_expect(ll < -50.0f && lr > 50.0f, "left %g right %g", ll, lr);
		cr_expect_leq(fabsf(ll + lr), 2 * 4.0f * b->scale + 0.01f);
		cr_expect_leq(fabsf(b->scap_amp[0] - b->scap_amp[1]),
		              0.10f * fmaxf(b->scap_amp[0], b->scap_amp[1]) + 1e-4f);
		/* In the rendered map: the two peaks, one each side. */
		int n = sides[2];
		float best[2] = {0}, bx[2] = {0}, by[2] = {0};
		for (int r = 0; r < n; r++)
			for (int c = 0; c < n; c++) {
				float x = (c + 0.5f) * 4.0f, y = (r + 0.5f) * 4.0f;
				if (fabsf(y - ph->scap_y[0]) > 40.0f)
					continue;
				int side = km_phantom_lateral(ph, x, y) > 0.0f;
				if (ph->map[r * n + c] > best[side]) {
					best[side] = ph->map[r * n + c];
					bx[side] = x;
					by[side] = y;
				}
			}
		cr_expect(fabsf(best[0] - best[1]) <= 0.12f * fmaxf(best[0], best[1]),
		          "seed %llu peaks %g %g", (unsigned long long)s, best[0], best[1]);
		cr_expect_leq(fabsf(km_phantom_lateral(ph, bx[0], by[0]) +
		                    km_phantom_lateral(ph, bx[1], by[1])),
		              2 * 4.0f * b->scale + 2 * 4.0f);
		cr_expect_leq(fabsf(by[0] - by[1]), 2 * 4.0f * b->scale + 2 * 4.0f + 5.0f);
		asymmetric += fabsf(best[0] - best[1]) > 0.01f * best[0];
		km_phantom_destroy(ph);
	}
	cr_expect_gt(asymmetric, 5, "real bodies are not symmetric: %d of 20", asymmetric);
}

/* Pressures of a supine adult on foam: 5-15 kPa peaks, 1-5 kPa elsewhere. */
Test(phantom, pressures_of_a_back_on_foam)
{
	for (int g = 0; g < 3; g++)
		for (uint64_t s = 1; s <= 6; s++) {
			struct km_phantom *ph = make(g, s, 0, 1);
			int n = sides[g];
			float peak = 0.0f;
			size_t loaded = 0, mid = 0;
			for (int i = 0; i < n * n; i++) {
				peak = fmaxf(peak, ph->map[i]);
				loaded += ph->map[i] > 0.5f;
				mid += ph->map[i] > 1.0f && ph->map[i] < 5.0f;
			}
			cr_expect(peak >= 5.0f && peak <= 15.0f, "peak %g", peak);
			for (int k = 0; k < 2; k++)
				cr_expect(km_phantom_pressure(ph, ph->scap_x[k], ph->scap_y[k]) >=
				          5.0f);
			cr_expect_gt(loaded, (size_t)(n * n) / 3, "the back fills the mat");
			cr_expect_gt(mid, loaded * 3 / 4, "most of the back 1-5 kPa");
			km_phantom_destroy(ph);
		}
}

/* Breathing (a few % at ~0.25 Hz), sway and noise change every frame; the
 * same seed gives the same frames, another seed another body. */
Test(phantom, breathing_noise_and_determinism)
{
	int n = sides[0];
	size_t cells = (size_t)n * n;
	float *a = malloc(cells * sizeof *a), *b = malloc(cells * sizeof *b);
	cr_assert(a && b);
	struct km_phantom *p1 = make(0, 7, 1, 0), *p2 = make(0, 7, 1, 0), *p3 = make(0, 8, 1, 0);
	float dx1, dy1, dx2, dy2, lo = INFINITY, hi = 0.0f;
	for (int f = 0; f < 125; f++) {
		double t = f / 25.0;
		km_phantom_frame(p1, t, a, &dx1, &dy1);
		km_phantom_frame(p2, t, b, &dx2, &dy2);
		cr_assert_eq(memcmp(a, b, cells * sizeof *a), 0, "frame %d differs", f);
		cr_expect(dx1 == dx2 && dy1 == dy2);
		cr_expect(fabsf(dx1) <= 1.5f && fabsf(dy1) <= 1.5f, "sway %g %g", dx1, dy1);
		double sum = 0.0;
		for (size_t i = 0; i < cells; i++) {
			cr_assert(a[i] >= 0.0f && isfinite(a[i]));
			sum += a[i];
		}
		lo = fminf(lo, (float)sum);
		hi = fmaxf(hi, (float)sum);
	}
	/* 5 s: more than one breath; the total swings by a few % (2-4 % each
	 * way on the chest, less on the pelvis). */
	cr_expect(hi / lo > 1.02f && hi / lo < 1.10f, "breathing %g", hi / lo);
	km_phantom_frame(p3, 0.0, b, &dx2, &dy2);
	km_phantom_frame(p2, 5.0, a, &dx1, &dy1);
	cr_expect_neq(memcmp(a, b, cells * sizeof *a), 0);
	cr_expect(p3->knot[0].x != p1->knot[0].x || p3->knot[0].y != p1->knot[0].y);
	/* Two frames of the same phantom differ (noise), by a few % where loaded. */
	km_phantom_frame(p1, 10.0, a, &dx1, &dy1);
	km_phantom_frame(p1, 10.0, b, &dx2, &dy2);
	double d2 = 0.0, m2 = 0.0;
	for (size_t i = 0; i < cells; i++)
		if (p1->map[i] > 2.0f) {
			d2 += (double)(a[i] - b[i]) * (a[i] - b[i]);
			m2 += (double)p1->map[i] * p1->map[i];
		}
	double rel = sqrt(d2 / m2 / 2.0);
	cr_expect(rel > 0.005 && rel < 0.05, "frame-to-frame noise %g", rel);
	km_phantom_destroy(p1);
	km_phantom_destroy(p2);
	km_phantom_destroy(p3);
	free(a);
	free(b);
}

/* A back on a square mat (the phantom's three grids, 20 seeds) is no whole
 * body lying along the mat: an .npy of it without a pitch keeps the import
 * default instead of a guess from a body's length (knotmap/body.h). */
Test(phantom, a_back_gives_no_pitch_guess)
{
	for (int g = 0; g < 3; g++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			struct km_phantom *ph = make(g, seed, 1, 0);
			size_t n = (size_t)sides[g] * sides[g];
			float *m = calloc(n, sizeof *m);
			cr_assert_not_null(m);
			float dx, dy, pitch = 0.0f;
			km_phantom_frame(ph, 1.0, m, &dx, &dy);
			cr_expect_eq(km_body_guess_pitch(m, sides[g], sides[g], &pitch), KM_ERR_NOT_FOUND,
			             "%u cells, seed %llu: guessed %.1f mm", (unsigned)sides[g],
			             (unsigned long long)seed, pitch);
			free(m);
			km_phantom_destroy(ph);
		}
}
