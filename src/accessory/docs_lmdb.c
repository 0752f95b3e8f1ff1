/*
 * docs_lmdb.c -- the LMDB driver of the documents accessory.
 *
 * A thin adapter: the environment, its batching writer thread, atomic
 * groups and map growth are store/store.c's (store_open_env), shared with
 * the node store, so there is one writer implementation to get right.
 * Reads are synchronous copies out of a read transaction (microseconds,
 * no I/O wait once the pages are cached): it has no views (view_open
 * NULL, docs_driver.h) and never answers DOCS_AGAIN.
 */
#include "config.h"
#include "accessory/docs_driver.h"
#include "mist.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const docs_lmdb_tables[DOCS_TABLES] = {"obj", "idx",
								"meta"};

struct docs_lmdb {
	struct docs_driver drv; /* first */
	struct store *store;
};

static int
docs_lmdb_get(struct docs_driver *d, struct docs_view *v, enum docs_table t,
	      const void *key, size_t klen, struct buf *out)
{
	(void)v; /* reads never wait: no views (view_open NULL) */
	struct docs_lmdb *l = (struct docs_lmdb *)d;
	return store_get(l->store, t, key, klen, out);
}

static void
docs_lmdb_write(struct docs_driver *d, const struct docs_op *ops, uint32_t n,
		docs_done_cb cb, void *arg)
{
	struct docs_lmdb *l = (struct docs_lmdb *)d;
	struct store_write small[16] = {{0}};
	struct store_write *w = n <= 16 ? small : xmalloc(n * sizeof(*w));
	for (uint32_t i = 0; i < n; i++) {
		w[i].kind = ops[i].kind == DOCS_PUT   ? STORE_W_PUT
			    : ops[i].kind == DOCS_DEL ? STORE_W_DEL
						      : STORE_W_DEL_PREFIX;
		w[i].table = ops[i].table;
		w[i].key = ops[i].key;
		w[i].klen = ops[i].klen;
		w[i].val = ops[i].val;
		w[i].vlen = ops[i].vlen;
	}
	store_write(l->store, w, n, cb, arg);
	if (w != small)
		free(w);
}

static int
docs_lmdb_scan(struct docs_driver *d, struct docs_view *v, enum docs_table t,
	       const void *lo, size_t lolen, const void *hi, size_t hilen,
	       bool reverse, docs_scan_cb cb, void *arg)
{
	(void)v;
	struct docs_lmdb *l = (struct docs_lmdb *)d;
	return store_scan_range(l->store, t, lo, lolen, hi, hilen, reverse, cb,
				arg);
}

static void
docs_lmdb_stats(struct docs_driver *d, struct docs_driver_stats *out)
{
	struct docs_lmdb *l = (struct docs_lmdb *)d;
	struct store_stats st = store_stats(l->store);
	out->bytes_used = st.bytes_used;
	out->map_size = st.map_size;
	out->groups = st.writes;
	out->commits = st.commits;
	out->grows = st.grows;
}

static void
docs_lmdb_close(struct docs_driver *d)
{
	struct docs_lmdb *l = (struct docs_lmdb *)d;
	store_close(l->store);
	free(l);
}

static const struct docs_driver_vt docs_lmdb_vt = {
	.name = "lmdb",
	.get = docs_lmdb_get,
	.write = docs_lmdb_write,
	.scan = docs_lmdb_scan,
	.stats = docs_lmdb_stats,
	.close = docs_lmdb_close,
};

void
docs_lmdb_config_default(struct docs_lmdb_config *c)
{
	c->map_initial = DOCS_LMDB_MAP_INITIAL;
	c->map_max = DOCS_LMDB_MAP_MAX;
}

struct docs_driver *
docs_lmdb_open(uv_loop_t *loop, const char *data_dir,
	       const struct docs_lmdb_config *cfg, int *err)
{
	struct docs_lmdb_config def;
	if (cfg == NULL) {
		docs_lmdb_config_default(&def);
		cfg = &def;
	}
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/docs", data_dir);
	struct store *s = NULL;
	if (n > 0 && (size_t)n < sizeof(path))
		s = store_open_env(loop, path, docs_lmdb_tables, DOCS_TABLES,
				   cfg->map_initial, cfg->map_max);
	if (s == NULL) {
		if (err)
			*err = MIST_ESTORE;
		return NULL;
	}
	struct docs_lmdb *l = xcalloc(1, sizeof(*l));
	l->drv.vt = &docs_lmdb_vt;
	l->store = s;
	return &l->drv;
}
