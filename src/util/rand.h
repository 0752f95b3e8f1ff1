/*
 * rand.h -- the one seeded PRNG (xoshiro256**).
 *
 * Everything random that is not a secret -- probe order, jitter of retry
 * backoff, fault injection in simulated networks, correlation-id starts --
 * draws from a struct rng seeded from one process seed.  The seed comes from
 * the environment variable MIST_SEED or is drawn at start and printed, so a
 * failing run replays.  Secrets (keys, nonces, Noise ephemerals) never come
 * from here: they come from libsodium's randombytes.
 */
#ifndef MIST_UTIL_RAND_H_INCLUDED
#define MIST_UTIL_RAND_H_INCLUDED

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/** The process seed: MIST_SEED if set (decimal), else random; logged once. */
uint64_t rand_process_seed(void);
void rng_init(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/** Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

#endif
