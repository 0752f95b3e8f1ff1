/*
 * httptest.h -- helpers for the integration tests that drive real agents
 * through the Parse REST API with libcurl (test_http, test_hostapi,
 * test_triggers): start `mist agent` with its HTTP listener, keep
 * documents in a fresh PostgreSQL schema when MIST_TEST_PG is set, send
 * one request, read jansson objects, create an app.
 *
 * For criterion tests only: a failure ends the test (cr_assert), and
 * the library keeps no state but the PostgreSQL schema.  curl_global_init
 * comes before ht_call (ht_begin calls it, ht_end the cleanup).  The
 * struct ht_resp that ht_call returns by value is the caller's: free it
 * with ht_resp_free (which zeroes it, so a second call does nothing).
 * The caller owns agents and apps (plain structs, nothing to free); an
 * agent's process is stopped by ht_end or by the test.
 * Strings from ht_jstr belong to the JSON object they came from.  The
 * PostgreSQL schema is one per process (criterion runs each test in its
 * own): ht_pg_begin in set-up, ht_pg_end in tear-down (ht_begin and
 * ht_end do both).
 */
#ifndef MIST_TESTS_HTTPTEST_H_INCLUDED
#define MIST_TESTS_HTTPTEST_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* One agent of the test's cluster. */
struct ht_agent {
	char name[16], dir[512], log[512];
	char addr[64]; /* its cluster address, from DIR/agent.addr */
	char http[64]; /* its HTTP listener, from DIR/http.addr */
	char alog[512]; /* access log, or "" for none */
	pid_t pid;
};

/* An app's id and keys, as `mist apps create` printed them. */
struct ht_app {
	char id[64], rest[80], js[80], master[80];
};

/* One request to /parse + path. */
struct ht_req {
	const char *method, *path;
	const char *body; /* JSON text, or NULL */
	/* "rest", "master", "wrong" (a bad REST key) or "none" (no
	 * headers: the JS SDK's form, everything in the body) */
	const char *key;
	const char *session; /* session token, or NULL */
	const char *extra; /* one more header line, or NULL */
	size_t json_flags; /* for json_loadb: 0 or JSON_DECODE_ANY */
};

/* An answer.  body is NUL-terminated (NULL if empty); json is body
 * parsed, or NULL. */
struct ht_resp {
	long status;
	char *body;
	size_t len;
	json_t *json;
	char retry_after[16]; /* the Retry-After header, or "" */
	long ms; /* how long the request took */
};

/* MIST_TEST_PG set: a fresh schema of that server for this test's
 * agents; else nothing (LMDB). */
void ht_pg_begin(void);
/* Drops the schema, if any. */
void ht_pg_end(void);
/* The schema's URL for --docs-url, or "" on LMDB. */
const char *ht_pg_url(void);

/*
 * A test's set-up: curl_global_init, a fresh temporary directory (the
 * caller's until ht_end), ht_pg_begin and a cluster key made in
 * TMP/cluster.key, its path in @a keyfile.  Returns the directory.
 */
char *ht_begin(char *keyfile, size_t size);
/* Its tear-down: stops (SIGTERM) the agents of the NULL-terminated
 * @a agents still running, ht_pg_end, removes and frees @a tmp,
 * curl_global_cleanup. */
void ht_end(char *tmp, struct ht_agent *const *agents);

/* Names agent @a a; its files go under @a tmp/NAME. */
void ht_agent_init(struct ht_agent *a, const char *tmp, const char *name);
/*
 * Starts @a a with @a keyfile, the NULL-terminated @a plugins, an access
 * log if a->alog is set, joining @a join (or not, if NULL), then @a extra
 * (NULL-terminated, or NULL), on PostgreSQL if ht_pg_begin made a schema.
 * Waits for its cluster and HTTP addresses.
 */
void ht_agent_start(struct ht_agent *a, const char *keyfile,
		    const char *const *plugins, const char *join,
		    char **extra);

/* Sends @a q to the agent whose HTTP listener is @a http, as @a app. */
struct ht_resp ht_call(const char *http, const struct ht_app *app,
		       const struct ht_req *q);
void ht_resp_free(struct ht_resp *r);
/* A CURLOPT_WRITEFUNCTION appending to the struct ht_resp in
 * CURLOPT_WRITEDATA. */
size_t ht_on_body(char *p, size_t size, size_t n, void *arg);

/* The value of the unlabelled metric @a name in GET /metrics of the
 * listener @a http (-1 if absent). */
long long ht_metric(const char *http, const char *name);

/* Waits until @a a's gateway serves @a app (apps spread by gossip). */
void ht_wait_app(const struct ht_agent *a, const struct ht_app *app);

/* Member @a k of @a o as a string ("" if not one), as an integer (0). */
const char *ht_jstr(const json_t *o, const char *k);
long long ht_jint(const json_t *o, const char *k);

/* Expects HTTP @a status and Parse error @a code; @a what names the
 * check in messages. */
void ht_expect_code(struct ht_resp *r, long status, int code,
		    const char *what);
/* The same, and a string "error". */
void ht_expect_error(struct ht_resp *r, long status, int code,
		     const char *what);

/*
 * Runs `mist apps ARGS... --agent @a addr --key @a keyfile --format json`
 * (@a args NULL-terminated, args[0] the subcommand); its output in *@a out,
 * the caller's to free.
 */
void ht_apps(const char *addr, const char *keyfile, char **args, char **out);
/*
 * `mist apps create` with @a args (from the app's name on), keys into
 * @a app.  Returns what it printed, parsed (the caller's, json_decref);
 * *@a out, if @a out is not NULL, gets the text (the caller's to free).
 */
json_t *ht_app_create(struct ht_app *app, const char *addr,
		      const char *keyfile, char **args, char **out);

#endif
