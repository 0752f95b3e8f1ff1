/*
 * docs_pg.c -- the PostgreSQL driver of the documents accessory (libpq).
 *
 * Tables (created at open, CREATE ... IF NOT EXISTS, in the connection's
 * search_path; the layout's version in mist_docs_version):
 *
 *   mist_docs_obj (app text, cls text, id text, k bytea UNIQUE, doc jsonb,
 *                  rperm text[], wperm text[], txt text,
 *                  PRIMARY KEY (app, cls, id))
 *   mist_docs_idx (app text, cls text, idx text, k bytea PRIMARY KEY)
 *   mist_docs_meta(k bytea PRIMARY KEY, v bytea)
 *
 * An OBJ key (app \0 class \0 objectId) is parsed into its columns; k
 * keeps the whole key too, so docs.c's range scans (bytes, ascending or
 * descending) are btree range scans on it with the LMDB driver's order
 * exactly (bytea compares as memcmp).  rperm and wperm are derived from
 * the object's ACL by the INSERT itself (mist_docs_perm(): the ACL's
 * entries with "read" / "write" true, or {"*"} without an ACL), for
 * operators' queries and native indexes; docs.c still filters by the ACL.
 * txt is the object's text exactly as docs.c wrote it, and what reads
 * answer: jsonb normalizes numbers (1e300 comes back as 301 digits, which
 * jansson refuses as an integer; 3.0e5 as the integer 300000), so doc is
 * for PostgreSQL's side (operators' queries, native indexes) and txt for
 * mist's (TOAST compresses both).
 *
 *   docs.c ──get/scan──▶ reads connection ──prepared SELECT──▶ server
 *          ◀─rows (sync)──┘
 *   docs.c ──write(group, cb)──▶ queue ──▶ write connection (pipeline)
 *                                          ops..., sync ──▶ server
 *          ◀──cb(0 | EEXIST | ESTORE | EUNREACHABLE)── sync's answer
 *
 * Two connections:
 *   reads   synchronous on the loop thread (prepared statements, planned
 *           once per connection; binary results); a scan fetches pages
 *           of DOCS_PG_SCAN_PAGE rows, each page from the last key on, so
 *           the callback can stop early without the server having sent
 *           the whole range.  Build locks (docs_driver_vt.lock) are
 *           session advisory locks on it;
 *   writes  non-blocking, in libpq's pipeline mode, watched by a uv_poll:
 *           a group is one statement per op, then a sync (the statements
 *           between two syncs are one implicit transaction: all or
 *           nothing); groups without a precondition queued back to back
 *           share one (DOCS_PG_MERGE_MAX); up to DOCS_PG_INFLIGHT groups
 *           are in the pipe at once, in queue order, so groups commit in
 *           the order they were queued (the ordering contract of
 *           docs_driver.h) while the round trips overlap.  The callback
 *           runs once the sync's answer arrived: after the COMMIT.
 *           A precondition (docs_op.expect) makes its statement a
 *           data-modifying WITH checked by mist_docs_must(): a key that
 *           changed raises SQLSTATE 40001, reported MIST_EEXIST.
 *
 * Failures: a connection that breaks fails what it carried with
 * MIST_EUNREACHABLE (a group in flight may or may not have committed: it
 * was not acknowledged, so nothing acknowledged is lost) and is connected
 * again on the next use, at most every backoff (DOCS_PG_BACKOFF_MIN_MS
 * doubling to DOCS_PG_BACKOFF_MAX_MS); until then reads and writes fail
 * at once with MIST_EUNREACHABLE (docs.c answers 503, code 100).  A
 * connection attempt blocks the loop for at most DOCS_PG_CONNECT_TIMEOUT_S
 * (a local socket refuses at once).
 *
 * The connection string is never logged (it may hold a password; use a
 * passfile).  Ownership: docs_pg_open copies the string; close() waits
 * for the groups in flight (bounded by the server's answers), fails the
 * rest, and frees everything once its poll handle is closed.
 */
#include "config.h"
#include "accessory/docs_driver.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

/* The layout's version, kept in mist_docs_version; a newer one (a later
 * mist wrote it) is refused at open rather than misread. */
#define DOCS_PG_LAYOUT 1

struct pg_group {
	struct pg_group *next;
	docs_done_cb cb;
	void *arg;
	uint32_t n;
	struct docs_op *ops; /* keys and values point into mem */
	struct buf mem;
	bool sent;
	bool failed;
	int status;
	bool conditional; /* an op has a precondition: its own transaction */
	bool synced;	  /* a sync follows it: the end of a transaction */
};

struct docs_pg {
	struct docs_driver drv; /* first */
	uv_loop_t *loop;
	char *conninfo;
	uint32_t inflight_max;
	PGconn *rc;	/* reads */
	PGconn *wc;	/* writes, pipeline mode */
	uint64_t r_next, w_next; /* no attempt before (ms, loop time) */
	uint32_t r_backoff, w_backoff;
	uint64_t scans_prepared; /* on rc: a bit per scan shape (pg_scan) */
	uint64_t r_gen;		 /* read connections made so far */
	struct {
		uint64_t gen; /* held on that read connection (0: free) */
		char name[DOCS_PG_LOCK_NAME_MAX];
	} locks[DOCS_PG_LOCKS_MAX];
	uv_poll_t *poll; /* the write connection's socket (a new handle per
			   connection: a closing one is never reused) */
	bool poll_on;
	int poll_fd;
	int poll_events;
	uv_timer_t timer; /* failures delivered, reconnects retried */
	struct pg_group *head, *tail; /* queue order: sent ones first */
	uint32_t inflight;
	uint32_t seg_sent; /* groups sent since the last sync */
	int seg_status;	   /* the transaction being answered: failed so */
	bool closing;
	bool timer_armed;
	struct docs_driver_stats st;
};

/* A key or value read back larger than this is refused (MIST_ESTORE):
 * rows are trusted less than our own store (an operator's SQL may have
 * written them), and docs.c never writes more than an object
 * (DOCS_OBJECT_MAX, 128 KiB) or a schema of DOCS_MAX_FIELDS fields and
 * DOCS_MAX_INDEXES indexes (some tens of KiB) per value; 16 MiB is far
 * past both and still bounds the memory one row can take. */
#define DOCS_PG_VALUE_MAX ((size_t)16 << 20)

/*
 * Groups without a precondition (creations, index builds, statistics:
 * they cannot conflict) queued back to back share one transaction, up to
 * this many: one commit, one WAL flush for all of them, where a
 * transaction each waits for a flush each (a few hundred a second on a
 * disk).  A failure of such a shared transaction is a store error (a
 * conflict cannot happen in it) and fails all of its groups (MIST_ESTORE):
 * none is applied.  A group with a precondition is always alone, so its
 * conflict fails no other.
 */
#define DOCS_PG_MERGE_MAX 32

/* Rows a scan fetches per round trip: a query's page (limit 100, a few
 * hidden by ACLs) or a build's chunk (500) takes one or two. */
#define DOCS_PG_SCAN_PAGE 512

/* ----------------------------------------------------------- SQL */

static const char pg_setup_sql[] =
	"SELECT pg_advisory_xact_lock(7079079181);"
	"CREATE TABLE IF NOT EXISTS mist_docs_version (v integer NOT NULL);"
	"CREATE TABLE IF NOT EXISTS mist_docs_obj (app text NOT NULL,"
	" cls text NOT NULL, id text NOT NULL, k bytea NOT NULL UNIQUE,"
	" doc jsonb NOT NULL, rperm text[] NOT NULL, wperm text[] NOT NULL,"
	" txt text NOT NULL, PRIMARY KEY (app, cls, id));"
	"CREATE TABLE IF NOT EXISTS mist_docs_idx (app text NOT NULL,"
	" cls text NOT NULL, idx text NOT NULL, k bytea PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS mist_docs_meta (k bytea PRIMARY KEY,"
	" v bytea NOT NULL);"
	"CREATE OR REPLACE FUNCTION mist_docs_perm(d jsonb, what text)"
	" RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$"
	" SELECT CASE WHEN jsonb_typeof(d->'ACL') = 'object' THEN"
	"  ARRAY(SELECT e.key FROM jsonb_each(d->'ACL') e"
	"   WHERE jsonb_typeof(e.value) = 'object'"
	"   AND e.value->>what = 'true' ORDER BY 1)"
	" ELSE ARRAY['*'] END $f$;"
	"CREATE OR REPLACE FUNCTION mist_docs_must(n bigint) RETURNS void"
	" LANGUAGE plpgsql AS $f$ BEGIN IF n = 0 THEN RAISE EXCEPTION"
	" 'mist: a precondition failed' USING ERRCODE = '40001'; END IF;"
	" END $f$;"
	"INSERT INTO mist_docs_version SELECT 1"
	" WHERE NOT EXISTS (SELECT 1 FROM mist_docs_version);";

static const char *const pg_get_sql[DOCS_TABLES] = {
	"SELECT txt FROM mist_docs_obj WHERE k = $1",
	"SELECT ''::bytea FROM mist_docs_idx WHERE k = $1",
	"SELECT v FROM mist_docs_meta WHERE k = $1",
};

static const char *const pg_table[DOCS_TABLES] = {
	"mist_docs_obj", "mist_docs_idx", "mist_docs_meta"};
static const char *const pg_val[DOCS_TABLES] = {"txt", "''::bytea",
						 "v"};

/* --------------------------------------------------------- helpers */

static uint64_t
pg_now(struct docs_pg *p)
{
	uv_update_time(p->loop);
	return uv_now(p->loop);
}

static void
pg_backoff(uint32_t *b, uint64_t *next, uint64_t now)
{
	*b = *b == 0 ? DOCS_PG_BACKOFF_MIN_MS
	     : *b * 2 > DOCS_PG_BACKOFF_MAX_MS ? DOCS_PG_BACKOFF_MAX_MS
					       : *b * 2;
	*next = now + *b;
}

static void
pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

/* A new connection, or NULL (logged without the connection string). */
static PGconn *
pg_connect(struct docs_pg *p, bool setup)
{
	char tmo[16];
	snprintf(tmo, sizeof(tmo), "%d", DOCS_PG_CONNECT_TIMEOUT_S);
	const char *kw[] = {"dbname", "connect_timeout", "application_name",
			    NULL};
	const char *val[] = {p->conninfo, tmo, "mist", NULL};
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		log_warn("docs: PostgreSQL: cannot connect: %s",
			 c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, pg_notice, NULL);
	if (setup) {
		PGresult *r = PQexec(c, pg_setup_sql);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
			  PQresultStatus(r) == PGRES_TUPLES_OK;
		if (!ok)
			log_error("docs: PostgreSQL: creating the tables: %s",
				  PQerrorMessage(c));
		PQclear(r);
		if (ok) {
			r = PQexec(c, "SELECT max(v) FROM mist_docs_version");
			ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
			     PQntuples(r) == 1 &&
			     atoi(PQgetvalue(r, 0, 0)) <= DOCS_PG_LAYOUT;
			if (!ok)
				log_error("docs: PostgreSQL: the tables' layout "
					  "is newer than this mist's (%d)",
					  DOCS_PG_LAYOUT);
			PQclear(r);
		}
		if (!ok) {
			PQfinish(c);
			return NULL;
		}
	}
	return c;
}

static const char *const pg_get_name[DOCS_TABLES] = {
	"mist_get_obj", "mist_get_idx", "mist_get_meta"};

/* Prepares the reads by key on @a c (planned once per connection, not per
 * read); false: the connection is of no use. */
static bool
pg_prepare_reads(PGconn *c)
{
	for (int t = 0; t < DOCS_TABLES; t++) {
		PGresult *r = PQprepare(c, pg_get_name[t], pg_get_sql[t], 1,
					NULL);
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok) {
			log_warn("docs: PostgreSQL: preparing the reads: %s",
				 PQerrorMessage(c));
			return false;
		}
	}
	return true;
}

/* The read connection, connected if it may be now; NULL: unreachable. */
static PGconn *
pg_reader(struct docs_pg *p)
{
	if (p->rc != NULL && PQstatus(p->rc) == CONNECTION_OK)
		return p->rc;
	uint64_t now = pg_now(p);
	if (now < p->r_next)
		return NULL;
	PQfinish(p->rc);
	p->rc = pg_connect(p, false);
	if (p->rc != NULL && !pg_prepare_reads(p->rc)) {
		PQfinish(p->rc);
		p->rc = NULL;
	}
	p->scans_prepared = 0;
	p->r_gen++; /* the old connection's advisory locks are gone */
	if (p->rc == NULL) {
		pg_backoff(&p->r_backoff, &p->r_next, now);
		return NULL;
	}
	p->r_backoff = 0;
	return p->rc;
}

/* Splits @a k into @a max NUL-terminated parts (the last takes the
 * rest); false if it has fewer separators. */
static bool
pg_split(const uint8_t *k, size_t kl, uint32_t max, const uint8_t **part,
	 size_t *len)
{
	size_t at = 0;
	for (uint32_t i = 0; i < max; i++) {
		if (i == max - 1) {
			part[i] = k + at;
			len[i] = kl - at;
			return true;
		}
		const uint8_t *z = memchr(k + at, 0, kl - at);
		if (z == NULL)
			return false;
		part[i] = k + at;
		len[i] = (size_t)(z - (k + at));
		at += len[i] + 1;
	}
	return true;
}

/* The first key past every key starting with @a p (in @a out); false if
 * there is none (all 0xff). */
static bool
pg_successor(const uint8_t *p, size_t n, struct buf *out)
{
	while (n > 0 && p[n - 1] == 0xff)
		n--;
	if (n == 0)
		return false;
	out->len = 0;
	buf_append(out, p, n);
	out->data[n - 1]++;
	return true;
}

/* ------------------------------------------------------------ reads */

static int
pg_get(struct docs_driver *d, enum docs_table t, const void *key,
       size_t klen, struct buf *out)
{
	struct docs_pg *p = (struct docs_pg *)d;
	PGconn *c = pg_reader(p);
	if (c == NULL)
		return MIST_EUNREACHABLE;
	const char *pv[1] = {key};
	int pl[1] = {(int)klen}, pf[1] = {1};
	PGresult *r = PQexecPrepared(c, pg_get_name[t], 1, pv, pl, pf, 1);
	int rc;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = PQstatus(c) == CONNECTION_OK ? MIST_ESTORE
						  : MIST_EUNREACHABLE;
		log_warn("docs: PostgreSQL read: %s", PQerrorMessage(c));
	} else if (PQntuples(r) == 0) {
		rc = MIST_ENOTFOUND;
	} else if (PQnfields(r) != 1 ||
		   (size_t)PQgetlength(r, 0, 0) > DOCS_PG_VALUE_MAX) {
		rc = MIST_ESTORE;
		log_error("docs: PostgreSQL read: a row of an unexpected shape "
			  "or over %zu bytes", DOCS_PG_VALUE_MAX);
	} else {
		out->len = 0;
		buf_append(out, PQgetvalue(r, 0, 0),
			   (size_t)PQgetlength(r, 0, 0));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static int
pg_scan(struct docs_driver *d, enum docs_table t, const void *lo,
	size_t lolen, const void *hi, size_t hilen, bool reverse,
	docs_scan_cb cb, void *arg)
{
	struct docs_pg *p = (struct docs_pg *)d;
	if (lo == NULL)
		lolen = 0;
	if (hi == NULL)
		hilen = 0;
	struct buf from = BUF_INIT; /* the page's start: a bound, exclusive
				      after the first page */
	bool first = true, stop = false;
	int rc = 0;
	char sql[256];
	while (!stop) {
		PGconn *c = pg_reader(p);
		if (c == NULL) {
			rc = MIST_EUNREACHABLE;
			break;
		}
		/* $1 lower bound, $2 upper bound (either may be absent) */
		const char *pv[2];
		int pl[2], pf[2] = {1, 1}, np = 0;
		char cond[96] = "";
		size_t cl = 0;
		const void *b1 = lo, *b2 = hi;
		size_t l1 = lolen, l2 = hilen;
		bool ex1 = false, ex2 = true;
		if (!first) {
			if (reverse) {
				b2 = from.data;
				l2 = from.len;
			} else {
				b1 = from.data;
				l1 = from.len;
				ex1 = true;
			}
		}
		if (l1 > 0) {
			pv[np] = b1;
			pl[np] = (int)l1;
			np++;
			cl += (size_t)snprintf(cond + cl, sizeof(cond) - cl,
					       " AND k %s $%d", ex1 ? ">" : ">=",
					       np);
		}
		if (l2 > 0) {
			pv[np] = b2;
			pl[np] = (int)l2;
			np++;
			cl += (size_t)snprintf(cond + cl, sizeof(cond) - cl,
					       " AND k %s $%d", ex2 ? "<" : "<=",
					       np);
		}
		/* one prepared statement per shape (table, bounds, order):
		 * 48 at most, each planned once per connection */
		unsigned shape = (unsigned)t * 16 + (l1 > 0) * 8 + (l2 > 0) * 4 +
				 ex1 * 2 + reverse;
		char name[32];
		snprintf(name, sizeof(name), "mist_scan_%u", shape);
		if (!(p->scans_prepared & (1ull << shape))) {
			snprintf(sql, sizeof(sql),
				 "SELECT k, %s FROM %s WHERE true%s ORDER BY "
				 "k%s LIMIT %d",
				 pg_val[t], pg_table[t], cond,
				 reverse ? " DESC" : "", DOCS_PG_SCAN_PAGE);
			PGresult *pr = PQprepare(c, name, sql, np, NULL);
			bool ok = PQresultStatus(pr) == PGRES_COMMAND_OK;
			PQclear(pr);
			if (!ok) {
				rc = PQstatus(c) == CONNECTION_OK
					     ? MIST_ESTORE
					     : MIST_EUNREACHABLE;
				log_warn("docs: PostgreSQL scan: %s",
					 PQerrorMessage(c));
				break;
			}
			p->scans_prepared |= 1ull << shape;
		}
		PGresult *r = PQexecPrepared(c, name, np, pv, pl, pf, 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = PQstatus(c) == CONNECTION_OK ? MIST_ESTORE
							  : MIST_EUNREACHABLE;
			log_warn("docs: PostgreSQL scan: %s",
				 PQerrorMessage(c));
			PQclear(r);
			break;
		}
		int n = PQntuples(r);
		if (n > 0 && PQnfields(r) != 2)
			n = -1;
		for (int i = 0; i < n; i++)
			if ((size_t)PQgetlength(r, i, 0) > DOCS_PG_VALUE_MAX ||
			    (size_t)PQgetlength(r, i, 1) > DOCS_PG_VALUE_MAX)
				n = -1;
		if (n < 0) {
			rc = MIST_ESTORE;
			log_error("docs: PostgreSQL scan: a row of an unexpected "
				  "shape or over %zu bytes", DOCS_PG_VALUE_MAX);
			PQclear(r);
			break;
		}
		for (int i = 0; i < n && !stop; i++)
			stop = cb(arg, PQgetvalue(r, i, 0),
				  (size_t)PQgetlength(r, i, 0),
				  PQgetvalue(r, i, 1),
				  (size_t)PQgetlength(r, i, 1)) != 0;
		if (!stop && n == DOCS_PG_SCAN_PAGE) {
			from.len = 0;
			buf_append(&from, PQgetvalue(r, n - 1, 0),
				   (size_t)PQgetlength(r, n - 1, 0));
		} else {
			stop = true;
		}
		first = false;
		PQclear(r);
	}
	buf_destroy(&from);
	return rc;
}

/* ----------------------------------------------------------- writes */

static void pg_pump(struct docs_pg *p);
static void pg_poll_cb(uv_poll_t *h, int status, int events);

static void
pg_timer_cb(uv_timer_t *t)
{
	struct docs_pg *p = t->data;
	p->timer_armed = false;
	pg_pump(p);
}

static void
pg_arm(struct docs_pg *p, uint64_t ms)
{
	if (p->closing)
		return;
	uv_timer_start(&p->timer, pg_timer_cb, ms, 0);
	p->timer_armed = true;
}

static void
pg_group_free(struct pg_group *g)
{
	free(g->ops);
	buf_destroy(&g->mem);
	free(g);
}

/* Pops the head group and runs its callback with @a status. */
static void
pg_finish_head(struct docs_pg *p, int status)
{
	struct pg_group *g = p->head;
	p->head = g->next;
	if (p->head == NULL)
		p->tail = NULL;
	if (g->sent)
		p->inflight--;
	if (status == 0)
		p->st.commits++;
	g->cb(g->arg, status);
	pg_group_free(g);
}

static void
pg_poll_free(uv_handle_t *h)
{
	free(h);
}

static void
pg_poll_stop(struct docs_pg *p)
{
	if (p->poll_on) {
		uv_poll_stop(p->poll);
		uv_close((uv_handle_t *)p->poll, pg_poll_free);
		p->poll = NULL;
		p->poll_on = false;
	}
}

/* The write connection broke: what it carried failed; it is dropped. */
static void
pg_writer_lost(struct docs_pg *p)
{
	if (p->wc != NULL)
		log_warn("docs: PostgreSQL: the write connection failed: %s",
			 PQerrorMessage(p->wc));
	pg_poll_stop(p);
	PQfinish(p->wc);
	p->wc = NULL;
	while (p->head != NULL && p->head->sent)
		pg_finish_head(p, MIST_EUNREACHABLE);
	p->seg_sent = 0;
	p->seg_status = 0;
	pg_backoff(&p->w_backoff, &p->w_next, pg_now(p));
}

/*
 * A precondition (docs_driver.h enum docs_expect) makes the statement a
 * data-modifying WITH whose row count mist_docs_must() checks: 0 rows
 * (the key changed since the request read it) raises SQLSTATE 40001,
 * which aborts the group's transaction and is reported MIST_EEXIST.
 * Under READ COMMITTED an UPDATE ... WHERE txt = $read waits for a
 * concurrent writer of the row and re-checks its new version, and an
 * INSERT ... ON CONFLICT DO NOTHING waits for a concurrent insert: one of
 * two racing writers wins, the other re-runs on fresh reads.
 */
static const char pg_obj_set[] =
	"doc = $5::text::jsonb, rperm = mist_docs_perm($5::text::jsonb, "
	"'read'), wperm = mist_docs_perm($5::text::jsonb, 'write'), "
	"txt = $5::text";

/* Sends one statement of a group; false if libpq refused it. */
static bool
pg_send_op(PGconn *c, const struct docs_op *op)
{
	const uint8_t *k = op->key;
	const uint8_t *part[4];
	size_t len[4];
	const char *pv[6];
	int pl[6], pf[6] = {1, 1, 1, 1, 1, 1}, np = 0;
	struct buf succ = BUF_INIT;
	const char *sql;
	char *doc = NULL, *exp = NULL;
	char pre[512];
	bool absent = op->expect == DOCS_EXPECT_ABSENT;
	bool value = op->expect == DOCS_EXPECT_VALUE;
	if (op->table == DOCS_T_IDX || op->kind == DOCS_DEL_PREFIX)
		absent = value = false;
	switch (op->kind) {
	case DOCS_PUT:
		if (op->table == DOCS_T_OBJ) {
			if (!pg_split(k, op->klen, 3, part, len))
				return false;
			doc = xmalloc(op->vlen + 1);
			memcpy(doc, op->val, op->vlen);
			doc[op->vlen] = 0;
			for (int i = 0; i < 3; i++) {
				pv[i] = (const char *)part[i];
				pl[i] = (int)len[i];
			}
			pv[3] = op->key;
			pl[3] = (int)op->klen;
			pv[4] = doc;
			pl[4] = 0;
			pf[4] = 0; /* text: jsonb parses and checks it */
			np = 5;
			if (value) {
				exp = xmalloc(op->elen + 1);
				memcpy(exp, op->eval, op->elen);
				exp[op->elen] = 0;
				pv[5] = exp;
				pl[5] = 0;
				pf[5] = 0;
				np = 6;
				snprintf(pre, sizeof(pre),
					 "WITH u AS (UPDATE mist_docs_obj SET %s "
					 "WHERE k = $4 AND txt = $6::text AND "
					 "app = $1 AND cls = $2 AND id = $3 "
					 "RETURNING 1) SELECT mist_docs_must(count(*)) "
					 "FROM u",
					 pg_obj_set);
				sql = pre;
				break;
			}
			if (absent) {
				sql = "WITH i AS (INSERT INTO mist_docs_obj (app, "
				      "cls, id, k, doc, rperm, wperm, txt) VALUES "
				      "($1, $2, $3, $4, $5::text::jsonb, "
				      "mist_docs_perm($5::text::jsonb, 'read'), "
				      "mist_docs_perm($5::text::jsonb, 'write'), "
				      "$5::text) ON CONFLICT DO NOTHING RETURNING 1) "
				      "SELECT mist_docs_must(count(*)) FROM i";
				break;
			}
			sql = "INSERT INTO mist_docs_obj (app, cls, id, k, doc, "
			      "rperm, wperm, txt) VALUES ($1, $2, $3, $4, "
			      "$5::text::jsonb, mist_docs_perm($5::text::jsonb, 'read'), "
			      "mist_docs_perm($5::text::jsonb, 'write'), $5::text) ON CONFLICT "
			      "(app, cls, id) DO UPDATE SET doc = EXCLUDED.doc, "
			      "rperm = EXCLUDED.rperm, wperm = EXCLUDED.wperm, "
			      "txt = EXCLUDED.txt";
		} else if (op->table == DOCS_T_IDX) {
			if (!pg_split(k, op->klen, 4, part, len))
				return false;
			for (int i = 0; i < 3; i++) {
				pv[i] = (const char *)part[i];
				pl[i] = (int)len[i];
			}
			pv[3] = op->key;
			pl[3] = (int)op->klen;
			np = 4;
			sql = "INSERT INTO mist_docs_idx (app, cls, idx, k) "
			      "VALUES ($1, $2, $3, $4) ON CONFLICT (k) DO "
			      "NOTHING";
		} else {
			pv[0] = op->key;
			pl[0] = (int)op->klen;
			pv[1] = op->vlen ? op->val : "";
			pl[1] = (int)op->vlen;
			np = 2;
			sql = "INSERT INTO mist_docs_meta (k, v) VALUES ($1, $2) "
			      "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
			if (value) {
				pv[2] = op->elen ? op->eval : "";
				pl[2] = (int)op->elen;
				np = 3;
				sql = "WITH u AS (UPDATE mist_docs_meta SET v = $2 "
				      "WHERE k = $1 AND v = $3 RETURNING 1) SELECT "
				      "mist_docs_must(count(*)) FROM u";
			} else if (absent) {
				sql = "WITH i AS (INSERT INTO mist_docs_meta (k, v) "
				      "VALUES ($1, $2) ON CONFLICT DO NOTHING "
				      "RETURNING 1) SELECT mist_docs_must(count(*)) "
				      "FROM i";
			}
		}
		break;
	case DOCS_DEL:
		pv[0] = op->key;
		pl[0] = (int)op->klen;
		np = 1;
		snprintf(pre, sizeof(pre), "DELETE FROM %s WHERE k = $1",
			 pg_table[op->table]);
		if (value) {
			bool obj = op->table == DOCS_T_OBJ;
			if (obj) {
				exp = xmalloc(op->elen + 1);
				memcpy(exp, op->eval, op->elen);
				exp[op->elen] = 0;
				pf[1] = 0;
			}
			pv[1] = obj ? exp : op->elen ? op->eval : "";
			pl[1] = obj ? 0 : (int)op->elen;
			np = 2;
			snprintf(pre, sizeof(pre),
				 "WITH x AS (DELETE FROM %s WHERE k = $1 AND %s = "
				 "$2%s RETURNING 1) SELECT mist_docs_must(count(*)) "
				 "FROM x",
				 pg_table[op->table], obj ? "txt" : "v",
				 obj ? "::text" : "");
		} else if (absent) {
			snprintf(pre, sizeof(pre),
				 "SELECT mist_docs_must(CASE WHEN EXISTS (SELECT "
				 "1 FROM %s WHERE k = $1) THEN 0 ELSE 1 END)",
				 pg_table[op->table]);
		}
		sql = pre;
		break;
	case DOCS_DEL_PREFIX:
	default:
		pv[0] = op->key;
		pl[0] = (int)op->klen;
		np = 1;
		if (pg_successor(k, op->klen, &succ)) {
			pv[1] = (const char *)succ.data;
			pl[1] = (int)succ.len;
			np = 2;
		}
		snprintf(pre, sizeof(pre), "DELETE FROM %s WHERE k >= $1%s",
			 pg_table[op->table], np == 2 ? " AND k < $2" : "");
		sql = pre;
		break;
	}
	int ok = PQsendQueryParams(c, sql, np, NULL, pv, pl, pf, 0);
	free(doc);
	free(exp);
	buf_destroy(&succ);
	return ok == 1;
}

/* Sends @a g: its ops, then a sync.  The statements between two syncs
 * are one implicit transaction (PostgreSQL's extended protocol): the
 * sync commits them all, or, after a failed one (the rest are skipped,
 * PGRES_PIPELINE_ABORTED), rolls them all back; an explicit BEGIN would
 * leave the session in an aborted transaction past the sync.  The sync's
 * answer comes after the commit is durable (synchronous_commit).  False:
 * the connection failed (a key that does not parse fails the group
 * alone). */
static bool
pg_send_group(struct docs_pg *p, struct pg_group *g, bool sync)
{
	PGconn *c = p->wc;
	for (uint32_t i = 0; i < g->n; i++)
		if (!pg_send_op(c, &g->ops[i])) {
			/* a malformed key: the transaction is rolled back by
			 * a statement that fails */
			g->failed = true;
			g->status = MIST_ESTORE;
			log_error("docs: PostgreSQL: a key of a group does "
				  "not parse as its table's");
			break;
		}
	/* a statement that fails, so the sync rolls back what went before */
	if (g->failed &&
	    PQsendQueryParams(c, "DO $$BEGIN RAISE EXCEPTION 'mist: a key of "
			     "the group does not parse'; END$$",
			     0, NULL, NULL, NULL, NULL, 0) != 1)
		return false;
	g->sent = true;
	p->inflight++;
	p->seg_sent++;
	if (sync || g->failed) {
		if (PQpipelineSync(c) != 1)
			return false;
		g->synced = true;
		p->seg_sent = 0;
	}
	return true;
}

static void
pg_watch(struct docs_pg *p, int events)
{
	int fd = PQsocket(p->wc);
	if (p->poll_on && p->poll_fd != fd)
		pg_poll_stop(p);
	if (!p->poll_on) {
		p->poll = xcalloc(1, sizeof(*p->poll));
		if (uv_poll_init(p->loop, p->poll, fd) != 0) {
			free(p->poll);
			p->poll = NULL;
			return;
		}
		p->poll->data = p;
		p->poll_on = true;
		p->poll_fd = fd;
		p->poll_events = 0;
	}
	if (events != p->poll_events) {
		uv_poll_start(p->poll, events, pg_poll_cb);
		p->poll_events = events;
	}
}

/* Reads every result that arrived; completes groups at their sync. */
static void
pg_drain(struct docs_pg *p)
{
	PGconn *c = p->wc;
	if (PQconsumeInput(c) != 1) {
		pg_writer_lost(p);
		return;
	}
	int nulls = 0;
	while (p->inflight > 0 && !PQisBusy(c)) {
		PGresult *r = PQgetResult(c);
		if (r == NULL) {
			if (++nulls >= 2)
				break;
			continue;
		}
		nulls = 0;
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			/* the transaction's groups, the synced one last */
			PQclear(r);
			int st = p->seg_status;
			p->seg_status = 0;
			while (p->head != NULL && p->head->sent &&
			       !p->head->synced)
				pg_finish_head(p, st);
			if (p->head != NULL && p->head->sent)
				pg_finish_head(p, st);
			continue;
		}
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (s == PGRES_FATAL_ERROR && p->seg_status == 0 &&
		    state != NULL && strcmp(state, "40001") == 0) {
			/* a precondition (or serialization): a group alone */
			p->seg_status = MIST_EEXIST;
			p->st.conflicts++;
		} else if (s == PGRES_FATAL_ERROR && p->seg_status == 0) {
			p->seg_status = MIST_ESTORE;
			log_error("docs: PostgreSQL: a write transaction failed: %s",
				  PQresultErrorMessage(r));
		} else if (s == PGRES_PIPELINE_ABORTED && p->seg_status == 0) {
			p->seg_status = MIST_ESTORE;
		}
		PQclear(r);
	}
	if (PQstatus(c) != CONNECTION_OK)
		pg_writer_lost(p);
}

/* Moves everything forward: connects if needed, sends what fits,
 * flushes, reads what came back, fails what cannot be sent. */
static void
pg_pump(struct docs_pg *p)
{
	if (p->wc == NULL && p->head != NULL) {
		uint64_t now = pg_now(p);
		if (now >= p->w_next) {
			p->wc = pg_connect(p, false);
			if (p->wc != NULL &&
			    (PQsetnonblocking(p->wc, 1) != 0 ||
			     PQenterPipelineMode(p->wc) != 1)) {
				PQfinish(p->wc);
				p->wc = NULL;
			}
			if (p->wc == NULL)
				pg_backoff(&p->w_backoff, &p->w_next, now);
			else
				p->w_backoff = 0;
		}
		if (p->wc == NULL) {
			/* unreachable: refused now, not held (a clear 503) */
			while (p->head != NULL)
				pg_finish_head(p, MIST_EUNREACHABLE);
			return;
		}
	}
	if (p->wc == NULL)
		return;
	for (struct pg_group *g = p->head; g != NULL; g = g->next) {
		if (g->sent)
			continue;
		if (p->inflight >= p->inflight_max)
			break;
		/* the transaction goes on into the next group if neither has
		 * a precondition and both fit (DOCS_PG_MERGE_MAX) */
		const struct pg_group *nx = g->next;
		bool sync = nx == NULL || g->conditional || nx->conditional ||
			    p->seg_sent + 1 >= DOCS_PG_MERGE_MAX ||
			    p->inflight + 1 >= p->inflight_max;
		if (!pg_send_group(p, g, sync)) {
			pg_writer_lost(p);
			return;
		}
	}
	int fl = PQflush(p->wc);
	if (fl < 0) {
		pg_writer_lost(p);
		return;
	}
	pg_drain(p);
	if (p->wc == NULL)
		return;
	int ev = UV_READABLE | (fl == 1 ? UV_WRITABLE : 0);
	pg_watch(p, ev);
	/* results freed room in the pipe: send more */
	if (p->head != NULL && !p->timer_armed)
		for (struct pg_group *g = p->head; g != NULL; g = g->next)
			if (!g->sent && p->inflight < p->inflight_max) {
				pg_arm(p, 0);
				break;
			}
}

static void
pg_poll_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct docs_pg *p = h->data;
	if (status < 0) {
		pg_writer_lost(p);
		pg_arm(p, 0);
		return;
	}
	pg_pump(p);
}

static void
pg_write(struct docs_driver *d, const struct docs_op *ops, uint32_t n,
	 docs_done_cb cb, void *arg)
{
	struct docs_pg *p = (struct docs_pg *)d;
	struct pg_group *g = xcalloc(1, sizeof(*g));
	g->cb = cb;
	g->arg = arg;
	g->n = n;
	g->ops = xcalloc(n ? n : 1, sizeof(*g->ops));
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += ops[i].klen + ops[i].vlen +
			 (ops[i].expect == DOCS_EXPECT_VALUE ? ops[i].elen : 0);
	buf_reserve(&g->mem, total + 1);
	size_t at = 0;
	for (uint32_t i = 0; i < n; i++) {
		g->ops[i] = ops[i];
		if (ops[i].expect != DOCS_EXPECT_NONE)
			g->conditional = true;
		if (ops[i].expect != DOCS_EXPECT_VALUE)
			g->ops[i].elen = 0;
		buf_append(&g->mem, ops[i].key, ops[i].klen);
		buf_append(&g->mem, ops[i].val ? ops[i].val : "", ops[i].vlen);
		buf_append(&g->mem, g->ops[i].elen ? ops[i].eval : "",
			   g->ops[i].elen);
	}
	for (uint32_t i = 0; i < n; i++) { /* mem no longer moves */
		g->ops[i].key = g->mem.data + at;
		at += ops[i].klen;
		g->ops[i].val = g->mem.data + at;
		at += ops[i].vlen;
		g->ops[i].eval = g->mem.data + at;
		at += g->ops[i].elen;
	}
	if (p->tail)
		p->tail->next = g;
	else
		p->head = g;
	p->tail = g;
	p->st.groups++;
	/* sent from the loop, never from inside the caller */
	if (!p->timer_armed)
		pg_arm(p, 0);
}

/* Session-level advisory locks on the read connection, keyed by a hash
 * of the schema and the name (tests share a database across schemas). */
static int
pg_lock(struct docs_driver *d, const char *name, bool take)
{
	struct docs_pg *p = (struct docs_pg *)d;
	if (strlen(name) >= DOCS_PG_LOCK_NAME_MAX)
		return MIST_EINVAL;
	PGconn *c = pg_reader(p);
	int slot = -1, free_slot = -1;
	for (int i = 0; i < DOCS_PG_LOCKS_MAX; i++) {
		if (p->locks[i].gen != 0 && p->locks[i].gen != p->r_gen)
			p->locks[i].gen = 0; /* died with its connection */
		if (p->locks[i].gen == 0) {
			if (free_slot < 0)
				free_slot = i;
		} else if (strcmp(p->locks[i].name, name) == 0) {
			slot = i;
		}
	}
	if (take && slot >= 0)
		return 1;
	if (!take && slot < 0)
		return 0;
	if (c == NULL)
		return MIST_EUNREACHABLE;
	if (take && free_slot < 0)
		return 0; /* DOCS_PG_LOCKS_MAX held: wait as for another's */
	const char *pv[1] = {name};
	PGresult *r = PQexecParams(
		c,
		take ? "SELECT pg_try_advisory_lock(hashtextextended("
		       "current_schema() || ' ' || $1, 7079))"
		     : "SELECT pg_advisory_unlock(hashtextextended("
		       "current_schema() || ' ' || $1, 7079))",
		1, NULL, pv, NULL, NULL, 0);
	int rc;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		rc = MIST_ESTORE;
	} else {
		rc = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		if (take && rc == 1) {
			p->locks[free_slot].gen = p->r_gen;
			snprintf(p->locks[free_slot].name,
				 sizeof(p->locks[free_slot].name), "%s", name);
		}
		if (!take)
			p->locks[slot].gen = 0;
	}
	PQclear(r);
	return rc;
}

static void
pg_stats(struct docs_driver *d, struct docs_driver_stats *out)
{
	struct docs_pg *p = (struct docs_pg *)d;
	*out = p->st;
	PGconn *c = pg_reader(p);
	if (c == NULL)
		return;
	PGresult *r = PQexec(c, "SELECT pg_total_relation_size('mist_docs_obj')"
				" + pg_total_relation_size('mist_docs_idx')"
				" + pg_total_relation_size('mist_docs_meta')");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		out->bytes_used = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
}

static void
pg_free_cb(uv_handle_t *h)
{
	struct docs_pg *p = h->data;
	free(p->conninfo);
	free(p);
}

static void
pg_close(struct docs_driver *d)
{
	struct docs_pg *p = (struct docs_pg *)d;
	/* what was queued: sent and waited for (bounded: the server answers
	 * or the connection fails) */
	uint64_t end = pg_now(p) + DOCS_PG_CLOSE_WAIT_MS;
	while (p->head != NULL && p->wc != NULL && pg_now(p) < end) {
		pg_pump(p);
		if (p->wc != NULL && p->inflight > 0) {
			int fd = PQsocket(p->wc);
			fd_set rd;
			FD_ZERO(&rd);
			FD_SET(fd, &rd);
			struct timeval tv = {0, 100000};
			select(fd + 1, &rd, NULL, NULL, &tv);
		}
	}
	p->closing = true;
	while (p->head != NULL)
		pg_finish_head(p, MIST_ECLOSED);
	pg_poll_stop(p);
	PQfinish(p->wc);
	PQfinish(p->rc);
	p->wc = p->rc = NULL;
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, pg_free_cb);
}

static const struct docs_driver_vt docs_pg_vt = {
	.name = "postgres",
	.get = pg_get,
	.write = pg_write,
	.scan = pg_scan,
	.stats = pg_stats,
	.close = pg_close,
	.lock = pg_lock,
};

struct docs_driver *
docs_pg_open(uv_loop_t *loop, const char *conninfo, int *err)
{
	if (conninfo == NULL || *conninfo == 0 ||
	    strlen(conninfo) > DOCS_PG_CONNINFO_MAX) {
		if (err)
			*err = MIST_EINVAL;
		return NULL;
	}
	struct docs_pg *p = xcalloc(1, sizeof(*p));
	p->drv.vt = &docs_pg_vt;
	p->loop = loop;
	p->conninfo = xstrdup(conninfo);
	p->inflight_max = DOCS_PG_INFLIGHT;
	p->rc = pg_connect(p, true);
	if (p->rc != NULL && !pg_prepare_reads(p->rc)) {
		PQfinish(p->rc);
		p->rc = NULL;
	}
	if (p->rc == NULL) {
		free(p->conninfo);
		free(p);
		if (err)
			*err = MIST_ESTORE;
		return NULL;
	}
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	return &p->drv;
}
