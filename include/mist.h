/*
 * mist.h -- the public API of libmist.
 *
 * Conventions (as in libuv): functions return 0 or a negative MIST_E* code;
 * constructors return NULL on failure.  Every code has a name and a message
 * (mist_err_name, mist_strerror).  Strings returned by this header are static
 * and never freed by the caller.
 *
 * The client library: connect to any agent's gateway with a credential
 * (`mist creds create`), create a job, add tasks -- each returns references
 * (futures) to its outputs at once, without a round trip -- and read values
 * where the program needs them.  The cluster places, runs, moves and, after
 * failures, recomputes the tasks; a job outlives the client's connection
 * and can be reattached by id.
 *
 * Blocking use: every call that waits takes a timeout and pumps the
 * connection itself.  Event-loop use (libuv or any other): watch
 * mist_fd() for reading (and for writing while mist_want_write() is true),
 * call mist_process() when it is ready, and use the _async calls, whose
 * callbacks run inside mist_process().
 *
 * Failures of the cluster: a job outlives its owner (its standby takes it
 * over when the owner dies) and the client's connection (libmist redials
 * and resends by itself).  Errors are of two kinds:
 *
 *   retried inside libmist, until the call's own timeout -- a lost
 *   connection (the gateway went away: every address given to
 *   mist_connect is redialled in turn, with a bounded backoff), and a
 *   request the gateway could not deliver to the job's owner
 *   (MIST_EUNREACHABLE, MIST_ECLOSED, MIST_ETIMEDOUT from the gateway:
 *   the owner died and its standby is taking over, or it restarts).
 *   Every request is resent but JOB_CREATE: batches are deduplicated by
 *   the owner, waits, reads, status, cancel and close are idempotent.
 *   A call returns one of these codes only once its timeout is spent.
 *
 *   final -- MIST_EAUTH (the credential), MIST_EPERM, MIST_EINVAL,
 *   MIST_E2BIG, MIST_EPROTO, MIST_ENOTFOUND (no such job, or a value
 *   released), MIST_ETASK / MIST_ENOFUNC / MIST_ENONODE / MIST_ECANCELED
 *   (the task or the job), and MIST_ECLOSED when every gateway refused
 *   the credential on a redial (it was revoked), MIST_ECLOSED from
 *   mist_job_create() when the connection dropped under it: the create is not resent (it would
 *   make a second job); the caller creates again (a job made but never
 *   given tasks is dropped by its owner after an hour).
 *
 * While the connection is down mist_fd() is -1: call mist_process()
 * every 100 ms or so, which redials (blocking up to 2 s per address).
 *
 * Ownership: a mist_client owns its jobs' handles; mist_close() frees them
 * all.  Values returned by mist_get() are the caller's, freed with
 * mist_free().  Argument and value bytes passed in are copied.  Values
 * are msgpack objects (one each).  Not thread-safe: one thread per client.
 */
#ifndef MIST_H_INCLUDED
#define MIST_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MIST_EXTERN __attribute__((visibility("default")))
#else
#define MIST_EXTERN
#endif

/*
 * The error table.  Codes are negative and stable: never renumber one, add
 * new ones at the end.
 */
#define MIST_ERRNO_MAP(XX)                                                     \
	XX(EINVAL, 1, "invalid argument")                                      \
	XX(ENOMEM, 2, "out of memory")                                         \
	XX(EPROTO, 3, "protocol error: malformed input")                       \
	XX(E2BIG, 4, "input larger than the configured limit")                 \
	XX(EAUTH, 5, "authentication failed")                                  \
	XX(ETIMEDOUT, 6, "timed out")                                          \
	XX(EUNREACHABLE, 7, "no link to that node")                            \
	XX(ENOACTOR, 8, "no such actor")                                       \
	XX(EOVERLOAD, 9, "mailbox overloaded")                                 \
	XX(ECLOSED, 10, "closed or shutting down")                             \
	XX(EIO, 11, "input/output error")                                      \
	XX(ESTORE, 12, "store error")                                          \
	XX(EVERSION, 13, "unsupported protocol version")                       \
	XX(ENOTFOUND, 14, "not found")                                         \
	XX(EEXIST, 15, "already exists")                                       \
	XX(EUNKNOWN, 16, "unknown message type")                               \
	XX(ENOFUNC, 17, "unknown function: no member has ever offered it")     \
	XX(ENONODE, 18, "no live node allowed by the job offers the function") \
	XX(ETASK, 19, "task failed after its attempts")                        \
	XX(ECANCELED, 20, "job cancelled")                                     \
	XX(EPERM, 21, "not allowed for this credential")

enum mist_errno {
#define MIST_XX(name, num, msg) MIST_##name = -(num),
	MIST_ERRNO_MAP(MIST_XX)
#undef MIST_XX
};

#include <stddef.h>
#include <stdint.h>

typedef struct mist_client mist_client;
typedef struct mist_job mist_job;

/** A reference to a value: output @a out of task @a task of a job. */
typedef struct mist_ref {
	uint32_t task;
	uint32_t out;
} mist_ref;

#define MIST_TIER_FOG 1u
#define MIST_TIER_EDGE 2u
#define MIST_TIER_CLOUD 4u

/** How the job's tasks are placed.  Zeroed: fastest end time, any tier. */
struct mist_policy {
	const char *name;      /* shown by `mist status`; may be NULL */
	const char *objective; /* "time", "energy", "cost"; NULL: weights */
	double weights[3];     /* time, energy, cost (when objective NULL) */
	unsigned tiers;	       /* MIST_TIER_* mask; 0: any */
	unsigned attempts;     /* per task; 0: the agent's default (3) */
	/*
	 * Checkpoints (docs/PROTOCOL.md 6.10): every checkpoint_every tasks
	 * in submission order form a partition; when a partition's tasks
	 * are all done, its values still live are copied to a safe holder
	 * (a cloud-tier node, else the job's standby, else its owner), so
	 * that a loss recomputes nothing before the last checkpoint.  0:
	 * none.  At most 1 000 000 (MIST_EINVAL past it).
	 */
	unsigned checkpoint_every;
};

struct mist_progress {
	uint32_t tasks, waiting, ready, running, done, failed;
	char state[16]; /* running, done, failed, cancelled */
};

/**
 * Connects (TCP) to a gateway at @a addr ("ip:port", or several:
 * "ip:port,ip:port,...", at most 16, tried in order; a lost connection
 * is redialled to the next) with @a credential ("mist1:...").  The Noise
 * handshake travels with the first request, so a wrong credential shows
 * up as MIST_EAUTH from that request.  MIST_EINVAL: a malformed list.
 */
MIST_EXTERN int mist_connect(const char *addr, const char *credential,
			     int timeout_ms, mist_client **out);
MIST_EXTERN void mist_close(mist_client *c);
MIST_EXTERN int mist_fd(const mist_client *c);
MIST_EXTERN int mist_want_write(const mist_client *c);
/** Reads and writes what it can without blocking; runs callbacks. */
MIST_EXTERN int mist_process(mist_client *c);

MIST_EXTERN int mist_job_create(mist_client *c, const struct mist_policy *p,
				int timeout_ms, mist_job **out);
/** Reattaches to a job by the id mist_job_id() gave. */
MIST_EXTERN int mist_job_attach(mist_client *c, const char *id,
				int timeout_ms, mist_job **out);
/** "OWNER-JOB" in hex; valid while the handle lives. */
MIST_EXTERN const char *mist_job_id(const mist_job *j);
/** Tasks the job holds (after attach: where to continue numbering). */
MIST_EXTERN uint32_t mist_job_tasks(const mist_job *j);

/**
 * Adds a task calling @a fn with msgpack @a args, reading @a nin values,
 * producing @a nout; @a outs (nout entries, may be NULL) receives their
 * references at once.  Tasks are sent in batches (mist_flush(), or any
 * call that waits).  Errors of the batch show up in later calls.
 * @a args: one msgpack object of at most 512 KiB (MIST_E2BIG).
 */
MIST_EXTERN int mist_task(mist_job *j, const char *fn, const void *args,
			  size_t alen, const mist_ref *in, uint32_t nin,
			  uint32_t nout, mist_ref *outs);
MIST_EXTERN int mist_flush(mist_job *j);

/**
 * Waits for a value and fetches it.  0 and a buffer (mist_free) or:
 * MIST_ETASK (the task failed after its attempts: mist_job_error() has
 * the function's message), MIST_ENOFUNC, MIST_ENONODE, MIST_ECANCELED,
 * MIST_ETIMEDOUT (mist_job_error() says what the value was waiting for:
 * the chain of tasks down to the one holding it up, and where that one
 * runs or why it is not placed -- when the owner's answer beat the
 * timeout, which it does unless the owner is unreachable),
 * MIST_EUNREACHABLE / MIST_ECLOSED (no gateway or owner answered within
 * the timeout: libmist retried until then).
 */
MIST_EXTERN int mist_get(mist_job *j, mist_ref r, int timeout_ms,
			 void **data, size_t *len);
typedef void (*mist_get_cb)(void *arg, int status, const void *data,
			    size_t len);
MIST_EXTERN int mist_get_async(mist_job *j, mist_ref r, int timeout_ms,
			       mist_get_cb cb, void *arg);
/** The client will not read these values again: they may be freed. */
MIST_EXTERN int mist_release(mist_job *j, const mist_ref *refs, uint32_t n);
MIST_EXTERN int mist_job_progress(mist_job *j, int timeout_ms,
				  struct mist_progress *p);

/*
 * The operators' view of the last progress answer (mist_job_progress, or
 * the one a blocking wait asked for): per node, what the job runs and ran
 * there (mist_job_nodes); what waits (mist_job_waits); what the job
 * recovered from (mist_job_recoveries).  struct mist_progress
 * is unchanged (callers allocate it); these are read from the handle,
 * which keeps a copy of the last answer's view until the next answer or
 * mist_job_detach().  The caller's structs are filled; nothing returned
 * points into the handle.  Before any answer there is no row, no wait,
 * no recovery.
 */
#define MIST_PROGRESS_MAX_NODES 64 /* rows the owner lists at most */

struct mist_node_progress {
	uint64_t node;	    /* the node's id */
	char name[64];	    /* its member name (cut to fit) */
	char tier[8];	    /* "fog", "edge", "cloud" */
	uint32_t running;   /* the job's attempts queued or running there */
	uint32_t done;	    /* its tasks done there */
	uint64_t oldest_ms; /* age of the oldest running attempt; 0: none */
};

struct mist_recoveries {
	/* nodes lost while holding the job's attempts or values still
	 * needed; attempts placed again (their node lost, their TASK_RUN
	 * lost); tasks run again for a lost value (lineage); owner changes
	 * (takeovers by a standby, owner restarts).  Counted over the
	 * job's life: a new owner goes on from the last one's counts. */
	uint64_t nodes_lost, failed_over, recomputed, owner_changes;
	uint64_t last_ms; /* how long before the answer the last one was; 0: none */
	char last[256];	  /* the last one in words, "" if none */
};

/* What waits (struct mist_progress has how many wait for inputs and how
 * many are ready): the age of the oldest task ready but not placed (0:
 * none), and why ("all 2 nodes offering 'f' are busy", "no member
 * offers 'f'", "no live node allowed by the job offers 'f' (nodes
 * away)"; "" if unknown). */
struct mist_waits {
	uint64_t ready_oldest_ms;
	char ready_why[256];
};

/**
 * The per-node rows of the last progress answer into @a out (room for
 * @a cap), their number into @a n; @a unlisted (may be NULL) gets how
 * many more nodes ran tasks of the job than the owner lists
 * (MIST_PROGRESS_MAX_NODES).  0, or MIST_E2BIG when @a cap is less than
 * the rows (the first @a cap copied, *n says how many there are).
 */
MIST_EXTERN int mist_job_nodes(const mist_job *j,
			       struct mist_node_progress *out, uint32_t cap,
			       uint32_t *n, uint32_t *unlisted);
/** The recoveries, as of the last progress answer. */
MIST_EXTERN void mist_job_recoveries(const mist_job *j,
				     struct mist_recoveries *out);
/** What waits, as of the last progress answer. */
MIST_EXTERN void mist_job_waits(const mist_job *j, struct mist_waits *out);
/** Called from blocking waits every @a interval_ms with fresh progress. */
MIST_EXTERN void mist_job_on_progress(mist_job *j,
				      void (*cb)(void *arg,
						 const struct mist_progress *),
				      void *arg, int interval_ms);
/** Waits until no task is pending.  0, or the first failure's code. */
MIST_EXTERN int mist_job_wait(mist_job *j, int timeout_ms);
MIST_EXTERN int mist_job_cancel(mist_job *j, int timeout_ms);
/** Ends the job on the cluster (values freed) and frees the handle. */
MIST_EXTERN int mist_job_close(mist_job *j, int timeout_ms);
/** Frees the handle only: the job goes on; mist_job_attach() finds it.
 * Pending mist_get_async() callbacks of @a j run first, with
 * MIST_ECANCELED. */
MIST_EXTERN void mist_job_detach(mist_job *j);
/** The last error message of the job (a function's own words); never NULL. */
MIST_EXTERN const char *mist_job_error(const mist_job *j);
MIST_EXTERN void mist_free(void *p);

/** A message for @a err (0 or a MIST_E* code); never NULL. */
MIST_EXTERN const char *mist_strerror(int err);
/** The symbolic name of @a err, e.g. "EPROTO"; never NULL. */
MIST_EXTERN const char *mist_err_name(int err);
/** The library version, "MAJOR.MINOR.PATCH". */
MIST_EXTERN const char *mist_version(void);

#ifdef __cplusplus
}
#endif
#endif /* MIST_H_INCLUDED */
