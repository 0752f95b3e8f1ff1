/*
 * link.c -- encrypted links: accept/connect, the XXpsk3 handshake, sealed
 * batched frames, duplicate resolution, joins with backoff.  The protocol
 * is described in link.h and drawn in docs/PROTOCOL.md.
 *
 * Life of a link:  HANDSHAKE --(third message ok)--> UP --> CLOSING --> freed
 * Any error in any state goes straight to CLOSING; the struct is freed once
 * libuv has closed both of its handles (the socket and the timer).
 */
#include "config.h"
#include "net/link.h"
#include "net/outq.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/stream.h"
#include "net/wire.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/text.h"

#include <msgpack.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * LINK_CONFIRM: the initiator has sent the third message but the responder
 * has not yet shown that it accepted it (it checks the PSK there).  The
 * responder's first transport frame -- empty, sent at once -- confirms.
 */
enum link_state { LINK_HANDSHAKE, LINK_CONFIRM, LINK_UP, LINK_CLOSING };

struct join {
	struct join *next;
	struct link_mgr *mgr;
	struct sockaddr_storage addr; /* numeric, or the name's last answer */
	char text[ADDR_HOST_MAX + 8];
	/* a seed by DNS name: resolved again before every attempt (a seed
	 * behind DNS that changes address is found again); the answers are
	 * tried in turn, one per attempt */
	char host[ADDR_HOST_MAX];
	char port[8];
	uv_getaddrinfo_t gai;
	bool resolving;	  /* gai in flight: the join is freed by its end */
	bool timer_closed;
	uint32_t tries;
	uv_timer_t timer;
	uint32_t backoff;
	struct link *link; /* the current attempt or link */
	uint64_t node;	   /* learnt at the first handshake */
};

struct link {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t connect;
	struct link_mgr *mgr;
	struct link *next, *prev;
	struct link *next_dirty;
	struct join *join;
	enum link_state state;
	bool initiator, counted, registered, dirty, paused;
	bool lost; /* the peer closed or reset it (not our decision) */
	int handles;
	struct noise_hs *hs;
	struct stream st;    /* frames both ways; bytes read, not yet taken */
	struct buf out;	     /* plaintext envelopes of the next frame */
	struct outq oq;	     /* sealed frames to the socket */
	uint64_t node;
	uint64_t expect; /* on-demand links: the node we meant to reach */
	struct link_hello hello;
	char peer[LINK_NAME_MAX];
};

static void link_close(struct link *l, const char *why);
static void join_schedule(struct join *j);
static void join_resolved_cb(uv_getaddrinfo_t *req, int status,
			     struct addrinfo *res);

void
link_config_default(struct link_config *cfg)
{
	cfg->max_frame = WIRE_DEFAULT_MAX_FRAME;
	/*
	 * 5 s: three messages on any network we serve take well under a
	 * second; a peer that has not finished by then is broken or hostile
	 * and holds a slot we may need.
	 */
	cfg->handshake_timeout_ms = 5000;
	/*
	 * 64 unauthenticated connections at once: each costs one X25519
	 * (~33 us) and a few KiB, so 64 bound a flood's memory to well under
	 * a megabyte while real joins of a large cluster still get through.
	 */
	cfg->max_handshakes = 64;
	/* the sealed stream's rule and reason (net/stream.h) */
	cfg->rekey_frames = STREAM_REKEY_FRAMES;
	/* 64 MiB of unsent output per link before sends are refused. */
	cfg->max_backlog = 64u << 20;
	/* Joins retry from 250 ms, doubling, up to 30 s (jittered). */
	cfg->join_backoff_min_ms = 250;
	cfg->join_backoff_max_ms = 30000;
	/*
	 * 5 s without an acknowledgement of data sent: far beyond any
	 * round trip of the networks we serve (a satellite hop is 0.6 s,
	 * a congested mobile link a second or two), and a partition is
	 * noticed well before SWIM would declare the peer dead.
	 */
	cfg->user_timeout_ms = 5000;
}

/* ------------------------------------------------------------- hello */

void
link_hello_encode(struct buf *out, const struct link_hello *h)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	msgpack_pack_map(&pk, 5);
	mp_pack_str(&pk, "v");
	msgpack_pack_uint8(&pk, 1);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, h->name);
	mp_pack_str(&pk, "tier");
	mp_pack_str(&pk, h->tier);
	mp_pack_str(&pk, "addr");
	mp_pack_str(&pk, h->addr);
	mp_pack_str(&pk, "role");
	msgpack_pack_uint8(&pk, h->role);
}

/* Copies a decoded hello string (absent: left empty) into @a dst. */
static int
hello_str(char *dst, size_t cap, const char *s, uint32_t n)
{
	if (s == NULL)
		return 0;
	if (n >= cap || !text_is_printable(s, n))
		return MIST_EPROTO;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
link_hello_decode(const uint8_t *p, size_t len, struct link_hello *h)
{
	size_t used;
	memset(h, 0, sizeof(*h));
	/* depth 2: a hello is one flat map (unknown values may be one deep) */
	if (mp_check(p, len, 2, &used) != 0 || used != len)
		return MIST_EPROTO;
	uint64_t v = 0, role = 0;
	const char *name = NULL, *tier = NULL, *addr = NULL;
	uint32_t name_len = 0, tier_len = 0, addr_len = 0;
	/* every field optional: a missing "v" is refused as a version below */
	const struct mp_field f[] = {
		MP_UINT("v", &v, false),
		MP_STR("name", &name, &name_len, false),
		MP_STR("tier", &tier, &tier_len, false),
		MP_STR("addr", &addr, &addr_len, false),
		MP_UINT("role", &role, false),
	};
	if (mp_decode_fields(p, len, f, MP_NFIELDS(f), NULL) != 0 ||
	    hello_str(h->name, sizeof(h->name), name, name_len) != 0 ||
	    hello_str(h->tier, sizeof(h->tier), tier, tier_len) != 0 ||
	    hello_str(h->addr, sizeof(h->addr), addr, addr_len) != 0)
		return MIST_EPROTO;
	if (v != 1)
		return MIST_EVERSION;
	if (role > LINK_ROLE_CLIENT)
		return MIST_EPROTO;
	h->role = (uint8_t)role;
	return 0;
}

/* ------------------------------------------------------ handles, close */

static void
mgr_handle_closed(struct link_mgr *m)
{
	if (--m->open_handles == 0 && m->closing && m->done != NULL) {
		void (*done)(struct link_mgr *) = m->done;
		m->done = NULL;
		done(m);
	}
}

static void
link_free(struct link *l)
{
	struct link_mgr *m = l->mgr;
	if (l->prev)
		l->prev->next = l->next;
	else
		m->links = l->next;
	if (l->next)
		l->next->prev = l->prev;
	if (l->hs != NULL) {
		noise_hs_wipe(l->hs);
		free(l->hs);
	}
	stream_destroy(&l->st);
	buf_destroy(&l->out);
	outq_destroy(&l->oq);
	free(l);
}

static void
link_handle_closed(uv_handle_t *h)
{
	struct link *l = h->data;
	struct link_mgr *m = l->mgr;
	if (--l->handles == 0)
		link_free(l);
	mgr_handle_closed(m);
}

static void
link_notify(struct link *l, uint32_t type)
{
	struct link_mgr *m = l->mgr;
	if (m->notify_actor == 0 || l->hello.role != LINK_ROLE_AGENT)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, type == MSG_LINK_DOWN ? 5 : 4);
	mp_pack_str(&pk, "node");
	msgpack_pack_uint64(&pk, l->node);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, l->hello.name);
	mp_pack_str(&pk, "tier");
	mp_pack_str(&pk, l->hello.tier);
	mp_pack_str(&pk, "addr");
	mp_pack_str(&pk, l->hello.addr);
	if (type == MSG_LINK_DOWN) {
		mp_pack_str(&pk, "lost");
		if (l->lost)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
	}
	struct msg *msg = msg_new(type, b.data, (uint32_t)b.len);
	buf_destroy(&b);
	msg->from.node = msg->to.node = m->sys->node;
	msg->to.id = m->notify_actor;
	actor_sys_deliver(m->sys, msg);
}

static void
link_close(struct link *l, const char *why)
{
	if (l->state == LINK_CLOSING)
		return;
	struct link_mgr *m = l->mgr;
	if (l->state == LINK_UP && l->hello.role == LINK_ROLE_AGENT)
		log_info("link to %s (%016llx) down: %s", l->hello.name,
			 (unsigned long long)l->node, why);
	else
		log_debug("connection %s closed: %s", l->peer, why);
	l->state = LINK_CLOSING;
	if (l->registered) {
		map_del(&m->by_node, l->node);
		l->registered = false;
		link_notify(l, MSG_LINK_DOWN);
		/* what was queued on it is gone, and so may be the requests
		 * and replies in flight: their requesters learn it now, not
		 * at their timeouts (a reply that still comes is late) */
		size_t n = actor_sys_fail_node(m->sys, l->node,
					       MIST_EUNREACHABLE);
		if (n > 0)
			log_info("link to %016llx down: %zu request%s failed",
				 (unsigned long long)l->node, n,
				 n == 1 ? "" : "s");
	}
	if (l->counted) {
		m->handshaking--;
		l->counted = false;
	}
	if (l->expect != 0 && map_get(&m->connecting, l->expect) == l) {
		map_del(&m->connecting, l->expect);
		/* an on-demand link that never came up: the messages queued
		 * for it are dropped, so the requests among them fail now --
		 * unless another link to that node carries them */
		if (map_get(&m->by_node, l->expect) == NULL)
			actor_sys_fail_node(m->sys, l->expect,
					    MIST_EUNREACHABLE);
	}
	if (l->join != NULL) {
		struct join *j = l->join;
		j->link = NULL;
		l->join = NULL;
		if (!m->closing)
			join_schedule(j);
	}
	uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
	uv_close((uv_handle_t *)&l->timer, link_handle_closed);
}

/* -------------------------------------------------------------- output */

static void link_write_start(struct link *l);

/*
 * Output buffers (out, and the two of the outq) bigger than this are freed once they
 * empty: a push/pull of a large cluster grows them to tens of KiB, and a
 * dozen idle links would otherwise keep that for life.
 */
#define LINK_KEEP 4096

static void
link_write_cb(uv_write_t *req, int status)
{
	struct link *l = req->data;
	outq_done(&l->oq, LINK_KEEP);
	if (status < 0) {
		l->lost = status == UV_EPIPE || status == UV_ECONNRESET;
		link_close(l, uv_strerror(status));
		return;
	}
	link_write_start(l);
}

static void
link_write_start(struct link *l)
{
	if (l->state == LINK_CLOSING)
		return;
	int rc = outq_start(&l->oq, (uv_stream_t *)&l->tcp, link_write_cb, l);
	if (rc < 0)
		link_close(l, uv_strerror(rc));
}

/*
 * Seals @a n plaintext bytes (at most max_frame) into one frame at the end
 * of the write queue.
 */
static void
link_seal(struct link *l, const uint8_t *p, size_t n)
{
	struct link_mgr *m = l->mgr;
	int rc = stream_seal(&l->st, p, n, &l->oq.wq);
	if (rc < 0) {
		link_close(l, mist_strerror(rc));
		return;
	}
	m->stats.frames_out++;
	if (rc == 1)
		m->stats.rekeys++;
}

/*
 * Seals all of l->out: one frame, or -- when messages waited for the link
 * or a duplicate's batch was merged in -- frames of at most max_frame,
 * cut where an envelope ends (every envelope fits in one: link_mgr_send).
 */
static void
link_seal_out(struct link *l)
{
	struct link_mgr *m = l->mgr;
	int rc = stream_seal_batch(&l->st, l->out.data, l->out.len, &l->oq.wq,
				   &m->stats.frames_out, &m->stats.rekeys);
	l->out.len = 0;
	if (rc < 0)
		link_close(l, rc == MIST_E2BIG ? "an envelope larger than a frame"
					       : mist_strerror(rc));
}

static void
mgr_flush_cb(uv_prepare_t *h)
{
	struct link_mgr *m = h->data;
	struct link *l = m->dirty;
	m->dirty = NULL;
	while (l != NULL) {
		struct link *next = l->next_dirty;
		l->dirty = false;
		l->next_dirty = NULL;
		if (l->state == LINK_UP && l->out.len > 0) {
			link_seal_out(l);
			buf_trim(&l->out, LINK_KEEP);
			link_write_start(l);
		}
		l = next;
	}
	uv_prepare_stop(&m->flush);
}

static void
link_mark_dirty(struct link *l)
{
	if (l->dirty)
		return;
	l->dirty = true;
	l->next_dirty = l->mgr->dirty;
	l->mgr->dirty = l;
	uv_prepare_start(&l->mgr->flush, mgr_flush_cb);
}

static struct link *link_connect_sa(struct link_mgr *m,
				    const struct sockaddr_storage *sa,
				    struct join *j);

/* The link a message to @a node should wait on, opened if need be. */
static struct link *
link_on_demand(struct link_mgr *m, uint64_t node)
{
	struct link *l = map_get(&m->connecting, node);
	if (l != NULL)
		return l;
	struct sockaddr_storage sa;
	if (m->closing || m->resolve == NULL || node == m->id.node ||
	    m->resolve(m->resolve_ctx, node, &sa) != 0)
		return NULL;
	l = link_connect_sa(m, &sa, NULL);
	if (l == NULL || l->state == LINK_CLOSING)
		return NULL;
	l->expect = node;
	map_put(&m->connecting, node, l);
	return l;
}

int
link_mgr_send(void *ctx, struct msg *msg)
{
	struct link_mgr *m = ctx;
	struct link *l = map_get(&m->by_node, msg->to.node);
	if (l == NULL || l->state != LINK_UP) {
		l = link_on_demand(m, msg->to.node);
		if (l == NULL)
			return MIST_EUNREACHABLE;
		if (l->out.len > m->cfg.max_backlog)
			return MIST_EOVERLOAD;
		/* wait in the plaintext batch; sealed once the link is up */
		size_t old = l->out.len;
		wire_envelope_encode(&l->out, msg, uv_now(m->loop));
		if (l->out.len - old > m->cfg.max_frame) {
			l->out.len = old;
			return MIST_E2BIG;
		}
		m->stats.msgs_out++;
		msg_delete(msg);
		return 0;
	}
	if (l->out.len + outq_pending(&l->oq) > m->cfg.max_backlog)
		return MIST_EOVERLOAD;
	size_t old = l->out.len;
	wire_envelope_encode(&l->out, msg, uv_now(m->loop));
	size_t n = l->out.len - old;
	if (n > m->cfg.max_frame) {
		l->out.len = old;
		return MIST_E2BIG;
	}
	if (l->out.len > m->cfg.max_frame) {
		/* the batch is full: seal what came before this envelope */
		link_seal(l, l->out.data, old);
		if (l->state == LINK_CLOSING) {
			/* sealing failed and closed the link: @a msg is not
			 * taken, so its sender answers it now (actor_send_from
			 * queues the error reply) rather than at its timeout */
			l->out.len = 0;
			return MIST_EUNREACHABLE;
		}
		memmove(l->out.data, l->out.data + old, n);
		l->out.len = n;
		link_write_start(l);
		if (l->state == LINK_CLOSING) {
			l->out.len = 0; /* the write failed: likewise */
			return MIST_EUNREACHABLE;
		}
	}
	m->stats.msgs_out++;
	msg_delete(msg);
	link_mark_dirty(l);
	return 0;
}

/* --------------------------------------------------------------- input */

static int
link_deliver_cb(void *ctx, struct msg *msg)
{
	struct link *l = ctx;
	struct link_mgr *m = l->mgr;
	/* a peer speaks only for itself, only to us, and never in the
	 * node's own voice (timers, shutdown, I/O events) */
	if (msg->from.node != l->node || msg->to.node != m->sys->node) {
		m->stats.spoofed++;
		msg_delete(msg);
		return MIST_EPROTO;
	}
	if (msgtype_is_local(msg->type)) {
		m->stats.local_types++;
		msg_delete(msg);
		return MIST_EPROTO;
	}
	m->stats.msgs_in++;
	if (actor_sys_deliver(m->sys, msg) == 1)
		l->paused = true;
	return 0;
}

static void link_keys(struct link *l);
static void link_register(struct link *l);

static int
link_hs_send(struct link *l)
{
	struct link_mgr *m = l->mgr;
	uint8_t out[LINK_HS_MAX];
	size_t n;
	struct buf hello = BUF_INIT;
	if (l->hs->idx > 0)
		link_hello_encode(&hello, &m->hello);
	int rc = noise_hs_write(l->hs, hello.data, hello.len, out, sizeof(out),
				&n);
	buf_destroy(&hello);
	if (rc != 0)
		return rc;
	stream_put_raw(&l->oq.wq, out, n);
	link_write_start(l);
	return 0;
}

/*
 * Reads the third message as responder with every key of the keyring:
 * during a key rotation peers may initiate with the old or the new key.
 */
static int
link_hs_read_any_key(struct link *l, const uint8_t *p, size_t n,
		     uint8_t *payload, size_t cap, size_t *plen)
{
	const struct keyring *keys = l->mgr->keys;
	struct noise_hs saved = *l->hs;
	int rc = noise_hs_read(l->hs, p, n, payload, cap, plen);
	for (int i = 0; rc == MIST_EAUTH && keys != NULL && i < keys->n; i++) {
		if (sodium_memcmp(keys->keys[i], l->mgr->psk, 32) == 0)
			continue;
		*l->hs = saved;
		memcpy(l->hs->psk, keys->keys[i], 32);
		rc = noise_hs_read(l->hs, p, n, payload, cap, plen);
	}
	sodium_memzero(&saved, sizeof(saved));
	return rc;
}

static int
link_hs_frame(struct link *l, const uint8_t *p, size_t n)
{
	uint8_t payload[LINK_HS_MAX];
	size_t plen;
	int rc = !l->initiator && l->hs->idx == 2
			 ? link_hs_read_any_key(l, p, n, payload,
						sizeof(payload), &plen)
			 : noise_hs_read(l->hs, p, n, payload, sizeof(payload),
					 &plen);
	if (rc != 0)
		return rc;
	if (l->hs->idx == 1) {
		if (plen != 0)
			return MIST_EPROTO;
	} else if ((rc = link_hello_decode(payload, plen, &l->hello)) != 0) {
		return rc;
	}
	if (noise_hs_is_my_turn(l->hs) && (rc = link_hs_send(l)) != 0)
		return rc;
	if (noise_hs_is_done(l->hs)) {
		link_keys(l);
		if (l->initiator) {
			l->state = LINK_CONFIRM;
		} else {
			/* we checked the PSK: confirm to the initiator */
			link_seal(l, NULL, 0);
			link_write_start(l);
			link_register(l);
		}
	}
	return 0;
}

/* One opened transport frame: @a n plaintext bytes at @a p. */
static int
link_transport_frame(struct link *l, const uint8_t *p, size_t n)
{
	struct link_mgr *m = l->mgr;
	m->stats.frames_in++;
	if (l->state == LINK_CONFIRM) {
		link_register(l);
		if (l->state != LINK_UP)
			return 0; /* closed as a duplicate or a self-link */
	}
	if (n == 0)
		return 0; /* an empty frame: confirmation */
	return wire_payload_decode(p, n, m->cfg.max_frame, uv_now(m->loop),
				   link_deliver_cb, l);
}

/*
 * Takes the whole frames the stream holds, one by one.  Stops at a partial
 * frame, when the link pauses (full mailboxes) and when it closes.
 */
static void
link_frames(struct link *l)
{
	struct link_mgr *m = l->mgr;
	while (l->state != LINK_CLOSING && !l->paused) {
		bool hs = l->state == LINK_HANDSHAKE;
		const uint8_t *p;
		size_t n;
		int rc;
		if (hs) {
			rc = stream_in_frame(&l->st, LINK_HS_MAX, &p, &n);
		} else {
			if (m->scratch == NULL)
				m->scratch = xmalloc(m->cfg.max_frame);
			p = m->scratch;
			rc = stream_in_open(&l->st, m->scratch, &n);
		}
		if (rc == 0)
			return;
		if (rc == MIST_E2BIG) {
			m->stats.oversized++;
			link_close(l, "frame larger than the limit");
			return;
		}
		if (rc == 1)
			rc = hs ? link_hs_frame(l, p, n)
				: link_transport_frame(l, p, n);
		if (rc == 0)
			continue;
		if (hs) {
			m->stats.handshakes_failed++;
			log_info("handshake with %s failed: %s", l->peer,
				 rc == MIST_EAUTH
					 ? "wrong cluster key or tampering"
					 : mist_strerror(rc));
		} else {
			m->stats.bad_frames++;
			log_warn("bad frame from %s: %s", l->peer,
				 mist_strerror(rc));
		}
		link_close(l, mist_strerror(rc));
		return;
	}
}

/* Handles what the stream holds; an idle link keeps no read buffer. */
static void
link_process(struct link *l)
{
	link_frames(l);
	if (l->state != LINK_CLOSING)
		stream_in_keep(&l->st);
	if (l->paused)
		uv_read_stop((uv_stream_t *)&l->tcp);
}

/*
 * Reads of STREAM_READ bytes.  A link with nothing pending reads into the
 * manager's one shared buffer, and its stream keeps only what is left of a
 * partial frame (or what a pause leaves unread); otherwise it reads after
 * what it holds (never more than one frame plus one read).  Idle links
 * then cost no buffer at all: with tens of links, this is most of an
 * agent's heap.
 */
static void
link_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct link *l = h->data;
	(void)suggested;
	outq_read_buf(&l->st, &l->mgr->rshared, b);
}

static void
link_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct link *l = s->data;
	(void)b;
	if (nread < 0) {
		/* the peer's kernel closed or reset it: its process is gone,
		 * or it hung up on us (SWIM probes to tell which) */
		l->lost = nread == UV_EOF || nread == UV_ECONNRESET;
		link_close(l, nread == UV_EOF
				      ? (stream_in_pending(&l->st)
						 ? "truncated frame"
						 : "closed by peer")
				      : uv_strerror((int)nread));
		return;
	}
	stream_in_commit(&l->st, (size_t)nread);
	link_process(l);
}

void
link_mgr_resume(void *ctx)
{
	struct link_mgr *m = ctx;
	for (struct link *l = m->links; l != NULL; l = l->next) {
		if (!l->paused || l->state == LINK_CLOSING)
			continue;
		l->paused = false;
		link_process(l);
		if (!l->paused && l->state != LINK_CLOSING)
			uv_read_start((uv_stream_t *)&l->tcp, link_alloc_cb,
				      link_read_cb);
	}
}

/* ------------------------------------------------------- link lifecycle */

static uint64_t
link_initiator_node(const struct link *l)
{
	return l->initiator ? l->mgr->id.node : l->node;
}

/* The handshake is complete on our side: transport keys, peer identity. */
static void
link_keys(struct link *l)
{
	stream_split(&l->st, l->hs);
	l->node = identity_node_id(l->hs->rs);
	noise_hs_wipe(l->hs);
	free(l->hs);
	l->hs = NULL;
}

/* Both sides know the handshake succeeded: the link is usable. */
static void
link_register(struct link *l)
{
	struct link_mgr *m = l->mgr;
	if (l->counted) {
		m->handshaking--;
		l->counted = false;
	}
	uv_timer_stop(&l->timer);
	m->stats.handshakes_ok++;
	if (l->node == m->id.node) {
		link_close(l, "connected to ourselves");
		return;
	}
	/* an agent bound to 0.0.0.0 is reached at the address we saw */
	struct sockaddr_storage adv;
	if (addr_parse(l->hello.addr, &adv) == 0 &&
	    addr_is_any((struct sockaddr *)&adv)) {
		struct sockaddr_storage peer;
		int len = sizeof(peer);
		if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&peer,
				       &len) == 0) {
			uint16_t port = ((struct sockaddr_in *)&adv)->sin_port;
			((struct sockaddr_in *)&peer)->sin_port = port;
			addr_format((struct sockaddr *)&peer, l->hello.addr,
				    sizeof(l->hello.addr));
		}
	}
	if (l->expect != 0 && l->expect != l->node) {
		/* the address now belongs to another node: what waited for
		 * the old one must not reach this one */
		log_info("%s is now node %016llx, not %016llx", l->peer,
			 (unsigned long long)l->node,
			 (unsigned long long)l->expect);
		l->out.len = 0;
	}
	if (l->expect != 0 && map_get(&m->connecting, l->expect) == l)
		map_del(&m->connecting, l->expect);
	l->expect = 0;
	struct link *old = map_get(&m->by_node, l->node);
	if (old != NULL) {
		uint64_t a = link_initiator_node(old), b = link_initiator_node(l);
		bool keep_new = a == b || b < a;
		struct link *loser = keep_new ? old : l;
		struct link *winner = keep_new ? l : old;
		/* nothing waiting on the loser is lost */
		buf_append(&winner->out, loser->out.data, loser->out.len);
		loser->out.len = 0;
		if (!keep_new) {
			link_close(l, "duplicate link");
			if (winner->out.len)
				link_mark_dirty(winner);
			return;
		}
		old->registered = false; /* replaced silently */
		map_del(&m->by_node, old->node);
		link_close(old, "replaced by a newer link");
	}
	l->state = LINK_UP;
	map_put(&m->by_node, l->node, l);
	l->registered = true;
	if (l->out.len > 0)
		link_mark_dirty(l); /* messages that waited for the link */
	if (l->join != NULL) {
		l->join->node = l->node;
		l->join->backoff = m->cfg.join_backoff_min_ms;
	}
	if (l->hello.role == LINK_ROLE_AGENT)
		log_info("link to %s (%016llx, %s, %s) up", l->hello.name,
			 (unsigned long long)l->node, l->hello.addr,
			 l->initiator ? "outbound" : "inbound");
	link_notify(l, MSG_LINK_UP);
}

static void
link_timeout_cb(uv_timer_t *t)
{
	struct link *l = t->data;
	l->mgr->stats.timeouts++;
	link_close(l, "handshake timed out");
}

static struct link *
link_new(struct link_mgr *m, bool initiator)
{
	struct link *l = xcalloc(1, sizeof(*l));
	l->mgr = m;
	l->initiator = initiator;
	l->state = LINK_HANDSHAKE;
	uv_tcp_init(m->loop, &l->tcp);
	uv_timer_init(m->loop, &l->timer);
	l->tcp.data = l->timer.data = l;
	l->handles = 2;
	m->open_handles += 2;
	stream_init(&l->st, m->cfg.max_frame, m->cfg.rekey_frames);
	l->hs = xmalloc(sizeof(*l->hs));
	noise_hs_init(l->hs, LINK_PROTOCOL, initiator,
		      (const uint8_t *)LINK_PROLOGUE, strlen(LINK_PROLOGUE),
		      m->id.priv, NULL, m->psk);
	l->next = m->links;
	if (m->links)
		m->links->prev = l;
	m->links = l;
	uv_timer_start(&l->timer, link_timeout_cb, m->cfg.handshake_timeout_ms,
		       0);
	return l;
}

static void
link_start_reading(struct link *l)
{
	uv_tcp_nodelay(&l->tcp, 1);
	/*
	 * A silent partition (a cable, a firewall, a device that moved)
	 * closes nothing: TCP retransmits with a doubling timeout, and when
	 * the path heals the link may sit seconds more in that backoff, its
	 * requests waiting.  With data unacknowledged for user_timeout_ms the
	 * kernel ends the connection instead: the link closes, what waits on
	 * it fails over at once, and the next message dials afresh.
	 */
	uv_os_fd_t fd;
	unsigned int ms = l->mgr->cfg.user_timeout_ms;
	if (ms > 0 && uv_fileno((uv_handle_t *)&l->tcp, &fd) == 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms,
				 sizeof(ms));
	uv_read_start((uv_stream_t *)&l->tcp, link_alloc_cb, link_read_cb);
}

static void
mgr_accept_cb(uv_stream_t *server, int status)
{
	struct link_mgr *m = server->data;
	if (status < 0 || m->closing)
		return;
	struct link *l = link_new(m, false);
	if (uv_accept(server, (uv_stream_t *)&l->tcp) != 0) {
		link_close(l, "accept failed");
		return;
	}
	m->stats.accepted++;
	struct sockaddr_storage peer;
	int len = sizeof(peer);
	if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&peer, &len) == 0)
		addr_format((struct sockaddr *)&peer, l->peer, sizeof(l->peer));
	if (m->handshaking >= m->cfg.max_handshakes) {
		m->stats.refused_busy++;
		link_close(l, "too many handshakes in progress");
		return;
	}
	m->handshaking++;
	l->counted = true;
	link_start_reading(l);
}

static void
link_connect_cb(uv_connect_t *req, int status)
{
	struct link *l = req->data;
	if (l->state == LINK_CLOSING)
		return;
	if (status < 0) {
		link_close(l, uv_strerror(status));
		return;
	}
	link_start_reading(l);
	if (link_hs_send(l) != 0)
		link_close(l, "handshake write failed");
}

static struct link *
link_connect_sa(struct link_mgr *m, const struct sockaddr_storage *sa,
		struct join *j)
{
	struct link *l = link_new(m, true);
	addr_format((const struct sockaddr *)sa, l->peer, sizeof(l->peer));
	if (j != NULL) {
		/* before connecting: a failure must reschedule the join */
		l->join = j;
		j->link = l;
	}
	l->connect.data = l;
	int rc = uv_tcp_connect(&l->connect, &l->tcp,
				(const struct sockaddr *)sa, link_connect_cb);
	if (rc < 0) {
		link_close(l, uv_strerror(rc));
		return NULL;
	}
	return l;
}

int
link_mgr_connect(struct link_mgr *m, const char *addr)
{
	struct sockaddr_storage sa;
	if (addr_parse(addr, &sa) != 0)
		return MIST_EINVAL;
	return link_connect_sa(m, &sa, NULL) ? 0 : MIST_EIO;
}

/* --------------------------------------------------------------- joins */

static void
join_timer_cb(uv_timer_t *t)
{
	struct join *j = t->data;
	struct link_mgr *m = j->mgr;
	if (m->closing || j->link != NULL)
		return;
	if (j->node != 0 && map_get(&m->by_node, j->node) != NULL) {
		/* linked through another connection: look again later */
		j->backoff = m->cfg.join_backoff_max_ms;
		uv_timer_start(&j->timer, join_timer_cb, j->backoff, 0);
		return;
	}
	if (j->host[0] != '\0') {
		struct addrinfo hints = {.ai_family = AF_UNSPEC,
					 .ai_socktype = SOCK_STREAM};
		if (uv_getaddrinfo(m->loop, &j->gai, join_resolved_cb, j->host,
				   j->port, &hints) != 0) {
			join_schedule(j);
			return;
		}
		j->resolving = true;
		m->open_handles++;
		return;
	}
	log_debug("joining %s", j->text);
	link_connect_sa(m, &j->addr, j); /* a failure reschedules the join */
}

/* A seed's name resolved (off the loop): try answer number tries % n. */
static void
join_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct join *j = req->data;
	struct link_mgr *m = j->mgr;
	j->resolving = false;
	if (m->closing) {
		uv_freeaddrinfo(res);
		if (j->timer_closed)
			free(j);
		mgr_handle_closed(m);
		return;
	}
	mgr_handle_closed(m);
	uint32_t n = 0;
	for (struct addrinfo *a = res; status == 0 && a != NULL; a = a->ai_next)
		n += a->ai_family == AF_INET || a->ai_family == AF_INET6;
	if (n == 0) {
		log_warn("cannot resolve %s: %s", j->host,
			 status ? uv_strerror(status) : "no address");
		uv_freeaddrinfo(res);
		join_schedule(j);
		return;
	}
	uint32_t want = j->tries++ % n, i = 0;
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		if (i++ == want) {
			memset(&j->addr, 0, sizeof(j->addr));
			memcpy(&j->addr, a->ai_addr, a->ai_addrlen);
			break;
		}
	}
	uv_freeaddrinfo(res);
	char at[LINK_NAME_MAX];
	addr_format((const struct sockaddr *)&j->addr, at, sizeof(at));
	log_debug("joining %s (%s)", j->text, at);
	link_connect_sa(m, &j->addr, j); /* a failure reschedules the join */
}

static void
join_schedule(struct join *j)
{
	struct link_mgr *m = j->mgr;
	/* full jitter: a restarted cluster does not reconnect in lockstep */
	uint32_t delay = j->backoff / 2 +
			 (uint32_t)rng_below(&m->sys->rng, j->backoff / 2 + 1);
	uv_timer_start(&j->timer, join_timer_cb, delay, 0);
	if (j->backoff < m->cfg.join_backoff_max_ms)
		j->backoff = j->backoff * 2 > m->cfg.join_backoff_max_ms
				     ? m->cfg.join_backoff_max_ms
				     : j->backoff * 2;
}

int
link_mgr_join(struct link_mgr *m, const char *addr)
{
	struct join *j = xcalloc(1, sizeof(*j));
	unsigned port;
	if (strlen(addr) >= sizeof(j->text)) {
		free(j);
		return MIST_EINVAL;
	}
	if (addr_parse(addr, &j->addr) != 0) {
		if (addr_split_name(addr, j->host, &port) != 0) {
			free(j);
			return MIST_EINVAL;
		}
		snprintf(j->port, sizeof(j->port), "%u", port);
		j->gai.data = j;
	}
	snprintf(j->text, sizeof(j->text), "%s", addr);
	j->mgr = m;
	j->backoff = m->cfg.join_backoff_min_ms;
	uv_timer_init(m->loop, &j->timer);
	j->timer.data = j;
	m->open_handles++;
	j->next = m->joins;
	m->joins = j;
	uv_timer_start(&j->timer, join_timer_cb, 0, 0);
	return 0;
}

/* ------------------------------------------------------------- manager */

void
link_mgr_init(struct link_mgr *m, uv_loop_t *loop, struct actor_sys *sys,
	      const struct identity *id, const uint8_t psk[32],
	      const struct link_config *cfg, const struct link_hello *hello)
{
	memset(m, 0, sizeof(*m));
	m->loop = loop;
	m->sys = sys;
	m->id = *id;
	memcpy(m->psk, psk, 32);
	if (cfg)
		m->cfg = *cfg;
	else
		link_config_default(&m->cfg);
	m->hello = *hello;
	map_init(&m->by_node, rng_next(&sys->rng));
	map_init(&m->connecting, rng_next(&sys->rng));
	uv_prepare_init(loop, &m->flush);
	m->flush.data = m;
	m->open_handles = 1;
}

int
link_mgr_listen(struct link_mgr *m, const char *addr)
{
	struct sockaddr_storage sa;
	if (addr_parse(addr, &sa) != 0)
		return MIST_EINVAL;
	uv_tcp_init(m->loop, &m->listener);
	m->listener.data = m;
	m->open_handles++;
	m->listening = true;
	int rc = uv_tcp_bind(&m->listener, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&m->listener, 128, mgr_accept_cb);
	if (rc != 0) {
		log_error("cannot listen on %s: %s", addr, uv_strerror(rc));
		return MIST_EIO;
	}
	int len = sizeof(m->bound);
	uv_tcp_getsockname(&m->listener, (struct sockaddr *)&m->bound, &len);
	return 0;
}

void
link_mgr_bound_addr(const struct link_mgr *m, char *out, size_t len)
{
	addr_format((const struct sockaddr *)&m->bound, out, len);
}

size_t
link_mgr_count(const struct link_mgr *m)
{
	return m->by_node.len;
}

void
link_mgr_foreach(struct link_mgr *m,
		 void (*cb)(void *ctx, uint64_t node, const struct link_hello *h),
		 void *ctx)
{
	for (struct link *l = m->links; l != NULL; l = l->next)
		if (l->registered)
			cb(ctx, l->node, &l->hello);
}

static void
mgr_plain_closed(uv_handle_t *h)
{
	mgr_handle_closed(h->data);
}

static void
join_closed(uv_handle_t *h)
{
	struct join *j = h->data;
	struct link_mgr *m = j->mgr;
	j->timer_closed = true;
	if (!j->resolving) /* else the resolver's end frees it */
		free(j);
	mgr_handle_closed(m);
}

void
link_mgr_close(struct link_mgr *m, void (*done)(struct link_mgr *))
{
	m->closing = true;
	m->done = done;
	/* output already queued is flushed, best effort, before closing */
	for (struct link *l = m->links; l != NULL; l = l->next) {
		if (l->state == LINK_UP && l->out.len > 0) {
			link_seal_out(l);
			link_write_start(l);
		}
	}
	for (struct join *j = m->joins, *n; j != NULL; j = n) {
		n = j->next;
		if (j->link)
			j->link->join = NULL;
		if (j->resolving) /* ends with UV_ECANCELED if not started */
			uv_cancel((uv_req_t *)&j->gai);
		uv_close((uv_handle_t *)&j->timer, join_closed);
	}
	m->joins = NULL;
	for (struct link *l = m->links; l != NULL; l = l->next)
		link_close(l, "shutting down");
	if (m->listening)
		uv_close((uv_handle_t *)&m->listener, mgr_plain_closed);
	uv_close((uv_handle_t *)&m->flush, mgr_plain_closed);
	map_destroy(&m->by_node);
	map_destroy(&m->connecting);
	sodium_memzero(m->psk, sizeof(m->psk));
	free(m->rshared); /* closing handles read no more */
	free(m->scratch);
	m->rshared = m->scratch = NULL;
}
