#include "config.h"
#include "util/rand.h"
#include "util/log.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The process's seed is read (or drawn) once and printed once, so one
 * MIST_SEED replays everything a process does; the systems it runs derive
 * their own generators from it and keep no state here. */
uint64_t
rand_process_seed(void)
{
	static int have;
	static uint64_t seed;
	if (have)
		return seed;
	const char *env = getenv("MIST_SEED");
	if (env != NULL && *env != '\0') {
		seed = strtoull(env, NULL, 10);
	} else {
		randombytes_buf(&seed, sizeof(seed));
	}
	have = 1;
	log_info("random seed %" PRIu64 " (replay with MIST_SEED=%" PRIu64 ")",
		 seed, seed);
	return seed;
}

void
rng_init(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t
rng_below(struct rng *r, uint64_t n)
{
	/* Lemire's rejection keeps the result unbiased. */
	uint64_t threshold = -n % n;
	for (;;) {
		uint64_t x = rng_next(r);
		if (x >= threshold)
			return x % n;
	}
}
