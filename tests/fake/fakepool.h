/*
 * fakepool.h -- an executor pool in virtual time, behind struct pool_ops
 * (exec/exec.h): what the simulated job tests put behind a node's function
 * actor instead of executor processes.
 *
 * The pool is an actor of the node's own system (a dynamic id), so its
 * time is the fake world's clock and its completions are that node's
 * timers: a paused node's tasks end when it resumes, a crashed node's
 * never.  It has `executors` slots.  A task submitted waits, in the order
 * of submission, for a free slot, then runs for the work its function
 * names (ms at speed 1) divided by the node's speed, rounded up to a whole
 * ms, and ends through func_result_post() -- MSG_EXEC_DONE to the function
 * actor, the real pool's message path (exec_us: the duration).
 *
 * The functions are the test's: each computes its outputs from the
 * arguments and the inputs when the task is submitted (the pool copies
 * nothing else), and says how much work it is; a non-zero return fails
 * the attempt with the message it wrote.
 *
 * Every accepted task is recorded (struct fake_run, in submission order)
 * for the test to check where and when things ran.
 *
 * Ownership: fake_pool_new() allocates the pool and spawns its actor.  The
 * function actor holds a pointer to it, so the pool must outlive the
 * node's system: free it with fake_pool_delete() once the system is
 * destroyed (after fake_restart() or fake_world_destroy()).  On MSG_STOP
 * the actor stops its timers and forgets the tasks not yet ended (their
 * records stay, ended == 0); later submissions are refused (MIST_ECLOSED).
 */
#ifndef MIST_TESTS_FAKEPOOL_H_INCLUDED
#define MIST_TESTS_FAKEPOOL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "actors/actor.h"
#include "exec/exec.h"
#include "mist_plugin.h"
#include "util/buf.h"

/** Executors of one fake pool at most: a large machine. */
#define FAKE_POOL_MAX_EXECUTORS 256

/**
 * A function: writes output i into @a out[i] (empty buffers, @a nout of
 * them) and the work in ms at speed 1 into *@a work_ms.  0, or non-zero
 * with a message in @a err (@a errcap bytes) to fail the attempt.
 */
typedef int (*fake_fn)(void *ctx, const uint8_t *args, uint32_t alen,
		       const struct mist_blob *in, uint32_t nin,
		       struct buf *out, uint32_t nout, uint64_t *work_ms,
		       char *err, size_t errcap);

struct fake_func {
	const char *name; /* static */
	fake_fn run;
};

/** One accepted task, as the pool saw it.  Times in virtual ms. */
struct fake_run {
	uint64_t key;	  /* the function actor's key */
	uint32_t fn;	  /* index into the pool's functions */
	uint8_t *args;	  /* a copy */
	uint32_t alen;
	uint64_t submitted, started, ended; /* 0: not yet */
	uint64_t duration;		    /* ms, once started */
	int status;			    /* 0 or MIST_ETASK */
	uint64_t out0;	  /* the first output's hash (FNV-1a), for digests */
	struct buf *outs; /* until the end is posted */
	uint32_t nout;
	char err[128];
};

struct fake_pool {
	struct actor_sys *sys;
	struct actor *actor;
	uint64_t node;
	double speed;
	const struct fake_func *fns;
	uint32_t nfns;
	void *ctx; /* given to the functions */
	uint32_t executors;
	int32_t slot[FAKE_POOL_MAX_EXECUTORS]; /* run index, or -1: free */
	struct actor_timer timer[FAKE_POOL_MAX_EXECUTORS];
	struct fake_run *runs;
	uint32_t nruns, capruns;
	uint32_t next; /* the first run not yet started (FIFO) */
	uint32_t ended; /* runs ended so far */
	int closed;
	bool kicked; /* a FAKE_POOL_KICK waits in the pool actor's mailbox */
};

/** The operations the function actor calls (the context: the pool). */
extern const struct pool_ops fake_pool_ops;

/**
 * A pool of @a executors slots (1..FAKE_POOL_MAX_EXECUTORS) on @a sys, for
 * a node of @a speed (> 0), offering @a nfns (<= EXEC_MAX_FUNCTIONS)
 * functions @a fns, which must outlive it.  NULL if a bound is broken.
 */
struct fake_pool *fake_pool_new(struct actor_sys *sys, uint32_t executors,
				double speed, const struct fake_func *fns,
				uint32_t nfns, void *ctx);
/** Tells @a sys's data manager what the pool offers (MSG_EXEC_FUNCTIONS),
 * as the agent does once the real executors said hello. */
void fake_pool_ready(struct fake_pool *p);
void fake_pool_delete(struct fake_pool *p);

#endif
