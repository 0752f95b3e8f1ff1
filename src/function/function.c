/*
 * function.c -- ACTOR_FUNCTION: runs task attempts for job owners and
 * serves the values it holds (the model is in function.h).
 *
 * One struct run per attempt, keyed by a local sequence number that is
 * also the executor pool's key.  Missing inputs are fetched one after the
 * other, each in JOBS_CHUNK pieces, from the holders the owner named (the
 * next holder on error); a value whose holders all fail is reported back
 * as lost, and the owner recomputes it.  Outputs stay here, in the value
 * store: the owner only learns their sizes.
 *
 * Add-on function calls (MSG_FN_CALL) are slots of a table, keyed for
 * the pool with FUNC_CALL_KEY set, answered from MSG_EXEC_DONE like
 * attempts; function.h draws the message.
 *
 * Checkpoint copies (MSG_VALUE_COPY, data/ckpt.h) fetch a value as a
 * run fetches an input (fetch_chunk is their one chunk rule) and keep it.
 *
 * Sections: results from the pool, runs, serving values, checkpoint
 * copies, add-on functions, the actor.
 */
#include "config.h"
#include "function/function.h"
#include "function/fncall.h"
#include "function/hostcall.h"
#include "data/graph.h"
#include "data/jobmsg.h"
#include "data/jobs.h"
#include "mist.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs of an attempt whose pointers fit on the stack when it is handed
 * to the pool (more take one allocation): most tasks read a few. */
#define FUNC_STACK_INPUTS 64
/*
 * Jobs whose manager (the node that sends their TASK_RUNs, and its epoch)
 * this node remembers, for fencing: a job outlives its first owner (a
 * standby takes it over with a higher epoch, docs/PROTOCOL.md 6.9), and
 * a TASK_RUN of a lower epoch than the highest seen for the job is the
 * fenced old owner's, refused.  An entry is ~40 bytes and goes when the
 * manager frees the job's values; 65536 jobs known at once is ~2.5 MiB.
 * Past it a new job is not remembered (logged): its TASK_RUNs are taken
 * from any epoch, as before takeovers existed.
 */
#define FUNC_MAX_MANAGED 65536
/*
 * Checkpoint copies (MSG_VALUE_COPY, data/ckpt.c) this node fetches at
 * once, and the bytes they may take (by the sizes the owners announce).
 * An owner has few copies in flight per job (CKPT_INFLIGHT), but a cloud
 * node may be the safe holder of many owners' jobs: 64 copies keep a
 * link busy through its round trips, and 256 MiB (eight of the largest
 * values) bounds the buffers of copies half done.  Past either the copy
 * is refused (MIST_EOVERLOAD) and its owner asks again later.
 */
#define FUNC_MAX_COPIES 64
#define FUNC_COPIES_MAX_BYTES (256u << 20)

void
func_config_default(struct func_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* a 256 KiB chunk takes milliseconds on a LAN, and seconds on a slow
	 * WAN link; 10 s without one means the holder is gone or stuck, and
	 * the next holder is asked */
	cfg->fetch_timeout_ms = 10000;
	cfg->max_calls = FUNC_MAX_CALLS;
}

/* ------------------------------------------------- results from the pool */

struct func_result *
func_result_new(uint64_t key, int status, const char *error, uint32_t nout,
		uint32_t exec_us)
{
	struct func_result *r = xcalloc(1, sizeof(*r) + nout * sizeof(r->outs[0]));
	r->key = key;
	r->status = status;
	r->exec_us = exec_us;
	r->error = error ? xstrdup(error) : NULL;
	r->nout = nout;
	return r;
}

void
func_result_delete(struct func_result *r)
{
	for (uint32_t i = 0; i < r->nout; i++)
		if (r->outs[i])
			vval_delete(r->outs[i]);
	free(r->error);
	free(r);
}

/* The message's ptr_free: a chain of results nobody took. */
static void
func_result_chain_free(void *p)
{
	struct func_result *r = p;
	while (r) {
		struct func_result *next = r->next;
		func_result_delete(r);
		r = next;
	}
}

void
func_result_post(struct actor_sys *sys, struct func_result *r)
{
	struct msg *m = actor_local_msg(sys, ACTOR_FUNCTION, MSG_EXEC_DONE,
					NULL, 0);
	m->ptr = r;
	/* the message owns the results until the function actor takes them:
	 * refused (shutdown, no actor, hard cap) or dropped undelivered, they
	 * are freed with it */
	m->ptr_free = func_result_chain_free;
	actor_sys_deliver(sys, m);
}

void
func_pool_done(void *sys, const struct pool_result *rs, uint32_t n)
{
	struct func_result *head = NULL, **tail = &head;
	for (uint32_t k = 0; k < n; k++) {
		const struct pool_result *p = &rs[k];
		struct func_result *r = func_result_new(
			p->key, p->status, p->status ? p->err : NULL,
			p->status == 0 ? p->nout : 0, p->exec_us);
		/* the one copy of an output: out of the pipe's buffer, which
		 * the pool reuses when this returns; the store adopts it as
		 * it is */
		for (uint32_t i = 0; i < r->nout; i++)
			r->outs[i] = vval_new(p->outs[i].data,
					      p->outs[i].len > UINT32_MAX
						      ? UINT32_MAX
						      : (uint32_t)p->outs[i].len);
		*tail = r;
		tail = &r->next;
	}
	if (head)
		func_result_post(sys, head);
}

/* ---------------------------------------------------------------- runs */

struct rin {
	struct gref v;
	uint64_t holders[GRAPH_MAX_HOLDERS];
	uint8_t nholders, tried;
	bool fetched;
};

struct run {
	uint64_t key;
	uint64_t owner, job; /* the job's name: its first owner and id */
	uint64_t manager;    /* who sent the TASK_RUN: the report goes there */
	uint32_t task, attempt, nout, nin;
	int fn;
	uint8_t *args;
	uint32_t alen;
	struct rin *in;
	uint32_t cur;		/* input being fetched */
	struct vval *fetching;	/* its bytes so far (NULL before the first) */
	uint32_t got;		/* how many */
	uint64_t corr;		/* the fetch request in flight */
};

/* An add-on function call in flight (a slot of func.calls). */
struct fcall {
	uint64_t key;	       /* the pool's key; 0: the slot is free */
	/* for its host calls: who it runs for */
	char app[FNCALL_APP_MAX];
	uint8_t *caller; /* the caller map's bytes (owned) */
	uint32_t caller_len;
	bool master;	 /* the function declared MIST_FN_MASTER */
	struct actor_ref from; /* who to answer */
	uint64_t corr;
	uint64_t deadline; /* local ms */
	uint32_t fn;	   /* the pool's index */
	uint32_t bytes;	   /* params and declared reads (sent or not) */
	uint32_t gen;	   /* bumped at each use of the slot */
	uint32_t next_free;
};

struct func {
	struct actor *actor;
	struct func_config cfg;
	const struct pool_ops *ops; /* NULL: no pool, no function */
	void *pool;
	struct vstore values;
	struct map runs;    /* key -> run */
	struct map fetches; /* corr -> run */
	struct map copies;  /* corr -> fcopy: checkpoint copies fetching */
	uint32_t ncopies;   /* in f->copies */
	uint64_t copy_bytes; /* their announced sizes */
	struct map managed; /* job key -> struct fmgr (FUNC_MAX_MANAGED) */
	bool managed_full_said;
	uint64_t next_key;
	struct fcall *calls; /* cfg.max_calls slots */
	struct map hosts;    /* corr -> struct fhost: host calls in flight */
	uint32_t free_call;  /* first free slot, max_calls: none */
	struct func_stats stats;
};

/* A job's manager: the node that sends its TASK_RUNs, at which epoch. */
struct fmgr {
	uint64_t owner, job, node;
	uint32_t epoch;
};

static uint64_t
managed_key(uint64_t owner, uint64_t job)
{
	return job ^ (owner * 0x9e3779b97f4a7c15ull);
}

static struct fmgr *
managed_get(struct func *f, uint64_t owner, uint64_t job)
{
	/* a collision of keys takes the next one (few entries: soon free) */
	for (uint64_t k = managed_key(owner, job);; k++) {
		struct fmgr *m = map_get(&f->managed, k);
		if (m == NULL || (m->owner == owner && m->job == job))
			return m;
	}
}

static void
managed_del(struct func *f, uint64_t owner, uint64_t job)
{
	for (uint64_t k = managed_key(owner, job);; k++) {
		struct fmgr *m = map_get(&f->managed, k);
		if (m == NULL)
			return;
		if (m->owner == owner && m->job == job) {
			/* keep the probe chain: the entry stays as a tombstone
			 * when another follows it, else it goes */
			if (map_get(&f->managed, k + 1) != NULL) {
				m->owner = m->job = 0;
				return;
			}
			free(map_del(&f->managed, k));
			return;
		}
	}
}

/*
 * Whether a TASK_RUN of @a owner's job @a job, attempt @a attempt, from
 * @a node may run: refused when the job's highest epoch seen (the
 * attempt's high 16 bits) is higher -- the sender is a fenced old owner.
 */
static bool
managed_admit(struct func *f, uint64_t owner, uint64_t job, uint32_t attempt,
	      uint64_t node)
{
	uint32_t epoch = attempt >> 16;
	struct fmgr *m = managed_get(f, owner, job);
	if (m != NULL) {
		if (epoch < m->epoch)
			return false;
		m->epoch = epoch;
		m->node = node;
		return true;
	}
	if (f->managed.len >= FUNC_MAX_MANAGED) {
		if (!f->managed_full_said)
			log_warn("function: %d jobs' managers known: later "
				 "jobs are not fenced by epoch",
				 FUNC_MAX_MANAGED);
		f->managed_full_said = true;
		return true;
	}
	uint64_t k = managed_key(owner, job);
	while (map_get(&f->managed, k) != NULL)
		k++;
	m = xmalloc(sizeof(*m));
	*m = (struct fmgr){owner, job, node, epoch};
	map_put(&f->managed, k, m);
	return true;
}

static void
run_free(struct func *f, struct run *r)
{
	map_del(&f->runs, r->key);
	if (r->fetching)
		vval_delete(r->fetching);
	free(r->args);
	free(r->in);
	free(r);
}

static struct vkey
run_vkey(const struct run *r, struct gref v)
{
	return (struct vkey){r->owner, r->job, v.task, v.out};
}

/* Reports the end of an attempt to its owner: @a sizes of the outputs
 * (status 0), the lost input (MIST_ENOTFOUND: the one being fetched) or
 * @a err. */
static void
run_report(struct func *f, struct run *r, int status, uint32_t exec_us,
	   const uint64_t *sizes, const char *err)
{
	struct gref stack[FUNC_STACK_INPUTS], *fetched = stack;
	uint32_t nf = 0;
	if (r->nin > FUNC_STACK_INPUTS)
		fetched = xmalloc(r->nin * sizeof(*fetched));
	for (uint32_t i = 0; i < r->nin; i++)
		if (r->in[i].fetched)
			fetched[nf++] = r->in[i].v;
	struct jobmsg_task_done d = {
		.job = r->job, .owner = r->owner, .task = r->task,
		.attempt = r->attempt, .status = status, .exec_us = exec_us,
		.nout = r->nout, .sizes = sizes,
		.nfetched = nf, .fetched = fetched};
	if (status == MIST_ENOTFOUND) {
		struct rin *in = &r->in[r->cur];
		d.lost = in->v;
		d.nholders = in->nholders;
		memcpy(d.holders, in->holders, in->nholders * sizeof(in->holders[0]));
	} else if (status != 0) {
		const char *e = err ? err : mist_strerror(status);
		size_t len = strlen(e);
		if (len >= EXEC_ERR_MAX) {
			/* the pool bounds a function's message; ours are short */
			log_warn("function: a message of %zu bytes cut to %d",
				 len, EXEC_ERR_MAX - 1);
			len = EXEC_ERR_MAX - 1;
		}
		d.error = e;
		d.error_len = (uint32_t)len;
	}
	struct buf b = BUF_INIT;
	jobmsg_task_done_pack(&b, &d);
	struct actor_ref to = {r->manager, ACTOR_DATA};
	actor_tell(f->actor, to, MSG_TASK_DONE, b.data, (uint32_t)b.len);
	buf_destroy(&b);
	if (fetched != stack)
		free(fetched);
}

static void run_next(struct func *f, struct run *r);

static void
run_fetch(struct func *f, struct run *r)
{
	struct rin *in = &r->in[r->cur];
	if (in->tried >= in->nholders) {
		run_report(f, r, MIST_ENOTFOUND, 0, NULL, NULL);
		run_free(f, r);
		return;
	}
	struct jobmsg_value_get g = {r->owner, r->job, in->v, r->got, JOBS_CHUNK};
	struct buf b = BUF_INIT;
	jobmsg_value_get_pack(&b, &g);
	struct actor_ref to = {in->holders[in->tried], ACTOR_FUNCTION};
	actor_request(f->actor, to, MSG_VALUE_GET, b.data, (uint32_t)b.len,
		      f->cfg.fetch_timeout_ms, &r->corr);
	map_put(&f->fetches, r->corr, r);
	buf_destroy(&b);
}

/*
 * One chunk of a value being fetched (a VALUE_GET reply): appended to
 * *@a fetching (made at the first chunk, of the total the holder says;
 * @a want, if not UINT64_MAX, is the only total taken).  1: the value is
 * whole; 0: more to ask for; -1: this holder failed us (an error, a
 * malformed or inconsistent chunk) -- what was fetched is dropped, and
 * the caller starts over from the next holder.
 */
static int
fetch_chunk(const struct msg *m, struct vval **fetching, uint32_t *got,
	    uint64_t want)
{
	uint64_t total;
	uint32_t clen;
	const uint8_t *chunk;
	if (m->status != 0 ||
	    jobmsg_chunk_unpack(m->body, m->len, &total, &chunk, &clen) != 0 ||
	    (want != UINT64_MAX && total != want) ||
	    (*fetching && total != vval_len(*fetching)) ||
	    *got + (uint64_t)clen > total || (clen == 0 && *got < total)) {
		if (*fetching)
			vval_delete(*fetching);
		*fetching = NULL;
		*got = 0;
		return -1;
	}
	if (*fetching == NULL) /* total <= JOBS_MAX_VALUE: the codec says */
		*fetching = vval_alloc((uint32_t)total);
	if (clen)
		memcpy(vval_data(*fetching) + *got, chunk, clen);
	*got += clen;
	return *got < total ? 0 : 1;
}

static void
fetch_reply(struct func *f, struct msg *m)
{
	struct run *r = map_del(&f->fetches, m->corr);
	if (r == NULL)
		return;
	struct rin *in = &r->in[r->cur];
	int rc = fetch_chunk(m, &r->fetching, &r->got, UINT64_MAX);
	if (rc < 0)
		in->tried++; /* start over from the next holder */
	if (rc <= 0) {
		run_fetch(f, r);
		return;
	}
	struct vkey k = run_vkey(r, in->v);
	vstore_adopt(&f->values, &k, r->fetching);
	r->fetching = NULL;
	r->got = 0;
	in->fetched = true;
	run_next(f, r);
}

/* Fetches the next missing input, or hands the attempt to the pool. */
static void
run_next(struct func *f, struct run *r)
{
	for (; r->cur < r->nin; r->cur++) {
		struct vkey k = run_vkey(r, r->in[r->cur].v);
		uint32_t len;
		if (vstore_get(&f->values, &k, &len) == NULL) {
			run_fetch(f, r);
			return;
		}
	}
	struct mist_blob stack[FUNC_STACK_INPUTS], *blobs = stack;
	if (r->nin > FUNC_STACK_INPUTS)
		blobs = xmalloc(r->nin * sizeof(*blobs));
	for (uint32_t i = 0; i < r->nin; i++) {
		struct vkey k = run_vkey(r, r->in[i].v);
		uint32_t len;
		blobs[i].data = vstore_get(&f->values, &k, &len);
		blobs[i].len = len;
	}
	/* the pool copies the inputs now: the pointers need not last */
	int rc = f->ops->submit(f->pool, r->key, (uint32_t)r->fn, r->args,
				r->alen, blobs, r->nin, r->nout, 0);
	if (blobs != stack)
		free(blobs);
	if (rc != 0) {
		run_report(f, r, MIST_ETASK, 0, NULL, mist_strerror(rc));
		run_free(f, r);
	}
}

static void
task_run(struct func *f, struct msg *m)
{
	struct jobmsg_task_run tr;
	struct mp_cur c;
	if (jobmsg_task_run_unpack(m->body, m->len, &tr, &c) != 0) {
		log_warn("function: malformed task from %016llx",
			 (unsigned long long)m->from.node);
		return;
	}
	if (!managed_admit(f, tr.owner, tr.job, tr.attempt, m->from.node)) {
		log_info("function: a task of job %016llx from %016llx is of "
			 "an old epoch (%u): fenced off", (unsigned long long)tr.job,
			 (unsigned long long)m->from.node, tr.attempt >> 16);
		return;
	}
	struct run *r = xcalloc(1, sizeof(*r));
	r->key = ++f->next_key;
	r->manager = m->from.node;
	r->owner = tr.owner;
	r->job = tr.job;
	r->task = tr.task;
	r->attempt = tr.attempt;
	r->nout = tr.nout;
	r->nin = tr.nin;
	r->in = xcalloc(tr.nin ? tr.nin : 1, sizeof(*r->in));
	r->args = xmalloc(tr.args_len ? tr.args_len : 1);
	if (tr.args_len)
		memcpy(r->args, tr.args, tr.args_len);
	r->alen = tr.args_len;
	map_put(&f->runs, r->key, r);
	for (uint32_t i = 0; i < tr.nin; i++) {
		struct jobmsg_input in;
		if (jobmsg_task_run_next_input(&c, &in) != 0) {
			log_warn("function: malformed input in a task from "
				 "%016llx", (unsigned long long)m->from.node);
			run_free(f, r);
			return;
		}
		r->in[i].v = in.v;
		r->in[i].nholders = (uint8_t)in.nholders;
		memcpy(r->in[i].holders, in.holders,
		       in.nholders * sizeof(in.holders[0]));
	}
	r->fn = f->ops ? f->ops->fn_index(f->pool, tr.fn, tr.fn_len) : -1;
	if (r->fn < 0) {
		char e[2 * EXEC_NAME_MAX + FUNC_NAME_MAX];
		bool cut = tr.fn_len >= EXEC_NAME_MAX; /* no node offers it */
		snprintf(e, sizeof(e), "function '%.*s%s' is not offered by %s",
			 (int)(cut ? EXEC_NAME_MAX - 1 : tr.fn_len), tr.fn,
			 cut ? "..." : "", f->cfg.name);
		run_report(f, r, MIST_ETASK, 0, NULL, e);
		run_free(f, r);
		return;
	}
	run_next(f, r);
}

static void call_result(struct func *f, struct func_result *res);

/* The pool finished attempt @a res (freed here). */
static void
exec_result(struct func *f, struct func_result *res)
{
	if (res->key & FUNC_CALL_KEY) {
		call_result(f, res);
		return;
	}
	struct run *r = map_get(&f->runs, res->key);
	if (r == NULL) {
		func_result_delete(res);
		return;
	}
	int status = res->status;
	const char *err = res->error;
	uint64_t sizes[JOBS_MAX_OUTPUTS];
	if (status == 0 && res->nout != r->nout) {
		status = MIST_ETASK;
		err = "the function produced the wrong number of outputs";
	}
	for (uint32_t i = 0; status == 0 && i < res->nout; i++) {
		sizes[i] = vval_len(res->outs[i]);
		if (sizes[i] > JOBS_MAX_VALUE) {
			status = MIST_ETASK;
			err = "an output is larger than the value limit";
		}
	}
	for (uint32_t i = 0; status == 0 && i < res->nout; i++) {
		struct vkey k = run_vkey(r, (struct gref){r->task, i});
		vstore_adopt(&f->values, &k, res->outs[i]);
		res->outs[i] = NULL;
	}
	if (status == MIST_ECLOSED)
		status = MIST_ETASK;
	run_report(f, r, status, res->exec_us, sizes, err);
	run_free(f, r);
	func_result_delete(res);
}

/* The pool finished attempts (MSG_EXEC_DONE: a list, in order). */
static void
exec_done(struct func *f, struct msg *m)
{
	struct func_result *res = m->flags & MSG_F_LOCAL ? m->ptr : NULL;
	m->ptr = NULL; /* ours now */
	while (res) {
		struct func_result *next = res->next;
		exec_result(f, res);
		res = next;
	}
}

/* ------------------------------------------------------- serving values */

static void
value_get(struct func *f, struct msg *m)
{
	struct jobmsg_value_get g;
	if (jobmsg_value_get_unpack(m->body, m->len, &g) != 0) {
		actor_reply_error(f->actor, m, MIST_EPROTO);
		return;
	}
	struct vkey k = {g.owner, g.job, g.v.task, g.v.out};
	uint32_t len;
	const uint8_t *p = vstore_get(&f->values, &k, &len);
	if (p == NULL || g.off > len) {
		actor_reply_error(f->actor, m, MIST_ENOTFOUND);
		return;
	}
	uint64_t chunk = len - g.off;
	if (chunk > g.max)
		chunk = g.max;
	if (chunk > JOBS_CHUNK)
		chunk = JOBS_CHUNK;
	struct buf b = BUF_INIT;
	jobmsg_chunk_pack(&b, len, p + g.off, (uint32_t)chunk);
	actor_reply(f->actor, m, MSG_VALUE_GET, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

static void
value_free(struct func *f, struct msg *m)
{
	struct jobmsg_value_free vf;
	struct mp_cur c;
	if (jobmsg_value_free_unpack(m->body, m->len, &vf, &c) != 0)
		return;
	/* only the job's owner frees its values: its first owner, or the
	 * node that manages it now (a standby that took it over) */
	struct fmgr *mg = managed_get(f, vf.owner, vf.job);
	if (vf.owner != m->from.node && (mg == NULL || mg->node != m->from.node))
		return;
	if (vf.all) {
		vstore_free_job(&f->values, vf.owner, vf.job);
		managed_del(f, vf.owner, vf.job);
		return;
	}
	for (uint32_t i = 0; i < vf.n; i++) {
		struct gref r;
		if (jobmsg_ref_next(&c, &r) != 0)
			return;
		struct vkey k = {vf.owner, vf.job, r.task, r.out};
		vstore_free(&f->values, &k);
	}
}

/* MSG_ATTEMPTS: the asking owner's attempts held here, for its lease
 * check (data/jobmsg.h). */
static void
attempts(struct func *f, struct msg *m)
{
	uint32_t n = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&f->runs, &it, &k, &v))
		n += ((struct run *)v)->manager == m->from.node;
	bool complete = n <= JOBS_MAX_LEASE_LIST;
	if (!complete)
		n = JOBS_MAX_LEASE_LIST;
	struct buf b = BUF_INIT;
	jobmsg_attempts_pack_head(&b, complete, n);
	it = 0;
	for (uint32_t i = 0; i < n && map_next(&f->runs, &it, &k, &v);) {
		const struct run *r = v;
		if (r->manager != m->from.node)
			continue;
		jobmsg_attempt_pack(&b, r->job, r->task, r->attempt);
		i++;
	}
	actor_reply(f->actor, m, MSG_ATTEMPTS, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* ---------------------------------------------------- checkpoint copies */

/* A MSG_VALUE_COPY being fetched (f->copies, by the fetch's corr). */
struct fcopy {
	struct vkey k;
	uint64_t size; /* the owner's word: the only total taken */
	uint64_t holders[GRAPH_MAX_HOLDERS];
	uint8_t nholders, tried;
	struct vval *fetching;
	uint32_t got;
	struct actor_ref from; /* who asked: answered at the end */
	uint64_t req_corr;
};

static void
copy_answer(struct func *f, struct fcopy *c, int status)
{
	struct msg req = {.flags = MSG_F_REQUEST, .from = c->from,
			  .corr = c->req_corr};
	if (status)
		actor_reply_error(f->actor, &req, status);
	else
		actor_reply(f->actor, &req, MSG_VALUE_COPY, NULL, 0);
	if (c->fetching)
		vval_delete(c->fetching);
	f->ncopies--;
	f->copy_bytes -= c->size;
	free(c);
}

/* Asks the current holder for the next chunk, or gives up (none left). */
static void
copy_fetch(struct func *f, struct fcopy *c)
{
	if (c->tried >= c->nholders) {
		copy_answer(f, c, MIST_ENOTFOUND);
		return;
	}
	struct jobmsg_value_get g = {c->k.owner, c->k.job,
				     {c->k.task, c->k.out}, c->got, JOBS_CHUNK};
	struct buf b = BUF_INIT;
	jobmsg_value_get_pack(&b, &g);
	uint64_t corr;
	actor_request(f->actor,
		      (struct actor_ref){c->holders[c->tried], ACTOR_FUNCTION},
		      MSG_VALUE_GET, b.data, (uint32_t)b.len,
		      f->cfg.fetch_timeout_ms, &corr);
	map_put(&f->copies, corr, c);
	buf_destroy(&b);
}

/* A chunk for a copy (true), or not a copy's reply (false). */
static bool
copy_reply(struct func *f, struct msg *m)
{
	struct fcopy *c = map_del(&f->copies, m->corr);
	if (c == NULL)
		return false;
	int rc = fetch_chunk(m, &c->fetching, &c->got, c->size);
	if (rc < 0)
		c->tried++;
	if (rc <= 0) {
		copy_fetch(f, c);
		return true;
	}
	vstore_adopt(&f->values, &c->k, c->fetching);
	c->fetching = NULL;
	copy_answer(f, c, 0);
	return true;
}

/* MSG_VALUE_COPY: keep a copy of a value its owner names (data/ckpt.c). */
static void
value_copy(struct func *f, struct msg *m)
{
	struct jobmsg_value_copy q;
	if (jobmsg_value_copy_unpack(m->body, m->len, &q) != 0) {
		actor_reply_error(f->actor, m, MIST_EPROTO);
		return;
	}
	/* the epoch fences a copy asked by an owner taken over since, as it
	 * fences its TASK_RUNs; the asker becomes the job's manager here,
	 * whose VALUE_FREE of the copy is taken */
	if (!managed_admit(f, q.owner, q.job, q.epoch << 16, m->from.node)) {
		actor_reply_error(f->actor, m, MIST_EPERM);
		return;
	}
	struct vkey k = {q.owner, q.job, q.v.task, q.v.out};
	uint32_t len;
	if (vstore_get(&f->values, &k, &len) != NULL) {
		actor_reply(f->actor, m, MSG_VALUE_COPY, NULL, 0);
		return;
	}
	if (f->ncopies >= FUNC_MAX_COPIES ||
	    f->copy_bytes + q.size > FUNC_COPIES_MAX_BYTES) {
		actor_reply_error(f->actor, m, MIST_EOVERLOAD);
		return;
	}
	struct fcopy *c = xcalloc(1, sizeof(*c));
	c->k = k;
	c->size = q.size;
	c->nholders = (uint8_t)q.nholders; /* <= GRAPH_MAX_HOLDERS */
	memcpy(c->holders, q.holders, q.nholders * sizeof(q.holders[0]));
	c->from = m->from;
	c->req_corr = m->corr;
	f->ncopies++;
	f->copy_bytes += q.size;
	copy_fetch(f, c);
}

/* --------------------------------------------------- add-on functions */

/* Answers the call @a c (the request is gone: its sender and corr were
 * kept), with a body or an error status. */
static void
call_answer(struct func *f, const struct fcall *c, const struct buf *body,
	    int status)
{
	struct msg req = {.flags = MSG_F_REQUEST, .from = c->from,
			  .corr = c->corr};
	if (status)
		actor_reply_error(f->actor, &req, status);
	else
		actor_reply(f->actor, &req, MSG_FN_CALL, body->data,
			    (uint32_t)body->len);
}

/* [1, message]: the function failed. */
static void
call_fail(struct func *f, const struct fcall *c, const char *why)
{
	struct buf b = BUF_INIT;
	fncall_reply_fail_pack(&b, why);
	call_answer(f, c, &b, 0);
	buf_destroy(&b);
	f->stats.failures++;
	f->stats.fns[c->fn].failures++;
}

static void
call_free(struct func *f, struct fcall *c)
{
	free(c->caller);
	c->caller = NULL;
	f->stats.in_flight--;
	f->stats.in_flight_bytes -= c->bytes;
	c->key = 0;
	c->next_free = f->free_call;
	f->free_call = (uint32_t)(c - f->calls);
}

/* The pool ended call @a res (freed here). */
static void
call_result(struct func *f, struct func_result *res)
{
	uint64_t slot = res->key & UINT32_MAX;
	struct fcall *c = slot < f->cfg.max_calls ? &f->calls[slot] : NULL;
	if (c == NULL || c->key != res->key) {
		func_result_delete(res); /* not ours: cannot happen */
		return;
	}
	struct func_fn_stats *fs = &f->stats.fns[c->fn];
	fs->exec_us += res->exec_us;
	if (res->status == 0 && res->nout == 1 &&
	    vval_len(res->outs[0]) <= FUNC_CALL_MAX_RESULT) {
		struct buf b = BUF_INIT;
		fncall_reply_ok_pack(&b, vval_data(res->outs[0]),
				     vval_len(res->outs[0]));
		call_answer(f, c, &b, 0);
		buf_destroy(&b);
		f->stats.ok++;
	} else if (res->status == 0) {
		char why[128];
		if (res->nout != 1)
			snprintf(why, sizeof(why),
				 "the function produced %u outputs, not one",
				 res->nout);
		else
			snprintf(why, sizeof(why),
				 "the function's result is %u bytes, more than "
				 "the %u a call may return",
				 vval_len(res->outs[0]), FUNC_CALL_MAX_RESULT);
		call_fail(f, c, why);
	} else if (res->status == MIST_ECLOSED) {
		call_answer(f, c, NULL, MIST_ECLOSED);
		f->stats.refused++;
	} else if (actor_sys_now(f->actor->sys) >= c->deadline) {
		/* killed at the deadline (or never started): whatever the
		 * executor said, the caller's time ran out */
		call_answer(f, c, NULL, MIST_ETIMEDOUT);
		f->stats.timeouts++;
		fs->timeouts++;
	} else {
		call_fail(f, c, res->error ? res->error : "the function failed");
	}
	call_free(f, c);
	func_result_delete(res);
}

/* Refuses a call before it runs. */
static void
call_refuse(struct func *f, struct msg *m, int status)
{
	actor_reply_error(f->actor, m, status);
	if (status == MIST_ETIMEDOUT)
		f->stats.timeouts++;
	else if (status == MIST_EOVERLOAD)
		f->stats.overloaded++;
	else if (status == MIST_ENOTFOUND)
		f->stats.unknown++;
	else
		f->stats.refused++;
}

static void
fn_call(struct func *f, struct msg *m)
{
	f->stats.calls++;
	if (!(m->flags & MSG_F_REQUEST)) {
		f->stats.refused++; /* nobody waits for it: not run */
		return;
	}
	struct fncall_req q;
	if (fncall_unpack(m->body, m->len, &q) != 0) {
		call_refuse(f, m, MIST_EPROTO);
		return;
	}
	const char *fn = q.fn;
	uint32_t flen = q.fn_len, plen = q.params_len;
	const uint8_t *params = q.params;
	uint64_t deadline_ms = q.deadline_ms;
	int idx = f->ops && flen < EXEC_NAME_MAX
			  ? f->ops->fn_index(f->pool, fn, flen)
			  : -1;
	if (idx < 0 || idx >= EXEC_MAX_FUNCTIONS) {
		call_refuse(f, m, MIST_ENOTFOUND);
		return;
	}
	uint64_t now = actor_sys_now(f->actor->sys);
	uint64_t deadline = now + deadline_ms;
	if (m->deadline && m->deadline < deadline)
		deadline = m->deadline;
	if (deadline <= now) {
		call_refuse(f, m, MIST_ETIMEDOUT);
		return;
	}
	if (plen > FUNC_CALL_MAX_PARAMS) {
		call_refuse(f, m, MIST_E2BIG);
		return;
	}
	if (f->free_call >= f->cfg.max_calls ||
	    f->stats.in_flight_bytes + plen + q.reads_len >
		    FUNC_CALLS_MAX_BYTES) {
		call_refuse(f, m, MIST_EOVERLOAD);
		return;
	}
	struct fcall *call = &f->calls[f->free_call];
	uint64_t key = FUNC_CALL_KEY |
		       (uint64_t)(++call->gen & INT32_MAX) << 32 | f->free_call;
	uint64_t wall = deadline - now;
	uint32_t wall32 = wall > UINT32_MAX ? UINT32_MAX : (uint32_t)wall;
	/* declared reads (mist_plugin.h), made by the gateway as the
	 * caller: the pool keeps them only for a function that declares one
	 * (not a master one) */
	uint32_t rlen = q.nreads && f->ops->submit_call ? q.reads_len : 0;
	int rc = rlen ? f->ops->submit_call(f->pool, key, (uint32_t)idx,
					    params, plen, q.reads, rlen, wall32)
		      : f->ops->submit(f->pool, key, (uint32_t)idx, params,
				       plen, NULL, 0, 1, wall32);
	if (rc != 0) {
		call_refuse(f, m, rc == MIST_ENOTFOUND ? MIST_ENOTFOUND : rc);
		return;
	}
	f->free_call = call->next_free;
	call->key = key;
	memcpy(call->app, q.app, q.app_len);
	call->app[q.app_len] = '\0';
	call->caller = xmalloc(q.caller_len ? q.caller_len : 1);
	memcpy(call->caller, q.caller, q.caller_len);
	call->caller_len = q.caller_len;
	call->master = f->ops->fn_flags &&
		       (f->ops->fn_flags(f->pool, (uint32_t)idx) & MIST_FN_MASTER);
	call->from = m->from;
	call->corr = m->corr;
	call->deadline = deadline;
	call->fn = (uint32_t)idx;
	call->bytes = plen + rlen;
	f->stats.in_flight++;
	f->stats.in_flight_bytes += call->bytes;
	if (f->stats.in_flight > f->stats.in_flight_max)
		f->stats.in_flight_max = f->stats.in_flight;
	struct func_fn_stats *fs = &f->stats.fns[idx];
	if (fs->name[0] == '\0')
		memcpy(fs->name, fn, flen); /* the pool's name: < EXEC_NAME_MAX */
	if ((uint32_t)idx >= f->stats.nfns)
		f->stats.nfns = (uint32_t)idx + 1;
	fs->calls++;
}

/* ------------------------------------------------------------ host API */

/* A host call sent to the gateway, until it answers (f->hosts). */
struct fhost {
	uint64_t key; /* the call's pool key */
	uint32_t hid;
};

static void
host_answer(struct func *f, uint64_t key, uint32_t hid, int status,
	    const void *body, size_t len)
{
	if (f->ops && f->ops->host_reply)
		f->ops->host_reply(f->pool, key, hid, status, body, len);
}

/* One host request of a running task: to the gateway as MSG_HOST_CALL if
 * it is a call's, with what is left of its deadline; answered at once
 * otherwise. */
static void
host_request(struct func *f, const struct func_host *h)
{
	uint64_t slot = h->key & UINT32_MAX;
	struct fcall *c = (h->key & FUNC_CALL_KEY) && slot < f->cfg.max_calls
				  ? &f->calls[slot]
				  : NULL;
	f->stats.host_calls++;
	if (c == NULL || c->key != h->key) {
		/* a job's task (no app to act for), or a call that ended */
		f->stats.host_refused++;
		host_answer(f, h->key, h->hid, MIST_EPERM, NULL, 0);
		return;
	}
	uint64_t now = actor_sys_now(f->actor->sys);
	if (c->deadline <= now) {
		f->stats.host_refused++;
		host_answer(f, h->key, h->hid, MIST_ETIMEDOUT, NULL, 0);
		return;
	}
	uint64_t left = c->deadline - now;
	uint32_t remaining = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
	struct buf b = BUF_INIT;
	hostcall_pack(&b, c->app, c->caller, c->caller_len, remaining,
		      c->master, h->method, h->path, h->path_len, h->body,
		      h->body_len);
	uint64_t corr;
	actor_request(f->actor,
		      (struct actor_ref){f->actor->sys->node, ACTOR_GATEWAY},
		      MSG_HOST_CALL, b.data, (uint32_t)b.len,
		      remaining + FUNC_HOST_SLACK_MS, &corr);
	buf_destroy(&b);
	struct fhost *fh = xmalloc(sizeof(*fh));
	fh->key = h->key;
	fh->hid = h->hid;
	map_put(&f->hosts, corr, fh);
}

/* The gateway answered a host call (or the request failed). */
static bool
host_reply(struct func *f, struct msg *m)
{
	struct fhost *fh = map_del(&f->hosts, m->corr);
	if (fh == NULL)
		return false;
	int status;
	const uint8_t *body = NULL;
	uint32_t blen = 0;
	if (m->status != 0)
		status = m->status;
	else if (hostcall_reply_unpack(m->body, m->len, &status, &body,
				       &blen) != 0)
		status = MIST_EPROTO;
	host_answer(f, fh->key, fh->hid, status, body, blen);
	free(fh);
	return true;
}

/* MSG_EXEC_HOST: the host requests of one read from an executor. */
static void
exec_host(struct func *f, struct msg *m)
{
	struct func_host *h = m->flags & MSG_F_LOCAL ? m->ptr : NULL;
	for (; h; h = h->next)
		host_request(f, h);
}

static void
func_host_chain_free(void *p)
{
	struct func_host *h = p;
	while (h) {
		struct func_host *next = h->next;
		free(h);
		h = next;
	}
}

void
func_pool_host(void *sys, const struct pool_host_req *rs, uint32_t n)
{
	struct func_host *head = NULL, **tail = &head;
	for (uint32_t i = 0; i < n; i++) {
		const struct pool_host_req *r = &rs[i];
		/* one allocation: the struct, then the path and the body */
		struct func_host *h = xmalloc(sizeof(*h) + r->path_len +
					      r->body_len + 1);
		h->next = NULL;
		h->key = r->key;
		h->hid = r->hid;
		h->method = r->method; /* one of the pool's constants */
		h->path = (char *)(h + 1);
		memcpy(h->path, r->path, r->path_len);
		h->path_len = r->path_len;
		h->body = (uint8_t *)h->path + r->path_len;
		if (r->body_len)
			memcpy(h->body, r->body, r->body_len);
		h->body_len = r->body_len;
		*tail = h;
		tail = &h->next;
	}
	if (head == NULL)
		return;
	struct msg *m = actor_local_msg(sys, ACTOR_FUNCTION, MSG_EXEC_HOST,
					NULL, 0);
	m->ptr = head;
	m->ptr_free = func_host_chain_free;
	actor_sys_deliver(sys, m);
}

int
func_stats(struct actor_sys *sys, struct func_stats *out)
{
	struct actor *a = actor_sys_find(sys, ACTOR_FUNCTION);
	if (a == NULL || a->state == NULL)
		return MIST_ENOACTOR;
	const struct func *f = a->state;
	*out = f->stats;
	return 0;
}

/* ------------------------------------------------------------ the actor */

static void
func_stop(struct func *f)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	struct run **all = xcalloc(f->runs.len + 1, sizeof(*all));
	size_t n = 0;
	while (map_next(&f->runs, &it, &k, &v))
		all[n++] = v;
	for (size_t i = 0; i < n; i++)
		run_free(f, all[i]);
	free(all);
	/* calls still running: their results will find no actor */
	for (uint32_t i = 0; i < f->cfg.max_calls; i++) {
		if (f->calls[i].key)
			call_answer(f, &f->calls[i], NULL, MIST_ECLOSED);
		free(f->calls[i].caller);
	}
	free(f->calls);
	it = 0;
	while (map_next(&f->hosts, &it, &k, &v))
		free(v);
	map_destroy(&f->hosts);
	it = 0;
	while (map_next(&f->managed, &it, &k, &v))
		free(v);
	map_destroy(&f->managed);
	map_destroy(&f->runs);
	map_destroy(&f->fetches);
	it = 0;
	while (map_next(&f->copies, &it, &k, &v)) {
		struct fcopy *c = v;
		if (c->fetching)
			vval_delete(c->fetching);
		free(c);
	}
	map_destroy(&f->copies);
	vstore_destroy(&f->values);
	free(f);
}

static void
func_fn(struct actor *self, struct msg *m)
{
	struct func *f = self->state;
	if (m->flags & MSG_F_REPLY) {
		/* the requests we make: host calls and value fetches */
		if (!host_reply(f, m) && !copy_reply(f, m))
			fetch_reply(f, m);
		return;
	}
	switch (m->type) {
	case MSG_STOP:
		func_stop(f);
		self->state = NULL;
		break;
	case MSG_TASK_RUN:
		task_run(f, m);
		break;
	case MSG_EXEC_DONE:
		exec_done(f, m);
		break;
	case MSG_VALUE_GET:
		if (m->flags & MSG_F_REQUEST)
			value_get(f, m);
		break;
	case MSG_VALUE_FREE:
		value_free(f, m);
		break;
	case MSG_FN_CALL:
		fn_call(f, m);
		break;
	case MSG_ATTEMPTS:
		if (m->flags & MSG_F_REQUEST)
			attempts(f, m);
		break;
	case MSG_VALUE_COPY:
		if (m->flags & MSG_F_REQUEST)
			value_copy(f, m);
		break;
	case MSG_EXEC_HOST:
		exec_host(f, m);
		break;
	default:
		if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

int
func_spawn(struct actor_sys *sys, const struct func_config *cfg,
	   const struct pool_ops *ops, void *pool)
{
	struct func *f = xcalloc(1, sizeof(*f));
	f->cfg = *cfg;
	f->ops = ops;
	f->pool = pool;
	vstore_init(&f->values);
	map_init(&f->runs, 1);
	map_init(&f->fetches, 2);
	map_init(&f->hosts, 3);
	map_init(&f->managed, 4);
	map_init(&f->copies, 5);
	if (f->cfg.max_calls == 0)
		f->cfg.max_calls = FUNC_MAX_CALLS;
	f->calls = xcalloc(f->cfg.max_calls, sizeof(*f->calls));
	for (uint32_t i = 0; i < f->cfg.max_calls; i++)
		f->calls[i].next_free = i + 1;
	f->actor = actor_spawn(sys, ACTOR_FUNCTION, "function", func_fn, f);
	if (f->actor == NULL) {
		free(f->calls);
		vstore_destroy(&f->values);
		map_destroy(&f->runs);
		map_destroy(&f->fetches);
		map_destroy(&f->hosts);
		map_destroy(&f->managed);
		map_destroy(&f->copies);
		free(f);
		return MIST_EEXIST;
	}
	return 0;
}
