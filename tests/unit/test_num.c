/*
 * test_num.c -- util/num.h against libm (which the tests may link and mist
 * does not): logarithms within a few ulps across the whole double range,
 * integer logarithms exact at every power.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "util/num.h"

static void
assert_close(double got, double want)
{
	double tol = 4 * DBL_EPSILON * fmax(1.0, fabs(want));
	cr_assert(fabs(got - want) <= tol, "%.17g vs libm %.17g", got, want);
}

Test(num, ln_matches_libm_across_the_range)
{
	for (double x = 1e-300; x < 1e300; x *= 1.37)
		assert_close(num_ln(x), log(x));
	for (int i = 1; i <= 100000; i++)
		assert_close(num_ln((double)i), log((double)i));
	assert_close(num_ln(DBL_MIN / 1024), log(DBL_MIN / 1024)); /* subnormal */
	assert_close(num_ln(DBL_MAX), log(DBL_MAX));
	cr_assert_eq(num_ln(1.0), 0.0);
	for (int i = 1; i <= 1000; i++)
		assert_close(num_log10((double)i), log10((double)i));
}

Test(num, ln_of_what_has_no_logarithm)
{
	cr_assert(isnan(num_ln(0.0)));
	cr_assert(isnan(num_ln(-1.0)));
	cr_assert(isnan(num_ln(NAN)));
	cr_assert(isinf(num_ln(INFINITY)));
}

Test(num, integer_logarithms_are_exact)
{
	cr_assert_eq(num_ceil_log(0, 10), 0);
	cr_assert_eq(num_ceil_log(1, 10), 0);
	cr_assert_eq(num_ceil_log(2, 10), 1);
	cr_assert_eq(num_ceil_log(10, 10), 1);
	cr_assert_eq(num_ceil_log(11, 10), 2);
	cr_assert_eq(num_ceil_log(100, 10), 2);
	cr_assert_eq(num_ceil_log(101, 10), 3);
	cr_assert_eq(num_ceil_log(UINT64_MAX, 10), 20);
	for (int b = 0; b < 64; b++) {
		uint64_t p = UINT64_C(1) << b;
		cr_assert_eq(num_ceil_log(p, 2), (uint32_t)b);
		if (p > 2)
			cr_assert_eq(num_ceil_log(p - 1, 2), (uint32_t)b);
		cr_assert_eq(num_ceil_log(p + 1, 2), (uint32_t)b + 1);
	}
	for (uint64_t n = 2; n < 5000; n++)
		cr_assert_eq(num_ceil_log(n, 10), (uint32_t)ceil(log10((double)n)),
			     "n = %llu", (unsigned long long)n);
}
