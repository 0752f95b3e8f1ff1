/*
 * gateway.c -- ACTOR_GATEWAY (see gateway.h): authentication of each
 * client request against the credential table as it is now, routing to
 * the data managers, replies, membership.  Connections are native.c's,
 * credentials creds.c's; everything here runs in the actor's turn.
 */
#include "config.h"
#include "gateway/gateway.h"
#include "data/jobmsg.h"
#include "data/jobs.h"
#include "accessory/accessory.h"
#include "accessory/accmsg.h"
#include "data/meta.h"
#include "gateway/apps.h"
#include "gateway/creds.h"
#include "gateway/native.h"
#include "mist.h"
#include "net/mp.h"
#include "net/swim.h"
#include "net/wire.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A client's deadline is honoured up to an hour (a mist_get's default
 * wait); a request asking for longer waits an hour. */
#define GW_MAX_REQUEST_MS 3600000u

/* A request forwarded for a client, by the correlation id we used. */
struct gpend {
	uint64_t conn, ccorr;
	uint32_t type;
};

/*
 * A job whose first owner died and which another member took over
 * (data/standby.c): its requests, which name it by its first owner, go
 * to the new owner.  Learnt from MSG_JOB_MOVED; ~32 bytes each, at most
 * GW_MAX_MOVED (a takeover is rare: 65536 is a cluster losing owners of
 * thousands of jobs many times over).  Past it the oldest is not evicted
 * -- a new one is refused, logged -- and requests for that job go to its
 * dead first owner (MIST_EUNREACHABLE): a client retries elsewhere.
 */
#define GW_MAX_MOVED 65536
struct gw_moved {
	uint64_t origin, job, owner;
};

static uint64_t
gw_moved_key(uint64_t origin, uint64_t job)
{
	return job ^ (origin * 0x9e3779b97f4a7c15ull); /* data_job_key's */
}

struct gateway {
	struct actor *actor;
	struct gateway_config cfg;
	struct native net;  /* the listener and its connections */
	struct creds creds; /* the credential table */
	struct map pending; /* our corr -> struct gpend */
	struct map alive;   /* node -> (void *)1: members to spread to */
	struct apps apps;   /* the app table (apps.h) */
	struct map members; /* node -> struct gw_member: candidate homes */
	struct rest *rest;  /* the HTTP gateway, or NULL (rest.h) */
	struct map admin;   /* our corr -> struct gw_admin: `mist apps index` */
	struct map moved;   /* job key -> struct gw_moved (JOB_MOVED) */
	uint8_t *scratch;   /* a first message's payload */
};

void
gateway_config_default(struct gateway_config *cfg)
{
	/* the agent sets it to its --max-frame, as for links */
	cfg->max_frame = WIRE_DEFAULT_MAX_FRAME;
	/*
	 * 4096 clients at once: past what one data manager serves, and each
	 * costs only its struct and socket while idle (the read buffer is
	 * shared).  The descriptor limit of the process may bind first.
	 */
	cfg->max_conns = 4096;
	/*
	 * 256 handshakes at once: a handshake holds at most one first frame
	 * (64 KiB), so a flood of half-open connections is bounded to 16 MiB
	 * and 256 X25519 operations (~10 ms); clients on phone networks take
	 * a round trip of up to a second, so a burst of a few hundred
	 * reconnecting after a restart still gets through.  Links allow 64:
	 * agents are fewer than clients.
	 */
	cfg->max_handshakes = 256;
	/*
	 * 4096 unanswered requests per connection: a client fetching values
	 * or submitting batches has far fewer outstanding; past it, reading
	 * stops until half are answered, so one client cannot fill the
	 * pending table.
	 */
	cfg->max_inflight = 4096;
	/*
	 * 10 s to finish the handshake: one round trip on the worst mobile
	 * link takes a second or two; a silent peer holds a slot no longer.
	 */
	cfg->handshake_timeout_ms = 10000;
	/*
	 * 30 s for a request without a deadline: the data manager answers
	 * at once, or (JOB_WAIT) within the deadline the client gives.
	 */
	cfg->request_timeout_ms = 30000;
	/*
	 * 4 MiB of replies not yet taken by a client: four replies of the
	 * largest frame (1 MiB by default), so one large value and a stream of
	 * small ones go on being written while the client reads.  Past it
	 * the connection is no longer read until half is written: a client
	 * that asks without ever reading costs this (plus the requests
	 * already read), not all the memory there is.
	 */
	cfg->max_backlog = 4u << 20;
	/* apps: a node hosts documents unless told otherwise (--docs) */
	cfg->docs = true;
	cfg->name[0] = '\0';
	cfg->http_addr = cfg->https_addr = NULL;
	http_config_default(&cfg->http);
	rest_config_default(&cfg->rest);
}

/* ------------------------------------------------------------ requests */

static bool
type_allowed(uint32_t type, uint8_t role)
{
	/* listing every job is for admins; the rest is checked per job */
	return msgtype_is_client_job(type) &&
	       (type != MSG_JOB_LIST || role == ROLE_ADMIN);
}

struct gw_from {
	struct gateway *g;
	struct gconn *c;
};

/*
 * One envelope from a client: checked against the credential table as it
 * is now, then forwarded to the owner's data manager.  A non-zero return
 * stops the frame (the connection is closing).
 */
static int
gw_request(void *ctx, struct msg *m)
{
	struct gw_from *f = ctx;
	struct gateway *g = f->g;
	struct gconn *c = f->c;
	const struct cred *cr = creds_get(&g->creds, c->cred);
	if (cr == NULL || cr->revoked) {
		/* defensive: every credential change goes through creds.c,
		 * whose gw_revoked has already closed such a connection */
		native_close(c, cr ? "credential revoked"
				   : "credential unknown");
		msg_delete(m);
		return MIST_EAUTH;
	}
	uint8_t role = cr->role;
	int status = 0;
	uint64_t owner = g->actor->sys->node;
	struct gw_moved *mv = NULL;
	if (!type_allowed(m->type, role)) {
		status = MIST_EPERM;
	} else if (jobmsg_job_arity(m->type) != 0) {
		/* [owner, job, ...]: forwarded to the owner, so checked here */
		uint64_t job;
		struct mp_cur rest;
		if (jobmsg_job_unpack(m->type, m->body, m->len, &owner, &job,
				      &rest) != 0 || owner == 0)
			status = MIST_EPROTO;
		else if ((mv = map_get(&g->moved, gw_moved_key(owner, job))) &&
			 mv->origin == owner && mv->job == job)
			owner = mv->owner; /* taken over: its owner now */
	}
	if (status != 0) {
		if (m->flags & MSG_F_REQUEST)
			native_send(c, MSG_ERROR, status, m->corr, NULL, 0);
		msg_delete(m);
		return 0;
	}
	struct buf b = BUF_INIT;
	jobmsg_request_pack(&b, c->cred, role, m->body, m->len);
	struct actor_ref to = {owner, ACTOR_DATA};
	if (m->flags & MSG_F_REQUEST) {
		uint64_t now = actor_sys_now(g->actor->sys);
		uint32_t timeout = g->cfg.request_timeout_ms;
		if (m->deadline > now)
			timeout = m->deadline - now > GW_MAX_REQUEST_MS
					  ? GW_MAX_REQUEST_MS
					  : (uint32_t)(m->deadline - now);
		struct gpend *p = xmalloc(sizeof(*p));
		*p = (struct gpend){c->id, m->corr, m->type};
		uint64_t corr;
		actor_request(g->actor, to, m->type, b.data, (uint32_t)b.len,
			      timeout, &corr);
		map_put(&g->pending, corr, p);
		if (++c->requests >= g->cfg.max_inflight)
			native_pause(c, NATIVE_PAUSE_INFLIGHT);
	} else {
		actor_tell(g->actor, to, m->type, b.data, (uint32_t)b.len);
	}
	buf_destroy(&b);
	msg_delete(m);
	return 0;
}

/* The envelopes of one frame (or of a first message) from @a c. */
static void
gw_envelopes(struct gateway *g, struct gconn *c, const uint8_t *p, size_t n)
{
	struct gw_from f = {g, c};
	int rc = wire_payload_decode(p, n, g->cfg.max_frame,
				     actor_sys_now(g->actor->sys), gw_request,
				     &f);
	if (rc != 0 && rc != MIST_EAUTH) {
		g->net.stats.bad_frames++;
		native_close(c, mist_strerror(rc));
	}
}

/* MSG_GW_HELLO: a first frame to authenticate. */
static void
gw_hello(struct gateway *g, struct msg *m)
{
	struct gconn *c = native_conn(&g->net, m->corr);
	if (c == NULL || c->state != GC_HELLO)
		return; /* it closed meanwhile (timeout, peer) */
	uint64_t id;
	if (native_hello_cred(m->body, m->len, &id) != 0) {
		g->net.stats.handshakes_failed++;
		native_close(c, "malformed first frame");
		return;
	}
	const struct cred *cr = creds_get(&g->creds, id);
	if (cr == NULL || cr->revoked) {
		g->net.stats.handshakes_failed++;
		native_close(c, cr ? "revoked credential"
				   : "unknown credential");
		return;
	}
	const uint8_t *early;
	size_t elen;
	if (native_handshake(&g->net, c, id, cr->secret, m->body, m->len,
			     g->scratch, NOISE_MAX_MSG, &early, &elen) != 0)
		return; /* closed, counted */
	if (elen > 0)
		gw_envelopes(g, c, early, elen);
}

/* MSG_GW_FRAME: an opened frame of envelopes. */
static void
gw_frame(struct gateway *g, struct msg *m)
{
	struct gconn *c = native_conn(&g->net, m->corr);
	if (c != NULL && c->state == GC_OPEN)
		gw_envelopes(g, c, m->body, m->len);
}

/* A data manager answered a request we forwarded. */
static void
gw_reply(struct gateway *g, struct msg *m)
{
	struct gpend *p = map_del(&g->pending, m->corr);
	if (p == NULL)
		return;
	struct gconn *c = native_conn(&g->net, p->conn);
	if (c != NULL && c->state == GC_OPEN) {
		native_send(c, m->status ? MSG_ERROR : m->type, m->status,
			    p->ccorr, m->body, m->len);
		if (c->requests > 0)
			c->requests--;
		if (c->requests < g->cfg.max_inflight / 2)
			native_resume(c, NATIVE_PAUSE_INFLIGHT);
	}
	free(p);
}

/* creds.c: a credential was just revoked -- here or by a member. */
static void
gw_revoked(void *ctx, uint64_t id)
{
	struct gateway *g = ctx;
	size_t n = native_close_cred(&g->net, id, "credential revoked");
	log_info("gateway: credential %016llx revoked, %zu connection%s closed",
		 (unsigned long long)id, n, n == 1 ? "" : "s");
}

/* ---------------------------------------------------------------- apps */

/*
 * What the gateway knows of a member to choose an app's home: gossip's
 * metadata (data/meta.h) and whether it is suspect.  Kept apart from
 * g->alive (which spreads tables to suspect members too).
 */
struct gw_member {
	char name[SWIM_NAME_MAX];
	bool docs, suspect;
	bool docs_shared; /* on PostgreSQL: serves every app */
	double load;
};

static void
gw_apps_member(struct gateway *g, const struct swim_event_view *ev)
{
	if (ev->event == SWIM_EV_DEAD || ev->event == SWIM_EV_LEFT) {
		free(map_del(&g->members, ev->node));
		return;
	}
	struct gw_member *mb = map_get(&g->members, ev->node);
	if (mb == NULL) {
		mb = xcalloc(1, sizeof(*mb));
		mb->docs = true; /* meta_init's default, until metadata says */
		map_put(&g->members, ev->node, mb);
	}
	mb->suspect = ev->event == SWIM_EV_SUSPECT;
	snprintf(mb->name, sizeof(mb->name), "%.*s",
		 (int)(ev->name_len < sizeof(mb->name) ? ev->name_len
						       : sizeof(mb->name) - 1),
		 ev->name);
	if (ev->meta != NULL) {
		struct meta *meta = xmalloc(sizeof(*meta));
		if (meta_decode(ev->meta, ev->meta_len, meta) == 0) {
			mb->docs = meta->docs;
			mb->docs_shared = meta->docs && meta->docs_shared;
			mb->load = meta->load;
		} else {
			mb->docs = false; /* unreadable: no home for documents */
		}
		free(meta);
	}
}

/* The node whose ACTOR_DOCS serves @a a: this one or any alive member
 * on a shared PostgreSQL (--docs postgres: no home), else its home. */
static uint64_t
gw_docs_node(struct gateway *g, const struct app *a)
{
	if (g->cfg.docs_shared)
		return g->actor->sys->node;
	size_t it = 0;
	uint64_t node;
	void *v;
	while (map_next(&g->members, &it, &node, &v)) {
		const struct gw_member *mb = v;
		if (mb->docs_shared && !mb->suspect)
			return node;
	}
	return a->home;
}

/* Does @a want (a name or 16 hex digits) name node @a node? */
static bool
gw_home_named(const char *want, uint64_t node, const char *name)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)node);
	return strcmp(want, name) == 0 || strcasecmp(want, hex) == 0;
}

/* The next candidate home: this node first (*@a it == 0 and *@a first),
 * then every member gossip told of.  False at the end. */
static bool
gw_home_next(struct gateway *g, const struct gw_member *me, bool *first,
	     size_t *it, uint64_t *node, const struct gw_member **mb)
{
	uint64_t self = g->actor->sys->node;
	if (*first) {
		*first = false;
		*node = self;
		*mb = me;
		return true;
	}
	void *v;
	while (map_next(&g->members, it, node, &v))
		if (*node != self) { /* gossip about us: ours is fresher */
			*mb = v;
			return true;
		}
	return false;
}

/*
 * apps.c's apps_home_fn: checks the node the operator named, or picks the
 * alive member hosting documents with the fewest apps homed on it (ties:
 * the lowest load, then at random), this node included.  Counting is
 * members x apps (at most a few million steps, for an operator's create).
 */
static int
gw_pick_home(void *ctx, const char *want, uint64_t *home, char *why,
	     size_t whylen)
{
	struct gateway *g = ctx;
	double l[1];
	struct gw_member me = {.docs = g->cfg.docs,
			       .load = getloadavg(l, 1) == 1 ? l[0] : 0};
	snprintf(me.name, sizeof(me.name), "%s", g->cfg.name);
	const struct gw_member *mb, *found = NULL;
	uint64_t node, best = 0;
	size_t it = 0;
	bool first = true;
	if (want != NULL) {
		uint32_t named = 0;
		while (gw_home_next(g, &me, &first, &it, &node, &mb))
			if (gw_home_named(want, node, mb->name)) {
				named++;
				found = mb;
				best = node;
			}
		if (named == 0) {
			snprintf(why, whylen, "no alive member %s (a name or "
				 "16-hex id, see `mist members`)", want);
			return MIST_ENOTFOUND;
		}
		if (named > 1) {
			snprintf(why, whylen, "%u members are named %s: name "
				 "the home by its id (`mist members`)", named,
				 want);
			return MIST_EINVAL;
		}
		if (found->suspect) {
			snprintf(why, whylen, "member %s is suspect, not alive",
				 want);
			return MIST_ENOTFOUND;
		}
		if (!found->docs) {
			snprintf(why, whylen, "member %s does not host "
				 "documents (--docs none)", want);
			return MIST_EPERM;
		}
		*home = best;
		return 0;
	}
	uint32_t best_apps = UINT32_MAX, ties = 0;
	double best_load = 0;
	while (gw_home_next(g, &me, &first, &it, &node, &mb)) {
		if (mb->suspect || !mb->docs)
			continue;
		uint32_t n = apps_homed(&g->apps, node);
		if (n < best_apps || (n == best_apps && mb->load < best_load)) {
			best = node, best_apps = n, best_load = mb->load;
			ties = 1;
		} else if (n == best_apps && mb->load == best_load &&
			   randombytes_uniform(++ties) == 0) {
			best = node; /* each of the tied, equally likely */
		}
	}
	if (best_apps == UINT32_MAX) {
		snprintf(why, whylen, "no alive member hosts documents (every "
			 "agent runs --docs none)");
		return MIST_ENONODE;
	}
	*home = best;
	return 0;
}

const struct app *
gateway_app(struct gateway *g, const char *id)
{
	return apps_get(&g->apps, id);
}

struct apps *
gateway_apps(struct gateway *g)
{
	return &g->apps;
}

static void
gw_apps_stop(struct gateway *g)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&g->members, &it, &k, &v))
		free(v);
	map_destroy(&g->members);
	apps_destroy(&g->apps);
}

/* -------------------------------------------------- mist apps index */

/* An operator's request forwarded to an app's documents home. */
struct gw_admin {
	struct actor_ref from;
	uint64_t corr;
};

/* Index changes wait at most this long for the home (building an index
 * on existing data happens after the answer, online). */
#define GW_INDEX_TIMEOUT_MS 10000

/*
 * MSG_APPS {"op": "index", "id", "class", "name"?, "fields"?: {f: 1|-1},
 * "drop"?: bool}: declares (or drops) an index of an app's class at its
 * documents home, as /schemas with the master key does; without a name it
 * reads the class's schema.  The reply is the accessory's, unchanged:
 * [status, body (JSON), user] (accessory/accessory.h).
 */
static void
gw_index(struct gateway *g, struct msg *m)
{
	const char *op, *id, *cls, *name = NULL;
	uint32_t oplen, idlen, clslen, namelen = 0;
	bool drop = false;
	const uint8_t *fobj = NULL;
	uint32_t flen = 0;
	struct mp_cur fields;
	const struct mp_field f[] = {
		MP_STR("op", &op, &oplen, true),
		MP_STR("id", &id, &idlen, true),
		MP_STR("class", &cls, &clslen, true),
		MP_STR("name", &name, &namelen, false),
		MP_OBJ("fields", &fobj, &flen, false),
		MP_BOOL("drop", &drop, false),
	};
	char sid[APP_ID_MAX], scls[128], sname[128];
	if (mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) != 0 ||
	    idlen >= sizeof(sid) || clslen >= sizeof(scls) ||
	    namelen >= sizeof(sname)) {
		actor_reply_error(g->actor, m, MIST_EPROTO);
		return;
	}
	snprintf(sid, sizeof(sid), "%.*s", (int)idlen, id);
	snprintf(scls, sizeof(scls), "%.*s", (int)clslen, cls);
	snprintf(sname, sizeof(sname), "%.*s", (int)namelen, name ? name : "");
	const struct app *a = apps_get(&g->apps, sid);
	uint64_t to = a ? gw_docs_node(g, a) : 0;
	if (a == NULL || a->deleted || to == 0) {
		actor_reply_error(g->actor, m, MIST_ENOTFOUND);
		return;
	}
	json_t *body = json_pack("{s:s}", "class", scls);
	uint8_t op_code = ACC_DOC_SCHEMA_GET;
	if (sname[0] != '\0') {
		json_t *spec;
		if (drop) {
			spec = json_pack("{s:s}", "__op", "Delete");
		} else {
			spec = json_object();
			uint32_t n;
			mp_cur_init(&fields, fobj, fobj ? flen : 0);
			if (fobj == NULL || mp_read_map(&fields, &n) != 0 ||
			    n == 0) {
				json_decref(spec);
				json_decref(body);
				actor_reply_error(g->actor, m, MIST_EINVAL);
				return;
			}
			for (uint32_t i = 0; i < n; i++) {
				const char *k;
				uint32_t kl;
				int64_t dir;
				if (mp_read_str(&fields, &k, &kl) != 0 ||
				    mp_read_int(&fields, &dir) != 0 ||
				    (dir != 1 && dir != -1) || kl >= 128) {
					json_decref(spec);
					json_decref(body);
					actor_reply_error(g->actor, m, MIST_EINVAL);
					return;
				}
				char key[128];
				snprintf(key, sizeof(key), "%.*s", (int)kl, k);
				json_object_set_new(spec, key, json_integer(dir));
			}
		}
		json_object_set_new(body, "indexes",
				    json_pack("{s:o}", sname, spec));
		json_object_set_new(body, "create", json_false());
		op_code = ACC_DOC_SCHEMA_PUT;
	}
	struct buf caller = BUF_INIT, b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &caller, buf_msgpack_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "master");
	msgpack_pack_true(&pk);
	mp_pack_str(&pk, "ip");
	mp_pack_str(&pk, "operator");
	mp_pack_str(&pk, "index_budget"); /* every request carries it */
	msgpack_pack_uint64(&pk, a->index_budget);
	acc_request_pack(&b, a->id, op_code, GW_INDEX_TIMEOUT_MS, caller.data,
			 caller.len, body);
	buf_destroy(&caller);
	json_decref(body);
	struct gw_admin *ad = xmalloc(sizeof(*ad));
	ad->from = m->from;
	ad->corr = m->corr;
	uint64_t corr;
	actor_request(g->actor, (struct actor_ref){to, ACTOR_DOCS},
		      MSG_ACC_REQUEST, b.data, (uint32_t)b.len,
		      GW_INDEX_TIMEOUT_MS, &corr);
	buf_destroy(&b);
	map_put(&g->admin, corr, ad);
}

/*
 * MSG_APPS {"op": "indexes", "id", "class"?}: the declared and automatic
 * indexes of an app and the query shapes its home watches
 * (ACC_DOC_INDEXES, master, with the app's index budget).  The reply is
 * the accessory's, unchanged, as for "index".
 */
static void
gw_indexes(struct gateway *g, struct msg *m)
{
	const char *op, *id, *cls = NULL;
	uint32_t oplen, idlen, clslen = 0;
	const struct mp_field f[] = {
		MP_STR("op", &op, &oplen, true),
		MP_STR("id", &id, &idlen, true),
		MP_STR("class", &cls, &clslen, false),
	};
	char sid[APP_ID_MAX], scls[128];
	if (mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) != 0 ||
	    idlen >= sizeof(sid) || clslen >= sizeof(scls)) {
		actor_reply_error(g->actor, m, MIST_EPROTO);
		return;
	}
	snprintf(sid, sizeof(sid), "%.*s", (int)idlen, id);
	snprintf(scls, sizeof(scls), "%.*s", (int)clslen, cls ? cls : "");
	const struct app *a = apps_get(&g->apps, sid);
	uint64_t to = a ? gw_docs_node(g, a) : 0;
	if (a == NULL || a->deleted || to == 0) {
		actor_reply_error(g->actor, m, MIST_ENOTFOUND);
		return;
	}
	json_t *body = scls[0] ? json_pack("{s:s}", "class", scls)
			       : json_object();
	struct buf caller = BUF_INIT, b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &caller, buf_msgpack_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "master");
	msgpack_pack_true(&pk);
	mp_pack_str(&pk, "ip");
	mp_pack_str(&pk, "operator");
	mp_pack_str(&pk, "index_budget");
	msgpack_pack_uint64(&pk, a->index_budget);
	acc_request_pack(&b, a->id, ACC_DOC_INDEXES, GW_INDEX_TIMEOUT_MS,
			 caller.data, caller.len, body);
	buf_destroy(&caller);
	json_decref(body);
	struct gw_admin *ad = xmalloc(sizeof(*ad));
	ad->from = m->from;
	ad->corr = m->corr;
	uint64_t corr;
	actor_request(g->actor, (struct actor_ref){to, ACTOR_DOCS},
		      MSG_ACC_REQUEST, b.data, (uint32_t)b.len,
		      GW_INDEX_TIMEOUT_MS, &corr);
	buf_destroy(&b);
	map_put(&g->admin, corr, ad);
}

/* Is MSG_APPS @a m an "indexes" request? */
static bool
gw_is_indexes(const struct msg *m)
{
	const char *op = NULL;
	uint32_t oplen = 0;
	const struct mp_field f[] = {MP_STR("op", &op, &oplen, false)};
	return mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) == 0 &&
	       op != NULL && mp_str_eq(op, oplen, "indexes");
}

/* Is MSG_APPS @a m an index request?  (Its "op" is "index".) */
static bool
gw_is_index(const struct msg *m)
{
	const char *op = NULL;
	uint32_t oplen = 0;
	const struct mp_field f[] = {MP_STR("op", &op, &oplen, false)};
	return mp_decode_fields(m->body, m->len, f, MP_NFIELDS(f), NULL) == 0 &&
	       op != NULL && mp_str_eq(op, oplen, "index");
}

/* The home answered an index request: relay it to the operator. */
static bool
gw_index_reply(struct gateway *g, struct msg *m)
{
	struct gw_admin *ad = map_del(&g->admin, m->corr);
	if (ad == NULL)
		return false;
	struct msg req = {.flags = MSG_F_REQUEST, .from = ad->from,
			  .corr = ad->corr};
	if (m->status != 0)
		actor_reply_error(g->actor, &req, m->status);
	else
		actor_reply(g->actor, &req, MSG_APPS, m->body, m->len);
	free(ad);
	return true;
}

/* ---------------------------------------------------------- membership */

static void
gw_member(struct gateway *g, struct msg *m)
{
	struct swim_event_view ev;
	if (swim_event_decode(m->body, m->len, &ev) != 0)
		return;
	uint64_t node = ev.node;
	if (ev.event == SWIM_EV_DEAD || ev.event == SWIM_EV_LEFT) {
		map_del(&g->alive, node);
	} else if (ev.event != SWIM_EV_SUSPECT &&
		   map_get(&g->alive, node) == NULL) {
		/* a member (back) in sight: give it every credential */
		map_put(&g->alive, node, (void *)1);
		creds_push_all(&g->creds, g->actor, node);
		apps_push_all(&g->apps, g->actor, node);
	}
	gw_apps_member(g, &ev);
	if (g->rest != NULL)
		rest_member(g->rest, node, ev.meta, ev.meta_len,
			    ev.event != SWIM_EV_DEAD && ev.event != SWIM_EV_LEFT);
}

/* --------------------------------------------------------------- actor */

/* The last handle closed: nothing refers to @a ctx any more. */
static void
gw_free(void *ctx)
{
	struct gateway *g = ctx;
	free(g->scratch);
	free(g);
}

static void
gw_stop(struct gateway *g)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&g->pending, &it, &k, &v))
		free(v);
	map_destroy(&g->pending);
	map_destroy(&g->alive);
	it = 0;
	while (map_next(&g->moved, &it, &k, &v))
		free(v);
	map_destroy(&g->moved);
	g->creds.revoked = NULL;
	creds_destroy(&g->creds);
	if (g->rest != NULL)
		rest_close(g->rest);
	g->rest = NULL;
	it = 0;
	while (map_next(&g->admin, &it, &k, &v))
		free(v);
	map_destroy(&g->admin);
	gw_apps_stop(g);
	native_shutdown(&g->net, gw_free, g);
}

/* MSG_JOB_MOVED: a job's requests go to its new owner from now on. */
static void
gw_job_moved(struct gateway *g, struct msg *m)
{
	uint64_t origin, job, owner;
	if (jobmsg_moved_unpack(m->body, m->len, &origin, &job, &owner) != 0 ||
	    owner != m->from.node)
		return; /* only the new owner says where its job is */
	uint64_t k = gw_moved_key(origin, job);
	struct gw_moved *mv = map_get(&g->moved, k);
	if (mv != NULL && (mv->origin != origin || mv->job != job)) {
		log_warn("gateway: job %016llx moved, but its key is another's",
			 (unsigned long long)job);
		return;
	}
	if (mv == NULL) {
		if (g->moved.len >= GW_MAX_MOVED) {
			log_warn("gateway: %d moved jobs known: job %016llx's "
				 "move not kept", GW_MAX_MOVED,
				 (unsigned long long)job);
			return;
		}
		mv = xmalloc(sizeof(*mv));
		map_put(&g->moved, k, mv);
	}
	*mv = (struct gw_moved){origin, job, owner};
}

static void
gw_fn(struct actor *self, struct msg *m)
{
	struct gateway *g = self->state;
	switch (m->type) {
	case MSG_STOP:
		gw_stop(g);
		self->state = NULL;
		return;
	case MSG_GW_HELLO:
		gw_hello(g, m);
		return;
	case MSG_GW_FRAME:
		gw_frame(g, m);
		return;
	case MSG_MEMBER_EVENT:
		gw_member(g, m);
		return;
	case MSG_JOB_MOVED:
		if (!(m->flags & MSG_F_REPLY))
			gw_job_moved(g, m);
		return;
	case MSG_CREDS:
		if (!(m->flags & MSG_F_REPLY))
			creds_request(&g->creds, self, &g->alive, m);
		return;
	case MSG_APPS:
		if (m->flags & MSG_F_REPLY)
			return;
		if (gw_is_index(m))
			gw_index(g, m);
		else if (gw_is_indexes(m))
			gw_indexes(g, m);
		else
			apps_request(&g->apps, self, &g->alive, gw_pick_home, g,
				     m);
		return;
	case MSG_HTTP_REQUEST:
		if (g->rest != NULL && (m->flags & MSG_F_LOCAL))
			rest_request(g->rest, m);
		return;
	case MSG_HOST_CALL: /* host API: a function's document call */
		if (g->rest != NULL && !(m->flags & MSG_F_REPLY))
			rest_host_call(g->rest, m);
		else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_ENOACTOR);
		return;
	case MSG_SWIM_META: /* local: this node's own metadata */
		if (g->rest != NULL && (m->flags & MSG_F_LOCAL))
			rest_member(g->rest, self->sys->node, m->body, m->len,
				    true);
		return;
	case MSG_REOPEN_LOGS:
		if (g->rest != NULL)
			rest_reopen_log(g->rest);
		return;
	case MSG_TIMER:
		if (g->rest != NULL)
			rest_timer(g->rest, m);
		return;
	default:
		if (m->flags & MSG_F_REPLY) {
			if (gw_index_reply(g, m))
				return;
			if (g->rest == NULL || !rest_reply(g->rest, m))
				gw_reply(g, m);
		} else if (m->flags & MSG_F_REQUEST)
			actor_reply_error(self, m, MIST_EUNKNOWN);
	}
}

struct gateway *
gateway_spawn(struct actor_sys *sys, uv_loop_t *loop, struct store *store,
	      const struct gateway_config *cfg, const char *addr, int *err)
{
	struct gateway *g = xcalloc(1, sizeof(*g));
	g->cfg = *cfg;
	int rc = native_listen(&g->net, loop, sys, cfg, addr);
	if (rc != 0) {
		*err = rc;
		native_shutdown(&g->net, gw_free, g);
		return NULL;
	}
	g->scratch = xmalloc(NOISE_MAX_MSG);
	map_init(&g->pending, randombytes_random());
	map_init(&g->alive, randombytes_random());
	creds_init(&g->creds, store, randombytes_random());
	g->creds.revoked = gw_revoked;
	g->creds.ctx = g;
	apps_init(&g->apps, store);
	map_init(&g->members, randombytes_random());
	map_init(&g->admin, randombytes_random());
	map_init(&g->moved, randombytes_random());
	/* no MSG_SWIM_SUBSCRIBE here: the gateway is spawned before SWIM
	 * (SWIM's metadata carries the gateway's bound address), so a tell
	 * now would find no ACTOR_SWIM and be lost; the spawner, which knows
	 * the order, subscribes ACTOR_GATEWAY once SWIM runs (cmd/agent.c) */
	g->actor = actor_spawn(sys, ACTOR_GATEWAY, "gateway", gw_fn, g);
	*err = 0;
	if (cfg->http_addr != NULL || cfg->https_addr != NULL) {
		/* the actor exists (rest's timers are its); on failure the
		 * spawner stops the system, which frees it all */
		g->rest = rest_open(g->actor, loop, &g->apps, &cfg->rest,
				    &cfg->http, cfg->http_addr, cfg->https_addr,
				    err);
	}
	return g;
}

void
gateway_set_swim(struct gateway *g, const struct swim *s)
{
	if (g->rest != NULL)
		rest_set_swim(g->rest, s);
}

void
gateway_http_addr(const struct gateway *g, bool tls, char *out, size_t len)
{
	if (g->rest == NULL) {
		if (len > 0)
			out[0] = '\0';
		return;
	}
	rest_bound_addr(g->rest, tls, out, len);
}

void
gateway_bound_addr(const struct gateway *g, char *out, size_t len)
{
	native_bound_addr(&g->net, out, len);
}
