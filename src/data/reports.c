/*
 * reports.c -- what the cluster tells the owner: a worker's TASK_DONE (an
 * attempt ended) and gossip's member events (a node came, changed, or is
 * gone).
 *
 * A TASK_DONE counts only for the current attempt of a running task, from
 * the node it was sent to (fencing, graph.h); anything else is stale and
 * ignored.  A current one whose detail is malformed fails the attempt.  A
 * success teaches the owner how long the function took on that node
 * (DATA_EWMA) and is journalled; a lost input makes the owner recompute
 * it.
 *
 * The lease: a node that owes attempts and went quiet is asked which it
 * holds (DATA_LEASE_MS says when and why).  An attempt started before
 * the question (gtask.lease below the cut) that the answer does not list
 * was lost on the way -- links deliver in order, so a TASK_RUN sent
 * before the question arrived before it, and a TASK_DONE sent before the
 * answer arrived before it -- and is placed again (graph_attempt_lost:
 * fenced, so a late report of it is ignored).  A suspected node (gossip)
 * that does not answer is lost to our jobs at once, as at a death
 * (lease_lost: an isolated owner's Lifeguard puts deaths off).
 *
 * A node dead or left: its attempts go back to READY (not counted as
 * failures, but bounded by max_losses) and the values only it held are
 * recomputed if still needed (graph_node_lost).  A node seen in a new
 * boot (its incarnation's high half grew: a restart, which may refute
 * before anyone suspects the old process) is lost the same way, at once,
 * and then alive again: the new process neither runs the old attempts nor
 * holds the old values.
 *
 * Each of these losses that cost a job something -- attempts failed
 * over, values recomputed -- is noted in the job's recoveries for
 * operators (client_recovered: JOB_STATUS "recoveries").
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What was learnt from a success: the time, on this node and for all. */
static void
learn(struct data *d, struct job *j, struct gtask *t, struct nodeinfo *ni,
      uint32_t exec_us)
{
	int reg = names_job_reg(d, j, t->fn);
	if (reg < 0)
		return;
	double ms = exec_us / 1000.0;
	struct nodefn *nf = nodes_fn(ni, (uint32_t)reg);
	double e = nf && nf->exec_ms >= 0
			   ? (1 - DATA_EWMA) * nf->exec_ms + DATA_EWMA * ms
			   : ms;
	if (nf)
		nf->exec_ms = (float)e;
	d->reg[reg].ref_exec_ms = (float)e;
	d->reg[reg].ref_speed = ni->speed;
}

void
reports_task_done(struct data *d, struct msg *m)
{
	struct jobmsg_task_done r;
	struct mp_cur c;
	if (jobmsg_task_done_unpack_head(m->body, m->len, &r, &c) != 0)
		return;
	struct job *j = data_job_find(d, r.owner, r.job);
	struct gtask *t = j ? graph_task(&j->g, r.task) : NULL;
	uint64_t node = m->from.node;
	if (t == NULL || t->state != G_RUNNING || t->node != node ||
	    t->attempt + j->g.attempt_base != r.attempt)
		return; /* stale: fenced off */
	struct nodeinfo *ni = nodes_get(d, node);
	ni->heard_ms = data_now(d);
	if (ni->inflight > 0)
		ni->inflight--;
	uint64_t sizes[JOBS_MAX_OUTPUTS];
	int rc = jobmsg_task_done_unpack_rest(&c, &r, sizes);
	if (rc == 0 && r.status == 0) {
		if (r.nout != t->nout)
			rc = MIST_EPROTO;
		for (uint32_t i = 0; rc == 0 && i < r.nfetched; i++) {
			struct gref v;
			if ((rc = jobmsg_ref_next(&c, &v)) == 0)
				graph_value_copied(&j->g, v, node);
		}
	}
	if (rc != 0) {
		log_warn("data: malformed task report from %016llx",
			 (unsigned long long)node);
		graph_failed(&j->g, r.task, r.attempt, MIST_ETASK,
			     "malformed report", true);
	} else if (r.status == 0) {
		if (graph_done(&j->g, r.task, r.attempt, node, sizes) == 0) {
			learn(d, j, t, ni, r.exec_us);
			ni->done++;
			journal_completed(j, r.task, node, sizes, r.nout);
		}
	} else if (r.status == MIST_ENOTFOUND) {
		for (uint32_t i = 0; i < r.nholders; i++) {
			struct recov_mark rm = client_recov_mark(j);
			graph_value_lost(&j->g, r.lost, r.holders[i]);
			client_recovered(d, j, rm, RECOV_VALUE, r.holders[i]);
		}
		graph_failed(&j->g, r.task, r.attempt, MIST_ENOTFOUND,
			     "an input was lost", false);
	} else {
		char err[EXEC_ERR_MAX + 64 + SWIM_NAME_MAX];
		snprintf(err, sizeof(err), "%.*s (attempt %u on %s)",
			 (int)r.error_len, r.error, t->failures + 1u,
			 ni->name[0] ? ni->name : "?");
		graph_failed(&j->g, r.task, r.attempt, MIST_ETASK, err, true);
	}
	ckpt_task_done(d, j, r.task);
	dispatch_job(d, j);
	client_wake(d, j);
}

/* ------------------------------------------------------ member events */

static void
node_lost(struct data *d, uint64_t id, enum recov_kind why)
{
	struct nodeinfo *n = map_get(&d->nodes, id);
	if (n == NULL || !n->alive)
		return;
	n->alive = false;
	n->inflight = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		struct recov_mark rm = client_recov_mark(j);
		graph_node_lost(&j->g, id);
		client_recovered(d, j, rm, why, id);
		ckpt_node_lost(d, j, id); /* its safe copies, again */
	}
	dispatch_all(d);
	it = 0;
	while (map_next(&d->jobs, &it, &k, &v))
		client_wake(d, v);
}

void
reports_member_event(struct data *d, struct msg *m)
{
	struct swim_event_view ev;
	if (swim_event_decode(m->body, m->len, &ev) != 0)
		return;
	if (ev.event == SWIM_EV_DEAD || ev.event == SWIM_EV_LEFT) {
		/* declared dead, not merely suspected: the jobs it owned
		 * that we keep replicas of are ours now (standby.c) */
		if (ev.event == SWIM_EV_DEAD)
			standby_node_dead(d, ev.node);
		node_lost(d, ev.node, RECOV_NODE);
		standby_node_lost(d, ev.node);
		return;
	}
	if (ev.event == SWIM_EV_SUSPECT) {
		struct nodeinfo *sn = map_get(&d->nodes, ev.node);
		if (sn != NULL)
			sn->suspect = true;
		return;
	}
	uint32_t boot = (uint32_t)(ev.incarnation >> 32);
	struct nodeinfo *ni = nodes_get(d, ev.node);
	bool was_suspect = ni->suspect;
	ni->suspect = false;
	bool restarted = ni->alive && boot > ni->boot;
	if (restarted) {
		log_info("data: %016llx restarted (boot %u, was %u): its "
			 "attempts and values are lost",
			 (unsigned long long)ev.node, boot, ni->boot);
		standby_node_restarted(d, ev.node);
		node_lost(d, ev.node, RECOV_RESTART);
		standby_node_lost(d, ev.node);
	}
	if (boot > ni->boot)
		ni->boot = boot;
	bool was_alive = ni->alive;
	ni->alive = true;
	if (!was_alive || restarted)
		standby_announce(d, ev.node); /* where our taken-over jobs are */
	if (ev.name_len >= sizeof(ni->name)) {
		log_warn("data: member %016llx has a name of %u bytes",
			 (unsigned long long)ev.node, ev.name_len);
		ev.name_len = sizeof(ni->name) - 1; /* shown only: kept short */
	}
	memcpy(ni->name, ev.name, ev.name_len);
	ni->name[ev.name_len] = '\0';
	if (ev.meta == NULL || ev.meta_len == 0) {
		if (was_suspect)
			dispatch_all(d); /* it takes work again */
		return; /* no metadata: nothing offered yet */
	}
	struct meta *meta = xmalloc(sizeof(*meta));
	if (meta_decode(ev.meta, ev.meta_len, meta) != 0)
		log_warn("data: malformed metadata from %016llx",
			 (unsigned long long)ev.node);
	else
		nodes_apply_meta(d, ni, meta);
	free(meta);
	dispatch_all(d);
}

/* ------------------------------------------------------------- leases */

void
reports_lease_tick(struct data *d)
{
	uint64_t now = data_now(d);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v)) {
		struct nodeinfo *n = v;
		if (!n->alive || n->inflight == 0 || n->lease_corr != 0 ||
		    now - n->heard_ms < DATA_LEASE_MS)
			continue;
		n->heard_ms = now;
		n->lease_cut = d->dispatches;
		uint8_t nil = 0xc0;
		actor_request(d->actor, (struct actor_ref){n->id, ACTOR_FUNCTION},
			      MSG_ATTEMPTS, &nil, 1, DATA_LEASE_MS,
			      &n->lease_corr);
		map_put(&d->leases, n->lease_corr, n);
	}
}

struct claim {
	uint64_t job;
	uint32_t task, attempt;
};

static int
claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	/* a worker may hold two attempts of a task (an old owner's and
	 * ours): the attempt is part of the key */
	if (x->job != y->job)
		return x->job < y->job ? -1 : 1;
	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	return x->attempt < y->attempt ? -1 : x->attempt > y->attempt;
}

/*
 * A node gossip suspects did not answer the lease: lost to this owner's
 * jobs as at a death -- its attempts placed again, the values only it
 * held recomputed if still needed -- rather than at the death itself,
 * which Lifeguard may put off for tens of seconds on an owner cut off
 * from its workers (test_partition.sh, scenario 4: 26-40 s).  Gossip
 * still counts it alive: if it was only slow, its late results are
 * fenced off by their attempt numbers, and it takes new work once the
 * suspicion is refuted.  The cost of a wrong verdict is work done twice.
 */
static void
lease_lost(struct data *d, struct nodeinfo *n)
{
	uint32_t lost = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		for (uint32_t id = 1; id <= j->g.ntasks; id++) {
			const struct gtask *t = graph_task(&j->g, id);
			lost += t->state == G_RUNNING && t->node == n->id;
		}
		struct recov_mark rm = client_recov_mark(j);
		graph_node_lost(&j->g, n->id);
		client_recovered(d, j, rm, RECOV_SUSPECT, n->id);
		ckpt_node_lost(d, j, n->id); /* its safe copies, again */
	}
	n->inflight = 0;
	log_warn("data: %s (%016llx) is suspected and did not answer: its %u "
		 "attempt%s placed again, the values only it held recomputed "
		 "if needed", n->name[0] ? n->name : "?",
		 (unsigned long long)n->id, lost, lost == 1 ? "" : "s");
	dispatch_all(d);
	it = 0;
	while (map_next(&d->jobs, &it, &k, &v))
		client_wake(d, v);
}

bool
reports_lease_reply(struct data *d, struct msg *m)
{
	struct nodeinfo *n = map_del(&d->leases, m->corr);
	if (n == NULL)
		return false;
	n->lease_corr = 0;
	n->heard_ms = data_now(d);
	bool complete;
	uint32_t count = 0;
	struct mp_cur c;
	/* no answer from a node gossip suspects: lost to our jobs now
	 * (lease_lost), not at its death.  No answer from an unsuspected
	 * node: gossip decides about it. */
	bool silent = m->status != 0 && n->alive && n->suspect;
	if (silent) {
		lease_lost(d, n);
		return true;
	}
	if (m->status != 0 || !n->alive ||
	    jobmsg_attempts_unpack(m->body, m->len, &complete, &count, &c) != 0 ||
	    !complete)
		return true;
	struct claim *cl = xmalloc((count ? count : 1) * sizeof(*cl));
	for (uint32_t i = 0; i < count; i++)
		if (jobmsg_attempt_next(&c, &cl[i].job, &cl[i].task,
					&cl[i].attempt) != 0) {
			free(cl);
			return true;
		}
	qsort(cl, count, sizeof(*cl), claim_cmp);
	uint32_t lost = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		uint32_t before = lost;
		struct recov_mark rm = client_recov_mark(j);
		for (uint32_t id = 1; id <= j->g.ntasks; id++) {
			struct gtask *t = graph_task(&j->g, id);
			if (t->state != G_RUNNING || t->node != n->id ||
			    (int32_t)(n->lease_cut - t->lease) < 0)
				continue; /* started after the question */
			uint32_t attempt = t->attempt + j->g.attempt_base;
			struct claim key = {j->id, id, attempt};
			if (bsearch(&key, cl, count, sizeof(*cl), claim_cmp))
				continue;
			if (graph_attempt_lost(&j->g, id, attempt) == 0) {
				lost++;
				if (n->inflight > 0)
					n->inflight--;
			}
		}
		if (lost > before) {
			client_recovered(d, j, rm, RECOV_LEASE, n->id);
			dispatch_job(d, j);
			client_wake(d, j);
		}
	}
	if (lost > 0)
		log_warn("data: %u attempt%s on %s (%016llx) never arrived: "
			 "placed again", lost, lost == 1 ? "" : "s",
			 n->name[0] ? n->name : "?", (unsigned long long)n->id);
	free(cl);
	return true;
}
