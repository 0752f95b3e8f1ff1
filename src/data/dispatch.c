/*
 * dispatch.c -- placing a job's ready tasks: every live node that offers
 * the function is a candidate, place_choose() (place.h) picks one, and
 * the attempt goes to that node's function actor as a TASK_RUN.
 *
 * A task no candidate can take now (all at their backpressure limit)
 * goes back to the front of the ready queue and waits for a result to
 * free a slot.  A task no live node may run fails -- ENOFUNC if no member
 * ever offered the function, once the start-up grace is over
 * (DATA_STARTUP_GRACE_MS: gossip may not have told us yet); ENONODE if
 * members offered it but none alive has for DATA_NONODE_WAIT_MS (nodes
 * come back: a restart, a healed partition).
 *
 * The candidate arrays are the actor's scratch, grown to the node table:
 * every node is considered, however many there are.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A task that cannot be placed now -- its function unknown during the
 * start-up grace, or every node offering it at its in-flight limit -- is
 * held aside and the tasks behind it are tried, so that one blocked
 * function does not hold up the rest of its job (head-of-line blocking).
 * At most this many are held per pass, then the pass ends: a queue of a
 * hundred thousand tasks of one saturated function costs each pass 64
 * placement attempts, not a hundred thousand.  64 covers every distinct
 * function a job is likely to be blocked on at once.
 */
#define DISPATCH_LOOKAHEAD 64

/* Within one pass nothing frees a slot, so a function found blocked stays
 * so: its other tasks are held without placing them again. */
static bool
fn_is_blocked(const uint32_t *blocked, uint32_t n, uint32_t fn)
{
	for (uint32_t i = 0; i < n; i++)
		if (blocked[i] == fn)
			return true;
	return false;
}

static void
send_run(struct data *d, struct job *j, uint32_t id, uint32_t attempt,
	 uint64_t node)
{
	struct gtask *t = graph_task(&j->g, id);
	const struct jobfn *fn = &j->fns[t->fn];
	struct jobmsg_task_run r = {
		.owner = j->origin, .job = j->id, .task = id,
		.attempt = attempt, .fn = fn->name,
		.fn_len = (uint32_t)strlen(fn->name), .args = t->args,
		.args_len = t->alen, .nout = t->nout, .nin = t->nin};
	struct buf b = BUF_INIT;
	jobmsg_task_run_pack(&b, &r);
	for (uint32_t i = 0; i < t->nin; i++) {
		struct gvalue *v = graph_value(&j->g, t->in[i]);
		jobmsg_task_run_pack_input(&b, t->in[i], v->size, v->holders,
					   v->nholders);
	}
	struct actor_ref to = {node, ACTOR_FUNCTION};
	actor_tell(d->actor, to, MSG_TASK_RUN, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* Room for a candidate per known node. */
static void
cand_reserve(struct data *d)
{
	if (d->capcand >= d->nodes.len)
		return;
	d->capcand = (uint32_t)d->nodes.len * 2;
	d->cand = xrealloc(d->cand, d->capcand * sizeof(*d->cand));
	d->cinfo = xrealloc(d->cinfo, d->capcand * sizeof(*d->cinfo));
}

void
dispatch_destroy(struct data *d)
{
	free(d->cand);
	free(d->cinfo);
}

/* The live nodes gossip does not suspect offering registry function
 * @a reg, for task @a t. */
static int
candidates(struct data *d, struct job *j, const struct gtask *t, int reg)
{
	int nc = 0;
	size_t it = 0;
	uint64_t k;
	void *val;
	while (reg >= 0 && map_next(&d->nodes, &it, &k, &val)) {
		struct nodeinfo *n = val;
		struct nodefn *nf;
		if (!n->alive || n->suspect ||
		    (nf = nodes_fn(n, (uint32_t)reg)) == NULL)
			continue;
		struct place_node *c = &d->cand[nc];
		*c = (struct place_node){n->id, n->tier, n->cores, n->speed,
					 n->power, n->price, n->inflight,
					 n->cores * d->cfg.per_core_inflight,
					 nf->exec_ms, 0, 0};
		for (uint32_t i = 0; i < t->nin; i++) {
			struct gvalue *v = graph_value(&j->g, t->in[i]);
			bool here = false;
			for (uint32_t h = 0; h < v->nholders; h++)
				here |= v->holders[h] == n->id;
			if (here)
				c->local_bytes += v->size;
			else
				c->missing_bytes += v->size;
		}
		d->cinfo[nc++] = n;
	}
	return nc;
}

/* A live node gossip suspects offers registry function @a reg within the
 * job's tiers: it may be refuted, so the task waits for it without the
 * DATA_NONODE_WAIT_MS clock running (that starts at the death). */
static bool
suspect_offers(struct data *d, const struct job *j, int reg)
{
	size_t it = 0;
	uint64_t k;
	void *val;
	while (reg >= 0 && map_next(&d->nodes, &it, &k, &val)) {
		const struct nodeinfo *n = val;
		if (n->alive && n->suspect && (j->pol.tiers & (uint32_t)n->tier) &&
		    nodes_fn(n, (uint32_t)reg) != NULL)
			return true;
	}
	return false;
}

/* Some live node is below its in-flight limit (for any function). */
static bool
any_node_has_room(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *val;
	while (map_next(&d->nodes, &it, &k, &val)) {
		const struct nodeinfo *n = val;
		if (n->alive && !n->suspect && n->nfns > 0 &&
		    n->inflight < n->cores * d->cfg.per_core_inflight)
			return true;
	}
	return false;
}

/* Places ready tasks until none is left or every candidate is full. */
void
dispatch_job(struct data *d, struct job *j)
{
	cand_reserve(d);
	/* tasks that cannot go now (see DISPATCH_LOOKAHEAD), in queue order */
	uint32_t held[DISPATCH_LOOKAHEAD];
	uint32_t blocked[DISPATCH_LOOKAHEAD]; /* the job's functions found so */
	uint32_t nheld = 0, nblocked = 0, id;
	while (nheld < DISPATCH_LOOKAHEAD && (id = graph_pop_ready(&j->g)) != 0) {
		struct gtask *t = graph_task(&j->g, id);
		if (fn_is_blocked(blocked, nblocked, t->fn)) {
			held[nheld++] = id; /* nothing changed since its peer */
			continue;
		}
		int reg = names_job_reg(d, j, t->fn);
		int nc = candidates(d, j, t, reg);
		bool tier_ok = false;
		for (int i = 0; i < nc; i++)
			tier_ok |= (j->pol.tiers & (uint32_t)d->cand[i].tier) != 0;
		struct jobfn *jf = &j->fns[t->fn];
		/* only suspected nodes offer it: it waits for them, the clock
		 * stopped (it starts when they are dead) */
		bool away = !tier_ok && suspect_offers(d, j, reg);
		if (tier_ok || away)
			jf->nonode_since = 0;
		if (!tier_ok) {
			uint64_t now = data_now(d);
			if (reg >= 0 && jf->nonode_since == 0 && !away)
				jf->nonode_since = now;
			if (away || now - d->started < DATA_STARTUP_GRACE_MS ||
			    (reg >= 0 &&
			     now - jf->nonode_since < DATA_NONODE_WAIT_MS)) {
				/* gossip may not have told us yet, or the
				 * nodes that offer it may come back */
				held[nheld++] = id;
				blocked[nblocked++] = t->fn;
				continue;
			}
			char why[64 + EXEC_NAME_MAX];
			snprintf(why, sizeof(why), "%s '%s'",
				 reg >= 0 ? "no live node allowed by the job offers"
					  : "unknown function",
				 j->fns[t->fn].name);
			graph_fail_ready(&j->g, id, reg >= 0 ? MIST_ENONODE
							     : MIST_ENOFUNC, why);
			continue;
		}
		struct fnreg *f = &d->reg[reg];
		int pick = place_choose(&j->pol, d->cand, nc, f->ref_exec_ms,
					f->ref_speed, d->cfg.default_exec_ms,
					d->cfg.bytes_per_ms, NULL);
		if (pick < 0) {
			held[nheld++] = id; /* every candidate is full: wait */
			blocked[nblocked++] = t->fn;
			if (!any_node_has_room(d))
				break; /* nothing else can go either */
			continue;
		}
		uint32_t attempt = graph_start(&j->g, id, d->cand[pick].id);
		t->lease = ++d->dispatches;
		d->cinfo[pick]->inflight++;
		send_run(d, j, id, attempt, d->cand[pick].id);
	}
	/* back at the head, in their order: they go first when they can */
	while (nheld > 0)
		graph_unpop(&j->g, held[--nheld]);
}

void
dispatch_all(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		if (j->g.rlen > 0) {
			dispatch_job(d, j);
			client_wake(d, j);
		}
	}
}
