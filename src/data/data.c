/*
 * data.c -- ACTOR_DATA, the data manager (data.h): the actor itself --
 * spawn, the message switch, the tick, stop -- and the life of a job.
 * The rest of the actor is split by job (data_int.h lists the files).
 *
 * A job belongs to the agent whose gateway accepted it -- until gossip
 * declares that agent dead and the job's standby takes it over
 * (standby.c).  A job is named by its first owner and its id there, for
 * life: ids are (boot count << 32 | sequence), so an owner that restarts
 * never reuses one, and two owners' ids may be equal (the name has both).
 * Attempt numbers carry the job's epoch (the owner's boot count, or more
 * after a takeover) in their high 16 bits: results of attempts started
 * before a restart or a takeover are stale by construction.
 *
 * Backpressure: at most cores x per_core_inflight attempts of this owner
 * are queued or running on a node; ready tasks beyond that wait here.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
data_config_default(struct data_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* three tries: a transient fault (a node's memory pressure, a
	 * flaky dependency) passes, a bug in the function fails fast */
	cfg->max_failures = 3;
	/* losses are not the task's fault, but a task that kills or loses
	 * every node it lands on must stop some time: eight nodes */
	cfg->max_losses = 8;
	/* a few tasks per core queued ahead keeps executors fed through a
	 * round trip; more only lengthens queues we might have to move */
	cfg->per_core_inflight = 32;
	cfg->bytes_per_ms = 100e3; /* 100 MB/s until measured */
	/* before anything is learnt a task is assumed short: the first ones
	 * go to the fastest free node, then the measurements take over */
	cfg->default_exec_ms = 1.0;
	/* a client's read is a local or LAN round trip per 256 KiB chunk;
	 * 10 s without an answer means the holder is gone */
	cfg->fetch_timeout_ms = 10000;
	/* an hour for a client to come back for a finished job's values */
	cfg->retain_ms = 3600 * 1000;
	/* ~100 bytes of bookkeeping per task plus its arguments: 4 M tasks
	 * is a few hundred MiB at the owner, the most one job may take */
	cfg->max_tasks = 4u << 20;
}

/* ---------------------------------------------------------- helpers */

uint64_t
data_now(const struct data *d)
{
	return actor_sys_now(d->actor->sys);
}

uint64_t
data_self(const struct data *d)
{
	return d->actor->sys->node;
}

/* What replying later needs of a request, without its body. */
struct msg *
data_req_copy(const struct msg *m)
{
	struct msg *r = msg_new(m->type, NULL, 0);
	r->flags = m->flags;
	r->from = m->from;
	r->corr = m->corr;
	return r;
}

/* ------------------------------------------------------------- jobs */

uint64_t
data_job_key(uint64_t origin, uint64_t id)
{
	return id ^ (origin * 0x9e3779b97f4a7c15ull);
}

struct job *
data_job_find(struct data *d, uint64_t origin, uint64_t id)
{
	struct job *j = map_get(&d->jobs, data_job_key(origin, id));
	return j && j->origin == origin && j->id == id ? j : NULL;
}

struct job *
data_job_new(struct data *d, uint64_t origin, uint64_t id, uint64_t cred,
	     uint32_t epoch)
{
	uint64_t key = data_job_key(origin, id);
	if (map_get(&d->jobs, key) != NULL) {
		log_error("data: job %016llx of %016llx has the key of another "
			  "job: not kept", (unsigned long long)id,
			  (unsigned long long)origin);
		return NULL;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->origin = origin;
	j->id = id;
	j->key = key;
	j->cred = cred;
	j->d = d;
	j->pol = (struct place_policy){1, 0, 0, TIER_ANY};
	graph_init(&j->g, d->cfg.max_failures, d->cfg.max_losses);
	j->epoch = epoch & JOBS_MAX_EPOCH;
	j->g.attempt_base = j->epoch << 16;
	j->g.on_free = values_free_cb;
	j->g.ctx = j;
	j->g.clock = client_clock; /* the ages JOB_STATUS shows */
	j->touched = data_now(d);
	map_put(&d->jobs, key, j);
	return j;
}

void
data_job_delete(struct data *d, struct job *j)
{
	map_del(&d->jobs, j->key);
	standby_unpark_all(d, j, MIST_ECLOSED);
	free(j->parked);
	buf_destroy(&j->recs);
	graph_destroy(&j->g);
	ckpt_job_destroy(j);
	buf_destroy(&j->dlog);
	for (uint32_t i = 0; i < j->nwaiters; i++)
		msg_delete(j->waiters[i].req);
	free(j->waiters);
	free(j->fns);
	free(j);
}

/* ------------------------------------------------------------ the actor */

static void
data_tick(struct data *d)
{
	uint64_t now = data_now(d);
	size_t it = 0;
	uint64_t k;
	void *v;
	struct job *expired = NULL;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		journal_flush(j);
		ckpt_tick(d, j);
		client_expire_waiters(j, now);
		if (graph_finished(&j->g) && now - j->touched > d->cfg.retain_ms)
			expired = j;
	}
	if (expired) {
		log_info("dropping job %016llx: finished and idle",
			 (unsigned long long)expired->id);
		client_remember(d, expired);
		values_free_job(d, expired);
		journal_drop(d, expired);
		standby_forget(d, expired);
		data_job_delete(d, expired);
	}
	reports_lease_tick(d);
	standby_tick(d);
	dispatch_all(d);
}

/* MSG_EXEC_FUNCTIONS: what this node's executors offer. */
static void
data_functions(struct data *d, struct msg *m)
{
	const char *names[EXEC_MAX_FUNCTIONS];
	uint32_t lens[EXEC_MAX_FUNCTIONS], n;
	struct mp_cur c;
	if (!(m->flags & MSG_F_LOCAL) ||
	    jobmsg_functions_unpack(m->body, m->len, &n, &c) != 0)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (jobmsg_functions_next(&c, &names[i], &lens[i]) != 0)
			return;
	nodes_set_fns(d, nodes_get(d, data_self(d)), names, lens, n);
	dispatch_all(d);
}

static void
data_stop(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v))
		journal_flush(v);
	while (d->jobs.len) {
		it = 0;
		map_next(&d->jobs, &it, &k, &v);
		data_job_delete(d, v);
	}
	nodes_free(d);
	values_relays_free(d);
	client_history_prune(d, true);
	map_destroy(&d->leases);
	ckpt_destroy(d);
	standby_destroy(d);
	names_destroy(d);
	dispatch_destroy(d);
	map_destroy(&d->jobs);
	free(d);
}

static void
data_fn(struct actor *self, struct msg *m)
{
	struct data *d = self->state;
	if (m->flags & MSG_F_REPLY) {
		if (!reports_lease_reply(d, m) && !standby_ack(d, m) &&
		    !ckpt_reply(d, m))
			values_relay_reply(d, m);
		return;
	}
	switch (m->type) {
	case MSG_STOP:
		actor_timer_stop(self, &d->tick);
		data_stop(d);
		self->state = NULL;
		return;
	case MSG_TIMER:
		data_tick(d);
		return;
	case MSG_MEMBER_EVENT:
		reports_member_event(d, m);
		return;
	case MSG_TASK_DONE:
		reports_task_done(d, m);
		return;
	case MSG_EXEC_FUNCTIONS:
		data_functions(d, m);
		return;
	case MSG_JOB_REPLICA:
		standby_keep(d, m);
		return;
	case MSG_JOB_MOVED:
		standby_moved(d, m);
		return;
	default:
		if (msgtype_is_client_job(m->type))
			client_request(d, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

int
data_spawn(struct actor_sys *sys, const struct data_config *cfg,
	   struct store *store, uint64_t boot, const char *name,
	   const struct meta *self)
{
	struct data *d = xcalloc(1, sizeof(*d));
	d->cfg = *cfg;
	d->store = store;
	d->boot = boot;
	map_init(&d->nodes, 3);
	map_init(&d->jobs, 4);
	map_init(&d->relays, 5);
	map_init(&d->reg_index, 6);
	map_init(&d->leases, 7);
	map_init(&d->racks, 8);
	map_init(&d->replicas, 9);
	map_init(&d->copies, 10);
	d->actor = actor_spawn(sys, ACTOR_DATA, "data", data_fn, d);
	if (d->actor == NULL) {
		map_destroy(&d->nodes);
		map_destroy(&d->jobs);
		map_destroy(&d->relays);
		map_destroy(&d->reg_index);
		map_destroy(&d->leases);
		map_destroy(&d->racks);
		map_destroy(&d->replicas);
		map_destroy(&d->copies);
		free(d);
		return MIST_EEXIST;
	}
	d->started = data_now(d);
	struct nodeinfo *me = nodes_get(d, sys->node);
	me->alive = true;
	snprintf(me->name, sizeof(me->name), "%s", name);
	nodes_apply_meta(d, me, self);
	struct actor_ref swim = {sys->node, ACTOR_SWIM};
	actor_tell(d->actor, swim, MSG_SWIM_SUBSCRIBE, NULL, 0);
	actor_timer_start(d->actor, &d->tick, DATA_TICK_MS, DATA_TICK_MS, 1);
	journal_replay(d);
	standby_load(d);
	return 0;
}

void
data_functions_post(struct actor_sys *sys, const char *const *names,
		    uint32_t n)
{
	struct buf b = BUF_INIT;
	jobmsg_functions_pack(&b, names, n);
	struct msg *m = actor_local_msg(sys, ACTOR_DATA, MSG_EXEC_FUNCTIONS,
					b.data, (uint32_t)b.len);
	buf_destroy(&b);
	actor_sys_deliver(sys, m);
}
