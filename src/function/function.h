/*
 * function.h -- ACTOR_FUNCTION, the function actor of a node: runs task
 * attempts for job owners on the node's executor pool.
 *
 * It receives MSG_TASK_RUN from a job's owner (any node's data manager),
 * fetches the inputs it lacks from their holders (MSG_VALUE_GET, in
 * JOBS_CHUNK pieces), runs the attempt on an executor, keeps the outputs
 * in the node's value store and reports MSG_TASK_DONE to the owner.  User
 * code never runs here: only in executor processes (src/exec/).
 *
 * Ownership: func_spawn() allocates the actor's state; the actor frees it
 * on MSG_STOP.  The struct jobs_node is the agent's (caller storage) and
 * must outlive the actor.
 */
#ifndef MIST_FUNCTION_FUNCTION_H_INCLUDED
#define MIST_FUNCTION_FUNCTION_H_INCLUDED

#include "actors/actor.h"
#include "data/jobs.h"

struct func;

/** Spawns ACTOR_FUNCTION on @a sys.  NULL if the id is taken. */
struct func *func_spawn(struct actor_sys *sys, struct jobs_node *jn);

#endif
