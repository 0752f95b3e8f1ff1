/*
 * ratelimit.h -- token buckets keyed by a string, in a bounded table.
 *
 * The gateway keeps one table and asks it, per request, about up to three
 * keys: the app ("a:<app>"), the app and user ("u:<app>:<user>") and the
 * app and client address ("i:<app>:<ip>" -- for IPv6 the caller should
 * key by the /64, which one host owns, or a single host holds 2^64 keys).
 * Each key's bucket holds at most one second's worth of its rate (at
 * least one token, so a rate under 1/s still admits a request now and
 * then) and refills continuously; a request takes one token or is refused
 * with the time until one is there (Retry-After) and the tokens left
 * (X-RateLimit-Remaining).
 *
 *   ratelimit_take(t, "a:myapp", rate_milli, now_ms, &retry, &remaining)
 *        │ bucket found, or made full (an unseen key has a full bucket)
 *        │ refill: tokens += elapsed_ms * rate ; at most the burst
 *        ├─ tokens >= 1: take one ─▶ 1 (allowed), remaining = tokens left
 *        └─ else ─────────────────▶ 0 (refused), retry = ms until 1 token
 *
 * Why the burst is one second's worth: it is the smallest bucket that
 * lets a client spend its per-second budget in one go (an SDK's saveAll,
 * a page of parallel requests) without letting it bank more than that;
 * a larger bucket turns "r per second" into "r*b at once after idling".
 *
 * Time is the caller's (milliseconds, any origin, e.g. the loop's clock):
 * nothing here reads a clock, so tests are exact.  A clock that goes
 * back is taken as no time passing.  Arithmetic is integer: tokens are
 * kept in millionths and the rate in thousandths of a request per second
 * (rate_milli = requests/s * 1000), so one millisecond of rate_milli adds
 * exactly rate_milli millionths -- no rounding drift.
 *
 * The bound: at most @a max_keys buckets (default RATELIMIT_KEYS_DEFAULT),
 * kept in least-recently-used order.  A new key past the bound takes the
 * least recently used bucket.  If that bucket had refilled (idle a second
 * or more, the usual case), nothing is lost: a full bucket is what an
 * unseen key gets.  If not, more than @a max_keys keys were active within
 * about a second; that key's state is lost (it starts full again, so it
 * may get up to one burst more than its rate) and the eviction is counted
 * in ratelimit_stats().evicted_active for the operator.  The table never
 * refuses a request because it is full: hostile addresses that fill it
 * must not lock legitimate new clients out.  Memory: about 260 bytes a
 * key (bucket, map entry, allocator), 17 MiB at the default bound.
 *
 * Across the cluster (the caller's share divisor): each gateway enforces
 * rate/share locally, share = the number of live gateways, which
 * ratelimit_rate_share() computes.  With n gateways and the client's
 * requests spread evenly, the cluster admits the rate r.  The error
 * bounds, for a client whose requests reach k of the n gateways (k <= n):
 *   - under-admission: it gets k*r/n, as little as r/n if it sticks to one
 *     gateway (keep-alive does this) -- the price of keeping no shared
 *     state per request;
 *   - over-admission while membership settles: a gateway that believes
 *     n' < n gateways are live admits r/n' instead of r/n; the cluster
 *     admits at most r * n / min(n' over the gateways);
 *   - bursts: each of the k buckets holds one second of its share, so at
 *     most r*k/n + k requests (the minimum of one token per bucket) at
 *     once after idling.
 * So the cluster-wide rate is within [r/n, r] when membership is known,
 * plus one token per gateway.
 *
 * Ownership: the table owns its buckets; keys are copied.  Nothing is
 * handed out.  Single-threaded (the gateway actor's turn).
 */
#ifndef MIST_GATEWAY_RATELIMIT_H_INCLUDED
#define MIST_GATEWAY_RATELIMIT_H_INCLUDED

#include <stdint.h>

/* Keys, NUL included: "i:" + an app id (63) + ':' + an IPv6 text (45)
 * is 112; 160 leaves room for user ids.  A longer key is MIST_EINVAL:
 * the caller hashes what could be longer. */
#define RATELIMIT_KEY_MAX 160
/* Buckets at most by default: 65 536 clients active within a second is
 * far past one gateway's share of the busiest app, and 17 MiB is
 * affordable on any node that runs a gateway. */
#define RATELIMIT_KEYS_DEFAULT 65536
/* The largest rate_milli accepted: a billion requests a second, past any
 * real limit, and small enough that no product below overflows. */
#define RATELIMIT_RATE_MAX (1000000000ull * 1000)

struct ratelimit;

struct ratelimit_stats {
	uint32_t keys;		 /* buckets held */
	uint64_t allowed, refused;
	uint64_t evicted_full;	 /* evictions that lost nothing */
	uint64_t evicted_active; /* evictions of a bucket not yet refilled */
};

/** A table of at most @a max_keys buckets (0: RATELIMIT_KEYS_DEFAULT). */
struct ratelimit *ratelimit_new(uint32_t max_keys);
void ratelimit_delete(struct ratelimit *t);

/**
 * Takes one token from @a key's bucket at @a now_ms, the bucket refilling
 * at @a rate_milli (requests per second times 1000; 0 = unlimited: always
 * allowed, nothing stored).  Returns 1 (allowed) or 0 (refused), and sets
 * @a retry_after_ms (0 if allowed; else the milliseconds until a token,
 * at least 1) and @a remaining (whole tokens left; UINT32_MAX when
 * unlimited), each if not NULL.  MIST_EINVAL if @a key is empty or
 * RATELIMIT_KEY_MAX long or more, or @a rate_milli > RATELIMIT_RATE_MAX.
 */
int ratelimit_take(struct ratelimit *t, const char *key, uint64_t rate_milli,
		   uint64_t now_ms, uint32_t *retry_after_ms,
		   uint32_t *remaining);

/**
 * An app's rate (requests/s, 0 = unlimited) shared among @a share live
 * gateways, as rate_milli for ratelimit_take(): rate * 1000 / share,
 * rounded up (never 0 for a limited app: a limit of 1/s over 3 000
 * gateways is still a limit).  @a share 0 is taken as 1.
 */
uint64_t ratelimit_rate_share(uint32_t rate, uint32_t share);

struct ratelimit_stats ratelimit_stats(const struct ratelimit *t);

#endif
