/*
 * data.h -- ACTOR_DATA, the data manager of a node: the owner of the jobs
 * this node's gateway accepted.
 *
 * For each job it keeps the graph of tasks and the versions of their
 * values (graph.h), knows which nodes hold which value, places every
 * ready task (place.h, docs/PLACEMENT.md) on a node's function actor,
 * re-places work when gossip reports a node dead or left (values whose
 * only copy was there are recomputed), answers the clients (the JOB_*
 * messages, forwarded by the gateway) and journals its jobs in LMDB so
 * that a restarted owner resumes them.  The values themselves stay where
 * they were made, in the function actors (function/function.h explains
 * why); the data manager reads one for a client and frees them by
 * message.  Messages: data/jobmsg.h.
 *
 * What it learns of the cluster: gossip's member events (the members'
 * metadata, data/meta.h) and, for this node, MSG_EXEC_FUNCTIONS from the
 * executor pool (data_functions_post()).
 *
 * Ownership: data_spawn() allocates the actor's state, which only the
 * actor touches and frees on MSG_STOP.  The store (the journal) is the
 * agent's and must outlive the actor.
 */
#ifndef MIST_DATA_DATA_H_INCLUDED
#define MIST_DATA_DATA_H_INCLUDED

#include <stdint.h>

#include "actors/actor.h"
#include "data/meta.h"
#include "store/store.h"

struct data_config {
	uint16_t max_failures;	    /* attempts per task (task's own faults) */
	uint16_t max_losses;	    /* attempts lost with vanished nodes */
	uint32_t per_core_inflight; /* backpressure: in flight per remote core */
	double bytes_per_ms;	    /* assumed bandwidth for transfers */
	double default_exec_ms;	    /* before anything is learnt */
	uint32_t fetch_timeout_ms;  /* a client's read of a value, per chunk */
	uint32_t retain_ms;	    /* finished jobs are dropped after */
	uint32_t max_tasks;	    /* per job: the owner's memory is bounded */
};

void data_config_default(struct data_config *cfg);

/**
 * Spawns ACTOR_DATA on @a sys and resumes the jobs journalled in @a store
 * (NULL: no journal, as in tests).  @a boot is this agent's boot count
 * (job ids and attempt numbers carry it); @a name and @a self describe
 * this node as it gossips itself (its functions come later, from the
 * pool).  0, or MIST_EEXIST if the id is taken.
 */
int data_spawn(struct actor_sys *sys, const struct data_config *cfg,
	       struct store *store, uint64_t boot, const char *name,
	       const struct meta *self);

/**
 * Tells @a sys's data manager which functions this node's executors
 * offer (MSG_EXEC_FUNCTIONS, local): what the pool's ready callback does,
 * and nothing more.  At most EXEC_MAX_FUNCTIONS names.
 */
void data_functions_post(struct actor_sys *sys, const char *const *names,
			 uint32_t n);

#endif
