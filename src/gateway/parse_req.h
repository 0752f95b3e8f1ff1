/*
 * parse_req.h -- a Parse REST request, decoded: route, method, keys, body
 * and query parameters, with every byte from the client bounded.
 *
 * The HTTP listener hands the gateway a struct http_req (http_req.h);
 * preq_decode() turns it into a struct preq, or into the Parse error the
 * client gets ({"code": N, "error": "..."} with an HTTP status, perr.h).
 * Nothing here does I/O or looks an app up: whether the keys are right is
 * the gateway's business (apps.h), what a route does is rest.c's.
 *
 *   struct http_req ──preq_decode()──▶ struct preq ──▶ gateway/rest.c
 *     method, path,       route, method, cls, id, fn,
 *     query, headers,     app_id and keys, session, install,
 *     body                deadline_ms, body (json), params (json)
 *
 *   /batch body {"requests":[{method, path, body}, ...]}
 *     each element ──preq_decode_sub()──▶ struct preq (the parent's keys)
 *
 * Routes (under the mount, "/parse" by default), as parse-server mounts
 * them (src/Routers/, batch.js); a path that names none, or a method a
 * path does not take, is 404 code 107 "cannot route GET /x" -- what
 * parse-server's router says for a batch sub-request it cannot route
 * (express answers a direct one with an HTML 404, which no SDK parses):
 *
 *   /classes/:cls            GET (find) POST (create)         cls
 *   /classes/:cls/:id        GET PUT DELETE                   cls, id
 *   /users                   GET POST (signup)                cls "_User"
 *   /users/me                GET (other methods: id "me")     PR_USERS_ME
 *   /users/:id               GET PUT DELETE                   cls "_User", id
 *   /login                   GET (query) POST (body)          body {username, password, ...}
 *   /logout                  POST
 *   /roles[/:id]             as /classes                      cls "_Role"
 *   /sessions                GET POST                         cls "_Session"
 *   /sessions/me             GET                              PR_SESSIONS_ME
 *   /sessions/:id            GET PUT DELETE
 *   /schemas                 GET POST
 *   /schemas/:cls            GET POST PUT DELETE              cls
 *   /functions/:fn           POST                             fn; body = params
 *   /batch                   POST                             body checked: {"requests":
 *                            [{"path": str, "method"?: str, "body"?: object}] at most
 *                            PREQ_BATCH_MAX of them, "transaction"?: bool (else 107)
 *   /health                  any; keys, query and body not read
 *
 * Methods other than GET, POST, PUT and DELETE are 405 (OPTIONS, the CORS
 * preflight, is the gateway's to answer before decoding).  One trailing
 * slash is allowed (express's default); empty, "." and ".." segments are
 * not.  Segments are percent-decoded after splitting, then validated:
 *   class names  ^[A-Za-z_][A-Za-z0-9_]{0,127}$  else 400 code 103
 *   object ids   ^[A-Za-z0-9_-]{1,63}$           else 404 code 101 (no such
 *                object can exist: what parse-server answers)
 *   functions    ^[A-Za-z0-9_.-]{1,128}$         else 400 code 141
 *
 * Keys come from headers (X-Parse-Application-Id, -REST-API-Key,
 * -Javascript-Key, -Client-Key, -Master-Key, -Session-Token,
 * -Installation-Id, -Client-Version, -Cloud-Context; X-Mist-Deadline-Ms),
 * or -- the JS SDK's form, every call a POST with Content-Type text/plain --
 * from the body's fields _ApplicationId, _JavaScriptKey, _ClientKey,
 * _RestAPIKey, _MasterKey, _SessionToken, _InstallationId, _ClientVersion,
 * _context, as parse-server's handleParseHeaders reads them: only when
 * there is no X-Parse-Application-Id header (then _JavaScriptKey replaces
 * the header's).  Those fields and _method, _ContentType, _RevocableSession
 * and _noBody are removed from the body whichever form is used.  _method
 * (on a POST only) sets the method: POST + _method GET is a GET.
 *
 * The body is JSON whatever the Content-Type (parse-server parses every
 * body as JSON); it must be an object (else 400 code 107), with no key
 * twice (jansson's JSON_REJECT_DUPLICATES: two decoders of one body must
 * not disagree about it), within the bounds below.
 *
 * Query parameters: for a GET, the body's fields and the URL's query
 * string together (the URL's win, as parse-server's Object.assign) are
 * the parameters, checked per route and normalized into @a params:
 *   find   (GET /classes/:cls, /users, /roles, /sessions): where (object;
 *          a string is parsed: bad JSON 107, not an object 102), order,
 *          keys, excludeKeys, include, redirectClassNameForKey,
 *          readPreference, includeReadPreference, subqueryReadPreference
 *          (strings), limit and skip (integers 0..INT32_MAX, from a number
 *          or a decimal string), count (0/1, true/false -> a JSON
 *          boolean), includeAll, hint, explain, comment (kept as sent);
 *          any other key is 400 code 102 "Invalid parameter for query: k".
 *   get    (GET with an id, /users/me, /sessions/me): keys, include,
 *          excludeKeys, readPreference, includeReadPreference,
 *          subqueryReadPreference; any other is 102 "Improper encode of
 *          parameter".
 *   login  GET or POST: the fields go to @a body (the body's win over the
 *          query's, as UsersRouter reads them); @a params is NULL; a
 *          session token sent along is dropped (as parse-server does: a
 *          stale one must not fail a login).
 *   functions: the URL's query fields (strings) are merged into @a body
 *          (the query's win, as FunctionsRouter's Object.assign).
 * URL values are percent-decoded ('+' is a space); where, limit, skip,
 * count, includeAll, hint and explain are read as JSON when they parse
 * (parse-server's JSONFromQuery), the string-typed ones are kept as text.
 * A key twice in the query string is 102 (qs would make it an array).
 *
 * Ownership: a struct preq is caller storage; preq_decode() fills it and
 * owns @a body, @a params and @a context (jansson references), which
 * preq_clear() releases.  Nothing in it points into the http_req: the
 * request may be freed first.  On error the preq holds nothing (no clear
 * needed, but clearing is harmless).  @a err is caller storage.
 */
#ifndef MIST_GATEWAY_PARSE_REQ_H_INCLUDED
#define MIST_GATEWAY_PARSE_REQ_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accessory/perr.h"
#include "gateway/http_req.h"

/* Class and function names, NUL included: Parse's class names have no
 * length rule of their own; 128 characters is far past any real one and
 * keeps a name a fixed-size field everywhere (index keys, log lines). */
#define PREQ_NAME_MAX 129
/* Object ids, NUL included: Parse makes 10 characters; custom ids
 * (allowCustomObjectId) are UUIDs (36) at most in practice, so 63. */
#define PREQ_ID_MAX 64
/* The application id, NUL included: apps.h's APP_ID_MAX. */
#define PREQ_APP_ID_MAX 64
/* A key, NUL included: apps.h's APP_KEY_MAX (64 hex characters).  A
 * longer one cannot match any app's key, so it is refused (403) rather
 * than cut down to one that might. */
#define PREQ_KEY_MAX 65
/* A session token, NUL included: Parse's are "r:" + 32 hex (34); legacy
 * and other SDKs' tokens are longer, 128 is ample. */
#define PREQ_SESSION_MAX 129
/* An installation id (a UUID, 36) or a client version ("js4.3.1"),
 * NUL included. */
#define PREQ_INSTALL_MAX 129
#define PREQ_VERSION_MAX 64

/* Bounds on a JSON body (checked after jansson parsed it: jansson 2.14 has
 * no depth option of its own, only its fixed 2048; the listener bounds the
 * body's size before this).  Errors: depth 400 code 107, the others 400
 * code 116 (OBJECT_TOO_LARGE). */
/* Nesting, the body itself at depth 1: an object with an ACL
 * ({"ACL":{"*":{"read":true}}}) is 3 deep, a batch of such creates 6; 32
 * is what the msgpack side allows too (MP_MAX_DEPTH). */
#define PREQ_MAX_DEPTH 32
/* A where's nesting, the where at depth 1: each $or/$and level costs 2
 * (object, array), a leaf {"f":{"$in":[..]}} 3, so 24 allows ten levels
 * of boolean operators -- past what a query planner should be asked. */
#define PREQ_WHERE_DEPTH 24
/* Values in a whole body (every object, array, string, number...): a
 * batch of 50 objects of 100 fields is 5 000; 65 536 allows big arrays
 * while bounding what the gateway walks and converts per request. */
#define PREQ_MAX_VALUES 65536
/* Keys in one object: 1 024 fields is beyond any sane class. */
#define PREQ_MAX_KEYS 1024
/* A key's length in bytes: field names are short identifiers; 256 leaves
 * room for a dotted path in an operator ("a.b.c"). */
#define PREQ_MAX_KEY_LEN 256
/* A string value's length in bytes: 256 KiB; past that a value should be
 * a file, not a field (Parse's own Bytes fields are small). */
#define PREQ_MAX_STR_LEN (256 * 1024)
/* Query string parameters: parse-server knows 16 find options; 32. */
#define PREQ_MAX_PARAMS 32
/* The raw query string, bytes: 64 KiB, what servers accept in a URL at
 * most (a where with a long $in); larger belongs in a JSON body. */
#define PREQ_MAX_QUERY (64 * 1024)
/* Requests in one /batch: Parse.com's limit, kept by the SDKs (the JS
 * SDK splits saveAll into batches of 50). */
#define PREQ_BATCH_MAX 50
/* X-Mist-Deadline-Ms at most: one day; the gateway lowers it to the
 * listener's max_deadline_ms anyway, this only refuses nonsense. */
#define PREQ_DEADLINE_MAX 86400000u

enum preq_route {
	PR_NONE,
	PR_CLASSES,
	PR_USERS,
	PR_USERS_ME,
	PR_LOGIN,
	PR_LOGOUT,
	PR_ROLES,
	PR_SESSIONS,
	PR_SESSIONS_ME,
	PR_SCHEMAS,
	PR_FUNCTIONS,
	PR_BATCH,
	PR_HEALTH,
};

enum preq_method { PM_GET, PM_POST, PM_PUT, PM_DELETE };

struct preq {
	enum preq_route route;
	enum preq_method method; /* after _method */
	/* /classes/:cls, /schemas/:cls; "_User", "_Role", "_Session" for
	 * /users, /roles, /sessions (and their /me); "" if none */
	char cls[PREQ_NAME_MAX];
	char id[PREQ_ID_MAX]; /* object id, "" if none */
	char fn[PREQ_NAME_MAX]; /* /functions/:fn */
	/* "" if absent; from headers or the body's _ fields */
	char app_id[PREQ_APP_ID_MAX];
	char rest_key[PREQ_KEY_MAX];
	char js_key[PREQ_KEY_MAX];
	char client_key[PREQ_KEY_MAX];
	char master_key[PREQ_KEY_MAX];
	char session[PREQ_SESSION_MAX];
	char install[PREQ_INSTALL_MAX];
	char client_version[PREQ_VERSION_MAX];
	uint32_t deadline_ms; /* X-Mist-Deadline-Ms, 0 if absent */
	bool body_form;	      /* the keys came from the body (JS SDK form) */
	/* owned: the JSON object sent, minus the _ fields (see above for
	 * GET, /login and /functions); NULL if none */
	json_t *body;
	/* owned: the query parameters, normalized (see above); NULL if none */
	json_t *params;
	/* owned: X-Parse-Cloud-Context or _context, an object; NULL if none */
	json_t *context;
};

/**
 * Decodes @a r, whose path must be under @a mount ("/parse"; "" for the
 * root).  0 and @a out filled, or MIST_EPROTO with @a err set (the HTTP
 * status and Parse code to answer) and @a out empty.
 */
int preq_decode(const struct http_req *r, const char *mount, struct preq *out,
		struct perr *err);

/**
 * Decodes one sub-request of a /batch (@a parent, as preq_decode() made
 * it): @a method ("GET" if NULL; any case), @a path (with the mount, as
 * parse-server requires: "/parse/classes/X"; "/classes/X" is 400 code 107
 * "cannot route batch path"), @a body (an object, or NULL; borrowed: @a out
 * gets its own copy; for a GET its fields are the parameters).  The keys,
 * session and deadline are the parent's.  No query string, no /batch
 * inside a batch (107).  0 or MIST_EPROTO with @a err set.
 */
int preq_decode_sub(const struct preq *parent, const char *method,
		    const char *path, json_t *body, const char *mount,
		    struct preq *out, struct perr *err);

/**
 * Checks @a v against a body's bounds above (depth, values, keys, key and
 * string lengths), @a what naming it in the error ("the object
 * beforeSave:C returned"): 0, or MIST_EPROTO with @a err set.  For a body
 * that did not come through preq_decode (a trigger's, triggers.h).
 */
int preq_body_check(const json_t *v, const char *what, struct perr *err);

/** Releases what @a p owns and empties it; harmless on an empty preq. */
void preq_clear(struct preq *p);

/** The route's name in logs and metrics: "classes", "users", "login"... */
const char *preq_route_name(enum preq_route r);

/** "GET", "POST", "PUT", "DELETE". */
const char *preq_method_name(enum preq_method m);

/** Whether @a s (@a n bytes, decoded) is a class name, or an object id,
 * by the rules above (the path's: what preq_decode accepts). */
bool preq_class_ok(const char *s, size_t n);
bool preq_id_ok(const char *s, size_t n);

#endif
