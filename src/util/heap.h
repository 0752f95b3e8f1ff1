/*
 * heap.h -- a binary min-heap of timers, ordered by due time.
 *
 * Entries are caller-allocated (struct heap_node embedded in the owner); the
 * heap stores pointers and keeps each node's index, so removal is O(log n).
 * Ties are broken by insertion order (seq) so that timers due at the same
 * instant fire in the order they were started -- needed for deterministic
 * virtual-time runs.
 */
#ifndef MIST_UTIL_HEAP_H_INCLUDED
#define MIST_UTIL_HEAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

struct heap_node {
	uint64_t due;
	uint64_t seq;
	size_t idx; /* position + 1; 0 when not in a heap, so zeroed storage is unlinked */
};

struct heap {
	struct heap_node **v;
	size_t len;
	size_t cap;
	uint64_t seq;
};

void heap_init(struct heap *h);
void heap_destroy(struct heap *h);
void heap_push(struct heap *h, struct heap_node *n);
void heap_remove(struct heap *h, struct heap_node *n);
struct heap_node *heap_top(const struct heap *h);

static inline int
heap_node_is_linked(const struct heap_node *n)
{
	return n->idx != 0;
}

#endif
