/*
 * function.h -- ACTOR_FUNCTION, the function actor of a node: runs task
 * attempts for job owners, and holds the node's values.
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

struct func_config {
	char name[FUNC_NAME_MAX]; /* says which node refused a function */
	uint32_t fetch_timeout_ms; /* per VALUE_GET chunk, then next holder */
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

/**
 * Spawns ACTOR_FUNCTION on @a sys.  @a ops and @a pool (both may be NULL:
 * this node offers no function) must outlive the actor.  0, or
 * MIST_EEXIST if the id is taken.
 */
int func_spawn(struct actor_sys *sys, const struct func_config *cfg,
	       const struct pool_ops *ops, void *pool);

#endif
