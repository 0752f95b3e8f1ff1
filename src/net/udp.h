/*
 * udp.h -- the real gossip transport: one UDP socket on the agent's port.
 *
 * Outgoing packets are sealed with the keyring's primary key (keyring.h)
 * and sent with uv_udp_try_send, falling back to a queued send.  Incoming
 * datagrams are bounded (SWIM_MAX_PACKET + seal overhead), opened with the
 * keyring -- failures are dropped and counted -- and delivered to
 * ACTOR_SWIM as MSG_GOSSIP_PACKET messages: the loop callback only turns
 * I/O into a message.
 *
 * Ownership: struct udp_transport is caller storage; the keyring is the
 * caller's and must outlive it.  udp_close() is asynchronous.
 */
#ifndef MIST_NET_UDP_H_INCLUDED
#define MIST_NET_UDP_H_INCLUDED

#include <uv.h>

#include "actors/actor.h"
#include "net/keyring.h"
#include "net/swim.h"

struct udp_stats {
	uint64_t in, out, auth_failed, oversized, send_failed;
};

struct udp_transport {
	uv_udp_t udp;
	struct actor_sys *sys;
	const struct keyring *keys;
	struct udp_stats stats;
};

/** Binds @a addr ("ip:port").  0 or MIST_EIO. */
int udp_open(struct udp_transport *u, uv_loop_t *loop, struct actor_sys *sys,
	     const struct keyring *keys, const char *addr);
/** The transport for swim_spawn(). */
struct swim_transport udp_swim_transport(struct udp_transport *u);
void udp_close(struct udp_transport *u, uv_close_cb cb);

#endif
