/*
 * exec.h -- executors: the processes that run user code, and the pool that
 * feeds them.
 *
 * The agent never loads a plugin.  It starts a pool of executor processes
 * (`mist executor`, the same binary) joined to it by a socketpair; each
 * executor dlopen()s the plugins, announces the functions it found, and then
 * runs the tasks it is sent, in order, one at a time.  Tasks are pipelined:
 * up to `depth` tasks wait in an executor's socket, so a busy node pays one
 * write and one read per batch of tasks, not a round trip per task.
 *
 * Frames both ways: u32 big-endian length, then one msgpack array.
 *
 *   agent -> executor   [seq u64, fn u32, args bin, [input bin...], nout u32]
 *   executor -> agent   [0, [name str...]]                  hello, first frame
 *                       [seq, 0, exec_us, [output bin...]]  success
 *                       [seq, 1, exec_us, message str]       the function failed
 *
 * bin fields carry msgpack objects as opaque bytes.  Limits, all per task
 * attempt: CPU time (ITIMER_PROF inside the executor: the signal ends it),
 * wall time (the pool kills the executor; a task may bring a smaller limit
 * of its own, see pool_submit), address space (RLIMIT_AS set
 * once per executor: a hog sees allocations fail).  An executor that dies
 * fails the task it was running and only that one (pool.c explains how
 * it is found); the others are handed to another executor, and a
 * replacement is started.
 */
#ifndef MIST_EXEC_EXEC_H_INCLUDED
#define MIST_EXEC_EXEC_H_INCLUDED

#include <stdint.h>
#include <uv.h>

#include "mist_plugin.h"

/** Largest frame either way: bounds one task's arguments, inputs, outputs
 * (64 MiB: a large scientific array per task, and still a size the agent
 * can hold a few of at once without swapping). */
#define EXEC_MAX_FRAME (64u << 20)
/** Functions the executors of one node may offer: each name travels in the
 * node's gossiped metadata (at most 512 bytes, see data/meta.h), so far
 * fewer fit there; 256 bounds the hello and the pool's name table. */
#define EXEC_MAX_FUNCTIONS 256
/** Longest function name, NUL included: a name is an identifier, and 64
 * bytes keeps a TASK_RUN's header and a node's name table small. */
#define EXEC_NAME_MAX 64
/** --plugin options per agent: a node offers a handful of libraries. */
#define EXEC_MAX_PLUGINS 16
/** Longest error message of a function, NUL included: enough for a
 * sentence and a path, small enough to keep in every failed task. */
#define EXEC_ERR_MAX 1024
/**
 * Outputs of one task attempt at most -- the one bound of the job model on
 * a task's outputs (data/jobs.h calls it JOBS_MAX_OUTPUTS).  Each output
 * costs its job's owner a struct gvalue (about 100 bytes) and a size in
 * every TASK_DONE (up to 9 bytes): 1024 keeps a report under 10 KiB and a
 * task's bookkeeping under 100 KiB, and no function needs more separately
 * addressable results (an array is one value).
 */
#define EXEC_MAX_OUTPUTS 1024

/* ------------------------------------------------------ executor side */

/**
 * The body of `mist executor`: loads @a plugins, limits the address space to
 * @a memory_bytes (0: none), then serves tasks on @a fd until it closes.
 * Returns the process exit status.
 */
int executor_main(int fd, char *const *plugins, int nplugins,
		  uint64_t memory_bytes, uint32_t cpu_ms);

/* ---------------------------------------------------------- pool side */

struct pool_config {
	const char *exe;	     /* the mist binary (uv_exepath) */
	const char *plugins[EXEC_MAX_PLUGINS];
	int nplugins;
	uint32_t executors;	     /* processes, default: cores */
	uint32_t depth;		     /* tasks pipelined per executor */
	uint32_t memory_mb;	     /* address space per executor */
	uint32_t cpu_ms;	     /* CPU time per task */
	uint32_t wall_ms;	     /* wall time per task */
};

void pool_config_default(struct pool_config *cfg);

/**
 * A finished attempt.  @a status 0: @a outs holds @a nout outputs (already
 * checked to be msgpack).  Otherwise MIST_ETASK with @a err saying why (the
 * function's message, a limit, a crash), or MIST_ECLOSED at close.
 */
struct pool_result {
	uint64_t key;
	int status;
	const char *err;	      /* status != 0 */
	const struct mist_blob *outs; /* status 0 */
	uint32_t nout;
	uint32_t exec_us;
};

/**
 * The attempts that one event ended, in order: all the results of one
 * read from an executor (with 32 tasks pipelined per executor, a busy
 * node gets tens per read), or the tasks an executor's death, pool_close()
 * or a broken pool's pool_submit() ends at once.  @a rs and everything it
 * points to are valid during the call only.  Called from the pool's I/O
 * callbacks (and from pool_submit() or pool_close()): it should turn the
 * batch into one message and do nothing else -- never call the pool --
 * as func_pool_done() does.  One call per event, not per attempt, is what
 * keeps the hand-off to the function actor off the per-task bill.
 */
typedef void (*pool_done_cb)(void *ctx, const struct pool_result *rs,
			     uint32_t n);
/** The functions the executors offer, once known (first hello); the
 * same rule as for pool_done_cb (data_functions_post() is the message). */
typedef void (*pool_ready_cb)(void *ctx, const char *const *names,
			      uint32_t n);

struct pool;

/** Starts the executors.  NULL only if nothing can be spawned. */
struct pool *pool_open(uv_loop_t *loop, const struct pool_config *cfg,
		       pool_done_cb done, pool_ready_cb ready, void *ctx);
/** The index of function @a name, or -1 (unknown, or not ready yet). */
int pool_fn_index(const struct pool *p, const char *name, uint32_t len);
/**
 * Queues one task; @a args and the inputs are copied.  The done callback
 * reports each accepted task exactly once: when it ends, at close (with
 * MIST_ECLOSED), or before this returns if the executors cannot start.
 * 0, MIST_ENOTFOUND (bad fn), MIST_E2BIG, MIST_ECLOSED.
 *
 * @a wall_ms, if not 0, is this task's own wall time (a function call's
 * remaining deadline; job attempts pass 0): the task is killed after
 * running min(@a wall_ms, the pool's wall_ms), and if it has not started
 * @a wall_ms after this call it never does (MIST_ETASK, "not started
 * within its wall time") -- its caller has given up by then.  The
 * watchdog looks a tenth of the smallest limit apart (10..100 ms), so a
 * task overruns by at most that.
 */
int pool_submit(struct pool *p, uint64_t key, uint32_t fn, const uint8_t *args,
		uint32_t alen, const struct mist_blob *inputs, uint32_t nin,
		uint32_t nout, uint32_t wall_ms);
/** Kills the executors; pending tasks complete with MIST_ECLOSED.  The pool
 * is freed once the loop has closed its handles. */
void pool_close(struct pool *p);

/**
 * The pool as the function actor sees it: a table of operations on an
 * opaque pool, so that the simulated tests can put a fake executor pool
 * running in virtual time behind the same actor.  pool_real_ops is this
 * file's pool (the context is a struct pool *).  What comes back -- each
 * accepted task's end -- arrives as a message: the done callback only
 * posts MSG_EXEC_DONE, one per batch of results (function/function.h,
 * func_pool_done).
 */
struct pool_ops {
	/** As pool_fn_index(): the function's index, or -1. */
	int (*fn_index)(void *pool, const char *name, uint32_t len);
	/** As pool_submit(): inputs copied; exactly one end per accepted
	 * task, always later, as a message -- even a task failed at once
	 * (a broken pool) is answered through the done callback. */
	int (*submit)(void *pool, uint64_t key, uint32_t fn,
		      const uint8_t *args, uint32_t alen,
		      const struct mist_blob *inputs, uint32_t nin,
		      uint32_t nout, uint32_t wall_ms);
};

extern const struct pool_ops pool_real_ops;

#endif
