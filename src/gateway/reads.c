/*
 * reads.c -- declared reads (mist_plugin.h, "Declared reads"): the read a
 * function declared, made by the gateway when the call arrives, its answer
 * sent with the call, so the function's GET is answered in its executor
 * instead of crossing the executor's channel, the function actor and the
 * gateway's host call (docs/BENCHMARKS.md, "Case B", has the costs).
 *
 *   POST /functions/F {"id": "X", ...}     F declared "/classes/C/{id}"
 *        (the member running F gossips it: data/meta.h's "reads")
 *   here: GET /classes/C/X made as a host call of F would be -- as the
 *         caller (their session, the master key only if the client used
 *         it), the same rate limits, deadline and access-log line (its
 *         "parent" the call) --rest_send_docs--> the app's ACTOR_DOCS
 *   its answer, whatever its status (rest_finish -> rest_host_finish ->
 *         rest_read_done), --MSG_FN_CALL [..., reads: [[path, status,
 *         body]]] (function/fncall.h)--> ACTOR_FUNCTION, with the deadline
 *         less the time the read took
 *
 * The read is skipped (the call goes at once, as undeclared) when the
 * params name no usable id: the member is missing, not a string, or not
 * an object id (parse_req.h's rule).  Nothing else is weakened: a read the
 * caller may not make is answered 404 or 403 as their own GET would be.
 *
 * Ownership: struct rread is this file's, held by the read's struct rpend
 * (p->read) from rest_read_route() to rest_read_done(), which frees it;
 * it holds the call's struct rpend, handed to rest_fn_dispatch() then.
 * Everything runs in the gateway actor's turn.
 */
#include "config.h"
#include "gateway/rest_int.h"
#include "function/fncall.h"
#include "mist.h"
#include "util/mem.h"
#include "util/text.h"

#include <string.h>

struct rread {
	struct rpend *call;  /* the function call's, until it is sent */
	uint64_t node;	     /* where it goes */
	uint64_t started_ms; /* the read's time comes off the deadline */
	uint32_t deadline;
	char app[APP_ID_MAX];
	char fn[PREQ_NAME_MAX];
	struct buf caller, params;
	char path[FNREAD_PATH_MAX];
	uint32_t path_len;
};

bool
rest_read_route(struct rest *r, struct rpend *p, const struct app *a,
		const struct preq *q, const char *ip, bool master,
		uint32_t deadline, uint64_t node, struct buf *caller,
		struct buf *params)
{
	const struct fnread *d = rest_fn_read(r, node, q->fn);
	if (d == NULL || q->body == NULL)
		return false;
	const json_t *v = json_object_get(q->body, d->param);
	if (!json_is_string(v) ||
	    !preq_id_ok(json_string_value(v), json_string_length(v)) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return false;
	/* GET /users/me is the caller's own user, not the object "me"
	 * (parse_req.h's PR_USERS_ME): left to the host call */
	if (d->route == FNREAD_USERS && strcmp(json_string_value(v), "me") == 0)
		return false;
	struct rread *rr = xcalloc(1, sizeof(*rr));
	rr->call = p;
	rr->node = node;
	rr->started_ms = actor_sys_now(r->self->sys);
	rr->deadline = deadline;
	text_copy(rr->app, sizeof(rr->app), a->id);
	text_copy(rr->fn, sizeof(rr->fn), q->fn);
	rr->caller = *caller;
	rr->params = *params;
	*caller = (struct buf)BUF_INIT;
	*params = (struct buf)BUF_INIT;
	rr->path_len = (uint32_t)fnread_path(d, json_string_value(v), rr->path);
	/* the GET the function would make: the caller's keys and session,
	 * no parameters, the class and the id of the declaration */
	struct preq g = *q;
	g.body = g.params = g.context = NULL; /* q's: not ours to free */
	g.method = PM_GET;
	g.route = d->route == FNREAD_CLASSES ? PR_CLASSES
		  : d->route == FNREAD_USERS ? PR_USERS
					     : PR_ROLES;
	memcpy(g.cls, d->cls, sizeof(g.cls));
	memcpy(g.id, json_string_value(v), json_string_length(v) + 1);
	g.fn[0] = '\0';
	/* the read's own line in the access log, as a host call's */
	char path[sizeof(r->mount) + FNREAD_PATH_MAX];
	stpcpy(stpcpy(path, r->mount), rr->path);
	struct rpend *rp = rest_pend_new(r, RP_DOCS, 0, &g, a->id, "GET", path,
					 ip);
	rp->parent = p->req;
	rp->host = true;
	rp->read = rr;
	uint32_t retry, remaining, limit;
	if (!master && !rest_check_rate(r, a, &g, ip, &retry, &remaining,
					&limit)) {
		rest_answer_429(r, rp, 0, retry, limit); /* -> rest_read_done */
		free(rp);
	} else {
		/* the call's caller map: the accessory reads neither its
		 * "req" nor its "route".  Half the deadline: a slow read
		 * leaves the function the rest (it is then sent without) */
		rest_send_docs_as(r, rp, a, &g, ip, master,
				  deadline > 1 ? deadline / 2 : deadline,
				  &rr->caller);
	}
	return true;
}

void
rest_read_done(struct rest *r, struct rpend *p, int status, const char *body,
	       size_t len)
{
	struct rread *rr = p->read;
	p->read = NULL;
	uint64_t spent = actor_sys_now(r->self->sys) - rr->started_ms;
	uint32_t left = spent < rr->deadline ? rr->deadline - (uint32_t)spent
					     : 0;
	struct fncall_read rd = {rr->path, rr->path_len, status, body,
				 (uint32_t)len};
	/* only an answer that stands is carried: a 429 or a 5xx (no
	 * documents home, the store down, the read's time out) is the
	 * moment's, and the function's GET, sent to the host, may fare
	 * better; nor an object too large to travel with the call */
	bool carry = status >= 200 && status < 500 && status != 429 &&
		     len <= FNCALL_READ_BODY_MAX;
	struct buf b = BUF_INIT;
	fncall_pack_reads(&b, rr->app, rr->fn, left, rr->caller.data,
			  (uint32_t)rr->caller.len, rr->params.data,
			  (uint32_t)rr->params.len, &rd, carry ? 1 : 0);
	rest_fn_dispatch(r, rr->call, rr->node, &b, left);
	buf_destroy(&b);
	buf_destroy(&rr->caller);
	buf_destroy(&rr->params);
	free(rr);
}

struct rpend *
rest_read_abandon(struct rpend *p)
{
	struct rread *rr = p->read;
	struct rpend *call = rr->call;
	p->read = NULL;
	buf_destroy(&rr->caller);
	buf_destroy(&rr->params);
	free(rr);
	return call;
}
