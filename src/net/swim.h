/*
 * swim.h -- gossip membership: SWIM with the Lifeguard extensions, as an
 * actor (ACTOR_SWIM).  The protocol, the deviations from the papers and the
 * reasons for every default are in the opening comment of swim.c; the wire
 * format is drawn in swim_codec.c, the member table is swim_view.c's.
 *
 * Seams: time and randomness come from the actor system; datagrams go out
 * through struct swim_transport (real UDP in net/udp.c, a fake network in
 * tests) and come in as MSG_GOSSIP_PACKET messages, already opened (the
 * transport seals and opens with the keyring).  Push/pull goes over the
 * encrypted links as MSG_SWIM_SYNC actor requests.  The same code runs a
 * real agent and a simulated cluster of a thousand nodes in virtual time.
 *
 * Ownership: swim_spawn() allocates the actor's state; the actor frees it
 * on MSG_STOP, after broadcasting that it leaves.
 */
#ifndef MIST_NET_SWIM_H_INCLUDED
#define MIST_NET_SWIM_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "actors/actor.h"

/** Largest plaintext gossip packet: fits a 1500-byte MTU after sealing. */
#define SWIM_MAX_PACKET 1400
/** Largest member metadata (an opaque msgpack map). */
#define SWIM_MAX_META 512
#define SWIM_NAME_MAX 64

enum swim_status { SWIM_ALIVE, SWIM_SUSPECT, SWIM_DEAD, SWIM_LEFT };
enum swim_event { SWIM_EV_JOIN, SWIM_EV_ALIVE, SWIM_EV_SUSPECT, SWIM_EV_DEAD,
		  SWIM_EV_LEFT, SWIM_EV_UPDATED };

const char *swim_status_name(enum swim_status s);
const char *swim_event_name(enum swim_event e);

/**
 * A MSG_MEMBER_EVENT body, decoded.  Pointers (name, meta) point into the
 * message body and live as long as it does.
 */
struct swim_event_view {
	enum swim_event event;
	uint64_t node;
	uint64_t incarnation;
	const char *name;
	uint32_t name_len;
	const uint8_t *meta; /* msgpack map, may be NULL */
	uint32_t meta_len;
};
/** Decodes a MSG_MEMBER_EVENT body.  0 or MIST_EPROTO. */
int swim_event_decode(const uint8_t *p, size_t len, struct swim_event_view *v);
struct swim_config {
	uint32_t probe_interval_ms;   /* T: one probe per period */
	uint32_t probe_timeout_ms;    /* direct ack wait before ping-req */
	uint32_t indirect_checks;     /* k: members asked to ping-req */
	uint32_t suspicion_mult;      /* alpha: min suspicion = a*log10(n)*T */
	uint32_t suspicion_max_mult;  /* beta: max suspicion = b * min */
	uint32_t suspicion_confirm;   /* k: confirmations that reach the min */
	uint32_t retransmit_mult;     /* lambda: sends = l*ceil(log10(n+1)) */
	uint32_t gossip_interval_ms;  /* dissemination tick */
	uint32_t gossip_nodes;	      /* members per dissemination tick */
	uint32_t pushpull_interval_ms; /* full-state exchange over a link */
	uint32_t dead_reap_ms;	      /* forget dead/left members after */
	uint32_t lhm_max;	      /* S: local health multiplier bound */
	uint32_t lost_link_suspicion_ms; /* after a lost link + failed probe;
					    0: no such shortcut */
	bool lifeguard;		      /* LHM, dynamic suspicion, buddy, nacks */
	uint64_t incarnation;	      /* starting incarnation (boots << 32) */
};

void swim_config_default(struct swim_config *cfg);

struct swim_transport {
	/** Sends one plaintext packet to @a to (the transport seals it). */
	void (*send)(void *ctx, const struct sockaddr_storage *to,
		     const uint8_t *p, size_t n);
	void *ctx;
};

struct swim_self {
	char name[SWIM_NAME_MAX];
	struct sockaddr_storage addr; /* gossip and link address */
	uint8_t meta[SWIM_MAX_META];  /* msgpack map: tier, tags, ... */
	uint16_t meta_len;
};

struct swim_stats {
	uint64_t probes, acks, ping_reqs, nacks, suspects_raised,
		deaths_declared, refutes, bad_packets, name_conflicts,
		packets_out, packets_in, syncs, links_lost, lost_link_suspects,
		corrections;
};

struct swim;

/** Spawns ACTOR_SWIM.  NULL if the id is taken. */
struct swim *swim_spawn(struct actor_sys *sys, const struct swim_config *cfg,
			const struct swim_transport *tr,
			const struct swim_self *self);

/* Read-only views for tests and the agent (same thread only). */
size_t swim_member_count(const struct swim *s, enum swim_status st);
int swim_member_status(const struct swim *s, uint64_t node,
		       enum swim_status *st, uint64_t *inc);
uint32_t swim_lhm(const struct swim *s);
const struct swim_stats *swim_stats(const struct swim *s);
uint64_t swim_incarnation(const struct swim *s);
/**
 * Changes our metadata: a new incarnation, gossiped as "updated".  Safe
 * from an I/O callback: it posts MSG_SWIM_META to @a sys's ACTOR_SWIM
 * (the bytes are copied), which applies it in its turn.  Returns what
 * actor_sys_deliver() returns.
 */
int swim_set_meta(struct actor_sys *sys, const uint8_t *meta, uint16_t len);
/** The member's gossip address, if known (for links).  0 or ENOTFOUND. */
int swim_member_addr(const struct swim *s, uint64_t node,
		     struct sockaddr_storage *out);

#endif
