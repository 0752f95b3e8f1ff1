/*
 * actor.c -- the actor runtime.  The model is described in actor.h; this
 * file is organised as: configuration, mailboxes and the run queue,
 * delivery, sending, requests, timers, the run loop, shutdown.
 */
#include "config.h"
#include "actors/actor.h"
#include "mist.h"
#include "util/container.h"
#include "util/log.h"
#include "util/mem.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TIMER_USER, TIMER_REQUEST };

struct actor_pending {
	struct actor_timer t; /* tag = corr, actor = requester */
	uint64_t node;	      /* where the request went (for fail_node) */
};

/* ------------------------------------------------------- configuration */

void
actor_sys_config_default(struct actor_sys_config *cfg)
{
	/*
	 * 64 messages per turn: long enough to amortise the scheduling cost
	 * (a turn costs about as much as a few message handlers), short
	 * enough that a flooded actor yields to others within tens of
	 * microseconds.  Pony uses 100 for the same reason.
	 */
	cfg->batch = 64;
	/*
	 * 4096 queued messages before senders are muted: one link frame
	 * (up to 1 MiB) of small messages fits without tripping it, and 4096
	 * x ~200 bytes keeps a congested mailbox under a megabyte.  Unmuting
	 * at a quarter gives hysteresis so senders do not flap.
	 */
	cfg->mailbox_high = 4096;
	cfg->mailbox_low = 1024;
	/*
	 * The hard cap only catches a sender that ignores muting (an actor
	 * that sends thousands of messages in one handler): 16 x high.
	 */
	cfg->mailbox_max = 65536;
}

/* ---------------------------------------------- mailboxes and run queue */

static void
sys_schedule(struct actor_sys *sys, struct actor *a)
{
	a->scheduled = true;
	a->next_run = NULL;
	if (sys->run_tail != NULL) {
		sys->run_tail->next_run = a;
		sys->run_tail = a;
		return;
	}
	sys->run_head = sys->run_tail = a;
	if (sys->env.wake)
		sys->env.wake(sys->env.ctx);
}

static void
mailbox_push(struct actor *a, struct msg *m)
{
	m->next = NULL;
	if (a->tail != NULL)
		a->tail->next = m;
	else
		a->head = m;
	a->tail = m;
	a->queued++;
	if (!a->scheduled && !a->muted)
		sys_schedule(a->sys, a);
}

static struct msg *
mailbox_pop(struct actor *a)
{
	struct msg *m = a->head;
	a->head = m->next;
	if (a->head == NULL)
		a->tail = NULL;
	a->queued--;
	return m;
}

uint64_t
actor_sys_now(const struct actor_sys *sys)
{
	return sys->env.now(sys->env.ctx);
}

uint64_t
actor_sys_hrtime(const struct actor_sys *sys)
{
	if (sys->env.hrtime != NULL)
		return sys->env.hrtime(sys->env.ctx);
	return actor_sys_now(sys) * 1000000;
}

struct actor_ref
actor_ref_of(const struct actor *a)
{
	struct actor_ref r = {a->sys->node, a->id};
	return r;
}

struct actor *
actor_sys_find(struct actor_sys *sys, uint32_t id)
{
	return map_get(&sys->actors, id);
}

void
actor_sys_init(struct actor_sys *sys, uint64_t node,
	       const struct actor_sys_env *env,
	       const struct actor_sys_config *cfg, uint64_t seed)
{
	memset(sys, 0, sizeof(*sys));
	sys->node = node;
	sys->env = *env;
	if (cfg != NULL)
		sys->cfg = *cfg;
	else
		actor_sys_config_default(&sys->cfg);
	rng_init(&sys->rng, seed);
	map_init(&sys->actors, rng_next(&sys->rng));
	map_init(&sys->pending, rng_next(&sys->rng));
	heap_init(&sys->timers);
	sys->next_id = ACTOR_FIRST_DYNAMIC;
	/*
	 * Correlation ids start at a random point so that a restarted node
	 * does not match replies meant for its previous life.
	 */
	sys->next_corr = rng_next(&sys->rng) >> 1;
	const char *check = getenv("MIST_CHECK_TURNS");
	sys->check_turns = check != NULL && (check[0] == '0' || check[0] == '1')
				   ? check[0] == '1'
				   : ACTOR_CHECK_TURNS_DEFAULT;
}

struct actor *
actor_spawn(struct actor_sys *sys, uint32_t id, const char *name, actor_fn fn,
	    void *state)
{
	if (id == 0) {
		while (map_get(&sys->actors, sys->next_id) != NULL)
			sys->next_id++;
		id = sys->next_id++;
	} else if (map_get(&sys->actors, id) != NULL) {
		return NULL;
	}
	struct actor *a = xcalloc(1, sizeof(*a));
	a->id = id;
	a->born = sys->runs;
	a->name = name;
	a->sys = sys;
	a->fn = fn;
	a->state = state;
	map_put(&sys->actors, id, a);
	return a;
}

/* ------------------------------------------------------------ delivery */

static int sys_send(struct actor_sys *sys, struct actor *self, struct msg *m);

/* Answers a request that could not be delivered, from its addressee. */
static void
sys_error_reply(struct actor_sys *sys, const struct msg *req, int status)
{
	struct msg *r = msg_new(MSG_ERROR, NULL, 0);
	r->flags = MSG_F_REPLY;
	r->status = (int16_t)status;
	r->corr = req->corr;
	r->from = req->to;
	r->to = req->from;
	sys_send(sys, NULL, r);
}

/*
 * Queues @a m for the local actor it is addressed to.  0, 1 (queued, target
 * over its high-water mark) or an error (@a m freed).
 */
static int
sys_local_deliver(struct actor_sys *sys, struct msg *m)
{
	struct actor *a = map_get(&sys->actors, m->to.id);
	if (a == NULL || a->stopped) {
		sys->stats.no_actor++;
		if (m->flags & MSG_F_REQUEST)
			sys_error_reply(sys, m, a ? MIST_ECLOSED : MIST_ENOACTOR);
		msg_delete(m);
		return a ? MIST_ECLOSED : MIST_ENOACTOR;
	}
	if (m->flags & MSG_F_REPLY) {
		/* Exactly one answer per request: the first one wins. */
		struct actor_pending *p = map_get(&sys->pending, m->corr);
		if (p == NULL || p->t.actor != a->id) {
			sys->stats.late_replies++;
			msg_delete(m);
			return 0;
		}
		map_del(&sys->pending, m->corr);
		if (heap_node_is_linked(&p->t.hn))
			heap_remove(&sys->timers, &p->t.hn);
		free(p);
		/* replies bypass the hard cap: they answer our own requests */
	} else if (a->queued >= sys->cfg.mailbox_max) {
		sys->stats.refused++;
		if (m->flags & MSG_F_REQUEST)
			sys_error_reply(sys, m, MIST_EOVERLOAD);
		msg_delete(m);
		return MIST_EOVERLOAD;
	}
	mailbox_push(a, m);
	if (a->queued >= sys->cfg.mailbox_high) {
		a->overloaded = true;
		return 1;
	}
	return 0;
}

struct msg *
actor_local_msg(const struct actor_sys *sys, uint32_t to, uint32_t type,
		const void *body, uint32_t len)
{
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_LOCAL;
	m->from = m->to = (struct actor_ref){sys->node, to};
	return m;
}

int
actor_sys_deliver(struct actor_sys *sys, struct msg *m)
{
	if (sys->stopping) {
		msg_delete(m);
		return MIST_ECLOSED;
	}
	if (m->to.node != sys->node) {
		msg_delete(m);
		return MIST_EPROTO;
	}
	return sys_local_deliver(sys, m);
}

/* ------------------------------------------------------------- sending */

static void
actor_mute(struct actor *self, struct actor *target)
{
	/*
	 * An overloaded actor is never muted: if it were, its own mailbox
	 * would stop draining and two actors sending to each other could
	 * mute each other for ever (Pony makes the same exception).
	 */
	if (self == NULL || self == target || self->overloaded || self->muted)
		return;
	if (target->nmuters == target->capmuters) {
		target->capmuters = target->capmuters ? 2 * target->capmuters : 4;
		target->muters = xrealloc(target->muters, target->capmuters *
						sizeof(*target->muters));
	}
	target->muters[target->nmuters++] = self->id;
	self->muted = true;
}

static int
sys_send(struct actor_sys *sys, struct actor *self, struct msg *m)
{
	if (m->to.node != sys->node) {
		int rc = MIST_EUNREACHABLE;
		if (!(m->flags & MSG_F_LOCAL) && sys->env.remote_send != NULL)
			rc = sys->env.remote_send(sys->env.ctx, m);
		if (rc == 0)
			return 0;
		if (m->flags & MSG_F_REQUEST) {
			/* answer as if from the unreachable actor */
			sys_error_reply(sys, m, rc);
		}
		msg_delete(m);
		return rc;
	}
	int rc = sys_local_deliver(sys, m);
	if (rc == 1) {
		actor_mute(self, map_get(&sys->actors, m->to.id));
		rc = 0;
	}
	return rc;
}

/* actor_send() without the turn check: for the callers that made it. */
static int
actor_send_from(struct actor *self, struct actor_ref to, struct msg *m)
{
	m->from = actor_ref_of(self);
	m->to = to;
	return sys_send(self->sys, self, m);
}

int
actor_send(struct actor *self, struct actor_ref to, struct msg *m)
{
	actor_turn_assert(self, "actor_send");
	return actor_send_from(self, to, m);
}

int
actor_tell(struct actor *self, struct actor_ref to, uint32_t type,
	   const void *body, uint32_t len)
{
	actor_turn_assert(self, "actor_tell");
	return actor_send_from(self, to, msg_new(type, body, len));
}

int
actor_reply(struct actor *self, const struct msg *req, uint32_t type,
	    const void *body, uint32_t len)
{
	actor_turn_assert(self, "actor_reply");
	if (!(req->flags & MSG_F_REQUEST))
		return MIST_EINVAL;
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REPLY;
	m->corr = req->corr;
	return actor_send_from(self, req->from, m);
}

int
actor_reply_error(struct actor *self, const struct msg *req, int status)
{
	actor_turn_assert(self, "actor_reply_error");
	if (!(req->flags & MSG_F_REQUEST))
		return MIST_EINVAL;
	struct msg *m = msg_new(MSG_ERROR, NULL, 0);
	m->flags = MSG_F_REPLY;
	m->status = (int16_t)status;
	m->corr = req->corr;
	return actor_send_from(self, req->from, m);
}

/* ---------------------------------------------------------- turn check */

void
actor_turn_fail(const struct actor *self, const char *fn)
{
	const struct actor_sys *sys = self->sys;
	if (self->born == sys->runs)
		return; /* under construction: its spawner sets it up */
	char running[96];
	const char *hint;
	if (sys->current != NULL) {
		snprintf(running, sizeof(running), "actor '%s' (%u) is running",
			 sys->current->name, sys->current->id);
		hint = "send it a message instead";
	} else {
		snprintf(running, sizeof(running), "no actor is running");
		hint = "an I/O callback must deliver a message to it instead "
		       "(actor_sys_deliver, net/loop.h)";
	}
	/* stderr, not the log: the log may be filtered, this must be seen */
	fprintf(stderr, "mist: %s: actor '%s' (%u) acts outside its turn (%s); "
			"%s\n",
		fn, self->name, self->id, running, hint);
	abort();
}

/* ------------------------------------------------------------ requests */

static void
sys_timer_push(struct actor_sys *sys, struct actor_timer *t, uint64_t due)
{
	t->hn.due = due;
	heap_push(&sys->timers, &t->hn);
	if (heap_top(&sys->timers) == &t->hn && sys->env.wake)
		sys->env.wake(sys->env.ctx);
}

void
actor_request(struct actor *self, struct actor_ref to, uint32_t type,
	      const void *body, uint32_t len, uint32_t timeout_ms,
	      uint64_t *corr_out)
{
	actor_turn_assert(self, "actor_request");
	struct actor_sys *sys = self->sys;
	uint64_t corr = ++sys->next_corr;
	struct actor_pending *p = xcalloc(1, sizeof(*p));
	p->t.actor = self->id;
	p->t.tag = corr;
	p->t.kind = TIMER_REQUEST;
	p->node = to.node;
	map_put(&sys->pending, corr, p);
	uint64_t now = actor_sys_now(sys);
	sys_timer_push(sys, &p->t, now + timeout_ms);
	if (corr_out != NULL)
		*corr_out = corr;
	struct msg *m = msg_new(type, body, len);
	m->flags = MSG_F_REQUEST;
	m->corr = corr;
	m->deadline = now + timeout_ms;
	actor_send_from(self, to, m); /* a failure queues the error reply */
}

/* Ends pending request @a p now with @a status (as its timeout would). */
static void
pending_fail(struct actor_sys *sys, struct actor_pending *p, int status)
{
	struct actor *a = map_get(&sys->actors, p->t.actor);
	map_del(&sys->pending, p->t.tag);
	if (heap_node_is_linked(&p->t.hn))
		heap_remove(&sys->timers, &p->t.hn);
	if (a != NULL && !a->stopped) {
		struct msg *m = msg_new(MSG_ERROR, NULL, 0);
		m->flags = MSG_F_REPLY;
		m->status = (int16_t)status;
		m->corr = p->t.tag;
		m->from = m->to = actor_ref_of(a);
		mailbox_push(a, m);
	}
	free(p);
}

size_t
actor_sys_fail_node(struct actor_sys *sys, uint64_t node, int status)
{
	if (node == sys->node || sys->pending.len == 0)
		return 0;
	/* collected first: failing one changes the table being walked */
	size_t n = 0, cap = 0, it = 0;
	struct actor_pending **hit = NULL;
	uint64_t k;
	void *v;
	while (map_next(&sys->pending, &it, &k, &v)) {
		struct actor_pending *p = v;
		if (p->node != node)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			hit = xrealloc(hit, cap * sizeof(*hit));
		}
		hit[n++] = p;
	}
	for (size_t i = 0; i < n; i++)
		pending_fail(sys, hit[i], status);
	free(hit);
	if (n > 0 && sys->env.wake)
		sys->env.wake(sys->env.ctx);
	return n;
}

/* -------------------------------------------------------------- timers */

static void
timer_unlink(struct actor_sys *sys, struct actor_timer *t)
{
	if (heap_node_is_linked(&t->hn))
		heap_remove(&sys->timers, &t->hn);
	if (t->queued != NULL) {
		t->queued->ptr = NULL; /* stale: dropped at delivery */
		t->queued = NULL;
	}
}

void
actor_timer_start(struct actor *self, struct actor_timer *t, uint64_t ms,
		  uint64_t repeat, uint64_t tag)
{
	actor_turn_assert(self, "actor_timer_start");
	timer_unlink(self->sys, t);
	t->actor = self->id;
	t->tag = tag;
	t->repeat = repeat;
	t->kind = TIMER_USER;
	sys_timer_push(self->sys, t, actor_sys_now(self->sys) + ms);
}

void
actor_timer_stop(struct actor *self, struct actor_timer *t)
{
	actor_turn_assert(self, "actor_timer_stop");
	timer_unlink(self->sys, t);
}

int
actor_sys_expire(struct actor_sys *sys)
{
	uint64_t now = actor_sys_now(sys);
	int fired = 0;
	struct heap_node *top;
	while ((top = heap_top(&sys->timers)) != NULL && top->due <= now) {
		heap_remove(&sys->timers, top);
		struct actor_timer *t = container_of(top, struct actor_timer, hn);
		struct actor *a = map_get(&sys->actors, t->actor);
		fired++;
		if (t->kind == TIMER_REQUEST) {
			struct actor_pending *p =
				container_of(t, struct actor_pending, t);
			map_del(&sys->pending, t->tag);
			if (a != NULL && !a->stopped) {
				struct msg *m = msg_new(MSG_ERROR, NULL, 0);
				m->flags = MSG_F_REPLY;
				m->status = MIST_ETIMEDOUT;
				m->corr = t->tag;
				m->from = m->to = actor_ref_of(a);
				mailbox_push(a, m);
			}
			free(p);
			continue;
		}
		if (a == NULL || a->stopped)
			continue;
		if (t->repeat)
			sys_timer_push(sys, t, now + t->repeat);
		if (t->queued != NULL)
			continue; /* its last tick still waits */
		struct msg *m = msg_new(MSG_TIMER, NULL, 0);
		m->flags = MSG_F_LOCAL;
		m->corr = t->tag;
		m->ptr = t;
		m->from = m->to = actor_ref_of(a);
		t->queued = m;
		mailbox_push(a, m);
	}
	return fired;
}

uint64_t
actor_sys_next_deadline(const struct actor_sys *sys)
{
	struct heap_node *top = heap_top(&sys->timers);
	return top ? top->due : UINT64_MAX;
}

/* ------------------------------------------------------------ run loop */

static void
actor_unmute_all(struct actor_sys *sys, struct actor *a)
{
	a->overloaded = false;
	for (uint32_t i = 0; i < a->nmuters; i++) {
		struct actor *s = map_get(&sys->actors, a->muters[i]);
		if (s == NULL || !s->muted)
			continue;
		s->muted = false;
		if (s->head != NULL && !s->scheduled)
			sys_schedule(sys, s);
	}
	a->nmuters = 0;
	if (sys->env.drained)
		sys->env.drained(sys->env.ctx);
}

/* A MSG_TIMER leaves the mailbox: false if its timer was stopped or
 * restarted since it fired (the tick is stale). */
static bool
timer_tick_take(struct msg *m)
{
	struct actor_timer *t = m->ptr;
	if (t == NULL)
		return false;
	t->queued = NULL;
	return true;
}

static void
actor_drop_mail(struct actor_sys *sys, struct actor *a)
{
	while (a->head != NULL) {
		struct msg *m = mailbox_pop(a);
		if (m->type == MSG_TIMER)
			timer_tick_take(m); /* the timer must not point here */
		if (m->flags & MSG_F_REQUEST)
			sys_error_reply(sys, m, MIST_ECLOSED);
		msg_delete(m);
	}
}

uint32_t
actor_sys_run(struct actor_sys *sys, uint32_t max_turns)
{
	uint32_t handled = 0;
	sys->runs++; /* ends the construction of actors spawned before */
	for (uint32_t turn = 0; turn < max_turns && sys->run_head; turn++) {
		struct actor *a = sys->run_head;
		sys->run_head = a->next_run;
		if (sys->run_head == NULL)
			sys->run_tail = NULL;
		a->scheduled = false;
		uint64_t now = actor_sys_now(sys);
		for (uint32_t i = 0; i < sys->cfg.batch && a->head && !a->muted;
		     i++) {
			struct msg *m = mailbox_pop(a);
			if (m->type == MSG_TIMER && !timer_tick_take(m)) {
				msg_delete(m); /* stopped or restarted since */
				continue;
			}
			if ((m->flags & MSG_F_REQUEST) && m->deadline &&
			    now > m->deadline) {
				/* the requester has timed out already */
				sys->stats.expired++;
				msg_delete(m);
				continue;
			}
			struct actor *outer = sys->current; /* NULL: not nested */
			sys->current = a;
			a->fn(a, m);
			sys->current = outer;
			handled++;
			if (m->type == MSG_STOP) {
				a->stopped = true;
				msg_delete(m);
				actor_drop_mail(sys, a);
				break;
			}
			msg_delete(m);
			if (a->overloaded && a->queued <= sys->cfg.mailbox_low)
				actor_unmute_all(sys, a);
		}
		if (a->overloaded && a->queued <= sys->cfg.mailbox_low)
			actor_unmute_all(sys, a);
		if (a->head != NULL && !a->muted && !a->scheduled)
			sys_schedule(sys, a);
	}
	sys->stats.delivered += handled;
	sys->runs++; /* and of those spawned during this run */
	return handled;
}

bool
actor_sys_has_work(const struct actor_sys *sys)
{
	return sys->run_head != NULL;
}

/* ------------------------------------------------------------ shutdown */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
actor_sys_shutdown(struct actor_sys *sys)
{
	if (sys->stopping)
		return;
	sys->stopping = true;
	/* in id order, so a run is reproducible */
	uint32_t *ids = xmalloc(sys->actors.len * sizeof(*ids) + 1);
	size_t n = 0, it = 0;
	uint64_t key;
	void *val;
	while (map_next(&sys->actors, &it, &key, &val))
		ids[n++] = (uint32_t)key;
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		struct actor *a = map_get(&sys->actors, ids[i]);
		if (a->stopped)
			continue;
		struct msg *m = msg_new(MSG_STOP, NULL, 0);
		m->flags = MSG_F_LOCAL;
		m->from = m->to = actor_ref_of(a);
		a->muted = false; /* the last message must be handled */
		mailbox_push(a, m);
	}
	free(ids);
}

void
actor_sys_destroy(struct actor_sys *sys)
{
	size_t it = 0;
	uint64_t key;
	void *val;
	while (map_next(&sys->pending, &it, &key, &val)) {
		struct actor_pending *p = val;
		if (heap_node_is_linked(&p->t.hn))
			heap_remove(&sys->timers, &p->t.hn);
		free(p);
	}
	it = 0;
	while (map_next(&sys->actors, &it, &key, &val)) {
		struct actor *a = val;
		while (a->head != NULL)
			msg_delete(mailbox_pop(a));
		free(a->muters);
		free(a);
	}
	heap_destroy(&sys->timers);
	map_destroy(&sys->pending);
	map_destroy(&sys->actors);
}
