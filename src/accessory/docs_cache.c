/*
 * docs_cache.c -- the bounded LRU cache of parsed records
 * (accessory/docs_cache.h says what is cached and why it stays right).
 *
 * A hash map (util/map.h) of SipHash(key) to a chain of entries, and one
 * doubly linked list in recency order for eviction.  Lookups cost one
 * SipHash of the key (some 20 ns for the 40-byte keys docs.c uses) and a
 * memcmp; no allocation on a hit.
 */
#include "config.h"
#include "accessory/docs_cache.h"
#include "util/mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(((struct docs_cache *)0)->hkey) ==
		       crypto_shorthash_KEYBYTES,
	       "the SipHash key");

static uint64_t
docs_cache_hash(const struct docs_cache *c, uint8_t table, const void *key,
		size_t klen)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, key, klen, c->hkey);
	memcpy(&v, h, sizeof(v));
	/* the table is ours, not a client's: mixing it in plainly is enough
	 * (entries compare the table too) */
	return v ^ ((uint64_t)table * 0x9e3779b97f4a7c15ull);
}

/* Deeper trees than jansson's parser makes (JSON_PARSER_MAX_DEPTH,
 * 2048) are not walked further: charged as if huge. */
#define DOCS_CACHE_WALK_DEPTH 4096

static size_t
docs_cache_cost_at(const json_t *v, unsigned depth)
{
	if (depth > DOCS_CACHE_WALK_DEPTH)
		return SIZE_MAX / 4;
	size_t c = 64, i;
	const char *k;
	json_t *x;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		c += 256;
		json_object_foreach((json_t *)v, k, x)
		{
			c += 128 + strlen(k) + docs_cache_cost_at(x, depth + 1);
			if (c > SIZE_MAX / 4)
				return SIZE_MAX / 4;
		}
		break;
	case JSON_ARRAY:
		c += 96 + 16 * json_array_size(v);
		json_array_foreach(v, i, x)
		{
			c += docs_cache_cost_at(x, depth + 1);
			if (c > SIZE_MAX / 4)
				return SIZE_MAX / 4;
		}
		break;
	case JSON_STRING:
		c += 32 + json_string_length(v);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		c = 8; /* shared singletons: the parent's slot only */
		break;
	default:
		break;
	}
	return c;
}

size_t
docs_cache_tree_cost(const json_t *v)
{
	return v ? docs_cache_cost_at(v, 0) : 0;
}

static void
docs_cache_unlink(struct docs_cache_ent *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void
docs_cache_push_front(struct docs_cache *c, struct docs_cache_ent *e)
{
	e->next = c->lru.next;
	e->prev = &c->lru;
	c->lru.next->prev = e;
	c->lru.next = e;
}

/* Removes @a e from the map, the list and the counts, and frees it. */
static void
docs_cache_drop(struct docs_cache *c, struct docs_cache_ent *e)
{
	struct docs_cache_ent *head = map_get(&c->map, e->h), *prev = NULL;
	for (struct docs_cache_ent *x = head; x; prev = x, x = x->hnext) {
		if (x != e)
			continue;
		if (prev)
			prev->hnext = e->hnext;
		else if (e->hnext)
			map_put(&c->map, e->h, e->hnext);
		else
			map_del(&c->map, e->h);
		break;
	}
	docs_cache_unlink(e);
	c->n--;
	c->bytes -= e->cost;
	json_decref(e->val);
	json_decref(e->raw);
	free(e);
}

static struct docs_cache_ent *
docs_cache_find(const struct docs_cache *c, uint64_t h, uint8_t table,
		const void *key, size_t klen)
{
	for (struct docs_cache_ent *e = map_get(&c->map, h); e; e = e->hnext)
		if (e->table == table && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return e;
	return NULL;
}

void
docs_cache_init(struct docs_cache *c, uint32_t max_entries, size_t max_bytes)
{
	memset(c, 0, sizeof(*c));
	randombytes_buf(c->hkey, sizeof(c->hkey));
	uint64_t salt;
	randombytes_buf(&salt, sizeof(salt));
	map_init(&c->map, salt);
	c->lru.next = c->lru.prev = &c->lru;
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
}

void
docs_cache_clear(struct docs_cache *c)
{
	while (c->lru.next != &c->lru)
		docs_cache_drop(c, c->lru.next);
}

void
docs_cache_destroy(struct docs_cache *c)
{
	if (c->lru.next == NULL)
		return; /* never initialised */
	docs_cache_clear(c);
	map_destroy(&c->map);
}

const struct docs_cache_ent *
docs_cache_get(struct docs_cache *c, uint8_t table, const void *key,
	       size_t klen)
{
	if (c->n == 0) {
		c->st.misses++;
		return NULL;
	}
	struct docs_cache_ent *e = docs_cache_find(
		c, docs_cache_hash(c, table, key, klen), table, key, klen);
	if (e == NULL) {
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	if (c->lru.next != e) {
		docs_cache_unlink(e);
		docs_cache_push_front(c, e);
	}
	return e;
}

const struct docs_cache_ent *
docs_cache_put(struct docs_cache *c, uint8_t table, const void *key,
	       size_t klen, json_t *val, const void *text, size_t textlen,
	       bool keep_text)
{
	uint64_t h = docs_cache_hash(c, table, key, klen);
	struct docs_cache_ent *old = docs_cache_find(c, h, table, key, klen);
	if (old)
		docs_cache_drop(c, old);
	size_t cost = DOCS_CACHE_ENTRY_COST + klen +
		      docs_cache_tree_cost(val) +
		      (keep_text ? 64 + textlen + 1 : 0);
	if (c->max_entries == 0 || cost > c->max_bytes) {
		if (c->max_entries)
			c->st.too_big++;
		json_decref(val);
		return NULL;
	}
	while (c->n > 0 &&
	       (c->n >= c->max_entries || c->bytes + cost > c->max_bytes)) {
		c->st.evictions++;
		docs_cache_drop(c, c->lru.prev);
	}
	struct docs_cache_ent *e = xcalloc(1, sizeof(*e) + klen);
	e->key = (uint8_t *)(e + 1);
	e->h = h;
	e->cost = cost;
	e->val = val;
	e->table = table;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->textlen = textlen;
	if (keep_text)
		e->raw = json_stringn_nocheck(text, textlen);
	e->hnext = map_get(&c->map, h);
	map_put(&c->map, h, e);
	docs_cache_push_front(c, e);
	c->n++;
	c->bytes += cost;
	c->st.puts++;
	return e;
}

void
docs_cache_del(struct docs_cache *c, uint8_t table, const void *key,
	       size_t klen)
{
	if (c->n == 0)
		return;
	struct docs_cache_ent *e = docs_cache_find(
		c, docs_cache_hash(c, table, key, klen), table, key, klen);
	if (e) {
		c->st.invalidations++;
		docs_cache_drop(c, e);
	}
}

void
docs_cache_del_prefix(struct docs_cache *c, uint8_t table,
		      const void *prefix, size_t plen)
{
	for (struct docs_cache_ent *e = c->lru.next, *n; e != &c->lru; e = n) {
		n = e->next;
		if (e->table == table && e->klen >= plen &&
		    memcmp(e->key, prefix, plen) == 0) {
			c->st.invalidations++;
			docs_cache_drop(c, e);
		}
	}
}

struct docs_cache_stats
docs_cache_stats(const struct docs_cache *c)
{
	struct docs_cache_stats s = c->st;
	s.entries = c->n;
	s.bytes = c->bytes;
	return s;
}
