/*
 * graph.c -- task graph bookkeeping; the rules are in graph.h.
 *
 * Invariant: for every task WAITING, READY or RUNNING, `missing` is the
 * number of its inputs (with repeats) whose value is not available.  A task
 * leaving DONE (recomputed) has it counted afresh.  Cascades (failure of
 * dependants, recomputation of producers) use explicit work lists: a chain
 * of a million tasks must not overflow the stack.
 */
#include "config.h"
#include "data/graph.h"
#include "data/jobs.h"
#include "mist.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failed task's message: a function's own words (EXEC_ERR_MAX) and what
 * the owner says around them (where, which input).  A failure that runs
 * down a chain of inputs keeps the first cause's words, cut at this. */
#define GRAPH_ERR_MAX (EXEC_ERR_MAX + 256)

struct idlist {
	uint32_t *v;
	uint32_t n, cap;
};

static void
idl_push(struct idlist *l, uint32_t id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = id;
}

void
graph_init(struct graph *g, uint16_t max_failures, uint16_t max_losses)
{
	memset(g, 0, sizeof(*g));
	g->max_failures = max_failures ? max_failures : 1;
	g->max_losses = max_losses;
}

void
graph_destroy(struct graph *g)
{
	for (uint32_t i = 0; i < g->ntasks; i++) {
		struct gtask *t = &g->tasks[i];
		for (uint32_t j = 0; j < t->nout; j++)
			free(t->out[j].readers);
		free(t->out);
		free(t->in);
		free(t->args);
		free(t->error);
	}
	free(g->tasks);
	free(g->ready);
	memset(g, 0, sizeof(*g));
}

struct gtask *
graph_task(const struct graph *g, uint32_t id)
{
	return id >= 1 && id <= g->ntasks ? &g->tasks[id - 1] : NULL;
}

struct gvalue *
graph_value(const struct graph *g, struct gref v)
{
	struct gtask *t = graph_task(g, v.task);
	return t && v.out < t->nout ? &t->out[v.out] : NULL;
}

bool
graph_input_ok(const struct graph *g, struct gref r)
{
	struct gvalue *v = graph_value(g, r);
	return v != NULL && !(v->freed && v->released);
}

static void
ready_push(struct graph *g, uint32_t id, bool front)
{
	if (g->rlen == g->rcap) {
		uint32_t ncap = g->rcap ? g->rcap * 2 : 64;
		uint32_t *n = xmalloc(ncap * sizeof(*n));
		for (uint32_t i = 0; i < g->rlen; i++)
			n[i] = g->ready[(g->rhead + i) % g->rcap];
		free(g->ready);
		g->ready = n;
		g->rhead = 0;
		g->rcap = ncap;
	}
	if (front) {
		g->rhead = (g->rhead + g->rcap - 1) % g->rcap;
		g->ready[g->rhead] = id;
	} else {
		g->ready[(g->rhead + g->rlen) % g->rcap] = id;
	}
	g->rlen++;
}

static void
set_state(struct graph *g, uint32_t id, enum gstate st)
{
	struct gtask *t = &g->tasks[id - 1];
	g->count[t->state]--;
	g->count[st]++;
	t->state = (uint8_t)st;
	t->since = g->clock ? g->clock(g->ctx) : 0;
	if (st == G_READY)
		ready_push(g, id, false);
}

static bool
pending(const struct gtask *t)
{
	return t->state == G_WAITING || t->state == G_READY ||
	       t->state == G_RUNNING;
}

static bool
needed(const struct gvalue *v)
{
	return !v->released || v->readers_left > 0;
}

static void
maybe_free(struct graph *g, struct gref r)
{
	struct gvalue *v = graph_value(g, r);
	if (!v->released || v->readers_left > 0 || v->freed || !v->available ||
	    v->pinned)
		return;
	if (g->on_free)
		g->on_free(g->ctx, r, v->holders, v->nholders);
	v->freed = true;
	v->available = false;
	v->nholders = 0;
}

/* Recomputes the producers of the values in @a todo (lost, needed). */
static void
recompute(struct graph *g, struct idlist *todo)
{
	while (todo->n > 0) {
		uint32_t id = todo->v[--todo->n];
		struct gtask *t = &g->tasks[id - 1];
		if (t->state != G_DONE)
			continue;
		g->recomputed++;
		t->missing = 0;
		for (uint32_t i = 0; i < t->nin; i++) {
			struct gvalue *v = graph_value(g, t->in[i]);
			v->readers_left++;
			if (!v->available) {
				t->missing++;
				v->freed = false;
				idl_push(todo, t->in[i].task);
			}
		}
		set_state(g, id, t->missing ? G_WAITING : G_READY);
	}
}

static void
value_available(struct graph *g, struct gvalue *v)
{
	v->available = true;
	v->freed = false;
	for (uint32_t i = 0; i < v->nreaders; i++) {
		struct gtask *r = &g->tasks[v->readers[i] - 1];
		if (!pending(r))
			continue;
		if (--r->missing == 0 && r->state == G_WAITING)
			set_state(g, v->readers[i], G_READY);
	}
}

static void
value_lost(struct graph *g, struct gref ref, struct idlist *todo)
{
	struct gvalue *v = graph_value(g, ref);
	if (!v->available)
		return;
	v->available = false;
	for (uint32_t i = 0; i < v->nreaders; i++) {
		struct gtask *r = &g->tasks[v->readers[i] - 1];
		if (!pending(r))
			continue;
		r->missing++;
		if (r->state == G_READY)
			set_state(g, v->readers[i], G_WAITING);
	}
	if (needed(v))
		idl_push(todo, ref.task);
}

/* Fails @a id and, transitively, every pending task reading its outputs. */
static void
fail_cascade(struct graph *g, uint32_t id, int status, const char *error)
{
	struct idlist work = {0};
	idl_push(&work, id);
	bool first = true;
	while (work.n > 0) {
		uint32_t tid = work.v[--work.n];
		struct gtask *t = &g->tasks[tid - 1];
		if (t->state == G_FAILED || t->state == G_DONE)
			continue;
		char buf[GRAPH_ERR_MAX];
		if (first)
			snprintf(buf, sizeof(buf), "%s", error);
		else
			snprintf(buf, sizeof(buf), "input from task %u failed: %s",
				 id, error);
		first = false;
		free(t->error);
		t->error = xstrdup(buf);
		t->status = status;
		set_state(g, tid, G_FAILED);
		for (uint32_t i = 0; i < t->nin; i++) {
			graph_value(g, t->in[i])->readers_left--;
			maybe_free(g, t->in[i]);
		}
		for (uint32_t o = 0; o < t->nout; o++) {
			struct gvalue *v = &t->out[o];
			for (uint32_t i = 0; i < v->nreaders; i++)
				if (pending(&g->tasks[v->readers[i] - 1]))
					idl_push(&work, v->readers[i]);
		}
	}
	free(work.v);
}

int
graph_add(struct graph *g, uint16_t fn, const uint8_t *args, uint32_t alen,
	  const struct gref *in, uint32_t nin, uint32_t nout)
{
	if (nout > JOBS_MAX_OUTPUTS || g->ntasks == UINT32_MAX - 1)
		return MIST_EINVAL;
	const struct gtask *failed_in = NULL;
	for (uint32_t i = 0; i < nin; i++) {
		if (!graph_input_ok(g, in[i]))
			return MIST_EINVAL;
		if (g->tasks[in[i].task - 1].state == G_FAILED)
			failed_in = &g->tasks[in[i].task - 1];
	}
	if (g->ntasks == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->tasks = xrealloc(g->tasks, g->cap * sizeof(*g->tasks));
	}
	uint32_t id = ++g->ntasks;
	struct gtask *t = &g->tasks[id - 1];
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->nin = nin;
	t->nout = nout;
	t->alen = alen;
	t->args = xmalloc(alen ? alen : 1);
	if (alen)
		memcpy(t->args, args, alen);
	t->in = xmalloc((nin ? nin : 1) * sizeof(*t->in));
	if (nin)
		memcpy(t->in, in, nin * sizeof(*in));
	t->out = xcalloc(nout ? nout : 1, sizeof(*t->out));
	t->state = G_WAITING;
	t->since = g->clock ? g->clock(g->ctx) : 0;
	g->count[G_WAITING]++;
	if (failed_in) {
		char why[GRAPH_ERR_MAX];
		snprintf(why, sizeof(why), "an input's producer failed: %s",
			 failed_in->error ? failed_in->error : "?");
		for (uint32_t i = 0; i < nin; i++) {
			struct gvalue *v = graph_value(g, in[i]);
			v->readers_left++;
		}
		fail_cascade(g, id, failed_in->status, why);
		return 0;
	}
	struct idlist todo = {0};
	for (uint32_t i = 0; i < nin; i++) {
		struct gvalue *v = graph_value(g, in[i]);
		if (v->nreaders == v->capreaders) {
			v->capreaders = v->capreaders ? v->capreaders * 2 : 4;
			v->readers = xrealloc(v->readers,
					      v->capreaders * sizeof(uint32_t));
		}
		v->readers[v->nreaders++] = id;
		v->readers_left++;
		if (!v->available) {
			t->missing++;
			v->freed = false;
			idl_push(&todo, in[i].task);
		}
	}
	recompute(g, &todo);
	free(todo.v);
	if (t->missing == 0)
		set_state(g, id, G_READY);
	return 0;
}

uint32_t
graph_pop_ready(struct graph *g)
{
	while (g->rlen > 0) {
		uint32_t id = g->ready[g->rhead];
		g->rhead = (g->rhead + 1) % g->rcap;
		g->rlen--;
		if (g->tasks[id - 1].state == G_READY) {
			/* a stale duplicate behind it is skipped: mark it */
			return id;
		}
	}
	return 0;
}

void
graph_unpop(struct graph *g, uint32_t id)
{
	ready_push(g, id, true);
}

uint32_t
graph_start(struct graph *g, uint32_t id, uint64_t node)
{
	struct gtask *t = &g->tasks[id - 1];
	set_state(g, id, G_RUNNING);
	t->node = node;
	return ++t->attempt + g->attempt_base;
}

static struct gtask *
fenced(struct graph *g, uint32_t id, uint32_t attempt)
{
	struct gtask *t = graph_task(g, id);
	if (t == NULL || t->state != G_RUNNING ||
	    t->attempt + g->attempt_base != attempt)
		return NULL;
	return t;
}

int
graph_done(struct graph *g, uint32_t id, uint32_t attempt, uint64_t node,
	   const uint64_t *sizes)
{
	struct gtask *t = fenced(g, id, attempt);
	if (t == NULL)
		return MIST_EINVAL;
	set_state(g, id, G_DONE);
	for (uint32_t o = 0; o < t->nout; o++) {
		struct gvalue *v = &t->out[o];
		v->size = sizes ? sizes[o] : 0;
		graph_value_copied(g, (struct gref){id, o}, node);
	}
	for (uint32_t i = 0; i < t->nin; i++) {
		graph_value(g, t->in[i])->readers_left--;
		maybe_free(g, t->in[i]);
	}
	for (uint32_t o = 0; o < t->nout; o++)
		maybe_free(g, (struct gref){id, o});
	return 0;
}

int
graph_failed(struct graph *g, uint32_t id, uint32_t attempt, int status,
	     const char *error, bool counts)
{
	struct gtask *t = fenced(g, id, attempt);
	if (t == NULL)
		return MIST_EINVAL;
	if (counts && ++t->failures >= g->max_failures) {
		fail_cascade(g, id, status, error);
		return 0;
	}
	set_state(g, id, t->missing ? G_WAITING : G_READY);
	return 0;
}

int
graph_attempt_lost(struct graph *g, uint32_t id, uint32_t attempt)
{
	struct gtask *t = fenced(g, id, attempt);
	if (t == NULL)
		return MIST_EINVAL;
	if (++t->losses > g->max_losses) {
		fail_cascade(g, id, MIST_ETASK, "its attempts kept vanishing");
	} else {
		g->lost_attempts++;
		set_state(g, id, t->missing ? G_WAITING : G_READY);
	}
	return 0;
}

static void
drop_holder(struct graph *g, struct gref r, uint64_t node, struct idlist *todo)
{
	struct gvalue *v = graph_value(g, r);
	for (uint32_t h = 0; h < v->nholders; h++)
		if (v->holders[h] == node) {
			v->holders[h] = v->holders[--v->nholders];
			if (v->nholders == 0)
				value_lost(g, r, todo);
			return;
		}
}

void
graph_node_lost(struct graph *g, uint64_t node)
{
	struct idlist todo = {0};
	for (uint32_t id = 1; id <= g->ntasks; id++) {
		struct gtask *t = &g->tasks[id - 1];
		for (uint32_t o = 0; o < t->nout; o++)
			drop_holder(g, (struct gref){id, o}, node, &todo);
	}
	for (uint32_t id = 1; id <= g->ntasks; id++) {
		struct gtask *t = &g->tasks[id - 1];
		if (t->state != G_RUNNING || t->node != node)
			continue;
		if (++t->losses > g->max_losses) {
			fail_cascade(g, id, MIST_ETASK,
				     "its nodes kept vanishing");
		} else {
			g->lost_attempts++;
			set_state(g, id, t->missing ? G_WAITING : G_READY);
		}
	}
	recompute(g, &todo);
	free(todo.v);
}

void
graph_value_lost(struct graph *g, struct gref v, uint64_t node)
{
	if (graph_value(g, v) == NULL)
		return;
	struct idlist todo = {0};
	drop_holder(g, v, node, &todo);
	recompute(g, &todo);
	free(todo.v);
}

void
graph_value_copied(struct graph *g, struct gref r, uint64_t node)
{
	struct gvalue *v = graph_value(g, r);
	if (v == NULL)
		return;
	bool have = false;
	for (uint32_t h = 0; h < v->nholders; h++)
		have |= v->holders[h] == node;
	if (!have && v->nholders < GRAPH_MAX_HOLDERS)
		v->holders[v->nholders++] = node;
	if (!v->available && v->nholders > 0)
		value_available(g, v);
}

void
graph_pin(struct graph *g, struct gref r)
{
	struct gvalue *v = graph_value(g, r);
	if (v != NULL)
		v->pinned = true;
}

void
graph_unpin(struct graph *g, struct gref r)
{
	struct gvalue *v = graph_value(g, r);
	if (v == NULL || !v->pinned)
		return;
	v->pinned = false;
	maybe_free(g, r);
}

int
graph_release(struct graph *g, struct gref r)
{
	struct gvalue *v = graph_value(g, r);
	if (v == NULL)
		return MIST_EINVAL;
	v->released = true;
	maybe_free(g, r);
	return 0;
}

void
graph_fail_ready(struct graph *g, uint32_t id, int status, const char *why)
{
	if (graph_task(g, id) && g->tasks[id - 1].state == G_READY)
		fail_cascade(g, id, status, why);
}

void
graph_cancel(struct graph *g, int status, const char *why)
{
	for (uint32_t id = 1; id <= g->ntasks; id++)
		if (pending(&g->tasks[id - 1]))
			fail_cascade(g, id, status, why);
}

bool
graph_finished(const struct graph *g)
{
	return g->count[G_WAITING] + g->count[G_READY] + g->count[G_RUNNING] ==
	       0;
}
