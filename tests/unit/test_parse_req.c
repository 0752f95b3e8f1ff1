/*
 * test_parse_req.c -- the Parse REST decoder (gateway/parse_req.h): every
 * route and the methods it takes, the header form and the JS SDK's body
 * form (bodies shaped as the SDK's RESTController sends them),
 * percent-decoding, query parameters, /batch and its sub-requests, and
 * every error path with its Parse code and HTTP status.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/parse_req.h"
#include "mist.h"
#include "testutil.h"
#include "util/rand.h"

/* A request: headers as "name", "value" pairs, NULL-terminated. */
static struct http_req
mkreq(const char *method, const char *path, const char *query, const char *body,
      ...)
{
	struct http_req r;
	memset(&r, 0, sizeof(r));
	r.method = method;
	r.path = path;
	r.query = query != NULL ? query : "";
	r.ip = "127.0.0.1";
	r.body = (const uint8_t *)body;
	r.body_len = body != NULL ? strlen(body) : 0;
	va_list ap;
	va_start(ap, body);
	const char *n;
	while ((n = va_arg(ap, const char *)) != NULL) {
		r.hdrs[r.nhdrs].name = n;
		r.hdrs[r.nhdrs].value = va_arg(ap, const char *);
		r.nhdrs++;
	}
	va_end(ap);
	return r;
}

#define APPH "x-parse-application-id", "myapp"

/* Decodes and expects success. */
static void
ok(const struct http_req *r, struct preq *p)
{
	struct perr e = {0};
	int rc = preq_decode(r, "/parse", p, &e);
	cr_assert_eq(rc, 0, "%s %s?%s: %d %d %s", r->method, r->path, r->query,
		     e.http, e.code, e.msg);
}

/* Decodes and expects an error with @a http and @a code. */
static void
bad(const struct http_req *r, int http, int code, const char *msg_part)
{
	struct preq p;
	struct perr e = {0};
	int rc = preq_decode(r, "/parse", &p, &e);
	cr_assert_eq(rc, MIST_EPROTO, "%s %s?%s decoded", r->method, r->path,
		     r->query);
	cr_assert_eq(e.http, http, "%s %s: http %d (%s)", r->method, r->path,
		     e.http, e.msg);
	cr_assert_eq(e.code, code, "%s %s: code %d (%s)", r->method, r->path,
		     e.code, e.msg);
	if (msg_part != NULL)
		cr_assert(strstr(e.msg, msg_part) != NULL, "message: %s", e.msg);
	cr_assert_null(p.body);
	cr_assert_null(p.params);
}

static void
route_ok(const char *method, const char *path, enum preq_route route,
	 enum preq_method m, const char *cls, const char *id)
{
	struct http_req r = mkreq(method, path, NULL, NULL, APPH, NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, route, "%s %s: route %d", method, path, p.route);
	cr_assert_eq(p.method, m, "%s %s", method, path);
	cr_assert_str_eq(p.cls, cls, "%s %s", method, path);
	cr_assert_str_eq(p.id, id, "%s %s", method, path);
	/* /health reads no keys */
	cr_assert_str_eq(p.app_id, route == PR_HEALTH ? "" : "myapp");
	preq_clear(&p);
}

static void
route_404(const char *method, const char *path)
{
	struct http_req r = mkreq(method, path, NULL, NULL, APPH, NULL);
	bad(&r, 404, PERR_INVALID_JSON, "cannot route");
}

/* A JSON body's member as compact text, for comparisons. */
static char *
dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void
json_eq(const json_t *v, const char *want)
{
	cr_assert_not_null(v, "want %s, got NULL", want);
	json_error_t je;
	json_t *w = json_loads(want, JSON_DECODE_ANY, &je);
	cr_assert_not_null(w, "bad test JSON %s", want);
	char *a = dump(v), *b = dump(w);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(w);
}

/* -------------------------------------------------------------- routes */

Test(parse_req, every_route)
{
	route_ok("GET", "/parse/classes/GameScore", PR_CLASSES, PM_GET, "GameScore", "");
	route_ok("POST", "/parse/classes/GameScore", PR_CLASSES, PM_POST, "GameScore", "");
	route_ok("GET", "/parse/classes/GameScore/Ed1nuqPvcm", PR_CLASSES, PM_GET,
		 "GameScore", "Ed1nuqPvcm");
	route_ok("PUT", "/parse/classes/GameScore/Ed1nuqPvcm", PR_CLASSES, PM_PUT,
		 "GameScore", "Ed1nuqPvcm");
	route_ok("DELETE", "/parse/classes/GameScore/Ed1nuqPvcm", PR_CLASSES,
		 PM_DELETE, "GameScore", "Ed1nuqPvcm");
	route_ok("GET", "/parse/classes/_User", PR_CLASSES, PM_GET, "_User", "");
	route_ok("GET", "/parse/users", PR_USERS, PM_GET, "_User", "");
	route_ok("POST", "/parse/users", PR_USERS, PM_POST, "_User", "");
	route_ok("GET", "/parse/users/me", PR_USERS_ME, PM_GET, "_User", "");
	route_ok("GET", "/parse/users/g7y9tkhB7O", PR_USERS, PM_GET, "_User", "g7y9tkhB7O");
	route_ok("PUT", "/parse/users/g7y9tkhB7O", PR_USERS, PM_PUT, "_User", "g7y9tkhB7O");
	route_ok("DELETE", "/parse/users/g7y9tkhB7O", PR_USERS, PM_DELETE, "_User",
		 "g7y9tkhB7O");
	/* parse-server: only GET /users/me is "me"; PUT /users/me is the id */
	route_ok("PUT", "/parse/users/me", PR_USERS, PM_PUT, "_User", "me");
	route_ok("GET", "/parse/login", PR_LOGIN, PM_GET, "", "");
	route_ok("POST", "/parse/login", PR_LOGIN, PM_POST, "", "");
	route_ok("POST", "/parse/logout", PR_LOGOUT, PM_POST, "", "");
	route_ok("GET", "/parse/roles", PR_ROLES, PM_GET, "_Role", "");
	route_ok("POST", "/parse/roles", PR_ROLES, PM_POST, "_Role", "");
	route_ok("GET", "/parse/roles/mrmBZvsErB", PR_ROLES, PM_GET, "_Role", "mrmBZvsErB");
	route_ok("PUT", "/parse/roles/mrmBZvsErB", PR_ROLES, PM_PUT, "_Role", "mrmBZvsErB");
	route_ok("DELETE", "/parse/roles/mrmBZvsErB", PR_ROLES, PM_DELETE, "_Role",
		 "mrmBZvsErB");
	route_ok("GET", "/parse/sessions", PR_SESSIONS, PM_GET, "_Session", "");
	route_ok("POST", "/parse/sessions", PR_SESSIONS, PM_POST, "_Session", "");
	route_ok("GET", "/parse/sessions/me", PR_SESSIONS_ME, PM_GET, "_Session", "");
	route_ok("GET", "/parse/sessions/SRvkvP6Xbq", PR_SESSIONS, PM_GET, "_Session",
		 "SRvkvP6Xbq");
	route_ok("PUT", "/parse/sessions/SRvkvP6Xbq", PR_SESSIONS, PM_PUT, "_Session",
		 "SRvkvP6Xbq");
	route_ok("DELETE", "/parse/sessions/SRvkvP6Xbq", PR_SESSIONS, PM_DELETE,
		 "_Session", "SRvkvP6Xbq");
	route_ok("GET", "/parse/schemas", PR_SCHEMAS, PM_GET, "", "");
	route_ok("POST", "/parse/schemas", PR_SCHEMAS, PM_POST, "", "");
	route_ok("GET", "/parse/schemas/City", PR_SCHEMAS, PM_GET, "City", "");
	route_ok("POST", "/parse/schemas/City", PR_SCHEMAS, PM_POST, "City", "");
	route_ok("PUT", "/parse/schemas/City", PR_SCHEMAS, PM_PUT, "City", "");
	route_ok("DELETE", "/parse/schemas/City", PR_SCHEMAS, PM_DELETE, "City", "");
	route_ok("POST", "/parse/functions/hello", PR_FUNCTIONS, PM_POST, "", "");
	route_ok("GET", "/parse/health", PR_HEALTH, PM_GET, "", "");
	route_ok("POST", "/parse/health", PR_HEALTH, PM_POST, "", "");
	/* one trailing slash, as express */
	route_ok("GET", "/parse/classes/GameScore/", PR_CLASSES, PM_GET, "GameScore", "");
	route_ok("GET", "/parse/users/me/", PR_USERS_ME, PM_GET, "_User", "");

	struct http_req r = mkreq("POST", "/parse/functions/my.fn-2_x", NULL, NULL,
				  APPH, NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_str_eq(p.fn, "my.fn-2_x");
	json_eq(p.body, "{}");
	preq_clear(&p);

	r = mkreq("POST", "/parse/batch", NULL, "{\"requests\":[]}", APPH, NULL);
	ok(&r, &p);
	cr_assert_eq(p.route, PR_BATCH);
	preq_clear(&p);
}

Test(parse_req, methods_a_route_does_not_take)
{
	route_404("DELETE", "/parse/classes/GameScore");
	route_404("PUT", "/parse/classes/GameScore");
	route_404("POST", "/parse/classes/GameScore/abc");
	route_404("PUT", "/parse/users");
	route_404("DELETE", "/parse/login");
	route_404("GET", "/parse/logout");
	route_404("POST", "/parse/users/me/x");
	route_404("POST", "/parse/sessions/me/x");
	route_404("GET", "/parse/functions/hello");
	route_404("GET", "/parse/batch");
	route_404("PUT", "/parse/schemas");
	route_404("DELETE", "/parse/roles");
}

Test(parse_req, unknown_routes)
{
	route_404("GET", "/parse");
	route_404("GET", "/parse/");
	route_404("GET", "/parse/nope");
	route_404("GET", "/parse/classes");
	route_404("GET", "/parse/classes/A/b/c");
	route_404("GET", "/parse/classes//x");
	route_404("GET", "/parse/classes/A//");
	route_404("GET", "/parse/classes/../users");
	route_404("GET", "/parse/classes/./A");
	route_404("GET", "/parsefoo/classes/A");
	route_404("GET", "/other/classes/A");
	route_404("GET", "/classes/A");
	route_404("GET", "/parse/functions");
	route_404("POST", "/parse/functions/a/b");
	route_404("GET", "/parse/%63lasses/A"); /* express matches literals raw */
	/* the 404 echoes the path as printable ASCII only */
	struct http_req r = mkreq("GET", "/parse/\xff\x01zz", NULL, NULL, APPH, NULL);
	bad(&r, 404, PERR_INVALID_JSON, "cannot route GET /??zz");
}

Test(parse_req, other_methods_are_405)
{
	const char *ms[] = {"OPTIONS", "PATCH", "HEAD", "get", "", "TRACE"};
	for (size_t i = 0; i < sizeof(ms) / sizeof(*ms); i++) {
		struct http_req r = mkreq(ms[i], "/parse/classes/A", NULL, NULL,
					  APPH, NULL);
		bad(&r, 405, PERR_INVALID_JSON, NULL);
	}
	struct http_req r = mkreq(NULL, "/parse/classes/A", NULL, NULL, NULL);
	bad(&r, 405, PERR_INVALID_JSON, NULL);
}

Test(parse_req, other_mounts)
{
	struct http_req r = mkreq("GET", "/classes/A", NULL, NULL, APPH, NULL);
	struct preq p;
	struct perr e;
	cr_assert_eq(preq_decode(&r, "", &p, &e), 0);
	cr_assert_eq(p.route, PR_CLASSES);
	preq_clear(&p);
	r = mkreq("GET", "/api/v1/classes/A", NULL, NULL, APPH, NULL);
	cr_assert_eq(preq_decode(&r, "/api/v1/", &p, &e), 0);
	cr_assert_str_eq(p.cls, "A");
	preq_clear(&p);
	cr_assert_eq(preq_decode(&r, "/api/v", &p, &e), MIST_EPROTO);
	cr_assert_eq(e.http, 404);
}

/* -------------------------------------------------------------- names */

Test(parse_req, names_are_percent_decoded_and_checked)
{
	struct http_req r = mkreq("GET", "/parse/classes/Game%53core/a%2Db_c", NULL,
				  NULL, APPH, NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_str_eq(p.cls, "GameScore");
	cr_assert_str_eq(p.id, "a-b_c");
	preq_clear(&p);

	/* class names: ^[A-Za-z_][A-Za-z0-9_]{0,127}$, else 400 code 103 */
	const char *badcls[] = {"/parse/classes/1abc", "/parse/classes/a-b",
				"/parse/classes/a%2Fb", "/parse/classes/a%20b",
				"/parse/classes/%C3%A9t%C3%A9", "/parse/schemas/a.b",
				"/parse/classes/a$b"};
	for (size_t i = 0; i < sizeof(badcls) / sizeof(*badcls); i++) {
		r = mkreq("GET", badcls[i], NULL, NULL, APPH, NULL);
		bad(&r, 400, PERR_INVALID_CLASS_NAME, "Invalid classname");
	}
	char path[512];
	char name[200];
	memset(name, 'A', 128);
	name[128] = '\0';
	snprintf(path, sizeof(path), "/parse/classes/%s", name);
	r = mkreq("GET", path, NULL, NULL, APPH, NULL);
	ok(&r, &p);
	cr_assert_eq(strlen(p.cls), 128);
	preq_clear(&p);
	name[128] = 'A';
	name[129] = '\0';
	snprintf(path, sizeof(path), "/parse/classes/%s", name);
	r = mkreq("GET", path, NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_CLASS_NAME, NULL);

	/* object ids: [A-Za-z0-9_-]{1,63}, else 404 code 101 */
	const char *badid[] = {"/parse/classes/A/a.b", "/parse/classes/A/a%20b",
			       "/parse/users/a%2Fb", "/parse/roles/%24x"};
	for (size_t i = 0; i < sizeof(badid) / sizeof(*badid); i++) {
		r = mkreq("GET", badid[i], NULL, NULL, APPH, NULL);
		bad(&r, 404, PERR_OBJECT_NOT_FOUND, "Object not found.");
	}
	memset(name, 'x', 64);
	name[63] = '\0';
	snprintf(path, sizeof(path), "/parse/classes/A/%s", name);
	r = mkreq("GET", path, NULL, NULL, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	name[63] = 'x';
	name[64] = '\0';
	snprintf(path, sizeof(path), "/parse/classes/A/%s", name);
	r = mkreq("GET", path, NULL, NULL, APPH, NULL);
	bad(&r, 404, PERR_OBJECT_NOT_FOUND, NULL);

	/* function names: [A-Za-z0-9_.-], else 400 code 141 */
	r = mkreq("POST", "/parse/functions/a%20b", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_SCRIPT_FAILED, "Invalid function: \"a b\"");
	r = mkreq("POST", "/parse/functions/a$b", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_SCRIPT_FAILED, NULL);

	/* bad escapes and NULs in the path: 400 code 107 */
	r = mkreq("GET", "/parse/classes/A%4", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "percent");
	r = mkreq("GET", "/parse/classes/A%zz", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "percent");
	r = mkreq("GET", "/parse/classes/A%00", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "NUL");
	/* '+' is not a space in a path */
	r = mkreq("GET", "/parse/classes/A+B", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_CLASS_NAME, "A+B");
}

/* -------------------------------------------------------------- keys */

Test(parse_req, header_form)
{
	struct http_req r = mkreq(
		"PUT", "/parse/classes/GameScore/Ed1nuqPvcm", NULL,
		"{\"score\":73453}", "x-parse-application-id", "myapp",
		"x-parse-rest-api-key", "restkey", "x-parse-javascript-key", "jskey",
		"x-parse-client-key", "clientkey", "x-parse-master-key", "masterkey",
		"x-parse-session-token", "r:0123456789abcdef0123456789abcdef",
		"x-parse-installation-id", "6b1f3f27-0000-4000-8000-000000000001",
		"x-parse-client-version", "i1.19.0", "x-mist-deadline-ms", "2500",
		"x-parse-cloud-context", "{\"a\":1}", "content-type",
		"application/json", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_str_eq(p.app_id, "myapp");
	cr_assert_str_eq(p.rest_key, "restkey");
	cr_assert_str_eq(p.js_key, "jskey");
	cr_assert_str_eq(p.client_key, "clientkey");
	cr_assert_str_eq(p.master_key, "masterkey");
	cr_assert_str_eq(p.session, "r:0123456789abcdef0123456789abcdef");
	cr_assert_str_eq(p.install, "6b1f3f27-0000-4000-8000-000000000001");
	cr_assert_str_eq(p.client_version, "i1.19.0");
	cr_assert_eq(p.deadline_ms, 2500);
	cr_assert(!p.body_form);
	json_eq(p.body, "{\"score\":73453}");
	json_eq(p.context, "{\"a\":1}");
	cr_assert_null(p.params);
	preq_clear(&p);
	cr_assert_null(p.body);
	preq_clear(&p); /* twice: harmless */
}

Test(parse_req, key_errors)
{
	char longkey[80];
	memset(longkey, 'k', 65);
	longkey[65] = '\0';
	struct http_req r = mkreq("GET", "/parse/classes/A", NULL, NULL, APPH,
				  "x-parse-master-key", longkey, NULL);
	bad(&r, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
	longkey[64] = '\0';
	r = mkreq("GET", "/parse/classes/A", NULL, NULL, APPH,
		  "x-parse-master-key", longkey, NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(strlen(p.master_key), 64);
	preq_clear(&p);
	r = mkreq("GET", "/parse/classes/A", NULL, NULL,
		  "x-parse-application-id", "a\x01pp", NULL);
	bad(&r, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");

	char longtok[200];
	memset(longtok, 't', 129);
	longtok[129] = '\0';
	r = mkreq("GET", "/parse/users/me", NULL, NULL, APPH,
		  "x-parse-session-token", longtok, NULL);
	bad(&r, 400, PERR_INVALID_SESSION_TOKEN, "Invalid session token");
	r = mkreq("GET", "/parse/users/me", NULL, NULL, APPH,
		  "x-parse-installation-id", longtok, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "x-parse-installation-id");

	const char *dls[] = {"0", "-1", "abc", "1.5", "", "86400001", "9999999999", " 5"};
	for (size_t i = 0; i < sizeof(dls) / sizeof(*dls); i++) {
		r = mkreq("GET", "/parse/classes/A", NULL, NULL, APPH,
			  "x-mist-deadline-ms", dls[i], NULL);
		bad(&r, 400, PERR_INVALID_JSON, "X-Mist-Deadline-Ms");
	}
	r = mkreq("GET", "/parse/classes/A", NULL, NULL, APPH,
		  "x-mist-deadline-ms", "86400000", NULL);
	ok(&r, &p);
	cr_assert_eq(p.deadline_ms, 86400000u);
	preq_clear(&p);

	const char *ctxs[] = {"[1]", "nope", "1", "\"x\""};
	for (size_t i = 0; i < sizeof(ctxs) / sizeof(*ctxs); i++) {
		r = mkreq("GET", "/parse/classes/A", NULL, NULL, APPH,
			  "x-parse-cloud-context", ctxs[i], NULL);
		bad(&r, 400, PERR_INVALID_JSON, "Invalid object for context.");
	}
}

/* What the JS SDK sends for query.find(): a POST, text/plain, the keys
 * and _method in the body. */
Test(parse_req, js_sdk_find)
{
	const char *body =
		"{\"where\":{\"playerName\":\"Sean Plott\",\"score\":{\"$gt\":1000}},"
		"\"limit\":10,\"skip\":20,\"order\":\"-score,createdAt\","
		"\"keys\":\"score,playerName\",\"include\":\"owner\",\"count\":1,"
		"\"_method\":\"GET\",\"_ApplicationId\":\"myapp\","
		"\"_JavaScriptKey\":\"jskey\",\"_ClientVersion\":\"js4.3.1\","
		"\"_InstallationId\":\"0ee5e3a0-3e26-4b6e-a0b6-9a8c7c5b7f1e\","
		"\"_SessionToken\":\"r:c4f1a09c1fd4e0c3a8c0f7b4cf0d2c1e\"}";
	struct http_req r = mkreq("POST", "/parse/classes/GameScore", NULL, body,
				  "content-type", "text/plain", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, PR_CLASSES);
	cr_assert_eq(p.method, PM_GET);
	cr_assert(p.body_form);
	cr_assert_str_eq(p.app_id, "myapp");
	cr_assert_str_eq(p.js_key, "jskey");
	cr_assert_str_eq(p.client_version, "js4.3.1");
	cr_assert_str_eq(p.install, "0ee5e3a0-3e26-4b6e-a0b6-9a8c7c5b7f1e");
	cr_assert_str_eq(p.session, "r:c4f1a09c1fd4e0c3a8c0f7b4cf0d2c1e");
	cr_assert_null(p.body);
	json_eq(p.params,
		"{\"where\":{\"playerName\":\"Sean Plott\",\"score\":{\"$gt\":1000}},"
		"\"limit\":10,\"skip\":20,\"order\":\"-score,createdAt\","
		"\"keys\":\"score,playerName\",\"include\":\"owner\",\"count\":true}");
	preq_clear(&p);
}

/* object.save() (create), with the master key, and a _context. */
Test(parse_req, js_sdk_create_update_delete)
{
	const char *body =
		"{\"score\":1337,\"playerName\":\"Sean Plott\",\"cheatMode\":false,"
		"\"ACL\":{\"*\":{\"read\":true}},"
		"\"_ApplicationId\":\"myapp\",\"_MasterKey\":\"mk\","
		"\"_ClientVersion\":\"js4.3.1\",\"_InstallationId\":\"iid\","
		"\"_context\":{\"source\":\"web\"},\"_RevocableSession\":\"1\"}";
	struct http_req r = mkreq("POST", "/parse/classes/GameScore", NULL, body,
				  "content-type", "text/plain", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.method, PM_POST);
	cr_assert_str_eq(p.master_key, "mk");
	cr_assert_str_eq(p.js_key, "");
	json_eq(p.body, "{\"score\":1337,\"playerName\":\"Sean Plott\","
			"\"cheatMode\":false,\"ACL\":{\"*\":{\"read\":true}}}");
	json_eq(p.context, "{\"source\":\"web\"}");
	preq_clear(&p);

	/* _context may be a string holding an object */
	r = mkreq("POST", "/parse/classes/GameScore", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_context\":\"{\\\"x\\\":2}\"}", NULL);
	ok(&r, &p);
	json_eq(p.context, "{\"x\":2}");
	json_eq(p.body, "{}");
	preq_clear(&p);
	r = mkreq("POST", "/parse/classes/GameScore", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_context\":\"[1]\"}", NULL);
	bad(&r, 400, PERR_INVALID_JSON, "Invalid object for context.");
	r = mkreq("POST", "/parse/classes/GameScore", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_context\":7}", NULL);
	bad(&r, 400, PERR_INVALID_JSON, "Invalid object for context.");

	r = mkreq("POST", "/parse/classes/GameScore/xWMyZ4YEGZ", NULL,
		  "{\"score\":{\"__op\":\"Increment\",\"amount\":1},"
		  "\"_method\":\"PUT\",\"_ApplicationId\":\"myapp\","
		  "\"_JavaScriptKey\":\"jskey\",\"_SessionToken\":\"r:abc\"}",
		  NULL);
	ok(&r, &p);
	cr_assert_eq(p.method, PM_PUT);
	cr_assert_str_eq(p.id, "xWMyZ4YEGZ");
	json_eq(p.body, "{\"score\":{\"__op\":\"Increment\",\"amount\":1}}");
	preq_clear(&p);

	r = mkreq("POST", "/parse/classes/GameScore/xWMyZ4YEGZ", NULL,
		  "{\"_method\":\"DELETE\",\"_ApplicationId\":\"myapp\","
		  "\"_JavaScriptKey\":\"jskey\"}",
		  NULL);
	ok(&r, &p);
	cr_assert_eq(p.method, PM_DELETE);
	json_eq(p.body, "{}");
	preq_clear(&p);

	/* _method case as express matches it; only on a POST */
	r = mkreq("POST", "/parse/users/me", NULL,
		  "{\"_method\":\"get\",\"_ApplicationId\":\"myapp\"}", NULL);
	ok(&r, &p);
	cr_assert_eq(p.route, PR_USERS_ME);
	preq_clear(&p);
	r = mkreq("PUT", "/parse/classes/A/abc", NULL,
		  "{\"_method\":\"DELETE\",\"x\":1}", APPH, NULL);
	ok(&r, &p);
	cr_assert_eq(p.method, PM_PUT);
	json_eq(p.body, "{\"x\":1}");
	preq_clear(&p);
	const char *badm[] = {"{\"_method\":\"PATCH\"}", "{\"_method\":1}",
			      "{\"_method\":null}"};
	for (size_t i = 0; i < 3; i++) {
		r = mkreq("POST", "/parse/classes/A", NULL, badm[i], APPH, NULL);
		bad(&r, 400, PERR_INVALID_JSON, "_method");
	}
	/* a _method that makes the route one the path does not take */
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_method\":\"DELETE\",\"_ApplicationId\":\"myapp\"}", NULL);
	bad(&r, 404, PERR_INVALID_JSON, "cannot route DELETE /classes/A");
}

Test(parse_req, body_keys_only_without_the_header)
{
	/* with X-Parse-Application-Id, the body's _ fields are dropped, not
	 * used; the header's keys stay */
	struct http_req r = mkreq(
		"POST", "/parse/classes/A", NULL,
		"{\"a\":1,\"_ApplicationId\":\"other\",\"_MasterKey\":\"evil\","
		"\"_JavaScriptKey\":\"x\",\"_SessionToken\":\"r:x\","
		"\"_ContentType\":\"image/png\",\"_noBody\":true,\"_other\":5}",
		APPH, "x-parse-javascript-key", "jskey", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_str_eq(p.app_id, "myapp");
	cr_assert_str_eq(p.master_key, "");
	cr_assert_str_eq(p.js_key, "jskey");
	cr_assert_str_eq(p.session, "");
	cr_assert(!p.body_form);
	json_eq(p.body, "{\"a\":1,\"_other\":5}");
	preq_clear(&p);

	/* without it, the body's fill in; the header's other keys stay
	 * unless the body has its own */
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_ClientKey\":\"ck\","
		  "\"_RestAPIKey\":\"rk\"}",
		  "x-parse-session-token", "r:hdr", "x-parse-client-key", "hck",
		  NULL);
	ok(&r, &p);
	cr_assert_str_eq(p.app_id, "myapp");
	cr_assert_str_eq(p.client_key, "ck");
	cr_assert_str_eq(p.rest_key, "rk");
	cr_assert_str_eq(p.session, "r:hdr");
	preq_clear(&p);

	/* no app id anywhere: decoded, app_id "" (the gateway answers 403) */
	r = mkreq("GET", "/parse/classes/A", NULL, NULL, NULL);
	ok(&r, &p);
	cr_assert_str_eq(p.app_id, "");
	preq_clear(&p);

	/* keys in the body must be strings */
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_MasterKey\":5}", NULL);
	bad(&r, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
	r = mkreq("POST", "/parse/classes/A", NULL, "{\"_ApplicationId\":[1]}", NULL);
	bad(&r, 403, PERR_OPERATION_FORBIDDEN, "unauthorized");
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_ApplicationId\":\"myapp\",\"_SessionToken\":{}}", NULL);
	bad(&r, 400, PERR_INVALID_SESSION_TOKEN, NULL);
}

/* ---------------------------------------------------------------- body */

Test(parse_req, body_errors)
{
	const char *notjson[] = {"{", "nope", "{\"a\":}", "{\"a\":1}x",
				 "{\"a\":\"\\u0000\"}", "{\"a\":1,\"a\":2}",
				 "{\"a\":\"\xff\"}"};
	for (size_t i = 0; i < sizeof(notjson) / sizeof(*notjson); i++) {
		struct http_req r = mkreq("POST", "/parse/classes/A", NULL,
					  notjson[i], APPH, NULL);
		bad(&r, 400, PERR_INVALID_JSON, "not valid JSON");
	}
	const char *notobj[] = {"[1,2]", "1", "\"s\"", "null", "true"};
	for (size_t i = 0; i < sizeof(notobj) / sizeof(*notobj); i++) {
		struct http_req r = mkreq("POST", "/parse/classes/A", NULL,
					  notobj[i], APPH, NULL);
		bad(&r, 400, PERR_INVALID_JSON, "must be a JSON object");
	}
	/* the body is read whatever the route: even a 404 path */
	struct http_req r = mkreq("POST", "/parse/nope", NULL, "{", APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, NULL);
	/* but not for /health (mounted before the body parser) */
	r = mkreq("POST", "/parse/health", NULL, "{", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, PR_HEALTH);
	preq_clear(&p);
}

/* Builds "{"a":{"a":...1...}}" @a depth deep. */
static char *
deep(int depth)
{
	char *s = malloc((size_t)depth * 6 + 8);
	size_t n = 0;
	for (int i = 0; i < depth; i++)
		n += (size_t)sprintf(s + n, "{\"a\":");
	s[n++] = '1';
	for (int i = 0; i < depth; i++)
		s[n++] = '}';
	s[n] = '\0';
	return s;
}

Test(parse_req, body_bounds)
{
	/* depth: the body at depth 1, the leaf at depth + 1 */
	char *s = deep(PREQ_MAX_DEPTH - 1);
	struct http_req r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	struct preq p;
	ok(&r, &p);
	preq_clear(&p);
	free(s);
	s = deep(PREQ_MAX_DEPTH);
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "nested deeper than 32");
	free(s);
	s = deep(3000); /* past jansson's own 2048 */
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, NULL);
	free(s);

	/* values */
	size_t cap = (size_t)PREQ_MAX_VALUES * 2 + 64;
	s = malloc(cap);
	size_t n = (size_t)sprintf(s, "{\"a\":[");
	for (int i = 0; i < PREQ_MAX_VALUES - 2; i++)
		s[n++] = '0', s[n++] = ',';
	s[n - 1] = ']';
	s[n++] = '}';
	s[n] = '\0';
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	ok(&r, &p); /* object + array + 65534 = 65536 */
	preq_clear(&p);
	memcpy(s + n - 2, ",0]}", 5);
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_OBJECT_TOO_LARGE, "more than 65536 values");
	/* counted before the tree is built, outside strings only: commas
	 * and brackets inside a string (escaped quotes too) are no values */
	n = (size_t)sprintf(s, "{\"a\":\"\\\"");
	for (int i = 0; i < PREQ_MAX_VALUES + 10; i++)
		s[n++] = ',';
	memcpy(s + n, "[{\"}", 5);
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	free(s);

	/* keys per object */
	s = malloc(PREQ_MAX_KEYS * 16 + 64);
	n = (size_t)sprintf(s, "{");
	for (int i = 0; i < PREQ_MAX_KEYS; i++)
		n += (size_t)sprintf(s + n, "\"k%d\":1,", i);
	s[n - 1] = '}';
	s[n] = '\0';
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	sprintf(s + n - 1, ",\"x\":1}");
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_OBJECT_TOO_LARGE, "more than 1024 keys");
	free(s);

	/* key length */
	s = malloc(PREQ_MAX_KEY_LEN + 64);
	n = (size_t)sprintf(s, "{\"");
	memset(s + n, 'k', PREQ_MAX_KEY_LEN);
	n += PREQ_MAX_KEY_LEN;
	sprintf(s + n, "\":1}");
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	sprintf(s + n, "k\":1}");
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_OBJECT_TOO_LARGE, "key longer");
	free(s);

	/* string length */
	s = malloc(PREQ_MAX_STR_LEN + 64);
	n = (size_t)sprintf(s, "{\"s\":\"");
	memset(s + n, 'v', PREQ_MAX_STR_LEN);
	n += PREQ_MAX_STR_LEN;
	sprintf(s + n, "\"}");
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	sprintf(s + n, "v\"}");
	r = mkreq("POST", "/parse/classes/A", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_OBJECT_TOO_LARGE, "string longer");
	free(s);
}

/* ------------------------------------------------------ query strings */

Test(parse_req, rest_find_query_string)
{
	/* curl -G --data-urlencode 'where={"score":{"$gte":1000,"$lte":3000}}' */
	struct http_req r = mkreq(
		"GET", "/parse/classes/GameScore",
		"where=%7B%22score%22%3A%7B%22%24gte%22%3A1000%2C%22%24lte%22%3A3000%7D%7D"
		"&order=-score&limit=200&skip=400&keys=score%2CplayerName"
		"&include=game.owner&count=1&excludeKeys=a&comment=hi+there",
		NULL, APPH, NULL);
	struct preq p;
	ok(&r, &p);
	json_eq(p.params,
		"{\"where\":{\"score\":{\"$gte\":1000,\"$lte\":3000}},"
		"\"order\":\"-score\",\"limit\":200,\"skip\":400,"
		"\"keys\":\"score,playerName\",\"include\":\"game.owner\","
		"\"count\":true,\"excludeKeys\":\"a\",\"comment\":\"hi there\"}");
	cr_assert_null(p.body);
	preq_clear(&p);

	/* text-typed parameters stay text even if they parse as JSON */
	r = mkreq("GET", "/parse/users", "keys=1&order=%22x%22&count=0", NULL,
		  APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"keys\":\"1\",\"order\":\"\\\"x\\\"\",\"count\":false}");
	preq_clear(&p);

	/* the URL's win over the body's */
	r = mkreq("GET", "/parse/roles", "limit=5", "{\"limit\":7,\"skip\":1}",
		  APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"limit\":5,\"skip\":1}");
	preq_clear(&p);

	/* empty pieces are skipped; no query -> no params */
	r = mkreq("GET", "/parse/sessions", "&&limit=1&", NULL, APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"limit\":1}");
	preq_clear(&p);
	r = mkreq("GET", "/parse/classes/A", "", NULL, APPH, NULL);
	ok(&r, &p);
	cr_assert_null(p.params);
	preq_clear(&p);

	/* get: keys, include, excludeKeys */
	r = mkreq("GET", "/parse/classes/A/abc", "include=owner&keys=a,b", NULL,
		  APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"include\":\"owner\",\"keys\":\"a,b\"}");
	preq_clear(&p);
	r = mkreq("GET", "/parse/users/me", "include=x", NULL, APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"include\":\"x\"}");
	preq_clear(&p);

	/* a where with strings and an escaped & */
	r = mkreq("GET", "/parse/classes/A",
		  "where=%7B%22name%22%3A%22a%26b%3Dc%2B%22%7D", NULL, APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"where\":{\"name\":\"a&b=c+\"}}");
	preq_clear(&p);

	/* other routes ignore the query string */
	r = mkreq("GET", "/parse/schemas", "foo=bar", NULL, APPH, NULL);
	ok(&r, &p);
	cr_assert_null(p.params);
	preq_clear(&p);
	r = mkreq("POST", "/parse/classes/A", "foo=%zz", "{}", APPH, NULL);
	bad(&r, 400, PERR_INVALID_QUERY, "percent");
}

Test(parse_req, query_errors)
{
	struct {
		const char *path, *q;
		int code;
		const char *msg;
	} c[] = {
		{"/parse/classes/A", "where=%7Bnope", PERR_INVALID_JSON, "where is not valid JSON"},
		{"/parse/classes/A", "where=5", PERR_INVALID_QUERY, "where must be a JSON object"},
		{"/parse/classes/A", "where=%5B%5D", PERR_INVALID_QUERY, "where must be a JSON object"},
		{"/parse/classes/A", "where=%22x%22", PERR_INVALID_JSON, "where is not valid JSON"},
		{"/parse/classes/A", "limit=-1", PERR_INVALID_QUERY, "limit must be"},
		{"/parse/classes/A", "limit=abc", PERR_INVALID_QUERY, "limit must be"},
		{"/parse/classes/A", "limit=1.5", PERR_INVALID_QUERY, "limit must be"},
		{"/parse/classes/A", "limit=2147483648", PERR_INVALID_QUERY, "limit must be"},
		{"/parse/classes/A", "skip=%5B%5D", PERR_INVALID_QUERY, "skip must be"},
		{"/parse/classes/A", "count=yes", PERR_INVALID_QUERY, "count must be"},
		{"/parse/classes/A", "count=%7B%7D", PERR_INVALID_QUERY, "count must be"},
		{"/parse/classes/A", "bogus=1", PERR_INVALID_QUERY, "Invalid parameter for query: bogus"},
		{"/parse/classes/A", "limit=1&limit=2", PERR_INVALID_QUERY, "twice"},
		{"/parse/classes/A", "=1", PERR_INVALID_QUERY, "empty"},
		{"/parse/classes/A", "a=%G0", PERR_INVALID_QUERY, "percent"},
		{"/parse/classes/A", "a=%00", PERR_INVALID_QUERY, "NUL"},
		{"/parse/classes/A", "a=%FF", PERR_INVALID_QUERY, "UTF-8"},
		{"/parse/classes/A/abc", "where=%7B%7D", PERR_INVALID_QUERY, "Improper encode of parameter"},
		{"/parse/classes/A/abc", "limit=1", PERR_INVALID_QUERY, "Improper encode of parameter"},
		{"/parse/users/me", "order=a", PERR_INVALID_QUERY, "Improper encode of parameter"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		struct http_req r = mkreq("GET", c[i].path, c[i].q, NULL, APPH, NULL);
		bad(&r, 400, c[i].code, c[i].msg);
	}
	/* body-sourced parameters are checked the same way */
	struct http_req r = mkreq("GET", "/parse/classes/A", NULL,
				  "{\"order\":5}", APPH, NULL);
	bad(&r, 400, PERR_INVALID_QUERY, "order must be a string");
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_method\":\"GET\",\"where\":\"{bad\"}", APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "where");
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_method\":\"GET\",\"where\":\"{\\\"a\\\":1}\",\"limit\":\"25\"}",
		  APPH, NULL);
	struct preq p;
	ok(&r, &p);
	json_eq(p.params, "{\"where\":{\"a\":1},\"limit\":25}");
	preq_clear(&p);
	r = mkreq("POST", "/parse/classes/A", NULL,
		  "{\"_method\":\"GET\",\"limit\":null,\"hint\":{\"a\":1}}", APPH, NULL);
	ok(&r, &p);
	json_eq(p.params, "{\"hint\":{\"a\":1}}");
	preq_clear(&p);

	/* where depth */
	char *s = deep(PREQ_WHERE_DEPTH - 1);
	char *body = malloc(strlen(s) + 64);
	sprintf(body, "{\"_method\":\"GET\",\"where\":%s}", s);
	r = mkreq("POST", "/parse/classes/A", NULL, body, APPH, NULL);
	ok(&r, &p);
	preq_clear(&p);
	free(s);
	free(body);
	s = deep(PREQ_WHERE_DEPTH);
	body = malloc(strlen(s) + 64);
	sprintf(body, "{\"_method\":\"GET\",\"where\":%s}", s);
	r = mkreq("POST", "/parse/classes/A", NULL, body, APPH, NULL);
	bad(&r, 400, PERR_INVALID_QUERY, "where is nested deeper than 24");
	free(s);
	free(body);

	/* too many parameters, too long a query string */
	char q[2048];
	size_t n = 0;
	for (int i = 0; i <= PREQ_MAX_PARAMS; i++)
		n += (size_t)sprintf(q + n, "p%d=1&", i);
	r = mkreq("GET", "/parse/classes/A", q, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_QUERY, "more than 32 query parameters");
	char *lq = malloc(PREQ_MAX_QUERY + 2);
	memset(lq, 'a', PREQ_MAX_QUERY + 1);
	lq[PREQ_MAX_QUERY + 1] = '\0';
	r = mkreq("GET", "/parse/classes/A", lq, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_QUERY, "longer than");
	free(lq);
}

/* --------------------------------------------------- login, functions */

Test(parse_req, login)
{
	/* GET /login?username=..&password=.. (the REST guide's form) */
	struct http_req r = mkreq("GET", "/parse/login",
				  "username=cooldude6&password=p_n7%21-e8", NULL,
				  APPH, "x-parse-revocable-session", "1",
				  "x-parse-session-token", "r:stale", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, PR_LOGIN);
	cr_assert_str_eq(p.session, "", "a stale token must not fail a login");
	json_eq(p.body, "{\"username\":\"cooldude6\",\"password\":\"p_n7!-e8\"}");
	cr_assert_null(p.params);
	preq_clear(&p);

	/* the JS SDK: Parse.User.logIn is GET login through POST + _method */
	r = mkreq("POST", "/parse/login", NULL,
		  "{\"username\":\"cooldude6\",\"password\":\"pw\",\"_method\":\"GET\","
		  "\"_ApplicationId\":\"myapp\",\"_JavaScriptKey\":\"jskey\","
		  "\"_ClientVersion\":\"js4.3.1\",\"_InstallationId\":\"iid\"}",
		  "content-type", "text/plain", NULL);
	ok(&r, &p);
	cr_assert_eq(p.method, PM_GET);
	json_eq(p.body, "{\"username\":\"cooldude6\",\"password\":\"pw\"}");
	preq_clear(&p);

	/* POST with a body: the body's win over the query's */
	r = mkreq("POST", "/parse/login", "username=q&email=e",
		  "{\"username\":\"b\",\"password\":\"pw\"}", APPH, NULL);
	ok(&r, &p);
	json_eq(p.body, "{\"username\":\"b\",\"password\":\"pw\",\"email\":\"e\"}");
	preq_clear(&p);
}

Test(parse_req, functions)
{
	/* Parse.Cloud.run("averageStars", {movie: "The Matrix"}) */
	struct http_req r = mkreq(
		"POST", "/parse/functions/averageStars", NULL,
		"{\"movie\":\"The Matrix\",\"_ApplicationId\":\"myapp\","
		"\"_JavaScriptKey\":\"jskey\",\"_ClientVersion\":\"js4.3.1\","
		"\"_InstallationId\":\"iid\"}",
		"content-type", "text/plain", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_str_eq(p.fn, "averageStars");
	json_eq(p.body, "{\"movie\":\"The Matrix\"}");
	preq_clear(&p);
	/* the query's win (FunctionsRouter's Object.assign) */
	r = mkreq("POST", "/parse/functions/f", "movie=Alien&n=1",
		  "{\"movie\":\"The Matrix\",\"x\":[1]}", APPH, NULL);
	ok(&r, &p);
	json_eq(p.body, "{\"movie\":\"Alien\",\"x\":[1],\"n\":\"1\"}");
	preq_clear(&p);
}

/* --------------------------------------------------------------- batch */

static void
sub_ok(const struct preq *parent, const char *method, const char *path,
       const char *body, struct preq *out)
{
	json_error_t je;
	json_t *b = body != NULL ? json_loads(body, 0, &je) : NULL;
	struct perr e = {0};
	int rc = preq_decode_sub(parent, method, path, b, "/parse", out, &e);
	json_decref(b);
	cr_assert_eq(rc, 0, "%s %s: %d %s", method, path, e.code, e.msg);
}

static void
sub_bad(const struct preq *parent, const char *method, const char *path,
	const char *body, int code, const char *msg)
{
	json_error_t je;
	json_t *b = body != NULL ? json_loads(body, JSON_DECODE_ANY, &je) : NULL;
	struct perr e = {0};
	struct preq out;
	int rc = preq_decode_sub(parent, method, path, b, "/parse", &out, &e);
	json_decref(b);
	cr_assert_eq(rc, MIST_EPROTO, "%s %s decoded", method, path);
	cr_assert_eq(e.code, code, "%s %s: %d %s", method, path, e.code, e.msg);
	if (msg != NULL)
		cr_assert(strstr(e.msg, msg) != NULL, "message: %s", e.msg);
	cr_assert_null(out.body);
}

Test(parse_req, batch)
{
	/* Parse.Object.saveAll: the JS SDK's batch body */
	const char *body =
		"{\"requests\":["
		"{\"method\":\"POST\",\"path\":\"/parse/classes/GameScore\","
		"\"body\":{\"score\":1337,\"playerName\":\"Sean Plott\"}},"
		"{\"method\":\"PUT\",\"path\":\"/parse/classes/GameScore/Ed1nuqPvcm\","
		"\"body\":{\"score\":999999}},"
		"{\"method\":\"DELETE\",\"path\":\"/parse/classes/GameScore/Cpl9lrueZ6\","
		"\"body\":{}},"
		"{\"method\":\"GET\",\"path\":\"/parse/classes/GameScore\","
		"\"body\":{\"where\":{\"a\":1},\"limit\":\"3\"}}],"
		"\"transaction\":false,"
		"\"_ApplicationId\":\"myapp\",\"_JavaScriptKey\":\"jskey\","
		"\"_SessionToken\":\"r:tok\",\"_ClientVersion\":\"js4.3.1\","
		"\"_InstallationId\":\"iid\"}";
	struct http_req r = mkreq("POST", "/parse/batch", NULL, body,
				  "x-mist-deadline-ms", "900", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, PR_BATCH);
	cr_assert_str_eq(p.session, "r:tok");
	json_t *reqs = json_object_get(p.body, "requests");
	cr_assert_eq(json_array_size(reqs), 4);
	struct preq s[4];
	for (size_t i = 0; i < 4; i++) {
		json_t *q = json_array_get(reqs, i);
		struct perr e;
		int rc = preq_decode_sub(
			&p, json_string_value(json_object_get(q, "method")),
			json_string_value(json_object_get(q, "path")),
			json_object_get(q, "body"), "/parse", &s[i], &e);
		cr_assert_eq(rc, 0, "%zu: %s", i, e.msg);
		cr_assert_str_eq(s[i].app_id, "myapp");
		cr_assert_str_eq(s[i].session, "r:tok");
		cr_assert_str_eq(s[i].js_key, "jskey");
		cr_assert_eq(s[i].deadline_ms, 900);
		cr_assert_str_eq(s[i].cls, "GameScore");
	}
	cr_assert_eq(s[0].method, PM_POST);
	json_eq(s[0].body, "{\"score\":1337,\"playerName\":\"Sean Plott\"}");
	cr_assert_eq(s[1].method, PM_PUT);
	cr_assert_str_eq(s[1].id, "Ed1nuqPvcm");
	cr_assert_eq(s[2].method, PM_DELETE);
	cr_assert_eq(s[3].method, PM_GET);
	cr_assert_null(s[3].body);
	json_eq(s[3].params, "{\"where\":{\"a\":1},\"limit\":3}");
	/* the copies are the sub-request's own */
	preq_clear(&p);
	for (size_t i = 0; i < 4; i++)
		preq_clear(&s[i]);

	/* method: default GET, any case; no body */
	struct preq parent;
	memset(&parent, 0, sizeof(parent));
	strcpy(parent.app_id, "myapp");
	struct preq o;
	sub_ok(&parent, NULL, "/parse/classes/A/abc", NULL, &o);
	cr_assert_eq(o.method, PM_GET);
	cr_assert_str_eq(o.id, "abc");
	preq_clear(&o);
	sub_ok(&parent, "post", "/parse/functions/f", "{\"x\":1}", &o);
	cr_assert_eq(o.route, PR_FUNCTIONS);
	json_eq(o.body, "{\"x\":1}");
	preq_clear(&o);
	sub_ok(&parent, "POST", "/parse/login", "{\"username\":\"u\",\"password\":\"p\"}", &o);
	cr_assert_eq(o.route, PR_LOGIN);
	preq_clear(&o);

	sub_bad(&parent, "POST", "/parse/batch", "{\"requests\":[]}", PERR_INVALID_JSON,
		"nested batch requests are not allowed");
	sub_bad(&parent, "GET", "/parse/batch", NULL, PERR_INVALID_JSON, "cannot route");
	sub_bad(&parent, "POST", "/classes/A", "{}", PERR_INVALID_JSON,
		"cannot route batch path /classes/A");
	sub_bad(&parent, "POST", "/parsex/classes/A", "{}", PERR_INVALID_JSON,
		"cannot route batch path");
	sub_bad(&parent, "GET", "/parse/classes/A?limit=1", NULL, PERR_INVALID_JSON,
		"cannot route batch path");
	sub_bad(&parent, "PATCH", "/parse/classes/A", NULL, PERR_INVALID_JSON,
		"cannot route PATCH");
	sub_bad(&parent, "DELETE", "/parse/classes/A", NULL, PERR_INVALID_JSON,
		"cannot route DELETE /classes/A");
	sub_bad(&parent, "POST", "/parse/classes/1A", "{}", PERR_INVALID_CLASS_NAME, NULL);
	sub_bad(&parent, "POST", "/parse/classes/A", "[1]", PERR_INVALID_JSON,
		"must be an object");
	sub_bad(&parent, "GET", "/parse/classes/A", "{\"bogus\":1}", PERR_INVALID_QUERY,
		"Invalid parameter for query: bogus");
	sub_bad(&parent, "POST", NULL, "{}", PERR_INVALID_JSON, "cannot route batch path");
}

Test(parse_req, batch_body_errors)
{
	struct {
		const char *body, *msg;
	} c[] = {
		{"{}", "requests must be an array"},
		{"{\"requests\":{}}", "requests must be an array"},
		{"{\"requests\":[1]}", "batch request path must be a string"},
		{"{\"requests\":[{\"method\":\"GET\"}]}", "batch request path must be a string"},
		{"{\"requests\":[{\"path\":5}]}", "batch request path must be a string"},
		{"{\"requests\":[{\"path\":\"/parse/x\",\"method\":1}]}", "method must be a string"},
		{"{\"requests\":[{\"path\":\"/parse/x\",\"body\":[]}]}", "body an object"},
		{"{\"requests\":[],\"transaction\":1}", "transaction must be a boolean"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		struct http_req r = mkreq("POST", "/parse/batch", NULL, c[i].body,
					  APPH, NULL);
		bad(&r, 400, PERR_INVALID_JSON, c[i].msg);
	}
	struct http_req r = mkreq("POST", "/parse/batch", NULL, NULL, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON, "requests must be an array");

	/* at most PREQ_BATCH_MAX */
	char *s = malloc(64 * (PREQ_BATCH_MAX + 2) + 64);
	size_t n = (size_t)sprintf(s, "{\"requests\":[");
	for (int i = 0; i < PREQ_BATCH_MAX; i++)
		n += (size_t)sprintf(s + n, "{\"path\":\"/parse/classes/A\"},");
	sprintf(s + n - 1, "]}");
	r = mkreq("POST", "/parse/batch", NULL, s, APPH, NULL);
	struct preq p;
	ok(&r, &p);
	preq_clear(&p);
	s[n - 1] = ',';
	sprintf(s + n, "{\"path\":\"/parse/classes/A\"}]}");
	r = mkreq("POST", "/parse/batch", NULL, s, APPH, NULL);
	bad(&r, 400, PERR_INVALID_JSON,
	    "Batch request contains 51 sub-requests, which exceeds the limit of 50.");
	free(s);
}

Test(parse_req, health_reads_nothing)
{
	struct http_req r = mkreq("DELETE", "/parse/health", "x=%zz", "nope",
				  "x-mist-deadline-ms", "bad", "x-parse-session-token",
				  "a\x01", NULL);
	struct preq p;
	ok(&r, &p);
	cr_assert_eq(p.route, PR_HEALTH);
	cr_assert_eq(p.method, PM_DELETE);
	cr_assert_null(p.body);
	preq_clear(&p);
	cr_assert_str_eq(preq_method_name(PM_DELETE), "DELETE");
}

Test(parse_req, perr_json_of_an_error)
{
	struct http_req r = mkreq("GET", "/parse/classes/A", "limit=x", NULL, APPH, NULL);
	struct preq p;
	struct perr e;
	cr_assert_eq(preq_decode(&r, "/parse", &p, &e), MIST_EPROTO);
	char out[PERR_JSON_MAX];
	perr_json(&e, out, sizeof(out));
	json_error_t je;
	json_t *v = json_loads(out, 0, &je);
	cr_assert_not_null(v, "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(v, "code")), 102);
	json_decref(v);
}

/* Random byte flips of real requests: every outcome is a decoded preq or
 * an error with a status and code the gateway can answer -- never a
 * crash, a leak (ASan) or an error left half-set. */
Test(parse_req, mutated_requests_decode_or_fail_cleanly)
{
	struct rng g;
	rng_init(&g, tu_seed());
	const char *bodies[] = {
		"{\"where\":{\"a\":{\"$in\":[1,2]}},\"limit\":3,\"_method\":\"GET\","
		"\"_ApplicationId\":\"myapp\",\"_SessionToken\":\"r:x\"}",
		"{\"requests\":[{\"method\":\"POST\",\"path\":\"/parse/classes/A\","
		"\"body\":{\"x\":1}},{\"path\":\"/parse/users/me\"}]}",
	};
	const char *paths[] = {"/parse/classes/GameScore", "/parse/batch"};
	const char *queries[] = {"where=%7B%22a%22%3A1%7D&limit=2&count=1", ""};
	for (int iter = 0; iter < 4000; iter++) {
		int w = (int)rng_below(&g, 2);
		char body[512], path[64], query[64];
		snprintf(body, sizeof(body), "%s", bodies[w]);
		snprintf(path, sizeof(path), "%s", paths[w]);
		snprintf(query, sizeof(query), "%s", queries[w]);
		char *f[] = {body, path, query};
		for (int k = 0; k < 3; k++) {
			size_t n = strlen(f[k]);
			if (n == 0)
				continue;
			for (uint64_t m = rng_below(&g, 4); m > 0; m--)
				f[k][rng_below(&g, n)] = (char)(1 + rng_below(&g, 255));
		}
		struct http_req r = mkreq("POST", path, query, body, APPH, NULL);
		struct preq p;
		struct perr e = {0};
		int rc = preq_decode(&r, "/parse", &p, &e);
		if (rc == 0) {
			json_t *reqs = json_object_get(p.body, "requests");
			size_t i;
			json_t *q;
			json_array_foreach(reqs, i, q) {
				struct preq sub;
				struct perr se = {0};
				if (preq_decode_sub(&p, json_string_value(json_object_get(q, "method")),
						    json_string_value(json_object_get(q, "path")),
						    json_object_get(q, "body"), "/parse", &sub,
						    &se) == 0)
					preq_clear(&sub);
				else
					cr_assert(se.code != 0 && se.http >= 400);
			}
			preq_clear(&p);
		} else {
			cr_assert_eq(rc, MIST_EPROTO);
			cr_assert(e.http == 400 || e.http == 403 || e.http == 404 ||
				  e.http == 405, "http %d", e.http);
			cr_assert(e.code != 0 && e.msg[0] != '\0');
			char out[PERR_JSON_MAX];
			perr_json(&e, out, sizeof(out));
			json_error_t je;
			json_t *v = json_loads(out, 0, &je);
			cr_assert_not_null(v, "the error answer is JSON: %s", out);
			json_decref(v);
		}
	}
}
