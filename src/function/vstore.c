/*
 * vstore.c -- node-local values, hashed by their full name with chains
 * for the (rare) 64-bit collisions.
 */
#include "config.h"
#include "function/vstore.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct vval {
	struct vval *next; /* chain of one hash, while in a store */
	struct vkey k;
	uint32_t len;
	uint8_t data[];
};

struct vval *
vval_alloc(uint32_t len)
{
	struct vval *v = xmalloc(sizeof(*v) + len);
	v->next = NULL;
	v->len = len;
	return v;
}

struct vval *
vval_new(const void *data, uint32_t len)
{
	struct vval *v = vval_alloc(len);
	if (len)
		memcpy(v->data, data, len);
	return v;
}

uint8_t *
vval_data(struct vval *v)
{
	return v->data;
}

uint32_t
vval_len(const struct vval *v)
{
	return v->len;
}

void
vval_delete(struct vval *v)
{
	free(v);
}

static uint64_t
vkey_hash(const struct vkey *k)
{
	uint64_t h = k->owner * 0x9e3779b97f4a7c15ull;
	h ^= k->job + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
	h ^= ((uint64_t)k->task << 32 | k->out) + (h << 6) + (h >> 2);
	return h;
}

static bool
vkey_eq(const struct vkey *a, const struct vkey *b)
{
	return a->owner == b->owner && a->job == b->job &&
	       a->task == b->task && a->out == b->out;
}

void
vstore_init(struct vstore *vs)
{
	memset(vs, 0, sizeof(*vs));
	map_init(&vs->m, 0x5eed);
}

void
vstore_destroy(struct vstore *vs)
{
	size_t it = 0;
	uint64_t key;
	void *val;
	while (map_next(&vs->m, &it, &key, &val)) {
		struct vval *s = val;
		while (s) {
			struct vval *n = s->next;
			free(s);
			s = n;
		}
	}
	map_destroy(&vs->m);
}

void
vstore_adopt(struct vstore *vs, const struct vkey *k, struct vval *v)
{
	vstore_free(vs, k);
	uint64_t h = vkey_hash(k);
	v->k = *k;
	v->next = map_get(&vs->m, h);
	map_put(&vs->m, h, v);
	vs->bytes += v->len;
	vs->count++;
}

void
vstore_put(struct vstore *vs, const struct vkey *k, const uint8_t *data,
	   uint32_t len)
{
	vstore_adopt(vs, k, vval_new(data, len));
}

const uint8_t *
vstore_get(const struct vstore *vs, const struct vkey *k, uint32_t *len)
{
	for (struct vval *s = map_get(&vs->m, vkey_hash(k)); s; s = s->next)
		if (vkey_eq(&s->k, k)) {
			*len = s->len;
			return s->data;
		}
	return NULL;
}

void
vstore_free(struct vstore *vs, const struct vkey *k)
{
	uint64_t h = vkey_hash(k);
	struct vval *head = map_get(&vs->m, h), **pp = &head;
	for (struct vval *s = head; s; pp = &s->next, s = s->next)
		if (vkey_eq(&s->k, k)) {
			*pp = s->next;
			vs->bytes -= s->len;
			vs->count--;
			free(s);
			if (head)
				map_put(&vs->m, h, head);
			else
				map_del(&vs->m, h);
			return;
		}
}

void
vstore_free_job(struct vstore *vs, uint64_t owner, uint64_t job)
{
	struct vkey *doomed = NULL;
	size_t n = 0, cap = 0, it = 0;
	uint64_t key;
	void *val;
	while (map_next(&vs->m, &it, &key, &val))
		for (struct vval *s = val; s; s = s->next)
			if (s->k.owner == owner && s->k.job == job) {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					doomed = xrealloc(doomed,
							  cap * sizeof(*doomed));
				}
				doomed[n++] = s->k;
			}
	for (size_t i = 0; i < n; i++)
		vstore_free(vs, &doomed[i]);
	free(doomed);
}
