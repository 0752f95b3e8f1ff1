/*
 * mist_plugin.h -- the C ABI between mist and the functions it runs.
 *
 * A plugin is a shared object that exports one symbol:
 *
 *     const struct mist_plugin *mist_plugin_v1(void);
 *
 * returning a table of named functions.  `mist agent --plugin PATH` loads it
 * -- never into the agent itself: only the agent's executor processes
 * (forked workers with CPU-time, wall-time and memory limits) open the
 * shared object and call into it, so a crash, a loop or a memory hog in user
 * code fails that one task attempt and costs the agent one executor.
 *
 * Values are msgpack: a function gets its arguments (one msgpack object,
 * usually an array) and its inputs (the values of the task's input
 * references, one msgpack object each) and produces exactly
 * @a noutputs msgpack objects with mist_output(), or fails with
 * mist_fail() and a message the client will see.  The agent checks that
 * every output is well-formed msgpack.
 *
 * Ownership: everything in struct mist_call belongs to mist and is valid
 * only during the call.  mist_output() copies its bytes.  Functions must be
 * deterministic (same arguments and inputs, same outputs): after a failure
 * mist recomputes lost values by running their producers again.
 *
 * Stability: this header only grows.  A new, incompatible ABI would export
 * mist_plugin_v2 instead.  ABI 2 appended the host API and the
 * per-function flags, ABI 3 (this header) the declared reads; a plugin
 * built against ABI 1 or 2 keeps working unchanged (mist allocates struct
 * mist_call_ops, so the fields appended to it are there whatever the
 * plugin was built with, and reads a plugin's flags only when its abi is
 * 2 or more, its reads only when it is 3 or more).  A plugin built
 * against ABI 3 declares abi 3, which an older mist refuses at load: it
 * never relies on what is not there.
 *
 * The host API (ABI 2).  A function called for a request (an add-on
 * function of the mobile backend, POST /functions/NAME) can read and write
 * the documents of the app that called it with mist_docs() and its typed
 * wrappers.  Each call is a Parse REST request -- a method and a path
 * relative to the app's mount ("/classes/Score/abc",
 * "/classes/Score?where=...", "/users/me") with a JSON body -- that the
 * gateway checks like a client's: it acts as the calling user (their
 * session: ACLs and class permissions apply), or with the master key only
 * if the function declared MIST_FN_MASTER in the plugin's flags AND the
 * app allows it (`mist apps set APP --functions-master on`; a caller that
 * itself used the master key passes it on).  It counts against the app's,
 * the user's and the client address's rate limits (a flood gets 429s) and
 * against the request's deadline (a call made after it gets
 * MIST_HOST_ETIMEDOUT at once; a function still running at the deadline is
 * killed and the client gets 504).  Only document routes are reachable:
 * classes, users, roles, sessions, schemas reads; not functions (no
 * recursion), batch, login or logout.  Each call is a line of the access
 * log whose "parent" is the request that ran the function.
 *
 * Concurrency: one thread, but not one call at a time.  While a host call
 * waits for its answer, the executor runs other calls of the same
 * plugin (each on its own stack), so several calls may be between their
 * host calls at once: a plugin needs no locks, but must not keep
 * per-call state in globals across a host call.
 *
 * Trust: the limits (CPU, wall time, memory) hold against any code, but
 * the host API trusts the executor process.  Calls of different apps and
 * users share an agent's executors, and code that writes its own frames
 * on the executor's channel can issue host calls in the name of any call
 * running in the same process -- with that caller's session, and the
 * master key if that call has it.  So the plugins an agent loads are, for
 * the data, as trusted as the agent: give apps whose code must not see
 * each other's data agents of their own.
 *
 * Ownership of the host API's answers: struct mist_doc_reply's body
 * belongs to mist and stays valid until the next host call of the same
 * call, or the end of the call, whichever comes first; copy what must
 * live longer.  Strings passed in are read during the host call only.
 *
 * Declared reads (ABI 3).  A function that reads one document named by
 * its parameters -- mist_doc_get(c, "Item", id), id its params' "id" --
 * may declare it in the plugin's reads: "/classes/Item/{id}" (or
 * "/users/{p}", "/roles/{p}"; MIST_READ_MAX bytes at most; {p} names a
 * member of the params object, a JSON object).  The gateway then makes
 * that read itself when the call arrives, with the same checks a host
 * call gets (as the caller, rate limits, the access log line whose
 * parent is the call), and sends its answer with the task: the
 * function's GET of exactly that path (the one mist_doc_get builds) is
 * answered inside the executor, with no round trip to the agent -- the
 * difference between an add-on function that reads and one that does
 * not is then the read, not a second crossing of the executor's channel.
 * The answer is what the host call would have had when the call began:
 * any status (404 when the caller may not see the object).  It answers
 * every GET of that path until the function writes (a POST, PUT or
 * DELETE through the host API): from then on its GETs go to the host,
 * so a function always reads its own writes.  The declaration is a
 * promise: the read is made (and counted against the rate limits) even
 * if the function does not ask for it.  A call whose params lack the
 * member, hold a non-string or a string that cannot be an object id is
 * sent without it (the function's GET goes to the host, as undeclared).
 * A MIST_FN_MASTER function's declaration is ignored (its reads act with
 * the master key; the gateway reads as the caller): the executor warns
 * at load.  An ill-formed declaration fails the plugin's load.
 */
#ifndef MIST_PLUGIN_H_INCLUDED
#define MIST_PLUGIN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_PLUGIN_ABI 3
/** Put before mist_plugin_v1's definition: exported even when the plugin
 * is built with -fvisibility=hidden. */
#define MIST_PLUGIN_EXPORT __attribute__((visibility("default")))
#define MIST_PLUGIN_SYMBOL "mist_plugin_v1"

struct mist_blob {
	const uint8_t *data;
	size_t len;
};

struct mist_call;

/** The answer of a host call (mist_docs). */
struct mist_doc_reply {
	int status;	  /* HTTP: 200, 201, 404, 429... */
	const char *body; /* JSON (Parse's answer or error); mist's: valid
			   * until the next host call or the end of the call */
	size_t len;
};

/*
 * The codes (mist.h's table, negative) with which a host call ends when no
 * answer could be had; an answer, whatever its HTTP status, is 0.
 */
#define MIST_HOST_EINVAL (-1)	  /* bad arguments (NULL, a path not "/...") */
#define MIST_HOST_E2BIG (-4)	  /* path or body over the limits below */
#define MIST_HOST_ETIMEDOUT (-6)  /* the request's deadline is spent */
#define MIST_HOST_ENOACTOR (-8)	  /* this node serves no HTTP: no gateway
				   * to route the call (mist agent --http) */
#define MIST_HOST_EOVERLOAD (-9)  /* the node's host calls are all taken */
#define MIST_HOST_ECLOSED (-10)	  /* the agent is stopping */
#define MIST_HOST_EPERM (-21)	  /* no host API for this call: a job's
				   * task, or a mist older than ABI 2 */
/** A host call's path at most, NUL excluded (a URL with a long where). */
#define MIST_HOST_PATH_MAX 16384
/** A host call's body at most: the HTTP layer's bound on a request. */
#define MIST_HOST_BODY_MAX (1u << 20)

/** Callbacks provided by the executor; see mist_output / mist_fail. */
struct mist_call_ops {
	int (*output)(struct mist_call *c, uint32_t index, const void *data,
		      size_t len);
	void (*fail)(struct mist_call *c, const char *message);
	/* ABI 2; NULL when the call has no host API (a job's task) */
	int (*docs)(struct mist_call *c, const char *method, const char *path,
		    const char *body, size_t body_len,
		    struct mist_doc_reply *out);
};

struct mist_call {
	const char *function;	  /* the name the task asked for */
	struct mist_blob args;	  /* one msgpack object */
	const struct mist_blob *inputs;
	uint32_t ninputs;
	uint32_t noutputs;	  /* how many mist_output() calls are owed */
	const struct mist_call_ops *ops;
	void *impl;		  /* the executor's */
};

/**
 * A function returns 0 after setting every output, or non-zero after
 * mist_fail() (a non-zero return without a message fails with a generic
 * one).
 */
typedef int (*mist_fn)(struct mist_call *call);

struct mist_function {
	const char *name; /* printable, at most 63 bytes, unique in the plugin */
	mist_fn fn;
};

/** A declared read's template at most, NUL included (ABI 3). */
#define MIST_READ_MAX 128

/** A function's flags (struct mist_plugin's flags, ABI 2). */
#define MIST_FN_MASTER 1u /* its host calls use the master key, where the
			   * app allows it (else they act as the caller) */

struct mist_plugin {
	uint32_t abi; /* MIST_PLUGIN_ABI */
	const char *name;
	const struct mist_function *functions;
	uint32_t nfunctions;
	/* ABI 2: NULL, or nfunctions flags (MIST_FN_*), parallel to
	 * functions; read only when abi >= 2 */
	const uint32_t *flags;
	/* ABI 3: NULL, or nfunctions declared reads (each NULL: none, or a
	 * template "/classes/CLASS/{param}", "/users/{param}",
	 * "/roles/{param}": "Declared reads" above), parallel to
	 * functions; read only when abi >= 3 */
	const char *const *reads;
};

/** Sets output @a index (copied).  0, or -1 if the index is out of range. */
static inline int
mist_output(struct mist_call *c, uint32_t index, const void *data, size_t len)
{
	return c->ops->output(c, index, data, len);
}

/** Fails the call with @a message (copied, truncated to 1 KiB). */
static inline void
mist_fail(struct mist_call *c, const char *message)
{
	c->ops->fail(c, message);
}

/* ------------------------------------------------------ the host API */

/**
 * One Parse REST request to the calling app's documents: @a method "GET",
 * "POST", "PUT" or "DELETE"; @a path relative to the mount, with its query
 * string percent-encoded ("/classes/Score?where=%7B%7D&limit=10"); @a body
 * JSON (NULL or @a body_len 0: none).  0 with @a out set when the gateway
 * answered (look at out->status), or a negative MIST_HOST_E* when no answer
 * could be had.  Blocks this call (others run meanwhile).
 */
static inline int
mist_docs(struct mist_call *c, const char *method, const char *path,
	  const char *body, size_t body_len, struct mist_doc_reply *out)
{
	if (c->ops->docs == NULL)
		return MIST_HOST_EPERM;
	return c->ops->docs(c, method, path, body, body_len, out);
}

/* Appends @a s to @a out (of @a cap, @a *n used) percent-encoded as a URL
 * path segment or query value needs: all but A-Z a-z 0-9 - _ . ~.  0, or
 * -1 if it does not fit. */
static inline int
mist_host_escape_(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
			    ch == '.' || ch == '~';
		if (*n + (plain ? 1 : 3) >= cap)
			return -1;
		if (plain) {
			out[(*n)++] = (char)ch;
		} else {
			out[(*n)++] = '%';
			out[(*n)++] = hex[ch >> 4];
			out[(*n)++] = hex[ch & 15];
		}
	}
	out[*n] = '\0';
	return 0;
}

static inline int
mist_host_put_(char *out, size_t cap, size_t *n, const char *s)
{
	while (*s) {
		if (*n + 1 >= cap)
			return -1;
		out[(*n)++] = *s++;
	}
	out[*n] = '\0';
	return 0;
}

/* "/classes/CLASS[/ID]" into @a out, escaped; 0 or -1. */
static inline int
mist_host_path_(char *out, size_t cap, size_t *n, const char *cls,
		const char *id)
{
	*n = 0;
	if (cls == NULL || mist_host_put_(out, cap, n, "/classes/") != 0)
		return -1;
	if (mist_host_escape_(out, cap, n, cls, __builtin_strlen(cls)) != 0)
		return -1;
	if (id != NULL && (mist_host_put_(out, cap, n, "/") != 0 ||
			   mist_host_escape_(out, cap, n, id,
					     __builtin_strlen(id)) != 0))
		return -1;
	return 0;
}

/** GET /classes/@a cls/@a id. */
static inline int
mist_doc_get(struct mist_call *c, const char *cls, const char *id,
	     struct mist_doc_reply *out)
{
	char path[512];
	size_t n;
	if (id == NULL || mist_host_path_(path, sizeof(path), &n, cls, id) != 0)
		return MIST_HOST_EINVAL;
	return mist_docs(c, "GET", path, NULL, 0, out);
}

/** GET /classes/@a cls?where=@a where_json&limit=@a limit (@a where_json
 * NULL: every object; @a limit 0: Parse's default, 100). */
static inline int
mist_doc_find(struct mist_call *c, const char *cls, const char *where_json,
	      unsigned limit, struct mist_doc_reply *out)
{
	char path[MIST_HOST_PATH_MAX + 1];
	size_t n;
	if (mist_host_path_(path, sizeof(path), &n, cls, NULL) != 0)
		return MIST_HOST_EINVAL;
	char sep = '?';
	if (where_json != NULL) {
		if (mist_host_put_(path, sizeof(path), &n, "?where=") != 0 ||
		    mist_host_escape_(path, sizeof(path), &n, where_json,
				      __builtin_strlen(where_json)) != 0)
			return MIST_HOST_E2BIG;
		sep = '&';
	}
	if (limit > 0) {
		char num[24];
		int k = 0;
		char digits[12];
		unsigned v = limit;
		do {
			digits[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		num[0] = sep;
		int j = 1;
		for (const char *w = "limit="; *w; w++)
			num[j++] = *w;
		while (k)
			num[j++] = digits[--k];
		num[j] = '\0';
		if (mist_host_put_(path, sizeof(path), &n, num) != 0)
			return MIST_HOST_E2BIG;
	}
	return mist_docs(c, "GET", path, NULL, 0, out);
}

/** POST /classes/@a cls with @a json (an object). */
static inline int
mist_doc_create(struct mist_call *c, const char *cls, const char *json,
		struct mist_doc_reply *out)
{
	char path[512];
	size_t n;
	if (json == NULL || mist_host_path_(path, sizeof(path), &n, cls, NULL) != 0)
		return MIST_HOST_EINVAL;
	return mist_docs(c, "POST", path, json, __builtin_strlen(json), out);
}

/** PUT /classes/@a cls/@a id with @a json (the changes). */
static inline int
mist_doc_update(struct mist_call *c, const char *cls, const char *id,
		const char *json, struct mist_doc_reply *out)
{
	char path[512];
	size_t n;
	if (json == NULL || id == NULL ||
	    mist_host_path_(path, sizeof(path), &n, cls, id) != 0)
		return MIST_HOST_EINVAL;
	return mist_docs(c, "PUT", path, json, __builtin_strlen(json), out);
}

/** DELETE /classes/@a cls/@a id. */
static inline int
mist_doc_delete(struct mist_call *c, const char *cls, const char *id,
		struct mist_doc_reply *out)
{
	char path[512];
	size_t n;
	if (id == NULL || mist_host_path_(path, sizeof(path), &n, cls, id) != 0)
		return MIST_HOST_EINVAL;
	return mist_docs(c, "DELETE", path, NULL, 0, out);
}
/*
 * Triggers (the mobile backend's Cloud Code triggers).  A function named
 * KIND ':' CLASS -- "beforeSave:GameScore", "afterSave:GameScore",
 * "beforeDelete:_User", "afterDelete:Note" -- is a trigger: the gateway
 * runs it around the class's writes when the app lists it (`mist apps set
 * APP --functions beforeSave:GameScore`), never by a client's call.  Its
 * args are one msgpack map like Parse's request ({"triggerName",
 * "className", "object", "objectId", "original", "master", "user",
 * "ip", ...}); a beforeSave outputs nil or true (save as sent) or a map
 * (save that object instead), or calls mist_fail() to refuse the write
 * with its message; the results of the other kinds are ignored.  A trigger has
 * 3 s at most, less if its request has less left.  docs/HTTP.md,
 * "Triggers", has the rules; examples/addon/triggers.c is an example.
 */

#ifdef __cplusplus
}
#endif
#endif /* MIST_PLUGIN_H_INCLUDED */
