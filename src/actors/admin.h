/*
 * admin.h -- the node's own actors, present on every agent.
 *
 *  ACTOR_ADMIN  runs key rotation: MSG_KEYS from a client is applied on
 *               every live member (MSG_KEYS_LOCAL to each admin actor, the
 *               member list from ACTOR_SWIM) and answered with per-node
 *               results; and MSG_PING: latency (sequential MSG_ECHO requests whose reply
 *               content is checked) or throughput (a flood of one-way
 *               MSG_SINK messages with windowed MSG_SINK_SYNC requests, so
 *               the sender never queues more than a few windows).
 *  ACTOR_ECHO   answers MSG_ECHO with the same body; counts MSG_SINK.
 *
 * Bodies are drawn in docs/PROTOCOL.md.  admin_spawn() allocates the
 * actors' state; each frees its own on MSG_STOP.
 */
#ifndef MIST_ACTORS_ADMIN_H_INCLUDED
#define MIST_ACTORS_ADMIN_H_INCLUDED

#include "actors/actor.h"

struct admin_self {
	char name[64];
	char tier[16];
	char addr[64];
};

enum admin_key_op { KEYS_LIST, KEYS_INSTALL, KEYS_USE, KEYS_REMOVE };

/*
 * The node's keyring, reached through a hook (it belongs to the agent: the
 * gossip transport and the links use it).  keys() applies @a op and then
 * fills @a keys (up to 8 x 32 bytes), @a n and @a primary; 0 or MIST_E*.
 */
struct admin_hooks {
	int (*keys)(void *ctx, enum admin_key_op op, const uint8_t key[32],
		    uint8_t keys[][32], int *n, int *primary);
	void *ctx;
};

/** Spawns ACTOR_ADMIN and ACTOR_ECHO.  0 or MIST_EEXIST. */
int admin_spawn(struct actor_sys *sys, const struct admin_self *self,
		const struct admin_hooks *hooks);

/** Ping request limits: a bound on what one request may make us do.
 *  Floods keep nothing per message; round trips keep 8 bytes each. */
#define ADMIN_PING_MAX_COUNT 100000000u
#define ADMIN_PING_MAX_RTTS 1000000u
#define ADMIN_PING_MAX_SIZE (64u << 10)

#endif
