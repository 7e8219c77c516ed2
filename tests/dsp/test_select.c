/* The dsp's one quickselect (dsp/src/select.h): the k-th smallest against a
 * sorted copy, the partition it leaves, and the median's even-count rule. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../dsp/src/select.h"

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

Test(select, kth_matches_sort_and_partitions)
{
	enum { N = 257 };
	float v[N], sorted[N], a[N];
	unsigned s = 12345u;
	for (int trial = 0; trial < 40; trial++) {
		size_t n = 1 + (size_t)trial * 6 % N;
		for (size_t i = 0; i < n; i++) {
			s = s * 1103515245u + 12345u;
			/* few distinct values in some trials: many ties */
			v[i] = trial % 3 ? (float)((s >> 8) % 1000) / 7.0f - 50.0f
			                 : (float)((s >> 8) % 4);
		}
		memcpy(sorted, v, n * sizeof *v);
		qsort(sorted, n, sizeof *sorted, cmp);
		for (size_t k = 0; k < n; k += 1 + n / 9) {
			memcpy(a, v, n * sizeof *v);
			float r = km__select_kth(a, n, k);
			cr_assert_eq(r, sorted[k], "n %zu k %zu", n, k);
			for (size_t i = 0; i < k; i++)
				cr_assert_leq(a[i], r, "n %zu k %zu i %zu", n, k, i);
			for (size_t i = k + 1; i < n; i++)
				cr_assert_geq(a[i], r, "n %zu k %zu i %zu", n, k, i);
		}
	}
}

Test(select, median_even_count_is_the_mean_of_the_middle_two)
{
	float odd[] = {9.0f, 1.0f, 5.0f, 3.0f, 7.0f};
	cr_expect_eq(km__median(odd, 5), 5.0f);
	float even[] = {8.0f, 1.0f, 4.0f, 2.0f};
	cr_expect_eq(km__median(even, 4), 3.0f, "(2 + 4) / 2");
	float two[] = {-1.0f, 2.0f};
	cr_expect_eq(km__median(two, 2), 0.5f);
	cr_expect_eq(km__median(NULL, 0), 0.0f, "empty: 0");
	/* the upper middle value, as pipeline.c's noise and body medians take it */
	float up[] = {8.0f, 1.0f, 4.0f, 2.0f};
	cr_expect_eq(km__select_kth(up, 4, 2), 4.0f);
}
