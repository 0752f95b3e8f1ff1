/*
 * client.c -- the clients' requests to the owner of their jobs (JOB_CREATE
 * ... JOB_LIST, bodies in jobmsg.h), as the gateway forwards them:
 * wrapped with the credential and role it checked.
 *
 * A job answers to the credential that created it, and to admins.  A
 * batch of tasks is taken whole or not at all, and journalled as it came;
 * a retried batch the owner already has is acknowledged again.  JOB_WAIT
 * parks until the value exists or cannot (client_wake answers), or until its
 * deadline (the tick answers ETIMEDOUT a tick early, saying what the value
 * waits for).
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ waiters */

/* Answers the waiters whose value is settled. */
void
client_wake(struct data *d, struct job *j)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < j->nwaiters; i++) {
		struct waiter *w = &j->waiters[i];
		struct gtask *t = graph_task(&j->g, w->v.task);
		struct gvalue *v = graph_value(&j->g, w->v);
		struct buf b = BUF_INIT;
		if (t->state == G_FAILED)
			jobmsg_wait_reply_pack(&b, t->status, 0,
					       t->error ? t->error : "failed");
		else if (v->available)
			jobmsg_wait_reply_pack(&b, 0, v->size, NULL);
		else if (v->freed && v->released)
			jobmsg_wait_reply_pack(&b, MIST_EINVAL, 0,
					       "the value was released");
		else {
			j->waiters[keep++] = *w;
			continue;
		}
		actor_reply(d->actor, w->req, MSG_JOB_WAIT, b.data,
			    (uint32_t)b.len);
		msg_delete(w->req);
		buf_destroy(&b);
	}
	j->nwaiters = keep;
}

/*
 * What waiting for @a r is stuck on, in words, for a wait that times out:
 * follows the first missing input down from the value's producer to the
 * first task that is not waiting on another (bounded), and says what that
 * one is doing.
 */
static void
explain_wait(struct data *d, struct job *j, struct gref r, char *out,
	     size_t size)
{
	uint32_t id = r.task;
	int n = snprintf(out, size, "timed out waiting for task %u's output %u",
			 r.task, r.out);
	for (int depth = 0; depth < 64 && n >= 0 && (size_t)n < size; depth++) {
		const struct gtask *t = graph_task(&j->g, id);
		const char *fn = t->fn < j->nfns ? j->fns[t->fn].name : "?";
		if (t->state == G_WAITING) {
			uint32_t next = 0;
			for (uint32_t i = 0; i < t->nin && next == 0; i++) {
				const struct gvalue *v = graph_value(&j->g, t->in[i]);
				if (v != NULL && !v->available)
					next = t->in[i].task;
			}
			if (next == 0 || next == id) {
				snprintf(out + n, size - (size_t)n,
					 ": task %u ('%s') waits for its inputs",
					 id, fn);
				return;
			}
			n += snprintf(out + n, size - (size_t)n,
				      ": task %u ('%s') needs task %u", id, fn,
				      next);
			id = next;
			continue;
		}
		if (t->state == G_RUNNING) {
			const struct nodeinfo *ni = map_get(&d->nodes, t->node);
			snprintf(out + n, size - (size_t)n,
				 ": task %u ('%s') is running on %s (%016llx), "
				 "attempt %u", id, fn,
				 ni && ni->name[0] ? ni->name : "?",
				 (unsigned long long)t->node, t->attempt);
		} else if (t->state == G_READY) {
			snprintf(out + n, size - (size_t)n,
				 names_job_reg(d, j, t->fn) < 0
					 ? ": task %u ('%s') is ready, but no "
					   "member offers '%s'"
					 : ": task %u ('%s') is ready, waiting for "
					   "room on a node offering '%s'",
				 id, fn, fn);
		} else if (t->state == G_DONE) {
			snprintf(out + n, size - (size_t)n,
				 ": task %u ('%s') is done, its value being "
				 "recomputed", id, fn);
		}
		return;
	}
}

/*
 * Answers the waiters whose deadline the next tick would pass -- early,
 * so the answer reaches the client before its own timer gives up, and
 * says what the wait is stuck on (a timed-out wait looked like a slow
 * one).
 */
void
client_expire_waiters(struct job *j, uint64_t now)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < j->nwaiters; i++) {
		struct waiter *w = &j->waiters[i];
		if (w->deadline == 0 || w->deadline > now + DATA_TICK_MS) {
			j->waiters[keep++] = *w;
			continue;
		}
		char why[512];
		explain_wait(j->d, j, w->v, why, sizeof(why));
		struct buf b = BUF_INIT;
		jobmsg_wait_reply_pack(&b, MIST_ETIMEDOUT, 0, why);
		actor_reply(j->d->actor, w->req, MSG_JOB_WAIT, b.data,
			    (uint32_t)b.len);
		buf_destroy(&b);
		msg_delete(w->req);
	}
	j->nwaiters = keep;
}

static void
job_wait(struct data *d, struct msg *m, struct job *j, struct mp_cur *c)
{
	struct gref r;
	if (jobmsg_wait_unpack(c, &r) != 0 || graph_value(&j->g, r) == NULL) {
		actor_reply_error(d->actor, m, MIST_EINVAL);
		return;
	}
	if (j->nwaiters >= DATA_MAX_WAITERS) {
		actor_reply_error(d->actor, m, MIST_EOVERLOAD);
		return;
	}
	if (j->nwaiters == j->capwaiters) {
		j->capwaiters = j->capwaiters ? j->capwaiters * 2 : 8;
		j->waiters = xrealloc(j->waiters,
				      j->capwaiters * sizeof(*j->waiters));
	}
	struct waiter *w = &j->waiters[j->nwaiters++];
	w->req = data_req_copy(m);
	w->deadline = m->deadline;
	w->v = r;
	client_wake(d, j);
}

/* ----------------------------------------------------- creating, tasks */

int
client_apply_create(struct job *j, const uint8_t *body, uint32_t len)
{
	struct jobmsg_create c;
	jobmsg_create_init(&c);
	int rc = jobmsg_create_unpack(body, len, &c);
	/* what was read before an error applies, as a replay expects */
	memcpy(j->name, c.name, sizeof(j->name));
	j->pol.w_time = c.w_time;
	j->pol.w_energy = c.w_energy;
	j->pol.w_cost = c.w_cost;
	j->pol.tiers = c.tiers;
	if (c.attempts)
		j->g.max_failures = (uint16_t)c.attempts;
	/* checkpoints (ckpt.c); a replayed or taken-over job looks at its
	 * partitions once the tick can (its copies may be missing) */
	j->ck.every = c.checkpoint_every;
	j->ck.rescan = true;
	return rc;
}

/*
 * Adds a batch [first, [task...]], all of it or nothing: a first pass
 * checks every task -- its inputs may name tasks earlier in the same
 * batch -- so that a bad task cannot leave the tasks before it added,
 * unjournalled, with the client told that the batch failed.  1: a batch
 * already held (a retry), nothing added.
 */
int
client_add_tasks(struct data *d, struct job *j, const uint8_t *p, uint32_t len)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t first;
	if (jobmsg_batch_unpack(p, len, &first, &n, &c) != 0)
		return MIST_EPROTO;
	uint32_t have = j->g.ntasks;
	if (first != (uint64_t)have + 1) {
		/* a retried batch we already have is fine; a gap is not */
		return first >= 1 && first <= have && n <= have - first + 1
			       ? 1 : MIST_EINVAL;
	}
	if (j->cancelled)
		return MIST_ECANCELED;
	if (have >= d->cfg.max_tasks || n > d->cfg.max_tasks - have)
		return MIST_E2BIG; /* each task costs memory here: bounded */
	struct gref in[JOBS_MAX_INPUTS];
	struct jobmsg_task t;
	struct { uint16_t fn, nout; } *seen = xmalloc((n ? n : 1) * sizeof(*seen));
	struct mp_cur start = c;
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		if ((rc = jobmsg_task_next(&c, &t, in)) != 0)
			break;
		int fn = names_job_intern(d, j, t.fn, t.fn_len);
		if (fn < 0) {
			rc = fn;
			break;
		}
		seen[i].fn = (uint16_t)fn; /* < DATA_JOB_MAX_FNS */
		seen[i].nout = (uint16_t)t.nout; /* <= JOBS_MAX_OUTPUTS */
		for (uint32_t k = 0; rc == 0 && k < t.nin; k++) {
			uint64_t at = in[k].task;
			bool ok = at > have ? at <= (uint64_t)have + i &&
						  in[k].out < seen[at - have - 1].nout
					    : graph_input_ok(&j->g, in[k]);
			if (!ok)
				rc = MIST_EINVAL;
		}
	}
	c = start;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		jobmsg_task_next(&c, &t, in);
		rc = graph_add(&j->g, seen[i].fn, t.args, t.args_len, in, t.nin,
			       seen[i].nout);
	}
	free(seen);
	return rc;
}

/* ------------------------------------------------------------- status */

uint64_t
client_clock(void *job)
{
	return data_now(((struct job *)job)->d);
}

/* The age at @a now of what began at @a since (ms, at least 1: 0 says
 * "nothing" on the wire). */
static uint64_t
age_of(uint64_t now, uint64_t since)
{
	return now > since ? now - since : 1;
}

/*
 * The age of the oldest task ready but not placed (0: none), and why it
 * waits into @a why (explain_wait's words: no member offers the
 * function, no live node allowed by the job does, or every one that does
 * is at its in-flight limit).
 */
static uint64_t
ready_oldest(struct data *d, struct job *j, char *why, size_t size)
{
	why[0] = '\0';
	if (j->g.count[G_READY] == 0)
		return 0;
	const struct gtask *old = NULL;
	for (uint32_t i = 0; i < j->g.ntasks; i++) {
		const struct gtask *t = &j->g.tasks[i];
		if (t->state == G_READY && (old == NULL || t->since < old->since))
			old = t;
	}
	if (old == NULL)
		return 0;
	const char *fn = old->fn < j->nfns ? j->fns[old->fn].name : "?";
	int reg = names_job_reg(d, j, old->fn);
	uint32_t offer = 0, room = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (reg >= 0 && map_next(&d->nodes, &it, &k, &v)) {
		const struct nodeinfo *n = v;
		if (!n->alive || nodes_fn(n, (uint32_t)reg) == NULL ||
		    (j->pol.tiers & (uint32_t)n->tier) == 0)
			continue;
		offer++;
		if (n->inflight < n->cores * d->cfg.per_core_inflight)
			room++;
	}
	if (reg < 0)
		snprintf(why, size, "no member offers '%s'", fn);
	else if (offer == 0)
		snprintf(why, size, "no live node allowed by the job offers '%s' "
			 "(nodes away)", fn);
	else if (room == 0)
		snprintf(why, size, "all %u node%s offering '%s' are busy", offer,
			 offer == 1 ? "" : "s", fn);
	else /* a pass is about to place it: nothing holds it up */
		snprintf(why, size, "being placed");
	return age_of(data_now(d), old->since);
}

_Static_assert(DATA_RECOVERY_TEXT <= JOBMSG_RECOVERY_TEXT_MAX,
	       "a recovery's words fit the reader's bound");

/* @a j's recoveries for the wire; @a last (DATA_RECOVERY_TEXT) holds
 * their words. */
static void
recoveries_of(struct data *d, const struct job *j, struct jobmsg_recoveries *r,
	      char *last)
{
	memcpy(last, j->rec.last, DATA_RECOVERY_TEXT);
	last[DATA_RECOVERY_TEXT - 1] = '\0';
	*r = (struct jobmsg_recoveries){
		.nodes_lost = j->rec.nodes_lost,
		.failed_over = j->g.lost_attempts,
		.recomputed = j->g.recomputed,
		/* every takeover and every owner restart is a new epoch; the
		 * first owner's boot is the id's high half (client_create) */
		.owner_changes = (j->epoch - (uint32_t)(j->id >> 32)) &
				 JOBS_MAX_EPOCH,
		.last_ms = j->rec.last_at ? age_of(data_now(d), j->rec.last_at)
					  : 0,
		.last = last};
}

struct recov_mark
client_recov_mark(const struct job *j)
{
	return (struct recov_mark){j->g.lost_attempts, j->g.recomputed};
}

void
client_recovered(struct data *d, struct job *j, struct recov_mark m,
		 enum recov_kind k, uint64_t node)
{
	uint32_t over = j->g.lost_attempts - m.lost;
	uint32_t again = j->g.recomputed - m.recomputed;
	if (over == 0 && again == 0 && k != RECOV_OWNER)
		return;
	const struct nodeinfo *ni = map_get(&d->nodes, node);
	char who[SWIM_NAME_MAX + 24];
	if (ni && ni->name[0])
		snprintf(who, sizeof(who), "%s", ni->name);
	else
		snprintf(who, sizeof(who), "%016llx", (unsigned long long)node);
	/* what happened, around the node's name */
	static const char *const pre[] = {
		[RECOV_NODE] = "node ", [RECOV_RESTART] = "node ",
		[RECOV_LEASE] = "attempts sent to ", [RECOV_VALUE] = "a value on ",
		[RECOV_OWNER] = "owner ", [RECOV_SUSPECT] = "node "};
	static const char *const post[] = {
		[RECOV_NODE] = " lost", [RECOV_RESTART] = " restarted",
		[RECOV_LEASE] = " never arrived", [RECOV_VALUE] = " was lost",
		[RECOV_OWNER] = " dead: the job taken over here",
		[RECOV_SUSPECT] = " suspected and silent"};
	char *p = j->rec.last;
	size_t size = sizeof(j->rec.last);
	int n = snprintf(p, size, "%s%s%s", pre[k], who, post[k]);
	if (n >= 0 && (size_t)n < size && over)
		n += snprintf(p + n, size - (size_t)n, ": %u attempt%s failed "
			      "over", over, over == 1 ? "" : "s");
	if (n >= 0 && (size_t)n < size && again)
		snprintf(p + n, size - (size_t)n, "%s%u value%s recomputed",
			 over ? ", " : ": ", again, again == 1 ? "" : "s");
	if (k != RECOV_LEASE && k != RECOV_VALUE && (over || again))
		j->rec.nodes_lost++;
	j->rec.last_at = data_now(d);
	if (j->rec.last_at == 0)
		j->rec.last_at = 1;
	journal_recovered(d, j); /* for the next owner (data_int.h) */
}

static void
job_status_pack(struct data *d, struct job *j, struct buf *b)
{
	struct jobmsg_status s = {
		.owner = data_self(d), .job = j->id, .name = j->name,
		.state = j->cancelled ? "cancelled"
			 : !graph_finished(&j->g) ? "running"
			 : j->g.count[G_FAILED] ? "failed" : "done",
		.tasks = j->g.ntasks, .waiting = j->g.count[G_WAITING],
		.ready = j->g.count[G_READY], .running = j->g.count[G_RUNNING],
		.done = j->g.count[G_DONE], .failed = j->g.count[G_FAILED],
		.error = ""};
	/* the first failure's message, for operators */
	for (uint32_t i = 1; i <= j->g.ntasks && !*s.error; i++)
		if (j->g.tasks[i - 1].state == G_FAILED &&
		    j->g.tasks[i - 1].error)
			s.error = j->g.tasks[i - 1].error;
	/* per node, in order of first appearance: running and done tasks.
	 * A scan of the few nodes so far (the last one first: tasks come in
	 * runs) is cheaper than a hash per task -- this walks every task; the
	 * nodes past the cap are only counted, in a map made when needed. */
	struct jobmsg_status_node per[JOBMSG_STATUS_MAX_NODES];
	struct map extra; /* nodes past the cap, counted once each */
	bool have_extra = false;
	uint32_t np = 0, more = 0, last = 0;
	for (uint32_t i = 0; i < j->g.ntasks; i++) {
		struct gtask *t = &j->g.tasks[i];
		if (t->state != G_RUNNING && t->state != G_DONE)
			continue;
		uint32_t k = last;
		if (k >= np || per[k].node != t->node)
			for (k = 0; k < np && per[k].node != t->node; k++)
				;
		if (k == np && np == JOBMSG_STATUS_MAX_NODES) {
			if (!have_extra) {
				map_init(&extra, 7);
				have_extra = true;
			}
			if (map_put(&extra, t->node, &extra) == NULL)
				more++;
			continue;
		}
		if (k == np) {
			struct nodeinfo *ni = map_get(&d->nodes, t->node);
			per[np++] = (struct jobmsg_status_node){
				t->node, ni ? ni->name : "?",
				place_tier_name(ni ? ni->tier : 0), 0, 0, 0};
		}
		last = k;
		if (t->state == G_RUNNING) {
			per[k].running++;
			/* oldest_ms holds the start until the ages below */
			if (per[k].oldest_ms == 0 || t->since < per[k].oldest_ms)
				per[k].oldest_ms = t->since ? t->since : 1;
		} else {
			per[k].done++;
		}
	}
	if (have_extra)
		map_destroy(&extra);
	uint64_t now = data_now(d);
	for (uint32_t k = 0; k < np; k++)
		if (per[k].oldest_ms)
			per[k].oldest_ms = age_of(now, per[k].oldest_ms);
	s.nnodes = np;
	s.nodes = per;
	s.more_nodes = more;
	char why[JOBMSG_WHY_MAX];
	s.ready_oldest_ms = ready_oldest(d, j, why, sizeof(why));
	s.ready_why = why;
	char words[DATA_RECOVERY_TEXT];
	recoveries_of(d, j, &s.rec, words);
	/* checkpoints (ckpt.c): the job's counters */
	struct jobmsg_ckpt ck = {j->ck.every, j->ck.copies, j->ck.bytes,
				 j->ck.failed, j->ck.qlen + j->ck.inflight};
	if (j->ck.every)
		s.ckpt = &ck;
	jobmsg_status_pack(b, &s);
}

/* ------------------------------------------------------------ history */

void
client_remember(struct data *d, struct job *j)
{
	if (d->nhist == DATA_HISTORY_MAX) { /* the oldest goes */
		buf_destroy(&d->hist[d->hist_head].status);
		d->hist_head = (d->hist_head + 1) % DATA_HISTORY_MAX;
		d->nhist--;
	}
	uint32_t at = (d->hist_head + d->nhist++) % DATA_HISTORY_MAX;
	d->hist[at].at = data_now(d);
	d->hist[at].status = (struct buf)BUF_INIT;
	job_status_pack(d, j, &d->hist[at].status);
}

void
client_history_prune(struct data *d, bool all)
{
	uint64_t now = data_now(d);
	while (d->nhist > 0 &&
	       (all || now - d->hist[d->hist_head].at > DATA_HISTORY_MS)) {
		buf_destroy(&d->hist[d->hist_head].status);
		d->hist_head = (d->hist_head + 1) % DATA_HISTORY_MAX;
		d->nhist--;
	}
}

/* ------------------------------------------------------------ requests */

/* The job a request names, if the caller may touch it (else answered). */
static struct job *
client_job(struct data *d, struct msg *m, uint64_t owner, uint64_t jid,
	   const struct jobmsg_request *rq)
{
	/* the job's name is its first owner's: a standby that took it over
	 * answers for it under that name */
	struct job *j = data_job_find(d, owner, jid);
	if (j == NULL) {
		/* another node's job a gateway sent here (it believes we
		 * took it over: we did, and restarted since, or were fenced)
		 * or ours taken over: "not here, ask again" -- the gateways
		 * learn its owner now (JOB_MOVED) */
		actor_reply_error(d->actor, m,
				  owner != data_self(d) ||
						  standby_was_fenced(d, owner, jid)
					  ? MIST_EUNREACHABLE
					  : MIST_ENOTFOUND);
		return NULL;
	}
	if (j->cred != rq->cred && rq->role != ROLE_ADMIN) {
		actor_reply_error(d->actor, m, MIST_EPERM);
		return NULL;
	}
	j->touched = data_now(d);
	return j;
}

static void
reply_ids(struct data *d, struct msg *m, uint32_t type, uint64_t a, uint64_t b)
{
	struct buf out = BUF_INIT;
	jobmsg_ids_pack(&out, a, b);
	actor_reply(d->actor, m, type, out.data, (uint32_t)out.len);
	buf_destroy(&out);
}

static void
job_cancel(struct data *d, struct job *j)
{
	if (j->cancelled || graph_finished(&j->g))
		return;
	for (uint32_t i = 0; i < j->g.ntasks; i++) {
		struct gtask *t = &j->g.tasks[i];
		struct nodeinfo *ni;
		if (t->state == G_RUNNING &&
		    (ni = map_get(&d->nodes, t->node)) && ni->inflight > 0)
			ni->inflight--;
	}
	j->cancelled = true;
	graph_cancel(&j->g, MIST_ECANCELED, "the job was cancelled");
	journal_put(d, j, 'D', 0, "", 0);
}

static void
client_create(struct data *d, struct msg *m, const struct jobmsg_request *rq)
{
	uint64_t id = d->boot << 32 | ++d->next_job;
	struct job *j = data_job_new(d, data_self(d), id, rq->cred,
				     (uint32_t)d->boot);
	if (j == NULL) {
		actor_reply_error(d->actor, m, MIST_EEXIST);
		return;
	}
	int rc = client_apply_create(j, rq->body, rq->len);
	if (rc != 0) {
		data_job_delete(d, j);
		actor_reply_error(d->actor, m, rc);
		return;
	}
	journal_created(d, j, rq->body, rq->len);
	/* acknowledged once the standby keeps it (at once if none) */
	struct buf out = BUF_INIT;
	jobmsg_ids_pack(&out, data_self(d), id);
	standby_reply(d, j, m, MSG_JOB_CREATE, out.data, out.len);
	buf_destroy(&out);
}

static void
client_tasks(struct data *d, struct msg *m, struct job *j, struct mp_cur *c)
{
	const uint8_t *batch = c->p;
	uint32_t blen = (uint32_t)mp_cur_left(c);
	int rc = client_add_tasks(d, j, batch, blen);
	if (rc < 0) {
		actor_reply_error(d->actor, m, rc);
		return;
	}
	if (rc == 0)
		journal_put(d, j, 'B', j->tseq++, batch, blen);
	/* acknowledged once the standby keeps it -- a retry of a batch we
	 * have too: it may be the standby's acknowledgement it waits for */
	struct buf out = BUF_INIT;
	jobmsg_ids_pack(&out, j->id, j->g.ntasks);
	standby_reply(d, j, m, MSG_JOB_TASKS, out.data, out.len);
	buf_destroy(&out);
	dispatch_job(d, j);
	client_wake(d, j);
}

static void
client_release(struct data *d, struct msg *m, struct job *j, struct mp_cur *c)
{
	uint32_t nv;
	struct gref r;
	int rc = jobmsg_release_unpack(c, &nv);
	for (uint32_t i = 0; rc == 0 && i < nv; i++)
		if ((rc = jobmsg_ref_next(c, &r)) == 0 &&
		    graph_release(&j->g, r) == 0)
			ckpt_released(j, r); /* a checkpoint's pin */
	/* sent one-way, it gets no reply: actor_reply refuses */
	if (rc != 0)
		actor_reply_error(d->actor, m, rc);
	else
		actor_reply(d->actor, m, MSG_JOB_RELEASE, NULL, 0);
}

static void
client_list(struct data *d, struct msg *m, const struct jobmsg_request *rq)
{
	if (rq->role != ROLE_ADMIN) {
		actor_reply_error(d->actor, m, MIST_EPERM);
		return;
	}
	/* the jobs, then the ended ones still listed, oldest first */
	client_history_prune(d, false);
	struct buf b = BUF_INIT;
	jobmsg_list_pack(&b, (uint32_t)d->jobs.len + d->nhist);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v))
		job_status_pack(d, v, &b);
	for (uint32_t i = 0; i < d->nhist; i++) {
		const struct buf *h =
			&d->hist[(d->hist_head + i) % DATA_HISTORY_MAX].status;
		buf_append(&b, h->data, h->len);
	}
	actor_reply(d->actor, m, MSG_JOB_LIST, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

void
client_request(struct data *d, struct msg *m)
{
	struct jobmsg_request rq;
	if (jobmsg_request_unpack(m->body, m->len, &rq) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return;
	}
	struct job *j = NULL;
	struct mp_cur c;
	if (jobmsg_job_arity(m->type)) {
		uint64_t owner, jid;
		if (jobmsg_job_unpack(m->type, rq.body, rq.len, &owner, &jid,
				      &c) != 0) {
			actor_reply_error(d->actor, m, MIST_EPROTO);
			return;
		}
		if ((j = client_job(d, m, owner, jid, &rq)) == NULL)
			return;
	}
	switch (m->type) {
	case MSG_JOB_CREATE:
		client_create(d, m, &rq);
		break;
	case MSG_JOB_ATTACH:
		reply_ids(d, m, MSG_JOB_ATTACH, j->id, j->g.ntasks);
		break;
	case MSG_JOB_TASKS:
		client_tasks(d, m, j, &c);
		break;
	case MSG_JOB_WAIT:
		job_wait(d, m, j, &c);
		break;
	case MSG_JOB_READ: {
		struct gref r;
		uint64_t off;
		if (jobmsg_read_unpack(&c, &r, &off) != 0)
			actor_reply_error(d->actor, m, MIST_EPROTO);
		else
			values_read(d, m, j, r, off);
		break;
	}
	case MSG_JOB_STATUS: {
		struct buf b = BUF_INIT;
		job_status_pack(d, j, &b);
		actor_reply(d->actor, m, MSG_JOB_STATUS, b.data, (uint32_t)b.len);
		buf_destroy(&b);
		break;
	}
	case MSG_JOB_CANCEL:
	case MSG_JOB_CLOSE:
		job_cancel(d, j);
		client_wake(d, j);
		values_free_job(d, j);
		if (m->type == MSG_JOB_CLOSE) {
			client_remember(d, j);
			journal_drop(d, j);
			standby_forget(d, j);
			data_job_delete(d, j);
		}
		actor_reply(d->actor, m, m->type, NULL, 0);
		dispatch_all(d);
		break;
	case MSG_JOB_RELEASE:
		client_release(d, m, j, &c);
		break;
	case MSG_JOB_LIST:
		client_list(d, m, &rq);
		break;
	}
}
