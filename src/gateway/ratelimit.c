/*
 * ratelimit.c -- token buckets in a bounded LRU table (see ratelimit.h).
 *
 * Keys are found through util/map.h by a keyed 64-bit hash (SipHash-2-4,
 * libsodium's crypto_shorthash, with a key drawn per table): a client
 * that picks its own keys (addresses, user ids) cannot aim them at one
 * chain without the key.  Two keys with one hash -- 2^-64 for a pair
 * under a secret key -- share a bucket's slot: the newer takes it over.
 */
#include "config.h"
#include "gateway/ratelimit.h"
#include "mist.h"
#include "util/map.h"
#include "util/mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* One token, in the millionths buckets are counted in. */
#define TOKEN 1000000ull

struct rl_bucket {
	struct rl_bucket *prev, *next; /* LRU: head most recent */
	uint64_t hash;
	uint64_t tokens; /* millionths */
	uint64_t last_ms;
	uint64_t rate_milli; /* the last rate used, to judge fullness */
	char key[RATELIMIT_KEY_MAX];
};

struct ratelimit {
	struct map map; /* hash -> bucket */
	struct rl_bucket *head, *tail;
	uint32_t max_keys, nkeys;
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	struct ratelimit_stats st;
};

struct ratelimit *
ratelimit_new(uint32_t max_keys)
{
	if (sodium_init() < 0)
		abort();
	struct ratelimit *t = xcalloc(1, sizeof(*t));
	t->max_keys = max_keys != 0 ? max_keys : RATELIMIT_KEYS_DEFAULT;
	randombytes_buf(t->hkey, sizeof(t->hkey));
	uint64_t salt;
	randombytes_buf(&salt, sizeof(salt));
	map_init(&t->map, salt);
	return t;
}

void
ratelimit_delete(struct ratelimit *t)
{
	if (t == NULL)
		return;
	for (struct rl_bucket *b = t->head, *n; b != NULL; b = n) {
		n = b->next;
		free(b);
	}
	map_destroy(&t->map);
	free(t);
}

static void
lru_unlink(struct ratelimit *t, struct rl_bucket *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		t->head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	else
		t->tail = b->prev;
	b->prev = b->next = NULL;
}

static void
lru_push(struct ratelimit *t, struct rl_bucket *b)
{
	b->prev = NULL;
	b->next = t->head;
	if (t->head != NULL)
		t->head->prev = b;
	t->head = b;
	if (t->tail == NULL)
		t->tail = b;
}

static uint64_t
burst_of(uint64_t rate_milli)
{
	/* one second's worth: rate/s * TOKEN = rate_milli * 1000; >= 1 */
	uint64_t b = rate_milli * 1000;
	return b < TOKEN ? TOKEN : b;
}

/* Tokens @a b holds at @a now_ms at @a rate_milli (not stored). */
static uint64_t
refilled(const struct rl_bucket *b, uint64_t rate_milli, uint64_t now_ms)
{
	uint64_t burst = burst_of(rate_milli);
	if (now_ms <= b->last_ms || b->tokens >= burst)
		return b->tokens < burst ? b->tokens : burst;
	uint64_t elapsed = now_ms - b->last_ms;
	/* past (burst - tokens) / rate ms the bucket is full; capping
	 * elapsed there keeps the product below 2^64 */
	uint64_t need = (burst - b->tokens + rate_milli - 1) / rate_milli;
	if (elapsed >= need)
		return burst;
	return b->tokens + elapsed * rate_milli;
}

uint64_t
ratelimit_rate_share(uint32_t rate, uint32_t share)
{
	if (share == 0)
		share = 1;
	return ((uint64_t)rate * 1000 + share - 1) / share;
}

int
ratelimit_take(struct ratelimit *t, const char *key, uint64_t rate_milli,
	       uint64_t now_ms, uint32_t *retry_after_ms, uint32_t *remaining)
{
	size_t klen = key != NULL ? strnlen(key, RATELIMIT_KEY_MAX) : 0;
	if (klen == 0 || klen >= RATELIMIT_KEY_MAX ||
	    rate_milli > RATELIMIT_RATE_MAX)
		return MIST_EINVAL;
	if (rate_milli == 0) {
		if (retry_after_ms != NULL)
			*retry_after_ms = 0;
		if (remaining != NULL)
			*remaining = UINT32_MAX;
		t->st.allowed++;
		return 1;
	}
	uint64_t h;
	crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, klen,
			 t->hkey);
	struct rl_bucket *b = map_get(&t->map, h);
	if (b != NULL && strcmp(b->key, key) != 0) {
		/* a 64-bit collision: the newer key takes the slot over */
		memcpy(b->key, key, klen + 1);
		b->tokens = burst_of(rate_milli);
		b->last_ms = now_ms;
	}
	if (b == NULL) {
		if (t->nkeys >= t->max_keys) {
			b = t->tail;
			if (refilled(b, b->rate_milli, now_ms) >=
			    burst_of(b->rate_milli))
				t->st.evicted_full++;
			else
				t->st.evicted_active++;
			lru_unlink(t, b);
			map_del(&t->map, b->hash);
		} else {
			b = xmalloc(sizeof(*b));
			t->nkeys++;
		}
		memset(b, 0, sizeof(*b));
		b->hash = h;
		memcpy(b->key, key, klen + 1);
		b->tokens = burst_of(rate_milli); /* unseen: full */
		b->last_ms = now_ms;
		map_put(&t->map, h, b);
	} else {
		lru_unlink(t, b);
	}
	lru_push(t, b);
	b->tokens = refilled(b, rate_milli, now_ms);
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
	b->rate_milli = rate_milli;
	if (b->tokens >= TOKEN) {
		b->tokens -= TOKEN;
		if (retry_after_ms != NULL)
			*retry_after_ms = 0;
		if (remaining != NULL) {
			uint64_t r = b->tokens / TOKEN;
			*remaining = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
		}
		t->st.allowed++;
		return 1;
	}
	if (retry_after_ms != NULL) {
		uint64_t ms = (TOKEN - b->tokens + rate_milli - 1) / rate_milli;
		*retry_after_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	}
	if (remaining != NULL)
		*remaining = 0;
	t->st.refused++;
	return 0;
}

struct ratelimit_stats
ratelimit_stats(const struct ratelimit *t)
{
	struct ratelimit_stats s = t->st;
	s.keys = t->nkeys;
	return s;
}
