/*
 * test_http.c -- the HTTP listener (src/gateway/http.c) on a real loop
 * with a real actor system, against libcurl on 127.0.0.1, port 0.
 *
 * The loop runs on the test's thread; curl runs in a client thread
 * (blocking calls) that wakes the loop when it is done.  Clients that must
 * misbehave (close while their request waits, hold connections) are plain
 * sockets on the test's thread.  The echo actor answers every request with
 * what it saw, as JSON; a few paths make it hold the request instead.
 */
#include "gateway/http.h"
#include "mist.h"
#include "net/addr.h"
#include "net/loop.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_ACTOR 77
#define T_HELD_MAX 16
/* every wait on a predicate gives up after this many 5 ms ticks */
#define T_TICKS 4000

static uv_loop_t loop;
static struct loop_driver drv;
static struct actor_sys sys;
static struct http *H;
static uv_async_t wake;
static uv_timer_t tick;
static char tmp[256] = "";

/* the echo actor's record */
static int seen;
static uint64_t held[T_HELD_MAX];
static int nheld;
static int respond_rc;

/* --------------------------------------------------------- echo actor */

static void
echo_fn(struct actor *self, struct msg *m)
{
	(void)self;
	if (m->type != MSG_HTTP_REQUEST)
		return;
	const struct http_req *r = m->ptr;
	cr_assert_not_null(r);
	cr_assert_eq(m->corr, r->id);
	seen++;
	if (strncmp(r->path, "/hold", 5) == 0 ||
	    strncmp(r->path, "/short", 6) == 0) {
		cr_assert_lt(nheld, T_HELD_MAX);
		held[nheld++] = r->id;
		if (r->path[1] == 's') /* the gateway lowers a deadline */
			cr_assert_eq(http_set_deadline(H, r->id, 50), 0);
		return;
	}
	json_t *hd = json_object();
	for (uint32_t i = 0; i < r->nhdrs; i++)
		json_object_set_new(hd, r->hdrs[i].name,
				    json_string(r->hdrs[i].value));
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:s%}", "method",
			      r->method, "path", r->path, "query", r->query,
			      "ip", r->ip, "tls", r->tls, "headers", hd, "body",
			      (const char *)r->body, r->body_len);
	cr_assert_not_null(o);
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	struct http_hdr extra[2] = {{"X-Echo", "1"},
				    {"Content-Type", "text/plain"}};
	uint32_t nextra = strcmp(r->path, "/typed") == 0 ? 2 : 1;
	respond_rc =
		http_respond(H, r->id, 200, extra, nextra, text, strlen(text));
	free(text);
}

/* ------------------------------------------------------------ fixture */

static void
tick_cb(uv_timer_t *t)
{
	(void)t; /* wakes the loop so that predicates are looked at */
}

/* Runs the loop until *@a flag (set by another thread or a callback). */
static void
run_until(atomic_bool *flag)
{
	for (int i = 0; i < T_TICKS && !atomic_load(flag); i++)
		uv_run(&loop, UV_RUN_ONCE);
	cr_assert(atomic_load(flag), "condition never came");
}

#define WAIT_FOR(cond)                                                         \
	do {                                                                   \
		for (int i_ = 0; i_ < T_TICKS && !(cond); i_++)                \
			uv_run(&loop, UV_RUN_ONCE);                            \
		cr_assert(cond, "never came: %s", #cond);                      \
	} while (0)

static void
setup(void)
{
	setenv("MIST_CHECK_TURNS", "1", 1);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	seen = nheld = 0;
	respond_rc = 1;
	uv_loop_init(&loop);
	struct actor_sys_env env;
	struct actor_sys_config acfg;
	loop_driver_env(&drv, &loop, &env);
	actor_sys_config_default(&acfg);
	actor_sys_init(&sys, 1, &env, &acfg, tu_seed());
	loop_driver_start(&drv, &sys);
	cr_assert_not_null(actor_spawn(&sys, T_ACTOR, "echo", echo_fn, NULL));
	uv_async_init(&loop, &wake, NULL);
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, tick_cb, 5, 5);
	H = NULL;
}

static void
closed_cb(void *arg)
{
	atomic_store((atomic_bool *)arg, true);
}

/* Closes H (if open) and checks that it leaves no handle behind. */
static void
stop_http(void)
{
	if (H == NULL)
		return;
	atomic_bool closed = false;
	http_close(H, closed_cb, &closed);
	run_until(&closed);
	H = NULL;
}

static void
teardown(void)
{
	stop_http();
	actor_sys_destroy(&sys);
	loop_driver_close(&drv);
	uv_close((uv_handle_t *)&wake, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
	if (tmp[0] != '\0')
		tu_rmrf(tmp);
	tmp[0] = '\0';
	curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

static void
start(const struct http_config *cfg, bool plain, bool tls)
{
	int err = 1;
	H = http_open(&loop, &sys, T_ACTOR, cfg, plain ? "127.0.0.1:0" : NULL,
		      tls ? "127.0.0.1:0" : NULL, &err);
	cr_assert_not_null(H, "http_open: %s", mist_strerror(err));
	cr_assert_eq(err, 0);
}

static void
url(char *out, size_t len, bool tls, const char *path)
{
	char a[64];
	http_bound_addr(H, tls, a, sizeof(a));
	cr_assert_neq(a[0], '\0');
	snprintf(out, len, "%s://%s%s", tls ? "https" : "http", a, path);
}

/* A self-signed P-256 certificate for 127.0.0.1, made by openssl(1). */
static void
make_cert(struct http_config *cfg, char *cert, char *key, size_t len)
{
	char *d = tu_tmpdir();
	snprintf(tmp, sizeof(tmp), "%s", d);
	free(d);
	snprintf(cert, len, "%s/cert.pem", tmp);
	snprintf(key, len, "%s/key.pem", tmp);
	char cmd[1024];
	snprintf(
		cmd, sizeof(cmd),
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		"-nodes -days 1 -subj /CN=127.0.0.1 -keyout '%s' -out '%s' "
		">/dev/null 2>&1",
		key, cert);
	cr_assert_eq(system(cmd), 0, "openssl req failed");
	cfg->tls_cert = cert;
	cfg->tls_key = key;
}

/* --------------------------------------------------------- the client */

struct call {
	const char *method; /* NULL: GET */
	char url[256];
	const char *body;
	size_t body_len;
	const char *const *hdrs; /* NULL-terminated */
	long version;		 /* CURLOPT_HTTP_VERSION, 0: curl's */
	long sslversion;	 /* CURLOPT_SSLVERSION, 0: curl's */
	/* results */
	CURLcode rc;
	long status, got_version, connects;
	char resp[65536];
	size_t resp_len;
	char head[8192];
	size_t head_len;
};

struct client {
	CURL *easy; /* kept between calls: its connections too */
	struct call *calls;
	int ncalls;
	atomic_bool done;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;
	if (c->resp_len + len >= sizeof(c->resp))
		return 0;
	memcpy(c->resp + c->resp_len, p, len);
	c->resp_len += len;
	c->resp[c->resp_len] = '\0';
	return len;
}

static size_t
on_head(char *p, size_t size, size_t n, void *arg)
{
	struct call *c = arg;
	size_t len = size * n;
	for (size_t i = 0; i < len && c->head_len + 1 < sizeof(c->head); i++)
		c->head[c->head_len++] =
			(char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
	c->head[c->head_len] = '\0';
	return len;
}

static void
perform(CURL *e, struct call *c)
{
	struct curl_slist *sl = NULL;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, c->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* a bound on a hung client, not a timing assertion */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_head);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	if (c->version)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, c->version);
	if (c->sslversion)
		curl_easy_setopt(e, CURLOPT_SSLVERSION, c->sslversion);
	if (c->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)c->body_len);
	}
	if (c->method != NULL)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	sl = curl_slist_append(sl, "Expect:"); /* no 100-continue dance */
	for (int i = 0; c->hdrs && c->hdrs[i]; i++)
		sl = curl_slist_append(sl, c->hdrs[i]);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sl);
	c->rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &c->got_version);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &c->connects);
	curl_slist_free_all(sl);
}

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	for (int i = 0; i < cl->ncalls; i++)
		perform(cl->easy, &cl->calls[i]);
	atomic_store(&cl->done, true);
	uv_async_send(&wake);
	return NULL;
}

/* Runs @a n calls in order on one curl handle (so one connection, when
 * it can be kept), the loop turning meanwhile; the handle is returned
 * (still connected) if @a keep, else cleaned up. */
static CURL *
run_calls(struct call *calls, int n, bool keep)
{
	struct client cl = {curl_easy_init(), calls, n, false};
	cr_assert_not_null(cl.easy);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, client_main, &cl), 0);
	run_until(&cl.done);
	pthread_join(t, NULL);
	if (keep)
		return cl.easy;
	curl_easy_cleanup(cl.easy);
	return NULL;
}

static json_t *
echo_of(const struct call *c)
{
	json_error_t je;
	json_t *o = json_loadb(c->resp, c->resp_len, 0, &je);
	cr_assert_not_null(o, "not JSON: %.*s", (int)c->resp_len, c->resp);
	return o;
}

static const char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	cr_assert_not_null(s, "no string %s", k);
	return s;
}

/* ------------------------------------------------------- raw sockets */

static int
raw_connect(void)
{
	char a[64];
	struct sockaddr_storage ss;
	http_bound_addr(H, false, a, sizeof(a));
	cr_assert_eq(addr_parse(a, &ss), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	/* the kernel completes it from the backlog: the loop need not run */
	cr_assert_eq(
		connect(fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
		0, "connect: %s", strerror(errno));
	return fd;
}

static void
raw_send(int fd, const char *s)
{
	cr_assert_eq(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

/* Reads what the listener sends until it closes (the loop turning). */
static size_t
raw_read_all(int fd, char *out, size_t cap)
{
	size_t len = 0;
	struct timeval tv = {0, 5000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < T_TICKS; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			break;
		if (n > 0)
			len += (size_t)n;
	}
	out[len] = '\0';
	return len;
}

/* -------------------------------------------------------------- tests */

Test(http, get_post_put_delete_round_trip)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	static const char *const hdrs[] = {"X-Parse-Application-Id: app1",
					   "X-Parse-REST-API-Key: k", NULL};
	struct call c[5] = {0};
	const char *methods[] = {NULL, "POST", "PUT", "DELETE", NULL};
	for (int i = 0; i < 5; i++) {
		url(c[i].url, sizeof(c[i].url), false,
		    i == 4 ? "/typed"
			   : "/parse/classes/Game?where=%7B%7D&limit=2");
		c[i].method = methods[i];
		c[i].hdrs = hdrs;
	}
	c[1].body = "{\"score\":1}";
	c[1].body_len = strlen(c[1].body);
	c[2].body = "{\"score\":2}";
	c[2].body_len = strlen(c[2].body);
	c[2].method = "PUT";
	run_calls(c, 5, false);
	const char *want[] = {"GET", "POST", "PUT", "DELETE", "GET"};
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(c[i].rc, CURLE_OK, "%s",
			     curl_easy_strerror(c[i].rc));
		cr_assert_eq(c[i].status, 200);
		cr_assert(
			strstr(c[i].head,
			       "content-type: application/json; charset=utf-8"),
			"%s", c[i].head);
		cr_assert(strstr(c[i].head, "access-control-allow-origin: *"));
		cr_assert(strstr(c[i].head, "content-length: "),
			  "never chunked");
		cr_assert(strstr(c[i].head, "x-echo: 1"));
		json_t *o = echo_of(&c[i]);
		cr_assert_str_eq(jstr(o, "method"), want[i]);
		cr_assert_str_eq(jstr(o, "path"), "/parse/classes/Game");
		cr_assert_str_eq(jstr(o, "query"), "where=%7B%7D&limit=2");
		cr_assert_str_eq(jstr(o, "ip"), "127.0.0.1");
		cr_assert(json_is_false(json_object_get(o, "tls")));
		json_t *h = json_object_get(o, "headers");
		cr_assert_str_eq(jstr(h, "x-parse-application-id"), "app1");
		cr_assert_str_eq(jstr(h, "x-parse-rest-api-key"), "k");
		cr_assert_not_null(json_object_get(h, "host"));
		cr_assert_str_eq(jstr(o, "body"), c[i].body ? c[i].body : "");
		json_decref(o);
	}
	cr_assert_eq(c[4].status, 200);
	cr_assert(strstr(c[4].head, "content-type: text/plain"), "%s",
		  c[4].head);
	cr_assert_null(strstr(c[4].head, "application/json"), "one type only");
	cr_assert_eq(respond_rc, 0);
	struct http_stats s = http_stats(H);
	cr_assert_eq(s.requests, 5);
	cr_assert_eq(s.answered, 5);
	cr_assert_eq(s.pending, 0);
}

Test(http, keep_alive_carries_several_requests_on_one_connection)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	struct call c[4] = {0};
	for (int i = 0; i < 4; i++) {
		url(c[i].url, sizeof(c[i].url), false, "/parse/health");
		c[i].version = CURL_HTTP_VERSION_1_1;
	}
	CURL *e = run_calls(c, 4, true);
	cr_assert_eq(c[0].connects, 1);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(c[i].status, 200);
		cr_assert_eq(c[i].got_version, CURL_HTTP_VERSION_1_1);
		if (i > 0)
			cr_assert_eq(c[i].connects, 0, "request %d reconnected",
				     i);
	}
	struct http_stats s = http_stats(H);
	cr_assert_eq(s.accepted, 1);
	cr_assert_eq(s.conns, 1);
	/* the listener closes with the connection still open */
	stop_http();
	curl_easy_cleanup(e);
}

Test(http, http2_over_tls_with_alpn_and_http1_too)
{
	struct http_config cfg;
	char cert[300], key[300];
	http_config_default(&cfg);
	make_cert(&cfg, cert, key, sizeof(cert));
	start(&cfg, false, true);
	char dummy[64];
	http_bound_addr(H, false, dummy, sizeof(dummy));
	cr_assert_str_eq(dummy, "", "no plain listener");
	struct call c[4] = {0};
	for (int i = 0; i < 4; i++)
		url(c[i].url, sizeof(c[i].url), true, "/parse/users/me");
	c[0].version = CURL_HTTP_VERSION_2TLS;
	c[1].version = CURL_HTTP_VERSION_2TLS; /* same connection, stream 3 */
	c[2].version = CURL_HTTP_VERSION_1_1;
	c[2].sslversion = CURL_SSLVERSION_TLSv1_3; /* 1.3 is offered */
	c[3].version = CURL_HTTP_VERSION_2TLS;
	c[3].sslversion = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
	c[3].method = "POST";
	c[3].body = "{}";
	c[3].body_len = 2;
	run_calls(c, 2, false);
	run_calls(c + 2, 1, false);
	run_calls(c + 3, 1, false);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(c[i].rc, CURLE_OK, "call %d: %s", i,
			     curl_easy_strerror(c[i].rc));
		cr_assert_eq(c[i].status, 200);
		cr_assert_eq(c[i].got_version,
			     i == 2 ? CURL_HTTP_VERSION_1_1
				    : CURL_HTTP_VERSION_2_0,
			     "call %d", i);
		cr_assert(strstr(c[i].head, "access-control-allow-origin: *"));
		json_t *o = echo_of(&c[i]);
		cr_assert(json_is_true(json_object_get(o, "tls")));
		cr_assert_str_eq(jstr(o, "path"), "/parse/users/me");
		json_decref(o);
	}
	cr_assert_eq(c[1].connects, 0, "h2 requests share a connection");
	cr_assert_eq(http_stats(H).accepted, 3);
}

Test(http, prior_knowledge_h2c_on_the_plain_port)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	struct call c[2] = {0};
	url(c[0].url, sizeof(c[0].url), false, "/x?y=1");
	c[0].version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	url(c[1].url, sizeof(c[1].url), false, "/x?y=2");
	c[1].version = CURL_HTTP_VERSION_2_0; /* HTTP/1.1 + Upgrade: h2c */
	run_calls(c, 1, false);
	run_calls(c + 1, 1, false);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(c[i].rc, CURLE_OK, "%s",
			     curl_easy_strerror(c[i].rc));
		cr_assert_eq(c[i].status, 200);
		cr_assert_eq(c[i].got_version, CURL_HTTP_VERSION_2_0, "call %d",
			     i);
		json_t *o = echo_of(&c[i]);
		cr_assert_str_eq(jstr(o, "query"), i ? "y=2" : "y=1");
		json_decref(o);
	}
}

Test(http, options_preflight_is_answered_without_the_actor)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	static const char *const hdrs[] = {
		"Origin: https://app.example",
		"Access-Control-Request-Method: POST",
		"Access-Control-Request-Headers: x-parse-application-id", NULL};
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/parse/classes/Game");
	c.method = "OPTIONS";
	c.hdrs = hdrs;
	run_calls(&c, 1, false);
	cr_assert_eq(c.status, 200);
	cr_assert(strstr(c.head, "access-control-allow-origin: *"), "%s",
		  c.head);
	cr_assert(strstr(c.head, "access-control-allow-methods: get, post, "
				 "put, delete, options"));
	const char *need[] = {
		"x-parse-application-id",  "x-parse-rest-api-key",
		"x-parse-javascript-key",  "x-parse-client-key",
		"x-parse-master-key",	   "x-parse-session-token",
		"x-parse-installation-id", "x-parse-client-version",
		"x-mist-deadline-ms",	   "content-type"};
	const char *ah = strstr(c.head, "access-control-allow-headers: ");
	cr_assert_not_null(ah);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		cr_assert(strstr(ah, need[i]), "allow-headers lacks %s",
			  need[i]);
	cr_assert(strstr(c.head, "access-control-max-age: "));
	cr_assert_eq(seen, 0, "the actor was bothered");
}

Test(http, a_body_over_max_body_is_413)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_body = 1024;
	start(&cfg, true, false);
	static char big[4096];
	memset(big, 'a', sizeof(big));
	struct call c[2] = {0};
	url(c[0].url, sizeof(c[0].url), false, "/parse/classes/Big");
	c[0].body = big;
	c[0].body_len = sizeof(big);
	c[0].version = CURL_HTTP_VERSION_1_1;
	url(c[1].url, sizeof(c[1].url), false, "/parse/classes/Small");
	c[1].body = big;
	c[1].body_len = 1000;
	run_calls(c, 2, false);
	cr_assert_eq(c[0].status, 413);
	cr_assert(strstr(c[0].head, "access-control-allow-origin: *"), "%s",
		  c[0].head);
	cr_assert_eq(c[1].status, 200, "under the bound passes");
	cr_assert_eq(seen, 1);
}

Test(http, too_many_headers_is_431)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	static char lines[HTTP_MAX_HEADERS + 8][32];
	static const char *hdrs[HTTP_MAX_HEADERS + 9];
	for (int i = 0; i < HTTP_MAX_HEADERS + 8; i++) {
		snprintf(lines[i], sizeof(lines[i]), "X-H-%d: v%d", i, i);
		hdrs[i] = lines[i];
	}
	hdrs[HTTP_MAX_HEADERS + 8] = NULL;
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/parse/classes/Game");
	c.hdrs = hdrs;
	run_calls(&c, 1, false);
	cr_assert_eq(c.status, 431);
	json_t *o = echo_of(&c);
	cr_assert(json_is_integer(json_object_get(o, "code")));
	cr_assert(strstr(jstr(o, "error"), "headers"));
	json_decref(o);
	cr_assert_eq(seen, 0);
	cr_assert_eq(http_stats(H).bad, 1);
	/* few headers, but a head past HTTP_MAX_HEAD */
	static char line[HTTP_MAX_HEAD + 64];
	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'v', HTTP_MAX_HEAD);
	line[7 + HTTP_MAX_HEAD] = '\0';
	static const char *big[] = {line, NULL};
	struct call d = {0};
	url(d.url, sizeof(d.url), false, "/parse/classes/Game");
	d.hdrs = big;
	run_calls(&d, 1, false);
	cr_assert_eq(d.status, 431);
	o = echo_of(&d);
	cr_assert(strstr(jstr(o, "error"), "too large"), "%s", d.resp);
	json_decref(o);
	cr_assert_eq(seen, 0);
	cr_assert_eq(http_stats(H).bad, 2);
}

Test(http, the_deadline_answers_504_and_the_late_answer_is_refused)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/short");
	run_calls(&c, 1, false); /* the actor lowers it to 50 ms */
	cr_assert_eq(c.status, 504);
	cr_assert_str_eq(c.resp,
			 "{\"code\":124,\"error\":\"Request timed out\"}");
	cr_assert(strstr(c.head, "application/json"));
	cr_assert(strstr(c.head, "access-control-allow-origin: *"));
	cr_assert_eq(nheld, 1);
	cr_assert_eq(http_respond(H, held[0], 200, NULL, 0, "{}", 2),
		     MIST_ENOTFOUND);
	cr_assert_eq(http_set_deadline(H, held[0], 10), MIST_ENOTFOUND);
	struct http_stats s = http_stats(H);
	cr_assert_eq(s.expired, 1);
	cr_assert_eq(s.answered, 0);
	cr_assert_eq(s.pending, 0);
}

Test(http, max_deadline_caps_the_default)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_deadline_ms = 30; /* the default (30 s) is capped to it */
	start(&cfg, true, false);
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/hold");
	run_calls(&c, 1, false);
	cr_assert_eq(c.status, 504);
	cr_assert_eq(http_stats(H).expired, 1);
}

/* A client that resets its HTTP/2 stream while the actor holds it. */
static atomic_bool abort_now;

static int
abort_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg, (void)a, (void)b, (void)c, (void)d;
	return atomic_load(&abort_now) ? 1 : 0;
}

struct h2_abort {
	char url[256];
	CURLcode rc;
	atomic_bool done;
};

static void *
h2_abort_main(void *arg)
{
	struct h2_abort *x = arg;
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, abort_cb);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	x->rc = curl_easy_perform(e);
	curl_easy_cleanup(e);
	atomic_store(&x->done, true);
	uv_async_send(&wake);
	return NULL;
}

Test(http, an_http2_client_gone_while_pending_frees_it_and_drops_the_answer)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	struct h2_abort x = {.done = false};
	url(x.url, sizeof(x.url), false, "/hold");
	atomic_store(&abort_now, false);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, h2_abort_main, &x), 0);
	WAIT_FOR(nheld == 1);
	cr_assert_eq(http_stats(H).pending, 1);
	atomic_store(&abort_now, true);
	run_until(&x.done);
	pthread_join(t, NULL);
	cr_assert_eq(x.rc, CURLE_ABORTED_BY_CALLBACK);
	WAIT_FOR(http_stats(H).reset == 1);
	cr_assert_eq(http_stats(H).pending, 0);
	cr_assert_eq(http_respond(H, held[0], 200, NULL, 0, "{}", 2),
		     MIST_ENOTFOUND);
	WAIT_FOR(http_stats(H).conns == 0);
}

Test(http, an_http1_client_gone_while_pending_is_closed_at_the_answer)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	int fd = raw_connect();
	raw_send(fd, "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: "
		     "2\r\n\r\n{}");
	WAIT_FOR(nheld == 1);
	close(fd);
	/* H2O 2.2.5 does not read a connection while its request is with
	 * the handler: the answer finds the client gone */
	int rc = http_respond(H, held[0], 200, NULL, 0, "{}", 2);
	cr_assert(rc == 0 || rc == MIST_ENOTFOUND);
	WAIT_FOR(http_stats(H).conns == 0);
	cr_assert_eq(http_stats(H).pending, 0);
}

Test(http, max_pending_answers_503)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_pending = 2;
	start(&cfg, true, false);
	int a = raw_connect(), b = raw_connect();
	raw_send(a, "GET /hold/1 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_send(b, "GET /hold/2 HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_FOR(nheld == 2);
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/parse/classes/Game");
	run_calls(&c, 1, false);
	cr_assert_eq(c.status, 503);
	json_t *o = echo_of(&c);
	cr_assert_eq(json_integer_value(json_object_get(o, "code")), 1);
	json_decref(o);
	cr_assert_eq(seen, 2);
	cr_assert_eq(http_stats(H).refused, 1);
	/* the held ones are still answered */
	cr_assert_eq(http_respond(H, held[0], 201, NULL, 0, "{\"a\":1}", 7), 0);
	char buf[4096];
	shutdown(a, SHUT_WR);
	raw_read_all(a, buf, sizeof(buf));
	cr_assert(strncmp(buf, "HTTP/1.1 201", 12) == 0, "%s", buf);
	cr_assert(strstr(buf, "{\"a\":1}"));
	close(a);
	/* and the listener answers 503 to what it holds when it closes */
	stop_http();
	raw_read_all(b, buf, sizeof(buf));
	cr_assert(strncmp(buf, "HTTP/1.1 503", 12) == 0, "%s", buf);
	close(b);
}

Test(http, max_pending_bytes_answers_503)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_pending_bytes = 4096;
	start(&cfg, true, false);
	char req[2048], body[1501];
	memset(body, 'b', 1500);
	body[1500] = '\0';
	snprintf(req, sizeof(req),
		 "POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: "
		 "1500\r\n\r\n%s",
		 body);
	int a = raw_connect();
	raw_send(a, req);
	WAIT_FOR(nheld == 1);
	struct http_stats s = http_stats(H);
	cr_assert_gt(s.pending_bytes, 1500);
	cr_assert_leq(s.pending_bytes, 4096);
	int b = raw_connect();
	raw_send(b, req);
	char buf[4096];
	shutdown(b, SHUT_WR);
	raw_read_all(b, buf, sizeof(buf));
	cr_assert(strncmp(buf, "HTTP/1.1 503", 12) == 0, "%s", buf);
	cr_assert_eq(nheld, 1, "the actor never saw the second");
	close(b);
	cr_assert_eq(http_respond(H, held[0], 200, NULL, 0, NULL, 0), 0);
	cr_assert_eq(http_stats(H).pending_bytes, 0);
	close(a);
}

Test(http, max_conns_closes_the_next_connection_at_once)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_conns = 1;
	start(&cfg, true, false);
	int a = raw_connect();
	WAIT_FOR(http_stats(H).conns == 1);
	int b = raw_connect();
	WAIT_FOR(http_stats(H).conns_refused == 1);
	char buf[64];
	cr_assert_eq(raw_read_all(b, buf, sizeof(buf)), 0, "closed, no answer");
	close(b);
	/* the first one still works */
	raw_send(a, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	char resp[8192];
	raw_read_all(a, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "%s", resp);
	close(a);
	cr_assert_eq(http_stats(H).accepted, 1);
}

Test(http, respond_refuses_bad_arguments)
{
	struct http_config cfg;
	http_config_default(&cfg);
	start(&cfg, true, false);
	int fd = raw_connect();
	raw_send(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	WAIT_FOR(nheld == 1);
	struct http_hdr crlf = {"x-a", "b\r\nset-cookie: evil"};
	struct http_hdr len = {"Content-Length", "3"};
	struct http_hdr name = {"bad name", "v"};
	cr_assert_eq(http_respond(H, held[0], 200, &crlf, 1, "{}", 2),
		     MIST_EINVAL);
	cr_assert_eq(http_respond(H, held[0], 200, &len, 1, "{}", 2),
		     MIST_EINVAL);
	cr_assert_eq(http_respond(H, held[0], 200, &name, 1, "{}", 2),
		     MIST_EINVAL);
	cr_assert_eq(http_respond(H, held[0], 99, NULL, 0, "{}", 2),
		     MIST_EINVAL);
	cr_assert_eq(http_stats(H).pending, 1, "still pending");
	cr_assert_eq(http_respond(H, held[0], 404, NULL, 0, "{}", 2), 0);
	cr_assert_eq(http_respond(H, held[0], 404, NULL, 0, "{}", 2),
		     MIST_ENOTFOUND, "answered once");
	close(fd);
}

Test(http, open_refuses_bad_addresses_and_keys)
{
	struct http_config cfg;
	http_config_default(&cfg);
	int err = 0;
	cr_assert_null(
		http_open(&loop, &sys, T_ACTOR, &cfg, "nonsense", NULL, &err));
	cr_assert_eq(err, MIST_EINVAL);
	cr_assert_null(http_open(&loop, &sys, T_ACTOR, &cfg, NULL, NULL, &err));
	cr_assert_eq(err, MIST_EINVAL);
	cr_assert_null(http_open(&loop, &sys, T_ACTOR, &cfg, NULL,
				 "127.0.0.1:0", &err));
	cr_assert_eq(err, MIST_EINVAL, "TLS without a certificate");
	cfg.tls_cert = "/nonexistent/cert.pem";
	cfg.tls_key = "/nonexistent/key.pem";
	cr_assert_null(http_open(&loop, &sys, T_ACTOR, &cfg, NULL,
				 "127.0.0.1:0", &err));
	cr_assert_eq(err, MIST_EAUTH);
	/* a busy port */
	start(&cfg, true, false);
	char a[64];
	http_bound_addr(H, false, a, sizeof(a));
	cr_assert_null(http_open(&loop, &sys, T_ACTOR, &cfg, a, NULL, &err));
	cr_assert_eq(err, MIST_EIO);
}

Test(http, an_idle_connection_is_closed_after_idle_timeout)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.idle_timeout_ms = 50;
	start(&cfg, true, false);
	int fd = raw_connect();
	WAIT_FOR(http_stats(H).accepted == 1);
	WAIT_FOR(http_stats(H).conns == 0);
	char buf[64];
	cr_assert_eq(raw_read_all(fd, buf, sizeof(buf)), 0);
	close(fd);
}

Test(http, an_http2_body_over_max_body_resets_the_stream)
{
	struct http_config cfg;
	http_config_default(&cfg);
	cfg.max_body = 1024;
	start(&cfg, true, false);
	static char big[4096];
	memset(big, 'a', sizeof(big));
	struct call c = {0};
	url(c.url, sizeof(c.url), false, "/parse/classes/Big");
	c.body = big;
	c.body_len = sizeof(big);
	c.version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	run_calls(&c, 1, false);
	cr_assert(c.rc != CURLE_OK || c.status == 413, "rc %d status %ld", c.rc,
		  c.status);
	cr_assert_eq(seen, 0);
}

/* One blocking curl call in a thread, for tests that act meanwhile. */
struct bg {
	struct call c;
	CURL *easy;
	atomic_bool done;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	perform(b->easy, &b->c);
	atomic_store(&b->done, true);
	uv_async_send(&wake);
	return NULL;
}

Test(http, close_answers_pending_h2_requests_503_and_shuts_idle_tls)
{
	struct http_config cfg;
	char cert[300], key[300];
	http_config_default(&cfg);
	make_cert(&cfg, cert, key, sizeof(cert));
	start(&cfg, true, true);
	/* an idle keep-alive TLS connection (HTTP/1.1) */
	struct call idle = {0};
	url(idle.url, sizeof(idle.url), true, "/x");
	idle.version = CURL_HTTP_VERSION_1_1;
	CURL *kept = run_calls(&idle, 1, true);
	cr_assert_eq(idle.status, 200);
	/* an h2 request the actor holds */
	static struct bg b;
	memset(&b, 0, sizeof(b));
	url(b.c.url, sizeof(b.c.url), true, "/hold");
	b.c.version = CURL_HTTP_VERSION_2TLS;
	b.easy = curl_easy_init();
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bg_main, &b), 0);
	WAIT_FOR(nheld == 1);
	cr_assert_eq(http_stats(H).conns, 2);
	stop_http(); /* done only once every handle is closed */
	run_until(&b.done);
	pthread_join(t, NULL);
	cr_assert_eq(b.c.status, 503, "rc %d", b.c.rc);
	cr_assert_eq(b.c.got_version, CURL_HTTP_VERSION_2_0);
	cr_assert(strstr(b.c.resp, "\"code\":1"), "%s", b.c.resp);
	curl_easy_cleanup(b.easy);
	curl_easy_cleanup(kept);
}

/*
 * TLS keep-alive clients that leave without a close_notify -- what wrk, a
 * killed app or a phone losing its network do: each connection is closed
 * on our side too, so no descriptor stays behind (H2O 2.2.5 waited for the
 * peer's close_notify for ever: 29 of 32 such connections stayed open).
 */
struct tls_quit {
	char addr[64];
	int n;
	atomic_int answered;
};

static void *
tls_quit_main(void *arg)
{
	struct tls_quit *q = arg;
	struct sockaddr_storage ss;
	if (addr_parse(q->addr, &ss) != 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	for (int i = 0; i < q->n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&ss,
			    sizeof(struct sockaddr_in)) != 0) {
			close(fd);
			continue;
		}
		SSL *ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		char buf[4096];
		static const char req[] = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
		if (SSL_connect(ssl) == 1 &&
		    SSL_write(ssl, req, (int)sizeof(req) - 1) > 0 &&
		    SSL_read(ssl, buf, sizeof(buf)) > 0)
			atomic_fetch_add(&q->answered, 1);
		SSL_free(ssl); /* no SSL_shutdown: gone without a word */
		close(fd);
	}
	SSL_CTX_free(ctx);
	return NULL;
}

Test(http, tls_clients_gone_without_close_notify_leave_no_connection)
{
	char cert[600], key[600];
	struct http_config cfg;
	http_config_default(&cfg);
	make_cert(&cfg, cert, key, sizeof(cert));
	start(&cfg, false, true);
	struct tls_quit q = {.n = 24};
	http_bound_addr(H, true, q.addr, sizeof(q.addr));
	pthread_t t;
	pthread_create(&t, NULL, tls_quit_main, &q);
	WAIT_FOR(atomic_load(&q.answered) == q.n);
	pthread_join(t, NULL);
	WAIT_FOR(http_stats(H).conns == 0);
	cr_assert_eq(http_stats(H).accepted, (uint64_t)q.n);
}
