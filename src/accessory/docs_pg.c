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
 *   docs.c ──get/scan(view)──▶ held in the view? ──yes──▶ the rows
 *          ◀── DOCS_AGAIN ─────┘ no: fetch sent ──▶ read connection i
 *          ◀── ready(tag) ◀── every fetch of the view arrived ◀──┘
 *   docs.c ──get/scan(NULL)──▶ sync connection ──▶ rows (one-off only)
 *   docs.c ──write(group, cb)──▶ queue ──▶ write connection (pipeline)
 *                                          ops..., sync ──▶ server
 *          ◀──cb(0 | EEXIST | ESTORE | EUNREACHABLE)── sync's answer
 *
 * Connections (each a server backend):
 *   reads of views  DOCS_PG_READERS, non-blocking, in libpq's pipeline
 *           mode, each watched by a uv_poll (restartable reads,
 *           docs_driver.h).  A get or a scan page a view does not hold
 *           is a prepared statement (prepared on that connection with its
 *           first use, in the same pipeline) and a sync, sent to the
 *           connection with the fewest in flight; the answers come back
 *           in order per connection, each into its fetch, and once a
 *           view has none in flight the ready callback names it.  Binary
 *           results; a scan fetches pages of DOCS_PG_SCAN_PAGE rows, each
 *           page from the last key on, so the callback can stop early
 *           without the server having sent the whole range.  A view holds
 *           its fetches' results (PGresults) until closed, bounded by
 *           DOCS_PG_VIEW_FETCHES / _BYTES (then MIST_E2BIG), and starts
 *           at most DOCS_PG_VIEW_INFLIGHT per run.  The tables' size
 *           (stats) is measured on them too;
 *   locks   build locks (docs_driver_vt.lock): session advisory locks,
 *           which live and die with one connection, so it carries nothing
 *           else; non-blocking and pipelined like the readers, taking one
 *           is a fetch of the build step's view;
 *   sync    synchronous round trips on the loop, for what is one-off:
 *           reads with no view (docs.c's startup loading of its records,
 *           before it serves; the reads_sync counter shows any other);
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
 * was not acknowledged, so nothing acknowledged is lost; a view's fetch
 * is failed in the view, and its request's next run answers 503) and is
 * connected again on the next use, at most every backoff
 * (DOCS_PG_BACKOFF_MIN_MS doubling to DOCS_PG_BACKOFF_MAX_MS); until then
 * reads and writes fail at once with MIST_EUNREACHABLE (docs.c answers
 * 503, code 100).  A connection attempt blocks the loop for at most
 * DOCS_PG_CONNECT_TIMEOUT_S (a local socket refuses at once); nothing else
 * does while serving.
 *
 * The connection string is never logged (it may hold a password; use a
 * passfile).  Ownership: docs_pg_open copies the string; close() waits
 * for the groups in flight (bounded by the server's answers), fails the
 * rest, drops the fetches in flight and frees every view still open (the
 * caller must not use one after), and frees everything once its handles
 * are closed.
 */
#include "config.h"
#include "accessory/docs_driver.h"
#include "mist.h"
#include "util/log.h"
#include "util/map.h"
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

/*
 * One fetch of a view: a get (one key) or a scan's page (DOCS_PG_SCAN_PAGE
 * rows from a bound on), named by what it asks (id) so a later run of
 * the same request finds it.  In the read connection's queue (qnext)
 * from sent to arrived, in the view's list (vnext) until the view closes;
 * an orphan (view NULL: closed while in flight) is freed on arrival.
 */
struct pg_fetch {
	struct pg_fetch *vnext;
	struct pg_fetch *hnext; /* the view's index: same hash */
	struct pg_fetch *qnext;
	struct docs_view *view;
	uint64_t h;	/* a hash of id, compared first */
	struct buf id;	/* pg_fetch_id */
	bool done;	/* arrived or failed */
	bool size;	/* the tables' size (pg_stats), no view */
	/* its statement was prepared in its own pipeline segment (pg_stmt
	 * number stmt), and the PREPARE's answer said so */
	bool prep_sent, prep_ok;
	unsigned stmt;
	uint64_t gen; /* its connection's (pg_rd.gen): a lock's owner */
	bool got;	/* its result is in res (before the sync) */
	int status;	/* done: 0, MIST_ENOTFOUND, MIST_ESTORE, ... */
	PGresult *res;	/* done, status 0: the rows */
};

struct docs_view {
	struct docs_view *prev, *next; /* docs_pg.views */
	uint64_t tag;
	struct pg_fetch *fetches;
	struct map idx; /* h -> the fetches of that hash (hnext) */
	uint32_t nfetch, inflight;
	size_t bytes;
	bool notify; /* failed by a lost connection: ready(tag) is due */
};

/* One connection of the views' reads: non-blocking, pipeline mode,
 * watched by its poll; what it was sent, oldest first (the server answers
 * a pipeline in order). */
struct pg_rd {
	struct docs_pg *p;
	PGconn *c;
	uv_poll_t *poll;
	bool poll_on;
	int poll_fd, poll_events;
	uint64_t next; /* no connection attempt before (ms, loop time) */
	uint32_t backoff;
	struct pg_fetch *head, *tail;
	uint32_t inflight;
	uint64_t prepared; /* a bit per statement (pg_stmt) prepared on c */
	uint64_t gen;	   /* connections made so far */
};

/*
 * Connections for the views' reads.  The server runs a pipeline's
 * statements one after another, so a read that waits (a lock another
 * session holds, a long page) holds every read sent behind it on its
 * connection: a fetch goes to the connection with the fewest in flight,
 * and one more is connected while each has some.  Four keep one stuck
 * read from holding the rest and let the server use its cores; each is a
 * server backend (max_connections counts them, with the two others).
 */
#define DOCS_PG_READERS 4

struct docs_pg {
	struct docs_driver drv; /* first */
	uv_loop_t *loop;
	char *conninfo;
	uint32_t inflight_max;
	struct pg_rd rd[DOCS_PG_READERS];
	/* build locks' connection (docs_driver_vt.lock): a session's
	 * advisory locks live and die with it, so it carries nothing else;
	 * non-blocking like the readers */
	struct pg_rd lk;
	struct docs_view *views; /* open ones: close() frees them */
	bool notify_due;	 /* a view's notify is set */
	docs_ready_cb ready;
	void *ready_arg;
	/* the tables' size, measured on the views' connection at most every
	 * DOCS_PG_SIZE_EVERY_MS (stats answer the last measure at once) */
	uint64_t size_bytes, size_at;
	bool size_inflight;
	PGconn *rc;	/* synchronous reads (view NULL), locks, stats */
	PGconn *wc;	/* writes, pipeline mode */
	uint64_t r_next, w_next; /* no attempt before (ms, loop time) */
	uint32_t r_backoff, w_backoff;
	uint64_t scans_prepared; /* on rc: a bit per scan shape (pg_scan) */
	uint64_t r_gen;		 /* read connections made so far */
	struct {
		uint64_t gen; /* held on that lk connection (0: free) */
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

/*
 * A view's bounds (docs_driver.h "Restartable reads").  What docs.c's own
 * budgets let one request read stays well inside them: a query examines
 * at most DOCS_SCAN_MAX (1000) objects by default, each a get when an
 * index page names it, after at most DOCS_INDEX_SCAN_MAX (50000) index
 * entries, 98 pages.  Past them a read answers MIST_E2BIG and the request
 * fails clearly (503, code 155) rather than pinning more memory while it
 * is run again: a larger page would only move the bound.
 *   FETCHES   gets and pages one view holds;
 *   BYTES     their rows' bytes (a parked request's memory);
 *   INFLIGHT  fetches one run starts at most: a run that walks an index
 *             page of 512 entries while its earlier reads are missing
 *             would otherwise fetch objects past the query's limit; the
 *             rest are started by the next run.
 */
#define DOCS_PG_VIEW_FETCHES 8192
#define DOCS_PG_VIEW_BYTES ((size_t)64 << 20)
#define DOCS_PG_VIEW_INFLIGHT 128

/* The tables' size is measured at most this often (a stats request
 * answers the last measure; operators poll every few seconds). */
#define DOCS_PG_SIZE_EVERY_MS 1000

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

/* A scan's prepared statement: one per shape (table, which bounds, the
 * lower one exclusive, order), 36 in use of 48, each planned once per
 * connection.  $1 is the lower bound if there is one, then the upper. */
static unsigned
pg_scan_shape(enum docs_table t, bool has1, bool has2, bool ex1,
	      bool reverse)
{
	return (unsigned)t * 16 + has1 * 8 + has2 * 4 + ex1 * 2 + reverse;
}

static void
pg_scan_sql(unsigned shape, char *sql, size_t n)
{
	unsigned t = shape / 16;
	bool has1 = shape & 8, has2 = shape & 4, ex1 = shape & 2,
	     reverse = shape & 1;
	snprintf(sql, n,
		 "SELECT k, %s FROM %s WHERE true%s%s ORDER BY k%s LIMIT %d",
		 pg_val[t], pg_table[t],
		 has1 ? (ex1 ? " AND k > $1" : " AND k >= $1") : "",
		 has2 ? (has1 ? " AND k < $2" : " AND k < $1") : "",
		 reverse ? " DESC" : "", DOCS_PG_SCAN_PAGE);
}

/* The bounds of a scan's page: the first from [lo, hi); a later one from
 * the last key of the page before (@a from), exclusive. */
struct pg_page {
	const void *b1, *b2;
	size_t l1, l2;
	bool ex1;
	const char *pv[2];
	int pl[2], pf[2], np;
	unsigned shape;
	char name[32];
};

static void
pg_page_of(struct pg_page *pg, enum docs_table t, const void *lo,
	   size_t lolen, const void *hi, size_t hilen, bool reverse,
	   const struct buf *from)
{
	pg->b1 = lo;
	pg->l1 = lolen;
	pg->b2 = hi;
	pg->l2 = hilen;
	pg->ex1 = false;
	if (from != NULL) {
		if (reverse) {
			pg->b2 = from->data;
			pg->l2 = from->len;
		} else {
			pg->b1 = from->data;
			pg->l1 = from->len;
			pg->ex1 = true;
		}
	}
	pg->np = 0;
	if (pg->l1 > 0) {
		pg->pv[pg->np] = pg->b1;
		pg->pl[pg->np] = (int)pg->l1;
		pg->pf[pg->np++] = 1;
	}
	if (pg->l2 > 0) {
		pg->pv[pg->np] = pg->b2;
		pg->pl[pg->np] = (int)pg->l2;
		pg->pf[pg->np++] = 1;
	}
	pg->shape = pg_scan_shape(t, pg->l1 > 0, pg->l2 > 0,
				  pg->ex1 && pg->l1 > 0, reverse);
	snprintf(pg->name, sizeof(pg->name), "mist_scan_%u", pg->shape);
}

/* Checks a result's rows: @a nf columns, none over DOCS_PG_VALUE_MAX;
 * their bytes in *@a bytes.  False: refused (logged). */
static bool
pg_rows_ok(const PGresult *r, int nf, size_t *bytes)
{
	int n = PQntuples(r);
	size_t sum = 0;
	bool ok = n == 0 || PQnfields(r) == nf;
	for (int i = 0; ok && i < n; i++)
		for (int j = 0; j < nf; j++) {
			size_t l = (size_t)PQgetlength(r, i, j);
			if (l > DOCS_PG_VALUE_MAX)
				ok = false;
			sum += l;
		}
	if (!ok)
		log_error("docs: PostgreSQL read: a row of an unexpected shape "
			  "or over %zu bytes", DOCS_PG_VALUE_MAX);
	if (bytes)
		*bytes = sum;
	return ok;
}

/* The synchronous get (view NULL): a round trip on the loop. */
static int
pg_get_sync(struct docs_pg *p, enum docs_table t, const void *key,
	    size_t klen, struct buf *out)
{
	PGconn *c = pg_reader(p);
	if (c == NULL)
		return MIST_EUNREACHABLE;
	p->st.reads_sync++;
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
	} else if (!pg_rows_ok(r, 1, NULL)) {
		rc = MIST_ESTORE;
	} else {
		out->len = 0;
		buf_append(out, PQgetvalue(r, 0, 0),
			   (size_t)PQgetlength(r, 0, 0));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* The synchronous scan (view NULL): a round trip per page. */
static int
pg_scan_sync(struct docs_pg *p, enum docs_table t, const void *lo,
	     size_t lolen, const void *hi, size_t hilen, bool reverse,
	     docs_scan_cb cb, void *arg)
{
	struct buf from = BUF_INIT; /* the last key of the page before */
	bool first = true, stop = false;
	int rc = 0;
	char sql[256];
	while (!stop) {
		PGconn *c = pg_reader(p);
		if (c == NULL) {
			rc = MIST_EUNREACHABLE;
			break;
		}
		struct pg_page pg;
		pg_page_of(&pg, t, lo, lolen, hi, hilen, reverse,
			   first ? NULL : &from);
		unsigned shape = pg.shape;
		if (!(p->scans_prepared & (1ull << shape))) {
			pg_scan_sql(shape, sql, sizeof(sql));
			PGresult *pr = PQprepare(c, pg.name, sql, pg.np, NULL);
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
		p->st.reads_sync++;
		PGresult *r = PQexecPrepared(c, pg.name, pg.np, pg.pv, pg.pl,
					     pg.pf, 1);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = PQstatus(c) == CONNECTION_OK ? MIST_ESTORE
							  : MIST_EUNREACHABLE;
			log_warn("docs: PostgreSQL scan: %s",
				 PQerrorMessage(c));
			PQclear(r);
			break;
		}
		if (!pg_rows_ok(r, 2, NULL)) {
			rc = MIST_ESTORE;
			PQclear(r);
			break;
		}
		int n = PQntuples(r);
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

/* ---------------------------------------------- reads of views (async) */

static void pg_arm(struct docs_pg *p, uint64_t ms);
static void pg_apoll_cb(uv_poll_t *h, int status, int events);
static void pg_poll_free(uv_handle_t *h);

static void
pg_fetch_free(struct pg_fetch *f)
{
	PQclear(f->res);
	buf_destroy(&f->id);
	free(f);
}

static void
pg_apoll_stop(struct pg_rd *r)
{
	if (r->poll_on) {
		uv_poll_stop(r->poll);
		uv_close((uv_handle_t *)r->poll, pg_poll_free);
		r->poll = NULL;
		r->poll_on = false;
	}
}

static void
pg_awatch(struct pg_rd *r, int events)
{
	int fd = PQsocket(r->c);
	if (r->poll_on && r->poll_fd != fd)
		pg_apoll_stop(r);
	if (!r->poll_on) {
		r->poll = xcalloc(1, sizeof(*r->poll));
		if (uv_poll_init(r->p->loop, r->poll, fd) != 0) {
			free(r->poll);
			r->poll = NULL;
			return;
		}
		r->poll->data = r;
		r->poll_on = true;
		r->poll_fd = fd;
		r->poll_events = 0;
	}
	if (events != r->poll_events) {
		uv_poll_start(r->poll, events, pg_apoll_cb);
		r->poll_events = events;
	}
}

/* Runs the ready callbacks a lost connection made due (from the timer:
 * never inside a get or scan, docs_driver.h). */
static void
pg_notify_views(struct docs_pg *p)
{
	if (!p->notify_due)
		return;
	p->notify_due = false;
	for (struct docs_view *v = p->views; v; v = v->next)
		if (v->notify) {
			v->notify = false;
			if (p->ready)
				p->ready(p->ready_arg, v->tag);
		}
}

/* A views' connection broke: every fetch in flight on it fails (a run of
 * its request answers 503); it is connected again when needed, at most
 * every backoff. */
static void
pg_areader_lost(struct pg_rd *r)
{
	struct docs_pg *p = r->p;
	if (r->c != NULL)
		log_warn("docs: PostgreSQL: a read connection failed: %s",
			 PQerrorMessage(r->c));
	pg_apoll_stop(r);
	PQfinish(r->c);
	r->c = NULL;
	struct pg_fetch *f = r->head, *n;
	r->head = r->tail = NULL;
	r->inflight = 0;
	for (; f; f = n) {
		n = f->qnext;
		f->qnext = NULL;
		if (f->size)
			p->size_inflight = false;
		if (f->view == NULL) {
			pg_fetch_free(f);
			continue;
		}
		PQclear(f->res);
		f->res = NULL;
		f->done = true;
		f->status = MIST_EUNREACHABLE;
		p->st.reads_failed++;
		if (--f->view->inflight == 0) {
			f->view->notify = true;
			p->notify_due = true;
		}
	}
	if (p->notify_due)
		pg_arm(p, 0);
	pg_backoff(&r->backoff, &r->next, pg_now(p));
}

/*
 * The statements of the views' reads, numbered for pg_rd.prepared: a
 * scan's shape (pg_scan_shape, below 48), a get of each table, the size.
 * Each is prepared on a connection the first time it is used there, in
 * the same pipeline as its first query (PQsendPrepare): a PREPARE waits
 * for the table locks a query would, so preparing them all at connect,
 * synchronously, could hold the loop behind another session's lock.
 */
#define PG_STMT_GET 48 /* + the table */
#define PG_STMT_SIZE (PG_STMT_GET + DOCS_TABLES)
#define PG_STMT_LOCK (PG_STMT_SIZE + 1)
#define PG_STMT_UNLOCK (PG_STMT_SIZE + 2)

static const char pg_size_sql[] =
	"SELECT (pg_total_relation_size('mist_docs_obj')"
	" + pg_total_relation_size('mist_docs_idx')"
	" + pg_total_relation_size('mist_docs_meta'))::text";

/* Statement @a id's name and text. */
static void
pg_stmt(unsigned id, char *name, size_t nl, char *sql, size_t sl)
{
	if (id == PG_STMT_SIZE) {
		snprintf(name, nl, "mist_size");
		snprintf(sql, sl, "%s", pg_size_sql);
	} else if (id == PG_STMT_LOCK || id == PG_STMT_UNLOCK) {
		/* keyed by the schema too: tests share a database */
		snprintf(name, nl, "mist_%s", id == PG_STMT_LOCK ? "lock"
								 : "unlock");
		snprintf(sql, sl,
			 "SELECT %s(hashtextextended(current_schema() || ' ' "
			 "|| $1, 7079))",
			 id == PG_STMT_LOCK ? "pg_try_advisory_lock"
					    : "pg_advisory_unlock");
	} else if (id >= PG_STMT_GET) {
		snprintf(name, nl, "%s", pg_get_name[id - PG_STMT_GET]);
		snprintf(sql, sl, "%s", pg_get_sql[id - PG_STMT_GET]);
	} else {
		snprintf(name, nl, "mist_scan_%u", id);
		pg_scan_sql(id, sql, sl);
	}
}

/* Connects @a r if it may be now; false: unreachable (backoff).
 * Connecting blocks the loop (at most DOCS_PG_CONNECT_TIMEOUT_S), as for
 * the other connections; sending and reading never do. */
static bool
pg_rd_connect(struct pg_rd *r)
{
	uint64_t now = pg_now(r->p);
	if (now < r->next)
		return false;
	PGconn *c = pg_connect(r->p, false);
	if (c != NULL &&
	    (PQsetnonblocking(c, 1) != 0 || PQenterPipelineMode(c) != 1)) {
		PQfinish(c);
		c = NULL;
	}
	if (c == NULL) {
		pg_backoff(&r->backoff, &r->next, now);
		return false;
	}
	r->backoff = 0;
	r->c = c;
	r->prepared = 0;
	r->gen++;
	return true;
}

/* The connection a new fetch goes to: an idle one, else one more
 * connected, else the one with the fewest in flight; NULL: none can be
 * had now (the server is unreachable). */
static struct pg_rd *
pg_areader(struct docs_pg *p)
{
	struct pg_rd *best = NULL, *spare = NULL;
	for (int i = 0; i < DOCS_PG_READERS; i++) {
		struct pg_rd *r = &p->rd[i];
		if (r->c != NULL && PQstatus(r->c) != CONNECTION_OK)
			pg_areader_lost(r);
		if (r->c == NULL) {
			if (spare == NULL)
				spare = r;
			continue;
		}
		if (r->inflight == 0)
			return r;
		if (best == NULL || r->inflight < best->inflight)
			best = r;
	}
	if (spare != NULL && pg_rd_connect(spare))
		return spare;
	return best;
}

/* Sends statement @a stmt (pg_stmt) on a views' connection, prepared
 * first if it is not yet there, and queues @a f for its answer; false: it
 * could not be sent (the connection is dropped). */
static bool
pg_fetch_send(struct docs_pg *p, struct pg_rd *on, struct pg_fetch *f,
	      unsigned stmt, int np, const char *const *pv, const int *pl,
	      const int *pf)
{
	struct pg_rd *r = on;
	if (r != NULL && r->c != NULL && PQstatus(r->c) != CONNECTION_OK)
		pg_areader_lost(r);
	if (r != NULL && r->c == NULL && !pg_rd_connect(r))
		return false;
	if (r == NULL)
		r = pg_areader(p);
	if (r == NULL)
		return false;
	char name[32], sql[256];
	pg_stmt(stmt, name, sizeof(name), sql, sizeof(sql));
	bool prep = !(r->prepared & (1ull << stmt));
	if ((prep && PQsendPrepare(r->c, name, sql, np, NULL) != 1) ||
	    PQsendQueryPrepared(r->c, name, np, pv, pl, pf, 1) != 1 ||
	    PQpipelineSync(r->c) != 1) {
		pg_areader_lost(r);
		return false;
	}
	/* (a prepare that fails fails its query: the fetch fails, and the
	 * next use prepares it again, pg_fetch_arrived) */
	if (prep)
		r->prepared |= 1ull << stmt;
	f->prep_sent = prep;
	f->stmt = stmt;
	f->gen = r->gen;
	if (r->tail)
		r->tail->qnext = f;
	else
		r->head = f;
	r->tail = f;
	r->inflight++;
	int fl = PQflush(r->c);
	if (fl < 0)
		pg_areader_lost(r); /* f fails with it: ready(tag) follows */
	else
		pg_awatch(r, UV_READABLE | (fl == 1 ? UV_WRITABLE : 0));
	return true;
}

/* What a fetch asks, as bytes: [kind][table][reverse][from?] then the
 * key (a get) or [u32 len][bound] for lo, hi and from (a page). */
static void
pg_fetch_id(struct buf *id, uint8_t kind, enum docs_table t, bool reverse,
	    const void *a, size_t al, const void *b, size_t bl,
	    const struct buf *from)
{
	uint8_t h[4] = {kind, (uint8_t)t, reverse, from != NULL};
	id->len = 0;
	buf_append(id, h, sizeof(h));
	if (kind == 0) {
		buf_append(id, a, al);
		return;
	}
	uint32_t l = (uint32_t)al;
	buf_append(id, &l, 4);
	buf_append(id, a ? a : "", al);
	l = (uint32_t)bl;
	buf_append(id, &l, 4);
	buf_append(id, b ? b : "", bl);
	l = from ? (uint32_t)from->len : 0;
	buf_append(id, &l, 4);
	if (from)
		buf_append(id, from->data, from->len);
}

static uint64_t
pg_fetch_hash(const struct buf *id)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < id->len; i++) {
		h ^= id->data[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct pg_fetch *
pg_view_find(const struct docs_view *v, const struct buf *id, uint64_t h)
{
	for (struct pg_fetch *f = map_get(&v->idx, h); f; f = f->hnext)
		if (f->id.len == id->len &&
		    memcmp(f->id.data, id->data, id->len) == 0)
			return f;
	return NULL;
}

/* Starts the fetch @a id for @a v (statement @a stmt with its
 * parameters).  DOCS_AGAIN, or an error if it cannot be. */
static int
pg_fetch_start(struct docs_pg *p, struct pg_rd *on, struct docs_view *v,
	       struct buf *id, uint64_t h, unsigned stmt, int np,
	       const char *const *pv, const int *pl, const int *pf)
{
	if (v->inflight >= DOCS_PG_VIEW_INFLIGHT)
		return DOCS_AGAIN; /* the next run starts it */
	if (v->nfetch >= DOCS_PG_VIEW_FETCHES || v->bytes > DOCS_PG_VIEW_BYTES) {
		log_warn("docs: PostgreSQL: a request read more than %u "
			 "pages or %zu bytes: refused",
			 DOCS_PG_VIEW_FETCHES, DOCS_PG_VIEW_BYTES);
		return MIST_E2BIG;
	}
	struct pg_fetch *f = xcalloc(1, sizeof(*f));
	f->view = v;
	f->h = h;
	f->id = *id; /* taken */
	*id = (struct buf)BUF_INIT;
	f->vnext = v->fetches;
	v->fetches = f;
	f->hnext = map_get(&v->idx, h);
	map_put(&v->idx, h, f);
	v->nfetch++;
	v->inflight++;
	if (!pg_fetch_send(p, on, f, stmt, np, pv, pl, pf)) {
		v->fetches = f->vnext;
		if (f->hnext)
			map_put(&v->idx, h, f->hnext);
		else
			map_del(&v->idx, h);
		v->nfetch--;
		v->inflight--;
		pg_fetch_free(f);
		return MIST_EUNREACHABLE;
	}
	p->st.reads_sent++;
	return DOCS_AGAIN;
}

/* The head fetch of @a r is complete (its sync arrived). */
static void
pg_fetch_arrived(struct pg_rd *r)
{
	struct docs_pg *p = r->p;
	struct pg_fetch *f = r->head;
	r->head = f->qnext;
	if (r->head == NULL)
		r->tail = NULL;
	r->inflight--;
	f->qnext = NULL;
	f->done = true;
	if (f->prep_sent && !f->prep_ok)
		r->prepared &= ~(1ull << f->stmt); /* not there: again */
	bool get = f->id.data[0] == 0, page = f->id.data[0] == 1;
	size_t bytes = 0;
	if (f->res == NULL || PQresultStatus(f->res) != PGRES_TUPLES_OK) {
		log_warn("docs: PostgreSQL read: %s",
			 f->res ? PQresultErrorMessage(f->res) : "no answer");
		f->status = MIST_ESTORE;
	} else if (!pg_rows_ok(f->res, page ? 2 : 1, &bytes)) {
		f->status = MIST_ESTORE;
	} else if (get && PQntuples(f->res) == 0) {
		f->status = MIST_ENOTFOUND;
	}
	struct docs_view *v = f->view;
	if (f->size) {
		p->size_inflight = false;
		char num[24];
		size_t nl = f->status == 0 && PQntuples(f->res) == 1
				    ? (size_t)PQgetlength(f->res, 0, 0)
				    : sizeof(num);
		if (nl < sizeof(num)) { /* text: digits, not NUL-ended */
			memcpy(num, PQgetvalue(f->res, 0, 0), nl);
			num[nl] = 0;
			p->size_bytes = strtoull(num, NULL, 10);
		}
	}
	if (v == NULL && f->id.data[0] == 3 && f->status == 0 &&
	    PQntuples(f->res) == 1 && PQgetlength(f->res, 0, 0) == 1 &&
	    PQgetvalue(f->res, 0, 0)[0] == 1 && r->c != NULL) {
		/* a lock taken for a view closed meanwhile: given back */
		struct pg_fetch *u = xcalloc(1, sizeof(*u));
		buf_append(&u->id, "\4", 1);
		buf_append(&u->id, f->id.data + 1, f->id.len - 1);
		buf_append(&u->id, "", 1);
		const char *pv[1] = {(const char *)u->id.data + 1};
		int pf[1] = {0};
		if (!pg_fetch_send(p, r, u, PG_STMT_UNLOCK, 1, pv, NULL, pf))
			pg_fetch_free(u);
	}
	if (v == NULL) { /* its view closed meanwhile, or none */
		pg_fetch_free(f);
		return;
	}
	v->bytes += bytes;
	if (f->status == 0 && v->bytes > DOCS_PG_VIEW_BYTES)
		f->status = MIST_E2BIG;
	if (f->status != 0) {
		PQclear(f->res);
		f->res = NULL;
	}
	if (--v->inflight == 0 && p->ready)
		p->ready(p->ready_arg, v->tag);
}

/* Reads what arrived on @a r. */
static void
pg_adrain(struct pg_rd *r)
{
	PGconn *c = r->c;
	if (PQconsumeInput(c) != 1) {
		pg_areader_lost(r);
		return;
	}
	int nulls = 0;
	while (r->head != NULL && !PQisBusy(c)) {
		PGresult *res = PQgetResult(c);
		if (res == NULL) {
			if (++nulls >= 2)
				break;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			pg_fetch_arrived(r);
			continue;
		}
		struct pg_fetch *f = r->head;
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			f->prep_ok = true; /* its statement's PREPARE */
			PQclear(res);
		} else if (!f->got) {
			f->got = true;
			f->res = res;
		} else {
			PQclear(res);
		}
	}
	if (PQstatus(c) != CONNECTION_OK)
		pg_areader_lost(r);
}

static void
pg_apoll_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	struct pg_rd *r = h->data;
	if (status < 0 || r->c == NULL) {
		pg_areader_lost(r);
		return;
	}
	int fl = PQflush(r->c);
	if (fl < 0) {
		pg_areader_lost(r);
		return;
	}
	pg_adrain(r);
	if (r->c != NULL)
		pg_awatch(r, UV_READABLE | (fl == 1 ? UV_WRITABLE : 0));
}

static int
pg_get(struct docs_driver *d, struct docs_view *v, enum docs_table t,
       const void *key, size_t klen, struct buf *out)
{
	struct docs_pg *p = (struct docs_pg *)d;
	if (v == NULL)
		return pg_get_sync(p, t, key, klen, out);
	struct buf id = BUF_INIT;
	pg_fetch_id(&id, 0, t, false, key, klen, NULL, 0, NULL);
	uint64_t h = pg_fetch_hash(&id);
	struct pg_fetch *f = pg_view_find(v, &id, h);
	int rc;
	if (f == NULL) {
		const char *pv[1] = {key};
		int pl[1] = {(int)klen}, pf[1] = {1};
		rc = pg_fetch_start(p, NULL, v, &id, h, PG_STMT_GET + (unsigned)t, 1,
				    pv, pl, pf);
	} else if (!f->done) {
		rc = DOCS_AGAIN;
	} else {
		p->st.reads_held++;
		rc = f->status;
		if (rc == 0) {
			out->len = 0;
			buf_append(out, PQgetvalue(f->res, 0, 0),
				   (size_t)PQgetlength(f->res, 0, 0));
		}
	}
	buf_destroy(&id);
	return rc;
}

static int
pg_scan(struct docs_driver *d, struct docs_view *v, enum docs_table t,
	const void *lo, size_t lolen, const void *hi, size_t hilen,
	bool reverse, docs_scan_cb cb, void *arg)
{
	struct docs_pg *p = (struct docs_pg *)d;
	if (lo == NULL)
		lolen = 0;
	if (hi == NULL)
		hilen = 0;
	if (v == NULL)
		return pg_scan_sync(p, t, lo, lolen, hi, hilen, reverse, cb,
				    arg);
	struct buf from = BUF_INIT, id = BUF_INIT;
	bool first = true;
	int rc = 0;
	for (;;) {
		pg_fetch_id(&id, 1, t, reverse, lo, lolen, hi, hilen,
			    first ? NULL : &from);
		uint64_t h = pg_fetch_hash(&id);
		struct pg_fetch *f = pg_view_find(v, &id, h);
		if (f == NULL) {
			struct pg_page pg;
			pg_page_of(&pg, t, lo, lolen, hi, hilen, reverse,
				   first ? NULL : &from);
			rc = pg_fetch_start(p, NULL, v, &id, h, pg.shape, pg.np,
					    pg.pv, pg.pl, pg.pf);
			break;
		}
		if (!f->done) {
			rc = DOCS_AGAIN;
			break;
		}
		p->st.reads_held++;
		if (f->status != 0) {
			rc = f->status;
			break;
		}
		const PGresult *r = f->res;
		int n = PQntuples(r);
		bool stop = false;
		for (int i = 0; i < n && !stop; i++)
			stop = cb(arg, PQgetvalue(r, i, 0),
				  (size_t)PQgetlength(r, i, 0),
				  PQgetvalue(r, i, 1),
				  (size_t)PQgetlength(r, i, 1)) != 0;
		if (stop || n < DOCS_PG_SCAN_PAGE)
			break;
		from.len = 0;
		buf_append(&from, PQgetvalue(r, n - 1, 0),
			   (size_t)PQgetlength(r, n - 1, 0));
		first = false;
	}
	buf_destroy(&from);
	buf_destroy(&id);
	return rc;
}

static struct docs_view *
pg_view_open(struct docs_driver *d, uint64_t tag)
{
	struct docs_pg *p = (struct docs_pg *)d;
	struct docs_view *v = xcalloc(1, sizeof(*v));
	v->tag = tag;
	map_init(&v->idx, uv_hrtime() ^ (uint64_t)(uintptr_t)v ^ tag);
	v->next = p->views;
	if (p->views)
		p->views->prev = v;
	p->views = v;
	return v;
}

static void
pg_view_close(struct docs_driver *d, struct docs_view *v)
{
	struct docs_pg *p = (struct docs_pg *)d;
	for (struct pg_fetch *f = v->fetches, *n; f; f = n) {
		n = f->vnext;
		if (f->done)
			pg_fetch_free(f);
		else
			f->view = NULL; /* freed when it arrives */
	}
	if (v->prev)
		v->prev->next = v->next;
	else
		p->views = v->next;
	if (v->next)
		v->next->prev = v->prev;
	map_destroy(&v->idx);
	free(v);
}

static void
pg_on_ready(struct docs_driver *d, docs_ready_cb cb, void *arg)
{
	struct docs_pg *p = (struct docs_pg *)d;
	p->ready = cb;
	p->ready_arg = arg;
}

/* ----------------------------------------------------------- writes */

static void pg_pump(struct docs_pg *p);
static void pg_poll_cb(uv_poll_t *h, int status, int events);

static void
pg_timer_cb(uv_timer_t *t)
{
	struct docs_pg *p = t->data;
	p->timer_armed = false;
	pg_notify_views(p);
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

/* Session-level advisory locks on their own connection (lk), keyed by a
 * hash of the schema and the name (tests share a database across
 * schemas).  Taking one is a fetch of the caller's view like a read
 * (DOCS_AGAIN, then the answer); giving it back is sent and not waited
 * for.  A lock held on a connection that broke is gone (the server let
 * go of it with the session). */
static int
pg_lock(struct docs_driver *d, struct docs_view *v, const char *name,
	bool take)
{
	struct docs_pg *p = (struct docs_pg *)d;
	size_t nl = strlen(name);
	if (nl >= DOCS_PG_LOCK_NAME_MAX)
		return MIST_EINVAL;
	uint64_t live = p->lk.c != NULL ? p->lk.gen : 0;
	int slot = -1, free_slot = -1;
	for (int i = 0; i < DOCS_PG_LOCKS_MAX; i++) {
		if (p->locks[i].gen != 0 && p->locks[i].gen != live)
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
	if (!take) {
		if (slot < 0)
			return 0;
		p->locks[slot].gen = 0;
		struct pg_fetch *u = xcalloc(1, sizeof(*u));
		buf_append(&u->id, "\4", 1);
		buf_append(&u->id, name, nl + 1);
		const char *pv[1] = {(const char *)u->id.data + 1};
		int pf[1] = {0};
		if (!pg_fetch_send(p, &p->lk, u, PG_STMT_UNLOCK, 1, pv, NULL,
				   pf))
			pg_fetch_free(u); /* its connection is gone: so is it */
		return 0;
	}
	if (v == NULL)
		return MIST_EINVAL; /* taking one waits: a view's fetch */
	if (free_slot < 0)
		return 0; /* DOCS_PG_LOCKS_MAX held: wait as for another's */
	struct buf id = BUF_INIT;
	buf_append(&id, "\3", 1);
	buf_append(&id, name, nl + 1);
	uint64_t h = pg_fetch_hash(&id);
	struct pg_fetch *f = pg_view_find(v, &id, h);
	int rc;
	if (f == NULL) {
		const char *pv[1] = {name};
		int pf[1] = {0};
		rc = pg_fetch_start(p, &p->lk, v, &id, h, PG_STMT_LOCK, 1, pv,
				    NULL, pf);
	} else if (!f->done) {
		rc = DOCS_AGAIN;
	} else if (f->status != 0) {
		rc = f->status;
	} else {
		bool got = PQntuples(f->res) == 1 &&
			   PQgetlength(f->res, 0, 0) == 1 &&
			   PQgetvalue(f->res, 0, 0)[0] == 1;
		/* taken on a connection that broke since: not held */
		rc = got && f->gen == live && live != 0;
		if (rc == 1) {
			p->locks[free_slot].gen = live;
			snprintf(p->locks[free_slot].name,
				 sizeof(p->locks[free_slot].name), "%s", name);
		}
	}
	buf_destroy(&id);
	return rc;
}

/* Starts measuring the tables' size on the views' connection (the
 * answer lands in size_bytes): never a round trip on the loop. */
static void
pg_size_start(struct docs_pg *p)
{
	uint64_t now = pg_now(p);
	if (p->size_inflight ||
	    (p->size_at != 0 && now < p->size_at + DOCS_PG_SIZE_EVERY_MS))
		return;
	struct pg_fetch *f = xcalloc(1, sizeof(*f));
	f->size = true;
	buf_append(&f->id, "\2", 1); /* kind 2: neither a get nor a page */
	if (!pg_fetch_send(p, NULL, f, PG_STMT_SIZE, 0, NULL, NULL, NULL)) {
		pg_fetch_free(f);
		return;
	}
	p->size_inflight = true;
	p->size_at = now;
}

static void
pg_stats(struct docs_driver *d, struct docs_driver_stats *out)
{
	struct docs_pg *p = (struct docs_pg *)d;
	*out = p->st;
	out->bytes_used = p->size_bytes; /* the last measure (0: none yet) */
	pg_size_start(p);
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
	/* the views' reads: what is in flight is dropped, every view the
	 * caller still has is freed (it must not use them any more) */
	for (int i = 0; i <= DOCS_PG_READERS; i++) {
		struct pg_rd *r = i < DOCS_PG_READERS ? &p->rd[i] : &p->lk;
		pg_apoll_stop(r);
		PQfinish(r->c);
		r->c = NULL;
		for (struct pg_fetch *f = r->head, *n; f; f = n) {
			n = f->qnext;
			if (f->view == NULL)
				pg_fetch_free(f);
			else
				f->done = true;
		}
		r->head = r->tail = NULL;
	}
	p->ready = NULL;
	while (p->views != NULL)
		pg_view_close(d, p->views);
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
	.view_open = pg_view_open,
	.view_close = pg_view_close,
	.on_ready = pg_on_ready,
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
	for (int i = 0; i < DOCS_PG_READERS; i++)
		p->rd[i].p = p;
	p->lk.p = p;
	return &p->drv;
}
