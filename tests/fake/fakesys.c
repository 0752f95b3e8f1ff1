#include "fakesys.h"
#include "mist.h"
#include "net/addr.h"
#include "net/wire.h"
#include "util/buf.h"

#include <msgpack.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake_pkt {
	struct fake_pkt *next;
	uint64_t due;
	uint64_t to; /* node id (links) */
	int from_idx;
	int to_idx; /* datagrams: destination index, -1 for links,
		       -2 for a link reset (to: the node told) */
	size_t len;
	uint8_t data[];
};

struct fake_ctx {
	struct fake_world *w;
	int idx;
};

static struct fake_ctx ctxs[FAKE_MAX_NODES];

static uint64_t
fake_now(void *ctx)
{
	return ((struct fake_ctx *)ctx)->w->now;
}

static int
fake_index(struct fake_world *w, uint64_t node)
{
	for (int i = 0; i < w->n; i++)
		if (w->nodes[i] != NULL && w->nodes[i]->node == node)
			return i;
	return -1;
}

static int
fake_ctx_index(void *ctx)
{
	return ((struct fake_ctx *)ctx)->idx;
}

static bool
fake_cut(struct fake_world *w, int a, int b)
{
	return a >= 0 && b >= 0 && w->block[(size_t)a * FAKE_MAX_NODES + b];
}

static void
fake_enqueue(struct fake_world *w, struct fake_pkt *p)
{
	struct fake_pkt **pp = &w->queue;
	while (*pp && (*pp)->due <= p->due)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
}

/* Queues @a m (ownership moves) from node @a from on the fake links, due
 * @a delay_ms from now, through the real envelope codec. */
static void
fake_link_send(struct fake_world *w, int from, struct msg *m, uint64_t delay_ms)
{
	int to = fake_index(w, m->to.node);
	struct buf b = BUF_INIT;
	wire_envelope_encode(&b, m, w->now);
	struct fake_pkt *p = malloc(sizeof(*p) + b.len);
	p->due = w->now + delay_ms;
	p->to = m->to.node;
	p->from_idx = from;
	p->to_idx = -1;
	p->len = b.len;
	memcpy(p->data, b.data, b.len);
	buf_destroy(&b);
	fake_enqueue(w, p);
	w->sent++;
	msg_delete(m);
	/* a message between two nodes means a link between them, and links
	 * stay up (net/link.c closes none while both ends live) */
	if (to >= 0) {
		w->linked[(size_t)from * FAKE_MAX_NODES + to] = 1;
		w->linked[(size_t)to * FAKE_MAX_NODES + from] = 1;
	}
}

static int
fake_remote_send(void *ctx, struct msg *m)
{
	struct fake_world *w = ((struct fake_ctx *)ctx)->w;
	int to = fake_index(w, m->to.node);
	if (to < 0 || w->down[to])
		return MIST_EUNREACHABLE;
	int from = fake_ctx_index(ctx);
	/* a link needs a shared key: the responder accepts any key of its
	 * keyring, the initiator offers its primary (as net/link.c does) */
	if (w->keys[from].n > 0 && w->keys[to].n > 0) {
		const uint8_t *k = keyring_primary(&w->keys[from]);
		bool shared = false;
		for (int i = 0; i < w->keys[to].n; i++)
			shared |= memcmp(w->keys[to].keys[i], k, 32) == 0;
		if (!shared)
			return MIST_EUNREACHABLE;
	}
	fake_link_send(w, from, m, w->latency_ms);
	return 0;
}

void
fake_inject(struct fake_world *w, int from, struct msg *m, uint64_t delay_ms)
{
	fake_link_send(w, from, m, delay_ms);
}

void
fake_world_init(struct fake_world *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->now = 1000000; /* not 0: code must not treat 0 as special time */
	w->latency_ms = 1;
	rng_init(&w->rng, seed);
	map_init(&w->by_addr, 1);
	w->block = calloc((size_t)FAKE_MAX_NODES * FAKE_MAX_NODES, 1);
	w->linked = calloc((size_t)FAKE_MAX_NODES * FAKE_MAX_NODES, 1);
}

static uint64_t
addr_key(const struct sockaddr_storage *a)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
	return (uint64_t)v4->sin_addr.s_addr << 16 | v4->sin_port;
}

void
fake_set_addr(struct fake_world *w, int idx, const char *text)
{
	char def[64];
	if (text == NULL) {
		snprintf(def, sizeof(def), "127.%d.%d.%d:7946", 1 + idx / 65536,
			 (idx / 256) % 256, idx % 256);
		text = def;
	}
	if (w->addr[idx].ss_family)
		map_del(&w->by_addr, addr_key(&w->addr[idx]));
	addr_parse(text, &w->addr[idx]);
	map_put(&w->by_addr, addr_key(&w->addr[idx]), (void *)(intptr_t)(idx + 1));
}

static void
fake_udp_send(void *ctx, const struct sockaddr_storage *to, const uint8_t *p,
	      size_t n)
{
	struct fake_world *w = ((struct fake_ctx *)ctx)->w;
	int from = fake_ctx_index(ctx);
	intptr_t to_idx = (intptr_t)map_get(&w->by_addr, addr_key(to)) - 1;
	w->udp_sent++;
	if (to_idx < 0 || w->down[from])
		return; /* nobody there, or a dead process's farewell */
	struct fake_pkt *pk = malloc(sizeof(*pk) + n + GOSSIP_SEAL_OVERHEAD);
	pk->due = w->now + w->latency_ms;
	pk->to = 0;
	pk->from_idx = from;
	pk->to_idx = (int)to_idx;
	pk->len = n + GOSSIP_SEAL_OVERHEAD;
	gossip_seal(&w->keys[from], p, n, pk->data);
	fake_enqueue(w, pk);
}

struct swim_transport
fake_udp_transport(struct fake_world *w, int idx)
{
	struct swim_transport t = {fake_udp_send, &ctxs[idx]};
	(void)w;
	return t;
}

void
fake_block(struct fake_world *w, int a, int b, bool cut)
{
	w->block[(size_t)a * FAKE_MAX_NODES + b] = cut;
}

void
fake_pause(struct fake_world *w, int idx, bool paused)
{
	w->paused[idx] = paused;
}

/* Node @a idx's links are gone; with @a reset, its peers are told. */
static void
fake_unlink(struct fake_world *w, int idx, bool reset)
{
	for (int j = 0; j < w->n; j++) {
		uint8_t *l = &w->linked[(size_t)j * FAKE_MAX_NODES + idx];
		if (!*l)
			continue;
		*l = 0;
		w->linked[(size_t)idx * FAKE_MAX_NODES + j] = 0;
		if (!reset || w->down[j])
			continue;
		struct fake_pkt *p = malloc(sizeof(*p) + 8);
		p->due = w->now + w->latency_ms;
		p->to = w->nodes[j]->node;
		p->from_idx = idx;
		p->to_idx = -2;
		p->len = 8;
		memcpy(p->data, &w->nodes[idx]->node, 8);
		fake_enqueue(w, p);
	}
}

void
fake_crash(struct fake_world *w, int idx)
{
	if (!w->down[idx])
		fake_unlink(w, idx, true);
	w->down[idx] = true;
}

void
fake_power_off(struct fake_world *w, int idx)
{
	fake_unlink(w, idx, false);
	w->down[idx] = true;
}

void
fake_link_lost(struct fake_world *w, int to, uint64_t node)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "node", 4);
	msgpack_pack_uint64(&pk, node);
	msgpack_pack_str_with_body(&pk, "lost", 4);
	msgpack_pack_true(&pk);
	struct msg *m = msg_new(MSG_LINK_DOWN, b.data, (uint32_t)b.len);
	buf_destroy(&b);
	m->flags = MSG_F_LOCAL;
	m->from.node = m->to.node = w->nodes[to]->node;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(w->nodes[to], m);
}

static void
fake_sys_free(struct actor_sys *sys)
{
	actor_sys_shutdown(sys);
	while (actor_sys_has_work(sys))
		actor_sys_run(sys, 1024);
	actor_sys_destroy(sys);
	free(sys);
}

struct actor_sys *
fake_restart(struct fake_world *w, int idx, uint64_t node)
{
	/* the old process is gone: no leave message, nothing in flight */
	struct actor_sys *old = w->nodes[idx];
	old->env.remote_send = NULL;
	fake_crash(w, idx); /* the old process's links reset */
	w->down[idx] = true; /* its farewell packets are lost */
	fake_sys_free(old);
	w->down[idx] = false;
	w->paused[idx] = false;
	struct actor_sys *sys = calloc(1, sizeof(*sys));
	struct actor_sys_env env = {.now = fake_now,
				    .remote_send = fake_remote_send,
				    .ctx = &ctxs[idx]};
	actor_sys_init(sys, node, &env, NULL, rng_next(&w->rng));
	w->nodes[idx] = sys;
	return sys;
}

struct actor_sys *
fake_world_add(struct fake_world *w, uint64_t node,
	       const struct actor_sys_config *cfg)
{
	struct actor_sys *sys = calloc(1, sizeof(*sys));
	struct fake_ctx *c = &ctxs[w->n];
	c->w = w;
	c->idx = w->n;
	struct actor_sys_env env = {.now = fake_now,
				    .remote_send = fake_remote_send,
				    .ctx = c};
	actor_sys_init(sys, node, &env, cfg, rng_next(&w->rng));
	w->nodes[w->n++] = sys;
	return sys;
}

static void
fake_udp_deliver(struct fake_world *w, struct fake_pkt *p)
{
	int to = p->to_idx;
	uint8_t pt[SWIM_MAX_PACKET + 64];
	size_t n;
	if (p->len - GOSSIP_SEAL_OVERHEAD > SWIM_MAX_PACKET ||
	    gossip_open(&w->keys[to], p->data, p->len, pt, &n) != 0) {
		w->udp_auth_failed++;
		return;
	}
	struct msg *m = msg_new(MSG_GOSSIP_PACKET, NULL,
				(uint32_t)(sizeof(struct sockaddr_storage) + n));
	memcpy(m->body, &w->addr[p->from_idx], sizeof(struct sockaddr_storage));
	memcpy(m->body + sizeof(struct sockaddr_storage), pt, n);
	m->flags = MSG_F_LOCAL;
	m->from.node = m->to.node = w->nodes[to]->node;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(w->nodes[to], m);
}

static bool
fake_deliver_due(struct fake_world *w)
{
	bool any = false;
	while (w->queue && w->queue->due <= w->now) {
		struct fake_pkt *p = w->queue;
		w->queue = p->next;
		if (p->to_idx == -2) {
			int to = fake_index(w, p->to);
			uint64_t node;
			memcpy(&node, p->data, 8);
			if (to >= 0 && !w->down[to])
				fake_link_lost(w, to, node);
			free(p);
			any = true;
			continue;
		}
		if (p->to_idx >= 0) {
			int to = p->to_idx;
			if (w->down[to] || w->nodes[to] == NULL ||
			    fake_cut(w, p->from_idx, to) ||
			    rng_below(&w->rng, 1000) < w->udp_drop_permille) {
				w->udp_dropped++;
				free(p);
			} else if (w->paused[to]) {
				/* waits in the socket buffer, in order */
				struct fake_pkt **pp = &w->held[to];
				while (*pp)
					pp = &(*pp)->next;
				p->next = NULL;
				*pp = p;
			} else {
				fake_udp_deliver(w, p);
				free(p);
				any = true;
			}
			continue;
		}
		int to = fake_index(w, p->to);
		bool drop = to < 0 || w->down[to] ||
			    fake_cut(w, p->from_idx, to) ||
			    rng_below(&w->rng, 1000) < w->drop_permille;
		if (drop) {
			w->dropped++;
		} else {
			struct msg *m;
			size_t used;
			int rc = wire_envelope_decode(p->data, p->len, 1 << 20,
						      w->now, &m, &used);
			if (rc == 0 && used == p->len) {
				if (w->tap)
					w->tap(w->tap_ctx, p->from_idx, to, m);
				if (w->drop &&
				    w->drop(w->tap_ctx, p->from_idx, to, m)) {
					msg_delete(m);
					w->dropped++;
				} else {
					actor_sys_deliver(w->nodes[to], m);
					w->delivered++;
				}
				any = true;
			} else if (rc == 0) {
				msg_delete(m);
			}
		}
		free(p);
	}
	return any;
}

static bool
fake_live(struct fake_world *w, int i)
{
	return w->nodes[i] != NULL && !w->down[i] && !w->paused[i];
}

static void
fake_run_all(struct fake_world *w)
{
	bool more = true;
	while (more) {
		more = false;
		for (int i = 0; i < w->n; i++) {
			if (!fake_live(w, i))
				continue;
			/* timers first, then the socket: libuv's order after
			 * a stall, which is what makes a slow node accuse */
			actor_sys_expire(w->nodes[i]);
			if (actor_sys_run(w->nodes[i], 1024) > 0)
				more = true;
			while (w->held[i] != NULL) {
				struct fake_pkt *p = w->held[i];
				w->held[i] = p->next;
				fake_udp_deliver(w, p);
				free(p);
				more = true;
			}
		}
		if (fake_deliver_due(w))
			more = true;
	}
}

bool
fake_world_run(struct fake_world *w, bool (*pred)(void *), void *ctx,
	       uint64_t timeout_ms)
{
	uint64_t end = w->now + timeout_ms;
	uint32_t every = w->check_every_ms;
	for (;;) {
		fake_run_all(w);
		if (pred && (every == 0 || w->now % every == 0) && pred(ctx))
			return true;
		uint64_t next = w->queue ? w->queue->due : UINT64_MAX;
		for (int i = 0; i < w->n; i++) {
			if (!fake_live(w, i))
				continue;
			uint64_t d = actor_sys_next_deadline(w->nodes[i]);
			if (d < next)
				next = d;
		}
		if (every && pred) {
			uint64_t c = (w->now / every + 1) * every;
			if (c < next)
				next = c;
		}
		if (next > end) {
			w->now = end;
			fake_run_all(w);
			return pred ? pred(ctx) : true;
		}
		if (next > w->now)
			w->now = next;
	}
}

void
fake_world_destroy(struct fake_world *w)
{
	for (int i = 0; i < w->n; i++)
		w->down[i] = true; /* farewells go nowhere */
	for (int i = 0; i < w->n; i++) {
		actor_sys_shutdown(w->nodes[i]);
		while (actor_sys_has_work(w->nodes[i]))
			actor_sys_run(w->nodes[i], 1024);
	}
	for (int i = 0; i < w->n; i++) {
		actor_sys_destroy(w->nodes[i]);
		free(w->nodes[i]);
		while (w->held[i]) {
			struct fake_pkt *p = w->held[i];
			w->held[i] = p->next;
			free(p);
		}
	}
	map_destroy(&w->by_addr);
	free(w->block);
	free(w->linked);
	while (w->queue) {
		struct fake_pkt *p = w->queue;
		w->queue = p->next;
		free(p);
	}
}
