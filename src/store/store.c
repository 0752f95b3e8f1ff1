/*
 * store.c -- LMDB environments and the batching writer thread.
 *
 * The writer thread sleeps on a condition variable; it takes everything
 * queued (up to STORE_BATCH_MAX groups), applies it in one write
 * transaction -- each group in a nested transaction of its own, so a group
 * is all-or-nothing and a failing one fails alone -- commits (fsync), and
 * hands the finished groups back to the loop thread through a uv_async_t,
 * where their callbacks run.  Writes queued while a commit is in progress
 * form the next batch: under load, batches grow by themselves.
 *
 * A batch that hits MDB_MAP_FULL (in a put or at the commit) is aborted as
 * a whole, the map doubled under the exclusive side of the resize lock,
 * and the batch applied again from its first group; at map_max the groups
 * that do not fit fail with MIST_E2BIG.
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

/* One change inside a group; its bytes follow the group's array. */
struct store_sub {
	enum store_write_kind kind;
	uint32_t table;
	size_t koff, klen, voff, vlen;
};

/* A group: what one store_put/del/write queued. */
struct store_op {
	struct store_op *next;
	int status;
	store_done_cb cb;
	void *arg;
	uint32_t n;
	struct store_sub *subs; /* n, inside this allocation */
	uint8_t *data;		/* keys and values, inside this allocation */
};

struct store {
	MDB_env *env;
	uint32_t ntables;
	MDB_dbi dbi[STORE_MAX_TABLES];
	size_t map_size, map_max;
	pthread_rwlock_t resize; /* readers shared, the resize exclusive */
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

/* Deletes every key of @a dbi starting with @a p (seeking again after
 * each delete: simple, and O(log n) a key).  0 or an LMDB code. */
static int
store_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *p, size_t plen)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return rc;
	for (;;) {
		MDB_val k = {plen, (void *)p}, v;
		rc = mdb_cursor_get(cur, &k, &v,
				    plen ? MDB_SET_RANGE : MDB_FIRST);
		if (rc != 0)
			break;
		if (k.mv_size < plen || memcmp(k.mv_data, p, plen) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Applies one group in a nested transaction.  0 or an LMDB code. */
static int
store_apply(struct store *s, MDB_txn *parent, struct store_op *op)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, parent, 0, &txn);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < op->n && rc == 0; i++) {
		struct store_sub *w = &op->subs[i];
		MDB_dbi dbi = s->dbi[w->table];
		MDB_val k = {w->klen, op->data + w->koff};
		MDB_val v = {w->vlen, op->data + w->voff};
		switch (w->kind) {
		case STORE_W_PUT:
			rc = mdb_put(txn, dbi, &k, &v, 0);
			break;
		case STORE_W_DEL:
			rc = mdb_del(txn, dbi, &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			break;
		case STORE_W_DEL_PREFIX:
			rc = store_del_prefix(txn, dbi, op->data + w->koff,
					      w->klen);
			break;
		}
	}
	if (rc == 0)
		return mdb_txn_commit(txn); /* into the parent */
	mdb_txn_abort(txn);
	return rc;
}

/* Doubles the map (no transaction of ours is open).  0, or -1 at max. */
static int
store_grow(struct store *s)
{
	if (s->map_size >= s->map_max)
		return -1;
	size_t next = s->map_size * 2;
	if (next > s->map_max || next < s->map_size)
		next = s->map_max;
	pthread_rwlock_wrlock(&s->resize);
	int rc = mdb_env_set_mapsize(s->env, next);
	pthread_rwlock_unlock(&s->resize);
	if (rc != 0) {
		log_error("store: cannot grow the map to %zu: %s", next,
			  mdb_strerror(rc));
		return -1;
	}
	log_info("store: map grown from %zu to %zu bytes", s->map_size, next);
	pthread_mutex_lock(&s->lock);
	s->map_size = next;
	s->stats.grows++;
	s->stats.map_size = next;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * Applies @a batch (a NULL-terminated list), setting each group's status;
 * retries the whole batch after growing a full map.
 */
static void
store_commit_batch(struct store *s, struct store_op *batch)
{
	for (;;) {
		MDB_txn *txn;
		bool full = false;
		int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc != 0) {
			log_error("store: cannot begin: %s", mdb_strerror(rc));
			for (struct store_op *op = batch; op; op = op->next)
				op->status = MIST_ESTORE;
			return;
		}
		for (struct store_op *op = batch; op; op = op->next) {
			if (op->status == MIST_E2BIG)
				continue; /* refused before */
			int r = store_apply(s, txn, op);
			if (r == MDB_MAP_FULL) {
				full = true;
				break;
			}
			if (r != 0)
				log_error("store: group failed: %s",
					  mdb_strerror(r));
			op->status = r == 0 ? 0 : MIST_ESTORE;
		}
		if (!full) {
			rc = mdb_txn_commit(txn);
			if (rc == 0)
				return;
			full = rc == MDB_MAP_FULL;
		} else {
			mdb_txn_abort(txn);
		}
		if (!full) {
			log_error("store commit failed: %s", mdb_strerror(rc));
			for (struct store_op *op = batch; op; op = op->next)
				op->status = MIST_ESTORE;
			return;
		}
		pthread_mutex_lock(&s->lock);
		s->stats.retries++;
		pthread_mutex_unlock(&s->lock);
		if (store_grow(s) != 0) {
			/* at max: apply the groups one by one, failing those
			 * that do not fit (their own commit each) */
			for (struct store_op *op = batch; op; op = op->next) {
				if (op->status == MIST_E2BIG)
					continue;
				MDB_txn *one = NULL;
				int r = mdb_txn_begin(s->env, NULL, 0, &one);
				if (r == 0) {
					r = store_apply(s, one, op);
					if (r == 0)
						r = mdb_txn_commit(one);
					else
						mdb_txn_abort(one);
				}
				if (r == MDB_MAP_FULL)
					op->status = MIST_E2BIG;
				else
					op->status = r == 0 ? 0 : MIST_ESTORE;
			}
			return;
		}
	}
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

		store_commit_batch(s, batch);

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
store_open_env(uv_loop_t *loop, const char *path, const char *const *tables,
	       uint32_t ntables, size_t map_size, size_t map_max)
{
	if (ntables == 0 || ntables > STORE_MAX_TABLES || map_size == 0) {
		log_error("store %s: bad table list or map size", path);
		return NULL;
	}
	if (map_max < map_size)
		map_max = map_size;
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	struct store *s = xcalloc(1, sizeof(*s));
	s->ntables = ntables;
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, ntables + 8);
	/* NOTLS: read transactions are not tied to the thread's TLS slot
	 * (and a scan's callback may open a nested one) */
	if (rc == 0)
		rc = mdb_env_open(s->env, path, MDB_NOTLS, 0600);
	MDB_txn *txn = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	for (uint32_t i = 0; rc == 0 && i < ntables; i++)
		rc = mdb_dbi_open(txn, tables[i], MDB_CREATE, &s->dbi[i]);
	if (txn != NULL)
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	if (rc != 0) {
		log_error("cannot open store %s: %s", path, mdb_strerror(rc));
		mdb_env_close(s->env);
		free(s);
		return NULL;
	}
	/* an existing environment may be bigger than asked: keep its size */
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize > map_size ? info.me_mapsize : map_size;
	s->map_max = map_max > s->map_size ? map_max : s->map_size;
	s->stats.map_size = s->map_size;
	/* readers first: a scan's callback nests a read (store_get) while
	 * the writer may wait to resize; writer preference would deadlock */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
	pthread_rwlock_init(&s->resize, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->queue_tail = &s->queue;
	s->done_tail = &s->done;
	uv_async_init(loop, &s->async, store_async_cb);
	s->async.data = s;
	pthread_create(&s->writer, NULL, store_writer_main, s);
	return s;
}

struct store *
store_open(uv_loop_t *loop, const char *dir, size_t map_size)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/store", dir);
	size_t max = map_size * STORE_MAP_GROW_MAX;
	if (max / STORE_MAP_GROW_MAX != map_size)
		max = map_size;
	return store_open_env(loop, path, store_table_names, STORE_TABLES,
			      map_size, max);
}

static void
store_closed(uv_handle_t *h)
{
	struct store *s = h->data;
	mdb_env_close(s->env);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_rwlock_destroy(&s->resize);
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

static int
store_read_begin(struct store *s, MDB_txn **txn)
{
	pthread_rwlock_rdlock(&s->resize);
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn) != 0) {
		pthread_rwlock_unlock(&s->resize);
		return MIST_ESTORE;
	}
	return 0;
}

static void
store_read_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->resize);
}

int
store_get(struct store *s, uint32_t t, const void *key, size_t klen,
	  struct buf *out)
{
	MDB_txn *txn;
	if (t >= s->ntables || store_read_begin(s, &txn) != 0)
		return MIST_ESTORE;
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, s->dbi[t], &k, &v);
	if (rc == 0) {
		out->len = 0;
		buf_append(out, v.mv_data, v.mv_size); /* copy out */
	}
	store_read_end(s, txn);
	if (rc == MDB_NOTFOUND)
		return MIST_ENOTFOUND;
	return rc == 0 ? 0 : MIST_ESTORE;
}

static int
store_keycmp(const MDB_val *k, const void *b, size_t blen)
{
	size_t n = k->mv_size < blen ? k->mv_size : blen;
	int c = n ? memcmp(k->mv_data, b, n) : 0;
	if (c != 0)
		return c;
	return k->mv_size < blen ? -1 : k->mv_size > blen ? 1 : 0;
}

int
store_scan_range(struct store *s, uint32_t t, const void *lo, size_t lolen,
		 const void *hi, size_t hilen, bool reverse, store_scan_cb cb,
		 void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	if (t >= s->ntables || store_read_begin(s, &txn) != 0)
		return MIST_ESTORE;
	if (mdb_cursor_open(txn, s->dbi[t], &cur) != 0) {
		store_read_end(s, txn);
		return MIST_ESTORE;
	}
	if (lo == NULL)
		lolen = 0;
	if (hi == NULL)
		hilen = 0;
	MDB_val k, v;
	int rc;
	if (!reverse) {
		k = (MDB_val){lolen, (void *)lo};
		rc = mdb_cursor_get(cur, &k, &v,
				    lolen ? MDB_SET_RANGE : MDB_FIRST);
	} else if (hilen) {
		/* the first key >= hi, then one back; or the last key */
		k = (MDB_val){hilen, (void *)hi};
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	int status = 0;
	while (rc == 0) {
		if (!reverse && hilen && store_keycmp(&k, hi, hilen) >= 0)
			break;
		if (reverse && lolen && store_keycmp(&k, lo, lolen) < 0)
			break;
		/* the callback sees LMDB's pages: it copies what it keeps */
		if (cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		status = MIST_ESTORE;
	mdb_cursor_close(cur);
	store_read_end(s, txn);
	return status;
}

int
store_scan(struct store *s, uint32_t t, const void *prefix, size_t plen,
	   store_scan_cb cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	if (t >= s->ntables || store_read_begin(s, &txn) != 0)
		return MIST_ESTORE;
	if (mdb_cursor_open(txn, s->dbi[t], &cur) != 0) {
		store_read_end(s, txn);
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
	store_read_end(s, txn);
	return status;
}

static void
store_enqueue(struct store *s, struct store_op *op)
{
	pthread_mutex_lock(&s->lock);
	store_append(&s->queue_tail, op);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void
store_write(struct store *s, const struct store_write *w, uint32_t n,
	    store_done_cb cb, void *arg)
{
	size_t bytes = 0;
	bool bad = n > STORE_GROUP_MAX;
	for (uint32_t i = 0; i < n && !bad; i++) {
		if (w[i].table >= s->ntables)
			bad = true;
		bytes += w[i].klen +
			 (w[i].kind == STORE_W_PUT ? w[i].vlen : 0);
	}
	if (bad)
		n = 0;
	struct store_op *op =
		xmalloc(sizeof(*op) + n * sizeof(struct store_sub) + bytes);
	op->status = bad ? MIST_E2BIG : 0;
	op->cb = cb;
	op->arg = arg;
	op->n = n;
	op->subs = (struct store_sub *)(op + 1);
	op->data = (uint8_t *)(op->subs + n);
	size_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct store_sub *d = &op->subs[i];
		d->kind = w[i].kind;
		d->table = w[i].table;
		d->koff = off;
		d->klen = w[i].klen;
		if (d->klen)
			memcpy(op->data + off, w[i].key, d->klen);
		off += d->klen;
		d->voff = off;
		d->vlen = w[i].kind == STORE_W_PUT ? w[i].vlen : 0;
		if (d->vlen)
			memcpy(op->data + off, w[i].val, d->vlen);
		off += d->vlen;
	}
	store_enqueue(s, op);
}

void
store_put(struct store *s, uint32_t t, const void *key, size_t klen,
	  const void *val, size_t vlen, store_done_cb cb, void *arg)
{
	struct store_write w = {STORE_W_PUT, t, key, klen, val, vlen};
	store_write(s, &w, 1, cb, arg);
}

void
store_del(struct store *s, uint32_t t, const void *key, size_t klen,
	  store_done_cb cb, void *arg)
{
	struct store_write w = {STORE_W_DEL, t, key, klen, NULL, 0};
	store_write(s, &w, 1, cb, arg);
}

struct store_stats
store_stats(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	struct store_stats st = s->stats;
	pthread_mutex_unlock(&s->lock);
	MDB_envinfo info;
	MDB_stat est;
	pthread_rwlock_rdlock(&s->resize);
	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &est);
	pthread_rwlock_unlock(&s->resize);
	st.bytes_used = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
	return st;
}
