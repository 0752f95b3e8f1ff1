/*
 * test_fncall.c -- add-on function calls (MSG_FN_CALL, function/function.h)
 * on a real node's pieces: an actor system driven by a libuv loop
 * (net/loop.h), the function actor, and the executor pool with real
 * executor processes running the test plugin (tests/plugins/testfns.c).
 * A client actor speaks as the gateway does: it sends the requests in its
 * own turn and files each reply by its correlation id.
 *
 * Every wait is on a predicate, bounded by WAIT_MS of loop time.
 */
#include "actors/actor.h"
#include "exec/exec.h"
#include "function/fncall.h"
#include "function/fnread.h"
#include "function/function.h"
#include "mist.h"
#include "net/loop.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/map.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define SELF 42
/* Longest wait for anything (loop time): generous for a loaded machine
 * and a sanitized build; a pass takes a fraction of it. */
#define WAIT_MS 30000
/* Calls one test may make. */
#define MAXQ 1200

/* ------------------------------------------------------ the client */

struct answer {
	int n;	     /* replies received: must end at exactly 1 */
	int status;  /* the reply's status (actor-level error) */
	uint32_t type;
	uint8_t body[256];
	uint32_t len;
};

struct client {
	struct actor *actor;
	struct map corrs; /* corr -> index + 1 */
	struct answer ans[MAXQ];
	int asked, answered;
	/* what the next T_ASK sends: bodies[first..first+count) */
	struct buf *bodies;
};

/* The test asks the client by a local message (an actor acts in its own
 * turn): corr = first << 32 | count of the bodies to send. */
#define T_ASK 9000

static void
client_fn(struct actor *self, struct msg *m)
{
	struct client *c = self->state;
	if (m->type == MSG_STOP) {
		map_destroy(&c->corrs);
		return;
	}
	if (m->type == T_ASK) {
		uint32_t first = (uint32_t)(m->corr >> 32);
		uint32_t count = (uint32_t)m->corr;
		for (uint32_t i = first; i < first + count; i++) {
			uint64_t corr;
			struct actor_ref to = {SELF, ACTOR_FUNCTION};
			actor_request(self, to, MSG_FN_CALL, c->bodies[i].data,
				      (uint32_t)c->bodies[i].len, WAIT_MS,
				      &corr);
			map_put(&c->corrs, corr, (void *)(uintptr_t)(i + 1));
			c->asked++;
		}
		return;
	}
	if (!(m->flags & MSG_F_REPLY))
		return;
	uintptr_t k = (uintptr_t)map_get(&c->corrs, m->corr);
	cr_assert(k > 0 && k <= MAXQ, "a reply to a request we made");
	struct answer *a = &c->ans[k - 1];
	a->n++;
	a->status = m->status;
	a->type = m->type;
	a->len = m->len < sizeof(a->body) ? m->len : (uint32_t)sizeof(a->body);
	memcpy(a->body, m->body, a->len);
	c->answered++;
}

/* --------------------------------------------------------- the node */

static uv_loop_t loop;
static struct loop_driver drv;
static struct actor_sys sys;
static struct pool *pool;
static struct client cl;
static struct buf bodies[MAXQ];
static bool ready;
static uint32_t max_batch; /* the most results one pool event carried */

static void
on_done(void *ctx, const struct pool_result *rs, uint32_t n)
{
	if (n > max_batch)
		max_batch = n;
	func_pool_done(ctx, rs, n);
}

static void
on_ready(void *ctx, const char *const *names,
	 const char *const *reads, uint32_t n)
{
	(void)ctx, (void)names, (void)reads, (void)n;
	ready = true;
}

/* Runs the loop until *@a flag or @a count reaches @a want. */
static void
wait_until(const int *count, int want)
{
	uint64_t t0 = uv_now(&loop);
	while (*count < want) {
		cr_assert_lt(uv_now(&loop) - t0, WAIT_MS,
			     "waited for %d, got %d", want, *count);
		uv_run(&loop, UV_RUN_ONCE);
	}
}

static void
node_start(uint32_t executors, uint32_t max_calls)
{
	log_set_level(LOG_LVL_ERROR);
	uv_loop_init(&loop);
	struct actor_sys_env env;
	loop_driver_env(&drv, &loop, &env);
	actor_sys_init(&sys, SELF, &env, NULL, 1);
	loop_driver_start(&drv, &sys);
	struct pool_config pc;
	pool_config_default(&pc);
	pc.exe = getenv("MIST_BIN");
	cr_assert(pc.exe, "MIST_BIN is set by make check");
	pc.plugins[pc.nplugins++] = BUILDDIR "/tests/plugins/.libs/testfns.so";
	pc.executors = executors;
	ready = false;
	max_batch = 0;
	pool = pool_open(&loop, &pc, on_done, on_ready, &sys);
	cr_assert(pool);
	uint64_t t0 = uv_now(&loop);
	while (!ready) {
		cr_assert_lt(uv_now(&loop) - t0, WAIT_MS, "executors ready");
		uv_run(&loop, UV_RUN_ONCE);
	}
	struct func_config fc;
	func_config_default(&fc);
	snprintf(fc.name, sizeof(fc.name), "self");
	if (max_calls)
		fc.max_calls = max_calls;
	cr_assert_eq(func_spawn(&sys, &fc, &pool_real_ops, pool), 0);
	memset(&cl, 0, sizeof(cl));
	map_init(&cl.corrs, 3);
	cl.bodies = bodies;
	cl.actor = actor_spawn(&sys, 0, "client", client_fn, &cl);
	for (int i = 0; i < MAXQ; i++)
		bodies[i] = (struct buf)BUF_INIT;
}

/* As the agent stops: the actors first, then the pool (unless the test
 * closed it: it frees itself once its handles are closed). */
static void
node_stop(bool pool_closed)
{
	actor_sys_shutdown(&sys);
	while (actor_sys_has_work(&sys))
		uv_run(&loop, UV_RUN_NOWAIT);
	if (!pool_closed)
		pool_close(pool);
	loop_driver_close(&drv);
	uv_run(&loop, UV_RUN_DEFAULT);
	actor_sys_destroy(&sys);
	cr_assert_eq(uv_loop_close(&loop), 0);
	for (int i = 0; i < MAXQ; i++)
		buf_destroy(&bodies[i]);
}

/* Body @a i: a call of @a fn with @a params (msgpack, @a plen bytes). */
static void
body_set(int i, const char *fn, uint32_t deadline_ms, const void *params,
	 uint32_t plen)
{
	struct buf *b = &bodies[i];
	buf_reset(b);
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 5);
	mp_pack_str(&pk, "app1");
	mp_pack_str(&pk, fn);
	msgpack_pack_uint32(&pk, deadline_ms);
	msgpack_pack_map(&pk, 2);
	mp_pack_str(&pk, "master");
	msgpack_pack_false(&pk);
	mp_pack_str(&pk, "ip");
	mp_pack_str(&pk, "127.0.0.1");
	msgpack_pack_bin_with_body(&pk, params, plen);
}

/* Sends bodies [first, first + count) in one turn of the client. */
static void
ask(int first, int count)
{
	struct msg *m = actor_local_msg(&sys, cl.actor->id, T_ASK, NULL, 0);
	m->corr = (uint64_t)first << 32 | (uint32_t)count;
	actor_sys_deliver(&sys, m);
}

/* One call, answered: its answer. */
static const struct answer *
call(int i, const char *fn, uint32_t deadline_ms, const void *params,
     uint32_t plen)
{
	body_set(i, fn, deadline_ms, params, plen);
	int want = cl.answered + 1;
	ask(i, 1);
	wait_until(&cl.answered, want);
	cr_assert_eq(cl.ans[i].n, 1, "answered once");
	return &cl.ans[i];
}

/* The reply [status, x]: status, and x's bytes (bin or str). */
static int
reply_parse(const struct answer *a, const uint8_t **x, uint32_t *xlen)
{
	cr_assert_eq(a->status, 0, "a reply, not an error: %s",
		     mist_strerror(a->status));
	cr_assert_eq(a->type, MSG_FN_CALL);
	struct mp_cur c;
	uint32_t n;
	uint64_t st;
	mp_cur_init(&c, a->body, a->len);
	cr_assert_eq(mp_read_array(&c, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(mp_read_uint(&c, &st), 0);
	if (st == 0) {
		cr_assert_eq(mp_read_bin(&c, x, xlen), 0);
	} else {
		cr_assert_eq(mp_read_str(&c, (const char **)x, xlen), 0);
		cr_log_info("the function failed: %.*s", (int)*xlen,
			    (const char *)*x);
	}
	cr_assert_eq(mp_cur_left(&c), 0);
	return (int)st;
}

static struct func_stats stats;

static void
stats_read(void)
{
	cr_assert_eq(func_stats(&sys, &stats), 0);
}

static const struct func_fn_stats *
fn_stats(const char *name)
{
	for (uint32_t i = 0; i < stats.nfns; i++)
		if (strcmp(stats.fns[i].name, name) == 0)
			return &stats.fns[i];
	return NULL;
}

/* ----------------------------------------------------------- tests */

Test(fncall, a_function_answers_its_result_and_a_failure_its_message,
     .timeout = 60)
{
	node_start(2, 0);
	/* {"name": "ann"} -> {"hello": "ann"} */
	static const uint8_t ann[] = "\x81\xa4name\xa3" "ann";
	const struct answer *a = call(0, "hello", 5000, ann, sizeof(ann) - 1);
	const uint8_t *x;
	uint32_t xl;
	cr_assert_eq(reply_parse(a, &x, &xl), 0);
	static const uint8_t want[] = "\x81\xa5hello\xd9\x03" "ann";
	cr_assert_eq(xl, sizeof(want) - 1);
	cr_assert_arr_eq(x, want, xl);
	/* no name: a string */
	a = call(1, "hello", 5000, "\x80", 1);
	cr_assert_eq(reply_parse(a, &x, &xl), 0);
	cr_assert_eq(xl, 6);
	cr_assert_arr_eq(x, "\xa5hello", 6);
	/* echo: the params, as they were sent */
	a = call(2, "echo", 5000, "\x92\x01\xa1z", 4);
	cr_assert_eq(reply_parse(a, &x, &xl), 0);
	cr_assert_eq(xl, 4);
	cr_assert_arr_eq(x, "\x92\x01\xa1z", 4);
	/* no params at all: the function is given nil */
	a = call(3, "echo", 5000, "", 0);
	cr_assert_eq(reply_parse(a, &x, &xl), 0);
	cr_assert_eq(xl, 1);
	cr_assert_eq(x[0], 0xc0);
	/* fail: status 1 and the function's message */
	a = call(4, "fail", 5000, "\xc0", 1);
	cr_assert_eq(reply_parse(a, &x, &xl), 1);
	cr_assert_eq(xl, 4);
	cr_assert_arr_eq(x, "boom", 4);
	/* a crash fails the call, not the node */
	a = call(5, "crash", 5000, "\xc0", 1);
	cr_assert_eq(reply_parse(a, &x, &xl), 1);
	cr_assert(xl > 0);
	a = call(6, "hello", 5000, "\xc0", 1);
	cr_assert_eq(reply_parse(a, &x, &xl), 0);
	stats_read();
	cr_assert_eq(stats.calls, 7);
	cr_assert_eq(stats.ok, 5);
	cr_assert_eq(stats.failures, 2);
	cr_assert_eq(stats.in_flight, 0);
	cr_assert_eq(stats.in_flight_bytes, 0);
	cr_assert_eq(fn_stats("hello")->calls, 3);
	cr_assert_eq(fn_stats("fail")->failures, 1);
	cr_assert_eq(fn_stats("echo")->calls, 2);
	node_stop(false);
}

Test(fncall, calls_refused_before_they_run_get_actor_errors, .timeout = 60)
{
	node_start(1, 0);
	cr_assert_eq(call(0, "nosuch", 5000, "\xc0", 1)->status,
		     MIST_ENOTFOUND);
	char longname[EXEC_NAME_MAX + 8];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(call(1, longname, 5000, "\xc0", 1)->status,
		     MIST_ENOTFOUND);
	/* a spent budget: not run */
	cr_assert_eq(call(2, "hello", 0, "\xc0", 1)->status, MIST_ETIMEDOUT);
	/* params that are not one msgpack object */
	cr_assert_eq(call(3, "echo", 5000, "\xc1", 1)->status, MIST_EPROTO);
	cr_assert_eq(call(4, "echo", 5000, "\x01\x02", 2)->status,
		     MIST_EPROTO);
	/* params over the bound */
	uint32_t big = FUNC_CALL_MAX_PARAMS + 16;
	uint8_t *p = calloc(1, big);
	p[0] = 0xc6; /* bin32 */
	uint32_t bl = big - 5;
	p[1] = (uint8_t)(bl >> 24), p[2] = (uint8_t)(bl >> 16);
	p[3] = (uint8_t)(bl >> 8), p[4] = (uint8_t)bl;
	cr_assert_eq(call(5, "echo", 5000, p, big)->status, MIST_E2BIG);
	free(p);
	/* a body that is not the request */
	buf_reset(&bodies[6]);
	buf_append(&bodies[6], "\x93\xa1" "a\xa1" "b\x01", 6);
	ask(6, 1);
	wait_until(&cl.answered, cl.answered + 1);
	cr_assert_eq(cl.ans[6].status, MIST_EPROTO);
	stats_read();
	cr_assert_eq(stats.unknown, 2);
	cr_assert_eq(stats.timeouts, 1);
	cr_assert_eq(stats.refused, 4);
	cr_assert(fn_stats("hello") == NULL, "hello never ran");
	node_stop(false);
}

Test(fncall, a_function_past_its_deadline_is_killed_and_replaced,
     .timeout = 60)
{
	node_start(1, 0);
	/* spin burns CPU until killed: the pool's limits are a minute and
	 * two, so only the call's 300 ms can stop it in time */
	cr_assert_eq(call(0, "spin", 300, "\xc0", 1)->status, MIST_ETIMEDOUT);
	/* a sleeper too (wall time, not CPU) */
	cr_assert_eq(call(1, "sleepy", 300, "\x81\xa2ms\xcd\x27\x10", 7)->status,
		     MIST_ETIMEDOUT);
	/* the executor was replaced: the next call runs */
	const uint8_t *x;
	uint32_t xl;
	cr_assert_eq(reply_parse(call(2, "hello", 5000, "\xc0", 1), &x, &xl),
		     0);
	/* a short sleep within its deadline is not a timeout */
	cr_assert_eq(reply_parse(call(3, "sleepy", 5000, "\x81\xa2ms\x14", 5),
				 &x, &xl), 0);
	cr_assert_eq(xl, 9); /* int64 20 */
	cr_assert_eq(x[8], 20);
	/* calls pipelined behind a spinning one on the same executor are
	 * not its victims: they run on the replacement */
	body_set(4, "spin", 300, "\xc0", 1);
	for (int i = 5; i < 15; i++)
		body_set(i, "echo", 5000, "\x2a", 1);
	int want = cl.answered + 11;
	ask(4, 11);
	wait_until(&cl.answered, want);
	cr_assert_eq(cl.ans[4].status, MIST_ETIMEDOUT);
	for (int i = 5; i < 15; i++) {
		cr_assert_eq(cl.ans[i].n, 1);
		cr_assert_eq(reply_parse(&cl.ans[i], &x, &xl), 0);
		cr_assert_eq(xl, 1);
		cr_assert_eq(x[0], 0x2a);
	}
	stats_read();
	cr_assert_eq(stats.timeouts, 3);
	cr_assert_eq(fn_stats("spin")->timeouts, 2);
	cr_assert_eq(fn_stats("sleepy")->timeouts, 1);
	cr_assert_eq(stats.ok, 12);
	node_stop(false);
}

Test(fncall, a_thousand_calls_at_once_are_each_answered_once,
     .timeout = 60)
{
	enum { N = 1000 };
	node_start(2, 0);
	for (int i = 0; i < N; i++) {
		uint8_t p[5] = {0xce, (uint8_t)(i >> 24), (uint8_t)(i >> 16),
				(uint8_t)(i >> 8), (uint8_t)i};
		body_set(i, "echo", WAIT_MS, p, 5);
	}
	ask(0, N); /* one turn: all in flight together */
	wait_until(&cl.answered, N);
	for (int i = 0; i < N; i++) {
		const uint8_t *x;
		uint32_t xl;
		cr_assert_eq(cl.ans[i].n, 1, "call %d answered once", i);
		cr_assert_eq(reply_parse(&cl.ans[i], &x, &xl), 0);
		uint8_t p[5] = {0xce, (uint8_t)(i >> 24), (uint8_t)(i >> 16),
				(uint8_t)(i >> 8), (uint8_t)i};
		cr_assert_eq(xl, 5);
		cr_assert_arr_eq(x, p, 5, "call %d got its own result", i);
	}
	stats_read();
	cr_assert_eq(stats.ok, N);
	cr_assert_eq(stats.in_flight, 0);
	cr_assert_eq(stats.in_flight_max, N, "all were in flight at once");
	/* pipelined: one read from an executor ended many calls */
	cr_assert_gt(max_batch, 1, "results per pool event: %u", max_batch);
	cr_log_info("1000 calls: at most %u results per pool event",
		    max_batch);
	node_stop(false);
}

Test(fncall, calls_past_the_in_flight_bound_are_refused, .timeout = 60)
{
	enum { MAX = 4 };
	node_start(1, MAX);
	for (int i = 0; i <= MAX; i++)
		body_set(i, "sleepy", 5000, "\x81\xa2ms\x32", 5); /* 50 ms */
	ask(0, MAX + 1);
	wait_until(&cl.answered, MAX + 1);
	/* the last one found the table full: refused at once */
	cr_assert_eq(cl.ans[MAX].status, MIST_EOVERLOAD);
	for (int i = 0; i < MAX; i++) {
		const uint8_t *x;
		uint32_t xl;
		cr_assert_eq(reply_parse(&cl.ans[i], &x, &xl), 0);
	}
	/* the slots are free again */
	const uint8_t *x;
	uint32_t xl;
	cr_assert_eq(reply_parse(call(MAX + 1, "hello", 5000, "\xc0", 1), &x,
				 &xl), 0);
	stats_read();
	cr_assert_eq(stats.overloaded, 1);
	cr_assert_eq(stats.in_flight_max, MAX);
	node_stop(false);
}

Test(fncall, calls_in_flight_at_close_are_answered, .timeout = 60)
{
	node_start(1, 0);
	for (int i = 0; i < 3; i++)
		body_set(i, "sleepy", 20000, "\x81\xa2ms\xcd\x13\x88", 7);
	ask(0, 3);
	/* wait until the actor took them */
	uint64_t t0 = uv_now(&loop);
	do {
		cr_assert_lt(uv_now(&loop) - t0, WAIT_MS);
		uv_run(&loop, UV_RUN_NOWAIT);
		stats_read();
	} while (stats.in_flight < 3);
	pool_close(pool);
	wait_until(&cl.answered, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(cl.ans[i].status, MIST_ECLOSED);
	stats_read();
	cr_assert_eq(stats.in_flight, 0);
	cr_assert_eq(stats.refused, 3);
	node_stop(true);
}

Test(fncall, the_codec_reads_what_it_writes_and_refuses_the_malformed)
{
	struct buf b = BUF_INIT;
	static const uint8_t caller[] = "\x81\xa6master\xc3";
	fncall_pack(&b, "app1", "hello", 250, caller, sizeof(caller) - 1,
		    (const uint8_t *)"\x91\x07", 2);
	struct fncall_req q;
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), 0);
	cr_assert_eq(q.app_len, 4);
	cr_assert_arr_eq(q.app, "app1", 4);
	cr_assert_eq(q.fn_len, 5);
	cr_assert_arr_eq(q.fn, "hello", 5);
	cr_assert_eq(q.deadline_ms, 250);
	cr_assert_eq(q.caller_len, sizeof(caller) - 1);
	cr_assert_arr_eq(q.caller, caller, q.caller_len);
	cr_assert_eq(q.params_len, 2);
	cr_assert_arr_eq(q.params, "\x91\x07", 2);
	/* no caller, no params: an empty map, nil */
	buf_reset(&b);
	fncall_pack(&b, "a", "f", 0, NULL, 0, NULL, 0);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), 0);
	cr_assert_eq(q.caller_len, 1);
	cr_assert_eq(q.params_len, 1);
	cr_assert_eq(q.params[0], 0xc0);
	/* every byte cut short is refused */
	buf_reset(&b);
	fncall_pack(&b, "app1", "hello", 250, NULL, 0,
		    (const uint8_t *)"\x07", 1);
	for (size_t n = 0; n < b.len; n++)
		cr_assert_eq(fncall_unpack(b.data, n, &q), MIST_EPROTO);
	/* an empty or too long app; caller not a map; params two objects */
	char app[FNCALL_APP_MAX + 1];
	memset(app, 'x', FNCALL_APP_MAX);
	app[FNCALL_APP_MAX] = '\0';
	const char *apps[] = {"", app};
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		fncall_pack(&b, apps[i], "f", 1, NULL, 0, NULL, 0);
		cr_assert_eq(fncall_unpack(b.data, b.len, &q), MIST_EPROTO);
	}
	app[FNCALL_APP_MAX - 1] = '\0'; /* 63 bytes: the longest */
	buf_reset(&b);
	fncall_pack(&b, app, "f", 1, NULL, 0, NULL, 0);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), 0);
	buf_reset(&b);
	fncall_pack(&b, "a", "f", 1, (const uint8_t *)"\x90", 1, NULL, 0);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), MIST_EPROTO);
	buf_reset(&b);
	fncall_pack(&b, "a", "f", 1, NULL, 0, (const uint8_t *)"\x01\x02", 2);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), MIST_EPROTO);
	/* declared reads: a sixth field, kept as bytes; its bounds */
	struct fncall_read rd = {"/classes/Item/x1", 16, 404, "{\"code\":101}", 12};
	buf_reset(&b);
	fncall_pack_reads(&b, "a", "f", 1, NULL, 0, NULL, 0, &rd, 1);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), 0);
	cr_assert_eq(q.nreads, 1);
	cr_assert_not_null(q.reads);
	cr_assert_eq(q.reads + q.reads_len, b.data + b.len, "the last field");
	for (size_t n = 0; n < b.len; n++)
		cr_assert_eq(fncall_unpack(b.data, n, &q), MIST_EPROTO);
	const struct fncall_read bad[] = {
		{"classes/Item/x1", 15, 200, "{}", 2}, /* no '/' first */
		{"", 0, 200, "{}", 2},
		{"/x", 2, 99, "{}", 2}, /* not an HTTP status */
		{"/x", 2, 600, "{}", 2},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		fncall_pack_reads(&b, "a", "f", 1, NULL, 0, NULL, 0, &bad[i], 1);
		cr_assert_eq(fncall_unpack(b.data, b.len, &q), MIST_EPROTO,
			     "bad read %zu", i);
	}
	struct fncall_read many[FNCALL_MAX_READS + 1];
	for (size_t i = 0; i <= FNCALL_MAX_READS; i++)
		many[i] = rd;
	buf_reset(&b);
	fncall_pack_reads(&b, "a", "f", 1, NULL, 0, NULL, 0, many,
			  FNCALL_MAX_READS);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), 0);
	cr_assert_eq(q.nreads, FNCALL_MAX_READS);
	buf_reset(&b);
	fncall_pack_reads(&b, "a", "f", 1, NULL, 0, NULL, 0, many,
			  FNCALL_MAX_READS + 1);
	cr_assert_eq(fncall_unpack(b.data, b.len, &q), MIST_EPROTO);
	/* the templates (function/fnread.h) and the paths they give */
	struct fnread fr;
	char path[FNREAD_PATH_MAX];
	const char *t = "/classes/Item/{id}";
	cr_assert_eq(fnread_parse(t, strlen(t), &fr), 0);
	cr_assert_eq(fr.route, FNREAD_CLASSES);
	cr_assert_str_eq(fr.cls, "Item");
	cr_assert_str_eq(fr.param, "id");
	cr_assert_eq(fnread_path(&fr, "x-1_Z", path), strlen("/classes/Item/x-1_Z"));
	cr_assert_str_eq(path, "/classes/Item/x-1_Z");
	char built[512];
	size_t bn;
	cr_assert_eq(mist_host_path_(built, sizeof(built), &bn, "Item", "x-1_Z"), 0);
	cr_assert_str_eq(path, built, "what mist_doc_get builds");
	t = "/users/{uid}";
	cr_assert_eq(fnread_parse(t, strlen(t), &fr), 0);
	cr_assert_eq(fr.route, FNREAD_USERS);
	cr_assert_str_eq(fr.cls, "_User");
	fnread_path(&fr, "u1", path);
	cr_assert_str_eq(path, "/users/u1");
	t = "/roles/{r}";
	cr_assert_eq(fnread_parse(t, strlen(t), &fr), 0);
	cr_assert_eq(fr.route, FNREAD_ROLES);
	const char *refused[] = {"", "/classes/Item", "/classes/Item/", "/classes/Item/id",
		"/classes/Item/{}", "/classes/Item/{1d}", "/classes/It em/{id}",
		"/classes/1tem/{id}", "/classes/Item/{id}/x", "/users/me",
		"/functions/{f}", "/classes/{c}/{id}", "/roles/{a-b}",
		"classes/Item/{id}"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		cr_assert_eq(fnread_parse(refused[i], strlen(refused[i]), &fr), -1,
			     "%s", refused[i]);
	char longt[FNREAD_MAX + 8];
	memset(longt, 'a', sizeof(longt));
	memcpy(longt, "/classes/I", 10);
	memcpy(longt + sizeof(longt) - 5, "/{i}", 4);
	cr_assert_eq(fnread_parse(longt, sizeof(longt) - 1, &fr), -1, "too long");
	/* replies */
	int failed;
	const uint8_t *d;
	uint32_t dl;
	buf_reset(&b);
	fncall_reply_ok_pack(&b, (const uint8_t *)"\xa2hi", 3);
	cr_assert_eq(fncall_reply_unpack(b.data, b.len, &failed, &d, &dl), 0);
	cr_assert_eq(failed, 0);
	cr_assert_eq(dl, 3);
	cr_assert_arr_eq(d, "\xa2hi", 3);
	buf_reset(&b);
	fncall_reply_fail_pack(&b, "boom");
	cr_assert_eq(fncall_reply_unpack(b.data, b.len, &failed, &d, &dl), 0);
	cr_assert_eq(failed, 1);
	cr_assert_eq(dl, 4);
	cr_assert_arr_eq(d, "boom", 4);
	buf_reset(&b);
	fncall_reply_ok_pack(&b, (const uint8_t *)"\xc1", 1); /* not msgpack */
	cr_assert_eq(fncall_reply_unpack(b.data, b.len, &failed, &d, &dl),
		     MIST_EPROTO);
	cr_assert_eq(fncall_reply_unpack((const uint8_t *)"\x92\x02\xc0", 3,
					 &failed, &d, &dl), MIST_EPROTO);
	buf_destroy(&b);
}
