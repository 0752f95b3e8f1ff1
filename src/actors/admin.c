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

struct admin {
	struct admin_self self;
	struct ping ping;
};

struct echo {
	uint64_t sunk;
};

/* ------------------------------------------------------------ helpers */

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

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
		pack_str(&pk, "count");
		msgpack_pack_uint32(&pk, done);
		pack_str(&pk, "errors");
		msgpack_pack_uint32(&pk, p->errors);
		pack_str(&pk, "elapsed_ns");
		msgpack_pack_uint64(&pk, elapsed);
		if (!p->flood) {
			qsort(p->rtt, p->done, sizeof(*p->rtt), cmp_u64);
			uint64_t sum = 0;
			for (uint32_t i = 0; i < p->done; i++)
				sum += p->rtt[i];
			uint32_t last = p->done ? p->done - 1 : 0;
			pack_str(&pk, "min_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[0] : 0);
			pack_str(&pk, "avg_ns");
			msgpack_pack_uint64(&pk, p->done ? sum / p->done : 0);
			pack_str(&pk, "p50_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[last / 2] : 0);
			pack_str(&pk, "p99_ns");
			msgpack_pack_uint64(&pk, p->done ? p->rtt[last * 99 / 100] : 0);
			pack_str(&pk, "max_ns");
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
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, req->body, req->len);
	int rc = mp_read_map(&c, &n);
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		const char *k;
		uint32_t kl;
		if ((rc = mp_read_str(&c, &k, &kl)) != 0)
			break;
		if (mp_str_eq(k, kl, "node"))
			rc = mp_read_uint(&c, &node);
		else if (mp_str_eq(k, kl, "count"))
			rc = mp_read_uint(&c, &count);
		else if (mp_str_eq(k, kl, "size"))
			rc = mp_read_uint(&c, &size);
		else if (mp_str_eq(k, kl, "flood"))
			rc = mp_read_bool(&c, &flood);
		else
			rc = mp_skip(&c);
	}
	if (rc != 0 || count == 0 || count > ADMIN_PING_MAX_COUNT ||
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
	case MSG_ECHO:
	case MSG_SINK_SYNC:
	case MSG_ERROR:
		if (m->flags & MSG_F_REPLY)
			ping_reply(self, ad, m);
		break;
	case MSG_STOP: {
		if (ad->ping.active)
			ping_finish(self, &ad->ping, MIST_ECLOSED);
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
admin_spawn(struct actor_sys *sys, const struct admin_self *self)
{
	struct admin *ad = xcalloc(1, sizeof(*ad));
	ad->self = *self;
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
