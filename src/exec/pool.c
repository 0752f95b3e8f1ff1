/*
 * pool.c -- the agent's side of the executors (see exec.h).
 *
 * State per executor: a process, a pipe, the FIFO of tasks sent to it (the
 * head is the one running), bytes waiting to be written.  Tasks that find
 * every executor full wait in the pool's FIFO.  Writes are gathered and
 * issued from a prepare handle, once per loop iteration, so the tasks an
 * actor turn produced go out in one write per executor.
 *
 * Failure accounting: an executor writes the replies of a batch together,
 * so when it dies any task still in its FIFO may be the one that was
 * running.  If only one was in flight, that one failed; otherwise they all
 * go back to the front of the wait queue as suspects, and a suspect runs
 * alone on an idle executor -- if it kills that one too, it is the only
 * task in flight and fails.  Functions are deterministic, so running an
 * innocent task again is harmless.  An executor that dies before its hello counts as a
 * start failure; after EXEC_START_FAILURES in a row the pool stops
 * respawning and fails what waits (a broken plugin, not a broken task).
 *
 * Host calls (exec.h): tasks run on coroutines, so they may end out of
 * order and several may have started.  A task known to have started is
 * timed from then: the head of an executor's FIFO from when it became the
 * head (the executor's replies come at most EXEC_FLUSH_US late, so that is
 * close to when it started), any other from its first host request.  A
 * task that has made a host call is "hosted": it may have written
 * documents, so when its executor dies it fails instead of going back to
 * the queue.  Host requests of one read go to the host callback in one
 * call; pool_host_reply() queues the answer in the executor's out buffer,
 * written by the same prepare handle as the tasks.
 *
 * Wall time: a task past its limit -- the pool's, or the task's own if
 * smaller (an add-on call's deadline) -- that waits for the host is not
 * killed: its host call is answered MIST_ETIMEDOUT at once, and it has
 * POOL_HOST_GRACE_MS more to return.  Otherwise the watchdog kills the
 * executor whose started task ran past its limit.  That task fails with
 * the wall-time message;
 * the hosted tasks of the executor fail ("its executor was stopped after
 * the call had used the host API"); the others were not started or never touched
 * the host, and go back to the queue, not as suspects (the culprit is
 * known).
 * A task with its own limit also expires, unstarted, that long after it
 * was submitted: the dispatcher and the watchdog end it rather than send
 * it (a task already in an executor's pipe runs: killing the executor for
 * it would send every task around it back as a suspect, to run alone).
 */
#include "config.h"
#include "exec/exec.h"
#include "function/fnread.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Executors that die before their hello, in a row, before the pool gives
 * up: one or two can be bad luck (OOM killer, a signal at start); three
 * in a row is a plugin that cannot load, and respawning for ever would
 * only burn CPU. */
#define EXEC_START_FAILURES 3
/* Bytes asked of the pipe per read: one read takes a batch of small
 * replies (32 pipelined no-op results are ~1 KiB), and a large output
 * grows the buffer to its frame as it comes. */
#define POOL_READ_CHUNK 65536
/* The wall-time watchdog checks ten times per limit, so a task overruns
 * by at most a tenth; but never more often than every 10 ms (cheap, and
 * no limit is that short) nor less than every 100 ms. */
#define POOL_WATCHDOG_SPLIT 10
#define POOL_WATCHDOG_MIN_MS 10
#define POOL_WATCHDOG_MAX_MS 100
/* A task that has called the host and is past its wall time gets this
 * long to return before its executor is killed: the watchdog ends a host
 * call that is still waiting then (MIST_ETIMEDOUT), and the function,
 * handed that answer, usually returns at once.  Killing the executor
 * instead would fail every other call that used the host on it; 100 ms
 * is what the gateway waits past a deadline anyway (REST_REPLY_SLACK_MS). */
#define POOL_HOST_GRACE_MS 100

struct ptask {
	struct ptask *next;
	uint64_t key;
	bool suspect; /* was in flight when an executor died: runs alone */
	uint32_t wall_ms; /* its own wall-time limit, 0: the pool's */
	uint64_t expires; /* loop ms: not started after this (0: never) */
	uint64_t since; /* loop ms: known to have started then (0: not) */
	bool hosted;	/* has made a host call */
	bool host_wait; /* a host call is unanswered */
	uint32_t hid;	/* its last host call */
	uint32_t len; /* frame bytes, header included */
	uint8_t frame[];
};

struct tqueue {
	struct ptask *head, *tail;
	uint32_t n;
};

static void
tq_push(struct tqueue *q, struct ptask *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->n++;
}

/* Moves all of @a from, in order, before the tasks of @a q. */
static void
tq_splice_front(struct tqueue *q, struct tqueue *from)
{
	if (from->head == NULL)
		return;
	from->tail->next = q->head;
	if (q->tail == NULL)
		q->tail = from->tail;
	q->head = from->head;
	q->n += from->n;
	*from = (struct tqueue){0};
}

/* Takes @a t out of @a q (it is there). */
static void
tq_remove(struct tqueue *q, struct ptask *t)
{
	struct ptask **pp = &q->head, *prev = NULL;
	while (*pp != t) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = t->next;
	if (q->tail == t)
		q->tail = prev;
	q->n--;
	t->next = NULL;
}

static struct ptask *
tq_find(const struct tqueue *q, uint64_t key)
{
	for (struct ptask *t = q->head; t; t = t->next)
		if (t->key == key)
			return t;
	return NULL;
}

static struct ptask *
tq_pop(struct tqueue *q)
{
	struct ptask *t = q->head;
	if (t == NULL)
		return NULL;
	q->head = t->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	return t;
}

enum xstate { X_STARTING, X_READY, X_DEAD };

struct executor {
	struct pool *pool;
	uv_process_t proc;
	uv_pipe_t pipe;
	enum xstate state;
	struct tqueue inflight;
	uint64_t kill_key;   /* the task a wall-time kill was for, or 0 */
	struct buf out;	     /* frames not yet written */
	struct buf in;
	const char *kill_reason; /* set when we killed it */
	char kill_msg[64];	 /* a wall-time kill's reason */
	int handles;
};

struct pool {
	uv_loop_t *loop;
	struct pool_config cfg;
	pool_done_cb done;
	pool_ready_cb ready;
	void *ctx;
	struct executor **xs;
	struct tqueue waiting;
	char (*names)[EXEC_NAME_MAX];
	uint32_t *flags; /* MIST_FN_* per function */
	char (*reads)[MIST_READ_MAX]; /* declared read per function, or "" */
	uint32_t nnames;
	pool_host_cb host; /* or NULL */
	struct buf hreqs;  /* struct pool_host_req of the current read */
	bool have_names;
	uint32_t start_failures;
	bool broken, closing;
	/* the attempts the current event ended, for one call of the done
	 * callback (pool_results_flush): results, then the outputs of the
	 * successes and the messages of the failures, each in result order */
	struct buf results; /* struct pool_result, outs and err unset */
	struct buf outs;    /* struct mist_blob, into an executor's input */
	struct buf errs;    /* NUL-terminated messages */
	uv_prepare_t flush;
	uv_timer_t watchdog;
	uint64_t tick_ms; /* the watchdog's period */
	bool expiring;	  /* some task was given a wall time: sweep */
	int handles;
	char *exe;
};

void
pool_config_default(struct pool_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->executors = cores > 0 ? (uint32_t)cores : 1;
	/* Enough tasks in each executor's socket to hide the hand-off (a
	 * wake-up costs 20-30 us here) without hoarding work another
	 * executor could take. */
	cfg->depth = 32;
	/* 1 GiB of address space: a generous task on a small node; a hog
	 * sees its allocations fail instead of pushing the node into swap */
	cfg->memory_mb = 1024;
	/* a minute of CPU per attempt: far above a task meant for a fog
	 * node, short enough that a runaway loop is stopped the same minute */
	cfg->cpu_ms = 60000;
	/* wall time: twice the CPU limit, so that a task that sleeps or
	 * blocks is bounded too, without killing honest CPU-bound ones */
	cfg->wall_ms = 120000;
}

static void pool_spawn(struct pool *p, uint32_t i);
static void pool_dispatch(struct pool *p);

static void
pool_maybe_free(struct pool *p)
{
	if (!p->closing || p->handles > 0)
		return;
	for (uint32_t i = 0; i < p->cfg.executors; i++)
		if (p->xs[i])
			return;
	free(p->xs);
	buf_destroy(&p->results);
	buf_destroy(&p->outs);
	buf_destroy(&p->errs);
	buf_destroy(&p->hreqs);
	free(p->names);
	free(p->flags);
	free(p->reads);
	free(p->exe);
	free(p);
}

/* Ends task @a t: its result joins the event's batch (@a outs are not
 * copied: they must last until pool_results_flush(), which every event
 * that ends tasks calls before it returns or moves an input buffer). */
static void
pool_finish(struct pool *p, struct ptask *t, int status, const char *err,
	    const struct mist_blob *outs, uint32_t nout, uint32_t us)
{
	struct pool_result r = {t->key, status, NULL, NULL, 0, us};
	free(t);
	if (status == 0) {
		r.nout = nout;
		buf_append(&p->outs, outs, nout * sizeof(*outs));
	} else {
		buf_append(&p->errs, err, strlen(err) + 1);
	}
	buf_append(&p->results, &r, sizeof(r));
}

/* Hands the event's batch to the done callback, in one call. */
static void
pool_results_flush(struct pool *p)
{
	if (p->results.len == 0)
		return;
	struct pool_result *rs = (struct pool_result *)p->results.data;
	uint32_t n = (uint32_t)(p->results.len / sizeof(*rs));
	const struct mist_blob *o = (const struct mist_blob *)p->outs.data;
	const char *e = (const char *)p->errs.data;
	for (uint32_t i = 0; i < n; i++) {
		if (rs[i].status == 0) {
			rs[i].outs = o;
			o += rs[i].nout;
		} else {
			rs[i].err = e;
			e += strlen(e) + 1;
		}
	}
	p->done(p->ctx, rs, n);
	buf_reset(&p->results);
	buf_reset(&p->outs);
	buf_reset(&p->errs);
}

static void
x_handle_closed(uv_handle_t *h)
{
	struct executor *x = h->data;
	if (--x->handles > 0)
		return;
	struct pool *p = x->pool;
	for (uint32_t i = 0; i < p->cfg.executors; i++)
		if (p->xs[i] == x) {
			p->xs[i] = NULL;
			buf_destroy(&x->in);
			buf_destroy(&x->out);
			free(x);
			if (!p->closing && !p->broken)
				pool_spawn(p, i);
			break;
		}
	if (p->closing)
		pool_maybe_free(p);
}

/* The executor is gone or must go: settle its tasks, close its handles. */
static void
x_retire(struct executor *x, const char *why)
{
	struct pool *p = x->pool;
	if (x->state == X_DEAD)
		return;
	bool started = x->state == X_READY;
	x->state = X_DEAD;
	if (!uv_is_closing((uv_handle_t *)&x->pipe))
		uv_close((uv_handle_t *)&x->pipe, x_handle_closed);
	/* Which task killed it?  A wall-time kill knows (kill_key).
	 * Otherwise an executor writes a batch's replies together, so any
	 * task still in flight may have been the one running.  Alone in
	 * flight it is the culprit; otherwise all go back, first, as suspects
	 * that run one at a time.  Either way a task that has called the host
	 * fails: it may have written documents already. */
	struct ptask *head = NULL, *t, *culprit = NULL;
	if (x->kill_key && !p->closing &&
	    (culprit = tq_find(&x->inflight, x->kill_key)) != NULL)
		tq_remove(&x->inflight, culprit);
	else if (x->inflight.n == 1 || p->closing)
		head = tq_pop(&x->inflight);
	struct tqueue keep = {0};
	while ((t = tq_pop(&x->inflight)) != NULL) {
		if (t->hosted && !p->closing) {
			char msg[EXEC_ERR_MAX];
			snprintf(msg, sizeof(msg),
				 "its executor was stopped after the call had "
				 "used the host API (%s); such a call is not "
				 "run again", why);
			pool_finish(p, t, MIST_ETASK, msg, NULL, 0, 0);
			continue;
		}
		t->suspect = culprit == NULL;
		t->since = 0;
		tq_push(&keep, t);
	}
	tq_splice_front(&p->waiting, &keep);
	if (culprit)
		pool_finish(p, culprit, MIST_ETASK, why, NULL, 0, 0);
	if (started) {
		p->start_failures = 0;
	} else if (!p->closing && ++p->start_failures >= EXEC_START_FAILURES) {
		log_error("executors fail to start (%s): giving up", why);
		p->broken = true;
	}
	if (head)
		pool_finish(p, head, p->closing ? MIST_ECLOSED : MIST_ETASK,
			    why, NULL, 0, 0);
	if (p->broken || p->closing)
		while ((t = tq_pop(&p->waiting)) != NULL)
			pool_finish(p, t, p->closing ? MIST_ECLOSED : MIST_ETASK,
				    "the node's executors cannot start", NULL,
				    0, 0);
	else
		pool_dispatch(p);
	pool_results_flush(p);
}

static void
x_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
	struct executor *x = proc->data;
	char why[128];
	if (x->kill_reason)
		snprintf(why, sizeof(why), "%s", x->kill_reason);
	else if (sig == SIGPROF || sig == SIGXCPU)
		snprintf(why, sizeof(why), "CPU-time limit (%u ms) exceeded",
			 x->pool->cfg.cpu_ms);
	else if (sig)
		snprintf(why, sizeof(why), "executor crashed (signal %d, %s)",
			 sig, strsignal(sig));
	else
		snprintf(why, sizeof(why), "executor exited (status %d)",
			 (int)status);
	if (x->state != X_DEAD)
		log_warn("executor %d: %s", proc->pid, why);
	x_retire(x, why);
	uv_close((uv_handle_t *)proc, x_handle_closed);
}

static void
x_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct executor *x = h->data;
	(void)hint;
	buf_reserve(&x->in, POOL_READ_CHUNK);
	b->base = (char *)x->in.data + x->in.len;
	b->len = x->in.cap - x->in.len;
}

static int
x_hello(struct executor *x, struct mp_cur *c, uint32_t fields)
{
	struct pool *p = x->pool;
	uint32_t n;
	if (mp_read_array(c, &n) != 0 || n > EXEC_MAX_FUNCTIONS)
		return -1;
	const char *s[EXEC_MAX_FUNCTIONS], *ptrs[EXEC_MAX_FUNCTIONS];
	uint32_t l[EXEC_MAX_FUNCTIONS], fl[EXEC_MAX_FUNCTIONS] = {0};
	for (uint32_t i = 0; i < n; i++)
		if (mp_read_str(c, &s[i], &l[i]) != 0 || l[i] >= EXEC_NAME_MAX)
			return -1;
	uint32_t nf;
	if (fields >= 3) {
		if (mp_read_array(c, &nf) != 0 || nf != n)
			return -1;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v;
			if (mp_read_uint(c, &v) != 0)
				return -1;
			fl[i] = (uint32_t)v & EXEC_FN_FLAGS;
		}
	}
	/* declared reads (fnread.h): "" for none; checked here too, the
	 * executor runs plugins' code */
	const char *rd[EXEC_MAX_FUNCTIONS];
	uint32_t rl[EXEC_MAX_FUNCTIONS] = {0};
	for (uint32_t i = 0; i < n; i++)
		rd[i] = "";
	if (fields >= 4) {
		if (mp_read_array(c, &nf) != 0 || nf != n)
			return -1;
		for (uint32_t i = 0; i < n; i++) {
			struct fnread d;
			if (mp_read_str(c, &rd[i], &rl[i]) != 0 ||
			    (rl[i] > 0 && fnread_parse(rd[i], rl[i], &d) != 0))
				return -1;
			/* a master function's reads act with the master key:
			 * none is made for it as the caller (the executor
			 * drops the declaration at load already) */
			if (fl[i] & MIST_FN_MASTER)
				rl[i] = 0;
		}
	}
	if (p->have_names) {
		/* tasks name functions by the first hello's index: a later
		 * executor (a respawn after the plugin changed on disk)
		 * must offer the same table, flags included, or a task
		 * would run another function, or run with MIST_FN_MASTER */
		bool same = n == p->nnames;
		for (uint32_t i = 0; same && i < n; i++)
			same = strlen(p->names[i]) == l[i] &&
			       memcmp(p->names[i], s[i], l[i]) == 0 &&
			       p->flags[i] == fl[i] &&
			       strlen(p->reads[i]) == rl[i] &&
			       memcmp(p->reads[i], rd[i], rl[i]) == 0;
		if (!same) {
			log_error("executor: a new executor offers other "
				  "functions than the first (a plugin changed "
				  "on disk?): refused; restart the agent");
			return -1;
		}
	}
	if (!p->have_names) {
		p->flags = xcalloc(n + 1, sizeof(*p->flags));
		memcpy(p->flags, fl, n * sizeof(*fl));
		p->names = xcalloc(n + 1, EXEC_NAME_MAX);
		p->reads = xcalloc(n + 1, MIST_READ_MAX);
		const char *rptrs[EXEC_MAX_FUNCTIONS];
		for (uint32_t i = 0; i < n; i++) {
			memcpy(p->names[i], s[i], l[i]);
			ptrs[i] = p->names[i];
			memcpy(p->reads[i], rd[i], rl[i]);
			rptrs[i] = rl[i] ? p->reads[i] : NULL;
		}
		p->nnames = n;
		p->have_names = true;
		if (p->ready)
			p->ready(p->ctx, ptrs, rptrs, n);
	}
	x->state = X_READY;
	return 0;
}

static int
x_result(struct executor *x, uint64_t seq, struct mp_cur *c)
{
	struct pool *p = x->pool;
	uint64_t failed, us;
	/* tasks on coroutines may end out of order: by key, not the head */
	struct ptask *t = tq_find(&x->inflight, seq);
	if (t == NULL || mp_read_uint(c, &failed) != 0 ||
	    mp_read_uint(c, &us) != 0)
		return -1;
	uint32_t exec_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	tq_remove(&x->inflight, t);
	if (x->inflight.head && x->inflight.head->since == 0)
		x->inflight.head->since = uv_now(p->loop);
	if (failed) {
		const char *s;
		uint32_t l;
		char msg[EXEC_ERR_MAX];
		if (mp_read_str(c, &s, &l) != 0)
			return -1;
		snprintf(msg, sizeof(msg), "%.*s", (int)(l < EXEC_ERR_MAX - 1 ? l : EXEC_ERR_MAX - 1), s);
		for (char *q = msg; *q; q++)
			if ((unsigned char)*q < 0x20)
				*q = ' ';
		pool_finish(p, t, MIST_ETASK, msg, NULL, 0, exec_us);
		return 0;
	}
	uint32_t n;
	/* more outputs than any task may have: the executor broke the
	 * protocol (it checks nout), and is killed for it */
	if (mp_read_array(c, &n) != 0 || n > EXEC_MAX_OUTPUTS)
		return -1;
	struct mist_blob outs[EXEC_MAX_OUTPUTS];
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l;
		size_t used;
		if (mp_read_bin(c, &outs[i].data, &l) != 0)
			return -1;
		outs[i].len = l;
		if (mp_check(outs[i].data, l, MP_MAX_DEPTH, &used) != 0 ||
		    used != l) {
			char msg[80];
			snprintf(msg, sizeof(msg),
				 "output %u is not one msgpack object", i);
			pool_finish(p, t, MIST_ETASK, msg, NULL, 0, exec_us);
			return 0;
		}
	}
	pool_finish(p, t, 0, NULL, outs, n, exec_us);
	return 0;
}

/* Appends the host reply frame [key, hid, status, body] for @a x. */
static void
x_host_frame(struct executor *x, uint64_t key, uint32_t hid, int status,
	     const void *body, size_t len)
{
	exec_host_reply_pack(&x->out, key, hid, status, body, len);
}

/* Hands the read's host requests to the host callback, in one call. */
static void
pool_host_flush(struct pool *p)
{
	if (p->hreqs.len == 0)
		return;
	if (p->host)
		p->host(p->ctx, (const struct pool_host_req *)p->hreqs.data,
			(uint32_t)(p->hreqs.len / sizeof(struct pool_host_req)));
	buf_reset(&p->hreqs);
}

/* [seq, 2, hid, method, path, body] (@a f, @a n): a task asks the host.
 * -1 breaks the protocol (malformed, not a call's task, a call already
 * waiting, hid not the next). */
static int
x_host_req(struct executor *x, const uint8_t *f, size_t n)
{
	struct pool *p = x->pool;
	struct pool_host_req r;
	if (exec_host_req_parse(f, n, &r) != 0)
		return -1;
	uint64_t seq = r.key;
	struct ptask *t = tq_find(&x->inflight, seq);
	if (t == NULL || t->host_wait || !(seq >> 63) || r.hid != t->hid + 1)
		return -1;
	t->hid = r.hid;
	t->hosted = true;
	if (t->since == 0)
		t->since = uv_now(p->loop);
	if (p->host == NULL) {
		x_host_frame(x, seq, t->hid, MIST_EPERM, "", 0);
		return 0;
	}
	t->host_wait = true;
	buf_append(&p->hreqs, &r, sizeof(r));
	return 0;
}

static void
x_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct executor *x = s->data;
	(void)b;
	if (nread < 0) {
		/* the exit callback follows and knows why (signal, status) */
		uv_read_stop(s);
		return;
	}
	x->in.len += (size_t)nread;
	size_t off = 0, want = 0;
	while (x->state != X_DEAD && x->in.len - off >= 4) {
		uint32_t n = buf_get_u32be(x->in.data + off);
		if (n > EXEC_MAX_FRAME)
			goto bad;
		if (x->in.len - off - 4 < n) {
			want = n + 4 - (x->in.len - off); /* after the flush */
			break;
		}
		struct mp_cur c;
		size_t used;
		const uint8_t *f = x->in.data + off + 4;
		uint32_t len;
		uint64_t seq;
		mp_cur_init(&c, f, n);
		if (mp_check(f, n, MP_MAX_DEPTH, &used) != 0 ||
		    mp_read_array(&c, &len) != 0 || mp_read_uint(&c, &seq) != 0)
			goto bad;
		if (seq == 0 ? (x->state != X_STARTING ||
				len < 2 || len > 4 ||
				x_hello(x, &c, len) != 0)
			     : len == 6 ? x_host_req(x, f, n) != 0
					: (len != 4 || x_result(x, seq, &c) != 0))
			goto bad;
		off += 4 + n;
	}
	/* the results' outputs and the host requests point into x->in:
	 * hand them over before it moves */
	pool_results_flush(x->pool);
	pool_host_flush(x->pool);
	buf_consume(&x->in, off);
	if (want)
		buf_reserve(&x->in, want);
	pool_dispatch(x->pool);
	return;
bad:
	buf_reset(&x->pool->hreqs); /* its tasks fail: no host call runs */
	x->kill_reason = "executor broke the protocol";
	uv_process_kill(&x->proc, SIGKILL);
	x_retire(x, x->kill_reason);
}

static void
pool_spawn(struct pool *p, uint32_t i)
{
	struct executor *x = xcalloc(1, sizeof(*x));
	x->pool = p;
	p->xs[i] = x;
	uv_pipe_init(p->loop, &x->pipe, 0);
	x->pipe.data = x->proc.data = x;
	char mem[32], cpu[32];
	snprintf(mem, sizeof(mem), "%u", p->cfg.memory_mb);
	snprintf(cpu, sizeof(cpu), "%u", p->cfg.cpu_ms);
	char *args[8 + 2 * EXEC_MAX_PLUGINS];
	int n = 0;
	args[n++] = (char *)p->cfg.exe;
	args[n++] = "executor";
	args[n++] = "--memory-mb";
	args[n++] = mem;
	args[n++] = "--cpu-ms";
	args[n++] = cpu;
	for (int k = 0; k < p->cfg.nplugins; k++) {
		args[n++] = "--plugin";
		args[n++] = (char *)p->cfg.plugins[k];
	}
	args[n] = NULL;
	uv_stdio_container_t stdio[4] = {
		{.flags = UV_IGNORE},
		{.flags = UV_IGNORE},
		{.flags = UV_INHERIT_FD, .data.fd = 2},
		{.flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE,
		 .data.stream = (uv_stream_t *)&x->pipe},
	};
	uv_process_options_t o = {0};
	o.exit_cb = x_exit_cb;
	o.file = p->cfg.exe;
	o.args = args;
	o.stdio = stdio;
	o.stdio_count = 4;
	x->handles = 1;
	int rc = uv_spawn(p->loop, &x->proc, &o);
	if (rc != 0) {
		log_error("cannot start an executor: %s", uv_strerror(rc));
		x->state = X_DEAD;
		p->broken = true;
		uv_close((uv_handle_t *)&x->pipe, x_handle_closed);
		return;
	}
	x->handles = 2;
	uv_read_start((uv_stream_t *)&x->pipe, x_alloc, x_read_cb);
}

/* Ends @a t, which waited past its expiry without starting. */
static void
pool_expire(struct pool *p, struct ptask *t)
{
	char why[96];
	snprintf(why, sizeof(why),
		 "not started within its wall time (%u ms): the executors "
		 "were busy", t->wall_ms);
	pool_finish(p, t, MIST_ETASK, why, NULL, 0, 0);
}

/* Hands waiting tasks to the least loaded ready executors; a task whose
 * expiry has passed is ended instead of sent (its caller has given up,
 * and running it would only delay the live ones behind it). */
static void
pool_dispatch(struct pool *p)
{
	uint64_t now = uv_now(p->loop);
	while (p->waiting.head) {
		struct ptask *h = p->waiting.head;
		if (h->expires && now >= h->expires) {
			pool_expire(p, tq_pop(&p->waiting));
			continue;
		}
		bool alone = h->suspect;
		struct executor *best = NULL;
		for (uint32_t i = 0; i < p->cfg.executors; i++) {
			struct executor *x = p->xs[i];
			uint32_t n = x ? x->inflight.n : 0;
			/* a suspect runs on an idle executor, nothing behind it */
			if (x && x->state == X_READY && n < p->cfg.depth &&
			    !(n > 0 && (alone || x->inflight.tail->suspect)) &&
			    (best == NULL || n < best->inflight.n))
				best = x;
		}
		if (best == NULL)
			break;
		struct ptask *t = tq_pop(&p->waiting);
		if (best->inflight.n == 0)
			t->since = now;
		tq_push(&best->inflight, t);
		buf_append(&best->out, t->frame, t->len);
	}
	pool_results_flush(p); /* the expired ones (no outputs) */
}

struct wreq {
	uv_write_t req;
	uint8_t *data;
};

static void
x_write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	(void)status; /* a failed write shows up as EOF or exit */
	free(w->data);
	free(w);
}

static void
pool_flush_cb(uv_prepare_t *h)
{
	struct pool *p = h->data;
	for (uint32_t i = 0; i < p->cfg.executors; i++) {
		struct executor *x = p->xs[i];
		if (x == NULL || x->state != X_READY || x->out.len == 0)
			continue;
		struct wreq *w = xmalloc(sizeof(*w));
		w->data = x->out.data;
		uv_buf_t b = uv_buf_init((char *)x->out.data,
					 (unsigned)x->out.len);
		x->out = (struct buf)BUF_INIT;
		if (uv_write(&w->req, (uv_stream_t *)&x->pipe, &b, 1,
			     x_write_cb) != 0) {
			free(w->data);
			free(w);
		}
	}
}

/* A task's wall-time limit: its own if it has a smaller one. */
static uint32_t
pool_wall_ms(const struct pool *p, const struct ptask *t)
{
	return t->wall_ms && t->wall_ms < p->cfg.wall_ms ? t->wall_ms
							 : p->cfg.wall_ms;
}

/* Ends the waiting tasks whose expiry has passed (only tasks given a
 * wall time have one). */
static void
pool_sweep(struct pool *p, uint64_t now)
{
	struct tqueue keep = {0};
	struct ptask *t;
	while ((t = tq_pop(&p->waiting)) != NULL) {
		if (t->expires && now >= t->expires)
			pool_expire(p, t);
		else
			tq_push(&keep, t);
	}
	p->waiting = keep;
	pool_results_flush(p);
}

static void
pool_watchdog_cb(uv_timer_t *h)
{
	struct pool *p = h->data;
	uint64_t now = uv_now(p->loop);
	for (uint32_t i = 0; i < p->cfg.executors; i++) {
		struct executor *x = p->xs[i];
		if (x == NULL || x->state != X_READY || x->inflight.n == 0 ||
		    x->kill_reason != NULL)
			continue;
		for (struct ptask *t = x->inflight.head; t; t = t->next) {
			uint32_t wall = pool_wall_ms(p, t);
			if (t->since == 0 || now - t->since <= wall)
				continue;
			if (t->host_wait) {
				/* not running: its host call ends here, and it
				 * returns -- no need to kill the executor and
				 * the calls around it */
				t->host_wait = false;
				x_host_frame(x, t->key, t->hid, MIST_ETIMEDOUT,
					     "", 0);
				continue;
			}
			if (t->hosted &&
			    now - t->since <= (uint64_t)wall + POOL_HOST_GRACE_MS)
				continue; /* its last answer may be on its way */
			snprintf(x->kill_msg, sizeof(x->kill_msg),
				 "wall-time limit (%u ms) exceeded", wall);
			x->kill_reason = x->kill_msg;
			x->kill_key = t->key;
			uv_process_kill(&x->proc, SIGKILL);
			break;
		}
	}
	if (p->expiring && p->waiting.head)
		pool_sweep(p, now);
}

/* The watchdog's period for a limit of @a wall_ms. */
static uint64_t
pool_tick_ms(uint64_t wall_ms)
{
	uint64_t tick = wall_ms / POOL_WATCHDOG_SPLIT;
	return tick < POOL_WATCHDOG_MIN_MS   ? POOL_WATCHDOG_MIN_MS
	       : tick > POOL_WATCHDOG_MAX_MS ? POOL_WATCHDOG_MAX_MS
					     : tick;
}

static void
pool_handle_closed(uv_handle_t *h)
{
	struct pool *p = h->data;
	p->handles--;
	pool_maybe_free(p);
}

struct pool *
pool_open(uv_loop_t *loop, const struct pool_config *cfg, pool_done_cb done,
	  pool_ready_cb ready, void *ctx)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->cfg = *cfg;
	p->exe = xstrdup(cfg->exe); /* the caller's buffer may not last */
	p->cfg.exe = p->exe;
	if (p->cfg.executors == 0)
		p->cfg.executors = 1;
	if (p->cfg.depth == 0)
		p->cfg.depth = 1;
	if (p->cfg.depth > EXEC_MAX_TASKS) {
		log_warn("executor depth %u lowered to %u (EXEC_MAX_TASKS)",
			 p->cfg.depth, EXEC_MAX_TASKS);
		p->cfg.depth = EXEC_MAX_TASKS;
	}
	p->done = done;
	p->ready = ready;
	p->ctx = ctx;
	p->xs = xcalloc(p->cfg.executors, sizeof(*p->xs));
	uv_prepare_init(loop, &p->flush);
	uv_timer_init(loop, &p->watchdog);
	p->flush.data = p->watchdog.data = p;
	p->handles = 2;
	uv_prepare_start(&p->flush, pool_flush_cb);
	p->tick_ms = pool_tick_ms(p->cfg.wall_ms);
	uv_timer_start(&p->watchdog, pool_watchdog_cb, p->tick_ms, p->tick_ms);
	uv_unref((uv_handle_t *)&p->watchdog);
	for (uint32_t i = 0; i < p->cfg.executors; i++)
		pool_spawn(p, i);
	return p;
}

void
pool_set_host(struct pool *p, pool_host_cb host)
{
	p->host = host;
}

uint32_t
pool_fn_flags(const struct pool *p, uint32_t fn)
{
	return fn < p->nnames ? p->flags[fn] : 0;
}

int
pool_host_reply(struct pool *p, uint64_t key, uint32_t hid, int status,
		const void *body, size_t len)
{
	for (uint32_t i = 0; i < p->cfg.executors; i++) {
		struct executor *x = p->xs[i];
		if (x == NULL || x->state != X_READY)
			continue;
		struct ptask *t = tq_find(&x->inflight, key);
		if (t == NULL)
			continue;
		if (!t->host_wait || t->hid != hid)
			return MIST_ENOTFOUND;
		t->host_wait = false;
		if (len > EXEC_MAX_FRAME - 64) {
			status = MIST_E2BIG;
			len = 0;
		}
		x_host_frame(x, key, hid, status, len ? body : "", len);
		return 0;
	}
	return MIST_ENOTFOUND;
}

int
pool_fn_index(const struct pool *p, const char *name, uint32_t len)
{
	for (uint32_t i = 0; i < p->nnames; i++)
		if (strlen(p->names[i]) == len &&
		    memcmp(p->names[i], name, len) == 0)
			return (int)i;
	return -1;
}

/* pool_submit, and pool_submit_call's @a reads: the task frame's sixth
 * field when @a rlen is not 0. */
static int
pool_queue(struct pool *p, uint64_t key, uint32_t fn, const uint8_t *args,
	   uint32_t alen, const struct mist_blob *inputs, uint32_t nin,
	   uint32_t nout, const uint8_t *reads, uint32_t rlen,
	   uint32_t wall_ms)
{
	if (p->closing)
		return MIST_ECLOSED;
	if (fn >= p->nnames)
		return MIST_ENOTFOUND;
	if (key == 0)
		return MIST_EINVAL;
	struct buf b = BUF_INIT;
	const size_t hdr = offsetof(struct ptask, frame);
	buf_reserve(&b, hdr + 64 + alen + rlen);
	b.len = hdr + 4;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, rlen ? 6 : 5);
	msgpack_pack_uint64(&pk, key);
	msgpack_pack_uint32(&pk, fn);
	msgpack_pack_bin_with_body(&pk, args, alen);
	msgpack_pack_array(&pk, nin);
	for (uint32_t i = 0; i < nin; i++)
		msgpack_pack_bin_with_body(&pk, inputs[i].data,
					   (uint32_t)inputs[i].len);
	msgpack_pack_uint32(&pk, nout);
	if (rlen)
		buf_append(&b, reads, rlen);
	size_t flen = b.len - hdr;
	if (flen - 4 > EXEC_MAX_FRAME) {
		buf_destroy(&b);
		return MIST_E2BIG;
	}
	struct ptask *t = (struct ptask *)b.data;
	t->key = key;
	t->suspect = false;
	t->wall_ms = wall_ms;
	t->expires = 0;
	t->since = 0;
	t->hosted = t->host_wait = false;
	t->hid = 0;
	t->len = (uint32_t)flen;
	buf_put_u32be(t->frame, (uint32_t)(flen - 4));
	if (p->broken) {
		pool_finish(p, t, MIST_ETASK, "the node's executors cannot start",
			    NULL, 0, 0);
		pool_results_flush(p);
		return 0;
	}
	if (wall_ms) {
		t->expires = uv_now(p->loop) + wall_ms;
		p->expiring = true;
		/* the watchdog must look often enough for this limit: it
		 * speeds up (never slows down again: at most every 10 ms, a
		 * few executors to look at) */
		uint64_t tick = pool_tick_ms(pool_wall_ms(p, t));
		if (tick < p->tick_ms) {
			p->tick_ms = tick;
			uv_timer_start(&p->watchdog, pool_watchdog_cb, tick,
				       tick);
		}
	}
	tq_push(&p->waiting, t);
	pool_dispatch(p);
	return 0;
}

int
pool_submit(struct pool *p, uint64_t key, uint32_t fn, const uint8_t *args,
	    uint32_t alen, const struct mist_blob *inputs, uint32_t nin,
	    uint32_t nout, uint32_t wall_ms)
{
	return pool_queue(p, key, fn, args, alen, inputs, nin, nout, NULL, 0,
			  wall_ms);
}

int
pool_submit_call(struct pool *p, uint64_t key, uint32_t fn,
		 const uint8_t *args, uint32_t alen, const uint8_t *reads,
		 uint32_t rlen, uint32_t wall_ms)
{
	/* reads only for a function that declared one (gossip may be
	 * stale; a master function has none): the others' GETs go to the
	 * host */
	if (fn < p->nnames && p->reads[fn][0] == '\0')
		rlen = 0;
	return pool_queue(p, key, fn, args, alen, NULL, 0, 1, reads, rlen,
			  wall_ms);
}

void
pool_close(struct pool *p)
{
	if (p->closing)
		return;
	p->closing = true;
	for (uint32_t i = 0; i < p->cfg.executors; i++) {
		struct executor *x = p->xs[i];
		if (x && x->state != X_DEAD) {
			x->kill_reason = "the agent is stopping";
			uv_process_kill(&x->proc, SIGKILL);
			x_retire(x, x->kill_reason);
		}
	}
	struct ptask *t;
	while ((t = tq_pop(&p->waiting)) != NULL)
		pool_finish(p, t, MIST_ECLOSED, "the agent is stopping", NULL,
			    0, 0);
	pool_results_flush(p);
	uv_close((uv_handle_t *)&p->flush, pool_handle_closed);
	uv_close((uv_handle_t *)&p->watchdog, pool_handle_closed);
}

/* ------------------------------------------------------- the ops table */

static int
pool_ops_fn_index(void *p, const char *name, uint32_t len)
{
	return pool_fn_index(p, name, len);
}

static int
pool_ops_submit(void *p, uint64_t key, uint32_t fn, const uint8_t *args,
		uint32_t alen, const struct mist_blob *inputs, uint32_t nin,
		uint32_t nout, uint32_t wall_ms)
{
	return pool_submit(p, key, fn, args, alen, inputs, nin, nout, wall_ms);
}

static int
pool_ops_submit_call(void *p, uint64_t key, uint32_t fn, const uint8_t *args,
		     uint32_t alen, const uint8_t *reads, uint32_t rlen,
		     uint32_t wall_ms)
{
	return pool_submit_call(p, key, fn, args, alen, reads, rlen, wall_ms);
}

static uint32_t
pool_ops_fn_flags(void *p, uint32_t fn)
{
	return pool_fn_flags(p, fn);
}

static int
pool_ops_host_reply(void *p, uint64_t key, uint32_t hid, int status,
		    const void *body, size_t len)
{
	return pool_host_reply(p, key, hid, status, body, len);
}

const struct pool_ops pool_real_ops = {pool_ops_fn_index, pool_ops_submit,
				       pool_ops_fn_flags, pool_ops_host_reply,
				       pool_ops_submit_call};
