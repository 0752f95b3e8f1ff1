/*
 * ping_pong.c -- the smallest mist program: two actors on one node
 * exchange N requests through the actor runtime, driven by a libuv loop.
 *
 *   ./examples/ping_pong [N]
 *
 * It shows the pieces every node is made of: an actor system with the
 * libuv seams (net/loop.h), actors spawned with a handler and state,
 * requests whose reply (or timeout) always comes back, and an orderly
 * shutdown in which every actor gets MSG_STOP last.
 *
 * Unlike the other examples it is not a libmist client: the actor runtime
 * is internal (src/actors/, src/net/loop.h), not part of the installed
 * library, so it is built against the internal headers and libmist-core.
 */
#include <stdio.h>
#include <stdlib.h>

#include "actors/actor.h"
#include "mist.h"
#include "net/loop.h"

#define MSG_BALL 1000

struct player {
	struct actor_ref peer;
	long left;	/* requests still to send (pinger only) */
	long returned;	/* replies seen */
	uv_loop_t *loop;
	struct loop_driver *drv;
};

static void
ping_fn(struct actor *self, struct msg *m)
{
	struct player *p = self->state;
	if (m->type == MSG_BALL && (m->flags & MSG_F_REPLY)) {
		if (m->status != 0) {
			fprintf(stderr, "ping: %s\n", mist_strerror(m->status));
			exit(1);
		}
		p->returned++;
	}
	if ((m->type == MSG_BALL || m->type == MSG_TIMER) && p->left > 0) {
		p->left--;
		/* the body is a msgpack uint: the ball's number */
		uint8_t body[5] = {0xce, 0, 0, 0, 0};
		actor_request(self, p->peer, MSG_BALL, body, sizeof(body), 1000,
			      NULL);
	} else if (m->type == MSG_BALL && p->left == 0) {
		printf("%ld round trips through the actor runtime\n",
		       p->returned);
		actor_sys_shutdown(self->sys);
		loop_driver_close(p->drv);
	}
}

static void
pong_fn(struct actor *self, struct msg *m)
{
	if (m->type == MSG_BALL && (m->flags & MSG_F_REQUEST))
		actor_reply(self, m, MSG_BALL, m->body, m->len);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct loop_driver drv;
	struct actor_sys_env env;
	struct actor_sys sys;
	loop_driver_env(&drv, &loop, &env);
	actor_sys_init(&sys, 1, &env, NULL, 42);
	struct player pong = {0};
	struct actor *b = actor_spawn(&sys, 0, "pong", pong_fn, &pong);
	struct player ping = {.peer = actor_ref_of(b), .left = n,
			      .loop = &loop, .drv = &drv};
	struct actor *a = actor_spawn(&sys, 0, "ping", ping_fn, &ping);
	struct actor_timer start = {0};
	actor_timer_start(a, &start, 0, 0, 1); /* serve the first ball */
	loop_driver_start(&drv, &sys);
	uv_run(&loop, UV_RUN_DEFAULT);
	while (actor_sys_has_work(&sys))
		actor_sys_run(&sys, 1000);
	actor_sys_destroy(&sys);
	uv_loop_close(&loop);
	return ping.returned == n ? 0 : 1;
}
