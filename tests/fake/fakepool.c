/*
 * fakepool.c -- the executor pool in virtual time (fakepool.h).
 */
#include "fakepool.h"
#include "data/data.h"
#include "function/function.h"
#include "mist.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void
run_free_outs(struct fake_run *r)
{
	if (r->outs == NULL)
		return;
	for (uint32_t i = 0; i < r->nout; i++)
		buf_destroy(&r->outs[i]);
	free(r->outs);
	r->outs = NULL;
}

/* Starts queued runs on free slots. */
static void
pool_start(struct fake_pool *p)
{
	for (uint32_t s = 0; s < p->executors && p->next < p->nruns; s++) {
		if (p->slot[s] >= 0)
			continue;
		struct fake_run *r = &p->runs[p->next];
		p->slot[s] = (int32_t)p->next++;
		r->started = actor_sys_now(p->sys);
		/* the tag is the slot: one timer per slot */
		actor_timer_start(p->actor, &p->timer[s], r->duration, 0, s);
	}
}

/* The run on slot @a s ended: its result goes to the function actor. */
static void
pool_end(struct fake_pool *p, uint32_t s)
{
	if (s >= p->executors || p->slot[s] < 0)
		return;
	struct fake_run *r = &p->runs[p->slot[s]];
	p->slot[s] = -1;
	r->ended = actor_sys_now(p->sys);
	p->ended++;
	uint32_t n = r->status == 0 ? r->nout : 0;
	struct func_result *res = func_result_new(
		r->key, r->status, r->status ? r->err : NULL, n,
		r->duration > UINT32_MAX / 1000 ? UINT32_MAX
						: (uint32_t)(r->duration * 1000));
	for (uint32_t i = 0; i < n; i++)
		res->outs[i] = vval_new(r->outs[i].data, (uint32_t)r->outs[i].len);
	run_free_outs(r);
	func_result_post(p->sys, res);
	pool_start(p);
}

/* fp_submit runs in the function actor's turn, so it asks the pool actor,
 * by this local message, to start what was queued: an actor acts (starts
 * its timers) only in its own turn.  Same virtual instant. */
#define FAKE_POOL_KICK 9001

static void
pool_fn(struct actor *self, struct msg *m)
{
	struct fake_pool *p = self->state;
	if (m->type == FAKE_POOL_KICK) {
		p->kicked = false;
		pool_start(p);
	} else if (m->type == MSG_TIMER) {
		pool_end(p, (uint32_t)m->corr);
	} else if (m->type == MSG_STOP) {
		for (uint32_t s = 0; s < p->executors; s++)
			if (p->slot[s] >= 0)
				actor_timer_stop(self, &p->timer[s]);
		for (uint32_t i = 0; i < p->nruns; i++)
			run_free_outs(&p->runs[i]);
		p->closed = 1;
		p->actor = NULL;
		self->state = NULL;
	}
}

static int
fp_fn_index(void *pool, const char *name, uint32_t len)
{
	struct fake_pool *p = pool;
	for (uint32_t i = 0; i < p->nfns; i++)
		if (strlen(p->fns[i].name) == len &&
		    memcmp(p->fns[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int
fp_submit(void *pool, uint64_t key, uint32_t fn, const uint8_t *args,
	  uint32_t alen, const struct mist_blob *inputs, uint32_t nin,
	  uint32_t nout, uint32_t wall_ms)
{
	struct fake_pool *p = pool;
	/* only function calls bring a wall time, and none runs in the
	 * simulated job tests: attempts always pass 0 */
	(void)wall_ms;
	if (p->closed)
		return MIST_ECLOSED;
	if (fn >= p->nfns)
		return MIST_ENOTFOUND;
	if (p->nruns == p->capruns) {
		p->capruns = p->capruns ? 2 * p->capruns : 64;
		p->runs = xrealloc(p->runs, p->capruns * sizeof(*p->runs));
	}
	struct fake_run *r = &p->runs[p->nruns++];
	memset(r, 0, sizeof(*r));
	r->key = key;
	r->fn = fn;
	r->args = xmalloc(alen ? alen : 1);
	if (alen)
		memcpy(r->args, args, alen);
	r->alen = alen;
	r->submitted = actor_sys_now(p->sys);
	r->nout = nout;
	r->outs = xcalloc(nout ? nout : 1, sizeof(*r->outs));
	uint64_t work = 0;
	if (p->fns[fn].run(p->ctx, args, alen, inputs, nin, r->outs, nout,
			   &work, r->err, sizeof(r->err)) != 0) {
		r->status = MIST_ETASK;
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err), "failed");
	} else if (nout > 0) {
		r->out0 = fnv(r->outs[0].data, r->outs[0].len);
	}
	/* work / speed, rounded up to a whole ms */
	uint64_t d = (uint64_t)((double)work / p->speed);
	if ((double)d * p->speed < (double)work)
		d++;
	r->duration = d;
	if (!p->kicked && p->actor != NULL) {
		p->kicked = true;
		actor_sys_deliver(p->sys, actor_local_msg(p->sys, p->actor->id,
							  FAKE_POOL_KICK, NULL,
							  0));
	}
	return 0;
}

/* The simulated functions have no host API: they never ask the host, so
 * no task waits for a host reply. */
static uint32_t
fp_fn_flags(void *pool, uint32_t fn)
{
	(void)pool;
	(void)fn;
	return 0;
}

static int
fp_host_reply(void *pool, uint64_t key, uint32_t hid, int status,
	      const void *body, size_t len)
{
	(void)pool;
	(void)key;
	(void)hid;
	(void)status;
	(void)body;
	(void)len;
	return MIST_ENOTFOUND;
}

const struct pool_ops fake_pool_ops = {fp_fn_index, fp_submit, fp_fn_flags,
				       fp_host_reply, NULL};

struct fake_pool *
fake_pool_new(struct actor_sys *sys, uint32_t executors, double speed,
	      const struct fake_func *fns, uint32_t nfns, void *ctx)
{
	if (executors < 1 || executors > FAKE_POOL_MAX_EXECUTORS ||
	    !(speed > 0) || nfns > EXEC_MAX_FUNCTIONS)
		return NULL;
	struct fake_pool *p = xcalloc(1, sizeof(*p));
	p->sys = sys;
	p->node = sys->node;
	p->speed = speed;
	p->fns = fns;
	p->nfns = nfns;
	p->ctx = ctx;
	p->executors = executors;
	for (uint32_t s = 0; s < executors; s++)
		p->slot[s] = -1;
	p->actor = actor_spawn(sys, 0, "fakepool", pool_fn, p);
	if (p->actor == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
fake_pool_ready(struct fake_pool *p)
{
	const char *names[EXEC_MAX_FUNCTIONS];
	for (uint32_t i = 0; i < p->nfns; i++) /* <= EXEC_MAX_FUNCTIONS */
		names[i] = p->fns[i].name;
	data_functions_post(p->sys, names, p->nfns);
}

void
fake_pool_delete(struct fake_pool *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 0; i < p->nruns; i++) {
		run_free_outs(&p->runs[i]);
		free(p->runs[i].args);
	}
	free(p->runs);
	free(p);
}
