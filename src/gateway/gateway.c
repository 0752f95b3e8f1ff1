/*
 * gateway.c -- client connections and credentials (see gateway.h).
 *
 * A connection reads frames into a bounded buffer (max_frame), does the
 * NNpsk0 handshake with the first one, then opens, decodes (wire.h) and
 * forwards each request as an actor request; replies are encoded back and
 * sealed in one frame per loop iteration (a prepare handle), like links.
 * A connection with max_inflight requests unanswered stops being read.
 */
#include "config.h"
#include "gateway/gateway.h"
#include "data/jobs.h"
#include "mist.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/noise.h"
#include "net/swim.h"
#include "net/wire.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_REPLAY_MAX (1u << 20)

struct cred {
	uint64_t id;
	uint8_t secret[32];
	uint8_t role;
	bool revoked;
	char name[64];
	uint64_t created;
};

enum gstate_conn { GC_HANDSHAKE, GC_OPEN, GC_CLOSING };

struct gconn {
	uint64_t id;
	struct gateway *g;
	uv_tcp_t tcp;
	enum gstate_conn state;
	struct buf in;
	struct buf out; /* plaintext envelopes to seal */
	struct noise_cipher tx, rx;
	uint64_t cred;
	uint8_t role;
	uint32_t inflight;
	bool reading, dirty;
	uint64_t hs_deadline;
	struct gconn *next_dirty;
};

struct gpend {
	uint64_t conn, ccorr;
	uint32_t type;
};

struct replay_ent {
	uint64_t h, expires;
};

struct gateway {
	struct actor *actor;
	uv_loop_t *loop;
	struct store *store;
	struct gateway_config cfg;
	uv_tcp_t listener;
	uv_prepare_t flush;
	uv_timer_t timer;
	struct sockaddr_storage bound;
	struct map conns;   /* id -> gconn */
	struct map pending; /* corr -> gpend */
	struct map creds;   /* id -> cred */
	struct map alive;   /* node -> (void *)1 */
	struct map seen;    /* ephemeral hash -> expiry */
	struct replay_ent *ring;
	uint32_t rhead, rlen;
	uint64_t next_conn;
	struct gconn *dirty;
	uint8_t *scratch;
	int handles;
	bool stopping;
	uint64_t accepted, refused, bad;
};

void
gateway_config_default(struct gateway_config *cfg)
{
	cfg->max_frame = 1u << 20;
	cfg->max_conns = 4096;
	cfg->max_inflight = 4096;
	cfg->handshake_timeout_ms = 10000;
	cfg->request_timeout_ms = 30000;
}

static uint64_t
wall_ms(void)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* ---------------------------------------------------------- credentials */

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
					 (int)(sl > 63 ? 63 : sl), s);
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
	for (char *q = c->name; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return have_secret && c->id != 0 ? 0 : MIST_EPROTO;
}

static void
cred_save(struct gateway *g, const struct cred *c)
{
	if (g->store == NULL)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	cred_pack(&pk, c, true);
	uint8_t k[8];
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(c->id >> (56 - 8 * i));
	store_put(g->store, STORE_CREDS, k, 8, b.data, b.len, NULL, NULL);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

static void gconn_close(struct gconn *c, const char *why);

/* Applies @a in; a revocation always wins.  Returns true if it changed. */
static bool
cred_apply(struct gateway *g, const struct cred *in)
{
	struct cred *c = map_get(&g->creds, in->id);
	if (c && (c->revoked || (!in->revoked && c->role == in->role &&
				 sodium_memcmp(c->secret, in->secret, 32) == 0)))
		return false;
	if (c == NULL) {
		c = xmalloc(sizeof(*c));
		map_put(&g->creds, in->id, c);
	}
	*c = *in;
	cred_save(g, c);
	if (c->revoked) {
		size_t it = 0;
		uint64_t k;
		void *v;
		struct gconn *doomed[64];
		int n = 0;
		while (n < 64 && map_next(&g->conns, &it, &k, &v))
			if (((struct gconn *)v)->cred == c->id)
				doomed[n++] = v;
		for (int i = 0; i < n; i++)
			gconn_close(doomed[i], "credential revoked");
	}
	return true;
}

static void
cred_push(struct gateway *g, uint64_t node, const struct cred *c)
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
	actor_tell(g->actor, to, MSG_CREDS, b.data, (uint32_t)b.len);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
}

static void
cred_spread(struct gateway *g, const struct cred *c)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&g->alive, &it, &k, &v))
		cred_push(g, k, c);
}

static int
creds_load_cb(void *arg, const void *key, size_t klen, const void *val,
	      size_t vlen)
{
	struct gateway *g = arg;
	struct cred c;
	(void)key;
	if (klen == 8 && cred_unpack(val, vlen, &c) == 0) {
		struct cred *n = xmalloc(sizeof(*n));
		*n = c;
		map_put(&g->creds, c.id, n);
	}
	sodium_memzero(&c, sizeof(c));
	return 0;
}

static void
creds_request(struct gateway *g, struct msg *m)
{
	struct mp_cur cur;
	uint32_t n;
	const char *op = "", *name = "", *role = "submit";
	uint32_t oplen = 0, namelen = 0, rolelen = 6;
	uint64_t id = 0;
	const uint8_t *credp = NULL;
	size_t credlen = 0;
	mp_cur_init(&cur, m->body, m->len);
	if (mp_read_map(&cur, &n) != 0)
		goto proto;
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		int rc;
		if (mp_read_str(&cur, &k, &kl) != 0)
			goto proto;
		if (mp_str_eq(k, kl, "op"))
			rc = mp_read_str(&cur, &op, &oplen);
		else if (mp_str_eq(k, kl, "name"))
			rc = mp_read_str(&cur, &name, &namelen);
		else if (mp_str_eq(k, kl, "role"))
			rc = mp_read_str(&cur, &role, &rolelen);
		else if (mp_str_eq(k, kl, "id"))
			rc = mp_read_uint(&cur, &id);
		else if (mp_str_eq(k, kl, "cred")) {
			credp = cur.p;
			rc = mp_skip(&cur);
			credlen = (size_t)(cur.p - credp);
		} else
			rc = mp_skip(&cur);
		if (rc != 0)
			goto proto;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	if (mp_str_eq(op, oplen, "put")) {
		struct cred c;
		if (credp == NULL || cred_unpack(credp, credlen, &c) != 0)
			goto proto;
		cred_apply(g, &c);
		sodium_memzero(&c, sizeof(c));
	} else if (mp_str_eq(op, oplen, "create")) {
		bool admin = mp_str_eq(role, rolelen, "admin");
		if ((!admin && !mp_str_eq(role, rolelen, "submit")) ||
		    namelen == 0 || namelen > 63) {
			actor_reply_error(g->actor, m, MIST_EINVAL);
			return;
		}
		struct cred c = {0};
		randombytes_buf(&c.id, sizeof(c.id));
		c.id |= 1;
		randombytes_buf(c.secret, 32);
		c.role = admin ? ROLE_ADMIN : ROLE_SUBMIT;
		memcpy(c.name, name, namelen);
		for (char *q = c.name; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = '?';
		c.created = wall_ms() / 1000;
		cred_apply(g, &c);
		cred_spread(g, &c);
		char text[CRED_TEXT_LEN + 1];
		cred_format(text, c.id, c.secret);
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "credential", 10);
		msgpack_pack_str_with_body(&pk, text, CRED_TEXT_LEN);
		msgpack_pack_str_with_body(&pk, "info", 4);
		cred_pack(&pk, &c, false);
		sodium_memzero(&c, sizeof(c));
		sodium_memzero(text, sizeof(text));
	} else if (mp_str_eq(op, oplen, "revoke")) {
		struct cred *c = map_get(&g->creds, id);
		if (c == NULL) {
			actor_reply_error(g->actor, m, MIST_ENOTFOUND);
			buf_destroy(&b);
			return;
		}
		struct cred t = *c;
		t.revoked = true;
		cred_apply(g, &t);
		cred_spread(g, &t);
		sodium_memzero(&t, sizeof(t));
		msgpack_pack_nil(&pk);
	} else if (mp_str_eq(op, oplen, "list")) {
		msgpack_pack_array(&pk, (uint32_t)g->creds.len);
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&g->creds, &it, &k, &v))
			cred_pack(&pk, v, false);
	} else {
		buf_destroy(&b);
		goto proto;
	}
	if (m->flags & MSG_F_REQUEST)
		actor_reply(g->actor, m, MSG_CREDS, b.data, (uint32_t)b.len);
	sodium_memzero(b.data, b.len);
	buf_destroy(&b);
	return;
proto:
	if (m->flags & MSG_F_REQUEST)
		actor_reply_error(g->actor, m, MIST_EPROTO);
}

/* ---------------------------------------------------------- connections */

/* The gateway is freed with its last handle, after MSG_STOP. */
static void
gw_unref(struct gateway *g)
{
	if (--g->handles > 0 || !g->stopping)
		return;
	free(g->scratch);
	free(g->ring);
	free(g);
}

static void
gconn_closed(uv_handle_t *h)
{
	struct gconn *c = h->data;
	struct gateway *g = c->g;
	buf_destroy(&c->in);
	buf_destroy(&c->out);
	sodium_memzero(&c->tx, sizeof(c->tx));
	sodium_memzero(&c->rx, sizeof(c->rx));
	free(c);
	gw_unref(g);
}

static void
gconn_close(struct gconn *c, const char *why)
{
	if (c->state == GC_CLOSING)
		return;
	log_debug("gateway: closing client connection: %s", why);
	c->state = GC_CLOSING;
	map_del(&c->g->conns, c->id);
	uv_close((uv_handle_t *)&c->tcp, gconn_closed);
}

static void
gconn_mark(struct gconn *c)
{
	if (!c->dirty) {
		c->dirty = true;
		c->next_dirty = c->g->dirty;
		c->g->dirty = c;
	}
}

static void
gconn_reply(struct gconn *c, uint32_t type, int status, uint64_t corr,
	    const uint8_t *body, uint32_t len)
{
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REPLY;
	m->status = (int16_t)status;
	m->corr = corr;
	size_t old = c->out.len;
	wire_envelope_encode(&c->out, m, 0);
	if (c->out.len - old > c->g->cfg.max_frame) {
		/* no frame could carry it: the client gets E2BIG instead */
		c->out.len = old;
		m->type = MSG_ERROR;
		m->status = MIST_E2BIG;
		m->len = 0;
		wire_envelope_encode(&c->out, m, 0);
	}
	msg_delete(m);
	gconn_mark(c);
}

static bool
type_allowed(uint32_t type, uint8_t role)
{
	/* listing every job is for admins; the rest is checked per job */
	return msgtype_is_client_job(type) &&
	       (type != MSG_JOB_LIST || role == ROLE_ADMIN);
}

static int
gconn_request(void *ctx, struct msg *m)
{
	struct gconn *c = ctx;
	struct gateway *g = c->g;
	int status = 0;
	uint64_t owner = g->actor->sys->node;
	if (!type_allowed(m->type, c->role)) {
		status = MIST_EPERM;
	} else if (m->type != MSG_JOB_CREATE && m->type != MSG_JOB_LIST) {
		struct mp_cur cur;
		uint32_t n;
		mp_cur_init(&cur, m->body, m->len);
		if (mp_read_array(&cur, &n) != 0 || n < 2 ||
		    mp_read_uint(&cur, &owner) != 0 || owner == 0)
			status = MIST_EPROTO;
	}
	if (status != 0) {
		if (m->flags & MSG_F_REQUEST)
			gconn_reply(c, MSG_ERROR, status, m->corr, NULL, 0);
		msg_delete(m);
		return 0;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, c->cred);
	msgpack_pack_uint8(&pk, c->role);
	buf_append(&b, m->body, m->len);
	struct actor_ref to = {owner, ACTOR_DATA};
	if (m->flags & MSG_F_REQUEST) {
		uint64_t now = actor_sys_now(g->actor->sys);
		uint32_t timeout = g->cfg.request_timeout_ms;
		if (m->deadline > now)
			timeout = m->deadline - now > 3600000
					  ? 3600000
					  : (uint32_t)(m->deadline - now);
		struct gpend *p = xmalloc(sizeof(*p));
		*p = (struct gpend){c->id, m->corr, m->type};
		uint64_t corr;
		actor_request(g->actor, to, m->type, b.data, (uint32_t)b.len,
			      timeout, &corr);
		map_put(&g->pending, corr, p);
		if (++c->inflight >= g->cfg.max_inflight && c->reading) {
			uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
		}
	} else {
		actor_tell(g->actor, to, m->type, b.data, (uint32_t)b.len);
	}
	buf_destroy(&b);
	msg_delete(m);
	return 0;
}

static bool
replay_seen(struct gateway *g, const uint8_t re[32])
{
	uint64_t now = wall_ms(), h;
	memcpy(&h, re, 8);
	/* expire the oldest entries first (they were added in time order) */
	while (g->rlen > 0 && g->ring[g->rhead].expires <= now) {
		map_del(&g->seen, g->ring[g->rhead].h);
		g->rhead = (g->rhead + 1) % GW_REPLAY_MAX;
		g->rlen--;
	}
	if (map_get(&g->seen, h) != NULL || g->rlen == GW_REPLAY_MAX)
		return true; /* a full cache refuses: safe, and very unlikely */
	uint32_t at = (g->rhead + g->rlen++) % GW_REPLAY_MAX;
	g->ring[at] = (struct replay_ent){h, now + 2 * GATEWAY_SKEW_MS};
	map_put(&g->seen, h, (void *)1);
	return false;
}

static int
gconn_handshake(struct gconn *c, const uint8_t *p, size_t n)
{
	struct gateway *g = c->g;
	if (n < 1 + 8 + 32 + 16 || p[0] != GATEWAY_VERSION)
		return MIST_EPROTO;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | p[1 + i];
	struct cred *cr = map_get(&g->creds, id);
	if (cr == NULL || cr->revoked)
		return MIST_EAUTH;
	uint8_t prologue[sizeof(GATEWAY_PROLOGUE) - 1 + 8];
	memcpy(prologue, GATEWAY_PROLOGUE, sizeof(GATEWAY_PROLOGUE) - 1);
	memcpy(prologue + sizeof(GATEWAY_PROLOGUE) - 1, p + 1, 8);
	struct noise_hs hs;
	if (noise_hs_init(&hs, GATEWAY_PROTOCOL, false, prologue,
			  sizeof(prologue), NULL, NULL, cr->secret) != 0)
		return MIST_EPROTO;
	size_t plen;
	int rc = noise_hs_read(&hs, p + 9, n - 9, g->scratch, g->cfg.max_frame,
			       &plen);
	if (rc != 0) {
		noise_hs_wipe(&hs);
		return MIST_EAUTH;
	}
	struct mp_cur cur;
	uint64_t ts, now = wall_ms();
	mp_cur_init(&cur, g->scratch, plen);
	if (mp_read_uint(&cur, &ts) != 0 ||
	    (ts > now ? ts - now : now - ts) > GATEWAY_SKEW_MS ||
	    replay_seen(g, hs.re)) {
		noise_hs_wipe(&hs);
		return MIST_EAUTH;
	}
	uint8_t msg2[64 + 4];
	size_t m2len;
	noise_hs_write(&hs, NULL, 0, msg2 + 4, 64, &m2len);
	buf_put_u32be(msg2, (uint32_t)m2len);
	noise_hs_split(&hs, &c->tx, &c->rx);
	noise_hs_wipe(&hs);
	c->cred = id;
	c->role = cr->role;
	c->state = GC_OPEN;
	/* msg2 goes out before any sealed frame */
	uv_buf_t b = uv_buf_init((char *)msg2, (unsigned)(m2len + 4));
	if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)(m2len + 4))
		return MIST_EIO;
	size_t rest = mp_cur_left(&cur);
	if (rest > 0)
		return wire_payload_decode(cur.p, rest, g->cfg.max_frame,
					   actor_sys_now(g->actor->sys),
					   gconn_request, c);
	return 0;
}

static void
gconn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct gconn *c = h->data;
	(void)hint;
	buf_reserve(&c->in, 65536);
	b->base = (char *)c->in.data + c->in.len;
	b->len = c->in.cap - c->in.len;
}

static void
gconn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *ub)
{
	struct gconn *c = s->data;
	struct gateway *g = c->g;
	(void)ub;
	if (nread < 0) {
		gconn_close(c, "end of stream");
		return;
	}
	c->in.len += (size_t)nread;
	size_t off = 0;
	while (c->state != GC_CLOSING) {
		const uint8_t *payload;
		size_t plen;
		int used = wire_frame_parse(c->in.data + off, c->in.len - off,
					    g->cfg.max_frame + 64, &payload,
					    &plen);
		if (used < 0) {
			g->bad++;
			gconn_close(c, "oversized frame");
			return;
		}
		if (used == 0)
			break;
		off += (size_t)used;
		int rc;
		if (c->state == GC_HANDSHAKE) {
			rc = gconn_handshake(c, payload, plen);
		} else if (plen < NOISE_TAGLEN ||
			   noise_cipher_decrypt(&c->rx, NULL, 0, payload, plen,
						g->scratch) != 0) {
			rc = MIST_EAUTH;
		} else {
			rc = wire_payload_decode(g->scratch, plen - NOISE_TAGLEN,
						 g->cfg.max_frame,
						 actor_sys_now(g->actor->sys),
						 gconn_request, c);
		}
		if (rc != 0) {
			g->bad++;
			gconn_close(c, mist_strerror(rc));
			return;
		}
	}
	buf_consume(&c->in, off);
}

static void
gw_accept(uv_stream_t *server, int status)
{
	struct gateway *g = server->data;
	if (status != 0)
		return;
	struct gconn *c = xcalloc(1, sizeof(*c));
	c->g = g;
	c->id = ++g->next_conn;
	uv_tcp_init(g->loop, &c->tcp);
	c->tcp.data = c;
	g->handles++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
	    g->conns.len >= g->cfg.max_conns || g->stopping) {
		g->refused++;
		c->state = GC_CLOSING;
		uv_close((uv_handle_t *)&c->tcp, gconn_closed);
		return;
	}
	g->accepted++;
	uv_tcp_nodelay(&c->tcp, 1);
	c->hs_deadline = uv_now(g->loop) + g->cfg.handshake_timeout_ms;
	map_put(&g->conns, c->id, c);
	c->reading = true;
	uv_read_start((uv_stream_t *)&c->tcp, gconn_alloc, gconn_read);
}

struct gwrite {
	uv_write_t req;
	uint8_t data[];
};

static void
gw_write_cb(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void
gw_flush(uv_prepare_t *h)
{
	struct gateway *g = h->data;
	struct gconn *c = g->dirty;
	g->dirty = NULL;
	while (c) {
		struct gconn *next = c->next_dirty;
		c->dirty = false;
		size_t off = 0;
		while (c->state == GC_OPEN && off < c->out.len) {
			/* frames of at most max_frame, cut where an envelope
			 * ends (gconn_reply keeps each one below it) */
			size_t n = c->out.len - off;
			if (n > g->cfg.max_frame)
				n = wire_payload_prefix(c->out.data + off, n,
							g->cfg.max_frame);
			struct gwrite *w = xmalloc(sizeof(*w) + 4 + n +
						   NOISE_TAGLEN);
			buf_put_u32be(w->data, (uint32_t)(n + NOISE_TAGLEN));
			noise_cipher_encrypt(&c->tx, NULL, 0, c->out.data + off,
					     n, w->data + 4);
			uv_buf_t b = uv_buf_init((char *)w->data,
						 (unsigned)(4 + n + NOISE_TAGLEN));
			if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
				     gw_write_cb) != 0)
				free(w);
			off += n;
		}
		buf_reset(&c->out);
		c = next;
	}
}

static void
gw_timer(uv_timer_t *t)
{
	struct gateway *g = t->data;
	uint64_t now = uv_now(g->loop);
	size_t it = 0;
	uint64_t k;
	void *v;
	struct gconn *doomed[64];
	int n = 0;
	while (n < 64 && map_next(&g->conns, &it, &k, &v)) {
		struct gconn *c = v;
		if (c->state == GC_HANDSHAKE && now > c->hs_deadline)
			doomed[n++] = c;
	}
	for (int i = 0; i < n; i++)
		gconn_close(doomed[i], "handshake timeout");
}

/* ----------------------------------------------------------------- actor */

static void
gw_reply(struct gateway *g, struct msg *m)
{
	struct gpend *p = map_del(&g->pending, m->corr);
	if (p == NULL)
		return;
	struct gconn *c = map_get(&g->conns, p->conn);
	if (c && c->state == GC_OPEN) {
		gconn_reply(c, m->status ? MSG_ERROR : m->type, m->status,
			    p->ccorr, m->body, m->len);
		if (c->inflight > 0)
			c->inflight--;
		if (!c->reading && c->inflight < g->cfg.max_inflight / 2) {
			c->reading = true;
			uv_read_start((uv_stream_t *)&c->tcp, gconn_alloc,
				      gconn_read);
		}
	}
	free(p);
}

static void
gw_member(struct gateway *g, struct msg *m)
{
	struct swim_event_view ev;
	if (swim_event_decode(m->body, m->len, &ev) != 0)
		return;
	uint64_t node = ev.node;
	if (ev.event == SWIM_EV_DEAD || ev.event == SWIM_EV_LEFT) {
		map_del(&g->alive, node);
	} else if (ev.event != SWIM_EV_SUSPECT &&
		   map_get(&g->alive, node) == NULL) {
		/* a member (back) in sight: give it every credential */
		map_put(&g->alive, node, (void *)1);
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&g->creds, &it, &k, &v))
			cred_push(g, node, v);
	}
}

static void
gw_handle_closed(uv_handle_t *h)
{
	gw_unref(h->data);
}

static void
gw_stop(struct gateway *g)
{
	g->stopping = true;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (g->conns.len) {
		it = 0;
		map_next(&g->conns, &it, &k, &v);
		gconn_close(v, "stopping");
	}
	it = 0;
	while (map_next(&g->pending, &it, &k, &v))
		free(v);
	it = 0;
	while (map_next(&g->creds, &it, &k, &v)) {
		sodium_memzero(v, sizeof(struct cred));
		free(v);
	}
	map_destroy(&g->pending);
	map_destroy(&g->creds);
	map_destroy(&g->conns);
	map_destroy(&g->alive);
	map_destroy(&g->seen);
	uv_close((uv_handle_t *)&g->listener, gw_handle_closed);
	uv_close((uv_handle_t *)&g->flush, gw_handle_closed);
	uv_close((uv_handle_t *)&g->timer, gw_handle_closed);
}

static void
gw_fn(struct actor *self, struct msg *m)
{
	struct gateway *g = self->state;
	switch (m->type) {
	case MSG_STOP:
		gw_stop(g);
		self->state = NULL;
		return;
	case MSG_MEMBER_EVENT:
		gw_member(g, m);
		return;
	case MSG_CREDS:
		if (!(m->flags & MSG_F_REPLY))
			creds_request(g, m);
		return;
	default:
		if (m->flags & MSG_F_REPLY)
			gw_reply(g, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

struct gateway *
gateway_spawn(struct actor_sys *sys, uv_loop_t *loop, struct store *store,
	      const struct gateway_config *cfg, const char *addr, int *err)
{
	struct sockaddr_storage sa;
	if (addr_parse(addr, &sa) != 0) {
		*err = MIST_EINVAL;
		return NULL;
	}
	struct gateway *g = xcalloc(1, sizeof(*g));
	g->loop = loop;
	g->store = store;
	g->cfg = *cfg;
	g->scratch = xmalloc(cfg->max_frame + 128);
	g->ring = xmalloc(GW_REPLAY_MAX * sizeof(*g->ring));
	map_init(&g->conns, 11);
	map_init(&g->pending, 12);
	map_init(&g->creds, 13);
	map_init(&g->alive, 14);
	map_init(&g->seen, randombytes_random());
	uv_tcp_init(loop, &g->listener);
	g->listener.data = g;
	int rc = uv_tcp_bind(&g->listener, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&g->listener, 511, gw_accept);
	if (rc != 0) {
		log_error("gateway: cannot listen on %s: %s", addr,
			  uv_strerror(rc));
		*err = MIST_EIO;
		g->stopping = true;
		g->handles = 1;
		map_destroy(&g->conns);
		map_destroy(&g->pending);
		map_destroy(&g->creds);
		map_destroy(&g->alive);
		map_destroy(&g->seen);
		uv_close((uv_handle_t *)&g->listener, gw_handle_closed);
		return NULL;
	}
	int len = sizeof(g->bound);
	uv_tcp_getsockname(&g->listener, (struct sockaddr *)&g->bound, &len);
	uv_prepare_init(loop, &g->flush);
	uv_timer_init(loop, &g->timer);
	g->flush.data = g->timer.data = g;
	uv_prepare_start(&g->flush, gw_flush);
	uv_timer_start(&g->timer, gw_timer, 1000, 1000);
	g->handles += 3;
	if (store)
		store_scan(store, STORE_CREDS, NULL, 0, creds_load_cb, g);
	g->actor = actor_spawn(sys, ACTOR_GATEWAY, "gateway", gw_fn, g);
	struct actor_ref swim = {sys->node, ACTOR_SWIM};
	actor_tell(g->actor, swim, MSG_SWIM_SUBSCRIBE, NULL, 0);
	*err = 0;
	return g;
}

void
gateway_bound_addr(const struct gateway *g, char *out, size_t len)
{
	addr_format((const struct sockaddr *)&g->bound, out, len);
}
