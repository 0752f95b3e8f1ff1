#include "config.h"
#include "util/heap.h"
#include "util/mem.h"

#include <stdlib.h>

static int
heap_less(const struct heap_node *a, const struct heap_node *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void
heap_set(struct heap *h, size_t i, struct heap_node *n)
{
	h->v[i] = n;
	n->idx = i + 1;
}

static void
heap_up(struct heap *h, size_t i)
{
	struct heap_node *n = h->v[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(n, h->v[p]))
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, n);
}

static void
heap_down(struct heap *h, size_t i)
{
	struct heap_node *n = h->v[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && heap_less(h->v[c + 1], h->v[c]))
			c++;
		if (!heap_less(h->v[c], n))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, n);
}

void
heap_init(struct heap *h)
{
	h->v = NULL;
	h->len = h->cap = 0;
	h->seq = 0;
}

void
heap_destroy(struct heap *h)
{
	/* Nodes are not touched: their owners may be gone already. */
	free(h->v);
	heap_init(h);
}

void
heap_push(struct heap *h, struct heap_node *n)
{
	if (h->len == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	n->seq = h->seq++;
	heap_set(h, h->len++, n);
	heap_up(h, h->len - 1);
}

void
heap_remove(struct heap *h, struct heap_node *n)
{
	size_t i = n->idx - 1;
	n->idx = 0;
	struct heap_node *last = h->v[--h->len];
	if (i == h->len)
		return;
	heap_set(h, i, last);
	heap_up(h, i);
	heap_down(h, last->idx - 1);
}

struct heap_node *
heap_top(const struct heap *h)
{
	return h->len ? h->v[0] : NULL;
}
