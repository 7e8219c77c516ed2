/* Order statistics for the dsp; see select.h. */
#include "select.h"

float km__select_kth(float *a, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
	while (lo < hi) {
		float pivot = a[lo + (hi - lo) / 2];
		ptrdiff_t i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				float t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		if (kk <= j)
			hi = j;
		else if (kk >= i)
			lo = i;
		else
			return a[kk];
	}
	return a[kk];
}

float km__median(float *a, size_t n)
{
	if (n == 0)
		return 0.0f;
	float m = km__select_kth(a, n, n / 2);
	if (n % 2 == 0)
		m = 0.5f * (m + km__select_kth(a, n, n / 2 - 1));
	return m;
}
