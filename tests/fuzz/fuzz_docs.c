/*
 * fuzz_docs.c -- libFuzzer target: any bytes as the body of a
 * MSG_ACC_REQUEST to ACTOR_DOCS (a real actor system, loop and LMDB in a
 * temporary directory, made once per process).  Every input must get
 * exactly one answer -- a reply with an HTTP status, never a crash, a
 * hang or silence.  tests/fuzz/replay_docs runs the corpus in make check.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "accessory/docs.h"
#include "actors/actor.h"
#include "net/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define F_COLLECT 70
#define F_KICK 200 /* local: body = the request to send */

static uv_loop_t loop;
static struct loop_driver drv;
static struct actor_sys sys;
static char dir[] = "/tmp/mist-fuzz-docs-XXXXXX";
static int answers;

static void
collect_fn(struct actor *self, struct msg *m)
{
	if (m->type == F_KICK) {
		/* a request of ours: its reply (or a timeout) comes back */
		actor_request(self, (struct actor_ref){sys.node, ACTOR_DOCS},
			      MSG_ACC_REQUEST, m->body, m->len, 30000, NULL);
		return;
	}
	if (m->flags & MSG_F_REPLY)
		answers++;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void
cleanup(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
init_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(cleanup);
	uv_loop_init(&loop);
	struct actor_sys_env env;
	loop_driver_env(&drv, &loop, &env);
	actor_sys_init(&sys, 1, &env, NULL, 1);
	loop_driver_start(&drv, &sys);
	struct docs_config cfg;
	docs_config_default(&cfg);
	cfg.lmdb.map_initial = 1 << 20;
	int err;
	if (docs_spawn(&sys, &loop, dir, &cfg, &err) == NULL)
		abort();
	actor_spawn(&sys, F_COLLECT, "collect", collect_fn, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size > (2u << 20))
		return 0;
	int before = answers;
	struct msg *m =
		actor_local_msg(&sys, F_COLLECT, F_KICK, data, (uint32_t)size);
	if (actor_sys_deliver(&sys, m) < 0)
		abort();
	/* writes answer once durable, hashes once computed: bounded wait */
	for (int i = 0; i < 200000 && answers == before; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (answers == before)
			usleep(50);
	}
	if (answers != before + 1)
		abort(); /* silence, or two answers */
	return 0;
}
