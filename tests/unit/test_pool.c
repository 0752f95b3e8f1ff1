/*
 * test_pool.c -- the executor pool (src/exec/pool.c) with real executor
 * processes and the test plugin: a task that kills its executor fails
 * alone; the tasks pipelined behind it on the same executor run on the
 * replacement, in order; and a task's own wall time (pool_submit's wall_ms).
 */
#include "exec/exec.h"
#include "mist.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define N 6

static int status[N + 1];
static char errs[N + 1][128];
static uint64_t order[N + 1];
static int finished;
static bool ready;

static void
done(void *ctx, const struct pool_result *rs, uint32_t n)
{
	(void)ctx;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t key = rs[i].key;
		cr_assert(key >= 1 && key <= N && finished < N);
		status[key] = rs[i].status;
		snprintf(errs[key], sizeof(errs[key]), "%s",
			 rs[i].status ? rs[i].err : "");
		order[finished++] = key;
	}
}

static void
on_ready(void *ctx, const char *const *names,
	 const char *const *reads, uint32_t n)
{
	(void)ctx, (void)names, (void)reads, (void)n;
	ready = true;
}

Test(pool, a_fatal_task_fails_alone_and_the_queue_behind_it_runs_in_order,
     .timeout = 60)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct pool_config cfg;
	pool_config_default(&cfg);
	cfg.exe = getenv("MIST_BIN");
	cr_assert(cfg.exe, "MIST_BIN is set by make check");
	cfg.plugins[cfg.nplugins++] = BUILDDIR "/tests/plugins/.libs/testfns.so";
	cfg.executors = 1; /* everything queues behind the crash */
	cfg.cpu_ms = 300;
	struct pool *p = pool_open(&loop, &cfg, done, on_ready, NULL);
	while (!ready)
		uv_run(&loop, UV_RUN_ONCE);
	int noop = pool_fn_index(p, "noop", 4), crash = pool_fn_index(p, "crash", 5);
	cr_assert(noop >= 0 && crash >= 0);
	/* 1 runs, 2 crashes its executor, 3..6 wait behind it */
	for (uint64_t k = 1; k <= N; k++)
		cr_assert_eq(pool_submit(p, k, (uint32_t)(k == 2 ? crash : noop),
					 (const uint8_t *)"\xc0", 1, NULL, 0, 1, 0), 0);
	while (finished < N)
		uv_run(&loop, UV_RUN_ONCE);
	for (uint64_t k = 1; k <= N; k++) {
		cr_assert_eq(order[k - 1], k, "results in submission order");
		if (k == 2) {
			cr_assert_eq(status[k], MIST_ETASK);
			cr_assert(strstr(errs[k], "crashed") ||
				  strstr(errs[k], "exited"), "%s", errs[k]);
		} else {
			cr_assert_eq(status[k], 0, "task %llu: %s",
				     (unsigned long long)k, errs[k]);
		}
	}
	pool_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}

/* Per-task wall times: a task given its own limit is killed after it, the
 * pool's being far longer; a task that waits longer than its own limit
 * never starts; a task with none waits as long as it takes. */
Test(pool, a_task_s_own_wall_time_kills_it_or_keeps_it_from_starting,
     .timeout = 60)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct pool_config cfg;
	pool_config_default(&cfg);
	cfg.exe = getenv("MIST_BIN");
	cr_assert(cfg.exe, "MIST_BIN is set by make check");
	cfg.plugins[cfg.nplugins++] = BUILDDIR "/tests/plugins/.libs/testfns.so";
	cfg.executors = 1;
	cfg.depth = 1; /* the second task waits in the pool, not the pipe */
	memset(status, 0, sizeof(status));
	finished = 0;
	ready = false;
	struct pool *p = pool_open(&loop, &cfg, done, on_ready, NULL);
	while (!ready)
		uv_run(&loop, UV_RUN_ONCE);
	int loopfn = pool_fn_index(p, "loop", 4), noop = pool_fn_index(p, "noop", 4);
	cr_assert(loopfn >= 0 && noop >= 0);
	/* 1 spins with 200 ms of its own: killed (the pool allows 120 s);
	 * 2 waits behind it with 50 ms: never started; 3 waits with no
	 * limit of its own and runs on the replacement */
	cr_assert_eq(pool_submit(p, 1, (uint32_t)loopfn, (const uint8_t *)"\xc0",
				 1, NULL, 0, 1, 200), 0);
	cr_assert_eq(pool_submit(p, 2, (uint32_t)noop, (const uint8_t *)"\xc0",
				 1, NULL, 0, 1, 50), 0);
	cr_assert_eq(pool_submit(p, 3, (uint32_t)noop, (const uint8_t *)"\xc0",
				 1, NULL, 0, 1, 0), 0);
	while (finished < 3)
		uv_run(&loop, UV_RUN_ONCE);
	cr_assert_eq(order[0], 2, "the expired one ends first");
	cr_assert_eq(status[2], MIST_ETASK);
	cr_assert(strstr(errs[2], "not started"), "%s", errs[2]);
	cr_assert_eq(status[1], MIST_ETASK);
	cr_assert(strstr(errs[1], "wall-time limit (200 ms)"), "%s", errs[1]);
	cr_assert_eq(status[3], 0, "%s", errs[3]);
	pool_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
