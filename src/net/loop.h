/*
 * loop.h -- drives an actor system from a libuv loop.
 *
 * I/O callbacks only queue messages (actor_sys_deliver): actor logic --
 * sending as an actor, replying, starting timers, changing an actor's
 * state -- runs only in the actor's turn, when the scheduler hands it the
 * message.  Debug builds check it (actors/actor.h, "Turns are checked").
 *
 * The scheduler runs in a check handle (after the loop has polled for
 * I/O); an idle handle keeps the poll from blocking while actors have
 * work; a timer wakes the loop at the next actor deadline.  Time is
 * uv_now(): milliseconds, cached per loop iteration.
 *
 * struct loop_driver is caller storage and must outlive the loop's handles:
 * loop_driver_close() closes them; run the loop until they are closed.
 */
#ifndef MIST_NET_LOOP_H_INCLUDED
#define MIST_NET_LOOP_H_INCLUDED

#include <uv.h>

#include "actors/actor.h"

struct loop_driver {
	uv_loop_t *loop;
	struct actor_sys *sys;
	uv_check_t check;
	uv_idle_t idle;
	uv_timer_t timer;
	/* The transport and drain hooks are forwarded (set by the links). */
	int (*remote_send)(void *ctx, struct msg *m);
	void (*drained)(void *ctx);
	void *net_ctx;
};

/** Fills @a env with the libuv seams for @a d (call before actor_sys_init). */
void loop_driver_env(struct loop_driver *d, uv_loop_t *loop,
		     struct actor_sys_env *env);
/** Starts the handles once the system is initialised. */
void loop_driver_start(struct loop_driver *d, struct actor_sys *sys);
void loop_driver_close(struct loop_driver *d);

#endif
