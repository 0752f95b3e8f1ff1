/*
 * test_docs.c -- ACTOR_DOCS on a real actor system, a real libuv loop and
 * a real LMDB environment in a temp dir: a test actor sends
 * MSG_ACC_REQUEST as the gateway would and checks every reply.
 *
 * Built a second time as test_docs_pg (-DTEST_DOCS_PG): the same tests
 * against the PostgreSQL driver, on the server MIST_TEST_PG names (a libpq
 * connection string; contrib/pgtest.sh starts a private one), each test in
 * a fresh schema dropped at its end.  Without MIST_TEST_PG every test is
 * skipped, saying why.  Tests of what only LMDB has (its map) or of the
 * caches (off with PostgreSQL) are skipped there.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "accessory/accessory.h"
#include "accessory/auth.h"
#include "accessory/docs.h"
#include "accessory/docs_cache.h"
#include "actors/actor.h"
#include "mist.h"
#include "net/loop.h"
#include "net/mp.h"
#include "testutil.h"
#include "util/buf.h"

#ifdef TEST_DOCS_PG
#include <libpq-fe.h>
static char pg_schema[64];
static char *pg_conninfo;
static void pg_teardown(void);
/* a skipped test's teardown does not run: its schema goes first */
#define PG_ONLY_LMDB()                                                         \
	do {                                                                   \
		pg_teardown();                                                 \
		cr_skip_test("LMDB's map: not a PostgreSQL thing");            \
	} while (0)
#define PG_NO_CACHE()                                                          \
	do {                                                                   \
		pg_teardown();                                                 \
		cr_skip_test("the caches are off with PostgreSQL");            \
	} while (0)
#else
#define PG_ONLY_LMDB() (void)0
#define PG_NO_CACHE() (void)0
#endif

#define T_TESTER 70
#define T_KICK 200	 /* local: body = [[type, bytes]...] to send */
#define MAX_REPLIES 4096

struct reply {
	int status; /* HTTP status, or -1: an actor-level error */
	json_t *body;
	char user[64];
	struct buf raw; /* MSG_ACC_STATS */
};

static struct th {
	uv_loop_t loop;
	struct loop_driver drv;
	struct actor_sys sys;
	char *dir;
	struct docs_config cfg;
	struct reply r[MAX_REPLIES];
	uint32_t nr;
	bool up;
} T;

/* the fake clock (docs_config.clock_ns) */
static uint64_t fake_ns, fake_step;
static uint64_t
fake_clock(void *ctx)
{
	(void)ctx;
	fake_ns += fake_step;
	return fake_ns;
}

static void
tester_fn(struct actor *self, struct msg *m)
{
	(void)self;
	if (m->type == T_KICK) {
		struct mp_cur c;
		uint32_t n;
		mp_cur_init(&c, m->body, m->len);
		cr_assert_eq(mp_read_array(&c, &n), 0);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t two;
			uint64_t type;
			const uint8_t *b;
			uint32_t bl;
			cr_assert_eq(mp_read_array(&c, &two), 0);
			cr_assert_eq(mp_read_uint(&c, &type), 0);
			cr_assert_eq(mp_read_bin(&c, &b, &bl), 0);
			struct actor_ref to = {T.sys.node, ACTOR_DOCS};
			actor_request(self, to, (uint32_t)type, b, bl, 60000,
				      NULL);
		}
		return;
	}
	if (!(m->flags & MSG_F_REPLY) || T.nr >= MAX_REPLIES)
		return;
	struct reply *r = &T.r[T.nr++];
	memset(r, 0, sizeof(*r));
	if (m->status != 0 || m->type == MSG_ERROR) {
		r->status = -1;
		return;
	}
	if (m->type == MSG_ACC_STATS) {
		r->status = 200;
		buf_append(&r->raw, m->body, m->len);
		return;
	}
	struct mp_cur c;
	uint32_t n, bl, ul;
	uint64_t st;
	const uint8_t *b;
	const char *u;
	mp_cur_init(&c, m->body, m->len);
	cr_assert_eq(mp_read_array(&c, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(mp_read_uint(&c, &st), 0);
	cr_assert_eq(mp_read_bin(&c, &b, &bl), 0);
	cr_assert_eq(mp_read_str(&c, &u, &ul), 0);
	r->status = (int)st;
	json_error_t je;
	r->body = json_loadb((const char *)b, bl, 0, &je);
	cr_assert_not_null(r->body, "reply body is JSON: %.*s", (int)bl, b);
	snprintf(r->user, sizeof(r->user), "%.*s", (int)ul, u);
}

static void
th_start(void)
{
	struct actor_sys_env env;
	loop_driver_env(&T.drv, &T.loop, &env);
	actor_sys_init(&T.sys, 1, &env, NULL, tu_seed());
	loop_driver_start(&T.drv, &T.sys);
	int err = 0;
	struct actor *a = docs_spawn(&T.sys, &T.loop, T.dir, &T.cfg, &err);
	cr_assert_not_null(a, "docs_spawn: %d", err);
	actor_spawn(&T.sys, T_TESTER, "tester", tester_fn, NULL);
	T.up = true;
}

static void
th_clear(void)
{
	for (uint32_t i = 0; i < T.nr; i++) {
		json_decref(T.r[i].body);
		buf_destroy(&T.r[i].raw);
	}
	T.nr = 0;
}

static void
th_stop(void)
{
	if (!T.up)
		return;
	T.up = false;
	actor_sys_shutdown(&T.sys);
	while (actor_sys_has_work(&T.sys))
		actor_sys_run(&T.sys, 1000);
	loop_driver_close(&T.drv);
	uv_run(&T.loop, UV_RUN_DEFAULT);
	actor_sys_destroy(&T.sys);
	th_clear();
}

#ifdef TEST_DOCS_PG
static void
pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "drop cascades to ..." */
}

/* Runs @a sql on the server MIST_TEST_PG names (the base, not the test's
 * schema). */
static void
pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("MIST_TEST_PG"));
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "MIST_TEST_PG: %s",
		     PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql,
		     PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* A fresh schema for this test, and the connection string that uses it. */
static void
pg_setup(void)
{
	const char *base = getenv("MIST_TEST_PG");
	if (base == NULL || *base == 0)
		cr_skip_test("MIST_TEST_PG names no PostgreSQL server "
			     "(contrib/pgtest.sh start DIR prints one)");
	static unsigned seq;
	/* the pid and a random part: a schema a crashed run left behind
	 * under a reused pid is never met */
	snprintf(pg_schema, sizeof(pg_schema), "mist_t_%ld_%u_%08x",
		 (long)getpid(), seq++, randombytes_random());
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", pg_schema);
	pg_admin(sql);
	size_t n = strlen(base) + 128;
	pg_conninfo = malloc(n);
	if (strncmp(base, "postgres", 8) == 0) /* a URI */
		snprintf(pg_conninfo, n, "%s%coptions=-csearch_path%%3D%s", base,
			 strchr(base, '?') ? '&' : '?', pg_schema);
	else
		snprintf(pg_conninfo, n, "%s options='-c search_path=%s'", base,
			 pg_schema);
	T.cfg.pg_conninfo = pg_conninfo;
}

static void
pg_teardown(void)
{
	if (pg_conninfo == NULL)
		return;
	char sql[128];
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", pg_schema);
	pg_admin(sql);
	free(pg_conninfo);
	pg_conninfo = NULL;
}
#endif

static void
setup(void)
{
	cr_assert_geq(sodium_init(), 0);
	memset(&T, 0, sizeof(T));
	uv_loop_init(&T.loop);
	T.dir = tu_tmpdir();
	docs_config_default(&T.cfg);
	fake_ns = 0;
	fake_step = 0;
#ifdef TEST_DOCS_PG
	pg_setup();
#endif
}

static void
teardown(void)
{
	th_stop();
	cr_assert_eq(uv_loop_close(&T.loop), 0, "every handle closed");
	tu_rmrf(T.dir);
	free(T.dir);
#ifdef TEST_DOCS_PG
	pg_teardown();
#endif
}

static void
tick_cb(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until @a n replies are in (bounded). */
static void
th_wait(uint32_t n)
{
	uv_timer_t t;
	uv_timer_init(&T.loop, &t);
	uv_timer_start(&t, tick_cb, 5, 5);
	uint64_t end = uv_hrtime() + 60ull * 1000000000;
	while (T.nr < n && uv_hrtime() < end)
		uv_run(&T.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&T.loop, UV_RUN_NOWAIT);
	cr_assert_geq(T.nr, n, "replies: %u of %u", T.nr, n);
}

struct caller {
	bool master;
	const char *session;
	bool create;
	uint64_t quota;
	uint32_t deadline;
	uint64_t index_budget; /* 0: not sent */
};

static const struct caller PUBLIC = {0};
static const struct caller MASTER = {.master = true};

/* The msgpack of one MSG_ACC_REQUEST. */
static void
th_encode(struct buf *b, const char *app, int op, const struct caller *c,
	  const char *json)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, b, buf_msgpack_write);
	msgpack_pack_array(&pk, 5);
	mp_pack_str(&pk, app);
	msgpack_pack_uint8(&pk, (uint8_t)op);
	msgpack_pack_uint32(&pk, c->deadline);
	msgpack_pack_map(&pk, 4 + (c->session ? 1 : 0) +
				   (c->index_budget ? 1 : 0));
	if (c->index_budget) {
		mp_pack_str(&pk, "index_budget");
		msgpack_pack_uint64(&pk, c->index_budget);
	}
	mp_pack_str(&pk, "master");
	c->master ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	mp_pack_str(&pk, "create_classes");
	c->create ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
	mp_pack_str(&pk, "quota");
	msgpack_pack_uint64(&pk, c->quota);
	mp_pack_str(&pk, "ip");
	mp_pack_str(&pk, "127.0.0.1");
	if (c->session) {
		mp_pack_str(&pk, "session");
		mp_pack_str(&pk, c->session);
	}
	size_t n = strlen(json);
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, json, n);
}

/* Sends @a n raw bodies of @a type in one turn of the tester. */
static void
th_send_raw(uint32_t type, const struct buf *bodies, uint32_t n)
{
	struct buf k = BUF_INIT;
	msgpack_packer pk;
	msgpack_packer_init(&pk, &k, buf_msgpack_write);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, type);
		msgpack_pack_bin(&pk, bodies[i].len);
		msgpack_pack_bin_body(&pk, bodies[i].data, bodies[i].len);
	}
	actor_sys_deliver(&T.sys, actor_local_msg(&T.sys, T_TESTER, T_KICK,
						  k.data, (uint32_t)k.len));
	buf_destroy(&k);
}

/* One request; waits; returns the reply (valid until th_clear). */
static struct reply *
rq(int op, const struct caller *c, const char *fmt, ...)
{
	char json[64 << 10];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	struct buf b = BUF_INIT;
	th_encode(&b, "app1", op, c, json);
	uint32_t want = T.nr + 1;
	th_send_raw(MSG_ACC_REQUEST, &b, 1);
	buf_destroy(&b);
	th_wait(want);
	return &T.r[want - 1];
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t
jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static int
jcode(const struct reply *r)
{
	return (int)jint(r->body, "code");
}

/* A copy of a string of a reply (replies die at th_clear). */
static char *
dupstr(const char *s)
{
	cr_assert_not_null(s);
	static char pool[64][128];
	static int at;
	char *p = pool[at++ % 64];
	snprintf(p, 128, "%s", s);
	return p;
}

/* Signs up @a name; returns its session token (*id: objectId). */
static char *
signup(const char *name, const char *email, char **id)
{
	struct reply *r = rq(ACC_DOC_CREATE, &PUBLIC,
			     "{\"class\":\"_User\",\"object\":{\"username\":"
			     "\"%s\",\"password\":\"pw-%s\",\"email\":\"%s\"}}",
			     name, name, email);
	cr_assert_eq(r->status, 201, "signup %s: %d %s", name, r->status,
		     jstr(r->body, "error"));
	if (id)
		*id = dupstr(jstr(r->body, "objectId"));
	cr_assert_str_eq(r->user, jstr(r->body, "objectId"),
			 "the reply names the new user");
	return dupstr(jstr(r->body, "sessionToken"));
}

TestSuite(docs, .init = setup, .fini = teardown, .timeout = 240);

Test(docs, crud_and_every_update_operator)
{
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"Game\",\"object\":{\"score\":5,"
			     "\"tags\":[\"a\"],\"name\":\"x\",\"gone\":1}}");
	cr_assert_eq(r->status, 201);
	const char *id = dupstr(jstr(r->body, "objectId"));
	cr_assert_eq(strlen(id), 10);
	cr_assert_not_null(jstr(r->body, "createdAt"));
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Game\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(jint(r->body, "score"), 5);
	cr_assert_str_eq(jstr(r->body, "objectId"), id);
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"changes\":{"
	       "\"score\":{\"__op\":\"Increment\",\"amount\":3},"
	       "\"tags\":{\"__op\":\"Add\",\"objects\":[\"b\",\"a\"]},"
	       "\"gone\":{\"__op\":\"Delete\"},\"name\":\"y\"}}",
	       id);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_assert_not_null(jstr(r->body, "updatedAt"));
	cr_assert_eq(jint(r->body, "score"), 8, "Increment's result answered");
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"changes\":{"
	       "\"tags\":{\"__op\":\"AddUnique\",\"objects\":[\"a\",\"c\"]}}}",
	       id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Game\",\"id\":\"%s\"}", id);
	json_t *tags = json_object_get(r->body, "tags");
	cr_assert_eq(json_array_size(tags), 4, "a b a + c");
	cr_assert_null(json_object_get(r->body, "gone"));
	cr_assert_str_eq(jstr(r->body, "name"), "y");
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"changes\":{"
	       "\"tags\":{\"__op\":\"Remove\",\"objects\":[\"a\"]}}}",
	       id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_GET, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"keys\":\"tags\"}", id);
	tags = json_object_get(r->body, "tags");
	cr_assert_eq(json_array_size(tags), 2);
	cr_assert_str_eq(json_string_value(json_array_get(tags, 0)), "b");
	cr_assert_str_eq(json_string_value(json_array_get(tags, 1)), "c");
	cr_assert_null(json_object_get(r->body, "score"), "keys projects");
	/* Increment of a string refused, nothing changed */
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"changes\":{"
	       "\"name\":{\"__op\":\"Increment\",\"amount\":1}}}",
	       id);
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 111);
	r = rq(ACC_DOC_DELETE, &PUBLIC, "{\"class\":\"Game\",\"id\":\"%s\"}",
	       id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Game\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 404);
	cr_assert_eq(jcode(r), 101);
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Game\",\"id\":\"%s\",\"changes\":{\"a\":1}}", id);
	cr_assert_eq(jcode(r), 101);
}

Test(docs, schema_inferred_then_checked_and_class_creation_refused)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &PUBLIC,
			     "{\"class\":\"Nope\",\"object\":{\"a\":1}}");
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 119, "no client class creation by default");
	struct caller cc = {.create = true};
	r = rq(ACC_DOC_CREATE, &cc,
	       "{\"class\":\"Nope\",\"object\":{\"a\":1,\"when\":{\"__type\":"
	       "\"Date\",\"iso\":\"2026-01-01T00:00:00.000Z\"}}}");
	cr_assert_eq(r->status, 201);
	const char *id = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"Nope\",\"object\":{\"a\":\"text\"}}");
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 111, "a type change is refused");
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Nope\",\"id\":\"%s\",\"changes\":{\"when\":3}}",
	       id);
	cr_assert_eq(jcode(r), 111);
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"Nope\",\"object\":{\"b\":true}}");
	cr_assert_eq(r->status, 201, "a new field on an existing class");
	r = rq(ACC_DOC_SCHEMA_GET, &PUBLIC, "{\"class\":\"Nope\"}");
	cr_assert_eq(jcode(r), 119, "schemas are the master's");
	r = rq(ACC_DOC_SCHEMA_GET, &MASTER, "{\"class\":\"Nope\"}");
	cr_assert_eq(r->status, 200);
	json_t *f = json_object_get(r->body, "fields");
	cr_assert_str_eq(jstr(json_object_get(f, "a"), "type"), "Number");
	cr_assert_str_eq(jstr(json_object_get(f, "when"), "type"), "Date");
	cr_assert_str_eq(jstr(json_object_get(f, "b"), "type"), "Boolean");
	r = rq(ACC_DOC_SCHEMA_GET, &MASTER, "{}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	/* bad JSON and msgpack: 400 107 */
	r = rq(ACC_DOC_CREATE, &PUBLIC, "{\"class\":");
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 107);
	struct buf junk = BUF_INIT;
	buf_append(&junk, "\x95\xa4" "app1\x03\x00\x80\xc4\xff", 11);
	uint32_t want = T.nr + 1;
	th_send_raw(MSG_ACC_REQUEST, &junk, 1);
	th_wait(want);
	cr_assert_eq(T.r[want - 1].status, 400);
	cr_assert_eq(jcode(&T.r[want - 1]), 107);
	buf_destroy(&junk);
	r = rq(99, &PUBLIC, "{}");
	cr_assert_eq(r->status, 400);
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"Nope\",\"object\":{\"_hidden\":1}}");
	cr_assert_eq(r->status, 400, "internal names are not a client's");
}

Test(docs, users_signup_login_logout_me_password_change)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &PUBLIC,
			     "{\"class\":\"_User\",\"object\":{\"password\":"
			     "\"x\"}}");
	cr_assert_eq(jcode(r), 200);
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"_User\",\"object\":{\"username\":\"a\"}}");
	cr_assert_eq(jcode(r), 201);
	char *uid;
	uint64_t t0 = uv_hrtime();
	char *tok = signup("alice", "alice@example.com", &uid);
	cr_log_info("signup (one Argon2id hash): %.1f ms",
		    (double)(uv_hrtime() - t0) / 1e6);
	cr_assert_eq(strlen(tok), AUTH_TOKEN_MAX - 1);
	cr_assert(strncmp(tok, "r:", 2) == 0);
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"_User\",\"object\":{\"username\":\"alice\","
	       "\"password\":\"p\"}}");
	cr_assert_eq(jcode(r), 202);
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"_User\",\"object\":{\"username\":\"al2\","
	       "\"password\":\"p\",\"email\":\"alice@example.com\"}}");
	cr_assert_eq(jcode(r), 203);
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"alice\",\"password\":\"wrong\"}");
	cr_assert_eq(r->status, 404);
	cr_assert_eq(jcode(r), 101);
	t0 = uv_hrtime();
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"alice\",\"password\":\"pw-alice\"}");
	cr_log_info("login (one Argon2id verify): %.1f ms",
		    (double)(uv_hrtime() - t0) / 1e6);
	cr_assert_eq(r->status, 200);
	cr_assert_null(json_object_get(r->body, "password"));
	cr_assert_null(json_object_get(r->body, "_hashed_password"));
	cr_assert_str_eq(jstr(r->body, "email"), "alice@example.com");
	char *tok2 = dupstr(jstr(r->body, "sessionToken"));
	/* hashing runs off the loop: a GET sent after a login in the same
	 * turn is answered first */
	struct buf two[2] = {BUF_INIT, BUF_INIT};
	th_encode(&two[0], "app1", ACC_DOC_LOGIN, &PUBLIC,
		  "{\"username\":\"alice\",\"password\":\"pw-alice\"}");
	char get[128];
	snprintf(get, sizeof(get), "{\"class\":\"_User\",\"id\":\"%s\"}",
		 uid);
	th_encode(&two[1], "app1", ACC_DOC_GET, &PUBLIC, get);
	uint32_t want = T.nr + 2;
	th_send_raw(MSG_ACC_REQUEST, two, 2);
	buf_destroy(&two[0]);
	buf_destroy(&two[1]);
	th_wait(want);
	cr_assert_null(jstr(T.r[want - 2].body, "sessionToken"),
		       "the GET's answer came first");
	cr_assert_not_null(jstr(T.r[want - 1].body, "sessionToken"));
	cr_assert_str_neq(tok, tok2);
	struct caller s1 = {.session = tok}, s2 = {.session = tok2};
	r = rq(ACC_DOC_ME, &s2, "{}");
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(jstr(r->body, "objectId"), uid);
	cr_assert_str_eq(r->user, uid);
	/* password change through session 1: session 2 is revoked */
	r = rq(ACC_DOC_UPDATE, &s1,
	       "{\"class\":\"_User\",\"id\":\"%s\",\"changes\":{\"password\":"
	       "\"new-pw\"}}",
	       uid);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_ME, &s2, "{}");
	cr_assert_eq(jcode(r), 209, "the other session is gone");
	r = rq(ACC_DOC_ME, &s1, "{}");
	cr_assert_eq(r->status, 200, "the changing session stays");
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"alice\",\"password\":\"pw-alice\"}");
	cr_assert_eq(jcode(r), 101);
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"alice\",\"password\":\"new-pw\"}");
	cr_assert_eq(r->status, 200);
	/* someone else may not change alice */
	char *bid;
	char *btok = signup("bob", "bob@example.com", &bid);
	struct caller sb = {.session = btok};
	r = rq(ACC_DOC_UPDATE, &sb,
	       "{\"class\":\"_User\",\"id\":\"%s\",\"changes\":{\"x\":1}}",
	       uid);
	cr_assert_neq(r->status, 200);
	r = rq(ACC_DOC_DELETE, &sb, "{\"class\":\"_User\",\"id\":\"%s\"}", uid);
	cr_assert_neq(r->status, 200);
	/* _Session is read-only to clients */
	r = rq(ACC_DOC_CREATE, &sb, "{\"class\":\"_Session\",\"object\":{}}");
	cr_assert_eq(jcode(r), 119);
	/* logout ends the session */
	r = rq(ACC_DOC_LOGOUT, &s1, "{}");
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_ME, &s1, "{}");
	cr_assert_eq(jcode(r), 209);
	r = rq(ACC_DOC_ME, &PUBLIC, "{}");
	cr_assert_eq(jcode(r), 209);
}

Test(docs, acl_denials_roles_and_protected_email)
{
	th_start();
	char *aid, *bid, *cid;
	char *atok = signup("ann", "ann@example.com", &aid);
	char *btok = signup("ben", "ben@example.com", &bid);
	char *ctok = signup("cat", "cat@example.com", &cid);
	struct caller sa = {.session = atok, .create = true},
		      sb = {.session = btok}, sc = {.session = ctok};
	struct reply *r = rq(ACC_DOC_CREATE, &sa,
			     "{\"class\":\"Note\",\"object\":{\"t\":\"mine\","
			     "\"ACL\":{\"%s\":{\"read\":true,\"write\":true}}}}",
			     aid);
	cr_assert_eq(r->status, 201);
	char *nid = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_GET, &sb, "{\"class\":\"Note\",\"id\":\"%s\"}", nid);
	cr_assert_eq(jcode(r), 101, "another user: not found");
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Note\",\"id\":\"%s\"}", nid);
	cr_assert_eq(jcode(r), 101, "the public: not found");
	r = rq(ACC_DOC_UPDATE, &sb,
	       "{\"class\":\"Note\",\"id\":\"%s\",\"changes\":{\"t\":\"x\"}}",
	       nid);
	cr_assert_eq(jcode(r), 101);
	r = rq(ACC_DOC_DELETE, &PUBLIC, "{\"class\":\"Note\",\"id\":\"%s\"}",
	       nid);
	cr_assert_eq(jcode(r), 101);
	r = rq(ACC_DOC_QUERY, &sb, "{\"class\":\"Note\"}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
	r = rq(ACC_DOC_GET, &sa, "{\"class\":\"Note\",\"id\":\"%s\"}", nid);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(jstr(r->body, "t"), "mine", "nothing changed");
	r = rq(ACC_DOC_GET, &MASTER, "{\"class\":\"Note\",\"id\":\"%s\"}", nid);
	cr_assert_eq(r->status, 200, "the master bypasses ACLs");

	/* roles: Mods holds ben; Admins holds cat and inherits Mods */
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Mods\"}}");
	cr_assert_eq(jcode(r), 123, "a role needs an ACL");
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Admins\","
	       "\"ACL\":{\"*\":{\"read\":true}},\"users\":{\"__op\":"
	       "\"AddRelation\",\"objects\":[{\"__type\":\"Pointer\","
	       "\"className\":\"_User\",\"objectId\":\"%s\"}]}}}",
	       cid);
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	char *admins = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Mods\","
	       "\"ACL\":{\"*\":{\"read\":true}},\"users\":[\"%s\"],"
	       "\"roles\":{\"__op\":\"AddRelation\",\"objects\":[{\"__type\":"
	       "\"Pointer\",\"className\":\"_Role\",\"objectId\":\"%s\"}]}}}",
	       bid, admins);
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Mods\","
	       "\"ACL\":{}}}");
	cr_assert_eq(jcode(r), 137, "role names are unique");
	r = rq(ACC_DOC_CREATE, &sa,
	       "{\"class\":\"Note\",\"object\":{\"t\":\"mods\","
	       "\"ACL\":{\"role:Mods\":{\"read\":true}}}}");
	char *mid = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_GET, &sb, "{\"class\":\"Note\",\"id\":\"%s\"}", mid);
	cr_assert_eq(r->status, 200, "ben is a Mod");
	r = rq(ACC_DOC_GET, &sc, "{\"class\":\"Note\",\"id\":\"%s\"}", mid);
	cr_assert_eq(r->status, 200, "cat is an Admin, Admins inherit Mods");
	r = rq(ACC_DOC_GET, &sa, "{\"class\":\"Note\",\"id\":\"%s\"}", mid);
	cr_assert_eq(jcode(r), 101, "ann holds no role");
	r = rq(ACC_DOC_UPDATE, &sb,
	       "{\"class\":\"Note\",\"id\":\"%s\",\"changes\":{\"t\":\"x\"}}",
	       mid);
	cr_assert_eq(jcode(r), 101, "read is not write");

	/* _User.email: hidden from others, shown to oneself and the master */
	r = rq(ACC_DOC_GET, &sb, "{\"class\":\"_User\",\"id\":\"%s\"}", aid);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(jstr(r->body, "username"), "ann");
	cr_assert_null(json_object_get(r->body, "email"));
	cr_assert_null(json_object_get(r->body, "_hashed_password"));
	r = rq(ACC_DOC_GET, &sa, "{\"class\":\"_User\",\"id\":\"%s\"}", aid);
	cr_assert_str_eq(jstr(r->body, "email"), "ann@example.com");
	r = rq(ACC_DOC_GET, &MASTER, "{\"class\":\"_User\",\"id\":\"%s\"}",
	       aid);
	cr_assert_str_eq(jstr(r->body, "email"), "ann@example.com");
	/* nor may a query on email tell whose it is */
	r = rq(ACC_DOC_QUERY, &sb,
	       "{\"class\":\"_User\",\"where\":{\"$or\":[{\"email\":"
	       "\"ann@example.com\"}]}}");
	cr_assert_eq(jcode(r), 119, "a where on a protected field");
	r = rq(ACC_DOC_QUERY, &sb, "{\"class\":\"_User\",\"order\":\"-email\"}");
	cr_assert_eq(jcode(r), 119, "an order on a protected field");
	r = rq(ACC_DOC_QUERY, &MASTER,
	       "{\"class\":\"_User\",\"where\":{\"email\":"
	       "\"ann@example.com\"}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	r = rq(ACC_DOC_QUERY, &sb, "{\"class\":\"_User\"}");
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 3);
	size_t i;
	json_t *u;
	json_array_foreach(res, i, u)
	{
		bool self = strcmp(jstr(u, "objectId"), bid) == 0;
		cr_assert_eq(json_object_get(u, "email") != NULL, self);
	}
}

Test(docs, class_level_permissions)
{
	th_start();
	char *uid;
	char *tok = signup("dan", "dan@example.com", &uid);
	struct caller su = {.session = tok};
	struct reply *r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
			     "{\"class\":\"Secret\",\"create\":true,"
			     "\"classLevelPermissions\":{\"find\":{},"
			     "\"get\":{\"requiresAuthentication\":true},"
			     "\"create\":{\"%s\":true},\"update\":{},"
			     "\"delete\":{},\"addField\":{}}}",
			     uid);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"Secret\",\"object\":{\"a\":1}}");
	cr_assert_eq(jcode(r), 119, "create: only dan");
	r = rq(ACC_DOC_CREATE, &su,
	       "{\"class\":\"Secret\",\"object\":{\"a\":1}}");
	cr_assert_eq(jcode(r), 119, "a is a new field: addField refused");
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Secret\",\"fields\":{\"a\":{\"type\":"
	       "\"Number\"}}}");
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_CREATE, &su,
	       "{\"class\":\"Secret\",\"object\":{\"a\":1}}");
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	char *id = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Secret\",\"id\":\"%s\"}", id);
	cr_assert_eq(jcode(r), 119, "get requires authentication");
	r = rq(ACC_DOC_GET, &su, "{\"class\":\"Secret\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_QUERY, &su, "{\"class\":\"Secret\"}");
	cr_assert_eq(jcode(r), 119, "find: nobody");
	r = rq(ACC_DOC_UPDATE, &su,
	       "{\"class\":\"Secret\",\"id\":\"%s\",\"changes\":{\"a\":2}}",
	       id);
	cr_assert_eq(jcode(r), 119);
	r = rq(ACC_DOC_DELETE, &su, "{\"class\":\"Secret\",\"id\":\"%s\"}", id);
	cr_assert_eq(jcode(r), 119);
	r = rq(ACC_DOC_QUERY, &MASTER, "{\"class\":\"Secret\"}");
	cr_assert_eq(r->status, 200, "the master bypasses CLPs");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	r = rq(ACC_DOC_SCHEMA_DELETE, &MASTER, "{\"class\":\"Secret\"}");
	cr_assert_eq(jcode(r), 255, "not empty");
}

/* Creates @a n objects of @a cls in batches of one turn each. */
static void
fill(const char *cls, int n, int from)
{
	struct caller cc = {.create = true};
	for (int at = 0; at < n;) {
		struct buf b[64];
		int k = 0;
		for (; k < 64 && at < n; k++, at++) {
			b[k] = (struct buf)BUF_INIT;
			char json[256];
			int i = from + at;
			snprintf(json, sizeof(json),
				 "{\"class\":\"%s\",\"object\":{\"score\":%d,"
				 "\"name\":\"n%04d\",\"odd\":%s}}",
				 cls, i, i, i % 2 ? "true" : "false");
			th_encode(&b[k], "app1", ACC_DOC_CREATE, &cc, json);
		}
		uint32_t want = T.nr + (uint32_t)k;
		th_send_raw(MSG_ACC_REQUEST, b, (uint32_t)k);
		for (int j = 0; j < k; j++)
			buf_destroy(&b[j]);
		th_wait(want);
		for (uint32_t j = want - (uint32_t)k; j < want; j++)
			cr_assert_eq(T.r[j].status, 201, "create: %d %s",
				     T.r[j].status,
				     jstr(T.r[j].body, "error"));
		th_clear();
	}
}

Test(docs, queries_where_order_limit_skip_count_keys_include)
{
	th_start();
	fill("Item", 30, 0);
	struct reply *r = rq(
		ACC_DOC_QUERY, &PUBLIC,
		"{\"class\":\"Item\",\"where\":{\"score\":{\"$gte\":10}},"
		"\"order\":\"-score\",\"limit\":5,\"skip\":2,\"count\":1,"
		"\"keys\":\"score\"}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 5);
	cr_assert_eq(jint(r->body, "count"), 20);
	cr_assert_eq(jint(json_array_get(res, 0), "score"), 27);
	cr_assert_eq(jint(json_array_get(res, 4), "score"), 23);
	cr_assert_null(json_object_get(json_array_get(res, 0), "name"));
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Item\",\"where\":{\"odd\":true},\"count\":1,"
	       "\"limit\":0}");
	cr_assert_eq(jint(r->body, "count"), 15);
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
	r = rq(ACC_DOC_QUERY, &PUBLIC, "{\"class\":\"Item\"}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 30);
	r = rq(ACC_DOC_QUERY, &PUBLIC, "{\"class\":\"Item\",\"limit\":5000}");
	cr_assert_eq(jcode(r), 102, "limit over the max is refused");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Item\",\"where\":{\"score\":{\"$bogus\":1}}}");
	cr_assert_eq(jcode(r), 102);
	/* include: a pointer replaced by its (readable) object */
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Item\",\"where\":{\"score\":7}}");
	const char *target = dupstr(
		jstr(json_array_get(json_object_get(r->body, "results"), 0),
		     "objectId"));
	struct caller cc = {.create = true};
	r = rq(ACC_DOC_CREATE, &cc,
	       "{\"class\":\"Ref\",\"object\":{\"item\":{\"__type\":"
	       "\"Pointer\",\"className\":\"Item\",\"objectId\":\"%s\"}}}",
	       target);
	cr_assert_eq(r->status, 201);
	char *rid = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Ref\",\"include\":\"item\"}");
	json_t *item = json_object_get(
		json_array_get(json_object_get(r->body, "results"), 0), "item");
	cr_assert_str_eq(jstr(item, "__type"), "Object");
	cr_assert_eq(jint(item, "score"), 7);
	r = rq(ACC_DOC_GET, &PUBLIC,
	       "{\"class\":\"Ref\",\"id\":\"%s\",\"include\":\"item\"}", rid);
	cr_assert_eq(jint(json_object_get(r->body, "item"), "score"), 7);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Ref\",\"id\":\"%s\"}", rid);
	cr_assert_str_eq(jstr(json_object_get(r->body, "item"), "__type"),
			 "Pointer", "no include, no fetch");
}

static uint64_t
stat_of(const char *name)
{
	uint32_t want = T.nr + 1;
	struct buf nil = BUF_INIT;
	buf_append(&nil, "\xc0", 1);
	th_send_raw(MSG_ACC_STATS, &nil, 1);
	buf_destroy(&nil);
	th_wait(want);
	struct reply *r = &T.r[want - 1];
	struct mp_cur c;
	uint32_t n;
	mp_cur_init(&c, r->raw.data, r->raw.len);
	cr_assert_eq(mp_read_map(&c, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		const char *k;
		uint32_t kl;
		uint64_t v;
		cr_assert_eq(mp_read_str(&c, &k, &kl), 0);
		cr_assert_eq(mp_read_uint(&c, &v), 0);
		if (kl == strlen(name) && memcmp(k, name, kl) == 0)
			return v;
	}
	cr_assert_fail("no counter %s", name);
	return 0;
}

/* Waits (bounded, 30 s) until @a n index builds are done. */
static void
wait_builds(uint64_t n)
{
	uint64_t end = uv_hrtime() + 30ull * 1000000000;
	while (stat_of("index_builds_done") < n && uv_hrtime() < end) {
		th_clear();
		uv_timer_t t;
		uv_timer_init(&T.loop, &t);
		uv_timer_start(&t, tick_cb, 2, 0);
		uv_run(&T.loop, UV_RUN_ONCE);
		uv_close((uv_handle_t *)&t, NULL);
		uv_run(&T.loop, UV_RUN_NOWAIT);
	}
	th_clear();
	cr_assert_geq(stat_of("index_builds_done"), n);
	th_clear();
}

Test(docs, heavy_query_refused_then_index_built_online_and_used)
{
	T.cfg.scan_max = 100;
	T.cfg.build_chunk = 50; /* several turns */
	th_start();
	fill("Big", 400, 0);
	struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
			     "{\"class\":\"Big\",\"where\":{\"score\":350}}");
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 102);
	cr_assert(strstr(jstr(r->body, "error"), "index on score") != NULL,
		  "the message names the index: %s", jstr(r->body, "error"));
	/* cheap queries still run: the first page in objectId order, and
	 * an objectId equality (one key read) */
	r = rq(ACC_DOC_QUERY, &PUBLIC, "{\"class\":\"Big\",\"limit\":10}");
	cr_assert_eq(r->status, 200);
	const char *last = dupstr(jstr(
		json_array_get(json_object_get(r->body, "results"), 9),
		"objectId"));
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"objectId\":\"%s\"},"
	       "\"count\":1}",
	       last);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_assert_eq(jint(r->body, "count"), 1);
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Big\",\"indexes\":{\"by_score\":{\"score\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	/* writes go on while it builds */
	fill("Big", 20, 1000);
	wait_builds(1);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":350}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 1);
	cr_assert_eq(jint(json_array_get(res, 0), "score"), 350);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":1010}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1,
		     "an object written during the build is indexed");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":{\"$gt\":390,"
	       "\"$lte\":1002}},\"order\":\"-score\"}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 12, "391..399 and 1000..1002");
	cr_assert_eq(jint(json_array_get(res, 0), "score"), 1002);
	cr_assert_eq(jint(json_array_get(res, 11), "score"), 391);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"order\":\"score\",\"limit\":3}");
	cr_assert_eq(r->status, 200, "the index serves the order");
	res = json_object_get(r->body, "results");
	cr_assert_eq(jint(json_array_get(res, 0), "score"), 0);
	cr_assert_eq(jint(json_array_get(res, 2), "score"), 2);
	/* an update moves the object in the index */
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":5}}");
	char *id = dupstr(jstr(
		json_array_get(json_object_get(r->body, "results"), 0),
		"objectId"));
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Big\",\"id\":\"%s\",\"changes\":{\"score\":"
	       "5000}}",
	       id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":5}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":5000}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	/* a compound index: equality on its first field, the order on its
	 * second (declared descending, walked backwards) */
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Big\",\"indexes\":{\"odd_score\":{\"odd\":1,"
	       "\"score\":-1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	json_t *ix = json_object_get(r->body, "indexes");
	cr_assert_eq(json_object_size(ix), 2);
	wait_builds(2);
	uint64_t scanned = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"odd\":true},"
	       "\"order\":\"-score\",\"limit\":3}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	res = json_object_get(r->body, "results");
	cr_assert_eq(jint(json_array_get(res, 0), "score"), 5000);
	cr_assert_eq(jint(json_array_get(res, 1), "score"), 1019);
	cr_assert_eq(jint(json_array_get(res, 2), "score"), 1017);
	cr_assert_eq(stat_of("objects_scanned") - scanned, 3,
		     "the compound index yields exactly the three");
	cr_assert_geq(stat_of("refused_heavy"), 1);
	cr_assert_geq(stat_of("index_scans"), 1);
	/* dropping the index makes the query heavy again */
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Big\",\"indexes\":{\"odd_score\":{\"__op\":"
	       "\"Delete\"}}}");
	cr_assert_eq(r->status, 200);
	scanned = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"odd\":true},"
	       "\"order\":\"-score\",\"limit\":3}");
	cr_assert_eq(r->status, 200, "by_score still serves the order");
	cr_assert_eq(stat_of("objects_scanned") - scanned, 4,
		     "walking by_score backwards meets 1018 too");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"odd\":true},"
	       "\"order\":\"name\",\"limit\":3}");
	cr_assert_eq(jcode(r), 102, "no index serves an order on name");
	cr_assert(strstr(jstr(r->body, "error"), "odd, name") != NULL, "%s",
		  jstr(r->body, "error"));
}

Test(docs, deadlines_expire_writes_and_long_scans)
{
	T.cfg.clock_ns = fake_clock;
	th_start();
	fill("Slow", 400, 0);
	/* every clock read moves 1 ms: a scan of 400 objects reads it 12
	 * times, past a 5 ms deadline */
	fake_step = 1000000;
	struct caller late = {.deadline = 5};
	struct reply *r = rq(ACC_DOC_QUERY, &late,
			     "{\"class\":\"Slow\",\"where\":{\"score\":-1}}");
	cr_assert_eq(r->status, 504);
	cr_assert_eq(jcode(r), 124);
	struct caller ok = {.deadline = 1000};
	r = rq(ACC_DOC_QUERY, &ok,
	       "{\"class\":\"Slow\",\"where\":{\"score\":-1}}");
	cr_assert_eq(r->status, 200, "the same query within its deadline");
	/* a write past its deadline does nothing */
	fake_step = 50 * 1000000ull;
	struct caller w = {.deadline = 20};
	r = rq(ACC_DOC_CREATE, &w, "{\"class\":\"Slow\",\"object\":{\"score\":"
				   "-7}}");
	cr_assert_eq(r->status, 504);
	fake_step = 0;
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Slow\",\"where\":{\"score\":-7}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0,
		     "nothing written");
	cr_assert_geq(stat_of("refused_deadline"), 2);
}

Test(docs, quota_refuses_writes_past_it)
{
	th_start();
	struct caller q = {.create = true, .quota = 4000};
	int created = 0;
	struct reply *r = NULL;
	for (int i = 0; i < 100; i++) {
		r = rq(ACC_DOC_CREATE, &q,
		       "{\"class\":\"Q\",\"object\":{\"pad\":\"%0200d\"}}", i);
		if (r->status != 201)
			break;
		created++;
	}
	cr_assert_eq(r->status, 403);
	cr_assert_eq(jcode(r), 140);
	cr_assert_gt(created, 5);
	cr_assert_lt(created, 20);
	r = rq(ACC_DOC_QUERY, &PUBLIC, "{\"class\":\"Q\",\"count\":1}");
	cr_assert_eq(jint(r->body, "count"), created, "nothing past the quota");
	/* a smaller write still fits? no: the quota is used up; deleting
	 * frees room */
	const char *id = dupstr(jstr(
		json_array_get(json_object_get(r->body, "results"), 0),
		"objectId"));
	r = rq(ACC_DOC_DELETE, &q, "{\"class\":\"Q\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_CREATE, &q,
	       "{\"class\":\"Q\",\"object\":{\"pad\":\"%0200d\"}}", 1);
	cr_assert_eq(r->status, 201);
}

Test(docs, overlay_two_updates_back_to_back_both_applied)
{
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"C\",\"object\":{\"n\":0}}");
	char *id = dupstr(jstr(r->body, "objectId"));
	struct buf b[10];
	for (int i = 0; i < 10; i++) {
		b[i] = (struct buf)BUF_INIT;
		char json[256];
		snprintf(json, sizeof(json),
			 "{\"class\":\"C\",\"id\":\"%s\",\"changes\":{\"n\":"
			 "{\"__op\":\"Increment\",\"amount\":1},\"tags\":{"
			 "\"__op\":\"Add\",\"objects\":[%d]}}}",
			 id, i);
		th_encode(&b[i], "app1", ACC_DOC_UPDATE, &PUBLIC, json);
	}
	uint32_t want = T.nr + 10;
	th_send_raw(MSG_ACC_REQUEST, b, 10); /* all in one turn */
	for (int i = 0; i < 10; i++)
		buf_destroy(&b[i]);
	th_wait(want);
	for (uint32_t j = want - 10; j < want; j++)
		cr_assert_eq(T.r[j].status, 200);
	cr_assert_eq(jint(T.r[want - 1].body, "n"), 10);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"C\",\"id\":\"%s\"}", id);
	cr_assert_eq(jint(r->body, "n"), 10, "no lost update");
	cr_assert_eq(json_array_size(json_object_get(r->body, "tags")), 10);
	/* two signups of one name in one turn: the second sees the first */
	struct buf s[2];
	for (int i = 0; i < 2; i++) {
		s[i] = (struct buf)BUF_INIT;
		th_encode(&s[i], "app1", ACC_DOC_CREATE, &PUBLIC,
			  "{\"class\":\"_User\",\"object\":{\"username\":"
			  "\"same\",\"password\":\"p\"}}");
	}
	want = T.nr + 2;
	th_send_raw(MSG_ACC_REQUEST, s, 2);
	buf_destroy(&s[0]);
	buf_destroy(&s[1]);
	th_wait(want);
	/* the refusal is answered at once, the signup once durable */
	int ok = T.r[want - 2].status == 201 ? 0 : 1;
	cr_assert_eq(T.r[want - 2 + ok].status, 201);
	cr_assert_eq(jcode(&T.r[want - 1 - ok]), 202);
}

Test(docs, map_grows_past_its_initial_size)
{
	PG_ONLY_LMDB();
	T.cfg.lmdb.map_initial = 1 << 20; /* 1 MiB */
	th_start();
	struct caller cc = {.create = true};
	char *pad = malloc(50001);
	memset(pad, 'x', 50000);
	pad[50000] = 0;
	for (int i = 0; i < 80; i++) { /* 4 MB of objects */
		struct reply *r = rq(ACC_DOC_CREATE, &cc,
				     "{\"class\":\"G\",\"object\":{\"i\":%d,"
				     "\"pad\":\"%s\"}}",
				     i, pad);
		cr_assert_eq(r->status, 201, "%d: %s", i,
			     jstr(r->body, "error"));
		th_clear();
	}
	free(pad);
	cr_assert_geq(stat_of("map_grows"), 2);
	cr_assert_gt(stat_of("map_size"), 4 << 20);
	struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
			     "{\"class\":\"G\",\"count\":1,\"limit\":0}");
	cr_assert_eq(jint(r->body, "count"), 80);
}

Test(docs, restart_finds_every_acknowledged_write)
{
	th_start();
	fill("R", 150, 0);
	char *uid;
	signup("eve", "eve@example.com", &uid);
	struct reply *r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
			     "{\"class\":\"R\",\"indexes\":{\"s\":{\"score\":"
			     "1}}}");
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_QUERY, &MASTER,
	       "{\"class\":\"R\",\"keys\":\"score\",\"limit\":1000}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 150);
	json_t *before = json_deep_copy(json_object_get(r->body, "results"));
	th_stop();

	th_start();
	size_t i;
	json_t *o;
	json_array_foreach(before, i, o)
	{
		r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"R\",\"id\":\"%s\"}",
		       jstr(o, "objectId"));
		cr_assert_eq(r->status, 200);
		cr_assert_eq(jint(r->body, "score"), jint(o, "score"));
		if (i % 32 == 0)
			th_clear();
	}
	json_decref(before);
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"eve\",\"password\":\"pw-eve\"}");
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(jstr(r->body, "objectId"), uid);
	/* the index, resumed if the first run did not finish it, serves
	 * after the restart */
	r = rq(ACC_DOC_SCHEMA_GET, &MASTER, "{\"class\":\"R\"}");
	cr_assert_not_null(json_object_get(json_object_get(r->body, "indexes"),
					   "s"));
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"R\",\"where\":{\"score\":42}}");
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	/* DROP_APP: everything of the app goes */
	r = rq(ACC_DOC_DROP_APP, &PUBLIC, "{}");
	cr_assert_eq(jcode(r), 119);
	r = rq(ACC_DOC_DROP_APP, &MASTER, "{}");
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_QUERY, &MASTER, "{\"class\":\"R\"}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"eve\",\"password\":\"pw-eve\"}");
	cr_assert_eq(jcode(r), 101);
	r = rq(ACC_DOC_SCHEMA_GET, &MASTER, "{}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
}

Test(docs, sessions_expire)
{
	T.cfg.session_ttl_ms = 1;
	th_start();
	char *uid;
	char *tok = signup("old", "old@example.com", &uid);
	usleep(5000); /* the session's 1 ms of life has passed */
	struct caller s = {.session = tok};
	struct reply *r = rq(ACC_DOC_ME, &s, "{}");
	cr_assert_eq(r->status, 400);
	cr_assert_eq(jcode(r), 209);
	r = rq(ACC_DOC_GET, &s, "{\"class\":\"_User\",\"id\":\"%s\"}", uid);
	cr_assert_eq(jcode(r), 209, "an expired token fails every request");
}

Test(docs, hashes_and_writes_past_their_bounds_are_refused)
{
	T.cfg.hash_max = 1;
	T.cfg.pending_max = 2;
	th_start();
	struct buf b[3];
	for (int i = 0; i < 3; i++) {
		b[i] = (struct buf)BUF_INIT;
		char json[256];
		snprintf(json, sizeof(json),
			 "{\"class\":\"_User\",\"object\":{\"username\":"
			 "\"u%d\",\"password\":\"p\"}}",
			 i);
		th_encode(&b[i], "app1", ACC_DOC_CREATE, &PUBLIC, json);
	}
	uint32_t want = T.nr + 3;
	th_send_raw(MSG_ACC_REQUEST, b, 3); /* one turn: one hash at a time */
	th_wait(want);
	int ok = 0, busy = 0;
	for (uint32_t j = want - 3; j < want; j++) {
		ok += T.r[j].status == 201;
		busy += T.r[j].status == 503 && jcode(&T.r[j]) == 155;
	}
#ifdef TEST_DOCS_PG
	/* their reads first (restartable): the hashes start as the reads
	 * arrive, one at a time, the others refused while one runs */
	cr_assert_geq(ok, 1);
	cr_assert_eq(ok + busy, 3);
	int busy_hash = busy;
#else
	cr_assert_eq(ok, 1);
	cr_assert_eq(busy, 2);
#endif
	th_clear();
	struct caller cc = {.create = true};
	for (int i = 0; i < 3; i++) {
		b[i].len = 0;
		th_encode(&b[i], "app1", ACC_DOC_CREATE, &cc,
			  "{\"class\":\"W\",\"object\":{\"a\":1}}");
	}
	want = T.nr + 3;
	th_send_raw(MSG_ACC_REQUEST, b, 3); /* the third finds two queued */
	th_wait(want);
	ok = busy = 0;
	for (uint32_t j = want - 3; j < want; j++) {
		ok += T.r[j].status == 201;
		busy += T.r[j].status == 503;
	}
	for (int i = 0; i < 3; i++)
		buf_destroy(&b[i]);
#ifdef TEST_DOCS_PG
	/* restartable reads: the three run again as their reads arrive,
	 * not in one turn; the third meets two queued only if the first
	 * two are not durable yet.  Never more than two queued at once. */
	cr_assert_geq(ok, 2);
	cr_assert_eq(ok + busy, 3);
	cr_assert_eq(stat_of("refused_busy"),
		     (uint64_t)busy_hash + (uint64_t)busy);
#else
	cr_assert_eq(ok, 2);
	cr_assert_eq(busy, 1);
	cr_assert_eq(stat_of("refused_busy"), 3);
#endif
}

/* ------------------------------------------------------------ caches */

/* Sends @a n requests in ONE turn (the later ones meet the earlier ones'
 * writes still queued: the overlay) and waits for every reply; replies
 * come in answer order (reads at once, writes once durable). */
static void
pipe_rq(uint32_t n, const int *ops, const struct caller *const *cs,
	const char *const *jsons)
{
	struct buf b[8];
	cr_assert_leq(n, 8);
	for (uint32_t i = 0; i < n; i++) {
		b[i] = (struct buf)BUF_INIT;
		th_encode(&b[i], "app1", ops[i], cs[i], jsons[i]);
	}
	uint32_t want = T.nr + n;
	th_send_raw(MSG_ACC_REQUEST, b, n);
	for (uint32_t i = 0; i < n; i++)
		buf_destroy(&b[i]);
	th_wait(want);
}

/* The one reply of the last @a n with HTTP status @a st (and, if
 * @a code, that Parse code); fails unless exactly one. */
static struct reply *
reply_with(uint32_t n, int st, int code)
{
	struct reply *found = NULL;
	for (uint32_t i = T.nr - n; i < T.nr; i++)
		if (T.r[i].status == st && (!code || jcode(&T.r[i]) == code)) {
			cr_assert_null(found, "two replies %d %d", st, code);
			found = &T.r[i];
		}
	cr_assert_not_null(found, "no reply %d %d among the last %u", st,
			   code, n);
	return found;
}

Test(docs, cache_session_refused_at_once_after_logout_revocation_deletes)
{
	PG_NO_CACHE();
	th_start();
	char *uid;
	char *tok1 = signup("carl", "carl@example.com", &uid);
	struct caller s1 = {.session = tok1, .create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &s1,
			     "{\"class\":\"Item\",\"object\":{\"n\":1,\"ACL\":{"
			     "\"%s\":{\"read\":true}}}}",
			     uid);
	cr_assert_eq(r->status, 201);
	char *iid = dupstr(jstr(r->body, "objectId"));
	char get[128];
	snprintf(get, sizeof(get), "{\"class\":\"Item\",\"id\":\"%s\"}", iid);
	r = rq(ACC_DOC_GET, &s1, "%s", get);
	cr_assert_eq(r->status, 200);
	uint64_t hits = stat_of("cache_hits"),
		 ohits = stat_of("obj_cache_hits");
	r = rq(ACC_DOC_GET, &s1, "%s", get);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(jint(r->body, "n"), 1);
	cr_assert_geq(stat_of("cache_hits"), hits + 2,
		      "the session and the schema came from the cache");
	cr_assert_eq(stat_of("obj_cache_hits"), ohits + 1,
		     "the object came from the cache");
	cr_assert_eq(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->status, 404,
		     "the ACL still holds on a cached object");

	/* a password change through session 1 revokes session 2 at once */
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"carl\",\"password\":\"pw-carl\"}");
	cr_assert_eq(r->status, 200);
	struct caller s2 = {.session = dupstr(jstr(r->body, "sessionToken"))};
	cr_assert_eq(rq(ACC_DOC_GET, &s2, "%s", get)->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &s2, "%s", get)->status, 200);
	r = rq(ACC_DOC_UPDATE, &s1,
	       "{\"class\":\"_User\",\"id\":\"%s\",\"changes\":{\"password\":"
	       "\"pw2\"}}",
	       uid);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_GET, &s2, "%s", get);
	cr_assert_eq(jcode(r), 209, "the revoked session is refused at once");
	cr_assert_eq(rq(ACC_DOC_GET, &s1, "%s", get)->status, 200);

	/* logout: refused by a request in the same turn (the overlay) and
	 * by every one after (the cache dropped it) */
	const int ops[2] = {ACC_DOC_LOGOUT, ACC_DOC_GET};
	const struct caller *cs[2] = {&s1, &s1};
	const char *js[2] = {"{}", get};
	pipe_rq(2, ops, cs, js);
#ifdef TEST_DOCS_PG
	/* restartable reads: the GET may run before the logout is queued
	 * (both in flight at once: either answer is right) */
	for (uint32_t i = T.nr - 2; i < T.nr; i++)
		cr_assert(T.r[i].status == 200 ||
				  (T.r[i].status == 400 && jcode(&T.r[i]) == 209),
			  "%d", T.r[i].status);
#else
	reply_with(2, 200, 0);
	reply_with(2, 400, 209);
#endif
	r = rq(ACC_DOC_GET, &s1, "%s", get);
	cr_assert_eq(jcode(r), 209, "logged out, refused at once");

	/* a _Session deleted by the master key */
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"carl\",\"password\":\"pw2\"}");
	struct caller s3 = {.session = dupstr(jstr(r->body, "sessionToken"))};
	cr_assert_eq(rq(ACC_DOC_GET, &s3, "%s", get)->status, 200);
	r = rq(ACC_DOC_QUERY, &MASTER, "{\"class\":\"_Session\"}");
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 1, "only session 3 is left");
	char *sid = dupstr(jstr(json_array_get(res, 0), "objectId"));
	r = rq(ACC_DOC_DELETE, &MASTER,
	       "{\"class\":\"_Session\",\"id\":\"%s\"}", sid);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(jcode(rq(ACC_DOC_GET, &s3, "%s", get)), 209);

	/* the user deleted: its sessions with it */
	r = rq(ACC_DOC_LOGIN, &PUBLIC,
	       "{\"username\":\"carl\",\"password\":\"pw2\"}");
	struct caller s4 = {.session = dupstr(jstr(r->body, "sessionToken"))};
	cr_assert_eq(rq(ACC_DOC_GET, &s4, "%s", get)->status, 200);
	r = rq(ACC_DOC_DELETE, &s4, "{\"class\":\"_User\",\"id\":\"%s\"}", uid);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(jcode(rq(ACC_DOC_GET, &s4, "%s", get)), 209);
}

Test(docs, cache_schema_changes_applied_at_once)
{
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"Item\",\"object\":{\"n\":1,"
			     "\"secret\":\"s\"}}");
	cr_assert_eq(r->status, 201);
	char *iid = dupstr(jstr(r->body, "objectId"));
	char get[128];
	snprintf(get, sizeof(get), "{\"class\":\"Item\",\"id\":\"%s\"}", iid);
	for (int i = 0; i < 2; i++) {
		r = rq(ACC_DOC_GET, &PUBLIC, "%s", get);
		cr_assert_eq(r->status, 200);
		cr_assert_str_eq(jstr(r->body, "secret"), "s");
	}
	/* SCHEMA_PUT: a CLP refusing get, applied at once */
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Item\",\"classLevelPermissions\":{\"get\":{},"
	       "\"find\":{\"*\":true}}}");
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_GET, &PUBLIC, "%s", get);
	cr_assert_eq(jcode(r), 119, "the new CLP, not the cached schema");
	/* in one turn with the change: the queued schema applies */
	const int ops[2] = {ACC_DOC_SCHEMA_PUT, ACC_DOC_GET};
	const struct caller *cs[2] = {&MASTER, &PUBLIC};
	const char *js[2] = {
		"{\"class\":\"Item\",\"classLevelPermissions\":{\"get\":{"
		"\"*\":true},\"protectedFields\":{\"*\":[\"secret\"]}}}",
		get};
	pipe_rq(2, ops, cs, js);
#ifdef TEST_DOCS_PG
	/* restartable reads: the GET may run before the change is queued
	 * (both in flight at once): refused by the old CLP, or allowed and
	 * protected by the new one -- never the secret */
	r = jstr(T.r[T.nr - 2].body, "className") ? &T.r[T.nr - 1]
						   : &T.r[T.nr - 2];
	cr_assert(jcode(r) == 119 || r->status == 200, "%d", r->status);
	cr_assert_null(json_object_get(r->body, "secret"), "and protected");
#else
	r = &T.r[T.nr - 2];
	cr_assert_null(jstr(r->body, "className"), "the GET came first");
	cr_assert_eq(r->status, 200, "get allowed again, in the same turn");
	cr_assert_null(json_object_get(r->body, "secret"), "and protected");
	cr_assert_eq(T.r[T.nr - 1].status, 200);
#endif
	r = rq(ACC_DOC_GET, &PUBLIC, "%s", get);
	cr_assert_eq(r->status, 200);
	cr_assert_null(json_object_get(r->body, "secret"),
		       "protected now: the stored text is not answered as is");
	cr_assert_eq(jint(r->body, "n"), 1);
	r = rq(ACC_DOC_GET, &MASTER, "%s", get);
	cr_assert_str_eq(jstr(r->body, "secret"), "s", "the master sees it");

	/* inference: a field added by a write is checked on the next one,
	 * in the same turn (overlay) and after (cache dropped) */
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"Item\",\"object\":{\"b\":1}}");
	cr_assert_eq(r->status, 201);
	r = rq(ACC_DOC_CREATE, &PUBLIC,
	       "{\"class\":\"Item\",\"object\":{\"b\":\"text\"}}");
	cr_assert_eq(jcode(r), 111, "b is a Number now");
	const int ops2[2] = {ACC_DOC_CREATE, ACC_DOC_CREATE};
	const struct caller *cs2[2] = {&PUBLIC, &PUBLIC};
	const char *js2[2] = {"{\"class\":\"Item\",\"object\":{\"c\":true}}",
			      "{\"class\":\"Item\",\"object\":{\"c\":2}}"};
	pipe_rq(2, ops2, cs2, js2);
	reply_with(2, 201, 0);
	reply_with(2, 400, 111);

	/* SCHEMA_DELETE: the class is gone for a caller who may not make
	 * classes */
	r = rq(ACC_DOC_CREATE, &cc, "{\"class\":\"Tmp\",\"object\":{\"a\":1}}");
	char *tid = dupstr(jstr(r->body, "objectId"));
	cr_assert_eq(rq(ACC_DOC_CREATE, &PUBLIC,
			"{\"class\":\"Tmp\",\"object\":{\"a\":2}}")
			     ->status,
		     201, "the class exists (and its schema is cached)");
	r = rq(ACC_DOC_QUERY, &MASTER, "{\"class\":\"Tmp\"}");
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 2);
	char *tid2 = dupstr(jstr(json_array_get(res, 0), "objectId"));
	if (strcmp(tid2, tid) == 0)
		tid2 = dupstr(jstr(json_array_get(res, 1), "objectId"));
	rq(ACC_DOC_DELETE, &MASTER, "{\"class\":\"Tmp\",\"id\":\"%s\"}", tid);
	rq(ACC_DOC_DELETE, &MASTER, "{\"class\":\"Tmp\",\"id\":\"%s\"}", tid2);
	r = rq(ACC_DOC_SCHEMA_DELETE, &MASTER, "{\"class\":\"Tmp\"}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_CREATE, &PUBLIC, "{\"class\":\"Tmp\",\"object\":{\"a\":3}}");
	cr_assert_eq(jcode(r), 119, "no class, no cached schema");
	/* an absent schema is cached too, and dropped when made */
	r = rq(ACC_DOC_CREATE, &cc, "{\"class\":\"Tmp\",\"object\":{\"a\":4}}");
	cr_assert_eq(r->status, 201);
	r = rq(ACC_DOC_CREATE, &PUBLIC, "{\"class\":\"Tmp\",\"object\":{\"a\":5}}");
	cr_assert_eq(r->status, 201, "the class exists again");
}

Test(docs, cache_objects_follow_updates_acl_changes_and_deletes)
{
	th_start();
	char *uid;
	char *tok = signup("dora", "dora@example.com", &uid);
	struct caller su = {.session = tok};
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"Item\",\"object\":{\"n\":1,"
			     "\"m\":\"x\"}}");
	char *iid = dupstr(jstr(r->body, "objectId"));
	char get[128], upd[256];
	snprintf(get, sizeof(get), "{\"class\":\"Item\",\"id\":\"%s\"}", iid);
	cr_assert_eq(jint(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->body, "n"), 1);
	cr_assert_eq(jint(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->body, "n"), 1);
	/* an update and a GET in one turn: the GET sees the queued value */
	snprintf(upd, sizeof(upd),
		 "{\"class\":\"Item\",\"id\":\"%s\",\"changes\":{\"n\":2}}",
		 iid);
	const int ops[2] = {ACC_DOC_UPDATE, ACC_DOC_GET};
	const struct caller *cs[2] = {&PUBLIC, &PUBLIC};
	const char *js[2] = {upd, get};
	pipe_rq(2, ops, cs, js);
#ifdef TEST_DOCS_PG
	/* restartable reads: two requests in flight at once are answered as
	 * their reads arrive, so the GET may run before the update is
	 * queued (both were in flight: either value is right); every GET
	 * that arrives after the update's answer sees it */
	const json_t *g0 = T.r[T.nr - 2].body, *g1 = T.r[T.nr - 1].body;
	json_int_t seen = jint(json_object_get(g0, "n") ? g0 : g1, "n");
	cr_assert(seen == 1 || seen == 2, "the GET saw %lld", (long long)seen);
#else
	cr_assert_eq(jint(T.r[T.nr - 2].body, "n"), 2, "the GET came first");
#endif
	for (int i = 0; i < 2; i++)
		cr_assert_eq(jint(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->body, "n"),
			     2, "and every GET after");
	r = rq(ACC_DOC_GET, &PUBLIC,
	       "{\"class\":\"Item\",\"id\":\"%s\",\"keys\":\"m\"}", iid);
	cr_assert_str_eq(jstr(r->body, "m"), "x");
	cr_assert_null(json_object_get(r->body, "n"), "keys on a cached one");
	cr_assert_eq(jint(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->body, "n"), 2,
		     "the projection did not change the cached object");
	/* the ACL narrowed: refused at once */
	r = rq(ACC_DOC_UPDATE, &PUBLIC,
	       "{\"class\":\"Item\",\"id\":\"%s\",\"changes\":{\"ACL\":{"
	       "\"%s\":{\"read\":true,\"write\":true}}}}",
	       iid, uid);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &PUBLIC, "%s", get)->status, 404);
	cr_assert_eq(rq(ACC_DOC_GET, &su, "%s", get)->status, 200);
	/* deleted: gone at once */
	r = rq(ACC_DOC_DELETE, &su, "%s", get);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &su, "%s", get)->status, 404);
	cr_assert_eq(rq(ACC_DOC_GET, &MASTER, "%s", get)->status, 404);
	/* a user's own record: internal fields never answered, email only
	 * to its owner, whether cached or not */
	snprintf(get, sizeof(get), "{\"class\":\"_User\",\"id\":\"%s\"}", uid);
	for (int i = 0; i < 2; i++) {
		r = rq(ACC_DOC_GET, &su, "%s", get);
		cr_assert_null(json_object_get(r->body, "_hashed_password"));
		cr_assert_str_eq(jstr(r->body, "email"), "dora@example.com");
		r = rq(ACC_DOC_GET, &PUBLIC, "%s", get);
		cr_assert_null(json_object_get(r->body, "_hashed_password"));
		cr_assert_null(json_object_get(r->body, "email"));
	}
}

Test(docs, cache_drop_app_leaves_nothing_cached)
{
	PG_NO_CACHE();
	th_start();
	char *uid;
	char *tok = signup("erin", "erin@example.com", &uid);
	struct caller su = {.session = tok, .create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &su,
			     "{\"class\":\"Item\",\"object\":{\"n\":1}}");
	char *iid = dupstr(jstr(r->body, "objectId"));
	char get[128];
	snprintf(get, sizeof(get), "{\"class\":\"Item\",\"id\":\"%s\"}", iid);
	cr_assert_eq(rq(ACC_DOC_GET, &su, "%s", get)->status, 200);
	cr_assert_gt(stat_of("cache_entries"), 0);
	cr_assert_gt(stat_of("obj_cache_entries"), 0);
	/* a GET in the drop's turn may still read (and cache) what the
	 * store holds until the drop is durable; the drop's completion
	 * drops it again */
	const int ops[2] = {ACC_DOC_DROP_APP, ACC_DOC_GET};
	const struct caller *cs[2] = {&MASTER, &su};
	const char *js[2] = {"{}", get};
	pipe_rq(2, ops, cs, js);
	cr_log_info("the GET in the drop's turn: %d",
		    T.r[T.nr - 2].status);
	cr_assert_eq(stat_of("cache_entries"), 0, "no schema nor session");
	cr_assert_eq(stat_of("obj_cache_entries"), 0, "no object");
	cr_assert_eq(jcode(rq(ACC_DOC_GET, &su, "%s", get)), 209);
	cr_assert_eq(rq(ACC_DOC_GET, &MASTER, "%s", get)->status, 404);
	r = rq(ACC_DOC_CREATE, &PUBLIC, "{\"class\":\"Item\",\"object\":{}}");
	cr_assert_eq(jcode(r), 119, "the class went with the app");
}

Test(docs, cache_bounded_in_entries_and_bytes)
{
	PG_NO_CACHE();
	T.cfg.cache_entries = 3;
	T.cfg.obj_cache_entries = 2;
	T.cfg.obj_cache_bytes = 8192;
	th_start();
	struct caller cc = {.create = true};
	char ids[6][16];
	for (int i = 0; i < 6; i++) {
		struct reply *r = rq(ACC_DOC_CREATE, &cc,
				     "{\"class\":\"K%d\",\"object\":{\"i\":%d}}",
				     i, i);
		cr_assert_eq(r->status, 201);
		snprintf(ids[i], sizeof(ids[i]), "%s",
			 jstr(r->body, "objectId"));
	}
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 6; i++) {
			struct reply *r = rq(ACC_DOC_GET, &PUBLIC,
					     "{\"class\":\"K%d\",\"id\":\"%s\"}",
					     i, ids[i]);
			cr_assert_eq(r->status, 200);
			cr_assert_eq(jint(r->body, "i"), i);
		}
	cr_assert_leq(stat_of("cache_entries"), 3);
	cr_assert_leq(stat_of("obj_cache_entries"), 2);
	cr_assert_gt(stat_of("cache_evictions"), 0);
	cr_assert_gt(stat_of("obj_cache_evictions"), 0);
	cr_assert_leq(stat_of("obj_cache_bytes"), 8192);
	/* an object bigger than the whole budget: answered, not cached */
	char big[4096];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"K0\",\"object\":{\"s\":\"%s\"}}",
			     big);
	cr_assert_eq(r->status, 201);
	char *bid = dupstr(jstr(r->body, "objectId"));
	for (int i = 0; i < 2; i++) {
		r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"K0\",\"id\":\"%s\"}",
		       bid);
		cr_assert_eq(r->status, 200);
		cr_assert_eq(strlen(jstr(r->body, "s")), sizeof(big) - 1);
	}
	cr_assert_leq(stat_of("obj_cache_bytes"), 8192);
}

Test(docs, cache_off_everything_still_right)
{
	T.cfg.cache_entries = 0;
	T.cfg.obj_cache_entries = 0;
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"Item\",\"object\":{\"n\":1}}");
	char *iid = dupstr(jstr(r->body, "objectId"));
	for (int i = 0; i < 2; i++)
		cr_assert_eq(jint(rq(ACC_DOC_GET, &PUBLIC,
				     "{\"class\":\"Item\",\"id\":\"%s\"}", iid)
					  ->body,
				  "n"),
			     1);
	cr_assert_eq(stat_of("cache_entries"), 0);
	cr_assert_eq(stat_of("obj_cache_entries"), 0);
	cr_assert_eq(stat_of("cache_hits"), 0);
}

/* The cache module alone: LRU order, both bounds, prefix drops. */
Test(docs_cache, lru_bounds_and_prefix_drops)
{
	struct docs_cache c;
	docs_cache_init(&c, 3, 1 << 20);
	for (int i = 0; i < 3; i++) {
		char k[4] = {'a', 0, 'k', (char)('0' + i)};
		cr_assert_not_null(docs_cache_put(&c, 2, k, 4, json_integer(i),
						  "1", 1, true));
	}
	/* touch k0: k1 is now the least recent, evicted by k3 */
	cr_assert_not_null(docs_cache_get(&c, 2, "a\0k0", 4));
	cr_assert_null(docs_cache_get(&c, 1, "a\0k0", 4), "tables apart");
	docs_cache_put(&c, 2, "b\0k3", 4, json_integer(3), "3", 1, false);
	cr_assert_null(docs_cache_get(&c, 2, "a\0k1", 4));
	const struct docs_cache_ent *e = docs_cache_get(&c, 2, "a\0k0", 4);
	cr_assert_not_null(e);
	cr_assert_eq(json_integer_value(e->val), 0);
	cr_assert_str_eq(json_string_value(e->raw), "1");
	cr_assert_null(docs_cache_get(&c, 2, "b\0k3", 4)->raw);
	/* replace keeps one entry */
	docs_cache_put(&c, 2, "a\0k0", 4, json_integer(7), "7", 1, false);
	cr_assert_eq(json_integer_value(docs_cache_get(&c, 2, "a\0k0", 4)->val),
		     7);
	cr_assert_eq(docs_cache_stats(&c).entries, 3);
	/* an absent record is an entry with no value */
	docs_cache_del(&c, 2, "a\0k2", 4);
	cr_assert_not_null(docs_cache_put(&c, 2, "a\0zz", 4, NULL, NULL, 0,
					  false));
	e = docs_cache_get(&c, 2, "a\0zz", 4);
	cr_assert_not_null(e);
	cr_assert_null(e->val);
	/* prefix: "a\0" drops k0 and zz, not b's */
	docs_cache_del_prefix(&c, 2, "a\0", 2);
	cr_assert_null(docs_cache_get(&c, 2, "a\0k0", 4));
	cr_assert_null(docs_cache_get(&c, 2, "a\0zz", 4));
	cr_assert_not_null(docs_cache_get(&c, 2, "b\0k3", 4));
	cr_assert_eq(docs_cache_stats(&c).entries, 1);
	/* a raw reference outlives its entry */
	docs_cache_put(&c, 2, "r", 1, json_object(), "{}", 2, true);
	json_t *raw = json_incref(docs_cache_get(&c, 2, "r", 1)->raw);
	docs_cache_clear(&c);
	cr_assert_str_eq(json_string_value(raw), "{}");
	json_decref(raw);
	cr_assert_eq(docs_cache_stats(&c).entries, 0);
	cr_assert_eq(docs_cache_stats(&c).bytes, 0);
	docs_cache_destroy(&c);

	/* the byte bound: each entry costs ENTRY_COST + key + its tree */
	json_t *probe = json_string("0123456789");
	size_t one = DOCS_CACHE_ENTRY_COST + 1 + docs_cache_tree_cost(probe);
	json_decref(probe);
	docs_cache_init(&c, 1000, 3 * one);
	for (int i = 0; i < 10; i++) {
		char k = (char)('a' + i);
		docs_cache_put(&c, 0, &k, 1, json_string("0123456789"), NULL, 0,
			       false);
		cr_assert_leq(docs_cache_stats(&c).bytes, 3 * one);
	}
	cr_assert_eq(docs_cache_stats(&c).entries, 3);
	cr_assert_eq(docs_cache_stats(&c).evictions, 7);
	cr_assert_not_null(docs_cache_get(&c, 0, "j", 1), "the latest stay");
	cr_assert_null(docs_cache_get(&c, 0, "a", 1));
	/* bigger than the whole budget: not cached, nothing evicted */
	char huge[4096];
	memset(huge, 'x', sizeof(huge));
	cr_assert_null(docs_cache_put(&c, 0, "z", 1,
				      json_stringn(huge, sizeof(huge)), NULL, 0,
				      false));
	cr_assert_eq(docs_cache_stats(&c).entries, 3);
	cr_assert_eq(docs_cache_stats(&c).too_big, 1);
	/* ... and a too-big new value of a cached key drops the old one */
	cr_assert_null(docs_cache_put(&c, 0, "j", 1,
				      json_stringn(huge, sizeof(huge)), NULL, 0,
				      false));
	cr_assert_null(docs_cache_get(&c, 0, "j", 1));
	/* a tree's cost counts its shape, not its text: 1000 empty objects
	 * (3 bytes of text each) cost far more than 3 bytes each */
	json_t *objs = json_array();
	for (int i = 0; i < 1000; i++)
		json_array_append_new(objs, json_object());
	cr_assert_geq(docs_cache_tree_cost(objs), 1000 * 300);
	json_decref(objs);
	cr_assert_eq(docs_cache_stats(&c).entries, 2);
	docs_cache_destroy(&c);
}

Test(docs, cache_stored_text_answered_is_the_object)
{
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(
		ACC_DOC_CREATE, &cc,
		"{\"class\":\"Item\",\"object\":{\"s\":\"\\u00e9\\\"\\\\/\\u0001"
		"\\ud83d\\ude00\",\"r\":0.1,\"big\":1e300,\"neg\":-2.5,"
		"\"a\":[1,{\"x\":null}],\"p\":{\"__type\":\"Pointer\","
		"\"className\":\"Z\",\"objectId\":\"abc\"}}}");
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	char *iid = dupstr(jstr(r->body, "objectId"));
	/* twice through the cache's stored text, once through the copy
	 * and dump of docs_visible (keys naming every field) */
	json_t *a = json_incref(
		rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"%s\"}", iid)
			->body);
	json_t *b = json_incref(
		rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"%s\"}", iid)
			->body);
	json_t *c = json_incref(
		rq(ACC_DOC_GET, &PUBLIC,
		   "{\"class\":\"Item\",\"id\":\"%s\",\"keys\":\"s,r,big,neg,a,"
		   "p\"}",
		   iid)
			->body);
	cr_assert(json_equal(a, b));
	cr_assert(json_equal(a, c), "the stored text is the object");
	cr_assert_str_eq(jstr(a, "s"), "\xc3\xa9\"\\/\x01\xf0\x9f\x98\x80");
	cr_assert_float_eq(json_real_value(json_object_get(a, "r")), 0.1, 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* The get's exact body {"class","id"} is read without the JSON parser
 * (docs_body_get_form): it must answer as every other spelling of the
 * same request does, and near misses must go to the parser. */
Test(docs, get_body_fast_form_same_as_parsed)
{
	th_start();
	struct caller cc = {.create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &cc,
			     "{\"class\":\"Item\",\"object\":{\"v\":7}}");
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	char *iid = dupstr(jstr(r->body, "objectId"));
	static const char *const same[] = {
		"{\"class\":\"Item\",\"id\":\"%s\"}",
		"{ \"class\":\"Item\",\"id\":\"%s\"}",
		"{\"id\":\"%s\",\"class\":\"Item\"}",
		"{\"class\":\"It\\u0065m\",\"id\":\"%s\"}",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		r = rq(ACC_DOC_GET, &PUBLIC, same[i], iid);
		cr_assert_eq(r->status, 200, "%s: %d", same[i], r->status);
		cr_assert_eq(jint(r->body, "v"), 7);
	}
	/* bad names, in the fast form and not: refused alike */
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"\",\"id\":\"%s\"}", iid);
	cr_assert_eq(r->status, 400);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"\"}");
	cr_assert_eq(r->status, 400);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"9x\",\"id\":\"%s\"}", iid);
	cr_assert_eq(r->status, 400);
	/* near misses: a duplicate key, trailing bytes, a truncation */
	r = rq(ACC_DOC_GET, &PUBLIC,
	       "{\"class\":\"Item\",\"id\":\"%s\",\"id\":\"%s\"}", iid, iid);
	cr_assert_eq(r->status, 400, "a duplicate key is refused");
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"%s\"}x", iid);
	cr_assert_eq(r->status, 400);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"%s\"", iid);
	cr_assert_eq(r->status, 400);
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Item\",\"id\":\"nope%s\"}", "");
	cr_assert_eq(r->status, 404);
}

Test(docs, cache_roles_follow_every_role_write)
{
	th_start();
	char *aid, *bid;
	char *atok = signup("fay", "fay@example.com", &aid);
	char *btok = signup("gil", "gil@example.com", &bid);
	struct caller sa = {.session = atok, .create = true},
		      sb = {.session = btok};
	struct reply *r = rq(ACC_DOC_CREATE, &MASTER,
			     "{\"class\":\"_Role\",\"object\":{\"name\":\"Ed\","
			     "\"ACL\":{\"*\":{\"read\":true}},\"users\":[]}}");
	cr_assert_eq(r->status, 201);
	char *ed = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_CREATE, &sa,
	       "{\"class\":\"Note\",\"object\":{\"t\":\"e\",\"ACL\":{"
	       "\"role:Ed\":{\"read\":true}}}}");
	cr_assert_eq(r->status, 201);
	char get[128];
	snprintf(get, sizeof(get), "{\"class\":\"Note\",\"id\":\"%s\"}",
		 jstr(r->body, "objectId"));
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 404);
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 404,
		     "gil holds no role (the roles now cached)");
	/* gil joins Ed: granted at once */
	r = rq(ACC_DOC_UPDATE, &MASTER,
	       "{\"class\":\"_Role\",\"id\":\"%s\",\"changes\":{\"users\":{"
	       "\"__op\":\"AddRelation\",\"objects\":[\"%s\"]}}}",
	       ed, bid);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 200);
	/* ... and leaves it: refused at once */
	r = rq(ACC_DOC_UPDATE, &MASTER,
	       "{\"class\":\"_Role\",\"id\":\"%s\",\"changes\":{\"users\":{"
	       "\"__op\":\"RemoveRelation\",\"objects\":[\"%s\"]}}}",
	       ed, bid);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 404);
	/* a new role inheriting Ed, holding gil: granted at once */
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Boss\","
	       "\"ACL\":{\"*\":{\"read\":true}},\"users\":[\"%s\"]}}",
	       bid);
	char *boss = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_UPDATE, &MASTER,
	       "{\"class\":\"_Role\",\"id\":\"%s\",\"changes\":{\"roles\":{"
	       "\"__op\":\"AddRelation\",\"objects\":[{\"__type\":\"Pointer\","
	       "\"className\":\"_Role\",\"objectId\":\"%s\"}]}}}",
	       ed, boss);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 200,
		     "Boss members inherit Ed");
	/* the inheriting role deleted: refused at once */
	r = rq(ACC_DOC_DELETE, &MASTER, "{\"class\":\"_Role\",\"id\":\"%s\"}",
	       boss);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(rq(ACC_DOC_GET, &sb, "%s", get)->status, 404);
}

/* ------------------------------------------------- automatic indexes */

#include "accessory/autoindex.h"

Test(autoix, shapes_names_and_thresholds)
{
	struct autoix_key k;
	autoix_key_init(&k, "app", "C");
	cr_assert(autoix_key_eq(&k, "owner"));
	cr_assert(autoix_key_eq(&k, "kind"));
	cr_assert(autoix_key_eq(&k, "owner"), "a repeat is kept once");
	cr_assert(autoix_key_eq(&k, "zzz"), "past two: not in the shape");
	cr_assert(autoix_key_eq(&k, "a"), "sorted: a, kind");
	cr_assert_eq(k.neq, 2);
	cr_assert_str_eq(k.eq[0], "a");
	cr_assert_str_eq(k.eq[1], "kind");
	k.last = AUTOIX_SORT;
	k.desc = true;
	snprintf(k.last_field, sizeof(k.last_field), "score");
	char name[64], what[160];
	autoix_name(&k, name, sizeof(name));
	cr_assert_str_eq(name, "auto_a_kind_score_d");
	autoix_describe(&k, what, sizeof(what));
	cr_assert_str_eq(what, "eq a, kind; sort -score");
	k.acl = true;
	const char *f[4];
	bool d[4];
	cr_assert_eq(autoix_fields(&k, f, d), 4);
	cr_assert_str_eq(f[0], "_rperm");
	cr_assert(d[3]);
	autoix_name(&k, name, sizeof(name));
	cr_assert_str_eq(name, "auto_rperm_a_kind_score_d");

	struct autoix_params p;
	autoix_params_default(&p);
	p.waste_min = 1000;
	struct autoix_table t;
	autoix_table_init(&t, 2);
	struct autoix_key a;
	autoix_key_init(&a, "app", "C");
	autoix_key_eq(&a, "x");
	char why[160];
	struct autoix_shape *s = autoix_observe(&t, &a, 600, 1, 0, false, 0, &p);
	cr_assert_not(autoix_due(&p, s, why, sizeof(why)), "one query");
	s = autoix_observe(&t, &a, 600, 1, 0, false, 1, &p);
	s = autoix_observe(&t, &a, 600, 1, 0, false, 2, &p);
	cr_assert(autoix_due(&p, s, why, sizeof(why)), "three: waste 1797 "
						       ">= 2 x 600");
	cr_assert(strstr(why, "1800") != NULL, "%s", why);
	/* a window later the counters restart */
	s = autoix_observe(&t, &a, 600, 1, 0, false, 3 + p.window_ns, &p);
	cr_assert_eq(s->count, 1);
	cr_assert_not(autoix_due(&p, s, why, sizeof(why)));
	/* not selective: returns half of what it examines */
	struct autoix_key b;
	autoix_key_init(&b, "app", "C");
	autoix_key_eq(&b, "y");
	for (int i = 0; i < 5; i++)
		s = autoix_observe(&t, &b, 1000, 500, 0, false, 10, &p);
	cr_assert_not(autoix_due(&p, s, why, sizeof(why)), "1/2 selective");
	/* refusals build whatever the rest says */
	struct autoix_key c;
	autoix_key_init(&c, "app", "C");
	autoix_key_eq(&c, "z");
	for (int i = 0; i < 3; i++)
		s = autoix_observe(&t, &c, 101, 0, 0, true, 20, &p);
	cr_assert(autoix_due(&p, s, why, sizeof(why)));
	cr_assert(strstr(why, "refused 3 times") != NULL, "%s", why);
	cr_assert_eq(t.n, 2, "bounded");
	cr_assert_eq(t.evictions, 1, "the one that wasted least went");
	cr_assert_not_null(autoix_find(&t, &c));
	cr_assert_not_null(autoix_find(&t, &b), "b wasted 2500, a 599");
	cr_assert_null(autoix_find(&t, &a));
	autoix_table_destroy(&t);
}

/* ACC_DOC_INDEXES as @a c (the budget travels with every request, as the
 * gateway sends it). */
static json_t *
ix_list_as(const struct caller *c)
{
	struct reply *r = rq(ACC_DOC_INDEXES, c, "{}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	return json_incref(r->body);
}

static json_t *
ix_list(void)
{
	return ix_list_as(&MASTER);
}

/* The listed index @a name (borrowed from @a l), or NULL. */
static json_t *
ix_find(json_t *l, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(l, "indexes"), i, x)
	{
		if (strcmp(jstr(x, "name"), name) == 0)
			return x;
	}
	return NULL;
}

static json_t *
shape_find(json_t *l, const char *index)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(l, "shapes"), i, x)
	{
		if (strcmp(jstr(x, "index"), index) == 0)
			return x;
	}
	return NULL;
}

static size_t
nresults(const struct reply *r)
{
	return json_array_size(json_object_get(r->body, "results"));
}

Test(docs, auto_index_from_refused_queries_then_served)
{
	T.cfg.scan_max = 100;
	T.cfg.build_chunk = 50; /* several turns: writes land mid-build */
	th_start();
	fill("Auto", 400, 0);
	struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
			     "{\"class\":\"Auto\",\"limit\":1}");
	json_t *first = json_array_get(json_object_get(r->body, "results"), 0);
	const char *id0 = dupstr(jstr(first, "objectId"));
	int score0 = (int)jint(first, "score");
	for (int i = 0; i < 2; i++) {
		r = rq(ACC_DOC_QUERY, &PUBLIC,
		       "{\"class\":\"Auto\",\"where\":{\"score\":350}}");
		cr_assert_eq(jcode(r), 102);
		cr_assert(strstr(jstr(r->body, "error"), "add an index on "
							 "score") != NULL,
			  "%s", jstr(r->body, "error"));
	}
	json_t *l = ix_list();
	json_t *sh = shape_find(l, "auto_score");
	cr_assert_not_null(sh, "the shape is watched");
	cr_assert_eq(jint(sh, "refusals"), 2);
	cr_assert_str_eq(jstr(sh, "state"), "watching");
	cr_assert_null(ix_find(l, "auto_score"));
	json_decref(l);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":350}}");
	cr_assert_eq(jcode(r), 102, "still refused while it builds");
	cr_assert(strstr(jstr(r->body, "error"), "being built") != NULL, "%s",
		  jstr(r->body, "error"));
	th_clear();
	/* writes during the build are not lost */
	fill("Auto", 20, 1000);
	struct caller cc = {.create = true};
	r = rq(ACC_DOC_UPDATE, &cc,
	       "{\"class\":\"Auto\",\"id\":\"%s\",\"changes\":{\"score\":"
	       "3333}}",
	       id0);
	cr_assert_eq(r->status, 200);
	wait_builds(1);
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	uint64_t before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":350}}");
	cr_assert_eq(r->status, 200, "the refused query runs now: %s",
		     jstr(r->body, "error"));
	/* (the object updated above may have been the one with score 350:
	 * one in 400 runs) */
	size_t want350 = score0 == 350 ? 0 : 1;
	cr_assert_eq(nresults(r), want350);
	cr_assert_eq(stat_of("objects_scanned") - before, want350,
		     "one object examined, not the class");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":1010}}");
	cr_assert_eq(nresults(r), 1, "created during the build: indexed");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":3333}}");
	cr_assert_eq(nresults(r), 1, "updated during the build: moved");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":%d}}", score0);
	cr_assert_eq(nresults(r), 0, "its old entry is gone");
	l = ix_list();
	json_t *x = ix_find(l, "auto_score");
	cr_assert_not_null(x);
	cr_assert_str_eq(jstr(x, "kind"), "auto");
	cr_assert_str_eq(jstr(x, "state"), "ready");
	cr_assert_eq(jint(x, "entries"), 420, "every object, once: %lld",
		     (long long)jint(x, "entries"));
	cr_assert_gt(jint(x, "bytes"), 420 * 20);
	cr_assert_eq(jint(x, "hits"), 4);
	cr_assert(strstr(jstr(x, "reason"), "refused 3 times") != NULL, "%s",
		  jstr(x, "reason"));
	cr_assert_str_eq(jstr(x, "shape"), "eq score");
	cr_assert_gt(jint(x, "created"), 0);
	cr_assert_eq(jint(l, "auto_bytes"), jint(x, "bytes"));
	cr_assert_eq(jint(l, "budget"), (json_int_t)DOCS_INDEX_BUDGET);
	cr_assert_str_eq(jstr(shape_find(l, "auto_score"), "state"), "built");
	json_decref(l);
	r = rq(ACC_DOC_INDEXES, &PUBLIC, "{}");
	cr_assert_eq(r->status, 403, "master only");
	/* a restart keeps the index, its origin and its statistics */
	th_stop();
	th_start();
	l = ix_list();
	x = ix_find(l, "auto_score");
	cr_assert_not_null(x, "kept across a restart");
	cr_assert_str_eq(jstr(x, "kind"), "auto");
	cr_assert_eq(jint(x, "hits"), 4);
	cr_assert_eq(jint(x, "entries"), 420);
	cr_assert(strstr(jstr(x, "reason"), "refused") != NULL);
	json_decref(l);
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":351}}");
	cr_assert_eq(r->status, 200);
	cr_assert_eq(stat_of("objects_scanned") - before, 1);
	/* declaring the same fields makes the guess the operator's: the
	 * automatic one goes once the declared one is ready */
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Auto\",\"indexes\":{\"by_score\":{\"score\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	wait_builds(1);
	l = ix_list();
	cr_assert_null(ix_find(l, "auto_score"));
	x = ix_find(l, "by_score");
	cr_assert_str_eq(jstr(x, "kind"), "declared");
	cr_assert_eq(jint(x, "entries"), 420);
	cr_assert_eq(jint(l, "auto_bytes"), 0);
	json_decref(l);
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Auto\",\"where\":{\"score\":350}}");
	cr_assert_eq(nresults(r), 1);
}

Test(docs, auto_index_from_wasteful_accepted_queries)
{
	T.cfg.autoix.waste_min = 1000;
	th_start();
	fill("W", 600, 0);
	struct reply *r;
	uint64_t before = stat_of("objects_scanned");
	for (int i = 0; i < 3; i++) {
		r = rq(ACC_DOC_QUERY, &PUBLIC,
		       "{\"class\":\"W\",\"where\":{\"odd\":true,\"score\":"
		       "{\"$gte\":%d,\"$lt\":%d}}}",
		       100 * i, 100 * i + 10);
		cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
		cr_assert_eq(nresults(r), 5);
	}
	cr_assert_eq(stat_of("objects_scanned") - before, 1800,
		     "three scans of the class");
	wait_builds(1);
	json_t *l = ix_list();
	json_t *x = ix_find(l, "auto_odd_score");
	cr_assert_not_null(x, "eq odd, range score");
	cr_assert(strstr(jstr(x, "reason"), "waste") != NULL, "%s",
		  jstr(x, "reason"));
	json_decref(l);
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"W\",\"where\":{\"odd\":true,\"score\":{\"$gte\":"
	       "300,\"$lt\":310}}}");
	cr_assert_eq(nresults(r), 5);
	cr_assert_eq(stat_of("objects_scanned") - before, 5,
		     "only the matches are examined");
	/* a cheap shape (the first page) never gets one */
	for (int i = 0; i < 10; i++)
		rq(ACC_DOC_QUERY, &PUBLIC, "{\"class\":\"W\",\"limit\":10}");
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	/* nor a query returning most of what it examines */
	for (int i = 0; i < 10; i++)
		rq(ACC_DOC_QUERY, &PUBLIC,
		   "{\"class\":\"W\",\"where\":{\"name\":{\"$gte\":\"n0100\"}},"
		   "\"limit\":1000}");
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
}

Test(docs, auto_index_off_builds_nothing)
{
	T.cfg.scan_max = 100;
	T.cfg.auto_index = false;
	th_start();
	fill("Off", 200, 0);
	for (int i = 0; i < 6; i++) {
		struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
				     "{\"class\":\"Off\",\"where\":{\"score\":"
				     "%d}}",
				     i);
		cr_assert_eq(jcode(r), 102);
		cr_assert(strstr(jstr(r->body, "error"), "add an index") != NULL);
	}
	cr_assert_eq(stat_of("auto_indexes_built"), 0);
	json_t *l = ix_list();
	cr_assert_eq(json_array_size(json_object_get(l, "indexes")), 0);
	cr_assert_eq(json_array_size(json_object_get(l, "shapes")), 0);
	json_decref(l);
}

Test(docs, auto_index_budget_evicts_least_useful_never_declared)
{
	T.cfg.scan_max = 100;
	th_start();
	fill("B", 300, 0);
	struct reply *r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
			     "{\"class\":\"B\",\"indexes\":{\"by_odd\":{\"odd\":"
			     "1}}}");
	cr_assert_eq(r->status, 200);
	wait_builds(1);
	for (int i = 0; i < 3; i++)
		rq(ACC_DOC_QUERY, &PUBLIC,
		   "{\"class\":\"B\",\"where\":{\"score\":%d}}", i);
	wait_builds(2);
	/* auto_score serves five queries: it saves */
	for (int i = 0; i < 5; i++) {
		r = rq(ACC_DOC_QUERY, &PUBLIC,
		       "{\"class\":\"B\",\"where\":{\"score\":%d}}", i);
		cr_assert_eq(nresults(r), 1);
	}
	json_t *l = ix_list();
	json_t *x = ix_find(l, "auto_score");
	cr_assert_not_null(x);
	json_int_t bytes = jint(x, "bytes"), saved = jint(x, "saved");
	cr_assert_gt(saved, 500, "%lld", (long long)saved);
	json_decref(l);
	/* room for one automatic index and a half */
	struct caller tight = {.index_budget = (uint64_t)(bytes * 3 / 2)};
	struct caller tightm = tight;
	tightm.master = true;
	for (int i = 0; i < 3; i++) {
		r = rq(ACC_DOC_QUERY, &tight,
		       "{\"class\":\"B\",\"where\":{\"name\":\"n%04d\"}}", i);
		cr_assert_eq(jcode(r), 102);
	}
	l = ix_list_as(&tightm);
	cr_assert_eq(jint(l, "budget"), bytes * 3 / 2, "the caller's budget");
	cr_assert_null(ix_find(l, "auto_name"), "not built: it would save "
						"less than auto_score does");
	json_t *sh = shape_find(l, "auto_name");
	cr_assert_str_eq(jstr(sh, "state"), "not built");
	cr_assert(strstr(jstr(sh, "note"), "budget is full") != NULL, "%s",
		  jstr(sh, "note"));
	cr_assert_not_null(ix_find(l, "auto_score"));
	json_decref(l);
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	/* the name pattern goes on: it now wastes more than auto_score
	 * saved, which is dropped for it; the declared one stays */
	for (int i = 3; i < 20 && stat_of("auto_indexes_built") < 2; i++) {
		th_clear();
		r = rq(ACC_DOC_QUERY, &tight,
		       "{\"class\":\"B\",\"where\":{\"name\":\"n%04d\"}}", i);
	}
	cr_assert_eq(stat_of("auto_indexes_built"), 2);
	cr_assert_eq(stat_of("auto_indexes_dropped"), 1);
	wait_builds(3);
	l = ix_list_as(&tightm);
	cr_assert_null(ix_find(l, "auto_score"), "evicted");
	cr_assert_not_null(ix_find(l, "auto_name"));
	cr_assert_str_eq(jstr(ix_find(l, "by_odd"), "kind"), "declared");
	cr_assert_leq(jint(l, "auto_bytes"), bytes * 3 / 2);
	json_decref(l);
	uint64_t before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &tight,
	       "{\"class\":\"B\",\"where\":{\"name\":\"n0007\"}}");
	cr_assert_eq(nresults(r), 1);
	cr_assert_eq(stat_of("objects_scanned") - before, 1);
	r = rq(ACC_DOC_QUERY, &tight,
	       "{\"class\":\"B\",\"where\":{\"score\":7}}");
	cr_assert_eq(jcode(r), 102, "its index is gone");
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &tight,
	       "{\"class\":\"B\",\"where\":{\"odd\":true},\"limit\":5,"
	       "\"count\":1}");
	cr_assert_eq(jint(r->body, "count"), 150, "by_odd serves: %s",
		     jstr(r->body, "error"));
}

/* @a n private objects of the user @a tok (id @a uid) in @a cls. */
static void
fill_private(const char *cls, int n, const char *uid, const char *tok)
{
	struct caller cc = {.create = true, .session = tok};
	for (int at = 0; at < n;) {
		struct buf b[64];
		int k = 0;
		for (; k < 64 && at < n; k++, at++) {
			b[k] = (struct buf)BUF_INIT;
			char json[256];
			snprintf(json, sizeof(json),
				 "{\"class\":\"%s\",\"object\":{\"n\":%d,"
				 "\"done\":%s,\"ACL\":{\"%s\":{\"read\":true,"
				 "\"write\":true}}}}",
				 cls, at, at % 2 ? "true" : "false", uid);
			th_encode(&b[k], "app1", ACC_DOC_CREATE, &cc, json);
		}
		uint32_t want = T.nr + (uint32_t)k;
		th_send_raw(MSG_ACC_REQUEST, b, (uint32_t)k);
		for (int j = 0; j < k; j++)
			buf_destroy(&b[j]);
		th_wait(want);
		for (uint32_t j = want - (uint32_t)k; j < want; j++)
			cr_assert_eq(T.r[j].status, 201, "create: %s",
				     jstr(T.r[j].body, "error"));
		th_clear();
	}
}

Test(docs, acl_index_a_user_touches_only_its_rows)
{
	T.cfg.autoix.waste_min = 500;
	T.cfg.autoix.acl_ratio = 2;
	th_start();
	char *uid[4], *tok[4];
	for (int u = 0; u < 4; u++) {
		char name[16], mail[32];
		snprintf(name, sizeof(name), "u%d", u);
		snprintf(mail, sizeof(mail), "u%d@example.com", u);
		tok[u] = signup(name, mail, &uid[u]);
		fill_private("Note", 100, uid[u], tok[u]);
	}
	fill("Note", 10, 0); /* public ones */
	struct caller a = {.session = tok[0]}, b = {.session = tok[1]};
	uint64_t before = stat_of("objects_scanned");
	struct reply *r;
	for (int i = 0; i < 3; i++) {
		r = rq(ACC_DOC_QUERY, &a, "{\"class\":\"Note\",\"limit\":1000}");
		cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
		cr_assert_eq(nresults(r), 110, "its 100 and the 10 public");
	}
	cr_assert_eq(stat_of("objects_scanned") - before, 3 * 410,
		     "before: the whole class, filtered");
	wait_builds(1);
	json_t *l = ix_list();
	json_t *x = ix_find(l, "auto_rperm");
	cr_assert_not_null(x, "an ACL index was built");
	cr_assert_eq(jint(x, "entries"), 410, "one reader each");
	cr_assert(strstr(jstr(x, "reason"), "ACL filter rejected") != NULL,
		  "%s", jstr(x, "reason"));
	json_decref(l);
	before = stat_of("objects_scanned");
	uint64_t rs = stat_of("rperm_scans");
	r = rq(ACC_DOC_QUERY, &a, "{\"class\":\"Note\",\"limit\":1000}");
	cr_assert_eq(nresults(r), 110);
	cr_assert_eq(stat_of("objects_scanned") - before, 110,
		     "after: only what it may read");
	cr_assert_eq(stat_of("rperm_scans") - rs, 1);
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &b,
	       "{\"class\":\"Note\",\"where\":{\"done\":true},\"count\":1,"
	       "\"limit\":0}");
	cr_assert_eq(jint(r->body, "count"), 50, "the public ones have no done");
	cr_assert_eq(stat_of("objects_scanned") - before, 110);
	/* the master never uses it (master-only objects have no entry) */
	r = rq(ACC_DOC_QUERY, &MASTER,
	       "{\"class\":\"Note\",\"count\":1,\"limit\":0}");
	cr_assert_eq(jint(r->body, "count"), 410);
	/* sharing a row moves it into the other reader's entries */
	r = rq(ACC_DOC_QUERY, &a,
	       "{\"class\":\"Note\",\"where\":{\"n\":7,\"ACL\":{\"$exists\":"
	       "true}}}");
	cr_assert_eq(nresults(r), 1, "%s", jstr(r->body, "error"));
	const char *id =
		dupstr(jstr(json_array_get(json_object_get(r->body, "results"),
					   0),
			    "objectId"));
	r = rq(ACC_DOC_UPDATE, &a,
	       "{\"class\":\"Note\",\"id\":\"%s\",\"changes\":{\"ACL\":{\"%s\":"
	       "{\"read\":true,\"write\":true},\"%s\":{\"read\":true}}}}",
	       id, uid[0], uid[1]);
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_QUERY, &b, "{\"class\":\"Note\",\"limit\":1000}");
	cr_assert_eq(nresults(r), 111, "b reads the shared one too");
	r = rq(ACC_DOC_QUERY, &a, "{\"class\":\"Note\",\"limit\":1000}");
	cr_assert_eq(nresults(r), 110, "once for a, readable twice over");
	/* a declared compound ACL index narrows by the user's field too */
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Note\",\"indexes\":{\"mine_by_n\":{\"_rperm\":1,"
	       "\"n\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	wait_builds(2);
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &a,
	       "{\"class\":\"Note\",\"where\":{\"n\":{\"$gte\":20,\"$lt\":30}}}");
	cr_assert_eq(nresults(r), 10 + 0, "%s", jstr(r->body, "error"));
	cr_assert_eq(stat_of("objects_scanned") - before, 10,
		     "its ten, nothing else");
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"Note\",\"indexes\":{\"bad\":{\"n\":1,\"_rperm\":"
	       "1}}}");
	cr_assert_eq(jcode(r), 102, "_rperm leads or is absent");
	/* a role's readers: u2 holds Team, its row is found through the
	 * "role:Team" entries; u3 sees nothing of it */
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"_Role\",\"object\":{\"name\":\"Team\","
	       "\"ACL\":{\"*\":{\"read\":true}},\"users\":[\"%s\"]}}",
	       uid[2]);
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"Note\",\"object\":{\"n\":25,\"team\":true,"
	       "\"ACL\":{\"role:Team\":{\"read\":true}}}}");
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	struct caller c2 = {.session = tok[2]}, c3 = {.session = tok[3]};
	before = stat_of("objects_scanned");
	r = rq(ACC_DOC_QUERY, &c2,
	       "{\"class\":\"Note\",\"where\":{\"n\":{\"$gte\":20,\"$lt\":30}}}");
	cr_assert_eq(nresults(r), 11, "its ten and the team's one: %s",
		     jstr(r->body, "error"));
	cr_assert_eq(stat_of("objects_scanned") - before, 11);
	r = rq(ACC_DOC_QUERY, &c3,
	       "{\"class\":\"Note\",\"where\":{\"team\":true}}");
	cr_assert_eq(nresults(r), 0, "not a member");
	r = rq(ACC_DOC_QUERY, &c2,
	       "{\"class\":\"Note\",\"where\":{\"team\":true}}");
	cr_assert_eq(nresults(r), 1);
	/* an ACL wider than an _rperm index lists is filed under "*": taken,
	 * found by a reader it names, hidden from one it does not */
	char acl[8192];
	int at = snprintf(acl, sizeof(acl), "{");
	for (int i = 0; i < DOCS_RPERM_MAX + 1; i++)
		at += snprintf(acl + at, sizeof(acl) - (size_t)at,
			       "%s\"u%05d\":{\"read\":true}", i ? "," : "", i);
	snprintf(acl + at, sizeof(acl) - (size_t)at, ",\"%s\":{\"read\":true}}",
		 uid[2]);
	r = rq(ACC_DOC_CREATE, &MASTER,
	       "{\"class\":\"Note\",\"object\":{\"n\":777,\"ACL\":%s}}", acl);
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	r = rq(ACC_DOC_QUERY, &c2, "{\"class\":\"Note\",\"where\":{\"n\":777}}");
	cr_assert_eq(nresults(r), 1, "a reader the wide ACL names finds it");
	r = rq(ACC_DOC_QUERY, &c3, "{\"class\":\"Note\",\"where\":{\"n\":777}}");
	cr_assert_eq(nresults(r), 0, "one it does not name does not");
}

Test(docs, acl_index_build_of_wide_acls_stays_in_group_bounds)
{
	th_start();
	/* 80 objects readable by 60 users each: 4800 entries, more than one
	 * group holds, built in bounded chunks */
	char acl[4096];
	int at = snprintf(acl, sizeof(acl), "{");
	for (int i = 0; i < 60; i++)
		at += snprintf(acl + at, sizeof(acl) - (size_t)at,
			       "%s\"u%05d\":{\"read\":true}", i ? "," : "", i);
	snprintf(acl + at, sizeof(acl) - (size_t)at, "}");
	struct caller cc = {.create = true};
	for (int i = 0; i < 80; i++) {
		struct reply *r = rq(ACC_DOC_CREATE, &cc,
				     "{\"class\":\"Wide\",\"object\":{\"i\":%d,"
				     "\"ACL\":%s}}",
				     i, acl);
		cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
		if (i % 32 == 31)
			th_clear();
	}
	struct reply *r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
			     "{\"class\":\"Wide\",\"indexes\":{\"readers\":"
			     "{\"_rperm\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	wait_builds(1);
	json_t *l = ix_list();
	json_t *x = ix_find(l, "readers");
	cr_assert_not_null(x);
	cr_assert_str_eq(jstr(x, "state"), "ready");
	cr_assert_eq(jint(x, "entries"), 80 * 60);
	json_decref(l);
	cr_assert_eq(stat_of("store_errors"), 0);
}

/* the shapes' clock (docs_config.auto_clock_ns), driven by the test */
static uint64_t auto_ns;
static uint64_t
auto_clock(void *ctx)
{
	(void)ctx;
	return auto_ns;
}

Test(docs, auto_index_idle_for_two_windows_gives_way)
{
	T.cfg.scan_max = 100;
	T.cfg.auto_clock_ns = auto_clock;
	auto_ns = 1;
	th_start();
	fill("I", 300, 0);
	for (int i = 0; i < 3; i++)
		rq(ACC_DOC_QUERY, &PUBLIC,
		   "{\"class\":\"I\",\"where\":{\"score\":%d}}", i);
	wait_builds(1);
	for (int i = 0; i < 20; i++) /* busy: it saves */
		rq(ACC_DOC_QUERY, &PUBLIC,
		   "{\"class\":\"I\",\"where\":{\"score\":%d}}", i);
	th_clear();
	json_t *l = ix_list();
	json_int_t bytes = jint(ix_find(l, "auto_score"), "bytes");
	json_int_t recent = jint(ix_find(l, "auto_score"), "recent");
	cr_assert_gt(recent, 2000, "%lld", (long long)recent);
	json_decref(l);
	struct caller tight = {.index_budget = (uint64_t)(bytes * 3 / 2)};
	/* a new pattern, within the window: auto_score saves more */
	for (int i = 0; i < 3; i++)
		rq(ACC_DOC_QUERY, &tight,
		   "{\"class\":\"I\",\"where\":{\"name\":\"n%04d\"}}", i);
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	/* two windows later nobody used auto_score: the pattern, seen again,
	 * displaces it */
	auto_ns += 2 * T.cfg.autoix.window_ns + 1;
	for (int i = 0; i < 3; i++)
		rq(ACC_DOC_QUERY, &tight,
		   "{\"class\":\"I\",\"where\":{\"name\":\"n%04d\"}}", i);
	cr_assert_eq(stat_of("auto_indexes_built"), 2);
	cr_assert_eq(stat_of("auto_indexes_dropped"), 1);
	wait_builds(2);
	struct caller tightm = tight;
	tightm.master = true;
	l = ix_list_as(&tightm);
	cr_assert_null(ix_find(l, "auto_score"), "idle: evicted");
	cr_assert_not_null(ix_find(l, "auto_name"));
	json_decref(l);
}

Test(docs, auto_index_refused_by_the_budget_then_built_once_lifted)
{
	T.cfg.scan_max = 100;
	th_start();
	fill("L", 300, 0);
	struct caller tiny = {.index_budget = 1};
	for (int i = 0; i < 10; i++)
		rq(ACC_DOC_QUERY, &tiny,
		   "{\"class\":\"L\",\"where\":{\"score\":%d}}", i);
	cr_assert_eq(stat_of("auto_indexes_built"), 0);
	cr_assert_eq(stat_of("auto_indexes_refused"), 1, "said once");
	/* the budget lifted: the very next query of the shape builds it */
	struct caller roomy = {.index_budget = 1 << 20};
	struct reply *r = rq(ACC_DOC_QUERY, &roomy,
			     "{\"class\":\"L\",\"where\":{\"score\":3}}");
	cr_assert_eq(jcode(r), 102);
	cr_assert(strstr(jstr(r->body, "error"), "being built") != NULL, "%s",
		  jstr(r->body, "error"));
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	wait_builds(1);
	r = rq(ACC_DOC_QUERY, &roomy, "{\"class\":\"L\",\"where\":{\"score\":3}}");
	cr_assert_eq(nresults(r), 1);
}

/* (found in review) an object whose create is queued (not yet durable) when the
 * automatic index's first build chunk scans the store was written with
 * the old schema (no entry in the new index) and is not in the store the
 * build scans: it never gets an entry. */
Test(docs, an_index_build_sees_the_creates_queued_before_it)
{
	T.cfg.scan_max = 100;
	th_start();
	fill("Race", 400, 0);
	for (int i = 0; i < 2; i++) {
		struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
				     "{\"class\":\"Race\",\"where\":{\"score\":"
				     "350}}");
		cr_assert_eq(jcode(r), 102);
	}
	th_clear();
	/* one turn: a create, then the third refusal (the build starts) */
	struct caller cc = {.create = true};
	enum { NC = 200 };
	static struct buf b[NC + 1];
	for (int i = 0; i < NC; i++) {
		char json[128];
		b[i] = (struct buf)BUF_INIT;
		snprintf(json, sizeof(json),
			 "{\"class\":\"Race\",\"object\":{\"score\":%d}}",
			 100000 + i);
		th_encode(&b[i], "app1", ACC_DOC_CREATE, &cc, json);
	}
	b[NC] = (struct buf)BUF_INIT;
	th_encode(&b[NC], "app1", ACC_DOC_QUERY, &PUBLIC,
		  "{\"class\":\"Race\",\"where\":{\"score\":350}}");
	th_send_raw(MSG_ACC_REQUEST, b, NC + 1);
	for (int i = 0; i <= NC; i++)
		buf_destroy(&b[i]);
	th_wait(NC + 1);
	th_clear();
	wait_builds(1);
	cr_assert_eq(stat_of("auto_indexes_built"), 1);
	int missing = 0;
	for (int i = 0; i < NC; i++) {
		struct reply *r = rq(ACC_DOC_QUERY, &PUBLIC,
				     "{\"class\":\"Race\",\"where\":{\"score\":%d}}",
				     100000 + i);
		cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
		missing += nresults(r) != 1;
		th_clear();
	}
	json_t *l = ix_list();
	json_t *x = ix_find(l, "auto_score");
	cr_log_info("auto_score entries %lld (objects %d), missing %d",
		    (long long)jint(x, "entries"), 400 + NC, missing);
	json_decref(l);
	cr_assert_eq(missing, 0,
		     "objects created just before the build are found");
}

/* (found in review) objects stored before an _rperm index exists may have more
 * readers than DOCS_RPERM_MAX; the build keeps the first 64 and a later
 * reader's query through the index misses the object. */
Test(docs, an_rperm_index_keeps_objects_with_more_readers_than_it_lists)
{
	th_start();
	char *uid;
	char *tok = signup("wide65", "wide65@example.com", &uid);
	char acl[8192];
	int at = snprintf(acl, sizeof(acl), "{");
	for (int i = 0; i < DOCS_RPERM_MAX + 5; i++)
		at += snprintf(acl + at, sizeof(acl) - (size_t)at,
			       "%s\"!u%05d\":{\"read\":true}", i ? "," : "", i);
	snprintf(acl + at, sizeof(acl) - (size_t)at, ",\"%s\":{\"read\":true}}",
		 uid);
	struct reply *r = rq(ACC_DOC_CREATE, &MASTER,
			     "{\"class\":\"W\",\"object\":{\"kind\":1,\"ACL\":%s}}",
			     acl);
	cr_assert_eq(r->status, 201, "no _rperm index yet: accepted (%s)",
		     jstr(r->body, "error"));
	struct caller me = {.session = tok};
	r = rq(ACC_DOC_QUERY, &me, "{\"class\":\"W\",\"where\":{\"kind\":1}}");
	cr_assert_eq(nresults(r), 1, "readable before the index");
	r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
	       "{\"class\":\"W\",\"indexes\":{\"acl_kind\":{\"_rperm\":1,"
	       "\"kind\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	wait_builds(1);
	json_t *l = ix_list();
	cr_log_info("acl_kind entries %lld",
		    (long long)jint(ix_find(l, "acl_kind"), "entries"));
	json_decref(l);
	uint64_t rs = stat_of("rperm_scans");
	r = rq(ACC_DOC_QUERY, &me, "{\"class\":\"W\",\"where\":{\"kind\":1}}");
	cr_log_info("rperm_scans +%llu", (unsigned long long)(stat_of("rperm_scans") - rs));
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_expect_eq(nresults(r), 1,
		     "still readable through the _rperm index");
	r = rq(ACC_DOC_QUERY, &MASTER, "{\"class\":\"W\",\"where\":{\"kind\":1}}");
	const char *wid = dupstr(jstr(json_array_get(json_object_get(r->body,
					"results"), 0), "objectId"));
	r = rq(ACC_DOC_UPDATE, &MASTER,
	       "{\"class\":\"W\",\"id\":\"%s\",\"changes\":{\"other\":2}}", wid);
	cr_expect_eq(r->status, 200,
		     "an update of an unrelated field of the stored object: %d %s",
		     r->status, jstr(r->body, "error"));
}

/* (found in review) the size estimate of an automatic index comes from what the
 * refused scans saw (scan_max), not the class: the index is built, found
 * over the budget, dropped by docs_auto_enforce, and the next query of
 * the shape (its verdict back to "watching", not "refused") builds it
 * again -- a full-class build and drop per query, for ever. */
Test(docs, an_automatic_index_over_the_budget_is_not_built_again_and_again)
{
	T.cfg.scan_max = 100;
	th_start();
	fill("Loop", 400, 0);
	struct caller tight = {.index_budget = 8000};
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 3; i++)
			rq(ACC_DOC_QUERY, &tight,
			   "{\"class\":\"Loop\",\"where\":{\"score\":%d}}", i);
		th_clear();
		if (round == 0) {
			wait_builds(1); /* built, found too big, dropped */
			continue;
		}
		/* a rebuild would be under way now: give it time to show */
		uint64_t end = uv_hrtime() + 200ull * 1000000;
		while (uv_hrtime() < end) {
			uv_timer_t t;
			uv_timer_init(&T.loop, &t);
			uv_timer_start(&t, tick_cb, 2, 0);
			uv_run(&T.loop, UV_RUN_ONCE);
			uv_close((uv_handle_t *)&t, NULL);
			uv_run(&T.loop, UV_RUN_NOWAIT);
			th_clear();
		}
	}
	uint64_t built = stat_of("auto_indexes_built");
	uint64_t dropped = stat_of("auto_indexes_dropped");
	cr_log_info("built %llu dropped %llu", (unsigned long long)built,
		    (unsigned long long)dropped);
	cr_expect_eq(built, 1, "one build, then refused by the budget");
	cr_expect_eq(dropped, 1);
}
#ifdef TEST_DOCS_PG
/* Index builds across agents: another agent holding the build's lock (a
 * PostgreSQL advisory lock, here held by the test's own connection) keeps
 * this accessory from building; the lock dying with its holder's
 * connection lets it take over and finish. */
Test(docs, pg_build_waits_for_another_agents_lock_then_takes_over)
{
	th_start();
	fill("Big", 300, 0);
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT pg_advisory_lock(hashtextextended('%s' || ' ' || "
		 "'build app1 Big by_score', 7079))",
		 pg_schema);
	PGconn *other = PQconnectdb(getenv("MIST_TEST_PG"));
	cr_assert_eq(PQstatus(other), CONNECTION_OK);
	PGresult *res = PQexec(other, sql);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s",
		     PQerrorMessage(other));
	PQclear(res);
	struct reply *r = rq(ACC_DOC_SCHEMA_PUT, &MASTER,
			     "{\"class\":\"Big\",\"indexes\":{\"by_score\":"
			     "{\"score\":1}}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	/* two lock retries (DOCS_BUILD_LOCK_RETRY_MS) later: not built */
	uint64_t end = uv_hrtime() + 2500ull * 1000000;
	while (uv_hrtime() < end) {
		cr_assert_eq(stat_of("index_builds_done"), 0,
			     "built while another agent holds the lock");
		th_clear();
		usleep(100000);
	}
	uint64_t sync0 = stat_of("reads_sync");
	th_clear();
	PQfinish(other); /* the holder dies: its lock with it */
	wait_builds(1);
	/* the lock, the chunks, the recount: fetches of views, never a
	 * round trip on the loop */
	cr_assert_eq(stat_of("reads_sync"), sync0);
	th_clear();
	r = rq(ACC_DOC_QUERY, &PUBLIC,
	       "{\"class\":\"Big\",\"where\":{\"score\":150}}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
}
#endif

#ifndef TEST_DOCS_PG
/* LMDB's reads never wait: no request is parked or run again, and its
 * driver sends no fetch (its path is the one it was). */
Test(docs, lmdb_reads_are_never_parked)
{
	th_start();
	char *tok = signup("lou", "lou@example.com", NULL);
	struct caller me = {.session = tok, .create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &me,
			     "{\"class\":\"L\",\"object\":{\"n\":1}}");
	cr_assert_eq(r->status, 201);
	char *id = dupstr(jstr(r->body, "objectId"));
	r = rq(ACC_DOC_GET, &me, "{\"class\":\"L\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 200);
	r = rq(ACC_DOC_QUERY, &me, "{\"class\":\"L\",\"where\":{\"n\":1}}");
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 1);
	th_clear();
	static const char *const zero[] = {"read_parks", "read_reruns",
					   "read_parked", "reads_sent",
					   "reads_held"};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		cr_assert_eq(stat_of(zero[i]), 0, "%s", zero[i]);
		th_clear();
	}
}
#endif

#ifdef TEST_DOCS_PG
/*
 * Restartable reads (docs_driver.h): the loop is never blocked on a read.
 * Another connection holds a table's ACCESS EXCLUSIVE lock (the test's
 * own statement, pg_sleep inside its transaction, so the server lets go
 * of it by itself); every SELECT of that table waits for it.
 */
static PGconn *
pg_hold(const char *table, double secs)
{
	PGconn *c = PQconnectdb(getenv("MIST_TEST_PG"));
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "BEGIN; LOCK TABLE %s.%s IN ACCESS EXCLUSIVE MODE; "
		 "SELECT pg_sleep(%g); COMMIT;",
		 pg_schema, table, secs);
	cr_assert_eq(PQsendQuery(c, sql), 1, "%s", PQerrorMessage(c));
	/* bounded: until the lock is granted */
	PGconn *a = PQconnectdb(getenv("MIST_TEST_PG"));
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_locks WHERE granted AND mode = "
		 "'AccessExclusiveLock' AND relation = '%s.%s'::regclass",
		 pg_schema, table);
	bool held = false;
	for (int i = 0; i < 500 && !held; i++) {
		PGresult *r = PQexec(a, sql);
		held = PQresultStatus(r) == PGRES_TUPLES_OK &&
		       strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		PQclear(r);
		if (!held)
			usleep(10000);
	}
	PQfinish(a);
	cr_assert(held, "the lock on %s was not granted", table);
	return c;
}

/* Waits for the holder's transaction to end, then drops it. */
static void
pg_hold_end(PGconn *c)
{
	PGresult *r;
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	PQfinish(c);
}

struct ticks {
	uint64_t n, last, max_gap; /* ns */
};

static void
ticks_cb(uv_timer_t *t)
{
	struct ticks *k = t->data;
	uint64_t now = uv_hrtime();
	if (k->last && now - k->last > k->max_gap)
		k->max_gap = now - k->last;
	k->last = now;
	k->n++;
}

/* Runs the loop until @a n replies are in (bounded, 30 s) with a timer
 * ticking every 5 ms on it: what the loop did meanwhile. */
static struct ticks
th_wait_ticking(uint32_t n)
{
	struct ticks k = {0, 0, 0};
	uv_timer_t t;
	uv_timer_init(&T.loop, &t);
	t.data = &k;
	uv_timer_start(&t, ticks_cb, 5, 5);
	uint64_t end = uv_hrtime() + 30ull * 1000000000;
	while (T.nr < n && uv_hrtime() < end)
		uv_run(&T.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&T.loop, UV_RUN_NOWAIT);
	cr_assert_geq(T.nr, n, "replies: %u of %u", T.nr, n);
	return k;
}

static void
th_send_one(int op, const struct caller *c, const char *json)
{
	struct buf b = BUF_INIT;
	th_encode(&b, "app1", op, c, json);
	th_send_raw(MSG_ACC_REQUEST, &b, 1);
	buf_destroy(&b);
}

/* A read waiting on the server leaves the loop free: a timer on it keeps
 * ticking (no gap near the lock's second), and the request answers right
 * once the lock is gone. */
Test(docs, pg_a_slow_read_does_not_block_the_loop)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &(struct caller){.create = true},
			     "{\"class\":\"Slow\",\"object\":{\"n\":7}}");
	cr_assert_eq(r->status, 201);
	char *id = dupstr(jstr(r->body, "objectId"));
	th_clear();
	uint64_t parks = stat_of("read_parks");
	th_clear();
	PGconn *h = pg_hold("mist_docs_obj", 1.0);
	uint64_t t0 = uv_hrtime();
	char json[128];
	snprintf(json, sizeof(json), "{\"class\":\"Slow\",\"id\":\"%s\"}", id);
	th_send_one(ACC_DOC_GET, &PUBLIC, json);
	struct ticks k = th_wait_ticking(1);
	uint64_t waited = uv_hrtime() - t0;
	pg_hold_end(h);
	r = &T.r[0];
	cr_assert_eq(r->status, 200, "%d %s", r->status,
		     jstr(r->body, "error"));
	cr_assert_eq(jint(r->body, "n"), 7);
	cr_log_info("waited %.0f ms, %llu ticks, largest gap %.1f ms",
		    waited / 1e6, (unsigned long long)k.n, k.max_gap / 1e6);
	/* the read did wait for the lock (else this proves nothing) ... */
	cr_assert_geq(waited, 500ull * 1000000, "the lock did not hold");
	/* ... and the loop ran meanwhile (a blocked loop shows one gap as
	 * long as the wait) */
	cr_assert_lt(k.max_gap, 300ull * 1000000,
		     "the loop stood still %.0f ms", k.max_gap / 1e6);
	cr_assert_geq(k.n, 20);
	th_clear();
	cr_assert_gt(stat_of("read_parks"), parks);
	th_clear();
	cr_assert_eq(stat_of("read_parked"), 0);
}

/* While one request waits on a locked table, others that read other
 * tables are answered. */
Test(docs, pg_requests_are_served_while_another_waits)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &(struct caller){.create = true},
			     "{\"class\":\"Slow\",\"object\":{\"n\":1}}");
	cr_assert_eq(r->status, 201);
	char *id = dupstr(jstr(r->body, "objectId"));
	th_clear();
	/* its schema is read before the object: cached in no one's view */
	PGconn *h = pg_hold("mist_docs_obj", 1.0);
	char json[128];
	snprintf(json, sizeof(json), "{\"class\":\"Slow\",\"id\":\"%s\"}", id);
	th_send_one(ACC_DOC_GET, &PUBLIC, json);
	/* a schema read (META only) answers while the GET waits */
	th_send_one(ACC_DOC_SCHEMA_GET, &MASTER, "{\"class\":\"Slow\"}");
	th_wait(1);
	cr_assert_eq(T.r[0].status, 200, "%s", jstr(T.r[0].body, "error"));
	cr_assert_str_eq(jstr(T.r[0].body, "className"), "Slow",
			 "the schema answered first");
	th_wait(2);
	pg_hold_end(h);
	cr_assert_eq(T.r[1].status, 200);
	cr_assert_eq(jint(T.r[1].body, "n"), 1);
}

/* A request whose reads are several rounds deep (a session, its user,
 * the schema, the object, the roles, an include) runs again once per
 * round and answers as LMDB does, and the loop made no synchronous read
 * for it. */
Test(docs, pg_a_request_of_several_reads_runs_again_and_answers)
{
	th_start();
	char *uid = NULL;
	char *tok = signup("rex", "rex@example.com", &uid);
	struct caller me = {.session = tok, .create = true};
	struct reply *r = rq(ACC_DOC_CREATE, &me,
			     "{\"class\":\"Owner\",\"object\":{\"name\":\"o\"}}");
	cr_assert_eq(r->status, 201);
	char *oid = dupstr(jstr(r->body, "objectId"));
	th_clear();
	r = rq(ACC_DOC_CREATE, &me,
	       "{\"class\":\"Pet\",\"object\":{\"name\":\"p\",\"owner\":"
	       "{\"__type\":\"Pointer\",\"className\":\"Owner\","
	       "\"objectId\":\"%s\"},\"ACL\":{\"%s\":{\"read\":true}}}}",
	       oid, uid);
	cr_assert_eq(r->status, 201, "%s", jstr(r->body, "error"));
	char *pid = dupstr(jstr(r->body, "objectId"));
	th_clear();
	uint64_t sync0 = stat_of("reads_sync");
	th_clear();
	uint64_t reruns0 = stat_of("read_reruns");
	th_clear();
	uint64_t sent0 = stat_of("reads_sent");
	th_clear();
	r = rq(ACC_DOC_QUERY, &me,
	       "{\"class\":\"Pet\",\"where\":{\"name\":\"p\"},"
	       "\"include\":\"owner\"}");
	cr_assert_eq(r->status, 200, "%s", jstr(r->body, "error"));
	json_t *res = json_object_get(r->body, "results");
	cr_assert_eq(json_array_size(res), 1);
	json_t *pet = json_array_get(res, 0);
	cr_assert_str_eq(jstr(pet, "objectId"), pid);
	cr_assert_str_eq(jstr(json_object_get(pet, "owner"), "name"), "o",
			 "the include was read");
	th_clear();
	/* another user's session sees nothing (ACL), after as many runs */
	char *tok2 = signup("sam", "sam@example.com", NULL);
	th_clear();
	struct caller other = {.session = tok2};
	r = rq(ACC_DOC_QUERY, &other,
	       "{\"class\":\"Pet\",\"where\":{\"name\":\"p\"}}");
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_array_size(json_object_get(r->body, "results")), 0);
	th_clear();
	uint64_t reruns = stat_of("read_reruns") - reruns0;
	th_clear();
	uint64_t sent = stat_of("reads_sent") - sent0;
	th_clear();
	uint64_t sync = stat_of("reads_sync") - sync0;
	th_clear();
	cr_log_info("reruns %llu, fetches %llu, sync %llu",
		    (unsigned long long)reruns, (unsigned long long)sent,
		    (unsigned long long)sync);
	/* the query reads its session, user, schema, the class's page, the
	 * owner: at least 3 rounds; the signup and the second query more */
	cr_assert_geq(reruns, 3, "run again once a round");
	cr_assert_geq(sent, reruns, "every run again waited on a fetch");
	cr_assert_eq(sync, 0, "no read was a round trip on the loop");
}

/* A parked request's deadline holds: answered 504 while its read still
 * waits on the lock (and the late answer is dropped). */
Test(docs, pg_a_parked_request_answers_at_its_deadline)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &(struct caller){.create = true},
			     "{\"class\":\"Slow\",\"object\":{\"n\":1}}");
	cr_assert_eq(r->status, 201);
	char *id = dupstr(jstr(r->body, "objectId"));
	th_clear();
	PGconn *h = pg_hold("mist_docs_obj", 1.5);
	char json[128];
	snprintf(json, sizeof(json), "{\"class\":\"Slow\",\"id\":\"%s\"}", id);
	uint64_t t0 = uv_hrtime();
	th_send_one(ACC_DOC_GET, &(struct caller){.deadline = 200}, json);
	th_wait(1);
	uint64_t took = uv_hrtime() - t0;
	cr_assert_eq(T.r[0].status, 504, "%d %s", T.r[0].status,
		     jstr(T.r[0].body, "error"));
	cr_assert_lt(took, 1200ull * 1000000,
		     "answered before the lock went (%.0f ms)", took / 1e6);
	pg_hold_end(h);
	th_clear();
	cr_assert_eq(stat_of("read_parked_expired"), 1);
	th_clear();
	cr_assert_eq(stat_of("read_parked"), 0);
	th_clear();
	/* the same read answers now */
	r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Slow\",\"id\":\"%s\"}", id);
	cr_assert_eq(r->status, 200);
}

/* The read connection breaks while requests are parked on it: they
 * answer 503 code 100 (the store is unreachable), and the driver
 * connects again for the next ones. */
Test(docs, pg_parked_reads_fail_503_when_the_connection_breaks)
{
	th_start();
	struct reply *r = rq(ACC_DOC_CREATE, &(struct caller){.create = true},
			     "{\"class\":\"Slow\",\"object\":{\"n\":1}}");
	cr_assert_eq(r->status, 201);
	char *id = dupstr(jstr(r->body, "objectId"));
	th_clear();
	PGconn *h = pg_hold("mist_docs_obj", 5.0);
	char json[128];
	snprintf(json, sizeof(json), "{\"class\":\"Slow\",\"id\":\"%s\"}", id);
	th_send_one(ACC_DOC_GET, &PUBLIC, json);
	th_send_one(ACC_DOC_GET, &PUBLIC, json);
	/* until they wait on the lock (this test's table only: another
	 * test's agent may share the server), then their connections are
	 * killed */
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM pg_locks WHERE NOT granted AND "
		 "relation = '%s.mist_docs_obj'::regclass",
		 pg_schema);
	PGconn *a = PQconnectdb(getenv("MIST_TEST_PG"));
	bool waiting = false;
	for (int i = 0; i < 1000 && !waiting; i++) {
		uv_run(&T.loop, UV_RUN_NOWAIT);
		PGresult *q = PQexec(a, sql);
		waiting = PQresultStatus(q) == PGRES_TUPLES_OK &&
			  atoi(PQgetvalue(q, 0, 0)) >= 1;
		PQclear(q);
		if (!waiting)
			usleep(5000);
	}
	cr_assert(waiting, "no read waits on the lock");
	/* the other's reads land behind it or beside it (bounded) */
	uint64_t settle = uv_hrtime() + 200ull * 1000000;
	while (uv_hrtime() < settle) {
		uv_run(&T.loop, UV_RUN_NOWAIT);
		usleep(5000);
	}
	cr_assert_eq(T.nr, 0, "answered while the lock is held");
	/* the connections waiting on it break: both GETs' reads wait there,
	 * or behind them in their pipelines */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT "
		 "granted AND relation = '%s.mist_docs_obj'::regclass",
		 pg_schema);
	PGresult *q = PQexec(a, sql);
	cr_assert_eq(PQresultStatus(q), PGRES_TUPLES_OK, "%s",
		     PQerrorMessage(a));
	PQclear(q);
	PQfinish(a);
	th_wait(2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(T.r[i].status, 503, "%d %s", T.r[i].status,
			     jstr(T.r[i].body, "error"));
		cr_assert_eq(jcode(&T.r[i]), 100);
	}
	th_clear();
	cr_assert_geq(stat_of("reads_failed"), 1);
	th_clear();
	/* the holder is dropped: the lock goes with it */
	PQfinish(h);
	/* the driver connects again (after its backoff): bounded retries */
	int status = 0;
	for (int i = 0; i < 100 && status != 200; i++) {
		r = rq(ACC_DOC_GET, &PUBLIC, "{\"class\":\"Slow\",\"id\":\"%s\"}",
		       id);
		status = r->status;
		th_clear();
		if (status != 200)
			usleep(20000);
	}
	cr_assert_eq(status, 200, "the driver did not come back");
}
#endif

#ifdef TEST_DOCS_PG
/*
 * One test at a time on PostgreSQL: the tests share one server, and with
 * two at once (Criterion's default on two cores) one was seen to hang in
 * an index build under load while the driver's reads blocked the loop
 * (before restartable reads; not seen since in four runs with -j2, and
 * the tests that break connections or hold locks keep to their own
 * schema's tables).  Before main, so Criterion reads it.
 */
__attribute__((constructor)) static void
pg_one_job(void)
{
	setenv("CRITERION_JOBS", "1", 0);
}
#endif
