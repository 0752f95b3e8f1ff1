#include "config.h"
#include "net/loop.h"
#include "mist.h"

/*
 * Turns per check callback: enough to drain a busy system in a few
 * iterations, few enough that the loop polls for I/O at least every few
 * milliseconds under load (256 turns x 64 messages).
 */
#define LOOP_TURNS 256

static uint64_t
loop_now(void *ctx)
{
	struct loop_driver *d = ctx;
	return uv_now(d->loop);
}

static uint64_t
loop_hrtime(void *ctx)
{
	(void)ctx;
	return uv_hrtime();
}

static void
loop_idle_cb(uv_idle_t *h)
{
	(void)h; /* its only job is to make the poll non-blocking */
}

static void
loop_timer_cb(uv_timer_t *h)
{
	(void)h; /* wakes the loop; the check callback does the work */
}

static void
loop_arm(struct loop_driver *d)
{
	struct actor_sys *sys = d->sys;
	if (actor_sys_has_work(sys))
		uv_idle_start(&d->idle, loop_idle_cb);
	else
		uv_idle_stop(&d->idle);
	uint64_t due = actor_sys_next_deadline(sys);
	if (due == UINT64_MAX) {
		uv_timer_stop(&d->timer);
		return;
	}
	uint64_t now = uv_now(d->loop);
	uv_timer_start(&d->timer, loop_timer_cb, due > now ? due - now : 0, 0);
}

static void
loop_check_cb(uv_check_t *h)
{
	struct loop_driver *d = h->data;
	actor_sys_expire(d->sys);
	actor_sys_run(d->sys, LOOP_TURNS);
	loop_arm(d);
}

static void
loop_wake(void *ctx)
{
	struct loop_driver *d = ctx;
	if (d->sys != NULL && !uv_is_closing((uv_handle_t *)&d->idle))
		uv_idle_start(&d->idle, loop_idle_cb);
}

static int
loop_remote_send(void *ctx, struct msg *m)
{
	struct loop_driver *d = ctx;
	if (d->remote_send == NULL)
		return MIST_EUNREACHABLE;
	return d->remote_send(d->net_ctx, m);
}

static void
loop_drained(void *ctx)
{
	struct loop_driver *d = ctx;
	if (d->drained != NULL)
		d->drained(d->net_ctx);
}

void
loop_driver_env(struct loop_driver *d, uv_loop_t *loop,
		struct actor_sys_env *env)
{
	d->loop = loop;
	d->sys = NULL;
	d->remote_send = NULL;
	d->drained = NULL;
	d->net_ctx = NULL;
	env->now = loop_now;
	env->hrtime = loop_hrtime;
	env->remote_send = loop_remote_send;
	env->wake = loop_wake;
	env->drained = loop_drained;
	env->ctx = d;
	uv_check_init(loop, &d->check);
	uv_idle_init(loop, &d->idle);
	uv_timer_init(loop, &d->timer);
	d->check.data = d;
	/* the check handle alone must not keep the loop alive */
	uv_unref((uv_handle_t *)&d->check);
}

void
loop_driver_start(struct loop_driver *d, struct actor_sys *sys)
{
	d->sys = sys;
	uv_check_start(&d->check, loop_check_cb);
	loop_arm(d);
}

void
loop_driver_close(struct loop_driver *d)
{
	uv_close((uv_handle_t *)&d->check, NULL);
	uv_close((uv_handle_t *)&d->idle, NULL);
	uv_close((uv_handle_t *)&d->timer, NULL);
}
