/*
 * jobs.h -- the job actors of a node: the function actor (ACTOR_FUNCTION)
 * and the data manager (ACTOR_DATA).  Message bodies are drawn in
 * docs/PROTOCOL.md, section 6.
 *
 * Function actor: receives MSG_TASK_RUN from job owners, fetches the
 * inputs it lacks from their holders (MSG_VALUE_GET, in chunks), runs the
 * attempt on the executor pool, keeps the outputs in the node's vstore and
 * reports MSG_TASK_DONE to the owner.
 *
 * Data manager: owns the jobs accepted by this node's gateway -- graph,
 * versions, placement (place.h), recovery when gossip reports a node dead
 * or left, the journal in LMDB -- and serves the values held here.
 *
 * Ownership: both actors share one struct jobs_node (caller storage, the
 * agent's) holding the vstore; each spawn allocates its actor's state,
 * freed on MSG_STOP.  The pool belongs to the agent.
 */
#ifndef MIST_DATA_JOBS_H_INCLUDED
#define MIST_DATA_JOBS_H_INCLUDED

#include <stdint.h>

#include "actors/actor.h"
#include "data/jobs_proto.h"
#include "data/vstore.h"
#include "exec/exec.h"
#include "store/store.h"
#include "util/buf.h"

/* The roles, JOBS_CHUNK and JOBS_MAX_VALUE are in data/jobs_proto.h (the
 * client's header too); the largest value is half an executor frame. */
_Static_assert(JOBS_MAX_VALUE == EXEC_MAX_FRAME / 2,
	       "JOBS_MAX_VALUE (data/jobs_proto.h) is half of EXEC_MAX_FRAME");

struct jobs_self {
	char name[64];
	int tier; /* enum place_tier */
	uint32_t cores;
	double speed, power, price;
};

struct jobs_config {
	uint16_t max_failures;	   /* attempts per task (task's own faults) */
	uint16_t max_losses;	   /* attempts lost with vanished nodes */
	uint32_t per_core_inflight; /* backpressure: in flight per remote core */
	double bytes_per_ms;	   /* assumed bandwidth for transfers */
	double default_exec_ms;	   /* before anything is learnt */
	uint32_t fetch_timeout_ms;
	uint32_t retain_ms;	   /* finished jobs are dropped after */
	uint32_t max_tasks;	   /* per job: the owner's memory is bounded */
};

void jobs_config_default(struct jobs_config *cfg);

struct jobs_node {
	struct vstore values;
	struct pool *pool;   /* may be NULL: offers no function */
	struct store *store; /* the journal; may be NULL (tests) */
	struct jobs_self self;
	uint64_t boot; /* this agent's boot count: job ids and attempts */
	struct jobs_config cfg;
	struct data *data;   /* the data manager's state */
	struct func *func;   /* the function actor's state */
};

/** Spawns ACTOR_DATA and resumes journalled jobs (the function actor is
 * function/function.h's func_spawn()).  0 or MIST_EEXIST. */
int data_spawn(struct actor_sys *sys, struct jobs_node *jn);
/** The pool's done callback (ctx: the struct jobs_node). */
void jobs_pool_done(void *ctx, uint64_t key, int status, const char *err,
		    const struct mist_blob *outs, uint32_t nout,
		    uint32_t exec_us);
/** Appends a MSG_VALUE_GET request body: a chunk of at most JOBS_CHUNK
 * bytes from @a off of value (@a task, @a out) of @a owner's job. */
void jobs_pack_value_get(struct buf *b, uint64_t owner, uint64_t job,
			 uint32_t task, uint32_t out, uint64_t off);
/** This node's functions changed (the pool is ready). */
void jobs_set_functions(struct jobs_node *jn, const char *const *names,
			uint32_t n);

#endif
