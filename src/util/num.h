/*
 * num.h -- the few functions of <math.h> mist needs, without libm.
 *
 * Linking libm costs every agent about half a megabyte of resident memory
 * (its pages are mapped and relocated at load), an eighth of an idle
 * agent, for four calls.  These are enough for what mist computes: cluster
 * sizes' logarithms for SWIM's timeouts and budgets, and comparisons.
 * Integer logarithms are exact (no rounding can turn log10(100) into
 * 2.0000000000000004 and ceil it to 3).
 */
#ifndef MIST_UTIL_NUM_H_INCLUDED
#define MIST_UTIL_NUM_H_INCLUDED

#include <stdint.h>

/** Natural logarithm of @a x > 0 (within a few ulps); NaN if x <= 0 or
 * NaN, +inf for +inf. */
double num_ln(double x);

static inline double
num_log10(double x)
{
	return num_ln(x) / 2.30258509299404568402;
}

/** The smallest d with base^d >= n (0 for n <= 1): ceil(log_base(n)). */
static inline uint32_t
num_ceil_log(uint64_t n, uint64_t base)
{
	uint32_t d = 0;
	for (uint64_t p = 1; p < n; d++) {
		if (p > UINT64_MAX / base)
			return d + 1;
		p *= base;
	}
	return d;
}

static inline double
num_max(double a, double b)
{
	return a > b ? a : b;
}

static inline double
num_min(double a, double b)
{
	return a < b ? a : b;
}

#endif
