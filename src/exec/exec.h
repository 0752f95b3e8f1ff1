/*
 * exec.h -- executors: the processes that run user code, and the pool that
 * feeds them.
 *
 * The agent never loads a plugin.  It starts a pool of executor processes
 * (`mist executor`, the same binary) joined to it by a socketpair; each
 * executor dlopen()s the plugins, announces the functions it found (and
 * their flags), and then runs the tasks it is sent.  Tasks are pipelined:
 * up to `depth` tasks wait in an executor's socket, so a busy node pays one
 * write and one read per batch of tasks, not a round trip per task.
 *
 * Each task runs on a coroutine of its own (on an mmap'd EXEC_STACK_SIZE
 * stack with a guard page; switched without a system call on x86-64,
 * with ucontext elsewhere: executor.c).  A task that calls the host
 * API (mist_plugin.h: a function reading the calling app's documents)
 * writes a host request frame and yields; the executor runs the other
 * ready tasks, and when none is ready writes every frame it has (results
 * and host requests, one write) and reads (one read for many replies and
 * new tasks), resuming the tasks the replies answer.  Tasks that never
 * call the host run to their end in arrival order, as before.
 *
 * Frames both ways: u32 big-endian length, then one msgpack array.
 *
 *   agent -> executor
 *     task         [seq u64, fn u32, args bin, [input bin...], nout u32]
 *                  or, a call with declared reads (mist_plugin.h):
 *                  [seq, fn, args, [input...], nout, [read...]]
 *                  read = [path str, status int 100..599, body bin]: the
 *                  answer of GET path when the call arrived, given to the
 *                  task's GETs of that path until its first write; at
 *                  most EXEC_TASK_READS
 *     host reply   [seq u64, hid u32, status int, body bin]
 *                  (4 fields: told from a task by the length; status is
 *                  HTTP 100..599, or a negative MIST_E* when the host
 *                  could not answer: MIST_ETIMEDOUT, MIST_EPERM...)
 *   executor -> agent
 *     hello        [0, [name str...], [flags u32...], [read str...]]
 *                  first frame; flags (MIST_FN_*) and declared reads'
 *                  templates (function/fnread.h; "" none) parallel to
 *                  the names (an ABI 1 plugin's flags are 0, an ABI 1
 *                  or 2 plugin declares no read); older executors sent
 *                  [0, [names]] or [0, [names], [flags]]
 *     success      [seq, 0, exec_us, [output bin...]]
 *     failure      [seq, 1, exec_us, message str]      the function failed
 *     host request [seq, 2, hid u32, method str, path str, body bin]
 *                  (6 fields) hid counts the task's host calls from 1;
 *                  method GET|POST|PUT|DELETE, path <= MIST_HOST_PATH_MAX
 *                  bytes starting with '/', body <= MIST_HOST_BODY_MAX
 *
 * Host calls outstanding: one per task (a task waits for its answer), so
 * at most `depth` per executor (depth <= EXEC_MAX_TASKS); the pool
 * refuses a second request of the same task before the first is answered
 * (a protocol break: the executor is killed).  Only calls (pool keys with
 * the high bit, function.h's FUNC_CALL_KEY) have a host API; a job's task
 * gets ops->docs NULL, so mist_docs() says MIST_EPERM without a frame.
 *
 * bin fields carry msgpack objects as opaque bytes.  Limits, all per task
 * attempt: CPU time (ITIMER_PROF inside the executor ticks every 1 ms of
 * CPU, and each tick is charged to the task running, so interleaved tasks
 * are each charged their own time, to within a tick; SIGPROF's default
 * action ends the executor when a task's budget is spent), wall time
 * (the pool kills the executor; a task may bring a smaller limit of its
 * own, see pool_submit; a task waiting for the host at its limit is not
 * killed: its host call ends with MIST_ETIMEDOUT and it gets 100 ms,
 * POOL_HOST_GRACE_MS, to return), address space (RLIMIT_AS set once per executor:
 * a hog sees allocations fail).  An executor that dies fails the task it
 * was running and only that one (pool.c explains how it is found); the
 * others are handed to another executor -- except the tasks that have
 * called the host API, which fail ("its executor was stopped after the
 * call had used the host API"): they may have written documents, so running them again
 * is not harmless -- and a replacement is started.
 *
 * Plugins need not be thread-safe (one thread), but several calls may be
 * between host calls at once: a function must not keep per-call state in
 * globals across a host call (mist_plugin.h says it to plugin authors).
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

/**
 * A task's coroutine stack, bytes (a PROT_NONE guard page below it).  The
 * functions ran on the process's 8 MiB main stack before they had their
 * own; 1 MiB is what common thread libraries give a thread by default
 * (macOS 512 KiB, musl 128 KiB, glibc 8 MiB), far more than msgpack-c or
 * jansson need at the bounded nesting (MP_MAX_DEPTH) mist hands a
 * function, and room for local buffers of a few hundred KiB.  Pages are
 * touched only as used, so it costs address space (EXEC_MAX_TASKS of them
 * under RLIMIT_AS), not memory.  An overflow hits the guard page: the
 * executor crashes and the pool reports it, like any crash.
 */
#define EXEC_STACK_SIZE (1u << 20)
/**
 * Tasks alive at once in one executor (running, ready or waiting for the
 * host): the pool's depth is clamped to it.  Each holds a stack, so 256
 * is a quarter of the default 1 GiB address space of an executor, and 8
 * times the default depth.
 */
#define EXEC_MAX_TASKS 256
/** Declared reads one task may carry (the task frame's sixth field): a
 * function declares one; a few leave room to grow. */
#define EXEC_TASK_READS 4
/** The MIST_FN_* flags mist knows (others are dropped at load). */
#define EXEC_FN_FLAGS MIST_FN_MASTER

/* ------------------------------------------------------ executor side */

/**
 * The body of `mist executor`: loads @a plugins, limits the address space to
 * @a memory_bytes (0: none), then serves tasks on @a fd until it closes.
 * Returns the process exit status.
 */
int executor_main(int fd, char *const *plugins, int nplugins,
		  uint64_t memory_bytes, uint32_t cpu_ms);

/* -------------------------------------------- host frames (hostframe.c) */

struct pool_host_req;
struct buf;

/** Appends a host request frame (length header included). */
void exec_host_req_pack(struct buf *b, uint64_t seq, uint32_t hid,
			const char *method, const char *path, size_t path_len,
			const void *body, size_t body_len);
/**
 * Parses one host request frame's msgpack (@a p, @a n: after the length):
 * 0 with @a out pointing into @a p (method: a constant), or MIST_EPROTO:
 * not exactly [seq, 2, hid 1..u32, method GET|POST|PUT|DELETE, path
 * 1..MIST_HOST_PATH_MAX bytes starting with '/', body bin <=
 * MIST_HOST_BODY_MAX].
 */
int exec_host_req_parse(const uint8_t *p, size_t n, struct pool_host_req *out);
/** Appends a host reply frame (length header included). */
void exec_host_reply_pack(struct buf *b, uint64_t seq, uint32_t hid,
			  int status, const void *body, size_t len);
/** Parses a host reply frame's msgpack: 0, or MIST_EPROTO (not [seq, hid
 * 1..u32, status 100..599 or -1000..-1, body bin]). */
int exec_host_reply_parse(const uint8_t *p, size_t n, uint64_t *seq,
			  uint32_t *hid, int *status, const uint8_t **body,
			  uint32_t *blen);

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
/** The functions the executors offer, once known (first hello), with
 * their declared reads' templates (each NULL: none); the same rule as for
 * pool_done_cb (data_functions_post() is the message). */
typedef void (*pool_ready_cb)(void *ctx, const char *const *names,
			      const char *const *reads, uint32_t n);

/** A host request of a running task (the host request frame). */
struct pool_host_req {
	uint64_t key; /* the task's */
	uint32_t hid;
	const char *method; /* NUL-terminated, "GET".."DELETE" */
	const char *path;   /* not NUL-terminated */
	uint32_t path_len;
	const uint8_t *body;
	uint32_t body_len;
};

/**
 * The host requests of one read from an executor, in order; same rule as
 * pool_done_cb (one call per read: turn them into one message, never call
 * the pool from here; func_pool_host() posts MSG_EXEC_HOST).  Everything
 * @a rs points to is valid during the call only.  Each request is
 * answered with pool_host_reply(); until then its task waits (and counts
 * against its wall time).
 */
typedef void (*pool_host_cb)(void *ctx, const struct pool_host_req *rs,
			     uint32_t n);

struct pool;

/** Starts the executors.  NULL only if nothing can be spawned. */
struct pool *pool_open(uv_loop_t *loop, const struct pool_config *cfg,
		       pool_done_cb done, pool_ready_cb ready, void *ctx);
/** Where host requests go (@a ctx: the open's); until set, a task's host
 * request is answered MIST_EPERM at once. */
void pool_set_host(struct pool *p, pool_host_cb host);
/** The index of function @a name, or -1 (unknown, or not ready yet). */
int pool_fn_index(const struct pool *p, const char *name, uint32_t len);
/** The MIST_FN_* flags of function @a fn (0 if unknown). */
uint32_t pool_fn_flags(const struct pool *p, uint32_t fn);
/**
 * Answers host request @a hid of task @a key: @a status HTTP (100..599) or
 * a negative MIST_E*, @a body JSON (copied; at most EXEC_MAX_FRAME less a
 * header, else the task gets MIST_E2BIG).  0, or MIST_ENOTFOUND: no such
 * task waits for that request (it ended, or its executor died).
 */
int pool_host_reply(struct pool *p, uint64_t key, uint32_t hid, int status,
		    const void *body, size_t len);
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
/**
 * As pool_submit() for a function call (no inputs, one output), with its
 * declared reads' answers: @a reads, @a rlen the msgpack array the task
 * frame carries ([[path, status, body]...], at most EXEC_TASK_READS;
 * checked by its sender, function/fncall.h), copied; @a rlen 0: none.
 * Kept only when the function declares a read in the first hello (a
 * MIST_FN_MASTER function never does): the pool's table, not the
 * sender's gossip, decides.
 */
int pool_submit_call(struct pool *p, uint64_t key, uint32_t fn,
		     const uint8_t *args, uint32_t alen, const uint8_t *reads,
		     uint32_t rlen, uint32_t wall_ms);
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
	/* host API (appended): as pool_fn_flags and pool_host_reply */
	uint32_t (*fn_flags)(void *pool, uint32_t fn);
	int (*host_reply)(void *pool, uint64_t key, uint32_t hid, int status,
			  const void *body, size_t len);
	/* declared reads (appended; NULL: a call's reads are dropped, its
	 * GETs go to the host): as pool_submit_call */
	int (*submit_call)(void *pool, uint64_t key, uint32_t fn,
			   const uint8_t *args, uint32_t alen,
			   const uint8_t *reads, uint32_t rlen,
			   uint32_t wall_ms);
};

extern const struct pool_ops pool_real_ops;

#endif
