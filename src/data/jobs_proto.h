/*
 * jobs_proto.h -- what the job protocol fixes for both of its ends: the
 * credential roles, the chunk a value travels in and the largest value.
 *
 * The client library (client/mist.c) and the agent's job actors
 * (data/jobs.h includes this header) read the same numbers.  It includes
 * nothing: libmist, which links neither libuv nor LMDB, can include it.
 */
#ifndef MIST_DATA_JOBS_PROTO_H_INCLUDED
#define MIST_DATA_JOBS_PROTO_H_INCLUDED

/** Client roles (credentials). */
enum job_role { ROLE_SUBMIT = 1, ROLE_ADMIN = 2 };

/** Largest chunk of a value in one message. */
#define JOBS_CHUNK (256u << 10)
/**
 * Largest value (a task output): half of an executor frame (EXEC_MAX_FRAME,
 * 64 MiB, in exec/exec.h, which libmist does not include; data/jobs.h checks
 * at compile time that the two still agree).
 */
#define JOBS_MAX_VALUE (32u << 20)

#endif
