/*
 * docs.c -- ACTOR_DOCS: Parse's documents, users, sessions, roles, schemas
 * and indexes on a struct docs_driver (accessory/docs.h says what is
 * applied and how it is stored).
 *
 * One request is handled in one turn: decode and bound it, find the
 * caller's user from its session, check CLP and ACL, read what it needs
 * (through the overlay of queued writes), then either answer (reads) or
 * queue one atomic group of changes (writes) and answer when the driver
 * says it is durable (MSG_DOCS_DONE).  A request that needs a password
 * hashed or verified (signup, login, a password change; Argon2id costs
 * tens of milliseconds, accessory/auth.h) is handed whole to libuv's
 * thread pool and handled again, from the start, when the hash is done
 * (MSG_DOCS_DONE carrying a struct docs_hashjob): the loop never waits
 * for a hash, and the second pass re-checks everything it read.
 *
 * A store whose reads wait on a server (PostgreSQL) never holds the loop
 * either (restartable reads, docs_driver.h): a request is run against a
 * read view; a read the view does not hold starts the fetch and the run
 * comes to nothing -- it answers, queues and counts nothing (docs.again;
 * the decisions that change memory, an automatic index, a build, a
 * usage record, check docs_in_vain) -- and the request is parked with
 * its view (docs.parked) and run again from the start when the driver
 * says the view's fetches arrived (MSG_DOCS_DONE with a docs_readjob).
 * A parked request's deadline still holds (docs_park_expire).  Index
 * builds run their steps the same way, each on a view of its own.
 *
 *   MSG_ACC_REQUEST ─▶ run 1 ─ a fetch ─▶ parked ─┐ driver: ready(tag)
 *        ┌───────────────────────────────────────┘ (MSG_DOCS_DONE, READ)
 *        └▶ run 2 (its reads held) ─▶ ... ─▶ run k+1 ─▶ answer | queue
 *
 * What a re-run reads is what its view fetched (values as of its first
 * read of each key), under the overlay of this agent's queued writes; a
 * write the view missed (another agent's, or this agent's that became
 * durable meanwhile) fails the writing request's preconditions and it
 * runs again on a fresh view.
 */
#include "config.h"
#include "accessory/docs.h"
#include "accessory/accessory.h"
#include "accessory/auth.h"
#include "accessory/autoindex.h"
#include "accessory/docs_cache.h"
#include "accessory/perr.h"
#include "accessory/query.h"
#include "mist.h"
#include "net/mp.h"
#include "util/buf.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/map.h"
#include "util/container.h"
#include "util/mem.h"

#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* applicationId [A-Za-z0-9_-]{1,63} (gateway/apps.h APP_ID_MAX) */
#define DOCS_APP_MAX 64
/* class names: Parse's ^[A-Za-z_][A-Za-z0-9_]*$, and DOC_CLASS_MAX */
#define DOCS_CLASS_MAX DOC_CLASS_MAX
/* objectIds: 10 alphanumerics (ours), at most 32 accepted from clients */
#define DOCS_ID_LEN 10
#define DOCS_ID_MAX 33
/* a session's token on the caller map: AUTH_TOKEN_MAX; longer is bad */
/* index names: as field names */
#define DOCS_INDEX_NAME_MAX 64
/* Parse's "class not empty" code (not in perr.h: only SCHEMA_DELETE
 * answers it) */
#define DOCS_CLASS_NOT_EMPTY 255

/* ------------------------------------------------------------- state */

struct docs_ov {
	struct docs_ov *next;
	uint32_t pins;
	bool deleted;
	uint8_t table;
	size_t klen;
	uint8_t *key;
	struct buf val;
};

struct docs_usage {
	char app[DOCS_APP_MAX];
	uint64_t used;
	uint64_t index_budget; /* the caller's, last seen (0: the default) */
	/* changes when what decides an automatic index does (its budget, an
	 * index added or dropped): a refused shape is weighed again then */
	uint64_t ix_gen;
	struct docs_usage *next;
};

struct docs_build {
	struct docs_build *next;
	char app[DOCS_APP_MAX];
	char cls[DOCS_CLASS_MAX + 1];
	char name[DOCS_INDEX_NAME_MAX];
	struct buf cursor; /* last object key indexed ("" = none yet) */
	bool writing;	   /* a chunk is queued */
	/* the last group queued when it was added (docs->q_seq): it scans
	 * only once that one is done (done_seq), and with it every group
	 * queued before -- an object whose create was queued under
	 * the old schema carries no entry of the new index, and a scan of
	 * the durable state that passed its key before it landed would miss
	 * it for good */
	uint64_t after;
	bool locked;	   /* a shared store: we hold its build lock */
	/* what its next step is (docs_build_tick): a chunk, declaring it
	 * ready once the last chunk is durable, or the final recount */
	enum { DOCS_BSTEP_CHUNK, DOCS_BSTEP_READY, DOCS_BSTEP_FINAL } step;
	/* restartable reads: the view its step reads through while a fetch
	 * is under way (fetching), named tag; the step runs again when the
	 * driver says the fetch arrived */
	struct docs_view *view;
	uint64_t tag;
	bool fetching;
	bool rerun; /* this step's run reads a view an earlier one filled */
	bool view_parked; /* = rerun, for docs_build_cb */
	/* the final recount: docs.q_seq when its reads started, and how
	 * often it started again because groups were queued meanwhile */
	uint64_t recount_seq;
	uint32_t recounts;
	/* keys of groups that became durable while its view was parked
	 * (docs_hash of table and key, u64 each): the view may hold them as
	 * they were before, and the overlay no longer does (dirty_all: a
	 * prefix delete, or more than DOCS_BUILD_DIRTY_MAX) */
	struct buf dirty;
	bool dirty_all;
};

/* Keys a parked build step notes as written meanwhile; past it the step
 * starts again on a fresh view (one round trip lost, not correctness). */
#define DOCS_BUILD_DIRTY_MAX 4096

/*
 * What the accessory knows of one index (declared or automatic) beyond
 * its schema entry: its META 'A' record, kept here and written back at
 * most every cfg.ixstat_flush_ms (docs_ixstat_flush).  entries and bytes
 * follow every write group as it is queued and are recounted from the
 * store when a build ends.
 */
struct docs_ixrt {
	struct docs_ixrt *next; /* the map's chain */
	char app[DOCS_APP_MAX];
	char cls[DOCS_CLASS_MAX + 1];
	char name[DOCS_INDEX_NAME_MAX];
	bool is_auto;
	bool counted; /* entries and bytes are known */
	bool dirty;   /* to be written */
	int64_t created_ms;
	char reason[192];
	char shape[160];
	uint64_t hits;
	uint64_t saved; /* objects it spared queries (hits x wpq), about */
	uint64_t wpq;	/* auto: the shape's waste per query before it */
	/* what it saved in the current window of the shapes' clock and in
	 * the one before (memory only): what eviction weighs, so an index
	 * busy last week and idle since gives way */
	uint64_t win_saved, prev_saved, win_start;
	int64_t entries, bytes;
};

struct docs_stats {
	uint64_t ops[ACC_DOC_INDEXES + 1];
	uint64_t requests, bad, scans, index_scans, scanned, results;
	uint64_t refused_heavy, refused_deadline, refused_quota, refused_acl,
		refused_clp, refused_schema, refused_busy, store_errors, conflicts,
		writes,
		builds_done;
	uint64_t auto_built, auto_dropped, auto_refused, rperm_scans;
	/* restartable reads: runs that came to nothing on a fetch, runs
	 * again once it arrived, parked requests answered at their
	 * deadline, requests that read past the driver's view */
	uint64_t parks, reruns, parked_expired, read_too_big;
};

struct docs {
	struct actor *self;
	/* A read of the request being handled failed (the store is down or
	 * erred: docs_drv_get/docs_drv_scan): its answer becomes 503 code
	 * 100 and it queues nothing, since what it read may be wrong. */
	bool in_request, store_down;
	/*
	 * Restartable reads (docs_driver.h): the view the run in hand reads
	 * through (NULL outside a request, or with a driver whose reads never
	 * wait: LMDB) and its tag; again: a read of this run started a fetch
	 * (DOCS_AGAIN), so the run comes to nothing -- store_down is set too,
	 * so it queues nothing, and docs_send sends nothing -- and the
	 * request is parked (docs.parked, the docs_retry shape) until the
	 * driver says the view's fetches arrived (docs_read_ready), then run
	 * again from the start.  read_err: the run's first read that failed
	 * (MIST_E2BIG gets its own answer).
	 */
	struct docs_view *view;
	uint64_t view_tag, tag_seq;
	bool again;
	bool in_run; /* a request's run or a build's step: reads may wait */
	bool queued; /* the run queued a group: it is not run again */
	int read_err;
	struct docs_retry *parked;
	uint32_t nparked;
	struct actor_timer park_timer;
	bool park_armed;
	struct docs_usage usage_scratch; /* docs_usage_of on a run in vain */
	/* The store is shared with other agents (PostgreSQL): caches off,
	 * index records another agent wrote read at listing time. */
	bool shared;
	bool ixrt_fill_only; /* docs_ixrt_load_cb: keep records in memory */
	/* The request's read set (a shared store): every OBJ and META key it
	 * read by key and what it found, [table][u32 klen][key][present]
	 * [u32 vlen][value]...; a write of one of them carries it as its
	 * precondition (docs_driver.h enum docs_expect). */
	struct buf rset;
	bool rset_full; /* past DOCS_READSET_MAX: later reads not kept */
	uv_loop_t *loop;
	struct docs_config cfg;
	struct docs_driver *drv;
	struct map ov;	   /* hash(table, key) -> chain of struct docs_ov */
	struct map usage;  /* hash(app) -> chain of struct docs_usage */
	uint64_t pending;  /* groups queued, not yet durable */
	/* Groups numbered as queued and as done (a shared store's driver
	 * finishes them in order), and the re-runs waiting: a request whose
	 * group conflicted runs again only once every group queued before
	 * the conflict was known is done -- those that built on the failed
	 * one's value (read from the overlay) fail too, and a re-run that
	 * read them would fail again. */
	uint64_t q_seq, done_seq;
	struct docs_retry *retries, *retries_tail;
	uint32_t hashing;  /* hash jobs queued or running */
	struct docs_build *builds;
	struct actor_timer build_timer;
	bool build_armed;
	struct docs_stats st;
	struct query_opts qopts;
	struct docs_cache cache;  /* META: parsed schemas and sessions */
	struct docs_cache ocache; /* OBJ: parsed objects and their text */
	struct autoix_table shapes; /* query shapes (accessory/autoindex.h) */
	struct map ixrt;	    /* hash(app, cls, name) -> struct docs_ixrt */
	/* hash(app, cls, name) -> bytes an automatic index measured when the
	 * budget dropped it: its next estimate (the first one only knew what
	 * refused scans saw, and a short one made a build-drop loop) */
	struct map auto_measured;
	struct actor_timer ixstat_timer;
	bool ixstat_armed;
	bool stopping; /* MSG_STOP: no timer any more */
};

/* The request in hand. */
struct docs_req {
	struct docs *d;
	struct actor_ref from;
	uint64_t corr;
	uint16_t flags;
	char app[DOCS_APP_MAX];
	uint32_t op;
	uint64_t deadline; /* ns on the docs clock; 0: none */
	bool master, create_classes;
	uint64_t quota;
	uint64_t index_budget;
	char session[AUTH_TOKEN_MAX];
	char install[64];
	json_t *body;
	/* a get's {"class","id"} read without jansson (docs_body_get_form):
	 * the names, body then an empty object */
	bool get_form;
	char get_cls[DOCS_CLASS_MAX + 1], get_id[DOCS_ID_MAX];
	char user[DOCS_ID_MAX]; /* "" if none */
	char sid[DOCS_ID_MAX];	/* the caller's session object */
	struct auth_who who;
	const struct docs_hashjob *job; /* the second pass of a request */
	const struct msg *msg;		/* the request as it came */
	bool deferred;			/* a hash job took the request */
	uint32_t attempt;		/* re-runs after conflicts so far */
	bool roles_loaded;
	json_t *role_objs; /* keeps the role names alive */
	const char **rolev;
};

/* What MSG_DOCS_DONE carries: a durable group, a finished hash, or the
 * fetches of a parked request's view arrived (struct docs_readjob). */
enum docs_job_kind { DOCS_JOB_GROUP = 1, DOCS_JOB_HASH = 2, DOCS_JOB_READ = 3 };

struct docs_readjob {
	int kind; /* DOCS_JOB_READ: first */
	uint64_t tag;
};

/*
 * A password hashed or verified on libuv's thread pool (Argon2id costs
 * tens of milliseconds: never on the loop).  The request is kept whole
 * and handled again when the job is done, with the result at hand.
 */
struct docs_hashjob {
	int kind; /* DOCS_JOB_HASH: first */
	uv_work_t work;
	struct actor_sys *sys;
	struct msg *req;   /* a copy of the request */
	uint64_t deadline; /* the request's, from its first arrival */
	char *pw;
	size_t pwlen;
	bool verify;
	bool ok;				/* verify: it matched */
	char stored[crypto_pwhash_STRBYTES]; /* verify: against this */
	char out[crypto_pwhash_STRBYTES];    /* hash: the result */
	int rc;				     /* hash: 0 or an error */
};

/* A queued write group, until durable. */
struct docs_pending {
	int kind; /* DOCS_JOB_GROUP: first */
	struct actor_sys *sys;
	struct actor_ref from;
	uint64_t corr;
	uint16_t flags;
	bool reply;  /* else an index build chunk */
	int status;  /* the HTTP answer once durable */
	char *body;  /* JSON text */
	char user[DOCS_ID_MAX];
	int drv_status;
	struct buf keys; /* overlay keys to unpin: [table][u32 klen][key]... */
	struct buf prefixes; /* prefix deletes, the same way: cache drops */
	struct docs_build *build;
	struct buf next_cursor; /* a build chunk: where the next one starts */
	bool build_done;	/* ... or the index is ready */
	bool build_ready;	/* the schema saying it is ready */
	struct docs_retry *retry; /* a shared store: to re-run on a conflict */
	uint64_t seq;		  /* docs.q_seq when queued */
};

/*
 * What re-runs a request whose group met a conflict (another agent wrote
 * a key it read, docs_driver.h MIST_EEXIST): the request as it came, its
 * password hash's result if it had one (so it is not hashed again), its
 * deadline from the first arrival, and the re-runs so far.
 */
struct docs_retry {
	struct msg *req;
	struct docs_hashjob *job; /* NULL: none; req and pw not kept */
	uint64_t deadline;
	uint32_t attempt;
	uint64_t wait_seq;	 /* runs once done_seq reaches it */
	struct docs_retry *next; /* docs.retries, or docs.parked */
	/* parked on a fetch: the view its runs read through, its tag, and
	 * the runs so far */
	struct docs_view *view;
	uint64_t tag;
	uint32_t runs;
};

/* -------------------------------------------------------- small tools */

static uint64_t
docs_now_ns(struct docs *d)
{
	if (d->cfg.clock_ns != NULL)
		return d->cfg.clock_ns(d->cfg.clock_ctx);
	return actor_sys_hrtime(d->self->sys);
}

static int64_t
docs_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
docs_iso_now(char out[DOC_DATE_MAX], int64_t *ms)
{
	int64_t t = docs_wall_ms();
	if (ms)
		*ms = t;
	doc_date_format(t, out);
}

static void
docs_new_id(char out[DOCS_ID_MAX])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789";
	for (int i = 0; i < DOCS_ID_LEN; i++)
		out[i] = al[randombytes_uniform(sizeof(al) - 1)];
	out[DOCS_ID_LEN] = 0;
}

static uint64_t
docs_hash(uint8_t table, const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ table;
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool
docs_valid_app(const char *s, size_t n)
{
	if (n == 0 || n >= DOCS_APP_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
docs_valid_class(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > DOCS_CLASS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	/* the system classes are the only ones starting with '_' */
	if (s[0] == '_')
		return strcmp(s, "_User") == 0 || strcmp(s, "_Role") == 0 ||
		       strcmp(s, "_Session") == 0;
	return true;
}

static bool
docs_valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= DOCS_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* snprintf(out, size, "%s", s) without printf's parsing (on every
 * request): truncates to @a size - 1 bytes. */
static void
docs_copy(char *out, size_t size, const char *s)
{
	size_t n = strnlen(s, size - 1);
	memcpy(out, s, n);
	out[n] = 0;
}

/* A JSON string member (no embedded NUL), or NULL. */
static const char *
docs_jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

static bool
docs_is_reserved(const char *k)
{
	return strcmp(k, "objectId") == 0 || strcmp(k, "createdAt") == 0 ||
	       strcmp(k, "updatedAt") == 0 || strcmp(k, "ACL") == 0;
}

/* ---------------------------------------------------------------- keys */

static void
docs_kadd(struct buf *k, const char *s, bool nul)
{
	buf_append(k, s, strlen(s));
	if (nul)
		buf_append(k, "", 1);
}

/* app \0 cls \0 [id] */
static void
docs_kobj(struct buf *k, const char *app, const char *cls, const char *id)
{
	k->len = 0;
	docs_kadd(k, app, true);
	docs_kadd(k, cls, true);
	if (id)
		docs_kadd(k, id, false);
}

/* tag app \0 [a [\0 b]] */
static void
docs_kmeta(struct buf *k, char tag, const char *app, const char *a,
	   const char *b)
{
	k->len = 0;
	buf_append(k, &tag, 1);
	docs_kadd(k, app, true);
	if (a)
		docs_kadd(k, a, b != NULL);
	if (b)
		docs_kadd(k, b, false);
}

/* ------------------------------------------------------------ overlay */

static struct docs_ov *
docs_ov_find(struct docs *d, uint8_t t, const void *k, size_t kl)
{
	if (d->ov.len == 0)
		return NULL; /* no write pending: the common read, no hash */
	struct docs_ov *o = map_get(&d->ov, docs_hash(t, k, kl));
	for (; o; o = o->next)
		if (o->table == t && o->klen == kl && memcmp(o->key, k, kl) == 0)
			return o;
	return NULL;
}

static void
docs_ov_set(struct docs *d, uint8_t t, const void *k, size_t kl,
	    const void *v, size_t vl, bool deleted)
{
	struct docs_ov *o = docs_ov_find(d, t, k, kl);
	if (o == NULL) {
		uint64_t h = docs_hash(t, k, kl);
		o = xcalloc(1, sizeof(*o));
		o->table = t;
		o->klen = kl;
		o->key = xmalloc(kl ? kl : 1);
		memcpy(o->key, k, kl);
		o->next = map_get(&d->ov, h);
		map_put(&d->ov, h, o);
	}
	o->pins++;
	o->deleted = deleted;
	o->val.len = 0;
	if (!deleted)
		buf_append(&o->val, v, vl);
}

static void
docs_ov_unpin(struct docs *d, uint8_t t, const void *k, size_t kl)
{
	uint64_t h = docs_hash(t, k, kl);
	struct docs_ov *head = map_get(&d->ov, h), *prev = NULL;
	for (struct docs_ov *o = head; o; prev = o, o = o->next) {
		if (o->table != t || o->klen != kl || memcmp(o->key, k, kl))
			continue;
		if (--o->pins > 0)
			return;
		if (prev)
			prev->next = o->next;
		else if (o->next)
			map_put(&d->ov, h, o->next);
		else
			map_del(&d->ov, h);
		buf_destroy(&o->val);
		free(o->key);
		free(o);
		return;
	}
}

/* Marks every overlaid key of @a t starting with @a p as deleted, and
 * pins it until the prefix delete is durable (appending it to @a pins, a
 * pending group's unpin list): until then the store may still hold what
 * an earlier group wrote there. */
static void
docs_ov_del_prefix(struct docs *d, uint8_t t, const void *p, size_t pl,
		   struct buf *pins)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->ov, &it, &k, &v))
		for (struct docs_ov *o = v; o; o = o->next)
			if (o->table == t && o->klen >= pl &&
			    memcmp(o->key, p, pl) == 0) {
				o->deleted = true;
				o->val.len = 0;
				o->pins++;
				uint32_t kl = (uint32_t)o->klen;
				buf_append(pins, &t, 1);
				buf_append(pins, &kl, sizeof(kl));
				buf_append(pins, o->key, kl);
			}
}

static void
docs_ov_destroy(struct docs *d)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->ov, &it, &k, &v))
		for (struct docs_ov *o = v, *n; o; o = n) {
			n = o->next;
			buf_destroy(&o->val);
			free(o->key);
			free(o);
		}
	map_destroy(&d->ov);
}

/* The run in hand read something it could not get (a fetch under way,
 * or a failure): what it decides must change nothing. */
static bool
docs_in_vain(const struct docs *d)
{
	return d->in_run && d->store_down;
}

/* A read of the run did not give its answer (docs.store_down, and
 * docs.again if it only started a fetch). */
static void
docs_drv_note(struct docs *d, int rc)
{
	d->store_down = true;
	if (rc == DOCS_AGAIN)
		d->again = true;
	else if (d->read_err == 0)
		d->read_err = rc;
}

/* The driver's get and scan through the run's view, noting a failure or
 * a fetch started (DOCS_AGAIN, never with LMDB). */
static int
docs_drv_get(struct docs *d, enum docs_table t, const void *k, size_t kl,
	     struct buf *out)
{
	int rc = d->drv->vt->get(d->drv, d->view, t, k, kl, out);
	if (rc != 0 && rc != MIST_ENOTFOUND)
		docs_drv_note(d, rc);
	return rc;
}

static int
docs_drv_scan(struct docs *d, enum docs_table t, const void *lo,
	      size_t lolen, const void *hi, size_t hilen, bool reverse,
	      docs_scan_cb cb, void *arg)
{
	int rc = d->drv->vt->scan(d->drv, d->view, t, lo, lolen, hi, hilen,
				  reverse, cb, arg);
	if (rc != 0)
		docs_drv_note(d, rc);
	return rc;
}

static bool docs_rset_find(const struct docs *d, uint8_t t, const void *k,
			   size_t kl, bool *present, const uint8_t **v,
			   size_t *vl, size_t *at);

/* Notes in the request's read set what a read by key of @a t found (a
 * shared store only; the first read of a key is what the request saw:
 * later ones are not kept). */
static void
docs_rset_note(struct docs *d, enum docs_table t, const void *k, size_t kl,
	       int rc, const void *v, size_t vl)
{
	if (!d->shared || !d->in_request || t == DOCS_T_IDX ||
	    (rc != 0 && rc != MIST_ENOTFOUND))
		return;
	bool seen;
	const uint8_t *sv;
	size_t svl, sat;
	if (docs_rset_find(d, (uint8_t)t, k, kl, &seen, &sv, &svl, &sat))
		return;
	if (d->rset.len + kl + vl + 10 > DOCS_READSET_MAX) {
		d->rset_full = true;
		return;
	}
	uint8_t tb = (uint8_t)t, present = rc == 0;
	uint32_t k32 = (uint32_t)kl, v32 = present ? (uint32_t)vl : 0;
	buf_append(&d->rset, &tb, 1);
	buf_append(&d->rset, &k32, 4);
	buf_append(&d->rset, k, kl);
	buf_append(&d->rset, &present, 1);
	buf_append(&d->rset, &v32, 4);
	if (v32)
		buf_append(&d->rset, v, v32);
}

/* What the request read of @a k first: false if it did not read it.
 * *@a at: the entry's offset (docs_rset_written kills it). */
static bool
docs_rset_find(const struct docs *d, uint8_t t, const void *k, size_t kl,
	       bool *present, const uint8_t **v, size_t *vl, size_t *at)
{
	const uint8_t *p = d->rset.data, *end = p + d->rset.len;
	while (p < end) {
		*at = (size_t)(p - d->rset.data);
		uint32_t k32, v32;
		memcpy(&k32, p + 1, 4);
		const uint8_t *key = p + 5;
		uint8_t pr = key[k32];
		memcpy(&v32, key + k32 + 1, 4);
		const uint8_t *val = key + k32 + 5;
		if (p[0] == t && k32 == kl && memcmp(key, k, kl) == 0) {
			*present = pr != 0;
			*v = val;
			*vl = v32;
			return true;
		}
		p = val + v32;
	}
	return false;
}

/* Gives each put and delete of @a ops whose key the request read the
 * value it read as a precondition; not the usage counters ('q': every
 * write of an app moves it, so agents would conflict on nothing but it;
 * they are approximate across agents) nor index statistics ('A'). */
static void
docs_rset_expect(const struct docs *d, struct docs_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct docs_op *op = &ops[i];
		op->expect = DOCS_EXPECT_NONE;
		if (op->kind == DOCS_DEL_PREFIX || op->table == DOCS_T_IDX)
			continue;
		const uint8_t *k = op->key;
		if (op->table == DOCS_T_META && op->klen > 0 &&
		    (k[0] == 'q' || k[0] == 'A'))
			continue;
		bool present;
		const uint8_t *v;
		size_t vl, at;
		if (!docs_rset_find(d, (uint8_t)op->table, k, op->klen,
				    &present, &v, &vl, &at))
			continue;
		op->expect = present ? DOCS_EXPECT_VALUE : DOCS_EXPECT_ABSENT;
		op->eval = v;
		op->elen = vl;
	}
}

/* A group of the request is queued: what it writes is what a later group
 * of the same request (an index dropped, then another created) must
 * find, so it replaces what was read.  The ops' eval pointers are used
 * up (the driver copied them). */
static void
docs_rset_written(struct docs *d, const struct docs_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct docs_op *op = &ops[i];
		if (op->kind == DOCS_DEL_PREFIX || op->table == DOCS_T_IDX)
			continue;
		bool present;
		const uint8_t *v;
		size_t vl, at;
		if (docs_rset_find(d, (uint8_t)op->table, op->key, op->klen,
				   &present, &v, &vl, &at))
			d->rset.data[at] = 0xff; /* no table: never found */
		docs_rset_note(d, op->table, op->key, op->klen,
			       op->kind == DOCS_PUT ? 0 : MIST_ENOTFOUND,
			       op->val, op->vlen);
	}
}

/* A read by key through the overlay.  0, MIST_ENOTFOUND, MIST_ESTORE. */
static int
docs_read(struct docs *d, enum docs_table t, const struct buf *k,
	  struct buf *out)
{
	struct docs_ov *o = docs_ov_find(d, (uint8_t)t, k->data, k->len);
	int rc;
	if (o != NULL) {
		rc = o->deleted ? MIST_ENOTFOUND : 0;
		out->len = 0;
		if (!o->deleted)
			buf_append(out, o->val.data, o->val.len);
	} else {
		rc = docs_drv_get(d, t, k->data, k->len, out);
	}
	docs_rset_note(d, t, k->data, k->len, rc, out->data, out->len);
	return rc;
}

/* A JSON record by key (new reference), or NULL if missing. */
static json_t *
docs_read_json(struct docs *d, enum docs_table t, const struct buf *k)
{
	struct buf v = BUF_INIT;
	json_t *j = NULL;
	if (docs_read(d, t, k, &v) == 0)
		j = json_loadb((const char *)v.data, v.len, 0, NULL);
	buf_destroy(&v);
	return j;
}

/* The cache of table @a t's records: META (schemas, sessions) and OBJ
 * (objects) apart, so a burst of reads of many objects cannot evict the
 * schemas and sessions every request needs.  IDX is not cached. */
static struct docs_cache *
docs_cache_of(struct docs *d, uint8_t t)
{
	if (t == DOCS_T_META)
		return &d->cache;
	if (t == DOCS_T_OBJ)
		return &d->ocache;
	return NULL;
}

/*
 * A pseudo-table of the META cache: an app's _Role objects as the role
 * scan read them (docs_need_roles), key = the app's name.  Dropped by
 * every write of an object of the app's _Role class, and by every prefix
 * delete of objects (DROP_APP; rare, so all apps' at once).
 */
#define DOCS_CT_ROLES 0x80

/* If @a k (an OBJ key: app \0 class \0 id) is a _Role object, the
 * length of its app name; else 0. */
static size_t
docs_role_key_app(const void *k, size_t kl)
{
	static const char cls[] = "_Role";
	const char *p = k, *z = memchr(p, 0, kl);
	if (z == NULL)
		return 0;
	size_t al = (size_t)(z - p);
	if (kl < al + 1 + sizeof(cls) ||
	    memcmp(p + al + 1, cls, sizeof(cls)) != 0) /* with its \0 */
		return 0;
	return al;
}

static void
docs_cache_forget(struct docs *d, uint8_t t, const void *k, size_t kl,
		  bool prefix)
{
	struct docs_cache *c = docs_cache_of(d, t);
	if (c == NULL)
		return;
	if (prefix)
		docs_cache_del_prefix(c, t, k, kl);
	else
		docs_cache_del(c, t, k, kl);
	if (t != DOCS_T_OBJ)
		return;
	if (prefix) {
		docs_cache_del_prefix(&d->cache, DOCS_CT_ROLES, "", 0);
	} else {
		size_t al = docs_role_key_app(k, kl);
		if (al > 0)
			docs_cache_del(&d->cache, DOCS_CT_ROLES, k, al);
	}
}

/*
 * A JSON record by key through the cache (docs_cache.h): a new reference
 * to a SHARED tree the caller must not change, or NULL if missing.  What
 * the overlay holds is parsed and not cached (it is not durable yet);
 * what the driver holds is cached, and so is its absence if
 * @a cache_absent (schemas: a class without one is asked about as often
 * as one with).  With @a raw, the stored text is kept in the cache too
 * and *raw is a new reference to it as a JSON string (NULL when the
 * value came from the overlay or could not be cached).
 */
static json_t *
docs_read_cached(struct docs *d, enum docs_table t, const struct buf *k,
		 bool cache_absent, json_t **raw)
{
	struct docs_cache *c = docs_cache_of(d, (uint8_t)t);
	bool keep_text = raw != NULL;
	if (raw)
		*raw = NULL;
	struct docs_ov *o = docs_ov_find(d, (uint8_t)t, k->data, k->len);
	if (o != NULL) {
		docs_rset_note(d, t, k->data, k->len,
			       o->deleted ? MIST_ENOTFOUND : 0, o->val.data,
			       o->val.len);
		return o->deleted ? NULL
				  : json_loadb((const char *)o->val.data,
					       o->val.len, 0, NULL);
	}
	const struct docs_cache_ent *e =
		docs_cache_get(c, (uint8_t)t, k->data, k->len);
	if (e != NULL) {
		if (raw)
			*raw = json_incref(e->raw);
		return json_incref(e->val);
	}
	struct buf v = BUF_INIT;
	json_t *j = NULL;
	int rc = docs_drv_get(d, t, k->data, k->len, &v);
	docs_rset_note(d, t, k->data, k->len, rc, v.data, v.len);
	if (rc == 0) {
		j = json_loadb((const char *)v.data, v.len, 0, NULL);
		if (j != NULL) { /* a record that does not parse: not kept */
			e = docs_cache_put(c, (uint8_t)t, k->data, k->len,
					   json_incref(j), v.data, v.len,
					   keep_text);
			if (raw && e != NULL)
				*raw = json_incref(e->raw);
		}
	} else if (rc == MIST_ENOTFOUND && cache_absent) {
		docs_cache_put(c, (uint8_t)t, k->data, k->len, NULL, NULL, 0,
			       false);
	}
	buf_destroy(&v);
	return j;
}

/* Drops from the caches every key of the pin list @a keys ([table][u32
 * klen][key]...) -- by prefix if @a prefix. */
static void
docs_cache_drop_list(struct docs *d, const struct buf *keys, bool prefix)
{
	if (keys->data == NULL)
		return; /* an empty list (a NULL pointer has no end to add) */
	const uint8_t *p = keys->data, *end = p + keys->len;
	while (p + 5 <= end) {
		uint8_t t = p[0];
		uint32_t kl;
		memcpy(&kl, p + 1, sizeof(kl));
		p += 5;
		if (p + kl > end)
			break;
		docs_cache_forget(d, t, p, kl, prefix);
		p += kl;
	}
}

/* ------------------------------------------------------------ groups */

/* A group of changes being built (keys and values owned here). */
struct docs_group {
	struct docs_op ops[64];
	struct docs_op *big; /* when more than 64 */
	uint32_t n, cap;
	struct buf mem[64 * 2];
	struct buf *bigmem;
	int64_t delta; /* usage change, bytes */
};

static void
docs_group_init(struct docs_group *g)
{
	memset(g, 0, sizeof(*g));
	g->cap = 64;
}

static struct docs_op *
docs_group_ops(struct docs_group *g)
{
	return g->big ? g->big : g->ops;
}

static struct buf *
docs_group_mem(struct docs_group *g)
{
	return g->bigmem ? g->bigmem : g->mem;
}

static void
docs_group_add(struct docs_group *g, enum docs_op_kind kind, enum docs_table t,
	       const void *k, size_t kl, const void *v, size_t vl)
{
	if (g->n == g->cap) {
		uint32_t nc = g->cap * 2;
		struct docs_op *no = xcalloc(nc, sizeof(*no));
		struct buf *nm = xcalloc((size_t)nc * 2, sizeof(*nm));
		memcpy(no, docs_group_ops(g), g->n * sizeof(*no));
		memcpy(nm, docs_group_mem(g), (size_t)g->n * 2 * sizeof(*nm));
		free(g->big);
		free(g->bigmem);
		g->big = no;
		g->bigmem = nm;
		g->cap = nc;
	}
	struct buf *m = &docs_group_mem(g)[g->n * 2];
	buf_append(&m[0], k, kl);
	if (kind == DOCS_PUT)
		buf_append(&m[1], v, vl ? vl : 0);
	struct docs_op *op = &docs_group_ops(g)[g->n++];
	op->kind = kind;
	op->table = t;
	op->key = m[0].data ? (void *)m[0].data : (void *)"";
	op->klen = kl;
	op->val = m[1].data ? (void *)m[1].data : (void *)"";
	op->vlen = kind == DOCS_PUT ? vl : 0;
}

static void
docs_group_put(struct docs_group *g, enum docs_table t, const struct buf *k,
	       const void *v, size_t vl)
{
	docs_group_add(g, DOCS_PUT, t, k->data, k->len, v, vl);
}

static void
docs_group_del(struct docs_group *g, enum docs_table t, const struct buf *k)
{
	docs_group_add(g, DOCS_DEL, t, k->data, k->len, NULL, 0);
}

static void
docs_group_free(struct docs_group *g)
{
	struct buf *m = docs_group_mem(g);
	for (uint32_t i = 0; i < g->n * 2; i++)
		buf_destroy(&m[i]);
	free(g->big);
	free(g->bigmem);
}

static void
docs_retry_free(struct docs_retry *r)
{
	if (r == NULL)
		return;
	if (r->req)
		msg_delete(r->req);
	if (r->job) {
		sodium_memzero(r->job->out, sizeof(r->job->out));
		free(r->job);
	}
	free(r);
}

static void
docs_pending_free(struct docs_pending *w)
{
	docs_retry_free(w->retry);
	free(w->body);
	buf_destroy(&w->keys);
	buf_destroy(&w->prefixes);
	buf_destroy(&w->next_cursor);
	free(w);
}

static void
docs_hashjob_free(struct docs_hashjob *j)
{
	if (j->pw) {
		sodium_memzero(j->pw, j->pwlen);
		free(j->pw);
	}
	msg_delete(j->req);
	sodium_memzero(j->out, sizeof(j->out));
	free(j);
}

/* A MSG_DOCS_DONE's ptr_free: whichever it carries. */
static void
docs_job_free(void *p)
{
	if (*(int *)p == DOCS_JOB_HASH)
		docs_hashjob_free(p);
	else if (*(int *)p == DOCS_JOB_READ)
		free(p);
	else
		docs_pending_free(p);
}

/* The driver's callback: on the loop thread, outside any turn, so it only
 * delivers the pending group back to the actor (net/loop.h). */
static void
docs_durable_cb(void *arg, int status)
{
	struct docs_pending *w = arg;
	w->drv_status = status;
	struct msg *m =
		actor_local_msg(w->sys, ACTOR_DOCS, MSG_DOCS_DONE, NULL, 0);
	m->ptr = w;
	m->ptr_free = docs_job_free;
	actor_sys_deliver(w->sys, m); /* refused at shutdown: freed */
}

static void
docs_hash_work(uv_work_t *wk)
{
	struct docs_hashjob *j = container_of(wk, struct docs_hashjob, work);
	if (j->verify)
		j->ok = auth_password_verify(j->stored, j->pw, j->pwlen);
	else
		j->rc = auth_password_hash(j->pw, j->pwlen, j->out);
}

/* On the loop thread, outside any turn: hand the job to the actor. */
static void
docs_hash_after(uv_work_t *wk, int status)
{
	(void)status;
	struct docs_hashjob *j = container_of(wk, struct docs_hashjob, work);
	struct msg *m =
		actor_local_msg(j->sys, ACTOR_DOCS, MSG_DOCS_DONE, NULL, 0);
	m->ptr = j;
	m->ptr_free = docs_job_free;
	actor_sys_deliver(j->sys, m);
}

/* ---------------------------------------------------------- answers */

static void
docs_send(struct docs *d, struct actor_ref from, uint64_t corr,
	  uint16_t flags, int status, const char *body, size_t len,
	  const char *user)
{
	if (!(flags & MSG_F_REQUEST))
		return;
	if (d->in_request && d->again)
		return; /* a run in vain: the request runs again */
	char down[PERR_JSON_MAX];
	if (d->in_request && d->store_down) {
		struct perr e;
		if (d->read_err == MIST_E2BIG) {
			d->st.read_too_big++;
			perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
				 "the request reads more of the document "
				 "store than one request may hold; narrow it");
		} else {
			perr_set(&e, 503, PERR_CONNECTION_FAILED,
				 "the document store is unreachable; retry "
				 "later");
		}
		len = perr_json(&e, down, sizeof(down));
		body = down;
		status = e.http;
		d->st.store_errors++;
	}
	struct buf b = BUF_INIT;
	buf_reserve(&b, len + DOCS_ID_MAX + 16); /* one allocation */
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint16(&pk, (uint16_t)status);
	msgpack_pack_bin(&pk, len);
	msgpack_pack_bin_body(&pk, body, len);
	mp_pack_str(&pk, user ? user : "");
	struct msg hdr;
	memset(&hdr, 0, sizeof(hdr));
	hdr.flags = flags;
	hdr.corr = corr;
	hdr.from = from;
	actor_reply(d->self, &hdr, MSG_ACC_REQUEST, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

static void
docs_answer_err(struct docs_req *rq, const struct perr *e)
{
	char out[PERR_JSON_MAX];
	size_t n = perr_json(e, out, sizeof(out));
	docs_send(rq->d, rq->from, rq->corr, rq->flags, e->http, out, n,
		  rq->user);
}

/* Answers @a j (stolen). */
static void
docs_answer(struct docs_req *rq, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL) {
		struct perr e;
		perr_set(&e, 500, PERR_INTERNAL_SERVER_ERROR,
			 "cannot encode the answer");
		docs_answer_err(rq, &e);
		return;
	}
	docs_send(rq->d, rq->from, rq->corr, rq->flags, status, s, strlen(s),
		  rq->user);
	free(s);
}

static bool
docs_expired(struct docs_req *rq, struct perr *e)
{
	if (rq->deadline == 0 || docs_now_ns(rq->d) <= rq->deadline)
		return false;
	rq->d->st.refused_deadline++;
	perr_set(e, 504, PERR_TIMEOUT,
		 "the request's deadline passed before it was done");
	return true;
}

/* ------------------------------------------------------------ usage */

static struct docs_usage *
docs_usage_of(struct docs *d, const char *app)
{
	uint64_t h = docs_hash(0, app, strlen(app));
	struct docs_usage *u = map_get(&d->usage, h);
	for (; u; u = u->next)
		if (strcmp(u->app, app) == 0)
			return u;
	u = xcalloc(1, sizeof(*u));
	snprintf(u->app, sizeof(u->app), "%s", app);
	struct buf k = BUF_INIT, v = BUF_INIT;
	docs_kmeta(&k, 'q', app, NULL, NULL);
	int rc = docs_read(d, DOCS_T_META, &k, &v);
	if (rc == 0 && v.len < 24) {
		char tmp[24];
		memcpy(tmp, v.data, v.len);
		tmp[v.len] = 0;
		u->used = strtoull(tmp, NULL, 10);
	}
	buf_destroy(&k);
	buf_destroy(&v);
	if (rc == DOCS_AGAIN) {
		/* not known yet: not kept (the run comes to nothing) */
		d->usage_scratch = *u;
		free(u);
		return &d->usage_scratch;
	}
	u->next = map_get(&d->usage, h);
	map_put(&d->usage, h, u);
	return u;
}

/*
 * Queues @a g for @a app (adding the usage record if it changed) with
 * @a w, handed back by MSG_DOCS_DONE once durable.  Sets the overlay for
 * every put and delete of objects and records.
 */
static void
docs_queue(struct docs *d, const char *app, struct docs_group *g,
	   struct docs_pending *w)
{
	struct docs_usage *u = docs_usage_of(d, app);
	if (g->delta != 0) {
		int64_t nu = (int64_t)u->used + g->delta;
		u->used = nu < 0 ? 0 : (uint64_t)nu;
		char num[24];
		int n = snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)u->used);
		struct buf k = BUF_INIT;
		docs_kmeta(&k, 'q', app, NULL, NULL);
		docs_group_put(g, DOCS_T_META, &k, num, (size_t)n);
		buf_destroy(&k);
	}
	w->sys = d->self->sys;
	struct docs_op *ops = docs_group_ops(g);
	for (uint32_t i = 0; i < g->n; i++) {
		uint8_t t = (uint8_t)ops[i].table;
		uint32_t kl = (uint32_t)ops[i].klen;
		if (ops[i].kind == DOCS_DEL_PREFIX) {
			docs_ov_del_prefix(d, t, ops[i].key, ops[i].klen,
					   &w->keys);
			/* dropped now and again once durable (docs_unpin_all) */
			docs_cache_forget(d, t, ops[i].key, kl, true);
			buf_append(&w->prefixes, &t, 1);
			buf_append(&w->prefixes, &kl, sizeof(kl));
			buf_append(&w->prefixes, ops[i].key, kl);
			continue;
		}
		if (ops[i].table == DOCS_T_IDX)
			continue; /* index entries are read by scans only */
		docs_cache_forget(d, t, ops[i].key, kl, false);
		docs_ov_set(d, t, ops[i].key, ops[i].klen, ops[i].val,
			    ops[i].vlen, ops[i].kind == DOCS_DEL);
		buf_append(&w->keys, &t, 1);
		buf_append(&w->keys, &kl, sizeof(kl));
		buf_append(&w->keys, ops[i].key, kl);
	}
	if (d->shared && d->in_request)
		docs_rset_expect(d, ops, g->n);
	d->pending++;
	d->st.writes++;
	w->seq = ++d->q_seq;
	if (d->in_request)
		d->queued = true;
	d->drv->vt->write(d->drv, ops, g->n, docs_durable_cb, w);
	if (d->shared && d->in_request)
		docs_rset_written(d, ops, g->n);
}

/* What runs @a rq again (a conflict, or a fetch it waits for): its
 * message, its hash's result if it had one, its deadline. */
static struct docs_retry *
docs_retry_of(const struct docs_req *rq)
{
	struct docs_retry *rt = xcalloc(1, sizeof(*rt));
	const struct msg *m = rq->msg;
	rt->req = msg_new(m->type, m->body, m->len);
	rt->req->flags = m->flags;
	rt->req->corr = m->corr;
	rt->req->from = m->from;
	rt->req->to = m->to;
	if (rq->job != NULL) {
		rt->job = xmalloc(sizeof(*rt->job));
		*rt->job = *rq->job;
		rt->job->req = NULL;
		rt->job->pw = NULL;
		rt->job->pwlen = 0;
	}
	rt->deadline = rq->deadline;
	rt->attempt = rq->attempt;
	return rt;
}

/* Queues @a g and answers @a body (stolen) with @a status once durable. */
static void
docs_commit(struct docs_req *rq, struct docs_group *g, int status,
	    json_t *body)
{
	/* the usage record docs_queue adds to: read first, so a fetch it
	 * needs makes this run one in vain before anything is queued */
	(void)docs_usage_of(rq->d, rq->app);
	if (rq->d->pending >= rq->d->cfg.pending_max) {
		json_decref(body);
		rq->d->st.refused_busy++;
		struct perr e;
		perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
			 "%u writes wait for the disk; retry later",
			 rq->d->cfg.pending_max);
		docs_answer_err(rq, &e);
		return;
	}
	if (rq->d->store_down) { /* answered 503 by docs_send */
		json_decref(body);
		docs_answer_err(rq, &(struct perr){.http = 503});
		return;
	}
	struct docs_pending *w = xcalloc(1, sizeof(*w));
	if (rq->d->shared) /* kept to re-run it should another agent win */
		w->retry = docs_retry_of(rq);
	w->kind = DOCS_JOB_GROUP;
	w->from = rq->from;
	w->corr = rq->corr;
	w->flags = rq->flags;
	w->reply = true;
	w->status = status;
	w->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	snprintf(w->user, sizeof(w->user), "%s", rq->user);
	docs_queue(rq->d, rq->app, g, w);
}

/*
 * A group is durable (or failed): its overlay entries go, and every key
 * it wrote leaves the cache again -- a read since it was queued may have
 * cached the store's old value of a key under one of its prefix deletes
 * (exact keys were in the overlay, hence not cached; dropped anyway).
 */
static void
docs_unpin_all(struct docs *d, struct docs_pending *w)
{
	docs_cache_drop_list(d, &w->keys, false);
	docs_cache_drop_list(d, &w->prefixes, true);
	if (w->keys.len == 0)
		return;
	const uint8_t *p = w->keys.data, *end = p + w->keys.len;
	while (p + 5 <= end) {
		uint8_t t = p[0];
		uint32_t kl;
		memcpy(&kl, p + 1, sizeof(kl));
		p += 5;
		if (p + kl > end)
			break;
		docs_ov_unpin(d, t, p, kl);
		p += kl;
	}
}

static bool
docs_quota_ok(struct docs_req *rq, int64_t delta, struct perr *e)
{
	if (rq->quota == 0 || delta <= 0)
		return true;
	struct docs_usage *u = docs_usage_of(rq->d, rq->app);
	if (u->used + (uint64_t)delta <= rq->quota)
		return true;
	rq->d->st.refused_quota++;
	perr_set(e, 403, PERR_EXCEEDED_QUOTA,
		 "the app's storage quota (%llu bytes) is used up",
		 (unsigned long long)rq->quota);
	return false;
}

/* ------------------------------------------------- sessions and roles */

/* The session record of @a token: {"sid", "user", "exp"} (new ref). */
static json_t *
docs_session_of(struct docs *d, const char *app, const char *token)
{
	uint8_t h[AUTH_TOKEN_HASH];
	auth_token_hash(token, h);
	struct buf k = BUF_INIT;
	docs_kmeta(&k, 't', app, NULL, NULL);
	buf_append(&k, h, sizeof(h));
	/* cached: every write of a 't' key (logout, revocation, a session
	 * or user deleted, DROP_APP) goes through docs_queue, which drops
	 * it; the expiry is checked by the caller on every use.  Unknown
	 * tokens are not cached: a client could fill the cache with them. */
	json_t *j = docs_read_cached(d, DOCS_T_META, &k, false, NULL);
	buf_destroy(&k);
	return j;
}

/* Finds the caller's user from its session.  0, or -1 with @a e (209). */
static int
docs_resolve_session(struct docs_req *rq, struct perr *e)
{
	rq->who.master = rq->master;
	if (rq->session[0] == 0)
		return 0;
	json_t *s = docs_session_of(rq->d, rq->app, rq->session);
	const char *u = docs_jstr(s, "user"), *sid = docs_jstr(s, "sid");
	json_int_t exp = json_integer_value(json_object_get(s, "exp"));
	if (u == NULL || sid == NULL || exp < docs_wall_ms()) {
		json_decref(s);
		perr_set(e, 400, PERR_INVALID_SESSION_TOKEN,
			 "Invalid session token");
		return -1;
	}
	docs_copy(rq->user, sizeof(rq->user), u);
	docs_copy(rq->sid, sizeof(rq->sid), sid);
	rq->who.user = rq->user;
	json_decref(s);
	return 0;
}

struct docs_scan_roles {
	json_t *objs;
	uint32_t n;
	bool over;
};

static int
docs_roles_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl;
	struct docs_scan_roles *r = arg;
	if (r->n >= AUTH_ROLES_MAX) {
		r->over = true;
		return 1;
	}
	json_t *j = json_loadb(v, vl, 0, NULL);
	if (j != NULL) {
		json_array_append_new(r->objs, j);
		r->n++;
	}
	return 0;
}

/* Strings of the array @a a into a new vector (pointers into @a a). */
static const char **
docs_strv(const json_t *a, uint32_t *n)
{
	size_t len = json_is_array(a) ? json_array_size(a) : 0;
	const char **v = xcalloc(len + 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		const json_t *s = json_array_get(a, i);
		if (json_is_string(s))
			v[(*n)++] = json_string_value(s);
	}
	return v;
}

/* Loads the caller's roles (once per request). */
static void
docs_load_roles(struct docs_req *rq)
{
	if (rq->roles_loaded || rq->who.master || rq->user[0] == 0)
		return;
	rq->roles_loaded = true;
	struct docs_scan_roles r = {NULL, 0, false};
	/* the app's roles: cached (a shared array; docs_cache_forget drops
	 * it on every _Role write), or scanned from the store */
	struct docs_cache *c = &rq->d->cache;
	size_t al = strlen(rq->app);
	const struct docs_cache_ent *ce =
		docs_cache_get(c, DOCS_CT_ROLES, rq->app, al);
	if (ce != NULL && json_is_array(ce->val)) {
		r.objs = json_incref(ce->val);
		r.n = (uint32_t)json_array_size(r.objs);
	} else {
		r.objs = json_array();
		struct buf k = BUF_INIT, hi = BUF_INIT;
		docs_kobj(&k, rq->app, "_Role", NULL);
		buf_append(&hi, k.data, k.len);
		hi.data[hi.len - 1] = 1; /* just past the class prefix */
		int src = docs_drv_scan(rq->d, DOCS_T_OBJ, k.data,
					       k.len, hi.data, hi.len, false,
					       docs_roles_cb, &r);
		buf_destroy(&k);
		buf_destroy(&hi);
		if (r.over)
			log_warn("docs: app %s has more than %d roles; roles "
				 "past it are not granted",
				 rq->app, AUTH_ROLES_MAX);
		if (src == 0)
			docs_cache_put(c, DOCS_CT_ROLES, rq->app, al,
				       json_incref(r.objs), NULL, 0, false);
	}
	struct auth_role *all = xcalloc(r.n + 1, sizeof(*all));
	for (uint32_t i = 0; i < r.n; i++) {
		json_t *o = json_array_get(r.objs, i);
		all[i].name = docs_jstr(o, "name");
		all[i].users = docs_strv(json_object_get(o, "users"),
					 &all[i].nusers);
		all[i].roles = docs_strv(json_object_get(o, "roles"),
					 &all[i].nroles);
	}
	rq->rolev = xcalloc(r.n + 1, sizeof(*rq->rolev));
	rq->who.nroles =
		auth_role_closure(all, r.n, rq->user, rq->rolev, r.n + 1);
	rq->who.roles = rq->rolev;
	for (uint32_t i = 0; i < r.n; i++) {
		free((void *)all[i].users);
		free((void *)all[i].roles);
	}
	free(all);
	rq->role_objs = r.objs;
}

/* Loads the caller's roles if @a perm (an ACL or CLP) names any. */
static void
docs_need_roles(struct docs_req *rq, const json_t *perm)
{
	if (!rq->roles_loaded && auth_mentions_roles(perm))
		docs_load_roles(rq);
}

/* The readers a caller queries an _rperm index for: "*", its user id and
 * "role:Name" for each of its roles; false if more than @a max. */
static bool
docs_caller_readers(struct docs_req *rq, char (*out)[DOCS_INDEX_NAME_MAX + 8],
		    uint32_t max, uint32_t *n)
{
	*n = 0;
	if (max < 2)
		return false;
	snprintf(out[(*n)++], sizeof(out[0]), "*");
	if (rq->user[0] == 0)
		return true;
	snprintf(out[(*n)++], sizeof(out[0]), "%s", rq->user);
	docs_load_roles(rq);
	for (uint32_t i = 0; i < rq->who.nroles; i++) {
		if (*n >= max)
			return false;
		int w = snprintf(out[*n], sizeof(out[0]), "role:%s",
				 rq->who.roles[i]);
		if (w < 0 || (size_t)w >= sizeof(out[0]))
			return false; /* a name no index entry can match */
		(*n)++;
	}
	return true;
}

static bool
docs_acl_ok(struct docs_req *rq, const json_t *obj, bool write)
{
	const json_t *acl = json_object_get(obj, "ACL");
	docs_need_roles(rq, acl);
	return auth_acl_allows(acl, &rq->who, write);
}

/* ------------------------------------------------------------ schemas */

/* The schema of @a cls: a new reference to a SHARED tree (the cache's):
 * change a json_deep_copy of it, never it.  NULL if the class has none.
 * Every write of an 's' key (docs_schema_put: inference, SCHEMA_PUT,
 * index builds; SCHEMA_DELETE; DROP_APP) goes through docs_queue, which
 * drops it from the cache. */
static json_t *
docs_schema_load(struct docs *d, const char *app, const char *cls)
{
	struct buf k = BUF_INIT;
	docs_kmeta(&k, 's', app, cls, NULL);
	json_t *j = docs_read_cached(d, DOCS_T_META, &k, true, NULL);
	buf_destroy(&k);
	return j;
}

/* Adds the put of @a schema to @a g, counting the size change. */
static void
docs_schema_put(struct docs *d, struct docs_group *g, const char *app,
		const char *cls, const json_t *schema)
{
	struct buf k = BUF_INIT, old = BUF_INIT;
	docs_kmeta(&k, 's', app, cls, NULL);
	char *txt = json_dumps(schema, JSON_COMPACT);
	size_t n = strlen(txt);
	if (docs_read(d, DOCS_T_META, &k, &old) == 0)
		g->delta -= (int64_t)(k.len + old.len);
	docs_group_put(g, DOCS_T_META, &k, txt, n);
	g->delta += (int64_t)(k.len + n);
	free(txt);
	buf_destroy(&k);
	buf_destroy(&old);
}

static const json_t *
docs_clp(const json_t *schema)
{
	const json_t *c = json_object_get(schema, "classLevelPermissions");
	return json_is_object(c) ? c : NULL;
}

/* CLP check; 0, or -1 with @a e (119). */
static int
docs_clp_check(struct docs_req *rq, const json_t *schema, const char *cls,
	       const char *op, struct perr *e)
{
	const json_t *clp = docs_clp(schema);
	docs_need_roles(rq, clp);
	if (auth_clp_allows(clp, &rq->who, op))
		return 0;
	rq->d->st.refused_clp++;
	perr_set(e, 400, PERR_OPERATION_FORBIDDEN,
		 "Permission denied for action %s on class %s.", op, cls);
	return -1;
}

static bool
docs_system_class(const char *cls)
{
	return cls[0] == '_';
}

/* Parse's type of a stored field description {"type", "targetClass"}. */
static json_t *
docs_field_desc(const json_t *v)
{
	const char *t = doc_type_name(v);
	if (t == NULL)
		return NULL;
	json_t *f = json_pack("{s:s}", "type", t);
	if (strcmp(t, "Pointer") == 0 || strcmp(t, "Relation") == 0) {
		const char *c = docs_jstr(v, "className");
		if (c)
			json_object_set_new(f, "targetClass", json_string(c));
	}
	return f;
}

/*
 * Checks @a obj's fields against the schema @a *schema (NULL: the class is
 * new), adding new fields.  On success *schema is the schema to keep (a
 * new one if it changed: *changed) -- the caller owns it.  0, or -1 with
 * @a e (111 type, 119 class or field creation refused).
 */
static int
docs_schema_apply(struct docs_req *rq, const char *cls, json_t **schema,
		  const json_t *obj, bool *changed, struct perr *e)
{
	*changed = false;
	json_t *s = *schema;
	if (s == NULL) {
		if (!rq->master && !rq->create_classes &&
		    !docs_system_class(cls)) {
			rq->d->st.refused_clp++;
			perr_set(e, 400, PERR_OPERATION_FORBIDDEN,
				 "This user is not allowed to access "
				 "non-existent class: %s",
				 cls);
			return -1;
		}
		s = json_pack("{s:s,s:{}}", "className", cls, "fields");
		*schema = s;
		*changed = true;
	}
	json_t *fields = json_object_get(s, "fields");
	if (!json_is_object(fields))
		fields = NULL; /* none yet: made when a field is added */
	const char *k;
	json_t *v;
	bool clp_checked = false;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (docs_is_reserved(k) || k[0] == '_' || json_is_null(v))
			continue;
		json_t *want = docs_field_desc(v);
		if (want == NULL) {
			rq->d->st.refused_schema++;
			perr_set(e, 400, PERR_INCORRECT_TYPE,
				 "invalid value for %s.%s", cls, k);
			return -1;
		}
		json_t *have = fields ? json_object_get(fields, k) : NULL;
		if (have != NULL) {
			const char *ht = docs_jstr(have, "type"),
				   *wt = docs_jstr(want, "type");
			const char *hc = docs_jstr(have, "targetClass"),
				   *wc = docs_jstr(want, "targetClass");
			bool same = ht && wt && strcmp(ht, wt) == 0 &&
				    (!hc || !wc || strcmp(hc, wc) == 0);
			if (!same) {
				rq->d->st.refused_schema++;
				perr_set(e, 400, PERR_INCORRECT_TYPE,
					 "schema mismatch for %s.%s; expected "
					 "%s but got %s",
					 cls, k, ht ? ht : "?", wt);
				json_decref(want);
				return -1;
			}
			json_decref(want);
			continue;
		}
		if (!*changed && !clp_checked) {
			/* a field added to an existing class: addField */
			if (docs_clp_check(rq, s, cls, "addField", e) != 0) {
				json_decref(want);
				return -1;
			}
			clp_checked = true;
		}
		if (fields && json_object_size(fields) >= DOCS_MAX_FIELDS) {
			json_decref(want);
			perr_set(e, 400, PERR_INCORRECT_TYPE,
				 "class %s has %d fields, the most a class "
				 "may have",
				 cls, DOCS_MAX_FIELDS);
			return -1;
		}
		if (!*changed) {
			/* copy before changing: the loaded one is shared
			 * (docs_schema_load: the cache's) */
			json_t *c = json_deep_copy(s);
			json_decref(s);
			s = c;
			*schema = s;
			*changed = true;
		}
		fields = json_object_get(s, "fields");
		if (!json_is_object(fields)) {
			fields = json_object();
			json_object_set_new(s, "fields", fields);
		}
		json_object_set_new(fields, k, want);
	}
	return 0;
}

/* The schema as Parse answers it (default fields added, internals out). */
static json_t *
docs_schema_out(const json_t *s)
{
	json_t *o = json_deep_copy(s);
	json_object_del(o, "_ix");
	json_t *f = json_object_get(o, "fields");
	if (!json_is_object(f)) {
		f = json_object();
		json_object_set_new(o, "fields", f);
	}
	json_object_set_new(f, "objectId", json_pack("{s:s}", "type", "String"));
	json_object_set_new(f, "createdAt", json_pack("{s:s}", "type", "Date"));
	json_object_set_new(f, "updatedAt", json_pack("{s:s}", "type", "Date"));
	json_object_set_new(f, "ACL", json_pack("{s:s}", "type", "ACL"));
	const char *cls = docs_jstr(o, "className");
	if (cls && strcmp(cls, "_User") == 0) {
		json_object_set_new(f, "username",
				    json_pack("{s:s}", "type", "String"));
		json_object_set_new(f, "password",
				    json_pack("{s:s}", "type", "String"));
		json_object_set_new(f, "email",
				    json_pack("{s:s}", "type", "String"));
	}
	if (!json_is_object(json_object_get(o, "classLevelPermissions")))
		json_object_set_new(
			o, "classLevelPermissions",
			json_pack("{s:{s:b},s:{s:b},s:{s:b},s:{s:b},s:{s:b},"
				  "s:{s:b},s:{s:b},s:{}}",
				  "find", "*", 1, "count", "*", 1, "get", "*",
				  1, "create", "*", 1, "update", "*", 1,
				  "delete", "*", 1, "addField", "*", 1,
				  "protectedFields"));
	if (!json_is_object(json_object_get(o, "indexes")))
		json_object_set_new(o, "indexes", json_object());
	return o;
}

/* ------------------------------------------------------------ indexes */

struct docs_index {
	const char *name;
	uint32_t nf;
	const char *field[DOCS_INDEX_FIELDS];
	bool desc[DOCS_INDEX_FIELDS];
	bool ready;
};

static uint32_t
docs_indexes(const json_t *schema, struct docs_index *out, uint32_t max)
{
	const json_t *ix = json_object_get(schema, "indexes");
	const json_t *st = json_object_get(schema, "_ix");
	uint32_t n = 0;
	const char *name;
	json_t *spec;
	if (!json_is_object(ix))
		return 0;
	json_object_foreach((json_t *)ix, name, spec)
	{
		if (n >= max || !json_is_object(spec))
			continue;
		struct docs_index *x = &out[n];
		memset(x, 0, sizeof(*x));
		x->name = name;
		const char *f;
		json_t *dir;
		json_object_foreach(spec, f, dir)
		{
			if (x->nf < DOCS_INDEX_FIELDS) {
				x->field[x->nf] = f;
				x->desc[x->nf] = json_number_value(dir) < 0;
				x->nf++;
			}
		}
		const char *state = docs_jstr(st, name);
		x->ready = state && strcmp(state, "ready") == 0;
		if (x->nf > 0)
			n++;
	}
	return n;
}

/* app \0 cls \0 name \0 */
static void
docs_kidx(struct buf *k, const char *app, const char *cls, const char *name)
{
	k->len = 0;
	docs_kadd(k, app, true);
	docs_kadd(k, cls, true);
	docs_kadd(k, name, true);
}

/*
 * The ACL index: an index whose first field is "_rperm" holds one entry
 * per READER of an object -- "*" when anyone may read it (no ACL, or
 * "*": read), each user id and "role:Name" its ACL lets read -- so a
 * caller's query scans the entries of its own readers ("*", itself, its
 * roles) and meets only what it may read (parse-server keeps _rperm as an
 * array field, and a single-field index on it cannot be combined with
 * the query's own fields: parse-server #2682).  Master-only objects ({}
 * ACL) have no entry; the master key never uses such an index.
 */
static bool
docs_is_rperm(const struct docs_index *ix)
{
	return ix->nf > 0 && strcmp(ix->field[0], "_rperm") == 0;
}

/* The readers of @a obj (pointers into it), at most @a max; returns how
 * many there are (more than @a max: the caller refuses). */
static uint32_t
docs_readers(const json_t *obj, const char **out, uint32_t max)
{
	const json_t *acl = json_object_get(obj, "ACL");
	if (!json_is_object(acl)) {
		if (max > 0)
			out[0] = "*";
		return 1;
	}
	uint32_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)acl, k, v)
	{
		if (!json_is_true(json_object_get(v, "read")))
			continue;
		if (n < max)
			out[n] = k;
		n++;
	}
	return n;
}

/* The entry of @a obj in @a ix for @a reader (NULL: not an _rperm index). */
static void
docs_index_entry1(struct buf *k, const char *app, const char *cls,
		  const struct docs_index *ix, const json_t *obj,
		  const char *reader)
{
	docs_kidx(k, app, cls, ix->name);
	uint32_t i = 0;
	if (reader != NULL) {
		json_t *r = json_string(reader);
		query_key_encode(r, k);
		json_decref(r);
		i = 1;
	}
	for (; i < ix->nf; i++)
		query_key_encode_doc(obj, ix->field[i], k);
	const char *id = docs_jstr(obj, "objectId");
	docs_kadd(k, id ? id : "", false);
}

/*
 * Every entry of @a obj in @a ix, appended to @a out as [u32 len][key]...;
 * returns how many (one, or one per reader for an _rperm index).  An ACL
 * with more readers than DOCS_RPERM_MAX gets ONE entry, under "*", and
 * *over set: every caller's scan reads "*", and the ACL check after the
 * scan keeps only those who may read it -- a wide ACL costs its readers
 * a look, never a missing result.
 */
static uint32_t
docs_index_keys(struct buf *out, const char *app, const char *cls,
		const struct docs_index *ix, const json_t *obj, bool *over)
{
	struct buf k = BUF_INIT;
	const char *rd[DOCS_RPERM_MAX];
	uint32_t n = 1;
	bool rp = docs_is_rperm(ix);
	if (rp) {
		n = docs_readers(obj, rd, DOCS_RPERM_MAX);
		if (n > DOCS_RPERM_MAX) {
			if (over)
				*over = true;
			rd[0] = "*";
			n = 1;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		k.len = 0;
		docs_index_entry1(&k, app, cls, ix, obj, rp ? rd[i] : NULL);
		uint32_t l = (uint32_t)k.len;
		buf_append(out, &l, sizeof(l));
		buf_append(out, k.data, k.len);
	}
	buf_destroy(&k);
	return n;
}

/* Walks a list docs_index_keys made: the next key, or false at its end. */
static bool
docs_keys_next(const struct buf *list, size_t *at, const uint8_t **key,
	       size_t *klen)
{
	uint32_t l;
	if (*at + sizeof(l) > list->len)
		return false;
	memcpy(&l, list->data + *at, sizeof(l));
	*key = list->data + *at + sizeof(l);
	*klen = l;
	*at += sizeof(l) + l;
	return true;
}

static bool
docs_keys_has(const struct buf *list, const uint8_t *key, size_t klen)
{
	size_t at = 0;
	const uint8_t *k;
	size_t kl;
	while (docs_keys_next(list, &at, &k, &kl))
		if (kl == klen && memcmp(k, key, kl) == 0)
			return true;
	return false;
}

/*
 * Index entries at most DOCS_INDEX_KEY_MAX bytes: LMDB refuses keys past
 * its maximum (511 bytes as Debian builds it), which would fail the whole
 * write group with a store error.  A value too long to index is refused
 * at the write, naming the field's index, before anything is queued.
 */
#define DOCS_INDEX_KEY_MAX 480

/* 0, or -1 with @a e if an entry of @a obj exceeds DOCS_INDEX_KEY_MAX
 * (a wide ACL is no error: docs_index_keys files it under "*"). */
static int
docs_index_fits(const char *app, const char *cls, const json_t *schema,
		const json_t *obj, struct perr *e)
{
	struct docs_index ix[DOCS_MAX_INDEXES];
	uint32_t n = docs_indexes(schema, ix, DOCS_MAX_INDEXES);
	struct buf list = BUF_INIT;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		list.len = 0;
		docs_index_keys(&list, app, cls, &ix[i], obj, NULL);
		size_t at = 0, kl;
		const uint8_t *k;
		while (rc == 0 && docs_keys_next(&list, &at, &k, &kl))
			if (kl > DOCS_INDEX_KEY_MAX) {
				perr_set(e, 400, PERR_OBJECT_TOO_LARGE,
					 "a value is too long for index %s "
					 "(its entry is %zu bytes, at most %d)",
					 ix[i].name, kl, DOCS_INDEX_KEY_MAX);
				rc = -1;
			}
	}
	buf_destroy(&list);
	return rc;
}

/* ------------------------------------------------- index statistics */

static uint64_t
docs_ixrt_hash(const char *app, const char *cls, const char *name)
{
	struct buf k = BUF_INIT;
	docs_kidx(&k, app, cls, name);
	uint64_t h = docs_hash(0x41, k.data, k.len);
	buf_destroy(&k);
	return h;
}

/* The statistics of index @a name of @a cls (created if @a make). */
static struct docs_ixrt *
docs_ixrt_get(struct docs *d, const char *app, const char *cls,
	      const char *name, bool make)
{
	uint64_t h = docs_ixrt_hash(app, cls, name);
	struct docs_ixrt *r = map_get(&d->ixrt, h);
	for (; r; r = r->next)
		if (strcmp(r->app, app) == 0 && strcmp(r->cls, cls) == 0 &&
		    strcmp(r->name, name) == 0)
			return r;
	if (!make)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	snprintf(r->app, sizeof(r->app), "%s", app);
	snprintf(r->cls, sizeof(r->cls), "%s", cls);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->next = map_get(&d->ixrt, h);
	map_put(&d->ixrt, h, r);
	docs_usage_of(d, app)->ix_gen++; /* an index more */
	return r;
}

static void
docs_ixrt_free(struct docs *d, struct docs_ixrt *r)
{
	docs_usage_of(d, r->app)->ix_gen++; /* an index less */
	uint64_t h = docs_ixrt_hash(r->app, r->cls, r->name);
	struct docs_ixrt *head = map_get(&d->ixrt, h);
	if (head == r) {
		if (r->next)
			map_put(&d->ixrt, h, r->next);
		else
			map_del(&d->ixrt, h);
	} else {
		for (struct docs_ixrt *p = head; p; p = p->next)
			if (p->next == r) {
				p->next = r->next;
				break;
			}
	}
	free(r);
}

static json_t *
docs_ixrt_json(const struct docs_ixrt *r)
{
	return json_pack("{s:b,s:b,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "auto",
			 r->is_auto, "counted", r->counted, "created",
			 (json_int_t)r->created_ms, "reason", r->reason,
			 "shape", r->shape, "hits", (json_int_t)r->hits,
			 "saved", (json_int_t)r->saved, "wpq",
			 (json_int_t)r->wpq, "entries", (json_int_t)r->entries,
			 "bytes", (json_int_t)r->bytes);
}

/* Adds the put of @a r's record to @a g (not counted in the quota: a few
 * dozen bytes per index, the accessory's own bookkeeping). */
static void
docs_ixrt_put(struct docs_group *g, struct docs_ixrt *r)
{
	struct buf k = BUF_INIT;
	docs_kmeta(&k, 'A', r->app, r->cls, r->name);
	json_t *j = docs_ixrt_json(r);
	char *txt = json_dumps(j, JSON_COMPACT);
	docs_group_put(g, DOCS_T_META, &k, txt, strlen(txt));
	free(txt);
	json_decref(j);
	buf_destroy(&k);
	r->dirty = false;
}

static void
docs_ixrt_del(struct docs_group *g, const struct docs_ixrt *r)
{
	struct buf k = BUF_INIT;
	docs_kmeta(&k, 'A', r->app, r->cls, r->name);
	docs_group_del(g, DOCS_T_META, &k);
	buf_destroy(&k);
}

static void docs_ixstat_arm(struct docs *d);

/* The clock of shapes' windows and recent savings (ns). */
static uint64_t
docs_auto_now(struct docs *d)
{
	if (d->cfg.auto_clock_ns != NULL)
		return d->cfg.auto_clock_ns(d->cfg.auto_clock_ctx);
	return actor_sys_hrtime(d->self->sys);
}

/* @a r's windows moved to now. */
static void
docs_ixrt_roll(struct docs *d, struct docs_ixrt *r)
{
	uint64_t now = docs_auto_now(d), w = d->cfg.autoix.window_ns;
	if (now - r->win_start <= w)
		return;
	r->prev_saved = now - r->win_start <= 2 * w ? r->win_saved : 0;
	r->win_saved = 0;
	r->win_start = now;
}

/* What eviction weighs: @a r's savings in this window and the last. */
static uint64_t
docs_ixrt_worth(struct docs *d, struct docs_ixrt *r)
{
	docs_ixrt_roll(d, r);
	return r->win_saved + r->prev_saved;
}
static void docs_ixrt_recount(struct docs *d, struct docs_ixrt *r);
static void docs_auto_enforce(struct docs *d, const char *app);
static void docs_index_remove(struct docs *d, struct docs_group *g, json_t *ns,
			      const char *app, const char *cls,
			      const char *name);
static bool docs_index_same(const struct docs_index *x, const char **f,
			    const bool *dsc, uint32_t n);

/* Forgets the statistics of every index of @a app (of @a cls only if not
 * NULL), adding the removal of their records to @a g (if not NULL). */
static void
docs_ixrt_forget(struct docs *d, struct docs_group *g, const char *app,
		 const char *cls)
{
	for (;;) {
		struct docs_ixrt *hit = NULL;
		size_t it = 0;
		uint64_t k;
		void *v;
		while (hit == NULL && map_next(&d->ixrt, &it, &k, &v))
			for (struct docs_ixrt *r = v; r && !hit; r = r->next)
				if (strcmp(r->app, app) == 0 &&
				    (cls == NULL || strcmp(r->cls, cls) == 0))
					hit = r;
		if (hit == NULL)
			return;
		if (g != NULL)
			docs_ixrt_del(g, hit);
		docs_ixrt_free(d, hit);
	}
}

/* Adds to @a g what changes in the indexes of @a schema when @a old
 * becomes @a new (either may be NULL), and follows their sizes. */
static void
docs_index_changes(struct docs *d, struct docs_group *g, const char *app,
		   const char *cls, const json_t *schema, const json_t *old,
		   const json_t *new)
{
	struct docs_index ix[DOCS_MAX_INDEXES];
	uint32_t n = docs_indexes(schema, ix, DOCS_MAX_INDEXES);
	struct buf a = BUF_INIT, b = BUF_INIT;
	for (uint32_t i = 0; i < n; i++) {
		a.len = b.len = 0;
		if (old)
			docs_index_keys(&a, app, cls, &ix[i], old, NULL);
		if (new)
			docs_index_keys(&b, app, cls, &ix[i], new, NULL);
		if (a.len == b.len && memcmp(a.data, b.data, a.len) == 0)
			continue;
		struct docs_ixrt *r = docs_ixrt_get(d, app, cls, ix[i].name,
						    false);
		size_t at = 0, kl;
		const uint8_t *kp;
		while (docs_keys_next(&a, &at, &kp, &kl)) {
			if (docs_keys_has(&b, kp, kl))
				continue;
			docs_group_add(g, DOCS_DEL, DOCS_T_IDX, kp, kl, NULL, 0);
			g->delta -= (int64_t)kl;
			if (r)
				r->entries--, r->bytes -= (int64_t)kl;
		}
		at = 0;
		while (docs_keys_next(&b, &at, &kp, &kl)) {
			if (docs_keys_has(&a, kp, kl))
				continue;
			docs_group_add(g, DOCS_PUT, DOCS_T_IDX, kp, kl, "", 0);
			g->delta += (int64_t)kl;
			if (r)
				r->entries++, r->bytes += (int64_t)kl;
		}
		if (r) {
			r->dirty = true;
			docs_ixstat_arm(d);
		}
	}
	buf_destroy(&a);
	buf_destroy(&b);
}

/* ------------------------------------------------------ object output */

/* What a client sees of a stored object (new ref): internals out,
 * protected fields out. */
static json_t *
docs_visible(struct docs_req *rq, const char *cls, const json_t *schema,
	     const json_t *obj)
{
	json_t *o = json_copy((json_t *)obj);
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(o, tmp, k, v)
	{
		(void)v;
		if (k[0] == '_')
			json_object_del(o, k);
	}
	const json_t *clp = docs_clp(schema);
	docs_need_roles(rq, json_object_get(clp, "protectedFields"));
	return auth_protected_strip(o, clp, &rq->who, cls);
}

/* True if @a obj has internal ('_') fields, which docs_visible removes. */
static bool
docs_has_internal(const json_t *obj)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		(void)v;
		if (k[0] == '_')
			return true;
	}
	return false;
}

/* True if docs_visible would hide protected fields of @a obj. */
static bool
docs_protects_any(struct docs_req *rq, const char *cls, const json_t *schema,
		  const json_t *obj)
{
	const json_t *clp = docs_clp(schema);
	docs_need_roles(rq, json_object_get(clp, "protectedFields"));
	return auth_protected_any(obj, clp, &rq->who, cls);
}

/* ------------------------------------------------ update operators */

static json_t *
docs_ops_objects(const json_t *op, const char *name, const char *cls,
		 const char *k, struct perr *e)
{
	json_t *objs = json_object_get(op, "objects");
	if (!json_is_array(objs)) {
		perr_set(e, 400, PERR_INVALID_JSON,
			 "%s on %s.%s needs an \"objects\" array", name, cls, k);
		return NULL;
	}
	return objs;
}

static bool
docs_array_has(const json_t *a, const json_t *v)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
	{
		if (json_equal(x, (json_t *)v))
			return true;
	}
	return false;
}

/* A relation member of _Role.users (a user id) or _Role.roles (a role
 * name), from a Pointer or a plain string.  New ref or NULL. */
static json_t *
docs_role_member(struct docs_req *rq, const char *k, const json_t *p)
{
	if (json_is_string(p))
		return json_copy((json_t *)p);
	const char *id = docs_jstr(p, "objectId");
	if (id == NULL || !docs_valid_id(id))
		return NULL;
	if (strcmp(k, "users") == 0)
		return json_string(id);
	/* a role: stored by name */
	struct buf key = BUF_INIT;
	docs_kobj(&key, rq->app, "_Role", id);
	json_t *r = docs_read_json(rq->d, DOCS_T_OBJ, &key);
	buf_destroy(&key);
	const char *name = docs_jstr(r, "name");
	json_t *out = name ? json_string(name) : NULL;
	json_decref(r);
	return out;
}

/*
 * Applies Parse's changes to @a obj in place: plain values set, and the
 * operations Increment, Add, AddUnique, Remove, Delete (and, on _Role's
 * users/roles, AddRelation/RemoveRelation).  The final values of operated
 * fields go into @a results (Parse answers them).  0 or -1 with @a e.
 */
static int
docs_apply_changes(struct docs_req *rq, const char *cls, json_t *obj,
		   const json_t *changes, json_t *results, struct perr *e)
{
	if (!json_is_object(changes)) {
		perr_set(e, 400, PERR_INVALID_JSON, "the changes are not an "
						    "object");
		return -1;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)changes, k, v)
	{
		if (strcmp(k, "createdAt") == 0 || strcmp(k, "updatedAt") == 0)
			continue; /* the accessory's to set, as Parse */
		if (strcmp(k, "objectId") == 0 || k[0] == '_' ||
		    strlen(k) == 0) {
			perr_set(e, 400, PERR_INVALID_KEY_NAME,
				 "%s is an invalid field name.", k);
			return -1;
		}
		const char *op = json_is_object(v) ? docs_jstr(v, "__op") : NULL;
		if (op == NULL) {
			json_object_set(obj, k, v);
			continue;
		}
		json_t *cur = json_object_get(obj, k);
		if (strcmp(op, "Delete") == 0) {
			json_object_del(obj, k);
			continue;
		}
		if (strcmp(op, "Increment") == 0) {
			json_t *amt = json_object_get(v, "amount");
			if (!json_is_number(amt)) {
				perr_set(e, 400, PERR_INVALID_JSON,
					 "Increment of %s needs a numeric "
					 "amount",
					 k);
				return -1;
			}
			json_t *nv;
			if (cur == NULL || json_is_null(cur))
				nv = json_copy(amt);
			else if (!json_is_number(cur)) {
				perr_set(e, 400, PERR_INCORRECT_TYPE,
					 "Cannot increment a non-number type "
					 "(%s.%s)",
					 cls, k);
				return -1;
			} else if (json_is_integer(cur) && json_is_integer(amt))
				nv = json_integer(json_integer_value(cur) +
						  json_integer_value(amt));
			else
				nv = json_real(json_number_value(cur) +
					       json_number_value(amt));
			json_object_set_new(obj, k, nv);
			json_object_set(results, k, nv);
			continue;
		}
		bool add = strcmp(op, "Add") == 0,
		     uniq = strcmp(op, "AddUnique") == 0,
		     rem = strcmp(op, "Remove") == 0,
		     arel = strcmp(op, "AddRelation") == 0,
		     rrel = strcmp(op, "RemoveRelation") == 0;
		if (!(add || uniq || rem || arel || rrel)) {
			perr_set(e, 400, PERR_INVALID_JSON,
				 "unknown operation %s on %s", op, k);
			return -1;
		}
		json_t *objs = docs_ops_objects(v, op, cls, k, e);
		if (objs == NULL)
			return -1;
		if (cur != NULL && !json_is_null(cur) && !json_is_array(cur)) {
			perr_set(e, 400, PERR_INCORRECT_TYPE,
				 "%s needs an array field, %s.%s is not", op,
				 cls, k);
			return -1;
		}
		if ((arel || rrel) &&
		    !(strcmp(cls, "_Role") == 0 &&
		      (strcmp(k, "users") == 0 || strcmp(k, "roles") == 0))) {
			perr_set(e, 400, PERR_INCORRECT_TYPE,
				 "relations are kept only by _Role (users, "
				 "roles); store an array of pointers instead");
			return -1;
		}
		json_t *arr = cur && json_is_array(cur) ? json_copy(cur)
							: json_array();
		size_t i;
		json_t *x;
		json_array_foreach(objs, i, x)
		{
			json_t *item = (arel || rrel)
					       ? docs_role_member(rq, k, x)
					       : json_incref(x);
			if (item == NULL) {
				json_decref(arr);
				perr_set(e, 400, PERR_INVALID_POINTER,
					 "%s on %s.%s: a member is not a "
					 "pointer to an existing object",
					 op, cls, k);
				return -1;
			}
			if (add) {
				json_array_append(arr, item);
			} else if (uniq || arel) {
				if (!docs_array_has(arr, item))
					json_array_append(arr, item);
			} else {
				for (size_t j = json_array_size(arr); j-- > 0;)
					if (json_equal(json_array_get(arr, j),
						       item))
						json_array_remove(arr, j);
			}
			json_decref(item);
		}
		json_object_set_new(obj, k, arr);
		if (!arel && !rrel)
			json_object_set(results, k, arr);
	}
	return 0;
}

/* ------------------------------------------------------------ users */

/*
 * Hands the request to the thread pool to hash @a pw (or verify it
 * against @a stored); it is handled again when done.  The caller then
 * answers nothing and changes nothing.
 */
static void
docs_defer_hash(struct docs_req *rq, const char *pw, size_t pwlen,
		const char *stored)
{
	rq->deferred = true;
	if (rq->d->again)
		return; /* a run in vain: hashed on the run that reads all */
	if (rq->d->hashing >= rq->d->cfg.hash_max) {
		rq->d->st.refused_busy++;
		struct perr e;
		perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
			 "%u password hashes are queued; retry later",
			 rq->d->cfg.hash_max);
		docs_answer_err(rq, &e);
		return;
	}
	rq->d->hashing++;
	struct docs_hashjob *j = xcalloc(1, sizeof(*j));
	j->kind = DOCS_JOB_HASH;
	j->sys = rq->d->self->sys;
	const struct msg *m = rq->msg;
	j->req = msg_new(m->type, m->body, m->len);
	j->req->flags = m->flags;
	j->req->corr = m->corr;
	j->req->from = m->from;
	j->req->to = m->to;
	j->deadline = rq->deadline;
	j->pw = xmalloc(pwlen + 1);
	memcpy(j->pw, pw, pwlen);
	j->pw[pwlen] = 0;
	j->pwlen = pwlen;
	if (stored) {
		j->verify = true;
		snprintf(j->stored, sizeof(j->stored), "%s", stored);
	}
	uv_queue_work(rq->d->loop, &j->work, docs_hash_work, docs_hash_after);
}

static bool
docs_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	return at && at != s && at[1] && strchr(at + 1, '.') &&
	       strchr(at + 1, '@') == NULL && strlen(s) <= 254;
}

/* Adds a new session of @a uid to @a g; @a token receives its token. */
static void
docs_session_add(struct docs_req *rq, struct docs_group *g, const char *uid,
		 const char *action, char token[AUTH_TOKEN_MAX])
{
	char sid[DOCS_ID_MAX], now[DOC_DATE_MAX], exp[DOC_DATE_MAX];
	int64_t ms;
	docs_new_id(sid);
	docs_iso_now(now, &ms);
	int64_t exp_ms = ms + (int64_t)rq->d->cfg.session_ttl_ms;
	doc_date_format(exp_ms, exp);
	auth_session_token_new(token);
	uint8_t h[AUTH_TOKEN_HASH];
	char hx[2 * AUTH_TOKEN_HASH + 1];
	auth_token_hash(token, h);
	hex_encode(hx, h, sizeof(h));
	json_t *s = json_pack(
		"{s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:s},s:{s:s,s:s},s:{s:{s:b,"
		"s:b}},s:s}",
		"objectId", sid, "createdAt", now, "updatedAt", now, "user",
		"__type", "Pointer", "className", "_User", "objectId", uid,
		"createdWith", "action", action, "expiresAt", "__type", "Date",
		"iso", exp, "ACL", uid, "read", 1, "write", 1, "_token", hx);
	if (rq->install[0])
		json_object_set_new(s, "installationId",
				    json_string(rq->install));
	char *txt = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	struct buf k = BUF_INIT;
	docs_kobj(&k, rq->app, "_Session", sid);
	docs_group_put(g, DOCS_T_OBJ, &k, txt, strlen(txt));
	g->delta += (int64_t)(k.len + strlen(txt));
	free(txt);
	json_t *rec = json_pack("{s:s,s:s,s:I}", "sid", sid, "user", uid, "exp",
				(json_int_t)exp_ms);
	txt = json_dumps(rec, JSON_COMPACT);
	json_decref(rec);
	docs_kmeta(&k, 't', rq->app, NULL, NULL);
	buf_append(&k, h, sizeof(h));
	docs_group_put(g, DOCS_T_META, &k, txt, strlen(txt));
	g->delta += (int64_t)(k.len + strlen(txt));
	free(txt);
	docs_kmeta(&k, 'S', rq->app, uid, sid);
	docs_group_put(g, DOCS_T_META, &k, h, sizeof(h));
	g->delta += (int64_t)(k.len + sizeof(h));
	buf_destroy(&k);
}

/* Removes session @a sid of @a uid (token hash @a h) in @a g. */
static void
docs_session_del(struct docs_req *rq, struct docs_group *g, const char *uid,
		 const char *sid, const uint8_t h[AUTH_TOKEN_HASH])
{
	struct buf k = BUF_INIT, v = BUF_INIT;
	docs_kobj(&k, rq->app, "_Session", sid);
	if (docs_read(rq->d, DOCS_T_OBJ, &k, &v) == 0)
		g->delta -= (int64_t)(k.len + v.len);
	docs_group_del(g, DOCS_T_OBJ, &k);
	docs_kmeta(&k, 't', rq->app, NULL, NULL);
	buf_append(&k, h, AUTH_TOKEN_HASH);
	if (docs_read(rq->d, DOCS_T_META, &k, &v) == 0)
		g->delta -= (int64_t)(k.len + v.len);
	docs_group_del(g, DOCS_T_META, &k);
	docs_kmeta(&k, 'S', rq->app, uid, sid);
	docs_group_del(g, DOCS_T_META, &k);
	g->delta -= (int64_t)(k.len + AUTH_TOKEN_HASH);
	buf_destroy(&k);
	buf_destroy(&v);
}

struct docs_scan_sess {
	struct docs_req *rq;
	struct docs_group *g;
	const char *uid;
	const char *keep; /* session id kept, or NULL */
	size_t plen;
};

static int
docs_sess_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct docs_scan_sess *s = arg;
	if (vl != AUTH_TOKEN_HASH || kl <= s->plen || kl - s->plen >= DOCS_ID_MAX)
		return 0;
	char sid[DOCS_ID_MAX];
	memcpy(sid, (const char *)k + s->plen, kl - s->plen);
	sid[kl - s->plen] = 0;
	if (s->keep && strcmp(sid, s->keep) == 0)
		return 0;
	if (s->g->n + 3 >= DOCS_GROUP_MAX - 16)
		return 1; /* bounded; the rest expire on their own */
	docs_session_del(s->rq, s->g, s->uid, sid, v);
	return 0;
}

/* Revokes every session of @a uid but @a keep (may be NULL). */
static void
docs_sessions_revoke(struct docs_req *rq, struct docs_group *g,
		     const char *uid, const char *keep)
{
	struct buf k = BUF_INIT, hi = BUF_INIT;
	docs_kmeta(&k, 'S', rq->app, uid, "");
	buf_append(&hi, k.data, k.len);
	buf_append(&hi, "\xff", 1);
	struct docs_scan_sess s = {rq, g, uid, keep, k.len};
	docs_drv_scan(rq->d, DOCS_T_META, k.data, k.len, hi.data,
			     hi.len, false, docs_sess_cb, &s);
	buf_destroy(&k);
	buf_destroy(&hi);
}

/* A unique-name record: 0 free (or ours: @a id), -1 taken. */
static int
docs_unique_check(struct docs_req *rq, char tag, const char *name,
		  const char *id)
{
	struct buf k = BUF_INIT, v = BUF_INIT;
	docs_kmeta(&k, tag, rq->app, name, NULL);
	int rc = docs_read(rq->d, DOCS_T_META, &k, &v);
	int out = 0;
	if (rc == 0 && !(id && v.len == strlen(id) &&
			 memcmp(v.data, id, v.len) == 0))
		out = -1;
	buf_destroy(&k);
	buf_destroy(&v);
	return out;
}

static void
docs_unique_put(struct docs_req *rq, struct docs_group *g, char tag,
		const char *name, const char *id)
{
	struct buf k = BUF_INIT;
	docs_kmeta(&k, tag, rq->app, name, NULL);
	docs_group_put(g, DOCS_T_META, &k, id, strlen(id));
	g->delta += (int64_t)(k.len + strlen(id));
	buf_destroy(&k);
}

static void
docs_unique_del(struct docs_req *rq, struct docs_group *g, char tag,
		const char *name)
{
	struct buf k = BUF_INIT;
	docs_kmeta(&k, tag, rq->app, name, NULL);
	docs_group_del(g, DOCS_T_META, &k);
	g->delta -= (int64_t)(k.len + DOCS_ID_LEN);
	buf_destroy(&k);
}

static bool
docs_role_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == ' '))
			return false;
	}
	return true;
}

/* A string-only array (or absent). */
static bool
docs_str_array_ok(const json_t *a)
{
	if (a == NULL)
		return true;
	if (!json_is_array(a))
		return false;
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
	{
		if (!json_is_string(x))
			return false;
	}
	return true;
}

/* ------------------------------------------------- create and update */

/* A copy of @a o without the internal ('_') fields, for doc_validate. */
static json_t *
docs_public_copy(const json_t *o)
{
	json_t *c = json_copy((json_t *)o);
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(c, tmp, k, v)
	{
		(void)v;
		if (k[0] == '_')
			json_object_del(c, k);
	}
	return c;
}

/* The _User rules of a create or update.  0 or -1 with @a e. */
static int
docs_user_rules(struct docs_req *rq, struct docs_group *g, const json_t *old,
		json_t *obj, const char *id, bool *pw_changed, struct perr *e)
{
	*pw_changed = false;
	json_t *un = json_object_get(obj, "username");
	if (!json_is_string(un) || json_string_length(un) == 0 ||
	    json_string_length(un) != strlen(json_string_value(un)) ||
	    json_string_length(un) > 128) {
		perr_set(e, 400, PERR_USERNAME_MISSING,
			 "bad or missing username");
		return -1;
	}
	const char *name = json_string_value(un);
	const char *oldname = docs_jstr(old, "username");
	if (!oldname || strcmp(oldname, name) != 0) {
		if (docs_unique_check(rq, 'u', name, id) != 0) {
			perr_set(e, 400, PERR_USERNAME_TAKEN,
				 "Account already exists for this username.");
			return -1;
		}
		if (oldname)
			docs_unique_del(rq, g, 'u', oldname);
		docs_unique_put(rq, g, 'u', name, id);
	}
	json_t *em = json_object_get(obj, "email");
	const char *oldmail = docs_jstr(old, "email");
	const char *mail = NULL;
	if (em != NULL && !json_is_null(em)) {
		mail = json_is_string(em) ? json_string_value(em) : NULL;
		if (mail == NULL || strlen(mail) != json_string_length(em) ||
		    !docs_email_ok(mail)) {
			perr_set(e, 400, PERR_INVALID_EMAIL_ADDRESS,
				 "Email address format is invalid.");
			return -1;
		}
	}
	if (mail && (!oldmail || strcmp(oldmail, mail) != 0)) {
		if (docs_unique_check(rq, 'e', mail, id) != 0) {
			perr_set(e, 400, PERR_EMAIL_TAKEN,
				 "Account already exists for this email "
				 "address.");
			return -1;
		}
		docs_unique_put(rq, g, 'e', mail, id);
	}
	if (oldmail && (!mail || strcmp(oldmail, mail) != 0))
		docs_unique_del(rq, g, 'e', oldmail);
	json_t *pw = json_object_get(obj, "password");
	if (pw == NULL && old == NULL) {
		perr_set(e, 400, PERR_PASSWORD_MISSING, "password is required");
		return -1;
	}
	if (pw != NULL) {
		if (!json_is_string(pw) || json_string_length(pw) == 0 ||
		    json_string_length(pw) > AUTH_PW_MAX) {
			perr_set(e, 400, PERR_PASSWORD_MISSING,
				 "password is required (1 to %d bytes)",
				 AUTH_PW_MAX);
			return -1;
		}
		if (rq->job == NULL) {
			docs_defer_hash(rq, json_string_value(pw),
					json_string_length(pw), NULL);
			return -1;
		}
		if (rq->job->rc != 0 || rq->job->verify) {
			perr_set(e, 500, PERR_INTERNAL_SERVER_ERROR,
				 "cannot hash the password");
			return -1;
		}
		json_object_del(obj, "password");
		json_object_set_new(obj, "_hashed_password",
				    json_string(rq->job->out));
		*pw_changed = old != NULL;
	}
	if (old == NULL && json_object_get(obj, "ACL") == NULL)
		json_object_set_new(obj, "ACL",
				    json_pack("{s:{s:b},s:{s:b,s:b}}", "*",
					      "read", 1, id, "read", 1, "write",
					      1));
	return 0;
}

/* The _Role rules.  0 or -1 with @a e. */
static int
docs_role_rules(struct docs_req *rq, struct docs_group *g, const json_t *old,
		json_t *obj, const char *id, struct perr *e)
{
	const char *name = docs_jstr(obj, "name");
	const char *oldname = docs_jstr(old, "name");
	if (old && (!name || strcmp(name, oldname ? oldname : "") != 0)) {
		perr_set(e, 400, PERR_INVALID_ROLE_NAME,
			 "A role's name can only be set before it has been "
			 "saved.");
		return -1;
	}
	if (!name || !docs_role_name_ok(name)) {
		perr_set(e, 400, PERR_INVALID_ROLE_NAME,
			 "A role's name can be only contain alphanumeric "
			 "characters, _, - and spaces (1 to 100).");
		return -1;
	}
	if (!json_is_object(json_object_get(obj, "ACL"))) {
		perr_set(e, 400, PERR_INVALID_ACL, "A _Role needs an ACL.");
		return -1;
	}
	if (!docs_str_array_ok(json_object_get(obj, "users")) ||
	    !docs_str_array_ok(json_object_get(obj, "roles"))) {
		perr_set(e, 400, PERR_INCORRECT_TYPE,
			 "_Role users and roles are arrays of user ids and "
			 "role names");
		return -1;
	}
	if (old == NULL) {
		if (docs_unique_check(rq, 'r', name, id) != 0) {
			perr_set(e, 400, PERR_DUPLICATE_VALUE,
				 "A duplicate value for a field with unique "
				 "values was provided (role %s)",
				 name);
			return -1;
		}
		docs_unique_put(rq, g, 'r', name, id);
	}
	return 0;
}

static void
docs_op_save(struct docs_req *rq, bool create)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = docs_jstr(rq->body, "class");
	if (!docs_valid_class(cls)) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "Invalid class name: %s", cls ? cls : "(none)");
		docs_answer_err(rq, &e);
		return;
	}
	if (strcmp(cls, "_Session") == 0 && !rq->master) {
		d->st.refused_clp++;
		perr_set(&e, 400, PERR_OPERATION_FORBIDDEN,
			 "_Session is read-only to clients: log in or out");
		docs_answer_err(rq, &e);
		return;
	}
	const json_t *changes =
		json_object_get(rq->body, create ? "object" : "changes");
	json_t *schema = docs_schema_load(d, rq->app, cls);
	json_t *old = NULL, *obj = NULL, *results = json_object();
	struct docs_group g;
	docs_group_init(&g);
	struct buf key = BUF_INIT;
	char id[DOCS_ID_MAX], now[DOC_DATE_MAX];
	bool is_user = strcmp(cls, "_User") == 0;
	bool pw_changed = false;
	int64_t old_bytes = 0;

	if (docs_clp_check(rq, schema, cls, create ? "create" : "update", &e))
		goto fail;
	if (create) {
		docs_new_id(id);
		obj = json_object();
	} else {
		const char *oid = docs_jstr(rq->body, "id");
		if (!docs_valid_id(oid)) {
			perr_set(&e, 400, PERR_MISSING_OBJECT_ID,
				 "bad or missing objectId");
			goto fail;
		}
		snprintf(id, sizeof(id), "%s", oid);
		docs_kobj(&key, rq->app, cls, id);
		struct buf v = BUF_INIT;
		if (docs_read(d, DOCS_T_OBJ, &key, &v) == 0) {
			old = json_loadb((const char *)v.data, v.len, 0, NULL);
			old_bytes = (int64_t)(key.len + v.len);
		}
		buf_destroy(&v);
		if (old == NULL || !docs_acl_ok(rq, old, true)) {
			if (old)
				d->st.refused_acl++;
			perr_set(&e, 404, PERR_OBJECT_NOT_FOUND,
				 "Object not found.");
			goto fail;
		}
		if (is_user && !rq->master && strcmp(id, rq->user) != 0) {
			d->st.refused_acl++;
			perr_set(&e, 400, PERR_SESSION_MISSING,
				 "Cannot modify user %s.", id);
			goto fail;
		}
		obj = json_deep_copy(old);
	}
	if (docs_apply_changes(rq, cls, obj, changes, results, &e) != 0)
		goto fail;
	if (is_user &&
	    docs_user_rules(rq, &g, old, obj, id, &pw_changed, &e) != 0) {
		if (rq->deferred)
			goto out; /* handled again once hashed */
		goto fail;
	}
	if (strcmp(cls, "_Role") == 0 &&
	    docs_role_rules(rq, &g, old, obj, id, &e) != 0)
		goto fail;
	docs_iso_now(now, NULL);
	json_object_set_new(obj, "objectId", json_string(id));
	if (create)
		json_object_set_new(obj, "createdAt", json_string(now));
	json_object_set_new(obj, "updatedAt", json_string(now));
	json_t *pub = docs_public_copy(obj);
	int vrc = doc_validate(pub, 0, &e);
	json_decref(pub);
	if (vrc != 0)
		goto fail;
	bool schema_changed;
	if (docs_schema_apply(rq, cls, &schema, obj, &schema_changed, &e) != 0)
		goto fail;
	if (docs_index_fits(rq->app, cls, schema, obj, &e) != 0)
		goto fail;
	char *txt = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	if (txt == NULL) {
		perr_set(&e, 500, PERR_INTERNAL_SERVER_ERROR,
			 "the object could not be encoded");
		goto fail;
	}
	size_t tlen = strlen(txt);
	if (tlen > d->cfg.object_max) {
		free(txt);
		perr_set(&e, 400, PERR_OBJECT_TOO_LARGE,
			 "the object is %zu bytes, more than %u", tlen,
			 d->cfg.object_max);
		goto fail;
	}
	docs_kobj(&key, rq->app, cls, id);
	docs_group_put(&g, DOCS_T_OBJ, &key, txt, tlen);
	g.delta += (int64_t)(key.len + tlen) - old_bytes;
	free(txt);
	if (schema_changed)
		docs_schema_put(rq->d, &g, rq->app, cls, schema);
	docs_index_changes(d, &g, rq->app, cls, schema, old, obj);
	json_t *answer;
	int status = create ? 201 : 200;
	if (create) {
		answer = json_pack("{s:s,s:s}", "objectId", id, "createdAt",
				   now);
		if (is_user) {
			char token[AUTH_TOKEN_MAX];
			docs_session_add(rq, &g, id, "signup", token);
			json_object_set_new(answer, "sessionToken",
					    json_string(token));
			/* the reply's user (the access log's) is the new one */
			snprintf(rq->user, sizeof(rq->user), "%s", id);
		}
	} else {
		answer = results;
		results = NULL;
		json_object_set_new(answer, "updatedAt", json_string(now));
		if (pw_changed) /* Parse: the other sessions are revoked */
			docs_sessions_revoke(rq, &g, id,
					     strcmp(id, rq->user) == 0 ? rq->sid
								       : NULL);
	}
	if (!docs_quota_ok(rq, g.delta, &e) || docs_expired(rq, &e)) {
		json_decref(answer);
		goto fail;
	}
	d->st.ops[create ? ACC_DOC_CREATE : ACC_DOC_UPDATE]++;
	docs_commit(rq, &g, status, answer);
	goto out;
fail:
	docs_answer_err(rq, &e);
out:
	docs_group_free(&g);
	buf_destroy(&key);
	json_decref(schema);
	json_decref(old);
	json_decref(obj);
	json_decref(results);
}

static void
docs_op_delete(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = docs_jstr(rq->body, "class");
	const char *id = docs_jstr(rq->body, "id");
	struct docs_group g;
	docs_group_init(&g);
	struct buf key = BUF_INIT, v = BUF_INIT;
	json_t *schema = NULL, *old = NULL;
	if (!docs_valid_class(cls) || !docs_valid_id(id)) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "bad class name or objectId");
		goto fail;
	}
	schema = docs_schema_load(d, rq->app, cls);
	if (docs_clp_check(rq, schema, cls, "delete", &e))
		goto fail;
	docs_kobj(&key, rq->app, cls, id);
	if (docs_read(d, DOCS_T_OBJ, &key, &v) == 0)
		old = json_loadb((const char *)v.data, v.len, 0, NULL);
	if (old == NULL || !docs_acl_ok(rq, old, true)) {
		if (old)
			d->st.refused_acl++;
		perr_set(&e, 404, PERR_OBJECT_NOT_FOUND, "Object not found.");
		goto fail;
	}
	bool is_user = strcmp(cls, "_User") == 0;
	if (is_user && !rq->master && strcmp(id, rq->user) != 0) {
		d->st.refused_acl++;
		perr_set(&e, 400, PERR_SESSION_MISSING,
			 "Cannot delete user %s.", id);
		goto fail;
	}
	docs_group_del(&g, DOCS_T_OBJ, &key);
	g.delta -= (int64_t)(key.len + v.len);
	docs_index_changes(d, &g, rq->app, cls, schema, old, NULL);
	if (is_user) {
		const char *un = docs_jstr(old, "username"),
			   *em = docs_jstr(old, "email");
		if (un)
			docs_unique_del(rq, &g, 'u', un);
		if (em)
			docs_unique_del(rq, &g, 'e', em);
		docs_sessions_revoke(rq, &g, id, NULL);
	} else if (strcmp(cls, "_Role") == 0) {
		const char *n = docs_jstr(old, "name");
		if (n)
			docs_unique_del(rq, &g, 'r', n);
	} else if (strcmp(cls, "_Session") == 0) {
		const char *hx = docs_jstr(old, "_token");
		const char *uid = docs_jstr(json_object_get(old, "user"),
					    "objectId");
		uint8_t h[AUTH_TOKEN_HASH];
		if (hx && uid && hex_decode(h, sizeof(h), hx) == 0) {
			struct buf k = BUF_INIT;
			docs_kmeta(&k, 't', rq->app, NULL, NULL);
			buf_append(&k, h, sizeof(h));
			docs_group_del(&g, DOCS_T_META, &k);
			docs_kmeta(&k, 'S', rq->app, uid, id);
			docs_group_del(&g, DOCS_T_META, &k);
			buf_destroy(&k);
		}
	}
	if (docs_expired(rq, &e))
		goto fail;
	d->st.ops[ACC_DOC_DELETE]++;
	docs_commit(rq, &g, 200, json_object());
	goto out;
fail:
	docs_answer_err(rq, &e);
out:
	docs_group_free(&g);
	buf_destroy(&key);
	buf_destroy(&v);
	json_decref(schema);
	json_decref(old);
}

/* ---------------------------------------------- login, logout, me */

static void
docs_op_login(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *un = docs_jstr(rq->body, "username");
	const json_t *pwj = json_object_get(rq->body, "password");
	if (un == NULL || *un == 0) {
		perr_set(&e, 400, PERR_USERNAME_MISSING,
			 "username/email is required.");
		docs_answer_err(rq, &e);
		return;
	}
	if (!json_is_string(pwj) || json_string_length(pwj) == 0 ||
	    json_string_length(pwj) > AUTH_PW_MAX) {
		perr_set(&e, 400, PERR_PASSWORD_MISSING, "password is required.");
		docs_answer_err(rq, &e);
		return;
	}
	struct buf k = BUF_INIT, v = BUF_INIT;
	json_t *user = NULL;
	docs_kmeta(&k, 'u', rq->app, un, NULL);
	if (docs_read(d, DOCS_T_META, &k, &v) == 0 && v.len < DOCS_ID_MAX) {
		char uid[DOCS_ID_MAX];
		memcpy(uid, v.data, v.len);
		uid[v.len] = 0;
		docs_kobj(&k, rq->app, "_User", uid);
		user = docs_read_json(d, DOCS_T_OBJ, &k);
	}
	buf_destroy(&k);
	buf_destroy(&v);
	const char *hash = docs_jstr(user, "_hashed_password");
	if (hash && rq->job == NULL) {
		docs_defer_hash(rq, json_string_value(pwj),
				json_string_length(pwj), hash);
		json_decref(user);
		return;
	}
	/* the second pass: the verdict holds for the hash it checked */
	if (!hash || !rq->job->verify || !rq->job->ok ||
	    strcmp(rq->job->stored, hash) != 0) {
		json_decref(user);
		perr_set(&e, 404, PERR_OBJECT_NOT_FOUND,
			 "Invalid username/password.");
		docs_answer_err(rq, &e);
		return;
	}
	const char *uid = docs_jstr(user, "objectId");
	snprintf(rq->user, sizeof(rq->user), "%s", uid ? uid : "");
	rq->who.user = rq->user;
	struct docs_group g;
	docs_group_init(&g);
	char token[AUTH_TOKEN_MAX];
	docs_session_add(rq, &g, rq->user, "login", token);
	json_t *schema = docs_schema_load(d, rq->app, "_User");
	json_t *out = docs_visible(rq, "_User", schema, user);
	json_object_set_new(out, "sessionToken", json_string(token));
	json_decref(schema);
	json_decref(user);
	if (docs_expired(rq, &e)) {
		json_decref(out);
		docs_answer_err(rq, &e);
	} else {
		d->st.ops[ACC_DOC_LOGIN]++;
		docs_commit(rq, &g, 200, out);
	}
	docs_group_free(&g);
}

static void
docs_op_logout(struct docs_req *rq)
{
	struct perr e;
	if (rq->user[0] == 0) {
		perr_set(&e, 400, PERR_INVALID_SESSION_TOKEN,
			 "Invalid session token");
		docs_answer_err(rq, &e);
		return;
	}
	uint8_t h[AUTH_TOKEN_HASH];
	auth_token_hash(rq->session, h);
	struct docs_group g;
	docs_group_init(&g);
	docs_session_del(rq, &g, rq->user, rq->sid, h);
	rq->d->st.ops[ACC_DOC_LOGOUT]++;
	docs_commit(rq, &g, 200, json_object());
	docs_group_free(&g);
}

static void
docs_op_me(struct docs_req *rq)
{
	struct perr e;
	struct buf k = BUF_INIT;
	json_t *user = NULL;
	/* /sessions/me ({"session": true}): the caller's _Session object */
	bool session = json_is_true(json_object_get(rq->body, "session"));
	if (rq->user[0] && session && rq->sid[0]) {
		docs_kobj(&k, rq->app, "_Session", rq->sid);
		json_t *so = docs_read_json(rq->d, DOCS_T_OBJ, &k);
		buf_destroy(&k);
		if (so == NULL) {
			perr_set(&e, 400, PERR_INVALID_SESSION_TOKEN,
				 "Invalid session token");
			docs_answer_err(rq, &e);
			return;
		}
		json_t *out = docs_public_copy(so); /* no _token */
		json_decref(so);
		json_object_set_new(out, "sessionToken",
				    json_string(rq->session));
		rq->d->st.ops[ACC_DOC_ME]++;
		docs_answer(rq, 200, out);
		return;
	}
	if (rq->user[0]) {
		docs_kobj(&k, rq->app, "_User", rq->user);
		user = docs_read_json(rq->d, DOCS_T_OBJ, &k);
	}
	buf_destroy(&k);
	if (user == NULL) {
		perr_set(&e, 400, PERR_INVALID_SESSION_TOKEN,
			 "Invalid session token");
		docs_answer_err(rq, &e);
		return;
	}
	json_t *schema = docs_schema_load(rq->d, rq->app, "_User");
	json_t *out = docs_visible(rq, "_User", schema, user);
	json_object_set_new(out, "sessionToken", json_string(rq->session));
	json_decref(schema);
	json_decref(user);
	rq->d->st.ops[ACC_DOC_ME]++;
	docs_answer(rq, 200, out);
}

/* ------------------------------------------------------ get, include */

/* Replaces each pointer named in @a include ("a,b") in @a out by the
 * object it points at, if the caller may read it.  0 or -1 with @a e. */
static int
docs_include(struct docs_req *rq, json_t *out, const char *include,
	     struct perr *e)
{
	if (include == NULL || *include == 0)
		return 0;
	char buf[512];
	if (strlen(include) >= sizeof(buf)) {
		perr_set(e, 400, PERR_INVALID_QUERY, "include is too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", include);
	uint32_t n = 0;
	for (char *save, *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		if (++n > rq->d->cfg.include_max) {
			perr_set(e, 400, PERR_INVALID_QUERY,
				 "include names more than %u fields",
				 rq->d->cfg.include_max);
			return -1;
		}
		if (strchr(p, '.') != NULL) {
			perr_set(e, 400, PERR_INVALID_QUERY,
				 "include follows one level of pointers, "
				 "not %s",
				 p);
			return -1;
		}
		json_t *ptr = json_object_get(out, p);
		const char *cls = docs_jstr(ptr, "className");
		const char *id = docs_jstr(ptr, "objectId");
		const char *ty = docs_jstr(ptr, "__type");
		if (!ty || strcmp(ty, "Pointer") != 0 || !docs_valid_class(cls) ||
		    !docs_valid_id(id))
			continue;
		json_t *schema = docs_schema_load(rq->d, rq->app, cls);
		const json_t *clp = docs_clp(schema);
		docs_need_roles(rq, clp);
		struct buf k = BUF_INIT;
		docs_kobj(&k, rq->app, cls, id);
		json_t *t = NULL;
		if (auth_clp_allows(clp, &rq->who, "get"))
			t = docs_read_json(rq->d, DOCS_T_OBJ, &k);
		buf_destroy(&k);
		if (t && docs_acl_ok(rq, t, false)) {
			json_t *v = docs_visible(rq, cls, schema, t);
			json_object_set_new(v, "__type", json_string("Object"));
			json_object_set_new(v, "className", json_string(cls));
			json_object_set_new(out, p, v);
		}
		json_decref(t);
		json_decref(schema);
	}
	return 0;
}

static void
docs_op_get(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = rq->get_form ? rq->get_cls : docs_jstr(rq->body, "class");
	const char *id = rq->get_form ? rq->get_id : docs_jstr(rq->body, "id");
	json_t *schema = NULL, *obj = NULL, *out = NULL;
	struct query *q = NULL;
	if (!docs_valid_class(cls) || !docs_valid_id(id)) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "bad class name or objectId");
		goto fail;
	}
	schema = docs_schema_load(d, rq->app, cls);
	if (docs_clp_check(rq, schema, cls, "get", &e))
		goto fail;
	struct buf k = BUF_INIT;
	docs_kobj(&k, rq->app, cls, id);
	json_t *raw = NULL; /* the stored text, when cached */
	obj = docs_read_cached(d, DOCS_T_OBJ, &k, false, &raw);
	buf_destroy(&k);
	if (obj == NULL || !docs_acl_ok(rq, obj, false)) {
		if (obj)
			d->st.refused_acl++;
		json_decref(raw);
		perr_set(&e, 404, PERR_OBJECT_NOT_FOUND, "Object not found.");
		goto fail;
	}
	const char *keys = docs_jstr(rq->body, "keys");
	const char *include = docs_jstr(rq->body, "include");
	if (raw != NULL && !(keys && *keys) && !(include && *include) &&
	    !docs_has_internal(obj) &&
	    !docs_protects_any(rq, cls, schema, obj)) {
		/* nothing to hide, project or include: the answer is the
		 * object as stored (docs_visible's copy, dumped, would be
		 * these very bytes) */
		d->st.ops[ACC_DOC_GET]++;
		docs_send(d, rq->from, rq->corr, rq->flags, 200,
			  json_string_value(raw), json_string_length(raw),
			  rq->user);
		json_decref(raw);
		goto done;
	}
	json_decref(raw);
	out = docs_visible(rq, cls, schema, obj);
	if (keys && *keys) {
		q = query_compile(NULL, NULL, keys, &d->qopts, &e);
		if (q == NULL)
			goto fail;
		json_t *p = query_project(q, out);
		json_decref(out);
		out = p;
	}
	if (docs_include(rq, out, include, &e) != 0)
		goto fail;
	d->st.ops[ACC_DOC_GET]++;
	docs_answer(rq, 200, out);
	out = NULL;
	goto done;
fail:
	docs_answer_err(rq, &e);
done:
	query_free(q);
	json_decref(out);
	json_decref(obj);
	json_decref(schema);
}

/* ------------------------------------------------------------ queries */

struct docs_plan {
	const struct docs_index *ix; /* NULL: a scan of the class */
	uint32_t neq;
	const json_t *eq[DOCS_INDEX_FIELDS];
	const struct query_pin *range; /* on ix->field[neq], or NULL */
	bool order_served, reverse;
	bool rperm; /* ix leads with _rperm: eq[0] is each reader in turn */
};

/* Can a pin on @a field be served by an index?  Not on Array fields
 * (an index holds the array whole, a query matches its elements), nor on
 * createdAt/updatedAt unless the value is a Date (a string there is read
 * as a Date by the query, not by the index). */
static bool
docs_pin_servable(const json_t *schema, const char *field, const json_t *v)
{
	const json_t *f = json_object_get(json_object_get(schema, "fields"),
					  field);
	const char *t = docs_jstr(f, "type");
	if (t && strcmp(t, "Array") == 0)
		return false;
	if (v && json_is_array(v))
		return false;
	if (strcmp(field, "createdAt") == 0 || strcmp(field, "updatedAt") == 0)
		return v == NULL || doc_type(v) == DOC_DATE;
	return true;
}

static const struct query_pin *
docs_pin_of(const struct query_pin *pins, uint32_t n, const char *field,
	    int kind)
{
	for (uint32_t i = 0; i < n; i++)
		if (pins[i].kind == kind && strcmp(pins[i].field, field) == 0)
			return &pins[i];
	return NULL;
}

static void
docs_plan_pick(struct docs_plan *best, const struct docs_index *ix,
	       uint32_t nix, const json_t *schema, const struct query_pin *pins,
	       uint32_t npins, const char **of, const bool *od, uint32_t nof,
	       bool rperm_ok)
{
	int best_score = 0;
	memset(best, 0, sizeof(*best));
	for (uint32_t i = 0; i < nix; i++) {
		if (!ix[i].ready)
			continue;
		struct docs_plan p = {.ix = &ix[i]};
		if (docs_is_rperm(&ix[i])) {
			if (!rperm_ok)
				continue; /* the master reads everything */
			p.rperm = true;
			p.eq[p.neq++] = NULL; /* each reader */
		}
		while (p.neq < ix[i].nf) {
			const struct query_pin *eq = docs_pin_of(
				pins, npins, ix[i].field[p.neq], QP_EQ);
			if (!eq || !docs_pin_servable(schema, eq->field, eq->eq))
				break;
			p.eq[p.neq++] = eq->eq;
		}
		if (p.neq < ix[i].nf) {
			const struct query_pin *r = docs_pin_of(
				pins, npins, ix[i].field[p.neq], QP_RANGE);
			if (r && docs_pin_servable(schema, r->field, r->lo) &&
			    docs_pin_servable(schema, r->field, r->hi))
				p.range = r;
		}
		if (nof > 0 && p.neq + nof <= ix[i].nf) {
			bool ok = true;
			for (uint32_t j = 0; j < nof && ok; j++)
				ok = strcmp(of[j], ix[i].field[p.neq + j]) == 0 &&
				     od[j] == od[0] &&
				     docs_pin_servable(schema, of[j], NULL);
			p.order_served = ok;
			p.reverse = ok && od[0];
		}
		/* the readers pin less than a field's value does (several
		 * scans, "*" often wide): 3, not 4; their order is lost */
		if (p.rperm)
			p.order_served = p.reverse = false;
		int score = (int)p.neq * 4 + (p.range ? 2 : 0) +
			    (p.order_served ? 1 : 0) - (p.rperm ? 1 : 0);
		if (score > best_score) {
			best_score = score;
			*best = p;
		}
	}
}

struct docs_qctx {
	struct docs_req *rq;
	struct query *q;
	const char *cls;
	json_t *hits;
	uint64_t matched;
	uint64_t want;	 /* stop after this many matches (0: never) */
	bool count_only; /* count, keep nothing */
	uint64_t examined, budget;
	bool over, expired, failed;
	struct perr e;
	size_t idx_prefix; /* IDX keys: bytes before the values */
	struct buf k, v;
	uint64_t rejected; /* objects the ACL filter turned away */
	json_t *seen;	   /* _rperm scans: objectIds met (one per object) */
};

/* One candidate: its stored bytes (NULL: read it by @a okey). */
static int
docs_q_consider(struct docs_qctx *c, const uint8_t *okey, size_t oklen,
		const void *val, size_t vlen)
{
	struct docs *d = c->rq->d;
	if (++c->examined > c->budget) {
		c->over = true;
		return 1;
	}
	if ((c->examined & 31) == 0 && docs_expired(c->rq, &c->e)) {
		c->expired = true;
		return 1;
	}
	d->st.scanned++;
	struct docs_ov *o = docs_ov_find(d, DOCS_T_OBJ, okey, oklen);
	if (o != NULL) {
		if (o->deleted)
			return 0;
		val = o->val.data;
		vlen = o->val.len;
	} else if (val == NULL) {
		if (docs_drv_get(d, DOCS_T_OBJ, okey, oklen, &c->v) != 0)
			return 0; /* an entry left by a deleted object */
		val = c->v.data;
		vlen = c->v.len;
	}
	json_t *obj = json_loadb(val, vlen, 0, NULL);
	if (obj == NULL)
		return 0;
	if (!docs_acl_ok(c->rq, obj, false)) {
		json_decref(obj);
		c->rejected++;
		return 0;
	}
	int m = query_match(c->q, obj, &c->e);
	if (m < 0) {
		json_decref(obj);
		c->failed = true;
		return 1;
	}
	if (m == 0) {
		json_decref(obj);
		return 0;
	}
	c->matched++;
	if (!c->count_only)
		json_array_append(c->hits, obj);
	json_decref(obj);
	return c->want && c->matched >= c->want ? 1 : 0;
}

static int
docs_q_obj_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	return docs_q_consider(arg, k, kl, v, vl);
}

static int
docs_q_idx_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)v, (void)vl;
	struct docs_qctx *c = arg;
	if (kl < c->idx_prefix + DOCS_ID_LEN)
		return 0;
	if (c->seen != NULL) {
		/* an object readable by two of the caller's readers has an
		 * entry under each: it is considered once */
		char id[DOCS_ID_LEN + 1];
		memcpy(id, (const uint8_t *)k + kl - DOCS_ID_LEN, DOCS_ID_LEN);
		id[DOCS_ID_LEN] = 0;
		if (json_object_get(c->seen, id) != NULL)
			return 0;
		json_object_set_new(c->seen, id, json_true());
	}
	docs_kobj(&c->k, c->rq->app, c->cls, NULL);
	buf_append(&c->k, (const uint8_t *)k + kl - DOCS_ID_LEN, DOCS_ID_LEN);
	return docs_q_consider(c, c->k.data, c->k.len, NULL, 0);
}

static int
docs_q_sort_cmp(const void *a, const void *b, void *arg)
{
	return query_cmp(arg, *(json_t *const *)a, *(json_t *const *)b);
}

/* Scans the entries of @a plan's index (for @a reader first if it is an
 * _rperm index) into @a c.  0 or MIST_ESTORE. */
static int
docs_q_index_scan(struct docs_qctx *c, const struct docs_plan *plan,
		  const char *reader)
{
	struct docs *d = c->rq->d;
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	docs_kidx(&lo, c->rq->app, c->cls, plan->ix->name);
	c->idx_prefix = lo.len;
	for (uint32_t i = 0; i < plan->neq; i++) {
		if (plan->eq[i] == NULL) {
			json_t *r = json_string(reader);
			query_key_encode(r, &lo);
			json_decref(r);
		} else {
			query_key_encode(plan->eq[i], &lo);
		}
	}
	buf_append(&hi, lo.data, lo.len);
	if (plan->range) {
		const struct query_pin *r = plan->range;
		size_t base = lo.len;
		if (r->lo) {
			query_key_encode(r->lo, &lo);
			if (!r->lo_incl)
				buf_append(&lo, "\xff", 1);
		} else {
			uint8_t t = query_key_tag(r->hi);
			buf_append(&lo, &t, 1);
		}
		hi.len = base;
		if (r->hi) {
			query_key_encode(r->hi, &hi);
			if (r->hi_incl)
				buf_append(&hi, "\xff", 1);
		} else {
			uint8_t t = (uint8_t)(query_key_tag(r->lo) + 1);
			buf_append(&hi, &t, 1);
		}
	} else {
		buf_append(&hi, "\xff", 1);
	}
	int src = docs_drv_scan(d, DOCS_T_IDX, lo.data, lo.len, hi.data,
				   hi.len, plan->reverse, docs_q_idx_cb, c);
	buf_destroy(&lo);
	buf_destroy(&hi);
	return src;
}

/* What a query cost, for the shapes (automatic indexes, below); true if
 * an index for its shape is building. */
static bool docs_auto_observe(struct docs_req *rq, const char *cls,
			      const json_t *schema,
			      const struct docs_index *ix, uint32_t nix,
			      const struct docs_plan *plan,
			      const struct query_pin *pins, uint32_t npins,
			      const char **of, const bool *od, uint32_t nof,
			      const struct docs_qctx *c, uint64_t useful);

/* "score, name" for the refusal message: what an index should hold. */
static void
docs_wanted_index(const struct query_pin *pins, uint32_t npins,
		  const char **of, uint32_t nof, char *out, size_t len)
{
	size_t at = 0;
	out[0] = 0;
	for (int pass = 0; pass < 3; pass++) {
		uint32_t n = pass < 2 ? npins : nof;
		for (uint32_t i = 0; i < n; i++) {
			const char *f;
			if (pass == 0 && pins[i].kind == QP_EQ)
				f = pins[i].field;
			else if (pass == 1 && pins[i].kind == QP_RANGE)
				f = pins[i].field;
			else if (pass == 2)
				f = of[i];
			else
				continue;
			if (strstr(out, f) != NULL)
				continue;
			int w = snprintf(out + at, len - at, "%s%s",
					 at ? ", " : "", f);
			if (w < 0 || (size_t)w >= len - at)
				return;
			at += (size_t)w;
		}
	}
}

static void
docs_op_query(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = docs_jstr(rq->body, "class");
	json_t *schema = NULL, *results = NULL;
	struct docs_qctx c;
	memset(&c, 0, sizeof(c));
	c.rq = rq;
	if (!docs_valid_class(cls)) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME, "Invalid class name");
		goto fail;
	}
	c.cls = cls;
	const json_t *jl = json_object_get(rq->body, "limit");
	const json_t *js = json_object_get(rq->body, "skip");
	const json_t *jc = json_object_get(rq->body, "count");
	const json_t *where = json_object_get(rq->body, "where");
	if ((jl && !json_is_integer(jl)) || (js && !json_is_integer(js))) {
		perr_set(&e, 400, PERR_INVALID_QUERY,
			 "limit and skip are integers");
		goto fail;
	}
	int64_t limit = jl ? json_integer_value(jl) : d->cfg.limit_default;
	int64_t skip = js ? json_integer_value(js) : 0;
	bool count = jc && (json_is_true(jc) ||
			    (json_is_integer(jc) && json_integer_value(jc)) ||
			    (json_is_string(jc) &&
			     strcmp(json_string_value(jc), "1") == 0));
	if (limit < 0 || limit > d->cfg.limit_max) {
		perr_set(&e, 400, PERR_INVALID_QUERY,
			 "limit must be 0 to %u", d->cfg.limit_max);
		goto fail;
	}
	if (skip < 0 || skip > d->cfg.skip_max) {
		perr_set(&e, 400, PERR_INVALID_QUERY,
			 "skip must be 0 to %u (page with a constraint on "
			 "an indexed field instead)",
			 d->cfg.skip_max);
		goto fail;
	}
	if (where != NULL && json_is_null(where))
		where = NULL;
	schema = docs_schema_load(d, rq->app, cls);
	if (docs_clp_check(rq, schema, cls,
			   count && limit == 0 ? "count" : "find", &e))
		goto fail;
	if (count && limit > 0 && docs_clp_check(rq, schema, cls, "count", &e))
		goto fail;
	char pf[128];
	docs_need_roles(rq, json_object_get(docs_clp(schema),
					    "protectedFields"));
	if (auth_query_protected(where, docs_jstr(rq->body, "order"),
				 docs_clp(schema), &rq->who, cls, pf,
				 sizeof(pf))) {
		d->st.refused_clp++;
		perr_set(&e, 400, PERR_OPERATION_FORBIDDEN,
			 "This user is not allowed to query %s on class %s",
			 pf, cls);
		goto fail;
	}
	c.q = query_compile(where, docs_jstr(rq->body, "order"),
			    docs_jstr(rq->body, "keys"), &d->qopts, &e);
	if (c.q == NULL)
		goto fail;

	struct docs_index ix[DOCS_MAX_INDEXES];
	uint32_t nix = docs_indexes(schema, ix, DOCS_MAX_INDEXES);
	struct query_pin pins[32];
	uint32_t npins = query_pins(c.q, pins, 32);
	const char *of[16];
	bool od[16];
	uint32_t nof = query_order_fields(c.q, of, od, 16);
	struct docs_plan plan;
	char readers[DOCS_RPERM_READERS][DOCS_INDEX_NAME_MAX + 8];
	uint32_t nreaders = 0;
	bool any_rperm = false;
	for (uint32_t i = 0; i < nix; i++)
		any_rperm |= ix[i].ready && docs_is_rperm(&ix[i]);
	/* the caller's readers (its roles read) only if an index wants them */
	bool rperm_ok = any_rperm && !rq->master &&
			docs_caller_readers(rq, readers, DOCS_RPERM_READERS,
					    &nreaders);
	docs_plan_pick(&plan, ix, nix, schema, pins, npins, of, od, nof,
		       rperm_ok);
	/* in the scan's own order (objectId for a class scan; the index's
	 * values then objectId otherwise) matches come sorted if: */
	bool sorted = plan.ix ? plan.order_served ||
					(nof == 0 && plan.neq == plan.ix->nf)
			      : nof == 0;
	if (plan.rperm)
		sorted = plan.order_served || (nof == 0 && nreaders == 1 &&
					       plan.neq == plan.ix->nf);
	c.hits = json_array();
	c.count_only = limit == 0;
	c.want = count || !sorted ? 0 : (uint64_t)(skip + limit);
	if (!count && limit == 0)
		c.want = 1, c.count_only = true; /* nothing to return */
	c.budget = plan.ix ? d->cfg.index_scan_max : d->cfg.scan_max;

	struct buf lo = BUF_INIT, hi = BUF_INIT;
	int src = 0;
	const struct query_pin *byid =
		docs_pin_of(pins, npins, "objectId", QP_EQ);
	if (byid && json_is_string(byid->eq) &&
	    !docs_valid_id(json_string_value(byid->eq)))
		byid = NULL; /* no such object can exist: scan finds none */
	if (byid && json_is_string(byid->eq)) {
		/* {"objectId": id}: one key read, whatever the class size */
		docs_kobj(&lo, rq->app, cls, json_string_value(byid->eq));
		docs_q_consider(&c, lo.data, lo.len, NULL, 0);
	} else if (plan.ix == NULL) {
		d->st.scans++;
		docs_kobj(&lo, rq->app, cls, NULL);
		buf_append(&hi, lo.data, lo.len);
		hi.data[hi.len - 1] = 1;
		src = docs_drv_scan(d, DOCS_T_OBJ, lo.data, lo.len,
				       hi.data, hi.len, false, docs_q_obj_cb,
				       &c);
	} else if (!plan.rperm) {
		d->st.index_scans++;
		src = docs_q_index_scan(&c, &plan, NULL);
	} else {
		d->st.index_scans++;
		d->st.rperm_scans++;
		c.seen = json_object();
		for (uint32_t i = 0; i < nreaders && src == 0 && !c.over &&
				     !c.expired && !c.failed &&
				     !(c.want && c.matched >= c.want);
		     i++)
			src = docs_q_index_scan(&c, &plan, readers[i]);
	}
	buf_destroy(&lo);
	buf_destroy(&hi);
	if (src != 0) {
		d->st.store_errors++;
		perr_set(&e, 500, PERR_INTERNAL_SERVER_ERROR, "store error");
		goto fail;
	}
	if (c.expired || c.failed) {
		e = c.e;
		goto fail;
	}
	/* what the answer needed: the page (all matches for a count) */
	uint64_t useful = count || c.matched < (uint64_t)(skip + limit)
				  ? c.matched
				  : (uint64_t)(skip + limit);
	/* observed once the answer's reads are all in (the includes'
	 * too): a run that comes to nothing on a fetch observes nothing */
	bool auto_building = false;
	if (c.over)
		auto_building = docs_auto_observe(rq, cls, schema, ix, nix,
						  &plan, pins, npins, of, od,
						  nof, &c, useful);
	if (c.over) {
		d->st.refused_heavy++;
		char want[256];
		docs_wanted_index(pins, npins, of, nof, want, sizeof(want));
		if (auto_building)
			perr_set(&e, 400, PERR_INVALID_QUERY,
				 "this query examines more than %llu objects "
				 "of %s: an index on %s is being built for it "
				 "automatically; retry soon",
				 (unsigned long long)c.budget, cls,
				 want[0] ? want : "its fields");
		else
		if (plan.ix)
			perr_set(&e, 400, PERR_INVALID_QUERY,
				 "this query walks more than %llu entries of "
				 "index %s on %s: narrow it",
				 (unsigned long long)c.budget, plan.ix->name,
				 cls);
		else if (want[0])
			perr_set(&e, 400, PERR_INVALID_QUERY,
				 "this query examines more than %llu objects "
				 "of %s: add an index on %s (/schemas "
				 "indexes)",
				 (unsigned long long)c.budget, cls, want);
		else
			perr_set(&e, 400, PERR_INVALID_QUERY,
				 "this query examines more than %llu objects "
				 "of %s: constrain an indexed field",
				 (unsigned long long)c.budget, cls);
		goto fail;
	}
	size_t nh = json_array_size(c.hits);
	json_t **v = xcalloc(nh + 1, sizeof(*v));
	for (size_t i = 0; i < nh; i++)
		v[i] = json_array_get(c.hits, i);
	if (!sorted && nh > 1)
		qsort_r(v, nh, sizeof(*v), docs_q_sort_cmp, c.q);
	results = json_array();
	for (size_t i = (size_t)skip; i < nh && i < (size_t)(skip + limit);
	     i++) {
		json_t *vis = docs_visible(rq, cls, schema, v[i]);
		json_t *p = query_project(c.q, vis);
		json_decref(vis);
		if (docs_include(rq, p, docs_jstr(rq->body, "include"), &e)) {
			json_decref(p);
			free(v);
			goto fail;
		}
		json_array_append_new(results, p);
	}
	free(v);
	(void)docs_auto_observe(rq, cls, schema, ix, nix, &plan, pins, npins,
				of, od, nof, &c, useful);
	d->st.results += json_array_size(results);
	json_t *out = json_pack("{s:o}", "results", results);
	results = NULL;
	if (count)
		json_object_set_new(out, "count",
				    json_integer((json_int_t)c.matched));
	d->st.ops[ACC_DOC_QUERY]++;
	docs_answer(rq, 200, out);
	goto done;
fail:
	docs_answer_err(rq, &e);
done:
	json_decref(results);
	json_decref(c.hits);
	buf_destroy(&c.k);
	buf_destroy(&c.v);
	json_decref(c.seen);
	query_free(c.q);
	json_decref(schema);
}

/* ------------------------------------------------------------ schemas */

static int
docs_master_only(struct docs_req *rq, struct perr *e)
{
	if (rq->master)
		return 0;
	rq->d->st.refused_clp++;
	perr_set(e, 403, PERR_OPERATION_FORBIDDEN,
		 "unauthorized: master key is required");
	return -1;
}

struct docs_scan_schemas {
	json_t *results;
	uint32_t n;
};

static int
docs_schemas_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl;
	struct docs_scan_schemas *s = arg;
	json_t *j = json_loadb(v, vl, 0, NULL);
	if (j) {
		json_array_append_new(s->results, docs_schema_out(j));
		json_decref(j);
	}
	return ++s->n >= DOCS_SCAN_MAX * 10;
}

static void
docs_op_schema_get(struct docs_req *rq)
{
	struct perr e;
	if (docs_master_only(rq, &e) != 0) {
		docs_answer_err(rq, &e);
		return;
	}
	const char *cls = docs_jstr(rq->body, "class");
	rq->d->st.ops[ACC_DOC_SCHEMA_GET]++;
	if (cls && *cls) {
		json_t *s = docs_valid_class(cls)
				    ? docs_schema_load(rq->d, rq->app, cls)
				    : NULL;
		if (s == NULL) {
			perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
				 "Class %s does not exist.", cls);
			docs_answer_err(rq, &e);
			return;
		}
		docs_answer(rq, 200, docs_schema_out(s));
		json_decref(s);
		return;
	}
	/* every class: schemas not yet durable are not listed */
	struct docs_scan_schemas s = {json_array(), 0};
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	docs_kmeta(&lo, 's', rq->app, NULL, NULL);
	buf_append(&hi, lo.data, lo.len);
	hi.data[hi.len - 1] = 1;
	docs_drv_scan(rq->d, DOCS_T_META, lo.data, lo.len, hi.data,
			     hi.len, false, docs_schemas_cb, &s);
	buf_destroy(&lo);
	buf_destroy(&hi);
	docs_answer(rq, 200, json_pack("{s:o}", "results", s.results));
}

static const char *const docs_types[] = {
	"Number", "String", "Boolean", "Date",	"Pointer", "Relation",
	"Bytes",  "GeoPoint", "File",	"Array", "Object",  NULL};

static bool
docs_is_delete_op(const json_t *v)
{
	const char *op = docs_jstr(v, "__op");
	return op && strcmp(op, "Delete") == 0;
}

static bool
docs_field_name_ok(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > DOC_FIELD_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		bool a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!a && !(i > 0 && ((c >= '0' && c <= '9') || c == '_')))
			return false;
	}
	return true;
}

static void docs_build_add(struct docs *d, const char *app, const char *cls,
			   const char *name);

static void
docs_op_schema_put(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = docs_jstr(rq->body, "class");
	json_t *old = NULL, *s = NULL;
	struct docs_group g;
	docs_group_init(&g);
	const char *added[DOCS_MAX_INDEXES];
	uint32_t nadded = 0;
	if (docs_master_only(rq, &e) != 0)
		goto fail;
	if (!docs_valid_class(cls)) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME, "Invalid class name");
		goto fail;
	}
	bool create = json_is_true(json_object_get(rq->body, "create"));
	old = docs_schema_load(d, rq->app, cls);
	if (d->store_down) { /* nothing of what follows is done */
		docs_answer_err(rq, &(struct perr){.http = 503});
		goto out;
	}
	if (create && old) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "Class %s already exists.", cls);
		goto fail;
	}
	if (!create && !old) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "Class %s does not exist.", cls);
		goto fail;
	}
	s = old ? json_deep_copy(old)
		: json_pack("{s:s,s:{}}", "className", cls, "fields");
	json_t *fields = json_object_get(s, "fields");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rq->body, "fields"), k, v)
	{
		if (docs_is_reserved(k))
			continue;
		if (!docs_field_name_ok(k)) {
			perr_set(&e, 400, PERR_INVALID_KEY_NAME,
				 "invalid field name: %s", k);
			goto fail;
		}
		if (docs_is_delete_op(v)) {
			json_object_del(fields, k);
			continue;
		}
		const char *t = docs_jstr(v, "type");
		bool known = false;
		for (int i = 0; t && docs_types[i]; i++)
			known |= strcmp(t, docs_types[i]) == 0;
		if (!known) {
			perr_set(&e, 400, PERR_INCORRECT_TYPE,
				 "invalid field type: %s", t ? t : "(none)");
			goto fail;
		}
		const char *have = docs_jstr(json_object_get(fields, k), "type");
		if (have && strcmp(have, t) != 0) {
			perr_set(&e, 400, PERR_INCORRECT_TYPE,
				 "Field %s exists, cannot update.", k);
			goto fail;
		}
		if (json_object_size(fields) >= DOCS_MAX_FIELDS) {
			perr_set(&e, 400, PERR_INCORRECT_TYPE,
				 "a class has at most %d fields",
				 DOCS_MAX_FIELDS);
			goto fail;
		}
		json_t *f = json_pack("{s:s}", "type", t);
		const char *tc = docs_jstr(v, "targetClass");
		if (tc)
			json_object_set_new(f, "targetClass", json_string(tc));
		json_object_set_new(fields, k, f);
	}
	const json_t *clp = json_object_get(rq->body, "classLevelPermissions");
	if (clp != NULL && !json_is_null(clp)) {
		if (!json_is_object(clp)) {
			perr_set(&e, 400, PERR_INVALID_JSON,
				 "classLevelPermissions is an object");
			goto fail;
		}
		json_object_set(s, "classLevelPermissions", (json_t *)clp);
	}
	json_t *want = json_object_get(rq->body, "indexes");
	if (want != NULL) {
		json_t *ixs = json_object_get(s, "indexes");
		json_t *st = json_object_get(s, "_ix");
		if (!json_is_object(ixs)) {
			ixs = json_object();
			json_object_set_new(s, "indexes", ixs);
		}
		if (!json_is_object(st)) {
			st = json_object();
			json_object_set_new(s, "_ix", st);
		}
		json_object_foreach(want, k, v)
		{
			if (!docs_field_name_ok(k) ||
			    strlen(k) >= DOCS_INDEX_NAME_MAX) {
				perr_set(&e, 400, PERR_INVALID_KEY_NAME,
					 "invalid index name: %s", k);
				goto fail;
			}
			if (docs_is_delete_op(v)) {
				if (!json_object_get(ixs, k)) {
					perr_set(&e, 400, PERR_INVALID_QUERY,
						 "Index %s does not exist", k);
					goto fail;
				}
				char kn[DOCS_INDEX_NAME_MAX];
				snprintf(kn, sizeof(kn), "%s", k);
				docs_index_remove(d, &g, s, rq->app, cls, kn);
				continue;
			}
			if (json_object_get(ixs, k)) {
				perr_set(&e, 400, PERR_INVALID_QUERY,
					 "Index %s exists", k);
				goto fail;
			}
			size_t nf = json_is_object(v) ? json_object_size(v) : 0;
			if (nf == 0 || nf > DOCS_INDEX_FIELDS) {
				perr_set(&e, 400, PERR_INVALID_QUERY,
					 "index %s: 1 to %d fields, each 1 or "
					 "-1",
					 k, DOCS_INDEX_FIELDS);
				goto fail;
			}
			const char *f;
			json_t *dir;
			json_object_foreach(v, f, dir)
			{
				double x = json_number_value(dir);
				/* "_rperm": the readers (an ACL index),
				 * first and ascending only */
				bool fok = docs_field_name_ok(f) ||
					   strcmp(f, "createdAt") == 0 ||
					   strcmp(f, "updatedAt") == 0 ||
					   (strcmp(f, "_rperm") == 0 &&
					    f == json_object_iter_key(
							 json_object_iter(v)) &&
					    x == 1);
				if (!fok || !json_is_integer(dir) ||
				    (x != 1 && x != -1)) {
					perr_set(&e, 400, PERR_INVALID_QUERY,
						 "index %s: field %s must be "
						 "1 or -1",
						 k, f);
					goto fail;
				}
			}
			if (json_object_size(ixs) >= DOCS_MAX_INDEXES) {
				perr_set(&e, 400, PERR_INVALID_QUERY,
					 "a class has at most %d indexes",
					 DOCS_MAX_INDEXES);
				goto fail;
			}
			json_object_set(ixs, k, v);
			json_object_set_new(st, k, json_string("building"));
			struct docs_ixrt *r =
				docs_ixrt_get(d, rq->app, cls, k, true);
			memset(r->reason, 0, sizeof(r->reason));
			r->is_auto = false;
			r->counted = true;
			r->created_ms = docs_wall_ms();
			snprintf(r->reason, sizeof(r->reason), "declared");
			r->shape[0] = 0;
			r->hits = r->saved = r->wpq = 0;
			r->entries = r->bytes = 0;
			docs_ixrt_put(&g, r);
			added[nadded++] = json_object_iter_key(
				json_object_iter_at(ixs, k));
		}
	}
	docs_schema_put(d, &g, rq->app, cls, s);
	if (docs_expired(rq, &e))
		goto fail;
	for (uint32_t i = 0; i < nadded; i++)
		docs_build_add(d, rq->app, cls, added[i]);
	d->st.ops[ACC_DOC_SCHEMA_PUT]++;
	docs_commit(rq, &g, 200, docs_schema_out(s));
	goto out;
fail:
	docs_answer_err(rq, &e);
out:
	docs_group_free(&g);
	json_decref(old);
	json_decref(s);
}

static int
docs_any_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl, (void)v, (void)vl;
	*(bool *)arg = true;
	return 1;
}

static void
docs_op_schema_delete(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	const char *cls = docs_jstr(rq->body, "class");
	json_t *s = NULL;
	if (docs_master_only(rq, &e) != 0)
		goto fail;
	if (!docs_valid_class(cls) ||
	    (s = docs_schema_load(d, rq->app, cls)) == NULL) {
		perr_set(&e, 400, PERR_INVALID_CLASS_NAME,
			 "Class %s does not exist.", cls ? cls : "");
		goto fail;
	}
	bool any = false;
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	docs_kobj(&lo, rq->app, cls, NULL);
	buf_append(&hi, lo.data, lo.len);
	hi.data[hi.len - 1] = 1;
	docs_drv_scan(d, DOCS_T_OBJ, lo.data, lo.len, hi.data, hi.len,
			 false, docs_any_cb, &any);
	if (any) {
		buf_destroy(&lo);
		buf_destroy(&hi);
		perr_set(&e, 400, DOCS_CLASS_NOT_EMPTY,
			 "Class %s is not empty, contains objects, cannot "
			 "drop schema.",
			 cls);
		goto fail;
	}
	struct docs_group g;
	docs_group_init(&g);
	docs_group_add(&g, DOCS_DEL_PREFIX, DOCS_T_IDX, lo.data, lo.len, NULL, 0);
	docs_ixrt_forget(d, &g, rq->app, cls);
	struct buf sk = BUF_INIT, sv = BUF_INIT;
	docs_kmeta(&sk, 's', rq->app, cls, NULL);
	if (docs_read(d, DOCS_T_META, &sk, &sv) == 0)
		g.delta -= (int64_t)(sk.len + sv.len);
	docs_group_del(&g, DOCS_T_META, &sk);
	buf_destroy(&sk);
	buf_destroy(&sv);
	buf_destroy(&lo);
	buf_destroy(&hi);
	d->st.ops[ACC_DOC_SCHEMA_DELETE]++;
	docs_commit(rq, &g, 200, json_object());
	docs_group_free(&g);
	json_decref(s);
	return;
fail:
	json_decref(s);
	docs_answer_err(rq, &e);
}

static void
docs_op_drop_app(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	if (docs_master_only(rq, &e) != 0) {
		docs_answer_err(rq, &e);
		return;
	}
	struct docs_group g;
	docs_group_init(&g);
	struct buf k = BUF_INIT;
	docs_kobj(&k, rq->app, "", NULL);
	k.len--; /* app \0 */
	docs_group_add(&g, DOCS_DEL_PREFIX, DOCS_T_OBJ, k.data, k.len, NULL, 0);
	docs_group_add(&g, DOCS_DEL_PREFIX, DOCS_T_IDX, k.data, k.len, NULL, 0);
	static const char tags[] = "sueRrtSqA";
	for (const char *t = tags; *t; t++) {
		docs_kmeta(&k, *t, rq->app, NULL, NULL);
		docs_group_add(&g, DOCS_DEL_PREFIX, DOCS_T_META, k.data, k.len,
			       NULL, 0);
	}
	buf_destroy(&k);
	docs_usage_of(d, rq->app)->used = 0;
	docs_ixrt_forget(d, NULL, rq->app, NULL);
	/* builds of the app end: their schemas are gone */
	for (struct docs_build *b = d->builds; b; b = b->next)
		if (strcmp(b->app, rq->app) == 0)
			b->app[0] = 0; /* dropped at its next tick */
	d->st.ops[ACC_DOC_DROP_APP]++;
	docs_commit(rq, &g, 200, json_object());
	docs_group_free(&g);
}

/* ------------------------------------------------------------ builds */

enum { DOCS_TAG_BUILD = 1 };

static void
docs_build_arm(struct docs *d)
{
	if (d->build_armed || d->builds == NULL)
		return;
	d->build_armed = true;
	actor_timer_start(d->self, &d->build_timer, 0, 0, DOCS_TAG_BUILD);
}

static void
docs_build_add(struct docs *d, const char *app, const char *cls,
	       const char *name)
{
	if (docs_in_vain(d))
		return; /* its schema was not written */
	struct docs_build *b = xcalloc(1, sizeof(*b));
	snprintf(b->app, sizeof(b->app), "%s", app);
	snprintf(b->cls, sizeof(b->cls), "%s", cls);
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->after = d->q_seq;
	struct docs_build **pp = &d->builds;
	while (*pp)
		pp = &(*pp)->next;
	*pp = b;
	docs_build_arm(d);
}

/* The name of @a b's lock among agents (docs_driver_vt.lock). */
static void
docs_build_lock_name(const struct docs_build *b, char *out, size_t n)
{
	snprintf(out, n, "build %s %s %s", b->app, b->cls, b->name);
}

/* Build @a b's index in @a schema: its state in "_ix" ("building",
 * "ready"; NULL: none) and its definition, *x (NULL when the schema no
 * longer declares it), among the schema's *nix indexes put in @a ix. */
static const char *
docs_build_index(const json_t *schema, const struct docs_build *b,
		 struct docs_index ix[DOCS_MAX_INDEXES], uint32_t *nix,
		 const struct docs_index **x)
{
	*nix = docs_indexes(schema, ix, DOCS_MAX_INDEXES);
	*x = NULL;
	for (uint32_t i = 0; i < *nix; i++)
		if (strcmp(ix[i].name, b->name) == 0)
			*x = &ix[i];
	return docs_jstr(json_object_get(schema, "_ix"), b->name);
}

static void
docs_build_free(struct docs *d, struct docs_build *b)
{
	if (b->locked && d->drv->vt->lock != NULL) {
		char name[DOCS_PG_LOCK_NAME_MAX];
		docs_build_lock_name(b, name, sizeof(name));
		d->drv->vt->lock(d->drv, NULL, name, false);
	}
	for (struct docs_build **pp = &d->builds; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	if (b->view != NULL)
		d->drv->vt->view_close(d->drv, b->view);
	buf_destroy(&b->cursor);
	buf_destroy(&b->dirty);
	free(b);
}

struct docs_build_scan {
	struct docs *d;
	struct docs_build *b;
	const struct docs_index *ix;
	struct docs_group *g;
	uint32_t n, max;
	struct buf last;
	bool more;
};

static bool docs_build_dirty(const struct docs_build *b, uint8_t t,
			     const void *k, size_t kl);

static int
docs_build_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct docs_build_scan *s = arg;
	/* an _rperm index puts up to DOCS_RPERM_MAX entries per object: a
	 * chunk also ends before its group passes DOCS_GROUP_MAX (room left
	 * for the schema and usage records of the last chunk) */
	if (s->n >= s->max ||
	    s->g->n + DOCS_RPERM_MAX + 8 >= DOCS_GROUP_MAX) {
		s->more = true;
		return 1;
	}
	s->n++;
	s->last.len = 0;
	buf_append(&s->last, k, kl);
	/* the latest version: a queued write of it may be in the overlay
	 * (its own group maintains this index too, after ours) */
	struct docs_ov *o = docs_ov_find(s->d, DOCS_T_OBJ, k, kl);
	if (o && o->deleted)
		return 0;
	/* written since this chunk's page was fetched, durable now: what
	 * the page holds may be older, and that write maintained this
	 * index itself (it was queued after the index was declared) */
	if (o == NULL && s->b->view_parked &&
	    docs_build_dirty(s->b, DOCS_T_OBJ, k, kl))
		return 0;
	if (o) {
		v = o->val.data;
		vl = o->val.len;
	}
	json_t *obj = json_loadb(v, vl, 0, NULL);
	if (obj == NULL)
		return 0;
	struct buf list = BUF_INIT;
	docs_index_keys(&list, s->b->app, s->b->cls, s->ix, obj, NULL);
	struct docs_ixrt *r =
		docs_ixrt_get(s->d, s->b->app, s->b->cls, s->b->name, false);
	size_t at = 0, el;
	const uint8_t *kp;
	while (docs_keys_next(&list, &at, &kp, &el)) {
		docs_group_add(s->g, DOCS_PUT, DOCS_T_IDX, kp, el, "", 0);
		s->g->delta += (int64_t)el;
		if (r)
			r->entries++, r->bytes += (int64_t)el;
	}
	buf_destroy(&list);
	json_decref(obj);
	return 0;
}

/*
 * A declared index is ready: an automatic one with the same fields is
 * dropped with it (declaring what the accessory guessed makes the guess
 * the operator's; until the declared one is ready the automatic one
 * keeps serving).  Adds the removals to @a g and @a ns.
 */
static void
docs_auto_superseded(struct docs *d, struct docs_group *g, json_t *ns,
		     const struct docs_build *b, const struct docs_index *x,
		     const struct docs_index *ix, uint32_t nix)
{
	struct docs_ixrt *me = docs_ixrt_get(d, b->app, b->cls, b->name, false);
	if (me != NULL && me->is_auto)
		return;
	const char *f[DOCS_INDEX_FIELDS];
	for (uint32_t i = 0; i < x->nf; i++)
		f[i] = x->field[i];
	for (uint32_t i = 0; i < nix; i++) {
		if (strcmp(ix[i].name, b->name) == 0 ||
		    !docs_index_same(&ix[i], f, x->desc, x->nf))
			continue;
		struct docs_ixrt *r =
			docs_ixrt_get(d, b->app, b->cls, ix[i].name, false);
		if (r == NULL || !r->is_auto)
			continue;
		log_info("docs: automatic index %s of %s/%s dropped: declared "
			 "index %s has its fields",
			 ix[i].name, b->app, b->cls, b->name);
		d->st.auto_dropped++;
		char name[DOCS_INDEX_NAME_MAX];
		snprintf(name, sizeof(name), "%s", ix[i].name);
		docs_index_remove(d, g, ns, b->app, b->cls, name);
	}
}

/* Whether @a b's view may hold @a k of @a t as it was before a write that
 * is durable now (docs_build.dirty). */
static bool
docs_build_dirty(const struct docs_build *b, uint8_t t, const void *k,
		 size_t kl)
{
	if (b->dirty_all)
		return true;
	uint64_t h = docs_hash(t, k, kl);
	for (size_t at = 0; at + 8 <= b->dirty.len; at += 8)
		if (memcmp(b->dirty.data + at, &h, 8) == 0)
			return true;
	return false;
}

/* A group is durable: the builds whose views are parked note its keys
 * (they leave the overlay now; those views may hold older values). */
static void
docs_build_note_durable(struct docs *d, const struct docs_pending *w)
{
	for (struct docs_build *b = d->builds; b; b = b->next) {
		if (b->view == NULL || b->dirty_all)
			continue;
		if (w->prefixes.len > 0 ||
		    b->dirty.len / 8 + w->keys.len / 5 > DOCS_BUILD_DIRTY_MAX) {
			b->dirty_all = true;
			continue;
		}
		const uint8_t *p = w->keys.data, *end = p + w->keys.len;
		while (p + 5 <= end) {
			uint32_t kl;
			memcpy(&kl, p + 1, sizeof(kl));
			if (p + 5 + kl > end)
				break;
			uint64_t h = docs_hash(p[0], p + 5, kl);
			buf_append(&b->dirty, &h, 8);
			p += 5 + kl;
		}
	}
}

/* The schema a build step read is older than a durable write of it: the
 * step starts again on a fresh view (next tick). */
static bool
docs_build_schema_stale(struct docs *d, struct docs_build *b)
{
	if (!b->rerun || b->dirty.len == 0)
		return b->rerun && b->dirty_all;
	struct buf k = BUF_INIT;
	docs_kmeta(&k, 's', b->app, b->cls, NULL);
	bool stale = docs_build_dirty(b, DOCS_T_META, k.data, k.len);
	buf_destroy(&k);
	(void)d;
	return stale;
}

/*
 * A build's step reads through a view of its own (restartable reads,
 * docs_driver.h), like a request's run: begun with a view (the one its
 * last step parked with, or a new one) ...
 */
static void
docs_build_begin(struct docs *d, struct docs_build *b)
{
	d->in_run = true;
	d->store_down = false;
	d->again = false;
	d->read_err = 0;
	d->view = NULL;
	if (b->view != NULL && b->dirty_all) {
		/* too much was written meanwhile: read afresh */
		d->drv->vt->view_close(d->drv, b->view);
		b->view = NULL;
	}
	if (b->view == NULL) {
		b->dirty.len = 0;
		b->dirty_all = false;
	}
	b->rerun = b->view_parked = b->view != NULL;
	if (b->view != NULL) {
		d->view = b->view;
		b->view = NULL;
	} else if (d->drv->vt->view_open != NULL) {
		b->tag = ++d->tag_seq;
		d->view = d->drv->vt->view_open(d->drv, b->tag);
	}
}

/* ... and ended: a step that started a fetch (true) keeps its view and
 * waits for docs_on_read; any other closes it.  Not for a freed build. */
static bool
docs_build_end(struct docs *d, struct docs_build *b)
{
	bool again = d->again;
	if (again) {
		b->view = d->view;
		b->fetching = true;
	} else if (d->view != NULL) {
		d->drv->vt->view_close(d->drv, d->view);
		b->dirty.len = 0;
		b->dirty_all = false;
	}
	d->view = NULL;
	d->in_run = false;
	d->store_down = false;
	d->again = false;
	return again;
}

/* A step whose build was freed in it: its view closes. */
static void
docs_build_gone(struct docs *d)
{
	if (d->view != NULL)
		d->drv->vt->view_close(d->drv, d->view);
	d->view = NULL;
	d->in_run = false;
	d->store_down = false;
	d->again = false;
}

static bool docs_build_ready(struct docs *d, struct docs_build *b);

/* The final step: the index's statistics recounted from the store
 * (writes during the build may have counted an entry the build put
 * again), the app's automatic indexes held to its budget.  False: a
 * fetch is under way (run again). */
/* Recounts from the store once every group queued before is durable; a
 * count whose reads waited while groups were queued (they may or may not
 * be in it: their entries were counted as they were queued) is started
 * again, DOCS_RECOUNT_TRIES times at most (then it stands, about right). */
#define DOCS_RECOUNT_TRIES 3

static bool
docs_build_final(struct docs *d, struct docs_build *b)
{
	struct docs_ixrt *r = docs_ixrt_get(d, b->app, b->cls, b->name, false);
	if (r != NULL && d->view != NULL) {
		if (!b->rerun) {
			b->recount_seq = d->q_seq;
			if (d->done_seq < d->q_seq) {
				b->after = d->q_seq; /* wait for them */
				return false;
			}
		} else if (b->recount_seq != d->q_seq &&
			   b->recounts < DOCS_RECOUNT_TRIES) {
			b->recounts++;
			b->after = d->q_seq; /* a fresh view, after them */
			return false;
		}
	}
	if (r != NULL)
		docs_ixrt_recount(d, r);
	if (d->again)
		return false;
	if (r != NULL && r->is_auto)
		docs_auto_enforce(d, b->app);
	return !d->again;
}

/* One step of each build per tick (a chunk for most). */
static void
docs_build_tick(struct docs *d)
{
	d->build_armed = false;
	bool blocked = false;
	for (struct docs_build *b = d->builds, *next; b; b = next) {
		next = b->next;
		if (b->writing || b->fetching || d->done_seq < b->after)
			continue; /* docs_on_done/docs_on_read arm the tick */
		if (b->step == DOCS_BSTEP_READY) {
			docs_build_begin(d, b);
			(void)docs_usage_of(d, b->app); /* docs_queue's */
			if (!d->again && docs_build_schema_stale(d, b)) {
				docs_build_end(d, b); /* afresh, next tick */
				docs_build_arm(d);
				continue;
			}
			bool ok = d->again || docs_build_ready(d, b);
			if (d->again && !b->writing) {
				docs_build_end(d, b);
			} else if (!ok) {
				docs_build_free(d, b);
				docs_build_gone(d);
			} else {
				d->again = false; /* queued: not again */
				docs_build_end(d, b);
			}
			continue;
		}
		if (b->step == DOCS_BSTEP_FINAL) {
			docs_build_begin(d, b);
			if (docs_build_final(d, b)) {
				log_info("docs: index %s of %s/%s is ready",
					 b->name, b->app, b->cls);
				d->st.builds_done++;
				docs_build_free(d, b);
				docs_build_gone(d);
			} else if (!docs_build_end(d, b)) {
				docs_build_arm(d); /* counted again, later */
			}
			continue;
		}
		docs_build_begin(d, b);
		if (d->drv->vt->lock != NULL) {
			/* one agent builds an index at a time; the lock dies
			 * with its holder, and this one takes over (puts are
			 * idempotent: from its own cursor).  Taking it is a
			 * fetch of the step's view, once per build (held
			 * after) */
			char name[DOCS_PG_LOCK_NAME_MAX];
			docs_build_lock_name(b, name, sizeof(name));
			int lk = d->drv->vt->lock(d->drv, d->view, name, true);
			if (lk == DOCS_AGAIN) {
				d->again = true;
				docs_build_end(d, b);
				continue;
			}
			b->locked = lk == 1;
			if (!b->locked) {
				json_t *s = docs_schema_load(d, b->app, b->cls);
				const char *st = docs_jstr(
					json_object_get(s, "_ix"), b->name);
				bool building = st && strcmp(st, "building") == 0;
				json_decref(s);
				if (d->again) {
					docs_build_end(d, b);
					continue;
				}
				bool down = d->store_down || lk < 0;
				docs_build_end(d, b);
				if (down) { /* not known: tried again later */
					blocked = true;
					continue;
				}
				if (!building) { /* another agent finished it */
					docs_build_free(d, b);
					continue;
				}
				blocked = true;
				continue;
			}
		}
		if (b->app[0])
			(void)docs_usage_of(d, b->app); /* docs_queue's */
		json_t *schema = b->app[0] ? docs_schema_load(d, b->app, b->cls)
					   : NULL;
		if (!d->again && docs_build_schema_stale(d, b)) {
			json_decref(schema);
			docs_build_end(d, b); /* closes the view */
			docs_build_arm(d);
			continue;
		}
		if (d->again) {
			json_decref(schema);
			docs_build_end(d, b);
			continue;
		}
		struct docs_index ix[DOCS_MAX_INDEXES];
		const struct docs_index *x;
		uint32_t nix;
		const char *state = docs_build_index(schema, b, ix, &nix, &x);
		if (!state || strcmp(state, "building") != 0 || x == NULL) {
			/* dropped, or ready already (a store error: the schema
			 * could not be read; it is tried again) */
			json_decref(schema);
			bool down = d->store_down;
			docs_build_end(d, b);
			if (down) {
				blocked = true;
				continue;
			}
			docs_build_free(d, b);
			continue;
		}
		struct docs_group g;
		docs_group_init(&g);
		struct buf lo = BUF_INIT, hi = BUF_INIT;
		docs_kobj(&hi, b->app, b->cls, NULL);
		hi.data[hi.len - 1] = 1;
		if (b->cursor.len) {
			buf_append(&lo, b->cursor.data, b->cursor.len);
			buf_append(&lo, "", 1); /* just after it */
		} else {
			docs_kobj(&lo, b->app, b->cls, NULL);
		}
		struct docs_build_scan s = {d, b, x, &g, 0, d->cfg.build_chunk,
					    BUF_INIT, false};
		int rc = docs_drv_scan(d, DOCS_T_OBJ, lo.data, lo.len,
					  hi.data, hi.len, false, docs_build_cb,
					  &s);
		buf_destroy(&lo);
		buf_destroy(&hi);
		if (rc != 0) {
			if (rc != DOCS_AGAIN)
				log_error("docs: index %s of %s/%s: store error",
					  b->name, b->app, b->cls);
			buf_destroy(&s.last);
			docs_group_free(&g);
			json_decref(schema);
			if (!docs_build_end(d, b))
				blocked = true; /* tried again later */
			continue;
		}
		struct docs_pending *w = xcalloc(1, sizeof(*w));
		w->kind = DOCS_JOB_GROUP;
		w->build = b;
		w->build_done = !s.more;
		buf_append(&w->next_cursor, s.last.data, s.last.len);
		/* the index is declared ready only once this last chunk's
		 * entries are durable (docs_build_ready): a query that read
		 * "ready" from the overlay while they were not would scan an
		 * index missing them (seen with PostgreSQL's longer commits) */
		b->writing = true;
		docs_queue(d, b->app, &g, w);
		docs_group_free(&g);
		buf_destroy(&s.last);
		json_decref(schema);
		docs_build_end(d, b);
	}
	if (blocked && !d->build_armed && !d->stopping) {
		/* another agent builds, or the store failed: look again
		 * later (it may die, or come back) */
		d->build_armed = true;
		actor_timer_start(d->self, &d->build_timer,
				  DOCS_BUILD_LOCK_RETRY_MS, 0, DOCS_TAG_BUILD);
	}
}

/* The last chunk of @a b is durable: the schema says the index is ready
 * (and the automatic ones it supersedes go), in a group of its own whose
 * durability ends the build (docs_build_done).  False: the index is gone
 * (dropped meanwhile). */
static bool
docs_build_ready(struct docs *d, struct docs_build *b)
{
	bool queued = false;
	json_t *schema = docs_schema_load(d, b->app, b->cls);
	struct docs_index ix[DOCS_MAX_INDEXES];
	const struct docs_index *x;
	uint32_t nix;
	const char *state = docs_build_index(schema, b, ix, &nix, &x);
	if (state != NULL && strcmp(state, "building") == 0 && x != NULL) {
		struct docs_group g;
		docs_group_init(&g);
		json_t *ns = json_deep_copy(schema);
		json_object_set_new(json_object_get(ns, "_ix"), b->name,
				    json_string("ready"));
		docs_auto_superseded(d, &g, ns, b, x, ix, nix);
		docs_schema_put(d, &g, b->app, b->cls, ns);
		json_decref(ns);
		struct docs_pending *w = xcalloc(1, sizeof(*w));
		w->kind = DOCS_JOB_GROUP;
		w->build = b;
		w->build_done = w->build_ready = true;
		b->writing = true;
		docs_queue(d, b->app, &g, w);
		docs_group_free(&g);
		queued = true;
	}
	json_decref(schema);
	return queued;
}

static void
docs_build_done(struct docs *d, struct docs_pending *w)
{
	struct docs_build *b = w->build;
	b->writing = false;
	if (w->drv_status != 0) {
		log_error("docs: index %s of %s/%s: a chunk failed (%d); "
			  "retrying",
			  b->name, b->app, b->cls, w->drv_status);
	} else if (b->app[0] == 0) {
		docs_build_free(d, b); /* its app was dropped meanwhile */
	} else if (w->build_done && !w->build_ready) {
		b->step = DOCS_BSTEP_READY; /* the tick reads the schema */
	} else if (w->build_done) {
		b->step = DOCS_BSTEP_FINAL; /* counted done once recounted */
	} else {
		b->cursor.len = 0;
		buf_append(&b->cursor, w->next_cursor.data, w->next_cursor.len);
	}
	docs_build_arm(d);
}

/* At start: builds the last run did not finish (from the beginning:
 * index puts are idempotent). */
static int
docs_resume_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct docs *d = arg;
	const char *key = (const char *)k + 1;
	size_t al = strnlen(key, kl - 1);
	if (al + 2 >= kl || al >= DOCS_APP_MAX)
		return 0;
	char app[DOCS_APP_MAX], cls[DOCS_CLASS_MAX + 1];
	memcpy(app, key, al);
	app[al] = 0;
	size_t cl = kl - 2 - al;
	if (cl > DOCS_CLASS_MAX)
		return 0;
	memcpy(cls, key + al + 1, cl);
	cls[cl] = 0;
	json_t *s = json_loadb(v, vl, 0, NULL);
	const char *name;
	json_t *st;
	json_object_foreach(json_object_get(s, "_ix"), name, st)
	{
		if (json_is_string(st) &&
		    strcmp(json_string_value(st), "building") == 0)
			docs_build_add(d, app, cls, name);
	}
	json_decref(s);
	return 0;
}

/* ------------------------------------------------- automatic indexes */

/*
 * docs/INDEXES.md tells the model; accessory/autoindex.h keeps the shapes
 * and defends the thresholds.  Here: what a query cost is counted
 * (docs_auto_observe), a due shape gets its index (docs_auto_create) as
 * SCHEMA_PUT would declare it, marked automatic in its META 'A' record,
 * and the app's budget over automatic indexes is kept (docs_auto_fit:
 * the automatic index that saves least goes if it saves less than the
 * candidate would; declared indexes are never dropped here).
 */

static uint64_t
docs_budget_of(struct docs *d, const char *app)
{
	uint64_t b = docs_usage_of(d, app)->index_budget;
	return b ? b : d->cfg.index_budget;
}

/* Bytes of the automatic indexes of @a app. */
static uint64_t
docs_auto_bytes(struct docs *d, const char *app)
{
	uint64_t sum = 0;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->ixrt, &it, &k, &v))
		for (struct docs_ixrt *r = v; r; r = r->next)
			if (r->is_auto && strcmp(r->app, app) == 0 &&
			    r->bytes > 0)
				sum += (uint64_t)r->bytes;
	return sum;
}

/* The automatic index of @a app that saves least (NULL: none). */
static struct docs_ixrt *
docs_auto_least(struct docs *d, const char *app)
{
	struct docs_ixrt *best = NULL;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->ixrt, &it, &k, &v))
		for (struct docs_ixrt *r = v; r; r = r->next)
			if (r->is_auto && strcmp(r->app, app) == 0 &&
			    (best == NULL ||
			     docs_ixrt_worth(d, r) < docs_ixrt_worth(d, best)))
				best = r;
	return best;
}

/* Queues @a g with no one to answer (automatic indexes, statistics). */
static void
docs_queue_quiet(struct docs *d, const char *app, struct docs_group *g)
{
	if (d->in_run)
		(void)docs_usage_of(d, app); /* as docs_commit */
	if (docs_in_vain(d))
		return; /* built on a failed read: not written */
	struct docs_pending *w = xcalloc(1, sizeof(*w));
	w->kind = DOCS_JOB_GROUP;
	docs_queue(d, app, g, w);
}

/* Adds to @a g the removal of index @a name from @a ns (a copy of the
 * schema) and of its entries and record; frees its statistics. */
static void
docs_index_remove(struct docs *d, struct docs_group *g, json_t *ns,
		  const char *app, const char *cls, const char *name)
{
	struct buf p = BUF_INIT;
	docs_kidx(&p, app, cls, name);
	docs_group_add(g, DOCS_DEL_PREFIX, DOCS_T_IDX, p.data, p.len, NULL, 0);
	docs_kmeta(&p, 'A', app, cls, name);
	docs_group_del(g, DOCS_T_META, &p);
	buf_destroy(&p);
	struct docs_ixrt *r = docs_ixrt_get(d, app, cls, name, false);
	if (r != NULL) {
		g->delta -= r->bytes > 0 ? r->bytes : 0;
		docs_ixrt_free(d, r);
	}
	json_object_del(json_object_get(ns, "indexes"), name);
	json_object_del(json_object_get(ns, "_ix"), name);
}

/* Drops the automatic index @a r (its own group). */
static void
docs_auto_drop(struct docs *d, struct docs_ixrt *r, const char *why)
{
	char app[DOCS_APP_MAX], cls[DOCS_CLASS_MAX + 1],
		name[DOCS_INDEX_NAME_MAX];
	snprintf(app, sizeof(app), "%s", r->app);
	snprintf(cls, sizeof(cls), "%s", r->cls);
	snprintf(name, sizeof(name), "%s", r->name);
	json_t *schema = docs_schema_load(d, app, cls);
	if (docs_in_vain(d)) {
		json_decref(schema); /* not known: nothing is dropped */
		return;
	}
	log_info("docs: automatic index %s of %s/%s dropped: %s", name, app,
		 cls, why);
	json_t *ns = schema ? json_deep_copy(schema) : NULL;
	json_decref(schema);
	struct docs_group g;
	docs_group_init(&g);
	if (ns == NULL) {
		struct buf p = BUF_INIT;
		docs_kmeta(&p, 'A', app, cls, name);
		docs_group_del(&g, DOCS_T_META, &p);
		buf_destroy(&p);
		docs_ixrt_free(d, r);
	} else {
		docs_index_remove(d, &g, ns, app, cls, name);
		docs_schema_put(d, &g, app, cls, ns);
	}
	d->st.auto_dropped++;
	docs_queue_quiet(d, app, &g);
	docs_group_free(&g);
	json_decref(ns);
}

/* Does @a x hold exactly fields @a f with directions @a dsc? */
static bool
docs_index_same(const struct docs_index *x, const char **f, const bool *dsc,
		uint32_t n)
{
	if (x->nf != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(x->field[i], f[i]) != 0 || x->desc[i] != dsc[i])
			return false;
	return true;
}

static void
docs_auto_refuse(struct docs *d, struct autoix_shape *sh, const char *note)
{
	/* logged when the verdict changes, not at each query after */
	if (sh->verdict != AUTOIX_REFUSED) {
		char what[160];
		autoix_describe(&sh->key, what, sizeof(what));
		log_info("docs: no automatic index for %s/%s (%s): %s",
			 sh->key.app, sh->key.cls, what, note);
		d->st.auto_refused++;
	}
	sh->verdict = AUTOIX_REFUSED;
	snprintf(sh->note, sizeof(sh->note), "%s", note);
}

/*
 * Bytes an index of @a n fields over the objects @a sh has seen would
 * take, about: the largest scan of the shape (a refused query saw at
 * least that many objects) times a key of the prefix, the id and 12
 * bytes per encoded value (a short string or a number's 9..17).
 */
static uint64_t
docs_auto_estimate(struct docs *d, const struct autoix_shape *sh,
		   const char *name, uint32_t n)
{
	uint64_t per = strlen(sh->key.app) + strlen(sh->key.cls) +
		       strlen(name) + 3 + DOCS_ID_LEN + 12ull * n;
	/* an index of the class has an entry per object (an ACL index one
	 * per reader, a little more): the class's size, better than what
	 * scans saw */
	uint64_t rows = sh->max_scanned;
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->ixrt, &it, &k, &v))
		for (struct docs_ixrt *r = v; r; r = r->next)
			if (r->counted && r->entries > 0 &&
			    (uint64_t)r->entries > rows &&
			    strcmp(r->app, sh->key.app) == 0 &&
			    strcmp(r->cls, sh->key.cls) == 0)
				rows = (uint64_t)r->entries;
	uint64_t est = rows * per;
	uintptr_t was = (uintptr_t)map_get(
		&d->auto_measured, docs_ixrt_hash(sh->key.app, sh->key.cls, name));
	return (uint64_t)was > est ? (uint64_t)was : est;
}

/* What a shape's index would save: the objects its queries examined in
 * vain (for an ACL shape, those the filter rejected). */
static uint64_t
docs_auto_saves(const struct autoix_shape *sh)
{
	if (sh->key.acl)
		return sh->rejected;
	return sh->scanned > sh->returned ? sh->scanned - sh->returned : 0;
}

/* Makes room for @a need more bytes of automatic indexes of @a app,
 * dropping those that save less than @a saves.  true if it fits. */
static bool
docs_auto_fit(struct docs *d, const char *app, uint64_t need, uint64_t saves,
	      const char *for_what, char *note, size_t len)
{
	uint64_t budget = docs_budget_of(d, app);
	uint64_t used = docs_auto_bytes(d, app);
	while (used + need > budget) {
		struct docs_ixrt *r = docs_auto_least(d, app);
		if (r == NULL || docs_ixrt_worth(d, r) >= saves) {
			snprintf(note, len,
				 "the index budget is full: about %llu bytes "
				 "needed, %llu of %llu used, and no automatic "
				 "index saves less than its %llu objects",
				 (unsigned long long)need,
				 (unsigned long long)used,
				 (unsigned long long)budget,
				 (unsigned long long)saves);
			return false;
		}
		char why[160];
		snprintf(why, sizeof(why),
			 "the budget (%llu bytes) is full and it saved %llu "
			 "objects lately, less than %s would (%llu)",
			 (unsigned long long)budget,
			 (unsigned long long)docs_ixrt_worth(d, r), for_what,
			 (unsigned long long)saves);
		used -= r->bytes > 0 ? (uint64_t)r->bytes : 0;
		docs_auto_drop(d, r, why);
		if (docs_in_vain(d))
			return false; /* its schema is being fetched: later */
	}
	return true;
}

/* Builds the index @a sh wants (reasons: @a why).  true if it is queued. */
static bool
docs_auto_create(struct docs *d, const char *app, const char *cls,
		 struct autoix_shape *sh, const char *why)
{
	if (d->pending >= d->cfg.pending_max)
		return false; /* the disk is behind: later */
	const char *f[4];
	bool dsc[4];
	uint32_t n = autoix_fields(&sh->key, f, dsc);
	char name[DOCS_INDEX_NAME_MAX], note[192], what[160];
	autoix_name(&sh->key, name, sizeof(name));
	autoix_describe(&sh->key, what, sizeof(what));
	json_t *schema = docs_schema_load(d, app, cls);
	if (schema == NULL)
		return false;
	const json_t *ixs = json_object_get(schema, "indexes");
	if (json_object_get(ixs, name) != NULL) {
		json_decref(schema);
		snprintf(note, sizeof(note),
			 "an index named %s exists with other fields", name);
		docs_auto_refuse(d, sh, note);
		return false;
	}
	if (json_object_size(ixs) >= DOCS_MAX_INDEXES) {
		json_decref(schema);
		snprintf(note, sizeof(note),
			 "the class has %d indexes, the most it may",
			 DOCS_MAX_INDEXES);
		docs_auto_refuse(d, sh, note);
		return false;
	}
	json_decref(schema);
	uint64_t need = docs_auto_estimate(d, sh, name, n);
	uint64_t saves = docs_auto_saves(sh);
	if (!docs_auto_fit(d, app, need, saves, name, note, sizeof(note))) {
		docs_auto_refuse(d, sh, note);
		return false;
	}
	/* an eviction may have rewritten this class's schema: read again */
	schema = docs_schema_load(d, app, cls);
	if (schema == NULL || docs_in_vain(d)) {
		json_decref(schema);
		return false;
	}
	json_t *ns = json_deep_copy(schema);
	json_decref(schema);
	if (!json_is_object(json_object_get(ns, "indexes")))
		json_object_set_new(ns, "indexes", json_object());
	if (!json_is_object(json_object_get(ns, "_ix")))
		json_object_set_new(ns, "_ix", json_object());
	json_t *spec = json_object();
	for (uint32_t i = 0; i < n; i++)
		json_object_set_new(spec, f[i], json_integer(dsc[i] ? -1 : 1));
	json_object_set_new(json_object_get(ns, "indexes"), name, spec);
	json_object_set_new(json_object_get(ns, "_ix"), name,
			    json_string("building"));
	struct docs_group g;
	docs_group_init(&g);
	docs_schema_put(d, &g, app, cls, ns);
	json_decref(ns);
	struct docs_ixrt *r = docs_ixrt_get(d, app, cls, name, true);
	r->is_auto = true;
	r->counted = true;
	r->created_ms = docs_wall_ms();
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	snprintf(r->shape, sizeof(r->shape), "%s", what);
	r->hits = 0;
	r->entries = r->bytes = 0;
	r->saved = saves;
	r->win_saved = saves; /* the evidence it was built on */
	r->prev_saved = 0;
	r->win_start = docs_auto_now(d);
	r->wpq = sh->count ? saves / sh->count : 0;
	docs_ixrt_put(&g, r);
	docs_queue_quiet(d, app, &g);
	docs_group_free(&g);
	docs_build_add(d, app, cls, name);
	sh->verdict = AUTOIX_BUILT;
	snprintf(sh->note, sizeof(sh->note), "index %.63s: %.80s", name, why);
	d->st.auto_built++;
	log_info("docs: automatic index %s on %s/%s (%s): %s", name, app, cls,
		 what, why);
	return true;
}

static bool
docs_auto_observe(struct docs_req *rq, const char *cls, const json_t *schema,
		  const struct docs_index *ix, uint32_t nix,
		  const struct docs_plan *plan, const struct query_pin *pins,
		  uint32_t npins, const char **of, const bool *od,
		  uint32_t nof, const struct docs_qctx *c, uint64_t useful)
{
	struct docs *d = rq->d;
	(void)docs_usage_of(d, rq->app); /* what an index build queues */
	if (d->store_down)
		return false; /* what it saw is not what the store holds */
	if (plan->ix != NULL && !c->over) {
		struct docs_ixrt *r =
			docs_ixrt_get(d, rq->app, cls, plan->ix->name, true);
		r->hits++;
		r->saved += r->wpq;
		docs_ixrt_roll(d, r);
		r->win_saved += r->wpq;
		r->dirty = true;
		docs_ixstat_arm(d);
	}
	if (!d->cfg.auto_index || schema == NULL || cls[0] == '_')
		return false;
	struct autoix_key k;
	autoix_key_init(&k, rq->app, cls);
	for (uint32_t i = 0; i < npins; i++) {
		const struct query_pin *p = &pins[i];
		if (p->kind != QP_EQ || strcmp(p->field, "objectId") == 0 ||
		    p->field[0] == '_' ||
		    !docs_pin_servable(schema, p->field, p->eq))
			continue;
		if (!autoix_key_eq(&k, p->field))
			return false;
	}
	for (uint32_t i = 0; i < npins && k.last == AUTOIX_NONE; i++) {
		const struct query_pin *p = &pins[i];
		if (p->kind != QP_RANGE || p->field[0] == '_' ||
		    strlen(p->field) >= AUTOIX_FIELD_MAX ||
		    docs_pin_of(pins, npins, p->field, QP_EQ) != NULL ||
		    !docs_pin_servable(schema, p->field, p->lo) ||
		    !docs_pin_servable(schema, p->field, p->hi))
			continue;
		k.last = AUTOIX_RANGE;
		snprintf(k.last_field, sizeof(k.last_field), "%s", p->field);
	}
	if (k.last == AUTOIX_NONE && nof == 1 && of[0][0] != '_' &&
	    strlen(of[0]) < AUTOIX_FIELD_MAX &&
	    docs_pin_of(pins, npins, of[0], QP_EQ) == NULL &&
	    docs_pin_servable(schema, of[0], NULL)) {
		k.last = AUTOIX_SORT;
		k.desc = od[0];
		snprintf(k.last_field, sizeof(k.last_field), "%s", of[0]);
	}
	/* the ACL filter turned away more than the query found */
	k.acl = !rq->master && c->rejected > c->matched;
	struct autoix_shape *sh = autoix_observe(
		&d->shapes, &k, c->examined, useful, c->rejected, c->over,
		docs_auto_now(d), &d->cfg.autoix);
	const char *f[4];
	bool dsc[4];
	uint32_t n = autoix_fields(&k, f, dsc);
	if (n == 0)
		return false;
	for (uint32_t i = 0; i < nix; i++)
		if (docs_index_same(&ix[i], f, dsc, n)) {
			if (sh->verdict != AUTOIX_BUILT) {
				sh->verdict = AUTOIX_BUILT;
				snprintf(sh->note, sizeof(sh->note),
					 "served by index %s", ix[i].name);
			}
			return !ix[i].ready;
		}
	if (sh->verdict == AUTOIX_BUILT)
		sh->verdict = AUTOIX_WATCHING; /* its index was dropped */
	char why[160];
	if (!autoix_due(&d->cfg.autoix, sh, why, sizeof(why)))
		return false;
	/* refused (the budget, the class full): weighed again once what it
	 * would save has grown by a quarter, not at every query */
	uint64_t saves = docs_auto_saves(sh);
	uint64_t gen = docs_usage_of(d, rq->app)->ix_gen;
	if (sh->verdict == AUTOIX_REFUSED && gen == sh->eval_gen &&
	    saves < sh->eval_saves + sh->eval_saves / 4)
		return false;
	bool made = docs_auto_create(d, rq->app, cls, sh, why);
	if (!made) {
		sh->eval_saves = saves;
		sh->eval_gen = docs_usage_of(d, rq->app)->ix_gen;
	}
	return made;
}

/* After a build: over the budget (the estimate was short), the automatic
 * indexes that save least go. */
static void
docs_auto_enforce(struct docs *d, const char *app)
{
	uint64_t budget = docs_budget_of(d, app);
	while (docs_auto_bytes(d, app) > budget) {
		struct docs_ixrt *r = docs_auto_least(d, app);
		if (r == NULL)
			break;
		char why[160];
		snprintf(why, sizeof(why),
			 "the automatic indexes of the app hold more than its "
			 "budget (%llu bytes) and it saves least",
			 (unsigned long long)budget);
		/* what it really took: its shape is weighed on that next
		 * time (a few thousand drops at most: then start afresh) */
		if (d->auto_measured.len >= 4096) {
			map_destroy(&d->auto_measured);
			map_init(&d->auto_measured, randombytes_random());
		}
		if (r->bytes > 0)
			map_put(&d->auto_measured,
				docs_ixrt_hash(r->app, r->cls, r->name),
				(void *)(uintptr_t)r->bytes);
		docs_auto_drop(d, r, why);
		if (docs_in_vain(d))
			break; /* its schema is being fetched: run again */
	}
}

/* ------------------------------------------------- index statistics */

enum { DOCS_TAG_IXSTAT = 2 };

static void
docs_ixstat_arm(struct docs *d)
{
	if (d->ixstat_armed || d->self == NULL || d->stopping)
		return;
	d->ixstat_armed = true;
	actor_timer_start(d->self, &d->ixstat_timer, d->cfg.ixstat_flush_ms, 0,
			  DOCS_TAG_IXSTAT);
}

/* Writes the changed records of one app, in one group; true if other
 * apps' remain. */
static bool
docs_ixstat_flush(struct docs *d)
{
	d->ixstat_armed = false;
	struct docs_group g;
	docs_group_init(&g);
	size_t it = 0;
	uint64_t k;
	void *v;
	const char *app = NULL;
	bool mixed = false;
	while (map_next(&d->ixrt, &it, &k, &v))
		for (struct docs_ixrt *r = v; r; r = r->next) {
			if (!r->dirty)
				continue;
			if (app && strcmp(app, r->app) != 0) {
				mixed = true; /* one app per group: next time */
				continue;
			}
			app = r->app;
			docs_ixrt_put(&g, r);
		}
	if (g.n > 0) {
		char a[DOCS_APP_MAX];
		snprintf(a, sizeof(a), "%s", app);
		docs_queue_quiet(d, a, &g);
	}
	docs_group_free(&g);
	if (mixed)
		docs_ixstat_arm(d);
	return mixed;
}

struct docs_recount {
	int64_t entries, bytes;
};

static int
docs_recount_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)v, (void)vl;
	struct docs_recount *c = arg;
	c->entries++;
	c->bytes += (int64_t)kl;
	return 0;
}

/* Counts @a r's entries in the store (a key-only walk). */
static void
docs_ixrt_recount(struct docs *d, struct docs_ixrt *r)
{
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	docs_kidx(&lo, r->app, r->cls, r->name);
	buf_append(&hi, lo.data, lo.len);
	hi.data[hi.len - 1] = 1;
	struct docs_recount c = {0, 0};
	if (docs_drv_scan(d, DOCS_T_IDX, lo.data, lo.len, hi.data,
			     hi.len, false, docs_recount_cb, &c) == 0) {
		r->entries = c.entries;
		r->bytes = c.bytes;
		r->counted = true;
		r->dirty = true;
		docs_ixstat_arm(d);
	}
	buf_destroy(&lo);
	buf_destroy(&hi);
}

/* At start: every 'A' record ('A' app \0 class \0 name -> JSON). */
static int
docs_ixrt_load_cb(void *arg, const void *k, size_t kl, const void *v,
		  size_t vl)
{
	struct docs *d = arg;
	if (kl < 1)
		return 0;
	const char *p = (const char *)k + 1, *end = (const char *)k + kl;
	const char *z1 = memchr(p, 0, (size_t)(end - p));
	const char *z2 = z1 ? memchr(z1 + 1, 0, (size_t)(end - z1 - 1)) : NULL;
	if (z2 == NULL || z1 - p >= DOCS_APP_MAX ||
	    z2 - z1 - 1 > DOCS_CLASS_MAX || end - z2 - 1 >= DOCS_INDEX_NAME_MAX)
		return 0;
	char app[DOCS_APP_MAX], cls[DOCS_CLASS_MAX + 1],
		name[DOCS_INDEX_NAME_MAX];
	snprintf(app, sizeof(app), "%.*s", (int)(z1 - p), p);
	snprintf(cls, sizeof(cls), "%.*s", (int)(z2 - z1 - 1), z1 + 1);
	snprintf(name, sizeof(name), "%.*s", (int)(end - z2 - 1), z2 + 1);
	if (d->ixrt_fill_only && docs_ixrt_get(d, app, cls, name, false))
		return 0; /* this node's own counts are fresher */
	json_t *j = json_loadb(v, vl, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;
	}
	struct docs_ixrt *r = docs_ixrt_get(d, app, cls, name, true);
	r->is_auto = json_is_true(json_object_get(j, "auto"));
	r->counted = json_is_true(json_object_get(j, "counted"));
	r->created_ms = json_integer_value(json_object_get(j, "created"));
	snprintf(r->reason, sizeof(r->reason), "%s",
		 docs_jstr(j, "reason") ? docs_jstr(j, "reason") : "");
	snprintf(r->shape, sizeof(r->shape), "%s",
		 docs_jstr(j, "shape") ? docs_jstr(j, "shape") : "");
	r->hits = (uint64_t)json_integer_value(json_object_get(j, "hits"));
	r->saved = (uint64_t)json_integer_value(json_object_get(j, "saved"));
	/* a restart gives what it saved one window of grace */
	r->prev_saved = r->saved;
	r->win_saved = 0;
	r->win_start = docs_auto_now(d);
	r->wpq = (uint64_t)json_integer_value(json_object_get(j, "wpq"));
	r->entries = json_integer_value(json_object_get(j, "entries"));
	r->bytes = json_integer_value(json_object_get(j, "bytes"));
	json_decref(j);
	return 0;
}

/* ------------------------------------------------------- INDEXES op */

struct docs_scan_raw {
	json_t *out;
	uint32_t n;
};

static int
docs_raw_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl;
	struct docs_scan_raw *s = arg;
	json_t *j = json_loadb(v, vl, 0, NULL);
	if (j)
		json_array_append_new(s->out, j);
	return ++s->n >= DOCS_SCAN_MAX * 10;
}

static const char *
docs_verdict_name(int v)
{
	return v == AUTOIX_BUILT ? "built"
	       : v == AUTOIX_REFUSED ? "not built"
				     : "watching";
}

static void
docs_op_indexes(struct docs_req *rq)
{
	struct perr e;
	struct docs *d = rq->d;
	if (docs_master_only(rq, &e) != 0) {
		docs_answer_err(rq, &e);
		return;
	}
	const char *only = docs_jstr(rq->body, "class");
	if (only && *only == 0)
		only = NULL;
	if (d->shared) {
		/* indexes another agent made: their records (origin, shape)
		 * as they were last written; this node's counts stay its own */
		struct buf alo = BUF_INIT, ahi = BUF_INIT;
		docs_kmeta(&alo, 'A', rq->app, NULL, NULL);
		buf_append(&ahi, alo.data, alo.len);
		ahi.data[ahi.len - 1] = 1;
		d->ixrt_fill_only = true;
		docs_drv_scan(d, DOCS_T_META, alo.data, alo.len, ahi.data,
			      ahi.len, false, docs_ixrt_load_cb, d);
		d->ixrt_fill_only = false;
		buf_destroy(&alo);
		buf_destroy(&ahi);
	}
	struct docs_scan_raw s = {json_array(), 0};
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	docs_kmeta(&lo, 's', rq->app, NULL, NULL);
	buf_append(&hi, lo.data, lo.len);
	hi.data[hi.len - 1] = 1;
	docs_drv_scan(d, DOCS_T_META, lo.data, lo.len, hi.data, hi.len,
			 false, docs_raw_cb, &s);
	buf_destroy(&lo);
	buf_destroy(&hi);
	json_t *list = json_array();
	size_t i;
	json_t *sc;
	json_array_foreach(s.out, i, sc)
	{
		const char *cls = docs_jstr(sc, "className");
		if (cls == NULL || (only && strcmp(only, cls) != 0))
			continue;
		/* the latest schema (a change may not be durable yet) */
		json_t *cur = docs_schema_load(d, rq->app, cls);
		if (cur == NULL)
			continue;
		const json_t *st = json_object_get(cur, "_ix");
		const char *name;
		json_t *spec;
		json_object_foreach(json_object_get(cur, "indexes"), name, spec)
		{
			struct docs_ixrt *r =
				docs_ixrt_get(d, rq->app, cls, name, true);
			if (!r->counted)
				docs_ixrt_recount(d, r);
			const char *state = docs_jstr(st, name);
			json_array_append_new(
				list,
				json_pack("{s:s,s:s,s:O,s:s,s:s,s:I,s:I,s:I,"
					  "s:I,s:I,s:I,s:s,s:s}",
					  "class", cls, "name", name, "fields",
					  spec, "kind",
					  r->is_auto ? "auto" : "declared",
					  "state", state ? state : "ready",
					  "entries", (json_int_t)r->entries,
					  "bytes", (json_int_t)r->bytes, "hits",
					  (json_int_t)r->hits, "saved",
					  (json_int_t)r->saved, "recent",
					  (json_int_t)docs_ixrt_worth(d, r),
					  "created",
					  (json_int_t)r->created_ms, "reason",
					  r->reason[0] ? r->reason
						       : (r->is_auto ? ""
								     : "declared"),
					  "shape", r->shape));
		}
		json_decref(cur);
	}
	json_decref(s.out);
	json_t *shapes = json_array();
	for (uint32_t j = 0; j < d->shapes.n; j++) {
		const struct autoix_shape *sh = &d->shapes.v[j];
		if (strcmp(sh->key.app, rq->app) != 0 ||
		    (only && strcmp(only, sh->key.cls) != 0))
			continue;
		char what[160], name[DOCS_INDEX_NAME_MAX];
		autoix_describe(&sh->key, what, sizeof(what));
		autoix_name(&sh->key, name, sizeof(name));
		json_array_append_new(
			shapes,
			json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:s}",
				  "class", sh->key.cls, "shape", what, "index",
				  name, "queries", (json_int_t)sh->count,
				  "scanned", (json_int_t)sh->scanned,
				  "returned", (json_int_t)sh->returned,
				  "refusals", (json_int_t)sh->refusals,
				  "rejected", (json_int_t)sh->rejected,
				  "state", docs_verdict_name(sh->verdict),
				  "note", sh->note));
	}
	d->st.ops[ACC_DOC_INDEXES]++;
	docs_answer(rq, 200,
		    json_pack("{s:I,s:I,s:o,s:o}", "budget",
			      (json_int_t)docs_budget_of(d, rq->app),
			      "auto_bytes",
			      (json_int_t)docs_auto_bytes(d, rq->app),
			      "indexes", list, "shapes", shapes));
}

/* -------------------------------------------------------------- stats */

static void
docs_stats_reply(struct docs *d, struct msg *m)
{
	struct docs_driver_stats ds = {0};
	d->drv->vt->stats(d->drv, &ds);
	struct docs_cache_stats cs = docs_cache_stats(&d->cache);
	struct docs_cache_stats os = docs_cache_stats(&d->ocache);
	static const char *const opn[] = {
		NULL,	  "get",    "query",	  "create",	 "update",
		"delete", "login",  "logout",	  "me",		 "schema_get",
		"schema_put", "schema_delete", "drop_app", "indexes"};
	struct {
		const char *k;
		uint64_t v;
	} kv[] = {
		{"requests", d->st.requests},
		{"bad", d->st.bad},
		{"scans", d->st.scans},
		{"index_scans", d->st.index_scans},
		{"objects_scanned", d->st.scanned},
		{"results", d->st.results},
		{"writes", d->st.writes},
		{"pending", d->pending},
		{"refused_heavy", d->st.refused_heavy},
		{"refused_deadline", d->st.refused_deadline},
		{"refused_quota", d->st.refused_quota},
		{"refused_acl", d->st.refused_acl},
		{"refused_clp", d->st.refused_clp},
		{"refused_schema", d->st.refused_schema},
		{"refused_busy", d->st.refused_busy},
		{"store_errors", d->st.store_errors},
		{"conflicts", d->st.conflicts},
		{"index_builds_done", d->st.builds_done},
		{"auto_indexes_built", d->st.auto_built},
		{"auto_indexes_dropped", d->st.auto_dropped},
		{"auto_indexes_refused", d->st.auto_refused},
		{"rperm_scans", d->st.rperm_scans},
		{"read_parks", d->st.parks},
		{"read_reruns", d->st.reruns},
		{"read_parked", d->nparked},
		{"read_parked_expired", d->st.parked_expired},
		{"read_too_big", d->st.read_too_big},
		{"reads_sent", ds.reads_sent},
		{"reads_held", ds.reads_held},
		{"reads_sync", ds.reads_sync},
		{"reads_failed", ds.reads_failed},
		{"shapes", d->shapes.n},
		{"shape_evictions", d->shapes.evictions},
		{"bytes_used", ds.bytes_used},
		{"map_size", ds.map_size},
		{"commits", ds.commits},
		{"groups", ds.groups},
		{"map_grows", ds.grows},
		{"cache_hits", cs.hits},
		{"cache_misses", cs.misses},
		{"cache_evictions", cs.evictions},
		{"cache_invalidations", cs.invalidations},
		{"cache_entries", cs.entries},
		{"cache_bytes", cs.bytes},
		{"obj_cache_hits", os.hits},
		{"obj_cache_misses", os.misses},
		{"obj_cache_evictions", os.evictions},
		{"obj_cache_invalidations", os.invalidations},
		{"obj_cache_entries", os.entries},
		{"obj_cache_bytes", os.bytes},
	};
	size_t nkv = sizeof(kv) / sizeof(kv[0]);
	struct buf b = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &b, buf_msgpack_write);
	msgpack_pack_map(&pk, nkv + ACC_DOC_INDEXES);
	for (size_t i = 0; i < nkv; i++) {
		mp_pack_str(&pk, kv[i].k);
		msgpack_pack_uint64(&pk, kv[i].v);
	}
	for (int i = 1; i <= ACC_DOC_INDEXES; i++) {
		char k[32];
		snprintf(k, sizeof(k), "ops_%s", opn[i]);
		mp_pack_str(&pk, k);
		msgpack_pack_uint64(&pk, d->st.ops[i]);
	}
	actor_reply(d->self, m, MSG_ACC_STATS, b.data, (uint32_t)b.len);
	buf_destroy(&b);
}

/* ---------------------------------------------------------- requests */

static int
docs_caller_str(struct mp_cur *c, char *out, size_t max)
{
	const char *s;
	uint32_t n;
	if (mp_read_str(c, &s, &n) != 0 || n >= max || memchr(s, 0, n))
		return MIST_EPROTO;
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

static int
docs_session_fn(struct mp_cur *v, void *ctx)
{
	return docs_caller_str(v, ctx, AUTH_TOKEN_MAX);
}

static int
docs_install_fn(struct mp_cur *v, void *ctx)
{
	return docs_caller_str(v, ctx, 64);
}

/* The length of the run of [A-Za-z0-9_] at @a p (at most @a n). */
static size_t
docs_word_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && ((p[i] >= 'a' && p[i] <= 'z') ||
			 (p[i] >= 'A' && p[i] <= 'Z') ||
			 (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
		i++;
	return i;
}

/*
 * The body of the commonest request, a get by id, is exactly
 * {"class":"NAME","id":"ID"} (the gateway's rest_send_docs writes it so):
 * built here without the JSON parser, which costs as much as the rest of
 * the decoding.  Only that exact text of letters, digits and '_' is taken;
 * anything else (spaces, escapes, other members) is NULL, for json_loadb.
 * The names are checked later as any others are (docs_valid_class, _id).
 */
static json_t *
docs_body_get_form(const uint8_t *p, size_t n, struct docs_req *rq)
{
	static const char a[] = "{\"class\":\"", b[] = "\",\"id\":\"",
			  z[] = "\"}";
	const size_t la = sizeof(a) - 1, lb = sizeof(b) - 1, lz = sizeof(z) - 1;
	if (n < la + lb + lz || n > la + lb + lz + DOCS_CLASS_MAX + DOCS_ID_MAX ||
	    memcmp(p, a, la) != 0)
		return NULL;
	size_t off = la, cl = docs_word_len(p + off, n - off);
	const uint8_t *cls = p + off;
	off += cl;
	if (n - off < lb || memcmp(p + off, b, lb) != 0)
		return NULL;
	off += lb;
	size_t il = docs_word_len(p + off, n - off);
	const uint8_t *id = p + off;
	off += il;
	if (n - off != lz || memcmp(p + off, z, lz) != 0)
		return NULL;
	if (rq->op == ACC_DOC_GET && cl <= DOCS_CLASS_MAX && il < DOCS_ID_MAX) {
		/* docs_op_get reads the names from rq: no JSON strings */
		memcpy(rq->get_cls, cls, cl);
		rq->get_cls[cl] = '\0';
		memcpy(rq->get_id, id, il);
		rq->get_id[il] = '\0';
		rq->get_form = true;
		return json_object();
	}
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "class",
				    json_stringn_nocheck((const char *)cls, cl));
	json_object_set_new_nocheck(o, "id",
				    json_stringn_nocheck((const char *)id, il));
	return o;
}

/* Decodes @a m into @a rq.  0, or -1 with @a e set for the refusals
 * that say more than docs_decode's "malformed request" (e->http 0 else). */
static int
docs_decode_(struct docs *d, const struct msg *m, struct docs_req *rq,
	     struct perr *e)
{
	size_t used;
	struct mp_cur c;
	uint32_t n, alen, blen;
	const char *app;
	const uint8_t *body;
	uint64_t op, dl;
	e->http = 0;
	if (mp_check(m->body, m->len, MP_MAX_DEPTH, &used) != 0 ||
	    used != m->len)
		return -1;
	mp_cur_init(&c, m->body, m->len);
	if (mp_read_array(&c, &n) != 0 || n != 5)
		return -1;
	if (mp_read_str(&c, &app, &alen) != 0 || !docs_valid_app(app, alen)) {
		perr_set(e, 400, PERR_INVALID_JSON, "bad application id");
		return -1;
	}
	memcpy(rq->app, app, alen);
	rq->app[alen] = 0;
	if (mp_read_uint(&c, &op) != 0 || mp_read_uint(&c, &dl) != 0 ||
	    dl > UINT32_MAX)
		return -1;
	rq->op = op > 255 ? 0 : (uint32_t)op;
	uint64_t node = 0;
	const char *ip = NULL;
	uint32_t iplen = 0;
	const struct mp_field f[] = {
		MP_BOOL("master", &rq->master, false),
		MP_FN("session", docs_session_fn, rq->session, false),
		MP_STR("ip", &ip, &iplen, false),
		MP_FN("install", docs_install_fn, rq->install, false),
		MP_BOOL("create_classes", &rq->create_classes, false),
		MP_UINT("quota", &rq->quota, false),
		MP_UINT("index_budget", &rq->index_budget, false),
		MP_UINT("node", &node, false),
	};
	if (mp_read_fields(&c, f, MP_NFIELDS(f), NULL) != 0) {
		perr_set(e, 400, PERR_INVALID_JSON, "malformed caller");
		return -1;
	}
	if (mp_read_bin(&c, &body, &blen) != 0)
		return -1;
	if (blen > d->cfg.body_max) {
		perr_set(e, 413, PERR_OBJECT_TOO_LARGE,
			 "the request body is more than %u bytes",
			 d->cfg.body_max);
		return -1;
	}
	json_error_t je;
	rq->body = docs_body_get_form(body, blen, rq);
	if (rq->body == NULL)
		rq->body = blen ? json_loadb((const char *)body, blen,
					     JSON_REJECT_DUPLICATES, &je)
				: json_object();
	if (!json_is_object(rq->body)) {
		perr_set(e, 400, PERR_INVALID_JSON, "the body is not a JSON "
						    "object");
		return -1;
	}
	uint64_t now = docs_now_ns(d);
	rq->deadline = dl ? now + dl * 1000000ull : 0;
	return 0;
}

/* Decodes a request into @a rq: 0, or -1 with @a e set.  (The common
 * message is written only on failure: formatting it first, as the
 * default, cost every request a vsnprintf.) */
static int
docs_decode(struct docs *d, const struct msg *m, struct docs_req *rq,
	    struct perr *e)
{
	if (docs_decode_(d, m, rq, e) == 0)
		return 0;
	if (e->http == 0)
		perr_set(e, 400, PERR_INVALID_JSON, "malformed request");
	return -1;
}

static void docs_park(struct docs *d, struct docs_retry *rt);

/* Requests parked on reads at once: each holds its message and its view
 * (a few KiB for most); past it a new one is refused (503, code 155):
 * the store answers slower than requests arrive, and more would only
 * wait longer. */
#define DOCS_PARKED_MAX 8192
/* Runs of one request at most: each run in vain started a fetch, and
 * docs.c's own budgets keep a request far below (a query: its index
 * pages, DOCS_INDEX_SCAN_MAX / 512 = 98, then its objects 128 a run);
 * past it the request answers 503, code 155, rather than run on. */
#define DOCS_RUNS_MAX 1024

/*
 * Runs one request, start to end.  With a driver that has views, the run
 * reads through the request's view: the one @a rt was parked with (a run
 * again after its fetches arrived), else a new one.  A run that started a
 * fetch (docs.again) answers and queues nothing: the request is parked
 * with its view, in @a rt if given (true: @a rt was kept, the caller must
 * not free it) or in a new docs_retry.  Any other end closes the view.
 */
static bool
docs_on_request(struct docs *d, const struct msg *m,
		const struct docs_hashjob *job, struct docs_retry *rt)
{
	struct docs_req rq;
	struct perr e;
	memset(&rq, 0, sizeof(rq));
	d->in_request = true;
	d->in_run = true;
	d->store_down = false;
	d->again = false;
	d->queued = false;
	d->read_err = 0;
	d->rset.len = 0;
	/* a run in vain counts nothing (its request is counted once, by the
	 * run that answers) */
	const struct docs_stats st0 = d->st;
	d->rset_full = false;
	d->view = NULL;
	if (rt != NULL && rt->view != NULL) {
		d->view = rt->view;
		d->view_tag = rt->tag;
		rt->view = NULL;
	} else if (d->drv->vt->view_open != NULL) {
		d->view_tag = ++d->tag_seq;
		d->view = d->drv->vt->view_open(d->drv, d->view_tag);
	}
	if (rt != NULL) {
		job = rt->job;
		rq.attempt = rt->attempt;
	}
	rq.d = d;
	rq.msg = m;
	rq.job = job;
	rq.from = m->from;
	rq.corr = m->corr;
	rq.flags = m->flags;
	rq.index_budget = UINT64_MAX; /* absent unless the caller says */
	if (job == NULL && rt == NULL)
		d->st.requests++;
	if (docs_decode(d, m, &rq, &e) != 0) {
		d->st.bad++;
		docs_answer_err(&rq, &e);
		goto out;
	}
	if (job != NULL)
		rq.deadline = job->deadline; /* from the first arrival */
	if (rt != NULL)
		rq.deadline = rt->deadline;
	/* the app's index budget travels with the gateway's requests (a
	 * sender that does not say leaves it as it was) */
	if (rq.index_budget != UINT64_MAX) {
		struct docs_usage *u = docs_usage_of(d, rq.app);
		if (u->index_budget != rq.index_budget)
			u->ix_gen++;
		u->index_budget = rq.index_budget;
	} else if (d->view != NULL) {
		/* read first, with the session: what a write adds to, and an
		 * index decision weighs, is then known before anything is
		 * decided (a fetch for it later would make a run in vain
		 * after it changed memory) */
		(void)docs_usage_of(d, rq.app);
	}
	if (docs_resolve_session(&rq, &e) != 0) {
		docs_answer_err(&rq, &e);
		goto out;
	}
	if (docs_expired(&rq, &e)) {
		docs_answer_err(&rq, &e);
		goto out;
	}
	switch (rq.op) {
	case ACC_DOC_GET:
		docs_op_get(&rq);
		break;
	case ACC_DOC_QUERY:
		docs_op_query(&rq);
		break;
	case ACC_DOC_CREATE:
		docs_op_save(&rq, true);
		break;
	case ACC_DOC_UPDATE:
		docs_op_save(&rq, false);
		break;
	case ACC_DOC_DELETE:
		docs_op_delete(&rq);
		break;
	case ACC_DOC_LOGIN:
		docs_op_login(&rq);
		break;
	case ACC_DOC_LOGOUT:
		docs_op_logout(&rq);
		break;
	case ACC_DOC_ME:
		docs_op_me(&rq);
		break;
	case ACC_DOC_SCHEMA_GET:
		docs_op_schema_get(&rq);
		break;
	case ACC_DOC_SCHEMA_PUT:
		docs_op_schema_put(&rq);
		break;
	case ACC_DOC_SCHEMA_DELETE:
		docs_op_schema_delete(&rq);
		break;
	case ACC_DOC_DROP_APP:
		docs_op_drop_app(&rq);
		break;
	case ACC_DOC_INDEXES:
		docs_op_indexes(&rq);
		break;
	default:
		d->st.bad++;
		perr_set(&e, 400, PERR_INVALID_JSON, "unknown operation %u",
			 rq.op);
		docs_answer_err(&rq, &e);
	}
out:;
	bool kept = false;
	if (d->again && d->queued) {
		/* a read after the request queued its writes: it must not
		 * run again (it would write twice); its answer is the
		 * group's.  Not meant to happen: reads come first. */
		log_warn("docs: op %u read after queuing its writes", rq.op);
		d->again = false;
	}
	if (d->again && rt != NULL && rt->runs + 1 >= DOCS_RUNS_MAX) {
		d->st = st0;
		d->again = d->store_down = false;
		d->st.refused_heavy++;
		perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
			 "the request's reads did not settle in %u runs",
			 (unsigned)DOCS_RUNS_MAX);
		docs_answer_err(&rq, &e);
	}
	if (d->again && rt == NULL && d->nparked >= DOCS_PARKED_MAX) {
		d->st = st0;
		d->again = d->store_down = false;
		d->st.refused_busy++;
		perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
			 "%u requests wait for the document store; retry later",
			 (unsigned)DOCS_PARKED_MAX);
		docs_answer_err(&rq, &e);
	}
	if (d->again) {
		/* a fetch is under way: the request runs again when it
		 * arrived, on the same view */
		uint64_t requests = d->st.requests; /* counted on arrival */
		d->st = st0;
		d->st.requests = requests;
		if (rt == NULL) {
			rt = docs_retry_of(&rq);
			if (rq.deadline == 0 && job != NULL)
				rt->deadline = job->deadline;
		} else {
			kept = true;
		}
		rt->view = d->view;
		rt->tag = d->view_tag;
		rt->runs++;
		docs_park(d, rt);
	} else if (d->view != NULL) {
		d->drv->vt->view_close(d->drv, d->view);
	}
	d->view = NULL;
	d->in_request = false;
	d->in_run = false;
	d->store_down = false;
	d->again = false;
	json_decref(rq.body);
	json_decref(rq.role_objs);
	free(rq.rolev);
	return kept;
}

/* ------------------------------------------------- parked requests */

enum { DOCS_TAG_PARK = 3 };

/* The park timer: at the earliest deadline of a parked request. */
static void
docs_park_arm(struct docs *d)
{
	if (d->stopping)
		return;
	uint64_t first = 0;
	for (struct docs_retry *rt = d->parked; rt; rt = rt->next)
		if (rt->deadline != 0 && (first == 0 || rt->deadline < first))
			first = rt->deadline;
	if (d->park_armed) {
		actor_timer_stop(d->self, &d->park_timer);
		d->park_armed = false;
	}
	if (first == 0)
		return;
	uint64_t now = docs_now_ns(d);
	uint64_t ms = first > now ? (first - now) / 1000000 + 1 : 0;
	d->park_armed = true;
	actor_timer_start(d->self, &d->park_timer, ms, 0, DOCS_TAG_PARK);
}

/* Parks @a rt (its view set) until the driver says its fetches arrived. */
static void
docs_park(struct docs *d, struct docs_retry *rt)
{
	d->st.parks++;
	rt->next = d->parked;
	d->parked = rt;
	d->nparked++;
	if (rt->deadline != 0)
		docs_park_arm(d);
}

/* Takes the parked request of @a tag out of the list (NULL: none: it was
 * answered at its deadline meanwhile). */
static struct docs_retry *
docs_unpark(struct docs *d, uint64_t tag)
{
	for (struct docs_retry **pp = &d->parked; *pp; pp = &(*pp)->next)
		if ((*pp)->tag == tag) {
			struct docs_retry *rt = *pp;
			*pp = rt->next;
			rt->next = NULL;
			d->nparked--;
			return rt;
		}
	return NULL;
}

static void
docs_park_free(struct docs *d, struct docs_retry *rt)
{
	if (rt->view != NULL)
		d->drv->vt->view_close(d->drv, rt->view);
	rt->view = NULL;
	docs_retry_free(rt);
}

/* The driver: the fetches of the view @a tag arrived.  On the loop
 * thread, outside any turn: handed to the actor (MSG_DOCS_DONE). */
static void
docs_read_ready(void *arg, uint64_t tag)
{
	struct docs *d = arg;
	struct docs_readjob *j = xcalloc(1, sizeof(*j));
	j->kind = DOCS_JOB_READ;
	j->tag = tag;
	struct msg *m =
		actor_local_msg(d->self->sys, ACTOR_DOCS, MSG_DOCS_DONE, NULL, 0);
	m->ptr = j;
	m->ptr_free = docs_job_free;
	actor_sys_deliver(d->self->sys, m); /* refused at shutdown: freed */
}

/* A parked request's fetches arrived: it runs again from the start. */
static void
docs_on_read(struct docs *d, uint64_t tag)
{
	struct docs_retry *rt = docs_unpark(d, tag);
	if (rt == NULL) {
		/* a build's step, or nobody any more */
		for (struct docs_build *b = d->builds; b; b = b->next)
			if (b->fetching && b->tag == tag) {
				b->fetching = false;
				d->st.reruns++;
				docs_build_arm(d);
			}
		return;
	}
	d->st.reruns++;
	if (!docs_on_request(d, rt->req, NULL, rt))
		docs_retry_free(rt); /* its view closed by the run */
}

/* Answers the parked requests whose deadline passed (504, as a request
 * found overdue when it runs); their fetches are dropped. */
static void
docs_park_expire(struct docs *d)
{
	d->park_armed = false;
	uint64_t now = docs_now_ns(d);
	for (struct docs_retry **pp = &d->parked; *pp;) {
		struct docs_retry *rt = *pp;
		if (rt->deadline == 0 || now <= rt->deadline) {
			pp = &rt->next;
			continue;
		}
		*pp = rt->next;
		d->nparked--;
		d->st.parked_expired++;
		d->st.refused_deadline++;
		struct perr e;
		perr_set(&e, 504, PERR_TIMEOUT,
			 "the request's deadline passed before it was done");
		char out[PERR_JSON_MAX];
		size_t n = perr_json(&e, out, sizeof(out));
		docs_send(d, rt->req->from, rt->req->corr, rt->req->flags,
			  e.http, out, n, "");
		docs_park_free(d, rt);
	}
	docs_park_arm(d);
}

/* Runs the re-runs whose wait is over (in the order they failed). */
static void
docs_run_retries(struct docs *d)
{
	while (d->retries != NULL &&
	       (d->retries->wait_seq <= d->done_seq || d->pending == 0)) {
		struct docs_retry *rt = d->retries;
		d->retries = rt->next;
		if (d->retries == NULL)
			d->retries_tail = NULL;
		rt->next = NULL;
		if (!docs_on_request(d, rt->req, NULL, rt))
			docs_retry_free(rt);
	}
}

static void
docs_on_done(struct docs *d, struct msg *m)
{
	if (m->ptr == NULL)
		return;
	if (*(int *)m->ptr == DOCS_JOB_READ) {
		docs_on_read(d, ((struct docs_readjob *)m->ptr)->tag);
		return; /* freed with the message */
	}
	if (*(int *)m->ptr == DOCS_JOB_HASH) {
		struct docs_hashjob *j = m->ptr;
		m->ptr = NULL; /* ours now */
		d->hashing--;
		docs_on_request(d, j->req, j, NULL);
		docs_hashjob_free(j);
		return;
	}
	struct docs_pending *w = m->ptr;
	m->ptr = NULL; /* ours now */
	d->pending--;
	if (w->seq > d->done_seq)
		d->done_seq = w->seq;
	if (d->builds != NULL) { /* one may wait for this group (b->after) */
		docs_build_note_durable(d, w);
		docs_build_arm(d);
	}
	docs_unpin_all(d, w);
	if (w->drv_status == MIST_EEXIST && w->retry != NULL && w->reply) {
		/* another agent wrote a key the request read: nothing was
		 * applied; the request runs again on fresh reads, at most
		 * DOCS_CONFLICT_RETRIES times, once the groups queued before
		 * now are done (docs.q_seq) */
		d->st.conflicts++;
		if (w->retry->attempt < DOCS_CONFLICT_RETRIES) {
			struct docs_retry *rt = w->retry;
			w->retry = NULL;
			rt->attempt++;
			rt->wait_seq = d->q_seq;
			rt->next = NULL;
			if (d->retries_tail)
				d->retries_tail->next = rt;
			else
				d->retries = rt;
			d->retries_tail = rt;
			docs_pending_free(w);
			docs_run_retries(d);
			return;
		}
		struct perr e;
		perr_set(&e, 503, PERR_REQUEST_LIMIT_EXCEEDED,
			 "other agents changed what this request read %u times "
			 "in a row; retry",
			 (unsigned)DOCS_CONFLICT_RETRIES + 1);
		char out[PERR_JSON_MAX];
		size_t n = perr_json(&e, out, sizeof(out));
		docs_send(d, w->from, w->corr, w->flags, e.http, out, n,
			  w->user);
		docs_pending_free(w);
		return;
	}
	if (w->build != NULL) {
		docs_build_done(d, w);
	} else if (!w->reply) {
		/* an automatic index's schema, statistics: no one waits */
		if (w->drv_status != 0) {
			d->st.store_errors++;
			log_error("docs: a background write failed (%d)",
				  w->drv_status);
		}
	} else if (w->drv_status != 0) {
		d->st.store_errors++;
		struct perr e;
		if (w->drv_status == MIST_E2BIG)
			perr_set(&e, 507, PERR_INTERNAL_SERVER_ERROR,
				 "the store is full");
		else if (w->drv_status == MIST_EUNREACHABLE)
			perr_set(&e, 503, PERR_CONNECTION_FAILED,
				 "the document store is unreachable: the write "
				 "was not acknowledged; retry");
		else
			perr_set(&e, 500, PERR_INTERNAL_SERVER_ERROR,
				 "store error: the write was not saved");
		char out[PERR_JSON_MAX];
		size_t n = perr_json(&e, out, sizeof(out));
		docs_send(d, w->from, w->corr, w->flags, e.http, out, n,
			  w->user);
	} else {
		const char *b = w->body ? w->body : "{}";
		docs_send(d, w->from, w->corr, w->flags, w->status, b,
			  strlen(b), w->user);
	}
	docs_pending_free(w);
	docs_run_retries(d);
}

static void
docs_free(struct docs *d)
{
	docs_ov_destroy(d);
	buf_destroy(&d->rset);
	while (d->retries != NULL) { /* their replies die with the system */
		struct docs_retry *rt = d->retries;
		d->retries = rt->next;
		docs_retry_free(rt);
	}
	docs_cache_destroy(&d->cache);
	docs_cache_destroy(&d->ocache);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (map_next(&d->usage, &it, &k, &v))
		for (struct docs_usage *u = v, *n; u; u = n) {
			n = u->next;
			free(u);
		}
	map_destroy(&d->usage);
	while (d->builds)
		docs_build_free(d, d->builds);
	it = 0;
	while (map_next(&d->ixrt, &it, &k, &v))
		for (struct docs_ixrt *r = v, *n; r; r = n) {
			n = r->next;
			free(r);
		}
	map_destroy(&d->ixrt);
	map_destroy(&d->auto_measured);
	autoix_table_destroy(&d->shapes);
	free(d);
}

static void
docs_fn(struct actor *self, struct msg *m)
{
	struct docs *d = self->state;
	switch (m->type) {
	case MSG_ACC_REQUEST:
		docs_on_request(d, m, NULL, NULL);
		break;
	case MSG_DOCS_DONE:
		if (m->flags & MSG_F_LOCAL)
			docs_on_done(d, m);
		break;
	case MSG_ACC_STATS:
		if (m->flags & MSG_F_REQUEST)
			docs_stats_reply(d, m);
		break;
	case MSG_TIMER:
		if (m->corr == DOCS_TAG_BUILD)
			docs_build_tick(d);
		else if (m->corr == DOCS_TAG_IXSTAT)
			docs_ixstat_flush(d);
		else if (m->corr == DOCS_TAG_PARK)
			docs_park_expire(d);
		break;
	case MSG_STOP:
		actor_timer_stop(self, &d->build_timer);
		actor_timer_stop(self, &d->ixstat_timer);
		actor_timer_stop(self, &d->park_timer);
		/* parked requests: their callers' requests time out */
		while (d->parked != NULL) {
			struct docs_retry *rt = d->parked;
			d->parked = rt->next;
			docs_park_free(d, rt);
		}
		d->nparked = 0;
		for (struct docs_build *b = d->builds; b; b = b->next)
			if (b->view != NULL) {
				d->drv->vt->view_close(d->drv, b->view);
				b->view = NULL;
			}
		/* the statistics go with the queue (every app's, in turn:
		 * each flush writes one app's and leaves the others dirty) */
		d->stopping = true;
		while (docs_ixstat_flush(d))
			;
		/* flushes the queue; the groups' MSG_DOCS_DONE are refused
		 * by the stopping system and freed with their message */
		d->drv->vt->close(d->drv);
		self->state = NULL;
		docs_free(d);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- spawn */

void
docs_config_default(struct docs_config *c)
{
	memset(c, 0, sizeof(*c));
	docs_lmdb_config_default(&c->lmdb);
	c->limit_default = DOCS_LIMIT_DEFAULT;
	c->limit_max = DOCS_LIMIT_MAX;
	c->skip_max = DOCS_SKIP_MAX;
	c->scan_max = DOCS_SCAN_MAX;
	c->index_scan_max = DOCS_INDEX_SCAN_MAX;
	c->build_chunk = DOCS_BUILD_CHUNK;
	c->body_max = DOCS_BODY_MAX;
	c->object_max = DOCS_OBJECT_MAX;
	c->include_max = DOCS_INCLUDE_MAX;
	c->session_ttl_ms = DOCS_SESSION_TTL_MS;
	c->pending_max = DOCS_PENDING_MAX;
	c->hash_max = DOCS_HASH_MAX;
	c->cache_entries = DOCS_CACHE_ENTRIES;
	c->cache_bytes = DOCS_CACHE_BYTES;
	c->obj_cache_entries = DOCS_OBJ_CACHE_ENTRIES;
	c->obj_cache_bytes = DOCS_OBJ_CACHE_BYTES;
	c->auto_index = true;
	autoix_params_default(&c->autoix);
	c->index_budget = DOCS_INDEX_BUDGET;
	c->ixstat_flush_ms = DOCS_IXSTAT_FLUSH_MS;
}

struct actor *
docs_spawn(struct actor_sys *sys, uv_loop_t *loop, const char *data_dir,
	   const struct docs_config *cfg, int *err)
{
	if (sodium_init() < 0) {
		if (err)
			*err = MIST_EINVAL;
		return NULL;
	}
	struct docs *d = xcalloc(1, sizeof(*d));
	if (cfg)
		d->cfg = *cfg;
	else
		docs_config_default(&d->cfg);
	query_opts_default(&d->qopts);
	int rc = 0;
	if (d->cfg.pg_conninfo != NULL) {
		d->drv = docs_pg_open(loop, d->cfg.pg_conninfo, &rc);
		d->cfg.pg_conninfo = NULL; /* the caller's; not kept */
		/* Other agents write the same tables: a cached record could
		 * be stale, so nothing is cached (docs_cache.h). */
		d->cfg.cache_entries = 0;
		d->cfg.obj_cache_entries = 0;
		d->shared = true;
	} else {
		d->drv = docs_lmdb_open(loop, data_dir, &d->cfg.lmdb, &rc);
	}
	if (d->drv == NULL) {
		free(d);
		if (err)
			*err = rc ? rc : MIST_ESTORE;
		return NULL;
	}
	uint64_t salt;
	randombytes_buf(&salt, sizeof(salt));
	map_init(&d->ov, salt);
	map_init(&d->usage, salt ^ 0x9e3779b97f4a7c15ull);
	map_init(&d->ixrt, salt ^ 0x5851f42d4c957f2dull);
	map_init(&d->auto_measured, salt ^ 0x2545f4914f6cdd1dull);
	autoix_table_init(&d->shapes, AUTOIX_SHAPES);
	docs_cache_init(&d->cache, d->cfg.cache_entries, d->cfg.cache_bytes);
	docs_cache_init(&d->ocache, d->cfg.obj_cache_entries,
			d->cfg.obj_cache_bytes);
	struct actor *a = actor_spawn(sys, ACTOR_DOCS, "docs", docs_fn, d);
	if (a == NULL) {
		d->drv->vt->close(d->drv);
		d->drv = NULL;
		docs_free(d);
		if (err)
			*err = MIST_EEXIST;
		return NULL;
	}
	d->self = a;
	d->loop = loop;
	if (d->drv->vt->on_ready != NULL)
		d->drv->vt->on_ready(d->drv, docs_read_ready, d);
	/* index builds a previous run left unfinished */
	static const uint8_t s_lo[] = {'s'}, s_hi[] = {'t'};
	docs_drv_scan(d, DOCS_T_META, s_lo, 1, s_hi, 1, false,
			 docs_resume_cb, d);
	/* the indexes' statistics and origins (META 'A') */
	static const uint8_t a_lo[] = {'A'}, a_hi[] = {'B'};
	docs_drv_scan(d, DOCS_T_META, a_lo, 1, a_hi, 1, false,
			 docs_ixrt_load_cb, d);
	return a;
}
