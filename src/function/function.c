/*
 * function.c -- ACTOR_FUNCTION: runs task attempts for job owners.
 *
 * One struct run per attempt, keyed by a local sequence number that is
 * also the executor pool's key.  Missing inputs are fetched one after the
 * other, each in JOBS_CHUNK pieces, from the holders the owner named (the
 * next holder on error); a value whose holders all fail is reported back
 * as lost, and the owner recomputes it.  Outputs stay here, in the vstore:
 * the owner only learns their sizes.
 */
#include "config.h"
#include "function/function.h"
#include "data/jobs.h"
#include "data/graph.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct rin {
	uint32_t task, out;
	uint64_t holders[GRAPH_MAX_HOLDERS];
	uint8_t nholders, tried;
	bool fetched;
};

struct run {
	uint64_t key;
	uint64_t owner, job;
	uint32_t task, attempt, nout, nin;
	int fn;
	uint8_t *args;
	uint32_t alen;
	struct rin *in;
	uint32_t cur; /* input being fetched */
	struct buf chunk;
	uint64_t total;
	uint64_t corr; /* the fetch request in flight */
};

struct func {
	struct actor *actor;
	struct jobs_node *jn;
	struct map runs;    /* key -> run */
	struct map fetches; /* corr -> run */
	uint64_t next_key;
};

static void
run_free(struct func *f, struct run *r)
{
	map_del(&f->runs, r->key);
	buf_destroy(&r->chunk);
	free(r->args);
	free(r->in);
	free(r);
}

/* Reports the end of an attempt to its owner. */
static void
run_report(struct func *f, struct run *r, int status, uint32_t exec_us,
	   const struct mist_blob *outs, const char *err)
{
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint64(&pk, r->job);
	msgpack_pack_uint32(&pk, r->task);
	msgpack_pack_uint32(&pk, r->attempt);
	msgpack_pack_int(&pk, status);
	msgpack_pack_uint32(&pk, exec_us);
	if (status == 0) {
		msgpack_pack_array(&pk, r->nout);
		for (uint32_t i = 0; i < r->nout; i++)
			msgpack_pack_uint64(&pk, outs[i].len);
	} else if (status == MIST_ENOTFOUND) {
		struct rin *in = &r->in[r->cur];
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, in->task);
		msgpack_pack_uint32(&pk, in->out);
		msgpack_pack_array(&pk, in->nholders);
		for (uint32_t h = 0; h < in->nholders; h++)
			msgpack_pack_uint64(&pk, in->holders[h]);
	} else {
		const char *e = err ? err : mist_strerror(status);
		msgpack_pack_str_with_body(&pk, e, strlen(e));
	}
	uint32_t nf = 0;
	for (uint32_t i = 0; i < r->nin; i++)
		nf += r->in[i].fetched;
	msgpack_pack_array(&pk, nf);
	for (uint32_t i = 0; i < r->nin; i++)
		if (r->in[i].fetched) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint32(&pk, r->in[i].task);
			msgpack_pack_uint32(&pk, r->in[i].out);
		}
	struct actor_ref to = {r->owner, ACTOR_DATA};
	actor_tell(f->actor, to, MSG_TASK_DONE, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

static struct vkey
run_vkey(const struct run *r, uint32_t task, uint32_t out)
{
	return (struct vkey){r->owner, r->job, task, out};
}

static void run_next(struct func *f, struct run *r);

static void
run_fetch(struct func *f, struct run *r)
{
	struct rin *in = &r->in[r->cur];
	if (in->tried >= in->nholders) {
		run_report(f, r, MIST_ENOTFOUND, 0, NULL, NULL);
		run_free(f, r);
		return;
	}
	struct buf b = BUF_INIT;
	jobs_pack_value_get(&b, r->owner, r->job, in->task, in->out,
			    r->chunk.len);
	struct actor_ref to = {in->holders[in->tried], ACTOR_DATA};
	actor_request(f->actor, to, MSG_VALUE_GET, b.data, (uint32_t)b.len,
		      f->jn->cfg.fetch_timeout_ms, &r->corr);
	map_put(&f->fetches, r->corr, r);
	buf_destroy(&b);
}

static void
fetch_reply(struct func *f, struct msg *m)
{
	struct run *r = map_del(&f->fetches, m->corr);
	if (r == NULL)
		return;
	struct rin *in = &r->in[r->cur];
	struct mp_cur c;
	uint32_t n, clen;
	uint64_t total;
	const uint8_t *chunk;
	mp_cur_init(&c, m->body, m->len);
	if (m->status != 0 || mp_read_array(&c, &n) != 0 || n != 2 ||
	    mp_read_uint(&c, &total) != 0 || total > JOBS_MAX_VALUE ||
	    mp_read_bin(&c, &chunk, &clen) != 0 ||
	    r->chunk.len + clen > total || (clen == 0 && r->chunk.len < total)) {
		/* this holder failed us: start over from the next one */
		in->tried++;
		buf_reset(&r->chunk);
		run_fetch(f, r);
		return;
	}
	buf_append(&r->chunk, chunk, clen);
	if (r->chunk.len < total) {
		run_fetch(f, r);
		return;
	}
	struct vkey k = run_vkey(r, in->task, in->out);
	vstore_put(&f->jn->values, &k, r->chunk.data, (uint32_t)r->chunk.len);
	in->fetched = true;
	buf_destroy(&r->chunk);
	r->chunk = (struct buf)BUF_INIT;
	run_next(f, r);
}

/* Fetches the next missing input, or hands the attempt to the pool. */
static void
run_next(struct func *f, struct run *r)
{
	for (; r->cur < r->nin; r->cur++) {
		struct vkey k = run_vkey(r, r->in[r->cur].task, r->in[r->cur].out);
		uint32_t len;
		if (vstore_get(&f->jn->values, &k, &len) == NULL) {
			run_fetch(f, r);
			return;
		}
	}
	struct mist_blob stack[64], *blobs = r->nin <= 64 ? stack
				: xmalloc(r->nin * sizeof(*blobs));
	for (uint32_t i = 0; i < r->nin; i++) {
		struct vkey k = run_vkey(r, r->in[i].task, r->in[i].out);
		uint32_t len;
		blobs[i].data = vstore_get(&f->jn->values, &k, &len);
		blobs[i].len = len;
	}
	int rc = pool_submit(f->jn->pool, r->key, (uint32_t)r->fn, r->args,
			     r->alen, blobs, r->nin, r->nout);
	if (blobs != stack)
		free(blobs);
	if (rc != 0) {
		run_report(f, r, MIST_ETASK, 0, NULL, mist_strerror(rc));
		run_free(f, r);
	}
}

static void
task_run(struct func *f, struct msg *m)
{
	struct mp_cur c;
	uint32_t n, nin, alen, flen;
	uint64_t owner, job, task, attempt, nout;
	const char *fn;
	const uint8_t *args;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 8 ||
	    mp_read_uint(&c, &owner) != 0 || mp_read_uint(&c, &job) != 0 ||
	    mp_read_uint(&c, &task) != 0 || task > UINT32_MAX ||
	    mp_read_uint(&c, &attempt) != 0 || attempt > UINT32_MAX ||
	    mp_read_str(&c, &fn, &flen) != 0 ||
	    mp_read_bin(&c, &args, &alen) != 0 ||
	    mp_read_uint(&c, &nout) != 0 || nout > 1024 ||
	    mp_read_array(&c, &nin) != 0 || nin > mp_cur_left(&c)) {
		log_warn("function: malformed task from %016llx",
			 (unsigned long long)m->from.node);
		return;
	}
	struct run *r = xcalloc(1, sizeof(*r));
	r->key = ++f->next_key;
	r->owner = owner;
	r->job = job;
	r->task = (uint32_t)task;
	r->attempt = (uint32_t)attempt;
	r->nout = (uint32_t)nout;
	r->nin = nin;
	r->in = xcalloc(nin ? nin : 1, sizeof(*r->in));
	r->args = xmalloc(alen ? alen : 1);
	if (alen)
		memcpy(r->args, args, alen);
	r->alen = alen;
	map_put(&f->runs, r->key, r);
	for (uint32_t i = 0; i < nin; i++) {
		uint32_t k, nh;
		uint64_t t, o, size, h;
		if (mp_read_array(&c, &k) != 0 || k != 4 ||
		    mp_read_uint(&c, &t) != 0 || t > UINT32_MAX ||
		    mp_read_uint(&c, &o) != 0 || o > UINT32_MAX ||
		    mp_read_uint(&c, &size) != 0 ||
		    mp_read_array(&c, &nh) != 0 || nh > GRAPH_MAX_HOLDERS) {
			run_free(f, r);
			return;
		}
		r->in[i].task = (uint32_t)t;
		r->in[i].out = (uint32_t)o;
		for (uint32_t j = 0; j < nh; j++) {
			if (mp_read_uint(&c, &h) != 0) {
				run_free(f, r);
				return;
			}
			r->in[i].holders[r->in[i].nholders++] = h;
		}
	}
	r->fn = f->jn->pool ? pool_fn_index(f->jn->pool, fn, flen) : -1;
	if (r->fn < 0) {
		char e[128];
		snprintf(e, sizeof(e), "function '%.*s' is not offered by %s",
			 (int)(flen > 64 ? 64 : flen), fn, f->jn->self.name);
		run_report(f, r, MIST_ETASK, 0, NULL, e);
		run_free(f, r);
		return;
	}
	run_next(f, r);
}

void
jobs_pool_done(void *ctx, uint64_t key, int status, const char *err,
	       const struct mist_blob *outs, uint32_t nout, uint32_t exec_us)
{
	struct jobs_node *jn = ctx;
	struct func *f = jn->func;
	if (f == NULL)
		return;
	struct run *r = map_get(&f->runs, key);
	if (r == NULL)
		return;
	if (status == 0 && nout != r->nout) {
		status = MIST_ETASK;
		err = "the function produced the wrong number of outputs";
	}
	if (status == 0)
		for (uint32_t i = 0; i < nout; i++) {
			if (outs[i].len > JOBS_MAX_VALUE) {
				status = MIST_ETASK;
				err = "an output is larger than the value limit";
				break;
			}
			struct vkey k = run_vkey(r, r->task, i);
			vstore_put(&jn->values, &k, outs[i].data,
				   (uint32_t)outs[i].len);
		}
	if (status == MIST_ECLOSED)
		status = MIST_ETASK;
	run_report(f, r, status, exec_us, outs, err);
	run_free(f, r);
}

static void
func_stop(struct func *f)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	struct run **all = xcalloc(f->runs.len + 1, sizeof(*all));
	size_t n = 0;
	while (map_next(&f->runs, &it, &k, &v))
		all[n++] = v;
	for (size_t i = 0; i < n; i++)
		run_free(f, all[i]);
	free(all);
	map_destroy(&f->runs);
	map_destroy(&f->fetches);
	f->jn->func = NULL;
	free(f);
}

static void
func_fn(struct actor *self, struct msg *m)
{
	struct func *f = self->state;
	switch (m->type) {
	case MSG_STOP:
		func_stop(f);
		self->state = NULL;
		break;
	case MSG_TASK_RUN:
		task_run(f, m);
		break;
	default:
		if (m->flags & MSG_F_REPLY)
			fetch_reply(f, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

struct func *
func_spawn(struct actor_sys *sys, struct jobs_node *jn)
{
	struct func *f = xcalloc(1, sizeof(*f));
	f->jn = jn;
	map_init(&f->runs, 1);
	map_init(&f->fetches, 2);
	f->actor = actor_spawn(sys, ACTOR_FUNCTION, "function", func_fn, f);
	if (f->actor == NULL) {
		map_destroy(&f->runs);
		map_destroy(&f->fetches);
		free(f);
		return NULL;
	}
	jn->func = f;
	return f;
}
