/*
 * triggers.c -- beforeSave/afterSave/beforeDelete/afterDelete around the
 * accessory's writes (see triggers.h).  Runs in the gateway actor's turn.
 */
#include "config.h"
#include "gateway/triggers.h"
#include "accessory/accessory.h"
#include "accessory/accmsg.h"
#include "function/fncall.h"
#include "function/function.h"
#include "gateway/jsonmp.h"
#include "gateway/parse_req.h"
#include "gateway/rest_int.h"
#include "mist.h"
#include "net/mp.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/text.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- pure helpers */

const char *
trig_kind_name(enum trig_kind k)
{
	switch (k) {
	case TRIG_BEFORE_SAVE:
		return "beforeSave";
	case TRIG_AFTER_SAVE:
		return "afterSave";
	case TRIG_BEFORE_DELETE:
		return "beforeDelete";
	case TRIG_AFTER_DELETE:
		return "afterDelete";
	}
	return "?";
}

bool
trig_fn_name(enum trig_kind k, const char *cls, char out[EXEC_NAME_MAX])
{
	int n = snprintf(out, EXEC_NAME_MAX, "%s:%s", trig_kind_name(k), cls);
	return n > 0 && n < EXEC_NAME_MAX && cls[0] != '\0';
}

bool
trig_listed(const struct app *a, enum trig_kind k, const char *cls)
{
	char name[EXEC_NAME_MAX];
	if (a->nfunctions == 0 || !trig_fn_name(k, cls, name))
		return false;
	for (uint32_t i = 0; i < a->nfunctions; i++)
		if (strcmp(a->functions[i], name) == 0)
			return true;
	return false;
}

/* JSON -> msgpack into @a out, an error in @a e naming @a what. */
static int
pack_json(struct buf *out, const json_t *v, const char *what, struct perr *e)
{
	char why[JSONMP_WHY_MAX];
	int rc = jsonmp_from_json(v, NULL, out, why, sizeof(why));
	if (rc != 0)
		perr_set(e, 400,
			 rc == MIST_E2BIG ? PERR_OBJECT_TOO_LARGE
					  : PERR_INVALID_JSON,
			 "%s for the trigger: %s", what, why);
	return rc;
}

int
trig_params_pack(struct buf *out, enum trig_kind k, const struct trig_ctx *c,
		 const json_t *object, struct perr *e)
{
	size_t start = out->len;
	bool install = c->install != NULL && c->install[0] != '\0';
	bool has_id = c->id != NULL && c->id[0] != '\0';
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, buf_msgpack_write);
	msgpack_pack_map(&pk,
			 7 + install + (c->context != NULL) + c->update);
	mp_pack_str(&pk, "triggerName");
	mp_pack_str(&pk, trig_kind_name(k));
	mp_pack_str(&pk, "className");
	mp_pack_str(&pk, c->cls);
	mp_pack_str(&pk, "object");
	int rc = 0;
	if (object == NULL)
		msgpack_pack_nil(&pk);
	else
		rc = pack_json(out, object, "the object", e);
	if (rc == 0) {
		mp_pack_str(&pk, "objectId");
		has_id ? mp_pack_str(&pk, c->id) : msgpack_pack_nil(&pk);
		mp_pack_str(&pk, "master");
		c->master ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
		mp_pack_str(&pk, "user");
		msgpack_pack_nil(&pk);
		mp_pack_str(&pk, "ip");
		mp_pack_str(&pk, c->ip ? c->ip : "");
		if (install) {
			mp_pack_str(&pk, "installationId");
			mp_pack_str(&pk, c->install);
		}
		if (c->context != NULL) {
			mp_pack_str(&pk, "context");
			rc = pack_json(out, c->context, "the context", e);
		}
	}
	if (rc == 0 && c->update) {
		mp_pack_str(&pk, "original");
		if (c->original == NULL)
			msgpack_pack_nil(&pk);
		else
			rc = pack_json(out, c->original, "the original", e);
	}
	if (rc == 0 && out->len - start > FUNC_CALL_MAX_PARAMS) {
		perr_set(e, 400, PERR_OBJECT_TOO_LARGE,
			 "a trigger's params are at most %u bytes; these are %zu",
			 FUNC_CALL_MAX_PARAMS, out->len - start);
		rc = MIST_E2BIG;
	}
	/* the map around the object is one level more than the body had:
	 * the function actor refuses what nests past MP_MAX_DEPTH.  A body
	 * preq_decode() let through has at most PREQ_MAX_DEPTH - 1 levels
	 * of containers, so it always fits; this is for the rest */
	size_t used;
	if (rc == 0 && (mp_check(out->data + start, out->len - start,
				 MP_MAX_DEPTH, &used) != 0 ||
			used != out->len - start)) {
		perr_set(e, 400, PERR_INVALID_JSON,
			 "an object a trigger gets nests at most %d levels "
			 "of objects and arrays",
			 MP_MAX_DEPTH - 1);
		rc = MIST_E2BIG;
	}
	if (rc != 0)
		out->len = start; /* back to what it held */
	return rc;
}

static const char *
mp_type_name(uint8_t t)
{
	if (t == 0xc2)
		return "false";
	if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3))
		return "a number";
	if (t == 0xca || t == 0xcb)
		return "a number";
	if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb))
		return "a string";
	if (t >= 0xc4 && t <= 0xc6)
		return "bytes";
	if ((t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd)
		return "an array";
	return "an extension";
}

enum trig_verdict
trig_result(enum trig_kind k, const char *name, const uint8_t *res,
	    uint32_t len, json_t **replace, struct perr *e)
{
	*replace = NULL;
	if (k != TRIG_BEFORE_SAVE)
		return TRIG_KEEP; /* parse-server reads no other result */
	if (len == 0 || (len == 1 && (res[0] == 0xc0 || res[0] == 0xc3)))
		return TRIG_KEEP;
	uint8_t t = res[0];
	bool map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
	if (!map) {
		perr_set(e, 400, PERR_SCRIPT_FAILED,
			 "%s returned %s: a beforeSave returns nil, true or "
			 "the object to save",
			 name, mp_type_name(t));
		return TRIG_REFUSE;
	}
	json_t *v = NULL;
	char why[JSONMP_WHY_MAX];
	if (jsonmp_to_json(res, len, NULL, &v, why, sizeof(why)) != 0) {
		perr_set(e, 400, PERR_SCRIPT_FAILED,
			 "%s returned an object with no JSON form: %s", name, why);
		return TRIG_REFUSE;
	}
	char what[EXEC_NAME_MAX + 32];
	snprintf(what, sizeof(what), "the object %s returned", name);
	if (!json_is_object(v) || preq_body_check(v, what, e) != 0) {
		if (!json_is_object(v))
			perr_set(e, 400, PERR_SCRIPT_FAILED,
				 "%s returned a map that is not an object", name);
		json_decref(v);
		return TRIG_REFUSE;
	}
	*replace = v;
	return TRIG_REPLACE;
}

json_t *
trig_changed(const json_t *sent, const json_t *written)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)written, k, v) {
		json_t *s = sent ? json_object_get(sent, k) : NULL;
		if (s == NULL || !json_equal(s, v))
			json_object_set(o, k, v);
	}
	return o;
}

json_t *
trig_after_object(const json_t *sent, const json_t *answer, const char *id)
{
	json_t *o = json_is_object(sent) ? json_copy((json_t *)sent)
					  : json_object();
	if (json_is_object(answer))
		json_object_update(o, (json_t *)answer);
	if (id != NULL && id[0] != '\0')
		json_object_set_new(o, "objectId", json_string(id));
	return o;
}

/* ------------------------------------------------------------ runs */

/* Which step of a run is in flight. */
enum trig_stage {
	TS_FETCH,  /* a delete's or an update's ACC_DOC_GET (its own rpend) */
	TS_BEFORE, /* the before trigger's MSG_FN_CALL (its own rpend) */
	TS_WRITE,  /* the write: the request's rpend itself */
	TS_AFTER,  /* the after trigger (its own rpend; the client answered) */
};

/* A request's triggers, from trig_route() to its last step. */
struct trig_run {
	enum trig_stage stage;
	bool del;		 /* a delete, else a save */
	bool has_before, has_after;
	struct rpend *req;	 /* the request's, held while it waits for a
				  * fetch or a before trigger; else NULL */
	uint64_t req_id;	 /* its log id: the parent of our steps */
	struct preq q;		 /* the request (own references) */
	char app[APP_ID_MAX];
	char ip[48];
	bool master;
	uint64_t end_ns;	 /* the request's deadline */
	json_t *sent;		 /* what the write sends: q.body or the
				  * beforeSave's object (owned) */
	json_t *changed;	 /* fields the beforeSave set, or NULL */
	json_t *fetched;	 /* the object read first (a delete's, an
				  * update's "original"), or NULL */
	bool update;		 /* a save with an id */
	enum trig_kind call;	 /* the trigger in flight */
	bool call_limited;	 /* TRIG_LIMIT_MS was its deadline */
	bool after_counted;	 /* counts in rest->trig_after */
};

/* The key of app @a id in rest->trig_after (FNV-1a; a collision only
 * makes two apps share a bound). */
static uint64_t
after_key(const char *id)
{
	uint64_t h = hash_fnv(HASH_FNV_INIT, id, strlen(id));
	return h ? h : 1;
}

/* One after trigger of @a app more in flight, if the bound allows. */
static bool
after_take(struct rest *r, const char *app)
{
	uint64_t k = after_key(app);
	uintptr_t n = (uintptr_t)map_get(&r->trig_after, k);
	if (n >= TRIG_AFTER_PER_APP)
		return false;
	map_put(&r->trig_after, k, (void *)(n + 1));
	return true;
}

static void
after_give(struct rest *r, const char *app)
{
	uint64_t k = after_key(app);
	uintptr_t n = (uintptr_t)map_get(&r->trig_after, k);
	if (n <= 1)
		map_del(&r->trig_after, k);
	else
		map_put(&r->trig_after, k, (void *)(n - 1));
}

static void
run_free(struct trig_run *t)
{
	if (t == NULL)
		return;
	preq_clear(&t->q);
	json_decref(t->sent);
	json_decref(t->changed);
	json_decref(t->fetched);
	free(t);
}

/* Frees a held request rpend nobody will answer (rest_close()). */
static void
req_drop(struct rpend *p)
{
	if (p->batch != NULL && --p->batch->left == 0) {
		json_decref(p->batch->results);
		free(p->batch);
	}
	free(p);
}

void
trig_abandon(struct rpend *p)
{
	struct trig_run *t = p->trig;
	p->trig = NULL;
	if (t == NULL)
		return;
	if (t->req != NULL && t->req != p)
		req_drop(t->req);
	run_free(t);
}

static uint32_t
run_left_ms(const struct rest *r, const struct trig_run *t)
{
	uint64_t now = rest_now_ns(r);
	if (now >= t->end_ns)
		return 0;
	uint64_t ms = (t->end_ns - now) / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Answers the held request with @a e and ends the run. */
static void
run_refuse(struct rest *r, struct trig_run *t, const struct perr *e)
{
	struct rpend *p = t->req;
	t->req = NULL;
	rest_finish_err(r, p, e);
	free(p);
	run_free(t);
}

/* The app again (a later step): it may have been deleted meanwhile. */
static const struct app *
run_app(struct rest *r, const struct trig_run *t, struct perr *e)
{
	const struct app *a = apps_get(r->apps, t->app);
	if (a == NULL || a->deleted) {
		perr_set(e, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
		return NULL;
	}
	return a;
}

/*
 * Sends trigger @a k of the run with @a object and a deadline of @a ms.
 * false with @a e set if it could not be sent (nobody offers it, the
 * params do not convert).
 */
static bool
call_send(struct rest *r, struct trig_run *t, const struct app *a,
	  enum trig_kind k, const json_t *object, uint32_t ms,
	  struct perr *e)
{
	char name[EXEC_NAME_MAX];
	if (!trig_fn_name(k, t->q.cls, name)) {
		perr_set(e, 400, PERR_SCRIPT_FAILED, "no trigger name for %s",
			 t->q.cls);
		return false;
	}
	uint64_t node = rest_fn_node(r, name);
	if (node == 0) {
		perr_set(e, 503, PERR_CONNECTION_FAILED,
			 "the app lists the trigger %s but no node offers it",
			 name);
		return false;
	}
	struct trig_ctx c = {t->q.cls,	  t->q.id,	t->master,
			     t->ip,	  t->q.install, t->q.context,
			     t->update, t->update ? t->fetched : NULL};
	struct buf params = BUF_INIT;
	if (trig_params_pack(&params, k, &c, object, e) != 0) {
		buf_destroy(&params);
		return false;
	}
	struct rpend *cp = rest_pend_new(r, RP_TRIG, 0, &t->q, a->id, "TRIGGER",
					 name, t->ip);
	cp->route = PR_FUNCTIONS;
	cp->parent = t->req_id;
	cp->node = node;
	cp->trig = t;
	t->call = k;
	struct buf caller = BUF_INIT, b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &caller, buf_msgpack_write);
	rest_pack_caller(&pk, r, a, &t->q, t->ip, t->master, cp->req);
	fncall_pack(&b, a->id, name, ms, caller.data, (uint32_t)caller.len,
		    params.data, (uint32_t)params.len);
	buf_destroy(&caller);
	buf_destroy(&params);
	uint64_t corr;
	actor_request(r->self, (struct actor_ref){node, ACTOR_FUNCTION},
		      MSG_FN_CALL, b.data, (uint32_t)b.len,
		      ms + REST_REPLY_SLACK_MS, &corr);
	buf_destroy(&b);
	map_put(&r->pending, corr, cp);
	return true;
}

/* Runs the before trigger of the held request, or refuses it. */
static void
run_before(struct rest *r, struct trig_run *t, const struct app *a)
{
	struct perr e = {0};
	uint32_t left = run_left_ms(r, t);
	if (left == 0) {
		perr_set(&e, 504, PERR_TIMEOUT, "Request timed out");
		run_refuse(r, t, &e);
		return;
	}
	uint32_t ms = left < TRIG_LIMIT_MS ? left : TRIG_LIMIT_MS;
	t->call_limited = ms == TRIG_LIMIT_MS && left > TRIG_LIMIT_MS;
	t->stage = TS_BEFORE;
	enum trig_kind k = t->del ? TRIG_BEFORE_DELETE : TRIG_BEFORE_SAVE;
	/* a save's object is never NULL (trig_route); a delete's is NULL if
	 * the accessory's answer did not parse: nil */
	const json_t *obj = t->del ? t->fetched : t->sent;
	if (!call_send(r, t, a, k, obj, ms, &e))
		run_refuse(r, t, &e);
}

/* Sends the held request's write (the trigger's object for a save). */
static void
run_write(struct rest *r, struct trig_run *t)
{
	struct perr e = {0};
	const struct app *a = run_app(r, t, &e);
	uint32_t left = run_left_ms(r, t);
	if (a != NULL && left == 0)
		perr_set(&e, 504, PERR_TIMEOUT, "Request timed out");
	if (a == NULL || left == 0 || !rest_docs_home(r, a, &e)) {
		run_refuse(r, t, &e);
		return;
	}
	struct rpend *p = t->req;
	t->req = NULL;
	struct preq wq = t->q; /* borrowed for the send below */
	if (!t->del)
		wq.body = t->sent;
	bool watch = t->has_after || t->changed != NULL;
	if (watch) {
		t->stage = TS_WRITE;
		p->kind = RP_TRIG;
		p->trig = t;
	}
	/* the home was checked in this turn: rest_send_docs sends (an
	 * answer and free here would leave p->trig dangling) */
	rest_send_docs(r, p, a, &wq, t->ip, t->master, left);
	if (!watch)
		run_free(t);
}

bool
trig_route(struct rest *r, struct rpend *p, const struct app *a,
	   const struct preq *q, const char *ip, bool master,
	   uint32_t deadline)
{
	if (a->nfunctions == 0)
		return false;
	if (q->route != PR_CLASSES && q->route != PR_USERS &&
	    q->route != PR_ROLES)
		return false;
	bool del;
	if (q->method == PM_POST && q->id[0] == '\0')
		del = false;
	else if (q->method == PM_PUT && q->id[0] != '\0')
		del = false;
	else if (q->method == PM_DELETE && q->id[0] != '\0')
		del = true;
	else
		return false;
	bool before = trig_listed(a, del ? TRIG_BEFORE_DELETE
					 : TRIG_BEFORE_SAVE, q->cls);
	bool after = trig_listed(a, del ? TRIG_AFTER_DELETE : TRIG_AFTER_SAVE,
				 q->cls);
	if (!before && !after)
		return false;
	struct perr e = {0};
	if (!rest_docs_home(r, a, &e)) {
		rest_finish_err(r, p, &e);
		free(p);
		return true;
	}
	struct trig_run *t = xcalloc(1, sizeof(*t));
	t->del = del;
	t->update = !del && q->id[0] != '\0';
	t->has_before = before;
	t->has_after = after;
	t->req = p;
	t->req_id = p->req;
	t->q = *q;
	if (q->body != NULL)
		json_incref(q->body);
	if (q->params != NULL)
		json_incref(q->params);
	if (q->context != NULL)
		json_incref(q->context);
	text_copy(t->app, sizeof(t->app), a->id);
	text_copy(t->ip, sizeof(t->ip), ip);
	t->master = master;
	t->end_ns = rest_now_ns(r) + (uint64_t)deadline * 1000000u;
	if (!del)
		t->sent = q->body ? json_incref(q->body) : json_object();
	if (!del && !t->update) {
		if (before)
			run_before(r, t, a);
		else
			run_write(r, t);
		return true;
	}
	/* a delete or an update: the object first, read as the caller
	 * (parse-server's rest.del and rest.update do the same) */
	struct preq gq = t->q;
	gq.method = PM_GET;
	gq.body = gq.params = gq.context = NULL;
	struct rpend *f = rest_pend_new(r, RP_TRIG, 0, &gq, a->id, "GET",
					p->path, ip);
	f->parent = p->req;
	f->trig = t;
	t->stage = TS_FETCH;
	rest_send_docs(r, f, a, &gq, ip, master, deadline);
	return true;
}

/* ------------------------------------------------------------ replies */

/* The error of a trigger call's actor-level failure. */
static void
call_error(const struct trig_run *t, const char *name, int status,
	   uint64_t node, struct perr *e)
{
	if (status == MIST_ETIMEDOUT && t->call_limited)
		perr_set(e, 504, PERR_TIMEOUT,
			 "%s timed out (a trigger runs at most %u ms)", name,
			 TRIG_LIMIT_MS);
	else if (status == MIST_ETIMEDOUT)
		perr_set(e, 504, PERR_TIMEOUT, "Request timed out (in %s)",
			 name);
	else
		perr_set(e, 503, PERR_CONNECTION_FAILED,
			 "node %016" PRIx64 " did not run %s: %s", node, name,
			 mist_strerror(status));
}

/*
 * A trigger call's answer: *@a verdict and @a replace for a before
 * trigger; @a e set and TRIG_REFUSE if it failed.  Logs its line.
 */
static enum trig_verdict
call_outcome(struct rest *r, struct trig_run *t, struct rpend *cp,
	     struct msg *m, json_t **replace, struct perr *e)
{
	const char *name = cp->path;
	enum trig_verdict v = TRIG_REFUSE;
	*replace = NULL;
	int failed;
	const uint8_t *res;
	uint32_t len = 0;
	if (m->status != 0) {
		call_error(t, name, m->status, cp->node, e);
	} else if (fncall_reply_unpack(m->body, m->len, &failed, &res,
				       &len) != 0) {
		perr_set(e, 502, PERR_INTERNAL_SERVER_ERROR,
			 "malformed answer from node %016" PRIx64 " for %s",
			 cp->node, name);
	} else if (failed) {
		/* parse-server's resolveError: a thrown string is code 141
		 * with that message; nothing thrown, "Script failed." */
		if (len == 0)
			perr_set(e, 400, PERR_SCRIPT_FAILED, "Script failed.");
		else
			perr_set(e, 400, PERR_SCRIPT_FAILED, "%.*s", (int)len,
				 (const char *)res);
	} else {
		v = trig_result(t->call, name, res, len, replace, e);
	}
	rest_log_caused(r, cp, v == TRIG_REFUSE ? e->http : 200,
			m->status == 0 ? m->len : 0);
	return v;
}

/* The read before a delete or an update came back: a failure (a delete's
 * 404 too) is the answer. */
static void
fetch_reply(struct rest *r, struct trig_run *t, struct rpend *f,
	    struct msg *m)
{
	int status = m->status == MIST_ETIMEDOUT ? 504 : 503;
	const uint8_t *body = NULL;
	uint32_t blen = 0, ulen;
	const char *user;
	if (m->status == 0 && acc_reply_unpack(m->body, m->len, &status, &body,
					       &blen, &user, &ulen) != 0)
		status = 502;
	rest_log_caused(r, f, status, blen);
	/* an update the caller may write but not read: no original, and
	 * the write says whether it may (a 404 there too if it is gone) */
	bool unread = t->update && m->status == 0 && status == 404;
	if (status != 200 && !unread) {
		struct rpend *p = t->req;
		t->req = NULL;
		rest_docs_reply(r, p, m);
		free(p);
		run_free(t);
		return;
	}
	if (!unread)
		t->fetched = json_loadb((const char *)body, blen, 0, NULL);
	struct perr e = {0};
	const struct app *a = run_app(r, t, &e);
	if (a == NULL)
		run_refuse(r, t, &e);
	else if (t->has_before)
		run_before(r, t, a);
	else
		run_write(r, t);
}

/* Warns of an after trigger that failed or did not run, at most once per
 * TRIG_WARN_MS (the access log has every one). */
static void
after_warn(struct rest *r, const struct trig_run *t, const char *what,
	   const char *why)
{
	uint64_t now = rest_now_ns(r);
	if (r->trig_warned_ns != 0 &&
	    now - r->trig_warned_ns < (uint64_t)TRIG_WARN_MS * 1000000u) {
		r->trig_unwarned++;
		return;
	}
	char name[EXEC_NAME_MAX];
	trig_fn_name(t->del ? TRIG_AFTER_DELETE : TRIG_AFTER_SAVE, t->q.cls,
		     name);
	if (r->trig_unwarned > 0)
		log_warn("gateway: %s (request %016" PRIx64 ") %s: %s (and %"
			 PRIu64 " other after triggers since the last warning)",
			 name, t->req_id, what, why, r->trig_unwarned);
	else
		log_warn("gateway: %s (request %016" PRIx64 ") %s: %s", name,
			 t->req_id, what, why);
	r->trig_warned_ns = now;
	r->trig_unwarned = 0;
}

/* Runs the after trigger of a write answered 2xx with @a answer. */
static void
run_after(struct rest *r, struct trig_run *t, const json_t *answer)
{
	struct perr e = {0};
	const struct app *a = run_app(r, t, &e);
	json_t *obj;
	if (t->del)
		obj = t->fetched ? json_incref(t->fetched)
				 : trig_after_object(NULL, NULL, t->q.id);
	else
		obj = trig_after_object(t->sent, answer, t->q.id);
	/* a beforeSave:_User sees the password sent (as in Parse); once
	 * saved it is a hash the accessory never gives out, so neither
	 * does an afterSave */
	if (strcmp(t->q.cls, "_User") == 0)
		json_object_del(obj, "password");
	const char *id = t->q.id;
	if (id[0] == '\0' && json_is_string(json_object_get(obj, "objectId")))
		text_copy(t->q.id, sizeof(t->q.id),
			  json_string_value(json_object_get(obj, "objectId")));
	t->stage = TS_AFTER;
	t->call_limited = true;
	bool room = a != NULL && after_take(r, a->id);
	if (a != NULL && !room)
		perr_set(&e, 503, PERR_CONNECTION_FAILED,
			 "%u after triggers of app %s in flight",
			 TRIG_AFTER_PER_APP, a->id);
	bool sent = room && call_send(r, t, a, t->del ? TRIG_AFTER_DELETE
						     : TRIG_AFTER_SAVE,
				      obj, TRIG_LIMIT_MS, &e);
	json_decref(obj);
	if (room && !sent)
		after_give(r, a->id);
	t->after_counted = sent;
	if (!sent) {
		after_warn(r, t, "not run", e.msg);
		run_free(t);
	}
}

/* The write came back: answer the client, then the after trigger. */
static void
write_reply(struct rest *r, struct trig_run *t, struct rpend *p,
	    struct msg *m)
{
	int status;
	const uint8_t *body;
	uint32_t blen, ulen;
	const char *user;
	if (m->status != 0 || acc_reply_unpack(m->body, m->len, &status, &body,
					       &blen, &user, &ulen) != 0) {
		rest_docs_reply(r, p, m);
		run_free(t);
		return;
	}
	bool ok = status >= 200 && status < 300;
	json_t *answer = NULL;
	if (ok && (t->changed != NULL || t->has_after))
		answer = json_loadb((const char *)body, blen, 0, NULL);
	if (ok && t->changed != NULL && json_is_object(answer)) {
		/* parse-server answers the fields a beforeSave changed, so
		 * the SDK's object shows what was saved; the accessory's own
		 * fields (objectId, createdAt...) win */
		json_t *out = json_copy(answer);
		json_object_update_missing(out, t->changed);
		char *s = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		if (s != NULL) {
			rest_finish(r, p, status, s, strlen(s), user, ulen);
			free(s);
		} else {
			rest_finish(r, p, status, (const char *)body, blen,
				    user, ulen);
		}
	} else {
		rest_finish(r, p, status, (const char *)body, blen, user, ulen);
	}
	if (ok && t->has_after)
		run_after(r, t, answer);
	else
		run_free(t);
	json_decref(answer);
}

void
trig_reply(struct rest *r, struct rpend *p, struct msg *m)
{
	struct trig_run *t = p->trig;
	p->trig = NULL;
	if (t == NULL)
		return;
	switch (t->stage) {
	case TS_FETCH:
		fetch_reply(r, t, p, m);
		return;
	case TS_BEFORE: {
		struct perr e = {0};
		json_t *replace;
		enum trig_verdict v = call_outcome(r, t, p, m, &replace, &e);
		if (v == TRIG_REFUSE) {
			run_refuse(r, t, &e);
			return;
		}
		if (v == TRIG_REPLACE) {
			json_t *ch = trig_changed(t->sent, replace);
			if (json_object_size(ch) > 0)
				t->changed = ch;
			else
				json_decref(ch);
			json_decref(t->sent);
			t->sent = replace;
		}
		run_write(r, t);
		return;
	}
	case TS_WRITE:
		write_reply(r, t, p, m);
		return;
	case TS_AFTER: {
		struct perr e = {0};
		json_t *replace;
		if (call_outcome(r, t, p, m, &replace, &e) == TRIG_REFUSE)
			after_warn(r, t, "failed", e.msg);
		json_decref(replace);
		if (t->after_counted)
			after_give(r, t->app);
		run_free(t);
		return;
	}
	}
}
