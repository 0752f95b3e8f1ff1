/*
 * map.h -- a hash map from uint64_t keys to pointers.
 *
 * Chained, power-of-two buckets, grows at load 1.  Keys are mixed with a
 * per-map salt so a peer that chooses keys (node ids are hashes of keys a
 * peer picks) cannot aim them at one bucket.  The map stores pointers only;
 * it never frees values.
 */
#ifndef MIST_UTIL_MAP_H_INCLUDED
#define MIST_UTIL_MAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

struct map_entry {
	uint64_t key;
	void *val;
	struct map_entry *next;
};

struct map {
	struct map_entry **b;
	size_t nbuckets; /* power of two */
	size_t len;
	uint64_t salt;
};

void map_init(struct map *m, uint64_t salt);
void map_destroy(struct map *m);
void *map_get(const struct map *m, uint64_t key);
/** Inserts or replaces; returns the previous value or NULL. */
void *map_put(struct map *m, uint64_t key, void *val);
/** Removes @a key; returns its value or NULL. */
void *map_del(struct map *m, uint64_t key);

/** Iteration: for (it = 0; map_next(m, &it, &k, &v);) -- no insertions. */
int map_next(const struct map *m, size_t *it, uint64_t *key, void **val);

#endif
