/*
 * standby.c -- a job outlives its owner (docs/PROTOCOL.md 6.9).
 *
 * The owner's side.  Each job has a standby: another member, chosen by
 * standby_pick() (another tier than the owner's preferred, then the
 * member that stands by for the fewest of our jobs, then the lowest id).
 * Every record of the job's journal (journal.c: the create, each batch,
 * completions, the cancel) is kept in the job's memory (j->recs) and sent
 * to the standby as a JOB_REPLICA request numbered rseq = 1, 2, ...; the
 * client's reply to a create or a batch is parked until the standby has
 * acknowledged every record sent so far (links deliver in order, and the
 * standby answers in order, so "rseq n acknowledged" is "1..n kept").
 *
 *   client            owner                      standby
 *     |--JOB_TASKS----->|                           |
 *     |                 |--JOB_REPLICA 'B' rseq n-->|  kept (memory)
 *     |                 |<--------- nil ------------|
 *     |<--[job, tasks]--|                           |
 *
 * If the standby fails a record (no answer within DATA_REPLICA_TIMEOUT_MS,
 * an error) or gossip loses it (dead, left, restarted), another is
 * picked and shipped the whole journal, record by record ('A' first,
 * which starts its replica anew); the parked replies then wait for the
 * new standby.  With no other member alive the job has no standby: its
 * replies go at once (a one-node cluster has nobody to keep a replica),
 * and the tick gives it one as soon as a member can be.
 *
 * The standby's side.  A replica is the records of one job as its owner
 * sent them, with the owner's epoch and node.  A record of a lower epoch
 * than the replica's is refused (MIST_EPERM): the sender is a fenced old
 * owner, and drops the job (its clients are answered ENOTFOUND: the job
 * is not here any more).  When gossip declares an owner DEAD -- not on
 * suspicion -- the standby takes over each job whose replica that owner
 * was sending: it replays the records as journal_replay does at a start
 * (the dead node's values are lost: its completions are not replayed, so
 * lineage recomputes what is still needed; values on live workers stay),
 * at the replica's epoch + 1, so that workers refuse the old owner's
 * TASK_RUNs and this owner ignores its attempts (function/function.c,
 * graph.h's fencing); then picks its own standby and ships it the
 * journal.  The job keeps its name (first owner, id): clients reach it
 * through any gateway at its new owner (docs/PROTOCOL.md 6.9 says how).
 *
 * Attempts the old owner had running are not adopted: the replica has
 * no running state, so those tasks are ready again and placed anew, and
 * their old attempts' reports go to the dead owner (the worker reports to
 * the node that sent the TASK_RUN).  Exactly one result per task is
 * accepted by each owner; a task whose completion the old owner had
 * accepted but not yet journalled (a tick, DATA_TICK_MS) runs again --
 * harmless, functions are deterministic.
 *
 * The owner's forget ('X') is one-way, and lost with a link that breaks;
 * so a replica quiet for DATA_REPLICA_QUIET_MS asks its owner ('Q',
 * ask_quiet) whether this node still stands by for the job, and drops it
 * on "no" -- a stale replica would otherwise be taken over at the owner's
 * death, and a job closed long before run again.
 *
 * Replicas live in memory and in the standby's LMDB table "jobs" (the
 * journal's), under keys of their own:
 *
 *   'R' (1) + origin (8) + job (8) + rseq (4, big-endian)
 *       -> [owner u64, epoch u32, kind u8, seq u32 (big-endian), bytes]
 *
 * (21 bytes: the journal's keys are 13, and each side skips the other's),
 * so that a standby restarted from its data directory still holds them:
 * its owners ship again all the same (a new boot loses the standby for
 * them), but an owner that died meanwhile is taken over from the disk.
 * A record is acknowledged once it is queued for the disk (a crash of the
 * standby within the write loses it, as a crash of the owner within a
 * tick loses completions: what was not kept is recomputed).  An owner
 * that is not alive a start-up grace after the standby started (it died
 * while the standby was down, or left) is taken over as if declared dead.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* A record in flight to a standby: which job, which record, to whom. */
struct rack {
	uint64_t key; /* the job's key */
	uint64_t origin, id;
	uint64_t standby; /* for a query: the owner asked */
	uint32_t rseq;
	bool query; /* a standby's 'Q' to the owner, not a record */
};

/* The standby's copy of another owner's job. */
struct replica {
	uint64_t origin, id;
	uint64_t owner; /* the node sending it (the job's owner now) */
	uint32_t epoch;
	uint32_t rseq; /* the last record kept */
	uint32_t complete_at; /* records its ship has ('A''s seq) */
	uint64_t heard;	      /* data_now() of its last record or question */
	struct buf recs; /* journal_rec_append's framing */
};

/* 'R' + origin + job + rseq */
#define REPLICA_KEY_LEN 21
#define REPLICA_KEY_PREFIX 17

static void
replica_key(uint8_t k[REPLICA_KEY_LEN], uint64_t origin, uint64_t id,
	    uint32_t rseq)
{
	k[0] = 'R';
	for (int i = 0; i < 8; i++) {
		k[1 + i] = (uint8_t)(origin >> (56 - 8 * i));
		k[9 + i] = (uint8_t)(id >> (56 - 8 * i));
	}
	buf_put_u32be(k + 17, rseq);
}

/* Every record of replica (@a origin, @a id) off the disk. */
static void
replica_unstore(struct data *d, uint64_t origin, uint64_t id)
{
	if (d->store == NULL)
		return;
	uint8_t k[REPLICA_KEY_LEN];
	replica_key(k, origin, id, 0);
	struct store_write w = {STORE_W_DEL_PREFIX, STORE_JOBS, k,
				REPLICA_KEY_PREFIX, NULL, 0};
	store_write(d->store, &w, 1, NULL, NULL);
}

static void
replica_store(struct data *d, const struct replica *r,
	      const struct jobmsg_replica *rr)
{
	if (d->store == NULL)
		return;
	uint8_t k[REPLICA_KEY_LEN];
	replica_key(k, r->origin, r->id, rr->rseq);
	struct buf v = BUF_INIT;
	uint8_t h[8 + 4 + 1 + 4];
	for (int i = 0; i < 8; i++)
		h[i] = (uint8_t)(r->owner >> (56 - 8 * i));
	buf_put_u32be(h + 8, r->epoch);
	h[12] = (uint8_t)rr->kind;
	buf_put_u32be(h + 13, rr->seq);
	buf_append(&v, h, sizeof(h));
	buf_append(&v, rr->val, rr->len);
	store_put(d->store, STORE_JOBS, k, sizeof(k), v.data, v.len, NULL,
		  NULL);
	buf_destroy(&v);
}

/* ------------------------------------------------------ the owner's side */

static void take_orphans(struct data *d);

static uint32_t
standby_count(struct data *d, uint64_t node)
{
	uint32_t n = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v))
		n += ((struct job *)v)->standby == node;
	return n;
}

/* The member to stand by for job @a j of ours, not @a avoid nor the
 * job's previous standby (it keeps a complete replica until the new one
 * has one: choosing it would start its replica anew); 0: none. */
static uint64_t
standby_pick(struct data *d, const struct job *j, uint64_t avoid)
{
	uint64_t self = data_self(d), best = 0;
	struct nodeinfo *me = nodes_get(d, self);
	bool best_other_tier = false;
	uint32_t best_load = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v)) {
		struct nodeinfo *n = v;
		if (!n->alive || n->id == self || n->id == avoid ||
		    n->id == j->prev_standby ||
		    n->standby_bad_until > data_now(d))
			continue;
		bool other_tier = n->tier != me->tier;
		uint32_t load = standby_count(d, n->id);
		bool better = best == 0 ||
			      (other_tier != best_other_tier ? other_tier
			       : load != best_load	   ? load < best_load
							   : n->id < best);
		if (better) {
			best = n->id;
			best_other_tier = other_tier;
			best_load = load;
		}
	}
	return best;
}

void
standby_send(struct data *d, struct job *j, char kind, uint32_t seq,
	     const void *val, size_t len)
{
	if (j->standby == 0)
		return;
	struct jobmsg_replica r = {j->origin, j->id, j->epoch, ++j->rsent,
				   kind, seq, val, (uint32_t)len};
	if (kind != 'C' && kind != 'E' && kind != 'F')
		j->key_rseq = r.rseq; /* what a client may have been told */
	struct buf b = BUF_INIT;
	jobmsg_replica_pack(&b, &r);
	struct rack *a = xmalloc(sizeof(*a));
	*a = (struct rack){j->key, j->origin, j->id, j->standby, r.rseq, false};
	uint64_t corr;
	actor_request(d->actor, (struct actor_ref){j->standby, ACTOR_DATA},
		      MSG_JOB_REPLICA, b.data, (uint32_t)b.len,
		      DATA_REPLICA_TIMEOUT_MS, &corr);
	map_put(&d->racks, corr, a);
	buf_destroy(&b);
}

/* Sends every record of @a j to its (new) standby, the create first
 * (its seq: how many records the ship has). */
static void
standby_ship(struct data *d, struct job *j)
{
	const uint8_t *p = j->recs.data, *end = p + j->recs.len;
	uint32_t n = 0;
	for (const uint8_t *q = p; q + 9 <= end; q += 9 + buf_get_u32be(q + 5))
		n++;
	while (p + 9 <= end) {
		uint32_t seq = buf_get_u32be(p + 1), len = buf_get_u32be(p + 5);
		standby_send(d, j, (char)p[0], p[0] == 'A' ? n : seq, p + 9,
			     len);
		p += 9 + len;
	}
	j->ship_n = j->rsent;
}

/* Tells @a node to forget its replica of @a j (one-way). */
static void
forget_at(struct data *d, struct job *j, uint64_t node)
{
	struct jobmsg_replica r = {j->origin, j->id, j->epoch, 0, 'X', 0,
				   NULL, 0};
	struct buf b = BUF_INIT;
	jobmsg_replica_pack(&b, &r);
	actor_tell(d->actor, (struct actor_ref){node, ACTOR_DATA},
		   MSG_JOB_REPLICA, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* @a j's standby is @a node now (0: none), shipped everything. */
static void
standby_set(struct data *d, struct job *j, uint64_t node)
{
	uint64_t old = j->standby;
	/* a standby replaced forgets its replica -- but one that had every
	 * record keeps it until the new one has them all (prev_standby): a
	 * death of ours meanwhile leaves a complete replica somewhere */
	if (old != 0 && old != node) {
		/* it holds the whole ship and every create, batch and cancel
		 * since: all a client was told (completions it may lack are
		 * recomputed) */
		if (j->rsent > 0 && j->racked >= j->ship_n &&
		    j->racked >= j->key_rseq) {
			if (j->prev_standby != 0 && j->prev_standby != node)
				forget_at(d, j, j->prev_standby);
			j->prev_standby = old;
		} else {
			forget_at(d, j, old);
		}
	}
	if (j->prev_standby == node)
		j->prev_standby = 0; /* chosen again: the ship starts it anew */
	j->standby = node;
	/* a record of the old standby's still in flight is ignored (its
	 * rack names the old standby); the parked replies wait for the new
	 * one to have everything */
	j->rsent = j->racked = j->key_rseq = 0;
	if (node == 0) {
		/* alone: the replies go (nobody could keep a replica); else
		 * the members failed us lately: the replies wait for the tick
		 * to find one */
		bool alone = true;
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&d->nodes, &it, &k, &v))
			alone &= !((struct nodeinfo *)v)->alive ||
				 k == data_self(d);
		if (old != 0)
			log_warn("data: job %016llx has no standby now: %s",
				 (unsigned long long)j->id,
				 alone ? "no other member is alive"
				       : "every other member failed it lately");
		if (alone)
			standby_unpark_all(d, j, 0);
		return;
	}
	log_info("data: job %016llx: standby %016llx%s",
		 (unsigned long long)j->id, (unsigned long long)node,
		 old ? " (replacing a lost one)" : "");
	standby_ship(d, j);
	for (uint32_t i = 0; i < j->nparked; i++)
		j->parked[i].rseq = j->rsent;
}

/* Answers the parked replies whose record the standby has. */
static void
standby_unpark(struct data *d, struct job *j)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < j->nparked; i++) {
		struct parked *p = &j->parked[i];
		if (j->standby != 0 && p->rseq > j->racked) {
			j->parked[keep++] = *p;
			continue;
		}
		actor_reply(d->actor, p->req, p->type, p->body.data,
			    (uint32_t)p->body.len);
		msg_delete(p->req);
		buf_destroy(&p->body);
	}
	j->nparked = keep;
}

void
standby_unpark_all(struct data *d, struct job *j, int status)
{
	for (uint32_t i = 0; i < j->nparked; i++) {
		struct parked *p = &j->parked[i];
		if (status == 0)
			actor_reply(d->actor, p->req, p->type, p->body.data,
				    (uint32_t)p->body.len);
		else
			actor_reply_error(d->actor, p->req, status);
		msg_delete(p->req);
		buf_destroy(&p->body);
	}
	j->nparked = 0;
}

void
standby_reply(struct data *d, struct job *j, struct msg *m, uint32_t type,
	      const void *body, size_t len)
{
	if (j->standby == 0) {
		uint64_t s = standby_pick(d, j, 0);
		if (s != 0)
			standby_set(d, j, s);
	}
	if (j->standby == 0 || j->racked >= j->rsent) {
		actor_reply(d->actor, m, type, body, (uint32_t)len);
		return;
	}
	if (j->nparked == j->capparked) {
		j->capparked = j->capparked ? 2 * j->capparked : 4;
		j->parked = xrealloc(j->parked, j->capparked * sizeof(*j->parked));
	}
	struct parked *p = &j->parked[j->nparked++];
	p->req = data_req_copy(m);
	p->type = type;
	p->rseq = j->rsent;
	p->body = (struct buf)BUF_INIT;
	buf_append(&p->body, body, len);
}

/*
 * The old owner of @a j was fenced: another node took the job over (we
 * were declared dead, then came back: a restart from our journal, or a
 * healed partition).  The job is dropped here, its journal too; what
 * waits here is answered MIST_EUNREACHABLE -- "the owner is not here",
 * which libmist retries, and the gateways send it to the new owner.
 */
static void
standby_fenced(struct data *d, struct job *j, const char *how)
{
	log_warn("data: job %016llx was taken over by another node (%s): "
		 "dropped here", (unsigned long long)j->id, how);
	standby_unpark_all(d, j, MIST_EUNREACHABLE);
	for (uint32_t i = 0; i < j->nwaiters; i++)
		actor_reply_error(d->actor, j->waiters[i].req,
				  MIST_EUNREACHABLE);
	client_remember(d, j);
	journal_drop(d, j);
	standby_forget(d, j);
	if (d->nfenced == DATA_MAX_FENCED) { /* the oldest goes */
		d->fenced_head = (d->fenced_head + 1) % DATA_MAX_FENCED;
		d->nfenced--;
	}
	uint32_t at = (d->fenced_head + d->nfenced++) % DATA_MAX_FENCED;
	d->fenced[at].origin = j->origin;
	d->fenced[at].id = j->id;
	data_job_delete(d, j);
}

bool
standby_was_fenced(const struct data *d, uint64_t origin, uint64_t id)
{
	for (uint32_t i = 0; i < d->nfenced; i++) {
		uint32_t at = (d->fenced_head + i) % DATA_MAX_FENCED;
		if (d->fenced[at].origin == origin && d->fenced[at].id == id)
			return true;
	}
	return false;
}

void
standby_moved(struct data *d, struct msg *m)
{
	uint64_t origin, id, owner;
	if (jobmsg_moved_unpack(m->body, m->len, &origin, &id, &owner) != 0 ||
	    owner != m->from.node || owner == data_self(d))
		return;
	struct job *j = data_job_find(d, origin, id);
	if (j != NULL)
		standby_fenced(d, j, "its new owner said so");
}

static struct replica *replica_find(struct data *d, uint64_t origin,
				    uint64_t id);
static void replica_free(struct data *d, struct replica *r);

bool
standby_ack(struct data *d, struct msg *m)
{
	struct rack *a = map_del(&d->racks, m->corr);
	if (a == NULL)
		return false;
	if (a->query) {
		struct replica *r = replica_find(d, a->origin, a->id);
		if (r != NULL && r->owner == a->standby &&
		    m->status == MIST_ENOTFOUND) {
			log_info("data: job %016llx of %016llx: no longer its "
				 "standby (its owner said so): replica dropped",
				 (unsigned long long)r->id,
				 (unsigned long long)r->origin);
			replica_free(d, r);
		}
		free(a);
		return true;
	}
	struct job *j = map_get(&d->jobs, a->key);
	if (j == NULL || j->origin != a->origin || j->id != a->id ||
	    j->standby != a->standby || a->rseq > j->rsent) {
		free(a); /* the job went, or changed standby meanwhile */
		return true;
	}
	if (m->status == 0) {
		if (a->rseq > j->racked)
			j->racked = a->rseq;
		if (j->prev_standby != 0 && j->racked >= j->ship_n) {
			forget_at(d, j, j->prev_standby); /* the new one has all */
			j->prev_standby = 0;
		}
		standby_unpark(d, j);
	} else if (m->status == MIST_EPERM) {
		standby_fenced(d, j, "its standby refused our epoch");
	} else {
		/* not chosen again for a while: a node whose link is down
		 * fails at once, and two such would be swapped endlessly */
		struct nodeinfo *bad = map_get(&d->nodes, a->standby);
		if (bad != NULL)
			bad->standby_bad_until = data_now(d) +
						 DATA_REPLICA_TIMEOUT_MS;
		log_warn("data: standby %016llx of job %016llx failed a record "
			 "(%s): picking another", (unsigned long long)a->standby,
			 (unsigned long long)j->id, mist_strerror(m->status));
		standby_set(d, j, standby_pick(d, j, a->standby));
	}
	free(a);
	return true;
}

void
standby_node_lost(struct data *d, uint64_t node)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	struct job **lost = NULL;
	uint32_t n = 0, cap = 0;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		if (j->standby != node)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			lost = xrealloc(lost, cap * sizeof(*lost));
		}
		lost[n++] = j;
	}
	for (uint32_t i = 0; i < n; i++)
		standby_set(d, lost[i], standby_pick(d, lost[i], node));
	free(lost);
}

/* Asks the owner of each replica quiet for DATA_REPLICA_QUIET_MS whether
 * this node still stands by for the job (its 'X' may have been lost). */
static void
ask_quiet(struct data *d)
{
	uint64_t now = data_now(d);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->replicas, &it, &k, &v)) {
		struct replica *r = v;
		struct nodeinfo *n = map_get(&d->nodes, r->owner);
		if (now - r->heard < DATA_REPLICA_QUIET_MS || n == NULL ||
		    !n->alive)
			continue;
		r->heard = now;
		struct jobmsg_replica q = {r->origin, r->id, r->epoch, 0, 'Q',
					   0, NULL, 0};
		struct buf b = BUF_INIT;
		jobmsg_replica_pack(&b, &q);
		struct rack *a = xcalloc(1, sizeof(*a));
		*a = (struct rack){k, r->origin, r->id, r->owner, 0, true};
		uint64_t corr;
		actor_request(d->actor, (struct actor_ref){r->owner, ACTOR_DATA},
			      MSG_JOB_REPLICA, b.data, (uint32_t)b.len,
			      DATA_REPLICA_TIMEOUT_MS, &corr);
		map_put(&d->racks, corr, a);
		buf_destroy(&b);
	}
}

void
standby_tick(struct data *d)
{
	take_orphans(d);
	ask_quiet(d);
	if (data_now(d) - d->announced >= DATA_ANNOUNCE_MS) {
		d->announced = data_now(d);
		standby_announce(d, 0);
	}
	size_t it = 0;
	uint64_t k;
	void *v;
	uint64_t s = 0;
	bool looked = false;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		if (j->standby != 0)
			continue;
		if (!looked || j->prev_standby != 0) {
			s = standby_pick(d, j, 0);
			looked = true;
		}
		if (s == 0)
			continue;
		standby_set(d, j, s);
		looked = false; /* spread: the next job weighs the load again */
	}
}

void
standby_forget(struct data *d, struct job *j)
{
	if (j->standby != 0)
		forget_at(d, j, j->standby);
	if (j->prev_standby != 0)
		forget_at(d, j, j->prev_standby);
}

/* @a j's move to @a node's gateway -- and to its data manager, which
 * drops the job if it is the old owner come back. */
static void
announce_one(struct data *d, struct job *j, uint64_t node)
{
	struct buf b = BUF_INIT;
	jobmsg_moved_pack(&b, j->origin, j->id, data_self(d));
	actor_tell(d->actor, (struct actor_ref){node, ACTOR_GATEWAY},
		   MSG_JOB_MOVED, b.data, (uint32_t)b.len);
	if (node == j->origin)
		actor_tell(d->actor, (struct actor_ref){node, ACTOR_DATA},
			   MSG_JOB_MOVED, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* @a j's move to every live member's gateway, this node's too. */
static void
announce_all(struct data *d, struct job *j)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v))
		if (((struct nodeinfo *)v)->alive)
			announce_one(d, j, k);
}

void
standby_announce(struct data *d, uint64_t node)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		if (j->origin == data_self(d))
			continue;
		if (node == 0)
			announce_all(d, j);
		else
			announce_one(d, j, node);
	}
}

/* ---------------------------------------------------- the standby's side */

static struct replica *
replica_find(struct data *d, uint64_t origin, uint64_t id)
{
	struct replica *r = map_get(&d->replicas, data_job_key(origin, id));
	return r && r->origin == origin && r->id == id ? r : NULL;
}

static void replica_append(struct replica *r, char kind, uint32_t seq,
			   const uint8_t *val, uint32_t len);

/* A record of the disk (store_scan): into its replica, made if new. */
static int
replica_load_cb(void *arg, const void *key, size_t klen, const void *val,
		size_t vlen)
{
	struct data *d = arg;
	const uint8_t *k = key, *v = val;
	if (klen != REPLICA_KEY_LEN || vlen < 17 || vlen > UINT32_MAX)
		return 0; /* a journal key that starts with 'R' */
	uint64_t origin = 0, id = 0, owner = 0;
	for (int i = 0; i < 8; i++) {
		origin = origin << 8 | k[1 + i];
		id = id << 8 | k[9 + i];
		owner = owner << 8 | v[i];
	}
	uint32_t rseq = buf_get_u32be(k + 17), epoch = buf_get_u32be(v + 8);
	struct replica *r = replica_find(d, origin, id);
	if (r == NULL) {
		uint64_t mk = data_job_key(origin, id);
		if (map_get(&d->replicas, mk) != NULL ||
		    d->replicas.len >= DATA_MAX_REPLICAS)
			return 0;
		r = xcalloc(1, sizeof(*r));
		r->origin = origin;
		r->id = id;
		map_put(&d->replicas, mk, r);
	}
	if (rseq != r->rseq + 1)
		return 0; /* a gap: the rest of it is of no use */
	r->owner = owner;
	r->epoch = epoch;
	r->rseq = rseq;
	r->heard = data_now(d);
	if (v[12] == 'A')
		r->complete_at = buf_get_u32be(v + 13);
	replica_append(r, (char)v[12], buf_get_u32be(v + 13), v + 17,
		       (uint32_t)vlen - 17);
	return 0;
}

void
standby_load(struct data *d)
{
	if (d->store == NULL)
		return;
	uint8_t p = 'R';
	store_scan(d->store, STORE_JOBS, &p, 1, replica_load_cb, d);
	if (d->replicas.len)
		log_info("data: %zu replica(s) of other owners' jobs kept",
			 d->replicas.len);
}

/* Forgets @a r in memory (the disk keeps it: a shutdown). */
static void
replica_close(struct data *d, struct replica *r)
{
	map_del(&d->replicas, data_job_key(r->origin, r->id));
	buf_destroy(&r->recs);
	free(r);
}

/* Forgets @a r for good: in memory and on the disk. */
static void
replica_free(struct data *d, struct replica *r)
{
	replica_unstore(d, r->origin, r->id);
	map_del(&d->replicas, data_job_key(r->origin, r->id));
	buf_destroy(&r->recs);
	free(r);
}

void
standby_keep(struct data *d, struct msg *m)
{
	struct jobmsg_replica rr;
	if (jobmsg_replica_unpack(m->body, m->len, &rr) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return;
	}
	uint64_t from = m->from.node;
	struct replica *r = replica_find(d, rr.origin, rr.job);
	struct job *mine = data_job_find(d, rr.origin, rr.job);
	if (rr.kind == 'Q') {
		/* a standby asks if it still is one: yes while it is, or was
		 * the one before (its replica is kept until the new one has
		 * the whole ship), and while the job's replication is not
		 * whole -- no standby yet, or a ship still unacknowledged (an
		 * owner restarted from its journal re-ships to whom it picks):
		 * an older complete replica may be the only one */
		if (mine != NULL &&
		    (mine->standby == from || mine->prev_standby == from ||
		     mine->standby == 0 || mine->racked < mine->ship_n))
			actor_reply(d->actor, m, MSG_JOB_REPLICA, NULL, 0);
		else
			actor_reply_error(d->actor, m, MIST_ENOTFOUND);
		return;
	}
	/* a job we own too: one claim is fenced.  A takeover beats the
	 * first owner, whatever the epochs: the first owner's journal,
	 * replayed at a restart (at its boot's epoch, which may equal or pass
	 * a takeover's), lacks what the new owner acknowledged since -- and
	 * JOB_MOVED fences it likewise (standby_moved).  Between two
	 * takeovers (two standbys that both held every record took the job
	 * over), the higher epoch wins, then the lower node id: without the
	 * tie-break each fences the other and the job is lost everywhere. */
	if (mine != NULL) {
		if (from == data_self(d)) {
			actor_reply_error(d->actor, m, MIST_EINVAL);
			return;
		}
		bool sender_first = from == rr.origin;
		bool we_first = rr.origin == data_self(d);
		bool sender_wins =
			we_first ||
			(!sender_first &&
			 (rr.epoch > mine->epoch ||
			  (rr.epoch == mine->epoch && from < data_self(d))));
		if (!sender_wins) {
			actor_reply_error(d->actor, m, MIST_EPERM);
			return;
		}
		standby_fenced(d, mine, "another owner's claim beats ours");
		mine = NULL;
		r = replica_find(d, rr.origin, rr.job);
	}
	if (r != NULL && rr.epoch < r->epoch) {
		actor_reply_error(d->actor, m, MIST_EPERM);
		return;
	}
	if (rr.kind == 'X') {
		if (r != NULL && r->owner == from)
			replica_free(d, r);
		actor_reply(d->actor, m, MSG_JOB_REPLICA, NULL, 0);
		return;
	}
	if (rr.kind == 'A') {
		if (r == NULL) {
			uint64_t key = data_job_key(rr.origin, rr.job);
			if (d->replicas.len >= DATA_MAX_REPLICAS ||
			    map_get(&d->replicas, key) != NULL) {
				log_warn("data: a replica of job %016llx "
					 "refused: %zu kept (at most %d), or "
					 "its key is taken",
					 (unsigned long long)rr.job,
					 d->replicas.len, DATA_MAX_REPLICAS);
				actor_reply_error(d->actor, m, MIST_EOVERLOAD);
				return;
			}
			r = xcalloc(1, sizeof(*r));
			r->origin = rr.origin;
			r->id = rr.job;
			map_put(&d->replicas, key, r);
		}
		if (r->rseq)
			replica_unstore(d, r->origin, r->id);
		buf_reset(&r->recs);
		r->owner = from;
		r->epoch = rr.epoch;
		r->rseq = 0;
		r->complete_at = rr.seq;
	}
	/* in order from the replica's owner, or the owner ships it anew */
	if (r == NULL || r->owner != from || rr.epoch != r->epoch ||
	    rr.rseq != r->rseq + 1) {
		actor_reply_error(d->actor, m, MIST_EINVAL);
		return;
	}
	r->rseq = rr.rseq;
	r->heard = data_now(d);
	replica_append(r, rr.kind, rr.seq, rr.val, rr.len);
	replica_store(d, r, &rr);
	actor_reply(d->actor, m, MSG_JOB_REPLICA, NULL, 0);
}

static void
replica_append(struct replica *r, char kind, uint32_t seq, const uint8_t *val,
	       uint32_t len)
{
	uint8_t h[9];
	h[0] = (uint8_t)kind;
	buf_put_u32be(h + 1, seq);
	buf_put_u32be(h + 5, len);
	buf_append(&r->recs, h, sizeof(h));
	buf_append(&r->recs, val, len);
}

/* The create record's [cred, body]: the credential. */
static int
created_cred(const uint8_t *val, uint32_t len, uint64_t *cred,
	     const uint8_t **body, uint32_t *blen)
{
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, val, len);
	if (mp_check(val, len, MP_MAX_DEPTH, &(size_t){0}) != 0 ||
	    mp_read_array(&c, &n) != 0 || n != 2 ||
	    mp_read_uint(&c, cred) != 0 || mp_read_bin(&c, body, blen) != 0)
		return MIST_EPROTO;
	return 0;
}

/* Takes the job of replica @a r over: its owner @a dead is dead. */
static void
standby_take(struct data *d, struct replica *r, uint64_t dead)
{
	const uint8_t *p = r->recs.data, *end = p + r->recs.len;
	uint64_t cred;
	const uint8_t *body;
	uint32_t blen;
	if (r->recs.len < 9 || p[0] != 'A' ||
	    created_cred(p + 9, buf_get_u32be(p + 5), &cred, &body, &blen) != 0) {
		log_warn("data: the replica of job %016llx has no create: "
			 "not taken over", (unsigned long long)r->id);
		return;
	}
	if (r->rseq < r->complete_at) {
		log_warn("data: the replica of job %016llx is incomplete (%u of "
			 "%u records): not taken over (another member has it "
			 "all)", (unsigned long long)r->id, r->rseq,
			 r->complete_at);
		return;
	}
	if (r->epoch >= JOBS_MAX_EPOCH) {
		log_error("data: job %016llx is at the last epoch: not taken "
			  "over", (unsigned long long)r->id);
		return;
	}
	struct job *j = data_job_new(d, r->origin, r->id, cred, r->epoch + 1);
	if (j == NULL)
		return;
	d->replaying = true; /* the records are appended below, as they are */
	client_apply_create(j, body, blen);
	while (p + 9 <= end) {
		char kind = (char)p[0];
		uint32_t seq = buf_get_u32be(p + 1), len = buf_get_u32be(p + 5);
		const uint8_t *val = p + 9;
		if (val + len > end)
			break;
		journal_rec_append(j, kind, seq, val, len);
		if (kind == 'B') {
			if (client_add_tasks(d, j, val, len) == 0)
				j->tseq = seq + 1;
		} else if (kind == 'C') {
			j->dseq = seq + 1;
			/* all of them, the dead owner's too: what was done
			 * downstream of its values stays done (they are
			 * dropped below, and lineage recomputes what is still
			 * needed) */
			journal_apply_completed(d, j, val, len, 0);
		} else if (kind == 'D') {
			j->cancelled = true;
			graph_cancel(&j->g, MIST_ECANCELED,
				     "the job was cancelled");
		} else if (kind == 'E') {
			j->ck.eseq = seq + 1;
			/* checkpoint copies, the dead owner's included (it is
			 * dropped as a holder below) */
			ckpt_apply_copied(j, val, len, 0);
		} else if (kind == 'F') {
			journal_apply_recovered(d, j, val, len);
		}
		p = val + len;
	}
	d->replaying = false;
	/* the nodes known dead here hold nothing (the owner heard of their
	 * deaths before this job was ours: its records still name them) */
	size_t it = 0;
	uint64_t k;
	void *v;
	struct recov_mark rm = client_recov_mark(j);
	while (map_next(&d->nodes, &it, &k, &v))
		if (!((struct nodeinfo *)v)->alive)
			graph_node_lost(&j->g, k);
	graph_node_lost(&j->g, dead);
	client_recovered(d, j, rm, RECOV_OWNER, dead); /* for operators */
	log_info("data: took job %016llx of %016llx over (epoch %u, %u tasks, "
		 "%u done): its owner is dead", (unsigned long long)j->id,
		 (unsigned long long)j->origin, j->epoch, j->g.ntasks,
		 j->g.count[G_DONE]);
	standby_set(d, j, standby_pick(d, j, dead));
	/* the gateways send the job's requests here from now on */
	announce_all(d, j);
}

/* Takes over the replicas @a node sends (@a adopted_only: only those of
 * jobs it took over itself, which it keeps in memory only). */
static void
take_from(struct data *d, uint64_t node, bool adopted_only)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	struct replica **mine = NULL;
	uint32_t n = 0, cap = 0;
	while (map_next(&d->replicas, &it, &k, &v)) {
		struct replica *r = v;
		if (r->owner != node || (adopted_only && r->origin == node))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			mine = xrealloc(mine, cap * sizeof(*mine));
		}
		mine[n++] = r;
	}
	for (uint32_t i = 0; i < n; i++) {
		standby_take(d, mine[i], node);
		replica_free(d, mine[i]);
	}
	free(mine);
}

void
standby_node_dead(struct data *d, uint64_t node)
{
	take_from(d, node, false);
}

/* After the start-up grace: the replicas whose owner is not alive (it
 * died while we were down, or left) are taken over. */
static void
take_orphans(struct data *d)
{
	if (d->replicas.len == 0 ||
	    data_now(d) - d->started < DATA_STARTUP_GRACE_MS)
		return;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->replicas, &it, &k, &v)) {
		struct replica *r = v;
		struct nodeinfo *n = map_get(&d->nodes, r->owner);
		if (n == NULL || !n->alive) {
			log_info("data: the owner %016llx of job %016llx is not "
				 "alive: taking it over",
				 (unsigned long long)r->owner,
				 (unsigned long long)r->id);
			take_from(d, r->owner, false);
			return; /* the map changed: the next tick goes on */
		}
	}
}

void
standby_node_restarted(struct data *d, uint64_t node)
{
	/* a job it had taken over lived only in its memory (journal.c):
	 * the new process cannot resume it, so it is ours now.  Its own
	 * jobs it resumes from its journal and ships again. */
	take_from(d, node, true);
}

void
standby_destroy(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->racks, &it, &k, &v))
		free(v);
	map_destroy(&d->racks);
	while (d->replicas.len) {
		it = 0;
		map_next(&d->replicas, &it, &k, &v);
		replica_close(d, v);
	}
	map_destroy(&d->replicas);
}
