/*
 * docs_driver.h -- what the documents accessory needs from a store.
 *
 * ACTOR_DOCS (accessory/docs.c) keeps documents, index entries and its own
 * records (schemas, unique names, session tokens, quota counters) as keys
 * and values in three ordered tables.  A driver gives it exactly this:
 *
 *   get      one key, copied out, on the loop thread;
 *   write    a group of puts and deletes applied ATOMICALLY (all or none),
 *            queued: the callback runs on the loop thread once the group
 *            is durable.  Drivers group many writes per commit (LMDB: one
 *            fsync per batch), so callers queue freely;
 *   scan     keys in [lo, hi), ascending or descending, each handed to a
 *            callback that may stop the scan;
 *   stats    bytes used, the commit and read counters.
 *
 * The LMDB driver (docs_lmdb_open, accessory/docs_lmdb.c) is the first;
 * the PostgreSQL one (docs_pg_open, accessory/docs_pg.c, docs/POSTGRES.md)
 * is the second: a table per docs_table, a transaction per group.
 *
 * Restartable reads (a driver whose reads wait on a server: PostgreSQL).
 * A read is a round trip the loop must not wait for, so the caller runs a
 * request as a series of RUNS against one read VIEW (view_open .. view_
 * close): a get or scan whose answer the view does not hold yet STARTS
 * the fetch and answers DOCS_AGAIN; the caller lets that run come to
 * nothing (it answers and queues nothing) and runs the request again from
 * the start once the driver calls the ready callback with the view's
 * tag, which it does when every fetch the view had in flight arrived (or
 * failed).  A run serves the reads of earlier runs from the view, so a
 * request whose reads are k rounds deep runs at most k + 1 times; the
 * reads of one run that do not depend on each other (the objects an
 * index page names) are fetched at once, pipelined.
 *
 *    caller                          driver                    server
 *    run 1: get(view, A) ─────────▶ fetch A ───────────────────▶
 *           ◀── DOCS_AGAIN ─────────┘                            │
 *           (answers nothing)        ◀──── A's row ──────────────┘
 *           ◀──────────── ready(tag) (from the loop, outside a run)
 *    run 2: get(view, A) ◀─ held ───┘
 *           get(view, B) ─────────▶ fetch B ...
 *    ...    run k+1 answers; view_close drops what was fetched.
 *
 * A view holds what it fetched until closed: a run sees values as of the
 * request's first read of each key (read committed, per key); the caller
 * keeps its own writes' overlay above it, and preconditions (below) catch
 * other agents' writes to what a writing request read.  Its own writes
 * too: a group that became durable while a fetch was in flight has left
 * the overlay, and the view may hold the value from before it (a caller
 * that writes without preconditions allows for that: docs.c's index
 * builds note the keys of groups durable meanwhile).  A view is bounded
 * (the driver says how); past it a read answers MIST_E2BIG.  With view
 * NULL, or a driver without view_open (LMDB), reads are synchronous and
 * never answer DOCS_AGAIN: LMDB's path is unchanged.
 *
 * Preconditions (a store other agents write too): a put or delete may
 * carry what the caller read of its key (docs_op.expect: absent, or a
 * value); the group then applies only if every such key still holds it,
 * else nothing is applied and the callback gets MIST_EEXIST (docs.c runs
 * the request again on fresh reads).  LMDB has one writer, docs.c itself,
 * whose overlay already orders its writes: it ignores them.
 *
 * Ordering contract: groups become durable in the order they were
 * queued, and a get or scan started after a group's callback ran sees it
 * (a view's fetch started after it, too: a view does not pin a snapshot).
 * A get or scan started before may or may not see a queued group: the
 * caller keeps its own overlay of pending writes (docs.c does).
 *
 * Ownership: keys and values handed to write() are copied at the call;
 * get() copies into the caller's buffer; the pointers a scan callback gets
 * die when it returns.  Views are the driver's, lent to the caller from
 * view_open to view_close.  The driver is the caller's: close() flushes
 * queued groups (their callbacks run), frees the views still open, and
 * frees it; run the loop until its handles are closed.
 */
#ifndef MIST_ACCESSORY_DOCS_DRIVER_H_INCLUDED
#define MIST_ACCESSORY_DOCS_DRIVER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

enum docs_table {
	DOCS_T_OBJ,  /* app \0 class \0 objectId -> the stored object (JSON) */
	DOCS_T_IDX,  /* app \0 class \0 index \0 encoded values objectId -> "" */
	DOCS_T_META, /* schemas, unique names, sessions, usage (docs.c) */
	DOCS_TABLES
};

enum docs_op_kind {
	DOCS_PUT,
	DOCS_DEL,	 /* a missing key is not an error */
	DOCS_DEL_PREFIX, /* every key starting with key */
};

/* A precondition of a put or delete (a shared store: docs_pg.c): the
 * group applies only if the key still holds what the request read. */
enum docs_expect {
	DOCS_EXPECT_NONE = 0, /* unconditional (LMDB ignores the rest) */
	DOCS_EXPECT_ABSENT,   /* the key must be missing */
	DOCS_EXPECT_VALUE,    /* the key must hold eval exactly */
};

struct docs_op {
	enum docs_op_kind kind;
	enum docs_table table;
	const void *key;
	size_t klen;
	const void *val; /* DOCS_PUT */
	size_t vlen;
	enum docs_expect expect; /* DOCS_PUT, DOCS_DEL of OBJ and META */
	const void *eval;	 /* DOCS_EXPECT_VALUE */
	size_t elen;
};

/** @a status: 0 durable; MIST_E2BIG store full; MIST_ESTORE failed;
 * MIST_EUNREACHABLE the store could not be reached (not applied, or not
 * known to be); MIST_EEXIST a precondition failed: another writer changed
 * a key the request read, nothing was applied (the caller re-runs it). */
typedef void (*docs_done_cb)(void *arg, int status);
/** Return non-zero to stop the scan. */
typedef int (*docs_scan_cb)(void *arg, const void *key, size_t klen,
			    const void *val, size_t vlen);

/* What a read with a view answers when it started a fetch: positive, so
 * it is no MIST_E* code and never leaves the documents accessory (docs.c
 * turns it into a run that comes to nothing); 2, not 1, which lock()
 * answers for "held". */
#define DOCS_AGAIN 2

/** A view's fetches all arrived (or failed): run its request again.
 * Called on the loop thread from the driver's I/O, never from inside a
 * get, scan or write. */
typedef void (*docs_ready_cb)(void *arg, uint64_t tag);

struct docs_driver_stats {
	uint64_t bytes_used; /* the store's size on disk, about */
	uint64_t map_size;   /* LMDB: address space now */
	uint64_t groups, commits, grows;
	uint64_t conflicts; /* groups a precondition refused */
	/* restartable reads (PostgreSQL): fetches sent without waiting
	 * (gets, scan pages), reads answered from a view, reads done as
	 * synchronous round trips (view NULL: startup, locks), views whose
	 * fetches failed with the connection */
	uint64_t reads_sent, reads_held, reads_sync, reads_failed;
};

struct docs_driver;
struct docs_view; /* the driver's; one per request being run */
struct docs_driver_vt {
	const char *name;
	/** 0 (value copied into @a out), MIST_ENOTFOUND, MIST_ESTORE,
	 * MIST_EUNREACHABLE; with a view also DOCS_AGAIN (the fetch is
	 * started) and MIST_E2BIG (the view is full). */
	int (*get)(struct docs_driver *d, struct docs_view *v,
		   enum docs_table t, const void *key, size_t klen,
		   struct buf *out);
	void (*write)(struct docs_driver *d, const struct docs_op *ops,
		      uint32_t n, docs_done_cb cb, void *arg);
	/** 0 or as get(); the callback may call get().  DOCS_AGAIN comes
	 * after the rows the view holds were handed to the callback. */
	int (*scan)(struct docs_driver *d, struct docs_view *v,
		    enum docs_table t, const void *lo, size_t lolen,
		    const void *hi, size_t hilen, bool reverse,
		    docs_scan_cb cb, void *arg);
	/** NULL: reads never wait (LMDB).  A view named @a tag in the ready
	 * callback; freed by view_close (or the driver's close). */
	struct docs_view *(*view_open)(struct docs_driver *d, uint64_t tag);
	/** Drops what @a v fetched; fetches in flight are dropped on
	 * arrival, and no ready callback names it any more. */
	void (*view_close)(struct docs_driver *d, struct docs_view *v);
	/** The ready callback (once, before the first view). */
	void (*on_ready)(struct docs_driver *d, docs_ready_cb cb, void *arg);
	void (*stats)(struct docs_driver *d, struct docs_driver_stats *out);
	void (*close)(struct docs_driver *d);
	/**
	 * A lock among the agents sharing the store (NULL: one agent, every
	 * lock is its own): @a take true asks for it through view @a v (it
	 * is a fetch: DOCS_AGAIN, then on the next run the answer) -- 1 held
	 * by us (now or already), 0 held by another agent, < 0 an error
	 * (MIST_EINVAL without a view); false gives it back at once (@a v
	 * unused, not waited for).  A lock dies with its holder (PostgreSQL:
	 * a session's advisory lock, gone with its connection; the driver
	 * notices a new connection and asks again).  Index builds take one
	 * each so two agents never build one index at once.
	 */
	int (*lock)(struct docs_driver *d, struct docs_view *v,
		    const char *name, bool take);
};

struct docs_driver {
	const struct docs_driver_vt *vt;
};

/** Ops of one group at most (the longest docs.c writes: an object, its
 * index entries (DOCS_MAX_INDEXES) and a few records; DROP_APP is 3). */
#define DOCS_GROUP_MAX 4096

/* ------------------------------------------------------------- LMDB */

struct docs_lmdb_config {
	/*
	 * 64 MiB at first: LMDB reserves address space, not disk, so this
	 * is cheap, and it holds some 100 k small documents before the first
	 * doubling.  The map grows by doubling on MDB_MAP_FULL (one retried
	 * batch each time) up to map_max.
	 */
	size_t map_initial;
	/* 64 GiB: far beyond one node's share of an app; the per-app quota
	 * (caller.quota) is the limit users meet first. */
	size_t map_max;
};
#define DOCS_LMDB_MAP_INITIAL ((size_t)64 << 20)
#define DOCS_LMDB_MAP_MAX ((size_t)64 << 30)

void docs_lmdb_config_default(struct docs_lmdb_config *c);
/**
 * Opens (creating) the environment DATA_DIR/docs: its own, apart from the
 * node store (store/store.h), so a busy app's commits never wait behind
 * the node's.  NULL with *err (MIST_ESTORE) on error.
 */
struct docs_driver *docs_lmdb_open(uv_loop_t *loop, const char *data_dir,
				   const struct docs_lmdb_config *cfg,
				   int *err);

/* ------------------------------------------------------- PostgreSQL */

/* Groups in the write connection's pipeline at once: enough to overlap a
 * round trip (~50 us on a local socket) with a busy loop's groups; more
 * only holds more work a broken connection fails. */
#define DOCS_PG_INFLIGHT 64
/* Reconnect attempts at most every 50 ms at first, doubling to 2 s: a
 * restarted server is back within a backoff, a dead one costs little. */
#define DOCS_PG_BACKOFF_MIN_MS 50
#define DOCS_PG_BACKOFF_MAX_MS 2000
/* A connection attempt blocks the loop at most this long (libpq's
 * connect_timeout; a local socket refuses at once). */
#define DOCS_PG_CONNECT_TIMEOUT_S 2
/* close() waits at most this long for the groups in flight. */
#define DOCS_PG_CLOSE_WAIT_MS 5000
/* Locks (docs_driver_vt.lock) one agent holds at once: one per index
 * being built, and builds are few (a handful per app at a time); past it
 * a build waits for a lock like one another agent holds. */
#define DOCS_PG_LOCKS_MAX 64
/* A lock's name, bytes with the NUL: "build", an app id, a class and an
 * index name (docs.c's DOCS_APP_MAX, DOCS_CLASS_MAX, DOCS_INDEX_NAME_MAX
 * and separators fit). */
#define DOCS_PG_LOCK_NAME_MAX 512
/* A connection string's bytes (libpq's keywords or a URI). */
#define DOCS_PG_CONNINFO_MAX 4096

/**
 * Connects to the PostgreSQL server @a conninfo names (a libpq connection
 * string or URI; a password belongs in a passfile, never here) and creates
 * the tables if they are missing (accessory/docs_pg.c).  NULL with *err:
 * MIST_EINVAL (no or too long a string), MIST_ESTORE (cannot connect, or
 * the tables' layout is newer than this mist's).
 */
struct docs_driver *docs_pg_open(uv_loop_t *loop, const char *conninfo,
				 int *err);

#endif
