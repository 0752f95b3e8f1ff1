/*
 * graph.h -- a job's task graph and the bookkeeping of its values.
 *
 * Pure data structure: no messages, no clock, no I/O -- the job owner
 * (the data manager, data/data.h) drives it and the unit tests check
 * every transition.  The owner's clock, if it gives one (graph.clock),
 * only stamps when each task entered its state, for operators.
 *
 * Tasks are numbered 1, 2, ... in the order the client adds them, and a
 * task may only read outputs of tasks added before it: the graph is acyclic
 * by construction.  Each output is an immutable value named (task, output);
 * a new version of a datum is a new value (COMPSs' renaming), so values are
 * never overwritten and recomputing one gives the same bytes.
 *
 * States:  WAITING --inputs available--> READY --dispatched--> RUNNING
 *          RUNNING --result, right attempt--> DONE
 *          RUNNING --failure--> READY (attempts left) | FAILED
 *          RUNNING --its node vanished--> READY (not counted as a failure,
 *                                                but bounded: max_losses)
 *          DONE --an output needed again was lost--> WAITING/READY (lineage)
 *          a task whose input's producer FAILED is FAILED too.
 *
 * Fencing: every dispatch increments the task's attempt number; a result or
 * a failure is accepted only for the current attempt of a RUNNING task, so
 * exactly one result per task is ever accepted.
 *
 * A value's holders are the nodes with a copy.  When the last holder
 * vanishes the value is lost; if some task not yet done reads it, or the
 * client has not released it, its producer runs again (recursively for its
 * own lost inputs).  A value is freed (on_free) once the client released it
 * and every task reading it is done -- and no checkpoint pins it (a value
 * a later partition may need again, data/ckpt.h).
 *
 * Ownership: the graph owns the tasks, their argument bytes and error
 * strings.  Pointers returned by graph_task() are valid until the next
 * call that adds tasks.
 */
#ifndef MIST_DATA_GRAPH_H_INCLUDED
#define MIST_DATA_GRAPH_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

enum gstate { G_WAITING, G_READY, G_RUNNING, G_DONE, G_FAILED, G_NSTATES };

struct gref {
	uint32_t task;
	uint32_t out;
};

#define GRAPH_MAX_HOLDERS 8

struct gvalue {
	uint64_t holders[GRAPH_MAX_HOLDERS];
	uint8_t nholders;
	bool available;
	bool released;
	bool freed;
	bool pinned; /* a checkpoint keeps it (data/ckpt.h): not freed */
	bool ckpt_failed; /* data/ckpt.c: its checkpoint copy failed */
	uint64_t size;
	uint32_t *readers; /* tasks reading this value (with repeats) */
	uint32_t nreaders, capreaders;
	uint32_t readers_left; /* readers not yet DONE or FAILED */
};

struct gtask {
	uint8_t state;
	uint16_t fn;	   /* index into the job's function names */
	uint16_t failures; /* attempts failed by the task itself */
	uint16_t losses;   /* attempts lost with their node */
	uint32_t attempt;  /* fencing token of the current dispatch */
	uint32_t missing;  /* inputs not available */
	uint32_t nin, nout;
	uint32_t lease;	   /* RUNNING: the owner's dispatch count at its
			    * start (data/reports.c's lease check) */
	uint64_t node;	   /* RUNNING: where */
	uint8_t *args;
	uint32_t alen;
	struct gref *in;
	struct gvalue *out;
	char *error; /* FAILED: why */
	int status;  /* FAILED: MIST_E* code */
	/* when the task entered its state (graph.clock; 0: no clock): how
	 * long an attempt has run, or a task waited ready, for operators */
	uint64_t since;
};

typedef void (*graph_free_cb)(void *ctx, struct gref v, const uint64_t *holders,
			      uint32_t n);

struct graph {
	struct gtask *tasks; /* tasks[id - 1] */
	uint32_t ntasks, cap;
	uint32_t *ready; /* FIFO ring of task ids, may hold stale entries */
	uint32_t rhead, rlen, rcap;
	uint32_t count[G_NSTATES];
	uint16_t max_failures; /* attempts per task, failures */
	uint16_t max_losses;   /* attempts per task lost with nodes */
	uint32_t attempt_base; /* added to attempts (owner restarts) */
	graph_free_cb on_free;
	void *ctx;
	/* The owner's clock (ms), read at each state change for gtask.since;
	 * NULL: none (since stays 0).  The graph keeps no time of its own. */
	uint64_t (*clock)(void *ctx);
	/* Recoveries, counted for operators (JOB_STATUS): attempts put back
	 * to READY because their node or their TASK_RUN was lost (not those
	 * that then failed the task: max_losses), and DONE tasks run again
	 * because a value still needed was lost (lineage). */
	uint32_t lost_attempts, recomputed;
};

void graph_init(struct graph *g, uint16_t max_failures, uint16_t max_losses);
void graph_destroy(struct graph *g);

/**
 * Adds a task; its id is ntasks + 1.  Inputs must name earlier tasks and
 * existing outputs, and values not yet freed.  0 or MIST_EINVAL.
 */
int graph_add(struct graph *g, uint16_t fn, const uint8_t *args,
	      uint32_t alen, const struct gref *in, uint32_t nin,
	      uint32_t nout);
/** True when @a r may be an input of a new task: an existing output of an
 * existing task, not both freed and released. */
bool graph_input_ok(const struct graph *g, struct gref r);
struct gtask *graph_task(const struct graph *g, uint32_t id);
struct gvalue *graph_value(const struct graph *g, struct gref v);
/** The next READY task id, or 0. */
uint32_t graph_pop_ready(struct graph *g);
/** Puts a popped READY task back at the front (no node could take it). */
void graph_unpop(struct graph *g, uint32_t id);
/** READY -> RUNNING at @a node; returns the new attempt number. */
uint32_t graph_start(struct graph *g, uint32_t id, uint64_t node);
/**
 * A result: accepted (0) only for the current attempt of a RUNNING task;
 * then its outputs are available at @a node with @a sizes.  MIST_EINVAL
 * (stale or unknown) otherwise.
 */
int graph_done(struct graph *g, uint32_t id, uint32_t attempt, uint64_t node,
	       const uint64_t *sizes);
/**
 * A failed attempt (same fencing).  @a counts: the task's own fault (it
 * counts against max_failures) or not (a lost input: simply retried).
 */
int graph_failed(struct graph *g, uint32_t id, uint32_t attempt, int status,
		 const char *error, bool counts);
/**
 * The current attempt of RUNNING task @a id never reached its node (the
 * node does not hold it): back to READY, counted as a loss (bounded by
 * max_losses) not as a failure.  0, or MIST_EINVAL (stale: fenced off).
 */
int graph_attempt_lost(struct graph *g, uint32_t id, uint32_t attempt);
/** Node @a node vanished: re-run its tasks, drop it as a holder. */
void graph_node_lost(struct graph *g, uint64_t node);
/** A holder does not have value @a v any more (it said so). */
void graph_value_lost(struct graph *g, struct gref v, uint64_t node);
/** Adds @a node as a holder of @a v (a copy was made). */
void graph_value_copied(struct graph *g, struct gref v, uint64_t node);
/** A checkpoint keeps @a v: it is not freed until graph_unpin(). */
void graph_pin(struct graph *g, struct gref v);
/** @a v is not kept any more: freed now if nothing else needs it. */
void graph_unpin(struct graph *g, struct gref v);
/** The client no longer reads @a v.  0 or MIST_EINVAL. */
int graph_release(struct graph *g, struct gref v);
/** Fails a popped READY task at once (no node can run it). */
void graph_fail_ready(struct graph *g, uint32_t id, int status,
		      const char *why);
/** Fails every task not done (job cancelled). */
void graph_cancel(struct graph *g, int status, const char *why);
/** True when no task is WAITING, READY or RUNNING. */
bool graph_finished(const struct graph *g);

#endif
