/*
 * fuzz_fncall.c -- libFuzzer target for add-on function calls: the
 * MSG_FN_CALL codec (function/fncall.h) on raw bytes, and sequences of
 * calls and pool results fed to a real function actor whose pool is a
 * fake that ends tasks when the input says.
 *
 * The first byte picks: even, the codec (request and reply decoders on
 * the rest); odd, a sequence of records [kind, arg, len u16, body]:
 *   kind % 4 == 0  a MSG_FN_CALL request with the body (arg & 1: a
 *                  one-way message instead; arg & 2: from another node)
 *   kind % 4 == 1  the fake pool ends its task number arg (mod those
 *                  pending): status 0 with the body as its one output
 *                  (or two outputs if arg & 0x80), MIST_ETASK with the
 *                  body as message, or MIST_ECLOSED, by (kind / 4) % 3
 *   kind % 4 == 2  a request built well (fncall_pack) calling function
 *                  arg % 3 ("f", "g", or one not offered), deadline
 *                  arg * 10 ms, params the body (may be malformed)
 *   kind % 4 == 3  arg x 10 ms pass
 * At the end the actor stops with calls in flight, and every task left
 * is ended after it: nothing may leak or be answered twice.
 *
 * `make check` replays tests/fuzz/corpus/fncall through it (replay.c).
 */
#include "actors/actor.h"
#include "exec/exec.h"
#include "function/fncall.h"
#include "function/function.h"
#include "mist.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_clock = 1000;

static uint64_t
fuzz_now(void *ctx)
{
	(void)ctx;
	return fuzz_clock;
}

static int
fuzz_drop(void *ctx, struct msg *m)
{
	(void)ctx;
	msg_delete(m);
	return 0;
}

/* The fake pool: the keys of the tasks not yet ended. */
#define FUZZ_MAX_TASKS 64
static uint64_t pending[FUZZ_MAX_TASKS];
static uint32_t npending;

static int
fp_fn_index(void *pool, const char *name, uint32_t len)
{
	(void)pool;
	if (len == 1 && name[0] == 'f')
		return 0;
	if (len == 1 && name[0] == 'g')
		return 1;
	return -1;
}

static int
fp_submit(void *pool, uint64_t key, uint32_t fn, const uint8_t *args,
	  uint32_t alen, const struct mist_blob *in, uint32_t nin,
	  uint32_t nout, uint32_t wall_ms)
{
	(void)pool, (void)fn, (void)args, (void)alen, (void)in, (void)nin;
	(void)nout, (void)wall_ms;
	if (npending == FUZZ_MAX_TASKS)
		return MIST_ECLOSED; /* the actor must cope with a refusal */
	pending[npending++] = key;
	return 0;
}

static const struct pool_ops fuzz_pool = {fp_fn_index, fp_submit, NULL, NULL,
					  NULL};

/* Ends pending task @a i as the real pool would (func_result_post). */
static void
fuzz_end(struct actor_sys *sys, uint32_t i, int how, uint8_t arg,
	 const uint8_t *body, uint32_t len)
{
	uint64_t key = pending[i];
	pending[i] = pending[--npending];
	struct func_result *r;
	if (how == 0) {
		uint32_t nout = arg & 0x80 ? 2 : 1;
		r = func_result_new(key, 0, NULL, nout, 1);
		for (uint32_t k = 0; k < nout; k++)
			r->outs[k] = vval_new(body, len);
	} else {
		char msg[64];
		snprintf(msg, sizeof(msg), "%.*s", (int)(len < 63 ? len : 63),
			 (const char *)body);
		r = func_result_new(key, how == 1 ? MIST_ETASK : MIST_ECLOSED,
				    msg, 0, 1);
	}
	func_result_post(sys, r);
}

static void
fuzz_actor(const uint8_t *data, size_t size)
{
	struct actor_sys sys;
	struct actor_sys_env env = {.now = fuzz_now, .remote_send = fuzz_drop};
	actor_sys_init(&sys, 42, &env, NULL, 1);
	struct func_config fc;
	func_config_default(&fc);
	fc.max_calls = 16; /* small: the bound is reached */
	func_spawn(&sys, &fc, &fuzz_pool, NULL);
	npending = 0;
	uint64_t corr = 0;
	while (size >= 4) {
		uint8_t kind = data[0], arg = data[1];
		size_t len = (size_t)data[2] << 8 | data[3];
		data += 4, size -= 4;
		if (len > size)
			len = size;
		struct msg *m = NULL;
		switch (kind % 4) {
		case 0:
			m = msg_new(MSG_FN_CALL, data, (uint32_t)len);
			break;
		case 1:
			if (npending)
				fuzz_end(&sys, arg % npending, (kind / 4) % 3,
					 arg, data, (uint32_t)len);
			break;
		case 2: {
			static const char *const names[] = {"f", "g", "nosuch"};
			struct buf b = BUF_INIT;
			fncall_pack(&b, "app", names[arg % 3], arg * 10u, NULL,
				    0, data, (uint32_t)len);
			m = msg_new(MSG_FN_CALL, b.data, (uint32_t)b.len);
			buf_destroy(&b);
			break;
		}
		default:
			fuzz_clock += arg * 10u;
			actor_sys_expire(&sys);
		}
		if (m) {
			m->flags = kind % 4 == 0 && (arg & 1) ? 0 : MSG_F_REQUEST;
			m->corr = ++corr;
			m->from.node = kind % 4 == 0 && (arg & 2) ? 7 : 42;
			m->from.id = ACTOR_GATEWAY;
			m->to.node = 42;
			m->to.id = ACTOR_FUNCTION;
			actor_sys_deliver(&sys, m);
		}
		actor_sys_run(&sys, 256);
		data += len, size -= len;
	}
	actor_sys_shutdown(&sys);
	while (actor_sys_has_work(&sys))
		actor_sys_run(&sys, 256);
	/* the pool outlives the actor: its late results are dropped */
	while (npending)
		fuzz_end(&sys, 0, 2, 0, (const uint8_t *)"", 0);
	actor_sys_destroy(&sys);
}

static void
fuzz_codec(const uint8_t *p, size_t len)
{
	struct fncall_req q;
	if (fncall_unpack(p, len, &q) == 0) {
		/* what was read re-encodes to something that reads the same */
		char app[FNCALL_APP_MAX], fn[256];
		snprintf(app, sizeof(app), "%.*s", (int)q.app_len, q.app);
		snprintf(fn, sizeof(fn), "%.*s",
			 (int)(q.fn_len < 255 ? q.fn_len : 255), q.fn);
		struct buf b = BUF_INIT;
		fncall_pack(&b, app, fn, q.deadline_ms, q.caller, q.caller_len,
			    q.params, q.params_len);
		struct fncall_req r;
		if (memchr(q.app, 0, q.app_len) == NULL && /* else cut */
		    (fncall_unpack(b.data, b.len, &r) != 0 ||
		     r.deadline_ms != q.deadline_ms ||
		     r.params_len != q.params_len ||
		     memcmp(r.params, q.params, q.params_len) != 0))
			abort();
		buf_destroy(&b);
	}
	int failed;
	const uint8_t *d;
	uint32_t dl;
	fncall_reply_unpack(p, len, &failed, &d, &dl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	log_set_level(LOG_LVL_ERROR);
	if (data[0] % 2 == 0)
		fuzz_codec(data + 1, size - 1);
	else
		fuzz_actor(data + 1, size - 1);
	return 0;
}
