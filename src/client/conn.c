/*
 * conn.c -- the blocking client of a link (see conn.h): the initiator's
 * XXpsk3 handshake of net/link.h in sequence, then requests and replies
 * on the sealed stream (net/stream.h), each wait bounded by a deadline.
 */
#include "config.h"
#include "client/conn.h"
#include "client/tcp.h"
#include "net/wire.h"
#include "mist.h"
#include "util/clock.h"
#include "util/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
conn_write_all(struct conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		/* an agent gone is an error, not SIGPIPE */
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return MIST_EIO;
		int rc = conn_wait(c->fd, POLLOUT, deadline);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Reads what the socket has (at least one byte) into the stream. */
static int
conn_read_some(struct conn *c, int64_t deadline)
{
	for (;;) {
		size_t cap;
		uint8_t *p = stream_in_space(&c->st, NULL, &cap);
		ssize_t r = read(c->fd, p, cap);
		if (r > 0) {
			stream_in_commit(&c->st, (size_t)r);
			return 0;
		}
		if (r == 0)
			return MIST_ECLOSED;
		if (errno != EAGAIN && errno != EINTR)
			return MIST_EIO;
		int rc = conn_wait(c->fd, POLLIN, deadline);
		if (rc != 0)
			return rc;
	}
}

/* The next raw (handshake) frame, of at most LINK_HS_MAX bytes. */
static int
conn_read_raw(struct conn *c, const uint8_t **p, size_t *n, int64_t deadline)
{
	int rc;
	while ((rc = stream_in_frame(&c->st, LINK_HS_MAX, p, n)) == 0)
		if ((rc = conn_read_some(c, deadline)) != 0)
			return rc;
	return rc == 1 ? 0 : rc;
}

/* The next sealed frame, opened into c->scratch (*n bytes). */
static int
conn_read_sealed(struct conn *c, size_t *n, int64_t deadline)
{
	if (c->scratch == NULL)
		c->scratch = xmalloc(c->max_frame);
	int rc;
	while ((rc = stream_in_open(&c->st, c->scratch, n)) == 0)
		if ((rc = conn_read_some(c, deadline)) != 0)
			return rc;
	return rc == 1 ? 0 : rc;
}

/* Writes out what was framed into c->wbuf. */
static int
conn_flush(struct conn *c, int64_t deadline)
{
	int rc = conn_write_all(c, c->wbuf.data, c->wbuf.len, deadline);
	buf_reset(&c->wbuf);
	return rc;
}

static int
conn_handshake(struct conn *c, const uint8_t psk[32], int64_t deadline)
{
	struct noise_hs hs;
	uint8_t msg[LINK_HS_MAX], payload[LINK_HS_MAX];
	const uint8_t *in;
	size_t n, pl;
	struct link_hello me = {.name = "mist-cli", .tier = "", .addr = "",
				.role = LINK_ROLE_CLIENT};
	struct buf hello = BUF_INIT;
	int rc = noise_hs_init(&hs, LINK_PROTOCOL, true,
			       (const uint8_t *)LINK_PROLOGUE,
			       strlen(LINK_PROLOGUE), c->id.priv, NULL, psk);
	if (rc == 0)
		rc = noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n);
	if (rc == 0) {
		stream_put_raw(&c->wbuf, msg, n);
		rc = conn_flush(c, deadline);
	}
	if (rc == 0)
		rc = conn_read_raw(c, &in, &n, deadline);
	if (rc == MIST_ECLOSED)
		rc = MIST_EAUTH;
	if (rc == 0)
		rc = noise_hs_read(&hs, in, n, payload, sizeof(payload), &pl);
	if (rc == 0)
		rc = link_hello_decode(payload, pl, &c->hello);
	if (rc == 0) {
		link_hello_encode(&hello, &me);
		rc = noise_hs_write(&hs, hello.data, hello.len, msg, sizeof(msg),
				    &n);
	}
	if (rc == 0) {
		stream_put_raw(&c->wbuf, msg, n);
		rc = conn_flush(c, deadline);
	}
	if (rc == 0) {
		stream_split(&c->st, &hs);
		c->agent = identity_node_id(hs.rs);
		/* the agent confirms with an empty frame once it checked the PSK */
		rc = conn_read_sealed(c, &n, deadline);
		if (rc == MIST_ECLOSED)
			rc = MIST_EAUTH;
		if (rc == 0 && n != 0)
			rc = MIST_EPROTO;
	}
	buf_destroy(&hello);
	noise_hs_wipe(&hs);
	return rc;
}

int
conn_open(struct conn *c, const char *addr, const uint8_t psk[32],
	  int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	identity_ephemeral(&c->id);
	c->max_frame = WIRE_DEFAULT_MAX_FRAME;
	/* the agent's links use the stream's default rekey rule too */
	stream_init(&c->st, c->max_frame, STREAM_REKEY_FRAMES);
	c->timeout_ms = timeout_ms;
	randombytes_buf(&c->next_corr, sizeof(c->next_corr));
	c->next_corr >>= 1;
	int64_t deadline = (int64_t)clock_mono_ms() + timeout_ms;
	int rc = conn_tcp_connect(addr, timeout_ms, &c->fd);
	if (rc != 0)
		return rc;
	return conn_handshake(c, psk, deadline);
}

struct conn_find {
	uint64_t corr;
	struct msg *reply;
};

static int
conn_find_cb(void *ctx, struct msg *m)
{
	struct conn_find *f = ctx;
	if (f->reply == NULL && (m->flags & MSG_F_REPLY) && m->corr == f->corr)
		f->reply = m;
	else
		msg_delete(m);
	return 0;
}

int
conn_request(struct conn *c, uint32_t actor, uint32_t type, const void *body,
	     uint32_t len, struct msg **reply)
{
	int64_t deadline = (int64_t)clock_mono_ms() + c->timeout_ms;
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REQUEST;
	m->corr = ++c->next_corr;
	m->from.node = c->id.node;
	m->from.id = 1;
	m->to.node = c->agent;
	m->to.id = actor;
	m->deadline = (uint64_t)deadline;
	struct buf plain = BUF_INIT;
	wire_envelope_encode(&plain, m, clock_mono_ms());
	struct conn_find f = {m->corr, NULL};
	msg_delete(m);
	int rc = stream_seal(&c->st, plain.data, plain.len, &c->wbuf);
	buf_destroy(&plain);
	rc = rc < 0 ? rc : conn_flush(c, deadline);
	while (rc == 0 && f.reply == NULL) {
		size_t n;
		rc = conn_read_sealed(c, &n, deadline);
		if (rc == 0 && n > 0)
			rc = wire_payload_decode(c->scratch, n, c->max_frame,
						 clock_mono_ms(),
						 conn_find_cb, &f);
	}
	stream_in_keep(&c->st);
	if (rc != 0) {
		if (f.reply)
			msg_delete(f.reply);
		return rc;
	}
	*reply = f.reply;
	return 0;
}

void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->scratch);
	c->scratch = NULL;
	stream_destroy(&c->st);
	buf_destroy(&c->wbuf);
	sodium_memzero(&c->id, sizeof(c->id));
}
