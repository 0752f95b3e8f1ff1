/*
 * admin.c -- membership view, ping and flood measurements, echo and sink.
 */
#include "config.h"
#include "actors/admin.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One flood window: messages between two sync requests. */
#define FLOOD_WINDOW 1024
/* Windows in flight: enough to keep the link busy during a sync's RTT. */
#define FLOOD_WINDOWS 4
/* Each echo or sync must come back within this: a link that slow is broken. */
#define PING_TIMEOUT_MS 10000

struct ping {
	bool active;
	bool flood;
	struct msg *req; /* a header-only copy of the client's request */
	uint64_t node;
	uint32_t count, size;
	uint32_t sent, done, errors, syncs_out;
	uint64_t expect_corr;
	uint64_t t_start, t_sent;
	uint64_t *rtt; /* ns, latency mode */
	uint8_t *payload;
};

/* A cluster-wide key operation in progress (one at a time). */
#define KEYS_TIMEOUT_MS 5000
#define KEYS_MAX_DISTINCT 16
/* Keys one node reports at most: a keyring's size (KEYRING_MAX, net/keyring.h) */
#define KEYS_PER_NODE 8
struct keys_op {
	bool active;
	struct msg *req; /* header of the client's request */
	enum admin_key_op op;
	uint8_t key[32];
	uint64_t members_corr;
	struct map corrs; /* outstanding MSG_KEYS_LOCAL requests */
	uint32_t waiting, nodes, ok;
	struct buf failed; /* msgpack strs: "id: reason" */
	uint32_t nfailed;
	uint8_t seen[KEYS_MAX_DISTINCT][32];
	uint32_t count[KEYS_MAX_DISTINCT], primary[KEYS_MAX_DISTINCT];
	int nseen;
};

struct admin {
	struct admin_self self;
	struct admin_hooks hooks;
	struct ping ping;
	struct keys_op keys;
};

struct echo {
	uint64_t sunk;
};

/* --------------------------------------------------------------- ping */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void
ping_finish(struct actor *self, struct ping *p, int status)
{
	uint64_t elapsed = actor_sys_hrtime(self->sys) - p->t_start;
	if (status != 0) {
		actor_reply_error(self, p->req, status);
	} else {
		struct buf b = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &b, buf_msgpack_write);
		uint32_t done = p->flood ? p->count : p->done;
		msgpack_pack_map(&pk, p->flood ? 3 : 8);
		mp_pack_str(&pk, "count");
		msgpack_pack_uint32(&pk, done);
		mp_pack_str(&pk, "errors");
		msgpack_pack_uint32(&pk, p->errors);
		mp_pack_str(&pk, "elapsed_ns");
		msgpack_pack_uint64(&pk, elapsed);
		if (!p->flood) {
			qsort(p->rtt, p->done, sizeof(*p->rtt), cmp_u64);
			uint64_t sum = 0;
			for (uint32_t i = 0; i < p->done; i++)
				sum += p->rtt[i];
			uint32_t last = p->done ? p->done - 1 : 0;
			mp_pack_str(&pk, "min_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[0] : 0);
			mp_pack_str(&pk, "avg_ns");
			msgpack_pack_uint64(&pk, p->done ? sum / p->done : 0);
			mp_pack_str(&pk, "p50_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[last / 2] : 0);
			mp_pack_str(&pk, "p99_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[last * 99 / 100] : 0);
			mp_pack_str(&pk, "max_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[last] : 0);
		}
		actor_reply(self, p->req, MSG_PING, b.data, (uint32_t)b.len);
		buf_destroy(&b);
	}
	free(p->rtt);
	free(p->payload);
	msg_delete(p->req);
	memset(p, 0, sizeof(*p));
}

static void
ping_next_echo(struct actor *self, struct ping *p)
{
	/* a counter in the payload makes every reply distinguishable */
	memcpy(p->payload + 5 + p->size - sizeof(p->sent), &p->sent,
	       sizeof(p->sent));
	p->t_sent = actor_sys_hrtime(self->sys);
	struct actor_ref to = {p->node, ACTOR_ECHO};
	actor_request(self, to, MSG_ECHO, p->payload, p->size + 5,
		      PING_TIMEOUT_MS, &p->expect_corr);
	p->sent++;
}

static void
flood_window(struct actor *self, struct ping *p)
{
	struct actor_ref to = {p->node, ACTOR_ECHO};
	uint32_t n = p->count - p->sent < FLOOD_WINDOW ? p->count - p->sent
						       : FLOOD_WINDOW;
	for (uint32_t i = 0; i < n; i++)
		actor_tell(self, to, MSG_SINK, p->payload, p->size + 5);
	p->sent += n;
	actor_request(self, to, MSG_SINK_SYNC, NULL, 0, PING_TIMEOUT_MS, NULL);
	p->syncs_out++;
}

/* Body: {"node": u64, "count": u32, "size": u32, "flood": bool} */
static void
ping_start(struct actor *self, struct admin *ad, const struct msg *req)
{
	struct ping *p = &ad->ping;
	if (p->active) {
		actor_reply_error(self, req, MIST_EOVERLOAD);
		return;
	}
	uint64_t node = 0, count = 1, size = 100;
	bool flood = false;
	const struct mp_field f[] = {
		MP_UINT("node", &node, false),
		MP_UINT("count", &count, false),
		MP_UINT("size", &size, false),
		MP_BOOL("flood", &flood, false),
	};
	int rc = mp_decode_fields(req->body, req->len, f, MP_NFIELDS(f), NULL);
	if (rc != 0 || count == 0 || count > ADMIN_PING_MAX_COUNT ||
	    (!flood && count > ADMIN_PING_MAX_RTTS) ||
	    size < sizeof(uint32_t) || size > ADMIN_PING_MAX_SIZE) {
		actor_reply_error(self, req, MIST_EINVAL);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->active = true;
	p->flood = flood;
	p->req = msg_new(req->type, NULL, 0); /* the header: enough to reply */
	p->req->flags = req->flags;
	p->req->corr = req->corr;
	p->req->from = req->from;
	p->req->to = req->to;
	p->node = node;
	p->count = (uint32_t)count;
	p->size = (uint32_t)size;
	/* the payload is a msgpack bin of `size` bytes: 5-byte header */
	p->payload = xcalloc(1, size + 5);
	p->payload[0] = 0xc6;
	p->payload[1] = (uint8_t)(size >> 24);
	p->payload[2] = (uint8_t)(size >> 16);
	p->payload[3] = (uint8_t)(size >> 8);
	p->payload[4] = (uint8_t)size;
	for (uint32_t i = 0; i < size; i++)
		p->payload[5 + i] = (uint8_t)(i * 31 + 7);
	p->t_start = actor_sys_hrtime(self->sys);
	if (flood) {
		for (int w = 0; w < FLOOD_WINDOWS && p->sent < p->count; w++)
			flood_window(self, p);
	} else {
		p->rtt = xmalloc(count * sizeof(*p->rtt));
		ping_next_echo(self, p);
	}
}

static void
ping_reply(struct actor *self, struct admin *ad, const struct msg *m)
{
	struct ping *p = &ad->ping;
	if (!p->active)
		return;
	if (p->flood) {
		p->syncs_out--;
		if (m->status != 0) {
			ping_finish(self, p, m->status);
			return;
		}
		if (p->sent < p->count)
			flood_window(self, p);
		else if (p->syncs_out == 0)
			ping_finish(self, p, 0);
		return;
	}
	if (m->corr != p->expect_corr)
		return;
	if (m->status != 0) {
		ping_finish(self, p, m->status);
		return;
	}
	/* the echo must be exactly what we sent */
	if (m->len != p->size + 5 || memcmp(m->body, p->payload, m->len) != 0)
		p->errors++;
	p->rtt[p->done++] = actor_sys_hrtime(self->sys) - p->t_sent;
	if (p->sent < p->count)
		ping_next_echo(self, p);
	else
		ping_finish(self, p, 0);
}

/* --------------------------------------------------------------- keys */

static const char *const key_ops[] = {"list", "install", "use", "remove"};

/* Body: {"op": str, "key": bin 32 (not for list)}.  0 or MIST_EINVAL. */
static int
keys_parse(const struct msg *m, enum admin_key_op *op, uint8_t key[32])
{
	const char *name = NULL;
	const uint8_t *b = NULL;
	uint32_t namelen = 0, blen = 0;
	const struct mp_field f[] = {
		MP_STR("op", &name, &namelen, true),
		MP_BIN("key", &b, &blen, false),
	};
	if (mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) != 0)
		return MIST_EINVAL;
	int found = -1;
	for (int j = 0; j < 4; j++)
		if (mp_str_eq(name, namelen, key_ops[j]))
			found = j;
	if (found < 0)
		return MIST_EINVAL;
	*op = (enum admin_key_op)found;
	if (b != NULL) {
		if (blen != 32)
			return MIST_EINVAL;
		memcpy(key, b, 32);
	} else if (*op != KEYS_LIST) {
		return MIST_EINVAL;
	}
	return 0;
}

static void
keys_body(struct buf *b, enum admin_key_op op, const uint8_t key[32])
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_map(&pk, op == KEYS_LIST ? 1 : 2);
	mp_pack_str(&pk, "op");
	mp_pack_str(&pk, key_ops[op]);
	if (op != KEYS_LIST) {
		mp_pack_str(&pk, "key");
		msgpack_pack_bin_with_body(&pk, key, 32);
	}
}

/* MSG_KEYS_LOCAL: apply to our own keyring. */
static void
keys_local(struct actor *self, struct admin *ad, const struct msg *m)
{
	enum admin_key_op op;
	uint8_t key[32], keys[KEYS_PER_NODE][32];
	int n = 0, primary = 0;
	int rc = keys_parse(m, &op, key);
	if (rc == 0)
		rc = ad->hooks.keys ? ad->hooks.keys(ad->hooks.ctx, op, key, keys,
						      &n, &primary)
				    : MIST_EINVAL;
	if (rc != 0) {
		actor_reply_error(self, m, rc);
		return;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_str(&pk, "keys");
	msgpack_pack_array(&pk, (uint32_t)n);
	for (int i = 0; i < n; i++)
		msgpack_pack_bin_with_body(&pk, keys[i], 32);
	mp_pack_str(&pk, "primary");
	msgpack_pack_uint32(&pk, (uint32_t)primary);
	actor_reply(self, m, MSG_KEYS_LOCAL, b.data, (uint32_t)b.len);
	buf_destroy(&b);
	sodium_memzero(keys, sizeof(keys));
}

static void
keys_fail(struct keys_op *k, uint64_t node, int status)
{
	char line[96];
	snprintf(line, sizeof(line), "%016llx: %s", (unsigned long long)node,
		 mist_strerror(status));
	msgpack_packer pk;
	msgpack_packer_init(&pk, &k->failed, buf_msgpack_write);
	mp_pack_str(&pk, line);
	k->nfailed++;
}

static void
keys_finish(struct actor *self, struct keys_op *k)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 4);
	mp_pack_str(&pk, "nodes");
	msgpack_pack_uint32(&pk, k->nodes);
	mp_pack_str(&pk, "ok");
	msgpack_pack_uint32(&pk, k->ok);
	mp_pack_str(&pk, "failed");
	msgpack_pack_array(&pk, k->nfailed);
	buf_append(&b, k->failed.data, k->failed.len);
	mp_pack_str(&pk, "keys");
	msgpack_pack_array(&pk, (uint32_t)k->nseen);
	for (int i = 0; i < k->nseen; i++) {
		msgpack_pack_map(&pk, 3);
		mp_pack_str(&pk, "key");
		msgpack_pack_bin_with_body(&pk, k->seen[i], 32);
		mp_pack_str(&pk, "nodes");
		msgpack_pack_uint32(&pk, k->count[i]);
		mp_pack_str(&pk, "primary");
		msgpack_pack_uint32(&pk, k->primary[i]);
	}
	actor_reply(self, k->req, MSG_KEYS, b.data, (uint32_t)b.len);
	buf_destroy(&b);
	buf_destroy(&k->failed);
	msg_delete(k->req);
	map_destroy(&k->corrs);
	sodium_memzero(k, sizeof(*k));
}

/* The member list arrived: send the operation to every live member. */
static void
keys_fan_out(struct actor *self, struct admin *ad, const struct msg *m)
{
	struct keys_op *k = &ad->keys;
	struct mp_cur c;
	uint32_t n;
	struct buf body = BUF_INIT;
	keys_body(&body, k->op, k->key);
	mp_cur_init(&c, m->body, m->len);
	if (m->status != 0 || mp_read_array(&c, &n) != 0)
		n = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = 0;
		const char *status = NULL;
		uint32_t slen = 0;
		const struct mp_field f[] = {
			MP_UINT("id", &id, true),
			MP_STR("status", &status, &slen, true),
		};
		struct mp_cur member;
		if (mp_read_obj(&c, &member) != 0)
			break;
		if (mp_read_fields(&member, f, MP_NFIELDS(f), NULL) != 0)
			continue; /* not a member we can address */
		bool alive = mp_str_eq(status, slen, "alive");
		if (!alive || id == 0)
			continue;
		struct actor_ref to = {id, ACTOR_ADMIN};
		uint64_t corr;
		k->nodes++;
		k->waiting++;
		actor_request(self, to, MSG_KEYS_LOCAL, body.data,
			      (uint32_t)body.len, KEYS_TIMEOUT_MS, &corr);
		if (k->active) /* a synchronous failure may have finished it */
			map_put(&k->corrs, corr, (void *)(uintptr_t)id);
	}
	buf_destroy(&body);
	if (k->waiting == 0)
		keys_finish(self, k);
}

/* The "keys" of a MSG_KEYS_LOCAL reply: keys of 32 bytes, the first
 * KEYS_PER_NODE kept. */
struct local_keys {
	const uint8_t *keys[KEYS_PER_NODE];
	uint32_t n;
};

static int
local_keys_read(struct mp_cur *v, void *ctx)
{
	struct local_keys *lk = ctx;
	uint32_t nk;
	if (mp_read_array(v, &nk) != 0)
		return MIST_EPROTO;
	lk->n = nk;
	for (uint32_t j = 0; j < nk; j++) {
		uint32_t bl;
		const uint8_t *b;
		if (mp_read_bin(v, &b, &bl) != 0 || bl != 32)
			break; /* the keys before it still count */
		if (j < KEYS_PER_NODE)
			lk->keys[j] = b;
	}
	return 0;
}

static void
keys_local_reply(struct actor *self, struct admin *ad, const struct msg *m)
{
	struct keys_op *k = &ad->keys;
	if (!k->active)
		return;
	uintptr_t node = (uintptr_t)map_del(&k->corrs, m->corr);
	if (node == 0)
		return; /* not one of ours */
	k->waiting--;
	if (m->status != 0) {
		keys_fail(k, node, m->status);
	} else {
		struct local_keys lk = {0};
		uint64_t primary = 0;
		const struct mp_field f[] = {
			MP_FN("keys", local_keys_read, &lk, false),
			MP_UINT("primary", &primary, false),
		};
		/* lenient, as before: whatever keys were read count */
		(void)mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL);
		uint32_t nk = lk.n;
		const uint8_t *const *keys = lk.keys;
		k->ok++;
		for (uint32_t j = 0; j < nk && j < KEYS_PER_NODE; j++) {
			if (keys[j] == NULL)
				break;
			int at = -1;
			for (int s2 = 0; s2 < k->nseen; s2++)
				if (memcmp(k->seen[s2], keys[j], 32) == 0)
					at = s2;
			if (at < 0 && k->nseen < KEYS_MAX_DISTINCT) {
				at = k->nseen++;
				memcpy(k->seen[at], keys[j], 32);
			}
			if (at >= 0) {
				k->count[at]++;
				k->primary[at] += j == primary;
			}
		}
	}
	if (k->waiting == 0)
		keys_finish(self, k);
}

static void
keys_start(struct actor *self, struct admin *ad, const struct msg *m)
{
	struct keys_op *k = &ad->keys;
	if (k->active) {
		actor_reply_error(self, m, MIST_EOVERLOAD);
		return;
	}
	memset(k, 0, sizeof(*k));
	if (keys_parse(m, &k->op, k->key) != 0) {
		actor_reply_error(self, m, MIST_EINVAL);
		return;
	}
	k->active = true;
	map_init(&k->corrs, rng_next(&self->sys->rng));
	k->req = msg_new(m->type, NULL, 0);
	k->req->flags = m->flags;
	k->req->corr = m->corr;
	k->req->from = m->from;
	k->req->to = m->to;
	struct actor_ref swim = {self->sys->node, ACTOR_SWIM};
	actor_request(self, swim, MSG_MEMBERS, NULL, 0, KEYS_TIMEOUT_MS,
		      &k->members_corr);
}

/* -------------------------------------------------------------- actors */

static void
admin_fn(struct actor *self, struct msg *m)
{
	struct admin *ad = self->state;
	switch (m->type) {
	case MSG_PING:
		if (m->flags & MSG_F_REQUEST)
			ping_start(self, ad, m);
		break;
	case MSG_KEYS:
		if (m->flags & MSG_F_REQUEST)
			keys_start(self, ad, m);
		break;
	case MSG_KEYS_LOCAL:
		if (m->flags & MSG_F_REQUEST)
			keys_local(self, ad, m);
		else if (m->flags & MSG_F_REPLY)
			keys_local_reply(self, ad, m);
		break;
	case MSG_MEMBERS:
		if ((m->flags & MSG_F_REPLY) && ad->keys.active &&
		    m->corr == ad->keys.members_corr)
			keys_fan_out(self, ad, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN); /* ask SWIM */
		break;
	case MSG_ECHO:
	case MSG_SINK_SYNC:
		if (m->flags & MSG_F_REPLY)
			ping_reply(self, ad, m);
		break;
	case MSG_ERROR:
		/* an error reply: to the member list, a key request or a ping */
		if (!(m->flags & MSG_F_REPLY))
			break;
		if (ad->keys.active && m->corr == ad->keys.members_corr)
			keys_fan_out(self, ad, m);
		else if (ad->keys.active && map_get(&ad->keys.corrs, m->corr))
			keys_local_reply(self, ad, m);
		else
			ping_reply(self, ad, m);
		break;
	case MSG_STOP: {
		if (ad->ping.active)
			ping_finish(self, &ad->ping, MIST_ECLOSED);
		if (ad->keys.active) {
			actor_reply_error(self, ad->keys.req, MIST_ECLOSED);
			buf_destroy(&ad->keys.failed);
			msg_delete(ad->keys.req);
			map_destroy(&ad->keys.corrs);
		}
		free(ad);
		self->state = NULL;
		break;
	}
	default:
		if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

static void
echo_fn(struct actor *self, struct msg *m)
{
	struct echo *e = self->state;
	switch (m->type) {
	case MSG_ECHO:
		if (m->flags & MSG_F_REQUEST)
			actor_reply(self, m, MSG_ECHO, m->body, m->len);
		break;
	case MSG_SINK:
		e->sunk++;
		break;
	case MSG_SINK_SYNC:
		if (m->flags & MSG_F_REQUEST) {
			struct buf out = BUF_INIT;
			msgpack_packer pk;
			msgpack_packer_init(&pk, &out, buf_msgpack_write);
			msgpack_pack_uint64(&pk, e->sunk);
			actor_reply(self, m, MSG_SINK_SYNC, out.data,
				    (uint32_t)out.len);
			buf_destroy(&out);
		}
		break;
	case MSG_STOP:
		free(e);
		self->state = NULL;
		break;
	default:
		if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

int
admin_spawn(struct actor_sys *sys, const struct admin_self *self,
	    const struct admin_hooks *hooks)
{
	struct admin *ad = xcalloc(1, sizeof(*ad));
	ad->self = *self;
	if (hooks)
		ad->hooks = *hooks;
	if (actor_spawn(sys, ACTOR_ADMIN, "admin", admin_fn, ad) == NULL) {
		free(ad);
		return MIST_EEXIST;
	}
	struct echo *e = xcalloc(1, sizeof(*e));
	if (actor_spawn(sys, ACTOR_ECHO, "echo", echo_fn, e) == NULL) {
		free(e);
		return MIST_EEXIST;
	}
	return 0;
}
