/*
 * test_actor.c -- the actor runtime, in virtual time (tests/fake).
 *
 * Every test runs with the turn check on (actor.h): an actor acting outside
 * its turn aborts.  The two that drive a timer by hand from the test body
 * switch it off for that system, and say so.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actor.h"
#include "fakesys.h"
#include "mist.h"
#include "testutil.h"

#define T_WORK 100  /* request: reply with the same body */
#define T_HOLD 101  /* request: reply after 2000 ms */
#define T_ONEWAY 102
#define T_GO 103

struct rec {
	uint32_t type;
	uint16_t flags;
	int16_t status;
	uint64_t corr;
	uint64_t at;
	uint32_t len;
	uint8_t body[16];
	uint32_t seq;
};

struct probe {
	struct rec recs[256];
	int n;
	int stops;
	struct msg held; /* request being held */
	struct actor_timer t;
	uint64_t tick_count;
	/* producer */
	uint32_t to_send, sent;
	struct actor_ref peer;
	bool was_muted;
	/* consumer */
	uint32_t got, next_expected, max_queued, out_of_order;
};

static struct fake_world w;

static void
probe_fn(struct actor *self, struct msg *m)
{
	struct probe *p = self->state;
	if (m->type == T_ONEWAY) {
		uint32_t seq;
		memcpy(&seq, m->body + 1, 4);
		if (seq != p->next_expected)
			p->out_of_order++;
		p->next_expected = seq + 1;
		p->got++;
		if (self->queued > p->max_queued)
			p->max_queued = self->queued;
		return;
	}
	if (m->type == T_GO) {
		/* producer: 100 messages a turn, then continue */
		for (int i = 0; i < 100 && p->sent < p->to_send; i++) {
			uint8_t b[5] = {0xce}; /* msgpack uint32 */
			uint32_t seq = p->sent++;
			memcpy(b + 1, &seq, 4);
			actor_tell(self, p->peer, T_ONEWAY, b, 5);
			if (self->muted)
				p->was_muted = true;
		}
		if (p->sent < p->to_send)
			actor_tell(self, actor_ref_of(self), T_GO, NULL, 0);
		return;
	}
	if (p->n < 256) {
		struct rec *r = &p->recs[p->n++];
		r->type = m->type;
		r->flags = m->flags;
		r->status = m->status;
		r->corr = m->corr;
		r->at = actor_sys_now(self->sys);
		r->len = m->len < 16 ? m->len : 16;
		memcpy(r->body, m->body, r->len);
	}
	if (m->type == MSG_STOP) {
		p->stops++;
		actor_timer_stop(self, &p->t);
	} else if (m->type == T_WORK && (m->flags & MSG_F_REQUEST)) {
		actor_reply(self, m, T_WORK, m->body, m->len);
	} else if (m->type == T_HOLD && (m->flags & MSG_F_REQUEST)) {
		p->held = *m;
		actor_timer_start(self, &p->t, 2000, 0, 7);
	} else if (m->type == MSG_TIMER && m->corr == 7 && p->held.corr) {
		actor_reply(self, &p->held, T_HOLD, NULL, 0);
	} else if (m->type == MSG_TIMER && m->corr == 9) {
		p->tick_count++;
	}
}

static struct probe pa, pb, pc;

static void
setup(void)
{
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
	memset(&pc, 0, sizeof(pc));
	/* read by actor_sys_init: every system of this test checks turns */
	setenv("MIST_CHECK_TURNS", "1", 1);
	fake_world_init(&w, tu_seed());
}

static void
teardown(void)
{
	fake_world_destroy(&w);
}

static bool
has_recs(void *ctx)
{
	return ((struct probe *)ctx)->n > 0;
}

static struct rec *
last(struct probe *p)
{
	cr_assert_gt(p->n, 0, "no message recorded");
	return &p->recs[p->n - 1];
}

TestSuite(actor, .init = setup, .fini = teardown);

Test(actor, local_request_gets_its_reply)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	uint64_t corr;
	actor_request(a, actor_ref_of(b), T_WORK, "\xa3" "abc", 4, 1000, &corr);
	cr_assert(fake_world_run(&w, has_recs, &pa, 5000));
	struct rec *r = last(&pa);
	cr_assert_eq(r->flags, MSG_F_REPLY);
	cr_assert_eq(r->corr, corr);
	cr_assert_eq(r->status, 0);
	cr_assert_eq(r->len, 4);
	cr_assert_eq(memcmp(r->body, "\xa3" "abc", 4), 0);
	/* and nothing else: no timeout later */
	fake_world_run(&w, NULL, NULL, 5000);
	cr_assert_eq(pa.n, 1, "exactly one answer per request");
}

Test(actor, timeout_arrives_exactly_at_the_deadline)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	uint64_t t0 = w.now, corr;
	actor_request(a, actor_ref_of(b), T_HOLD, NULL, 0, 1000, &corr);
	cr_assert_not(fake_world_run(&w, has_recs, &pa, 999),
		      "no answer before the deadline");
	cr_assert(fake_world_run(&w, has_recs, &pa, 1));
	struct rec *r = last(&pa);
	cr_assert_eq(r->at, t0 + 1000);
	cr_assert_eq(r->status, MIST_ETIMEDOUT);
	cr_assert_eq(r->corr, corr);
	/* the held request is answered at 2000 ms: too late, dropped */
	fake_world_run(&w, NULL, NULL, 5000);
	cr_assert_eq(pa.n, 1, "the late reply must not reach the actor");
	cr_assert_eq(s->stats.late_replies, 1);
}

Test(actor, remote_request_crosses_the_fake_network)
{
	struct actor_sys *s1 = fake_world_add(&w, 0x1111, NULL);
	struct actor_sys *s2 = fake_world_add(&w, 0x2222, NULL);
	w.latency_ms = 5;
	struct actor *a = actor_spawn(s1, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s2, 0, "b", probe_fn, &pb);
	uint64_t t0 = w.now, corr;
	actor_request(a, actor_ref_of(b), T_WORK, "\x92\x01\x02", 3, 1000, &corr);
	cr_assert(fake_world_run(&w, has_recs, &pa, 1000));
	struct rec *r = last(&pa);
	cr_assert_eq(r->at, t0 + 10, "one round trip of 2 x 5 ms ");
	cr_assert_eq(r->corr, corr);
	cr_assert_eq(r->len, 3);
	cr_assert_eq(memcmp(r->body, "\x92\x01\x02", 3), 0);
	cr_assert_eq(pb.recs[0].flags, MSG_F_REQUEST);
	cr_assert_eq(w.delivered, 2);
}

Test(actor, a_closed_link_fails_the_requests_to_its_node_at_once)
{
	struct actor_sys *s1 = fake_world_add(&w, 0x1111, NULL);
	struct actor_sys *s2 = fake_world_add(&w, 0x2222, NULL);
	struct actor_sys *s3 = fake_world_add(&w, 0x3333, NULL);
	w.latency_ms = 5;
	struct actor *a = actor_spawn(s1, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s2, 0, "b", probe_fn, &pb);
	struct actor *c = actor_spawn(s3, 0, "c", probe_fn, &pc);
	uint64_t c1, c2, c3;
	/* two held by node 2 (answered at 2 s), one held by node 3 */
	actor_request(a, actor_ref_of(b), T_HOLD, NULL, 0, 10000, &c1);
	actor_request(a, actor_ref_of(b), T_HOLD, NULL, 0, 10000, &c2);
	actor_request(a, actor_ref_of(c), T_HOLD, NULL, 0, 10000, &c3);
	fake_world_run(&w, NULL, NULL, 100);
	cr_assert_eq(pa.n, 0);
	uint64_t t0 = w.now;
	/* the transport's link to node 2 closed */
	cr_assert_eq(actor_sys_fail_node(s1, 0x2222, MIST_EUNREACHABLE), 2);
	cr_assert(fake_world_run(&w, has_recs, &pa, 10));
	fake_world_run(&w, NULL, NULL, 1);
	cr_assert_eq(pa.n, 2, "both requests to node 2 end now");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pa.recs[i].status, MIST_EUNREACHABLE);
		cr_assert_eq(pa.recs[i].at, t0);
		cr_assert(pa.recs[i].corr == c1 || pa.recs[i].corr == c2);
	}
	/* node 2's late answers are dropped; node 3's arrives as usual */
	fake_world_run(&w, NULL, NULL, 5000);
	cr_assert_eq(pa.n, 3, "exactly one answer per request");
	cr_assert_eq(pa.recs[2].corr, c3);
	cr_assert_eq(pa.recs[2].status, 0);
	/* (the probe holds one request at a time: b answers the last) */
	cr_assert_eq(s1->stats.late_replies, 1);
	cr_assert_eq(actor_sys_fail_node(s1, 0x2222, MIST_EUNREACHABLE), 0);
	cr_assert_eq(actor_sys_fail_node(s1, 0x1111, MIST_EUNREACHABLE), 0,
		     "a node's requests to itself never cross a link");
}

Test(actor, unreachable_node_and_missing_actor_answer_at_once)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor_ref nowhere = {99, 5}, noactor = {1, 4242};
	actor_request(a, nowhere, T_WORK, NULL, 0, 1000, NULL);
	actor_request(a, noactor, T_WORK, NULL, 0, 1000, NULL);
	uint64_t t0 = w.now;
	fake_world_run(&w, NULL, NULL, 5000);
	cr_assert_eq(pa.n, 2);
	cr_assert_eq(pa.recs[0].status, MIST_EUNREACHABLE);
	cr_assert_eq(pa.recs[0].at, t0);
	cr_assert_eq(pa.recs[1].status, MIST_ENOACTOR);
}

Test(actor, timers_fire_on_time_and_stop)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	/* stops the timer from the test body, outside the actor's turn */
	s->check_turns = false;
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	actor_timer_start(a, &pa.t, 100, 100, 9);
	fake_world_run(&w, NULL, NULL, 1050);
	cr_assert_eq(pa.tick_count, 10);
	actor_timer_stop(a, &pa.t);
	fake_world_run(&w, NULL, NULL, 1000);
	cr_assert_eq(pa.tick_count, 10);
}

static uint32_t order_log[4096];
static int order_n;

static void
order_fn(struct actor *self, struct msg *m)
{
	(void)m;
	if (order_n < 4096)
		order_log[order_n++] = self->id;
}

Test(actor, a_busy_actor_yields_after_one_batch)
{
	struct actor_sys_config cfg;
	actor_sys_config_default(&cfg);
	struct actor_sys *s = fake_world_add(&w, 1, &cfg);
	struct actor *x = actor_spawn(s, 0, "x", order_fn, NULL);
	struct actor *y = actor_spawn(s, 0, "y", order_fn, NULL);
	order_n = 0;
	for (int i = 0; i < 1000; i++) {
		struct msg *m = msg_new(T_ONEWAY, NULL, 0);
		m->to = actor_ref_of(x);
		m->from = m->to;
		actor_sys_deliver(s, m);
	}
	struct msg *m = msg_new(T_ONEWAY, NULL, 0);
	m->to = actor_ref_of(y);
	m->from = m->to;
	actor_sys_deliver(s, m);
	actor_sys_run(s, 1000);
	int pos = -1;
	for (int i = 0; i < order_n; i++)
		if (order_log[i] == y->id)
			pos = i;
	cr_assert_eq(order_n, 1001);
	cr_assert_eq(pos, (int)cfg.batch, "y runs right after x's first batch");
}

static bool
consumer_done(void *ctx)
{
	struct probe *p = ctx;
	return p->got == 20000;
}

Test(actor, a_fast_producer_is_muted_and_nothing_is_lost)
{
	struct actor_sys_config cfg;
	actor_sys_config_default(&cfg);
	cfg.mailbox_high = 512;
	cfg.mailbox_low = 128;
	cfg.batch = 8; /* the consumer is slower than the producer */
	struct actor_sys *s = fake_world_add(&w, 1, &cfg);
	struct actor *prod = actor_spawn(s, 0, "prod", probe_fn, &pa);
	struct actor *cons = actor_spawn(s, 0, "cons", probe_fn, &pb);
	pa.to_send = 20000;
	pa.peer = actor_ref_of(cons);
	actor_tell(prod, actor_ref_of(prod), T_GO, NULL, 0);
	cr_assert(fake_world_run(&w, consumer_done, &pb, 1000));
	cr_assert(pa.was_muted, "the producer must have been muted");
	cr_assert_eq(pb.out_of_order, 0);
	cr_assert_leq(pb.max_queued, cfg.mailbox_high + 100,
		      "muting bounds the mailbox (%u)", pb.max_queued);
	cr_assert_eq(s->stats.refused, 0);
	cr_assert_not(prod->muted, "unmuted once drained");
}

Test(actor, overdue_requests_are_not_handled)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	struct msg *m = msg_new(T_WORK, NULL, 0);
	m->flags = MSG_F_REQUEST;
	m->corr = 5;
	m->from = (struct actor_ref){1, 4000};
	m->to = actor_ref_of(b);
	m->deadline = w.now - 1;
	actor_sys_deliver(s, m);
	fake_world_run(&w, NULL, NULL, 10);
	cr_assert_eq(pb.n, 0);
	cr_assert_eq(s->stats.expired, 1);
}

Test(actor, shutdown_delivers_stop_last_and_refuses_new_mail)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	actor_tell(a, actor_ref_of(b), T_WORK, NULL, 0);
	actor_sys_shutdown(s);
	struct msg *m = msg_new(T_WORK, NULL, 0);
	m->to = actor_ref_of(b);
	cr_assert_eq(actor_sys_deliver(s, m), MIST_ECLOSED);
	while (actor_sys_has_work(s))
		actor_sys_run(s, 100);
	cr_assert_eq(pa.stops, 1);
	cr_assert_eq(pb.stops, 1);
	cr_assert_eq(pb.n, 2);
	cr_assert_eq(pb.recs[0].type, T_WORK);
	cr_assert_eq(pb.recs[1].type, MSG_STOP, "STOP is the last message");
}

Test(actor, lossy_network_still_answers_every_request_once)
{
	struct actor_sys *s1 = fake_world_add(&w, 0x1, NULL);
	struct actor_sys *s2 = fake_world_add(&w, 0x2, NULL);
	w.drop_permille = 300;
	struct actor *a = actor_spawn(s1, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s2, 0, "b", probe_fn, &pb);
	for (int i = 0; i < 200; i++)
		actor_request(a, actor_ref_of(b), T_WORK, NULL, 0, 500, NULL);
	fake_world_run(&w, NULL, NULL, 10000);
	cr_assert_eq(pa.n, 200, "one answer per request, reply or timeout");
	int ok = 0, timeouts = 0;
	for (int i = 0; i < pa.n; i++) {
		if (pa.recs[i].status == 0)
			ok++;
		else if (pa.recs[i].status == MIST_ETIMEDOUT)
			timeouts++;
	}
	cr_assert_eq(ok + timeouts, 200);
	cr_assert_gt(timeouts, 0, "30%% loss must lose some");
	cr_assert_gt(ok, 0);
}

static int ticks;
static struct actor_timer ticker;

static void
ticker_fn(struct actor *self, struct msg *m)
{
	(void)self;
	if (m->type == MSG_TIMER)
		ticks++;
	else if (m->type == MSG_STOP)
		actor_timer_stop(self, &ticker);
}

/* Drives one system by hand: fire what is due, without running actors. */
static void
advance(struct actor_sys *s, uint64_t ms)
{
	w.now += ms;
	actor_sys_expire(s);
}

Test(actor, a_tick_that_fired_before_a_restart_or_a_stop_is_never_delivered)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	/* drives the timer by hand from the test body, between turns */
	s->check_turns = false;
	struct actor *a = actor_spawn(s, 0, "ticker", ticker_fn, NULL);
	ticks = 0;
	memset(&ticker, 0, sizeof(ticker));
	actor_timer_start(a, &ticker, 10, 0, 1);
	advance(s, 10);			       /* fired: the tick waits */
	actor_timer_start(a, &ticker, 10, 0, 1); /* restarted first */
	actor_sys_run(s, 100);
	cr_assert_eq(ticks, 0, "the tick from before the restart is dropped");
	advance(s, 10);
	actor_sys_run(s, 100);
	cr_assert_eq(ticks, 1, "the restarted timer ticks");
	actor_timer_start(a, &ticker, 10, 0, 1);
	advance(s, 10);
	actor_timer_stop(a, &ticker);
	actor_sys_run(s, 100);
	cr_assert_eq(ticks, 1, "a stopped timer's waiting tick is dropped");
	/* a repeating timer queues one tick at most while the last waits */
	actor_timer_start(a, &ticker, 10, 10, 1);
	for (int i = 0; i < 5; i++)
		advance(s, 10);
	actor_sys_run(s, 100);
	cr_assert_eq(ticks, 2);
	advance(s, 10);
	actor_sys_run(s, 100);
	cr_assert_eq(ticks, 3, "and ticks again once it was taken");
}

/* ---------------------------------------------------------- turn check */

#define T_KICK 104  /* to "kicker": start a timer and ask "b" for T_WORK */
#define T_ACT_AS 105 /* to "rogue": send as another actor (its state) */
#define T_SPAWN 106 /* to "parent": spawn a child and set it up */

struct kicker {
	struct actor_ref peer;
	struct actor_timer t;
	int replies, ticks;
	bool current_ok; /* sys->current was the handler's actor each time */
	struct actor *child;
};

static void
kicker_fn(struct actor *self, struct msg *m)
{
	struct kicker *k = self->state;
	if (self->sys->current != self)
		k->current_ok = false;
	switch (m->type) {
	case T_KICK:
		actor_timer_start(self, &k->t, 10, 0, 1);
		actor_request(self, k->peer, T_WORK, "\xa1x", 2, 1000, NULL);
		break;
	case T_ACT_AS:
		/* acting as another actor in our own turn */
		actor_tell(m->ptr, k->peer, T_ONEWAY, NULL, 0);
		break;
	case T_SPAWN:
		/* a child spawned in our turn is set up by us: allowed */
		k->child = actor_spawn(self->sys, 0, "child", kicker_fn,
				       self->state);
		actor_timer_start(k->child, &k->t, 10, 0, 2);
		break;
	case MSG_TIMER:
		k->ticks++;
		break;
	case MSG_STOP:
		actor_timer_stop(self, &k->t);
		break;
	default:
		if (m->flags & MSG_F_REPLY)
			k->replies++;
	}
}

/* What an I/O callback does: deliver a message, never act. */
static void
deliver(struct actor_sys *s, struct actor *to, uint32_t type, void *ptr)
{
	struct msg *m = msg_new(type, NULL, 0);
	m->flags = MSG_F_LOCAL;
	m->ptr = ptr;
	m->from = m->to = actor_ref_of(to);
	cr_assert_geq(actor_sys_deliver(s, m), 0);
}

static struct kicker kk;

Test(actor, checked_turns_let_delivery_requests_timers_and_stop_through)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	cr_assert(s->check_turns, "MIST_CHECK_TURNS=1 switches it on");
	struct actor *k = actor_spawn(s, 0, "kicker", kicker_fn, &kk);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	kk = (struct kicker){.peer = actor_ref_of(b), .current_ok = true};
	/* construction: the spawner sets its actors up before any run */
	actor_tell(k, actor_ref_of(b), T_ONEWAY, "\xce\0\0\0\0", 5);
	fake_world_run(&w, NULL, NULL, 10);
	cr_assert_null(s->current, "no actor runs between turns");
	/* from outside, by delivery only: the actor acts in its turn */
	deliver(s, k, T_KICK, NULL);
	fake_world_run(&w, NULL, NULL, 100);
	cr_assert_eq(kk.replies, 1);
	cr_assert_eq(kk.ticks, 1);
	cr_assert_eq(pb.got, 1);
	/* a child spawned and set up in its parent's turn */
	deliver(s, k, T_SPAWN, NULL);
	fake_world_run(&w, NULL, NULL, 100);
	cr_assert_not_null(kk.child);
	cr_assert_eq(kk.ticks, 2, "the child's timer, started by its parent");
	cr_assert(kk.current_ok, "sys->current is the actor in its turn");
	actor_sys_shutdown(s);
	while (actor_sys_has_work(s))
		actor_sys_run(s, 100);
	cr_assert_null(s->current);
}

Test(actor, telling_from_outside_a_turn_aborts, .signal = SIGABRT)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	fake_world_run(&w, NULL, NULL, 10); /* construction is over */
	/* what a loop callback acting for an actor would do */
	actor_tell(a, actor_ref_of(b), T_ONEWAY, NULL, 0);
	cr_assert_fail("actor_tell outside a turn must abort");
}

Test(actor, a_timer_started_from_outside_a_turn_aborts, .signal = SIGABRT)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	actor_sys_run(s, 1); /* construction is over, even with no mail */
	actor_timer_start(a, &pa.t, 10, 0, 1);
	cr_assert_fail("actor_timer_start outside a turn must abort");
}

Test(actor, replying_from_outside_a_turn_aborts, .signal = SIGABRT)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	actor_request(a, actor_ref_of(b), T_HOLD, NULL, 0, 5000, NULL);
	fake_world_run(&w, NULL, NULL, 10); /* b holds the request */
	cr_assert_eq(pb.n, 1);
	actor_reply(b, &pb.held, T_HOLD, NULL, 0);
	cr_assert_fail("actor_reply outside a turn must abort");
}

Test(actor, acting_as_another_actor_in_a_turn_aborts, .signal = SIGABRT)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *k = actor_spawn(s, 0, "rogue", kicker_fn, &kk);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	kk = (struct kicker){.peer = actor_ref_of(b)};
	fake_world_run(&w, NULL, NULL, 10);
	deliver(s, k, T_ACT_AS, b); /* rogue's turn sends as b */
	fake_world_run(&w, NULL, NULL, 10);
	cr_assert_fail("acting as another actor must abort");
}

Test(actor, a_child_is_no_longer_under_construction_after_the_run,
     .signal = SIGABRT)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *k = actor_spawn(s, 0, "parent", kicker_fn, &kk);
	kk = (struct kicker){.current_ok = true};
	deliver(s, k, T_SPAWN, NULL);
	fake_world_run(&w, NULL, NULL, 100);
	cr_assert_not_null(kk.child);
	actor_timer_stop(kk.child, &kk.t);
	cr_assert_fail("the child acting outside its turn must abort");
}

Test(actor, the_check_is_switched_by_the_system)
{
	struct actor_sys *s = fake_world_add(&w, 1, NULL);
	struct actor *a = actor_spawn(s, 0, "a", probe_fn, &pa);
	struct actor *b = actor_spawn(s, 0, "b", probe_fn, &pb);
	fake_world_run(&w, NULL, NULL, 10);
	s->check_turns = false;
	actor_tell(a, actor_ref_of(b), T_WORK, NULL, 0); /* not checked */
	fake_world_run(&w, NULL, NULL, 10);
	cr_assert_eq(pb.n, 1);
	setenv("MIST_CHECK_TURNS", "0", 1);
	struct actor_sys *s2 = fake_world_add(&w, 2, NULL);
	cr_assert_not(s2->check_turns, "MIST_CHECK_TURNS=0 switches it off");
	unsetenv("MIST_CHECK_TURNS");
	struct actor_sys *s3 = fake_world_add(&w, 3, NULL);
	cr_assert_eq(s3->check_turns, ACTOR_CHECK_TURNS_DEFAULT);
}

/* A local message that owns its pointer frees it when it is deleted
 * undelivered -- a refused delivery, a stopped actor's mail, a system
 * destroyed with mail queued -- and a handler that took the pointer (set
 * ptr to NULL) is not second-guessed. */
static int freed;

static void
count_free(void *p)
{
	freed++;
	free(p);
}

Test(actor, a_message_frees_the_pointer_it_owns_unless_taken)
{
	freed = 0;
	struct msg *m = msg_new(MSG_SINK, NULL, 0);
	m->flags = MSG_F_LOCAL;
	m->ptr = malloc(16);
	m->ptr_free = count_free;
	msg_delete(m);
	cr_assert_eq(freed, 1, "dropped undelivered: freed with the message");

	void *taken = malloc(16);
	m = msg_new(MSG_SINK, NULL, 0);
	m->flags = MSG_F_LOCAL;
	m->ptr = taken;
	m->ptr_free = count_free;
	m->ptr = NULL; /* a handler took it */
	msg_delete(m);
	cr_assert_eq(freed, 1, "taken: the message does not free it");
	free(taken);

	/* queued when its system goes: freed exactly once, handled or not */
	struct actor_sys *sys = fake_world_add(&w, 77, NULL);
	cr_assert_not_null(actor_spawn(sys, 100, "idle", probe_fn, &pa));
	m = msg_new(MSG_SINK, NULL, 0);
	m->flags = MSG_F_LOCAL;
	m->from = m->to = (struct actor_ref){77, 100};
	m->ptr = malloc(16);
	m->ptr_free = count_free;
	cr_assert_eq(actor_sys_deliver(sys, m), 0);
	fake_world_destroy(&w);
	fake_world_init(&w, tu_seed());
	cr_assert_eq(freed, 2);
}
