/*
 * native.c -- the native client listener (native.h): accept, the NNpsk0
 * handshake the actor asks for, each connection's sealed stream, writes.
 *
 * Life of a connection:
 *   GC_NEW -(accepted within bounds)-> GC_HANDSHAKE -(first frame read)->
 *   GC_HELLO -(the actor's native_handshake)-> GC_OPEN -> GC_CLOSING -> freed
 * Any failure goes straight to GC_CLOSING; the struct is freed once libuv
 * has closed the socket.
 */
#include "config.h"
#include "gateway/native.h"
#include "gateway/native_proto.h"
#include "mist.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/wire.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * The replay cache remembers 2^20 ephemeral keys (16 MiB of ring, only
 * touched as it fills): a million first messages within 2 * SKEW (4
 * minutes) is over 4000 handshakes a second sustained, past what one
 * gateway serves.  A full cache refuses new first messages (safe: the
 * client sees EAUTH and a log line says why) rather than forget one.
 */
#define NATIVE_REPLAY_MAX (1u << 20)
/*
 * Output buffers larger than this are freed once they empty: a reply of
 * a large value grows them to a frame, and thousands of idle clients
 * must not keep that.
 */
#define NATIVE_KEEP 4096
/* The listen(2) backlog: a burst of reconnecting clients waits there. */
#define NATIVE_BACKLOG 511

static void gconn_todo(struct gconn *c, bool input, bool flush);

/* A refusal or limit that may repeat in a flood: logged at 1, 2, 4, ... */
static bool
native_log_now(uint64_t count)
{
	return (count & (count - 1)) == 0;
}

/* --------------------------------------------------------------- lists */

static void
hs_unlink(struct gconn *c)
{
	struct native *n = c->n;
	if (c->hs_prev)
		c->hs_prev->hs_next = c->hs_next;
	else
		n->hs_head = c->hs_next;
	if (c->hs_next)
		c->hs_next->hs_prev = c->hs_prev;
	else
		n->hs_tail = c->hs_prev;
	c->hs_next = c->hs_prev = NULL;
	n->handshaking--;
}

static void
cred_link(struct gconn *c)
{
	struct native *n = c->n;
	struct gconn *head = map_get(&n->by_cred, c->cred);
	c->cred_prev = NULL;
	c->cred_next = head;
	if (head)
		head->cred_prev = c;
	map_put(&n->by_cred, c->cred, c);
}

static void
cred_unlink(struct gconn *c)
{
	struct native *n = c->n;
	if (c->cred_prev)
		c->cred_prev->cred_next = c->cred_next;
	else if (c->cred_next)
		map_put(&n->by_cred, c->cred, c->cred_next);
	else
		map_del(&n->by_cred, c->cred);
	if (c->cred_next)
		c->cred_next->cred_prev = c->cred_prev;
	c->cred_next = c->cred_prev = NULL;
}

static void
todo_unlink(struct gconn *c)
{
	if (!c->in_todo)
		return;
	if (c->todo_prev)
		c->todo_prev->todo_next = c->todo_next;
	else
		c->n->todo = c->todo_next;
	if (c->todo_next)
		c->todo_next->todo_prev = c->todo_prev;
	c->todo_next = c->todo_prev = NULL;
	c->in_todo = false;
}

/* Work the prepare handle owes @a c: its input, its output, or both. */
static void
gconn_todo(struct gconn *c, bool input, bool flush)
{
	c->want_input |= input;
	c->want_flush |= flush;
	if (c->in_todo)
		return;
	c->in_todo = true;
	c->todo_prev = NULL;
	c->todo_next = c->n->todo;
	if (c->n->todo)
		c->n->todo->todo_prev = c;
	c->n->todo = c;
}

/* --------------------------------------------------------------- close */

static void
native_unref(struct native *n)
{
	if (--n->handles > 0 || !n->closing || n->done == NULL)
		return;
	void (*done)(void *) = n->done;
	n->done = NULL;
	done(n->done_ctx);
}

static void
gconn_closed(uv_handle_t *h)
{
	struct gconn *c = h->data;
	struct native *n = c->n;
	stream_destroy(&c->st);
	buf_destroy(&c->out);
	outq_destroy(&c->oq);
	free(c);
	native_unref(n);
}

void
native_close(struct gconn *c, const char *why)
{
	if (c->state == GC_CLOSING)
		return;
	struct native *n = c->n;
	log_debug("gateway: client %s closed: %s", c->peer, why);
	if (c->state == GC_HANDSHAKE || c->state == GC_HELLO)
		hs_unlink(c);
	if (c->state == GC_OPEN)
		cred_unlink(c);
	if (c->state != GC_NEW)
		map_del(&n->conns, c->id);
	todo_unlink(c);
	c->state = GC_CLOSING;
	uv_close((uv_handle_t *)&c->tcp, gconn_closed);
}

size_t
native_close_cred(struct native *n, uint64_t cred, const char *why)
{
	size_t count = 0;
	struct gconn *c;
	while ((c = map_get(&n->by_cred, cred)) != NULL) {
		native_close(c, why); /* unlinks it */
		count++;
	}
	n->stats.revoked += count;
	return count;
}

/* -------------------------------------------------------------- output */

static void gconn_write_start(struct gconn *c);

static void
gconn_write_cb(uv_write_t *req, int status)
{
	struct gconn *c = req->data;
	outq_done(&c->oq, NATIVE_KEEP);
	if (c->state == GC_CLOSING)
		return; /* cancelled by the close */
	if (status < 0) {
		native_close(c, uv_strerror(status));
		return;
	}
	gconn_write_start(c);
	if (c->state == GC_CLOSING)
		return;
	if ((c->paused & NATIVE_PAUSE_OUTPUT) &&
	    c->out.len + outq_pending(&c->oq) < c->n->cfg.max_backlog / 2)
		native_resume(c, NATIVE_PAUSE_OUTPUT);
}

static void
gconn_write_start(struct gconn *c)
{
	if (c->state == GC_CLOSING)
		return;
	int rc = outq_start(&c->oq, (uv_stream_t *)&c->tcp, gconn_write_cb, c);
	if (rc < 0)
		native_close(c, uv_strerror(rc));
}

/* Seals c->out into frames of at most max_frame, cut where envelopes end
 * (native_send keeps each envelope within one). */
static void
gconn_seal(struct gconn *c)
{
	int rc = stream_seal_batch(&c->st, c->out.data, c->out.len, &c->oq.wq,
				   NULL, NULL);
	if (rc < 0) {
		native_close(c, mist_strerror(rc));
		return;
	}
	c->out.len = 0;
	buf_trim(&c->out, NATIVE_KEEP);
}

void
native_send(struct gconn *c, uint32_t type, int status, uint64_t corr,
	    const uint8_t *body, uint32_t len)
{
	if (c->state != GC_OPEN)
		return;
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REPLY;
	m->status = (int16_t)status;
	m->corr = corr;
	size_t old = c->out.len;
	wire_envelope_encode(&c->out, m, 0);
	if (c->out.len - old > c->n->cfg.max_frame) {
		/* no frame could carry it: the client gets E2BIG instead */
		c->out.len = old;
		m->type = MSG_ERROR;
		m->status = MIST_E2BIG;
		m->len = 0;
		wire_envelope_encode(&c->out, m, 0);
	}
	msg_delete(m);
	gconn_todo(c, false, true);
	if (!(c->paused & NATIVE_PAUSE_OUTPUT) &&
	    c->out.len + outq_pending(&c->oq) > c->n->cfg.max_backlog) {
		/* the client does not read: neither do we, until it has */
		if (native_log_now(++c->n->stats.output_paused))
			log_warn("gateway: client %s leaves %zu bytes of "
				 "replies unread, not reading it until it "
				 "takes half (%llu times so far)",
				 c->peer, c->out.len + outq_pending(&c->oq),
				 (unsigned long long)c->n->stats.output_paused);
		native_pause(c, NATIVE_PAUSE_OUTPUT);
	}
}

/* --------------------------------------------------------------- input */

static void gconn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void gconn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Reads @a c exactly when nothing holds it back. */
static void
gconn_reading(struct gconn *c)
{
	bool want = c->state != GC_CLOSING && c->paused == 0;
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, gconn_alloc_cb,
				  gconn_read_cb) != 0) {
			native_close(c, "cannot read");
			return;
		}
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

/* Hands @a m (local, for the actor) to ACTOR_GATEWAY on behalf of @a c. */
static void
gconn_post(struct gconn *c, struct msg *m)
{
	struct native *n = c->n;
	m->flags = MSG_F_LOCAL;
	m->corr = c->id;
	m->from.node = m->to.node = n->sys->node;
	m->to.id = ACTOR_GATEWAY;
	int rc = actor_sys_deliver(n->sys, m);
	if (rc == 1) {
		/* queued, and the mailbox is full: wait until it drains */
		c->paused |= NATIVE_PAUSE_MAILBOX;
		gconn_todo(c, true, false);
	} else if (rc < 0) {
		/* refused (hard cap, shutdown): its requests would vanish */
		if (native_log_now(++n->stats.overloaded))
			log_warn("gateway: a client frame was refused (%s), "
				 "connection closed (%llu so far)",
				 mist_strerror(rc),
				 (unsigned long long)n->stats.overloaded);
		native_close(c, "gateway overloaded");
	}
}

/* Takes the whole frames c's stream holds, while nothing holds it back. */
static void
gconn_input(struct gconn *c)
{
	struct native *n = c->n;
	while (c->state != GC_CLOSING && c->paused == 0) {
		const uint8_t *p;
		size_t len;
		int rc;
		if (c->state == GC_HANDSHAKE) {
			rc = stream_in_frame(&c->st, GATEWAY_HELLO_MAX, &p, &len);
			if (rc == 1) {
				/* the actor authenticates; nothing more is
				 * read until it has */
				c->state = GC_HELLO;
				c->paused |= NATIVE_PAUSE_HELLO;
				gconn_post(c, msg_new(MSG_GW_HELLO, p,
						      (uint32_t)len));
				continue;
			}
		} else {
			rc = stream_in_frame(&c->st, stream_sealed_max(&c->st),
					     &p, &len);
			if (rc == 1 && len < NOISE_TAGLEN)
				rc = MIST_EPROTO;
			if (rc == 1) {
				/* opened straight into the message */
				struct msg *m = msg_new(
					MSG_GW_FRAME, NULL,
					(uint32_t)(len - NOISE_TAGLEN));
				if ((rc = stream_open(&c->st, p, len,
						      m->body)) != 0) {
					msg_delete(m);
				} else if (m->len == 0) {
					msg_delete(m); /* nothing in it */
					continue;
				} else {
					gconn_post(c, m);
					continue;
				}
			}
		}
		if (rc == 0)
			break;
		if (rc == MIST_E2BIG) {
			n->stats.oversized++;
			native_close(c, "frame larger than the limit");
		} else {
			n->stats.bad_frames++;
			native_close(c, mist_strerror(rc));
		}
		return;
	}
	if (c->state == GC_CLOSING)
		return;
	stream_in_keep(&c->st);
	gconn_reading(c);
}

static void
gconn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct gconn *c = h->data;
	(void)hint;
	outq_read_buf(&c->st, &c->n->rshared, b);
}

static void
gconn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct gconn *c = s->data;
	(void)b;
	if (nread < 0) {
		native_close(c, nread == UV_EOF ? (stream_in_pending(&c->st)
							   ? "truncated frame"
							   : "end of stream")
						: uv_strerror((int)nread));
		return;
	}
	stream_in_commit(&c->st, (size_t)nread);
	gconn_input(c);
}

/* ----------------------------------------------------------- handshake */

int
native_hello_cred(const uint8_t *frame, size_t len, uint64_t *cred)
{
	if (len < GATEWAY_HELLO_HDR + NOISE_DHLEN + NOISE_TAGLEN ||
	    (frame[0] != GATEWAY_VERSION &&
	     frame[0] != GATEWAY_VERSION_NOREKEY))
		return MIST_EPROTO;
	*cred = cred_id_get(frame + 1);
	return 0;
}

/* True if @a re was seen within 2 * SKEW (and then remembered). */
static bool
replay_seen(struct native *n, const uint8_t re[32])
{
	uint64_t now = clock_wall_ms(), h;
	memcpy(&h, re, 8);
	/* expire the oldest entries first (they were added in time order) */
	while (n->rlen > 0 && n->ring[n->rhead].expires <= now) {
		map_del(&n->seen, n->ring[n->rhead].h);
		n->rhead = (n->rhead + 1) % NATIVE_REPLAY_MAX;
		n->rlen--;
	}
	if (map_get(&n->seen, h) != NULL)
		return true;
	if (n->rlen == NATIVE_REPLAY_MAX) {
		log_warn("gateway: replay cache full (%u first messages "
			 "within %u s): refusing new handshakes",
			 NATIVE_REPLAY_MAX, 2 * GATEWAY_SKEW_MS / 1000);
		return true;
	}
	uint32_t at = (n->rhead + n->rlen++) % NATIVE_REPLAY_MAX;
	n->ring[at] = (struct native_replay){h, now + 2 * GATEWAY_SKEW_MS};
	map_put(&n->seen, h, (void *)1);
	return false;
}

static int
native_hs_fail(struct gconn *c, int rc, const char *why)
{
	c->n->stats.handshakes_failed++;
	log_debug("gateway: handshake with %s refused: %s", c->peer, why);
	native_close(c, why);
	return rc;
}

int
native_handshake(struct native *n, struct gconn *c, uint64_t id,
		 const uint8_t secret[32], const uint8_t *frame, size_t len,
		 uint8_t *scratch, size_t cap, const uint8_t **early,
		 size_t *elen)
{
	if (c->state != GC_HELLO)
		return native_hs_fail(c, MIST_EPROTO, "not in its handshake");
	uint8_t prologue[GATEWAY_PROLOGUE_LEN];
	gateway_prologue(prologue, id);
	struct noise_hs hs;
	if (noise_hs_init(&hs, GATEWAY_PROTOCOL, false, prologue,
			  sizeof(prologue), NULL, NULL, secret) != 0)
		return native_hs_fail(c, MIST_EPROTO, "handshake setup");
	size_t plen;
	if (noise_hs_read(&hs, frame + GATEWAY_HELLO_HDR,
			  len - GATEWAY_HELLO_HDR, scratch, cap, &plen) != 0) {
		noise_hs_wipe(&hs);
		return native_hs_fail(c, MIST_EAUTH, "wrong secret or tampering");
	}
	struct mp_cur cur;
	uint64_t ts, now = clock_wall_ms();
	mp_cur_init(&cur, scratch, plen);
	if (mp_read_uint(&cur, &ts) != 0 ||
	    (ts > now ? ts - now : now - ts) > GATEWAY_SKEW_MS) {
		noise_hs_wipe(&hs);
		return native_hs_fail(c, MIST_EAUTH, "client clock off");
	}
	if (replay_seen(n, hs.re)) {
		noise_hs_wipe(&hs);
		return native_hs_fail(c, MIST_EAUTH, "replayed first message");
	}
	uint8_t msg2[GATEWAY_REPLY_MAX];
	size_t m2len;
	if (noise_hs_write(&hs, NULL, 0, msg2, sizeof(msg2), &m2len) != 0) {
		noise_hs_wipe(&hs);
		return native_hs_fail(c, MIST_EPROTO, "handshake reply");
	}
	/* a version-1 client never rekeys (native_proto.h) */
	if (frame[0] == GATEWAY_VERSION_NOREKEY)
		stream_set_rekey(&c->st, STREAM_REKEY_NEVER);
	stream_split(&c->st, &hs);
	noise_hs_wipe(&hs);
	/* message 2 goes out before any sealed frame */
	stream_put_raw(&c->oq.wq, msg2, m2len);
	hs_unlink(c);
	c->state = GC_OPEN;
	c->cred = id;
	cred_link(c);
	n->stats.handshakes_ok++;
	*early = cur.p;
	*elen = mp_cur_left(&cur);
	c->paused &= ~(unsigned)NATIVE_PAUSE_HELLO;
	gconn_todo(c, true, true);
	return 0;
}

/* -------------------------------------------------------------- throttle */

void
native_pause(struct gconn *c, enum native_pause why)
{
	c->paused |= why;
	gconn_reading(c);
}

void
native_resume(struct gconn *c, enum native_pause why)
{
	if (!(c->paused & why))
		return;
	c->paused &= ~(unsigned)why;
	if (c->paused == 0)
		gconn_todo(c, true, false); /* what waits in the stream first */
}

struct gconn *
native_conn(struct native *n, uint64_t id)
{
	struct gconn *c = map_get(&n->conns, id);
	return c;
}

/* ------------------------------------------------ loop handles: accept */

static void
native_timer_cb(uv_timer_t *t)
{
	struct native *n = t->data;
	uint64_t now = uv_now(n->loop);
	/* every handshake that is due, however many */
	while (n->hs_head != NULL && n->hs_head->hs_deadline <= now) {
		n->stats.timeouts++;
		native_close(n->hs_head, "handshake timed out");
	}
	if (n->hs_head != NULL)
		uv_timer_start(&n->hs_timer, native_timer_cb,
			       n->hs_head->hs_deadline - now, 0);
}

static void
native_accept_cb(uv_stream_t *server, int status)
{
	struct native *n = server->data;
	if (status < 0 || n->closing)
		return;
	struct gconn *c = xcalloc(1, sizeof(*c));
	c->n = n;
	c->state = GC_NEW;
	uv_tcp_init(n->loop, &c->tcp);
	c->tcp.data = c;
	n->handles++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		native_close(c, "accept failed");
		return;
	}
	struct sockaddr_storage peer;
	int plen = sizeof(peer);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0)
		addr_format((struct sockaddr *)&peer, c->peer, sizeof(c->peer));
	if (n->conns.len >= n->cfg.max_conns) {
		if (native_log_now(++n->stats.refused_full))
			log_warn("gateway: %u client connections open, "
				 "refusing %s (%llu so far)",
				 n->cfg.max_conns, c->peer,
				 (unsigned long long)n->stats.refused_full);
		native_close(c, "too many connections");
		return;
	}
	if (n->handshaking >= n->cfg.max_handshakes) {
		if (native_log_now(++n->stats.refused_busy))
			log_warn("gateway: %u handshakes in progress, "
				 "refusing %s (%llu so far)",
				 n->cfg.max_handshakes, c->peer,
				 (unsigned long long)n->stats.refused_busy);
		native_close(c, "too many handshakes in progress");
		return;
	}
	n->stats.accepted++;
	c->id = ++n->next_id;
	c->state = GC_HANDSHAKE;
	map_put(&n->conns, c->id, c);
	stream_init(&c->st, n->cfg.max_frame, STREAM_REKEY_FRAMES);
	/* handshakes join the list in deadline order */
	c->hs_deadline = uv_now(n->loop) + n->cfg.handshake_timeout_ms;
	c->hs_prev = n->hs_tail;
	if (n->hs_tail)
		n->hs_tail->hs_next = c;
	else
		n->hs_head = c;
	n->hs_tail = c;
	n->handshaking++;
	if (c == n->hs_head)
		uv_timer_start(&n->hs_timer, native_timer_cb,
			       n->cfg.handshake_timeout_ms, 0);
	uv_tcp_nodelay(&c->tcp, 1);
	gconn_reading(c);
}

/* ------------------------------------------------ loop handles: prepare */

/* Once per loop iteration: resumed input first, then sealing and writes. */
static void
native_flush_cb(uv_prepare_t *h)
{
	struct native *n = h->data;
	struct actor *gw = actor_sys_find(n->sys, ACTOR_GATEWAY);
	bool busy = gw != NULL && gw->overloaded;
	struct gconn *c = n->todo, *next;
	for (; c != NULL; c = next) {
		next = c->todo_next;
		if (c->want_input && !(busy && (c->paused &
						NATIVE_PAUSE_MAILBOX))) {
			c->paused &= ~(unsigned)NATIVE_PAUSE_MAILBOX;
			c->want_input = false;
			gconn_input(c); /* may pause again, or close c */
			if (c->state == GC_CLOSING)
				continue;
		}
		if (c->want_flush) {
			c->want_flush = false;
			gconn_seal(c);
			if (c->state == GC_CLOSING)
				continue;
			gconn_write_start(c);
			if (c->state == GC_CLOSING)
				continue;
		}
		if (!c->want_input && !c->want_flush)
			todo_unlink(c);
	}
}

/* ------------------------------------------------------------- listener */

static void
native_handle_closed(uv_handle_t *h)
{
	native_unref(h->data);
}

int
native_listen(struct native *n, uv_loop_t *loop, struct actor_sys *sys,
	      const struct gateway_config *cfg, const char *addr)
{
	struct sockaddr_storage sa;
	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->sys = sys;
	n->cfg = *cfg;
	map_init(&n->conns, randombytes_random());
	map_init(&n->by_cred, randombytes_random());
	map_init(&n->seen, randombytes_random());
	n->ring = xmalloc(NATIVE_REPLAY_MAX * sizeof(*n->ring));
	uv_tcp_init(loop, &n->listener);
	uv_prepare_init(loop, &n->flush);
	uv_timer_init(loop, &n->hs_timer);
	n->listener.data = n->flush.data = n->hs_timer.data = n;
	n->handles = 3;
	n->listening = true;
	uv_prepare_start(&n->flush, native_flush_cb);
	if (addr_parse(addr, &sa) != 0)
		return MIST_EINVAL;
	int rc = uv_tcp_bind(&n->listener, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&n->listener, NATIVE_BACKLOG,
			       native_accept_cb);
	if (rc != 0) {
		log_error("gateway: cannot listen on %s: %s", addr,
			  uv_strerror(rc));
		return MIST_EIO;
	}
	int len = sizeof(n->bound);
	uv_tcp_getsockname(&n->listener, (struct sockaddr *)&n->bound, &len);
	return 0;
}

void
native_bound_addr(const struct native *n, char *out, size_t len)
{
	addr_format((const struct sockaddr *)&n->bound, out, len);
}

void
native_shutdown(struct native *n, void (*done)(void *ctx), void *ctx)
{
	n->closing = true;
	n->done = done;
	n->done_ctx = ctx;
	while (n->conns.len > 0) {
		size_t it = 0;
		uint64_t k;
		void *v;
		map_next(&n->conns, &it, &k, &v);
		native_close(v, "stopping");
	}
	free(n->rshared); /* closing sockets read no more */
	free(n->ring);
	n->rshared = NULL;
	n->ring = NULL;
	map_destroy(&n->conns);
	map_destroy(&n->by_cred);
	map_destroy(&n->seen);
	if (n->listening) {
		n->listening = false;
		uv_close((uv_handle_t *)&n->listener, native_handle_closed);
		uv_close((uv_handle_t *)&n->flush, native_handle_closed);
		uv_close((uv_handle_t *)&n->hs_timer, native_handle_closed);
	}
}
