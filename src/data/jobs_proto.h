/*
 * jobs_proto.h -- what the job protocol fixes for both of its ends: the
 * credential roles, the chunk a value travels in, the largest value, the
 * most inputs and outputs of a task, and the longest function name and
 * failure message.
 *
 * The client library (client/mist.c), the job codec (data/jobmsg.c, in
 * libmist too) and the agent's job actors (data/jobs.h includes this
 * header) read the same numbers.  It includes nothing: libmist, which
 * links neither libuv nor LMDB, can include it.  Four of the bounds are
 * the executors' (exec/exec.h defends them, and libmist does not include
 * it); data/jobs.h checks at compile time that each pair still agrees.
 */
#ifndef MIST_DATA_JOBS_PROTO_H_INCLUDED
#define MIST_DATA_JOBS_PROTO_H_INCLUDED

/** Client roles (credentials). */
enum job_role { ROLE_SUBMIT = 1, ROLE_ADMIN = 2 };

/**
 * Largest piece of a value in one message (VALUE_GET, JOB_READ).  A value
 * moves in chunks so that a large one neither needs a frame of its size
 * nor holds a link for long: 256 KiB fits the links' default 1 MiB frame
 * with room for other traffic, and is large enough that the per-message
 * cost (tens of microseconds) stays under 1 % of the transfer.
 */
#define JOBS_CHUNK (256u << 10)
/**
 * Largest value (a task output): it travels to an executor inside one
 * frame, next to the task's other inputs, so at most half of one
 * (EXEC_MAX_FRAME, 64 MiB, in exec/exec.h, which libmist does not include;
 * data/jobs.h checks at compile time that the two still agree).
 */
#define JOBS_MAX_VALUE (32u << 20)
/**
 * Inputs of a task at most.  The owner names each input's size and
 * holders in the TASK_RUN it sends (up to 93 bytes with GRAPH_MAX_HOLDERS
 * holders), and one TASK_RUN must fit a link frame (1 MiB by default):
 * 4096 inputs is about 380 KiB.  A reduction over more values is a tree
 * of tasks, which also spreads the work.
 */
#define JOBS_MAX_INPUTS 4096
/** Outputs of a task at most: an attempt's outputs come back from one
 * executor (EXEC_MAX_OUTPUTS, defended in exec/exec.h). */
#define JOBS_MAX_OUTPUTS 1024
/** Longest function name, NUL included: a name an executor may offer
 * (EXEC_NAME_MAX); a task naming a longer one could never run. */
#define JOBS_FN_NAME_MAX 64
/** Longest failure message of a function, NUL included (EXEC_ERR_MAX):
 * TASK_DONE refuses a longer one. */
#define JOBS_ERR_MAX 1024
/** Functions one node's executors may offer (EXEC_MAX_FUNCTIONS): the
 * bound of the pool's EXEC_FUNCTIONS list. */
#define JOBS_MAX_FUNCTIONS 256

#endif
