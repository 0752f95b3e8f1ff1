/*
 * gateway.h -- ACTOR_GATEWAY: client connections (libmist) and credentials.
 *
 * Clients connect over TCP to the gateway address and speak
 *
 *     Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b, prologue "mist/client/1" + id
 *
 * keyed by their credential: an id (8 bytes, sent in clear so the gateway
 * can find the key) and a 32-byte secret used as the PSK.  One round trip:
 *
 *   client                                           gateway
 *     -> [len][1][id: 8][psk, e + payload]    payload = [ts_ms, envelopes...]
 *     <- [len][e, ee]                         handshake done
 *     <- [len][sealed envelopes]              replies to the first requests
 *     <=> [len][sealed envelopes]             further requests and replies
 *
 * The first message's payload is encrypted under the PSK but, as in every
 * 0-RTT design, could be replayed by someone who recorded it: the gateway
 * refuses a first message whose client timestamp is more than
 * GATEWAY_SKEW_MS away from its clock, or whose ephemeral key it has seen
 * within twice that window.
 *
 * Requests are job messages (MSG_JOB_*); the gateway checks the
 * credential's role, wraps the body as [cred id, role, body] and forwards
 * it to the data manager of the job's owner (the first element of the
 * body) or, for a new job, of this node.  Replies travel back the same way.
 *
 * Credentials live in LMDB (table "creds") and are spread to every member:
 * `mist creds create|list|revoke` (MSG_CREDS) applies on the agent it talks
 * to, which forwards the change to all live members and pushes its whole
 * table (revocations included, which always win) to members that join.
 *
 * Ownership: gateway_spawn() allocates everything; the actor frees it on
 * MSG_STOP, closing connections and the listener asynchronously.
 */
#ifndef MIST_GATEWAY_GATEWAY_H_INCLUDED
#define MIST_GATEWAY_GATEWAY_H_INCLUDED

#include <stdint.h>
#include <uv.h>

#include "actors/actor.h"
#include "gateway/native_proto.h" /* GATEWAY_*, CRED_TEXT_LEN, cred_parse() */
#include "store/store.h"

struct gateway_config {
	uint32_t max_frame;
	uint32_t max_conns;
	uint32_t max_inflight; /* requests per connection before we stop reading */
	uint32_t handshake_timeout_ms;
	uint32_t request_timeout_ms; /* when the client gives none */
};

void gateway_config_default(struct gateway_config *cfg);

struct gateway;

/** Spawns ACTOR_GATEWAY listening on @a addr ("ip:port", port 0 picks). */
struct gateway *gateway_spawn(struct actor_sys *sys, uv_loop_t *loop,
			      struct store *store,
			      const struct gateway_config *cfg,
			      const char *addr, int *err);
/** The bound address "ip:port". */
void gateway_bound_addr(const struct gateway *g, char *out, size_t len);

#endif
