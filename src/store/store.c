/*
 * store.c -- LMDB environment and the batching writer thread.
 *
 * The writer thread sleeps on a condition variable; it takes everything
 * queued (up to STORE_BATCH_MAX), applies it in one write transaction,
 * commits (fsync), and hands the finished writes back to the loop thread
 * through a uv_async_t, where their callbacks run.  Writes queued while a
 * commit is in progress form the next batch: under load, batches grow by
 * themselves.
 */
#include "config.h"
#include "store/store.h"
#include "mist.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const store_table_names[STORE_TABLES] = {"meta", "jobs",
								   "creds", "apps"};

struct store_op {
	struct store_op *next;
	enum store_table table;
	bool del;
	int status;
	store_done_cb cb;
	void *arg;
	size_t klen, vlen;
	uint8_t data[]; /* key then value */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_TABLES];
	pthread_t writer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_op *queue, **queue_tail; /* to the writer */
	struct store_op *done, **done_tail;   /* back to the loop */
	bool stop;
	uv_async_t async;
	struct store_stats stats;
};

static void
store_append(struct store_op ***tail, struct store_op *op)
{
	op->next = NULL;
	**tail = op;
	*tail = &op->next;
}

static void *
store_writer_main(void *arg)
{
	struct store *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->queue == NULL && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->queue == NULL && s->stop)
			break;
		/* take up to a batch */
		struct store_op *batch = s->queue, *last = batch;
		int n = 1;
		while (last->next != NULL && n < STORE_BATCH_MAX) {
			last = last->next;
			n++;
		}
		s->queue = last->next;
		if (s->queue == NULL)
			s->queue_tail = &s->queue;
		last->next = NULL;
		pthread_mutex_unlock(&s->lock);

		MDB_txn *txn;
		int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		for (struct store_op *op = batch; op && rc == 0; op = op->next) {
			MDB_val k = {op->klen, op->data};
			MDB_val v = {op->vlen, op->data + op->klen};
			int r = op->del ? mdb_del(txn, s->dbi[op->table], &k, NULL)
					: mdb_put(txn, s->dbi[op->table], &k, &v, 0);
			if (r == MDB_NOTFOUND && op->del)
				r = 0;
			if (r != 0)
				rc = r;
		}
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc != 0)
			log_error("store commit failed: %s", mdb_strerror(rc));
		for (struct store_op *op = batch; op; op = op->next)
			op->status = rc == 0 ? 0 : MIST_ESTORE;

		pthread_mutex_lock(&s->lock);
		s->stats.writes += (uint64_t)n;
		s->stats.commits++;
		for (struct store_op *op = batch, *nx; op; op = nx) {
			nx = op->next;
			store_append(&s->done_tail, op);
		}
		uv_async_send(&s->async);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void
store_run_done(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	struct store_op *op = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->lock);
	while (op != NULL) {
		struct store_op *next = op->next;
		if (op->cb)
			op->cb(op->arg, op->status);
		free(op);
		op = next;
	}
}

static void
store_async_cb(uv_async_t *h)
{
	store_run_done(h->data);
}

struct store *
store_open(uv_loop_t *loop, const char *dir, size_t map_size)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/store", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof(*s));
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, STORE_TABLES + 8);
	/* NOTLS: read transactions are not tied to the thread's TLS slot */
	if (rc == 0)
		rc = mdb_env_open(s->env, path, MDB_NOTLS, 0600);
	MDB_txn *txn = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	for (int i = 0; rc == 0 && i < STORE_TABLES; i++)
		rc = mdb_dbi_open(txn, store_table_names[i], MDB_CREATE,
				  &s->dbi[i]);
	if (txn != NULL)
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	if (rc != 0) {
		log_error("cannot open store %s: %s", path, mdb_strerror(rc));
		mdb_env_close(s->env);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->queue_tail = &s->queue;
	s->done_tail = &s->done;
	uv_async_init(loop, &s->async, store_async_cb);
	s->async.data = s;
	pthread_create(&s->writer, NULL, store_writer_main, s);
	return s;
}

static void
store_closed(uv_handle_t *h)
{
	struct store *s = h->data;
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void
store_close(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL); /* drains the queue first */
	store_run_done(s);
	uv_close((uv_handle_t *)&s->async, store_closed);
}

int
store_get(struct store *s, enum store_table t, const void *key, size_t klen,
	  struct buf *out)
{
	MDB_txn *txn;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return MIST_ESTORE;
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, s->dbi[t], &k, &v);
	if (rc == 0) {
		out->len = 0;
		buf_append(out, v.mv_data, v.mv_size); /* copy out */
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return MIST_ENOTFOUND;
	return rc == 0 ? 0 : MIST_ESTORE;
}

int
store_scan(struct store *s, enum store_table t, const void *prefix,
	   size_t plen, store_scan_cb cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return MIST_ESTORE;
	if (mdb_cursor_open(txn, s->dbi[t], &cur) != 0) {
		mdb_txn_abort(txn);
		return MIST_ESTORE;
	}
	MDB_val k = {plen, (void *)prefix}, v;
	int rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	int status = 0;
	while (rc == 0) {
		if (plen && (k.mv_size < plen ||
			     memcmp(k.mv_data, prefix, plen) != 0))
			break;
		/* the callback sees LMDB's pages: it copies what it keeps */
		if (cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		status = MIST_ESTORE;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return status;
}

static void
store_queue(struct store *s, enum store_table t, bool del, const void *key,
	    size_t klen, const void *val, size_t vlen, store_done_cb cb,
	    void *arg)
{
	struct store_op *op = xmalloc(sizeof(*op) + klen + vlen);
	op->table = t;
	op->del = del;
	op->status = 0;
	op->cb = cb;
	op->arg = arg;
	op->klen = klen;
	op->vlen = vlen;
	memcpy(op->data, key, klen);
	if (vlen)
		memcpy(op->data + klen, val, vlen);
	pthread_mutex_lock(&s->lock);
	store_append(&s->queue_tail, op);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void
store_put(struct store *s, enum store_table t, const void *key, size_t klen,
	  const void *val, size_t vlen, store_done_cb cb, void *arg)
{
	store_queue(s, t, false, key, klen, val, vlen, cb, arg);
}

void
store_del(struct store *s, enum store_table t, const void *key, size_t klen,
	  store_done_cb cb, void *arg)
{
	store_queue(s, t, true, key, klen, NULL, 0, cb, arg);
}

struct store_stats
store_stats(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	struct store_stats st = s->stats;
	pthread_mutex_unlock(&s->lock);
	return st;
}
