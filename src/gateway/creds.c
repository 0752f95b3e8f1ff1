/*
 * creds.c -- the credential table (creds.h): codec, LMDB, spreading, and
 * MSG_CREDS.
 */
#include "config.h"
#include "gateway/creds.h"
#include "gateway/spread.h"
#include "data/jobs.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/mem.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- codec */

static void
cred_pack(msgpack_packer *pk, const struct cred *c, bool with_secret)
{
	msgpack_pack_map(pk, with_secret ? 6 : 5);
	mp_pack_str(pk, "id");
	msgpack_pack_uint64(pk, c->id);
	mp_pack_str(pk, "name");
	mp_pack_str(pk, c->name);
	mp_pack_str(pk, "role");
	mp_pack_str(pk, c->role == ROLE_ADMIN ? "admin" : "submit");
	mp_pack_str(pk, "revoked");
	c->revoked ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	mp_pack_str(pk, "created");
	msgpack_pack_uint64(pk, c->created);
	if (with_secret) {
		mp_pack_str(pk, "secret");
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

/*
 * Parses a cred map (as packed with the secret): exactly one map in @a len
 * bytes, with "secret" (32 bytes) and a non-zero "id".  0 or MIST_EPROTO.
 */
static int
cred_unpack(const uint8_t *p, size_t len, struct cred *c)
{
	const char *name = NULL, *role = NULL;
	const uint8_t *secret = NULL;
	uint32_t namelen = 0, rolelen = 0, secretlen = 0;
	memset(c, 0, sizeof(*c));
	const struct mp_field f[] = {
		MP_UINT("id", &c->id, false),
		MP_STR("name", &name, &namelen, false),
		MP_STR("role", &role, &rolelen, false),
		MP_BOOL("revoked", &c->revoked, false),
		MP_UINT("created", &c->created, false),
		MP_BIN("secret", &secret, &secretlen, true),
	};
	if (mp_decode_fields(p, len, f, MP_NFIELDS(f), NULL) != 0 ||
	    secretlen != 32 || c->id == 0)
		return MIST_EPROTO;
	if (name != NULL)
		snprintf(c->name, sizeof(c->name), "%.*s",
			 (int)(namelen >= CRED_NAME_MAX ? CRED_NAME_MAX - 1
							: namelen),
			 name);
	if (role != NULL)
		c->role = mp_str_eq(role, rolelen, "admin") ? ROLE_ADMIN
							    : ROLE_SUBMIT;
	memcpy(c->secret, secret, 32);
	cred_name_clean(c->name);
	return 0;
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

/* spread.h's packer: the credential with its secret */
static void
cred_pack_secret(msgpack_packer *pk, const void *rec)
{
	cred_pack(pk, rec, true);
}

void
creds_push(struct actor *self, uint64_t node, const struct cred *c)
{
	spread_put(self, node, MSG_CREDS, "cred", cred_pack_secret, c);
}

void
creds_push_all(const struct creds *t, struct actor *self, uint64_t node)
{
	spread_put_all(self, &t->table, node, MSG_CREDS, "cred",
		       cred_pack_secret);
}

static void
creds_spread(struct actor *self, const struct map *alive,
	     const struct cred *c)
{
	spread_put_alive(self, alive, MSG_CREDS, "cred", cred_pack_secret, c);
}

/* ------------------------------------------------------------ MSG_CREDS */

struct creds_req {
	const char *op, *name, *role;
	uint32_t oplen, namelen, rolelen;
	uint64_t id;
	const uint8_t *cred; /* the "cred" map's bytes, or NULL */
	uint32_t credlen;
};

static int
creds_req_parse(const struct msg *m, struct creds_req *r)
{
	*r = (struct creds_req){.op = "", .name = "", .role = "submit",
				.rolelen = 6};
	const struct mp_field f[] = {
		MP_STR("op", &r->op, &r->oplen, false),
		MP_STR("name", &r->name, &r->namelen, false),
		MP_STR("role", &r->role, &r->rolelen, false),
		MP_UINT("id", &r->id, false),
		MP_OBJ("cred", &r->cred, &r->credlen, false),
	};
	if (mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) != 0)
		return MIST_EPROTO;
	return 0;
}

/* Milliseconds in a second: "created" is in unix seconds (creds.h). */
#define CREDS_MS_PER_S 1000u

static uint64_t
creds_now_s(void)
{
	return clock_wall_ms() / CREDS_MS_PER_S;
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
	mp_pack_str(pk, "credential");
	mp_pack_str(pk, text); /* CRED_TEXT_LEN bytes: cred_format */
	mp_pack_str(pk, "info");
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
