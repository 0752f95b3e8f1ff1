#include "config.h"
#include "client/conn.h"
#include "client/tcp.h"
#include "net/wire.h"
#include "mist.h"
#include "util/mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
conn_write_all(struct conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
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

static int
conn_read_all(struct conn *c, uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = read(c->fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return MIST_ECLOSED;
		if (errno != EAGAIN && errno != EINTR)
			return MIST_EIO;
		int rc = conn_wait(c->fd, POLLIN, deadline);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Reads one frame of at most @a max bytes into @a out. */
static int
conn_read_frame(struct conn *c, uint8_t *out, size_t max, size_t *n,
		int64_t deadline)
{
	uint8_t h[WIRE_FRAME_HDR];
	int rc = conn_read_all(c, h, sizeof(h), deadline);
	if (rc != 0)
		return rc;
	uint32_t len = buf_get_u32be(h);
	if (len > max)
		return MIST_E2BIG;
	*n = len;
	return conn_read_all(c, out, len, deadline);
}

static int
conn_write_frame(struct conn *c, const uint8_t *p, size_t n, int64_t deadline)
{
	uint8_t h[WIRE_FRAME_HDR];
	buf_put_u32be(h, (uint32_t)n);
	int rc = conn_write_all(c, h, sizeof(h), deadline);
	return rc ? rc : conn_write_all(c, p, n, deadline);
}

static int
conn_handshake(struct conn *c, const uint8_t psk[32], int64_t deadline)
{
	struct noise_hs hs;
	uint8_t msg[LINK_HS_MAX], payload[LINK_HS_MAX];
	size_t n, pl;
	struct link_hello me = {.name = "mist-cli", .tier = "", .addr = "",
				.role = LINK_ROLE_CLIENT};
	struct buf hello = BUF_INIT;
	int rc = noise_hs_init(&hs, LINK_PROTOCOL, true,
			       (const uint8_t *)LINK_PROLOGUE,
			       strlen(LINK_PROLOGUE), c->id.priv, NULL, psk);
	if (rc == 0)
		rc = noise_hs_write(&hs, NULL, 0, msg, sizeof(msg), &n);
	if (rc == 0)
		rc = conn_write_frame(c, msg, n, deadline);
	if (rc == 0)
		rc = conn_read_frame(c, msg, sizeof(msg), &n, deadline);
	if (rc == MIST_ECLOSED)
		rc = MIST_EAUTH;
	if (rc == 0)
		rc = noise_hs_read(&hs, msg, n, payload, sizeof(payload), &pl);
	if (rc == 0)
		rc = link_hello_decode(payload, pl, &c->hello);
	if (rc == 0) {
		link_hello_encode(&hello, &me);
		rc = noise_hs_write(&hs, hello.data, hello.len, msg, sizeof(msg),
				    &n);
	}
	if (rc == 0)
		rc = conn_write_frame(c, msg, n, deadline);
	if (rc == 0) {
		noise_hs_split(&hs, &c->tx, &c->rx);
		c->agent = identity_node_id(hs.rs);
		/* the agent confirms with an empty frame once it checked the PSK */
		rc = conn_read_frame(c, msg, sizeof(msg), &n, deadline);
		if (rc == MIST_ECLOSED)
			rc = MIST_EAUTH;
		if (rc == 0 && n != NOISE_TAGLEN)
			rc = MIST_EPROTO;
		if (rc == 0)
			rc = noise_cipher_decrypt(&c->rx, NULL, 0, msg, n, payload);
		if (rc == 0)
			c->rx_frames++;
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
	c->timeout_ms = timeout_ms;
	randombytes_buf(&c->next_corr, sizeof(c->next_corr));
	c->next_corr >>= 1;
	int64_t deadline = conn_now_ms() + timeout_ms;
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
	int64_t deadline = conn_now_ms() + c->timeout_ms;
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REQUEST;
	m->corr = ++c->next_corr;
	m->from.node = c->id.node;
	m->from.id = 1;
	m->to.node = c->agent;
	m->to.id = actor;
	m->deadline = (uint64_t)deadline;
	struct buf plain = BUF_INIT, frame = BUF_INIT;
	wire_envelope_encode(&plain, m, (uint64_t)conn_now_ms());
	struct conn_find f = {m->corr, NULL};
	msg_delete(m);
	buf_reserve(&frame, plain.len + NOISE_TAGLEN);
	int rc = noise_cipher_encrypt(&c->tx, NULL, 0, plain.data, plain.len,
				      frame.data);
	if (rc == 0)
		rc = conn_write_frame(c, frame.data, plain.len + NOISE_TAGLEN,
				      deadline);
	c->tx_frames++;
	buf_destroy(&plain);
	buf_destroy(&frame);
	if (c->scratch == NULL)
		c->scratch = xmalloc(c->max_frame + NOISE_TAGLEN);
	uint8_t *pt = xmalloc(c->max_frame);
	while (rc == 0 && f.reply == NULL) {
		size_t n;
		rc = conn_read_frame(c, c->scratch, c->max_frame + NOISE_TAGLEN,
				     &n, deadline);
		if (rc == 0 && n < NOISE_TAGLEN)
			rc = MIST_EPROTO;
		if (rc == 0)
			rc = noise_cipher_decrypt(&c->rx, NULL, 0, c->scratch, n,
						  pt);
		if (rc == 0 && ++c->rx_frames % (1u << 20) == 0)
			noise_cipher_rekey(&c->rx);
		if (rc == 0 && n == NOISE_TAGLEN)
			continue; /* empty frame */
		if (rc == 0)
			rc = wire_payload_decode(pt, n - NOISE_TAGLEN,
						 c->max_frame,
						 (uint64_t)conn_now_ms(),
						 conn_find_cb, &f);
	}
	free(pt);
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
	sodium_memzero(&c->tx, sizeof(c->tx));
	sodium_memzero(&c->rx, sizeof(c->rx));
	sodium_memzero(&c->id, sizeof(c->id));
}
