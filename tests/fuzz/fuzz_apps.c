/*
 * fuzz_apps.c -- libFuzzer target for the app table's decoders
 * (gateway/apps.c): MSG_APPS requests as the gateway actor hands them over
 * (create, list, show, set, delete, and the app maps members put) to a
 * memory-only table holding one app, an app map on its own (as the table
 * loads it from LMDB), and the texts of master-key networks, client
 * addresses and keys.  The first byte picks which, so one corpus covers
 * all.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays the corpus (tests/fuzz/corpus/apps) through the same function
 * with tests/fuzz/replay.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "actors/actor.h"
#include "actors/msgtype.h"
#include "gateway/apps.h"
#include "mist.h"
#include "net/mp.h"
#include "util/log.h"

#include <sodium.h>
#include <stdio.h>
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

/* A home for every create: node 7, unless the request names "nope". */
static int
fuzz_home(void *ctx, const char *want, uint64_t *home, char *why,
	  size_t whylen)
{
	(void)ctx;
	if (want != NULL && strcmp(want, "nope") == 0) {
		snprintf(why, whylen, "no alive member %s", want);
		return MIST_ENOTFOUND;
	}
	*home = 7;
	return 0;
}

static void
fuzz_apps_fn(struct actor *self, struct msg *m)
{
	static const struct map nobody; /* no member to spread to */
	if (m->type == MSG_APPS && !(m->flags & MSG_F_REPLY))
		apps_request(self->state, self, &nobody, fuzz_home, NULL, m);
}

/* @a data as a MSG_APPS request (or, @a tell, a member's message) to a
 * table holding app "seed". */
static void
fuzz_request(const uint8_t *data, size_t size, bool tell)
{
	struct actor_sys sys;
	struct actor_sys_env env = {.now = fuzz_now};
	struct apps t;
	actor_sys_init(&sys, 42, &env, NULL, 1);
	apps_init(&t, NULL);
	struct app a;
	apps_defaults(&a);
	strcpy(a.id, "seed");
	strcpy(a.name, "seed");
	memset(a.rest_key, 'a', 64);
	memset(a.js_key, 'b', 64);
	memset(a.client_key, 'c', 64);
	memset(a.master_key, 'd', 64);
	a.rev = 1;
	apps_apply(&t, &a);
	actor_spawn(&sys, ACTOR_GATEWAY, "apps", fuzz_apps_fn, &t);
	struct msg *m = msg_new(MSG_APPS, data, (uint32_t)size);
	m->flags = tell ? 0 : MSG_F_REQUEST;
	m->corr = 1;
	m->from.node = m->to.node = 42;
	m->to.id = ACTOR_GATEWAY;
	actor_sys_deliver(&sys, m);
	actor_sys_run(&sys, 16);
	actor_sys_shutdown(&sys);
	while (actor_sys_has_work(&sys))
		actor_sys_run(&sys, 64);
	actor_sys_destroy(&sys);
	apps_destroy(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		log_set_level(LOG_LVL_ERROR); /* refusals are expected */
		ready = true;
	}
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 4;
	data++, size--;
	if (mode == 0 || mode == 1) {
		size_t used;
		/* the gateway gets bodies the wire decoder checked */
		if (mp_check(data, size, MP_MAX_DEPTH, &used) == 0 &&
		    used == size)
			fuzz_request(data, size, mode == 1);
	} else if (mode == 2) {
		struct app a;
		struct mp_cur c;
		mp_cur_init(&c, data, size);
		if (apps_read(&c, &a, true) != 0) {
			mp_cur_init(&c, data, size);
			apps_read(&c, &a, false);
		}
	} else {
		char text[128];
		if (size >= sizeof(text))
			return 0;
		memcpy(text, data, size);
		text[size] = '\0';
		struct app a;
		apps_defaults(&a);
		memset(a.master_key, 'd', 64);
		if (apps_net_parse(text, &a.master_nets[0]) == 0) {
			char out[64];
			apps_net_format(&a.master_nets[0], out, sizeof(out));
			struct app_net again;
			if (apps_net_parse(out, &again) != 0 ||
			    memcmp(&again, &a.master_nets[0], sizeof(again)) != 0)
				abort(); /* formatting is parsing's inverse */
		}
		apps_master_allowed(&a, text);
		apps_key_kind(&a, text);
	}
	return 0;
}
