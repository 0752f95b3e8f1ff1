/*
 * ckpt.h -- job checkpoints: values copied to a safe holder at partition
 * boundaries, so that lineage recompute after a loss stops there (issue
 * 12, item 5; docs/PROTOCOL.md 6.10).  Private to src/data/.
 *
 * What the paper does (003, COMPSs on Fog-to-Cloud, "checkpointing"):
 * the master splits the task graph into fixed-size partitions in the
 * chronological order of task generation, fetches the output values of
 * a partition that later partitions might use, and once it holds them
 * all, drops the partition from the graph: it is never re-run.  Here:
 *
 *   - A job's policy names the partition (JOB_CREATE "checkpoint": N,
 *     struct mist_policy's checkpoint_every): tasks 1..N are partition 0,
 *     N+1..2N partition 1, and so on, in submission order.
 *   - When every task of a partition is settled (DONE or FAILED) -- and
 *     for the last, partial partition, when the whole job is -- each of
 *     its outputs still live (available, not freed) that a later
 *     partition might read (the last point below) is copied to a safe
 *     holder, unless one already holds it.
 *   - The safe holder of a value is a node other than its producer: a
 *     live cloud-tier node (spread by the task's id), else the job's
 *     standby, else the owner itself.  The paper's master is the owner
 *     here; a cloud node or the standby survives more of the faults a
 *     fog device sees, and the standby survives the owner.
 *   - Such a value is pinned (graph_pin): it is not freed while a task
 *     reading it lies in a partition not yet checkpointed -- that task
 *     may have to run again, and then it reads the copy instead of
 *     running the partition before it again.  Once the readers'
 *     partitions are checkpointed (and the client released it) it is
 *     unpinned and freed by the usual rules.  The paper drops the
 *     checkpointed block from the graph; here the graph keeps its tasks
 *     (the client may still read any value it has not released), but a
 *     checkpointed value has two holders on two nodes, so losing one
 *     node recomputes none of it.
 *   - A task of a checkpointed partition that is done again (both holders
 *     of a value of it were lost and lineage ran it) is copied again as
 *     soon as it is done.
 *   - A safe holder lost: the pinned values it kept a copy of whose
 *     producer still has them are copied again (to another safe holder),
 *     and their partition is not checkpointed until they are.
 *   - A partition is checkpointed once its copies are made: only then are
 *     the values of earlier partitions its tasks read unpinned.  A copy
 *     that failed (CKPT_MAX_TRIES, reported) leaves it not checkpointed
 *     -- lineage may run its tasks again, so what they read stays pinned
 *     -- until that value is copied after all (its task done again).
 *   - What is copied is what a later partition might read: a value still
 *     live that the client has not released, or that a task of a later
 *     partition reads (a value read only inside its own partition, by a
 *     task run again there, is not).
 *
 * The copy is peer to peer: the owner asks the target's function actor
 * (MSG_VALUE_COPY, data/jobmsg.h draws it) to fetch the value from its
 * holders, chunk by chunk as an input is fetched, and to keep it; the
 * owner adds the target as a holder when the target says it holds it,
 * and journals that at once (record 'E', journal.c, shipped to the
 * standby as every record), so that a restarted owner and a standby
 * taking the job over know the copy too.
 *
 *   owner ACTOR_DATA        safe holder ACTOR_FUNCTION     producer
 *     |--VALUE_COPY v, holders-->|                           |
 *     |                          |--VALUE_GET v, off 0------>|
 *     |                          |<--[total, chunk]----------|  ...
 *     |<--nil (held)-------------|                           |
 *   graph_value_copied(v, holder); journal 'E' [task, out, holder]
 *
 * Bounds: CKPT_INFLIGHT copies per job at once (the rest queue, one entry
 * per value); each copy is of the value's size, which the target enforces;
 * a copy that fails (an error, CKPT_COPY_TIMEOUT_MS without an answer) is
 * asked of the next safe holder, CKPT_MAX_TRIES times in all, then counted
 * as failed and logged -- never dropped silently -- and the value is left
 * to lineage.
 *
 * The bound on re-execution (one node X lost): the values of every
 * checkpointed partition survive (each live one has a holder besides X),
 * so the tasks run again are at most those X was running, plus the tasks
 * of partitions not yet checkpointed (copies queued or in flight
 * included) whose outputs X held alone, plus -- transitively -- the
 * producers of their lost inputs, which again lie in partitions not yet
 * checkpointed: at most N times the number of partitions not yet
 * checkpointed, plus X's running attempts.  Two losses at once (a
 * producer and its safe holder, before the copy is made again) can
 * reach further back.
 *
 * Counters per job (JOB_STATUS "checkpoints"): copies made, their bytes,
 * copies failed, and copies pending (queued or in flight).
 *
 * Ownership: struct ckpt_job is part of struct job (ckpt_job_destroy
 * frees its arrays); the copies in flight are the data manager's
 * (d->copies), each naming its job by key and looked up again when the
 * answer comes.
 */
#ifndef MIST_DATA_CKPT_H_INCLUDED
#define MIST_DATA_CKPT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "data/graph.h"
#include "util/buf.h"

/* Copies of one job in flight at once: a copy is a round trip plus the
 * value's chunks; eight keep the links busy while a partition of small
 * values drains, and bound what one job asks of its safe holders (whose
 * own bound, FUNC_MAX_COPIES, is shared by every owner). */
#define CKPT_INFLIGHT 8
/* Safe holders tried per value before the copy is reported failed: the
 * candidates are few (a cloud node, the standby, the owner), and a value
 * three of them could not take is left to lineage. */
#define CKPT_MAX_TRIES 3
/* An answer to a copy comes within this or the copy is tried elsewhere:
 * the largest value (32 MiB, 128 chunks) over a 1 MB/s WAN takes ~35 s,
 * plus a dead holder or two (fetch_timeout_ms, 10 s, each). */
#define CKPT_COPY_TIMEOUT_MS 60000

/* A value waiting for its copy, and the safe holders that failed it. */
struct ckpt_item {
	struct gref v;
	uint8_t tries;
	uint64_t avoid[CKPT_MAX_TRIES];
};

struct ckpt_job {
	uint32_t every; /* tasks per partition; 0: no checkpoints */
	/* per partition: the first task id not yet known settled (the scan
	 * resumes there), the last task id checkpointed (0: none), its
	 * copies not yet settled (queued or in flight), and its values whose
	 * copy failed (until a copy of one is made after all): the partition
	 * is checkpointed when both are 0 */
	struct ckpt_part {
		uint32_t scan, upto, pending, failed;
	} *parts;
	uint32_t nparts, capparts;
	/* values waiting for a copy, a FIFO ring */
	struct ckpt_item *q;
	uint32_t qhead, qlen, qcap;
	uint32_t inflight;
	bool rescan; /* replayed or taken over: look at every partition */
	/* the journal's 'E' records: copies made, not yet written (flushed
	 * with the completions, every tick), and the next record's seq */
	struct buf elog;
	uint32_t ecount, eseq;
	uint64_t copies, bytes, failed; /* JOB_STATUS "checkpoints" */
};

#endif
