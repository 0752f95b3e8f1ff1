/*
 * test_data.c -- the job actors of one node driven without a loop, as the
 * simulated cluster tests drive them: the data manager (data/data.h), the
 * function actor (function/function.h) in front of a fake executor pool
 * (struct pool_ops) whose tasks end when the test says, a client actor
 * speaking as the gateway does, and another node reached through the
 * system's remote_send seam.
 */
#include "actors/actor.h"
#include "data/data.h"
#include "data/data_int.h" /* the grace and tick constants */
#include "data/jobmsg.h"
#include "data/meta.h"
#include "function/function.h"
#include "mist.h"
#include "net/swim.h"
#include "util/buf.h"
#include "util/log.h"

#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define SELF 42
#define PEER 7
#define CRED 1001

/* ------------------------------------------------------- the fake world */

static uint64_t clock_ms = 1000;

static uint64_t
now_cb(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

/* What left for another node (the peer's function actor's mail). */
static struct msg *sent[64];
static int nsent;

static struct actor_sys sys;

static int
remote_cb(void *ctx, struct msg *m)
{
	(void)ctx;
	if (m->type == MSG_JOB_REPLICA) {
		/* the peer stands by for our jobs: it keeps every record */
		if (m->flags & MSG_F_REQUEST) {
			struct msg *r = msg_new(MSG_JOB_REPLICA, NULL, 0);
			r->flags = MSG_F_REPLY;
			r->corr = m->corr;
			r->from = m->to;
			r->to = m->from;
			actor_sys_deliver(&sys, r);
		}
		msg_delete(m);
		return 0;
	}
	cr_assert_lt(nsent, 64);
	sent[nsent++] = m;
	return 0;
}

/* The fake pool: offers "f", records what it is given. */
static uint64_t submitted[16];
static int nsubmitted;

static int
fp_fn_index(void *pool, const char *name, uint32_t len)
{
	(void)pool;
	return len == 1 && name[0] == 'f' ? 0 : -1;
}

static int
fp_submit(void *pool, uint64_t key, uint32_t fn, const uint8_t *args,
	  uint32_t alen, const struct mist_blob *in, uint32_t nin, uint32_t nout,
	  uint32_t wall_ms)
{
	(void)pool, (void)fn, (void)args, (void)alen, (void)in, (void)nin;
	cr_assert_eq(wall_ms, 0, "a job attempt has the pool's wall time");
	cr_assert_eq(nout, 1);
	cr_assert_lt(nsubmitted, 16);
	submitted[nsubmitted++] = key;
	return 0;
}

static const struct pool_ops fake_pool = {fp_fn_index, fp_submit, NULL, NULL,
					  NULL};

/* The client: the last reply it got. */
struct client {
	struct actor *actor;
	uint32_t type;
	int status;
	uint8_t body[4096];
	uint32_t len;
	bool got;
};

/* The test asks the client, by a local message, to send a request: an
 * actor acts only in its own turn.  corr carries the request's type. */
#define T_ASK 9000

static void
client_fn(struct actor *self, struct msg *m)
{
	struct client *c = self->state;
	if (m->type == T_ASK) {
		struct actor_ref to = {SELF, ACTOR_DATA};
		actor_request(self, to, (uint32_t)m->corr, m->body, m->len,
			      60000, NULL);
		return;
	}
	if (!(m->flags & MSG_F_REPLY))
		return;
	cr_assert_leq(m->len, sizeof(c->body));
	c->type = m->type;
	c->status = m->status;
	memcpy(c->body, m->body, m->len);
	c->len = m->len;
	c->got = true;
}

static struct client cl;

static void
run(void)
{
	while (actor_sys_has_work(&sys))
		actor_sys_run(&sys, 64);
}

static void
setup(void)
{
	log_set_level(LOG_LVL_ERROR);
	nsent = nsubmitted = 0;
	struct actor_sys_env env = {.now = now_cb, .remote_send = remote_cb};
	actor_sys_init(&sys, SELF, &env, NULL, 1);
	struct func_config fcfg;
	func_config_default(&fcfg);
	snprintf(fcfg.name, sizeof(fcfg.name), "self");
	cr_assert_eq(func_spawn(&sys, &fcfg, &fake_pool, NULL), 0);
	struct data_config dcfg;
	data_config_default(&dcfg);
	struct meta self;
	meta_init(&self);
	snprintf(self.tier, sizeof(self.tier), "fog");
	self.cores = 2;
	cr_assert_eq(data_spawn(&sys, &dcfg, NULL, 1, "self", &self), 0);
	memset(&cl, 0, sizeof(cl));
	cl.actor = actor_spawn(&sys, 0, "client", client_fn, &cl);
	const char *fns[] = {"f"};
	data_functions_post(&sys, fns, 1);
	run();
	nsent = 0; /* the subscription to gossip went nowhere */
}

static void
teardown(void)
{
	actor_sys_shutdown(&sys);
	run();
	actor_sys_destroy(&sys);
	for (int i = 0; i < nsent; i++)
		msg_delete(sent[i]);
}

TestSuite(data, .init = setup, .fini = teardown);

/* A request as the gateway forwards it; returns the reply's status. */
static int
ask(uint32_t type, const struct buf *body)
{
	struct buf b = BUF_INIT;
	jobmsg_request_pack(&b, CRED, ROLE_SUBMIT, body ? body->data : NULL,
			    body ? (uint32_t)body->len : 0);
	cl.got = false;
	struct msg *m =
		actor_local_msg(&sys, cl.actor->id, T_ASK, b.data, (uint32_t)b.len);
	m->corr = type;
	actor_sys_deliver(&sys, m);
	buf_destroy(&b);
	run();
	cr_assert(cl.got, "a reply to request %u", type);
	return cl.status;
}

static uint64_t
create(void)
{
	struct buf b = BUF_INIT;
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	jobmsg_create_pack(&b, &c);
	cr_assert_eq(ask(MSG_JOB_CREATE, &b), 0);
	buf_destroy(&b);
	uint64_t owner, job;
	cr_assert_eq(jobmsg_ids_unpack(cl.body, cl.len, &owner, &job), 0);
	cr_assert_eq(owner, SELF);
	return job;
}

/* Adds tasks first.. calling fns[i] (no inputs, one output each). */
static int
add(uint64_t job, uint32_t first, const char *const *fns, uint32_t n)
{
	struct buf b = BUF_INIT;
	jobmsg_tasks_pack(&b, SELF, job, first, n);
	for (uint32_t i = 0; i < n; i++) {
		struct jobmsg_task t = {fns[i], (uint32_t)strlen(fns[i]),
					(const uint8_t *)"\xc0", 1, 1, 0};
		jobmsg_task_pack(&b, &t, NULL);
	}
	int rc = ask(MSG_JOB_TASKS, &b);
	buf_destroy(&b);
	return rc;
}

/* JOB_WAIT on (task, 0): the reply's status, and the size if 0. */
static int
wait_for(uint64_t job, uint32_t task, uint64_t *size)
{
	struct buf b = BUF_INIT;
	jobmsg_wait_pack(&b, SELF, job, (struct gref){task, 0});
	cr_assert_eq(ask(MSG_JOB_WAIT, &b), 0);
	buf_destroy(&b);
	int status;
	const char *msg;
	uint32_t mlen;
	cr_assert_eq(jobmsg_wait_reply_unpack(cl.body, cl.len, &status, size,
					      &msg, &mlen), 0);
	return status;
}

/* The fake pool ends the attempt it was given with output @a out. */
static void
finish(uint64_t key, const char *out)
{
	struct func_result *r = func_result_new(key, 0, NULL, 1, 250);
	r->outs[0] = vval_new(out, (uint32_t)strlen(out));
	func_result_post(&sys, r);
	run();
}

/* Gossip says node @a node joined, offering @a fn at @a speed. */
static void
member_joins(uint64_t node, const char *fn, double speed)
{
	struct meta m;
	meta_init(&m);
	snprintf(m.tier, sizeof(m.tier), "fog");
	m.cores = 1;
	m.speed = speed;
	m.nfunctions = 1;
	snprintf(m.functions[0], EXEC_NAME_MAX, "%s", fn);
	struct buf meta = BUF_INIT, b = BUF_INIT;
	cr_assert_eq(meta_encode(&m, &meta), 0);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "event", 5);
	msgpack_pack_str_with_body(&pk, "join", 4);
	msgpack_pack_str_with_body(&pk, "node", 4);
	msgpack_pack_uint64(&pk, node);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "peer", 4);
	msgpack_pack_str_with_body(&pk, "meta", 4);
	msgpack_pack_bin_with_body(&pk, meta.data, (uint32_t)meta.len);
	struct msg *ev = msg_new(MSG_MEMBER_EVENT, b.data, (uint32_t)b.len);
	ev->flags = MSG_F_LOCAL;
	ev->from = (struct actor_ref){SELF, ACTOR_SWIM};
	ev->to = (struct actor_ref){SELF, ACTOR_DATA};
	actor_sys_deliver(&sys, ev);
	run();
	buf_destroy(&meta);
	buf_destroy(&b);
}

/* Node PEER's function actor reports @a d to our data manager. */
static void
peer_reports(const struct jobmsg_task_done *d)
{
	struct buf rep = BUF_INIT;
	struct jobmsg_task_done named = *d;
	named.owner = SELF; /* the job's first owner: this data manager */
	jobmsg_task_done_pack(&rep, &named);
	struct msg *dm = msg_new(MSG_TASK_DONE, rep.data, (uint32_t)rep.len);
	dm->from = (struct actor_ref){PEER, ACTOR_FUNCTION};
	dm->to = (struct actor_ref){SELF, ACTOR_DATA};
	actor_sys_deliver(&sys, dm);
	run();
	buf_destroy(&rep);
}

/* -------------------------------------------------------------- tests */

Test(data, one_jobs_junk_function_names_do_not_stop_another_job)
{
	/* job A asks for more distinct names than a job may have */
	uint64_t a = create();
	enum { JUNK = 256 + 1 };
	static char names[JUNK][16];
	const char *junk[JUNK];
	for (int i = 0; i < JUNK; i++) {
		snprintf(names[i], sizeof(names[i]), "junk%d", i);
		junk[i] = names[i];
	}
	cr_assert_eq(add(a, 1, junk, JUNK), MIST_E2BIG);
	/* its own table is full: even a real function is refused to it */
	const char *f[] = {"f"};
	cr_assert_eq(add(a, 1, f, 1), MIST_E2BIG);

	/* job B still names a function, runs it, and reads its output */
	uint64_t b = create();
	cr_assert_eq(add(b, 1, f, 1), 0);
	cr_assert_eq(nsubmitted, 1, "the task reached the executor pool");
	finish(submitted[0], "\xa2hi");
	uint64_t size;
	cr_assert_eq(wait_for(b, 1, &size), 0);
	cr_assert_eq(size, 3);
	struct buf rd = BUF_INIT;
	jobmsg_read_pack(&rd, SELF, b, (struct gref){1, 0}, 0);
	cr_assert_eq(ask(MSG_JOB_READ, &rd), 0);
	buf_destroy(&rd);
	uint64_t total;
	const uint8_t *chunk;
	uint32_t n;
	cr_assert_eq(jobmsg_chunk_unpack(cl.body, cl.len, &total, &chunk, &n), 0);
	cr_assert_eq(total, 3);
	cr_assert_eq(memcmp(chunk, "\xa2hi", 3), 0);
	/* and may name a function nobody offers: taken, and failed as
	 * unknown once gossip has had its time */
	const char *fresh[] = {"nobody_offers_this"};
	cr_assert_eq(add(b, 2, fresh, 1), 0);
	clock_ms += DATA_STARTUP_GRACE_MS + DATA_TICK_MS;
	actor_sys_expire(&sys);
	run();
	cr_assert_eq(wait_for(b, 2, &size), MIST_ENOFUNC);

	/* a name a member offers only later is learnt and used */
	member_joins(PEER, "late", 1);
	uint64_t c = create();
	const char *late[] = {"late"};
	cr_assert_eq(add(c, 1, late, 1), 0);
	cr_assert_eq(nsent, 1);
	struct msg *run_msg = sent[0];
	cr_assert_eq(run_msg->type, MSG_TASK_RUN);
	cr_assert_eq(run_msg->to.node, PEER);
	cr_assert_eq(run_msg->to.id, ACTOR_FUNCTION);
	struct jobmsg_task_run tr;
	struct mp_cur inputs;
	cr_assert_eq(jobmsg_task_run_unpack(run_msg->body, run_msg->len, &tr,
					    &inputs), 0);
	cr_assert_eq(tr.fn_len, 4);
	cr_assert_eq(memcmp(tr.fn, "late", 4), 0);
	/* the peer reports: the owner takes its result */
	uint64_t one = 1;
	struct jobmsg_task_done d = {.job = c, .task = tr.task,
				     .attempt = tr.attempt, .nout = 1,
				     .sizes = &one};
	peer_reports(&d);
	cr_assert_eq(wait_for(c, 1, &size), 0);
	cr_assert_eq(size, 1);
}

Test(data, a_report_for_another_attempt_is_fenced_off)
{
	uint64_t j = create();
	const char *f[] = {"f"};
	cr_assert_eq(add(j, 1, f, 1), 0);
	cr_assert_eq(nsubmitted, 1);
	/* a TASK_DONE from a node the task was not sent to: ignored */
	uint64_t one = 1;
	struct jobmsg_task_done d = {.job = j, .task = 1, .attempt = 1 << 16 | 1,
				     .nout = 1, .sizes = &one};
	peer_reports(&d);
	struct buf st = BUF_INIT;
	jobmsg_job_pack(&st, MSG_JOB_STATUS, SELF, j);
	cr_assert_eq(ask(MSG_JOB_STATUS, &st), 0);
	buf_destroy(&st);
	struct mp_cur c;
	mp_cur_init(&c, cl.body, cl.len);
	struct jobmsg_status_view v;
	cr_assert_eq(jobmsg_status_read(&c, &v), 0);
	cr_assert_eq(v.running, 1, "still running: the report was stale");
	cr_assert_eq(v.done, 0);
	/* the real end, from this node's executors */
	finish(submitted[0], "\xc0");
	uint64_t size;
	cr_assert_eq(wait_for(j, 1, &size), 0);
	cr_assert_eq(size, 1);
}

Test(data, a_result_after_shutdown_is_freed_not_delivered)
{
	uint64_t j = create();
	const char *f[] = {"f"};
	cr_assert_eq(add(j, 1, f, 1), 0);
	cr_assert_eq(nsubmitted, 1);
	actor_sys_shutdown(&sys);
	run();
	/* the pool closes after the actors: its results are refused and
	 * freed (LeakSanitizer checks) */
	finish(submitted[0], "\xc0");
}

Test(data, every_node_is_a_candidate_however_many)
{
	/* 1500 nodes offer "g"; one, somewhere in the table, is much faster */
	enum { NODES = 1500, FAST = 1234 };
	for (uint64_t i = 1; i <= NODES; i++)
		member_joins(1000 + i, "g", i == FAST ? 1000 : 1);
	uint64_t j = create();
	const char *g[] = {"g"};
	cr_assert_eq(add(j, 1, g, 1), 0);
	cr_assert_eq(nsent, 1);
	cr_assert_eq(sent[0]->type, MSG_TASK_RUN);
	cr_assert_eq(sent[0]->to.node, 1000 + FAST);
}
