/*
 * actor.h -- the actor runtime: actors, mailboxes, scheduling, timers,
 * request/response, backpressure, shutdown.
 *
 * An actor owns its state and handles one message at a time.  It is
 * addressed by a struct actor_ref (node id, actor id); actor_send() is the
 * same call for a local and a remote actor -- a local message is queued by
 * pointer, a remote one is handed to the transport, which encodes it onto
 * the encrypted link to that node.
 *
 * Design (after the Pony runtime, single-threaded for now):
 *  - The run queue holds actors with mail.  A turn handles at most
 *    @a batch messages, so one busy actor cannot starve the others.
 *  - Backpressure: when a mailbox passes its high-water mark, an actor that
 *    sends to it is muted (not scheduled) until the mailbox drains below the
 *    low-water mark; I/O sources learn it from actor_sys_deliver()'s return
 *    and stop reading until the drain callback.  A hard cap refuses further
 *    messages outright (requests get an EOVERLOAD reply).
 *  - Requests: actor_request() registers a correlation id with a deadline.
 *    Exactly one of {the reply, an error reply} reaches the actor: the
 *    first to arrive removes the registration; the other is dropped.  The
 *    error is ETIMEDOUT at the deadline, or EUNREACHABLE as soon as the
 *    transport's link to the target node closes (actor_sys_fail_node).
 *  - Timers deliver MSG_TIMER to their actor.  A timer stopped or
 *    restarted never delivers a tick that fired before (it may already
 *    wait in the mailbox: it is dropped), and a repeating timer whose last
 *    tick still waits does not queue another.  Overdue requests are dropped
 *    before they reach a handler (their sender has already timed out).
 *  - Nothing here touches a clock, a socket or an event loop: the system is
 *    driven from outside (actor_sys_run, actor_sys_expire) and asks the
 *    clock and the transport through the seams in struct actor_sys_env.
 *    Production drives it from libuv (net/loop.c); tests drive whole
 *    clusters of systems in virtual time in one process.
 *
 * Threading: a system and its actors belong to one thread.  The system has
 * no global state, so one system per scheduler thread can follow.
 *
 * Turns are checked.  An actor acts -- sends, replies, starts and stops its
 * timers -- only in its own turn, inside actor_sys_run(); an I/O callback
 * never acts for an actor, it delivers a message to it (actor_sys_deliver,
 * as net/udp.c and net/link.c do) and the actor acts when that message is
 * handled (net/loop.h).  In debug builds (NDEBUG not defined) the functions
 * below that take `struct actor *self` abort, naming the actor and the
 * function, when @a self is not the actor whose turn it is
 * (sys->current); one pointer compare on the usual path.  Exempt is an
 * actor's construction: from actor_spawn() until the scheduler next starts
 * or ends a run (sys->runs moves), its spawner may start its timers and
 * send for it.  The check is switched by sys->check_turns, set by
 * actor_sys_init() from MIST_CHECK_TURNS ("1" on, "0" off) or else
 * ACTOR_CHECK_TURNS_DEFAULT.
 */
#ifndef MIST_ACTORS_ACTOR_H_INCLUDED
#define MIST_ACTORS_ACTOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/msg.h"
#include "actors/msgtype.h"
#include "util/heap.h"
#include "util/map.h"
#include "util/rand.h"

struct actor;
struct actor_sys;

typedef void (*actor_fn)(struct actor *self, struct msg *m);

/** The seams: time, the remote transport, and wake-ups for the driver. */
struct actor_sys_env {
	/** Monotonic time in milliseconds. */
	uint64_t (*now)(void *ctx);
	/** Monotonic time in nanoseconds, for measurements (NULL: now x 1e6). */
	uint64_t (*hrtime)(void *ctx);
	/**
	 * Sends @a m to another node.  Takes ownership and returns 0, or
	 * returns an error (MIST_EUNREACHABLE) and leaves @a m to the caller.
	 */
	int (*remote_send)(void *ctx, struct msg *m);
	/** Called when work appears or the next deadline moves earlier. */
	void (*wake)(void *ctx);
	/** Called when an overloaded mailbox drains: resume paused sources. */
	void (*drained)(void *ctx);
	void *ctx;
};

/** Tunables; every default is defended in actor.c. */
struct actor_sys_config {
	uint32_t batch;	       /* messages per turn */
	uint32_t mailbox_high; /* mute senders above this */
	uint32_t mailbox_low;  /* unmute below this */
	uint32_t mailbox_max;  /* refuse above this */
};

void actor_sys_config_default(struct actor_sys_config *cfg);

/* Caller storage, zeroed before first use; stop it before freeing it. */
struct actor_timer {
	struct heap_node hn;
	uint32_t actor;
	uint64_t tag;
	uint64_t repeat;
	int kind;
	struct msg *queued; /* its MSG_TIMER waiting in the mailbox, or NULL */
};

struct actor {
	uint32_t id;
	uint64_t born; /* sys->runs at spawn: under construction while equal */
	const char *name; /* static string */
	struct actor_sys *sys;
	actor_fn fn;
	void *state; /* owned by the actor's code, freed on MSG_STOP */
	struct msg *head, *tail;
	uint32_t queued;
	bool scheduled;
	bool muted;
	bool overloaded;
	bool stopped;
	struct actor *next_run;
	uint32_t *muters; /* actors muted because of this one */
	uint32_t nmuters, capmuters;
};

struct actor_sys_stats {
	uint64_t delivered;	/* messages handled */
	uint64_t late_replies;	/* replies after timeout or twice */
	uint64_t expired;	/* requests dropped past their deadline */
	uint64_t refused;	/* messages refused at the hard cap */
	uint64_t no_actor;	/* messages to actors that do not exist */
};

struct actor_sys {
	uint64_t node;
	struct actor_sys_env env;
	struct actor_sys_config cfg;
	struct map actors;  /* id -> struct actor */
	struct map pending; /* corr -> struct actor_pending */
	struct heap timers;
	struct actor *run_head, *run_tail;
	uint32_t next_id;
	uint64_t next_corr;
	struct rng rng;
	bool stopping;
	struct actor_sys_stats stats;
	struct actor *current; /* the actor in its turn, or NULL */
	uint64_t runs;	       /* starts and ends of actor_sys_run */
	bool check_turns;      /* abort on an actor acting outside its turn */
};

/*
 * On: every I/O callback of the agent only delivers messages (the gateway's
 * listener, the executor pool, links, UDP, the agent's own timers), so any
 * actor acting outside its turn is a bug the debug builds -- and so every
 * test -- abort on.  MIST_CHECK_TURNS=0 switches it off in a process.
 */
#define ACTOR_CHECK_TURNS_DEFAULT true

/** @a seed feeds the system's PRNG (correlation ids, actors' choices). */
void actor_sys_init(struct actor_sys *sys, uint64_t node,
		    const struct actor_sys_env *env,
		    const struct actor_sys_config *cfg, uint64_t seed);
/** Frees every actor, queued message, timer and pending request. */
void actor_sys_destroy(struct actor_sys *sys);

/** Spawns an actor; @a id 0 picks the next dynamic id.  NULL if taken. */
struct actor *actor_spawn(struct actor_sys *sys, uint32_t id, const char *name,
			  actor_fn fn, void *state);
struct actor *actor_sys_find(struct actor_sys *sys, uint32_t id);
struct actor_ref actor_ref_of(const struct actor *a);
uint64_t actor_sys_now(const struct actor_sys *sys);
uint64_t actor_sys_hrtime(const struct actor_sys *sys);

/**
 * Sends @a m (ownership moves, whatever the result) from @a self (NULL for
 * the node itself) to @a to.  Returns 0, or MIST_EUNREACHABLE, MIST_ENOACTOR,
 * MIST_EOVERLOAD, MIST_ECLOSED.
 */
int actor_send(struct actor *self, struct actor_ref to, struct msg *m);
/** Builds and sends a message with a msgpack @a body (copied). */
int actor_tell(struct actor *self, struct actor_ref to, uint32_t type,
	       const void *body, uint32_t len);
/**
 * Sends a request; the reply -- or an error reply with status ETIMEDOUT
 * after @a timeout_ms -- arrives later as a message with MSG_F_REPLY and the
 * same corr, stored in @a corr_out if not NULL.  Never both, never neither.
 * If the send fails at once, the error reply is queued immediately.
 */
void actor_request(struct actor *self, struct actor_ref to, uint32_t type,
		   const void *body, uint32_t len, uint32_t timeout_ms,
		   uint64_t *corr_out);
/** Replies to @a req with a msgpack @a body (status 0). */
int actor_reply(struct actor *self, const struct msg *req, uint32_t type,
		const void *body, uint32_t len);
/** Replies to @a req with an error status and no body. */
int actor_reply_error(struct actor *self, const struct msg *req, int status);

/** Starts @a t: MSG_TIMER with corr = @a tag after @a ms, then every @a repeat. */
void actor_timer_start(struct actor *self, struct actor_timer *t, uint64_t ms,
		       uint64_t repeat, uint64_t tag);
void actor_timer_stop(struct actor *self, struct actor_timer *t);

/** Aborts, naming @a self and @a fn, unless @a self is being constructed
 * (the slow path of actor_turn_assert). */
void actor_turn_fail(const struct actor *self, const char *fn);

/**
 * The turn check (see the top of this file): for the functions above, and
 * for any module function that acts for or mutates @a self.
 */
static inline void
actor_turn_assert(const struct actor *self, const char *fn)
{
#ifndef NDEBUG
	if (self->sys->check_turns && self != self->sys->current)
		actor_turn_fail(self, fn);
#else
	(void)self;
	(void)fn;
#endif
}

/**
 * Entry for I/O sources (links): queues a message from the network for a
 * local actor (ownership moves).  Returns 0; 1 when the target is now over
 * its high-water mark (stop reading until env.drained); or an error.
 */
int actor_sys_deliver(struct actor_sys *sys, struct msg *m);
/**
 * A local message for this node's actor @a to (MSG_F_LOCAL, from = to),
 * with @a len body bytes copied from @a body (if not NULL): what an I/O
 * callback, or a test, hands to actor_sys_deliver() to make an actor act
 * in its own turn.  The caller may still set corr, ptr and ptr_free.
 */
struct msg *actor_local_msg(const struct actor_sys *sys, uint32_t to,
			    uint32_t type, const void *body, uint32_t len);

/**
 * Ends at once, with an error reply of @a status (MIST_EUNREACHABLE), every
 * request this system's actors wait on from node @a node: what the
 * transport calls when its link to that node closes (the request or its
 * answer may have been lost with it) -- each requester learns it now
 * instead of at its timeout, and a reply that still arrives is dropped as
 * late.  Returns how many.  Like actor_sys_deliver, for I/O sources.
 */
size_t actor_sys_fail_node(struct actor_sys *sys, uint64_t node, int status);

/** Fires due timers; returns how many. */
int actor_sys_expire(struct actor_sys *sys);
/** Runs up to @a max_turns actor turns; returns messages handled. */
uint32_t actor_sys_run(struct actor_sys *sys, uint32_t max_turns);
bool actor_sys_has_work(const struct actor_sys *sys);
/** The earliest timer's due time, or UINT64_MAX. */
uint64_t actor_sys_next_deadline(const struct actor_sys *sys);
/**
 * Begins an orderly shutdown: every actor receives MSG_STOP as its last
 * message; new messages from outside are refused with MIST_ECLOSED.
 */
void actor_sys_shutdown(struct actor_sys *sys);

#endif
