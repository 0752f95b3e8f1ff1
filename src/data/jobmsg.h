/*
 * jobmsg.h -- the job messages: one codec, every body drawn next to its
 * encoder and decoder (the same drawings are docs/PROTOCOL.md, section 6).
 *
 * Who speaks what:
 *
 *   client --(gateway wraps [cred, role, body])--> owner's ACTOR_DATA
 *        JOB_CREATE ... JOB_LIST, answered by the data manager
 *   owner's ACTOR_DATA  --TASK_RUN-->    worker's ACTOR_FUNCTION
 *   worker's ACTOR_FUNCTION --TASK_DONE--> owner's ACTOR_DATA
 *   ACTOR_FUNCTION --VALUE_GET (request)--> holder's ACTOR_FUNCTION
 *        (the fetch of an input; the owner's ACTOR_DATA also reads for a
 *        client's JOB_READ this way, on its own node as on another)
 *   owner's ACTOR_DATA --VALUE_FREE--> holder's ACTOR_FUNCTION
 *   owner's ACTOR_DATA --VALUE_COPY (request)--> a safe holder's
 *        ACTOR_FUNCTION (a checkpoint copy, data/ckpt.c)
 *   local only: the executor pool's functions --EXEC_FUNCTIONS--> ACTOR_DATA
 *               (the pool's results, MSG_EXEC_DONE, carry no bytes to
 *               encode: function/function.h)
 *
 * All bodies are msgpack.  Decoders take bytes from the network: every
 * count, length and number is checked against the bounds of
 * data/jobs_proto.h before use, and strings and binaries are returned as pointers into the
 * body (valid as long as the message).  Variable-length lists are read
 * one element at a time from a cursor (jobmsg_*_next()), so no decoder
 * allocates and none has a cap of its own.  Every decoder returns 0 or
 * MIST_EPROTO (a malformed body) unless it says otherwise.
 *
 * Encoders append to a struct buf; the caller owns it.
 *
 * Both ends link this file: the agent's job actors and libmist (the
 * client's requests and the replies it reads).  So it includes no
 * executor, loop or store header -- only data/jobs_proto.h for the
 * bounds, data/graph.h and data/place.h for plain types -- and libmist
 * stays free of libuv and LMDB (tests/install checks).
 */
#ifndef MIST_DATA_JOBMSG_H_INCLUDED
#define MIST_DATA_JOBMSG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "data/graph.h"
#include "data/jobs_proto.h"
#include "net/mp.h"
#include "util/buf.h"

/* A value's name, [task u32, out u32], appears in many bodies. */
void jobmsg_ref_pack(struct buf *b, struct gref r);
/** The next [task, out] of a list. */
int jobmsg_ref_next(struct mp_cur *c, struct gref *r);

/* ------------------------------------------------------------ TASK_RUN
 *
 * owner's data manager -> worker's function actor, one-way: run one
 * attempt of a task.
 *
 *   +-------+-----+------+---------+-----+------+------+------------+
 *   | owner | job | task | attempt | fn  | args | nout | [input...] |
 *   +-------+-----+------+---------+-----+------+------+------------+
 *     u64     u64   u32    u32       str   bin    u32
 *   input = [task u32, out u32, size u64, [holder u64...]]
 *
 *   nout <= JOBS_MAX_OUTPUTS, inputs <= JOBS_MAX_INPUTS, holders <=
 *   GRAPH_MAX_HOLDERS.  args is one msgpack object, opaque here.
 */
struct jobmsg_task_run {
	uint64_t owner, job;
	uint32_t task, attempt;
	const char *fn;
	uint32_t fn_len;
	const uint8_t *args;
	uint32_t args_len;
	uint32_t nout;
	uint32_t nin; /* inputs that follow */
};

struct jobmsg_input {
	struct gref v;
	uint64_t size;
	uint32_t nholders;
	uint64_t holders[GRAPH_MAX_HOLDERS];
};

/** Appends the head; exactly r->nin jobmsg_task_run_pack_input() follow. */
void jobmsg_task_run_pack(struct buf *b, const struct jobmsg_task_run *r);
void jobmsg_task_run_pack_input(struct buf *b, struct gref v, uint64_t size,
				const uint64_t *holders, uint32_t nholders);
/** Decodes the head; @a inputs is left before the first of r->nin. */
int jobmsg_task_run_unpack(const uint8_t *p, uint32_t len,
			   struct jobmsg_task_run *r, struct mp_cur *inputs);
int jobmsg_task_run_next_input(struct mp_cur *c, struct jobmsg_input *in);

/* ----------------------------------------------------------- TASK_DONE
 *
 * worker's function actor -> owner's data manager, one-way: an attempt
 * ended.
 *
 *   +-----+------+---------+--------+---------+-------+--------+-------------+
 *   | job | task | attempt | status | exec_us | owner | detail | [fetched..] |
 *   +-----+------+---------+--------+---------+-------+--------+-------------+
 *     u64   u32    u32       int      u32       u64
 *   owner   = the job's first owner, as the TASK_RUN named it: with the job
 *             id it names the job at whichever node owns it now (the
 *             report goes to the node that sent the TASK_RUN)
 *   detail  = [size u64...]                       status 0: per output
 *           | [task u32, out u32, [holder u64...]] MIST_ENOTFOUND: this
 *                                                 input could not be had
 *           | message str                         otherwise: why it failed
 *                                                 (< JOBS_ERR_MAX bytes)
 *   fetched = [task u32, out u32]: inputs this node copied for the
 *             attempt (it holds them now)
 *
 * Decoded in two steps, so that the owner can fence a stale attempt on
 * the head alone and fail a current one whose detail is malformed.
 */
struct jobmsg_task_done {
	uint64_t job;
	uint64_t owner; /* the job's first owner (TASK_RUN's owner) */
	uint32_t task, attempt;
	int32_t status;
	uint32_t exec_us;
	/* status 0 */
	uint32_t nout;
	const uint64_t *sizes; /* encoding: nout sizes */
	/* MIST_ENOTFOUND */
	struct gref lost;
	uint32_t nholders;
	uint64_t holders[GRAPH_MAX_HOLDERS];
	/* any other status */
	const char *error;
	uint32_t error_len;
	/* inputs copied */
	uint32_t nfetched;
	const struct gref *fetched; /* encoding: nfetched refs */
};

void jobmsg_task_done_pack(struct buf *b, const struct jobmsg_task_done *d);
/** The head (job, task, attempt, status, exec_us); @a rest is left at
 * the detail. */
int jobmsg_task_done_unpack_head(const uint8_t *p, uint32_t len,
				 struct jobmsg_task_done *d,
				 struct mp_cur *rest);
/** The detail: sizes go to @a sizes (room for JOBS_MAX_OUTPUTS, d->nout
 * of them read), the lost input or the message into @a d; @a rest is
 * then left before the d->nfetched refs (jobmsg_ref_next). */
int jobmsg_task_done_unpack_rest(struct mp_cur *rest,
				 struct jobmsg_task_done *d, uint64_t *sizes);

/* ----------------------------------------------------------- VALUE_GET
 *
 * request, to the function actor of a node holding the value:
 *
 *   +-------+-----+------+-----+--------+-----+
 *   | owner | job | task | out | offset | max |
 *   +-------+-----+------+-----+--------+-----+
 *     u64     u64   u32    u32   u64      u32   (max: JOBS_CHUNK)
 *
 * reply, and the reply to a client's JOB_READ (the owner relays it):
 *
 *   +-------+------------------------------------------+
 *   | total | chunk                                    |
 *   +-------+------------------------------------------+
 *     u64     bin: bytes offset.. of the value, at most
 *             min(max, JOBS_CHUNK); total <= JOBS_MAX_VALUE
 *
 * An error reply (no body): MIST_ENOTFOUND, the value is not held here.
 */
struct jobmsg_value_get {
	uint64_t owner, job;
	struct gref v;
	uint64_t off;
	uint32_t max;
};

void jobmsg_value_get_pack(struct buf *b, const struct jobmsg_value_get *g);
int jobmsg_value_get_unpack(const uint8_t *p, uint32_t len,
			    struct jobmsg_value_get *g);
void jobmsg_chunk_pack(struct buf *b, uint64_t total, const uint8_t *chunk,
		       uint32_t n);
int jobmsg_chunk_unpack(const uint8_t *p, uint32_t len, uint64_t *total,
			const uint8_t **chunk, uint32_t *n);

/* ---------------------------------------------------------- VALUE_FREE
 *
 * owner's data manager -> holder's function actor, one-way; taken only
 * from the owner itself (the envelope's sender node).
 *
 *   +-------+-----+-------------------------------+
 *   | owner | job | [[task u32, out u32]...] | nil |
 *   +-------+-----+-------------------------------+
 *     u64     u64   these values, or nil: every value of the job
 */
struct jobmsg_value_free {
	uint64_t owner, job;
	bool all;   /* nil: every value of the job */
	uint32_t n; /* else: refs that follow (jobmsg_ref_next) */
};

/** @a v NULL: every value of the job; else @a n refs. */
void jobmsg_value_free_pack(struct buf *b, uint64_t owner, uint64_t job,
			    const struct gref *v, uint32_t n);
int jobmsg_value_free_unpack(const uint8_t *p, uint32_t len,
			     struct jobmsg_value_free *f, struct mp_cur *refs);

/* ---------------------------------------------------------- VALUE_COPY
 *
 * owner's ACTOR_DATA -> the function actor of the node chosen to keep a
 * checkpoint copy (data/ckpt.c), a request: fetch this value from its
 * holders (VALUE_GET, chunk by chunk, the next holder on error) and keep
 * it, as if an attempt there had read it.
 *
 *   +-------+-----+-------+------+-----+------+---------------+
 *   | owner | job | epoch | task | out | size | [holder u64..]|
 *   +-------+-----+-------+------+-----+------+---------------+
 *     u64     u64   u32     u32    u32   u64    1..GRAPH_MAX_HOLDERS
 *   owner, job = the job's name (its first owner and id)
 *   epoch      = the sender's epoch of the job (<= JOBS_MAX_EPOCH): a
 *                copy asked by a fenced old owner is refused (MIST_EPERM)
 *   size       = the value's size (<= JOBS_MAX_VALUE): what the copy may
 *                take; a holder whose chunks say otherwise is skipped
 *
 *   reply nil: the value is held here now (or already was).  Error
 *   replies: MIST_ENOTFOUND (no holder served it), MIST_EPERM (fenced),
 *   MIST_EOVERLOAD (FUNC_MAX_COPIES or FUNC_COPIES_MAX_BYTES in flight
 *   here), MIST_EPROTO (malformed).
 */
struct jobmsg_value_copy {
	uint64_t owner, job;
	uint32_t epoch;
	struct gref v;
	uint64_t size;
	uint32_t nholders;
	uint64_t holders[GRAPH_MAX_HOLDERS];
};
void jobmsg_value_copy_pack(struct buf *b, const struct jobmsg_value_copy *c);
int jobmsg_value_copy_unpack(const uint8_t *p, uint32_t len,
			     struct jobmsg_value_copy *c);

/* ------------------------------------------------------------ ATTEMPTS
 *
 * owner's ACTOR_DATA -> a worker's ACTOR_FUNCTION, a request (body nil):
 * which of my attempts do you hold -- queued, fetching inputs or running?
 * The owner asks a node that owes it attempts and has reported nothing
 * for a lease (data/reports.c); an attempt dispatched before the question
 * and not in the answer was lost on the way (a link that dropped the
 * TASK_RUN), so it is placed again.
 *
 *   reply: [complete bool, [[job u64, task u32, attempt u32]...]]
 *          at most JOBS_MAX_LEASE_LIST entries; complete false when the
 *          worker holds more (the owner then re-places nothing)
 */
#define JOBS_MAX_LEASE_LIST 65536
void jobmsg_attempts_pack_head(struct buf *b, bool complete, uint32_t n);
void jobmsg_attempt_pack(struct buf *b, uint64_t job, uint32_t task,
			 uint32_t attempt);
int jobmsg_attempts_unpack(const uint8_t *p, uint32_t len, bool *complete,
			   uint32_t *n, struct mp_cur *rest);
int jobmsg_attempt_next(struct mp_cur *c, uint64_t *job, uint32_t *task,
			uint32_t *attempt);

/* --------------------------------------------------------- JOB_REPLICA
 *
 * owner's ACTOR_DATA -> its standby's ACTOR_DATA, a request: one record
 * of the job's journal (journal.c's kinds), kept by the standby so that
 * it can take the job over when the owner is declared dead.  Answered
 * nil once kept; the owner acknowledges a client's create or batch only
 * after its record was.
 *
 *   +--------+-----+-------+------+------+-----+-------+
 *   | origin | job | epoch | rseq | kind | seq | bytes |
 *   +--------+-----+-------+------+------+-----+-------+
 *     u64      u64   u32     u32    u32    u32   bin
 *   origin, job: the job's name (its first owner and id)
 *   epoch  = the sender's epoch of the job (<= JOBS_MAX_EPOCH): a record
 *            of a lower epoch than the replica's is refused (MIST_EPERM:
 *            a fenced old owner)
 *   rseq   = the record's number in what this owner sent this standby,
 *            from 1; 'A' starts a replica anew (rseq 1)
 *   kind   = 'A' create, 'B' batch, 'C' completions, 'D' cancelled, 'E'
 *            checkpoint copies made, 'F' the recovery counts (the
 *            journal's), 'X' forget the
 *            replica (the job ended, or this node is no longer its
 *            standby); 'Q' (standby -> owner, a request) "do I still
 *            stand by for this job?": nil yes, MIST_ENOTFOUND no (the
 *            replica is dropped)
 *   seq    = the journal record's sequence; for 'A', the number of
 *            records this ship has (the create included): a replica with
 *            fewer is incomplete, and is never taken over
 *   bytes  = the journal record as journal.c stores it
 */
#define JOBS_MAX_EPOCH 0xffffu /* the attempts' high 16 bits */
struct jobmsg_replica {
	uint64_t origin, job;
	uint32_t epoch, rseq;
	char kind;
	uint32_t seq;
	const uint8_t *val;
	uint32_t len;
};
void jobmsg_replica_pack(struct buf *b, const struct jobmsg_replica *r);

/*
 * JOB_MOVED: a job's new owner -> every member's ACTOR_GATEWAY, one-way,
 * when it took the job over (and to a member that joins later): job
 * requests naming (origin, job) go to @a owner from now on.
 *
 *   [origin u64, job u64, owner u64]
 */
void jobmsg_moved_pack(struct buf *b, uint64_t origin, uint64_t job,
		       uint64_t owner);
int jobmsg_moved_unpack(const uint8_t *p, uint32_t len, uint64_t *origin,
			uint64_t *job, uint64_t *owner);
int jobmsg_replica_unpack(const uint8_t *p, uint32_t len,
			  struct jobmsg_replica *r);

/* ------------------------------------------------------ EXEC_FUNCTIONS
 *
 * local only, the executor pool -> ACTOR_DATA: the functions this node's
 * executors offer (after the first executor's hello).
 *
 *   [name str...]    <= JOBS_MAX_FUNCTIONS names, each 1..JOBS_FN_NAME_MAX-1
 */
void jobmsg_functions_pack(struct buf *b, const char *const *names,
			   uint32_t n);
/** @a n names follow, read with jobmsg_functions_next(). */
int jobmsg_functions_unpack(const uint8_t *p, uint32_t len, uint32_t *n,
			    struct mp_cur *names);
int jobmsg_functions_next(struct mp_cur *c, const char **name,
			  uint32_t *len);

/* ---------------------------------------------------- client requests
 *
 * The gateway checks the client's role and forwards the body wrapped:
 *
 *   +------+------+------------------------------+
 *   | cred | role | body, as the client sent it  |
 *   +------+------+------------------------------+
 *     u64    uint   one msgpack object
 *
 * bodies:
 *   JOB_CREATE   {"name": str, "policy": "time"|"energy"|"cost",
 *                 "weights": [t, e, c], "tiers": [str...], "attempts": u,
 *                 "checkpoint": u (1..JOBMSG_MAX_CHECKPOINT; absent: none)}
 *   JOB_ATTACH, JOB_STATUS, JOB_CANCEL, JOB_CLOSE    [owner, job]
 *   JOB_TASKS    [owner, job, first u32, [task...]]
 *                task = [fn str, args bin, nout u32, [[task, out]...]]
 *   JOB_WAIT     [owner, job, task, out]
 *   JOB_READ     [owner, job, task, out, offset]
 *   JOB_RELEASE  [owner, job, [[task, out]...]]
 *   JOB_LIST     nil
 */
struct jobmsg_request {
	uint64_t cred;
	uint32_t role; /* enum job_role */
	const uint8_t *body;
	uint32_t len;
};

void jobmsg_request_pack(struct buf *b, uint64_t cred, uint32_t role,
			 const uint8_t *body, uint32_t len);
int jobmsg_request_unpack(const uint8_t *p, uint32_t len,
			  struct jobmsg_request *rq);

/** Elements of the body of @a type when it names a job ([owner, job,
 * ...]), 0 for JOB_CREATE and JOB_LIST (no job yet). */
uint32_t jobmsg_job_arity(uint32_t type);
/** [owner, job, ...] of a @a type body, its arity checked; @a rest is
 * left at what follows owner and job. */
int jobmsg_job_unpack(uint32_t type, const uint8_t *body, uint32_t len,
		      uint64_t *owner, uint64_t *job, struct mp_cur *rest);
/** [owner, job] (a @a type of arity 2), and the heads of the others. */
void jobmsg_job_pack(struct buf *b, uint32_t type, uint64_t owner,
		     uint64_t job);
/** JOB_WAIT [owner, job, task, out]; JOB_READ adds the offset. */
void jobmsg_wait_pack(struct buf *b, uint64_t owner, uint64_t job,
		      struct gref v);
int jobmsg_wait_unpack(struct mp_cur *rest, struct gref *v);
void jobmsg_read_pack(struct buf *b, uint64_t owner, uint64_t job,
		      struct gref v, uint64_t off);
int jobmsg_read_unpack(struct mp_cur *rest, struct gref *v, uint64_t *off);
/** JOB_RELEASE: @a n refs follow (jobmsg_ref_next).  @a v NULL: the
 * caller appends the @a n refs itself (jobmsg_ref_pack). */
void jobmsg_release_pack(struct buf *b, uint64_t owner, uint64_t job,
			 const struct gref *v, uint32_t n);
int jobmsg_release_unpack(struct mp_cur *rest, uint32_t *n);

/* JOB_CREATE: the job's name and placement policy. */
/** A job's name, NUL included: a label for `mist status`. */
#define JOBMSG_NAME_MAX 64
/** Attempts per task a job may ask for: enough for any flaky function,
 * few enough that a task that always fails stops within minutes. */
#define JOBMSG_MAX_ATTEMPTS 100
/** Weights are relative; this bound keeps scores far from overflow. */
#define JOBMSG_MAX_WEIGHT 1e6
/** Tier names in "tiers": three exist; a few repeats are harmless. */
#define JOBMSG_MAX_TIERS 8
/** Tasks per checkpoint partition at most ("checkpoint"): the owner
 * scans a partition's tasks once when it completes, so a partition is
 * bounded work; a million tasks between checkpoints is already more
 * than any job would re-execute willingly. */
#define JOBMSG_MAX_CHECKPOINT 1000000u

struct jobmsg_create {
	char name[JOBMSG_NAME_MAX];
	double w_time, w_energy, w_cost;
	uint32_t tiers;	   /* mask of enum place_tier (data/place.h) */
	uint32_t attempts; /* 0: the owner's default */
	uint32_t checkpoint_every; /* 0: no checkpoints (data/ckpt.c) */
};

/** The defaults: no name, the "time" policy, any tier, attempts 0. */
void jobmsg_create_init(struct jobmsg_create *c);
/** Packs what differs from the defaults: a name, the weights, the tiers,
 * the attempts, the checkpoint partition.  libmist sends its policy so, a named objective as the
 * weights it names (jobmsg_create_policy); "policy" is for other clients. */
void jobmsg_create_pack(struct buf *b, const struct jobmsg_create *c);
/** The weights of policy @a s ("time", "energy", "cost") into @a c; 0 or
 * MIST_EINVAL (another name: @a c untouched). */
int jobmsg_create_policy(struct jobmsg_create *c, const char *s,
			 uint32_t len);
/** Applies the keys onto @a c in wire order (jobmsg_create_init first):
 * "policy" and "weights" both set the weights, the later one wins.  The
 * map is read by mp_read_fields (net/mp.h): a key twice or of the wrong
 * type refuses it.  0, MIST_EPROTO (malformed) or MIST_EINVAL (an
 * unknown policy or tier, a weight, an attempt count or a name out of
 * bounds). */
int jobmsg_create_unpack(const uint8_t *p, uint32_t len,
			 struct jobmsg_create *c);

/* JOB_TASKS: the head, then the batch -- [first, [task...]], kept whole
 * in the owner's journal -- encoded one task at a time. */
struct jobmsg_task {
	const char *fn;
	uint32_t fn_len;
	const uint8_t *args;
	uint32_t args_len;
	uint32_t nout;
	uint32_t nin;
};

/** [owner, job, first, [ then @a n jobmsg_task_pack() follow. */
void jobmsg_tasks_pack(struct buf *b, uint64_t owner, uint64_t job,
		       uint32_t first, uint32_t n);
/** One task and its t->nin inputs from @a in; @a in NULL: the caller
 * appends the t->nin refs itself (jobmsg_ref_pack). */
void jobmsg_task_pack(struct buf *b, const struct jobmsg_task *t,
		      const struct gref *in);
/** The batch at @a p (after owner and job): @a n tasks from @a tasks. */
int jobmsg_batch_unpack(const uint8_t *p, uint32_t len, uint64_t *first,
			uint32_t *n, struct mp_cur *tasks);
/** The next task; its inputs go to @a in (room for JOBS_MAX_INPUTS).
 * MIST_E2BIG when it has more than JOBS_MAX_INPUTS inputs or more than
 * JOBS_MAX_OUTPUTS outputs, MIST_EPROTO when malformed. */
int jobmsg_task_next(struct mp_cur *c, struct jobmsg_task *t,
		     struct gref *in);

/* ----------------------------------------------------- client replies
 *
 *   JOB_CREATE   [owner u64, job u64]
 *   JOB_ATTACH, JOB_TASKS   [job u64, tasks u32]      (jobmsg_ids_*)
 *   JOB_WAIT     [0, size u64] | [status int, message str]
 *   JOB_READ     as VALUE_GET's reply (jobmsg_chunk_*)
 *   JOB_STATUS   {"owner", "job", "name", "state", "tasks", "waiting",
 *                 "ready", "running", "done", "failed", "error",
 *                 "nodes": [{"node", "name", "tier", "running", "done",
 *                            "oldest_ms"}...]
 *                 [, "more_nodes": u32],
 *                 "ready_oldest_ms": u64, "ready_why": str,
 *                 "recoveries": {"nodes_lost", "failed_over", "recomputed",
 *                                "owner_changes", "last_ms": u64,
 *                                "last": str}
 *                 [, "checkpoints": {"every", "copies", "bytes", "failed",
 *                                    "pending"}]   (a job with checkpoints)
 *                }
 *                oldest_ms: age of the node's oldest running attempt
 *                (0: none); ready_oldest_ms: age of the oldest task ready
 *                but not placed, ready_why why ("" if none or unknown);
 *                last_ms: how long ago the last recovery was (0: none),
 *                last its words.  Ages are as of the answer (for an
 *                ended job's listed status: as of its end).  Readers
 *                skip keys they do not know; these came later.
 *   JOB_LIST     [status map...]
 *   JOB_CANCEL, JOB_CLOSE, JOB_RELEASE   nil
 */
void jobmsg_ids_pack(struct buf *b, uint64_t a, uint64_t c);
int jobmsg_ids_unpack(const uint8_t *p, uint32_t len, uint64_t *a,
		      uint64_t *c);
void jobmsg_wait_reply_pack(struct buf *b, int status, uint64_t size,
			    const char *message);
/** @a status 0 and @a size, or a status < 0 and its message. */
int jobmsg_wait_reply_unpack(const uint8_t *p, uint32_t len, int *status,
			     uint64_t *size, const char **message,
			     uint32_t *message_len);

/** Nodes named in one status at most: the reply (and JOB_LIST, a status
 * per job) must fit a link frame; beyond them "more_nodes" counts the
 * nodes left out, so the total is never silently short. */
#define JOBMSG_STATUS_MAX_NODES 64

struct jobmsg_status_node {
	uint64_t node;
	const char *name, *tier;
	uint32_t running, done;
	uint64_t oldest_ms; /* the age of its oldest running attempt */
};

/* A job's recoveries (data_int.h, struct recovery); @a last_len is set
 * by the reader only (the packer takes a C string). */
struct jobmsg_recoveries {
	uint64_t nodes_lost, failed_over, recomputed, owner_changes;
	uint64_t last_ms;
	const char *last;
	uint32_t last_len;
};
/** The words of a recovery, at most: the owner cuts them shorter. */
#define JOBMSG_RECOVERY_TEXT_MAX 256
/** The words of why a ready task waits, at most (a function name and a
 * sentence around it). */
#define JOBMSG_WHY_MAX 256
/* A job's checkpoint counters (data/ckpt.h): tasks per partition,
 * copies made and their bytes, copies failed, copies queued or in
 * flight. */
struct jobmsg_ckpt {
	uint64_t every, copies, bytes, failed, pending;
};

struct jobmsg_status {
	const struct jobmsg_ckpt *ckpt; /* NULL: no checkpoints */
	uint64_t owner, job;
	const char *name, *state, *error;
	uint32_t tasks, waiting, ready, running, done, failed;
	uint32_t nnodes; /* <= JOBMSG_STATUS_MAX_NODES */
	const struct jobmsg_status_node *nodes;
	uint32_t more_nodes;
	/* the operators' view: what waits, what was recovered */
	uint64_t ready_oldest_ms;
	const char *ready_why;
	struct jobmsg_recoveries rec;
};

void jobmsg_status_pack(struct buf *b, const struct jobmsg_status *s);
/** JOB_LIST: an array of @a n status maps follows. */
void jobmsg_list_pack(struct buf *b, uint32_t n);

/** A status map decoded (mp_read_fields' rules, net/mp.h: a key twice or
 * of the wrong type refuses it; a missing one is 0 or ""): strings point
 * into the body (with lengths); the nnodes nodes, at most
 * JOBMSG_STATUS_MAX_NODES, are read from @a nodes with
 * jobmsg_status_next_node(). */
struct jobmsg_status_view {
	uint64_t owner, job;
	const char *name, *state, *error;
	uint32_t name_len, state_len, error_len;
	uint64_t tasks, waiting, ready, running, done, failed;
	uint32_t nnodes, more_nodes;
	struct mp_cur nodes;
	uint64_t ready_oldest_ms;
	const char *ready_why; /* at most JOBMSG_WHY_MAX bytes */
	uint32_t ready_why_len;
	struct jobmsg_recoveries rec; /* last: at most JOBMSG_RECOVERY_TEXT_MAX */
	bool has_ckpt; /* "checkpoints" was there: */
	struct jobmsg_ckpt ckpt;
};

int jobmsg_status_read(struct mp_cur *c, struct jobmsg_status_view *v);
struct jobmsg_status_node_view {
	uint64_t node;
	const char *name, *tier;
	uint32_t name_len, tier_len;
	uint64_t running, done;
	uint64_t oldest_ms;
};
int jobmsg_status_next_node(struct mp_cur *c,
			    struct jobmsg_status_node_view *n);

#endif
