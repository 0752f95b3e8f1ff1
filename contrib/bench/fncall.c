/*
 * fncall.c -- add-on function calls per second through one node's function
 * actor and executor pool, with no HTTP and no network: the ceiling the
 * gateway's POST /functions/:name can reach on this machine (paper 000's
 * case C compares that path with nginx).  Not a test: a figure.
 *
 *   make contrib/bench/fncall
 *   contrib/bench/fncall MIST_BIN PLUGIN.so [CALLS [WINDOW [EXECUTORS]]]
 *
 * A client actor keeps WINDOW calls of the test plugin's `hello` in
 * flight (a new one for each answer) until CALLS have been answered, and
 * prints calls/s, and how many results one read from an executor carried
 * (the pipelining: with WINDOW >> executors the reads carry tens).
 */
#include "actors/actor.h"
#include "exec/exec.h"
#include "function/function.h"
#include "mist.h"
#include "net/loop.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/log.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NODE 1

struct bench {
	struct actor *actor;
	struct buf body;
	uint64_t want, sent, answered, failed;
	uint32_t window;
};

static uint64_t events, results, max_batch;
static bool ready;

static void
bench_send(struct bench *b)
{
	struct actor_ref to = {BENCH_NODE, ACTOR_FUNCTION};
	actor_request(b->actor, to, MSG_FN_CALL, b->body.data,
		      (uint32_t)b->body.len, 30000, NULL);
	b->sent++;
}

static void
bench_fn(struct actor *self, struct msg *m)
{
	struct bench *b = self->state;
	if (m->type == MSG_TIMER) { /* the start */
		for (uint32_t i = 0; i < b->window && b->sent < b->want; i++)
			bench_send(b);
		return;
	}
	if (!(m->flags & MSG_F_REPLY))
		return;
	b->answered++;
	if (m->status != 0 || m->len < 2 || m->body[1] != 0)
		b->failed++;
	if (b->sent < b->want)
		bench_send(b);
}

static void
on_done(void *ctx, const struct pool_result *rs, uint32_t n)
{
	events++;
	results += n;
	if (n > max_batch)
		max_batch = n;
	func_pool_done(ctx, rs, n);
}

static void
on_ready(void *ctx, const char *const *names, uint32_t n)
{
	(void)ctx, (void)names, (void)n;
	ready = true;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s MIST_BIN PLUGIN.so [CALLS [WINDOW "
			"[EXECUTORS]]]\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_LVL_ERROR);
	struct bench b = {0};
	b.want = argc > 3 ? strtoull(argv[3], NULL, 10) : 200000;
	b.window = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1024;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct loop_driver drv;
	struct actor_sys_env env;
	struct actor_sys sys;
	loop_driver_env(&drv, &loop, &env);
	actor_sys_init(&sys, BENCH_NODE, &env, NULL, 1);
	loop_driver_start(&drv, &sys);
	struct pool_config pc;
	pool_config_default(&pc);
	pc.exe = argv[1];
	pc.plugins[pc.nplugins++] = argv[2];
	if (argc > 5)
		pc.executors = (uint32_t)strtoul(argv[5], NULL, 10);
	struct pool *pool = pool_open(&loop, &pc, on_done, on_ready, &sys);
	while (!ready)
		uv_run(&loop, UV_RUN_ONCE);
	struct func_config fc;
	func_config_default(&fc);
	func_spawn(&sys, &fc, &pool_real_ops, pool);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b.body, buf_msgpack_write);
	msgpack_pack_array(&pk, 5);
	mp_pack_str(&pk, "bench");
	mp_pack_str(&pk, "hello");
	msgpack_pack_uint32(&pk, 30000);
	msgpack_pack_map(&pk, 0);
	static const char params[] = "\x81\xa4name\xa5world";
	msgpack_pack_bin_with_body(&pk, params, sizeof(params) - 1);
	b.actor = actor_spawn(&sys, 0, "bench", bench_fn, &b);
	struct actor_timer start = {0};
	actor_timer_start(b.actor, &start, 0, 0, 1);
	uint64_t t0 = uv_hrtime();
	while (b.answered < b.want)
		uv_run(&loop, UV_RUN_ONCE);
	double s = (double)(uv_hrtime() - t0) / 1e9;
	printf("%llu calls of hello, %u in flight, %u executors: %.0f calls/s, "
	       "%llu failed; results per executor read: %.1f (at most %llu)\n",
	       (unsigned long long)b.answered, b.window, pc.executors,
	       (double)b.answered / s, (unsigned long long)b.failed,
	       events ? (double)results / (double)events : 0.0,
	       (unsigned long long)max_batch);
	actor_sys_shutdown(&sys);
	while (actor_sys_has_work(&sys))
		uv_run(&loop, UV_RUN_NOWAIT);
	pool_close(pool);
	loop_driver_close(&drv);
	uv_run(&loop, UV_RUN_DEFAULT);
	actor_sys_destroy(&sys);
	uv_loop_close(&loop);
	buf_destroy(&b.body);
	return b.failed ? 1 : 0;
}
