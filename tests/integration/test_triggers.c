/*
 * test_triggers.c -- Cloud Code triggers (gateway/triggers.h) on real
 * agents, through a real HTTP client (libcurl) on loopback, port 0.
 *
 * Two agents joined, both loading examples/addon/triggers.c: "home" holds
 * the app's documents, "edge" serves the requests (so a trigger runs on
 * edge's executors and the write crosses the link to home).  The app
 * lists the triggers it runs; beforeSave:Unlisted, which the plugin
 * offers too, it does not.  What is shown:
 *   - beforeSave changes the object (a score clamped, a field set), and
 *     the client's answer has the changed fields; it refuses with its
 *     message (400 code 141) and nothing is written; it gets the request's
 *     class, id, master flag, address and an update's stored object; a
 *     result that is not nil, true
 *     or an object refuses; signup runs beforeSave:_User;
 *   - a trigger that never ends is refused at the request's deadline
 *     (504 code 124), and at its own 3 s without one; one that crashes
 *     its executor, or that no node offers, is refused too; nothing is
 *     written;
 *   - afterSave runs after the answer, and its failure leaves the 201;
 *     each trigger call has an access-log line whose parent is the
 *     request's req;
 *   - beforeDelete sees the stored object and refuses; a delete of a
 *     missing object is 404 before any trigger;
 *   - in a /batch each sub-request runs its triggers alone;
 *   - a trigger the app does not list never runs, and one taken off the
 *     list stops running; /functions/beforeSave:X is "Invalid function".
 */
#include "httptest.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;
static char keyfile[512];
static char plugin[512];
static char access_log[600];

static struct ht_agent home, edge;
static struct ht_app app;

/* The functions the app lists (the triggers it runs). */
#define APP_FUNCTIONS                                                      \
	"beforeSave:GameScore,afterSave:GameScore,beforeDelete:GameScore," \
	"afterDelete:GameScore,beforeSave:_User,beforeSave:Spin,"          \
	"afterSave:Flaky,beforeSave:Bad,beforeSave:Probe,beforeSave:Crash,"  \
	"beforeSave:Ghost,afterSave:Slow,submitScore,beforeSave:Echo"

/* Extra arguments for the next agent_start (NULL-terminated), or NULL. */
static char **agent_extra;

static void
agent_start(struct ht_agent *a, const char *join)
{
	const char *plugins[] = {plugin, NULL};
	ht_agent_start(a, keyfile, plugins, join, agent_extra);
}

/* ------------------------------------------------------------- HTTP */

/* One request to @a a's /parse + @a path; @a key "rest" or "master";
 * @a extra: one more header line or NULL. */
static struct ht_resp
call(const struct ht_agent *a, const char *method, const char *path,
     const char *body, const char *key, const char *extra)
{
	struct ht_req q = {method, path, body, key, NULL, extra,
			   JSON_DECODE_ANY};
	return ht_call(a->http, &app, &q);
}

static void
expect_error(struct ht_resp *r, long status, int code, const char *msg,
	     const char *what)
{
	ht_expect_code(r, status, code, what);
	if (msg != NULL)
		cr_expect_str_eq(ht_jstr(r->json, "error"), msg, "%s", what);
}

/* Creates an object of @a cls through edge; its id in @a id. */
static void
create(const char *cls, const char *body, char id[64])
{
	char path[128];
	snprintf(path, sizeof(path), "/classes/%s", cls);
	struct ht_resp r = call(&edge, "POST", path, body, "rest", NULL);
	cr_assert_eq(r.status, 201, "create %s %s: %ld %s", cls, body, r.status,
		     r.body);
	snprintf(id, 64, "%s", ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
}

/* How many objects @a cls holds (read through home, with the master
 * key: nothing hides one). */
static long long
count(const char *cls)
{
	char path[128];
	snprintf(path, sizeof(path), "/classes/%s?count=1&limit=0", cls);
	struct ht_resp r = call(&home, "GET", path, NULL, "master", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	long long n = ht_jint(r.json, "count");
	ht_resp_free(&r);
	return n;
}

/* ------------------------------------------------------------ set-up */

static void
app_cmd(char **args, char **out)
{
	ht_apps(home.addr, keyfile, args, out);
}

static void
app_create(void)
{
	char *args[] = {"trigapp", "--home", "home", "--functions",
			APP_FUNCTIONS, "--client-class-creation", NULL};
	json_decref(ht_app_create(&app, home.addr, keyfile, args, NULL));
}

/* Waits until @a a's gateway knows the app (apps spread by gossip) and
 * offers the triggers (functions spread in gossip's metadata). */
static void
wait_ready(const struct ht_agent *a)
{
	for (int i = 0; i < 300; i++) {
		struct ht_resp r = call(a, "POST", "/classes/GameScore",
					"{\"score\":1}", "rest", NULL);
		long st = r.status;
		long long code = ht_jint(r.json, "code");
		ht_resp_free(&r);
		if (st == 400 && code == 141)
			return; /* refused by beforeSave: no playerName */
		usleep(50000);
	}
	cr_assert_fail("agent %s never ran the app's triggers", a->name);
}

static void
setup(void)
{
	tmp = ht_begin(keyfile, sizeof(keyfile));
	snprintf(plugin, sizeof(plugin),
		 "%s/examples/addon/.libs/triggers.so", BUILDDIR);
	snprintf(access_log, sizeof(access_log), "%s/edge-access.log", tmp);
	ht_agent_init(&home, tmp, "home");
	ht_agent_init(&edge, tmp, "edge");
	agent_start(&home, NULL);
	char *extra[] = {"--access-log", access_log, NULL};
	agent_extra = extra;
	agent_start(&edge, home.addr);
	agent_extra = NULL;
	app_create();
	wait_ready(&home);
	wait_ready(&edge);
}

static void
teardown(void)
{
	ht_end(tmp, (struct ht_agent *[]){&home, &edge, NULL});
}

TestSuite(triggers, .init = setup, .fini = teardown, .timeout = 180);

/* ------------------------------------------------------- access log */

/* The access-log line of a request: @a method, @a route, @a status. */
struct logq {
	const char *method, *route;
	long status; /* 0: any */
	const char *parent; /* NULL: any */
};

static bool
line_is(const json_t *l, const struct logq *q)
{
	return strcmp(ht_jstr(l, "method"), q->method) == 0 &&
	       strcmp(ht_jstr(l, "route"), q->route) == 0 &&
	       (q->status == 0 || ht_jint(l, "status") == q->status) &&
	       (q->parent == NULL || strcmp(ht_jstr(l, "parent"), q->parent) == 0);
}

/*
 * Waits (bounded: the log is flushed every second) for a line of edge's
 * access log matching @a q; its "req" in @a req (17 bytes) if not NULL.
 * false if none came.
 */
static bool
log_find(const struct logq *q, char *req)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(access_log, "r");
		char line[4096];
		bool found = false;
		while (f != NULL && !found && fgets(line, sizeof(line), f)) {
			json_t *l = json_loads(line, 0, NULL);
			if (l != NULL && line_is(l, q)) {
				found = true;
				if (req != NULL)
					snprintf(req, 17, "%s", ht_jstr(l, "req"));
			}
			json_decref(l);
		}
		if (f != NULL)
			fclose(f);
		if (found)
			return true;
		usleep(100000);
	}
	return false;
}

/* ------------------------------------------------------------- tests */

Test(triggers, before_save_changes_or_refuses_the_write)
{
	long long before = count("GameScore"); /* wait_ready wrote none */
	cr_expect_eq(before, 0);
	struct ht_resp r = call(&edge, "POST", "/classes/GameScore",
				"{\"playerName\":\"fog\",\"score\":99999}", "rest",
				NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	/* the answer shows what the trigger changed, as parse-server's */
	cr_expect_eq(ht_jint(r.json, "score"), 1000, "%s", r.body);
	cr_expect(json_is_true(json_object_get(r.json, "checked")), "%s", r.body);
	cr_expect_null(json_object_get(r.json, "playerName"),
		       "unchanged fields are not echoed: %s", r.body);
	char path[128];
	snprintf(path, sizeof(path), "/classes/GameScore/%s",
		 ht_jstr(r.json, "objectId"));
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(ht_jint(r.json, "score"), 1000, "stored clamped: %s", r.body);
	cr_expect_str_eq(ht_jstr(r.json, "playerName"), "fog");
	cr_expect(json_is_true(json_object_get(r.json, "checked")));
	ht_resp_free(&r);

	/* an update goes through it too (a read first, for "original") */
	r = call(&edge, "PUT", path, "{\"score\":-4}", "rest", NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(ht_jint(r.json, "score"), 0, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_expect_eq(ht_jint(r.json, "score"), 0, "%s", r.body);
	ht_resp_free(&r);

	/* an update of nothing: the write's 404 */
	r = call(&edge, "PUT", "/classes/GameScore/nope", "{\"score\":1}",
		 "rest", NULL);
	expect_error(&r, 404, 101, NULL, "an update of nothing");
	ht_resp_free(&r);

	/* refused with the trigger's message: nothing written */
	r = call(&edge, "POST", "/classes/GameScore", "{\"score\":7}", "rest",
		 NULL);
	expect_error(&r, 400, 141, "a GameScore needs a playerName",
		     "beforeSave refuses");
	ht_resp_free(&r);
	cr_expect_eq(count("GameScore"), 1);

	/* a result that is neither nil, true nor an object refuses */
	r = call(&edge, "POST", "/classes/Bad", "{\"x\":1}", "rest", NULL);
	expect_error(&r, 400, 141, NULL, "a number returned");
	cr_expect_not_null(strstr(ht_jstr(r.json, "error"), "beforeSave:Bad"),
			   "%s", r.body);
	ht_resp_free(&r);
	cr_expect_eq(count("Bad"), 0);

	/* signup: beforeSave:_User refuses one name, lets others through
	 * (true: as sent) */
	r = call(&edge, "POST", "/users",
		 "{\"username\":\"root\",\"password\":\"pw\"}", "rest", NULL);
	expect_error(&r, 400, 141, "the username root is reserved", "signup");
	ht_resp_free(&r);
	r = call(&edge, "GET", "/login?username=root&password=pw", NULL, "rest",
		 NULL);
	expect_error(&r, 404, 101, NULL, "root was never created");
	ht_resp_free(&r);
	r = call(&edge, "POST", "/users",
		 "{\"username\":\"ann\",\"password\":\"pw\"}", "rest", NULL);
	cr_expect_eq(r.status, 201, "%s", r.body);
	cr_expect(ht_jstr(r.json, "sessionToken")[0] != '\0', "%s", r.body);
	ht_resp_free(&r);
}

/* A function's writes through the host API run the class's triggers, as
 * a client's do; a trigger's own writes run none. */
Test(triggers, host_api_writes_run_triggers_but_a_triggers_do_not)
{
	struct ht_resp r = call(&edge, "POST", "/functions/submitScore",
				"{\"playerName\":\"fn\",\"score\":5000}", "rest",
				NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *res = json_object_get(r.json, "result");
	cr_assert_eq(ht_jint(res, "status"), 201, "%s", r.body);
	json_t *made = json_loads(ht_jstr(res, "body"), 0, NULL);
	cr_assert_not_null(made, "%s", r.body);
	cr_expect_eq(ht_jint(made, "score"), 1000, "clamped by beforeSave: %s",
		     r.body);
	char path[128];
	snprintf(path, sizeof(path), "/classes/GameScore/%s",
		 ht_jstr(made, "objectId"));
	json_decref(made);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(ht_jint(r.json, "score"), 1000, "stored clamped: %s", r.body);
	cr_expect(json_is_true(json_object_get(r.json, "checked")), "%s",
		  r.body);
	ht_resp_free(&r);
	/* and below: the answer the function got is the trigger's too */
	r = call(&edge, "POST", "/functions/submitScore",
		 "{\"playerName\":\"x\",\"score\":-3}", "rest", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	res = json_object_get(r.json, "result");
	cr_expect_eq(ht_jint(res, "status"), 201, "%s", r.body);
	cr_expect_not_null(strstr(ht_jstr(res, "body"), "\"score\":0"), "%s",
			   r.body);
	ht_resp_free(&r);

	/* beforeSave:Echo saves a copy of its object through the host API:
	 * one client save, two objects -- the copy ran no trigger */
	r = call(&edge, "POST", "/classes/Echo", "{\"n\":1}", "rest", NULL);
	cr_assert_eq(r.status, 201, "%s", r.body);
	ht_resp_free(&r);
	cr_expect_eq(count("Echo"), 2, "the trigger's own write ran no trigger");
}

Test(triggers, a_trigger_gets_the_request)
{
	char id[64];
	create("Probe", "{\"x\":1}", id);
	char path[128];
	snprintf(path, sizeof(path), "/classes/Probe/%s", id);
	struct ht_resp r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(ht_jstr(r.json, "sawTrigger"), "beforeSave");
	cr_expect_str_eq(ht_jstr(r.json, "sawClass"), "Probe");
	cr_expect(json_is_false(json_object_get(r.json, "sawMaster")), "%s",
		  r.body);
	cr_expect_str_eq(ht_jstr(r.json, "sawIp"), "127.0.0.1");
	cr_expect_null(json_object_get(r.json, "sawId"), "a create has no id");
	cr_expect_null(json_object_get(r.json, "sawOriginalX"),
		       "nor an original");
	cr_expect_eq(ht_jint(r.json, "x"), 1);
	cr_expect_null(json_object_get(r.json, "sawContext"), "%s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "PUT", path, "{\"y\":2}", "master",
		 "X-Parse-Cloud-Context: {\"from\":\"test\"}");
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_expect_str_eq(ht_jstr(r.json, "sawId"), id, "%s", r.body);
	cr_expect_eq(ht_jint(r.json, "sawOriginalX"), 1,
		     "an update's trigger gets the stored object: %s", r.body);
	cr_expect(json_is_true(json_object_get(r.json, "sawMaster")), "%s",
		  r.body);
	cr_expect_str_eq(ht_jstr(json_object_get(r.json, "sawContext"), "from"),
			 "test", "%s", r.body);
	ht_resp_free(&r);
}

Test(triggers, a_trigger_that_never_ends_refuses_the_write)
{
	/* at the request's deadline */
	struct ht_resp r = call(&edge, "POST", "/classes/Spin", "{\"x\":1}", "rest",
				"X-Mist-Deadline-Ms: 500");
	expect_error(&r, 504, 124, NULL, "a looping beforeSave");
	/* the request's deadline ended it, not the trigger's 3 s limit nor
	 * the app's 10 s (a loose bound: the point is which clock) */
	cr_expect_lt(r.ms, 2900, "answered after %ld ms", r.ms);
	ht_resp_free(&r);
	/* at the trigger's own limit, without one */
	r = call(&edge, "POST", "/classes/Spin", "{\"x\":2}", "rest", NULL);
	expect_error(&r, 504, 124,
		     "beforeSave:Spin timed out (a trigger runs at most 3000 ms)",
		     "the trigger limit");
	cr_expect_lt(r.ms, 9000, "answered after %ld ms", r.ms);
	ht_resp_free(&r);
	cr_expect_eq(count("Spin"), 0, "nothing written");
	/* the executors still serve */
	char id[64];
	create("GameScore", "{\"playerName\":\"after\",\"score\":3}", id);
}

Test(triggers, a_crash_or_a_trigger_nobody_offers_refuses_the_write)
{
	struct ht_resp r = call(&edge, "POST", "/classes/Crash", "{\"x\":1}",
				"rest", NULL);
	expect_error(&r, 400, 141, NULL, "a crashing beforeSave");
	cr_expect(ht_jstr(r.json, "error")[0] != '\0', "%s", r.body);
	ht_resp_free(&r);
	cr_expect_eq(count("Crash"), 0, "nothing written");
	/* listed by the app, offered by no plugin */
	r = call(&edge, "POST", "/classes/Ghost", "{\"x\":1}", "rest", NULL);
	expect_error(&r, 503, 100,
		     "the app lists the trigger beforeSave:Ghost but no node "
		     "offers it",
		     "a trigger nobody offers");
	ht_resp_free(&r);
	cr_expect_eq(count("Ghost"), 0, "nothing written");
	/* the executors still serve */
	char id[64];
	create("GameScore", "{\"playerName\":\"c\",\"score\":3}", id);
}

Test(triggers, after_triggers_run_after_the_answer_and_are_logged)
{
	char id[64], req[17] = "", treq[17] = "";
	create("Flaky", "{\"v\":1}", id); /* afterSave:Flaky fails: still 201 */
	struct logq q = {"POST", "/parse/classes/Flaky", 201, NULL};
	cr_assert(log_find(&q, req), "no access-log line for the create");
	struct logq t = {"TRIGGER", "afterSave:Flaky", 400, req};
	cr_expect(log_find(&t, NULL),
		  "no failed afterSave:Flaky line with parent %s", req);
	cr_expect_eq(count("Flaky"), 1);

	create("GameScore", "{\"playerName\":\"p\",\"score\":5}", id);
	q = (struct logq){"POST", "/parse/classes/GameScore", 201, NULL};
	cr_assert(log_find(&q, req));
	t = (struct logq){"TRIGGER", "beforeSave:GameScore", 200, req};
	cr_expect(log_find(&t, treq), "no beforeSave line with parent %s", req);
	cr_expect_neq(strcmp(treq, req), 0, "a trigger call has its own req");
	t = (struct logq){"TRIGGER", "afterSave:GameScore", 200, req};
	cr_expect(log_find(&t, NULL), "no afterSave line with parent %s", req);
}

Test(triggers, before_delete_sees_the_object_and_refuses)
{
	char id[64];
	create("GameScore", "{\"playerName\":\"l\",\"score\":1,\"locked\":true}",
	       id);
	char path[128];
	snprintf(path, sizeof(path), "/classes/GameScore/%s", id);
	struct ht_resp r = call(&edge, "DELETE", path, NULL, "rest", NULL);
	expect_error(&r, 400, 141, "this score is locked", "beforeDelete");
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_expect_eq(r.status, 200, "still there: %s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "PUT", path, "{\"locked\":false}", "rest", NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&edge, "DELETE", path, NULL, "rest", NULL);
	cr_expect_eq(r.status, 200, "%s", r.body);
	ht_resp_free(&r);
	r = call(&home, "GET", path, NULL, "rest", NULL);
	expect_error(&r, 404, 101, NULL, "deleted");
	ht_resp_free(&r);
	/* the afterDelete ran, under the delete */
	char req[17];
	struct logq q = {"DELETE", "/parse", 200, NULL};
	char route[160];
	snprintf(route, sizeof(route), "/parse%s", path);
	q.route = route;
	cr_assert(log_find(&q, req));
	struct logq t = {"TRIGGER", "afterDelete:GameScore", 200, req};
	cr_expect(log_find(&t, NULL), "no afterDelete line with parent %s", req);
	/* a missing object: 404 from the read, no trigger runs */
	r = call(&edge, "DELETE", "/classes/GameScore/nope", NULL, "rest", NULL);
	expect_error(&r, 404, 101, NULL, "a delete of nothing");
	ht_resp_free(&r);
}

Test(triggers, each_sub_request_of_a_batch_runs_its_triggers)
{
	const char *body =
		"{\"requests\":["
		"{\"method\":\"POST\",\"path\":\"/parse/classes/GameScore\","
		"\"body\":{\"playerName\":\"b\",\"score\":2000}},"
		"{\"method\":\"POST\",\"path\":\"/parse/classes/GameScore\","
		"\"body\":{\"score\":1}},"
		"{\"method\":\"POST\",\"path\":\"/parse/classes/Other\","
		"\"body\":{\"a\":1}}]}";
	struct ht_resp r = call(&edge, "POST", "/batch", body, "rest", NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(json_array_size(r.json), 3, "%s", r.body);
	json_t *ok = json_object_get(json_array_get(r.json, 0), "success");
	cr_expect_eq(ht_jint(ok, "score"), 1000, "%s", r.body);
	json_t *err = json_object_get(json_array_get(r.json, 1), "error");
	cr_expect_eq(ht_jint(err, "code"), 141, "%s", r.body);
	cr_expect_str_eq(ht_jstr(err, "error"), "a GameScore needs a playerName");
	cr_expect_not_null(json_object_get(
		json_object_get(json_array_get(r.json, 2), "success"),
		"objectId"), "%s", r.body);
	ht_resp_free(&r);
	cr_expect_eq(count("GameScore"), 1);
	cr_expect_eq(count("Other"), 1);
}

Test(triggers, only_the_triggers_the_app_lists_run)
{
	char id[64];
	create("Unlisted", "{\"v\":1}", id);
	char path[128];
	snprintf(path, sizeof(path), "/classes/Unlisted/%s", id);
	struct ht_resp r = call(&home, "GET", path, NULL, "rest", NULL);
	cr_expect_eq(ht_jint(r.json, "v"), 1, "%s", r.body);
	cr_expect_null(json_object_get(r.json, "touched"),
		       "beforeSave:Unlisted ran: %s", r.body);
	ht_resp_free(&r);
	/* never callable by name, listed or not */
	r = call(&edge, "POST", "/functions/beforeSave:GameScore", "{}", "rest",
		 NULL);
	expect_error(&r, 400, 141, NULL, "a trigger called as a function");
	cr_expect_not_null(strstr(ht_jstr(r.json, "error"), "Invalid function"),
			   "%s", r.body);
	ht_resp_free(&r);
	/* taken off the list: it stops running (once the change spread) */
	char *args[] = {"set", app.id, "--functions", "afterSave:Flaky", NULL};
	char *out = NULL;
	app_cmd(args, &out);
	free(out);
	long st = 0;
	for (int i = 0; i < 200 && st != 201; i++) {
		r = call(&edge, "POST", "/classes/GameScore", "{\"score\":5000}",
			 "rest", NULL);
		st = r.status;
		ht_resp_free(&r);
		if (st != 201)
			usleep(50000);
	}
	cr_expect_eq(st, 201, "beforeSave:GameScore still runs once unlisted");
}

/* Lines of the access log holding @a what. */
static int
log_count(const char *what)
{
	FILE *f = fopen(access_log, "r");
	if (f == NULL)
		return 0;
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/*
 * After triggers are bounded per app (TRIG_AFTER_PER_APP): they run once
 * the client has its answer, outside the request's own limits, so a burst
 * of writes with a slow afterSave must not take every function slot of
 * the node.  80 creates in a burst: every client gets its 201, at most 64
 * afterSave:Slow calls are made while the first are still running, and
 * the rest are not run (and said so).
 */
Test(triggers, after_triggers_are_bounded_per_app)
{
	char id[64];
	for (int i = 0; i < 80; i++)
		create("Slow", "{\"v\":1}", id);
	/* each call ends (done or out of its 3 s) and is logged; wait for
	 * the count to settle */
	int n = 0, last = -1;
	for (int i = 0; i < 100 && n == 0; i++) {
		usleep(100000);
		n = log_count("afterSave:Slow");
	}
	/* the log is flushed every second: settled when two flushes apart
	 * say the same */
	for (int i = 0; i < 30 && n != last; i++) {
		last = n;
		usleep(1200000);
		n = log_count("afterSave:Slow");
	}
	cr_expect_eq(count("Slow"), 80, "every write was made");
	cr_expect_gt(n, 0, "no afterSave:Slow ran");
	cr_expect_lt(n, 80, "all 80 after triggers ran at once: unbounded");
	cr_expect_leq(n, 64 + 10, "%d after triggers ran", n);
}
