/*
 * swim_view.h -- private to the SWIM actor (net/swim.c, swim_codec.c,
 * swim_view.c): its state, and the member table.
 *
 * The actor's code is in three files, one per layer (docs/STYLE.md):
 *   swim.c        the protocol: probing, Lifeguard, suspicion, gossip,
 *                 push/pull, timers, the actor itself;
 *   swim_codec.c  the wire: gossip packets, member updates, member events
 *                 and link events, encoded and decoded (drawn there);
 *   swim_view.c   the member table and the queries on it: the read-only
 *                 views of swim.h and the MSG_MEMBERS listing.
 * Nothing outside them includes this header: other modules see swim.h.
 *
 * Ownership: struct swim is allocated by swim_spawn() and freed by the
 * actor on MSG_STOP.  Members are allocated by swim_add() and freed by
 * swim_remove() or swim_table_free(); each owns its @a meta copy.  A
 * member pointer stays valid until its member is removed (reaped).
 */
#ifndef MIST_NET_SWIM_VIEW_H_INCLUDED
#define MIST_NET_SWIM_VIEW_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "net/swim.h"
#include "util/map.h"

/* ping-req relays in progress at once (each lasts 0.8 x the probe
 * timeout); a request beyond is not relayed and its requester counts a
 * missing nack, as for a lost packet */
#define SWIM_RELAYS 64
/* local actors receiving MSG_MEMBER_EVENT: the gateway and the data
 * manager today; a subscription beyond is refused with a log line */
#define SWIM_MAX_SUBS 16
/* distinct confirmations counted and re-gossiped: the suspicion reaches
 * its minimum at suspicion_confirm (2 by default); one past 16 is ignored */
#define SWIM_CONFIRM_MAX 16

struct swim_member {
	uint64_t node;
	char name[SWIM_NAME_MAX];
	struct sockaddr_storage addr;
	uint64_t inc;
	enum swim_status status;
	uint64_t since; /* time of the last status change */
	uint8_t *meta;
	uint16_t meta_len;
	/* suspicion */
	struct actor_timer suspect_timer;
	uint64_t suspect_start;
	uint64_t confirmers[SWIM_CONFIRM_MAX]; /* [0]: who raised it */
	uint32_t nconfirm;		       /* entries in confirmers */
	uint64_t link_lost_at; /* its link was lost then (0: not); a probe
				  sent since, or one that fails, tells */
	bool short_suspicion; /* suspected on a lost link + a failed probe */
};

/* A queued update (its encoded bytes) and how often it was piggybacked. */
struct swim_bcast {
	uint64_t node;
	uint32_t transmits;
	uint16_t len;
	uint8_t bytes[];
};

/* A ping we send for another member's ping-req. */
struct swim_relay {
	bool used;
	uint32_t my_seq, their_seq;
	struct sockaddr_storage requester;
	struct actor_timer timer;
};

struct swim {
	struct actor *actor;
	struct swim_config cfg;
	struct swim_transport tr;
	struct swim_member self;
	/* the member table (swim_view.c): not ourselves */
	struct map members; /* node -> struct swim_member */
	struct swim_member **order; /* every member, in probe order */
	size_t norder, capder, probe_idx;
	uint64_t pushpull_next; /* start-up anti-entropy: 0.25, 0.5, 1 ... s */
	uint64_t urgent;	/* probe this member next (its link was lost) */
	uint64_t probe_started;
	uint32_t seq;
	uint32_t lhm;
	struct {
		bool active, acked;
		uint64_t node;
		uint32_t seq, nacks, expect_nacks;
	} probe;
	struct actor_timer t_probe, t_probe_timeout, t_gossip, t_pushpull,
		t_reap;
	struct swim_relay relays[SWIM_RELAYS];
	struct swim_bcast **bq;
	size_t nbq, capbq;
	struct map asked; /* node -> time of our last sync with a stranger */
	uint32_t subs[SWIM_MAX_SUBS];
	int nsubs;
	bool leaving;
	/* while reading a packet's updates: a member it holds a stale
	 * rumour about (swim_note_stale), 0 if none */
	bool in_packet;
	uint64_t stale;
	struct swim_stats stats;
};

/* The seams: the actor system's clock and PRNG. */
static inline uint64_t
swim_now(const struct swim *s)
{
	return actor_sys_now(s->actor->sys);
}

static inline uint64_t
swim_rand(struct swim *s, uint64_t n)
{
	return rng_below(&s->actor->sys->rng, n);
}

/* ------------------------------------------------------- member table */

/** The member @a node (not ourselves), or NULL. */
struct swim_member *swim_find(const struct swim *s, uint64_t node);
/** Adds a member (zeroed but for @a node) at a random place of the
 * probe order.  @a node must not be in the table. */
struct swim_member *swim_add(struct swim *s, uint64_t node);
/** Stops its suspicion timer, unlinks and frees @a m.  The last member
 * of the probe order takes its place. */
void swim_remove(struct swim *s, struct swim_member *m);
/** Frees every member and the table (MSG_STOP). */
void swim_table_free(struct swim *s);
/** Replaces @a m's metadata with a copy of @a meta. */
void swim_set_meta_of(struct swim_member *m, const uint8_t *meta,
		      uint16_t len);
/** Members that count for n: alive and suspect, plus ourselves. */
size_t swim_live_count(const struct swim *s);
/** Answers a MSG_MEMBERS request with the listing (ourselves first). */
void swim_members_reply(struct swim *s, const struct msg *req);

#endif
