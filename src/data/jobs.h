/*
 * jobs.h -- what every part of the job machinery agrees on: the bounds of
 * the job model and the clients' roles.  The data manager (data/data.h),
 * the function actor (function/function.h), the gateway and the client
 * library include it; the messages themselves are data/jobmsg.h, drawn
 * again in docs/PROTOCOL.md, section 6.
 *
 * Each bound is checked where bytes first arrive (the owner for a client's
 * batch, the function actor for a TASK_RUN, the codec for every message)
 * and refused with an error there, never truncated.
 */
#ifndef MIST_DATA_JOBS_H_INCLUDED
#define MIST_DATA_JOBS_H_INCLUDED

#include "exec/exec.h"

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
/** Largest value (a task output): it travels to an executor inside one
 * frame, next to the task's other inputs, so at most half of one. */
#define JOBS_MAX_VALUE (EXEC_MAX_FRAME / 2)
/** Outputs of a task: the executors' bound (exec/exec.h says why). */
#define JOBS_MAX_OUTPUTS EXEC_MAX_OUTPUTS
/**
 * Inputs of a task at most.  The owner names each input's size and
 * holders in the TASK_RUN it sends (up to 93 bytes with GRAPH_MAX_HOLDERS
 * holders), and one TASK_RUN must fit a link frame (1 MiB by default):
 * 4096 inputs is about 380 KiB.  A reduction over more values is a tree
 * of tasks, which also spreads the work.
 */
#define JOBS_MAX_INPUTS 4096

#endif
