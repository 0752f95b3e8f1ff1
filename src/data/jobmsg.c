/*
 * jobmsg.c -- the job messages' codec.  Each body is drawn in jobmsg.h
 * above its functions, in the order of this file.
 */
#include "config.h"
#include "data/jobmsg.h"
#include "actors/msgtype.h"
#include "data/place.h"
#include "mist.h"

#include <msgpack.h>
#include <string.h>

/* ---------------------------------------------------------- helpers */

static void
pk_init(msgpack_packer *pk, struct buf *b)
{
	msgpack_packer_init(pk, b, buf_msgpack_write);
}

static void
pk_ref(msgpack_packer *pk, struct gref r)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, r.task);
	msgpack_pack_uint32(pk, r.out);
}

static int
rd_u32(struct mp_cur *c, uint32_t *v)
{
	uint64_t u;
	if (mp_read_uint(c, &u) != 0 || u > UINT32_MAX)
		return MIST_EPROTO;
	*v = (uint32_t)u;
	return 0;
}

/* task, out: two fields in a row (not an array) */
static int
rd_ref_fields(struct mp_cur *c, struct gref *r)
{
	if (rd_u32(c, &r->task) != 0 || rd_u32(c, &r->out) != 0)
		return MIST_EPROTO;
	return 0;
}

/* An array header of exactly @a n elements. */
static int
rd_array_of(struct mp_cur *c, uint32_t n)
{
	uint32_t got;
	return mp_read_array(c, &got) == 0 && got == n ? 0 : MIST_EPROTO;
}

/* An array header whose count the bytes left can hold (one byte each at
 * least): what every list is checked against before it is walked. */
static int
rd_list(struct mp_cur *c, uint32_t *n)
{
	if (mp_read_array(c, n) != 0 || *n > mp_cur_left(c))
		return MIST_EPROTO;
	return 0;
}

void
jobmsg_ref_pack(struct buf *b, struct gref r)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_ref(&pk, r);
}

int
jobmsg_ref_next(struct mp_cur *c, struct gref *r)
{
	if (rd_array_of(c, 2) != 0)
		return MIST_EPROTO;
	return rd_ref_fields(c, r);
}

/* ------------------------------------------------------------ TASK_RUN */

void
jobmsg_task_run_pack(struct buf *b, const struct jobmsg_task_run *r)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_uint64(&pk, r->owner);
	msgpack_pack_uint64(&pk, r->job);
	msgpack_pack_uint32(&pk, r->task);
	msgpack_pack_uint32(&pk, r->attempt);
	msgpack_pack_str_with_body(&pk, r->fn, r->fn_len);
	msgpack_pack_bin_with_body(&pk, r->args, r->args_len);
	msgpack_pack_uint32(&pk, r->nout);
	msgpack_pack_array(&pk, r->nin);
}

void
jobmsg_task_run_pack_input(struct buf *b, struct gref v, uint64_t size,
			   const uint64_t *holders, uint32_t nholders)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, v.task);
	msgpack_pack_uint32(&pk, v.out);
	msgpack_pack_uint64(&pk, size);
	msgpack_pack_array(&pk, nholders);
	for (uint32_t h = 0; h < nholders; h++)
		msgpack_pack_uint64(&pk, holders[h]);
}

int
jobmsg_task_run_unpack(const uint8_t *p, uint32_t len,
		       struct jobmsg_task_run *r, struct mp_cur *inputs)
{
	mp_cur_init(inputs, p, len);
	struct mp_cur *c = inputs;
	if (rd_array_of(c, 8) != 0 || mp_read_uint(c, &r->owner) != 0 ||
	    mp_read_uint(c, &r->job) != 0 || rd_u32(c, &r->task) != 0 ||
	    rd_u32(c, &r->attempt) != 0 ||
	    mp_read_str(c, &r->fn, &r->fn_len) != 0 ||
	    mp_read_bin(c, &r->args, &r->args_len) != 0 ||
	    rd_u32(c, &r->nout) != 0 || r->nout > JOBS_MAX_OUTPUTS ||
	    rd_list(c, &r->nin) != 0 || r->nin > JOBS_MAX_INPUTS)
		return MIST_EPROTO;
	return 0;
}

int
jobmsg_task_run_next_input(struct mp_cur *c, struct jobmsg_input *in)
{
	if (rd_array_of(c, 4) != 0 || rd_ref_fields(c, &in->v) != 0 ||
	    mp_read_uint(c, &in->size) != 0 ||
	    mp_read_array(c, &in->nholders) != 0 ||
	    in->nholders > GRAPH_MAX_HOLDERS)
		return MIST_EPROTO;
	for (uint32_t h = 0; h < in->nholders; h++)
		if (mp_read_uint(c, &in->holders[h]) != 0)
			return MIST_EPROTO;
	return 0;
}

/* ----------------------------------------------------------- TASK_DONE */

void
jobmsg_task_done_pack(struct buf *b, const struct jobmsg_task_done *d)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 8);
	msgpack_pack_uint64(&pk, d->job);
	msgpack_pack_uint32(&pk, d->task);
	msgpack_pack_uint32(&pk, d->attempt);
	msgpack_pack_int(&pk, d->status);
	msgpack_pack_uint32(&pk, d->exec_us);
	msgpack_pack_uint64(&pk, d->owner);
	if (d->status == 0) {
		msgpack_pack_array(&pk, d->nout);
		for (uint32_t i = 0; i < d->nout; i++)
			msgpack_pack_uint64(&pk, d->sizes[i]);
	} else if (d->status == MIST_ENOTFOUND) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, d->lost.task);
		msgpack_pack_uint32(&pk, d->lost.out);
		msgpack_pack_array(&pk, d->nholders);
		for (uint32_t h = 0; h < d->nholders; h++)
			msgpack_pack_uint64(&pk, d->holders[h]);
	} else {
		msgpack_pack_str_with_body(&pk, d->error, d->error_len);
	}
	msgpack_pack_array(&pk, d->nfetched);
	for (uint32_t i = 0; i < d->nfetched; i++)
		pk_ref(&pk, d->fetched[i]);
}

int
jobmsg_task_done_unpack_head(const uint8_t *p, uint32_t len,
			     struct jobmsg_task_done *d, struct mp_cur *rest)
{
	int64_t status;
	uint64_t us;
	memset(d, 0, sizeof(*d));
	mp_cur_init(rest, p, len);
	if (rd_array_of(rest, 8) != 0 || mp_read_uint(rest, &d->job) != 0 ||
	    rd_u32(rest, &d->task) != 0 || rd_u32(rest, &d->attempt) != 0 ||
	    mp_read_int(rest, &status) != 0 || status < INT32_MIN ||
	    status > INT32_MAX || mp_read_uint(rest, &us) != 0 ||
	    mp_read_uint(rest, &d->owner) != 0)
		return MIST_EPROTO;
	d->status = (int32_t)status;
	/* a measurement, not a count: a longer one is as long as we say */
	d->exec_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

int
jobmsg_task_done_unpack_rest(struct mp_cur *rest, struct jobmsg_task_done *d,
			     uint64_t *sizes)
{
	struct mp_cur *c = rest;
	if (d->status == 0) {
		if (mp_read_array(c, &d->nout) != 0 ||
		    d->nout > JOBS_MAX_OUTPUTS)
			return MIST_EPROTO;
		for (uint32_t i = 0; i < d->nout; i++)
			if (mp_read_uint(c, &sizes[i]) != 0)
				return MIST_EPROTO;
		d->sizes = sizes;
	} else if (d->status == MIST_ENOTFOUND) {
		if (rd_array_of(c, 3) != 0 || rd_ref_fields(c, &d->lost) != 0 ||
		    mp_read_array(c, &d->nholders) != 0 ||
		    d->nholders > GRAPH_MAX_HOLDERS)
			return MIST_EPROTO;
		for (uint32_t h = 0; h < d->nholders; h++)
			if (mp_read_uint(c, &d->holders[h]) != 0)
				return MIST_EPROTO;
	} else {
		if (mp_read_str(c, &d->error, &d->error_len) != 0 ||
		    d->error_len >= JOBS_ERR_MAX)
			return MIST_EPROTO;
	}
	return rd_list(c, &d->nfetched);
}

/* ----------------------------------------------------------- VALUE_GET */

void
jobmsg_value_get_pack(struct buf *b, const struct jobmsg_value_get *g)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, g->owner);
	msgpack_pack_uint64(&pk, g->job);
	msgpack_pack_uint32(&pk, g->v.task);
	msgpack_pack_uint32(&pk, g->v.out);
	msgpack_pack_uint64(&pk, g->off);
	msgpack_pack_uint32(&pk, g->max);
}

int
jobmsg_value_get_unpack(const uint8_t *p, uint32_t len,
			struct jobmsg_value_get *g)
{
	struct mp_cur c;
	uint64_t max;
	mp_cur_init(&c, p, len);
	if (rd_array_of(&c, 6) != 0 || mp_read_uint(&c, &g->owner) != 0 ||
	    mp_read_uint(&c, &g->job) != 0 || rd_ref_fields(&c, &g->v) != 0 ||
	    mp_read_uint(&c, &g->off) != 0 || mp_read_uint(&c, &max) != 0)
		return MIST_EPROTO;
	/* a wish, not a count: the server sends at most JOBS_CHUNK anyway */
	g->max = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
	return 0;
}

void
jobmsg_chunk_pack(struct buf *b, uint64_t total, const uint8_t *chunk,
		  uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, total);
	msgpack_pack_bin_with_body(&pk, chunk, n);
}

int
jobmsg_chunk_unpack(const uint8_t *p, uint32_t len, uint64_t *total,
		    const uint8_t **chunk, uint32_t *n)
{
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	if (rd_array_of(&c, 2) != 0 || mp_read_uint(&c, total) != 0 ||
	    *total > JOBS_MAX_VALUE || mp_read_bin(&c, chunk, n) != 0 ||
	    *n > *total)
		return MIST_EPROTO;
	return 0;
}

/* ---------------------------------------------------------- VALUE_FREE */

void
jobmsg_value_free_pack(struct buf *b, uint64_t owner, uint64_t job,
		       const struct gref *v, uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, owner);
	msgpack_pack_uint64(&pk, job);
	if (v == NULL) {
		msgpack_pack_nil(&pk);
		return;
	}
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		pk_ref(&pk, v[i]);
}

int
jobmsg_value_free_unpack(const uint8_t *p, uint32_t len,
			 struct jobmsg_value_free *f, struct mp_cur *refs)
{
	mp_cur_init(refs, p, len);
	if (rd_array_of(refs, 3) != 0 || mp_read_uint(refs, &f->owner) != 0 ||
	    mp_read_uint(refs, &f->job) != 0)
		return MIST_EPROTO;
	f->all = mp_peek_nil(refs);
	f->n = 0;
	if (f->all)
		return mp_read_nil(refs);
	return rd_list(refs, &f->n);
}

/* ------------------------------------------------------ EXEC_FUNCTIONS */

void
jobmsg_functions_pack(struct buf *b, const char *const *names, uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		mp_pack_str(&pk, names[i]);
}

int
jobmsg_functions_unpack(const uint8_t *p, uint32_t len, uint32_t *n,
			struct mp_cur *names)
{
	mp_cur_init(names, p, len);
	if (rd_list(names, n) != 0 || *n > JOBS_MAX_FUNCTIONS)
		return MIST_EPROTO;
	return 0;
}

int
jobmsg_functions_next(struct mp_cur *c, const char **name, uint32_t *len)
{
	if (mp_read_str(c, name, len) != 0 || *len == 0 ||
	    *len >= JOBS_FN_NAME_MAX)
		return MIST_EPROTO;
	return 0;
}

/* ---------------------------------------------------------- VALUE_COPY */

void
jobmsg_value_copy_pack(struct buf *b, const struct jobmsg_value_copy *c)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint64(&pk, c->owner);
	msgpack_pack_uint64(&pk, c->job);
	msgpack_pack_uint32(&pk, c->epoch);
	msgpack_pack_uint32(&pk, c->v.task);
	msgpack_pack_uint32(&pk, c->v.out);
	msgpack_pack_uint64(&pk, c->size);
	msgpack_pack_array(&pk, c->nholders);
	for (uint32_t h = 0; h < c->nholders; h++)
		msgpack_pack_uint64(&pk, c->holders[h]);
}

int
jobmsg_value_copy_unpack(const uint8_t *p, uint32_t len,
			 struct jobmsg_value_copy *c)
{
	struct mp_cur cur;
	mp_cur_init(&cur, p, len);
	memset(c, 0, sizeof(*c));
	if (rd_array_of(&cur, 7) != 0 || mp_read_uint(&cur, &c->owner) != 0 ||
	    mp_read_uint(&cur, &c->job) != 0 || rd_u32(&cur, &c->epoch) != 0 ||
	    c->epoch > JOBS_MAX_EPOCH || rd_ref_fields(&cur, &c->v) != 0 ||
	    mp_read_uint(&cur, &c->size) != 0 || c->size > JOBS_MAX_VALUE ||
	    mp_read_array(&cur, &c->nholders) != 0 || c->nholders == 0 ||
	    c->nholders > GRAPH_MAX_HOLDERS)
		return MIST_EPROTO;
	for (uint32_t h = 0; h < c->nholders; h++)
		if (mp_read_uint(&cur, &c->holders[h]) != 0)
			return MIST_EPROTO;
	return mp_cur_left(&cur) == 0 ? 0 : MIST_EPROTO;
}

/* ------------------------------------------------------------ ATTEMPTS */

void
jobmsg_attempts_pack_head(struct buf *b, bool complete, uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 2);
	complete ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	msgpack_pack_array(&pk, n);
}

void
jobmsg_attempt_pack(struct buf *b, uint64_t job, uint32_t task,
		    uint32_t attempt)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, job);
	msgpack_pack_uint32(&pk, task);
	msgpack_pack_uint32(&pk, attempt);
}

int
jobmsg_attempts_unpack(const uint8_t *p, uint32_t len, bool *complete,
		       uint32_t *n, struct mp_cur *rest)
{
	mp_cur_init(rest, p, len);
	if (rd_array_of(rest, 2) != 0 || mp_read_bool(rest, complete) != 0 ||
	    rd_list(rest, n) != 0 || *n > JOBS_MAX_LEASE_LIST)
		return MIST_EPROTO;
	return 0;
}

int
jobmsg_attempt_next(struct mp_cur *c, uint64_t *job, uint32_t *task,
		    uint32_t *attempt)
{
	if (rd_array_of(c, 3) != 0 || mp_read_uint(c, job) != 0 ||
	    rd_u32(c, task) != 0 || rd_u32(c, attempt) != 0)
		return MIST_EPROTO;
	return 0;
}

/* ---------------------------------------------------- client requests */

void
jobmsg_request_pack(struct buf *b, uint64_t cred, uint32_t role,
		    const uint8_t *body, uint32_t len)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, cred);
	msgpack_pack_uint32(&pk, role);
	if (len == 0)
		msgpack_pack_nil(&pk);
	else
		buf_append(b, body, len);
}

int
jobmsg_request_unpack(const uint8_t *p, uint32_t len,
		      struct jobmsg_request *rq)
{
	struct mp_cur c;
	uint64_t role;
	mp_cur_init(&c, p, len);
	if (rd_array_of(&c, 3) != 0 || mp_read_uint(&c, &rq->cred) != 0 ||
	    mp_read_uint(&c, &role) != 0 || role > UINT32_MAX)
		return MIST_EPROTO;
	rq->role = (uint32_t)role;
	rq->body = c.p;
	rq->len = (uint32_t)mp_cur_left(&c);
	return 0;
}

uint32_t
jobmsg_job_arity(uint32_t type)
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

int
jobmsg_job_unpack(uint32_t type, const uint8_t *body, uint32_t len,
		  uint64_t *owner, uint64_t *job, struct mp_cur *rest)
{
	uint32_t arity = jobmsg_job_arity(type);
	mp_cur_init(rest, body, len);
	if (arity == 0 || rd_array_of(rest, arity) != 0 ||
	    mp_read_uint(rest, owner) != 0 || mp_read_uint(rest, job) != 0)
		return MIST_EPROTO;
	return 0;
}

static void
pk_job_head(msgpack_packer *pk, uint32_t type, uint64_t owner, uint64_t job)
{
	msgpack_pack_array(pk, jobmsg_job_arity(type));
	msgpack_pack_uint64(pk, owner);
	msgpack_pack_uint64(pk, job);
}

void
jobmsg_job_pack(struct buf *b, uint32_t type, uint64_t owner, uint64_t job)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_job_head(&pk, type, owner, job);
}

void
jobmsg_wait_pack(struct buf *b, uint64_t owner, uint64_t job, struct gref v)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_job_head(&pk, MSG_JOB_WAIT, owner, job);
	msgpack_pack_uint32(&pk, v.task);
	msgpack_pack_uint32(&pk, v.out);
}

int
jobmsg_wait_unpack(struct mp_cur *rest, struct gref *v)
{
	return rd_ref_fields(rest, v);
}

void
jobmsg_read_pack(struct buf *b, uint64_t owner, uint64_t job, struct gref v,
		 uint64_t off)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_job_head(&pk, MSG_JOB_READ, owner, job);
	msgpack_pack_uint32(&pk, v.task);
	msgpack_pack_uint32(&pk, v.out);
	msgpack_pack_uint64(&pk, off);
}

int
jobmsg_read_unpack(struct mp_cur *rest, struct gref *v, uint64_t *off)
{
	if (rd_ref_fields(rest, v) != 0 || mp_read_uint(rest, off) != 0)
		return MIST_EPROTO;
	return 0;
}

void
jobmsg_release_pack(struct buf *b, uint64_t owner, uint64_t job,
		    const struct gref *v, uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_job_head(&pk, MSG_JOB_RELEASE, owner, job);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; v != NULL && i < n; i++)
		pk_ref(&pk, v[i]);
}

int
jobmsg_release_unpack(struct mp_cur *rest, uint32_t *n)
{
	return rd_list(rest, n);
}

/* ------------------------------------------------------------ JOB_CREATE */

void
jobmsg_create_init(struct jobmsg_create *c)
{
	memset(c, 0, sizeof(*c));
	c->w_time = 1;
	c->tiers = TIER_ANY;
}

void
jobmsg_create_pack(struct buf *b, const struct jobmsg_create *c)
{
	static const int tiers[] = {TIER_FOG, TIER_EDGE, TIER_CLOUD};
	bool weights = !(c->w_time == 1 && c->w_energy == 0 && c->w_cost == 0);
	uint32_t ntiers = 0;
	for (size_t i = 0; i < sizeof(tiers) / sizeof(*tiers); i++)
		ntiers += (c->tiers & (uint32_t)tiers[i]) != 0;
	bool any = c->tiers == TIER_ANY;
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_map(&pk, (c->name[0] != '\0') + weights + !any +
				      (c->attempts != 0) +
				      (c->checkpoint_every != 0));
	if (c->name[0] != '\0') {
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, c->name);
	}
	if (weights) {
		mp_pack_str(&pk, "weights");
		msgpack_pack_array(&pk, 3);
		msgpack_pack_double(&pk, c->w_time);
		msgpack_pack_double(&pk, c->w_energy);
		msgpack_pack_double(&pk, c->w_cost);
	}
	if (!any) {
		mp_pack_str(&pk, "tiers");
		msgpack_pack_array(&pk, ntiers);
		for (size_t i = 0; i < sizeof(tiers) / sizeof(*tiers); i++)
			if (c->tiers & (uint32_t)tiers[i])
				mp_pack_str(&pk, place_tier_name(tiers[i]));
	}
	if (c->attempts != 0) {
		mp_pack_str(&pk, "attempts");
		msgpack_pack_uint32(&pk, c->attempts);
	}
	if (c->checkpoint_every != 0) {
		mp_pack_str(&pk, "checkpoint");
		msgpack_pack_uint32(&pk, c->checkpoint_every);
	}
}

static bool
weight_ok(double w)
{
	return w >= 0 && w < JOBMSG_MAX_WEIGHT; /* false for NaN too */
}

int
jobmsg_create_policy(struct jobmsg_create *c, const char *s, uint32_t len)
{
	bool t = mp_str_eq(s, len, "time");
	bool e = mp_str_eq(s, len, "energy");
	bool co = mp_str_eq(s, len, "cost");
	if (!t && !e && !co)
		return MIST_EINVAL;
	c->w_time = t;
	c->w_energy = e;
	c->w_cost = co;
	return 0;
}

/* JOB_CREATE's keys (mp_read_fields callbacks), each applied onto the
 * struct jobmsg_create @a ctx as it is read: MIST_EPROTO for a wrong
 * type, MIST_EINVAL for a value out of bounds. */
static int
create_name(struct mp_cur *v, void *ctx)
{
	struct jobmsg_create *c = ctx;
	const char *s;
	uint32_t n;
	if (mp_read_str(v, &s, &n) != 0)
		return MIST_EPROTO;
	if (n >= JOBMSG_NAME_MAX)
		return MIST_EINVAL;
	memcpy(c->name, s, n);
	c->name[n] = '\0';
	return 0;
}

static int
create_policy(struct mp_cur *v, void *ctx)
{
	const char *s;
	uint32_t n;
	if (mp_read_str(v, &s, &n) != 0)
		return MIST_EPROTO;
	return jobmsg_create_policy(ctx, s, n);
}

static int
create_weights(struct mp_cur *v, void *ctx)
{
	struct jobmsg_create *c = ctx;
	if (rd_array_of(v, 3) != 0 || mp_read_double(v, &c->w_time) != 0 ||
	    mp_read_double(v, &c->w_energy) != 0 ||
	    mp_read_double(v, &c->w_cost) != 0)
		return MIST_EPROTO;
	if (!weight_ok(c->w_time) || !weight_ok(c->w_energy) ||
	    !weight_ok(c->w_cost))
		return MIST_EINVAL;
	return 0;
}

static int
create_tiers(struct mp_cur *v, void *ctx)
{
	struct jobmsg_create *c = ctx;
	uint32_t n;
	if (mp_read_array(v, &n) != 0 || n > JOBMSG_MAX_TIERS)
		return MIST_EPROTO;
	c->tiers = 0;
	for (uint32_t i = 0; i < n; i++) {
		const char *s;
		uint32_t sl;
		if (mp_read_str(v, &s, &sl) != 0)
			return MIST_EPROTO;
		int tier = place_tier_parse(s, sl);
		if (tier == 0)
			return MIST_EINVAL;
		c->tiers |= (uint32_t)tier;
	}
	return c->tiers != 0 ? 0 : MIST_EINVAL;
}

static int
create_attempts(struct mp_cur *v, void *ctx)
{
	struct jobmsg_create *c = ctx;
	uint64_t a;
	if (mp_read_uint(v, &a) != 0)
		return MIST_EPROTO;
	if (a < 1 || a > JOBMSG_MAX_ATTEMPTS)
		return MIST_EINVAL;
	c->attempts = (uint32_t)a;
	return 0;
}

static int
create_checkpoint(struct mp_cur *v, void *ctx)
{
	struct jobmsg_create *c = ctx;
	uint64_t n;
	if (mp_read_uint(v, &n) != 0)
		return MIST_EPROTO;
	if (n < 1 || n > JOBMSG_MAX_CHECKPOINT)
		return MIST_EINVAL;
	c->checkpoint_every = (uint32_t)n;
	return 0;
}

int
jobmsg_create_unpack(const uint8_t *p, uint32_t len, struct jobmsg_create *c)
{
	const struct mp_field f[] = {
		MP_FN("name", create_name, c, false),
		MP_FN("policy", create_policy, c, false),
		MP_FN("weights", create_weights, c, false),
		MP_FN("tiers", create_tiers, c, false),
		MP_FN("attempts", create_attempts, c, false),
		MP_FN("checkpoint", create_checkpoint, c, false),
	};
	struct mp_cur cur;
	mp_cur_init(&cur, p, len);
	return mp_read_fields(&cur, f, MP_NFIELDS(f), NULL);
}

/* ------------------------------------------------------------- JOB_TASKS */

void
jobmsg_tasks_pack(struct buf *b, uint64_t owner, uint64_t job, uint32_t first,
		  uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	pk_job_head(&pk, MSG_JOB_TASKS, owner, job);
	msgpack_pack_uint32(&pk, first);
	msgpack_pack_array(&pk, n);
}

void
jobmsg_task_pack(struct buf *b, const struct jobmsg_task *t,
		 const struct gref *in)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_str_with_body(&pk, t->fn, t->fn_len);
	msgpack_pack_bin_with_body(&pk, t->args, t->args_len);
	msgpack_pack_uint32(&pk, t->nout);
	msgpack_pack_array(&pk, t->nin);
	for (uint32_t i = 0; in != NULL && i < t->nin; i++)
		pk_ref(&pk, in[i]);
}

int
jobmsg_batch_unpack(const uint8_t *p, uint32_t len, uint64_t *first,
		    uint32_t *n, struct mp_cur *tasks)
{
	mp_cur_init(tasks, p, len);
	if (mp_read_uint(tasks, first) != 0 || rd_list(tasks, n) != 0)
		return MIST_EPROTO;
	return 0;
}

int
jobmsg_task_next(struct mp_cur *c, struct jobmsg_task *t, struct gref *in)
{
	uint64_t nout;
	if (rd_array_of(c, 4) != 0 || mp_read_str(c, &t->fn, &t->fn_len) != 0 ||
	    mp_read_bin(c, &t->args, &t->args_len) != 0 ||
	    mp_read_uint(c, &nout) != 0 || rd_list(c, &t->nin) != 0)
		return MIST_EPROTO;
	if (nout > JOBS_MAX_OUTPUTS || t->nin > JOBS_MAX_INPUTS)
		return MIST_E2BIG;
	t->nout = (uint32_t)nout;
	for (uint32_t k = 0; k < t->nin; k++)
		if (jobmsg_ref_next(c, &in[k]) != 0)
			return MIST_EPROTO;
	return 0;
}

/* ------------------------------------------------------- client replies */

void
jobmsg_ids_pack(struct buf *b, uint64_t a, uint64_t c)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, a);
	msgpack_pack_uint64(&pk, c);
}

int
jobmsg_ids_unpack(const uint8_t *p, uint32_t len, uint64_t *a, uint64_t *c)
{
	struct mp_cur cur;
	mp_cur_init(&cur, p, len);
	if (rd_array_of(&cur, 2) != 0 || mp_read_uint(&cur, a) != 0 ||
	    mp_read_uint(&cur, c) != 0)
		return MIST_EPROTO;
	return 0;
}

void
jobmsg_wait_reply_pack(struct buf *b, int status, uint64_t size,
		       const char *message)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, status);
	if (status == 0)
		msgpack_pack_uint64(&pk, size);
	else
		mp_pack_str(&pk, message);
}

int
jobmsg_wait_reply_unpack(const uint8_t *p, uint32_t len, int *status,
			 uint64_t *size, const char **message,
			 uint32_t *message_len)
{
	struct mp_cur c;
	int64_t st;
	mp_cur_init(&c, p, len);
	*size = 0;
	*message = "";
	*message_len = 0;
	if (rd_array_of(&c, 2) != 0 || mp_read_int(&c, &st) != 0 || st > 0 ||
	    st < INT32_MIN)
		return MIST_EPROTO;
	*status = (int)st;
	if (st == 0)
		return mp_read_uint(&c, size);
	return mp_read_str(&c, message, message_len);
}

/* The operators' keys of a status map (what waits, what was recovered):
 * STATUS_OPS_KEYS of them, after the others. */
#define STATUS_OPS_KEYS 3

static void
status_ops_pack(msgpack_packer *pk, const struct jobmsg_status *s)
{
	const struct jobmsg_recoveries *r = &s->rec;
	mp_pack_str(pk, "ready_oldest_ms");
	msgpack_pack_uint64(pk, s->ready_oldest_ms);
	mp_pack_str(pk, "ready_why");
	mp_pack_str(pk, s->ready_why ? s->ready_why : "");
	mp_pack_str(pk, "recoveries");
	msgpack_pack_map(pk, 6);
	mp_pack_str(pk, "nodes_lost");
	msgpack_pack_uint64(pk, r->nodes_lost);
	mp_pack_str(pk, "failed_over");
	msgpack_pack_uint64(pk, r->failed_over);
	mp_pack_str(pk, "recomputed");
	msgpack_pack_uint64(pk, r->recomputed);
	mp_pack_str(pk, "owner_changes");
	msgpack_pack_uint64(pk, r->owner_changes);
	mp_pack_str(pk, "last_ms");
	msgpack_pack_uint64(pk, r->last_ms);
	mp_pack_str(pk, "last");
	mp_pack_str(pk, r->last ? r->last : "");
}

void
jobmsg_status_pack(struct buf *b, const struct jobmsg_status *s)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_map(&pk, (s->more_nodes ? 13 : 12) + STATUS_OPS_KEYS +
				      (s->ckpt != NULL));
	mp_pack_str(&pk, "owner");
	msgpack_pack_uint64(&pk, s->owner);
	mp_pack_str(&pk, "job");
	msgpack_pack_uint64(&pk, s->job);
	mp_pack_str(&pk, "name");
	mp_pack_str(&pk, s->name);
	mp_pack_str(&pk, "state");
	mp_pack_str(&pk, s->state);
	mp_pack_str(&pk, "tasks");
	msgpack_pack_uint32(&pk, s->tasks);
	mp_pack_str(&pk, "waiting");
	msgpack_pack_uint32(&pk, s->waiting);
	mp_pack_str(&pk, "ready");
	msgpack_pack_uint32(&pk, s->ready);
	mp_pack_str(&pk, "running");
	msgpack_pack_uint32(&pk, s->running);
	mp_pack_str(&pk, "done");
	msgpack_pack_uint32(&pk, s->done);
	mp_pack_str(&pk, "failed");
	msgpack_pack_uint32(&pk, s->failed);
	mp_pack_str(&pk, "error");
	mp_pack_str(&pk, s->error);
	mp_pack_str(&pk, "nodes");
	msgpack_pack_array(&pk, s->nnodes);
	for (uint32_t k = 0; k < s->nnodes; k++) {
		const struct jobmsg_status_node *n = &s->nodes[k];
		msgpack_pack_map(&pk, 6);
		mp_pack_str(&pk, "node");
		msgpack_pack_uint64(&pk, n->node);
		mp_pack_str(&pk, "name");
		mp_pack_str(&pk, n->name);
		mp_pack_str(&pk, "tier");
		mp_pack_str(&pk, n->tier);
		mp_pack_str(&pk, "running");
		msgpack_pack_uint32(&pk, n->running);
		mp_pack_str(&pk, "done");
		msgpack_pack_uint32(&pk, n->done);
		mp_pack_str(&pk, "oldest_ms");
		msgpack_pack_uint64(&pk, n->oldest_ms);
	}
	if (s->more_nodes) {
		mp_pack_str(&pk, "more_nodes");
		msgpack_pack_uint32(&pk, s->more_nodes);
	}
	status_ops_pack(&pk, s);
	if (s->ckpt != NULL) {
		mp_pack_str(&pk, "checkpoints");
		msgpack_pack_map(&pk, 5);
		mp_pack_str(&pk, "every");
		msgpack_pack_uint64(&pk, s->ckpt->every);
		mp_pack_str(&pk, "copies");
		msgpack_pack_uint64(&pk, s->ckpt->copies);
		mp_pack_str(&pk, "bytes");
		msgpack_pack_uint64(&pk, s->ckpt->bytes);
		mp_pack_str(&pk, "failed");
		msgpack_pack_uint64(&pk, s->ckpt->failed);
		mp_pack_str(&pk, "pending");
		msgpack_pack_uint64(&pk, s->ckpt->pending);
	}
}

void
jobmsg_list_pack(struct buf *b, uint32_t n)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, n);
}

/* mp_read_fields callbacks of the status map: a u32, and the nodes'
 * list, walked later (jobmsg_status_next_node) and only bounded now. */
static int
field_u32(struct mp_cur *v, void *ctx)
{
	return rd_u32(v, ctx);
}

static int
status_nodes(struct mp_cur *v, void *ctx)
{
	struct jobmsg_status_view *s = ctx;
	if (rd_list(v, &s->nnodes) != 0 ||
	    s->nnodes > JOBMSG_STATUS_MAX_NODES)
		return MIST_EPROTO;
	s->nodes = *v; /* the elements: exactly the list's bytes */
	return 0;
}

/* The recoveries' map, read at once (bounded: a few numbers and words). */
static int
status_recoveries(struct mp_cur *c, void *ctx)
{
	struct jobmsg_recoveries *r = ctx;
	const struct mp_field f[] = {
		MP_UINT("nodes_lost", &r->nodes_lost, false),
		MP_UINT("failed_over", &r->failed_over, false),
		MP_UINT("recomputed", &r->recomputed, false),
		MP_UINT("owner_changes", &r->owner_changes, false),
		MP_UINT("last_ms", &r->last_ms, false),
		MP_STR("last", &r->last, &r->last_len, false),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0 ||
	    r->last_len > JOBMSG_RECOVERY_TEXT_MAX)
		return MIST_EPROTO;
	return 0;
}

static int
status_ckpt(struct mp_cur *v, void *ctx)
{
	struct jobmsg_status_view *s = ctx;
	const struct mp_field f[] = {
		MP_UINT("every", &s->ckpt.every, false),
		MP_UINT("copies", &s->ckpt.copies, false),
		MP_UINT("bytes", &s->ckpt.bytes, false),
		MP_UINT("failed", &s->ckpt.failed, false),
		MP_UINT("pending", &s->ckpt.pending, false),
	};
	s->has_ckpt = true;
	return mp_read_fields(v, f, MP_NFIELDS(f), NULL) == 0 ? 0 : MIST_EPROTO;
}

int
jobmsg_status_read(struct mp_cur *c, struct jobmsg_status_view *v)
{
	memset(v, 0, sizeof(*v));
	v->name = v->state = v->error = "";
	v->ready_why = v->rec.last = "";
	const struct mp_field f[] = {
		MP_UINT("owner", &v->owner, false),
		MP_UINT("job", &v->job, false),
		MP_STR("name", &v->name, &v->name_len, false),
		MP_STR("state", &v->state, &v->state_len, false),
		MP_UINT("tasks", &v->tasks, false),
		MP_UINT("waiting", &v->waiting, false),
		MP_UINT("ready", &v->ready, false),
		MP_UINT("running", &v->running, false),
		MP_UINT("done", &v->done, false),
		MP_UINT("failed", &v->failed, false),
		MP_STR("error", &v->error, &v->error_len, false),
		MP_FN("nodes", status_nodes, v, false),
		MP_FN("more_nodes", field_u32, &v->more_nodes, false),
		MP_UINT("ready_oldest_ms", &v->ready_oldest_ms, false),
		MP_STR("ready_why", &v->ready_why, &v->ready_why_len, false),
		MP_FN("recoveries", status_recoveries, &v->rec, false),
		MP_FN("checkpoints", status_ckpt, v, false),
	};
	if (mp_read_fields(c, f, MP_NFIELDS(f), NULL) != 0 ||
	    v->ready_why_len > JOBMSG_WHY_MAX)
		return MIST_EPROTO;
	return 0;
}

int
jobmsg_status_next_node(struct mp_cur *c, struct jobmsg_status_node_view *n)
{
	memset(n, 0, sizeof(*n));
	n->name = n->tier = "";
	const struct mp_field f[] = {
		MP_UINT("node", &n->node, false),
		MP_STR("name", &n->name, &n->name_len, false),
		MP_STR("tier", &n->tier, &n->tier_len, false),
		MP_UINT("running", &n->running, false),
		MP_UINT("done", &n->done, false),
		MP_UINT("oldest_ms", &n->oldest_ms, false),
	};
	return mp_read_fields(c, f, MP_NFIELDS(f), NULL) == 0 ? 0 : MIST_EPROTO;
}

/* --------------------------------------------------------- JOB_REPLICA */

void
jobmsg_replica_pack(struct buf *b, const struct jobmsg_replica *r)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 7);
	msgpack_pack_uint64(&pk, r->origin);
	msgpack_pack_uint64(&pk, r->job);
	msgpack_pack_uint32(&pk, r->epoch);
	msgpack_pack_uint32(&pk, r->rseq);
	msgpack_pack_uint32(&pk, (uint32_t)(uint8_t)r->kind);
	msgpack_pack_uint32(&pk, r->seq);
	msgpack_pack_bin_with_body(&pk, r->val, r->len);
}

int
jobmsg_replica_unpack(const uint8_t *p, uint32_t len,
		      struct jobmsg_replica *r)
{
	struct mp_cur c;
	uint32_t kind;
	mp_cur_init(&c, p, len);
	memset(r, 0, sizeof(*r));
	if (rd_array_of(&c, 7) != 0 || mp_read_uint(&c, &r->origin) != 0 ||
	    mp_read_uint(&c, &r->job) != 0 || rd_u32(&c, &r->epoch) != 0 ||
	    r->epoch > JOBS_MAX_EPOCH || rd_u32(&c, &r->rseq) != 0 ||
	    rd_u32(&c, &kind) != 0 || rd_u32(&c, &r->seq) != 0 ||
	    mp_read_bin(&c, &r->val, &r->len) != 0 || mp_cur_left(&c) != 0)
		return MIST_EPROTO;
	if (kind != 'A' && kind != 'B' && kind != 'C' && kind != 'D' &&
	    kind != 'X' && kind != 'Q' && kind != 'E' && kind != 'F')
		return MIST_EPROTO;
	r->kind = (char)kind;
	return 0;
}

void
jobmsg_moved_pack(struct buf *b, uint64_t origin, uint64_t job, uint64_t owner)
{
	msgpack_packer pk;
	pk_init(&pk, b);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, origin);
	msgpack_pack_uint64(&pk, job);
	msgpack_pack_uint64(&pk, owner);
}

int
jobmsg_moved_unpack(const uint8_t *p, uint32_t len, uint64_t *origin,
		    uint64_t *job, uint64_t *owner)
{
	struct mp_cur c;
	mp_cur_init(&c, p, len);
	if (rd_array_of(&c, 3) != 0 || mp_read_uint(&c, origin) != 0 ||
	    mp_read_uint(&c, job) != 0 || mp_read_uint(&c, owner) != 0 ||
	    mp_cur_left(&c) != 0 || *origin == 0 || *owner == 0)
		return MIST_EPROTO;
	return 0;
}
