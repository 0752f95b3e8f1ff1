/*
 * test_store.c -- the LMDB store on a real environment in a temp dir.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mist.h"
#include "store/store.h"
#include "testutil.h"

static int done_ok, done_err;

static void
on_done(void *arg, int status)
{
	(void)arg;
	if (status == 0)
		done_ok++;
	else
		done_err++;
}

static void
run_until(uv_loop_t *loop, int want)
{
	for (int i = 0; i < 10000 && done_ok + done_err < want; i++)
		uv_run(loop, UV_RUN_ONCE);
}

Test(store, writes_are_batched_durable_and_read_back)
{
	char *dir = tu_tmpdir();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s = store_open(&loop, dir, 64 << 20);
	cr_assert_not_null(s);
	done_ok = done_err = 0;
	for (int i = 0; i < 5000; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "k%05d", i);
		store_put(s, STORE_META, k, (size_t)n, &i, sizeof(i), on_done,
			  NULL);
	}
	run_until(&loop, 5000);
	cr_assert_eq(done_ok, 5000);
	struct store_stats st = store_stats(s);
	cr_assert_eq(st.writes, 5000);
	cr_assert_lt(st.commits, 5000, "writes must share commits");
	cr_log_info("5000 writes in %llu commits",
		    (unsigned long long)st.commits);
	struct buf b = BUF_INIT;
	cr_assert_eq(store_get(s, STORE_META, "k01234", 6, &b), 0);
	cr_assert_eq(b.len, sizeof(int));
	int v;
	memcpy(&v, b.data, sizeof(v));
	cr_assert_eq(v, 1234);
	cr_assert_eq(store_get(s, STORE_META, "nope", 4, &b), MIST_ENOTFOUND);
	store_del(s, STORE_META, "k00001", 6, on_done, NULL);
	run_until(&loop, 5001);
	cr_assert_eq(store_get(s, STORE_META, "k00001", 6, &b), MIST_ENOTFOUND);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);

	/* reopen: what was committed is there */
	s = store_open(&loop, dir, 64 << 20);
	cr_assert_not_null(s);
	cr_assert_eq(store_get(s, STORE_META, "k04999", 6, &b), 0);
	memcpy(&v, b.data, sizeof(v));
	cr_assert_eq(v, 4999);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
	buf_destroy(&b);
	tu_rmrf(dir);
	free(dir);
}

Test(store, close_flushes_queued_writes)
{
	char *dir = tu_tmpdir();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s = store_open(&loop, dir, 64 << 20);
	done_ok = done_err = 0;
	for (int i = 0; i < 100; i++)
		store_put(s, STORE_META, &i, sizeof(i), "v", 1, on_done, NULL);
	store_close(s); /* before the loop ever ran */
	cr_assert_eq(done_ok, 100, "every write's callback ran once");
	uv_run(&loop, UV_RUN_DEFAULT);
	s = store_open(&loop, dir, 64 << 20);
	struct buf b = BUF_INIT;
	int k = 99;
	cr_assert_eq(store_get(s, STORE_META, &k, sizeof(k), &b), 0);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	buf_destroy(&b);
	tu_rmrf(dir);
	free(dir);
}

struct scan {
	int n;
	int stop_at;
};

static int
count_cb(void *arg, const void *k, size_t klen, const void *v, size_t vlen)
{
	(void)k, (void)v;
	struct scan *sc = arg;
	cr_assert(klen > 0 && vlen == 1);
	return ++sc->n == sc->stop_at;
}

Test(store, scan_walks_a_prefix_or_the_whole_table)
{
	char *dir = tu_tmpdir();
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s = store_open(&loop, dir, 64 << 20);
	done_ok = done_err = 0;
	const char *keys[] = {"a1", "a2", "ab", "b", "b1", "c"};
	for (int i = 0; i < 6; i++)
		store_put(s, STORE_JOBS, keys[i], strlen(keys[i]), "v", 1,
			  on_done, NULL);
	run_until(&loop, 6);
	struct scan sc = {0};
	/* the whole table (no prefix: what the journal replay does) */
	cr_assert_eq(store_scan(s, STORE_JOBS, NULL, 0, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 6);
	sc = (struct scan){0};
	cr_assert_eq(store_scan(s, STORE_JOBS, "a", 1, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 3);
	sc = (struct scan){0};
	cr_assert_eq(store_scan(s, STORE_JOBS, "b", 1, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 2);
	sc = (struct scan){0};
	cr_assert_eq(store_scan(s, STORE_JOBS, "zz", 2, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 0);
	sc = (struct scan){.stop_at = 2}; /* the callback stops the walk */
	cr_assert_eq(store_scan(s, STORE_JOBS, NULL, 0, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 2);
	sc = (struct scan){0}; /* other tables are apart */
	cr_assert_eq(store_scan(s, STORE_CREDS, NULL, 0, count_cb, &sc), 0);
	cr_assert_eq(sc.n, 0);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	tu_rmrf(dir);
	free(dir);
}

struct collect {
	char keys[16][8];
	int n;
};

static int
collect_cb(void *arg, const void *k, size_t klen, const void *v, size_t vlen)
{
	(void)v, (void)vlen;
	struct collect *c = arg;
	if (c->n < 16 && klen < 8) {
		memcpy(c->keys[c->n], k, klen);
		c->keys[c->n][klen] = 0;
		c->n++;
	}
	return 0;
}

static int last_status;

static void
on_status(void *arg, int status)
{
	(void)arg;
	last_status = status;
	on_done(NULL, status);
}

Test(store, groups_are_atomic_ranges_and_prefix_deletes)
{
	static const char *const tables[] = {"one", "two"};
	char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/env", dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s = store_open_env(&loop, path, tables, 2, 1 << 20,
					 1 << 20);
	cr_assert_not_null(s);
	done_ok = done_err = 0;
	struct store_write w[] = {
		{STORE_W_PUT, 0, "a1", 2, "v", 1},
		{STORE_W_PUT, 0, "a2", 2, "v", 1},
		{STORE_W_PUT, 0, "b1", 2, "v", 1},
		{STORE_W_PUT, 1, "a1", 2, "w", 1},
	};
	store_write(s, w, 4, on_status, NULL);
	run_until(&loop, 1);
	cr_assert_eq(last_status, 0);
	struct collect c = {0};
	cr_assert_eq(store_scan_range(s, 0, "a2", 2, "b2", 2, false,
				      collect_cb, &c), 0);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.keys[0], "a2");
	cr_assert_str_eq(c.keys[1], "b1");
	c = (struct collect){0};
	cr_assert_eq(store_scan_range(s, 0, NULL, 0, "b1", 2, true,
				      collect_cb, &c), 0);
	cr_assert_eq(c.n, 2, "reverse, below b1");
	cr_assert_str_eq(c.keys[0], "a2");
	cr_assert_str_eq(c.keys[1], "a1");
	/* a group with a bad table fails whole: nothing of it applied */
	struct store_write bad[] = {{STORE_W_PUT, 0, "zz", 2, "v", 1},
				    {STORE_W_PUT, 7, "zz", 2, "v", 1}};
	store_write(s, bad, 2, on_status, NULL);
	run_until(&loop, 2);
	cr_assert_neq(last_status, 0);
	struct buf b = BUF_INIT;
	cr_assert_eq(store_get(s, 0, "zz", 2, &b), MIST_ENOTFOUND);
	/* prefix delete in table 0 only */
	struct store_write dp = {STORE_W_DEL_PREFIX, 0, "a", 1, NULL, 0};
	store_write(s, &dp, 1, on_status, NULL);
	run_until(&loop, 3);
	cr_assert_eq(last_status, 0);
	cr_assert_eq(store_get(s, 0, "a1", 2, &b), MIST_ENOTFOUND);
	cr_assert_eq(store_get(s, 0, "a2", 2, &b), MIST_ENOTFOUND);
	cr_assert_eq(store_get(s, 0, "b1", 2, &b), 0);
	cr_assert_eq(store_get(s, 1, "a1", 2, &b), 0);
	/* the map is at its max (1 MiB): a 2 MiB value fails, E2BIG */
	size_t big = 2 << 20;
	char *v = calloc(1, big);
	store_put(s, 0, "big", 3, v, big, on_status, NULL);
	run_until(&loop, 4);
	cr_assert_eq(last_status, MIST_E2BIG);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);

	/* the same with room to grow: the map doubles until it fits */
	s = store_open_env(&loop, path, tables, 2, 1 << 20, 64 << 20);
	store_put(s, 0, "big", 3, v, big, on_status, NULL);
	for (int i = 0; i < 100; i++)
		store_put(s, 1, &i, sizeof(i), v, 64 << 10, on_status, NULL);
	run_until(&loop, 105);
	cr_assert_eq(done_err, 2, "only the two refused above failed");
	struct store_stats st = store_stats(s);
	cr_assert_geq(st.grows, 2);
	cr_assert_gt(st.map_size, 4 << 20);
	cr_assert_eq(store_get(s, 0, "big", 3, &b), 0);
	cr_assert_eq(b.len, big);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0);
	free(v);
	buf_destroy(&b);
	tu_rmrf(dir);
	free(dir);
}
