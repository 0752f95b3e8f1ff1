/*
 * values.c -- the values of this owner's jobs, held by function actors
 * around the cluster (this node's included): freeing them, and reading
 * one for a client.
 *
 * A value is freed (VALUE_FREE to each holder) once the client released
 * it and no task still reads it (the graph's on_free), and all of a job's
 * values when the job is cancelled, closed or dropped.
 *
 * JOB_READ is relayed: the owner asks a holder's function actor for the
 * chunk (VALUE_GET) -- its own if it holds a copy, by the same message as
 * a peer's, else a holder gossip says is alive -- and passes the reply
 * on.  A holder that no longer has the value, or cannot be reached (the
 * link failed or the request timed out), is dropped as a holder: the next
 * read goes to another copy, or the value is recomputed if it was the
 * last; the client is told ENOTFOUND, to wait again.
 */
#include "config.h"
#include "data/data_int.h"
#include "mist.h"
#include "util/mem.h"

#include <stdlib.h>

void
values_free_cb(void *ctx, struct gref v, const uint64_t *holders, uint32_t n)
{
	struct job *j = ctx;
	struct data *d = j->d;
	struct buf b = BUF_INIT;
	jobmsg_value_free_pack(&b, j->origin, j->id, &v, 1);
	for (uint32_t i = 0; i < n; i++) {
		struct actor_ref to = {holders[i], ACTOR_FUNCTION};
		actor_tell(d->actor, to, MSG_VALUE_FREE, b.data,
			   (uint32_t)b.len);
	}
	buf_destroy(&b);
}

/* Tells every live node to drop the job's values. */
void
values_free_job(struct data *d, struct job *j)
{
	struct buf b = BUF_INIT;
	jobmsg_value_free_pack(&b, j->origin, j->id, NULL, 0);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v)) {
		struct nodeinfo *n = v;
		if (n->alive) {
			struct actor_ref to = {n->id, ACTOR_FUNCTION};
			actor_tell(d->actor, to, MSG_VALUE_FREE, b.data,
				   (uint32_t)b.len);
		}
	}
	buf_destroy(&b);
}

void
values_read(struct data *d, struct msg *m, struct job *j, struct gref r,
	 uint64_t off)
{
	struct gvalue *v = graph_value(&j->g, r);
	if (v == NULL || !v->available) {
		actor_reply_error(d->actor, m, v ? MIST_ENOTFOUND : MIST_EINVAL);
		return;
	}
	uint64_t self = data_self(d), holder = v->holders[0];
	bool alive = false;
	for (uint32_t h = 0; h < v->nholders; h++) {
		const struct nodeinfo *ni = map_get(&d->nodes, v->holders[h]);
		if (v->holders[h] == self) {
			holder = self;
			break;
		}
		if (!alive && ni != NULL && ni->alive) {
			holder = v->holders[h];
			alive = true;
		}
	}
	struct jobmsg_value_get g = {j->origin, j->id, r, off, JOBS_CHUNK};
	struct buf b = BUF_INIT;
	jobmsg_value_get_pack(&b, &g);
	struct relay *rl = xmalloc(sizeof(*rl));
	rl->req = data_req_copy(m);
	rl->job = j->key;
	rl->v = r;
	rl->holder = holder;
	uint64_t corr;
	struct actor_ref to = {holder, ACTOR_FUNCTION};
	actor_request(d->actor, to, MSG_VALUE_GET, b.data, (uint32_t)b.len,
		      d->cfg.fetch_timeout_ms, &corr);
	map_put(&d->relays, corr, rl);
	buf_destroy(&b);
}

void
values_relay_reply(struct data *d, struct msg *m)
{
	struct relay *rl = map_del(&d->relays, m->corr);
	if (rl == NULL)
		return;
	if (m->status == 0) {
		actor_reply(d->actor, rl->req, MSG_JOB_READ, m->body, m->len);
	} else {
		struct job *j = map_get(&d->jobs, rl->job); /* its key */
		/* not there, or not reachable: either way not a copy to
		 * read now (item 2 of issue 12: lineage, not a wait) */
		if (j && (m->status == MIST_ENOTFOUND ||
			  m->status == MIST_EUNREACHABLE ||
			  m->status == MIST_ECLOSED ||
			  m->status == MIST_ETIMEDOUT)) {
			graph_value_lost(&j->g, rl->v, rl->holder);
			dispatch_job(d, j);
		}
		actor_reply_error(d->actor, rl->req, MIST_ENOTFOUND);
	}
	msg_delete(rl->req);
	free(rl);
}

void
values_relays_free(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->relays, &it, &k, &v)) {
		msg_delete(((struct relay *)v)->req);
		free(v);
	}
	map_destroy(&d->relays);
}
