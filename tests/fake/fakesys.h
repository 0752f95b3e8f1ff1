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
#include "util/rand.h"

#define FAKE_MAX_NODES 64

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
};

void fake_world_init(struct fake_world *w, uint64_t seed);
/** Adds a node whose id is @a node; returns its system. */
struct actor_sys *fake_world_add(struct fake_world *w, uint64_t node,
				 const struct actor_sys_config *cfg);
/** Shuts down and destroys every system; frees queued packets. */
void fake_world_destroy(struct fake_world *w);
/** Runs until @a pred (may be NULL) holds or @a timeout_ms of virtual time. */
bool fake_world_run(struct fake_world *w, bool (*pred)(void *), void *ctx,
		    uint64_t timeout_ms);

#endif
