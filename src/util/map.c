#include "config.h"
#include "util/map.h"
#include "util/mem.h"

#include <stdlib.h>

static size_t
map_slot(const struct map *m, uint64_t key)
{
	uint64_t x = key ^ m->salt;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (size_t)(x & (m->nbuckets - 1));
}

void
map_init(struct map *m, uint64_t salt)
{
	m->nbuckets = 16;
	m->b = xcalloc(m->nbuckets, sizeof(*m->b));
	m->len = 0;
	m->salt = salt;
}

void
map_destroy(struct map *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct map_entry *e = m->b[i];
		while (e != NULL) {
			struct map_entry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(m->b);
	m->b = NULL;
	m->len = m->nbuckets = 0;
}

static void
map_grow(struct map *m)
{
	size_t old_n = m->nbuckets;
	struct map_entry **old = m->b;
	m->nbuckets *= 2;
	m->b = xcalloc(m->nbuckets, sizeof(*m->b));
	for (size_t i = 0; i < old_n; i++) {
		struct map_entry *e = old[i];
		while (e != NULL) {
			struct map_entry *n = e->next;
			size_t s = map_slot(m, e->key);
			e->next = m->b[s];
			m->b[s] = e;
			e = n;
		}
	}
	free(old);
}

void *
map_get(const struct map *m, uint64_t key)
{
	for (struct map_entry *e = m->b[map_slot(m, key)]; e; e = e->next)
		if (e->key == key)
			return e->val;
	return NULL;
}

void *
map_put(struct map *m, uint64_t key, void *val)
{
	size_t s = map_slot(m, key);
	for (struct map_entry *e = m->b[s]; e; e = e->next) {
		if (e->key == key) {
			void *old = e->val;
			e->val = val;
			return old;
		}
	}
	struct map_entry *e = xmalloc(sizeof(*e));
	e->key = key;
	e->val = val;
	e->next = m->b[s];
	m->b[s] = e;
	if (++m->len > m->nbuckets)
		map_grow(m);
	return NULL;
}

void *
map_del(struct map *m, uint64_t key)
{
	struct map_entry **pp = &m->b[map_slot(m, key)];
	for (; *pp; pp = &(*pp)->next) {
		struct map_entry *e = *pp;
		if (e->key == key) {
			void *val = e->val;
			*pp = e->next;
			free(e);
			m->len--;
			return val;
		}
	}
	return NULL;
}

int
map_next(const struct map *m, size_t *it, uint64_t *key, void **val)
{
	/* *it encodes bucket << 16 | position within the chain. */
	size_t bucket = *it >> 16, pos = *it & 0xffff;
	for (; bucket < m->nbuckets; bucket++, pos = 0) {
		struct map_entry *e = m->b[bucket];
		for (size_t i = 0; e && i < pos; i++)
			e = e->next;
		if (e != NULL) {
			*key = e->key;
			*val = e->val;
			*it = bucket << 16 | (pos + 1);
			return 1;
		}
	}
	*it = bucket << 16;
	return 0;
}
