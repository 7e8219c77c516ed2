/*
 * Order statistics for the dsp (internal): one quickselect that detect.c and
 * pipeline.c share, so their medians cannot drift apart.
 */
#ifndef KM_DSP_SELECT_H
#define KM_DSP_SELECT_H

#include <stddef.h>

/* The k-th smallest of a[0..n) (Hoare's quickselect), n >= 1 and k < n;
 * reorders a. Without NaN it leaves a[0..k) <= a[k] <= a(k..n), which
 * detect.c's fast_kth relies on; with NaN the answer depends on the order
 * (detect.c's robust_sd keeps that path exactly as it was). */
float km__select_kth(float *a, size_t n, size_t k);

/* The median of a[0..n), reordered: for even n the mean of the two middle
 * values; 0 when n is 0. (pipeline.c's noise and body medians take the
 * upper middle value, km__select_kth(a, n, n / 2), instead.) */
float km__median(float *a, size_t n);

#endif
