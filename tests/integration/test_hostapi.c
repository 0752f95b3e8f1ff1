/*
 * test_hostapi.c -- the host API (mist_plugin.h's mist_docs) end to end:
 * real agents, the test plugin tests/plugins/hostfns.c in their
 * executors, libcurl on loopback, port 0.
 *
 * Two agents joined: "home" holds the app's documents, "edge" serves it;
 * a function called through edge runs on edge, and its host calls go
 * from edge's gateway to home's documents over the link.  What is shown:
 *   - a function creates, reads, updates and deletes as its caller;
 *   - an object its caller may not read is 404 inside the function, as
 *     for the caller itself; an anonymous call reads as the public;
 *   - a MIST_FN_MASTER function gets the master key only once the app
 *     allows it (--functions-master on); an unflagged one never does;
 *     a caller holding the master key passes it on;
 *   - the deadline is shared: a function that keeps calling the host past
 *     the request's deadline is ended with 504, its last host call inside
 *     the deadline;
 *   - a function flooding the host API hits the user's rate limit (429
 *     inside the function);
 *   - host calls cannot reach functions (no recursion) nor batches;
 *     a query string in the path works;
 *   - every host call is an access-log line whose "parent" is the
 *     function call's "req";
 *   - 48 calls at once, each reading its own object, each get their own
 *     answer (the executors interleave them and pipeline their reads);
 *   - a declared read (mist_plugin.h) answers as the host call would,
 *     for the owner, another user and the public, with no host call and
 *     the same access-log line; it gives way to the function's own
 *     writes; params that name no object id leave the read to the host.
 * (The agent-start and HTTP helpers are tests/lib/httptest.h's.)
 */
#include "httptest.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;
static char keyfile[512];
static char plugin[512], plugin2[512];

static struct ht_agent home, edge;
static struct ht_app app;

static void
agent_start(struct ht_agent *a, const char *join)
{
	const char *plugins[] = {plugin, plugin2, NULL};
	ht_agent_start(a, keyfile, plugins, join, NULL);
}

static void
agent_init(struct ht_agent *a, const char *name)
{
	ht_agent_init(a, tmp, name);
	snprintf(a->alog, sizeof(a->alog), "%s/%s.access", tmp, name);
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
app_create(void)
{
	char *args[] = {"hostapp", "--home", "home", "--functions",
			"read1,crud,slowread,flood,mastercount,twice,anypath,hello,"
			"read1d,bump,getuser",
			"--client-class-creation", NULL};
	char *out = NULL;
	json_t *j = ht_app_create(&app, home.addr, keyfile, args, &out);
	cr_expect(json_is_false(json_object_get(j, "functionsMaster")),
		  "functions_master is off by default: %s", out);
	json_decref(j);
	free(out);
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

/* Waits until @a a offers function @a fn to the app (its executors said
 * hello and the gateway knows). */
static void
wait_fn(const struct ht_agent *a, const char *fn)
{
	char path[128];
	snprintf(path, sizeof(path), "/functions/%s", fn);
	for (int i = 0; i < 300; i++) {
		struct ht_resp r = call(a, "POST", path, "{\"cls\":\"Probe\",\"id\":\"x\"}",
					"rest", NULL, NULL);
		long st = r.status;
		ht_resp_free(&r);
		if (st == 200)
			return;
		usleep(50000);
	}
	cr_assert_fail("agent %s never ran %s", a->name, fn);
}

static void
setup(void)
{
	tmp = ht_begin(keyfile, sizeof(keyfile));
	snprintf(plugin, sizeof(plugin), "%s/tests/plugins/.libs/hostfns.so",
		 BUILDDIR);
	snprintf(plugin2, sizeof(plugin2), "%s/examples/addon/.libs/hello.so",
		 BUILDDIR);
	agent_init(&home, "home");
	agent_init(&edge, "edge");
	agent_start(&home, NULL);
	agent_start(&edge, home.addr);
	app_create();
	ht_wait_app(&home, &app);
	ht_wait_app(&edge, &app);
	wait_fn(&edge, "read1");
}

static void
teardown(void)
{
	ht_end(tmp, (struct ht_agent *[]){&home, &edge, NULL});
}

TestSuite(hostapi, .init = setup, .fini = teardown, .timeout = 180);

static void
signup(const struct ht_agent *a, const char *name, char *token, char *id)
{
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"username\":\"%s\",\"password\":\"pw-%s\"}", name, name);
	struct ht_resp r = call(a, "POST", "/users", body, "rest", NULL, NULL);
	cr_assert_eq(r.status, 201, "signup %s: %ld %s", name, r.status, r.body);
	snprintf(token, 128, "%s", ht_jstr(r.json, "sessionToken"));
	snprintf(id, 64, "%s", ht_jstr(r.json, "objectId"));
	cr_assert(token[0] && id[0], "%s", r.body);
	ht_resp_free(&r);
}

/* A function's result object (POST /functions/FN through edge). */
static json_t *
fn(const char *name, const char *params, const char *session, long *status,
   const char *extra)
{
	char path[128];
	snprintf(path, sizeof(path), "/functions/%s", name);
	struct ht_resp r = call(&edge, "POST", path, params, "rest", session, extra);
	*status = r.status;
	json_t *res = json_incref(json_object_get(r.json, "result"));
	if (r.status == 200)
		cr_assert_not_null(res, "%s: %s", name, r.body);
	ht_resp_free(&r);
	return res;
}

/* An object of class @a cls only @a uid may read and write. */
static void
private_object(const char *cls, const char *token, const char *uid, char *id)
{
	char body[256], path[64];
	snprintf(body, sizeof(body),
		 "{\"secret\":42,\"ACL\":{\"%s\":{\"read\":true,\"write\":true}}}",
		 uid);
	snprintf(path, sizeof(path), "/classes/%s", cls);
	struct ht_resp r = call(&home, "POST", path, body, "rest", token, NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	snprintf(id, 64, "%s", ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
}

/* ------------------------------------------------------------- tests */

Test(hostapi, a_function_creates_reads_updates_and_deletes_as_its_user)
{
	char at[128], aid[64];
	signup(&home, "alice", at, aid);
	long st;
	json_t *res = fn("crud", "{\"cls\":\"Note\"}", at, &st, NULL);
	cr_assert_eq(st, 200);
	json_t *s = json_object_get(res, "statuses");
	long want[6] = {201, 200, 200, 200, 200, 404};
	for (int i = 0; i < 6; i++)
		cr_expect_eq(json_integer_value(json_array_get(s, (size_t)i)),
			     want[i], "step %d of create/get/update/get/delete/get", i);
	json_decref(res);

	/* read1 of an object from a client: the same object, the same bytes */
	char id[64];
	private_object("Note", at, aid, id);
	char params[256];
	snprintf(params, sizeof(params), "{\"cls\":\"Note\",\"id\":\"%s\"}", id);
	res = fn("read1", params, at, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 200);
	json_t *obj = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_eq(ht_jint(obj, "secret"), 42, "%s", ht_jstr(res, "body"));
	cr_expect_str_eq(ht_jstr(obj, "objectId"), id);
	json_decref(obj);
	json_decref(res);
	/* a function calling twice in a row keeps its reply valid */
	res = fn("twice", params, at, &st, NULL);
	cr_expect_eq(ht_jint(res, "a"), 200);
	cr_expect_eq(ht_jint(res, "b"), 200);
	json_decref(res);
}

Test(hostapi, an_object_the_caller_may_not_read_is_404_inside_the_function)
{
	char at[128], aid[64], bt[128], bid[64];
	signup(&home, "carol", at, aid);
	signup(&edge, "dave", bt, bid);
	char id[64], params[256];
	private_object("Secret", at, aid, id);
	snprintf(params, sizeof(params), "{\"cls\":\"Secret\",\"id\":\"%s\"}", id);
	long st;
	json_t *res = fn("read1", params, bt, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 404, "dave reads carol's: %s",
		     ht_jstr(res, "body"));
	json_t *e = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_eq(ht_jint(e, "code"), 101, "Parse's object-not-found: %s",
		     ht_jstr(res, "body"));
	json_decref(e);
	json_decref(res);
	res = fn("read1", params, NULL, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 404, "the public reads carol's");
	json_decref(res);
	res = fn("read1", params, at, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 200, "carol reads hers");
	json_decref(res);
}

Test(hostapi, the_master_key_only_when_declared_and_allowed)
{
	char at[128], aid[64], bt[128], bid[64];
	signup(&home, "erin", at, aid);
	signup(&home, "frank", bt, bid);
	char id[64], params[256];
	for (int i = 0; i < 3; i++)
		private_object("Vault", at, aid, id);
	snprintf(params, sizeof(params), "{\"cls\":\"Vault\",\"id\":\"%s\"}", id);
	long st;
	json_t *res = fn("mastercount", "{\"cls\":\"Vault\"}", bt, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 200);
	cr_expect_eq(ht_jint(res, "count"), 0,
		     "declared MIST_FN_MASTER, not allowed: acts as frank");
	json_decref(res);

	app_set("--functions-master", "on");
	long count = 0;
	for (int i = 0; i < 200 && count != 3; i++) {
		res = fn("mastercount", "{\"cls\":\"Vault\"}", bt, &st, NULL);
		count = ht_jint(res, "count");
		json_decref(res);
		if (count != 3)
			usleep(20000);
	}
	cr_expect_eq(count, 3, "allowed: the master key sees erin's three");
	/* a function that did not declare it still acts as its caller */
	res = fn("read1", params, bt, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 404);
	json_decref(res);
	/* a caller holding the master key passes it on, declared or not */
	struct ht_resp r = call(&edge, "POST", "/functions/read1", params, "master",
				NULL, NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(ht_jint(json_object_get(r.json, "result"), "status"), 200,
		     "%s", r.body);
	ht_resp_free(&r);
	app_set("--functions-master", "off");
	for (int i = 0; i < 200 && count != 0; i++) {
		res = fn("mastercount", "{\"cls\":\"Vault\"}", bt, &st, NULL);
		count = ht_jint(res, "count");
		json_decref(res);
		if (count != 0)
			usleep(20000);
	}
	cr_expect_eq(count, 0, "off again: frank's view");
}

/* The access log's lines of @a a, parsed (what has been flushed). */
static json_t *
log_lines(const struct ht_agent *a)
{
	json_t *all = json_array();
	FILE *f = fopen(a->alog, "r");
	if (f == NULL)
		return all;
	char line[8192];
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		if (j != NULL)
			json_array_append_new(all, j);
	}
	fclose(f);
	return all;
}

/* The "req" of the last log line of route @a route, and how many lines
 * name it as their parent (their statuses must be @a want, 0: any). */
static int
children_of_last(const char *route, int want, char *req, size_t cap)
{
	json_t *all = log_lines(&edge);
	req[0] = '\0';
	size_t i;
	json_t *l;
	json_array_foreach(all, i, l)
		if (strcmp(ht_jstr(l, "route"), route) == 0)
			snprintf(req, cap, "%s", ht_jstr(l, "req"));
	int n = 0;
	json_array_foreach(all, i, l)
		if (req[0] && strcmp(ht_jstr(l, "parent"), req) == 0 &&
		    (want == 0 || ht_jint(l, "status") == want))
			n++;
	json_decref(all);
	return n;
}

/* Every log line whose parent is @a req: a GET of class @a cls, of the
 * app. */
static void
expect_children(const char *req, const char *cls)
{
	json_t *all = log_lines(&edge);
	size_t i;
	json_t *l;
	json_array_foreach(all, i, l)
		if (strcmp(ht_jstr(l, "parent"), req) == 0) {
			cr_expect_str_eq(ht_jstr(l, "method"), "GET");
			cr_expect_str_eq(ht_jstr(l, "class"), cls);
			cr_expect_str_eq(ht_jstr(l, "app"), app.id);
		}
	json_decref(all);
}

Test(hostapi, host_calls_are_logged_under_the_request_that_caused_them)
{
	char at[128], aid[64], id[64], params[256];
	signup(&home, "gina", at, aid);
	private_object("Log", at, aid, id);
	snprintf(params, sizeof(params), "{\"cls\":\"Log\",\"id\":\"%s\"}", id);
	long st;
	json_t *res = fn("twice", params, at, &st, NULL);
	cr_assert_eq(st, 200);
	json_decref(res);
	/* the log is flushed every second */
	char req[32];
	int n = 0;
	for (int i = 0; i < 100 && n < 2; i++) {
		n = children_of_last("/parse/functions/twice", 200, req,
				     sizeof(req));
		if (n < 2)
			usleep(50000);
	}
	cr_expect(req[0] != '\0', "no log line of the function call");
	cr_expect_eq(n, 2, "two host calls with parent %s", req);
	expect_children(req, "Log");
}

Test(hostapi, the_deadline_is_shared)
{
	char at[128], aid[64], id[64], params[256];
	signup(&home, "hank", at, aid);
	private_object("Slow", at, aid, id);
	snprintf(params, sizeof(params), "{\"cls\":\"Slow\",\"id\":\"%s\"}", id);
	struct ht_resp r = call(&edge, "POST", "/functions/slowread", params, "rest",
				at, "X-Mist-Deadline-Ms: 400");
	/* either the pool killed it at the deadline (504), or in the
	 * watchdog's last tick its next host call was refused at once
	 * (MIST_HOST_ETIMEDOUT) and it returned first */
	if (r.status == 200) {
		json_t *res = json_object_get(r.json, "result");
		cr_expect_eq(ht_jint(res, "rc"), -6, "%s", r.body);
		cr_expect_lt(ht_jint(res, "calls"), 60, "%s", r.body);
	} else {
		ht_expect_error(&r, 504, 124,
				"a function calling the host past its deadline");
	}
	ht_resp_free(&r);
	/* its host calls happened, each inside the deadline */
	char req[32];
	int n = 0;
	for (int i = 0; i < 100 && n == 0; i++) {
		n = children_of_last("/parse/functions/slowread", 200, req,
				     sizeof(req));
		if (n == 0)
			usleep(50000);
	}
	cr_expect_gt(n, 3, "slowread made host calls (%d)", n);
	cr_expect_lt(n, 60, "no host call past 400 ms at 10 ms apart (%d)", n);
	/* the executors still serve */
	long st;
	json_t *res = fn("read1", params, at, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 200);
	json_decref(res);
}

Test(hostapi, a_function_flooding_the_host_api_is_rate_limited)
{
	char at[128], aid[64], id[64], params[256];
	signup(&home, "ivy", at, aid);
	private_object("Flood", at, aid, id);
	app_set("--user-rate", "5");
	snprintf(params, sizeof(params),
		 "{\"cls\":\"Flood\",\"id\":\"%s\",\"n\":40}", id);
	long limited = 0, ok = 0, st;
	for (int i = 0; i < 50 && limited == 0; i++) {
		json_t *res = fn("flood", params, at, &st, NULL);
		if (st == 429) {
			/* the call itself was limited: wait for the bucket */
			usleep(300000);
			continue;
		}
		cr_assert_eq(st, 200);
		limited = ht_jint(res, "limited");
		ok = ht_jint(res, "ok");
		cr_expect_eq(ht_jint(res, "other"), 0);
		cr_expect_eq(ht_jint(res, "failed"), 0);
		json_decref(res);
	}
	cr_expect_gt(limited, 0, "40 reads at 5/s: some refused");
	cr_expect_lt(ok, 40, "ok %ld", ok);
	app_set("--user-rate", "0");
}

Test(hostapi, documents_routes_only_and_query_strings)
{
	char at[128], aid[64], id[64];
	signup(&home, "jack", at, aid);
	private_object("Q", at, aid, id);
	long st;
	json_t *res = fn("anypath",
			 "{\"method\":\"POST\",\"path\":\"/functions/read1\","
			 "\"body\":\"{}\"}",
			 at, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 403, "no recursion: %s",
		     ht_jstr(res, "body"));
	json_decref(res);
	res = fn("anypath",
		 "{\"method\":\"POST\",\"path\":\"/batch\","
		 "\"body\":\"{\\\"requests\\\":[]}\"}",
		 at, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 403, "no batch: %s",
		     ht_jstr(res, "body"));
	json_decref(res);
	/* a find with a where in the query string */
	res = fn("anypath",
		 "{\"method\":\"GET\",\"path\":"
		 "\"/classes/Q?where=%7B%22secret%22%3A42%7D&count=1\"}",
		 at, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 200, "%s", ht_jstr(res, "body"));
	json_t *b = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_eq(ht_jint(b, "count"), 1, "%s", ht_jstr(res, "body"));
	json_decref(b);
	json_decref(res);
	/* keys in the body are not the function's to choose */
	char params[512];
	snprintf(params, sizeof(params),
		 "{\"method\":\"GET\",\"path\":\"/classes/Q/%s\","
		 "\"body\":\"{\\\"_MasterKey\\\":\\\"%s\\\"}\"}",
		 id, app.master);
	res = fn("anypath", params, NULL, &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 404, "a _MasterKey in the body: %s",
		     ht_jstr(res, "body"));
	json_decref(res);
	/* /users/me is the caller */
	res = fn("anypath", "{\"method\":\"GET\",\"path\":\"/users/me\"}", at,
		 &st, NULL);
	cr_expect_eq(ht_jint(res, "status"), 200, "%s", ht_jstr(res, "body"));
	b = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_str_eq(ht_jstr(b, "username"), "jack");
	json_decref(b);
	json_decref(res);
}

/* Many calls at once, each reading its own object: the executors run them
 * interleaved and pipeline their host calls; every answer reaches the
 * call that asked. */
#define NCONC 48
Test(hostapi, concurrent_calls_each_get_their_own_answer)
{
	char at[128], aid[64];
	signup(&home, "kate", at, aid);
	char ids[NCONC][64], bodies[NCONC][128];
	for (int i = 0; i < NCONC; i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"k\":%d}", i);
		struct ht_resp r = call(&home, "POST", "/classes/Many", body, "rest",
					at, NULL);
		cr_assert_eq(r.status, 201, "%s", r.body);
		snprintf(ids[i], sizeof(ids[i]), "%s", ht_jstr(r.json, "objectId"));
		ht_resp_free(&r);
		snprintf(bodies[i], sizeof(bodies[i]),
			 "{\"cls\":\"Many\",\"id\":\"%.63s\"}", ids[i]);
	}
	CURLM *m = curl_multi_init();
	CURL *e[NCONC];
	struct ht_resp rs[NCONC];
	struct curl_slist *hl = NULL;
	char h[256], url[256];
	snprintf(h, sizeof(h), "X-Parse-Application-Id: %s", app.id);
	hl = curl_slist_append(hl, h);
	snprintf(h, sizeof(h), "X-Parse-REST-API-Key: %s", app.rest);
	hl = curl_slist_append(hl, h);
	snprintf(h, sizeof(h), "X-Parse-Session-Token: %s", at);
	hl = curl_slist_append(hl, h);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	snprintf(url, sizeof(url), "http://%s/parse/functions/read1", edge.http);
	memset(rs, 0, sizeof(rs));
	for (int i = 0; i < NCONC; i++) {
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, ht_on_body);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &rs[i]);
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 20000L);
		curl_multi_add_handle(m, e[i]);
	}
	int running = 1;
	while (running > 0) {
		cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (int i = 0; i < NCONC; i++) {
		long st = 0;
		curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &st);
		cr_expect_eq(st, 200, "call %d: %ld %s", i, st,
			     rs[i].body ? rs[i].body : "");
		json_t *j = json_loadb(rs[i].body ? rs[i].body : "", rs[i].len, 0,
				       NULL);
		json_t *res = json_object_get(j, "result");
		json_t *obj = json_loads(ht_jstr(res, "body"), 0, NULL);
		cr_expect_str_eq(ht_jstr(obj, "objectId"), ids[i], "call %d", i);
		cr_expect_eq(ht_jint(obj, "k"), i, "call %d", i);
		json_decref(obj);
		json_decref(j);
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
		free(rs[i].body);
	}
	curl_slist_free_all(hl);
	curl_multi_cleanup(m);
}

/* ------------------------------------------------------ declared reads */

static long long
host_calls(void)
{
	long long v = ht_metric(edge.http, "mist_fn_host_calls_total");
	cr_assert_geq(v, 0, "edge's /metrics has no host-call counter");
	return v;
}

/* read1d is read1 declaring "/classes/Item/{id}": the gateway reads the
 * object as the caller when the call arrives, and the function's GET is
 * answered in its executor. */
Test(hostapi, a_declared_read_answers_as_the_host_call_would_without_one)
{
	char at[128], aid[64], bt[128], bid[64], id[64], params[256];
	signup(&home, "ivy", at, aid);
	signup(&edge, "jack", bt, bid);
	private_object("Item", at, aid, id);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	const char *who[] = {at, bt, NULL};
	const long want[] = {200, 404, 404};
	long long h0 = host_calls();
	for (int i = 0; i < 3; i++) {
		long st, std;
		json_t *h = fn("read1", params, who[i], &st, NULL);
		json_t *d = fn("read1d", params, who[i], &std, NULL);
		cr_assert_eq(st, 200);
		cr_assert_eq(std, 200);
		cr_expect_eq(ht_jint(d, "status"), want[i], "caller %d: %s", i,
			     ht_jstr(d, "body"));
		cr_expect_eq(ht_jint(d, "status"), ht_jint(h, "status"));
		cr_expect_str_eq(ht_jstr(d, "body"), ht_jstr(h, "body"),
				 "caller %d: the declared read's answer is the "
				 "host call's", i);
		json_decref(h);
		json_decref(d);
	}
	cr_expect_eq(host_calls() - h0, 3, "read1's three host calls only");
	/* the read is logged as the host call was: one line, its parent
	 * the function call */
	char req[32];
	int n = 0;
	for (int i = 0; i < 100 && n < 1; i++) {
		n = children_of_last("/parse/functions/read1d", 404, req,
				     sizeof(req));
		if (n < 1)
			usleep(50000);
	}
	cr_expect_eq(n, 1, "one read with parent %s", req);
	expect_children(req, "Item");
}

/* bump: GET (declared), PUT n += 1, GET: the second GET must see the
 * write, so it goes to the host. */
Test(hostapi, a_declared_read_gives_way_to_the_functions_own_writes)
{
	char at[128], aid[64], id[64], params[256];
	signup(&home, "kim", at, aid);
	struct ht_resp r = call(&home, "POST", "/classes/Item",
				"{\"n\":1}", "rest", at, NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	snprintf(id, sizeof(id), "%s", ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	long long h0 = host_calls();
	long st;
	json_t *res = fn("bump", params, at, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "a"), 200);
	cr_expect_eq(ht_jint(res, "b"), 200);
	cr_expect_eq(ht_jint(res, "c"), 200);
	json_t *o = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_eq(ht_jint(o, "n"), 2, "the GET after the write sees it: %s",
		     ht_jstr(res, "body"));
	json_decref(o);
	json_decref(res);
	cr_expect_eq(host_calls() - h0, 2, "the PUT and the second GET");
}

/* Params whose member is no object id: no read is made, the function's
 * GET goes to the host and gets the caller's answer. */
Test(hostapi, params_naming_no_object_leave_the_read_to_the_host)
{
	long long h0 = host_calls();
	long st;
	json_t *res = fn("read1d", "{\"id\":\"not an id!\"}", NULL, &st,
			 NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 404, "%s", ht_jstr(res, "body"));
	json_decref(res);
	cr_expect_eq(host_calls() - h0, 1, "the function's own GET");
}

/* getuser declares "/users/{uid}": a user reads their own record. */
Test(hostapi, a_declared_read_of_a_user)
{
	char at[128], aid[64], params[256];
	signup(&home, "lee", at, aid);
	snprintf(params, sizeof(params), "{\"uid\":\"%s\"}", aid);
	long long h0 = host_calls();
	long st;
	json_t *res = fn("getuser", params, at, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 200, "%s", ht_jstr(res, "body"));
	json_t *o = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_str_eq(ht_jstr(o, "username"), "lee", "%s",
			 ht_jstr(res, "body"));
	json_decref(o);
	json_decref(res);
	cr_expect_eq(host_calls() - h0, 0, "answered in the executor");
}

/* A declared read refused for the moment (here 429: the user's bucket
 * empty) is not carried: the function's GET goes to the host, which
 * answers for itself.  Reads that stand are answered in the executor. */
Test(hostapi, a_declared_read_refused_for_the_moment_is_left_to_the_host)
{
	char at[128], aid[64], id[64], params[256];
	signup(&home, "nia", at, aid);
	private_object("Item", at, aid, id);
	snprintf(params, sizeof(params), "{\"id\":\"%s\"}", id);
	app_set("--user-rate", "5");
	int limited = 0, fine = 0;
	for (int i = 0; i < 50 && limited == 0; i++) {
		long long h0 = host_calls();
		long st;
		json_t *res = fn("read1d", params, at, &st, NULL);
		if (st == 429) { /* the call itself: wait for the bucket */
			usleep(300000);
			continue;
		}
		cr_assert_eq(st, 200);
		long long status = ht_jint(res, "status");
		json_decref(res);
		if (status == 429) {
			limited++;
			cr_expect_eq(host_calls() - h0, 1,
				     "the limited read went to the host");
		} else {
			fine++;
			cr_expect_eq(status, 200);
			cr_expect_eq(host_calls() - h0, 0, "answered in the executor");
		}
	}
	app_set("--user-rate", "0");
	cr_expect_gt(limited, 0, "5/s: a read was limited");
	cr_expect_gt(fine, 0, "and one before it was not");
}

/* /users/me is the caller's own user (parse_req.h), not the object
 * "me": a declared /users/{uid} read with uid "me" is left to the host
 * call, which answers it so. */
Test(hostapi, a_declared_user_read_of_me_is_the_host_calls)
{
	char at[128], aid[64];
	signup(&home, "mo", at, aid);
	long long h0 = host_calls();
	long st;
	json_t *res = fn("getuser", "{\"uid\":\"me\"}", at, &st, NULL);
	cr_assert_eq(st, 200);
	cr_expect_eq(ht_jint(res, "status"), 200, "%s", ht_jstr(res, "body"));
	json_t *o = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_expect_str_eq(ht_jstr(o, "objectId"), aid, "%s", ht_jstr(res, "body"));
	json_decref(o);
	json_decref(res);
	cr_expect_eq(host_calls() - h0, 1, "the host call answered it");
}
