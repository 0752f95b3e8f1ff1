/*
 * rest.c -- the Parse REST layer of the gateway (see rest.h): keys, limits,
 * deadlines, routing to the documents accessory and to add-on functions,
 * batches, the access log and the metrics.  Everything runs in the gateway
 * actor's turn, on the loop thread.
 */
#include "config.h"
#include "gateway/rest.h"
#include "gateway/rest_int.h"
#include "accessory/accessory.h"
#include "accessory/accmsg.h"
#include "accessory/perr.h"
#include "data/meta.h"
#include "function/fncall.h"
#include "function/function.h"
#include "gateway/jsonmp.h"
#include "gateway/metrics.h"
#include "gateway/parse_req.h"
#include "gateway/ratelimit.h"
#include "gateway/triggers.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
rest_config_default(struct rest_config *cfg)
{
	cfg->mount = "/parse";
	cfg->access_log = NULL;
	/*
	 * 50 sub-requests per batch, Parse.com's limit (the JS SDK's saveAll
	 * sends 20 at a time): each is checked, limited and logged alone,
	 * so a batch costs what its requests cost, and one request cannot
	 * hold more than 50 pending slots.
	 */
	cfg->max_batch = 50;
	/* 64 KiB of JSON params: a function call carries arguments, not
	 * files; the listener bounds the body anyway. */
	cfg->max_fn_params = 64u << 10;
}

/* ------------------------------------------------------------ answers */

uint64_t
rest_now_ns(const struct rest *r)
{
	return actor_sys_hrtime(r->self->sys);
}

static void
log_line(struct rest *r, const struct rpend *p, int status, size_t bytes,
	 const char *user, uint32_t len_user)
{
	if (r->log == NULL)
		return;
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	double ms = (double)(rest_now_ns(r) - p->started_ns) / 1e6;
	json_t *o = json_object();
	json_object_set_new(o, "time", json_string(ts));
	char id[17];
	snprintf(id, sizeof(id), "%016" PRIx64, p->req);
	json_object_set_new(o, "req", json_string(id));
	if (p->parent != 0) {
		snprintf(id, sizeof(id), "%016" PRIx64, p->parent);
		json_object_set_new(o, "parent", json_string(id));
	}
	json_object_set_new(o, "app", json_string(p->app));
	json_object_set_new(o, "user", json_stringn(user ? user : "", len_user));
	json_object_set_new(o, "ip", json_string(p->ip));
	json_object_set_new(o, "method", json_string(p->method));
	json_object_set_new(o, "route", json_string(p->path));
	json_object_set_new(o, "class", json_string(p->cls));
	json_object_set_new(o, "op", json_string(preq_route_name(p->route)));
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "ms", json_real(ms));
	json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
	char node[17];
	snprintf(node, sizeof(node), "%016" PRIx64, p->node);
	json_object_set_new(o, "node", json_string(node));
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (s != NULL) {
		fputs(s, r->log);
		fputc('\n', r->log);
		free(s);
	}
}

static void
answer(struct rest *r, uint64_t http_id, int status,
       const struct http_hdr *hdrs, uint32_t nhdrs, const void *body,
       size_t len)
{
	if (http_respond(r->http, http_id, status, hdrs, nhdrs, body, len) != 0)
		r->metrics.late++;
}

static void
answer_err(struct rest *r, uint64_t http_id, const struct perr *e)
{
	char out[PERR_JSON_MAX];
	size_t n = perr_json(e, out, sizeof(out));
	answer(r, http_id, e->http, NULL, 0, out, n);
}

/* The answer of one request or sub-request: to HTTP, or into its batch. */
static void finish_sub(struct rest *r, struct rpend *p, int status,
		       const char *body, size_t len);

void
rest_finish(struct rest *r, struct rpend *p, int status, const char *body,
       size_t len, const char *user, uint32_t ulen)
{
	metrics_request(&r->metrics, p->app, p->route, status,
			rest_now_ns(r) - p->started_ns);
	log_line(r, p, status, len, user, ulen);
	if (p->host) /* host API: gateway/hostcall.c */
		rest_host_finish(r, p, status, body, len);
	else if (p->batch != NULL)
		finish_sub(r, p, status, body, len);
	else
		answer(r, p->http_id, status, NULL, 0, body, len);
}

void
rest_finish_err(struct rest *r, struct rpend *p, const struct perr *e)
{
	char out[PERR_JSON_MAX];
	size_t n = perr_json(e, out, sizeof(out));
	rest_finish(r, p, e->http, out, n, NULL, 0);
}

static void
finish_sub(struct rest *r, struct rpend *p, int status, const char *body,
	   size_t len)
{
	struct rbatch *b = p->batch;
	json_error_t je;
	json_t *v = json_loadb(body, len, 0, &je);
	json_t *item = json_object();
	if (v == NULL)
		v = json_object();
	json_object_set_new(item, status >= 200 && status < 300 ? "success"
								: "error",
			    v);
	json_array_set_new(b->results, p->index, item);
	if (--b->left > 0)
		return;
	char *s = json_dumps(b->results, JSON_COMPACT);
	answer(r, b->http_id, 200, NULL, 0, s, strlen(s));
	free(s);
	json_decref(b->results);
	free(b);
}

/* ---------------------------------------------------------- membership */

static void
fnode_free(struct fnode *f)
{
	if (f != NULL) {
		free(f->names);
		free(f->reads);
		free(f);
	}
}

void
rest_member(struct rest *r, uint64_t node, const uint8_t *meta,
	    uint32_t meta_len, bool alive)
{
	bool self = node == r->self->sys->node;
	struct fnode *old = map_get(&r->fnodes, node);
	if (!alive) {
		if (old != NULL) {
			if (!self && old->http)
				r->gateways--;
			fnode_free(map_del(&r->fnodes, node));
		}
		return;
	}
	if (meta == NULL)
		return;
	struct meta *md = xmalloc(sizeof(*md));
	if (meta_decode(meta, meta_len, md) != 0) {
		free(md);
		return;
	}
	if (old == NULL) {
		if (r->fnodes.len >= REST_MAX_FN_NODES) {
			free(md);
			return;
		}
		old = xcalloc(1, sizeof(*old));
		map_put(&r->fnodes, node, old);
	}
	if (!self && old->http != md->http)
		md->http ? r->gateways++ : r->gateways--;
	old->http = md->http;
	old->docs_shared = md->docs && md->docs_shared;
	free(old->names);
	old->n = md->nfunctions;
	old->names = xcalloc(md->nfunctions ? md->nfunctions : 1,
			     sizeof(*old->names));
	for (uint32_t i = 0; i < md->nfunctions; i++)
		memcpy(old->names[i], md->functions[i], EXEC_NAME_MAX);
	free(old->reads);
	old->reads = xcalloc(md->nreads ? md->nreads : 1, sizeof(*old->reads));
	old->nreads = 0;
	for (uint32_t i = 0; i < md->nreads; i++) {
		struct fnode_read *fr = &old->reads[old->nreads];
		/* meta_read checked both: this cannot fail */
		if (fnread_parse(md->reads[i].tmpl, strlen(md->reads[i].tmpl),
				 &fr->d) == 0) {
			fr->fn = md->reads[i].fn;
			old->nreads++;
		}
	}
	free(md);
}

static bool
fnode_offers(const struct fnode *f, const char *fn)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (strcmp(f->names[i], fn) == 0)
			return true;
	return false;
}

const struct fnread *
rest_fn_read(struct rest *r, uint64_t node, const char *fn)
{
	const struct fnode *f = map_get(&r->fnodes, node);
	if (f == NULL)
		return NULL;
	for (uint32_t i = 0; i < f->nreads; i++)
		if (strcmp(f->names[f->reads[i].fn], fn) == 0)
			return &f->reads[i].d;
	return NULL;
}

/*
 * Where function @a fn runs: this node if its executors offer it (no hop:
 * the fastest under any load the executors can take), else a member
 * offering it, picked at random so callers spread.  0 if nobody does.
 */
uint64_t
rest_fn_node(struct rest *r, const char *fn)
{
	const struct fnode *me = map_get(&r->fnodes, r->self->sys->node);
	if (me != NULL && fnode_offers(me, fn))
		return r->self->sys->node;
	uint64_t pick = 0, k;
	uint32_t seen = 0;
	size_t it = 0;
	void *v;
	while (map_next(&r->fnodes, &it, &k, &v)) {
		if (!fnode_offers(v, fn))
			continue;
		if (randombytes_uniform(++seen) == 0)
			pick = k;
	}
	return pick;
}

/*
 * The accessory that serves @a a's documents: with --docs postgres every
 * accessory serves every app (they share the database), so this node's
 * when it is one (no hop), else a member that is one, at random so
 * callers spread; else the app's home if alive.  0: none is reachable
 * (rest_docs_home says why).  Losing any agent loses no service as long
 * as one serving PostgreSQL is alive.
 */
uint64_t
rest_docs_node(struct rest *r, const struct app *a)
{
	uint64_t self = r->self->sys->node;
	const struct fnode *me = map_get(&r->fnodes, self);
	if (me != NULL && me->docs_shared)
		return self;
	uint64_t pick = 0, k;
	uint32_t seen = 0;
	size_t it = 0;
	void *v;
	while (map_next(&r->fnodes, &it, &k, &v)) {
		const struct fnode *f = v;
		if (f->docs_shared && randombytes_uniform(++seen) == 0)
			pick = k;
	}
	if (pick != 0)
		return pick;
	if (a->home != 0 &&
	    (a->home == self || map_get(&r->fnodes, a->home) != NULL))
		return a->home;
	return 0;
}

/* ------------------------------------------------------------- checks */

/* Equal strings, in time that depends only on their lengths. */
static bool
key_eq(const char *given, const char *want)
{
	size_t n = strlen(want);
	return n > 0 && strlen(given) == n && sodium_memcmp(given, want, n) == 0;
}

/*
 * The app of @a q, and whether the caller holds its master key; or a
 * Parse error (403 "unauthorized", as Parse answers a wrong key).
 */
const struct app *
rest_check_app(struct rest *r, const struct preq *q, const char *ip, bool *master,
	  struct perr *e)
{
	const struct app *a = apps_get(r->apps, q->app_id);
	*master = false;
	if (a == NULL || a->deleted) {
		perr_set(e, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
		return NULL;
	}
	if (q->master_key[0] != '\0') {
		if (!key_eq(q->master_key, a->master_key)) {
			perr_set(e, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
			return NULL;
		}
		if (!apps_master_allowed(a, ip)) {
			perr_set(e, 403, PERR_OPERATION_FORBIDDEN,
				 "unauthorized: master key is not allowed from %s",
				 ip);
			return NULL;
		}
		*master = true;
		return a;
	}
	if ((q->rest_key[0] && key_eq(q->rest_key, a->rest_key)) ||
	    (q->js_key[0] && key_eq(q->js_key, a->js_key)) ||
	    (q->client_key[0] && key_eq(q->client_key, a->client_key)))
		return a;
	perr_set(e, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
	return NULL;
}

/*
 * Takes a token from the app's, the session's and the address's buckets.
 * Each gateway holds 1/(gateways + 1) of an app-wide rate (the alive
 * members serving HTTP, from their gossiped metadata, and us): the
 * cluster admits at most the configured rate plus one burst per gateway
 * (docs/HTTP.md states the bound).  Returns false with the wait in @a retry.
 */
bool
rest_check_rate(struct rest *r, const struct app *a, const struct preq *q,
	   const char *ip, uint32_t *retry, uint32_t *remaining,
	   uint32_t *limit)
{
	uint64_t now = actor_sys_now(r->self->sys);
	char key[APP_ID_MAX + 128];
	*retry = 0;
	*remaining = UINT32_MAX;
	*limit = 0;
	if (a->rate > 0) {
		snprintf(key, sizeof(key), "a:%s", a->id);
		*limit = a->rate;
		if (ratelimit_take(r->rl, key,
				   ratelimit_rate_share(a->rate, r->gateways + 1),
				   now, retry, remaining) != 1) {
			r->metrics.rate_app++;
			return false;
		}
	}
	if (a->user_rate > 0 && q->session[0] != '\0') {
		/* the token hashed: keys are bounded, tokens need not be */
		uint8_t h[16];
		char hx[33];
		crypto_generichash(h, sizeof(h), (const uint8_t *)q->session,
				   strlen(q->session), NULL, 0);
		hex_encode(hx, h, sizeof(h));
		snprintf(key, sizeof(key), "u:%s:%s", a->id, hx);
		if (ratelimit_take(r->rl, key, (uint64_t)a->user_rate * 1000,
				   now, retry, remaining) != 1) {
			r->metrics.rate_user++;
			return false;
		}
	}
	if (a->ip_rate > 0) {
		snprintf(key, sizeof(key), "i:%s:%s", a->id, ip);
		if (ratelimit_take(r->rl, key, (uint64_t)a->ip_rate * 1000, now,
				   retry, remaining) != 1) {
			r->metrics.rate_ip++;
			return false;
		}
	}
	return true;
}

void
rest_answer_429(struct rest *r, struct rpend *p, uint64_t http_id, uint32_t retry,
	   uint32_t limit)
{
	struct perr e;
	perr_set(&e, 429, PERR_REQUEST_LIMIT_EXCEEDED,
		 "too many requests: retry in %u ms", retry);
	if (p->batch != NULL || p->host) {
		rest_finish_err(r, p, &e);
		return;
	}
	char ra[16], lim[16];
	snprintf(ra, sizeof(ra), "%u", (retry + 999) / 1000);
	snprintf(lim, sizeof(lim), "%u", limit);
	struct http_hdr h[] = {{"retry-after", ra},
			       {"x-ratelimit-limit", lim},
			       {"x-ratelimit-remaining", "0"}};
	char out[PERR_JSON_MAX];
	size_t n = perr_json(&e, out, sizeof(out));
	metrics_request(&r->metrics, p->app, p->route, 429,
			rest_now_ns(r) - p->started_ns);
	log_line(r, p, 429, n, NULL, 0);
	answer(r, http_id, 429, h, 3, out, n);
}

/* ------------------------------------------------------------ routing */

uint32_t
rest_deadline_of(const struct app *a, const struct preq *q)
{
	uint32_t d = a->deadline_ms;
	if (q->deadline_ms > 0 && q->deadline_ms < d)
		d = q->deadline_ms;
	return d;
}

/* A new reference to the request's body, or an empty object. */
static json_t *
body_ref(const struct preq *q)
{
	return q->body ? json_incref(q->body) : json_object();
}

/* The accessory operation and its JSON body for @a q, or -1 and @a e. */
static int
docs_op(const struct preq *q, bool master, json_t **body, struct perr *e)
{
	const char *cls = q->cls;
	json_t *b = json_object();
	int op = -1;
	*body = b;
	switch (q->route) {
	case PR_USERS:	  /* cls "_User" */
	case PR_ROLES:	  /* cls "_Role" */
	case PR_SESSIONS: /* cls "_Session" */
	case PR_CLASSES:
		json_object_set_new(b, "class", json_string(cls));
		if (q->id[0] != '\0')
			json_object_set_new(b, "id", json_string(q->id));
		switch (q->method) {
		case PM_GET:
			if (q->params != NULL)
				json_object_update(b, q->params);
			op = q->id[0] ? ACC_DOC_GET : ACC_DOC_QUERY;
			break;
		case PM_POST:
			if (q->id[0] != '\0')
				break;
			json_object_set_new(b, "object", body_ref(q));
			op = ACC_DOC_CREATE;
			break;
		case PM_PUT:
			if (q->id[0] == '\0')
				break;
			json_object_set_new(b, "changes", body_ref(q));
			op = ACC_DOC_UPDATE;
			break;
		case PM_DELETE:
			if (q->id[0] == '\0')
				break;
			op = ACC_DOC_DELETE;
			break;
		}
		break;
	case PR_USERS_ME:
		op = ACC_DOC_ME;
		break;
	case PR_SESSIONS_ME:
		json_object_set_new(b, "session", json_true());
		op = ACC_DOC_ME;
		break;
	case PR_LOGIN: {
		const json_t *src = q->body;
		if (src != NULL) {
			json_t *u = json_object_get(src, "username");
			json_t *pw = json_object_get(src, "password");
			if (u != NULL)
				json_object_set(b, "username", u);
			if (pw != NULL)
				json_object_set(b, "password", pw);
		}
		op = ACC_DOC_LOGIN;
		break;
	}
	case PR_LOGOUT:
		op = ACC_DOC_LOGOUT;
		break;
	case PR_SCHEMAS:
		if (!master) {
			perr_set(e, 403, PERR_OPERATION_FORBIDDEN,
				 "unauthorized: master key is required");
			return -1;
		}
		if (q->cls[0] != '\0')
			json_object_set_new(b, "class", json_string(q->cls));
		if (q->method == PM_GET) {
			op = ACC_DOC_SCHEMA_GET;
		} else if (q->method == PM_DELETE) {
			op = q->cls[0] ? ACC_DOC_SCHEMA_DELETE : -1;
		} else if (q->cls[0] != '\0') {
			if (q->body != NULL)
				json_object_update(b, q->body);
			json_object_set_new(b, "class", json_string(q->cls));
			json_object_set_new(b, "create",
					    json_boolean(q->method == PM_POST));
			op = ACC_DOC_SCHEMA_PUT;
		}
		break;
	default:
		break;
	}
	if (op < 0 && e->http == 0)
		perr_set(e, 404, PERR_INVALID_JSON, "unknown route");
	return op;
}

void
rest_pack_caller(msgpack_packer *pk, const struct rest *r, const struct app *a,
		 const struct preq *q, const char *ip, bool master, uint64_t req)
{
	uint32_t n = 7 + (q->session[0] != 0) + (q->install[0] != 0);
	n += 1; /* index_budget: automatic indexes (docs/INDEXES.md) */
	msgpack_pack_map(pk, n);
	mp_pack_str(pk, "index_budget");
	msgpack_pack_uint64(pk, a->index_budget);
	mp_pack_str(pk, "req");
	msgpack_pack_uint64(pk, req);
	mp_pack_str(pk, "master");
	master ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	mp_pack_str(pk, "ip");
	mp_pack_str(pk, ip);
	mp_pack_str(pk, "create_classes");
	a->client_class_creation ? msgpack_pack_true(pk)
				 : msgpack_pack_false(pk);
	mp_pack_str(pk, "quota");
	msgpack_pack_uint64(pk, a->quota_bytes);
	mp_pack_str(pk, "node");
	msgpack_pack_uint64(pk, r->self->sys->node);
	mp_pack_str(pk, "route");
	mp_pack_str(pk, preq_route_name(q->route));
	if (q->session[0] != '\0') {
		mp_pack_str(pk, "session");
		mp_pack_str(pk, q->session);
	}
	if (q->install[0] != '\0') {
		mp_pack_str(pk, "install");
		mp_pack_str(pk, q->install);
	}
}

struct rpend *
rest_pend_new(struct rest *r, enum rp_kind kind, uint64_t http_id,
	 const struct preq *q, const char *app, const char *method,
	 const char *path, const char *ip)
{
	struct rpend *p = xcalloc(1, sizeof(*p));
	p->kind = kind;
	p->req = ++r->next_req;
	p->http_id = http_id;
	p->started_ns = rest_now_ns(r);
	p->route = q ? q->route : PR_NONE;
	text_copy(p->app, sizeof(p->app), app ? app : "");
	text_copy(p->method, sizeof(p->method), method);
	text_copy(p->cls, sizeof(p->cls), q ? q->cls : "");
	text_copy(p->ip, sizeof(p->ip), ip);
	text_copy(p->path, sizeof(p->path), path);
	return p;
}

bool
rest_docs_home(struct rest *r, const struct app *a, struct perr *e)
{
	if (rest_docs_node(r, a) != 0)
		return true; /* an accessory on a shared PostgreSQL */
	if (a->home == 0) {
		perr_set(e, 503, PERR_CONNECTION_FAILED,
			 "app %s has no documents home (created with --docs none?)",
			 a->id);
		return false;
	}
	if (a->home != r->self->sys->node &&
	    map_get(&r->fnodes, a->home) == NULL) {
		perr_set(e, 503, PERR_CONNECTION_FAILED,
			 "the documents home of app %s (node %016" PRIx64
			 ") is unreachable",
			 a->id, a->home);
		return false;
	}
	return true;
}

void
rest_send_docs(struct rest *r, struct rpend *p, const struct app *a,
	  const struct preq *q, const char *ip, bool master, uint32_t deadline)
{
	rest_send_docs_as(r, p, a, q, ip, master, deadline, NULL);
}

void
rest_send_docs_as(struct rest *r, struct rpend *p, const struct app *a,
		  const struct preq *q, const char *ip, bool master,
		  uint32_t deadline, const struct buf *packed)
{
	struct perr e = {0};
	json_t *body = NULL;
	/* the commonest request, a GET by id with no parameters, needs no
	 * JSON tree: its body is written directly below */
	bool plain_get = q->method == PM_GET && q->id[0] != '\0' &&
			 q->params == NULL &&
			 (q->route == PR_CLASSES || q->route == PR_USERS ||
			  q->route == PR_ROLES || q->route == PR_SESSIONS);
	int op = plain_get ? ACC_DOC_GET : docs_op(q, master, &body, &e);
	if (op < 0) {
		json_decref(body);
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	if (!rest_docs_home(r, a, &e)) {
		json_decref(body);
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	struct buf caller = BUF_INIT, b = BUF_INIT;
	if (packed != NULL) {
		caller = *packed; /* borrowed: not destroyed below */
	} else {
		msgpack_packer pk;
		msgpack_packer_init(&pk, &caller, buf_msgpack_write);
		rest_pack_caller(&pk, r, a, q, ip, master, p->req);
	}
	if (plain_get) {
		/* the commonest request, {"class","id"}: both names are
		 * checked by parse_req.h to need no JSON escape */
		char text[32 + PREQ_NAME_MAX + PREQ_ID_MAX];
		char *end = stpcpy(stpcpy(stpcpy(stpcpy(stpcpy(text,
			"{\"class\":\""), q->cls), "\",\"id\":\""), q->id), "\"}");
		acc_request_pack_text(&b, a->id, (uint8_t)op, deadline,
				      caller.data, caller.len, text,
				      (size_t)(end - text));
	} else {
		acc_request_pack(&b, a->id, (uint8_t)op, deadline, caller.data,
				 caller.len, body);
	}
	if (packed == NULL)
		buf_destroy(&caller);
	json_decref(body);
	p->node = rest_docs_node(r, a);
	uint64_t corr;
	actor_request(r->self, (struct actor_ref){p->node, ACTOR_DOCS},
		      MSG_ACC_REQUEST, b.data, (uint32_t)b.len,
		      deadline + REST_REPLY_SLACK_MS, &corr);
	buf_destroy(&b);
	map_put(&r->pending, corr, p);
}

void
rest_send_fn(struct rest *r, struct rpend *p, const struct app *a,
	const struct preq *q, const char *ip, bool master, uint32_t deadline)
{
	struct perr e = {0};
	bool allowed = false;
	/* a trigger ("beforeSave:C") is never called by name (triggers.h);
	 * parse_req.h refuses ':' in the path already, this is the rule */
	bool trigger = strchr(q->fn, ':') != NULL;
	for (uint32_t i = 0; i < a->nfunctions && !allowed && !trigger; i++)
		allowed = strcmp(a->functions[i], q->fn) == 0;
	uint64_t node = allowed ? rest_fn_node(r, q->fn) : 0;
	if (!allowed || node == 0) {
		/* Parse's answer for a function it does not know */
		perr_set(&e, 400, PERR_SCRIPT_FAILED, "Invalid function: \"%s\"",
			 q->fn);
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	struct buf params = BUF_INIT;
	json_t *empty = NULL;
	const json_t *pv = q->body;
	if (pv == NULL)
		pv = empty = json_object();
	char why[JSONMP_WHY_MAX];
	int rc = jsonmp_from_json(pv, NULL, &params, why, sizeof(why));
	json_decref(empty);
	if (rc != 0 || params.len > r->cfg.max_fn_params) {
		if (rc == 0)
			perr_set(&e, 400, PERR_INVALID_JSON,
				 "function parameters over %u bytes",
				 r->cfg.max_fn_params);
		else
			perr_set(&e, 400, PERR_INVALID_JSON,
				 "function parameters: %s", why);
		buf_destroy(&params);
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	struct buf caller = BUF_INIT, b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &caller, buf_msgpack_write);
	rest_pack_caller(&pk, r, a, q, ip, master, p->req);
	/* a declared read first (reads.c), the call with its answer */
	if (rest_read_route(r, p, a, q, ip, master, deadline, node, &caller,
			    &params))
		return;
	fncall_pack(&b, a->id, q->fn, deadline, caller.data,
		    (uint32_t)caller.len, params.data, (uint32_t)params.len);
	buf_destroy(&caller);
	buf_destroy(&params);
	rest_fn_dispatch(r, p, node, &b, deadline);
	buf_destroy(&b);
}

void
rest_fn_dispatch(struct rest *r, struct rpend *p, uint64_t node,
		 const struct buf *b, uint32_t deadline)
{
	p->kind = RP_FN;
	p->node = node;
	uint64_t corr;
	actor_request(r->self, (struct actor_ref){node, ACTOR_FUNCTION},
		      MSG_FN_CALL, b->data, (uint32_t)b->len,
		      deadline + REST_REPLY_SLACK_MS, &corr);
	map_put(&r->pending, corr, p);
}

/*
 * One request (or a batch's sub-request, @a batch set): checked, limited,
 * routed.  Takes @a p (freed or kept in the pending table).
 */
void
rest_route(struct rest *r, struct rpend *p, const struct preq *q, const char *ip,
      uint64_t http_id)
{
	struct perr e = {0};
	bool master;
	const struct app *a = rest_check_app(r, q, ip, &master, &e);
	if (a == NULL) {
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	/* only an app that exists names a metrics series or a log field:
	 * made-up ids must not grow the series table */
	text_copy(p->app, sizeof(p->app), a->id);
	uint32_t retry, remaining, limit;
	if (!master && !rest_check_rate(r, a, q, ip, &retry, &remaining, &limit)) {
		rest_answer_429(r, p, http_id, retry, limit);
		free(p);
		return;
	}
	uint32_t deadline = rest_deadline_of(a, q);
	if (p->batch == NULL)
		http_set_deadline(r->http, http_id,
				  deadline + REST_DEADLINE_SLACK_MS);
	if (q->route == PR_FUNCTIONS)
		rest_send_fn(r, p, a, q, ip, master, deadline);
	else if (!trig_route(r, p, a, q, ip, master, deadline)) /* triggers.h */
		rest_send_docs(r, p, a, q, ip, master, deadline);
}

/* POST /batch: each sub-request alone through rest_route(). */
static void
batch(struct rest *r, struct rpend *top, const struct preq *q,
      const char *ip, uint64_t http_id)
{
	struct perr e = {0};
	/* the batch itself must name an app and hold one of its keys; each
	 * sub-request is then checked, limited and logged as if sent alone */
	bool master;
	const struct app *a = rest_check_app(r, q, ip, &master, &e);
	if (a == NULL)
		goto fail;
	text_copy(top->app, sizeof(top->app), a->id);
	http_set_deadline(r->http, http_id,
			  rest_deadline_of(a, q) + REST_DEADLINE_SLACK_MS);
	json_t *reqs = q->body ? json_object_get(q->body, "requests") : NULL;
	if (!json_is_array(reqs)) {
		perr_set(&e, 400, PERR_INVALID_JSON,
			 "requests must be an array");
		goto fail;
	}
	size_t n = json_array_size(reqs);
	if (n > r->cfg.max_batch) {
		perr_set(&e, 400, PERR_COMMAND_UNAVAILABLE,
			 "too many sub-requests in a batch: %zu (at most %u)", n,
			 r->cfg.max_batch);
		goto fail;
	}
	if (n == 0) {
		rest_finish(r, top, 200, "[]", 2, NULL, 0);
		free(top);
		return;
	}
	struct rbatch *b = xcalloc(1, sizeof(*b));
	b->http_id = http_id;
	b->n = b->left = (uint32_t)n;
	b->results = json_array();
	b->started_ns = top->started_ns;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(b->results, json_null());
	free(top);
	for (size_t i = 0; i < n; i++) {
		json_t *sr = json_array_get(reqs, i);
		const char *method = json_string_value(json_object_get(sr, "method"));
		const char *path = json_string_value(json_object_get(sr, "path"));
		struct preq sq;
		struct perr se = {0};
		struct rpend *p = rest_pend_new(r, RP_DOCS, 0, NULL, "",
					   method ? method : "?",
					   path ? path : "?", ip);
		p->batch = b;
		p->index = (uint32_t)i;
		if (method == NULL || path == NULL) {
			perr_set(&se, 400, PERR_INVALID_JSON,
				 "a batch request needs a method and a path");
			rest_finish_err(r, p, &se);
			free(p);
			continue;
		}
		if (preq_decode_sub(q, method, path, json_object_get(sr, "body"),
				    r->mount, &sq, &se) != 0) {
			rest_finish_err(r, p, &se);
			free(p);
			continue;
		}
		p->route = sq.route;
		text_copy(p->cls, sizeof(p->cls), sq.cls);
		if (sq.route == PR_BATCH || sq.route == PR_FUNCTIONS) {
			perr_set(&se, 400, PERR_INVALID_JSON,
				 "a batch may not contain %s",
				 preq_route_name(sq.route));
			rest_finish_err(r, p, &se);
			free(p);
		} else {
			rest_route(r, p, &sq, ip, http_id);
		}
		preq_clear(&sq);
	}
	return;
fail:
	rest_finish_err(r, top, &e);
	free(top);
}

/* ------------------------------------------------------------ metrics */

static bool
ip_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strncmp(ip, "::ffff:127.", 11) == 0;
}

static void
metrics_answer(struct rest *r, uint64_t http_id, const uint8_t *docs,
	       uint32_t docs_len)
{
	struct buf out = BUF_INIT;
	struct http_stats hs = http_stats(r->http);
	struct func_stats *fs = xmalloc(sizeof(*fs));
	struct metrics_node n = {&hs,
				 docs,
				 docs_len,
				 NULL,
				 &r->self->sys->stats,
				 r->cfg.link_stats,
				 r->swim};
	if (func_stats(r->self->sys, fs) == 0)
		n.fn = fs;
	metrics_render(&r->metrics, &n, &out);
	free(fs);
	struct http_hdr h = {"content-type", "text/plain; version=0.0.4"};
	answer(r, http_id, 200, &h, 1, out.data, out.len);
	buf_destroy(&out);
}

static void
metrics_request_stats(struct rest *r, uint64_t http_id, const char *ip)
{
	struct rpend *p = rest_pend_new(r, RP_STATS, http_id, NULL, "", "GET",
				   "/metrics", ip);
	uint64_t corr;
	actor_request(r->self, (struct actor_ref){r->self->sys->node,
						  ACTOR_DOCS},
		      MSG_ACC_STATS, NULL, 0, REST_STATS_TIMEOUT_MS, &corr);
	map_put(&r->pending, corr, p);
}

/* ------------------------------------------------------------- entry */

void
rest_request(struct rest *r, struct msg *m)
{
	const struct http_req *h = m->ptr;
	if (h == NULL)
		return;
	if (strcmp(h->path, "/metrics") == 0 && strcmp(h->method, "GET") == 0) {
		if (!ip_is_loopback(h->ip)) {
			struct perr e;
			perr_set(&e, 403, PERR_OPERATION_FORBIDDEN,
				 "metrics are served to loopback only");
			answer_err(r, h->id, &e);
			return;
		}
		metrics_request_stats(r, h->id, h->ip);
		return;
	}
	struct preq q;
	struct perr e = {0};
	struct rpend *p;
	if (preq_decode(h, r->mount, &q, &e) != 0) {
		p = rest_pend_new(r, RP_DOCS, h->id, NULL, "", h->method, h->path,
			     h->ip);
		rest_finish_err(r, p, &e);
		free(p);
		return;
	}
	p = rest_pend_new(r, RP_DOCS, h->id, &q, "", h->method, h->path, h->ip);
	p->node = r->self->sys->node;
	if (q.route == PR_HEALTH) {
		static const char ok[] = "{\"status\":\"ok\"}";
		rest_finish(r, p, 200, ok, sizeof(ok) - 1, NULL, 0);
		free(p);
	} else if (q.route == PR_BATCH) {
		batch(r, p, &q, h->ip, h->id);
	} else {
		rest_route(r, p, &q, h->ip, h->id);
	}
	preq_clear(&q);
}

/* The reply of a MSG_ACC_REQUEST: [status, body (JSON bin), user]. */
static void
docs_reply(struct rest *r, struct rpend *p, struct msg *m)
{
	struct perr e = {0};
	if (m->status != 0) {
		if (m->status == MIST_ETIMEDOUT)
			perr_set(&e, 504, PERR_TIMEOUT,
				 "Request timed out (node %016" PRIx64 ")",
				 p->node);
		else
			perr_set(&e, 503, PERR_CONNECTION_FAILED,
				 "node %016" PRIx64 " did not serve it: %s",
				 p->node, mist_strerror(m->status));
		rest_finish_err(r, p, &e);
		return;
	}
	int status;
	uint32_t blen, ulen;
	const uint8_t *body;
	const char *user;
	if (acc_reply_unpack(m->body, m->len, &status, &body, &blen, &user,
			     &ulen) != 0) {
		perr_set(&e, 502, PERR_INTERNAL_SERVER_ERROR,
			 "malformed answer from node %016" PRIx64, p->node);
		rest_finish_err(r, p, &e);
		return;
	}
	rest_finish(r, p, status, (const char *)body, blen, user, ulen);
}

/* The reply of a MSG_FN_CALL: [0, result (msgpack bin)] | [1, message]. */
static void
fn_reply(struct rest *r, struct rpend *p, struct msg *m)
{
	struct perr e = {0};
	if (m->status != 0) {
		if (m->status == MIST_ETIMEDOUT)
			perr_set(&e, 504, PERR_TIMEOUT,
				 "Request timed out (function on node %016" PRIx64
				 ")",
				 p->node);
		else if (m->status == MIST_ENOTFOUND)
			perr_set(&e, 400, PERR_SCRIPT_FAILED,
				 "Invalid function: not offered by node %016" PRIx64,
				 p->node);
		else
			perr_set(&e, 503, PERR_CONNECTION_FAILED,
				 "node %016" PRIx64 " did not run it: %s", p->node,
				 mist_strerror(m->status));
		rest_finish_err(r, p, &e);
		return;
	}
	int failed;
	const uint8_t *res;
	uint32_t len;
	if (fncall_reply_unpack(m->body, m->len, &failed, &res, &len) != 0)
		goto bad;
	if (failed) {
		perr_set(&e, 400, PERR_SCRIPT_FAILED, "%.*s", (int)len,
			 (const char *)res);
		rest_finish_err(r, p, &e);
		return;
	}
	/* msgpack straight to {"result":...} text (jsonmp_to_text: the
	 * bytes json_dumps would write, no tree between) */
	char why[JSONMP_WHY_MAX];
	struct buf s = BUF_INIT;
	buf_reserve(&s, (size_t)len * 2 + 16);
	buf_append(&s, "{\"result\":", 10);
	if (jsonmp_to_text(res, len, NULL, &s, why, sizeof(why)) != 0) {
		buf_destroy(&s);
		perr_set(&e, 400, PERR_SCRIPT_FAILED,
			 "the function's result has no JSON form: %s", why);
		rest_finish_err(r, p, &e);
		return;
	}
	buf_append(&s, "}", 1);
	rest_finish(r, p, 200, (const char *)s.data, s.len, NULL, 0);
	buf_destroy(&s);
	return;
bad:
	perr_set(&e, 502, PERR_INTERNAL_SERVER_ERROR,
		 "malformed answer from node %016" PRIx64, p->node);
	rest_finish_err(r, p, &e);
}

/* ---------------------------------------------- for triggers.c */

void
rest_docs_reply(struct rest *r, struct rpend *p, struct msg *m)
{
	docs_reply(r, p, m);
}

void
rest_log_caused(struct rest *r, const struct rpend *p, int status,
		size_t bytes)
{
	log_line(r, p, status, bytes, NULL, 0);
}

/* ------------------------------------------------------------ replies */

bool
rest_reply(struct rest *r, struct msg *m)
{
	struct rpend *p = map_del(&r->pending, m->corr);
	if (p == NULL)
		return false;
	switch (p->kind) {
	case RP_DOCS:
		docs_reply(r, p, m);
		break;
	case RP_FN:
		fn_reply(r, p, m);
		break;
	case RP_TRIG: /* triggers.c; @a p is freed below as any */
		trig_reply(r, p, m);
		break;
	case RP_STATS:
		if (m->status == 0)
			metrics_answer(r, p->http_id, m->body, m->len);
		else
			metrics_answer(r, p->http_id, NULL, 0);
		break;
	}
	free(p);
	return true;
}

bool
rest_timer(struct rest *r, struct msg *m)
{
	if (m->corr != REST_TIMER_FLUSH)
		return false;
	if (r->log != NULL)
		fflush(r->log);
	return true;
}

/* ---------------------------------------------------------- lifecycle */

static FILE *
log_open(const char *path)
{
	FILE *f = fopen(path, "a");
	if (f == NULL) {
		log_warn("gateway: cannot open the access log %s: %m", path);
		return NULL;
	}
	setvbuf(f, NULL, _IOFBF, REST_LOG_BUF);
	return f;
}

void
rest_set_swim(struct rest *r, const struct swim *s)
{
	r->swim = s;
}

void
rest_reopen_log(struct rest *r)
{
	if (r->log_path == NULL)
		return;
	if (r->log != NULL)
		fclose(r->log);
	r->log = log_open(r->log_path);
	log_info("gateway: access log %s reopened", r->log_path);
}

struct rest *
rest_open(struct actor *self, uv_loop_t *loop, struct apps *apps,
	  const struct rest_config *rcfg, const struct http_config *hcfg,
	  const char *plain_addr, const char *tls_addr, int *err)
{
	struct rest *r = xcalloc(1, sizeof(*r));
	r->self = self;
	/* ids unique across restarts and gateways in practice: a random
	 * start, then one per request */
	randombytes_buf(&r->next_req, sizeof(r->next_req));
	r->cfg = *rcfg;
	text_copy(r->mount, sizeof(r->mount), rcfg->mount);
	r->cfg.mount = r->mount;
	r->apps = apps;
	r->http = http_open(loop, self->sys, self->id, hcfg, plain_addr,
			    tls_addr, err);
	if (r->http == NULL) {
		free(r);
		return NULL;
	}
	r->rl = ratelimit_new(REST_MAX_BUCKETS);
	map_init(&r->pending, randombytes_random());
	map_init(&r->fnodes, randombytes_random());
	map_init(&r->trig_after, randombytes_random());
	metrics_init(&r->metrics);
	if (rcfg->access_log != NULL) {
		r->log_path = xstrdup(rcfg->access_log);
		r->log = log_open(r->log_path);
		r->cfg.access_log = r->log_path;
		actor_timer_start(self, &r->flush, REST_FLUSH_MS, REST_FLUSH_MS,
				  REST_TIMER_FLUSH);
	}
	*err = 0;
	return r;
}

void
rest_bound_addr(const struct rest *r, bool tls, char *out, size_t len)
{
	http_bound_addr(r->http, tls, out, len);
}

/* A pending request dropped at close, and what it holds. */
static void
pend_drop(struct rpend *p)
{
	if (p->kind == RP_TRIG)
		trig_abandon(p);
	if (p->read != NULL)
		pend_drop(rest_read_abandon(p));
	if (p->batch != NULL && --p->batch->left == 0) {
		json_decref(p->batch->results);
		free(p->batch);
	}
	free(p);
}

void
rest_close(struct rest *r)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&r->pending, &it, &k, &v))
		pend_drop(v);
	map_destroy(&r->pending);
	it = 0;
	while (map_next(&r->fnodes, &it, &k, &v))
		fnode_free(v);
	map_destroy(&r->fnodes);
	map_destroy(&r->trig_after);
	if (r->log_path != NULL)
		actor_timer_stop(r->self, &r->flush);
	if (r->log != NULL)
		fclose(r->log);
	free(r->log_path);
	ratelimit_delete(r->rl);
	metrics_destroy(&r->metrics);
	http_close(r->http, NULL, NULL);
	free(r);
}
