/*
 * fuzz_wire.c -- libFuzzer target for every decoder that reads network
 * bytes: the frame splitter (net/stream.h), the envelope decoder (through the batched
 * payload decoder), the link hello, the msgpack walker, the gossip packet
 * and push/pull decoders (fed to a real SWIM actor), the sealed-datagram
 * opener, and the job messages -- client requests as the gateway forwards
 * them, and the workers' and owners' TASK_RUN, TASK_DONE, VALUE_GET,
 * VALUE_FREE and VALUE_COPY (checkpoints) -- fed in sequences to a real data manager and function
 * actor -- the job codec's other decoders and the node metadata (after
 * the msgpack walker), a client's first Noise message and credential
 * text, and MSG_CREDS requests (with the cred maps members put) to a
 * credential table.  The first byte picks the decoder, so one corpus
 * covers all.
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
#include "data/data.h"
#include "data/jobmsg.h"
#include "data/meta.h"
#include "function/function.h"
#include "actors/msgtype.h"
#include "gateway/creds.h"
#include "gateway/gateway.h"
#include "net/keyring.h"
#include "net/noise.h"
#include "net/mp.h"
#include "net/stream.h"
#include "net/swim.h"
#include "net/wire.h"
#include "util/log.h"

#include <stdlib.h>
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

/* Lets @a ms pass (whatever the input started times out), then stops and
 * frees the actor system. */
static void
fuzz_sys_end(struct actor_sys *sys, uint64_t ms)
{
	fuzz_clock += ms;
	actor_sys_expire(sys);
	actor_sys_run(sys, 1024);
	actor_sys_shutdown(sys);
	while (actor_sys_has_work(sys))
		actor_sys_run(sys, 64);
	actor_sys_destroy(sys);
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
	fuzz_sys_end(&sys, 60000);
}

static void
fuzz_creds_fn(struct actor *self, struct msg *m)
{
	static const struct map nobody; /* no member to spread to */
	if (m->type == MSG_CREDS)
		creds_request(self->state, self, &nobody, m);
}

/* @a data as a MSG_CREDS request to a fresh, memory-only credential table
 * (as the gateway actor hands it over): the request's and a put's decoder. */
static void
fuzz_creds(const uint8_t *data, size_t size)
{
	struct actor_sys sys;
	struct actor_sys_env env = {.now = fuzz_now};
	struct creds t;
	actor_sys_init(&sys, 42, &env, NULL, 1);
	creds_init(&t, NULL, 1);
	actor_spawn(&sys, ACTOR_GATEWAY, "creds", fuzz_creds_fn, &t);
	struct msg *m = msg_new(MSG_CREDS, data, (uint32_t)size);
	m->flags = MSG_F_REQUEST;
	m->corr = 1;
	m->from.node = m->to.node = 42;
	m->to.id = ACTOR_GATEWAY;
	actor_sys_deliver(&sys, m);
	actor_sys_run(&sys, 16);
	fuzz_sys_end(&sys, 0);
	creds_destroy(&t);
}

/*
 * A sequence of messages to a fresh data manager and function actor (node
 * 42, offering "f" and "g"; no executors, so its function actor refuses
 * every task).  Each record: type selector,
 * flags (1 request, 2 reply, 4 from node 7 instead of a local client,
 * 8 to the function actor, 16 then let 5 s pass, 32 the selector picks
 * from the later types -- so that the corpus's older records keep their
 * meaning), correlation id, 16-bit length, body.  Job ids are predictable (boot 1): (1 << 32) + n.
 */
static void
fuzz_jobs(const uint8_t *data, size_t size)
{
	static const uint32_t types[] = {
		MSG_JOB_CREATE, MSG_JOB_TASKS,	MSG_JOB_WAIT,	 MSG_JOB_READ,
		MSG_JOB_STATUS, MSG_JOB_ATTACH, MSG_JOB_CANCEL, MSG_JOB_RELEASE,
		MSG_JOB_CLOSE,	MSG_JOB_LIST,	MSG_TASK_RUN,	 MSG_TASK_DONE,
		MSG_VALUE_GET,	MSG_VALUE_FREE, MSG_MEMBER_EVENT, MSG_ERROR,
		MSG_ATTEMPTS, MSG_JOB_REPLICA, MSG_JOB_MOVED};
	static const uint32_t later[] = {MSG_VALUE_COPY};
	struct actor_sys sys;
	struct actor_sys_env env = {.now = fuzz_now};
	actor_sys_init(&sys, 42, &env, NULL, 1);
	struct data_config dcfg;
	data_config_default(&dcfg);
	dcfg.max_tasks = 4096;
	struct func_config fcfg;
	func_config_default(&fcfg);
	struct meta self;
	meta_init(&self);
	func_spawn(&sys, &fcfg, NULL, NULL);
	data_spawn(&sys, &dcfg, NULL, 1, "fuzz", &self);
	const char *fns[] = {"f", "g"};
	data_functions_post(&sys, fns, 2);
	actor_sys_run(&sys, 64);
	while (size >= 5) {
		uint8_t fl = data[1], corr = data[2];
		uint32_t type = fl & 32
			? later[data[0] % (sizeof(later) / sizeof(*later))]
			: types[data[0] % (sizeof(types) / sizeof(*types))];
		size_t len = (size_t)data[3] << 8 | data[4];
		data += 5, size -= 5;
		if (len > size)
			len = size;
		struct msg *m = msg_new(type, data, (uint32_t)len);
		m->corr = corr;
		m->flags = (fl & 1 ? MSG_F_REQUEST : 0) | (fl & 2 ? MSG_F_REPLY : 0);
		if (type == MSG_MEMBER_EVENT)
			m->flags |= MSG_F_LOCAL;
		m->from.node = fl & 4 ? 7 : 42;
		m->from.id = fl & 4 ? ACTOR_DATA : ACTOR_GATEWAY;
		m->to.node = 42;
		m->to.id = fl & 8 ? ACTOR_FUNCTION : ACTOR_DATA;
		actor_sys_deliver(&sys, m);
		actor_sys_run(&sys, 256);
		if (fl & 16) {
			fuzz_clock += 5000;
			actor_sys_expire(&sys);
			actor_sys_run(&sys, 256);
		}
		data += len, size -= len;
	}
	fuzz_sys_end(&sys, 600000);
}

/*
 * The job codec's decoders that no actor above reaches -- the replies a
 * client reads, the pool's function list, a member's metadata -- on one
 * validated msgpack object (as every body is before a decoder sees it).
 */
static void
fuzz_codecs(const uint8_t *p, uint32_t len)
{
	uint64_t a, b, size, total, first;
	int status;
	const char *s;
	const uint8_t *chunk;
	uint32_t n, sl;
	struct mp_cur c;
	jobmsg_ids_unpack(p, len, &a, &b);
	jobmsg_wait_reply_unpack(p, len, &status, &size, &s, &sl);
	jobmsg_chunk_unpack(p, len, &total, &chunk, &n);
	bool complete;
	if (jobmsg_attempts_unpack(p, len, &complete, &n, &c) == 0) {
		uint32_t task, attempt;
		for (uint32_t i = 0;
		     i < n && jobmsg_attempt_next(&c, &a, &task, &attempt) == 0; i++)
			;
	}
	struct jobmsg_create cr;
	jobmsg_create_init(&cr);
	jobmsg_create_unpack(p, len, &cr);
	if (jobmsg_functions_unpack(p, len, &n, &c) == 0)
		for (uint32_t i = 0; i < n && jobmsg_functions_next(&c, &s, &sl) == 0;
		     i++)
			;
	struct jobmsg_status_view v;
	mp_cur_init(&c, p, len);
	if (jobmsg_status_read(&c, &v) == 0) {
		struct jobmsg_status_node_view nv;
		for (uint32_t i = 0; i < v.nnodes &&
				     jobmsg_status_next_node(&v.nodes, &nv) == 0;
		     i++)
			;
	}
	if (jobmsg_batch_unpack(p, len, &first, &n, &c) == 0) {
		struct gref *in = malloc(JOBS_MAX_INPUTS * sizeof(*in));
		struct jobmsg_task t;
		for (uint32_t i = 0; i < n && jobmsg_task_next(&c, &t, in) == 0; i++)
			;
		free(in);
	}
	struct jobmsg_value_copy vc;
	jobmsg_value_copy_unpack(p, len, &vc);
	struct meta *m = malloc(sizeof(*m));
	meta_decode(p, len, m);
	free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	log_set_level(LOG_LVL_ERROR); /* the decoders' warnings are expected */
	uint8_t mode = data[0] % 8;
	data++, size--;
	if (mode == 0) {
		/* a stream of frames, each a batch of envelopes, taken by the
		 * sealed stream's incremental input (net/stream.h) in reads of
		 * FUZZ_READ bytes -- small and odd, so frames and their length
		 * prefixes straddle reads at every offset -- every other one
		 * through a shared buffer */
		enum { FUZZ_READ = 7 };
		static uint8_t shared[STREAM_READ];
		struct stream s;
		stream_init(&s, 65536, 0);
		int rc = 0;
		for (size_t off = 0, i = 0; off < size && rc >= 0; i++) {
			size_t cap, k = size - off < FUZZ_READ ? size - off
								 : FUZZ_READ;
			uint8_t *p = stream_in_space(&s, i % 2 ? shared : NULL,
						     &cap);
			memcpy(p, data + off, k);
			stream_in_commit(&s, k);
			off += k;
			const uint8_t *f;
			size_t n;
			while ((rc = stream_in_frame(&s, 65536, &f, &n)) == 1)
				wire_payload_decode(f, n, 65536, 1000, drop_cb,
						    NULL);
			stream_in_keep(&s);
		}
		stream_destroy(&s);
	} else if (mode == 1) {
		struct link_hello h;
		link_hello_decode(data, size, &h);
	} else if (mode == 6) {
		fuzz_jobs(data, size);
	} else if (mode == 7) {
		/* what a client sends first: Noise NNpsk0 message 1 as the
		 * gateway reads it, and a credential's text form */
		struct noise_hs hs;
		uint8_t psk[32] = {7}, out[1024], secret[32];
		size_t n;
		uint64_t id;
		noise_hs_init(&hs, GATEWAY_PROTOCOL, false, (const uint8_t *)"p",
			      1, NULL, NULL, psk);
		noise_hs_read(&hs, data, size, out, sizeof(out), &n);
		noise_hs_wipe(&hs);
		char text[128];
		if (size < sizeof(text)) {
			memcpy(text, data, size);
			text[size] = '\0';
			cred_parse(text, &id, secret);
		}
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
			fuzz_codecs(data, (uint32_t)used);
		}
		fuzz_creds(data, size);
	}
	return 0;
}
