/*
 * mist.c -- libmist: the job client (API and ownership in include/mist.h;
 * the protocol in gateway/native_proto.h and docs/PROTOCOL.md).
 *
 * One non-blocking socket carrying the sealed stream (net/stream.h).
 * Requests are envelopes appended to a plaintext buffer; mist_process()
 * seals what is queued into one frame, writes what the socket takes and
 * dispatches the replies it reads to the callbacks registered under their
 * correlation ids.  Blocking calls are loops of
 * poll() and mist_process() with a deadline.
 *
 * 0-RTT: until the handshake completes, the queued requests (up to the
 * Noise message limit) ride in the handshake's first message; the rest
 * wait for the gateway's answer.
 *
 * Tasks are numbered by the client (1, 2, ... per job) so that mist_task()
 * can return references without a round trip; they go out in batches of
 * up to MIST_BATCH tasks.  The owner accepts a batch only if it starts
 * right after the last task it has, and acknowledges a batch it already
 * holds, so numbering can never go wrong silently.
 *
 * Every body is encoded and decoded by the agents' own codec
 * (data/jobmsg.h, linked into libmist), so the two ends cannot drift.
 *
 * Reconnecting.  mist_connect() takes "addr1,addr2,...".  Every request
 * that may be sent twice -- all but JOB_CREATE: the owner dedups a batch
 * by its first task, and WAIT, READ, STATUS, ATTACH, CANCEL, CLOSE are
 * idempotent -- keeps its body until its reply comes.  When the
 * connection is lost, the requests that may not be resent fail
 * (MIST_ECLOSED), and the next mist_process() dials the addresses in
 * turn (the next one first, backoff MIST_REDIAL_MIN_MS..MIST_REDIAL_MAX_MS
 * between rounds) and sends the kept requests again, each under its own
 * deadline.  A reply saying the gateway could not reach the owner
 * (MIST_EUNREACHABLE, MIST_ECLOSED, MIST_ETIMEDOUT from the gateway: the
 * owner died, and its standby is taking the job over) is retried the
 * same way, after a backoff, until the request's deadline.  Jobs need no
 * reattaching: a gateway forwards by the job's name, to whoever owns it
 * now (docs/PROTOCOL.md 6.9).
 */
#include "config.h"
#include "client/tcp.h"
#include "data/jobmsg.h"
#include "data/place.h"
#include "actors/msgtype.h"
#include "mist.h"
#include "gateway/native_proto.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/noise.h"
#include "net/stream.h"
#include "net/wire.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIST_BATCH 1024
#define MIST_BATCH_BYTES (256u << 10)
/* A task's arguments at most: a batch (MIST_BATCH_BYTES, plus one task)
 * must fit in one frame (MIST_MAX_FRAME).  Bulk data belongs in values. */
#define MIST_MAX_ARGS (512u << 10)
#define MIST_MAX_FRAME (1u << 20)
#define MIST_PROGRESS_MS 200
/* Gateway addresses mist_connect() takes: net/addr.h's list,
 * ADDR_LIST_MAX (16, more than a client lists by hand) of at most
 * ADDR_TEXT_MAX bytes ("host:port", a DNS name is at most 253). */
/* Redialling: after a round of every address failed, wait from 100 ms
 * doubling to 2 s (a restarting gateway is back within seconds; many
 * clients redialling do not hammer it).  One dial gets at most
 * MIST_DIAL_MS: a live gateway on a LAN answers a SYN in milliseconds. */
#define MIST_REDIAL_MIN_MS 100
#define MIST_REDIAL_MAX_MS 2000
#define MIST_DIAL_MS 2000
/* A request the gateway could not deliver to the owner is sent again
 * after 200 ms doubling to 2 s: the owner's death is declared within
 * seconds, and its standby then owns the job. */
#define MIST_RETRY_MIN_MS 200
#define MIST_RETRY_MAX_MS 2000

typedef void (*reply_fn)(mist_client *c, void *ctx, struct msg *m);

struct pend {
	reply_fn fn;
	void *ctx;
	/* what resending needs (resend false: JOB_CREATE, not resent) */
	bool resend;
	uint32_t type;
	struct buf body;
	uint64_t deadline; /* 0: none */
	uint64_t retry_at; /* 0: sent; else when to send it again */
	uint32_t backoff;
};

struct mist_client {
	int fd;
	int err; /* sticky: the connection is gone */
	uint64_t cred;
	uint8_t secret[32];
	struct noise_hs hs;
	bool hs_sent, open;
	bool reading;	    /* in mist_process's reading: callbacks run */
	struct stream st;   /* frames both ways, and the bytes read */
	struct buf pending; /* plaintext envelopes not yet sealed */
	struct buf wbuf;    /* bytes for the socket */
	uint8_t *scratch;   /* an opened frame, MIST_MAX_FRAME bytes */
	uint64_t next_corr;
	struct map reqs; /* corr -> pend */
	struct mist_job *jobs;
	/* the gateways to (re)dial, and the one in use */
	char addrs[ADDR_LIST_MAX][ADDR_TEXT_MAX];
	uint32_t naddrs, cur;
	bool down;	    /* the connection is lost: redial */
	uint64_t redial_at; /* when to try the next round */
	uint32_t redial_ms;
	uint32_t retries;   /* pends with retry_at set */
	uint32_t reconnects;
	uint32_t refused;   /* redials in a row whose handshake was refused */
};

struct mist_job {
	mist_client *c;
	struct mist_job *next;
	uint64_t owner, id;
	char idtext[34];
	uint32_t ntasks;     /* numbered so far */
	uint32_t nbatch;     /* the last nbatch of them are not sent yet */
	struct buf batch;
	uint32_t unacked;    /* batches sent, not acknowledged */
	int err;	     /* sticky error from a batch */
	char errmsg[1200];
	void (*progress_cb)(void *, const struct mist_progress *);
	void *progress_arg;
	int progress_ms;
	uint64_t progress_next;
	/* the last progress answer's view (mist_job_nodes): MIST_PROGRESS_MAX_NODES
	 * rows, allocated at the first answer */
	struct mist_node_progress *nodes;
	uint32_t nnodes, unlisted;
	struct mist_recoveries rec;
	struct mist_waits waits;
};

void
mist_free(void *p)
{
	free(p);
}

/* --------------------------------------------------------- connection */

/* Dials the addresses from c->cur on, one round, each for at most
 * @a timeout_ms (and MIST_DIAL_MS); 0 with c->fd set, or the last error. */
static int
dial(mist_client *c, int timeout_ms)
{
	int rc = MIST_EUNREACHABLE;
	for (uint32_t i = 0; i < c->naddrs; i++) {
		uint32_t at = (c->cur + i) % c->naddrs;
		int fd = -1;
		rc = conn_tcp_connect(c->addrs[at], timeout_ms < MIST_DIAL_MS
							    ? timeout_ms
							    : MIST_DIAL_MS,
				      &fd);
		if (rc == 0) {
			c->fd = fd;
			c->cur = at;
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

int
mist_connect(const char *addr, const char *credential, int timeout_ms,
	     mist_client **out)
{
	*out = NULL;
	if (sodium_init() < 0)
		return MIST_EIO;
	uint64_t id;
	uint8_t secret[32];
	if (addr == NULL || cred_parse(credential, &id, secret) != 0)
		return MIST_EINVAL;
	mist_client *c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	int rc = addr_list_parse(addr, c->addrs, &c->naddrs);
	if (rc == 0)
		rc = dial(c, timeout_ms > 0 ? timeout_ms : 30000);
	if (rc != 0) {
		free(c);
		sodium_memzero(secret, sizeof(secret));
		return rc;
	}
	c->cred = id;
	memcpy(c->secret, secret, 32);
	sodium_memzero(secret, sizeof(secret));
	c->scratch = xmalloc(MIST_MAX_FRAME);
	stream_init(&c->st, MIST_MAX_FRAME, STREAM_REKEY_FRAMES);
	randombytes_buf(&c->next_corr, sizeof(c->next_corr));
	c->next_corr >>= 2;
	map_init(&c->reqs, randombytes_random());
	*out = c;
	return 0;
}

static void
pend_free(struct pend *p)
{
	buf_destroy(&p->body);
	free(p);
}

/* Forgets request @a k without answering it. */
static void
pend_forget(mist_client *c, uint64_t k)
{
	struct pend *p = map_del(&c->reqs, k);
	if (p == NULL)
		return;
	if (p->retry_at)
		c->retries--;
	pend_free(p);
}

/* Answers request @a k (taken out of the map) with error @a err. */
static void
pend_fail(mist_client *c, uint64_t k, struct pend *p, int err)
{
	struct msg m = {0};
	m.type = MSG_ERROR;
	m.flags = MSG_F_REPLY;
	m.status = (int16_t)err;
	m.corr = k;
	if (p->retry_at)
		c->retries--;
	p->fn(c, p->ctx, &m);
	pend_free(p);
}

static void
fail_all(mist_client *c, int err)
{
	if (c->err == 0)
		c->err = err;
	/* every waiting request gets the error, once */
	while (c->reqs.len) {
		size_t it = 0;
		uint64_t k;
		void *v;
		map_next(&c->reqs, &it, &k, &v);
		map_del(&c->reqs, k);
		pend_fail(c, k, v, err);
	}
}

/* Fails the requests that may not be sent twice (@a all: every one),
 * and those whose deadline passed. */
static void
fail_some(mist_client *c, int err, bool all)
{
	uint64_t now = clock_mono_ms();
	for (;;) {
		size_t it = 0;
		uint64_t k, found = 0;
		void *v;
		struct pend *p = NULL;
		while (map_next(&c->reqs, &it, &k, &v)) {
			struct pend *q = v;
			if (all || !q->resend || (q->deadline && now >= q->deadline)) {
				found = k;
				p = q;
				break;
			}
		}
		if (p == NULL)
			return;
		map_del(&c->reqs, found);
		pend_fail(c, found, p,
			  p->resend && p->deadline && now >= p->deadline
				  ? MIST_ETIMEDOUT : err);
	}
}

/*
 * The connection is lost (@a err): with addresses to redial, the
 * requests that may be resent wait for the next connection; else, or
 * for a final error, everything fails.
 */
static void
conn_lost(mist_client *c, int err)
{
	if (c->naddrs == 0 || err == MIST_EAUTH || err == MIST_EPROTO ||
	    err == MIST_E2BIG) {
		fail_all(c, err);
		return;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->down = true;
	c->open = c->hs_sent = false;
	/* what was queued for the old connection is rebuilt for the next
	 * (resend): the kept requests; one-way messages are lost with it */
	buf_reset(&c->pending);
	buf_reset(&c->wbuf);
	c->redial_at = 0; /* the next address at once */
	c->redial_ms = MIST_REDIAL_MIN_MS;
	c->cur = (c->cur + 1) % c->naddrs;
	fail_some(c, MIST_ECLOSED, false);
}

void
mist_close(mist_client *c)
{
	if (c == NULL)
		return;
	while (c->jobs)
		mist_job_detach(c->jobs);
	c->naddrs = 0; /* nothing is redialled from here on */
	fail_all(c, MIST_ECLOSED);
	if (c->fd >= 0)
		close(c->fd);
	map_destroy(&c->reqs);
	buf_destroy(&c->pending);
	buf_destroy(&c->wbuf);
	stream_destroy(&c->st);
	free(c->scratch);
	noise_hs_wipe(&c->hs);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

int
mist_fd(const mist_client *c)
{
	return c->fd;
}

int
mist_want_write(const mist_client *c)
{
	return c->wbuf.len > 0 || (c->pending.len > 0 && (c->open || !c->hs_sent));
}

/* Queues the envelope of a request (or a one-way message: corr 0). */
static void
envelope(mist_client *c, uint32_t type, const uint8_t *body, uint32_t len,
	 uint64_t corr, uint64_t deadline)
{
	struct msg *m = msg_new(type, body, len);
	m->flags = corr ? MSG_F_REQUEST : 0;
	m->corr = corr;
	m->to.id = ACTOR_GATEWAY;
	m->deadline = deadline;
	wire_envelope_encode(&c->pending, m, clock_mono_ms());
	msg_delete(m);
}

static void
request(mist_client *c, uint32_t type, const struct buf *body,
	uint64_t deadline, reply_fn fn, void *ctx)
{
	uint64_t corr = fn ? ++c->next_corr : 0;
	if (fn) {
		struct pend *p = xcalloc(1, sizeof(*p));
		p->fn = fn;
		p->ctx = ctx;
		/* a create sent twice would make two jobs */
		p->resend = type != MSG_JOB_CREATE;
		p->type = type;
		p->deadline = deadline;
		if (p->resend && body)
			buf_append(&p->body, body->data, body->len);
		map_put(&c->reqs, corr, p);
	}
	if (c->err && fn) {
		fail_all(c, c->err);
		return;
	}
	if (c->down && !fn)
		return; /* one-way (a release): lost with the connection */
	if (c->down) {
		if (!((struct pend *)map_get(&c->reqs, corr))->resend) {
			pend_fail(c, corr, map_del(&c->reqs, corr), MIST_ECLOSED);
			return;
		}
		return; /* sent when the connection is back */
	}
	envelope(c, type, body ? body->data : NULL,
		 body ? (uint32_t)body->len : 0, corr, deadline);
}

/* Sends again what waits: every kept request after a redial (@a all),
 * or those whose retry is due. */
static void
resend(mist_client *c, bool all)
{
	uint64_t now = clock_mono_ms();
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&c->reqs, &it, &k, &v)) {
		struct pend *p = v;
		if (!all && (p->retry_at == 0 || now < p->retry_at))
			continue;
		if (p->retry_at) {
			p->retry_at = 0;
			c->retries--;
		}
		envelope(c, p->type, p->body.data, (uint32_t)p->body.len, k,
			 p->deadline);
	}
}

/* The connection is down: one round of dials when due; a new one gets a
 * fresh handshake and every kept request. */
static void
redial(mist_client *c)
{
	fail_some(c, MIST_ECLOSED, false); /* deadlines passed meanwhile */
	uint64_t now = clock_mono_ms();
	if (now < c->redial_at)
		return;
	if (dial(c, MIST_DIAL_MS) != 0) {
		c->redial_at = now + c->redial_ms;
		c->redial_ms = c->redial_ms * 2 > MIST_REDIAL_MAX_MS
				       ? MIST_REDIAL_MAX_MS : c->redial_ms * 2;
		return;
	}
	c->down = false;
	c->reconnects++;
	stream_destroy(&c->st);
	stream_init(&c->st, MIST_MAX_FRAME, STREAM_REKEY_FRAMES);
	noise_hs_wipe(&c->hs);
	buf_reset(&c->pending);
	buf_reset(&c->wbuf);
	resend(c, true);
}

/* Moves queued envelopes into wbuf: in the first handshake message, or
 * sealed once the handshake is done. */
static void
seal_pending(mist_client *c)
{
	if (c->pending.len == 0 && c->hs_sent)
		return;
	if (!c->hs_sent) {
		uint8_t prologue[GATEWAY_PROLOGUE_LEN];
		gateway_prologue(prologue, c->cred);
		noise_hs_init(&c->hs, GATEWAY_PROTOCOL, true, prologue,
			      sizeof(prologue), NULL, NULL, c->secret);
		/* payload: the client's clock, then as many whole envelopes as
		 * fit in one Noise message (e, the tag, and a margin of the
		 * size of e: the limit of version 1) */
		struct buf pl = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &pl, buf_msgpack_write);
		msgpack_pack_uint64(&pk, clock_wall_ms());
		size_t take = wire_payload_prefix(
			c->pending.data, c->pending.len,
			NOISE_MAX_MSG - 2 * NOISE_DHLEN - NOISE_TAGLEN - pl.len);
		buf_append(&pl, c->pending.data, take);
		buf_consume(&c->pending, take);
		/* the first frame: [version][cred id][NNpsk0 message 1] */
		struct buf f = BUF_INIT;
		buf_reserve(&f, GATEWAY_HELLO_MAX);
		f.data[0] = GATEWAY_VERSION; /* rekeying stream */
		cred_id_put(f.data + 1, c->cred);
		size_t m1;
		int rc = noise_hs_write(&c->hs, pl.data, pl.len,
					f.data + GATEWAY_HELLO_HDR,
					NOISE_MAX_MSG, &m1);
		if (rc != 0) {
			/* nothing valid to send: every request fails */
			buf_destroy(&f);
			buf_destroy(&pl);
			c->hs_sent = true;
			fail_all(c, MIST_EPROTO);
			return;
		}
		f.len = GATEWAY_HELLO_HDR + m1;
		stream_put_raw(&c->wbuf, f.data, f.len);
		buf_destroy(&f);
		buf_destroy(&pl);
		c->hs_sent = true;
		return;
	}
	if (!c->open)
		return;
	/* request() keeps every envelope below a frame */
	if (stream_seal_batch(&c->st, c->pending.data, c->pending.len,
			      &c->wbuf, NULL, NULL) < 0)
		fail_all(c, MIST_E2BIG);
	c->pending.len = 0;
}

static int
on_envelope(void *ctx, struct msg *m)
{
	mist_client *c = ctx;
	struct pend *p = (m->flags & MSG_F_REPLY) ? map_get(&c->reqs, m->corr)
						  : NULL;
	uint64_t now = clock_mono_ms();
	if (p && p->resend && p->retry_at == 0 &&
	    (m->status == MIST_EUNREACHABLE || m->status == MIST_ECLOSED ||
	     m->status == MIST_ETIMEDOUT) &&
	    (p->deadline == 0 || now + MIST_RETRY_MIN_MS < p->deadline)) {
		/* the gateway could not reach the owner: it died, and its
		 * standby is taking the job over; ask again later */
		p->backoff = p->backoff ? p->backoff * 2 : MIST_RETRY_MIN_MS;
		if (p->backoff > MIST_RETRY_MAX_MS)
			p->backoff = MIST_RETRY_MAX_MS;
		p->retry_at = now + p->backoff;
		c->retries++;
		msg_delete(m);
		return 0;
	}
	if (p) {
		map_del(&c->reqs, m->corr);
		p->fn(c, p->ctx, m);
		pend_free(p);
	}
	msg_delete(m);
	return 0;
}

/* Takes the whole frames the stream holds: the handshake's answer, then
 * sealed replies, dispatched to their callbacks.  0 or MIST_E*. */
static int
take_frames(mist_client *c)
{
	for (;;) {
		size_t n;
		int rc;
		if (!c->open) {
			const uint8_t *p;
			size_t plen;
			rc = stream_in_frame(&c->st, GATEWAY_REPLY_MAX, &p, &n);
			if (rc == 1) {
				if (noise_hs_read(&c->hs, p, n, c->scratch,
						  MIST_MAX_FRAME, &plen) != 0)
					return MIST_EAUTH;
				stream_split(&c->st, &c->hs);
				noise_hs_wipe(&c->hs);
				c->open = true;
				c->refused = 0;
				continue;
			}
		} else {
			rc = stream_in_open(&c->st, c->scratch, &n);
			if (rc == 1) {
				rc = wire_payload_decode(c->scratch, n,
							 MIST_MAX_FRAME,
							 clock_mono_ms(), on_envelope,
							 c);
				if (rc != 0)
					return rc;
				continue;
			}
		}
		/* an oversized length: the peer does not speak our protocol */
		return rc == MIST_E2BIG ? MIST_EPROTO : rc;
	}
}

/*
 * The gateway hung up.  An open connection is redialled.  Before the
 * handshake's answer it refused the credential: on the first connection
 * that is EAUTH; on a redial the credential was revoked (or that gateway
 * does not know it): the next address is tried, and once every one
 * refused in a row, everything fails ECLOSED -- the connection is gone.
 */
static void
hung_up(mist_client *c)
{
	if (c->open)
		conn_lost(c, MIST_ECLOSED);
	else if (c->reconnects == 0)
		fail_all(c, MIST_EAUTH);
	else if (++c->refused >= c->naddrs)
		fail_all(c, MIST_ECLOSED);
	else
		conn_lost(c, MIST_ECLOSED);
}

/* Writes what the socket takes; a gateway gone is an error, not SIGPIPE. */
static int
write_some(mist_client *c)
{
	while (c->wbuf.len > 0) {
		ssize_t w = send(c->fd, c->wbuf.data, c->wbuf.len,
				 MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			hung_up(c);
			return c->err;
		}
		buf_consume(&c->wbuf, (size_t)w);
	}
	return 0;
}

int
mist_process(mist_client *c)
{
	if (c->err)
		return c->err;
	if (c->down && !c->reading)
		redial(c);
	if (c->down)
		return c->err;
	if (c->retries)
		resend(c, false);
	seal_pending(c);
	if (write_some(c) != 0 || c->down)
		return c->err;
	/* a callback calling back in (mist_flush) only writes: the frame
	 * being dispatched is still in use */
	if (c->reading)
		return c->err;
	c->reading = true;
	for (;;) {
		size_t cap;
		uint8_t *p = stream_in_space(&c->st, NULL, &cap);
		ssize_t r = read(c->fd, p, cap);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) {
			/* a gateway that refuses the credential just hangs
			 * up: on the first connection that is EAUTH; on a
			 * redial, the credential was revoked (or the gateway
			 * does not know it): the next address is tried, and
			 * once every one refused, everything fails ECLOSED
			 * -- the connection is gone for good */
			hung_up(c);
			break;
		}
		stream_in_commit(&c->st, (size_t)r);
		int rc = take_frames(c);
		stream_in_keep(&c->st);
		if (rc != 0) {
			fail_all(c, rc);
			break;
		}
	}
	c->reading = false;
	if (c->err || c->down)
		return c->err;
	if (c->open && c->pending.len) {
		/* requests that waited for the handshake's answer */
		seal_pending(c);
		write_some(c);
	}
	return c->err;
}

/* Pumps until *done or the deadline (0: none). */
static int
pump(mist_client *c, const bool *done, uint64_t deadline)
{
	while (!*done) {
		int rc = mist_process(c);
		if (rc != 0 || *done)
			return rc;
		uint64_t now = clock_mono_ms();
		if (deadline && now >= deadline)
			return MIST_ETIMEDOUT;
		int wait = deadline ? (int)(deadline - now) : 1000;
		if (wait > 100)
			wait = 100;
		if (c->retries && wait > 20)
			wait = 20; /* a retry falls due soon */
		/* down (fd -1): poll only sleeps, then we redial */
		struct pollfd pfd = {c->fd, POLLIN | (mist_want_write(c) ? POLLOUT : 0), 0};
		poll(&pfd, 1, wait);
	}
	return 0;
}

/* ---------------------------------------------------------- requests */

struct sync {
	bool done;
	int status;
	uint32_t type;
	struct buf body;
};

static void
sync_cb(mist_client *c, void *ctx, struct msg *m)
{
	struct sync *s = ctx;
	(void)c;
	s->done = true;
	s->status = m->status;
	s->type = m->type;
	buf_append(&s->body, m->body, m->len);
}

/* One request, waited for.  On 0, s->body holds the reply body. */
static int
call(mist_client *c, uint32_t type, const struct buf *body, int timeout_ms,
     struct sync *s)
{
	memset(s, 0, sizeof(*s));
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 30000);
	request(c, type, body, deadline, sync_cb, s);
	int rc = pump(c, &s->done, deadline);
	if (rc == MIST_ETIMEDOUT && !s->done) {
		/* forget it: a late reply finds no callback */
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&c->reqs, &it, &k, &v))
			if (((struct pend *)v)->ctx == s) {
				pend_forget(c, k);
				break;
			}
	}
	if (rc != 0)
		return rc;
	return s->status;
}

/* A request whose reply is two integers, [a, b] (ids, counts). */
static int
call_pair(mist_client *c, uint32_t type, const struct buf *body,
	  int timeout_ms, uint64_t *a, uint64_t *b)
{
	struct sync s;
	int rc = call(c, type, body, timeout_ms, &s);
	if (rc == 0 && jobmsg_ids_unpack(s.body.data, (uint32_t)s.body.len, a,
					 b) != 0)
		rc = MIST_EPROTO;
	buf_destroy(&s.body);
	return rc;
}

static mist_job *
job_new(mist_client *c, uint64_t owner, uint64_t id, uint32_t ntasks)
{
	mist_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->owner = owner;
	j->id = id;
	j->ntasks = ntasks;
	snprintf(j->idtext, sizeof(j->idtext), "%016" PRIx64 "-%016" PRIx64,
		 owner, id);
	j->next = c->jobs;
	c->jobs = j;
	return j;
}

_Static_assert(MIST_TIER_FOG == TIER_FOG && MIST_TIER_EDGE == TIER_EDGE &&
		       MIST_TIER_CLOUD == TIER_CLOUD,
	       "include/mist.h's tier bits are data/place.h's");

/* The JOB_CREATE body of @a p (NULL: the defaults).  What the owner would
 * refuse by name -- an unknown objective, a name too long -- is refused
 * here; the numbers are checked by the owner.  0 or MIST_EINVAL. */
static int
policy_pack(const struct mist_policy *p, struct buf *b)
{
	struct jobmsg_create cr;
	jobmsg_create_init(&cr);
	if (p != NULL) {
		if (p->name != NULL) {
			size_t n = strlen(p->name);
			if (n >= sizeof(cr.name))
				return MIST_EINVAL;
			memcpy(cr.name, p->name, n + 1);
		}
		if (p->objective != NULL) {
			size_t n = strlen(p->objective);
			if (n > UINT32_MAX ||
			    jobmsg_create_policy(&cr, p->objective,
						 (uint32_t)n) != 0)
				return MIST_EINVAL;
		} else if (p->weights[0] > 0 || p->weights[1] > 0 ||
			   p->weights[2] > 0) {
			/* all zero (or none positive): the default, time */
			cr.w_time = p->weights[0];
			cr.w_energy = p->weights[1];
			cr.w_cost = p->weights[2];
		}
		/* bits past the three tiers name nothing; none: any tier */
		if (p->tiers & TIER_ANY)
			cr.tiers = p->tiers & TIER_ANY;
		cr.attempts = p->attempts;
		cr.checkpoint_every = p->checkpoint_every;
	}
	jobmsg_create_pack(b, &cr);
	return 0;
}

int
mist_job_create(mist_client *c, const struct mist_policy *p, int timeout_ms,
		mist_job **out)
{
	*out = NULL;
	struct buf b = BUF_INIT;
	uint64_t owner, id;
	int rc = policy_pack(p, &b);
	if (rc == 0)
		rc = call_pair(c, MSG_JOB_CREATE, &b, timeout_ms, &owner, &id);
	buf_destroy(&b);
	if (rc == 0)
		*out = job_new(c, owner, id, 0);
	return rc;
}

int
mist_job_attach(mist_client *c, const char *text, int timeout_ms,
		mist_job **out)
{
	*out = NULL;
	uint64_t owner, id;
	char tail;
	if (text == NULL ||
	    sscanf(text, "%16" SCNx64 "-%16" SCNx64 "%c", &owner, &id, &tail) != 2)
		return MIST_EINVAL;
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_ATTACH, owner, id);
	uint64_t jid, ntasks;
	int rc = call_pair(c, MSG_JOB_ATTACH, &b, timeout_ms, &jid, &ntasks);
	buf_destroy(&b);
	if (rc == 0 && ntasks > UINT32_MAX)
		rc = MIST_EPROTO;
	if (rc == 0)
		*out = job_new(c, owner, id, (uint32_t)ntasks);
	return rc;
}

const char *
mist_job_id(const mist_job *j)
{
	return j->idtext;
}

uint32_t
mist_job_tasks(const mist_job *j)
{
	return j->ntasks;
}

const char *
mist_job_error(const mist_job *j)
{
	return j->errmsg;
}

/* ------------------------------------------------------------- tasks */

static void
batch_cb(mist_client *c, void *ctx, struct msg *m)
{
	(void)c;
	mist_job *j = ctx;
	j->unacked--;
	if (m->status != 0 && j->err == 0) {
		j->err = m->status;
		snprintf(j->errmsg, sizeof(j->errmsg),
			 "a batch of tasks was refused: %s",
			 mist_strerror(m->status));
	}
}

int
mist_flush(mist_job *j)
{
	if (j->nbatch == 0)
		return j->err;
	struct buf b = BUF_INIT;
	jobmsg_tasks_pack(&b, j->owner, j->id, j->ntasks - j->nbatch + 1,
			  j->nbatch);
	buf_append(&b, j->batch.data, j->batch.len);
	j->unacked++;
	request(j->c, MSG_JOB_TASKS, &b, clock_mono_ms() + 60000, batch_cb, j);
	buf_destroy(&b);
	buf_reset(&j->batch);
	j->nbatch = 0;
	mist_process(j->c);
	return j->err;
}

int
mist_task(mist_job *j, const char *fn, const void *args, size_t alen,
	  const mist_ref *in, uint32_t nin, uint32_t nout, mist_ref *outs)
{
	if (fn == NULL || strlen(fn) == 0 || strlen(fn) >= JOBS_FN_NAME_MAX ||
	    nin > JOBS_MAX_INPUTS || nout > JOBS_MAX_OUTPUTS)
		return MIST_EINVAL;
	if (alen > MIST_MAX_ARGS)
		return MIST_E2BIG;
	if (j->err)
		return j->err;
	size_t used;
	if (alen == 0 ||
	    mp_check(args, alen, MP_MAX_DEPTH, &used) != 0 || used != alen)
		return MIST_EINVAL; /* one msgpack object */
	for (uint32_t i = 0; i < nin; i++)
		if (in[i].task == 0 || in[i].task > j->ntasks)
			return MIST_EINVAL;
	if (j->batch.len + alen > MIST_BATCH_BYTES)
		mist_flush(j); /* so that the batch stays within a frame */
	struct jobmsg_task t = {fn, (uint32_t)strlen(fn), args, (uint32_t)alen,
				nout, nin};
	jobmsg_task_pack(&j->batch, &t, NULL);
	for (uint32_t i = 0; i < nin; i++)
		jobmsg_ref_pack(&j->batch, (struct gref){in[i].task, in[i].out});
	uint32_t id = ++j->ntasks;
	j->nbatch++;
	for (uint32_t o = 0; outs && o < nout; o++)
		outs[o] = (mist_ref){id, o};
	if (j->nbatch >= MIST_BATCH || j->batch.len >= MIST_BATCH_BYTES)
		mist_flush(j);
	/* keep what waits for the socket bounded: block while it is large */
	mist_client *c = j->c;
	if (c->wbuf.len + c->pending.len > (8u << 20)) {
		bool never = false;
		while (c->err == 0 && c->wbuf.len + c->pending.len > (4u << 20)) {
			pump(c, &never, clock_mono_ms() + 50);
		}
	}
	return j->err ? j->err : j->c->err;
}

/* ------------------------------------------------------------ values */

struct getop {
	mist_job *j;
	mist_ref r;
	uint64_t deadline;
	struct buf data;
	uint64_t total;
	mist_get_cb cb;
	void *arg;
};

static void get_send(struct getop *g, uint32_t type);
static void get_wait_cb(mist_client *c, void *ctx, struct msg *m);

static void
get_finish(struct getop *g, int status)
{
	g->cb(g->arg, status, g->data.data, g->data.len);
	buf_destroy(&g->data);
	free(g);
}


static void
get_read_cb(mist_client *c, void *ctx, struct msg *m)
{
	(void)c;
	struct getop *g = ctx;
	if (m->status == MIST_ENOTFOUND && clock_mono_ms() < g->deadline) {
		/* the copy vanished: the owner recomputes it; wait again */
		buf_reset(&g->data);
		get_send(g, MSG_JOB_WAIT);
		return;
	}
	uint32_t clen;
	uint64_t total;
	const uint8_t *chunk;
	if (m->status != 0) {
		get_finish(g, m->status);
		return;
	}
	if (jobmsg_chunk_unpack(m->body, m->len, &total, &chunk, &clen) != 0 ||
	    g->data.len + clen > total || (clen == 0 && g->data.len < total)) {
		get_finish(g, MIST_EPROTO);
		return;
	}
	buf_append(&g->data, chunk, clen);
	if (g->data.len < total)
		get_send(g, MSG_JOB_READ);
	else
		get_finish(g, 0);
}

static void
get_wait_cb(mist_client *c, void *ctx, struct msg *m)
{
	(void)c;
	struct getop *g = ctx;
	if (m->status != 0) {
		get_finish(g, m->status);
		return;
	}
	int st;
	uint64_t size;
	const char *s;
	uint32_t l;
	if (jobmsg_wait_reply_unpack(m->body, m->len, &st, &size, &s, &l) != 0) {
		get_finish(g, MIST_EPROTO);
		return;
	}
	if (st != 0) {
		snprintf(g->j->errmsg, sizeof(g->j->errmsg), "%.*s",
			 (int)(l > 1100 ? 1100 : l), s);
		get_finish(g, st);
		return;
	}
	get_send(g, MSG_JOB_READ);
}

/* Asks the owner about g's value: MSG_JOB_WAIT (until it exists) or
 * MSG_JOB_READ (the next chunk, from what we have). */
static void
get_send(struct getop *g, uint32_t type)
{
	struct buf b = BUF_INIT;
	struct gref v = {g->r.task, g->r.out};
	if (type == MSG_JOB_READ)
		jobmsg_read_pack(&b, g->j->owner, g->j->id, v, g->data.len);
	else
		jobmsg_wait_pack(&b, g->j->owner, g->j->id, v);
	request(g->j->c, type, &b, g->deadline,
		type == MSG_JOB_READ ? get_read_cb : get_wait_cb, g);
	buf_destroy(&b);
}

int
mist_get_async(mist_job *j, mist_ref r, int timeout_ms, mist_get_cb cb,
	       void *arg)
{
	if (r.task == 0 || r.task > j->ntasks)
		return MIST_EINVAL;
	mist_flush(j);
	struct getop *g = xcalloc(1, sizeof(*g));
	g->j = j;
	g->r = r;
	g->deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3600000);
	g->cb = cb;
	g->arg = arg;
	get_send(g, MSG_JOB_WAIT);
	return 0;
}

struct getsync {
	bool done;
	int status;
	void *data;
	size_t len;
};

static void
getsync_cb(void *arg, int status, const void *data, size_t len)
{
	struct getsync *s = arg;
	s->done = true;
	s->status = status;
	if (status == 0) {
		s->data = xmalloc(len ? len : 1);
		if (len)
			memcpy(s->data, data, len);
		s->len = len;
	}
}

static void progress_tick(mist_job *j);

int
mist_get(mist_job *j, mist_ref r, int timeout_ms, void **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	struct getsync s = {0};
	int rc = mist_get_async(j, r, timeout_ms, getsync_cb, &s);
	if (rc != 0)
		return rc;
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3600000);
	while (!s.done) {
		uint64_t step = clock_mono_ms() + (j->progress_cb ? 50 : 1000);
		rc = pump(j->c, &s.done, step < deadline ? step : deadline);
		if (rc != 0 && rc != MIST_ETIMEDOUT)
			break;
		if (!s.done && clock_mono_ms() >= deadline) {
			rc = MIST_ETIMEDOUT;
			break;
		}
		progress_tick(j);
	}
	if (!s.done) {
		/* forget the operation: its reply must not reach our stack */
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&j->c->reqs, &it, &k, &v)) {
			struct pend *p = v;
			if ((p->fn == get_wait_cb || p->fn == get_read_cb) &&
			    ((struct getop *)p->ctx)->arg == &s) {
				struct getop *g = p->ctx;
				pend_forget(j->c, k);
				buf_destroy(&g->data);
				free(g);
				break;
			}
		}
		return rc ? rc : MIST_ETIMEDOUT;
	}
	*data = s.data;
	*len = s.len;
	return s.status ? s.status : (j->err ? j->err : 0);
}

int
mist_release(mist_job *j, const mist_ref *refs, uint32_t n)
{
	mist_flush(j);
	struct buf b = BUF_INIT;
	jobmsg_release_pack(&b, j->owner, j->id, NULL, n);
	for (uint32_t i = 0; i < n; i++)
		jobmsg_ref_pack(&b, (struct gref){refs[i].task, refs[i].out});
	request(j->c, MSG_JOB_RELEASE, &b, 0, NULL, NULL);
	buf_destroy(&b);
	mist_process(j->c);
	return j->c->err;
}

/* ------------------------------------------------------------ the job */

/* A count of the job's tasks, saturated at UINT32_MAX. */
static uint32_t
progress_count(uint64_t u)
{
	return u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
}

/* "%.*s" into @a out of @a size, cut to fit. */
static void
copy_text(char *out, size_t size, const char *s, uint32_t len)
{
	snprintf(out, size, "%.*s", (int)(len >= size ? size - 1 : len), s);
}

/* The operators' view of status @a v into @a j (mist_job_nodes): read
 * whole before it replaces the last one, so a malformed answer leaves
 * the last view as it was. */
static int
parse_view(mist_job *j, struct jobmsg_status_view *v)
{
	struct mist_node_progress rows[MIST_PROGRESS_MAX_NODES];
	_Static_assert(MIST_PROGRESS_MAX_NODES == JOBMSG_STATUS_MAX_NODES,
		       "the owner's cap is the public one");
	/* jobmsg_status_read bounds v->nnodes by JOBMSG_STATUS_MAX_NODES */
	for (uint32_t i = 0; i < v->nnodes; i++) {
		struct jobmsg_status_node_view nv;
		if (jobmsg_status_next_node(&v->nodes, &nv) != 0)
			return MIST_EPROTO;
		rows[i] = (struct mist_node_progress){
			.node = nv.node, .running = progress_count(nv.running),
			.done = progress_count(nv.done), .oldest_ms = nv.oldest_ms};
		copy_text(rows[i].name, sizeof(rows[i].name), nv.name,
			  nv.name_len);
		copy_text(rows[i].tier, sizeof(rows[i].tier), nv.tier,
			  nv.tier_len);
	}
	if (j->nodes == NULL)
		j->nodes = xcalloc(MIST_PROGRESS_MAX_NODES, sizeof(*j->nodes));
	memcpy(j->nodes, rows, v->nnodes * sizeof(*rows));
	j->nnodes = v->nnodes;
	j->unlisted = v->more_nodes;
	struct mist_recoveries *r = &j->rec;
	*r = (struct mist_recoveries){
		.nodes_lost = v->rec.nodes_lost, .failed_over = v->rec.failed_over,
		.recomputed = v->rec.recomputed,
		.owner_changes = v->rec.owner_changes, .last_ms = v->rec.last_ms};
	copy_text(r->last, sizeof(r->last), v->rec.last, v->rec.last_len);
	j->waits.ready_oldest_ms = v->ready_oldest_ms;
	copy_text(j->waits.ready_why, sizeof(j->waits.ready_why), v->ready_why,
		  v->ready_why_len);
	return 0;
}

/* A reply to MSG_JOB_STATUS (data/jobmsg.h): exactly one status map. */
static int
parse_progress(mist_job *j, const struct buf *body, struct mist_progress *p)
{
	struct jobmsg_status_view v;
	struct mp_cur c;
	memset(p, 0, sizeof(*p));
	mp_cur_init(&c, body->data, body->len);
	if (jobmsg_status_read(&c, &v) != 0 || mp_cur_left(&c) != 0 ||
	    parse_view(j, &v) != 0)
		return MIST_EPROTO;
	p->tasks = progress_count(v.tasks);
	p->waiting = progress_count(v.waiting);
	p->ready = progress_count(v.ready);
	p->running = progress_count(v.running);
	p->done = progress_count(v.done);
	p->failed = progress_count(v.failed);
	snprintf(p->state, sizeof(p->state), "%.*s",
		 (int)(v.state_len >= sizeof(p->state) ? sizeof(p->state) - 1
						       : v.state_len),
		 v.state);
	return 0;
}

/* A request naming only the job, [owner, job]; the reply's body goes to
 * @a body if given (the caller's to destroy). */
static int
simple(mist_job *j, uint32_t type, int timeout_ms, struct buf *body)
{
	mist_flush(j);
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, type, j->owner, j->id);
	struct sync s;
	int rc = call(j->c, type, &b, timeout_ms, &s);
	buf_destroy(&b);
	if (body)
		*body = s.body;
	else
		buf_destroy(&s.body);
	return rc;
}

int
mist_job_progress(mist_job *j, int timeout_ms, struct mist_progress *p)
{
	struct buf body = BUF_INIT;
	int rc = simple(j, MSG_JOB_STATUS, timeout_ms, &body);
	if (rc == 0)
		rc = parse_progress(j, &body, p);
	buf_destroy(&body);
	return rc;
}

int
mist_job_nodes(const mist_job *j, struct mist_node_progress *out, uint32_t cap,
	       uint32_t *n, uint32_t *unlisted)
{
	uint32_t k = j->nnodes < cap ? j->nnodes : cap;
	if (k > 0)
		memcpy(out, j->nodes, k * sizeof(*out));
	*n = j->nnodes;
	if (unlisted)
		*unlisted = j->unlisted;
	return j->nnodes > cap ? MIST_E2BIG : 0;
}

void
mist_job_recoveries(const mist_job *j, struct mist_recoveries *out)
{
	*out = j->rec;
}

void
mist_job_waits(const mist_job *j, struct mist_waits *out)
{
	*out = j->waits;
}

void
mist_job_on_progress(mist_job *j,
		     void (*cb)(void *arg, const struct mist_progress *),
		     void *arg, int interval_ms)
{
	j->progress_cb = cb;
	j->progress_arg = arg;
	j->progress_ms = interval_ms > 0 ? interval_ms : MIST_PROGRESS_MS;
	j->progress_next = 0;
}

static void
progress_tick(mist_job *j)
{
	if (j->progress_cb == NULL || clock_mono_ms() < j->progress_next)
		return;
	j->progress_next = clock_mono_ms() + (uint64_t)j->progress_ms;
	struct mist_progress p;
	if (mist_job_progress(j, 5000, &p) == 0)
		j->progress_cb(j->progress_arg, &p);
}

int
mist_job_wait(mist_job *j, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 3600000);
	for (;;) {
		struct mist_progress p;
		int rc = mist_job_progress(j, 5000, &p);
		if ((rc == MIST_ETIMEDOUT || rc == MIST_EUNREACHABLE ||
		     rc == MIST_ECLOSED) && j->c->err == 0 &&
		    clock_mono_ms() < deadline)
			continue; /* the owner is being replaced: ask again */
		if (rc != 0)
			return rc;
		if (j->progress_cb)
			j->progress_cb(j->progress_arg, &p);
		if (j->unacked == 0 && strcmp(p.state, "running") != 0)
			return j->err ? j->err
			       : strcmp(p.state, "done") == 0 ? 0
			       : strcmp(p.state, "cancelled") == 0 ? MIST_ECANCELED
			       : MIST_ETASK;
		if (clock_mono_ms() >= deadline)
			return MIST_ETIMEDOUT;
		bool never = false;
		pump(j->c, &never, clock_mono_ms() + 50);
	}
}


int
mist_job_cancel(mist_job *j, int timeout_ms)
{
	return simple(j, MSG_JOB_CANCEL, timeout_ms, NULL);
}

int
mist_job_close(mist_job *j, int timeout_ms)
{
	int rc = simple(j, MSG_JOB_CLOSE, timeout_ms, NULL);
	mist_job_detach(j);
	return rc;
}

void
mist_job_detach(mist_job *j)
{
	mist_client *c = j->c;
	mist_flush(j);
	for (mist_job **pp = &c->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	/* requests still in flight point at j: batches are dropped; pending
	 * mist_get_async() calls end now with MIST_ECANCELED, so their
	 * callers can free what they passed */
	size_t it = 0;
	uint64_t k;
	void *v;
	uint64_t doomed[256];
	int n;
	do {
		n = 0;
		it = 0;
		while (n < 256 && map_next(&c->reqs, &it, &k, &v)) {
			struct pend *p = v;
			bool get = p->fn == get_read_cb || p->fn == get_wait_cb;
			if (get ? ((struct getop *)p->ctx)->j == j : p->ctx == j)
				doomed[n++] = k;
		}
		for (int i = 0; i < n; i++) {
			struct pend *p = map_get(&c->reqs, doomed[i]);
			if (p->fn == get_read_cb || p->fn == get_wait_cb)
				get_finish(p->ctx, MIST_ECANCELED);
			pend_forget(c, doomed[i]);
		}
	} while (n == 256);
	buf_destroy(&j->batch);
	free(j->nodes);
	free(j);
}
