/* Scoring shared by the body families of knotmap evaluate (eval_score.h). */
#include "eval_score.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint64_t km_eval_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double km_eval_rng_unit(uint64_t *s)
{
	return (double)(km_eval_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

double km_eval_rng_normal(uint64_t *s)
{
	double u = km_eval_rng_unit(s), v = km_eval_rng_unit(s);
	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * 3.14159265358979323846 * v);
}

int km_eval_strength_class(float s)
{
	return s < 0.2f ? 0 : s < 0.3f ? 1 : 2;
}

float km_eval_knot_excess(const struct km_eval_knot *k, int nk, float x, float y)
{
	float e = 0.0f;
	for (int n = 0; n < nk; n++) {
		float sg = 0.6f * k[n].r, dx = x - k[n].x, dy = y - k[n].y;
		e += k[n].s * expf(-(dx * dx + dy * dy) / (2 * sg * sg));
	}
	return e;
}

/* The stiffness profile seen through the cell's area (4 x 4 points). */
float km_eval_knot_gain(const struct km_eval_knot *k, int nk, float x0, float y0, float pitch)
{
	float sum = 0.0f;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			sum += km_eval_knot_excess(k, nk, x0 + (j + 0.5f) * pitch / 4,
			                           y0 + (i + 0.5f) * pitch / 4);
	return 1.0f + sum / 16.0f;
}

int km_eval_knot_near(const struct km_eval_knot *k, int nk, float x, float y)
{
	for (int j = 0; j < nk; j++)
		if (hypotf(x - k[j].x, y - k[j].y) <= fmaxf(KM_EVAL_MATCH_MIN_MM, k[j].r))
			return 1;
	return 0;
}

void km_eval_count_events(struct km_eval_events *ev, const struct km_pipeline_result *res,
                          const struct km_eval_knot *k, int nk)
{
	for (size_t i = 0; i < res->event_count; i++) {
		const struct km_event *e = &res->events[i];
		if (e->type == KM_EVENT_HOLD_ENGAGED)
			ev->holds++;
		else if (e->type == KM_EVENT_TENSING_UP)
			ev->tens++;
		else if (e->type == KM_EVENT_KNOT_FOUND && e->reason != KM_REASON_AGAIN) {
			ev->found++;
			ev->found_false += !km_eval_knot_near(k, nk, e->x_mm, e->y_mm);
		}
	}
}

static int live_unlabelled(const struct km_track *tr)
{
	return tr->state != KM_TRACK_END &&
	       !(tr->flags & (KM_CANDIDATE_LANDMARK | KM_CANDIDATE_MIDLINE));
}

void km_eval_score_frame(struct km_eval_tally *t, const struct km_eval_knot *k, int nk,
                         const struct km_pipeline_result *res, float pitch,
                         km_eval_region_fn region_of, const void *ctx)
{
	int used_k[KM_EVAL_MAX_KNOTS] = {0}, used_t[256] = {0};
	size_t nt = res->track_count < 256 ? res->track_count : 256;
	if (nk > KM_EVAL_MAX_KNOTS)
		nk = KM_EVAL_MAX_KNOTS;
	for (;;) {
		float best = INFINITY;
		size_t bi = 0, bj = 0;
		for (size_t j = 0; j < nt; j++) {
			const struct km_track *tr = &res->tracks[j];
			if (used_t[j] || !live_unlabelled(tr))
				continue;
			for (int i = 0; i < nk; i++) {
				float d = hypotf(tr->x_mm - k[i].x, tr->y_mm - k[i].y);
				if (!used_k[i] && d <= fmaxf(KM_EVAL_MATCH_MIN_MM, k[i].r) &&
				    d < best) {
					best = d;
					bi = (size_t)i;
					bj = j;
				}
			}
		}
		if (!isfinite(best))
			break;
		used_k[bi] = 1;
		used_t[bj] = 1;
		t->loc_sum += best;
		t->loc_pitch_sum += best / pitch;
	}
	for (int i = 0; i < nk; i++) {
		int si = km_eval_strength_class(k[i].s);
		t->gt[si]++;
		t->tp[si] += (uint64_t)used_k[i];
		t->reg_gt[k[i].reg]++;
		t->reg_tp[k[i].reg] += (uint64_t)used_k[i];
	}
	for (size_t j = 0; j < nt; j++) {
		const struct km_track *tr = &res->tracks[j];
		if (used_t[j] || !live_unlabelled(tr))
			continue;
		t->fp++;
		t->fp_reg[region_of(ctx, tr->x_mm, tr->y_mm)]++;
	}
}

void km_eval_end_run(struct km_eval_tally *t, const struct km_eval_events *ev, double secs)
{
	t->runs++;
	t->found += ev->found;
	t->found_false += ev->found_false;
	t->holds += ev->holds;
	t->tens += ev->tens;
	t->minutes += secs / 60.0;
}

void km_eval_tally_add(struct km_eval_tally *a, const struct km_eval_tally *b)
{
	for (int i = 0; i < 3; i++) {
		a->gt[i] += b->gt[i];
		a->tp[i] += b->tp[i];
	}
	for (int r = 0; r < KM_EVAL_MAX_REGIONS; r++) {
		a->reg_gt[r] += b->reg_gt[r];
		a->reg_tp[r] += b->reg_tp[r];
		a->fp_reg[r] += b->fp_reg[r];
	}
	a->fp += b->fp;
	a->loc_sum += b->loc_sum;
	a->loc_pitch_sum += b->loc_pitch_sum;
	a->runs += b->runs;
	a->found += b->found;
	a->found_false += b->found_false;
	a->holds += b->holds;
	a->tens += b->tens;
	a->errors += b->errors;
	a->minutes += b->minutes;
}

static void pr_ratio(double num, double den)
{
	if (den > 0)
		printf(" %6.3f |", num / den);
	else
		printf("      - |");
}

void km_eval_print_knots_header(void)
{
	printf("| grid             | recs | knot-f  | rec15  | rec25  | rec40  | rec25+ | recall | "
	       "prec15 | prec25 | prec40 | prec25+| precis | loc mm (pitch) | found/rec | "
	       "knotFA/min | holds | tens |\n");
	printf("|------------------|-----:|--------:|-------:|-------:|-------:|-------:|-------:|"
	       "-------:|-------:|-------:|-------:|-------:|-------------|------:|------:|-----:|"
	       "-----:|\n");
}

void km_eval_print_knots(const char *grid, const struct km_eval_tally *t)
{
	uint64_t gt = t->gt[0] + t->gt[1] + t->gt[2], tp = t->tp[0] + t->tp[1] + t->tp[2];
	uint64_t gt25 = t->gt[1] + t->gt[2], tp25 = t->tp[1] + t->tp[2];
	printf("| %-16s | %4u | %7llu |", grid, t->runs, (unsigned long long)gt);
	for (int i = 0; i < 3; i++)
		pr_ratio((double)t->tp[i], (double)t->gt[i]);
	pr_ratio((double)tp25, (double)gt25);
	pr_ratio((double)tp, (double)gt);
	/* Precision per strength class: false tracks are not of any class, so
	 * each class is charged all of them (a lower bound). */
	for (int i = 0; i < 3; i++)
		pr_ratio((double)t->tp[i], (double)(t->tp[i] + t->fp));
	pr_ratio((double)tp25, (double)(tp25 + t->fp));
	pr_ratio((double)tp, (double)(tp + t->fp));
	if (tp)
		printf(" %4.1f (%4.2f) |", t->loc_sum / (double)tp, t->loc_pitch_sum / (double)tp);
	else
		printf(" -           |");
	printf(" %5.1f | %5.1f | %4u | %4u |\n", t->found / (double)(t->runs ? t->runs : 1),
	       t->found_false / fmax(t->minutes, 1e-9), t->holds, t->tens);
}

void km_eval_print_regions_header(void)
{
	printf("| grid             | region         | knot-f  | recall | false tracks |\n");
	printf("|------------------|----------------|--------:|-------:|-------------:|\n");
}

void km_eval_print_regions(const char *grid, const struct km_eval_tally *t,
                           const char *const *names, int n)
{
	uint64_t fp = t->fp ? t->fp : 1;
	for (int r = 0; r < n && r < KM_EVAL_MAX_REGIONS; r++) {
		printf("| %-16s | %-14s | %7llu |", grid, names[r],
		       (unsigned long long)t->reg_gt[r]);
		pr_ratio((double)t->reg_tp[r], (double)t->reg_gt[r]);
		printf(" %5.1f %% |\n", 100.0 * (double)t->fp_reg[r] / (double)fp);
	}
}

void km_eval_print_legend(void)
{
	printf(
	    "\n(knot-f: knot-frames scored; rec15 / rec25 / rec40: recall of the +15, +25 and\n"
	    "+40 %% knots, rec25+ of the +25 and +40 %% ones; prec*: precision with every false\n"
	    "track charged to that class (a lower bound); found/rec: KNOT_FOUND per recording,\n"
	    "4 real knots each; knotFA/min: KNOT_FOUND farther than max(20 mm, R) from every\n"
	    "knot; holds / tens: HOLD_ENGAGED and TENSING_UP events, none expected with no\n"
	    "tool; false tracks: share of the unmatched tracks by region.)\n");
}
