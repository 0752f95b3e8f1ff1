/*
 * httptest.c -- agents, requests and apps for the REST integration tests
 * (httptest.h).
 */
#include "httptest.h"

#include "pgtest.h"
#include "proc.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* MIST_TEST_PG set: every agent keeps documents in this test's fresh
 * schema of that server (tests/lib/pgtest.h); else "" (LMDB). */
static char pg_url[1024], pg_schema[64];

void
ht_pg_begin(void)
{
	pg_url[0] = pg_schema[0] = '\0';
	if (pgt_server() == NULL)
		return;
	const char *why = "";
	cr_assert(pgt_fresh(pg_schema, sizeof(pg_schema), pg_url,
			    sizeof(pg_url), &why),
		  "MIST_TEST_PG: %s", why);
}

void
ht_pg_end(void)
{
	if (pg_schema[0] != '\0')
		pgt_drop(pg_schema);
	pg_url[0] = pg_schema[0] = '\0';
}

const char *
ht_pg_url(void)
{
	return pg_url;
}

/* ----------------------------------------------------------- agents */

char *
ht_begin(char *keyfile, size_t size)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char *tmp = tu_tmpdir();
	ht_pg_begin();
	snprintf(keyfile, size, "%s/cluster.key", tmp);
	cr_assert_eq(proc_keygen(keyfile, NULL), 0);
	return tmp;
}

void
ht_end(char *tmp, struct ht_agent *const *agents)
{
	for (struct ht_agent *const *a = agents; *a != NULL; a++)
		if ((*a)->pid > 0)
			proc_stop((*a)->pid, SIGTERM, 20000);
	for (struct ht_agent *const *a = agents; *a != NULL; a++)
		(*a)->pid = 0;
	ht_pg_end();
	tu_rmrf(tmp);
	free(tmp);
	curl_global_cleanup();
}

void
ht_agent_init(struct ht_agent *a, const char *tmp, const char *name)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->dir, sizeof(a->dir), "%s/%s", tmp, name);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", tmp, name);
}

void
ht_agent_start(struct ht_agent *a, const char *keyfile,
	       const char *const *plugins, const char *join, char **extra)
{
	char *av[32];
	int n = 0;
	av[n++] = (char *)proc_mist();
	av[n++] = "agent";
	av[n++] = "--data";
	av[n++] = a->dir;
	av[n++] = "--key";
	av[n++] = (char *)keyfile;
	av[n++] = "--bind";
	av[n++] = "127.0.0.1:0";
	av[n++] = "--name";
	av[n++] = a->name;
	av[n++] = "--http";
	av[n++] = "127.0.0.1:0";
	for (const char *const *p = plugins; *p != NULL && n < 20; p++) {
		av[n++] = "--plugin";
		av[n++] = (char *)*p;
	}
	if (a->alog[0] != '\0') {
		av[n++] = "--access-log";
		av[n++] = a->alog;
	}
	av[n++] = "--executors";
	av[n++] = "2";
	if (join != NULL) {
		av[n++] = "--join";
		av[n++] = (char *)join;
	}
	for (char **x = extra; x != NULL && *x != NULL && n < 30; x++)
		av[n++] = *x;
	if (pg_url[0] != '\0' && n < 28) { /* MIST_TEST_PG: on PostgreSQL */
		av[n++] = "--docs";
		av[n++] = "postgres";
		av[n++] = "--docs-url";
		av[n++] = pg_url;
	}
	av[n] = NULL;
	char path[600];
	snprintf(path, sizeof(path), "%s/http.addr", a->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/agent.addr", a->dir);
	unlink(path);
	a->pid = proc_start(av, a->log);
	cr_assert_eq(proc_wait_file(path, a->addr, sizeof(a->addr), 30000), 0,
		     "agent %s did not start (see %s)", a->name, a->log);
	snprintf(path, sizeof(path), "%s/http.addr", a->dir);
	cr_assert_eq(proc_wait_file(path, a->http, sizeof(a->http), 30000), 0,
		     "agent %s has no HTTP listener (see %s)", a->name, a->log);
}

/* ------------------------------------------------------------- HTTP */

size_t
ht_on_body(char *p, size_t size, size_t n, void *arg)
{
	struct ht_resp *r = arg;
	r->body = realloc(r->body, r->len + size * n + 1);
	memcpy(r->body + r->len, p, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

long long
ht_metric(const char *http, const char *name)
{
	CURL *c = curl_easy_init();
	char url[128];
	snprintf(url, sizeof(url), "http://%s/metrics", http);
	struct ht_resp m = {0};
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ht_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "GET %s", url);
	curl_easy_cleanup(c);
	long long v = -1;
	size_t n = strlen(name);
	for (const char *l = m.body; l != NULL && *l;) {
		if (strncmp(l, name, n) == 0 && l[n] == ' ') {
			v = strtoll(l + n + 1, NULL, 10);
			break;
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	ht_resp_free(&m);
	return v;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct ht_resp *r = arg;
	if (strncasecmp(p, "retry-after:", 12) == 0)
		sscanf(p + 12, " %15s", r->retry_after);
	return size * n;
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void
ht_resp_free(struct ht_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

struct ht_resp
ht_call(const char *http, const struct ht_app *app, const struct ht_req *q)
{
	struct ht_resp r = {0};
	CURL *c = curl_easy_init();
	char url[1024], h[256];
	snprintf(url, sizeof(url), "http://%s/parse%s", http, q->path);
	struct curl_slist *hl = NULL;
	/* "none": the JS SDK's form, everything in the body */
	snprintf(h, sizeof(h), "X-Parse-Application-Id: %s", app->id);
	if (strcmp(q->key, "none") != 0)
		hl = curl_slist_append(hl, h);
	if (strcmp(q->key, "rest") == 0) {
		snprintf(h, sizeof(h), "X-Parse-REST-API-Key: %s", app->rest);
		hl = curl_slist_append(hl, h);
	} else if (strcmp(q->key, "master") == 0) {
		snprintf(h, sizeof(h), "X-Parse-Master-Key: %s", app->master);
		hl = curl_slist_append(hl, h);
	} else if (strcmp(q->key, "wrong") == 0) {
		hl = curl_slist_append(hl, "X-Parse-REST-API-Key: 00");
	}
	if (q->session != NULL) {
		snprintf(h, sizeof(h), "X-Parse-Session-Token: %s", q->session);
		hl = curl_slist_append(hl, h);
	}
	if (q->extra != NULL)
		hl = curl_slist_append(hl, q->extra);
	if (q->body != NULL && strcmp(q->key, "none") != 0)
		hl = curl_slist_append(hl, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (q->body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ht_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	long t0 = now_ms();
	CURLcode rc = curl_easy_perform(c);
	r.ms = now_ms() - t0;
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", q->method, q->path,
		     curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (r.body != NULL)
		r.json = json_loadb(r.body, r.len, q->json_flags, NULL);
	return r;
}

void
ht_wait_app(const struct ht_agent *a, const struct ht_app *app)
{
	struct ht_req q = {"GET", "/classes/Probe?limit=1", NULL, "rest",
			   NULL, NULL, 0};
	for (int i = 0; i < 300; i++) {
		struct ht_resp r = ht_call(a->http, app, &q);
		long st = r.status;
		ht_resp_free(&r);
		if (st == 200)
			return;
		usleep(50000);
	}
	cr_assert_fail("agent %s never served the app", a->name);
}

/* ------------------------------------------------------------- JSON */

const char *
ht_jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

long long
ht_jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

void
ht_expect_code(struct ht_resp *r, long status, int code, const char *what)
{
	cr_expect_eq(r->status, status, "%s: HTTP %ld, body %s", what,
		     r->status, r->body ? r->body : "");
	cr_expect_eq(ht_jint(r->json, "code"), code, "%s: body %s", what,
		     r->body ? r->body : "");
}

void
ht_expect_error(struct ht_resp *r, long status, int code, const char *what)
{
	ht_expect_code(r, status, code, what);
	cr_expect(json_is_string(json_object_get(r->json, "error")), "%s",
		  what);
}

/* ------------------------------------------------------------- apps */

void
ht_apps(const char *addr, const char *keyfile, char **args, char **out)
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)proc_mist();
	argv[n++] = "apps";
	for (char **x = args; *x != NULL && n < 24; x++)
		argv[n++] = *x;
	argv[n++] = "--agent";
	argv[n++] = (char *)addr;
	argv[n++] = "--key";
	argv[n++] = (char *)keyfile;
	argv[n++] = "--format";
	argv[n++] = "json";
	argv[n] = NULL;
	cr_assert_eq(proc_run(argv, out, 20000), 0, "mist apps %s: %s", args[0],
		     out && *out ? *out : "");
}

json_t *
ht_app_create(struct ht_app *app, const char *addr, const char *keyfile,
	      char **args, char **out)
{
	char *av[24];
	int n = 0;
	av[n++] = "create";
	for (char **x = args; *x != NULL && n < 23; x++)
		av[n++] = *x;
	av[n] = NULL;
	char *text = NULL;
	ht_apps(addr, keyfile, av, &text);
	json_t *j = json_loads(text, 0, NULL);
	cr_assert_not_null(j, "mist apps create printed %s", text);
	snprintf(app->id, sizeof(app->id), "%s", ht_jstr(j, "applicationId"));
	snprintf(app->rest, sizeof(app->rest), "%s", ht_jstr(j, "restKey"));
	snprintf(app->js, sizeof(app->js), "%s", ht_jstr(j, "javascriptKey"));
	snprintf(app->master, sizeof(app->master), "%s",
		 ht_jstr(j, "masterKey"));
	cr_assert(app->id[0] && app->rest[0] && app->master[0]);
	if (out != NULL)
		*out = text;
	else
		free(text);
	return j;
}
