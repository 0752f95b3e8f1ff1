/*
 * function.h -- ACTOR_FUNCTION, the function actor of a node: runs task
 * attempts for job owners, holds the node's values, and runs add-on
 * functions called by request (MSG_FN_CALL, the mobile backend's
 * POST /functions/:name).
 *
 * It receives MSG_TASK_RUN from a job's owner (any node's data manager),
 * fetches the inputs it lacks from the function actors holding them
 * (MSG_VALUE_GET, in JOBS_CHUNK pieces), runs the attempt on the node's
 * executor pool, keeps the outputs and reports MSG_TASK_DONE (sizes only)
 * to the owner.  User code never runs here: only in executor processes
 * (src/exec/).
 *
 * Why the values live here and not in the data manager: every attempt
 * reads its inputs and writes its outputs on the node that runs it, so
 * the actor that runs attempts is the one that touches values on the hot
 * path -- an executor's outputs go into the store without another copy,
 * and inputs go from the store to the executor in one.  With the store in
 * the data manager, each attempt would have to move every input and
 * output between the two actors.  The data manager (data/data.h) keeps
 * what belongs to a job's owner: the graph, where each value lives, the
 * placement and the journal; it reads a value for a client (JOB_READ) and
 * frees values (VALUE_FREE) by message, like any other node does.
 *
 * The seam to the executors: the actor calls the pool only through a
 * struct pool_ops (exec/exec.h) given at spawn, and learns the tasks' ends
 * from MSG_EXEC_DONE messages, each carrying a list of results: the real
 * pool's done callback, func_pool_done(), posts one per pool event (all
 * the results of one read from an executor -- tens when the executors are
 * busy -- so that a message, a mailbox push and a turn are paid per batch,
 * not per attempt); the tests' fake pools post one result at a time with
 * func_result_post().
 *
 *   MSG_EXEC_DONE (local; ptr: a list of struct func_result, owned by the
 *   message), each result:
 *   +-----+--------+---------+-------------------+------+-------------+------+
 *   | key | status | exec_us | error (status<0)  | nout | outs[nout]  | next |
 *   +-----+--------+---------+-------------------+------+-------------+------+
 *     u64   int      u32       char * or NULL      u32    struct vval *  or NULL
 *
 * Checkpoint copies (data/ckpt.h): a job's owner asks the node it chose
 * as a safe holder of a value to keep a copy (MSG_VALUE_COPY, drawn in
 * data/jobmsg.h); the actor fetches the value from the holders named,
 * as it fetches an input (the next holder on error, chunks that must add
 * up to the size the owner gave), keeps it in the store and answers nil;
 * the owner then counts it as a holder.  Copies in flight are bounded
 * (FUNC_MAX_COPIES, FUNC_COPIES_MAX_BYTES: past them MIST_EOVERLOAD), and
 * one asked by a fenced owner -- a lower epoch than the job's highest
 * seen here -- is refused (MIST_EPERM).
 *
 *   owner --MSG_VALUE_COPY [owner, job, epoch, task, out, size,
 *           [holder...]]--> here
 *   here --MSG_VALUE_GET (chunks)--> a holder ...
 *   here --reply nil | error--> owner
 *
 * Add-on functions (docs/MBAAS.md): the same actor runs a function for a
 * request, MSG_FN_CALL (function/fncall.h draws it and has its codec),
 * on the same executors, and answers with its one output:
 *
 *   gateway --MSG_FN_CALL [app, fn, deadline_ms, caller, params]--> here
 *   here --reply [0, result] | [1, message]--> gateway   (status 0)
 *   here --error reply, no body--> gateway                (status < 0)
 *
 * The error replies, when the call is not run or not answered by the
 * function: MIST_EPROTO (malformed), MIST_ENOTFOUND (no such function
 * here), MIST_E2BIG (params over FUNC_CALL_MAX_PARAMS), MIST_ETIMEDOUT
 * (the deadline had passed on arrival, or passed before the function
 * ended: it was killed or never started), MIST_EOVERLOAD (max_calls or
 * FUNC_CALLS_MAX_BYTES in flight), MIST_ECLOSED (the pool is closing).
 * [1, message] is the function failing: its mist_fail() message, or a
 * limit or crash the pool reports, or a result over FUNC_CALL_MAX_RESULT.
 *
 * deadline_ms is what is left of the caller's budget when it sent (0: it
 * is spent), and the message's own deadline, if it has one, shortens it.
 * The function gets args = params, no inputs and one output (the plugin
 * ABI of a task); its wall time is min(the pool's, the time left), given
 * to the pool with the task (pool_submit's wall_ms), so a function is
 * killed at its caller's deadline, and a call still queued then never
 * runs.  CPU time and memory are the executors' limits, as for attempts.
 * caller is checked to be a map and kept (copied) with the call, for its
 * host calls.
 *
 * Host calls (mist_plugin.h's host API, function/hostcall.h's codec): the
 * pool's host callback, func_pool_host(), posts each read's host requests
 * as one MSG_EXEC_HOST; for a request of a running call the actor sends
 * MSG_HOST_CALL to this node's gateway, acting for the call's app and
 * caller map, with the call's remaining deadline (its request times out
 * FUNC_HOST_SLACK_MS later) and whether the function declared
 * MIST_FN_MASTER (the pool's flags); the reply goes back to the task with
 * the pool's host_reply op.  A request of a job's task (no app), of a
 * call that has ended, or past the deadline is answered at once
 * (MIST_EPERM, MIST_ETIMEDOUT), never sent.
 *
 *   MSG_EXEC_HOST (local; ptr: a list of struct func_host, owned by the
 *   message): key, hid, method, path, body, next
 *   here --MSG_HOST_CALL [app, caller, remaining_ms, master, method, path,
 *         body]--> local ACTOR_GATEWAY --reply [status, body]--> here
 *
 * Calls in flight are slots of a table allocated at spawn (max_calls of
 * them): a call costs no allocation of the actor's, its pool key is
 * FUNC_CALL_KEY | generation << 32 | slot (attempts count up from 1 and
 * never reach the high bit), and MSG_EXEC_DONE's results are told apart
 * by that bit.  Calls pipeline like attempts: up to `depth` per executor
 * (pool_config), and one read from an executor answers a batch of them.
 *
 * Counters (calls, failures, timeouts, in flight, per function) are read
 * with func_stats() on the system's thread -- a copy, no message.
 *
 * Ownership: func_spawn() allocates the actor's state -- the runs, the
 * value store -- which only the actor touches and frees on MSG_STOP.  A
 * struct func_result belongs to whoever holds it: its creator, then the
 * message that carries it, then the actor, which adopts its outputs into
 * the store without copying them.  Deliver it from the I/O side
 * (func_result_post: actor_sys_deliver); a message refused or dropped
 * undelivered frees its results (msg.h, ptr_free), so nothing leaks
 * whatever the order of shutdown.
 */
#ifndef MIST_FUNCTION_FUNCTION_H_INCLUDED
#define MIST_FUNCTION_FUNCTION_H_INCLUDED

#include <stdint.h>

#include "actors/actor.h"
#include "exec/exec.h"
#include "function/vstore.h"
#include "mist_plugin.h"

/** This node's name in messages to owners, NUL included (a node name). */
#define FUNC_NAME_MAX 64

/**
 * Add-on function calls in flight per node, by default.  Each holds a slot
 * (about 48 bytes) and its params queued in the pool until it runs.  The
 * executors take executors x depth calls at once (64 on 2 cores, 2048 on
 * 64): 4096 is twice the pipeline of a large node, so a node that keeps up
 * never reaches it, while at the tens of thousands of trivial calls a
 * second a node serves it is already ~100 ms of queue -- past it, waiting
 * longer only makes every deadline miss, and a quick EOVERLOAD (503 at the
 * gateway) lets the client back off or try elsewhere.
 */
#define FUNC_MAX_CALLS 4096
/** Params of one call at most: the bound a job's args have (mist.h), so
 * that a call is one message well under the 1 MiB link frame whatever its
 * envelope; larger data belongs in a file or a job. */
#define FUNC_CALL_MAX_PARAMS (512u << 10)
/** A call's result at most, for the same reason (its reply crosses the
 * same link); a larger one fails the call with a message saying so. */
#define FUNC_CALL_MAX_RESULT (512u << 10)
/** Params bytes of the calls in flight at most: 4096 calls of 32 KiB
 * each, an eighth of a small (1 GiB) node's memory, before EOVERLOAD;
 * small calls never get near it, large ones hit it before max_calls. */
#define FUNC_CALLS_MAX_BYTES (128u << 20)
/** The pool keys of calls have this bit; attempts' never do. */
#define FUNC_CALL_KEY (UINT64_C(1) << 63)
/** A host call's MSG_HOST_CALL times out this long after the call's
 * deadline: the gateway ends it at the deadline and says why (504);
 * ours is the backstop, like the gateway's REST_REPLY_SLACK_MS. */
#define FUNC_HOST_SLACK_MS 100
struct func_config {
	char name[FUNC_NAME_MAX]; /* says which node refused a function */
	uint32_t fetch_timeout_ms; /* per VALUE_GET chunk, then next holder */
	uint32_t max_calls;	   /* add-on calls in flight (FUNC_MAX_CALLS) */
};

void func_config_default(struct func_config *cfg);

/** The end of one accepted task, as MSG_EXEC_DONE carries it. */
struct func_result {
	struct func_result *next; /* the next result of the same message */
	uint64_t key;
	int status; /* 0, or MIST_ETASK (MIST_ECLOSED: the pool closed) */
	uint32_t exec_us;
	char *error; /* status != 0: why, or NULL */
	uint32_t nout;
	struct vval *outs[]; /* status 0: the outputs */
};

/** A result with room for @a nout outputs (NULL until set); @a error is
 * copied (may be NULL). */
struct func_result *func_result_new(uint64_t key, int status,
				    const char *error, uint32_t nout,
				    uint32_t exec_us);
/** Frees @a r alone (not the results after it). */
void func_result_delete(struct func_result *r);
/** Delivers the list @a r (one result, or several linked by next) to
 * @a sys's ACTOR_FUNCTION as one MSG_EXEC_DONE; ownership moves (freed
 * here if the delivery is refused). */
void func_result_post(struct actor_sys *sys, struct func_result *r);
/** The real pool's done callback (pool_done_cb; @a sys is the struct
 * actor_sys *): copies each output once, out of the pipe's buffer, and
 * posts the batch as one message -- nothing else happens in the I/O
 * callback. */
void func_pool_done(void *sys, const struct pool_result *rs, uint32_t n);

/** A host request as MSG_EXEC_HOST carries it (one allocation with its
 * path and body). */
struct func_host {
	struct func_host *next;
	uint64_t key;
	uint32_t hid;
	const char *method; /* a constant: "GET".."DELETE" */
	char *path;	    /* not NUL-terminated */
	uint32_t path_len;
	uint8_t *body;
	uint32_t body_len;
};
/** The real pool's host callback (pool_host_cb; @a sys is the struct
 * actor_sys *): copies the requests out of the pipe's buffer and posts
 * them as one MSG_EXEC_HOST. */
void func_pool_host(void *sys, const struct pool_host_req *rs, uint32_t n);

/** One function's counters (functions are the pool's: at most
 * EXEC_MAX_FUNCTIONS, so the table is bounded). */
struct func_fn_stats {
	char name[EXEC_NAME_MAX];
	uint64_t calls;	   /* accepted (sent to the executors) */
	uint64_t failures; /* answered status 1 */
	uint64_t timeouts; /* killed at, or not started by, the deadline */
	uint64_t exec_us;  /* executor time of the calls that ended */
};

/** The add-on calls of a node, since spawn (func_stats()). */
struct func_stats {
	uint64_t calls;	     /* MSG_FN_CALL requests received */
	uint64_t ok;	     /* answered with a result */
	uint64_t failures;   /* answered status 1: the function failed */
	uint64_t timeouts;   /* MIST_ETIMEDOUT: on arrival or at the end */
	uint64_t overloaded; /* MIST_EOVERLOAD: the in-flight bounds */
	uint64_t unknown;    /* MIST_ENOTFOUND: no such function here */
	uint64_t refused;    /* MIST_EPROTO, MIST_E2BIG, MIST_ECLOSED */
	uint32_t in_flight, in_flight_max; /* now, and the most at once */
	uint64_t in_flight_bytes;	   /* their params */
	uint64_t host_calls;   /* host requests of running functions */
	uint64_t host_refused; /* of those, answered here: a job's task,
				* a call ended or past its deadline */
	uint32_t nfns; /* fns[0..nfns): by the pool's index, name "" if
			* never called */
	struct func_fn_stats fns[EXEC_MAX_FUNCTIONS];
};

/**
 * Copies the counters of @a sys's ACTOR_FUNCTION into @a out (caller
 * storage, about 25 KiB): a read on the system's thread (from any actor's
 * turn or the loop), no message.  0, or MIST_ENOACTOR.
 */
int func_stats(struct actor_sys *sys, struct func_stats *out);

/**
 * Spawns ACTOR_FUNCTION on @a sys.  @a ops and @a pool (both may be NULL:
 * this node offers no function) must outlive the actor.  0, or
 * MIST_EEXIST if the id is taken.
 */
int func_spawn(struct actor_sys *sys, const struct func_config *cfg,
	       const struct pool_ops *ops, void *pool);

#endif
