/*
 * ckpt.c -- job checkpoints; the model, the bounds and the bound on
 * re-execution are in ckpt.h.
 *
 * Sections: partitions (when one is settled), the queue and the copies
 * in flight, the journal's 'E' records.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* A copy in flight (d->copies, by the request's corr). */
struct ckpt_copy {
	uint64_t key; /* the job's key, and its name: looked up again */
	uint64_t origin, id;
	uint64_t target;
	struct ckpt_item item;
};

/* ------------------------------------------------------------ partitions */

static bool
settled(const struct graph *g, uint32_t id)
{
	const struct gtask *t = graph_task(g, id);
	return t->state == G_DONE || t->state == G_FAILED;
}

static bool
is_safe_node(struct data *d, const struct job *j, uint64_t node)
{
	const struct nodeinfo *n = map_get(&d->nodes, node);
	if (n == NULL || !n->alive || n->suspect)
		return false;
	return n->tier == TIER_CLOUD || node == j->standby ||
	       node == data_self(d);
}

/* Whether value @a v of task @a t has a holder on a safe node other than
 * its producer. */
static bool
is_safe(struct data *d, const struct job *j, const struct gtask *t,
	const struct gvalue *v)
{
	for (uint32_t h = 0; h < v->nholders; h++)
		if (v->holders[h] != t->node && is_safe_node(d, j, v->holders[h]))
			return true;
	return false;
}

static void
queue_push(struct ckpt_job *ck, const struct ckpt_item *it)
{
	if (ck->qlen == ck->qcap) {
		uint32_t ncap = ck->qcap ? ck->qcap * 2 : 64;
		struct ckpt_item *n = xmalloc(ncap * sizeof(*n));
		for (uint32_t i = 0; i < ck->qlen; i++)
			n[i] = ck->q[(ck->qhead + i) % ck->qcap];
		free(ck->q);
		ck->q = n;
		ck->qhead = 0;
		ck->qcap = ncap;
	}
	ck->q[(ck->qhead + ck->qlen++) % ck->qcap] = *it;
}

static uint32_t
part_of(const struct job *j, uint32_t task)
{
	return (task - 1) / j->ck.every;
}

static struct ckpt_part *
part_get(struct ckpt_job *ck, uint32_t p)
{
	if (p >= ck->capparts) {
		uint32_t ncap = ck->capparts ? ck->capparts : 16;
		while (ncap <= p)
			ncap *= 2;
		ck->parts = xrealloc(ck->parts, ncap * sizeof(*ck->parts));
		memset(ck->parts + ck->capparts, 0,
		       (ncap - ck->capparts) * sizeof(*ck->parts));
		ck->capparts = ncap;
	}
	if (p >= ck->nparts)
		ck->nparts = p + 1;
	return &ck->parts[p];
}

/* Whether task @a r lies in a checkpointed partition (settled, copies
 * settled): it will not run again for a single loss. */
static bool
task_safe(const struct job *j, uint32_t r)
{
	uint32_t p = part_of(j, r);
	return p < j->ck.nparts && j->ck.parts[p].upto >= r &&
	       j->ck.parts[p].pending == 0 && j->ck.parts[p].failed == 0;
}

/* Unpins @a r once nothing may read it again: the client released it
 * and every task reading it lies in a checkpointed partition. */
static void
maybe_unpin(struct job *j, struct gref r)
{
	const struct gvalue *v = graph_value(&j->g, r);
	if (v == NULL || !v->pinned || !v->released)
		return;
	for (uint32_t i = 0; i < v->nreaders; i++)
		if (!task_safe(j, v->readers[i]))
			return;
	graph_unpin(&j->g, r);
}

/* Partition @a p is checkpointed: the values it pinned, and those of
 * earlier partitions its tasks read, are unpinned if nothing else may
 * read them again. */
static void
part_safe(struct job *j, uint32_t p)
{
	const struct ckpt_part *pt = &j->ck.parts[p];
	uint32_t first = p * j->ck.every + 1;
	for (uint32_t id = first; id <= pt->upto; id++) {
		const struct gtask *t = graph_task(&j->g, id);
		for (uint32_t i = 0; i < t->nin; i++)
			if (t->in[i].task < first)
				maybe_unpin(j, t->in[i]);
		for (uint32_t o = 0; o < t->nout; o++)
			maybe_unpin(j, (struct gref){id, o});
	}
}

/* A copy of value @a v settled: made (@a ok), failed for good, or not
 * needed any more. */
static void
item_settled(struct job *j, struct gref v, bool ok, bool failed)
{
	uint32_t p = part_of(j, v.task);
	struct ckpt_part *pt = part_get(&j->ck, p);
	struct gvalue *gv = graph_value(&j->g, v);
	if (ok && gv->ckpt_failed) {
		gv->ckpt_failed = false; /* copied after all */
		pt->failed--;
	} else if (failed && !gv->ckpt_failed) {
		gv->ckpt_failed = true;
		pt->failed++;
	}
	if (pt->pending > 0)
		pt->pending--;
	if (pt->pending == 0 && pt->failed == 0)
		part_safe(j, p);
}

/* Pins task @a id's live outputs and queues the copies of those no safe
 * node holds (one queue entry per value: the queue is bounded by the
 * job's values). */
static void
checkpoint_task(struct data *d, struct job *j, uint32_t id)
{
	const struct gtask *t = graph_task(&j->g, id);
	if (t->state != G_DONE)
		return;
	uint32_t p = part_of(j, id);
	uint64_t end = (uint64_t)(p + 1) * j->ck.every; /* the partition's */
	struct ckpt_part *pt = part_get(&j->ck, p);
	for (uint32_t o = 0; o < t->nout; o++) {
		const struct gvalue *v = &t->out[o];
		if (!v->available || v->freed)
			continue;
		bool later = !v->released; /* the client may add readers */
		for (uint32_t i = 0; !later && i < v->nreaders; i++)
			later = v->readers[i] > end;
		if (!later)
			continue; /* read inside the partition only */
		graph_pin(&j->g, (struct gref){id, o});
		if (is_safe(d, j, t, v))
			continue;
		struct ckpt_item it = {.v = {id, o}};
		queue_push(&j->ck, &it);
		pt->pending++;
	}
}

/* Partition @a p: copies what it has to once every task of it is settled
 * (the last, partial one: once the whole job is).  @a task, if not 0, is
 * the task of it just done: done again after the partition was
 * checkpointed (lineage ran it), it is copied at once. */
static void
part_check(struct data *d, struct job *j, uint32_t p, uint32_t task)
{
	struct ckpt_job *ck = &j->ck;
	struct ckpt_part *pt = part_get(ck, p);
	uint64_t first = (uint64_t)p * ck->every + 1;
	uint64_t full_end = first + ck->every - 1;
	uint64_t end = full_end < j->g.ntasks ? full_end : j->g.ntasks;
	if (task != 0 && task <= pt->upto) {
		checkpoint_task(d, j, task);
		return;
	}
	if (pt->scan < first)
		pt->scan = (uint32_t)first;
	if (pt->scan <= pt->upto)
		pt->scan = pt->upto + 1;
	while (pt->scan <= end && settled(&j->g, pt->scan))
		pt->scan++;
	if (pt->scan <= end || end <= pt->upto)
		return;
	if (end < full_end && !graph_finished(&j->g))
		return;
	/* the tasks before the scan were settled when it passed them; one
	 * may have been run again since (lineage): check them all once */
	for (uint32_t id = pt->upto + 1; id <= end; id++)
		if (!settled(&j->g, id)) {
			pt->scan = id;
			return;
		}
	uint32_t from = pt->upto < first ? (uint32_t)first : pt->upto + 1;
	pt->upto = (uint32_t)end;
	for (uint32_t id = from; id <= end; id++)
		checkpoint_task(d, j, id);
	pt = &ck->parts[p];
	if (pt->pending == 0 && pt->failed == 0)
		part_safe(j, p);
}

void
ckpt_released(struct job *j, struct gref r)
{
	if (j->ck.every != 0)
		maybe_unpin(j, r);
}

static void pump(struct data *d, struct job *j);

/* Every partition: after a replay or a takeover, and when the job is
 * finished (a partition whose last task to settle failed, or failed in
 * a cascade, was not looked at then). */
static void
check_all(struct data *d, struct job *j)
{
	uint32_t n = j->g.ntasks ? (j->g.ntasks - 1) / j->ck.every + 1 : 0;
	for (uint32_t p = 0; p < n; p++)
		part_check(d, j, p, 0);
}

void
ckpt_task_done(struct data *d, struct job *j, uint32_t task)
{
	if (j->ck.every == 0 || j->cancelled || graph_task(&j->g, task) == NULL)
		return;
	part_check(d, j, (task - 1) / j->ck.every, task);
	if (graph_finished(&j->g))
		check_all(d, j);
	pump(d, j);
}

/* Whether a copy of @a v of job @a j is queued or in flight already: a
 * node lost twice over (the lease's verdict, then its death) or a loss
 * while a copy is on its way must not queue it again.  A linear look at
 * the queue and at the copies in flight -- at most CKPT_INFLIGHT of them
 * per job -- once per value a loss leaves without a safe copy. */
static bool
copy_pending(struct data *d, const struct job *j, struct gref v)
{
	const struct ckpt_job *ck = &j->ck;
	for (uint32_t i = 0; i < ck->qlen; i++) {
		const struct ckpt_item *it = &ck->q[(ck->qhead + i) % ck->qcap];
		if (it->v.task == v.task && it->v.out == v.out)
			return true;
	}
	if (ck->inflight == 0)
		return false;
	size_t at = 0;
	uint64_t k;
	void *val;
	while (map_next(&d->copies, &at, &k, &val)) {
		const struct ckpt_copy *c = val;
		if (c->key == j->key && c->item.v.task == v.task &&
		    c->item.v.out == v.out)
			return true;
	}
	return false;
}

void
ckpt_node_lost(struct data *d, struct job *j, uint64_t node)
{
	(void)node; /* graph_node_lost dropped it as a holder already */
	if (j->ck.every == 0 || j->cancelled)
		return;
	/* a pinned value that lost its safe copy (the node held it) but
	 * not its producer's is copied again, before a second loss takes
	 * the producer too; its partition is not checkpointed meanwhile */
	for (uint32_t id = 1; id <= j->g.ntasks; id++) {
		const struct gtask *t = graph_task(&j->g, id);
		if (t->state != G_DONE)
			continue;
		for (uint32_t o = 0; o < t->nout; o++) {
			const struct gvalue *v = &t->out[o];
			if (!v->pinned || !v->available || v->freed ||
			    is_safe(d, j, t, v) ||
			    copy_pending(d, j, (struct gref){id, o}))
				continue;
			struct ckpt_item it = {.v = {id, o}};
			queue_push(&j->ck, &it);
			part_get(&j->ck, part_of(j, id))->pending++;
		}
	}
	pump(d, j);
}

void
ckpt_tick(struct data *d, struct job *j)
{
	if (j->ck.every == 0 || j->cancelled)
		return;
	/* a replayed job waits for gossip's start-up grace: before it, the
	 * safe holders are not known */
	if (j->ck.rescan &&
	    data_now(d) - d->started >= DATA_STARTUP_GRACE_MS) {
		j->ck.rescan = false;
		check_all(d, j);
	}
	pump(d, j);
}

/* ------------------------------------------------------------- copies */

static uint64_t
spread(uint64_t node, uint32_t task)
{
	uint64_t x = node ^ (task * 0x9e3779b97f4a7c15ull);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static bool
avoided(const struct ckpt_item *it, uint64_t node)
{
	for (uint32_t i = 0; i < it->tries; i++)
		if (it->avoid[i] == node)
			return true;
	return false;
}

/* The safe holder to copy @a it to (ckpt.h's order), or 0. */
static uint64_t
pick_target(struct data *d, struct job *j, const struct gtask *t,
	    const struct ckpt_item *it)
{
	uint64_t best = 0, best_rank = 0;
	size_t i = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &i, &k, &v)) {
		const struct nodeinfo *n = v;
		if (!n->alive || n->suspect || n->tier != TIER_CLOUD ||
		    n->id == t->node || avoided(it, n->id))
			continue;
		uint64_t rank = spread(n->id, it->v.task);
		if (best == 0 || rank < best_rank) {
			best = n->id;
			best_rank = rank;
		}
	}
	if (best != 0)
		return best;
	const struct nodeinfo *sb = j->standby ? map_get(&d->nodes, j->standby)
					       : NULL;
	if (sb != NULL && sb->alive && !sb->suspect && j->standby != t->node &&
	    !avoided(it, j->standby))
		return j->standby;
	uint64_t self = data_self(d);
	return self != t->node && !avoided(it, self) ? self : 0;
}

static void
copy_failed(struct job *j, const struct ckpt_item *it, int status)
{
	j->ck.failed++;
	log_warn("data: job %016llx: no checkpoint copy of task %u's output "
		 "%u after %u tr%s (last: %s): lineage recomputes it if it is "
		 "lost", (unsigned long long)j->id, it->v.task, it->v.out,
		 it->tries, it->tries == 1 ? "y" : "ies",
		 status ? mist_strerror(status) : "no safe holder left");
}

/* Sends the copies the queue holds, CKPT_INFLIGHT at once. */
static void
pump(struct data *d, struct job *j)
{
	struct ckpt_job *ck = &j->ck;
	if (j->cancelled)
		return; /* its values are freed everywhere */
	while (ck->inflight < CKPT_INFLIGHT && ck->qlen > 0) {
		struct ckpt_item it = ck->q[ck->qhead];
		ck->qhead = (ck->qhead + 1) % ck->qcap;
		ck->qlen--;
		const struct gtask *t = graph_task(&j->g, it.v.task);
		const struct gvalue *v = graph_value(&j->g, it.v);
		if (t == NULL || v == NULL || t->state != G_DONE ||
		    !v->available || v->freed || v->nholders == 0 ||
		    is_safe(d, j, t, v)) {
			/* settled otherwise meanwhile: safe, or not needed */
			item_settled(j, it.v, v && v->available && !v->freed,
				     false);
			continue;
		}
		uint64_t target = pick_target(d, j, t, &it);
		if (target == 0) {
			/* a first try with nowhere to go: nothing but the
			 * producer is left (a one-node cluster) -- not a
			 * failure, there is no safe holder to fail */
			if (it.tries > 0)
				copy_failed(j, &it, 0);
			item_settled(j, it.v, false, it.tries > 0);
			continue;
		}
		struct jobmsg_value_copy q = {
			.owner = j->origin, .job = j->id, .epoch = j->epoch,
			.v = it.v, .size = v->size, .nholders = v->nholders};
		memcpy(q.holders, v->holders, v->nholders * sizeof(v->holders[0]));
		struct buf b = BUF_INIT;
		jobmsg_value_copy_pack(&b, &q);
		struct ckpt_copy *c = xmalloc(sizeof(*c));
		*c = (struct ckpt_copy){j->key, j->origin, j->id, target, it};
		uint64_t corr;
		actor_request(d->actor, (struct actor_ref){target, ACTOR_FUNCTION},
			      MSG_VALUE_COPY, b.data, (uint32_t)b.len,
			      CKPT_COPY_TIMEOUT_MS, &corr);
		map_put(&d->copies, corr, c);
		buf_destroy(&b);
		ck->inflight++;
	}
}

/* The copy at @a c's target is of no use (its job ended, the value was
 * freed or is being recomputed): the target drops it. */
static void
free_at_target(struct data *d, const struct ckpt_copy *c)
{
	struct buf b = BUF_INIT;
	jobmsg_value_free_pack(&b, c->origin, c->id, &c->item.v, 1);
	actor_tell(d->actor, (struct actor_ref){c->target, ACTOR_FUNCTION},
		   MSG_VALUE_FREE, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

static void journal_copied(struct job *j, struct gref v, uint64_t node);

bool
ckpt_reply(struct data *d, struct msg *m)
{
	struct ckpt_copy *c = map_del(&d->copies, m->corr);
	if (c == NULL)
		return false;
	struct job *j = data_job_find(d, c->origin, c->id);
	if (j == NULL || j->key != c->key) {
		if (m->status == 0)
			free_at_target(d, c);
		free(c);
		return true;
	}
	j->ck.inflight--;
	const struct gtask *t = graph_task(&j->g, c->item.v.task);
	struct gvalue *v = graph_value(&j->g, c->item.v);
	bool live = t->state == G_DONE && v->available && !v->freed;
	if (m->status == 0 && live) {
		graph_value_copied(&j->g, c->item.v, c->target);
		journal_copied(j, c->item.v, c->target);
		/* at once, not at the tick: the copy is what lets a standby
		 * taking the job over stop lineage there, and copies are
		 * few (a partition's boundary values); the completions
		 * first, which the copy's record names */
		journal_flush(j);
		j->ck.copies++;
		j->ck.bytes += v->size;
		item_settled(j, c->item.v, true, false);
	} else if (m->status == 0) {
		free_at_target(d, c);
		item_settled(j, c->item.v, false, false);
	} else if (live && c->item.tries + 1 < CKPT_MAX_TRIES) {
		struct ckpt_item it = c->item;
		it.avoid[it.tries++] = c->target;
		queue_push(&j->ck, &it); /* the next safe holder */
	} else {
		struct ckpt_item it = c->item;
		it.avoid[it.tries++] = c->target;
		if (live)
			copy_failed(j, &it, m->status);
		item_settled(j, c->item.v, false, live);
	}
	free(c);
	pump(d, j);
	return true;
}

void
ckpt_job_destroy(struct job *j)
{
	free(j->ck.parts);
	free(j->ck.q);
	buf_destroy(&j->ck.elog);
	memset(&j->ck, 0, sizeof(j->ck));
}

void
ckpt_destroy(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->copies, &it, &k, &v))
		free(v);
	map_destroy(&d->copies);
}

/* ------------------------------------------------------------ journal */

/*
 * 'E' n   [[task u32, out u32, node u64]...]   copies made (journal.c's
 * table): @a node holds value (task, out) too.  Written as each copy is
 * made (and shipped to the standby with the other records): a copy not
 * known is a copy not used (lineage, as without checkpoints), and the
 * partition before it was freed at its holders meanwhile.
 */
static void
journal_copied(struct job *j, struct gref v, uint64_t node)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, &j->ck.elog, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, v.task);
	msgpack_pack_uint32(&pk, v.out);
	msgpack_pack_uint64(&pk, node);
	j->ck.ecount++;
}

void
ckpt_flush(struct data *d, struct job *j)
{
	if (j->ck.ecount == 0)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, j->ck.ecount);
	buf_append(&b, j->ck.elog.data, j->ck.elog.len);
	journal_put(d, j, 'E', j->ck.eseq++, b.data, b.len);
	buf_destroy(&b);
	buf_reset(&j->ck.elog);
	j->ck.ecount = 0;
}

void
ckpt_apply_copied(struct job *j, const void *val, size_t len, uint64_t skip)
{
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, val, len);
	if (mp_read_array(&c, &n) != 0 || n > len)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t three;
		uint64_t task, out, node;
		if (mp_read_array(&c, &three) != 0 || three != 3 ||
		    mp_read_uint(&c, &task) != 0 || mp_read_uint(&c, &out) != 0 ||
		    mp_read_uint(&c, &node) != 0)
			return;
		if (node == skip || task > UINT32_MAX || out > UINT32_MAX)
			continue;
		struct gref r = {(uint32_t)task, (uint32_t)out};
		const struct gtask *t = graph_task(&j->g, r.task);
		struct gvalue *v = graph_value(&j->g, r);
		if (t != NULL && v != NULL && t->state == G_DONE && !v->freed)
			graph_value_copied(&j->g, r, node);
	}
	j->ck.rescan = true;
}
