/*
 * test_jobs.c -- the job actors in virtual time.
 *
 * Whole clusters in one process on the fake world (tests/fake/fakesys.h):
 * on every node the real SWIM, the real function actor (ACTOR_FUNCTION)
 * and the real data manager (ACTOR_DATA), every message between nodes
 * through the real envelope codec.  Behind each function actor is a fake
 * executor pool that runs tasks in virtual time (tests/fake/fakepool.h);
 * a client actor speaks to the owner's data manager as the gateway does
 * ([cred, role, body], data/jobmsg.h).  Every run prints its seed --
 * MIST_SEED=N replays it exactly -- and a digest of what happened (every
 * message a node got from another, every task the pools ran, with times),
 * which a replay prints again.
 *
 * The test functions read args = msgpack [id u32, work u32, add u64]: the
 * task's id, its work in ms at speed 1, and a number; each output is an
 * int64 = add + the sum of the inputs (wrapping, as uint64) + its index.
 *   sum      that, after `work` ms
 *   flaky    the same, but the first run of each task id fails
 *   p_*      sum under other names: each placement job learns its own
 *            function's times (the owner learns times per function)
 *
 * Times: the clock starts at 1 000 000 ms; links have 1 ms latency and
 * lose nothing; a node's pool has one executor per core.  Predicates are
 * checked after every step, so every time asserted is exact.
 *
 * The tests:
 *   - a 1000-task DAG on 3, 8 and 20 nodes, within bounds from the work
 *     and the configuration; the same run twice from one seed;
 *   - a worker killed mid-job: re-placement at the death, lineage;
 *   - stale reports fenced off: a delayed copy of an old attempt's, and a
 *     stalled worker that comes back;
 *   - the owner restarted from its LMDB journal;
 *   - checkpoints: a worker killed after some partitions were copied
 *     re-executes nothing before the last copy (lineage without them
 *     reaches back further); a takeover keeps them and goes on; a safe
 *     holder lost, its copies are made again; the fault swarm
 *     checkpoints a third of its seeds;
 *   - each placement policy on unlike nodes;
 *   - junk function names stop no other job, and a task whose function
 *     nobody offers yet holds up no other task of its job.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "data/data.h"
#include "data/data_int.h" /* DATA_STARTUP_GRACE_MS, DATA_JOB_MAX_FNS */
#include "data/jobmsg.h"
#include "data/meta.h"
#include "fakepool.h"
#include "fakesys.h"
#include "function/function.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim.h"
#include "store/store.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* Nodes in one simulated cluster at most: the largest test runs 20. */
#define MAXN 24
/* The credential id the "gateway" checked (any number: one client). */
#define CRED 0x5eed
/* Tasks per JOB_TASKS batch, as a client library sends them: 200 tasks
 * of ~40 bytes keep a request far under a link frame. */
#define BATCH 200
/* Tasks of one simulated job at most (the ids the flaky function
 * remembers): the largest job has 1000. */
#define MAX_TASKS 4096
/* Inputs of a DAG task at most: the final task reads three. */
#define DAG_MAX_IN 3
/* Virtual time a request may wait for its reply: far beyond any job here
 * (the longest takes ~20 s of virtual time), so a timeout is a failure. */
#define REQ_TIMEOUT_MS 600000
/* Largest LMDB map of the owner's journal in the restart test. */
#define STORE_MAP (64u << 20)

static uint64_t
id_of(int i)
{
	return 0x10000 + (uint64_t)i;
}

static int
idx_of(uint64_t node)
{
	return (int)(node - 0x10000);
}

/* ------------------------------------------------------- the functions */

static bool flaky_failed[MAX_TASKS + 1];

static int
read_args(const uint8_t *a, uint32_t alen, uint64_t *id, uint64_t *work,
	  uint64_t *add)
{
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, a, alen);
	if (mp_read_array(&c, &n) != 0 || n != 3 || mp_read_uint(&c, id) != 0 ||
	    mp_read_uint(&c, work) != 0 || mp_read_uint(&c, add) != 0)
		return -1;
	return 0;
}

static void
put_i64(struct buf *b, uint64_t v)
{
	uint8_t o[9] = {0xd3};
	for (int i = 0; i < 8; i++)
		o[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	buf_append(b, o, sizeof(o));
}

static int
get_i64(const uint8_t *p, size_t len, uint64_t *v)
{
	if (len != 9 || p[0] != 0xd3)
		return -1;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v = *v << 8 | p[1 + i];
	return 0;
}

static int
fn_sum(void *ctx, const uint8_t *args, uint32_t alen,
       const struct mist_blob *in, uint32_t nin, struct buf *out,
       uint32_t nout, uint64_t *work_ms, char *err, size_t errcap)
{
	(void)ctx;
	uint64_t id, work, v;
	if (read_args(args, alen, &id, &work, &v) != 0) {
		snprintf(err, errcap, "bad arguments");
		return -1;
	}
	for (uint32_t i = 0; i < nin; i++) {
		uint64_t x;
		if (get_i64(in[i].data, in[i].len, &x) != 0) {
			snprintf(err, errcap, "input %u is not an int64", i);
			return -1;
		}
		v += x;
	}
	for (uint32_t o = 0; o < nout; o++)
		put_i64(&out[o], v + o);
	*work_ms = work;
	return 0;
}

static int
fn_flaky(void *ctx, const uint8_t *args, uint32_t alen,
	 const struct mist_blob *in, uint32_t nin, struct buf *out,
	 uint32_t nout, uint64_t *work_ms, char *err, size_t errcap)
{
	int rc = fn_sum(ctx, args, alen, in, nin, out, nout, work_ms, err,
			errcap);
	uint64_t id, work, add;
	if (rc != 0 || read_args(args, alen, &id, &work, &add) != 0 ||
	    id > MAX_TASKS)
		return -1;
	if (!flaky_failed[id]) {
		flaky_failed[id] = true;
		snprintf(err, errcap, "flaky: first run of task %" PRIu64, id);
		return -1;
	}
	return 0;
}

static const struct fake_func fns[] = {
	{"sum", fn_sum},	 {"flaky", fn_flaky},	 {"p_time", fn_sum},
	{"p_spread", fn_sum},	 {"p_energy", fn_sum},	 {"p_cost", fn_sum},
	{"p_tier", fn_sum},	 {"p_mix", fn_sum},
};
#define NFNS (sizeof(fns) / sizeof(fns[0]))

/* ----------------------------------------------------------- the world */

/* What a node is: its gossiped metadata, and whether it runs tasks. */
struct spec {
	const char *tier;
	uint32_t cores;
	double speed, power, price;
	bool worker;
};

static const struct spec plain = {"fog", 2, 1.0, 10.0, 0.0, true};
static const struct spec owner_only = {"fog", 2, 1.0, 10.0, 0.0, false};

struct req {
	int owner; /* the node whose data manager is asked */
	uint64_t corr;
	bool got;
	uint64_t at; /* when the reply came */
	uint32_t type;
	int status;
	uint8_t *body;
	uint32_t len;
};

/* The test asks a client, by a local message, to send a request: an actor
 * acts only in its own turn (actors/actor.h). */
#define T_ASK 9000

/* The client: an actor that sends requests and keeps their replies, and
 * records its node's membership events (when the owner learnt what). */
struct client {
	struct actor *actor;
	int idx;
	struct map pending; /* corr -> struct req */
};

struct mev {
	uint64_t at;
	int seen_by;
	enum swim_event ev;
	uint64_t node;
};

/* What crossed the wire, decoded for the job messages. */
struct wev {
	uint64_t at;
	int from, to;
	uint32_t type;
	uint64_t job;
	uint32_t task, attempt;
	int status;
};

struct node {
	struct swim *sw;
	struct fake_pool *pool;
	struct client *cl;
	struct spec spec;
};

static struct fake_world w;
static uint8_t key[32];
static struct swim_config scfg;
static struct data_config dcfg;
static struct node nd[MAXN];
static int N;
static struct fake_pool **pools; /* every pool made, freed at the end */
static size_t npools, cappools;
static struct req **reqs; /* every request made, freed at the end */
static size_t nreqs, capreqs;
static struct mev *mevs;
static size_t nmevs, capmevs;
static struct wev *wevs;
static size_t nwevs, capwevs;
static uint64_t digest;
static uint64_t seed;
/* a test's own look at the wire (after the recording) */
static void (*tap_hook)(int from, int to, const struct msg *m);
/* the stale-report test's duplicates: their delay, the attempts done */
static uint64_t dup_delay_ms;
static uint32_t dup_seen[8];
static int ndup_seen;

#define GROW(arr, n, cap)                                                      \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			(cap) = (cap) ? 2 * (cap) : 64;                        \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));       \
		}                                                              \
	} while (0)

static void
mix(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		digest = (digest ^ b[i]) * 0x100000001b3ull;
}

static void
mix_u64(uint64_t v)
{
	mix(&v, sizeof(v));
}

static void
tap(void *ctx, int from, int to, const struct msg *m)
{
	(void)ctx;
	mix_u64(w.now);
	mix_u64((uint64_t)from << 32 | (uint32_t)to);
	mix_u64((uint64_t)m->type << 32 | m->flags);
	mix_u64((uint64_t)m->from.id << 32 | m->to.id);
	mix_u64((uint64_t)(uint16_t)m->status << 32 | m->len);
	mix_u64(m->corr);
	mix(m->body, m->len);
	struct wev e = {w.now, from, to, m->type, 0, 0, 0, 0};
	struct mp_cur c;
	if (m->type == MSG_TASK_RUN) {
		struct jobmsg_task_run tr;
		if (jobmsg_task_run_unpack(m->body, m->len, &tr, &c) != 0)
			return;
		e.job = tr.job;
		e.task = tr.task;
		e.attempt = tr.attempt;
	} else if (m->type == MSG_TASK_DONE) {
		struct jobmsg_task_done d;
		if (jobmsg_task_done_unpack_head(m->body, m->len, &d, &c) != 0)
			return;
		e.job = d.job;
		e.task = d.task;
		e.attempt = d.attempt;
		e.status = d.status;
	} else {
		if (tap_hook)
			tap_hook(from, to, m);
		return;
	}
	GROW(wevs, nwevs, capwevs);
	wevs[nwevs++] = e;
	if (tap_hook)
		tap_hook(from, to, m);
}

static void
client_fn(struct actor *self, struct msg *m)
{
	struct client *c = self->state;
	if (m->type == MSG_STOP) {
		map_destroy(&c->pending);
		if (nd[c->idx].cl == c)
			nd[c->idx].cl = NULL;
		free(c);
		self->state = NULL;
		return;
	}
	if (m->type == T_ASK) {
		/* ask() wants a request sent: in our turn (ptr: the req,
		 * corr: the type, body: the wrapped request) */
		struct req *r = m->ptr;
		struct actor_ref to = {id_of(r->owner), ACTOR_DATA};
		actor_request(self, to, (uint32_t)m->corr, m->body, m->len,
			      REQ_TIMEOUT_MS, &r->corr);
		map_put(&c->pending, r->corr, r);
		return;
	}
	if (m->flags & MSG_F_REPLY) {
		struct req *r = map_del(&c->pending, m->corr);
		if (r == NULL)
			return;
		r->got = true;
		r->at = actor_sys_now(self->sys);
		r->type = m->type;
		r->status = m->status;
		r->body = xmalloc(m->len ? m->len : 1);
		memcpy(r->body, m->body, m->len);
		r->len = m->len;
		return;
	}
	struct swim_event_view ev;
	if (m->type == MSG_MEMBER_EVENT &&
	    swim_event_decode(m->body, m->len, &ev) == 0) {
		GROW(mevs, nmevs, capmevs);
		mevs[nmevs++] = (struct mev){actor_sys_now(self->sys), c->idx,
					     ev.event, ev.node};
	}
}

static void
client_new(int i)
{
	struct client *c = xcalloc(1, sizeof(*c));
	c->idx = i;
	map_init(&c->pending, (uint64_t)i + 11);
	c->actor = actor_spawn(w.nodes[i], 0, "client", client_fn, c);
	cr_assert_not_null(c->actor);
	struct actor_ref swim = {id_of(i), ACTOR_SWIM};
	actor_tell(c->actor, swim, MSG_SWIM_SUBSCRIBE, NULL, 0);
	nd[i].cl = c;
}

/*
 * Starts node @a i (anew: restarts it) as @a s says, in its boot @a boot,
 * with @a store as its data manager's journal (NULL: none).  Mirrors the
 * agent's composition (cmd/agent.c): SWIM gossiping the metadata, the
 * pool, the function actor, the data manager, then the pool's functions
 * announced to the data manager (the executors' hello).
 */
static void
node_start(int i, const struct spec *s, uint64_t boot, struct store *store)
{
	struct actor_sys *sys;
	if (i < w.n) {
		sys = fake_restart(&w, i, id_of(i));
	} else {
		sys = fake_world_add(&w, id_of(i), NULL);
		fake_set_addr(&w, i, NULL);
		keyring_init(&w.keys[i], key);
	}
	nd[i].spec = *s;
	char name[16];
	snprintf(name, sizeof(name), "n%d", i);
	struct meta m;
	meta_init(&m);
	snprintf(m.tier, sizeof(m.tier), "%s", s->tier);
	m.cores = s->cores;
	m.speed = s->speed;
	m.power = s->power;
	m.price = s->price;
	if (s->worker) {
		for (size_t f = 0; f < NFNS; f++)
			snprintf(m.functions[m.nfunctions++], EXEC_NAME_MAX, "%s",
				 fns[f].name);
	}
	struct buf mb = BUF_INIT;
	cr_assert_eq(meta_encode(&m, &mb), 0);
	struct swim_self self = {0};
	snprintf(self.name, sizeof(self.name), "%s", name);
	self.addr = w.addr[i];
	memcpy(self.meta, mb.data, mb.len);
	self.meta_len = (uint16_t)mb.len;
	buf_destroy(&mb);
	struct swim_config c = scfg;
	c.incarnation = boot << 32;
	struct swim_transport tr = fake_udp_transport(&w, i);
	nd[i].sw = swim_spawn(sys, &c, &tr, &self);
	cr_assert_not_null(nd[i].sw);
	nd[i].pool = NULL;
	if (s->worker) {
		nd[i].pool = fake_pool_new(sys, s->cores, s->speed, fns, NFNS,
					   NULL);
		cr_assert_not_null(nd[i].pool);
		GROW(pools, npools, cappools);
		pools[npools++] = nd[i].pool;
	}
	struct func_config fc;
	func_config_default(&fc);
	snprintf(fc.name, sizeof(fc.name), "%s", name);
	cr_assert_eq(func_spawn(sys, &fc, nd[i].pool ? &fake_pool_ops : NULL,
				nd[i].pool), 0);
	m.nfunctions = 0; /* the data manager hears them from the pool */
	cr_assert_eq(data_spawn(sys, &dcfg, store, boot, name, &m), 0);
	if (nd[i].pool)
		fake_pool_ready(nd[i].pool);
	client_new(i);
}

static void
join(int i, uint64_t seed_id)
{
	uint8_t b[9] = {0xcf};
	for (int k = 0; k < 8; k++)
		b[1 + k] = (uint8_t)(seed_id >> (56 - 8 * k));
	struct msg *m = msg_new(MSG_SWIM_JOIN, b, sizeof(b));
	m->flags = MSG_F_LOCAL;
	m->from.node = m->to.node = w.nodes[i]->node;
	m->to.id = ACTOR_SWIM;
	actor_sys_deliver(w.nodes[i], m);
}

static bool
all_alive(void *ctx)
{
	(void)ctx;
	int live = 0;
	for (int i = 0; i < N; i++)
		live += !w.down[i];
	for (int i = 0; i < N; i++)
		if (!w.down[i] &&
		    swim_member_count(nd[i].sw, SWIM_ALIVE) != (size_t)live)
			return false;
	return true;
}

/* @a n nodes, node i as @a specs[i] (or all as specs[0] if @a one),
 * node 0 on the store @a s0 (NULL: in memory), joined through node 0 and
 * converged. */
static void
cluster_on(int n, const struct spec *specs, bool one, struct store *s0)
{
	cr_assert_leq(n, MAXN);
	N = n;
	for (int i = 0; i < n; i++)
		node_start(i, one ? &specs[0] : &specs[i], 1, i ? NULL : s0);
	for (int i = 1; i < n; i++)
		join(i, id_of(0));
	cr_assert(fake_world_run(&w, all_alive, NULL, 30000),
		  "%d nodes did not converge", n);
}

static void
cluster(int n, const struct spec *specs, bool one)
{
	cluster_on(n, specs, one, NULL);
}

static void
run_for(uint64_t ms)
{
	fake_world_run(&w, NULL, NULL, ms);
}

static uint64_t
ended_runs(void)
{
	uint64_t n = 0;
	for (size_t i = 0; i < npools; i++)
		n += pools[i]->ended;
	return n;
}

static uint64_t want_ended;
static bool
enough_ended(void *ctx)
{
	(void)ctx;
	return ended_runs() >= want_ended;
}

static void
world_begin(uint64_t s)
{
	log_set_level(LOG_LVL_WARN);
	fake_world_init(&w, s);
	w.tap = tap;
	w.check_every_ms = 0; /* exact times: predicates after every step */
	swim_config_default(&scfg);
	scfg.dead_reap_ms = 3600000;
	data_config_default(&dcfg);
	/* the cluster key: from the world's PRNG, so that a replay is the
	 * same run */
	for (size_t i = 0; i < sizeof(key); i += 8) {
		uint64_t v = rng_next(&w.rng);
		memcpy(key + i, &v, 8);
	}
	memset(nd, 0, sizeof(nd));
	memset(flaky_failed, 0, sizeof(flaky_failed));
	N = 0;
	digest = 0xcbf29ce484222325ull;
	nwevs = nmevs = 0;
	tap_hook = NULL;
	ndup_seen = 0;
}

/* The digest of the run: the wire (mixed in as it went) and every task
 * the pools ran. */
static uint64_t
world_digest(void)
{
	for (size_t p = 0; p < npools; p++)
		for (uint32_t i = 0; i < pools[p]->nruns; i++) {
			const struct fake_run *r = &pools[p]->runs[i];
			mix_u64(pools[p]->node);
			mix(r->args, r->alen);
			mix_u64(r->submitted);
			mix_u64(r->started);
			mix_u64(r->ended);
			mix_u64((uint64_t)(uint32_t)r->status);
			mix_u64(r->out0);
		}
	return digest;
}

static void
world_end(void)
{
	fake_world_destroy(&w);
	for (size_t i = 0; i < npools; i++)
		fake_pool_delete(pools[i]);
	npools = 0;
	for (size_t i = 0; i < nreqs; i++) {
		free(reqs[i]->body);
		free(reqs[i]);
	}
	nreqs = 0;
}

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	seed = tu_seed();
	world_begin(seed);
}

static void
teardown(void)
{
	world_end();
	free(pools);
	free(reqs);
	free(mevs);
	free(wevs);
	pools = NULL;
	reqs = NULL;
	mevs = NULL;
	wevs = NULL;
	cappools = capreqs = capmevs = capwevs = 0;
}

TestSuite(simjobs, .init = setup, .fini = teardown, .timeout = 120);

static void
print_digest(const char *what)
{
	fprintf(stderr, "%s: seed %" PRIu64 " digest %016" PRIx64 "\n", what,
		seed, world_digest());
}

/* ---------------------------------------------------------- the client */

/* Sends a request from node @a from's client to node @a owner's data
 * manager, wrapped as the gateway wraps it. */
static struct req *
ask(int from, int owner, uint32_t type, const struct buf *body)
{
	struct client *c = nd[from].cl;
	cr_assert_not_null(c);
	struct buf b = BUF_INIT;
	jobmsg_request_pack(&b, CRED, ROLE_SUBMIT, body ? body->data : NULL,
			    body ? (uint32_t)body->len : 0);
	struct req *r = xcalloc(1, sizeof(*r));
	GROW(reqs, nreqs, capreqs);
	reqs[nreqs++] = r;
	r->owner = owner;
	struct msg *m = actor_local_msg(w.nodes[from], c->actor->id, T_ASK,
					b.data, (uint32_t)b.len);
	m->corr = type;
	m->ptr = r;
	actor_sys_deliver(w.nodes[from], m);
	buf_destroy(&b);
	return r;
}

static bool
req_got(void *ctx)
{
	return ((struct req *)ctx)->got;
}

static uint64_t swarm_seed; /* the fault swarm's seed running, or 0 */

static void
await(struct req *r, uint64_t timeout_ms)
{
	cr_assert(fake_world_run(&w, req_got, r, timeout_ms),
		  "no reply within %" PRIu64 " virtual ms (fault swarm seed %"
		  PRIu64 ")", timeout_ms, swarm_seed);
}

/* A request, answered: its reply's status. */
static int
call(int from, int owner, uint32_t type, const struct buf *body,
     struct req **out)
{
	struct req *r = ask(from, owner, type, body);
	await(r, REQ_TIMEOUT_MS);
	if (out)
		*out = r;
	return r->status;
}

/* JOB_CREATE with the defaults (the "time" policy, any tier). */
static uint64_t
create(int owner)
{
	struct buf b = BUF_INIT;
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	jobmsg_create_pack(&b, &c);
	struct req *r;
	cr_assert_eq(call(owner, owner, MSG_JOB_CREATE, &b, &r), 0);
	buf_destroy(&b);
	uint64_t o, job;
	cr_assert_eq(jobmsg_ids_unpack(r->body, r->len, &o, &job), 0);
	cr_assert_eq(o, id_of(owner));
	return job;
}

/* JOB_CREATE with a raw body (the client's map), its status; *job set. */
static int
create_raw(int owner, const struct buf *body, uint64_t *job)
{
	struct req *r;
	int rc = call(owner, owner, MSG_JOB_CREATE, body, &r);
	uint64_t o;
	if (rc == 0)
		cr_assert_eq(jobmsg_ids_unpack(r->body, r->len, &o, job), 0);
	return rc;
}

/* ---------------------------------------------------------- the DAGs */

struct dtask {
	const char *fn;
	uint32_t work;
	uint64_t add;
	uint32_t nin;
	struct gref in[DAG_MAX_IN];
	uint8_t args[32];
	uint32_t alen;
};

static struct dtask dag[MAX_TASKS + 1]; /* 1-based */
static uint64_t want[MAX_TASKS + 1];	 /* each task's value, computed here */
static uint32_t ndag;

static uint32_t
dag_add(const char *fn, uint32_t work, uint32_t nin, const struct gref *in)
{
	cr_assert_lt(ndag, MAX_TASKS);
	uint32_t id = ++ndag;
	struct dtask *t = &dag[id];
	t->fn = fn;
	t->work = work;
	t->add = (uint64_t)id * 0x9e3779b97f4a7c15ull;
	t->nin = nin;
	want[id] = t->add;
	for (uint32_t i = 0; i < nin; i++) {
		t->in[i] = in[i];
		want[id] += want[in[i].task] + in[i].out;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, id);
	msgpack_pack_uint32(&pk, work);
	msgpack_pack_uint64(&pk, t->add);
	cr_assert_leq(b.len, sizeof(t->args));
	memcpy(t->args, b.data, b.len);
	t->alen = (uint32_t)b.len;
	buf_destroy(&b);
	return id;
}

/*
 * @a leaves independent tasks, then a binary tree of merges over them
 * (each merge reads two values; an odd one out waits a level), then a
 * final task reading the root, the first and the last leaf: 2 x leaves
 * tasks.  Returns the final task's id.
 */
static uint32_t
dag_tree(const char *fn, uint32_t leaves, uint32_t leaf_ms, uint32_t merge_ms,
	 uint32_t final_ms)
{
	ndag = 0;
	uint32_t *level = xmalloc(leaves * sizeof(*level)), nl = 0;
	for (uint32_t i = 0; i < leaves; i++)
		level[nl++] = dag_add(fn, leaf_ms, 0, NULL);
	while (nl > 1) {
		uint32_t k = 0;
		for (uint32_t i = 0; i + 1 < nl; i += 2) {
			struct gref in[2] = {{level[i], 0}, {level[i + 1], 0}};
			level[k++] = dag_add(fn, merge_ms, 2, in);
		}
		if (nl % 2)
			level[k++] = level[nl - 1];
		nl = k;
	}
	struct gref in[3] = {{level[0], 0}, {1, 0}, {leaves, 0}};
	free(level);
	return dag_add(fn, final_ms, 3, in);
}

/* Tasks first..last of the DAG, in batches, to job (@a origin, @a job)
 * at node @a at (its owner now). */
static void
submit_at(int from, int at, int origin, uint64_t job, uint32_t first,
	  uint32_t last)
{
	for (uint32_t f = first; f <= last; f += BATCH) {
		uint32_t n = last - f + 1 < BATCH ? last - f + 1 : BATCH;
		struct buf b = BUF_INIT;
		jobmsg_tasks_pack(&b, id_of(origin), job, f, n);
		for (uint32_t i = f; i < f + n; i++) {
			struct jobmsg_task t = {dag[i].fn, (uint32_t)strlen(dag[i].fn),
						dag[i].args, dag[i].alen, 1,
						dag[i].nin};
			jobmsg_task_pack(&b, &t, dag[i].in);
		}
		struct req *r;
		cr_assert_eq(call(from, at, MSG_JOB_TASKS, &b, &r), 0,
			     "batch from %u", f);
		buf_destroy(&b);
		uint64_t jid, ntasks;
		cr_assert_eq(jobmsg_ids_unpack(r->body, r->len, &jid, &ntasks), 0);
		cr_assert_eq(ntasks, f + n - 1);
	}
}

/* Tasks first..last of the DAG, in batches, to @a owner's job. */
static void
submit_range(int from, int owner, uint64_t job, uint32_t first, uint32_t last)
{
	submit_at(from, owner, owner, job, first, last);
}

/* JOB_WAIT on (task, 0), sent now, answered later. */
static struct req *
wait_async(int from, int owner, uint64_t job, uint32_t task)
{
	struct buf b = BUF_INIT;
	jobmsg_wait_pack(&b, id_of(owner), job, (struct gref){task, 0});
	struct req *r = ask(from, owner, MSG_JOB_WAIT, &b);
	buf_destroy(&b);
	return r;
}

/* The JOB_WAIT reply's status (its size must be an int64's if 0). */
static int
wait_status(const struct req *r)
{
	cr_assert(r->got);
	cr_assert_eq(r->status, 0, "the request itself failed: %d", r->status);
	int status;
	uint64_t size;
	const char *msg;
	uint32_t mlen;
	cr_assert_eq(jobmsg_wait_reply_unpack(r->body, r->len, &status, &size,
					      &msg, &mlen), 0);
	if (status == 0)
		cr_assert_eq(size, 9);
	return status;
}

/* JOB_READ of (task, 0): the int64. */
static uint64_t
read_value(int from, int owner, uint64_t job, uint32_t task)
{
	struct buf b = BUF_INIT;
	jobmsg_read_pack(&b, id_of(owner), job, (struct gref){task, 0}, 0);
	struct req *r;
	cr_assert_eq(call(from, owner, MSG_JOB_READ, &b, &r), 0);
	buf_destroy(&b);
	uint64_t total, v;
	const uint8_t *chunk;
	uint32_t n;
	cr_assert_eq(jobmsg_chunk_unpack(r->body, r->len, &total, &chunk, &n), 0);
	cr_assert_eq(total, 9);
	cr_assert_eq(get_i64(chunk, n, &v), 0);
	return v;
}

struct status {
	char state[16];
	uint64_t tasks, done, failed, running, waiting, ready;
	bool has_ckpt; /* "checkpoints": the job's counters */
	struct jobmsg_ckpt ck;
	uint32_t nnodes;
	uint64_t node[JOBMSG_STATUS_MAX_NODES], node_done[JOBMSG_STATUS_MAX_NODES];
	/* the operators' view */
	uint64_t node_running[JOBMSG_STATUS_MAX_NODES];
	uint64_t node_oldest[JOBMSG_STATUS_MAX_NODES];
	char node_name[JOBMSG_STATUS_MAX_NODES][16], node_tier[JOBMSG_STATUS_MAX_NODES][8];
	uint64_t ready_oldest_ms;
	char ready_why[JOBMSG_WHY_MAX + 1];
	struct {
		uint64_t nodes_lost, failed_over, recomputed, owner_changes;
		uint64_t last_ms;
		char last[JOBMSG_RECOVERY_TEXT_MAX + 1];
	} rec;
};

/* JOB_STATUS of @a job (named by its first owner, node @a named) asked
 * of node @a owner through node @a from's client. */
static void
job_status_of(int from, int owner, int named, uint64_t job, struct status *s)
{
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_STATUS, id_of(named), job);
	struct req *r;
	cr_assert_eq(call(from, owner, MSG_JOB_STATUS, &b, &r), 0);
	buf_destroy(&b);
	struct mp_cur c;
	struct jobmsg_status_view v;
	mp_cur_init(&c, r->body, r->len);
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	memset(s, 0, sizeof(*s));
	snprintf(s->state, sizeof(s->state), "%.*s", (int)v.state_len, v.state);
	s->tasks = v.tasks;
	s->done = v.done;
	s->failed = v.failed;
	s->running = v.running;
	s->waiting = v.waiting;
	s->ready = v.ready;
	s->has_ckpt = v.has_ckpt;
	s->ck = v.ckpt;
	s->nnodes = v.nnodes;
	for (uint32_t i = 0; i < v.nnodes; i++) {
		struct jobmsg_status_node_view nv;
		cr_assert_eq(jobmsg_status_next_node(&v.nodes, &nv), 0);
		s->node[i] = nv.node;
		s->node_done[i] = nv.done;
		s->node_running[i] = nv.running;
		s->node_oldest[i] = nv.oldest_ms;
		snprintf(s->node_name[i], sizeof(s->node_name[i]), "%.*s",
			 (int)nv.name_len, nv.name);
		snprintf(s->node_tier[i], sizeof(s->node_tier[i]), "%.*s",
			 (int)nv.tier_len, nv.tier);
	}
	s->ready_oldest_ms = v.ready_oldest_ms;
	snprintf(s->ready_why, sizeof(s->ready_why), "%.*s",
		 (int)v.ready_why_len, v.ready_why);
	s->rec.nodes_lost = v.rec.nodes_lost;
	s->rec.failed_over = v.rec.failed_over;
	s->rec.recomputed = v.rec.recomputed;
	s->rec.owner_changes = v.rec.owner_changes;
	s->rec.last_ms = v.rec.last_ms;
	snprintf(s->rec.last, sizeof(s->rec.last), "%.*s", (int)v.rec.last_len,
		 v.rec.last);
}

static void
job_status(int from, int owner, uint64_t job, struct status *s)
{
	job_status_of(from, owner, owner, job, s);
}

/* ------------------------------------------------- what the pools saw */

/* The task id a run was for (its args). */
static uint32_t
run_task(const struct fake_run *r)
{
	uint64_t id, work, add;
	cr_assert_eq(read_args(r->args, r->alen, &id, &work, &add), 0);
	return (uint32_t)id;
}

/* Successful runs of task @a id ended on node @a node (-1: any), and the
 * last such run's end. */
static uint32_t
successes(uint32_t id, int node, uint64_t after, uint64_t *last_end)
{
	uint32_t n = 0;
	for (size_t p = 0; p < npools; p++) {
		if (node >= 0 && pools[p]->node != id_of(node))
			continue;
		for (uint32_t i = 0; i < pools[p]->nruns; i++) {
			const struct fake_run *r = &pools[p]->runs[i];
			if (r->ended && r->ended >= after && r->status == 0 &&
			    run_task(r) == id) {
				n++;
				if (last_end)
					*last_end = r->ended;
			}
		}
	}
	return n;
}

/* -------------------------------------------------------------- tests */

/*
 * A 1000-task DAG (500 leaves of 40 ms, a tree of 499 merges of 10 ms, a
 * final task of 5 ms) on @a n nodes of 2 cores, the owner one of them.
 * Every task runs exactly once (nothing fails), every node runs some, the
 * final value is the one computed here, and the job ends within bounds
 * derived from the work and the configuration:
 *
 *   lower: the work spread over every executor (W / P), and the critical
 *          path of work (CP: a leaf, nine merges, the final task);
 *   upper: Graham's bound for a list schedule, W / P + CP, plus on each
 *          level of the critical path the messages it waits for (TASK_DONE,
 *          TASK_RUN, and a request and a reply per input: 2 + 2 x 3 hops
 *          of 1 ms at most), plus one leaf: tasks are bound to a node's
 *          queue when they are placed, so a node may run one task past
 *          the others at the end of the leaves.
 */
/* The DAG's shape: 500 leaves make 1000 tasks; a leaf's work is four
 * merges', so the leaves dominate the work and the merges the depth. */
#define DAG_LEAVES 500
#define DAG_LEAF_MS 40
#define DAG_MERGE_MS 10
#define DAG_FINAL_MS 5

static void
dag_on(int n)
{
	cluster(n, &plain, true);
	uint32_t final = dag_tree("sum", DAG_LEAVES, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	cr_assert_eq(final, 1000);
	uint64_t t0 = w.now;
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	uint64_t T = r->at - t0;
	cr_assert_eq(read_value(0, 0, job, final), want[final],
		     "the final value is the one computed here");

	/* the bounds */
	uint64_t W = 0, cp[MAX_TASKS + 1], lv[MAX_TASKS + 1];
	uint64_t CP = 0, levels = 0;
	for (uint32_t i = 1; i <= ndag; i++) {
		W += dag[i].work;
		cp[i] = lv[i] = 0;
		for (uint32_t k = 0; k < dag[i].nin; k++) {
			uint32_t in = dag[i].in[k].task;
			cp[i] = cp[in] > cp[i] ? cp[in] : cp[i];
			lv[i] = lv[in] > lv[i] ? lv[in] : lv[i];
		}
		cp[i] += dag[i].work;
		lv[i] += 1;
		CP = cp[i] > CP ? cp[i] : CP;
		levels = lv[i] > levels ? lv[i] : levels;
	}
	uint64_t P = (uint64_t)n * plain.cores;
	uint64_t spread = (W + P - 1) / P;
	uint64_t lower = spread > CP ? spread : CP;
	uint64_t hops = 2 + 2 * DAG_MAX_IN;
	uint64_t upper = spread + CP + levels * hops * w.latency_ms + DAG_LEAF_MS;
	cr_log_info("%d nodes: 1000 tasks in %" PRIu64 " ms (bounds %" PRIu64
		    "..%" PRIu64 ")", n, T, lower, upper);
	cr_assert_geq(T, lower);
	cr_assert_leq(T, upper, "%" PRIu64 " ms > %" PRIu64, T, upper);

	/* every task ran once, every node ran some */
	for (uint32_t i = 1; i <= ndag; i++)
		cr_assert_eq(successes(i, -1, 0, NULL), 1, "task %u", i);
	for (int i = 0; i < n; i++) {
		cr_assert_gt(nd[i].pool->nruns, 0, "node %d ran nothing", i);
		for (uint32_t k = 0; k < nd[i].pool->nruns; k++) {
			const struct fake_run *fr = &nd[i].pool->runs[k];
			cr_assert_eq(fr->status, 0);
			cr_assert_eq(fr->ended - fr->started, dag[run_task(fr)].work);
		}
	}
	/* and the owner says so, per node */
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_str_eq(s.state, "done");
	cr_assert_eq(s.done, 1000);
	cr_assert_eq(s.nnodes, (uint32_t)n);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < s.nnodes; i++) {
		int at = idx_of(s.node[i]);
		cr_assert(at >= 0 && at < n);
		cr_assert_eq(s.node_done[i], nd[at].pool->nruns);
		sum += s.node_done[i];
	}
	cr_assert_eq(sum, 1000);
}

Test(simjobs, a_thousand_task_dag_on_three_nodes)
{
	dag_on(3);
	print_digest("dag3");
}

Test(simjobs, a_thousand_task_dag_on_eight_nodes)
{
	dag_on(8);
	print_digest("dag8");
}

Test(simjobs, a_thousand_task_dag_on_twenty_nodes)
{
	dag_on(20);
	print_digest("dag20");
}

/* The same seed, the same run: twice in one process, the same digest. */
Test(simjobs, a_run_replays_exactly_from_its_seed)
{
	dag_on(8);
	uint64_t first = world_digest();
	world_end();
	world_begin(seed);
	dag_on(8);
	uint64_t second = world_digest();
	cr_assert_eq(first, second, "%016" PRIx64 " then %016" PRIx64, first,
		     second);
	fprintf(stderr, "replay: seed %" PRIu64 " digest %016" PRIx64 " twice\n",
		seed, first);
}

/* The time node @a seen_by learnt event @a ev of node @a node (at or
 * after @a after), or 0. */
static uint64_t
learnt(int seen_by, enum swim_event ev, int node, uint64_t after)
{
	for (size_t i = 0; i < nmevs; i++)
		if (mevs[i].seen_by == seen_by && mevs[i].ev == ev &&
		    mevs[i].node == id_of(node) && mevs[i].at >= after)
			return mevs[i].at;
	return 0;
}

struct learn_wait {
	int seen_by, node;
	enum swim_event ev;
	uint64_t after;
};

static bool
has_learnt(void *ctx)
{
	struct learn_wait *l = ctx;
	return learnt(l->seen_by, l->ev, l->node, l->after) != 0;
}

/* Whether some reader of task @a id's output was submitted to a pool on
 * a node other than @a node at or before @a t (it may hold a copy). */
static bool
read_elsewhere(uint32_t id, int node, uint64_t t)
{
	for (size_t p = 0; p < npools; p++) {
		if (pools[p]->node == id_of(node))
			continue;
		for (uint32_t i = 0; i < pools[p]->nruns; i++) {
			const struct fake_run *r = &pools[p]->runs[i];
			if (r->submitted > t)
				continue;
			const struct dtask *d = &dag[run_task(r)];
			for (uint32_t k = 0; k < d->nin; k++)
				if (d->in[k].task == id)
					return true;
		}
	}
	return false;
}

/*
 * A worker is killed mid-job (its process: its links reset).  Its owner
 * learns it from gossip -- the lost link makes SWIM probe it at once, so
 * the death comes one or two probe periods plus the lost-link suspicion
 * after the crash (test_swim.c's bounds) -- and at that very moment places
 * the work the dead node had again (or sooner: suspected, the node does
 * not answer the lease, reports.c).  Every value only the dead node held
 * is recomputed by lineage; nothing a live node holds is; the result is
 * the same.
 */
Test(simjobs, a_worker_killed_mid_job_loses_nothing)
{
	const int victim = 3;
	struct spec specs[8];
	specs[0] = owner_only;
	for (int i = 1; i < 8; i++)
		specs[i] = plain;
	cluster(8, specs, false);
	uint32_t final = dag_tree("sum", DAG_LEAVES, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	uint64_t submitted = w.now;
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	want_ended = 150; /* some leaves done everywhere */
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	/* the per-node view, mid-job: every worker has a row, with its tier
	 * and the age of its oldest running attempt; nothing recovered yet */
	struct status mid;
	job_status(0, 0, job, &mid);
	cr_assert_eq(mid.nnodes, 7, "a row per worker");
	for (uint32_t i = 0; i < mid.nnodes; i++) {
		cr_assert_eq(strcmp(mid.node_tier[i], "fog"), 0);
		cr_assert_eq(mid.node_name[i][0], 'n');
		if (mid.node_running[i] == 0) {
			cr_assert_eq(mid.node_oldest[i], 0);
			continue;
		}
		cr_assert_gt(mid.node_oldest[i], 0, "%s", mid.node_name[i]);
		cr_assert_leq(mid.node_oldest[i], w.now - submitted, "%" PRIu64
			      " > %" PRIu64, mid.node_oldest[i], w.now - submitted);
	}
	cr_assert_eq(mid.rec.nodes_lost + mid.rec.failed_over +
		     mid.rec.recomputed + mid.rec.owner_changes + mid.rec.last_ms,
		     0, "no recovery yet");
	uint64_t crash = w.now;
	uint32_t done_there = nd[victim].pool->ended;
	cr_assert_gt(done_there, 0);
	cr_assert_lt(nd[victim].pool->ended, nd[victim].pool->nruns,
		     "the victim still has work");
	uint32_t unfinished = nd[victim].pool->nruns - nd[victim].pool->ended;
	fake_crash(&w, victim);
	struct learn_wait lw = {0, victim, SWIM_EV_DEAD, crash};
	cr_assert(fake_world_run(&w, has_learnt, &lw, 60000));
	uint64_t dead = learnt(0, SWIM_EV_DEAD, victim, crash);
	uint64_t lat = w.latency_ms, T = scfg.probe_interval_ms;
	uint64_t L = scfg.lost_link_suspicion_ms;
	cr_assert_geq(dead - crash, lat + T + L, "%" PRIu64, dead - crash);
	cr_assert_leq(dead - crash, lat + 2 * T + L, "%" PRIu64, dead - crash);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	cr_log_info("crash at +%" PRIu64 " ms, known dead %" PRIu64
		    " ms later, job done %" PRIu64 " ms after the death",
		    crash - 1000000, dead - crash, r->at - dead);

	/* lineage: what only the victim held ran again, after the death */
	uint32_t recomputed = 0;
	for (uint32_t i = 1; i <= ndag; i++) {
		uint32_t elsewhere = 0;
		for (int k = 1; k < 8; k++)
			if (k != victim)
				elsewhere += successes(i, k, 0, NULL);
		cr_assert_leq(elsewhere, 1, "task %u ran twice on live nodes", i);
		if (successes(i, victim, 0, NULL) == 0) {
			cr_assert_eq(elsewhere, 1, "task %u never ran", i);
			continue;
		}
		if (read_elsewhere(i, victim, crash))
			continue; /* a live node may hold a copy */
		uint64_t at = 0;
		for (int k = 1; k < 8; k++)
			if (k != victim && successes(i, k, 0, &at))
				break;
		cr_assert_eq(elsewhere, 1, "task %u's value was only on the "
			     "dead node: it must run again", i);
		/* after the crash: at the death, or sooner when a live node
		 * failed to fetch it (it reports the input lost) */
		cr_assert_gt(at, crash);
		recomputed++;
	}
	cr_assert_gt(recomputed, 0);
	/* the re-placement: the work the victim had not done yet goes
	 * elsewhere when the owner learns of the death, the first of it at
	 * that very moment */
	uint64_t first = UINT64_MAX;
	for (size_t i = 0; i < nwevs; i++) {
		const struct wev *e = &wevs[i];
		if (e->type != MSG_TASK_RUN || e->to == victim || e->at <= crash)
			continue;
		bool was_there = false; /* its latest dispatch before */
		for (size_t k = 0; k < i; k++)
			if (wevs[k].type == MSG_TASK_RUN &&
			    wevs[k].task == e->task)
				was_there = wevs[k].to == victim;
		if (was_there && successes(e->task, victim, 0, NULL) == 0 &&
		    e->at - lat < first)
			first = e->at - lat;
	}
	/* ... or sooner, once gossip suspects it and it does not answer
	 * the lease (reports.c): never before the suspicion */
	uint64_t suspected = learnt(0, SWIM_EV_SUSPECT, victim, crash);
	cr_assert(suspected > 0 && first > suspected && first <= dead,
		  "re-placed at %" PRIu64 ", suspected at %" PRIu64
		  ", death known at %" PRIu64, first, suspected, dead);
	cr_log_info("%u values only the dead node held were recomputed",
		    recomputed);
	/* the owner's account of it (JOB_STATUS "recoveries"): one node
	 * lost; at least the attempts the victim had not finished failed
	 * over, at most every one it was sent; at least the values shown
	 * above recomputed, at most every task that succeeded there */
	uint32_t sent = 0, there = 0;
	for (size_t i = 0; i < nwevs; i++)
		sent += wevs[i].type == MSG_TASK_RUN && wevs[i].to == victim;
	for (uint32_t i = 1; i <= ndag; i++)
		there += successes(i, victim, 0, NULL) > 0;
	struct status fin;
	job_status(0, 0, job, &fin);
	cr_assert_eq(fin.rec.nodes_lost, 1);
	cr_assert_eq(fin.rec.owner_changes, 0);
	cr_assert_geq(fin.rec.failed_over, unfinished);
	cr_assert_leq(fin.rec.failed_over, sent);
	cr_assert_geq(fin.rec.recomputed, recomputed);
	cr_assert_leq(fin.rec.recomputed, there);
	cr_assert_gt(fin.rec.last_ms, 0);
	cr_assert_leq(fin.rec.last_ms, w.now - suspected);
	/* the last one: the death, the lease's verdict on the suspected
	 * node before it, or a reader's report of a value the dead node held
	 * (which may come after either) */
	char words[64], silent[64], value[64];
	snprintf(words, sizeof(words), "node n%d lost: ", victim);
	snprintf(silent, sizeof(silent), "node n%d suspected and silent: ",
		 victim);
	snprintf(value, sizeof(value), "a value on n%d was lost: ", victim);
	cr_assert(strstr(fin.rec.last, words) || strstr(fin.rec.last, silent) ||
		  strstr(fin.rec.last, value), "%s", fin.rec.last);
	cr_log_info("recoveries: %s", fin.rec.last);
	print_digest("crash");
}

/* --------------------------------------------------------- checkpoints */

/* A node that runs no task but keeps checkpoint copies: a cloud VM. */
static const struct spec cloud_keeper = {"cloud", 2, 1.0, 10.0, 0.0, false};

/* JOB_CREATE with checkpoints every @a every tasks (0: none). */
static uint64_t
create_ckpt(int owner, uint32_t every)
{
	struct buf b = BUF_INIT;
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	c.checkpoint_every = every;
	jobmsg_create_pack(&b, &c);
	uint64_t job;
	cr_assert_eq(create_raw(owner, &b, &job), 0);
	buf_destroy(&b);
	return job;
}

/* JOB_RELEASE of (first..last, 0), from node @a from's client. */
static void
release_range(int from, int owner, uint64_t job, uint32_t first,
	      uint32_t last)
{
	struct buf b = BUF_INIT;
	jobmsg_release_pack(&b, id_of(owner), job, NULL, last - first + 1);
	for (uint32_t i = first; i <= last; i++)
		jobmsg_ref_pack(&b, (struct gref){i, 0});
	cr_assert_eq(call(from, owner, MSG_JOB_RELEASE, &b, NULL), 0);
	buf_destroy(&b);
}

/* What the checkpoint tests saw on the wire: each VALUE_COPY asked (its
 * corr, value and target) and when its success came back; the VALUE_GETs
 * each node was asked, per task, after ck_since. */
#define CK_MAX_COPIES 4096
static struct {
	uint64_t corr;
	uint32_t task;
	int to;
	uint64_t ok_at; /* 0: not (yet) a success */
} ck_copies[CK_MAX_COPIES];
static uint32_t ck_ncopies;
static uint64_t ck_since;
static uint32_t ck_gets_at[MAXN][MAX_TASKS + 1];

static void
ckpt_tap(int from, int to, const struct msg *m)
{
	(void)from;
	if (m->type == MSG_VALUE_COPY && (m->flags & MSG_F_REQUEST)) {
		struct jobmsg_value_copy q;
		cr_assert_eq(jobmsg_value_copy_unpack(m->body, m->len, &q), 0);
		cr_assert_lt(ck_ncopies, CK_MAX_COPIES);
		ck_copies[ck_ncopies++] = (typeof(ck_copies[0])){
			m->corr, q.v.task, to, 0};
	} else if (m->type == MSG_VALUE_COPY && (m->flags & MSG_F_REPLY) &&
		   m->status == 0) {
		for (uint32_t i = 0; i < ck_ncopies; i++)
			if (ck_copies[i].corr == m->corr && ck_copies[i].to == from)
				ck_copies[i].ok_at = w.now;
	} else if (m->type == MSG_VALUE_GET && (m->flags & MSG_F_REQUEST) &&
		   w.now >= ck_since) {
		struct jobmsg_value_get g;
		if (jobmsg_value_get_unpack(m->body, m->len, &g) == 0 &&
		    g.v.task <= MAX_TASKS)
			ck_gets_at[to][g.v.task]++;
	}
}

/* A chain: task i reads task i-1's value; each @a work ms. */
static uint32_t
dag_chain(uint32_t n, uint32_t work)
{
	ndag = 0;
	dag_add("sum", work, 0, NULL);
	for (uint32_t i = 2; i <= n; i++) {
		struct gref in = {i - 1, 0};
		dag_add("sum", work, 1, &in);
	}
	return n;
}

#define CK_CHAIN 200
#define CK_CHAIN_MS 10
#define CK_EVERY 20

/* What one chain run under a crash did. */
struct ck_run {
	uint32_t copied;     /* the highest task whose copy landed before
			      * the crash (0: none) */
	uint32_t before;     /* tasks ended before the crash */
	uint32_t reexec;     /* tasks that succeeded more than once */
	uint32_t first_again; /* the lowest of those (0: none) */
	struct status fin;
};

/*
 * A chain of CK_CHAIN tasks on two fog workers (nodes 1 and 2) with a
 * cloud node (3) that runs nothing and an owner (0) that runs nothing;
 * the client releases every value but the last, so only a partition's
 * last value is still needed when it ends.  Once half the chain has run,
 * the worker running it is killed.
 */
static void
ck_chain_crash(uint32_t every, struct ck_run *out)
{
	struct spec specs[4] = {owner_only, plain, plain, cloud_keeper};
	cluster(4, specs, false);
	ck_ncopies = 0;
	ck_since = UINT64_MAX;
	memset(ck_gets_at, 0, sizeof(ck_gets_at));
	tap_hook = ckpt_tap;
	uint32_t final = dag_chain(CK_CHAIN, CK_CHAIN_MS);
	uint64_t job = create_ckpt(0, every);
	submit_range(0, 0, job, 1, ndag);
	release_range(0, 0, job, 1, final - 1);
	struct req *r = wait_async(0, 0, job, final);
	want_ended = CK_CHAIN / 2;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	/* the chain's node: the one that ran the latest task */
	int victim = nd[1].pool->ended >= nd[2].pool->ended ? 1 : 2;
	uint64_t crash = w.now;
	memset(out, 0, sizeof(*out));
	out->before = (uint32_t)ended_runs();
	for (uint32_t i = 0; i < ck_ncopies; i++)
		if (ck_copies[i].ok_at && ck_copies[i].ok_at <= crash &&
		    ck_copies[i].task > out->copied)
			out->copied = ck_copies[i].task;
	ck_since = crash;
	fake_crash(&w, victim);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final],
		     "the result is the one computed here");
	for (uint32_t i = 1; i <= ndag; i++) {
		uint32_t n = successes(i, -1, 0, NULL);
		cr_assert_geq(n, 1, "task %u never ran", i);
		if (n > 1) {
			out->reexec++;
			if (out->first_again == 0)
				out->first_again = i;
		}
	}
	/* the last partition's copies settle after the job ends */
	for (int i = 0; i < 100; i++) {
		job_status(0, 0, job, &out->fin);
		if (!out->fin.has_ckpt || out->fin.ck.pending == 0)
			break;
		run_for(50);
	}
	cr_log_info("checkpoint every %u: %u tasks ended before the crash of "
		    "n%d, copies up to task %u, %u run again from task %u",
		    every, out->before, victim, out->copied, out->reexec,
		    out->first_again);
}

/*
 * Checkpoints stop lineage: with a partition every CK_EVERY tasks, the
 * tasks up to the last value copied before the crash run once (the
 * chain's re-run starts after it, reading the copy on the cloud node),
 * and no more than two partitions' worth run again (the one being
 * filled, and the one whose copy was in flight) -- the bound of
 * data/ckpt.h.  The same run without checkpoints reaches back further
 * (the test can fail: it does without them).
 */
Test(simjobs, a_checkpoint_stops_lineage_at_the_last_partition)
{
	struct ck_run with, without;
	ck_chain_crash(CK_EVERY, &with);
	cr_assert_geq(with.copied, 3 * CK_EVERY,
		      "partitions were copied before the crash (%u)",
		      with.copied);
	cr_assert_eq(with.copied % CK_EVERY, 0,
		     "a partition's last value is what is copied");
	cr_assert_gt(with.reexec, 0, "the victim held the chain's head");
	cr_assert_gt(with.first_again, with.copied,
		     "task %u ran again, before the copy of %u",
		     with.first_again, with.copied);
	cr_assert_leq(with.reexec, 2 * CK_EVERY + 2, "%u", with.reexec);
	for (uint32_t i = 1; i <= with.copied; i++)
		cr_assert_eq(successes(i, -1, 0, NULL), 1, "task %u ran again", i);
	/* the copy on the cloud node is what the re-run read */
	cr_assert_gt(ck_gets_at[3][with.copied], 0,
		     "task %u's copy on the cloud node was read",
		     with.copied);
	for (uint32_t i = 0; i < ck_ncopies; i++)
		cr_assert_eq(ck_copies[i].to, 3, "copies go to the cloud node");
	cr_assert(with.fin.has_ckpt);
	cr_assert_eq(with.fin.ck.every, CK_EVERY);
	cr_assert_geq(with.fin.ck.copies, with.copied / CK_EVERY);
	cr_assert_eq(with.fin.ck.bytes, with.fin.ck.copies * 9);
	/* the copy in flight when its producer died fails (it is said) */
	cr_assert_leq(with.fin.ck.failed, 1);
	cr_assert_eq(with.fin.ck.pending, 0);
	print_digest("checkpoints");

	world_end();
	world_begin(seed);
	ck_chain_crash(0, &without);
	cr_assert(!without.fin.has_ckpt, "no checkpoints, no counters");
	cr_assert_eq(ck_ncopies, 0);
	cr_assert_lt(without.first_again, with.copied,
		     "without checkpoints lineage reaches back past task %u "
		     "(to %u)", with.copied, without.first_again);
	cr_assert_gt(without.reexec, with.reexec);
}

/*
 * A worker killed and restarted at once (issue 12: the job hung forever):
 * the new process joins with a higher boot in its incarnation and refutes
 * before anyone suspects the old one, so gossip never says DEAD.  The
 * owner must see the new boot as the loss it is -- the old attempts are
 * nowhere, the old values gone -- and re-place them at once.  The job
 * ends with the right value, long before a death could have been
 * declared, and every task's value is accepted once.
 */
Test(simjobs, a_worker_restarted_at_once_loses_nothing_and_hangs_nothing)
{
	const int victim = 2;
	struct spec specs[4] = {owner_only, plain, plain, plain};
	cluster(4, specs, false);
	uint32_t final = dag_tree("sum", DAG_LEAVES, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	want_ended = 150;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	struct fake_pool *old = nd[victim].pool;
	cr_assert_lt(old->ended, old->nruns, "the victim still has work");
	fake_crash(&w, victim);
	uint64_t crash = w.now;
	node_start(victim, &plain, 2, NULL); /* the same key, boot 2 */
	join(victim, id_of(0));
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0, "the job did not hang");
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	/* gossip never declared the old process dead: only its new boot
	 * told the owner */
	cr_assert_eq(learnt(0, SWIM_EV_DEAD, victim, crash), 0);
	uint64_t T = scfg.probe_interval_ms, L = scfg.lost_link_suspicion_ms;
	cr_assert_lt(r->at - crash, 60000);
	cr_log_info("restart at +%" PRIu64 " ms, job done %" PRIu64
		    " ms later (a death would take %" PRIu64 " ms or more)",
		    crash - 1000000, r->at - crash, T + L);
	/* the new process ran work again (the lost attempts, the lost
	 * values' producers), and no task's value was taken twice from live
	 * nodes */
	cr_assert_gt(nd[victim].pool->nruns, 0, "the new boot got work");
	/* the new boot is a node lost, as the owner counts recoveries */
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_eq(s.rec.nodes_lost, 1);
	cr_assert_gt(s.rec.failed_over + s.rec.recomputed, 0);
	char words[64], value[64];
	snprintf(words, sizeof(words), "node n%d restarted: ", victim);
	snprintf(value, sizeof(value), "a value on n%d was lost: ", victim);
	cr_assert(strstr(s.rec.last, words) || strstr(s.rec.last, value), "%s",
		  s.rec.last);
	print_digest("quick-restart");
}

/* The lease test's wire: the n-th TASK_RUN is lost (a link that went
 * down with it queued). */
static int drop_nth, runs_seen;
static uint32_t dropped_task;
static bool
drop_one_run(void *ctx, int from, int to, const struct msg *m)
{
	(void)ctx;
	(void)from;
	(void)to;
	struct jobmsg_task_run r;
	struct mp_cur c;
	if (m->type != MSG_TASK_RUN || ++runs_seen != drop_nth)
		return false;
	if (jobmsg_task_run_unpack(m->body, m->len, &r, &c) == 0)
		dropped_task = r.task;
	return true;
}

/*
 * An attempt that never reaches its node (issue 12: "an attempt nobody
 * works on is never noticed"): the worker stays alive and gossip says
 * nothing, so only the lease finds it -- the owner asks the quiet worker
 * which attempts it holds, and places the missing one again.  The job
 * ends with the right value, the lost task runs exactly once, and no
 * sooner than the lease allows (it is not guessed from time alone).
 */
Test(simjobs, an_attempt_lost_on_the_way_is_placed_again_by_the_lease)
{
	struct spec specs[2] = {owner_only, plain};
	specs[1].cores = 1;
	cluster(2, specs, false);
	uint32_t final = dag_tree("sum", 16, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	drop_nth = 5;
	runs_seen = 0;
	dropped_task = 0;
	w.drop = drop_one_run;
	uint64_t job = create(0);
	uint64_t t0 = w.now;
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	w.drop = NULL;
	cr_assert_neq(dropped_task, 0, "a TASK_RUN was dropped");
	cr_assert_eq(wait_status(r), 0, "the job did not hang");
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	cr_assert_eq(successes(dropped_task, -1, 0, NULL), 1);
	for (uint32_t i = 1; i <= ndag; i++)
		cr_assert_eq(successes(i, -1, 0, NULL), 1, "task %u", i);
	cr_assert_geq(r->at - t0, (uint64_t)DATA_LEASE_MS);
	cr_log_info("task %u's TASK_RUN lost; job done %" PRIu64 " ms after "
		    "the submit", dropped_task, r->at - t0);
	/* the recovery as the owner counts it: one attempt failed over, no
	 * node lost, nothing recomputed */
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_eq(s.rec.failed_over, 1);
	cr_assert_eq(s.rec.nodes_lost, 0);
	cr_assert_eq(s.rec.recomputed, 0);
	cr_assert_not_null(strstr(s.rec.last, "attempts sent to n1 never "
				  "arrived: 1 attempt failed over"), "%s",
			   s.rec.last);
	print_digest("lease");
}

/*
 * A wait that times out says what it waits for (issue 12: a stuck job
 * looked like a slow one, ETIMEDOUT with no word): the owner answers a
 * tick before the deadline, so the answer beats the client's own timer,
 * naming the chain down to the task that holds things up and where it
 * runs.
 */
Test(simjobs, a_timed_out_wait_says_what_it_waits_for)
{
	struct spec specs[2] = {owner_only, plain};
	specs[1].cores = 1;
	cluster(2, specs, false);
	ndag = 0;
	/* longer than the request's deadline (REQ_TIMEOUT_MS) */
	uint32_t slow = dag_add("sum", 2 * REQ_TIMEOUT_MS, 0, NULL);
	struct gref in = {slow, 0};
	uint32_t last = dag_add("sum", 10, 1, &in);
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	uint64_t t0 = w.now;
	struct req *r = wait_async(0, 0, job, last);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(r->status, 0, "answered by the owner, not timed out");
	cr_assert_leq(r->at - t0, (uint64_t)REQ_TIMEOUT_MS);
	int status;
	uint64_t size;
	const char *msg;
	uint32_t mlen;
	cr_assert_eq(jobmsg_wait_reply_unpack(r->body, r->len, &status, &size,
					      &msg, &mlen), 0);
	cr_assert_eq(status, MIST_ETIMEDOUT);
	char text[600];
	snprintf(text, sizeof(text), "%.*s", (int)mlen, msg);
	char want_text[200];
	snprintf(want_text, sizeof(want_text),
		 "task %u ('sum') needs task %u: task %u ('sum') is running "
		 "on n1", last, slow, slow);
	cr_assert_not_null(strstr(text, want_text), "%s", text);
	cr_log_info("%s", text);
}

/*
 * What an operator sees of a job that waits (issue 12, item 9): where
 * it runs and since when, what waits for inputs, what is ready but not
 * placed -- since when, and why: all nodes busy, then the nodes away.
 * One worker of one core takes per_core_inflight attempts; the rest of
 * the job's independent slow tasks wait ready, and one task waits for
 * an input.  Then the worker dies: its attempts fail over (back to
 * ready), and nothing offers the function while its node is away.
 */
static uint64_t kill_for_good(int victim, int watcher);

Test(simjobs, the_status_says_what_runs_what_waits_since_when_and_why)
{
	struct spec specs[2] = {owner_only, plain};
	specs[1].cores = 1;
	cluster(2, specs, false);
	ndag = 0;
	uint32_t extra = 8, slots = dcfg.per_core_inflight;
	for (uint32_t i = 0; i < slots + extra; i++)
		dag_add("sum", 3600 * 1000, 0, NULL); /* longer than the test */
	struct gref in = {1, 0};
	dag_add("sum", 10, 1, &in);
	uint64_t job = create(0);
	uint64_t t0 = w.now;
	submit_range(0, 0, job, 1, ndag);
	uint64_t t1 = w.now;
	run_for(1500);
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_eq(s.running, slots);
	cr_assert_eq(s.ready, extra);
	cr_assert_eq(s.waiting, 1, "the reader of task 1 waits for its input");
	cr_assert_eq(s.nnodes, 1);
	cr_assert_eq(strcmp(s.node_name[0], "n1"), 0);
	cr_assert_eq(strcmp(s.node_tier[0], "fog"), 0);
	cr_assert_eq(s.node_running[0], slots);
	/* placed, and ready, between the submit's start and its end */
	cr_assert_geq(s.node_oldest[0], w.now - t1);
	cr_assert_leq(s.node_oldest[0], w.now - t0);
	cr_assert_geq(s.ready_oldest_ms, w.now - t1);
	cr_assert_leq(s.ready_oldest_ms, w.now - t0);
	cr_assert_eq(strcmp(s.ready_why, "all 1 node offering 'sum' are busy"),
		     0, "%s", s.ready_why);
	cr_assert_eq(s.rec.failed_over + s.rec.nodes_lost, 0);
	/* ages move with the clock */
	run_for(1000);
	struct status later;
	job_status(0, 0, job, &later);
	cr_assert_eq(later.node_oldest[0], s.node_oldest[0] + 1000);
	cr_assert_eq(later.ready_oldest_ms, s.ready_oldest_ms + 1000);

	uint64_t killed = w.now;
	uint64_t dead = kill_for_good(1, 0);
	uint64_t suspected = learnt(0, SWIM_EV_SUSPECT, 1, killed);
	run_for(100);
	job_status(0, 0, job, &s);
	cr_assert_eq(s.running, 0);
	cr_assert_eq(s.ready, slots + extra);
	cr_assert_eq(s.rec.nodes_lost, 1);
	cr_assert_eq(s.rec.failed_over, slots);
	cr_assert_eq(s.rec.recomputed, 0);
	cr_assert_eq(s.rec.owner_changes, 0);
	/* at the death, or before it at the lease's verdict on the
	 * suspected node (reports.c lease_lost) -- never before suspicion */
	cr_assert_geq(s.rec.last_ms, w.now - dead);
	cr_assert_leq(s.rec.last_ms, w.now - suspected);
	char words[128], silent[128];
	snprintf(words, sizeof(words), "node n1 lost: %u attempts failed over",
		 slots);
	snprintf(silent, sizeof(silent), "node n1 suspected and silent: %u "
		 "attempts failed over", slots);
	cr_assert(strcmp(s.rec.last, words) == 0 ||
		  strcmp(s.rec.last, silent) == 0, "%s", s.rec.last);
	cr_assert_eq(strcmp(s.ready_why, "no live node allowed by the job "
			    "offers 'sum' (nodes away)"), 0, "%s", s.ready_why);
	/* the oldest ready task is still the one ready since the submit
	 * (the ones that failed over are ready since the death) */
	cr_assert_geq(s.ready_oldest_ms, w.now - t1);
}

/* A copy of a message as it was on the wire. */
static struct msg *
msg_clone(const struct msg *m)
{
	struct msg *c = msg_new(m->type, m->body, m->len);
	c->flags = m->flags;
	c->status = m->status;
	c->from = m->from;
	c->to = m->to;
	c->corr = m->corr;
	return c;
}

/* Test 3a's wire: each attempt's TASK_DONE to the owner is delivered
 * once more this much later (a duplicated, delayed packet). */

static void
duplicate_reports(int from, int to, const struct msg *m)
{
	struct jobmsg_task_done d;
	struct mp_cur c;
	if (m->type != MSG_TASK_DONE || to != 0 ||
	    jobmsg_task_done_unpack_head(m->body, m->len, &d, &c) != 0)
		return;
	for (int i = 0; i < ndup_seen; i++)
		if (dup_seen[i] == d.attempt)
			return; /* the copy itself */
	cr_assert_lt(ndup_seen, 8);
	dup_seen[ndup_seen++] = d.attempt;
	fake_inject(&w, from, msg_clone(m), dup_delay_ms);
}

/* The TASK_DONE deliveries to node @a to for task @a task: how many, and
 * the times of the first two. */
static int
reports(int to, uint32_t task, uint64_t at[2], uint32_t attempt[2])
{
	int n = 0;
	for (size_t i = 0; i < nwevs; i++)
		if (wevs[i].type == MSG_TASK_DONE && wevs[i].to == to &&
		    wevs[i].task == task) {
			if (n < 2) {
				at[n] = wevs[i].at;
				attempt[n] = wevs[i].attempt;
			}
			n++;
		}
	return n;
}

/*
 * A stale report on the same node: attempt 1 of a task fails (the flaky
 * function), the owner runs attempt 2 on the same worker, and a copy of
 * attempt 1's failure report arrives again in the middle of attempt 2 (a
 * duplicated, delayed packet).  The job allows two attempts, so were the
 * copy counted, the task would fail there and then.  Only the attempt
 * number tells the copy from a current report: it is ignored, and the
 * task is done when attempt 2 ends, to the millisecond.  A copy of that
 * success, arriving after it, changes nothing either.
 */
Test(simjobs, a_stale_report_of_an_old_attempt_is_fenced_off)
{
	struct spec specs[2] = {owner_only, plain};
	specs[1].cores = 1;
	cluster(2, specs, false);
	/* {"attempts": 2} */
	struct buf b = BUF_INIT;
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	c.attempts = 2;
	jobmsg_create_pack(&b, &c);
	uint64_t job;
	cr_assert_eq(create_raw(0, &b, &job), 0);
	buf_destroy(&b);
	ndag = 0;
	const uint64_t work = 1000;
	uint32_t t = dag_add("flaky", (uint32_t)work, 0, NULL);
	dup_delay_ms = work / 2;
	tap_hook = duplicate_reports;
	uint64_t t0 = w.now, lat = w.latency_ms;
	submit_range(0, 0, job, 1, 1);
	struct req *r = wait_async(0, 0, job, t);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0, "the stale failure was not counted");
	/* attempt 1: sent, run, reported; attempt 2: the same, on the same
	 * node, the copy of report 1 arriving half way through */
	cr_assert_eq(r->at, t0 + 2 * (lat + work + lat), "done at +%" PRIu64,
		     r->at - t0);
	uint64_t at[2];
	uint32_t attempt[2];
	cr_assert_eq(reports(0, t, at, attempt), 3, "report 1, its copy, "
		     "report 2 (its copy still on the way)");
	cr_assert_eq(at[1], at[0] + dup_delay_ms);
	cr_assert_eq(attempt[1], attempt[0], "a copy of attempt 1's report");
	cr_assert_lt(at[1], r->at, "it came while attempt 2 ran");
	cr_assert_eq(nd[1].pool->nruns, 2, "both attempts on the one worker");
	cr_assert_eq(nd[1].pool->runs[0].status, MIST_ETASK);
	cr_assert_eq(nd[1].pool->runs[1].status, 0);
	run_for(2 * dup_delay_ms); /* report 2's copy arrives */
	cr_assert_eq(reports(0, t, at, attempt), 4);
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_str_eq(s.state, "done");
	cr_assert_eq(s.done, 1);
	cr_assert_eq(s.failed, 0);
	cr_assert_eq(read_value(0, 0, job, t), want[t]);
	print_digest("stale");
}

/*
 * A worker that comes back: it stalls (a pause: its timers and inputs
 * wait) while it runs a long task; gossip declares it dead and the owner
 * runs the task on the other worker.  Then it resumes, ends the old
 * attempt and reports it -- while the new attempt still runs.  The late
 * report is not taken (it names an old attempt, from a node the task is
 * not running on: either fences it): the task is done when the new
 * attempt ends, to the millisecond, and the owner names the other worker
 * as its runner.
 */
Test(simjobs, a_worker_that_comes_back_is_fenced_off)
{
	struct spec specs[3] = {owner_only, plain, plain};
	specs[1].cores = specs[2].cores = 1;
	cluster(3, specs, false);
	uint64_t job = create(0);
	ndag = 0;
	/* longer than gossip takes to declare a stalled member of three
	 * dead: probes reach it within two periods, the suspicion lasts at
	 * most 6 x 4 x log10(3) x 1 s = 11.5 s (swim.h) */
	const uint64_t work = 30000;
	uint32_t t = dag_add("sum", (uint32_t)work, 0, NULL);
	uint64_t t0 = w.now, lat = w.latency_ms;
	submit_range(0, 0, job, 1, 1);
	struct req *r = wait_async(0, 0, job, t);
	run_for(100);
	/* equal candidates: the smaller node id, worker 1, took it */
	cr_assert_eq(nd[1].pool->nruns, 1);
	cr_assert_eq(nd[1].pool->runs[0].submitted, t0 + lat);
	fake_pause(&w, 1, true);
	struct learn_wait lw = {0, 1, SWIM_EV_DEAD, t0};
	cr_assert(fake_world_run(&w, has_learnt, &lw, 60000));
	uint64_t dead = learnt(0, SWIM_EV_DEAD, 1, t0);
	cr_assert_lt(dead, t0 + work, "declared dead before its task ends");
	run_for(work / 5);
	cr_assert_eq(nd[2].pool->nruns, 1, "re-placed on worker 2");
	/* at the death, or sooner: suspected, it did not answer the lease */
	uint64_t suspected = learnt(0, SWIM_EV_SUSPECT, 1, t0);
	uint64_t again = nd[2].pool->runs[0].submitted;
	cr_assert(suspected > 0 && again > suspected + lat &&
		  again <= dead + lat, "re-placed at %" PRIu64 ", suspected "
		  "at %" PRIu64 ", dead at %" PRIu64, again, suspected, dead);
	fake_pause(&w, 1, false);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(r->at, again + work + lat,
		     "done when the new attempt ended (+%" PRIu64 " ms)",
		     r->at - again);
	uint64_t at[2];
	uint32_t attempt[2];
	cr_assert_eq(reports(0, t, at, attempt), 2);
	cr_assert_lt(at[0], at[1], "the late report came first");
	cr_assert_lt(attempt[0], attempt[1]);
	cr_assert_eq(nd[1].pool->runs[0].status, 0);
	cr_assert_gt(nd[1].pool->runs[0].ended, dead, "it ended after");
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_eq(s.done, 1);
	cr_assert_eq(s.nnodes, 1);
	cr_assert_eq(s.node[0], id_of(2));
	cr_assert_eq(read_value(0, 0, job, t), want[t]);
	/* and the worker is a member again (dead, then back: a join) */
	struct learn_wait back = {0, 1, SWIM_EV_JOIN, dead};
	cr_assert(fake_world_run(&w, has_learnt, &back, 60000));
	print_digest("back");
}

/* ------------------------------------------------ the owner's journal */

/* A store and its loop (the writer answers on it; one loop per store,
 * so that closing one waits for that store's handle alone). */
struct disk {
	uv_loop_t loop;
	struct store *s;
};

static void
barrier_cb(void *arg, int status)
{
	cr_assert_eq(status, 0);
	*(int *)arg = 1;
}

/* Waits until the store's writer has committed everything queued so
 * far: a write with a callback, after which all earlier ones are durable
 * (the writer commits in order).  Real time, but no virtual time passes,
 * and the writer is quick: an fsync. */
static void
store_barrier(struct disk *d)
{
	int done = 0;
	store_put(d->s, STORE_META, "test-barrier", 12, "", 0, barrier_cb,
		  &done);
	while (!done)
		uv_run(&d->loop, UV_RUN_ONCE);
}

static void
disk_open(struct disk *d, const char *dir)
{
	cr_assert_eq(uv_loop_init(&d->loop), 0);
	d->s = store_open(&d->loop, dir, STORE_MAP);
	cr_assert_not_null(d->s);
}

static void
disk_close(struct disk *d)
{
	store_close(d->s);
	uv_run(&d->loop, UV_RUN_DEFAULT); /* its handle closes */
	cr_assert_eq(uv_loop_close(&d->loop), 0);
}

static void
copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out;
	cr_assert_geq(in, 0, "%s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(out, 0, "%s: %s", to, strerror(errno));
	uint8_t b[65536];
	ssize_t n;
	while ((n = read(in, b, sizeof(b))) > 0)
		cr_assert_eq(write(out, b, (size_t)n), n);
	cr_assert_eq(n, 0);
	close(in);
	close(out);
}

/*
 * A node's disk across a crash: `before` is the store the node runs on,
 * `after` what its restart finds -- a copy of the committed file, taken
 * at the crash (disks_crash), since the fake world's crash cannot stop
 * the real store's writer mid-way.  disks_end closes the world on them
 * (the data managers' last writes) and removes the folder.
 */
struct disks {
	char *tmp;
	char before[600], after[600];
	struct disk d1, d2;
};

static void
disks_open(struct disks *k)
{
	k->tmp = tu_tmpdir();
	snprintf(k->before, sizeof(k->before), "%s/before", k->tmp);
	snprintf(k->after, sizeof(k->after), "%s/after", k->tmp);
	cr_assert_eq(mkdir(k->before, 0700), 0);
	cr_assert_eq(mkdir(k->after, 0700), 0);
	disk_open(&k->d1, k->before);
}

/* What was committed on `before`, copied to `after` (then the caller
 * crashes the node and opens d2 for its restart). */
static void
disks_crash(struct disks *k)
{
	char f1[700], f2[700];
	store_barrier(&k->d1);
	snprintf(f1, sizeof(f1), "%s/store/data.mdb", k->before);
	snprintf(f2, sizeof(f2), "%s/store", k->after);
	cr_assert_eq(mkdir(f2, 0700), 0);
	snprintf(f2, sizeof(f2), "%s/store/data.mdb", k->after);
	copy_file(f1, f2);
}

static void
disks_end(struct disks *k)
{
	world_end(); /* the data managers' last journal writes, then */
	disk_close(&k->d2);
	world_begin(seed); /* an empty world for the teardown */
	tu_rmrf(k->tmp);
	free(k->tmp);
}

/* What the journal says: the tasks whose completion it holds (on which
 * node), read from the records as journal.c draws them. */
struct journal_view {
	bool created;
	uint32_t batches;
	uint64_t done_on[MAX_TASKS + 1]; /* node, 0: not journalled */
	uint32_t copies; /* 'E': checkpoint copies journalled */
	uint64_t copied_to[MAX_TASKS + 1]; /* output 0's, 0: none */
};

static int
journal_cb(void *arg, const void *kp, size_t klen, const void *val,
	   size_t vlen)
{
	struct journal_view *jv = arg;
	const uint8_t *k = kp;
	if (klen != 13)
		return 0;
	if (k[8] == 'A')
		jv->created = true;
	else if (k[8] == 'B')
		jv->batches++;
	struct mp_cur c;
	uint32_t n, three, ns;
	uint64_t task, node, size, out;
	mp_cur_init(&c, val, vlen);
	if (k[8] == 'E') {
		cr_assert_eq(mp_read_array(&c, &n), 0);
		for (uint32_t i = 0; i < n; i++) {
			cr_assert_eq(mp_read_array(&c, &three), 0);
			cr_assert_eq(three, 3);
			cr_assert_eq(mp_read_uint(&c, &task), 0);
			cr_assert_eq(mp_read_uint(&c, &out), 0);
			cr_assert_eq(mp_read_uint(&c, &node), 0);
			cr_assert_leq(task, MAX_TASKS);
			jv->copies++;
			if (out == 0)
				jv->copied_to[task] = node;
		}
		return 0;
	}
	if (k[8] != 'C')
		return 0;
	cr_assert_eq(mp_read_array(&c, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(mp_read_array(&c, &three), 0);
		cr_assert_eq(three, 3);
		cr_assert_eq(mp_read_uint(&c, &task), 0);
		cr_assert_eq(mp_read_uint(&c, &node), 0);
		cr_assert_eq(mp_read_array(&c, &ns), 0);
		for (uint32_t s = 0; s < ns; s++)
			cr_assert_eq(mp_read_uint(&c, &size), 0);
		cr_assert_leq(task, MAX_TASKS);
		jv->done_on[task] = node;
	}
	return 0;
}

/*
 * The owner's node restarts mid-job from its journal (a real LMDB store):
 * it is killed, the disk keeps what the store had committed, and a new
 * process (boot 2) starts on the same store a moment later.  It resumes
 * the job: the tasks the journal holds as done on live workers are not
 * run again (their values are where they were), every other task is run
 * exactly once more, and the result is the right one.  The old owner's
 * attempts still running on the workers report to the new one, which
 * ignores them (their attempt numbers carry the old boot).
 */
Test(simjobs, an_owner_restarted_from_its_journal_resumes_the_job)
{
	static struct disks k;
	disks_open(&k);

	const struct spec specs[] = {owner_only, plain, plain, plain};
	cluster_on(4, specs, false, k.d1.s);
	uint32_t final = dag_tree("sum", 200, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	want_ended = 120;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));

	/* the crash: the disk holds what was committed */
	uint64_t crash = w.now;
	disks_crash(&k);
	fake_crash(&w, 0);
	run_for(300);

	/* what the disk says, read here from the records */
	disk_open(&k.d2, k.after);
	static struct journal_view jv;
	memset(&jv, 0, sizeof(jv));
	cr_assert_eq(store_scan(k.d2.s, STORE_JOBS, NULL, 0, journal_cb, &jv), 0);
	cr_assert(jv.created);
	cr_assert_eq(jv.batches, (ndag + BATCH - 1) / BATCH);
	uint32_t kept = 0;
	for (uint32_t i = 1; i <= ndag; i++)
		if (jv.done_on[i]) {
			cr_assert_neq(jv.done_on[i], id_of(0), "the owner ran nothing");
			kept++;
		}
	cr_assert_gt(kept, 0);
	cr_assert_lt(kept, ndag);

	/* the new process: boot 2, the same store */
	node_start(0, &owner_only, 2, k.d2.s);
	disk_close(&k.d1); /* the old process's (it flushed on its way out) */
	join(0, id_of(1));
	uint64_t restart = w.now;
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_ATTACH, id_of(0), job);
	struct req *r;
	cr_assert_eq(call(0, 0, MSG_JOB_ATTACH, &b, &r), 0);
	buf_destroy(&b);
	uint64_t jid, ntasks;
	cr_assert_eq(jobmsg_ids_unpack(r->body, r->len, &jid, &ntasks), 0);
	cr_assert_eq(jid, job);
	cr_assert_eq(ntasks, ndag, "every batch replayed");
	r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	cr_log_info("%u of %u completions journalled at the crash; resumed "
		    "and done %" PRIu64 " ms after the restart", kept, ndag,
		    r->at - restart);

	/* which tasks ran again: exactly those the journal did not hold */
	static uint32_t again[MAX_TASKS + 1];
	memset(again, 0, sizeof(again));
	uint32_t stale = 0;
	for (size_t i = 0; i < nwevs; i++) {
		const struct wev *e = &wevs[i];
		if (e->type == MSG_TASK_RUN && e->attempt >> 16 == 2)
			again[e->task]++;
		if (e->type == MSG_TASK_DONE && e->to == 0 && e->at > restart &&
		    e->attempt >> 16 == 1)
			stale++;
	}
	for (uint32_t i = 1; i <= ndag; i++)
		cr_assert_eq(again[i], jv.done_on[i] ? 0 : 1,
			     "task %u: journalled %s, run %u times after", i,
			     jv.done_on[i] ? "done" : "not done", again[i]);
	cr_assert_gt(stale, 0, "the old attempts' reports came (and were "
		     "ignored: their tasks ran again)");
	cr_assert_gt(restart, crash);
	/* the restart is an owner change (a new epoch); the restarted owner
	 * counts recoveries from its replay on: nothing was lost since */
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_eq(s.rec.owner_changes, 1);
	cr_assert_eq(s.rec.nodes_lost + s.rec.failed_over + s.rec.recomputed, 0);
	print_digest("restart");
	disks_end(&k);
}

/*
 * The owner restarted from its journal keeps its checkpoint copies: the
 * 'E' records name them (each at the cloud node), the new process knows
 * them, and when the chain's worker is killed after the restart, lineage
 * stops at the last copy the journal held instead of running the chain
 * again from its first task (nothing is released: every value is needed).
 */
Test(simjobs, an_owner_restarted_keeps_its_checkpoint_copies)
{
	static struct disks k;
	disks_open(&k);
	const struct spec specs[] = {owner_only, plain, plain, cloud_keeper};
	cluster_on(4, specs, false, k.d1.s);
	uint32_t final = dag_chain(CK_CHAIN, CK_CHAIN_MS);
	uint64_t job = create_ckpt(0, CK_EVERY);
	submit_range(0, 0, job, 1, ndag);
	want_ended = CK_CHAIN / 3;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	/* the owner's crash: the disk holds what the store committed */
	disks_crash(&k);
	fake_crash(&w, 0);
	run_for(300);
	disk_open(&k.d2, k.after);
	static struct journal_view jv;
	memset(&jv, 0, sizeof(jv));
	cr_assert_eq(store_scan(k.d2.s, STORE_JOBS, NULL, 0, journal_cb, &jv), 0);
	uint32_t last_copy = 0;
	for (uint32_t i = 1; i <= ndag; i++)
		if (jv.copied_to[i]) {
			cr_assert_eq(jv.copied_to[i], id_of(3), "task %u's copy "
				     "is on the cloud node", i);
			last_copy = i;
		}
	cr_assert_geq(last_copy, 2 * CK_EVERY, "copies journalled (%u)",
		      jv.copies);
	/* the new process, the same store; then the chain's worker goes */
	node_start(0, &owner_only, 2, k.d2.s);
	disk_close(&k.d1);
	join(0, id_of(1));
	run_for(50); /* resumed; the next partition is not done yet */
	int victim = nd[1].pool->ended >= nd[2].pool->ended ? 1 : 2;
	uint64_t crash = w.now;
	fake_crash(&w, victim);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	uint32_t first_again = 0;
	for (uint32_t i = 1; i <= final && !first_again; i++)
		if (successes(i, -1, crash, NULL) > 0)
			first_again = i;
	cr_log_info("%u copies journalled (the last of task %u); after the "
		    "restart and the worker's crash lineage re-ran from task %u",
		    jv.copies, last_copy, first_again);
	cr_assert_gt(first_again, last_copy, "lineage stops at the copy the "
		     "journal held (re-ran from %u)", first_again);
	print_digest("restart with checkpoints");
	disks_end(&k);
}

/* ---------------------------------------------------------- placement */

/* Runs on node @a i's pool of tasks calling function @a fn. */
static uint32_t
runs_of(int i, const char *fn)
{
	uint32_t n = 0;
	for (uint32_t k = 0; nd[i].pool && k < nd[i].pool->nruns; k++)
		n += strcmp(fns[nd[i].pool->runs[k].fn].name, fn) == 0;
	return n;
}

/*
 * Runs @a count independent tasks calling @a fn (each @a work ms at speed
 * 1) in a job created with @a body; returns the virtual ms from the
 * request to the last task's end as the owner tells it (JOB_WAIT), and
 * checks every value.
 */
static uint64_t
placed_job(const struct buf *body, const char *fn, uint32_t count,
	   uint32_t work)
{
	uint64_t job;
	cr_assert_eq(create_raw(0, body, &job), 0);
	ndag = 0;
	for (uint32_t i = 0; i < count; i++)
		dag_add(fn, work, 0, NULL);
	uint64_t t0 = w.now;
	submit_range(0, 0, job, 1, ndag);
	struct req *r[64];
	cr_assert_leq(count, 64);
	for (uint32_t i = 0; i < count; i++)
		r[i] = wait_async(0, 0, job, i + 1);
	uint64_t end = 0;
	for (uint32_t i = 0; i < count; i++) {
		await(r[i], REQ_TIMEOUT_MS);
		cr_assert_eq(wait_status(r[i]), 0);
		end = r[i]->at > end ? r[i]->at : end;
		cr_assert_eq(read_value(0, 0, job, i + 1), want[i + 1]);
	}
	return end - t0;
}

static void
policy_body(struct buf *b, const char *policy, const char *tier1,
	    const char *tier2)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_map(&pk, 1 + (tier1 != NULL));
	msgpack_pack_str_with_body(&pk, "policy", 6);
	msgpack_pack_str_with_body(&pk, policy, strlen(policy));
	if (tier1) {
		msgpack_pack_str_with_body(&pk, "tiers", 5);
		msgpack_pack_array(&pk, 2);
		msgpack_pack_str_with_body(&pk, tier1, strlen(tier1));
		msgpack_pack_str_with_body(&pk, tier2, strlen(tier2));
	}
}

/*
 * Three workers of one core each, unlike in every respect
 * (docs/PLACEMENT.md):
 *
 *   node  tier   speed  power  price/h   a task of W ms:  end    energy   cost
 *   1     cloud  4      200 W  4.0                        W/4    50 W     W/900k
 *   2     fog    1        5 W  1.0                        W       5 W     W/3.6M
 *   3     edge   2       50 W  0.1                        W/2    25 W     W/72M
 *
 * and the owner (node 0) runs nothing.  Each policy sends the work where
 * its forecast says, and the job ends exactly when that placement makes
 * it end: one message to the worker, the work at its speed (one task
 * after the other on its one core), one message back.
 */
Test(simjobs, each_policy_places_tasks_where_its_forecast_says)
{
	struct spec specs[4] = {
		owner_only,
		{"cloud", 1, 4.0, 200.0, 4.0, true},
		{"fog", 1, 1.0, 5.0, 1.0, true},
		{"edge", 1, 2.0, 50.0, 0.1, true},
	};
	cluster(4, specs, false);
	uint64_t lat = w.latency_ms, T;
	struct buf b = BUF_INIT;

	/* time: one task goes to the fastest node */
	policy_body(&b, "time", NULL, NULL);
	T = placed_job(&b, "p_time", 1, 400);
	cr_assert_eq(runs_of(1, "p_time"), 1);
	cr_assert_eq(T, lat + 400 / 4 + lat);

	/* time, many tasks: the forecast's queue term shares them by speed
	 * (4 : 1 : 2 of 28), and all three nodes end at the same moment */
	buf_reset(&b);
	policy_body(&b, "time", NULL, NULL);
	T = placed_job(&b, "p_spread", 28, 400);
	cr_assert_eq(runs_of(1, "p_spread"), 16);
	cr_assert_eq(runs_of(2, "p_spread"), 4);
	cr_assert_eq(runs_of(3, "p_spread"), 8);
	cr_assert_eq(T, lat + 16 * 400 / 4 + lat);

	/* energy: all of it on the frugal node, whatever its queue */
	buf_reset(&b);
	policy_body(&b, "energy", NULL, NULL);
	T = placed_job(&b, "p_energy", 10, 100);
	cr_assert_eq(runs_of(2, "p_energy"), 10);
	cr_assert_eq(T, lat + 10 * 100 + lat);

	/* cost: all of it on the cheap node */
	buf_reset(&b);
	policy_body(&b, "cost", NULL, NULL);
	T = placed_job(&b, "p_cost", 10, 100);
	cr_assert_eq(runs_of(3, "p_cost"), 10);
	cr_assert_eq(T, lat + 10 * 100 / 2 + lat);

	/* time within the fog and edge tiers: the faster of those two */
	buf_reset(&b);
	policy_body(&b, "time", "fog", "edge");
	T = placed_job(&b, "p_tier", 1, 400);
	cr_assert_eq(runs_of(3, "p_tier"), 1);
	cr_assert_eq(T, lat + 400 / 2 + lat);

	/* weights (3, 1, 0): time ratios 1 : 4 : 2 and energy ratios
	 * 10 : 1 : 5 score 13, 13 and 11 -- the edge node */
	buf_reset(&b);
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	c.w_time = 3;
	c.w_energy = 1;
	c.w_cost = 0;
	jobmsg_create_pack(&b, &c);
	T = placed_job(&b, "p_mix", 1, 400);
	cr_assert_eq(runs_of(3, "p_mix"), 1);
	cr_assert_eq(T, lat + 400 / 2 + lat);
	buf_destroy(&b);
	print_digest("placement");
}

/* ------------------------------------------------- a client's junk names */

/*
 * One client's job asks for more distinct function names than a job may
 * have: that batch is refused (E2BIG).  Another job of the same owner
 * runs on the cluster as if nothing happened, and a third, calling a
 * name nobody offers, fails -- ENOFUNC, exactly when the owner's start-up
 * grace (gossip's time to tell it the members' functions) ends.
 */
Test(simjobs, junk_function_names_stop_no_other_job)
{
	struct spec specs[3] = {owner_only, plain, plain};
	cluster(3, specs, false);
	uint64_t started = 1000000; /* the owner's data manager started */
	uint64_t a = create(0);
	enum { JUNK = DATA_JOB_MAX_FNS + 1 };
	struct buf b = BUF_INIT;
	jobmsg_tasks_pack(&b, id_of(0), a, 1, JUNK);
	for (int i = 0; i < JUNK; i++) {
		char name[32];
		snprintf(name, sizeof(name), "junk%d", i);
		struct jobmsg_task t = {name, (uint32_t)strlen(name),
					(const uint8_t *)"\xc0", 1, 1, 0};
		jobmsg_task_pack(&b, &t, NULL);
	}
	cr_assert_eq(call(0, 0, MSG_JOB_TASKS, &b, NULL), MIST_E2BIG);
	buf_destroy(&b);

	/* a job calling what nobody offers */
	uint64_t c = create(0);
	ndag = 0;
	dag_add("nobody_offers_this", 10, 0, NULL);
	submit_range(0, 0, c, 1, 1);
	struct req *bad = wait_async(0, 0, c, 1);
	/* and a good one */
	uint64_t job = create(0);
	uint32_t final = dag_tree("sum", 50, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	cr_assert_lt(r->at, started + DATA_STARTUP_GRACE_MS,
		     "the good job did not wait for the grace");
	cr_assert_not(bad->got);
	await(bad, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(bad), MIST_ENOFUNC);
	cr_assert_eq(bad->at, started + DATA_STARTUP_GRACE_MS,
		     "failed at +%" PRIu64 " ms", bad->at - started);
	struct status s;
	job_status(0, 0, c, &s);
	cr_assert_str_eq(s.state, "failed");
	job_status(0, 0, job, &s);
	cr_assert_str_eq(s.state, "done");
	cr_assert_eq(s.done, ndag);
	print_digest("junk");
}

/*
 * Within one job, a ready task that no member offers yet, during the
 * owner's start-up grace, must not stop the placing of the tasks behind it
 * (the merges of a tree whose leaves ran): dispatch holds it aside and
 * goes on (DISPATCH_LOOKAHEAD in src/data/dispatch.c).  Before, it was put
 * back at the head and the pass ended, so the job's good tasks waited for
 * the grace to end.  Expected: they end as if the bad one were not there.
 */
Test(simjobs, an_unknown_function_holds_up_no_other_task_of_its_job)
{
	struct spec specs[3] = {owner_only, plain, plain};
	cluster(3, specs, false);
	uint64_t started = 1000000;
	uint64_t job = create(0);
	uint32_t final = dag_tree("sum", 50, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	submit_range(0, 0, job, 1, ndag);
	dag[ndag + 1] = dag[1];
	dag[ndag + 1].fn = "nobody_offers_this";
	ndag++;
	submit_range(0, 0, job, ndag, ndag);
	struct req *bad = wait_async(0, 0, job, ndag);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_lt(r->at, started + DATA_STARTUP_GRACE_MS,
		     "the job's good tasks waited for the grace (+%" PRIu64
		     " ms)", r->at - started);
	await(bad, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(bad), MIST_ENOFUNC);
}

/* ------------------------------------------------------- fault swarm */

/*
 * The fault swarm (issue 12): for each of many seeds, a job on an owner
 * and four workers under a seeded schedule of faults while it runs --
 * workers killed, killed and restarted at once (a new boot, sometimes
 * from a new address), stalled, cut off from the owner or from each
 * other one way or both, links losing messages -- then everything healed
 * (a worker brought back if none is left).  Invariants after every step:
 * the owner's counts add up and nothing has failed; at the end the job
 * is done, every task accepted exactly once (done == tasks, none failed),
 * and the final value equals the fault-free one computed here.  The
 * owner may be killed for good too (once, while its standby is up and
 * nobody was killed for SWARM_QUIET_MS: a single failure): its standby
 * takes the job over, and the test follows the job to its new owner
 * (JOB_MOVED on the wire), which later faults do not kill or stall.
 *
 * MIST_SWARM_SEEDS (default 1000) seeds from MIST_SEED's; a failure
 * names the one seed to replay it alone with MIST_SWARM_SEED.
 */
#define SWARM_WORKERS 4
#define SWARM_STEPS 12

struct swarm_heal {
	uint64_t at;
	int kind; /* 0 unblock a->b, 1 resume a, 2 links lose nothing */
	int a, b;
};

static bool swarm_trace; /* MIST_SWARM_TRACE: say each fault (replays) */
#define SWARM_SAY(...)                                                         \
	do {                                                                   \
		if (swarm_trace) {                                             \
			fprintf(stderr, "swarm +%" PRIu64 " ms: ",             \
				w.now - 1000000);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)
#define SWARM_ASSERT(cond, fmt, ...)                                           \
	cr_assert(cond, "fault swarm seed %" PRIu64 " (replay alone: "         \
			"MIST_SWARM_SEED=%" PRIu64 " tests/sim/test_jobs "     \
			"--filter 'simjobs/a_fault_swarm*'): " fmt,            \
		  swarm_seed, swarm_seed, __VA_ARGS__)

/*
 * The job's owner now: node 0 until it is killed for good, then the node
 * that took the job over (its JOB_MOVED on the wire), which no later
 * fault kills (a job outlives one owner's death here, not its standby's
 * at the same time).  Requests name the job by its first owner, node 0.
 */
static int sw_owner, sw_standby;
static uint32_t sw_owner_kills; /* seeds whose owner was killed */
/* seeds with checkpoints, their copies made and failed */
static uint64_t sw_ck_jobs, sw_ck_copies, sw_ck_failed;
/* Death detection: a probe period and the suspicion, with room (the
 * lossy links delay it). */
#define SWARM_QUIET_MS 8000
static bool sw_up[1 + SWARM_WORKERS];
static struct req *wait_at(int from, int at, int origin, uint64_t job,
			   uint32_t task);

static void
swarm_tap(int from, int to, const struct msg *m)
{
	if (m->type == MSG_JOB_MOVED && sw_up[from])
		sw_owner = from;
	if (m->type == MSG_JOB_REPLICA && (m->flags & MSG_F_REQUEST) &&
	    from == sw_owner)
		sw_standby = to;
}

/* The same asked of node @a at (where the job lives now). */
static void
job_status_at(int at, uint64_t job, struct status *s)
{
	job_status_of(at, at, 0, job, s);
}

static void
swarm_invariants(uint64_t job, uint32_t n)
{
	struct status s;
	if (!sw_up[sw_owner])
		return; /* the owner died: its standby is taking over */
	job_status_at(sw_owner, job, &s);
	SWARM_ASSERT(s.tasks == n, "%u tasks", s.tasks);
	SWARM_ASSERT(s.failed == 0, "a task failed (%s)", s.state);
	SWARM_ASSERT(s.done <= n && s.running <= n, "%u done, %u running",
		     s.done, s.running);
}

/*
 * A cut between a worker and the owner heals.  A real agent keeps its
 * link to its seed (the owner here: every worker joined through it) and
 * redials it with backoff once the link timed out (net/link.c), and a
 * new link is a push/pull: the two sides learn each other alive again
 * even when nobody else is left to tell them.  The sim's join is that
 * redial.
 */
static void
swarm_unblock(int a, int b, const bool *up)
{
	fake_block(&w, a, b, false);
	int v = a == 0 ? b : b == 0 ? a : -1;
	if (v > 0 && up[v] && up[0])
		join(v, id_of(0));
}

/*
 * The real agent's join never gives up: its link to the seed is redialled
 * whenever it drops (and the sim's lost messages stand for links that
 * dropped them).  Every second of the run, a worker whose process is up
 * but whom the owner does not see alive, or who does not see the owner,
 * joins again -- what its retrying join does.
 */
static void
swarm_rejoin(const bool *up)
{
	/* the seed: the owner, or with it dead for good, the new one */
	int hub = up[0] ? 0 : sw_owner;
	if (!up[hub] || w.paused[hub])
		return;
	for (int v = 0; v <= SWARM_WORKERS; v++) {
		if (v == hub || !up[v] || w.paused[v])
			continue;
		enum swim_status a = SWIM_DEAD, b = SWIM_DEAD;
		uint64_t inc;
		bool seen = swim_member_status(nd[hub].sw, id_of(v), &a, &inc) == 0 &&
			    a == SWIM_ALIVE;
		bool sees = swim_member_status(nd[v].sw, id_of(hub), &b, &inc) == 0 &&
			    b == SWIM_ALIVE;
		if (!seen || !sees)
			join(v, id_of(hub));
	}
}

/* The final value as libmist's mist_get reads it: a copy that vanished
 * (its holder restarted, say) is ENOTFOUND, and the client waits again
 * while the owner recomputes it. */
static uint64_t
swarm_read(uint64_t job, uint32_t task)
{
	for (int i = 0; i < 20; i++) {
		struct req *wr = wait_at(sw_owner, sw_owner, 0, job, task);
		await(wr, REQ_TIMEOUT_MS);
		SWARM_ASSERT(wait_status(wr) == 0, "waiting for task %u", task);
		struct buf b = BUF_INIT;
		jobmsg_read_pack(&b, id_of(0), job, (struct gref){task, 0}, 0);
		struct req *r;
		int st = call(sw_owner, sw_owner, MSG_JOB_READ, &b, &r);
		buf_destroy(&b);
		if (st == MIST_ENOTFOUND)
			continue;
		SWARM_ASSERT(st == 0, "reading task %u: %d", task, st);
		uint64_t total, v;
		const uint8_t *chunk;
		uint32_t n;
		SWARM_ASSERT(jobmsg_chunk_unpack(r->body, r->len, &total, &chunk,
						 &n) == 0 && total == 9 &&
				     get_i64(chunk, n, &v) == 0,
			     "task %u's value is malformed", task);
		return v;
	}
	SWARM_ASSERT(false, "task %u's value kept vanishing", task);
	return 0;
}

/* One seed's run; returns the virtual ms the job took. */
static uint64_t
swarm_run(uint64_t s, uint32_t *nfaults)
{
	swarm_seed = s;
	struct spec specs[1 + SWARM_WORKERS];
	/* half the owners offer the functions too: cut off from everyone,
	 * such an owner runs the job itself (fault 8) */
	specs[0] = rng_below(&w.rng, 2) ? plain : owner_only;
	for (int i = 1; i <= SWARM_WORKERS; i++) {
		specs[i] = plain;
		specs[i].cores = 1 + (uint32_t)rng_below(&w.rng, 2);
	}
	sw_owner = 0;
	sw_standby = -1;
	for (int i = 0; i <= SWARM_WORKERS; i++)
		sw_up[i] = true;
	tap_hook = swarm_tap;
	cluster(1 + SWARM_WORKERS, specs, false);
	w.check_every_ms = 10;
	uint32_t final = dag_tree("sum", 16 + (uint32_t)rng_below(&w.rng, 48),
				  50 + (uint32_t)rng_below(&w.rng, 400), 10, 5);
	/* a third of the seeds checkpoint, every 1..8 tasks (the seed says,
	 * not the PRNG: the other seeds' runs are what they were) */
	uint32_t every = s % 3 == 0 ? 1 + (uint32_t)(s / 3 % 8) : 0;
	uint64_t job = every ? create_ckpt(0, every) : create(0);
	uint64_t t0 = w.now;
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	bool *up = sw_up;
	uint64_t boots[1 + SWARM_WORKERS];
	for (int i = 0; i <= SWARM_WORKERS; i++) {
		up[i] = true;
		boots[i] = 1;
	}
	int r_at = 0; /* where the final wait is parked */
	uint64_t last_kill = 0; /* the last kill or restart */
	struct swarm_heal heals[SWARM_STEPS * 2 * SWARM_WORKERS];
	int nheals = 0;
	uint64_t rejoined = w.now;
	/* the wait is answered by the owner, alive (a killed owner's node
	 * fails its local requests as it goes: the job moves, and the wait
	 * is asked again of the new owner) */
#define SWARM_ANSWERED (r->got && up[r_at])
	for (int step = 0; step < SWARM_STEPS && !SWARM_ANSWERED; step++) {
		uint64_t until = w.now + 20 + rng_below(&w.rng, 600);
		/* heals fall due on the way */
		while (w.now < until && !SWARM_ANSWERED) {
			uint64_t next = until;
			for (int h = 0; h < nheals; h++)
				if (heals[h].at < next)
					next = heals[h].at;
			fake_world_run(&w, r->got ? NULL : req_got, r,
				       next - w.now);
			if (sw_owner != r_at && up[sw_owner]) {
				/* the job moved: wait at its new owner */
				r_at = sw_owner;
				r = wait_at(r_at, r_at, 0, job, final);
			}
			for (int h = 0; h < nheals;) {
				if (heals[h].at > w.now) {
					h++;
					continue;
				}
				if (heals[h].kind == 0)
					swarm_unblock(heals[h].a, heals[h].b, up);
				else if (heals[h].kind == 1 && up[heals[h].a])
					fake_pause(&w, heals[h].a, false);
				else if (heals[h].kind == 2)
					w.drop_permille = 0;
				heals[h] = heals[--nheals];
			}
		}
		if (SWARM_ANSWERED)
			break;
		if (w.now - rejoined >= 1000) {
			swarm_rejoin(up);
			rejoined = w.now;
		}
		swarm_invariants(job, ndag);
		int v = 1 + (int)rng_below(&w.rng, SWARM_WORKERS);
		int alive = 0;
		for (int i = 1; i <= SWARM_WORKERS; i++)
			alive += up[i];
		uint64_t dur = 200 + rng_below(&w.rng, 15000);
		(*nfaults)++;
		/* the new owner is not killed; and while the owner's death
		 * is pending (until its standby took over) nobody is killed
		 * or restarted: the replica is then on one node, and losing
		 * it too is a double failure the design does not cover */
		bool owns = v == sw_owner || !up[sw_owner];
		switch (rng_below(&w.rng, 9)) {
		case 8: /* the owner cut off from every worker, both ways,
			 * maybe long enough for deaths and a takeover on the
			 * workers' side (paper 003 4: the master's device
			 * loses its network) */
			if (!up[0] || sw_owner != 0)
				break;
			dur += rng_below(&w.rng, 30000);
			SWARM_SAY("n0 cut off from every worker for %" PRIu64 " ms", dur);
			for (int u = 1; u <= SWARM_WORKERS; u++) {
				fake_block(&w, 0, u, true);
				fake_block(&w, u, 0, true);
				heals[nheals++] = (struct swarm_heal){w.now + dur, 0, 0, u};
				heals[nheals++] = (struct swarm_heal){w.now + dur, 0, u, 0};
			}
			break;
		case 7: /* the owner killed for good (once): its standby takes
			 * the job over.  A single failure: the standby is up
			 * and not stalled, and nobody was killed or restarted
			 * for the last SWARM_QUIET_MS (a standby killed just
			 * before, and not yet known dead, is a double fault) */
			if (up[0] && alive > 1 && sw_standby > 0 &&
			    up[sw_standby] && !w.paused[sw_standby] &&
			    w.now - last_kill >= SWARM_QUIET_MS) {
				SWARM_SAY("n0 (the owner) killed for good");
				sw_owner_kills++;
				fake_crash(&w, 0);
				up[0] = false;
			}
			break;
		case 0: /* killed for good (one worker always stays) */
			if (up[v] && alive > 1 && !owns) {
				SWARM_SAY("n%d killed", v);
				fake_crash(&w, v);
				up[v] = false;
				last_kill = w.now;
			}
			break;
		case 1: /* killed and restarted at once, maybe moved */
		case 2:
			if (owns)
				break;
			if (rng_below(&w.rng, 2)) {
				char a[32];
				snprintf(a, sizeof(a), "127.9.%d.%d:7946", v,
					 (int)boots[v]);
				if (up[v])
					fake_crash(&w, v);
				fake_set_addr(&w, v, a);
				SWARM_SAY("n%d moves to %s", v, a);
			}
			SWARM_SAY("n%d restarts (boot %" PRIu64 ")", v, boots[v] + 1);
			node_start(v, &specs[v], ++boots[v], NULL);
			join(v, id_of(up[0] ? 0 : sw_owner));
			up[v] = true;
			last_kill = w.now;
			break;
		case 3: { /* a partition: owner and worker, one way or both */
			bool both = rng_below(&w.rng, 2);
			bool out = rng_below(&w.rng, 2);
			SWARM_SAY("n0 %s n%d cut for %" PRIu64 " ms", both ? "<->" : out ? "->" : "<-", v, dur);
			fake_block(&w, out ? 0 : v, out ? v : 0, true);
			heals[nheals++] = (struct swarm_heal){w.now + dur, 0,
							      out ? 0 : v,
							      out ? v : 0};
			if (both) {
				fake_block(&w, out ? v : 0, out ? 0 : v, true);
				heals[nheals++] = (struct swarm_heal){
					w.now + dur, 0, out ? v : 0, out ? 0 : v};
			}
			break;
		}
		case 4: { /* two workers cut from each other */
			int u = 1 + (int)rng_below(&w.rng, SWARM_WORKERS);
			if (u == v)
				break;
			SWARM_SAY("n%d <-> n%d cut for %" PRIu64 " ms", u, v, dur);
			fake_block(&w, u, v, true);
			fake_block(&w, v, u, true);
			heals[nheals++] = (struct swarm_heal){w.now + dur, 0, u, v};
			heals[nheals++] = (struct swarm_heal){w.now + dur, 0, v, u};
			break;
		}
		case 5: /* a stall (not of the new owner: the test's requests
			 * to it wait without the swarm's heals) */
			if (up[v] && !(v == sw_owner && v != 0)) {
				SWARM_SAY("n%d stalls for %" PRIu64 " ms", v, dur);
				fake_pause(&w, v, true);
				heals[nheals++] = (struct swarm_heal){w.now + dur, 1,
								      v, 0};
			}
			break;
		case 6: /* links lose messages for a while */
			w.drop_permille = 5 + (uint32_t)rng_below(&w.rng, 60);
			SWARM_SAY("links lose %u permille for %" PRIu64 " ms", w.drop_permille, dur);
			heals[nheals++] = (struct swarm_heal){w.now + dur, 2, 0, 0};
			break;
		}
	}
	SWARM_SAY("everything heals");
	/* everything heals; a worker comes back if none is left */
	for (int h = 0; h < nheals; h++) {
		if (heals[h].kind == 0)
			swarm_unblock(heals[h].a, heals[h].b, up);
		else if (heals[h].kind == 1 && up[heals[h].a])
			fake_pause(&w, heals[h].a, false);
	}
	w.drop_permille = 0;
	for (int i = 0; i < 600 && !SWARM_ANSWERED; i++) {
		swarm_rejoin(up);
		fake_world_run(&w, r->got ? NULL : req_got, r, 1000);
		if (sw_owner != r_at && up[sw_owner]) {
			r_at = sw_owner;
			SWARM_SAY("the job moved to n%d", r_at);
			r = wait_at(r_at, r_at, 0, job, final);
		}
	}
	SWARM_ASSERT(SWARM_ANSWERED, "the job hung (%u faults)", *nfaults);
#undef SWARM_ANSWERED
	SWARM_ASSERT(r->status == 0, "the wait failed: %d", r->status);
	int st;
	uint64_t size;
	const char *msg;
	uint32_t mlen;
	SWARM_ASSERT(jobmsg_wait_reply_unpack(r->body, r->len, &st, &size, &msg,
					      &mlen) == 0, "%s", "a malformed reply");
	SWARM_ASSERT(st == 0, "the job failed: %.*s", (int)mlen, msg);
	uint64_t took = r->at - t0;
	/* values lost after they were used are recomputed (the client may
	 * still read them): the job ends once they are back */
	struct status fin;
	for (int i = 0; i < 600; i++) {
		job_status_at(sw_owner, job, &fin);
		if (strcmp(fin.state, "running") != 0)
			break;
		run_for(1000);
	}
	SWARM_ASSERT(strcmp(fin.state, "done") == 0, "the job is %s",
		     fin.state);
	SWARM_ASSERT(fin.done == ndag && fin.failed == 0,
		     "%u of %u done, %u failed", fin.done, ndag, fin.failed);
	SWARM_ASSERT(fin.has_ckpt == (every != 0) &&
			     (!every || fin.ck.every == every),
		     "checkpoints every %u, the status says %d/%" PRIu64, every,
		     fin.has_ckpt, fin.ck.every);
	sw_ck_jobs += every != 0;
	sw_ck_copies += fin.ck.copies;
	sw_ck_failed += fin.ck.failed;
	SWARM_ASSERT(swarm_read(job, final) == want[final], "%s",
		     "a wrong final value");
	/* the recoveries as the owner counts them: a node lost per fault
	 * at most, and a takeover is an owner change */
	SWARM_ASSERT(fin.rec.nodes_lost <= *nfaults, "%" PRIu64 " nodes lost "
		     "in %u faults", fin.rec.nodes_lost, *nfaults);
	SWARM_ASSERT(sw_owner == 0 || fin.rec.owner_changes >= 1,
		     "taken over by n%d, %" PRIu64 " owner changes", sw_owner,
		     fin.rec.owner_changes);
	return took;
}

Test(simjobs, a_fault_swarm_of_seeds_finishes_every_job_right, .timeout = 600)
{
	const char *one = getenv("MIST_SWARM_SEED");
	swarm_trace = getenv("MIST_SWARM_TRACE") != NULL;
	const char *many = getenv("MIST_SWARM_SEEDS");
	/* the same 1000 seeds every run unless told (MIST_SEED moves them:
	 * an exploring run), so a check that passed passes again */
	const char *base = getenv("MIST_SEED");
	uint64_t first = one    ? strtoull(one, NULL, 10)
			 : base ? seed
				: 1;
	uint32_t n = one ? 1 : many ? (uint32_t)strtoul(many, NULL, 10) : 1000;
	uint64_t worst = 0, total = 0, worst_seed = first;
	uint32_t faults = 0;
	sw_owner_kills = 0;
	sw_ck_jobs = sw_ck_copies = sw_ck_failed = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = first + i;
		world_end();
		world_begin(s);
		uint32_t f = 0;
		uint64_t took = swarm_run(s, &f);
		faults += f;
		total += took;
		if (took > worst) {
			worst = took;
			worst_seed = s;
		}
	}
	cr_log_info("%u seeds from %" PRIu64 ": %u faults (the owner killed for "
		    "good in %u), jobs took %" PRIu64 " ms on average, %" PRIu64
		    " ms at worst (seed %" PRIu64 ")", n, first, faults,
		    sw_owner_kills, n ? total / n : 0, worst, worst_seed);
	cr_log_info("%" PRIu64 " seeds checkpointed: %" PRIu64 " copies made, "
		    "%" PRIu64 " failed (their producer or holder lost)",
		    sw_ck_jobs, sw_ck_copies, sw_ck_failed);
}
/* ------------------------------------------ a job outlives its owner */

/*
 * What the standby machinery put on the wire: the node each owner ships
 * its journal records to (JOB_REPLICA requests), in order, and the
 * acknowledgements the owner got before each batch's reply to a client
 * on another node.
 */
static int sb_of[MAXN];		/* the latest standby of node i's jobs, -1 */
static uint32_t sb_sent[MAXN][MAXN]; /* records i sent to j */
static uint32_t sb_first_kind[MAXN][MAXN]; /* the first record's kind */
static uint32_t sb_acks[MAXN];	/* replica acks node i received */
static uint32_t sb_batch_replies, sb_early_replies;
static int sb_moved_to; /* the node that last said it took a job over */

static void
standby_tap(int from, int to, const struct msg *m)
{
	if (m->type == MSG_JOB_MOVED)
		sb_moved_to = from;
	if (m->type == MSG_JOB_REPLICA && (m->flags & MSG_F_REQUEST)) {
		struct jobmsg_replica r;
		if (jobmsg_replica_unpack(m->body, m->len, &r) != 0)
			return;
		if (sb_sent[from][to]++ == 0)
			sb_first_kind[from][to] = (uint8_t)r.kind;
		sb_of[from] = to;
	} else if (m->type == MSG_JOB_REPLICA && (m->flags & MSG_F_REPLY) &&
		   m->status == 0) {
		sb_acks[to]++;
	} else if (m->type == MSG_JOB_TASKS && (m->flags & MSG_F_REPLY) &&
		   m->status == 0) {
		/* the create and every batch so far were kept first */
		sb_batch_replies++;
		if (sb_acks[from] < sb_batch_replies + 1)
			sb_early_replies++;
	}
}

static void
standby_tap_reset(void)
{
	for (int i = 0; i < MAXN; i++)
		sb_of[i] = -1;
	memset(sb_sent, 0, sizeof(sb_sent));
	memset(sb_first_kind, 0, sizeof(sb_first_kind));
	memset(sb_acks, 0, sizeof(sb_acks));
	sb_batch_replies = sb_early_replies = 0;
	sb_moved_to = -1;
	tap_hook = standby_tap;
}

/* JOB_WAIT on (task, 0) of job (@a origin, @a job), sent to node @a at. */
static struct req *
wait_at(int from, int at, int origin, uint64_t job, uint32_t task)
{
	struct buf b = BUF_INIT;
	jobmsg_wait_pack(&b, id_of(origin), job, (struct gref){task, 0});
	struct req *r = ask(from, at, MSG_JOB_WAIT, &b);
	buf_destroy(&b);
	return r;
}

/* JOB_READ of (task, 0) of job (@a origin, @a job) at node @a at. */
static uint64_t
read_at(int from, int at, int origin, uint64_t job, uint32_t task)
{
	struct buf b = BUF_INIT;
	jobmsg_read_pack(&b, id_of(origin), job, (struct gref){task, 0}, 0);
	struct req *r;
	cr_assert_eq(call(from, at, MSG_JOB_READ, &b, &r), 0);
	buf_destroy(&b);
	uint64_t total, v;
	const uint8_t *chunk;
	uint32_t n;
	cr_assert_eq(jobmsg_chunk_unpack(r->body, r->len, &total, &chunk, &n), 0);
	cr_assert_eq(get_i64(chunk, n, &v), 0);
	return v;
}

/* TASK_DONEs of task @a id with status 0 that node @a at received after
 * @a after (each is a result its owner there weighed). */
static uint32_t
reports_to(int at, uint32_t id, uint64_t after)
{
	uint32_t n = 0;
	for (size_t i = 0; i < nwevs; i++)
		n += wevs[i].type == MSG_TASK_DONE && wevs[i].to == at &&
		     wevs[i].task == id && wevs[i].status == 0 &&
		     wevs[i].at > after;
	return n;
}

/*
 * Kills node @a victim for good and runs until node @a watcher learns it
 * dead; returns when it did.
 */
static uint64_t
kill_for_good(int victim, int watcher)
{
	uint64_t crash = w.now;
	fake_crash(&w, victim);
	struct learn_wait lw = {watcher, victim, SWIM_EV_DEAD, crash};
	cr_assert(fake_world_run(&w, has_learnt, &lw, 60000),
		  "node %d never learnt node %d dead", watcher, victim);
	return learnt(watcher, SWIM_EV_DEAD, victim, crash);
}

/*
 * After the owner's death the standby owns the job: the job finishes
 * there with the right value, under its first name, and the standby's
 * owner accepted each task's result once; the tasks whose completion
 * was kept by the standby (journalled a tick before the crash) and whose
 * value a live node holds do not run again.
 */
static void
check_taken_over(int origin, int sb, uint64_t job, uint32_t final,
		 uint64_t crash, uint64_t dead)
{
	struct req *r = wait_at(sb, sb, origin, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_at(sb, sb, origin, job, final), want[final],
		     "the final value is the one computed here");
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_STATUS, id_of(origin), job);
	struct req *st;
	cr_assert_eq(call(sb, sb, MSG_JOB_STATUS, &b, &st), 0);
	buf_destroy(&b);
	struct mp_cur c;
	struct jobmsg_status_view v;
	mp_cur_init(&c, st->body, st->len);
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	cr_assert_eq(v.owner, id_of(sb), "the standby owns it now");
	cr_assert_eq(v.job, job, "under its first id");
	cr_assert_eq(v.done, ndag);
	cr_assert_eq(v.tasks, ndag);
	/* a takeover is an owner change (the epoch); the new owner counts
	 * recoveries from it on, and says so */
	cr_assert_eq(v.rec.owner_changes, 1);
	cr_assert_gt(v.rec.last_ms, 0);
	char words[64];
	snprintf(words, sizeof(words), "owner n%d dead: the job taken over",
		 origin);
	char last[JOBMSG_RECOVERY_TEXT_MAX + 1];
	snprintf(last, sizeof(last), "%.*s", (int)v.rec.last_len, v.rec.last);
	cr_assert_not_null(strstr(last, words), "%s", last);
	uint32_t kept = 0, again = 0;
	for (uint32_t i = 1; i <= ndag; i++) {
		cr_assert_leq(reports_to(sb, i, dead), 1,
			      "task %u accepted twice by the new owner", i);
		/* a success on a live node, journalled and shipped before
		 * the crash (a tick, and a hop) */
		bool safe = false;
		for (size_t p = 0; p < npools; p++) {
			if (w.down[idx_of(pools[p]->node)])
				continue; /* the owner, or a node dead before */
			for (uint32_t k = 0; k < pools[p]->nruns; k++) {
				const struct fake_run *fr = &pools[p]->runs[k];
				if (fr->ended && fr->status == 0 &&
				    run_task(fr) == i &&
				    fr->ended + 2 * DATA_TICK_MS + 10 < crash)
					safe = true;
			}
		}
		if (!safe)
			continue;
		kept++;
		if (successes(i, -1, crash, NULL) > 0)
			again++;
	}
	cr_assert_gt(kept, 0);
	cr_assert_eq(again, 0, "%u of %u tasks kept by the standby ran again",
		     again, kept);
	cr_log_info("owner %d dead %" PRIu64 " ms after the crash; %u tasks "
		    "kept by the standby %d, the job done %" PRIu64 " ms after "
		    "the death", origin, dead - crash, kept, sb, r->at - dead);
}

/*
 * The owner is killed for good mid-job (issue 12, item 3).  Its journal
 * was replicated to a standby before each batch was acknowledged; when
 * gossip declares the owner dead the standby takes the job over (a
 * higher epoch), places what is not done, and the job finishes there
 * with the right value.  Values that only the dead owner's node held are
 * recomputed by lineage (it was a worker too).
 */
Test(simjobs, an_owner_killed_for_good_its_standby_finishes_the_job)
{
	cluster(5, &plain, true);
	standby_tap_reset();
	uint32_t final = dag_tree("sum", 200, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(1, 0, job, 1, ndag);
	cr_assert_eq(sb_early_replies, 0, "a batch was acknowledged before "
		     "its standby kept it");
	cr_assert_eq(sb_batch_replies, (ndag + BATCH - 1) / BATCH);
	int sb = sb_of[0];
	cr_assert(sb > 0 && sb < 5, "the owner has a standby");
	cr_assert_eq(sb_first_kind[0][sb], 'A');
	/* a wait at the owner: lost with it */
	struct req *lost = wait_at(1, 0, 0, job, final);
	want_ended = 150;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	uint64_t crash = w.now;
	uint64_t dead = kill_for_good(0, sb);
	cr_assert(!lost->got || lost->status != 0);
	check_taken_over(0, sb, job, final, crash, dead);
	/* the new owner has a standby of its own, shipped the journal */
	int sb2 = sb_of[sb];
	cr_assert(sb2 > 0 && sb2 != sb, "the new owner has a standby");
	cr_assert_eq(sb_first_kind[sb][sb2], 'A');
	print_digest("owner killed");
}

/*
 * The standby is killed: the owner picks another and ships it the whole
 * journal; then the owner is killed too, and the new standby finishes
 * the job.
 */
Test(simjobs, a_standby_lost_is_replaced_and_the_new_one_takes_over)
{
	cluster(6, &plain, true);
	standby_tap_reset();
	uint32_t final = dag_tree("sum", 200, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(1, 0, job, 1, ndag);
	int sb = sb_of[0];
	cr_assert(sb > 0, "the owner has a standby");
	want_ended = 100;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	kill_for_good(sb, 0);
	int sb2 = sb_of[0];
	cr_assert(sb2 > 0 && sb2 != sb, "a new standby was chosen");
	cr_assert_eq(sb_first_kind[0][sb2], 'A', "shipped from the create");
	cr_assert_geq(sb_sent[0][sb2], 1 + (ndag + BATCH - 1) / BATCH,
		      "the whole journal: the create and every batch");
	want_ended = 250;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	/* the standby's loss, as the first owner counted it */
	struct status pre, post;
	job_status(0, 0, job, &pre);
	cr_assert_geq(pre.rec.nodes_lost, 1);
	cr_assert_geq(pre.rec.failed_over + pre.rec.recomputed, 1);
	uint64_t crash = w.now;
	uint64_t dead = kill_for_good(0, sb2);
	check_taken_over(0, sb2, job, final, crash, dead);
	/* the new owner goes on from those counts (journal 'F'), and adds
	 * the owner's death */
	job_status_of(sb2, sb2, 0, job, &post);
	cr_assert_geq(post.rec.nodes_lost, pre.rec.nodes_lost + 1,
		      "%" PRIu64 " then %" PRIu64, pre.rec.nodes_lost,
		      post.rec.nodes_lost);
	cr_assert_geq(post.rec.failed_over, pre.rec.failed_over);
	cr_assert_geq(post.rec.recomputed, pre.rec.recomputed);
	print_digest("standby lost");
}


static bool
moved_to_1(void *ctx)
{
	(void)ctx;
	return sb_moved_to == 1;
}

/*
 * The standby keeps its replicas in its store: owner and standby crash
 * at the same instant, the standby's process comes back from its data
 * directory, finds the replica on its disk and -- the owner being dead --
 * takes the job over and finishes it.
 */
Test(simjobs, a_standby_restarted_from_its_store_takes_the_job_over)
{
	static struct disks k;
	disks_open(&k);
	N = 4;
	node_start(0, &plain, 1, NULL);
	node_start(1, &plain, 1, k.d1.s); /* the standby: the lowest other id */
	for (int i = 2; i < N; i++)
		node_start(i, &plain, 1, NULL);
	for (int i = 1; i < N; i++)
		join(i, id_of(0));
	cr_assert(fake_world_run(&w, all_alive, NULL, 30000));
	standby_tap_reset();
	uint32_t final = dag_tree("sum", 200, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(2, 0, job, 1, ndag);
	cr_assert_eq(sb_of[0], 1, "node 1 stands by");
	want_ended = 120;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));

	/* both crash; the standby's disk holds what was committed */
	uint64_t crash = w.now;
	disks_crash(&k);
	fake_crash(&w, 0);
	fake_crash(&w, 1);
	run_for(300);
	disk_open(&k.d2, k.after);
	node_start(1, &plain, 2, k.d2.s);
	disk_close(&k.d1);
	join(1, id_of(2));
	cr_assert(fake_world_run(&w, moved_to_1, NULL, 60000),
		  "the restarted standby never took the job over");
	struct req *r = wait_at(1, 1, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_at(1, 1, 0, job, final), want[final]);
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_STATUS, id_of(0), job);
	struct req *st;
	cr_assert_eq(call(1, 1, MSG_JOB_STATUS, &b, &st), 0);
	buf_destroy(&b);
	struct mp_cur c;
	struct jobmsg_status_view v;
	mp_cur_init(&c, st->body, st->len);
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	cr_assert_eq(v.owner, id_of(1));
	cr_assert_eq(v.done, ndag);
	cr_log_info("the restarted standby finished the job %" PRIu64
		    " ms after the crash", r->at - crash);
	print_digest("standby restarted");
	disks_end(&k);
}

/* The forget ('X') the owner tells its standby at a close is lost (a
 * link that broke with it queued). */
static uint32_t forgets_dropped;
static bool
drop_forgets(void *ctx, int from, int to, const struct msg *m)
{
	(void)ctx;
	(void)from;
	(void)to;
	struct jobmsg_replica r;
	if (m->type != MSG_JOB_REPLICA || (m->flags & MSG_F_REPLY) ||
	    jobmsg_replica_unpack(m->body, m->len, &r) != 0 || r.kind != 'X')
		return false;
	forgets_dropped++;
	return true;
}

/*
 * A standby that missed its owner's forget (the job was closed) keeps a
 * stale replica; quiet for DATA_REPLICA_QUIET_MS, it asks the owner
 * ('Q'), hears that it stands by for nothing, and drops it -- so the
 * owner's later death resurrects no closed job (found by the partition
 * test: a job closed long before was run again from a stale replica).
 */
Test(simjobs, a_standby_that_missed_the_forget_drops_its_stale_replica)
{
	cluster(3, &plain, true);
	standby_tap_reset();
	uint32_t final = dag_tree("sum", 40, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	int sb = sb_of[0];
	cr_assert(sb > 0 && sb < 3, "the job has a standby");
	forgets_dropped = 0;
	w.drop = drop_forgets;
	struct buf b = BUF_INIT;
	jobmsg_job_pack(&b, MSG_JOB_CLOSE, id_of(0), job);
	cr_assert_eq(call(0, 0, MSG_JOB_CLOSE, &b, NULL), 0);
	buf_destroy(&b);
	run_for(DATA_REPLICA_QUIET_MS + 3 * DATA_TICK_MS + 100);
	w.drop = NULL;
	cr_assert_gt(forgets_dropped, 0, "the forget was sent, and lost");
	kill_for_good(0, sb);
	run_for(5000);
	cr_assert_eq(sb_moved_to, -1, "node %d took a closed job over",
		     sb_moved_to);
}

/*
 * An owner that offers the job's functions is cut off from every worker,
 * both ways, for longer than the job takes (paper 003 §4: the master's
 * device loses its network).  Once gossip declares its workers dead it
 * runs what is pending itself, recomputing by lineage the inputs only
 * they held, and answers its client during the cut with the value a
 * fault-free run gives; each task's value is accepted once (the owner's
 * count says every task done once).  When the cut heals, the workers come
 * back and the job stays done with the same value.
 */
Test(simjobs, an_isolated_owner_finishes_the_job_itself)
{
	cluster(4, &plain, true);
	standby_tap_reset(); /* who takes the job over on the other side */
	uint32_t final = dag_tree("sum", DAG_LEAVES, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	submit_range(0, 0, job, 1, ndag);
	struct req *r = wait_async(0, 0, job, final);
	want_ended = 150;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	uint64_t cut = w.now;
	for (int v = 1; v < 4; v++) {
		fake_block(&w, 0, v, true);
		fake_block(&w, v, 0, true);
	}
	cr_assert(fake_world_run(&w, req_got, r, 300000),
		  "the isolated owner did not finish the job");
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	/* the owner alone did the rest, inputs recomputed included */
	uint32_t here = 0, again = 0;
	for (uint32_t i = 1; i <= ndag; i++) {
		uint32_t n = successes(i, 0, cut, NULL);
		here += n > 0;
		again += n > 0 && successes(i, -1, 0, NULL) > n;
	}
	cr_assert_gt(here, 0);
	cr_assert_gt(again, 0, "no input was recomputed by lineage");
	struct status s;
	job_status(0, 0, job, &s);
	cr_assert_str_eq(s.state, "done");
	cr_assert_eq(s.done, ndag);
	cr_assert_eq(s.failed, 0);
	cr_log_info("cut at +%" PRIu64 " ms, job done alone %" PRIu64
		    " ms later: %u tasks ran on the owner, %u of them again",
		    cut - 1000000, r->at - cut, here, again);
	/* the cut heals: the workers come back; the job stays done */
	for (int v = 1; v < 4; v++) {
		fake_block(&w, 0, v, false);
		fake_block(&w, v, 0, false);
		join(v, id_of(0));
	}
	cr_assert(fake_world_run(&w, all_alive, NULL, 60000),
		  "the workers did not come back");
	/* the standby, cut off with the workers, took the job over at a
	 * higher epoch and ran it too (its predecessor as well, when the
	 * owner replaced it during the cut and both held every record): the
	 * old owner is fenced at the heal, and the job lives on, done, at
	 * one new owner */
	/* (a request to a node that is not the owner now is answered
	 * EUNREACHABLE, "ask again", as libmist does, while the moves settle:
	 * DATA_ANNOUNCE_MS) */
	int now_at = -1;
	for (int i = 0; i < 60 && now_at < 0; i++) {
		run_for(1000);
		for (int k = 0; k < 4 && now_at < 0; k++) {
			struct buf b = BUF_INIT;
			jobmsg_job_pack(&b, MSG_JOB_STATUS, id_of(0), job);
			struct req *q;
			if (call(k, k, MSG_JOB_STATUS, &b, &q) == 0)
				now_at = k;
			buf_destroy(&b);
		}
	}
	cr_assert_geq(now_at, 0, "no node owns the job after the heal");
	for (int i = 0; i < 60; i++) {
		job_status_of(now_at, now_at, 0, job, &s);
		if (strcmp(s.state, "running") != 0)
			break;
		run_for(1000);
	}
	cr_assert_str_eq(s.state, "done");
	cr_assert_eq(s.done, ndag);
	cr_assert_eq(s.failed, 0);
	cr_assert_eq(read_at(now_at, now_at, 0, job, final), want[final]);
	print_digest("isolated owner");
}

static bool
moved_to_3(void *ctx)
{
	(void)ctx;
	return sb_moved_to == 3;
}

/* The highest task id with a successful run ended before @a t. */
static uint32_t
highest_done_before(uint64_t t)
{
	uint32_t top = 0;
	for (size_t p = 0; p < npools; p++)
		for (uint32_t i = 0; i < pools[p]->nruns; i++) {
			const struct fake_run *r = &pools[p]->runs[i];
			if (r->ended && r->ended < t && r->status == 0 &&
			    run_task(r) > top)
				top = run_task(r);
		}
	return top;
}

/*
 * A job outlives its owner with its checkpoints: the owner (node 0) is
 * killed for good a third into the chain, its standby (node 3, the cloud
 * node) takes the job over -- the policy and the copies made come with
 * the journal -- and goes on checkpointing; then the worker running the
 * chain is killed too, and lineage stops within the last two partitions
 * (the one being filled, the one whose copies may be in flight).
 */
Test(simjobs, a_takeover_keeps_the_checkpoints_and_goes_on_making_them)
{
	struct spec specs[4] = {owner_only, plain, plain, cloud_keeper};
	cluster(4, specs, false);
	standby_tap_reset();
	uint32_t final = dag_chain(CK_CHAIN, CK_CHAIN_MS);
	uint64_t job = create_ckpt(0, CK_EVERY);
	/* nothing released: releases are not journalled, so a job taken
	 * over holds every value as needed (a value its first owner freed
	 * is then recomputed when it is found gone) -- here every value is
	 * live on both sides of the takeover, and each partition copied */
	submit_range(1, 0, job, 1, ndag);
	cr_assert_eq(sb_of[0], 3, "the cloud node stands by");
	want_ended = CK_CHAIN / 3;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	kill_for_good(0, 3);
	cr_assert(fake_world_run(&w, moved_to_3, NULL, 60000),
		  "the standby took the job over");
	want_ended = 2 * CK_CHAIN / 3;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	struct status s;
	job_status_of(3, 3, 0, job, &s);
	cr_assert(s.has_ckpt, "the policy came with the journal");
	cr_assert_eq(s.ck.every, CK_EVERY);
	cr_assert_gt(s.ck.copies, 0, "the new owner checkpoints");
	/* the chain's worker goes too */
	int victim = nd[1].pool->ended >= nd[2].pool->ended ? 1 : 2;
	uint64_t crash = w.now;
	uint32_t top = highest_done_before(crash);
	fake_crash(&w, victim);
	struct req *r = wait_at(3, 3, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_at(3, 3, 0, job, final), want[final]);
	uint32_t first_again = 0;
	for (uint32_t i = 1; i <= final && !first_again; i++)
		if (successes(i, -1, crash, NULL) > 0 && i <= top)
			first_again = i;
	cr_log_info("owner and standby: task %u done at the worker's crash, "
		    "lineage re-ran from task %u", top, first_again);
	cr_assert_gt(first_again, 0, "the victim held the chain's head");
	cr_assert_gt(first_again + 2 * CK_EVERY, top,
		     "lineage reached task %u, more than two partitions "
		     "behind %u", first_again, top);
	print_digest("checkpoints taken over");
}

/*
 * A safe holder lost: the value it kept the copy of (the last partition
 * boundary, pinned) is copied again to the other cloud node as soon as
 * the owner knows, so that losing the chain's worker next re-runs only
 * the partition being filled -- not, through the freed partitions
 * before it, the whole chain.  Partitions of 50 tasks of 100 ms (5 s)
 * outlast the death's detection (a few seconds).
 */
Test(simjobs, a_safe_holder_lost_its_copies_are_made_again)
{
	struct spec specs[5] = {owner_only, plain, plain, cloud_keeper,
				cloud_keeper};
	cluster(5, specs, false);
	ck_ncopies = 0;
	ck_since = UINT64_MAX;
	tap_hook = ckpt_tap;
	const uint32_t every = 50;
	uint32_t final = dag_chain(CK_CHAIN, 100);
	uint64_t job = create_ckpt(0, every);
	submit_range(0, 0, job, 1, ndag);
	release_range(0, 0, job, 1, final - 1);
	struct req *r = wait_async(0, 0, job, final);
	want_ended = 2 * every + 1; /* task 100's copy is under way */
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	run_for(50);
	int keeper = -1;
	for (uint32_t i = 0; i < ck_ncopies; i++)
		if (ck_copies[i].task == 2 * every && ck_copies[i].ok_at)
			keeper = ck_copies[i].to;
	cr_assert(keeper == 3 || keeper == 4, "task %u's copy is on a cloud node",
		  2 * every);
	uint32_t copies_before = ck_ncopies;
	kill_for_good(keeper, 0);
	run_for(50); /* the copy made again: a round trip and a chunk */
	bool again = false;
	for (uint32_t i = copies_before; i < ck_ncopies; i++)
		again |= ck_copies[i].task == 2 * every && ck_copies[i].ok_at &&
			 ck_copies[i].to == 7 - keeper;
	cr_assert(again, "task %u's value copied again to n%d", 2 * every,
		  7 - keeper);
	int victim = nd[1].pool->ended >= nd[2].pool->ended ? 1 : 2;
	uint64_t crash = w.now;
	uint32_t top = highest_done_before(crash);
	cr_assert_lt(top, 3 * every, "the next partition is not done yet");
	fake_crash(&w, victim);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_value(0, 0, job, final), want[final]);
	uint32_t first_again = 0;
	for (uint32_t i = 1; i <= final && !first_again; i++)
		if (successes(i, -1, crash, NULL) > 0 && i <= top)
			first_again = i;
	cr_log_info("copy keeper n%d killed, then the chain's worker at task "
		    "%u: lineage re-ran from task %u", keeper, top, first_again);
	cr_assert_eq(first_again, 2 * every + 1,
		     "lineage stops at the copy made again (re-ran from %u)",
		     first_again);
	print_digest("safe holder lost");
}

/*
 * The first owner restarts from its journal after its standby took the
 * job over and acknowledged more batches (found by review).  Its replay
 * runs at its new boot's epoch, here equal to the takeover's: it must not
 * win the job back from the node that took it over -- whose batches its
 * journal lacks -- whichever member it rejoins through (through the new
 * owner, JOB_MOVED fences it; through another, its ship to the new owner
 * as its standby is refused).  The job finishes at the new owner with
 * every acknowledged task.
 */
Test(simjobs, a_first_owner_restarted_after_a_takeover_does_not_take_the_job_back)
{
	static struct disks k;
	disks_open(&k);
	cluster_on(5, &plain, true, k.d1.s);
	standby_tap_reset();
	uint32_t final = dag_tree("sum", 200, DAG_LEAF_MS, DAG_MERGE_MS,
				  DAG_FINAL_MS);
	uint64_t job = create(0);
	uint32_t half = ndag / 2;
	submit_range(1, 0, job, 1, half);
	int sb = sb_of[0];
	cr_assert(sb > 0 && sb < N, "the owner has a standby");
	want_ended = 60;
	cr_assert(fake_world_run(&w, enough_ended, NULL, 60000));
	/* the owner's disk as it was, for its restart */
	disks_crash(&k);
	kill_for_good(0, sb);
	run_for(3000);
	/* the new owner acknowledges the rest of the job */
	submit_at(2, sb, 0, job, half + 1, ndag);
	disk_open(&k.d2, k.after);
	node_start(0, &plain, 2, k.d2.s); /* boot 2: its replay's epoch, 2 */
	disk_close(&k.d1);
	int via = sb == N - 1 ? 1 : N - 1; /* not through the new owner */
	join(0, id_of(via));
	run_for(20000);
	struct req *r = wait_at(1, sb, 0, job, final);
	await(r, REQ_TIMEOUT_MS);
	cr_assert_eq(r->status, 0, "the new owner lost the job: %d", r->status);
	cr_assert_eq(wait_status(r), 0);
	cr_assert_eq(read_at(1, sb, 0, job, final), want[final]);
	struct status s;
	job_status_of(1, sb, 0, job, &s);
	cr_assert_eq(s.tasks, ndag, "every acknowledged task is there");
	cr_assert_str_eq(s.state, "done");
	disks_end(&k);
}
