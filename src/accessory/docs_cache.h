/*
 * docs_cache.h -- a bounded cache of parsed records of the documents
 * accessory: what a key of a struct docs_driver table holds, parsed once
 * (a jansson tree) instead of on every request.
 *
 * Why: a GET of one object reads and parses the caller's session record,
 * the class schema and the object, copies the object and dumps it again;
 * that was 40% of the agent's work per GET (jansson and malloc), for
 * values read far more often than written.  docs.c (ACTOR_DOCS) keeps two
 * caches, one for META records (schemas, sessions) and one for OBJ
 * (objects, with their stored text: a GET with nothing to hide answers
 * those bytes), so reads of many objects never evict the schemas and
 * sessions every request needs:
 *
 *   docs_read ──▶ overlay (queued writes) ──hit──▶ parse, NOT cached
 *        │ miss
 *        ▼
 *   docs_cache ──hit──▶ the shared tree (a new reference)
 *        │ miss
 *        ▼
 *   driver get ──▶ parse ──▶ docs_cache_put ──▶ the tree
 *
 *   docs_queue (every write group) ──▶ docs_cache_del / _del_prefix of
 *        every key it puts, deletes or prefix-deletes
 *   the group durable (MSG_DOCS_DONE) ──▶ the same again
 *
 * Correctness rests on three rules docs.c keeps: only what the driver
 * holds is cached (a value in the overlay is not yet durable and may
 * never be); every key a write group touches is dropped when the group is
 * queued and again when it is durable (a read between the two may have
 * cached the store's old value of a key the overlay does not cover: a
 * prefix delete); the driver is written by ACTOR_DOCS alone.  Anything
 * time-dependent in a value (a session's expiry) is checked by the
 * reader on every use, so a cached value is never "too old".
 *
 * Bounds: at most max_entries entries and max_bytes of memory, counted
 * as the key, the text when kept, and the parsed tree measured value by
 * value (docs_cache_tree_cost: an upper bound of what jansson and malloc
 * spend, which is 10 to 80 times the text -- an array of empty objects
 * is the worst); the least recently used entries are evicted to make
 * room, and a record bigger than the whole budget is simply not cached
 * (counted in stats.too_big).
 *
 * Ownership: the cache owns its entries and their trees.  A tree handed
 * out is SHARED: callers json_incref it to keep it, and never change it
 * (copy first: json_deep_copy).  An entry pointer returned by
 * docs_cache_get stays valid until the next call that changes the cache
 * (put, del, del_prefix, clear, destroy); take references to its val
 * and raw to keep them longer.  Single-threaded: the actor's.
 */
#ifndef MIST_ACCESSORY_DOCS_CACHE_H_INCLUDED
#define MIST_ACCESSORY_DOCS_CACHE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

/* Fixed cost charged per entry besides its key and text: the entry and
 * the map's chain node, with their malloc headers. */
#define DOCS_CACHE_ENTRY_COST 160

struct docs_cache_ent {
	struct docs_cache_ent *hnext;	    /* the hash chain */
	struct docs_cache_ent *prev, *next; /* LRU: most recent first */
	uint64_t h;
	size_t cost;
	json_t *val; /* NULL: the record is known to be absent */
	json_t *raw; /* the stored text as a JSON string, or NULL: a
		      * reference keeps it past the entry (an answer) */
	size_t textlen;
	uint8_t table;
	size_t klen;
	uint8_t *key; /* klen bytes, in the same allocation, after the entry
		       * (a pointer, not a flexible array: the list's
		       * sentinel is an entry embedded in struct docs_cache) */
};

struct docs_cache_stats {
	uint64_t hits, misses, puts, evictions, invalidations, too_big;
	uint64_t entries, bytes;
};

struct docs_cache {
	struct map map;		    /* h -> chain of entries */
	struct docs_cache_ent lru;  /* sentinel: lru.next most recent */
	uint8_t hkey[16];	    /* SipHash key: chains cannot be aimed */
	uint32_t n, max_entries;
	size_t bytes, max_bytes;
	struct docs_cache_stats st;
};

/** On the caller's storage; @a max_entries 0 disables the cache. */
void docs_cache_init(struct docs_cache *c, uint32_t max_entries,
		     size_t max_bytes);
void docs_cache_destroy(struct docs_cache *c);

/** The entry of (@a table, @a key), made the most recent; NULL if none. */
const struct docs_cache_ent *docs_cache_get(struct docs_cache *c,
					    uint8_t table, const void *key,
					    size_t klen);

/**
 * Caches @a val (stolen; NULL: the record is absent) as the value of
 * (@a table, @a key), replacing what was there (a value too big to
 * cache still drops the old one).  @a text / @a textlen is the stored
 * text @a val was parsed from, copied into the entry (raw) only if
 * @a keep_text.  Charged: the key, val's tree (docs_cache_tree_cost) and
 * the text kept.  Returns the new
 * entry (as docs_cache_get), or NULL if it was not cached (too big, or
 * the cache is off).
 */
const struct docs_cache_ent *docs_cache_put(struct docs_cache *c, uint8_t table, const void *key,
		    size_t klen, json_t *val, const void *text, size_t textlen,
		    bool keep_text);

/** Drops (@a table, @a key) if cached. */
void docs_cache_del(struct docs_cache *c, uint8_t table, const void *key,
		    size_t klen);

/** Drops every cached key of @a table starting with @a prefix (walks the
 * whole cache: for the rare prefix deletes, DROP_APP and index drops). */
void docs_cache_del_prefix(struct docs_cache *c, uint8_t table,
			   const void *prefix, size_t plen);

void docs_cache_clear(struct docs_cache *c);

struct docs_cache_stats docs_cache_stats(const struct docs_cache *c);

/**
 * Bytes @a v's tree costs, at most (jansson 2.14 on 64 bits with glibc's
 * malloc, measured with mallinfo2: every value 64, an object 256 more
 * plus 128 and its key per member, an array 96 plus 16 per element, a
 * string 32 plus its length; true, false and null are shared).  The
 * measured cost was 0.3 to 0.95 of this for records like docs.c's and
 * for the worst shapes (nested empty arrays and objects, long arrays of
 * small integers).
 */
size_t docs_cache_tree_cost(const json_t *v);

#endif
