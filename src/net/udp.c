#include "config.h"
#include "net/udp.h"
#include "mist.h"
#include "net/addr.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define UDP_MAX_DATAGRAM (SWIM_MAX_PACKET + GOSSIP_SEAL_OVERHEAD)

struct udp_send {
	uv_udp_send_t req;
	uint8_t data[];
};

static void
udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	/* one byte more than the largest valid datagram: detects oversize */
	b->base = xmalloc(UDP_MAX_DATAGRAM + 1);
	b->len = UDP_MAX_DATAGRAM + 1;
}

static void
udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *b,
	    const struct sockaddr *from, unsigned flags)
{
	struct udp_transport *u = h->data;
	if (nread <= 0 || from == NULL)
		goto out;
	if ((size_t)nread > UDP_MAX_DATAGRAM || (flags & UV_UDP_PARTIAL)) {
		u->stats.oversized++;
		goto out;
	}
	struct sockaddr_storage src;
	memset(&src, 0, sizeof(src));
	memcpy(&src, from, from->sa_family == AF_INET
				   ? sizeof(struct sockaddr_in)
				   : sizeof(struct sockaddr_in6));
	struct msg *m = msg_new(MSG_GOSSIP_PACKET, NULL,
				(uint32_t)(sizeof(src) + (size_t)nread));
	size_t n;
	if (gossip_open(u->keys, (const uint8_t *)b->base, (size_t)nread,
			m->body + sizeof(src), &n) != 0) {
		u->stats.auth_failed++;
		msg_delete(m);
		goto out;
	}
	memcpy(m->body, &src, sizeof(src));
	m->len = (uint32_t)(sizeof(src) + n);
	m->flags = MSG_F_LOCAL;
	m->from.node = m->to.node = u->sys->node;
	m->to.id = ACTOR_SWIM;
	u->stats.in++;
	actor_sys_deliver(u->sys, m);
out:
	free(b->base);
}

static void
udp_send_cb(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req->data); /* the struct udp_send */
}

static void
udp_send(void *ctx, const struct sockaddr_storage *to, const uint8_t *p,
	 size_t n)
{
	struct udp_transport *u = ctx;
	uint8_t sealed[UDP_MAX_DATAGRAM];
	if (n > SWIM_MAX_PACKET)
		return;
	gossip_seal(u->keys, p, n, sealed);
	size_t len = n + GOSSIP_SEAL_OVERHEAD;
	uv_buf_t b = uv_buf_init((char *)sealed, (unsigned)len);
	const struct sockaddr *sa = (const struct sockaddr *)to;
	int rc = uv_udp_try_send(&u->udp, &b, 1, sa);
	if (rc == (int)len) {
		u->stats.out++;
		return;
	}
	if (rc != UV_EAGAIN) {
		u->stats.send_failed++;
		return;
	}
	/* the socket buffer is full: queue a copy */
	struct udp_send *s = xmalloc(sizeof(*s) + len);
	memcpy(s->data, sealed, len);
	s->req.data = s;
	b = uv_buf_init((char *)s->data, (unsigned)len);
	if (uv_udp_send(&s->req, &u->udp, &b, 1, sa, udp_send_cb) != 0) {
		u->stats.send_failed++;
		free(s);
		return;
	}
	u->stats.out++;
}

int
udp_open(struct udp_transport *u, uv_loop_t *loop, struct actor_sys *sys,
	 const struct keyring *keys, const char *addr)
{
	struct sockaddr_storage sa;
	memset(&u->stats, 0, sizeof(u->stats));
	u->sys = sys;
	u->keys = keys;
	if (addr_parse(addr, &sa) != 0)
		return MIST_EINVAL;
	uv_udp_init(loop, &u->udp);
	u->udp.data = u;
	int rc = uv_udp_bind(&u->udp, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&u->udp, udp_alloc_cb, udp_recv_cb);
	if (rc != 0) {
		log_error("cannot bind UDP %s: %s", addr, uv_strerror(rc));
		return MIST_EIO;
	}
	return 0;
}

struct swim_transport
udp_swim_transport(struct udp_transport *u)
{
	struct swim_transport t = {udp_send, u};
	return t;
}

void
udp_close(struct udp_transport *u, uv_close_cb cb)
{
	uv_close((uv_handle_t *)&u->udp, cb);
}
