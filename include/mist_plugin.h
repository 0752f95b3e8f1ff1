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
 * mist_plugin_v2 instead.
 */
#ifndef MIST_PLUGIN_H_INCLUDED
#define MIST_PLUGIN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIST_PLUGIN_ABI 1
/** Put before mist_plugin_v1's definition: exported even when the plugin
 * is built with -fvisibility=hidden. */
#define MIST_PLUGIN_EXPORT __attribute__((visibility("default")))
#define MIST_PLUGIN_SYMBOL "mist_plugin_v1"

struct mist_blob {
	const uint8_t *data;
	size_t len;
};

struct mist_call;

/** Callbacks provided by the executor; see mist_output / mist_fail. */
struct mist_call_ops {
	int (*output)(struct mist_call *c, uint32_t index, const void *data,
		      size_t len);
	void (*fail)(struct mist_call *c, const char *message);
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

struct mist_plugin {
	uint32_t abi; /* MIST_PLUGIN_ABI */
	const char *name;
	const struct mist_function *functions;
	uint32_t nfunctions;
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
