/*
 * data.c -- ACTOR_DATA, the data manager: job owner and value server.
 *
 * A job belongs to the agent whose gateway accepted it.  Its owner keeps
 * the graph (graph.h), knows which node holds which value, places every
 * ready task (place.h) and re-places work when gossip reports a node dead
 * or left; values whose only copy was there are recomputed from the graph.
 *
 * Job ids are (boot count << 32 | sequence), so an owner that restarts
 * never reuses one.  Attempt numbers carry the boot count as well: results
 * of attempts started before a restart are stale by construction.
 *
 * Journal (LMDB table "jobs"), key = job id (8, BE) + kind (1) + seq (4, BE):
 *   'A' [cred, create body]      'B' a task batch, as the client sent it
 *   'C' [[task, node, [size...]]...]  completions, batched every tick
 *   'D' cancelled
 * The kinds sort in replay order.  Completions are written in batches, so
 * a crash loses at most one tick of them: those tasks run again, which is
 * harmless because functions are deterministic.  Completions on the owner
 * itself are not replayed (its values died with it).
 *
 * Backpressure: at most cores x per_core_inflight attempts of this owner
 * are queued or running on a node; ready tasks beyond that wait here.
 */
#include "config.h"
#include "data/graph.h"
#include "data/jobs.h"
#include "data/meta.h"
#include "data/place.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_MAX_FNS 256
#define DATA_MAX_INPUTS 4096 /* per task */
#define DATA_TICK_MS 100
#define DATA_MAX_WAITERS 65536
#define DATA_EWMA 0.2
/* After a start, gossip needs a moment before "no node offers it" is true. */
#define DATA_STARTUP_GRACE_MS 10000

struct fnreg {
	char name[EXEC_NAME_MAX];
	bool offered_ever;
	double ref_exec_ms, ref_speed;
};

struct nodeinfo {
	uint64_t id;
	char name[64];
	int tier;
	uint32_t cores;
	double speed, power, price;
	bool alive;
	uint64_t fns[DATA_MAX_FNS / 64];
	uint32_t inflight;
	float exec_ms[DATA_MAX_FNS];
	uint64_t done;
};

struct waiter {
	struct msg *req; /* a bodiless copy: from, corr, flags to reply */
	uint64_t deadline;
	struct gref v;
};

struct job {
	uint64_t id, cred;
	char name[64];
	struct place_policy pol;
	struct graph g;
	bool cancelled;
	uint64_t touched; /* last client activity, ms */
	struct waiter *waiters;
	uint32_t nwaiters, capwaiters;
	uint32_t tseq, dseq;
	struct buf dlog; /* completions not yet journalled */
	uint32_t dcount;
	struct data *d;
};

struct relay {
	struct msg *req;
	uint64_t job;
	struct gref v;
	uint64_t holder;
};

struct data {
	struct actor *actor;
	struct jobs_node *jn;
	struct fnreg fns[DATA_MAX_FNS];
	uint32_t nfns;
	struct map nodes; /* id -> nodeinfo */
	struct map jobs;  /* id -> job */
	struct map relays; /* corr -> relay */
	uint32_t next_job;
	uint64_t started;
	struct actor_timer tick;
	bool replaying;
};

void
jobs_config_default(struct jobs_config *cfg)
{
	cfg->max_failures = 3;
	cfg->max_losses = 8;
	/* a few tasks per core queued ahead keeps executors fed through a
	 * round trip; more only lengthens queues we might have to move */
	cfg->per_core_inflight = 32;
	cfg->bytes_per_ms = 100e3; /* 100 MB/s until measured */
	cfg->default_exec_ms = 1.0;
	cfg->fetch_timeout_ms = 10000;
	cfg->retain_ms = 3600 * 1000;
	/* ~100 bytes of bookkeeping per task plus its arguments: 4 M tasks
	 * is a few hundred MiB at the owner, the most one job may take */
	cfg->max_tasks = 4u << 20;
}

/* ---------------------------------------------------------- helpers */

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* What replying later needs of a request, without its body. */
static struct msg *
req_copy(const struct msg *m)
{
	struct msg *r = msg_new(m->type, NULL, 0);
	r->flags = m->flags;
	r->from = m->from;
	r->corr = m->corr;
	return r;
}

static uint64_t
now_ms(struct data *d)
{
	return actor_sys_now(d->actor->sys);
}

/* A value's name as two fields: task, out (each within 32 bits). */
static int
read_ref_fields(struct mp_cur *c, struct gref *r)
{
	uint64_t t, o;
	if (mp_read_uint(c, &t) != 0 || mp_read_uint(c, &o) != 0 ||
	    t > UINT32_MAX || o > UINT32_MAX)
		return MIST_EPROTO;
	*r = (struct gref){(uint32_t)t, (uint32_t)o};
	return 0;
}

/* A value's name as an array [task, out]. */
static int
read_ref(struct mp_cur *c, struct gref *r)
{
	uint32_t two;
	if (mp_read_array(c, &two) != 0 || two != 2)
		return MIST_EPROTO;
	return read_ref_fields(c, r);
}

static void
pack_ref(msgpack_packer *pk, struct gref r)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, r.task);
	msgpack_pack_uint32(pk, r.out);
}

static int
fn_intern(struct data *d, const char *s, uint32_t len)
{
	if (len == 0 || len >= EXEC_NAME_MAX)
		return -1;
	for (uint32_t i = 0; i < d->nfns; i++)
		if (strlen(d->fns[i].name) == len &&
		    memcmp(d->fns[i].name, s, len) == 0)
			return (int)i;
	if (d->nfns == DATA_MAX_FNS)
		return -1;
	struct fnreg *f = &d->fns[d->nfns];
	memset(f, 0, sizeof(*f));
	memcpy(f->name, s, len);
	f->ref_exec_ms = -1;
	return (int)d->nfns++;
}

static struct nodeinfo *
node_get(struct data *d, uint64_t id)
{
	struct nodeinfo *n = map_get(&d->nodes, id);
	if (n == NULL) {
		n = xcalloc(1, sizeof(*n));
		n->id = id;
		n->cores = 1;
		n->speed = 1;
		n->tier = TIER_FOG;
		for (int i = 0; i < DATA_MAX_FNS; i++)
			n->exec_ms[i] = -1;
		map_put(&d->nodes, id, n);
	}
	return n;
}

static void
node_set_fns(struct data *d, struct nodeinfo *n, const char *const *names,
	     const uint32_t *lens, uint32_t count)
{
	memset(n->fns, 0, sizeof(n->fns));
	for (uint32_t i = 0; i < count; i++) {
		int f = fn_intern(d, names[i], lens[i]);
		if (f < 0)
			continue;
		n->fns[f / 64] |= 1ull << (f % 64);
		d->fns[f].offered_ever = true;
	}
}

static bool
node_offers(const struct nodeinfo *n, uint16_t f)
{
	return n->fns[f / 64] >> (f % 64) & 1;
}

static void
journal_key(uint8_t k[13], uint64_t job, char kind, uint32_t seq)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(job >> (56 - 8 * i));
	k[8] = (uint8_t)kind;
	buf_put_u32be(k + 9, seq);
}

static void
journal_put(struct data *d, uint64_t job, char kind, uint32_t seq,
	    const void *val, size_t len)
{
	if (d->jn->store == NULL || d->replaying)
		return;
	uint8_t k[13];
	journal_key(k, job, kind, seq);
	store_put(d->jn->store, STORE_JOBS, k, sizeof(k), val, len, NULL, NULL);
}

static void
journal_flush(struct job *j)
{
	if (j->dcount == 0)
		return;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, j->dcount);
	buf_append(&b, j->dlog.data, j->dlog.len);
	journal_put(j->d, j->id, 'C', j->dseq++, b.data, b.len);
	buf_destroy(&b);
	buf_reset(&j->dlog);
	j->dcount = 0;
}

static void
journal_drop(struct data *d, struct job *j)
{
	if (d->jn->store == NULL)
		return;
	uint8_t k[13];
	journal_key(k, j->id, 'A', 0);
	store_del(d->jn->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	for (uint32_t i = 0; i < j->tseq; i++) {
		journal_key(k, j->id, 'B', i);
		store_del(d->jn->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	}
	for (uint32_t i = 0; i < j->dseq; i++) {
		journal_key(k, j->id, 'C', i);
		store_del(d->jn->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
	}
	journal_key(k, j->id, 'D', 0);
	store_del(d->jn->store, STORE_JOBS, k, sizeof(k), NULL, NULL);
}

/* ------------------------------------------------------------- jobs */

/* A VALUE_FREE body: [owner, job, [value] | nil (all of the job's)]. */
static void
pack_value_free(struct buf *b, struct data *d, struct job *j,
		const struct gref *v)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, d->actor->sys->node);
	msgpack_pack_uint64(&pk, j->id);
	if (v == NULL) {
		msgpack_pack_nil(&pk);
		return;
	}
	msgpack_pack_array(&pk, 1);
	pack_ref(&pk, *v);
}

static void
value_free_cb(void *ctx, struct gref v, const uint64_t *holders, uint32_t n)
{
	struct job *j = ctx;
	struct data *d = j->d;
	struct buf b = BUF_INIT;
	pack_value_free(&b, d, j, &v);
	for (uint32_t i = 0; i < n; i++) {
		struct actor_ref to = {holders[i], ACTOR_DATA};
		actor_tell(d->actor, to, MSG_VALUE_FREE, b.data,
			   (uint32_t)b.len);
	}
	buf_destroy(&b);
}

static struct job *
job_new(struct data *d, uint64_t id, uint64_t cred)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->id = id;
	j->cred = cred;
	j->d = d;
	j->pol = (struct place_policy){1, 0, 0, TIER_ANY};
	graph_init(&j->g, d->jn->cfg.max_failures, d->jn->cfg.max_losses);
	j->g.attempt_base = (uint32_t)(d->jn->boot & 0xffff) << 16;
	j->g.on_free = value_free_cb;
	j->g.ctx = j;
	j->touched = now_ms(d);
	map_put(&d->jobs, id, j);
	return j;
}

/* Tells every live node to drop the job's values. */
static void
job_free_values(struct data *d, struct job *j)
{
	struct buf b = BUF_INIT;
	pack_value_free(&b, d, j, NULL);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->nodes, &it, &k, &v)) {
		struct nodeinfo *n = v;
		if (n->alive) {
			struct actor_ref to = {n->id, ACTOR_DATA};
			actor_tell(d->actor, to, MSG_VALUE_FREE, b.data,
				   (uint32_t)b.len);
		}
	}
	buf_destroy(&b);
}

static void
job_delete(struct data *d, struct job *j)
{
	map_del(&d->jobs, j->id);
	graph_destroy(&j->g);
	buf_destroy(&j->dlog);
	for (uint32_t i = 0; i < j->nwaiters; i++)
		msg_delete(j->waiters[i].req);
	free(j->waiters);
	free(j);
}

/* Answers the waiters whose value is settled (or all, with @a status). */
static void
job_wake(struct data *d, struct job *j)
{
	uint32_t keep = 0;
	for (uint32_t i = 0; i < j->nwaiters; i++) {
		struct waiter *w = &j->waiters[i];
		struct gtask *t = graph_task(&j->g, w->v.task);
		struct gvalue *v = graph_value(&j->g, w->v);
		struct buf b = BUF_INIT;
		msgpack_packer pk;
		msgpack_packer_init(&pk, &b, buf_msgpack_write);
		if (t->state == G_FAILED) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_int(&pk, t->status);
			pk_str(&pk, t->error ? t->error : "failed");
		} else if (v->available) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_int(&pk, 0);
			msgpack_pack_uint64(&pk, v->size);
		} else if (v->freed && v->released) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_int(&pk, MIST_EINVAL);
			pk_str(&pk, "the value was released");
		} else {
			j->waiters[keep++] = *w;
			buf_destroy(&b);
			continue;
		}
		actor_reply(d->actor, w->req, MSG_JOB_WAIT, b.data,
			    (uint32_t)b.len);
		msg_delete(w->req);
		buf_destroy(&b);
	}
	j->nwaiters = keep;
}

static void
send_run(struct data *d, struct job *j, uint32_t id, uint32_t attempt,
	 uint64_t node)
{
	struct gtask *t = graph_task(&j->g, id);
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_uint64(&pk, d->actor->sys->node);
	msgpack_pack_uint64(&pk, j->id);
	msgpack_pack_uint32(&pk, id);
	msgpack_pack_uint32(&pk, attempt);
	pk_str(&pk, d->fns[t->fn].name);
	msgpack_pack_bin_with_body(&pk, t->args, t->alen);
	msgpack_pack_uint32(&pk, t->nout);
	msgpack_pack_array(&pk, t->nin);
	for (uint32_t i = 0; i < t->nin; i++) {
		struct gvalue *v = graph_value(&j->g, t->in[i]);
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint32(&pk, t->in[i].task);
		msgpack_pack_uint32(&pk, t->in[i].out);
		msgpack_pack_uint64(&pk, v->size);
		msgpack_pack_array(&pk, v->nholders);
		for (uint32_t h = 0; h < v->nholders; h++)
			msgpack_pack_uint64(&pk, v->holders[h]);
	}
	struct actor_ref to = {node, ACTOR_FUNCTION};
	actor_tell(d->actor, to, MSG_TASK_RUN, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* Places ready tasks until none is left or every candidate is full. */
static void
job_dispatch(struct data *d, struct job *j)
{
	static struct place_node cand[1024];
	static struct nodeinfo *cinfo[1024];
	uint32_t id;
	while ((id = graph_pop_ready(&j->g)) != 0) {
		struct gtask *t = graph_task(&j->g, id);
		int nc = 0;
		size_t it = 0;
		uint64_t k;
		void *val;
		while (nc < 1024 && map_next(&d->nodes, &it, &k, &val)) {
			struct nodeinfo *n = val;
			if (!n->alive || !node_offers(n, t->fn))
				continue;
			struct place_node *c = &cand[nc];
			*c = (struct place_node){n->id, n->tier, n->cores,
						 n->speed, n->power, n->price,
						 n->inflight,
						 n->cores * d->jn->cfg.per_core_inflight,
						 n->exec_ms[t->fn], 0, 0};
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
			cinfo[nc++] = n;
		}
		bool tier_ok = false;
		for (int i = 0; i < nc; i++)
			tier_ok |= (j->pol.tiers & (uint32_t)cand[i].tier) != 0;
		if (!tier_ok) {
			if (now_ms(d) - d->started < DATA_STARTUP_GRACE_MS) {
				graph_unpop(&j->g, id);
				return; /* gossip may not have told us yet */
			}
			char why[160];
			bool known = d->fns[t->fn].offered_ever;
			snprintf(why, sizeof(why), "%s '%s'",
				 known ? "no live node allowed by the job offers"
				       : "unknown function",
				 d->fns[t->fn].name);
			graph_fail_ready(&j->g, id, known ? MIST_ENONODE
							  : MIST_ENOFUNC, why);
			continue;
		}
		struct fnreg *f = &d->fns[t->fn];
		int pick = place_choose(&j->pol, cand, nc, f->ref_exec_ms,
					f->ref_speed, d->jn->cfg.default_exec_ms,
					d->jn->cfg.bytes_per_ms, NULL);
		if (pick < 0) {
			graph_unpop(&j->g, id);
			return; /* every candidate is full: wait for results */
		}
		uint32_t attempt = graph_start(&j->g, id, cand[pick].id);
		cinfo[pick]->inflight++;
		send_run(d, j, id, attempt, cand[pick].id);
	}
}

static void
dispatch_all(struct data *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		if (j->g.rlen > 0) {
			job_dispatch(d, j);
			job_wake(d, j);
		}
	}
}

/* ----------------------------------------------------- worker reports */

static void
task_done(struct data *d, struct msg *m)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t jid, task, attempt, exec_us;
	int64_t status;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 7 ||
	    mp_read_uint(&c, &jid) != 0 || mp_read_uint(&c, &task) != 0 ||
	    mp_read_uint(&c, &attempt) != 0 || mp_read_int(&c, &status) != 0 ||
	    mp_read_uint(&c, &exec_us) != 0)
		return;
	struct job *j = map_get(&d->jobs, jid);
	struct gtask *t = j && task <= UINT32_MAX
				  ? graph_task(&j->g, (uint32_t)task) : NULL;
	uint64_t node = m->from.node;
	if (t == NULL || t->state != G_RUNNING || t->node != node ||
	    t->attempt + j->g.attempt_base != attempt)
		return; /* stale: fenced off */
	struct nodeinfo *ni = node_get(d, node);
	if (ni->inflight > 0)
		ni->inflight--;
	int rc = MIST_EPROTO;
	if (status == 0) {
		uint32_t ns;
		uint64_t sizes[1024];
		if (mp_read_array(&c, &ns) != 0 || ns != t->nout)
			goto bad;
		for (uint32_t i = 0; i < ns; i++)
			if (mp_read_uint(&c, &sizes[i]) != 0)
				goto bad;
		uint32_t nf;
		if (mp_read_array(&c, &nf) != 0 || nf > mp_cur_left(&c))
			goto bad;
		for (uint32_t i = 0; i < nf; i++) {
			struct gref r;
			if (read_ref(&c, &r) != 0)
				goto bad;
			graph_value_copied(&j->g, r, node);
		}
		rc = graph_done(&j->g, (uint32_t)task, (uint32_t)attempt, node,
				sizes);
		if (rc == 0) {
			double ms = exec_us / 1000.0;
			float *e = &ni->exec_ms[t->fn];
			*e = *e < 0 ? (float)ms
				    : (float)((1 - DATA_EWMA) * *e + DATA_EWMA * ms);
			d->fns[t->fn].ref_exec_ms = *e;
			d->fns[t->fn].ref_speed = ni->speed;
			ni->done++;
			msgpack_packer pk;
			msgpack_packer_init(&pk, &j->dlog, buf_msgpack_write);
			msgpack_pack_array(&pk, 3);
			msgpack_pack_uint32(&pk, (uint32_t)task);
			msgpack_pack_uint64(&pk, node);
			msgpack_pack_array(&pk, ns);
			for (uint32_t i = 0; i < ns; i++)
				msgpack_pack_uint64(&pk, sizes[i]);
			j->dcount++;
		}
	} else if (status == MIST_ENOTFOUND) {
		uint32_t three, nh;
		uint64_t h;
		struct gref lost;
		if (mp_read_array(&c, &three) != 0 || three != 3 ||
		    read_ref_fields(&c, &lost) != 0 ||
		    mp_read_array(&c, &nh) != 0 || nh > GRAPH_MAX_HOLDERS)
			goto bad;
		for (uint32_t i = 0; i < nh; i++) {
			if (mp_read_uint(&c, &h) != 0)
				goto bad;
			graph_value_lost(&j->g, lost, h);
		}
		rc = graph_failed(&j->g, (uint32_t)task, (uint32_t)attempt,
				  MIST_ENOTFOUND, "an input was lost", false);
	} else {
		const char *s;
		uint32_t l;
		char err[EXEC_ERR_MAX + 64];
		if (mp_read_str(&c, &s, &l) != 0)
			goto bad;
		snprintf(err, sizeof(err), "%.*s (attempt %u on %s)",
			 (int)(l > EXEC_ERR_MAX ? EXEC_ERR_MAX : l), s,
			 t->failures + 1u, ni->name[0] ? ni->name : "?");
		rc = graph_failed(&j->g, (uint32_t)task, (uint32_t)attempt,
				  MIST_ETASK, err, true);
	}
	(void)rc;
	job_dispatch(d, j);
	job_wake(d, j);
	if (j->dlog.len > 65536)
		journal_flush(j);
	return;
bad:
	log_warn("data: malformed task report from %016llx",
		 (unsigned long long)node);
	graph_failed(&j->g, (uint32_t)task, (uint32_t)attempt, MIST_ETASK,
		     "malformed report", true);
	job_dispatch(d, j);
	job_wake(d, j);
}

static void
node_lost(struct data *d, uint64_t id)
{
	struct nodeinfo *n = map_get(&d->nodes, id);
	if (n == NULL || !n->alive)
		return;
	n->alive = false;
	n->inflight = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->jobs, &it, &k, &v))
		graph_node_lost(&((struct job *)v)->g, id);
	dispatch_all(d);
	it = 0;
	while (map_next(&d->jobs, &it, &k, &v))
		job_wake(d, v);
}

static void
member_event(struct data *d, struct msg *m)
{
	struct swim_event_view ev;
	if (swim_event_decode(m->body, m->len, &ev) != 0)
		return;
	if (ev.event == SWIM_EV_DEAD || ev.event == SWIM_EV_LEFT) {
		node_lost(d, ev.node);
		return;
	}
	if (ev.event == SWIM_EV_SUSPECT)
		return;
	struct nodeinfo *ni = node_get(d, ev.node);
	ni->alive = true;
	snprintf(ni->name, sizeof(ni->name), "%.*s",
		 (int)(ev.name_len > 63 ? 63 : ev.name_len), ev.name);
	if (ev.meta == NULL)
		return;
	struct meta meta;
	if (meta_decode(ev.meta, ev.meta_len, &meta) != 0) {
		log_warn("data: malformed metadata from %016llx",
			 (unsigned long long)ev.node);
		return;
	}
	int t = place_tier_parse(meta.tier, (uint32_t)strlen(meta.tier));
	ni->tier = t ? t : TIER_FOG;
	ni->cores = meta.cores == 0 ? 1 : meta.cores > 4096 ? 4096 : meta.cores;
	ni->speed = meta.speed;
	ni->power = meta.power;
	ni->price = meta.price;
	const char *names[META_MAX_FUNCTIONS];
	uint32_t lens[META_MAX_FUNCTIONS];
	for (uint32_t f = 0; f < meta.nfunctions; f++) {
		names[f] = meta.functions[f];
		lens[f] = (uint32_t)strlen(meta.functions[f]);
	}
	node_set_fns(d, ni, names, lens, meta.nfunctions);
	/* gossiped numbers feed the forecasts: finite, in range */
	if (!(ni->speed > 0 && ni->speed < 1e6))
		ni->speed = 1;
	if (!(ni->power >= 0 && ni->power < 1e9))
		ni->power = 0;
	if (!(ni->price >= 0 && ni->price < 1e9))
		ni->price = 0;
	dispatch_all(d);
}

/* ------------------------------------------------------- value serving */

void
jobs_pack_value_get(struct buf *b, uint64_t owner, uint64_t job,
		    uint32_t task, uint32_t out, uint64_t off)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, owner);
	msgpack_pack_uint64(&pk, job);
	msgpack_pack_uint32(&pk, task);
	msgpack_pack_uint32(&pk, out);
	msgpack_pack_uint64(&pk, off);
	msgpack_pack_uint32(&pk, JOBS_CHUNK);
}

static void
value_get(struct data *d, struct msg *m)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t owner, job, off, max;
	struct gref r;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 6 ||
	    mp_read_uint(&c, &owner) != 0 || mp_read_uint(&c, &job) != 0 ||
	    read_ref_fields(&c, &r) != 0 ||
	    mp_read_uint(&c, &off) != 0 || mp_read_uint(&c, &max) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return;
	}
	struct vkey k = {owner, job, r.task, r.out};
	uint32_t len;
	const uint8_t *p = vstore_get(&d->jn->values, &k, &len);
	if (p == NULL || off > len) {
		actor_reply_error(d->actor, m, MIST_ENOTFOUND);
		return;
	}
	uint64_t chunk = len - off;
	if (chunk > max)
		chunk = max;
	if (chunk > JOBS_CHUNK)
		chunk = JOBS_CHUNK;
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, len);
	msgpack_pack_bin_with_body(&pk, p + off, (uint32_t)chunk);
	actor_reply(d->actor, m, MSG_VALUE_GET, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

static void
value_free(struct data *d, struct msg *m)
{
	struct mp_cur c;
	uint32_t n, nv;
	uint64_t owner, job;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 3 ||
	    mp_read_uint(&c, &owner) != 0 || mp_read_uint(&c, &job) != 0)
		return;
	if (owner != m->from.node)
		return; /* only the owner frees its values */
	if (mp_peek_nil(&c)) {
		vstore_free_job(&d->jn->values, owner, job);
		return;
	}
	if (mp_read_array(&c, &nv) != 0 || nv > mp_cur_left(&c))
		return;
	for (uint32_t i = 0; i < nv; i++) {
		struct gref r;
		if (read_ref(&c, &r) != 0)
			return;
		struct vkey k = {owner, job, r.task, r.out};
		vstore_free(&d->jn->values, &k);
	}
}

/* ---------------------------------------------------- client requests */

static struct job *
client_job(struct data *d, struct msg *m, struct mp_cur *c, uint64_t cred,
	   uint64_t role)
{
	uint64_t owner, jid;
	if (mp_read_uint(c, &owner) != 0 || mp_read_uint(c, &jid) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return NULL;
	}
	struct job *j = owner == d->actor->sys->node ? map_get(&d->jobs, jid)
						     : NULL;
	if (j == NULL) {
		actor_reply_error(d->actor, m, MIST_ENOTFOUND);
		return NULL;
	}
	if (j->cred != cred && role != ROLE_ADMIN) {
		actor_reply_error(d->actor, m, MIST_EPERM);
		return NULL;
	}
	j->touched = now_ms(d);
	return j;
}

static int
parse_policy(struct data *d, struct job *j, const uint8_t *p, uint32_t len)
{
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, p, len);
	if (mp_read_map(&c, &n) != 0)
		return MIST_EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		const char *k, *s;
		uint32_t kl, sl;
		int rc = 0;
		if (mp_read_str(&c, &k, &kl) != 0)
			return MIST_EPROTO;
		if (mp_str_eq(k, kl, "name")) {
			if ((rc = mp_read_str(&c, &s, &sl)) == 0)
				snprintf(j->name, sizeof(j->name), "%.*s",
					 (int)(sl > 63 ? 63 : sl), s);
		} else if (mp_str_eq(k, kl, "policy")) {
			if ((rc = mp_read_str(&c, &s, &sl)) != 0)
				return rc;
			if (mp_str_eq(s, sl, "time"))
				j->pol.w_time = 1, j->pol.w_energy = 0, j->pol.w_cost = 0;
			else if (mp_str_eq(s, sl, "energy"))
				j->pol.w_time = 0, j->pol.w_energy = 1, j->pol.w_cost = 0;
			else if (mp_str_eq(s, sl, "cost"))
				j->pol.w_time = 0, j->pol.w_energy = 0, j->pol.w_cost = 1;
			else
				return MIST_EINVAL;
		} else if (mp_str_eq(k, kl, "weights")) {
			uint32_t three;
			if (mp_read_array(&c, &three) != 0 || three != 3 ||
			    mp_read_double(&c, &j->pol.w_time) != 0 ||
			    mp_read_double(&c, &j->pol.w_energy) != 0 ||
			    mp_read_double(&c, &j->pol.w_cost) != 0)
				return MIST_EPROTO;
			if (!(j->pol.w_time >= 0 && j->pol.w_energy >= 0 &&
			      j->pol.w_cost >= 0 && j->pol.w_time < 1e6 &&
			      j->pol.w_energy < 1e6 && j->pol.w_cost < 1e6))
				return MIST_EINVAL;
		} else if (mp_str_eq(k, kl, "tiers")) {
			uint32_t nt;
			if (mp_read_array(&c, &nt) != 0 || nt > 8)
				return MIST_EPROTO;
			j->pol.tiers = 0;
			for (uint32_t t = 0; t < nt; t++) {
				if (mp_read_str(&c, &s, &sl) != 0)
					return MIST_EPROTO;
				int tier = place_tier_parse(s, sl);
				if (tier == 0)
					return MIST_EINVAL;
				j->pol.tiers |= (uint32_t)tier;
			}
			if (j->pol.tiers == 0)
				return MIST_EINVAL;
		} else if (mp_str_eq(k, kl, "attempts")) {
			uint64_t a;
			if ((rc = mp_read_uint(&c, &a)) == 0) {
				if (a < 1 || a > 100)
					return MIST_EINVAL;
				j->g.max_failures = (uint16_t)a;
			}
		} else {
			rc = mp_skip(&c);
		}
		if (rc != 0)
			return MIST_EPROTO;
	}
	(void)d;
	return 0;
}

static void
reply_ids(struct data *d, struct msg *m, uint32_t type, uint64_t a, uint64_t b)
{
	struct buf out = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &out, buf_msgpack_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, a);
	msgpack_pack_uint64(&pk, b);
	actor_reply(d->actor, m, type, out.data, (uint32_t)out.len);
	buf_destroy(&out);
}

/* One task of a batch: [fn, args, nout, [[t, o]...]]. */
struct task_in {
	const char *fn;
	uint32_t fl, al, nin;
	const uint8_t *args;
	uint64_t nout;
};

static int
read_task(struct mp_cur *c, struct task_in *t, struct gref *in)
{
	uint32_t four;
	if (mp_read_array(c, &four) != 0 || four != 4 ||
	    mp_read_str(c, &t->fn, &t->fl) != 0 ||
	    mp_read_bin(c, &t->args, &t->al) != 0 ||
	    mp_read_uint(c, &t->nout) != 0 || t->nout > 1024 ||
	    mp_read_array(c, &t->nin) != 0 || t->nin > DATA_MAX_INPUTS)
		return MIST_EPROTO;
	for (uint32_t k = 0; k < t->nin; k++)
		if (read_ref(c, &in[k]) != 0)
			return MIST_EPROTO;
	return 0;
}

/*
 * Adds a batch [first, [task...]], all of it or nothing: a first pass
 * checks every task -- its inputs may name tasks earlier in the same
 * batch -- so that a bad task cannot leave the tasks before it added,
 * unjournalled, with the client told that the batch failed.
 */
static int
add_tasks(struct data *d, struct job *j, const uint8_t *p, uint32_t len)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t first;
	mp_cur_init(&c, p, len);
	if (mp_read_uint(&c, &first) != 0 || mp_read_array(&c, &n) != 0 ||
	    n > mp_cur_left(&c))
		return MIST_EPROTO;
	uint32_t have = j->g.ntasks;
	if (first != (uint64_t)have + 1) {
		/* a retried batch we already have is fine; a gap is not */
		return first >= 1 && first <= have && n <= have - first + 1
			       ? 1 : MIST_EINVAL;
	}
	if (j->cancelled)
		return MIST_ECANCELED;
	if (have >= d->jn->cfg.max_tasks || n > d->jn->cfg.max_tasks - have)
		return MIST_E2BIG; /* each task costs memory here: bounded */
	struct gref in[DATA_MAX_INPUTS];
	struct task_in t;
	struct { uint16_t fn, nout; } *seen = xmalloc((n ? n : 1) * sizeof(*seen));
	struct mp_cur start = c;
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		if ((rc = read_task(&c, &t, in)) != 0)
			break;
		int fn = fn_intern(d, t.fn, t.fl);
		if (fn < 0)
			rc = MIST_EINVAL;
		seen[i].fn = (uint16_t)fn;
		seen[i].nout = (uint16_t)t.nout;
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
		read_task(&c, &t, in);
		rc = graph_add(&j->g, seen[i].fn, t.args, t.al, in, t.nin,
			       seen[i].nout);
	}
	free(seen);
	return rc;
}

static void
job_status_pack(struct data *d, struct job *j, msgpack_packer *pk)
{
	const char *state = j->cancelled ? "cancelled"
			    : !graph_finished(&j->g) ? "running"
			    : j->g.count[G_FAILED] ? "failed" : "done";
	msgpack_pack_map(pk, 12);
	pk_str(pk, "owner");
	msgpack_pack_uint64(pk, d->actor->sys->node);
	pk_str(pk, "job");
	msgpack_pack_uint64(pk, j->id);
	pk_str(pk, "name");
	pk_str(pk, j->name);
	pk_str(pk, "state");
	pk_str(pk, state);
	pk_str(pk, "tasks");
	msgpack_pack_uint32(pk, j->g.ntasks);
	pk_str(pk, "waiting");
	msgpack_pack_uint32(pk, j->g.count[G_WAITING]);
	pk_str(pk, "ready");
	msgpack_pack_uint32(pk, j->g.count[G_READY]);
	pk_str(pk, "running");
	msgpack_pack_uint32(pk, j->g.count[G_RUNNING]);
	pk_str(pk, "done");
	msgpack_pack_uint32(pk, j->g.count[G_DONE]);
	pk_str(pk, "failed");
	msgpack_pack_uint32(pk, j->g.count[G_FAILED]);
	/* the first failure's message, for operators */
	const char *err = "";
	for (uint32_t i = 1; i <= j->g.ntasks && !*err; i++)
		if (j->g.tasks[i - 1].state == G_FAILED &&
		    j->g.tasks[i - 1].error)
			err = j->g.tasks[i - 1].error;
	pk_str(pk, "error");
	pk_str(pk, err);
	/* per node: running and done tasks (the node that ran each) */
	struct { uint64_t id; uint32_t running, done; } per[64];
	uint32_t np = 0;
	for (uint32_t i = 0; i < j->g.ntasks; i++) {
		struct gtask *t = &j->g.tasks[i];
		if (t->state != G_RUNNING && t->state != G_DONE)
			continue;
		uint32_t k;
		for (k = 0; k < np && per[k].id != t->node; k++)
			;
		if (k == np) {
			if (np == 64)
				continue;
			per[np++] = (typeof(per[0])){t->node, 0, 0};
		}
		if (t->state == G_RUNNING)
			per[k].running++;
		else
			per[k].done++;
	}
	pk_str(pk, "nodes");
	msgpack_pack_array(pk, np);
	for (uint32_t k = 0; k < np; k++) {
		struct nodeinfo *ni = map_get(&d->nodes, per[k].id);
		msgpack_pack_map(pk, 5);
		pk_str(pk, "node");
		msgpack_pack_uint64(pk, per[k].id);
		pk_str(pk, "name");
		pk_str(pk, ni ? ni->name : "?");
		pk_str(pk, "tier");
		pk_str(pk, place_tier_name(ni ? ni->tier : 0));
		pk_str(pk, "running");
		msgpack_pack_uint32(pk, per[k].running);
		pk_str(pk, "done");
		msgpack_pack_uint32(pk, per[k].done);
	}
}

static void
job_read(struct data *d, struct msg *m, struct job *j, struct mp_cur *c)
{
	uint64_t off;
	struct gref r;
	if (read_ref_fields(c, &r) != 0 || mp_read_uint(c, &off) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return;
	}
	struct gvalue *v = graph_value(&j->g, r);
	if (v == NULL || !v->available) {
		actor_reply_error(d->actor, m, v ? MIST_ENOTFOUND : MIST_EINVAL);
		return;
	}
	uint64_t self = d->actor->sys->node, holder = v->holders[0];
	for (uint32_t h = 0; h < v->nholders; h++)
		if (v->holders[h] == self)
			holder = self;
	struct buf b = BUF_INIT;
	jobs_pack_value_get(&b, self, j->id, r.task, r.out, off);
	if (holder == self) {
		/* served here, same code path as for a peer */
		struct msg *q = msg_new(MSG_VALUE_GET, b.data, (uint32_t)b.len);
		q->flags = m->flags;
		q->from = m->from;
		q->corr = m->corr;
		value_get(d, q);
		msg_delete(q);
	} else {
		struct relay *rl = xmalloc(sizeof(*rl));
		rl->req = req_copy(m);
		rl->job = j->id;
		rl->v = r;
		rl->holder = holder;
		uint64_t corr;
		struct actor_ref to = {holder, ACTOR_DATA};
		actor_request(d->actor, to, MSG_VALUE_GET, b.data,
			      (uint32_t)b.len, d->jn->cfg.fetch_timeout_ms,
			      &corr);
		map_put(&d->relays, corr, rl);
	}
	buf_destroy(&b);
}

static void
relay_reply(struct data *d, struct msg *m)
{
	struct relay *rl = map_del(&d->relays, m->corr);
	if (rl == NULL)
		return;
	if (m->status == 0) {
		actor_reply(d->actor, rl->req, MSG_JOB_READ, m->body, m->len);
	} else {
		struct job *j = map_get(&d->jobs, rl->job);
		if (j && m->status == MIST_ENOTFOUND) {
			graph_value_lost(&j->g, rl->v, rl->holder);
			job_dispatch(d, j);
		}
		actor_reply_error(d->actor, rl->req, MIST_ENOTFOUND);
	}
	msg_delete(rl->req);
	free(rl);
}

/* Elements of the body of each job request after [owner, job]... the
 * whole array, checked before the job is looked up. */
static uint32_t
request_arity(uint32_t type)
{
	switch (type) {
	case MSG_JOB_ATTACH: case MSG_JOB_STATUS:
	case MSG_JOB_CANCEL: case MSG_JOB_CLOSE: return 2;
	case MSG_JOB_RELEASE: return 3;
	case MSG_JOB_TASKS: case MSG_JOB_WAIT: return 4;
	case MSG_JOB_READ: return 5;
	default: return 0; /* CREATE (a map), LIST (nil): no job yet */
	}
}

static void
job_wait(struct data *d, struct msg *m, struct job *j, struct mp_cur *c)
{
	struct gref r;
	if (read_ref_fields(c, &r) != 0 || graph_value(&j->g, r) == NULL) {
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
	w->req = req_copy(m);
	w->deadline = m->deadline;
	w->v = r;
	job_wake(d, j);
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
	journal_put(d, j->id, 'D', 0, "", 0);
}

static void
client_request(struct data *d, struct msg *m)
{
	struct mp_cur c;
	uint32_t n;
	uint64_t cred, role;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 3 ||
	    mp_read_uint(&c, &cred) != 0 || mp_read_uint(&c, &role) != 0) {
		actor_reply_error(d->actor, m, MIST_EPROTO);
		return;
	}
	const uint8_t *inner = c.p;
	uint32_t ilen = (uint32_t)mp_cur_left(&c);
	struct job *j = NULL;
	uint32_t arity = request_arity(m->type);
	if (arity) {
		if (mp_read_array(&c, &n) != 0 || n != arity) {
			actor_reply_error(d->actor, m, MIST_EPROTO);
			return;
		}
		if ((j = client_job(d, m, &c, cred, role)) == NULL)
			return;
	}
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	switch (m->type) {
	case MSG_JOB_CREATE: {
		uint64_t id = d->jn->boot << 32 | ++d->next_job;
		j = job_new(d, id, cred);
		int rc = parse_policy(d, j, inner, ilen);
		if (rc != 0) {
			job_delete(d, j);
			actor_reply_error(d->actor, m, rc);
			break;
		}
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint64(&pk, cred);
		msgpack_pack_bin_with_body(&pk, inner, ilen);
		journal_put(d, id, 'A', 0, b.data, b.len);
		reply_ids(d, m, MSG_JOB_CREATE, d->actor->sys->node, id);
		break;
	}
	case MSG_JOB_ATTACH:
		reply_ids(d, m, MSG_JOB_ATTACH, j->id, j->g.ntasks);
		break;
	case MSG_JOB_TASKS: {
		const uint8_t *batch = c.p;
		size_t blen = mp_cur_left(&c);
		int rc = add_tasks(d, j, batch, (uint32_t)blen);
		if (rc < 0) {
			actor_reply_error(d->actor, m, rc);
			break;
		}
		if (rc == 0)
			journal_put(d, j->id, 'B', j->tseq++, batch, blen);
		reply_ids(d, m, MSG_JOB_TASKS, j->id, j->g.ntasks);
		job_dispatch(d, j);
		job_wake(d, j);
		break;
	}
	case MSG_JOB_WAIT:
		job_wait(d, m, j, &c);
		break;
	case MSG_JOB_READ:
		job_read(d, m, j, &c);
		break;
	case MSG_JOB_STATUS:
		job_status_pack(d, j, &pk);
		actor_reply(d->actor, m, MSG_JOB_STATUS, b.data, (uint32_t)b.len);
		break;
	case MSG_JOB_CANCEL:
	case MSG_JOB_CLOSE:
		job_cancel(d, j);
		job_wake(d, j);
		job_free_values(d, j);
		if (m->type == MSG_JOB_CLOSE) {
			journal_drop(d, j);
			job_delete(d, j);
		}
		actor_reply(d->actor, m, m->type, NULL, 0);
		dispatch_all(d);
		break;
	case MSG_JOB_RELEASE: {
		uint32_t nv;
		struct gref r;
		int rc = mp_read_array(&c, &nv) != 0 || nv > mp_cur_left(&c)
				 ? MIST_EPROTO : 0;
		for (uint32_t i = 0; rc == 0 && i < nv; i++)
			if ((rc = read_ref(&c, &r)) == 0)
				graph_release(&j->g, r);
		if (rc != 0)
			actor_reply_error(d->actor, m, rc);
		else
			actor_reply(d->actor, m, MSG_JOB_RELEASE, NULL, 0);
		break; /* sent one-way, it gets no reply: actor_reply refuses */
	}
	case MSG_JOB_LIST: {
		if (role != ROLE_ADMIN) {
			actor_reply_error(d->actor, m, MIST_EPERM);
			break;
		}
		msgpack_pack_array(&pk, (uint32_t)d->jobs.len);
		size_t it = 0;
		uint64_t k;
		void *v;
		while (map_next(&d->jobs, &it, &k, &v))
			job_status_pack(d, v, &pk);
		actor_reply(d->actor, m, MSG_JOB_LIST, b.data, (uint32_t)b.len);
		break;
	}
	}
	buf_destroy(&b);
}

/* ------------------------------------------------------------ journal */

struct replay {
	struct data *d;
	struct job *j;
};

static int
replay_cb(void *arg, const void *key, size_t klen, const void *val,
	  size_t vlen)
{
	struct replay *r = arg;
	struct data *d = r->d;
	const uint8_t *k = key;
	if (klen != 13 || vlen > UINT32_MAX)
		return 0;
	uint64_t jid = 0;
	for (int i = 0; i < 8; i++)
		jid = jid << 8 | k[i];
	uint32_t seq = buf_get_u32be(k + 9);
	struct mp_cur c;
	mp_cur_init(&c, val, vlen);
	if (k[8] == 'A') {
		uint32_t n;
		uint64_t cred;
		const uint8_t *inner;
		uint32_t ilen;
		if (mp_check(val, vlen, MP_MAX_DEPTH, &(size_t){0}) != 0 ||
		    mp_read_array(&c, &n) != 0 || n != 2 ||
		    mp_read_uint(&c, &cred) != 0 ||
		    mp_read_bin(&c, &inner, &ilen) != 0)
			return 0;
		r->j = job_new(d, jid, cred);
		parse_policy(d, r->j, inner, ilen);
		if ((uint32_t)jid > d->next_job && jid >> 32 == d->jn->boot)
			d->next_job = (uint32_t)jid;
		return 0;
	}
	struct job *j = r->j;
	if (j == NULL || j->id != jid)
		return 0;
	if (k[8] == 'B') {
		if (add_tasks(d, j, val, (uint32_t)vlen) == 0)
			j->tseq = seq + 1;
	} else if (k[8] == 'C') {
		uint32_t n;
		j->dseq = seq + 1;
		if (mp_read_array(&c, &n) != 0 || n > vlen)
			return 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t three, ns;
			uint64_t task, node, sizes[1024];
			if (mp_read_array(&c, &three) != 0 || three != 3 ||
			    mp_read_uint(&c, &task) != 0 ||
			    mp_read_uint(&c, &node) != 0 ||
			    mp_read_array(&c, &ns) != 0 || ns > 1024)
				return 0;
			for (uint32_t s = 0; s < ns; s++)
				if (mp_read_uint(&c, &sizes[s]) != 0)
					return 0;
			struct gtask *t = task <= UINT32_MAX
				? graph_task(&j->g, (uint32_t)task) : NULL;
			if (node == d->actor->sys->node || t == NULL ||
			    t->nout != ns || t->state != G_READY)
				continue;
			uint32_t a = graph_start(&j->g, (uint32_t)task, node);
			graph_done(&j->g, (uint32_t)task, a, node, sizes);
		}
	} else if (k[8] == 'D') {
		j->cancelled = true;
		graph_cancel(&j->g, MIST_ECANCELED, "the job was cancelled");
	}
	return 0;
}

static void
data_replay(struct data *d)
{
	if (d->jn->store == NULL)
		return;
	struct replay r = {d, NULL};
	d->replaying = true;
	store_scan(d->jn->store, STORE_JOBS, NULL, 0, replay_cb, &r);
	d->replaying = false;
	if (d->jobs.len)
		log_info("resumed %zu job(s) from the journal", d->jobs.len);
}

/* --------------------------------------------------------------- actor */

static void
data_tick(struct data *d)
{
	uint64_t now = now_ms(d);
	size_t it = 0;
	uint64_t k;
	void *v;
	struct job *expired = NULL;
	while (map_next(&d->jobs, &it, &k, &v)) {
		struct job *j = v;
		journal_flush(j);
		uint32_t keep = 0;
		for (uint32_t i = 0; i < j->nwaiters; i++)
			if (j->waiters[i].deadline == 0 ||
			    j->waiters[i].deadline > now)
				j->waiters[keep++] = j->waiters[i];
			else
				msg_delete(j->waiters[i].req);
		j->nwaiters = keep;
		if (graph_finished(&j->g) && now - j->touched > d->jn->cfg.retain_ms)
			expired = j;
	}
	if (expired) {
		log_info("dropping job %016llx: finished and idle",
			 (unsigned long long)expired->id);
		job_free_values(d, expired);
		journal_drop(d, expired);
		job_delete(d, expired);
	}
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
	struct job *j;
	while (d->jobs.len) {
		it = 0;
		map_next(&d->jobs, &it, &k, &v);
		j = v;
		job_delete(d, j);
	}
	it = 0;
	while (map_next(&d->nodes, &it, &k, &v))
		free(v);
	it = 0;
	while (map_next(&d->relays, &it, &k, &v)) {
		msg_delete(((struct relay *)v)->req);
		free(v);
	}
	map_destroy(&d->nodes);
	map_destroy(&d->jobs);
	map_destroy(&d->relays);
	d->jn->data = NULL;
	free(d);
}

static void
data_fn(struct actor *self, struct msg *m)
{
	struct data *d = self->state;
	if (m->flags & MSG_F_REPLY) {
		relay_reply(d, m); /* the only requests we make */
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
		member_event(d, m);
		return;
	case MSG_TASK_DONE:
		task_done(d, m);
		return;
	case MSG_VALUE_GET:
		if (m->flags & MSG_F_REQUEST)
			value_get(d, m);
		return;
	case MSG_VALUE_FREE:
		value_free(d, m);
		return;
	default:
		if (msgtype_is_client_job(m->type))
			client_request(d, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

int
data_spawn(struct actor_sys *sys, struct jobs_node *jn)
{
	struct data *d = xcalloc(1, sizeof(*d));
	d->jn = jn;
	map_init(&d->nodes, 3);
	map_init(&d->jobs, 4);
	map_init(&d->relays, 5);
	d->actor = actor_spawn(sys, ACTOR_DATA, "data", data_fn, d);
	if (d->actor == NULL) {
		map_destroy(&d->nodes);
		map_destroy(&d->jobs);
		map_destroy(&d->relays);
		free(d);
		return MIST_EEXIST;
	}
	jn->data = d;
	d->started = now_ms(d);
	struct nodeinfo *me = node_get(d, sys->node);
	me->alive = true;
	snprintf(me->name, sizeof(me->name), "%s", jn->self.name);
	me->tier = jn->self.tier ? jn->self.tier : TIER_FOG;
	me->cores = jn->self.cores ? jn->self.cores : 1;
	me->speed = jn->self.speed > 0 ? jn->self.speed : 1;
	me->power = jn->self.power;
	me->price = jn->self.price;
	struct actor_ref swim = {sys->node, ACTOR_SWIM};
	actor_tell(d->actor, swim, MSG_SWIM_SUBSCRIBE, NULL, 0);
	actor_timer_start(d->actor, &d->tick, DATA_TICK_MS, DATA_TICK_MS, 1);
	data_replay(d);
	return 0;
}

void
jobs_set_functions(struct jobs_node *jn, const char *const *names, uint32_t n)
{
	struct data *d = jn->data;
	if (d == NULL)
		return;
	uint32_t lens[DATA_MAX_FNS];
	if (n > DATA_MAX_FNS)
		n = DATA_MAX_FNS;
	for (uint32_t i = 0; i < n; i++)
		lens[i] = (uint32_t)strlen(names[i]);
	node_set_fns(d, node_get(d, d->actor->sys->node), names, lens, n);
	dispatch_all(d);
}
