/*
 * fakesys.h -- many actor systems in one process, in virtual time.
 *
 * The clock is a number that jumps to the next deadline; the network is a
 * queue of encoded envelopes with a latency and a seeded drop rate.  Every
 * message between nodes goes through the real wire codec (encode, then the
 * bounded decoder), so simulated runs exercise the same code as real ones.
 * Waits are predicates with virtual timeouts: a test can assert "no reply
 * at 999 ms, a timeout error at 1000 ms".
 */
#ifndef MIST_TESTS_FAKESYS_H_INCLUDED
#define MIST_TESTS_FAKESYS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "actors/actor.h"
#include "net/keyring.h"
#include "net/swim.h"
#include "util/map.h"
#include "util/rand.h"

#define FAKE_MAX_NODES 1024

struct fake_pkt;

struct fake_world {
	uint64_t now; /* ms */
	struct actor_sys *nodes[FAKE_MAX_NODES];
	bool down[FAKE_MAX_NODES];
	int n;
	struct fake_pkt *queue; /* by delivery time, then send order */
	uint32_t latency_ms;
	uint32_t drop_permille;
	struct rng rng;
	uint64_t sent, dropped, delivered;
	/* datagrams (gossip): addresses, keys, cuts, loss, pauses */
	struct sockaddr_storage addr[FAKE_MAX_NODES];
	struct keyring keys[FAKE_MAX_NODES];
	struct map by_addr; /* addr key -> index + 1 */
	uint8_t *block;	    /* [from * FAKE_MAX_NODES + to]: cut */
	uint8_t *linked;    /* [a * FAKE_MAX_NODES + b]: a link is up */
	bool paused[FAKE_MAX_NODES];
	struct fake_pkt *held[FAKE_MAX_NODES]; /* "socket buffer" while paused */
	uint32_t udp_drop_permille;
	uint64_t udp_sent, udp_dropped, udp_auth_failed;
	uint32_t check_every_ms; /* predicate granularity (0: every step) */
	/* the test's view of the links (NULL: none): every message a node is
	 * about to get from another, decoded, at its delivery time */
	void (*tap)(void *ctx, int from_idx, int to_idx, const struct msg *m);
	void *tap_ctx;
	/* after the tap: true drops the message (a link that lost it) */
	bool (*drop)(void *ctx, int from_idx, int to_idx, const struct msg *m);
};

void fake_world_init(struct fake_world *w, uint64_t seed);
/** Adds a node whose id is @a node; returns its system. */
struct actor_sys *fake_world_add(struct fake_world *w, uint64_t node,
				 const struct actor_sys_config *cfg);
/** Shuts down and destroys every system; frees queued packets. */
void fake_world_destroy(struct fake_world *w);
/** The gossip transport of node @a idx (seals with w->keys[idx]). */
struct swim_transport fake_udp_transport(struct fake_world *w, int idx);
/** Sets node @a idx's address (127.0.x.y:7946 from the index if NULL). */
void fake_set_addr(struct fake_world *w, int idx, const char *addr);
/** Cuts (or heals) traffic from @a a to @a b, datagrams and links. */
void fake_block(struct fake_world *w, int a, int b, bool cut);
/** Pauses or resumes node @a idx (its timers and inputs wait). */
void fake_pause(struct fake_world *w, int idx, bool paused);
/**
 * Kills node @a idx's process: it stops, all traffic to it is lost, and
 * every node it had a link with (any node it exchanged messages with)
 * gets MSG_LINK_DOWN {"node", "lost": true} at ACTOR_SWIM one latency
 * later -- the kernel resetting a dead process's sockets.
 */
void fake_crash(struct fake_world *w, int idx);
/** Tells node @a idx's SWIM now that its link to @a node was lost on the
 * other side (MSG_LINK_DOWN, "lost": true), as net/link.c does. */
void fake_link_lost(struct fake_world *w, int idx, uint64_t node);
/** Node @a idx's machine vanishes (power, cable): as fake_crash, but no
 * link is reset -- its peers learn nothing until they probe it. */
void fake_power_off(struct fake_world *w, int idx);
/** Replaces node @a idx's system by a fresh one with id @a node. */
struct actor_sys *fake_restart(struct fake_world *w, int idx, uint64_t node);
/**
 * Sends @a m (ownership moves) from node @a from over the fake links,
 * delivered @a delay_ms from now unless the network loses it: a delayed
 * or duplicated packet, made by the test.  No key check: the link is
 * taken to exist.
 */
void fake_inject(struct fake_world *w, int from, struct msg *m,
		 uint64_t delay_ms);
/** Runs until @a pred (may be NULL) holds or @a timeout_ms of virtual time. */
bool fake_world_run(struct fake_world *w, bool (*pred)(void *), void *ctx,
		    uint64_t timeout_ms);

#endif
