/*
 * store.h -- the node's LMDB environment.
 *
 * One environment per agent, in DATA/store/.  Reads run on the caller's
 * thread in short read transactions; writes go to one writer thread that
 * commits them in batches (one fsync for up to STORE_BATCH_MAX writes: about
 * 40 k writes/s here, against ~3 k/s with a commit per write).
 *
 * Lifetimes -- read them before using a returned value:
 *  - store_get() COPIES the value into the caller's struct buf: the copy is
 *    the caller's, valid until the caller changes or frees the buffer.  No
 *    LMDB pointer ever leaves this module.
 *  - store_put()/store_del() copy key and value at the call: the caller may
 *    reuse its buffers at once.  @a cb runs later on the loop thread, after
 *    the batch holding the write is durable (or failed: status MIST_ESTORE);
 *    every queued write gets its callback exactly once, also at close.
 *  - store_write() applies a group of puts and deletes ATOMICALLY (all or
 *    none: each group is a nested transaction inside the batch's commit,
 *    so one failing group fails alone); its arrays and bytes are copied at
 *    the call.
 *  - struct store is owned by the module: store_close() flushes queued
 *    writes, stops the writer and frees it once the loop has closed the
 *    wake-up handle (run the loop until it exits).
 *
 * Two kinds of environment share this code: the node's (store_open: the
 * tables of enum store_table in DIR/store) and any other module's
 * (store_open_env: a caller-given path and table list, e.g. the documents
 * accessory's DIR/docs, accessory/docs_lmdb.c).  Both grow their map: a
 * batch that hits MDB_MAP_FULL is aborted, the map doubled (up to
 * map_max) and the batch retried, so a full map costs one retry, not a
 * failed write.  Growing needs no transaction open in the process
 * (mdb_env_set_mapsize): readers hold a read lock for their short
 * transactions, the writer takes it exclusively for the resize.
 */
#ifndef MIST_STORE_STORE_H_INCLUDED
#define MIST_STORE_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

/** Writes per transaction at most: bounds the latency of one commit. */
#define STORE_BATCH_MAX 1024

/** Tables of one environment at most (store_open_env). */
#define STORE_MAX_TABLES 16

/** The node's tables (LMDB named databases). */
enum store_table {
	STORE_META,  /* node facts: boot count, keyring */
	STORE_JOBS,  /* the job journal (data/data.c) */
	STORE_CREDS, /* client credentials (gateway/gateway.c) */
	STORE_APPS,  /* app records (gateway/apps.c) */
	STORE_TABLES
};

struct store;

struct store_stats {
	uint64_t writes;  /* groups applied (a put or del is a group of one) */
	uint64_t commits;
	uint64_t grows;	  /* map doublings */
	uint64_t retries; /* batches retried after MDB_MAP_FULL */
	uint64_t map_size;   /* bytes of address space now */
	uint64_t bytes_used; /* pages in use x page size */
};

typedef void (*store_done_cb)(void *arg, int status);

/**
 * Opens (creating) DIR/store with @a map_size bytes of address space,
 * growing up to STORE_MAP_GROW_MAX times that.
 */
#define STORE_MAP_GROW_MAX 16
struct store *store_open(uv_loop_t *loop, const char *dir, size_t map_size);
/**
 * Opens (creating) the environment in directory @a path (created 0700)
 * with the @a ntables named tables @a tables (table i of the calls below
 * is tables[i]; at most STORE_MAX_TABLES), @a map_size bytes of address
 * space at first, doubled on MDB_MAP_FULL up to @a map_max (>= map_size).
 * NULL (logged) on error.
 */
struct store *store_open_env(uv_loop_t *loop, const char *path,
			     const char *const *tables, uint32_t ntables,
			     size_t map_size, size_t map_max);
void store_close(struct store *s);

/** Copies the value of @a key into @a out.  0, MIST_ENOTFOUND, MIST_ESTORE. */
int store_get(struct store *s, uint32_t t, const void *key, size_t klen,
	      struct buf *out);
void store_put(struct store *s, uint32_t t, const void *key, size_t klen,
	       const void *val, size_t vlen, store_done_cb cb, void *arg);
void store_del(struct store *s, uint32_t t, const void *key, size_t klen,
	       store_done_cb cb, void *arg);

/** One change of an atomic group. */
enum store_write_kind {
	STORE_W_PUT,
	STORE_W_DEL,	    /* a missing key is not an error */
	STORE_W_DEL_PREFIX, /* every key starting with key[0..klen) */
};
struct store_write {
	enum store_write_kind kind;
	uint32_t table;
	const void *key;
	size_t klen;
	const void *val; /* PUT */
	size_t vlen;
};
/** Groups longer than this are refused (MIST_E2BIG through @a cb). */
#define STORE_GROUP_MAX 4096
/**
 * Queues the @a n changes of @a w as one atomic group (copied now).  @a cb
 * runs on the loop thread once the group is durable (0), or failed:
 * MIST_E2BIG (the map is at map_max, or the group too long), MIST_ESTORE.
 */
void store_write(struct store *s, const struct store_write *w, uint32_t n,
		 store_done_cb cb, void *arg);
struct store_stats store_stats(struct store *s);

/**
 * Calls @a cb for every key starting with @a prefix, in key order, inside
 * one read transaction; a non-zero return stops the scan.  The pointers
 * given to @a cb are LMDB's and die with the call: copy what you keep.
 * 0 or MIST_ESTORE.
 */
typedef int (*store_scan_cb)(void *arg, const void *key, size_t klen,
			     const void *val, size_t vlen);
int store_scan(struct store *s, uint32_t t, const void *prefix, size_t plen,
	       store_scan_cb cb, void *arg);
/**
 * As store_scan(), over the keys k with @a lo <= k < @a hi (bytewise; a
 * NULL or empty bound is open), ascending, or descending if @a reverse.
 * The callback may call store_get() (a nested read transaction).
 */
int store_scan_range(struct store *s, uint32_t t, const void *lo,
		     size_t lolen, const void *hi, size_t hilen, bool reverse,
		     store_scan_cb cb, void *arg);

#endif
