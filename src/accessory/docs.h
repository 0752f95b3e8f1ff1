/*
 * docs.h -- ACTOR_DOCS, the documents accessory: Parse's objects, users,
 * sessions, roles, schemas and indexes of every app homed on this node.
 *
 *   gateway ──MSG_ACC_REQUEST [app, op, deadline_ms, caller, body]──▶ ACTOR_DOCS
 *           ◀──reply [status, body (JSON), user]───────────────────
 *                                           │ reads: sync, loop thread
 *                                           │ writes: one atomic group each
 *                                           ▼
 *                          struct docs_driver (docs_lmdb.c: DATA/docs, or
 *                                             docs_pg.c: PostgreSQL)
 *                                           │ durable (batched fsync)
 *           ◀──reply── ACTOR_DOCS ◀─MSG_DOCS_DONE (local, ptr)─┘
 *
 * docs/MBAAS.md lists every operation and its JSON (enum acc_doc_op in
 * accessory/accessory.h).  What the accessory applies, always, before
 * touching the driver:
 *
 *  - the caller ({"master", "session", "create_classes", "quota", ...},
 *    decided by the gateway): the session token is looked up here
 *    (stored hashed, accessory/auth.h) and gives the user and its roles;
 *  - class-level permissions (119 OPERATION_FORBIDDEN) and object ACLs (an
 *    object the caller may not read or write is "not found", 101, as
 *    Parse answers, and nothing changes); the master key bypasses both.
 *    HTTP statuses follow parse-server's mapping: 404 for 101, 500 for
 *    internal errors, 400 for every other Parse code; 403 only where
 *    parse-server answers it (a master-only operation without the master
 *    key) and for the quota (140, which parse-server never answers);
 *  - protected fields (_User.email by default): stripped from answers,
 *    and a query whose where or order names one is refused (119), as
 *    parse-server does, so a filter cannot reveal what a read hides;
 *  - schemas: inferred on a class's first write, checked on every later
 *    one (111 INCORRECT_TYPE); a class is created by a non-master caller
 *    only if the app allows it (caller.create_classes), else 119;
 *  - the app's storage quota (caller.quota bytes of keys and values,
 *    0: none): a write past it is refused, 403 code 140;
 *  - the deadline: deadline_ms from the request's arrival here (0: none);
 *    past it a request does nothing and answers 504 code 124; scans check
 *    the clock as they go;
 *  - heavy queries: a query that would examine more than cfg.scan_max
 *    objects without an index that serves it is refused, 400 code 102,
 *    with a message naming the index to declare (SCHEMA_PUT "indexes");
 *  - bounds on every byte: a malformed msgpack or JSON is 400 code 107.
 *
 * Writes: each operation becomes ONE atomic group (the object, its index
 * entries, the schema if it changed, unique-name records, the app's usage
 * counter), queued to the driver; the reply goes out when the group is
 * durable.  Until then the group's records sit in an in-memory overlay
 * that every read by key goes through, so a second write to the same
 * object (or the same username) sees the first: no lost update.  Queries
 * scan the durable state, with the overlay applied to each object they
 * meet (a queued update or delete of it counts); objects whose creation
 * is not yet durable are not returned by queries, only by GET.
 *
 * Keys (docs_driver.h tables):
 *   OBJ   app \0 class \0 objectId                 -> object JSON
 *   IDX   app \0 class \0 index \0 key... objectId -> ""  (query_key_encode)
 *   META  's' app \0 class -> schema;  'u'/'e' app \0 name -> user id;
 *         'A' app \0 class \0 index -> its statistics (JSON);
 *         'r' app \0 role name -> role id;  't' app \0 hash -> session;
 *         'S' app \0 user \0 session id -> "";  'q' app \0 -> bytes used
 * Stored objects keep Parse's fields plus internal ones starting with '_'
 * (a user's "_hashed_password", a session's "_token"), never answered.
 * _Role's users and roles relations are stored as arrays of user ids and
 * role names in "users" and "roles" (AddRelation/RemoveRelation on them
 * are applied to the arrays).
 *
 * Indexes (SCHEMA_PUT {"indexes": {"name": {"field": 1 | -1, ...}}}) are
 * built online: a new index is "building" -- every write maintains it
 * while a chunk of cfg.build_chunk objects is indexed per turn -- and
 * serves queries once "ready".  An index serves equality on a prefix of
 * its fields, then a range or the order on the next one.  An index may
 * lead with "_rperm", the object's readers: one entry per reader ("*",
 * user ids, "role:Name"), scanned once per reader of the caller.
 *
 * Automatic indexes (docs/INDEXES.md, accessory/autoindex.h): every query
 * is counted under its shape; a shape that passes the thresholds gets its
 * index, created as a declared one would be and built the same way,
 * within the app's index budget (caller.index_budget bytes over the
 * automatic indexes, 0: cfg.index_budget); when full, the automatic index
 * that saves least is dropped for a candidate that would save more;
 * declared ones never are.  Every index has a META 'A' record (automatic
 * or declared, created, reason, shape, hits, saved, entries, bytes),
 * written at most every cfg.ixstat_flush_ms and at a clean stop.
 * ACC_DOC_INDEXES (master) lists indexes and shapes.
 *
 * Caches (accessory/docs_cache.h): parsed schemas and session records
 * (META 's' and 't' keys; a class without a schema too) and each app's
 * _Role objects as the role scan reads them (dropped by any write of a
 * _Role object of the app, and by DROP_APP), in one cache; parsed objects
 * with their stored text in another; each bounded (cfg.cache_*,
 * cfg.obj_cache_*) and LRU.  Only durable values are cached (a read the
 * overlay answers is not); every key a write group puts, deletes or
 * prefix-deletes is dropped when the group is queued and again when it
 * is durable, so a logout, a revocation, a schema change or DROP_APP
 * applies to the very next request.  A session's expiry is checked on
 * every use.  A GET whose object has no internal field, nothing the CLP
 * hides from the caller, and no keys/include answers the stored text as
 * it is (the same bytes a parse, copy and dump would give).
 *
 * A shared store (cfg.pg_conninfo: PostgreSQL, docs/POSTGRES.md): every
 * agent's accessory serves every app, so this one's overlay sees only its
 * own pending writes.  The caches are off (another agent may change any
 * record).  Each request keeps a read set (the OBJ and META keys it read
 * by key, and what it found); its writes carry those as preconditions
 * (docs_driver.h enum docs_expect), and a group another agent raced
 * (MIST_EEXIST) is not applied: the request runs again from the start on
 * fresh reads, once the groups queued before are done, at most
 * DOCS_CONFLICT_RETRIES times (then 503 code 155).  A read that fails
 * (MIST_EUNREACHABLE, MIST_ESTORE) makes the request's answer 503 code 100
 * and keeps it from queuing anything.  An index is built by the agent
 * holding its build lock (docs_driver_vt.lock).
 *
 * Passwords are hashed and verified on libuv's thread pool (a signup,
 * login or password change is handled again once its hash is done), so
 * the loop never waits for Argon2id.
 *
 * MSG_ACC_STATS (req nil) -> a msgpack map of counters (str -> u64):
 * requests, bad, scans, index_scans, objects_scanned, results, writes,
 * pending, refused_{heavy,deadline,quota,acl,clp,schema,busy}, store_errors,
 * conflicts (re-runs after another agent's write raced, PostgreSQL),
 * index_builds_done, auto_indexes_{built,dropped,refused}, rperm_scans,
 * shapes, shape_evictions, bytes_used, map_size, commits, groups, map_grows,
 * cache_{hits,misses,evictions,invalidations,entries,bytes} (schemas and
 * sessions) and the same obj_cache_* (objects),
 * ops_{get,query,create,update,delete,login,logout,me,schema_get,
 * schema_put,schema_delete,drop_app,indexes}.
 *
 * Ownership: the actor owns its driver, overlay and builds; docs_spawn's
 * strings are copied.  MSG_STOP closes the driver (queued groups are
 * flushed; their replies are dropped with the shutting-down system).
 */
#ifndef MIST_ACCESSORY_DOCS_H_INCLUDED
#define MIST_ACCESSORY_DOCS_H_INCLUDED

#include <stdint.h>
#include <uv.h>

#include "accessory/autoindex.h"
#include "accessory/docs_driver.h"
#include "actors/actor.h"

struct docs_config {
	struct docs_lmdb_config lmdb;
	/* Non-NULL: documents live in this PostgreSQL server (a libpq
	 * connection string or URI; docs_driver.h docs_pg_open), not in
	 * DATA/docs; the caches are then off (other agents write too). */
	const char *pg_conninfo;
	uint32_t limit_default; /* 100: Parse's default limit */
	uint32_t limit_max;	/* 1000: a page an app can render; above, refused */
	uint32_t skip_max;	/* 10000: skip pages are O(skip) work each */
	uint32_t scan_max;	/* DOCS_SCAN_MAX */
	uint32_t index_scan_max; /* index entries one query may walk */
	uint32_t build_chunk;	 /* objects indexed per turn when building */
	uint32_t body_max;	 /* request body bytes */
	uint32_t object_max;	 /* stored object bytes (JSON) */
	uint32_t include_max;	 /* include paths per query */
	uint64_t session_ttl_ms; /* a session's life */
	uint32_t pending_max;	 /* write groups queued, not yet durable */
	uint32_t hash_max;	 /* password hashes queued or running */
	uint32_t cache_entries;	 /* parsed records cached (0: no cache) */
	size_t cache_bytes;	 /* ... and their estimated memory */
	uint32_t obj_cache_entries; /* parsed objects cached (0: none) */
	size_t obj_cache_bytes;	    /* ... and their estimated memory */
	/* automatic indexes (accessory/autoindex.h, docs/INDEXES.md) */
	bool auto_index;		/* on by default */
	struct autoix_params autoix;	/* the thresholds */
	uint64_t index_budget;		/* DOCS_INDEX_BUDGET: caller's 0 */
	uint32_t ixstat_flush_ms;	/* DOCS_IXSTAT_FLUSH_MS */
	/* The clock shapes' windows and indexes' recent savings run on, in
	 * ns (NULL: the actor system's hrtime); tests drive it. */
	uint64_t (*auto_clock_ns)(void *ctx);
	void *auto_clock_ctx;
	/* The clock deadlines are measured on, in ns (NULL: the actor
	 * system's hrtime); the seam tests use to expire a request. */
	uint64_t (*clock_ns)(void *ctx);
	void *clock_ctx;
};

/*
 * Objects a query may examine without an index serving it: 1000 JSON
 * objects parse and match in about a millisecond, so a refused query has
 * cost little and an accepted one stays fast; past it the app declares
 * the index the message names.  Parse has no such bound (its Mongo scans
 * a collection whatever its size), Firestore refuses any unindexed query.
 */
#define DOCS_SCAN_MAX 1000
/* Index entries one query may walk: enough for the deepest page
 * (skip_max + limit_max) with room for entries hidden by ACLs. */
#define DOCS_INDEX_SCAN_MAX 50000
#define DOCS_LIMIT_DEFAULT 100
#define DOCS_LIMIT_MAX 1000
#define DOCS_SKIP_MAX 10000
/* 500 objects per turn: about half a millisecond of parsing, so requests
 * keep flowing while a big class is indexed. */
#define DOCS_BUILD_CHUNK 500
/* 1 MiB: the gateway's own body limit; the accessory checks again. */
#define DOCS_BODY_MAX (1u << 20)
/* 128 KiB: Parse's (and Parse.com's) object size limit. */
#define DOCS_OBJECT_MAX (128u << 10)
#define DOCS_INCLUDE_MAX 8
/* Indexes per class (each costs a key per write). */
#define DOCS_MAX_INDEXES 16
/* Fields per compound index. */
#define DOCS_INDEX_FIELDS 4
/* Fields per class schema (Parse's own limit is near 500 for Mongo's
 * index budget; 256 holds any designed class). */
#define DOCS_MAX_FIELDS 256
/* Write groups waiting for the disk: at ~40 k groups/s (store.h) 10000
 * is a quarter second of backlog; past it the disk is not keeping up and
 * a write is refused (503, code 155) rather than held in memory. */
#define DOCS_PENDING_MAX 10000
/* Password hashes queued for the thread pool (each holds its request and
 * then 19 MiB while it runs, 4 at a time): 64 is a second or two of
 * logins; past it a signup or login is refused (503, code 155). */
#define DOCS_HASH_MAX 64
/*
 * The cache of parsed schemas and sessions (accessory/docs_cache.h):
 * 16384 entries hold the sessions of that many users active at once plus
 * every schema of the apps homed here; 32 MiB (the parsed trees,
 * measured: docs_cache_tree_cost) is some 30 k sessions or 250 schemas
 * of 256 fields, and small next to the LMDB map the same records live in.  Past either
 * bound the least recently used go; a miss costs one read and parse.
 */
#define DOCS_CACHE_ENTRIES 16384
#define DOCS_CACHE_BYTES ((size_t)32 << 20)
/*
 * The cache of parsed objects (with their stored text, which a GET
 * answers as it is when nothing is to be hidden): apart from the one
 * above so reads of many objects never evict schemas and sessions.
 * 16384 objects, 32 MiB (a 160-byte object's tree and text cost some
 * 2.9 KiB, so about 11 k such): the hot set of a busy app; a miss costs
 * one read and parse.
 */
#define DOCS_OBJ_CACHE_ENTRIES 16384
#define DOCS_OBJ_CACHE_BYTES ((size_t)32 << 20)
/*
 * The bytes of automatic index entries an app may hold when its record
 * says 0 (`mist apps set APP --index-budget BYTES`): 64 MiB is about a
 * million entries of a 40-byte key (app, class, name, a value, the id),
 * a few indexes over the largest class a node's share of an app holds
 * comfortably; declared indexes are not counted (the operator chose
 * them).
 */
#define DOCS_INDEX_BUDGET ((uint64_t)64 << 20)
/* Index statistics (hits, entries, bytes) are written at most this often
 * (one group of small records), and at a clean stop: a crash loses at
 * most ten seconds of hit counts, never an index. */
#define DOCS_IXSTAT_FLUSH_MS 10000
/* Readers of one object an "_rperm" index lists (one entry each: "*",
 * users, roles of its ACL); an object with more gets one entry, under
 * "*", which every caller's scan reads (the ACL check after the scan
 * decides).  64 is far past a shared document's list. */
#define DOCS_RPERM_MAX 64
/* Readers a query scans an "_rperm" index for ("*", the user, its
 * roles): past it the planner does not use the index (the ACL filter
 * after a scan still answers right). */
#define DOCS_RPERM_READERS 32

/* Bytes of one request's read set (a shared store: the keys it read by
 * key and their values, kept for the preconditions of its writes): a
 * request reads a handful of records and objects (session, schema,
 * object, unique names: some kilobytes); 1 MiB holds a few of the
 * largest objects (DOCS_OBJECT_MAX) besides.  Past it later reads are not
 * kept and writes of their keys go without a precondition (only a query
 * reads that much, and it writes nothing). */
#define DOCS_READSET_MAX ((size_t)1 << 20)
/* Re-runs of a request whose writes another agent's raced (a failed
 * precondition): each is a fresh read and a round trip.  With one key
 * written from two agents as fast as they can (test_pg_race.sh: 8
 * writers), each round one agent's queued writes win, so a request loses
 * a round at about even odds: 8 re-runs let 1 in 500 through as 503 (seen),
 * 16 about 1 in 130 000.  Past them the key is written faster than a
 * request can read and write it, and the client is told to retry (503
 * code 155) rather than held. */
#define DOCS_CONFLICT_RETRIES 16

/* A shared store: a build whose lock another agent holds is looked at
 * again this often (that agent may finish it, or die and free the lock):
 * a second is little next to a build's length, and costs one query. */
#define DOCS_BUILD_LOCK_RETRY_MS 1000

/* A year, Parse's default session length. */
#define DOCS_SESSION_TTL_MS (365ull * 24 * 3600 * 1000)

void docs_config_default(struct docs_config *c);

/**
 * Opens DATA_DIR/docs and spawns ACTOR_DOCS on @a sys (driven by @a loop).
 * NULL with *err: MIST_ESTORE (the store), MIST_EEXIST (the id is taken).
 */
struct actor *docs_spawn(struct actor_sys *sys, uv_loop_t *loop,
			 const char *data_dir, const struct docs_config *cfg,
			 int *err);

#endif
