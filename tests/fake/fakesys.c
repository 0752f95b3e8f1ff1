#include "fakesys.h"
#include "mist.h"
#include "net/wire.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

struct fake_pkt {
	struct fake_pkt *next;
	uint64_t due;
	uint64_t to;
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
		if (w->nodes[i]->node == node)
			return i;
	return -1;
}

static int
fake_remote_send(void *ctx, struct msg *m)
{
	struct fake_world *w = ((struct fake_ctx *)ctx)->w;
	int to = fake_index(w, m->to.node);
	if (to < 0 || w->down[to])
		return MIST_EUNREACHABLE;
	struct buf b = BUF_INIT;
	wire_envelope_encode(&b, m, w->now);
	struct fake_pkt *p = malloc(sizeof(*p) + b.len);
	p->due = w->now + w->latency_ms;
	p->to = m->to.node;
	p->len = b.len;
	memcpy(p->data, b.data, b.len);
	buf_destroy(&b);
	struct fake_pkt **pp = &w->queue;
	while (*pp && (*pp)->due <= p->due)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
	w->sent++;
	msg_delete(m);
	return 0;
}

void
fake_world_init(struct fake_world *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->now = 1000000; /* not 0: code must not treat 0 as special time */
	w->latency_ms = 1;
	rng_init(&w->rng, seed);
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

static bool
fake_deliver_due(struct fake_world *w)
{
	bool any = false;
	while (w->queue && w->queue->due <= w->now) {
		struct fake_pkt *p = w->queue;
		w->queue = p->next;
		int to = fake_index(w, p->to);
		bool drop = to < 0 || w->down[to] ||
			    rng_below(&w->rng, 1000) < w->drop_permille;
		if (drop) {
			w->dropped++;
		} else {
			struct msg *m;
			size_t used;
			int rc = wire_envelope_decode(p->data, p->len, 1 << 20,
						      w->now, &m, &used);
			if (rc == 0 && used == p->len) {
				actor_sys_deliver(w->nodes[to], m);
				w->delivered++;
				any = true;
			} else if (rc == 0) {
				msg_delete(m);
			}
		}
		free(p);
	}
	return any;
}

static void
fake_run_all(struct fake_world *w)
{
	bool more = true;
	while (more) {
		more = false;
		for (int i = 0; i < w->n; i++) {
			actor_sys_expire(w->nodes[i]);
			if (actor_sys_run(w->nodes[i], 1024) > 0)
				more = true;
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
	for (;;) {
		fake_run_all(w);
		if (pred && pred(ctx))
			return true;
		uint64_t next = UINT64_MAX;
		if (w->queue)
			next = w->queue->due;
		for (int i = 0; i < w->n; i++) {
			uint64_t d = actor_sys_next_deadline(w->nodes[i]);
			if (d < next)
				next = d;
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
	for (int i = 0; i < w->n; i++) {
		actor_sys_shutdown(w->nodes[i]);
		while (actor_sys_has_work(w->nodes[i]))
			actor_sys_run(w->nodes[i], 1024);
	}
	for (int i = 0; i < w->n; i++) {
		actor_sys_destroy(w->nodes[i]);
		free(w->nodes[i]);
	}
	while (w->queue) {
		struct fake_pkt *p = w->queue;
		w->queue = p->next;
		free(p);
	}
}
