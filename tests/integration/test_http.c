/*
 * test_http.c -- the Parse REST API of real agents, through a real HTTP
 * client (libcurl) on loopback, port 0.
 *
 * Two agents joined: "home" holds the app's documents, "edge" serves it by
 * routing to the home over the link.  Both offer the test plugin's
 * functions.  What is shown:
 *   - documents: create, get, update with every operator, query with
 *     where/order/limit/skip/count/keys, delete, through either gateway,
 *     in the header form and in the JS SDK's text/plain body form;
 *   - users: sign up, log in, /users/me, log out (the token then refused);
 *     ACLs: another user and the public neither read nor change an
 *     object; class-level permissions; the master key bypasses both, and
 *     is refused from an address the app does not allow;
 *   - batches: each sub-request answered in order, the cap refused;
 *   - limits: 429 with Retry-After past the app's rate; deadlines: 504
 *     and Parse's timeout code when a function outlives the request's;
 *   - add-on functions: a result, a failure (141), a function the app may
 *     not call;
 *   - the home killed with SIGKILL and restarted: every acknowledged
 *     write is there;
 *   - hostile input: broken JSON, unknown routes and apps, wrong keys get
 *     Parse's errors; /metrics counts it all.
 */
#include "httptest.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;
static char keyfile[512];
static char plugin[512];

static struct ht_agent home, edge;
static struct ht_app app;

/* Extra arguments for the next agent_start (NULL-terminated), or NULL. */
static char **agent_extra;

static void
agent_start(struct ht_agent *a, const char *join)
{
	const char *plugins[] = {plugin, NULL};
	ht_agent_start(a, keyfile, plugins, join, agent_extra);
}

/* ------------------------------------------------------------- HTTP */

/*
 * One request to agent @a a's /parse + @a path.  @a session may be NULL;
 * @a key picks the key header ("rest", "master", "none", "wrong").
 * @a extra: one more header line or NULL.
 */
static struct ht_resp
call(const struct ht_agent *a, const char *method, const char *path,
     const char *body, const char *key, const char *session,
     const char *extra)
{
	struct ht_req q = {method, path, body, key, session, extra, 0};
	return ht_call(a->http, &app, &q);
}

/* ------------------------------------------------------------ set-up */

static void
app_create(const char *extra_flag, const char *extra_val)
{
	char *args[8];
	int n = 0;
	args[n++] = "testapp";
	args[n++] = "--home";
	args[n++] = "home";
	args[n++] = "--functions";
	args[n++] = "hello,echo,fail,sleepy";
	if (extra_flag != NULL) {
		args[n++] = (char *)extra_flag;
		if (extra_val != NULL)
			args[n++] = (char *)extra_val;
	}
	args[n] = NULL;
	json_decref(ht_app_create(&app, home.addr, keyfile, args, NULL));
	cr_assert(app.js[0]);
}

static void
setup_with(const char *flag, const char *val)
{
	tmp = ht_begin(keyfile, sizeof(keyfile));
	snprintf(plugin, sizeof(plugin), "%s/tests/plugins/.libs/testfns.so",
		 BUILDDIR);
	ht_agent_init(&home, tmp, "home");
	ht_agent_init(&edge, tmp, "edge");
	agent_start(&home, NULL);
	agent_start(&edge, home.addr);
	app_create(flag, val);
	ht_wait_app(&home, &app);
	ht_wait_app(&edge, &app);
}

static void
setup(void)
{
	setup_with("--client-class-creation", NULL);
}

static void
teardown(void)
{
	ht_end(tmp, (struct ht_agent *[]){&home, &edge, NULL});
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 180);

/* ------------------------------------------------------------- tests */

static void
objects_crud(const struct ht_agent *writer, const struct ht_agent *reader)
{
	struct ht_resp r = call(writer, "POST", "/classes/Item",
				"{\"name\":\"a\",\"score\":5,\"tags\":[\"x\"],"
				"\"when\":{\"__type\":\"Date\",\"iso\":\"2026-01-01T00:00:00.000Z\"},"
				"\"nested\":{\"k\":[1,2]}}",
				"rest", NULL, NULL);
	cr_assert_eq(r.status, 201, "create: %ld %s", r.status, r.body);
	char id[64];
	snprintf(id, sizeof(id), "%s", ht_jstr(r.json, "objectId"));
	cr_assert(id[0] != '\0' && ht_jstr(r.json, "createdAt")[0] != '\0');
	ht_resp_free(&r);

	char path[128];
	snprintf(path, sizeof(path), "/classes/Item/%s", id);
	r = call(reader, "GET", path, NULL, "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "get: %ld %s", r.status, r.body);
	cr_expect_str_eq(ht_jstr(r.json, "name"), "a");
	cr_expect_eq(ht_jint(r.json, "score"), 5);
	cr_expect_str_eq(ht_jstr(json_object_get(r.json, "when"), "__type"), "Date");
	ht_resp_free(&r);

	r = call(reader, "PUT", path,
		 "{\"score\":{\"__op\":\"Increment\",\"amount\":3},"
		 "\"tags\":{\"__op\":\"AddUnique\",\"objects\":[\"x\",\"y\"]},"
		 "\"name\":{\"__op\":\"Delete\"}}",
		 "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "update: %ld %s", r.status, r.body);
	cr_expect(ht_jstr(r.json, "updatedAt")[0] != '\0');
	ht_resp_free(&r);
	r = call(writer, "GET", path, NULL, "rest", NULL, NULL);
	cr_expect_eq(ht_jint(r.json, "score"), 8, "%s", r.body);
	cr_expect_eq(json_array_size(json_object_get(r.json, "tags")), 2, "%s",
		     r.body);
	cr_expect_null(json_object_get(r.json, "name"), "%s", r.body);
	ht_resp_free(&r);

	/* type change refused: the schema was inferred */
	r = call(writer, "PUT", path, "{\"score\":\"high\"}", "rest", NULL, NULL);
	ht_expect_error(&r, 400, 111, "type change");
	ht_resp_free(&r);

	r = call(reader, "DELETE", path, NULL, "rest", NULL, NULL);
	cr_expect_eq(r.status, 200, "delete: %ld %s", r.status, r.body);
	ht_resp_free(&r);
	r = call(writer, "GET", path, NULL, "rest", NULL, NULL);
	ht_expect_error(&r, 404, 101, "deleted");
	ht_resp_free(&r);
}

Test(http, documents_through_the_home_and_through_another_gateway)
{
	objects_crud(&home, &edge);
	objects_crud(&edge, &home);
}

Test(http, queries)
{
	for (int i = 0; i < 12; i++) {
		char body[128];
		snprintf(body, sizeof(body),
			 "{\"n\":%d,\"even\":%s,\"name\":\"p%02d\"}", i,
			 i % 2 ? "false" : "true", i);
		struct ht_resp r = call(i % 2 ? &edge : &home, "POST",
					"/classes/Pt", body, "rest", NULL, NULL);
		cr_assert_eq(r.status, 201, "%s", r.body);
		ht_resp_free(&r);
	}
	/* where + order + limit + skip + count, through the query string */
	struct ht_resp r = call(&edge, "GET",
				"/classes/Pt?where=%7B%22n%22%3A%7B%22%24gte%22%3A3%7D%2C%22even%22%3Atrue%7D"
				"&order=-n&limit=2&skip=1&count=1",
				NULL, "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *res = json_object_get(r.json, "results");
	cr_assert_eq(json_array_size(res), 2, "%s", r.body);
	cr_expect_eq(ht_jint(json_array_get(res, 0), "n"), 8, "%s", r.body);
	cr_expect_eq(ht_jint(json_array_get(res, 1), "n"), 6, "%s", r.body);
	cr_expect_eq(ht_jint(r.json, "count"), 4, "%s", r.body); /* 4 6 8 10 */
	ht_resp_free(&r);
	/* keys, $in, $regex */
	r = call(&home, "GET",
		 "/classes/Pt?where=%7B%22name%22%3A%7B%22%24regex%22%3A%22%5Ep1%22%7D%7D&keys=n&order=n",
		 NULL, "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	res = json_object_get(r.json, "results");
	cr_expect_eq(json_array_size(res), 2, "%s", r.body); /* p10 p11 */
	cr_expect_null(json_object_get(json_array_get(res, 0), "name"), "%s",
		       r.body);
	ht_resp_free(&r);
	/* the JS SDK's form: POST text/plain, keys and _method in the body */
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"where\":{\"n\":{\"$in\":[1,2,3]}},\"order\":\"n\",\"limit\":10,"
		 "\"_method\":\"GET\",\"_ApplicationId\":\"%s\",\"_JavaScriptKey\":\"%s\","
		 "\"_ClientVersion\":\"js8.0.0\",\"_InstallationId\":\"abc\"}",
		 app.id, app.js);
	r = call(&edge, "POST", "/classes/Pt", body, "none", NULL,
		 "Content-Type: text/plain");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(json_array_size(json_object_get(r.json, "results")), 3,
		     "%s", r.body);
	ht_resp_free(&r);
	/* a broken where */
	r = call(&home, "GET", "/classes/Pt?where=%7Bnot", NULL, "rest", NULL,
		 NULL);
	ht_expect_error(&r, 400, 107, "broken where");
	ht_resp_free(&r);
	r = call(&home, "GET",
		 "/classes/Pt?where=%7B%22n%22%3A%7B%22%24bogus%22%3A1%7D%7D",
		 NULL, "rest", NULL, NULL);
	ht_expect_error(&r, 400, 102, "unknown operator");
	ht_resp_free(&r);
}

static void
signup(const struct ht_agent *a, const char *name, char *token, char *id)
{
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"username\":\"%s\",\"password\":\"pw-%s\",\"email\":\"%s@example.org\"}",
		 name, name, name);
	struct ht_resp r = call(a, "POST", "/users", body, "rest", NULL, NULL);
	cr_assert_eq(r.status, 201, "signup %s: %ld %s", name, r.status, r.body);
	snprintf(token, 128, "%s", ht_jstr(r.json, "sessionToken"));
	snprintf(id, 64, "%s", ht_jstr(r.json, "objectId"));
	cr_assert(token[0] && id[0], "%s", r.body);
	ht_resp_free(&r);
}

Test(http, users_sessions_and_acls)
{
	char at[128], aid[64], bt[128], bid[64];
	signup(&home, "alice", at, aid);
	signup(&edge, "bob", bt, bid);
	struct ht_resp r = call(&edge, "POST", "/users",
				"{\"username\":\"alice\",\"password\":\"x\"}", "rest",
				NULL, NULL);
	ht_expect_error(&r, 400, 202, "username taken");
	ht_resp_free(&r);

	/* log in (GET form, as the REST guide has it) and /users/me */
	r = call(&edge, "GET", "/login?username=alice&password=pw-alice", NULL,
		 "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	char at2[128];
	snprintf(at2, sizeof(at2), "%s", ht_jstr(r.json, "sessionToken"));
	cr_expect_null(json_object_get(r.json, "password"));
	ht_resp_free(&r);
	r = call(&home, "GET", "/login?username=alice&password=wrong", NULL,
		 "rest", NULL, NULL);
	ht_expect_error(&r, 404, 101, "wrong password");
	ht_resp_free(&r);
	r = call(&home, "GET", "/users/me", NULL, "rest", at2, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(ht_jstr(r.json, "username"), "alice");
	ht_resp_free(&r);
	/* /sessions/me: the session object, its user a pointer to alice */
	r = call(&edge, "GET", "/sessions/me", NULL, "rest", at2, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(ht_jstr(r.json, "sessionToken"), at2, "%s", r.body);
	cr_expect_str_eq(ht_jstr(json_object_get(r.json, "user"), "objectId"), aid,
			 "%s", r.body);
	cr_expect_null(json_object_get(r.json, "_token"),
		       "internal fields stay inside: %s", r.body);
	ht_resp_free(&r);

	/* an object only alice reads and writes */
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"secret\":42,\"ACL\":{\"%s\":{\"read\":true,\"write\":true}}}",
		 aid);
	r = call(&edge, "POST", "/classes/Note", body, "rest", at, NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	char path[128];
	snprintf(path, sizeof(path), "/classes/Note/%s", ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", at, NULL);
	cr_expect_eq(r.status, 200, "owner reads: %s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", bt, NULL);
	ht_expect_error(&r, 404, 101, "bob reads alice's note");
	ht_resp_free(&r);
	r = call(&edge, "GET", path, NULL, "rest", NULL, NULL);
	ht_expect_error(&r, 404, 101, "the public reads alice's note");
	ht_resp_free(&r);
	r = call(&edge, "PUT", path, "{\"secret\":0}", "rest", bt, NULL);
	ht_expect_error(&r, 404, 101, "bob writes alice's note");
	ht_resp_free(&r);
	r = call(&edge, "GET", "/classes/Note", NULL, "rest", bt, NULL);
	cr_expect_eq(json_array_size(json_object_get(r.json, "results")), 0,
		     "bob's query sees nothing: %s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "GET", path, NULL, "master", NULL, NULL);
	cr_expect_eq(r.status, 200, "the master key reads it: %s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", at, NULL);
	cr_expect_eq(ht_jint(r.json, "secret"), 42, "unchanged: %s", r.body);
	ht_resp_free(&r);

	/* email is protected from other users */
	snprintf(path, sizeof(path), "/users/%s", aid);
	r = call(&home, "GET", path, NULL, "rest", bt, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_null(json_object_get(r.json, "email"), "%s", r.body);
	cr_expect_null(json_object_get(r.json, "password"), "%s", r.body);
	ht_resp_free(&r);

	/* log out: the token is refused from then on */
	r = call(&edge, "POST", "/logout", "{}", "rest", at2, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", "/users/me", NULL, "rest", at2, NULL);
	ht_expect_error(&r, 400, 209, "logged-out token");
	ht_resp_free(&r);
}

Test(http, class_level_permissions_and_the_master_key)
{
	char t[128], id[64];
	signup(&home, "carol", t, id);
	struct ht_resp r = call(&home, "POST", "/schemas/Locked",
				"{\"className\":\"Locked\",\"fields\":{\"v\":{\"type\":\"Number\"}},"
				"\"classLevelPermissions\":{\"find\":{\"requiresAuthentication\":true},"
				"\"get\":{\"requiresAuthentication\":true},\"create\":{\"*\":true},"
				"\"update\":{},\"delete\":{}}}",
				"master", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "POST", "/schemas/Other", "{}", "rest", NULL, NULL);
	ht_expect_error(&r, 403, 119, "schemas without the master key");
	ht_resp_free(&r);
	r = call(&edge, "POST", "/classes/Locked", "{\"v\":1}", "rest", NULL,
		 NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	char path[128];
	snprintf(path, sizeof(path), "/classes/Locked/%s",
		 ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
	r = call(&edge, "GET", "/classes/Locked", NULL, "rest", NULL, NULL);
	ht_expect_error(&r, 400, 119, "anonymous find on a class requiring authentication");
	ht_resp_free(&r);
	r = call(&edge, "GET", "/classes/Locked", NULL, "rest", t, NULL);
	cr_expect_eq(r.status, 200, "authenticated find: %s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "PUT", path, "{\"v\":2}", "rest", t, NULL);
	ht_expect_error(&r, 400, 119, "update not allowed by the class");
	ht_resp_free(&r);
	r = call(&home, "PUT", path, "{\"v\":3}", "master", NULL, NULL);
	cr_expect_eq(r.status, 200, "the master key bypasses it: %s", r.body);
	ht_resp_free(&r);
}

Test(http, batches)
{
	char body[4096];
	int n = snprintf(body, sizeof(body), "{\"requests\":[");
	for (int i = 0; i < 3; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "%s{\"method\":\"POST\",\"path\":\"/parse/classes/B\",\"body\":{\"i\":%d}}",
			      i ? "," : "", i);
	n += snprintf(body + n, sizeof(body) - (size_t)n,
		      ",{\"method\":\"GET\",\"path\":\"/parse/classes/B/nope\"}]}");
	struct ht_resp r = call(&edge, "POST", "/batch", body, "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(json_array_size(r.json), 4, "%s", r.body);
	for (int i = 0; i < 3; i++)
		cr_expect_not_null(json_object_get(
			json_object_get(json_array_get(r.json, i), "success"),
			"objectId"), "%s", r.body);
	cr_expect_eq(ht_jint(json_object_get(json_array_get(r.json, 3), "error"),
			     "code"),
		     101, "%s", r.body);
	ht_resp_free(&r);
	/* past the cap */
	n = snprintf(body, sizeof(body), "{\"requests\":[");
	for (int i = 0; i < 51; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "%s{\"method\":\"POST\",\"path\":\"/parse/classes/B\",\"body\":{}}",
			      i ? "," : "");
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	r = call(&home, "POST", "/batch", body, "rest", NULL, NULL);
	cr_expect_eq(r.status, 400, "%s", r.body);
	ht_resp_free(&r);
}

Test(http, functions_and_deadlines)
{
	struct ht_resp r = call(&edge, "POST", "/functions/hello",
				"{\"name\":\"mist\"}", "rest", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_not_null(json_object_get(r.json, "result"), "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "POST", "/functions/fail", "{}", "rest", NULL, NULL);
	ht_expect_error(&r, 400, 141, "a failing function");
	ht_resp_free(&r);
	r = call(&home, "POST", "/functions/spin", "{}", "rest", NULL, NULL);
	ht_expect_error(&r, 400, 141, "a function the app may not call");
	ht_resp_free(&r);
	r = call(&edge, "POST", "/functions/sleepy", "{\"ms\":3000}", "rest",
		 NULL, "X-Mist-Deadline-Ms: 300");
	ht_expect_error(&r, 504, 124, "a function past the request's deadline");
	ht_resp_free(&r);
	/* the executors still serve */
	r = call(&edge, "POST", "/functions/hello", "{\"name\":\"again\"}",
		 "rest", NULL, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
}

Test(http, hostile_input)
{
	struct ht_resp r = call(&home, "POST", "/classes/X", "{not json", "rest",
				NULL, NULL);
	ht_expect_error(&r, 400, 107, "broken JSON");
	ht_resp_free(&r);
	r = call(&home, "GET", "/classes/X", NULL, "wrong", NULL, NULL);
	cr_expect_eq(r.status, 403, "a wrong key: %s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", "/nothing/here", NULL, "rest", NULL, NULL);
	cr_expect_eq(r.status, 404, "an unknown route: %s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", "/classes/bad-name!", NULL, "rest", NULL, NULL);
	cr_expect_eq(r.status, 400, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", "/users/me", NULL, "rest", "r:forged", NULL);
	ht_expect_error(&r, 400, 209, "a forged token");
	ht_resp_free(&r);
	/* the metrics saw it all */
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof(url), "http://%s/metrics", home.http);
	struct ht_resp m = {0};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ht_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &m.status);
	curl_easy_cleanup(c);
	cr_expect_eq(m.status, 200);
	cr_expect_not_null(strstr(m.body, "mist_http_requests_total{"), "%s",
			   m.body);
	cr_expect_not_null(strstr(m.body, "status=\"400\""), "%s", m.body);
	cr_expect_not_null(strstr(m.body, "mist_docs_"), "%s", m.body);
	cr_expect_not_null(strstr(m.body, "mist_gossip_members{status=\"alive\"} 2"),
			   "gossip sees both agents (itself too): %s", m.body);
	cr_expect_not_null(strstr(m.body, "mist_link_msgs_out_total"), "%s",
			   m.body);
	cr_expect_not_null(strstr(m.body, "mist_fn_calls_total"), "%s", m.body);
	ht_resp_free(&m);
}

Test(http, the_home_killed_loses_no_acknowledged_write)
{
	enum { N = 60 };
	char ids[N][64];
	for (int i = 0; i < N; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"i\":%d}", i);
		struct ht_resp r = call(i % 2 ? &edge : &home, "POST",
					"/classes/Durable", body, "rest", NULL, NULL);
		cr_assert_eq(r.status, 201, "%s", r.body);
		snprintf(ids[i], sizeof(ids[i]), "%s", ht_jstr(r.json, "objectId"));
		ht_resp_free(&r);
	}
	proc_stop(home.pid, SIGKILL, 5000);
	home.pid = 0;
	if (ht_pg_url()[0] != '\0') {
		/* on PostgreSQL there is no home: the edge's own accessory
		 * serves the app, every acknowledged write is there and new
		 * ones are acknowledged, with no wait for gossip */
		for (int i = 0; i < N; i++) {
			char path[128];
			snprintf(path, sizeof(path), "/classes/Durable/%.63s",
				 ids[i]);
			struct ht_resp r = call(&edge, "GET", path, NULL, "rest",
						NULL, NULL);
			cr_expect_eq(r.status, 200, "write %d while the other "
				     "agent is dead: %ld %s", i, r.status,
				     r.body ? r.body : "");
			cr_expect_eq(ht_jint(r.json, "i"), i);
			ht_resp_free(&r);
		}
		struct ht_resp r = call(&edge, "POST", "/classes/Durable",
					"{\"i\":-1}", "rest", NULL, NULL);
		cr_expect_eq(r.status, 201, "%s", r.body);
		ht_resp_free(&r);
		r = call(&edge, "GET", "/classes/Durable?count=1&limit=0",
			 NULL, "rest", NULL, NULL);
		cr_expect_eq(ht_jint(r.json, "count"), N + 1, "%s", r.body);
		ht_resp_free(&r);
		return;
	}
	/* while the home is away, its app fails fast with the cause (once
	 * the edge has seen it go: a bounded wait) */
	long st = 0;
	for (int i = 0; i < 400 && st != 503; i++) {
		struct ht_resp r = call(&edge, "GET", "/classes/Durable?limit=1",
					NULL, "rest", NULL, "X-Mist-Deadline-Ms: 500");
		st = r.status;
		ht_resp_free(&r);
		if (st != 503)
			usleep(50000);
	}
	cr_expect_eq(st, 503, "the edge answers 503 while the home is dead");
	agent_start(&home, edge.addr);
	for (int i = 0; i < N; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/classes/Durable/%.63s", ids[i]);
		struct ht_resp r = {0};
		for (int k = 0; k < 300; k++) {
			r = call(&edge, "GET", path, NULL, "rest", NULL, NULL);
			if (r.status == 200)
				break;
			ht_resp_free(&r);
			usleep(50000);
		}
		cr_expect_eq(r.status, 200, "write %d acknowledged, then lost: %s",
			     i, r.body ? r.body : "");
		cr_expect_eq(ht_jint(r.json, "i"), i);
		ht_resp_free(&r);
	}
}

static void
app_set(const char *flag, const char *val)
{
	char *argv[] = {(char *)proc_mist(), "apps", "set", app.id,
			(char *)flag, (char *)val, "--agent", edge.addr, "--key",
			keyfile, NULL};
	char *out = NULL;
	cr_assert_eq(proc_run(argv, &out, 20000), 0, "mist apps set: %s",
		     out ? out : "");
	free(out);
}

Test(http, rate_limits_and_master_key_networks)
{
	app_set("--rate", "5");
	/* the change spreads: wait until some gateway refuses */
	int refused = 0;
	char retry[16] = "";
	for (int i = 0; i < 200 && refused == 0; i++) {
		struct ht_resp r = call(i % 2 ? &edge : &home, "GET",
					"/classes/R?limit=1", NULL, "rest", NULL,
					NULL);
		if (r.status == 429) {
			refused++;
			snprintf(retry, sizeof(retry), "%s", r.retry_after);
			cr_expect_eq(ht_jint(r.json, "code"), 155, "%s", r.body);
		}
		ht_resp_free(&r);
	}
	cr_expect_gt(refused, 0, "no request was refused at 5/s");
	cr_expect(retry[0] != '\0', "429 without Retry-After");
	app_set("--rate", "0");

	app_set("--master-from", "10.0.0.0/8");
	long st = 0;
	for (int i = 0; i < 200 && st != 403; i++) {
		struct ht_resp r = call(&home, "GET", "/schemas", NULL, "master",
					NULL, NULL);
		st = r.status;
		ht_resp_free(&r);
		if (st != 403)
			usleep(20000);
	}
	cr_expect_eq(st, 403, "the master key from loopback, allowed only from 10/8");
}

Test(http, an_index_declared_with_mist_apps_index)
{
	struct ht_resp r = call(&home, "POST", "/classes/Score", "{\"points\":1}",
				"rest", NULL, NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	ht_resp_free(&r);
	char *argv[] = {(char *)proc_mist(), "apps", "index", app.id, "Score",
			"by_points", "points:-1", "--agent", edge.addr, "--key",
			keyfile, "--format", "json", NULL};
	char *out = NULL;
	cr_assert_eq(proc_run(argv, &out, 20000), 0, "mist apps index: %s",
		     out ? out : "");
	cr_expect_not_null(strstr(out, "\"by_points\""), "%s", out);
	free(out);
	/* the schema says so, and a query sorted by it is served */
	r = call(&edge, "GET", "/schemas/Score", NULL, "master", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_not_null(json_object_get(json_object_get(r.json, "indexes"),
					   "by_points"),
			   "%s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "GET", "/classes/Score?order=-points", NULL, "rest",
		 NULL, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	/* a value too long for an index entry is refused at the write,
	 * naming the index; nothing is stored */
	r = call(&home, "POST", "/classes/Longs", "{\"s\":\"x\"}", "rest",
		 NULL, NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	ht_resp_free(&r);
	char *ix[] = {(char *)proc_mist(), "apps", "index", app.id, "Longs",
		      "by_s", "s", "--agent", home.addr, "--key", keyfile, NULL};
	cr_assert_eq(proc_run(ix, NULL, 20000), 0);
	char big[700];
	memset(big, 'a', 600);
	big[600] = '\0';
	char body[760];
	snprintf(body, sizeof(body), "{\"s\":\"%s\"}", big);
	r = call(&edge, "POST", "/classes/Longs", body, "rest", NULL, NULL);
	ht_expect_error(&r, 400, 116, "a value too long for its index");
	ht_resp_free(&r);
	r = call(&edge, "GET", "/classes/Longs?count=1&limit=0", NULL, "rest",
		 NULL, NULL);
	cr_expect_eq(ht_jint(r.json, "count"), 1, "%s", r.body);
	ht_resp_free(&r);
	char *bad[] = {(char *)proc_mist(), "apps", "index", app.id, "NoClass",
		       "x", "y", "--agent", edge.addr, "--key", keyfile, NULL};
	cr_expect_eq(proc_run(bad, NULL, 20000), 1,
		     "an index on a class that does not exist is refused");
}

/* ------------------------------------------------- automatic indexes */

Test(http, an_index_built_automatically_and_listed_by_mist_apps_indexes)
{
	app_set("--index-budget", "16M");
	/* 1100 objects: past the accessory's scan bound (DOCS_SCAN_MAX) */
	for (int b = 0; b < 22; b++) {
		char body[8192];
		int n = snprintf(body, sizeof(body), "{\"requests\":[");
		for (int i = 0; i < 50; i++)
			n += snprintf(body + n, sizeof(body) - (size_t)n,
				      "%s{\"method\":\"POST\",\"path\":"
				      "\"/parse/classes/Big\",\"body\":"
				      "{\"score\":%d}}",
				      i ? "," : "", b * 50 + i);
		snprintf(body + n, sizeof(body) - (size_t)n, "]}");
		struct ht_resp r = call(&home, "POST", "/batch", body, "rest",
					NULL, NULL);
		cr_assert_eq(r.status, 200, "%s", r.body);
		ht_resp_free(&r);
	}
	const char *q = "/classes/Big?where=%7B%22score%22%3A777%7D";
	/* refused as too heavy, naming the index, a few times: then the
	 * accessory builds it and the same query succeeds */
	for (int i = 0; i < 3; i++) {
		struct ht_resp r = call(&edge, "GET", q, NULL, "rest", NULL, NULL);
		ht_expect_error(&r, 400, 102, "heavy before its index");
		cr_expect_not_null(strstr(r.body, "score"), "%s", r.body);
		ht_resp_free(&r);
	}
	long st = 0;
	struct ht_resp r = {0};
	for (int i = 0; i < 300 && st != 200; i++) {
		ht_resp_free(&r);
		r = call(&edge, "GET", q, NULL, "rest", NULL, NULL);
		st = r.status;
		if (st != 200)
			usleep(20000);
	}
	cr_assert_eq(st, 200, "the automatic index serves it: %s", r.body);
	cr_expect_eq(json_array_size(json_object_get(r.json, "results")), 1,
		     "%s", r.body);
	ht_resp_free(&r);
	char *argv[] = {(char *)proc_mist(), "apps", "indexes", app.id,
			"--agent", edge.addr, "--key", keyfile, "--format",
			"json", NULL};
	char *out = NULL;
	cr_assert_eq(proc_run(argv, &out, 20000), 0, "mist apps indexes: %s",
		     out ? out : "");
	json_t *j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "%s", out);
	cr_expect_eq(ht_jint(j, "budget"), 16ll << 20, "the app's budget: %s",
		     out);
	json_t *x = json_array_get(json_object_get(j, "indexes"), 0);
	cr_expect_str_eq(ht_jstr(x, "name"), "auto_score", "%s", out);
	cr_expect_str_eq(ht_jstr(x, "kind"), "auto", "%s", out);
	cr_expect_str_eq(ht_jstr(x, "state"), "ready", "%s", out);
	cr_expect_eq(ht_jint(x, "entries"), 1100, "%s", out);
	cr_expect_geq(ht_jint(x, "hits"), 1, "%s", out);
	cr_expect_not_null(strstr(ht_jstr(x, "reason"), "refused"), "%s", out);
	json_decref(j);
	free(out);
	/* the table form says the same (on PostgreSQL, asked of the agent
	 * that saw the queries: query shapes and counts are per agent) */
	char *tv[] = {(char *)proc_mist(), "apps", "indexes", app.id, "Big",
		      "--agent", ht_pg_url()[0] ? edge.addr : home.addr, "--key",
		      keyfile, NULL};
	cr_assert_eq(proc_run(tv, &out, 20000), 0, "%s", out ? out : "");
	cr_expect_not_null(strstr(out, "auto_score"), "%s", out);
	cr_expect_not_null(strstr(out, "eq score"), "%s", out);
	cr_expect_not_null(strstr(out, "built"), "%s", out);
	printf("mist apps indexes %s Big:\n%s", app.id, out);
	free(out);
}

Test(http, https_with_http2_on_a_third_agent)
{
	char cert[600], key[600], cmd[2048];
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmp);
	snprintf(key, sizeof(key), "%s/key.pem", tmp);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		 "-nodes -days 1 -subj /CN=127.0.0.1 -keyout '%s' -out '%s' "
		 ">/dev/null 2>&1",
		 key, cert);
	cr_assert_eq(system(cmd), 0, "openssl req failed");
	struct ht_agent tls;
	ht_agent_init(&tls, tmp, "tls");
	char *extra[] = {"--https", "127.0.0.1:0", "--tls-cert", cert,
			 "--tls-key", key, NULL};
	agent_extra = extra;
	agent_start(&tls, home.addr);
	agent_extra = NULL;
	char path[600], https[64];
	snprintf(path, sizeof(path), "%s/https.addr", tls.dir);
	cr_assert_eq(proc_wait_file(path, https, sizeof(https), 30000), 0);
	long status = 0, version = 0;
	for (int i = 0; i < 300 && status != 200; i++) {
		CURL *c = curl_easy_init();
		char url[256], h1[128], h2[160];
		snprintf(url, sizeof(url), "https://%s/parse/classes/T?limit=1", https);
		snprintf(h1, sizeof(h1), "X-Parse-Application-Id: %s", app.id);
		snprintf(h2, sizeof(h2), "X-Parse-REST-API-Key: %s", app.rest);
		struct curl_slist *hl = curl_slist_append(NULL, h1);
		hl = curl_slist_append(hl, h2);
		struct ht_resp r = {0};
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ht_on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		cr_assert_eq(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
		curl_slist_free_all(hl);
		curl_easy_cleanup(c);
		ht_resp_free(&r);
		if (status != 200)
			usleep(50000); /* the app spreads to the new agent */
	}
	cr_expect_eq(status, 200, "the TLS agent serves the app");
	cr_expect_eq(version, CURL_HTTP_VERSION_2_0, "HTTP/2 by ALPN");
	proc_stop(tls.pid, SIGTERM, 20000);
}

Test(http, roles_and_users_changing_themselves)
{
	char at[128], aid[64], bt[128], bid[64], ct[128], cid[64];
	signup(&home, "rita", at, aid);
	signup(&edge, "sam", bt, bid);
	signup(&home, "tom", ct, cid);
	/* a role with sam in it, and an object only that role reads */
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"name\":\"Readers\",\"users\":[\"%s\"],\"ACL\":{\"*\":{\"read\":true}}}",
		 bid);
	struct ht_resp r = call(&home, "POST", "/roles", body, "master", NULL, NULL);
	cr_assert_eq(r.status, 201, "role: %s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "POST", "/classes/Memo",
		 "{\"t\":1,\"ACL\":{\"role:Readers\":{\"read\":true}}}", "rest", at,
		 NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	char path[128];
	snprintf(path, sizeof(path), "/classes/Memo/%s", ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", bt, NULL);
	cr_expect_eq(r.status, 200, "a member of the role reads it: %s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", ct, NULL);
	ht_expect_error(&r, 404, 101, "someone outside the role");
	ht_resp_free(&r);

	/* a user changes itself, not another */
	snprintf(path, sizeof(path), "/users/%s", aid);
	r = call(&edge, "PUT", path, "{\"nick\":\"R\"}", "rest", at, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "PUT", path, "{\"nick\":\"X\"}", "rest", ct, NULL);
	cr_expect(r.status >= 400, "tom changes rita: %ld %s", r.status, r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", at, NULL);
	cr_expect_str_eq(ht_jstr(r.json, "nick"), "R", "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "DELETE", path, NULL, "rest", ct, NULL);
	cr_expect(r.status >= 400, "tom deletes rita: %ld %s", r.status, r.body);
	ht_resp_free(&r);
	r = call(&home, "DELETE", path, NULL, "rest", at, NULL);
	cr_expect_eq(r.status, 200, "rita deletes herself: %s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "GET", "/login?username=rita&password=pw-rita", NULL,
		 "rest", NULL, NULL);
	ht_expect_error(&r, 404, 101, "a deleted user logs in");
	ht_resp_free(&r);
}
