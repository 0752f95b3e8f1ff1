/*
 * hostcall.c -- the gateway's side of the host API: MSG_HOST_CALL, a
 * running function's document request (mist_plugin.h's mist_docs), run
 * as a Parse REST request of the app that called the function
 * (function/hostcall.h draws the message, docs/MBAAS.md the path).
 *
 *   ACTOR_FUNCTION --MSG_HOST_CALL [app, caller, remaining_ms, master,
 *                    method, path, body]--> here (local only)
 *   here: preq_decode() of a request built from method, mount + path
 *         (its query string too) and body, with no headers: the keys,
 *         session and installation are the caller map's, never the
 *         path's or the body's;
 *         the app must still exist; documents routes only (classes,
 *         users, roles, sessions, GET schemas) -- not functions (no
 *         recursion through the host API), batch, login, logout;
 *         master = the caller held the master key, or the function
 *         declared MIST_FN_MASTER and the app allows it
 *         (functions_master, `mist apps set --functions-master on`);
 *         rate limits as rest_route (app, session, the original client's
 *         address; skipped for a master caller, as for its requests);
 *         deadline: the call's remaining one;
 *         triggers: a write runs the class's (trig_route, as for a
 *         client) unless the caller is itself a trigger (its caller map's
 *         "route" is the write's, not "functions"): a trigger's writes run
 *         none, so none calls itself;
 *   here --rest_send_docs--> the app's ACTOR_DOCS, and the answer, through
 *         rest_finish (one access-log line, "parent": the function call's
 *         "req"), --reply [status, body]--> ACTOR_FUNCTION.
 *
 * Everything runs in the gateway actor's turn.  The struct rpend of a
 * host call is marked host (rest_int.h): rest_finish hands its answer to
 * rest_host_finish() instead of HTTP.
 */
#include "config.h"
#include "gateway/rest_int.h"
#include "gateway/triggers.h"
#include "function/hostcall.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/text.h"

#include <string.h>

/* The routes a function may take through the host API. */
static bool
host_route_ok(const struct preq *q)
{
	switch (q->route) {
	case PR_CLASSES:
	case PR_USERS:
	case PR_USERS_ME:
	case PR_ROLES:
	case PR_SESSIONS:
	case PR_SESSIONS_ME:
		return true;
	case PR_SCHEMAS:
		return q->method == PM_GET;
	default:
		return false;
	}
}

void
rest_host_finish(struct rest *r, struct rpend *p, int status, const char *body,
		 size_t len)
{
	if (p->read != NULL) { /* a declared read: reads.c */
		rest_read_done(r, p, status, body, len);
		return;
	}
	struct msg req = {.flags = MSG_F_REQUEST, .from = p->host_from,
			  .corr = p->host_corr};
	struct buf b = BUF_INIT;
	hostcall_reply_pack(&b, (uint32_t)status, body, len);
	actor_reply(r->self, &req, MSG_HOST_CALL, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* The caller map's fields a host call acts with. */
struct host_caller {
	uint64_t req;
	bool master;
	const char *ip, *session, *install, *route;
	uint32_t ip_len, session_len, install_len, route_len;
};

/* Whether the caller map is a trigger's: rest_pack_caller names the
 * route of the request it serves, "functions" for a function's call and
 * the write's (classes, users, roles) for a trigger's. */
static bool
host_caller_is_trigger(const struct host_caller *c)
{
	return c->route != NULL && !mp_str_eq(c->route, c->route_len,
					      "functions");
}

static int
host_caller_read(const struct hostcall_req *h, struct host_caller *c)
{
	memset(c, 0, sizeof(*c));
	const struct mp_field f[] = {
		MP_UINT("req", &c->req, false),
		MP_BOOL("master", &c->master, false),
		MP_STR("ip", &c->ip, &c->ip_len, true),
		MP_STR("session", &c->session, &c->session_len, false),
		MP_STR("install", &c->install, &c->install_len, false),
		MP_STR("route", &c->route, &c->route_len, false),
	};
	if (mp_decode_fields(h->caller, h->caller_len, f, MP_NFIELDS(f),
			     NULL) != 0 ||
	    c->ip_len >= sizeof(((struct rpend *)0)->ip) ||
	    c->session_len >= PREQ_SESSION_MAX ||
	    c->install_len >= PREQ_INSTALL_MAX)
		return MIST_EPROTO;
	return 0;
}

void
rest_host_call(struct rest *r, struct msg *m)
{
	if (!(m->flags & MSG_F_REQUEST))
		return;
	/* the caller map is trusted: only this node's function actor */
	if (m->from.node != r->self->sys->node) {
		actor_reply_error(r->self, m, MIST_EPERM);
		return;
	}
	struct hostcall_req h;
	struct host_caller c;
	if (hostcall_unpack(m->body, m->len, &h) != 0 ||
	    host_caller_read(&h, &c) != 0) {
		actor_reply_error(r->self, m, MIST_EPROTO);
		return;
	}
	char ip[sizeof(((struct rpend *)0)->ip)];
	memcpy(ip, c.ip, c.ip_len);
	ip[c.ip_len] = '\0';
	/* mount + path, split at the query string */
	size_t mlen = strlen(r->mount);
	char *path = xmalloc(mlen + h.path_len + 1);
	memcpy(path, r->mount, mlen);
	memcpy(path + mlen, h.path, h.path_len);
	path[mlen + h.path_len] = '\0';
	char *query = strchr(path, '?');
	if (query != NULL)
		*query++ = '\0';
	struct rpend *p = rest_pend_new(r, RP_DOCS, 0, NULL, "", h.method,
					path, ip);
	p->parent = c.req;
	p->host = true;
	p->host_from = m->from;
	p->host_corr = m->corr;
	p->node = r->self->sys->node;
	struct http_req hr = {0};
	hr.method = h.method;
	hr.path = path;
	hr.query = query ? query : "";
	hr.ip = ip;
	hr.body = h.body;
	hr.body_len = h.body_len;
	struct preq q;
	struct perr e = {0};
	char app[HOSTCALL_APP_MAX];
	memcpy(app, h.app, h.app_len);
	app[h.app_len] = '\0';
	const struct app *a = apps_get(r->apps, app);
	if (a == NULL || a->deleted) {
		perr_set(&e, 403, PERR_OPERATION_FORBIDDEN,
			 "unauthorized: the app is gone");
		goto fail;
	}
	text_copy(p->app, sizeof(p->app), a->id);
	if (preq_decode(&hr, r->mount, &q, &e) != 0)
		goto fail;
	p->route = q.route;
	text_copy(p->cls, sizeof(p->cls), q.cls);
	if (!host_route_ok(&q)) {
		perr_set(&e, 403, PERR_OPERATION_FORBIDDEN,
			 "the host API reaches documents only, not %s %s",
			 preq_method_name(q.method), preq_route_name(q.route));
		preq_clear(&q);
		goto fail;
	}
	/* who it acts as: the caller map's, whatever the body said */
	text_copy(q.app_id, sizeof(q.app_id), a->id);
	q.rest_key[0] = q.js_key[0] = q.client_key[0] = q.master_key[0] = '\0';
	memcpy(q.session, c.session ? c.session : "", c.session_len);
	q.session[c.session_len] = '\0';
	memcpy(q.install, c.install ? c.install : "", c.install_len);
	q.install[c.install_len] = '\0';
	q.deadline_ms = 0;
	bool master = c.master || (h.master && a->functions_master);
	uint32_t retry, remaining, limit;
	if (!c.master &&
	    !rest_check_rate(r, a, &q, ip, &retry, &remaining, &limit)) {
		rest_answer_429(r, p, 0, retry, limit);
		free(p);
		preq_clear(&q);
		free(path);
		return;
	}
	uint32_t deadline = h.remaining_ms;
	if (a->deadline_ms < deadline)
		deadline = a->deadline_ms;
	/* a function's writes run the class's triggers, as a client's do; a
	 * trigger's own writes run none (a beforeSave:C writing a C would
	 * otherwise call itself until the deadline) */
	if (host_caller_is_trigger(&c) ||
	    !trig_route(r, p, a, &q, ip, master, deadline)) /* triggers.h */
		rest_send_docs(r, p, a, &q, ip, master, deadline);
	preq_clear(&q);
	free(path);
	return;
fail:
	rest_finish_err(r, p, &e);
	free(p);
	free(path);
}
