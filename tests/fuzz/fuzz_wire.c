/*
 * fuzz_wire.c -- libFuzzer target for every decoder that reads network
 * bytes: the frame splitter, the envelope decoder (through the batched
 * payload decoder), the link hello, the msgpack walker, the gossip packet
 * and push/pull decoders (fed to a real SWIM actor) and the sealed-datagram
 * opener.  The first byte picks the decoder, so one corpus covers all.
 *
 * Built with clang -fsanitize=fuzzer under --enable-fuzzing; `make check`
 * replays the corpus (tests/fuzz/corpus/wire, every crash ever found
 * included) through the same function with tests/fuzz/replay.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "actors/msg.h"
#include "net/link.h"
#include "actors/actor.h"
#include "net/keyring.h"
#include "net/mp.h"
#include "net/swim.h"
#include "net/wire.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
drop_cb(void *ctx, struct msg *m)
{
	(void)ctx;
	msg_delete(m);
	return 0;
}

static uint64_t fuzz_clock = 1000000;

static uint64_t
fuzz_now(void *ctx)
{
	(void)ctx;
	return fuzz_clock;
}

static void
fuzz_udp_send(void *ctx, const struct sockaddr_storage *to, const uint8_t *p,
	      size_t n)
{
	(void)ctx, (void)to, (void)p, (void)n;
}

/* Hands @a data to a fresh SWIM actor as a datagram or a push/pull. */
static void
fuzz_swim(const uint8_t *data, size_t size, bool sync)
{
	struct actor_sys sys;
	struct actor_sys_env env = {.now = fuzz_now};
	actor_sys_init(&sys, 42, &env, NULL, 1);
	struct swim_transport tr = {fuzz_udp_send, NULL};
	struct swim_self self = {.name = "fuzz"};
	swim_spawn(&sys, NULL, &tr, &self);
	struct msg *m;
	if (sync) {
		m = msg_new(MSG_SWIM_SYNC, data, (uint32_t)size);
		m->flags = MSG_F_REQUEST;
		m->corr = 1;
		m->from.node = 7;
	} else {
		m = msg_new(MSG_GOSSIP_PACKET, NULL,
			    (uint32_t)(sizeof(struct sockaddr_storage) + size));
		memset(m->body, 0, sizeof(struct sockaddr_storage));
		memcpy(m->body + sizeof(struct sockaddr_storage), data, size);
		m->flags = MSG_F_LOCAL;
		m->from.node = 42;
	}
	m->to.node = 42;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(&sys, m);
	actor_sys_run(&sys, 16);
	fuzz_clock += 60000; /* let whatever the input started time out */
	actor_sys_expire(&sys);
	actor_sys_run(&sys, 64);
	actor_sys_shutdown(&sys);
	while (actor_sys_has_work(&sys))
		actor_sys_run(&sys, 64);
	actor_sys_destroy(&sys);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0] % 6;
	data++, size--;
	if (mode == 0) {
		/* a stream of frames, each a batch of envelopes */
		while (size > 0) {
			const uint8_t *p;
			size_t n;
			int used = wire_frame_parse(data, size, 65536, &p, &n);
			if (used <= 0)
				break;
			wire_payload_decode(p, n, 65536, 1000, drop_cb, NULL);
			data += used;
			size -= (size_t)used;
		}
	} else if (mode == 1) {
		struct link_hello h;
		link_hello_decode(data, size, &h);
	} else if (mode == 3 || mode == 4) {
		fuzz_swim(data, size, mode == 4);
	} else if (mode == 5) {
		static struct keyring k;
		static int ready;
		uint8_t out[2048];
		size_t n;
		if (!ready) {
			uint8_t key[32] = {1};
			keyring_init(&k, key);
			ready = 1;
		}
		if (size <= sizeof(out))
			gossip_open(&k, data, size, out, &n);
	} else {
		size_t used;
		if (mp_check(data, size, MP_MAX_DEPTH, &used) == 0) {
			struct mp_cur c;
			mp_cur_init(&c, data, used);
			while (mp_cur_left(&c) > 0 && mp_skip(&c) == 0)
				;
		}
	}
	return 0;
}
