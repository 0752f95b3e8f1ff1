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
 *  - struct store is owned by the module: store_close() flushes queued
 *    writes, stops the writer and frees it once the loop has closed the
 *    wake-up handle (run the loop until it exits).
 */
#ifndef MIST_STORE_STORE_H_INCLUDED
#define MIST_STORE_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

/** Writes per transaction at most: bounds the latency of one commit. */
#define STORE_BATCH_MAX 1024

/** The tables (LMDB named databases). */
enum store_table {
	STORE_META,  /* node facts: boot count, keyring */
	STORE_JOBS,  /* the job journal (data/data.c) */
	STORE_CREDS, /* client credentials (gateway/gateway.c) */
	STORE_APPS,  /* app records (gateway/apps.c) */
	STORE_TABLES
};

struct store;

struct store_stats {
	uint64_t writes;
	uint64_t commits;
};

typedef void (*store_done_cb)(void *arg, int status);

/** Opens (creating) DIR/store with @a map_size bytes of address space. */
struct store *store_open(uv_loop_t *loop, const char *dir, size_t map_size);
void store_close(struct store *s);

/** Copies the value of @a key into @a out.  0, MIST_ENOTFOUND, MIST_ESTORE. */
int store_get(struct store *s, enum store_table t, const void *key,
	      size_t klen, struct buf *out);
void store_put(struct store *s, enum store_table t, const void *key,
	       size_t klen, const void *val, size_t vlen, store_done_cb cb,
	       void *arg);
void store_del(struct store *s, enum store_table t, const void *key,
	       size_t klen, store_done_cb cb, void *arg);
struct store_stats store_stats(struct store *s);

/**
 * Calls @a cb for every key starting with @a prefix, in key order, inside
 * one read transaction; a non-zero return stops the scan.  The pointers
 * given to @a cb are LMDB's and die with the call: copy what you keep.
 * 0 or MIST_ESTORE.
 */
typedef int (*store_scan_cb)(void *arg, const void *key, size_t klen,
			     const void *val, size_t vlen);
int store_scan(struct store *s, enum store_table t, const void *prefix,
	       size_t plen, store_scan_cb cb, void *arg);

#endif
