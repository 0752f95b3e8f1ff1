/*
 * admin.h -- the node's own actors, present on every agent.
 *
 *  ACTOR_ADMIN  runs MSG_PING: latency (sequential MSG_ECHO requests whose reply
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

/** Spawns ACTOR_ADMIN and ACTOR_ECHO.  0 or MIST_EEXIST. */
int admin_spawn(struct actor_sys *sys, const struct admin_self *self);

/** Ping request limits: a bound on what one request may make us do. */
#define ADMIN_PING_MAX_COUNT 100000000u
#define ADMIN_PING_MAX_SIZE (64u << 10)

#endif
