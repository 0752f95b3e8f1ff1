/*
 * test_ratelimit.c -- token buckets (gateway/ratelimit.h) on a fake clock:
 * the burst, the exact refill and Retry-After, fractional rates from the
 * share divisor, unlimited, keys kept apart, and the bounded table's
 * eviction (full buckets first in LRU order, active ones counted).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gateway/ratelimit.h"
#include "mist.h"

static int
take(struct ratelimit *t, const char *key, uint64_t rate_milli, uint64_t now,
     uint32_t *retry, uint32_t *rem)
{
	return ratelimit_take(t, key, rate_milli, now, retry, rem);
}

Test(ratelimit, burst_then_exact_refill)
{
	struct ratelimit *t = ratelimit_new(16);
	uint32_t retry, rem;
	/* 10/s: a burst of 10, then one every 100 ms */
	for (uint32_t i = 0; i < 10; i++) {
		cr_assert_eq(take(t, "a:app", 10000, 1000, &retry, &rem), 1);
		cr_assert_eq(retry, 0);
		cr_assert_eq(rem, 9 - i);
	}
	cr_assert_eq(take(t, "a:app", 10000, 1000, &retry, &rem), 0);
	cr_assert_eq(retry, 100);
	cr_assert_eq(rem, 0);
	cr_assert_eq(take(t, "a:app", 10000, 1099, &retry, &rem), 0);
	cr_assert_eq(retry, 1);
	cr_assert_eq(take(t, "a:app", 10000, 1100, &retry, &rem), 1);
	cr_assert_eq(rem, 0);
	cr_assert_eq(take(t, "a:app", 10000, 1150, &retry, &rem), 0);
	cr_assert_eq(retry, 50);
	/* idle for long: full again, never more than the burst */
	cr_assert_eq(take(t, "a:app", 10000, 1000000, &retry, &rem), 1);
	cr_assert_eq(rem, 9);
	struct ratelimit_stats s = ratelimit_stats(t);
	cr_assert_eq(s.keys, 1);
	cr_assert_eq(s.allowed, 12);
	cr_assert_eq(s.refused, 3);
	ratelimit_delete(t);
}

Test(ratelimit, sustained_rate_is_exact)
{
	/* 7/s over 10 s, asking every ms: exactly 7 (burst) + 70 */
	struct ratelimit *t = ratelimit_new(4);
	uint32_t n = 0;
	for (uint64_t ms = 0; ms < 10000; ms++)
		n += (uint32_t)take(t, "k", 7000, ms, NULL, NULL);
	cr_assert_eq(n, 7 + 69, "%u", n); /* the 70th token lands at 10 000 ms */
	cr_assert_eq(take(t, "k", 7000, 10000, NULL, NULL), 1);
	ratelimit_delete(t);
}

Test(ratelimit, fractional_rates_and_the_share)
{
	cr_assert_eq(ratelimit_rate_share(10, 4), 2500);
	cr_assert_eq(ratelimit_rate_share(1, 3000), 1); /* never 0 */
	cr_assert_eq(ratelimit_rate_share(0, 3), 0);
	cr_assert_eq(ratelimit_rate_share(5, 0), 5000);
	cr_assert_eq(ratelimit_rate_share(100, 3), 33334);

	struct ratelimit *t = ratelimit_new(4);
	uint32_t retry, rem;
	/* 2.5/s: a burst of 2 whole tokens (2.5 held), then 400 ms each */
	cr_assert_eq(take(t, "k", 2500, 0, &retry, &rem), 1);
	cr_assert_eq(rem, 1);
	cr_assert_eq(take(t, "k", 2500, 0, &retry, &rem), 1);
	cr_assert_eq(rem, 0);
	cr_assert_eq(take(t, "k", 2500, 0, &retry, &rem), 0);
	cr_assert_eq(retry, 200); /* 0.5 held, 0.5 more at 2.5/s */
	cr_assert_eq(take(t, "k", 2500, 200, &retry, &rem), 1);
	cr_assert_eq(take(t, "k", 2500, 200, &retry, &rem), 0);
	cr_assert_eq(retry, 400);
	/* under 1/s: the bucket still holds one token */
	cr_assert_eq(take(t, "slow", 100, 0, &retry, &rem), 1); /* 0.1/s */
	cr_assert_eq(take(t, "slow", 100, 0, &retry, &rem), 0);
	cr_assert_eq(retry, 10000);
	cr_assert_eq(take(t, "slow", 100, 10000, &retry, &rem), 1);
	ratelimit_delete(t);
}

Test(ratelimit, unlimited_keys_apart_and_errors)
{
	struct ratelimit *t = ratelimit_new(4);
	uint32_t retry = 7, rem = 7;
	for (int i = 0; i < 100; i++)
		cr_assert_eq(take(t, "free", 0, 0, &retry, &rem), 1);
	cr_assert_eq(rem, UINT32_MAX);
	cr_assert_eq(retry, 0);
	cr_assert_eq(ratelimit_stats(t).keys, 0); /* nothing stored */

	cr_assert_eq(take(t, "i:app:10.0.0.1", 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "i:app:10.0.0.1", 1000, 0, NULL, NULL), 0);
	cr_assert_eq(take(t, "i:app:10.0.0.2", 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "u:app:10.0.0.1", 1000, 0, NULL, NULL), 1);

	cr_assert_eq(take(t, "", 1000, 0, NULL, NULL), MIST_EINVAL);
	cr_assert_eq(take(t, NULL, 1000, 0, NULL, NULL), MIST_EINVAL);
	char k[RATELIMIT_KEY_MAX + 1];
	memset(k, 'k', RATELIMIT_KEY_MAX);
	k[RATELIMIT_KEY_MAX] = '\0';
	cr_assert_eq(take(t, k, 1000, 0, NULL, NULL), MIST_EINVAL);
	k[RATELIMIT_KEY_MAX - 1] = '\0';
	cr_assert_eq(take(t, k, 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "x", RATELIMIT_RATE_MAX + 1, 0, NULL, NULL), MIST_EINVAL);
	/* the largest rate: no overflow after a long idle */
	cr_assert_eq(take(t, "x", RATELIMIT_RATE_MAX, 0, NULL, &rem), 1);
	cr_assert_eq(take(t, "x", RATELIMIT_RATE_MAX, UINT64_MAX / 2, NULL, &rem), 1);
	cr_assert_eq(rem, 999999999);
	ratelimit_delete(t);
}

Test(ratelimit, clock_going_back_is_no_time)
{
	struct ratelimit *t = ratelimit_new(4);
	uint32_t retry;
	cr_assert_eq(take(t, "k", 1000, 5000, &retry, NULL), 1);
	cr_assert_eq(take(t, "k", 1000, 4000, &retry, NULL), 0);
	cr_assert_eq(retry, 1000);
	cr_assert_eq(take(t, "k", 1000, 5999, &retry, NULL), 0);
	cr_assert_eq(take(t, "k", 1000, 6000, &retry, NULL), 1);
	ratelimit_delete(t);
}

Test(ratelimit, bounded_table_evicts_lru)
{
	struct ratelimit *t = ratelimit_new(3);
	uint32_t rem;
	/* 1/s each: a, b, c fill the table and spend their token */
	cr_assert_eq(take(t, "a", 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "b", 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "c", 1000, 0, NULL, NULL), 1);
	cr_assert_eq(take(t, "a", 1000, 10, NULL, NULL), 0); /* a is recent */
	/* d at 500 ms: evicts b (least recent), not yet refilled */
	cr_assert_eq(take(t, "d", 1000, 500, NULL, NULL), 1);
	struct ratelimit_stats s = ratelimit_stats(t);
	cr_assert_eq(s.keys, 3);
	cr_assert_eq(s.evicted_active, 1);
	cr_assert_eq(s.evicted_full, 0);
	/* a kept its state: still empty at 500 ms */
	cr_assert_eq(take(t, "a", 1000, 500, NULL, NULL), 0);
	/* b lost its state: starts full (one burst more, as documented) */
	cr_assert_eq(take(t, "b", 1000, 500, NULL, NULL), 1); /* evicts c */
	s = ratelimit_stats(t);
	cr_assert_eq(s.evicted_active, 2);
	/* a second later every bucket has refilled: eviction loses nothing */
	cr_assert_eq(take(t, "e", 1000, 5000, NULL, &rem), 1); /* evicts d */
	s = ratelimit_stats(t);
	cr_assert_eq(s.evicted_full, 1);
	cr_assert_eq(s.keys, 3);
	/* a flood of distinct keys never grows the table nor refuses */
	for (int i = 0; i < 1000; i++) {
		char k[32];
		snprintf(k, sizeof(k), "i:app:10.0.%d.%d", i / 256, i % 256);
		cr_assert_eq(take(t, k, 1000, 6000, NULL, NULL), 1);
	}
	cr_assert_eq(ratelimit_stats(t).keys, 3);
	ratelimit_delete(t);

	t = ratelimit_new(0);
	for (int i = 0; i < 100; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%d", i);
		cr_assert_eq(take(t, k, 1000, 0, NULL, NULL), 1);
	}
	cr_assert_eq(ratelimit_stats(t).keys, 100);
	ratelimit_delete(t);
}

Test(ratelimit, lower_rate_clamps_the_bucket)
{
	struct ratelimit *t = ratelimit_new(4);
	uint32_t rem;
	cr_assert_eq(take(t, "k", 100000, 0, NULL, &rem), 1); /* 100/s */
	cr_assert_eq(rem, 99);
	/* the app's rate drops to 2/s: at most 2 held */
	cr_assert_eq(take(t, "k", 2000, 0, NULL, &rem), 1);
	cr_assert_eq(rem, 1);
	cr_assert_eq(take(t, "k", 2000, 0, NULL, &rem), 1);
	cr_assert_eq(take(t, "k", 2000, 0, NULL, &rem), 0);
	ratelimit_delete(t);
}
