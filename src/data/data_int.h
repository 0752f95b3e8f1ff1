/*
 * data_int.h -- the data manager's state, shared by the files that make
 * the actor (private to src/data/; the actor's interface is data.h).
 *
 * The actor is split by job, one file each:
 *
 *   data.c      the actor: spawn, the message switch, the tick, stop, and
 *               the life of a job (new, delete)
 *   journal.c   the jobs' journal in LMDB and its replay at start
 *   nodes.c     the node table (what gossip and the pool say of each node)
 *               and the function names: offered ones, and each job's own
 *   dispatch.c  placing ready tasks on nodes (TASK_RUN)
 *   reports.c   what the cluster reports: workers' TASK_DONE, gossip's
 *               member events (a node lost re-places its work)
 *   values.c    the jobs' values held around the cluster: freeing them
 *               (VALUE_FREE) and reading one for a client (JOB_READ)
 *   client.c    the clients' requests (JOB_CREATE ... JOB_LIST), and the
 *               operators' view in JOB_STATUS (ages, waits, recoveries)
 *   ckpt.c      checkpoints: a partition's live values copied to a safe
 *               holder when it is done (ckpt.h has the model)
 *   standby.c   a job outlives its owner: the standby that keeps a
 *               replica of each job's journal (JOB_REPLICA), the owner's
 *               side (choosing one, shipping records, holding a client's
 *               reply until its record is kept) and the standby's
 *               (keeping replicas, taking a job over when gossip declares
 *               its owner dead)
 *
 * Every function here runs inside the actor's turn; none keeps state of
 * its own outside struct data (a second agent may run in the process).
 *
 * Ownership: struct data owns its jobs, nodes, relays and the function
 * registry; a job owns its graph, waiters, names and journal buffer.
 */
#ifndef MIST_DATA_DATA_INT_H_INCLUDED
#define MIST_DATA_DATA_INT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "actors/actor.h"
#include "data/ckpt.h"
#include "data/data.h"
#include "data/graph.h"
#include "data/jobmsg.h"
#include "data/jobs.h"
#include "data/meta.h"
#include "data/place.h"
#include "net/swim.h"
#include "util/buf.h"
#include "util/map.h"

/* Completions are journalled, and overdue waiters dropped, every tick:
 * a crash loses at most 100 ms of completions (those tasks run again,
 * harmless), and ten passes over the jobs a second cost nothing. */
#define DATA_TICK_MS 100
/*
 * Ended jobs stay listed (JOB_LIST, `mist status`) after a client closes
 * them or the owner drops them: the last status of each, for an hour and
 * 256 jobs at most (the oldest goes first).  An operator looking at a job
 * that just ended -- or failed overnight -- sees how it ended; 256 status
 * maps of at most ~10 KiB each bound the memory.
 */
#define DATA_HISTORY_MS (3600u * 1000)
#define DATA_HISTORY_MAX 256
/*
 * The lease on attempts: a node that owes this owner attempts and has
 * reported none for this long is asked which it holds (MSG_ATTEMPTS);
 * one dispatched before the question and missing from the answer never
 * arrived (its TASK_RUN went down with a link) and is placed again.  Two
 * seconds: a lost TASK_RUN costs at most that plus a round trip, while a
 * busy node is never asked (its reports keep it heard) and a node
 * running a long task answers one small question per lease.
 */
#define DATA_LEASE_MS 2000
/* Weight of the newest run in a node's learnt time of a function: the last
 * five runs or so dominate (0.8^5 = 0.33 is left to the older ones), so
 * the forecast follows a node getting busy within a handful of tasks,
 * while one slow run (a page fault, a cold cache) moves it by a fifth. */
#define DATA_EWMA 0.2
/* After a start, gossip needs a moment before "no node offers it" is
 * true: a join pushes the full membership at once, but the seeds are
 * retried with backoff, and 10 s covers a few retries.  Tasks wait. */
#define DATA_STARTUP_GRACE_MS 10000
/*
 * A function that some member offered but no live one does now: its
 * tasks wait this long for a node to come back (a fog device that
 * stalled, moved or restarts; a partition that heals) before they fail
 * with ENONODE.  A minute covers a restart, a suspicion and a healed cut
 * several times over, and still tells a client whose workers are gone
 * for good within a minute.
 */
#define DATA_NONODE_WAIT_MS 60000
/* JOB_WAIT requests parked per job at most.  Each costs a bodiless copy
 * of the request (~100 bytes), so 65536 is ~6 MiB.  A client waits on
 * each value it is getting (mist_get_async), which is far fewer at once;
 * past the bound it gets EOVERLOAD. */
#define DATA_MAX_WAITERS 65536
/* Distinct function names one job may use.  The names are the job's own
 * (a client cannot fill a table other jobs need); 256 is what the
 * executors of a node may offer, and more than any workflow calls. */
#define DATA_JOB_MAX_FNS 256
/* Distinct function names the members offer, known to this owner.  Only
 * members fill it (their gossiped metadata), each with a few dozen at
 * most: 4096 is a hundred nodes with distinct plugins.  Past it a name is
 * not learnt (logged) and tasks calling it fail with ENOFUNC. */
#define DATA_MAX_OFFERED 4096
/* A job's completions are journalled at the latest when this many bytes
 * wait (besides every tick): one LMDB write of 64 KiB is cheap, and it
 * bounds the buffer under a flood of small tasks. */
#define DATA_JOURNAL_FLUSH_BYTES 65536
/* Gossiped numbers feed the forecasts, so they are taken only in range:
 * cores in [1, DATA_MAX_CORES] (a large machine), speed in (0, 1e6),
 * power and price in [0, 1e9).  Out of range, the default is used. */
#define DATA_MAX_CORES 4096
#define DATA_MAX_SPEED 1e6
#define DATA_MAX_POWER 1e9
#define DATA_MAX_PRICE 1e9
/*
 * A standby has this long to acknowledge a journal record (JOB_REPLICA)
 * before the owner gives up on it and ships the whole journal to another
 * one (and the one that failed is not chosen again for as long: a node
 * whose link is down fails at once, and two such would be swapped
 * without end).  A record is kept in memory and written to LMDB at the standby: a
 * LAN round trip and a write take milliseconds; 5 s is a standby that is
 * dead, partitioned or stuck -- and the clients waiting for their batch's
 * acknowledgement wait that long at most before a new standby is sought.
 */
#define DATA_REPLICA_TIMEOUT_MS 5000
/*
 * Replicas (other owners' jobs) one standby keeps at most.  Each costs
 * its job's journal in memory (bounded per job by max_tasks); 65536 jobs
 * is far more than the owners of one cluster run at once.  Past it a new
 * replica is refused (MIST_EOVERLOAD): its owner picks another standby.
 */
#define DATA_MAX_REPLICAS 65536
/*
 * A replica that heard nothing from its owner for 10 s asks it whether
 * this node still stands by for the job (JOB_REPLICA 'Q'); "no" drops it.
 * The owner's 'X' is one-way and dies with a link that breaks (a cut,
 * one way or both), and a stale replica would be taken over at the
 * owner's death -- a job long closed run again, or twice.  One small
 * request per quiet replica every 10 s; a busy job's records keep its
 * replica from asking at all.
 */
#define DATA_REPLICA_QUIET_MS 10000
/*
 * A node that took jobs over tells every member's gateway where they are
 * (JOB_MOVED, one-way) at the takeover, to members that join, and again
 * every 5 s: a partition may have eaten the first word, and a gateway
 * that never hears it sends the job's requests to its dead first owner.
 * One small message per taken-over job and member every 5 s: takeovers
 * are few.
 */
#define DATA_ANNOUNCE_MS 5000
/*
 * Jobs this node dropped because another took them over (fenced), kept
 * by name so that a request still routed here is answered
 * MIST_EUNREACHABLE ("not here: ask again"), which libmist retries while
 * the gateways learn the new owner (DATA_ANNOUNCE_MS), rather than
 * MIST_ENOTFOUND, which is final.  4096 names (16 bytes each); past it
 * the oldest is forgotten (a request for it then gets ENOTFOUND).
 */
#define DATA_MAX_FENCED 4096

/* A function name some member offers (or offered): what is learnt of it. */
struct fnreg {
	char name[EXEC_NAME_MAX];
	double ref_exec_ms, ref_speed; /* the last learnt time, and where */
};

/* A function a node offers: its registry index and its learnt time. */
struct nodefn {
	uint32_t fn; /* NODES_FN_NONE: an index the node does not offer */
	float exec_ms; /* < 0: nothing learnt yet */
};
#define NODES_FN_NONE UINT32_MAX

struct nodeinfo {
	uint64_t id;
	char name[SWIM_NAME_MAX];
	int tier;
	uint32_t cores;
	double speed, power, price;
	bool alive;
	/* gossip suspects it (SWIM_EV_SUSPECT, until refuted or declared
	 * dead): no new attempt goes there, those in flight stay.  An owner
	 * cut off from its workers suspects them within a probe or two but
	 * -- Lifeguard slowing an unhealthy node's verdicts -- declares them
	 * dead only tens of seconds later; meanwhile it runs what it can
	 * itself (paper 003 4) instead of queueing work where none is done */
	bool suspect;
	/* the node's boot count (its SWIM incarnation >> 32): a higher one
	 * is a new process, which knows nothing of the old one's attempts
	 * and values */
	uint32_t boot;
	/* indexed by registry index, up to the highest the node offers:
	 * dispatch looks every live node up for every task it places, and an
	 * index costs less than a search (at most DATA_MAX_OFFERED entries) */
	struct nodefn *fns;
	uint32_t nfns;
	uint32_t inflight; /* this owner's attempts queued or running there */
	uint64_t done;
	/* the lease check (reports.c): when the node last reported an
	 * attempt's end or was asked, the question in flight (0: none) and
	 * the dispatch count when it was asked */
	uint64_t heard_ms;
	uint64_t lease_corr;
	uint32_t lease_cut;
	/* standby.c: a node that failed a replica record is not chosen as
	 * a standby again before this (ms) */
	uint64_t standby_bad_until;
};

/* A function name a job's tasks call (gtask.fn indexes the job's table). */
struct jobfn {
	char name[EXEC_NAME_MAX];
	int32_t reg; /* registry index, or -1 while no member offered it */
	uint64_t nonode_since; /* since when no live node offers it, or 0 */
};

struct waiter {
	struct msg *req; /* a bodiless copy: from, corr, flags to reply */
	uint64_t deadline;
	struct gref v;
};

/* A client's reply held until the standby kept the record it waits for
 * (standby.c). */
struct parked {
	struct msg *req; /* a bodiless copy of the request */
	uint32_t type;
	uint32_t rseq; /* the record (JOB_REPLICA rseq) it waits for */
	struct buf body;
};

/*
 * What a job recovered from, for operators (JOB_STATUS "recoveries"),
 * besides its graph's counts (graph.lost_attempts: attempts failed over;
 * graph.recomputed: values recomputed) and the owner changes (the epoch's
 * distance from the first owner's boot, data_job_new).  Counted by the
 * job's owners: each recovery is journalled ('F', journal.c), so a
 * standby that takes a job over, or an owner that restarts and replays
 * its journal, goes on from the counts the last owner had (the age of the
 * last one restarts at the replay); the owner changes are carried by the
 * epoch.
 */
/* The words of a recovery: the longest ("owner <63-byte name> dead: the
 * job taken over here: <10 digits> attempts failed over, <10 digits>
 * values recomputed") are 162 bytes, so none is cut. */
#define DATA_RECOVERY_TEXT 192
struct recovery {
	uint32_t nodes_lost; /* lost holding attempts or values still needed */
	uint64_t last_at;    /* data_now() of the last recovery; 0: none */
	char last[DATA_RECOVERY_TEXT]; /* the last one, in words */
};

/* The graph's recovery counts before a loss (client_recovered). */
struct recov_mark {
	uint32_t lost, recomputed;
};

/* What a recovery followed, for its words (client_recovered). */
enum recov_kind {
	RECOV_NODE,    /* a node dead or left */
	RECOV_RESTART, /* a node in a new boot */
	RECOV_LEASE,   /* attempts that never reached their node */
	RECOV_VALUE,   /* a holder said it lost a value */
	RECOV_OWNER,   /* this node took the job over from its dead owner */
	RECOV_SUSPECT, /* a suspected node silent at the lease (reports.c) */
};

struct job {
	/* the job's name, stable for its life: its first owner and its id
	 * there (boot << 32 | seq of that owner) */
	uint64_t origin, id;
	uint64_t key; /* its key in struct data's jobs (data_job_key) */
	uint64_t cred;
	/* the fencing epoch: the attempts' high 16 bits (g.attempt_base).
	 * A new job's is its owner's boot (as a restarted owner's replay);
	 * a standby that takes the job over uses the replica's + 1 */
	uint32_t epoch;
	/* the standby (0: none yet, or no other member) and what was sent
	 * to it: JOB_REPLICA records numbered 1..rsent, 1..racked kept */
	uint64_t standby;
	uint32_t rsent, racked;
	/* a standby replaced while it held every record: it keeps its
	 * replica until the new one has the whole ship (ship_n records),
	 * so that some member always holds all that was acknowledged */
	uint64_t prev_standby;
	uint32_t ship_n;
	uint32_t key_rseq; /* the last create, batch or cancel record sent */
	struct buf recs; /* every journal record, as shipped to a standby */
	struct parked *parked;
	uint32_t nparked, capparked;
	char name[JOBMSG_NAME_MAX];
	struct place_policy pol;
	struct graph g;
	bool cancelled;
	uint64_t touched; /* last client activity, ms */
	struct jobfn *fns;
	uint32_t nfns, capfns;
	struct waiter *waiters;
	uint32_t nwaiters, capwaiters;
	uint32_t tseq, dseq; /* journal sequences: batches, completions */
	struct buf dlog;     /* completions not yet journalled */
	uint32_t dcount;
	struct ckpt_job ck; /* checkpoints (ckpt.c) */
	struct data *d;
	struct recovery rec; /* client.c: client_recovered */
};

/* A client's JOB_READ, relayed to a holder's function actor. */
struct relay {
	struct msg *req;
	uint64_t job; /* the job's key in d->jobs (data_job_key) */
	struct gref v;
	uint64_t holder;
};

struct data {
	struct actor *actor;
	struct data_config cfg;
	struct store *store; /* the journal; NULL: none */
	uint64_t boot;
	struct fnreg *reg;   /* offered function names */
	uint32_t nreg, capreg;
	struct map reg_index; /* name hash (probed) -> index + 1 */
	bool reg_full_said;
	struct map nodes;  /* id -> nodeinfo */
	struct map jobs;   /* id -> job */
	struct map relays; /* corr -> relay */
	struct map leases; /* corr -> nodeinfo asked (reports.c) */
	struct map racks;  /* corr -> struct rack: JOB_REPLICA in flight */
	struct map replicas; /* job key -> struct replica (standby.c) */
	struct map copies;   /* corr -> struct ckpt_copy in flight (ckpt.c) */
	/* ended jobs' last status (client.c): a ring, oldest at hist_head */
	struct {
		uint64_t at; /* when it ended here, ms */
		struct buf status;
	} hist[DATA_HISTORY_MAX];
	uint32_t hist_head, nhist;
	uint32_t dispatches; /* attempts started, wrapping (gtask.lease) */
	struct place_node *cand; /* dispatch's scratch: one per node */
	struct nodeinfo **cinfo;
	uint32_t capcand;
	uint32_t next_job;
	uint64_t started;
	uint64_t announced; /* standby.c: the last JOB_MOVED round */
	/* standby.c: names of the jobs dropped as fenced, a ring */
	struct {
		uint64_t origin, id;
	} fenced[DATA_MAX_FENCED];
	uint32_t nfenced, fenced_head;
	struct actor_timer tick;
	bool replaying;
};

/* data.c */
uint64_t data_now(const struct data *d);
uint64_t data_self(const struct data *d);
struct msg *data_req_copy(const struct msg *m);
/** The key of job (@a origin, @a id) in d->jobs and d->replicas. */
uint64_t data_job_key(uint64_t origin, uint64_t id);
/** The job named (@a origin, @a id) this node owns, or NULL. */
struct job *data_job_find(struct data *d, uint64_t origin, uint64_t id);
/** A new job (@a origin, @a id) at @a epoch, or NULL when its key is
 * taken by another job (64-bit keys: never in practice; logged). */
struct job *data_job_new(struct data *d, uint64_t origin, uint64_t id,
			 uint64_t cred, uint32_t epoch);
void data_job_delete(struct data *d, struct job *j);

/* client.c */
/** @a j's graph's recovery counts now, for client_recovered(). */
struct recov_mark client_recov_mark(const struct job *j);
/**
 * After a loss of kind @a k at node @a node: if @a j's graph failed
 * attempts over or recomputed values since @a m, the recovery is noted
 * (its time, its words; a node's loss counts in nodes_lost).  RECOV_OWNER
 * is noted in any case (the takeover is the recovery).
 */
void client_recovered(struct data *d, struct job *j, struct recov_mark m,
		      enum recov_kind k, uint64_t node);
/** The graph's clock (graph.clock): data_now() of the job's owner. */
uint64_t client_clock(void *job);
/** Keeps @a j's last status listed (DATA_HISTORY_MS) before it goes. */
void client_remember(struct data *d, struct job *j);
/** Forgets what ended more than DATA_HISTORY_MS ago; everything if
 * @a all (shutdown). */
void client_history_prune(struct data *d, bool all);

/* journal.c */
/** A journal record of @a j: to LMDB (the jobs this node created), to
 * the job's records in memory and to its standby. */
void journal_put(struct data *d, struct job *j, char kind, uint32_t seq,
		 const void *val, size_t len);
/** Appends a record to j->recs (standby.c ships them). */
void journal_rec_append(struct job *j, char kind, uint32_t seq,
			const void *val, size_t len);
/** Applies completions record @a val to @a j; those on @a skip (a node
 * whose values are gone) are not. */
void journal_apply_completed(struct data *d, struct job *j, const void *val,
			     size_t vlen, uint64_t skip);
void journal_created(struct data *d, struct job *j, const uint8_t *body,
		     uint32_t len);
/** Journals @a j's recovery counts (record 'F'), after each recovery. */
void journal_recovered(struct data *d, struct job *j);
/** Applies a recovery record 'F' to @a j: its counts are the last owner's
 * (a malformed record changes nothing). */
void journal_apply_recovered(struct data *d, struct job *j, const void *val,
			     size_t vlen);
void journal_completed(struct job *j, uint32_t task, uint64_t node,
		       const uint64_t *sizes, uint32_t n);
void journal_flush(struct job *j);
void journal_drop(struct data *d, struct job *j);
void journal_replay(struct data *d);

/* nodes.c */
struct nodeinfo *nodes_get(struct data *d, uint64_t id);
void nodes_free(struct data *d);
void nodes_apply_meta(struct data *d, struct nodeinfo *n,
		     const struct meta *m);
void nodes_set_fns(struct data *d, struct nodeinfo *n,
		  const char *const *names, const uint32_t *lens,
		  uint32_t count);
/** The node's entry for registry function @a fn, or NULL. */
struct nodefn *nodes_fn(const struct nodeinfo *n, uint32_t fn);
void names_destroy(struct data *d);
/** Interns @a s in the job's table: its index, MIST_EINVAL (not a
 * name) or MIST_E2BIG (DATA_JOB_MAX_FNS reached). */
int names_job_intern(struct data *d, struct job *j, const char *s,
		  uint32_t len);
/** The registry index of the job's function @a fn, or -1. */
int names_job_reg(struct data *d, struct job *j, uint16_t fn);

/* dispatch.c */
void dispatch_job(struct data *d, struct job *j);
void dispatch_all(struct data *d);
void dispatch_destroy(struct data *d);

/* reports.c */
void reports_task_done(struct data *d, struct msg *m);
void reports_member_event(struct data *d, struct msg *m);
/** Asks the nodes that owe attempts and went quiet which they hold. */
void reports_lease_tick(struct data *d);
/** A reply of ours: a lease answer (true) or not (false). */
bool reports_lease_reply(struct data *d, struct msg *m);

/* standby.c */
/** Sends record (@a kind, @a seq, @a val) of @a j to its standby. */
void standby_send(struct data *d, struct job *j, char kind, uint32_t seq,
		  const void *val, size_t len);
/** Replies @a type with @a body to @a m once the standby has every
 * record sent so far (at once if @a j has none). */
void standby_reply(struct data *d, struct job *j, struct msg *m, uint32_t type,
		   const void *body, size_t len);
/** A JOB_REPLICA reply (true) or not (false). */
bool standby_ack(struct data *d, struct msg *m);
/** A JOB_REPLICA request: a record to keep for its owner. */
void standby_keep(struct data *d, struct msg *m);
/** Node @a node is dead: take over the jobs it owned that we keep
 * replicas of; jobs whose standby it was get another. */
void standby_node_dead(struct data *d, uint64_t node);
/** Node @a node restarted: the jobs it had taken over (kept in its
 * memory only) that we keep replicas of are ours. */
void standby_node_restarted(struct data *d, uint64_t node);
/** Node @a node is lost (dead, left or restarted): jobs whose standby
 * it was get another, shipped the whole journal. */
void standby_node_lost(struct data *d, uint64_t node);
/** Jobs without a standby get one if a member can be it now. */
void standby_tick(struct data *d);
/** Tells member @a node's gateway (0: every live member's, this one's
 * included) where the jobs we took over are (JOB_MOVED). */
void standby_announce(struct data *d, uint64_t node);
/** MSG_JOB_MOVED to this data manager: a job of ours another node took
 * over (we were declared dead and came back) is dropped here. */
void standby_moved(struct data *d, struct msg *m);
/** The job ends here (dropped, closed): its standby forgets it. */
void standby_forget(struct data *d, struct job *j);
/** Answers the parked replies of @a j with @a status and frees them. */
void standby_unpark_all(struct data *d, struct job *j, int status);
void standby_destroy(struct data *d);
/** Whether job (@a origin, @a id) was dropped here, taken over elsewhere. */
bool standby_was_fenced(const struct data *d, uint64_t origin, uint64_t id);
/** Reads the replicas kept in the store (at start). */
void standby_load(struct data *d);

/* ckpt.c */
/** Task @a task of @a j is done (a result accepted): checkpoints what
 * its partition, now settled, has to copy. */
void ckpt_task_done(struct data *d, struct job *j, uint32_t task);
/** The client released @a r: unpinned if no task may read it again. */
void ckpt_released(struct job *j, struct gref r);
/** A VALUE_COPY answer (true) or not (false). */
bool ckpt_reply(struct data *d, struct msg *m);
/** Node @a node is lost (after graph_node_lost): the pinned values of
 * @a j whose safe copy it held are copied again. */
void ckpt_node_lost(struct data *d, struct job *j, uint64_t node);
/** Per tick: the jobs replayed or taken over look at their partitions. */
void ckpt_tick(struct data *d, struct job *j);
/** Applies an 'E' journal record (copies made) to @a j; copies at
 * @a skip (a node whose values are gone) are not. */
void ckpt_apply_copied(struct job *j, const void *val, size_t len,
		       uint64_t skip);
/** Writes the copies made since the last flush as an 'E' record. */
void ckpt_flush(struct data *d, struct job *j);
void ckpt_job_destroy(struct job *j);
/** Copies in flight (shutdown). */
void ckpt_destroy(struct data *d);

/* values.c */
void values_free_cb(void *ctx, struct gref v, const uint64_t *holders,
		   uint32_t n);
void values_free_job(struct data *d, struct job *j);
void values_read(struct data *d, struct msg *m, struct job *j, struct gref v,
	      uint64_t off);
void values_relay_reply(struct data *d, struct msg *m);
void values_relays_free(struct data *d);

/* client.c */
void client_request(struct data *d, struct msg *m);
int client_apply_create(struct job *j, const uint8_t *body, uint32_t len);
int client_add_tasks(struct data *d, struct job *j, const uint8_t *p,
		     uint32_t len);
void client_wake(struct data *d, struct job *j);
void client_expire_waiters(struct job *j, uint64_t now);

#endif
