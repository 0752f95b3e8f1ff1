/*
 * test_swim.c -- SWIM + Lifeguard in virtual time: whole clusters in one
 * process, the real protocol code over a fake datagram network (sealed
 * with the real keyring) and fake links (the real envelope codec).  Every
 * run prints its seed; MIST_SEED=N replays it exactly.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fakesys.h"
#include "mist.h"
#include "net/addr.h"
#include "net/mp.h"
#include "net/swim.h"
#include "testutil.h"
#include "util/buf.h"

static struct fake_world w;
static struct swim *sw[FAKE_MAX_NODES];
static int N;
static struct swim_config cfg;
static uint8_t key[32];

static uint64_t
id_of(int i)
{
	return 0x10000 + (uint64_t)i;
}

static void
node_start(int i, uint64_t id, uint64_t inc)
{
	struct actor_sys *sys;
	if (i < w.n) {
		sys = fake_restart(&w, i, id);
	} else {
		sys = fake_world_add(&w, id, NULL);
		fake_set_addr(&w, i, NULL);
		keyring_init(&w.keys[i], key);
	}
	struct swim_self self = {0};
	snprintf(self.name, sizeof(self.name), "n%d", i);
	self.addr = w.addr[i];
	self.meta[0] = 0x81; /* {"tier": "fog"} */
	memcpy(self.meta + 1, "\xa4tier\xa3" "fog", 9);
	self.meta_len = 10;
	struct swim_config c = cfg;
	c.incarnation = inc;
	struct swim_transport tr = fake_udp_transport(&w, i);
	sw[i] = swim_spawn(sys, &c, &tr, &self);
	cr_assert_not_null(sw[i]);
}

static void
join(int i, uint64_t seed_id)
{
	uint8_t b[9] = {0xcf};
	for (int k = 0; k < 8; k++)
		b[1 + k] = (uint8_t)(seed_id >> (56 - 8 * k));
	struct msg *m = msg_new(MSG_SWIM_JOIN, b, sizeof(b));
	m->from.node = m->to.node = w.nodes[i]->node;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(w.nodes[i], m);
}

static void
cluster(int n)
{
	N = n;
	for (int i = 0; i < n; i++)
		node_start(i, id_of(i), 1ull << 32);
	for (int i = 1; i < n; i++)
		join(i, id_of(0)); /* everyone through one seed */
}

static bool
live(int i)
{
	return !w.down[i];
}

static int expect_alive;
static bool
all_alive(void *ctx)
{
	(void)ctx;
	for (int i = 0; i < N; i++)
		if (live(i) && swim_member_count(sw[i], SWIM_ALIVE) !=
				       (size_t)expect_alive)
			return false;
	return true;
}

static int target;

/* Live members other than the target, and how many see it in state @a st
 * (@a or_worse: that state or a later one in alive < suspect < dead). */
static void
target_views(enum swim_status st, bool or_worse, int *others, int *seeing)
{
	*others = *seeing = 0;
	for (int i = 0; i < N; i++) {
		enum swim_status v;
		if (i == target || !live(i))
			continue;
		(*others)++;
		if (swim_member_status(sw[i], id_of(target), &v, NULL) == 0 &&
		    (or_worse ? v >= st : v == st))
			(*seeing)++;
	}
}

static bool
all_see_target_dead(void *ctx)
{
	int others, seeing;
	(void)ctx;
	target_views(SWIM_DEAD, false, &others, &seeing);
	return seeing == others;
}

static bool
all_see_target_left(void *ctx)
{
	int others, seeing;
	(void)ctx;
	target_views(SWIM_LEFT, false, &others, &seeing);
	return seeing == others;
}

static bool
anyone_suspects_target(void *ctx)
{
	int others, seeing;
	(void)ctx;
	target_views(SWIM_SUSPECT, true, &others, &seeing);
	return seeing > 0;
}

static bool
anyone_sees_target_dead(void *ctx)
{
	int others, seeing;
	(void)ctx;
	target_views(SWIM_DEAD, false, &others, &seeing);
	return seeing > 0;
}

static uint64_t
total_deaths(void)
{
	uint64_t d = 0;
	for (int i = 0; i < N; i++)
		if (live(i))
			d += swim_stats(sw[i])->deaths_declared;
	return d;
}

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	fake_world_init(&w, tu_seed());
	swim_config_default(&cfg);
	cfg.dead_reap_ms = 3600000;
	randombytes_buf(key, sizeof(key));
	memset(sw, 0, sizeof(sw));
	w.check_every_ms = 100;
}

static void
teardown(void)
{
	fake_world_destroy(&w);
}

TestSuite(swim, .init = setup, .fini = teardown, .timeout = 300);

static void
converge(int n, uint64_t bound_ms)
{
	cluster(n);
	expect_alive = n;
	uint64_t t0 = w.now;
	cr_assert(fake_world_run(&w, all_alive, NULL, bound_ms),
		  "%d nodes did not converge in %llu ms", n,
		  (unsigned long long)bound_ms);
	cr_log_info("%d nodes converged in %llu ms of virtual time", n,
		    (unsigned long long)(w.now - t0));
}

Test(swim, two_nodes_converge)
{
	converge(2, 1000);
}

Test(swim, sixteen_nodes_converge_through_one_seed)
{
	converge(16, 10000);
}

Test(swim, two_hundred_nodes_converge_through_one_seed)
{
	converge(200, 30000);
}

Test(swim, a_thousand_nodes_converge_through_one_seed)
{
	w.check_every_ms = 1000;
	converge(1000, 120000);
}

/*
 * Node `target` is killed (@a reset: its links reset) or loses power; the
 * times, from then, until someone suspects it, someone declares it dead
 * and everyone has.
 */
static void
time_failure(bool reset, uint64_t *suspected, uint64_t *first, uint64_t *all)
{
	uint64_t t0 = w.now;
	if (reset)
		fake_crash(&w, target);
	else
		fake_power_off(&w, target);
	cr_assert(fake_world_run(&w, anyone_suspects_target, NULL, 120000));
	*suspected = w.now - t0;
	cr_assert(fake_world_run(&w, anyone_sees_target_dead, NULL, 120000));
	*first = w.now - t0;
	cr_assert(fake_world_run(&w, all_see_target_dead, NULL, 120000));
	*all = w.now - t0;
	cr_log_info("suspected after %llu ms, first dead mark after %llu ms, "
		    "everywhere after %llu ms", (unsigned long long)*suspected,
		    (unsigned long long)*first, (unsigned long long)*all);
}

/* A machine that vanishes (power, cable): no link resets, so detection
 * rests on probing alone -- SWIM's bounds, as in the papers. */
Test(swim, a_node_that_loses_power_is_declared_dead_within_the_bounds)
{
	converge(32, 10000);
	target = 7;
	uint64_t min, max, suspected, first, all;
	/* the suspicion bounds for 32 members */
	min = (uint64_t)(cfg.suspicion_mult * log10(32.0) * cfg.probe_interval_ms);
	max = min * cfg.suspicion_max_mult;
	time_failure(false, &suspected, &first, &all);
	/* nobody may declare it dead before a whole minimum suspicion (the
	 * predicates are sampled every 100 ms) */
	cr_assert_geq(first + 100, suspected + min,
		      "declared dead %llu ms after the suspicion < %llu",
		      (unsigned long long)(first - suspected),
		      (unsigned long long)min);
	/* round-robin probing reaches it within 2(n-1) periods, then at most
	 * the maximum suspicion, then dissemination (a few gossip rounds) */
	uint64_t bound = 2 * 31 * cfg.probe_interval_ms + cfg.probe_interval_ms +
			 max + 10 * cfg.gossip_interval_ms;
	cr_assert_leq(all, bound, "%llu > %llu", (unsigned long long)all,
		      (unsigned long long)bound);
	/* 31 witnesses confirm it within a few periods: it dies well
	 * before the maximum suspicion */
	cr_assert_leq(all - suspected, max / 2);
	expect_alive = 31;
	cr_assert(all_alive(NULL), "nobody else was harmed");
}

/*
 * A killed process: its kernel resets its links, and the members at the
 * other end (at least its seed) probe it at once.  The first death comes
 * one probe period plus the lost-link suspicion after the reset reaches
 * them, to the millisecond (one period later, if a probe of another member
 * was still waiting for its ack); everyone knows a few gossip rounds later.
 */
Test(swim, a_killed_process_is_declared_dead_sooner_through_its_lost_links)
{
	converge(32, 10000);
	w.check_every_ms = 0; /* exact times */
	target = 7;
	uint64_t suspected, first, all;
	time_failure(true, &suspected, &first, &all);
	uint64_t lat = w.latency_ms, T = cfg.probe_interval_ms;
	cr_assert_geq(suspected, lat + T, "a whole probe, direct and indirect");
	cr_assert_leq(suspected, lat + 2 * T);
	uint64_t L = cfg.lost_link_suspicion_ms;
	cr_assert_geq(first, lat + T + L, "a probe, then the lost-link suspicion");
	cr_assert_leq(first, lat + 2 * T + L);
	cr_assert_leq(all - first, 10 * cfg.gossip_interval_ms);
	expect_alive = 31;
	cr_assert(all_alive(NULL), "nobody else was harmed");
	/* only the members whose links reset declared it (at the same
	 * moment); the others' longer suspicions never fire */
	fake_world_run(&w, NULL, NULL, 60000);
	uint64_t witnesses = 0;
	for (int i = 0; i < N; i++)
		witnesses += live(i) && swim_stats(sw[i])->links_lost > 0;
	cr_assert_geq(witnesses, 1);
	cr_assert_leq(total_deaths(), witnesses);
}

/*
 * A member that hangs up its links but lives (a peer closing a duplicate
 * link, a middlebox resetting one): the early probe is answered and
 * nothing is suspected -- even at 10 % loss, where an unlucky probe may
 * fail and the short suspicion is then refuted in time.
 */
Test(swim, a_lost_link_to_a_live_member_is_no_alarm)
{
	converge(32, 10000);
	w.udp_drop_permille = 100;
	for (int round = 0; round < 200; round++) {
		/* every node hears that its link to node `round % 32` went */
		int t = round % 32;
		for (int i = 0; i < N; i++)
			if (i != t)
				fake_link_lost(&w, i, id_of(t));
		fake_world_run(&w, NULL, NULL, 1500);
	}
	uint64_t early = 0;
	for (int i = 0; i < N; i++)
		early += swim_stats(sw[i])->lost_link_suspects;
	cr_log_info("short suspicions raised at 10%% loss: %llu, false deaths: "
		    "%llu", (unsigned long long)early,
		    (unsigned long long)total_deaths());
	cr_assert_eq(total_deaths(), 0, "no live node declared dead");
	w.udp_drop_permille = 0;
	expect_alive = 32;
	cr_assert(fake_world_run(&w, all_alive, NULL, 30000));
}

Test(swim, ten_percent_loss_raises_no_false_alarm)
{
	converge(32, 10000);
	w.udp_drop_permille = 100;
	fake_world_run(&w, NULL, NULL, 120000);
	cr_assert_eq(total_deaths(), 0, "no live node declared dead");
	/* suspicions come and go at this loss; each is refuted in time */
	expect_alive = 32;
	cr_assert(fake_world_run(&w, all_alive, NULL, 30000));
	cr_assert_eq(total_deaths(), 0);
}

Test(swim, thirty_percent_loss_then_recovery)
{
	converge(32, 10000);
	w.udp_drop_permille = 300;
	fake_world_run(&w, NULL, NULL, 60000);
	cr_log_info("false deaths at 30%% loss: %llu",
		    (unsigned long long)total_deaths());
	w.udp_drop_permille = 0;
	expect_alive = 32;
	cr_assert(fake_world_run(&w, all_alive, NULL, 120000),
		  "every node alive again once the loss stops");
}

static void
cut(int a0, int a1, int b0, int b1, bool both, bool on)
{
	for (int a = a0; a < a1; a++)
		for (int b = b0; b < b1; b++) {
			fake_block(&w, a, b, on);
			if (both)
				fake_block(&w, b, a, on);
		}
}

Test(swim, a_two_way_partition_heals)
{
	converge(16, 10000);
	cut(0, 8, 8, 16, true, true);
	expect_alive = 8;
	cr_assert(fake_world_run(&w, all_alive, NULL, 120000),
		  "each side sees only itself alive");
	cut(0, 8, 8, 16, true, false);
	expect_alive = 16;
	cr_assert(fake_world_run(&w, all_alive, NULL, 180000),
		  "the sides find each other again");
}

Test(swim, a_one_way_partition_heals)
{
	converge(16, 10000);
	cut(0, 4, 4, 16, false, true); /* 0..3 cannot reach the others */
	fake_world_run(&w, NULL, NULL, 60000);
	cut(0, 4, 4, 16, false, false);
	expect_alive = 16;
	cr_assert(fake_world_run(&w, all_alive, NULL, 180000));
}

Test(swim, a_restart_with_the_same_key_comes_back_alive)
{
	converge(16, 10000);
	target = 5;
	fake_crash(&w, target);
	cr_assert(fake_world_run(&w, all_see_target_dead, NULL, 120000));
	node_start(target, id_of(target), 2ull << 32); /* boot 2 */
	join(target, id_of(0));
	expect_alive = 16;
	cr_assert(fake_world_run(&w, all_alive, NULL, 30000));
	uint64_t inc;
	enum swim_status st;
	cr_assert_eq(swim_member_status(sw[0], id_of(target), &st, &inc), 0);
	cr_assert_geq(inc, 2ull << 32, "the new life outranks the old");
}

static struct sockaddr_storage moved_to;

static bool
all_have_new_addr(void *ctx)
{
	(void)ctx;
	for (int i = 0; i < N; i++) {
		struct sockaddr_storage a;
		if (i == target || !live(i))
			continue;
		if (swim_member_addr(sw[i], id_of(target), &a) != 0 ||
		    memcmp(&a, &moved_to, sizeof(a)) != 0)
			return false;
	}
	return true;
}

Test(swim, a_node_that_moves_keeps_its_identity)
{
	converge(16, 10000);
	target = 9;
	fake_crash(&w, target);
	fake_world_run(&w, NULL, NULL, 2000);
	fake_set_addr(&w, target, "127.200.0.9:7946");
	node_start(target, id_of(target), 2ull << 32);
	join(target, id_of(0));
	expect_alive = 16;
	cr_assert(fake_world_run(&w, all_alive, NULL, 60000));
	addr_parse("127.200.0.9:7946", &moved_to);
	uint64_t t0 = w.now;
	cr_assert(fake_world_run(&w, all_have_new_addr, NULL, 60000),
		  "every member learns the new address");
	cr_log_info("new address known everywhere %llu ms after all alive",
		    (unsigned long long)(w.now - t0));
	/* and it stays alive: probes go to the new address */
	fake_world_run(&w, NULL, NULL, 60000);
	cr_assert(all_alive(NULL));
}

Test(swim, a_restart_with_a_new_key_is_a_new_member)
{
	converge(16, 10000);
	target = 6;
	fake_crash(&w, target);
	cr_assert(fake_world_run(&w, all_see_target_dead, NULL, 120000));
	/* same name and address, new key: a new node id */
	node_start(target, 0x60006, 1ull << 32);
	join(target, id_of(0));
	expect_alive = 16;
	cr_assert(fake_world_run(&w, all_alive, NULL, 60000));
	for (int i = 0; i < N; i++) {
		enum swim_status st;
		if (i == target)
			continue;
		cr_assert_eq(swim_member_status(sw[i], 0x60006, &st, NULL), 0);
		cr_assert_eq(st, SWIM_ALIVE);
		cr_assert_eq(swim_member_status(sw[i], id_of(target), &st, NULL), 0);
		cr_assert_eq(st, SWIM_DEAD, "the old identity stays dead");
	}
}


Test(swim, a_graceful_leave_is_left_not_dead)
{
	converge(16, 10000);
	target = 11;
	struct msg *m = msg_new(MSG_SWIM_LEAVE, NULL, 0);
	m->from.node = m->to.node = w.nodes[target]->node;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(w.nodes[target], m);
	fake_world_run(&w, NULL, NULL, 50); /* the farewell goes out */
	fake_crash(&w, target);
	uint64_t t0 = w.now;
	cr_assert(fake_world_run(&w, all_see_target_left, NULL, 30000));
	cr_log_info("everyone saw the leave after %llu ms",
		    (unsigned long long)(w.now - t0));
	cr_assert_lt(w.now - t0, 5000, "a leave spreads by gossip, no timeout");
	fake_world_run(&w, NULL, NULL, 60000);
	cr_assert(all_see_target_left(NULL), "left stays left, never dead");
	cr_assert_eq(total_deaths(), 0);
}

Test(swim, dead_members_are_reaped_after_the_documented_time)
{
	cfg.dead_reap_ms = 20000;
	converge(8, 10000);
	target = 3;
	fake_crash(&w, target);
	cr_assert(fake_world_run(&w, all_see_target_dead, NULL, 120000));
	enum swim_status st;
	fake_world_run(&w, NULL, NULL, 15000);
	cr_assert_eq(swim_member_status(sw[0], id_of(target), &st, NULL), 0,
		     "still listed before the reap time");
	fake_world_run(&w, NULL, NULL, 10000);
	cr_assert_eq(swim_member_status(sw[0], id_of(target), &st, NULL),
		     MIST_ENOTFOUND, "forgotten after it");
}

Test(swim, another_key_cannot_take_a_live_name)
{
	converge(8, 10000);
	/* a ninth node with a new key but the name of node 3 */
	N = 9;
	struct actor_sys *sys = fake_world_add(&w, 0xbad, NULL);
	fake_set_addr(&w, 8, NULL);
	keyring_init(&w.keys[8], key);
	struct swim_self self = {.name = "n3"};
	self.addr = w.addr[8];
	struct swim_transport tr = fake_udp_transport(&w, 8);
	sw[8] = swim_spawn(sys, &cfg, &tr, &self);
	join(8, id_of(0));
	fake_world_run(&w, NULL, NULL, 20000);
	uint64_t conflicts = 0;
	for (int i = 0; i < 8; i++) {
		enum swim_status st;
		conflicts += swim_stats(sw[i])->name_conflicts;
		cr_assert(swim_member_status(sw[i], 0xbad, &st, NULL) != 0,
			  "node %d accepted the impostor", i);
	}
	cr_assert_gt(conflicts, 0);
	N = 8;
	w.down[8] = true;
}

Test(swim, keys_rotate_across_a_running_cluster)
{
	converge(8, 10000);
	uint8_t k2[32];
	randombytes_buf(k2, sizeof(k2));
	for (int i = 0; i < N; i++)
		cr_assert_eq(keyring_install(&w.keys[i], k2), 0);
	fake_world_run(&w, NULL, NULL, 5000);
	for (int i = 0; i < N; i++)
		cr_assert_eq(keyring_use(&w.keys[i], k2), 0);
	fake_world_run(&w, NULL, NULL, 5000);
	for (int i = 0; i < N; i++)
		cr_assert_eq(keyring_remove(&w.keys[i], key), 0);
	uint64_t failed = w.udp_auth_failed;
	fake_world_run(&w, NULL, NULL, 30000);
	cr_assert_eq(w.udp_auth_failed, failed, "every packet opens");
	cr_assert_eq(total_deaths(), 0);
	expect_alive = 8;
	cr_assert(all_alive(NULL));
	/* a node holding only the old key is shut out */
	keyring_init(&w.keys[3], key);
	fake_world_run(&w, NULL, NULL, 60000);
	cr_assert_gt(w.udp_auth_failed, failed);
	enum swim_status st;
	cr_assert_eq(swim_member_status(sw[0], id_of(3), &st, NULL), 0);
	cr_assert_eq(st, SWIM_DEAD, "the node with the old key is cut off");
}

/* ------------------------------------------------------------ Lifeguard */

Test(swim, lifeguard_a_short_pause_is_never_fatal)
{
	converge(16, 10000);
	uint64_t min = (uint64_t)(cfg.suspicion_mult * log10(16.0) *
				  cfg.probe_interval_ms);
	target = 4;
	for (int round = 0; round < 5; round++) {
		fake_pause(&w, target, true);
		fake_world_run(&w, NULL, NULL, min - 1000);
		fake_pause(&w, target, false);
		fake_world_run(&w, NULL, NULL, 20000);
	}
	cr_assert_eq(total_deaths(), 0, "paused %llu ms < min suspicion %llu",
		     (unsigned long long)(min - 1000), (unsigned long long)min);
	expect_alive = 16;
	cr_assert(all_alive(NULL));
}

/*
 * The A/B of the Lifeguard paper: a quarter of the members are slow (they
 * stall for 1-4 s at random, as under CPU starvation; their timers fire
 * before they read their socket when they wake, as in libuv) on a lossy
 * network.  A false positive is a *healthy* member (never stalled) declared
 * dead; each distinct (member, incarnation) declared dead counts once.
 * Same seed with and without Lifeguard.
 */
#define SLOW 8
static struct map false_dead;

static void
event_counter_fn(struct actor *self, struct msg *m)
{
	(void)self;
	if (m->type != MSG_MEMBER_EVENT)
		return;
	struct swim_event_view ev;
	if (swim_event_decode(m->body, m->len, &ev) != 0)
		return;
	bool dead = ev.event == SWIM_EV_DEAD;
	uint64_t node = ev.node, inc = ev.incarnation;
	if (dead && node >= id_of(SLOW))
		map_put(&false_dead, node * 1000003 ^ inc, (void *)1);
}

static uint64_t
slow_members_run(bool lifeguard, uint64_t seed)
{
	fake_world_destroy(&w);
	fake_world_init(&w, seed);
	w.check_every_ms = 100;
	cfg.lifeguard = lifeguard;
	map_init(&false_dead, 7);
	converge(32, 20000);
	for (int i = 0; i < N; i++) {
		actor_spawn(w.nodes[i], 100, "events", event_counter_fn, NULL);
		struct msg *m = msg_new(MSG_SWIM_SUBSCRIBE, NULL, 0);
		m->from.node = m->to.node = w.nodes[i]->node;
		m->from.id = 100;
		m->to.id = ACTOR_SWIM;
		actor_sys_deliver(w.nodes[i], m);
	}
	w.udp_drop_permille = 300;
	struct rng r;
	rng_init(&r, seed);
	uint64_t end = w.now + 300000;
	while (w.now < end) {
		for (int i = 0; i < SLOW; i++)
			fake_pause(&w, i, rng_below(&r, 100) < 30);
		fake_world_run(&w, NULL, NULL, 1000 + rng_below(&r, 3000));
	}
	for (int i = 0; i < SLOW; i++)
		fake_pause(&w, i, false);
	uint64_t fp = false_dead.len;
	map_destroy(&false_dead);
	return fp;
}

Test(swim, lifeguard_cuts_false_positives_tenfold)
{
	uint64_t seed = tu_seed();
	uint64_t without = slow_members_run(false, seed);
	uint64_t with = slow_members_run(true, seed);
	cr_log_info("healthy members declared dead: plain SWIM %llu, with "
		    "Lifeguard %llu", (unsigned long long)without,
		    (unsigned long long)with);
	fprintf(stderr, "healthy members declared dead: plain SWIM %llu, with "
		"Lifeguard %llu\n", (unsigned long long)without,
		(unsigned long long)with);
	cr_assert_geq(without, 10 * (with ? with : 1),
		      "plain %llu vs lifeguard %llu", (unsigned long long)without,
		      (unsigned long long)with);
}


