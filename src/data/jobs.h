/*
 * jobs.h -- what every part of the job machinery agrees on: the bounds of
 * the job model and the clients' roles.  The data manager (data/data.h),
 * the function actor (function/function.h) and the gateway include it;
 * the client library and the job codec (data/jobmsg.h, linked into
 * libmist) include only data/jobs_proto.h, the part of it that needs no
 * executor header.  The messages themselves are data/jobmsg.h, drawn
 * again in docs/PROTOCOL.md, section 6.
 *
 * Each bound is checked where bytes first arrive (the owner for a client's
 * batch, the function actor for a TASK_RUN, the codec for every message)
 * and refused with an error there, never truncated.
 */
#ifndef MIST_DATA_JOBS_H_INCLUDED
#define MIST_DATA_JOBS_H_INCLUDED

#include "data/jobs_proto.h"
#include "exec/exec.h"

/* The protocol's bounds (data/jobs_proto.h) that are the executors'. */
_Static_assert(JOBS_MAX_VALUE == EXEC_MAX_FRAME / 2,
	       "JOBS_MAX_VALUE (data/jobs_proto.h) is half of EXEC_MAX_FRAME");
_Static_assert(JOBS_MAX_OUTPUTS == EXEC_MAX_OUTPUTS,
	       "JOBS_MAX_OUTPUTS (data/jobs_proto.h) is EXEC_MAX_OUTPUTS");
_Static_assert(JOBS_FN_NAME_MAX == EXEC_NAME_MAX,
	       "JOBS_FN_NAME_MAX (data/jobs_proto.h) is EXEC_NAME_MAX");
_Static_assert(JOBS_ERR_MAX == EXEC_ERR_MAX,
	       "JOBS_ERR_MAX (data/jobs_proto.h) is EXEC_ERR_MAX");
_Static_assert(JOBS_MAX_FUNCTIONS == EXEC_MAX_FUNCTIONS,
	       "JOBS_MAX_FUNCTIONS (data/jobs_proto.h) is EXEC_MAX_FUNCTIONS");

#endif
