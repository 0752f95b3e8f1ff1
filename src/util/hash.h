/*
 * hash.h -- FNV-1a, the one string hash of mist's maps (util/map.h takes
 * uint64_t keys; callers hash names into them).
 *
 * For keys that members or the agent itself chose (function names,
 * application ids, query shapes), not keys an attacker picks to collide:
 * every user of it bounds its table, or lets a collision only merge two
 * entries' counts, and says which.  Nothing is allocated; no state.
 */
#ifndef MIST_UTIL_HASH_H_INCLUDED
#define MIST_UTIL_HASH_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* FNV-1a's 64-bit offset basis: the hash of no bytes */
#define HASH_FNV_INIT 0xcbf29ce484222325ull

/** @a h (HASH_FNV_INIT to start) extended by the @a n bytes at @a p. */
static inline uint64_t
hash_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

#endif
