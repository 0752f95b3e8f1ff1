/*
 * autoindex.c -- query shapes and their thresholds (accessory/autoindex.h
 * says what a shape is and why each threshold has its value).
 */
#include "config.h"
#include "accessory/autoindex.h"
#include "util/hash.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
autoix_params_default(struct autoix_params *p)
{
	p->min_queries = AUTOIX_MIN_QUERIES;
	p->refusals = AUTOIX_REFUSALS;
	p->waste_min = AUTOIX_WASTE_MIN;
	p->build_factor = AUTOIX_BUILD_FACTOR;
	p->selectivity = AUTOIX_SELECTIVITY;
	p->acl_ratio = AUTOIX_ACL_RATIO;
	p->window_ns = AUTOIX_WINDOW_NS;
}

void
autoix_table_init(struct autoix_table *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max ? max : AUTOIX_SHAPES;
	t->v = xcalloc(t->max, sizeof(*t->v));
}

void
autoix_table_destroy(struct autoix_table *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}

void
autoix_key_init(struct autoix_key *k, const char *app, const char *cls)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->app, sizeof(k->app), "%s", app);
	snprintf(k->cls, sizeof(k->cls), "%s", cls);
}

bool
autoix_key_eq(struct autoix_key *k, const char *f)
{
	if (strlen(f) >= AUTOIX_FIELD_MAX)
		return false;
	uint32_t at = 0;
	while (at < k->neq && strcmp(k->eq[at], f) < 0)
		at++;
	if (at < k->neq && strcmp(k->eq[at], f) == 0)
		return true;
	if (at >= AUTOIX_EQ_MAX)
		return true; /* past the first names: not part of the shape */
	uint32_t n = k->neq < AUTOIX_EQ_MAX ? k->neq : AUTOIX_EQ_MAX - 1;
	memmove(k->eq[at + 1], k->eq[at], (n - at) * AUTOIX_FIELD_MAX);
	snprintf(k->eq[at], AUTOIX_FIELD_MAX, "%s", f);
	if (k->neq < AUTOIX_EQ_MAX)
		k->neq++;
	return true;
}

static uint64_t
autoix_hash(const struct autoix_key *k)
{
	uint64_t h = HASH_FNV_INIT;
	h = hash_fnv(h, k->app, strlen(k->app) + 1);
	h = hash_fnv(h, k->cls, strlen(k->cls) + 1);
	for (uint32_t i = 0; i < k->neq; i++)
		h = hash_fnv(h, k->eq[i], strlen(k->eq[i]) + 1);
	unsigned char tail[3] = {(unsigned char)k->last, k->desc, k->acl};
	h = hash_fnv(h, tail, sizeof(tail));
	return hash_fnv(h, k->last_field, strlen(k->last_field) + 1);
}

static bool
autoix_key_same(const struct autoix_key *a, const struct autoix_key *b)
{
	if (a->neq != b->neq || a->last != b->last || a->desc != b->desc ||
	    a->acl != b->acl || strcmp(a->app, b->app) != 0 ||
	    strcmp(a->cls, b->cls) != 0 ||
	    strcmp(a->last_field, b->last_field) != 0)
		return false;
	for (uint32_t i = 0; i < a->neq; i++)
		if (strcmp(a->eq[i], b->eq[i]) != 0)
			return false;
	return true;
}

struct autoix_shape *
autoix_find(struct autoix_table *t, const struct autoix_key *k)
{
	uint64_t h = autoix_hash(k);
	for (uint32_t i = 0; i < t->n; i++)
		if (t->v[i].hash == h && autoix_key_same(&t->v[i].key, k))
			return &t->v[i];
	return NULL;
}

static uint64_t
autoix_waste(const struct autoix_shape *s)
{
	return s->scanned > s->returned ? s->scanned - s->returned : 0;
}

struct autoix_shape *
autoix_observe(struct autoix_table *t, const struct autoix_key *k,
	       uint64_t scanned, uint64_t returned, uint64_t rejected,
	       bool refused, uint64_t now, const struct autoix_params *p)
{
	struct autoix_shape *s = autoix_find(t, k);
	if (s == NULL) {
		if (t->n < t->max) {
			s = &t->v[t->n++];
		} else {
			/* the one that wasted least (then the stalest) goes */
			s = &t->v[0];
			for (uint32_t i = 1; i < t->n; i++) {
				struct autoix_shape *x = &t->v[i];
				uint64_t wx = autoix_waste(x), ws = autoix_waste(s);
				if (wx < ws ||
				    (wx == ws && x->last_seen < s->last_seen))
					s = x;
			}
			t->evictions++;
		}
		memset(s, 0, sizeof(*s));
		s->key = *k;
		s->hash = autoix_hash(k);
		s->window_start = now;
	} else if (now - s->window_start > p->window_ns) {
		/* a new window: the counters start again, the verdict stays */
		s->count = s->scanned = s->returned = s->refusals = 0;
		s->rejected = s->max_scanned = 0;
		s->eval_saves = 0;
		s->window_start = now;
	}
	s->count++;
	s->scanned += scanned;
	s->returned += returned;
	s->rejected += rejected;
	s->refusals += refused ? 1 : 0;
	if (scanned > s->max_scanned)
		s->max_scanned = scanned;
	s->last_seen = now;
	return s;
}

bool
autoix_due(const struct autoix_params *p, const struct autoix_shape *s,
	   char *why, size_t len)
{
	if (s->verdict == AUTOIX_BUILT)
		return false;
	if (s->key.neq == 0 && s->key.last == AUTOIX_NONE && !s->key.acl)
		return false; /* nothing an index could narrow */
	if (s->refusals >= p->refusals) {
		snprintf(why, len,
			 "refused %llu times as too heavy (threshold %u)",
			 (unsigned long long)s->refusals, p->refusals);
		return true;
	}
	if (s->count < p->min_queries)
		return false;
	if (s->key.acl) {
		if (s->rejected < (uint64_t)p->acl_ratio * (s->returned + 1) ||
		    s->rejected < p->waste_min)
			return false;
		snprintf(why, len,
			 "%llu queries: the ACL filter rejected %llu objects "
			 "for %llu returned (ratio at least %u, at least %llu)",
			 (unsigned long long)s->count,
			 (unsigned long long)s->rejected,
			 (unsigned long long)s->returned, p->acl_ratio,
			 (unsigned long long)p->waste_min);
		return true;
	}
	uint64_t waste = autoix_waste(s);
	uint64_t need = (uint64_t)p->build_factor * s->max_scanned;
	if (need < p->waste_min)
		need = p->waste_min;
	if (waste < need ||
	    s->returned * (uint64_t)p->selectivity > s->scanned)
		return false;
	snprintf(why, len,
		 "%llu queries examined %llu objects for %llu returned "
		 "(waste %llu >= %llu, selectivity 1/%u)",
		 (unsigned long long)s->count, (unsigned long long)s->scanned,
		 (unsigned long long)s->returned, (unsigned long long)waste,
		 (unsigned long long)need, p->selectivity);
	return true;
}

uint32_t
autoix_fields(const struct autoix_key *k, const char *fields[4], bool desc[4])
{
	uint32_t n = 0;
	if (k->acl) {
		desc[n] = false;
		fields[n++] = "_rperm";
	}
	for (uint32_t i = 0; i < k->neq && n < 4; i++) {
		desc[n] = false;
		fields[n++] = k->eq[i];
	}
	if (k->last != AUTOIX_NONE && n < 4) {
		desc[n] = k->last == AUTOIX_SORT && k->desc;
		fields[n++] = k->last_field;
	}
	return n;
}

void
autoix_name(const struct autoix_key *k, char *out, size_t len)
{
	const char *f[4];
	bool d[4];
	uint32_t n = autoix_fields(k, f, d);
	size_t at = (size_t)snprintf(out, len, "auto");
	for (uint32_t i = 0; i < n && at < len; i++) {
		const char *name = f[i][0] == '_' ? f[i] + 1 : f[i];
		int w = snprintf(out + at, len - at, "_%s%s", name,
				 d[i] ? "_d" : "");
		if (w < 0 || (size_t)w >= len - at) {
			at = len;
			break;
		}
		at += (size_t)w;
	}
	if (at >= len)
		snprintf(out, len, "auto_%016llx",
			 (unsigned long long)autoix_hash(k));
}

void
autoix_describe(const struct autoix_key *k, char *out, size_t len)
{
	size_t at = 0;
	out[0] = 0;
#define AUTOIX_PUT(...)                                                      \
	do {                                                                 \
		int w_ = snprintf(out + at, len - at, __VA_ARGS__);           \
		if (w_ < 0 || (size_t)w_ >= len - at)                         \
			return;                                              \
		at += (size_t)w_;                                            \
	} while (0)
	for (uint32_t i = 0; i < k->neq; i++)
		AUTOIX_PUT("%s%s", i ? ", " : "eq ", k->eq[i]);
	if (k->last == AUTOIX_RANGE)
		AUTOIX_PUT("%srange %s", at ? "; " : "", k->last_field);
	else if (k->last == AUTOIX_SORT)
		AUTOIX_PUT("%ssort %s%s", at ? "; " : "", k->desc ? "-" : "",
			   k->last_field);
	if (k->acl)
		AUTOIX_PUT("%sacl", at ? "; " : "");
#undef AUTOIX_PUT
}
