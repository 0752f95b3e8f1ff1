/*
 * apps.c -- the app table (apps.h): bounds, codec, the merge rule, LMDB,
 * spreading, and MSG_APPS.
 */
#include "config.h"
#include "gateway/apps.h"
#include "gateway/spread.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Milliseconds in a second: "created" is in unix seconds (apps.h). */
#define APPS_MS_PER_S 1000u
/* Random bytes of a key: 32, as 64 hex digits (APP_KEY_MAX). */
#define APPS_KEY_BYTES 32
/* Attempts at a fresh generated id: 62^20 ids, so a second attempt is
 * already a curiosity; the bound only keeps the loop finite. */
#define APPS_ID_TRIES 16
/*
 * A list reply's page: apps are packed until the page passes 64 KiB, so
 * a page is at most that plus one app (a few KiB) -- far inside the
 * default 1 MiB frame -- however many apps there are (4096 of up to
 * ~2.5 KiB each would be 10 MiB at once).  The CLI asks page after page.
 */
#define APPS_LIST_BYTES (64u << 10)
/* A refusal's sentence, NUL included: one line for the operator. */
#define APPS_WHY_MAX 192

/* ---------------------------------------------------------------- bounds */

static bool
id_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

bool
apps_id_valid(const char *s, uint32_t n)
{
	if (n == 0 || n >= APP_ID_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!id_char((unsigned char)s[i]))
			return false;
	return true;
}

/* Printable ASCII: names are shown in tables and logs as they are. */
bool
apps_name_valid(const char *s, uint32_t n)
{
	if (n == 0 || n >= APP_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/*
 * A function name: 1..63 bytes (EXEC_NAME_MAX, what an executor offers),
 * printable ASCII without space, ',' (the CLI's list separator) or '/'
 * (it is a segment of /functions/NAME).
 */
bool
apps_fn_valid(const char *s, uint32_t n)
{
	if (n == 0 || n >= EXEC_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch > 0x7e || ch == ',' || ch == '/')
			return false;
	}
	return true;
}

static bool
key_valid(const char *s, uint32_t n)
{
	if (n != APP_KEY_MAX - 1)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void
copy_str(char *dst, const char *s, uint32_t n)
{
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* ------------------------------------------------------------- networks */

int
apps_net_parse(const char *text, struct app_net *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(addr))
		return MIST_EINVAL;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = 6;
		max = 128;
	} else {
		return MIST_EINVAL;
	}
	unsigned prefix = max;
	if (slash) {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return MIST_EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return MIST_EINVAL;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return MIST_EINVAL;
	}
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (out->family == 6 && prefix >= 96 &&
	    memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
		/* ::ffff:a.b.c.d/n: the IPv4 network, as addresses are */
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = 4;
		prefix -= 96;
	}
	out->prefix = (uint8_t)prefix;
	for (unsigned bit = prefix; bit < 128; bit++)
		out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

void
apps_net_format(const struct app_net *n, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, a, sizeof(a));
	snprintf(out, len, "%s/%u", a, n->prefix);
}

static bool
net_contains(const struct app_net *n, const uint8_t *addr, uint8_t family)
{
	if (n->family != family)
		return false;
	unsigned full = n->prefix / 8, rest = n->prefix % 8;
	if (memcmp(n->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (addr[full] & mask) == n->addr[full];
}

bool
apps_master_allowed(const struct app *a, const char *ip)
{
	struct app_net addr;
	if (ip == NULL || strchr(ip, '/') != NULL ||
	    apps_net_parse(ip, &addr) != 0)
		return false;
	for (uint32_t i = 0; i < a->nnets; i++)
		if (net_contains(&a->master_nets[i], addr.addr, addr.family))
			return true;
	return false;
}

/* ----------------------------------------------------------------- keys */

enum app_key_kind
apps_key_kind(const struct app *a, const char *key)
{
	/* the length is no secret (every key has 64 digits): only the
	 * digits are compared, each against all four keys */
	if (key == NULL || strnlen(key, APP_KEY_MAX) != APP_KEY_MAX - 1 ||
	    a->deleted)
		return APP_KEY_NONE;
	const char *keys[] = {a->rest_key, a->js_key, a->client_key,
			      a->master_key};
	const enum app_key_kind kinds[] = {APP_KEY_REST, APP_KEY_JS,
					   APP_KEY_CLIENT, APP_KEY_MASTER};
	enum app_key_kind found = APP_KEY_NONE;
	for (size_t i = 0; i < 4; i++)
		if (sodium_memcmp(keys[i], key, APP_KEY_MAX - 1) == 0 &&
		    found == APP_KEY_NONE)
			found = kinds[i];
	return found;
}

static void
key_new(char out[APP_KEY_MAX])
{
	uint8_t b[APPS_KEY_BYTES];
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, APP_KEY_MAX, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
}

static void
keys_new(struct app *a)
{
	key_new(a->rest_key);
	key_new(a->js_key);
	key_new(a->client_key);
	key_new(a->master_key);
}

static void
keys_wipe(struct app *a)
{
	sodium_memzero(a->rest_key, APP_KEY_MAX);
	sodium_memzero(a->js_key, APP_KEY_MAX);
	sodium_memzero(a->client_key, APP_KEY_MAX);
	sodium_memzero(a->master_key, APP_KEY_MAX);
}

void
apps_defaults(struct app *a)
{
	memset(a, 0, sizeof(*a));
	a->deadline_ms = APP_DEFAULT_DEADLINE_MS;
	apps_net_parse("127.0.0.0/8", &a->master_nets[0]);
	apps_net_parse("::1", &a->master_nets[1]);
	a->nnets = 2;
}

/* ---------------------------------------------------------------- codec */

/* Fields of an app map without the keys (apps.h draws them). */
#define APPS_MAP_FIELDS (14 + 1 /* functionsMaster */ + 1 /* indexBudget */)

void
apps_pack(msgpack_packer *pk, const struct app *a, bool with_keys)
{
	with_keys = with_keys && !a->deleted;
	msgpack_pack_map(pk, APPS_MAP_FIELDS + (with_keys ? 4 : 0));
	mp_pack_str(pk, "applicationId");
	mp_pack_str(pk, a->id);
	mp_pack_str(pk, "name");
	mp_pack_str(pk, a->name);
	if (with_keys) {
		mp_pack_str(pk, "restKey");
		mp_pack_str(pk, a->rest_key);
		mp_pack_str(pk, "javascriptKey");
		mp_pack_str(pk, a->js_key);
		mp_pack_str(pk, "clientKey");
		mp_pack_str(pk, a->client_key);
		mp_pack_str(pk, "masterKey");
		mp_pack_str(pk, a->master_key);
	}
	mp_pack_str(pk, "home");
	msgpack_pack_uint64(pk, a->home);
	mp_pack_str(pk, "rate");
	msgpack_pack_uint32(pk, a->rate);
	mp_pack_str(pk, "userRate");
	msgpack_pack_uint32(pk, a->user_rate);
	mp_pack_str(pk, "ipRate");
	msgpack_pack_uint32(pk, a->ip_rate);
	mp_pack_str(pk, "deadlineMs");
	msgpack_pack_uint32(pk, a->deadline_ms);
	mp_pack_str(pk, "functions");
	msgpack_pack_array(pk, a->nfunctions);
	for (uint32_t i = 0; i < a->nfunctions; i++)
		mp_pack_str(pk, a->functions[i]);
	mp_pack_str(pk, "masterFrom");
	msgpack_pack_array(pk, a->nnets);
	for (uint32_t i = 0; i < a->nnets; i++) {
		char net[INET6_ADDRSTRLEN + 8];
		apps_net_format(&a->master_nets[i], net, sizeof(net));
		mp_pack_str(pk, net);
	}
	mp_pack_str(pk, "clientClassCreation");
	a->client_class_creation ? msgpack_pack_true(pk)
				 : msgpack_pack_false(pk);
	mp_pack_str(pk, "quotaBytes");
	msgpack_pack_uint64(pk, a->quota_bytes);
	mp_pack_str(pk, "functionsMaster"); /* host API */
	a->functions_master ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	/* automatic indexes */
	mp_pack_str(pk, "indexBudget");
	msgpack_pack_uint64(pk, a->index_budget);
	mp_pack_str(pk, "rev");
	msgpack_pack_uint64(pk, a->rev);
	mp_pack_str(pk, "deleted");
	a->deleted ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	mp_pack_str(pk, "created");
	msgpack_pack_uint64(pk, a->created);
}

/*
 * The lists of a request or an app map, read by MP_FN callbacks into a
 * struct of their own, with the sentence of a refusal: a bad element is
 * MIST_EINVAL (said which), a wrong type MIST_EPROTO.
 */
struct fn_list {
	uint32_t n;
	char (*names)[EXEC_NAME_MAX];
	bool seen;
	char *why;
};

struct net_list {
	uint32_t n;
	struct app_net *nets;
	bool seen;
	char *why;
};

static int
read_functions(struct mp_cur *c, void *ctx)
{
	struct fn_list *l = ctx;
	uint32_t n;
	if (mp_read_array(c, &n) != 0)
		return MIST_EPROTO;
	if (n > APP_MAX_FUNCTIONS) {
		snprintf(l->why, APPS_WHY_MAX, "at most %u functions per app",
			 APP_MAX_FUNCTIONS);
		return MIST_EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *s;
		uint32_t len;
		if (mp_read_str(c, &s, &len) != 0)
			return MIST_EPROTO;
		if (!apps_fn_valid(s, len)) {
			snprintf(l->why, APPS_WHY_MAX,
				 "a function name is 1..%d printable bytes "
				 "without space, ',' or '/'",
				 EXEC_NAME_MAX - 1);
			return MIST_EINVAL;
		}
		for (uint32_t j = 0; j < i; j++)
			if (strlen(l->names[j]) == len &&
			    memcmp(l->names[j], s, len) == 0) {
				snprintf(l->why, APPS_WHY_MAX,
					 "function %.*s listed twice",
					 (int)len, s);
				return MIST_EINVAL;
			}
		copy_str(l->names[i], s, len);
	}
	l->n = n;
	l->seen = true;
	return 0;
}

static int
read_nets(struct mp_cur *c, void *ctx)
{
	struct net_list *l = ctx;
	uint32_t n;
	if (mp_read_array(c, &n) != 0)
		return MIST_EPROTO;
	if (n > APP_MAX_NETS) {
		snprintf(l->why, APPS_WHY_MAX,
			 "at most %u master-key networks per app", APP_MAX_NETS);
		return MIST_EINVAL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *s;
		uint32_t len;
		char text[INET6_ADDRSTRLEN + 8];
		if (mp_read_str(c, &s, &len) != 0)
			return MIST_EPROTO;
		if (len >= sizeof(text) ||
		    (copy_str(text, s, len),
		     apps_net_parse(text, &l->nets[i]) != 0)) {
			snprintf(l->why, APPS_WHY_MAX,
				 "'%.*s' is no network (ADDR or ADDR/PREFIX, "
				 "IPv4 or IPv6)",
				 (int)(len > 64 ? 64 : len), s);
			return MIST_EINVAL;
		}
	}
	l->n = n;
	l->seen = true;
	return 0;
}

/* A number that may be absent: requests change only what they name. */
struct opt_u64 {
	uint64_t v;
	bool seen;
};

static int
read_opt_u64(struct mp_cur *c, void *ctx)
{
	struct opt_u64 *o = ctx;
	o->seen = true;
	return mp_read_uint(c, &o->v);
}

/* The numbers of an app, checked the same in requests and app maps. */
struct app_nums {
	struct opt_u64 rate, user_rate, ip_rate, deadline_ms, quota_bytes;
	struct opt_u64 index_budget; /* automatic indexes */
};

static int
nums_check(const struct app_nums *n, char *why)
{
	const struct opt_u64 *rates[] = {&n->rate, &n->user_rate, &n->ip_rate};
	const char *names[] = {"rate", "user rate", "ip rate"};
	for (size_t i = 0; i < 3; i++)
		if (rates[i]->seen && rates[i]->v > APP_MAX_RATE) {
			snprintf(why, APPS_WHY_MAX,
				 "the %s is at most %u requests/s (0: "
				 "unlimited)", names[i], APP_MAX_RATE);
			return MIST_EINVAL;
		}
	if (n->deadline_ms.seen &&
	    (n->deadline_ms.v == 0 || n->deadline_ms.v > APP_MAX_DEADLINE_MS)) {
		snprintf(why, APPS_WHY_MAX, "the deadline is 1..%u ms",
			 APP_MAX_DEADLINE_MS);
		return MIST_EINVAL;
	}
	if (n->quota_bytes.seen && n->quota_bytes.v > APP_MAX_QUOTA) {
		snprintf(why, APPS_WHY_MAX,
			 "the quota is at most %llu bytes (0: none)",
			 (unsigned long long)APP_MAX_QUOTA);
		return MIST_EINVAL;
	}
	/* automatic indexes */
	if (n->index_budget.seen && n->index_budget.v > APP_MAX_INDEX_BUDGET) {
		snprintf(why, APPS_WHY_MAX,
			 "the index budget is at most %llu bytes (0: the "
			 "default)",
			 (unsigned long long)APP_MAX_INDEX_BUDGET);
		return MIST_EINVAL;
	}
	return 0;
}

static void
nums_apply(struct app *a, const struct app_nums *n)
{
	if (n->rate.seen)
		a->rate = (uint32_t)n->rate.v;
	if (n->user_rate.seen)
		a->user_rate = (uint32_t)n->user_rate.v;
	if (n->ip_rate.seen)
		a->ip_rate = (uint32_t)n->ip_rate.v;
	if (n->deadline_ms.seen)
		a->deadline_ms = (uint32_t)n->deadline_ms.v;
	if (n->quota_bytes.seen)
		a->quota_bytes = n->quota_bytes.v;
	if (n->index_budget.seen)
		a->index_budget = n->index_budget.v;
}

int
apps_read(struct mp_cur *c, struct app *a, bool need_keys)
{
	const char *id = NULL, *name = NULL, *keys[4] = {NULL, NULL, NULL, NULL};
	uint32_t idlen = 0, namelen = 0, klen[4] = {0, 0, 0, 0};
	char why[APPS_WHY_MAX];
	struct app_nums n = {0};
	memset(a, 0, sizeof(*a));
	struct fn_list fl = {.names = a->functions, .why = why};
	struct net_list nl = {.nets = a->master_nets, .why = why};
	const struct mp_field f[] = {
		MP_STR("applicationId", &id, &idlen, true),
		MP_STR("name", &name, &namelen, true),
		MP_STR("restKey", &keys[0], &klen[0], false),
		MP_STR("javascriptKey", &keys[1], &klen[1], false),
		MP_STR("clientKey", &keys[2], &klen[2], false),
		MP_STR("masterKey", &keys[3], &klen[3], false),
		MP_UINT("home", &a->home, false),
		MP_FN("rate", read_opt_u64, &n.rate, false),
		MP_FN("userRate", read_opt_u64, &n.user_rate, false),
		MP_FN("ipRate", read_opt_u64, &n.ip_rate, false),
		MP_FN("deadlineMs", read_opt_u64, &n.deadline_ms, true),
		MP_FN("functions", read_functions, &fl, false),
		MP_FN("masterFrom", read_nets, &nl, false),
		MP_BOOL("clientClassCreation", &a->client_class_creation, false),
		MP_BOOL("functionsMaster", &a->functions_master, false),
		MP_FN("quotaBytes", read_opt_u64, &n.quota_bytes, false),
		MP_FN("indexBudget", read_opt_u64, &n.index_budget, false),
		MP_UINT("rev", &a->rev, true),
		MP_BOOL("deleted", &a->deleted, false),
		MP_UINT("created", &a->created, false),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0 ||
	    !apps_id_valid(id, idlen) || !apps_name_valid(name, namelen) ||
	    nums_check(&n, why) != 0 || a->rev == 0)
		goto bad;
	copy_str(a->id, id, idlen);
	copy_str(a->name, name, namelen);
	nums_apply(a, &n);
	a->nfunctions = fl.n;
	a->nnets = nl.n;
	if (!a->deleted) {
		char *dst[] = {a->rest_key, a->js_key, a->client_key,
			       a->master_key};
		for (size_t i = 0; i < 4; i++) {
			if (keys[i] == NULL && !need_keys)
				continue;
			if (keys[i] == NULL || !key_valid(keys[i], klen[i]))
				goto bad;
			copy_str(dst[i], keys[i], klen[i]);
		}
	}
	return 0;
bad:
	sodium_memzero(a, sizeof(*a));
	return MIST_EPROTO;
}

/* ---------------------------------------------------------------- table */

_Static_assert(sizeof(((struct apps *)0)->hkey) == crypto_shorthash_KEYBYTES,
	       "struct apps holds a SipHash key");

/* The table's key for @a id: SipHash-2-4 under the table's random key,
 * so ids a client picks cannot aim at one bucket. */
static uint64_t
id_hash(const struct apps *t, const char *id, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, (const unsigned char *)id, len, t->hkey);
	uint64_t k;
	memcpy(&k, h, sizeof(k));
	return k;
}

/*
 * The entry of @a id (tombstones too), or NULL; *@a slot: where it is or
 * would go.  A collision takes the next key: entries are never removed
 * (tombstones stay), so a probe sequence is never broken.
 */
static struct app *
lookup(const struct apps *t, const char *id, size_t len, uint64_t *slot)
{
	for (uint64_t h = id_hash(t, id, len);; h++) {
		struct app *a = map_get(&t->table, h);
		*slot = h;
		if (a == NULL)
			return NULL;
		if (strlen(a->id) == len && memcmp(a->id, id, len) == 0)
			return a;
	}
}

static void
apps_save(struct apps *t, const struct app *a)
{
	if (t->store == NULL)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	apps_pack(&pk, a, true);
	store_put(t->store, STORE_APPS, a->id, strlen(a->id), b.data, b.len,
		  NULL, NULL);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

static int
apps_load_cb(void *arg, const void *key, size_t klen, const void *val,
	     size_t vlen)
{
	struct apps *t = arg;
	struct app a;
	struct mp_cur c;
	mp_cur_init(&c, val, vlen);
	if (apps_read(&c, &a, true) != 0 || mp_cur_left(&c) != 0 ||
	    strlen(a.id) != klen || memcmp(a.id, key, klen) != 0)
		log_warn("apps: skipping a malformed stored app");
	else
		apps_apply(t, &a);
	sodium_memzero(&a, sizeof(a));
	return 0;
}

void
apps_init(struct apps *t, struct store *store)
{
	memset(t, 0, sizeof(*t));
	map_init(&t->table, randombytes_random());
	randombytes_buf(t->hkey, sizeof(t->hkey));
	if (store != NULL)
		store_scan(store, STORE_APPS, NULL, 0, apps_load_cb, t);
	t->store = store; /* after loading: nothing to write back */
}

void
apps_destroy(struct apps *t)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&t->table, &it, &k, &v)) {
		sodium_memzero(v, sizeof(struct app));
		free(v);
	}
	map_destroy(&t->table);
	sodium_memzero(t->hkey, sizeof(t->hkey));
}

const struct app *
apps_get(const struct apps *t, const char *id)
{
	uint64_t slot;
	const struct app *a = lookup(t, id, strlen(id), &slot);
	return a && !a->deleted ? a : NULL;
}

uint32_t
apps_count(const struct apps *t)
{
	return t->live;
}

uint32_t
apps_homed(const struct apps *t, uint64_t node)
{
	uint32_t n = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&t->table, &it, &k, &v)) {
		const struct app *a = v;
		n += !a->deleted && a->home == node;
	}
	return n;
}

/* Orders two versions of one app of the same rev by their encoding, so
 * that every member keeps the same one: > 0 if @a a wins. */
static int
app_cmp(const struct app *a, const struct app *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &x, buf_msgpack_write);
	apps_pack(&pk, a, true);
	msgpack_packer_init(&pk, &y, buf_msgpack_write);
	apps_pack(&pk, b, true);
	size_t n = x.len < y.len ? x.len : y.len;
	int r = memcmp(x.data, y.data, n);
	if (r == 0)
		r = x.len < y.len ? -1 : x.len > y.len;
	sodium_memzero(x.data, x.len);
	sodium_memzero(y.data, y.len);
	buf_destroy(&x);
	buf_destroy(&y);
	return r;
}

bool
apps_apply(struct apps *t, const struct app *in)
{
	uint64_t slot;
	struct app *c = lookup(t, in->id, strlen(in->id), &slot);
	if (c != NULL) {
		if (c->deleted)
			return false; /* never revived */
		if (!in->deleted &&
		    (in->rev < c->rev || (in->rev == c->rev && app_cmp(in, c) <= 0)))
			return false;
		t->live -= in->deleted;
	} else {
		if (t->table.len >= APPS_MAX_ENTRIES) {
			log_warn("apps: table full (%u apps and deleted apps); "
				 "app %s not taken", APPS_MAX_ENTRIES, in->id);
			return false;
		}
		c = xmalloc(sizeof(*c));
		map_put(&t->table, slot, c);
		t->live += !in->deleted;
	}
	*c = *in;
	if (c->deleted)
		keys_wipe(c);
	apps_save(t, c);
	return true;
}

/* ------------------------------------------------------------ spreading */

/* spread.h's packer: the app with its keys */
static void
apps_pack_keys(msgpack_packer *pk, const void *rec)
{
	apps_pack(pk, rec, true);
}

void
apps_push(struct actor *self, uint64_t node, const struct app *a)
{
	spread_put(self, node, MSG_APPS, "app", apps_pack_keys, a);
}

void
apps_push_all(const struct apps *t, struct actor *self, uint64_t node)
{
	spread_put_all(self, &t->table, node, MSG_APPS, "app", apps_pack_keys);
}

static void
apps_spread(struct actor *self, const struct map *alive, const struct app *a)
{
	spread_put_alive(self, alive, MSG_APPS, "app", apps_pack_keys, a);
}

/* ------------------------------------------------------------- MSG_APPS */

struct flag {
	bool v, seen;
};

static int
read_flag(struct mp_cur *c, void *ctx)
{
	struct flag *f = ctx;
	f->seen = true;
	return mp_read_bool(c, &f->v);
}

struct apps_req {
	const char *op, *id, *name, *home, *after;
	uint32_t oplen, idlen, namelen, homelen, afterlen;
	struct app_nums nums;
	struct flag ccc, rotate;
	struct flag fn_master; /* host API: functions_master */
	struct fn_list fl;
	struct net_list nl;
	char functions[APP_MAX_FUNCTIONS][EXEC_NAME_MAX];
	struct app_net nets[APP_MAX_NETS];
	const uint8_t *app; /* the "app" map's bytes (put), or NULL */
	uint32_t applen;
};

static int
req_parse(const struct msg *m, struct apps_req *r, char *why)
{
	memset(r, 0, sizeof(*r));
	r->op = "";
	r->fl = (struct fn_list){.names = r->functions, .why = why};
	r->nl = (struct net_list){.nets = r->nets, .why = why};
	const struct mp_field f[] = {
		MP_STR("op", &r->op, &r->oplen, true),
		MP_STR("id", &r->id, &r->idlen, false),
		MP_STR("name", &r->name, &r->namelen, false),
		MP_STR("home", &r->home, &r->homelen, false),
		MP_STR("after", &r->after, &r->afterlen, false),
		MP_FN("rate", read_opt_u64, &r->nums.rate, false),
		MP_FN("user_rate", read_opt_u64, &r->nums.user_rate, false),
		MP_FN("ip_rate", read_opt_u64, &r->nums.ip_rate, false),
		MP_FN("deadline_ms", read_opt_u64, &r->nums.deadline_ms, false),
		MP_FN("quota_bytes", read_opt_u64, &r->nums.quota_bytes, false),
		MP_FN("index_budget", read_opt_u64, &r->nums.index_budget,
		      false),
		MP_FN("client_class_creation", read_flag, &r->ccc, false),
		MP_FN("rotate_keys", read_flag, &r->rotate, false),
		MP_FN("functions_master", read_flag, &r->fn_master, false),
		MP_FN("functions", read_functions, &r->fl, false),
		MP_FN("master_from", read_nets, &r->nl, false),
		MP_OBJ("app", &r->app, &r->applen, false),
	};
	const char *bad = NULL;
	int rc = mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), &bad);
	if (rc == MIST_EPROTO)
		snprintf(why, APPS_WHY_MAX, "malformed request%s%s",
			 bad ? ": field " : "", bad ? bad : "");
	return rc == 0 ? nums_check(&r->nums, why) : rc;
}

/* The fields of a create or set applied to @a a; 0 or MIST_EINVAL. */
static int
req_fields(const struct apps_req *r, struct app *a, char *why)
{
	if (r->name != NULL) {
		if (!apps_name_valid(r->name, r->namelen)) {
			snprintf(why, APPS_WHY_MAX,
				 "an app's name is 1..%d printable ASCII bytes",
				 APP_NAME_MAX - 1);
			return MIST_EINVAL;
		}
		copy_str(a->name, r->name, r->namelen);
	}
	nums_apply(a, &r->nums);
	if (r->fl.seen) {
		a->nfunctions = r->fl.n;
		memcpy(a->functions, r->functions, sizeof(a->functions));
	}
	if (r->nl.seen) {
		a->nnets = r->nl.n;
		memcpy(a->master_nets, r->nets, sizeof(a->master_nets));
	}
	if (r->ccc.seen)
		a->client_class_creation = r->ccc.v;
	if (r->fn_master.seen)
		a->functions_master = r->fn_master.v;
	return 0;
}

/* The home a request names, chosen or checked by @a pick. */
static int
req_home(const struct apps_req *r, apps_home_fn pick, void *ctx,
	 uint64_t *home, char *why)
{
	char want[SWIM_NAME_MAX];
	if (r->home != NULL && (r->homelen == 0 || r->homelen >= sizeof(want))) {
		snprintf(why, APPS_WHY_MAX,
			 "a home is a node's name or 16-hex id");
		return MIST_EINVAL;
	}
	if (r->home != NULL)
		copy_str(want, r->home, r->homelen);
	return pick(ctx, r->home ? want : NULL, home, why, APPS_WHY_MAX);
}

static uint64_t
now_s(void)
{
	return clock_wall_ms() / APPS_MS_PER_S;
}

static int
apps_create(struct apps *t, struct actor *self, const struct map *alive,
	    apps_home_fn pick, void *ctx, const struct apps_req *r,
	    msgpack_packer *pk, char *why)
{
	if (r->name == NULL) {
		snprintf(why, APPS_WHY_MAX, "an app needs a name");
		return MIST_EINVAL;
	}
	if (t->live >= APPS_MAX) {
		snprintf(why, APPS_WHY_MAX, "the cluster has %u apps, the most "
			 "it serves", APPS_MAX);
		return MIST_E2BIG;
	}
	if (t->table.len >= APPS_MAX_ENTRIES) {
		snprintf(why, APPS_WHY_MAX, "the app table holds %u apps and "
			 "deleted apps, the most it keeps", APPS_MAX_ENTRIES);
		return MIST_E2BIG;
	}
	struct app a;
	apps_defaults(&a);
	uint64_t slot;
	if (r->id != NULL) {
		if (!apps_id_valid(r->id, r->idlen)) {
			snprintf(why, APPS_WHY_MAX, "an applicationId is 1..%d "
				 "of A-Z a-z 0-9 _ -", APP_ID_MAX - 1);
			return MIST_EINVAL;
		}
		const struct app *old = lookup(t, r->id, r->idlen, &slot);
		if (old != NULL) {
			snprintf(why, APPS_WHY_MAX, "applicationId %.*s %s",
				 (int)r->idlen, r->id,
				 old->deleted ? "belonged to a deleted app "
						"(ids are never reused)"
					      : "is taken");
			return MIST_EEXIST;
		}
		copy_str(a.id, r->id, r->idlen);
	} else {
		static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "abcdefghijklmnopqrstuvwxyz"
					    "0123456789";
		int tries = 0;
		do {
			if (tries++ == APPS_ID_TRIES) {
				snprintf(why, APPS_WHY_MAX, "no fresh id found");
				return MIST_EEXIST;
			}
			for (int i = 0; i < APP_ID_GEN_LEN; i++)
				a.id[i] = alnum[randombytes_uniform(
					sizeof(alnum) - 1)];
			a.id[APP_ID_GEN_LEN] = '\0';
		} while (lookup(t, a.id, APP_ID_GEN_LEN, &slot) != NULL);
	}
	int rc = req_fields(r, &a, why);
	if (rc == 0)
		rc = req_home(r, pick, ctx, &a.home, why);
	if (rc != 0)
		return rc;
	keys_new(&a);
	a.rev = 1;
	a.created = now_s();
	apps_apply(t, &a);
	apps_spread(self, alive, &a);
	apps_pack(pk, &a, true);
	sodium_memzero(&a, sizeof(a));
	return 0;
}

/* The live app a request's "id" names, or NULL with the refusal. */
static const struct app *
req_app(const struct apps *t, const struct apps_req *r, int *rc, char *why)
{
	uint64_t slot;
	const struct app *a = NULL;
	if (r->id == NULL) {
		snprintf(why, APPS_WHY_MAX, "which app? (no id)");
		*rc = MIST_EINVAL;
		return NULL;
	}
	if (apps_id_valid(r->id, r->idlen))
		a = lookup(t, r->id, r->idlen, &slot);
	if (a == NULL || a->deleted) {
		snprintf(why, APPS_WHY_MAX, a ? "app %.*s was deleted"
					      : "no app %.*s",
			 (int)(r->idlen > 63 ? 63 : r->idlen), r->id);
		*rc = MIST_ENOTFOUND;
		return NULL;
	}
	return a;
}

static int
apps_set(struct apps *t, struct actor *self, const struct map *alive,
	 apps_home_fn pick, void *ctx, const struct apps_req *r,
	 msgpack_packer *pk, char *why)
{
	int rc = 0;
	const struct app *cur = req_app(t, r, &rc, why);
	if (cur == NULL)
		return rc;
	struct app a = *cur;
	rc = req_fields(r, &a, why);
	if (rc == 0 && r->home != NULL)
		rc = req_home(r, pick, ctx, &a.home, why);
	if (rc != 0) {
		sodium_memzero(&a, sizeof(a));
		return rc;
	}
	if (r->rotate.seen && r->rotate.v)
		keys_new(&a);
	a.rev++;
	apps_apply(t, &a);
	apps_spread(self, alive, &a);
	apps_pack(pk, &a, true);
	sodium_memzero(&a, sizeof(a));
	return 0;
}

static int
apps_delete(struct apps *t, struct actor *self, const struct map *alive,
	    const struct apps_req *r, msgpack_packer *pk, char *why)
{
	int rc = 0;
	const struct app *cur = req_app(t, r, &rc, why);
	if (cur == NULL)
		return rc;
	struct app a = *cur;
	a.deleted = true;
	a.rev++;
	keys_wipe(&a);
	apps_apply(t, &a);
	apps_spread(self, alive, &a);
	log_info("apps: app %s deleted", a.id);
	msgpack_pack_nil(pk);
	return 0;
}

static int
by_id(const void *x, const void *y)
{
	const struct app *a = *(const struct app *const *)x;
	const struct app *b = *(const struct app *const *)y;
	return strcmp(a->id, b->id);
}

/* The apps of a list reply after @a after (@a alen bytes; NULL: from the
 * first), by id, until the page passes APPS_LIST_BYTES. */
static void
apps_list(const struct apps *t, const char *after, uint32_t alen,
	  msgpack_packer *pk)
{
	char from[APP_ID_MAX] = "";
	if (after != NULL)
		snprintf(from, sizeof(from), "%.*s",
			 (int)(alen < APP_ID_MAX ? alen : APP_ID_MAX - 1), after);
	const struct app **v = xcalloc(t->live + 1, sizeof(*v));
	uint32_t n = 0;
	size_t it = 0;
	uint64_t k;
	void *e;
	while (map_next(&t->table, &it, &k, &e)) {
		const struct app *a = e;
		if (!a->deleted && n < t->live && strcmp(a->id, from) > 0)
			v[n++] = a;
	}
	qsort(v, n, sizeof(*v), by_id);
	struct buf page = BUF_INIT;
	msgpack_packer ppk;
	msgpack_packer_init(&ppk, &page, buf_msgpack_write);
	uint32_t taken = 0;
	while (taken < n && page.len < APPS_LIST_BYTES)
		apps_pack(&ppk, v[taken++], false);
	msgpack_pack_array(pk, taken);
	msgpack_pack_bin_body(pk, page.data, page.len); /* the maps, raw */
	buf_destroy(&page);
	free(v);
}

static int
apps_put(struct apps *t, const struct apps_req *r, msgpack_packer *pk,
	 char *why)
{
	struct app a;
	struct mp_cur c;
	if (r->app == NULL) {
		snprintf(why, APPS_WHY_MAX, "a put needs an app");
		return MIST_EPROTO;
	}
	mp_cur_init(&c, r->app, r->applen);
	if (apps_read(&c, &a, true) != 0) {
		snprintf(why, APPS_WHY_MAX, "malformed app");
		return MIST_EPROTO;
	}
	apps_apply(t, &a);
	sodium_memzero(&a, sizeof(a));
	msgpack_pack_nil(pk);
	return 0;
}

/* An error reply saying why, for the operator (cmd/apps.c prints it). */
static void
reply_error(struct actor *self, const struct msg *req, int rc,
	    const char *why)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	mp_pack_str(&pk, why[0] ? why : mist_strerror(rc));
	struct msg *m = msg_new(MSG_ERROR, b.data, (uint32_t)b.len);
	m->flags = MSG_F_REPLY;
	m->status = (int16_t)rc;
	m->corr = req->corr;
	actor_send(self, req->from, m);
	buf_destroy(&b);
}

void
apps_request(struct apps *t, struct actor *self, const struct map *alive,
	     apps_home_fn pick_home, void *ctx, struct msg *m)
{
	char why[APPS_WHY_MAX] = "";
	struct apps_req *r = xmalloc(sizeof(*r));
	int rc = req_parse(m, r, why);
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	if (rc != 0) {
		/* why is set */
	} else if (mp_str_eq(r->op, r->oplen, "put")) {
		rc = apps_put(t, r, &pk, why);
	} else if (mp_str_eq(r->op, r->oplen, "create")) {
		rc = apps_create(t, self, alive, pick_home, ctx, r, &pk, why);
	} else if (mp_str_eq(r->op, r->oplen, "set")) {
		rc = apps_set(t, self, alive, pick_home, ctx, r, &pk, why);
	} else if (mp_str_eq(r->op, r->oplen, "delete")) {
		rc = apps_delete(t, self, alive, r, &pk, why);
	} else if (mp_str_eq(r->op, r->oplen, "show")) {
		const struct app *a = req_app(t, r, &rc, why);
		if (a != NULL)
			apps_pack(&pk, a, true);
	} else if (mp_str_eq(r->op, r->oplen, "list")) {
		apps_list(t, r->after, r->afterlen, &pk);
	} else {
		snprintf(why, APPS_WHY_MAX, "unknown op %.*s",
			 (int)(r->oplen > 16 ? 16 : r->oplen), r->op);
		rc = MIST_EPROTO;
	}
	if (m->flags & MSG_F_REQUEST) {
		if (rc != 0)
			reply_error(self, m, rc, why);
		else
			actor_reply(self, m, MSG_APPS, b.data, (uint32_t)b.len);
	} else if (rc != 0) {
		log_warn("apps: a %.*s from %016llx refused: %s",
			 (int)(r->oplen > 16 ? 16 : r->oplen), r->op,
			 (unsigned long long)m->from.node, why);
	}
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
	free(r);
}
