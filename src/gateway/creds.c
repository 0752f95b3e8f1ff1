/*
 * creds.c -- the credential table (creds.h): codec, LMDB, spreading, and
 * MSG_CREDS.
 */
#include "config.h"
#include "gateway/creds.h"
#include "data/jobs.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/mem.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- codec */

static void
cred_pack(msgpack_packer *pk, const struct cred *c, bool with_secret)
{
	msgpack_pack_map(pk, with_secret ? 6 : 5);
	msgpack_pack_str_with_body(pk, "id", 2);
	msgpack_pack_uint64(pk, c->id);
	msgpack_pack_str_with_body(pk, "name", 4);
	msgpack_pack_str_with_body(pk, c->name, strlen(c->name));
	msgpack_pack_str_with_body(pk, "role", 4);
	const char *r = c->role == ROLE_ADMIN ? "admin" : "submit";
	msgpack_pack_str_with_body(pk, r, strlen(r));
	msgpack_pack_str_with_body(pk, "revoked", 7);
	c->revoked ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	msgpack_pack_str_with_body(pk, "created", 7);
	msgpack_pack_uint64(pk, c->created);
	if (with_secret) {
		msgpack_pack_str_with_body(pk, "secret", 6);
		msgpack_pack_bin_with_body(pk, c->secret, 32);
	}
}

/* A name as shown by `mist creds list`: control characters replaced. */
static void
cred_name_clean(char *name)
{
	for (char *q = name; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
}

/* Parses a cred map (as packed with the secret).  0 or MIST_EPROTO. */
static int
cred_unpack(const uint8_t *p, size_t len, struct cred *c)
{
	struct mp_cur cur;
	uint32_t n;
	memset(c, 0, sizeof(*c));
	mp_cur_init(&cur, p, len);
	if (mp_read_map(&cur, &n) != 0)
		return MIST_EPROTO;
	bool have_secret = false;
	for (uint32_t i = 0; i < n; i++) {
		const char *k, *s;
		uint32_t kl, sl;
		const uint8_t *b;
		int rc;
		if (mp_read_str(&cur, &k, &kl) != 0)
			return MIST_EPROTO;
		if (mp_str_eq(k, kl, "id")) {
			rc = mp_read_uint(&cur, &c->id);
		} else if (mp_str_eq(k, kl, "name")) {
			if ((rc = mp_read_str(&cur, &s, &sl)) == 0)
				snprintf(c->name, sizeof(c->name), "%.*s",
					 (int)(sl >= CRED_NAME_MAX
						       ? CRED_NAME_MAX - 1
						       : sl),
					 s);
		} else if (mp_str_eq(k, kl, "role")) {
			if ((rc = mp_read_str(&cur, &s, &sl)) == 0)
				c->role = mp_str_eq(s, sl, "admin") ? ROLE_ADMIN
								    : ROLE_SUBMIT;
		} else if (mp_str_eq(k, kl, "revoked")) {
			rc = mp_read_bool(&cur, &c->revoked);
		} else if (mp_str_eq(k, kl, "created")) {
			rc = mp_read_uint(&cur, &c->created);
		} else if (mp_str_eq(k, kl, "secret")) {
			if ((rc = mp_read_bin(&cur, &b, &sl)) == 0) {
				if (sl != 32)
					return MIST_EPROTO;
				memcpy(c->secret, b, 32);
				have_secret = true;
			}
		} else {
			rc = mp_skip(&cur);
		}
		if (rc != 0)
			return MIST_EPROTO;
	}
	cred_name_clean(c->name);
	return have_secret && c->id != 0 ? 0 : MIST_EPROTO;
}

/* ---------------------------------------------------------------- table */

static void
creds_save(struct creds *t, const struct cred *c)
{
	if (t->store == NULL)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	cred_pack(&pk, c, true);
	uint8_t k[CRED_ID_LEN];
	cred_id_put(k, c->id);
	store_put(t->store, STORE_CREDS, k, sizeof(k), b.data, b.len, NULL,
		  NULL);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

static int
creds_load_cb(void *arg, const void *key, size_t klen, const void *val,
	      size_t vlen)
{
	struct creds *t = arg;
	struct cred c;
	(void)key;
	if (klen == CRED_ID_LEN && cred_unpack(val, vlen, &c) == 0) {
		struct cred *n = xmalloc(sizeof(*n));
		*n = c;
		map_put(&t->table, c.id, n);
	}
	sodium_memzero(&c, sizeof(c));
	return 0;
}

void
creds_init(struct creds *t, struct store *store, uint64_t salt)
{
	memset(t, 0, sizeof(*t));
	map_init(&t->table, salt);
	t->store = store;
	if (store != NULL)
		store_scan(store, STORE_CREDS, NULL, 0, creds_load_cb, t);
}

void
creds_destroy(struct creds *t)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&t->table, &it, &k, &v)) {
		sodium_memzero(v, sizeof(struct cred));
		free(v);
	}
	map_destroy(&t->table);
}

const struct cred *
creds_get(const struct creds *t, uint64_t id)
{
	return map_get(&t->table, id);
}

bool
creds_apply(struct creds *t, const struct cred *in)
{
	struct cred *c = map_get(&t->table, in->id);
	if (c && (c->revoked || (!in->revoked && c->role == in->role &&
				 sodium_memcmp(c->secret, in->secret, 32) == 0)))
		return false;
	if (c == NULL) {
		c = xmalloc(sizeof(*c));
		map_put(&t->table, in->id, c);
	}
	*c = *in;
	creds_save(t, c);
	if (c->revoked && t->revoked != NULL)
		t->revoked(t->ctx, c->id);
	return true;
}

/* ------------------------------------------------------------ spreading */

void
creds_push(struct actor *self, uint64_t node, const struct cred *c)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, "put", 3);
	msgpack_pack_str_with_body(&pk, "cred", 4);
	cred_pack(&pk, c, true);
	struct actor_ref to = {node, ACTOR_GATEWAY};
	actor_tell(self, to, MSG_CREDS, b.data, (uint32_t)b.len);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

void
creds_push_all(const struct creds *t, struct actor *self, uint64_t node)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&t->table, &it, &k, &v))
		creds_push(self, node, v);
}

static void
creds_spread(struct actor *self, const struct map *alive,
	     const struct cred *c)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(alive, &it, &k, &v))
		creds_push(self, k, c);
}

/* ------------------------------------------------------------ MSG_CREDS */

struct creds_req {
	const char *op, *name, *role;
	uint32_t oplen, namelen, rolelen;
	uint64_t id;
	const uint8_t *cred;
	size_t credlen;
};

static int
creds_req_parse(const struct msg *m, struct creds_req *r)
{
	struct mp_cur cur;
	uint32_t n;
	*r = (struct creds_req){.op = "", .name = "", .role = "submit",
				.rolelen = 6};
	mp_cur_init(&cur, m->body, m->len);
	if (mp_read_map(&cur, &n) != 0)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		int rc;
		if (mp_read_str(&cur, &k, &kl) != 0)
			return MIST_EPROTO;
		if (mp_str_eq(k, kl, "op")) {
			rc = mp_read_str(&cur, &r->op, &r->oplen);
		} else if (mp_str_eq(k, kl, "name")) {
			rc = mp_read_str(&cur, &r->name, &r->namelen);
		} else if (mp_str_eq(k, kl, "role")) {
			rc = mp_read_str(&cur, &r->role, &r->rolelen);
		} else if (mp_str_eq(k, kl, "id")) {
			rc = mp_read_uint(&cur, &r->id);
		} else if (mp_str_eq(k, kl, "cred")) {
			r->cred = cur.p;
			rc = mp_skip(&cur);
			r->credlen = (size_t)(cur.p - r->cred);
		} else {
			rc = mp_skip(&cur);
		}
		if (rc != 0)
			return MIST_EPROTO;
	}
	return 0;
}

static uint64_t
creds_now_s(void)
{
	return (uint64_t)time(NULL);
}

/* create: a new credential, spread; its text form goes into @a pk. */
static int
creds_create(struct creds *t, struct actor *self, const struct map *alive,
	     const struct creds_req *r, msgpack_packer *pk)
{
	bool admin = mp_str_eq(r->role, r->rolelen, "admin");
	if ((!admin && !mp_str_eq(r->role, r->rolelen, "submit")) ||
	    r->namelen == 0 || r->namelen >= CRED_NAME_MAX)
		return MIST_EINVAL;
	struct cred c = {0};
	randombytes_buf(&c.id, sizeof(c.id));
	c.id |= 1; /* never 0, the id nothing has */
	randombytes_buf(c.secret, 32);
	c.role = admin ? ROLE_ADMIN : ROLE_SUBMIT;
	memcpy(c.name, r->name, r->namelen);
	cred_name_clean(c.name);
	c.created = creds_now_s();
	creds_apply(t, &c);
	creds_spread(self, alive, &c);
	char text[CRED_TEXT_LEN + 1];
	cred_format(text, c.id, c.secret);
	msgpack_pack_map(pk, 2);
	msgpack_pack_str_with_body(pk, "credential", 10);
	msgpack_pack_str_with_body(pk, text, CRED_TEXT_LEN);
	msgpack_pack_str_with_body(pk, "info", 4);
	cred_pack(pk, &c, false);
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(text, sizeof(text));
	return 0;
}

void
creds_request(struct creds *t, struct actor *self, const struct map *alive,
	      struct msg *m)
{
	struct creds_req r;
	int rc = creds_req_parse(m, &r);
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	if (rc != 0) {
		/* already set */
	} else if (mp_str_eq(r.op, r.oplen, "put")) {
		struct cred c;
		if (r.cred == NULL || cred_unpack(r.cred, r.credlen, &c) != 0)
			rc = MIST_EPROTO;
		else
			creds_apply(t, &c);
		sodium_memzero(&c, sizeof(c));
	} else if (mp_str_eq(r.op, r.oplen, "create")) {
		rc = creds_create(t, self, alive, &r, &pk);
	} else if (mp_str_eq(r.op, r.oplen, "revoke")) {
		const struct cred *c = creds_get(t, r.id);
		if (c == NULL) {
			rc = MIST_ENOTFOUND;
		} else {
			struct cred rv = *c;
			rv.revoked = true;
			creds_apply(t, &rv);
			creds_spread(self, alive, &rv);
			sodium_memzero(&rv, sizeof(rv));
			msgpack_pack_nil(&pk);
		}
	} else if (mp_str_eq(r.op, r.oplen, "list")) {
		msgpack_pack_array(&pk, (uint32_t)t->table.len);
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&t->table, &it, &k, &v))
			cred_pack(&pk, v, false);
	} else {
		rc = MIST_EPROTO;
	}
	if (m->flags & MSG_F_REQUEST) {
		if (rc != 0)
			actor_reply_error(self, m, rc);
		else
			actor_reply(self, m, MSG_CREDS, b.data, (uint32_t)b.len);
	}
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}
